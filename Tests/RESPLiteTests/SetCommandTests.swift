// Set commands against an in-process server: members, random pops, SMOVE, the set algebra and
// its *STORE forms (destination = source included), SINTERCARD, SSCAN, wrong type, key TTL,
// binary members, persistence, a differential run against redis-server, concurrency, and a
// large set whose point commands stay index lookups. Every test ends with the database's
// invariants checked.

import Foundation
import XCTest
@testable import RESPLite

final class SetCommandTests: XCTestCase {
    var server: TestServer!
    var client: RESPClient!

    override func setUpWithError() throws {
        server = try TestServer()
        client = try server.client()
    }

    override func tearDownWithError() throws {
        if let server { assertConsistent(server) }
        client = nil
        server = nil
    }

    private func run(_ words: String...) throws -> RESPValue { try client.command(argv(words)) }

    private func rows(_ sql: String) throws -> String? { try databaseScalar(server, sql) }

    private func members(_ key: String) throws -> [[UInt8]]? { sortedElements(try run("SMEMBERS", key)) }

    // MARK: Members

    func testAddRemoveAndMembership() throws {
        XCTAssertEqual(try run("SADD", "s", "a", "b", "a", "c"), int(3))
        XCTAssertEqual(try run("SADD", "s", "a", "d"), int(1))
        XCTAssertEqual(try run("SCARD", "s"), int(4))
        XCTAssertEqual(try run("SCARD", "nosuch"), int(0))
        XCTAssertEqual(try members("s"), bulkSet(["a", "b", "c", "d"]))
        XCTAssertEqual(try run("SMEMBERS", "nosuch"), .array([]))
        XCTAssertEqual(try run("SISMEMBER", "s", "a"), int(1))
        XCTAssertEqual(try run("SISMEMBER", "s", "z"), int(0))
        XCTAssertEqual(try run("SISMEMBER", "nosuch", "a"), int(0))
        XCTAssertEqual(try run("SMISMEMBER", "s", "a", "z", "d"), .array([int(1), int(0), int(1)]))
        XCTAssertEqual(try run("SMISMEMBER", "nosuch", "a", "b"), .array([int(0), int(0)]))
        XCTAssertEqual(try run("SREM", "s", "a", "a", "z"), int(1))
        XCTAssertEqual(try run("SREM", "nosuch", "a"), int(0))
        XCTAssertEqual(try run("SCARD", "s"), int(3))
        XCTAssertEqual(try run("SREM", "s", "b", "c", "d"), int(3))
        XCTAssertEqual(try run("EXISTS", "s"), int(0), "a set left empty is deleted")
        XCTAssertEqual(try run("SADD", "s"), err("ERR wrong number of arguments for 'sadd' command"))
        XCTAssertEqual(try rows("SELECT count(*) FROM redis_sets"), "0")
    }

    func testBinaryMembersAndPersistence() throws {
        let member: [UInt8] = [0x00, 0xff, 13, 10, 0x00]
        XCTAssertEqual(try client.run(bytes: Array("SADD".utf8), Array("b".utf8), member, [], [0x00]), int(3))
        XCTAssertEqual(try client.run(bytes: Array("SISMEMBER".utf8), Array("b".utf8), member), int(1))
        XCTAssertEqual(try client.run(bytes: Array("SISMEMBER".utf8), Array("b".utf8), [0x00, 0xff, 13, 10]), int(0))
        XCTAssertEqual(try client.run(bytes: Array("SISMEMBER".utf8), Array("b".utf8), []), int(1))
        XCTAssertEqual(try run("SADD", "t", "x", "y"), int(2))
        XCTAssertEqual(try run("EXPIRE", "t", "1000"), int(1))
        try server.restart()
        client = try server.client()
        XCTAssertEqual(try members("b"), [[], [0x00], member].sorted { $0.lexicographicallyPrecedes($1) })
        XCTAssertEqual(try run("SCARD", "t"), int(2))
        XCTAssertEqual(try run("TTL", "t"), int(1000))
    }

    func testWrongTypeChangesNothing() throws {
        XCTAssertEqual(try run("SET", "str", "value"), ok)
        XCTAssertEqual(try run("SADD", "s", "a"), int(1))
        let commands: [[String]] = [
            ["SADD", "str", "a"], ["SREM", "str", "a"], ["SMEMBERS", "str"], ["SISMEMBER", "str", "a"],
            ["SMISMEMBER", "str", "a"], ["SCARD", "str"], ["SPOP", "str"], ["SPOP", "str", "2"], ["SRANDMEMBER", "str"],
            ["SRANDMEMBER", "str", "-2"], ["SMOVE", "str", "s", "a"], ["SMOVE", "s", "str", "a"], ["SINTER", "s", "str"],
            ["SINTER", "nosuch", "str"], ["SUNION", "str", "s"], ["SDIFF", "s", "str"], ["SDIFF", "nosuch", "str"],
            ["SINTERSTORE", "d", "s", "str"], ["SUNIONSTORE", "d", "str"], ["SDIFFSTORE", "d", "s", "str"],
            ["SINTERCARD", "2", "s", "str"], ["SSCAN", "str", "0"],
        ]
        for command in commands {
            XCTAssertEqual(try client.command(argv(command)), wrongTypeError, "\(command)")
        }
        XCTAssertEqual(try run("GET", "str"), bulk("value"))
        XCTAssertEqual(try members("s"), bulkSet(["a"]))
        XCTAssertEqual(try run("EXISTS", "d"), int(0))
        // A missing source answers 0 before the destination's type is checked (Redis' order).
        XCTAssertEqual(try run("SMOVE", "nosuch", "str", "a"), int(0))
    }

    func testKeyExpiry() throws {
        XCTAssertEqual(try run("SADD", "s", "a"), int(1))
        XCTAssertEqual(try run("PEXPIRE", "s", "100000"), int(1))
        XCTAssertEqual(try run("SADD", "s", "b"), int(1))
        assertPTTL(try run("PTTL", "s"), near: 100_000)
        XCTAssertEqual(try run("PEXPIRE", "s", "20"), int(1))
        usleep(60_000)
        XCTAssertEqual(try run("SCARD", "s"), int(0))
        XCTAssertEqual(try run("SISMEMBER", "s", "a"), int(0))
        XCTAssertEqual(try run("SMOVE", "s", "t", "a"), int(0))
        XCTAssertEqual(try run("SADD", "s", "c"), int(1))
        XCTAssertEqual(try members("s"), bulkSet(["c"]))
        XCTAssertEqual(try run("TTL", "s"), int(-1))
    }

    // MARK: Random members

    func testPopAndRandomMember() throws {
        XCTAssertEqual(try run("SPOP", "nosuch"), null)
        XCTAssertEqual(try run("SPOP", "nosuch", "2"), .array([]))
        XCTAssertEqual(try run("SRANDMEMBER", "nosuch"), null)
        XCTAssertEqual(try run("SRANDMEMBER", "nosuch", "-2"), .array([]))
        XCTAssertEqual(try run("SADD", "s", "a", "b", "c", "d", "e"), int(5))
        XCTAssertEqual(try run("SPOP", "s", "-1"), err("ERR value is out of range, must be positive"))
        XCTAssertEqual(try run("SPOP", "s", "x"), err("ERR value is out of range, must be positive"))
        XCTAssertEqual(try run("SPOP", "s", "1", "2"), err("ERR syntax error"))
        XCTAssertEqual(try run("SRANDMEMBER", "s", "x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(try run("SRANDMEMBER", "s", "-9223372036854775808"),
                       err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"))
        XCTAssertEqual(try run("SPOP", "s", "0"), .array([]))
        XCTAssertEqual(try run("SRANDMEMBER", "s", "0"), .array([]))
        XCTAssertEqual(try run("SCARD", "s"), int(5))
        guard let three = sortedElements(try run("SRANDMEMBER", "s", "3")) else { return XCTFail() }
        XCTAssertEqual(Set(three).count, 3)
        XCTAssertEqual(sortedElements(try run("SRANDMEMBER", "s", "9")), bulkSet(["a", "b", "c", "d", "e"]))
        guard case .array(let repeated) = try run("SRANDMEMBER", "s", "-12") else { return XCTFail() }
        XCTAssertEqual(repeated.count, 12)
        guard case .bulk(let popped) = try run("SPOP", "s") else { return XCTFail() }
        XCTAssertEqual(try client.command([Array("SISMEMBER".utf8), Array("s".utf8), popped]), int(0))
        XCTAssertEqual(try run("SCARD", "s"), int(4))
        guard let two = sortedElements(try run("SPOP", "s", "2")) else { return XCTFail() }
        XCTAssertEqual(Set(two).count, 2)
        XCTAssertEqual(try run("SCARD", "s"), int(2))
        guard let rest = sortedElements(try run("SPOP", "s", "10")) else { return XCTFail() }
        XCTAssertEqual(rest.count, 2)
        XCTAssertEqual(Set(two + rest + [popped]).count, 5, "every member popped once")
        XCTAssertEqual(try run("EXISTS", "s"), int(0))

        // Above the exact-pick size: O(log n) picks still return real members, and SPOP with a
        // count removes exactly what it returns.
        var command = argv(["SADD", "big"])
        for i in 0..<5_000 { command.append(Array("member:\(i)".utf8)) }
        XCTAssertEqual(try client.command(command), int(5_000))
        guard let picked = sortedElements(try run("SPOP", "big", "100")) else { return XCTFail() }
        XCTAssertEqual(Set(picked).count, 100)
        XCTAssertEqual(try run("SCARD", "big"), int(4_900))
        for member in picked.prefix(10) {
            XCTAssertEqual(try client.command([Array("SISMEMBER".utf8), Array("big".utf8), member]), int(0))
        }
        var singles = Set<[UInt8]>()
        for _ in 0..<40 {
            guard case .bulk(let one) = try run("SPOP", "big") else { return XCTFail() }
            XCTAssertTrue(singles.insert(one).inserted)
        }
        XCTAssertEqual(try run("SCARD", "big"), int(4_860))
        guard case .array(let many) = try run("SRANDMEMBER", "big", "-500") else { return XCTFail() }
        XCTAssertEqual(many.count, 500)
        XCTAssertGreaterThan(Set(many.compactMap { $0.string }).count, 50)
    }

    // MARK: SMOVE

    func testMove() throws {
        XCTAssertEqual(try run("SADD", "src", "a", "b"), int(2))
        XCTAssertEqual(try run("SMOVE", "src", "dst", "z"), int(0))
        XCTAssertEqual(try run("EXISTS", "dst"), int(0), "nothing moved: the destination is not created")
        XCTAssertEqual(try run("SMOVE", "src", "dst", "a"), int(1))
        XCTAssertEqual(try members("dst"), bulkSet(["a"]))
        XCTAssertEqual(try run("SADD", "src", "a"), int(1))
        XCTAssertEqual(try run("SMOVE", "src", "dst", "a"), int(1), "already in the destination: still moved")
        XCTAssertEqual(try run("SCARD", "dst"), int(1))
        XCTAssertEqual(try run("SMOVE", "src", "src", "b"), int(1), "same key: membership, no change")
        XCTAssertEqual(try run("SMOVE", "src", "src", "z"), int(0))
        XCTAssertEqual(try members("src"), bulkSet(["b"]))
        XCTAssertEqual(try run("SMOVE", "src", "dst", "b"), int(1))
        XCTAssertEqual(try run("EXISTS", "src"), int(0), "an emptied source is deleted")
        XCTAssertEqual(try members("dst"), bulkSet(["a", "b"]))
    }

    // MARK: Algebra

    func testAlgebraAndStore() throws {
        XCTAssertEqual(try run("SADD", "a", "1", "2", "3", "4", "5"), int(5))
        XCTAssertEqual(try run("SADD", "b", "4", "5", "6"), int(3))
        XCTAssertEqual(try run("SADD", "c", "5", "6", "7"), int(3))
        XCTAssertEqual(sortedElements(try run("SINTER", "a", "b", "c")), bulkSet(["5"]))
        XCTAssertEqual(sortedElements(try run("SINTER", "a", "nosuch")), [])
        XCTAssertEqual(sortedElements(try run("SINTER", "a", "a")), bulkSet(["1", "2", "3", "4", "5"]))
        XCTAssertEqual(sortedElements(try run("SUNION", "a", "b", "nosuch", "c")), bulkSet(["1", "2", "3", "4", "5", "6", "7"]))
        XCTAssertEqual(sortedElements(try run("SUNION", "nosuch")), [])
        XCTAssertEqual(sortedElements(try run("SDIFF", "a", "b", "c")), bulkSet(["1", "2", "3"]))
        XCTAssertEqual(sortedElements(try run("SDIFF", "a", "a")), [])
        XCTAssertEqual(sortedElements(try run("SDIFF", "nosuch", "a")), [])
        XCTAssertEqual(sortedElements(try run("SDIFF", "a", "nosuch")), bulkSet(["1", "2", "3", "4", "5"]))

        XCTAssertEqual(try run("SINTERSTORE", "i", "a", "b"), int(2))
        XCTAssertEqual(try members("i"), bulkSet(["4", "5"]))
        XCTAssertEqual(try run("SUNIONSTORE", "u", "b", "c"), int(4))
        XCTAssertEqual(try run("SDIFFSTORE", "d", "a", "b"), int(3))
        XCTAssertEqual(try members("d"), bulkSet(["1", "2", "3"]))
        // Destination = a source.
        XCTAssertEqual(try run("SINTERSTORE", "a", "a", "b"), int(2))
        XCTAssertEqual(try members("a"), bulkSet(["4", "5"]))
        XCTAssertEqual(try run("SUNIONSTORE", "b", "b", "c"), int(4))
        XCTAssertEqual(try members("b"), bulkSet(["4", "5", "6", "7"]))
        XCTAssertEqual(try run("SDIFFSTORE", "c", "c", "a"), int(2))
        XCTAssertEqual(try members("c"), bulkSet(["6", "7"]))
        XCTAssertEqual(try run("SDIFFSTORE", "c", "c", "c"), int(0))
        XCTAssertEqual(try run("EXISTS", "c"), int(0), "an empty result deletes the destination")
        // The destination may hold any type and a TTL: replaced whole, without TTL.
        XCTAssertEqual(try run("SET", "dst", "x", "EX", "100"), ok)
        XCTAssertEqual(try run("SUNIONSTORE", "dst", "a", "b"), int(4))
        XCTAssertEqual(try run("TYPE", "dst"), simple("set"))
        XCTAssertEqual(try run("TTL", "dst"), int(-1))
        XCTAssertEqual(try run("HSET", "h", "f", "v"), int(1))
        XCTAssertEqual(try run("SINTERSTORE", "h", "a", "nosuch"), int(0))
        XCTAssertEqual(try run("EXISTS", "h"), int(0))
        XCTAssertEqual(try run("SDIFFSTORE", "dst", "nosuch", "a"), int(0))
        XCTAssertEqual(try run("EXISTS", "dst"), int(0))
        // Three-way intersection with the filter step; a larger difference subtracted both ways.
        var big = argv(["SADD", "big"])
        for i in 0..<300 { big.append(Array("\(i)".utf8)) }
        XCTAssertEqual(try client.command(big), int(300))
        XCTAssertEqual(try run("SADD", "x", "4", "5", "6", "7", "250", "999"), int(6))
        XCTAssertEqual(try run("SINTERSTORE", "r", "big", "x", "b"), int(4))
        XCTAssertEqual(try members("r"), bulkSet(["4", "5", "6", "7"]))
        XCTAssertEqual(try run("SDIFFSTORE", "r", "big", "x"), int(295))
        XCTAssertEqual(try run("SDIFFSTORE", "r2", "x", "big"), int(1))
        XCTAssertEqual(try members("r2"), bulkSet(["999"]))
        XCTAssertEqual(try run("SCARD", "r"), int(295))
        XCTAssertEqual(try run("SINTERCARD", "2", "big", "x"), int(5))
        XCTAssertEqual(try run("SINTERCARD", "2", "big", "x", "LIMIT", "2"), int(2))
        XCTAssertEqual(try run("SINTERCARD", "2", "big", "x", "LIMIT", "0"), int(5))
        XCTAssertEqual(try run("SINTERCARD", "2", "big", "nosuch"), int(0))
        XCTAssertEqual(try run("SINTERCARD", "0", "big"), err("ERR numkeys should be greater than 0"))
        XCTAssertEqual(try run("SINTERCARD", "3", "big"), err("ERR Number of keys can't be greater than number of args"))
        XCTAssertEqual(try run("SINTERCARD", "1", "big", "LIMIT", "-1"), err("ERR LIMIT can't be negative"))
        XCTAssertEqual(try run("SINTERCARD", "1", "big", "FOO", "1"), err("ERR syntax error"))
    }

    // MARK: SSCAN

    func testScan() throws {
        XCTAssertEqual(try run("SSCAN", "nosuch", "0"), .array([bulk("0"), .array([])]))
        XCTAssertEqual(try run("SADD", "s", "a", "b", "ab"), int(3))
        XCTAssertEqual(try run("SSCAN", "s", "0", "MATCH", "a*"), .array([bulk("0"), bulks(["a", "ab"])]))
        XCTAssertEqual(try run("SSCAN", "s", "0", "NOVALUES"), err("ERR syntax error"))
        var command = argv(["SADD", "big"])
        for i in 0..<600 { command.append(Array("m\(i)".utf8)) }
        XCTAssertEqual(try client.command(command), int(600))
        var seen: [[UInt8]: Int] = [:]
        var cursor = "0"
        var pages = 0
        repeat {
            guard case .array(let parts) = try run("SSCAN", "big", cursor, "COUNT", "50"),
                  case .bulk(let next) = parts[0], case .array(let page) = parts[1] else { return XCTFail() }
            XCTAssertLessThanOrEqual(page.count, 50)
            cursor = String(decoding: next, as: UTF8.self)
            XCTAssertNotNil(UInt64(cursor))
            for case .bulk(let m) in page { seen[m, default: 0] += 1 }
            pages += 1
        } while cursor != "0" && pages < 100
        XCTAssertEqual(seen.count, 600)
        XCTAssertTrue(seen.values.allSatisfy { $0 == 1 })
    }

    // MARK: Against Redis

    func testDifferentialAgainstRedis() throws {
        let redisServer = try RedisServerProcess()
        let diff = CollectionDifferential(redis: try redisServer.client(), lite: client)
        try diff.run("members", [
            ["SADD", "s", "a", "b", "c", "a"], ["SADD", "s", "a"], ["SCARD", "s"], ["SMEMBERS", "s"], ["SISMEMBER", "s", "a"],
            ["SISMEMBER", "s", "z"], ["SMISMEMBER", "s", "a", "z"], ["SMISMEMBER", "nosuch", "a"], ["SREM", "s", "a", "z", "a"],
            ["SREM", "s", "b", "c"], ["EXISTS", "s"], ["SADD", "s"], ["SREM", "s"], ["SCARD"], ["SISMEMBER", "s"],
            ["SADD", "\\x00\\xff", "\\x00", "\\xff\r\n", ""], ["SMEMBERS", "\\x00\\xff"], ["SISMEMBER", "\\x00\\xff", ""],
        ])
        try diff.run("random", [
            ["SPOP", "nosuch"], ["SPOP", "nosuch", "3"], ["SRANDMEMBER", "nosuch"], ["SRANDMEMBER", "nosuch", "-3"],
            ["SADD", "s", "a", "b", "c", "d"], ["SRANDMEMBER", "s"], ["SRANDMEMBER", "s", "2"], ["SRANDMEMBER", "s", "10"],
            ["SRANDMEMBER", "s", "-10"], ["SRANDMEMBER", "s", "0"], ["SPOP", "s", "0"], ["SPOP", "s", "-1"], ["SPOP", "s", "x"],
            ["SPOP", "s", "1", "2"], ["SRANDMEMBER", "s", "1", "2"], ["SRANDMEMBER", "s", "x"], ["SCARD", "s"],
            ["SPOP", "s"], ["SCARD", "s"], ["SPOP", "s", "2"], ["SCARD", "s"], ["SPOP", "s", "5"], ["EXISTS", "s"],
        ])
        try diff.run("move", [
            ["SADD", "a", "1", "2"], ["SET", "str", "x"], ["SMOVE", "nosuch", "str", "1"], ["SMOVE", "a", "str", "1"],
            ["SMOVE", "str", "a", "1"], ["SMOVE", "a", "a", "1"], ["SMOVE", "a", "a", "9"], ["SMOVE", "a", "b", "9"],
            ["EXISTS", "b"], ["SMOVE", "a", "b", "1"], ["SMOVE", "a", "b", "2"], ["EXISTS", "a"], ["SMEMBERS", "b"],
        ])
        try diff.run("algebra", [
            ["SADD", "a", "1", "2", "3", "4"], ["SADD", "b", "3", "4", "5"], ["SADD", "c", "4", "5", "6"], ["SET", "str", "x"],
            ["SINTER", "a", "b"], ["SINTER", "a", "b", "c"], ["SINTER", "a", "nosuch"], ["SINTER", "nosuch", "str"],
            ["SUNION", "a", "b", "c"], ["SUNION", "a", "str"], ["SDIFF", "a", "b", "c"], ["SDIFF", "a", "nosuch"],
            ["SDIFF", "nosuch", "a"], ["SINTERSTORE", "d", "a", "b"], ["SMEMBERS", "d"], ["SUNIONSTORE", "d", "d", "c"],
            ["SMEMBERS", "d"], ["SDIFFSTORE", "d", "d", "a"], ["SMEMBERS", "d"], ["SDIFFSTORE", "d", "d", "d"], ["EXISTS", "d"],
            ["SINTERSTORE", "str", "a", "b"], ["TYPE", "str"], ["SINTERSTORE", "str", "a", "nosuch"], ["EXISTS", "str"],
            ["SINTERSTORE", "x", "a", "str"], ["SINTERCARD", "2", "a", "b"], ["SINTERCARD", "2", "a", "b", "LIMIT", "1"],
            ["SINTERCARD", "0", "a"], ["SINTERCARD", "x", "a"], ["SINTERCARD", "3", "a"], ["SINTERCARD", "1", "a", "LIMIT", "-1"],
            ["SINTERCARD", "1", "a", "LIMIT"], ["SINTERCARD", "1", "a", "LIMIT", "1", "LIMIT", "2"], ["SINTERCARD", "2", "a", "a", "x"],
            ["SSCAN", "a", "0"], ["SSCAN", "a", "0", "MATCH", "[12]"], ["SSCAN", "a", "0", "COUNT", "0"], ["SSCAN", "a", "x"],
            ["SSCAN", "a", "0", "NOVALUES"], ["SSCAN", "nosuch", "0", "COUNT", "0"],
        ])
        for mismatch in diff.mismatches { XCTFail(mismatch) }
        XCTAssertGreaterThan(diff.compared, 80)
        withExtendedLifetime(redisServer) {}
    }

    // MARK: Concurrency and size

    func testConcurrentWritersKeepCountsExact() throws {
        let failures = runWorkers(port: server.port, 6) { worker, c in
            for round in 0..<50 {
                _ = try c.command(argv(["SADD", "shared", "m\((worker * 3 + round) % 30)", "m\(round % 7)"]))
                _ = try c.command(argv(["SREM", "shared", "m\((worker + round * 5) % 30)"]))
                _ = try c.command(argv(["SMOVE", "shared", "other", "m\(round % 30)"]))
                if round % 10 == 0 { _ = try c.command(argv(["SUNIONSTORE", "other", "other", "shared"])) }
                if round % 15 == 0 { _ = try c.command(argv(["SPOP", "other", "3"])) }
            }
        }
        XCTAssertEqual(failures, [])
        for key in ["shared", "other"] {
            guard case .integer(let card) = try run("SCARD", key), let listed = try members(key) else { return XCTFail() }
            XCTAssertEqual(Int(card), listed.count)
        }
    }

    /// 200,000 members inserted with pipelined SADDs; membership tests are primary-key lookups
    /// and SCARD reads the count: checked on the query plans (never on wall-clock time).
    func testLargeSetUsesIndexedLookups() throws {
        let total = 200_000, perCommand = 4_000
        var batch: [[[UInt8]]] = []
        for chunk in 0..<(total / perCommand) {
            var command = argv(["SADD", "big"])
            command.reserveCapacity(2 + perCommand)
            for i in 0..<perCommand { command.append(Array("member:\(chunk * perCommand + i)".utf8)) }
            batch.append(command)
        }
        for slice in stride(from: 0, to: batch.count, by: 10) {
            XCTAssertTrue(try client.pipeline(Array(batch[slice..<min(slice + 10, batch.count)])).allSatisfy { $0.integer == Int64(perCommand) })
        }
        XCTAssertEqual(try run("SCARD", "big"), int(Int64(total)))
        XCTAssertEqual(try run("SISMEMBER", "big", "member:199999"), int(1))
        XCTAssertEqual(try run("SMISMEMBER", "big", "member:0", "nope"), .array([int(1), int(0)]))
        guard case .bulk = try run("SPOP", "big") else { return XCTFail() }
        guard case .bulk = try run("SRANDMEMBER", "big") else { return XCTFail() }
        XCTAssertEqual(try run("SCARD", "big"), int(Int64(total - 1)))

        let connection = try openDatabase(server.databasePath, readOnly: true)
        defer { connection.close() }
        func plan(_ sql: StaticString) throws -> String {
            let statement = try connection.prepare("EXPLAIN QUERY PLAN " + sql.description)
            var lines: [String] = []
            while try statement.step() { lines.append(statement.text(3)) }
            statement.reset()
            return lines.joined(separator: " | ")
        }
        for sql in [SetSQL.contains, SetSQL.add, SetSQL.remove] {
            let text = try plan(sql)
            XCTAssertTrue(text.isEmpty || text.contains("USING PRIMARY KEY (key_id=? AND member=?)"), "\(sql): \(text)")
        }
        XCTAssertTrue(try plan(SetSQL.contains).contains("USING PRIMARY KEY (key_id=? AND member=?)"))
        for sql in [SetSQL.members.first, SetSQL.members.last, SetSQL.members.seek, SetSQL.members.scanAfter] {
            let text = try plan(sql)
            XCTAssertTrue(text.contains("USING PRIMARY KEY (key_id=?") && !text.contains("TEMP B-TREE") && !text.contains("SCAN"), "\(sql): \(text)")
        }
        // Set algebra is driven by one set and probes the other by primary key.
        for sql in [SetSQL.intersectInto, SetSQL.keepCommon, SetSQL.subtractScanningTarget] {
            let text = try plan(sql)
            XCTAssertTrue(text.contains("USING PRIMARY KEY (key_id=? AND member=?)"), "\(sql): \(text)")
        }
    }
}
