// Many connections at once: exact counters, no torn reads, the sweeper under traffic.

import Foundation
import XCTest
@testable import RESPLite

final class ConcurrencyTests: XCTestCase {
    /// Runs `count` closures on their own threads and waits (bounded) for all of them.
    private func concurrently(_ count: Int, timeoutSeconds: Double = 60, _ body: @escaping @Sendable (Int) throws -> Void) {
        let group = DispatchGroup()
        let errors = ErrorBox()
        for index in 0..<count {
            group.enter()
            Thread {
                do { try body(index) } catch { errors.add("\(index): \(error)") }
                group.leave()
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + timeoutSeconds), .success, "workers did not finish in time")
        XCTAssertEqual(errors.all, [])
    }

    final class ErrorBox: @unchecked Sendable {
        private let lock = NSLock()
        private var errors: [String] = []
        func add(_ error: String) { lock.lock(); errors.append(error); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return errors }
    }

    func testManyConnectionsIncrementOneKeyToTheExactTotal() throws {
        try forEachBackend { server in
            let port = server.port
            let clients = 16, rounds = 50, perRound = 10
            concurrently(clients) { _ in
                let client = try RESPClient(port: port)
                for _ in 0..<rounds {
                    // Mix unpipelined and pipelined increments.
                    XCTAssertNotNil(try client.run("INCR", "counter").integer)
                    let replies = try client.pipeline(Array(repeating: [Array("INCRBY".utf8), Array("counter".utf8), Array("2".utf8)], count: perRound - 1))
                    XCTAssertTrue(replies.allSatisfy { $0.integer != nil })
                }
            }
            let expected = Int64(clients * rounds * (1 + (perRound - 1) * 2))
            XCTAssertEqual(try server.client().run("GET", "counter"), bulk(String(expected)))
        }
    }

    /// Writers replace values whole while readers read them: every read sees one complete
    /// value that some writer wrote, never a mix.
    func testReadersNeverSeeTornValues() throws {
        try forEachBackend { server in
            let port = server.port
            let size = 10_000
            concurrently(6) { index in
                let client = try RESPClient(port: port)
                if index < 3 {
                    for round in 0..<60 {
                        let byte = UInt8(ascii: "a") + UInt8((index * 7 + round) % 26)
                        XCTAssertEqual(try client.run(bytes: Array("SET".utf8), Array("shared".utf8), [UInt8](repeating: byte, count: size)), ok)
                    }
                } else {
                    for _ in 0..<120 {
                        let reply = try client.run("GET", "shared")
                        if case .bulk(let bytes) = reply {
                            XCTAssertEqual(bytes.count, size)
                            XCTAssertTrue(bytes.allSatisfy { $0 == bytes[0] }, "torn value")
                        } else {
                            XCTAssertEqual(reply, null)
                        }
                    }
                }
            }
        }
    }

    /// The sweeper deletes expired keys in bounded batches while other clients keep working.
    func testSweeperRunsUnderTraffic() throws {
        try forEachBackend(configure: { $0.sweepIntervalMs = 20; $0.sweepBatchKeys = 50 }) { server in
            let setup = try server.client()
            var batch: [[[UInt8]]] = []
            for n in 0..<2_000 {
                batch.append([Array("SET".utf8), Array("volatile:\(n)".utf8), Array("x".utf8), Array("PX".utf8), Array("30".utf8)])
            }
            for n in 0..<100 {
                batch.append([Array("SET".utf8), Array("stable:\(n)".utf8), Array("y".utf8)])
            }
            XCTAssertTrue(try setup.pipeline(batch).allSatisfy { $0 == ok })
            let port = server.port
            concurrently(4) { index in
                let client = try RESPClient(port: port)
                for round in 0..<200 {
                    XCTAssertEqual(try client.run("GET", "stable:\((index * 31 + round) % 100)"), bulk("y"))
                    XCTAssertEqual(try client.run("SET", "traffic:\(index)", "\(round)"), ok)
                }
            }
            // All volatile keys are physically removed by the sweeper: count the rows.
            let reader = try openDatabase(server.databasePath, readOnly: true)
            defer { reader.close() }
            let deadline = Date(timeIntervalSinceNow: 20)
            var rows = ""
            while Date() < deadline {
                rows = try reader.scalar("SELECT count(*) FROM redis_keys") ?? ""
                if rows == "104" { break }
                usleep(20_000)
            }
            XCTAssertEqual(rows, "104")
            XCTAssertEqual(try setup.run("DBSIZE"), int(104))
            XCTAssertEqual(try setup.run("GET", "volatile:5"), null)
        }
    }
}
