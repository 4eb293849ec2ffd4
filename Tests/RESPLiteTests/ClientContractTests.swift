// Contract tests with the clients people point at Redis unchanged ("Drop-in for real clients"):
// redis-py with its default protocol (RESP3) and with RESP2, redis-cli's modes (--scan, -x,
// --bigkeys, --memkeys, --stat, INFO) and redis-benchmark, each on both network backends.
// redis-cli's plain commands and --pipe are covered by ContractTests.

import Foundation
import XCTest
@testable import RESPLite

/// The package root, from this file's path (Tests/RESPLiteTests/ClientContractTests.swift).
private let packageRoot: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

private let redisPyScript = packageRoot + "/Tests/contract/redis_py_contract.py"

/// The project's virtualenv Python, where scripts/bootstrap installs redis-py. On CI (CI=true)
/// its absence fails the test; elsewhere it skips, as `requireProgram`.
private func requireVenvPython() throws -> String {
    let path = packageRoot + "/.venv/bin/python"
    if FileManager.default.isExecutableFile(atPath: path) { return path }
    if ProcessInfo.processInfo.environment["CI"] == "true" {
        XCTFail("\(path) is missing; scripts/bootstrap creates it with the Python redis client")
    }
    throw XCTSkip("\(path) is missing (run scripts/bootstrap)")
}

/// Starts a program that runs until stopped (redis-cli --stat), lets it run for `seconds`,
/// stops it (SIGTERM, then SIGKILL if it lingers) and returns its stdout and stderr.
private func runFor(seconds: Double, _ path: String, _ arguments: [String]) throws -> (String, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let stdout = Pipe(), stderr = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = FileHandle.nullDevice
    try process.run()
    final class Collected: @unchecked Sendable { var data = Data() }  // written before group.leave, read after wait
    let group = DispatchGroup()
    let out = Collected(), errData = Collected()
    group.enter()
    DispatchQueue.global().async { out.data = stdout.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter()
    DispatchQueue.global().async { errData.data = stderr.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    usleep(UInt32(seconds * 1_000_000))
    if process.isRunning { process.terminate() }
    let deadline = Date(timeIntervalSinceNow: 5)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    _ = group.wait(timeout: .now() + 5)
    return (String(decoding: out.data, as: UTF8.self), String(decoding: errData.data, as: UTF8.self))
}

/// Sends commands in one pipeline and fails the test on any error reply (a missing or broken
/// command shows up here, named, rather than as a confusing client failure later).
private func load(_ client: RESPClient, _ commands: [[String]], file: StaticString = #filePath, line: UInt = #line) throws {
    let replies = try client.pipeline(commands.map { $0.map { Array($0.utf8) } })
    for (command, reply) in zip(commands, replies) {
        if let text = errorText(reply) {
            XCTFail("loading test data: \(command.prefix(3).joined(separator: " ")) → \(text)", file: file, line: line)
        }
    }
}

/// Lines of a program's output, without the carriage returns of INFO and of progress lines.
private func outputLines(_ text: String) -> [String] {
    text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }).map(String.init)
}

/// Whether a client's output reports a failure: an error reply, or a client-side error.
private func reportsError(_ text: String) -> Bool {
    text.contains("ERR") || text.localizedCaseInsensitiveContains("error") || text.contains("WRONGTYPE")
        || text.contains("Could not connect")
}

final class ClientContractTests: XCTestCase {
    // MARK: - redis-py

    /// Runs Tests/contract/redis_py_contract.py against a server on each backend. The script
    /// runs every section (--keep-going) so a failure message lists all failing sections.
    private func runRedisPy(protocol mode: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let python = try requireVenvPython()
        XCTAssertTrue(FileManager.default.fileExists(atPath: redisPyScript), redisPyScript, file: file, line: line)
        try forEachBackend(file: file, line: line) { server in
            let started = Date()
            let (status, out, err) = try runProgram(
                python, [redisPyScript, "--port", String(server.port), "--protocol", mode, "--keep-going"],
                timeoutSeconds: 60)
            XCTAssertEqual(status, 0, """
                [\(server.backendName)] redis-py protocol=\(mode) failed (exit \(status), \
                \(String(format: "%.1f", Date().timeIntervalSince(started)))s):
                \(out)\(err)
                """, file: file, line: line)
        }
    }

    /// redis-py 8's default: HELLO 3, RESP3 replies decoded to the Python shapes of Redis 7.
    func testRedisPyDefaultProtocolRESP3() throws {
        try runRedisPy(protocol: "default")
    }

    /// redis-py with protocol=2: no HELLO, RESP2 replies.
    func testRedisPyProtocol2() throws {
        try runRedisPy(protocol: "2")
    }

    /// redis-py with protocol=3 passed explicitly (its RESP3 Python shapes, e.g. zrange
    /// withscores as [member, score] lists).
    func testRedisPyExplicitProtocol3() throws {
        try runRedisPy(protocol: "3")
    }

    // MARK: - redis-cli

    /// `redis-cli --scan [--pattern]`: every key exactly once, the pattern applied.
    func testRedisCliScan() throws {
        let cli = try requireProgram("redis-cli")
        try forEachBackend { server in
            let client = try server.client()
            var commands: [[String]] = []
            for n in stride(from: 0, to: 1_500, by: 250) {
                commands.append(["MSET"] + (n..<n + 250).flatMap { ["user:\($0)", "u\($0)"] })
            }
            commands.append(["MSET"] + (0..<200).flatMap { ["order:\($0)", "o"] })
            try load(client, commands)

            func scan(_ extra: [String]) throws -> [String] {
                let (status, out, err) = try runProgram(cli, ["-p", String(server.port), "--scan"] + extra, timeoutSeconds: 20)
                XCTAssertEqual(status, 0, "[\(server.backendName)] --scan \(extra): \(err)")
                XCTAssertFalse(reportsError(out + err), "[\(server.backendName)] --scan \(extra): \(out.prefix(300)) \(err)")
                return outputLines(out).filter { !$0.isEmpty }
            }
            let all = try scan([])
            XCTAssertEqual(all.count, 1_700, "[\(server.backendName)] --scan printed \(all.count) lines")
            XCTAssertEqual(Set(all).count, 1_700, "[\(server.backendName)] --scan repeated keys")
            let users = try scan(["--pattern", "user:*"])
            XCTAssertEqual(Set(users), Set((0..<1_500).map { "user:\($0)" }), "[\(server.backendName)] --pattern user:*")
            XCTAssertEqual(users.count, 1_500, "[\(server.backendName)] --pattern user:* repeated keys")
            let some = try scan(["--pattern", "order:1?"])
            XCTAssertEqual(Set(some), Set((10..<20).map { "order:\($0)" }), "[\(server.backendName)] --pattern order:1?")
            XCTAssertEqual(try scan(["--pattern", "nothing:*"]), [], "[\(server.backendName)] --pattern with no match")
        }
    }

    /// `redis-cli -x`: the last argument read from stdin, bytes as they are (NUL, 0xff,
    /// the trailing newline).
    func testRedisCliValueFromStdin() throws {
        let cli = try requireProgram("redis-cli")
        try forEachBackend { server in
            let value: [UInt8] = Array("hello".utf8) + [0x00, 0xff, 0x0d, 0x0a, 0x01] + Array(repeating: 0x61, count: 100_000) + [0x0a]
            let (status, out, err) = try runProgram(cli, ["-p", String(server.port), "-x", "SET", "stdin:key"],
                                                    input: Data(value), timeoutSeconds: 20)
            XCTAssertEqual(status, 0, "[\(server.backendName)] -x SET: \(err)")
            XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "OK", "[\(server.backendName)] -x SET: \(out) \(err)")
            let client = try server.client()
            XCTAssertEqual(try client.run("GET", "stdin:key"), .bulk(value), "[\(server.backendName)] value stored by -x")

            let (appendStatus, appended, _) = try runProgram(cli, ["-p", String(server.port), "-x", "APPEND", "stdin:key"],
                                                             input: Data([0x00, 0x0a]), timeoutSeconds: 20)
            XCTAssertEqual(appendStatus, 0)
            XCTAssertEqual(appended.trimmingCharacters(in: .whitespacesAndNewlines), String(value.count + 2),
                           "[\(server.backendName)] -x APPEND")
        }
    }

    /// The same keys of every type, for --bigkeys and --memkeys.
    private static let typedKeys: [[String]] = [
        ["SET", "big:str", String(repeating: "x", count: 500)],
        ["SET", "small:1", "a"],
        ["SET", "small:2", "bb"],
        ["RPUSH", "big:list", "a", "b", "c"],
        ["RPUSH", "small:list", "a"],
        ["HSET", "big:hash", "f", "v", "g", "w"],
        ["SADD", "big:set", "a", "b", "c", "d"],
        ["ZADD", "big:zset", "1", "a", "2", "b"],
    ]

    /// The summary of --bigkeys/--memkeys: from its "-------- summary -------" line on.
    private func summary(_ out: String) -> [String] {
        let lines = outputLines(out)
        guard let start = lines.firstIndex(where: { $0.contains("-------- summary -------") }) else { return [] }
        return Array(lines[start...]).filter { !$0.isEmpty }
    }

    /// `redis-cli --bigkeys` (SCAN, TYPE, STRLEN/LLEN/HLEN/SCARD/ZCARD): its summary equals
    /// the one it prints for a real redis-server holding the same keys.
    func testRedisCliBigkeys() throws {
        let cli = try requireProgram("redis-cli")
        let redis = try RedisServerProcess()
        try load(try redis.client(), Self.typedKeys)
        let (redisStatus, redisOut, redisErr) = try runProgram(cli, ["-p", String(redis.port), "--bigkeys"], timeoutSeconds: 20)
        XCTAssertEqual(redisStatus, 0, redisErr)
        let expected = summary(redisOut)
        XCTAssertTrue(expected.contains { $0.contains("Sampled 8 keys in the keyspace!") }, redisOut)

        try forEachBackend { server in
            try load(try server.client(), Self.typedKeys)
            let (status, out, err) = try runProgram(cli, ["-p", String(server.port), "--bigkeys"], timeoutSeconds: 20)
            XCTAssertEqual(status, 0, "[\(server.backendName)] --bigkeys: \(err)")
            XCTAssertFalse(reportsError(out + err), "[\(server.backendName)] --bigkeys:\n\(out)\(err)")
            XCTAssertEqual(summary(out), expected, "[\(server.backendName)] --bigkeys summary differs from Redis':\n\(out)")
        }
    }

    /// `redis-cli --memkeys` (MEMORY USAGE per key): sizes are RESPLite's own, so only the
    /// report's shape and the key counts are checked.
    func testRedisCliMemkeys() throws {
        let cli = try requireProgram("redis-cli")
        try forEachBackend { server in
            try load(try server.client(), Self.typedKeys)
            let (status, out, err) = try runProgram(cli, ["-p", String(server.port), "--memkeys"], timeoutSeconds: 20)
            XCTAssertEqual(status, 0, "[\(server.backendName)] --memkeys: \(err)")
            XCTAssertFalse(reportsError(out + err), "[\(server.backendName)] --memkeys:\n\(out)\(err)")
            let lines = summary(out)
            XCTAssertTrue(lines.contains("Sampled 8 keys in the keyspace!"), "[\(server.backendName)] --memkeys:\n\(out)")
            for (type, key) in [("list", "big:list"), ("hash", "big:hash"), ("set", "big:set"), ("zset", "big:zset")] {
                XCTAssertTrue(lines.contains { $0.range(of: "^Biggest +\(type) found '\"[a-z:]+\"' has [1-9][0-9]* bytes$", options: .regularExpression) != nil },
                              "[\(server.backendName)] --memkeys: no biggest \(type) (\(key)):\n\(out)")
            }
            XCTAssertTrue(lines.contains { $0.range(of: "^Biggest string found '\"big:str\"' has [1-9][0-9]* bytes$", options: .regularExpression) != nil },
                          "[\(server.backendName)] --memkeys: big:str is not the biggest string:\n\(out)")
            for (count, type) in [(3, "strings"), (2, "lists"), (1, "hashs"), (1, "sets"), (1, "zsets")] {
                XCTAssertTrue(lines.contains { $0.hasPrefix("\(count) \(type) with ") && $0.contains(" bytes (") },
                              "[\(server.backendName)] --memkeys: no '\(count) \(type) with ... bytes' line:\n\(out)")
            }
        }
    }

    /// `redis-cli --stat -i 0.1` (INFO every interval) for a few seconds: a header and rows whose
    /// key count is the database's.
    func testRedisCliStat() throws {
        let cli = try requireProgram("redis-cli")
        // redis-cli buffers a pipe's output and is stopped by a signal: line-buffer it.
        let stdbuf = try requireProgram("stdbuf")
        try forEachBackend { server in
            try load(try server.client(), [["MSET", "a", "1", "b", "2", "c", "3"]])
            let (out, err) = try runFor(seconds: 2.5, stdbuf, ["-oL", cli, "-p", String(server.port), "--stat", "-i", "0.1"])
            XCTAssertFalse(reportsError(out + err), "[\(server.backendName)] --stat:\n\(out)\(err)")
            let lines = outputLines(out).filter { !$0.isEmpty }
            XCTAssertTrue(lines.first?.hasPrefix("------- data ------") == true, "[\(server.backendName)] --stat header:\n\(out)\(err)")
            XCTAssertTrue(lines.contains { $0.hasPrefix("keys ") && $0.contains("mem") && $0.contains("clients") && $0.contains("requests") },
                          "[\(server.backendName)] --stat column names:\n\(out)")
            let rows = lines.filter { $0.first?.isNumber == true }
            XCTAssertGreaterThanOrEqual(rows.count, 2, "[\(server.backendName)] --stat rows in 2.5 s at -i 0.1:\n\(out)\(err)")
            for row in rows {
                let columns = row.split(separator: " ")
                XCTAssertEqual(columns.first, "3", "[\(server.backendName)] --stat keys column: \(row)")
                XCTAssertGreaterThanOrEqual(columns.count, 6, "[\(server.backendName)] --stat row: \(row)")
            }
        }
    }

    /// `redis-cli INFO`, parsed as its users do: "# Section" headers and "field:value" lines.
    func testRedisCliInfo() throws {
        let cli = try requireProgram("redis-cli")
        try forEachBackend { server in
            try load(try server.client(), [["MSET", "a", "1", "b", "2", "c", "3"], ["EXPIRE", "a", "1000"]])
            func info(_ extra: [String]) throws -> (sections: [String], fields: [String: String], text: String) {
                let (status, out, err) = try runProgram(cli, ["-p", String(server.port), "INFO"] + extra, timeoutSeconds: 20)
                XCTAssertEqual(status, 0, "[\(server.backendName)] INFO \(extra): \(err)")
                var sections: [String] = [], fields: [String: String] = [:]
                for line in outputLines(out) where !line.isEmpty {
                    if line.hasPrefix("# ") { sections.append(String(line.dropFirst(2))); continue }
                    guard let colon = line.firstIndex(of: ":") else {
                        XCTFail("[\(server.backendName)] INFO \(extra): line without ':': \(line)")
                        continue
                    }
                    fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
                }
                return (sections, fields, out)
            }
            let all = try info([])
            XCTAssertTrue(all.text.contains("redis_version:"), all.text)
            XCTAssertTrue(all.text.contains("# Keyspace"), all.text)
            XCTAssertEqual(all.sections.first, "Server", "[\(server.backendName)] INFO sections \(all.sections)")
            for section in ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Keyspace"] {
                XCTAssertTrue(all.sections.contains(section), "[\(server.backendName)] INFO has no # \(section): \(all.sections)")
            }
            XCTAssertNotNil(all.fields["redis_version"].flatMap { $0.split(separator: ".").first.flatMap { Int($0) } },
                            "[\(server.backendName)] redis_version: \(all.fields["redis_version"] ?? "missing")")
            XCTAssertEqual(all.fields["tcp_port"], String(server.port))
            XCTAssertEqual(all.fields["role"], "master")
            let db0 = all.fields["db0"] ?? ""
            XCTAssertTrue(db0.hasPrefix("keys=3,expires=1,avg_ttl="), "[\(server.backendName)] db0:\(db0)")

            let keyspace = try info(["keyspace"])
            XCTAssertEqual(keyspace.sections, ["Keyspace"], "[\(server.backendName)] INFO keyspace: \(keyspace.text)")
            XCTAssertEqual(Array(keyspace.fields.keys), ["db0"], "[\(server.backendName)] INFO keyspace: \(keyspace.text)")
        }
    }

    // MARK: - redis-benchmark

    /// redis-benchmark's default tests (its own commands, pipelining off, 10 clients) complete
    /// with no error: redis-benchmark exits at the first error reply, printing it. The two
    /// backends run at the same time, each on its own server: LRANGE_300..600 alone take
    /// seconds on a debug build.
    func testRedisBenchmark() throws {
        let benchmark = try requireProgram("redis-benchmark")
        let expected = ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP", "SADD",
                        "HSET", "SPOP", "ZADD", "LPUSH (needed to benchmark LRANGE)", "LRANGE_100 (first 100 elements)",
                        "LRANGE_300 (first 300 elements)", "LRANGE_500 (first 500 elements)", "LRANGE_600 (first 600 elements)"]
        let servers = try [TestServer(backend: .auto), TestServer(backend: .epoll)]
        XCTAssertEqual(servers[1].backendName, "epoll")
        final class Outcome: @unchecked Sendable {  // each written by one iteration, read after all finish
            var result: Result<(Int32, String, String), Error>?
            var seconds = 0.0
        }
        let outcomes = [Outcome(), Outcome()]
        let ports = servers.map(\.port)
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let started = Date()
            outcomes[index].result = Result {
                try runProgram(benchmark, [
                    "-h", "127.0.0.1", "-p", String(ports[index]), "-c", "10", "-n", "10000", "-q",
                    "-t", "ping,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange",
                ], timeoutSeconds: 90)
            }
            outcomes[index].seconds = Date().timeIntervalSince(started)
        }
        for (server, outcome) in zip(servers, outcomes) {
            let backend = server.backendName
            guard case .success(let (status, out, err)) = outcome.result else {
                XCTFail("[\(backend)] redis-benchmark: \(String(describing: outcome.result))")
                continue
            }
            let results = outputLines(out).filter { $0.contains("requests per second") }
            let context = "[\(backend)] redis-benchmark (exit \(status), \(String(format: "%.1f", outcome.seconds))s):\n"
                + results.joined(separator: "\n") + "\n" + err
            XCTAssertEqual(status, 0, context)
            XCTAssertFalse(reportsError(out + err), context)
            XCTAssertFalse(err.contains("WARN"), context)
            let names = Set(results.compactMap { line -> String? in
                guard let colon = line.range(of: ": ", options: .backwards) else { return nil }
                return line[..<colon.lowerBound].trimmingCharacters(in: .whitespaces)
            })
            let missing = expected.filter { !names.contains($0) }
            XCTAssertEqual(missing, [], "[\(backend)] redis-benchmark printed no result for these tests (the first one failed):\n\(context)")
            for line in results {
                let rate = line.range(of: #"[0-9.]+(?= requests per second)"#, options: .regularExpression).flatMap { Double(line[$0]) }
                XCTAssertGreaterThan(rate ?? 0, 0, "[\(backend)] \(line)")
            }
        }
        servers.forEach { $0.stop() }
    }
}
