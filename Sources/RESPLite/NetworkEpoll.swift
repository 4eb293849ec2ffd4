// The epoll event loop: the fallback where io_uring cannot be set up (Docker's default
// seccomp profile, kernel.io_uring_disabled), or when forced. Level-triggered; reads go into
// one loop-owned buffer and are parsed in place; replies are written at the end of the turn,
// and EPOLLOUT is watched only while a client has unsent bytes.
//
// Unsafe code here: the shared read buffer and raw socket calls. Invariant: the read buffer
// is only read during `ServerCore.receive`, which copies any incomplete tail.

import CShims
import CLiburing  // owns the socket constants (its header includes sys/socket.h)
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

final class EpollBackend: NetworkBackend {
    let name = "epoll"

    /// Bytes read per recv(2) call, and reads per readable client per turn (fairness).
    static let readBufferSize = 64 * 1024
    static let maxReadsPerEvent = 16
    static let maxEventsPerWait: Int32 = 512

    private let core: ServerCore
    private let listenFD: Int32
    private let wakeFD: Int32
    private let epollFD: Int32
    private let logger: Logger
    private let readBuffer: UnsafeMutableRawPointer
    private var stopping = false

    private static let listenToken: UInt64 = UInt64.max
    private static let wakeToken: UInt64 = UInt64.max - 1

    init(core: ServerCore, listenFD: Int32, wakeFD: Int32, logger: Logger) throws {
        self.core = core
        self.listenFD = listenFD
        self.wakeFD = wakeFD
        self.logger = logger
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw NetworkError(message: "epoll_create1: \(String(cString: strerror(errno)))") }
        readBuffer = UnsafeMutableRawPointer.allocate(byteCount: Self.readBufferSize, alignment: 64)
        setNonBlocking(listenFD)
        try register(listenFD, events: EPOLLIN.rawValue, token: Self.listenToken)
        try register(wakeFD, events: EPOLLIN.rawValue, token: Self.wakeToken)
    }

    deinit {
        Glibc.close(epollFD)
        readBuffer.deallocate()
    }

    private static func token(_ client: Client) -> UInt64 {
        UInt64(client.slot) << 32 | UInt64(client.generation)
    }

    private func register(_ fd: Int32, events: UInt32, token: UInt64) throws {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
            throw NetworkError(message: "epoll_ctl: \(String(cString: strerror(errno)))")
        }
    }

    private func modify(_ client: Client, writable: Bool) {
        guard client.waitingWritable != writable else { return }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | (writable ? EPOLLOUT.rawValue : 0)
        event.data.u64 = Self.token(client)
        epoll_ctl(epollFD, EPOLL_CTL_MOD, client.fd, &event)
        client.waitingWritable = writable
    }

    func run() throws {
        var events = [epoll_event](repeating: epoll_event(), count: Int(Self.maxEventsPerWait))
        while !stopping {
            let timeout = Int32(clamping: core.nextTimeoutMs())
            let count = epoll_wait(epollFD, &events, Self.maxEventsPerWait, timeout)
            if count < 0 && errno != EINTR {
                throw NetworkError(message: "epoll_wait: \(String(cString: strerror(errno)))")
            }
            for index in 0..<max(0, Int(count)) {
                let event = events[index]
                switch event.data.u64 {
                case Self.listenToken: acceptAll()
                case Self.wakeToken: stopping = true
                default: handle(token: event.data.u64, events: event.events)
                }
            }
            core.endTurn(idle: count <= 0 || stopping)
            core.takeFlushList { flush($0) }
            if core.engine.stopRequested { stopping = true }
        }
        for case let client? in core.clients { close(client) }
    }

    private func acceptAll() {
        while true {
            let fd = cshim_accept_nonblocking(listenFD)
            if fd < 0 {
                if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                    logger.warning("accept failed: \(String(cString: strerror(errno)))")
                }
                return
            }
            guard let client = core.accepted(fd: fd) else { continue }
            do {
                try register(fd, events: EPOLLIN.rawValue, token: Self.token(client))
            } catch {
                close(client)
            }
        }
    }

    private func handle(token: UInt64, events: UInt32) {
        guard let client = core.client(slot: Int(token >> 32), generation: UInt32(truncatingIfNeeded: token)) else { return }
        if events & EPOLLOUT.rawValue != 0 {
            flush(client)
            if client.closing { return }
        }
        if events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            readAvailable(client)
        }
    }

    private func readAvailable(_ client: Client) {
        for _ in 0..<Self.maxReadsPerEvent {
            let received = recv(client.fd, readBuffer, Self.readBufferSize, 0)
            if received > 0 {
                core.receive(client, UnsafeRawBufferPointer(start: readBuffer, count: received))
                if received < Self.readBufferSize || client.closeAfterReply { return }
                continue
            }
            if received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            if received < 0 && errno == EINTR { continue }
            if received < 0 { core.socketError(client, code: errno) }
            close(client)  // EOF or error
            return
        }
    }

    /// Writes pending replies until done or the socket is full (then waits for EPOLLOUT).
    private func flush(_ client: Client) {
        guard !client.closing else { return }
        if client.closeNow {
            close(client)
            return
        }
        while !client.output.isEmpty {
            let bytes = client.output.readableBytes
            let written = send(client.fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if written > 0 {
                client.output.consume(written)
                continue
            }
            if written < 0 && errno == EINTR { continue }
            if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                modify(client, writable: true)
                return
            }
            if written < 0 { core.socketError(client, code: errno) }
            close(client)
            return
        }
        client.output.shrinkIfIdle(above: core.networkLimits.idleBufferShrinkBytes)
        modify(client, writable: false)
        if client.closeAfterReply { close(client) }
    }

    private func close(_ client: Client) {
        guard !client.closing else { return }
        client.closing = true
        epoll_ctl(epollFD, EPOLL_CTL_DEL, client.fd, nil)
        Glibc.close(client.fd)
        core.closed(client)
    }
}
