// MULTI / EXEC / DISCARD / WATCH with Redis semantics, inside the group commit.

import Foundation
import XCTest
@testable import RESPLite

final class TransactionTests: XCTestCase {
    func testQueuedRepliesAndExec() throws {
        try forEachBackend { server in
            let c = try server.client()
            XCTAssertEqual(try c.run("MULTI"), ok)
            XCTAssertEqual(try c.run("MULTI"), err("ERR MULTI calls can not be nested"))
            XCTAssertEqual(try c.run("SET", "a", "1"), simple("QUEUED"))
            XCTAssertEqual(try c.run("INCR", "a"), simple("QUEUED"))
            XCTAssertEqual(try c.run("GET", "a"), simple("QUEUED"))
            XCTAssertEqual(try c.run("EXEC"), .array([ok, int(2), bulk("2")]))
            XCTAssertEqual(try c.run("EXEC"), err("ERR EXEC without MULTI"))
            XCTAssertEqual(try c.run("DISCARD"), err("ERR DISCARD without MULTI"))
            XCTAssertEqual(try c.run("MULTI"), ok)
            XCTAssertEqual(try c.run("SET", "a", "9"), simple("QUEUED"))
            XCTAssertEqual(try c.run("DISCARD"), ok)
            XCTAssertEqual(try c.run("GET", "a"), bulk("2"))
            XCTAssertEqual(try c.run("MULTI"), ok)
            XCTAssertEqual(try c.run("EXEC"), .array([]))
        }
    }

    func testQueueingErrorsAbortExec() throws {
        try forEachBackend { server in
            let c = try server.client()
            XCTAssertEqual(try c.run("MULTI"), ok)
            XCTAssertEqual(try c.run("SET", "x", "1"), simple("QUEUED"))
            XCTAssertEqual(try c.run("GET"), err("ERR wrong number of arguments for 'get' command"))
            XCTAssertEqual(try c.run("NOSUCH"), err("ERR unknown command 'NOSUCH', with args beginning with: "))
            XCTAssertEqual(try c.run("EXEC"), err("EXECABORT Transaction discarded because of previous errors."))
            XCTAssertEqual(try c.run("EXISTS", "x"), int(0), "nothing of an aborted transaction runs")
            XCTAssertEqual(try c.run("SET", "after", "ok"), ok, "the connection left MULTI")
        }
    }

    func testRuntimeErrorInTheMiddleDoesNotStopTheRest() throws {
        try forEachBackend { server in
            let c = try server.client()
            XCTAssertEqual(try c.run("SET", "s", "text"), ok)
            XCTAssertEqual(try c.run("MULTI"), ok)
            XCTAssertEqual(try c.run("SET", "before", "1"), simple("QUEUED"))
            XCTAssertEqual(try c.run("INCR", "s"), simple("QUEUED"))
            XCTAssertEqual(try c.run("SET", "after", "2"), simple("QUEUED"))
            XCTAssertEqual(try c.run("EXEC"), .array([ok, err("ERR value is not an integer or out of range"), ok]))
            XCTAssertEqual(try c.run("MGET", "before", "s", "after"), bulks(["1", "text", "2"]))
        }
    }

    func testWatchConflictFromAnotherConnection() throws {
        try forEachBackend { server in
            let a = try server.client(), b = try server.client()
            XCTAssertEqual(try a.run("SET", "balance", "10"), ok)
            XCTAssertEqual(try a.run("WATCH", "balance", "other"), ok)
            XCTAssertEqual(try b.run("INCRBY", "balance", "5"), int(15))
            XCTAssertEqual(try a.run("MULTI"), ok)
            XCTAssertEqual(try a.run("WATCH", "x"), err("ERR WATCH inside MULTI is not allowed"))
            XCTAssertEqual(try a.run("SET", "balance", "0"), simple("QUEUED"))
            XCTAssertEqual(try a.run("EXEC"), null, "a watched key changed: EXEC answers null")
            XCTAssertEqual(try a.run("GET", "balance"), bulk("15"))
            // Without a conflict it runs; WATCH is cleared by EXEC.
            XCTAssertEqual(try a.run("WATCH", "balance"), ok)
            XCTAssertEqual(try a.run("MULTI"), ok)
            XCTAssertEqual(try a.run("SET", "balance", "1"), simple("QUEUED"))
            XCTAssertEqual(try a.run("EXEC"), .array([ok]))
            XCTAssertEqual(try b.run("SET", "balance", "2"), ok)
            XCTAssertEqual(try a.run("MULTI"), ok)
            XCTAssertEqual(try a.run("EXEC"), .array([]), "no watch left after EXEC")
            // UNWATCH forgets; a write by the watcher itself also counts, as in Redis.
            XCTAssertEqual(try a.run("WATCH", "balance"), ok)
            XCTAssertEqual(try a.run("UNWATCH"), ok)
            XCTAssertEqual(try b.run("SET", "balance", "3"), ok)
            XCTAssertEqual(try a.run("MULTI"), ok)
            XCTAssertEqual(try a.run("EXEC"), .array([]))
            XCTAssertEqual(try a.run("WATCH", "balance"), ok)
            XCTAssertEqual(try a.run("SET", "balance", "4"), ok)
            XCTAssertEqual(try a.run("MULTI"), ok)
            XCTAssertEqual(try a.run("EXEC"), null)
            // FLUSHALL touches every watched key.
            XCTAssertEqual(try a.run("WATCH", "balance"), ok)
            XCTAssertEqual(try b.run("FLUSHALL"), ok)
            XCTAssertEqual(try a.run("MULTI"), ok)
            XCTAssertEqual(try a.run("EXEC"), null)
        }
    }

    /// A write command that changes nothing (SADD of a present member, SREM/HDEL/ZREM/LREM/DEL
    /// of absent ones) does not touch a WATCH, and one that changes something does, as in Redis:
    /// the same steps run against a real redis-server and RESPLite must give the same EXEC replies.
    func testWatchIsTouchedOnlyByChangesAsInRedis() throws {
        let redis = try RedisServerProcess()
        let lite = try TestServer()
        func script(_ port: Int) throws -> [RESPValue] {
            let a = try RESPClient(port: port, timeoutMs: 10_000), b = try RESPClient(port: port, timeoutMs: 10_000)
            _ = try a.run("FLUSHALL")
            _ = try a.run("SADD", "s", "m")
            _ = try a.run("HSET", "h", "f", "v")
            _ = try a.run("ZADD", "z", "1", "m")
            _ = try a.run("RPUSH", "l", "a")
            var results: [RESPValue] = []
            let noChange: [[String]] = [["SADD", "s", "m"], ["SREM", "s", "x"], ["HDEL", "h", "x"], ["ZREM", "z", "x"],
                                        ["LREM", "l", "0", "x"], ["DEL", "missing"], ["SETNX", "h", "x"]]
            let change: [[String]] = [["SADD", "s", "n"], ["SREM", "s", "n"], ["HDEL", "h", "f"], ["ZREM", "z", "m"],
                                      ["LREM", "l", "0", "a"], ["HSET", "h", "f", "v"], ["ZADD", "z", "1", "m"]]
            for command in noChange + change {
                let key = command[0] == "DEL" ? "missing" : command[1]
                results.append(try a.run("WATCH", key))
                results.append(try b.command(command.map { Array($0.utf8) }))
                results.append(try a.run("MULTI"))
                results.append(try a.run("PING"))
                results.append(try a.run("EXEC"))
            }
            return results
        }
        let expected = try script(redis.port)
        XCTAssertEqual(expected.filter { $0 == .null }.count, 7, "Redis aborts exactly the transactions whose key changed")
        XCTAssertEqual(try script(lite.port), expected)
    }

    func testWatchedKeyThatExpiresAbortsExec() throws {
        let server = try TestServer()
        let c = try server.client()
        XCTAssertEqual(try c.run("SET", "lease", "me", "PX", "40"), ok)
        XCTAssertEqual(try c.run("WATCH", "lease"), ok)
        usleep(80_000)
        XCTAssertEqual(try c.run("MULTI"), ok)
        XCTAssertEqual(try c.run("SET", "lease", "me-again"), simple("QUEUED"))
        XCTAssertEqual(try c.run("EXEC"), null)
        XCTAssertEqual(try c.run("EXISTS", "lease"), int(0))
    }

    /// A reader never sees half of an EXEC: both keys move together.
    func testExecIsAtomicForAConcurrentReader() throws {
        try forEachBackend { server in
            let writer = try server.client()
            XCTAssertEqual(try writer.run("MSET", "left", "0", "right", "0"), ok)
            let port = server.port
            let done = DispatchSemaphore(value: 0)
            let mismatch = NSLock()
            var torn = 0
            Thread {
                defer { done.signal() }
                guard let reader = try? RESPClient(port: port) else { return }
                for _ in 0..<300 {
                    guard let reply = try? reader.run("MGET", "left", "right"), case .array(let values) = reply else { continue }
                    if values.count == 2 && values[0] != values[1] { mismatch.lock(); torn += 1; mismatch.unlock() }
                }
            }.start()
            for round in 1...150 {
                let commands: [[[UInt8]]] = [
                    [Array("MULTI".utf8)],
                    [Array("SET".utf8), Array("left".utf8), Array("\(round)".utf8)],
                    [Array("SET".utf8), Array("right".utf8), Array("\(round)".utf8)],
                    [Array("EXEC".utf8)],
                ]
                let replies = try writer.pipeline(commands)
                XCTAssertEqual(replies.last, .array([ok, ok]))
            }
            XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
            XCTAssertEqual(torn, 0)
        }
    }

    func testExecPersistsAcrossRestart() throws {
        let server = try TestServer()
        let c = try server.client()
        let replies = try c.pipeline([[Array("MULTI".utf8)], [Array("SET".utf8), Array("t1".utf8), Array("a".utf8)],
                                      [Array("SET".utf8), Array("t2".utf8), Array("b".utf8), Array("EX".utf8), Array("500".utf8)],
                                      [Array("EXEC".utf8)]])
        XCTAssertEqual(replies.last, .array([ok, ok]))
        try server.restart()
        let again = try server.client()
        XCTAssertEqual(try again.run("MGET", "t1", "t2"), bulks(["a", "b"]))
        XCTAssertGreaterThan(try again.run("TTL", "t2").integer ?? 0, 490)
    }

    /// SIGKILL while large EXECs run: afterwards (the redo log applied) every transaction is
    /// whole or absent, and the acknowledged ones are there.
    func testKillDuringLargeExecLeavesNothingHalfApplied() throws {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let db = directory + "/exec.db"
        let server = try ServerProcess(arguments: ["--port", "0", "--db", db])
        let port = server.port
        let started = DispatchSemaphore(value: 0)
        Thread {
            guard let client = try? RESPClient(port: port, timeoutMs: 2000) else { return }
            for round in 0..<1000 {
                var commands: [[[UInt8]]] = [[Array("MULTI".utf8)]]
                for n in 0..<200 { commands.append([Array("SET".utf8), Array("tx:\(round):\(n)".utf8), Array("v".utf8)]) }
                commands.append([Array("EXEC".utf8)])
                if (try? client.pipeline(commands)) == nil { return }
                if round == 3 { started.signal() }
            }
        }.start()
        XCTAssertEqual(started.wait(timeout: .now() + 30), .success)
        usleep(30_000)
        _ = server.stop(signal: SIGKILL)
        // The database file and its redo log hold the acknowledged EXECs: opening it through
        // `Storage` (as the tools and the next start do) applies the log first.
        try Storage(path: db, template: .default, overrides: [], logger: quietLogger).close()
        let connection = try openDatabase(db)
        defer { connection.close() }
        XCTAssertEqual(try connection.scalar("PRAGMA integrity_check"), "ok")
        // Group rows by transaction: each round has 0 or 200 keys.
        let partial = try connection.scalar("""
            SELECT count(*) FROM (SELECT substr(CAST(key AS TEXT), 1, instr(substr(CAST(key AS TEXT), 4), ':') + 3) AS round, count(*) AS n
            FROM redis_keys WHERE CAST(key AS TEXT) LIKE 'tx:%' GROUP BY round HAVING n <> 200)
            """)
        XCTAssertEqual(partial, "0")
        XCTAssertGreaterThanOrEqual(Int(try connection.scalar("SELECT count(*) FROM redis_keys") ?? "0") ?? 0, 800)
    }
}
