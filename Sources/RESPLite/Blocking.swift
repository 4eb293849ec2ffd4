// Blocking commands (Redis blocked.c, t_list.c, t_zset.c): BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
// BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP.
//
// A blocking command first tries its non-blocking form. If every key is empty it registers
// the client as a waiter on its keys (FIFO per key) with an optional deadline, and answers
// nothing yet; the client's further requests wait in its input buffer. When a write command
// touches a key with waiters, the key is marked ready; after the turn's COMMIT the engine
// re-runs the oldest waiters' commands in a new transaction (so a wakeup never precedes the
// push it consumes on disk), commits again, and sends. A woken waiter re-scans its keys in
// order; one pushed element serves one waiter. Timeouts are loop timers (a heap), not threads.
// A client that disconnects is forgotten. Inside EXEC a blocking command answers at once.

import Foundation

/// Bounds on blocked clients (REFERENCE.md §7). Over any of them: `ERR too many blocked clients`.
public struct BlockingLimits: Sendable {
    public var maxWaitersPerKey = 10_000
    public var maxBlockedClients = 50_000
    public var maxKeysPerCall = 128
    public init() {}
}

/// What a blocked client waits for.
struct BlockedState {
    let command: Command
    let request: QueuedCommand
    let keys: [[UInt8]]
    /// Monotonic ms; nil = forever.
    let deadline: Int64?
    /// What a timeout answers: a null array (BLPOP, BZPOPMIN...) or a null bulk (BLMOVE).
    let timeoutIsNullArray: Bool
}

/// A deadline in the timeout heap; stale when the client's token moved on.
private struct Deadline {
    let at: Int64
    let client: Client
    let token: Int
}

/// A binary min-heap of deadlines.
struct DeadlineHeap {
    fileprivate var items: [Deadline] = []

    var earliest: Int64? { items.first?.at }

    fileprivate mutating func push(_ item: Deadline) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].at < items[parent].at else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    fileprivate mutating func pop() -> Deadline? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && items[left].at < items[smallest].at { smallest = left }
            if right < items.count && items[right].at < items[smallest].at { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

extension Engine {
    /// Parses a timeout in seconds (decimals allowed; 0 = forever) into a monotonic deadline.
    func blockingDeadline(_ argument: ByteView) throws -> Int64? {
        guard let seconds = argument.parseDouble(), seconds.isFinite else {
            throw CommandError("ERR timeout is not a float or out of range")
        }
        guard seconds >= 0 else { throw CommandError("ERR timeout is negative") }
        if seconds == 0 { return nil }
        let milliseconds = seconds * 1000
        guard milliseconds < Double(Int64.max / 4) else { throw CommandError("ERR timeout is out of range") }
        return monotonicMillis() + max(1, Int64(milliseconds.rounded(.up)))
    }

    /// Called by a blocking handler that found nothing: registers the waiter (or, on a
    /// re-run after a wakeup, leaves it registered). Inside EXEC it answers the timeout reply.
    func block(_ c: CommandCall, keys: [ByteView], deadline: Int64?, timeoutIsNullArray: Bool) throws {
        let client = c.client
        if client.executingTransaction {
            if timeoutIsNullArray { c.reply.nullArray() } else { c.reply.null() }
            return
        }
        if client.blocked != nil {
            stillBlocked = true
            return
        }
        guard keys.count <= options.blockingLimits.maxKeysPerCall, blockedClientCount < options.blockingLimits.maxBlockedClients else {
            throw CommandError("ERR too many blocked clients")
        }
        let owned = keys.map(\.array)
        if owned.contains(where: { (waitersByKey[$0]?.count ?? 0) >= options.blockingLimits.maxWaitersPerKey }) {
            throw CommandError("ERR too many blocked clients")
        }
        let command = table.lookup(c.args[0])!
        client.blockToken += 1
        client.blocked = BlockedState(command: command, request: QueuedCommand(command: command, args: c.args),
                                      keys: owned, deadline: deadline, timeoutIsNullArray: timeoutIsNullArray)
        var seen = Set<[UInt8]>()
        for key in owned where seen.insert(key).inserted {
            waitersByKey[key, default: []].append(client)
        }
        blockedClientCount += 1
        if let deadline { blockedDeadlines.push(Deadline(at: deadline, client: client, token: client.blockToken)) }
    }

    /// Forgets a waiter (served, timed out, disconnected).
    func unblock(_ client: Client) {
        guard let state = client.blocked else { return }
        client.blocked = nil
        blockedClientCount -= 1
        for key in Set(state.keys) {
            waitersByKey[key]?.removeAll { $0 === client }
            if waitersByKey[key]?.isEmpty ?? false { waitersByKey[key] = nil }
        }
    }

    /// A write touched `key`: waiters on it get a chance after the commit.
    func signalKeyReady(_ key: ByteView) {
        guard !waitersByKey.isEmpty else { return }
        let owned = key.array
        guard waitersByKey[owned] != nil, readyKeySet.insert(owned).inserted else { return }
        readyKeys.append(owned)
    }

    /// After a COMMIT: re-runs the waiters of every ready key, oldest first, until a waiter
    /// finds nothing (the key is empty again). Returns true if anything ran (commit again).
    func serveReadyKeys() -> Bool {
        guard !readyKeys.isEmpty else { return false }
        let keys = readyKeys
        readyKeys.removeAll()
        readyKeySet.removeAll()
        var ran = false
        for key in keys {
            while let client = waitersByKey[key]?.first {
                ran = true
                if !serve(client) { break }
            }
        }
        return ran
    }

    /// Re-runs a blocked client's command. True if it was answered (and unblocked).
    private func serve(_ client: Client) -> Bool {
        guard let state = client.blocked else { return true }
        stillBlocked = false
        state.request.withArguments { args in execute(client, args) }
        if stillBlocked {
            // Nothing for this waiter after all: it keeps its place in every queue.
            return false
        }
        unblock(client)
        core?.wakeForOutput(client)
        core?.resumeInput(client)
        return true
    }

    /// Answers the waiters whose deadline has passed.
    func expireBlockedClients(now: Int64) {
        while let earliest = blockedDeadlines.earliest, earliest <= now, let entry = blockedDeadlines.pop() {
            let client = entry.client
            guard let state = client.blocked, client.blockToken == entry.token else { continue }
            unblock(client)
            if state.timeoutIsNullArray { client.reply.nullArray() } else { client.reply.null() }
            core?.wakeForOutput(client)
            core?.resumeInput(client)
        }
    }
}

enum BlockingCommands {
    /// Keys and timeout of `B* key [key ...] timeout`.
    static func keysAndDeadline(_ c: CommandCall) throws -> ([ByteView], Int64?) {
        let deadline = try c.engine.blockingDeadline(c.args[c.argumentCount - 1])
        return (Array(c.args[1..<(c.argumentCount - 1)]), deadline)
    }

    static func blpop(_ c: CommandCall) throws { try blockingPop(c, end: .head) }
    static func brpop(_ c: CommandCall) throws { try blockingPop(c, end: .tail) }

    /// BLPOP/BRPOP key [key ...] timeout → [key, element] from the first non-empty list.
    static func blockingPop(_ c: CommandCall, end: ListEnd) throws {
        let (keys, deadline) = try keysAndDeadline(c)
        let storage = c.engine.storage
        let now = currentTimeMillis()
        for key in keys {
            guard let record = try storage.collectionForRead(key, type: .list, now: now), record.count > 0 else { continue }
            c.reply.arrayHeader(2)
            c.reply.bulk(key)
            try ListCommands.popElements(c, record, end: end, take: 1, now: now)
            return
        }
        try c.engine.block(c, keys: keys, deadline: deadline, timeoutIsNullArray: true)
    }

    /// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
    static func blmove(_ c: CommandCall) throws {
        guard let from = ListCommands.end(c.args[3]), let to = ListCommands.end(c.args[4]) else { throw CommandError.syntax }
        try blockingMove(c, from: from, to: to)
    }

    /// BRPOPLPUSH source destination timeout
    static func brpoplpush(_ c: CommandCall) throws {
        try blockingMove(c, from: .tail, to: .head)
    }

    static func blockingMove(_ c: CommandCall, from: ListEnd, to: ListEnd) throws {
        let deadline = try c.engine.blockingDeadline(c.args[c.argumentCount - 1])
        let now = currentTimeMillis()
        if let source = try c.engine.storage.collectionForRead(c.args[1], type: .list, now: now), source.count > 0 {
            try ListCommands.moveGeneric(c, from: from, to: to)
            return
        }
        // The destination must be a list (or missing) even when blocking, as in Redis.
        _ = try c.engine.storage.collectionForRead(c.args[2], type: .list, now: now)
        try c.engine.block(c, keys: [c.args[1]], deadline: deadline, timeoutIsNullArray: false)
    }

    /// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
    static func blmpop(_ c: CommandCall) throws {
        let deadline = try c.engine.blockingDeadline(c.args[1])
        let arguments = try MultiPopArguments(c, numkeysIndex: 2, words: ("left", "right"))
        if try c.client.executingTransaction || anyNonEmpty(c, arguments.keys, type: .list) {
            try ListCommands.lmpop(c, arguments)
            return
        }
        try c.engine.block(c, keys: arguments.keys, deadline: deadline, timeoutIsNullArray: true)
    }

    /// Whether any of the keys holds a non-empty collection of `type` (WRONGTYPE otherwise).
    static func anyNonEmpty(_ c: CommandCall, _ keys: [ByteView], type: KeyType) throws -> Bool {
        let now = currentTimeMillis()
        for key in keys where (try c.engine.storage.collectionForRead(key, type: type, now: now)?.count ?? 0) > 0 {
            return true
        }
        return false
    }
}

extension BlockingCommands {
    static func bzpopmin(_ c: CommandCall) throws { try blockingZPop(c, max: false) }
    static func bzpopmax(_ c: CommandCall) throws { try blockingZPop(c, max: true) }

    /// BZPOPMIN/BZPOPMAX key [key ...] timeout → [key, member, score] from the first
    /// non-empty sorted set.
    static func blockingZPop(_ c: CommandCall, max: Bool) throws {
        let (keys, deadline) = try keysAndDeadline(c)
        let storage = c.engine.storage
        let now = currentTimeMillis()
        for key in keys {
            guard let record = try storage.collectionForRead(key, type: .zset, now: now), record.count > 0 else { continue }
            let items = try storage.zsetByRank(record, first: 0, last: 0, reverse: max)
            guard let item = items.first else { continue }
            try storage.zsetDeleteMembers(record, items, now: now)
            c.reply.arrayHeader(3)
            c.reply.bulk(key)
            c.reply.bulk(item.member)
            c.reply.double(item.score)
            return
        }
        try c.engine.block(c, keys: keys, deadline: deadline, timeoutIsNullArray: true)
    }

    /// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
    static func bzmpop(_ c: CommandCall) throws {
        let deadline = try c.engine.blockingDeadline(c.args[1])
        let arguments = try MultiPopArguments(c, numkeysIndex: 2, words: ("min", "max"))
        if try c.client.executingTransaction || anyNonEmpty(c, arguments.keys, type: .zset) {
            try ZSetCommands.zmpop(c, arguments)
            return
        }
        try c.engine.block(c, keys: arguments.keys, deadline: deadline, timeoutIsNullArray: true)
    }
}
