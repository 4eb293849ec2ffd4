// List commands (Redis t_list.c): table entries and handlers.
//
// Storage (spec/schema.md, "Lists"): one row per element in `redis_lists(key_id, seq, value)`
// with UNIQUE(key_id, seq); seqs increase from head to tail, the length is `redis_keys.count`.
// Pushes take `head - 1` or `tail + 1`, pops delete a range at either end: no renumbering.
// A list is dense (`ListSpan.isDense`: element i at `head + i`, so LINDEX/LSET/LRANGE seek
// the unique index) unless an LREM left a gap: LREM renumbers only when at most
// `ListLimits.renumberMaxRows` rows move, because each moved row costs two index updates;
// in a list with gaps, a position is found by counting index entries from the nearer end,
// as Redis walks its own list. LINSERT takes a free seq next to the pivot, else moves the
// shorter side by one; renumbering parks rows beyond the list's ends first, because SQLite
// checks UNIQUE row by row.

import Foundation

let listCommands: [Command] = [
    Command("lpush", arity: -3, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lpush),
            run: (3, { try ListCommands.pushRun($0, $1, end: .head) })),
    Command("rpush", arity: -3, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.rpush),
            run: (3, { try ListCommands.pushRun($0, $1, end: .tail) })),
    Command("lpushx", arity: -3, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lpushx)),
    Command("rpushx", arity: -3, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.rpushx)),
    Command("lpop", arity: -2, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lpop),
            run: (2, { try ListCommands.popRun($0, $1, end: .head) })),
    Command("rpop", arity: -2, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.rpop),
            run: (2, { try ListCommands.popRun($0, $1, end: .tail) })),
    Command("llen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.llen)),
    Command("lrange", arity: 4, flags: [.readonly], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lrange)),
    Command("lindex", arity: 3, flags: [.readonly], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lindex)),
    Command("lset", arity: 4, flags: [.write, .denyOOM, .validatesBeforeWriting], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lset)),
    Command("ltrim", arity: 4, flags: [.write, .validatesBeforeWriting], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.ltrim)),
    Command("lrem", arity: 4, flags: [.write, .validatesBeforeWriting], keys: (1, 1, 1), group: "list", handler: guarded(ListCommands.lrem)),
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

extension SQLiteError {
    /// A list's rows fewer than its key row's count: the file is damaged (built once).
    static let listShorterThanCount = SQLiteError(code: 11 /* SQLITE_CORRUPT */, message: "list shorter than its count")
}

/// The first elements of read-mostly lists, in memory (a `ReadMostlyCache` of the values in
/// order), so that an LRANGE within them (LRANGE key 0 99: a feed's first page) is a copy from
/// memory instead of a read of each element. A list's first `defaultMaxElements` elements (at
/// most `maxWindowBytes`) are read once it has had enough LRANGEs with no write of it between.
enum ListHeads {
    typealias Cache = ReadMostlyCache<[[UInt8]]>
    static let defaultMaxElements = 1_000
    static let maxWindowBytes = 4 * 1024 * 1024
    static let maxBytes = 32 * 1024 * 1024
    /// Per element beyond its bytes: the array header and slot (an estimate).
    static let elementOverheadBytes = 48
}

public enum ListLimits {
    /// LREM closes the gap it leaves by renumbering when at most this many rows move (the
    /// shorter side of a dense list, or a whole list this short); each moved row costs two
    /// index updates, so a longer side keeps its gap and positions count rows from then on.
    public static let renumberMaxRows: Int64 = 32
    /// LRANGE of a dense list first tries to read this many elements or more straight from the
    /// table in rowid order (`ListCommands.lrangeInRowidOrder`); shorter ranges use the index.
    public static let rowidOrderMinElements: Int64 = 4
    /// LRANGE reads a range tail first (when the list's rowids descend) only up to this many
    /// elements: the reply is reordered through a scratch copy of its bytes.
    public static let reversedRangeMaxElements: Int64 = 1_000
    /// The scratch copy of such a reply is kept for the next one up to this size (larger
    /// replies allocate theirs and free it).
    public static let reversedRangeScratchKeepBytes = 1 << 20
}

/// SQL that tests inspect with EXPLAIN QUERY PLAN (the statements the commands run).
enum ListSQL {
    /// The head of a list: the first entry of the key's (key_id, seq) index range (the index
    /// holds the rowid too, so both come from the one seek).
    static let head: StaticString = "SELECT seq, rowid FROM redis_lists WHERE key_id = ?1 ORDER BY seq LIMIT 1"
    /// The tail of a list: the last entry of that range.
    static let tail: StaticString = "SELECT seq, rowid FROM redis_lists WHERE key_id = ?1 ORDER BY seq DESC LIMIT 1"
    /// One element by seq (LINDEX, LSET).
    static let element: StaticString = "SELECT value FROM redis_lists WHERE key_id = ?1 AND seq = ?2"
    /// ?3 elements from seq ?2 towards the tail (LRANGE). A LIMIT rather than an upper bound:
    /// the scan then compares no index entry with a bound (~7% of an LRANGE's instructions).
    static let range: StaticString = "SELECT value FROM redis_lists WHERE key_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3"
    /// ?3 elements from seq ?2 towards the head (LRANGE of a list whose rowids descend from
    /// head to tail, read tail first).
    static let rangeDescending: StaticString = "SELECT value FROM redis_lists WHERE key_id = ?1 AND seq <= ?2 ORDER BY seq DESC LIMIT ?3"
    /// LREM: the first ?3 rows equal to ?2 from the head, or from the tail (-1: all).
    static let removeFromHead: StaticString = """
        DELETE FROM redis_lists WHERE rowid IN (
            SELECT rowid FROM redis_lists WHERE key_id = ?1 AND value = ?2 ORDER BY seq LIMIT ?3) RETURNING seq
        """
    static let removeFromTail: StaticString = """
        DELETE FROM redis_lists WHERE rowid IN (
            SELECT rowid FROM redis_lists WHERE key_id = ?1 AND value = ?2 ORDER BY seq DESC LIMIT ?3) RETURNING seq
        """
    /// Up to ?2 rows of the table from rowid ?1 down, or up (LRANGE of a dense list whose rows
    /// were pushed one after another: see `ListCommands.lrangeInRowidOrder`).
    static let rowsDown: StaticString = "SELECT key_id, seq, value FROM redis_lists WHERE rowid <= ?1 ORDER BY rowid DESC LIMIT ?2"
    static let rowsUp: StaticString = "SELECT key_id, seq, value FROM redis_lists WHERE rowid >= ?1 ORDER BY rowid LIMIT ?2"
    /// The first ?2 rows from the head, or from the tail (pops, LMOVE, LPOS with gaps).
    static let fromHead: StaticString = "SELECT seq, value FROM redis_lists WHERE key_id = ?1 ORDER BY seq LIMIT ?2"
    static let fromTail: StaticString = "SELECT seq, value FROM redis_lists WHERE key_id = ?1 ORDER BY seq DESC LIMIT ?2"
    /// A pop of one element: the head, or tail, row deleted, its seq and value read by the
    /// preupdate hook (`SQLiteConnection.runDeletingOneRow`; the subquery reads only the index).
    static let popHead: StaticString = "DELETE FROM redis_lists WHERE rowid = (SELECT rowid FROM redis_lists WHERE key_id = ?1 ORDER BY seq LIMIT 1)"
    static let popTail: StaticString = "DELETE FROM redis_lists WHERE rowid = (SELECT rowid FROM redis_lists WHERE key_id = ?1 ORDER BY seq DESC LIMIT 1)"
    /// Without the hook: the head, or tail, row with its rowid, then a delete by rowid (one
    /// index seek fewer than a delete by seq).
    static let headRow: StaticString = "SELECT seq, value, rowid FROM redis_lists WHERE key_id = ?1 ORDER BY seq LIMIT 1"
    static let tailRow: StaticString = "SELECT seq, value, rowid FROM redis_lists WHERE key_id = ?1 ORDER BY seq DESC LIMIT 1"
    /// The seq of the row ?2 rows after the head, or before the tail (positions in a list with
    /// gaps: the index entries are counted, the rows are not read).
    static let offsetFromHead: StaticString = "SELECT seq FROM redis_lists WHERE key_id = ?1 ORDER BY seq LIMIT 1 OFFSET ?2"
    static let offsetFromTail: StaticString = "SELECT seq FROM redis_lists WHERE key_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2"
}

/// Where a list's rows lie: the seqs of its first and last rows, and its length
/// (`redis_keys.count`). Dense when there is no gap: element i is at `head + i`.
struct ListSpan {
    let id: Int64
    let head: Int64
    let tail: Int64
    let count: Int64
    /// The rowids of the head and tail rows. Rows get ascending rowids as they are inserted,
    /// so a list built by LPUSH has rowids that descend from head to tail.
    let headRowid: Int64
    let tailRowid: Int64

    var isDense: Bool { tail - head + 1 == count }

    /// Whether reading from the tail towards the head visits rowids in ascending order (the
    /// guess from the two ends). Each value is read from the table by rowid after the index
    /// step, and SQLite moves to the next rowid without a search from the root, so a range
    /// read in that direction costs a quarter less (measured, docs/benchmarks.md).
    var rowidsDescend: Bool { headRowid > tailRowid }
}

/// The head and tail seqs of one list (`Storage.listEnds`), kept by the list writes of the open
/// transaction so that a run of LPUSH or RPUSH to one list (a queue under load) seeks its end
/// once, not once per push. Invariants:
///  1. A known end is the list's end as the database holds it now: `listInsert` and
///     `listDeleteRange` move or forget it; renumbering, LREM's delete, a delete of the key's
///     rows or of its key row (the update hook; a rowid SQLite hands out again starts
///     unknown), FLUSHALL and COPY onto the id forget the list.
///  2. It is only set inside a write transaction, and is cleared when that transaction commits
///     or rolls back and when a command's savepoint rolls back, so no other connection's
///     write and no undone write can make it stale.
///  3. Debug builds check every end taken from it against an index seek.
struct ListEnds {
    let id: Int64
    var head: Int64?
    var tail: Int64?
}

// MARK: - Storage operations on lists

extension Storage {
    /// The seq of a non-empty list's head or tail: from `listEnds` when known (invariant 3:
    /// checked in debug builds), else one index seek, which is then remembered.
    func listEndSeq(_ id: Int64, _ end: ListEnd) throws -> Int64 {
        if let ends = listEnds, ends.id == id, let seq = end == .head ? ends.head : ends.tail {
            assert(seq == (try? listEnd(end == .head ? ListSQL.head : ListSQL.tail, id).seq), "listEnds invariant 1")
            listEndsRemembered += 1
            return seq
        }
        let seq = try listEnd(end == .head ? ListSQL.head : ListSQL.tail, id).seq
        guard connection.inTransaction else { return seq }  // invariant 2
        var ends = listEnds?.id == id ? listEnds! : ListEnds(id: id)
        if end == .head { ends.head = seq } else { ends.tail = seq }
        listEnds = ends
        return seq
    }

    /// Forgets the ends of list `id` (its rows moved in a way `listEnds` does not follow).
    @inline(__always) func forgetListEnds(_ id: Int64) {
        if listEnds?.id == id { listEnds = nil }
    }

    /// The seq and rowid of a list's first or last row; (0, 0) for no rows.
    private func listEnd(_ sql: StaticString, _ id: Int64) throws -> (seq: Int64, rowid: Int64) {
        let statement = try cached(sql)
        statement.bind(1, id)
        defer { statement.reset() }
        guard try statement.step() else { return (0, 0) }
        return (statement.int64(0), statement.int64(1))
    }

    /// Head, tail and length of an existing list: two seeks of the (key_id, seq) index.
    func listSpan(_ record: KeyRecord) throws -> ListSpan {
        assert(record.count > 0, "a list key has at least one element")
        let head = try listEnd(ListSQL.head, record.id), tail = try listEnd(ListSQL.tail, record.id)
        let span = ListSpan(id: record.id, head: head.seq, tail: tail.seq, count: record.count,
                            headRowid: head.rowid, tailRowid: tail.rowid)
        assert(span.tail - span.head + 1 >= span.count, "seqs are unique")
        return span
    }

    /// The seq of element `position` (0 ≤ position < count): `head + position` in a dense
    /// list; with gaps, the index entries are counted from the nearer end (Redis walks its
    /// list from the nearer end too), so at most count / 2 entries are stepped over.
    func listSeq(at position: Int64, in span: ListSpan) throws -> Int64 {
        assert(position >= 0 && position < span.count, "position inside the list")
        if span.isDense { return span.head + position }
        let fromTail = position >= span.count / 2
        let statement = try cached(fromTail ? ListSQL.offsetFromTail : ListSQL.offsetFromHead)
        statement.bind(1, span.id)
        statement.bind(2, fromTail ? span.count - 1 - position : position)
        defer { statement.reset() }
        guard try statement.step() else { throw SQLiteError.listShorterThanCount }
        return statement.int64(0)
    }

    func listInsert(_ id: Int64, seq: Int64, _ value: ByteView) throws {
        try willWrite()
        let statement = try cached("INSERT INTO redis_lists(key_id, seq, value) VALUES (?1, ?2, ?3)")
        statement.bind(1, id)
        statement.writesCollection(id)  // a row of list id only
        statement.bind(2, seq)
        statement.bind(3, value)
        try statement.run()
        if listEnds?.id == id {
            // Invariant 1: a row beyond a known end is the new end.
            if let head = listEnds!.head, seq < head { listEnds!.head = seq }
            if let tail = listEnds!.tail, seq > tail { listEnds!.tail = seq }
        }
    }

    func listDeleteRange(_ id: Int64, from: Int64, to: Int64) throws {
        guard from <= to else { return }
        try willWrite()
        let statement = try cached("DELETE FROM redis_lists WHERE key_id = ?1 AND seq BETWEEN ?2 AND ?3")
        statement.bind(1, id)
        statement.writesCollection(id)  // a row of list id only
        statement.bind(2, from)
        statement.bind(3, to)
        try statement.run()
        listRangeDeleted(id, from: from, to: to)
    }

    /// Pops one element from an end of non-empty list `id`: `body` gets its value, valid during
    /// the call.
    func listPopOne(_ id: Int64, end: ListEnd, _ body: (ByteView) -> Void) throws {
        if listPopsInOneStatement {
            // One statement: an index seek, a table seek and the deletes (measured: half the
            // SQLite work of a read and then a delete).
            try willWrite()
            let pop = try cached(end == .head ? ListSQL.popHead : ListSQL.popTail)
            pop.bind(1, id)
            pop.writesCollection(id)  // a row of list id only
            var seq: Int64 = 0
            let popped = try connection.runDeletingOneRow(pop, integerColumn: 1, bytesColumn: 2) { rowSeq, value in
                seq = rowSeq
                body(value)
            }
            guard popped else { throw SQLiteError.listShorterThanCount }
            listRangeDeleted(id, from: seq, to: seq)
            listPopsOneStatement += 1
            return
        }
        let row = try cached(end == .head ? ListSQL.headRow : ListSQL.tailRow)
        row.bind(1, id)
        defer { row.reset() }
        guard try row.step() else { throw SQLiteError.listShorterThanCount }
        let seq = row.int64(0), rowid = row.int64(2)
        body(row.bytes(1))
        row.reset()
        try willWrite()
        let delete = try cached("DELETE FROM redis_lists WHERE rowid = ?1")
        delete.bind(1, rowid)
        delete.writesCollection(id)  // a row of list id only
        try delete.run()
        listRangeDeleted(id, from: seq, to: seq)
    }

    /// The first elements of list `record` from `ListHeads` when they reach position `last`,
    /// reading them when the list has been asked often enough without a write between; nil:
    /// read the range instead.
    func cachedListHead(_ record: KeyRecord, upTo last: Int64) throws -> [[UInt8]]? {
        guard listHeads.enabled, last < Int64(listHeads.limits.maxElements) else { return nil }
        let head = try listHeads.copy(id: record.id, count: record.count,
                                      generation: { connection.collectionGenerations.watching(record.id, in: .lists) }) {
            let rows = try cached("SELECT value FROM redis_lists WHERE key_id = ?1 ORDER BY seq LIMIT ?2")
            rows.bind(1, record.id)
            rows.bind(2, Int64(listHeads.limits.maxElements))
            defer { rows.reset() }
            var values: [[UInt8]] = []
            values.reserveCapacity(Int(min(record.count, Int64(listHeads.limits.maxElements))))
            var size = 0
            while try rows.step() {
                let value = rows.bytes(0).array
                size += value.count + ListHeads.elementOverheadBytes
                if size > ListHeads.maxWindowBytes { break }
                values.append(value)
            }
            // The first elements of a list that the key row's count (with this turn's pending
            // changes) says is at least that long.
            return !values.isEmpty && Int64(values.count) <= record.count ? (values, size) : nil
        }
        guard let head, last < Int64(head.count) else { return nil }
        return head
    }

    /// `listEnds` after the rows of list `id` with seqs in [from, to] were deleted.
    private func listRangeDeleted(_ id: Int64, from: Int64, to: Int64) {
        if listEnds?.id == id {
            // Invariant 1: a range that reaches an end takes it away (where the new end lies
            // is not known); a range strictly inside leaves both.
            if let head = listEnds!.head, from <= head { listEnds!.head = nil }
            if let tail = listEnds!.tail, to >= tail { listEnds!.tail = nil }
        }
    }

    /// A statement stepping the values with seq in [from, to] in order. The caller steps it
    /// and reads `bytes(0)`; it is tracked, so the views stay valid until the end of the
    /// command or the next use.
    /// The `count` elements whose seqs are `from`...`to` (exactly `count` rows lie there:
    /// the seqs of two positions `count - 1` apart), head first or, `descending`, tail first.
    func listRangeStatement(_ id: Int64, from: Int64, to: Int64, count: Int64, descending: Bool = false) throws -> Statement {
        assert(from <= to && count >= 1 && count <= to - from + 1, "count rows lie in [from, to]")
        let statement = try cached(descending ? ListSQL.rangeDescending : ListSQL.range)
        statement.reset()
        trackUntilEndOfCommand(statement)
        statement.bind(1, id)
        statement.bind(2, descending ? to : from)
        statement.bind(3, count)
        return statement
    }

    /// Adds `delta` to the seq of every element in [from, to]. Rows move first beyond
    /// `freeAbove` (all of which is free) or below `freeBelow`, then to their place, so that
    /// no row ever lands on a seq another row still holds (SQLite checks UNIQUE per row).
    func listShift(_ id: Int64, from: Int64, to: Int64, by delta: Int64, head: Int64, tail: Int64) throws {
        guard from <= to, delta != 0 else { return }
        try willWrite()
        forgetListEnds(id)
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
        forgetListEnds(id)
        if tail - first <= last - head {
            try listRenumber(id, after: first, from: first, tail: tail)
        } else {
            try willWrite()
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

    /// Renumbers the rows with seq above `after` (up to the list's `tail`) to `from`, `from + 1`,
    /// ... in order: each row is first parked above the tail at its target plus an offset, then
    /// moved down to its target. `after: head - 1, from: head` makes a whole list dense.
    func listRenumber(_ id: Int64, after: Int64, from: Int64, tail: Int64) throws {
        try willWrite()
        forgetListEnds(id)
        let park = tail + 1 - from
        let renumber = try cached("""
            UPDATE redis_lists SET seq = r.target FROM (
                SELECT rowid AS rid, ?3 + row_number() OVER (ORDER BY seq) AS target
                FROM redis_lists WHERE key_id = ?1 AND seq > ?2) AS r
            WHERE redis_lists.rowid = r.rid
            """)
        renumber.bind(1, id)
        renumber.bind(2, after)
        renumber.bind(3, from - 1 + park)
        try renumber.run()
        let back = try cached("UPDATE redis_lists SET seq = seq - ?3 WHERE key_id = ?1 AND seq > ?2")
        back.bind(1, id)
        back.bind(2, tail)
        back.bind(3, park)
        try back.run()
    }

    /// Whether a row holds `seq` (one seek).
    func listHasElement(_ id: Int64, seq: Int64) throws -> Bool {
        let statement = try cached(ListSQL.element)
        statement.bind(1, id)
        statement.bind(2, seq)
        defer { statement.reset() }
        return try statement.step()
    }

    /// Appends values at one end of a list (creating it); returns the new length.
    func listPush(_ record: KeyRecord, values: ArraySlice<ByteView>, at end: ListEnd, now: Int64) throws -> Int64 {
        // An empty list starts at seq 0 (RPUSH) or -1 (LPUSH).
        var next: Int64
        if end == .head { next = (record.count == 0 ? 0 : try listEndSeq(record.id, .head)) - 1 }
        else { next = (record.count == 0 ? -1 : try listEndSeq(record.id, .tail)) + 1 }
        for value in values {
            try listInsert(record.id, seq: next, value)
            next += end == .head ? -1 : 1
        }
        return try adjustCount(id: record.id, by: Int64(values.count), now: now, known: record)
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

    /// A pipelined run of `[L|R]PUSH key element`: one push of every element, in order; each
    /// call answers the length right after its own element, as it would alone.
    static func pushRun(_ c: CommandCall, _ run: PipelineRun, end: ListEnd) throws {
        let storage = c.engine.storage
        let now = currentTimeMillis()
        let record = try storage.collectionForWrite(c.args[1], type: .list, now: now).record
        var values: [ByteView] = []
        values.reserveCapacity(run.count)
        for call in 0..<run.count { values.append(run.argument(call, 2)) }
        let length = try storage.listPush(record, values: values[...], at: end, now: now)
        for call in 0..<run.count { c.reply.integer(length - Int64(run.count - 1 - call)) }
    }

    // MARK: Pop

    /// A pipelined run of `[L|R]POP key` (no count): as many elements as calls in one pop,
    /// each call answering its element, and null once the list is empty.
    static func popRun(_ c: CommandCall, _ run: PipelineRun, end: ListEnd) throws {
        let storage = c.engine.storage
        let now = currentTimeMillis()
        let calls = Int64(run.count)
        var take: Int64 = 0
        if let record = try storage.collectionForRead(c.args[1], type: .list, now: now) {
            take = min(calls, record.count)
            try popElements(c, record, end: end, take: take, now: now)
        }
        for _ in take..<calls { c.reply.null() }
    }

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
        if take == 1 {
            let reply = c.reply  // the closure captures the writer, not the whole call
            try storage.listPopOne(record.id, end: end) { reply.bulk($0) }
            try storage.adjustCount(id: record.id, by: -1, now: now, known: record)
            return
        }
        let rows = try storage.cached(end == .head ? ListSQL.fromHead : ListSQL.fromTail)
        rows.bind(1, record.id)
        rows.bind(2, take)
        defer { rows.reset() }
        // The rows read are the seqs between the first and the last one read: one range delete.
        var first: Int64? = nil, last: Int64 = 0, read: Int64 = 0
        while try rows.step() {
            if first == nil { first = rows.int64(0) }
            last = rows.int64(0)
            read += 1
            c.reply.bulk(rows.bytes(1))
        }
        rows.reset()
        guard let first, read == take else { throw SQLiteError.listShorterThanCount }
        try storage.listDeleteRange(record.id, from: min(first, last), to: max(first, last))
        try storage.adjustCount(id: record.id, by: -take, now: now, known: record)
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
        if let head = try storage.cachedListHead(record, upTo: last) {
            c.reply.arrayHeader(Int(last - first + 1))
            for index in Int(first)...Int(last) { c.reply.bulk(head[index]) }
            return
        }
        let span = try storage.listSpan(record)
        let elements = last - first + 1
        if span.isDense && elements >= ListLimits.rowidOrderMinElements,
           try lrangeInRowidOrder(c, span, first: first, elements: elements) {
            return
        }
        // Read in the direction of ascending rowids; a range read tail first is put back in
        // order in the reply buffer (bounded, so the scratch copy stays small).
        let descending = span.rowidsDescend && elements > 1 && elements <= ListLimits.reversedRangeMaxElements
        let rows = try storage.listRangeStatement(record.id, from: try storage.listSeq(at: first, in: span),
                                                  to: try storage.listSeq(at: last, in: span), count: elements,
                                                  descending: descending)
        c.reply.arrayHeader(Int(elements))
        if descending {
            // The scratch array is reused (at most `reversedRangeMaxElements` offsets).
            storage.replySegmentStarts.removeAll(keepingCapacity: true)
            while try rows.step() {
                storage.replySegmentStarts.append(c.reply.buffer.count)
                c.reply.bulk(rows.bytes(0))
            }
            c.reply.buffer.reverseSegments(starts: storage.replySegmentStarts, scratch: &storage.replyScratch)
            if storage.replyScratch.capacity > ListLimits.reversedRangeScratchKeepBytes { storage.replyScratch = [] }
        } else {
            while try rows.step() { c.reply.bulk(rows.bytes(0)) }
        }
        rows.reset()
    }

    /// LRANGE of a dense list whose elements sit in consecutive rows of the table (a list
    /// pushed from one end with no other list's push in between: a queue, a log): the rows
    /// are read in rowid order from where element `first` should be, one table step each,
    /// with no index entry and no table search per element. Every row is checked to be this
    /// list's (`key_id`) and the expected element (`seq` = head + position; (key_id, seq) is
    /// unique, so such a row is that element). At the first row that is not, the reply written
    /// so far is withdrawn and false is returned: the caller reads through the index instead.
    static func lrangeInRowidOrder(_ c: CommandCall, _ span: ListSpan, first: Int64, elements: Int64) throws -> Bool {
        assert(span.isDense && first >= 0 && first + elements <= span.count, "a range inside a dense list")
        // LPUSH gives each new head a higher rowid, so head to tail the rowids descend; RPUSH
        // gives them ascending.
        let down = span.rowidsDescend
        let (start, overflow) = down ? span.headRowid.subtractingReportingOverflow(first)
                                     : span.headRowid.addingReportingOverflow(first)
        guard !overflow else { return false }
        let storage = c.engine.storage
        let rows = try storage.cached(down ? ListSQL.rowsDown : ListSQL.rowsUp)
        rows.bind(1, start)
        rows.bind(2, elements)
        defer { rows.reset() }
        let mark = c.reply.buffer.count
        c.reply.arrayHeader(Int(elements))
        var expectedSeq = span.head + first
        while try rows.step() {
            guard rows.int64(0) == span.id && rows.int64(1) == expectedSeq else { break }
            c.reply.bulk(rows.bytes(2))
            expectedSeq += 1
        }
        if expectedSeq == span.head + first + elements {
            storage.listRangesInRowidOrder += 1
            return true
        }
        c.reply.buffer.truncate(to: mark)
        storage.listRangesOutOfRowidOrder += 1
        return false
    }

    /// The seq of position `index` (negative from the end), or nil out of range.
    static func seq(of index: Int64, _ record: KeyRecord, storage: Storage) throws -> Int64? {
        let position = index < 0 ? index &+ record.count : index
        guard position >= 0 && position < record.count else { return nil }
        return try storage.listSeq(at: position, in: try storage.listSpan(record))
    }

    /// LINDEX key index (dense list: seeks of the unique index for head, tail, head + index).
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
        let span = try storage.listSpan(record)
        let scanned = maxlen == 0 ? record.count : min(maxlen, record.count)
        let limit = count.map { $0 == 0 ? Int64.max : $0 } ?? 1
        let positions = span.isDense
            ? try densePositions(storage, span, c.args[2], fromTail: fromTail, scanned: scanned, skip: skip, limit: limit)
            : try scannedPositions(storage, span, c.args[2], fromTail: fromTail, scanned: scanned, skip: skip, limit: limit)
        if count != nil {
            c.reply.arrayHeader(positions.count)
            for position in positions { c.reply.integer(position) }
        } else if let position = positions.first {
            c.reply.integer(position)
        } else {
            c.reply.null()
        }
    }

    /// LPOS in a dense list: the matches are found inside SQLite, position = seq - head.
    static func densePositions(_ storage: Storage, _ span: ListSpan, _ element: ByteView, fromTail: Bool,
                               scanned: Int64, skip: Int64, limit: Int64) throws -> [Int64] {
        let (from, to) = fromTail ? (span.tail - scanned + 1, span.tail) : (span.head, span.head + scanned - 1)
        let statement = fromTail
            ? try storage.cached("SELECT seq FROM redis_lists WHERE key_id = ?1 AND seq BETWEEN ?2 AND ?3 AND value = ?4 ORDER BY seq DESC LIMIT ?5 OFFSET ?6")
            : try storage.cached("SELECT seq FROM redis_lists WHERE key_id = ?1 AND seq BETWEEN ?2 AND ?3 AND value = ?4 ORDER BY seq LIMIT ?5 OFFSET ?6")
        statement.bind(1, span.id)
        statement.bind(2, from)
        statement.bind(3, to)
        statement.bind(4, element)
        statement.bind(5, limit == .max ? -1 : limit)
        statement.bind(6, skip)
        defer { statement.reset() }
        var positions: [Int64] = []
        while try statement.step() { positions.append(statement.int64(0) - span.head) }
        return positions
    }

    /// LPOS in a list with gaps: the first `scanned` rows from one end are stepped in order
    /// and counted (Redis' own walk), comparing each value here.
    static func scannedPositions(_ storage: Storage, _ span: ListSpan, _ element: ByteView, fromTail: Bool,
                                 scanned: Int64, skip: Int64, limit: Int64) throws -> [Int64] {
        let rows = try storage.cached(fromTail ? ListSQL.fromTail : ListSQL.fromHead)
        rows.bind(1, span.id)
        rows.bind(2, scanned)
        defer { rows.reset() }
        var positions: [Int64] = []
        var index: Int64 = 0, matched: Int64 = 0
        while try rows.step() {
            if rows.bytes(1) == element {
                matched += 1
                if matched > skip {
                    positions.append(fromTail ? span.count - 1 - index : index)
                    if Int64(positions.count) == limit { break }
                }
            }
            index += 1
        }
        return positions
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
        statement.writesCollection(record.id)
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
        let span = try storage.listSpan(record)
        if let (first, last) = normalizedRange(start: start, end: stop, length: record.count) {
            let kept = (from: try storage.listSeq(at: first, in: span), to: try storage.listSeq(at: last, in: span))
            try storage.listDeleteRange(record.id, from: span.head, to: kept.from - 1)
            try storage.listDeleteRange(record.id, from: kept.to + 1, to: span.tail)
            try storage.adjustCount(id: record.id, by: -(record.count - (last - first + 1)), now: now)
        } else {
            try storage.listDeleteRange(record.id, from: span.head, to: span.tail)
            try storage.adjustCount(id: record.id, by: -record.count, now: now)
        }
        c.reply.ok()
    }

    /// LREM key count element: count > 0 from the head, < 0 from the tail, 0 all. The
    /// matches are found and deleted inside SQLite by one statement (one walk from the chosen
    /// end, as Redis walks its list). The gap they leave is closed only when that is cheap: a
    /// dense list whose shorter side has at most `listRenumberMaxRows` rows, or a list left
    /// with at most that many; otherwise positions count rows from then on (`ListSpan`).
    static func lrem(_ c: CommandCall) throws {
        let count = try c.integer(2)
        let storage = c.engine.storage
        let now = currentTimeMillis()
        guard let record = try storage.collectionForRead(c.args[1], type: .list, now: now) else {
            c.reply.integer(0)
            return
        }
        let span = try storage.listSpan(record)
        try storage.willWrite()
        storage.forgetListEnds(record.id)
        let delete = try storage.cached(count >= 0 ? ListSQL.removeFromHead : ListSQL.removeFromTail)
        delete.bind(1, record.id)
        delete.bind(2, c.args[3])
        // LIMIT -1: no limit (count 0, and LLONG_MIN, which Redis also treats as "all").
        delete.bind(3, count == 0 || count == .min ? -1 : abs(count))
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
        guard removed > 0 else {
            c.reply.integer(0)
            return
        }
        let remaining = record.count - removed
        let limit = storage.listRenumberMaxRows
        if remaining > 0 && span.isDense && min(span.tail - first, last - span.head) - (removed - 1) <= limit {
            try storage.listCompact(record.id, first: first, last: last, head: span.head, tail: span.tail)
        } else if remaining > 0 && remaining <= limit {
            try storage.listRenumber(record.id, after: span.head - 1, from: span.head, tail: span.tail)
        }
        try storage.adjustCount(id: record.id, by: -removed, now: now)
        c.reply.integer(removed)
    }

    /// LINSERT key BEFORE|AFTER pivot element → new length, -1 without the pivot, 0 for a
    /// missing key. The new element takes the free seq next to the pivot where the list has a
    /// gap there; otherwise the shorter side moves by one to make room.
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
        let span = try storage.listSpan(record)
        let (head, tail) = (span.head, span.tail)
        // The new element goes between `left` and `left + 1`.
        let left = after ? pivot : pivot - 1
        let newSeq: Int64
        if !span.isDense, try !storage.listHasElement(record.id, seq: after ? pivot + 1 : pivot - 1) {
            newSeq = after ? pivot + 1 : pivot - 1
        } else if left - head + 1 <= tail - left {
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
        let read = try storage.cached(from == .head ? ListSQL.fromHead : ListSQL.fromTail)
        read.bind(1, source.id)
        read.bind(2, Int64(1))
        defer { read.reset() }
        guard try read.step() else { throw SQLiteError.listShorterThanCount }
        let seq = read.int64(0)
        let value = read.bytes(1).array
        read.reset()
        try storage.listDeleteRange(source.id, from: seq, to: seq)
        if sameKey {
            // Back into its own seq when it returns to the same end (or was the only element),
            // else one beyond the other end.
            let newSeq: Int64
            if to == from || source.count == 1 { newSeq = seq }
            else if to == .head { newSeq = try storage.listEndSeq(source.id, .head) - 1 }
            else { newSeq = try storage.listEndSeq(source.id, .tail) + 1 }
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
