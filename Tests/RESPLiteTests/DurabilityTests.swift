// Group commit and durability: an acknowledged write is committed (or in the redo log) before
// its reply; a storage failure answers errors and loses nothing acknowledged; the WAL stays
// bounded.

import Foundation
import XCTest
import CSQLite
@testable import RESPLite

final class DurabilityTests: XCTestCase {
    /// Another SQLite connection sees every acknowledged write once the server committed what
    /// its redo log holds (`openDatabase` sends SAVE first; without a redo log, every reply
    /// leaves after its COMMIT).
    func testAcknowledgedWritesAreVisibleToAnotherConnection() throws {
        try forEachBackend { server in
            let client = try server.client()
            let commands = (0..<200).map { [Array("SET".utf8), Array("g:\($0)".utf8), Array("\($0)".utf8)] }
            XCTAssertTrue(try client.pipeline(commands).allSatisfy { $0 == ok })
            let reader = try openDatabase(server.databasePath, readOnly: true)
            defer { reader.close() }
            XCTAssertEqual(try reader.scalar("SELECT count(*) FROM redis_keys WHERE key >= CAST('g:' AS BLOB) AND key < CAST('g;' AS BLOB)"), "200")
        }
    }

    /// Commands that run without their own savepoint (SET, MSET, INCR, DEL, HSET, HDEL, SADD,
    /// SREM, LPUSH, ZADD, ZREM...)
    /// check before writing: a pipeline where some of them fail (wrong type, not an integer,
    /// syntax) keeps every other reply and write of the same group commit.
    func testValidationErrorsInAGroupCommitFailAlone() throws {
        try forEachBackend { server in
            let client = try server.client()
            let commands: [[String]] = [
                ["SET", "s", "text"], ["INCR", "s"], ["SET", "n", "1"], ["INCRBY", "n", "x"], ["INCR", "n"],
                ["LPUSH", "s", "e"], ["HSET", "s", "f", "v"], ["HSET", "h", "f"], ["HSET", "h", "f", "v"],
                ["SADD", "h", "m"], ["SADD", "set", "m"], ["ZADD", "z", "nope", "m"], ["ZADD", "z", "1", "m"],
                ["ZADD", "z", "INCR", "nan", "m"], ["RPOP", "set"], ["LPUSH", "list", "a", "b"], ["RPOP", "list"],
                ["SETEX", "e", "0", "v"], ["SET", "last", "ok"],
                ["MSET", "m1", "1", "m2"], ["MSET", "m1", "1", "m2", "2"], ["MSETNX", "m1", "x", "m3", "3"],
                ["HDEL", "s", "f"], ["SREM", "h", "m"], ["ZREM", "set", "m"], ["SET", "d", "x"], ["DEL", "d", "missing"],
                ["UNLINK", "e"], ["SREM", "set", "m", "other"], ["SET", "final", "ok"],
                ["GETDEL", "h"], ["SETRANGE", "s", "-1", "x"], ["APPEND", "h", "x"], ["APPEND", "s", "!"],
                ["INCRBYFLOAT", "s", "1"], ["GETEX", "s", "EX", "0"], ["EXPIRE", "s", "abc"], ["EXPIRE", "s", "100", "BOGUS"],
                ["EXPIRE", "final", "100"], ["PERSIST", "final"], ["LSET", "list", "99", "x"], ["LSET", "nolist", "0", "x"],
                ["LTRIM", "list", "a", "1"], ["LREM", "list", "x", "a"], ["LPUSHX", "s", "x"], ["ZINCRBY", "z", "abc", "m"],
                ["ZREMRANGEBYSCORE", "z", "x", "1"], ["ZPOPMIN", "z", "-1"], ["ZINCRBY", "z", "2", "m"],
            ]
            let replies = try client.pipeline(commands.map { $0.map { Array($0.utf8) } })
            let wrongType = err("WRONGTYPE Operation against a key holding the wrong kind of value")
            XCTAssertEqual(replies, [
                ok, err("ERR value is not an integer or out of range"), ok, err("ERR value is not an integer or out of range"), int(2),
                wrongType, wrongType, err("ERR wrong number of arguments for 'hset' command"), int(1),
                wrongType, int(1), err("ERR value is not a valid float"), int(1),
                err("ERR value is not a valid float"), wrongType, int(2), bulk("a"),
                err("ERR invalid expire time in 'setex' command"), ok,
                err("ERR wrong number of arguments for 'mset' command"), ok, int(0),
                wrongType, wrongType, wrongType, ok, int(1),
                int(0), int(1), ok,
                wrongType, err("ERR offset is out of range"), wrongType, int(5),
                err("ERR value is not a valid float"), err("ERR invalid expire time in 'getex' command"),
                err("ERR value is not an integer or out of range"), err("ERR Unsupported option BOGUS"),
                int(1), int(1), err("ERR index out of range"), err("ERR no such key"),
                err("ERR value is not an integer or out of range"), err("ERR value is not an integer or out of range"), wrongType,
                err("ERR value is not a valid float"), err("ERR min or max is not a float"),
                err("ERR value is out of range, must be positive"), bulk("3"),
            ], "[\(server.backendName)]")
            for (key, expected) in [("s", bulk("text!")), ("n", bulk("2")), ("last", bulk("ok")), ("m1", bulk("1")), ("m2", bulk("2")),
                                    ("m3", .null), ("d", .null), ("final", bulk("ok"))] {
                XCTAssertEqual(try client.run("GET", key), expected, "[\(server.backendName)] \(key)")
            }
            XCTAssertEqual(try client.run("HGET", "h", "f"), bulk("v"))
            XCTAssertEqual(try client.run("ZSCORE", "z", "m"), bulk("3"))
            XCTAssertEqual(try client.run("TTL", "final"), int(-1))
            XCTAssertEqual(try client.run("LRANGE", "list", "0", "-1"), bulks(["b"]))
            XCTAssertEqual(try consistencyProblems(server.databasePath), [])
        }
    }

    /// HINCRBY and HINCRBYFLOAT run without a savepoint: on a hash with an expired field (whose
    /// purge is a write) a non-numeric field must still fail the command alone, before the purge.
    func testHashIncrementErrorsAfterExpiredFieldsFailAlone() throws {
        try forEachBackend { server in
            let client = try server.client()
            XCTAssertEqual(try client.run("HSET", "hx", "a", "1", "b", "text"), int(2))
            XCTAssertEqual(try client.run("HPEXPIRE", "hx", "1", "FIELDS", "1", "a"), .array([int(1)]))
            Thread.sleep(forTimeInterval: 0.01)
            let replies = try client.pipeline([["SET", "p", "1"], ["HINCRBY", "hx", "b", "1"], ["HINCRBYFLOAT", "hx", "b", "1"],
                                               ["HINCRBY", "hx", "a", "5"], ["SET", "q", "2"]].map { $0.map { Array($0.utf8) } })
            XCTAssertEqual(replies, [ok, err("ERR hash value is not an integer"), err("ERR hash value is not a float"), int(5), ok],
                           "[\(server.backendName)]")
            XCTAssertEqual(try client.run("GET", "p"), bulk("1"))
            XCTAssertEqual(try client.run("GET", "q"), bulk("2"))
            XCTAssertEqual(try client.run("HLEN", "hx"), int(2))
            XCTAssertEqual(try client.run("HTTL", "hx", "FIELDS", "1", "a"), .array([int(-1)]))
            XCTAssertEqual(try consistencyProblems(server.databasePath), [])
        }
    }

    /// Disk full (max_page_count): writes answer a clear error, reads keep working, every
    /// acknowledged write is present after a restart, and a failed write left nothing.
    func testDiskFullAnswersErrorsAndLosesNothingAcknowledged() throws {
        let server = try TestServer(configure: { $0.pragmaOverrides = [("max_page_count", "64")] })
        let client = try server.client()
        var acknowledged: [String] = []
        var refused: [String] = []
        let value = String(repeating: "x", count: 1_500)
        for round in 0..<40 {
            let keys = (0..<10).map { "full:\(round):\($0)" }
            let replies = try client.pipeline(keys.map { [Array("SET".utf8), Array($0.utf8), Array(value.utf8)] })
            for (key, reply) in zip(keys, replies) {
                if reply == ok {
                    acknowledged.append(key)
                } else {
                    XCTAssertTrue(errorText(reply)?.hasPrefix("ERR disk full") ?? false, "\(reply)")
                    refused.append(key)
                }
            }
        }
        XCTAssertFalse(acknowledged.isEmpty)
        XCTAssertFalse(refused.isEmpty, "the page limit was never reached")
        // Reads keep working while full.
        XCTAssertEqual(try client.run("GET", acknowledged[0]), bulk(value))
        XCTAssertEqual(try client.run("PING"), simple("PONG"))
        // Space returns when keys are deleted.
        XCTAssertEqual(try client.run("DEL", acknowledged.removeFirst(), acknowledged.removeFirst(), acknowledged.removeFirst()), int(3))
        XCTAssertEqual(try client.run("SET", "after", "small"), ok)
        acknowledged.append("after")

        try server.restart()
        let again = try server.client()
        XCTAssertEqual(try again.run("DBSIZE"), int(Int64(acknowledged.count)))
        for key in acknowledged where key != "after" { XCTAssertEqual(try again.run("STRLEN", key), int(1_500), key) }
        for key in refused { XCTAssertEqual(try again.run("EXISTS", key), int(0), key) }
    }

    /// Checkpoints run off the loop: after many writes the data reaches the main file and the
    /// WAL stays bounded.
    func testWalIsCheckpointedAndBounded() throws {
        let server = try TestServer()
        let client = try server.client()
        let value = [UInt8](repeating: 0x61, count: 4_000)
        for round in 0..<40 {
            let commands = (0..<100).map { [Array("SET".utf8), Array("w:\(round):\($0)".utf8), value] }
            XCTAssertTrue(try client.pipeline(commands).allSatisfy { $0 == ok })
        }
        // ~16 MB written. The checkpointer copies it into the database file (which only grows
        // through checkpoints in WAL mode) within a few seconds.
        let deadline = Date(timeIntervalSinceNow: 15)
        var databaseBytes: Int64 = 0
        while Date() < deadline {
            databaseBytes = (try? FileManager.default.attributesOfItem(atPath: server.databasePath)[.size] as? Int64) ?? 0
            if databaseBytes > 12_000_000 { break }
            usleep(50_000)
        }
        XCTAssertGreaterThan(databaseBytes, 12_000_000)
        let walBytes = (try? FileManager.default.attributesOfItem(atPath: server.databasePath + "-wal")[.size] as? Int64) ?? 0
        XCTAssertLessThan(walBytes, 64 * 1024 * 1024 + 1_000_000)
    }

    // MARK: The WAL write buffer ("resplite" VFS, CShims/walbuffer.c)

    private func walConnection(_ path: String) throws -> SQLiteConnection {
        let connection = try openDatabase(path)
        try connection.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0")
        return connection
    }

    /// The database and its WAL as they are in the files now, as a crash would leave them,
    /// opened elsewhere: SQLite rebuilds the WAL index from the WAL file alone.
    private func crashCopy(of path: String) throws -> SQLiteConnection {
        let copy = makeTemporaryDirectory() + "/copy.db"
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy + "-wal")
        return try openDatabase(copy)
    }

    private static let rows2000 = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)"

    /// A transaction's frames reach the WAL file in one write per 128 KB, not two per page,
    /// and they are in the file when COMMIT returns.
    func testATransactionsWalFramesReachTheFileInOneWrite() throws {
        XCTAssertEqual(WALBuffer.vfsName, "resplite")
        let path = makeTemporaryDirectory() + "/wal.db"
        let writer = try walConnection(path)
        defer { writer.close() }
        try writer.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        let before = WALBuffer.statistics
        try writer.execute("""
            BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60)
            INSERT INTO t SELECT i, randomblob(1000) FROM n; COMMIT
            """)
        let frames = WALBuffer.statistics.frames - before.frames
        let writes = WALBuffer.statistics.writes - before.writes
        XCTAssertGreaterThanOrEqual(frames, 15, "60 KB of rows fill at least 15 pages of 4 KB")
        XCTAssertGreaterThanOrEqual(writes, 1)
        XCTAssertLessThanOrEqual(writes, frames * 4_120 / 131_071 + 1, "frames \(frames)")
        let reader = try openDatabase(path, readOnly: true)
        defer { reader.close() }
        XCTAssertEqual(try reader.scalar("SELECT count(*) FROM t"), "60")
        let copy = try crashCopy(of: path)
        defer { copy.close() }
        XCTAssertEqual(try copy.scalar("SELECT count(*) FROM t"), "60")
    }

    /// A turn's collection writes reach their key row once, at the end of the turn; until then
    /// reads see row + pending change. A command's savepoint rollback takes its pending change
    /// back with its rows; a deleted key (and FLUSHALL) drops its pending change, so a rowid
    /// SQLite hands out again starts clean; the commit writes every row exactly.
    func testPendingKeyWritesFollowSavepointsDeletesAndFlush() throws {
        let db = makeTemporaryDirectory() + "/pending.db"
        var noCache = CacheOptions()
        noCache.enabled = false  // every read goes to SQLite and the pending changes
        let storage = try Storage(path: db, template: .default, overrides: [], cache: noCache, logger: quietLogger)
        defer { storage.close() }
        storage.deferKeyWrites = true
        let now = currentTimeMillis()
        func command(failing: Bool = false, _ body: () throws -> Void) throws {
            try storage.beginBatchIfNeeded()
            storage.savepointPerCommand = true
            try body()
            storage.endCommand(failed: failing)
        }
        func record(_ key: String) throws -> KeyRecord? { try Array(key.utf8).withByteView { try storage.lookup($0, now: now) } }
        func addFields(_ key: String, _ fields: [String]) throws {
            try Array(key.utf8).withByteView { name in
                let record = try storage.collectionForWrite(name, type: .hash, now: now).record
                var created: Int64 = 0
                for field in fields {
                    if try Array(field.utf8).withByteView({ try storage.hashSet(record.id, $0, $0) }) { created += 1 }
                }
                try storage.adjustCount(id: record.id, by: created, now: now, known: record)
            }
        }
        func storedCount(_ key: String) throws -> String? {
            try storage.connection.scalar("SELECT count FROM redis_keys WHERE key = CAST('\(key)' AS BLOB)")
        }

        try command { try addFields("h", ["f1", "f2"]) }
        XCTAssertEqual(try record("h")?.count, 2)
        XCTAssertEqual(try storedCount("h"), "0", "the row waits for the end of the turn")
        try command { try addFields("h", ["f2", "f3"]) }
        XCTAssertEqual(try record("h")?.count, 3)
        try command(failing: true) { try addFields("h", ["f4", "f5"]) }
        XCTAssertEqual(try record("h")?.count, 3, "the failed command's change went back with its rows")
        let oldID = try XCTUnwrap(try record("h")).id
        try command { _ = try Array("h".utf8).withByteView { try storage.deleteKey($0) } }
        try command { try addFields("n", ["a"]) }
        let new = try XCTUnwrap(try record("n"))
        XCTAssertEqual(new.id, oldID, "SQLite gives the deleted key's rowid to the next key")
        XCTAssertEqual(new.count, 1, "the deleted key's pending change did not follow its rowid")
        try command { try addFields("x", ["a", "b"]) }
        try command { try storage.flush() }
        try command { try addFields("y", ["a"]) }
        XCTAssertEqual(try record("y")?.count, 1)
        XCTAssertNil(try record("x"))
        try storage.endTurnBatch(idle: true)
        try storage.commitBatch()
        XCTAssertEqual(try storedCount("y"), "1")
        XCTAssertEqual(try Storage.checkConsistency(storage.connection), [])
    }

    /// RESPLite runs the SQLite it builds (CShims/CSQLite, Package.swift `sqliteSettings`): the
    /// vendored version, with what the server needs (FTS5, the preupdate hook, thread safety
    /// for the checkpointer thread beside the loop), memory statistics compiled out, and
    /// lookaside on (the small objects of each statement, without malloc).
    func testTheVendoredSQLiteRunsWithTheProjectsOptions() throws {
        let versionFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CShims/CSQLite/VERSION")
        let vendored = try String(contentsOf: versionFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(String(cString: sqlite3_libversion()), vendored)
        for option in ["ENABLE_FTS5", "ENABLE_PREUPDATE_HOOK", "ENABLE_QPSG", "ENABLE_UPDATE_DELETE_LIMIT", "THREADSAFE=1",
                       "DEFAULT_MEMSTATUS=0", "LIKE_DOESNT_MATCH_BLOBS", "MAX_VARIABLE_NUMBER=250000", "TEMP_STORE=1"] {
            XCTAssertEqual(sqlite3_compileoption_used(option), 1, option)
        }
        for option in ["OMIT_LOOKASIDE", "SECURE_DELETE"] {
            XCTAssertEqual(sqlite3_compileoption_used(option), 0, option)
        }
        let connection = try walConnection(makeTemporaryDirectory() + "/options.db")
        defer { connection.close() }
        try connection.execute("CREATE TABLE t(v BLOB); INSERT INTO t VALUES (randomblob(100)), (randomblob(200))")
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t WHERE length(v) > 0"), "2")
        var used: Int32 = 0, highwater: Int32 = 0
        XCTAssertEqual(sqlite3_db_status(connection.handle, SQLITE_DBSTATUS_LOOKASIDE_USED, &used, &highwater, 0), SQLITE_OK)
        XCTAssertGreaterThan(highwater, 0, "lookaside slots were used")
    }

    /// Transactions larger than the page cache write frames before COMMIT, read them back,
    /// overwrite them (SQLite then rewrites their checksums) or roll them back: through the
    /// buffer every committed byte is in the file and nothing rolled back is.
    func testWalBufferKeepsSpillsRewritesAndRollbacksExact() throws {
        let path = makeTemporaryDirectory() + "/spill.db"
        let writer = try walConnection(path)
        defer { writer.close() }
        try writer.execute("PRAGMA cache_size=10; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        try writer.execute("""
            BEGIN; \(Self.rows2000) INSERT INTO t SELECT i, zeroblob(500) FROM n;
            UPDATE t SET v = CAST(printf('%0500d', id) AS BLOB); COMMIT
            """)
        func check(_ connection: SQLiteConnection, rows: Int, extraBytes: Int) throws {
            XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t"), String(rows))
            XCTAssertEqual(try connection.scalar("SELECT sum(length(v)) FROM t"), String(2_000 * 500 + extraBytes))
            XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t WHERE id <= 2000 AND v != CAST(printf('%0500d', id) AS BLOB)"), "0")
            XCTAssertEqual(try connection.scalar("PRAGMA integrity_check"), "ok")
        }
        // Right after COMMIT, before any other operation could write a late frame out.
        let early = try crashCopy(of: path)
        defer { early.close() }
        try check(early, rows: 2_000, extraBytes: 0)
        try writer.execute("BEGIN; UPDATE t SET v = zeroblob(700); DELETE FROM t WHERE id > 1000; ROLLBACK")
        try writer.execute("INSERT INTO t VALUES (2001, CAST('last' AS BLOB))")
        let reader = try openDatabase(path, readOnly: true)
        defer { reader.close() }
        let copy = try crashCopy(of: path)
        defer { copy.close() }
        for connection in [reader, copy] { try check(connection, rows: 2_001, extraBytes: 4) }
    }

    /// A WAL write that fails fails its COMMIT: nothing of it is visible or recovered, and the
    /// connection goes on.
    func testAFailedWalWriteFailsTheCommit() throws {
        let path = makeTemporaryDirectory() + "/fail.db"
        let writer = try walConnection(path)
        defer { writer.close() }
        try writer.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); INSERT INTO t VALUES (1, 'kept')")
        WALBuffer.failNextWrites(1)
        XCTAssertThrowsError(try writer.execute("BEGIN; INSERT INTO t VALUES (2, 'lost'); COMMIT"))
        if writer.inTransaction { try writer.execute("ROLLBACK") }
        try writer.execute("INSERT INTO t VALUES (3, 'kept')")
        let reader = try openDatabase(path, readOnly: true)
        defer { reader.close() }
        let copy = try crashCopy(of: path)
        defer { copy.close() }
        for connection in [writer, reader, copy] {
            XCTAssertEqual(try connection.scalar("SELECT group_concat(id) FROM t"), "1,3")
        }
    }

    /// The same failure under a server that commits every turn (redo log off): the write
    /// answers an error, nothing acknowledged is lost, the server goes on. (With the redo log,
    /// RedoLogTests covers a failed commit and a failed log write.)
    func testAFailedWalWriteAnswersAnErrorAndLosesNothing() throws {
        let server = try TestServer(configure: { $0.redoLog.enabled = false })
        let client = try server.client()
        XCTAssertEqual(try client.run("SET", "a", "1"), ok)
        WALBuffer.failNextWrites(1)
        let reply = try client.run("SET", "b", "2")
        XCTAssertTrue(errorText(reply)?.hasPrefix("ERR") ?? false, "\(reply)")
        XCTAssertEqual(try client.run("SET", "c", "3"), ok)
        let expected = RESPValue.array([bulk("1"), .null, bulk("3")])
        XCTAssertEqual(try client.run("MGET", "a", "b", "c"), expected)
        try server.restart()
        XCTAssertEqual(try server.client().run("MGET", "a", "b", "c"), expected)
    }

    /// Every pragma template opens, serves and persists.
    func testEveryPragmaTemplateWorks() throws {
        for template in PragmaTemplate.allCases {
            let server = try TestServer(configure: { $0.pragmaTemplate = template })
            XCTAssertEqual(try server.client().run("SET", "t", template.rawValue), ok)
            try server.restart()
            XCTAssertEqual(try server.client().run("GET", "t"), bulk(template.rawValue), template.rawValue)
        }
    }

    /// `--pragma page_size=N` takes effect on a new file (it is applied before journal_mode=WAL
    /// writes the first page); an existing file keeps its page size.
    func testPageSizeOverrideAppliesToNewFiles() throws {
        let server = try TestServer(configure: { $0.pragmaOverrides = [("page_size", "1024")] })
        let client = try server.client()
        XCTAssertEqual(try client.run("SET", "p", "v"), ok)
        XCTAssertEqual(infoFields(try client.run("SQLITE.INFO"))["page_size"], "1024")
        server.options.pragmaOverrides = [("page_size", "8192")]
        try server.restart()
        let again = try server.client()
        XCTAssertEqual(infoFields(try again.run("SQLITE.INFO"))["page_size"], "1024")
        XCTAssertEqual(try again.run("GET", "p"), bulk("v"))
    }

    /// The schema carries its version and a file from an older version is upgraded in place.
    func testSchemaVersionIsRecorded() throws {
        let server = try TestServer()
        XCTAssertEqual(try server.client().run("SET", "v", "1"), ok)
        server.stop()
        let connection = try openDatabase(server.databasePath)
        defer { connection.close() }
        XCTAssertEqual(try connection.scalar("PRAGMA user_version"), String(Schema.version))
        XCTAssertEqual(try connection.scalar("SELECT CAST(value AS TEXT) FROM redis_keys WHERE key = CAST('v' AS BLOB)"), "1")
    }

    func testNewerSchemaVersionIsRefused() throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/future.db"
        let connection = try openDatabase(path)
        try connection.execute("PRAGMA user_version = 999")
        connection.close()
        var options = ServerOptions()
        options.port = 0
        options.databasePath = path
        XCTAssertThrowsError(try RESPLiteServer.start(options, logger: quietLogger)) { error in
            XCTAssertTrue("\(error)".contains("newer"), "\(error)")
        }
    }
}
