// Hash commands against an in-process server: normal behaviour, missing keys, wrong type
// (WRONGTYPE and nothing changed), key TTL, per-field TTL (HEXPIRE family, lazy hiding and the
// sweeper), binary safety, persistence across restarts, HSCAN cursors, random fields, a
// differential run against a real redis-server, concurrency, and a large hash whose point
// commands stay index lookups. Every test ends with the database's invariants checked.

import Foundation
import XCTest
@testable import RESPLite

/// Arguments from strings ("\xNN" escapes allowed, as in the differential tests).
func argv(_ words: [String]) -> [[UInt8]] { words.map(escapedBytes) }

/// Fails unless the database file satisfies every schema invariant (counts = rows, no orphan
/// members, no empty collections...).
func assertConsistent(_ server: TestServer, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(try consistencyProblems(server.databasePath), [], file: file, line: line)
}

/// Bulk strings of an array reply, sorted (for replies whose order is unspecified).
func sortedElements(_ reply: RESPValue) -> [[UInt8]]? {
    guard case .array(let items) = reply else { return nil }
    var result: [[UInt8]] = []
    for item in items {
        guard case .bulk(let bytes) = item else { return nil }
        result.append(bytes)
    }
    return result.sorted { $0.lexicographicallyPrecedes($1) }
}

/// A flat [k, v, k, v] array reply as sorted pairs.
func sortedPairs(_ reply: RESPValue) -> [[UInt8]]? {
    guard case .array(let items) = reply, items.count % 2 == 0 else { return nil }
    var pairs: [[UInt8]] = []
    var index = 0
    while index < items.count {
        guard case .bulk(let k) = items[index], case .bulk(let v) = items[index + 1] else { return nil }
        pairs.append(k + [0xff, 0xfe] + v)
        index += 2
    }
    return pairs.sorted { $0.lexicographicallyPrecedes($1) }
}

func bulkSet(_ texts: [String]) -> [[UInt8]] {
    texts.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
}

/// Runs command scripts against a real redis-server and RESPLite, comparing replies; replies
/// whose order or content is unspecified are compared as sorted sets, sizes, or full scans.
/// Keys are removed with DEL between scripts (not FLUSHALL).
final class CollectionDifferential {
    let redis: RESPClient
    let lite: RESPClient
    private(set) var mismatches: [String] = []
    private(set) var compared = 0

    init(redis: RESPClient, lite: RESPClient) {
        self.redis = redis
        self.lite = lite
    }

    func run(_ name: String, _ steps: [[String]]) throws {
        try clear()
        for (index, step) in steps.enumerated() {
            let args = argv(step)
            let r = try redis.command(args)
            let l = try lite.command(args)
            compared += 1
            if let problem = try difference(args, r, l) {
                mismatches.append("[\(name) #\(index)] \(step.joined(separator: " ")): \(problem)")
            }
        }
        try clear()
    }

    private func clear() throws {
        var keys = Set<[UInt8]>()
        for client in [redis, lite] {
            if case .array(let items) = try client.command(argv(["KEYS", "*"])) {
                for case .bulk(let key) in items { keys.insert(key) }
            }
        }
        if keys.isEmpty { return }
        let del = [Array("DEL".utf8)] + Array(keys)
        _ = try redis.command(del)
        _ = try lite.command(del)
    }

    private func difference(_ args: [[UInt8]], _ r: RESPValue, _ l: RESPValue) throws -> String? {
        let describe = "redis=\(r) resplite=\(l)"
        if case .error = r { return r == l ? nil : describe }
        let command = String(decoding: args[0], as: UTF8.self).lowercased()
        switch command {
        case "hgetall":
            return sortedPairs(r) == sortedPairs(l) && sortedPairs(r) != nil ? nil : describe
        case "hkeys", "hvals", "smembers", "sinter", "sunion", "sdiff":
            return sortedElements(r) == sortedElements(l) && sortedElements(r) != nil ? nil : describe
        case "spop", "srandmember", "hrandfield":
            // Random: the same shape and size.
            switch (r, l) {
            case (.null, .null), (.bulk, .bulk): return nil
            case (.array(let a), .array(let b)): return a.count == b.count ? nil : describe
            default: return describe
            }
        case "hscan", "sscan":
            guard case .array = r, case .array = l else { return describe }
            let a = try fullScan(redis, args), b = try fullScan(lite, args)
            return a == b ? nil : "full iteration differs: redis=\(a.count) resplite=\(b.count)"
        default:
            return r == l ? nil : describe
        }
    }

    /// Every element (and value) a whole iteration returns, with the same options.
    func fullScan(_ client: RESPClient, _ args: [[UInt8]]) throws -> Set<[UInt8]> {
        var seen = Set<[UInt8]>()
        var cursor = Array("0".utf8)
        for _ in 0..<100_000 {
            var command = args
            command[2] = cursor
            guard case .array(let parts) = try client.command(command), parts.count == 2,
                  case .bulk(let next) = parts[0], case .array(let page) = parts[1] else {
                throw ClientError(message: "bad scan reply")
            }
            for case .bulk(let element) in page { seen.insert(element) }
            cursor = next
            if cursor == Array("0".utf8) { return seen }
        }
        throw ClientError(message: "scan did not finish")
    }
}

final class HashCommandTests: XCTestCase {
    var server: TestServer!
    var client: RESPClient!

    override func setUpWithError() throws {
        server = try TestServer { $0.sweepIntervalMs = 50 }
        client = try server.client()
    }

    override func tearDownWithError() throws {
        if let server { assertConsistent(server) }
        client = nil
        server = nil
    }

    /// With no field TTL in the file, HSET's UPDATE leaves expires_at alone. A TTL another
    /// process writes (a migration tool, between the server's transactions) is noticed when the
    /// next batch begins: HSET then clears it, as Redis does, and the write path purges a field
    /// whose TTL has passed.
    func testFieldTTLsWrittenByAnotherProcessAreNoticed() throws {
        XCTAssertEqual(try client.run("HSET", "h", "f", "v", "g", "w"), int(2))
        XCTAssertEqual(try client.run("HSET", "h", "f", "v2"), int(0))
        XCTAssertEqual(try client.run("HTTL", "h", "FIELDS", "1", "f"), .array([int(-1)]))
        try server.commitPending()
        let now = currentTimeMillis()
        try databaseExecute(server, """
            UPDATE redis_hashes SET expires_at = \(now + 100_000) WHERE field = CAST('f' AS BLOB);
            UPDATE redis_hashes SET expires_at = \(now - 1_000) WHERE field = CAST('g' AS BLOB)
            """)
        XCTAssertEqual(try client.run("HTTL", "h", "FIELDS", "1", "f"), .array([int(100)]))
        XCTAssertEqual(try client.run("HSET", "h", "f", "v3"), int(0))
        XCTAssertEqual(try client.run("HTTL", "h", "FIELDS", "1", "f"), .array([int(-1)]), "HSET cleared the TTL")
        XCTAssertEqual(try client.run("HGET", "h", "g"), null, "g expired")
        XCTAssertEqual(try client.run("HLEN", "h"), int(1))
        XCTAssertEqual(try client.run("HGETALL", "h"), bulks(["f", "v3"]))
    }

    private func run(_ words: String...) throws -> RESPValue { try client.command(argv(words)) }

    private func rows(_ sql: String) throws -> String? { try databaseScalar(server, sql) }

    // MARK: Basics

    func testSetGetDeleteAndLength() throws {
        XCTAssertEqual(try run("HSET", "h", "a", "1", "b", "2"), int(2))
        XCTAssertEqual(try run("HSET", "h", "a", "10", "c", "3", "c", "4"), int(1))  // a updated, c new (twice)
        XCTAssertEqual(try run("HGET", "h", "a"), bulk("10"))
        XCTAssertEqual(try run("HGET", "h", "c"), bulk("4"))
        XCTAssertEqual(try run("HGET", "h", "zz"), null)
        XCTAssertEqual(try run("HGET", "nosuch", "a"), null)
        XCTAssertEqual(try run("HLEN", "h"), int(3))
        XCTAssertEqual(try run("HLEN", "nosuch"), int(0))
        XCTAssertEqual(try run("HMGET", "h", "a", "zz", "b"), .array([bulk("10"), null, bulk("2")]))
        XCTAssertEqual(try run("HMGET", "nosuch", "a", "b"), .array([null, null]))
        XCTAssertEqual(sortedPairs(try run("HGETALL", "h")), sortedPairs(bulks(["a", "10", "b", "2", "c", "4"])))
        XCTAssertEqual(sortedElements(try run("HKEYS", "h")), bulkSet(["a", "b", "c"]))
        XCTAssertEqual(sortedElements(try run("HVALS", "h")), bulkSet(["10", "2", "4"]))
        XCTAssertEqual(try run("HGETALL", "nosuch"), .array([]))
        XCTAssertEqual(try run("HKEYS", "nosuch"), .array([]))
        XCTAssertEqual(try run("HEXISTS", "h", "a"), int(1))
        XCTAssertEqual(try run("HEXISTS", "h", "zz"), int(0))
        XCTAssertEqual(try run("HEXISTS", "nosuch", "a"), int(0))
        XCTAssertEqual(try run("HSTRLEN", "h", "a"), int(2))
        XCTAssertEqual(try run("HSTRLEN", "h", "zz"), int(0))
        XCTAssertEqual(try run("HSETNX", "h", "a", "x"), int(0))
        XCTAssertEqual(try run("HSETNX", "h", "d", "x"), int(1))
        XCTAssertEqual(try run("HSETNX", "new", "f", "v"), int(1))
        XCTAssertEqual(try run("HGET", "new", "f"), bulk("v"))
        XCTAssertEqual(try run("HMSET", "h", "e", "5", "f", "6"), ok)
        XCTAssertEqual(try run("HLEN", "h"), int(6))
        XCTAssertEqual(try run("HDEL", "h", "a", "a", "zz", "b"), int(2))
        XCTAssertEqual(try run("HDEL", "nosuch", "a"), int(0))
        XCTAssertEqual(try run("HLEN", "h"), int(4))
        XCTAssertEqual(try run("HDEL", "h", "c", "d", "e", "f"), int(4))
        XCTAssertEqual(try run("EXISTS", "h"), int(0), "a hash left empty is deleted")
        XCTAssertEqual(try run("TYPE", "new"), simple("hash"))
        // Arity: unpaired fields and values, Redis' texts.
        XCTAssertEqual(try run("HSET", "h", "a"), err("ERR wrong number of arguments for 'hset' command"))
        XCTAssertEqual(try run("HSET", "h", "a", "1", "b"), err("ERR wrong number of arguments for 'hset' command"))
        XCTAssertEqual(try run("HMSET", "h", "a", "1", "b"), err("ERR wrong number of arguments for 'hmset' command"))
        XCTAssertEqual(try run("EXISTS", "h"), int(0))
    }

    func testBinaryFieldsAndValues() throws {
        let field: [UInt8] = [0x00, 0xff, 13, 10, 0x41]
        let value: [UInt8] = [0xff, 0x00, 13, 10, 0x00]
        let key: [UInt8] = [0x6b, 0x00, 0xff]
        XCTAssertEqual(try client.run(bytes: Array("HSET".utf8), key, field, value, [], []), int(2))
        XCTAssertEqual(try client.run(bytes: Array("HGET".utf8), key, field), .bulk(value))
        XCTAssertEqual(try client.run(bytes: Array("HGET".utf8), key, []), .bulk([]))
        XCTAssertEqual(try client.run(bytes: Array("HSTRLEN".utf8), key, field), int(5))
        XCTAssertEqual(sortedPairs(try client.run(bytes: Array("HGETALL".utf8), key)),
                       [[] + [0xff, 0xfe] + [], field + [0xff, 0xfe] + value].sorted { $0.lexicographicallyPrecedes($1) })
        XCTAssertEqual(try client.run(bytes: Array("HEXISTS".utf8), key, [0x00, 0xff, 13, 10]), int(0), "no prefix match")
        try server.restart()
        client = try server.client()
        XCTAssertEqual(try client.run(bytes: Array("HGET".utf8), key, field), .bulk(value))
        XCTAssertEqual(try client.run(bytes: Array("HLEN".utf8), key), int(2))
    }

    func testIncrements() throws {
        XCTAssertEqual(try run("HINCRBY", "h", "n", "5"), int(5))
        XCTAssertEqual(try run("HINCRBY", "h", "n", "-7"), int(-2))
        XCTAssertEqual(try run("HGET", "h", "n"), bulk("-2"))
        XCTAssertEqual(try run("HSET", "h", "s", "abc", "big", "9223372036854775807", "f", "1.5", "sp", " 1"), int(4))
        XCTAssertEqual(try run("HINCRBY", "h", "s", "1"), err("ERR hash value is not an integer"))
        XCTAssertEqual(try run("HINCRBY", "h", "sp", "1"), err("ERR hash value is not an integer"))
        XCTAssertEqual(try run("HINCRBY", "h", "f", "1"), err("ERR hash value is not an integer"))
        XCTAssertEqual(try run("HINCRBY", "h", "big", "1"), err("ERR increment or decrement would overflow"))
        XCTAssertEqual(try run("HINCRBY", "h", "n", "x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(try run("HINCRBY", "h2", "n", "x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(try run("EXISTS", "h2"), int(0), "a failed HINCRBY creates nothing")
        XCTAssertEqual(try run("HGET", "h", "big"), bulk("9223372036854775807"))
        XCTAssertEqual(try run("HINCRBYFLOAT", "h", "f", "0.1"), bulk("1.6"))
        XCTAssertEqual(try run("HINCRBYFLOAT", "h", "n", "1"), bulk("-1"))
        XCTAssertEqual(try run("HINCRBYFLOAT", "h", "g", "2.5e3"), bulk("2500"))
        XCTAssertEqual(try run("HINCRBYFLOAT", "h", "s", "1"), err("ERR hash value is not a float"))
        XCTAssertEqual(try run("HINCRBYFLOAT", "h", "f", "x"), err("ERR value is not a valid float"))
        XCTAssertEqual(try run("HINCRBYFLOAT", "h", "f", "inf"), err("ERR value is NaN or Infinity"))
        XCTAssertEqual(try run("HINCRBYFLOAT", "h", "f", "nan"), err("ERR value is not a valid float"))
        XCTAssertEqual(try run("HINCRBYFLOAT", "h3", "f", "nan"), err("ERR value is not a valid float"))
        XCTAssertEqual(try run("EXISTS", "h3"), int(0))
        XCTAssertEqual(try run("HLEN", "h"), int(6))
    }

    func testWrongTypeChangesNothing() throws {
        XCTAssertEqual(try run("SET", "str", "value"), ok)
        XCTAssertEqual(try run("PEXPIRE", "str", "100000"), int(1))
        let commands: [[String]] = [
            ["HSET", "str", "a", "1"], ["HMSET", "str", "a", "1"], ["HSETNX", "str", "a", "1"], ["HGET", "str", "a"],
            ["HMGET", "str", "a"], ["HGETALL", "str"], ["HKEYS", "str"], ["HVALS", "str"], ["HLEN", "str"],
            ["HDEL", "str", "a"], ["HEXISTS", "str", "a"], ["HSTRLEN", "str", "a"], ["HINCRBY", "str", "a", "1"],
            ["HINCRBYFLOAT", "str", "a", "1"], ["HRANDFIELD", "str"], ["HRANDFIELD", "str", "2"],
            ["HRANDFIELD", "str", "-2", "WITHVALUES"], ["HSCAN", "str", "0"],
            ["HEXPIRE", "str", "10", "FIELDS", "1", "a"], ["HPEXPIREAT", "str", "10", "FIELDS", "1", "a"],
            ["HTTL", "str", "FIELDS", "1", "a"], ["HPTTL", "str", "FIELDS", "1", "a"],
            ["HEXPIRETIME", "str", "FIELDS", "1", "a"], ["HPERSIST", "str", "FIELDS", "1", "a"],
        ]
        for command in commands {
            XCTAssertEqual(try client.command(argv(command)), wrongTypeError, "\(command)")
        }
        XCTAssertEqual(try run("GET", "str"), bulk("value"))
        XCTAssertEqual(try run("TYPE", "str"), simple("string"))
        XCTAssertNotEqual(try run("PTTL", "str"), int(-1))
        XCTAssertEqual(try rows("SELECT count(*) FROM redis_hashes"), "0")
    }

    func testKeyExpiryAndReplacement() throws {
        XCTAssertEqual(try run("HSET", "h", "a", "1"), int(1))
        XCTAssertEqual(try run("PEXPIRE", "h", "100000"), int(1))
        XCTAssertEqual(try run("HSET", "h", "b", "2"), int(1))
        assertPTTL(try run("PTTL", "h"), near: 100_000)  // writes keep the key's TTL
        XCTAssertEqual(try run("PEXPIRE", "h", "30"), int(1))
        usleep(80_000)
        XCTAssertEqual(try run("HLEN", "h"), int(0))
        XCTAssertEqual(try run("HGET", "h", "a"), null)
        XCTAssertEqual(try run("HSET", "h", "c", "3"), int(1), "an expired hash is gone: a new one starts")
        XCTAssertEqual(try run("HGETALL", "h"), bulks(["c", "3"]))
        XCTAssertEqual(try run("PTTL", "h"), int(-1))
        // SET replaces a hash whole; its fields go with it.
        XCTAssertEqual(try run("SET", "h", "s"), ok)
        XCTAssertEqual(try run("HGET", "h", "c"), wrongTypeError)
        XCTAssertEqual(try rows("SELECT count(*) FROM redis_hashes"), "0")
        // RENAME and COPY keep every field.
        XCTAssertEqual(try run("HSET", "x", "a", "1", "b", "2"), int(2))
        XCTAssertEqual(try run("RENAME", "x", "y"), ok)
        XCTAssertEqual(try run("HLEN", "y"), int(2))
        XCTAssertEqual(try run("COPY", "y", "z"), int(1))
        XCTAssertEqual(try run("HGET", "z", "b"), bulk("2"))
        XCTAssertEqual(try run("DEL", "y", "z"), int(2))
        XCTAssertEqual(try rows("SELECT count(*) FROM redis_hashes"), "0")
    }

    func testPersistenceAcrossRestart() throws {
        XCTAssertEqual(try run("HSET", "h", "a", "1", "b", "2", "t", "3"), int(3))
        XCTAssertEqual(try run("HEXPIRE", "h", "1000", "FIELDS", "1", "t"), .array([int(1)]))
        XCTAssertEqual(try run("EXPIRE", "h", "2000"), int(1))
        try server.restart()
        client = try server.client()
        XCTAssertEqual(sortedPairs(try run("HGETALL", "h")), sortedPairs(bulks(["a", "1", "b", "2", "t", "3"])))
        XCTAssertEqual(try run("HTTL", "h", "FIELDS", "2", "t", "a"), .array([int(1000), int(-1)]))
        XCTAssertEqual(try run("TTL", "h"), int(2000))
    }

    // MARK: Random fields

    func testRandomFields() throws {
        XCTAssertEqual(try run("HRANDFIELD", "nosuch"), null)
        XCTAssertEqual(try run("HRANDFIELD", "nosuch", "3"), .array([]))
        XCTAssertEqual(try run("HRANDFIELD", "nosuch", "-3", "WITHVALUES"), .array([]))
        XCTAssertEqual(try run("HSET", "h", "a", "1", "b", "2", "c", "3"), int(3))
        let fields: Set<[UInt8]> = [Array("a".utf8), Array("b".utf8), Array("c".utf8)]
        for _ in 0..<20 {
            guard case .bulk(let one) = try run("HRANDFIELD", "h") else { return XCTFail("bulk expected") }
            XCTAssertTrue(fields.contains(one))
        }
        XCTAssertEqual(try run("HRANDFIELD", "h", "0"), .array([]))
        XCTAssertEqual(sortedElements(try run("HRANDFIELD", "h", "5")), bulkSet(["a", "b", "c"]))
        guard let two = sortedElements(try run("HRANDFIELD", "h", "2")) else { return XCTFail() }
        XCTAssertEqual(Set(two).count, 2)
        guard case .array(let many) = try run("HRANDFIELD", "h", "-10") else { return XCTFail() }
        XCTAssertEqual(many.count, 10)
        guard case .array(let withValues) = try run("HRANDFIELD", "h", "-4", "WITHVALUES") else { return XCTFail() }
        XCTAssertEqual(withValues.count, 8)
        for index in stride(from: 0, to: 8, by: 2) {
            guard case .bulk(let f) = withValues[index], case .bulk(let v) = withValues[index + 1] else { return XCTFail() }
            XCTAssertEqual(try client.command([Array("HGET".utf8), Array("h".utf8), f]), .bulk(v))
        }
        XCTAssertEqual(try run("HRANDFIELD", "h", "x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(try run("HRANDFIELD", "h", "1", "foo"), err("ERR syntax error"))
        XCTAssertEqual(try run("HRANDFIELD", "h", "1", "WITHVALUES", "x"), err("ERR syntax error"))
        XCTAssertEqual(try run("HRANDFIELD", "h", "-9223372036854775808"),
                       err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"))
        XCTAssertEqual(try run("HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"), err("ERR value is out of range"))

        // A hash above the exact-pick size: the O(log n) picks return real, distinct fields.
        var batch: [[[UInt8]]] = []
        for chunk in 0..<5 {
            var command = argv(["HSET", "big"])
            for i in 0..<1_000 { command.append(Array("field:\(chunk * 1_000 + i)".utf8)); command.append(Array("v\(i)".utf8)) }
            batch.append(command)
        }
        XCTAssertTrue(try client.pipeline(batch).allSatisfy { $0.integer == 1_000 })
        guard let picked = sortedElements(try run("HRANDFIELD", "big", "50")) else { return XCTFail() }
        XCTAssertEqual(Set(picked).count, 50)
        XCTAssertTrue(picked.allSatisfy { String(decoding: $0, as: UTF8.self).hasPrefix("field:") })
        var distinctSingles = Set<[UInt8]>()
        for _ in 0..<40 {
            guard case .bulk(let one) = try run("HRANDFIELD", "big") else { return XCTFail() }
            distinctSingles.insert(one)
        }
        XCTAssertGreaterThan(distinctSingles.count, 10, "picks spread over the hash")
        guard case .array(let repeated) = try run("HRANDFIELD", "big", "-30", "WITHVALUES") else { return XCTFail() }
        XCTAssertEqual(repeated.count, 60)
    }

    // MARK: HSCAN

    func testScan() throws {
        XCTAssertEqual(try run("HSCAN", "nosuch", "0"), .array([bulk("0"), .array([])]))
        XCTAssertEqual(try run("HSCAN", "nosuch", "0", "COUNT", "0"), .array([bulk("0"), .array([])]))
        XCTAssertEqual(try run("HSCAN", "h", "x"), err("ERR invalid cursor"))
        XCTAssertEqual(try run("HSET", "h", "a", "1", "b", "2", "ab", "3"), int(3))
        // Small hashes come back whole with cursor 0 (as Redis' listpack encoding).
        guard case .array(let small) = try run("HSCAN", "h", "0", "COUNT", "1"), small.count == 2 else { return XCTFail() }
        XCTAssertEqual(small[0], bulk("0"))
        XCTAssertEqual(sortedPairs(small[1]), sortedPairs(bulks(["a", "1", "b", "2", "ab", "3"])))
        XCTAssertEqual(try run("HSCAN", "h", "0", "MATCH", "a*", "NOVALUES"), .array([bulk("0"), bulks(["a", "ab"])]))
        XCTAssertEqual(try run("HSCAN", "h", "0", "COUNT", "0"), err("ERR syntax error"))
        XCTAssertEqual(try run("HSCAN", "h", "0", "MATCH"), err("ERR syntax error"))
        XCTAssertEqual(try run("HSCAN", "h", "0", "FOO", "1"), err("ERR syntax error"))

        // A large hash: pages bounded by COUNT, integer cursors, every field exactly once
        // without concurrent changes; fields present for the whole scan are never missed when
        // others are added and removed meanwhile.
        var command = argv(["HSET", "big"])
        for i in 0..<1_000 { command.append(Array(String(format: "f%04d", i).utf8)); command.append(Array("\(i)".utf8)) }
        XCTAssertEqual(try client.command(command), int(1_000))
        var seen: [String: Int] = [:]
        var cursor = "0"
        var pages = 0
        repeat {
            guard case .array(let parts) = try run("HSCAN", "big", cursor, "COUNT", "37", "NOVALUES"),
                  case .bulk(let next) = parts[0], case .array(let page) = parts[1] else { return XCTFail() }
            XCTAssertLessThanOrEqual(page.count, 37)
            cursor = String(decoding: next, as: UTF8.self)
            XCTAssertNotNil(UInt64(cursor), "cursor \(cursor) is an unsigned integer")
            for case .bulk(let f) in page { seen[String(decoding: f, as: UTF8.self), default: 0] += 1 }
            // Churn: remove and add other fields while iterating.
            XCTAssertEqual(try run("HDEL", "big", String(format: "f%04d", 999 - pages)), int(1))
            XCTAssertEqual(try run("HSET", "big", "new\(pages)", "x"), int(1))
            pages += 1
        } while cursor != "0" && pages < 200
        XCTAssertEqual(cursor, "0")
        for i in 0..<(1_000 - pages) {
            XCTAssertEqual(seen[String(format: "f%04d", i)], 1, "f\(i) returned once")
        }
        // An unknown cursor restarts the iteration (nothing is missed).
        guard case .array(let restarted) = try run("HSCAN", "big", "12345", "COUNT", "5"),
              case .array(let first) = restarted[1] else { return XCTFail() }
        XCTAssertEqual(first.first, bulk("f0000"))
    }

    // MARK: Field TTL

    func testFieldExpiryCommands() throws {
        XCTAssertEqual(try run("HSET", "h", "a", "1", "b", "2", "c", "3"), int(3))
        XCTAssertEqual(try run("HEXPIRE", "h", "100", "FIELDS", "2", "a", "zz"), .array([int(1), int(-2)]))
        XCTAssertEqual(try run("HTTL", "h", "FIELDS", "3", "a", "b", "zz"), .array([int(100), int(-1), int(-2)]))
        assertPTTL(try run("HPTTL", "h", "FIELDS", "1", "a").array![0], near: 100_000)
        XCTAssertEqual(try run("HEXPIRE", "h", "100", "NX", "FIELDS", "2", "a", "b"), .array([int(0), int(1)]))
        XCTAssertEqual(try run("HEXPIRE", "h", "50", "GT", "FIELDS", "2", "a", "c"), .array([int(0), int(0)]))
        XCTAssertEqual(try run("HEXPIRE", "h", "50", "LT", "FIELDS", "2", "a", "c"), .array([int(1), int(1)]))
        XCTAssertEqual(try run("HEXPIRE", "h", "200", "XX", "FIELDS", "2", "a", "zz"), .array([int(1), int(-2)]))
        XCTAssertEqual(try run("HPEXPIREAT", "h", "4102444800123", "FIELDS", "1", "b"), .array([int(1)]))
        XCTAssertEqual(try run("HPEXPIRETIME", "h", "FIELDS", "1", "b"), .array([int(4102444800123)]))
        XCTAssertEqual(try run("HEXPIRETIME", "h", "FIELDS", "1", "b"), .array([int(4102444801)]))  // rounds up
        XCTAssertEqual(try run("HEXPIREAT", "h", "4102444800", "FIELDS", "1", "b"), .array([int(1)]))
        XCTAssertEqual(try run("HEXPIRETIME", "h", "FIELDS", "1", "b"), .array([int(4102444800)]))
        XCTAssertEqual(try run("HPERSIST", "h", "FIELDS", "3", "a", "zz", "a"), .array([int(1), int(-2), int(-1)]))
        XCTAssertEqual(try run("HTTL", "h", "FIELDS", "1", "a"), .array([int(-1)]))
        // A time now or in the past deletes the field (2); the last field deletes the hash.
        XCTAssertEqual(try run("HEXPIRE", "h", "0", "FIELDS", "1", "c"), .array([int(2)]))
        XCTAssertEqual(try run("HLEN", "h"), int(2))
        XCTAssertEqual(try run("HPEXPIREAT", "h", "1", "FIELDS", "2", "a", "b"), .array([int(2), int(2)]))
        XCTAssertEqual(try run("EXISTS", "h"), int(0))
        // Missing key: -2 for every field; errors in Redis' order and texts.
        XCTAssertEqual(try run("HEXPIRE", "nosuch", "10", "FIELDS", "2", "a", "b"), .array([int(-2), int(-2)]))
        XCTAssertEqual(try run("HTTL", "nosuch", "FIELDS", "1", "a"), .array([int(-2)]))
        XCTAssertEqual(try run("HPERSIST", "nosuch", "FIELDS", "1", "a"), .array([int(-2)]))
        XCTAssertEqual(try run("HSET", "h", "a", "1"), int(1))
        XCTAssertEqual(try run("HEXPIRE", "h", "-1", "FIELDS", "1", "a"), err("ERR invalid expire time, must be >= 0"))
        XCTAssertEqual(try run("HEXPIRE", "h", "abc", "FIELDS", "1", "a"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(try run("HEXPIRE", "h", "99999999999999", "FIELDS", "1", "a"), err("ERR invalid expire time in 'hexpire' command"))
        XCTAssertEqual(try run("HPEXPIRE", "h", "70368744177663", "FIELDS", "1", "a"), err("ERR invalid expire time in 'hpexpire' command"))
        XCTAssertEqual(try run("HEXPIRE", "h", "10", "FIELDS", "0", "a"), err("ERR Parameter `numFields` should be greater than 0"))
        XCTAssertEqual(try run("HEXPIRE", "h", "10", "FIELDS", "2", "a"), err("ERR The `numfields` parameter must match the number of arguments"))
        XCTAssertEqual(try run("HEXPIRE", "h", "10", "FIELD", "1", "a"), err("ERR Mandatory argument FIELDS is missing or not at the right position"))
        XCTAssertEqual(try run("HEXPIRE", "h", "10", "NX", "XX", "FIELDS", "1", "a"), err("ERR Mandatory argument FIELDS is missing or not at the right position"))
        XCTAssertEqual(try run("HTTL", "h", "FIELDS", "0", "a"), err("ERR Number of fields must be a positive integer"))
        XCTAssertEqual(try run("HPERSIST", "h", "FIELDS", "x", "a"), err("ERR Number of fields must be a positive integer"))
        XCTAssertEqual(try run("HEXPIRE", "h", "10", "FIELDS"), err("ERR wrong number of arguments for 'hexpire' command"))
        XCTAssertEqual(try run("HTTL", "h", "FIELDS", "1", "a"), .array([int(-1)]), "errors changed nothing")
    }

    /// HINCRBY/HINCRBYFLOAT of a field that expired, the hash's only one: the increment starts
    /// from 0 and the hash exists afterwards with that one field (the expired field's purge
    /// deletes the emptied key; the write must then create it again, not write to the old id).
    func testIncrementOfTheOnlyFieldAfterItExpired() throws {
        for (command, increment, answer, stored) in [("HINCRBY", "5", int(5), bulk("5")), ("HINCRBYFLOAT", "1.5", bulk("1.5"), bulk("1.5"))] {
            XCTAssertEqual(try run("HSET", "only", "a", "1"), int(1))
            XCTAssertEqual(try run("HPEXPIRE", "only", "20", "FIELDS", "1", "a"), .array([int(1)]))
            usleep(40_000)
            XCTAssertEqual(try run(command, "only", "a", increment), answer, command)
            XCTAssertEqual(try run("EXISTS", "only"), int(1), command)
            XCTAssertEqual(try run("HGET", "only", "a"), stored, command)
            XCTAssertEqual(try run("HLEN", "only"), int(1), command)
            XCTAssertEqual(try rows("SELECT count(*) FROM redis_hashes"), "1", command)
            XCTAssertEqual(try run("DEL", "only"), int(1))
        }
    }

    /// A server skips the search for expired fields while no field has a TTL; one that opens a
    /// file holding field TTLs must still purge them when a write finds them expired (no
    /// sweeper here: the write path alone).
    func testFieldTTLsInAReopenedFileStillExpire() throws {
        let directory = makeTemporaryDirectory()
        let path = directory + "/ttl.db"
        var first: TestServer? = try TestServer(databasePath: path) { $0.sweepIntervalMs = 600_000 }
        let a = try first!.client()
        XCTAssertEqual(try a.command(argv(["HSET", "h", "f", "1", "g", "2"])), int(2))
        XCTAssertEqual(try a.command(argv(["HPEXPIRE", "h", "40", "FIELDS", "1", "f"])), .array([int(1)]))
        first = nil
        let second = try TestServer(databasePath: path) { $0.sweepIntervalMs = 600_000 }
        let b = try second.client()
        usleep(60_000)
        XCTAssertEqual(try b.command(argv(["HSET", "h", "k", "3"])), int(1))
        XCTAssertEqual(try b.command(argv(["HLEN", "h"])), int(2), "the expired field was purged by the write")
        XCTAssertEqual(try databaseScalar(second, "SELECT count(*) FROM redis_hashes"), "2")
        // And a fresh file: no TTL at open, the first HPEXPIRE turns the search on.
        let third = try TestServer { $0.sweepIntervalMs = 600_000 }
        let c = try third.client()
        XCTAssertEqual(try c.command(argv(["HSET", "h", "x", "1", "y", "2"])), int(2))
        XCTAssertEqual(try c.command(argv(["HPEXPIRE", "h", "20", "FIELDS", "1", "x"])), .array([int(1)]))
        usleep(40_000)
        XCTAssertEqual(try c.command(argv(["HSET", "h", "z", "3"])), int(1))
        XCTAssertEqual(try c.command(argv(["HLEN", "h"])), int(2))
        assertConsistent(second)
        assertConsistent(third)
    }

    func testExpiredFieldsNeverShow() throws {
        XCTAssertEqual(try run("HSET", "h", "keep", "1", "gone", "2", "gone2", "3"), int(3))
        XCTAssertEqual(try run("HPEXPIRE", "h", "40", "FIELDS", "2", "gone", "gone2"), .array([int(1), int(1)]))
        XCTAssertEqual(try run("HSET", "h", "reset", "x"), int(1))
        XCTAssertEqual(try run("HPEXPIRE", "h", "40", "FIELDS", "1", "reset"), .array([int(1)]))
        XCTAssertEqual(try run("HSET", "h", "reset", "y"), int(0), "HSET overwrites and clears the field's TTL")
        XCTAssertEqual(try run("HTTL", "h", "FIELDS", "1", "reset"), .array([int(-1)]))
        XCTAssertEqual(try run("HSET", "h", "counter", "5"), int(1))
        XCTAssertEqual(try run("HEXPIRE", "h", "100", "FIELDS", "1", "counter"), .array([int(1)]))
        XCTAssertEqual(try run("HINCRBY", "h", "counter", "1"), int(6))
        XCTAssertEqual(try run("HTTL", "h", "FIELDS", "1", "counter"), .array([int(100)]), "HINCRBY keeps the field's TTL")
        usleep(70_000)
        // Read paths first (lazy hiding), each on a fresh copy of the same state.
        XCTAssertEqual(try run("HGET", "h", "gone"), null)
        XCTAssertEqual(try run("HEXISTS", "h", "gone2"), int(0))
        XCTAssertEqual(try run("HSTRLEN", "h", "gone2"), int(0))
        XCTAssertEqual(try run("HMGET", "h", "gone", "keep"), .array([null, bulk("1")]))
        XCTAssertEqual(try run("HLEN", "h"), int(3))
        XCTAssertEqual(sortedElements(try run("HKEYS", "h")), bulkSet(["keep", "reset", "counter"]))
        XCTAssertEqual(try run("HTTL", "h", "FIELDS", "1", "gone"), .array([int(-2)]))
        XCTAssertEqual(try run("HSETNX", "h", "gone", "new"), int(1), "an expired field is absent")
        XCTAssertEqual(try run("HLEN", "h"), int(4))
        XCTAssertEqual(try rows("SELECT count(*) FROM redis_hashes"), "4")
    }

    func testSweeperDeletesExpiredFieldsAndEmptyHashes() throws {
        var batch: [[[UInt8]]] = []
        for k in 0..<20 {
            batch.append(argv(["HSET", "h\(k)", "a", "1", "b", "2"]))
            batch.append(argv(["HPEXPIRE", "h\(k)", "30", "FIELDS", "1", "a"]))
            if k % 2 == 0 { batch.append(argv(["HPEXPIRE", "h\(k)", "30", "FIELDS", "1", "b"])) }
        }
        _ = try client.pipeline(batch)
        XCTAssertEqual(try rows("SELECT count(*) FROM redis_hashes"), "40")
        let deadline = Date(timeIntervalSinceNow: 5)
        while Date() < deadline, try rows("SELECT count(*) FROM redis_hashes") != "10" { usleep(20_000) }
        // No command touched the hashes: the sweeper alone deleted the fields and the hashes
        // left empty, and adjusted the counts of the others.
        XCTAssertEqual(try rows("SELECT count(*) FROM redis_hashes"), "10")
        XCTAssertEqual(try rows("SELECT count(*) FROM redis_keys WHERE type = 2"), "10")
        XCTAssertEqual(try rows("SELECT sum(count) FROM redis_keys WHERE type = 2"), "10")
        XCTAssertEqual(try run("HLEN", "h1"), int(1))
        XCTAssertEqual(try run("EXISTS", "h0"), int(0))
    }

    // MARK: Against Redis

    func testDifferentialAgainstRedis() throws {
        let redisServer = try RedisServerProcess()
        let diff = CollectionDifferential(redis: try redisServer.client(), lite: client)
        try diff.run("basics", [
            ["HSET", "h", "a", "1", "b", "2"], ["HSET", "h", "a", "3", "c", "4", "c", "5"], ["HGET", "h", "a"], ["HGET", "h", "x"],
            ["HMGET", "h", "a", "x", "c"], ["HGETALL", "h"], ["HKEYS", "h"], ["HVALS", "h"], ["HLEN", "h"],
            ["HEXISTS", "h", "a"], ["HEXISTS", "h", "x"], ["HSTRLEN", "h", "a"], ["HSTRLEN", "h", "x"],
            ["HSETNX", "h", "a", "9"], ["HSETNX", "h", "z", "9"], ["HMSET", "h", "m", "1", "n", "2"], ["HLEN", "h"],
            ["HDEL", "h", "a", "a", "x"], ["HDEL", "h", "b", "c", "z", "m", "n"], ["EXISTS", "h"], ["HGETALL", "h"],
            ["HSET", "h"], ["HSET", "h", "a"], ["HSET", "h", "a", "1", "b"], ["HMSET", "h", "a"], ["HGET", "h"],
            ["HDEL", "h"], ["HLEN"], ["HSETNX", "h", "a"], ["HMGET", "h"], ["HSTRLEN", "h"],
            ["HSET", "\\x00\\xff", "\\x00", "\\xff\r\n", "", ""], ["HGETALL", "\\x00\\xff"], ["HGET", "\\x00\\xff", ""],
            ["HSTRLEN", "\\x00\\xff", "\\x00"],
        ])
        try diff.run("increments", [
            ["HINCRBY", "h", "n", "5"], ["HINCRBY", "h", "n", "-9"], ["HSET", "h", "s", "abc", "big", "9223372036854775807", "f", "1.5"],
            ["HINCRBY", "h", "s", "1"], ["HINCRBY", "h", "big", "1"], ["HINCRBY", "h", "f", "1"], ["HINCRBY", "h", "n", "x"],
            ["HINCRBY", "h", "n", "9223372036854775808"], ["HINCRBY", "h", "n", ""], ["HINCRBY", "h", "n", "-9223372036854775808"],
            ["HINCRBYFLOAT", "h", "f", "0.1"], ["HINCRBYFLOAT", "h", "g", "1e3"], ["HINCRBYFLOAT", "h", "s", "1"],
            ["HINCRBYFLOAT", "h", "f", "x"], ["HINCRBYFLOAT", "h", "f", "inf"], ["HINCRBYFLOAT", "h", "f", "-inf"],
            ["HINCRBYFLOAT", "h", "f", "nan"], ["HINCRBYFLOAT", "h", "f", ""], ["HINCRBYFLOAT", "h", "big", "1"],
            ["HINCRBYFLOAT", "h", "f", "1.0e4000"], ["HINCRBYFLOAT", "h", "n", "-0.5"], ["HGETALL", "h"],
            ["HINCRBYFLOAT", "h2", "x", "nan"], ["EXISTS", "h2"], ["HINCRBY", "h2", "x", "y"], ["EXISTS", "h2"],
        ])
        try diff.run("random-scan", [
            ["HRANDFIELD", "nosuch"], ["HRANDFIELD", "nosuch", "2"], ["HRANDFIELD", "nosuch", "-2", "WITHVALUES"],
            ["HSET", "h", "a", "1", "b", "2", "c", "3"], ["HRANDFIELD", "h"], ["HRANDFIELD", "h", "2"], ["HRANDFIELD", "h", "10"],
            ["HRANDFIELD", "h", "-10"], ["HRANDFIELD", "h", "0"], ["HRANDFIELD", "h", "2", "WITHVALUES"],
            ["HRANDFIELD", "h", "-5", "withvalues"], ["HRANDFIELD", "h", "x"], ["HRANDFIELD", "h", "1", "x"],
            ["HRANDFIELD", "h", "1", "WITHVALUES", "x"], ["HRANDFIELD", "h", "-9223372036854775808"],
            ["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"], ["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"],
            ["HSCAN", "h", "0"], ["HSCAN", "h", "0", "COUNT", "1"], ["HSCAN", "h", "0", "MATCH", "[ab]"], ["HSCAN", "h", "x"],
            ["HSCAN", "h", "0", "COUNT", "0"], ["HSCAN", "h", "0", "COUNT", "x"], ["HSCAN", "h", "0", "MATCH"],
            ["HSCAN", "h", "0", "FOO", "bar"], ["HSCAN", "nosuch", "0", "COUNT", "0"], ["HSCAN", "nosuch", "x"],
            ["HSCAN", "h", "-1"], ["HSCAN", "h", "18446744073709551616"],
        ])
        try diff.run("wrongtype", [
            ["SET", "s", "v"], ["HSET", "s", "a", "1"], ["HGET", "s", "a"], ["HGETALL", "s"], ["HLEN", "s"], ["HDEL", "s", "a"],
            ["HINCRBY", "s", "a", "1"], ["HINCRBY", "s", "a", "x"], ["HINCRBYFLOAT", "s", "a", "x"], ["HSCAN", "s", "0"],
            ["HSCAN", "s", "x"], ["HRANDFIELD", "s"], ["HRANDFIELD", "s", "-1"], ["HRANDFIELD", "s", "x"], ["GET", "s"],
            ["HSET", "h", "a", "1"], ["GET", "h"], ["SET", "h", "v"], ["TYPE", "h"], ["HSET", "h", "a", "1"],
        ])
        try diff.run("ttl", [
            ["HSET", "h", "a", "1"], ["EXPIRE", "h", "100"], ["HSET", "h", "b", "2"], ["TTL", "h"], ["PERSIST", "h"], ["TTL", "h"],
            ["PEXPIRE", "h", "20"], ["HLEN", "h"],
        ])
        for mismatch in diff.mismatches { XCTFail(mismatch) }
        XCTAssertGreaterThan(diff.compared, 100)
        withExtendedLifetime(redisServer) {}
    }

    // MARK: Concurrency and size

    func testConcurrentWritersKeepCountsExact() throws {
        let failures = runWorkers(port: server.port, 6) { worker, c in
            for round in 0..<60 {
                let field = "f\((worker * 7 + round) % 25)"
                _ = try c.command(argv(["HSET", "shared", field, "w\(worker)"]))
                _ = try c.command(argv(["HDEL", "shared", "f\((worker + round) % 25)"]))
                _ = try c.command(argv(["HINCRBY", "counter", "n", "1"]))
                if round % 10 == 0 {
                    _ = try c.command(argv(["HPEXPIRE", "shared", "5", "FIELDS", "1", field]))
                }
            }
        }
        XCTAssertEqual(failures, [])
        XCTAssertEqual(try run("HGET", "counter", "n"), bulk("360"))
        usleep(20_000)
        guard case .integer(let length) = try run("HLEN", "shared") else { return XCTFail() }
        XCTAssertEqual(String(length), try rows("SELECT count(*) FROM redis_hashes h JOIN redis_keys k ON k.id = h.key_id WHERE k.key = CAST('shared' AS BLOB)") ?? "0")
    }

    /// 200,000 fields inserted with pipelined HSETs; the point commands are primary-key lookups
    /// and HLEN reads the count: checked on the query plans (never on wall-clock time).
    func testLargeHashUsesIndexedLookups() throws {
        let total = 200_000, perCommand = 2_000
        var batch: [[[UInt8]]] = []
        for chunk in 0..<(total / perCommand) {
            var command = argv(["HSET", "big"])
            command.reserveCapacity(2 + perCommand * 2)
            for i in 0..<perCommand {
                command.append(Array("field:\(chunk * perCommand + i)".utf8))
                command.append(Array("\(i)".utf8))
            }
            batch.append(command)
        }
        for slice in stride(from: 0, to: batch.count, by: 20) {
            XCTAssertTrue(try client.pipeline(Array(batch[slice..<min(slice + 20, batch.count)])).allSatisfy { $0.integer == Int64(perCommand) })
        }
        XCTAssertEqual(try run("HLEN", "big"), int(Int64(total)))
        XCTAssertEqual(try run("HGET", "big", "field:123456"), bulk("\(123456 % perCommand)"))
        XCTAssertEqual(try run("HEXISTS", "big", "field:nope"), int(0))
        XCTAssertEqual(try run("HPEXPIRE", "big", "100000", "FIELDS", "1", "field:7"), .array([int(1)]))
        XCTAssertEqual(try run("HLEN", "big"), int(Int64(total)))
        guard case .bulk = try run("HRANDFIELD", "big") else { return XCTFail() }

        let connection = try openDatabase(server.databasePath, readOnly: true)
        defer { connection.close() }
        func plan(_ sql: StaticString) throws -> String {
            let statement = try connection.prepare("EXPLAIN QUERY PLAN " + sql.description)
            var lines: [String] = []
            while try statement.step() { lines.append(statement.text(3)) }
            statement.reset()
            return lines.joined(separator: " | ")
        }
        for sql in [HashSQL.get, HashSQL.lengthOf, HashSQL.expiryOf, HashSQL.delete, HashSQL.setExpiry, HashSQL.updateClearingTTL] {
            let text = try plan(sql)
            XCTAssertTrue(text.contains("USING PRIMARY KEY (key_id=? AND field=?)"), "\(sql): \(text)")
        }
        for sql in [HashSQL.expiredCount, HashSQL.purgeExpired] {
            let text = try plan(sql)
            XCTAssertTrue(text.contains("redis_hashes_key_expires (key_id=? AND expires_at<?)"), "\(sql): \(text)")
        }
        XCTAssertTrue(try plan(HashSQL.sweep).contains("redis_hashes_expires_at (expires_at<?)"))
        for sql in [HashSQL.members.first, HashSQL.members.last, HashSQL.members.seek, HashSQL.members.scanAfter] {
            let text = try plan(sql)
            XCTAssertTrue(text.contains("USING PRIMARY KEY (key_id=?") && !text.contains("TEMP B-TREE") && !text.contains("SCAN"), "\(sql): \(text)")
        }
    }
}
