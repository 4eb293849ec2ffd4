// MULTI / EXEC / DISCARD / WATCH / UNWATCH (Redis multi.c).
//
// Queued commands are copied (their request buffers are gone by EXEC). EXEC runs them one
// after the other inside the turn's group-commit transaction, each in its own savepoint:
// a runtime error answers in place and the others still run (Redis' semantics), and because
// the whole turn commits as one SQLite transaction, an EXEC is all-or-nothing on disk and no
// other client's command can interleave (one loop thread).
//
// WATCH: a registry of watched keys → watching clients. Every write command that changed a row
// (SQLite's change count moved) marks the watchers of its keys dirty (like Redis'
// touchWatchedKey, which a command that changed nothing does not call); a watched key
// whose expiry passes also counts as modified. EXEC of a dirty transaction answers a null
// array.

import Foundation

/// A command queued by MULTI: its arguments in one owned buffer.
struct QueuedCommand {
    let command: Command
    let bytes: [UInt8]
    let spans: [(Int, Int)]

    init(command: Command, args: [ByteView]) {
        self.command = command
        var bytes: [UInt8] = []
        bytes.reserveCapacity(args.reduce(0) { $0 + $1.count })
        var spans: [(Int, Int)] = []
        spans.reserveCapacity(args.count)
        for argument in args {
            spans.append((bytes.count, argument.count))
            argument.withUnsafeBytes { bytes.append(contentsOf: $0) }
        }
        self.bytes = bytes
        self.spans = spans
    }

    /// The arguments as views, valid inside `body`.
    func withArguments<R>(_ body: ([ByteView]) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { buffer in
            let views = spans.map { ByteView(base: $0.1 == 0 ? nil : buffer.baseAddress! + $0.0, count: $0.1) }
            return try body(views)
        }
    }
}

/// Bounds on what one transaction may queue (memory stays bounded per client).
enum TransactionLimits {
    static let maxCommands = 100_000
    static let maxBytes = 512 * 1024 * 1024
}

enum TransactionCommands {
    /// MULTI
    static func multi(_ c: CommandCall) throws {
        guard !c.client.inMulti else { throw CommandError("ERR MULTI calls can not be nested") }
        c.client.inMulti = true
        c.client.multiFailed = false
        c.client.queued.removeAll()
        c.client.queuedBytes = 0
        c.reply.ok()
    }

    /// DISCARD
    static func discard(_ c: CommandCall) throws {
        guard c.client.inMulti else { throw CommandError("ERR DISCARD without MULTI") }
        c.engine.endTransaction(c.client)
        c.reply.ok()
    }

    /// WATCH key [key ...]
    static func watch(_ c: CommandCall) throws {
        guard !c.client.inMulti else { throw CommandError("ERR WATCH inside MULTI is not allowed") }
        let now = currentTimeMillis()
        for index in 1..<c.argumentCount {
            let record = try c.engine.storage.lookup(c.args[index], now: now)
            c.engine.watch(c.client, key: c.args[index].array, expiresAt: record?.expiresAt)
        }
        c.reply.ok()
    }

    /// UNWATCH
    static func unwatch(_ c: CommandCall) throws {
        c.engine.unwatchAll(c.client)
        c.reply.ok()
    }

    /// EXEC → the replies of the queued commands, EXECABORT, or null if a watched key changed.
    static func exec(_ c: CommandCall) throws {
        let client = c.client
        guard client.inMulti else { throw CommandError("ERR EXEC without MULTI") }
        let queue = client.queued
        let failed = client.multiFailed
        let dirty = client.watchDirty || c.engine.watchedKeyExpired(client, now: currentTimeMillis())
        c.engine.endTransaction(client)
        if failed { throw CommandError("EXECABORT Transaction discarded because of previous errors.") }
        if dirty {
            c.reply.nullArray()
            return
        }
        c.reply.arrayHeader(queue.count)
        client.executingTransaction = true
        defer { client.executingTransaction = false }
        for queued in queue {
            queued.withArguments { args in c.engine.runQueued(client, queued.command, args) }
        }
    }
}

extension Engine {
    /// Queues a command inside MULTI (already looked up and arity-checked) → +QUEUED.
    func queue(_ client: Client, _ command: Command, _ args: [ByteView]) {
        let size = args.reduce(0) { $0 + $1.count }
        guard client.queued.count < TransactionLimits.maxCommands, client.queuedBytes + size <= TransactionLimits.maxBytes else {
            client.multiFailed = true
            client.reply.error("ERR transaction too large: at most \(TransactionLimits.maxCommands) commands and \(TransactionLimits.maxBytes) bytes")
            return
        }
        client.queued.append(QueuedCommand(command: command, args: args))
        client.queuedBytes += size
        client.reply.simple("QUEUED")
    }

    /// Leaves MULTI and forgets the watches (EXEC, DISCARD, RESET, close).
    func endTransaction(_ client: Client) {
        client.inMulti = false
        client.multiFailed = false
        client.queued.removeAll()
        client.queuedBytes = 0
        unwatchAll(client)
    }

    func watch(_ client: Client, key: [UInt8], expiresAt: Int64?) {
        if client.watched[key] != nil { return }
        client.watched[key] = .some(expiresAt)
        watchers[key, default: []].append(client)
    }

    func unwatchAll(_ client: Client) {
        for key in client.watched.keys {
            watchers[key]?.removeAll { $0 === client }
            if watchers[key]?.isEmpty ?? false { watchers[key] = nil }
        }
        client.watched.removeAll()
        client.watchDirty = false
    }

    /// True if a key the client watched had an expiry that has passed since.
    func watchedKeyExpired(_ client: Client, now: Int64) -> Bool {
        client.watched.values.contains { expiry in
            if let expiry = expiry { return expiry <= now }
            return false
        }
    }

    /// Marks the watchers of `key` dirty.
    func touchWatched(_ key: ByteView) {
        guard !watchers.isEmpty, let clients = watchers[key.array] else { return }
        for client in clients { client.watchDirty = true }
    }

    /// Marks every watcher dirty (FLUSHDB, FLUSHALL).
    func touchAllWatched() {
        for clients in watchers.values { for client in clients { client.watchDirty = true } }
    }
}
