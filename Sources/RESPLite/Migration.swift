// Migration from Redis (SPEC_F): the run registry in the destination database, the key copier
// (pipelined TYPE + PTTL, then values, large collections read in pages) and the bulk importer.
// The destination is written through `Storage`, so the result is a normal RESPLite database.

import CSQLite
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Stop requests (SIGINT / SIGTERM)

/// Set by the signal handlers; the importers check it between keys.
nonisolated(unsafe) var migrationStopFlag: Int32 = 0

public enum MigrationSignals {
    /// Installs SIGINT and SIGTERM handlers that ask a running import to stop cleanly.
    public static func install() {
        signal(SIGINT) { _ in migrationStopFlag = 1 }
        signal(SIGTERM) { _ in migrationStopFlag = 1 }
        // A parent may have left them blocked (inherited across exec).
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    public static var stopRequested: Bool {
        get { migrationStopFlag != 0 }
        set { migrationStopFlag = newValue ? 1 : 0 }
    }
}

public struct MigrationError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

// MARK: - Options and results

/// Fixed limits of the migration tools (the tunable ones are `MigrationOptions`).
public enum MigrationLimits {
    /// SQLite page cache of the destination connection during a migration.
    public static let destinationCacheBytes = 64 * 1024 * 1024
}

public struct MigrationOptions: Sendable {
    public var scanCount = 1000
    /// Keys whose commands are in flight at once (the pipeline window).
    public var maxConcurrency = 256
    /// Keys read per second at most (0 = unlimited).
    public var maxRPS = 0
    /// Keys per committed transaction (a commit also happens every `checkpointIntervalMs` and
    /// at `batchBytes`): large batches write each dirty index page once per batch.
    public var batchKeys = 20_000
    public var batchBytes = 64 * 1024 * 1024
    public var resume = false
    /// Elements per page when reading a large collection (HSCAN/SSCAN/ZSCAN COUNT, LRANGE).
    public var collectionPage = 1000
    /// Progress reports and forced commits at least this often.
    public var checkpointIntervalMs = 1000
    public var pragmaTemplate: PragmaTemplate = .default
    public init() {}
}

/// Parses sizes like `64MB`, `512k`, `1048576`.
public func parseByteSize(_ text: String) -> Int? {
    let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
    let units: [(String, Int)] = [("gb", 1 << 30), ("g", 1 << 30), ("mb", 1 << 20), ("m", 1 << 20),
                                  ("kb", 1 << 10), ("k", 1 << 10), ("b", 1)]
    for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
        guard let number = Double(trimmed.dropLast(suffix.count)), number >= 0 else { return nil }
        return Int(number * Double(factor))
    }
    return Int(trimmed)
}

/// One row of `migration_runs`, plus the dirty-key counts by state.
public struct MigrationRunStatus: Sendable, CustomStringConvertible {
    public var runId = ""
    public var sourceURI = ""
    public var status = ""
    public var startedAt: Int64 = 0
    public var updatedAt: Int64 = 0
    public var scanCursor = "0"
    public var scanCountHint: Int64 = 0
    public var scannedKeys: Int64 = 0
    public var migratedKeys: Int64 = 0
    public var skippedKeys: Int64 = 0
    public var errorKeys: Int64 = 0
    public var migratedBytes: Int64 = 0
    public var dirtyKeysSeen: Int64 = 0
    public var dirtyKeysApplied: Int64 = 0
    public var dirtyKeysDeleted: Int64 = 0
    public var lastError: String?
    public var dirtyByState: [String: Int64] = [:]
    public var recentErrors: [String] = []
    public var trackerStatus: String?

    public var description: String {
        var lines = [
            "run \(runId): \(status)  source \(sourceURI)",
            "  cursor \(scanCursor)  scanned \(scannedKeys)  migrated \(migratedKeys)  skipped \(skippedKeys)  errors \(errorKeys)  bytes \(migratedBytes)",
            "  dirty seen \(dirtyKeysSeen)  applied \(dirtyKeysApplied)  deleted \(dirtyKeysDeleted)  by state: "
                + (dirtyByState.isEmpty ? "none" : dirtyByState.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")),
            "  started \(formatMillis(startedAt))  checkpoint \(formatMillis(updatedAt))" + (trackerStatus.map { "  tracker \($0)" } ?? ""),
        ]
        if let lastError { lines.append("  last error: \(lastError)") }
        for error in recentErrors { lines.append("  error: \(error)") }
        return lines.joined(separator: "\n")
    }
}

func formatMillis(_ millis: Int64) -> String {
    if millis == 0 { return "-" }
    let formatter = ISO8601DateFormatter()
    return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
}

/// A progress report, printed by the tools and passed to API callers.
public struct MigrationProgress: Sendable {
    public var status: MigrationRunStatus
    public var elapsedSeconds: Double
    public var keysPerSecond: Double
    public var megabytesPerSecond: Double
    public var estimatedTotalKeys: Int64?

    public var line: String {
        var text = "scanned \(status.scannedKeys) migrated \(status.migratedKeys) skipped \(status.skippedKeys) errors \(status.errorKeys)"
        text += String(format: " %.1f MB  %.0f keys/s  %.1f MB/s", Double(status.migratedBytes) / 1_048_576, keysPerSecond, megabytesPerSecond)
        if let total = estimatedTotalKeys, total > 0 {
            let percent = min(100, Double(status.scannedKeys) * 100 / Double(total))
            text += String(format: "  %.1f%%", percent)
            if keysPerSecond > 0, total > status.scannedKeys {
                text += String(format: " ETA %.0fs", Double(total - status.scannedKeys) / keysPerSecond)
            }
        }
        text += "  cursor \(status.scanCursor)"
        return text
    }
}

// MARK: - Registry

enum MigrationRegistry {
    static let schema = """
        CREATE TABLE IF NOT EXISTS migration_runs (
            run_id TEXT PRIMARY KEY,
            source_uri TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            status TEXT NOT NULL,                 -- running|paused|completed|failed|aborted
            scan_cursor TEXT NOT NULL DEFAULT '0',
            scan_count_hint INTEGER NOT NULL DEFAULT 1000,
            scanned_keys INTEGER NOT NULL DEFAULT 0,
            migrated_keys INTEGER NOT NULL DEFAULT 0,
            skipped_keys INTEGER NOT NULL DEFAULT 0,
            error_keys INTEGER NOT NULL DEFAULT 0,
            migrated_bytes INTEGER NOT NULL DEFAULT 0,
            dirty_keys_seen INTEGER NOT NULL DEFAULT 0,
            dirty_keys_applied INTEGER NOT NULL DEFAULT 0,
            dirty_keys_deleted INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        );
        CREATE TABLE IF NOT EXISTS migration_dirty_keys (
            run_id TEXT NOT NULL,
            key BLOB NOT NULL,
            first_seen_at INTEGER NOT NULL,
            last_seen_at INTEGER NOT NULL,
            events_count INTEGER NOT NULL DEFAULT 1,
            last_event TEXT,
            state TEXT NOT NULL DEFAULT 'dirty',  -- dirty|applied|deleted|skipped|error
            PRIMARY KEY (run_id, key)
        );
        CREATE INDEX IF NOT EXISTS migration_dirty_keys_state_idx ON migration_dirty_keys(run_id, state);
        CREATE INDEX IF NOT EXISTS migration_dirty_keys_last_seen_idx ON migration_dirty_keys(run_id, last_seen_at);
        CREATE TABLE IF NOT EXISTS migration_errors (
            run_id TEXT NOT NULL,
            at INTEGER NOT NULL,
            key BLOB,
            stage TEXT NOT NULL,                  -- bulk|dirty_apply|verify|tracker
            message TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS migration_errors_at_idx ON migration_errors(run_id, at);
        CREATE TABLE IF NOT EXISTS migration_settings (
            run_id TEXT NOT NULL,
            name TEXT NOT NULL,                   -- max_rps|max_concurrency|batch_keys|batch_bytes|scan_count
            value INTEGER NOT NULL,
            PRIMARY KEY (run_id, name)
        );
        CREATE TABLE IF NOT EXISTS migration_trackers (
            run_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,                 -- running|stopping|stopped
            pid INTEGER,
            updated_at INTEGER NOT NULL,
            events INTEGER NOT NULL DEFAULT 0
        );
        """

    /// Most error rows kept per run (the log is bounded).
    static let maxErrorRows = 1000
}

/// The destination database: a `Storage` plus the migration registry tables.
public final class MigrationDestination {
    let storage: Storage
    public let path: String

    /// Opens the file, retrying for a while when another process (importer, tracker, status)
    /// holds it while setting it up.
    private static func openStorage(path: String, template: PragmaTemplate, cache: CacheOptions, logger: Logger) throws -> Storage {
        var attempt = 0
        while true {
            do {
                return try Storage(path: path, template: template, overrides: [("busy_timeout", "15000")], cache: cache, logger: logger)
            } catch let error as SQLiteError where (error.primaryCode == SQLITE_BUSY || error.primaryCode == SQLITE_LOCKED) && attempt < 100 {
                attempt += 1
                usleep(50_000)
            }
        }
    }

    public init(path: String, template: PragmaTemplate = .default) throws {
        self.path = path
        var logger = Logger(label: "resplite-migration")
        logger.logLevel = .warning
        var cache = CacheOptions()
        cache.enabled = false
        // Several processes (importer, tracker, control) share the file: wait for locks.
        storage = try Self.openStorage(path: path, template: template, cache: cache, logger: logger)
        // Poll the lock every millisecond (SQLite's own handler sleeps up to 100 ms between
        // tries and would starve behind an importer that re-locks right after each commit).
        sqlite3_busy_handler(storage.connection.handle, { _, count in
            usleep(1000)
            return count < 30_000 ? 1 : 0
        }, nil)
        do {
            // Bulk writes land all over the key index: a page cache of `MigrationLimits
            // .destinationCacheBytes` keeps its inner pages and the batch's dirty leaves resident
            // (a smaller template setting is raised, never lowered).
            let configured = Int64(try storage.connection.scalar("PRAGMA cache_size") ?? "") ?? 0
            let configuredBytes = configured < 0 ? -configured * 1024 : configured * 4096
            if configuredBytes < Int64(MigrationLimits.destinationCacheBytes) {
                try storage.connection.execute("PRAGMA cache_size = -\(MigrationLimits.destinationCacheBytes / 1024)")
            }
            // Batches, not commands, are the unit of the migration's writes (see KeyCopier.store).
            storage.savepointPerCommand = false
            if try storage.connection.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'migration_trackers'") != "1" {
                try storage.connection.execute(MigrationRegistry.schema)
            }
        } catch {
            storage.close()
            throw error
        }
    }

    public func close() {
        // The closing TRUNCATE checkpoint must not wait behind another process's writer.
        sqlite3_busy_timeout(storage.connection.handle, 50)
        storage.close()
    }

    /// Leaves the write lock free for a moment now and then, so that other processes sharing
    /// the file (tracker, control) get their turn.
    private var lastYield = monotonicMillis()
    func yieldToOtherWriters() {
        if monotonicMillis() - lastYield >= 200 {
            usleep(3000)
            lastYield = monotonicMillis()
        }
    }

    var connection: SQLiteConnection { storage.connection }

    /// Whether this destination's write transaction is open.
    private(set) var inTransaction = false

    /// Opens a write transaction with BEGIN IMMEDIATE: several processes write the file
    /// (importer, tracker, control), and a deferred transaction that read first could not
    /// upgrade after another process committed (SQLITE_BUSY_SNAPSHOT, no busy wait).
    func begin() throws {
        if inTransaction { return }
        try connection.execute("BEGIN IMMEDIATE")
        inTransaction = true
    }

    func commit() throws {
        guard inTransaction else { return }
        storage.endCommand(failed: false)
        inTransaction = false
        do {
            try connection.execute("COMMIT")
        } catch {
            if connection.inTransaction { try? connection.execute("ROLLBACK") }
            throw error
        }
        yieldToOtherWriters()
    }

    func rollback() {
        storage.endCommand(failed: true)
        inTransaction = false
        if connection.inTransaction { try? connection.execute("ROLLBACK") }
    }

    /// Runs `body` inside one transaction (committed, or rolled back on error).
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try begin()
        do {
            let result = try body()
            try commit()
            return result
        } catch {
            rollback()
            throw error
        }
    }

    // MARK: Runs

    func ensureRun(_ runId: String, source: String, scanCount: Int, status: String) throws {
        let now = currentTimeMillis()
        let statement = try storage.cached("""
            INSERT INTO migration_runs(run_id, source_uri, started_at, updated_at, status, scan_count_hint)
            VALUES (?1, ?2, ?3, ?3, ?4, ?5) ON CONFLICT(run_id) DO NOTHING
            """)
        statement.bindText(1, runId)
        statement.bindText(2, source)
        statement.bind(3, now)
        statement.bindText(4, status)
        statement.bind(5, Int64(scanCount))
        try statement.run()
    }

    public func runStatus(_ runId: String) throws -> MigrationRunStatus? {
        let statement = try storage.cached("""
            SELECT run_id, source_uri, status, started_at, updated_at, scan_cursor, scan_count_hint,
                   scanned_keys, migrated_keys, skipped_keys, error_keys, migrated_bytes,
                   dirty_keys_seen, dirty_keys_applied, dirty_keys_deleted, last_error
            FROM migration_runs WHERE run_id = ?1
            """)
        statement.bindText(1, runId)
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        var run = MigrationRunStatus()
        run.runId = statement.text(0)
        run.sourceURI = statement.text(1)
        run.status = statement.text(2)
        run.startedAt = statement.int64(3)
        run.updatedAt = statement.int64(4)
        run.scanCursor = statement.text(5)
        run.scanCountHint = statement.int64(6)
        run.scannedKeys = statement.int64(7)
        run.migratedKeys = statement.int64(8)
        run.skippedKeys = statement.int64(9)
        run.errorKeys = statement.int64(10)
        run.migratedBytes = statement.int64(11)
        run.dirtyKeysSeen = statement.int64(12)
        run.dirtyKeysApplied = statement.int64(13)
        run.dirtyKeysDeleted = statement.int64(14)
        run.lastError = statement.isNull(15) ? nil : statement.text(15)
        statement.reset()

        let states = try storage.cached("SELECT state, count(*) FROM migration_dirty_keys WHERE run_id = ?1 GROUP BY state")
        states.bindText(1, runId)
        while try states.step() { run.dirtyByState[states.text(0)] = states.int64(1) }
        states.reset()
        let errors = try storage.cached("SELECT at, stage, message, key FROM migration_errors WHERE run_id = ?1 ORDER BY at DESC LIMIT 5")
        errors.bindText(1, runId)
        while try errors.step() {
            let key = errors.isNull(3) ? "" : " key " + printableKey(errors.bytes(3).array)
            run.recentErrors.append("\(formatMillis(errors.int64(0))) [\(errors.text(1))]\(key): \(errors.text(2))")
        }
        errors.reset()
        let tracker = try storage.cached("SELECT status FROM migration_trackers WHERE run_id = ?1")
        tracker.bindText(1, runId)
        if try tracker.step() { run.trackerStatus = tracker.text(0) }
        tracker.reset()
        return run
    }

    func setRunStatus(_ runId: String, _ status: String, lastError: String? = nil) throws {
        let statement = try storage.cached("""
            UPDATE migration_runs SET status = ?2, updated_at = ?3, last_error = coalesce(?4, last_error) WHERE run_id = ?1
            """)
        statement.bindText(1, runId)
        statement.bindText(2, status)
        statement.bind(3, currentTimeMillis())
        if let lastError { statement.bindText(4, lastError) } else { statement.bind(4, nil as Int64?) }
        try statement.run()
    }

    func currentRunStatus(_ runId: String) throws -> String? {
        let statement = try storage.cached("SELECT status FROM migration_runs WHERE run_id = ?1")
        statement.bindText(1, runId)
        defer { statement.reset() }
        return try statement.step() ? statement.text(0) : nil
    }

    func logError(_ runId: String, key: [UInt8]?, stage: String, message: String) throws {
        let count = try storage.cached("SELECT count(*) FROM migration_errors WHERE run_id = ?1")
        count.bindText(1, runId)
        let rows = try count.step() ? count.int64(0) : 0
        count.reset()
        if rows >= MigrationRegistry.maxErrorRows {
            let trim = try storage.cached("""
                DELETE FROM migration_errors WHERE rowid IN
                    (SELECT rowid FROM migration_errors WHERE run_id = ?1 ORDER BY at LIMIT 100)
                """)
            trim.bindText(1, runId)
            try trim.run()
        }
        let insert = try storage.cached("INSERT INTO migration_errors(run_id, at, key, stage, message) VALUES (?1, ?2, ?3, ?4, ?5)")
        insert.bindText(1, runId)
        insert.bind(2, currentTimeMillis())
        if let key { insert.bindCopy(3, key) } else { insert.bind(3, nil as Int64?) }
        insert.bindText(4, stage)
        insert.bindText(5, message)
        try insert.run()
        let last = try storage.cached("UPDATE migration_runs SET last_error = ?2 WHERE run_id = ?1")
        last.bindText(1, runId)
        last.bindText(2, message)
        try last.run()
    }

    // MARK: Settings (runtime controls)

    public func setSetting(_ runId: String, name: String, value: Int64) throws {
        try transaction {
            let statement = try storage.cached("""
                INSERT INTO migration_settings(run_id, name, value) VALUES (?1, ?2, ?3)
                ON CONFLICT(run_id, name) DO UPDATE SET value = excluded.value
                """)
            statement.bindText(1, runId)
            statement.bindText(2, name)
            statement.bind(3, value)
            try statement.run()
        }
    }

    func settings(_ runId: String) throws -> [String: Int64] {
        let statement = try storage.cached("SELECT name, value FROM migration_settings WHERE run_id = ?1")
        statement.bindText(1, runId)
        var result: [String: Int64] = [:]
        while try statement.step() { result[statement.text(0)] = statement.int64(1) }
        statement.reset()
        return result
    }

    /// pause | resume | abort from another process (a running bulk obeys within a second).
    public func control(_ runId: String, action: String) throws {
        let status: String
        switch action {
        case "pause": status = "paused"
        case "resume": status = "running"
        case "abort": status = "aborted"
        default: throw MigrationError("unknown control action \(action) (pause|resume|abort)")
        }
        try transaction {
            guard try currentRunStatus(runId) != nil else { throw MigrationError("no run \(runId)") }
            try setRunStatus(runId, status)
        }
    }
}

func printableKey(_ key: [UInt8]) -> String {
    var text = ""
    for byte in key.prefix(200) {
        if byte >= 0x20 && byte < 0x7f && byte != UInt8(ascii: "\\") { text.append(Character(UnicodeScalar(byte))) }
        else { text += String(format: "\\x%02x", byte) }
    }
    if key.count > 200 { text += "..." }
    return text
}

// MARK: - Key copier

/// What happened to one key.
enum CopyOutcome {
    case migrated(bytes: Int)
    /// The source no longer has it (deleted from the destination as well).
    case missing
    /// A type RESPLite does not hold (stream, module); removed from the destination.
    case unsupported(String)
    case failed(String)
}

extension RESPClient {
    /// Walks the server's keyspace with `SCAN cursor COUNT count`, a page at a time, until the
    /// cursor is back at 0 or `page` returns false.
    func scanPages(count: Int = 1000, _ page: ([[UInt8]]) throws -> Bool) throws {
        var cursor = "0"
        repeat {
            let reply = try command("SCAN", cursor, "COUNT", String(count))
            guard let parts = reply.elements, parts.count == 2, let next = parts[0].textValue,
                  let items = parts[1].elements else { return }
            cursor = next
            guard try page(items.compactMap { $0.bytesValue }) else { return }
        } while cursor != "0"
    }
}

extension RESPValue {
    var bytesValue: [UInt8]? {
        switch self {
        case .bulk(let bytes): return bytes
        case .simple(let text), .verbatim(let text), .bigNumber(let text): return Array(text.utf8)
        case .integer(let value): return Array(String(value).utf8)
        default: return nil
        }
    }

    var textValue: String? { bytesValue.map { String(decoding: $0, as: UTF8.self) } }

    var elements: [RESPValue]? {
        switch self {
        case .array(let items), .set(let items), .push(let items): return items
        case .map(let pairs): return pairs.flatMap { [$0.0, $0.1] }
        default: return nil
        }
    }
}

func parseScore(_ value: RESPValue) -> Double? {
    if case .double(let number) = value { return number }
    guard let text = value.textValue else { return nil }
    switch text.lowercased() {
    case "inf", "+inf": return .infinity
    case "-inf": return -.infinity
    default: return Double(text)
    }
}

/// A window of keys as read from the source: type, PTTL (-1 none, -2 gone) and the value or
/// the first page of it, read at `readAtMs` (TTLs become absolute from that moment).
struct FetchedKeys: Sendable {
    var keys: [[UInt8]]
    var types: [String] = []
    var pttls: [Int64] = []
    var firstPages: [RESPValue?] = []
    var readAtMs: Int64 = 0
    /// Approximate bytes held (bounds the reader's queue).
    var bytes = 0
}

/// Copies keys from a source connection into the destination (inside the caller's transaction).
final class KeyCopier {
    var client: RESPClient
    let destination: MigrationDestination
    var page: Int
    var storage: Storage { destination.storage }

    init(client: RESPClient, destination: MigrationDestination, page: Int) {
        self.client = client
        self.destination = destination
        self.page = max(10, page)
    }

    /// Copies `keys`: `fetch` on this copier's connection, then `store`.
    func copy(_ keys: [[UInt8]], attempt: Int = 0) throws -> [CopyOutcome] {
        if keys.isEmpty { return [] }
        return try store(try KeyCopier.fetch(keys, client: client, page: page), attempt: attempt)
    }

    /// Reads a window of keys: one pipeline of TYPE + PTTL + GET per key (a string is complete
    /// after it; GET answers WRONGTYPE for the other types), then one pipeline of the first
    /// value page (HSCAN/SSCAN/ZSCAN/LRANGE) of the collections. Touches no SQLite, so a
    /// reader thread can run it on its own connection ahead of the writer.
    static func fetch(_ keys: [[UInt8]], client: RESPClient, page: Int) throws -> FetchedKeys {
        var fetched = FetchedKeys(keys: keys)
        if keys.isEmpty { return fetched }
        for key in keys {
            client.enqueue([Array("TYPE".utf8), key])
            client.enqueue([Array("PTTL".utf8), key])
            client.enqueue([Array("GET".utf8), key])
        }
        try client.flush()
        fetched.types.reserveCapacity(keys.count)
        fetched.pttls.reserveCapacity(keys.count)
        fetched.firstPages.reserveCapacity(keys.count)
        for _ in keys {
            let type = try client.readReply()
            let pttl = try client.readReply()
            let value = try client.readReply()
            let typeName = type.textValue ?? "none"
            fetched.types.append(typeName)
            if case .integer(let milliseconds) = pttl { fetched.pttls.append(milliseconds) } else { fetched.pttls.append(-1) }
            if typeName == "string" {
                if case .bulk(let bytes) = value { fetched.bytes += bytes.count }
                fetched.firstPages.append(value)  // bulk, null (gone) or WRONGTYPE (type changed: retried)
            } else {
                fetched.firstPages.append(nil)
            }
        }
        fetched.readAtMs = currentTimeMillis()
        // Second round: the first page of each collection.
        let count = Array(String(page).utf8)
        var pending: [Int] = []
        for (index, key) in keys.enumerated() {
            switch fetched.types[index] {
            case "hash": client.enqueue([Array("HSCAN".utf8), key, Array("0".utf8), Array("COUNT".utf8), count])
            case "set": client.enqueue([Array("SSCAN".utf8), key, Array("0".utf8), Array("COUNT".utf8), count])
            case "zset": client.enqueue([Array("ZSCAN".utf8), key, Array("0".utf8), Array("COUNT".utf8), count])
            case "list": client.enqueue([Array("LRANGE".utf8), key, Array("0".utf8), Array(String(page - 1).utf8)])
            default: continue
            }
            pending.append(index)
        }
        if pending.isEmpty { return fetched }
        try client.flush()
        for index in pending {
            let reply = try client.readReply()
            fetched.bytes += reply.approximateSize
            fetched.firstPages[index] = reply
        }
        return fetched
    }

    /// Writes a fetched window into the destination (inside the caller's transaction); further
    /// pages of large collections and keys whose type changed meanwhile are read on this
    /// copier's connection.
    func store(_ fetched: FetchedKeys, attempt: Int = 0) throws -> [CopyOutcome] {
        let keys = fetched.keys
        let types = fetched.types, pttls = fetched.pttls, firstPages = fetched.firstPages
        let now = fetched.readAtMs
        var outcomes: [CopyOutcome] = []
        outcomes.reserveCapacity(keys.count)
        var retry: [Int] = []
        for (index, key) in keys.enumerated() {
            let expiresAt: Int64? = pttls[index] >= 0 ? now + pttls[index] : nil
            let type = types[index]
            do {
                switch type {
                case "none":
                    try deleteDestination(key)
                    outcomes.append(.missing)
                    continue
                case "string", "hash", "set", "zset", "list":
                    break
                default:
                    try deleteDestination(key)
                    outcomes.append(.unsupported(type))
                    continue
                }
                guard let reply = firstPages[index] else { outcomes.append(.failed("no reply")); continue }
                if case .error(let message) = reply {
                    if message.hasPrefix("WRONGTYPE") { retry.append(index); outcomes.append(.missing); continue }
                    outcomes.append(.failed(message))
                    continue
                }
                let bytes = try write(key: key, type: type, firstPage: reply, expiresAt: expiresAt, now: now)
                outcomes.append(bytes >= 0 ? .migrated(bytes: bytes) : .missing)
            } catch let error as ClientError {
                throw error  // the connection is gone: the caller retries or stops
            } catch let error as SQLiteError {
                // No per-key savepoint (batches are the unit): the caller rolls the batch back.
                storage.endCommand(failed: true)
                throw error
            } catch {
                // The source answered something unusable mid-key (e.g. a collection that changed
                // type between pages): leave no half key behind; the error is logged.
                storage.endCommand(failed: true)
                try deleteDestination(key)
                outcomes.append(.failed(String(describing: error)))
                continue
            }
            storage.endCommand(failed: false)
        }
        try flushFieldTTLs(now: now)
        if !retry.isEmpty {
            if attempt >= 3 {
                for index in retry { outcomes[index] = .failed("key type kept changing during the copy") }
            } else {
                let again = try copy(retry.map { keys[$0] }, attempt: attempt + 1)
                for (slot, index) in retry.enumerated() { outcomes[index] = again[slot] }
            }
        }
        return outcomes
    }

    /// Whether the source has per-field hash TTLs (nil: not asked yet), and the hash fields
    /// whose TTLs are still to be read (see `flushFieldTTLs`).
    var sourceFieldTTLs: Bool?
    var pendingFieldTTLs: [PendingFieldTTLs] = []
    var pendingFieldCount = 0

    /// Run id and stage used when a per-key error is logged.
    var currentRunForErrors = ""
    var currentStage = "bulk"

    func deleteDestination(_ key: [UInt8]) throws {
        try key.withByteView {
            _ = try storage.deleteKey($0)
            try storage.searchKeyChanged($0)  // ON HASH search indexes follow migrated keys
        }
        storage.endCommand(failed: false)
    }

    /// Writes one key (replacing whatever the destination held). Returns the bytes copied,
    /// or -1 if the key turned out to be gone.
    func write(key: [UInt8], type: String, firstPage: RESPValue, expiresAt: Int64?, now: Int64) throws -> Int {
        if type == "string" {
            guard case .bulk(let value) = firstPage else {
                try deleteDestination(key)
                return -1
            }
            try key.withByteView { k in
                try value.withByteView { v in
                    try storage.writeString(k, v, expiresAt: expiresAt, keepTTL: false, now: now)
                }
                try storage.searchKeyChanged(k, now: now)  // a string replacing an indexed hash
            }
            return key.count + value.count
        }
        let keyType: KeyType
        switch type {
        case "hash": keyType = .hash
        case "set": keyType = .set
        case "zset": keyType = .zset
        default: keyType = .list
        }
        let id: Int64 = try key.withByteView { k in
            try storage.deleteKey(k)
            return try storage.collectionForWrite(k, type: keyType, now: now).record.id
        }
        var inserted: Int64 = 0
        var bytes = key.count
        var reply = firstPage
        var listOffset = 0
        while true {
            var more = false
            switch keyType {
            case .list:
                guard let items = reply.elements else { throw MigrationError("unexpected LRANGE reply") }
                let insert = try storage.cached("INSERT INTO redis_lists(key_id, seq, value) VALUES (?1, ?2, ?3)")
                storage.forgetListEnds(id)
                for item in items {
                    guard case .bulk(let value) = item else { continue }
                    try value.withByteView { v in
                        insert.bind(1, id)
                        insert.bind(2, Int64(listOffset))
                        insert.bind(3, v)
                        try insert.run()
                    }
                    listOffset += 1
                    inserted += 1
                    bytes += value.count
                }
                if items.count == page {
                    more = true
                    reply = try client.command([Array("LRANGE".utf8), key, Array(String(listOffset).utf8), Array(String(listOffset + page - 1).utf8)])
                }
            default:
                guard let parts = reply.elements, parts.count == 2, let cursor = parts[0].textValue,
                      let items = parts[1].elements else { throw MigrationError("unexpected SCAN reply") }
                switch keyType {
                case .hash:
                    let insert = try storage.cached("INSERT OR REPLACE INTO redis_hashes(key_id, field, value) VALUES (?1, ?2, ?3)")
                    var fields: [[UInt8]] = []
                    fields.reserveCapacity(items.count / 2)
                    var index = 0
                    while index + 1 < items.count {
                        if case .bulk(let field) = items[index], case .bulk(let value) = items[index + 1] {
                            try field.withByteView { f in
                                try value.withByteView { v in
                                    insert.bind(1, id); insert.bind(2, f); insert.bind(3, v)
                                    try insert.run()
                                }
                            }
                            bytes += field.count + value.count
                            fields.append(field)
                        }
                        index += 2
                    }
                    try noteHashFields(id: id, key: key, fields: fields, now: now)
                case .set:
                    let insert = try storage.cached("INSERT OR IGNORE INTO redis_sets(key_id, member) VALUES (?1, ?2)")
                    for item in items {
                        guard case .bulk(let member) = item else { continue }
                        try member.withByteView { m in
                            insert.bind(1, id); insert.bind(2, m)
                            try insert.run()
                        }
                        bytes += member.count
                    }
                default:
                    let insert = try storage.cached("INSERT OR REPLACE INTO redis_zsets(key_id, member, score) VALUES (?1, ?2, ?3)")
                    var index = 0
                    while index + 1 < items.count {
                        if case .bulk(let member) = items[index], let score = parseScore(items[index + 1]), !score.isNaN {
                            try member.withByteView { m in
                                insert.bind(1, id); insert.bind(2, m); insert.bind(3, score)
                                try insert.run()
                            }
                            bytes += member.count + 8
                        }
                        index += 2
                    }
                }
                if cursor != "0" {
                    more = true
                    let command: String = keyType == .hash ? "HSCAN" : keyType == .set ? "SSCAN" : "ZSCAN"
                    reply = try client.command([Array(command.utf8), key, Array(cursor.utf8), Array("COUNT".utf8), Array(String(page).utf8)])
                    if case .error(let message) = reply { throw MigrationError(message) }
                }
            }
            if !more { break }
        }
        if keyType != .list {
            // Pages of a SCAN may repeat elements: count the rows themselves.
            let count: Statement
            switch keyType {
            case .hash: count = try storage.cached("SELECT count(*) FROM redis_hashes WHERE key_id = ?1")
            case .set: count = try storage.cached("SELECT count(*) FROM redis_sets WHERE key_id = ?1")
            default: count = try storage.cached("SELECT count(*) FROM redis_zsets WHERE key_id = ?1")
            }
            count.bind(1, id)
            inserted = try count.step() ? count.int64(0) : 0
            count.reset()
        }
        let remaining = try storage.adjustCount(id: id, by: inserted, now: now)
        if remaining <= 0 { return -1 }
        if let expiresAt {
            try storage.setExpiry(id: id, expiresAt: expiresAt, now: now)
        }
        if keyType == .hash { try key.withByteView { try storage.searchKeyChanged($0, now: now) } }
        return bytes
    }
}

extension RESPValue {
    /// Bytes held, roughly (bounds the reader's queue of fetched values).
    var approximateSize: Int {
        switch self {
        case .bulk(let bytes): return bytes.count + 16
        case .array(let items), .set(let items), .push(let items): return items.reduce(16) { $0 + $1.approximateSize }
        case .map(let pairs): return pairs.reduce(16) { $0 + $1.0.approximateSize + $1.1.approximateSize }
        case .simple(let text), .error(let text), .bigNumber(let text), .verbatim(let text): return text.utf8.count + 16
        default: return 16
        }
    }
}

// MARK: - Bulk reader

/// Reads the source ahead of the bulk writer, on its own connection and thread: SCAN pages
/// from a cursor, each page's keys fetched in windows (`KeyCopier.fetch`), handed over in order
/// through a bounded queue. The writer stays the only SQLite user.
///
/// Lifecycle: 1. `start()` opens nothing on the caller's thread; the thread connects. 2. The
/// writer takes items with `next()`, in SCAN order: windows, then the page's end with its next
/// cursor. 3. A lost connection ends the stream with `.failed`; the writer restarts a new
/// reader at the page's start. 4. `stop()` (any time) makes the thread drop what it holds and
/// exit; it returns when the thread is gone, so the connection is closed.
final class BulkReader: @unchecked Sendable {
    enum Item {
        case window(FetchedKeys)
        /// Every key of the page was handed over; `cursor` is SCAN's next cursor ("0": done).
        case pageEnd(cursor: String)
        case failed(Error)
    }

    /// Settings the writer may change while the reader runs (`control set`).
    struct Settings {
        var scanCount: Int
        var windowKeys: Int
        var maxRPS: Int
    }

    /// Limits of the queue between reader and writer: windows, and bytes held (at least one
    /// window always fits, whatever its size).
    static let maxQueuedWindows = 8
    static let maxQueuedBytes = 64 * 1024 * 1024

    private let source: RedisURL
    private let page: Int
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var queue: [Item] = []
    private var queuedBytes = 0
    private var stopped = false
    private var running = false
    private var settings: Settings

    /// Where the keys come from: SCAN from a cursor (bulk), or a given list (apply-dirty), which
    /// is handed over as one page ending with cursor "0".
    enum Keys {
        case scan(cursor: String)
        case list([[UInt8]])
    }

    init(source: RedisURL, keys: Keys, page: Int, settings: Settings) {
        self.source = source
        self.page = page
        self.settings = settings
        self.keys = keys
    }

    private let keys: Keys

    func start() {
        condition.lock(); running = true; condition.unlock()
        let thread = Thread { [self] in
            readLoop()
            condition.lock(); running = false; condition.broadcast(); condition.unlock()
        }
        thread.name = "resplite-bulk-reader"
        thread.start()
    }

    func update(_ change: (inout Settings) -> Void) {
        condition.lock(); change(&settings); condition.unlock()
    }

    /// The next item in SCAN order; blocks until the reader has one.
    func next() -> Item {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && running && !stopped { condition.wait() }
        guard !queue.isEmpty else { return .failed(ClientError(message: "bulk reader stopped")) }
        let item = queue.removeFirst()
        if case .window(let fetched) = item { queuedBytes -= fetched.bytes }
        condition.broadcast()
        return item
    }

    /// Stops the reader and waits for its thread to end (it finishes the round trip in flight).
    func stop() {
        condition.lock()
        stopped = true
        queue.removeAll()
        queuedBytes = 0
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
    }

    /// Queues `item`, waiting for room; false once stopped.
    private func push(_ item: Item) -> Bool {
        let bytes: Int
        if case .window(let fetched) = item { bytes = fetched.bytes } else { bytes = 0 }
        condition.lock()
        defer { condition.unlock() }
        while !stopped && !queue.isEmpty
                && (queue.count >= BulkReader.maxQueuedWindows || queuedBytes + bytes > BulkReader.maxQueuedBytes) {
            condition.wait()
        }
        if stopped { return false }
        queue.append(item)
        queuedBytes += bytes
        condition.broadcast()
        return true
    }

    private var isStopped: Bool { condition.lock(); defer { condition.unlock() }; return stopped }
    private var currentSettings: Settings { condition.lock(); defer { condition.unlock() }; return settings }

    private func readLoop() {
        let client: RESPClient
        do {
            client = try RESPClient.open(source, timeoutMs: 30_000, attempts: 8)
        } catch {
            _ = push(.failed(error))
            return
        }
        defer { client.close() }
        var limiter = RateLimiter(perSecond: currentSettings.maxRPS)
        /// Hands over one page of keys in windows; false once stopped.
        func fetchPage(_ keys: [[UInt8]]) throws -> Bool {
            var offset = 0
            while offset < keys.count {
                let settings = currentSettings
                limiter.perSecond = settings.maxRPS
                let window = Array(keys[offset..<min(keys.count, offset + max(1, settings.windowKeys))])
                limiter.acquire(window.count)
                if isStopped { return false }
                guard push(.window(try KeyCopier.fetch(window, client: client, page: page))) else { return false }
                offset += window.count
            }
            return true
        }
        do {
            switch keys {
            case .list(let keys):
                guard try fetchPage(keys) else { return }
                _ = push(.pageEnd(cursor: "0"))
            case .scan(var cursor):
                while !isStopped {
                    let reply = try client.command([Array("SCAN".utf8), Array(cursor.utf8), Array("COUNT".utf8), Array(String(currentSettings.scanCount).utf8)])
                    guard let parts = reply.elements, parts.count == 2, let next = parts[0].textValue,
                          let keyValues = parts[1].elements else {
                        throw MigrationError("unexpected SCAN reply: \(reply)")
                    }
                    guard try fetchPage(keyValues.compactMap { $0.bytesValue }) else { return }
                    guard push(.pageEnd(cursor: next)) else { return }
                    if next == "0" { return }
                    cursor = next
                }
            }
        } catch {
            _ = push(.failed(error))
        }
    }
}

// MARK: - Bulk import

public enum MigrationStopReason: Sendable { case completed, aborted }

/// A throttle on keys per second.
struct RateLimiter {
    var perSecond: Int
    private var windowStart = monotonicMillis()
    private var inWindow = 0

    init(perSecond: Int) { self.perSecond = perSecond }

    mutating func acquire(_ count: Int) {
        guard perSecond > 0 else { return }
        inWindow += count
        let elapsed = monotonicMillis() - windowStart
        let allowedMs = Int64(Double(inWindow) * 1000 / Double(perSecond))
        if allowedMs > elapsed {
            usleep(useconds_t(min(allowedMs - elapsed, 2000) * 1000))
        }
        if elapsed > 1000 { windowStart = monotonicMillis(); inWindow = 0 }
    }
}

public final class MigrationImporter {
    public let source: RedisURL
    public let destination: MigrationDestination
    public var options: MigrationOptions
    /// Called at every checkpoint.
    public var onProgress: ((MigrationProgress) -> Void)?
    public var estimatedTotalKeys: Int64?
    var client: RESPClient

    public init(source: RedisURL, destinationPath: String, options: MigrationOptions = MigrationOptions()) throws {
        self.source = source
        self.options = options
        destination = try MigrationDestination(path: destinationPath, template: options.pragmaTemplate)
        do {
            client = try RESPClient.open(source, timeoutMs: 30_000, attempts: 5)
        } catch {
            destination.close()
            throw error
        }
    }

    public func close() {
        client.close()
        destination.close()
    }

    var storage: Storage { destination.storage }

    private func reconnect() throws {
        client.close()
        client = try RESPClient.open(source, timeoutMs: 30_000, attempts: 8)
    }

    /// SCAN + copy of every key, checkpointed in `migration_runs`; resumable. Returns
    /// `.aborted` when stopped by a signal or `control abort` (checkpoint written).
    @discardableResult
    public func bulk(runId: String) throws -> MigrationStopReason {
        var cursor = "0"
        let now = currentTimeMillis()
        var status = MigrationRunStatus()
        try destination.transaction {
            try destination.ensureRun(runId, source: source.description, scanCount: options.scanCount, status: "running")
            guard let existing = try destination.runStatus(runId) else { throw MigrationError("run \(runId) missing") }
            status = existing
            if options.resume {
                cursor = existing.scanCursor
            } else {
                let reset = try storage.cached("""
                    UPDATE migration_runs SET scan_cursor = '0', scanned_keys = 0, migrated_keys = 0, skipped_keys = 0,
                        error_keys = 0, migrated_bytes = 0, started_at = ?2, last_error = NULL WHERE run_id = ?1
                    """)
                reset.bindText(1, runId)
                reset.bind(2, now)
                try reset.run()
                status.scannedKeys = 0; status.migratedKeys = 0; status.skippedKeys = 0
                status.errorKeys = 0; status.migratedBytes = 0
                status.scanCursor = "0"
            }
            if options.resume && existing.status == "completed" { return }
            try destination.setRunStatus(runId, "running")
        }
        if options.resume && status.status == "completed" {
            report(status, startMs: monotonicMillis(), baseKeys: status.migratedKeys, baseBytes: status.migratedBytes)
            return .completed
        }
        status.status = "running"
        let copier = KeyCopier(client: client, destination: destination, page: options.collectionPage)
        copier.currentRunForErrors = runId
        copier.currentStage = "bulk"
        let startMs = monotonicMillis()
        let baseKeys = status.migratedKeys, baseBytes = status.migratedBytes
        var lastCommit = monotonicMillis()
        var pendingKeys = 0, pendingBytes = 0
        var stopping = false
        try applySettings(runId)

        func checkpoint(final: String? = nil) throws {
            try checkpointInTransaction(runId, status)
            if let final { try destination.setRunStatus(runId, final) }
            try destination.commit()
            pendingKeys = 0; pendingBytes = 0
            lastCommit = monotonicMillis()
        }

        /// After a commit: obey pause/abort and setting changes made by `control`.
        func obeyControls() throws {
            try applySettings(runId)
            while true {
                let current = try destination.currentRunStatus(runId) ?? "running"
                if current == "aborted" { stopping = true; return }
                if MigrationSignals.stopRequested { stopping = true; return }
                if current != "paused" { return }
                usleep(100_000)
            }
        }

        // Reads run ahead on the reader's thread and connection; this thread writes. The
        // copier's own connection reads further pages of large collections and retries.
        func startReader(at cursor: String) -> BulkReader {
            let reader = BulkReader(source: source, keys: .scan(cursor: cursor), page: options.collectionPage, settings: .init(
                scanCount: options.scanCount, windowKeys: options.maxConcurrency, maxRPS: options.maxRPS))
            reader.start()
            return reader
        }
        func settingsChanged(_ reader: BulkReader) {
            reader.update {
                $0.scanCount = options.scanCount; $0.windowKeys = options.maxConcurrency; $0.maxRPS = options.maxRPS
            }
        }
        var reader = startReader(at: cursor)
        defer { reader.stop() }
        var pageStart = status
        var midPage = false

        /// Lost the source: drop the uncommitted part and go on from what is persisted (the
        /// cursor and counters of the last committed page end), as a resume would.
        func restartAfterConnectionLoss(_ error: Error) throws {
            reader.stop()
            destination.rollback()
            try? destination.transaction { try destination.logError(runId, key: nil, stage: "bulk", message: "source connection lost: \(error)") }
            try reconnect()
            copier.clientChanged(client)
            guard var persisted = try destination.runStatus(runId) else { throw MigrationError("run \(runId) missing") }
            persisted.status = "running"
            status = persisted
            pageStart = status
            midPage = false
            pendingKeys = 0; pendingBytes = 0
            reader = startReader(at: status.scanCursor)
        }

        while true {
            if MigrationSignals.stopRequested { stopping = true }
            if stopping {
                if midPage {
                    // Stop mid-page: what is copied stays, the cursor stays at this page's start.
                    // Counters go back to the page start too, so a resume counts exactly.
                    let copied = status
                    status = pageStart
                    try checkpoint(final: "aborted")
                    status = copied
                } else {
                    try checkpoint(final: "aborted")
                }
                status.status = "aborted"
                report(status, startMs: startMs, baseKeys: baseKeys, baseBytes: baseBytes)
                return .aborted
            }
            switch reader.next() {
            case .failed(let error):
                guard error is ClientError else { throw error }
                try restartAfterConnectionLoss(error)
            case .window(let fetched):
                try destination.begin()
                let outcomes: [CopyOutcome]
                do {
                    outcomes = try copier.store(fetched)
                } catch let error as ClientError {
                    try restartAfterConnectionLoss(error)
                    continue
                } catch {
                    destination.rollback()  // e.g. disk full: the run stops; --resume goes on from the last commit
                    throw error
                }
                for (key, outcome) in zip(fetched.keys, outcomes) {
                    switch outcome {
                    case .migrated(let bytes):
                        status.migratedKeys += 1; status.migratedBytes += Int64(bytes); pendingBytes += bytes
                    case .missing, .unsupported:
                        status.skippedKeys += 1
                    case .failed(let message):
                        status.errorKeys += 1
                        try destination.logError(runId, key: key, stage: "bulk", message: message)
                        storage.endCommand(failed: false)
                    }
                }
                status.scannedKeys += Int64(fetched.keys.count)
                pendingKeys += fetched.keys.count
                midPage = true
                if pendingKeys >= options.batchKeys || pendingBytes >= options.batchBytes
                    || monotonicMillis() - lastCommit >= Int64(options.checkpointIntervalMs) {
                    // Data only: the cursor moves when the whole page is in.
                    try destination.commit()
                    pendingKeys = 0; pendingBytes = 0
                    lastCommit = monotonicMillis()
                    try obeyControls()
                    settingsChanged(reader)
                    report(status, startMs: startMs, baseKeys: baseKeys, baseBytes: baseBytes)
                }
            case .pageEnd(let next):
                midPage = false
                cursor = next
                status.scanCursor = next
                if next == "0" {
                    try checkpoint(final: "completed")
                    status.status = "completed"
                    report(status, startMs: startMs, baseKeys: baseKeys, baseBytes: baseBytes)
                    return .completed
                }
                if pendingKeys >= options.batchKeys || pendingBytes >= options.batchBytes
                    || monotonicMillis() - lastCommit >= Int64(options.checkpointIntervalMs) || stopping {
                    try checkpoint()
                    try obeyControls()
                    settingsChanged(reader)
                    report(status, startMs: startMs, baseKeys: baseKeys, baseBytes: baseBytes)
                } else {
                    // The cursor rides in the open transaction with the page's data.
                    try checkpointInTransaction(runId, status)
                }
                pageStart = status
            }
        }
    }

    /// Writes the run's cursor and counters into the open transaction (committed with the data
    /// of the pages they describe, by the caller's next commit).
    private func checkpointInTransaction(_ runId: String, _ status: MigrationRunStatus) throws {
        try destination.begin()
        let update = try storage.cached("""
            UPDATE migration_runs SET scan_cursor = ?2, scan_count_hint = ?3, scanned_keys = ?4, migrated_keys = ?5,
                skipped_keys = ?6, error_keys = ?7, migrated_bytes = ?8, updated_at = ?9 WHERE run_id = ?1
            """)
        update.bindText(1, runId)
        update.bindText(2, status.scanCursor)
        update.bind(3, Int64(options.scanCount))
        update.bind(4, status.scannedKeys)
        update.bind(5, status.migratedKeys)
        update.bind(6, status.skippedKeys)
        update.bind(7, status.errorKeys)
        update.bind(8, status.migratedBytes)
        update.bind(9, currentTimeMillis())
        try update.run()
        storage.endCommand(failed: false)
    }

    private func applySettings(_ runId: String) throws {
        let values = try destination.settings(runId)
        if let value = values["max_rps"] { options.maxRPS = Int(value) }
        if let value = values["max_concurrency"], value > 0 { options.maxConcurrency = Int(value) }
        if let value = values["batch_keys"], value > 0 { options.batchKeys = Int(value) }
        if let value = values["batch_bytes"], value > 0 { options.batchBytes = Int(value) }
        if let value = values["scan_count"], value > 0 { options.scanCount = Int(value) }
    }

    private func report(_ status: MigrationRunStatus, startMs: Int64, baseKeys: Int64, baseBytes: Int64) {
        guard let onProgress else { return }
        let elapsed = max(0.001, Double(monotonicMillis() - startMs) / 1000)
        onProgress(MigrationProgress(
            status: status, elapsedSeconds: elapsed,
            keysPerSecond: Double(status.migratedKeys - baseKeys) / elapsed,
            megabytesPerSecond: Double(status.migratedBytes - baseBytes) / 1_048_576 / elapsed,
            estimatedTotalKeys: estimatedTotalKeys))
    }

    /// One-shot import: a bulk run under a generated id, completed in one go.
    @discardableResult
    public func importAll(runId: String? = nil) throws -> MigrationStopReason {
        let id = runId ?? "import-\(currentTimeMillis())"
        return try bulk(runId: id)
    }

    // MARK: Delta apply

    public struct ApplyResult: Sendable {
        public var applied = 0
        public var deleted = 0
        public var skipped = 0
        public var errors = 0
        public var seconds = 0.0
    }

    /// Re-imports every dirty key (deleting those the source no longer has), in batches
    /// ordered by last_seen_at. Repeatable, also while the source is live: keys touched again
    /// after this started stay dirty for the next pass.
    public func applyDirty(runId: String) throws -> ApplyResult {
        var result = ApplyResult()
        let startMs = monotonicMillis()
        let startedAt = currentTimeMillis()
        let copier = KeyCopier(client: client, destination: destination, page: options.collectionPage)
        copier.currentRunForErrors = runId
        copier.currentStage = "dirty_apply"
        var limiter = RateLimiter(perSecond: options.maxRPS)
        try destination.transaction {
            try destination.ensureRun(runId, source: source.description, scanCount: options.scanCount, status: "running")
        }
        // One transaction per batch (dirty index pages written once per batch); the source is
        // read in pipeline windows of `maxConcurrency` keys within it.
        let batch = max(1, min(options.batchKeys, 20_000))
        var afterSeen = Int64.min, afterRowid = Int64.min
        while true {
            if MigrationSignals.stopRequested { throw MigrationError("stopped by signal") }
            var rows: [([UInt8], Int64)] = []
            let batchStart = (afterSeen, afterRowid)
            // Keyset pagination in index order (last_seen_at, rowid): each batch is one index
            // range, not a sort of everything still dirty.
            let select = try storage.cached("""
                SELECT key, events_count, last_seen_at, rowid FROM migration_dirty_keys
                INDEXED BY migration_dirty_keys_last_seen_idx
                WHERE run_id = ?1 AND last_seen_at <= ?2 AND (last_seen_at, rowid) > (?3, ?4) AND state = 'dirty'
                ORDER BY last_seen_at, rowid LIMIT ?5
                """)
            select.bindText(1, runId)
            select.bind(2, startedAt)
            select.bind(3, afterSeen)
            select.bind(4, afterRowid)
            select.bind(5, Int64(batch))
            while try select.step() {
                rows.append((select.bytes(0).array, select.int64(1)))
                afterSeen = select.int64(2)
                afterRowid = select.int64(3)
            }
            select.reset()
            if rows.isEmpty { break }
            limiter.acquire(rows.count)
            try destination.begin()
            var outcomes: [CopyOutcome] = []
            outcomes.reserveCapacity(rows.count)
            // The reader fetches the next windows on its own connection while this thread stores.
            let reader = BulkReader(source: source, keys: .list(rows.map { $0.0 }), page: options.collectionPage, settings: .init(
                scanCount: options.scanCount, windowKeys: options.maxConcurrency, maxRPS: 0))
            reader.start()
            defer { reader.stop() }
            do {
                readLoop: while true {
                    switch reader.next() {
                    case .window(let fetched): outcomes += try copier.store(fetched)
                    case .pageEnd: break readLoop
                    case .failed(let error): throw error
                    }
                }
            } catch let error as ClientError {
                destination.rollback()
                try? destination.transaction { try destination.logError(runId, key: nil, stage: "dirty_apply", message: "source connection lost: \(error)") }
                try reconnect()
                copier.clientChanged(client)
                (afterSeen, afterRowid) = batchStart
                continue
            }
            let mark = try storage.cached("""
                UPDATE migration_dirty_keys SET state = ?3 WHERE run_id = ?1 AND key = ?2 AND events_count = ?4 AND state = 'dirty'
                """)
            var applied = 0, deleted = 0
            for ((key, events), outcome) in zip(rows, outcomes) {
                let state: String
                switch outcome {
                case .migrated: state = "applied"; applied += 1; result.applied += 1
                case .missing: state = "deleted"; deleted += 1; result.deleted += 1
                case .unsupported: state = "skipped"; result.skipped += 1
                case .failed(let message):
                    state = "error"; result.errors += 1
                    try destination.logError(runId, key: key, stage: "dirty_apply", message: message)
                }
                try key.withByteView { k in
                    mark.bindText(1, runId); mark.bind(2, k); mark.bindText(3, state); mark.bind(4, events)
                    try mark.run()
                }
                if connection.changes == 0 {
                    // Touched again meanwhile: keep it dirty but not before the next pass.
                    let bump = try storage.cached("UPDATE migration_dirty_keys SET last_seen_at = max(last_seen_at, ?3) WHERE run_id = ?1 AND key = ?2")
                    try key.withByteView { k in
                        bump.bindText(1, runId); bump.bind(2, k); bump.bind(3, startedAt + 1)
                        try bump.run()
                    }
                }
            }
            let counters = try storage.cached("""
                UPDATE migration_runs SET dirty_keys_applied = dirty_keys_applied + ?2,
                    dirty_keys_deleted = dirty_keys_deleted + ?3, updated_at = ?4 WHERE run_id = ?1
                """)
            counters.bindText(1, runId); counters.bind(2, Int64(applied)); counters.bind(3, Int64(deleted))
            counters.bind(4, currentTimeMillis())
            try counters.run()
            try destination.commit()
        }
        result.seconds = Double(monotonicMillis() - startMs) / 1000
        return result
    }

    var connection: SQLiteConnection { destination.connection }
}

extension KeyCopier {
    func clientChanged(_ client: RESPClient) { self.client = client }
}

// MARK: - Per-field hash TTLs

/// Fields whose TTLs are read in one pipeline (HPEXPIRETIME) at most.
let maxPendingFieldTTLs = 10_000

extension KeyCopier {
    /// Whether the source keeps per-field hash TTLs (Redis 7.4+, RESPLite): COMMAND INFO
    /// HPEXPIRETIME, asked once. An older Redis answers a null entry; a renamed or refused
    /// COMMAND counts as no.
    func sourceHasFieldTTLs() throws -> Bool {
        if let known = sourceFieldTTLs { return known }
        let reply = try client.command([Array("COMMAND".utf8), Array("INFO".utf8), Array("HPEXPIRETIME".utf8)])
        var known = false
        if let entries = reply.elements, let first = entries.first, case .array = first { known = true }
        sourceFieldTTLs = known
        return known
    }

    /// Remembers a page of hash fields just written, for their TTLs (read by `flushFieldTTLs`
    /// after the window, or sooner when many are pending).
    func noteHashFields(id: Int64, key: [UInt8], fields: [[UInt8]], now: Int64) throws {
        guard !fields.isEmpty, try sourceHasFieldTTLs() else { return }
        pendingFieldTTLs.append(PendingFieldTTLs(id: id, key: key, fields: fields))
        pendingFieldCount += fields.count
        if pendingFieldCount >= maxPendingFieldTTLs { try flushFieldTTLs(now: now) }
    }

    /// One pipeline of `HPEXPIRETIME key FIELDS n field...` for the pending pages; fields with
    /// a TTL get it as their absolute expiry. A field gone meanwhile (-2) expired at the source
    /// after its value was read: it is marked expired at once (never shown, swept).
    func flushFieldTTLs(now: Int64) throws {
        guard !pendingFieldTTLs.isEmpty else { return }
        let pending = pendingFieldTTLs
        pendingFieldTTLs.removeAll(keepingCapacity: true)
        pendingFieldCount = 0
        for entry in pending {
            client.enqueue([Array("HPEXPIRETIME".utf8), entry.key, Array("FIELDS".utf8), Array(String(entry.fields.count).utf8)] + entry.fields)
        }
        try client.flush()
        for entry in pending {
            // An error (the key changed type meanwhile) leaves the fields without TTLs; the
            // dirty tracker records that change and apply-dirty copies the key again.
            guard let values = try client.readReply().elements, values.count == entry.fields.count else { continue }
            for (field, value) in zip(entry.fields, values) {
                guard case .integer(let at) = value, at != -1 else { continue }
                try field.withByteView { try storage.hashSetFieldExpiry(entry.id, $0, at == -2 ? now : at) }
            }
        }
    }
}

struct PendingFieldTTLs {
    var id: Int64
    var key: [UInt8]
    var fields: [[UInt8]]
}
