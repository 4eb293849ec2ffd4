// The embedding API: start a RESPLite server in-process on its own event-loop thread, learn
// its port and backend, stop it cleanly. The standalone `resplite` executable is built on it.

import CShims
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Everything a server can be started with. Defaults match the standalone server.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    /// 0 = any free port (read it back from `RESPLiteServer.port`).
    public var port = 6379
    public var databasePath = "./data.db"
    public var pragmaTemplate = PragmaTemplate.default
    /// Applied after the template, e.g. [("synchronous", "FULL")].
    public var pragmaOverrides: [(String, String)] = []
    public var networkBackend = NetworkBackendChoice.auto
    public var protocolLimits = ProtocolLimits()
    public var networkLimits = NetworkLimits()
    /// Active expiry: a sweep every `sweepIntervalMs`, deleting at most `sweepBatchKeys`
    /// keys per loop turn (a backlog continues on the next turn, never stalling the loop).
    public var sweepIntervalMs = 1000
    public var sweepBatchKeys = 500
    /// `requirepass`: when set, clients must AUTH (or HELLO ... AUTH) before other commands.
    public var requirePassword: String? = nil
    /// Command policy: rename (old name → new name; only the new name works; an empty new
    /// name disables) and disable (answers `ERR command not supported yet`). Renamed and
    /// disabled commands vanish from COMMAND output under their old names.
    public var renamedCommands: [String: String] = [:]
    public var disabledCommands: Set<String> = []
    /// Observers of client-visible failures; they never change what the client receives.
    public var hooks = ServerHooks()
    /// SLOWLOG: commands slower than this many microseconds are recorded (negative: none).
    public var slowlogSlowerThanMicros: Int64 = 10_000
    /// SLOWLOG: entries kept (oldest dropped first).
    public var slowlogMaxEntries = 128
    /// Bounds on clients blocked in BLPOP and friends.
    public var blockingLimits = BlockingLimits()
    /// The hot cache of key metadata and string values.
    public var cache = CacheOptions()
    /// The redo log (RedoLog.swift): under load, turns are acknowledged once logged and SQLite
    /// commits less often.
    public var redoLog = RedoLogOptions()
    /// LREM renumbers at most this many list rows to close the gap it leaves (spec/commands.md, "Storage of a list").
    public var listRenumberMaxRows = ListLimits.renumberMaxRows
    /// A pop of one element (LPOP, RPOP, BLPOP... without COUNT) reads and deletes it in one
    /// statement, through SQLite's preupdate hook, where SQLite has the hook (the project's build does);
    /// false, or without it: a read, then a delete (tests run both).
    public var listPopsInOneStatement = true
    /// Longest pipelined run (spec/protocol.md, "Pipelined runs"): consecutive calls of LPUSH,
    /// RPUSH, LPOP, RPOP, SADD, HSET or ZADD on one key, one element each, in one receive, are
    /// executed as one call of the command's multi-element form. 1 = never.
    public var pipelineRunMaxCommands = PipelineRunLimits.defaultMaxCommands

    public init() {}

    /// Reads RESPLITE_PORT, RESPLITE_DB and RESPLITE_PRAGMA_TEMPLATE (and
    /// RESPLITE_NETWORK_BACKEND) over the defaults.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServerOptions {
        var options = ServerOptions()
        if let port = environment["RESPLITE_PORT"] {
            guard let value = Int(port), (0...65535).contains(value) else {
                throw ConfigurationError("RESPLITE_PORT must be a port number, got '\(port)'")
            }
            options.port = value
        }
        if let path = environment["RESPLITE_DB"], !path.isEmpty { options.databasePath = path }
        if let name = environment["RESPLITE_PRAGMA_TEMPLATE"] {
            guard let template = PragmaTemplate(rawValue: name) else {
                throw ConfigurationError("unknown pragma template '\(name)' (expected one of \(PragmaTemplate.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            options.pragmaTemplate = template
        }
        if let password = environment["RESPLITE_REQUIREPASS"], !password.isEmpty {
            options.requirePassword = password
        }
        if let name = environment["RESPLITE_NETWORK_BACKEND"] {
            guard let backend = NetworkBackendChoice(rawValue: name) else {
                throw ConfigurationError("RESPLITE_NETWORK_BACKEND must be auto, uring or epoll, got '\(name)'")
            }
            options.networkBackend = backend
        }
        return options
    }
}

/// What a hook receives: the command and its arguments (copied), the client's address, and
/// the error text the client was sent (or the socket error).
public struct HookEvent: Sendable {
    public let command: String
    public let arguments: [[UInt8]]
    public let clientAddress: String
    public let message: String
}

/// Callbacks run on the event-loop thread, synchronously: keep them short (queue work
/// elsewhere). Their return is ignored: the client's reply is already decided.
public struct ServerHooks: Sendable {
    public var onUnknownCommand: (@Sendable (HookEvent) -> Void)?
    public var onCommandError: (@Sendable (HookEvent) -> Void)?
    public var onSocketError: (@Sendable (HookEvent) -> Void)?
    public init() {}
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A running server. `stop()` (or `deinit`) ends the loop, closes every client and the
/// database.
public final class RESPLiteServer: @unchecked Sendable {
    /// The port actually bound (useful with port 0).
    public let port: Int
    public let host: String
    /// "io_uring" or "epoll".
    public let backendName: String
    public let databasePath: String

    private let wakeFD: Int32
    private let finished = DispatchSemaphore(value: 0)
    private let stateLock = NSLock()
    private var stopped = false
    private var loopError: Error?

    private init(port: Int, host: String, backendName: String, databasePath: String, wakeFD: Int32) {
        self.port = port
        self.host = host
        self.backendName = backendName
        self.databasePath = databasePath
        self.wakeFD = wakeFD
    }

    /// Opens the database, binds the socket and starts the loop thread. Returns once the
    /// server accepts connections; throws if any of that fails.
    public static func start(_ options: ServerOptions, logger: Logger = Logger(label: "resplite")) throws -> RESPLiteServer {
        signal(SIGPIPE, SIG_IGN)
        let wakeFD = eventfd(0, Int32(EFD_CLOEXEC))
        guard wakeFD >= 0 else { throw NetworkError(message: "eventfd: \(String(cString: strerror(errno)))") }

        let ready = DispatchSemaphore(value: 0)
        let startup = StartupBox()
        let thread = Thread {
            // Everything the loop owns is created on the loop thread (SQLite without mutex,
            // io_uring SINGLE_ISSUER).
            let loop: (backend: NetworkBackend, storage: Storage, listenFD: Int32)
            do {
                loop = try makeLoop(options, wakeFD: wakeFD, logger: logger, startup: startup)
            } catch {
                startup.error = error
                ready.signal()
                return
            }
            ready.signal()
            var failure: Error?
            do {
                try loop.backend.run()
            } catch {
                logger.error("event loop failed: \(error)")
                failure = error
            }
            Glibc.close(loop.listenFD)
            loop.storage.close()
            startup.lock.lock()
            let server = startup.server
            if server == nil { startup.finishedEarly = true }
            startup.lock.unlock()
            server?.finish(error: failure)
        }
        thread.name = "resplite-loop"
        thread.start()
        ready.wait()
        if let error = startup.error {
            Glibc.close(wakeFD)
            throw error
        }
        let server = RESPLiteServer(port: startup.port, host: options.host, backendName: startup.backendName,
                                    databasePath: options.databasePath, wakeFD: wakeFD)
        startup.lock.lock()
        startup.server = server
        let alreadyFinished = startup.finishedEarly
        startup.lock.unlock()
        if alreadyFinished { server.finish(error: nil) }
        return server
    }

    private final class StartupBox: @unchecked Sendable {
        let lock = NSLock()
        var error: Error?
        var port = 0
        var backendName = ""
        var finishedEarly = false
        /// Read and written under `lock`.
        var server: RESPLiteServer?
    }

    private static func makeLoop(_ options: ServerOptions, wakeFD: Int32, logger: Logger, startup: StartupBox)
        throws -> (backend: NetworkBackend, storage: Storage, listenFD: Int32) {
        guard (1...PipelineRunLimits.maxCommands).contains(options.pipelineRunMaxCommands) else {
            throw ConfigurationError("pipelineRunMaxCommands must be between 1 and \(PipelineRunLimits.maxCommands), got \(options.pipelineRunMaxCommands)")
        }
        let storage = try Storage(path: options.databasePath, template: options.pragmaTemplate,
                                  overrides: options.pragmaOverrides, cache: options.cache, logger: logger,
                                  serverChecks: true, redo: options.redoLog.enabled ? options.redoLog : nil)
        let listenFD: Int32
        let port: Int
        do {
            (listenFD, port) = try makeListeningSocket(host: options.host, port: options.port)
        } catch {
            storage.close()
            throw error
        }
        if options.requirePassword == nil && !isLoopbackHost(options.host) {
            logger.warning("""
                ***** SECURITY WARNING: listening on \(options.host) without a password. Anyone who can \
                reach this address can read and change every key. Set --requirepass (or \
                RESPLITE_REQUIREPASS), or bind 127.0.0.1. *****
                """)
        }
        storage.listRenumberMaxRows = options.listRenumberMaxRows
        storage.listPopsInOneStatement = options.listPopsInOneStatement && SQLiteConnection.canWatchDeletedRows
        let engine = Engine(storage: storage, options: options, logger: logger)
        let core = ServerCore(engine: engine, protocolLimits: options.protocolLimits,
                              networkLimits: options.networkLimits, logger: logger)
        var backend: NetworkBackend?
        if options.networkBackend != .epoll {
            do {
                backend = try UringBackend(core: core, listenFD: listenFD, wakeFD: wakeFD, logger: logger)
            } catch {
                if options.networkBackend == .uring {
                    Glibc.close(listenFD)
                    storage.close()
                    throw error
                }
                logger.notice("\(error); falling back to epoll")
            }
        }
        if backend == nil {
            do {
                backend = try EpollBackend(core: core, listenFD: listenFD, wakeFD: wakeFD, logger: logger)
            } catch {
                Glibc.close(listenFD)
                storage.close()
                throw error
            }
        }
        startup.port = port
        startup.backendName = backend!.name
        core.backendName = backend!.name
        core.port = port
        logger.info("network backend: \(backend!.name)")
        return (backend!, storage, listenFD)
    }

    private static func isLoopbackHost(_ host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }

    /// Called by the loop thread when it has closed everything.
    private func finish(error: Error?) {
        stateLock.lock()
        loopError = error
        stateLock.unlock()
        finished.signal()
    }

    /// Stops the loop, closes every client and the database; returns when all is closed.
    /// Safe to call more than once and from any thread.
    public func stop() {
        stateLock.lock()
        let first = !stopped
        stopped = true
        stateLock.unlock()
        guard first else { return }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
        finished.wait()
        finished.signal()  // others may be waiting too (waitUntilStopped)
        Glibc.close(wakeFD)
    }

    /// Blocks until the server stops (by `stop()` from another thread, or a loop failure).
    /// Returns the loop's error, if it failed.
    @discardableResult
    public func waitUntilStopped() -> Error? {
        finished.wait()
        finished.signal()
        stateLock.lock()
        defer { stateLock.unlock() }
        return loopError
    }

    deinit { stop() }
}
