// String commands against an in-process server: normal behaviour, missing keys, wrong type
// (WRONGTYPE and nothing changed), TTL interaction, expired keys, binary safety, persistence
// across restarts, and Redis' documented edge cases. Exact Redis parity of replies and error
// texts is checked by RedisDifferentialTests; these tests pin down state and invariants.

import Foundation
import XCTest
@testable import RESPLite

/// One value of a query on RESPLite's database file (read beside the running server).
func databaseScalar(_ server: TestServer, _ sql: String) throws -> String? {
    let connection = try openDatabase(server.databasePath)
    defer { connection.close() }
    try connection.execute("PRAGMA busy_timeout=5000")
    return try connection.scalar(sql)
}

/// Runs SQL on RESPLite's database file beside the running server (between its group commits).
func databaseExecute(_ server: TestServer, _ sql: String) throws {
    let connection = try openDatabase(server.databasePath)
    defer { connection.close() }
    try connection.execute("PRAGMA busy_timeout=5000")
    try connection.execute(sql)
}

/// Edits the database file while the server is down, then starts it again (a running server's
/// hot cache would not see an edit made behind its back).
func editDatabaseWhileStopped(_ server: TestServer, _ sql: String) throws {
    server.stop()
    try databaseExecute(server, sql)
    try server.restart()
}

/// The metadata of a key's row as "type|expires_at|version|value-hex", or nil without a row
/// (expired rows included: this is what is stored, not what commands show).
func storedRow(_ server: TestServer, _ key: String) throws -> String? {
    let hex = Array(key.utf8).map { String(format: "%02x", $0) }.joined()
    return try databaseScalar(server, """
        SELECT type || '|' || ifnull(expires_at, '-') || '|' || version || '|' || ifnull(hex(value), '-')
        FROM redis_keys WHERE key = X'\(hex)'
        """)
}

let wrongTypeError = err("WRONGTYPE Operation against a key holding the wrong kind of value")

/// A PTTL reply within (expected - slack, expected].
func assertPTTL(_ reply: RESPValue, near expected: Int64, slack: Int64 = 2_000, file: StaticString = #filePath, line: UInt = #line) {
    guard case .integer(let value) = reply else { return XCTFail("PTTL reply \(reply)", file: file, line: line) }
    XCTAssertTrue(value <= expected && value > expected - slack, "PTTL \(value), expected about \(expected)", file: file, line: line)
}

final class StringCommandTests: XCTestCase {
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

    /// A hash key (collections are not built yet: its row is inserted into the file).
    private func makeHash(_ key: String) throws {
        try injectKey(databasePath: server.databasePath, key: Array(key.utf8), type: .hash)
    }

    // MARK: SET family

    func testSetGetAndConditions() throws {
        let c = client!
        XCTAssertEqual(try c.run("GET", "k"), null)
        XCTAssertEqual(try c.run("SET", "k", "v"), ok)
        XCTAssertEqual(try c.run("GET", "k"), bulk("v"))
        XCTAssertEqual(try c.run("SET", "k", "w", "NX"), null)
        XCTAssertEqual(try c.run("GET", "k"), bulk("v"))
        XCTAssertEqual(try c.run("SET", "k", "w", "XX"), ok)
        XCTAssertEqual(try c.run("GET", "k"), bulk("w"))
        XCTAssertEqual(try c.run("SET", "n", "v", "XX"), null)
        XCTAssertEqual(try c.run("EXISTS", "n"), int(0))
        XCTAssertEqual(try c.run("SET", "n", "v", "nx"), ok)
        XCTAssertEqual(try c.run("SET", "k", "x", "GET"), bulk("w"))
        XCTAssertEqual(try c.run("SET", "m", "x", "GET"), null)
        XCTAssertEqual(try c.run("GET", "m"), bulk("x"))
        // NX with GET (allowed since Redis 7.0): the old value, nothing written.
        XCTAssertEqual(try c.run("SET", "k", "y", "NX", "GET"), bulk("x"))
        XCTAssertEqual(try c.run("GET", "k"), bulk("x"))
        XCTAssertEqual(try c.run("SET", "z", "y", "XX", "GET"), null)
        XCTAssertEqual(try c.run("EXISTS", "z"), int(0))
        // Option conflicts and unknown options change nothing.
        for bad in [["NX", "XX"], ["EX", "10", "PX", "10"], ["EX", "10", "KEEPTTL"], ["KEEPTTL", "PXAT", "1"], ["EX"], ["FOO"]] {
            XCTAssertEqual(try c.command([Array("SET".utf8), Array("k".utf8), Array("bad".utf8)] + bad.map { Array($0.utf8) }),
                           err("ERR syntax error"), "\(bad)")
        }
        XCTAssertEqual(try c.run("GET", "k"), bulk("x"))
        XCTAssertEqual(try c.run("SET", "k", "v", "EX", "0"), err("ERR invalid expire time in 'set' command"))
        XCTAssertEqual(try c.run("SET", "k", "v", "EX", "x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.run("SET", "k", "v", "EX", "x", "NX", "XX"), err("ERR syntax error"))
        XCTAssertEqual(try c.run("SETEX", "k", "-1", "v"), err("ERR invalid expire time in 'setex' command"))
        XCTAssertEqual(try c.run("PSETEX", "k", "0", "v"), err("ERR invalid expire time in 'psetex' command"))
        XCTAssertEqual(try c.run("GET", "k"), bulk("x"))
        XCTAssertEqual(try c.run("SET", "k"), err("ERR wrong number of arguments for 'set' command"))
    }

    func testExpiryOptionsAndTTLInteraction() throws {
        let c = client!
        XCTAssertEqual(try c.run("SET", "k", "v", "EX", "100"), ok)
        assertPTTL(try c.run("PTTL", "k"), near: 100_000)
        XCTAssertEqual(try c.run("SET", "k", "v", "PX", "50000"), ok)
        assertPTTL(try c.run("PTTL", "k"), near: 50_000)
        XCTAssertEqual(try c.run("SET", "k", "v", "EXAT", "4102444800"), ok)
        XCTAssertEqual(try c.run("PEXPIRETIME", "k"), int(4_102_444_800_000))
        XCTAssertEqual(try c.run("SET", "k", "v", "PXAT", "4102444800123"), ok)
        XCTAssertEqual(try c.run("PEXPIRETIME", "k"), int(4_102_444_800_123))
        // The same expiry option twice: the last wins (as Redis).
        XCTAssertEqual(try c.run("SET", "k", "v", "EX", "10", "EX", "200"), ok)
        assertPTTL(try c.run("PTTL", "k"), near: 200_000)
        // KEEPTTL keeps it, a plain SET drops it.
        XCTAssertEqual(try c.run("SET", "k", "w", "KEEPTTL"), ok)
        assertPTTL(try c.run("PTTL", "k"), near: 200_000)
        XCTAssertEqual(try c.run("GET", "k"), bulk("w"))
        XCTAssertEqual(try c.run("SET", "k", "x", "GET"), bulk("w"))
        XCTAssertEqual(try c.run("TTL", "k"), int(-1))
        // SETEX / PSETEX / GETSET / SETNX / MSET.
        XCTAssertEqual(try c.run("SETEX", "k", "30", "v"), ok)
        assertPTTL(try c.run("PTTL", "k"), near: 30_000)
        XCTAssertEqual(try c.run("GETSET", "k", "g"), bulk("v"))
        XCTAssertEqual(try c.run("TTL", "k"), int(-1))
        XCTAssertEqual(try c.run("PSETEX", "k", "40000", "v"), ok)
        assertPTTL(try c.run("PTTL", "k"), near: 40_000)
        XCTAssertEqual(try c.run("SETNX", "k", "other"), int(0))
        assertPTTL(try c.run("PTTL", "k"), near: 40_000)
        XCTAssertEqual(try c.run("MSET", "k", "m"), ok)
        XCTAssertEqual(try c.run("TTL", "k"), int(-1))
        // Writes that modify a value keep its TTL: APPEND, SETRANGE, INCR family, INCRBYFLOAT.
        XCTAssertEqual(try c.run("SET", "t", "1", "PX", "60000"), ok)
        XCTAssertEqual(try c.run("APPEND", "t", "0"), int(2))
        XCTAssertEqual(try c.run("SETRANGE", "t", "0", "2"), int(2))
        XCTAssertEqual(try c.run("INCR", "t"), int(21))
        XCTAssertEqual(try c.run("DECRBY", "t", "1"), int(20))
        // INCR on a value the hot cache holds (GET put it there) rewrites the row in place.
        XCTAssertEqual(try c.run("GET", "t"), bulk("20"))
        XCTAssertEqual(try c.run("INCR", "t"), int(21))
        XCTAssertEqual(try c.run("GET", "t"), bulk("21"))
        XCTAssertEqual(try c.run("DECR", "t"), int(20))
        XCTAssertEqual(try c.run("INCRBYFLOAT", "t", "0.5"), bulk("20.5"))
        assertPTTL(try c.run("PTTL", "t"), near: 60_000)
        // An absolute time in the past: the key is gone at once.
        XCTAssertEqual(try c.run("SET", "past", "v", "PXAT", "1"), ok)
        XCTAssertEqual(try c.run("GET", "past"), null)
        XCTAssertEqual(try c.run("EXISTS", "past"), int(0))
    }

    /// A SET of a cached string writes its row by id; when the key had no TTL and keeps none,
    /// the UPDATE leaves expires_at out. Every transition between "no TTL" and "TTL" through
    /// SET options, EXPIRE and PERSIST, each pipelined after the write that cached the key,
    /// answers as Redis does, before and after a restart (the rows, not only the cache).
    func testTTLTransitionsOfCachedStrings() throws {
        // Each phase is pipelined after the write that cached the key, then checked again after
        // a restart: the row must say what the cache said.
        let phases: [(steps: [([String], RESPValue)], ttlAfterRestart: Int64)] = [
            ([(["SET", "k", "v1"], ok), (["SET", "k", "v2"], ok), (["TTL", "k"], int(-1)),
              (["SET", "k", "v3", "KEEPTTL"], ok), (["TTL", "k"], int(-1))], -1),
            ([(["SET", "k", "v0"], ok), (["SET", "k", "v4", "EX", "100"], ok), (["TTL", "k"], int(100))], 100),
            ([(["SET", "k", "v0", "KEEPTTL"], ok), (["SET", "k", "v5", "KEEPTTL"], ok), (["TTL", "k"], int(100))], 100),
            ([(["SET", "k", "v0", "KEEPTTL"], ok), (["SET", "k", "v6"], ok), (["TTL", "k"], int(-1))], -1),
            ([(["SET", "k", "v0"], ok), (["EXPIRE", "k", "50"], int(1)), (["SET", "k", "v7", "KEEPTTL"], ok), (["TTL", "k"], int(50))], 50),
            ([(["SET", "k", "v0", "KEEPTTL"], ok), (["PERSIST", "k"], int(1)), (["SET", "k", "v8"], ok), (["TTL", "k"], int(-1))], -1),
        ]
        for (index, phase) in phases.enumerated() {
            let c = try server.client()
            XCTAssertEqual(try c.pipeline(phase.steps.map { $0.0.map { Array($0.utf8) } }), phase.steps.map(\.1), "phase \(index)")
            try server.restart()
            XCTAssertEqual(try server.client().run("TTL", "k"), int(phase.ttlAfterRestart), "phase \(index) after a restart")
        }
        let c = try server.client()
        XCTAssertEqual(try c.pipeline([lzWords("SET", "k", "a"), lzWords("SET", "k", "b", "PX", "1")]), [ok, ok])
        Thread.sleep(forTimeInterval: 0.01)
        XCTAssertEqual(try c.run("GET", "k"), null, "the 1 ms TTL set over a cached key expired")
    }

    /// INCR and its variants create a key the hot cache holds no string for with one
    /// `INSERT ... ON CONFLICT DO NOTHING` (Storage.createStringIfAbsent); a key that has a row
    /// (after a restart the cache is cold) falls back to the read: its value, an expired row,
    /// another type and a non-integer must all answer as before. With the cache off the read
    /// comes first. Every value is checked again after a restart.
    func testIncrementOfNewAndUncachedKeys() throws {
        for cacheOn in [true, false] {
            let server = try TestServer(configure: { $0.cache.enabled = cacheOn })
            var c = try server.client()
            XCTAssertEqual(try c.pipeline([lzWords("INCRBY", "new", "5"), lzWords("GET", "new"), lzWords("INCR", "new"),
                                           lzWords("DECRBY", "fresh", "3"), lzWords("TTL", "fresh")]),
                           [int(5), bulk("5"), int(6), int(-3), int(-1)], "cache \(cacheOn)")
            XCTAssertEqual(try c.pipeline([lzWords("SET", "s", "10"), lzWords("SET", "old", "41"), lzWords("HSET", "h", "f", "v"),
                                           lzWords("SET", "text", "abc"), lzWords("SET", "ttl", "7", "EX", "100")]),
                           [ok, ok, int(1), ok, ok])
            // Cold cache; "old" expired while the server was stopped.
            try editDatabaseWhileStopped(server, "UPDATE redis_keys SET expires_at = 1 WHERE key = CAST('old' AS BLOB)")
            c = try server.client()
            XCTAssertEqual(try c.pipeline([lzWords("INCR", "s"), lzWords("INCR", "old"), lzWords("TTL", "old"),
                                           lzWords("INCR", "h"), lzWords("INCR", "text"), lzWords("INCRBY", "ttl", "2"),
                                           lzWords("TTL", "ttl"), lzWords("INCR", "new")]),
                           [int(11), int(1), int(-1), .error("WRONGTYPE Operation against a key holding the wrong kind of value"),
                            .error("ERR value is not an integer or out of range"), int(9), int(100), int(7)], "cache \(cacheOn)")
            // Inside EXEC (each command with its savepoint): a failure leaves the others.
            try server.restart()
            c = try server.client()
            XCTAssertEqual(try c.pipeline([lzWords("MULTI"), lzWords("INCR", "h"), lzWords("INCR", "brandnew"), lzWords("INCR", "s"), lzWords("EXEC")]),
                           [ok, .simple("QUEUED"), .simple("QUEUED"), .simple("QUEUED"),
                            .array([.error("WRONGTYPE Operation against a key holding the wrong kind of value"), int(1), int(12)])], "cache \(cacheOn)")
            try server.restart()
            c = try server.client()
            XCTAssertEqual(try c.pipeline([lzWords("MGET", "new", "fresh", "s", "old", "text", "ttl", "brandnew"), lzWords("TYPE", "h")]),
                           [bulks(["7", "-3", "12", "1", "abc", "9", "1"]), .simple("hash")], "cache \(cacheOn)")
            XCTAssertEqual(try consistencyProblems(server.databasePath), [])
        }
    }

    func testExpiredKeysAreInvisibleToStringCommands() throws {
        let c = client!
        let names = ["get", "strlen", "getrange", "mget", "getdel", "getex", "setxx", "setnx-opt", "setnx", "append",
                     "incr", "incrbyfloat", "setrange", "getset", "msetnx", "setget", "keepttl", "appendttl"]
        _ = try c.pipeline(names.map { ["SET", $0, "5", "PX", "15"].map { Array($0.utf8) } })
        usleep(40_000)
        XCTAssertEqual(try c.run("GET", "get"), null)
        XCTAssertEqual(try c.run("STRLEN", "strlen"), int(0))
        XCTAssertEqual(try c.run("GETRANGE", "getrange", "0", "-1"), bulk(""))
        XCTAssertEqual(try c.run("MGET", "mget", "get"), .array([null, null]))
        XCTAssertEqual(try c.run("GETDEL", "getdel"), null)
        XCTAssertEqual(try c.run("GETEX", "getex", "PERSIST"), null)
        XCTAssertEqual(try c.run("SET", "setxx", "v", "XX"), null)
        XCTAssertEqual(try c.run("SET", "setnx-opt", "v", "NX"), ok)
        XCTAssertEqual(try c.run("SETNX", "setnx", "v"), int(1))
        XCTAssertEqual(try c.run("APPEND", "append", "ab"), int(2))
        XCTAssertEqual(try c.run("INCR", "incr"), int(1))
        XCTAssertEqual(try c.run("INCRBYFLOAT", "incrbyfloat", "1.5"), bulk("1.5"))
        XCTAssertEqual(try c.run("SETRANGE", "setrange", "2", "x"), int(3))
        XCTAssertEqual(try c.run("GET", "setrange"), .bulk([0, 0, UInt8(ascii: "x")]))
        XCTAssertEqual(try c.run("GETSET", "getset", "n"), null)
        XCTAssertEqual(try c.run("MSETNX", "msetnx", "1", "fresh", "2"), int(1))
        XCTAssertEqual(try c.run("SET", "setget", "v", "GET"), null)
        XCTAssertEqual(try c.run("SET", "keepttl", "v", "KEEPTTL"), ok)
        // A recreated key does not inherit the dead key's TTL.
        for key in ["setnx-opt", "setnx", "append", "incr", "incrbyfloat", "setrange", "getset", "msetnx", "setget", "keepttl"] {
            XCTAssertEqual(try c.run("TTL", key), int(-1), key)
        }
        XCTAssertEqual(try c.run("GET", "append"), bulk("ab"))
        XCTAssertEqual(try c.run("GET", "incr"), bulk("1"))
    }

    func testWrongTypeChangesNothing() throws {
        let c = client!
        try makeHash("h")
        XCTAssertEqual(try c.run("PEXPIRE", "h", "100000"), int(1))
        let before = try storedRow(server, "h")
        XCTAssertNotNil(before)
        let commands: [[String]] = [
            ["GET", "h"], ["GETSET", "h", "v"], ["GETDEL", "h"], ["GETEX", "h"], ["GETEX", "h", "EX", "10"],
            ["GETEX", "h", "PERSIST"], ["GETEX", "h", "EX", "bad"], ["SET", "h", "v", "GET"], ["SET", "h", "v", "NX", "GET"],
            ["SET", "h", "v", "XX", "GET"], ["SET", "h", "v", "EX", "5", "GET"], ["APPEND", "h", "x"], ["STRLEN", "h"],
            ["GETRANGE", "h", "0", "-1"], ["SUBSTR", "h", "0", "1"], ["SETRANGE", "h", "0", "x"], ["SETRANGE", "h", "3", ""],
            ["INCR", "h"], ["DECR", "h"], ["INCRBY", "h", "2"], ["DECRBY", "h", "2"], ["INCRBYFLOAT", "h", "1.5"],
            ["INCRBYFLOAT", "h", "not-a-float"],
        ]
        for command in commands {
            XCTAssertEqual(try c.command(command.map { Array($0.utf8) }), wrongTypeError, "\(command)")
        }
        XCTAssertEqual(try storedRow(server, "h"), before, "a failed command changed the row")
        XCTAssertEqual(try c.run("TYPE", "h"), simple("hash"))
        XCTAssertEqual(try c.run("MGET", "h", "missing"), .array([null, null]))
        XCTAssertEqual(try c.run("SET", "h", "v", "NX"), null)
        XCTAssertEqual(try c.run("SETNX", "h", "v"), int(0))
        XCTAssertEqual(try c.run("MSETNX", "h", "v", "other", "v"), int(0))
        XCTAssertEqual(try c.run("EXISTS", "other"), int(0))
        XCTAssertEqual(try storedRow(server, "h"), before)
        // SET replaces a key of any type; KEEPTTL keeps the old key's TTL whatever its type.
        XCTAssertEqual(try c.run("SET", "h", "s", "KEEPTTL"), ok)
        XCTAssertEqual(try c.run("TYPE", "h"), simple("string"))
        XCTAssertEqual(try c.run("GET", "h"), bulk("s"))
        assertPTTL(try c.run("PTTL", "h"), near: 100_000)
        try makeHash("h2")
        XCTAssertEqual(try c.run("SET", "h2", "v", "XX"), ok)
        XCTAssertEqual(try c.run("GET", "h2"), bulk("v"))
        try makeHash("h3")
        XCTAssertEqual(try c.run("SETEX", "h3", "100", "v"), ok)
        XCTAssertEqual(try c.run("TYPE", "h3"), simple("string"))
    }

    // MARK: GETEX / GETDEL / multi-key

    func testGetexAndGetdel() throws {
        let c = client!
        XCTAssertEqual(try c.run("SET", "k", "v", "EX", "100"), ok)
        XCTAssertEqual(try c.run("GETEX", "k"), bulk("v"))
        assertPTTL(try c.run("PTTL", "k"), near: 100_000)
        XCTAssertEqual(try c.run("GETEX", "k", "PERSIST"), bulk("v"))
        XCTAssertEqual(try c.run("TTL", "k"), int(-1))
        XCTAssertEqual(try c.run("GETEX", "k", "PX", "30000"), bulk("v"))
        assertPTTL(try c.run("PTTL", "k"), near: 30_000)
        XCTAssertEqual(try c.run("GETEX", "k", "EXAT", "4102444800"), bulk("v"))
        XCTAssertEqual(try c.run("EXPIRETIME", "k"), int(4_102_444_800))
        XCTAssertEqual(try c.run("GETEX", "k", "EX", "0"), err("ERR invalid expire time in 'getex' command"))
        XCTAssertEqual(try c.run("GETEX", "k", "EX", "1", "PERSIST"), err("ERR syntax error"))
        XCTAssertEqual(try c.run("GETEX", "missing", "EX", "nonsense"), null)
        XCTAssertEqual(try c.run("EXPIRETIME", "k"), int(4_102_444_800))
        // An absolute time in the past returns the value and deletes the key (row and all).
        XCTAssertEqual(try c.run("GETEX", "k", "PXAT", "1"), bulk("v"))
        XCTAssertEqual(try c.run("EXISTS", "k"), int(0))
        XCTAssertNil(try storedRow(server, "k"))
        XCTAssertEqual(try c.run("SET", "d", "v", "EX", "100"), ok)
        XCTAssertEqual(try c.run("GETDEL", "d"), bulk("v"))
        XCTAssertEqual(try c.run("GETDEL", "d"), null)
        XCTAssertNil(try storedRow(server, "d"))
    }

    func testMultiKeyCommands() throws {
        let c = client!
        XCTAssertEqual(try c.run("MSET", "a", "1", "b", "2", "a", "3"), ok)
        XCTAssertEqual(try c.run("MGET", "a", "b", "c", "a"), .array([bulk("3"), bulk("2"), null, bulk("3")]))
        XCTAssertEqual(try c.run("MSET", "a", "1", "b"), err("ERR wrong number of arguments for 'mset' command"))
        XCTAssertEqual(try c.run("MSETNX", "x", "1", "a", "9"), int(0))
        XCTAssertEqual(try c.run("EXISTS", "x"), int(0), "MSETNX is all or nothing")
        XCTAssertEqual(try c.run("GET", "a"), bulk("3"))
        XCTAssertEqual(try c.run("MSETNX", "x", "1", "y", "2"), int(1))
        XCTAssertEqual(try c.run("MGET", "x", "y"), .array([bulk("1"), bulk("2")]))
        XCTAssertEqual(try c.run("MSETNX", "x"), err("ERR wrong number of arguments for 'msetnx' command"))
    }

    // MARK: APPEND / STRLEN / ranges

    func testAppendStrlenAndRanges() throws {
        let c = client!
        XCTAssertEqual(try c.run("APPEND", "s", "This is"), int(7))
        XCTAssertEqual(try c.run("APPEND", "s", " a string"), int(16))
        XCTAssertEqual(try c.run("STRLEN", "s"), int(16))
        XCTAssertEqual(try c.run("STRLEN", "missing"), int(0))
        XCTAssertEqual(try c.run("APPEND", "empty", ""), int(0))
        XCTAssertEqual(try c.run("EXISTS", "empty"), int(1), "APPEND creates the key even with an empty value")
        let ranges: [(String, String, String)] = [
            ("0", "3", "This"), ("-3", "-1", "ing"), ("0", "-1", "This is a string"), ("10", "100", "string"),
            ("5", "3", ""), ("-1", "-5", ""), ("-100", "-1", "This is a string"), ("-100", "-100", "T"),
            ("15", "15", "g"), ("16", "20", ""), ("-1", "-1", "g"), ("3", "-20", ""),
            ("-9223372036854775808", "9223372036854775807", "This is a string"),
        ]
        for (start, end, expected) in ranges {
            XCTAssertEqual(try c.run("GETRANGE", "s", start, end), bulk(expected), "GETRANGE \(start) \(end)")
        }
        XCTAssertEqual(try c.run("SUBSTR", "s", "-6", "-1"), bulk("string"))
        XCTAssertEqual(try c.run("GETRANGE", "missing", "0", "-1"), bulk(""))
        XCTAssertEqual(try c.run("GETRANGE", "empty", "0", "-1"), bulk(""))
        XCTAssertEqual(try c.run("GETRANGE", "s", "a", "1"), err("ERR value is not an integer or out of range"))

        // SETRANGE: overwrite, extend, zero-pad, empty patches, offset errors.
        XCTAssertEqual(try c.run("SET", "k", "Hello World"), ok)
        XCTAssertEqual(try c.run("SETRANGE", "k", "6", "Redis"), int(11))
        XCTAssertEqual(try c.run("GET", "k"), bulk("Hello Redis"))
        XCTAssertEqual(try c.run("SETRANGE", "k", "13", "!"), int(14))
        XCTAssertEqual(try c.run("GET", "k"), .bulk(Array("Hello Redis".utf8) + [0, 0, UInt8(ascii: "!")]))
        XCTAssertEqual(try c.run("SETRANGE", "pad", "4", "x"), int(5))
        XCTAssertEqual(try c.run("GET", "pad"), .bulk([0, 0, 0, 0, UInt8(ascii: "x")]))
        XCTAssertEqual(try c.run("SETRANGE", "none", "10", ""), int(0))
        XCTAssertEqual(try c.run("EXISTS", "none"), int(0))
        XCTAssertEqual(try c.run("SETRANGE", "k", "1000", ""), int(14))
        XCTAssertEqual(try c.run("SETRANGE", "k", "-1", "x"), err("ERR offset is out of range"))
        let tooLong = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        XCTAssertEqual(try c.run("SETRANGE", "k", "536870912", "x"), tooLong)
        XCTAssertEqual(try c.run("SETRANGE", "k", "536870911", "xy"), tooLong)
        XCTAssertEqual(try c.run("SETRANGE", "k", "9223372036854775807", "x"), tooLong)
        XCTAssertEqual(try c.run("SETRANGE", "new", "9223372036854775807", "x"), tooLong)
        XCTAssertEqual(try c.run("EXISTS", "new"), int(0))
        XCTAssertEqual(try c.run("SETRANGE", "k", "9223372036854775808", "x"), err("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.run("STRLEN", "k"), int(14))
    }

    // MARK: Counters

    func testIntegerCounters() throws {
        let c = client!
        XCTAssertEqual(try c.run("INCR", "n"), int(1))
        XCTAssertEqual(try c.run("INCRBY", "n", "41"), int(42))
        XCTAssertEqual(try c.run("DECR", "n"), int(41))
        XCTAssertEqual(try c.run("DECRBY", "n", "-9"), int(50))
        XCTAssertEqual(try c.run("GET", "n"), bulk("50"), "stored as the decimal string")
        XCTAssertEqual(try c.run("SET", "n", "9223372036854775806"), ok)
        XCTAssertEqual(try c.run("INCR", "n"), int(Int64.max))
        XCTAssertEqual(try c.run("INCR", "n"), err("ERR increment or decrement would overflow"))
        XCTAssertEqual(try c.run("GET", "n"), bulk("9223372036854775807"), "unchanged after an error")
        XCTAssertEqual(try c.run("SET", "n", "-9223372036854775807"), ok)
        XCTAssertEqual(try c.run("DECR", "n"), int(Int64.min))
        XCTAssertEqual(try c.run("DECRBY", "n", "1"), err("ERR increment or decrement would overflow"))
        XCTAssertEqual(try c.run("DECRBY", "n", "-9223372036854775808"), err("ERR decrement would overflow"))
        XCTAssertEqual(try c.run("INCRBY", "n", "-9223372036854775808"), err("ERR increment or decrement would overflow"))
        XCTAssertEqual(try c.run("GET", "n"), bulk("-9223372036854775808"))
        for bad in ["abc", " 1", "1 ", "1.0", "007", "-0", "+1", "", "9223372036854775808"] {
            XCTAssertEqual(try c.run("SET", "s", bad), ok)
            XCTAssertEqual(try c.run("INCR", "s"), err("ERR value is not an integer or out of range"), "INCR on '\(bad)'")
            XCTAssertEqual(try c.run("GET", "s"), bulk(bad))
            XCTAssertEqual(try c.run("INCRBY", "n", bad), err("ERR value is not an integer or out of range"), "INCRBY by '\(bad)'")
        }
    }

    func testIncrByFloat() throws {
        let c = client!
        let cases: [(String?, String, String)] = [
            ("10.50", "0.1", "10.6"), ("5.0e3", "2.0e2", "5200"), (nil, "3", "3"), ("0.1", "0.2", "0.3"),
            ("1", "-1", "0"), ("0", "-0.0", "0"), ("1", "1.23e20", "123000000000000000000"), ("0", "0x10", "16"),
            ("3", "1e-20", "3"), ("10", "-0.5", "9.5"), (nil, "1.5e-7", "0.00000015"),
            (nil, "123456789.123456789", "123456789.12345678899873747"),
        ]
        for (index, (start, increment, expected)) in cases.enumerated() {
            let key = "f\(index)"
            if let start { XCTAssertEqual(try c.run("SET", key, start), ok) }
            XCTAssertEqual(try c.run("INCRBYFLOAT", key, increment), bulk(expected), "\(start ?? "nil") + \(increment)")
            XCTAssertEqual(try c.run("GET", key), bulk(expected))
        }
        let notFloat = err("ERR value is not a valid float")
        for bad in ["abc", "1e5000", "-1e5000", "1e-5000", "nan", " 1", "1 ", "", "1\u{0}"] {
            XCTAssertEqual(try c.run("INCRBYFLOAT", "f0", bad), notFloat, "increment '\(bad)'")
        }
        XCTAssertEqual(try c.run("INCRBYFLOAT", "f0", "inf"), err("ERR increment would produce NaN or Infinity"))
        XCTAssertEqual(try c.run("GET", "f0"), bulk("10.6"))
        XCTAssertEqual(try c.run("SET", "s", "one"), ok)
        XCTAssertEqual(try c.run("INCRBYFLOAT", "s", "1"), notFloat)
        XCTAssertEqual(try c.run("INCRBYFLOAT", "never", "x"), notFloat)
        XCTAssertEqual(try c.run("EXISTS", "never"), int(0))
    }

    // MARK: Binary safety and persistence

    func testBinarySafetyOnBothBackends() throws {
        try forEachBackend { server in
            let c = try server.client()
            let key: [UInt8] = [0, 0xff, 13, 10, UInt8(ascii: "k"), 0]
            var value: [UInt8] = []
            for round in 0..<2048 { value.append(UInt8(truncatingIfNeeded: round * 7)) }  // every byte value
            let get = Array("GET".utf8), set = Array("SET".utf8)
            XCTAssertEqual(try c.run(bytes: set, key, value), ok)
            XCTAssertEqual(try c.run(bytes: get, key), .bulk(value))
            XCTAssertEqual(try c.run(bytes: Array("STRLEN".utf8), key), int(Int64(value.count)))
            XCTAssertEqual(try c.run(bytes: Array("APPEND".utf8), key, [13, 10, 0]), int(Int64(value.count + 3)))
            XCTAssertEqual(try c.run(bytes: Array("GETRANGE".utf8), key, Array("-3".utf8), Array("-1".utf8)), .bulk([13, 10, 0]))
            XCTAssertEqual(try c.run(bytes: Array("SETRANGE".utf8), key, Array("1".utf8), [0xfe, 0]), int(Int64(value.count + 3)))
            XCTAssertEqual(try c.run(bytes: Array("GETRANGE".utf8), key, Array("0".utf8), Array("2".utf8)), .bulk([value[0], 0xfe, 0]))
            // A key that differs only after a NUL byte is another key.
            let prefix: [UInt8] = [0, 0xff]
            XCTAssertEqual(try c.run(bytes: get, prefix), null)
            XCTAssertEqual(try c.run(bytes: Array("MSET".utf8), prefix, [0xff, 0xfe], [13, 10], []), ok)
            XCTAssertEqual(try c.run(bytes: Array("MGET".utf8), prefix, [13, 10], key.reversed()), .array([.bulk([0xff, 0xfe]), .bulk([]), null]))
            XCTAssertEqual(try c.run(bytes: Array("INCR".utf8), [0x80, 0]), int(1))
            XCTAssertEqual(try c.run(bytes: Array("EXISTS".utf8), key, prefix, [13, 10], [0x80, 0], [0x80]), int(4))
        }
    }

    func testValuesAndTTLsSurviveRestart() throws {
        let c = client!
        let binaryKey: [UInt8] = [0, 0xff, 13, 10]
        let binaryValue: [UInt8] = [0xff, 0, 10, 13, 0]
        XCTAssertEqual(try c.run(bytes: Array("SET".utf8), binaryKey, binaryValue), ok)
        XCTAssertEqual(try c.run("SET", "plain", "v"), ok)
        XCTAssertEqual(try c.run("SET", "ttl", "v", "PX", "100000"), ok)
        XCTAssertEqual(try c.run("SET", "abs", "v", "PXAT", "4102444800123"), ok)
        XCTAssertEqual(try c.run("INCRBY", "counter", "41"), int(41))
        XCTAssertEqual(try c.run("APPEND", "appended", "ab"), int(2))
        XCTAssertEqual(try c.run("SETRANGE", "appended", "4", "c"), int(5))
        XCTAssertEqual(try c.run("INCRBYFLOAT", "float", "2.5"), bulk("2.5"))
        XCTAssertEqual(try c.run("SET", "short", "v", "PX", "30"), ok)
        XCTAssertEqual(try c.run("SET", "gone", "v"), ok)
        XCTAssertEqual(try c.run("GETDEL", "gone"), bulk("v"))
        usleep(50_000)
        try server.restart()
        let d = try server.client()
        XCTAssertEqual(try d.run(bytes: Array("GET".utf8), binaryKey), .bulk(binaryValue))
        XCTAssertEqual(try d.run("GET", "plain"), bulk("v"))
        XCTAssertEqual(try d.run("TTL", "plain"), int(-1))
        assertPTTL(try d.run("PTTL", "ttl"), near: 100_000, slack: 10_000)
        XCTAssertEqual(try d.run("PEXPIRETIME", "abs"), int(4_102_444_800_123))
        XCTAssertEqual(try d.run("INCR", "counter"), int(42))
        XCTAssertEqual(try d.run("GET", "appended"), .bulk([UInt8(ascii: "a"), UInt8(ascii: "b"), 0, 0, UInt8(ascii: "c")]))
        XCTAssertEqual(try d.run("INCRBYFLOAT", "float", "0.5"), bulk("3"))
        XCTAssertEqual(try d.run("GET", "short"), null)
        XCTAssertEqual(try d.run("EXISTS", "gone"), int(0))
    }
}
