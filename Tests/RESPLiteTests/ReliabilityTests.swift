// Reliability under faults and hostile clients (issue 9): the output buffer limit, the idle
// `timeout`, SIGKILL crash rounds under `safety` and `default`, refusing locked / read-only /
// corrupt database files at start-up, slowloris and vanishing clients, and (behind
// RESPLITE_LONG_TESTS=1) a soak and an expiry-under-load latency check. Figures go to
// docs/reliability.md.

import Foundation
import XCTest
@testable import RESPLite
#if canImport(Glibc)
import Glibc
#endif

/// RESPLITE_LONG_TESTS=1 (make test-long) turns on the long variants.
let longTestsEnabled = ProcessInfo.processInfo.environment["RESPLITE_LONG_TESTS"] == "1"

/// A raw loopback socket for clients that misbehave: never read, dribble bytes, vanish.
final class HostileSocket {
    private(set) var fd: Int32

    /// `receiveBuffer`: SO_RCVBUF set before connecting (a small one makes a non-reader's
    /// backlog pile up on the server, not in the kernel).
    init(port: Int, receiveBuffer: Int32? = nil, timeoutMs: Int = 5_000) throws {
        fd = try connectLoopback(port: port, receiveBuffer: receiveBuffer, timeoutMs: timeoutMs)
    }

    func setTimeout(ms: Int) {
        var timeout = timeval(tv_sec: ms / 1000, tv_usec: Int((ms % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends everything (or fails: the server closed, or the send timed out). True if all went.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, SocketConstants.noSignal) }
            if sent > 0 { offset += sent; continue }
            if sent < 0 && errno == EINTR { continue }
            return false
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Reads until `marker` appears, EOF, error or timeout; returns what came.
    func read(untilContains marker: String, timeoutMs: Int = 5_000) -> String {
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        let deadline = Date(timeIntervalSinceNow: Double(timeoutMs) / 1000)
        while !String(decoding: received, as: UTF8.self).contains(marker) && Date() < deadline {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 { received.append(contentsOf: buffer[0..<count]); continue }
            if count < 0 && (errno == EINTR) { continue }
            break
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Drains until the peer closes (EOF or reset). Returns (bytes read, closed by peer).
    func drainUntilClosed(timeoutMs: Int = 10_000) -> (Int, Bool) {
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        let deadline = Date(timeIntervalSinceNow: Double(timeoutMs) / 1000)
        while Date() < deadline {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 { total += count; continue }
            if count == 0 { return (total, true) }
            if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
            return (total, true)  // ECONNRESET and friends: closed
        }
        return (total, false)
    }

    /// True if the peer closed within the time (a short poll that reads nothing else).
    func isClosedByPeer(withinMs: Int) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(withinMs)) > 0 else { return false }
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// Closes with a RST (SO_LINGER 0): a client that vanishes mid-reply.
    func abort() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }
}

/// A RESP request from words.
func respRequest(_ words: [String]) -> [UInt8] {
    var bytes = Array("*\(words.count)\r\n".utf8)
    for word in words {
        bytes += Array("$\(word.utf8.count)\r\n".utf8) + Array(word.utf8) + Array("\r\n".utf8)
    }
    return bytes
}

/// Resident set size of this process in bytes (Linux /proc), 0 if unknown.
func residentBytes(pid: Int32? = nil) -> Int {
    let path = pid.map { "/proc/\($0)/status" } ?? "/proc/self/status"
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return digits * 1024
    }
    return 0
}

/// Number of connected clients, as CLIENT LIST sees them.
func connectedClients(_ client: RESPClient) throws -> Int {
    guard case .bulk(let bytes) = try client.run("CLIENT", "LIST") else { return -1 }
    return String(decoding: bytes, as: UTF8.self).split(separator: "\n").count
}

final class ReliabilityTests: XCTestCase {
    var directory = ""

    override func setUp() { directory = makeTemporaryDirectory() }
    override func tearDown() {
        chmod(directory, 0o755)
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - 1. Output buffer limit

    /// A client pipelining GETs of a 1 MB value without ever reading is dropped once its
    /// pending output passes the limit; the server's memory stays bounded and others go on.
    func testClientThatNeverReadsIsDisconnectedAtTheOutputLimit() throws {
        try forEachBackend(configure: { $0.networkLimits.maxOutputBufferBytes = 8 * 1024 * 1024 }) { server in
            let normal = try server.client()
            let value = String(repeating: "v", count: 1024 * 1024)
            XCTAssertEqual(try normal.run("SET", "big", value), ok)
            let rssBefore = residentBytes()

            let hog = try HostileSocket(port: server.port, receiveBuffer: 16 * 1024)
            let request = respRequest(["GET", "big"])
            var offered = 0
            for _ in 0..<500 {  // up to 1 GB of replies offered, 2 MB per write (across turns)
                guard hog.send(request + request) else { break }
                offered += 2
                // The normal client keeps being served meanwhile.
                if case .bulk(let bytes) = try normal.run("GET", "big") {
                    XCTAssertEqual(bytes.count, value.utf8.count)
                } else {
                    XCTFail("GET big")
                }
            }
            XCTAssertTrue(try eventually { try connectedClients(normal) == 1 }, "[\(server.backendName)] the non-reader was dropped")
            let (received, closed) = hog.drainUntilClosed()
            XCTAssertTrue(closed)
            XCTAssertLessThan(received, 64 * 1024 * 1024, "[\(server.backendName)] offered \(offered) MB, received \(received) bytes")
            let growth = residentBytes() - rssBefore
            XCTAssertLessThan(growth, 200 * 1024 * 1024, "[\(server.backendName)] RSS grew by \(growth) bytes")
            XCTAssertEqual(try normal.run("PING"), simple("PONG"))
            XCTAssertEqual(try normal.run("STRLEN", "big"), int(Int64(value.utf8.count)))
        }
    }

    /// CONFIG GET/SET client-output-buffer-limit drives the normal class; a soft limit with
    /// 0 seconds drops at once; the default hard limit is 256 MB.
    func testOutputBufferLimitIsConfigurable() throws {
        let server = try TestServer()
        let admin = try server.client()
        XCTAssertEqual(try admin.run("CONFIG", "GET", "client-output-buffer-limit"),
                       bulks(["client-output-buffer-limit",
                              "normal 268435456 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"]))
        XCTAssertEqual(try admin.run("CONFIG", "SET", "client-output-buffer-limit", "normal 0 2mb 0"), ok)
        XCTAssertEqual(try admin.run("CONFIG", "GET", "client-output-buffer-limit"),
                       bulks(["client-output-buffer-limit",
                              "normal 0 2097152 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"]))
        XCTAssertNotNil(errorText(try admin.run("CONFIG", "SET", "client-output-buffer-limit", "normal 1 2")))
        XCTAssertNotNil(errorText(try admin.run("CONFIG", "SET", "client-output-buffer-limit", "bogus 1 2 3")))
        XCTAssertNotNil(errorText(try admin.run("CONFIG", "SET", "client-output-buffer-limit", "pubsub 1 2 3")))

        XCTAssertEqual(try admin.run("SET", "big", String(repeating: "x", count: 512 * 1024)), ok)
        let hog = try HostileSocket(port: server.port, receiveBuffer: 16 * 1024)
        hog.send(Array([[UInt8]](repeating: respRequest(["GET", "big"]), count: 200).joined()))
        let (received, closed) = hog.drainUntilClosed()
        XCTAssertTrue(closed, "over the soft limit with 0 seconds: dropped")
        XCTAssertLessThan(received, 100 * 512 * 1024)
        // A client that reads its replies is not affected, however much it asks for in total
        // (20 MB here, 512 KB at a time).
        let reader = try server.client()
        for _ in 0..<40 {
            XCTAssertEqual(try reader.run("STRLEN", "big"), int(512 * 1024))
            guard case .bulk(let bytes) = try reader.run("GET", "big") else { return XCTFail("GET big") }
            XCTAssertEqual(bytes.count, 512 * 1024)
        }
        XCTAssertEqual(try reader.run("PING"), simple("PONG"))
    }

    // MARK: - 2. Idle timeout

    func testIdleClientsAreClosedButBlockedAndSubscribersAreNot() throws {
        try forEachBackend { server in
            let admin = try server.client()
            XCTAssertEqual(try admin.run("CONFIG", "GET", "timeout"), bulks(["timeout", "0"]))
            XCTAssertNotNil(errorText(try admin.run("CONFIG", "SET", "timeout", "-1")))
            XCTAssertNotNil(errorText(try admin.run("CONFIG", "SET", "timeout", "soon")))

            let idle = try HostileSocket(port: server.port)
            idle.send(respRequest(["PING"]))
            XCTAssertTrue(idle.read(untilContains: "PONG\r\n").contains("PONG"))
            let blocked = try HostileSocket(port: server.port)
            blocked.send(respRequest(["BLPOP", "queue", "0"]))
            let subscriber = try HostileSocket(port: server.port)
            subscriber.send(respRequest(["SUBSCRIBE", "news"]))
            XCTAssertTrue(subscriber.read(untilContains: ":1\r\n").contains("subscribe"))

            XCTAssertEqual(try admin.run("CONFIG", "SET", "timeout", "1"), ok)
            XCTAssertEqual(try admin.run("CONFIG", "GET", "timeout"), bulks(["timeout", "1"]))
            let started = Date()
            var closedAfter = -1.0
            while Date().timeIntervalSince(started) < 4 {
                XCTAssertEqual(try admin.run("PING"), simple("PONG"))  // the admin stays active
                if idle.isClosedByPeer(withinMs: 100) {
                    closedAfter = Date().timeIntervalSince(started)
                    break
                }
            }
            XCTAssertGreaterThan(closedAfter, 0.9, "[\(server.backendName)] idle client closed after \(closedAfter) s")
            XCTAssertLessThan(closedAfter, 2.5, "[\(server.backendName)] idle client closed after \(closedAfter) s")
            usleep(300_000)
            // The blocked client and the subscriber are exempt, as in Redis.
            XCTAssertEqual(try admin.run("LPUSH", "queue", "job"), int(1))
            XCTAssertTrue(blocked.read(untilContains: "job\r\n").contains("job"), "[\(server.backendName)] BLPOP client kept")
            XCTAssertEqual(try admin.run("PUBLISH", "news", "hello"), int(1))
            XCTAssertTrue(subscriber.read(untilContains: "hello\r\n").contains("hello"), "[\(server.backendName)] subscriber kept")
            XCTAssertEqual(try admin.run("CONFIG", "SET", "timeout", "0"), ok)
            XCTAssertEqual(try admin.run("PING"), simple("PONG"))
        }
    }

    // MARK: - 3. Crash rounds

    /// Writers on many connections run MULTI (SET a, SET b, INCR counter) EXEC; the server is
    /// SIGKILLed at a random moment, restarted, and checked: every acknowledged transaction is
    /// there, none is half-applied, integrity_check is ok and every schema invariant holds.
    func testSigkillRoundsUnderSafetyAndDefault() throws {
        let rounds = longTestsEnabled ? 25 : 3
        var report: [String] = []
        for template in ["safety", "default"] {
            let (roundsRun, checks, distinct) = try crashRounds(template: template, rounds: rounds, seed: template == "safety" ? 9 : 10)
            report.append("\(template): \(roundsRun) kills, \(distinct) transactions verified (\(2 * distinct) keys), \(checks) transaction checks over all restarts")
        }
        print("crash rounds: " + report.joined(separator: "; "))
    }

    /// Returns (rounds, transaction checks summed over every restart, distinct acknowledged transactions).
    private func crashRounds(template: String, rounds: Int, seed: UInt64) throws -> (Int, Int, Int) {
        let db = directory + "/crash-\(template).db"
        let writers = 8
        var random = SplitMix(seed: seed)
        /// Per writer: transactions acknowledged in total, and sent (acknowledged or in flight).
        var acknowledged = [Int](repeating: 0, count: writers)
        var attempted = [Int](repeating: 0, count: writers)
        var checkedTotal = 0
        // Round `rounds` only restarts and checks what the last kill left.
        for round in 0...rounds {
            let server = try ServerProcess(arguments: ["--port", "0", "--db", db, "--pragma-template", template])
            // Check what the previous crash left: the counter says how many transactions landed.
            let checker = try server.client()
            var expectedKeys = 0
            for writer in 0..<writers {
                let landed = Int(try checker.run("GET", "count:\(writer)").bulkString.flatMap { Int($0) } ?? 0)
                XCTAssertGreaterThanOrEqual(landed, acknowledged[writer], "\(template) round \(round) writer \(writer): acknowledged lost")
                XCTAssertLessThanOrEqual(landed, attempted[writer], "\(template) round \(round) writer \(writer)")
                if landed > 0 {
                    expectedKeys += 2 * landed + 1
                    // The last landed transaction is whole; the next one left nothing.
                    XCTAssertEqual(try checker.run("EXISTS", "a:\(writer):\(landed - 1)", "b:\(writer):\(landed - 1)"), int(2))
                }
                XCTAssertEqual(try checker.run("EXISTS", "a:\(writer):\(landed)", "b:\(writer):\(landed)"), int(0))
                // Every acknowledged transaction's keys, checked in MGET batches.
                var index = 0
                while index < landed {
                    let upper = min(landed, index + 200)
                    var words = ["MGET"]
                    for n in index..<upper { words += ["a:\(writer):\(n)", "b:\(writer):\(n)"] }
                    guard case .array(let values) = try checker.command(words.map { Array($0.utf8) }) else {
                        XCTFail("MGET"); break
                    }
                    for (offset, value) in values.enumerated() {
                        let n = index + offset / 2
                        XCTAssertEqual(value, bulk("w\(writer)n\(n)"), "\(template) key \(offset % 2 == 0 ? "a" : "b"):\(writer):\(n)")
                    }
                    index = upper
                }
                acknowledged[writer] = landed
                attempted[writer] = landed
                checkedTotal += landed
            }
            XCTAssertEqual(try checker.run("DBSIZE"), int(Int64(expectedKeys)), "\(template) round \(round): no stray keys")
            checker.close()
            if round == rounds {
                XCTAssertEqual(server.stop(), 0)
                break
            }

            // Writers until the kill.
            let killAfterMs = Int.random(in: 80...400, using: &random)
            let lock = NSLock()
            var ackCopy = acknowledged, attCopy = attempted
            let starts = attempted
            let group = DispatchGroup()
            for writer in 0..<writers {
                group.enter()
                let start = starts[writer]
                Thread.detachNewThread {
                    defer { group.leave() }
                    guard let client = try? server.client() else { return }
                    var n = start
                    while true {
                        let commands: [[String]] = [["MULTI"], ["SET", "a:\(writer):\(n)", "w\(writer)n\(n)"],
                                                    ["SET", "b:\(writer):\(n)", "w\(writer)n\(n)"], ["INCR", "count:\(writer)"], ["EXEC"]]
                        lock.lock(); attCopy[writer] = n + 1; lock.unlock()
                        guard let replies = try? client.pipeline(commands.map { $0.map { Array($0.utf8) } }),
                              replies.count == 5, case .array(let results) = replies[4], results.count == 3,
                              results[2] == int(Int64(n + 1)) else { return }
                        n += 1
                        lock.lock(); ackCopy[writer] = n; lock.unlock()
                    }
                }
            }
            usleep(UInt32(killAfterMs) * 1000)
            _ = server.stop(signal: SIGKILL)
            XCTAssertEqual(group.wait(timeout: .now() + 10), .success, "writers stop once the server is gone")
            lock.lock()
            acknowledged = ackCopy
            attempted = attCopy
            lock.unlock()

            // The crashed file itself: integrity and every schema invariant.
            let connection = try openDatabase(db)
            XCTAssertEqual(try connection.scalar("PRAGMA integrity_check"), "ok", "\(template) round \(round)")
            connection.close()
            XCTAssertEqual(try consistencyProblems(db), [], "\(template) round \(round)")
        }
        XCTAssertGreaterThan(acknowledged.reduce(0, +), 0, "some writes were acknowledged")
        return (rounds, checkedTotal, acknowledged.reduce(0, +))
    }

    // MARK: - 6. Slowloris, vanishing clients

    /// Several connections send a request one byte every ~60 ms while a normal client works:
    /// its latency stays low and the slow requests complete correctly.
    func testSlowlorisClientsDoNotAffectOthers() throws {
        try forEachBackend { server in
            let frame = Array(respRequest(["ECHO", "slow"]))
            let slow = try (0..<6).map { _ in try HostileSocket(port: server.port) }
            let finished = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                for byte in frame {
                    for socket in slow { socket.send([byte]) }
                    usleep(60_000)
                }
                finished.signal()
            }
            let normal = try server.client()
            var operations = 0
            var worstMs = 0.0
            while finished.wait(timeout: .now()) == .timedOut {
                let started = Date()
                XCTAssertEqual(try normal.run("INCR", "fast"), int(Int64(operations + 1)))
                worstMs = max(worstMs, Date().timeIntervalSince(started) * 1000)
                operations += 1
                if operations > 2_000_000 { break }
            }
            for socket in slow {
                XCTAssertTrue(socket.read(untilContains: "slow\r\n").hasSuffix("$4\r\nslow\r\n"), "[\(server.backendName)] slow request answered")
            }
            XCTAssertGreaterThan(operations, 100, "[\(server.backendName)] normal client kept working")
            // A loop stalled by the dribbling clients would stall the normal one for the whole
            // 1.4 s request; 1 s leaves room for a loaded test machine.
            XCTAssertLessThan(worstMs, 1_000, "[\(server.backendName)] worst normal latency \(worstMs) ms")
            print("[\(server.backendName)] slowloris: \(operations) normal operations while 6 clients dribbled, worst \(String(format: "%.1f", worstMs)) ms")
        }
    }

    /// Clients that vanish mid-reply (RST while a large reply is being sent), that close with
    /// half a request sent, or that only connect: the server drops them and keeps serving.
    func testClientsVanishingMidReplyAreDropped() throws {
        try forEachBackend { server in
            let normal = try server.client()
            let value = String(repeating: "z", count: 2 * 1024 * 1024)
            XCTAssertEqual(try normal.run("SET", "large", value), ok)
            let request = respRequest(["GET", "large"])
            for round in 0..<20 {
                let vanishing = try HostileSocket(port: server.port, receiveBuffer: 32 * 1024)
                vanishing.send(Array([[UInt8]](repeating: request, count: 4).joined()))
                _ = vanishing.read(untilContains: "zzzz", timeoutMs: 2_000)  // part of the first reply
                if round % 2 == 0 { vanishing.abort() } else { vanishing.close() }
                let halfRequest = try HostileSocket(port: server.port)
                halfRequest.send("*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nabc")
                halfRequest.abort()
                let silent = try HostileSocket(port: server.port)
                silent.close()
                if case .bulk(let bytes) = try normal.run("GET", "large") {
                    XCTAssertEqual(bytes.count, value.utf8.count)
                } else {
                    XCTFail("GET large")
                }
            }
            XCTAssertTrue(try eventually { try connectedClients(normal) == 1 }, "[\(server.backendName)] vanished clients are gone")
            XCTAssertEqual(try normal.run("EXISTS", "half"), int(0), "half a request executes nothing")
        }
    }

    // MARK: - 7. Load: expiry under load, soak

    /// Many keys expiring at the same millisecond: the sweeper works through them in bounded
    /// batches while a PING loop measures the loop's latency. Default: 30k keys, figures only;
    /// long: 1,000,000 keys and max PING latency under 250 ms.
    func testMassExpiryDoesNotStallTheLoop() throws {
        let count = longTestsEnabled ? 1_000_000 : 30_000
        let server = try TestServer()
        let loader = try server.client(timeoutMs: 60_000)
        let started = Date()
        // All keys share one absolute expiry, a little after loading should end.
        let expireAt = Int64(Date().timeIntervalSince1970 * 1000) + Int64(count / 40) + 1_000
        var index = 0
        while index < count {
            let upper = min(count, index + 1_000)
            let batch = (index..<upper).map { [Array("SET".utf8), Array("exp:\($0)".utf8), Array("v".utf8), Array("PXAT".utf8), Array(String(expireAt).utf8)] }
            let replies = try loader.pipeline(batch)
            XCTAssertEqual(replies.last, ok)
            index = upper
        }
        let loadSeconds = Date().timeIntervalSince(started)
        let sweptBefore = Int(try infoField(loader, section: "stats", "expired_keys") ?? "0") ?? 0

        let pinger = try server.client()
        var pings = 0
        var worstMs = 0.0
        var totalMs = 0.0
        var sweepStarted: Date?
        var sweepSeconds = 0.0
        let deadline = Date(timeIntervalSinceNow: longTestsEnabled ? 300 : 60)
        var lastPoll = Date.distantPast
        var lastSwept = 0
        var lastProgress = Date()
        while Date() < deadline {
            let t0 = Date()
            XCTAssertEqual(try pinger.run("PING"), simple("PONG"))
            let ms = Date().timeIntervalSince(t0) * 1000
            worstMs = max(worstMs, ms)
            totalMs += ms
            pings += 1
            if Date().timeIntervalSince(lastPoll) > 0.05 {
                lastPoll = Date()
                let swept = (Int(try infoField(loader, section: "stats", "expired_keys") ?? "0") ?? 0) - sweptBefore
                if swept > 0 && sweepStarted == nil { sweepStarted = Date() }
                if swept != lastSwept { lastSwept = swept; lastProgress = Date() }
                // Done: every key swept, or (a slow machine loaded past the expiry time, so
                // some SETs expired at once) nothing left and the sweeper idle for 0.5 s.
                let idle = Date().timeIntervalSince(lastProgress) > 0.5
                let pastExpiry = Int64(Date().timeIntervalSince1970 * 1000) > expireAt + 500
                let empty = idle && (sweepStarted != nil || pastExpiry) ? try loader.run("DBSIZE") == int(0) : false
                if swept >= count || empty {
                    sweepSeconds = lastProgress.timeIntervalSince(sweepStarted ?? lastProgress)
                    break
                }
            }
        }
        let swept = (Int(try infoField(loader, section: "stats", "expired_keys") ?? "0") ?? 0) - sweptBefore
        XCTAssertEqual(try loader.run("DBSIZE"), int(0), "every key gone in time")
        if loadSeconds < Double(count / 40 + 1_000) / 1000 { XCTAssertGreaterThanOrEqual(swept, count, "every key swept actively") }
        let figures = "mass expiry: \(count) keys loaded in \(String(format: "%.1f", loadSeconds)) s, \(swept) swept in \(String(format: "%.2f", sweepSeconds)) s; \(pings) PINGs, mean \(String(format: "%.2f", totalMs / Double(max(1, pings)))) ms, max \(String(format: "%.1f", worstMs)) ms"
        print(figures)
        if longTestsEnabled { XCTAssertLessThan(worstMs, 250, figures) }
    }

    /// 1,000 connections (long; 100 by default) mixing strings, lists, hashes, sets, sorted
    /// sets and counters against a server process; RSS sampled; afterwards every key matches a
    /// model the workers kept. Long: RESPLITE_SOAK_SECONDS (default 180).
    func testSoakManyConnectionsMixedTypes() throws {
        let connections = longTestsEnabled ? 1_000 : 100
        let seconds = longTestsEnabled ? Double(ProcessInfo.processInfo.environment["RESPLITE_SOAK_SECONDS"] ?? "180") ?? 180 : 3
        let threads = 16
        let db = directory + "/soak.db"
        let server = try ServerProcess(arguments: ["--port", "0", "--db", db])
        let pid = server.process.processIdentifier
        let stopAt = Date(timeIntervalSinceNow: seconds)
        let lock = NSLock()
        var failures: [String] = []
        var operations = 0
        var worstMs = 0.0
        var models: [Int: (incr: Int, list: Int, hash: Int, members: Set<Int>, zsum: Int)] = [:]
        let group = DispatchGroup()
        for thread in 0..<threads {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                let mine = Array(stride(from: thread, to: connections, by: threads))
                var clients: [RESPClient] = []
                for _ in mine {
                    do { clients.append(try server.client()) } catch {
                        lock.lock(); failures.append("connect: \(error)"); lock.unlock(); return
                    }
                }
                var local: [Int: (incr: Int, list: Int, hash: Int, members: Set<Int>, zsum: Int)] = [:]
                var count = 0, worst = 0.0
                var step = 0
                while Date() < stopAt {
                    for (slot, connection) in mine.enumerated() {
                        let client = clients[slot]
                        var model = local[connection] ?? (0, 0, 0, [], 0)
                        let n = step
                        let t0 = Date()
                        do {
                            switch (n + connection) % 6 {
                            case 0:
                                let reply = try client.run("INCR", "soak:c:\(connection)")
                                model.incr += 1
                                if reply != int(Int64(model.incr)) { throw ClientError(message: "INCR \(reply)") }
                            case 1:
                                _ = try client.run("SET", "soak:s:\(connection)", "v\(n)")
                                if try client.run("GET", "soak:s:\(connection)") != bulk("v\(n)") { throw ClientError(message: "GET") }
                            case 2:
                                _ = try client.run("RPUSH", "soak:l:\(connection)", "e\(n)")
                                model.list += 1
                                if model.list > 50 { _ = try client.run("LPOP", "soak:l:\(connection)"); model.list -= 1 }
                            case 3:
                                _ = try client.run("HINCRBY", "soak:h:\(connection)", "f\(n % 7)", "1")
                                model.hash += 1
                            case 4:
                                let member = n % 40
                                _ = try client.run("SADD", "soak:set:\(connection)", "m\(member)")
                                model.members.insert(member)
                            default:
                                _ = try client.run("ZINCRBY", "soak:z:\(connection)", "2", "m\(n % 5)")
                                model.zsum += 2
                            }
                        } catch {
                            lock.lock(); failures.append("connection \(connection): \(error)"); lock.unlock()
                            return
                        }
                        worst = max(worst, Date().timeIntervalSince(t0) * 1000)
                        count += 1
                        local[connection] = model
                        if Date() >= stopAt { break }
                    }
                    step += 1
                }
                lock.lock()
                operations += count
                worstMs = max(worstMs, worst)
                for (key, value) in local { models[key] = value }
                lock.unlock()
            }
        }
        // RSS samples while the workers run.
        var samples: [Int] = []
        while group.wait(timeout: .now() + min(5, max(0.5, seconds / 20))) == .timedOut {
            samples.append(residentBytes(pid: pid))
        }
        samples.append(residentBytes(pid: pid))
        XCTAssertEqual(failures, [], "no errors")
        // Data checks out: every connection's keys against its model.
        let checker = try server.client()
        for (connection, model) in models {
            XCTAssertEqual(try checker.run("GET", "soak:c:\(connection)"), model.incr == 0 ? null : bulk(String(model.incr)))
            XCTAssertEqual(try checker.run("LLEN", "soak:l:\(connection)"), int(Int64(model.list)))
            if model.hash > 0 {
                guard case .array(let values) = try checker.run("HVALS", "soak:h:\(connection)") else { XCTFail("HVALS"); continue }
                XCTAssertEqual(values.compactMap { $0.bulkString.flatMap { Int($0) } }.reduce(0, +), model.hash)
            }
            XCTAssertEqual(try checker.run("SCARD", "soak:set:\(connection)"), int(Int64(model.members.count)))
            if model.zsum > 0 {
                guard case .array(let pairs) = try checker.run("ZRANGE", "soak:z:\(connection)", "0", "-1", "WITHSCORES") else { XCTFail("ZRANGE"); continue }
                let total = stride(from: 1, to: pairs.count, by: 2).compactMap { pairs[$0].bulkString.flatMap { Double($0) } }.reduce(0, +)
                XCTAssertEqual(Int(total), model.zsum)
            }
        }
        XCTAssertEqual(server.stop(), 0)
        XCTAssertEqual(try consistencyProblems(db), [])
        // RSS flat after warm-up: the last samples within 1.5× + 32 MB of the warm-up level.
        let warm = samples[min(samples.count - 1, max(1, samples.count / 3))]
        let peakAfter = samples[min(samples.count - 1, max(1, samples.count / 3))...].max() ?? 0
        let figures = "soak: \(connections) connections, \(Int(seconds)) s, \(operations) operations (\(Int(Double(operations) / seconds))/s), worst latency \(String(format: "%.1f", worstMs)) ms, RSS warm \(warm / 1_048_576) MB, peak after warm-up \(peakAfter / 1_048_576) MB, \(samples.count) samples"
        print(figures)
        if longTestsEnabled {
            XCTAssertLessThanOrEqual(peakAfter, warm * 3 / 2 + 32 * 1_048_576, figures)
            XCTAssertLessThan(worstMs, 2_000, figures)
        }
        XCTAssertGreaterThan(operations, connections, figures)
    }

    // MARK: - 4. Start-up refuses locked, read-only and corrupt database files

    /// A database with one key, written by a server that stopped cleanly.
    private func makeDatabase(_ path: String) throws {
        let server = try TestServer(databasePath: path)
        XCTAssertEqual(try server.client().run("SET", "precious", "data"), ok)
        server.stop()
    }

    private func startFails(_ arguments: [String], asNobody: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        var program = try residentExecutable()
        var args = ["--port", "0"] + arguments
        if asNobody {
            let setpriv = try requireProgram("setpriv")
            args = ["--reuid=65534", "--regid=65534", "--clear-groups", program] + args
            program = setpriv
        }
        let (status, _, stderr) = try runProgram(program, args, timeoutSeconds: 20)
        XCTAssertEqual(status, 1, "exit status; stderr: \(stderr)", file: file, line: line)
        XCTAssertTrue(stderr.contains("cannot start"), stderr, file: file, line: line)
        XCTAssertFalse(stderr.contains("Fatal error") || stderr.contains("ready to accept"), stderr, file: file, line: line)
        return stderr
    }

    func testLockedDatabaseIsRefusedAtStartup() throws {
        let db = directory + "/locked.db"
        try makeDatabase(db)
        // Another process holds SQLite's write lock.
        let holder = try openDatabase(db)
        try holder.execute("BEGIN EXCLUSIVE")
        let message = try startFails(["--db", db])
        XCTAssertTrue(message.contains("locked by another process"), message)
        try holder.execute("ROLLBACK")
        holder.close()
        // A second server on a file another server is using.
        let first = try ServerProcess(arguments: ["--port", "0", "--db", db])
        let second = try startFails(["--db", db])
        XCTAssertTrue(second.contains("locked by another process"), second)
        XCTAssertEqual(try first.client().run("GET", "precious"), bulk("data"))
        XCTAssertEqual(first.stop(), 0)
        // Once the first is gone the file is usable again.
        let again = try ServerProcess(arguments: ["--port", "0", "--db", db])
        XCTAssertEqual(try again.client().run("GET", "precious"), bulk("data"))
        XCTAssertEqual(again.stop(), 0)
    }

    func testCorruptDatabaseIsRefusedAndLeftUntouched() throws {
        let db = directory + "/good.db"
        try makeDatabase(db)
        let original = try Data(contentsOf: URL(fileURLWithPath: db))
        XCTAssertGreaterThan(original.count, 8192)
        // A damaged page (page 2 overwritten).
        var damaged = original
        damaged.replaceSubrange(4096..<4296, with: Data(repeating: 0x5A, count: 200))
        let corrupt = directory + "/corrupt.db"
        try damaged.write(to: URL(fileURLWithPath: corrupt))
        let message = try startFails(["--db", corrupt])
        XCTAssertTrue(message.contains("corrupt") || message.contains("malformed"), message)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: corrupt)), damaged, "the file is left as it was")
        // A truncated file.
        let truncated = directory + "/truncated.db"
        try original.prefix(original.count / 2).write(to: URL(fileURLWithPath: truncated))
        let message2 = try startFails(["--db", truncated])
        XCTAssertTrue(message2.contains("corrupt") || message2.contains("malformed"), message2)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: truncated)), original.prefix(original.count / 2))
    }

    /// chmod means nothing to root: as root the server runs as nobody (setpriv).
    func testReadOnlyFileAndDirectoryAreRefused() throws {
        let asNobody = geteuid() == 0
        chmod(directory, 0o777)
        let db = directory + "/ro.db"
        try makeDatabase(db)
        if asNobody { chown(db, 65534, 65534) }
        chmod(db, 0o444)
        let message = try startFails(["--db", db], asNobody: asNobody)
        XCTAssertTrue(message.contains("read-only"), message)

        let readOnlyDirectory = directory + "/rodir"
        try FileManager.default.createDirectory(atPath: readOnlyDirectory, withIntermediateDirectories: false)
        let inside = readOnlyDirectory + "/x.db"
        try makeDatabase(inside)
        if asNobody { chown(readOnlyDirectory, 65534, 65534); chown(inside, 65534, 65534) }
        chmod(readOnlyDirectory, 0o555)
        defer { chmod(readOnlyDirectory, 0o755) }
        let message2 = try startFails(["--db", inside], asNobody: asNobody)
        XCTAssertTrue(message2.contains("read-only"), message2)
        // A new database in a read-only directory: refused, nothing created.
        let message3 = try startFails(["--db", readOnlyDirectory + "/new.db"], asNobody: asNobody)
        XCTAssertTrue(message3.contains("unable to open"), message3)
        XCTAssertFalse(FileManager.default.fileExists(atPath: readOnlyDirectory + "/new.db"))
        chmod(readOnlyDirectory, 0o755)
        chmod(db, 0o644)
        XCTAssertEqual(try consistencyProblems(inside), [])
        XCTAssertEqual(try consistencyProblems(db), [])
    }
}


extension RESPValue {
    /// The text of a bulk reply, or nil.
    var bulkString: String? {
        if case .bulk(let bytes) = self { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }
}
