// Connection commands (Redis networking.c / acl.c): PING, ECHO, QUIT, HELLO, AUTH, SELECT,
// RESET and CLIENT. They change the connection's state and never touch SQLite.

import Foundation

/// The Redis version RESPLite reports (HELLO, INFO): the command surface it follows.
let reportedRedisVersion = "7.2.0"
let respliteVersion = "0.1.0"

enum ConnectionCommands {
    /// PING [message]
    static func ping(_ c: CommandCall) throws {
        guard c.argumentCount <= 2 else { throw CommandError.wrongArity(c.name) }
        if c.client.subscriptionCount > 0 && !c.client.resp3 {
            // RESP2 subscribed mode: ["pong", message or ""].
            c.reply.arrayHeader(2)
            c.reply.bulk("pong")
            if c.argumentCount == 2 { c.reply.bulk(c.args[1]) } else { c.reply.bulk("") }
            return
        }
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

    // MARK: Authentication

    static let wrongPassword = CommandError("WRONGPASS invalid username-password pair or user is disabled.")

    /// Compares in time that depends only on the lengths, never on where bytes differ.
    static func constantTimeEquals(_ given: ByteView, _ expected: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: given.count ^ expected.count)
        if expected.isEmpty { return given.count == 0 }
        for index in 0..<given.count {
            difference |= given[index] ^ expected[index % expected.count]
        }
        return difference == 0
    }

    /// Checks a user/password pair against `requirepass` (the only user is "default").
    static func authenticate(_ c: CommandCall, user: ByteView?, password: ByteView) throws {
        if let user, !user.equalsLower("default") { throw wrongPassword }
        guard let expected = c.engine.requirePassword else {
            // No password configured: the default user accepts any password (Redis' nopass).
            c.client.authenticated = true
            return
        }
        guard constantTimeEquals(password, expected) else { throw wrongPassword }
        c.client.authenticated = true
    }

    /// AUTH [username] password
    static func auth(_ c: CommandCall) throws {
        guard c.argumentCount <= 3 else { throw CommandError.syntax }
        if c.argumentCount == 2 {
            guard c.engine.requirePassword != nil else {
                throw CommandError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
            }
            try authenticate(c, user: nil, password: c.args[1])
        } else {
            try authenticate(c, user: c.args[1], password: c.args[2])
        }
        c.reply.ok()
    }

    /// HELLO [protover [AUTH username password] [SETNAME clientname]] → the server map.
    static func hello(_ c: CommandCall) throws {
        var version = c.client.resp3 ? 3 : 2
        var index = 1
        if c.argumentCount >= 2 {
            guard let requested = c.args[1].parseInt64() else {
                throw CommandError("ERR Protocol version is not an integer or out of range")
            }
            guard requested == 2 || requested == 3 else { throw CommandError("NOPROTO unsupported protocol version") }
            version = Int(requested)
            index = 2
        }
        var credentials: (ByteView, ByteView)? = nil
        var newName: ByteView? = nil
        while index < c.argumentCount {
            let option = c.args[index]
            if option.equalsLower("auth") && index + 2 < c.argumentCount {
                credentials = (c.args[index + 1], c.args[index + 2])
                index += 3
            } else if option.equalsLower("setname") && index + 1 < c.argumentCount {
                newName = c.args[index + 1]
                index += 2
            } else {
                throw CommandError("ERR Syntax error in HELLO option '\(option.string)'")
            }
        }
        if credentials == nil && c.engine.requirePassword != nil && !c.client.authenticated {
            throw CommandError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
        }
        if let (user, password) = credentials { try authenticate(c, user: user, password: password) }
        if let newName { try validateName(newName, what: "Client names") }
        if let newName { c.client.name = newName.string }
        c.client.resp3 = version == 3
        let reply = c.client.reply  // in the protocol just chosen
        reply.mapHeader(7)
        reply.bulk("server"); reply.bulk("redis")
        reply.bulk("version"); reply.bulk(reportedRedisVersion)
        reply.bulk("proto"); reply.integer(version)
        reply.bulk("id"); reply.integer(c.client.id)
        reply.bulk("mode"); reply.bulk("standalone")
        reply.bulk("role"); reply.bulk("master")
        reply.bulk("modules"); reply.arrayHeader(0)
    }

    /// SELECT index: one database, index 0.
    static func select(_ c: CommandCall) throws {
        let index = try c.integer(1)
        guard index == 0 else { throw CommandError.dbIndexOutOfRange }
        c.reply.ok()
    }

    /// RESET: the connection as new (RESP2, no name, not authenticated if a password is set,
    /// replies on, not a monitor) → +RESET.
    static func reset(_ c: CommandCall) throws {
        let client = c.client
        client.resp3 = false
        client.name = ""
        client.replyMode = .on
        client.noEvict = false
        client.noTouch = false
        client.authenticated = false
        c.engine.forget(client)  // MONITOR, MULTI, WATCH, subscriptions
        client.isMonitor = false
        c.reply.simple("RESET")
    }

    // MARK: CLIENT

    /// Names may not contain spaces, newlines or special characters (Redis' rule: '!'...'~').
    static func validateName(_ name: ByteView, what: String) throws {
        for index in 0..<name.count where name[index] < 33 || name[index] > 126 {
            throw CommandError("ERR \(what) cannot contain spaces, newlines or special characters.")
        }
    }

    static let clientHelp = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME", "    Return the name of the current connection.",
        "ID", "    Return the ID of the current connection.",
        "INFO", "    Return information about the current client connection.",
        "KILL <ip:port>", "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are: ID <id>, ADDR <ip:port>, LADDR <ip:port>, USER default, SKIPME (YES|NO).",
        "LIST [options ...]", "    Return information about client connections. Options: TYPE (NORMAL|PUBSUB), ID id [id ...].",
        "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)", "    Will not touch LRU/LFU stats when this mode is on.",
        "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>", "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
        "HELP", "    Print this help.",
    ]

    /// CLIENT subcommand [arguments]
    static func client(_ c: CommandCall) throws {
        let sub = c.args[1].string.lowercased()
        func arity(_ exact: Int) throws {
            guard c.argumentCount == exact else { throw CommandError.wrongArity("client|\(sub)") }
        }
        let client = c.client
        switch sub {
        case "id":
            try arity(2)
            c.reply.integer(client.id)
        case "getname":
            try arity(2)
            if client.name.isEmpty { c.reply.null() } else { c.reply.bulk(client.name) }
        case "setname":
            try arity(3)
            try validateName(c.args[2], what: "Client names")
            client.name = c.args[2].string
            c.reply.ok()
        case "setinfo":
            try arity(4)
            let attribute = c.args[2]
            if attribute.equalsLower("lib-name") {
                try validateName(c.args[3], what: "lib-name")
                client.libraryName = c.args[3].string
            } else if attribute.equalsLower("lib-ver") {
                try validateName(c.args[3], what: "lib-ver")
                client.libraryVersion = c.args[3].string
            } else {
                throw CommandError("ERR Unrecognized option '\(attribute.string)'")
            }
            c.reply.ok()
        case "info":
            try arity(2)
            c.reply.verbatim(clientLine(client, engine: c.engine) + "\n")
        case "list":
            try clientList(c)
        case "kill":
            try clientKill(c)
        case "no-evict", "no-touch":
            try arity(3)
            let on = c.args[2].equalsLower("on")
            guard on || c.args[2].equalsLower("off") else { throw CommandError.syntax }
            if sub == "no-evict" { client.noEvict = on } else { client.noTouch = on }
            c.reply.ok()
        case "reply":
            try arity(3)
            let mode = c.args[2]
            if mode.equalsLower("on") {
                client.replyMode = .on
                c.reply.ok()
            } else if mode.equalsLower("off") {
                client.replyMode = .off
            } else if mode.equalsLower("skip") {
                if client.replyMode == .on { client.replyMode = .skipNext }
            } else {
                throw CommandError.syntax
            }
        case "help":
            try arity(2)
            c.reply.arrayHeader(clientHelp.count)
            for line in clientHelp { c.reply.simple(line) }
        case "pause", "unpause", "tracking", "trackinginfo", "caching", "getredir", "unblock", "no-evict-pause":
            throw CommandError.notSupported
        default:
            throw CommandError("ERR unknown subcommand '\(c.args[1].string.prefix(128))'. Try CLIENT HELP.")
        }
    }

    /// One CLIENT LIST line, with Redis' fields.
    static func clientLine(_ client: Client, engine: Engine) -> String {
        let now = monotonicMillis()
        let flags = client.isMonitor ? "O" : "N"
        let command = client.lastCommandName == "NULL" ? "NULL" : client.lastCommandName
        let queryBuffer = client.input.readableCount
        let outputBytes = client.output.readableCount + client.sending.readableCount
        return "id=\(client.id) addr=\(client.address) laddr=\(client.localAddress) fd=\(client.fd) name=\(client.name) "
            + "age=\((now - client.createdAt) / 1000) idle=\((now - client.lastCommandAt) / 1000) flags=\(flags) db=0 "
            + "sub=0 psub=0 ssub=0 multi=-1 qbuf=\(queryBuffer) qbuf-free=0 argv-mem=0 multi-mem=0 rbs=\(client.input.capacity) "
            + "rbp=0 obl=0 oll=0 omem=\(outputBytes) tot-mem=\(client.input.capacity + client.output.capacity + client.sending.capacity) "
            + "events=r cmd=\(command) user=default redir=-1 resp=\(client.resp3 ? 3 : 2) "
            + "lib-name=\(client.libraryName) lib-ver=\(client.libraryVersion)"
    }

    /// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]]
    static func clientList(_ c: CommandCall) throws {
        var ids: Set<Int64>? = nil
        var typeFilter: String? = nil
        var index = 2
        while index < c.argumentCount {
            if c.args[index].equalsLower("type") && index + 1 < c.argumentCount {
                let type = c.args[index + 1].string.lowercased()
                guard ["normal", "master", "replica", "slave", "pubsub"].contains(type) else {
                    throw CommandError("ERR Unknown client type '\(c.args[index + 1].string)'")
                }
                typeFilter = type
                index += 2
            } else if c.args[index].equalsLower("id") && index + 1 < c.argumentCount {
                var wanted = Set<Int64>()
                index += 1
                while index < c.argumentCount {
                    guard let id = c.args[index].parseInt64(), id > 0 else {
                        throw CommandError("ERR Invalid client ID")
                    }
                    wanted.insert(id)
                    index += 1
                }
                ids = wanted
            } else {
                throw CommandError.syntax
            }
        }
        var text = ""
        for client in c.engine.core?.openClients ?? [] {
            if let ids, !ids.contains(client.id) { continue }
            if let typeFilter, typeFilter != "normal" { continue }
            text += clientLine(client, engine: c.engine) + "\n"
        }
        c.reply.verbatim(text)
    }

    /// CLIENT KILL ip:port | CLIENT KILL [ID id] [ADDR ip:port] [LADDR ip:port] [USER name]
    /// [TYPE type] [SKIPME yes|no]
    static func clientKill(_ c: CommandCall) throws {
        guard let core = c.engine.core else { throw CommandError("ERR No such client") }
        if c.argumentCount == 3 {
            let address = c.args[2].string
            guard let target = core.openClients.first(where: { $0.address == address }) else {
                throw CommandError("ERR No such client")
            }
            if target === c.client { core.closeSoon(target) } else { core.disconnect(target) }
            c.reply.ok()
            return
        }
        guard c.argumentCount % 2 == 0 else { throw CommandError.syntax }
        var id: Int64? = nil, address: String? = nil, localAddress: String? = nil
        var user: String? = nil, type: String? = nil
        var skipMe = true
        for index in stride(from: 2, to: c.argumentCount, by: 2) {
            let option = c.args[index], value = c.args[index + 1]
            if option.equalsLower("id") {
                guard let parsed = value.parseInt64(), parsed > 0 else {
                    throw CommandError("ERR client-id should be greater than 0")
                }
                id = parsed
            } else if option.equalsLower("addr") {
                address = value.string
            } else if option.equalsLower("laddr") {
                localAddress = value.string
            } else if option.equalsLower("user") {
                user = value.string
            } else if option.equalsLower("type") {
                type = value.string.lowercased()
                guard ["normal", "master", "replica", "slave", "pubsub"].contains(type!) else {
                    throw CommandError("ERR Unknown client type '\(value.string)'")
                }
            } else if option.equalsLower("skipme") {
                if value.equalsLower("yes") { skipMe = true } else if value.equalsLower("no") { skipMe = false } else { throw CommandError.syntax }
            } else {
                throw CommandError.syntax
            }
        }
        var killed: Int64 = 0
        for target in core.openClients {
            if let id, target.id != id { continue }
            if let address, target.address != address { continue }
            if let localAddress, target.localAddress != localAddress { continue }
            if let user, user != "default" { continue }
            if let type, type != "normal" { continue }
            if skipMe && target === c.client { continue }
            if target === c.client { core.closeSoon(target) } else { core.disconnect(target) }
            killed += 1
        }
        c.reply.integer(killed)
    }
}
