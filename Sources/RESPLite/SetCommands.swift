// Set commands (Redis t_set.c): table entries and handlers.
//
// Storage: one row per member in `redis_sets(key_id, member)`, primary key (key_id, member),
// WITHOUT ROWID; SCARD is `redis_keys.count`. Membership tests are primary-key lookups. The
// *STORE commands compute their result inside SQLite (INSERT ... SELECT, DELETE ... EXISTS)
// into a staging key, which then replaces the destination in one rename, so a destination that
// is also a source works and the command is atomic (its savepoint).

import Foundation

let setCommands: [Command] = [
    Command("sadd", arity: -3, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "set", handler: SetCommands.sadd,
            run: (3, SetCommands.saddRun)),
    Command("srem", arity: -3, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "set", handler: SetCommands.srem),
    Command("smembers", arity: 2, flags: [.readonly], keys: (1, 1, 1), group: "set", handler: SetCommands.smembers),
    Command("sismember", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: "set", handler: SetCommands.sismember),
    Command("smismember", arity: -3, flags: [.readonly, .fast], keys: (1, 1, 1), group: "set", handler: SetCommands.smismember),
    Command("scard", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "set", handler: SetCommands.scard),
    Command("spop", arity: -2, flags: [.write, .fast], keys: (1, 1, 1), group: "set", handler: SetCommands.spop),
    Command("srandmember", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: "set", handler: SetCommands.srandmember),
    Command("smove", arity: 4, flags: [.write, .fast], keys: (1, 2, 1), group: "set", handler: SetCommands.smove),
    Command("sinter", arity: -2, flags: [.readonly], keys: (1, -1, 1), group: "set", handler: SetCommands.sinter),
    Command("sunion", arity: -2, flags: [.readonly], keys: (1, -1, 1), group: "set", handler: SetCommands.sunion),
    Command("sdiff", arity: -2, flags: [.readonly], keys: (1, -1, 1), group: "set", handler: SetCommands.sdiff),
    Command("sinterstore", arity: -3, flags: [.write, .denyOOM], keys: (1, -1, 1), group: "set", handler: SetCommands.sinterstore),
    Command("sunionstore", arity: -3, flags: [.write, .denyOOM], keys: (1, -1, 1), group: "set", handler: SetCommands.sunionstore),
    Command("sdiffstore", arity: -3, flags: [.write, .denyOOM], keys: (1, -1, 1), group: "set", handler: SetCommands.sdiffstore),
    Command("sintercard", arity: -3, flags: [.readonly], group: "set", handler: SetCommands.sintercard),
    Command("sscan", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: "set", handler: SetCommands.sscan),
]

// MARK: - SQL

enum SetSQL {
    static let add: StaticString = "INSERT INTO redis_sets(key_id, member) VALUES (?1, ?2) ON CONFLICT DO NOTHING"
    static let remove: StaticString = "DELETE FROM redis_sets WHERE key_id = ?1 AND member = ?2"
    static let contains: StaticString = "SELECT 1 FROM redis_sets WHERE key_id = ?1 AND member = ?2"
    static let all: StaticString = "SELECT member FROM redis_sets WHERE key_id = ?1"
    /// ?2 receives every member of ?1 (those it has already are skipped).
    static let copyInto: StaticString = """
        INSERT INTO redis_sets(key_id, member) SELECT ?2, member FROM redis_sets WHERE key_id = ?1
        ON CONFLICT DO NOTHING
        """
    /// ?3 receives the members of ?1 that ?2 also has (driven by ?1: pass the smaller set).
    static let intersectInto: StaticString = """
        INSERT INTO redis_sets(key_id, member)
        SELECT ?3, a.member FROM redis_sets AS a
        WHERE a.key_id = ?1 AND EXISTS (SELECT 1 FROM redis_sets AS b WHERE b.key_id = ?2 AND b.member = a.member)
        ON CONFLICT DO NOTHING
        """
    /// Keeps in ?1 only the members ?2 has (driven by ?1).
    static let keepCommon: StaticString = """
        DELETE FROM redis_sets
        WHERE key_id = ?1 AND NOT EXISTS (SELECT 1 FROM redis_sets AS o WHERE o.key_id = ?2 AND o.member = redis_sets.member)
        """
    /// Removes from ?1 the members ?2 has, driven by ?1 (when ?1 is the smaller set).
    static let subtractScanningTarget: StaticString = """
        DELETE FROM redis_sets
        WHERE key_id = ?1 AND EXISTS (SELECT 1 FROM redis_sets AS o WHERE o.key_id = ?2 AND o.member = redis_sets.member)
        """
    /// Removes from ?1 the members ?2 has, driven by ?2 (when ?2 is the smaller set).
    static let subtractScanningOther: StaticString = """
        DELETE FROM redis_sets WHERE key_id = ?1 AND member IN (SELECT member FROM redis_sets WHERE key_id = ?2)
        """

    static let members = CollectionSQL(
        first: "SELECT member FROM redis_sets WHERE key_id = ?1 ORDER BY member LIMIT 1",
        last: "SELECT member FROM redis_sets WHERE key_id = ?1 ORDER BY member DESC LIMIT 1",
        seek: "SELECT member FROM redis_sets WHERE key_id = ?1 AND member >= ?2 ORDER BY member LIMIT 1 OFFSET ?3",
        atOffset: "SELECT member FROM redis_sets WHERE key_id = ?1 ORDER BY member LIMIT 1 OFFSET ?2",
        shuffled: "SELECT member FROM redis_sets WHERE key_id = ?1 ORDER BY random() LIMIT ?2",
        all: "SELECT member FROM redis_sets WHERE key_id = ?1",
        scanFirst: "SELECT member FROM redis_sets WHERE key_id = ?1 ORDER BY member LIMIT ?2",
        scanAfter: "SELECT member FROM redis_sets WHERE key_id = ?1 AND member > ?2 ORDER BY member LIMIT ?3",
        hasValues: false)
}

// MARK: - Storage operations

extension Storage {
    /// Adds a member; true if it was new. The caller adjusts the count.
    func setAdd(_ id: Int64, _ member: ByteView) throws -> Bool {
        try willWrite()
        let statement = try cached(SetSQL.add)
        statement.bind(1, id)
        statement.bind(2, member)
        try statement.run()
        return connection.changes > 0
    }

    /// Removes a member; true if it was there. The caller adjusts the count.
    func setRemove(_ id: Int64, _ member: ByteView) throws -> Bool {
        try willWrite()
        let statement = try cached(SetSQL.remove)
        statement.bind(1, id)
        statement.bind(2, member)
        try statement.run()
        return connection.changes > 0
    }

    func setContains(_ id: Int64, _ member: ByteView) throws -> Bool {
        let statement = try cached(SetSQL.contains)
        statement.bind(1, id)
        statement.bind(2, member)
        defer { statement.reset() }
        return try statement.step()
    }

    /// Runs a set-algebra statement over key ids; returns the rows it changed.
    func setAlgebra(_ sql: StaticString, _ ids: Int64...) throws -> Int64 {
        try willWrite()
        let statement = try cached(sql)
        for (index, id) in ids.enumerated() { statement.bind(Int32(index + 1), id) }
        try statement.run()
        return Int64(connection.changes)
    }
}

// MARK: - Handlers

enum SetCommands {
    // MARK: Members

    /// SADD key member [member ...] → number of members added.
    static func sadd(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let (record, _) = try storage.collectionForWrite(c.args[1], type: .set, now: now)
        var added: Int64 = 0
        for index in 2..<c.argumentCount where try storage.setAdd(record.id, c.args[index]) {
            added += 1
        }
        // Members already present change nothing: the key row is left alone (a new, empty
        // key always gets its first member, so it never stays at count 0).
        if added > 0 { try storage.adjustCount(id: record.id, by: added, now: now, known: record) }
        c.reply.integer(added)
    }

    /// A pipelined run of `SADD key member`: each call answers 1 if its member was new.
    static func saddRun(_ c: CommandCall, _ run: PipelineRun) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let (record, _) = try storage.collectionForWrite(c.args[1], type: .set, now: now)
        var added: Int64 = 0
        for call in 0..<run.count {
            let new = try storage.setAdd(record.id, run.argument(call, 2))
            if new { added += 1 }
            c.reply.integer(new ? 1 : 0)
        }
        if added > 0 { try storage.adjustCount(id: record.id, by: added, now: now, known: record) }
    }

    /// SREM key member [member ...] → number of members removed.
    static func srem(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .set, now: now) else {
            c.reply.integer(0)
            return
        }
        var removed: Int64 = 0
        for index in 2..<c.argumentCount where try storage.setRemove(record.id, c.args[index]) {
            removed += 1
        }
        if removed > 0 { try storage.adjustCount(id: record.id, by: -removed, now: now, known: record) }
        c.reply.integer(removed)
    }

    /// SMEMBERS key → every member (a set in RESP3).
    static func smembers(_ c: CommandCall) throws {
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .set, now: currentTimeMillis()) else {
            c.reply.setHeader(0)
            return
        }
        let statement = try storage.cached(SetSQL.all)
        statement.bind(1, record.id)
        defer { statement.reset() }
        try HashCommands.streamRows(c, statement, expected: record.count, header: { c.reply.setHeader($0) }) {
            c.reply.bulk(statement.bytes(0))
        }
    }

    /// SISMEMBER key member → 1 or 0.
    static func sismember(_ c: CommandCall) throws {
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .set, now: currentTimeMillis()) else {
            c.reply.integer(0)
            return
        }
        c.reply.integer(try storage.setContains(record.id, c.args[2]) ? 1 : 0)
    }

    /// SMISMEMBER key member [member ...] → 1 or 0 for each.
    static func smismember(_ c: CommandCall) throws {
        let storage = c.engine.storage
        let record = try storage.collectionForRead(c.args[1], type: .set, now: currentTimeMillis())
        var results: [Int64] = []
        results.reserveCapacity(c.argumentCount - 2)
        for index in 2..<c.argumentCount {
            results.append(try record.map { try storage.setContains($0.id, c.args[index]) ? 1 : 0 } ?? 0)
        }
        c.reply.arrayHeader(results.count)
        for result in results { c.reply.integer(result) }
    }

    /// SCARD key → the number of members (O(1): the key's count).
    static func scard(_ c: CommandCall) throws {
        let record = try c.engine.storage.collectionForRead(c.args[1], type: .set, now: currentTimeMillis())
        c.reply.integer(record?.count ?? 0)
    }

    // MARK: Random members

    /// SPOP key [count]: without count one random member (null if missing), removed; with a
    /// count up to that many distinct members (a set reply), removed.
    static func spop(_ c: CommandCall) throws {
        if c.argumentCount > 3 { throw CommandError.syntax }
        var count: Int64? = nil
        if c.argumentCount == 3 {
            guard let parsed = c.args[2].parseInt64(), parsed >= 0 else {
                throw CommandError("ERR value is out of range, must be positive")
            }
            count = parsed
        }
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let record = try storage.collectionForRead(c.args[1], type: .set, now: now)
        guard let count else {
            guard let record, let pick = try CollectionRandom.one(storage, SetSQL.members, record) else {
                c.reply.null()
                return
            }
            try pick.member.withByteView { _ = try storage.setRemove(record.id, $0) }
            try storage.adjustCount(id: record.id, by: -1, now: now, known: record)
            c.reply.bulk(pick.member)
            return
        }
        guard let record, count > 0 else {
            c.reply.setHeader(0)
            return
        }
        let picks: [CollectionRandom.Pick]
        if count >= record.count {
            picks = try CollectionRandom.all(storage, SetSQL.members, record.id)
            try storage.deleteKey(c.args[1])
        } else {
            picks = try CollectionRandom.distinct(storage, SetSQL.members, record, count: count)
            var removed: Int64 = 0
            for pick in picks where try pick.member.withByteView({ try storage.setRemove(record.id, $0) }) {
                removed += 1
            }
            try storage.adjustCount(id: record.id, by: -removed, now: now, known: record)
        }
        c.reply.setHeader(picks.count)
        for pick in picks { c.reply.bulk(pick.member) }
    }

    /// SRANDMEMBER key [count]: without count one random member (null if missing); a positive
    /// count gives distinct members (at most the set's size), a negative one |count| members
    /// with repeats.
    static func srandmember(_ c: CommandCall) throws {
        if c.argumentCount > 3 { throw CommandError.syntax }
        let now = currentTimeMillis()
        let storage = c.engine.storage
        guard c.argumentCount == 3 else {
            guard let record = try storage.collectionForRead(c.args[1], type: .set, now: now),
                  let pick = try CollectionRandom.one(storage, SetSQL.members, record) else {
                c.reply.null()
                return
            }
            c.reply.bulk(pick.member)
            return
        }
        let count = try CollectionRandom.parseSignedCount(c, 2)
        guard let record = try storage.collectionForRead(c.args[1], type: .set, now: now), count != 0 else {
            c.reply.arrayHeader(0)
            return
        }
        let picks = count > 0
            ? try CollectionRandom.distinct(storage, SetSQL.members, record, count: count)
            : try CollectionRandom.repeated(storage, SetSQL.members, record, count: count.magnitude)
        c.reply.arrayHeader(picks.count)
        for pick in picks { c.reply.bulk(pick.member) }
    }

    // MARK: Moving

    /// SMOVE source destination member → 1 if moved, 0 if the source lacks it. As Redis: a
    /// missing source answers 0 before the destination's type is checked; source = destination
    /// answers whether the member is there, changing nothing.
    static func smove(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let (sourceKey, destinationKey, member) = (c.args[1], c.args[2], c.args[3])
        guard let source = try storage.lookup(sourceKey, now: now) else {
            c.reply.integer(0)
            return
        }
        guard source.type == .set else { throw CommandError.wrongType }
        let destination = try storage.lookup(destinationKey, now: now)
        if let destination, destination.type != .set { throw CommandError.wrongType }
        if sourceKey == destinationKey {
            c.reply.integer(try storage.setContains(source.id, member) ? 1 : 0)
            return
        }
        guard try storage.setRemove(source.id, member) else {
            c.reply.integer(0)
            return
        }
        try storage.adjustCount(id: source.id, by: -1, now: now)
        let (target, _) = try storage.collectionForWrite(destinationKey, type: .set, now: now)
        let added = try storage.setAdd(target.id, member)
        try storage.adjustCount(id: target.id, by: added ? 1 : 0, now: now)
        c.reply.integer(1)
    }

    // MARK: Set algebra

    enum Operation { case intersection, union, difference }

    /// The source sets of an algebra command, type-checked all before anything happens (a
    /// missing key is an empty set, nil here).
    static func sources(_ c: CommandCall, _ range: Range<Int>, now: Int64) throws -> [KeyRecord?] {
        try range.map { try c.engine.storage.collectionForRead(c.args[$0], type: .set, now: now) }
    }

    static func sinter(_ c: CommandCall) throws { try algebra(c, .intersection) }
    static func sunion(_ c: CommandCall) throws { try algebra(c, .union) }
    static func sdiff(_ c: CommandCall) throws { try algebra(c, .difference) }

    /// SINTER / SUNION / SDIFF key [key ...] → the resulting members (a set in RESP3).
    static func algebra(_ c: CommandCall, _ operation: Operation) throws {
        let storage = c.engine.storage
        let sets = try sources(c, 1..<c.argumentCount, now: currentTimeMillis())
        let items = DeferredReply(c)
        var count = 0
        switch operation {
        case .intersection:
            count = try intersect(storage, sets, limit: 0) { items.writer.bulk($0) }
        case .union:
            let present = sets.compactMap { $0 }
            if present.count == 1 {
                count = try forEachMember(storage, present[0].id) { items.writer.bulk($0) }
            } else {
                var seen = Set<[UInt8]>()
                for record in present {
                    _ = try forEachMember(storage, record.id) { member in
                        if seen.insert(member.array).inserted {
                            items.writer.bulk(member)
                            count += 1
                        }
                    }
                }
            }
        case .difference:
            guard let first = sets[0] else { break }
            let others = sets.dropFirst().compactMap { $0 }
            if others.contains(where: { $0.id == first.id }) { break }
            let statement = try storage.cached(SetSQL.all)
            statement.bind(1, first.id)
            defer { statement.reset() }
            rows: while try statement.step() {
                let member = statement.bytes(0)
                for other in others where try storage.setContains(other.id, member) { continue rows }
                items.writer.bulk(member)
                count += 1
            }
        }
        items.emit(setOf: count)
    }

    /// Calls `body` with each member of a set (views valid during the call); returns the count.
    @discardableResult
    static func forEachMember(_ storage: Storage, _ id: Int64, _ body: (ByteView) throws -> Void) throws -> Int {
        let statement = try storage.cached(SetSQL.all)
        statement.bind(1, id)
        defer { statement.reset() }
        var count = 0
        while try statement.step() {
            try body(statement.bytes(0))
            count += 1
        }
        return count
    }

    /// Members common to every set (none if one is missing), driven by the smallest set and
    /// checked by primary-key lookups in the others; stops after `limit` (0 = no limit).
    /// Returns the number found.
    static func intersect(_ storage: Storage, _ sets: [KeyRecord?], limit: Int64,
                          _ body: (ByteView) throws -> Void) throws -> Int {
        var present: [KeyRecord] = []
        for record in sets {
            guard let record else { return 0 }
            present.append(record)
        }
        present.sort { $0.count < $1.count }
        let smallest = present[0]
        var others: [Int64] = []
        for record in present.dropFirst() where record.id != smallest.id && !others.contains(record.id) {
            others.append(record.id)
        }
        let statement = try storage.cached(SetSQL.all)
        statement.bind(1, smallest.id)
        defer { statement.reset() }
        var found = 0
        rows: while try statement.step() {
            let member = statement.bytes(0)
            for other in others where try !storage.setContains(other, member) { continue rows }
            try body(member)
            found += 1
            if limit > 0 && Int64(found) >= limit { break }
        }
        return found
    }

    static func sinterstore(_ c: CommandCall) throws { try algebraStore(c, .intersection) }
    static func sunionstore(_ c: CommandCall) throws { try algebraStore(c, .union) }
    static func sdiffstore(_ c: CommandCall) throws { try algebraStore(c, .difference) }

    /// SINTERSTORE / SUNIONSTORE / SDIFFSTORE destination key [key ...] → the size of the
    /// result, which replaces the destination (of any type; no TTL). An empty result deletes
    /// the destination. Computed in SQLite into a staging key that is renamed over the
    /// destination at the end, so the destination may be one of the sources.
    static func algebraStore(_ c: CommandCall, _ operation: Operation) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let destination = c.args[1]
        let sets = try sources(c, 2..<c.argumentCount, now: now)
        let present = sets.compactMap { $0 }
        let empty: Bool
        switch operation {
        case .intersection: empty = present.count < sets.count
        case .union: empty = present.isEmpty
        case .difference: empty = sets[0] == nil
        }
        if empty {
            try storage.deleteKey(destination)
            c.reply.integer(0)
            return
        }
        var staging = Array("\u{0}resplite:staging:".utf8)
        for _ in 0..<16 { staging.append(UInt8.random(in: 0...255)) }
        let size: Int64 = try staging.withByteView { stagingKey in
            let (target, _) = try storage.collectionForWrite(stagingKey, type: .set, now: now)
            let size = try fill(storage, operation, present, into: target.id)
            if size == 0 {
                try storage.deleteKey(stagingKey)
                try storage.deleteKey(destination)
                return 0
            }
            try storage.rename(stagingKey, to: destination, now: now)
            try storage.adjustCount(id: target.id, by: size, now: now)
            return size
        }
        c.reply.integer(size)
    }

    /// Writes the result of `operation` over `sets` into the empty set `target`; returns its
    /// size. Intersection: the two smallest sets seed it, the others filter it. Difference:
    /// the first set seeds it, each other set is subtracted by scanning the smaller side.
    static func fill(_ storage: Storage, _ operation: Operation, _ sets: [KeyRecord], into target: Int64) throws -> Int64 {
        var size: Int64 = 0
        switch operation {
        case .union:
            for record in sets { size += try storage.setAlgebra(SetSQL.copyInto, record.id, target) }
        case .intersection:
            let sorted = sets.sorted { $0.count < $1.count }
            if sorted.count == 1 {
                return try storage.setAlgebra(SetSQL.copyInto, sorted[0].id, target)
            }
            size = try storage.setAlgebra(SetSQL.intersectInto, sorted[0].id, sorted[1].id, target)
            for record in sorted.dropFirst(2) where size > 0 {
                size -= try storage.setAlgebra(SetSQL.keepCommon, target, record.id)
            }
        case .difference:
            size = try storage.setAlgebra(SetSQL.copyInto, sets[0].id, target)
            for record in sets.dropFirst() where size > 0 {
                let sql = size <= record.count ? SetSQL.subtractScanningTarget : SetSQL.subtractScanningOther
                size -= try storage.setAlgebra(sql, target, record.id)
            }
        }
        return size
    }

    /// SINTERCARD numkeys key [key ...] [LIMIT limit] → the size of the intersection, counting
    /// stopped at `limit` (0 = no limit).
    static func sintercard(_ c: CommandCall) throws {
        guard let numkeys = c.args[1].parseInt64(), numkeys > 0 else {
            throw CommandError("ERR numkeys should be greater than 0")
        }
        guard numkeys <= Int64(c.argumentCount - 2) else {
            throw CommandError("ERR Number of keys can't be greater than number of args")
        }
        let keysEnd = 2 + Int(numkeys)
        var limit: Int64 = 0
        var index = keysEnd
        while index < c.argumentCount {
            if c.args[index].equalsLower("limit") && index + 1 < c.argumentCount {
                guard let parsed = c.args[index + 1].parseInt64(), parsed >= 0 else {
                    throw CommandError("ERR LIMIT can't be negative")
                }
                limit = parsed
                index += 2
            } else {
                throw CommandError.syntax
            }
        }
        let sets = try sources(c, 2..<keysEnd, now: currentTimeMillis())
        c.reply.integer(try intersect(c.engine.storage, sets, limit: limit) { _ in })
    }

    /// SSCAN key cursor [MATCH pattern] [COUNT count]
    static func sscan(_ c: CommandCall) throws {
        try CollectionScan.scan(c, type: .set, sql: SetSQL.members)
    }
}
