// A pipelined RESP client on the project's own codec: used by the tests, and the base for the
// benchmark and migration tools. Blocking sockets with timeouts; every reply is bounded by
// `ReplyDecoder`'s limits.

import CShims
import CLiburing  // owns the socket constants (its header includes sys/socket.h)
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct ClientError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

public final class RESPClient {
    private let fd: Int32
    private let outgoing = ByteBuffer(capacity: 4096)
    private let incoming = ByteBuffer(capacity: 16 * 1024)
    private var closed = false
    /// Replies decoded but not yet returned (a read may carry several).
    private var ready: [RESPValue] = []
    private var readyIndex = 0

    /// Connects to host:port; `timeoutMs` bounds every read and write.
    public init(host: String = "127.0.0.1", port: Int, timeoutMs: Int = 10_000) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else {
            throw ClientError(message: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError(message: "socket: \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ClientError(message: "connect to \(host):\(port): \(message)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
    }

    deinit { close() }

    public func close() {
        if !closed {
            closed = true
            Glibc.close(fd)
        }
    }

    // MARK: Commands

    /// Sends one command and reads its reply.
    @discardableResult
    public func command(_ arguments: String...) throws -> RESPValue {
        try command(arguments.map { Array($0.utf8) })
    }

    @discardableResult
    public func command(_ arguments: [[UInt8]]) throws -> RESPValue {
        enqueue(arguments)
        try flush()
        return try readReply()
    }

    /// Sends many commands in one write and reads all their replies, in order.
    public func pipeline(_ commands: [[[UInt8]]]) throws -> [RESPValue] {
        for command in commands { enqueue(command) }
        try flush()
        var replies: [RESPValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands { replies.append(try readReply()) }
        return replies
    }

    /// Queues a command without sending it (see `flush`).
    public func enqueue(_ arguments: [[UInt8]]) {
        encodeCommand(arguments, into: outgoing)
    }

    /// Sends raw bytes as they are (protocol tests).
    public func sendRaw(_ bytes: [UInt8]) throws {
        outgoing.append(bytes)
        try flush()
    }

    public func flush() throws {
        while !outgoing.isEmpty {
            let bytes = outgoing.readableBytes
            let written = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if written < 0 {
                if errno == EINTR { continue }
                throw ClientError(message: "send: \(String(cString: strerror(errno)))")
            }
            outgoing.consume(written)
        }
    }

    /// Reads the next reply; throws on timeout, connection close or a malformed reply.
    public func readReply() throws -> RESPValue {
        if readyIndex < ready.count {
            let value = ready[readyIndex]
            readyIndex += 1
            if readyIndex == ready.count { ready.removeAll(keepingCapacity: true); readyIndex = 0 }
            return value
        }
        while true {
            if !incoming.isEmpty {
                switch ReplyDecoder.decode(incoming.readableBytes) {
                case .complete(let value, let consumed):
                    incoming.consume(consumed)
                    decodeBuffered()
                    return value
                case .error(let message):
                    throw ClientError(message: "bad reply: \(message)")
                case .needMore:
                    break
                }
            }
            try receiveMore()
        }
    }

    /// Decodes every further complete reply already received (saves re-decoding work).
    private func decodeBuffered() {
        while !incoming.isEmpty, case .complete(let value, let consumed) = ReplyDecoder.decode(incoming.readableBytes) {
            incoming.consume(consumed)
            ready.append(value)
        }
        incoming.compact()
    }

    private func receiveMore() throws {
        incoming.compact()
        incoming.reserve(64 * 1024)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let received = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
        if received == 0 { throw ClientError(message: "connection closed by server") }
        if received < 0 {
            if errno == EINTR { return }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw ClientError(message: "timed out waiting for a reply") }
            throw ClientError(message: "recv: \(String(cString: strerror(errno)))")
        }
        chunk.withUnsafeBytes { incoming.append(UnsafeRawBufferPointer(rebasing: $0[0..<received])) }
    }

    /// True once the server has closed the connection (reads EOF within `timeoutMs`).
    public func waitForClose(timeoutMs: Int = 5_000) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = monotonicMillis() + Int64(timeoutMs)
        while monotonicMillis() < deadline {
            let status = poll(&poller, 1, 100)
            if status > 0 {
                var byte: UInt8 = 0
                let received = Glibc.recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
                if received == 0 { return true }
                if received < 0 && errno != EAGAIN && errno != EWOULDBLOCK { return true }
                if received > 0 {
                    incoming.append(byte)
                }
            }
        }
        return false
    }
}
