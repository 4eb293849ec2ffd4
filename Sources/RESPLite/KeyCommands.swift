// Generic key commands and TTL commands (Redis db.c and expire.c): they work on keys of every
// type through the key metadata row.

import Foundation

enum KeyCommands {
    // MARK: Existence and deletion

    /// DEL key [key ...] → how many live keys were removed. UNLINK is the same here: SQLite
    /// frees pages without a background thread.
    static func del(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        var removed: Int64 = 0
        for index in 1..<c.argumentCount where try c.engine.storage.deleteKey(c.args[index], now: now) {
            removed += 1
        }
        c.reply.integer(removed)
    }

    /// EXISTS key [key ...] → how many of the named keys exist (repeats count again).
    static func exists(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        var found: Int64 = 0
        for index in 1..<c.argumentCount where try c.engine.storage.lookup(c.args[index], now: now) != nil {
            found += 1
        }
        c.reply.integer(found)
    }

    /// TOUCH key [key ...] → how many exist; resets their idle time.
    static func touch(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        var found: Int64 = 0
        for index in 1..<c.argumentCount where try c.engine.storage.lookup(c.args[index], now: now) != nil {
            try c.engine.storage.touch(c.args[index], now: now)
            found += 1
        }
        c.reply.integer(found)
    }

    /// TYPE key → string, hash, set, list, zset or none.
    static func type(_ c: CommandCall) throws {
        if let record = try c.engine.storage.lookup(c.args[1], now: currentTimeMillis()) {
            c.reply.simple(record.type.name)
        } else {
            c.reply.simple("none")
        }
    }

    // MARK: Renaming and copying

    /// RENAME key newkey
    static func rename(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        guard try c.engine.storage.lookup(c.args[1], now: now) != nil else { throw CommandError.noSuchKey }
        if !(c.args[1] == c.args[2]) {
            try c.engine.storage.rename(c.args[1], to: c.args[2], now: now)
        }
        c.reply.ok()
    }

    /// RENAMENX key newkey → 1 if renamed, 0 if newkey exists.
    static func renamenx(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        guard try storage.lookup(c.args[1], now: now) != nil else { throw CommandError.noSuchKey }
        if try c.args[1] == c.args[2] || storage.lookup(c.args[2], now: now) != nil {
            c.reply.integer(0)
            return
        }
        try storage.rename(c.args[1], to: c.args[2], now: now)
        c.reply.integer(1)
    }

    /// COPY source destination [DB destination-db] [REPLACE] → 1 if copied, 0 if not.
    static func copy(_ c: CommandCall) throws {
        var replace = false
        var index = 3
        while index < c.argumentCount {
            if c.args[index].equalsLower("replace") {
                replace = true
            } else if c.args[index].equalsLower("db") && index + 1 < c.argumentCount {
                // Redis reads an int (getIntFromObjectOrReply), then selects the database: only 0
                // exists here.
                let database = try c.integer(index + 1)
                guard database >= Int64(Int32.min) && database <= Int64(Int32.max) else {
                    throw CommandError("ERR value is out of range, value must between \(Int32.min) and \(Int32.max)")
                }
                guard database == 0 else { throw CommandError.dbIndexOutOfRange }
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        guard !(c.args[1] == c.args[2]) else {
            throw CommandError("ERR source and destination objects are the same")
        }
        let now = currentTimeMillis()
        let storage = c.engine.storage
        guard let source = try storage.lookup(c.args[1], now: now) else {
            c.reply.integer(0)
            return
        }
        if !replace, try storage.lookup(c.args[2], now: now) != nil {
            c.reply.integer(0)
            return
        }
        switch source.type {
        case .string:
            guard case .value(let value, _, _) = try storage.readString(c.args[1], now: now) else {
                throw CommandError.noSuchKey
            }
            try storage.copyString(value, to: c.args[2], expiresAt: source.expiresAt, now: now)
        default:
            // A new key of the same type, the members copied row by row inside SQLite.
            try storage.deleteKey(c.args[2])
            let (destination, _) = try storage.collectionForWrite(c.args[2], type: source.type, now: now)
            try storage.copyMembers(from: source.id, to: destination.id, type: source.type)
            try storage.adjustCount(id: destination.id, by: source.count, now: now)
            if let expiresAt = source.expiresAt {
                try storage.setExpiry(id: destination.id, expiresAt: expiresAt, now: now)
            }
        }
        c.reply.integer(1)
    }

    // MARK: Expiry

    static func expire(_ c: CommandCall) throws { try expireGeneric(c, unit: .seconds) }
    static func pexpire(_ c: CommandCall) throws { try expireGeneric(c, unit: .milliseconds) }
    static func expireat(_ c: CommandCall) throws { try expireGeneric(c, unit: .unixSeconds) }
    static func pexpireat(_ c: CommandCall) throws { try expireGeneric(c, unit: .unixMilliseconds) }

    /// The shared body of EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT with NX | XX | GT | LT.
    /// A time in the past deletes the key. Answers 1 if the expiry was set, 0 if not.
    static func expireGeneric(_ c: CommandCall, unit: ExpiryUnit) throws {
        var nx = false, xx = false, gt = false, lt = false
        for index in 3..<max(3, c.argumentCount) {
            let option = c.args[index]
            if option.equalsLower("nx") { nx = true }
            else if option.equalsLower("xx") { xx = true }
            else if option.equalsLower("gt") { gt = true }
            else if option.equalsLower("lt") { lt = true }
            else { throw CommandError("ERR Unsupported option \(option.string)") }
        }
        if nx && (xx || gt || lt) {
            throw CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
        }
        if gt && lt { throw CommandError("ERR GT and LT options at the same time are not compatible") }
        let value = try c.integer(2)
        let now = currentTimeMillis()
        guard let when = unit.absoluteMillis(value, now: now) else { throw CommandError.invalidExpireTime(c.name) }
        let storage = c.engine.storage
        guard let record = try storage.lookup(c.args[1], now: now) else {
            c.reply.integer(0)
            return
        }
        let current = record.expiresAt  // nil: no expiry, which GT/LT treat as infinite
        if nx && current != nil { c.reply.integer(0); return }
        if xx && current == nil { c.reply.integer(0); return }
        if gt && (current == nil || when <= current!) { c.reply.integer(0); return }
        if lt, let current, when >= current { c.reply.integer(0); return }
        if when <= now {
            try storage.deleteKey(c.args[1])
        } else {
            try storage.setExpiry(id: record.id, expiresAt: when, now: now)
        }
        c.reply.integer(1)
    }

    /// TTL key → seconds left (rounded), -1 without expiry, -2 missing.
    static func ttl(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        c.reply.integer(timeToLive(try c.engine.storage.lookup(c.args[1], now: now), now: now, milliseconds: false))
    }

    /// PTTL key → milliseconds left, -1 without expiry, -2 missing.
    static func pttl(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        c.reply.integer(timeToLive(try c.engine.storage.lookup(c.args[1], now: now), now: now, milliseconds: true))
    }

    /// EXPIRETIME key → absolute unix seconds (rounded, as Redis: (ms + 500) / 1000), -1
    /// without expiry, -2 missing.
    static func expiretime(_ c: CommandCall) throws { try expireTimeGeneric(c, milliseconds: false) }

    /// PEXPIRETIME key → absolute unix milliseconds, -1 without expiry, -2 missing.
    static func pexpiretime(_ c: CommandCall) throws { try expireTimeGeneric(c, milliseconds: true) }

    static func expireTimeGeneric(_ c: CommandCall, milliseconds: Bool) throws {
        guard let record = try c.engine.storage.lookup(c.args[1], now: currentTimeMillis()) else {
            c.reply.integer(-2)
            return
        }
        guard let expiresAt = record.expiresAt else {
            c.reply.integer(-1)
            return
        }
        c.reply.integer(milliseconds ? expiresAt : expiresAt / 1000 + (expiresAt % 1000 >= 500 ? 1 : 0))
    }

    /// PERSIST key → 1 if an expiry was removed, 0 otherwise.
    static func persist(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        guard let record = try c.engine.storage.lookup(c.args[1], now: now), record.expiresAt != nil else {
            c.reply.integer(0)
            return
        }
        try c.engine.storage.setExpiry(id: record.id, expiresAt: nil, now: now)
        c.reply.integer(1)
    }

    // MARK: Iteration

    /// Rows examined per SCAN call at most, whatever COUNT says (bounds one call's work).
    static let maxScanCount: Int64 = 100_000
    /// Rows per page when KEYS walks the whole keyspace.
    static let keysPageRows = 1_000

    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. The cursor is the id of the
    /// last key examined: keys are visited in id order, so a key that exists for the whole
    /// scan is returned exactly once, whatever happens to other keys.
    static func scan(_ c: CommandCall) throws {
        guard let cursor = c.args[1].parseUnsignedCursor() else { throw CommandError.invalidCursor }
        let options = try ScanOptions(c, from: 2, allowType: true)
        let count = options.count, pattern = options.pattern, typeFilter = options.type
        let wantedType = typeFilter.map { KeyType(name: $0) }
        // Ids are positive Int64s: a larger cursor (e.g. "-1", which wraps) is past the end.
        guard cursor <= UInt64(Int64.max) else {
            c.reply.arrayHeader(2)
            c.reply.bulk("0")
            c.reply.arrayHeader(0)
            return
        }
        let limit = Int(min(count, maxScanCount))
        let now = currentTimeMillis()
        let page = try c.engine.storage.scan(afterId: Int64(cursor), limit: limit)
        let nextCursor = page.count < limit ? 0 : page.last!.id
        var keys: [[UInt8]] = []
        keys.reserveCapacity(page.count)
        for row in page {
            if let expiresAt = row.expiresAt, expiresAt <= now { continue }
            if let wantedType, wantedType != row.type { continue }
            if let pattern, !row.key.withByteView({ globMatch(pattern, $0) }) { continue }
            keys.append(row.key)
        }
        c.reply.arrayHeader(2)
        c.reply.bulk(String(nextCursor))
        c.reply.arrayHeader(keys.count)
        for key in keys { c.reply.bulk(key) }
    }

    /// KEYS pattern → every live key matching the glob pattern.
    static func keys(_ c: CommandCall) throws {
        let pattern = c.args[1]
        let matchAll = pattern.count == 1 && pattern[0] == UInt8(ascii: "*")
        let now = currentTimeMillis()
        var matched: [[UInt8]] = []
        var cursor: Int64 = 0
        while true {
            let page = try c.engine.storage.scan(afterId: cursor, limit: keysPageRows)
            for row in page {
                if let expiresAt = row.expiresAt, expiresAt <= now { continue }
                if matchAll || row.key.withByteView({ globMatch(pattern, $0) }) { matched.append(row.key) }
            }
            if page.count < keysPageRows { break }
            cursor = page.last!.id
        }
        c.reply.arrayHeader(matched.count)
        for key in matched { c.reply.bulk(key) }
    }

    /// RANDOMKEY → a random live key, or null when there is none.
    static func randomkey(_ c: CommandCall) throws {
        if let key = try c.engine.storage.randomKey(now: currentTimeMillis()) {
            c.reply.bulk(key)
        } else {
            c.reply.null()
        }
    }

    // MARK: OBJECT

    /// OBJECT IDLETIME | ENCODING | REFCOUNT | FREQ | HELP. OBJECT is a container command in
    /// Redis: an unknown subcommand and each subcommand's arity get Redis' texts.
    static func object(_ c: CommandCall) throws {
        let sub = c.args[1]
        let subName: String
        let arity: Int
        if sub.equalsLower("help") { (subName, arity) = ("help", 2) }
        else if sub.equalsLower("idletime") { (subName, arity) = ("idletime", 3) }
        else if sub.equalsLower("encoding") { (subName, arity) = ("encoding", 3) }
        else if sub.equalsLower("refcount") { (subName, arity) = ("refcount", 3) }
        else if sub.equalsLower("freq") { (subName, arity) = ("freq", 3) }
        else {
            throw CommandError("ERR unknown subcommand '\(redisFormatArgument(sub, maxBytes: 128))'. Try OBJECT HELP.")
        }
        guard c.argumentCount == arity else { throw CommandError.wrongArity("object|\(subName)") }
        if subName == "help" {
            // Redis' text, except IDLETIME, which counts from the last write here (deliberate).
            let lines = [
                "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ENCODING <key>", "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>", "    Return the access frequency index of the <key>. The returned integer is",
                "    proportional to the logarithm of the recent access frequency of the key.",
                "IDLETIME <key>", "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last write to the key.",
                "REFCOUNT <key>", "    Return the number of references of the value associated with the specified",
                "    <key>.",
                "HELP", "    Prints this help.",
            ]
            c.reply.arrayHeader(lines.count)
            for line in lines { c.reply.simple(line) }
            return
        }
        let now = currentTimeMillis()
        let storage = c.engine.storage
        guard let record = try storage.lookup(c.args[2], now: now) else {
            c.reply.null()
            return
        }
        switch subName {
        case "idletime":
            c.reply.integer(max(0, now - record.updatedAt) / 1000)
        case "refcount":
            c.reply.integer(1)
        case "freq":
            throw CommandError("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        default:
            c.reply.bulk(try encoding(of: c.args[2], record, storage: storage, now: now))
        }
    }

    /// The encoding name Redis would report for a value of this shape.
    static func encoding(of key: ByteView, _ record: KeyRecord, storage: Storage, now: Int64) throws -> String {
        switch record.type {
        case .string:
            guard case .value(let value, _, _) = try storage.readString(key, now: now) else { return "raw" }
            if value.count <= 20, value.parseInt64() != nil { return "int" }
            return value.count <= 44 ? "embstr" : "raw"
        case .hash: return record.count <= 128 ? "listpack" : "hashtable"
        case .set: return record.count <= 128 ? "listpack" : "hashtable"
        case .list: return "quicklist"
        case .zset: return record.count <= 128 ? "listpack" : "skiplist"
        }
    }
}

extension ByteView {
    /// Redis' SCAN cursor (parseScanCursorOrReply): strtoul in base 10 over the whole
    /// argument, so an optional sign is accepted ("-1" wraps, as in C), the empty string is 0,
    /// and a leading space, trailing garbage or overflow is an invalid cursor.
    func parseUnsignedCursor() -> UInt64? {
        if count == 0 { return 0 }
        var index = 0
        var negative = false
        if self[0] == UInt8(ascii: "+") || self[0] == UInt8(ascii: "-") {
            negative = self[0] == UInt8(ascii: "-")
            index = 1
        }
        guard index < count else { return nil }
        var value: UInt64 = 0
        while index < count {
            let digit = self[index] &- 48
            guard digit <= 9 else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
            if o1 || o2 { return nil }
            value = sum
            index += 1
        }
        return negative ? 0 &- value : value
    }
}
