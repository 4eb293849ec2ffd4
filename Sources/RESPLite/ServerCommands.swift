// Connection and server commands (Redis server.c / networking.c), and the command table.

import Foundation

enum ServerCommands {
    /// PING [message]
    static func ping(_ c: CommandCall) throws {
        guard c.argumentCount <= 2 else { throw CommandError.wrongArity(c.name) }
        if c.argumentCount == 2 { c.reply.bulk(c.args[1]) } else { c.reply.simple("PONG") }
    }

    /// ECHO message
    static func echo(_ c: CommandCall) throws {
        c.reply.bulk(c.args[1])
    }

    /// QUIT → OK, then the connection closes once the reply is sent.
    static func quit(_ c: CommandCall) throws {
        c.reply.ok()
        c.client.closeAfterReply = true
    }

    /// DBSIZE → live keys in the database (expired keys not yet swept do not count).
    static func dbsize(_ c: CommandCall) throws {
        c.reply.integer(try c.engine.storage.keyCount(now: currentTimeMillis()))
    }

    /// FLUSHDB [ASYNC | SYNC] and FLUSHALL [ASYNC | SYNC] (one database: the same).
    static func flushdb(_ c: CommandCall) throws {
        if c.argumentCount > 2 { throw CommandError.syntax }
        if c.argumentCount == 2 && !(c.args[1].equalsLower("async") || c.args[1].equalsLower("sync")) {
            throw CommandError.syntax
        }
        try c.engine.storage.flush()
        c.reply.ok()
    }
}

/// Every command, as data: the core table below and one table per collection type (each in
/// its type's file).
let allCommands: [Command] = coreCommands + hashCommands + setCommands + listCommands + zsetCommands

/// Key positions follow Redis' legacy (first, last, step) triple; last = -1 means "through
/// the last argument".
let coreCommands: [Command] = [
    // Connection
    Command("ping", arity: -1, flags: [.fast, .noStorage, .stale, .loading], group: "connection", handler: ServerCommands.ping),
    Command("echo", arity: 2, flags: [.fast, .noStorage, .stale, .loading], group: "connection", handler: ServerCommands.echo),
    Command("quit", arity: -1, flags: [.fast, .noStorage, .stale, .loading], group: "connection", handler: ServerCommands.quit),

    // Strings
    Command("get", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.get),
    Command("set", arity: -3, flags: [.write, .denyOOM], keys: (1, 1, 1), group: "string", handler: StringCommands.set),
    Command("setex", arity: 4, flags: [.write, .denyOOM], keys: (1, 1, 1), group: "string", handler: StringCommands.setex),
    Command("psetex", arity: 4, flags: [.write, .denyOOM], keys: (1, 1, 1), group: "string", handler: StringCommands.psetex),
    Command("setnx", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.setnx),
    Command("getset", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.getset),
    Command("getdel", arity: 2, flags: [.write, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.getdel),
    Command("getex", arity: -2, flags: [.write, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.getex),
    Command("mget", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), group: "string", handler: StringCommands.mget),
    Command("mset", arity: -3, flags: [.write, .denyOOM], keys: (1, -1, 2), group: "string", handler: StringCommands.mset),
    Command("msetnx", arity: -3, flags: [.write, .denyOOM], keys: (1, -1, 2), group: "string", handler: StringCommands.msetnx),
    Command("append", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.append),
    Command("strlen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.strlen),
    Command("getrange", arity: 4, flags: [.readonly], keys: (1, 1, 1), group: "string", handler: StringCommands.getrange),
    Command("substr", arity: 4, flags: [.readonly], keys: (1, 1, 1), group: "string", handler: StringCommands.getrange),
    Command("setrange", arity: 4, flags: [.write, .denyOOM], keys: (1, 1, 1), group: "string", handler: StringCommands.setrange),
    Command("incr", arity: 2, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.incr),
    Command("decr", arity: 2, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.decr),
    Command("incrby", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.incrby),
    Command("decrby", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.decrby),
    Command("incrbyfloat", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.incrbyfloat),

    // Keys
    Command("del", arity: -2, flags: [.write], keys: (1, -1, 1), group: "generic", handler: KeyCommands.del),
    Command("unlink", arity: -2, flags: [.write, .fast], keys: (1, -1, 1), group: "generic", handler: KeyCommands.del),
    Command("exists", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), group: "generic", handler: KeyCommands.exists),
    Command("touch", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), group: "generic", handler: KeyCommands.touch),
    Command("type", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.type),
    Command("rename", arity: 3, flags: [.write], keys: (1, 2, 1), group: "generic", handler: KeyCommands.rename),
    Command("renamenx", arity: 3, flags: [.write, .fast], keys: (1, 2, 1), group: "generic", handler: KeyCommands.renamenx),
    Command("copy", arity: -3, flags: [.write, .denyOOM], keys: (1, 2, 1), group: "generic", handler: KeyCommands.copy),
    Command("expire", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.expire),
    Command("pexpire", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.pexpire),
    Command("expireat", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.expireat),
    Command("pexpireat", arity: -3, flags: [.write, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.pexpireat),
    Command("ttl", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.ttl),
    Command("pttl", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.pttl),
    Command("expiretime", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.expiretime),
    Command("pexpiretime", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.pexpiretime),
    Command("persist", arity: 2, flags: [.write, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.persist),
    Command("scan", arity: -2, flags: [.readonly], group: "generic", handler: KeyCommands.scan),
    Command("keys", arity: 2, flags: [.readonly], group: "generic", handler: KeyCommands.keys),
    Command("randomkey", arity: 1, flags: [.readonly], group: "generic", handler: KeyCommands.randomkey),
    Command("object", arity: -2, flags: [.readonly], keys: (2, 2, 1), group: "generic", handler: KeyCommands.object),

    // Server
    Command("dbsize", arity: 1, flags: [.readonly, .fast], group: "server", handler: ServerCommands.dbsize),
    Command("flushdb", arity: -1, flags: [.write], group: "server", handler: ServerCommands.flushdb),
    Command("flushall", arity: -1, flags: [.write], group: "server", handler: ServerCommands.flushdb),
]
