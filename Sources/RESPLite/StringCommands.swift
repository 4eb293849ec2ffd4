// String commands (Redis t_string.c). Each handler reads like the Redis documentation of its
// command; SET and its variants share `setGeneric`, as Redis' setGenericCommand does.

import Foundation

/// Largest string a write may produce (Redis `proto-max-bulk-len`).
let maxStringBytes: Int64 = 512 * 1024 * 1024

enum StringCommands {
    // MARK: SET family

    enum Condition { case always, ifMissing, ifExists }

    /// What a SET-like command asked for.
    struct SetOptions {
        var condition = Condition.always
        var returnOld = false
        var expiresAt: Int64? = nil
        var keepTTL = false
    }

    /// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms | KEEPTTL]
    ///
    /// Options are parsed as Redis' parseExtendedStringArgumentsOrReply: NX and XX exclude each
    /// other, KEEPTTL excludes the expiry options, and an expiry option excludes the other
    /// expiry options (repeating the same one is allowed, the last wins). The expiry value is
    /// validated only after the whole option list parsed, so a syntax error wins over a bad
    /// number, as in Redis.
    static func set(_ c: CommandCall) throws {
        var options = SetOptions()
        var nx = false, xx = false
        var unit: ExpiryUnit? = nil
        var expiryIndex = 0
        var index = 3
        while index < c.argumentCount {
            let option = c.args[index]
            if option.equalsLower("nx") && !xx {
                nx = true
            } else if option.equalsLower("xx") && !nx {
                xx = true
            } else if option.equalsLower("get") {
                options.returnOld = true
            } else if option.equalsLower("keepttl") && unit == nil {
                options.keepTTL = true
            } else if let optionUnit = expiryUnit(option), !options.keepTTL, unit == nil || unit == optionUnit,
                      index + 1 < c.argumentCount {
                unit = optionUnit
                expiryIndex = index + 1
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        options.condition = nx ? .ifMissing : (xx ? .ifExists : .always)
        let now = currentTimeMillis()
        if let unit { options.expiresAt = try expiryArgument(c, expiryIndex, unit: unit, now: now) }
        try setGeneric(c, key: c.args[1], value: c.args[2], options, now: now)
    }

    /// SETEX key seconds value
    static func setex(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        var options = SetOptions()
        options.expiresAt = try expiryArgument(c, 2, unit: .seconds, now: now)
        try setGeneric(c, key: c.args[1], value: c.args[3], options, now: now)
    }

    /// PSETEX key milliseconds value
    static func psetex(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        var options = SetOptions()
        options.expiresAt = try expiryArgument(c, 2, unit: .milliseconds, now: now)
        try setGeneric(c, key: c.args[1], value: c.args[3], options, now: now)
    }

    /// SETNX key value → 1 if set, 0 if the key exists.
    static func setnx(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        if try c.engine.storage.lookup(c.args[1], now: now) != nil {
            c.reply.integer(0)
            return
        }
        try c.engine.storage.writeString(c.args[1], c.args[2], expiresAt: nil, keepTTL: false, now: now)
        c.reply.integer(1)
    }

    /// GETSET key value → the old value (a SET with GET).
    static func getset(_ c: CommandCall) throws {
        var options = SetOptions()
        options.returnOld = true
        try setGeneric(c, key: c.args[1], value: c.args[2], options, now: currentTimeMillis())
    }

    /// The shared body of SET, SETEX, PSETEX and GETSET (Redis' setGenericCommand): with GET
    /// the old value is read first (WRONGTYPE on another type, nothing written); NX/XX decide
    /// whether to write; the reply is OK / null, or the old value with GET.
    static func setGeneric(_ c: CommandCall, key: ByteView, value: ByteView, _ options: SetOptions, now: Int64) throws {
        let storage = c.engine.storage
        if options.condition == .always && !options.returnOld {
            // The hot path: one upsert, no read.
            try storage.writeString(key, value, expiresAt: options.expiresAt, keepTTL: options.keepTTL, now: now)
            c.reply.ok()
            return
        }
        var oldValue: [UInt8]? = nil
        var exists = false
        if options.returnOld {
            switch try storage.readString(key, now: now) {
            case .missing: break
            case .wrongType: throw CommandError.wrongType
            case .value(let value, _, _):
                exists = true
                oldValue = value.array  // copied: the write below reuses the row
            }
        } else {
            exists = try storage.lookup(key, now: now) != nil
        }
        let allowed = options.condition == .always
            || (options.condition == .ifMissing && !exists)
            || (options.condition == .ifExists && exists)
        if allowed {
            try storage.writeString(key, value, expiresAt: options.expiresAt, keepTTL: options.keepTTL, now: now)
        }
        if options.returnOld {
            if let oldValue { c.reply.bulk(oldValue) } else { c.reply.null() }
        } else if allowed {
            c.reply.ok()
        } else {
            c.reply.null()
        }
    }

    static func expiryUnit(_ option: ByteView) -> ExpiryUnit? {
        if option.equalsLower("ex") { return .seconds }
        if option.equalsLower("px") { return .milliseconds }
        if option.equalsLower("exat") { return .unixSeconds }
        if option.equalsLower("pxat") { return .unixMilliseconds }
        return nil
    }

    /// Reads an expiry argument as Redis does for SET/GETEX/SETEX: an integer > 0 whose
    /// absolute time does not overflow.
    static func expiryArgument(_ c: CommandCall, _ index: Int, unit: ExpiryUnit, now: Int64) throws -> Int64 {
        let value = try c.integer(index)
        guard value > 0, let absolute = unit.absoluteMillis(value, now: now) else {
            throw CommandError.invalidExpireTime(c.name)
        }
        return absolute
    }

    // MARK: Reads

    /// GET key
    static func get(_ c: CommandCall) throws {
        switch try c.engine.storage.readString(c.args[1], now: currentTimeMillis()) {
        case .missing: c.reply.null()
        case .wrongType: throw CommandError.wrongType
        case .value(let value, _, _): c.reply.bulk(value)
        }
    }

    /// GETDEL key
    static func getdel(_ c: CommandCall) throws {
        let storage = c.engine.storage
        switch try storage.readString(c.args[1], now: currentTimeMillis()) {
        case .missing: c.reply.null()
        case .wrongType: throw CommandError.wrongType
        case .value(let value, _, _):
            try replyBulk(c, value) { try storage.deleteKey(c.args[1]) }
        }
    }

    /// GETEX key [EX s | PX ms | EXAT ts | PXAT ms | PERSIST]
    ///
    /// As Redis: options parsed first (syntax errors), then a missing key answers null and a
    /// key of another type WRONGTYPE before the expiry value is validated; an EXAT/PXAT in the
    /// past deletes the key after returning its value.
    static func getex(_ c: CommandCall) throws {
        var persist = false
        var unit: ExpiryUnit? = nil
        var expiryIndex = 0
        var index = 2
        while index < c.argumentCount {
            let option = c.args[index]
            if option.equalsLower("persist") && unit == nil {
                persist = true
            } else if let optionUnit = expiryUnit(option), !persist, unit == nil || unit == optionUnit,
                      index + 1 < c.argumentCount {
                unit = optionUnit
                expiryIndex = index + 1
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        let now = currentTimeMillis()
        let key = c.args[1]
        let storage = c.engine.storage
        switch try storage.readString(key, now: now) {
        case .missing: c.reply.null()
        case .wrongType: throw CommandError.wrongType
        case .value(let value, let expiresAt, let id):
            let newExpiry = try unit.map { try expiryArgument(c, expiryIndex, unit: $0, now: now) }
            try replyBulk(c, value) {
                if let newExpiry, let unit {
                    if (unit == .unixSeconds || unit == .unixMilliseconds) && newExpiry <= now {
                        try storage.deleteKey(key)
                    } else if newExpiry != expiresAt {
                        try storage.setExpiry(id: id, expiresAt: newExpiry, now: now)
                    }
                } else if persist && expiresAt != nil {
                    try storage.setExpiry(id: id, expiresAt: nil, now: now)
                }
            }
        }
    }

    /// Replies with a value read from storage, then runs the command's write. If the write
    /// fails the reply is withdrawn, so the client sees the error alone.
    static func replyBulk(_ c: CommandCall, _ value: ByteView, thenWrite write: () throws -> Void) throws {
        let mark = c.reply.buffer.count
        c.reply.bulk(value)
        do {
            try write()
        } catch {
            c.reply.buffer.truncate(to: mark)
            throw error
        }
    }

    /// MGET key [key ...] → values, null for missing keys and keys of other types.
    static func mget(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        c.reply.arrayHeader(c.argumentCount - 1)
        for index in 1..<c.argumentCount {
            if case .value(let value, _, _) = try c.engine.storage.readString(c.args[index], now: now) {
                c.reply.bulk(value)
            } else {
                c.reply.null()
            }
        }
    }

    /// STRLEN key
    static func strlen(_ c: CommandCall) throws {
        switch try c.engine.storage.readString(c.args[1], now: currentTimeMillis()) {
        case .missing: c.reply.integer(0)
        case .wrongType: throw CommandError.wrongType
        case .value(let value, _, _): c.reply.integer(value.count)
        }
    }

    /// GETRANGE key start end (inclusive, negative from the end, clamped).
    static func getrange(_ c: CommandCall) throws {
        var start = try c.integer(2)
        var end = try c.integer(3)
        switch try c.engine.storage.readString(c.args[1], now: currentTimeMillis()) {
        case .missing: c.reply.bulk(ByteView.empty)
        case .wrongType: throw CommandError.wrongType
        case .value(let value, _, _):
            let length = Int64(value.count)
            if start < 0 && end < 0 && start > end {
                c.reply.bulk(ByteView.empty)
                return
            }
            if start < 0 { start = length + start }
            if end < 0 { end = length + end }
            if start < 0 { start = 0 }
            if end < 0 { end = 0 }
            if end >= length { end = length - 1 }
            if length == 0 || start > end {
                c.reply.bulk(ByteView.empty)
                return
            }
            c.reply.bulk(value.slice(Int(start), Int(end) + 1))
        }
    }

    // MARK: Writes

    /// MSET key value [key value ...]
    static func mset(_ c: CommandCall) throws {
        guard c.argumentCount % 2 == 1 else { throw CommandError.wrongArity(c.name) }
        let now = currentTimeMillis()
        for index in stride(from: 1, to: c.argumentCount, by: 2) {
            try c.engine.storage.writeString(c.args[index], c.args[index + 1], expiresAt: nil, keepTTL: false, now: now)
        }
        c.reply.ok()
    }

    /// MSETNX key value [key value ...] → 1 if all were set, 0 (and nothing set) otherwise.
    static func msetnx(_ c: CommandCall) throws {
        guard c.argumentCount % 2 == 1 else { throw CommandError.wrongArity(c.name) }
        let now = currentTimeMillis()
        for index in stride(from: 1, to: c.argumentCount, by: 2) {
            if try c.engine.storage.lookup(c.args[index], now: now) != nil {
                c.reply.integer(0)
                return
            }
        }
        for index in stride(from: 1, to: c.argumentCount, by: 2) {
            try c.engine.storage.writeString(c.args[index], c.args[index + 1], expiresAt: nil, keepTTL: false, now: now)
        }
        c.reply.integer(1)
    }

    /// APPEND key value → the new length.
    static func append(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        switch try storage.readString(c.args[1], now: now, cacheRead: false) {
        case .wrongType: throw CommandError.wrongType
        case .missing:
            try storage.writeString(c.args[1], c.args[2], expiresAt: nil, keepTTL: false, now: now)
            c.reply.integer(c.args[2].count)
        case .value(let value, _, _):
            let total = Int64(value.count) + Int64(c.args[2].count)
            guard total <= maxStringBytes else {
                throw CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            }
            var combined = [UInt8]()
            combined.reserveCapacity(Int(total))
            value.withUnsafeBytes { combined.append(contentsOf: $0) }
            c.args[2].withUnsafeBytes { combined.append(contentsOf: $0) }
            try combined.withByteView {
                try storage.writeString(c.args[1], $0, expiresAt: nil, keepTTL: true, now: now)
            }
            c.reply.integer(total)
        }
    }

    /// SETRANGE key offset value → the new length; zero-pads as needed.
    static func setrange(_ c: CommandCall) throws {
        let offset = try c.integer(2)
        guard offset >= 0 else { throw CommandError("ERR offset is out of range") }
        let patch = c.args[3]
        let now = currentTimeMillis()
        let storage = c.engine.storage
        var current: [UInt8]
        switch try storage.readString(c.args[1], now: now, cacheRead: false) {
        case .wrongType: throw CommandError.wrongType
        case .missing:
            if patch.isEmpty {
                c.reply.integer(0)
                return
            }
            current = []
        case .value(let value, _, _):
            if patch.isEmpty {
                c.reply.integer(value.count)
                return
            }
            current = value.array
        }
        // As Redis' checkStringLength, without overflowing on huge offsets.
        guard offset <= maxStringBytes - Int64(patch.count) else {
            throw CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        }
        let end = Int(offset) + patch.count
        if current.count < end { current.append(contentsOf: repeatElement(0, count: end - current.count)) }
        for i in 0..<patch.count { current[Int(offset) + i] = patch[i] }
        try current.withByteView {
            try storage.writeString(c.args[1], $0, expiresAt: nil, keepTTL: true, now: now)
        }
        c.reply.integer(current.count)
    }

    // MARK: Counters

    static func incr(_ c: CommandCall) throws { try incrementBy(c, 1) }
    static func decr(_ c: CommandCall) throws { try incrementBy(c, -1) }
    static func incrby(_ c: CommandCall) throws { try incrementBy(c, try c.integer(2)) }

    static func decrby(_ c: CommandCall) throws {
        let decrement = try c.integer(2)
        guard decrement != Int64.min else { throw CommandError("ERR decrement would overflow") }
        try incrementBy(c, -decrement)
    }

    /// The shared body of INCR, DECR, INCRBY and DECRBY: the value must be a decimal Int64
    /// (missing = 0); the result is stored as a decimal string and the TTL is kept.
    static func incrementBy(_ c: CommandCall, _ increment: Int64) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        if storage.mayCreateBeforeReading(c.args[1]) {
            // Likely a new counter: created holding the increment, or else read as below.
            let scratch = c.engine.scratch
            scratch.removeAll()
            scratch.appendDecimal(increment)
            if try storage.createStringIfAbsent(c.args[1], ByteView(scratch.readableBytes), now: now) {
                c.reply.integer(increment)
                return
            }
        }
        var current: Int64 = 0
        var row: (id: Int64, expiresAt: Int64?)? = nil
        switch try storage.readString(c.args[1], now: now, cacheRead: false) {
        case .wrongType: throw CommandError.wrongType
        case .missing: break
        case .value(let value, let expiresAt, let id):
            guard let parsed = value.parseInt64() else { throw CommandError.notInteger }
            current = parsed
            row = (id, expiresAt)
        }
        let (result, overflow) = current.addingReportingOverflow(increment)
        guard !overflow else { throw CommandError.overflow }
        let scratch = c.engine.scratch
        scratch.removeAll()
        scratch.appendDecimal(result)
        if let row {
            try storage.rewriteString(c.args[1], id: row.id, ByteView(scratch.readableBytes), expiresAt: row.expiresAt, now: now)
        } else {
            // Missing (or expired): no TTL to keep, so a plain write (which the cache takes).
            try storage.writeString(c.args[1], ByteView(scratch.readableBytes), expiresAt: nil, keepTTL: false, now: now)
        }
        c.reply.integer(result)
    }

    /// INCRBYFLOAT key increment → the new value as a bulk string (long double precision,
    /// formatted like Redis: no exponent, trailing zeros removed). Checked in Redis' order:
    /// the key's type, its value, then the increment.
    static func incrbyfloat(_ c: CommandCall) throws {
        let now = currentTimeMillis()
        let storage = c.engine.storage
        var current: Float80 = 0
        switch try storage.readString(c.args[1], now: now, cacheRead: false) {
        case .wrongType: throw CommandError.wrongType
        case .missing: break
        case .value(let value, _, _):
            guard let parsed = value.parseLongDouble() else { throw CommandError.notFloat }
            current = parsed
        }
        guard let increment = c.args[2].parseLongDouble() else { throw CommandError.notFloat }
        let result = current + increment
        guard result.isFinite else { throw CommandError("ERR increment would produce NaN or Infinity") }
        let text = formatLongDouble(result)
        try Array(text.utf8).withByteView {
            try storage.writeString(c.args[1], $0, expiresAt: nil, keepTTL: true, now: now)
        }
        c.reply.bulk(text)
    }
}

extension ByteView {
    /// Redis' string2ld: strtold over the whole argument (shorter than 5120 bytes), no leading
    /// space, no NaN, and no overflow or underflow to zero (ERANGE).
    func parseLongDouble() -> Float80? {
        if count == 0 || count >= 5_120 { return nil }
        let first = self[0]
        if first == 32 || (first >= 9 && first <= 13) { return nil }
        var text = [CChar](repeating: 0, count: count + 1)
        for i in 0..<count {
            if self[i] == 0 { return nil }
            text[i] = CChar(bitPattern: self[i])
        }
        return text.withUnsafeBufferPointer { pointer -> Float80? in
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let value = strtold(pointer.baseAddress!, &end)
            let rangeError = errno == ERANGE
            guard let end, end - UnsafeMutablePointer(mutating: pointer.baseAddress!) == count else { return nil }
            if rangeError && (value.isInfinite || value == 0) { return nil }
            return value.isNaN ? nil : value
        }
    }
}

/// Redis' ld2string in human mode: "%.17Lf" with trailing zeros (and a bare '.') removed.
func formatLongDouble(_ value: Float80) -> String {
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    var buffer = [CChar](repeating: 0, count: 5_200)
    let length = buffer.withUnsafeMutableBufferPointer { pointer in
        withVaList([value]) { vsnprintf(pointer.baseAddress!, pointer.count, "%.17Lf", $0) }
    }
    var text = String(cString: buffer)
    if length > 0 && text.contains(".") {
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
    }
    if text == "-0" { text = "0" }
    return text
}
