// Pub/Sub (Redis pubsub.c) and keyspace notifications (notify.c).
//
// Subscriptions live in the engine (channel → clients, pattern → clients, shard channel →
// clients). Messages are written straight into subscribers' output buffers and leave at the
// end of the turn. A subscriber that does not read is disconnected once its pending output
// passes the pub/sub output limits (Redis' `client-output-buffer-limit pubsub 32mb 8mb 60`),
// so a slow subscriber cannot grow memory without bound.

import Foundation

/// Output limits for clients with subscriptions.
enum PubSubLimits {
    /// Disconnect at once past this many pending bytes.
    static let hardBytes = 32 * 1024 * 1024
    /// Disconnect when over this many bytes for `softSeconds` in a row.
    static let softBytes = 8 * 1024 * 1024
    static let softSeconds: Int64 = 60
}

/// Keyspace notification classes, as Redis' notify-keyspace-events letters.
struct KeyspaceEvents: OptionSet {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let keyspace = KeyspaceEvents(rawValue: 1 << 0)   // K
    static let keyevent = KeyspaceEvents(rawValue: 1 << 1)   // E
    static let generic = KeyspaceEvents(rawValue: 1 << 2)    // g
    static let string = KeyspaceEvents(rawValue: 1 << 3)     // $
    static let list = KeyspaceEvents(rawValue: 1 << 4)       // l
    static let set = KeyspaceEvents(rawValue: 1 << 5)        // s
    static let hash = KeyspaceEvents(rawValue: 1 << 6)       // h
    static let zset = KeyspaceEvents(rawValue: 1 << 7)       // z
    static let expired = KeyspaceEvents(rawValue: 1 << 8)    // x
    static let evicted = KeyspaceEvents(rawValue: 1 << 9)    // e
    static let stream = KeyspaceEvents(rawValue: 1 << 10)    // t
    static let keyMiss = KeyspaceEvents(rawValue: 1 << 11)   // m
    static let module = KeyspaceEvents(rawValue: 1 << 12)    // d
    static let newKey = KeyspaceEvents(rawValue: 1 << 13)    // n
    static let all: KeyspaceEvents = [.generic, .string, .list, .set, .hash, .zset, .expired, .evicted, .stream, .module]

    private static let letters: [(Character, KeyspaceEvents)] = [
        ("g", .generic), ("$", .string), ("l", .list), ("s", .set), ("h", .hash), ("z", .zset),
        ("x", .expired), ("e", .evicted), ("t", .stream), ("d", .module),
    ]

    /// Parses Redis' letters; nil for an unknown letter.
    init?(letters text: String) {
        var flags: KeyspaceEvents = []
        for letter in text {
            switch letter {
            case "A": flags.formUnion(.all)
            case "K": flags.insert(.keyspace)
            case "E": flags.insert(.keyevent)
            case "m": flags.insert(.keyMiss)
            case "n": flags.insert(.newKey)
            default:
                guard let flag = Self.letters.first(where: { $0.0 == letter })?.1 else { return nil }
                flags.insert(flag)
            }
        }
        self = flags
    }

    /// Redis' canonical spelling (keyspaceEventsFlagsToString).
    var letters: String {
        var text = ""
        if isSuperset(of: .all) { text = "A" } else {
            for (letter, flag) in Self.letters where contains(flag) { text.append(letter) }
        }
        if contains(.keyspace) { text.append("K") }
        if contains(.keyevent) { text.append("E") }
        if contains(.keyMiss) { text.append("m") }
        if contains(.newKey) { text.append("n") }
        return text
    }
}

enum PubSubCommands {
    /// SUBSCRIBE channel [channel ...]
    static func subscribe(_ c: CommandCall) throws {
        for index in 1..<c.argumentCount { c.engine.subscribe(c.client, channel: c.args[index].array, kind: .channel) }
    }

    /// PSUBSCRIBE pattern [pattern ...]
    static func psubscribe(_ c: CommandCall) throws {
        for index in 1..<c.argumentCount { c.engine.subscribe(c.client, channel: c.args[index].array, kind: .pattern) }
    }

    /// SSUBSCRIBE shardchannel [shardchannel ...] (one node: every shard channel is here)
    static func ssubscribe(_ c: CommandCall) throws {
        for index in 1..<c.argumentCount { c.engine.subscribe(c.client, channel: c.args[index].array, kind: .shard) }
    }

    static func unsubscribe(_ c: CommandCall) throws { try unsubscribeGeneric(c, .channel) }
    static func punsubscribe(_ c: CommandCall) throws { try unsubscribeGeneric(c, .pattern) }
    static func sunsubscribe(_ c: CommandCall) throws { try unsubscribeGeneric(c, .shard) }

    /// (P|S)UNSUBSCRIBE [name ...]: the named ones, or all; one confirmation per name.
    static func unsubscribeGeneric(_ c: CommandCall, _ kind: SubscriptionKind) throws {
        var names: [[UInt8]]
        if c.argumentCount > 1 {
            names = (1..<c.argumentCount).map { c.args[$0].array }
        } else {
            names = Array(c.client.subscriptions(kind)).sorted { $0.lexicographicallyPrecedes($1) }
        }
        if names.isEmpty {
            // Nothing to leave: one confirmation with a null name.
            let reply = c.reply
            reply.pushHeader(3)
            reply.bulk(kind.unsubscribeName)
            reply.null()
            reply.integer(c.client.subscriptionCount)
            return
        }
        for name in names { c.engine.unsubscribe(c.client, channel: name, kind: kind, confirm: true) }
    }

    /// PUBLISH channel message → receivers.
    static func publish(_ c: CommandCall) throws {
        c.reply.integer(c.engine.publish(channel: c.args[1], message: c.args[2], shard: false))
    }

    /// SPUBLISH shardchannel message → receivers.
    static func spublish(_ c: CommandCall) throws {
        c.reply.integer(c.engine.publish(channel: c.args[1], message: c.args[2], shard: true))
    }

    /// PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | SHARDCHANNELS [pattern] |
    /// SHARDNUMSUB [channel ...] | HELP
    static func pubsub(_ c: CommandCall) throws {
        let sub = c.args[1].string.lowercased()
        let engine = c.engine
        switch sub {
        case "channels", "shardchannels":
            guard c.argumentCount <= 3 else { throw CommandError.wrongArity("pubsub|\(sub)") }
            let registry = sub == "channels" ? engine.channelSubscribers : engine.shardSubscribers
            var names = registry.keys.filter { name in
                c.argumentCount < 3 || name.withByteView { globMatch(c.args[2], $0) }
            }
            names.sort { $0.lexicographicallyPrecedes($1) }
            c.reply.arrayHeader(names.count)
            for name in names { c.reply.bulk(name) }
        case "numsub", "shardnumsub":
            let registry = sub == "numsub" ? engine.channelSubscribers : engine.shardSubscribers
            c.reply.arrayHeader((c.argumentCount - 2) * 2)  // a flat array in RESP3 too, as Redis
            for index in 2..<c.argumentCount {
                c.reply.bulk(c.args[index])
                c.reply.integer(registry[c.args[index].array]?.count ?? 0)
            }
        case "numpat":
            guard c.argumentCount == 2 else { throw CommandError.wrongArity("pubsub|numpat") }
            c.reply.integer(engine.patternSubscribers.count)
        case "help":
            let lines = ["PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                         "CHANNELS [<pattern>]", "    Return the currently active channels matching a <pattern> (default: '*').",
                         "NUMPAT", "    Return number of subscriptions to patterns.",
                         "NUMSUB [<channel> ...]", "    Return the number of subscribers for the specified channels, excluding",
                         "    pattern subscriptions(default: no channels).",
                         "SHARDCHANNELS [<pattern>]", "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                         "SHARDNUMSUB [<shardchannel> ...]", "    Return the number of subscribers for the specified shard level channel(s)",
                         "HELP", "    Print this help."]
            c.reply.arrayHeader(lines.count)
            for line in lines { c.reply.simple(line) }
        default:
            throw CommandError("ERR unknown subcommand '\(c.args[1].string.prefix(128))'. Try PUBSUB HELP.")
        }
    }
}

enum SubscriptionKind {
    case channel, pattern, shard

    var subscribeName: String { self == .channel ? "subscribe" : self == .pattern ? "psubscribe" : "ssubscribe" }
    var unsubscribeName: String { self == .channel ? "unsubscribe" : self == .pattern ? "punsubscribe" : "sunsubscribe" }
}

extension Client {
    func subscriptions(_ kind: SubscriptionKind) -> Set<[UInt8]> {
        switch kind {
        case .channel: return channels
        case .pattern: return patterns
        case .shard: return shardChannels
        }
    }
}

extension ReplyWriter {
    /// A push message header: RESP3 `>`, RESP2 an array.
    func pushHeader(_ count: Int) {
        if resp3 {
            buffer.append(UInt8(ascii: ">"))
            buffer.appendDecimal(Int64(count))
            buffer.append("\r\n")
        } else {
            arrayHeader(count)
        }
    }
}

extension Engine {
    func subscribe(_ client: Client, channel: [UInt8], kind: SubscriptionKind) {
        var added = false
        switch kind {
        case .channel: added = client.channels.insert(channel).inserted
        case .pattern: added = client.patterns.insert(channel).inserted
        case .shard: added = client.shardChannels.insert(channel).inserted
        }
        if added {
            switch kind {
            case .channel: channelSubscribers[channel, default: []].append(client)
            case .pattern: patternSubscribers[channel, default: []].append(client)
            case .shard: shardSubscribers[channel, default: []].append(client)
            }
        }
        let reply = client.reply
        reply.pushHeader(3)
        reply.bulk(kind.subscribeName)
        reply.bulk(channel)
        reply.integer(client.subscriptionCount)
    }

    func unsubscribe(_ client: Client, channel: [UInt8], kind: SubscriptionKind, confirm: Bool) {
        var removed = false
        switch kind {
        case .channel: removed = client.channels.remove(channel) != nil
        case .pattern: removed = client.patterns.remove(channel) != nil
        case .shard: removed = client.shardChannels.remove(channel) != nil
        }
        if removed {
            func drop(_ registry: inout [[UInt8]: [Client]]) {
                registry[channel]?.removeAll { $0 === client }
                if registry[channel]?.isEmpty ?? false { registry[channel] = nil }
            }
            switch kind {
            case .channel: drop(&channelSubscribers)
            case .pattern: drop(&patternSubscribers)
            case .shard: drop(&shardSubscribers)
            }
        }
        guard confirm else { return }
        let reply = client.reply
        reply.pushHeader(3)
        reply.bulk(kind.unsubscribeName)
        reply.bulk(channel)
        reply.integer(client.subscriptionCount)
    }

    /// Drops every subscription of a client (RESET, close).
    func unsubscribeAll(_ client: Client) {
        for channel in client.channels { unsubscribe(client, channel: channel, kind: .channel, confirm: false) }
        for pattern in client.patterns { unsubscribe(client, channel: pattern, kind: .pattern, confirm: false) }
        for channel in client.shardChannels { unsubscribe(client, channel: channel, kind: .shard, confirm: false) }
    }

    /// Delivers a message; returns how many clients received it.
    @discardableResult
    func publish(channel: ByteView, message: ByteView, shard: Bool) -> Int64 {
        var receivers: Int64 = 0
        if shard {
            for client in shardSubscribers[channel.array] ?? [] where !client.closeNow {
                deliver(to: client) { reply in
                    reply.pushHeader(3); reply.bulk("smessage"); reply.bulk(channel); reply.bulk(message)
                }
                receivers += 1
            }
            return receivers
        }
        if !channelSubscribers.isEmpty, let clients = channelSubscribers[channel.array] {
            for client in clients where !client.closeNow {
                deliver(to: client) { reply in
                    reply.pushHeader(3); reply.bulk("message"); reply.bulk(channel); reply.bulk(message)
                }
                receivers += 1
            }
        }
        for (pattern, clients) in patternSubscribers where pattern.withByteView({ globMatch($0, channel) }) {
            for client in clients where !client.closeNow {
                deliver(to: client) { reply in
                    reply.pushHeader(4); reply.bulk("pmessage"); reply.bulk(pattern); reply.bulk(channel); reply.bulk(message)
                }
                receivers += 1
            }
        }
        return receivers
    }

    /// Writes one message to a subscriber and enforces the pub/sub output limits.
    private func deliver(to client: Client, _ write: (ReplyWriter) -> Void) {
        write(client.reply)
        core?.wakeForOutput(client)
        let pending = client.output.readableCount + client.sending.readableCount
        if pending > PubSubLimits.hardBytes {
            dropSlowSubscriber(client, reason: "hard")
        } else if pending > PubSubLimits.softBytes {
            let now = monotonicMillis()
            if client.overSoftLimitSince == 0 { client.overSoftLimitSince = now }
            if now - client.overSoftLimitSince >= PubSubLimits.softSeconds * 1000 { dropSlowSubscriber(client, reason: "soft") }
        } else {
            client.overSoftLimitSince = 0
        }
    }

    private func dropSlowSubscriber(_ client: Client, reason: String) {
        logger.warning("client \(client.id) (\(client.address)) closed: pub/sub output over the \(reason) limit")
        unsubscribeAll(client)
        core?.disconnect(client)
    }

    // MARK: Keyspace notifications

    /// Publishes `__keyspace@0__:<key>` (K) and `__keyevent@0__:<event>` (E) for an event of
    /// `kind`, if notify-keyspace-events asks for it.
    func notifyKeyspaceEvent(_ kind: KeyspaceEvents, _ event: String, key: ByteView) {
        guard notifyKeyspaceEvents.contains(kind) else { return }
        if notifyKeyspaceEvents.contains(.keyspace) {
            let channel = Array("__keyspace@0__:".utf8) + key.array
            let eventBytes = Array(event.utf8)
            channel.withByteView { channelView in eventBytes.withByteView { publish(channel: channelView, message: $0, shard: false) } }
        }
        if notifyKeyspaceEvents.contains(.keyevent) {
            let channel = Array("__keyevent@0__:\(event)".utf8)
            channel.withByteView { publish(channel: $0, message: key, shard: false) }
        }
    }

    /// After a write command wrote: WATCH bookkeeping and keyspace events for its keys.
    func keysModified(_ command: Command, _ args: [ByteView]) {
        searchKeysModified(command, args)  // ON HASH search indexes follow the keys written
        if command.flags.contains(.keyspaceWide) {
            touchAllWatched()
            return
        }
        guard !watchers.isEmpty || !notifyKeyspaceEvents.isEmpty || !waitersByKey.isEmpty else { return }
        let positions = CommandIntrospection.keyPositions(command, args)
        for (order, position) in positions.enumerated() {
            touchWatched(args[position])
            signalKeyReady(args[position])
            if !notifyKeyspaceEvents.isEmpty {
                let (kind, event) = keyspaceEvent(for: command, keyOrder: order)
                notifyKeyspaceEvent(kind, event, key: args[position])
            }
        }
    }

    /// The event Redis emits for a command's n-th key, and its class.
    func keyspaceEvent(for command: Command, keyOrder: Int) -> (KeyspaceEvents, String) {
        let kind: KeyspaceEvents
        switch command.group {
        case "string": kind = .string
        case "hash": kind = .hash
        case "list": kind = .list
        case "set": kind = .set
        case "sorted-set", "sorted_set", "zset": kind = .zset
        default: kind = .generic
        }
        switch command.name {
        case "incr": return (kind, "incrby")
        case "decr": return (kind, "decrby")
        case "setnx", "getset", "mset", "msetnx", "setex", "psetex": return (kind, "set")
        case "getdel", "unlink": return (.generic, "del")
        case "pexpire", "expireat", "pexpireat": return (.generic, "expire")
        case "rename", "renamenx": return (.generic, keyOrder == 0 ? "rename_from" : "rename_to")
        case "copy": return (.generic, "copy_to")
        case "hmset", "hsetnx": return (.hash, "hset")
        case "zincrby": return (.zset, "zincr")
        default: return (kind, command.name)
        }
    }
}
