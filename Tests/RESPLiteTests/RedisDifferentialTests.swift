// Differential tests: identical command sequences against a real redis-server and RESPLite,
// replies compared one by one; each script then runs again as one pipeline (all requests in one
// write: turn batching and pipelined runs must not change a reply). Only values that legitimately differ are normalised:
//  - TTL / EXPIRETIME within ±1 s, PTTL / PEXPIRETIME within ±300 ms (the two servers run a
//    command a few microseconds apart; prefix a command with "=" to compare it exactly);
//  - SCAN: cursors and page boundaries differ, so a non-error SCAN is compared by running the
//    whole iteration (same MATCH/COUNT/TYPE) on both servers and comparing the key sets;
//  - KEYS: order; RANDOMKEY: only null vs a key; OBJECT IDLETIME: only "an integer"
//    (RESPLite counts from the last write, Redis from the last access: deliberate).
// Steps avoid outcomes that hinge on whether a millisecond passed between two commands
// (e.g. EXPIRE k 100 GT right after EXPIRE k 100). Arguments are strings where "\xNN" stands for the byte 0xNN (binary keys and values).
// Steps starting with "~" are directives: "~sleep ms", "~hash key" / "~set key" / "~list key"
// / "~zset key" (create a key of that type: with HSET/SADD/RPUSH/ZADD on Redis, and by
// inserting its metadata row into the SQLite file on RESPLite, whose collection commands are
// not built yet).

import Foundation
import XCTest
@testable import RESPLite

/// "\xNN" escapes to bytes; everything else is UTF-8.
func escapedBytes(_ text: String) -> [UInt8] {
    let utf8 = Array(text.utf8)
    var result: [UInt8] = []
    result.reserveCapacity(utf8.count)
    var i = 0
    func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: return byte - 48
        case 97...102: return byte - 87
        case 65...70: return byte - 55
        default: return nil
        }
    }
    while i < utf8.count {
        if utf8[i] == UInt8(ascii: "\\"), i + 3 < utf8.count, utf8[i + 1] == UInt8(ascii: "x"),
           let high = hex(utf8[i + 2]), let low = hex(utf8[i + 3]) {
            result.append(high << 4 | low)
            i += 4
        } else {
            result.append(utf8[i])
            i += 1
        }
    }
    return result
}

/// Inserts the metadata row of a key of another type straight into RESPLite's database file
/// (the server keeps running: WAL lets a second connection write between group commits). The
/// id is left to SQLite (the rowid), as the server's own inserts do.
func injectKey(databasePath: String, key: [UInt8], type: KeyType, count: Int64 = 1) throws {
    let connection = try openDatabase(databasePath)
    defer { connection.close() }
    try connection.execute("PRAGMA busy_timeout=5000")
    let hexKey = key.map { String(format: "%02x", $0) }.joined()
    let now = currentTimeMillis()
    try connection.execute("""
        INSERT INTO redis_keys(key, type, expires_at, updated_at, version, count, value)
        VALUES (X'\(hexKey)', \(type.rawValue), NULL, \(now), 1, \(count), NULL)
        """)
}

/// Runs scripts against Redis and RESPLite and collects every difference.
final class DifferentialRunner {
    let redis: RESPClient
    let lite: RESPClient
    let liteServer: TestServer
    private(set) var mismatches: [String] = []
    private(set) var compared = 0

    init(redis: RESPClient, lite: RESPClient, liteServer: TestServer) {
        self.redis = redis
        self.lite = lite
        self.liteServer = liteServer
    }

    func run(_ name: String, _ steps: [[String]]) throws {
        _ = try redis.run("FLUSHALL")
        _ = try lite.run("FLUSHALL")
        for (index, step) in steps.enumerated() {
            try runStep(name: name, index: index, step)
        }
        try runPipelined(name, steps)
    }

    /// Commands whose replies depend on more than the script (iterations, blocking, time) stay
    /// out of the pipelined pass.
    private static let notPipelined: Set<String> = [
        "scan", "sscan", "hscan", "zscan", "blpop", "brpop", "blmove", "brpoplpush", "blmpop",
        "bzpopmin", "bzpopmax", "bzmpop", "debug", "client", "monitor", "subscribe", "psubscribe",
        "ssubscribe", "wait", "shutdown", "save", "bgsave", "flushall", "flushdb", "swapdb", "select",
    ]

    /// The same script again as one pipeline (every request in one write, so RESPLite runs them
    /// in as few loop turns as it reads, with pipelined runs): each reply must still be Redis'.
    /// Scripts with directives or with the commands above are skipped.
    private func runPipelined(_ name: String, _ steps: [[String]]) throws {
        let pipelinable = steps.allSatisfy { step in
            !step[0].hasPrefix("~") && !Self.notPipelined.contains(step[0].trimmingCharacters(in: CharacterSet(charactersIn: "=")).lowercased())
        }
        guard pipelinable else { return }
        _ = try redis.run("FLUSHALL")
        _ = try lite.run("FLUSHALL")
        let commands = steps.map { step -> [[UInt8]] in
            var words = step
            if words[0].hasPrefix("=") { words[0].removeFirst() }
            return words.map(escapedBytes)
        }
        let redisReplies = try redis.pipeline(commands)
        let liteReplies = try lite.pipeline(commands)
        for (index, step) in steps.enumerated() {
            compared += 1
            if let problem = try difference(commands[index], redisReplies[index], liteReplies[index], exact: step[0].hasPrefix("=")) {
                mismatches.append("[\(name) pipelined #\(index)] \(step.joined(separator: " ")): \(problem)")
            }
        }
    }

    private func runStep(name: String, index: Int, _ step: [String]) throws {
        precondition(!step.isEmpty)
        if step[0].hasPrefix("~") {
            let directive = step[0].dropFirst()
            switch directive {
            case "sleep":
                usleep(useconds_t(Int(step[1])! * 1000))
            case "hash", "set", "list", "zset":
                let key = escapedBytes(step[1])
                let (redisCommand, type): ([[UInt8]], KeyType) = {
                    switch directive {
                    case "hash": return ([Array("HSET".utf8), key, Array("f".utf8), Array("v".utf8)], .hash)
                    case "set": return ([Array("SADD".utf8), key, Array("m".utf8)], .set)
                    case "list": return ([Array("RPUSH".utf8), key, Array("e".utf8)], .list)
                    default: return ([Array("ZADD".utf8), key, Array("1".utf8), Array("m".utf8)], .zset)
                    }
                }()
                let reply = try redis.command(redisCommand)
                precondition(reply == int(1), "\(redisCommand) on redis: \(reply)")
                try injectKey(databasePath: liteServer.databasePath, key: key, type: type)
            default:
                preconditionFailure("unknown directive \(step[0])")
            }
            return
        }
        var words = step
        var exact = false
        if words[0].hasPrefix("=") {
            exact = true
            words[0].removeFirst()
        }
        let argv = words.map(escapedBytes)
        let redisReply = try redis.command(argv)
        let liteReply = try lite.command(argv)
        compared += 1
        if let problem = try difference(argv, redisReply, liteReply, exact: exact) {
            mismatches.append("[\(name) #\(index)] \(words.joined(separator: " ")): \(problem)")
        }
    }

    private func difference(_ argv: [[UInt8]], _ r: RESPValue, _ l: RESPValue, exact: Bool) throws -> String? {
        let describe = "redis=\(r) resplite=\(l)"
        if exact { return r == l ? nil : describe }
        let command = String(decoding: argv[0], as: UTF8.self).lowercased()
        let sub = argv.count > 1 ? String(decoding: argv[1], as: UTF8.self).lowercased() : ""
        switch command {
        case "ttl", "expiretime", "pttl", "pexpiretime":
            let tolerance: Int64 = command.hasPrefix("p") ? 300 : 1
            if case .integer(let a) = r, case .integer(let b) = l, a >= 0, b >= 0 {
                return abs(a - b) <= tolerance ? nil : describe
            }
            return r == l ? nil : describe
        case "keys":
            if case .array(let a) = r, case .array(let b) = l {
                return sortedBulks(a) == sortedBulks(b) ? nil : describe
            }
            return r == l ? nil : describe
        case "randomkey":
            switch (r, l) {
            case (.bulk, .bulk), (.null, .null): return nil
            default: return r == l ? nil : describe
            }
        case "object" where sub == "idletime":
            if case .integer = r, case .integer = l { return nil }
            return r == l ? nil : describe
        case "scan":
            if case .error = r { return r == l ? nil : describe }
            if case .error = l { return describe }
            let a = try fullScan(redis, argv), b = try fullScan(lite, argv)
            if a != b {
                return "SCAN iteration: redis=\(a.map { String(decoding: $0, as: UTF8.self) }.sorted()) resplite=\(b.map { String(decoding: $0, as: UTF8.self) }.sorted())"
            }
            return nil
        default:
            return r == l ? nil : describe
        }
    }

    private func sortedBulks(_ values: [RESPValue]) -> [[UInt8]] {
        values.compactMap { value -> [UInt8]? in
            if case .bulk(let bytes) = value { return bytes }
            return nil
        }.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// Every key an iteration from cursor 0 returns, with the same options (bounded).
    private func fullScan(_ client: RESPClient, _ argv: [[UInt8]]) throws -> Set<[UInt8]> {
        var keys = Set<[UInt8]>()
        var cursor: [UInt8] = Array("0".utf8)
        for _ in 0..<100_000 {
            var command = argv
            command[1] = cursor
            guard case .array(let parts) = try client.command(command), parts.count == 2,
                  case .bulk(let next) = parts[0], case .array(let page) = parts[1] else {
                throw ClientError(message: "bad SCAN reply")
            }
            for case .bulk(let key) in page { keys.insert(key) }
            cursor = next
            if cursor == Array("0".utf8) { return keys }
        }
        throw ClientError(message: "SCAN did not finish")
    }
}

final class RedisDifferentialTests: XCTestCase {
    private func withRunner(_ body: (DifferentialRunner) throws -> Void) throws {
        let redisServer = try RedisServerProcess()
        let liteServer = try TestServer()
        let runner = DifferentialRunner(redis: try redisServer.client(), lite: try liteServer.client(), liteServer: liteServer)
        try body(runner)
        for mismatch in runner.mismatches { XCTFail(mismatch) }
        XCTAssertGreaterThan(runner.compared, 0)
        withExtendedLifetime(redisServer) {}
    }

    // A unix time far in the future (2100-01-01) for EXAT/PXAT/EXPIREAT.
    static let future = "4102444800"

    /// HSET and ZADD writes switch to INSERT-first after a run of new fields or members
    /// (`InsertFirst`) and back at the first existing one: replies and contents stay Redis'.
    func testBulkLoadsThenUpdatesOfHashesAndSortedSets() throws {
        let threshold = InsertFirst.threshold
        try withRunner { r in
            var hash: [[String]] = (0..<(threshold + 6)).map { ["HSET", "h", "f\($0)", "v\($0)"] }
            hash += [["HSET", "h", "f3", "x"], ["HSET", "h", "f100", "n"], ["HSET", "h", "f3", "y", "f101", "z"]]
            hash += (0..<(threshold + 2)).map { ["HSET", "h", "g\($0)", "v"] }
            hash += [["HSET", "h", "g1", "again", "g99", "new"], ["HSETNX", "h", "g2", "no"], ["HLEN", "h"],
                     ["HMGET", "h", "f0", "f3", "f9", "f100", "f101", "g1", "g2", "g99", "nope"]]  // HGETALL's order is Redis' insertion order
            try r.run("hash bulk load", hash)
            var zset: [[String]] = (0..<(threshold + 6)).map { ["ZADD", "z", "\($0)", "m\($0)"] }
            zset += [["ZADD", "z", "5", "m3"], ["ZADD", "z", "5", "m3"], ["ZADD", "z", "7", "m200"]]
            zset += (0..<(threshold + 2)).map { ["ZADD", "z", "1.5", "n\($0)"] }
            zset += [["ZADD", "z", "1.5", "n0"], ["ZADD", "z", "CH", "9", "n1"], ["ZADD", "z", "CH", "9", "n1"],
                     ["ZADD", "z", "XX", "3", "nothere"], ["ZADD", "z", "XX", "CH", "4", "n2"]]
            zset += (0..<(threshold + 1)).map { ["ZADD", "z", "2", "p\($0)"] }
            zset += [["ZADD", "z", "2", "p0", "8", "p99"], ["ZCARD", "z"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"]]
            try r.run("zset bulk load", zset)
        }
    }

    /// ZRANK/ZREVRANK of a set read twice without a write between come from `SortedSetRanks`;
    /// every kind of write between rank queries must leave the answers Redis'.
    func testRanksOfReadMostlySortedSetsStayExact() throws {
        try withRunner { r in
            var steps: [[String]] = [["ZADD", "lb", "0", "seed"]]
            steps += (0..<60).map { ["ZADD", "lb", "\(($0 * 37) % 50)", "p\($0)"] }
            func ranks(_ members: [Int]) -> [[String]] {
                members.flatMap { [["ZRANK", "lb", "p\($0)"], ["ZREVRANK", "lb", "p\($0)"]] } + [["ZRANK", "lb", "nobody"]]
            }
            let probe = [0, 7, 13, 42, 59]
            steps += ranks(probe) + ranks(probe)
            let writes: [[String]] = [
                ["ZADD", "lb", "25", "p7"], ["ZADD", "lb", "3.5", "new1"], ["ZINCRBY", "lb", "100", "p13"],
                ["ZREM", "lb", "p0"], ["ZADD", "lb", "0", "p0"], ["ZREMRANGEBYRANK", "lb", "0", "1"], ["ZPOPMAX", "lb"],
                ["ZADD", "lb", "XX", "CH", "1", "p42"], ["ZUNIONSTORE", "lb", "2", "lb", "other"],
                ["RENAME", "lb", "lb2"], ["RENAME", "lb2", "lb"], ["COPY", "lb", "lb3"], ["ZADD", "lb3", "1", "p59"],
                ["MULTI"], ["ZADD", "lb", "-1", "p59"], ["ZRANK", "lb", "p59"], ["EXEC"],
                ["DEL", "lb"], ["ZADD", "lb", "1", "p0", "2", "p7", "3", "p13", "4", "p42", "5", "p59"],
            ]
            for write in writes {
                steps.append(write)
                steps += ranks(probe) + ranks(probe)
            }
            steps += [["ZRANK", "lb3", "p59"], ["ZRANK", "lb3", "p59"], ["ZRANGE", "lb", "0", "-1", "WITHSCORES"]]
            try r.run("zset ranks", steps)
            let hits = Int(infoFields(try r.lite.run("SQLITE.INFO"))["zset_rank_hits"] ?? "") ?? -1
            XCTAssertGreaterThan(hits, 40, "ranks answered from memory")
        }
    }

    /// ZRANGE by rank and by score (and ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZREVRANGE, LIMIT,
    /// exclusive and infinite bounds, equal scores, -0, inf) of a set asked often without a
    /// write between come from the set's in-memory copy; every kind of write between them must
    /// leave the answers Redis'.
    func testRangesOfReadMostlySortedSetsStayExact() throws {
        try withRunner { r in
            var steps: [[String]] = [["ZADD", "zs", "-inf", "low", "inf", "high", "-0", "negzero", "0", "zero"]]
            steps += (0..<60).map { ["ZADD", "zs", "\(($0 * 37) % 25)", "m\($0)"] }  // ties: 2-3 members per score
            let reads: [[String]] = [
                ["ZRANGEBYSCORE", "zs", "3", "7"], ["ZREVRANGEBYSCORE", "zs", "7", "3", "WITHSCORES"],
                ["ZRANGEBYSCORE", "zs", "(3", "(7"], ["ZREVRANGEBYSCORE", "zs", "(7", "(3"],
                ["ZRANGEBYSCORE", "zs", "-inf", "+inf", "LIMIT", "5", "4"], ["ZREVRANGEBYSCORE", "zs", "+inf", "-inf", "LIMIT", "0", "3"],
                ["ZRANGEBYSCORE", "zs", "0", "0", "WITHSCORES"], ["ZRANGEBYSCORE", "zs", "(0", "1"], ["ZRANGEBYSCORE", "zs", "30", "40"],
                ["ZRANGEBYSCORE", "zs", "5", "5", "LIMIT", "1", "-1"], ["ZRANGEBYSCORE", "zs", "1", "24", "LIMIT", "70", "5"],
                ["ZRANGEBYSCORE", "zs", "1", "24", "LIMIT", "2", "0"], ["ZRANGEBYSCORE", "zs", "(inf", "inf"],
                ["ZRANGE", "zs", "(10", "20", "BYSCORE", "REV", "LIMIT", "1", "2"], ["ZRANGE", "zs", "0", "9"],
                ["ZRANGE", "zs", "-5", "-1", "WITHSCORES"], ["ZREVRANGE", "zs", "0", "4"], ["ZREVRANGE", "zs", "3", "100"],
                ["ZRANGE", "zs", "0", "-1", "REV"], ["ZRANGESTORE", "dst", "zs", "2", "6", "BYSCORE"], ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
            ]
            steps += reads + reads
            let writes: [[String]] = [
                ["ZADD", "zs", "5", "m7"], ["ZADD", "zs", "3.5", "new1"], ["ZINCRBY", "zs", "100", "m13"],
                ["ZREM", "zs", "m0"], ["ZREMRANGEBYSCORE", "zs", "20", "22"], ["ZPOPMIN", "zs"], ["ZADD", "zs", "XX", "CH", "1", "m42"],
                ["ZUNIONSTORE", "zs", "2", "zs", "other"], ["RENAME", "zs", "zs2"], ["RENAME", "zs2", "zs"], ["ZADD", "other", "1", "o"],
                ["MULTI"], ["ZADD", "zs", "6", "m59"], ["ZRANGEBYSCORE", "zs", "5", "7"], ["EXEC"],
                ["DEL", "zs"], ["ZADD", "zs", "1", "a", "2", "b", "2", "c", "3", "d", "5", "e"],
            ]
            for write in writes {
                steps.append(write)
                steps += reads + reads
            }
            try r.run("zset ranges", steps)
            let hits = Int(infoFields(try r.lite.run("SQLITE.INFO"))["zset_rank_hits"] ?? "") ?? -1
            XCTAssertGreaterThan(hits, 200, "ranges answered from memory")
        }
    }

    /// LRANGEs of a list asked often without a write between come from `ListHeads`; every kind
    /// of list write between them must leave the answers Redis'.
    func testHeadsOfReadMostlyListsStayExact() throws {
        try withRunner { r in
            var steps: [[String]] = [["RPUSH", "feed"] + (0..<40).map { "e\($0)" }, ["RPUSH", "side", "s"]]
            let reads: [[String]] = [["LRANGE", "feed", "0", "9"], ["LRANGE", "feed", "5", "7"], ["LRANGE", "feed", "0", "-1"],
                                     ["LRANGE", "feed", "-3", "-1"], ["LRANGE", "feed", "30", "100"], ["LINDEX", "feed", "2"]]
            steps += Array(repeating: reads, count: 5).flatMap { $0 }  // 25 LRANGEs: read at the 8th, 17 hits
            let writes: [[String]] = [
                ["LPUSH", "feed", "new0"], ["RPUSH", "feed", "new1"], ["LPOP", "feed"], ["RPOP", "feed"], ["LPOP", "feed", "2"],
                ["LSET", "feed", "3", "set3"], ["LREM", "feed", "1", "e10"], ["LTRIM", "feed", "1", "30"],
                ["LINSERT", "feed", "BEFORE", "e5", "ins"], ["RPOPLPUSH", "feed", "feed"], ["LMOVE", "feed", "side", "LEFT", "RIGHT"],
                ["LMOVE", "side", "feed", "RIGHT", "LEFT"], ["RPUSH", "side", "x"], ["LPOP", "side"],
                ["RENAME", "feed", "feed2"], ["RENAME", "feed2", "feed"], ["COPY", "feed", "feed3"], ["RPUSH", "feed3", "c"],
                ["MULTI"], ["LPUSH", "feed", "m"], ["LRANGE", "feed", "0", "2"], ["EXEC"],
                ["DEL", "feed"], ["RPUSH", "feed", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"],
            ]
            for write in writes {
                steps.append(write)
                steps += Array(repeating: reads, count: 5).flatMap { $0 }
            }
            steps += [["LRANGE", "feed3", "0", "-1"], ["LRANGE", "side", "0", "-1"]]
            try r.run("list heads", steps)
            let hits = Int(infoFields(try r.lite.run("SQLITE.INFO"))["list_head_hits"] ?? "") ?? -1
            XCTAssertGreaterThan(hits, 40, "ranges answered from memory")
        }
    }

    func testConnectionAndUnknownCommands() throws {
        try withRunner { r in
            try r.run("ping", [
                ["PING"], ["ping"], ["PiNg"], ["PING", "hello"], ["PING", ""], ["PING", "a", "b"],
                ["PING", "bin\\x00\\xff\r\n"],
                ["ECHO", "x"], ["echo", ""], ["ECHO"], ["ECHO", "a", "b"], ["ECHO", "\\x00\\xff\r\n"],
            ])
            let long = String(repeating: "a", count: 200)
            try r.run("unknown", [
                ["FOO"], ["foo", "bar"], ["FOO", "a", "b", "c"], ["FoO", ""], ["NOSUCH", long],
                ["NOSUCH", long, "x"], ["NOSUCH", String(repeating: "b", count: 120), "cdefghijkl", "zz"],
                [long], [long, "x"],
                ["FOO", "a\r\nb"], ["FOO", "a\\x00b", "c"], ["FOO", "\r\n"],
                ["", "x"], ["GET2", "k"], ["SETX", "k", "v"],
            ])
        }
    }

    func testSetAndVariants() throws {
        try withRunner { r in
            try r.run("set-basic", [
                ["SET", "k", "v"], ["GET", "k"], ["GET", "missing"], ["SET", "k", "v2"], ["GET", "k"],
                ["SET", "k", ""], ["GET", "k"], ["STRLEN", "k"], ["EXISTS", "k"],
                ["SET", "k\\x00\\xff\r\n", "v\\x00\\xff\r\nx"], ["GET", "k\\x00\\xff\r\n"], ["STRLEN", "k\\x00\\xff\r\n"],
                ["SET", "k"], ["SET"], ["GET"], ["GET", "a", "b"],
                ["set", "k", "v"], ["sEt", "k", "v", "ex", "100"], ["TTL", "k"], ["gEt", "k"],
            ])
            try r.run("set-conditions", [
                ["SET", "k", "v", "NX"], ["SET", "k", "w", "NX"], ["GET", "k"],
                ["SET", "k", "x", "XX"], ["GET", "k"], ["SET", "n", "v", "XX"], ["EXISTS", "n"],
                ["SET", "k", "v", "NX", "XX"], ["SET", "k", "v", "XX", "NX"], ["SET", "k", "v", "nx", "nx"],
                ["SET", "k", "v", "XX", "XX"], ["SET", "k", "v", "nX"], ["SET", "k", "v", "Xx"],
                ["SET", "k", "v1", "GET"], ["SET", "k", "v2", "get"], ["SET", "k", "v3", "GET", "GET"],
                ["SET", "m", "v", "GET"], ["GET", "m"], ["SET", "k", "v4", "NX", "GET"], ["GET", "k"],
                ["SET", "k", "v5", "XX", "GET"], ["SET", "z", "v", "XX", "GET"], ["EXISTS", "z"],
                ["SET", "y", "v", "NX", "GET"], ["GET", "y"], ["SET", "k", "v", "GET", "NX", "XX"],
            ])
            try r.run("set-expiry", [
                ["SET", "k", "v", "EX", "100"], ["TTL", "k"], ["PTTL", "k"],
                ["SET", "k", "v"], ["TTL", "k"],
                ["SET", "k", "v", "PX", "100000"], ["PTTL", "k"], ["TTL", "k"],
                ["SET", "k", "v", "EXAT", Self.future], ["=EXPIRETIME", "k"], ["=PEXPIRETIME", "k"],
                ["SET", "k", "v", "PXAT", Self.future + "123"], ["=PEXPIRETIME", "k"], ["=EXPIRETIME", "k"],
                ["SET", "k", "v", "PXAT", Self.future + "623"], ["=EXPIRETIME", "k"],
                ["SET", "k", "v", "EX", "100"], ["SET", "k", "v2", "KEEPTTL"], ["TTL", "k"], ["GET", "k"],
                ["SET", "k", "v3", "keepttl", "KEEPTTL"], ["TTL", "k"],
                ["SET", "k", "v", "EX", "100", "EX", "200"], ["TTL", "k"],
                ["SET", "k", "v", "PX", "100", "PX", "300000"], ["TTL", "k"],
                ["SET", "k", "v", "EX", "100", "PX", "100"], ["SET", "k", "v", "PX", "100", "EX", "100"],
                ["SET", "k", "v", "EX", "100", "EXAT", Self.future], ["SET", "k", "v", "PXAT", Self.future, "PX", "1"],
                ["SET", "k", "v", "EX", "100", "KEEPTTL"], ["SET", "k", "v", "KEEPTTL", "EX", "100"],
                ["SET", "k", "v", "KEEPTTL", "PXAT", "1"],
                ["SET", "k", "v", "EX"], ["SET", "k", "v", "PX"], ["SET", "k", "v", "FOO"], ["SET", "k", "v", "EX", "10", "FOO"],
                ["SET", "k", "v", "EX", "0"], ["SET", "k", "v", "EX", "-1"], ["SET", "k", "v", "PX", "0"],
                ["SET", "k", "v", "PX", "-5"], ["SET", "k", "v", "EXAT", "0"], ["SET", "k", "v", "PXAT", "0"],
                ["SET", "k", "v", "EX", "abc"], ["SET", "k", "v", "EX", "1.5"], ["SET", "k", "v", "EX", " 10"],
                ["SET", "k", "v", "EX", "010"], ["SET", "k", "v", "EX", "+10"], ["SET", "k", "v", "EX", ""],
                ["SET", "k", "v", "EX", "9223372036854775808"],
                ["SET", "k", "v", "EX", "9223372036854775807"], ["SET", "k", "v", "PX", "9223372036854775807"],
                ["SET", "k", "v", "EXAT", "9223372036854775807"], ["SET", "k", "v", "EX", "9223372036854775"],
                ["SET", "k", "v", "EX", "abc", "NX", "XX"], ["SET", "k", "v", "EX", "0", "FOO"],
                ["SET", "k", "v", "EX", "abc", "GET"],
                ["SET", "k", "v", "PXAT", "9223372036854775807"], ["TTL", "k"], ["GET", "k"],
                ["SET", "k", "v", "EXAT", "1"], ["GET", "k"], ["EXISTS", "k"], ["TTL", "k"],
                ["SET", "k", "v", "PXAT", "1", "GET"], ["SET", "k", "v", "PX", "100000", "XX", "GET"], ["TTL", "k"],
                ["SET", "k", "v", "EX", "100", "NX"], ["TTL", "k"],
            ])
            try r.run("setex-family", [
                ["SETEX", "k", "100", "v"], ["TTL", "k"], ["GET", "k"],
                ["SETEX", "k", "0", "v"], ["SETEX", "k", "-5", "v"], ["SETEX", "k", "abc", "v"],
                ["SETEX", "k", "9223372036854775807", "v"], ["SETEX", "k", "100"], ["SETEX", "k", "1", "v", "x"],
                ["PSETEX", "k", "100000", "w"], ["PTTL", "k"], ["GET", "k"], ["PSETEX", "k", "0", "v"],
                ["PSETEX", "k", "-1", "v"], ["PSETEX", "k", "x", "v"],
                ["SETNX", "k", "z"], ["GET", "k"], ["TTL", "k"], ["SETNX", "n", "z"], ["GET", "n"], ["TTL", "n"],
                ["SETNX", "n"], ["SETNX", "\\x00", "\\xff"], ["GET", "\\x00"],
                ["GETSET", "k", "new"], ["TTL", "k"], ["GET", "k"], ["GETSET", "missing", "x"], ["GET", "missing"],
                ["GETSET", "k"],
                ["SET", "p", "v", "PX", "30"], ["~sleep", "60"], ["SETNX", "p", "again"], ["GET", "p"], ["TTL", "p"],
            ])
            try r.run("wrongtype-set", [
                ["~hash", "h"], ["EXPIRE", "h", "100"],
                ["GET", "h"], ["SET", "h", "v", "GET"], ["SET", "h", "v", "NX"], ["TYPE", "h"],
                ["SET", "h", "v", "XX", "GET"], ["GETSET", "h", "v"], ["SETNX", "h", "v"], ["TYPE", "h"], ["TTL", "h"],
                ["SET", "h", "v", "KEEPTTL"], ["TYPE", "h"], ["GET", "h"], ["TTL", "h"],
                ["~hash", "h2"], ["SET", "h2", "v", "XX"], ["GET", "h2"], ["TYPE", "h2"],
                ["~hash", "h3"], ["SETEX", "h3", "100", "v"], ["TYPE", "h3"], ["TTL", "h3"],
                ["~hash", "h4"], ["SET", "h4", "v"], ["TYPE", "h4"], ["TTL", "h4"],
                ["~list", "l"], ["MSET", "l", "x", "a", "b"], ["TYPE", "l"], ["GET", "l"],
            ])
        }
    }

    func testGetFamilyAndMulti() throws {
        try withRunner { r in
            try r.run("getdel-getex", [
                ["SET", "k", "v"], ["GETDEL", "k"], ["GETDEL", "k"], ["EXISTS", "k"], ["GETDEL"], ["GETDEL", "a", "b"],
                ["SET", "k", "v", "EX", "100"], ["GETEX", "k"], ["TTL", "k"],
                ["GETEX", "k", "PERSIST"], ["TTL", "k"], ["GETEX", "k", "EX", "200"], ["TTL", "k"],
                ["GETEX", "k", "PX", "300000"], ["PTTL", "k"], ["GETEX", "k", "EXAT", Self.future], ["=EXPIRETIME", "k"],
                ["GETEX", "k", "PXAT", Self.future + "999"], ["=PEXPIRETIME", "k"], ["=EXPIRETIME", "k"],
                ["GETEX", "k", "ex", "100", "EX", "50"], ["TTL", "k"], ["GETEX", "k", "persist", "PERSIST"], ["TTL", "k"],
                ["GETEX", "k", "EX", "10", "PX", "10"], ["GETEX", "k", "PERSIST", "EX", "10"],
                ["GETEX", "k", "EX", "10", "PERSIST"], ["GETEX", "k", "NX"], ["GETEX", "k", "XX"], ["GETEX", "k", "GET"],
                ["GETEX", "k", "KEEPTTL"], ["GETEX", "k", "EX"], ["GETEX", "k", "FOO"],
                ["GETEX", "k", "EX", "abc"], ["GETEX", "k", "EX", "0"], ["GETEX", "k", "PX", "-1"],
                ["GETEX", "k", "EXAT", "0"], ["GETEX", "k", "EX", "9223372036854775807"],
                ["GETEX", "missing", "EX", "abc"], ["GETEX", "missing", "EX", "0"], ["GETEX", "missing"],
                ["GETEX", "missing", "FOO"], ["GETEX", "missing", "EX", "10", "PX", "5"],
                ["GETEX", "k", "PXAT", "1"], ["EXISTS", "k"], ["GETEX", "k"], ["GETEX"],
                ["~hash", "h"], ["GETDEL", "h"], ["GETEX", "h"], ["GETEX", "h", "EX", "abc"], ["GETEX", "h", "EX", "10"],
                ["TTL", "h"], ["TYPE", "h"],
            ])
            try r.run("mget-mset", [
                ["MSET", "a", "1", "b", "2"], ["MGET", "a", "b", "c"], ["MGET", "a"], ["MGET"],
                ["MSET", "a"], ["MSET", "a", "1", "b"], ["MSET"],
                ["MSETNX", "a", "1", "c", "3"], ["EXISTS", "c"], ["MSETNX", "c", "3", "d", "4"], ["MGET", "c", "d"],
                ["MSETNX", "c"], ["MSETNX", "x", "1", "y"], ["MSETNX", "x", "1", "x", "2"], ["GET", "x"],
                ["MSET", "a", "1", "a", "2"], ["GET", "a"],
                ["SET", "t", "v", "EX", "100"], ["MSET", "t", "w"], ["TTL", "t"],
                ["MSET", "\\x00\\xff", "\r\n", "e", ""], ["MGET", "\\x00\\xff", "e", "nope"],
                ["~hash", "h"], ["MGET", "a", "h", "b"], ["MSETNX", "h", "1", "q", "2"], ["EXISTS", "q"],
                ["SET", "p", "v", "PX", "20"], ["~sleep", "50"], ["MGET", "p", "a"], ["MSETNX", "p", "1", "q", "2"],
                ["MGET", "p", "q"], ["TTL", "p"],
            ])
        }
    }

    func testAppendAndRanges() throws {
        try withRunner { r in
            try r.run("append-strlen", [
                ["APPEND", "a", "hello"], ["APPEND", "a", " world"], ["GET", "a"], ["STRLEN", "a"],
                ["STRLEN", "missing"], ["APPEND", "e", ""], ["EXISTS", "e"], ["TYPE", "e"], ["STRLEN", "e"],
                ["SET", "t", "x", "EX", "100"], ["APPEND", "t", "y"], ["TTL", "t"], ["GET", "t"],
                ["APPEND", "b", "\\x00\\xff"], ["APPEND", "b", "\r\n"], ["GET", "b"], ["STRLEN", "b"],
                ["SET", "n", "123"], ["APPEND", "n", "4"], ["INCR", "n"],
                ["APPEND", "a"], ["APPEND", "a", "b", "c"], ["STRLEN"], ["STRLEN", "a", "b"],
                ["~hash", "h"], ["APPEND", "h", "x"], ["STRLEN", "h"], ["TYPE", "h"],
                ["SET", "p", "old", "PX", "20"], ["~sleep", "50"], ["APPEND", "p", "new"], ["GET", "p"], ["TTL", "p"],
                ["STRLEN", "p"],
            ])
            try r.run("getrange", [
                ["SET", "s", "This is a string"],
                ["GETRANGE", "s", "0", "3"], ["GETRANGE", "s", "-3", "-1"], ["GETRANGE", "s", "0", "-1"],
                ["GETRANGE", "s", "10", "100"], ["GETRANGE", "s", "5", "3"], ["GETRANGE", "s", "-1", "-5"],
                ["GETRANGE", "s", "-100", "-1"], ["GETRANGE", "s", "-100", "-100"], ["GETRANGE", "s", "-100", "2"],
                ["GETRANGE", "s", "100", "200"], ["GETRANGE", "s", "15", "15"], ["GETRANGE", "s", "16", "16"],
                ["GETRANGE", "s", "-1", "-1"], ["GETRANGE", "s", "0", "0"], ["GETRANGE", "s", "3", "-20"],
                ["GETRANGE", "s", "-9223372036854775808", "9223372036854775807"],
                ["GETRANGE", "s", "9223372036854775807", "-9223372036854775808"],
                ["GETRANGE", "s", "abc", "1"], ["GETRANGE", "s", "0", "1.5"], ["GETRANGE", "s", "0"],
                ["GETRANGE", "missing", "0", "-1"], ["GETRANGE", "missing", "x", "1"],
                ["SET", "e", ""], ["GETRANGE", "e", "0", "-1"], ["GETRANGE", "e", "0", "0"], ["GETRANGE", "e", "-1", "0"],
                ["SET", "n", "12345"], ["GETRANGE", "n", "1", "2"], ["SUBSTR", "s", "0", "3"], ["SUBSTR", "s", "-3", "-1"],
                ["SET", "b", "\\x00\\xff\r\n\\x01"], ["GETRANGE", "b", "1", "3"],
                ["~hash", "h"], ["GETRANGE", "h", "0", "1"], ["GETRANGE", "h", "x", "1"],
            ])
            try r.run("setrange", [
                ["SET", "k", "Hello World"], ["SETRANGE", "k", "6", "Redis"], ["GET", "k"],
                ["SETRANGE", "m", "5", "x"], ["GET", "m"], ["STRLEN", "m"],
                ["SETRANGE", "k", "-1", "x"], ["SETRANGE", "k", "abc", "x"], ["SETRANGE", "k", "1.0", "x"],
                ["SETRANGE", "z", "10", ""], ["EXISTS", "z"], ["SETRANGE", "k", "100", ""], ["GET", "k"],
                ["SETRANGE", "z", "-1", ""], ["SETRANGE", "k", "0", ""],
                ["SETRANGE", "k", "536870912", "x"], ["SETRANGE", "k", "536870911", "xy"],
                ["SETRANGE", "k", "9223372036854775807", "x"], ["SETRANGE", "k", "9223372036854775808", "x"],
                ["SETRANGE", "q", "9223372036854775807", "x"], ["EXISTS", "q"],
                ["SETRANGE", "k", "11", "!"], ["GET", "k"], ["SETRANGE", "k", "14", "?"], ["GET", "k"],
                ["SET", "t", "abc", "EX", "100"], ["SETRANGE", "t", "1", "X"], ["TTL", "t"], ["GET", "t"],
                ["SETRANGE", "b", "2", "\\x00\\xff"], ["GET", "b"],
                ["SETRANGE", "k", "0"], ["SETRANGE", "k"],
                ["~hash", "h"], ["SETRANGE", "h", "0", "x"], ["SETRANGE", "h", "0", ""], ["SETRANGE", "h", "-1", "x"],
                ["SET", "p", "old", "PX", "20"], ["~sleep", "50"], ["SETRANGE", "p", "1", "x"], ["GET", "p"], ["TTL", "p"],
            ])
        }
    }

    func testCounters() throws {
        try withRunner { r in
            try r.run("incr", [
                ["INCR", "n"], ["INCRBY", "n", "10"], ["DECR", "n"], ["DECRBY", "n", "5"], ["INCRBY", "n", "-3"],
                ["DECRBY", "n", "-4"], ["GET", "n"], ["incr", "n"], ["IncrBy", "n", "0"],
                ["SET", "n", "9223372036854775807"], ["INCR", "n"], ["INCRBY", "n", "0"], ["DECR", "n"],
                ["SET", "n", "-9223372036854775808"], ["DECR", "n"], ["DECRBY", "n", "1"], ["INCRBY", "n", "-1"],
                ["INCR", "n"], ["SET", "n", "1"], ["INCRBY", "n", "9223372036854775807"],
                ["DECRBY", "n", "-9223372036854775808"], ["DECRBY", "x", "-9223372036854775808"], ["EXISTS", "x"],
                ["INCRBY", "n", "-9223372036854775808"], ["GET", "n"],
                ["INCRBY", "n", "abc"], ["INCRBY", "n", "1.5"], ["INCRBY", "n", "9223372036854775808"],
                ["INCRBY", "n", ""], ["INCRBY", "n", " 1"], ["DECRBY", "n", "x"],
                ["SET", "s", "abc"], ["INCR", "s"], ["SET", "s", " 1"], ["INCR", "s"], ["SET", "s", "1 "], ["INCR", "s"],
                ["SET", "s", "1.5"], ["INCR", "s"], ["SET", "s", "007"], ["INCR", "s"], ["SET", "s", "-0"], ["INCR", "s"],
                ["SET", "s", "+1"], ["INCR", "s"], ["SET", "s", ""], ["INCR", "s"], ["SET", "s", "12345678901234567890"],
                ["INCR", "s"], ["SET", "s", "-1"], ["INCR", "s"], ["INCR", "s"], ["SET", "s", "0"], ["DECR", "s"],
                ["SET", "s", "1\\x00"], ["INCR", "s"],
                ["SET", "t", "5", "EX", "100"], ["INCR", "t"], ["TTL", "t"], ["DECRBY", "t", "3"], ["TTL", "t"],
                ["INCR"], ["INCR", "a", "b"], ["INCRBY", "a"], ["DECRBY", "a", "1", "2"], ["DECR"],
                ["~hash", "h"], ["INCR", "h"], ["DECR", "h"], ["INCRBY", "h", "1"], ["INCRBY", "h", "x"],
                ["DECRBY", "h", "1"], ["TYPE", "h"],
                ["SET", "p", "41", "PX", "20"], ["~sleep", "50"], ["INCR", "p"], ["TTL", "p"],
            ])
            try r.run("incrbyfloat", [
                ["SET", "f", "10.50"], ["INCRBYFLOAT", "f", "0.1"], ["INCRBYFLOAT", "f", "-5"], ["GET", "f"],
                ["SET", "f", "5.0e3"], ["INCRBYFLOAT", "f", "2.0e2"], ["GET", "f"],
                ["INCRBYFLOAT", "z", "0.1"], ["INCRBYFLOAT", "z", "0.2"], ["INCRBYFLOAT", "new", "3"],
                ["INCRBYFLOAT", "f", "abc"], ["INCRBYFLOAT", "f", "1e5000"], ["INCRBYFLOAT", "f", "-1e5000"],
                ["INCRBYFLOAT", "f", "1e-5000"], ["INCRBYFLOAT", "f", "inf"], ["INCRBYFLOAT", "f", "-inf"],
                ["INCRBYFLOAT", "f", "nan"], ["INCRBYFLOAT", "f", " 1"], ["INCRBYFLOAT", "f", "1 "],
                ["INCRBYFLOAT", "f", ""], ["INCRBYFLOAT", "f", "0x10"], ["INCRBYFLOAT", "f", "1e3"],
                ["INCRBYFLOAT", "f", "+2"], ["INCRBYFLOAT", "f", ".5"], ["INCRBYFLOAT", "f", "5."],
                ["INCRBYFLOAT", "f", "1\\x00"], ["INCRBYFLOAT", "f", "1.23e20"], ["INCRBYFLOAT", "f", "-1.23e20"],
                ["INCRBYFLOAT", "f", "1e-20"], ["INCRBYFLOAT", "m", "-0.0"], ["INCRBYFLOAT", "m", "0"],
                ["INCRBYFLOAT", "g", "1e300"], ["INCRBYFLOAT", "g", "1e300"], ["INCRBYFLOAT", "w", "3.0000000000000000001"],
                ["INCRBYFLOAT", "v", "0.1"], ["INCRBYFLOAT", "v", "0.1"], ["INCRBYFLOAT", "v", "0.1"],
                ["INCRBYFLOAT", "u", "1.7976931348623157e308"], ["INCRBYFLOAT", "u", "1e308"],
                ["SET", "s", "abc"], ["INCRBYFLOAT", "s", "1"], ["INCRBYFLOAT", "s", "xyz"], ["SET", "s", " 1"],
                ["INCRBYFLOAT", "s", "1"], ["SET", "s", "inf"], ["INCRBYFLOAT", "s", "1"], ["SET", "s", "1e5000"],
                ["INCRBYFLOAT", "s", "1"],
                ["SET", "t", "1.5", "EX", "100"], ["INCRBYFLOAT", "t", "1"], ["TTL", "t"], ["GET", "t"],
                ["INCRBYFLOAT", "t"], ["INCRBYFLOAT", "t", "1", "2"],
                ["~hash", "h"], ["INCRBYFLOAT", "h", "1"], ["INCRBYFLOAT", "h", "abc"], ["TYPE", "h"],
                ["INCRBYFLOAT", "missing", "abc"], ["EXISTS", "missing"],
            ])
        }
    }

    /// DEL takes a cached key's row id, type and expiry from the hot cache, and a key the cache
    /// knows to be absent costs no statement: every cache state a key can be in before a
    /// delete (absent, a string SET wrote, a collection a read cached, expired, renamed into an
    /// absent name, another type since) answers as Redis does and leaves no orphan rows.
    func testDeletesThroughTheHotCache() throws {
        try withRunner { r in
            try r.run("del through the cache", [
                ["GET", "k"], ["DEL", "k"], ["SET", "k", "v"], ["DEL", "k"], ["DEL", "k"], ["GET", "k"], ["EXISTS", "k"],
                ["HSET", "h", "f", "v", "g", "w"], ["HLEN", "h"], ["DEL", "h"], ["HGETALL", "h"], ["HSET", "h", "x", "y"], ["HGETALL", "h"],
                ["SADD", "s", "a", "b"], ["SCARD", "s"], ["DEL", "s"], ["SMEMBERS", "s"], ["SADD", "s", "c"], ["SMEMBERS", "s"],
                ["RPUSH", "l", "a", "b"], ["LLEN", "l"], ["DEL", "l"], ["LRANGE", "l", "0", "-1"], ["RPUSH", "l", "c"], ["LRANGE", "l", "0", "-1"],
                ["ZADD", "z", "1", "a", "2", "b"], ["ZCARD", "z"], ["DEL", "z"], ["ZRANGE", "z", "0", "-1"], ["ZADD", "z", "3", "c"],
                ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
                ["SET", "e", "v", "PX", "20"], ["GET", "e"], ["~sleep", "50"], ["DEL", "e"], ["EXISTS", "e"], ["DEL", "e"],
                ["GET", "n"], ["SET", "o", "1"], ["RENAME", "o", "n"], ["DEL", "n"], ["GET", "n"], ["DEL", "o"],
                ["SET", "t", "v"], ["GET", "t"], ["DEL", "t"], ["LPUSH", "t", "a"], ["LLEN", "t"], ["DEL", "t"], ["TYPE", "t"],
                ["SET", "lock", "token", "NX", "PX", "10000"], ["DEL", "lock"], ["SET", "lock", "other", "NX", "PX", "10000"], ["GET", "lock"],
                ["MULTI"], ["SET", "m", "1"], ["DEL", "m"], ["DEL", "m"], ["GET", "m"], ["EXEC"],
                ["INCR", "c"], ["DEL", "c"], ["INCR", "c"], ["DEL", "c", "c", "missing", "k"],
                ["SET", "g", "v"], ["GETDEL", "g"], ["GETDEL", "g"], ["UNLINK", "lock", "lock"], ["DBSIZE"],
            ])
            XCTAssertEqual(try consistencyProblems(r.liteServer.databasePath), [])
        }
    }

    func testKeyCommands() throws {
        try withRunner { r in
            try r.run("del-exists", [
                ["MSET", "a", "1", "b", "2", "c", "3"], ["DEL", "a", "b", "x"], ["DEL", "a"], ["EXISTS", "a", "b", "c"],
                ["EXISTS", "c", "c", "c", "x"], ["UNLINK", "c", "c"], ["EXISTS", "c"], ["DEL"], ["EXISTS"], ["UNLINK"],
                ["SET", "\\x00\\xff", "v"], ["EXISTS", "\\x00\\xff"], ["DEL", "\\x00\\xff"],
                ["~hash", "h"], ["EXISTS", "h"], ["DEL", "h"], ["EXISTS", "h"], ["TYPE", "h"],
                ["SET", "p", "v", "PX", "20"], ["~sleep", "50"], ["DEL", "p"], ["EXISTS", "p"], ["UNLINK", "p"],
                ["TOUCH", "p"],
            ])
            try r.run("type-touch", [
                ["SET", "s", "v"], ["TYPE", "s"], ["TYPE", "missing"], ["~hash", "h"], ["~set", "st"], ["~list", "l"],
                ["~zset", "z"], ["TYPE", "h"], ["TYPE", "st"], ["TYPE", "l"], ["TYPE", "z"],
                ["TYPE"], ["TYPE", "a", "b"], ["TOUCH", "s", "h", "missing", "s"], ["TOUCH"],
            ])
            try r.run("rename", [
                ["SET", "a", "1"], ["RENAME", "a", "b"], ["GET", "a"], ["GET", "b"], ["RENAME", "a", "c"],
                ["RENAME", "b", "b"], ["GET", "b"], ["RENAME", "missing", "missing"],
                ["SET", "a", "2", "EX", "100"], ["RENAME", "a", "b"], ["TTL", "b"], ["GET", "b"],
                ["SET", "c", "3"], ["RENAME", "c", "b"], ["TTL", "b"], ["GET", "b"],
                ["SET", "d", "4", "EX", "50"], ["SET", "e", "5", "EX", "500"], ["RENAME", "e", "d"], ["TTL", "d"],
                ["RENAMENX", "d", "b"], ["GET", "d"], ["RENAMENX", "d", "f"], ["GET", "f"], ["TTL", "f"],
                ["RENAMENX", "f", "f"], ["RENAMENX", "missing", "x"], ["RENAMENX", "missing", "missing"],
                ["RENAME", "a"], ["RENAME", "a", "b", "c"], ["RENAMENX", "a"],
                ["SET", "\\x00", "bin"], ["RENAME", "\\x00", "\\xff\r\n"], ["GET", "\\xff\r\n"],
                ["~hash", "h"], ["EXPIRE", "h", "100"], ["RENAME", "h", "h2"], ["TYPE", "h2"], ["TTL", "h2"],
                ["RENAME", "f", "h2"], ["TYPE", "h2"], ["GET", "h2"], ["~hash", "h3"], ["RENAMENX", "b", "h3"],
                ["SET", "p", "v", "PX", "20"], ["~sleep", "50"], ["RENAME", "p", "q"], ["RENAMENX", "p", "q"],
                ["SET", "r", "v", "PX", "20"], ["SET", "s", "1"], ["~sleep", "50"], ["RENAMENX", "s", "r"],
                ["GET", "r"], ["TTL", "r"],
            ])
            try r.run("copy", [
                ["SET", "a", "1", "EX", "100"], ["COPY", "a", "b"], ["GET", "b"], ["TTL", "b"], ["COPY", "a", "b"],
                ["SET", "a", "2"], ["COPY", "a", "b", "REPLACE"], ["GET", "b"], ["TTL", "b"], ["COPY", "a", "b", "replace"],
                ["COPY", "a", "a"], ["COPY", "missing", "a"], ["COPY", "missing", "missing"],
                ["COPY", "a", "c", "DB", "0"], ["GET", "c"], ["COPY", "a", "c", "DB", "0", "REPLACE"],
                ["COPY", "a", "d", "DB", "abc"], ["COPY", "a", "d", "DB", "-1"], ["COPY", "a", "d", "DB", "16"],
                ["COPY", "a", "d", "DB", "99999999999"], ["COPY", "a", "d", "DB"], ["COPY", "a", "d", "FOO"],
                ["COPY", "a", "a", "DB", "0"], ["COPY", "a", "a", "FOO"], ["COPY", "a", "a", "DB", "x"],
                ["COPY", "missing", "d", "FOO"], ["COPY", "a"], ["COPY"],
                ["SET", "\\x00", "\\xff"], ["COPY", "\\x00", "\r\n"], ["GET", "\r\n"],
                ["HSET", "hc", "f", "v"], ["EXPIRE", "hc", "100"], ["COPY", "hc", "hd"], ["TTL", "hd"], ["HGETALL", "hd"],
                ["ZADD", "zc", "1", "m"], ["PEXPIRE", "zc", "90000"], ["COPY", "zc", "zd"], ["PTTL", "zd"], ["TTL", "zc"],
                ["SET", "p", "v", "PX", "20"], ["~sleep", "50"], ["COPY", "p", "q"], ["COPY", "a", "p"], ["GET", "p"],
            ])
        }
    }

    func testExpiryCommands() throws {
        try withRunner { r in
            try r.run("expire", [
                ["SET", "k", "v"], ["TTL", "k"], ["PTTL", "k"], ["EXPIRETIME", "k"], ["PEXPIRETIME", "k"],
                ["TTL", "missing"], ["PTTL", "missing"], ["EXPIRETIME", "missing"], ["PEXPIRETIME", "missing"],
                ["EXPIRE", "k", "100"], ["TTL", "k"], ["EXPIRE", "missing", "100"], ["EXPIRE", "missing", "-1"],
                ["EXPIRE", "k", "100", "NX"], ["EXPIRE", "k", "200", "XX"], ["TTL", "k"],
                ["EXPIRE", "k", "50", "GT"], ["EXPIRE", "k", "300", "GT"], ["TTL", "k"],
                ["EXPIRE", "k", "400", "LT"], ["EXPIRE", "k", "100", "LT"], ["TTL", "k"],
                ["PERSIST", "k"], ["TTL", "k"], ["PERSIST", "k"], ["PERSIST", "missing"],
                ["EXPIRE", "k", "100", "GT"], ["TTL", "k"], ["EXPIRE", "k", "100", "LT"], ["TTL", "k"], ["PERSIST", "k"],
                ["EXPIRE", "k", "100", "XX"], ["EXPIRE", "k", "100", "NX"], ["TTL", "k"],
                ["EXPIRE", "k", "100", "NX", "XX"], ["EXPIRE", "k", "100", "NX", "GT"], ["EXPIRE", "k", "100", "NX", "LT"],
                ["EXPIRE", "k", "100", "GT", "LT"], ["EXPIRE", "k", "300", "XX", "GT"], ["TTL", "k"],
                ["EXPIRE", "k", "100", "xx", "lt"], ["TTL", "k"], ["EXPIRE", "k", "50", "gt", "gt"], ["EXPIRE", "k", "100", "FOO"], ["EXPIRE", "k", "100", "NX", "FOO"],
                ["EXPIRE", "k", "abc"], ["EXPIRE", "k", "abc", "FOO"], ["EXPIRE", "k", "abc", "NX", "XX"],
                ["EXPIRE", "k", "1.5"], ["EXPIRE", "k", ""], ["EXPIRE", "k"], ["EXPIRE"],
                ["EXPIRE", "k", "9223372036854775807"], ["EXPIRE", "k", "-9223372036854775808"],
                ["EXPIRE", "k", "9223372036854775"], ["TTL", "k"],
                ["PEXPIRE", "k", "9223372036854775807"], ["PEXPIRE", "k", "-9223372036854775808"],
                ["EXPIREAT", "k", "9223372036854775807"], ["PEXPIREAT", "k", "9223372036854775807"], ["TTL", "k"],
                ["PEXPIRE", "k", "100000"], ["PTTL", "k"], ["PEXPIRE", "k", "50000", "GT"], ["PEXPIRE", "k", "200000", "GT"],
                ["PTTL", "k"],
                ["EXPIREAT", "k", Self.future], ["=EXPIRETIME", "k"], ["=PEXPIRETIME", "k"],
                ["PEXPIREAT", "k", Self.future + "123"], ["=PEXPIRETIME", "k"], ["=EXPIRETIME", "k"],
                ["PEXPIREAT", "k", Self.future + "500"], ["=EXPIRETIME", "k"],
                ["PEXPIREAT", "k", Self.future + "623"], ["=EXPIRETIME", "k"],
                ["EXPIREAT", "k", Self.future, "GT"], ["EXPIREAT", "k", Self.future, "LT"], ["=PEXPIRETIME", "k"],
                ["EXPIRE", "k", "-1"], ["EXISTS", "k"], ["TTL", "k"],
                ["SET", "k", "v"], ["EXPIRE", "k", "0"], ["EXISTS", "k"],
                ["SET", "k", "v"], ["PEXPIRE", "k", "-100"], ["EXISTS", "k"],
                ["SET", "k", "v"], ["EXPIREAT", "k", "1"], ["EXISTS", "k"],
                ["SET", "k", "v"], ["PEXPIREAT", "k", "0"], ["EXISTS", "k"],
                ["SET", "k", "v"], ["EXPIRE", "k", "-1", "GT"], ["EXISTS", "k"], ["EXPIRE", "k", "-1", "LT"], ["EXISTS", "k"],
                ["SET", "k", "v"], ["EXPIRE", "k", "-1", "XX"], ["EXPIRE", "k", "-1", "NX"], ["EXISTS", "k"],
                ["SET", "k", "v"], ["expire", "k", "100", "nx"], ["TTL", "k"], ["eXpIrE", "k", "200", "Gt"], ["ttl", "k"],
                ["PERSIST"], ["PERSIST", "a", "b"], ["TTL"], ["PTTL", "a", "b"], ["EXPIRETIME"], ["PEXPIRETIME", "a", "b"],
                ["~hash", "h"], ["EXPIRE", "h", "100"], ["TTL", "h"], ["PERSIST", "h"], ["TTL", "h"],
                ["PEXPIRE", "h", "-1"], ["EXISTS", "h"],
                ["SET", "p", "v", "PX", "20"], ["~sleep", "50"], ["EXPIRE", "p", "100"], ["PERSIST", "p"], ["TTL", "p"],
                ["PTTL", "p"], ["EXPIRETIME", "p"], ["EXISTS", "p"], ["TYPE", "p"], ["GET", "p"],
            ])
        }
    }

    func testScanKeysAndServer() throws {
        try withRunner { r in
            var setup: [[String]] = []
            for i in 0..<40 { setup.append(["SET", "key:\(i)", "v"]) }
            setup.append(contentsOf: [["SET", "other", "v"], ["~hash", "h1"], ["~hash", "key:h"], ["~set", "st"],
                                      ["~list", "l"], ["~zset", "z"], ["SET", "\\x00\\xff", "bin"]])
            try r.run("scan", setup + [
                ["SCAN", "0"], ["SCAN", "0", "COUNT", "1"], ["SCAN", "0", "COUNT", "7"], ["SCAN", "0", "count", "1000"],
                ["SCAN", "0", "MATCH", "key:*"], ["SCAN", "0", "MATCH", "key:1?", "COUNT", "3"], ["SCAN", "0", "MATCH", "*"],
                ["SCAN", "0", "TYPE", "string"], ["SCAN", "0", "TYPE", "hash"], ["SCAN", "0", "TYPE", "HASH"],
                ["SCAN", "0", "TYPE", "set"], ["SCAN", "0", "TYPE", "list"], ["SCAN", "0", "TYPE", "zset"],
                ["SCAN", "0", "TYPE", "foo"], ["SCAN", "0", "MATCH", "key:*", "TYPE", "hash", "COUNT", "2"],
                ["SCAN", "0", "match", "*", "match", "k*"],
                ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "COUNT", "-1"], ["SCAN", "0", "COUNT", "abc"],
                ["SCAN", "0", "COUNT"], ["SCAN", "0", "MATCH"], ["SCAN", "0", "TYPE"], ["SCAN", "0", "FOO", "bar"],
                ["SCAN", "0", "COUNT", "0", "FOO"], ["SCAN", "abc", "COUNT", "0"],
                ["SCAN", "abc"], ["SCAN", "-1"], ["SCAN", "+0"], ["SCAN", ""], ["SCAN", " 0"], ["SCAN", "0 "],
                ["SCAN", "18446744073709551615"], ["SCAN", "18446744073709551616"], ["SCAN", "1.5"], ["SCAN"],
                ["SET", "p", "v", "PX", "20"], ["~sleep", "50"], ["SCAN", "0", "COUNT", "100"], ["KEYS", "p"],
            ])
            try r.run("keys-glob", [
                ["MSET", "hello", "1", "hallo", "1", "hxllo", "1", "hllo", "1", "heeello", "1", "h*llo", "1",
                 "h\\llo", "1", "a[b", "1", "", "1", "h?llo", "1", "H", "1", "h", "1", "]", "1", "-", "1", "^", "1",
                 "\\xff", "1", "\\x80a", "1", "a\\x00b", "1", "\\", "1", "ab", "1", "a", "1", "b", "1", "[", "1"],
                ["KEYS", "*"], ["KEYS", "h?llo"], ["KEYS", "h*llo"], ["KEYS", "h[ae]llo"], ["KEYS", "h[^e]llo"],
                ["KEYS", "h[a-b]llo"], ["KEYS", "h[b-a]llo"], ["KEYS", "h\\*llo"], ["KEYS", "h\\?llo"], ["KEYS", "**"],
                ["KEYS", ""], ["KEYS", "?"], ["KEYS", "["], ["KEYS", "[]"], ["KEYS", "[]]"], ["KEYS", "[^]"],
                ["KEYS", "h["], ["KEYS", "h[a"], ["KEYS", "[a-"], ["KEYS", "[\\]"], ["KEYS", "[\\]]"],
                ["KEYS", "[\\"], ["KEYS", "\\"], ["KEYS", "\\\\"], ["KEYS", "h\\"], ["KEYS", "[-]"], ["KEYS", "[a-]"],
                ["KEYS", "[^a-z]"], ["KEYS", "[!a]"], ["KEYS", "[a-\\xff]"], ["KEYS", "[\\x80-\\xff]"],
                ["KEYS", "[\\x01-\\x7f]*"], ["KEYS", "\\x80*"], ["KEYS", "a\\x00*"], ["KEYS", "a?b"],
                ["KEYS", "*llo"], ["KEYS", "h*"], ["KEYS", "*h*"], ["KEYS", "*l*l*"], ["KEYS", "h*l*o*"],
                ["KEYS", "[hH]"], ["KEYS", "[[]"], ["KEYS", "[^^]"], ["KEYS", "[a^]"], ["KEYS", "h[^]llo"],
                ["KEYS", "*?"], ["KEYS", "?*"], ["KEYS", "???"], ["KEYS", "*["], ["KEYS", "a*b"], ["KEYS", "a\\*"],
                ["KEYS"], ["KEYS", "a", "b"],
                ["SET", "p", "v", "PX", "20"], ["~sleep", "50"], ["KEYS", "p*"],
                ["SCAN", "0", "MATCH", "h[^e]llo"], ["SCAN", "0", "MATCH", "**"], ["SCAN", "0", "MATCH", ""],
                ["SCAN", "0", "MATCH", "*"], ["SCAN", "0", "MATCH", "*", "COUNT", "3"],
                ["SCAN", "0", "MATCH", "[\\]"],
            ])
            try r.run("randomkey-dbsize-flush", [
                ["RANDOMKEY"], ["DBSIZE"], ["SET", "a", "1"], ["RANDOMKEY"], ["DBSIZE"], ["MSET", "b", "2", "c", "3"],
                ["DBSIZE"], ["RANDOMKEY"], ["RANDOMKEY", "x"], ["DBSIZE", "x"],
                ["FLUSHDB"], ["DBSIZE"], ["RANDOMKEY"], ["SET", "a", "1"], ["FLUSHDB", "ASYNC"], ["DBSIZE"],
                ["SET", "a", "1"], ["FLUSHDB", "sync"], ["DBSIZE"], ["SET", "a", "1"], ["FLUSHALL"], ["DBSIZE"],
                ["SET", "a", "1"], ["FLUSHALL", "async"], ["DBSIZE"], ["FLUSHALL", "SYNC"],
                ["FLUSHDB", "foo"], ["FLUSHDB", "ASYNC", "x"], ["FLUSHALL", "foo"], ["FLUSHALL", "sync", "async"],
                ["~hash", "h"], ["DBSIZE"], ["RANDOMKEY"], ["FLUSHALL"], ["EXISTS", "h"],
            ])
            try r.run("object", [
                ["SET", "k", "v"], ["OBJECT", "IDLETIME", "k"], ["object", "idletime", "k"], ["OBJECT", "IDLETIME", "missing"],
                ["OBJECT", "foo", "k"], ["OBJECT", "foo"], ["OBJECT"], ["OBJECT", "IDLETIME"], ["OBJECT", "IDLETIME", "a", "b"],
                ["OBJECT", "help", "x"], ["OBJECT", "FREQ", "k"], ["OBJECT", "ENCODING", "missing"],
                ["OBJECT", "REFCOUNT", "missing"], ["OBJECT", "ENCODING"], ["OBJECT", "\r\n"],
                ["SET", "p", "v", "PX", "20"], ["~sleep", "50"], ["OBJECT", "IDLETIME", "p"],
                ["~hash", "h"], ["OBJECT", "IDLETIME", "h"],
            ])
        }
    }
}
