// RESP codec: byte views, growable byte buffers, the in-place request parser, the reply
// encoder, and the reply parser used by the RESP client.
//
// Unsafe pointer code of the protocol layer lives in this file only. Invariants:
//  1. A `ByteView` points into memory owned by someone else (a receive buffer, a parser
//     scratch buffer, a SQLite row). It is valid only while that owner is unchanged: for a
//     request argument, until the command handler returns; for a SQLite column, until the
//     statement is stepped or reset. Code that keeps bytes longer copies them (`array`).
//  2. A `ByteBuffer` owns its storage (malloc). Pointers into it are invalidated by any call
//     that may grow it; the network layer never appends to a buffer while a send from that
//     same buffer is in flight (see `Client.sending`).
//  3. The parser never reads outside the buffer it is given; every length read from the
//     network is checked against the limits before any memory is reserved for it.

import Foundation

// MARK: - ByteView

/// A read-only view of bytes owned elsewhere. Safe to use: every access is bounds-checked.
public struct ByteView: @unchecked Sendable {
    @usableFromInline let base: UnsafeRawPointer?
    public let count: Int

    @inlinable init(base: UnsafeRawPointer?, count: Int) {
        assert(count >= 0 && (count == 0 || base != nil))
        self.base = base
        self.count = count
    }

    init(_ buffer: UnsafeRawBufferPointer) {
        self.init(base: buffer.baseAddress, count: buffer.count)
    }

    public static let empty = ByteView(base: nil, count: 0)

    public var isEmpty: Bool { count == 0 }

    @inlinable public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < count, "ByteView index out of range")
        // Safe: index checked against count just above.
        return base!.load(fromByteOffset: index, as: UInt8.self)
    }

    /// A sub-view; the range is clamped by the caller's checks (precondition here).
    public func slice(_ start: Int, _ end: Int) -> ByteView {
        precondition(start >= 0 && start <= end && end <= count, "ByteView slice out of range")
        if start == end { return .empty }
        return ByteView(base: base! + start, count: end - start)
    }

    /// Copies the bytes out; the copy outlives the owner of the view.
    public var array: [UInt8] {
        guard count > 0 else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: base, count: count))
    }

    /// The bytes as a String (invalid UTF-8 is repaired, so use for messages only).
    public var string: String {
        guard count > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: base, count: count), as: UTF8.self)
    }

    /// Scoped raw access for the SQLite binding and the network layer.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// ASCII case-insensitive comparison with a lowercase literal, e.g. `arg.equalsLower("ex")`.
    public func equalsLower(_ lowercase: StaticString) -> Bool {
        guard lowercase.utf8CodeUnitCount == count else { return false }
        let other = lowercase.utf8Start
        for i in 0..<count {
            var byte = self[i]
            if byte >= 65 && byte <= 90 { byte |= 0x20 }
            // Safe: i < count == utf8CodeUnitCount.
            if byte != other[i] { return false }
        }
        return true
    }

    public static func == (lhs: ByteView, rhs: ByteView) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.count == 0 { return true }
        return memcmp(lhs.base!, rhs.base!, lhs.count) == 0
    }

    public func equals(_ bytes: [UInt8]) -> Bool {
        guard bytes.count == count else { return false }
        if count == 0 { return true }
        return bytes.withUnsafeBytes { memcmp($0.baseAddress!, base!, count) == 0 }
    }

    /// Redis' string2ll: optional '-', digits, no spaces, no '+', no leading zeros, fits Int64.
    public func parseInt64() -> Int64? {
        if count == 0 || count > 20 { return nil }
        var index = 0
        var negative = false
        if self[0] == UInt8(ascii: "-") {
            negative = true
            index = 1
            if count == 1 { return nil }
        }
        if count - index == 1 && self[index] == UInt8(ascii: "0") {
            return negative ? nil : 0
        }
        if self[index] == UInt8(ascii: "0") { return nil }
        var value: UInt64 = 0
        while index < count {
            let digit = self[index] &- UInt8(ascii: "0")
            if digit > 9 { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            if overflow1 || overflow2 { return nil }
            value = sum
            index += 1
        }
        if negative {
            if value > UInt64(Int64.max) + 1 { return nil }
            return value == UInt64(Int64.max) + 1 ? Int64.min : -Int64(value)
        }
        if value > UInt64(Int64.max) { return nil }
        return Int64(value)
    }

    /// Redis' string2ld for INCRBYFLOAT and friends: a finite or infinite double, no spaces,
    /// not NaN. Returns nil for anything strtod would not consume whole.
    public func parseDouble() -> Double? {
        if count == 0 || count > ByteView.doubleMaxBytes { return nil }
        if let exact = parseShortInteger() { return exact }
        let first = self[0]
        if first == 32 || first == 9 || first == 10 || first == 13 || first == 11 || first == 12 { return nil }
        // strtod needs a NUL-terminated copy; it lives on the stack for short inputs.
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { text -> Double? in
            for i in 0..<count {
                let byte = self[i]
                if byte == 0 { return nil }
                text[i] = CChar(bitPattern: byte)
            }
            text[count] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let value = strtod(text.baseAddress!, &end)
            // Safe: end points into `text` (strtod contract).
            guard let end, end - text.baseAddress! == count else { return nil }
            if value.isNaN { return nil }
            return value
        }
    }

    /// The longest input parseDouble reads (longer ones are not a number Redis accepts).
    static let doubleMaxBytes = 5_000

    /// The common score "123" or "-45" without strtod: an optional '-' and 1 to 15 digits,
    /// which a Double holds exactly (< 2^53), so the result is the one strtod gives, "-0"
    /// included (-0.0). Anything else is nil and goes to strtod.
    @inline(__always) private func parseShortInteger() -> Double? {
        let negative = self[0] == UInt8(ascii: "-")
        let start = negative ? 1 : 0
        let digits = count - start
        if digits < 1 || digits > 15 { return nil }
        var value: Int64 = 0
        for i in start..<count {
            let digit = self[i] &- UInt8(ascii: "0")
            if digit > 9 { return nil }
            value = value * 10 + Int64(digit)
        }
        return negative ? -Double(value) : Double(value)
    }
}

extension Array where Element == UInt8 {
    /// A view of an array's bytes, valid inside the closure only.
    @inlinable public func withByteView<R>(_ body: (ByteView) throws -> R) rethrows -> R {
        try withUnsafeBytes { try body(ByteView(base: $0.baseAddress, count: $0.count)) }
    }
}

// MARK: - ByteBuffer

/// A write cursor over bytes `ByteBuffer.appendReserved` set aside. Invariant: `offset` never
/// passes `length` (each store checks), so stores stay inside the reserved bytes.
struct ReservedBytes {
    private let base: UnsafeMutableRawPointer
    private let length: Int
    private(set) var offset = 0

    fileprivate init(base: UnsafeMutableRawPointer, length: Int) {
        self.base = base
        self.length = length
    }

    @inline(__always) mutating func byte(_ value: UInt8) {
        precondition(offset < length, "inside the reserved bytes")
        // Safe: checked just above.
        base.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
        offset += 1
    }

    @inline(__always) mutating func littleEndian<T: FixedWidthInteger>(_ value: T) {
        precondition(offset + MemoryLayout<T>.size <= length, "inside the reserved bytes")
        // Safe: checked just above; storeBytes needs no alignment (SE-0349).
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
    }

    @inline(__always) mutating func bytes(_ source: UnsafeRawBufferPointer) {
        precondition(offset + source.count <= length, "inside the reserved bytes")
        // Safe: checked just above; the source is another buffer.
        if let from = source.baseAddress, source.count > 0 { (base + offset).copyMemory(from: from, byteCount: source.count) }
        offset += source.count
    }

    @inline(__always) mutating func bytes(_ view: ByteView) { view.withUnsafeBytes { bytes($0) } }
}

/// A growable byte buffer that owns its memory: the per-connection input leftover and
/// output queue. `readIndex` marks bytes already consumed (sent or parsed).
public final class ByteBuffer {
    private(set) var storage: UnsafeMutableRawPointer?
    private(set) var capacity: Int = 0
    public private(set) var count: Int = 0
    var readIndex: Int = 0

    public init(capacity: Int = 0) {
        if capacity > 0 { reserve(capacity) }
    }

    deinit { free(storage) }

    public var readableCount: Int { count - readIndex }
    public var isEmpty: Bool { count == readIndex }

    /// Grows so that `extra` more bytes fit. Doubling keeps appends amortised O(1).
    @inline(__always) func reserve(_ extra: Int) {
        let needed = count + extra
        if needed <= capacity { return }
        var newCapacity = Swift.max(capacity * 2, 256)
        while newCapacity < needed { newCapacity *= 2 }
        guard let grown = realloc(storage, newCapacity) else { fatalError("out of memory growing a buffer to \(newCapacity) bytes") }
        storage = grown
        capacity = newCapacity
    }

    /// Drops consumed bytes; if everything was consumed, resets to empty (no copy).
    func compact() {
        if readIndex == 0 { return }
        if readIndex == count {
            readIndex = 0
            count = 0
            return
        }
        // Safe: both ranges lie inside [0, count) of our own storage.
        memmove(storage!, storage! + readIndex, count - readIndex)
        count -= readIndex
        readIndex = 0
    }

    /// Releases memory when a large buffer has been drained (keeps idle clients small).
    func shrinkIfIdle(above limit: Int) {
        guard count == readIndex, capacity > limit else { return }
        free(storage)
        storage = nil
        capacity = 0
        count = 0
        readIndex = 0
    }

    public func removeAll() {
        count = 0
        readIndex = 0
    }

    /// Cuts back to `length` bytes (used to withdraw replies of a failed batch).
    func truncate(to length: Int) {
        precondition(length >= readIndex && length <= count)
        count = length
    }

    /// Reverses the order of the segments that start at `starts` (ascending offsets, the last
    /// segment ending at `count`), keeping each segment's bytes as they are: a reply whose
    /// elements were read last-first is put back in order. The bytes are copied once into
    /// `scratch` (the caller's, reused across calls: no allocation once it is large enough) and
    /// back. The segments must lie after `readIndex`, in bytes not yet handed to a send
    /// (invariant 2: nothing is appended while a send is in flight, and these were just appended).
    func reverseSegments(starts: [Int], scratch: inout [UInt8]) {
        guard starts.count > 1 else { return }
        let start = starts[0]
        precondition(start >= readIndex && start <= count, "segments inside the unread bytes")
        let length = count - start
        scratch.removeAll(keepingCapacity: true)
        // Safe: [start, count) lies inside our storage (checked above).
        scratch.append(contentsOf: UnsafeRawBufferPointer(start: storage! + start, count: length))
        scratch.withUnsafeBytes { copy in
            var writeOffset = start
            var segmentEnd = count
            for segmentStart in starts.reversed() {
                precondition(segmentStart >= start && segmentStart <= segmentEnd, "segment starts ascend")
                let segmentLength = segmentEnd - segmentStart
                // Safe: the segment lies inside the copy ([start, count) shifted by -start), and
                // the write stays inside [start, count) since the lengths add up to `length`.
                (storage! + writeOffset).copyMemory(from: copy.baseAddress! + (segmentStart - start), byteCount: segmentLength)
                writeOffset += segmentLength
                segmentEnd = segmentStart
            }
            assert(writeOffset == count, "every byte written back once")
        }
    }

    /// The unread bytes, valid until the next mutation.
    var readableBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.map { $0 + readIndex }, count: count - readIndex)
    }

    @inline(__always) public func append(_ byte: UInt8) {
        reserve(1)
        storage!.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always) public func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(bytes.count)
        // Safe: reserve made room for bytes.count at offset count.
        (storage! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    @inline(__always) public func append(_ view: ByteView) {
        view.withUnsafeBytes { append($0) }
    }

    @inline(__always) public func append(_ literal: StaticString) {
        append(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Disfavoured so that literals take the StaticString overload (no String round trip).
    @_disfavoredOverload public func append(_ string: String) {
        var string = string
        string.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends the decimal form of an integer without allocating.
    @inline(__always) public func appendDecimal(_ value: Int64) {
        reserve(20)
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch on the stack
        let written = withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var position = 24
            repeat {
                position -= 1
                scratch[position] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 48
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                position -= 1
                scratch[position] = UInt8(ascii: "-")
            }
            let length = 24 - position
            // Safe: reserve(20) above; a decimal Int64 is at most 20 bytes.
            (storage! + count).copyMemory(from: scratch.baseAddress! + position, byteCount: length)
            return length
        }
        count += written
    }

    /// A bulk string's whole frame, `$<length>\r\n<bytes>\r\n`, with one capacity check (the
    /// per-element cost of every array reply: LRANGE, HGETALL, ZRANGE, MGET...).
    @inline(__always) func appendBulk(_ bytes: UnsafeRawBufferPointer) {
        let length = bytes.count
        var digits = 1
        var limit = 10
        while length >= limit && digits < 19 {
            digits += 1
            limit &*= 10
        }
        let frameLength = 1 + digits + 2 + length + 2
        reserve(frameLength)
        // Safe: reserve made room for frameLength bytes at offset count, and every store below
        // lies in [count, count + frameLength): '$', `digits` digits, CRLF, the bytes, CRLF.
        let frame = storage! + count
        frame.storeBytes(of: UInt8(ascii: "$"), as: UInt8.self)
        var remaining = length
        var position = digits
        repeat {
            frame.storeBytes(of: UInt8(truncatingIfNeeded: remaining % 10) &+ 48, toByteOffset: position, as: UInt8.self)
            position -= 1
            remaining /= 10
        } while remaining > 0
        let crlf = UInt16(13) | UInt16(10) << 8
        frame.storeBytes(of: crlf.littleEndian, toByteOffset: 1 + digits, as: UInt16.self)
        if length > 0 { (frame + 3 + digits).copyMemory(from: bytes.baseAddress!, byteCount: length) }
        frame.storeBytes(of: crlf.littleEndian, toByteOffset: 3 + digits + length, as: UInt16.self)
        count += frameLength
    }

    /// Bytes as an array (tests, client).
    public var bytes: [UInt8] { [UInt8](readableBytes) }

    /// Appends an integer's bytes, little-endian (the redo log's records).
    @inline(__always) func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        reserve(MemoryLayout<T>.size)
        // Safe: reserve made room at offset count; storeBytes needs no alignment (SE-0349).
        storage!.storeBytes(of: value.littleEndian, toByteOffset: count, as: T.self)
        count += MemoryLayout<T>.size
    }

    /// Appends exactly `length` bytes, all written by `body` through a `ReservedBytes` cursor:
    /// one capacity check for a record of many small fields (the redo log's statements).
    @inline(__always) func appendReserved(_ length: Int, _ body: (inout ReservedBytes) -> Void) {
        precondition(length >= 0)
        reserve(length)
        // Safe: reserve made room for `length` bytes at offset count; the cursor stays inside.
        var cursor = ReservedBytes(base: storage! + count, length: length)
        body(&cursor)
        precondition(cursor.offset == length, "wrote exactly the bytes reserved")
        count += length
    }

    /// Overwrites already written bytes at `offset` with an integer, little-endian (a header
    /// whose fields are known only once its payload is written).
    func storeLittleEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count, "store inside the written bytes")
        // Safe: checked just above.
        storage!.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }

    /// Appends `length` zero bytes (room for fields stored later).
    func appendZeros(_ length: Int) {
        precondition(length >= 0)
        reserve(length)
        // Safe: reserve made room for `length` bytes at offset count.
        if length > 0 { memset(storage! + count, 0, length) }
        count += length
    }

    /// The bytes in [start, end) of what was written (ignores the read index), valid until the
    /// next mutation.
    func written(from start: Int, to end: Int) -> UnsafeRawBufferPointer {
        precondition(start >= 0 && start <= end && end <= count, "range inside the written bytes")
        return UnsafeRawBufferPointer(start: storage.map { $0 + start }, count: end - start)
    }

    /// Advances the read index past `n` bytes (consumed by a send or the parser).
    func consume(_ n: Int) {
        precondition(n >= 0 && readIndex + n <= count)
        readIndex += n
        if readIndex == count {
            readIndex = 0
            count = 0
        }
    }
}

// MARK: - Reply encoder

/// Writes replies into a client's output buffer, shaped for the client's protocol.
/// RESP2 only in this issue; `resp3` selects RESP3 shapes where they differ.
public struct ReplyWriter {
    public let buffer: ByteBuffer
    public var resp3: Bool = false

    public init(buffer: ByteBuffer) { self.buffer = buffer }

    @inline(__always) public func ok() { buffer.append("+OK\r\n") }

    @inline(__always) public func simple(_ text: StaticString) {
        buffer.append(UInt8(ascii: "+"))
        buffer.append(text)
        buffer.append("\r\n")
    }

    public func simple(_ text: String) {
        buffer.append(UInt8(ascii: "+"))
        buffer.append(text)
        buffer.append("\r\n")
    }

    /// An error line. The message must carry its prefix ("ERR ...", "WRONGTYPE ...").
    /// CR and LF inside are replaced by spaces, as Redis does, to keep the frame intact.
    public func error(_ message: String) {
        buffer.append(UInt8(ascii: "-"))
        for byte in message.utf8 {
            buffer.append(byte == 13 || byte == 10 ? 32 : byte)
        }
        buffer.append("\r\n")
    }

    @inline(__always) public func integer(_ value: Int64) {
        buffer.append(UInt8(ascii: ":"))
        buffer.appendDecimal(value)
        buffer.append("\r\n")
    }

    @inline(__always) public func integer(_ value: Int) { integer(Int64(value)) }

    @inline(__always) public func bulk(_ value: ByteView) {
        value.withUnsafeBytes { buffer.appendBulk($0) }
    }

    public func bulk(_ value: [UInt8]) { value.withByteView { bulk($0) } }

    public func bulk(_ value: String) {
        var value = value
        value.withUTF8 { bulk(ByteView(UnsafeRawBufferPointer($0))) }
    }

    /// The decimal form of an integer as a bulk string (e.g. INCRBYFLOAT results are bulks).
    public func bulkDecimal(_ value: Int64) { bulk(String(value)) }

    /// Null bulk string (RESP2 `$-1`, RESP3 `_`).
    @inline(__always) public func null() {
        buffer.append(resp3 ? "_\r\n" : "$-1\r\n")
    }

    /// Null array (RESP2 `*-1`, RESP3 `_`).
    public func nullArray() {
        buffer.append(resp3 ? "_\r\n" : "*-1\r\n")
    }

    @inline(__always) public func arrayHeader(_ count: Int) {
        buffer.append(UInt8(ascii: "*"))
        buffer.appendDecimal(Int64(count))
        buffer.append("\r\n")
    }

    /// Text for humans (INFO, CLIENT LIST): RESP3 verbatim `=` with "txt:", RESP2 bulk.
    public func verbatim(_ text: String) {
        guard resp3 else {
            bulk(text)
            return
        }
        buffer.append(UInt8(ascii: "="))
        buffer.appendDecimal(Int64(text.utf8.count + 4))
        buffer.append("\r\ntxt:")
        buffer.append(text)
        buffer.append("\r\n")
    }

    /// A map of `count` pairs: RESP3 `%`, RESP2 a flat array of 2×count (HGETALL).
    public func mapHeader(_ count: Int) {
        if resp3 {
            buffer.append(UInt8(ascii: "%"))
            buffer.appendDecimal(Int64(count))
            buffer.append("\r\n")
        } else {
            arrayHeader(count * 2)
        }
    }

    /// A set of `count` elements: RESP3 `~`, RESP2 an array (SMEMBERS).
    public func setHeader(_ count: Int) {
        if resp3 {
            buffer.append(UInt8(ascii: "~"))
            buffer.appendDecimal(Int64(count))
            buffer.append("\r\n")
        } else {
            arrayHeader(count)
        }
    }

    /// A double reply: RESP3 `,` or a RESP2 bulk string with Redis' formatting.
    public func double(_ value: Double) {
        let text = formatDouble(value)
        if resp3 {
            buffer.append(UInt8(ascii: ","))
            buffer.append(text)
            buffer.append("\r\n")
        } else {
            bulk(text)
        }
    }
}

/// Formats a double as Redis does for scores and INCRBYFLOAT-style replies: integers without
/// a fraction, "inf"/"-inf", otherwise the shortest form with up to 17 significant digits.
/// This is exactly C's "%.17g" (what Redis 7.0's addReplyDouble prints): the integer
/// shortcut prints the same digits, since every integral double below 1e17 has at most 17
/// significant digits; -0.0 keeps its sign ("-0"), as "%.17g" does.
public func formatDouble(_ value: Double) -> String {
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    if value == 0 { return value.sign == .minus ? "-0" : "0" }
    if value == value.rounded(.towardZero) && abs(value) < 1e17 {
        return String(Int64(value))
    }
    var buffer = [CChar](repeating: 0, count: 64)
    _ = buffer.withUnsafeMutableBufferPointer { pointer in
        withVaList([value]) { vsnprintf(pointer.baseAddress!, 64, "%.17g", $0) }
    }
    return String(cString: buffer)
}

// MARK: - Request parser

/// Named protocol limits (Redis' defaults). Each is enforced before memory is reserved.
public struct ProtocolLimits: Sendable {
    /// Largest bulk string accepted (Redis `proto-max-bulk-len`, 512 MB).
    public var maxBulkBytes: Int = 512 * 1024 * 1024
    /// Most arguments in one request (Redis rejects multibulk counts above 1024*1024... and
    /// above INT_MAX; we keep the smaller, documented bound).
    public var maxArguments: Int = 1024 * 1024
    /// Longest inline command line and longest `*`/`$` header line (Redis PROTO_INLINE_MAX_SIZE).
    public var maxInlineBytes: Int = 64 * 1024
    /// Largest pending, unparsed input of one client (Redis `client-query-buffer-limit`, 1 GB).
    public var maxQueryBufferBytes: Int = 1024 * 1024 * 1024

    public init() {}
}

/// One argument's position, relative to the start of the frame (or of the inline scratch).
struct ArgumentSpan {
    var offset: Int
    var length: Int
}

/// The outcome of one parse step over the bytes of the current frame.
enum ParseOutcome: Equatable {
    /// A whole command; `consumed` bytes from the frame start belong to it. `argumentCount`
    /// may be 0 (empty multibulk or blank inline line: nothing to execute).
    case complete(consumed: Int, inline: Bool)
    /// The frame is not complete yet; call again from the same frame start with more bytes.
    case needMore
    /// The client sent something over a limit or malformed; the message follows "ERR ".
    /// Every scalar in it is below U+0100 and stands for one byte (see `messageCharacter`).
    case error(String)
}

/// A resumable, zero-copy RESP request parser. Arguments are recorded as spans of the buffer
/// handed to `parse`; state survives between calls so a frame that arrives in many reads is
/// not re-parsed from the start each time (progress is kept in `cursor`).
struct RequestParser {
    var limits: ProtocolLimits
    /// Spans of the current frame's arguments (capacity reused across requests).
    var spans: [ArgumentSpan] = []
    /// Inline requests are unquoted into this scratch buffer; spans then point into it.
    let inlineScratch = ByteBuffer(capacity: 256)

    // Resumable state of the frame in progress.
    private var expectedArguments = -1   // -1: the `*N` header has not been read yet
    private var cursor = 0               // where the next header starts, from frame start
    private var pendingBulkLength = -1   // length announced by a `$N` whose data is missing

    init(limits: ProtocolLimits) {
        self.limits = limits
        spans.reserveCapacity(16)
    }

    /// How many bytes the frame still needs at least, when that is known (a large bulk):
    /// lets the caller reserve once instead of growing step by step.
    var minimumFrameBytes: Int {
        pendingBulkLength >= 0 ? cursor + pendingBulkLength + 2 : 0
    }

    mutating func reset() {
        expectedArguments = -1
        cursor = 0
        pendingBulkLength = -1
        spans.removeAll(keepingCapacity: true)
    }

    /// Parses the frame that starts at `frame[0]`. On `.complete`, `spans` hold the arguments
    /// and the parser is ready for the next frame (call `reset` is not needed). On `.error`
    /// the parser is reset too (the caller closes the connection anyway).
    ///
    /// Checks follow Redis 7's processMultibulkBuffer in order: a header line is only looked
    /// at once its `\r` and one more byte have arrived; a header line with no `\r` grows
    /// into an error past `maxInlineBytes`; only then are the marker and the number checked.
    mutating func parse(_ frame: UnsafeRawBufferPointer) -> ParseOutcome {
        let outcome = parseFrame(frame)
        if case .error = outcome { reset() }
        return outcome
    }

    private mutating func parseFrame(_ frame: UnsafeRawBufferPointer) -> ParseOutcome {
        guard frame.count > 0 else { return .needMore }
        if expectedArguments < 0 && cursor == 0 && frame[0] != UInt8(ascii: "*") {
            return parseInline(frame)
        }
        if expectedArguments < 0 {
            switch headerLine(frame, from: 0, tooBig: "too big mbulk count string") {
            case .needMore: return .needMore
            case .error(let message): return .error(message)
            case .line(let end, let value):
                guard let value, value <= Int64(limits.maxArguments) else {
                    return .error("Protocol error: invalid multibulk length")
                }
                if value <= 0 {
                    reset()
                    return .complete(consumed: end + 2, inline: false)
                }
                expectedArguments = Int(value)
                cursor = end + 2
                spans.removeAll(keepingCapacity: true)
                spans.reserveCapacity(Swift.min(expectedArguments, 1024))
            }
        }
        while spans.count < expectedArguments {
            if pendingBulkLength < 0 {
                guard cursor < frame.count else { return .needMore }
                switch headerLine(frame, from: cursor, tooBig: "too big bulk count string") {
                case .needMore: return .needMore
                case .error(let message): return .error(message)
                case .line(let end, let value):
                    let marker = frame[cursor]
                    guard marker == UInt8(ascii: "$") else {
                        return .error("Protocol error: expected '$', got '\(Self.messageCharacter(marker))'")
                    }
                    guard let value, value >= 0, value <= Int64(limits.maxBulkBytes) else {
                        return .error("Protocol error: invalid bulk length")
                    }
                    pendingBulkLength = Int(value)
                    cursor = end + 2
                }
            }
            // Redis skips the two bytes after the data without checking them; so do we.
            guard frame.count - cursor >= pendingBulkLength + 2 else { return .needMore }
            spans.append(ArgumentSpan(offset: cursor, length: pendingBulkLength))
            cursor += pendingBulkLength + 2
            pendingBulkLength = -1
        }
        let consumed = cursor
        expectedArguments = -1
        cursor = 0
        return .complete(consumed: consumed, inline: false)
    }

    private enum HeaderLine {
        /// The line's `\r` is at `end`, and at least one byte follows it; `value` is the number
        /// between the marker and the `\r` as Redis' string2ll reads it (nil: not one).
        case line(end: Int, value: Int64?)
        case needMore
        case error(String)
    }

    /// Reads the header line that starts at `start` (a marker, then a number). The common
    /// line, 1 to 9 digits without a leading zero (or "0"), is read in one pass; any other is
    /// found as Redis finds it (the `\r` searched from the marker byte itself, unbounded; the
    /// byte after `\r` skipped unchecked) and its number read by parseInt64. Both agree wherever
    /// the first answers. With no `\r` yet, more than `maxInlineBytes` pending bytes is an error.
    @inline(__always) private func headerLine(_ frame: UnsafeRawBufferPointer, from start: Int, tooBig: String) -> HeaderLine {
        // The common line: its `\r` may be at most at `last` (one byte must follow it, and 9
        // digits at most).
        let last = Swift.min(frame.count - 2, start + 10)
        var index = start + 1
        var value = 0
        while index <= last {
            // Safe: index <= frame.count - 2.
            let digit = frame[index] &- UInt8(ascii: "0")
            if digit > 9 { break }
            value = value * 10 + Int(digit)
            index += 1
        }
        let digits = index - start - 1
        if index <= last, digits > 0, frame[index] == 13, digits == 1 || frame[start + 1] != UInt8(ascii: "0") {
            return .line(end: index, value: Int64(value))
        }
        let remaining = frame.count - start
        // Safe: start < frame.count (callers check), memchr reads [start, frame.count).
        guard let found = memchr(frame.baseAddress! + start, 13, remaining) else {
            return remaining > limits.maxInlineBytes ? .error("Protocol error: \(tooBig)") : .needMore
        }
        let end = frame.baseAddress!.distance(to: UnsafeRawPointer(found))
        guard end + 1 < frame.count else { return .needMore }
        // The marker byte itself may be the `\r` (end == start): then there is no number.
        guard end > start else { return .line(end: end, value: nil) }
        // Safe: start+1...end lies inside frame (start < end < frame.count - 1).
        return .line(end: end, value: ByteView(base: frame.baseAddress! + start + 1, count: end - start - 1).parseInt64())
    }

    /// The offending byte as Redis' `%c` prints it into an error reply: the raw byte, with
    /// CR and LF turned into spaces (addReplyErrorFormat). The byte is carried as the
    /// Unicode scalar of the same value; `ServerCore.protocolError` writes scalars below 256
    /// as single bytes, so the wire shows the very byte Redis would send.
    static func messageCharacter(_ byte: UInt8) -> Character {
        byte == 13 || byte == 10 ? " " : Character(Unicode.Scalar(byte))
    }

    /// An inline command: one line split on blanks, with Redis' quoting rules.
    /// As Redis: a line needs its `\n` (a `\r` before it is dropped); with no `\n` yet, more
    /// than `maxInlineBytes` pending bytes is an error. (Redis never completes an inline line
    /// that holds a NUL byte, its strchr stops there; here NUL is an ordinary byte.)
    private mutating func parseInline(_ frame: UnsafeRawBufferPointer) -> ParseOutcome {
        let searchLength = Swift.min(frame.count, limits.maxInlineBytes + 1)
        // Safe: memchr reads [0, searchLength) of frame.
        guard let found = memchr(frame.baseAddress!, 10, searchLength) else {
            if frame.count > limits.maxInlineBytes { return .error("Protocol error: too big inline request") }
            return .needMore
        }
        let newline = frame.baseAddress!.distance(to: UnsafeRawPointer(found))
        var lineEnd = newline
        if lineEnd > 0 && frame[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        spans.removeAll(keepingCapacity: true)
        inlineScratch.removeAll()
        if let message = splitInlineArguments(UnsafeRawBufferPointer(rebasing: frame[0..<lineEnd])) {
            spans.removeAll(keepingCapacity: true)
            return .error(message)
        }
        return .complete(consumed: newline + 1, inline: true)
    }

    /// Redis' sdssplitargs: leading blanks (isspace) are skipped; an unquoted token ends at
    /// space, \t, \r or \n (not at \v or \f, which stay in the token); "..." knows the
    /// \n \r \t \b \a \xHH escapes (any other escaped byte stands for itself); '...' knows
    /// \' only; a closing quote must be followed by a blank (isspace) or the end of the line;
    /// quotes may start in the middle of a token (ab"cd" is abcd). Returns an error message,
    /// or nil with the arguments in `spans` (offsets into `inlineScratch`).
    private mutating func splitInlineArguments(_ line: UnsafeRawBufferPointer) -> String? {
        var index = 0
        let end = line.count
        // C isspace in the "C" locale.
        func isSpace(_ byte: UInt8) -> Bool { byte == 32 || (byte >= 9 && byte <= 13) }
        func endsToken(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 || byte == 10 || byte == 13 }
        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 48...57: return byte - 48
            case 97...102: return byte - 87
            case 65...70: return byte - 55
            default: return nil
            }
        }
        let unbalanced = "Protocol error: unbalanced quotes in request"
        while true {
            while index < end && isSpace(line[index]) { index += 1 }
            if index >= end { return nil }
            let start = inlineScratch.count
            var inDouble = false
            var inSingle = false
            var done = false
            while !done {
                if inDouble {
                    guard index < end else { return unbalanced }
                    let byte = line[index]
                    if byte == UInt8(ascii: "\\") && index + 3 < end && line[index + 1] == UInt8(ascii: "x"),
                       let high = hexValue(line[index + 2]), let low = hexValue(line[index + 3]) {
                        inlineScratch.append(high * 16 + low)
                        index += 3
                    } else if byte == UInt8(ascii: "\\") && index + 1 < end {
                        index += 1
                        switch line[index] {
                        case UInt8(ascii: "n"): inlineScratch.append(10)
                        case UInt8(ascii: "r"): inlineScratch.append(13)
                        case UInt8(ascii: "t"): inlineScratch.append(9)
                        case UInt8(ascii: "b"): inlineScratch.append(8)
                        case UInt8(ascii: "a"): inlineScratch.append(7)
                        default: inlineScratch.append(line[index])
                        }
                    } else if byte == UInt8(ascii: "\"") {
                        if index + 1 < end && !isSpace(line[index + 1]) { return unbalanced }
                        done = true
                    } else {
                        inlineScratch.append(byte)
                    }
                } else if inSingle {
                    guard index < end else { return unbalanced }
                    let byte = line[index]
                    if byte == UInt8(ascii: "\\") && index + 1 < end && line[index + 1] == UInt8(ascii: "'") {
                        index += 1
                        inlineScratch.append(UInt8(ascii: "'"))
                    } else if byte == UInt8(ascii: "'") {
                        if index + 1 < end && !isSpace(line[index + 1]) { return unbalanced }
                        done = true
                    } else {
                        inlineScratch.append(byte)
                    }
                } else {
                    if index >= end { break }
                    let byte = line[index]
                    if endsToken(byte) {
                        done = true
                    } else if byte == UInt8(ascii: "\"") {
                        inDouble = true
                    } else if byte == UInt8(ascii: "'") {
                        inSingle = true
                    } else {
                        inlineScratch.append(byte)
                    }
                }
                if index < end { index += 1 }
            }
            // Redis has no such bound (a 64 KB line holds at most 32K arguments); a lower
            // configured maxArguments still applies to inline requests.
            if spans.count >= limits.maxArguments { return "Protocol error: too many arguments in inline request" }
            spans.append(ArgumentSpan(offset: start, length: inlineScratch.count - start))
        }
    }
}

// MARK: - Reply parser (client side)

/// A decoded RESP2/RESP3 reply, owned (copied out of the receive buffer).
public indirect enum RESPValue: Equatable, CustomStringConvertible, Sendable {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([RESPValue])
    case double(Double)
    case boolean(Bool)
    case map([(RESPValue, RESPValue)])
    case set([RESPValue])
    case push([RESPValue])
    case bigNumber(String)
    case verbatim(String)

    public static func == (lhs: RESPValue, rhs: RESPValue) -> Bool {
        switch (lhs, rhs) {
        case (.simple(let a), .simple(let b)), (.error(let a), .error(let b)),
             (.bigNumber(let a), .bigNumber(let b)), (.verbatim(let a), .verbatim(let b)):
            return a == b
        case (.integer(let a), .integer(let b)): return a == b
        case (.bulk(let a), .bulk(let b)): return a == b
        case (.null, .null): return true
        case (.array(let a), .array(let b)), (.set(let a), .set(let b)), (.push(let a), .push(let b)):
            return a == b
        case (.double(let a), .double(let b)): return a == b || (a.isNaN && b.isNaN)
        case (.boolean(let a), .boolean(let b)): return a == b
        case (.map(let a), .map(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The text of a simple or bulk string reply.
    public var string: String? {
        switch self {
        case .simple(let s), .verbatim(let s): return s
        case .bulk(let b): return String(decoding: b, as: UTF8.self)
        default: return nil
        }
    }

    public var integer: Int64? {
        if case .integer(let i) = self { return i }
        return nil
    }

    public var array: [RESPValue]? {
        switch self {
        case .array(let a), .set(let a), .push(let a): return a
        default: return nil
        }
    }

    public var isNull: Bool { self == .null }

    public var description: String {
        switch self {
        case .simple(let s): return s
        case .error(let e): return "(error) \(e)"
        case .integer(let i): return "(integer) \(i)"
        case .bulk(let b): return "\"\(String(decoding: b, as: UTF8.self))\""
        case .null: return "(nil)"
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .double(let d): return "(double) \(d)"
        case .boolean(let b): return "(boolean) \(b)"
        case .map(let m): return "{" + m.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}"
        case .set(let s): return "set[" + s.map(\.description).joined(separator: ", ") + "]"
        case .push(let p): return "push[" + p.map(\.description).joined(separator: ", ") + "]"
        case .bigNumber(let n): return "(big number) \(n)"
        case .verbatim(let v): return "(verbatim) \(v)"
        }
    }
}

/// Decodes replies; `decode` answers complete / need more data / error.
public enum ReplyDecoder {
    public enum Outcome {
        case complete(RESPValue, consumed: Int)
        case needMore
        case error(String)
    }

    /// Bounds for replies a client accepts (a hostile server must not exhaust memory).
    public static let maxBulkBytes = 1 << 30
    public static let maxElements = 1 << 26
    public static let maxDepth = 64

    public static func decode(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var index = 0
        do {
            guard let value = try decodeValue(bytes, &index, depth: 0) else { return .needMore }
            return .complete(value, consumed: index)
        } catch let error as DecodeError {
            return .error(error.message)
        } catch {
            return .error("\(error)")
        }
    }

    private struct DecodeError: Error { let message: String }

    private static func readLine(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> String? {
        var end = index
        while end + 1 < bytes.count {
            if bytes[end] == 13 && bytes[end + 1] == 10 {
                let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[index..<end]), as: UTF8.self)
                index = end + 2
                return line
            }
            end += 1
        }
        return nil
    }

    private static func decodeValue(_ bytes: UnsafeRawBufferPointer, _ index: inout Int, depth: Int) throws -> RESPValue? {
        guard depth < maxDepth else { throw DecodeError(message: "reply nested too deeply") }
        guard index < bytes.count else { return nil }
        let marker = bytes[index]
        var cursor = index + 1
        guard let line = readLine(bytes, &cursor) else { return nil }
        func number() throws -> Int {
            guard let n = Int(line) else { throw DecodeError(message: "bad length '\(line)'") }
            return n
        }
        func aggregate(_ count: Int) throws -> [RESPValue]? {
            guard count <= maxElements else { throw DecodeError(message: "aggregate too large") }
            var items: [RESPValue] = []
            items.reserveCapacity(Swift.min(count, 1024))
            for _ in 0..<count {
                guard let item = try decodeValue(bytes, &cursor, depth: depth + 1) else { return nil }
                items.append(item)
            }
            return items
        }
        let value: RESPValue
        switch marker {
        case UInt8(ascii: "+"): value = .simple(line)
        case UInt8(ascii: "-"): value = .error(line)
        case UInt8(ascii: ":"):
            guard let n = Int64(line) else { throw DecodeError(message: "bad integer '\(line)'") }
            value = .integer(n)
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            let length = try number()
            if length < 0 { value = .null; break }
            guard length <= maxBulkBytes else { throw DecodeError(message: "bulk too large") }
            guard bytes.count - cursor >= length + 2 else { return nil }
            let data = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[cursor..<(cursor + length)]))
            cursor += length + 2
            if marker == UInt8(ascii: "$") { value = .bulk(data) }
            else if marker == UInt8(ascii: "!") { value = .error(String(decoding: data, as: UTF8.self)) }
            else { value = .verbatim(String(decoding: data.dropFirst(4), as: UTF8.self)) }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            let count = try number()
            if count < 0 { value = .null; break }
            guard let items = try aggregate(count) else { return nil }
            value = marker == UInt8(ascii: "*") ? .array(items) : marker == UInt8(ascii: "~") ? .set(items) : .push(items)
        case UInt8(ascii: "%"), UInt8(ascii: "|"):
            let count = try number()
            if count < 0 { value = .null; break }
            guard count <= maxElements / 2 else { throw DecodeError(message: "aggregate too large") }
            guard let items = try aggregate(count * 2) else { return nil }
            if marker == UInt8(ascii: "|") {
                // An attribute: metadata in front of the real reply, which follows. Dropped.
                guard let reply = try decodeValue(bytes, &cursor, depth: depth + 1) else { return nil }
                value = reply
                break
            }
            value = .map(stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) })
        case UInt8(ascii: "_"): value = .null
        case UInt8(ascii: ","):
            switch line {
            case "inf": value = .double(.infinity)
            case "-inf": value = .double(-.infinity)
            case "nan": value = .double(.nan)
            default:
                guard let d = Double(line) else { throw DecodeError(message: "bad double '\(line)'") }
                value = .double(d)
            }
        case UInt8(ascii: "#"):
            guard line == "t" || line == "f" else { throw DecodeError(message: "bad boolean '\(line)'") }
            value = .boolean(line == "t")
        case UInt8(ascii: "("): value = .bigNumber(line)
        default:
            throw DecodeError(message: "unknown reply type byte \(marker)")
        }
        index = cursor
        return value
    }
}

/// Encodes a command as a RESP multibulk (client side).
public func encodeCommand(_ arguments: [[UInt8]], into buffer: ByteBuffer) {
    buffer.append(UInt8(ascii: "*"))
    buffer.appendDecimal(Int64(arguments.count))
    buffer.append("\r\n")
    for argument in arguments {
        buffer.append(UInt8(ascii: "$"))
        buffer.appendDecimal(Int64(argument.count))
        buffer.append("\r\n")
        buffer.append(argument)
        buffer.append("\r\n")
    }
}
