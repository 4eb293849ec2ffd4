// The RESP protocol over TCP, on both network backends: pipelining, frames dribbled in tiny
// writes, large values, inline commands, and every protocol limit answered with Redis' exact
// error line, closing only the offending connection after the replies before it.

import Foundation
import XCTest
@testable import RESPLite
#if canImport(Glibc)
import Glibc
#endif

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private func encoded(_ args: [String]) -> [UInt8] {
    let buffer = ByteBuffer()
    encodeCommand(args.map(bytes), into: buffer)
    return buffer.bytes
}

/// Sends `data` on a fresh connection and reads every byte until the server closes it (or
/// `timeoutMs` passes). Raw bytes, so replies are compared exactly, byte for byte.
private func rawExchange(port: Int, _ data: [UInt8], timeoutMs: Int = 5_000) throws -> (reply: [UInt8], closed: Bool) {
    let fd = try connectLoopback(port: port, timeoutMs: timeoutMs)
    defer { close(fd) }
    var sent = 0
    while sent < data.count {
        let written = data.withUnsafeBytes { send(fd, $0.baseAddress! + sent, data.count - sent, SocketConstants.noSignal) }
        if written < 0 && errno == EINTR { continue }
        if written <= 0 { break }  // the server may close early; read what it said
        sent += written
    }
    var reply: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    let deadline = monotonicMillis() + Int64(timeoutMs)
    while monotonicMillis() < deadline {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 50) > 0 else { continue }
        let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if received > 0 {
            reply += chunk[0..<received]
        } else if received == 0 || (errno != EINTR && errno != EAGAIN) {
            return (reply, true)
        }
    }
    return (reply, false)
}

private func show(_ data: [UInt8]) -> String {
    String(decoding: data, as: UTF8.self).debugDescription
}

final class ProtocolTests: XCTestCase {

    // MARK: Framing

    func testPipelineOfManyCommandsInOneWrite() throws {
        try forEachBackend { server in
            let client = try server.client()
            var data: [UInt8] = []
            var expected: [RESPValue] = []
            for index in 0..<1_000 {
                switch index % 4 {
                case 0:
                    data += encoded(["SET", "key:\(index)", "value:\(index)"])
                    expected.append(ok)
                case 1:
                    data += encoded(["GET", "key:\(index - 1)"])
                    expected.append(bulk("value:\(index - 1)"))
                case 2:
                    data += bytes("INCR counter\r\n")
                    expected.append(int(Int64(index / 4 + 1)))
                default:
                    data += bytes("*0\r\n\r\nECHO \"\(index)\"\r\n")
                    expected.append(bulk("\(index)"))
                }
            }
            try client.sendRaw(data)
            var replies: [RESPValue] = []
            for _ in expected { replies.append(try client.readReply()) }
            XCTAssertEqual(replies, expected)
            XCTAssertEqual(try client.run("PING"), simple("PONG"))
        }
    }

    func testCommandDribbledInOneByteWrites() throws {
        try forEachBackend { server in
            let client = try server.client()
            let frame = encoded(["SET", "dribbled", "a\r\nb"]) + bytes("GET dribbled\r\n") + encoded(["ECHO", ""])
            XCTAssertLessThan(frame.count, 100)
            for byte in frame {
                try client.sendRaw([byte])
                usleep(200)  // let most bytes travel in their own segment
            }
            XCTAssertEqual(try client.readReply(), ok)
            XCTAssertEqual(try client.readReply(), bulk("a\r\nb"))
            XCTAssertEqual(try client.readReply(), bulk(""))
            XCTAssertEqual(try client.run("PING"), simple("PONG"))
        }
    }

    func testPipelineInOddSizedChunks() throws {
        try forEachBackend { server in
            let client = try server.client()
            var data: [UInt8] = []
            for index in 0..<100 { data += encoded(["SET", "k\(index)", String(repeating: "v", count: index)]) }
            data += encoded(["MGET", "k0", "k1", "k99"])
            var offset = 0
            var writes = 0
            while offset < data.count && writes < 1_000 {
                let end = min(data.count, offset + 7 + writes % 13)
                try client.sendRaw(Array(data[offset..<end]))
                offset = end
                writes += 1
            }
            for _ in 0..<100 { XCTAssertEqual(try client.readReply(), ok) }
            XCTAssertEqual(try client.readReply(), .array([bulk(""), bulk("v"), bulk(String(repeating: "v", count: 99))]))
        }
    }

    func testLargeValueRoundTrip() throws {
        try forEachBackend { server in
            let client = try server.client()
            let size = 8 * 1024 * 1024
            var value = [UInt8](repeating: 0, count: size)
            var state: UInt32 = 12345
            for index in 0..<size {
                state = state &* 1_103_515_245 &+ 12_345
                value[index] = UInt8(truncatingIfNeeded: state >> 16)
            }
            // In one write, between two small commands.
            try client.sendRaw(encoded(["PING"]) + encodeArgs([bytes("SET"), bytes("big"), value]) + encoded(["STRLEN", "big"]))
            XCTAssertEqual(try client.readReply(), simple("PONG"))
            XCTAssertEqual(try client.readReply(), ok)
            XCTAssertEqual(try client.readReply(), int(Int64(size)))
            guard case .bulk(let back) = try client.run("GET", "big") else { return XCTFail("GET big") }
            XCTAssertEqual(back.count, size)
            XCTAssertTrue(back == value, "8 MB value changed on the way")
            XCTAssertEqual(try client.run("PING"), simple("PONG"))
        }
    }

    func testInlineCommandsOverTCP() throws {
        try forEachBackend { server in
            let client = try server.client()
            try client.sendRaw(bytes("PING\r\n"))
            XCTAssertEqual(try client.readReply(), simple("PONG"))
            try client.sendRaw(bytes("SET \"a b\" 'c d'\r\nGET \"a b\"\n"))
            XCTAssertEqual(try client.readReply(), ok)
            XCTAssertEqual(try client.readReply(), bulk("c d"))
            try client.sendRaw(bytes("ECHO \"\\x41\\x00\\n\"\r\n"))
            XCTAssertEqual(try client.readReply(), .bulk([65, 0, 10]))
            // Blank lines and empty multibulks produce no reply at all.
            try client.sendRaw(bytes("\r\n\n   \r\n*0\r\n*-1\r\nECHO done\r\n"))
            XCTAssertEqual(try client.readReply(), bulk("done"))
            // Command errors in inline form are ordinary replies; the connection stays.
            try client.sendRaw(bytes("ECHO\r\n"))
            XCTAssertEqual(errorText(try client.readReply()), "ERR wrong number of arguments for 'echo' command")
            XCTAssertEqual(try client.run("PING"), simple("PONG"))
        }
    }

    // MARK: Limits

    /// Sends `data` on a new connection, expects the replies `before`, then exactly
    /// `-ERR <message>` and a close; a connection opened earlier keeps working.
    private func expectProtocolError(_ server: TestServer, _ data: [UInt8], before: [RESPValue] = [], _ message: String,
                                     dribble chunk: Int = 0, file: StaticString = #filePath, line: UInt = #line) throws {
        let other = try server.client()
        XCTAssertEqual(try other.run("PING"), simple("PONG"), file: file, line: line)
        let bad = try server.client()
        if chunk > 0 {
            for index in stride(from: 0, to: data.count, by: chunk) {
                try bad.sendRaw(Array(data[index..<min(data.count, index + chunk)]))
                usleep(200)
            }
        } else {
            try bad.sendRaw(data)
        }
        for reply in before {
            XCTAssertEqual(try bad.readReply(), reply, "[\(server.backendName)]", file: file, line: line)
        }
        XCTAssertEqual(try bad.readReply(), err("ERR " + message), "[\(server.backendName)]", file: file, line: line)
        XCTAssertTrue(bad.waitForClose(), "[\(server.backendName)] connection not closed after \(message)", file: file, line: line)
        XCTAssertEqual(try other.run("PING"), simple("PONG"), file: file, line: line)
        XCTAssertEqual(try server.client().run("PING"), simple("PONG"), file: file, line: line)
    }

    func testLimitsOverTheNetwork() throws {
        try forEachBackend(configure: {
            $0.protocolLimits.maxBulkBytes = 1024
            $0.protocolLimits.maxArguments = 8
            $0.protocolLimits.maxInlineBytes = 256
        }) { server in
            let client = try server.client()
            // At the limits: accepted.
            let kilobyte = String(repeating: "z", count: 1024)
            XCTAssertEqual(try client.run("SET", "k", kilobyte), ok)
            XCTAssertEqual(try client.run("GET", "k"), bulk(kilobyte))
            XCTAssertEqual(try client.run("DEL", "a", "b", "c", "d", "e", "f", "g"), int(0))
            let longLine = "ECHO " + String(repeating: "x", count: 249)
            try client.sendRaw(bytes(longLine + "\r\n"))
            XCTAssertEqual(try client.readReply(), bulk(String(repeating: "x", count: 249)))

            // Over them. Every byte sent is consumed before the error (no unread data that
            // would turn the close into a reset).
            try expectProtocolError(server, bytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1025\r\n"), "Protocol error: invalid bulk length")
            try expectProtocolError(server, bytes("*2\r\n$3\r\nGET\r\n$-1\r\n"), "Protocol error: invalid bulk length")
            try expectProtocolError(server, bytes("*9\r\n"), "Protocol error: invalid multibulk length")
            try expectProtocolError(server, bytes("*x\r\n"), "Protocol error: invalid multibulk length")
            try expectProtocolError(server, bytes("*2\r\n$3\r\nGET\r\n$1x\r\n"), "Protocol error: invalid bulk length")
            try expectProtocolError(server, bytes("*2\r\n$3\r\nGET\r\nx\r\n"), "Protocol error: expected '$', got 'x'")
            try expectProtocolError(server, [UInt8](repeating: UInt8(ascii: "a"), count: 257), "Protocol error: too big inline request")
            try expectProtocolError(server, bytes("*") + [UInt8](repeating: UInt8(ascii: "1"), count: 256),
                                    "Protocol error: too big mbulk count string")
            try expectProtocolError(server, bytes("*1\r\n$") + [UInt8](repeating: UInt8(ascii: "1"), count: 256),
                                    "Protocol error: too big bulk count string")
            try expectProtocolError(server, bytes("SET \"unbalanced\r\n"), "Protocol error: unbalanced quotes in request")
            // Split into small writes: the buffered path finds the same errors.
            try expectProtocolError(server, bytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1025\r\n"), "Protocol error: invalid bulk length", dribble: 3)
            try expectProtocolError(server, [UInt8](repeating: UInt8(ascii: "a"), count: 257), "Protocol error: too big inline request", dribble: 3)
            try expectProtocolError(server, bytes("*1\r\n$") + [UInt8](repeating: UInt8(ascii: "1"), count: 256),
                                    "Protocol error: too big bulk count string", dribble: 3)

            XCTAssertEqual(try client.run("GET", "k"), bulk(kilobyte))
        }
    }

    func testDefaultLimitsOverTheNetwork() throws {
        try forEachBackend { server in
            try expectProtocolError(server, bytes("*1\r\n$536870913\r\n"), "Protocol error: invalid bulk length")
            try expectProtocolError(server, bytes("*1048577\r\n"), "Protocol error: invalid multibulk length")
            // 64 KB + 1 bytes of each kind, sent at once.
            try expectProtocolError(server, [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024 + 1),
                                    "Protocol error: too big inline request")
            try expectProtocolError(server, bytes("*") + [UInt8](repeating: UInt8(ascii: "1"), count: 64 * 1024),
                                    "Protocol error: too big mbulk count string")
            try expectProtocolError(server, bytes("*1\r\n$") + [UInt8](repeating: UInt8(ascii: "1"), count: 64 * 1024),
                                    "Protocol error: too big bulk count string")
        }
    }

    func testQueryBufferLimit() throws {
        try forEachBackend(configure: { $0.protocolLimits.maxQueryBufferBytes = 4096 }) { server in
            let header = bytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10000\r\n")
            // Exactly one byte over the limit, all of it pending (the frame needs 10000).
            let data = header + [UInt8](repeating: 120, count: 4097 - header.count)
            try expectProtocolError(server, data, "Protocol error: query buffer limit exceeded")
            try expectProtocolError(server, data, "Protocol error: query buffer limit exceeded", dribble: 500)
            // A complete frame larger than the limit that arrives in one read is not pending,
            // but across reads it is; so only values below the limit are promised to work.
            let client = try server.client()
            let value = String(repeating: "y", count: 3000)
            XCTAssertEqual(try client.run("SET", "k", value), ok)
            XCTAssertEqual(try client.run("GET", "k"), bulk(value))
        }
    }

    func testRepliesBeforeTheBadFrameAreDelivered() throws {
        try forEachBackend { server in
            let observer = try server.client()
            try expectProtocolError(server, bytes("SET a 1\r\n") + encoded(["INCR", "a"]) + encoded(["GET", "a"]) + bytes("*1\r\nx\r\n"),
                                    before: [ok, int(2), bulk("2")], "Protocol error: expected '$', got 'x'")
            // The commands before the bad frame took effect.
            XCTAssertEqual(try observer.run("GET", "a"), bulk("2"))

            // The bad frame in a later write than a partial good one (buffered path).
            let client = try server.client()
            try client.sendRaw(bytes("*2\r\n$3\r\nGET\r\n"))
            usleep(20_000)
            try client.sendRaw(bytes("$1\r\na\r\nPING\r\n*1\r\n$-3\r\n"))
            XCTAssertEqual(try client.readReply(), bulk("2"))
            XCTAssertEqual(try client.readReply(), simple("PONG"))
            XCTAssertEqual(try client.readReply(), err("ERR Protocol error: invalid bulk length"))
            XCTAssertTrue(client.waitForClose())
            XCTAssertEqual(try observer.run("PING"), simple("PONG"))
        }
    }

    // MARK: Against Redis

    /// Byte-for-byte comparison with a real redis-server for malformed and odd input. Every
    /// case ends in a protocol error, so both servers close and the whole reply is known.
    func testProtocolErrorsMatchRedis() throws {
        let redis = try RedisServerProcess()
        let oddButValid = bytes("*0\r\n*-1\r\n\r\n   \r\nPING\r\n*1\rx$4\r\nPING\r\n*1\r\n$4\r\nPINGxx")
            + bytes("ECHO \"a\\x41\\n\"\r\nECHO 'x\\'y'\r\nECHO a\u{0B}b\r\nECHO \u{0B}ab\r\nECHO \"\"\r\nECHO ab\"cd\"\r\n")
            + bytes("ECHO \"a\"\u{0B}\r\nPING\rPING\r\nECHO \"a\\x4g\"\r\nECHO a\rb\r\nSET \"k 1\" 'v 2'\r\nGET \"k 1\"\r\n")
            + bytes("*2\r\n$4\r\nECHO\r\n$3\r\n\u{0}\r\n\r\n")
        let cases: [[UInt8]] = [
            bytes("*1\r\nx\r\n"), [42, 49, 13, 10, 1, 13, 10], [42, 49, 13, 10, 0xff, 13, 10], bytes("*1\r\n\r\r\n"),
            bytes("*1\r\n\n\r\n"), bytes("*-0\r\n"), bytes("*+1\r\n"), bytes("*01\r\n"), bytes("*abc\r\n"), bytes("*\r\n"),
            bytes("*1\n$4\r\n"), bytes("*1\r\n$\r\n"), bytes("*1\r\n$-1\r\n"), bytes("*1\r\n$x\r\n"), bytes("*1\r\n$04\r\n"),
            bytes("*3000000000\r\n"), bytes("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"),
            bytes("ECHO \"a\"b\r\n"), bytes("ECHO \"ab\r\n"), bytes("ECHO 'ab\r\n"), bytes("ECHO \"a\\\"\r\n"),
            bytes("PING\r\n*1\r\nx\r\n"),
            oddButValid + bytes("*1\r\nx\r\n"),
            [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024 + 1),
            bytes("*") + [UInt8](repeating: UInt8(ascii: "1"), count: 64 * 1024),
            bytes("*1\r\n$") + [UInt8](repeating: UInt8(ascii: "1"), count: 64 * 1024),
            bytes("*1\r\n") + [UInt8](repeating: UInt8(ascii: "y"), count: 64 * 1024 + 1),
        ]
        try forEachBackend { server in
            for data in cases {
                let expected = try rawExchange(port: redis.port, data)
                XCTAssertTrue(expected.closed, "redis did not close for \(show(Array(data.prefix(40))))")
                let got = try rawExchange(port: server.port, data)
                XCTAssertEqual(got.reply, expected.reply,
                               "[\(server.backendName)] \(show(Array(data.prefix(40)))): \(show(got.reply)) != redis \(show(expected.reply))")
                XCTAssertEqual(got.closed, expected.closed, "[\(server.backendName)] close for \(show(Array(data.prefix(40))))")
            }
        }
    }
}

private func encodeArgs(_ args: [[UInt8]]) -> [UInt8] {
    let buffer = ByteBuffer()
    encodeCommand(args, into: buffer)
    return buffer.bytes
}
