// Deterministic fuzzing of the RESP request parser (issue 9, hostile input): seeded random
// frames — arbitrary bytes, valid frames, valid frames truncated and mutated — fed the way the
// server feeds them (any chunking, incomplete tails kept and parsed again from the frame
// start). Checked: no crash, progress on every step, spans inside their buffer, the same
// requests whatever the chunking, valid frames decoded exactly, bounded time; then the same
// kind of input over the network while a well-behaved client keeps working.
// RESPLITE_FUZZ_ITERATIONS overrides the count; the libFuzzer harness is in docs/reliability.md.

import Foundation
import XCTest
@testable import RESPLite

/// What parsing one input produced: the requests in order, and the first protocol error.
struct ParseTranscript: Equatable {
    var requests: [[[UInt8]]] = []
    var failed = false
    var message = ""
    /// Bytes of an incomplete frame left at the end.
    var tail = 0
}

enum ParserFuzz {
    /// Parses `input` delivered in `chunks` (sizes; the rest in one piece), as ServerCore does.
    static func drive(_ input: [UInt8], chunks: [Int], limits: ProtocolLimits) -> ParseTranscript {
        var parser = RequestParser(limits: limits)
        var transcript = ParseTranscript()
        var pending: [UInt8] = []
        var position = 0
        var chunkIndex = 0
        var steps = 0
        while position < input.count {
            let size = chunkIndex < chunks.count ? max(1, chunks[chunkIndex]) : input.count - position
            chunkIndex += 1
            let end = min(input.count, position + size)
            pending.append(contentsOf: input[position..<end])
            position = end
            var offset = 0
            var stop = false
            while offset < pending.count && !stop {
                steps += 1
                precondition(steps <= 4 * input.count + 16, "parser made no progress")
                let outcome = pending.withUnsafeBytes { parser.parse(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
                switch outcome {
                case .complete(let consumed, let inline):
                    precondition(consumed > 0 && offset + consumed <= pending.count, "bad consumed \(consumed)")
                    var argv: [[UInt8]] = []
                    if inline {
                        let scratch = Array(parser.inlineScratch.readableBytes)
                        for span in parser.spans {
                            precondition(span.offset >= 0 && span.length >= 0 && span.offset + span.length <= scratch.count)
                            argv.append(Array(scratch[span.offset..<span.offset + span.length]))
                        }
                    } else {
                        for span in parser.spans {
                            precondition(span.offset >= 0 && span.length >= 0 && span.offset + span.length <= consumed)
                            argv.append(Array(pending[offset + span.offset..<offset + span.offset + span.length]))
                        }
                    }
                    if !argv.isEmpty { transcript.requests.append(argv) }
                    offset += consumed
                case .needMore:
                    // What the server would reserve stays within the announced, allowed bulk.
                    precondition(parser.minimumFrameBytes <= pending.count - offset + limits.maxBulkBytes + limits.maxInlineBytes + 4)
                    stop = true
                case .error(let message):
                    transcript.failed = true
                    transcript.message = message
                    return transcript
                }
            }
            pending.removeFirst(offset)
        }
        transcript.tail = pending.count
        return transcript
    }

    static let commandWords = ["PING", "ECHO", "SET", "GET", "INCR", "DEL", "EXISTS", "LPUSH", "HSET", "SADD", "APPEND", "STRLEN"]

    /// A random argument: printable, binary, empty, CRLF inside, or long.
    static func argument<R: RandomNumberGenerator>(_ random: inout R) -> [UInt8] {
        switch Int.random(in: 0..<6, using: &random) {
        case 0: return []
        case 1: return (0..<Int.random(in: 1...12, using: &random)).map { _ in UInt8.random(in: 97...122, using: &random) }
        case 2: return (0..<Int.random(in: 1...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        case 3: return Array("a\r\nb\r\n$3\r\n*2\r\n".utf8)
        case 4: return [UInt8](repeating: 120, count: Int.random(in: 100...3000, using: &random))
        default: return Array("fz:\(Int.random(in: 0..<50, using: &random))".utf8)
        }
    }

    static func validRequest<R: RandomNumberGenerator>(_ random: inout R) -> [[UInt8]] {
        var argv = [Array(commandWords.randomElement(using: &random)!.utf8)]
        for _ in 0..<Int.random(in: 0...4, using: &random) { argv.append(argument(&random)) }
        return argv
    }

    static func encode(_ argv: [[UInt8]]) -> [UInt8] {
        var bytes = Array("*\(argv.count)\r\n".utf8)
        for argument in argv { bytes += Array("$\(argument.count)\r\n".utf8) + argument + [13, 10] }
        return bytes
    }

    /// One fuzz input and, when it is made only of valid frames, the requests it holds.
    static func input<R: RandomNumberGenerator>(_ random: inout R) -> ([UInt8], [[[UInt8]]]?) {
        switch Int.random(in: 0..<8, using: &random) {
        case 0:  // arbitrary bytes
            return ((0..<Int.random(in: 0...600, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }, nil)
        case 1:  // arbitrary bytes from the protocol's alphabet
            let alphabet = Array("*$\r\n0123456789-+ \"'\\x:abc".utf8)
            return ((0..<Int.random(in: 0...600, using: &random)).map { _ in alphabet.randomElement(using: &random)! }, nil)
        case 2, 3:  // valid multibulk frames, pipelined
            let requests = (0..<Int.random(in: 1...8, using: &random)).map { _ in validRequest(&random) }
            return (requests.flatMap(encode), requests)
        case 4:  // valid simple inline commands
            let requests = (0..<Int.random(in: 1...5, using: &random)).map { _ -> [[UInt8]] in
                [Array(commandWords.randomElement(using: &random)!.utf8)]
                    + (0..<Int.random(in: 0...3, using: &random)).map { _ in Array("w\(Int.random(in: 0...999, using: &random))".utf8) }
            }
            return (requests.flatMap { Array($0.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ").utf8) + [13, 10] }, requests)
        case 5:  // valid frames, truncated
            let bytes = (0..<Int.random(in: 1...4, using: &random)).map { _ in validRequest(&random) }.flatMap(encode)
            return (Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &random))), nil)
        default:  // valid frames, mutated (flips, insertions, deletions, number edits)
            var bytes = (0..<Int.random(in: 1...4, using: &random)).map { _ in validRequest(&random) }.flatMap(encode)
            for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<5, using: &random) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
                case 2: bytes.remove(at: at)
                case 3: bytes.insert(contentsOf: Array(["-1", "99999999999", "0", "-", "2147483648", "\r\n", "*"].randomElement(using: &random)!.utf8), at: at)
                default: bytes[at] = Array("0123456789".utf8).randomElement(using: &random)!
                }
            }
            return (bytes, nil)
        }
    }
}

final class FuzzTests: XCTestCase {
    static var iterations: Int {
        if let text = ProcessInfo.processInfo.environment["RESPLITE_FUZZ_ITERATIONS"], let value = Int(text) { return value }
        return longTestsEnabled ? 200_000 : 8_000
    }

    /// Small limits so inputs reach them: bulk 4 KB, 64 arguments, 256-byte lines.
    static var smallLimits: ProtocolLimits {
        var limits = ProtocolLimits()
        limits.maxBulkBytes = 4096
        limits.maxArguments = 64
        limits.maxInlineBytes = 256
        return limits
    }

    func testParserSurvivesRandomFramesWhateverTheChunking() {
        var random = SplitMix(seed: 0x5EED_0009)
        let started = Date()
        var stats = (inputs: 0, bytes: 0, requests: 0, errors: 0, validChecked: 0)
        for limits in [ProtocolLimits(), Self.smallLimits] {
            for _ in 0..<Self.iterations / 2 {
                let (input, expected) = ParserFuzz.input(&random)
                let whole = ParserFuzz.drive(input, chunks: [], limits: limits)
                var chunks: [Int] = []
                var covered = 0
                while covered < input.count {
                    let size = Int.random(in: 1...max(1, min(64, input.count)), using: &random)
                    chunks.append(size)
                    covered += size
                }
                let chunked = ParserFuzz.drive(input, chunks: chunks, limits: limits)
                // The same requests whatever the chunking; both fail or neither (the message
                // may differ: a header line is "too big" before its \r arrives, as in Redis).
                XCTAssertEqual(whole.requests, chunked.requests, "input \(input)")
                XCTAssertEqual(whole.failed, chunked.failed, "input \(input): \(whole.message) / \(chunked.message)")
                if !whole.failed { XCTAssertEqual(whole.tail, chunked.tail) }
                if let expected, limits.maxBulkBytes > 4096 {
                    XCTAssertEqual(whole.requests, expected, "valid frames decode exactly")
                    XCTAssertFalse(whole.failed)
                    stats.validChecked += 1
                }
                stats.inputs += 1
                stats.bytes += input.count
                stats.requests += whole.requests.count
                stats.errors += whole.failed ? 1 : 0
            }
        }
        // Byte-at-a-time delivery of a few long pipelines (worst case for resumption).
        for _ in 0..<20 {
            let requests = (0..<20).map { _ in ParserFuzz.validRequest(&random) }
            let bytes = requests.flatMap(ParserFuzz.encode)
            XCTAssertEqual(ParserFuzz.drive(bytes, chunks: Array(repeating: 1, count: bytes.count), limits: ProtocolLimits()).requests, requests)
        }
        let elapsed = Date().timeIntervalSince(started)
        print("parser fuzz: \(stats.inputs) inputs, \(stats.bytes) bytes, \(stats.requests) requests, \(stats.errors) protocol errors, \(stats.validChecked) valid inputs checked exactly, \(String(format: "%.1f", elapsed)) s")
        XCTAssertLessThan(elapsed, longTestsEnabled ? 600 : 60, "no hang")
    }

    /// Huge announced lengths never reserve more than the limit allows.
    func testAnnouncedLengthsStayWithinLimits() {
        var random = SplitMix(seed: 77)
        let limits = Self.smallLimits
        for _ in 0..<2_000 {
            let count = Int.random(in: -5...200, using: &random)
            let length = Int.random(in: -5...10_000, using: &random)
            let input = Array("*\(count)\r\n$\(length)\r\nabc".utf8)
            var parser = RequestParser(limits: limits)
            let outcome = input.withUnsafeBytes { parser.parse($0) }
            if case .needMore = outcome {
                XCTAssertLessThanOrEqual(parser.minimumFrameBytes, limits.maxBulkBytes + 64)
            }
            if count > limits.maxArguments || (count > 0 && (length > limits.maxBulkBytes || length < 0)) {
                if case .error = outcome {} else { XCTFail("*\(count) $\(length): \(outcome)") }
            }
        }
    }

    /// The same kind of input over TCP on many connections, while a well-behaved client keeps
    /// getting exact answers. Dangerous commands are disabled on this server.
    func testServerKeepsServingWhileFedRandomFrames() throws {
        let connections = longTestsEnabled ? 2_000 : 150
        try forEachBackend(configure: {
            $0.disabledCommands = ["flushall", "flushdb", "shutdown", "debug", "config", "client", "monitor", "swapdb", "save",
                                   "bgsave", "failover", "replicaof", "slaveof", "sync", "psync", "subscribe", "psubscribe", "ssubscribe"]
            $0.protocolLimits = FuzzTests.smallLimits
        }) { server in
            var random = SplitMix(seed: 4242)
            let good = try server.client()
            var fuzzed = 0
            var sockets: [HostileSocket] = []
            for index in 0..<connections {
                let socket = try HostileSocket(port: server.port, timeoutMs: 2_000)
                let (input, _) = ParserFuzz.input(&random)
                // Sent in a few pieces; read replies on some, never on others, vanish on others.
                var at = 0
                while at < input.count {
                    let size = Int.random(in: 1...max(1, input.count), using: &random)
                    socket.send(Array(input[at..<min(input.count, at + size)]))
                    at += size
                }
                fuzzed += input.count
                switch index % 3 {
                case 0: socket.abort()
                case 1: sockets.append(socket)  // kept open, never read
                default: socket.close()
                }
                if sockets.count > 50 { sockets.removeFirst(25) }
                if index % 10 == 0 {
                    let key = "guard:\(index)"
                    XCTAssertEqual(try good.run("SET", key, "v\(index)"), ok)
                    XCTAssertEqual(try good.run("GET", key), bulk("v\(index)"))
                }
            }
            sockets.removeAll()
            XCTAssertEqual(try good.run("PING"), simple("PONG"))
            XCTAssertEqual(try good.run("GET", "guard:0"), bulk("v0"))
            // CLIENT is disabled here: count through INFO.
            func connected() throws -> String {
                let info = try good.run("INFO", "clients").bulkString ?? ""
                return info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("connected_clients:") }.map(String.init) ?? info
            }
            let allClosed = try eventually { try connected() == "connected_clients:1" }
            let clientsLine = try connected()
            XCTAssertTrue(allClosed, "[\(server.backendName)] fuzzed connections all closed: \(clientsLine)")
            print("[\(server.backendName)] network fuzz: \(connections) connections, \(fuzzed) bytes")
        }
    }
}
