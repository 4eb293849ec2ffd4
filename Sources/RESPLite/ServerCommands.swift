// Server commands (Redis server.c, object.c, slowlog.c, db.c): INFO, TIME, DBSIZE, FLUSH*,
// SAVE, SHUTDOWN, COMMAND, MEMORY, SLOWLOG, MONITOR, the RESPLite admin commands, and the
// core command table.

import CShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum ServerCommands {
    // MARK: Keyspace

    /// DBSIZE → live keys in the database (expired keys not yet swept do not count).
    static func dbsize(_ c: CommandCall) throws {
        c.reply.integer(try c.engine.storage.keyCount(now: currentTimeMillis()))
    }

    /// FLUSHDB [ASYNC | SYNC] and FLUSHALL [ASYNC | SYNC] (one database: the same). Search
    /// indexes are dropped too, as RediSearch does on a flush.
    static func flushdb(_ c: CommandCall) throws {
        if c.argumentCount > 2 { throw CommandError.syntax }
        if c.argumentCount == 2 && !(c.args[1].equalsLower("async") || c.args[1].equalsLower("sync")) {
            throw CommandError.syntax
        }
        try c.engine.storage.flush()
        try c.engine.storage.search.dropAll()
        c.reply.ok()
    }

    /// SWAPDB index index: one database.
    static func swapdb(_ c: CommandCall) throws {
        guard let first = c.args[1].parseInt64(), let second = c.args[2].parseInt64() else {
            throw CommandError("ERR invalid first DB index")
        }
        guard first == 0 && second == 0 else { throw CommandError.dbIndexOutOfRange }
        c.reply.ok()
    }

    /// MOVE key db: one database.
    static func move(_ c: CommandCall) throws {
        let database = try c.integer(2)
        guard database == 0 else { throw CommandError.dbIndexOutOfRange }
        throw CommandError("ERR source and destination objects are the same")
    }

    // MARK: Time and persistence

    /// TIME → [unix seconds, microseconds].
    static func time(_ c: CommandCall) throws {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        c.reply.arrayHeader(2)
        c.reply.bulk(String(now.tv_sec))
        c.reply.bulk(String(now.tv_nsec / 1000))
    }

    /// LASTSAVE → unix time of the last SAVE/BGSAVE (or of the start).
    static func lastsave(_ c: CommandCall) throws {
        c.reply.integer(c.engine.lastSaveUnixSeconds)
    }

    /// SAVE: every write is already durable at its group commit (or in the redo log); SAVE
    /// makes the turn commit and asks for a WAL checkpoint (on the checkpointer thread) after
    /// it, so the main file is up to date.
    static func save(_ c: CommandCall) throws {
        c.engine.storage.requestCheckpointAfterCommit()
        c.engine.lastSaveUnixSeconds = currentTimeMillis() / 1000
        c.engine.changesSinceSave = 0
        c.reply.ok()
    }

    /// BGSAVE [SCHEDULE]: the same checkpoint request, Redis' reply text.
    static func bgsave(_ c: CommandCall) throws {
        if c.argumentCount == 2 && !c.args[1].equalsLower("schedule") { throw CommandError.syntax }
        c.engine.storage.requestCheckpointAfterCommit()
        c.engine.lastSaveUnixSeconds = currentTimeMillis() / 1000
        c.engine.changesSinceSave = 0
        c.reply.simple("Background saving started")
    }

    /// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]: commits, closes every client and the
    /// database, and stops the server (the standalone process exits 0). No reply on success.
    static func shutdown(_ c: CommandCall) throws {
        for index in 1..<c.argumentCount {
            let option = c.args[index]
            if option.equalsLower("abort") {
                guard c.argumentCount == 2 else { throw CommandError.syntax }
                throw CommandError("ERR No shutdown in progress.")
            }
            guard option.equalsLower("nosave") || option.equalsLower("save") || option.equalsLower("now")
                || option.equalsLower("force") else { throw CommandError.syntax }
        }
        c.engine.logger.notice("SHUTDOWN requested by client \(c.client.id) (\(c.client.address))")
        c.engine.stopRequested = true
        c.client.closeAfterReply = true
    }

    // MARK: INFO

    static let defaultSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "keyspace", "resplite"]

    /// INFO [section [section ...]] → "# Section\r\nfield:value\r\n..." (verbatim in RESP3).
    static func info(_ c: CommandCall) throws {
        var wanted: [String] = []
        for index in 1..<c.argumentCount {
            let name = c.args[index].string.lowercased()
            if name == "all" || name == "everything" || name == "default" {
                wanted.append(contentsOf: defaultSections)
            } else {
                wanted.append(name)
            }
        }
        if wanted.isEmpty { wanted = defaultSections }
        var text = ""
        var seen = Set<String>()
        for section in wanted where !seen.contains(section) {
            seen.insert(section)
            guard let lines = try infoSection(section, c.engine) else { continue }
            if !text.isEmpty { text += "\r\n" }
            text += "# \(section == "cpu" ? "CPU" : section.prefix(1).uppercased() + section.dropFirst())\r\n"
            for (key, value) in lines { text += "\(key):\(value)\r\n" }
        }
        c.reply.verbatim(text)
    }

    /// The fields of one INFO section, or nil for an unknown section (skipped, as Redis).
    static func infoSection(_ section: String, _ engine: Engine) throws -> [(String, String)]? {
        let nowMillis = currentTimeMillis()
        let core = engine.core
        switch section {
        case "server":
            let uptime = (monotonicMillis() - engine.startedAtMonotonic) / 1000
            return [
                ("redis_version", reportedRedisVersion), ("redis_git_sha1", "00000000"), ("redis_git_dirty", "0"),
                ("redis_build_id", "resplite"), ("redis_mode", "standalone"), ("os", operatingSystem()),
                ("arch_bits", "64"), ("multiplexing_api", core?.backendName ?? "?"), ("process_id", String(getpid())),
                ("process_supervised", "no"), ("run_id", engine.runId), ("tcp_port", String(core?.port ?? 0)),
                ("server_time_usec", String(nowMillis * 1000)), ("uptime_in_seconds", String(uptime)),
                ("uptime_in_days", String(uptime / 86_400)), ("hz", "10"), ("configured_hz", "10"),
                ("executable", CommandLine.arguments.first ?? ""), ("config_file", ""),
                ("resplite_version", respliteVersion),
            ]
        case "clients":
            return [
                ("connected_clients", String(core?.clientCount ?? 0)), ("cluster_connections", "0"),
                ("maxclients", String(core?.networkLimits.maxClients ?? 0)),
                ("client_recent_max_input_buffer", "0"), ("client_recent_max_output_buffer", "0"),
                ("blocked_clients", String(engine.blockedClientCount)), ("tracking_clients", "0"), ("clients_in_timeout_table", "0"),
            ]
        case "memory":
            let memory = MemoryFigures.current(engine.storage)
            engine.noteMemoryPeak(memory.used)
            return [
                ("used_memory", String(memory.used)), ("used_memory_human", humanBytes(memory.used)),
                ("used_memory_rss", String(memory.rss)), ("used_memory_rss_human", humanBytes(memory.rss)),
                ("used_memory_peak", String(engine.memoryPeak)), ("used_memory_peak_human", humanBytes(engine.memoryPeak)),
                ("used_memory_peak_perc", String(format: "%.2f%%", engine.memoryPeak > 0 ? Double(memory.used) * 100 / Double(engine.memoryPeak) : 100)),
                ("used_memory_dataset", String(memory.sqlite)), ("used_memory_lua", "31744"), ("used_memory_scripts", "0"),
                ("maxmemory", "0"), ("maxmemory_human", "0B"), ("maxmemory_policy", "noeviction"),
                ("mem_fragmentation_ratio", String(format: "%.2f", memory.used > 0 ? Double(memory.rss) / Double(memory.used) : 1)),
                ("mem_allocator", "libc"), ("sqlite_memory_used", String(memory.sqlite)),
            ]
        case "persistence":
            return [
                ("loading", "0"), ("async_loading", "0"), ("rdb_changes_since_last_save", String(engine.changesSinceSave)),
                ("rdb_bgsave_in_progress", "0"), ("rdb_last_save_time", String(engine.lastSaveUnixSeconds)),
                ("rdb_last_bgsave_status", "ok"), ("aof_enabled", "0"), ("aof_rewrite_in_progress", "0"),
                ("aof_last_write_status", "ok"), ("sqlite_wal_bytes", String(engine.storage.walBytes)),
                ("sqlite_checkpoints", String(engine.storage.checkpointsDone)),
            ]
        case "stats":
            return [
                ("total_connections_received", String(core?.totalConnections ?? 0)),
                ("total_commands_processed", String(engine.stats.commandsProcessed)),
                ("instantaneous_ops_per_sec", "0"), ("rejected_connections", String(core?.rejectedConnections ?? 0)),
                ("expired_keys", String(engine.stats.expiredKeysSwept)), ("evicted_keys", "0"),
                ("keyspace_hits", "0"), ("keyspace_misses", "0"), ("pubsub_channels", "0"), ("pubsub_patterns", "0"),
                ("total_group_commits", String(engine.stats.batchesCommitted)),
                ("total_failed_batches", String(engine.stats.batchesFailed)),
            ]
        case "replication":
            return [
                ("role", "master"), ("connected_slaves", "0"), ("master_failover_state", "no-failover"),
                ("master_replid", engine.runId), ("master_replid2", String(repeating: "0", count: 40)),
                ("master_repl_offset", "0"), ("second_repl_offset", "-1"), ("repl_backlog_active", "0"),
                ("repl_backlog_size", "0"),
            ]
        case "cpu":
            var usage = rusage()
            getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
            func seconds(_ time: timeval) -> String { String(format: "%.6f", Double(time.tv_sec) + Double(time.tv_usec) / 1e6) }
            return [("used_cpu_sys", seconds(usage.ru_stime)), ("used_cpu_user", seconds(usage.ru_utime)),
                    ("used_cpu_sys_children", "0.000000"), ("used_cpu_user_children", "0.000000")]
        case "modules":
            return []
        case "keyspace":
            let keys = try engine.storage.keyCount(now: nowMillis)
            guard keys > 0 else { return [] }
            let expires = try engine.storage.volatileKeyCount(now: nowMillis)
            return [("db0", "keys=\(keys),expires=\(expires),avg_ttl=0")]
        case "resplite":
            let storage = engine.storage
            return [
                ("resplite_version", respliteVersion), ("sqlite_version", storage.sqliteVersion),
                ("sqlite_path", storage.path), ("pragma_template", storage.template.rawValue),
                ("journal_mode", storage.journalMode), ("wal_bytes", String(storage.walBytes)),
                ("network_backend", core?.backendName ?? "?"), ("group_commits", String(engine.stats.batchesCommitted)),
                ("failed_batches", String(engine.stats.batchesFailed)), ("checkpoints", String(storage.checkpointsDone)),
                ("expiry_sweeps", String(engine.stats.sweeps)), ("expired_keys_swept", String(engine.stats.expiredKeysSwept)),
                ("expired_fields_swept", String(engine.stats.expiredFieldsSwept)),
                ("cache_enabled", storage.cache == nil ? "0" : "1"), ("cache_entries", String(storage.cache?.count ?? 0)),
                ("cache_hits", String(storage.cache?.hits ?? 0)), ("cache_misses", String(storage.cache?.misses ?? 0)),
            ]
        default:
            return nil
        }
    }

    static func operatingSystem() -> String {
        var names = utsname()
        uname(&names)
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        return "\(field(names.sysname)) \(field(names.release)) \(field(names.machine))"
    }

    /// Redis' bytesToHuman: B, K, M, G with two decimals.
    static func humanBytes(_ bytes: Int64) -> String {
        let value = Double(bytes)
        if bytes < 1024 { return "\(bytes)B" }
        if bytes < 1024 * 1024 { return String(format: "%.2fK", value / 1024) }
        if bytes < 1024 * 1024 * 1024 { return String(format: "%.2fM", value / 1024 / 1024) }
        return String(format: "%.2fG", value / 1024 / 1024 / 1024)
    }

    // MARK: MEMORY

    /// MEMORY USAGE key [SAMPLES count] | STATS | DOCTOR | MALLOC-STATS | PURGE | HELP
    static func memory(_ c: CommandCall) throws {
        let sub = c.args[1].string.lowercased()
        switch sub {
        case "usage":
            guard c.argumentCount == 3 || c.argumentCount == 5 else { throw CommandError.wrongArity("memory|usage") }
            var samples: Int64 = 5
            if c.argumentCount == 5 {
                guard c.args[3].equalsLower("samples") else { throw CommandError.syntax }
                samples = try c.integer(4)
                guard samples >= 0 else { throw CommandError.syntax }
            }
            let now = currentTimeMillis()
            guard let record = try c.engine.storage.lookup(c.args[2], now: now) else {
                c.reply.null()
                return
            }
            c.reply.integer(try c.engine.storage.estimatedBytes(of: c.args[2], record, samples: samples == 0 ? Int64.max : samples, now: now))
        case "stats":
            let memory = MemoryFigures.current(c.engine.storage)
            let keys = try c.engine.storage.keyCount(now: currentTimeMillis())
            let fields: [(String, Int64)] = [
                ("peak.allocated", c.engine.memoryPeak), ("total.allocated", memory.used), ("startup.allocated", 0),
                ("replication.backlog", 0), ("clients.slaves", 0), ("clients.normal", Int64(c.engine.core?.clientCount ?? 0) * 20_000),
                ("aof.buffer", 0), ("lua.caches", 0), ("overhead.total", memory.used - memory.sqlite),
                ("keys.count", keys), ("dataset.bytes", memory.sqlite),
            ]
            c.reply.mapHeader(fields.count + 2)
            for (name, value) in fields {
                c.reply.bulk(name)
                c.reply.integer(value)
            }
            c.reply.bulk("keys.bytes-per-key")
            c.reply.integer(keys > 0 ? memory.used / keys : 0)
            c.reply.bulk("sqlite.path")
            c.reply.bulk(c.engine.storage.path)
        case "doctor":
            c.reply.verbatim("Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.")
        case "malloc-stats":
            c.reply.verbatim("Stats not supported for the current allocator")
        case "purge":
            c.reply.ok()
        case "help":
            let lines = ["MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                         "DOCTOR", "    Return memory problems reports.",
                         "MALLOC-STATS", "    Return internal statistics report from the memory allocator.",
                         "PURGE", "    Attempt to purge dirty pages for reclamation by the allocator.",
                         "STATS", "    Return information about the memory usage of the server.",
                         "USAGE <key> [SAMPLES <count>]", "    Return memory in bytes used by <key> and its value. Nested values are",
                         "    sampled up to <count> times (default: 5, 0 means sample all).",
                         "HELP", "    Print this help."]
            c.reply.arrayHeader(lines.count)
            for line in lines { c.reply.simple(line) }
        default:
            throw CommandError("ERR unknown subcommand '\(c.args[1].string.prefix(128))'. Try MEMORY HELP.")
        }
    }

    // MARK: SLOWLOG and MONITOR

    /// SLOWLOG GET [count] | LEN | RESET | HELP
    static func slowlog(_ c: CommandCall) throws {
        let sub = c.args[1].string.lowercased()
        switch sub {
        case "get":
            guard c.argumentCount <= 3 else { throw CommandError.wrongArity("slowlog|get") }
            var count = 10
            if c.argumentCount == 3 {
                guard let value = c.args[2].parseInt64(), value >= -1 else {
                    throw CommandError("ERR count should be greater than or equal to -1")
                }
                count = value == -1 ? Int.max : Int(value)
            }
            let entries = c.engine.slowlog.prefix(count)
            c.reply.arrayHeader(entries.count)
            for entry in entries {
                c.reply.arrayHeader(6)
                c.reply.integer(entry.id)
                c.reply.integer(entry.unixSeconds)
                c.reply.integer(entry.durationMicros)
                c.reply.arrayHeader(entry.arguments.count)
                for argument in entry.arguments { c.reply.bulk(argument) }
                c.reply.bulk(entry.clientAddress)
                c.reply.bulk(entry.clientName)
            }
        case "len":
            guard c.argumentCount == 2 else { throw CommandError.wrongArity("slowlog|len") }
            c.reply.integer(c.engine.slowlog.count)
        case "reset":
            guard c.argumentCount == 2 else { throw CommandError.wrongArity("slowlog|reset") }
            c.engine.resetSlowlog()
            c.reply.ok()
        case "help":
            let lines = ["SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                         "GET [<count>]", "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                         "    Entries are made of:", "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                         "    client name", "LEN", "    Return the length of the slowlog.", "RESET", "    Reset the slowlog.",
                         "HELP", "    Print this help."]
            c.reply.arrayHeader(lines.count)
            for line in lines { c.reply.simple(line) }
        default:
            throw CommandError("ERR unknown subcommand '\(c.args[1].string.prefix(128))'. Try SLOWLOG HELP.")
        }
    }

    /// MONITOR → OK, then every command other clients run, as Redis formats it.
    static func monitor(_ c: CommandCall) throws {
        c.engine.addMonitor(c.client)
        c.reply.ok()
    }

    // MARK: RESPLite admin

    /// SQLITE.INFO → the database file, SQLite and the key counts by type.
    static func sqliteInfo(_ c: CommandCall) throws {
        let storage = c.engine.storage
        let walBuffer = WALBuffer.statistics
        var lines: [(String, String)] = [
            ("path", storage.path), ("sqlite_version", storage.sqliteVersion), ("schema_version", String(Schema.version)),
            ("pragma_template", storage.template.rawValue), ("journal_mode", storage.journalMode),
            ("page_size", try storage.connection.scalar("PRAGMA page_size") ?? "?"),
            ("page_count", try storage.connection.scalar("PRAGMA page_count") ?? "?"),
            ("freelist_count", try storage.connection.scalar("PRAGMA freelist_count") ?? "?"),
            ("wal_bytes", String(storage.walBytes)), ("checkpoints", String(storage.checkpointsDone)),
            ("vfs", WALBuffer.vfsName ?? "default"),
            ("wal_frames_buffered", String(walBuffer.frames)), ("wal_buffer_writes", String(walBuffer.writes)),
            ("keys", String(try storage.keyCount(now: currentTimeMillis()))),
            ("statement_reprepares", String(storage.connection.statementReprepares)),
            ("list_ranges_rowid_order", String(storage.listRangesInRowidOrder)),
            ("list_ranges_rowid_order_missed", String(storage.listRangesOutOfRowidOrder)),
            ("list_ends_remembered", String(storage.listEndsRemembered)),
            ("list_pops_one_statement", String(storage.listPopsOneStatement)),
            ("zset_rank_sets", String(storage.sortedSetRanks.setCount)),
            ("zset_rank_bytes", String(storage.sortedSetRanks.byteCount)),
            ("zset_rank_reads", String(storage.sortedSetRanks.reads)),
            ("zset_rank_hits", String(storage.sortedSetRanks.hits)),
            ("list_head_lists", String(storage.listHeads.setCount)),
            ("list_head_bytes", String(storage.listHeads.byteCount)),
            ("list_head_reads", String(storage.listHeads.reads)),
            ("list_head_hits", String(storage.listHeads.hits)),
            ("pipeline_runs", String(c.engine.stats.pipelineRuns)),
            ("pipeline_run_calls", String(c.engine.stats.pipelineRunCalls)),
        ]
        if let redo = storage.redoLog {
            lines += [("redo_log", "enabled"), ("redo_turns_logged", String(redo.turnsLogged)),
                      ("redo_bytes_logged", String(redo.bytesLogged)), ("redo_deferred_commits", String(redo.deferredCommits)),
                      ("redo_last_turn", String(redo.lastLSN)), ("redo_committed_turn", String(redo.appliedLSN)),
                      ("redo_replayed_at_open", String(redo.replayedAtOpen)),
                      ("redo_preallocated_bytes", String(redo.preallocatedBytes)),
                      ("redo_turn_buffer_bytes", String(redo.turnBufferCapacity))]
        } else {
            lines.append(("redo_log", "disabled"))
        }
        for (type, count) in try storage.keyCountsByType() { lines.append(("keys_\(type.name)", String(count))) }
        c.reply.verbatim(lines.map { "\($0.0):\($0.1)\r\n" }.joined())
    }

    /// CACHE.INFO → the hot cache: enabled, entries, bytes, limits, hits, misses, hit ratio.
    static func cacheInfo(_ c: CommandCall) throws {
        guard let cache = c.engine.storage.cache else {
            c.reply.verbatim("enabled:0\r\nentries:0\r\nbytes:0\r\nhits:0\r\nmisses:0\r\nhit_ratio:0.0000\r\n")
            return
        }
        let lookups = cache.hits + cache.misses
        let ratio = lookups > 0 ? Double(cache.hits) / Double(lookups) : 0
        c.reply.verbatim("enabled:1\r\nentries:\(cache.count)\r\nabsent_entries:\(cache.absentCount)\r\nbytes:\(cache.bytes)\r\nmax_entries:\(cache.options.maxEntries)\r\n"
            + "max_bytes:\(cache.options.maxBytes)\r\nhits:\(cache.hits)\r\nmisses:\(cache.misses)\r\n"
            + "hit_ratio:\(String(format: "%.4f", ratio))\r\nevictions:\(cache.evictions)\r\ninvalidations:\(cache.invalidations)\r\n")
    }

    /// MEMORY.INFO → process and SQLite memory.
    static func memoryInfo(_ c: CommandCall) throws {
        let memory = MemoryFigures.current(c.engine.storage)
        c.reply.verbatim("rss_bytes:\(memory.rss)\r\nheap_bytes:\(memory.heap)\r\nsqlite_memory_used:\(memory.sqlite)\r\n"
            + "sqlite_memory_highwater:\(memory.sqliteHighwater)\r\nused_memory:\(memory.used)\r\n")
    }
}

/// Process memory figures for INFO memory, MEMORY STATS and MEMORY.INFO.
struct MemoryFigures {
    var rss: Int64
    var heap: Int64
    var sqlite: Int64
    var sqliteHighwater: Int64
    /// Redis' used_memory: bytes the allocator handed out (heap in use, SQLite included).
    var used: Int64 { max(heap, sqlite) }

    /// The most SQLite memory seen by any report (MEMORY.INFO sqlite_memory_highwater).
    nonisolated(unsafe) private static var sqlitePeak: Int64 = 0  // Safe: only the loop thread reports

    static func current(_ storage: Storage) -> MemoryFigures {
        let heap = Int64(cshim_heap_in_use())
        var rss: Int64 = 0
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Int64(fields[1]) { rss = pages * Int64(sysconf(Int32(_SC_PAGESIZE))) }
        }
        let sqlite = sqliteMemoryUsed(storage.connection)
        sqlitePeak = max(sqlitePeak, sqlite)
        return MemoryFigures(rss: rss, heap: heap, sqlite: sqlite, sqliteHighwater: sqlitePeak)
    }
}

/// Key positions follow Redis' legacy (first, last, step) triple; last = -1 means "through
/// the last argument".
let coreCommands: [Command] = [
    // Connection
    Command("ping", arity: -1, flags: [.fast, .noStorage, .stale, .loading, .allowedWhileSubscribed], group: "connection", handler: ConnectionCommands.ping),
    Command("echo", arity: 2, flags: [.fast, .noStorage, .stale, .loading], group: "connection", handler: ConnectionCommands.echo),
    Command("quit", arity: -1, flags: [.fast, .noStorage, .stale, .loading, .noAuth, .allowedWhileSubscribed, .transactionControl], group: "connection", handler: ConnectionCommands.quit),
    Command("hello", arity: -1, flags: [.fast, .noStorage, .stale, .loading, .noAuth, .noscript], group: "connection", handler: ConnectionCommands.hello),
    Command("auth", arity: -2, flags: [.fast, .noStorage, .stale, .loading, .noAuth, .noscript], group: "connection", handler: ConnectionCommands.auth),
    Command("select", arity: 2, flags: [.fast, .noStorage, .stale, .loading], group: "connection", handler: ConnectionCommands.select),
    Command("reset", arity: 1, flags: [.fast, .noStorage, .stale, .loading, .noAuth, .noscript, .allowedWhileSubscribed, .transactionControl], group: "connection", handler: ConnectionCommands.reset),
    Command("client", arity: -2, flags: [.admin, .noStorage, .stale, .loading, .noscript], group: "connection", handler: ConnectionCommands.client),

    // Strings
    Command("get", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.get),
    Command("set", arity: -3, flags: [.write, .denyOOM, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.set),
    Command("setex", arity: 4, flags: [.write, .denyOOM, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.setex),
    Command("psetex", arity: 4, flags: [.write, .denyOOM, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.psetex),
    Command("setnx", arity: 3, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.setnx),
    Command("getset", arity: 3, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.getset),
    Command("getdel", arity: 2, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.getdel),
    Command("getex", arity: -2, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.getex),
    Command("mget", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), group: "string", handler: StringCommands.mget),
    Command("mset", arity: -3, flags: [.write, .denyOOM, .validatesBeforeWriting], keys: (1, -1, 2), group: "string", handler: StringCommands.mset),
    Command("msetnx", arity: -3, flags: [.write, .denyOOM, .validatesBeforeWriting], keys: (1, -1, 2), group: "string", handler: StringCommands.msetnx),
    Command("append", arity: 3, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.append),
    Command("strlen", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "string", handler: StringCommands.strlen),
    Command("getrange", arity: 4, flags: [.readonly], keys: (1, 1, 1), group: "string", handler: StringCommands.getrange),
    Command("substr", arity: 4, flags: [.readonly], keys: (1, 1, 1), group: "string", handler: StringCommands.getrange),
    Command("setrange", arity: 4, flags: [.write, .denyOOM, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.setrange),
    Command("incr", arity: 2, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.incr),
    Command("decr", arity: 2, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.decr),
    Command("incrby", arity: 3, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.incrby),
    Command("decrby", arity: 3, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.decrby),
    Command("incrbyfloat", arity: 3, flags: [.write, .denyOOM, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "string", handler: StringCommands.incrbyfloat),

    // Keys
    Command("del", arity: -2, flags: [.write, .validatesBeforeWriting], keys: (1, -1, 1), group: "generic", handler: KeyCommands.del),
    Command("unlink", arity: -2, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, -1, 1), group: "generic", handler: KeyCommands.del),
    Command("exists", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), group: "generic", handler: KeyCommands.exists),
    Command("touch", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1), group: "generic", handler: KeyCommands.touch),
    Command("type", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.type),
    Command("rename", arity: 3, flags: [.write], keys: (1, 2, 1), group: "generic", handler: KeyCommands.rename),
    Command("renamenx", arity: 3, flags: [.write, .fast], keys: (1, 2, 1), group: "generic", handler: KeyCommands.renamenx),
    Command("copy", arity: -3, flags: [.write, .denyOOM], keys: (1, 2, 1), group: "generic", handler: KeyCommands.copy),
    Command("move", arity: 3, flags: [.write, .fast], keys: (1, 1, 1), group: "generic", handler: ServerCommands.move),
    Command("expire", arity: -3, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "generic", handler: KeyCommands.expire),
    Command("pexpire", arity: -3, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "generic", handler: KeyCommands.pexpire),
    Command("expireat", arity: -3, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "generic", handler: KeyCommands.expireat),
    Command("pexpireat", arity: -3, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "generic", handler: KeyCommands.pexpireat),
    Command("ttl", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.ttl),
    Command("pttl", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.pttl),
    Command("expiretime", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.expiretime),
    Command("pexpiretime", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1), group: "generic", handler: KeyCommands.pexpiretime),
    Command("persist", arity: 2, flags: [.write, .fast, .validatesBeforeWriting], keys: (1, 1, 1), group: "generic", handler: KeyCommands.persist),
    Command("scan", arity: -2, flags: [.readonly], group: "generic", handler: KeyCommands.scan),
    Command("keys", arity: 2, flags: [.readonly], group: "generic", handler: KeyCommands.keys),
    Command("randomkey", arity: 1, flags: [.readonly], group: "generic", handler: KeyCommands.randomkey),
    Command("object", arity: -2, flags: [.readonly], keys: (2, 2, 1), group: "generic", handler: KeyCommands.object),

    // Server
    Command("dbsize", arity: 1, flags: [.readonly, .fast], group: "server", handler: ServerCommands.dbsize),
    Command("flushdb", arity: -1, flags: [.write, .keyspaceWide], group: "server", handler: ServerCommands.flushdb),
    Command("flushall", arity: -1, flags: [.write, .keyspaceWide], group: "server", handler: ServerCommands.flushdb),
    Command("swapdb", arity: 3, flags: [.write, .fast], group: "server", handler: ServerCommands.swapdb),
    Command("time", arity: 1, flags: [.fast, .noStorage, .loading, .stale], group: "server", handler: ServerCommands.time),
    Command("lastsave", arity: 1, flags: [.fast, .noStorage, .loading, .stale], group: "server", handler: ServerCommands.lastsave),
    Command("save", arity: 1, flags: [.admin, .noStorage, .noscript], group: "server", handler: ServerCommands.save),
    Command("bgsave", arity: -1, flags: [.admin, .noStorage, .noscript], group: "server", handler: ServerCommands.bgsave),
    Command("shutdown", arity: -1, flags: [.admin, .noStorage, .noscript, .loading, .stale], group: "server", handler: ServerCommands.shutdown),
    Command("info", arity: -1, flags: [.loading, .stale], group: "server", handler: ServerCommands.info),
    Command("config", arity: -2, flags: [.admin, .noStorage, .noscript, .loading, .stale], group: "server", handler: ConfigCommands.config),
    Command("command", arity: -1, flags: [.noStorage, .loading, .stale], group: "server", handler: CommandIntrospection.command),
    Command("memory", arity: -2, flags: [.readonly], group: "server", handler: ServerCommands.memory),
    Command("slowlog", arity: -2, flags: [.admin, .noStorage, .loading, .stale], group: "server", handler: ServerCommands.slowlog),
    Command("monitor", arity: 1, flags: [.admin, .noStorage, .noscript, .loading, .stale], group: "server", handler: ServerCommands.monitor),

    // Blocking (list and zset variants; Blocking.swift)
    Command("blpop", arity: -3, flags: [.write, .blocking], keys: (1, -2, 1), group: "list", handler: BlockingCommands.blpop),
    Command("brpop", arity: -3, flags: [.write, .blocking], keys: (1, -2, 1), group: "list", handler: BlockingCommands.brpop),
    Command("blmove", arity: 6, flags: [.write, .denyOOM, .blocking], keys: (1, 2, 1), group: "list", handler: BlockingCommands.blmove),
    Command("brpoplpush", arity: 4, flags: [.write, .denyOOM, .blocking], keys: (1, 2, 1), group: "list", handler: BlockingCommands.brpoplpush),
    Command("blmpop", arity: -5, flags: [.write, .blocking], group: "list", handler: BlockingCommands.blmpop),
    Command("bzpopmin", arity: -3, flags: [.write, .fast, .blocking], keys: (1, -2, 1), group: "sorted_set", handler: BlockingCommands.bzpopmin),
    Command("bzpopmax", arity: -3, flags: [.write, .fast, .blocking], keys: (1, -2, 1), group: "sorted_set", handler: BlockingCommands.bzpopmax),
    Command("bzmpop", arity: -5, flags: [.write, .blocking], group: "sorted_set", handler: BlockingCommands.bzmpop),

    // Transactions
    Command("multi", arity: 1, flags: [.fast, .noStorage, .loading, .stale, .noscript, .transactionControl], group: "transactions", handler: TransactionCommands.multi),
    Command("exec", arity: 1, flags: [.loading, .stale, .noscript, .transactionControl], group: "transactions", handler: TransactionCommands.exec),
    Command("discard", arity: 1, flags: [.fast, .noStorage, .loading, .stale, .noscript, .transactionControl], group: "transactions", handler: TransactionCommands.discard),
    Command("watch", arity: -2, flags: [.fast, .loading, .stale, .noscript, .transactionControl], keys: (1, -1, 1), group: "transactions", handler: TransactionCommands.watch),
    Command("unwatch", arity: 1, flags: [.fast, .noStorage, .loading, .stale, .noscript, .transactionControl], group: "transactions", handler: TransactionCommands.unwatch),

    // Pub/Sub
    Command("subscribe", arity: -2, flags: [.pubsub, .noStorage, .noscript, .loading, .stale, .allowedWhileSubscribed], group: "pubsub", handler: PubSubCommands.subscribe),
    Command("unsubscribe", arity: -1, flags: [.pubsub, .noStorage, .noscript, .loading, .stale, .allowedWhileSubscribed], group: "pubsub", handler: PubSubCommands.unsubscribe),
    Command("psubscribe", arity: -2, flags: [.pubsub, .noStorage, .noscript, .loading, .stale, .allowedWhileSubscribed], group: "pubsub", handler: PubSubCommands.psubscribe),
    Command("punsubscribe", arity: -1, flags: [.pubsub, .noStorage, .noscript, .loading, .stale, .allowedWhileSubscribed], group: "pubsub", handler: PubSubCommands.punsubscribe),
    Command("ssubscribe", arity: -2, flags: [.pubsub, .noStorage, .noscript, .loading, .stale, .allowedWhileSubscribed], group: "pubsub", handler: PubSubCommands.ssubscribe),
    Command("sunsubscribe", arity: -1, flags: [.pubsub, .noStorage, .noscript, .loading, .stale, .allowedWhileSubscribed], group: "pubsub", handler: PubSubCommands.sunsubscribe),
    Command("publish", arity: 3, flags: [.pubsub, .noStorage, .loading, .stale, .fast], group: "pubsub", handler: PubSubCommands.publish),
    Command("spublish", arity: 3, flags: [.pubsub, .noStorage, .loading, .stale, .fast], group: "pubsub", handler: PubSubCommands.spublish),
    Command("pubsub", arity: -2, flags: [.pubsub, .noStorage, .loading, .stale], group: "pubsub", handler: PubSubCommands.pubsub),

    // RESPLite admin
    Command("sqlite.info", arity: 1, flags: [.admin], group: "resplite", handler: ServerCommands.sqliteInfo),
    Command("cache.info", arity: 1, flags: [.admin, .noStorage], group: "resplite", handler: ServerCommands.cacheInfo),
    Command("memory.info", arity: 1, flags: [.admin, .noStorage], group: "resplite", handler: ServerCommands.memoryInfo),
]

/// Every command, as data: the core table above and one table per collection type (each in
/// its type's file), with the position of the numkeys count of commands whose keys follow
/// one (their keys "move": WATCH, keyspace events and blocking wakeups find them through it).
let allCommands: [Command] = (coreCommands + hashCommands + setCommands + listCommands + zsetCommands + searchCommands).map { command in
    if let index = numkeysPositions[command.name] { command.numkeysIndex = index }
    return command
}

let numkeysPositions: [String: Int] = [
    "lmpop": 1, "blmpop": 2, "zmpop": 1, "bzmpop": 2, "zunion": 1, "zinter": 1, "zdiff": 1,
    "zintercard": 1, "sintercard": 1, "zunionstore": 2, "zinterstore": 2, "zdiffstore": 2,
]
