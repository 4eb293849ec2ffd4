// Sorted set commands (Redis t_zset.c): table entries and handlers.
//
// Storage (spec/schema.md): `redis_zsets(key_id, member, score)`, WITHOUT ROWID with
// PRIMARY KEY (key_id, member) for member lookups, and the index `redis_zsets_by_score`
// (key_id, score, member) for everything ordered. Scores are REAL (never NaN); members BLOBs,
// compared like memcmp. ZCARD is `redis_keys.count`.

import Foundation

let zsetCommands: [Command] = [
    Command("zadd", arity: -4, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zadd),
            run: (4, ZSetCommands.zaddRun)),
    Command("zincrby", arity: 4, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zincrby)),
    Command("zrem", arity: -3, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zrem)),
    Command("zcard", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zcard)),
    Command("zscore", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zscore)),
    Command("zmscore", arity: -3, flags: [.readonly, .fast], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zmscore)),
    Command("zrank", arity: -3, flags: [.readonly, .fast], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zrank)),
    Command("zrevrank", arity: -3, flags: [.readonly, .fast], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zrevrank)),
    Command("zcount", arity: 4, flags: [.readonly, .fast], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zcount)),
    Command("zlexcount", arity: 4, flags: [.readonly, .fast], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zlexcount)),
    Command("zrange", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zrange)),
    Command("zrangestore", arity: -5, flags: [.write, .denyOOM], keys: (1, 2, 1), group: "sorted_set", handler: guarded(ZSetCommands.zrangestore)),
    Command("zrevrange", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zrevrange)),
    Command("zrangebyscore", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zrangebyscore)),
    Command("zrevrangebyscore", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zrevrangebyscore)),
    Command("zrangebylex", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zrangebylex)),
    Command("zrevrangebylex", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zrevrangebylex)),
    Command("zremrangebyrank", arity: 4, flags: [.write, .validatesBeforeWriting], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zremrangebyrank)),
    Command("zremrangebyscore", arity: 4, flags: [.write, .validatesBeforeWriting], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zremrangebyscore)),
    Command("zremrangebylex", arity: 4, flags: [.write], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zremrangebylex)),
    Command("zpopmin", arity: -2, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zpopmin)),
    Command("zpopmax", arity: -2, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zpopmax)),
    Command("zmpop", arity: -4, flags: [.write], keys: (0, 0, 0), group: "sorted_set", handler: guarded(ZSetCommands.zmpop)),
    Command("zrandmember", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zrandmember)),
    Command("zscan", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zscan)),
    Command("zunionstore", arity: -4, flags: [.write, .denyOOM], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zunionstore)),
    Command("zinterstore", arity: -4, flags: [.write, .denyOOM], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zinterstore)),
    Command("zdiffstore", arity: -4, flags: [.write, .denyOOM], keys: (1, 1, 1), group: "sorted_set", handler: guarded(ZSetCommands.zdiffstore)),
    Command("zunion", arity: -3, flags: [.readonly], keys: (0, 0, 0), group: "sorted_set", handler: guarded(ZSetCommands.zunion)),
    Command("zinter", arity: -3, flags: [.readonly], keys: (0, 0, 0), group: "sorted_set", handler: guarded(ZSetCommands.zinter)),
    Command("zdiff", arity: -3, flags: [.readonly], keys: (0, 0, 0), group: "sorted_set", handler: guarded(ZSetCommands.zdiff)),
    Command("zintercard", arity: -3, flags: [.readonly], keys: (0, 0, 0), group: "sorted_set", handler: guarded(ZSetCommands.zintercard)),
]

/// Read-mostly sorted sets, in memory (a `ReadMostlyCache` of each set's members in
/// (score, member) order with a member → rank map), so that ZRANK and ZREVRANK of such a set
/// are a lookup instead of a count of index entries (O(rank)), and ZRANGE by rank or by score
/// (ZRANGEBYSCORE, ZREVRANGE... and their LIMITs) a binary search and a copy instead of a
/// statement. Reading a set whole costs about as much as 25 rank counts (measured on 100,000
/// members: 43 ms against 1.7 ms), hence the cache's threshold (rank and range queries both
/// count); sets of at most `defaultMaxMembers` (a read of 10,000 members takes about 4 ms of
/// the loop).
enum SortedSetRanks {
    typealias Cache = ReadMostlyCache<SortedSetCopy>
    static let defaultMaxMembers = 10_000
    static let maxSets = Cache.Limits(maxElements: 0).maxSets
    static let initialThreshold = Cache.Limits(maxElements: 0).initialThreshold
    /// Per member beyond its bytes: the dictionary slot, the array header and the ordered
    /// entry (the two share the member's bytes) (an estimate).
    static let memberOverheadBytes = 96
}

/// One read-mostly sorted set: its members in SQLite's (score, member) order, and each
/// member's ascending rank (its index there).
struct SortedSetCopy {
    let ordered: [ScoredMember]
    let rankOf: [[UInt8]: Int64]

    /// The index of the first member whose score is at least `score` (`ordered.count`: none).
    func firstIndex(scoreAtLeast score: Double) -> Int {
        var low = 0, high = ordered.count
        while low < high {
            let middle = (low + high) / 2
            if ordered[middle].score < score { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The members with a score in `range` (inclusive bounds, not empty), in ascending or
    /// descending order, after skipping `offset` (≥ 0), at most `limit` (< 0: all): what
    /// `ZSetSQL.byScore` and its descending twin return.
    func byScore(_ range: ScoreRange, reverse: Bool, offset: Int64, limit: Int64) -> [ScoredMember] {
        let lower = firstIndex(scoreAtLeast: range.low)
        let upper = range.high == .infinity ? ordered.count : firstIndex(scoreAtLeast: range.high.nextUp)
        let available = Int64(upper - lower)
        guard available > offset else { return [] }
        let take = Int(limit < 0 ? available - offset : Swift.min(limit, available - offset))
        if take == 0 { return [] }
        if reverse {
            let top = upper - Int(offset)
            return ordered[(top - take)..<top].reversed()
        }
        let start = lower + Int(offset)
        return Array(ordered[start..<(start + take)])
    }

    /// Ranks `first`...`last` (0 ≤ first ≤ last < count), ascending or from the top.
    func byRank(first: Int64, last: Int64, reverse: Bool) -> [ScoredMember] {
        if reverse {
            let top = ordered.count - Int(first)
            return ordered[(ordered.count - 1 - Int(last))..<top].reversed()
        }
        return Array(ordered[Int(first)...Int(last)])
    }
}

enum ZSetLimits {
    /// ZRANK in a zset larger than this guesses which side of the member is shorter and counts
    /// that side; smaller ones count below the member (cheaper than the two seeks of a guess).
    static let rankGuessMinMembers: Int64 = 64
}

/// SQL that tests inspect with EXPLAIN QUERY PLAN (the statements the commands run).
enum ZSetSQL {
    static let score: StaticString = "SELECT score FROM redis_zsets WHERE key_id = ?1 AND member = ?2"
    static let rank: StaticString = """
        SELECT (SELECT count(*) FROM redis_zsets WHERE key_id = ?1 AND score < ?2)
             + (SELECT count(*) FROM redis_zsets WHERE key_id = ?1 AND score = ?2 AND member < ?3)
        """
    static let revRank: StaticString = """
        SELECT (SELECT count(*) FROM redis_zsets WHERE key_id = ?1 AND score > ?2)
             + (SELECT count(*) FROM redis_zsets WHERE key_id = ?1 AND score = ?2 AND member > ?3)
        """
    /// The smallest and the largest score: two seeks at the ends of the key's score range.
    static let scoreBounds: StaticString = """
        SELECT (SELECT score FROM redis_zsets WHERE key_id = ?1 ORDER BY score LIMIT 1),
               (SELECT score FROM redis_zsets WHERE key_id = ?1 ORDER BY score DESC LIMIT 1)
        """
    static let byScore: StaticString = "SELECT member, score FROM redis_zsets WHERE key_id = ?1 AND score BETWEEN ?2 AND ?3 ORDER BY score, member LIMIT ?4 OFFSET ?5"
    static let byRank: StaticString = "SELECT member, score FROM redis_zsets WHERE key_id = ?1 ORDER BY score, member LIMIT ?2 OFFSET ?3"
}

/// One member with its score, copied out of SQLite.
struct ScoredMember {
    var member: [UInt8]
    var score: Double
}

/// A parsed score interval, as inclusive bounds (an exclusive bound becomes the next double
/// inward), or empty.
struct ScoreRange {
    var low: Double
    var high: Double
    var isEmpty: Bool { low > high }

    /// Redis' zslParseRange: "(" makes a bound exclusive; strtod syntax, inf allowed, NaN not.
    init?(min: ByteView, max: ByteView) {
        guard let (minValue, minExclusive) = ScoreRange.parseBound(min),
              let (maxValue, maxExclusive) = ScoreRange.parseBound(max) else { return nil }
        low = minExclusive ? (minValue == .infinity ? .infinity : minValue.nextUp) : minValue
        high = maxExclusive ? (maxValue == -.infinity ? -.infinity : maxValue.nextDown) : maxValue
        if (minExclusive && minValue == .infinity) || (maxExclusive && maxValue == -.infinity) {
            low = 1; high = 0
        }
    }

    static func parseBound(_ bound: ByteView) -> (Double, Bool)? {
        if bound.count > 0 && bound[0] == UInt8(ascii: "(") {
            guard let value = redisStrtod(bound.slice(1, bound.count)) else { return nil }
            return (value, true)
        }
        guard let value = redisStrtod(bound) else { return nil }
        return (value, false)
    }
}

/// strtod over the whole argument as Redis calls it on a C string: leading whitespace is
/// skipped, the empty string is 0, the text ends at a NUL byte, NaN is refused.
func redisStrtod(_ view: ByteView) -> Double? {
    var text = [CChar]()
    text.reserveCapacity(view.count + 1)
    for i in 0..<view.count {
        if view[i] == 0 { break }
        text.append(CChar(bitPattern: view[i]))
    }
    text.append(0)
    return text.withUnsafeBufferPointer { pointer -> Double? in
        var end: UnsafeMutablePointer<CChar>? = nil
        let value = strtod(pointer.baseAddress!, &end)
        guard let end, end.pointee == 0, !value.isNaN else { return nil }
        return value
    }
}

/// A lexicographic bound of ZRANGEBYLEX and friends.
enum LexBound {
    case minusInfinity, plusInfinity
    case value(ByteView, exclusive: Bool)

    /// Redis' zslParseLexRangeItem: "-", "+", "[x" or "(x".
    init?(_ item: ByteView) {
        guard item.count > 0 else { return nil }
        switch item[0] {
        case UInt8(ascii: "+") where item.count == 1: self = .plusInfinity
        case UInt8(ascii: "-") where item.count == 1: self = .minusInfinity
        case UInt8(ascii: "("): self = .value(item.slice(1, item.count), exclusive: true)
        case UInt8(ascii: "["): self = .value(item.slice(1, item.count), exclusive: false)
        default: return nil
        }
    }
}

/// A lex range as SQL parameters: member >= low AND member <= high AND member IS NOT excluded.
struct LexRange {
    var low: [UInt8]
    var high: [UInt8]
    var excluded: [UInt8]?
    var isEmpty: Bool

    init(min: LexBound, max: LexBound, maxMember: () throws -> [UInt8]) rethrows {
        low = []; high = []; excluded = nil; isEmpty = false
        switch min {
        case .minusInfinity: low = []
        case .plusInfinity: isEmpty = true
        case .value(let value, let exclusive):
            low = value.array
            if exclusive { low.append(0) }  // the next byte string after value
        }
        switch max {
        case .minusInfinity: isEmpty = true
        case .plusInfinity: if !isEmpty { high = try maxMember() }
        case .value(let value, let exclusive):
            high = value.array
            if exclusive { excluded = high }
        }
        if !isEmpty && low.lexicographicallyPrecedes(high) == false && low != high { isEmpty = true }
        if !isEmpty, let excluded, excluded == low { isEmpty = true }
    }

    func bind(_ statement: Statement, from index: Int32) {
        statement.bindCopy(index, low)
        statement.bindCopy(index + 1, high)
        if let excluded { statement.bindCopy(index + 2, excluded) } else { statement.bind(index + 2, nil as Int64?) }
    }
}

// MARK: - Storage operations on sorted sets

extension Storage {
    func zsetScore(_ id: Int64, _ member: ByteView) throws -> Double? {
        let statement = try cached(ZSetSQL.score)
        statement.bind(1, id)
        statement.bind(2, member)
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return statement.double(0)
    }

    /// Adds a member; false (nothing changed) if it is there already.
    @discardableResult
    func zsetInsert(_ id: Int64, _ member: ByteView, _ score: Double) throws -> Bool {
        try willWrite()
        let statement = try cached("INSERT OR IGNORE INTO redis_zsets(key_id, member, score) VALUES (?1, ?2, ?3)")
        statement.bind(1, id)
        statement.writesCollection(id)
        statement.bind(2, member)
        statement.bind(3, score)
        try statement.run()
        return connection.changes > 0
    }

    func zsetUpdate(_ id: Int64, _ member: ByteView, _ score: Double) throws {
        try willWrite()
        let statement = try cached("UPDATE redis_zsets SET score = ?3 WHERE key_id = ?1 AND member = ?2")
        statement.bind(1, id)
        statement.writesCollection(id)
        statement.bind(2, member)
        statement.bind(3, score)
        try statement.run()
    }

    /// What `zsetSetScore` did to a member.
    enum ZSetScoreChange { case added, updated, unchanged }

    /// ZADD's write of one member without NX, GT, LT or INCR, with no read of its score first:
    /// an UPDATE, which changes a member at another score, then, only when it changed nothing
    /// and unless XX (`insert` false), an INSERT that `OR IGNORE` turns into nothing for a member
    /// that exists. A ZADD that updates a member costs one statement instead of a read and a
    /// write (callgrind: 58.3K -> 53.7K instructions per ZADD, XX 53.3K -> 49.0K). NX, GT and LT
    /// read first: for them the write changes nothing for many members, and a read is cheaper
    /// than a write statement that does nothing (measured: NX +6%, GT +1% without the read).
    func zsetSetScore(_ id: Int64, _ member: ByteView, _ score: Double, insert: Bool) throws -> ZSetScoreChange {
        try willWrite()
        if insert && zsetWrites.preferred {
            // A bulk load: the member is likely new (`InsertFirst`).
            if try zsetInsert(id, member, score) { return .added }
            zsetWrites.record(created: false)
            return try zsetUpdateIfChanged(id, member, score) ? .updated : .unchanged
        }
        if try zsetUpdateIfChanged(id, member, score) {
            zsetWrites.record(created: false)
            return .updated
        }
        guard insert else { return .unchanged }
        let added = try zsetInsert(id, member, score)
        zsetWrites.record(created: added)
        return added ? .added : .unchanged
    }

    /// Sets a member's score; false if the member is missing or already has that score.
    private func zsetUpdateIfChanged(_ id: Int64, _ member: ByteView, _ score: Double) throws -> Bool {
        let update = try cached("UPDATE redis_zsets SET score = ?3 WHERE key_id = ?1 AND member = ?2 AND score <> ?3")
        update.bind(1, id)
        update.writesCollection(id)
        update.bind(2, member)
        update.bind(3, score)
        try update.run()
        return connection.changes > 0
    }

    /// The in-memory copy of a read-mostly sorted set (`SortedSetRanks`), read whole when the
    /// set has been asked often enough without a write between; nil: ask SQLite.
    func sortedSetCopy(_ record: KeyRecord) throws -> SortedSetCopy? {
        guard sortedSetRanks.enabled else { return nil }
        return try sortedSetRanks.copy(id: record.id, count: record.count,
                                       generation: { connection.collectionGenerations.watching(record.id, in: .sortedSets) }) {
            let rows = try cached("SELECT member, score FROM redis_zsets WHERE key_id = ?1 ORDER BY score, member")
            rows.bind(1, record.id)
            defer { rows.reset() }
            var ordered: [ScoredMember] = []
            var rankOf: [[UInt8]: Int64] = [:]
            ordered.reserveCapacity(Int(record.count))
            rankOf.reserveCapacity(Int(record.count))
            var size = 0
            while try rows.step() {
                let member = rows.bytes(0).array
                rankOf[member] = Int64(ordered.count)
                ordered.append(ScoredMember(member: member, score: rows.double(1)))
                size += member.count + SortedSetRanks.memberOverheadBytes
                if ordered.count > sortedSetRanks.limits.maxElements { return nil }
            }
            // The count is the key row's (with this turn's pending changes): a set that does
            // not match it is not kept.
            return Int64(ordered.count) == record.count ? (SortedSetCopy(ordered: ordered, rankOf: rankOf), size) : nil
        }
    }

    /// The ascending rank of `member` (present in the set) from the set's in-memory copy; nil:
    /// count it.
    func cachedRank(_ record: KeyRecord, _ member: ByteView) throws -> Int64? {
        try sortedSetCopy(record)?.rankOf[member.array]
    }

    /// Deletes one member; true if it existed.
    func zsetDelete(_ id: Int64, _ member: ByteView) throws -> Bool {
        try willWrite()
        let statement = try cached("DELETE FROM redis_zsets WHERE key_id = ?1 AND member = ?2")
        statement.bind(1, id)
        statement.writesCollection(id)
        statement.bind(2, member)
        try statement.run()
        return connection.changes > 0
    }

    /// Members by rank (positions in score order, or reverse score order), copied. A range in
    /// the far half is read from the other end (OFFSET costs its length).
    func zsetByRank(_ record: KeyRecord, first: Int64, last: Int64, reverse: Bool) throws -> [ScoredMember] {
        let n = record.count
        var readReverse = reverse
        var offset = first
        if first > n / 2 {
            readReverse = !reverse
            offset = n - 1 - last
        }
        let statement = readReverse
            ? try cached("SELECT member, score FROM redis_zsets WHERE key_id = ?1 ORDER BY score DESC, member DESC LIMIT ?2 OFFSET ?3")
            : try cached(ZSetSQL.byRank)
        statement.bind(1, record.id)
        statement.bind(2, last - first + 1)
        statement.bind(3, offset)
        var result = try collect(statement)
        if readReverse != reverse { result.reverse() }
        return result
    }

    func zsetByScore(_ record: KeyRecord, _ range: ScoreRange, reverse: Bool, offset: Int64, limit: Int64) throws -> [ScoredMember] {
        if range.isEmpty || offset < 0 { return [] }
        let statement = reverse
            ? try cached("SELECT member, score FROM redis_zsets WHERE key_id = ?1 AND score BETWEEN ?2 AND ?3 ORDER BY score DESC, member DESC LIMIT ?4 OFFSET ?5")
            : try cached(ZSetSQL.byScore)
        statement.bind(1, record.id)
        statement.bind(2, range.low)
        statement.bind(3, range.high)
        statement.bind(4, limit < 0 ? -1 : limit)
        statement.bind(5, offset)
        return try collect(statement)
    }

    func zsetByLex(_ record: KeyRecord, _ range: LexRange, reverse: Bool, offset: Int64, limit: Int64) throws -> [ScoredMember] {
        if range.isEmpty || offset < 0 { return [] }
        // Lex ranges are meant for zsets whose scores are all equal: then member order is
        // Redis' (score, member) order and the primary key serves it. With mixed scores the
        // members in range come in (score, member) order, as Redis lists them.
        let statement: Statement
        if try zsetScoresAllEqual(record.id) {
            statement = reverse
                ? try cached("SELECT member, score FROM redis_zsets WHERE key_id = ?1 AND member >= ?2 AND member <= ?3 AND member IS NOT ?4 ORDER BY member DESC LIMIT ?5 OFFSET ?6")
                : try cached("SELECT member, score FROM redis_zsets WHERE key_id = ?1 AND member >= ?2 AND member <= ?3 AND member IS NOT ?4 ORDER BY member LIMIT ?5 OFFSET ?6")
        } else {
            statement = reverse
                ? try cached("SELECT member, score FROM redis_zsets WHERE key_id = ?1 AND member >= ?2 AND member <= ?3 AND member IS NOT ?4 ORDER BY score DESC, member DESC LIMIT ?5 OFFSET ?6")
                : try cached("SELECT member, score FROM redis_zsets WHERE key_id = ?1 AND member >= ?2 AND member <= ?3 AND member IS NOT ?4 ORDER BY score, member LIMIT ?5 OFFSET ?6")
        }
        statement.bind(1, record.id)
        range.bind(statement, from: 2)
        statement.bind(5, limit < 0 ? -1 : limit)
        statement.bind(6, offset)
        return try collect(statement)
    }

    /// The smallest and the largest score (two seeks of the score index), nil for no members.
    func zsetScoreBounds(_ id: Int64) throws -> (lowest: Double, highest: Double)? {
        let statement = try cached(ZSetSQL.scoreBounds)
        statement.bind(1, id)
        defer { statement.reset() }
        guard try statement.step(), !statement.isNull(0) else { return nil }
        return (statement.double(0), statement.double(1))
    }

    /// Whether a score probably lies in the upper half of the zset's members: above the middle
    /// of the smallest and largest score (a guess that is exact for evenly spread scores; it
    /// only decides which side ZRANK counts). The largest and smallest scores themselves are
    /// at their ends whatever the spread.
    func zsetNearerTop(_ id: Int64, score: Double) throws -> Bool {
        guard let (lowest, highest) = try zsetScoreBounds(id) else { return false }
        if score == highest && score != lowest { return true }
        if score == lowest || !lowest.isFinite || !highest.isFinite { return false }
        return score - lowest > (highest - lowest) / 2
    }

    /// True if the lowest and the highest score are equal.
    func zsetScoresAllEqual(_ id: Int64) throws -> Bool {
        guard let (lowest, highest) = try zsetScoreBounds(id) else { return false }
        return lowest == highest
    }

    /// The largest member of a zset (the last entry of its primary-key range).
    func zsetMaxMember(_ id: Int64) throws -> [UInt8] {
        let statement = try cached("SELECT member FROM redis_zsets WHERE key_id = ?1 ORDER BY member DESC LIMIT 1")
        statement.bind(1, id)
        defer { statement.reset() }
        guard try statement.step() else { return [] }
        return statement.bytes(0).array
    }

    func zsetMinMember(_ id: Int64) throws -> [UInt8] {
        let statement = try cached("SELECT member FROM redis_zsets WHERE key_id = ?1 ORDER BY member LIMIT 1")
        statement.bind(1, id)
        defer { statement.reset() }
        guard try statement.step() else { return [] }
        return statement.bytes(0).array
    }

    /// Every member and score, in score order.
    func zsetAll(_ id: Int64) throws -> [ScoredMember] {
        let statement = try cached("SELECT member, score FROM redis_zsets WHERE key_id = ?1 ORDER BY score, member")
        statement.bind(1, id)
        return try collect(statement)
    }

    /// Every member of a set key (score 1), for ZUNION & co.
    func setMembersAsScored(_ id: Int64) throws -> [ScoredMember] {
        let statement = try cached("SELECT member FROM redis_sets WHERE key_id = ?1")
        statement.bind(1, id)
        defer { statement.reset() }
        var result: [ScoredMember] = []
        while try statement.step() { result.append(ScoredMember(member: statement.bytes(0).array, score: 1)) }
        return result
    }

    /// Steps a (member, score) statement to the end, copying, and resets it.
    func collect(_ statement: Statement) throws -> [ScoredMember] {
        defer { statement.reset() }
        var result: [ScoredMember] = []
        while try statement.step() {
            result.append(ScoredMember(member: statement.bytes(0).array, score: statement.double(1)))
        }
        return result
    }

    /// Deletes the given members (all present) and adjusts the count.
    func zsetDeleteMembers(_ record: KeyRecord, _ members: [ScoredMember], now: Int64) throws {
        guard !members.isEmpty else { return }
        for item in members {
            _ = try item.member.withByteView { try zsetDelete(record.id, $0) }
        }
        try adjustCount(id: record.id, by: -Int64(members.count), now: now, known: record)
    }

    /// Replaces `key` with a zset holding `members` (deletes it when empty). Returns the size.
    func zsetStore(_ key: ByteView, _ members: [ScoredMember], now: Int64) throws -> Int64 {
        try deleteKey(key)
        guard !members.isEmpty else { return 0 }
        let record = try collectionForWrite(key, type: .zset, now: now).record
        for item in members {
            let added = try item.member.withByteView { try zsetInsert(record.id, $0, item.score) }
            assert(added, "the members to store are distinct")
        }
        return try adjustCount(id: record.id, by: Int64(members.count), now: now, known: record)
    }
}

// MARK: - Handlers

enum ZSetCommands {
    static let nanError = CommandError("ERR resulting score is not a number (NaN)")
    static let notFloatRange = CommandError("ERR min or max is not a float")
    static let notLexRange = CommandError("ERR min or max not valid string range item")

    // MARK: Replies

    static func replyMembers(_ c: CommandCall, _ items: [ScoredMember], withScores: Bool) {
        if withScores && c.reply.resp3 {
            c.reply.arrayHeader(items.count)
            for item in items {
                c.reply.arrayHeader(2)
                c.reply.bulk(item.member)
                c.reply.double(item.score)
            }
        } else if withScores {
            c.reply.arrayHeader(items.count * 2)
            for item in items {
                c.reply.bulk(item.member)
                c.reply.double(item.score)
            }
        } else {
            c.reply.arrayHeader(items.count)
            for item in items { c.reply.bulk(item.member) }
        }
    }

    /// Nested [member, score] pairs (ZMPOP, RESP3 ZPOPMIN with count).
    static func replyPairs(_ c: CommandCall, _ items: [ScoredMember]) {
        c.reply.arrayHeader(items.count)
        for item in items {
            c.reply.arrayHeader(2)
            c.reply.bulk(item.member)
            c.reply.double(item.score)
        }
    }

    static func parseScore(_ view: ByteView) throws -> Double {
        guard let value = view.parseDouble() else { throw CommandError.notFloat }
        return value
    }

    // MARK: ZADD, ZINCRBY, ZREM

    /// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
    static func zadd(_ c: CommandCall) throws { try zaddGeneric(c, incrOnly: false) }

    /// A pipelined run of `ZADD key score member` (no options): each call answers 1 if its
    /// member was new. Every score is checked before the first write (an option word such as
    /// NX is not a score: such a run runs call by call).
    static func zaddRun(_ c: CommandCall, _ run: PipelineRun) throws {
        var scores: [Double] = []
        scores.reserveCapacity(run.count)
        for call in 0..<run.count { scores.append(try parseScore(run.argument(call, 2))) }
        let storage = c.engine.storage
        let now = currentTimeMillis()
        let record = try storage.collectionForWrite(c.args[1], type: .zset, now: now).record
        var added: Int64 = 0, updated: Int64 = 0
        for call in 0..<run.count {
            switch try storage.zsetSetScore(record.id, run.argument(call, 3), scores[call], insert: true) {
            case .added:
                added += 1
                c.reply.integer(1)
            case .updated:
                updated += 1
                c.reply.integer(0)
            case .unchanged:
                c.reply.integer(0)
            }
        }
        if added > 0 || updated > 0 || record.count == 0 {
            try storage.adjustCount(id: record.id, by: added, now: now, known: record)
        }
    }

    /// ZINCRBY key increment member
    static func zincrby(_ c: CommandCall) throws { try zaddGeneric(c, incrOnly: true) }

    static func zaddGeneric(_ c: CommandCall, incrOnly: Bool) throws {
        var nx = false, xx = false, gt = false, lt = false, ch = false, incr = incrOnly
        var scoreIndex = 2
        if !incrOnly {
            while scoreIndex < c.argumentCount {
                let option = c.args[scoreIndex]
                if option.equalsLower("nx") { nx = true }
                else if option.equalsLower("xx") { xx = true }
                else if option.equalsLower("ch") { ch = true }
                else if option.equalsLower("incr") { incr = true }
                else if option.equalsLower("gt") { gt = true }
                else if option.equalsLower("lt") { lt = true }
                else { break }
                scoreIndex += 1
            }
        }
        let elements = c.argumentCount - scoreIndex
        if elements % 2 != 0 || elements == 0 { throw CommandError.syntax }
        let pairs = elements / 2
        if nx && xx { throw CommandError("ERR XX and NX options at the same time are not compatible") }
        if (gt && nx) || (lt && nx) || (gt && lt) {
            throw CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
        }
        if incr && pairs > 1 { throw CommandError("ERR INCR option supports a single increment-element pair") }
        var scores: [Double] = []
        scores.reserveCapacity(pairs)
        for j in 0..<pairs { scores.append(try parseScore(c.args[scoreIndex + j * 2])) }

        let storage = c.engine.storage
        let now = currentTimeMillis()
        let key = c.args[1]
        var record = try storage.collectionForRead(key, type: .zset, now: now, recordAbsent: xx)  // XX creates nothing
        if record == nil {
            if xx {
                if incr { c.reply.null() } else { c.reply.integer(0) }
                return
            }
            record = try storage.collectionForWrite(key, type: .zset, now: now).record
        }
        let id = record!.id
        var added: Int64 = 0, updated: Int64 = 0, processed = 0
        var lastScore = 0.0
        for j in 0..<pairs {
            var score = scores[j]
            let member = c.args[scoreIndex + 1 + j * 2]
            if !incr && !nx && !gt && !lt {
                switch try storage.zsetSetScore(id, member, score, insert: !xx) {
                case .added: added += 1
                case .updated: updated += 1
                case .unchanged: break
                }
            } else if let current = try storage.zsetScore(id, member) {
                if nx { continue }
                if incr {
                    score += current
                    if score.isNaN { throw nanError }
                }
                if (lt && score >= current) || (gt && score <= current) { continue }
                lastScore = score
                processed += 1
                if score != current {
                    try storage.zsetUpdate(id, member, score)
                    updated += 1
                }
            } else if !xx {
                let inserted = try storage.zsetInsert(id, member, score)
                assert(inserted, "the member read as missing")
                added += 1
                processed += 1
                lastScore = score
            }
        }
        if added > 0 || updated > 0 || record!.count == 0 {
            try storage.adjustCount(id: id, by: added, now: now, known: record!)
        }
        if incr {
            if processed > 0 { c.reply.double(lastScore) } else { c.reply.null() }
        } else {
            c.reply.integer(ch ? added + updated : added)
        }
    }

    /// ZREM key member [member ...]
    static func zrem(_ c: CommandCall) throws {
        let storage = c.engine.storage
        let now = currentTimeMillis()
        guard let record = try storage.collectionForRead(c.args[1], type: .zset, now: now) else {
            c.reply.integer(0)
            return
        }
        var removed: Int64 = 0
        for index in 2..<c.argumentCount where try storage.zsetDelete(record.id, c.args[index]) {
            removed += 1
        }
        if removed > 0 { try storage.adjustCount(id: record.id, by: -removed, now: now, known: record) }
        c.reply.integer(removed)
    }

    // MARK: Point reads

    /// ZCARD key
    static func zcard(_ c: CommandCall) throws {
        let record = try c.engine.storage.collectionForRead(c.args[1], type: .zset, now: currentTimeMillis())
        c.reply.integer(record?.count ?? 0)
    }

    /// ZSCORE key member
    static func zscore(_ c: CommandCall) throws {
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .zset, now: currentTimeMillis()),
              let score = try storage.zsetScore(record.id, c.args[2]) else {
            c.reply.null()
            return
        }
        c.reply.double(score)
    }

    /// ZMSCORE key member [member ...]
    static func zmscore(_ c: CommandCall) throws {
        let storage = c.engine.storage
        let record = try storage.collectionForRead(c.args[1], type: .zset, now: currentTimeMillis())
        var scores: [Double?] = []
        for index in 2..<c.argumentCount {
            scores.append(try record.flatMap { try storage.zsetScore($0.id, c.args[index]) })
        }
        c.reply.arrayHeader(scores.count)
        for score in scores {
            if let score { c.reply.double(score) } else { c.reply.null() }
        }
    }

    static func zrank(_ c: CommandCall) throws { try rankGeneric(c, reverse: false) }
    static func zrevrank(_ c: CommandCall) throws { try rankGeneric(c, reverse: true) }

    /// Z[REV]RANK key member [WITHSCORE]: the number of entries before the member in the
    /// (key_id, score, member) index, counted over two index ranges (scores below, then
    /// equal scores with smaller members): no row is read, only index entries are counted.
    /// In a zset of more than `ZSetLimits.rankGuessMinMembers`, the entries on the side the
    /// member is probably nearer are counted (rank = count - 1 - entries above), guessed from
    /// where its score lies between the smallest and largest score (two more seeks).
    static func rankGeneric(_ c: CommandCall, reverse: Bool) throws {
        guard c.argumentCount <= 4 else { throw CommandError.wrongArity(c.name) }
        var withScore = false
        if c.argumentCount == 4 {
            guard c.args[3].equalsLower("withscore") else { throw CommandError.syntax }
            withScore = true
        }
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .zset, now: currentTimeMillis()),
              let score = try storage.zsetScore(record.id, c.args[2]) else {
            if withScore { c.reply.nullArray() } else { c.reply.null() }
            return
        }
        if let ascending = try storage.cachedRank(record, c.args[2]) {
            replyRank(c, reverse ? record.count - 1 - ascending : ascending, score: score, withScore: withScore)
            return
        }
        let countAbove = record.count > ZSetLimits.rankGuessMinMembers
            ? try storage.zsetNearerTop(record.id, score: score)
            : reverse
        let statement = try storage.cached(countAbove ? ZSetSQL.revRank : ZSetSQL.rank)
        statement.bind(1, record.id)
        statement.bind(2, score)
        statement.bind(3, c.args[2])
        defer { statement.reset() }
        guard try statement.step() else { throw SQLiteError(code: 1, message: "rank query returned no row") }
        let counted = statement.int64(0)
        statement.reset()
        replyRank(c, countAbove == reverse ? counted : record.count - 1 - counted, score: score, withScore: withScore)
    }

    private static func replyRank(_ c: CommandCall, _ rank: Int64, score: Double, withScore: Bool) {
        if withScore {
            c.reply.arrayHeader(2)
            c.reply.integer(rank)
            c.reply.double(score)
        } else {
            c.reply.integer(rank)
        }
    }

    /// ZCOUNT key min max
    static func zcount(_ c: CommandCall) throws {
        guard let range = ScoreRange(min: c.args[2], max: c.args[3]) else { throw notFloatRange }
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .zset, now: currentTimeMillis()),
              !range.isEmpty else {
            c.reply.integer(0)
            return
        }
        let statement = try storage.cached("SELECT count(*) FROM redis_zsets WHERE key_id = ?1 AND score BETWEEN ?2 AND ?3")
        statement.bind(1, record.id)
        statement.bind(2, range.low)
        statement.bind(3, range.high)
        defer { statement.reset() }
        _ = try statement.step()
        c.reply.integer(statement.int64(0))
    }

    /// ZLEXCOUNT key min max
    static func zlexcount(_ c: CommandCall) throws {
        guard let min = LexBound(c.args[2]), let max = LexBound(c.args[3]) else { throw notLexRange }
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .zset, now: currentTimeMillis()) else {
            c.reply.integer(0)
            return
        }
        let range = try LexRange(min: min, max: max) { try storage.zsetMaxMember(record.id) }
        if range.isEmpty {
            c.reply.integer(0)
            return
        }
        let statement = try storage.cached("SELECT count(*) FROM redis_zsets WHERE key_id = ?1 AND member >= ?2 AND member <= ?3 AND member IS NOT ?4")
        statement.bind(1, record.id)
        range.bind(statement, from: 2)
        defer { statement.reset() }
        _ = try statement.step()
        c.reply.integer(statement.int64(0))
    }

    // MARK: Ranges

    enum RangeType { case auto, rank, score, lex }

    struct RangeRequest {
        var type = RangeType.auto
        var reverse = false
        var withScores = false
        var offset: Int64 = 0
        var limit: Int64 = -1
    }

    static func zrange(_ c: CommandCall) throws { try rangeGeneric(c, store: false, fixedType: .auto, fixedReverse: nil) }
    static func zrangestore(_ c: CommandCall) throws { try rangeGeneric(c, store: true, fixedType: .auto, fixedReverse: nil) }
    static func zrevrange(_ c: CommandCall) throws { try rangeGeneric(c, store: false, fixedType: .rank, fixedReverse: true) }
    static func zrangebyscore(_ c: CommandCall) throws { try rangeGeneric(c, store: false, fixedType: .score, fixedReverse: false) }
    static func zrevrangebyscore(_ c: CommandCall) throws { try rangeGeneric(c, store: false, fixedType: .score, fixedReverse: true) }
    static func zrangebylex(_ c: CommandCall) throws { try rangeGeneric(c, store: false, fixedType: .lex, fixedReverse: false) }
    static func zrevrangebylex(_ c: CommandCall) throws { try rangeGeneric(c, store: false, fixedType: .lex, fixedReverse: true) }

    /// Redis' zrangeGenericCommand: every ZRANGE form, with its option parsing and checks in
    /// Redis' order.
    static func rangeGeneric(_ c: CommandCall, store: Bool, fixedType: RangeType, fixedReverse: Bool?) throws {
        let argStart = store ? 2 : 1
        let keyIndex = argStart
        var minIndex = argStart + 1, maxIndex = argStart + 2
        var request = RangeRequest()
        if let fixedReverse { request.reverse = fixedReverse }
        request.type = fixedType
        var index = argStart + 3
        while index < c.argumentCount {
            let option = c.args[index]
            let left = c.argumentCount - index - 1
            if !store && option.equalsLower("withscores") {
                request.withScores = true
            } else if option.equalsLower("limit") && left >= 2 {
                request.offset = try c.integer(index + 1)
                request.limit = try c.integer(index + 2)
                index += 2
            } else if fixedReverse == nil && !request.reverse && option.equalsLower("rev") {
                request.reverse = true
            } else if fixedType == .auto && request.type == .auto && option.equalsLower("bylex") {
                request.type = .lex
            } else if fixedType == .auto && request.type == .auto && option.equalsLower("byscore") {
                request.type = .score
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        if request.type == .auto { request.type = .rank }
        if request.limit != -1 && request.type == .rank {
            throw CommandError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
        }
        if request.withScores && request.type == .lex {
            throw CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        }
        if request.reverse && (request.type == .score || request.type == .lex) { swap(&minIndex, &maxIndex) }

        var start: Int64 = 0, end: Int64 = 0
        var scoreRange: ScoreRange? = nil
        var lexBounds: (LexBound, LexBound)? = nil
        switch request.type {
        case .rank, .auto:
            start = try c.integer(minIndex)
            end = try c.integer(maxIndex)
        case .score:
            guard let range = ScoreRange(min: c.args[minIndex], max: c.args[maxIndex]) else { throw notFloatRange }
            scoreRange = range
        case .lex:
            guard let min = LexBound(c.args[minIndex]), let max = LexBound(c.args[maxIndex]) else { throw notLexRange }
            lexBounds = (min, max)
        }

        let storage = c.engine.storage
        let now = currentTimeMillis()
        var items: [ScoredMember] = []
        if let record = try storage.collectionForRead(c.args[keyIndex], type: .zset, now: now) {
            switch request.type {
            case .rank, .auto:
                if let (first, last) = normalizedRange(start: start, end: end, length: record.count) {
                    if let copy = try storage.sortedSetCopy(record) {
                        items = copy.byRank(first: first, last: last, reverse: request.reverse)
                    } else {
                        items = try storage.zsetByRank(record, first: first, last: last, reverse: request.reverse)
                    }
                }
            case .score:
                let range = scoreRange!
                if !range.isEmpty && request.offset >= 0, let copy = try storage.sortedSetCopy(record) {
                    items = copy.byScore(range, reverse: request.reverse, offset: request.offset, limit: request.limit)
                } else {
                    items = try storage.zsetByScore(record, range, reverse: request.reverse,
                                                    offset: request.offset, limit: request.limit)
                }
            case .lex:
                let range = try LexRange(min: lexBounds!.0, max: lexBounds!.1) { try storage.zsetMaxMember(record.id) }
                items = try storage.zsetByLex(record, range, reverse: request.reverse,
                                              offset: request.offset, limit: request.limit)
            }
        }
        if store {
            c.reply.integer(try storage.zsetStore(c.args[1], items, now: now))
        } else {
            replyMembers(c, items, withScores: request.withScores)
        }
    }

    // MARK: Removal by range

    /// ZREMRANGEBYRANK key start stop
    static func zremrangebyrank(_ c: CommandCall) throws {
        let start = try c.integer(2)
        let stop = try c.integer(3)
        let storage = c.engine.storage
        let now = currentTimeMillis()
        guard let record = try storage.collectionForRead(c.args[1], type: .zset, now: now),
              let (first, last) = normalizedRange(start: start, end: stop, length: record.count) else {
            c.reply.integer(0)
            return
        }
        let items = try storage.zsetByRank(record, first: first, last: last, reverse: false)
        try storage.zsetDeleteMembers(record, items, now: now)
        c.reply.integer(items.count)
    }

    /// ZREMRANGEBYSCORE key min max: one range delete over the score index.
    static func zremrangebyscore(_ c: CommandCall) throws {
        guard let range = ScoreRange(min: c.args[2], max: c.args[3]) else { throw notFloatRange }
        let storage = c.engine.storage
        let now = currentTimeMillis()
        guard let record = try storage.collectionForRead(c.args[1], type: .zset, now: now), !range.isEmpty else {
            c.reply.integer(0)
            return
        }
        try storage.willWrite()
        let statement = try storage.cached("DELETE FROM redis_zsets WHERE key_id = ?1 AND score BETWEEN ?2 AND ?3")
        statement.bind(1, record.id)
        statement.bind(2, range.low)
        statement.bind(3, range.high)
        try statement.run()
        let removed = Int64(storage.connection.changes)
        if removed > 0 { try storage.adjustCount(id: record.id, by: -removed, now: now, known: record) }
        c.reply.integer(removed)
    }

    /// ZREMRANGEBYLEX key min max: one range delete over the primary key.
    static func zremrangebylex(_ c: CommandCall) throws {
        guard let min = LexBound(c.args[2]), let max = LexBound(c.args[3]) else { throw notLexRange }
        let storage = c.engine.storage
        let now = currentTimeMillis()
        guard let record = try storage.collectionForRead(c.args[1], type: .zset, now: now) else {
            c.reply.integer(0)
            return
        }
        let range = try LexRange(min: min, max: max) { try storage.zsetMaxMember(record.id) }
        if range.isEmpty {
            c.reply.integer(0)
            return
        }
        try storage.willWrite()
        let statement = try storage.cached("DELETE FROM redis_zsets WHERE key_id = ?1 AND member >= ?2 AND member <= ?3 AND member IS NOT ?4")
        statement.bind(1, record.id)
        range.bind(statement, from: 2)
        try statement.run()
        let removed = Int64(storage.connection.changes)
        if removed > 0 { try storage.adjustCount(id: record.id, by: -removed, now: now, known: record) }
        c.reply.integer(removed)
    }

    // MARK: Pops

    static func zpopmin(_ c: CommandCall) throws { try popGeneric(c, max: false) }
    static func zpopmax(_ c: CommandCall) throws { try popGeneric(c, max: true) }

    /// ZPOPMIN|ZPOPMAX key [count]: a flat [member, score, ...] array (RESP3 with a count:
    /// [member, score] pairs); empty for a missing key.
    static func popGeneric(_ c: CommandCall, max: Bool) throws {
        guard c.argumentCount <= 3 else { throw CommandError.syntax }
        var count: Int64 = -1
        if c.argumentCount == 3 {
            guard let value = c.args[2].parseInt64(), value >= 0 else {
                throw CommandError("ERR value is out of range, must be positive")
            }
            count = value
        }
        let storage = c.engine.storage
        let now = currentTimeMillis()
        guard count != 0, let record = try storage.collectionForRead(c.args[1], type: .zset, now: now) else {
            c.reply.arrayHeader(0)
            return
        }
        let take = Swift.min(count == -1 ? 1 : count, record.count)
        let items = try storage.zsetByRank(record, first: 0, last: take - 1, reverse: max)
        try storage.zsetDeleteMembers(record, items, now: now)
        if c.reply.resp3 && count != -1 {
            replyPairs(c, items)
        } else {
            // Flat [member, score, ...] (RESP3 too when no count was given, as Redis).
            c.reply.arrayHeader(items.count * 2)
            for item in items {
                c.reply.bulk(item.member)
                c.reply.double(item.score)
            }
        }
    }

    /// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count] → [key, [[member, score], ...]] of the
    /// first non-empty zset, or a null array.
    static func zmpop(_ c: CommandCall) throws {
        try zmpop(c, MultiPopArguments(c, numkeysIndex: 1, words: ("min", "max")))
    }

    /// The body of ZMPOP and BZMPOP once their arguments are parsed.
    static func zmpop(_ c: CommandCall, _ arguments: MultiPopArguments) throws {
        let storage = c.engine.storage
        let now = currentTimeMillis()
        for key in arguments.keys {
            guard let record = try storage.collectionForRead(key, type: .zset, now: now) else { continue }
            let take = Swift.min(arguments.count, record.count)
            let items = try storage.zsetByRank(record, first: 0, last: take - 1, reverse: arguments.fromSecondEnd)
            try storage.zsetDeleteMembers(record, items, now: now)
            c.reply.arrayHeader(2)
            c.reply.bulk(key)
            replyPairs(c, items)
            return
        }
        c.reply.nullArray()
    }

    // MARK: Random members and scanning

    /// ZRANDMEMBER key [count [WITHSCORES]]
    static func zrandmember(_ c: CommandCall) throws {
        guard c.argumentCount <= 4 else { throw CommandError.syntax }
        var count: Int64? = nil
        var withScores = false
        if c.argumentCount >= 3 {
            let value = try c.integer(2)
            if c.argumentCount == 4 {
                guard c.args[3].equalsLower("withscores") else { throw CommandError.syntax }
                withScores = true
                if value < -Int64.max / 2 || value > Int64.max / 2 { throw CommandError("ERR value is out of range") }
            } else if value == .min {
                throw CommandError("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
            }
            count = value
        }
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .zset, now: currentTimeMillis()) else {
            if count == nil { c.reply.null() } else { c.reply.arrayHeader(0) }
            return
        }
        guard let count else {
            let item = try randomMembers(storage, record, count: 1, distinct: true)[0]
            c.reply.bulk(item.member)
            return
        }
        if count == 0 {
            c.reply.arrayHeader(0)
            return
        }
        let items = try randomMembers(storage, record, count: count < 0 ? -count : count, distinct: count > 0)
        replyMembers(c, items, withScores: withScores)
    }

    /// Zsets up to this size are sampled exactly (all rows read); larger ones by probing.
    static let exactSampleLimit: Int64 = 4096

    /// `count` random entries; distinct ones (at most the whole zset) or with repeats.
    /// Small zsets, and requests for a large share of a zset, are sampled uniformly from all
    /// rows; otherwise each pick seeks a random point of the member space between the
    /// smallest and largest member (O(log n) per pick, not exactly uniform: documented).
    static func randomMembers(_ storage: Storage, _ record: KeyRecord, count: Int64, distinct: Bool) throws -> [ScoredMember] {
        let n = record.count
        if distinct && count >= n { return try storage.zsetAll(record.id) }
        if n <= exactSampleLimit || (distinct && count * 4 >= n) {
            let all = try storage.zsetAll(record.id)
            if distinct {
                var indices = Array(0..<all.count)
                var result: [ScoredMember] = []
                for i in 0..<Int(count) {
                    let j = Int.random(in: i..<indices.count)
                    indices.swapAt(i, j)
                    result.append(all[indices[i]])
                }
                return result
            }
            return (0..<count).map { _ in all[Int.random(in: 0..<all.count)] }
        }
        let low = try storage.zsetMinMember(record.id)
        let high = try storage.zsetMaxMember(record.id)
        let probe = try storage.cached("SELECT member, score FROM redis_zsets WHERE key_id = ?1 AND member >= ?2 ORDER BY member LIMIT 1")
        var result: [ScoredMember] = []
        var seen = Set<[UInt8]>()
        var attempts: Int64 = 0
        while Int64(result.count) < count {
            attempts += 1
            if distinct && attempts > count * 16 {
                // Too many repeats: fall back to the exact method.
                return try randomMembers(storage, record, count: count, distinct: distinct, exact: true)
            }
            probe.bind(1, record.id)
            probe.bindCopy(2, randomPoint(low, high))
            var found = try storage.collect(probe).first
            if found == nil {
                probe.bind(1, record.id)
                probe.bindCopy(2, low)
                found = try storage.collect(probe).first
            }
            guard let item = found else { break }
            if distinct && !seen.insert(item.member).inserted { continue }
            result.append(item)
        }
        return result
    }

    static func randomMembers(_ storage: Storage, _ record: KeyRecord, count: Int64, distinct: Bool, exact: Bool) throws -> [ScoredMember] {
        var all = try storage.zsetAll(record.id)
        all.shuffle()
        return Array(all.prefix(Int(count)))
    }

    /// A random byte string between `low` and `high` (low < high): their common prefix, then
    /// 8 bytes drawn between theirs.
    static func randomPoint(_ low: [UInt8], _ high: [UInt8]) -> [UInt8] {
        var prefix = 0
        while prefix < low.count && prefix < high.count && low[prefix] == high[prefix] { prefix += 1 }
        func word(_ bytes: [UInt8]) -> UInt64 {
            var value: UInt64 = 0
            for i in 0..<8 {
                let index = prefix + i
                value = value << 8 | UInt64(index < bytes.count ? bytes[index] : 0)
            }
            return value
        }
        let a = word(low), b = word(high)
        let r = a < b ? UInt64.random(in: a...b) : a
        var result = Array(low[0..<prefix])
        for i in (0..<8).reversed() { result.append(UInt8(truncatingIfNeeded: r >> (UInt64(i) * 8))) }
        return result
    }

    /// Zsets up to this size are returned whole by one ZSCAN call (cursor 0), in score order,
    /// as Redis does for its small (listpack) encoding.
    static let scanWholeLimit: Int64 = 128

    /// ZSCAN key cursor [MATCH pattern] [COUNT count]
    static func zscan(_ c: CommandCall) throws {
        guard let cursor = c.args[2].parseUnsignedCursor() else { throw CommandError.invalidCursor }
        let options = try ScanOptions(c, from: 3)
        let count = options.count, pattern = options.pattern
        let storage = c.engine.storage
        var items: [ScoredMember] = []
        var next: UInt64 = 0
        if let record = try storage.collectionForRead(c.args[1], type: .zset, now: currentTimeMillis()) {
            if record.count <= scanWholeLimit {
                items = try storage.zsetAll(record.id)
            } else if cursor < UInt64(record.count) {
                let page = min(count, 100_000)
                let statement = try storage.cached("SELECT member, score FROM redis_zsets WHERE key_id = ?1 ORDER BY member LIMIT ?2 OFFSET ?3")
                statement.bind(1, record.id)
                statement.bind(2, page)
                statement.bind(3, Int64(cursor))
                items = try storage.collect(statement)
                next = cursor + UInt64(items.count)
                if items.count < page || next >= UInt64(record.count) { next = 0 }
            }
        }
        if let pattern {
            items = items.filter { item in item.member.withByteView { globMatch(pattern, $0) } }
        }
        c.reply.arrayHeader(2)
        c.reply.bulk(String(next))
        c.reply.arrayHeader(items.count * 2)
        for item in items {
            c.reply.bulk(item.member)
            c.reply.bulk(formatDouble(item.score))
        }
    }

    // MARK: Union, intersection, difference

    enum SetOperation { case union, inter, diff }
    enum Aggregate { case sum, min, max }

    static func zunionstore(_ c: CommandCall) throws { try setOperationGeneric(c, .union, store: true) }
    static func zinterstore(_ c: CommandCall) throws { try setOperationGeneric(c, .inter, store: true) }
    static func zdiffstore(_ c: CommandCall) throws { try setOperationGeneric(c, .diff, store: true) }
    static func zunion(_ c: CommandCall) throws { try setOperationGeneric(c, .union, store: false) }
    static func zinter(_ c: CommandCall) throws { try setOperationGeneric(c, .inter, store: false) }
    static func zdiff(_ c: CommandCall) throws { try setOperationGeneric(c, .diff, store: false) }
    static func zintercard(_ c: CommandCall) throws { try setOperationGeneric(c, .inter, store: false, cardinalityOnly: true) }

    static func aggregate(_ target: inout Double, _ value: Double, _ mode: Aggregate) {
        switch mode {
        case .sum:
            target = target + value
            if target.isNaN { target = 0 }
        case .min:
            target = value < target ? value : target
        case .max:
            target = value > target ? value : target
        }
    }

    /// Redis' zunionInterDiffGenericCommand: keys are checked for their type (zset or set)
    /// before the options are parsed; a missing key is an empty input.
    static func setOperationGeneric(_ c: CommandCall, _ operation: SetOperation, store: Bool, cardinalityOnly: Bool = false) throws {
        let numkeysIndex = store ? 2 : 1
        let setCount = try c.integer(numkeysIndex)
        if setCount < 1 {
            throw CommandError("ERR at least 1 input key is needed for '\(c.name)' command")
        }
        if setCount > Int64(c.argumentCount - numkeysIndex - 1) { throw CommandError.syntax }
        let storage = c.engine.storage
        let now = currentTimeMillis()
        let n = Int(setCount)
        var records: [KeyRecord?] = []
        for i in 0..<n {
            let record = try storage.lookup(c.args[numkeysIndex + 1 + i], now: now)
            if let record, record.type != .zset && record.type != .set { throw CommandError.wrongType }
            records.append(record)
        }
        var weights = [Double](repeating: 1, count: n)
        var mode = Aggregate.sum
        var withScores = false
        var limit: Int64 = 0
        var j = numkeysIndex + 1 + n
        while j < c.argumentCount {
            let remaining = c.argumentCount - j
            let option = c.args[j]
            if operation != .diff && !cardinalityOnly && remaining >= n + 1 && option.equalsLower("weights") {
                j += 1
                for i in 0..<n {
                    guard let weight = c.args[j].parseDouble() else { throw CommandError("ERR weight value is not a float") }
                    weights[i] = weight
                    j += 1
                }
            } else if operation != .diff && !cardinalityOnly && remaining >= 2 && option.equalsLower("aggregate") {
                let value = c.args[j + 1]
                if value.equalsLower("sum") { mode = .sum }
                else if value.equalsLower("min") { mode = .min }
                else if value.equalsLower("max") { mode = .max }
                else { throw CommandError.syntax }
                j += 2
            } else if remaining >= 1 && !store && !cardinalityOnly && option.equalsLower("withscores") {
                withScores = true
                j += 1
            } else if cardinalityOnly && remaining >= 2 && option.equalsLower("limit") {
                guard let value = c.args[j + 1].parseInt64(), value >= 0 else {
                    throw CommandError("ERR LIMIT can't be negative")
                }
                limit = value
                j += 2
            } else {
                throw CommandError.syntax
            }
        }

        // Load every input (copied: the destination may be one of them).
        var sources: [(items: [ScoredMember], weight: Double, key: Int)] = []
        for i in 0..<n {
            var items: [ScoredMember] = []
            if let record = records[i] {
                items = record.type == .zset ? try storage.zsetAll(record.id) : try storage.setMembersAsScored(record.id)
            }
            sources.append((items, weights[i], i))
        }
        var result: [ScoredMember] = []
        switch operation {
        case .union:
            let ordered = sources.enumerated().sorted { ($0.element.items.count, $0.offset) < ($1.element.items.count, $1.offset) }.map(\.element)
            var index: [[UInt8]: Int] = [:]
            for source in ordered {
                for item in source.items {
                    var score = source.weight * item.score
                    if score.isNaN { score = 0 }
                    if let at = index[item.member] {
                        aggregate(&result[at].score, score, mode)
                    } else {
                        index[item.member] = result.count
                        result.append(ScoredMember(member: item.member, score: score))
                    }
                }
            }
        case .inter:
            let ordered = sources.enumerated().sorted { ($0.element.items.count, $0.offset) < ($1.element.items.count, $1.offset) }.map(\.element)
            if ordered.contains(where: { $0.items.isEmpty }) { break }
            let lookups: [[[UInt8]: Double]] = ordered.map { source in
                Dictionary(source.items.map { ($0.member, $0.score) }, uniquingKeysWith: { a, _ in a })
            }
            outer: for item in ordered[0].items {
                var score = ordered[0].weight * item.score
                if score.isNaN { score = 0 }
                for k in 1..<ordered.count {
                    if ordered[k].key == ordered[0].key {
                        aggregate(&score, item.score * ordered[k].weight, mode)
                    } else if let value = lookups[k][item.member] {
                        aggregate(&score, value * ordered[k].weight, mode)
                    } else {
                        continue outer
                    }
                }
                result.append(ScoredMember(member: item.member, score: score))
                if cardinalityOnly && limit > 0 && Int64(result.count) >= limit { break }
            }
        case .diff:
            var excluded = Set<[UInt8]>()
            for source in sources.dropFirst() { for item in source.items { excluded.insert(item.member) } }
            result = sources[0].items.filter { !excluded.contains($0.member) }
        }
        if cardinalityOnly {
            c.reply.integer(result.count)
            return
        }
        result.sort { a, b in
            if a.score != b.score { return a.score < b.score }
            return a.member.lexicographicallyPrecedes(b.member)
        }
        if store {
            c.reply.integer(try storage.zsetStore(c.args[1], result, now: now))
        } else {
            replyMembers(c, result, withScores: withScores)
        }
    }
}
