// Pipelined runs (spec/protocol.md): consecutive LPUSH/RPUSH/LPOP/RPOP/SADD/HSET/ZADD calls on
// one key in one receive are executed as one. Every reply must be what Redis answers to the
// same calls one by one, so these tests send the same pipelines to a real redis-server and to
// RESPLite (with runs, and with runs off) and compare every reply and the final contents.

import Foundation
import XCTest
@testable import RESPLite

final class PipelineRunTests: XCTestCase {
    private func words(_ parts: String...) -> [[UInt8]] { parts.map { Array($0.utf8) } }

    /// A deterministic mix: runs of 1 to 90 calls (past the 64-call limit) of each run command,
    /// on a few keys, cut by other commands, with calls that must fail inside runs (a score
    /// that is no number, an option word, a key of another type), and MULTI blocks.
    private func script(seed: UInt64) -> [[[UInt8]]] {
        var state = seed
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        var commands: [[[UInt8]]] = []
        let keys = ["k1", "k2", "str"]
        commands.append(words("SET", "str", "plain"))
        for block in 0..<60 {
            let key = keys[next(keys.count)]
            let length = [1, 2, 3, 16, 63, 64, 65, 90][next(8)]
            let kind = next(7)
            for call in 0..<length {
                let element = "e\(next(40))"
                switch kind {
                case 0: commands.append(words("LPUSH", "list:" + key, element))
                case 1: commands.append(words("RPUSH", "list:" + key, element))
                case 2: commands.append(words(next(2) == 0 ? "LPOP" : "lpop", "list:" + key))
                case 3: commands.append(words("RPOP", "list:" + key))
                case 4: commands.append(words("SADD", "set:" + key, element))
                case 5: commands.append(words("HSET", "hash:" + key, element, "v\(block).\(call)"))
                default:
                    let score = next(20) == 0 ? ["abc", "nx", "inf", "-1.5e3"][next(4)] : String(next(10))
                    commands.append(words("ZADD", "zset:" + key, score, element))
                }
                if next(50) == 0 { commands.append(words("LPUSH", "str", element)) }  // WRONGTYPE inside a run
            }
            switch next(6) {
            case 0: commands.append(words("LLEN", "list:" + key))
            case 1: commands.append(words("MULTI")); commands.append(words("RPUSH", "list:" + key, "m")); commands.append(words("RPUSH", "list:" + key, "n")); commands.append(words("EXEC"))
            case 2: commands.append(words("ZCARD", "zset:" + key))
            default: break
            }
        }
        for key in keys {
            commands.append(words("LRANGE", "list:" + key, "0", "-1"))
            commands.append(words("ZRANGE", "zset:" + key, "0", "-1", "WITHSCORES"))
            commands.append(words("HLEN", "hash:" + key))
            commands.append(words("SCARD", "set:" + key))
        }
        return commands
    }

    private func sorted(_ reply: RESPValue) -> RESPValue {
        guard case .array(let items) = reply else { return reply }
        return .array(items.sorted { "\($0)" < "\($1)" })
    }

    func testPipelinedRunsAnswerAsRedisDoesCallByCall() throws {
        let redisServer = try RedisServerProcess()
        let redis = try redisServer.client()
        let configurations: [(UInt64, Int, NetworkBackendChoice)] = [
            (7, PipelineRunLimits.defaultMaxCommands, .auto), (11, 5, .auto), (7, 1, .auto),
            (13, PipelineRunLimits.defaultMaxCommands, .epoll),
        ]
        for (seed, maxRun, backend) in configurations {
            let server = try TestServer(backend: backend, configure: { $0.pipelineRunMaxCommands = maxRun })
            let lite = try server.client()
            _ = try redis.run("FLUSHALL")
            let commands = script(seed: seed)
            let before = Int(infoFields(try lite.run("INFO", "stats"))["total_commands_processed"] ?? "") ?? -1
            let expected = try redis.pipeline(commands)
            let replies = try lite.pipeline(commands)
            XCTAssertEqual(replies.count, commands.count)
            for (index, (reply, wanted)) in zip(replies, expected).enumerated() where reply != wanted {
                XCTFail("seed \(seed), run limit \(maxRun), call \(index) \(commands[index].map { String(decoding: $0, as: UTF8.self) }): \(reply) != Redis \(wanted)")
                break
            }
            for key in ["k1", "k2", "str"] {
                XCTAssertEqual(sorted(try lite.run("SMEMBERS", "set:" + key)), sorted(try redis.run("SMEMBERS", "set:" + key)))
                XCTAssertEqual(sorted(try lite.run("HGETALL", "hash:" + key)), sorted(try redis.run("HGETALL", "hash:" + key)))
            }
            // Every call counts as one command, run or not: the script, the six reads above and
            // this INFO (each INFO counts itself).
            let after = Int(infoFields(try lite.run("INFO", "stats"))["total_commands_processed"] ?? "") ?? -1
            XCTAssertEqual(after - before, commands.count + 6 + 1)
            let fields = infoFields(try lite.run("SQLITE.INFO"))
            let runs = Int(fields["pipeline_runs"] ?? "") ?? -1
            let runCalls = Int(fields["pipeline_run_calls"] ?? "") ?? -1
            if maxRun == 1 {
                XCTAssertEqual(runs, 0, "runs off")
            } else {
                XCTAssertGreaterThan(runs, 10, "runs formed (limit \(maxRun))")
                XCTAssertLessThanOrEqual(runCalls, runs * maxRun, "no run longer than the limit")
                XCTAssertGreaterThan(runCalls, runs)
            }
            XCTAssertEqual(try consistencyProblems(server.databasePath), [])
        }
    }

    /// A run touches WATCH like its calls would: another client's EXEC fails.
    func testRunTouchesWatchedKey() throws {
        let server = try TestServer()
        let watcher = try server.client()
        let writer = try server.client()
        XCTAssertEqual(try watcher.run("WATCH", "q"), .simple("OK"))
        let replies = try writer.pipeline((0..<8).map { words("RPUSH", "q", "v\($0)") })
        XCTAssertEqual(replies, (1...8).map { .integer(Int64($0)) })
        XCTAssertEqual(try watcher.run("MULTI"), .simple("OK"))
        XCTAssertEqual(try watcher.run("LLEN", "q"), .simple("QUEUED"))
        XCTAssertEqual(try watcher.run("EXEC"), .null)
        XCTAssertEqual(Int(infoFields(try writer.run("SQLITE.INFO"))["pipeline_runs"] ?? ""), 1)
    }

    /// A client blocked on another key does not stop runs; one blocked on the run's key does
    /// until it is served (right after the first call, as in Redis).
    func testRunsAndBlockedClients() throws {
        let server = try TestServer()
        let writer = try server.client()
        func runs() throws -> Int { Int(infoFields(try writer.run("SQLITE.INFO"))["pipeline_runs"] ?? "") ?? -1 }
        let elsewhere = try server.client()
        elsewhere.enqueue(words("BLPOP", "other", "5"))
        try elsewhere.flush()
        try waitForBlockedClients(server, atLeast: 1)
        XCTAssertEqual(try writer.pipeline((0..<4).map { words("RPUSH", "q", "v\($0)") }), (1...4).map { .integer(Int64($0)) })
        XCTAssertEqual(try runs(), 1, "a waiter on another key")
        let waiter = try server.client()
        waiter.enqueue(words("BLPOP", "q2", "5"))
        try waiter.flush()
        try waitForBlockedClients(server, atLeast: 2)
        XCTAssertEqual(try writer.pipeline((0..<4).map { words("RPUSH", "q2", "v\($0)") }), [1, 1, 2, 3].map { .integer(Int64($0)) })
        XCTAssertEqual(try waiter.readReply(), .array([.bulk(Array("q2".utf8)), .bulk(Array("v0".utf8))]))
        // The first call fed the waiter alone; the three after it, with nobody left waiting, ran as one.
        XCTAssertEqual(try runs(), 2)
        XCTAssertEqual(infoFields(try writer.run("SQLITE.INFO"))["pipeline_run_calls"], "7")
        XCTAssertEqual(try writer.run("RPUSH", "other", "x"), .integer(1))
        XCTAssertEqual(try elsewhere.readReply(), .array([.bulk(Array("other".utf8)), .bulk(Array("x".utf8))]))
    }

    func testTheRunLimitIsChecked() {
        for bad in [0, PipelineRunLimits.maxCommands + 1] {
            XCTAssertThrowsError(try TestServer(configure: { $0.pipelineRunMaxCommands = bad }), "limit \(bad)")
        }
    }
}
