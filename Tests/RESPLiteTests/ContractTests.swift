// Contract tests through redis-cli, the tool users reach for first.

import Foundation
import XCTest
@testable import RESPLite

final class ContractTests: XCTestCase {
    /// The acceptance sequence of the server-core issue, each step through redis-cli.
    func testRedisCliAcceptanceSequence() throws {
        let cli = try requireProgram("redis-cli")
        try forEachBackend { server in
            func cliRun(_ words: String...) throws -> String {
                let (status, out, err) = try runProgram(cli, ["-p", String(server.port)] + words, timeoutSeconds: 20)
                XCTAssertEqual(status, 0, err)
                return out.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            XCTAssertEqual(try cliRun("PING"), "PONG")
            XCTAssertEqual(try cliRun("SET", "foo", "bar"), "OK")
            XCTAssertEqual(try cliRun("GET", "foo"), "bar")
            XCTAssertEqual(try cliRun("EXPIRE", "foo", "10"), "1")
            let ttl = Int(try cliRun("TTL", "foo")) ?? -100
            XCTAssertTrue((9...10).contains(ttl), "TTL \(ttl)")
            XCTAssertEqual(try cliRun("DEL", "foo"), "1")
            XCTAssertEqual(try cliRun("TYPE", "foo"), "none")
            XCTAssertEqual(try cliRun("SCAN", "0"), "0")
            XCTAssertEqual(try cliRun("SET", "a", "1"), "OK")
            XCTAssertEqual(try cliRun("SCAN", "0"), "0\na")
        }
    }

    /// redis-cli's pipe mode (raw protocol from stdin) and its inline parsing.
    func testRedisCliPipeAndUnknownCommand() throws {
        let cli = try requireProgram("redis-cli")
        try forEachBackend { server in
            var input = ""
            for n in 0..<1_000 { input += "*3\r\n$3\r\nSET\r\n$\(String(n).count + 2)\r\nk:\(n)\r\n$1\r\nv\r\n" }
            let (status, out, _) = try runProgram(cli, ["-p", String(server.port), "--pipe"], input: Data(input.utf8))
            XCTAssertEqual(status, 0)
            XCTAssertTrue(out.contains("errors: 0, replies: 1000"), out)
            let (_, unknown, _) = try runProgram(cli, ["-p", String(server.port), "NOSUCHCMD", "x"])
            XCTAssertTrue(unknown.contains("ERR unknown command 'NOSUCHCMD', with args beginning with: 'x'"), unknown)
            let (_, size, _) = try runProgram(cli, ["-p", String(server.port), "DBSIZE"])
            XCTAssertEqual(size.trimmingCharacters(in: .whitespacesAndNewlines), "1000")
        }
    }
}
