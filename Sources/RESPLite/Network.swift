// Network layer, shared part: the listening socket, the per-connection `Client`, and the
// `ServerCore` that both backends (io_uring in NetworkUring.swift, epoll in
// NetworkEpoll.swift) feed with received bytes. One event-loop thread owns all of it.
//
// Turn shape, for both backends:
//   1. wait for events (timeout = next timer);
//   2. for each event: accept / receive → `ServerCore.receive` parses and executes in place;
//   3. `ServerCore.endTurn`: due timers, then COMMIT of the turn's transaction;
//   4. send the replies produced in the turn (only now: nothing leaves before COMMIT).
//
// Unsafe code here: socket calls and the received bytes handed to the parser. Invariant:
// received bytes are only read during `receive`, which copies whatever it must keep.

import CLiburing  // owns the socket constants (its header includes sys/socket.h)
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Which event loop to use.
public enum NetworkBackendChoice: String, CaseIterable, Sendable {
    case auto, uring, epoll
}

// MARK: - Client

/// One connection's state. Owned by the loop thread.
final class Client {
    let id: Int64
    let fd: Int32
    let address: String
    /// Slot in the core's table and its generation (detects stale io_uring completions).
    let slot: Int
    let generation: UInt32

    var parser: RequestParser
    /// Bytes of an incomplete frame, kept between reads (empty in the common case).
    let input = ByteBuffer()
    /// Replies produced but not yet handed to a send.
    var output = ByteBuffer()
    /// Replies being sent (io_uring: stable memory while the send is in flight).
    var sending = ByteBuffer()
    /// Arguments of the current request (capacity reused).
    var argv: [ByteView] = []

    /// Group-commit bookkeeping: output offset and commands of this client in the open batch.
    var batchStart = -1
    var batchCommands = 0
    /// Output offset just after the batch's last reply.
    var batchEnd = 0

    /// Close once the queued replies are sent (QUIT, protocol error).
    var closeAfterReply = false
    /// Close without sending what is queued (a subscriber over its output limit, CLIENT KILL):
    /// an in-flight send to a peer that does not read would otherwise never complete.
    var closeNow = false
    /// Being torn down: no more input is processed.
    var closing = false
    /// Listed for a flush at the end of the turn.
    var needsFlush = false

    // io_uring state: which operations are in flight for this client.
    var receiveArmed = false
    var sendInFlight = false
    // epoll state: whether EPOLLOUT is registered.
    var waitingWritable = false

    let createdAt = monotonicMillis()
    var resp3 = false

    // Connection state set by commands (networking.c in Redis).
    var name = ""
    var libraryName = ""
    var libraryVersion = ""
    var authenticated = false
    var replyMode = ReplyMode.on
    var noEvict = false
    var noTouch = false
    var isMonitor = false
    /// Monotonic ms and name of the last command (CLIENT LIST idle=, cmd=).
    var lastCommandAt = monotonicMillis()
    var lastCommandName = "NULL"
    /// Local address ("ip:port") the client connected to.
    var localAddress = ""

    // MULTI/EXEC state (Transactions.swift).
    var inMulti = false
    /// A command was rejected while queuing: EXEC answers EXECABORT.
    var multiFailed = false
    var queued: [QueuedCommand] = []
    var queuedBytes = 0
    /// Keys this client WATCHes, with the expiry they had then (an expiry passing counts as a
    /// modification).
    var watched: [[UInt8]: Int64?] = [:]
    /// A watched key was modified since WATCH.
    var watchDirty = false

    // Pub/Sub state (PubSub.swift).
    var channels: Set<[UInt8]> = []
    var patterns: Set<[UInt8]> = []
    var shardChannels: Set<[UInt8]> = []
    var subscriptionCount: Int { channels.count + patterns.count + shardChannels.count }
    /// Since when (monotonic ms) a subscriber's output has been over the soft limit.
    var overSoftLimitSince: Int64 = 0
    /// Since when (monotonic ms) a normal client's output has been over the soft output limit.
    var overOutputSoftLimitSince: Int64 = 0
    /// Monotonic ms of the last bytes received (idle `timeout`).
    var lastInteractionAt = monotonicMillis()

    // Blocking state (Blocking.swift): while blocked, further requests wait in `input`.
    var blocked: BlockedState?
    /// Incremented on every block, so stale timeout entries are recognised.
    var blockToken = 0
    /// Running the commands of an EXEC: blocking commands answer at once, as in Redis.
    var executingTransaction = false

    init(id: Int64, fd: Int32, address: String, slot: Int, generation: UInt32, limits: ProtocolLimits) {
        self.id = id
        self.fd = fd
        self.address = address
        self.slot = slot
        self.generation = generation
        self.parser = RequestParser(limits: limits)
        argv.reserveCapacity(16)
    }

    /// The reply writer for this client's protocol, over the pending output.
    var reply: ReplyWriter {
        var writer = ReplyWriter(buffer: output)
        writer.resp3 = resp3
        return writer
    }

    var hasPendingOutput: Bool { !output.isEmpty || !sending.isEmpty }
}

/// CLIENT REPLY ON | OFF | SKIP.
enum ReplyMode {
    case on, off
    /// The next command's reply is dropped, then replies resume.
    case skipNext
}

// MARK: - Limits of the network layer

public struct NetworkLimits: Sendable {
    /// Most simultaneous clients (Redis `maxclients`); over it a new connection gets
    /// `-ERR max number of clients reached` and is closed.
    public var maxClients = 10_000
    /// Receive events handled in one loop turn before the turn commits (bounds one batch).
    public var maxEventsPerTurn = 4_096
    /// A drained input buffer larger than this is freed (idle clients stay small).
    public var idleBufferShrinkBytes = 64 * 1024
    /// Pending reply bytes (queued plus being sent) over which a client that does not read
    /// is disconnected at once (Redis `client-output-buffer-limit normal <hard>`); 0 = none.
    /// Subscribers have their own pub/sub limits (PubSub.swift).
    public var maxOutputBufferBytes = 256 * 1024 * 1024
    /// Soft output limit: disconnected once over it for `softOutputBufferSeconds` in a row
    /// (checked as replies are appended); 0 = none.
    public var softOutputBufferBytes = 0
    public var softOutputBufferSeconds = 0
    /// Seconds a client may stay idle (nothing received) before it is closed (Redis
    /// `timeout`); 0 = never. Blocked clients, subscribers, MONITOR and clients with replies
    /// still to send are exempt.
    public var idleTimeoutSeconds = 0

    public init() {}
}

// MARK: - Core

/// The backend-independent half of the loop: client table, request parsing, execution and
/// the end-of-turn commit. Backends call `accepted`, `receive`, `endTurn`, `closed`.
final class ServerCore {
    let engine: Engine
    let protocolLimits: ProtocolLimits
    /// Mutable: CONFIG SET maxclients.
    var networkLimits: NetworkLimits
    let logger: Logger
    /// Set once the loop is built (INFO, CONFIG GET port).
    var backendName = ""
    var port = 0

    private(set) var clients: [Client?] = []
    private var generations: [UInt32] = []
    private var freeSlots: [Int] = []
    private(set) var clientCount = 0
    private var nextClientId: Int64 = 1
    /// Clients with replies to send at the end of this turn.
    private(set) var flushList: [Client] = []
    /// Parses ahead for pipelined runs (`collectRun`), and the run's arguments (capacity reused).
    private var runParser: RequestParser
    private var runArguments: [ByteView] = []

    var totalConnections: Int64 = 0
    var rejectedConnections: Int64 = 0
    /// Clients closed by the output buffer limits and by the idle timeout.
    var outputLimitDisconnections: Int64 = 0
    var idleDisconnections: Int64 = 0

    /// Idle-timeout scan: every `idleCheckIntervalMs`, at most `idleCheckSlots` table slots
    /// from a rotating cursor (bounded work per turn, every client seen within a few turns).
    static let idleCheckIntervalMs: Int64 = 100
    static let idleCheckSlots = 1_000
    private var idleCursor = 0
    private var nextIdleCheckAt: Int64 = 0

    init(engine: Engine, protocolLimits: ProtocolLimits, networkLimits: NetworkLimits, logger: Logger) {
        self.engine = engine
        self.protocolLimits = protocolLimits
        self.networkLimits = networkLimits
        self.logger = logger
        self.runParser = RequestParser(limits: protocolLimits)
        engine.core = self
    }

    /// Every open client, in id order (CLIENT LIST, INFO clients).
    var openClients: [Client] {
        clients.compactMap { $0 }.filter { !$0.closing }.sorted { $0.id < $1.id }
    }

    /// Closes a client once its queued replies are out (SHUTDOWN).
    func closeSoon(_ client: Client) {
        client.closeAfterReply = true
        markForFlush(client)
    }

    /// Closes a client at the end of the turn, dropping what it has not received yet
    /// (CLIENT KILL, a subscriber over its output limit).
    func disconnect(_ client: Client) {
        client.closeAfterReply = true
        client.closeNow = true
        client.output.removeAll()
        if client.batchStart >= 0 {
            // Still in the open batch: a failed COMMIT must not cut back past the emptied output.
            client.batchStart = 0
            client.batchEnd = 0
        }
        markForFlush(client)
    }

    /// Disconnects a normal client whose pending output passed the output buffer limits
    /// (checked where replies are appended: after each command, and for a MONITOR feed).
    @inline(__always) func enforceOutputLimit(_ client: Client) {
        let pending = client.output.readableCount + client.sending.readableCount
        let hard = networkLimits.maxOutputBufferBytes
        if hard > 0 && pending > hard {
            dropOverOutputLimit(client, reason: "hard", pending: pending)
            return
        }
        let soft = networkLimits.softOutputBufferBytes
        guard soft > 0 else { return }
        if pending > soft {
            let now = monotonicMillis()
            if client.overOutputSoftLimitSince == 0 { client.overOutputSoftLimitSince = now }
            if now - client.overOutputSoftLimitSince >= Int64(networkLimits.softOutputBufferSeconds) * 1000 {
                dropOverOutputLimit(client, reason: "soft", pending: pending)
            }
        } else {
            client.overOutputSoftLimitSince = 0
        }
    }

    private func dropOverOutputLimit(_ client: Client, reason: String, pending: Int) {
        guard !client.closeNow else { return }
        logger.warning("client \(client.id) (\(client.address)) closed: \(pending) bytes of output over the \(reason) output buffer limit")
        outputLimitDisconnections += 1
        disconnect(client)
    }

    /// Queues a client whose output grew outside its own request (MONITOR feed).
    func wakeForOutput(_ client: Client) {
        markForFlush(client)
        if client.isMonitor && client.subscriptionCount == 0 { enforceOutputLimit(client) }
    }

    /// A socket error the backend saw (not EOF): reported to the hook.
    func socketError(_ client: Client, code: Int32) {
        engine.reportSocketError(client, message: String(cString: strerror(code)))
    }

    /// Registers a new connection; nil if over `maxClients` (the socket is answered and closed).
    func accepted(fd: Int32) -> Client? {
        totalConnections += 1
        if clientCount >= networkLimits.maxClients {
            rejectedConnections += 1
            let message: StaticString = "-ERR max number of clients reached\r\n"
            _ = send(fd, message.utf8Start, message.utf8CodeUnitCount, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            Glibc.close(fd)
            return nil
        }
        configureClientSocket(fd)
        let slot: Int
        if let reused = freeSlots.popLast() {
            slot = reused
            generations[slot] &+= 1
        } else {
            slot = clients.count
            clients.append(nil)
            generations.append(1)
        }
        let client = Client(id: nextClientId, fd: fd, address: peerAddress(fd), slot: slot,
                            generation: generations[slot], limits: protocolLimits)
        client.localAddress = localAddress(fd)
        nextClientId += 1
        clients[slot] = client
        clientCount += 1
        return client
    }

    func client(slot: Int, generation: UInt32) -> Client? {
        guard slot >= 0 && slot < clients.count, let client = clients[slot], client.generation == generation else { return nil }
        return client
    }

    /// Removes a closed connection (the backend closed the descriptor).
    func closed(_ client: Client) {
        guard clients[client.slot] === client else { return }
        engine.forget(client)
        clients[client.slot] = nil
        freeSlots.append(client.slot)
        clientCount -= 1
    }

    /// Parses and executes every complete request in `data`; keeps an incomplete tail.
    func receive(_ client: Client, _ data: UnsafeRawBufferPointer) {
        guard !client.closing && !client.closeAfterReply else { return }
        markForFlush(client)
        if data.count > 0 { client.lastInteractionAt = monotonicMillis() }
        if client.input.isEmpty {
            // Zero-copy path: parse in the receive buffer itself.
            var offset = 0
            while offset < data.count && !client.closeAfterReply {
                let frame = UnsafeRawBufferPointer(rebasing: data[offset...])
                if client.blocked != nil {
                    keepTail(client, frame)  // requests after a blocking command wait for it
                    return
                }
                guard let consumed = step(client, frame) else {
                    keepTail(client, frame)
                    return
                }
                offset += consumed
            }
            return
        }
        // A frame is already partly buffered: append, then parse from the buffer.
        guard client.input.readableCount + data.count <= protocolLimits.maxQueryBufferBytes else {
            protocolError(client, "Protocol error: query buffer limit exceeded")
            return
        }
        reserveForFrame(client, incoming: data.count)
        client.input.append(data)
        while !client.input.isEmpty && !client.closeAfterReply && client.blocked == nil {
            guard let consumed = step(client, client.input.readableBytes) else { break }
            client.input.consume(consumed)
        }
        client.input.compact()
        client.input.shrinkIfIdle(above: networkLimits.idleBufferShrinkBytes)
    }

    /// Parses one frame at the start of `frame` and executes it. Returns the bytes consumed,
    /// or nil if the frame is incomplete (or the client got a protocol error).
    @inline(__always) private func step(_ client: Client, _ frame: UnsafeRawBufferPointer) -> Int? {
        switch client.parser.parse(frame) {
        case .complete(let consumed, let inline):
            let base = inline ? client.parser.inlineScratch.readableBytes.baseAddress : frame.baseAddress
            client.argv.removeAll(keepingCapacity: true)
            for span in client.parser.spans {
                // Safe: spans lie within the frame (or the scratch) the parser just read.
                client.argv.append(argumentView(span, base))
            }
            guard !client.argv.isEmpty else { return consumed }
            var command: Command? = nil
            if !inline && consumed < frame.count {
                command = engine.table.lookup(client.argv[0])  // passed on: looked up once
            }
            if let runnable = command, engine.mayStartRun(client, runnable, client.argv) {
                // Pipelined: the next requests, already here, may continue a run.
                let run = collectRun(client, runnable, after: UnsafeRawBufferPointer(rebasing: frame[consumed...]))
                if run.count > 1 {
                    engine.executeRun(client, runnable, PipelineRun(arguments: runArguments, arity: client.argv.count))
                    runArguments.removeAll(keepingCapacity: true)
                    client.argv.removeAll(keepingCapacity: true)
                    if client.subscriptionCount == 0 { enforceOutputLimit(client) }
                    return consumed + run.consumed
                }
            }
            engine.execute(client, client.argv, command: command)
            if client.subscriptionCount == 0 { enforceOutputLimit(client) }
            client.argv.removeAll(keepingCapacity: true)
            return consumed
        case .needMore:
            return nil
        case .error(let message):
            protocolError(client, message)
            return nil
        }
    }

    /// Collects the requests after `client.argv` in `rest` that continue its run: complete
    /// multibulk frames calling the same command on the same key with as many arguments, up to
    /// `pipelineRunMaxCommands` calls. Leaves every call's arguments in `runArguments` and
    /// returns the calls (1 = no run) and the bytes of `rest` they take. The views point into
    /// `rest`, which stays valid until `receive` returns.
    private func collectRun(_ client: Client, _ command: Command, after rest: UnsafeRawBufferPointer) -> (count: Int, consumed: Int) {
        let arity = client.argv.count
        let limit = engine.options.pipelineRunMaxCommands
        runArguments.removeAll(keepingCapacity: true)
        runArguments.append(contentsOf: client.argv)
        var count = 1
        var offset = 0
        while count < limit && offset < rest.count && rest[offset] == UInt8(ascii: "*") {
            let frame = UnsafeRawBufferPointer(rebasing: rest[offset...])
            guard case .complete(let consumed, false) = runParser.parse(frame) else {
                runParser.reset()
                break
            }
            let spans = runParser.spans
            guard spans.count == arity else { break }
            // Safe: spans lie within `frame`, which the parser just read.
            let name = argumentView(spans[0], frame.baseAddress)
            let key = argumentView(spans[1], frame.baseAddress)
            guard key == client.argv[1], engine.table.lookup(name) === command else { break }
            for span in spans { runArguments.append(argumentView(span, frame.baseAddress)) }
            offset += consumed
            count += 1
        }
        return (count, offset)
    }

    /// The view of a parsed argument. Safe: the parser's spans lie within the bytes at `base`
    /// (the frame it just read, or its inline scratch), which stay valid while the request runs.
    @inline(__always) private func argumentView(_ span: ArgumentSpan, _ base: UnsafeRawPointer?) -> ByteView {
        ByteView(base: span.length == 0 ? base : base! + span.offset, count: span.length)
    }

    /// Runs the requests a client sent while it was blocked.
    func resumeInput(_ client: Client) {
        guard !client.input.isEmpty, client.blocked == nil, !client.closing else { return }
        receive(client, UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// Keeps an incomplete frame from a receive buffer that is about to be reused.
    private func keepTail(_ client: Client, _ tail: UnsafeRawBufferPointer) {
        guard !client.closeAfterReply else { return }
        guard tail.count <= protocolLimits.maxQueryBufferBytes else {
            protocolError(client, "Protocol error: query buffer limit exceeded")
            return
        }
        reserveForFrame(client, incoming: tail.count)
        client.input.append(tail)
    }

    /// Reserves room for a large announced bulk once, instead of doubling step by step.
    private func reserveForFrame(_ client: Client, incoming: Int) {
        let wanted = max(client.parser.minimumFrameBytes, client.input.readableCount + incoming)
        client.input.compact()
        client.input.reserve(max(0, wanted - client.input.count))
    }

    /// Answers a protocol error and closes the connection once the reply is out.
    private func protocolError(_ client: Client, _ message: String) {
        logger.debug("client \(client.id) (\(client.address)) protocol error: \(message)")
        // "-ERR <message>\r\n" with each Unicode scalar below 256 written as that one byte:
        // the parser carries an offending raw byte that way (`RequestParser.messageCharacter`),
        // so "expected '$', got '\xff'" shows the byte itself, as Redis' %c does. CR and LF
        // become spaces, as in every error line.
        let output = client.output
        output.append("-ERR ")
        for scalar in message.unicodeScalars {
            let value = scalar.value
            output.append(value == 13 || value == 10 ? 32 : value < 256 ? UInt8(value) : UInt8(ascii: "?"))
        }
        output.append("\r\n")
        client.closeAfterReply = true
        client.input.removeAll()
        client.parser.reset()
    }

    func markForFlush(_ client: Client) {
        if !client.needsFlush {
            client.needsFlush = true
            flushList.append(client)
        }
    }

    /// Timers, then COMMIT (or the redo log, unless the loop is `idle`: its wait found nothing
    /// to do). After this the backend sends every client in `flushList`.
    func endTurn(idle: Bool = true) {
        engine.runTimers(now: monotonicMillis())
        engine.endTurn(idle: idle)
        if networkLimits.idleTimeoutSeconds > 0 { closeIdleClients(now: monotonicMillis()) }
    }

    /// Closes clients idle longer than `timeout` (after the COMMIT: no client is in a batch).
    private func closeIdleClients(now: Int64) {
        guard now >= nextIdleCheckAt else { return }
        nextIdleCheckAt = now + Self.idleCheckIntervalMs
        let limitMs = Int64(networkLimits.idleTimeoutSeconds) * 1000
        let slots = Swift.min(Self.idleCheckSlots, clients.count)
        for _ in 0..<slots {
            if idleCursor >= clients.count { idleCursor = 0 }
            if let client = clients[idleCursor], !client.closing, !client.closeAfterReply, client.blocked == nil,
               client.subscriptionCount == 0, !client.isMonitor, !client.hasPendingOutput,
               now - client.lastInteractionAt > limitMs {
                logger.debug("client \(client.id) (\(client.address)) closed: idle over \(networkLimits.idleTimeoutSeconds) s")
                idleDisconnections += 1
                disconnect(client)
            }
            idleCursor += 1
        }
    }

    /// Hands the turn's flush list to the backend and clears it.
    func takeFlushList(_ body: (Client) -> Void) {
        for client in flushList {
            client.needsFlush = false
            body(client)
        }
        flushList.removeAll(keepingCapacity: true)
    }

    func nextTimeoutMs() -> Int64 {
        let now = monotonicMillis()
        let delay = engine.nextTimerDelayMs(now: now)
        guard networkLimits.idleTimeoutSeconds > 0 else { return delay }
        return Swift.min(delay, Swift.max(0, nextIdleCheckAt - now))
    }
}

// MARK: - Sockets

/// Per-connection socket options: no Nagle delay (replies go out at once).
func configureClientSocket(_ fd: Int32) {
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
}

func setNonBlocking(_ fd: Int32) {
    let flags = fcntl(fd, F_GETFL, 0)
    _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
}

struct NetworkError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Creates, binds and listens; returns the descriptor and the bound port (port 0 = any).
func makeListeningSocket(host: String, port: Int, backlog: Int32 = 511) throws -> (Int32, Int) {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
    var result: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(host, String(port), &hints, &result)
    guard status == 0, let first = result else {
        throw NetworkError(message: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
    }
    defer { freeaddrinfo(result) }
    var lastError = "no address"
    var entry: UnsafeMutablePointer<addrinfo>? = first
    while let info = entry {
        entry = info.pointee.ai_next
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
        if fd < 0 { lastError = String(cString: strerror(errno)); continue }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 || listen(fd, backlog) != 0 {
            lastError = String(cString: strerror(errno))
            Glibc.close(fd)
            continue
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let boundPort = withUnsafeMutablePointer(to: &storage) { pointer -> Int in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            return socketPort(pointer)
        }
        return (fd, boundPort)
    }
    throw NetworkError(message: "cannot listen on \(host):\(port): \(lastError)")
}

private func socketPort(_ storage: UnsafeMutablePointer<sockaddr_storage>) -> Int {
    if Int32(storage.pointee.ss_family) == AF_INET {
        return storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
    }
    return storage.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
}

/// "ip:port" of the peer, for logs and hooks.
func peerAddress(_ fd: Int32) -> String { socketAddress(fd, peer: true) }

/// "ip:port" of our end of a connection (CLIENT LIST laddr=).
func localAddress(_ fd: Int32) -> String { socketAddress(fd, peer: false) }

private func socketAddress(_ fd: Int32, peer: Bool) -> String {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let ok = withUnsafeMutablePointer(to: &storage) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            peer ? getpeername(fd, $0, &length) == 0 : getsockname(fd, $0, &length) == 0
        }
    }
    guard ok else { return "?" }
    var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
    var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
    let status = withUnsafePointer(to: &storage) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            getnameinfo($0, length, &host, socklen_t(host.count), &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV)
        }
    }
    guard status == 0 else { return "?" }
    return "\(String(cString: host)):\(String(cString: service))"
}

/// Socket constants for code outside this module (tests, benchmarks): the Clang importer
/// attributes them to the module whose header included <sys/socket.h> first.
public enum SocketConstants {
    public static let stream = Int32(SOCK_STREAM.rawValue)
    public static let closeOnExec = Int32(SOCK_CLOEXEC.rawValue)
    public static let noSignal = Int32(MSG_NOSIGNAL)
}

/// A loopback port that was free a moment ago (bind to port 0, read it back, close).
public func freeLoopbackPort() throws -> Int {
    let (fd, port) = try makeListeningSocket(host: "127.0.0.1", port: 0)
    Glibc.close(fd)
    return port
}

/// What the server loop needs from a backend.
protocol NetworkBackend: AnyObject {
    var name: String { get }
    /// Runs turns until the wake descriptor is signalled; then closes every client.
    func run() throws
}
