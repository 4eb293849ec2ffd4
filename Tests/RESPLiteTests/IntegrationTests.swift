// Features that cross command families: FLUSHALL and COPY/RENAME with collections, WATCH and
// blocking wakeups through movable keys, blocking zset pops, keyspace events of collections,
// and the hot cache never changing a reply.

import Foundation
import XCTest
@testable import RESPLite

final class IntegrationTests: XCTestCase {
    func testFlushAllClearsCollections() throws {
        try forEachBackend { server in
            let c = try server.client()
            XCTAssertEqual(try c.run("RPUSH", "l", "a", "b"), int(2))
            XCTAssertEqual(try c.run("HSET", "h", "f", "v"), int(1))
            XCTAssertEqual(try c.run("SADD", "s", "m"), int(1))
            XCTAssertEqual(try c.run("ZADD", "z", "1", "m"), int(1))
            XCTAssertEqual(try c.run("FLUSHALL"), ok)
            XCTAssertEqual(try c.run("RPUSH", "l2", "fresh"), int(1))
            XCTAssertEqual(try c.run("LRANGE", "l2", "0", "-1"), bulks(["fresh"]), "no element of a flushed list shows up")
            XCTAssertEqual(try c.run("HGETALL", "h2"), .array([]))
            XCTAssertEqual(try c.run("DBSIZE"), int(1))
            XCTAssertEqual(try consistencyProblems(server.databasePath), [])
        }
    }

    func testCopyAndRenameCollectionsKeepMembers() throws {
        let server = try TestServer()
        let c = try server.client()
        XCTAssertEqual(try c.run("HSET", "h", "a", "1", "b", "2"), int(2))
        XCTAssertEqual(try c.run("EXPIRE", "h", "100"), int(1))
        XCTAssertEqual(try c.run("COPY", "h", "h2"), int(1))
        XCTAssertEqual(try c.run("HGET", "h2", "b"), bulk("2"))
        XCTAssertEqual(try c.run("HLEN", "h2"), int(2))
        XCTAssertGreaterThan(try c.run("TTL", "h2").integer ?? 0, 90)
        XCTAssertEqual(try c.run("RPUSH", "l", "x", "y", "z"), int(3))
        XCTAssertEqual(try c.run("RENAME", "l", "l2"), ok)
        XCTAssertEqual(try c.run("LRANGE", "l2", "0", "-1"), bulks(["x", "y", "z"]))
        XCTAssertEqual(try c.run("COPY", "l2", "h", "REPLACE"), int(1))
        XCTAssertEqual(try c.run("TYPE", "h"), simple("list"))
        XCTAssertEqual(try c.run("LLEN", "h"), int(3))
        XCTAssertGreaterThan(try c.run("MEMORY", "USAGE", "l2").integer ?? 0, 3)
        XCTAssertEqual(try consistencyProblems(server.databasePath), [])
    }

    func testWatchSeesMovableKeys() throws {
        try forEachBackend { server in
            let a = try server.client(), b = try server.client()
            XCTAssertEqual(try a.run("ZADD", "z1", "1", "m"), int(1))
            XCTAssertEqual(try a.run("WATCH", "dest"), ok)
            XCTAssertEqual(try b.run("ZUNIONSTORE", "dest", "1", "z1"), int(1))
            XCTAssertEqual(try a.run("MULTI"), ok)
            XCTAssertEqual(try a.run("PING"), simple("QUEUED"))
            XCTAssertEqual(try a.run("EXEC"), null, "ZUNIONSTORE's destination counts as modified")
            XCTAssertEqual(try a.run("RPUSH", "queue", "1", "2"), int(2))
            XCTAssertEqual(try a.run("WATCH", "queue"), ok)
            XCTAssertEqual(try b.run("LMPOP", "1", "queue", "LEFT"), .array([bulk("queue"), bulks(["1"])]))
            XCTAssertEqual(try a.run("MULTI"), ok)
            XCTAssertEqual(try a.run("PING"), simple("QUEUED"))
            XCTAssertEqual(try a.run("EXEC"), null, "LMPOP's keys count as modified")
        }
    }

    func testBlockingZsetPops() throws {
        try forEachBackend { server in
            let c = try server.client(), pusher = try server.client()
            XCTAssertEqual(try c.run("BZPOPMIN", "none", "0.05"), null)
            XCTAssertEqual(try pusher.run("ZADD", "z", "1", "a", "2", "b", "3", "c"), int(3))
            XCTAssertEqual(try c.run("BZPOPMIN", "none", "z", "1"), .array([bulk("z"), bulk("a"), bulk("1")]))
            XCTAssertEqual(try c.run("BZPOPMAX", "z", "1"), .array([bulk("z"), bulk("c"), bulk("3")]))
            let waiter = try server.client()
            waiter.enqueue([Array("BZPOPMAX".utf8), Array("later".utf8), Array("5".utf8)])
            try waiter.flush()
            try waitForBlockedClients(server, atLeast: 1)
            XCTAssertEqual(try pusher.run("ZADD", "later", "7.5", "x"), int(1))
            XCTAssertEqual(try waiter.readReply(), .array([bulk("later"), bulk("x"), bulk("7.5")]))
            let multi = try server.client()
            multi.enqueue(["BZMPOP", "5", "2", "m1", "m2", "MIN", "COUNT", "2"].map { Array($0.utf8) })
            try multi.flush()
            try waitForBlockedClients(server, atLeast: 1)
            // A ZUNIONSTORE into the waited key wakes the waiter too.
            XCTAssertEqual(try pusher.run("ZUNIONSTORE", "m2", "1", "z"), int(1))
            XCTAssertEqual(try multi.readReply(), .array([bulk("m2"), .array([bulks(["b", "2"])])]))
            XCTAssertEqual(try pusher.run("BZMPOP", "0.05", "1", "m2", "MIN"), null)
            XCTAssertEqual(try consistencyProblems(server.databasePath), [])
        }
    }

    func testKeyspaceEventsOfCollections() throws {
        let server = try TestServer()
        let c = try server.client(), listener = try server.client()
        XCTAssertEqual(try c.run("CONFIG", "SET", "notify-keyspace-events", "Elhzs"), ok)
        XCTAssertEqual(try listener.run("PSUBSCRIBE", "__keyevent@0__:*"), .array([bulk("psubscribe"), bulk("__keyevent@0__:*"), int(1)]))
        XCTAssertEqual(try c.run("HSET", "h", "f", "v"), int(1))
        XCTAssertEqual(try c.run("LPUSH", "l", "x"), int(1))
        XCTAssertEqual(try c.run("ZADD", "z", "1", "m"), int(1))
        XCTAssertEqual(try c.run("SADD", "s", "m"), int(1))
        var events: [String] = []
        for _ in 0..<4 {
            guard case .array(let parts) = try listener.readReply(), parts.count == 4 else { return XCTFail() }
            events.append((parts[2].string ?? "") + "=" + (parts[3].string ?? ""))
        }
        XCTAssertEqual(events, ["__keyevent@0__:hset=h", "__keyevent@0__:lpush=l", "__keyevent@0__:zadd=z", "__keyevent@0__:sadd=s"])
    }

    /// The cache's limits hold: entries, bytes (keys, values and the per-entry overhead), and
    /// values over the size limit are not kept; every read still answers from SQLite.
    func testHotCacheStaysWithinItsLimits() throws {
        func cacheInfo(_ client: RESPClient) throws -> [String: Int] {
            infoFields(try client.run("CACHE.INFO")).compactMapValues { Int($0) }
        }
        let value = String(repeating: "v", count: 1_000)
        let byEntries = try TestServer(configure: { $0.cache.maxEntries = 100 })
        let byBytes = try TestServer(configure: { $0.cache.maxBytes = 50_000; $0.cache.maxValueBytes = 2_000 })
        for server in [byEntries, byBytes] {
            let c = try server.client()
            let keys = (0..<300).map { "limit:\($0)" }
            XCTAssertTrue(try c.pipeline(keys.map { [Array("SET".utf8), Array($0.utf8), Array(value.utf8)] }).allSatisfy { $0 == ok })
            XCTAssertEqual(try c.run("SET", "huge", String(repeating: "h", count: 3_000)), ok)
            for _ in 0..<2 {
                XCTAssertEqual(try c.pipeline(keys.map { [Array("GET".utf8), Array($0.utf8)] }), keys.map { _ in bulk(value) })
            }
            XCTAssertEqual(try c.run("STRLEN", "huge"), int(3_000))
            let info = try cacheInfo(c)
            let entries = info["entries"] ?? -1, bytes = info["bytes"] ?? -1
            XCTAssertLessThanOrEqual(entries, info["max_entries"] ?? 0, "\(info)")
            XCTAssertLessThanOrEqual(bytes, info["max_bytes"] ?? 0, "\(info)")
            XCTAssertGreaterThanOrEqual(info["evictions"] ?? 0, 300, "\(info)")
            XCTAssertGreaterThan(entries, 0, "\(info)")
            // Each entry is accounted with its key, value and overhead.
            XCTAssertGreaterThanOrEqual(bytes, entries * (1_000 + HotCache.entryOverheadBytes), "\(info)")
        }
        // A string over maxValueBytes is never kept: reading it twice misses twice.
        let c = try byBytes.client()
        let before = try cacheInfo(c)["misses"] ?? 0
        _ = try c.run("GET", "huge")
        _ = try c.run("GET", "huge")
        XCTAssertEqual((try cacheInfo(c)["misses"] ?? 0) - before, 2)
    }

    /// The same random commands against a server with the hot cache and one without: every
    /// reply is identical, and the cache was used.
    /// The cache's hash table under a long random mix of inserts, lookups, invalidations and
    /// evictions (backward-shift deletion, no tombstones): checked against a model and its own
    /// invariants throughout, with a table small enough for long probe runs and wrap-around.
    func testHotCacheTableStaysConsistent() throws {
        var options = CacheOptions()
        options.maxEntries = 500  // 1,024 buckets: half full, long probe runs
        let cache = HotCache(options: options)
        var model: [Int64: (key: [UInt8], value: [UInt8]?)] = [:]  // id -> what must still be found
        var seed: UInt64 = 0xcac4e
        func next(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(bound))
        }
        /// The entry's id and value as the cache answers them (nil: not cached).
        func cached(_ key: [UInt8]) -> (id: Int64, value: [UInt8]?)? {
            key.withByteView { view in
                guard case .present(let record, let slot) = cache.probe(view) else { return nil }
                let value = cache.value(at: slot).map { Array($0.storage[$0.offset...]) }
                return (record.id, value)
            }
        }
        for step in 0..<100_000 {
            let id = Int64(next(900))
            let key = Array("key:\(id)".utf8)
            switch next(5) {
            case 0, 1:
                // A string with its value (empty now and then), or the record only.
                let value: [UInt8]? = step % 7 == 0 ? nil : step % 11 == 0 ? [] : Array("v\(step)".utf8)
                let record = KeyRecord(id: id, type: .string, expiresAt: nil, updatedAt: Int64(step), count: 0)
                key.withByteView { key in
                    if let value { value.withByteView { cache.put(key, record, value: $0) } } else { cache.put(key, record) }
                }
                model[id] = (key, value)
            case 2:
                cache.invalidate(id: id)
                model[id] = nil
            case 3:
                key.withByteView { cache.putAbsent($0) }
                model[id] = nil
            default:
                if let found = cached(key) {
                    XCTAssertEqual(found.id, id, "step \(step)")
                    XCTAssertEqual(found.value, model[id]?.value, "step \(step): value of key \(id)")
                }
            }
            // Evictions drop entries: the model keeps only what is cached.
            if cache.count - cache.absentCount < model.count {
                model = model.filter { cached($0.value.key) != nil }
            }
            if step % 5_000 == 0 || step == 99_999 {
                XCTAssertEqual(cache.invariantViolations(), [], "step \(step)")
                for (id, entry) in model {
                    let found = cached(entry.key)
                    XCTAssertEqual(found?.id, id, "step \(step): key \(id) lost")
                    XCTAssertEqual(found?.value, entry.value, "step \(step): value of key \(id)")
                }
            }
        }
        XCTAssertLessThanOrEqual(cache.count, 500)
        XCTAssertGreaterThan(cache.count, 350)
        XCTAssertGreaterThan(cache.evictions, 0)
    }

    /// Eviction is CLOCK: an entry read since the hand last passed survives a round of
    /// evictions that takes the entries nobody read.
    func testHotCacheEvictsEntriesNotReadFirst() throws {
        var options = CacheOptions()
        options.maxEntries = 8
        let cache = HotCache(options: options)
        func put(_ id: Int64) {
            let record = KeyRecord(id: id, type: .string, expiresAt: nil, updatedAt: 0, count: 0)
            Array("key:\(id)".utf8).withByteView { cache.put($0, record) }
        }
        func isCached(_ id: Int64) -> Bool { Array("key:\(id)".utf8).withByteView { cachedEntry(cache, $0) } != nil }
        for id in Int64(0)..<8 { put(id) }
        put(8)  // the hand clears every bit on its first turn and takes key 0
        XCTAssertFalse(isCached(0))
        for id in Int64(2)..<8 where id % 2 == 0 { XCTAssertTrue(isCached(id)) }  // 2, 4, 6 read
        for id in Int64(9)..<12 { put(id) }  // three more: 1, 3, 5 go, the read ones stay
        XCTAssertEqual((1...7).map { isCached(Int64($0)) }, [false, true, false, true, false, true, true])
        XCTAssertEqual(cache.count, 8)
        XCTAssertEqual(cache.invariantViolations(), [])
    }

    /// A value of the same size is rewritten in the entry's own array (no allocation): the new
    /// bytes answer, and an array a reply still holds keeps the old ones (copy-on-write).
    func testHotCacheRewritesSameSizeValueInPlace() throws {
        let cache = HotCache(options: CacheOptions())
        let record = KeyRecord(id: 1, type: .string, expiresAt: nil, updatedAt: 0, count: 0)
        let key = Array("key:1".utf8)
        func value() -> [UInt8]? {
            key.withByteView { view in
                guard case .present(_, let slot) = cache.probe(view) else { return nil }
                return cache.value(at: slot).map { Array($0.storage[$0.offset...]) }
            }
        }
        func held() -> [UInt8] {  // the whole array, as a reply holding it would
            key.withByteView { view in
                guard case .present(_, let slot) = cache.probe(view) else { return [] }
                return cache.value(at: slot)!.storage
            }
        }
        key.withByteView { k in Array("aaaa".utf8).withByteView { cache.put(k, record, value: $0) } }
        let before = held()
        key.withByteView { k in Array("bbbb".utf8).withByteView { cache.put(k, record, value: $0) } }
        XCTAssertEqual(value(), Array("bbbb".utf8))
        XCTAssertEqual(before, Array("key:1aaaa".utf8))
        // Same size, no other holder: rewritten in place; then a longer and an empty value.
        key.withByteView { k in Array("cccc".utf8).withByteView { cache.put(k, record, value: $0) } }
        XCTAssertEqual(value(), Array("cccc".utf8))
        key.withByteView { k in Array("dddddd".utf8).withByteView { cache.put(k, record, value: $0) } }
        XCTAssertEqual(value(), Array("dddddd".utf8))
        key.withByteView { k in [UInt8]().withByteView { cache.put(k, record, value: $0) } }
        XCTAssertEqual(value(), [])
        XCTAssertEqual(cache.bytes, key.count + HotCache.entryOverheadBytes)
        XCTAssertEqual(cache.invariantViolations(), [])
    }

    /// Backward-shift deletion across the end of the table: a probe run 1022, 1023, 0 whose
    /// last entry lives at home (bucket 0) must stay there when the run's first entry goes.
    func testHotCacheRemovalAcrossTheTableEnd() throws {
        var options = CacheOptions()
        options.maxEntries = 500  // 1,024 buckets
        let cache = HotCache(options: options)
        func key(home: Int, skipping used: Set<String>) -> String {
            var candidate = 0
            while true {
                let text = "key:\(candidate)"
                if !used.contains(text), Array(text.utf8).withByteView({ HotCache.hash($0) }) & 1023 == home { return text }
                candidate += 1
            }
        }
        let first = key(home: 1022, skipping: [])
        let second = key(home: 1023, skipping: [first])
        let third = key(home: 0, skipping: [first, second])
        for (id, text) in [first, second, third].enumerated() {
            let record = KeyRecord(id: Int64(id), type: .string, expiresAt: nil, updatedAt: 0, count: 0)
            Array(text.utf8).withByteView { key in [1].withByteView { cache.put(key, record, value: $0) } }
        }
        cache.invalidate(id: 0)
        XCTAssertEqual(cache.invariantViolations(), [])
        XCTAssertNil(Array(first.utf8).withByteView { cachedEntry(cache, $0) })
        XCTAssertEqual(Array(second.utf8).withByteView { cachedEntry(cache, $0) }?.id, 1)
        XCTAssertEqual(Array(third.utf8).withByteView { cachedEntry(cache, $0) }?.id, 2)
    }

    /// The cache's row id → slot index against a Dictionary under a random mix of inserts,
    /// overwrites, removals (backward shift across the table end) and lookups, with ids of
    /// every sign and ids that share a home bucket: it grows past its initial table, empties
    /// keeping and dropping its table, and always answers as the model does.
    func testIdIndexMatchesADictionary() throws {
        var index = IdIndex()
        var model: [Int64: Int32] = [:]
        var seed: UInt64 = 0x1d1d
        func next(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(bound))
        }
        // Few distinct ids at first (long probe runs in a small table), then many (growth).
        let extremes: [Int64] = [0, -1, 1, .min, .max, .min + 1, .max - 1]
        func randomId(_ step: Int) -> Int64 {
            let range = step < 20_000 ? 600 : 6_000
            switch next(10) {
            case 0: return extremes[next(extremes.count)]
            case 1: return -Int64(next(range))
            case 2: return Int64(next(range)) << 40  // many share the low bits
            default: return Int64(next(range))
            }
        }
        // Probe runs across the table's end: ids whose homes are the last and first buckets,
        // removed in a scrambled order, the rest checked after each removal.
        let capacity = IdIndex.initialCapacity
        var wrapping: [Int64] = []
        var candidate: Int64 = 0
        while wrapping.count < 48 {
            let home = IdIndex.home(candidate, capacity: capacity)
            if home >= capacity - 4 || home <= 2 { wrapping.append(candidate) }
            candidate += 1
        }
        for (slot, id) in wrapping.enumerated() { index[id] = Int32(slot) }
        XCTAssertEqual(index.capacity, capacity, "no growth: the runs stay in one table")
        var remaining = Dictionary(uniqueKeysWithValues: wrapping.enumerated().map { ($1, Int32($0)) })
        while !remaining.isEmpty {
            let id = remaining.keys.sorted()[next(remaining.count)]
            index[id] = nil
            remaining[id] = nil
            for (id, slot) in remaining { XCTAssertEqual(index[id], slot, "id \(id) lost after a removal") }
            XCTAssertEqual(index.count, remaining.count)
        }
        var peak = 0
        for step in 0..<60_000 {
            let id = randomId(step)
            switch next(4) {
            case 0, 1:
                let slot = Int32(next(1_000_000))
                index[id] = slot
                model[id] = slot
            case 2:
                index[id] = nil
                model[id] = nil
            default:
                XCTAssertEqual(index[id], model[id], "step \(step): id \(id)")
            }
            peak = max(peak, index.count)
            XCTAssertEqual(index.count, model.count, "step \(step)")
            if step % 2_000 == 0 || step == 59_999 {
                for (id, slot) in model { XCTAssertEqual(index[id], slot, "step \(step): id \(id) lost") }
                XCTAssertLessThanOrEqual(index.count * 2, index.capacity, "step \(step): at most half full")
            }
            if step == 30_000 || step == 45_000 {
                let before = index.capacity
                index.removeAll(keepingCapacity: step == 30_000)
                model.removeAll()
                XCTAssertEqual(index.count, 0)
                XCTAssertEqual(index.capacity, step == 30_000 ? before : IdIndex.initialCapacity)
                for id in extremes + (0..<600).map(Int64.init) { XCTAssertNil(index[id], "id \(id) after removeAll") }
            }
        }
        XCTAssertGreaterThan(peak, IdIndex.initialCapacity / 2, "the index grew")
    }

    /// A read of a missing key leaves an absent entry; every way a key can come to exist must
    /// retire it: a new row (SET and friends, the collection writes, the *STORE and move
    /// commands) and RENAME, which gives an existing row the key (an UPDATE, not an INSERT).
    /// Each key is read missing (three ways), created, then read again, on a server with the
    /// cache and one without; the replies must agree and show the key.
    func testAbsentEntriesRetireWhenTheKeyAppears() throws {
        let cached = try TestServer()
        let uncached = try TestServer(configure: { $0.cache.enabled = false })
        let a = try cached.client(), b = try uncached.client()
        for client in [a, b] {
            try client.run("SET", "src:rename", "r")
            try client.run("SET", "src:copy", "c")
            try client.run("SADD", "src:set", "m", "n")
            try client.run("RPUSH", "src:list", "x", "y")
            try client.run("ZADD", "src:zset", "1", "z")
        }
        let creators: [(String, [String])] = [
            ("set", ["SET", "set", "v"]), ("setnx", ["SETNX", "setnx", "v"]),
            ("mset", ["MSET", "mset", "v", "mset:other", "w"]), ("msetnx", ["MSETNX", "msetnx", "v"]),
            ("incr", ["INCR", "incr"]), ("append", ["APPEND", "append", "v"]),
            ("setrange", ["SETRANGE", "setrange", "1", "v"]), ("getset", ["GETSET", "getset", "v"]),
            ("rename", ["RENAME", "src:rename", "rename"]), ("copy", ["COPY", "src:copy", "copy"]),
            ("hset", ["HSET", "hset", "f", "v"]), ("lpush", ["LPUSH", "lpush", "v"]),
            ("sadd", ["SADD", "sadd", "m"]), ("zadd", ["ZADD", "zadd", "1", "m"]),
            ("smove", ["SMOVE", "src:set", "smove", "m"]), ("lmove", ["LMOVE", "src:list", "lmove", "LEFT", "RIGHT"]),
            ("sunionstore", ["SUNIONSTORE", "sunionstore", "src:set"]),
            ("zunionstore", ["ZUNIONSTORE", "zunionstore", "1", "src:zset"]),
        ]
        for (key, creator) in creators {
            var steps = [["GET", key], ["EXISTS", key], ["TYPE", key], ["GET", key], creator]
            steps += [["EXISTS", key], ["TYPE", key], ["GET", key]]
            var replies: [RESPValue] = []
            for step in steps {
                let reply = try a.command(step.map { Array($0.utf8) })
                XCTAssertEqual(reply, try b.command(step.map { Array($0.utf8) }), "\(key): \(step)")
                replies.append(reply)
            }
            XCTAssertEqual(replies[1], .integer(0), "\(key) was missing")
            XCTAssertEqual(replies[5], .integer(1), "\(key) exists after \(creator)")
        }
        let info = infoFields(try a.run("CACHE.INFO"))
        XCTAssertGreaterThan(Int(info["hits"] ?? "") ?? 0, creators.count, "second reads of missing keys were answered by the cache: \(info)")
        // Read-only: the absent entries stay and answer.
        XCTAssertEqual(try a.run("GET", "never"), null)
        let before = infoFields(try a.run("CACHE.INFO"))
        XCTAssertEqual(try a.run("EXISTS", "never"), .integer(0))
        let after = infoFields(try a.run("CACHE.INFO"))
        XCTAssertEqual(Int(after["hits"] ?? ""), (Int(before["hits"] ?? "") ?? 0) + 1, "\(after)")
        XCTAssertGreaterThan(Int(after["absent_entries"] ?? "") ?? 0, 0, "\(after)")
    }

    /// A command that creates a missing key leaves no absent entry (its own insert would retire
    /// it at once; it would only take the place of a useful entry); a read of a missing key does.
    func testWritersOfNewKeysLeaveNoAbsentEntries() throws {
        let server = try TestServer()
        let client = try server.client()
        for command in [["LPUSH", "l", "x"], ["RPUSH", "r", "x"], ["SADD", "s", "m"], ["HSET", "h", "f", "v"],
                        ["HINCRBY", "hi", "f", "1"], ["ZADD", "z", "1", "m"], ["ZINCRBY", "zi", "1", "m"],
                        ["APPEND", "a", "x"], ["SETRANGE", "sr", "1", "x"], ["INCRBYFLOAT", "f", "1.5"], ["INCR", "i"]] {
            XCTAssertNil(errorText(try client.command(command.map { Array($0.utf8) })), "\(command)")
            XCTAssertEqual(infoFields(try client.run("CACHE.INFO"))["absent_entries"], "0", "after \(command)")
        }
        XCTAssertEqual(try client.run("GET", "missing"), null)
        XCTAssertEqual(infoFields(try client.run("CACHE.INFO"))["absent_entries"], "1")
    }

    /// SET of a string the hot cache holds updates its row by id: TTL options, KEEPTTL, GET,
    /// a cached entry that expired meanwhile, and another type, against a server without cache.
    func testSetOfACachedStringMatchesUncached() throws {
        let cached = try TestServer()
        let uncached = try TestServer(configure: { $0.cache.enabled = false })
        let a = try cached.client(), b = try uncached.client()
        let steps: [[String]] = [
            ["SET", "k", "v", "EX", "100"], ["GET", "k"], ["SET", "k", "w", "KEEPTTL"], ["TTL", "k"], ["GET", "k"],
            ["SET", "k", "x"], ["TTL", "k"], ["GET", "k"], ["SET", "k", "y", "PX", "100000"], ["GET", "k"],
            ["SET", "k", "z", "GET"], ["GET", "k"], ["SET", "k", "n", "NX"], ["SET", "k", "xx", "XX"], ["GET", "k"],
            ["MSET", "k", "m", "j", "1"], ["GET", "k"], ["INCR", "j"], ["GET", "j"], ["SET", "j", "5"], ["GET", "j"],
            ["HSET", "h", "f", "v"], ["GET", "h"], ["HLEN", "h"], ["SET", "h", "now a string"], ["GET", "h"], ["TYPE", "h"],
            ["SET", "e", "v", "PX", "30"], ["GET", "e"], ["SLEEP"], ["SET", "e", "w", "KEEPTTL"], ["TTL", "e"], ["GET", "e"],
        ]
        let replies = try sameReplies(a, b, steps)
        XCTAssertEqual(replies["3"], .integer(100), "KEEPTTL kept the TTL")
        XCTAssertEqual(replies["4"], bulk("w"))
        XCTAssertEqual(replies["6"], .integer(-1), "a plain SET dropped it")
        XCTAssertEqual(replies["10"], bulk("y"), "SET ... GET answered the old value")
        XCTAssertEqual(replies["25"], bulk("now a string"))
        XCTAssertEqual(replies["31"], .integer(-1), "KEEPTTL on an expired key keeps nothing")
        XCTAssertEqual(replies["32"], bulk("w"))
    }

    /// Strings written by SET (and MSET, SETEX...) and INCR go into the cache with their row id
    /// and TTL: the GET that follows answers from it, and replies match a server without cache
    /// (TTLs, KEEPTTL, values over the size limit, INCR of a key with a TTL).
    func testWrittenStringsAreCachedExactly() throws {
        let cached = try TestServer(configure: { $0.cache.maxValueBytes = 100 })
        let uncached = try TestServer(configure: { $0.cache.enabled = false })
        let a = try cached.client(), b = try uncached.client()
        func cacheCounts() throws -> (hits: Int, misses: Int) {
            let info = infoFields(try a.run("CACHE.INFO"))
            return (Int(info["hits"] ?? "") ?? -1, Int(info["misses"] ?? "") ?? -1)
        }
        XCTAssertEqual(try a.run("SET", "k", "v1", "EX", "100"), ok)
        let before = try cacheCounts()
        XCTAssertEqual(try a.run("GET", "k"), bulk("v1"))
        let after = try cacheCounts()
        XCTAssertEqual(after.hits - before.hits, 1, "the GET after SET hit")
        XCTAssertEqual(after.misses, before.misses)
        let steps: [[String]] = [
            ["SET", "k", "v1", "EX", "100"], ["GET", "k"], ["TTL", "k"], ["SET", "k", "v2", "KEEPTTL"], ["GET", "k"], ["TTL", "k"],
            ["SET", "k", "v3"], ["TTL", "k"], ["INCR", "n"], ["INCR", "n"], ["GET", "n"], ["EXPIRE", "n", "50"], ["INCRBY", "n", "5"],
            ["TTL", "n"], ["GET", "n"], ["SET", "big", String(repeating: "b", count: 150)], ["GET", "big"], ["APPEND", "big", "c"],
            ["STRLEN", "big"], ["MSET", "m1", "x", "m2", "y"], ["MGET", "m1", "m2"], ["SETEX", "e", "100", "z"], ["TTL", "e"],
            ["GETSET", "e", "w"], ["TTL", "e"], ["GET", "e"], ["SET", "p", "1", "PX", "40"], ["INCR", "p"], ["SLEEP"], ["GET", "p"],
            ["INCR", "p"], ["TTL", "p"], ["RPUSH", "l", "a"], ["SET", "l", "s"], ["GET", "l"], ["TYPE", "l"],
            // A cached string rewritten with a value too large for the cache, and back.
            ["SET", "grow", "small"], ["GET", "grow"], ["SET", "grow", String(repeating: "g", count: 150)], ["GET", "grow"],
            ["SET", "grow", "small2"], ["GET", "grow"], ["SET", "grow", String(repeating: "h", count: 150), "KEEPTTL"], ["GET", "grow"],
        ]
        try sameReplies(a, b, steps)
        XCTAssertEqual(try a.run("GET", "p"), bulk("1"), "INCR of an expired key starts from 0 without the old TTL")
        XCTAssertEqual(try a.run("TTL", "p"), int(-1))
    }

    /// Absent entries in the table: answered until the next key-row write, refreshed in place,
    /// replaced by a row's entry, evicted and removed like any entry, invariants kept.
    func testHotCacheAbsentEntries() throws {
        var options = CacheOptions()
        options.maxEntries = 4
        let cache = HotCache(options: options)
        func probe(_ text: String) -> String {
            switch Array(text.utf8).withByteView({ cache.probe($0) }) {
            case .miss: return "miss"
            case .absent: return "absent"
            case .present(let record, _): return "present \(record.id)"
            }
        }
        func absent(_ text: String) { Array(text.utf8).withByteView { cache.putAbsent($0) } }
        func present(_ text: String, _ id: Int64) {
            let record = KeyRecord(id: id, type: .string, expiresAt: nil, updatedAt: 0, count: 0)
            Array(text.utf8).withByteView { key in [1].withByteView { cache.put(key, record, value: $0) } }
        }
        absent("a")
        present("b", 2)
        XCTAssertEqual(probe("a"), "absent")
        XCTAssertEqual(cache.absentCount, 1)
        cache.keyRowWritten(id: 0)
        XCTAssertEqual(probe("a"), "miss", "a key-row write retires absent entries")
        XCTAssertEqual(probe("b"), "present 2", "and leaves the entries of rows")
        absent("a")  // refreshed in place
        XCTAssertEqual(probe("a"), "absent")
        XCTAssertEqual(cache.count, 2)
        present("a", 1)  // the key now has a row
        XCTAssertEqual(probe("a"), "present 1")
        XCTAssertEqual(cache.absentCount, 0)
        cache.invalidate(id: 1)
        XCTAssertEqual(probe("a"), "miss")
        absent("b")  // a row's entry becomes absent: its id no longer leads to it
        XCTAssertEqual(cache.absentCount, 1)
        cache.invalidate(id: 2)
        XCTAssertEqual(probe("b"), "absent")
        XCTAssertEqual(cache.invariantViolations(), [])
        for text in ["c", "d", "e", "f"] { absent(text) }  // four entries at most: one of five evicted
        XCTAssertEqual(cache.count, 4)
        XCTAssertEqual(cache.absentCount, 4)
        let answers = ["b", "c", "d", "e", "f"].map { ($0, probe($0)) }
        XCTAssertEqual(answers.filter { $0.1 == "miss" }.count, 1, "\(answers)")
        XCTAssertEqual(answers.filter { $0.1 == "absent" }.count, 4, "\(answers)")
        let kept = answers.first { $0.1 == "absent" }!.0
        Array(kept.utf8).withByteView { cache.remove($0) }
        XCTAssertEqual(probe(kept), "miss")
        XCTAssertEqual(cache.absentCount, 3)
        XCTAssertEqual(cache.invariantViolations(), [])
        cache.clear()
        XCTAssertEqual(cache.absentCount, 0)
        XCTAssertEqual(probe("f"), "miss")
        XCTAssertEqual(cache.invariantViolations(), [])
    }

    func testHotCacheNeverChangesAReply() throws {
        let cached = try TestServer(configure: { $0.cache.maxEntries = 64 })
        let uncached = try TestServer(configure: { $0.cache.enabled = false })
        let a = try cached.client(), b = try uncached.client()
        var generator = SystemRandomNumberGenerator()
        var seed = UInt64.random(in: 0...UInt64.max, using: &generator)
        func next(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(bound))
        }
        let keys = (0..<40).map { "k\($0)" }
        var history: [String] = []
        for step in 0..<3_000 {
            let key = keys[next(keys.count)], other = keys[next(keys.count)]
            let command: [String]
            switch next(34) {
            case 0, 1, 2: command = ["GET", key]
            case 3: command = ["SET", key, "v\(step)"]
            case 4: command = ["SET", key, "v\(step)", "PX", "1"]
            case 5: command = ["INCR", key]
            case 6: command = ["APPEND", key, "+"]
            case 7: command = ["DEL", key]
            case 8: command = ["EXPIRE", key, "\(next(3))"]
            case 9: command = ["PERSIST", key]
            case 10: command = ["RENAME", key, other]
            case 11: command = ["COPY", key, other, "REPLACE"]
            case 12: command = ["HSET", key, "f\(next(3))", "x"]
            case 13: command = ["LPUSH", key, "e"]
            case 14: command = ["TYPE", key]
            case 15: command = ["STRLEN", key]
            case 16: command = ["MGET", key, other]
            case 17: command = ["GETDEL", key]
            case 18: command = ["SETRANGE", key, "2", "zz"]
            case 19: command = ["TTL", key]
            case 20: command = ["EXISTS", key, other]
            // Collections: counts corrected in the cached entry by each write (adjustCount).
            case 21: command = ["HLEN", key]
            case 22: command = ["HDEL", key, "f\(next(3))"]
            case 23: command = ["LLEN", key]
            case 24: command = [next(2) == 0 ? "LPOP" : "RPOP", key]
            case 25: command = ["SADD", key, "m\(next(4))"]
            case 26: command = ["SREM", key, "m\(next(4))"]
            case 27: command = ["SCARD", key]
            case 28: command = ["ZADD", key, "\(next(5))", "z\(next(4))"]
            case 29: command = ["ZREM", key, "z\(next(4))"]
            case 30: command = ["ZCARD", key]
            case 31: command = ["OBJECT", "IDLETIME", key]
            case 32: command = ["HSET", key, "f\(next(3))", "y", "g\(next(3))", "z"]
            default: command = next(50) == 0 ? ["FLUSHDB"] : ["GETEX", key, "PERSIST"]
            }
            var replyA = try a.command(command.map { Array($0.utf8) })
            let replyB = try b.command(command.map { Array($0.utf8) })
            if command[0] == "TTL", let x = replyA.integer, let y = replyB.integer, abs(x - y) <= 1 { replyA = replyB }
            // Expire on both servers before the next command (no race at the boundary).
            if command[0] == "SET" && command.count == 5 { usleep(3_000) }
            history.append("\(step): \(command) -> \(replyA) | \(replyB)")
            XCTAssertEqual(replyA, replyB, "step \(step): \(command)")
            if replyA != replyB {
                let involved = Set(command.dropFirst().prefix(2))
                print(history.filter { line in involved.contains { line.contains("\"\($0)\"") } }.suffix(25).joined(separator: "\n"))
                break
            }
        }
        let info = infoFields(try a.run("CACHE.INFO"))
        XCTAssertEqual(info["enabled"], "1", "\(info)")
        XCTAssertGreaterThan(Int(info["hits"] ?? "") ?? 0, 100, "the cache served reads: \(info)")
        XCTAssertTrue((try b.run("CACHE.INFO").string ?? "").contains("enabled:0"))
    }
}

/// The entry of a row the cache holds for `key` (nil for a miss or an absent entry).
/// Runs the steps on both clients (a server with the cache, one without) and asserts equal
/// replies (TTLs within a second; a step ["SLEEP"] waits 60 ms); the replies by step index.
@discardableResult
private func sameReplies(_ a: RESPClient, _ b: RESPClient, _ steps: [[String]],
                         file: StaticString = #filePath, line: UInt = #line) throws -> [String: RESPValue] {
    var replies: [String: RESPValue] = [:]
    for (index, step) in steps.enumerated() {
        if step == ["SLEEP"] { usleep(60_000); continue }
        let reply = try a.command(step.map { Array($0.utf8) })
        var other = try b.command(step.map { Array($0.utf8) })
        if step[0] == "TTL", let x = reply.integer, let y = other.integer, abs(x - y) <= 1 { other = reply }
        XCTAssertEqual(reply, other, "step \(index): \(step)", file: file, line: line)
        replies["\(index)"] = reply
    }
    return replies
}

private func cachedEntry(_ cache: HotCache, _ key: ByteView) -> KeyRecord? {
    if case .present(let record, _) = cache.probe(key) { return record }
    return nil
}
