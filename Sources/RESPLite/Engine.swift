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

/// Monotonic time in microseconds (SLOWLOG durations).
@inline(__always) func monotonicMicros() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
}

/// Redis' sdscatrepr: a double-quoted string with escapes for quotes, backslashes and
/// non-printable bytes (MONITOR, CLIENT LIST names).
func quotedRepresentation(_ bytes: ByteView) -> String {
    var text = "\""
    for index in 0..<bytes.count {
        let byte = bytes[index]
        switch byte {
        case UInt8(ascii: "\\"): text += "\\\\"
        case UInt8(ascii: "\""): text += "\\\""
        case 10: text += "\\n"
        case 13: text += "\\r"
        case 9: text += "\\t"
        case 7: text += "\\a"
        case 8: text += "\\b"
        case 32...126: text.append(Character(UnicodeScalar(byte)))
        default: text += String(format: "\\x%02x", byte)
        }
    }
    return text + "\""
}

/// Counters shown by INFO and used by tests.
struct EngineStats {
    var commandsProcessed: Int64 = 0
    var batchesCommitted: Int64 = 0
    var batchesFailed: Int64 = 0
    var expiredKeysSwept: Int64 = 0
    var expiredFieldsSwept: Int64 = 0
    var sweeps: Int64 = 0
    /// Pipelined runs executed as one (SQLITE.INFO `pipeline_runs`), and their calls.
    var pipelineRuns: Int64 = 0
    var pipelineRunCalls: Int64 = 0
}

/// One SLOWLOG entry (arguments copied and truncated as Redis does).
struct SlowlogEntry {
    let id: Int64
    let unixSeconds: Int64
    let durationMicros: Int64
    let arguments: [[UInt8]]
    let clientAddress: String
    let clientName: String
}

final class Engine {
    let storage: Storage
    let table: CommandTable
    let options: ServerOptions
    let logger: Logger
    var stats = EngineStats()
    /// Reusable bytes for values a handler builds (INCR's decimal result).
    let scratch = ByteBuffer(capacity: 64)
    /// The loop core (clients, flushing); set by `ServerCore.init`.
    weak var core: ServerCore?

    // Server state read and changed by commands (CONFIG SET, AUTH, SLOWLOG...).
    var requirePassword: [UInt8]?
    var slowlogSlowerThanMicros: Int64
    var slowlogMaxEntries: Int
    private(set) var slowlog: [SlowlogEntry] = []
    private var nextSlowlogId: Int64 = 0
    /// Clients in MONITOR mode.
    private(set) var monitors: [Client] = []
    /// WATCHed keys → the clients watching them (Transactions.swift).
    var watchers: [[UInt8]: [Client]] = [:]
    /// Subscriptions (PubSub.swift).
    var channelSubscribers: [[UInt8]: [Client]] = [:]
    var patternSubscribers: [[UInt8]: [Client]] = [:]
    var shardSubscribers: [[UInt8]: [Client]] = [:]
    /// CONFIG SET notify-keyspace-events.
    var notifyKeyspaceEvents: KeyspaceEvents = []
    /// Blocked clients (Blocking.swift): waiters per key in arrival order, keys made ready by
    /// writes in this turn, and the timeout heap.
    var waitersByKey: [[UInt8]: [Client]] = [:]
    var readyKeys: [[UInt8]] = []
    var readyKeySet: Set<[UInt8]> = []
    var blockedDeadlines = DeadlineHeap()
    var blockedClientCount = 0
    /// Set by `block` when a re-run waiter found nothing again.
    var stillBlocked = false
    let startedAtMillis = currentTimeMillis()
    let startedAtMonotonic = monotonicMillis()
    let runId: String = (0..<40).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
    /// Unix seconds of the last SAVE/BGSAVE (checkpoint), or of the start.
    var lastSaveUnixSeconds = currentTimeMillis() / 1000
    /// Writes since the last SAVE (INFO rdb_changes_since_last_save).
    var changesSinceSave: Int64 = 0
    /// Values CONFIG SET stored for parameters that change nothing here.
    var harmlessConfig: [String: String] = [:]
    /// Highest used_memory seen (INFO used_memory_peak).
    private(set) var memoryPeak: Int64 = 0

    func noteMemoryPeak(_ used: Int64) { memoryPeak = max(memoryPeak, used) }

    /// CONFIG RESETSTAT.
    func resetStats() {
        stats = EngineStats()
        storage.cache?.resetStats()
        core?.totalConnections = 0
        core?.rejectedConnections = 0
        memoryPeak = 0
    }

    /// Clients that ran a command in the open batch, with their reply offsets.
    private var batchClients: [Client] = []

    /// Next sweep time (monotonic ms).
    private var nextSweepAt: Int64
    /// True when the last sweep hit its batch limit: sweep again next turn.
    private var sweepBacklog = false

    /// Set by SHUTDOWN and read by the loop after the turn.
    var stopRequested = false

    init(storage: Storage, options: ServerOptions, logger: Logger) {
        self.storage = storage
        // Every turn ends through endTurnBatch or commitBatch, which write the deferred key rows.
        storage.deferKeyWrites = true
        self.options = options
        self.logger = logger
        self.table = CommandTable(allCommands, renamed: options.renamedCommands, disabled: options.disabledCommands)
        self.nextSweepAt = monotonicMillis() + Int64(options.sweepIntervalMs)
        self.requirePassword = options.requirePassword.map { Array($0.utf8) }
        self.slowlogSlowerThanMicros = options.slowlogSlowerThanMicros
        self.slowlogMaxEntries = options.slowlogMaxEntries
    }

    // MARK: Execution

    /// Runs one parsed request. `args` is non-empty; its views are valid during this call.
    func execute(_ client: Client, _ args: [ByteView], command: Command? = nil) {
        stats.commandsProcessed += 1
        if client.batchStart < 0 {
            client.batchStart = client.output.count
            client.batchEnd = client.batchStart
            batchClients.append(client)
        }
        client.batchCommands += 1
        let replyStart = client.output.count
        let modeBefore = client.replyMode
        dispatch(client, args, command: command)
        applyReplyMode(client, replyStart: replyStart, modeBefore: modeBefore)
        client.batchEnd = client.output.count
        if !readyKeys.isEmpty && !servingReadyKeys { serveWaitersAfterCommand() }
    }

    /// Set while waiters are being served, so that their own commands do not serve again.
    private var servingReadyKeys = false

    /// As Redis after every command: the waiters of keys the command made ready are served now,
    /// in the same turn (a pipelined LPUSH after the one that fed a BLPOP sees the list that
    /// BLPOP left). Bounded by `maxWakeupRounds`; what is left is served after the commit.
    private func serveWaitersAfterCommand() {
        servingReadyKeys = true
        defer { servingReadyKeys = false }
        var rounds = 0
        while rounds < Self.maxWakeupRounds && serveReadyKeys() { rounds += 1 }
    }

    /// CLIENT REPLY OFF drops every reply (its own included); SKIP drops its own and the
    /// next command's.
    @inline(__always) private func applyReplyMode(_ client: Client, replyStart: Int, modeBefore: ReplyMode) {
        guard modeBefore != .on || client.replyMode != .on else { return }
        switch (modeBefore, client.replyMode) {
        case (_, .off):
            client.output.truncate(to: replyStart)
        case (.skipNext, .skipNext):
            client.output.truncate(to: replyStart)  // the skipped command
            client.replyMode = .on
        case (_, .skipNext):
            client.output.truncate(to: replyStart)  // CLIENT REPLY SKIP itself
        case (.off, .on), (.skipNext, .on):
            break  // CLIENT REPLY ON answers OK
        default:
            break
        }
    }

    /// Lookup, checks, the handler, and what is recorded about it.
    private func dispatch(_ client: Client, _ args: [ByteView], command: Command?) {
        guard let command = command ?? table.lookup(args[0]) else {
            let message = table.isUnsupported(args[0]) ? CommandError.notSupported.message : unknownCommandMessage(args)
            if client.inMulti { client.multiFailed = true }
            client.reply.error(message)
            fire(options.hooks.onUnknownCommand, client, args, message)
            return
        }
        client.lastCommandName = command.name
        guard command.acceptsArgumentCount(args.count) else {
            if client.inMulti { client.multiFailed = true }
            fail(client, args, CommandError.wrongArity(command.name).message)
            return
        }
        if requirePassword != nil && !client.authenticated && !command.flags.contains(.noAuth) {
            fail(client, args, "NOAUTH Authentication required.")
            return
        }
        if client.subscriptionCount > 0 && !client.resp3 && !command.flags.contains(.allowedWhileSubscribed) {
            fail(client, args, "ERR Can't execute '\(command.name)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
            return
        }
        if client.inMulti && !command.flags.contains(.transactionControl) {
            queue(client, command, args)
            return
        }
        if !monitors.isEmpty && !command.flags.contains(.noAuth) { feedMonitors(client, args) }
        let started = monotonicMicros()
        let failure = run(client, command, args, ownSavepoint: !command.flags.contains(.validatesBeforeWriting))
        let finished = monotonicMicros()
        client.lastCommandAt = finished / 1000
        if let failure { fail(client, args, Self.message(for: failure)) }
        if storage.batchLost {
            // SQLite rolled back the whole transaction (I/O error, disk full): every command
            // of the batch is lost, so every one of them answers an error.
            client.batchEnd = client.output.count
            failBatch(failure ?? storage.connection.lastError)
        }
        recordSlowlog(client, args, durationMicros: finished - started)
    }

    // MARK: Pipelined runs (spec/protocol.md)

    /// Whether a call of `command` with this many arguments may start a pipelined run for
    /// `client`: the command has a run handler for that shape, and nothing would tell the calls
    /// apart from one call (MULTI queueing, CLIENT REPLY, MONITOR, keyspace events, AUTH, RESP2
    /// subscribed mode, clients blocked on the key: each call may serve one of them).
    @inline(__always) func mayStartRun(_ client: Client, _ command: Command, _ args: [ByteView]) -> Bool {
        command.runArity == args.count && options.pipelineRunMaxCommands > 1 && !client.inMulti
            && client.replyMode == .on && client.subscriptionCount == 0 && monitors.isEmpty
            && notifyKeyspaceEvents.isEmpty && (requirePassword == nil || client.authenticated)
            && (waitersByKey.isEmpty || waitersByKey[args[1].array] == nil)
    }

    /// Executes a pipelined run as one command of `run.count` calls: each call is counted,
    /// and answered, as if it had run alone. If the run handler refuses (an error any call
    /// would answer), the calls run one by one instead.
    func executeRun(_ client: Client, _ command: Command, _ run: PipelineRun) {
        assert(run.count >= 2 && run.arity == command.runArity && run.arguments.count == run.count * run.arity)
        if client.batchStart < 0 {
            client.batchStart = client.output.count
            client.batchEnd = client.batchStart
            batchClients.append(client)
        }
        client.lastCommandName = command.name
        let replyStart = client.output.count
        let ownSavepoint = !command.flags.contains(.validatesBeforeWriting)
        let started = monotonicMicros()
        let failure = self.run(client, command, Array(run.arguments[0..<run.arity]), ownSavepoint: ownSavepoint, pipelineRun: run)
        if failure != nil && !storage.batchLost {
            // Nothing of the run was kept (refused before writing, or its savepoint rolled back).
            client.output.truncate(to: replyStart)
            for call in 0..<run.count { execute(client, run.call(call), command: command) }
            return
        }
        let finished = monotonicMicros()
        stats.commandsProcessed += Int64(run.count)
        stats.pipelineRuns += 1
        stats.pipelineRunCalls += Int64(run.count)
        client.batchCommands += run.count
        client.lastCommandAt = finished / 1000
        if storage.batchLost {
            // As `dispatch`: each call answers the error, then the whole batch does.
            client.output.truncate(to: replyStart)
            let message = Self.message(for: failure ?? storage.connection.lastError)
            for call in 0..<run.count { fail(client, run.call(call), message) }
            client.batchEnd = client.output.count
            failBatch(failure ?? storage.connection.lastError)
            return
        }
        client.batchEnd = client.output.count
        let perCallMicros = (finished - started) / Int64(run.count)
        if slowlogSlowerThanMicros >= 0 && perCallMicros >= slowlogSlowerThanMicros {
            for call in 0..<run.count { recordSlowlog(client, run.call(call), durationMicros: perCallMicros) }
        }
    }

    /// Runs a command's handler (or, with `pipelineRun`, its run handler): in the turn's
    /// transaction unless it needs no storage, in its own savepoint, with WATCH and
    /// keyspace-event bookkeeping after a write. Returns the failure, if any (not yet written
    /// to the client).
    private func run(_ client: Client, _ command: Command, _ args: [ByteView], ownSavepoint: Bool = true,
                     pipelineRun: PipelineRun? = nil) -> Error? {
        let call = CommandCall(args: args, client: client, engine: self, reply: client.reply, name: command.name)
        if command.flags.contains(.noStorage) {
            do { try command.handler(call) } catch { return error }
            return nil
        }
        var failure: Error?
        let changesBefore = storage.connection.totalChanges
        do {
            try storage.beginBatchIfNeeded()
            storage.savepointPerCommand = ownSavepoint
            defer { storage.savepointPerCommand = true }
            do {
                if let pipelineRun { try command.runHandler!(call, pipelineRun) } else { try command.handler(call) }
            } catch {
                failure = error
            }
            let wroteAnything = storage.commandWrote
            // Modified = a row changed (Redis signals a key only when the command changed it:
            // SADD of present members, SREM/HDEL/ZREM/LREM of absent ones touch no WATCH).
            let wrote = failure == nil && wroteAnything && storage.connection.totalChanges != changesBefore
            storage.endCommand(failed: failure != nil)
            if failure != nil && wroteAnything && !ownSavepoint {
                // Nothing can undo this command alone: the batch goes (`batchLost`), and
                // `execute` answers every command of it with the error.
                storage.abandonBatchTransaction()
            }
            if wrote {
                changesSinceSave += Int64(pipelineRun?.count ?? 1)
                keysModified(command, args)
            }
        } catch {
            failure = error
        }
        return failure
    }

    /// One command of an EXEC: its reply (or error) goes in place in the EXEC array.
    func runQueued(_ client: Client, _ command: Command, _ args: [ByteView]) {
        if let failure = run(client, command, args) {
            fail(client, args, Self.message(for: failure))
        }
    }

    private func fail(_ client: Client, _ args: [ByteView], _ message: String) {
        client.reply.error(message)
        fire(options.hooks.onCommandError, client, args, message)
    }

    private func fire(_ hook: (@Sendable (HookEvent) -> Void)?, _ client: Client, _ args: [ByteView], _ message: String) {
        guard let hook else { return }
        hook(HookEvent(command: args[0].string, arguments: args.map(\.array), clientAddress: client.address, message: message))
    }

    func reportSocketError(_ client: Client, message: String) {
        guard let hook = options.hooks.onSocketError else { return }
        hook(HookEvent(command: client.lastCommandName, arguments: [], clientAddress: client.address, message: message))
    }

    // MARK: SLOWLOG and MONITOR

    private func recordSlowlog(_ client: Client, _ args: [ByteView], durationMicros: Int64) {
        guard slowlogSlowerThanMicros >= 0, durationMicros >= slowlogSlowerThanMicros, slowlogMaxEntries > 0 else { return }
        // As Redis: at most 32 arguments, each at most 128 bytes, with a note of the rest.
        var kept: [[UInt8]] = []
        for (index, argument) in args.enumerated() {
            if index == 31 && args.count > 32 {
                kept.append(Array("... (\(args.count - 31) more arguments)".utf8))
                break
            }
            if argument.count > 128 {
                kept.append(argument.slice(0, 128).array + Array("... (\(argument.count - 128) more bytes)".utf8))
            } else {
                kept.append(argument.array)
            }
        }
        slowlog.insert(SlowlogEntry(id: nextSlowlogId, unixSeconds: currentTimeMillis() / 1000, durationMicros: durationMicros,
                                    arguments: kept, clientAddress: client.address, clientName: client.name), at: 0)
        nextSlowlogId += 1
        if slowlog.count > slowlogMaxEntries { slowlog.removeLast(slowlog.count - slowlogMaxEntries) }
    }

    func resetSlowlog() { slowlog.removeAll() }

    func trimSlowlog() {
        if slowlog.count > slowlogMaxEntries { slowlog.removeLast(slowlog.count - slowlogMaxEntries) }
    }

    func addMonitor(_ client: Client) {
        if !client.isMonitor {
            client.isMonitor = true
            monitors.append(client)
        }
    }

    /// `+<unix s>.<us> [0 <addr>] "cmd" "arg" ...` to every monitor, as Redis writes it.
    private func feedMonitors(_ client: Client, _ args: [ByteView]) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var line = "+\(now.tv_sec).\(String(format: "%06d", now.tv_nsec / 1000)) [0 \(client.address)]"
        for argument in args { line += " " + quotedRepresentation(argument) }
        line += "\r\n"
        for monitor in monitors where monitor !== client && !monitor.closing {
            monitor.output.append(line)
            core?.wakeForOutput(monitor)
        }
    }

    static func message(for error: Error) -> String {
        switch error {
        case let error as CommandError: return error.message
        case let error as SQLiteError: return error.replyMessage
        default: return "ERR \(error)"
        }
    }

    /// Rounds of "serve the waiters of ready keys, commit" after a turn's commit (bounds the
    /// work of one turn; what is left waits for the next turn).
    static let maxWakeupRounds = 8

    /// Ends the loop turn: commits the batch (or logs it in the redo log), then the replies may
    /// be sent. Waiters are served after each command (`serveWaitersAfterCommand`); those left
    /// over by its round limit are served here, in a batch of their own.
    func endTurn(idle: Bool = true) {
        commitTurnBatch(idle: idle)
        var rounds = 0
        while rounds < Self.maxWakeupRounds && serveReadyKeys() {
            commitTurnBatch(idle: idle)
            rounds += 1
        }
    }

    private func commitTurnBatch(idle: Bool) {
        if storage.inBatch {
            do {
                try storage.endTurnBatch(idle: idle)
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
        if storage.unrecoverable != nil { stopRequested = true }  // the redo log replays at the next start
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

    /// One bounded batch of indexing existing hashes for a new ON HASH search index, inside the
    /// turn's transaction.
    private func runSearchBackfill() {
        do {
            try storage.beginBatchIfNeeded()
            try storage.search.backfillStep(now: currentTimeMillis())
            storage.endCommand(failed: false)
        } catch {
            storage.endCommand(failed: true)
            storage.search.dropFirstBackfill()
            logger.error("search indexing of existing hashes stopped: \(error)")
        }
    }

    /// Forgets a client that closed (mid-batch: its replies go nowhere).
    func forget(_ client: Client) {
        if client.isMonitor, let index = monitors.firstIndex(where: { $0 === client }) {
            monitors.remove(at: index)
        }
        if client.inMulti || !client.watched.isEmpty { endTransaction(client) }
        if client.blocked != nil { unblock(client) }
        if client.subscriptionCount > 0 { unsubscribeAll(client) }
        if client.batchStart >= 0, let index = batchClients.firstIndex(where: { $0 === client }) {
            batchClients.remove(at: index)
            client.batchStart = -1
        }
    }

    // MARK: Timers

    /// Milliseconds until the next timer is due (the loop's wait timeout).
    func nextTimerDelayMs(now: Int64) -> Int64 {
        if sweepBacklog || !readyKeys.isEmpty || !storage.search.backfills.isEmpty { return 0 }
        var next = nextSweepAt
        // Turns logged but not committed: commit once the loop has been idle this long.
        if let redoLog = storage.redoLog, storage.inBatch, redoLog.epochHasRecords {
            next = Swift.min(next, now + Int64(redoLog.options.idleCommitMs))
        }
        if let deadline = blockedDeadlines.earliest { next = Swift.min(next, deadline) }
        return Swift.max(0, next - now)
    }

    /// Runs due timers inside the turn's batch (the sweeper's deletes join the group commit).
    func runTimers(now: Int64) {
        if let deadline = blockedDeadlines.earliest, deadline <= now { expireBlockedClients(now: now) }
        if !storage.search.backfills.isEmpty { runSearchBackfill() }
        guard sweepBacklog || now >= nextSweepAt else { return }
        nextSweepAt = now + Int64(options.sweepIntervalMs)
        sweepBacklog = sweepExpired(limit: options.sweepBatchKeys) >= options.sweepBatchKeys
    }
}
