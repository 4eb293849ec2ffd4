// The redo log (RedoLog.swift): its file format and checksums, capture of write statements
// with savepoint rollbacks, replay, and the server's use of it: turns acknowledged before SQLite
// committed them survive SIGKILL and failed commits, a failed log write answers an error.

import Foundation
import XCTest
@testable import RESPLite

final class RedoLogTests: XCTestCase {
    var directory = ""

    override func setUp() { directory = makeTemporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// The checksum is XXH64 (reference values from the `xxhash` Python package).
    func testChecksumIsXXH64() {
        func xxh64(_ text: String, seed: UInt64 = 0) -> UInt64 {
            Array(text.utf8).withUnsafeBytes { RedoLog.checksum($0, seed: seed) }
        }
        XCTAssertEqual(xxh64(""), 0xef46_db37_51d8_e999)
        XCTAssertEqual(xxh64("abc"), 0x44bc_2cf5_ad77_0999)
        XCTAssertEqual(xxh64("0123456789abcdef0123456789abcdefXYZ"), 0x654f_6a2b_39e4_d8c1)
        XCTAssertEqual(xxh64("hello redo log", seed: 42), 0x91c1_89ca_12fb_bf09)
    }

    /// A connection with a table and a redo log capturing its writes.
    private func capturingConnection(_ name: String, options: RedoLogOptions = RedoLogOptions())
        throws -> (SQLiteConnection, RedoLog, String) {
        let path = directory + "/\(name).db"
        let connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB, n INTEGER, r REAL, s TEXT)")
        let log = try RedoLog(path: path + "-redo", options: options, syncEachTurn: false, appliedLSN: 0, logger: quietLogger)
        connection.redoLog = log
        return (connection, log, path)
    }

    private func rows(_ connection: SQLiteConnection) throws -> String? {
        try connection.scalar("SELECT group_concat(id || ':' || quote(v) || ':' || quote(n) || ':' || quote(r) || ':' || quote(s), ' ') FROM (SELECT * FROM t ORDER BY id)")
    }

    /// Turns written, then the transaction rolled back (a crash before COMMIT): replay from the
    /// file re-makes exactly the rows, with every parameter type; a rolled-back savepoint and a
    /// failed statement leave nothing in the log.
    func testReplayRemakesTheTurnsWithEveryParameterType() throws {
        let (connection, log, path) = try capturingConnection("replay")
        defer { connection.close() }
        let insert = try connection.prepare("INSERT INTO t(id, v, n, r, s) VALUES (?1, ?2, ?3, ?4, ?5)")
        let update = try connection.prepare("UPDATE t SET n = n + ?2 WHERE id = ?1")
        try connection.execute("BEGIN")
        let value: [UInt8] = [0, 255, 13, 10, 7]
        try value.withByteView { view in
            insert.bind(1, Int64(1)); insert.bind(2, view); insert.bind(3, Int64(-5)); insert.bind(4, 2.5); insert.bindText(5, "é")
            try insert.run()
        }
        insert.bind(1, Int64(2)); insert.bindCopy(2, []); insert.bindNull(3); insert.bind(4, 0.1 + 0.2); insert.bindText(5, nil)
        try insert.run()
        try log.writeTurn(now: 0)
        // Second turn: a savepoint rolled back, a failing statement (duplicate id), an update.
        // (Savepoint statements are prepared: `execute` inside a transaction marks the turn as
        // holding a write the log cannot replay.)
        try connection.prepare("SAVEPOINT command").run()
        log.savepointOpened()
        insert.bind(1, Int64(3)); insert.bindCopy(2, [1]); insert.bind(3, Int64(3)); insert.bind(4, 0.0); insert.bindText(5, "gone")
        try insert.run()
        try connection.prepare("ROLLBACK TO command").run()
        try connection.prepare("RELEASE command").run()
        log.savepointRolledBack()
        insert.bind(1, Int64(1))
        XCTAssertThrowsError(try insert.run(), "a duplicate id fails")
        update.bind(1, Int64(1)); update.bind(2, Int64(100))
        try update.run()
        try log.writeTurn(now: 0)
        let expected = try rows(connection)
        // (quote() writes a REAL as the shortest text that reads back as the same double.)
        XCTAssertEqual(expected, "1:X'00FF0D0A07':95:2.5:'é' 2:X'':NULL:0.30000000000000004:NULL")
        let real = try connection.prepare("SELECT r FROM t WHERE id = 2")
        func exactReal() throws -> Bool {
            defer { real.reset() }
            return try real.step() && real.double(0) == 0.1 + 0.2
        }
        XCTAssertTrue(try exactReal())
        XCTAssertEqual(log.lastLSN, 2)
        try connection.execute("ROLLBACK")
        XCTAssertNil(try rows(connection))

        let contents = try XCTUnwrap(RedoLog.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "-redo")))))
        XCTAssertEqual(contents.baseLSN, 0)
        XCTAssertEqual(contents.records.map(\.lsn), [1, 2])
        connection.redoLog = nil
        try connection.execute("BEGIN")
        let replayed = try RedoLog.replay(path: path + "-redo", appliedLSN: 0, upTo: nil, connection: connection, logger: quietLogger)
        XCTAssertEqual(replayed.last, 2)
        XCTAssertEqual(replayed.turns, 2)
        XCTAssertEqual(try rows(connection), expected)
        XCTAssertTrue(try exactReal(), "a double replays bit for bit")
        try connection.execute("ROLLBACK")
        // Only the turns after what the database holds.
        try connection.execute("BEGIN")
        XCTAssertEqual(try RedoLog.replay(path: path + "-redo", appliedLSN: 1, upTo: nil, connection: connection, logger: quietLogger).turns, 1)
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t"), "0", "turn 2 alone updates a row turn 1 made")
        try connection.execute("ROLLBACK")
    }

    /// A torn last record, a flipped byte and records of an older epoch end the log there; a
    /// log whose epoch starts after what the database holds is not applied.
    func testTornRecordsOldEpochsAndGapsAreNotReplayed() throws {
        let (connection, log, path) = try capturingConnection("torn")
        defer { connection.close() }
        let insert = try connection.prepare("INSERT INTO t(id, n) VALUES (?1, ?2)")
        try connection.execute("BEGIN")
        for id in Int64(1)...3 {
            insert.bind(1, id); insert.bind(2, id * 10)
            try insert.run()
            try log.writeTurn(now: 0)
        }
        let file = path + "-redo"
        let whole = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        XCTAssertEqual(RedoLog.parse(whole)?.records.count, 3)
        XCTAssertEqual(RedoLog.parse(Array(whole.dropLast(1)))?.records.count, 2, "torn last record")
        var flipped = whole
        flipped[flipped.count - 2] ^= 0x40
        XCTAssertEqual(RedoLog.parse(flipped)?.records.count, 2, "a changed byte fails the checksum")
        var badHeader = whole
        badHeader[10] ^= 1
        XCTAssertNil(RedoLog.parse(badHeader), "header checksum")
        XCTAssertNil(RedoLog.parse(Array("not a log at all, not a log at all".utf8)))

        // SQLite commits (LSN 3); the next turn starts a new epoch over the same file: the old
        // epoch's records after it no longer count.
        try connection.execute("COMMIT")
        log.committed()
        try connection.execute("BEGIN")
        insert.bind(1, Int64(4)); insert.bind(2, Int64(40))
        try insert.run()
        try log.writeTurn(now: 0)
        let next = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        XCTAssertEqual(next.count, whole.count, "the new epoch overwrote the start of the file")
        let contents = try XCTUnwrap(RedoLog.parse(next))
        XCTAssertEqual(contents.baseLSN, 3)
        XCTAssertEqual(contents.records.map(\.lsn), [4])
        try connection.execute("ROLLBACK")
        connection.redoLog = nil
        // A database that lost commits the log was restarted after: nothing is applied.
        try connection.execute("BEGIN")
        XCTAssertEqual(try RedoLog.replay(path: file, appliedLSN: 2, upTo: nil, connection: connection, logger: quietLogger).turns, 0)
        XCTAssertEqual(try connection.scalar("SELECT count(*) FROM t WHERE id = 4"), "0")
        XCTAssertEqual(try RedoLog.replay(path: file, appliedLSN: 3, upTo: nil, connection: connection, logger: quietLogger).turns, 1)
        XCTAssertEqual(try connection.scalar("SELECT n FROM t WHERE id = 4"), "40")
        try connection.execute("ROLLBACK")
    }

    /// A statement's definition is logged before its first use in each epoch, and again after
    /// a savepoint rollback cut the record that defined it.
    func testDefinitionsFollowEpochsAndRollbacks() throws {
        let (connection, log, path) = try capturingConnection("define")
        defer { connection.close() }
        let insert = try connection.prepare("INSERT INTO t(id) VALUES (?1)")
        func definitions() throws -> Int {
            let contents = try XCTUnwrap(RedoLog.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "-redo")))))
            return contents.records.reduce(0) { $0 + ($1.payload.first == RedoLog.defineTag ? 1 : 0) }
        }
        try connection.execute("BEGIN")
        log.savepointOpened()
        insert.bind(1, Int64(1))
        try insert.run()
        log.savepointRolledBack()  // the definition went with the cut record
        try connection.execute("DELETE FROM t")
        log.discardTurn()  // (the DELETE ran outside capture's view: forget it for this test)
        insert.bind(1, Int64(2))
        try insert.run()
        try log.writeTurn(now: 0)
        insert.bind(1, Int64(3))
        try insert.run()
        try log.writeTurn(now: 0)
        XCTAssertEqual(try definitions(), 1, "defined in the first record only")
        try connection.execute("COMMIT")
        log.committed()
        try connection.execute("BEGIN")
        insert.bind(1, Int64(4))
        try insert.run()
        try log.writeTurn(now: 0)
        XCTAssertEqual(try definitions(), 1, "defined again in the new epoch")
        try connection.execute("ROLLBACK")
        connection.redoLog = nil
        try connection.execute("BEGIN")
        XCTAssertEqual(try RedoLog.replay(path: path + "-redo", appliedLSN: 2, upTo: nil, connection: connection, logger: quietLogger).turns, 1)
        XCTAssertEqual(try connection.scalar("SELECT group_concat(id) FROM t"), "2,3,4")
        try connection.execute("ROLLBACK")
    }

    // MARK: - The server

    /// A server that never commits on its own while the test runs: every acknowledged write
    /// stays in the redo log until SAVE or the stop.
    private func holdingServer(_ configure: (inout ServerOptions) -> Void = { _ in }) throws -> TestServer {
        try TestServer(configure: { options in
            options.redoLog.maxDeferMs = 600_000
            options.redoLog.maxDeferBytes = 1 << 30
            options.redoLog.idleCommitMs = 600_000
            options.sweepIntervalMs = 600_000
            configure(&options)
        })
    }

    /// The same for the standalone server (SIGKILL tests).
    private func holdingArguments(_ db: String) -> [String] {
        ["--port", "0", "--db", db, "--log-level", "error", "--redo-defer-ms", "600000",
         "--redo-defer-bytes", "1000000000", "--redo-idle-commit-ms", "600000", "--sweep-interval-ms", "600000"]
    }

    private func redoInfo(_ client: RESPClient) throws -> [String: String] {
        infoFields(try client.run("SQLITE.INFO")).filter { $0.key.hasPrefix("redo_") }
    }

    /// Turns logged but not committed: another connection does not see them, SAVE commits them,
    /// and a clean stop commits them too.
    func testTurnsAreLoggedThenCommittedBySaveAndStop() throws {
        let server = try holdingServer()
        let client = try server.client()
        XCTAssertTrue(try client.pipeline((0..<50).map { [Array("SET".utf8), Array("k\($0)".utf8), Array("v\($0)".utf8)] }).allSatisfy { $0 == ok })
        XCTAssertEqual(try client.run("HSET", "h", "f", "v"), int(1))
        let info = try redoInfo(client)
        XCTAssertGreaterThan(Int(info["redo_turns_logged"] ?? "") ?? 0, 0, "\(info)")
        XCTAssertEqual(info["redo_committed_turn"], "0", "\(info)")
        let reader = try SQLiteConnection(path: server.databasePath, readOnly: true)
        XCTAssertEqual(try reader.scalar("SELECT count(*) FROM redis_keys"), "0", "not committed yet")
        reader.close()
        XCTAssertEqual(try client.run("SAVE"), ok)
        let after = try SQLiteConnection(path: server.databasePath, readOnly: true)
        XCTAssertEqual(try after.scalar("SELECT count(*) FROM redis_keys"), "51")
        XCTAssertEqual(try after.scalar("SELECT value FROM resplite_meta WHERE name = 'redo_lsn'"), info["redo_last_turn"])
        after.close()
        XCTAssertEqual(try client.run("SET", "late", "x"), ok)
        server.stop()
        let stopped = try SQLiteConnection(path: server.databasePath, readOnly: true)
        XCTAssertEqual(try stopped.scalar("SELECT count(*) FROM redis_keys"), "52", "the stop committed the last turn")
        stopped.close()
        let size = (try? FileManager.default.attributesOfItem(atPath: server.databasePath + "-redo")[.size] as? Int) ?? -1
        XCTAssertEqual(size, 0, "a clean stop empties the log")
    }

    /// The log's limits each end the open transaction: a turn over `maxTurnBytes` commits
    /// instead of being logged; the turn that would pass `maxDeferBytes`, and the first turn
    /// after the oldest logged one is `maxDeferMs` old, commit everything.
    func testTheLogsLimitsCommit() throws {
        func committed(_ client: RESPClient) throws -> (logged: Int, committed: Int, last: Int) {
            let info = try redoInfo(client)
            return (Int(info["redo_turns_logged"] ?? "") ?? -1, Int(info["redo_committed_turn"] ?? "") ?? -1,
                    Int(info["redo_last_turn"] ?? "") ?? -1)
        }
        // maxTurnBytes: a 2 MB value is not logged; its turn commits, with what was logged before.
        let big = try holdingServer()
        let a = try big.client()
        XCTAssertEqual(try a.run("SET", "small", "x"), ok)
        XCTAssertEqual(try committed(a).committed, 0)
        XCTAssertEqual(try a.run("SET", "big", String(repeating: "b", count: 2 * 1024 * 1024)), ok)
        let afterBig = try committed(a)
        XCTAssertEqual(afterBig.logged, 1, "only the small SET was logged")
        let buffer = Int(try redoInfo(a)["redo_turn_buffer_bytes"] ?? "") ?? -1
        XCTAssertGreaterThan(buffer, 0)
        XCTAssertLessThanOrEqual(buffer, 2 * 1024 * 1024, "the 2 MB value was never copied into the turn buffer")
        XCTAssertEqual(afterBig.committed, 1)
        let reader = try SQLiteConnection(path: big.databasePath, readOnly: true)
        XCTAssertEqual(try reader.scalar("SELECT count(*) FROM redis_keys"), "2", "committed without SAVE")
        reader.close()

        // maxDeferBytes: 64 KB of log, turns of ~10 KB each.
        let bytes = try holdingServer { $0.redoLog.maxDeferBytes = 64 * 1024 }
        let b = try bytes.client()
        let value = String(repeating: "v", count: 10_000)
        for n in 0..<12 { XCTAssertEqual(try b.run("SET", "k\(n)", value), ok) }
        let afterBytes = try committed(b)
        XCTAssertGreaterThanOrEqual(afterBytes.committed, 5, "a commit when the log would pass 64 KB: \(afterBytes)")
        XCTAssertLessThan(afterBytes.logged, 12, "the turn that would pass it commits instead")
        XCTAssertGreaterThan(afterBytes.last, afterBytes.committed, "and logging goes on after it")

        // maxDeferMs: the first turn after the window ends it.
        let time = try holdingServer { $0.redoLog.maxDeferMs = 50 }
        let c = try time.client()
        XCTAssertEqual(try c.run("SET", "t1", "x"), ok)
        XCTAssertEqual(try c.run("SET", "t2", "x"), ok)
        XCTAssertEqual(try committed(c).committed, 0)
        usleep(80_000)
        XCTAssertEqual(try c.run("SET", "t3", "x"), ok)
        let afterTime = try committed(c)
        XCTAssertEqual(afterTime.committed, afterTime.last, "the turn after 50 ms committed everything")
        XCTAssertEqual(afterTime.logged, 2)
    }

    /// The idle commit: once the loop has had nothing to do for `idleCommitMs`, what the log
    /// holds is committed without any request.
    func testAnIdleServerCommits() throws {
        let server = try TestServer(configure: { $0.redoLog.idleCommitMs = 5 })
        let client = try server.client()
        XCTAssertEqual(try client.run("SET", "k", "v"), ok)
        XCTAssertTrue(try eventually(timeoutSeconds: 5) {
            let reader = try SQLiteConnection(path: server.databasePath, readOnly: true)
            defer { reader.close() }
            return try reader.scalar("SELECT count(*) FROM redis_keys") == "1"
        })
    }

    /// A commit that fails (the WAL write) after turns were acknowledged from the log: the
    /// failing turn answers errors, the acknowledged turns are brought back from the log and
    /// commit later; nothing acknowledged is lost.
    func testAFailedCommitKeepsTheLoggedTurns() throws {
        let server = try holdingServer()
        let client = try server.client()
        XCTAssertEqual(try client.run("SET", "a", "1"), ok)
        XCTAssertEqual(try client.run("RPUSH", "l", "x", "y"), int(2))
        XCTAssertEqual(try client.run("ZADD", "z", "1", "m"), int(1))
        WALBuffer.failNextWrites(1)
        // SAVE makes its turn commit: the commit fails, so SAVE and the SET of its turn fail.
        let replies = try client.pipeline([["SET", "b", "2"], ["SAVE"]].map { $0.map { Array($0.utf8) } })
        XCTAssertEqual(replies.count, 2)
        XCTAssertTrue(replies.allSatisfy { errorText($0)?.hasPrefix("ERR") ?? false }, "\(replies)")
        XCTAssertEqual(try client.run("MGET", "a", "b"), .array([bulk("1"), .null]))
        XCTAssertEqual(try client.run("LRANGE", "l", "0", "-1"), bulks(["x", "y"]))
        XCTAssertEqual(try client.run("SET", "c", "3"), ok)
        XCTAssertEqual(try client.run("SAVE"), ok)
        try server.restart()
        let again = try server.client()
        XCTAssertEqual(try again.run("MGET", "a", "b", "c"), .array([bulk("1"), .null, bulk("3")]))
        XCTAssertEqual(try again.run("ZSCORE", "z", "m"), bulk("1"))
        XCTAssertEqual(try consistencyProblems(server.databasePath), [])
    }

    /// A redo log write that fails: the turn answers errors and is rolled back; the turns
    /// logged before stay.
    func testAFailedLogWriteAnswersAnErrorAndLosesNothing() throws {
        let server = try holdingServer()
        let client = try server.client()
        XCTAssertEqual(try client.run("SET", "a", "1"), ok)
        XCTAssertEqual(try client.run("SADD", "s", "m1"), int(1))
        RedoLog.failNextWrites = 1
        let reply = try client.run("SET", "b", "2")
        XCTAssertEqual(errorText(reply)?.hasPrefix("ERR disk full") ?? false, true, "\(reply)")
        XCTAssertEqual(try client.run("SADD", "s", "m2"), int(1))
        XCTAssertEqual(try client.run("MGET", "a", "b"), .array([bulk("1"), .null]))
        server.stop()
        try server.restart()
        let again = try server.client()
        XCTAssertEqual(try again.run("MGET", "a", "b"), .array([bulk("1"), .null]))
        XCTAssertEqual(try again.run("SCARD", "s"), int(2))
    }

    /// SIGKILL of the standalone server with every write acknowledged from the log only: the
    /// restart replays the log and the keyspace is the same, key by key (all five types, TTLs,
    /// hash field TTLs, SPOP's random choice, MULTI/EXEC, failing commands in between).
    func testAcknowledgedTurnsSurviveSIGKILL() throws {
        try acknowledgedTurnsSurviveSIGKILL(safety: false)
    }

    /// The same under `safety`, whose log file is preallocated (zeros after the records): the
    /// replay reads the same turns, and a clean stop keeps the file's blocks, zeroing its header.
    func testAcknowledgedTurnsSurviveSIGKILLWithAPreallocatedLog() throws {
        try acknowledgedTurnsSurviveSIGKILL(safety: true)
    }

    private func acknowledgedTurnsSurviveSIGKILL(safety: Bool) throws {
        let db = directory + "/crash.db"
        // Under `safety` the epoch's budget (and so the preallocated length) is 4 MB.
        let arguments = safety
            ? holdingArguments(db).map { $0 == "1000000000" ? "4000000" : $0 } + ["--pragma-template", "safety"]
            : holdingArguments(db)
        let logPath = db + "-redo"
        func logSize() -> Int { (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? -1 }
        let server = try ServerProcess(arguments: arguments)
        let client = try server.client()
        var random = SystemRandomNumberGenerator()
        var commands: [[String]] = []
        for n in 0..<400 {
            let k = "k\(n % 37)", h = "h\(n % 11)", l = "l\(n % 7)", s = "s\(n % 5)", z = "z\(n % 9)"
            switch n % 16 {
            case 0: commands.append(["SET", k, "v\(n)", "PX", "600000"])
            case 1: commands.append(["INCRBY", "c\(n % 3)", "\(n)"])
            case 2: commands.append(["HSET", h, "f\(n % 13)", "\(n)", "g\(n)", "x"])
            case 3: commands.append(["HPEXPIRE", h, "600000", "FIELDS", "1", "g\(n - 1)"])
            case 4: commands.append(["RPUSH", l, "a\(n)", "b\(n)", "c\(n)"])
            case 5: commands.append(["LREM", l, "1", "b\(n - 1)"])
            case 6: commands.append(["SADD", s, "m\(n % 17)", "m\((n + 5) % 17)", "m\((n + 9) % 17)"])
            case 7: commands.append(["SPOP", s])
            case 8: commands.append(["ZADD", z, "\(n % 50)", "m\(n % 23)", "1.5", "p\(n)"])
            case 9: commands.append(["ZPOPMIN", z])
            case 10: commands.append(["LPUSH", k, "wrongtype-or-list"])
            case 11: commands.append(["RENAME", "c\(n % 3)", "c\((n + 1) % 3)"])
            case 12: commands.append(["DEL", "k\((n + 3) % 37)"])
            case 13:
                // LMOVE, and the one-element pops (one DELETE whose row the preupdate hook reads).
                commands.append(n % 32 == 13 ? ["LMOVE", l, "l\((n + 1) % 7)", "LEFT", "RIGHT"] : [n % 64 == 29 ? "LPOP" : "RPOP", l])
            case 14: commands.append(["ZINCRBY", z, "2.25", "m\(n % 23)"])
            default: commands.append(["EXPIRE", h, "\(600 + Int.random(in: 0..<100, using: &random))"])
            }
        }
        // Pipelined in chunks (many turns), with MULTI/EXEC blocks between them.
        for start in stride(from: 0, to: commands.count, by: 25) {
            let chunk = Array(commands[start..<min(start + 25, commands.count)])
            _ = try client.pipeline(chunk.map { $0.map { Array($0.utf8) } })
            _ = try client.pipeline([["MULTI"], ["INCR", "tx"], ["SADD", "txs", "t\(start)"], ["SPOP", "s1"], ["EXEC"]].map { $0.map { Array($0.utf8) } })
        }
        // Pipelined runs (one call of the multi-element form each) are logged like any write.
        let runs: [[String]] = (0..<20).map { ["RPUSH", "runlist", "r\($0)"] } + (0..<6).map { _ in ["LPOP", "runlist"] }
            + (0..<9).map { _ in ["RPOP", "runlist"] } + (0..<12).map { ["ZADD", "runz", "\($0 % 5)", "m\($0 % 7)"] }
            + (0..<12).map { ["HSET", "runh", "f\($0 % 8)", "\($0)"] } + (0..<12).map { ["SADD", "runs", "m\($0 % 9)"] }
        _ = try client.pipeline(runs.map { $0.map { Array($0.utf8) } })
        let before = try keyspaceDump(client)
        XCTAssertGreaterThan(before.count, 40)
        let info = infoFields(try client.run("SQLITE.INFO"))
        XCTAssertEqual(info["redo_committed_turn"], "0", "nothing committed before the kill: \(info)")
        XCTAssertGreaterThanOrEqual(Int(info["pipeline_runs"] ?? "") ?? 0, 5, "\(info)")
        XCTAssertGreaterThan(Int(info["redo_turns_logged"] ?? "") ?? 0, 16, "\(info)")
        if safety {
            XCTAssertEqual(info["redo_preallocated_bytes"], "4000000", "\(info)")
            XCTAssertEqual(logSize(), 4_000_000, "the records went into the preallocated blocks")
        } else {
            XCTAssertEqual(info["redo_preallocated_bytes"], "0", "\(info)")
            XCTAssertLessThan(logSize(), 1_000_000)
        }
        client.close()
        _ = server.stop(signal: SIGKILL)

        let restarted = try ServerProcess(arguments: arguments)
        let again = try restarted.client()
        let replayedInfo = infoFields(try again.run("SQLITE.INFO"))
        XCTAssertEqual(replayedInfo["redo_replayed_at_open"], info["redo_turns_logged"], "\(replayedInfo)")
        let after = try keyspaceDump(again)
        XCTAssertEqual(after.count, before.count)
        for (key, value) in before { XCTAssertEqual(after[key], value, "key \(key)") }
        again.close()
        XCTAssertEqual(restarted.stop(), 0)
        XCTAssertEqual(try consistencyProblems(db), [])
        let stopped = [UInt8](try Data(contentsOf: URL(fileURLWithPath: logPath)))
        if safety {
            XCTAssertEqual(stopped.count, 4_000_000, "a clean stop keeps the preallocated blocks")
            XCTAssertTrue(stopped.prefix(RedoLog.headerBytes).allSatisfy { $0 == 0 }, "and zeroes the header")
            XCTAssertNil(RedoLog.parse(stopped))
            // A start over that file replays nothing and keeps serving what the database holds.
            let third = try ServerProcess(arguments: arguments)
            let check = try third.client()
            XCTAssertEqual(infoFields(try check.run("SQLITE.INFO"))["redo_replayed_at_open"], "0")
            let final = try keyspaceDump(check)
            XCTAssertEqual(final.count, before.count)
            for (key, value) in before { XCTAssertEqual(final[key], value, "key \(key)") }
            check.close()
            XCTAssertEqual(third.stop(), 0)
        } else {
            XCTAssertEqual(stopped.count, 0, "a clean stop empties the log")
        }
    }

    /// A hash field TTL that only the log held when the server was killed: after the replay the
    /// field still expires (the server learns that field TTLs exist after replaying, not before).
    func testFieldTTLsOnlyInTheLogExpireAfterReplay() throws {
        let db = directory + "/fieldttl.db"
        let arguments = holdingArguments(db)
        let server = try ServerProcess(arguments: arguments)
        let client = try server.client()
        XCTAssertEqual(try client.run("HSET", "h", "f", "v", "g", "w"), int(2))
        XCTAssertEqual(try client.run("HPEXPIRE", "h", "300", "FIELDS", "1", "g"), .array([int(1)]))
        client.close()
        _ = server.stop(signal: SIGKILL)
        let restarted = try ServerProcess(arguments: arguments)
        let again = try restarted.client()
        XCTAssertEqual(infoFields(try again.run("SQLITE.INFO"))["redo_replayed_at_open"], "2")
        usleep(400_000)
        XCTAssertEqual(try again.run("HSET", "h", "x", "y"), int(1))
        XCTAssertEqual(try again.run("HLEN", "h"), int(2), "g expired: f and x")
        XCTAssertEqual(try again.run("HGETALL", "h"), bulks(["f", "v", "x", "y"]))
        again.close()
        XCTAssertEqual(restarted.stop(), 0)
    }

    /// The migration tools open the database through `Storage` without a redo log of their
    /// own: the turns a killed server left in its log are applied first, once.
    func testToolsApplyTheLogAKilledServerLeft() throws {
        let db = directory + "/tools.db"
        let arguments = holdingArguments(db)
        let server = try ServerProcess(arguments: arguments)
        let client = try server.client()
        for n in 0..<10 { XCTAssertEqual(try client.run("SET", "t\(n)", "\(n)"), ok) }
        XCTAssertEqual(infoFields(try client.run("SQLITE.INFO"))["redo_committed_turn"], "0")
        client.close()
        _ = server.stop(signal: SIGKILL)
        let plain = try SQLiteConnection(path: db, readOnly: true)
        XCTAssertEqual(try plain.scalar("SELECT count(*) FROM redis_keys"), "0", "only the log holds them")
        plain.close()
        let storage = try Storage(path: db, template: .default, overrides: [], logger: quietLogger)
        XCTAssertEqual(try storage.connection.scalar("SELECT count(*) FROM redis_keys"), "10")
        storage.close()
        let restarted = try ServerProcess(arguments: arguments)
        let again = try restarted.client()
        XCTAssertEqual(try again.run("DBSIZE"), int(10))
        XCTAssertEqual(infoFields(try again.run("SQLITE.INFO"))["redo_replayed_at_open"], "0", "applied once")
        again.close()
        XCTAssertEqual(restarted.stop(), 0)
    }
}

/// Every key with its type, value in a canonical form and whether it has a TTL (and which hash
/// fields do), read through commands.
func keyspaceDump(_ client: RESPClient) throws -> [String: String] {
    var dump: [String: String] = [:]
    var cursor = "0"
    var rounds = 0
    repeat {
        guard case .array(let page) = try client.run("SCAN", cursor, "COUNT", "1000"), page.count == 2,
              let next = page[0].string, case .array(let keys) = page[1] else { throw ClientError(message: "SCAN reply") }
        cursor = next
        for case .bulk(let bytes) in keys {
            let key = String(decoding: bytes, as: UTF8.self)
            let type = try client.run("TYPE", key).string ?? "?"
            var value: String
            switch type {
            case "string": value = try client.run("GET", key).string ?? "nil"
            case "list": value = "\(try client.run("LRANGE", key, "0", "-1"))"
            case "set":
                guard case .array(let members) = try client.run("SMEMBERS", key) else { throw ClientError(message: "SMEMBERS") }
                value = members.compactMap(\.string).sorted().joined(separator: ",")
            case "zset": value = "\(try client.run("ZRANGE", key, "0", "-1", "WITHSCORES"))"
            case "hash":
                guard case .array(let pairs) = try client.run("HGETALL", key) else { throw ClientError(message: "HGETALL") }
                var fields: [String] = []
                for index in stride(from: 0, to: pairs.count, by: 2) {
                    let field = pairs[index].string ?? ""
                    let ttl = try client.run("HPTTL", key, "FIELDS", "1", field)
                    let hasTTL: Bool
                    if case .array(let ttls) = ttl, let first = ttls.first?.integer { hasTTL = first > 0 } else { hasTTL = false }
                    fields.append("\(field)=\(pairs[index + 1].string ?? "")\(hasTTL ? "@ttl" : "")")
                }
                value = fields.sorted().joined(separator: ",")
            default: value = "?"
            }
            let ttl = try client.run("PTTL", key).integer ?? -3
            dump[key] = "\(type) \(value) ttl:\(ttl > 0 ? "yes" : String(ttl))"
        }
        rounds += 1
    } while cursor != "0" && rounds < 10_000
    return dump
}
