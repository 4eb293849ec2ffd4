// resplite-bench: the head-to-head benchmark of REFERENCE.md §11. Starts a native
// redis-server and RESPLite (per pragma template) on free loopback ports, runs each suite with
// several concurrent connections through RESPLite's own pipelined client, alternating the
// servers round by round, and prints ops/s for both, the ratio RESPLite/Redis and p50/p99
// latency. Writes a CSV for Benchmarks/plot.py.

import ArgumentParser
import Foundation
import RESPLite

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resplite-bench",
        abstract: "Benchmark RESPLite against redis-server on this machine.")

    @Option(help: "Operations per suite per round (split over the connections).")
    var iterations = 10_000
    @Option(help: "Concurrent connections.")
    var connections = 4
    @Option(help: "Requests in flight per connection (1 = unpipelined).")
    var pipeline = 1
    @Option(help: "Rounds; servers alternate within each round.")
    var rounds = 2
    @Option(help: "Pragma templates to run RESPLite with (comma-separated).")
    var templates = "default"
    @Option(help: "Redis persistence: none, everysec, always.")
    var redisPersistence = "none"
    @Option(help: "Suites to run (comma-separated), or 'all'.")
    var suites = "all"
    @Option(help: "CSV output path.")
    var csv = "benchmark-results.csv"
    @Option(help: "Path of the resplite executable (default: next to this one).")
    var resplite: String?

    func run() throws {
        let selected = suites == "all" ? allSuites : allSuites.filter { suites.split(separator: ",").map(String.init).contains($0.name) }
        guard !selected.isEmpty else { throw ValidationError("no suite matches '\(suites)'") }
        let executable = resplite ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("resplite").path
        let work = NSTemporaryDirectory() + "resplite-bench-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }

        var redisArguments = ["--save", "", "--appendonly", "no"]
        if redisPersistence != "none" { redisArguments = ["--save", "", "--appendonly", "yes", "--appendfsync", redisPersistence] }
        let redis = try ServerUnderTest.redis(arguments: redisArguments, directory: work)
        defer { redis.stop() }
        var servers = [redis]
        for template in templates.split(separator: ",").map(String.init) {
            servers.append(try ServerUnderTest.resplite(executable: executable, template: template, directory: work))
        }
        defer { for server in servers.dropFirst() { server.stop() } }

        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB; "
              + "\(connections) connections, pipeline \(pipeline), \(iterations) ops/suite/round, \(rounds) rounds, redis persistence \(redisPersistence)")
        var lines = ["suite,server,ops_per_sec,p50_us,p99_us"]
        let header = ["suite"] + servers.map { "\($0.name) ops/s" } + servers.dropFirst().map { "\($0.name)/redis" } + ["redis p50/p99 µs"] + servers.dropFirst().map { "\($0.name) p50/p99 µs" }
        print(header.joined(separator: " | "))
        for suite in selected {
            var results: [[Measurement]] = Array(repeating: [], count: servers.count)
            for round in 0..<rounds {
                // Alternate the order each round so drift on a noisy machine cancels out.
                let order = round % 2 == 0 ? Array(servers.indices) : Array(servers.indices.reversed())
                for index in order {
                    if suite.respliteOnly && servers[index].name == "redis" {
                        results[index].append(Measurement(opsPerSecond: 0, p50Micros: 0, p99Micros: 0))
                    } else {
                        results[index].append(try measure(suite, on: servers[index]))
                    }
                }
            }
            let merged = results.map(Measurement.merge)
            var row = [suite.name] + merged.map { String(format: "%.0f", $0.opsPerSecond) }
            row += merged.dropFirst().map { merged[0].opsPerSecond > 0 ? String(format: "%.2f", $0.opsPerSecond / merged[0].opsPerSecond) : "n/a" }
            row += merged.map { String(format: "%.0f/%.0f", $0.p50Micros, $0.p99Micros) }
            print(row.joined(separator: " | "))
            for (server, measurement) in zip(servers, merged) {
                lines.append("\(suite.name),\(server.name),\(Int(measurement.opsPerSecond)),\(Int(measurement.p50Micros)),\(Int(measurement.p99Micros))")
            }
        }
        try lines.joined(separator: "\n").appending("\n").write(toFile: csv, atomically: true, encoding: .utf8)
        print("wrote \(csv)")
    }

    /// Runs one suite against one server: setup, then `iterations` operations over the
    /// connections, each thread timing its own requests.
    func measure(_ suite: Suite, on server: ServerUnderTest) throws -> Measurement {
        let setup = try RESPClient(port: server.port)
        _ = try setup.command(["FLUSHALL"].map { Array($0.utf8) })
        var loaded = 0
        while loaded < suite.setup.count {  // pipelined in chunks: large setups load quickly
            let chunk = Array(suite.setup[loaded..<min(suite.setup.count, loaded + 1000)])
            for reply in try setup.pipeline(chunk) { if case .error(let text) = reply { throw ClientError(message: "setup: \(text)") } }
            loaded += 1000
        }
        let perConnection = max(1, iterations / connections)
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var latencies: [Double] = []
            var failures: [String] = []
        }
        let results = Results()
        let group = DispatchGroup()
        let start = DispatchTime.now()
        for connection in 0..<connections {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let client = try RESPClient(port: server.port, timeoutMs: 30_000)
                    var local: [Double] = []
                    local.reserveCapacity(perConnection)
                    var done = 0
                    while done < perConnection {
                        let batch = min(pipeline, perConnection - done)
                        let commands = (0..<batch).map { suite.operation(connection, done + $0) }
                        let sent = DispatchTime.now().uptimeNanoseconds
                        let replies = try client.pipeline(commands)
                        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - sent) / 1000
                        for reply in replies { if case .error(let text) = reply { throw ClientError(message: text) } }
                        for _ in 0..<batch { local.append(elapsed) }
                        done += batch
                    }
                    results.lock.lock(); results.latencies.append(contentsOf: local); results.lock.unlock()
                } catch {
                    results.lock.lock(); results.failures.append("\(error)"); results.lock.unlock()
                }
            }.start()
        }
        group.wait()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        if let failure = results.failures.first { throw ClientError(message: "\(suite.name) on \(server.name): \(failure)") }
        let latencies = results.latencies.sorted()
        func percentile(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        return Measurement(opsPerSecond: Double(latencies.count) / seconds, p50Micros: percentile(0.5), p99Micros: percentile(0.99))
    }
}

struct Measurement {
    var opsPerSecond: Double
    var p50Micros: Double
    var p99Micros: Double

    /// The mean rate and the worst tail over the rounds.
    static func merge(_ items: [Measurement]) -> Measurement {
        Measurement(opsPerSecond: items.map(\.opsPerSecond).reduce(0, +) / Double(max(items.count, 1)),
                    p50Micros: items.map(\.p50Micros).reduce(0, +) / Double(max(items.count, 1)),
                    p99Micros: items.map(\.p99Micros).max() ?? 0)
    }
}

/// A benchmark suite: setup commands and the n-th operation of a connection. One "operation"
/// is one request; suites of two commands alternate between them.
struct Suite {
    let name: String
    let setup: [[[UInt8]]]
    let operation: (Int, Int) -> [[UInt8]]
    /// Runs against RESPLite only (Redis without modules has no FT.*).
    var respliteOnly = false
}

private func words(_ items: String...) -> [[UInt8]] { items.map { Array($0.utf8) } }

let value64 = String(repeating: "v", count: 64)

let allSuites: [Suite] = [
    Suite(name: "PING", setup: [], operation: { _, _ in words("PING") }),
    Suite(name: "SET+GET", setup: [], operation: { c, n in n % 2 == 0 ? words("SET", "k:\(c):\(n / 2 % 1000)", value64) : words("GET", "k:\(c):\(n / 2 % 1000)") }),
    Suite(name: "MSET+MGET(10)", setup: [], operation: { c, n in
        let keys = (0..<10).map { "m:\(c):\((n / 2 + $0) % 1000)" }
        return n % 2 == 0 ? [Array("MSET".utf8)] + keys.flatMap { [Array($0.utf8), Array(value64.utf8)] } : [Array("MGET".utf8)] + keys.map { Array($0.utf8) }
    }),
    Suite(name: "INCR", setup: [], operation: { c, _ in words("INCR", "counter:\(c)") }),
    Suite(name: "HSET+HGET", setup: [], operation: { c, n in n % 2 == 0 ? words("HSET", "h:\(c)", "f\(n / 2 % 100)", value64) : words("HGET", "h:\(c)", "f\(n / 2 % 100)") }),
    Suite(name: "HGETALL(50)", setup: [[Array("HSET".utf8), Array("h50".utf8)] + (0..<50).flatMap { [Array("field\($0)".utf8), Array(value64.utf8)] }],
          operation: { _, _ in words("HGETALL", "h50") }),
    Suite(name: "HLEN(50)", setup: [[Array("HSET".utf8), Array("h50".utf8)] + (0..<50).flatMap { [Array("field\($0)".utf8), Array(value64.utf8)] }],
          operation: { _, _ in words("HLEN", "h50") }),
    Suite(name: "SADD+SMEMBERS", setup: [], operation: { c, n in n % 2 == 0 ? words("SADD", "s:\(c)", "member\(n / 2 % 50)") : words("SMEMBERS", "s:\(c)") }),
    Suite(name: "LPUSH+LRANGE", setup: [], operation: { c, n in n % 2 == 0 ? words("LPUSH", "l:\(c)", value64) : words("LRANGE", "l:\(c)", "0", "9") }),
    Suite(name: "LREM", setup: [], operation: { c, n in n % 2 == 0 ? words("RPUSH", "lr:\(c)", "a", "b", "a") : words("LREM", "lr:\(c)", "1", "a") }),
    Suite(name: "ZADD+ZRANGE", setup: [], operation: { c, n in n % 2 == 0 ? words("ZADD", "z:\(c)", "\(n % 1000)", "member\(n % 200)") : words("ZRANGE", "z:\(c)", "0", "9") }),
    Suite(name: "ZADD+ZREVRANGE", setup: [], operation: { c, n in n % 2 == 0 ? words("ZADD", "z:\(c)", "\(n % 1000)", "member\(n % 200)") : words("ZREVRANGE", "z:\(c)", "0", "9") }),
    Suite(name: "ZRANK+ZREVRANK", setup: [[Array("ZADD".utf8), Array("zr".utf8)] + (0..<1000).flatMap { [Array("\($0)".utf8), Array("member\($0)".utf8)] }],
          operation: { _, n in n % 2 == 0 ? words("ZRANK", "zr", "member\(n % 1000)") : words("ZREVRANK", "zr", "member\(n % 1000)") }),
    Suite(name: "ZREVRANGEBYSCORE", setup: [[Array("ZADD".utf8), Array("zs".utf8)] + (0..<1000).flatMap { [Array("\($0)".utf8), Array("member\($0)".utf8)] }],
          operation: { _, n in words("ZREVRANGEBYSCORE", "zs", "\(n % 1000 + 20)", "\(n % 1000)") }),
    Suite(name: "SET+DEL", setup: [], operation: { c, n in n % 2 == 0 ? words("SET", "d:\(c):\(n / 2)", value64) : words("DEL", "d:\(c):\(n / 2)") }),
    // 100,000 documents of 8 words from a 5,000-word vocabulary; each query is one word
    // (about 160 matches), ranked, first page of 10 ids.
    Suite(name: "FT.SEARCH", setup: [words("FT.CREATE", "docs", "SCHEMA", "payload", "TEXT")] + (0..<100_000).map { n in
              words("FT.ADD", "docs", "doc:\(n)", "1.0", "FIELDS", "payload",
                    (0..<8).map { "w\((n &* 7919 &+ $0 &* 104_729) % 5_000)" }.joined(separator: " "))
          },
          operation: { _, n in words("FT.SEARCH", "docs", "w\(n % 5_000)", "NOCONTENT") }, respliteOnly: true),
]

/// A server process started for the benchmark on a free loopback port.
final class ServerUnderTest {
    let name: String
    let port: Int
    let process: Process

    private init(name: String, port: Int, process: Process) {
        self.name = name
        self.port = port
        self.process = process
    }

    static func freePort() throws -> Int { try freeLoopbackPort() }

    static func start(name: String, path: String, arguments: (Int) -> [String]) throws -> ServerUnderTest {
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments(port)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date(timeIntervalSinceNow: 15)
        while Date() < deadline {
            if let client = try? RESPClient(port: port, timeoutMs: 500), (try? client.command("PING")) == .simple("PONG") {
                return ServerUnderTest(name: name, port: port, process: process)
            }
            usleep(50_000)
        }
        process.terminate()
        throw ClientError(message: "\(name) did not start")
    }

    static func redis(arguments: [String], directory: String) throws -> ServerUnderTest {
        let path = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "redis-server"
        return try start(name: "redis", path: path) { ["--port", String($0), "--bind", "127.0.0.1", "--dir", directory] + arguments }
    }

    static func resplite(executable: String, template: String, directory: String) throws -> ServerUnderTest {
        try start(name: "resplite-\(template)", path: executable) {
            ["--port", String($0), "--db", "\(directory)/\(template).db", "--pragma-template", template, "--log-level", "error"]
        }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

Bench.main()
