// The engine: Redis semantics over the storage layer. It executes one command at a time on
// the event-loop thread, keeps the group-commit batch (one SQLite transaction per loop turn,
// replies released only after COMMIT), and fails a whole batch when SQLite loses it.

import Foundation
import Logging

/// Wall-clock time in unix milliseconds (vDSO clock_gettime: no syscall).
@inline(__always) func currentTimeMillis() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// Monotonic time in milliseconds, for timers.
@inline(__always) func monotonicMillis() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// Counters shown by INFO and used by tests.
struct EngineStats {
    var commandsProcessed: Int64 = 0
    var batchesCommitted: Int64 = 0
    var batchesFailed: Int64 = 0
    var expiredKeysSwept: Int64 = 0
    var sweeps: Int64 = 0
}

final class Engine {
    let storage: Storage
    let table: CommandTable
    let options: ServerOptions
    let logger: Logger
    var stats = EngineStats()
    /// Reusable bytes for values a handler builds (INCR's decimal result).
    let scratch = ByteBuffer(capacity: 64)

    /// Clients that ran a command in the open batch, with their reply offsets.
    private var batchClients: [Client] = []

    /// Next sweep time (monotonic ms).
    private var nextSweepAt: Int64
    /// True when the last sweep hit its batch limit: sweep again next turn.
    private var sweepBacklog = false

    /// Set by SHUTDOWN-like commands and read by the loop.
    var stopRequested = false

    init(storage: Storage, options: ServerOptions, logger: Logger) {
        self.storage = storage
        self.options = options
        self.logger = logger
        self.table = CommandTable(allCommands)
        self.nextSweepAt = monotonicMillis() + Int64(options.sweepIntervalMs)
    }

    // MARK: Execution

    /// Runs one parsed request. `args` is non-empty; its views are valid during this call.
    func execute(_ client: Client, _ args: [ByteView]) {
        stats.commandsProcessed += 1
        if client.batchStart < 0 {
            client.batchStart = client.output.count
            client.batchEnd = client.batchStart
            batchClients.append(client)
        }
        client.batchCommands += 1
        defer { client.batchEnd = client.output.count }

        guard let command = table.lookup(args[0]) else {
            let name = args[0].string.lowercased()
            client.reply.error(redisCommandNames.contains(name) ? CommandError.notSupported.message : unknownCommandMessage(args))
            return
        }
        guard command.acceptsArgumentCount(args.count) else {
            client.reply.error(CommandError.wrongArity(command.name).message)
            return
        }
        let call = CommandCall(args: args, client: client, engine: self, name: command.name)
        if command.flags.contains(.noStorage) {
            do { try command.handler(call) } catch { client.reply.error(Self.message(for: error)) }
            return
        }
        do {
            try storage.beginBatchIfNeeded()
        } catch {
            client.reply.error(Self.message(for: error))
            return
        }
        var failure: Error?
        do {
            try command.handler(call)
        } catch {
            failure = error
        }
        storage.endCommand(failed: failure != nil)
        if let failure {
            client.reply.error(Self.message(for: failure))
        }
        if storage.batchLost {
            // SQLite rolled back the whole transaction (I/O error, disk full): every command
            // of the batch is lost, so every one of them answers an error.
            client.batchEnd = client.output.count
            failBatch(failure ?? storage.connection.lastError)
        }
    }

    static func message(for error: Error) -> String {
        switch error {
        case let error as CommandError: return error.message
        case let error as SQLiteError: return error.replyMessage
        default: return "ERR \(error)"
        }
    }

    /// Ends the loop turn: commits the batch, then the replies may be sent.
    func endTurn() {
        if storage.inBatch {
            do {
                try storage.commitBatch()
                stats.batchesCommitted += 1
            } catch {
                logger.error("group commit failed: \(error)")
                failBatch(error)
            }
        }
        for client in batchClients {
            client.batchStart = -1
            client.batchCommands = 0
        }
        batchClients.removeAll(keepingCapacity: true)
    }

    /// Withdraws every reply of the batch and answers each of its commands with the error.
    private func failBatch(_ error: Error) {
        storage.rollbackBatch()
        stats.batchesFailed += 1
        let message = Self.message(for: error)
        for client in batchClients {
            // Bytes queued after the batch's replies (a protocol error) are kept after the
            // errors that replace those replies.
            let tail = client.output.count > client.batchEnd
                ? [UInt8](UnsafeRawBufferPointer(rebasing: client.output.readableBytes[(client.batchEnd - client.output.readIndex)...]))
                : []
            client.output.truncate(to: client.batchStart)
            for _ in 0..<client.batchCommands { client.reply.error(message) }
            client.output.append(tail)
            client.batchStart = -1
            client.batchCommands = 0
        }
        batchClients.removeAll(keepingCapacity: true)
    }

    /// Forgets a client that closed mid-batch (its replies go nowhere).
    func forget(_ client: Client) {
        if client.batchStart >= 0, let index = batchClients.firstIndex(where: { $0 === client }) {
            batchClients.remove(at: index)
            client.batchStart = -1
        }
    }

    // MARK: Timers

    /// Milliseconds until the next timer is due (the loop's wait timeout).
    func nextTimerDelayMs(now: Int64) -> Int64 {
        if sweepBacklog { return 0 }
        return Swift.max(0, nextSweepAt - now)
    }

    /// Runs due timers inside the turn's batch (the sweeper's deletes join the group commit).
    func runTimers(now: Int64) {
        guard sweepBacklog || now >= nextSweepAt else { return }
        nextSweepAt = now + Int64(options.sweepIntervalMs)
        sweepBacklog = sweepExpired(limit: options.sweepBatchKeys) >= options.sweepBatchKeys
    }
}
