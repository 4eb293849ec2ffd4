// Shared test helpers: in-process servers on free loopback ports with temporary databases,
// both network backends, reply shorthands, and locating external tools.

import Foundation
import Logging
import XCTest
@testable import RESPLite

/// A fresh temporary directory, removed by the caller's tearDown (or left in /tmp).
func makeTemporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "resplite-test-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

let quietLogger: Logger = {
    var logger = Logger(label: "resplite-test")
    logger.logLevel = ProcessInfo.processInfo.environment["RESPLITE_TEST_LOG"] != nil ? .debug : .error
    return logger
}()

/// An in-process server on 127.0.0.1 with a free port and its own database file.
final class TestServer {
    private(set) var server: RESPLiteServer?
    let databasePath: String
    let directory: String
    var options: ServerOptions

    init(backend: NetworkBackendChoice = .auto, databasePath: String? = nil, configure: (inout ServerOptions) -> Void = { _ in }) throws {
        directory = makeTemporaryDirectory()
        self.databasePath = databasePath ?? directory + "/test.db"
        var options = ServerOptions()
        options.host = "127.0.0.1"
        options.port = 0
        options.databasePath = self.databasePath
        options.networkBackend = backend
        configure(&options)
        self.options = options
        server = try RESPLiteServer.start(options, logger: quietLogger)
        LiveServers.shared.register(self)
    }

    /// Makes the database file hold every acknowledged write: the redo log acknowledges turns
    /// before SQLite commits them, and SAVE makes the open transaction commit.
    func commitPending() throws {
        guard server != nil else { return }
        let client = try self.client()
        XCTAssertEqual(try client.run("SAVE"), ok)
    }

    var port: Int { server!.port }
    var backendName: String { server!.backendName }

    func client(timeoutMs: Int = 10_000) throws -> RESPClient {
        try RESPClient(port: port, timeoutMs: timeoutMs)
    }

    /// Stops and starts again on the same database file (a new port).
    func restart() throws {
        server?.stop()
        server = nil
        server = try RESPLiteServer.start(options, logger: quietLogger)
    }

    func stop() {
        server?.stop()
        server = nil
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// The in-process servers running, by database path, so that helpers that open a server's
/// database file directly (`openDatabase`, `consistencyProblems`) can have it commit first.
final class LiveServers: @unchecked Sendable {
    static let shared = LiveServers()
    private let lock = NSLock()
    private final class Entry { weak var server: TestServer?; init(_ server: TestServer) { self.server = server } }
    private var servers: [String: Entry] = [:]

    func register(_ server: TestServer) {
        lock.lock(); defer { lock.unlock() }
        servers[server.databasePath] = Entry(server)
    }

    func server(at path: String) -> TestServer? {
        lock.lock(); defer { lock.unlock() }
        return servers[path]?.server
    }
}

/// Opens a database file; if an in-process server runs on it, it commits what its redo log
/// acknowledged first (SAVE), so the connection sees every acknowledged write.
func openDatabase(_ path: String, readOnly: Bool = false) throws -> SQLiteConnection {
    try LiveServers.shared.server(at: path)?.commitPending()
    return try SQLiteConnection(path: path, readOnly: readOnly)
}

/// Runs `body` against a server on each network backend: io_uring (when this machine allows
/// it) and epoll (always).
func forEachBackend(file: StaticString = #filePath, line: UInt = #line,
                    configure: (inout ServerOptions) -> Void = { _ in },
                    _ body: (TestServer) throws -> Void) throws {
    for backend in [NetworkBackendChoice.auto, .epoll] {
        let server = try TestServer(backend: backend, configure: configure)
        if backend == .epoll { XCTAssertEqual(server.backendName, "epoll", file: file, line: line) }
        do {
            try body(server)
        } catch {
            XCTFail("[\(server.backendName)] \(error)", file: file, line: line)
        }
        server.stop()
    }
}

// MARK: - Reply shorthands

func bulk(_ text: String) -> RESPValue { .bulk(Array(text.utf8)) }
func bulks(_ texts: [String]) -> RESPValue { .array(texts.map(bulk)) }
func simple(_ text: String) -> RESPValue { .simple(text) }
func int(_ value: Int64) -> RESPValue { .integer(value) }
func err(_ text: String) -> RESPValue { .error(text) }
let ok = RESPValue.simple("OK")
let null = RESPValue.null

extension RESPClient {
    /// Shorthand: a command from words, its reply.
    @discardableResult
    func run(_ words: String...) throws -> RESPValue {
        try command(words.map { Array($0.utf8) })
    }

    @discardableResult
    func run(bytes: [UInt8]...) throws -> RESPValue {
        try command(bytes)
    }
}

/// The error text of a reply, or nil.
func errorText(_ value: RESPValue) -> String? {
    if case .error(let text) = value { return text }
    return nil
}

// MARK: - External tools

/// Full path of a program on PATH, or nil.
func findProgram(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// A program the tests need: on CI (CI=true) its absence fails the test; elsewhere it skips.
func requireProgram(_ name: String) throws -> String {
    if let path = findProgram(name) { return path }
    if ProcessInfo.processInfo.environment["CI"] == "true" {
        XCTFail("\(name) is not installed; scripts/bootstrap installs it")
    }
    throw XCTSkip("\(name) is not installed (run scripts/bootstrap)")
}

/// The built `resplite` executable next to the test bundle.
func residentExecutable() throws -> String {
    var candidates: [String] = []
    let bundle = Bundle.main.bundleURL
    candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("resplite").path)
    candidates.append(bundle.appendingPathComponent("resplite").path)
    if let argument = CommandLine.arguments.first {
        let url = URL(fileURLWithPath: argument)
        candidates.append(url.deletingLastPathComponent().appendingPathComponent("resplite").path)
        candidates.append(url.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("resplite").path)
    }
    for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
        return candidate
    }
    throw XCTSkip("resplite executable not found near the test bundle (tried \(candidates))")
}

/// Runs a program to completion with a time bound; returns (status, stdout, stderr).
@discardableResult
func runProgram(_ path: String, _ arguments: [String], input: Data? = nil, timeoutSeconds: Double = 60) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(input) }
    try? stdin.fileHandleForWriting.close()
    let group = DispatchGroup()
    var out = Data(), errData = Data()
    group.enter()
    DispatchQueue.global().async { out = stdout.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter()
    DispatchQueue.global().async { errData = stderr.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let deadline = Date(timeIntervalSinceNow: timeoutSeconds)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw ClientError(message: "\(path) \(arguments) timed out after \(timeoutSeconds)s")
    }
    process.waitUntilExit()
    group.wait()
    return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// A real redis-server on a free loopback port, for differential tests.
final class RedisServerProcess {
    let port: Int
    private let process: Process
    private let directory: String

    init(extraArguments: [String] = []) throws {
        let path = try requireProgram("redis-server")
        directory = makeTemporaryDirectory()
        port = try freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", directory, "--daemonize", "no", "--loglevel", "warning"] + extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date(timeIntervalSinceNow: 10)
        while Date() < deadline {
            if let client = try? RESPClient(port: port, timeoutMs: 1000), (try? client.run("PING")) == simple("PONG") { return }
            usleep(20_000)
        }
        process.terminate()
        throw ClientError(message: "redis-server did not start on port \(port)")
    }

    func client() throws -> RESPClient { try RESPClient(port: port) }

    deinit {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A port that was free a moment ago (bind to 0, read it, close).
func freePort() throws -> Int {
    let (fd, port) = try makeListeningSocket(host: "127.0.0.1", port: 0)
    close(fd)
    return port
}

/// Every schema invariant of a server's database file (see `Storage.checkConsistency`).
func consistencyProblems(_ databasePath: String) throws -> [String] {
    let connection = try openDatabase(databasePath, readOnly: true)
    defer { connection.close() }
    return try Storage.checkConsistency(connection)
}

/// Waits (bounded) until `condition` holds; returns whether it did. For tests that must wait
/// for something another thread or process does (never a fixed sleep).
func eventually(timeoutSeconds: Double = 10, pollMs: UInt32 = 20, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeoutSeconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(pollMs * 1000)
    }
    return try condition()
}

/// A blocking TCP socket connected to 127.0.0.1:`port`, with send and receive timeouts and,
/// if given, SO_RCVBUF set before connecting. The caller closes it.
func connectLoopback(port: Int, receiveBuffer: Int32? = nil, timeoutMs: Int = 5_000) throws -> Int32 {
    let fd = socket(AF_INET, SocketConstants.stream | SocketConstants.closeOnExec, 0)
    guard fd >= 0 else { throw ClientError(message: "socket failed") }
    if var size = receiveBuffer {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }
    var timeout = timeval(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard result == 0 else {
        let reason = String(cString: strerror(errno))
        close(fd)
        throw ClientError(message: "connect to \(port) failed: \(reason)")
    }
    return fd
}

/// The `name:value` lines of an INFO-style reply (INFO, CACHE.INFO, SQLITE.INFO, MEMORY.INFO).
func infoFields(_ reply: RESPValue) -> [String: String] {
    var fields: [String: String] = [:]
    for line in (reply.string ?? "").split(whereSeparator: \.isNewline) {
        guard let colon = line.firstIndex(of: ":") else { continue }
        fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
    }
    return fields
}

/// A field of `INFO section`, read through `client`.
func infoField(_ client: RESPClient, section: String, _ name: String) throws -> String? {
    infoFields(try client.command("INFO", section))[name]
}

/// Waits until the server reports at least `count` blocked clients (INFO clients).
func waitForBlockedClients(_ server: TestServer, atLeast count: Int, file: StaticString = #filePath, line: UInt = #line) throws {
    let observer = try server.client()
    defer { observer.close() }
    let reached = try eventually { Int(try infoField(observer, section: "clients", "blocked_clients") ?? "") ?? 0 >= count }
    XCTAssertTrue(reached, "\(count) blocked client(s) within 10 s", file: file, line: line)
}

/// Runs `workers` threads, each with its own connection to `port`, and waits for them at most
/// `timeoutSeconds`. Returns the errors they met ("worker: error"); empty when all went well,
/// and a line of its own when they did not finish in time.
func runWorkers(port: Int, _ workers: Int, timeoutSeconds: Double = 60,
                _ body: @escaping (_ worker: Int, _ client: RESPClient) throws -> Void) -> [String] {
    let group = DispatchGroup()
    let failures = ConcurrencyTests.ErrorBox()
    for worker in 0..<workers {
        group.enter()
        Thread {
            defer { group.leave() }
            do {
                try body(worker, try RESPClient(port: port))
            } catch { failures.add("\(worker): \(error)") }
        }.start()
    }
    if group.wait(timeout: .now() + timeoutSeconds) == .timedOut { failures.add("workers still running after \(timeoutSeconds) s") }
    return failures.all
}
