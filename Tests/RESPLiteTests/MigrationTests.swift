// Migration from Redis (SPEC_F): against a real redis-server on a free loopback port.

import Foundation
import XCTest
@testable import RESPLite

private func b(_ text: String) -> [UInt8] { Array(text.utf8) }

/// An executable built next to the test bundle (resplite-import, resplite-dirty-tracker).
func migrationExecutable(_ name: String) throws -> String {
    var candidates: [String] = []
    let bundle = Bundle.main.bundleURL
    candidates.append(bundle.deletingLastPathComponent().appendingPathComponent(name).path)
    candidates.append(bundle.appendingPathComponent(name).path)
    if let argument = CommandLine.arguments.first {
        let url = URL(fileURLWithPath: argument)
        candidates.append(url.deletingLastPathComponent().appendingPathComponent(name).path)
        candidates.append(url.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(name).path)
    }
    for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    throw XCTSkip("\(name) not found near the test bundle (build with --build-tests)")
}

/// Fills a source with `count` keys of all five types (binary keys and values, some TTLs),
/// plus a few large collections read in pages.
private func fillSource(_ client: RESPClient, count: Int, large: Int = 2500) throws {
    var commands: [[[UInt8]]] = []
    func send() throws {
        if commands.isEmpty { return }
        for reply in try client.pipeline(commands) { if case .error(let message) = reply { throw ClientError(message: message) } }
        commands.removeAll()
    }
    for i in 0..<count {
        let key: [UInt8] = [0, 0xff, 13, 10] + b("k\(i)")
        switch i % 5 {
        case 0: commands.append([b("SET"), key, [0, 1, 2, 0xfe] + b("value-\(i)")])
        case 1: commands.append([b("HSET"), key, [0] + b("f1"), [0xff] + b("v\(i)"), b("f2"), b("\(i)")])
        case 2: commands.append([b("SADD"), key, [0] + b("a"), b("b\(i)"), [0xc3, 0x28]])
        case 3: commands.append([b("RPUSH"), key, b("x"), [0, 0], b("y\(i)"), b("x")])
        default: commands.append([b("ZADD"), key, b("1.5"), [0] + b("m"), b("-inf"), b("low"), b("\(i)"), b("n\(i)")])
        }
        if i % 7 == 0 { commands.append([b("PEXPIRE"), key, b("\(100_000 + i)")]) }
        if commands.count >= 1000 { try send() }
    }
    try send()
    for i in 0..<large {
        commands.append([b("HSET"), b("big:hash"), b("f\(i)"), b("v\(i)")])
        commands.append([b("SADD"), b("big:set"), b("m\(i)")])
        commands.append([b("RPUSH"), b("big:list"), b("e\(i)")])
        commands.append([b("ZADD"), b("big:zset"), b("\(i)"), b("m\(i)")])
        if commands.count >= 1000 { try send() }
    }
    commands.append([b("PEXPIRE"), b("big:zset"), b("500000")])
    try send()
}

/// All keys of a Redis-protocol server (SCAN).
/// Starts `resplite-import bulk` from the local Redis on `port` into `path`, in the background;
/// its standard error goes to `errorLog` (or nowhere).
private func startBulk(_ tool: String, runId: String, port: Int, path: String, _ options: [String],
                       errorLog: String? = nil) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = ["bulk", "--run-id", runId, "--from", "redis://127.0.0.1:\(port)", "--to", path] + options
    process.standardOutput = FileHandle.nullDevice
    if let errorLog {
        FileManager.default.createFile(atPath: errorLog, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: errorLog)
    } else {
        process.standardError = FileHandle.nullDevice
    }
    try process.run()
    return process
}

private func allKeys(_ client: RESPClient) throws -> [[UInt8]] {
    var keys: [[UInt8]] = []
    try client.scanPages { keys.append(contentsOf: $0); return true }
    return keys
}

/// Compares every key of the source with the destination database: by reading the file and,
/// if `throughServer`, by asking a RESPLite server started on it.
private func assertSameData(_ redis: RESPClient, _ databasePath: String, throughServer: Bool = false,
                            file: StaticString = #filePath, line: UInt = #line) throws {
    let report = try MigrationChecks.verify(source: RedisURL(port: try portOf(redis)), destinationPath: databasePath,
                                            runId: nil, fraction: 1, ttlToleranceMs: 3000, seed: 1)
    XCTAssertEqual(report.mismatches, [], file: file, line: line)
    let destination = try MigrationDestination(path: databasePath)
    let destinationCount = try destination.storage.keyCount(now: currentTimeMillis())
    destination.close()
    guard case .integer(let sourceCount) = try redis.command("DBSIZE") else { return XCTFail("DBSIZE", file: file, line: line) }
    XCTAssertEqual(destinationCount, sourceCount, "key counts", file: file, line: line)
    XCTAssertEqual(try consistencyProblems(databasePath), [], file: file, line: line)
    guard throughServer else { return }
    let server = try TestServer(databasePath: databasePath)
    let resplite = try server.client()
    let keys = try allKeys(redis)
    XCTAssertEqual(keys.count, try allKeys(resplite).count, file: file, line: line)
    for key in keys {
        let type = try redis.command([b("TYPE"), key])
        XCTAssertEqual(try resplite.command([b("TYPE"), key]), type, file: file, line: line)
        let read: [[UInt8]]
        switch type.textValue {
        case "string": read = [b("GET"), key]
        case "hash": read = [b("HGETALL"), key]
        case "set": read = [b("SMEMBERS"), key]
        case "list": read = [b("LRANGE"), key, b("0"), b("-1")]
        default: read = [b("ZRANGE"), key, b("0"), b("-1"), b("WITHSCORES")]
        }
        var expected = try redis.command(read), actual = try resplite.command(read)
        if type.textValue == "hash" || type.textValue == "set" {
            func sorted(_ value: RESPValue) -> RESPValue {
                guard let items = value.elements else { return value }
                if type.textValue == "set" { return .array(items.sorted { ($0.bytesValue ?? []).lexicographicallyPrecedes($1.bytesValue ?? []) }) }
                var pairs: [[RESPValue]] = []
                var i = 0
                while i + 1 < items.count { pairs.append([items[i], items[i + 1]]); i += 2 }
                pairs.sort { ($0[0].bytesValue ?? []).lexicographicallyPrecedes($1[0].bytesValue ?? []) }
                return .array(pairs.flatMap { $0 })
            }
            expected = sorted(expected); actual = sorted(actual)
        }
        XCTAssertEqual(actual, expected, "value of \(printableKey(key))", file: file, line: line)
        guard case .integer(let sourceTTL) = try redis.command([b("PTTL"), key]),
              case .integer(let destinationTTL) = try resplite.command([b("PTTL"), key]) else { continue }
        if sourceTTL < 0 { XCTAssertEqual(destinationTTL, sourceTTL, file: file, line: line) }
        else { XCTAssertLessThan(abs(destinationTTL - sourceTTL), 3000, "TTL of \(printableKey(key))", file: file, line: line) }
    }
}

private var redisPorts: [ObjectIdentifier: Int] = [:]
private func portOf(_ client: RESPClient) throws -> Int {
    guard let port = redisPorts[ObjectIdentifier(client)] else { throw XCTSkip("unknown port") }
    return port
}
private func sourceClient(_ redis: RedisServerProcess) throws -> RESPClient {
    let client = try redis.client()
    redisPorts[ObjectIdentifier(client)] = redis.port
    return client
}

/// Polls until `condition` or the deadline; false on timeout.

/// Keys scanned so far by a run (0 while the file or the run does not exist yet).
private func scannedSoFar(_ path: String, _ runId: String) -> Int64 {
    guard FileManager.default.fileExists(atPath: path) else { return 0 }
    do {
        return try runStatus(path, runId)?.scannedKeys ?? 0
    } catch {
        print("status of \(runId): \(error)")
        return 0
    }
}

private func runStatus(_ path: String, _ runId: String) throws -> MigrationRunStatus? {
    let destination = try MigrationDestination(path: path)
    defer { destination.close() }
    return try destination.runStatus(runId)
}

/// An importer slow enough for a test to act while it runs: small SCAN pages and batches, a rate
/// limit, a checkpoint every 100 ms.
private func pacedImporter(_ redis: RedisServerProcess, _ path: String, keysPerPage: Int, keysPerSecond: Int) throws -> MigrationImporter {
    var options = MigrationOptions()
    options.scanCount = keysPerPage
    options.batchKeys = keysPerPage
    options.maxRPS = keysPerSecond
    options.checkpointIntervalMs = 100
    return try MigrationImporter(source: RedisURL(port: redis.port), destinationPath: path, options: options)
}

final class MigrationTests: XCTestCase {
    var directory = ""

    override func setUp() {
        directory = makeTemporaryDirectory()
        MigrationSignals.stopRequested = false
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testRedisURLParsing() throws {
        let full = try RedisURL(parsing: "redis://user:p%40ss@10.0.0.10:6380/3")
        XCTAssertEqual(full.host, "10.0.0.10")
        XCTAssertEqual(full.port, 6380)
        XCTAssertEqual(full.username, "user")
        XCTAssertEqual(full.password, "p@ss")
        XCTAssertEqual(full.db, 3)
        XCTAssertEqual(full.description, "redis://user:***@10.0.0.10:6380/3")
        let bare = try RedisURL(parsing: "redis://localhost")
        XCTAssertEqual(bare.port, 6379)
        XCTAssertEqual(bare.db, 0)
        XCTAssertNil(bare.password)
        let passwordOnly = try RedisURL(parsing: "redis://:secret@127.0.0.1:7000")
        XCTAssertNil(passwordOnly.username)
        XCTAssertEqual(passwordOnly.password, "secret")
        XCTAssertThrowsError(try RedisURL(parsing: "redis://host:notaport"))
        XCTAssertThrowsError(try RedisURL(parsing: "http://host:1"))
        XCTAssertEqual(parseByteSize("64MB"), 64 << 20)
        XCTAssertEqual(parseByteSize("512k"), 512 << 10)
        XCTAssertEqual(parseByteSize("100"), 100)
        XCTAssertTrue(notificationFlagsSufficient("KEA"))
        XCTAssertFalse(notificationFlagsSufficient(""))
        XCTAssertTrue(notificationFlagsSufficient(mergeNotificationFlags("")))
        XCTAssertTrue(notificationFlagsSufficient(mergeNotificationFlags("Kx")))
    }

    func testAuthAndSelect() throws {
        let redis = try RedisServerProcess()
        try redis.client().command("CONFIG", "SET", "requirepass", "s3cret")
        let admin = try RESPClient.open(RedisURL(port: redis.port, password: "s3cret", db: 2))
        try admin.command("SET", "in-db-2", "yes")
        XCTAssertThrowsError(try RESPClient.open(RedisURL(port: redis.port, password: "wrong")))
        let path = directory + "/auth.db"
        let importer = try MigrationImporter(source: try RedisURL(parsing: "redis://default:s3cret@127.0.0.1:\(redis.port)/2"), destinationPath: path)
        XCTAssertEqual(try importer.importAll(runId: "auth"), .completed)
        XCTAssertEqual(try importer.destination.runStatus("auth")?.migratedKeys, 1)
        importer.close()
    }

    /// All five types, binary keys and values, TTLs, large collections in pages; the
    /// destination served by RESPLite answers like the source; re-runs are idempotent.
    func testOneShotImportAllTypesAndIdempotentRerun() throws {
        let redis = try RedisServerProcess()
        let source = try sourceClient(redis)
        try fillSource(source, count: 2000)
        let path = directory + "/all.db"
        var options = MigrationOptions()
        options.collectionPage = 500
        options.batchKeys = 300
        let importer = try MigrationImporter(source: RedisURL(port: redis.port), destinationPath: path, options: options)
        XCTAssertEqual(try importer.bulk(runId: "one"), .completed)
        let status = try XCTUnwrap(try importer.destination.runStatus("one"))
        XCTAssertEqual(status.status, "completed")
        XCTAssertEqual(status.migratedKeys, 2004)
        XCTAssertEqual(status.errorKeys, 0)
        importer.close()
        try assertSameData(source, path, throughServer: true)

        // Change the source (new values, a type change, a deleted key), run again: upserts.
        try source.command([b("SET"), [0, 0xff, 13, 10] + b("k1"), b("now-a-string")])
        try source.command([b("DEL"), [0, 0xff, 13, 10] + b("k2")])
        try source.command([b("HSET"), b("big:hash"), b("f1"), b("changed")])
        try source.command([b("PERSIST"), b("big:zset")])
        let again = try MigrationImporter(source: RedisURL(port: redis.port), destinationPath: path, options: options)
        XCTAssertEqual(try again.bulk(runId: "one"), .completed)
        again.close()
        // A key deleted in the source is only removed by apply-dirty (bulk copies what exists).
        try source.command([b("SET"), [0, 0xff, 13, 10] + b("k2"), b("back")])
        let third = try MigrationImporter(source: RedisURL(port: redis.port), destinationPath: path, options: options)
        XCTAssertEqual(try third.bulk(runId: "one"), .completed)
        third.close()
        try assertSameData(source, path)
    }

    /// kill -9 in the middle of a bulk, then --resume: exactly the source.
    func testResumeAfterKill() throws {
        let tool = try migrationExecutable("resplite-import")
        let redis = try RedisServerProcess()
        let source = try sourceClient(redis)
        try fillSource(source, count: 20_000, large: 0)
        let path = directory + "/kill.db"
        let process = try startBulk(tool, runId: "k", port: redis.port, path: path,
                                    ["--scan-count", "100", "--batch-keys", "300", "--max-rps", "8000"])
        XCTAssertTrue(eventually(timeoutSeconds: 10) { scannedSoFar(path, "k") > 1000 })
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let partial = try XCTUnwrap(try runStatus(path, "k"))
        XCTAssertEqual(partial.status, "running")
        XCTAssertLessThan(partial.scannedKeys, 20_000)
        let (status, out, err) = try runProgram(tool, ["bulk", "--run-id", "k", "--from", "redis://127.0.0.1:\(redis.port)", "--to", path, "--resume"], timeoutSeconds: 60)
        XCTAssertEqual(status, 0, out + err)
        let final = try XCTUnwrap(try runStatus(path, "k"))
        XCTAssertEqual(final.status, "completed")
        XCTAssertGreaterThanOrEqual(final.scannedKeys, 20_000)
        try assertSameData(source, path)
    }

    /// SIGINT: the current key finishes, the checkpoint is written, status aborted, exit ≠ 0.
    func testInterruptAndResume() throws {
        let tool = try migrationExecutable("resplite-import")
        let redis = try RedisServerProcess()
        let source = try sourceClient(redis)
        try fillSource(source, count: 10_000, large: 0)
        let path = directory + "/int.db"
        let errorLog = directory + "/int.err"
        let process = try startBulk(tool, runId: "i", port: redis.port, path: path,
                                    ["--scan-count", "100", "--max-rps", "5000", "--max-concurrency", "50"], errorLog: errorLog)
        XCTAssertTrue(eventually(timeoutSeconds: 10) { scannedSoFar(path, "i") > 500 },
                      "importer: \((try? String(contentsOfFile: errorLog, encoding: .utf8)) ?? "")")
        kill(process.processIdentifier, SIGINT)
        XCTAssertTrue(eventually(timeoutSeconds: 10) { !process.isRunning })
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        XCTAssertNotEqual(process.terminationStatus, 0)
        let aborted = try XCTUnwrap(try runStatus(path, "i"))
        XCTAssertEqual(aborted.status, "aborted")
        XCTAssertLessThan(aborted.scannedKeys, 10_000)
        XCTAssertEqual(try consistencyProblems(path), [])
        let (status, out, err) = try runProgram(tool, ["bulk", "--run-id", "i", "--from", "redis://127.0.0.1:\(redis.port)", "--to", path, "--resume"], timeoutSeconds: 60)
        XCTAssertEqual(status, 0, out + err)
        XCTAssertEqual(try runStatus(path, "i")?.status, "completed")
        try assertSameData(source, path)
    }

    /// Tracker running during a bulk while the source changes (set, del, expire, expired,
    /// rename); apply-dirty then converges to the source, and is repeatable.
    func testDirtyTrackingAndApplyDirty() throws {
        let tracker = try migrationExecutable("resplite-dirty-tracker")
        let redis = try RedisServerProcess(extraArguments: ["--notify-keyspace-events", "KEA"])
        let source = try sourceClient(redis)
        try fillSource(source, count: 5000, large: 1500)
        let path = directory + "/dirty.db"
        // Create the database first so tracker and importer share a prepared file.
        try MigrationDestination(path: path).close()
        let trackerProcess = Process()
        trackerProcess.executableURL = URL(fileURLWithPath: tracker)
        trackerProcess.arguments = ["start", "--run-id", "d", "--from", "redis://127.0.0.1:\(redis.port)", "--to", path]
        trackerProcess.standardOutput = FileHandle.nullDevice
        trackerProcess.standardError = FileHandle.nullDevice
        try trackerProcess.run()
        defer { if trackerProcess.isRunning { trackerProcess.terminate(); trackerProcess.waitUntilExit() } }
        XCTAssertTrue(try eventually(timeoutSeconds: 10) {
            let destination = try MigrationDestination(path: path)
            defer { destination.close() }
            return try destination.trackerStatus("d") == "running"
        })
        XCTAssertTrue(try eventually(timeoutSeconds: 10) { try source.command("PUBSUB", "NUMPAT") != int(0) }, "the tracker subscribed")

        // A writer changes the source while the bulk runs.
        let writerDone = expectation(description: "writer")
        let port = redis.port
        DispatchQueue.global().async {
            defer { writerDone.fulfill() }
            guard let writer = try? RESPClient(port: port) else { return }
            for i in 0..<400 {
                let key: [UInt8] = [0, 0xff, 13, 10] + b("k\(i * 11)")
                switch i % 6 {
                case 0: _ = try? writer.command([b("SET"), key, b("rewritten\(i)")])
                case 1: _ = try? writer.command([b("DEL"), key])
                case 2: _ = try? writer.command([b("PEXPIRE"), key, b("5")])  // → expired
                case 3: _ = try? writer.command([b("RENAME"), key, b("renamed:\(i)")])
                case 4: _ = try? writer.command([b("SET"), b("fresh:\(i)"), b("v"), b("EX"), b("1000")])
                default: _ = try? writer.command([b("HSET"), b("big:hash"), b("w\(i)"), b("x")])
                }
                usleep(500)
            }
        }
        var options = MigrationOptions()
        options.scanCount = 200
        options.maxRPS = 20_000
        let importer = try MigrationImporter(source: RedisURL(port: redis.port), destinationPath: path, options: options)
        XCTAssertEqual(try importer.bulk(runId: "d"), .completed)
        wait(for: [writerDone], timeout: 30)
        // Let expirations happen and their events reach the tracker.
        XCTAssertTrue(try eventually(timeoutSeconds: 5) { (try source.command("DBSIZE")) == (try source.command("DBSIZE")) })
        usleep(300_000)
        for i in 0..<400 where i % 6 == 2 { _ = try source.command([b("EXISTS"), [0, 0xff, 13, 10] + b("k\(i * 11)")]) }
        // Events arrive in order on the tracker's connection: once a last write is in the
        // registry, every earlier event is too.
        try source.command("SET", "sync:last", "1")
        XCTAssertTrue(try eventually(timeoutSeconds: 10) {
            let statement = try importer.destination.storage.cached("SELECT count(*) FROM migration_dirty_keys WHERE run_id = 'd' AND key = CAST('sync:last' AS BLOB)")
            defer { statement.reset() }
            return try statement.step() && statement.int64(0) == 1
        }, "the tracker recorded the last write")

        let first = try importer.applyDirty(runId: "d")
        XCTAssertGreaterThan(first.applied, 0)
        XCTAssertGreaterThan(first.deleted, 0)
        XCTAssertEqual(first.errors, 0)
        let status = try XCTUnwrap(try importer.destination.runStatus("d"))
        XCTAssertGreaterThan(status.dirtyKeysSeen, 0)
        XCTAssertEqual(status.dirtyByState["dirty"] ?? 0, 0)
        XCTAssertGreaterThan(status.dirtyByState["deleted"] ?? 0, 0)
        // Repeatable: a second pass has nothing left to do.
        let second = try importer.applyDirty(runId: "d")
        XCTAssertEqual(second.applied + second.deleted, 0)

        // A key deleted and then written again becomes dirty again.
        try source.command("SET", "renamed:3", "again")
        XCTAssertTrue(try eventually(timeoutSeconds: 5) {
            let statement = try importer.destination.storage.cached("SELECT state FROM migration_dirty_keys WHERE run_id = 'd' AND key = CAST('renamed:3' AS BLOB)")
            defer { statement.reset() }
            return try statement.step() && statement.text(0) == "dirty"
        })
        XCTAssertEqual(try importer.applyDirty(runId: "d").applied, 1)
        importer.close()

        XCTAssertTrue(try DirtyTracker.requestStop(runId: "d", destinationPath: path, timeoutMs: 10_000))
        XCTAssertTrue(eventually(timeoutSeconds: 10) { !trackerProcess.isRunning })
        try assertSameData(source, path, throughServer: true)
    }

    /// verify finds a planted mismatch (and none before).
    func testVerifyFindsPlantedMismatch() throws {
        let tool = try migrationExecutable("resplite-import")
        let redis = try RedisServerProcess()
        let source = try sourceClient(redis)
        try fillSource(source, count: 500, large: 0)
        let path = directory + "/verify.db"
        let url = "redis://127.0.0.1:\(redis.port)"
        var (status, out, err) = try runProgram(tool, ["import", "--from", url, "--to", path])
        XCTAssertEqual(status, 0, out + err)
        (status, out, err) = try runProgram(tool, ["verify", "--from", url, "--to", path, "--sample", "100%"])
        XCTAssertEqual(status, 0, out + err)
        XCTAssertTrue(out.contains("checked 500 keys"), out)
        // Plant: change one value in the destination, through a RESPLite server.
        do {
            let server = try TestServer(databasePath: path)
            try server.client().command([b("SET"), [0, 0xff, 13, 10] + b("k5"), b("planted")])
            server.stop()
        }
        (status, out, err) = try runProgram(tool, ["verify", "--from", url, "--to", path, "--sample", "100%"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(out.contains("MISMATCH") && out.contains("k5"), out)
        (status, out, err) = try runProgram(tool, ["verify", "--from", url, "--to", path, "--sample", "0.5%"])
        XCTAssertTrue(out.contains("checked"), out + err)
    }

    /// pause stops progress, set changes the rate, resume continues, abort stops.
    /// Per-field hash TTLs (Redis 7.4's HPEXPIRE) are copied as absolute field expiries, for
    /// small hashes and for large ones read in pages. The Redis here (7.0) has no field TTLs,
    /// so the source is a RESPLite server, which has them; against Redis 7.0 the importer asks
    /// COMMAND INFO once and sends no HPEXPIRETIME (every other test of this file).
    func testPerFieldHashTTLsAreCopied() throws {
        let source = try TestServer()
        let c = try source.client()
        XCTAssertEqual(try c.run("HSET", "small", "a", "1", "b", "2", "c", "3"), int(3))
        XCTAssertEqual(try c.run("HPEXPIRE", "small", "600000", "FIELDS", "2", "a", "b"), .array([int(1), int(1)]))
        var fields: [[UInt8]] = [b("HSET"), b("big")]
        for i in 0..<250 { fields += [b("f\(i)"), b("v\(i)")] }
        XCTAssertEqual(try c.command(fields), int(250))
        for i in stride(from: 0, to: 250, by: 3) {
            XCTAssertEqual(try c.run("HPEXPIRE", "big", String(900_000 + i), "FIELDS", "1", "f\(i)"), .array([int(1)]))
        }
        XCTAssertEqual(try c.run("HSET", "plain", "x", "1"), int(1))
        XCTAssertEqual(try c.run("SET", "string", "v", "PX", "700000"), simple("OK"))

        let path = directory + "/fieldttl.db"
        var options = MigrationOptions()
        options.collectionPage = 40  // "big" comes in several pages
        let importer = try MigrationImporter(source: RedisURL(port: source.port), destinationPath: path, options: options)
        XCTAssertEqual(try importer.bulk(runId: "f"), .completed)
        importer.close()

        let destination = try TestServer(databasePath: path)
        let d = try destination.client()
        func expiryTimes(_ client: RESPClient, _ key: String, _ names: [String]) throws -> RESPValue {
            try client.command([b("HPEXPIRETIME"), b(key), b("FIELDS"), b(String(names.count))] + names.map(b))
        }
        let bigNames = (0..<250).map { "f\($0)" }
        for (key, names) in [("small", ["a", "b", "c"]), ("big", bigNames), ("plain", ["x"])] {
            let expected = try expiryTimes(c, key, names)
            XCTAssertEqual(try expiryTimes(d, key, names), expected, key)
        }
        guard case .array(let bigTimes) = try expiryTimes(d, "big", bigNames) else { return XCTFail("HPEXPIRETIME big") }
        XCTAssertEqual(bigTimes.filter { $0 != int(-1) }.count, 84, "every third of 250 fields has a TTL")
        XCTAssertEqual(try d.run("HLEN", "big"), int(250))
        XCTAssertEqual(try d.run("HGET", "small", "a"), bulk("1"))
        // A key's TTL is copied as now + PTTL (docs/migration.md): the same instant or a few
        // milliseconds later, never earlier.
        guard case .integer(let sourceExpiry) = try c.run("PEXPIRETIME", "string"),
              case .integer(let copiedExpiry) = try d.run("PEXPIRETIME", "string") else { return XCTFail("PEXPIRETIME string") }
        XCTAssertTrue((sourceExpiry...sourceExpiry + 2_000).contains(copiedExpiry), "\(copiedExpiry) against \(sourceExpiry)")
        destination.stop()
        XCTAssertEqual(try consistencyProblems(path), [])
    }

    /// The source drops every connection of the importer twice mid-bulk (CLIENT KILL): the bulk
    /// reconnects, goes on from its last committed page and ends with exactly the source.
    func testBulkSurvivesLostSourceConnections() throws {
        let redis = try RedisServerProcess()
        let source = try sourceClient(redis)
        try fillSource(source, count: 4000, large: 800)
        let path = directory + "/lost.db"
        let importer = try pacedImporter(redis, path, keysPerPage: 100, keysPerSecond: 4000)
        let done = expectation(description: "bulk")
        final class Outcome: @unchecked Sendable { var result: MigrationStopReason?; var error: Error? }  // written before fulfill, read after wait
        let outcome = Outcome()
        DispatchQueue.global().async {
            do { outcome.result = try importer.bulk(runId: "k") } catch { outcome.error = error }
            done.fulfill()
        }
        var kills: [Int64] = []
        for threshold in [Int64(600), 2500] {
            XCTAssertTrue(eventually(timeoutSeconds: 20) { scannedSoFar(path, "k") > threshold }, "bulk passed \(threshold) keys")
            guard case .integer(let killed) = try source.command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes") else {
                XCTFail("CLIENT KILL"); break
            }
            kills.append(killed)
        }
        wait(for: [done], timeout: 60)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.result, .completed)
        XCTAssertTrue(kills.allSatisfy { $0 >= 1 }, "the importer's connections were killed: \(kills)")
        let lost = try importer.destination.connection.scalar(
            "SELECT count(*) FROM migration_errors WHERE run_id = 'k' AND message LIKE 'source connection lost%'")
        XCTAssertGreaterThanOrEqual(Int(lost ?? "") ?? 0, 2, "each loss is logged")
        importer.close()
        try assertSameData(source, path)
    }

    func testControls() throws {
        let redis = try RedisServerProcess()
        let source = try sourceClient(redis)
        try fillSource(source, count: 6000, large: 0)
        let path = directory + "/control.db"
        let importer = try pacedImporter(redis, path, keysPerPage: 50, keysPerSecond: 3000)
        let done = expectation(description: "bulk")
        var result: MigrationStopReason?
        DispatchQueue.global().async {
            result = try? importer.bulk(runId: "c")
            done.fulfill()
        }
        XCTAssertTrue(eventually(timeoutSeconds: 10) { scannedSoFar(path, "c") > 300 })
        let control = try MigrationDestination(path: path)
        try control.control("c", action: "pause")
        usleep(1_200_000)
        let pausedAt = try XCTUnwrap(try control.runStatus("c")).scannedKeys
        usleep(700_000)
        XCTAssertEqual(try control.runStatus("c")?.scannedKeys, pausedAt, "no progress while paused")
        try control.setSetting("c", name: "max_rps", value: 1000)
        try control.control("c", action: "resume")
        XCTAssertTrue(eventually(timeoutSeconds: 10) { scannedSoFar(path, "c") > pausedAt + 200 })
        try control.control("c", action: "abort")
        wait(for: [done], timeout: 20)
        XCTAssertEqual(result, .aborted)
        XCTAssertEqual(try control.runStatus("c")?.status, "aborted")
        control.close()
        importer.close()
        // Resume finishes the job.
        var resumeOptions = MigrationOptions()
        resumeOptions.resume = true
        let resumed = try MigrationImporter(source: RedisURL(port: redis.port), destinationPath: path, options: resumeOptions)
        XCTAssertEqual(try resumed.bulk(runId: "c"), .completed)
        resumed.close()
        try assertSameData(source, path)
    }

    func testPreflightAndEnableNotifications() throws {
        let tool = try migrationExecutable("resplite-import")
        let redis = try RedisServerProcess(extraArguments: ["--rename-command", "CONFIG", "MYCONFIG"])
        let source = try sourceClient(redis)
        try fillSource(source, count: 100, large: 0)
        try source.command("XADD", "stream", "*", "a", "1")
        let url = "redis://127.0.0.1:\(redis.port)"
        var (status, out, err) = try runProgram(tool, ["preflight", "--from", url, "--to", directory + "/p.db"])
        XCTAssertEqual(status, 0, out + err)
        XCTAssertTrue(out.contains("keys (DBSIZE): 101"), out)
        XCTAssertTrue(out.contains("stream=1"), out)
        XCTAssertTrue(out.contains("CONFIG unavailable"), out)
        (status, out, err) = try runProgram(tool, ["preflight", "--from", url, "--config-command", "MYCONFIG"])
        XCTAssertTrue(out.contains("NOT enough"), out + err)
        (status, out, err) = try runProgram(tool, ["enable-notifications", "--from", url, "--config-command", "MYCONFIG"])
        XCTAssertEqual(status, 0, out + err)
        (status, out, err) = try runProgram(tool, ["preflight", "--from", url, "--config-command", "MYCONFIG"])
        XCTAssertTrue(out.contains("enough for the dirty tracker"), out + err)
        // The stream is skipped by the import.
        (status, out, err) = try runProgram(tool, ["import", "--from", url, "--to", directory + "/p.db"])
        XCTAssertEqual(status, 0, out + err)
        XCTAssertTrue(out.contains("migrated 100  skipped 1"), out)
    }

    /// The tracker survives a restart of the source: it reconnects with backoff, records a
    /// warning row in migration_errors, and keeps recording keys.
    func testTrackerReconnectsAfterSourceRestart() throws {
        let redisPath = try requireProgram("redis-server")
        let port = try freePort()
        let dataDirectory = directory + "/redis"
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        func startRedis() throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: redisPath)
            process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--dir", dataDirectory, "--notify-keyspace-events", "KEA", "--loglevel", "warning"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            XCTAssertTrue(eventually(timeoutSeconds: 10) { (try? RESPClient(port: port, timeoutMs: 500).command("PING")) == simple("PONG") })
            return process
        }
        var redis = try startRedis()
        defer { redis.terminate(); redis.waitUntilExit() }
        let path = directory + "/reconnect.db"
        let tracker = try DirtyTracker(runId: "r", source: RedisURL(port: port), destinationPath: path)
        let finished = expectation(description: "tracker")
        DispatchQueue.global().async {
            try? tracker.run()
            tracker.close()
            finished.fulfill()
        }
        let observer = try MigrationDestination(path: path)
        defer { observer.close() }
        func state(_ key: String) throws -> String? {
            let statement = try observer.storage.cached("SELECT state FROM migration_dirty_keys WHERE run_id = 'r' AND key = CAST(?1 AS BLOB)")
            statement.bindText(1, key)
            defer { statement.reset() }
            return try statement.step() ? statement.text(0) : nil
        }
        XCTAssertTrue(eventually(timeoutSeconds: 5) { (try? observer.trackerStatus("r")) == "running" })
        XCTAssertTrue(try eventually(timeoutSeconds: 10) { try RESPClient(port: port).command("PUBSUB", "NUMPAT") != int(0) }, "the tracker subscribed")
        try RESPClient(port: port).command("SET", "before", "1")
        XCTAssertTrue(try eventually(timeoutSeconds: 5) { try state("before") == "dirty" })
        redis.terminate()
        redis.waitUntilExit()
        usleep(300_000)
        redis = try startRedis()
        // Keep writing until the re-subscribed tracker sees a write.
        XCTAssertTrue(try eventually(timeoutSeconds: 10) {
            try RESPClient(port: port).command("SET", "after", "2")
            usleep(100_000)
            return try state("after") == "dirty"
        })
        let warnings = try observer.connection.scalar("SELECT count(*) FROM migration_errors WHERE run_id = 'r' AND stage = 'tracker'")
        XCTAssertGreaterThanOrEqual(Int(warnings ?? "0") ?? 0, 1)
        XCTAssertTrue(try DirtyTracker.requestStop(runId: "r", destinationPath: path, timeoutMs: 10_000))
        wait(for: [finished], timeout: 10)
    }
}
