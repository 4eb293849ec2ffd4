// The standalone server: `resplite --port 6379 --db ./data.db`.

import ArgumentParser
import Foundation
import Logging
import RESPLite

struct RESPLiteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resplite",
        abstract: "A Redis-protocol server that keeps every key in one SQLite file.",
        discussion: """
            Environment: RESPLITE_PORT, RESPLITE_DB, RESPLITE_PRAGMA_TEMPLATE, \
            RESPLITE_NETWORK_BACKEND (flags win over the environment).
            Pragma templates: default, performance, safety, minimal, none.
            """)

    @Option(help: "Address to bind.")
    var host: String?

    @Option(help: "TCP port (0 = any free port). Default 6379.")
    var port: Int?

    @Option(help: "SQLite database file. Default ./data.db.")
    var db: String?

    @Option(name: .customLong("pragma-template"), help: "Pragma template: default, performance, safety, minimal, none.")
    var pragmaTemplate: String?

    @Option(name: .customLong("pragma"), help: "Pragma override NAME=VALUE, applied after the template (repeatable).")
    var pragmas: [String] = []

    @Option(name: .customLong("network-backend"), help: "auto, uring or epoll.")
    var networkBackend: String?

    @Option(name: .customLong("sweep-interval-ms"), help: "Milliseconds between expiry sweeps. Default 1000.")
    var sweepIntervalMs: Int?

    @Option(name: .customLong("sweep-batch-keys"), help: "Expired keys deleted per sweep turn at most. Default 500.")
    var sweepBatchKeys: Int?

    @Option(name: .customLong("maxclients"), help: "Most simultaneous clients. Default 10000.")
    var maxClients: Int?

    @Option(name: .customLong("requirepass"), help: "Password clients must AUTH with (also RESPLITE_REQUIREPASS).")
    var requirePassword: String?

    @Option(name: .customLong("rename-command"), help: "Rename a command: OLD=NEW (NEW empty disables it). Repeatable.")
    var renames: [String] = []

    @Option(name: .customLong("disable-command"), help: "Disable a command (it answers as unsupported). Repeatable.")
    var disabled: [String] = []

    @Option(name: .customLong("timeout"), help: "Close clients idle this many seconds (0 = never). Default 0.")
    var idleTimeout: Int?

    @Flag(name: .customLong("cache"), inversion: .prefixedNo, help: "The hot cache of key metadata and string values.")
    var cacheEnabled = true

    @Option(name: .customLong("cache-max-entries"), help: "Hot cache entries at most. Default 500000 (the byte limit governs).")
    var cacheMaxEntries: Int?

    @Option(name: .customLong("cache-max-bytes"), help: "Hot cache bytes at most. Default 67108864 (64 MB).")
    var cacheMaxBytes: Int?

    @Flag(name: .customLong("redo-log"), inversion: .prefixedNo,
          help: "Under load, acknowledge turns once they are in the redo log (<db>-redo) and commit SQLite less often.")
    var redoLogEnabled = true

    @Option(name: .customLong("redo-defer-ms"), help: "Longest a logged turn waits for its SQLite commit. Default 1000.")
    var redoDeferMs: Int?

    @Option(name: .customLong("redo-defer-bytes"), help: "Most redo log bytes between two SQLite commits. Default 8388608 (8 MB).")
    var redoDeferBytes: Int?

    @Option(name: .customLong("redo-idle-commit-ms"), help: "SQLite commits what the redo log holds once the server has been idle this long. Default 1.")
    var redoIdleCommitMs: Int?

    @Option(name: .customLong("pipeline-run-max-commands"), help: "Longest pipelined run of LPUSH/RPUSH/LPOP/RPOP/SADD/HSET/ZADD calls on one key executed as one (1 = never). Default 64.")
    var pipelineRunMaxCommands: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() throws {
        // Block SIGINT/SIGTERM before any thread exists: every thread inherits the mask, so
        // the signals wait for the `sigwait` below instead of landing on the loop thread.
        var stopSignalsMask = sigset_t()
        sigemptyset(&stopSignalsMask)
        sigaddset(&stopSignalsMask, SIGINT)
        sigaddset(&stopSignalsMask, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &stopSignalsMask, nil)
        let stopSignals = stopSignalsMask

        var options: ServerOptions
        do {
            options = try ServerOptions.fromEnvironment()
        } catch {
            throw ValidationError("\(error)")
        }
        if let host { options.host = host }
        if let port {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
            options.port = port
        }
        if let db { options.databasePath = db }
        if let pragmaTemplate {
            guard let template = PragmaTemplate(rawValue: pragmaTemplate) else {
                throw ValidationError("unknown pragma template '\(pragmaTemplate)'")
            }
            options.pragmaTemplate = template
        }
        for text in pragmas {
            guard let pair = parsePragmaOverride(text) else {
                throw ValidationError("--pragma expects NAME=VALUE with letters, digits, '_' or '-', got '\(text)'")
            }
            options.pragmaOverrides.append(pair)
        }
        if let networkBackend {
            guard let choice = NetworkBackendChoice(rawValue: networkBackend) else {
                throw ValidationError("--network-backend must be auto, uring or epoll")
            }
            options.networkBackend = choice
        }
        if let sweepIntervalMs {
            guard sweepIntervalMs > 0 else { throw ValidationError("--sweep-interval-ms must be > 0") }
            options.sweepIntervalMs = sweepIntervalMs
        }
        if let sweepBatchKeys {
            guard sweepBatchKeys > 0 else { throw ValidationError("--sweep-batch-keys must be > 0") }
            options.sweepBatchKeys = sweepBatchKeys
        }
        if let maxClients {
            guard maxClients > 0 else { throw ValidationError("--maxclients must be > 0") }
            options.networkLimits.maxClients = maxClients
        }
        if let requirePassword { options.requirePassword = requirePassword.isEmpty ? nil : requirePassword }
        for rename in renames {
            let parts = rename.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--rename-command expects OLD=NEW, got '\(rename)'") }
            options.renamedCommands[parts[0].lowercased()] = parts[1].lowercased()
        }
        for name in disabled { options.disabledCommands.insert(name.lowercased()) }
        if let idleTimeout {
            guard idleTimeout >= 0 else { throw ValidationError("--timeout must be >= 0") }
            options.networkLimits.idleTimeoutSeconds = idleTimeout
        }
        options.cache.enabled = cacheEnabled
        if let cacheMaxEntries {
            guard cacheMaxEntries > 0 else { throw ValidationError("--cache-max-entries must be > 0") }
            options.cache.maxEntries = cacheMaxEntries
        }
        if let cacheMaxBytes {
            guard cacheMaxBytes > 0 else { throw ValidationError("--cache-max-bytes must be > 0") }
            options.cache.maxBytes = cacheMaxBytes
        }
        options.redoLog.enabled = redoLogEnabled
        if let redoDeferMs {
            guard redoDeferMs >= 0 else { throw ValidationError("--redo-defer-ms must be >= 0") }
            options.redoLog.maxDeferMs = redoDeferMs
        }
        if let redoIdleCommitMs {
            guard redoIdleCommitMs >= 0 else { throw ValidationError("--redo-idle-commit-ms must be >= 0") }
            options.redoLog.idleCommitMs = redoIdleCommitMs
        }
        if let redoDeferBytes {
            guard redoDeferBytes > 0 else { throw ValidationError("--redo-defer-bytes must be > 0") }
            options.redoLog.maxDeferBytes = redoDeferBytes
        }
        if let pipelineRunMaxCommands {
            guard (1...PipelineRunLimits.maxCommands).contains(pipelineRunMaxCommands) else {
                throw ValidationError("--pipeline-run-max-commands must be between 1 and \(PipelineRunLimits.maxCommands)")
            }
            options.pipelineRunMaxCommands = pipelineRunMaxCommands
        }
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level '\(logLevel)'") }

        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "resplite")

        let server: RESPLiteServer
        do {
            server = try RESPLiteServer.start(options, logger: logger)
        } catch {
            FileHandle.standardError.write("resplite: cannot start: \(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }

        // SIGINT/SIGTERM: stop the loop, close the database, exit 0.
        let signalThread = Thread {
            var received: Int32 = 0
            var signals = stopSignals
            sigwait(&signals, &received)
            logger.info("received signal \(received), shutting down")
            server.stop()
        }
        signalThread.name = "resplite-signals"
        signalThread.start()

        print("RESPLite ready to accept connections on \(server.host):\(server.port) (db \(server.databasePath), template \(options.pragmaTemplate.rawValue), backend \(server.backendName))")
        fflush(stdout)
        let failure = server.waitUntilStopped()
        if let failure {
            FileHandle.standardError.write("resplite: event loop failed: \(failure)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
    }
}

RESPLiteCommand.main()
