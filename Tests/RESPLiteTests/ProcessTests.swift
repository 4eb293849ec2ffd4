// The standalone executable: ready line, flags and environment, clean exit on SIGTERM and
// SIGINT, persistence across process restarts, and acknowledged writes surviving SIGKILL.

import Foundation
import XCTest
@testable import RESPLite

/// A `resplite` child process; parses the port from its ready line.
final class ServerProcess {
    let process = Process()
    let port: Int
    let readyLine: String
    private let output = Pipe()

    init(arguments: [String], environment: [String: String] = [:], timeoutSeconds: Double = 20) throws {
        let executable = try residentExecutable()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Read stdout until the ready line (bounded by time).
        let handle = output.fileHandleForReading
        var collected = Data()
        let deadline = Date(timeIntervalSinceNow: timeoutSeconds)
        var line: String?
        while Date() < deadline && line == nil {
            let chunk = handle.availableData
            if chunk.isEmpty {
                if !process.isRunning { break }
                usleep(10_000)
                continue
            }
            collected.append(chunk)
            let text = String(decoding: collected, as: UTF8.self)
            if let readyRange = text.range(of: "ready to accept connections"),
               let end = text[readyRange.upperBound...].firstIndex(of: "\n") {
                line = String(text[..<end])
            }
        }
        guard let line else {
            if process.isRunning { process.terminate() }
            throw ClientError(message: "resplite did not print its ready line: \(String(decoding: collected, as: UTF8.self))")
        }
        readyLine = line
        // "... on 127.0.0.1:PORT (db ...": the port follows the last ':' before " (db".
        guard let hostPort = line.components(separatedBy: " on ").last?.components(separatedBy: " ").first,
              let port = Int(hostPort.split(separator: ":").last ?? "") else {
            throw ClientError(message: "cannot parse port from: \(line)")
        }
        self.port = port
    }

    func client() throws -> RESPClient { try RESPClient(port: port) }

    /// Sends a signal and waits (bounded) for exit; returns the exit status.
    func stop(signal: Int32 = SIGTERM, timeoutSeconds: Double = 20) -> Int32? {
        kill(process.processIdentifier, signal)
        let deadline = Date(timeIntervalSinceNow: timeoutSeconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            return nil
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

final class ProcessTests: XCTestCase {
    var directory = ""

    override func setUp() { directory = makeTemporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testHelpListsTheFlags() throws {
        let (status, out, _) = try runProgram(try residentExecutable(), ["--help"])
        XCTAssertEqual(status, 0)
        for flag in ["--host", "--port", "--db", "--pragma-template", "--pragma", "--network-backend"] {
            XCTAssertTrue(out.contains(flag), "help lacks \(flag)")
        }
    }

    func testReadyLineSigtermExitsZeroAndDataPersists() throws {
        let db = directory + "/p.db"
        var server: ServerProcess? = try ServerProcess(arguments: ["--port", "0", "--db", db])
        XCTAssertTrue(server!.readyLine.contains(db))
        let client = try server!.client()
        XCTAssertEqual(try client.run("SET", "persistent", "value"), ok)
        XCTAssertEqual(try client.run("SET", "ttl-key", "v", "EX", "1000"), ok)
        XCTAssertEqual(try client.run("SET", "short", "v", "PX", "200"), ok)
        client.close()
        XCTAssertEqual(server!.stop(signal: SIGTERM), 0)
        server = nil
        usleep(300_000)  // "short" expires while the server is down

        let again = try ServerProcess(arguments: ["--port", "0", "--db", db])
        let client2 = try again.client()
        XCTAssertEqual(try client2.run("GET", "persistent"), bulk("value"))
        let ttl = try client2.run("TTL", "ttl-key").integer ?? -100
        XCTAssertTrue(ttl > 990 && ttl <= 1000, "TTL survives the restart as an absolute time, got \(ttl)")
        XCTAssertEqual(try client2.run("GET", "short"), null)
        XCTAssertEqual(again.stop(signal: SIGINT), 0)
    }

    func testEnvironmentVariablesAndForcedEpoll() throws {
        let db = directory + "/env.db"
        let port = try freePort()
        let server = try ServerProcess(arguments: ["--network-backend", "epoll"],
                                       environment: ["RESPLITE_PORT": String(port), "RESPLITE_DB": db,
                                                     "RESPLITE_PRAGMA_TEMPLATE": "safety"])
        XCTAssertEqual(server.port, port)
        XCTAssertTrue(server.readyLine.contains("template safety"), server.readyLine)
        XCTAssertTrue(server.readyLine.contains("backend epoll"), server.readyLine)
        XCTAssertEqual(try server.client().run("PING"), simple("PONG"))
        XCTAssertEqual(server.stop(), 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: db))
    }

    func testBadOptionsFailWithNonZeroExit() throws {
        let executable = try residentExecutable()
        let (status1, _, err1) = try runProgram(executable, ["--pragma-template", "fastest", "--port", "0", "--db", directory + "/x.db"])
        XCTAssertNotEqual(status1, 0)
        XCTAssertTrue(err1.contains("fastest"), err1)
        let (status2, _, _) = try runProgram(executable, ["--pragma", "synchronous;DROP", "--port", "0", "--db", directory + "/x.db"])
        XCTAssertNotEqual(status2, 0)
        // A database path in a missing directory: a clear message, exit 1, no crash.
        let (status3, _, err3) = try runProgram(executable, ["--port", "0", "--db", directory + "/missing/dir/x.db"])
        XCTAssertEqual(status3, 1)
        XCTAssertTrue(err3.contains("cannot start"), err3)
    }

    func testNotADatabaseFileIsRefused() throws {
        let path = directory + "/garbage.db"
        FileManager.default.createFile(atPath: path, contents: Data(repeating: 0x41, count: 8192))
        let (status, _, err) = try runProgram(try residentExecutable(), ["--port", "0", "--db", path])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(err.contains("not a database") || err.contains("file is not"), err)
        // The file is left as it was: no silent new database.
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data(repeating: 0x41, count: 8192))
    }

    /// Every write acknowledged before a SIGKILL is there after the restart (process crash;
    /// the default template's WAL survives it).
    func testAcknowledgedWritesSurviveSigkill() throws {
        let db = directory + "/kill.db"
        var acknowledged: [String: String] = [:]
        do {
            let server = try ServerProcess(arguments: ["--port", "0", "--db", db])
            let clients = try (0..<4).map { _ in try server.client() }
            for round in 0..<25 {
                for (index, client) in clients.enumerated() {
                    var batch: [[[UInt8]]] = []
                    for n in 0..<40 {
                        let key = "k:\(index):\(round):\(n)"
                        batch.append([Array("SET".utf8), Array(key.utf8), Array("v\(round)-\(n)".utf8)])
                    }
                    let replies = try client.pipeline(batch)
                    for (n, reply) in replies.enumerated() where reply == ok {
                        acknowledged["k:\(index):\(round):\(n)"] = "v\(round)-\(n)"
                    }
                }
            }
            XCTAssertNotEqual(server.stop(signal: SIGKILL), 0)
        }
        XCTAssertEqual(acknowledged.count, 4 * 25 * 40)
        let restarted = try ServerProcess(arguments: ["--port", "0", "--db", db])
        let client = try restarted.client()
        XCTAssertEqual(try client.run("DBSIZE"), int(Int64(acknowledged.count)))
        for (key, value) in acknowledged.prefix(500) {
            XCTAssertEqual(try client.run("GET", key), bulk(value), key)
        }
        XCTAssertEqual(restarted.stop(), 0)
        let connection = try openDatabase(db)
        defer { connection.close() }
        XCTAssertEqual(try connection.scalar("PRAGMA integrity_check"), "ok")
    }
}
