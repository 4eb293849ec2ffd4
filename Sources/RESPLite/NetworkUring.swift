// The io_uring event loop: multishot accept, multishot receive into a provided-buffer ring,
// one send in flight per client with short-send continuation, and an eventfd read to wake
// the loop from another thread. One ring, created and driven by the loop thread only
// (SINGLE_ISSUER | DEFER_TASKRUN when the kernel has them).
//
// Buffer lifecycle (provided buffers):
//   1. At start every buffer of the pool is added to the ring and published (advance).
//   2. A receive completion names the buffer the kernel filled (flags >> BUFFER_SHIFT).
//   3. The bytes are parsed and executed at once; an incomplete tail is copied into the
//      client's input buffer. SQLite statements that bound bytes of it are reset by then.
//   4. The buffer is handed back to the ring immediately (add + advance).
//   5. If the ring ran dry the kernel ends the multishot receive with -ENOBUFS and no
//      IORING_CQE_F_MORE: the client is re-armed at the end of the turn, when buffers are back.
//
// Unsafe code here: the ring, the buffer pool, raw SQE/CQE access. user_data packs
// (operation, client slot, slot generation) so a completion for a closed client is ignored.

import CLiburing
import CShims
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

private enum Operation: UInt64 {
    case accept = 1, receive = 2, send = 3, wake = 4, cancel = 5
}

/// user_data layout: operation (8 bits) | slot (24 bits) | generation (32 bits).
@inline(__always) private func encodeUserData(_ operation: Operation, slot: Int = 0, generation: UInt32 = 0) -> UInt64 {
    assert(slot < (1 << 24))
    return operation.rawValue << 56 | UInt64(slot) << 32 | UInt64(generation)
}

@inline(__always) private func decodeUserData(_ value: UInt64) -> (Operation?, Int, UInt32) {
    (Operation(rawValue: value >> 56), Int((value >> 32) & 0xff_ffff), UInt32(truncatingIfNeeded: value))
}

final class UringBackend: NetworkBackend {
    let name = "io_uring"

    /// Provided receive buffers: count (a power of two) and size of each.
    static let bufferCount = 1024
    static let bufferSize = 16 * 1024
    /// Submission and completion queue sizes (multishot completions need a large CQ).
    static let submissionEntries: UInt32 = 1024
    static let completionEntries: UInt32 = 16 * 1024
    private static let bufferGroup: UInt16 = 1
    /// Loop turns (10 ms each) allowed for in-flight operations to finish after a stop.
    static let maxShutdownTurns = 300

    private var ring = io_uring()
    private let core: ServerCore
    private let listenFD: Int32
    private let wakeFD: Int32
    private let logger: Logger

    private let bufferRing: UnsafeMutablePointer<io_uring_buf_ring>
    private let bufferRingBytes: Int
    private let bufferPool: UnsafeMutableRawPointer
    private let bufferMask: Int32

    private var wakeValue: UInt64 = 0
    private var stopping = false
    private var acceptArmed = false
    /// Clients whose multishot receive ended and must be re-armed at the end of the turn.
    private var rearmList: [Client] = []
    /// Clients waiting for their in-flight operations to finish before close(2).
    private var closingClients: [Client] = []

    private let flagMore = cshim_cqe_f_more()
    private let flagBuffer = cshim_cqe_f_buffer()
    private let bufferShift = cshim_cqe_buffer_shift()

    /// Sets up the ring; throws if io_uring is unavailable (the caller falls back to epoll).
    init(core: ServerCore, listenFD: Int32, wakeFD: Int32, logger: Logger) throws {
        self.core = core
        self.listenFD = listenFD
        self.wakeFD = wakeFD
        self.logger = logger

        var params = io_uring_params()
        params.flags = cshim_setup_cqsize() | cshim_setup_single_issuer() | cshim_setup_defer_taskrun() | cshim_setup_submit_all()
        params.cq_entries = Self.completionEntries
        var result = io_uring_queue_init_params(Self.submissionEntries, &ring, &params)
        if result == -EINVAL {
            // Older kernels: retry without the newer setup flags.
            params = io_uring_params()
            params.flags = cshim_setup_cqsize()
            params.cq_entries = Self.completionEntries
            result = io_uring_queue_init_params(Self.submissionEntries, &ring, &params)
        }
        guard result == 0 else {
            throw NetworkError(message: "io_uring unavailable: \(String(cString: strerror(-result)))")
        }
        guard params.features & cshim_feat_ext_arg() != 0 else {
            io_uring_queue_exit(&ring)
            throw NetworkError(message: "io_uring lacks IORING_FEAT_EXT_ARG (kernel too old)")
        }

        // Provided-buffer ring (liburing 2.3 has no io_uring_setup_buf_ring): page-aligned
        // ring memory, registered, then filled with the pool's buffers.
        bufferRingBytes = MemoryLayout<io_uring_buf>.stride * Self.bufferCount
        guard let ringMemory = mmap(nil, bufferRingBytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0),
              ringMemory != MAP_FAILED else {
            io_uring_queue_exit(&ring)
            throw NetworkError(message: "cannot map the buffer ring")
        }
        bufferRing = ringMemory.bindMemory(to: io_uring_buf_ring.self, capacity: 1)
        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: ringMemory))
        registration.ring_entries = UInt32(Self.bufferCount)
        registration.bgid = Self.bufferGroup
        result = io_uring_register_buf_ring(&ring, &registration, 0)
        guard result == 0 else {
            munmap(ringMemory, bufferRingBytes)
            io_uring_queue_exit(&ring)
            throw NetworkError(message: "io_uring provided buffers unavailable: \(String(cString: strerror(-result)))")
        }
        bufferPool = UnsafeMutableRawPointer.allocate(byteCount: Self.bufferCount * Self.bufferSize, alignment: 4096)
        bufferMask = io_uring_buf_ring_mask(UInt32(Self.bufferCount))
        io_uring_buf_ring_init(bufferRing)
        for index in 0..<Self.bufferCount {
            io_uring_buf_ring_add(bufferRing, bufferPool + index * Self.bufferSize, UInt32(Self.bufferSize),
                                  UInt16(index), bufferMask, Int32(index))
        }
        io_uring_buf_ring_advance(bufferRing, Int32(Self.bufferCount))
    }

    deinit {
        io_uring_queue_exit(&ring)
        munmap(UnsafeMutableRawPointer(bufferRing), bufferRingBytes)
        bufferPool.deallocate()
    }

    // MARK: Submission helpers

    /// A free SQE; submits to make room when the queue is full.
    private func submissionEntry() -> UnsafeMutablePointer<io_uring_sqe> {
        if let sqe = io_uring_get_sqe(&ring) { return sqe }
        io_uring_submit(&ring)
        guard let sqe = io_uring_get_sqe(&ring) else { fatalError("io_uring submission queue stuck") }
        return sqe
    }

    private func armAccept() {
        let sqe = submissionEntry()
        io_uring_prep_multishot_accept(sqe, listenFD, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        io_uring_sqe_set_data64(sqe, encodeUserData(.accept))
        acceptArmed = true
    }

    private func armWake() {
        let sqe = submissionEntry()
        withUnsafeMutablePointer(to: &wakeValue) { pointer in
            // Safe: wakeValue is a stored property of this object, alive while the ring is.
            io_uring_prep_read(sqe, wakeFD, pointer, 8, 0)
        }
        io_uring_sqe_set_data64(sqe, encodeUserData(.wake))
    }

    private func armReceive(_ client: Client) {
        let sqe = submissionEntry()
        io_uring_prep_recv_multishot(sqe, client.fd, nil, 0, 0)
        sqe.pointee.flags |= cshim_iosqe_buffer_select()
        sqe.pointee.buf_group = Self.bufferGroup
        io_uring_sqe_set_data64(sqe, encodeUserData(.receive, slot: client.slot, generation: client.generation))
        client.receiveArmed = true
    }

    /// Starts sending `client.sending` from its read index (one send in flight per client).
    private func submitSend(_ client: Client) {
        let bytes = client.sending.readableBytes
        let sqe = submissionEntry()
        io_uring_prep_send(sqe, client.fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        io_uring_sqe_set_data64(sqe, encodeUserData(.send, slot: client.slot, generation: client.generation))
        client.sendInFlight = true
    }

    /// Moves pending replies into the send buffer and sends them, unless a send is in flight
    /// (its completion continues with what is pending).
    private func flush(_ client: Client) {
        if client.closeNow {
            beginClose(client)
            return
        }
        guard !client.closing, !client.sendInFlight else { return }
        if client.sending.isEmpty && !client.output.isEmpty {
            swap(&client.output, &client.sending)
        }
        if !client.sending.isEmpty {
            submitSend(client)
        } else if client.closeAfterReply {
            beginClose(client)
        }
    }

    // MARK: Closing

    /// Shuts the socket so in-flight operations complete, then closes once none remain.
    private func beginClose(_ client: Client) {
        guard !client.closing else { return }
        client.closing = true
        shutdown(client.fd, Int32(SHUT_RDWR))
        if client.receiveArmed {
            let sqe = submissionEntry()
            io_uring_prep_cancel64(sqe, encodeUserData(.receive, slot: client.slot, generation: client.generation), 0)
            io_uring_sqe_set_data64(sqe, encodeUserData(.cancel))
        }
        closingClients.append(client)
        finishCloseIfIdle(client)
    }

    private func finishCloseIfIdle(_ client: Client) {
        guard client.closing, !client.receiveArmed, !client.sendInFlight else { return }
        Glibc.close(client.fd)
        core.closed(client)
        if let index = closingClients.firstIndex(where: { $0 === client }) { closingClients.remove(at: index) }
    }

    // MARK: Loop

    func run() throws {
        armAccept()
        armWake()
        var completions = [UnsafeMutablePointer<io_uring_cqe>?](repeating: nil, count: 256)
        // After a stop, wait for in-flight operations of closing clients, boundedly.
        var shutdownTurns = 0
        while (!stopping || !closingClients.isEmpty) && shutdownTurns < Self.maxShutdownTurns {
            if stopping { shutdownTurns += 1 }
            var timeout = __kernel_timespec()
            let delayMs = stopping ? 10 : core.nextTimeoutMs()
            timeout.tv_sec = delayMs / 1000
            timeout.tv_nsec = (delayMs % 1000) * 1_000_000
            var first: UnsafeMutablePointer<io_uring_cqe>?
            let waited = io_uring_submit_and_wait_timeout(&ring, &first, 1, &timeout, nil)
            if waited < 0 && waited != -ETIME && waited != -EINTR && waited != -EBUSY {
                throw NetworkError(message: "io_uring wait failed: \(String(cString: strerror(-waited)))")
            }
            var handled = 0
            while handled < core.networkLimits.maxEventsPerTurn {
                let count = completions.withUnsafeMutableBufferPointer {
                    Int(io_uring_peek_batch_cqe(&ring, $0.baseAddress, UInt32($0.count)))
                }
                if count == 0 { break }
                for index in 0..<count {
                    // Safe: peek_batch filled `count` entries.
                    handle(completions[index]!)
                }
                io_uring_cq_advance(&ring, UInt32(count))
                handled += count
            }
            // A turn that found no completion ran after the wait timed out: the loop is idle.
            core.endTurn(idle: handled == 0 || stopping)
            core.takeFlushList { flush($0) }
            for client in rearmList where !client.closing && !client.receiveArmed {
                armReceive(client)
            }
            rearmList.removeAll(keepingCapacity: true)
            if !acceptArmed && !stopping { armAccept() }
            if core.engine.stopRequested { stopping = true }
            if stopping { closeAll() }
        }
        for client in closingClients { Glibc.close(client.fd); core.closed(client) }
        closingClients.removeAll()
        io_uring_submit(&ring)
    }

    private func closeAll() {
        for case let client? in core.clients where !client.closing {
            beginClose(client)
        }
    }

    private func handle(_ cqe: UnsafeMutablePointer<io_uring_cqe>) {
        let (operation, slot, generation) = decodeUserData(cqe.pointee.user_data)
        let result = cqe.pointee.res
        let flags = cqe.pointee.flags
        switch operation {
        case .accept:
            if flags & flagMore == 0 { acceptArmed = false }
            guard result >= 0 else {
                if result != -ECANCELED { logger.warning("accept failed: \(String(cString: strerror(-result)))") }
                return
            }
            if stopping { Glibc.close(result); return }
            if let client = core.accepted(fd: result) { armReceive(client) }
        case .receive:
            handleReceive(slot: slot, generation: generation, result: result, flags: flags)
        case .send:
            guard let client = core.client(slot: slot, generation: generation) else { return }
            client.sendInFlight = false
            if result <= 0 {
                if result < 0 && result != -ECANCELED { core.socketError(client, code: -result) }
                client.sending.removeAll()
                client.output.removeAll()
                beginClose(client)
                finishCloseIfIdle(client)
                return
            }
            client.sending.consume(Int(result))
            if client.closing { finishCloseIfIdle(client); return }
            if !client.sending.isEmpty {
                submitSend(client)  // short send: continue from the offset
            } else {
                client.sending.shrinkIfIdle(above: core.networkLimits.idleBufferShrinkBytes)
                flush(client)
            }
        case .wake:
            stopping = true
        case .cancel, .none:
            break
        }
    }

    private func handleReceive(slot: Int, generation: UInt32, result: Int32, flags: UInt32) {
        let hasBuffer = flags & flagBuffer != 0
        let bufferId = Int(flags >> bufferShift)
        defer {
            if hasBuffer { recycle(bufferId) }
        }
        guard let client = core.client(slot: slot, generation: generation) else { return }
        let more = flags & flagMore != 0
        if !more { client.receiveArmed = false }
        if result > 0 && hasBuffer {
            let bytes = UnsafeRawBufferPointer(start: bufferPool + bufferId * Self.bufferSize, count: Int(result))
            core.receive(client, bytes)
            if !more && !client.closing { rearmList.append(client) }
            return
        }
        if result == -ENOBUFS {
            // The pool ran dry this turn; buffers come back as completions are handled.
            if !client.closing { rearmList.append(client) }
            return
        }
        // EOF, reset, or cancelled by our own close.
        if result < 0 && result != -ECANCELED && !client.closing { core.socketError(client, code: -result) }
        if client.closing {
            finishCloseIfIdle(client)
        } else {
            beginClose(client)
        }
    }

    /// Returns a provided buffer to the ring (step 4 of the lifecycle).
    @inline(__always) private func recycle(_ bufferId: Int) {
        io_uring_buf_ring_add(bufferRing, bufferPool + bufferId * Self.bufferSize, UInt32(Self.bufferSize),
                              UInt16(bufferId), bufferMask, 0)
        io_uring_buf_ring_advance(bufferRing, 1)
    }
}
