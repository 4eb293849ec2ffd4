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
    /// Allowed before AUTH when a password is set (AUTH, HELLO, QUIT); never fed to MONITOR.
    public static let noAuth = CommandFlags(rawValue: 1 << 8)
    public static let pubsub = CommandFlags(rawValue: 1 << 9)
    public static let noscript = CommandFlags(rawValue: 1 << 10)
    /// Runs at once inside MULTI instead of being queued (MULTI, EXEC, DISCARD, WATCH...).
    public static let transactionControl = CommandFlags(rawValue: 1 << 11)
    /// Allowed in RESP2 subscribed mode ((P|S)(UN)SUBSCRIBE, PING, QUIT, RESET).
    public static let allowedWhileSubscribed = CommandFlags(rawValue: 1 << 12)
    /// Modifies every key (FLUSHDB, FLUSHALL): every WATCH is touched.
    public static let keyspaceWide = CommandFlags(rawValue: 1 << 13)
    /// May block the client (BLPOP...).
    public static let blocking = CommandFlags(rawValue: 1 << 14)
    /// Its handler checks everything that can fail (arguments, types, values) before its first
    /// write, so only a storage error (disk full, I/O) can stop it after writing. Run directly
    /// (not inside EXEC), it gets no savepoint of its own: such an error rolls the whole group
    /// commit back and every command of the batch answers it. Internal (not in COMMAND INFO).
    public static let validatesBeforeWriting = CommandFlags(rawValue: 1 << 15)

    /// The names COMMAND INFO reports.
    public var names: [String] {
        var result: [String] = []
        if contains(.write) { result.append("write") }
        if contains(.readonly) { result.append("readonly") }
        if contains(.denyOOM) { result.append("denyoom") }
        if contains(.admin) { result.append("admin") }
        if contains(.pubsub) { result.append("pubsub") }
        if contains(.noscript) { result.append("noscript") }
        if contains(.loading) { result.append("loading") }
        if contains(.stale) { result.append("stale") }
        if contains(.noAuth) { result.append("no_auth") }
        if contains(.blocking) { result.append("blocking") }
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

    /// The client's reply writer, made once per command (handlers write to it in loops; HELLO,
    /// which switches the protocol, takes a new one from the client).
    public let reply: ReplyWriter
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

/// Consecutive pipelined calls of one command on one key, of one shape, executed as one
/// (spec/protocol.md, "Pipelined runs"): the run handler writes one reply per call, exactly
/// what the calls one by one would have written. The call passed with it holds the first
/// call's arguments.
struct PipelineRun {
    /// The calls' arguments end to end, `arity` per call (names included).
    let arguments: [ByteView]
    /// Arguments of each call (all calls of a run have the same count).
    let arity: Int
    /// Calls in the run (at least 2).
    var count: Int { arguments.count / arity }

    /// Argument `index` of call `call`.
    @inline(__always) func argument(_ call: Int, _ index: Int) -> ByteView {
        assert(call < count && index < arity, "a call of the run")
        return arguments[call * arity + index]
    }

    /// The arguments of one call, for running it alone.
    func call(_ call: Int) -> [ByteView] {
        Array(arguments[(call * arity)..<((call + 1) * arity)])
    }
}

/// Bounds on pipelined runs.
public enum PipelineRunLimits {
    /// Calls in one run by default (`ServerOptions.pipelineRunMaxCommands`): bounds the run's
    /// argument array and what one run handler does at once.
    public static let defaultMaxCommands = 64
    /// The largest `pipelineRunMaxCommands` accepted.
    public static let maxCommands = 1024
}

/// Runs a pipelined run. It must check everything a call could fail on before its first
/// write (as `validatesBeforeWriting` handlers do) and throw then: the dispatcher then runs the
/// calls one by one, so each gets its own reply or error.
typealias RunHandler = (CommandCall, PipelineRun) throws -> Void

/// A command's metadata and handler. Arity follows Redis: positive = exact argument count
/// (including the name), negative = at least that many. A class: dispatch passes one
/// reference per request instead of copying the names and the handler.
public final class Command {
    /// The command's own name: error texts use it, whatever the command is called by.
    public let name: String
    /// The name clients call it by (differs after a rename policy).
    public internal(set) var publicName: String
    public let arity: Int
    public let flags: CommandFlags
    public let firstKey: Int
    public let lastKey: Int
    public let keyStep: Int
    /// For commands whose keys follow a count (LMPOP numkeys key..., ZUNIONSTORE dest
    /// numkeys key...): the argument index of that count (0 = none).
    public internal(set) var numkeysIndex = 0
    public let group: String
    let handler: CommandHandler
    /// Calls with exactly `runArity` arguments may be executed as a pipelined run by
    /// `runHandler` (0: never).
    let runArity: Int
    let runHandler: RunHandler?

    init(_ name: String, arity: Int, flags: CommandFlags, keys: (Int, Int, Int) = (0, 0, 0),
         group: String, handler: @escaping CommandHandler, run: (arity: Int, handler: RunHandler)? = nil) {
        precondition(run == nil || (keys.0 == 1 && run!.arity >= 2), "a run is of calls on one key, argument 1")
        self.name = name
        self.runArity = run?.arity ?? 0
        self.runHandler = run?.handler
        self.publicName = name
        self.arity = arity
        self.flags = flags
        self.firstKey = keys.0
        self.lastKey = keys.1
        self.keyStep = keys.2
        self.group = group
        self.handler = handler
    }

    /// The same command under another public name (a rename policy; the shared tables stay).
    func renamed(_ newName: String) -> Command {
        let copy = Command(name, arity: arity, flags: flags, keys: (firstKey, lastKey, keyStep), group: group, handler: handler,
                           run: runHandler.map { (runArity, $0) })
        copy.publicName = newName
        copy.numkeysIndex = numkeysIndex
        return copy
    }

    func acceptsArgumentCount(_ count: Int) -> Bool {
        arity >= 0 ? count == arity : count >= -arity
    }
}

/// All commands, looked up case-insensitively without allocating (open addressing over
/// lowercase names).
final class CommandTable {
    /// The commands callable, under their public names (COMMAND output).
    private(set) var commands: [Command] = []
    private var slots: [Int32]
    private let mask: Int
    /// The public names' bytes end to end; command i's name is
    /// `nameBytes[nameStarts[i]..<nameStarts[i + 1]]` (compared without touching the String).
    private var nameBytes: [UInt8] = []
    private var nameStarts: [Int] = [0]
    /// Names that answer `ERR command not supported yet`: disabled commands, and Redis
    /// commands not implemented (minus the old names of renamed commands, which are unknown).
    private let unsupportedNames: Set<String>

    init(_ all: [Command], renamed: [String: String] = [:], disabled: Set<String> = []) {
        let renamed = Dictionary(renamed.map { ($0.key.lowercased(), $0.value.lowercased()) }, uniquingKeysWith: { $1 })
        let disabled = Set(disabled.map { $0.lowercased() }).union(renamed.filter { $0.value.isEmpty }.map(\.key))
        var size = 64
        while size < all.count * 4 { size *= 2 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        unsupportedNames = redisCommandNames.union(disabled).subtracting(renamed.filter { !$0.value.isEmpty }.map(\.key))
        for command in all where !disabled.contains(command.name) {
            insert(renamed[command.name].map { command.renamed($0) } ?? command)
        }
    }

    func isUnsupported(_ name: ByteView) -> Bool {
        name.count <= 64 && unsupportedNames.contains(name.string.lowercased())
    }

    private func insert(_ command: Command) {
        let key = command.publicName
        let index = Int32(commands.count)
        commands.append(command)
        nameBytes.append(contentsOf: key.utf8)
        nameStarts.append(nameBytes.count)
        var slot = key.utf8.withContiguousStorageIfAvailable { Self.hash(ByteView(UnsafeRawBufferPointer($0))) }! & mask
        while slots[slot] >= 0 {
            precondition(commands[Int(slots[slot])].publicName != key, "duplicate command \(key)")
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
            let index = Int(slots[slot])
            if index < 0 { return nil }
            if matches(index, name) { return commands[index] }
            slot = (slot + 1) & mask
        }
    }

    /// Whether command `index`'s public name (lowercase) is `name` in any case.
    @inline(__always) private func matches(_ index: Int, _ name: ByteView) -> Bool {
        let start = nameStarts[index]
        guard nameStarts[index + 1] - start == name.count else { return false }
        for i in 0..<name.count where Self.lower(name[i]) != nameBytes[start + i] { return false }
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

// MARK: - Shared argument shapes

/// `numkeys key [key ...] WHERE [COUNT count]` as LMPOP, ZMPOP, BLMPOP and BZMPOP take it.
struct MultiPopArguments {
    let keys: [ByteView]
    /// True for the second of the two WHERE words (RIGHT for lists, MAX for sorted sets).
    let fromSecondEnd: Bool
    let count: Int64
    /// Whether COUNT was given (it changes the RESP3 reply shape of some commands).
    let countGiven: Bool

    /// Parses from `numkeysIndex`; `words` are the two accepted WHERE words, lowercase.
    init(_ c: CommandCall, numkeysIndex: Int, words: (StaticString, StaticString)) throws {
        guard let numkeys = c.args[numkeysIndex].parseInt64(), numkeys > 0 else {
            throw CommandError("ERR numkeys should be greater than 0")
        }
        guard numkeys <= Int64(c.argumentCount - numkeysIndex - 1) else { throw CommandError.syntax }
        let whereIndex = numkeysIndex + 1 + Int(numkeys)
        guard whereIndex < c.argumentCount else { throw CommandError.syntax }
        if c.args[whereIndex].equalsLower(words.0) { fromSecondEnd = false }
        else if c.args[whereIndex].equalsLower(words.1) { fromSecondEnd = true }
        else { throw CommandError.syntax }
        var count: Int64? = nil
        var index = whereIndex + 1
        while index < c.argumentCount {
            guard count == nil, c.args[index].equalsLower("count"), index + 1 < c.argumentCount else { throw CommandError.syntax }
            guard let value = c.args[index + 1].parseInt64(), value >= 1 else {
                throw CommandError("ERR count should be greater than 0")
            }
            count = value
            index += 2
        }
        keys = Array(c.args[(numkeysIndex + 1)..<whereIndex])
        self.count = count ?? 1
        countGiven = count != nil
    }
}

/// `[MATCH pattern] [COUNT count]` (+ `TYPE t` for SCAN, `NOVALUES` for HSCAN) from `start`,
/// as the SCAN family takes them: COUNT ≥ 1, unknown or incomplete options are a syntax error,
/// and `MATCH *` filters nothing (the matcher itself would miss the empty key).
struct ScanOptions {
    var count: Int64 = 10
    var pattern: ByteView? = nil
    var type: ByteView? = nil
    var noValues = false

    init(_ c: CommandCall, from start: Int, allowType: Bool = false, allowNoValues: Bool = false) throws {
        var index = start
        while index < c.argumentCount {
            let option = c.args[index]
            let hasValue = index + 1 < c.argumentCount
            if option.equalsLower("count") && hasValue {
                count = try c.integer(index + 1)
                guard count >= 1 else { throw CommandError.syntax }
                index += 2
            } else if option.equalsLower("match") && hasValue {
                pattern = c.args[index + 1]
                index += 2
            } else if allowType && option.equalsLower("type") && hasValue {
                type = c.args[index + 1]
                index += 2
            } else if allowNoValues && option.equalsLower("novalues") {
                noValues = true
                index += 1
            } else {
                throw CommandError.syntax
            }
        }
        if let match = pattern, match.count == 1 && match[0] == UInt8(ascii: "*") { pattern = nil }
    }
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

// MARK: - COMMAND

/// COMMAND, COUNT, INFO, DOCS, LIST, GETKEYS: answered from the command table, so what is
/// listed is exactly what dispatch accepts (renamed commands under their new names, disabled
/// ones absent).
enum CommandIntrospection {
    static func command(_ c: CommandCall) throws {
        let table = c.engine.table
        guard c.argumentCount >= 2 else {
            c.reply.arrayHeader(table.commands.count)
            for command in table.commands { writeInfo(command, c.reply) }
            return
        }
        let sub = c.args[1].string.lowercased()
        switch sub {
        case "count":
            guard c.argumentCount == 2 else { throw CommandError.wrongArity("command|count") }
            c.reply.integer(table.commands.count)
        case "info":
            if c.argumentCount == 2 {
                c.reply.arrayHeader(table.commands.count)
                for command in table.commands { writeInfo(command, c.reply) }
                return
            }
            c.reply.arrayHeader(c.argumentCount - 2)
            for index in 2..<c.argumentCount {
                if let command = table.lookup(c.args[index]) { writeInfo(command, c.reply) } else { c.reply.nullArray() }
            }
        case "docs":
            let selected = c.argumentCount == 2
                ? table.commands
                : (2..<c.argumentCount).compactMap { table.lookup(c.args[$0]) }
            c.reply.mapHeader(selected.count)
            for command in selected {
                c.reply.bulk(command.publicName)
                c.reply.mapHeader(3)
                c.reply.bulk("summary"); c.reply.bulk(summary(command))
                c.reply.bulk("since"); c.reply.bulk("1.0.0")
                c.reply.bulk("group"); c.reply.bulk(command.group)
            }
        case "list":
            var names = table.commands
            if c.argumentCount > 2 {
                guard c.argumentCount == 5, c.args[2].equalsLower("filterby") else { throw CommandError.syntax }
                let value = c.args[4]
                if c.args[3].equalsLower("pattern") {
                    names = names.filter { command in Array(command.publicName.utf8).withByteView { globMatch(value, $0, nocase: true) } }
                } else if c.args[3].equalsLower("aclcat") {
                    let category = value.string.lowercased()
                    names = names.filter { categories($0).contains("@" + category) }
                } else if c.args[3].equalsLower("module") {
                    names = []
                } else {
                    throw CommandError.syntax
                }
            }
            c.reply.arrayHeader(names.count)
            for command in names { c.reply.bulk(command.publicName) }
        case "getkeys":
            guard c.argumentCount >= 3, let command = table.lookup(c.args[2]) else {
                throw CommandError("ERR Invalid command specified")
            }
            let arguments = Array(c.args[2...])
            guard command.acceptsArgumentCount(arguments.count) else {
                throw CommandError("ERR Invalid number of arguments specified for command")
            }
            let positions = keyPositions(command, arguments)
            guard !positions.isEmpty else { throw CommandError("ERR The command has no key arguments") }
            c.reply.arrayHeader(positions.count)
            for position in positions { c.reply.bulk(arguments[position]) }
        case "help":
            let lines = ["COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                         "(no subcommand)", "    Return details about all commands.", "COUNT", "    Return the total number of commands.",
                         "DOCS [<command-name> ...]", "    Return documentation details about multiple commands.",
                         "GETKEYS <full-command>", "    Return the keys from a full command.",
                         "INFO [<command-name> ...]", "    Return details about multiple commands.",
                         "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
                         "    Return a list of all commands in this server.", "HELP", "    Print this help."]
            c.reply.arrayHeader(lines.count)
            for line in lines { c.reply.simple(line) }
        default:
            throw CommandError("ERR unknown subcommand '\(c.args[1].string.prefix(128))'. Try COMMAND HELP.")
        }
    }

    /// Argument positions of the keys: (first, last, step), plus the keys after a numkeys
    /// count for commands that have one.
    static func keyPositions(_ command: Command, _ args: [ByteView]) -> [Int] {
        var positions: [Int] = []
        let argumentCount = args.count
        if command.firstKey > 0 {
            let last = command.lastKey < 0 ? argumentCount + command.lastKey : command.lastKey
            if last >= command.firstKey {
                positions = Array(stride(from: command.firstKey, through: min(last, argumentCount - 1), by: max(1, command.keyStep)))
            }
        }
        let index = command.numkeysIndex
        if index > 0, index < argumentCount, let count = args[index].parseInt64(), count > 0 {
            let end = min(argumentCount, index + 1 + Int(min(count, Int64(argumentCount))))
            positions.append(contentsOf: (index + 1)..<end)
        }
        return positions
    }

    /// ACL categories as Redis derives them from the flags and group.
    static func categories(_ command: Command) -> [String] {
        var result: [String] = []
        if command.firstKey > 0 { result.append("@keyspace") }
        switch command.group {
        case "string": result.append("@string")
        case "hash": result.append("@hash")
        case "set": result.append("@set")
        case "list": result.append("@list")
        case "sorted-set", "sorted_set": result.append("@sortedset")
        case "connection": result.append("@connection")
        default: break
        }
        if command.flags.contains(.write) { result.append("@write") }
        if command.flags.contains(.readonly) { result.append("@read") }
        if command.flags.contains(.admin) { result.append(contentsOf: ["@admin", "@dangerous"]) }
        result.append(command.flags.contains(.fast) ? "@fast" : "@slow")
        return result
    }

    static func summary(_ command: Command) -> String {
        "\(command.publicName.uppercased()) (\(command.group)): see spec/commands.md"
    }

    /// Redis 7's 10-element command description.
    static func writeInfo(_ command: Command, _ reply: ReplyWriter) {
        reply.arrayHeader(10)
        reply.bulk(command.publicName)
        reply.integer(command.arity)
        let flags = command.flags.names
        reply.setHeader(flags.count)
        for flag in flags { reply.simple(flag) }
        reply.integer(command.firstKey)
        reply.integer(command.lastKey)
        reply.integer(command.keyStep)
        let acl = categories(command)
        reply.setHeader(acl.count)
        for category in acl { reply.simple(category) }
        reply.arrayHeader(0)  // tips
        // (numkeys commands: their movable keys are found by COMMAND GETKEYS)
        if command.firstKey > 0 {
            reply.arrayHeader(1)
            reply.mapHeader(3)
            reply.bulk("flags")
            let keyFlags = command.flags.contains(.write) ? ["RW", "UPDATE"] : ["RO", "ACCESS"]
            reply.setHeader(keyFlags.count)
            for flag in keyFlags { reply.simple(flag) }
            reply.bulk("begin_search")
            reply.mapHeader(2)
            reply.bulk("type"); reply.bulk("index")
            reply.bulk("spec"); reply.mapHeader(1); reply.bulk("index"); reply.integer(command.firstKey)
            reply.bulk("find_keys")
            reply.mapHeader(2)
            reply.bulk("type"); reply.bulk("range")
            reply.bulk("spec"); reply.mapHeader(3)
            reply.bulk("lastkey"); reply.integer(command.lastKey < 0 ? command.lastKey : command.lastKey - command.firstKey)
            reply.bulk("keystep"); reply.integer(command.keyStep)
            reply.bulk("limit"); reply.integer(0)
        } else {
            reply.arrayHeader(0)
        }
        reply.arrayHeader(0)  // subcommands
    }
}
