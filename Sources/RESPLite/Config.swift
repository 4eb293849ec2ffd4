// CONFIG GET / SET / RESETSTAT / REWRITE / HELP (Redis config.c): the parameters RESPLite
// honours, the ones it reports read-only, and harmless answers for those tools probe.

import Foundation

/// One configuration parameter: how to read it, and how to change it (nil: immutable).
struct ConfigParameter {
    let name: String
    let get: (Engine) -> String
    let set: ((Engine, String) throws -> Void)?
}

struct ConfigValueError: Error {
    let reason: String
}

enum ConfigCommands {
    static func integer(_ text: String) throws -> Int64 {
        guard let value = Int64(text) else { throw ConfigValueError(reason: "argument couldn't be parsed into an integer") }
        return value
    }

    /// Values of parameters Redis tools probe but that mean nothing here; CONFIG SET keeps the
    /// text so CONFIG GET answers it back, and changes nothing else.
    static let harmlessDefaults: [String: String] = [
        "save": "", "appendonly": "no", "appendfsync": "everysec", "maxmemory": "0",
        "maxmemory-policy": "noeviction", "maxmemory-samples": "5", "tcp-keepalive": "300",
        "hz": "10", "loglevel": "notice", "protected-mode": "yes", "lua-time-limit": "5000",
        "busy-reply-threshold": "5000", "cluster-enabled": "no", "list-max-listpack-size": "-2",
        "list-max-ziplist-size": "-2", "hash-max-listpack-entries": "128", "hash-max-ziplist-entries": "128",
        "hash-max-listpack-value": "64", "set-max-intset-entries": "512", "set-max-listpack-entries": "128",
        "zset-max-listpack-entries": "128", "zset-max-ziplist-entries": "128", "zset-max-listpack-value": "64",
        "activedefrag": "no", "lazyfree-lazy-eviction": "no", "replica-read-only": "yes", "slave-read-only": "yes",
        "repl-diskless-sync": "yes", "stop-writes-on-bgsave-error": "yes", "rdbcompression": "yes",
        "latency-tracking": "yes",
    ]

    /// A memory amount as Redis config takes it: bytes, or with a k/kb/m/mb/g/gb suffix.
    static func memory(_ text: String) throws -> Int64 {
        let lower = text.lowercased()
        let units: [(String, Int64)] = [("gb", 1 << 30), ("g", 1_000_000_000), ("mb", 1 << 20), ("m", 1_000_000),
                                        ("kb", 1 << 10), ("k", 1_000), ("b", 1)]
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            guard let value = Int64(lower.dropLast(suffix.count)), value >= 0, value <= Int64.max / factor else { break }
            return value * factor
        }
        guard let value = Int64(lower), value >= 0 else { throw ConfigValueError(reason: "argument must be a memory value") }
        return value
    }

    /// CONFIG GET client-output-buffer-limit: the normal class is `NetworkLimits`' output
    /// limits; replicas do not exist here; pub/sub limits are fixed (`PubSubLimits`).
    static func outputBufferLimitText(_ engine: Engine) -> String {
        let limits = engine.core?.networkLimits ?? NetworkLimits()
        return "normal \(limits.maxOutputBufferBytes) \(limits.softOutputBufferBytes) \(limits.softOutputBufferSeconds) "
            + "slave 268435456 67108864 60 "
            + "pubsub \(PubSubLimits.hardBytes) \(PubSubLimits.softBytes) \(PubSubLimits.softSeconds)"
    }

    /// CONFIG SET client-output-buffer-limit "<class> <hard> <soft> <seconds> ...".
    static func setOutputBufferLimit(_ engine: Engine, _ value: String) throws {
        let words = value.split(separator: " ").map(String.init)
        guard !words.isEmpty, words.count % 4 == 0 else { throw ConfigValueError(reason: "Wrong number of arguments in buffer limit configuration.") }
        var normal: (Int, Int, Int)?
        for index in stride(from: 0, to: words.count, by: 4) {
            let hard = try memory(words[index + 1]), soft = try memory(words[index + 2])
            guard let seconds = Int64(words[index + 3]), seconds >= 0 else {
                throw ConfigValueError(reason: "Error in soft_seconds setting in buffer limit configuration.")
            }
            switch words[index].lowercased() {
            case "normal": normal = (Int(hard), Int(soft), Int(seconds))
            case "slave", "replica": break  // no replication: accepted, nothing to apply
            case "pubsub":
                guard hard == Int64(PubSubLimits.hardBytes) && soft == Int64(PubSubLimits.softBytes) && seconds == PubSubLimits.softSeconds else {
                    throw ConfigValueError(reason: "the pubsub output buffer limits cannot be changed in RESPLite")
                }
            default: throw ConfigValueError(reason: "Invalid client class specified in buffer limit configuration.")
            }
        }
        if let (hard, soft, seconds) = normal {
            engine.core?.networkLimits.maxOutputBufferBytes = hard
            engine.core?.networkLimits.softOutputBufferBytes = soft
            engine.core?.networkLimits.softOutputBufferSeconds = seconds
        }
    }

    static let parameters: [ConfigParameter] = {
        var list: [ConfigParameter] = [
            ConfigParameter(name: "requirepass", get: { engine in engine.requirePassword.map { String(decoding: $0, as: UTF8.self) } ?? "" },
                            set: { engine, value in engine.requirePassword = value.isEmpty ? nil : Array(value.utf8) }),
            ConfigParameter(name: "maxclients", get: { String($0.core?.networkLimits.maxClients ?? 0) },
                            set: { engine, value in
                                let clients = try integer(value)
                                guard clients >= 1 && clients <= 1_000_000 else { throw ConfigValueError(reason: "argument must be between 1 and 1000000 inclusive") }
                                engine.core?.networkLimits.maxClients = Int(clients)
                            }),
            ConfigParameter(name: "timeout", get: { String($0.core?.networkLimits.idleTimeoutSeconds ?? 0) },
                            set: { engine, value in
                                let seconds = try integer(value)
                                guard seconds >= 0 && seconds <= Int64(Int32.max) else { throw ConfigValueError(reason: "argument must be between 0 and 2147483647 inclusive") }
                                engine.core?.networkLimits.idleTimeoutSeconds = Int(seconds)
                            }),
            ConfigParameter(name: "client-output-buffer-limit", get: outputBufferLimitText, set: setOutputBufferLimit),
            ConfigParameter(name: "slowlog-log-slower-than", get: { String($0.slowlogSlowerThanMicros) },
                            set: { engine, value in engine.slowlogSlowerThanMicros = try integer(value) }),
            ConfigParameter(name: "slowlog-max-len", get: { String($0.slowlogMaxEntries) },
                            set: { engine, value in
                                let length = try integer(value)
                                guard length >= 0 else { throw ConfigValueError(reason: "argument must be between 0 and 9223372036854775807 inclusive") }
                                engine.slowlogMaxEntries = Int(length)
                                engine.trimSlowlog()
                            }),
            ConfigParameter(name: "notify-keyspace-events", get: { $0.notifyKeyspaceEvents.letters },
                            set: { engine, value in
                                guard let flags = KeyspaceEvents(letters: value) else {
                                    throw ConfigValueError(reason: "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
                                }
                                engine.notifyKeyspaceEvents = flags
                            }),
            ConfigParameter(name: "port", get: { String($0.core?.port ?? 0) }, set: nil),
            ConfigParameter(name: "bind", get: { $0.options.host }, set: nil),
            ConfigParameter(name: "databases", get: { _ in "1" }, set: nil),
            ConfigParameter(name: "dir", get: { URL(fileURLWithPath: $0.storage.path).deletingLastPathComponent().path }, set: nil),
            ConfigParameter(name: "dbfilename", get: { URL(fileURLWithPath: $0.storage.path).lastPathComponent }, set: nil),
            ConfigParameter(name: "proto-max-bulk-len", get: { String($0.options.protocolLimits.maxBulkBytes) }, set: nil),
            ConfigParameter(name: "client-query-buffer-limit", get: { String($0.options.protocolLimits.maxQueryBufferBytes) }, set: nil),
            ConfigParameter(name: "resplite-pragma-template", get: { $0.storage.template.rawValue }, set: nil),
            ConfigParameter(name: "resplite-network-backend", get: { $0.core?.backendName ?? "" }, set: nil),
            ConfigParameter(name: "resplite-sweep-interval-ms", get: { String($0.options.sweepIntervalMs) }, set: nil),
            ConfigParameter(name: "resplite-sweep-batch-keys", get: { String($0.options.sweepBatchKeys) }, set: nil),
        ]
        let owned = Set(list.map(\.name))
        for (name, _) in harmlessDefaults.sorted(by: { $0.key < $1.key }) where !owned.contains(name) {
            list.append(ConfigParameter(name: name, get: { $0.harmlessConfig[name] ?? harmlessDefaults[name]! },
                                        set: { engine, value in engine.harmlessConfig[name] = value }))
        }
        return list
    }()

    /// CONFIG GET pattern [pattern ...] | SET name value [name value ...] | RESETSTAT | REWRITE | HELP
    static func config(_ c: CommandCall) throws {
        let sub = c.args[1].string.lowercased()
        switch sub {
        case "get":
            guard c.argumentCount >= 3 else { throw CommandError.wrongArity("config|get") }
            var matched: [(String, String)] = []
            var seen = Set<String>()
            for index in 2..<c.argumentCount {
                let pattern = c.args[index]
                for parameter in parameters where !seen.contains(parameter.name) {
                    let hit = Array(parameter.name.utf8).withByteView { globMatch(pattern, $0, nocase: true) }
                    if hit {
                        seen.insert(parameter.name)
                        matched.append((parameter.name, parameter.get(c.engine)))
                    }
                }
            }
            c.reply.mapHeader(matched.count)
            for (name, value) in matched {
                c.reply.bulk(name)
                c.reply.bulk(value)
            }
        case "set":
            guard c.argumentCount >= 4 && c.argumentCount % 2 == 0 else { throw CommandError.wrongArity("config|set") }
            // Validate every pair first, then apply all (Redis applies CONFIG SET atomically).
            var changes: [(ConfigParameter, String)] = []
            for index in stride(from: 2, to: c.argumentCount, by: 2) {
                let name = c.args[index].string.lowercased()
                guard let parameter = parameters.first(where: { $0.name == name }) else {
                    throw CommandError("ERR Unknown option or number of arguments for CONFIG SET - '\(c.args[index].string)'")
                }
                guard parameter.set != nil else {
                    throw CommandError("ERR CONFIG SET failed (possibly related to argument '\(name)') - can't set immutable config")
                }
                changes.append((parameter, c.args[index + 1].string))
            }
            var applied: [(ConfigParameter, String)] = []
            for (parameter, value) in changes {
                let old = parameter.get(c.engine)
                do {
                    try parameter.set!(c.engine, value)
                    applied.append((parameter, old))
                } catch let error as ConfigValueError {
                    for (undo, oldValue) in applied.reversed() { try? undo.set!(c.engine, oldValue) }
                    throw CommandError("ERR CONFIG SET failed (possibly related to argument '\(parameter.name)') - \(error.reason)")
                }
            }
            c.reply.ok()
        case "resetstat":
            guard c.argumentCount == 2 else { throw CommandError.wrongArity("config|resetstat") }
            c.engine.resetStats()
            c.reply.ok()
        case "rewrite":
            throw CommandError("ERR The server is running without a config file")
        case "help":
            let lines = ["CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                         "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
                         "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
                         "RESETSTAT", "    Reset statistics reported by the INFO command.",
                         "REWRITE", "    Rewrite the configuration file.", "HELP", "    Print this help."]
            c.reply.arrayHeader(lines.count)
            for line in lines { c.reply.simple(line) }
        default:
            throw CommandError("ERR unknown subcommand '\(c.args[1].string.prefix(128))'. Try CONFIG HELP.")
        }
    }
}
