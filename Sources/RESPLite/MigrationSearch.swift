// migrate-search (SPEC_F): copies RediSearch indexes from a source Redis into a RESPLite
// database. FT._LIST names the indexes, FT.INFO describes each one (RediSearch 2.x `attributes`,
// the older 1.x/2.0 `fields`, or RESPLite's own answer), the schema is mapped (TEXT → TEXT, TAG
// and NUMERIC → TEXT, anything else skipped with a warning), the index is created in the
// destination as an ON HASH index through the same code path as FT.CREATE (`SearchState.create`
// plus its backfill), and the hashes under the index's prefixes are copied with the bulk
// importer's `KeyCopier` (TTLs kept as absolute expiry). Every hash written by the copier is
// re-indexed in the same transaction (`Storage.searchKeyChanged`), and the backfill covers the
// hashes that were already in the destination (a bulk run before), so the index ends up covering
// every hash under its prefixes; a final check counts any that are not.

import Foundation

// MARK: - Options and results

public struct SearchMigrationOptions: Sendable {
    /// Indexes to migrate (empty: every index FT._LIST names).
    public var indexes: [String] = []
    /// Drop and recreate a destination index of the same name whose definition differs.
    public var replace = false
    /// Only read and map the source's indexes; write nothing.
    public var dryRun = false
    /// Copy the hashes under each index's prefixes (off: only create and backfill the index,
    /// e.g. when `bulk` already copied the keyspace).
    public var copyHashes = true
    public var scanCount = 1000
    /// Keys whose commands are in flight at once (the pipeline window).
    public var maxConcurrency = 256
    /// Keys read per second at most (0 = unlimited).
    public var maxRPS = 0
    /// Keys per committed transaction.
    public var batchKeys = 1000
    /// Fields per HSCAN page when reading a large hash.
    public var collectionPage = 1000
    public var pragmaTemplate: PragmaTemplate = .default
    public init() {}
}

/// One field of a source index as FT.INFO describes it.
public struct SourceSearchField: Sendable, Equatable {
    /// The hash field the index reads (for JSON indexes, a JSON path).
    public var identifier: String
    /// The name queries use (`AS alias`); equal to `identifier` without an alias.
    public var attribute: String
    /// Uppercased: TEXT, TAG, NUMERIC, GEO, VECTOR, GEOSHAPE, ...
    public var type: String
    public var weight: Double = 1
    /// Uppercased flags: SORTABLE, NOSTEM, NOINDEX, UNF, CASESENSITIVE, ...
    public var flags: [String] = []

    public init(identifier: String, attribute: String, type: String, weight: Double = 1, flags: [String] = []) {
        self.identifier = identifier
        self.attribute = attribute
        self.type = type
        self.weight = weight
        self.flags = flags
    }
}

/// A source index as FT.INFO describes it.
public struct SourceSearchIndex: Sendable {
    public var name: String
    /// Uppercased: HASH or JSON (HASH when FT.INFO has no index_definition, as in 1.x).
    public var keyType = "HASH"
    public var prefixes: [[UInt8]] = []
    public var hasDefinition = false
    public var filter: String?
    public var scoreField: String?
    public var defaultScore: Double?
    public var fields: [SourceSearchField] = []
    /// Things FT.INFO said that could not be read.
    public var notes: [String] = []

    public init(name: String) { self.name = name }
}

/// A destination field made from a source field.
public struct MappedSearchField: Sendable, Equatable {
    public var name: String
    /// The source type (TEXT, TAG or NUMERIC); the destination type is always TEXT.
    public var sourceType: String
    public var weight: Double

    public var description: String {
        sourceType == "TEXT" ? name : "\(name) \(sourceType)→TEXT"
    }
}

/// What migrate-search would create for one source index.
public struct SearchIndexPlan: Sendable {
    public var name: String
    /// Prefixes of the destination ON HASH index (empty: every hash).
    public var prefixes: [[UInt8]] = []
    public var fields: [MappedSearchField] = []
    /// "name (TYPE)" of each field left out.
    public var skippedFields: [String] = []
    public var warnings: [String] = []
    /// Set when the whole index is skipped.
    public var skipReason: String?
}

public struct SearchIndexMigrationResult: Sendable, CustomStringConvertible {
    public enum Outcome: String, Sendable {
        /// Created in the destination.
        case created
        /// Already there with the same definition (a re-run).
        case existing
        /// Was there with another definition; dropped and recreated (--replace).
        case replaced
        /// Left out with a warning (JSON index, no TEXT field, name not accepted).
        case skipped
        /// Could not be migrated (see `error`).
        case failed
        /// Dry run: mapped, nothing written.
        case planned
    }

    public var name: String
    public var outcome: Outcome
    public var mappedFields: [MappedSearchField] = []
    public var skippedFields: [String] = []
    public var prefixes: [[UInt8]] = []
    public var hashesCopied = 0
    /// Hashes whose copy failed.
    public var hashErrors = 0
    /// Documents in the destination index afterwards.
    public var documents: Int64 = 0
    public var warnings: [String] = []
    /// Why the index failed, or was skipped.
    public var error: String?

    public var failed: Bool { outcome == .failed || hashErrors > 0 }

    /// The one-line summary the tool prints.
    public var line: String {
        var text = "index \(name): \(outcome.rawValue)"
        if let error { text += " (\(error))" }
        text += "; fields mapped \(mappedFields.count)"
        if !mappedFields.isEmpty { text += " [" + mappedFields.map(\.description).joined(separator: ", ") + "]" }
        text += ", skipped \(skippedFields.count)"
        if !skippedFields.isEmpty { text += " [" + skippedFields.joined(separator: ", ") + "]" }
        if outcome != .skipped {
            let shown = prefixes.isEmpty ? "*" : prefixes.map { printableKey($0) + "*" }.joined(separator: " ")
            text += "; prefixes \(shown)"
        }
        if outcome != .skipped && outcome != .planned {
            text += "; hashes copied \(hashesCopied)"
            if hashErrors > 0 { text += " (\(hashErrors) failed)" }
        }
        if outcome == .created || outcome == .existing || outcome == .replaced { text += "; documents \(documents)" }
        text += "; warnings \(warnings.count)"
        return text
    }

    /// The summary line followed by one line per warning.
    public var description: String {
        ([line] + warnings.map { "  warning: \($0)" }).joined(separator: "\n")
    }
}

public struct SearchMigrationReport: Sendable, CustomStringConvertible {
    public var results: [SearchIndexMigrationResult] = []
    public var failed: Bool { results.contains { $0.failed } }
    public var description: String { results.map(\.description).joined(separator: "\n") }
}

// MARK: - Reading FT.INFO

public enum SearchInfoParser {
    /// Key/value pairs of a RESP3 map or of a RESP2 flat array, keys lowercased.
    static func pairs(_ value: RESPValue) -> [(String, RESPValue)]? {
        if case .map(let items) = value {
            return items.compactMap { key, value in key.textValue.map { ($0.lowercased(), value) } }
        }
        guard let items = value.elements else { return nil }
        var result: [(String, RESPValue)] = []
        var index = 0
        while index + 1 < items.count {
            if let key = items[index].textValue { result.append((key.lowercased(), items[index + 1])) }
            index += 2
        }
        return result
    }

    static func number(_ value: RESPValue) -> Double? {
        switch value {
        case .double(let number): return number
        case .integer(let number): return Double(number)
        default: return value.textValue.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        }
    }

    /// Parses an FT.INFO reply: RediSearch 2.x (`index_definition` + `attributes`, each
    /// attribute [identifier, X, attribute, Y, type, T, WEIGHT, w, ..., flags...]), RediSearch
    /// 1.x/2.0 (`fields`, each [name, type, T, ...]) or RESPLite's own; keys in any order and
    /// any case, as a RESP2 flat array or a RESP3 map.
    public static func parse(_ reply: RESPValue, name: String) throws -> SourceSearchIndex {
        if case .error(let message) = reply { throw MigrationError("FT.INFO \(name): \(message)") }
        guard let top = pairs(reply) else { throw MigrationError("FT.INFO \(name): unexpected reply \(reply)") }
        var table: [String: RESPValue] = [:]
        for (key, value) in top where table[key] == nil { table[key] = value }
        var index = SourceSearchIndex(name: table["index_name"]?.textValue ?? name)

        if let definition = table["index_definition"], let entries = pairs(definition) {
            index.hasDefinition = true
            for (key, value) in entries {
                switch key {
                case "key_type", "type":
                    if let text = value.textValue { index.keyType = text.uppercased() }
                case "prefixes":
                    index.prefixes = (value.elements ?? [value]).compactMap { $0.bytesValue }
                case "filter":
                    index.filter = value.textValue
                case "score_field":
                    index.scoreField = value.textValue
                case "default_score":
                    index.defaultScore = number(value)
                default:
                    break
                }
            }
        }

        if let attributes = table["attributes"]?.elements {
            for item in attributes {
                if let field = parseField(item) { index.fields.append(field) }
                else { index.notes.append("unreadable attribute \(item)") }
            }
        } else if let fields = table["fields"]?.elements {
            for item in fields {
                if let field = parseField(item) { index.fields.append(field) }
                else { index.notes.append("unreadable field \(item)") }
            }
        } else {
            index.notes.append("FT.INFO lists no attributes or fields")
        }
        return index
    }

    /// Keys of an attribute entry followed by a value; anything else is a bare flag (RESP2
    /// puts SORTABLE, NOSTEM, ... as single tokens after the key/value pairs).
    private static let valuedKeys: Set<String> = [
        "identifier", "attribute", "type", "types", "weight", "separator", "flags", "coord_system",
        "algorithm", "data_type", "dim", "distance_metric", "m", "ef_construction", "ef_runtime",
        "epsilon", "initial_cap", "block_size", "phonetic",
    ]

    static func parseField(_ item: RESPValue) -> SourceSearchField? {
        var tokens: [RESPValue]
        if case .map(let entries) = item {
            tokens = entries.flatMap { [$0.0, $0.1] }
        } else if let elements = item.elements {
            tokens = elements
        } else {
            return nil  // a bare name: RESPLite's `fields` list when there is no `attributes`
        }
        var identifier: String?
        var attribute: String?
        var type: String?
        var weight = 1.0
        var flags: [String] = []
        var index = 0
        // The 1.x/2.0 shape starts with the bare name: [name, type, TEXT, ...].
        if tokens.count >= 3, let first = tokens[0].textValue, first.lowercased() != "identifier",
           first.lowercased() != "attribute", tokens[1].textValue?.lowercased() == "type" {
            identifier = first
            index = 1
        }
        while index < tokens.count {
            guard let key = tokens[index].textValue else { index += 1; continue }
            let lower = key.lowercased()
            guard valuedKeys.contains(lower), index + 1 < tokens.count else {
                flags.append(key.uppercased())
                index += 1
                continue
            }
            let value = tokens[index + 1]
            switch lower {
            case "identifier": identifier = value.textValue
            case "attribute": attribute = value.textValue
            case "type": type = value.textValue?.uppercased()
            case "weight": weight = number(value) ?? 1
            case "flags": flags += (value.elements ?? []).compactMap { $0.textValue?.uppercased() }
            default: break
            }
            index += 2
        }
        guard let name = identifier ?? attribute, let type else { return nil }
        return SourceSearchField(identifier: name, attribute: attribute ?? name, type: type, weight: weight, flags: flags)
    }

    /// Index names FT.CREATE accepts (`[A-Za-z][A-Za-z0-9:_-]{0,63}`), by FT.CREATE's own check.
    static func acceptsIndexName(_ name: String) -> Bool {
        Array(name.utf8).withByteView { (try? SearchCommands.indexName($0)) != nil }
    }

    /// Maps a source index onto what RESPLite can hold: TEXT → TEXT; TAG and NUMERIC → TEXT
    /// with a warning; other types skipped with a warning; JSON indexes, names FT.CREATE
    /// rejects and indexes left without a TEXT field skipped whole.
    ///
    /// RESPLite's ON HASH index reads the hash field named like the schema field, so a
    /// destination field is named after the source's identifier (the hash field); an alias
    /// (`identifier AS attribute`) cannot be kept and is reported.
    public static func plan(_ source: SourceSearchIndex) -> SearchIndexPlan {
        var plan = SearchIndexPlan(name: source.name)
        plan.warnings = source.notes
        if source.keyType != "HASH" {
            plan.skipReason = "\(source.keyType) index: only HASH indexes can be migrated"
            plan.warnings.append("index skipped: key_type \(source.keyType) is not supported (only HASH)")
            return plan
        }
        if !acceptsIndexName(source.name) {
            plan.skipReason = "index name not accepted by FT.CREATE"
            plan.warnings.append("index skipped: the name \(source.name.debugDescription) is not a valid RESPLite index name ([A-Za-z][A-Za-z0-9:_-]{0,63})")
            return plan
        }
        // An empty prefix covers every key: the destination's "no prefix".
        plan.prefixes = source.prefixes.contains { $0.isEmpty } ? [] : source.prefixes
        if !source.hasDefinition {
            plan.warnings.append("FT.INFO has no index_definition (RediSearch 1.x): every hash of the destination is indexed")
        }
        if let filter = source.filter, !filter.isEmpty {
            plan.warnings.append("FILTER \(filter) is not supported: every hash under the prefixes is indexed")
        }
        if let field = source.scoreField, field != "__score" {
            plan.warnings.append("score_field \(field) is not supported: documents take their score from __score")
        }
        if let score = source.defaultScore, score != 1 {
            plan.warnings.append("default_score \(formatDouble(score)) is not supported: documents without __score score 1")
        }
        for field in source.fields {
            let label = field.identifier == field.attribute ? field.identifier : "\(field.identifier) AS \(field.attribute)"
            switch field.type {
            case "TEXT", "TAG", "NUMERIC":
                break
            default:
                plan.skippedFields.append("\(label) \(field.type)")
                plan.warnings.append("field \(label): type \(field.type) is not supported; skipped")
                continue
            }
            if field.flags.contains("NOINDEX") {
                plan.skippedFields.append("\(label) \(field.type)")
                plan.warnings.append("field \(label): NOINDEX (not searchable in the source); skipped")
                continue
            }
            guard SearchCommands.isFieldName(field.identifier) else {
                plan.skippedFields.append("\(label) \(field.type)")
                plan.warnings.append("field \(label): the hash field name is not a valid RESPLite field name ([A-Za-z][A-Za-z0-9_]{0,63}); skipped")
                continue
            }
            guard !plan.fields.contains(where: { $0.name == field.identifier }) else {
                plan.skippedFields.append("\(label) \(field.type)")
                plan.warnings.append("field \(label): hash field \(field.identifier) is already mapped; skipped")
                continue
            }
            if field.attribute != field.identifier {
                plan.warnings.append("field \(label): aliases are not supported; queries must use @\(field.identifier) instead of @\(field.attribute)")
            }
            if field.type != "TEXT" {
                plan.warnings.append("field \(field.identifier): \(field.type) mapped to TEXT (matched as words, no \(field.type == "TAG" ? "{tag}" : "[range]") queries)")
            }
            let weight = field.type == "TEXT" && field.weight.isFinite && field.weight >= 0 ? field.weight : 1
            plan.fields.append(MappedSearchField(name: field.identifier, sourceType: field.type, weight: weight))
        }
        if plan.fields.isEmpty {
            plan.skipReason = "no field left to index"
            plan.warnings.append("index skipped: no TEXT, TAG or NUMERIC field left to index")
        }
        return plan
    }
}

// MARK: - The migrator

public final class SearchMigrator {
    public let source: RedisURL
    public let destinationPath: String
    public var options: SearchMigrationOptions
    /// Progress lines while hashes are copied (about once a second).
    public var onProgress: ((String) -> Void)?
    /// Each index's result, as soon as it is done.
    public var onResult: ((SearchIndexMigrationResult) -> Void)?
    /// nil only for a dry run against a file that does not exist yet.
    let destination: MigrationDestination?
    var client: RESPClient

    public init(source: RedisURL, destinationPath: String, options: SearchMigrationOptions = SearchMigrationOptions()) throws {
        self.source = source
        self.destinationPath = destinationPath
        self.options = options
        if options.dryRun && !FileManager.default.fileExists(atPath: destinationPath) {
            destination = nil
        } else {
            destination = try MigrationDestination(path: destinationPath, template: options.pragmaTemplate)
        }
        do {
            client = try RESPClient.open(source, timeoutMs: 30_000, attempts: 5)
        } catch {
            destination?.close()
            throw error
        }
    }

    public func close() {
        client.close()
        destination?.close()
    }

    private func reconnect() throws {
        client.close()
        client = try RESPClient.open(source, timeoutMs: 30_000, attempts: 8)
    }

    /// The index names of the source (FT._LIST).
    public func sourceIndexNames() throws -> [String] {
        let reply = try client.command("FT._LIST")
        if case .error(let message) = reply {
            throw MigrationError("FT._LIST failed on the source (is RediSearch loaded?): \(message)")
        }
        guard let items = reply.elements else { throw MigrationError("unexpected FT._LIST reply: \(reply)") }
        return items.compactMap { $0.textValue }
    }

    /// FT.INFO of one source index, parsed.
    public func sourceIndex(_ name: String) throws -> SourceSearchIndex {
        try SearchInfoParser.parse(try client.command([Array("FT.INFO".utf8), Array(name.utf8)]), name: name)
    }

    /// Migrates every index (or those of `options.indexes`), each on its own: a failure is
    /// recorded in its result and the others go on.
    public func run() throws -> SearchMigrationReport {
        var report = SearchMigrationReport()
        // FT._LIST only when no names are given (RediSearch 1.x has no FT._LIST).
        var names = options.indexes.isEmpty ? try sourceIndexNames().sorted() : options.indexes
        var seen = Set<String>()
        names = names.filter { seen.insert($0).inserted }
        for name in names {
            if MigrationSignals.stopRequested { throw MigrationError("stopped by signal") }
            var result: SearchIndexMigrationResult
            do {
                let info = try sourceIndex(name)
                result = try migrate(SearchInfoParser.plan(info))
            } catch let error as ClientError {
                throw error  // the source is gone: nothing else can be read
            } catch {
                result = SearchIndexMigrationResult(name: name, outcome: .failed)
                result.error = String(describing: error)
            }
            onResult?(result)
            report.results.append(result)
        }
        return report
    }

    private func definitionMatches(_ def: SearchIndexDef, _ plan: SearchIndexPlan) -> Bool {
        guard def.onHash else { return false }
        let existingPrefixes = def.prefixes.contains { $0.isEmpty } ? [] : def.prefixes
        guard existingPrefixes == plan.prefixes, def.fields.count == plan.fields.count else { return false }
        for (field, mapped) in zip(def.fields, plan.fields) {
            guard field.name == mapped.name, field.type == .text, field.weight == mapped.weight else { return false }
        }
        return true
    }

    private func describe(_ def: SearchIndexDef) -> String {
        let prefixes = def.prefixes.isEmpty ? "*" : def.prefixes.map { printableKey($0) + "*" }.joined(separator: " ")
        let fields = def.fields.map { "\($0.name) \($0.type.rawValue)" + ($0.weight != 1 ? " WEIGHT \(formatDouble($0.weight))" : "") }
        return "\(def.onHash ? "ON HASH" : "FT.ADD") PREFIX \(prefixes) SCHEMA \(fields.joined(separator: ", "))"
    }

    /// Creates (or finds) one index in the destination, backfills it, copies its hashes.
    public func migrate(_ plan: SearchIndexPlan) throws -> SearchIndexMigrationResult {
        var result = SearchIndexMigrationResult(name: plan.name, outcome: .planned)
        result.mappedFields = plan.fields
        result.skippedFields = plan.skippedFields
        result.prefixes = plan.prefixes
        result.warnings = plan.warnings
        if let reason = plan.skipReason {
            result.outcome = .skipped
            result.error = reason
            return result
        }
        guard let destination else { return result }  // dry run, no destination file yet
        let storage = destination.storage
        let state = storage.search

        // 1. The index, through FT.CREATE's code path (SearchState.create).
        if options.dryRun {
            try state.refresh()
            if let existing = state.indexes[plan.name] {
                if definitionMatches(existing, plan) {
                    result.warnings.append("dry run: the destination already has this index with the same definition")
                } else {
                    result.warnings.append("dry run: the destination has index \(plan.name) with another definition (\(describe(existing)))"
                                           + (options.replace ? "; it would be replaced" : "; it would fail without --replace"))
                }
            }
            return result
        }
        do {
            result.outcome = try destination.transaction {
                try state.refresh()
                var outcome = SearchIndexMigrationResult.Outcome.created
                if let existing = state.indexes[plan.name] {
                    if definitionMatches(existing, plan) { return .existing }
                    guard options.replace else {
                        throw MigrationError("the destination has index \(plan.name) with another definition (\(describe(existing))); use --replace to drop and recreate it")
                    }
                    try state.drop(existing)
                    outcome = .replaced
                }
                let fields = plan.fields.enumerated().map { position, field in
                    SearchField(name: field.name, type: .text, weight: field.weight, position: position)
                }
                _ = try state.create(name: plan.name, onHash: true, prefixes: plan.prefixes, fields: fields, now: currentTimeMillis())
                return outcome
            }
        } catch {
            result.outcome = .failed
            result.error = String(describing: error)
            return result
        }

        // 2. The hashes already in the destination (FT.CREATE's backfill, run to the end here:
        // no server loop will run the later batches).
        try backfill(plan.name)

        // 3. The hashes of the source under the prefixes; each write re-indexes its key.
        if options.copyHashes {
            try copyHashes(plan, into: &result)
        }

        // 4. Coverage: every live hash under the prefixes must be a document.
        try destination.transaction {
            try state.refresh()
            guard let def = state.indexes[plan.name] else { throw MigrationError("index \(plan.name) vanished from the destination") }
            result.documents = try state.count(def)
            let missing = try unindexedHashes(def)
            if missing > 0 {
                result.warnings.append("\(missing) hashes under the prefixes are not in the index")
                result.outcome = .failed
                result.error = "index incomplete"
            }
        }
        return result
    }

    private func backfill(_ name: String) throws {
        guard let destination else { return }
        let state = destination.storage.search
        var more = try destination.transaction { () -> Bool in
            try state.refresh()
            guard let def = state.indexes[name] else { throw MigrationError("index \(name) missing after creation") }
            try state.backfill(def, now: currentTimeMillis())
            return !state.backfills.isEmpty
        }
        while more {
            more = try destination.transaction {
                // A few batches per transaction.
                var batches = 0
                while batches < 8, try state.backfillStep(now: currentTimeMillis()) { batches += 1 }
                return !state.backfills.isEmpty
            }
        }
    }

    /// Live hashes under the index's prefixes that have no document.
    private func unindexedHashes(_ def: SearchIndexDef) throws -> Int64 {
        guard let destination else { return 0 }
        let state = destination.storage.search
        var missing: Int64 = 0
        let now = currentTimeMillis()
        for prefix in def.prefixes.isEmpty ? [[UInt8]()] : def.prefixes {
            let upper = SearchState.upperBound(of: prefix)
            let statement = try state.statement("""
                SELECT count(*) FROM redis_keys k WHERE k.type = 2 AND k.key >= ?1 AND (?2 IS NULL OR k.key < ?2)
                    AND (k.expires_at IS NULL OR k.expires_at > ?3)
                    AND NOT EXISTS (SELECT 1 FROM \(def.docs) d WHERE d.doc_id = k.key)
                """)
            statement.bindCopy(1, prefix)
            if let upper { statement.bindCopy(2, upper) } else { statement.bind(2, nil as Int64?) }
            statement.bind(3, now)
            missing += try statement.step() ? statement.int64(0) : 0
            statement.reset()
        }
        return missing
    }

    /// SCAN MATCH escaped-prefix* TYPE hash, each page copied by the bulk importer's KeyCopier
    /// in pipelined windows, committed every `batchKeys`. A key under two prefixes is copied
    /// once. A lost source connection is reopened and the page read again.
    private func copyHashes(_ plan: SearchIndexPlan, into result: inout SearchIndexMigrationResult) throws {
        guard let destination else { return }
        let copier = KeyCopier(client: client, destination: destination, page: options.collectionPage)
        copier.currentStage = "migrate-search"
        var limiter = RateLimiter(perSecond: options.maxRPS)
        let prefixes = plan.prefixes.isEmpty ? [[UInt8]()] : plan.prefixes
        var lastReport = monotonicMillis()
        for (position, prefix) in prefixes.enumerated() {
            let earlier = prefixes[..<position]
            let pattern = globEscaped(prefix) + Array("*".utf8)
            var cursor = "0"
            var failures = 0
            repeat {
                if MigrationSignals.stopRequested { throw MigrationError("stopped by signal") }
                var pageCopied = 0, pageErrors = 0
                let next: String
                do {
                    let reply = try client.command([Array("SCAN".utf8), Array(cursor.utf8), Array("MATCH".utf8), pattern,
                                                    Array("COUNT".utf8), Array(String(max(1, options.scanCount)).utf8),
                                                    Array("TYPE".utf8), Array("hash".utf8)])
                    guard let parts = reply.elements, parts.count == 2, let nextCursor = parts[0].textValue,
                          let items = parts[1].elements else {
                        throw MigrationError("unexpected SCAN reply: \(reply)")
                    }
                    next = nextCursor
                    let keys = items.compactMap { $0.bytesValue }.filter { key in
                        key.starts(with: prefix) && !earlier.contains { !$0.isEmpty && key.starts(with: $0) }
                    }
                    var offset = 0
                    var pending = 0
                    while offset < keys.count {
                        let window = Array(keys[offset..<min(keys.count, offset + max(1, options.maxConcurrency))])
                        limiter.acquire(window.count)
                        try destination.begin()
                        let outcomes = try copier.copy(window)
                        for (key, outcome) in zip(window, outcomes) {
                            switch outcome {
                            case .migrated: pageCopied += 1
                            case .missing, .unsupported: break  // gone (or retyped) since the SCAN
                            case .failed(let message):
                                pageErrors += 1
                                if result.warnings.count < 50 { result.warnings.append("hash \(printableKey(key)): \(message)") }
                            }
                        }
                        offset += window.count
                        pending += window.count
                        if pending >= max(1, options.batchKeys) {
                            try destination.commit()
                            pending = 0
                        }
                    }
                    try destination.commit()
                } catch let error as ClientError {
                    destination.rollback()
                    failures += 1
                    if failures > 5 { throw error }
                    try reconnect()
                    copier.clientChanged(client)
                    continue  // the same page again (what was committed is upserted again)
                } catch {
                    destination.rollback()
                    throw error
                }
                failures = 0
                result.hashesCopied += pageCopied
                result.hashErrors += pageErrors
                cursor = next
                if let onProgress, monotonicMillis() - lastReport >= 1000 {
                    onProgress("index \(plan.name): \(result.hashesCopied) hashes copied")
                    lastReport = monotonicMillis()
                }
            } while cursor != "0"
        }
    }

    /// A prefix as a SCAN MATCH pattern matching it literally.
    private func globEscaped(_ prefix: [UInt8]) -> [UInt8] {
        var pattern: [UInt8] = []
        for byte in prefix {
            if byte == UInt8(ascii: "*") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "[")
                || byte == UInt8(ascii: "]") || byte == UInt8(ascii: "\\") {
                pattern.append(UInt8(ascii: "\\"))
            }
            pattern.append(byte)
        }
        return pattern
    }
}

extension SearchMigrator {
    /// One call: open, migrate, close.
    public static func migrate(source: RedisURL, destinationPath: String,
                               options: SearchMigrationOptions = SearchMigrationOptions()) throws -> SearchMigrationReport {
        let migrator = try SearchMigrator(source: source, destinationPath: destinationPath, options: options)
        defer { migrator.close() }
        return try migrator.run()
    }
}
