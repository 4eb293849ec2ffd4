// libFuzzer entry point: each input is fed to the RESP request parser twice — whole, and in
// chunks whose sizes come from the input's first byte — the way ServerCore feeds it
// (incomplete tails kept, parsing resumed from the frame start). Crashes, hangs, leaks and
// out-of-bounds spans (a precondition) are what libFuzzer reports.

@testable import RESPLite

// SwiftPM links an executable's entry point as `<module>_main`: hand control to libFuzzer's
// driver from there (libFuzzer's own `main` is then not linked in).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("resplite_parser_fuzzer_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector, { data, size in fuzzOneInput(data, size) })
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var limits = ProtocolLimits()
    if let first = input.first, first & 1 == 1 {
        // Small limits half of the time, so inputs reach them.
        limits.maxBulkBytes = 4096
        limits.maxArguments = 64
        limits.maxInlineBytes = 256
    }
    let chunk = Int(input.first ?? 1) % 17 + 1
    for chunkSize in [input.count + 1, chunk] {
        var parser = RequestParser(limits: limits)
        var pending: [UInt8] = []
        var position = 0
        parsing: while position < input.count {
            let end = min(input.count, position + chunkSize)
            pending.append(contentsOf: input[position..<end])
            position = end
            var offset = 0
            var steps = 0
            while offset < pending.count {
                steps += 1
                precondition(steps <= pending.count + 1, "no progress")
                let outcome = pending.withUnsafeBytes { parser.parse(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
                switch outcome {
                case .complete(let consumed, let inline):
                    precondition(consumed > 0 && offset + consumed <= pending.count)
                    let bound = inline ? parser.inlineScratch.readableCount : consumed
                    for span in parser.spans {
                        precondition(span.offset >= 0 && span.length >= 0 && span.offset + span.length <= bound)
                    }
                    offset += consumed
                case .needMore:
                    precondition(parser.minimumFrameBytes <= pending.count - offset + limits.maxBulkBytes + limits.maxInlineBytes + 4)
                    break
                case .error:
                    break parsing
                }
                if case .needMore = outcome { break }
            }
            pending.removeFirst(offset)
        }
    }
    return 0
}
