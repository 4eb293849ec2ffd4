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

    /// Changes the bound on every later read and write (e.g. short reads in a subscriber loop).
    public func setTimeout(ms timeoutMs: Int) {
        var timeout = timeval(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// True if the last failure was a read timeout (the connection is still usable).
    public static func isTimeout(_ error: Error) -> Bool {
        (error as? ClientError)?.message == "timed out waiting for a reply"
    }

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

// MARK: - redis:// URLs, AUTH/SELECT, timeouts, reconnect

/// `redis://[user:pass@]host:port[/db]` (also `redis://:pass@host`, default port 6379, db 0).
public struct RedisURL: Sendable, CustomStringConvertible {
    public var host: String = "127.0.0.1"
    public var port: Int = 6379
    public var username: String?
    public var password: String?
    public var db: Int = 0

    public init(host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil, db: Int = 0) {
        self.host = host; self.port = port; self.username = username; self.password = password; self.db = db
    }

    public init(parsing text: String) throws {
        var rest = Substring(text)
        if rest.hasPrefix("redis://") { rest = rest.dropFirst(8) }
        else if rest.contains("://") { throw ClientError(message: "unsupported URL scheme in \(text) (redis:// only)") }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = String(credentials[..<colon]).removingPercentEncoding ?? ""
                username = user.isEmpty ? nil : user
                password = String(credentials[credentials.index(after: colon)...]).removingPercentEncoding
            } else {
                password = String(credentials).removingPercentEncoding
            }
        }
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !dbText.isEmpty {
                guard let value = Int(dbText), value >= 0 else { throw ClientError(message: "bad database number in \(text)") }
                db = value
            }
        }
        if rest.hasPrefix("[") , let close = rest.firstIndex(of: "]") {  // [ipv6]:port
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            if rest.hasPrefix(":") {
                guard let value = Int(rest.dropFirst()) else { throw ClientError(message: "bad port in \(text)") }
                port = value
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            guard let value = Int(rest[rest.index(after: colon)...]), value > 0, value < 65536 else {
                throw ClientError(message: "bad port in \(text)")
            }
            port = value
        } else if !rest.isEmpty {
            host = String(rest)
        }
        if host.isEmpty { host = "127.0.0.1" }
    }

    /// The URL without the password (for logs and the run registry).
    public var description: String {
        var text = "redis://"
        if let username { text += username + (password != nil ? ":***@" : "@") }
        else if password != nil { text += ":***@" }
        text += host.contains(":") ? "[\(host)]" : host
        text += ":\(port)"
        if db != 0 { text += "/\(db)" }
        return text
    }
}

extension RESPClient {
    /// Connects, authenticates and selects the URL's database.
    public static func open(_ url: RedisURL, timeoutMs: Int = 10_000) throws -> RESPClient {
        let client = try RESPClient(host: url.host, port: url.port, timeoutMs: timeoutMs)
        if let password = url.password {
            var arguments: [[UInt8]] = [Array("AUTH".utf8)]
            if let username = url.username { arguments.append(Array(username.utf8)) }
            arguments.append(Array(password.utf8))
            if case .error(let message) = try client.command(arguments) {
                client.close()
                throw ClientError(message: "AUTH failed: \(message)")
            }
        }
        if url.db != 0 {
            if case .error(let message) = try client.command("SELECT", String(url.db)) {
                client.close()
                throw ClientError(message: "SELECT \(url.db) failed: \(message)")
            }
        }
        return client
    }

    /// Connects with retries: exponential backoff from `initialDelayMs` up to `maxDelayMs`,
    /// at most `attempts` tries.
    public static func open(_ url: RedisURL, timeoutMs: Int = 10_000, attempts: Int, initialDelayMs: Int = 100, maxDelayMs: Int = 5_000) throws -> RESPClient {
        var delay = initialDelayMs
        var lastError: Error = ClientError(message: "no attempt")
        for attempt in 0..<max(1, attempts) {
            do { return try open(url, timeoutMs: timeoutMs) } catch { lastError = error }
            if attempt + 1 < attempts {
                usleep(useconds_t(delay * 1000))
                delay = min(maxDelayMs, delay * 2)
            }
        }
        throw lastError
    }
}
