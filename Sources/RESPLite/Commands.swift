// The command table (one entry per command, as data: name, arity, flags, key positions,
// handler) and the dispatcher that drives lookup, arity checks, group-commit bookkeeping
// and error replies from it.

import Foundation

// MARK: - Errors

/// An error reply. Handlers throw these before writing anything to the reply; the dispatcher
/// writes the message. Messages carry Redis' prefixes and texts.
public struct CommandError: Error, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }

    // Replies shared by many commands, built once (as Redis' shared.* objects).
    public static let wrongType = CommandError("WRONGTYPE Operation against a key holding the wrong kind of value")
    public static let notInteger = CommandError("ERR value is not an integer or out of range")
    public static let notFloat = CommandError("ERR value is not a valid float")
    public static let syntax = CommandError("ERR syntax error")
    public static let noSuchKey = CommandError("ERR no such key")
    public static let overflow = CommandError("ERR increment or decrement would overflow")
    public static let invalidCursor = CommandError("ERR invalid cursor")
    public static let notSupported = CommandError("ERR command not supported yet")
    public static let dbIndexOutOfRange = CommandError("ERR DB index is out of range")

    static func wrongArity(_ name: String) -> CommandError {
        CommandError("ERR wrong number of arguments for '\(name)' command")
    }

    static func invalidExpireTime(_ name: String) -> CommandError {
        CommandError("ERR invalid expire time in '\(name)' command")
    }
}

// MARK: - Table

public struct CommandFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let fast = CommandFlags(rawValue: 1 << 2)
    public static let admin = CommandFlags(rawValue: 1 << 3)
    public static let denyOOM = CommandFlags(rawValue: 1 << 4)
    /// Needs no database access (PING, ECHO, QUIT): no transaction is opened for it.
    public static let noStorage = CommandFlags(rawValue: 1 << 5)
    public static let loading = CommandFlags(rawValue: 1 << 6)
    public static let stale = CommandFlags(rawValue: 1 << 7)

    /// The names COMMAND INFO reports.
    public var names: [String] {
        var result: [String] = []
        if contains(.write) { result.append("write") }
        if contains(.readonly) { result.append("readonly") }
        if contains(.denyOOM) { result.append("denyoom") }
        if contains(.admin) { result.append("admin") }
        if contains(.loading) { result.append("loading") }
        if contains(.stale) { result.append("stale") }
        if contains(.fast) { result.append("fast") }
        return result
    }
}

/// One call of a command: its arguments (valid until the handler returns), the client and
/// the engine. Handlers read arguments, call the engine and write one reply.
public struct CommandCall {
    public let args: [ByteView]
    let client: Client
    let engine: Engine

    public var reply: ReplyWriter { client.reply }
    public var argumentCount: Int { args.count }
    /// The command's name as the table spells it (lowercase), for error texts.
    public let name: String

    /// Parses argument `index` as an integer or throws Redis' error.
    public func integer(_ index: Int) throws -> Int64 {
        guard let value = args[index].parseInt64() else { throw CommandError.notInteger }
        return value
    }
}

public typealias CommandHandler = (CommandCall) throws -> Void

/// A command's metadata and handler. Arity follows Redis: positive = exact argument count
/// (including the name), negative = at least that many.
public struct Command {
    public let name: String
    public let arity: Int
    public let flags: CommandFlags
    public let firstKey: Int
    public let lastKey: Int
    public let keyStep: Int
    public let group: String
    let handler: CommandHandler

    init(_ name: String, arity: Int, flags: CommandFlags, keys: (Int, Int, Int) = (0, 0, 0),
         group: String, handler: @escaping CommandHandler) {
        self.name = name
        self.arity = arity
        self.flags = flags
        self.firstKey = keys.0
        self.lastKey = keys.1
        self.keyStep = keys.2
        self.group = group
        self.handler = handler
    }

    func acceptsArgumentCount(_ count: Int) -> Bool {
        arity >= 0 ? count == arity : count >= -arity
    }
}

/// All commands, looked up case-insensitively without allocating (open addressing over
/// lowercase names).
final class CommandTable {
    private(set) var commands: [Command] = []
    private var slots: [Int32]
    private let mask: Int

    init(_ commands: [Command]) {
        var size = 64
        while size < commands.count * 4 { size *= 2 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for command in commands { insert(command) }
    }

    private func insert(_ command: Command) {
        precondition(command.name == command.name.lowercased(), "command names are lowercase")
        let index = Int32(commands.count)
        commands.append(command)
        var slot = command.name.utf8.withContiguousStorageIfAvailable { Self.hash(ByteView(UnsafeRawBufferPointer($0))) }! & mask
        while slots[slot] >= 0 {
            precondition(commands[Int(slots[slot])].name != command.name, "duplicate command \(command.name)")
            slot = (slot + 1) & mask
        }
        slots[slot] = index
    }

    @inline(__always) private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= 65 && byte <= 90 ? byte | 0x20 : byte
    }

    @inline(__always) private static func hash(_ name: ByteView) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in 0..<name.count {
            hash = (hash ^ UInt64(lower(name[i]))) &* 0x100_0000_01b3
        }
        return Int(truncatingIfNeeded: hash & 0x7fff_ffff)
    }

    func lookup(_ name: ByteView) -> Command? {
        guard name.count > 0 && name.count <= 64 else { return nil }
        var slot = Self.hash(name) & mask
        while true {
            let index = slots[slot]
            if index < 0 { return nil }
            let command = commands[Int(index)]
            if command.name.utf8.count == name.count && matches(command.name, name) { return command }
            slot = (slot + 1) & mask
        }
    }

    private func matches(_ lowercase: String, _ name: ByteView) -> Bool {
        var i = 0
        for byte in lowercase.utf8 {
            if Self.lower(name[i]) != byte { return false }
            i += 1
        }
        return true
    }
}

// MARK: - Unknown and unsupported commands

/// Redis commands that RESPLite does not implement: they answer `ERR command not supported
/// yet` instead of the unknown-command error, so users can tell "not yet" from a typo.
let redisCommandNames: Set<String> = [
    "acl", "append", "asking", "auth", "bgrewriteaof", "bgsave", "bitcount", "bitfield", "bitfield_ro",
    "bitop", "bitpos", "blmove", "blmpop", "blpop", "brpop", "brpoplpush", "bzmpop", "bzpopmax",
    "bzpopmin", "client", "cluster", "command", "config", "copy", "dbsize", "debug", "decr", "decrby",
    "del", "discard", "dump", "echo", "eval", "eval_ro", "evalsha", "evalsha_ro", "exec", "exists",
    "expire", "expireat", "expiretime", "failover", "fcall", "fcall_ro", "flushall", "flushdb",
    "function", "geoadd", "geodist", "geohash", "geopos", "georadius", "georadius_ro",
    "georadiusbymember", "georadiusbymember_ro", "geosearch", "geosearchstore", "get", "getbit",
    "getdel", "getex", "getrange", "getset", "hdel", "hello", "hexists", "hexpire", "hexpireat",
    "hexpiretime", "hget", "hgetall", "hgetdel", "hgetex", "hincrby", "hincrbyfloat", "hkeys", "hlen",
    "hmget", "hmset", "hpersist", "hpexpire", "hpexpireat", "hpexpiretime", "hpttl", "hrandfield",
    "hscan", "hset", "hsetex", "hsetnx", "hstrlen", "httl", "hvals", "incr", "incrby", "incrbyfloat",
    "info", "keys", "lastsave", "latency", "lcs", "lindex", "linsert", "llen", "lmove", "lmpop",
    "lolwut", "lpop", "lpos", "lpush", "lpushx", "lrange", "lrem", "lset", "ltrim", "memory", "mget",
    "migrate", "module", "monitor", "move", "mset", "msetnx", "multi", "object", "persist", "pexpire",
    "pexpireat", "pexpiretime", "pfadd", "pfcount", "pfdebug", "pfmerge", "pfselftest", "ping",
    "psetex", "psubscribe", "psync", "pttl", "publish", "pubsub", "punsubscribe", "quit", "randomkey",
    "readonly", "readwrite", "rename", "renamenx", "replconf", "replicaof", "reset", "restore",
    "restore-asking", "role", "rpop", "rpoplpush", "rpush", "rpushx", "sadd", "save", "scan", "scard",
    "script", "sdiff", "sdiffstore", "select", "set", "setbit", "setex", "setnx", "setrange",
    "shutdown", "sinter", "sintercard", "sinterstore", "sismember", "slaveof", "slowlog", "smembers",
    "smismember", "smove", "sort", "sort_ro", "spop", "spublish", "srandmember", "srem", "sscan",
    "ssubscribe", "strlen", "subscribe", "substr", "sunion", "sunionstore", "sunsubscribe", "swapdb",
    "sync", "time", "touch", "ttl", "type", "unlink", "unsubscribe", "unwatch", "wait", "waitaof",
    "watch", "xack", "xadd", "xautoclaim", "xclaim", "xdel", "xgroup", "xinfo", "xlen", "xpending",
    "xrange", "xread", "xreadgroup", "xrevrange", "xsetid", "xtrim", "zadd", "zcard", "zcount",
    "zdiff", "zdiffstore", "zincrby", "zinter", "zintercard", "zinterstore", "zlexcount", "zmpop",
    "zmscore", "zpopmax", "zpopmin", "zrandmember", "zrange", "zrangebylex", "zrangebyscore",
    "zrangestore", "zrank", "zrem", "zremrangebylex", "zremrangebyrank", "zremrangebyscore",
    "zrevrange", "zrevrangebylex", "zrevrangebyscore", "zrevrank", "zscan", "zscore", "zunion",
    "zunionstore",
]

/// An argument as Redis prints it with `%.Ns`: at most `maxBytes` bytes, cut at the first NUL
/// byte (C string). Bytes that are not UTF-8 come out as U+FFFD, since messages are Strings.
func redisFormatArgument(_ argument: ByteView, maxBytes: Int) -> String {
    var end = 0
    let limit = min(argument.count, maxBytes)
    while end < limit && argument[end] != 0 { end += 1 }
    return argument.slice(0, end).string
}

/// Redis' text for an unknown command (commandCheckExistence): the name cut at 128 bytes, and
/// quoted arguments while the list is shorter than 128 bytes, each cut to the room left.
func unknownCommandMessage(_ args: [ByteView]) -> String {
    var arguments: [UInt8] = []
    var index = 1
    while index < args.count && arguments.count < 128 {
        let argument = args[index]
        let room = 128 - arguments.count
        arguments.append(UInt8(ascii: "'"))
        var i = 0
        while i < argument.count && i < room && argument[i] != 0 {
            arguments.append(argument[i])
            i += 1
        }
        arguments.append(UInt8(ascii: "'"))
        arguments.append(UInt8(ascii: " "))
        index += 1
    }
    return "ERR unknown command '\(redisFormatArgument(args[0], maxBytes: 128))', with args beginning with: "
        + String(decoding: arguments, as: UTF8.self)
}

// MARK: - Glob matching

/// Redis' stringmatchlen (util.c), byte for byte: `*`, `?`, `[abc]`, `[^a-z]`, `\x` escapes.
/// Its quirks are kept on purpose, because KEYS and SCAN MATCH must select the same keys as
/// Redis: class ranges compare bytes as C's signed `char`, an unterminated class ends at the
/// end of the pattern, and no pattern but the empty one matches the empty string (not even
/// `*`: KEYS * and SCAN MATCH * skip the matcher, as in Redis).
func globMatch(_ pattern: ByteView, _ string: ByteView, nocase: Bool = false) -> Bool {
    var skipLongerMatches = false
    return globMatch(pattern, 0, string, 0, nocase: nocase, skipLongerMatches: &skipLongerMatches, nesting: 0)
}

/// Recursion depth bound (one level per non-adjacent `*`), as newer Redis versions have.
private let globMaxNesting = 1000

@inline(__always) private func asciiLower(_ byte: UInt8) -> UInt8 {
    byte >= 65 && byte <= 90 ? byte | 0x20 : byte
}

@inline(__always) private func signedChar(_ byte: UInt8, nocase: Bool) -> Int {
    Int(Int8(bitPattern: nocase ? asciiLower(byte) : byte))
}

private func globMatch(_ p: ByteView, _ pStart: Int, _ s: ByteView, _ sStart: Int, nocase: Bool,
                       skipLongerMatches: inout Bool, nesting: Int) -> Bool {
    if nesting > globMaxNesting { return false }
    var pi = pStart
    var si = sStart
    while pi < p.count && si < s.count {
        switch p[pi] {
        case UInt8(ascii: "*"):
            while pi + 1 < p.count && p[pi + 1] == UInt8(ascii: "*") { pi += 1 }
            if pi + 1 == p.count { return true }
            while si < s.count {
                if globMatch(p, pi + 1, s, si, nocase: nocase, skipLongerMatches: &skipLongerMatches, nesting: nesting + 1) {
                    return true
                }
                // The rest of the pattern matched nowhere further on: no longer match helps.
                if skipLongerMatches { return false }
                si += 1
            }
            skipLongerMatches = true
            return false
        case UInt8(ascii: "?"):
            si += 1
        case UInt8(ascii: "["):
            pi += 1
            let negate = pi < p.count && p[pi] == UInt8(ascii: "^")
            if negate { pi += 1 }
            var matched = false
            while true {
                if pi + 1 < p.count && p[pi] == UInt8(ascii: "\\") {
                    pi += 1
                    if p[pi] == s[si] { matched = true }
                } else if pi < p.count && p[pi] == UInt8(ascii: "]") {
                    break
                } else if pi >= p.count {
                    pi -= 1  // unterminated class: it ends with the pattern
                    break
                } else if pi + 2 < p.count && p[pi + 1] == UInt8(ascii: "-") {
                    var start = signedChar(p[pi], nocase: nocase)
                    var end = signedChar(p[pi + 2], nocase: nocase)
                    if start > end { swap(&start, &end) }
                    let c = signedChar(s[si], nocase: nocase)
                    pi += 2
                    if c >= start && c <= end { matched = true }
                } else if nocase ? asciiLower(p[pi]) == asciiLower(s[si]) : p[pi] == s[si] {
                    matched = true
                }
                pi += 1
            }
            if negate { matched = !matched }
            if !matched { return false }
            si += 1
        default:
            if p[pi] == UInt8(ascii: "\\") && pi + 1 < p.count { pi += 1 }
            if nocase ? asciiLower(p[pi]) != asciiLower(s[si]) : p[pi] != s[si] { return false }
            si += 1
        }
        pi += 1
        if si == s.count {
            while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
            break
        }
    }
    return pi == p.count && si == s.count
}
