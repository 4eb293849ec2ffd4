// List commands: differential tests against a real redis-server, TTL, persistence, binary
// elements, concurrency, and the query plans that keep large lists fast.

import CSQLite
import Foundation
import XCTest
@testable import RESPLite

/// Runs differential scripts against Redis and RESPLite (see RedisDifferentialTests.swift):
/// each script on a fresh RESPLite database, whose invariants are checked afterwards.
final class ListZSetDifferential {
    let redisServer: RedisServerProcess
    let redis: RESPClient
    var compared = 0
    /// Server options of every RESPLite server this runner starts.
    let configure: (inout ServerOptions) -> Void

    init(configure: @escaping (inout ServerOptions) -> Void = { _ in }) throws {
        self.configure = configure
        redisServer = try RedisServerProcess()
        redis = try redisServer.client()
    }

    func run(_ name: String, _ steps: [[String]], file: StaticString = #filePath, line: UInt = #line) throws {
        let liteServer = try TestServer(configure: configure)
        let runner = DifferentialRunner(redis: redis, lite: try liteServer.client(), liteServer: liteServer)
        try runner.run(name, steps)
        for mismatch in runner.mismatches { XCTFail(mismatch, file: file, line: line) }
        compared += runner.compared
        XCTAssertEqual(try consistencyProblems(liteServer.databasePath), [], name, file: file, line: line)
    }
}

func withListZSetRunner(configure: @escaping (inout ServerOptions) -> Void = { _ in }, _ body: (ListZSetDifferential) throws -> Void,
                         file: StaticString = #filePath, line: UInt = #line) throws {
    let differential = try ListZSetDifferential(configure: configure)
    try body(differential)
    XCTAssertGreaterThan(differential.compared, 0, file: file, line: line)
}

/// Runs list steps twice: with the default renumbering (LREM keeps short lists dense) and
/// with `listRenumberMaxRows` 0, so that every LREM away from the ends leaves a gap and the
/// positional commands run their gap paths (rows counted from the nearer end).
/// The second run also pops one element by a read and then a delete: the path of a SQLite
/// without the preupdate hook (the default pops in one statement).
func withEachListLayout(_ body: (ListZSetDifferential) throws -> Void, file: StaticString = #filePath, line: UInt = #line) throws {
    try withListZSetRunner(body, file: file, line: line)
    try withListZSetRunner(configure: { $0.listRenumberMaxRows = 0; $0.listPopsInOneStatement = false }, body, file: file, line: line)
}

/// The plan SQLite chooses for a statement, one detail line per step.
func listZSetQueryPlan(_ databasePath: String, _ sql: StaticString) throws -> [String] {
    let connection = try openDatabase(databasePath, readOnly: true)
    defer { connection.close() }
    let statement = try connection.prepare("EXPLAIN QUERY PLAN " + sql.description)
    defer { statement.reset() }
    var lines: [String] = []
    while try statement.step() { lines.append(statement.text(3)) }
    return lines
}

/// A command's words as byte arrays.
func lzWords(_ items: String...) -> [[UInt8]] { items.map { Array($0.utf8) } }

/// Results shared by worker threads (guarded by the caller's lock).
final class ListZSetResultBox: @unchecked Sendable {
    var popped: [[UInt8]] = []
    var failures: [String] = []
}

final class ListCommandTests: XCTestCase {
    /// `ListHeads` bounds: 0 turns it off, a range past the kept head (`listHeadMaxElements`, or
    /// `ListHeads.maxWindowBytes` of values) is read from SQLite, and every answer is the same.
    func testListHeadLimits() throws {
        let big = [UInt8](repeating: 7, count: 1_100_000)
        for maxElements in [0, 5, ListHeads.defaultMaxElements] {
            let server = try TestServer(configure: { $0.cache.listHeadMaxElements = maxElements })
            let client = try server.client()
            XCTAssertEqual(try client.command([Array("RPUSH".utf8), Array("l".utf8)] + (0..<20).map { Array("v\($0)".utf8) }), int(20))
            XCTAssertEqual(try client.command([Array("RPUSH".utf8), Array("big".utf8)] + Array(repeating: big, count: 6)), int(6))
            for _ in 0..<(2 * SortedSetRanks.initialThreshold) {
                XCTAssertEqual(try client.run("LRANGE", "l", "0", "2"), bulks(["v0", "v1", "v2"]))
                XCTAssertEqual(try client.run("LRANGE", "l", "3", "9"), bulks((3...9).map { "v\($0)" }))
                XCTAssertEqual(try client.command([Array("LRANGE".utf8), Array("big".utf8), Array("0".utf8), Array("1".utf8)]), .array([.bulk(big), .bulk(big)]))
                XCTAssertEqual(try client.command([Array("LRANGE".utf8), Array("big".utf8), Array("4".utf8), Array("5".utf8)]), .array([.bulk(big), .bulk(big)]))
            }
            let info = infoFields(try client.run("SQLITE.INFO"))
            let reads = Int(info["list_head_reads"] ?? "") ?? -1
            let hits = Int(info["list_head_hits"] ?? "") ?? -1
            let bytes = Int(info["list_head_bytes"] ?? "") ?? -1
            switch maxElements {
            case 0:
                XCTAssertEqual(reads, 0)
            default:
                XCTAssertEqual(reads, 2, "each list read once")
                XCTAssertGreaterThan(hits, 0)
                XCTAssertLessThanOrEqual(bytes, 2 * ListHeads.maxWindowBytes, "the big list's head stops at the window's bytes")
            }
        }
    }

    func testPushPopAndRangesMatchRedis() throws {
        try withEachListLayout { r in
            try r.run("push-pop", [
                ["RPUSH", "l", "a", "b", "c"], ["LPUSH", "l", "z", "y"], ["LRANGE", "l", "0", "-1"], ["LLEN", "l"],
                ["LPOP", "l"], ["RPOP", "l"], ["LRANGE", "l", "0", "-1"],
                ["LPOP", "l", "2"], ["LPOP", "l", "0"], ["RPOP", "l", "0"], ["LPOP", "l", "10"], ["EXISTS", "l"],
                ["LPOP", "l"], ["RPOP", "l"], ["LPOP", "l", "0"], ["LPOP", "l", "3"], ["RPOP", "missing", "1"],
                ["RPUSH", "l", "1", "2", "3", "4"], ["RPOP", "l", "3"], ["LPOP", "l", "-1"], ["LPOP", "l", "x"],
                ["LPOP", "l", "1", "2"], ["LPOP"], ["RPUSH", "l"], ["LLEN", "l"], ["LLEN", "missing"],
                ["LPUSHX", "nx", "a"], ["RPUSHX", "nx", "a"], ["EXISTS", "nx"], ["LPUSHX", "l", "a", "b"],
                ["RPUSHX", "l", "c", "d"], ["LRANGE", "l", "0", "-1"],
                ["RPUSH", "dup", "x", "x", "x"], ["LRANGE", "dup", "0", "-1"],
                ["RPUSH", "bin", "\\x00", "\\xff", "a\r\nb", ""], ["LRANGE", "bin", "0", "-1"], ["LINDEX", "bin", "3"],
                ["LPOP", "bin", "4"], ["EXISTS", "bin"],
            ])
            try r.run("ranges", [
                ["RPUSH", "l", "a", "b", "c", "d", "e"],
                ["LRANGE", "l", "0", "0"], ["LRANGE", "l", "-2", "-1"], ["LRANGE", "l", "-100", "100"],
                ["LRANGE", "l", "3", "1"], ["LRANGE", "l", "5", "10"], ["LRANGE", "l", "-1", "-5"], ["LRANGE", "l", "2", "-3"],
                ["LRANGE", "l", "x", "1"], ["LRANGE", "l", "0", "9223372036854775807"], ["LRANGE", "l", "-9223372036854775808", "0"],
                ["LRANGE", "missing", "0", "-1"],
                ["LINDEX", "l", "0"], ["LINDEX", "l", "-1"], ["LINDEX", "l", "4"], ["LINDEX", "l", "5"], ["LINDEX", "l", "-6"],
                ["LINDEX", "l", "x"], ["LINDEX", "missing", "0"], ["LINDEX", "l", "-9223372036854775808"],
                ["LSET", "l", "0", "A"], ["LSET", "l", "-1", "E"], ["LSET", "l", "5", "x"], ["LSET", "l", "-6", "x"],
                ["LSET", "missing", "0", "x"], ["LSET", "l", "x", "y"], ["LRANGE", "l", "0", "-1"],
                ["LTRIM", "l", "1", "-2"], ["LRANGE", "l", "0", "-1"], ["LTRIM", "l", "-100", "100"], ["LRANGE", "l", "0", "-1"],
                ["LTRIM", "l", "1", "1"], ["LRANGE", "l", "0", "-1"], ["LTRIM", "l", "2", "1"], ["EXISTS", "l"],
                ["LTRIM", "missing", "0", "1"], ["RPUSH", "t", "a", "b", "c"], ["LTRIM", "t", "5", "10"], ["EXISTS", "t"],
                ["RPUSH", "t", "a", "b", "c"], ["LTRIM", "t", "0", "0"], ["LRANGE", "t", "0", "-1"], ["LTRIM", "t", "x", "0"],
            ])
        }
    }

    func testEditsMatchRedis() throws {
        try withEachListLayout { r in
            try r.run("lrem", [
                ["RPUSH", "l", "a", "b", "a", "c", "a", "b", "a"],
                ["LREM", "l", "2", "a"], ["LRANGE", "l", "0", "-1"], ["LREM", "l", "-1", "a"], ["LRANGE", "l", "0", "-1"],
                ["LREM", "l", "0", "b"], ["LRANGE", "l", "0", "-1"], ["LREM", "l", "0", "zz"], ["LREM", "l", "1", "zz"],
                ["LPUSH", "l", "x"], ["RPUSH", "l", "y"], ["LRANGE", "l", "0", "-1"], ["LINDEX", "l", "1"],
                ["LREM", "l", "0", "c"], ["LREM", "l", "0", "a"], ["LRANGE", "l", "0", "-1"], ["LREM", "l", "5", "x"],
                ["LREM", "l", "-5", "y"], ["EXISTS", "l"], ["LREM", "missing", "0", "a"], ["LREM", "l", "x", "a"],
                ["RPUSH", "m", "1", "2", "1", "3", "1", "4", "1"], ["LREM", "m", "-2", "1"], ["LRANGE", "m", "0", "-1"],
                ["LPUSH", "m", "0"], ["RPUSH", "m", "5"], ["LRANGE", "m", "0", "-1"], ["LREM", "m", "-9223372036854775808", "1"],
                ["LRANGE", "m", "0", "-1"], ["LINDEX", "m", "2"], ["LSET", "m", "2", "two"], ["LRANGE", "m", "0", "-1"],
                ["RPUSH", "b", "\\x00", "x", "\\x00", "\\xff"], ["LREM", "b", "0", "\\x00"], ["LRANGE", "b", "0", "-1"],
            ])
            try r.run("linsert", [
                ["RPUSH", "l", "a", "b", "c"], ["LINSERT", "l", "BEFORE", "a", "0"], ["LINSERT", "l", "AFTER", "c", "d"],
                ["LINSERT", "l", "after", "b", "b2"], ["LINSERT", "l", "before", "b", "b0"], ["LRANGE", "l", "0", "-1"],
                ["LINSERT", "l", "BEFORE", "zz", "x"], ["LINSERT", "missing", "BEFORE", "a", "x"], ["EXISTS", "missing"],
                ["LINSERT", "l", "MIDDLE", "a", "x"], ["LINSERT", "l", "AFTER", "d", "e"], ["LINSERT", "l", "BEFORE", "0", "-1"],
                ["LRANGE", "l", "0", "-1"], ["LPOP", "l"], ["RPOP", "l"], ["LINDEX", "l", "3"], ["LLEN", "l"],
                ["RPUSH", "d", "x", "x", "x"], ["LINSERT", "d", "AFTER", "x", "y"], ["LRANGE", "d", "0", "-1"],
                ["LINSERT", "d", "BEFORE", "x", "\\x00\r\n"], ["LRANGE", "d", "0", "-1"], ["LPOS", "d", "y"],
            ])
            try r.run("lpos", [
                ["RPUSH", "l", "a", "b", "c", "a", "b", "c", "a"],
                ["LPOS", "l", "a"], ["LPOS", "l", "c"], ["LPOS", "l", "zz"], ["LPOS", "l", "a", "RANK", "2"],
                ["LPOS", "l", "a", "RANK", "-1"], ["LPOS", "l", "a", "RANK", "-2"], ["LPOS", "l", "a", "RANK", "9"],
                ["LPOS", "l", "a", "COUNT", "0"], ["LPOS", "l", "a", "COUNT", "2"], ["LPOS", "l", "a", "COUNT", "2", "RANK", "-1"],
                ["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "4"], ["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "1"],
                ["LPOS", "l", "b", "RANK", "-1", "MAXLEN", "2"], ["LPOS", "l", "c", "MAXLEN", "2"], ["LPOS", "l", "zz", "COUNT", "1"],
                ["LPOS", "l", "a", "RANK", "0"], ["LPOS", "l", "a", "COUNT", "-1"], ["LPOS", "l", "a", "MAXLEN", "-1"],
                ["LPOS", "l", "a", "RANK", "x"], ["LPOS", "l", "a", "COUNT", "x"], ["LPOS", "l", "a", "MAXLEN", "x"],
                ["LPOS", "l", "a", "RANK"], ["LPOS", "l", "a", "FOO", "1"], ["LPOS", "missing", "a"],
                ["LPOS", "missing", "a", "COUNT", "0"], ["LPOS", "l", "a", "RANK", "-9223372036854775808"],
                ["LPOS", "l", "a", "RANK", "9223372036854775807"], ["LPOS", "l", "a", "MAXLEN", "0", "COUNT", "0"],
            ])
        }
    }

    func testMovesAndMultiPopMatchRedis() throws {
        try withEachListLayout { r in
            try r.run("lmove", [
                ["RPUSH", "s", "a", "b", "c"], ["LMOVE", "s", "d", "LEFT", "RIGHT"], ["LMOVE", "s", "d", "RIGHT", "LEFT"],
                ["LRANGE", "s", "0", "-1"], ["LRANGE", "d", "0", "-1"], ["LMOVE", "s", "d", "left", "left"],
                ["EXISTS", "s"], ["LRANGE", "d", "0", "-1"], ["LMOVE", "s", "d", "LEFT", "LEFT"],
                ["LMOVE", "d", "d", "LEFT", "RIGHT"], ["LRANGE", "d", "0", "-1"], ["LMOVE", "d", "d", "RIGHT", "LEFT"],
                ["LRANGE", "d", "0", "-1"], ["LMOVE", "d", "d", "LEFT", "LEFT"], ["LMOVE", "d", "d", "RIGHT", "RIGHT"],
                ["LRANGE", "d", "0", "-1"], ["LMOVE", "d", "e", "UP", "LEFT"], ["LMOVE", "d", "e", "LEFT"],
                ["RPUSH", "one", "x"], ["EXPIRE", "one", "100"], ["LMOVE", "one", "one", "LEFT", "RIGHT"], ["TTL", "one"],
                ["LRANGE", "one", "0", "-1"], ["RPOPLPUSH", "one", "one"], ["LRANGE", "one", "0", "-1"],
                ["RPOPLPUSH", "d", "f"], ["LRANGE", "f", "0", "-1"], ["RPOPLPUSH", "missing", "f"], ["RPOPLPUSH", "d", "d"],
                ["LRANGE", "d", "0", "-1"], ["SET", "str", "v"], ["RPOPLPUSH", "d", "str"], ["LRANGE", "d", "0", "-1"],
                ["RPOPLPUSH", "str", "d"], ["RPOPLPUSH", "missing", "str"], ["LMOVE", "d", "str", "LEFT", "LEFT"],
                ["GET", "str"], ["RPUSH", "bin", "\\x00\\xff"], ["LMOVE", "bin", "bin2", "LEFT", "LEFT"], ["LRANGE", "bin2", "0", "-1"],
            ])
            try r.run("lmpop", [
                ["RPUSH", "a", "1", "2", "3"], ["RPUSH", "b", "x"],
                ["LMPOP", "2", "missing", "a", "LEFT"], ["LMPOP", "2", "a", "b", "RIGHT", "COUNT", "5"], ["EXISTS", "a"],
                ["LMPOP", "2", "a", "b", "LEFT", "COUNT", "1"], ["LMPOP", "2", "a", "b", "LEFT"], ["LMPOP", "1", "a", "LEFT"],
                ["LMPOP", "0", "a", "LEFT"], ["LMPOP", "-1", "a", "LEFT"], ["LMPOP", "x", "a", "LEFT"], ["LMPOP", "3", "a", "LEFT"],
                ["LMPOP", "1", "a", "UP"], ["LMPOP", "1", "a", "LEFT", "COUNT", "0"], ["LMPOP", "1", "a", "LEFT", "COUNT", "x"],
                ["LMPOP", "1", "a", "LEFT", "COUNT"], ["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"],
                ["LMPOP", "1", "a", "LEFT", "FOO"], ["SET", "s", "v"], ["RPUSH", "c", "z"], ["LMPOP", "2", "s", "c", "LEFT"],
                ["LMPOP", "2", "c", "s", "LEFT"], ["LMPOP", "2", "missing", "s", "LEFT"],
            ])
        }
    }

    func testWrongTypeAndTTLMatchRedis() throws {
        try withListZSetRunner { r in
            var steps: [[String]] = [["SET", "s", "v"]]
            for command in [["LPUSH", "s", "a"], ["RPUSH", "s", "a"], ["LPUSHX", "s", "a"], ["RPUSHX", "s", "a"],
                            ["LPOP", "s"], ["RPOP", "s", "2"], ["LLEN", "s"], ["LRANGE", "s", "0", "-1"], ["LINDEX", "s", "0"],
                            ["LSET", "s", "0", "x"], ["LTRIM", "s", "0", "1"], ["LREM", "s", "0", "a"],
                            ["LINSERT", "s", "BEFORE", "a", "b"], ["LPOS", "s", "a"], ["LMOVE", "s", "d", "LEFT", "LEFT"],
                            ["RPOPLPUSH", "s", "d"], ["LMPOP", "1", "s", "LEFT"]] {
                steps.append(command)
            }
            // (~hash/~zset inject metadata rows without members: deleted before the consistency check.)
            steps += [["GET", "s"], ["EXISTS", "d"], ["~hash", "h"], ["RPUSH", "h", "x"], ["LLEN", "h"], ["~zset", "z"], ["LPOP", "z"],
                      ["DEL", "h", "z"]]
            try r.run("wrongtype", steps)
            try r.run("ttl", [
                ["RPUSH", "l", "a", "b"], ["EXPIRE", "l", "100"], ["RPUSH", "l", "c"], ["TTL", "l"], ["LPOP", "l"], ["TTL", "l"],
                ["LSET", "l", "0", "x"], ["TTL", "l"], ["LTRIM", "l", "0", "0"], ["TTL", "l"], ["LPOP", "l"], ["TTL", "l"],
                ["RPUSH", "l", "n"], ["TTL", "l"], ["PEXPIRE", "l", "30"], ["~sleep", "60"], ["LLEN", "l"], ["LRANGE", "l", "0", "-1"],
                ["LPUSHX", "l", "a"], ["RPUSH", "l", "fresh"], ["TTL", "l"], ["LRANGE", "l", "0", "-1"],
                ["SET", "l", "str"], ["TYPE", "l"], ["RPUSH", "l2", "a"], ["RENAME", "l2", "l3"], ["LRANGE", "l3", "0", "-1"],
                ["COPY", "l3", "l4"], ["RPUSH", "l4", "b"], ["LRANGE", "l4", "0", "-1"], ["LRANGE", "l3", "0", "-1"], ["TYPE", "l4"],
            ])
        }
    }

    /// LREM/LINSERT/LTRIM on a longer list keep the sequences dense (LINDEX of every position
    /// agrees with LRANGE), against Redis.
    func testRenumberingKeepsPositionsExact() throws {
        try withEachListLayout { r in
            var steps: [[String]] = [["RPUSH", "l"] + (0..<60).map { String($0 % 7) }]
            steps += [["LREM", "l", "3", "2"], ["LREM", "l", "-2", "5"], ["LINSERT", "l", "BEFORE", "6", "x"],
                      ["LINSERT", "l", "AFTER", "4", "y"], ["LREM", "l", "0", "1"], ["LPUSH", "l", "h"], ["RPUSH", "l", "t"],
                      ["LINSERT", "l", "BEFORE", "t", "u"], ["LREM", "l", "1", "h"], ["LTRIM", "l", "2", "-3"], ["LRANGE", "l", "0", "-1"]]
            for i in stride(from: -45, through: 45, by: 3) { steps.append(["LINDEX", "l", String(i)]) }
            steps += [["LSET", "l", "10", "ten"], ["LRANGE", "l", "5", "15"], ["LPOS", "l", "0", "COUNT", "0"], ["LLEN", "l"]]
            try r.run("renumber", steps)
        }
    }

    /// A seeded random mix of every list write on a few keys, compared step by step with
    /// Redis (LRANGE after each write catches any seq corruption at once).
    func testRandomListOperationsMatchRedis() throws {
        for start: UInt64 in [0x5eed_1157, 0xa11, 0xb0b, 0xc0ffee] {
            var seed = start
            func next(_ bound: Int) -> Int {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return Int((seed >> 33) % UInt64(bound))
            }
            let values = ["a", "b", "c", "\\x00", ""]
            var steps: [[String]] = []
            for _ in 0..<300 {
                let key = "k\(next(2))", other = "k\(next(2))"
                let v = values[next(values.count)], w = values[next(values.count)]
                let i = String(next(14) - 7), j = String(next(14) - 7)
                let side = ["LEFT", "RIGHT"]
                switch next(12) {
                case 0: steps.append(["RPUSH", key, v, w])
                case 1: steps.append(["LPUSH", key, v, w, v])
                case 2, 10: steps.append(["LREM", key, i, v])
                case 3: steps.append(["LINSERT", key, next(2) == 0 ? "BEFORE" : "AFTER", v, w])
                case 4: steps.append(["LTRIM", key, i, j])
                case 5: steps.append(["LMOVE", key, other, side[next(2)], side[next(2)]])
                case 6: steps.append([next(2) == 0 ? "LPOP" : "RPOP", key, String(next(3))])
                case 7: steps.append(["LSET", key, i, w])
                case 8: steps.append(["LPOS", key, v, "RANK", String(next(2) == 0 ? 1 + next(2) : -1 - next(2)), "COUNT", String(next(3)), "MAXLEN", String(next(6))])
                case 11: steps.append(["LRANGE", key, i, j])
                default: steps.append(["LMPOP", "2", key, other, side[next(2)], "COUNT", String(1 + next(3))])
                }
                steps.append(["LRANGE", key, "0", "-1"])
                steps.append(["LINDEX", key, i])
            }
            try withEachListLayout { r in try r.run("random-lists-\(start)", steps) }
        }
    }

    /// Many list writes in one transaction (MULTI blocks, and turns the redo log keeps in one
    /// transaction): pushes take their list's end from `Storage.listEnds`, which every other
    /// write must move or forget. Replies match Redis; debug builds also check each remembered
    /// end against an index seek (ListEnds invariant 3).
    func testListEndsFollowEveryWriteInOneTransaction() throws {
        var seed: UInt64 = 0x11_57_e4_d5
        func next(_ bound: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(bound))
        }
        let values = ["a", "b", "c"]
        var steps: [[String]] = []
        for _ in 0..<120 {
            steps.append(["MULTI"])
            for _ in 0..<(1 + next(8)) {
                let key = "k\(next(2))", other = "k\(next(2))"
                let v = values[next(values.count)], w = values[next(values.count)]
                let i = String(next(10) - 5), j = String(next(10) - 5)
                let side = ["LEFT", "RIGHT"]
                switch next(16) {
                case 0, 1, 2: steps.append(["LPUSH", key, v, w])
                case 3, 4: steps.append(["RPUSH", key, v])
                case 5: steps.append([next(2) == 0 ? "LPOP" : "RPOP", key, String(next(3))])
                case 6: steps.append(["LREM", key, i, v])
                case 7: steps.append(["LINSERT", key, next(2) == 0 ? "BEFORE" : "AFTER", v, w])
                case 8: steps.append(["LTRIM", key, i, j])
                case 9: steps.append(["LMOVE", key, other, side[next(2)], side[next(2)]])
                case 10: steps.append(["LSET", key, i, w])  // may fail: out of range, no such key
                case 11: steps.append(["DEL", key])
                case 12: steps.append(["COPY", key, other, "REPLACE"])
                case 13: steps.append(["RENAME", key, other])  // may fail: no such key
                case 14: steps.append(["SET", key, v])  // the pushes after it fail: wrong type
                default: steps.append(["LRANGE", key, i, j])
                }
            }
            steps.append(["EXEC"])
            // Unwrapped pushes, one command each: consecutive turns in one deferred transaction.
            steps.append(["LPUSH", "k0", values[next(3)]])
            steps.append(["RPUSH", "k1", values[next(3)]])
            steps.append(["LRANGE", "k0", "0", "-1"])
            steps.append(["LRANGE", "k1", "0", "-1"])
        }
        try withEachListLayout { r in
            let server = try TestServer(configure: r.configure)
            let runner = DifferentialRunner(redis: r.redis, lite: try server.client(), liteServer: server)
            try runner.run("list-ends", steps)
            for mismatch in runner.mismatches { XCTFail(mismatch) }
            XCTAssertGreaterThan(runner.compared, 1_000)
            r.compared += runner.compared
            XCTAssertEqual(try consistencyProblems(server.databasePath), [])
            // The pushes did take ends from memory (the path under test ran).
            let fields = infoFields(try server.client().run("SQLITE.INFO"))
            XCTAssertGreaterThan(Int(fields["list_ends_remembered"] ?? "") ?? 0, 50)
        }
    }

    /// One-element pops hand back every value byte for byte, empty and large ones (past the
    /// 64 KB the deleted-row copy keeps) among them, in one statement or, switched off, by a
    /// read and a delete; SQLITE.INFO shows which ran.
    func testOneElementPopsReturnEveryValueExactly() throws {
        var seed: UInt64 = 0x9099
        func bytes(_ count: Int) -> [UInt8] {
            (0..<count).map { _ in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: seed >> 33)
            }
        }
        // The hook is found exactly when the SQLite in use was built with it (the project's is).
        XCTAssertEqual(SQLiteConnection.canWatchDeletedRows, sqlite3_compileoption_used("ENABLE_PREUPDATE_HOOK") == 1)
        let values: [[UInt8]] = [[], bytes(200_000), Array("x".utf8), bytes(70_000), [0, 13, 10, 255], bytes(1), bytes(65_536), []]
        for oneStatement in [true, false] {
            let server = try TestServer(configure: { $0.listPopsInOneStatement = oneStatement })
            let client = try server.client()
            XCTAssertEqual(try client.command([Array("RPUSH".utf8), Array("l".utf8)] + values), int(Int64(values.count)))
            var remaining = values
            var step = 0
            while !remaining.isEmpty {
                let fromHead = step % 3 != 2
                let expected = fromHead ? remaining.removeFirst() : remaining.removeLast()
                let reply = try client.run(fromHead ? "LPOP" : "RPOP", "l")
                XCTAssertEqual(reply, .bulk(expected), "pop \(step) (one statement: \(oneStatement))")
                XCTAssertEqual(try client.run("LLEN", "l"), int(Int64(remaining.count)))
                step += 1
            }
            XCTAssertEqual(try client.run("EXISTS", "l"), int(0))
            XCTAssertEqual(try client.run("RPOP", "l"), .null)
            let pops = Int(infoFields(try client.run("SQLITE.INFO"))["list_pops_one_statement"] ?? "") ?? -1
            XCTAssertEqual(pops, oneStatement && SQLiteConnection.canWatchDeletedRows ? values.count : 0)
            XCTAssertEqual(try consistencyProblems(server.databasePath), [])
        }
    }

    func testPersistenceAndBinaryElements() throws {
        try forEachBackend { server in
            let client = try server.client()
            let binary: [UInt8] = [0, 255, 13, 10, 0]
            XCTAssertEqual(try client.command([Array("RPUSH".utf8), Array("k\0".utf8), binary, [], Array("x".utf8)]), int(3))
            XCTAssertEqual(try client.run("LPUSH", "q", "1", "2", "3"), int(3))
            XCTAssertEqual(try client.run("LINSERT", "q", "AFTER", "2", "2.5"), int(4))
            XCTAssertEqual(try client.run("EXPIRE", "q", "1000"), int(1))
            try server.restart()
            let again = try server.client()
            XCTAssertEqual(try again.command([Array("LRANGE".utf8), Array("k\0".utf8), Array("0".utf8), Array("-1".utf8)]),
                           .array([.bulk(binary), .bulk([]), bulk("x")]))
            XCTAssertEqual(try again.run("LRANGE", "q", "0", "-1"), bulks(["3", "2", "2.5", "1"]))
            XCTAssertGreaterThan(try again.run("TTL", "q").integer ?? -1, 900)
            XCTAssertEqual(try again.run("RPOP", "q"), bulk("1"))
            XCTAssertEqual(try again.run("LLEN", "q"), int(3))
            XCTAssertEqual(try consistencyProblems(server.databasePath), [])
        }
    }

    /// Several connections push and pop on the same keys: every element pushed is popped at
    /// most once, the counts match the rows, and the file stays consistent.
    func testConcurrentPushPopStayConsistent() throws {
        let server = try TestServer()
        let port = server.port
        let group = DispatchGroup()
        let lock = NSLock()
        let box = ListZSetResultBox()
        for worker in 0..<6 {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let client = try RESPClient(port: port)
                    for round in 0..<40 {
                        let key = "q\(round % 3)"
                        if worker % 2 == 0 {
                            _ = try client.pipeline((0..<5).map { i in lzWords("RPUSH", key, "\(worker)-\(round)-\(i)") })
                        } else {
                            let replies = try client.pipeline([lzWords("LPOP", key, "3"), lzWords("RPOPLPUSH", key, "q\((round + 1) % 3)"),
                                                              lzWords("LMOVE", key, key, "LEFT", "RIGHT")])
                            if case .array(let items) = replies[0] {
                                lock.lock()
                                for case .bulk(let bytes) in items { box.popped.append(bytes) }
                                lock.unlock()
                            }
                        }
                    }
                } catch {
                    lock.lock(); box.failures.append("\(worker): \(error)"); lock.unlock()
                }
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        let popped = box.popped
        XCTAssertEqual(box.failures, [])
        let client = try server.client()
        var remaining: [[UInt8]] = []
        for key in ["q0", "q1", "q2"] {
            guard case .array(let items) = try client.run("LRANGE", key, "0", "-1") else { return XCTFail("LRANGE") }
            XCTAssertEqual(try client.run("LLEN", key), int(Int64(items.count)))
            for case .bulk(let bytes) in items { remaining.append(bytes) }
        }
        XCTAssertEqual(popped.count + remaining.count, 3 * 40 * 5)
        XCTAssertEqual(Set(popped + remaining).count, 3 * 40 * 5)
        XCTAssertEqual(try consistencyProblems(server.databasePath), [])
    }

    /// LREM in the middle of a long list leaves a gap instead of renumbering ~5,000 rows; every
    /// positional command stays exact on the list with gaps (checked against a model of the
    /// list), LINSERT next to a gap takes the free seq without moving rows, and an LREM near
    /// an end still renumbers its few rows, so the list stays dense.
    func testLongListKeepsGapsAfterMiddleRemoval() throws {
        let server = try TestServer()
        let client = try server.client(timeoutMs: 60_000)
        var model = (0..<10_000).map(String.init)
        _ = try client.pipeline([lzWords("RPUSH", "l") + model.map { Array($0.utf8) }])
        func layout() throws -> (rows: Int64, span: Int64) {
            let connection = try openDatabase(server.databasePath, readOnly: true)
            defer { connection.close() }
            let rows = Int64(try connection.scalar("SELECT count(*) FROM redis_lists") ?? "") ?? -1
            let span = Int64(try connection.scalar("SELECT max(seq) - min(seq) + 1 FROM redis_lists") ?? "") ?? -1
            return (rows, span)
        }
        func seqOf(_ value: String) throws -> String? {
            let connection = try openDatabase(server.databasePath, readOnly: true)
            defer { connection.close() }
            return try connection.scalar("SELECT seq FROM redis_lists WHERE value = x'\(Array(value.utf8).map { String(format: "%02x", $0) }.joined())'")
        }
        func checkPositions(_ label: String) throws {
            for position in [0, 1, 2, 4_990, 4_998, 4_999, 5_000, 5_001, model.count / 2, model.count - 2, model.count - 1] {
                XCTAssertEqual(try client.run("LINDEX", "l", String(position)), bulk(model[position]), "\(label) LINDEX \(position)")
                XCTAssertEqual(try client.run("LINDEX", "l", String(position - model.count)), bulk(model[position]), "\(label) LINDEX -")
            }
            XCTAssertEqual(try client.run("LRANGE", "l", "4990", "5010"), bulks(Array(model[4_990...5_010])), label)
            XCTAssertEqual(try client.run("LRANGE", "l", "-7", "-1"), bulks(Array(model.suffix(7))), label)
            XCTAssertEqual(try client.run("LLEN", "l"), int(Int64(model.count)), label)
        }

        // Near the head: three rows renumbered, still dense.
        XCTAssertEqual(try client.run("LREM", "l", "1", "3"), int(1))
        model.remove(at: 3)
        XCTAssertEqual(try layout().rows, try layout().span)
        // The middle: a gap stays.
        XCTAssertEqual(try client.run("LREM", "l", "1", "5000"), int(1))
        model.remove(at: model.firstIndex(of: "5000")!)
        XCTAssertEqual(try layout().rows, 9_998)
        XCTAssertEqual(try layout().span, 9_999)
        try checkPositions("one gap")
        XCTAssertEqual(try client.run("LPOS", "l", "6000"), int(Int64(model.firstIndex(of: "6000")!)))
        XCTAssertEqual(try client.run("LPOS", "l", "20", "RANK", "-1"), int(Int64(model.firstIndex(of: "20")!)))
        XCTAssertEqual(try client.run("LSET", "l", "7000", "s"), ok)
        model[7000] = "s"
        // More gaps from the tail side, then LINSERT into a gap: the tail's seq does not move.
        XCTAssertEqual(try client.run("LREM", "l", "-2", "s"), int(1))
        model.remove(at: 7000)
        let tailSeq = try seqOf("9999")
        XCTAssertEqual(try client.run("LINSERT", "l", "AFTER", "4999", "g"), int(Int64(model.count + 1)))
        model.insert("g", at: model.firstIndex(of: "4999")! + 1)
        XCTAssertEqual(try seqOf("9999"), tailSeq)
        XCTAssertEqual(try layout().rows + 1, try layout().span)  // the gap at 5000 is filled, 7000's stays
        try checkPositions("gaps")
        XCTAssertEqual(try client.run("LTRIM", "l", "2", "-3"), ok)
        model = Array(model[2..<(model.count - 2)])
        XCTAssertEqual(try client.run("LPOP", "l", "2"), bulks(Array(model.prefix(2))))
        XCTAssertEqual(try client.run("RPOP", "l", "2"), bulks(Array(model.suffix(2).reversed())))
        model = Array(model[2..<(model.count - 2)])
        XCTAssertEqual(try client.run("LMOVE", "l", "l", "LEFT", "RIGHT"), bulk(model[0]))
        model.append(model.removeFirst())
        XCTAssertEqual(try client.run("RPUSH", "l", "t"), int(Int64(model.count + 1)))
        model.append("t")
        try checkPositions("after trims")
        XCTAssertEqual(try client.run("LRANGE", "l", "0", "-1"), bulks(model))
        XCTAssertEqual(try consistencyProblems(server.databasePath), [])
    }

    /// LRANGE reads a list whose rowids descend (built by LPUSH) tail first and reorders the
    /// reply; every range must still come out in list order: lists built by LPUSH, RPUSH and
    /// both, ranges on both sides of `ListLimits.reversedRangeMaxElements`, and a list with gaps.
    /// A range read tail first whose reply is larger than the scratch copy kept between
    /// commands (`ListLimits.reversedRangeScratchKeepBytes`), then small ones reusing the
    /// scratch: each reply in list order, no bytes of an earlier reply.
    func testReversedRangesAcrossTheScratchLimit() throws {
        let server = try TestServer()
        let client = try server.client(timeoutMs: 60_000)
        let count = 600
        let size = ListLimits.reversedRangeScratchKeepBytes / count + 100  // 600 values: over the limit
        let values = (0..<count).map { index in String(repeating: Character(UnicodeScalar(UInt8(97 + index % 26))), count: size) + "\(index)" }
        for chunk in stride(from: 0, to: count, by: 100) {
            XCTAssertEqual(try client.command([Array("LPUSH".utf8), Array("big".utf8)] + values[chunk..<chunk + 100].map { Array($0.utf8) }),
                           .integer(Int64(chunk + 100)))
        }
        let inListOrder = Array(values.reversed())  // LPUSH: the last pushed is the head
        XCTAssertEqual(try client.run("LRANGE", "big", "0", "-1"), .array(inListOrder.map { bulk($0) }))
        XCTAssertEqual(try client.run("RPUSH", "small", "1", "2", "3"), int(3))
        XCTAssertEqual(try client.run("LPUSH", "small", "0"), int(4))
        XCTAssertEqual(try client.run("LRANGE", "big", "3", "7"), .array(inListOrder[3...7].map { bulk($0) }))
        XCTAssertEqual(try client.run("LRANGE", "big", "0", "1"), .array(inListOrder[0...1].map { bulk($0) }))
    }

    func testRangesOfListsBuiltFromEitherEnd() throws {
        let server = try TestServer()
        let client = try server.client(timeoutMs: 60_000)
        let limit = Int(ListLimits.reversedRangeMaxElements)
        let total = limit + 200
        var models: [String: [String]] = ["left": [], "right": [], "both": []]
        for chunk in stride(from: 0, to: total, by: 100) {
            let values = (chunk..<min(chunk + 100, total)).map { "v\($0)" }
            _ = try client.pipeline([[Array("LPUSH".utf8), Array("left".utf8)] + values.map { Array($0.utf8) },
                                     [Array("RPUSH".utf8), Array("right".utf8)] + values.map { Array($0.utf8) },
                                     [Array((chunk / 100) % 3 == 0 ? "RPUSH".utf8 : "LPUSH".utf8), Array("both".utf8)]
                                        + values.map { Array($0.utf8) }])
            models["left"] = values.reversed() + models["left"]!
            models["right"]! += values
            models["both"] = (chunk / 100) % 3 == 0 ? models["both"]! + values : values.reversed() + models["both"]!
        }
        // A gap in the middle of "left" (renumbering would move hundreds of rows).
        let removed = models["left"]![total / 2]
        XCTAssertEqual(try client.run("LREM", "left", "1", removed), int(1))
        models["left"]!.remove(at: total / 2)
        let ranges: [(Int, Int)] = [(0, 0), (0, 1), (0, 99), (5, 17), (0, limit - 1), (0, limit), (1, limit),
                                    (0, -1), (-3, -1), (total / 2 - 3, total / 2 + 3), (-limit, -1), (-limit - 1, -1)]
        for (key, model) in models {
            for (start, stop) in ranges {
                let from = start < 0 ? model.count + start : start
                let to = stop < 0 ? model.count + stop : min(stop, model.count - 1)
                XCTAssertEqual(try client.run("LRANGE", key, String(start), String(stop)), bulks(Array(model[from...to])),
                               "LRANGE \(key) \(start) \(stop)")
            }
        }
        XCTAssertEqual(try consistencyProblems(server.databasePath), [])
    }

    /// LRANGE of a dense list in consecutive rows reads the table in rowid order (either way:
    /// RPUSH-built and LPUSH-built); rows of another list in between, a LINSERT's new row or
    /// a gap send it back to the index with the partial reply withdrawn. Every reply is checked
    /// against a model, and SQLITE.INFO's counters show which way each range went.
    func testRangesInRowidOrderAndTheirFallback() throws {
        let server = try TestServer()
        let client = try server.client(timeoutMs: 60_000)
        func counters() throws -> (hits: Int, misses: Int) {
            let fields = infoFields(try client.run("SQLITE.INFO"))
            return (Int(fields["list_ranges_rowid_order"] ?? "") ?? -1, Int(fields["list_ranges_rowid_order_missed"] ?? "") ?? -1)
        }
        var models: [String: [String]] = [:]
        func check(_ key: String, _ start: Int, _ stop: Int, expect outcome: (hits: Int, misses: Int)?, line: UInt = #line) throws {
            let before = try counters()
            let model = models[key]!
            let from = max(start < 0 ? model.count + start : start, 0)
            let to = min(stop < 0 ? model.count + stop : stop, model.count - 1)
            let expected = from <= to ? Array(model[from...to]) : []
            XCTAssertEqual(try client.run("LRANGE", key, String(start), String(stop)), bulks(expected),
                           "LRANGE \(key) \(start) \(stop)", line: line)
            let after = try counters()
            if let outcome {
                XCTAssertEqual(after.hits - before.hits, outcome.hits, "rowid-order reads of LRANGE \(key) \(start) \(stop)", line: line)
                XCTAssertEqual(after.misses - before.misses, outcome.misses, "fallbacks of LRANGE \(key) \(start) \(stop)", line: line)
            }
        }
        let values = (0..<200).map { "v\($0)" }
        // One command each: consecutive rowids, ascending (RPUSH) and descending (LPUSH) head to tail.
        _ = try client.command([Array("RPUSH".utf8), Array("right".utf8)] + values.map { Array($0.utf8) })
        _ = try client.command([Array("LPUSH".utf8), Array("left".utf8)] + values.map { Array($0.utf8) })
        models["right"] = values
        models["left"] = values.reversed()
        for key in ["right", "left"] {
            try check(key, 0, -1, expect: (1, 0))
            try check(key, 10, 109, expect: (1, 0))
            try check(key, -4, -1, expect: (1, 0))
            try check(key, 150, 1_000, expect: (1, 0))
            try check(key, 5, 7, expect: (0, 0))  // 3 elements: the index
        }
        // Two lists pushed in turn: each one's rows alternate with the other's.
        for value in values.prefix(50) {
            _ = try client.run("RPUSH", "a", value)
            _ = try client.run("RPUSH", "b", value)
        }
        models["a"] = Array(values.prefix(50))
        models["b"] = models["a"]
        try check("a", 0, -1, expect: (0, 1))
        try check("b", 3, 20, expect: (0, 1))
        // LSET rewrites a row in place; LINSERT puts a new row (a new rowid) in the middle.
        XCTAssertEqual(try client.run("LSET", "right", "100", "set"), ok)
        models["right"]![100] = "set"
        try check("right", 90, 110, expect: (1, 0))
        XCTAssertEqual(try client.run("LINSERT", "right", "BEFORE", "v150", "ins"), int(201))
        models["right"]!.insert("ins", at: 150)
        try check("right", 0, -1, expect: nil)
        try check("right", 140, 160, expect: nil)
        try check("right", 0, 20, expect: nil)
        // Pops move the ends; a removal far from both ends leaves a gap (no rowid-order read).
        _ = try client.run("LPOP", "left", "3")
        _ = try client.run("RPOP", "left", "2")
        models["left"] = Array(models["left"]!.dropFirst(3).dropLast(2))
        try check("left", 0, -1, expect: (1, 0))
        try check("left", 7, 70, expect: (1, 0))
        XCTAssertEqual(try client.run("LREM", "left", "1", "v100"), int(1))
        models["left"]!.removeAll { $0 == "v100" }
        try check("left", 0, -1, expect: (0, 0))
        try check("left", 60, 120, expect: (0, 0))
        XCTAssertEqual(try consistencyProblems(server.databasePath), [])
    }

    /// A 200,000-element list: the statements behind LINDEX/LSET/pushes and pops seek the
    /// (key_id, seq) index (asserted on SQLite's plan), and middle positions are exact.
    func testLargeListUsesIndexSeeks() throws {
        let server = try TestServer()
        let client = try server.client(timeoutMs: 60_000)
        let total = 200_000, batch = 5_000
        var pushed = 0
        while pushed < total {
            var command = lzWords("RPUSH", "big")
            for i in pushed..<(pushed + batch) { command.append(Array(String(i).utf8)) }
            _ = try client.pipeline([command])
            pushed += batch
        }
        XCTAssertEqual(try client.run("LLEN", "big"), int(Int64(total)))
        XCTAssertEqual(try client.run("LINDEX", "big", "100000"), bulk("100000"))
        XCTAssertEqual(try client.run("LINDEX", "big", "-1"), bulk("199999"))
        XCTAssertEqual(try client.run("LPUSH", "big", "h"), int(Int64(total + 1)))
        XCTAssertEqual(try client.run("LINDEX", "big", "100001"), bulk("100000"))
        XCTAssertEqual(try client.run("LSET", "big", "150001", "s"), ok)
        XCTAssertEqual(try client.run("LRANGE", "big", "150000", "150002"), bulks(["149999", "s", "150001"]))
        XCTAssertEqual(try client.run("LINSERT", "big", "BEFORE", "199990", "i"), int(Int64(total + 2)))
        XCTAssertEqual(try client.run("LINDEX", "big", "199991"), bulk("i"))
        XCTAssertEqual(try client.run("LREM", "big", "1", "5"), int(1))
        XCTAssertEqual(try client.run("LINDEX", "big", "6"), bulk("6"))
        XCTAssertEqual(try client.run("LPOP", "big"), bulk("h"))
        XCTAssertEqual(try client.run("RPOP", "big"), bulk("199999"))
        XCTAssertEqual(try consistencyProblems(server.databasePath), [])

        for sql in [ListSQL.head, ListSQL.tail, ListSQL.element, ListSQL.range, ListSQL.rangeDescending, ListSQL.fromHead, ListSQL.fromTail,
                    ListSQL.offsetFromHead, ListSQL.offsetFromTail, ListSQL.removeFromHead, ListSQL.removeFromTail] {
            let plan = try listZSetQueryPlan(server.databasePath, sql)
            XCTAssertTrue(plan.contains { $0.hasPrefix("SEARCH redis_lists USING") && $0.contains("(key_id=?") }, "\(sql): \(plan)")
            XCTAssertFalse(plan.contains { $0.contains("TEMP B-TREE") || $0.hasPrefix("SCAN") }, "\(sql): \(plan)")
        }
        XCTAssertTrue(try listZSetQueryPlan(server.databasePath, ListSQL.element).contains { $0.contains("seq=?") })
    }
}
