// The dirty-key tracker (SPEC_F F.5/F.6): subscribes to keyevent (and/or keyspace)
// notifications of the source and records every touched key in `migration_dirty_keys`.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum TrackerChannels: String, Sendable {
    case keyevent, keyspace, both
}

public final class DirtyTracker {
    public let runId: String
    public let source: RedisURL
    public let destination: MigrationDestination
    public var channels: TrackerChannels
    /// Called with one line per warning (disconnects) and status change.
    public var log: ((String) -> Void)?
    /// Events recorded since start.
    public private(set) var eventsRecorded = 0

    private var pending: [(key: [UInt8], event: String, at: Int64)] = []

    public init(runId: String, source: RedisURL, destinationPath: String, channels: TrackerChannels = .keyevent) throws {
        self.runId = runId
        self.source = source
        self.channels = channels
        destination = try MigrationDestination(path: destinationPath)
    }

    public func close() { destination.close() }

    /// Asks a tracker (any process) to stop; waits up to `timeoutMs` for it to confirm.
    public static func requestStop(runId: String, destinationPath: String, timeoutMs: Int = 10_000) throws -> Bool {
        let destination = try MigrationDestination(path: destinationPath)
        defer { destination.close() }
        try destination.transaction {
            let statement = try destination.storage.cached("UPDATE migration_trackers SET status = 'stopping', updated_at = ?2 WHERE run_id = ?1 AND status = 'running'")
            statement.bindText(1, runId)
            statement.bind(2, currentTimeMillis())
            try statement.run()
        }
        let deadline = monotonicMillis() + Int64(timeoutMs)
        while monotonicMillis() < deadline {
            if try destination.trackerStatus(runId) != "stopping" { return true }
            usleep(50_000)
        }
        return false
    }

    private func subscribe() throws -> RESPClient {
        let client = try RESPClient.open(source, timeoutMs: 5_000)
        var patterns: [String] = []
        if channels != .keyspace { patterns.append("__keyevent@\(source.db)__:*") }
        if channels != .keyevent { patterns.append("__keyspace@\(source.db)__:*") }
        client.enqueue([Array("PSUBSCRIBE".utf8)] + patterns.map { Array($0.utf8) })
        try client.flush()
        for _ in patterns {
            let reply = try client.readReply()
            if case .error(let message) = reply { throw ClientError(message: "PSUBSCRIBE: \(message)") }
        }
        client.setTimeout(ms: 100)
        return client
    }

    /// Runs until `stop` (another process) or a signal; reconnects with backoff, recording a
    /// warning row in `migration_errors` on every disconnect.
    public func run(shouldStop: () -> Bool = { false }) throws {
        try destination.transaction {
            try destination.ensureRun(runId, source: source.description, scanCount: 1000, status: "running")
            let statement = try destination.storage.cached("""
                INSERT INTO migration_trackers(run_id, status, pid, updated_at) VALUES (?1, 'running', ?2, ?3)
                ON CONFLICT(run_id) DO UPDATE SET status = 'running', pid = excluded.pid, updated_at = excluded.updated_at
                """)
            statement.bindText(1, runId)
            statement.bind(2, Int64(getpid()))
            statement.bind(3, currentTimeMillis())
            try statement.run()
        }
        var client: RESPClient? = try? subscribe()
        var backoffMs = 100
        var lastFlush = monotonicMillis()
        if client == nil { try warn("cannot subscribe to \(source); retrying") }
        defer { client?.close() }
        while true {
            if MigrationSignals.stopRequested || shouldStop() { break }
            if let active = client {
                do {
                    let message = try active.readReply()
                    handle(message)
                    backoffMs = 100
                } catch {
                    if !RESPClient.isTimeout(error) {
                        active.close()
                        client = nil
                        try? flush()
                        try? warn("tracker lost the source connection (\(error)); reconnecting, events may have been missed")
                    }
                }
            } else {
                usleep(useconds_t(backoffMs * 1000))
                backoffMs = min(5_000, backoffMs * 2)
                if let fresh = try? subscribe() {
                    client = fresh
                    log?("reconnected to \(source)")
                }
            }
            if pending.count >= 1000 || monotonicMillis() - lastFlush >= 100 {
                do {
                    try flush()
                    if try destination.trackerStatus(runId) == "stopping" { break }
                } catch {
                    // The database is busy or failing: keep the events, retry shortly.
                    log?("warning: cannot record events (\(error)); retrying")
                    if pending.count > 1_000_000 { throw error }
                }
                lastFlush = monotonicMillis()
            }
        }
        try flush()
        try destination.transaction {
            let statement = try destination.storage.cached("UPDATE migration_trackers SET status = 'stopped', updated_at = ?2 WHERE run_id = ?1")
            statement.bindText(1, runId)
            statement.bind(2, currentTimeMillis())
            try statement.run()
        }
    }

    private func warn(_ message: String) throws {
        log?("warning: " + message)
        try destination.transaction {
            try destination.logError(runId, key: nil, stage: "tracker", message: message)
        }
    }

    /// pmessage [pattern, channel, payload] → (key, event).
    private func handle(_ message: RESPValue) {
        guard let parts = message.elements, parts.count == 4, parts[0].textValue == "pmessage",
              let channel = parts[2].bytesValue, let payload = parts[3].bytesValue else { return }
        let keyevent = Array("__keyevent@".utf8), keyspace = Array("__keyspace@".utf8)
        guard let separator = channel.firstIndex(of: UInt8(ascii: ":")) else { return }
        let suffix = Array(channel[(separator + 1)...])
        let now = currentTimeMillis()
        if channel.starts(with: keyevent) {
            pending.append((payload, String(decoding: suffix, as: UTF8.self), now))
        } else if channel.starts(with: keyspace) {
            pending.append((suffix, String(decoding: payload, as: UTF8.self), now))
        }
    }

    /// Writes the pending events (F.5.2: insert, or bump count/last event/last seen; any
    /// event makes the key dirty again, a deletion too: the delta applies deletes).
    private func flush() throws {
        let events = pending.filter { $0.event != "new" }
        pending.removeAll(keepingCapacity: true)
        if events.isEmpty {
            try destination.transaction {
                let touch = try destination.storage.cached("UPDATE migration_trackers SET updated_at = ?2 WHERE run_id = ?1")
                touch.bindText(1, runId)
                touch.bind(2, currentTimeMillis())
                try touch.run()
            }
            return
        }
        do {
          try destination.transaction {
            let storage = destination.storage
            let exists = try storage.cached("SELECT 1 FROM migration_dirty_keys WHERE run_id = ?1 AND key = ?2")
            let upsert = try storage.cached("""
                INSERT INTO migration_dirty_keys(run_id, key, first_seen_at, last_seen_at, events_count, last_event, state)
                VALUES (?1, ?2, ?3, ?3, 1, ?4, 'dirty')
                ON CONFLICT(run_id, key) DO UPDATE SET last_seen_at = max(last_seen_at, excluded.last_seen_at),
                    events_count = events_count + 1, last_event = excluded.last_event, state = 'dirty'
                """)
            var newKeys: Int64 = 0
            for event in events {
                try event.key.withByteView { key in
                    exists.bindText(1, runId)
                    exists.bind(2, key)
                    if try !exists.step() { newKeys += 1 }
                    exists.reset()
                    upsert.bindText(1, runId)
                    upsert.bind(2, key)
                    upsert.bind(3, event.at)
                    upsert.bindText(4, event.event)
                    try upsert.run()
                }
            }
            let counters = try storage.cached("""
                UPDATE migration_runs SET dirty_keys_seen = dirty_keys_seen + ?2, updated_at = ?3 WHERE run_id = ?1
                """)
            counters.bindText(1, runId)
            counters.bind(2, newKeys)
            counters.bind(3, currentTimeMillis())
            try counters.run()
            let tracker = try storage.cached("UPDATE migration_trackers SET events = events + ?2, updated_at = ?3 WHERE run_id = ?1")
            tracker.bindText(1, runId)
            tracker.bind(2, Int64(events.count))
            tracker.bind(3, currentTimeMillis())
            try tracker.run()
          }
        } catch {
            pending.insert(contentsOf: events, at: 0)
            throw error
        }
        eventsRecorded += events.count
    }
}

extension MigrationDestination {
    func trackerStatus(_ runId: String) throws -> String? {
        let statement = try storage.cached("SELECT status FROM migration_trackers WHERE run_id = ?1")
        statement.bindText(1, runId)
        defer { statement.reset() }
        return try statement.step() ? statement.text(0) : nil
    }
}
