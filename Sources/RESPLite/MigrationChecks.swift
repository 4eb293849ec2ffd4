// Preflight, keyspace-notification setup and sampled verification for the migration tools.

import Foundation

public struct PreflightReport: Sendable, CustomStringConvertible {
    public var source = ""
    public var redisVersion = "?"
    public var keyCount: Int64 = 0
    public var sampled = 0
    public var typeCounts: [String: Int] = [:]
    public var unsupportedTypes: [String: Int] = [:]
    public var configAvailable = false
    public var notifyKeyspaceEvents: String?
    public var notificationsSufficient = false
    public var recommendedScanCount = 1000
    public var recommendedConcurrency = 256
    public var recommendedBatchKeys = 1000

    public var description: String {
        var lines = ["source \(source) (redis \(redisVersion))", "keys (DBSIZE): \(keyCount)"]
        lines.append("type distribution (sample of \(sampled)): " + typeCounts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        if unsupportedTypes.isEmpty { lines.append("unsupported types: none seen") }
        else { lines.append("unsupported types (skipped by the import): " + unsupportedTypes.map { "\($0.key)=\($0.value)" }.joined(separator: " ")) }
        if configAvailable {
            lines.append("notify-keyspace-events: \"\(notifyKeyspaceEvents ?? "")\"" + (notificationsSufficient ? " (enough for the dirty tracker)" : " (NOT enough: run `resplite-import enable-notifications`)"))
        } else {
            lines.append("CONFIG unavailable (renamed or denied: try --config-command NAME); cannot check notify-keyspace-events")
        }
        lines.append("recommended: --scan-count \(recommendedScanCount) --max-concurrency \(recommendedConcurrency) --batch-keys \(recommendedBatchKeys) --batch-bytes 64MB")
        return lines.joined(separator: "\n")
    }
}

/// Flags the tracker needs: keyevent channel plus generic, string, list, set, hash, zset, expired, evicted.
let requiredNotificationFlags = "Eg$lshzxe"

/// True if `flags` (as CONFIG GET prints them) cover what the tracker needs.
public func notificationFlagsSufficient(_ flags: String) -> Bool {
    let set = Set(flags)
    let hasChannel = set.contains("E") || set.contains("K")
    let classes = set.contains("A") ? true : "g$lshzx".allSatisfy { set.contains($0) }
    return hasChannel && classes
}

/// Merges the needed flags into the current ones (order does not matter to Redis).
public func mergeNotificationFlags(_ current: String) -> String {
    var result = current
    for flag in requiredNotificationFlags where !result.contains(flag) {
        if result.contains("A") && "g$lshzxe".contains(flag) { continue }
        result.append(flag)
    }
    return result
}

public enum MigrationChecks {
    static func configGet(_ client: RESPClient, configCommand: String, _ name: String) throws -> String? {
        let reply = try client.command([Array(configCommand.utf8), Array("GET".utf8), Array(name.utf8)])
        guard let items = reply.elements, items.count >= 2 else { return nil }
        return items[1].textValue
    }

    public static func preflight(source: RedisURL, configCommand: String = "CONFIG", sample: Int = 1000) throws -> PreflightReport {
        let client = try RESPClient.open(source, timeoutMs: 10_000)
        defer { client.close() }
        var report = PreflightReport()
        report.source = source.description
        if case .integer(let count) = try client.command("DBSIZE") { report.keyCount = count }
        if let info = try client.command("INFO", "server").textValue,
           let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("redis_version:") }) {
            report.redisVersion = String(line.dropFirst("redis_version:".count))
        }
        var keys: [[UInt8]] = []
        try client.scanPages { page in
            keys.append(contentsOf: page)
            return keys.count < sample
        }
        keys = Array(keys.prefix(sample))
        let replies = try client.pipeline(keys.map { [Array("TYPE".utf8), $0] })
        for reply in replies {
            let type = reply.textValue ?? "?"
            report.typeCounts[type, default: 0] += 1
            if !["string", "hash", "set", "list", "zset", "none"].contains(type) { report.unsupportedTypes[type, default: 0] += 1 }
        }
        report.sampled = keys.count
        if let flags = try? configGet(client, configCommand: configCommand, "notify-keyspace-events") {
            report.configAvailable = true
            report.notifyKeyspaceEvents = flags
            report.notificationsSufficient = notificationFlagsSufficient(flags)
        }
        report.recommendedScanCount = report.keyCount > 10_000_000 ? 2000 : 1000
        report.recommendedConcurrency = 256
        report.recommendedBatchKeys = 1000
        return report
    }

    /// Merges the needed flags into the source's notify-keyspace-events; returns (old, new).
    public static func enableNotifications(source: RedisURL, configCommand: String = "CONFIG") throws -> (String, String) {
        let client = try RESPClient.open(source, timeoutMs: 10_000)
        defer { client.close() }
        guard let current = try configGet(client, configCommand: configCommand, "notify-keyspace-events") else {
            throw MigrationError("\(configCommand) GET notify-keyspace-events failed (CONFIG renamed? use --config-command)")
        }
        let merged = mergeNotificationFlags(current)
        if merged != current {
            let reply = try client.command([Array(configCommand.utf8), Array("SET".utf8), Array("notify-keyspace-events".utf8), Array(merged.utf8)])
            if case .error(let message) = reply { throw MigrationError("CONFIG SET failed: \(message)") }
        }
        let now = try configGet(client, configCommand: configCommand, "notify-keyspace-events") ?? merged
        return (current, now)
    }

    // MARK: Verify

    public struct VerifyReport: Sendable {
        public var checked = 0
        public var mismatches: [String] = []
    }

    /// A comparable form of a value: strings as is; hashes, sets and zsets sorted; lists in order.
    struct Canonical: Equatable {
        var type: String
        var items: [[UInt8]]
        var expiresAt: Int64?
    }

    static func sourceCanonical(_ client: RESPClient, _ key: [UInt8]) throws -> Canonical? {
        let replies = try client.pipeline([[Array("TYPE".utf8), key], [Array("PTTL".utf8), key]])
        let type = replies[0].textValue ?? "none"
        var expiresAt: Int64?
        if case .integer(let pttl) = replies[1], pttl >= 0 { expiresAt = currentTimeMillis() + pttl }
        var items: [[UInt8]] = []
        switch type {
        case "none": return nil
        case "string":
            guard let value = try client.command([Array("GET".utf8), key]).bytesValue else { return nil }
            items = [value]
        case "hash":
            let flat = try client.command([Array("HGETALL".utf8), key]).elements ?? []
            var pairs: [[UInt8]] = []
            var index = 0
            while index + 1 < flat.count { pairs.append((flat[index].bytesValue ?? []) + [0] + (flat[index + 1].bytesValue ?? [])); index += 2 }
            items = pairs.sorted { $0.lexicographicallyPrecedes($1) }
        case "set":
            items = (try client.command([Array("SMEMBERS".utf8), key]).elements ?? []).compactMap { $0.bytesValue }.sorted { $0.lexicographicallyPrecedes($1) }
        case "list":
            items = (try client.command([Array("LRANGE".utf8), key, Array("0".utf8), Array("-1".utf8)]).elements ?? []).compactMap { $0.bytesValue }
        case "zset":
            let flat = try client.command([Array("ZRANGE".utf8), key, Array("0".utf8), Array("-1".utf8), Array("WITHSCORES".utf8)]).elements ?? []
            var pairs: [[UInt8]] = []
            var index = 0
            while index + 1 < flat.count {
                let score = parseScore(flat[index + 1]) ?? .nan
                pairs.append((flat[index].bytesValue ?? []) + [0] + Array(String(score).utf8))
                index += 2
            }
            items = pairs.sorted { $0.lexicographicallyPrecedes($1) }
        default:
            return Canonical(type: type, items: [], expiresAt: nil)
        }
        return Canonical(type: type, items: items, expiresAt: expiresAt)
    }

    static func destinationCanonical(_ storage: Storage, _ key: [UInt8]) throws -> Canonical? {
        let now = currentTimeMillis()
        let lookup = try storage.cached("SELECT id, type, expires_at, value FROM redis_keys WHERE key = ?1")
        return try key.withByteView { k -> Canonical? in
            lookup.bind(1, k)
            defer { lookup.reset() }
            guard try lookup.step() else { return nil }
            let id = lookup.int64(0)
            let type = KeyType(rawValue: lookup.int64(1))
            let expiresAt = lookup.optionalInt64(2)
            if let expiresAt, expiresAt <= now { return nil }
            let stringValue = lookup.isNull(3) ? [] : lookup.bytes(3).array
            lookup.reset()
            /// The key's member rows as items; unordered collections sorted.
            func members(_ sql: StaticString, ordered: Bool = false, _ item: (Statement) -> [UInt8]) throws -> [[UInt8]] {
                let rows = try storage.cached(sql)
                rows.bind(1, id)
                defer { rows.reset() }
                var items: [[UInt8]] = []
                while try rows.step() { items.append(item(rows)) }
                return ordered ? items : items.sorted { $0.lexicographicallyPrecedes($1) }
            }
            let items: [[UInt8]]
            switch type {
            case .string?: items = [stringValue]
            case .hash?:
                items = try members("SELECT field, value FROM redis_hashes WHERE key_id = ?1") { $0.bytes(0).array + [0] + $0.bytes(1).array }
            case .set?:
                items = try members("SELECT member FROM redis_sets WHERE key_id = ?1") { $0.bytes(0).array }
            case .list?:
                items = try members("SELECT value FROM redis_lists WHERE key_id = ?1 ORDER BY seq", ordered: true) { $0.bytes(0).array }
            case .zset?:
                items = try members("SELECT member, score FROM redis_zsets WHERE key_id = ?1") {
                    $0.bytes(0).array + [0] + Array(String($0.double(1)).utf8)
                }
            case nil: return Canonical(type: "unknown", items: [], expiresAt: expiresAt)
            }
            return Canonical(type: type!.name, items: items, expiresAt: expiresAt)
        }
    }

    /// Compares a sample (`fraction` of the source's keys, 0...1) for type, value and TTL
    /// (within `ttlToleranceMs`).
    public static func verify(source: RedisURL, destinationPath: String, runId: String?, fraction: Double,
                              ttlToleranceMs: Int64 = 2_000, maxMismatchesListed: Int = 100, seed: UInt64 = 0) throws -> VerifyReport {
        let client = try RESPClient.open(source, timeoutMs: 30_000)
        defer { client.close() }
        let destination = try MigrationDestination(path: destinationPath)
        defer { destination.close() }
        var report = VerifyReport()
        var generator = SplitMix(seed: seed == 0 ? UInt64(currentTimeMillis()) : seed)
        var mismatchCount = 0
        try client.scanPages { keys in
            for key in keys {
                if fraction < 1, Double(generator.next() % 1_000_000) / 1_000_000 >= fraction { continue }
                guard let expected = try sourceCanonical(client, key) else { continue }  // gone meanwhile
                if !["string", "hash", "set", "list", "zset"].contains(expected.type) { continue }
                report.checked += 1
                let actual = try destinationCanonical(destination.storage, key)
                var problem: String?
                if let actual {
                    if actual.type != expected.type { problem = "type \(actual.type) != source \(expected.type)" }
                    else if actual.items != expected.items { problem = "value differs (\(actual.items.count) vs source \(expected.items.count) elements)" }
                    else {
                        switch (expected.expiresAt, actual.expiresAt) {
                        case (nil, nil): break
                        case (let a?, let b?) where abs(a - b) <= ttlToleranceMs: break
                        default: problem = "TTL differs (destination \(actual.expiresAt.map(String.init) ?? "none"), source \(expected.expiresAt.map(String.init) ?? "none"))"
                        }
                    }
                } else {
                    problem = "missing in destination"
                }
                if let problem {
                    mismatchCount += 1
                    if report.mismatches.count < maxMismatchesListed { report.mismatches.append("\(printableKey(key)): \(problem)") }
                    if let runId {
                        try? destination.transaction { try destination.logError(runId, key: key, stage: "verify", message: problem) }
                    }
                }
            }
            return true
        }
        if mismatchCount > report.mismatches.count {
            report.mismatches.append("... and \(mismatchCount - report.mismatches.count) more")
        }
        return report
    }
}

/// SplitMix64: a small deterministic generator (verify sampling, seeded tests).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
