// List commands (Redis t_list.c): table entries and handlers.
//
// Storage (spec/schema.md, "Lists"): one row per element in `redis_lists(key_id, seq, value)`
// with UNIQUE(key_id, seq). Sequences are dense: element i of a list is at `head + i`, where
// `head` is the smallest seq of the key (one seek of the unique index) and the length is
// `redis_keys.count`. Pushes take `head - 1` or `head + count`, pops delete at either end: no
// renumbering. LINDEX/LSET are one seek. LINSERT, LREM and LTRIM keep the sequences dense by
// renumbering one side of the list once per command (the shorter side where there is a
// choice), through free space beyond the list's ends because SQLite checks UNIQUE row by row.

import Foundation

let listCommands: [Command] = [
    Command("lpush", arity: -3, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lpush)),
    Command("rpush", arity: -3, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.rpush)),
    Command("lpushx", arity: -3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lpushx)),
    Command("rpushx", arity: -3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.rpushx)),
    Command("lpop", arity: -2, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lpop)),
    Command("rpop", arity: -2, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.rpop)),
    Command("llen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.llen)),
    Command("lrange", arity: 4, flags: [.readonly], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lrange)),
    Command("lindex", arity: 3, flags: [.readonly], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lindex)),
    Command("lset", arity: 4, flags: [.write, .denyOOM], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lset)),
    Command("ltrim", arity: 4, flags: [.write], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.ltrim)),
    Command("lrem", arity: 4, flags: [.write], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lrem)),
    Command("linsert", arity: 5, flags: [.write, .denyOOM], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.linsert)),
    Command("lpos", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lpos)),
    Command("lmove", arity: 5, flags: [.write, .denyOOM], keys: (1, 2, 1), group: "list", handler: guarded(ListCommands.lmove)),
    Command("rpoplpush", arity: 3, flags: [.write, .denyOOM], keys: (1, 2, 1), group: "list", handler: guarded(ListCommands.rpoplpush)),
    Command("lmpop", arity: -4, flags: [.write], keys: (0, 0, 0), group: "list", handler: guarded(ListCommands.lmpop)),
]

/// Wraps a handler so that a failure after part of the reply was written (a SQLite error
/// while streaming rows) withdraws that part: the client sees the error alone.
func guarded(_ handler: @escaping CommandHandler) -> CommandHandler {
    return { c in
        let mark = c.reply.buffer.count
        do {
            try handler(c)
        } catch {
            c.reply.buffer.truncate(to: mark)
            throw error
        }
    }
}

/// Redis' index normalisation for LRANGE/LTRIM/ZRANGE by rank: the inclusive range of
/// positions in [0, length), or nil when empty.
func normalizedRange(start: Int64, end: Int64, length: Int64) -> (Int64, Int64)? {
    var start = start, end = end
    if start < 0 { start = start &+ length }
    if end < 0 { end = end &+ length }
    if start < 0 { start = 0 }
    if start > end || start >= length { return nil }
    if end >= length { end = length - 1 }
    return (start, end)
}

enum ListEnd { case head, tail }

/// SQL that tests inspect with EXPLAIN QUERY PLAN (the statements the commands run).
enum ListSQL {
    /// The head of a list: the first entry of the key's (key_id, seq) index range.
    static let head: StaticString = "SELECT seq FROM redis_lists WHERE key_id = ?1 ORDER BY seq LIMIT 1"
    /// One element by seq (LINDEX, LMOVE).
    static let element: StaticString = "SELECT value FROM redis_lists WHERE key_id = ?1 AND seq = ?2"
    /// A range of elements by seq (LRANGE, pops).
    static let range: StaticString = "SELECT value FROM redis_lists WHERE key_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq"
}

// MARK: - Storage operations on lists

extension Storage {
    /// The smallest seq of a list (its head). Lists are dense: element i is at head + i.
    func listHead(_ id: Int64) throws -> Int64 {
        let statement = try cached(ListSQL.head)
        statement.bind(1, id)
        defer { statement.reset() }
        guard try statement.step() else { return 0 }
        return statement.int64(0)
    }

    func listInsert(_ id: Int64, seq: Int64, _ value: ByteView) throws {
        try willWrite()
        let statement = try cached("INSERT INTO redis_lists(key_id, seq, value) VALUES (?1, ?2, ?3)")
        statement.bind(1, id)
        statement.bind(2, seq)
        statement.bind(3, value)
        try statement.run()
    }

    func listDeleteRange(_ id: Int64, from: Int64, to: Int64) throws {
        guard from <= to else { return }
        try willWrite()
        let statement = try cached("DELETE FROM redis_lists WHERE key_id = ?1 AND seq BETWEEN ?2 AND ?3")
        statement.bind(1, id)
        statement.bind(2, from)
        statement.bind(3, to)
        try statement.run()
    }

    /// A statement stepping the values with seq in [from, to], ascending or descending. The
    /// caller steps it and reads `bytes(0)`; it is tracked, so the views stay valid until
    /// the end of the command or the next use.
    func listRangeStatement(_ id: Int64, from: Int64, to: Int64, descending: Bool) throws -> Statement {
        let statement = descending
            ? try cached("SELECT value FROM redis_lists WHERE key_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq DESC")
            : try cached(ListSQL.range)
        statement.reset()
        trackUntilEndOfCommand(statement)
        statement.bind(1, id)
        statement.bind(2, from)
        statement.bind(3, to)
        return statement
    }

    /// Adds `delta` to the seq of every element in [from, to]. Rows move first beyond
    /// `freeAbove` (all of which is free) or below `freeBelow`, then to their place, so that
    /// no row ever lands on a seq another row still holds (SQLite checks UNIQUE per row).
    func listShift(_ id: Int64, from: Int64, to: Int64, by delta: Int64, head: Int64, tail: Int64) throws {
        guard from <= to, delta != 0 else { return }
        try willWrite()
        let shift = try cached("UPDATE redis_lists SET seq = seq + ?4 WHERE key_id = ?1 AND seq BETWEEN ?2 AND ?3")
        // Park: above the tail when moving up, below the head when moving down.
        let park: Int64 = delta > 0 ? (tail + 1 + delta) - from : (head - 1 + delta) - to
        shift.bind(1, id)
        shift.bind(2, from)
        shift.bind(3, to)
        shift.bind(4, park)
        try shift.run()
        shift.bind(1, id)
        shift.bind(2, from + park)
        shift.bind(3, to + park)
        shift.bind(4, delta - park)
        try shift.run()
    }

    /// Makes the sequences dense again after rows were deleted between `first` and `last`
    /// (seqs of the removed rows; the list spanned [head, tail] before). Renumbers the side
    /// with fewer rows: the rows after `first` move down, or the rows before `last` move up.
    func listCompact(_ id: Int64, first: Int64, last: Int64, head: Int64, tail: Int64) throws {
        try willWrite()
        if tail - first <= last - head {
            // Rows after `first`: rank r (from 1) goes to first - 1 + r, parked above the tail.
            let park = tail + 1 - first
            let renumber = try cached("""
                UPDATE redis_lists SET seq = r.target FROM (
                    SELECT rowid AS rid, ?3 + row_number() OVER (ORDER BY seq) AS target
                    FROM redis_lists WHERE key_id = ?1 AND seq > ?2) AS r
                WHERE redis_lists.rowid = r.rid
                """)
            renumber.bind(1, id)
            renumber.bind(2, first)
            renumber.bind(3, first - 1 + park)
            try renumber.run()
            let back = try cached("UPDATE redis_lists SET seq = seq - ?3 WHERE key_id = ?1 AND seq > ?2")
            back.bind(1, id)
            back.bind(2, tail)
            back.bind(3, park)
            try back.run()
        } else {
            // Rows before `last`: rank r from the end goes to last + 1 - r, parked below the head.
            let park = last + 1 - head
            let renumber = try cached("""
                UPDATE redis_lists SET seq = r.target FROM (
                    SELECT rowid AS rid, ?3 - row_number() OVER (ORDER BY seq DESC) AS target
                    FROM redis_lists WHERE key_id = ?1 AND seq < ?2) AS r
                WHERE redis_lists.rowid = r.rid
                """)
            renumber.bind(1, id)
            renumber.bind(2, last)
            renumber.bind(3, last + 1 - park)
            try renumber.run()
            let back = try cached("UPDATE redis_lists SET seq = seq + ?3 WHERE key_id = ?1 AND seq < ?2")
            back.bind(1, id)
            back.bind(2, head)
            back.bind(3, park)
            try back.run()
        }
    }

    /// Appends values at one end of a list (creating it); returns the new length.
    func listPush(_ record: KeyRecord, values: ArraySlice<ByteView>, at end: ListEnd, now: Int64) throws -> Int64 {
        let head = record.count == 0 ? 0 : try listHead(record.id)
        var next = end == .head ? head - 1 : head + record.count
        for value in values {
            try listInsert(record.id, seq: next, value)
            next += end == .head ? -1 : 1
        }
        return try adjustCount(id: record.id, by: Int64(values.count), now: now)
    }
}

// MARK: - Handlers

enum ListCommands {
    // MARK: Push

    static func lpush(_ c: CommandCall) throws { try pushGeneric(c, end: .head, onlyIfExists: false) }
    static func rpush(_ c: CommandCall) throws { try pushGeneric(c, end: .tail, onlyIfExists: false) }
    static func lpushx(_ c: CommandCall) throws { try pushGeneric(c, end: .head, onlyIfExists: true) }
    static func rpushx(_ c: CommandCall) throws { try pushGeneric(c, end: .tail, onlyIfExists: true) }

    /// [L|R]PUSH[X] key element [element ...] → the new length (0 for a missing key with X).
    static func pushGeneric(_ c: CommandCall, end: ListEnd, onlyIfExists: Bool) throws {
        let storage = c.engine.storage
        let now = currentTimeMillis()
        let record: KeyRecord
        if onlyIfExists {
            guard let existing = try storage.collectionForRead(c.args[1], type: .list, now: now) else {
                c.reply.integer(0)
                return
            }
            record = existing
        } else {
            record = try storage.collectionForWrite(c.args[1], type: .list, now: now).record
        }
        let length = try storage.listPush(record, values: c.args[2...], at: end, now: now)
        c.reply.integer(length)
    }

    // MARK: Pop

    static func lpop(_ c: CommandCall) throws { try popGeneric(c, end: .head) }
    static func rpop(_ c: CommandCall) throws { try popGeneric(c, end: .tail) }

    /// [L|R]POP key [count]: without count one element or null; with count an array (empty
    /// for count 0 on an existing list) or a null array for a missing key.
    static func popGeneric(_ c: CommandCall, end: ListEnd) throws {
        guard c.argumentCount <= 3 else { throw CommandError.wrongArity(c.name) }
        var count: Int64? = nil
        if c.argumentCount == 3 {
            guard let value = c.args[2].parseInt64(), value >= 0 else {
                throw CommandError("ERR value is out of range, must be positive")
            }
            count = value
        }
        let storage = c.engine.storage
        let now = currentTimeMillis()
        guard let record = try storage.collectionForRead(c.args[1], type: .list, now: now) else {
            if count != nil { c.reply.nullArray() } else { c.reply.null() }
            return
        }
        if count == 0 {
            c.reply.arrayHeader(0)
            return
        }
        let take = min(count ?? 1, record.count)
        if count != nil { c.reply.arrayHeader(Int(take)) }
        try popElements(c, record, end: end, take: take, now: now)
    }

    /// Replies with `take` elements from one end (as bulks, outer header written by the
    /// caller) and removes them.
    static func popElements(_ c: CommandCall, _ record: KeyRecord, end: ListEnd, take: Int64, now: Int64) throws {
        let storage = c.engine.storage
        let head = try storage.listHead(record.id)
        let tail = head + record.count - 1
        let (from, to) = end == .head ? (head, head + take - 1) : (tail - take + 1, tail)
        let rows = try storage.listRangeStatement(record.id, from: from, to: to, descending: end == .tail)
        while try rows.step() { c.reply.bulk(rows.bytes(0)) }
        rows.reset()
        try storage.listDeleteRange(record.id, from: from, to: to)
        try storage.adjustCount(id: record.id, by: -take, now: now)
    }

    /// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] → [key, [elements]] of the first
    /// non-empty list, or a null array.
    static func lmpop(_ c: CommandCall) throws {
        try lmpop(c, MultiPopArguments(c, numkeysIndex: 1, words: ("left", "right")))
    }

    /// The body of LMPOP and BLMPOP once their arguments are parsed.
    static func lmpop(_ c: CommandCall, _ arguments: MultiPopArguments) throws {
        let storage = c.engine.storage
        let now = currentTimeMillis()
        for key in arguments.keys {
            guard let record = try storage.collectionForRead(key, type: .list, now: now) else { continue }
            let take = min(arguments.count, record.count)
            c.reply.arrayHeader(2)
            c.reply.bulk(key)
            c.reply.arrayHeader(Int(take))
            try popElements(c, record, end: arguments.fromSecondEnd ? .tail : .head, take: take, now: now)
            return
        }
        c.reply.nullArray()
    }

    // MARK: Reads

    /// LLEN key (O(1): the key's count).
    static func llen(_ c: CommandCall) throws {
        let record = try c.engine.storage.collectionForRead(c.args[1], type: .list, now: currentTimeMillis())
        c.reply.integer(record?.count ?? 0)
    }

    /// LRANGE key start stop
    static func lrange(_ c: CommandCall) throws {
        let start = try c.integer(2)
        let stop = try c.integer(3)
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .list, now: currentTimeMillis()),
              let (first, last) = normalizedRange(start: start, end: stop, length: record.count) else {
            c.reply.arrayHeader(0)
            return
        }
        let head = try storage.listHead(record.id)
        let rows = try storage.listRangeStatement(record.id, from: head + first, to: head + last, descending: false)
        c.reply.arrayHeader(Int(last - first + 1))
        while try rows.step() { c.reply.bulk(rows.bytes(0)) }
        rows.reset()
    }

    /// The seq of position `index` (negative from the end), or nil out of range.
    static func seq(of index: Int64, _ record: KeyRecord, storage: Storage) throws -> Int64? {
        let position = index < 0 ? index &+ record.count : index
        guard position >= 0 && position < record.count else { return nil }
        return try storage.listHead(record.id) + position
    }

    /// LINDEX key index (two seeks of the unique index: head, then head + index).
    static func lindex(_ c: CommandCall) throws {
        let index = try c.integer(2)
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .list, now: currentTimeMillis()),
              let seq = try seq(of: index, record, storage: storage) else {
            c.reply.null()
            return
        }
        let statement = try storage.cached(ListSQL.element)
        statement.bind(1, record.id)
        statement.bind(2, seq)
        defer { statement.reset() }
        if try statement.step() { c.reply.bulk(statement.bytes(0)) } else { c.reply.null() }
    }

    /// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
    static func lpos(_ c: CommandCall) throws {
        var rank: Int64 = 1
        var count: Int64? = nil
        var maxlen: Int64 = 0
        var index = 3
        while index < c.argumentCount {
            let option = c.args[index]
            guard index + 1 < c.argumentCount else { throw CommandError.syntax }
            if option.equalsLower("rank") {
                rank = try c.integer(index + 1)
                if rank == 0 {
                    throw CommandError("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
                }
            } else if option.equalsLower("count") {
                guard let value = c.args[index + 1].parseInt64(), value >= 0 else {
                    throw CommandError("ERR COUNT can't be negative")
                }
                count = value
            } else if option.equalsLower("maxlen") {
                guard let value = c.args[index + 1].parseInt64(), value >= 0 else {
                    throw CommandError("ERR MAXLEN can't be negative")
                }
                maxlen = value
            } else {
                throw CommandError.syntax
            }
            index += 2
        }
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .list, now: currentTimeMillis()) else {
            if count != nil { c.reply.arrayHeader(0) } else { c.reply.null() }
            return
        }
        // Redis negates a negative rank; LLONG_MIN stays negative there and then every match
        // qualifies (the first match from the tail).
        let fromTail = rank < 0
        let skip: Int64 = rank == .min ? 0 : abs(rank) - 1
        let head = try storage.listHead(record.id)
        let tail = head + record.count - 1
        let scanned = maxlen == 0 ? record.count : min(maxlen, record.count)
        let (from, to) = fromTail ? (tail - scanned + 1, tail) : (head, head + scanned - 1)
        let statement = fromTail
            ? try storage.cached("SELECT seq FROM redis_lists WHERE key_id = ?1 AND seq BETWEEN ?2 AND ?3 AND value = ?4 ORDER BY seq DESC LIMIT ?5 OFFSET ?6")
            : try storage.cached("SELECT seq FROM redis_lists WHERE key_id = ?1 AND seq BETWEEN ?2 AND ?3 AND value = ?4 ORDER BY seq LIMIT ?5 OFFSET ?6")
        statement.bind(1, record.id)
        statement.bind(2, from)
        statement.bind(3, to)
        statement.bind(4, c.args[2])
        statement.bind(5, count.map { $0 == 0 ? -1 : $0 } ?? 1)
        statement.bind(6, skip)
        defer { statement.reset() }
        var positions: [Int64] = []
        while try statement.step() { positions.append(statement.int64(0) - head) }
        if count != nil {
            c.reply.arrayHeader(positions.count)
            for position in positions { c.reply.integer(position) }
        } else if let position = positions.first {
            c.reply.integer(position)
        } else {
            c.reply.null()
        }
    }

    // MARK: Writes in place

    /// LSET key index element
    static func lset(_ c: CommandCall) throws {
        let index = try c.integer(2)
        let storage = c.engine.storage
        let now = currentTimeMillis()
        guard let record = try storage.collectionForRead(c.args[1], type: .list, now: now) else {
            throw CommandError.noSuchKey
        }
        guard let seq = try seq(of: index, record, storage: storage) else {
            throw CommandError("ERR index out of range")
        }
        try storage.willWrite()
        let statement = try storage.cached("UPDATE redis_lists SET value = ?3 WHERE key_id = ?1 AND seq = ?2")
        statement.bind(1, record.id)
        statement.bind(2, seq)
        statement.bind(3, c.args[3])
        try statement.run()
        try storage.adjustCount(id: record.id, by: 0, now: now)
        c.reply.ok()
    }

    /// LTRIM key start stop: two range deletes at the ends; the rest keeps its seqs.
    static func ltrim(_ c: CommandCall) throws {
        let start = try c.integer(2)
        let stop = try c.integer(3)
        let storage = c.engine.storage
        let now = currentTimeMillis()
        guard let record = try storage.collectionForRead(c.args[1], type: .list, now: now) else {
            c.reply.ok()
            return
        }
        let head = try storage.listHead(record.id)
        let tail = head + record.count - 1
        if let (first, last) = normalizedRange(start: start, end: stop, length: record.count) {
            try storage.listDeleteRange(record.id, from: head, to: head + first - 1)
            try storage.listDeleteRange(record.id, from: head + last + 1, to: tail)
            try storage.adjustCount(id: record.id, by: -(record.count - (last - first + 1)), now: now)
        } else {
            try storage.listDeleteRange(record.id, from: head, to: tail)
            try storage.adjustCount(id: record.id, by: -record.count, now: now)
        }
        c.reply.ok()
    }

    /// LREM key count element: count > 0 from the head, < 0 from the tail, 0 all. The
    /// matches are compared inside SQLite; one range delete, then one compaction.
    static func lrem(_ c: CommandCall) throws {
        let count = try c.integer(2)
        let storage = c.engine.storage
        let now = currentTimeMillis()
        guard let record = try storage.collectionForRead(c.args[1], type: .list, now: now) else {
            c.reply.integer(0)
            return
        }
        let head = try storage.listHead(record.id)
        let tail = head + record.count - 1
        var from = head, to = tail
        if count != 0 {
            // The seq of the |count|-th match bounds the delete.
            let statement = count > 0
                ? try storage.cached("SELECT seq FROM redis_lists WHERE key_id = ?1 AND value = ?2 AND seq >= ?3 ORDER BY seq LIMIT 1 OFFSET ?4")
                : try storage.cached("SELECT seq FROM redis_lists WHERE key_id = ?1 AND value = ?2 AND seq <= ?3 ORDER BY seq DESC LIMIT 1 OFFSET ?4")
            statement.bind(1, record.id)
            statement.bind(2, c.args[3])
            statement.bind(3, count > 0 ? head : tail)
            statement.bind(4, count == .min ? Int64.max : abs(count) - 1)
            defer { statement.reset() }
            if try statement.step() {
                if count > 0 { to = statement.int64(0) } else { from = statement.int64(0) }
            }
            statement.reset()
        }
        try storage.willWrite()
        let delete = try storage.cached("DELETE FROM redis_lists WHERE key_id = ?1 AND seq BETWEEN ?2 AND ?3 AND value = ?4 RETURNING seq")
        delete.bind(1, record.id)
        delete.bind(2, from)
        delete.bind(3, to)
        delete.bind(4, c.args[3])
        var removed: Int64 = 0
        var first = Int64.max, last = Int64.min
        defer { delete.reset() }
        while try delete.step() {
            let seq = delete.int64(0)
            removed += 1
            first = min(first, seq)
            last = max(last, seq)
        }
        delete.reset()
        if removed > 0 {
            if removed < record.count {
                try storage.listCompact(record.id, first: first, last: last, head: head, tail: tail)
            }
            try storage.adjustCount(id: record.id, by: -removed, now: now)
        }
        c.reply.integer(removed)
    }

    /// LINSERT key BEFORE|AFTER pivot element → new length, -1 without the pivot, 0 for a
    /// missing key. The shorter side moves by one to make room.
    static func linsert(_ c: CommandCall) throws {
        let after: Bool
        if c.args[2].equalsLower("after") { after = true }
        else if c.args[2].equalsLower("before") { after = false }
        else { throw CommandError.syntax }
        let storage = c.engine.storage
        let now = currentTimeMillis()
        guard let record = try storage.collectionForRead(c.args[1], type: .list, now: now) else {
            c.reply.integer(0)
            return
        }
        let find = try storage.cached("SELECT seq FROM redis_lists WHERE key_id = ?1 AND value = ?2 ORDER BY seq LIMIT 1")
        find.bind(1, record.id)
        find.bind(2, c.args[3])
        defer { find.reset() }
        guard try find.step() else {
            c.reply.integer(-1)
            return
        }
        let pivot = find.int64(0)
        find.reset()
        let head = try storage.listHead(record.id)
        let tail = head + record.count - 1
        // The new element goes between `left` and `left + 1`.
        let left = after ? pivot : pivot - 1
        let newSeq: Int64
        if left - head + 1 <= tail - left {
            try storage.listShift(record.id, from: head, to: left, by: -1, head: head, tail: tail)
            newSeq = left
        } else {
            try storage.listShift(record.id, from: left + 1, to: tail, by: 1, head: head, tail: tail)
            newSeq = left + 1
        }
        try storage.listInsert(record.id, seq: newSeq, c.args[4])
        c.reply.integer(try storage.adjustCount(id: record.id, by: 1, now: now))
    }

    // MARK: Moves

    /// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
    static func lmove(_ c: CommandCall) throws {
        guard let from = end(c.args[3]), let to = end(c.args[4]) else { throw CommandError.syntax }
        try moveGeneric(c, from: from, to: to)
    }

    /// RPOPLPUSH source destination
    static func rpoplpush(_ c: CommandCall) throws {
        try moveGeneric(c, from: .tail, to: .head)
    }

    static func end(_ word: ByteView) -> ListEnd? {
        if word.equalsLower("left") { return .head }
        if word.equalsLower("right") { return .tail }
        return nil
    }

    /// Pops from one end of the source and pushes at one end of the destination, atomically.
    /// A missing source answers null whatever the destination is; the destination must be a
    /// list or missing. Source = destination rotates the list in place (its TTL stays).
    static func moveGeneric(_ c: CommandCall, from: ListEnd, to: ListEnd) throws {
        let storage = c.engine.storage
        let now = currentTimeMillis()
        guard let source = try storage.collectionForRead(c.args[1], type: .list, now: now) else {
            c.reply.null()
            return
        }
        let sameKey = c.args[1] == c.args[2]
        if !sameKey { _ = try storage.collectionForRead(c.args[2], type: .list, now: now) }
        let head = try storage.listHead(source.id)
        let tail = head + source.count - 1
        let seq = from == .head ? head : tail
        let read = try storage.cached(ListSQL.element)
        read.bind(1, source.id)
        read.bind(2, seq)
        defer { read.reset() }
        guard try read.step() else { throw SQLiteError(code: 1, message: "list element missing") }
        let value = read.bytes(0).array
        read.reset()
        try storage.listDeleteRange(source.id, from: seq, to: seq)
        if sameKey {
            // Without the element the list spans [head + 1, tail] or [head, tail - 1].
            let newSeq: Int64
            if to == .head { newSeq = from == .head ? head : head - 1 }
            else { newSeq = from == .head ? tail + 1 : tail }
            try value.withByteView { try storage.listInsert(source.id, seq: newSeq, $0) }
            try storage.adjustCount(id: source.id, by: 0, now: now)
        } else {
            try storage.adjustCount(id: source.id, by: -1, now: now)
            let destination = try storage.collectionForWrite(c.args[2], type: .list, now: now).record
            _ = try value.withByteView { view in
                try storage.listPush(destination, values: [view][...], at: to, now: now)
            }
        }
        c.reply.bulk(value)
    }
}
