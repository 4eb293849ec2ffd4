// Hash commands (Redis t_hash.c): table entries and handlers, with per-field TTL (Redis 7.4's
// HEXPIRE family).
//
// Storage: one row per field in `redis_hashes(key_id, field, value, expires_at)`, primary key
// (key_id, field); HLEN is `redis_keys.count`. A field whose `expires_at` has passed is
// invisible: point reads (HGET, HEXISTS, HSTRLEN) check their own row, every other command
// first purges the key's expired fields (`purgeExpiredFields`, one probe of the partial index
// `redis_hashes_key_expires` — an empty range for hashes without field TTLs), so counts stay
// exact. The sweeper (Expiry.swift) deletes expired fields in bounded batches.
//
// The helpers shared with sets (random picks, SCAN cursors, deferred array replies) are at the
// end of this file.

import Foundation

let hashCommands: [Command] = [
    Command("hset", arity: -4, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "hash", handler: HashCommands.hset,
            run: (4, HashCommands.hsetRun)),
    Command("hmset", arity: -4, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "hash", handler: HashCommands.hmset),
    Command("hsetnx", arity: 4, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hsetnx),
    Command("hget", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hget),
    Command("hmget", arity: -3, flags: [.readonly, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hmget),
    Command("hgetall", arity: 2, flags: [.readonly], keys: (1, 1, 1), group: "hash", handler: HashCommands.hgetall),
    Command("hkeys", arity: 2, flags: [.readonly], keys: (1, 1, 1), group: "hash", handler: HashCommands.hkeys),
    Command("hvals", arity: 2, flags: [.readonly], keys: (1, 1, 1), group: "hash", handler: HashCommands.hvals),
    Command("hlen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hlen),
    Command("hdel", arity: -3, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "hash", handler: HashCommands.hdel),
    Command("hexists", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hexists),
    Command("hstrlen", arity: 3, flags: [.readonly, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hstrlen),
    Command("hincrby", arity: 4, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "hash", handler: HashCommands.hincrby),
    Command("hincrbyfloat", arity: 4, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "hash", handler: HashCommands.hincrbyfloat),
    Command("hrandfield", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: "hash", handler: HashCommands.hrandfield),
    Command("hscan", arity: -3, flags: [.readonly], keys: (1, 1, 1), group: "hash", handler: HashCommands.hscan),
    Command("hexpire", arity: -6, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hexpire),
    Command("hpexpire", arity: -6, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hpexpire),
    Command("hexpireat", arity: -6, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hexpireat),
    Command("hpexpireat", arity: -6, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hpexpireat),
    Command("httl", arity: -5, flags: [.readonly, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.httl),
    Command("hpttl", arity: -5, flags: [.readonly, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hpttl),
    Command("hexpiretime", arity: -5, flags: [.readonly, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hexpiretime),
    Command("hpexpiretime", arity: -5, flags: [.readonly, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hpexpiretime),
    Command("hpersist", arity: -5, flags: [.write, .fast], keys: (1, 1, 1), group: "hash", handler: HashCommands.hpersist),
]

// MARK: - SQL

/// Every statement of the hash commands, as literals for `Storage.cached` (tests read the
/// query plans of the hot ones).
enum HashSQL {
    static let get: StaticString = "SELECT value, expires_at FROM redis_hashes WHERE key_id = ?1 AND field = ?2"
    static let lengthOf: StaticString = "SELECT length(value), expires_at FROM redis_hashes WHERE key_id = ?1 AND field = ?2"
    static let expiryOf: StaticString = "SELECT expires_at FROM redis_hashes WHERE key_id = ?1 AND field = ?2"
    /// Whether any field in the file has a TTL (one seek of the partial index).
    static let anyFieldTTL: StaticString = "SELECT EXISTS (SELECT 1 FROM redis_hashes WHERE expires_at IS NOT NULL)"
    static let insert: StaticString = "INSERT INTO redis_hashes(key_id, field, value) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING"
    static let updateClearingTTL: StaticString = "UPDATE redis_hashes SET value = ?3, expires_at = NULL WHERE key_id = ?1 AND field = ?2"
    static let updateKeepingTTL: StaticString = "UPDATE redis_hashes SET value = ?3 WHERE key_id = ?1 AND field = ?2"
    static let delete: StaticString = "DELETE FROM redis_hashes WHERE key_id = ?1 AND field = ?2"
    static let setExpiry: StaticString = "UPDATE redis_hashes SET expires_at = ?3 WHERE key_id = ?1 AND field = ?2"
    static let all: StaticString = "SELECT field, value FROM redis_hashes WHERE key_id = ?1"
    static let fields: StaticString = "SELECT field FROM redis_hashes WHERE key_id = ?1"
    static let values: StaticString = "SELECT value FROM redis_hashes WHERE key_id = ?1"
    /// Expired fields of one hash: a range of the partial index (empty without field TTLs).
    static let expiredCount: StaticString = "SELECT count(*) FROM redis_hashes WHERE key_id = ?1 AND expires_at <= ?2"
    static let purgeExpired: StaticString = "DELETE FROM redis_hashes WHERE key_id = ?1 AND expires_at <= ?2"
    /// The sweeper: the oldest expired fields of all hashes (the global partial index).
    static let sweep: StaticString = "SELECT key_id, field FROM redis_hashes WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2"

    static let members = CollectionSQL(
        first: "SELECT field FROM redis_hashes WHERE key_id = ?1 ORDER BY field LIMIT 1",
        last: "SELECT field FROM redis_hashes WHERE key_id = ?1 ORDER BY field DESC LIMIT 1",
        seek: "SELECT field, value FROM redis_hashes WHERE key_id = ?1 AND field >= ?2 ORDER BY field LIMIT 1 OFFSET ?3",
        atOffset: "SELECT field, value FROM redis_hashes WHERE key_id = ?1 ORDER BY field LIMIT 1 OFFSET ?2",
        shuffled: "SELECT field, value FROM redis_hashes WHERE key_id = ?1 ORDER BY random() LIMIT ?2",
        all: "SELECT field, value FROM redis_hashes WHERE key_id = ?1",
        scanFirst: "SELECT field, value FROM redis_hashes WHERE key_id = ?1 ORDER BY field LIMIT ?2",
        scanAfter: "SELECT field, value FROM redis_hashes WHERE key_id = ?1 AND field > ?2 ORDER BY field LIMIT ?3",
        hasValues: true)
}

// MARK: - Storage operations

extension Storage {
    /// A live hash for reading, its expired fields purged first (so `count` is exact): nil if
    /// missing (or emptied by the purge), WRONGTYPE for another type.
    func hashForRead(_ key: ByteView, now: Int64) throws -> KeyRecord? {
        guard let record = try collectionForRead(key, type: .hash, now: now) else { return nil }
        return try purgeExpiredFields(record, now: now)
    }

    /// A live hash for writing (created empty if missing: the command must add a field).
    func hashForWrite(_ key: ByteView, now: Int64) throws -> KeyRecord {
        try hashForWrite(key, existing: try collectionForRead(key, type: .hash, now: now, recordAbsent: false), now: now)
    }

    /// The same, given the key's record as `collectionForRead` found it in this command.
    func hashForWrite(_ key: ByteView, existing: KeyRecord?, now: Int64) throws -> KeyRecord {
        if let existing, let record = try purgeExpiredFields(existing, now: now) { return record }
        return try collectionForWrite(key, type: .hash, now: now).record
    }

    /// Deletes the hash's fields whose TTL has passed and adjusts its count (deleting the key
    /// when nothing is left). Returns the updated record, or nil if the hash is gone.
    func purgeExpiredFields(_ record: KeyRecord, now: Int64) throws -> KeyRecord? {
        guard hashFieldTTLsMayExist else { return record }
        let probe = try cached(HashSQL.expiredCount)
        probe.bind(1, record.id)
        probe.bind(2, now)
        defer { probe.reset() }
        guard try probe.step() else { return record }
        let expired = probe.int64(0)
        probe.reset()
        if expired == 0 { return record }
        try willWrite()
        let purge = try cached(HashSQL.purgeExpired)
        purge.bind(1, record.id)
        purge.bind(2, now)
        try purge.run()
        let deleted = Int64(connection.changes)
        let count = try adjustCount(id: record.id, by: -deleted, now: now)
        if count <= 0 { return nil }
        var updated = record
        updated.count = count
        return updated
    }

    /// The live value of one field (valid until the end of the command), or nil. A field found
    /// expired is purged (with the hash's other expired fields) and reads as missing.
    func hashValue(_ record: KeyRecord, _ field: ByteView, now: Int64) throws -> ByteView? {
        let statement = try cached(HashSQL.get)
        statement.reset()
        trackUntilEndOfCommand(statement)
        statement.bind(1, record.id)
        statement.bind(2, field)
        guard try statement.step() else { return nil }
        if let expiresAt = statement.optionalInt64(1), expiresAt <= now {
            statement.reset()
            _ = try purgeExpiredFields(record, now: now)
            return nil
        }
        return statement.bytes(0)
    }

    /// A copy of a field's live value, read without writing: a field past its TTL reads as
    /// missing and stays for the caller's write to purge (`hashForWrite(_:existing:now:)`),
    /// so the record the caller holds stays current.
    func hashLiveValueCopy(_ record: KeyRecord, _ field: ByteView, now: Int64) throws -> [UInt8]? {
        let statement = try cached(HashSQL.get)
        statement.reset()
        statement.bind(1, record.id)
        statement.bind(2, field)
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        if let expiresAt = statement.optionalInt64(1), expiresAt <= now { return nil }
        return statement.bytes(0).array
    }

    /// Whether a field exists and its value's length, for HEXISTS / HSTRLEN (same expiry rule).
    func hashValueLength(_ record: KeyRecord, _ field: ByteView, now: Int64) throws -> Int64? {
        let statement = try cached(HashSQL.lengthOf)
        statement.bind(1, record.id)
        statement.bind(2, field)
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        let length = statement.int64(0)
        if let expiresAt = statement.optionalInt64(1), expiresAt <= now {
            statement.reset()
            _ = try purgeExpiredFields(record, now: now)
            return nil
        }
        return length
    }

    /// Sets a field (HSET semantics: an overwritten field loses its TTL unless `keepTTL`).
    /// Returns true if the field is new. The caller adjusts the count.
    @discardableResult
    func hashSet(_ id: Int64, _ field: ByteView, _ value: ByteView, keepTTL: Bool = false) throws -> Bool {
        try willWrite()
        if hashWrites.preferred {
            // A bulk load: the field is likely new (`InsertFirst`).
            if try hashInsert(id, field, value) { return true }
            try hashUpdate(id, field, value, keepTTL: keepTTL)
            hashWrites.record(created: false)
            return false
        }
        if try hashUpdate(id, field, value, keepTTL: keepTTL) {
            hashWrites.record(created: false)
            return false
        }
        let inserted = try hashInsert(id, field, value)
        assert(inserted, "the UPDATE found no field")
        hashWrites.record(created: true)
        return true
    }

    /// Overwrites a field's value; false if the hash has no such field.
    private func hashUpdate(_ id: Int64, _ field: ByteView, _ value: ByteView, keepTTL: Bool) throws -> Bool {
        // With no field TTL in the database, clearing one is a no-op, and leaving expires_at out
        // of the UPDATE spares SQLite the upkeep of the two partial indexes on it.
        let update = try keepTTL || !hashFieldTTLsMayExist ? cached(HashSQL.updateKeepingTTL) : cached(HashSQL.updateClearingTTL)
        update.bind(1, id)
        update.bind(2, field)
        update.bind(3, value)
        try update.run()
        return connection.changes > 0
    }

    /// Adds a field (no TTL); false if the hash has it already.
    private func hashInsert(_ id: Int64, _ field: ByteView, _ value: ByteView) throws -> Bool {
        let insert = try cached(HashSQL.insert)
        insert.bind(1, id)
        insert.bind(2, field)
        insert.bind(3, value)
        try insert.run()
        return connection.changes > 0
    }

    /// Deletes one field; true if it existed. The caller adjusts the count.
    func hashDelete(_ id: Int64, _ field: ByteView) throws -> Bool {
        try willWrite()
        let delete = try cached(HashSQL.delete)
        delete.bind(1, id)
        delete.bind(2, field)
        try delete.run()
        return connection.changes > 0
    }

    /// A field's row state for the TTL commands: nil = no such field, .some(nil) = no TTL.
    /// Call after `purgeExpiredFields` (an expired row is reported as is).
    func hashFieldExpiry(_ id: Int64, _ field: ByteView) throws -> Int64?? {
        let statement = try cached(HashSQL.expiryOf)
        statement.bind(1, id)
        statement.bind(2, field)
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return .some(statement.optionalInt64(0))
    }

    func hashSetFieldExpiry(_ id: Int64, _ field: ByteView, _ expiresAt: Int64?) throws {
        if expiresAt != nil { hashFieldTTLsMayExist = true }
        try willWrite()
        let statement = try cached(HashSQL.setExpiry)
        statement.bind(1, id)
        statement.bind(2, field)
        statement.bind(3, expiresAt)
        try statement.run()
    }

    /// Deletes up to `limit` expired fields of all hashes, oldest first, adjusting counts and
    /// deleting hashes left empty. Returns how many fields were deleted.
    func sweepExpiredFields(now: Int64, limit: Int) throws -> Int {
        guard limit > 0 else { return 0 }
        let select = try cached(HashSQL.sweep)
        select.bind(1, now)
        select.bind(2, Int64(limit))
        var rows: [(Int64, [UInt8])] = []
        do {
            defer { select.reset() }
            while try select.step() { rows.append((select.int64(0), select.bytes(1).array)) }
        }
        if rows.isEmpty { return 0 }
        var removedPerKey: [Int64: Int64] = [:]
        for (id, field) in rows {
            if try field.withByteView({ try hashDelete(id, $0) }) { removedPerKey[id, default: 0] += 1 }
        }
        // ON HASH search indexes follow these hashes too: note their names before a hash
        // left empty is deleted (nothing is read when no such index exists).
        var names: [[UInt8]] = []
        if !(search.loaded && !search.hasOnHash) {
            let name = try cached("SELECT key FROM redis_keys WHERE id = ?1")
            for id in removedPerKey.keys {
                name.bind(1, id)
                defer { name.reset() }
                if try name.step() { names.append(name.bytes(0).array) }
            }
        }
        for (id, removed) in removedPerKey.sorted(by: { $0.key < $1.key }) {
            try adjustCount(id: id, by: -removed, now: now)
        }
        for key in names { try key.withByteView { try searchKeyChanged($0, now: now) } }
        return rows.count
    }
}

// MARK: - Handlers

enum HashCommands {
    // MARK: Writes

    /// HSET key field value [field value ...] → number of fields created.
    static func hset(_ c: CommandCall) throws {
        try setFields(c)
    }

    /// A pipelined run of `HSET key field value`: each call answers 1 if its field was new
    /// (a field set twice in the run is new once), as the calls one by one would.
    static func hsetRun(_ c: CommandCall, _ run: PipelineRun) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let record = try storage.hashForWrite(c.args[1], now: now)
        var created: Int64 = 0
        for call in 0..<run.count {
            let new = try storage.hashSet(record.id, run.argument(call, 2), run.argument(call, 3))
            if new { created += 1 }
            c.reply.integer(new ? 1 : 0)
        }
        try storage.adjustCount(id: record.id, by: created, now: now, known: record)
    }

    /// HMSET key field value [field value ...] → OK (deprecated form of HSET).
    static func hmset(_ c: CommandCall) throws {
        try setFields(c)
    }

    private static func setFields(_ c: CommandCall) throws {
        guard c.argumentCount % 2 == 0 else { throw CommandError.wrongArity(c.name) }
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let record = try storage.hashForWrite(c.args[1], now: now)
        var created: Int64 = 0
        for index in stride(from: 2, to: c.argumentCount, by: 2) where try storage.hashSet(record.id, c.args[index], c.args[index + 1]) {
            created += 1
        }
        try storage.adjustCount(id: record.id, by: created, now: now, known: record)
        if c.name == "hmset" { c.reply.ok() } else { c.reply.integer(created) }
    }

    /// HSETNX key field value → 1 if set, 0 if the field exists.
    static func hsetnx(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let record = try storage.hashForWrite(c.args[1], now: now)
        if record.count > 0, try storage.hashValueLength(record, c.args[2], now: now) != nil {
            c.reply.integer(0)
            return
        }
        try storage.hashSet(record.id, c.args[2], c.args[3])
        try storage.adjustCount(id: record.id, by: 1, now: now)
        c.reply.integer(1)
    }

    /// HDEL key field [field ...] → number of fields removed.
    static func hdel(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        guard let record = try storage.hashForRead(c.args[1], now: now) else {
            c.reply.integer(0)
            return
        }
        var removed: Int64 = 0
        for index in 2..<c.argumentCount where try storage.hashDelete(record.id, c.args[index]) {
            removed += 1
        }
        if removed > 0 { try storage.adjustCount(id: record.id, by: -removed, now: now, known: record) }
        c.reply.integer(removed)
    }

    /// The record of hash `c.args[1]` and the value of its field `c.args[2]` if that is live (a
    /// field past its TTL counts as missing), read without writing: expired fields are purged
    /// later, by the write (`hashForWrite(_:existing:now:)`).
    private static func liveFieldValue(_ c: CommandCall, now: Int64) throws -> (record: KeyRecord?, value: [UInt8]?) {
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .hash, now: now, recordAbsent: false) else { return (nil, nil) }
        return (record, try storage.hashLiveValueCopy(record, c.args[2], now: now))
    }

    /// HINCRBY key field increment → the new value. The field keeps its TTL.
    static func hincrby(_ c: CommandCall) throws {
        let increment = try c.integer(3)
        let now = currentTimeMillis()
        let storage = c.engine.storage
        // Everything is checked before the first write (purging expired fields is one), so
        // the command needs no savepoint of its own (`validatesBeforeWriting`).
        let (existing, value) = try liveFieldValue(c, now: now)
        var current: Int64 = 0
        if let value {
            guard let parsed = value.withByteView({ $0.parseInt64() }) else { throw CommandError("ERR hash value is not an integer") }
            current = parsed
        }
        let exists = value != nil
        let (result, overflow) = current.addingReportingOverflow(increment)
        guard !overflow else { throw CommandError.overflow }
        let record = try storage.hashForWrite(c.args[1], existing: existing, now: now)
        let text = Array(String(result).utf8)
        try text.withByteView { try storage.hashSet(record.id, c.args[2], $0, keepTTL: true) }
        try storage.adjustCount(id: record.id, by: exists ? 0 : 1, now: now, known: record)
        c.reply.integer(result)
    }

    /// HINCRBYFLOAT key field increment → the new value as a bulk string (long double
    /// arithmetic, formatted as INCRBYFLOAT). The field keeps its TTL.
    static func hincrbyfloat(_ c: CommandCall) throws {
        guard let increment = c.args[3].parseLongDouble() else { throw CommandError.notFloat }
        guard increment.isFinite else { throw CommandError("ERR value is NaN or Infinity") }
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let (existing, value) = try liveFieldValue(c, now: now)  // checked before any write, as HINCRBY
        var current: Float80 = 0
        if let value {
            guard let parsed = value.withByteView({ $0.parseLongDouble() }) else { throw CommandError("ERR hash value is not a float") }
            current = parsed
        }
        let exists = value != nil
        let result = current + increment
        guard result.isFinite else { throw CommandError("ERR increment would produce NaN or Infinity") }
        let record = try storage.hashForWrite(c.args[1], existing: existing, now: now)
        let text = formatLongDouble(result)
        try Array(text.utf8).withByteView { try storage.hashSet(record.id, c.args[2], $0, keepTTL: true) }
        try storage.adjustCount(id: record.id, by: exists ? 0 : 1, now: now, known: record)
        c.reply.bulk(text)
    }

    // MARK: Reads

    /// HGET key field
    static func hget(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .hash, now: now),
              let value = try storage.hashValue(record, c.args[2], now: now) else {
            c.reply.null()
            return
        }
        c.reply.bulk(value)
    }

    /// HMGET key field [field ...] → values, null for missing fields.
    static func hmget(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let record = try storage.hashForRead(c.args[1], now: now)
        c.reply.arrayHeader(c.argumentCount - 2)
        for index in 2..<c.argumentCount {
            if let record, let value = try storage.hashValue(record, c.args[index], now: now) {
                c.reply.bulk(value)
            } else {
                c.reply.null()
            }
        }
    }

    /// HGETALL key → a map of fields to values (RESP2: a flat array).
    static func hgetall(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        guard let record = try storage.hashForRead(c.args[1], now: now) else {
            c.reply.mapHeader(0)
            return
        }
        let statement = try storage.cached(HashSQL.all)
        statement.bind(1, record.id)
        defer { statement.reset() }
        try streamRows(c, statement, expected: record.count, header: { c.reply.mapHeader($0) }) {
            c.reply.bulk(statement.bytes(0))
            c.reply.bulk(statement.bytes(1))
        }
    }

    /// HKEYS key
    static func hkeys(_ c: CommandCall) throws {
        try streamColumn(c, HashSQL.fields)
    }

    /// HVALS key
    static func hvals(_ c: CommandCall) throws {
        try streamColumn(c, HashSQL.values)
    }

    private static func streamColumn(_ c: CommandCall, _ sql: StaticString) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        guard let record = try storage.hashForRead(c.args[1], now: now) else {
            c.reply.arrayHeader(0)
            return
        }
        let statement = try storage.cached(sql)
        statement.bind(1, record.id)
        defer { statement.reset() }
        try streamRows(c, statement, expected: record.count, header: { c.reply.arrayHeader($0) }) {
            c.reply.bulk(statement.bytes(0))
        }
    }

    /// HLEN key → the number of fields (O(1): the key's count).
    static func hlen(_ c: CommandCall) throws {
        let record = try c.engine.storage.hashForRead(c.args[1], now: currentTimeMillis())
        c.reply.integer(record?.count ?? 0)
    }

    /// HEXISTS key field
    static func hexists(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .hash, now: now) else {
            c.reply.integer(0)
            return
        }
        c.reply.integer(try storage.hashValueLength(record, c.args[2], now: now) != nil ? 1 : 0)
    }

    /// HSTRLEN key field → the length of the value, 0 if missing.
    static func hstrlen(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        guard let record = try storage.collectionForRead(c.args[1], type: .hash, now: now) else {
            c.reply.integer(0)
            return
        }
        c.reply.integer(try storage.hashValueLength(record, c.args[2], now: now) ?? 0)
    }

    /// HRANDFIELD key [count [WITHVALUES]]
    ///
    /// Without count: one random field (null if missing). A positive count: distinct fields,
    /// at most the hash's size; a negative count: |count| fields, repeats allowed. WITHVALUES
    /// interleaves values (RESP3: an array of [field, value] pairs).
    static func hrandfield(_ c: CommandCall) throws {
        let storage = c.engine.storage
        let now = currentTimeMillis()
        guard c.argumentCount >= 3 else {
            guard let record = try storage.hashForRead(c.args[1], now: now),
                  let picked = try CollectionRandom.one(storage, HashSQL.members, record) else {
                c.reply.null()
                return
            }
            c.reply.bulk(picked.member)
            return
        }
        let count = try CollectionRandom.parseSignedCount(c, 2)
        var withValues = false
        if c.argumentCount > 4 || (c.argumentCount == 4 && !c.args[3].equalsLower("withvalues")) {
            throw CommandError.syntax
        } else if c.argumentCount == 4 {
            withValues = true
            if count < -(Int64.max / 2) || count > Int64.max / 2 { throw CommandError("ERR value is out of range") }
        }
        guard let record = try storage.hashForRead(c.args[1], now: now), count != 0 else {
            c.reply.arrayHeader(0)
            return
        }
        let picks: [CollectionRandom.Pick]
        if count > 0 {
            picks = try CollectionRandom.distinct(storage, HashSQL.members, record, count: count)
        } else {
            picks = try CollectionRandom.repeated(storage, HashSQL.members, record, count: count.magnitude)
        }
        if withValues {
            if c.reply.resp3 {
                c.reply.arrayHeader(picks.count)
                for pick in picks {
                    c.reply.arrayHeader(2)
                    c.reply.bulk(pick.member)
                    c.reply.bulk(pick.value ?? [])
                }
            } else {
                c.reply.arrayHeader(picks.count * 2)
                for pick in picks {
                    c.reply.bulk(pick.member)
                    c.reply.bulk(pick.value ?? [])
                }
            }
        } else {
            c.reply.arrayHeader(picks.count)
            for pick in picks { c.reply.bulk(pick.member) }
        }
    }

    /// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]
    static func hscan(_ c: CommandCall) throws {
        try CollectionScan.scan(c, type: .hash, sql: HashSQL.members)
    }

    // MARK: Field TTL (Redis 7.4)

    static func hexpire(_ c: CommandCall) throws { try expireFields(c, unit: .seconds) }
    static func hpexpire(_ c: CommandCall) throws { try expireFields(c, unit: .milliseconds) }
    static func hexpireat(_ c: CommandCall) throws { try expireFields(c, unit: .unixSeconds) }
    static func hpexpireat(_ c: CommandCall) throws { try expireFields(c, unit: .unixMilliseconds) }

    /// The largest absolute field expiry Redis accepts (HFE_MAX_ABS_TIME_MSEC: 2^46 - 1 ms).
    static let maxFieldExpiryMs: Int64 = (1 << 46) - 1

    enum FieldExpiryCondition { case always, nx, xx, gt, lt }

    /// H[P]EXPIRE[AT] key time [NX | XX | GT | LT] FIELDS numfields field [field ...]
    ///
    /// Checked in Redis' order: the key's type, the time, the condition, FIELDS, numfields.
    /// One reply per field: -2 no such field, 0 condition not met, 1 expiry set, 2 deleted
    /// (the time is now or in the past). GT/LT treat "no TTL" as infinite: GT never applies to
    /// a field without TTL, LT always does.
    static func expireFields(_ c: CommandCall, unit: ExpiryUnit) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let found = try storage.collectionForRead(c.args[1], type: .hash, now: now)
        guard let value = c.args[2].parseInt64() else { throw CommandError.notInteger }
        guard value >= 0 else { throw CommandError("ERR invalid expire time, must be >= 0") }
        var when = value
        if unit == .seconds || unit == .unixSeconds {
            guard when <= maxFieldExpiryMs / 1000 else { throw CommandError.invalidExpireTime(c.name) }
            when *= 1000
        }
        let base: Int64 = (unit == .seconds || unit == .milliseconds) ? now : 0
        guard when <= maxFieldExpiryMs - base else { throw CommandError.invalidExpireTime(c.name) }
        when += base

        var condition = FieldExpiryCondition.always
        var fieldsAt = 4
        let option = c.args[3]
        if option.equalsLower("nx") { condition = .nx }
        else if option.equalsLower("xx") { condition = .xx }
        else if option.equalsLower("gt") { condition = .gt }
        else if option.equalsLower("lt") { condition = .lt }
        if condition != .always { fieldsAt += 1 }
        let fieldCount = try parseFields(c, fieldsAt: fieldsAt, message: "ERR Parameter `numFields` should be greater than 0")
        let first = fieldsAt + 1

        guard let found, let record = try storage.purgeExpiredFields(found, now: now) else {
            c.reply.arrayHeader(fieldCount)
            for _ in 0..<fieldCount { c.reply.integer(-2) }
            return
        }
        var results: [Int64] = []
        results.reserveCapacity(fieldCount)
        var deleted: Int64 = 0
        var changed = false
        for index in first..<(first + fieldCount) {
            let field = c.args[index]
            guard let previous = try storage.hashFieldExpiry(record.id, field) else {
                results.append(-2)
                continue
            }
            let met: Bool
            switch condition {
            case .always: met = true
            case .nx: met = previous == nil
            case .xx: met = previous != nil
            case .gt: met = previous.map { when > $0 } ?? false
            case .lt: met = previous.map { when < $0 } ?? true
            }
            guard met else {
                results.append(0)
                continue
            }
            changed = true
            if when <= now {
                if try storage.hashDelete(record.id, field) { deleted += 1 }
                results.append(2)
            } else {
                try storage.hashSetFieldExpiry(record.id, field, when)
                results.append(1)
            }
        }
        if changed { try storage.adjustCount(id: record.id, by: -deleted, now: now) }
        c.reply.arrayHeader(results.count)
        for result in results { c.reply.integer(result) }
    }

    /// Checks `FIELDS numfields field...` with FIELDS at `fieldsAt - 1` and numfields at
    /// `fieldsAt`: Redis' texts for each mistake. Returns numfields.
    static func parseFields(_ c: CommandCall, fieldsAt: Int, message: String) throws -> Int {
        guard fieldsAt < c.argumentCount, c.args[fieldsAt - 1].equalsLower("fields") else {
            throw CommandError("ERR Mandatory argument FIELDS is missing or not at the right position")
        }
        guard let count = c.args[fieldsAt].parseInt64(), count >= 1 else { throw CommandError(message) }
        guard count == Int64(c.argumentCount - fieldsAt - 1) else {
            throw CommandError("ERR The `numfields` parameter must match the number of arguments")
        }
        return Int(count)
    }

    static func httl(_ c: CommandCall) throws { try fieldTTL(c) { ($0 + 999 - $1) / 1000 } }
    static func hpttl(_ c: CommandCall) throws { try fieldTTL(c) { $0 - $1 } }
    static func hexpiretime(_ c: CommandCall) throws { try fieldTTL(c) { expiresAt, _ in (expiresAt + 999) / 1000 } }
    static func hpexpiretime(_ c: CommandCall) throws { try fieldTTL(c) { expiresAt, _ in expiresAt } }

    /// HTTL / HPTTL / HEXPIRETIME / HPEXPIRETIME key FIELDS numfields field [field ...]:
    /// per field -2 missing, -1 no TTL, else `format(expiresAt, now)` (seconds round up, as
    /// Redis).
    static func fieldTTL(_ c: CommandCall, format: (Int64, Int64) -> Int64) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let found = try storage.collectionForRead(c.args[1], type: .hash, now: now)
        let fieldCount = try parseFields(c, fieldsAt: 3, message: "ERR Number of fields must be a positive integer")
        let record = try found.flatMap { try storage.purgeExpiredFields($0, now: now) }
        var results: [Int64] = []
        results.reserveCapacity(fieldCount)
        for index in 4..<(4 + fieldCount) {
            guard let record, let state = try storage.hashFieldExpiry(record.id, c.args[index]) else {
                results.append(-2)
                continue
            }
            if let expiresAt = state { results.append(format(expiresAt, now)) } else { results.append(-1) }
        }
        c.reply.arrayHeader(results.count)
        for result in results { c.reply.integer(result) }
    }

    /// HPERSIST key FIELDS numfields field [field ...]: per field -2 missing, -1 no TTL,
    /// 1 TTL removed.
    static func hpersist(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let found = try storage.collectionForRead(c.args[1], type: .hash, now: now)
        let fieldCount = try parseFields(c, fieldsAt: 3, message: "ERR Number of fields must be a positive integer")
        let record = try found.flatMap { try storage.purgeExpiredFields($0, now: now) }
        var results: [Int64] = []
        results.reserveCapacity(fieldCount)
        var changed = false
        for index in 4..<(4 + fieldCount) {
            guard let record, let state = try storage.hashFieldExpiry(record.id, c.args[index]) else {
                results.append(-2)
                continue
            }
            if state == nil {
                results.append(-1)
            } else {
                try storage.hashSetFieldExpiry(record.id, c.args[index], nil)
                changed = true
                results.append(1)
            }
        }
        if changed, let record { try storage.adjustCount(id: record.id, by: 0, now: now) }
        c.reply.arrayHeader(results.count)
        for result in results { c.reply.integer(result) }
    }

    // MARK: Helpers

    /// Streams a statement's rows as an aggregate of `expected` elements. The count comes from
    /// the key's metadata (exact by invariant); should the rows disagree, the reply is rebuilt
    /// from what was actually read so the protocol stays well-formed.
    static func streamRows(_ c: CommandCall, _ statement: Statement, expected: Int64,
                           header: (Int) -> Void, row: () -> Void) throws {
        let mark = c.reply.buffer.count
        header(Int(expected))
        var rows = 0
        while try statement.step() {
            row()
            rows += 1
        }
        guard rows != Int(expected) else { return }
        // Should never happen (checkConsistency): redo the reply with the real row count.
        c.reply.buffer.truncate(to: mark)
        statement.reset()
        header(rows)
        while try statement.step() { row() }
    }
}

// MARK: - Shared by hashes and sets

/// The member-iteration statements of one collection table. Column 0 is the member (field),
/// column 1 the value when `hasValues`.
struct CollectionSQL {
    let first: StaticString       // ?1 key_id
    let last: StaticString        // ?1 key_id
    let seek: StaticString        // ?1 key_id, ?2 bytes, ?3 rows to skip
    let atOffset: StaticString    // ?1 key_id, ?2 offset
    let shuffled: StaticString    // ?1 key_id, ?2 limit
    let all: StaticString         // ?1 key_id
    let scanFirst: StaticString   // ?1 key_id, ?2 limit
    let scanAfter: StaticString   // ?1 key_id, ?2 after, ?3 limit
    let hasValues: Bool
}

/// Random members of a collection. Up to `exactLimit` members the picks are exactly uniform
/// (an OFFSET walk or ORDER BY random(), cheap at that size). Beyond it, one pick is O(log n):
/// a random byte string between the smallest and largest member is looked up in the primary
/// key, then a few rows are skipped at random. This is approximately uniform (members after
/// large gaps in byte order are favoured), which is the price of O(log n) SPOP/SRANDMEMBER/
/// HRANDFIELD on huge collections without an order-statistics index.
enum CollectionRandom {
    struct Pick {
        var member: [UInt8]
        var value: [UInt8]?
    }

    static let exactLimit: Int64 = 2_048
    /// Largest reply of a negative count (repeats allowed). Redis has no bound (it would try
    /// to build the whole reply); here a larger count is an error, to protect the server.
    static let maxRepeatedCount: UInt64 = 16_777_216

    /// Redis' getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) for a signed count.
    static func parseSignedCount(_ c: CommandCall, _ index: Int) throws -> Int64 {
        let count = try c.integer(index)
        guard count != Int64.min else {
            throw CommandError("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        }
        return count
    }

    private static func read(_ statement: Statement, _ sql: CollectionSQL) -> Pick {
        Pick(member: statement.bytes(0).array, value: sql.hasValues ? statement.bytes(1).array : nil)
    }

    private static func atOffset(_ storage: Storage, _ sql: CollectionSQL, _ id: Int64, _ offset: Int64) throws -> Pick? {
        let statement = try storage.cached(sql.atOffset)
        statement.bind(1, id)
        statement.bind(2, offset)
        defer { statement.reset() }
        return try statement.step() ? read(statement, sql) : nil
    }

    private static func bound(_ storage: Storage, _ sql: StaticString, _ id: Int64) throws -> [UInt8]? {
        let statement = try storage.cached(sql)
        statement.bind(1, id)
        defer { statement.reset() }
        return try statement.step() ? statement.bytes(0).array : nil
    }

    /// Smallest and largest member, for O(log n) picks in a large collection.
    struct Range {
        let low: [UInt8]
        let high: [UInt8]
    }

    private static func range(_ storage: Storage, _ sql: CollectionSQL, _ id: Int64) throws -> Range? {
        guard let low = try bound(storage, sql.first, id), let high = try bound(storage, sql.last, id) else { return nil }
        return Range(low: low, high: high)
    }

    /// A random byte string between `range.low` and `range.high` (byte order).
    private static func probe(_ range: Range) -> [UInt8] {
        let low = range.low, high = range.high
        var prefix = 0
        while prefix < low.count && prefix < high.count && low[prefix] == high[prefix] { prefix += 1 }
        guard prefix < high.count else { return high }  // a single member
        let lowByte = prefix < low.count ? Int(low[prefix]) : 0
        var probe = Array(high[0..<prefix])
        probe.append(UInt8(Int.random(in: lowByte...Int(high[prefix]))))
        for _ in 0..<8 { probe.append(UInt8.random(in: 0...255)) }
        return probe
    }

    private static func approximate(_ storage: Storage, _ sql: CollectionSQL, _ id: Int64, _ range: Range) throws -> Pick? {
        let probe = probe(range)
        let statement = try storage.cached(sql.seek)
        for skip in [Int64.random(in: 0..<16), 0] {
            let found: Pick? = try probe.withByteView { bytes in
                statement.bind(1, id)
                statement.bind(2, bytes)
                statement.bind(3, skip)
                defer { statement.reset() }
                return try statement.step() ? read(statement, sql) : nil
            }
            if let found { return found }
        }
        return try atOffset(storage, sql, id, 0)  // past the largest member: wrap around
    }

    /// One random member, or nil for an empty collection.
    static func one(_ storage: Storage, _ sql: CollectionSQL, _ record: KeyRecord) throws -> Pick? {
        if record.count <= 0 { return nil }
        if record.count <= exactLimit {
            return try atOffset(storage, sql, record.id, Int64.random(in: 0..<record.count))
        }
        guard let range = try range(storage, sql, record.id) else { return nil }
        return try approximate(storage, sql, record.id, range)
    }

    /// Every member, in primary-key order.
    static func all(_ storage: Storage, _ sql: CollectionSQL, _ id: Int64) throws -> [Pick] {
        let statement = try storage.cached(sql.all)
        statement.bind(1, id)
        defer { statement.reset() }
        var picks: [Pick] = []
        while try statement.step() { picks.append(read(statement, sql)) }
        return picks
    }

    /// `count` (> 0) distinct random members, or all of them when the collection is smaller.
    static func distinct(_ storage: Storage, _ sql: CollectionSQL, _ record: KeyRecord, count: Int64) throws -> [Pick] {
        if count >= record.count { return try all(storage, sql, record.id) }
        if record.count > exactLimit && count * 4 < record.count {
            if let range = try range(storage, sql, record.id) {
                var seen = Set<[UInt8]>()
                var picks: [Pick] = []
                var attempts: Int64 = 0
                while Int64(picks.count) < count && attempts < count * 8 + 64 {
                    attempts += 1
                    guard let pick = try approximate(storage, sql, record.id, range) else { break }
                    if seen.insert(pick.member).inserted { picks.append(pick) }
                }
                if Int64(picks.count) == count { return picks }
            }
        }
        let statement = try storage.cached(sql.shuffled)
        statement.bind(1, record.id)
        statement.bind(2, count)
        defer { statement.reset() }
        var picks: [Pick] = []
        picks.reserveCapacity(Int(count))
        while try statement.step() { picks.append(read(statement, sql)) }
        return picks
    }

    /// `count` random members, repeats allowed.
    static func repeated(_ storage: Storage, _ sql: CollectionSQL, _ record: KeyRecord, count: UInt64) throws -> [Pick] {
        guard count <= maxRepeatedCount else { throw CommandError("ERR value is out of range") }
        var picks: [Pick] = []
        picks.reserveCapacity(Int(count))
        if record.count <= exactLimit {
            let members = try all(storage, sql, record.id)
            if members.isEmpty { return [] }
            for _ in 0..<count { picks.append(members[Int.random(in: 0..<members.count)]) }
            return picks
        }
        guard let range = try range(storage, sql, record.id) else { return [] }
        for _ in 0..<count {
            guard let pick = try approximate(storage, sql, record.id, range) else { break }
            picks.append(pick)
        }
        return picks
    }
}

/// HSCAN / SSCAN cursors. A cursor must be an integer, but members are ordered by their bytes,
/// so a page's position (the last member returned) is kept server-side and the cursor is a
/// random 62-bit token for it. Tokens live in a bounded registry (oldest dropped first); an
/// unknown token (dropped, or issued before a restart) restarts the iteration from the
/// beginning, which keeps SCAN's guarantee (every member present for the whole iteration is
/// returned at least once; repeats are allowed). Collections of up to 128 members are
/// returned whole with cursor 0, as Redis does for its small encodings.
final class CollectionScanCursors: @unchecked Sendable {
    static let shared = CollectionScanCursors()

    static let maxEntries = 16_384
    static let maxBytes = 64 * 1024 * 1024

    private struct Entry {
        let owner: ObjectIdentifier
        let keyId: Int64
        let last: [UInt8]
    }

    private let lock = NSLock()
    private var entries: [UInt64: Entry] = [:]
    private var order: [UInt64] = []
    private var head = 0
    private var bytes = 0

    func register(owner: AnyObject, keyId: Int64, last: [UInt8]) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        var token: UInt64
        repeat { token = UInt64.random(in: 1...(UInt64(1) << 62)) } while entries[token] != nil
        entries[token] = Entry(owner: ObjectIdentifier(owner), keyId: keyId, last: last)
        order.append(token)
        bytes += last.count
        while (entries.count > Self.maxEntries || bytes > Self.maxBytes) && head < order.count {
            let old = order[head]
            head += 1
            if let removed = entries.removeValue(forKey: old) { bytes -= removed.last.count }
        }
        if head > 4_096 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        return token
    }

    /// The position a token stands for, if it is known and belongs to this key.
    func position(owner: AnyObject, keyId: Int64, token: UInt64) -> [UInt8]? {
        lock.lock()
        defer { lock.unlock() }
        guard let entry = entries[token], entry.owner == ObjectIdentifier(owner), entry.keyId == keyId else { return nil }
        return entry.last
    }
}

enum CollectionScan {
    /// Members of a collection returned whole by one call, with cursor 0 (Redis' listpack
    /// hashes and sets behave the same way).
    static let smallCollection: Int64 = 128

    /// HSCAN / SSCAN key cursor [MATCH pattern] [COUNT count] (HSCAN: [NOVALUES]), in Redis'
    /// order: the cursor, the key (a missing key answers an empty page whatever the options),
    /// then the options.
    static func scan(_ c: CommandCall, type: KeyType, sql: CollectionSQL) throws {
        guard let cursor = c.args[2].parseUnsignedCursor() else { throw CommandError.invalidCursor }
        let now = currentTimeMillis()
        let storage = c.engine.storage
        let found = type == .hash ? try storage.hashForRead(c.args[1], now: now)
                                  : try storage.collectionForRead(c.args[1], type: type, now: now)
        guard let record = found else {
            c.reply.arrayHeader(2)
            c.reply.bulk("0")
            c.reply.arrayHeader(0)
            return
        }
        let options = try ScanOptions(c, from: 3, allowNoValues: sql.hasValues)
        let count = options.count, pattern = options.pattern
        let withValues = sql.hasValues && !options.noValues

        let whole = cursor == 0 && record.count <= smallCollection
        let limit = whole ? record.count : min(count, KeyCommands.maxScanCount)
        var after: [UInt8]? = nil
        if cursor != 0 {
            after = CollectionScanCursors.shared.position(owner: storage, keyId: record.id, token: cursor)
        }
        let statement = try after == nil ? storage.cached(sql.scanFirst) : storage.cached(sql.scanAfter)
        let items = DeferredReply(c)
        var examined: Int64 = 0
        var matched = 0
        var last: [UInt8] = []
        try (after ?? []).withByteView { afterView in
            statement.bind(1, record.id)
            if after != nil {
                statement.bind(2, afterView)
                statement.bind(3, limit)
            } else {
                statement.bind(2, limit)
            }
            defer { statement.reset() }
            while try statement.step() {
                examined += 1
                let member = statement.bytes(0)
                if examined == limit { last = member.array }
                if let pattern, !globMatch(pattern, member) { continue }
                matched += 1
                items.writer.bulk(member)
                if withValues { items.writer.bulk(statement.bytes(1)) }
            }
        }
        let next: UInt64 = (whole || examined < limit)
            ? 0 : CollectionScanCursors.shared.register(owner: storage, keyId: record.id, last: last)
        c.reply.arrayHeader(2)
        c.reply.bulk(String(next))
        items.emit(arrayOf: withValues ? matched * 2 : matched)
    }
}

/// An aggregate reply whose element count is known only after its elements are produced:
/// elements go to a side buffer, then the header and the elements are appended.
struct DeferredReply {
    let target: ReplyWriter
    let writer: ReplyWriter

    init(_ c: CommandCall) {
        target = c.reply
        var writer = ReplyWriter(buffer: ByteBuffer(capacity: 256))
        writer.resp3 = c.reply.resp3
        self.writer = writer
    }

    func emit(arrayOf count: Int) {
        target.arrayHeader(count)
        target.buffer.append(writer.buffer.readableBytes)
    }

    func emit(setOf count: Int) {
        target.setHeader(count)
        target.buffer.append(writer.buffer.readableBytes)
    }
}
