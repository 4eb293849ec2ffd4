// Generic key, TTL, iteration and server commands against an in-process server, plus the
// connection commands and the unknown / unsupported command replies. Keys of other types are
// inserted into the database file directly (collection commands are not built yet).

import Foundation
import XCTest
@testable import RESPLite

final class KeyCommandTests: XCTestCase {
    var server: TestServer!
    var client: RESPClient!

    override func setUpWithError() throws {
        server = try TestServer()
        client = try server.client()
    }

    override func tearDown() {
        client = nil
        server = nil
    }

    private func makeKey(_ key: String, _ type: KeyType) throws {
        try injectKey(databasePath: server.databasePath, key: Array(key.utf8), type: type)
    }

    private func keys(_ reply: RESPValue) -> [String] {
        guard case .array(let items) = reply else { XCTFail("not an array: \(reply)"); return [] }
        return items.compactMap { item -> String? in
            if case .bulk(let bytes) = item { return String(decoding: bytes, as: UTF8.self) }
            XCTFail("not a bulk: \(item)")
            return nil
        }.sorted()
    }

    // MARK: Connection, unknown and unsupported commands

    func testConnectionCommands() throws {
        let c = client!
        XCTAssertEqual(try c.run("PING"), simple("PONG"))
        XCTAssertEqual(try c.run("ping", "hi"), bulk("hi"))
        XCTAssertEqual(try c.run("PING", "a", "b"), err("ERR wrong number of arguments for 'ping' command"))
        XCTAssertEqual(try c.run(bytes: Array("ECHO".utf8), [0, 0xff, 13, 10]), .bulk([0, 0xff, 13, 10]))
        XCTAssertEqual(try c.run("ECHO"), err("ERR wrong number of arguments for 'echo' command"))
        XCTAssertEqual(try c.run("QUIT"), ok)
        XCTAssertTrue(c.waitForClose(), "QUIT closes the connection after its reply")
        let d = try server.client()
        XCTAssertEqual(try d.run("QUIT", "extra"), ok)
        XCTAssertTrue(d.waitForClose())
    }

    func testUnknownAndUnsupportedCommands() throws {
        let c = client!
        XCTAssertEqual(try c.run("FOO"), err("ERR unknown command 'FOO', with args beginning with: "))
        XCTAssertEqual(try c.run("foo", "a", "b c"), err("ERR unknown command 'foo', with args beginning with: 'a' 'b c' "))
        XCTAssertEqual(try c.run("FOO", "x\r\ny"), err("ERR unknown command 'FOO', with args beginning with: 'x  y' "))
        XCTAssertEqual(try c.run(bytes: Array("FOO".utf8), [UInt8(ascii: "a"), 0, UInt8(ascii: "b")]),
                       err("ERR unknown command 'FOO', with args beginning with: 'a' "))
        let long = String(repeating: "x", count: 200)
        XCTAssertEqual(try c.run("FOO", long, "more"),
                       err("ERR unknown command 'FOO', with args beginning with: '\(String(repeating: "x", count: 128))' "))
        XCTAssertEqual(try c.run(long), err("ERR unknown command '\(String(repeating: "x", count: 128))', with args beginning with: "))
        // Redis commands RESPLite does not implement (yet) say so, whatever the case or arguments.
        for command in [["XADD", "h", "*", "f", "v"], ["xadd"], ["PFADD", "l", "x"], ["pfAdd", "l"], ["GEOADD", "h", "1", "2", "m"],
                        ["SETBIT", "s", "1", "1"], ["EVAL", "return 1", "0"], ["BITCOUNT", "k"]] {
            XCTAssertEqual(try c.command(command.map { Array($0.utf8) }), err("ERR command not supported yet"), "\(command)")
        }
        XCTAssertEqual(try c.run("EXISTS", "h", "l", "s", "k"), int(0))
        XCTAssertEqual(try c.run("PING"), simple("PONG"), "the connection stays usable")
    }

    // MARK: Existence, deletion, type

    func testDelUnlinkExistsTouchType() throws {
        let c = client!
        XCTAssertEqual(try c.run("MSET", "a", "1", "b", "2", "c", "3"), ok)
        try makeKey("h", .hash)
        try makeKey("s", .set)
        try makeKey("l", .list)
        try makeKey("z", .zset)
        XCTAssertEqual(try c.run("EXISTS", "a", "a", "b", "missing", "h"), int(4), "repeats count again")
        XCTAssertEqual(try c.run("TOUCH", "a", "h", "missing"), int(2))
        for (key, type) in [("a", "string"), ("h", "hash"), ("s", "set"), ("l", "list"), ("z", "zset"), ("missing", "none")] {
            XCTAssertEqual(try c.run("TYPE", key), simple(type), key)
        }
        XCTAssertEqual(try c.run("DEL", "a", "a", "missing", "h"), int(2))
        XCTAssertEqual(try c.run("UNLINK", "b", "s", "b"), int(2))
        XCTAssertEqual(try c.run("EXISTS", "a", "b", "h", "s"), int(0))
        XCTAssertNil(try storedRow(server, "h"), "DEL removes a collection's row")
        XCTAssertEqual(try c.run("DBSIZE"), int(3))
        XCTAssertEqual(try c.run("DEL"), err("ERR wrong number of arguments for 'del' command"))
    }

    // MARK: RENAME / RENAMENX / COPY

    func testRenameAndRenamenx() throws {
        let c = client!
        XCTAssertEqual(try c.run("SET", "a", "1", "PX", "100000"), ok)
        XCTAssertEqual(try c.run("RENAME", "a", "b"), ok)
        XCTAssertEqual(try c.run("EXISTS", "a"), int(0))
        XCTAssertEqual(try c.run("GET", "b"), bulk("1"))
        assertPTTL(try c.run("PTTL", "b"), near: 100_000)
        XCTAssertEqual(try c.run("RENAME", "a", "b"), err("ERR no such key"))
        XCTAssertEqual(try c.run("RENAMENX", "a", "b"), err("ERR no such key"))
        XCTAssertEqual(try c.run("RENAME", "b", "b"), ok)
        XCTAssertEqual(try c.run("RENAMENX", "b", "b"), int(0))
        assertPTTL(try c.run("PTTL", "b"), near: 100_000)
        // Overwriting: the destination's value and TTL go, the source's TTL (or none) comes.
        XCTAssertEqual(try c.run("SET", "c", "3"), ok)
        XCTAssertEqual(try c.run("RENAME", "c", "b"), ok)
        XCTAssertEqual(try c.run("TTL", "b"), int(-1))
        XCTAssertEqual(try c.run("GET", "b"), bulk("3"))
        XCTAssertEqual(try c.run("SET", "d", "4"), ok)
        XCTAssertEqual(try c.run("RENAMENX", "d", "b"), int(0))
        XCTAssertEqual(try c.run("GET", "d"), bulk("4"))
        XCTAssertEqual(try c.run("RENAMENX", "d", "e"), int(1))
        XCTAssertEqual(try c.run("GET", "e"), bulk("4"))
        // A key of another type renames whole, with its TTL, and can be overwritten by a rename.
        try makeKey("h", .hash)
        XCTAssertEqual(try c.run("EXPIRE", "h", "100"), int(1))
        XCTAssertEqual(try c.run("RENAME", "h", "h2"), ok)
        XCTAssertEqual(try c.run("TYPE", "h2"), simple("hash"))
        assertPTTL(try c.run("PTTL", "h2"), near: 100_000)
        XCTAssertEqual(try c.run("RENAME", "e", "h2"), ok)
        XCTAssertEqual(try c.run("TYPE", "h2"), simple("string"))
        XCTAssertEqual(try c.run("TTL", "h2"), int(-1))
        // Binary names; the renamed key survives a restart.
        XCTAssertEqual(try c.run(bytes: Array("SET".utf8), [0, 0xff], Array("bin".utf8)), ok)
        XCTAssertEqual(try c.run(bytes: Array("RENAME".utf8), [0, 0xff], [13, 10, 0]), ok)
        try server.restart()
        let d = try server.client()
        XCTAssertEqual(try d.run(bytes: Array("GET".utf8), [13, 10, 0]), bulk("bin"))
        XCTAssertEqual(try d.run(bytes: Array("EXISTS".utf8), [0, 0xff]), int(0))
        XCTAssertEqual(try d.run("GET", "h2"), bulk("4"))
    }

    func testCopy() throws {
        let c = client!
        XCTAssertEqual(try c.run("SET", "a", "1", "PX", "100000"), ok)
        XCTAssertEqual(try c.run("COPY", "a", "b"), int(1))
        XCTAssertEqual(try c.run("GET", "b"), bulk("1"))
        assertPTTL(try c.run("PTTL", "b"), near: 100_000)
        XCTAssertEqual(try c.run("SET", "a", "2"), ok)
        XCTAssertEqual(try c.run("COPY", "a", "b"), int(0))
        XCTAssertEqual(try c.run("GET", "b"), bulk("1"))
        XCTAssertEqual(try c.run("COPY", "a", "b", "REPLACE"), int(1))
        XCTAssertEqual(try c.run("GET", "b"), bulk("2"))
        XCTAssertEqual(try c.run("TTL", "b"), int(-1), "REPLACE drops the destination's TTL")
        XCTAssertEqual(try c.run("COPY", "missing", "x"), int(0))
        XCTAssertEqual(try c.run("COPY", "a", "a"), err("ERR source and destination objects are the same"))
        XCTAssertEqual(try c.run("COPY", "a", "c", "DB", "0"), int(1))
        // One database: any other index is out of range (Redis has 16; deliberate).
        XCTAssertEqual(try c.run("COPY", "a", "d", "DB", "1"), err("ERR DB index is out of range"))
        XCTAssertEqual(try c.run("COPY", "a", "d", "DB", "x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.run("COPY", "a", "d", "FOO"), err("ERR syntax error"))
        XCTAssertEqual(try c.run("EXISTS", "d"), int(0))
        // Collections are copied with their type (members: see the collection tests).
        try makeKey("h", .hash)
        XCTAssertEqual(try c.run("COPY", "h", "h2"), int(1))
        XCTAssertEqual(try c.run("TYPE", "h2"), simple("hash"))
    }

    // MARK: Expiry

    func testExpireFamilyConditions() throws {
        let c = client!
        XCTAssertEqual(try c.run("SET", "k", "v"), ok)
        XCTAssertEqual(try c.run("TTL", "k"), int(-1))
        XCTAssertEqual(try c.run("PTTL", "k"), int(-1))
        XCTAssertEqual(try c.run("EXPIRETIME", "k"), int(-1))
        XCTAssertEqual(try c.run("TTL", "missing"), int(-2))
        XCTAssertEqual(try c.run("PEXPIRETIME", "missing"), int(-2))
        XCTAssertEqual(try c.run("EXPIRE", "missing", "10"), int(0))
        // GT on a key without TTL fails (no TTL = infinite); LT succeeds; XX fails; NX succeeds.
        XCTAssertEqual(try c.run("EXPIRE", "k", "100", "GT"), int(0))
        XCTAssertEqual(try c.run("EXPIRE", "k", "100", "XX"), int(0))
        XCTAssertEqual(try c.run("TTL", "k"), int(-1))
        XCTAssertEqual(try c.run("EXPIRE", "k", "100", "LT"), int(1))
        XCTAssertEqual(try c.run("PERSIST", "k"), int(1))
        XCTAssertEqual(try c.run("PERSIST", "k"), int(0))
        XCTAssertEqual(try c.run("EXPIRE", "k", "100", "NX"), int(1))
        XCTAssertEqual(try c.run("EXPIRE", "k", "200", "NX"), int(0))
        XCTAssertEqual(try c.run("EXPIRE", "k", "50", "GT"), int(0))
        XCTAssertEqual(try c.run("EXPIRE", "k", "300", "gt"), int(1))
        XCTAssertEqual(try c.run("EXPIRE", "k", "400", "LT"), int(0))
        XCTAssertEqual(try c.run("EXPIRE", "k", "200", "XX", "LT"), int(1))
        assertPTTL(try c.run("PTTL", "k"), near: 200_000)
        XCTAssertEqual(try c.run("TTL", "k"), int(200))
        XCTAssertEqual(try c.run("PEXPIRE", "k", "2600"), int(1))
        XCTAssertEqual(try c.run("TTL", "k"), int(3), "TTL rounds to the nearest second")
        XCTAssertEqual(try c.run("EXPIRE", "k", "1", "NX", "XX"), err("ERR NX and XX, GT or LT options at the same time are not compatible"))
        XCTAssertEqual(try c.run("EXPIRE", "k", "1", "GT", "LT"), err("ERR GT and LT options at the same time are not compatible"))
        XCTAssertEqual(try c.run("EXPIRE", "k", "1", "SOON"), err("ERR Unsupported option SOON"))
        XCTAssertEqual(try c.run("EXPIRE", "k", "9223372036854775807"), err("ERR invalid expire time in 'expire' command"))
        XCTAssertEqual(try c.run("PEXPIRE", "k", "9223372036854775807"), err("ERR invalid expire time in 'pexpire' command"))
        assertPTTL(try c.run("PTTL", "k"), near: 2_600)
        // Absolute times; EXPIRETIME rounds the millisecond time as Redis does.
        XCTAssertEqual(try c.run("EXPIREAT", "k", "4102444800"), int(1))
        XCTAssertEqual(try c.run("PEXPIRETIME", "k"), int(4_102_444_800_000))
        XCTAssertEqual(try c.run("PEXPIREAT", "k", "4102444800499"), int(1))
        XCTAssertEqual(try c.run("EXPIRETIME", "k"), int(4_102_444_800))
        XCTAssertEqual(try c.run("PEXPIREAT", "k", "4102444800500"), int(1))
        XCTAssertEqual(try c.run("EXPIRETIME", "k"), int(4_102_444_801))
        // A time in the past deletes the key (the row too) and answers 1; GT/LT still apply first.
        XCTAssertEqual(try c.run("EXPIRE", "k", "-1", "GT"), int(0))
        XCTAssertEqual(try c.run("EXISTS", "k"), int(1))
        XCTAssertEqual(try c.run("EXPIRE", "k", "-1"), int(1))
        XCTAssertEqual(try c.run("EXISTS", "k"), int(0))
        XCTAssertNil(try storedRow(server, "k"))
        for command in [["EXPIRE", "k", "0"], ["PEXPIRE", "k", "-5"], ["EXPIREAT", "k", "1"], ["PEXPIREAT", "k", "0"]] {
            XCTAssertEqual(try c.run("SET", "k", "v"), ok)
            XCTAssertEqual(try c.command(command.map { Array($0.utf8) }), int(1), "\(command)")
            XCTAssertEqual(try c.run("EXISTS", "k"), int(0), "\(command)")
        }
        // Keys of other types take TTLs too.
        try makeKey("h", .hash)
        XCTAssertEqual(try c.run("PEXPIRE", "h", "80000"), int(1))
        assertPTTL(try c.run("PTTL", "h"), near: 80_000)
        XCTAssertEqual(try c.run("PERSIST", "h"), int(1))
        XCTAssertEqual(try c.run("TTL", "h"), int(-1))
    }

    func testExpiredKeysAreInvisibleToKeyCommands() throws {
        let c = client!
        let names = ["exists", "type", "ttl", "persist", "expire", "rename", "renamenx", "copy", "touch", "del",
                     "idle", "dest"]
        _ = try c.pipeline(names.map { ["SET", $0, "v", "PX", "15"].map { Array($0.utf8) } })
        XCTAssertEqual(try c.run("SET", "live", "v"), ok)
        usleep(40_000)
        XCTAssertEqual(try c.run("EXISTS", "exists"), int(0))
        XCTAssertEqual(try c.run("TYPE", "type"), simple("none"))
        XCTAssertEqual(try c.run("TTL", "ttl"), int(-2))
        XCTAssertEqual(try c.run("PTTL", "ttl"), int(-2))
        XCTAssertEqual(try c.run("EXPIRETIME", "ttl"), int(-2))
        XCTAssertEqual(try c.run("PEXPIRETIME", "ttl"), int(-2))
        XCTAssertEqual(try c.run("PERSIST", "persist"), int(0))
        XCTAssertEqual(try c.run("EXPIRE", "expire", "100"), int(0))
        XCTAssertEqual(try c.run("EXPIRE", "expire", "100", "LT"), int(0))
        XCTAssertEqual(try c.run("RENAME", "rename", "x"), err("ERR no such key"))
        XCTAssertEqual(try c.run("RENAMENX", "renamenx", "x"), err("ERR no such key"))
        XCTAssertEqual(try c.run("COPY", "copy", "x"), int(0))
        XCTAssertEqual(try c.run("EXISTS", "x"), int(0))
        XCTAssertEqual(try c.run("TOUCH", "touch", "live"), int(1))
        XCTAssertEqual(try c.run("DEL", "del", "live"), int(1))
        XCTAssertEqual(try c.run("OBJECT", "IDLETIME", "idle"), null)
        // An expired destination does not block RENAMENX or COPY, and leaves no TTL behind.
        XCTAssertEqual(try c.run("SET", "src", "s"), ok)
        XCTAssertEqual(try c.run("RENAMENX", "src", "dest"), int(1))
        XCTAssertEqual(try c.run("GET", "dest"), bulk("s"))
        XCTAssertEqual(try c.run("TTL", "dest"), int(-1))
        XCTAssertEqual(try c.run("COPY", "dest", "exists"), int(1))
        XCTAssertEqual(try c.run("TTL", "exists"), int(-1))
        // Iteration and RANDOMKEY never show the dead keys.
        XCTAssertEqual(keys(try c.run("KEYS", "*")), ["dest", "exists"])
        guard case .array(let scan) = try c.run("SCAN", "0", "COUNT", "1000"), scan.count == 2 else { return XCTFail() }
        XCTAssertEqual(scan[0], bulk("0"))
        XCTAssertEqual(keys(scan[1]), ["dest", "exists"])
        for _ in 0..<20 {
            let key = try c.run("RANDOMKEY")
            XCTAssertTrue(key == bulk("dest") || key == bulk("exists"), "\(key)")
        }
        XCTAssertEqual(try c.run("DEL", "dest", "exists"), int(2))
        XCTAssertEqual(try c.run("RANDOMKEY"), null, "only expired keys left")
    }

    func testTTLsSurviveRestart() throws {
        let c = client!
        XCTAssertEqual(try c.run("MSET", "a", "1", "b", "2", "c", "3", "d", "4"), ok)
        XCTAssertEqual(try c.run("PEXPIRE", "a", "100000"), int(1))
        XCTAssertEqual(try c.run("PEXPIREAT", "b", "4102444800123"), int(1))
        XCTAssertEqual(try c.run("EXPIRE", "c", "100"), int(1))
        XCTAssertEqual(try c.run("PERSIST", "c"), int(1))
        XCTAssertEqual(try c.run("PEXPIRE", "d", "30"), int(1))
        XCTAssertEqual(try c.run("DEL", "d"), int(1))
        XCTAssertEqual(try c.run("SET", "e", "5", "PX", "30"), ok)
        usleep(50_000)
        try server.restart()
        let d = try server.client()
        assertPTTL(try d.run("PTTL", "a"), near: 100_000, slack: 10_000)
        XCTAssertEqual(try d.run("PEXPIRETIME", "b"), int(4_102_444_800_123))
        XCTAssertEqual(try d.run("TTL", "c"), int(-1))
        XCTAssertEqual(try d.run("EXISTS", "d", "e"), int(0))
        XCTAssertEqual(keys(try d.run("KEYS", "*")), ["a", "b", "c"])
    }

    // MARK: SCAN / KEYS / RANDOMKEY / DBSIZE / FLUSH

    /// Full iteration with mutations between calls: keys that exist for the whole scan are
    /// returned (exactly once, as RESPLite's id-ordered cursor promises); keys created or
    /// deleted meanwhile may or may not appear. New keys arrive slower than COUNT 1 consumes
    /// them: like Redis, a scan need not end while the keyspace grows without bound.
    func testScanNeverMissesKeysThatExistThroughout() throws {
        let c = client!
        let stable = (0..<150).map { "stable:\($0)" }
        _ = try c.pipeline(stable.map { ["SET", $0, "v"].map { Array($0.utf8) } })
        try makeKey("stable:hash", .hash)
        for count in [1, 2, 3, 7, 50, 1000] {
            var transient = (0..<40).map { "t\(count):\($0)" }
            _ = try c.pipeline(transient.map { ["SET", $0, "v"].map { Array($0.utf8) } })
            var seen: [String: Int] = [:]
            var cursor = "0"
            var calls = 0
            var added = 0
            repeat {
                guard case .array(let reply) = try c.run("SCAN", cursor, "COUNT", String(count)), reply.count == 2,
                      case .bulk(let next) = reply[0] else { return XCTFail("bad SCAN reply") }
                for key in keys(reply[1]) { seen[key, default: 0] += 1 }
                cursor = String(decoding: next, as: UTF8.self)
                // Churn: new keys, deleted keys, rewritten and re-expired stable keys.
                added += 1
                _ = try c.pipeline([
                    ["SET", added % 3 == 0 ? "new\(count):\(added)" : "counter", "v"], ["DEL", transient.popLast() ?? "none"],
                    ["SET", stable[(added * 7) % stable.count], "w"], ["EXPIRE", stable[(added * 11) % stable.count], "1000"],
                    ["APPEND", "counter", "x"],
                ].map { $0.map { Array($0.utf8) } })
                calls += 1
            } while cursor != "0" && calls < 10_000
            XCTAssertEqual(cursor, "0", "COUNT \(count): the scan finishes")
            for key in stable + ["stable:hash"] {
                XCTAssertEqual(seen[key], 1, "COUNT \(count): \(key) seen \(seen[key] ?? 0) times")
            }
            XCTAssertTrue(seen.values.allSatisfy { $0 == 1 }, "COUNT \(count): no key twice")
        }
        // MATCH and TYPE filter what a page returns, never the iteration itself.
        func scanAll(_ options: [String]) throws -> [String] {
            var all: [String] = []
            var cursor = "0"
            for _ in 0..<10_000 {
                guard case .array(let reply) = try c.command((["SCAN", cursor] + options).map { Array($0.utf8) }),
                      case .bulk(let next) = reply[0] else { XCTFail("bad SCAN reply"); return [] }
                all += keys(reply[1])
                cursor = String(decoding: next, as: UTF8.self)
                if cursor == "0" { break }
            }
            return all.sorted()
        }
        XCTAssertEqual(try scanAll(["MATCH", "stable:1?", "COUNT", "3"]), (10..<20).map { "stable:\($0)" }.sorted())
        XCTAssertEqual(try scanAll(["TYPE", "hash", "COUNT", "5"]), ["stable:hash"])
        XCTAssertEqual(try scanAll(["TYPE", "STRING", "MATCH", "stable:*"]).count, stable.count)
        XCTAssertEqual(try scanAll(["TYPE", "nosuchtype"]), [])
        XCTAssertEqual(try c.run("SCAN", "x"), err("ERR invalid cursor"))
        XCTAssertEqual(try c.run("SCAN", "0", "COUNT", "0"), err("ERR syntax error"))
        // A cursor past the end (or "-1", which is 2^64-1 as in C) ends the scan.
        XCTAssertEqual(try c.run("SCAN", "-1"), .array([bulk("0"), .array([])]))
        XCTAssertEqual(try c.run("SCAN", "9223372036854775807"), .array([bulk("0"), .array([])]))
        // MATCH * filters nothing, so it returns the empty key too (the matcher alone would not).
        XCTAssertEqual(try c.run("SET", "", "empty"), ok)
        XCTAssertTrue(try scanAll(["MATCH", "*", "COUNT", "1000"]).contains(""))
        XCTAssertFalse(try scanAll(["MATCH", "**", "COUNT", "1000"]).contains(""))
    }

    /// Redis' glob rules, tested on the matcher itself (KEYS and SCAN MATCH use it).
    func testGlobMatching() throws {
        func match(_ pattern: [UInt8], _ string: [UInt8]) -> Bool {
            pattern.withByteView { p in string.withByteView { s in globMatch(p, s) } }
        }
        func match(_ pattern: String, _ string: String) -> Bool { match(Array(pattern.utf8), Array(string.utf8)) }
        let cases: [(String, String, Bool)] = [
            ("*", "", false), ("*", "anything", true), ("", "", true), ("", "a", false), ("**", "", false),
            ("**", "abc", true), ("h?llo", "hello", true), ("h?llo", "hllo", false), ("h*llo", "hllo", true),
            ("h*llo", "heeeello", true), ("h[ae]llo", "hallo", true), ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true), ("h[^e]llo", "hello", false), ("h[a-b]llo", "hbllo", true),
            ("h[b-a]llo", "hallo", true), ("h[a-b]llo", "hcllo", false), ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false), ("\\?", "?", true), ("\\?", "a", false), ("[\\]", "]", true),
            ("[\\]", "\\", false), ("[\\]]", "]", true), ("[]", "]", false), ("[", "[", false), ("[a", "a", true),
            ("h[a", "ha", true), ("[a-", "a", true), ("[a-", "-", true), ("[-]", "-", true), ("[^]", "x", true),
            ("\\", "\\", true), ("a\\", "a\\", true), ("a*b", "ab", true), ("a*b", "acb", true), ("a*b", "acbd", false),
            ("*l*l*", "hello", true), ("*?", "", false), ("?*", "a", true), ("???", "ab", false), ("[!a]", "!", true),
            ("[!a]", "b", false), ("[^^]", "^", false), ("[a^]", "^", true),
        ]
        for (pattern, string, expected) in cases {
            XCTAssertEqual(match(pattern, string), expected, "'\(pattern)' vs '\(string)'")
        }
        // Class ranges compare bytes as C's signed char (Redis' quirk): [a-\xff] is [\xff-a].
        XCTAssertTrue(match([UInt8(ascii: "["), UInt8(ascii: "a"), UInt8(ascii: "-"), 0xff, UInt8(ascii: "]")], [UInt8(ascii: "H")]))
        XCTAssertTrue(match([UInt8(ascii: "["), UInt8(ascii: "a"), UInt8(ascii: "-"), 0xff, UInt8(ascii: "]")], [0xff]))
        XCTAssertFalse(match([UInt8(ascii: "["), UInt8(ascii: "a"), UInt8(ascii: "-"), 0xff, UInt8(ascii: "]")], [UInt8(ascii: "b")]))
        XCTAssertTrue(match([UInt8(ascii: "a"), 0, UInt8(ascii: "*")], [UInt8(ascii: "a"), 0, UInt8(ascii: "b")]))
        // Pathological patterns finish quickly (Redis' skip-longer-matches rule).
        let start = monotonicMillis()
        XCTAssertFalse(match(String(repeating: "a*", count: 40) + "b", String(repeating: "a", count: 2_000)))
        XCTAssertLessThan(monotonicMillis() - start, 2_000)
        // Through KEYS, with binary keys.
        let c = client!
        XCTAssertEqual(try c.run("MSET", "hello", "1", "hallo", "1", "hxllo", "1", "h*llo", "1", "", "1"), ok)
        XCTAssertEqual(try c.run(bytes: Array("SET".utf8), [0xff, 0, 13, 10], Array("1".utf8)), ok)
        XCTAssertEqual(keys(try c.run("KEYS", "h?llo")), ["h*llo", "hallo", "hello", "hxllo"])
        XCTAssertEqual(keys(try c.run("KEYS", "h[ae]llo")), ["hallo", "hello"])
        XCTAssertEqual(keys(try c.run("KEYS", "h[^e]llo")), ["h*llo", "hallo", "hxllo"])
        XCTAssertEqual(keys(try c.run("KEYS", "h[a-e]llo")), ["hallo", "hello"])
        XCTAssertEqual(keys(try c.run("KEYS", "h\\*llo")), ["h*llo"])
        XCTAssertEqual(try c.run("KEYS", "*").arrayCount, 6)
        XCTAssertEqual(try c.run("KEYS", "**").arrayCount, 5, "several stars do not match the empty key (Redis)")
        XCTAssertEqual(try c.run(bytes: Array("KEYS".utf8), [0xff, 0, UInt8(ascii: "?"), 10]), .array([.bulk([0xff, 0, 13, 10])]))
    }

    func testRandomKeyDbsizeAndFlush() throws {
        let c = client!
        XCTAssertEqual(try c.run("RANDOMKEY"), null)
        XCTAssertEqual(try c.run("DBSIZE"), int(0))
        XCTAssertEqual(try c.run("SET", "only", "v"), ok)
        XCTAssertEqual(try c.run("RANDOMKEY"), bulk("only"))
        _ = try c.pipeline((0..<50).map { ["SET", "k\($0)", "v"].map { Array($0.utf8) } })
        try makeKey("h", .hash)
        XCTAssertEqual(try c.run("DBSIZE"), int(52))
        var distinct = Set<String>()
        for _ in 0..<40 {
            guard case .bulk(let key) = try c.run("RANDOMKEY") else { return XCTFail("RANDOMKEY on a full db") }
            let name = String(decoding: key, as: UTF8.self)
            XCTAssertTrue(name == "only" || name == "h" || name.hasPrefix("k"), name)
            distinct.insert(name)
        }
        XCTAssertGreaterThan(distinct.count, 1, "RANDOMKEY varies")
        XCTAssertEqual(try c.run("FLUSHDB", "FOO"), err("ERR syntax error"))
        XCTAssertEqual(try c.run("DBSIZE"), int(52))
        XCTAssertEqual(try c.run("FLUSHDB", "async"), ok)
        XCTAssertEqual(try c.run("DBSIZE"), int(0))
        XCTAssertEqual(try c.run("RANDOMKEY"), null)
        XCTAssertEqual(try c.run("SET", "a", "1"), ok)
        XCTAssertEqual(try c.run("FLUSHALL", "SYNC"), ok)
        XCTAssertEqual(try c.run("SET", "after", "1"), ok)
        try server.restart()
        let d = try server.client()
        XCTAssertEqual(keys(try d.run("KEYS", "*")), ["after"], "a flush is durable")
        XCTAssertEqual(try d.run("DBSIZE"), int(1))
    }

    // MARK: OBJECT

    /// A collection write that changes no count (a ZADD of an existing member with a new score,
    /// an HSET of an existing field) updates its key row once at the end of the turn: OBJECT
    /// IDLETIME in the same pipeline already answers 0 (through the hot cache, and without it
    /// through the row read back), and after the turn the row holds the write's time and one
    /// version step per write.
    func testCountFreeWritesTouchTheKeyRowOncePerTurn() throws {
        for cacheEnabled in [true, false] {
            let server = try TestServer { $0.cache.enabled = cacheEnabled }
            let first = try server.client()
            XCTAssertEqual(try first.run("ZADD", "z", "1", "a", "2", "b"), int(2))
            XCTAssertEqual(try first.run("HSET", "h", "f", "1", "g", "2"), int(2))
            XCTAssertEqual(try first.run("SADD", "s", "m"), int(1))
            try editDatabaseWhileStopped(server, "UPDATE redis_keys SET updated_at = updated_at - 5500, version = 100")
            let c = try server.client()
            XCTAssertEqual(try c.run("OBJECT", "IDLETIME", "z"), int(5))
            let replies = try c.pipeline([
                lzWords("ZADD", "z", "5", "a"), lzWords("OBJECT", "IDLETIME", "z"), lzWords("ZADD", "z", "6", "a"),
                lzWords("ZADD", "z", "6", "a"), lzWords("ZINCRBY", "z", "1", "b"), lzWords("ZSCORE", "z", "a"),
                lzWords("HSET", "h", "f", "new"), lzWords("OBJECT", "IDLETIME", "h"), lzWords("HGET", "h", "f"),
                lzWords("SADD", "s", "m"), lzWords("OBJECT", "IDLETIME", "s"), lzWords("ZCARD", "z"), lzWords("HLEN", "h"),
            ])
            XCTAssertEqual(replies, [int(0), int(0), int(0), int(0), bulk("3"), bulk("6"), int(0), int(0), bulk("new"),
                                     int(0), int(5), int(2), int(2)], "cache \(cacheEnabled)")
            XCTAssertEqual(try c.run("OBJECT", "IDLETIME", "z"), int(0))
            try server.commitPending()
            let reader = try openDatabase(server.databasePath, readOnly: true)
            defer { reader.close() }
            // z: three writes (ZADD 5, ZADD 6, ZINCRBY; the repeated ZADD 6 changed nothing), h: one.
            XCTAssertEqual(try reader.scalar("SELECT version FROM redis_keys WHERE key = CAST('z' AS BLOB)"), "103")
            XCTAssertEqual(try reader.scalar("SELECT version FROM redis_keys WHERE key = CAST('h' AS BLOB)"), "101")
            XCTAssertEqual(try reader.scalar("SELECT version FROM redis_keys WHERE key = CAST('s' AS BLOB)"), "100")
            let idleMs = Int64(try reader.scalar("SELECT \(currentTimeMillis()) - updated_at FROM redis_keys WHERE key = CAST('z' AS BLOB)") ?? "") ?? -1
            XCTAssertTrue(idleMs >= 0 && idleMs < 5_000, "updated_at of z is the write's time (\(idleMs) ms ago)")
            XCTAssertEqual(try consistencyProblems(server.databasePath), [])
            // And it survives a restart (the row was written, not only the cache).
            try server.restart()
            XCTAssertEqual(try server.client().run("OBJECT", "IDLETIME", "z"), int(0))
        }
    }

    func testObjectIdletime() throws {
        let first = client!
        XCTAssertEqual(try first.run("SET", "k", "v"), ok)
        XCTAssertEqual(try first.run("OBJECT", "IDLETIME", "k"), int(0))
        XCTAssertEqual(try first.run("OBJECT", "IDLETIME", "missing"), null)
        // Pretend the last write was 5.5 s ago.
        try editDatabaseWhileStopped(server, "UPDATE redis_keys SET updated_at = updated_at - 5500 WHERE key = CAST('k' AS BLOB)")
        let c = try server.client()
        XCTAssertEqual(try c.run("OBJECT", "idletime", "k"), int(5))
        // Idle time counts from the last write (deliberate: Redis counts from the last access).
        XCTAssertEqual(try c.run("GET", "k"), bulk("v"))
        XCTAssertEqual(try c.run("OBJECT", "IDLETIME", "k"), int(5))
        XCTAssertEqual(try c.run("APPEND", "k", "w"), int(2))
        XCTAssertEqual(try c.run("OBJECT", "IDLETIME", "k"), int(0))
        XCTAssertEqual(try c.run("OBJECT", "IDLETIME"), err("ERR wrong number of arguments for 'object|idletime' command"))
        XCTAssertEqual(try c.run("OBJECT", "nope", "k"), err("ERR unknown subcommand 'nope'. Try OBJECT HELP."))
        XCTAssertEqual(try c.run("OBJECT", "HELP", "x"), err("ERR wrong number of arguments for 'object|help' command"))
        guard case .array(let help) = try c.run("OBJECT", "HELP") else { return XCTFail("OBJECT HELP") }
        XCTAssertEqual(help.first, simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))
        XCTAssertEqual(help.last, simple("    Prints this help."))
    }
}

extension RESPValue {
    /// Elements of an array reply (-1 for anything else).
    var arrayCount: Int {
        if case .array(let items) = self { return items.count }
        return -1
    }
}

extension KeyCommandTests {
    /// DBSIZE counts live keys only: an expired key that the sweeper has not reached yet
    /// does not count (the sweeper is slowed down so the row is still there).
    func testDbsizeIgnoresExpiredRowsNotYetSwept() throws {
        let server = try TestServer(configure: { $0.sweepIntervalMs = 60_000 })
        let client = try server.client()
        XCTAssertEqual(try client.run("SET", "live", "1"), ok)
        XCTAssertEqual(try client.run("SET", "dying", "1", "PX", "20"), ok)
        XCTAssertEqual(try client.run("DBSIZE"), int(2))
        usleep(60_000)
        XCTAssertEqual(try client.run("DBSIZE"), int(1))
        let reader = try openDatabase(server.databasePath, readOnly: true)
        defer { reader.close() }
        XCTAssertEqual(try reader.scalar("SELECT count(*) FROM redis_keys"), "2", "the expired row is still stored")
    }
}
