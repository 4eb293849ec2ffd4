// Blocking list commands: REFERENCE.md §7.

import Foundation
import XCTest
@testable import RESPLite

final class BlockingTests: XCTestCase {
    /// Starts a blocking command on its own connection; the reply arrives later.
    /// Waits until the server has registered the waiter (INFO blocked_clients grows by one),
    /// unless the command is expected to be answered at once.
    private func startBlocking(_ server: TestServer, _ words: String..., blocks: Bool = true) throws -> RESPClient {
        let observer = try server.client()
        defer { observer.close() }
        let before = Int(try infoField(observer, section: "clients", "blocked_clients") ?? "") ?? 0
        let client = try server.client()
        client.enqueue(words.map { Array($0.utf8) })
        try client.flush()
        if blocks { try waitForBlockedClients(server, atLeast: before + 1) }
        return client
    }

    /// Pipelined writes that feed waiters, on redis-server and on RESPLite: as in Redis, each
    /// write's waiters are served before the next request of the pipeline runs, so the replies
    /// of the later writes and the elements the waiters get are Redis' own.
    func testPipelinedPushesServeWaitersBetweenRequestsAsRedisDoes() throws {
        let redisServer = try RedisServerProcess()
        let server = try TestServer()
        typealias Connect = () throws -> RESPClient
        let scenarios: [(waiters: [[String]], pipeline: [[String]])] = [
            ([["BLPOP", "q", "5"]], [["LPUSH", "q", "a"], ["LPUSH", "q", "b"], ["LPUSH", "q", "c"], ["LRANGE", "q", "0", "-1"]]),
            ([["BRPOP", "r", "5"], ["BRPOP", "r", "5"]], [["RPUSH", "r", "a"], ["RPUSH", "r", "b"], ["RPUSH", "r", "c"], ["RPUSH", "r", "d"], ["LRANGE", "r", "0", "-1"]]),
            ([["BLMOVE", "src", "dst", "LEFT", "RIGHT", "5"], ["BLPOP", "dst", "5"]],
             [["RPUSH", "src", "x"], ["RPUSH", "src", "y"], ["LLEN", "dst"], ["LRANGE", "src", "0", "-1"]]),
            ([["BZPOPMIN", "z", "5"]], [["ZADD", "z", "3", "c"], ["ZADD", "z", "1", "a"], ["ZADD", "z", "2", "b"], ["ZRANGE", "z", "0", "-1"]]),
        ]
        func run(_ connect: Connect, blockedBefore: (Int) throws -> Void) throws -> [RESPValue] {
            let setup = try connect()
            _ = try setup.run("FLUSHALL")
            var results: [RESPValue] = []
            for scenario in scenarios {
                var waiters: [RESPClient] = []
                for (index, words) in scenario.waiters.enumerated() {
                    let waiter = try connect()
                    waiter.enqueue(words.map { Array($0.utf8) })
                    try waiter.flush()
                    try blockedBefore(index + 1)
                    waiters.append(waiter)
                }
                let pusher = try connect()
                results += try pusher.pipeline(scenario.pipeline.map { $0.map { Array($0.utf8) } })
                for waiter in waiters { results.append(try waiter.readReply()) }
            }
            return results
        }
        func blocked(_ client: RESPClient, _ count: Int) throws {
            XCTAssertTrue(try eventually { Int(try infoField(client, section: "clients", "blocked_clients") ?? "") == count })
        }
        let redisObserver = try redisServer.client()
        let expected = try run({ try redisServer.client() }, blockedBefore: { try blocked(redisObserver, $0) })
        let liteObserver = try server.client()
        let replies = try run({ try server.client() }, blockedBefore: { try blocked(liteObserver, $0) })
        XCTAssertEqual(replies, expected)
        XCTAssertEqual(expected.first, int(1))
        XCTAssertEqual(expected[1], int(1), "Redis: the BLPOP took 'a' before the second LPUSH")
    }

    func testPushWakesWaiterAtEitherEnd() throws {
        try forEachBackend { server in
            let pusher = try server.client()
            let left = try startBlocking(server, "BLPOP", "jobs", "0")
            XCTAssertEqual(try pusher.run("RPUSH", "jobs", "a", "b"), int(2))
            XCTAssertEqual(try left.readReply(), bulks(["jobs", "a"]))
            let right = try startBlocking(server, "BRPOP", "empty", "jobs", "0", blocks: false)
            XCTAssertEqual(try right.readReply(), bulks(["jobs", "b"]), "an available element is served at once")
            let again = try startBlocking(server, "BRPOP", "jobs", "5")
            XCTAssertEqual(try pusher.run("LPUSH", "jobs", "x", "y"), int(2))
            XCTAssertEqual(try again.readReply(), bulks(["jobs", "x"]))
            XCTAssertEqual(try pusher.run("LRANGE", "jobs", "0", "-1"), bulks(["y"]))
            XCTAssertEqual(try left.run("PING"), simple("PONG"), "the connection works after being served")
        }
    }

    func testTimeoutAnswersNull() throws {
        try forEachBackend { server in
            let c = try server.client()
            let started = Date()
            XCTAssertEqual(try c.run("BLPOP", "nothing", "0.2"), null)
            XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.18)
            XCTAssertEqual(try c.run("BLMOVE", "nothing", "dst", "LEFT", "RIGHT", "0.05"), null)
            XCTAssertEqual(try c.run("BLPOP", "k", "-1"), err("ERR timeout is negative"))
            XCTAssertEqual(try c.run("BLPOP", "k", "soon"), err("ERR timeout is not a float or out of range"))
            XCTAssertEqual(try c.run("SET", "str", "v"), ok)
            XCTAssertEqual(try c.run("BLPOP", "str", "0.05"), err("WRONGTYPE Operation against a key holding the wrong kind of value"))
        }
    }

    func testKeysAreTriedInOrderAndWaitersAreServedFifo() throws {
        try forEachBackend { server in
            let pusher = try server.client()
            XCTAssertEqual(try pusher.run("RPUSH", "second", "s1"), int(1))
            XCTAssertEqual(try pusher.run("RPUSH", "first", "f1"), int(1))
            let c = try server.client()
            XCTAssertEqual(try c.run("BLPOP", "first", "second", "1"), bulks(["first", "f1"]), "the first non-empty key wins")
            let oldest = try startBlocking(server, "BLPOP", "q", "5")
            let newest = try startBlocking(server, "BLPOP", "q", "5")
            XCTAssertEqual(try pusher.run("RPUSH", "q", "1"), int(1))
            XCTAssertEqual(try oldest.readReply(), bulks(["q", "1"]))
            XCTAssertEqual(try pusher.run("RPUSH", "q", "2"), int(1))
            XCTAssertEqual(try newest.readReply(), bulks(["q", "2"]))
            // One push of two elements serves two waiters, one element each.
            let w1 = try startBlocking(server, "BLPOP", "pair", "5")
            let w2 = try startBlocking(server, "BLPOP", "pair", "5")
            XCTAssertEqual(try pusher.run("RPUSH", "pair", "a", "b"), int(2))
            XCTAssertEqual(try w1.readReply(), bulks(["pair", "a"]))
            XCTAssertEqual(try w2.readReply(), bulks(["pair", "b"]))
            XCTAssertEqual(try pusher.run("EXISTS", "pair"), int(0))
        }
    }

    func testDisconnectedWaiterIsForgotten() throws {
        try forEachBackend { server in
            let gone = try startBlocking(server, "BLPOP", "q", "0")
            gone.close()
            let observer = try server.client()
            XCTAssertTrue(try eventually { try infoField(observer, section: "clients", "blocked_clients") == "0" }, "the closed waiter is dropped")
            let waiting = try startBlocking(server, "BLPOP", "q", "5")
            let pusher = try server.client()
            XCTAssertEqual(try pusher.run("RPUSH", "q", "only"), int(1))
            XCTAssertEqual(try waiting.readReply(), bulks(["q", "only"]), "the element goes to the live waiter")
        }
    }

    func testRequestsAfterABlockedCommandWaitForIt() throws {
        try forEachBackend { server in
            let c = try server.client()
            c.enqueue([Array("BLPOP".utf8), Array("later".utf8), Array("5".utf8)])
            c.enqueue([Array("PING".utf8)])
            try c.flush()
            try waitForBlockedClients(server, atLeast: 1)
            XCTAssertEqual(try server.client().run("RPUSH", "later", "v"), int(1))
            XCTAssertEqual(try c.readReply(), bulks(["later", "v"]))
            XCTAssertEqual(try c.readReply(), simple("PONG"))
        }
    }

    func testMovesAndMultiPop() throws {
        try forEachBackend { server in
            let pusher = try server.client()
            let mover = try startBlocking(server, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "5")
            XCTAssertEqual(try pusher.run("RPUSH", "src", "m1", "m2"), int(2))
            XCTAssertEqual(try mover.readReply(), bulk("m1"))
            XCTAssertEqual(try pusher.run("LRANGE", "dst", "0", "-1"), bulks(["m1"]))
            let legacy = try startBlocking(server, "BRPOPLPUSH", "src2", "dst", "5")
            XCTAssertEqual(try pusher.run("RPUSH", "src2", "r1"), int(1))
            XCTAssertEqual(try legacy.readReply(), bulk("r1"))
            XCTAssertEqual(try pusher.run("LRANGE", "dst", "0", "-1"), bulks(["r1", "m1"]))
            let multi = try startBlocking(server, "BLMPOP", "5", "2", "a", "b", "RIGHT", "COUNT", "2")
            XCTAssertEqual(try pusher.run("RPUSH", "b", "1", "2", "3"), int(3))
            XCTAssertEqual(try multi.readReply(), .array([bulk("b"), bulks(["3", "2"])]))
            XCTAssertEqual(try pusher.run("BLMPOP", "0.05", "1", "none", "LEFT"), null)
            XCTAssertEqual(try pusher.run("BLMPOP", "1", "1", "b", "UP"), err("ERR syntax error"))
        }
    }

    func testBlockingInsideMultiAnswersAtOnce() throws {
        let server = try TestServer()
        let c = try server.client()
        XCTAssertEqual(try c.run("MULTI"), ok)
        XCTAssertEqual(try c.run("BLPOP", "never", "0"), simple("QUEUED"))
        XCTAssertEqual(try c.run("RPUSH", "l", "x"), simple("QUEUED"))
        XCTAssertEqual(try c.run("BLPOP", "l", "0"), simple("QUEUED"))
        XCTAssertEqual(try c.run("EXEC"), .array([null, int(1), bulks(["l", "x"])]))
    }

    func testKeyExpiringWhileWaitingIsMissing() throws {
        let server = try TestServer(configure: { $0.sweepIntervalMs = 10 })
        let c = try server.client()
        XCTAssertEqual(try c.run("RPUSH", "tmp", "x"), int(1))
        XCTAssertEqual(try c.run("PEXPIRE", "tmp", "30"), int(1))
        usleep(60_000)
        XCTAssertEqual(try c.run("BLPOP", "tmp", "0.1"), null, "an expired list is missing")
    }

    func testLimitOnKeysPerCall() throws {
        let server = try TestServer(configure: { $0.blockingLimits.maxKeysPerCall = 3; $0.blockingLimits.maxWaitersPerKey = 1 })
        let c = try server.client()
        XCTAssertEqual(try c.run("BLPOP", "a", "b", "c", "d", "1"), err("ERR too many blocked clients"))
        let first = try startBlocking(server, "BLPOP", "solo", "5")
        XCTAssertEqual(try c.run("BLPOP", "solo", "1"), err("ERR too many blocked clients"))
        XCTAssertEqual(try c.run("RPUSH", "solo", "v"), int(1))
        XCTAssertEqual(try first.readReply(), bulks(["solo", "v"]))
    }

    /// Many pushers and blockers: every element is delivered exactly once.
    /// Threads that BLPOP "work" (1 s timeout) until it times out, handing each element over.
    private func startBlockingConsumers(_ count: Int, port: Int, group: DispatchGroup, _ received: @escaping (String) -> Void) {
        for _ in 0..<count {
            group.enter()
            Thread {
                defer { group.leave() }
                guard let client = try? RESPClient(port: port) else { return }
                while true {
                    guard let reply = try? client.run("BLPOP", "work", "1") else { return }
                    guard case .array(let pair) = reply, pair.count == 2, let value = pair[1].string else { return }  // timeout: done
                    received(value)
                }
            }.start()
        }
    }

    func testManyPushersAndBlockersLoseNothing() throws {
        try forEachBackend { server in
            let port = server.port
            let consumers = 8, producers = 4, perProducer = 100
            let lock = NSLock()
            var received: [String] = []
            let group = DispatchGroup()
            startBlockingConsumers(consumers, port: port, group: group) { value in lock.lock(); received.append(value); lock.unlock() }
            for producer in 0..<producers {
                group.enter()
                Thread {
                    defer { group.leave() }
                    guard let client = try? RESPClient(port: port) else { return }
                    for n in 0..<perProducer { _ = try? client.run("RPUSH", "work", "\(producer):\(n)") }
                }.start()
            }
            XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
            XCTAssertEqual(received.count, producers * perProducer)
            XCTAssertEqual(Set(received).count, producers * perProducer, "no element delivered twice")
            XCTAssertEqual(try server.client().run("LLEN", "work"), int(0))
            XCTAssertEqual(try consistencyProblems(server.databasePath), [])
        }
    }

    /// Producers pipelining RPUSHes (runs when nobody waits on the list, one by one when
    /// someone does), drainers pipelining RPOPs (runs) and BLPOP consumers, all at once: every
    /// element is delivered exactly once.
    func testPipelinedProducersDrainersAndBlockersLoseNothing() throws {
        try forEachBackend { server in
            let port = server.port
            let consumers = 4, drainers = 2, producers = 4, batches = 25, perBatch = 10
            let lock = NSLock()
            var received: [String] = []
            var producing = producers
            let group = DispatchGroup()
            func collect(_ values: [String]) { lock.lock(); received += values; lock.unlock() }
            startBlockingConsumers(consumers, port: port, group: group) { collect([$0]) }
            for _ in 0..<drainers {
                group.enter()
                Thread {
                    defer { group.leave() }
                    guard let client = try? RESPClient(port: port) else { return }
                    for _ in 0..<2_000 {
                        lock.lock(); let done = producing == 0; lock.unlock()
                        guard let replies = try? client.pipeline((0..<8).map { _ in [Array("RPOP".utf8), Array("work".utf8)] }) else { return }
                        collect(replies.compactMap(\.string))
                        if done && replies.allSatisfy({ $0 == .null }) { return }
                        usleep(500)
                    }
                }.start()
            }
            for producer in 0..<producers {
                group.enter()
                Thread {
                    defer { group.leave(); lock.lock(); producing -= 1; lock.unlock() }
                    guard let client = try? RESPClient(port: port) else { return }
                    for batch in 0..<batches {
                        let pushes = (0..<perBatch).map { [Array("RPUSH".utf8), Array("work".utf8), Array("\(producer):\(batch):\($0)".utf8)] }
                        _ = try? client.pipeline(pushes)
                    }
                }.start()
            }
            XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
            let total = producers * batches * perBatch
            XCTAssertEqual(received.count, total)
            XCTAssertEqual(Set(received).count, total, "no element delivered twice")
            XCTAssertEqual(try server.client().run("LLEN", "work"), int(0))
            XCTAssertGreaterThan(Int(infoFields(try server.client().run("SQLITE.INFO"))["pipeline_runs"] ?? "") ?? 0, 0)
            XCTAssertEqual(try consistencyProblems(server.databasePath), [])
        }
    }
}
