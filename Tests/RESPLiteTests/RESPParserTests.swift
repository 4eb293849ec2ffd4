// Unit tests of the RESP codec: the request parser (multibulk, inline, limits, frames split
// at every byte), the reply decoder (RESP2 and RESP3), the encoder and double formatting.
// Expected texts are Redis 7.0's (src/networking.c, sds.c sdssplitargs), checked against a
// live redis-server 7.0.15; `testFormatDoubleMatchesRedis` repeats that check when
// redis-server is installed.

import XCTest
@testable import RESPLite

// MARK: - Helpers

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// One parse result with the arguments copied out (spans resolved against the frame or the
/// inline scratch, as `ServerCore.step` does).
private enum Parsed: Equatable, CustomStringConvertible {
    case complete(args: [[UInt8]], consumed: Int)
    case needMore
    case error(String)

    var description: String {
        switch self {
        case .complete(let args, let consumed):
            return "complete(\(args.map { String(decoding: $0, as: UTF8.self).debugDescription }), consumed: \(consumed))"
        case .needMore: return "needMore"
        case .error(let message): return "error(\(message.debugDescription))"
        }
    }
}

private func limits(bulk: Int = 512 * 1024 * 1024, arguments: Int = 1024 * 1024, inline: Int = 64 * 1024) -> ProtocolLimits {
    var limits = ProtocolLimits()
    limits.maxBulkBytes = bulk
    limits.maxArguments = arguments
    limits.maxInlineBytes = inline
    return limits
}

/// Parses `frame` with `parser`; the frame is copied into fresh memory first, so a resumed
/// parse never relies on the previous call's buffer address.
private func parse(_ parser: inout RequestParser, _ frame: [UInt8]) -> Parsed {
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(frame.count, 1), alignment: 1)
    defer { copy.deallocate() }
    copy.copyBytes(from: frame)
    let view = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(copy)[0..<frame.count])
    switch parser.parse(view) {
    case .needMore:
        return .needMore
    case .error(let message):
        return .error(message)
    case .complete(let consumed, let inline):
        XCTAssertLessThanOrEqual(consumed, frame.count)
        let source: [UInt8] = inline ? parser.inlineScratch.bytes : frame
        let args = parser.spans.map { span -> [UInt8] in
            XCTAssertGreaterThanOrEqual(span.offset, 0)
            XCTAssertLessThanOrEqual(span.offset + span.length, source.count)
            return Array(source[span.offset..<(span.offset + span.length)])
        }
        return .complete(args: args, consumed: consumed)
    }
}

private func parseFresh(_ frame: [UInt8], limits: ProtocolLimits = ProtocolLimits()) -> Parsed {
    var parser = RequestParser(limits: limits)
    return parse(&parser, frame)
}

private func parseFresh(_ frame: String, limits: ProtocolLimits = ProtocolLimits()) -> Parsed {
    parseFresh(bytes(frame), limits: limits)
}

private func complete(_ args: [String], consumed: Int) -> Parsed {
    .complete(args: args.map(bytes), consumed: consumed)
}

/// The RESP multibulk encoding of `args`.
private func multibulk(_ args: [[UInt8]]) -> [UInt8] {
    let buffer = ByteBuffer()
    encodeCommand(args, into: buffer)
    return buffer.bytes
}

private func decode(_ data: [UInt8]) -> ReplyDecoder.Outcome {
    data.withUnsafeBytes { ReplyDecoder.decode($0) }
}

private func decodeComplete(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> RESPValue? {
    let data = bytes(text)
    switch decode(data) {
    case .complete(let value, let consumed):
        XCTAssertEqual(consumed, data.count, "consumed", file: file, line: line)
        return value
    case .needMore:
        XCTFail("needMore for \(text.debugDescription)", file: file, line: line)
    case .error(let message):
        XCTFail("error \(message) for \(text.debugDescription)", file: file, line: line)
    }
    return nil
}

private func decodeError(_ data: [UInt8]) -> String? {
    if case .error(let message) = decode(data) { return message }
    return nil
}

private func isNeedMore(_ outcome: ReplyDecoder.Outcome) -> Bool {
    if case .needMore = outcome { return true }
    return false
}

// MARK: - Request parser

final class RESPParserTests: XCTestCase {

    // MARK: Multibulk

    func testSimpleMultibulk() {
        let frame = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
        XCTAssertEqual(parseFresh(frame), complete(["SET", "key", "value"], consumed: frame.utf8.count))
    }

    func testEmptyAndNullMultibulkAreCompleteWithZeroArguments() {
        // Redis ignores these (processMultibulkBuffer returns C_OK with argc 0).
        XCTAssertEqual(parseFresh("*0\r\n"), complete([], consumed: 4))
        XCTAssertEqual(parseFresh("*-1\r\n"), complete([], consumed: 5))
        XCTAssertEqual(parseFresh("*-10\r\n"), complete([], consumed: 6))
        // Only the empty frame is consumed; what follows is the next frame.
        XCTAssertEqual(parseFresh("*0\r\n*1\r\n$4\r\nPING\r\n"), complete([], consumed: 4))
        // The parser is usable again right away.
        var parser = RequestParser(limits: ProtocolLimits())
        XCTAssertEqual(parse(&parser, bytes("*-1\r\n")), complete([], consumed: 5))
        XCTAssertEqual(parse(&parser, bytes("*1\r\n$4\r\nPING\r\n")), complete(["PING"], consumed: 14))
    }

    func testBinaryArgumentsWithNulAndCRLFInside() {
        let binary: [UInt8] = [0, 13, 10, 255, 0, 42, 13, 10, 13]
        let all = (0...255).map { UInt8($0) }
        let frame = multibulk([bytes("SET"), binary, all])
        XCTAssertEqual(parseFresh(frame), .complete(args: [bytes("SET"), binary, all], consumed: frame.count))
    }

    func testZeroLengthArguments() {
        let frame = "*3\r\n$0\r\n\r\n$3\r\nabc\r\n$0\r\n\r\n"
        XCTAssertEqual(parseFresh(frame), complete(["", "abc", ""], consumed: frame.utf8.count))
    }

    func testBytesAfterBulkDataAreSkippedUnchecked() {
        // Redis skips the two bytes after the data without looking at them, and only needs
        // some byte after a header's \r.
        XCTAssertEqual(parseFresh("*1\r\n$4\r\nPINGxx"), complete(["PING"], consumed: 14))
        XCTAssertEqual(parseFresh("*1\rx$4\r\nPING\r\n"), complete(["PING"], consumed: 14))
    }

    func testFrameSplitAtEveryBytePosition() {
        let frames: [[UInt8]] = [
            multibulk([bytes("SET"), bytes("key"), bytes("va\r\nl\r\n")]),
            multibulk([bytes("SET"), [0, 1, 13, 10, 0], []]),
            multibulk([[], [], bytes("x")]),
            multibulk((0..<12).map { bytes("argument-\($0)") }),
            multibulk([[UInt8](repeating: 0x61, count: 300)]),
            bytes("*0\r\n"),
            bytes("*-1\r\n"),
            bytes("PING\r\n"),
            bytes("SET a b\n"),
            bytes("SET \"a b\" 'x y' \"\\x41\\n\"\r\n"),
            bytes("\r\n"),
        ]
        for frame in frames {
            let expected = parseFresh(frame)
            guard case .complete(_, let consumed) = expected else {
                XCTFail("\(frame) did not parse: \(expected)")
                continue
            }
            XCTAssertEqual(consumed, frame.count)
            // A fresh parser for each prefix, then the whole frame with the same parser.
            for cut in 0..<frame.count {
                var parser = RequestParser(limits: ProtocolLimits())
                let prefix = Array(frame[0..<cut])
                XCTAssertEqual(parse(&parser, prefix), .needMore, "prefix \(cut) of \(frame.count)")
                XCTAssertEqual(parse(&parser, frame), expected, "resumed after prefix \(cut)")
            }
            // The resumable path: one parser, buffers growing one byte at a time from the
            // same frame start (each in new memory).
            var parser = RequestParser(limits: ProtocolLimits())
            for cut in 1..<frame.count {
                XCTAssertEqual(parse(&parser, Array(frame[0..<cut])), .needMore, "growing prefix \(cut)")
            }
            XCTAssertEqual(parse(&parser, frame), expected)
            // And the parser is ready for another frame.
            XCTAssertEqual(parse(&parser, frame), expected)
        }
    }

    func testResumedParseWithExtraBytesAfterTheFrame() {
        let frame = multibulk([bytes("GET"), bytes("some-key")])
        let next = multibulk([bytes("PING")])
        var parser = RequestParser(limits: ProtocolLimits())
        XCTAssertEqual(parse(&parser, Array(frame[0..<10])), .needMore)
        XCTAssertEqual(parse(&parser, Array(frame[0..<20])), .needMore)
        XCTAssertEqual(parse(&parser, frame + next), .complete(args: [bytes("GET"), bytes("some-key")], consumed: frame.count))
        XCTAssertEqual(parse(&parser, next), .complete(args: [bytes("PING")], consumed: next.count))
    }

    func testLargeBulkAnnouncesItsSize() {
        var parser = RequestParser(limits: ProtocolLimits())
        let header = bytes("*2\r\n$3\r\nSET\r\n$100000\r\n")
        XCTAssertEqual(parse(&parser, header), .needMore)
        XCTAssertEqual(parser.minimumFrameBytes, header.count + 100_000 + 2)
        let frame = header + [UInt8](repeating: 7, count: 100_000) + bytes("\r\n")
        XCTAssertEqual(parse(&parser, Array(frame[0..<(frame.count - 1)])), .needMore)
        XCTAssertEqual(parse(&parser, frame), .complete(args: [bytes("SET"), [UInt8](repeating: 7, count: 100_000)], consumed: frame.count))
        XCTAssertEqual(parser.minimumFrameBytes, 0)
    }

    func testManyFramesInOneBuffer() {
        var buffer: [UInt8] = []
        var expected: [[[UInt8]]] = []
        for index in 0..<200 {
            switch index % 5 {
            case 0:
                let args = [bytes("SET"), bytes("key:\(index)"), [UInt8](repeating: UInt8(index & 0xff), count: index)]
                buffer += multibulk(args)
                expected.append(args)
            case 1:
                buffer += bytes("GET key:\(index)\r\n")
                expected.append([bytes("GET"), bytes("key:\(index)")])
            case 2:
                buffer += bytes("*0\r\n")
                expected.append([])
            case 3:
                buffer += bytes("ECHO \"a\\x00b\" '\(index)'\n")
                expected.append([bytes("ECHO"), [97, 0, 98], bytes("\(index)")])
            default:
                buffer += bytes("\r\n")
                expected.append([])
            }
        }
        var parser = RequestParser(limits: ProtocolLimits())
        var offset = 0
        var got: [[[UInt8]]] = []
        while offset < buffer.count && got.count <= expected.count {
            guard case .complete(let args, let consumed) = parse(&parser, Array(buffer[offset...])) else {
                XCTFail("frame \(got.count) at offset \(offset) did not complete")
                return
            }
            XCTAssertGreaterThan(consumed, 0)
            got.append(args)
            offset += consumed
        }
        XCTAssertEqual(offset, buffer.count)
        XCTAssertEqual(got, expected)
    }

    // MARK: Inline

    func testInlineCommands() {
        XCTAssertEqual(parseFresh("PING\r\n"), complete(["PING"], consumed: 6))
        XCTAssertEqual(parseFresh("SET a b\n"), complete(["SET", "a", "b"], consumed: 8))
        XCTAssertEqual(parseFresh("  SET \t a   b  \r\n"), complete(["SET", "a", "b"], consumed: 17))
        XCTAssertEqual(parseFresh("SET \"a b\" 'x y'\r\n"), complete(["SET", "a b", "x y"], consumed: 17))
        XCTAssertEqual(parseFresh("ECHO \"\\x41\\n\"\r\n"), complete(["ECHO", "A\n"], consumed: 15))
        XCTAssertEqual(parseFresh("ECHO \"a\\x41\\n\"\r\n"), complete(["ECHO", "aA\n"], consumed: 16))
        // Only the first line is the command.
        XCTAssertEqual(parseFresh("PING\r\nPING\r\n"), complete(["PING"], consumed: 6))
    }

    func testInlineEscapesAndQuotes() {
        // Double quotes: \n \r \t \b \a \xHH; any other escaped byte stands for itself.
        XCTAssertEqual(parseFresh("E \"\\t\\r\\b\\a\\\\\\\"\\q\"\n"), complete(["E", "\t\r\u{8}\u{7}\\\"q"], consumed: 19))
        // \x needs two hex digits, else it is a plain escaped 'x'.
        XCTAssertEqual(parseFresh("E \"\\x4g\"\n"), complete(["E", "x4g"], consumed: 9))
        XCTAssertEqual(parseFresh("E \"\\xfF\\x00\"\n"), .complete(args: [bytes("E"), [0xff, 0]], consumed: 13))
        // Single quotes: only \' is an escape.
        XCTAssertEqual(parseFresh("E 'x\\'y'\n"), complete(["E", "x'y"], consumed: 9))
        XCTAssertEqual(parseFresh("E 'a\\nb'\n"), complete(["E", "a\\nb"], consumed: 9))
        XCTAssertEqual(parseFresh("E 'a\"b'\n"), complete(["E", "a\"b"], consumed: 8))
        // Quotes may start inside a token; empty quotes are an empty argument.
        XCTAssertEqual(parseFresh("E ab\"cd\" \"\" ''\n"), complete(["E", "abcd", "", ""], consumed: 15))
        // A closing quote followed by any isspace byte (\v included) is fine.
        XCTAssertEqual(parseFresh("E \"a\"\u{0B}b\n"), complete(["E", "a", "b"], consumed: 8))
    }

    func testInlineSeparatorsAreRedisOnes() {
        // Inside a token only space, \t, \r and \n separate; \v and \f stay in the token
        // (leading blanks are skipped with isspace, which includes them).
        XCTAssertEqual(parseFresh("ECHO a\u{0B}b\r\n"), complete(["ECHO", "a\u{0B}b"], consumed: 10))
        XCTAssertEqual(parseFresh("ECHO \u{0B}\u{0C}ab\r\n"), complete(["ECHO", "ab"], consumed: 11))
        XCTAssertEqual(parseFresh("PING\rPING\r\n"), complete(["PING", "PING"], consumed: 11))
        XCTAssertEqual(parseFresh("ECHO a\rb\r\n"), complete(["ECHO", "a", "b"], consumed: 10))
        // Only one \r before the \n is part of the line end.
        XCTAssertEqual(parseFresh("PING\r\r\n"), complete(["PING"], consumed: 7))
        // NUL is an ordinary byte here (Redis would not complete such a line at all).
        XCTAssertEqual(parseFresh("ECHO a\u{0}b\r\n"), .complete(args: [bytes("ECHO"), [97, 0, 98]], consumed: 10))
    }

    func testBlankInlineLinesHaveZeroArguments() {
        XCTAssertEqual(parseFresh("\r\n"), complete([], consumed: 2))
        XCTAssertEqual(parseFresh("\n"), complete([], consumed: 1))
        XCTAssertEqual(parseFresh("   \t \r\n"), complete([], consumed: 7))
    }

    func testUnbalancedQuotes() {
        let message = "Protocol error: unbalanced quotes in request"
        for line in ["SET \"abc\r\n", "SET 'abc\r\n", "SET \"a\"b\r\n", "SET 'a'b\r\n", "ECHO \"a\\\"\r\n", "ECHO \"a\\\r\n", "\"\n"] {
            XCTAssertEqual(parseFresh(line), .error(message), line.debugDescription)
        }
    }

    func testInlineArgumentCountLimit() {
        XCTAssertEqual(parseFresh("a b c\n", limits: limits(arguments: 3)), complete(["a", "b", "c"], consumed: 6))
        XCTAssertEqual(parseFresh("a b c d\n", limits: limits(arguments: 3)),
                       .error("Protocol error: too many arguments in inline request"))
    }

    // MARK: Limits and malformed frames

    func testBulkLengthLimit() {
        let small = limits(bulk: 16)
        let ok = multibulk([[UInt8](repeating: 1, count: 16)])
        XCTAssertEqual(parseFresh(ok, limits: small), .complete(args: [[UInt8](repeating: 1, count: 16)], consumed: ok.count))
        XCTAssertEqual(parseFresh("*1\r\n$17\r\n", limits: small), .error("Protocol error: invalid bulk length"))
        // Checked from the header alone: no data needs to arrive.
        XCTAssertEqual(parseFresh("*2\r\n$1\r\na\r\n$999999999999\r\n", limits: small), .error("Protocol error: invalid bulk length"))
        // The default limit is Redis' 512 MB.
        XCTAssertEqual(parseFresh("*1\r\n$536870912\r\n"), .needMore)
        XCTAssertEqual(parseFresh("*1\r\n$536870913\r\n"), .error("Protocol error: invalid bulk length"))
    }

    func testEmptyAndOneDigitBulks() {
        XCTAssertEqual(parseFresh("*2\r\n$0\r\n\r\n$1\r\nx\r\n"), .complete(args: [[], [120]], consumed: 17))
        XCTAssertEqual(parseFresh("*1\r\n$0\r"), .needMore, "the byte after the \\r has not arrived")
        XCTAssertEqual(parseFresh("*1\r"), .needMore)
    }

    func testBadBulkLengths() {
        for header in ["$-1", "$-5", "$", "$abc", "$04", "$+4", "$1.5", "$4 ", "$ 4", "$-0", "$99999999999999999999",
                       "$000000000", "$0000000000", "$1000000000", "$0x"] {
            XCTAssertEqual(parseFresh("*1\r\n\(header)\r\nPING\r\n"), .error("Protocol error: invalid bulk length"), header)
        }
    }

    func testArgumentCountLimit() {
        let small = limits(arguments: 4)
        let four = multibulk([[1], [2], [3], [4]])
        XCTAssertEqual(parseFresh(four, limits: small), .complete(args: [[1], [2], [3], [4]], consumed: four.count))
        XCTAssertEqual(parseFresh("*5\r\n", limits: small), .error("Protocol error: invalid multibulk length"))
        XCTAssertEqual(parseFresh("*1048576\r\n"), .needMore)
        XCTAssertEqual(parseFresh("*1048577\r\n"), .error("Protocol error: invalid multibulk length"))
    }

    func testBadMultibulkCounts() {
        for header in ["*abc", "*", "*+1", "*01", "*-0", "*1 ", "* 1", "*1x", "*99999999999999999999", "*1\n$4",
                       "*000000001", "*1000000000"] {
            XCTAssertEqual(parseFresh("\(header)\r\n"), .error("Protocol error: invalid multibulk length"), header)
        }
    }

    func testExpectedDollar() {
        // A bulk header that is only its `\r`: the marker check speaks first (CR shown as a space).
        XCTAssertEqual(parseFresh("*1\r\n\r\nxx"), .error("Protocol error: expected '$', got ' '"))
        XCTAssertEqual(parseFresh("*1\r\nx\r\n"), .error("Protocol error: expected '$', got 'x'"))
        XCTAssertEqual(parseFresh("*2\r\n$1\r\na\r\n:1\r\n"), .error("Protocol error: expected '$', got ':'"))
        // Redis' test suite: "Wrong multibulk payload header".
        XCTAssertEqual(parseFresh("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"), .error("Protocol error: expected '$', got 'f'"))
        // As Redis: the marker is looked at once the header line is complete.
        XCTAssertEqual(parseFresh("*1\r\nx"), .needMore)
        XCTAssertEqual(parseFresh("*1\r\nxyz\r"), .needMore)
        // CR and LF show as a space (Redis maps them in error lines); other bytes are raw,
        // carried as the scalar of the same value.
        XCTAssertEqual(parseFresh("*1\r\n\r\r\n"), .error("Protocol error: expected '$', got ' '"))
        XCTAssertEqual(parseFresh("*1\r\n\n\r\n"), .error("Protocol error: expected '$', got ' '"))
        XCTAssertEqual(parseFresh([42, 49, 13, 10, 1, 13, 10]), .error("Protocol error: expected '$', got '\u{01}'"))
        XCTAssertEqual(parseFresh([42, 49, 13, 10, 0xff, 13, 10]), .error("Protocol error: expected '$', got '\u{FF}'"))
    }

    func testTooBigInlineRequest() {
        let small = limits(inline: 32)
        let line = [UInt8](repeating: UInt8(ascii: "a"), count: 32)
        XCTAssertEqual(parseFresh(line, limits: small), .needMore)
        XCTAssertEqual(parseFresh(line + [10], limits: small), .complete(args: [line], consumed: 33))
        XCTAssertEqual(parseFresh(line + bytes("a"), limits: small), .error("Protocol error: too big inline request"))
        XCTAssertEqual(parseFresh(line + bytes("a\n"), limits: small), .error("Protocol error: too big inline request"))
        // The default is Redis' 64 KB.
        XCTAssertEqual(parseFresh([UInt8](repeating: 98, count: 64 * 1024)), .needMore)
        XCTAssertEqual(parseFresh([UInt8](repeating: 98, count: 64 * 1024 + 1)), .error("Protocol error: too big inline request"))
    }

    func testTooBigHeaderLines() {
        let small = limits(inline: 32)
        let digits = [UInt8](repeating: UInt8(ascii: "1"), count: 40)
        XCTAssertEqual(parseFresh(bytes("*") + Array(digits[0..<31]), limits: small), .needMore)
        XCTAssertEqual(parseFresh(bytes("*") + digits, limits: small), .error("Protocol error: too big mbulk count string"))
        XCTAssertEqual(parseFresh(bytes("*1\r\n$") + Array(digits[0..<31]), limits: small), .needMore)
        XCTAssertEqual(parseFresh(bytes("*1\r\n$") + digits, limits: small), .error("Protocol error: too big bulk count string"))
        // The size check comes before the marker check, as in Redis.
        XCTAssertEqual(parseFresh(bytes("*1\r\n") + [UInt8](repeating: 121, count: 40), limits: small),
                       .error("Protocol error: too big bulk count string"))
        // A long line that does end is judged by its number, as in Redis.
        XCTAssertEqual(parseFresh(bytes("*") + digits + bytes("\r\n"), limits: small), .error("Protocol error: invalid multibulk length"))
        XCTAssertEqual(parseFresh(bytes("*1\r\n$") + digits + bytes("\r\n"), limits: small), .error("Protocol error: invalid bulk length"))
    }

    func testParserIsReusableAfterAnError() {
        var parser = RequestParser(limits: limits(bulk: 8))
        XCTAssertEqual(parse(&parser, bytes("*2\r\n$3\r\nGET\r\n")), .needMore)
        XCTAssertEqual(parse(&parser, bytes("*2\r\n$3\r\nGET\r\n$9\r\n")), .error("Protocol error: invalid bulk length"))
        XCTAssertEqual(parse(&parser, bytes("*1\r\n$4\r\nPING\r\n")), complete(["PING"], consumed: 14))
        XCTAssertEqual(parse(&parser, bytes("PING\r\n")), complete(["PING"], consumed: 6))
    }

    // MARK: - Reply decoder

    func testDecodeRESP2Types() {
        XCTAssertEqual(decodeComplete("+OK\r\n"), .simple("OK"))
        XCTAssertEqual(decodeComplete("+\r\n"), .simple(""))
        XCTAssertEqual(decodeComplete("-ERR wrong type\r\n"), .error("ERR wrong type"))
        XCTAssertEqual(decodeComplete(":0\r\n"), .integer(0))
        XCTAssertEqual(decodeComplete(":-42\r\n"), .integer(-42))
        XCTAssertEqual(decodeComplete(":9223372036854775807\r\n"), .integer(.max))
        XCTAssertEqual(decodeComplete(":-9223372036854775808\r\n"), .integer(.min))
        XCTAssertEqual(decodeComplete("$5\r\nhello\r\n"), .bulk(bytes("hello")))
        XCTAssertEqual(decodeComplete("$0\r\n\r\n"), .bulk([]))
        XCTAssertEqual(decodeComplete("$6\r\na\r\nb\r\n\r\n"), .bulk(bytes("a\r\nb\r\n")))
        XCTAssertEqual(decodeComplete("$-1\r\n"), .null)
        XCTAssertEqual(decodeComplete("*-1\r\n"), .null)
        XCTAssertEqual(decodeComplete("*0\r\n"), .array([]))
        XCTAssertEqual(decodeComplete("*3\r\n:1\r\n$-1\r\n*2\r\n+a\r\n-b\r\n"),
                       .array([.integer(1), .null, .array([.simple("a"), .error("b")])]))
        let binary: [UInt8] = [0, 255, 13, 10, 36]
        guard case .complete(let value, let consumed) = decode(bytes("$5\r\n") + binary + bytes("\r\n")) else {
            return XCTFail("binary bulk")
        }
        XCTAssertEqual(value, .bulk(binary))
        XCTAssertEqual(consumed, 11)
    }

    func testDecodeRESP3TypesAsRedisSendsThem() {
        // Bytes captured from redis-server 7.0.15: HELLO 3, then DEBUG PROTOCOL <type>.
        XCTAssertEqual(decodeComplete("_\r\n"), .null)
        XCTAssertEqual(decodeComplete(",3.141\r\n"), .double(3.141))
        XCTAssertEqual(decodeComplete(",inf\r\n"), .double(.infinity))
        XCTAssertEqual(decodeComplete(",-inf\r\n"), .double(-.infinity))
        XCTAssertEqual(decodeComplete(",nan\r\n"), .double(.nan))
        XCTAssertEqual(decodeComplete(",-0\r\n"), .double(-0.0))
        XCTAssertEqual(decodeComplete(",1e+17\r\n"), .double(1e17))
        XCTAssertEqual(decodeComplete("#t\r\n"), .boolean(true))
        XCTAssertEqual(decodeComplete("#f\r\n"), .boolean(false))
        XCTAssertEqual(decodeComplete("(1234567999999999999999999999999999999\r\n"),
                       .bigNumber("1234567999999999999999999999999999999"))
        XCTAssertEqual(decodeComplete("=29\r\ntxt:This is a verbatim\nstring\r\n"), .verbatim("This is a verbatim\nstring"))
        XCTAssertEqual(decodeComplete("%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n"),
                       .map([(.integer(0), .boolean(false)), (.integer(1), .boolean(true)), (.integer(2), .boolean(false))]))
        XCTAssertEqual(decodeComplete("%0\r\n"), .map([]))
        XCTAssertEqual(decodeComplete("~3\r\n:0\r\n:1\r\n:2\r\n"), .set([.integer(0), .integer(1), .integer(2)]))
        XCTAssertEqual(decodeComplete(">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n"),
                       .push([bulk("server-cpu-usage"), .integer(42)]))
        XCTAssertEqual(decodeComplete("!21\r\nSYNTAX invalid syntax\r\n"), .error("SYNTAX invalid syntax"))
        // An attribute is metadata in front of the real reply, which is what decode returns.
        XCTAssertEqual(decodeComplete("|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply following the attribute\r\n"),
                       bulk("Some real reply following the attribute"))
        XCTAssertEqual(decodeComplete("*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n"), .array([.integer(1), .integer(2)]))
        // The HELLO 3 reply.
        let hello = "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:3\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
        guard case .map(let pairs)? = decodeComplete(hello) else { return XCTFail("HELLO reply") }
        XCTAssertEqual(pairs.count, 7)
        XCTAssertEqual(pairs[2].0, bulk("proto"))
        XCTAssertEqual(pairs[2].1, .integer(3))
        XCTAssertEqual(pairs[6].1, .array([]))
    }

    func testDecodeConsumesOneReplyOnly() {
        let data = bytes("+OK\r\n:1\r\n")
        guard case .complete(let value, let consumed) = decode(data) else { return XCTFail("first") }
        XCTAssertEqual(value, .simple("OK"))
        XCTAssertEqual(consumed, 5)
        guard case .complete(let second, let consumed2) = decode(Array(data[5...])) else { return XCTFail("second") }
        XCTAssertEqual(second, .integer(1))
        XCTAssertEqual(consumed2, 4)
        XCTAssertTrue(isNeedMore(decode([])))
    }

    func testDecodeSplitRepliesNeedMore() {
        let replies = [
            "+OK\r\n", "-ERR x\r\n", ":123\r\n", "$5\r\nhello\r\n", "$0\r\n\r\n", "$-1\r\n", "*-1\r\n", "*0\r\n",
            "*3\r\n:1\r\n$2\r\nab\r\n*1\r\n+x\r\n", "_\r\n", ",1.5\r\n", "#t\r\n", "(12345678901234567890\r\n",
            "=8\r\ntxt:abcd\r\n", "%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n", "~1\r\n+a\r\n", ">2\r\n+message\r\n+hi\r\n",
            "|1\r\n+k\r\n+v\r\n:5\r\n", "!5\r\nERR x\r\n",
        ]
        for reply in replies {
            let data = bytes(reply)
            guard case .complete(let whole, let consumed) = decode(data) else {
                XCTFail("\(reply.debugDescription) did not decode")
                continue
            }
            XCTAssertEqual(consumed, data.count, reply.debugDescription)
            for cut in 0..<data.count {
                XCTAssertTrue(isNeedMore(decode(Array(data[0..<cut]))), "prefix \(cut) of \(reply.debugDescription)")
            }
            guard case .complete(let again, _) = decode(data + bytes("+next\r\n")) else { return XCTFail("with tail") }
            XCTAssertEqual(again, whole)
        }
    }

    func testDecodeErrors() {
        XCTAssertNotNil(decodeError(bytes("?what\r\n")))
        XCTAssertNotNil(decodeError(bytes(":12x\r\n")))
        XCTAssertNotNil(decodeError(bytes("$abc\r\n")))
        XCTAssertNotNil(decodeError(bytes("*x\r\n")))
        XCTAssertNotNil(decodeError(bytes("#x\r\n")))
        XCTAssertNotNil(decodeError(bytes(",notanumber\r\n")))
        // Hostile sizes are refused before any allocation, and do not trap.
        XCTAssertEqual(decodeError(bytes("$2000000000\r\n")), "bulk too large")
        XCTAssertEqual(decodeError(bytes("*99999999999\r\n")), "aggregate too large")
        XCTAssertEqual(decodeError(bytes("%9223372036854775807\r\n")), "aggregate too large")
        XCTAssertEqual(decodeError(bytes("%99999999999\r\n")), "aggregate too large")
        // A negative map count is a null (never a wait for bytes that cannot come).
        XCTAssertEqual(decodeComplete("%-1\r\n"), .null)
    }

    func testDecodeNestingLimit() {
        let depth = ReplyDecoder.maxDepth
        let deepest = String(repeating: "*1\r\n", count: depth - 1) + ":7\r\n"
        var expected = RESPValue.integer(7)
        for _ in 0..<(depth - 1) { expected = .array([expected]) }
        XCTAssertEqual(decodeComplete(deepest), expected)
        let tooDeep = String(repeating: "*1\r\n", count: depth) + ":7\r\n"
        XCTAssertEqual(decodeError(bytes(tooDeep)), "reply nested too deeply")
        // Far deeper input fails the same way (no stack exhaustion).
        XCTAssertEqual(decodeError(bytes(String(repeating: "*1\r\n", count: 100_000))), "reply nested too deeply")
    }

    func testEncodedCommandsDecodeAsArrays() {
        let args: [[UInt8]] = [bytes("SET"), [0, 13, 10], []]
        XCTAssertEqual(decode(multibulk(args)).value, .array(args.map { .bulk($0) }))
    }

    // MARK: - Encoder

    func testAppendDecimal() {
        let values: [Int64] = [0, 1, -1, 9, 10, -10, 42, -42, 1_234_567_890, 999_999_999_999_999_999,
                               Int64.max, Int64.min, Int64.max - 1, Int64.min + 1]
        for value in values {
            let buffer = ByteBuffer()
            buffer.appendDecimal(value)
            XCTAssertEqual(String(decoding: buffer.bytes, as: UTF8.self), String(value))
        }
        let buffer = ByteBuffer()
        buffer.appendDecimal(Int64.min)
        XCTAssertEqual(buffer.bytes, bytes("-9223372036854775808"))
        buffer.appendDecimal(Int64.max)
        XCTAssertEqual(buffer.bytes, bytes("-92233720368547758089223372036854775807"))
        // Appending many numbers grows the buffer correctly.
        let many = ByteBuffer()
        var text = ""
        for index in 0..<2_000 {
            let value = Int64(index) * 7_919 * (index % 2 == 0 ? 1 : -1) * 1_000_003
            many.appendDecimal(value)
            many.append(UInt8(ascii: ","))
            text += "\(value),"
        }
        XCTAssertEqual(String(decoding: many.bytes, as: UTF8.self), text)
    }

    /// reverseSegments puts segments of any length (empty ones too) back in reverse order and
    /// leaves the bytes before the first segment, and the consumed ones, alone.
    func testReverseSegmentsKeepsEachSegmentWhole() {
        var seed: UInt64 = 0x5e9
        var scratch: [UInt8] = []  // reused across rounds, as the server does: old bytes must not leak
        for round in 0..<200 {
            let buffer = ByteBuffer()
            buffer.append(bytes("consumed|"))
            buffer.consume(9)
            let prefix = bytes("*n\r\n")
            buffer.append(prefix)
            var segments: [[UInt8]] = []
            var starts: [Int] = []
            for index in 0..<(1 + round % 17) {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                let length = Int((seed >> 33) % 40)
                let segment = (0..<length).map { UInt8(truncatingIfNeeded: index &* 31 &+ $0) }
                starts.append(buffer.count)
                buffer.append(segment)
                segments.append(segment)
            }
            buffer.reverseSegments(starts: starts, scratch: &scratch)
            XCTAssertEqual(buffer.bytes, prefix + segments.reversed().flatMap { $0 }, "round \(round)")
        }
    }

    func testReplyWriterRESP2() {
        let buffer = ByteBuffer()
        var writer = ReplyWriter(buffer: buffer)
        writer.ok()
        writer.simple("PONG")
        writer.simple(String("QUEUED"))
        writer.error("ERR bad\r\nthing\n")
        writer.integer(Int64.min)
        writer.integer(0)
        writer.bulk([0, 13, 10])
        writer.bulk("")
        writer.bulkDecimal(-5)
        writer.null()
        writer.nullArray()
        writer.arrayHeader(2)
        writer.double(1.5)
        writer.double(-.infinity)
        let expected = "+OK\r\n+PONG\r\n+QUEUED\r\n-ERR bad  thing \r\n:-9223372036854775808\r\n:0\r\n$3\r\n\0\r\n\r\n$0\r\n\r\n$2\r\n-5\r\n$-1\r\n*-1\r\n*2\r\n$3\r\n1.5\r\n$4\r\n-inf\r\n"
        XCTAssertEqual(String(decoding: buffer.bytes, as: UTF8.self), expected)
        // Every reply decodes back.
        var rest = buffer.bytes
        var count = 0
        while !rest.isEmpty && count < 100 {
            guard case .complete(_, let consumed) = decode(rest) else { return XCTFail("reply \(count) did not decode") }
            rest.removeFirst(consumed)
            count += 1
        }
        XCTAssertEqual(count, 12)
    }

    func testReplyWriterRESP3() {
        let buffer = ByteBuffer()
        var writer = ReplyWriter(buffer: buffer)
        writer.resp3 = true
        writer.null()
        writer.nullArray()
        writer.double(0.1)
        writer.double(.infinity)
        writer.double(3)
        XCTAssertEqual(String(decoding: buffer.bytes, as: UTF8.self), "_\r\n_\r\n,0.10000000000000001\r\n,inf\r\n,3\r\n")
    }

    func testBulkOfLargeValue() {
        let buffer = ByteBuffer()
        let value = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        ReplyWriter(buffer: buffer).bulk(value)
        XCTAssertEqual(decode(buffer.bytes).value, .bulk(value))
    }

    func testBulkFramesAtEveryDigitBoundary() {
        // One buffer, frames back to back: each length's decimal header, CRLFs and bytes.
        let buffer = ByteBuffer()
        var expected: [UInt8] = []
        for length in [0, 1, 9, 10, 11, 99, 100, 101, 999, 1_000, 9_999, 10_000, 65_536, 100_000, 1_000_000] {
            let value = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ length) }
            ReplyWriter(buffer: buffer).bulk(value)
            expected += Array("$\(length)\r\n".utf8) + value + [13, 10]
        }
        XCTAssertEqual(buffer.count, expected.count)
        XCTAssertTrue(buffer.bytes == expected)
    }

    // MARK: - Doubles

    /// What redis-server 7.0.15 prints for ZSCORE (addReplyDouble: "%.17g", inf/-inf).
    static let redisDoubles: [(Double, String)] = [
        (1, "1"), (1.5, "1.5"), (.infinity, "inf"), (-.infinity, "-inf"), (0.1, "0.10000000000000001"),
        (1e17, "1e+17"), (-0.0, "-0"), (0, "0"), (1e16, "10000000000000000"), (-3, "-3"),
        (123456789012345678, "1.2345678901234568e+17"), (0.30000000000000004, "0.30000000000000004"),
        (1e-5, "1.0000000000000001e-05"), (2.5e-310, "2.5000000000000171e-310"),
        (4503599627370497, "4503599627370497"), (-4503599627370497, "-4503599627370497"),
        (99999999999999984, "99999999999999984"), (1e300, "1.0000000000000001e+300"), (-2.5, "-2.5"),
    ]

    func testFormatDouble() {
        for (value, text) in Self.redisDoubles {
            XCTAssertEqual(formatDouble(value), text, "\(value)")
        }
    }

    func testFormatDoubleIsPercent17g() {
        // The integer shortcut must agree with "%.17g" everywhere.
        var samples: [Double] = [0, -0.0, 1, -1, 0.5, 1e15, 1e16 + 2, 9007199254740993, 1e17 - 16, 1e17, 1e18, 5e-324,
                                 .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2_000 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let bits = seed
            let value = Double(bitPattern: bits)
            if value.isFinite { samples.append(value) }
            samples.append(Double(Int64(bitPattern: bits) >> Int64(bits % 60)))
        }
        for value in samples {
            let reference = String(format: "%.17g", value)
            XCTAssertEqual(formatDouble(value), reference, "\(value)")
        }
    }

    func testParseDoubleAgreesWithStrtod() {
        // The short-integer shortcut must give strtod's result bit for bit ("-0" is -0.0), and
        // everything else must still go to strtod (or be refused as Redis refuses it).
        var inputs = ["0", "-0", "00", "-00", "7", "-7", "007", "123456789012345", "-123456789012345",
                      "1234567890123456", "9007199254740993", "99999999999999999999", "1.5", "-2.5e3",
                      "+5", "inf", "-inf", "+inf", "0x10", "1e400", "", "-", "--1", "1-", " 1", "1 ", "nan",
                      "12a", "\u{0}1"]
        var seed: UInt64 = 0x2545_F491_4F6C_DD1D
        for _ in 0..<2_000 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let magnitude = seed >> (seed % 64)
            inputs.append((seed & 1 == 0 ? "-" : "") + String(magnitude))
        }
        for input in inputs {
            let parsed = Array(input.utf8).withByteView { $0.parseDouble() }
            var end: UnsafeMutablePointer<CChar>? = nil
            let reference: Double? = input.withCString { text in
                let value = strtod(text, &end)
                let whole = end! - UnsafeMutablePointer(mutating: text) == input.utf8.count
                let leadingSpace = input.first.map { $0 == " " } ?? true
                return whole && !leadingSpace && !value.isNaN && !input.contains("\u{0}") ? value : nil
            }
            XCTAssertEqual(parsed?.bitPattern, reference?.bitPattern, "\(input.debugDescription)")
        }
    }

    func testFormatDoubleMatchesRedis() throws {
        // zset-max-listpack-entries 0: a listpack stores -0 as "0"; the skiplist keeps it.
        let redis = try RedisServerProcess(extraArguments: ["--zset-max-listpack-entries", "0"])
        let client = try redis.client()
        for (index, (value, text)) in Self.redisDoubles.enumerated() {
            let member = "m\(index)"
            XCTAssertEqual(try client.run("ZADD", "z", text, member), int(1))
            XCTAssertEqual(try client.run("ZSCORE", "z", member), bulk(text), "\(value)")
        }
    }
}

private extension ReplyDecoder.Outcome {
    var value: RESPValue? {
        if case .complete(let value, _) = self { return value }
        return nil
    }
}
