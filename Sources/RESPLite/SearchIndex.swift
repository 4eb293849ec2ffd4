// Full-text search storage: the index catalog, per-index tables on SQLite FTS5, the query
// compiler (RediSearch syntax → a safe FTS5 MATCH expression plus SQL conditions, built from
// validated tokens only), and indexes that follow hashes (ON HASH PREFIX).
//
// Per index N (catalog row `search_indexes.id`):
//   search_docs_N(id INTEGER PRIMARY KEY, doc_id BLOB UNIQUE, score REAL, c<i> TEXT per field,
//                 t<i> normalised tags per TAG field, n<i> REAL per NUMERIC field)
//   search_fts_N  external-content FTS5 over the TEXT columns (content='search_docs_N'),
//                 kept in step by triggers that issue FTS5 'delete' with the OLD values, so a
//                 delete or replace leaves no stale tokens (without contentless_delete,
//                 which SQLite 3.40 lacked). Documents are written
//                 with UPSERT (ON CONFLICT DO UPDATE fires the update trigger), never
//                 INSERT OR REPLACE.

import CSQLite
import Foundation

enum SearchLimits {
    static let maxResults = 1000
    static let defaultCount = 10
    static let backfillBatch = 500
}

enum SearchFieldType: String {
    case text = "TEXT", tag = "TAG", numeric = "NUMERIC"
}

struct SearchField {
    var name: String
    var type: SearchFieldType
    var weight: Double = 1
    var separator: String = ","
    /// Column number in the docs table (stable across FT.ALTER).
    var position: Int

    var column: String { "c\(position)" }
    var tagColumn: String { "t\(position)" }
    var numericColumn: String { "n\(position)" }
}

final class SearchIndexDef {
    let id: Int64
    let name: String
    let onHash: Bool
    let prefixes: [[UInt8]]
    var fields: [SearchField]
    let createdAt: Int64
    var updatedAt: Int64

    init(id: Int64, name: String, onHash: Bool, prefixes: [[UInt8]], fields: [SearchField], createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.name = name
        self.onHash = onHash
        self.prefixes = prefixes
        self.fields = fields
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    var docs: String { "search_docs_\(id)" }
    var fts: String { "search_fts_\(id)" }
    var textFields: [SearchField] { fields.filter { $0.type == .text } }

    func field(named name: String) -> SearchField? { fields.first { $0.name == name } }

    /// The docs table's data columns, in order.
    var dataColumns: [String] {
        var columns: [String] = []
        for field in fields {
            columns.append(field.column)
            if field.type == .tag { columns.append(field.tagColumn) }
            if field.type == .numeric { columns.append(field.numericColumn) }
        }
        return columns
    }

    func matches(_ key: ByteView) -> Bool {
        if prefixes.isEmpty { return true }
        for prefix in prefixes where prefix.count <= key.count {
            var equal = true
            for i in 0..<prefix.count where key[i] != prefix[i] { equal = false; break }
            if equal { return true }
        }
        return false
    }
}

// MARK: - Per-engine state

/// The catalog loaded in memory and the dynamic statements of one storage connection. Used
/// only on the loop thread that owns the storage.
final class SearchState {
    weak var storage: Storage?
    private(set) var indexes: [String: SearchIndexDef] = [:]
    private(set) var loaded = false
    private(set) var hasOnHash = false
    private var schemaVersion: Int64 = -1
    private var statements: [String: Statement] = [:]
    private let connection: SQLiteConnection

    init(_ storage: Storage) {
        self.storage = storage
        self.connection = storage.connection
    }

    /// A statement for SQL of a fixed shape (catalog, per-index document statements), prepared
    /// once and owned by the connection, which finalizes it when it closes (so closing never
    /// leaves a zombie connection holding the file's locks). The caller resets it. A statement
    /// of a dropped index stays prepared and harmless until then; its SQL re-prepares itself if
    /// the table name is used again.
    func statement(_ sql: String) throws -> Statement {
        if let statement = statements[sql] { return statement }
        let statement = try connection.prepare(sql)
        statements[sql] = statement
        return statement
    }

    /// A statement for SQL whose shape depends on the query (FT.SEARCH): the caller finalizes
    /// it before the command returns.
    func transient(_ sql: String) throws -> Statement {
        var pointer: OpaquePointer?
        let result = sqlite3_prepare_v3(connection.handle, sql, -1, 0, &pointer, nil)
        guard result == SQLITE_OK, let pointer else { throw connection.lastError }
        return Statement(handle: pointer, connection: connection)
    }

    func bindText(_ statement: Statement, _ index: Int32, _ text: String?) {
        statement.bindText(index, text)
    }

    func bindNull(_ statement: Statement, _ index: Int32) {
        statement.bindNull(index)
    }

    /// Reloads the catalog when the database schema changed (a create, drop or alter, or the
    /// rollback of one).
    func refresh() throws {
        let version = try statement("PRAGMA schema_version")
        defer { version.reset() }
        let current = try version.step() ? version.int64(0) : 0
        version.reset()
        if loaded && current == schemaVersion { return }
        try load()
        schemaVersion = current
    }

    /// Forces a reload on next use.
    func invalidate() { loaded = false; schemaVersion = -1 }

    private func load() throws {
        indexes.removeAll()
        hasOnHash = false
        loaded = true
        let exists = try statement("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'search_indexes'")
        defer { exists.reset() }
        guard try exists.step(), exists.int64(0) > 0 else { return }
        exists.reset()
        let rows = try statement("SELECT id, name, on_hash, created_at, updated_at FROM search_indexes")
        defer { rows.reset() }
        var list: [SearchIndexDef] = []
        while try rows.step() {
            list.append(SearchIndexDef(id: rows.int64(0), name: rows.text(1), onHash: rows.int64(2) != 0, prefixes: [],
                                       fields: [], createdAt: rows.int64(3), updatedAt: rows.int64(4)))
        }
        rows.reset()
        for item in list {
            let prefixes = try statement("SELECT prefix FROM search_prefixes WHERE index_id = ?1 ORDER BY position")
            prefixes.bind(1, item.id)
            var found: [[UInt8]] = []
            while try prefixes.step() { found.append(prefixes.bytes(0).array) }
            prefixes.reset()
            let fields = try statement("SELECT name, type, weight, separator, position FROM search_fields WHERE index_id = ?1 ORDER BY position")
            fields.bind(1, item.id)
            var parsed: [SearchField] = []
            while try fields.step() {
                parsed.append(SearchField(name: fields.text(0), type: SearchFieldType(rawValue: fields.text(1)) ?? .text,
                                          weight: fields.double(2), separator: fields.text(3), position: Int(fields.int64(4))))
            }
            fields.reset()
            let def = SearchIndexDef(id: item.id, name: item.name, onHash: item.onHash, prefixes: found, fields: parsed,
                                     createdAt: item.createdAt, updatedAt: item.updatedAt)
            indexes[def.name] = def
            if def.onHash { hasOnHash = true }
        }
    }

    func index(_ name: String) throws -> SearchIndexDef {
        try refresh()
        guard let index = indexes[name] else { throw CommandError("Unknown index name") }
        return index
    }

    // MARK: Catalog changes

    static let catalogSQL = """
        CREATE TABLE IF NOT EXISTS search_indexes (
            id         INTEGER PRIMARY KEY,      -- N of search_docs_N / search_fts_N
            name       TEXT    NOT NULL UNIQUE,
            on_hash    INTEGER NOT NULL,         -- 1: follows the hashes under its prefixes
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS search_fields (
            index_id  INTEGER NOT NULL,
            position  INTEGER NOT NULL,          -- column c<position> of search_docs_N
            name      TEXT    NOT NULL,
            type      TEXT    NOT NULL,          -- TEXT, TAG, NUMERIC
            weight    REAL    NOT NULL DEFAULT 1,
            separator TEXT    NOT NULL DEFAULT ',',
            PRIMARY KEY (index_id, position)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS search_prefixes (
            index_id INTEGER NOT NULL,
            position INTEGER NOT NULL,
            prefix   BLOB    NOT NULL,
            PRIMARY KEY (index_id, position)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS search_suggestions (
            index_id INTEGER NOT NULL,
            term     TEXT    NOT NULL,
            score    REAL    NOT NULL,
            payload  BLOB,
            PRIMARY KEY (index_id, term)
        ) WITHOUT ROWID;
        """

    func create(name: String, onHash: Bool, prefixes: [[UInt8]], fields: [SearchField], now: Int64) throws -> SearchIndexDef {
        guard let storage else { throw CommandError("ERR storage closed") }
        try storage.willWrite()
        try connection.execute(Self.catalogSQL)
        try refresh()
        if indexes[name] != nil { throw CommandError("ERR index already exists") }
        let insert = try statement("INSERT INTO search_indexes(name, on_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) RETURNING id")
        bindText(insert, 1, name)
        insert.bind(2, Int64(onHash ? 1 : 0))
        insert.bind(3, now)
        defer { insert.reset() }
        guard try insert.step() else { throw CommandError("ERR storage error") }
        let id = insert.int64(0)
        insert.reset()
        for (position, prefix) in prefixes.enumerated() {
            let add = try statement("INSERT INTO search_prefixes(index_id, position, prefix) VALUES (?1, ?2, ?3)")
            add.bind(1, id)
            add.bind(2, Int64(position))
            add.bindCopy(3, prefix)
            try add.run()
        }
        try insertFields(id, fields)
        let def = SearchIndexDef(id: id, name: name, onHash: onHash, prefixes: prefixes, fields: fields, createdAt: now, updatedAt: now)
        let columns = def.dataColumns.map { ", \($0)" }.joined()
        try connection.execute("CREATE TABLE \(def.docs) (id INTEGER PRIMARY KEY, doc_id BLOB NOT NULL UNIQUE, score REAL NOT NULL DEFAULT 1\(columns))")
        try rebuildFullText(def)
        invalidate()
        return def
    }

    private func insertFields(_ id: Int64, _ fields: [SearchField]) throws {
        for field in fields {
            let add = try statement("INSERT INTO search_fields(index_id, position, name, type, weight, separator) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            add.bind(1, id)
            add.bind(2, Int64(field.position))
            bindText(add, 3, field.name)
            bindText(add, 4, field.type.rawValue)
            add.bind(5, field.weight)
            bindText(add, 6, field.separator)
            try add.run()
        }
    }

    /// (Re)creates the FTS5 table and its triggers over the TEXT columns, and fills it from the
    /// docs table.
    private func rebuildFullText(_ def: SearchIndexDef) throws {
        let n = def.id
        try connection.execute("""
            DROP TRIGGER IF EXISTS search_docs_\(n)_ai; DROP TRIGGER IF EXISTS search_docs_\(n)_ad;
            DROP TRIGGER IF EXISTS search_docs_\(n)_au; DROP TABLE IF EXISTS \(def.fts);
            """)
        let text = def.textFields.map(\.column)
        guard !text.isEmpty else { return }
        let list = text.joined(separator: ", ")
        let newValues = text.map { "new.\($0)" }.joined(separator: ", ")
        let oldValues = text.map { "old.\($0)" }.joined(separator: ", ")
        try connection.execute("""
            CREATE VIRTUAL TABLE \(def.fts) USING fts5(\(list), content='\(def.docs)', content_rowid='id',
                tokenize='unicode61 remove_diacritics 2');
            CREATE TRIGGER search_docs_\(n)_ai AFTER INSERT ON \(def.docs) BEGIN
                INSERT INTO \(def.fts)(rowid, \(list)) VALUES (new.id, \(newValues));
            END;
            CREATE TRIGGER search_docs_\(n)_ad AFTER DELETE ON \(def.docs) BEGIN
                INSERT INTO \(def.fts)(\(def.fts), rowid, \(list)) VALUES ('delete', old.id, \(oldValues));
            END;
            CREATE TRIGGER search_docs_\(n)_au AFTER UPDATE ON \(def.docs) BEGIN
                INSERT INTO \(def.fts)(\(def.fts), rowid, \(list)) VALUES ('delete', old.id, \(oldValues));
                INSERT INTO \(def.fts)(rowid, \(list)) VALUES (new.id, \(newValues));
            END;
            INSERT INTO \(def.fts)(\(def.fts)) VALUES ('rebuild');
            """)
    }

    func drop(_ def: SearchIndexDef) throws {
        guard let storage else { return }
        try storage.willWrite()
        try connection.execute("""
            DROP TABLE IF EXISTS \(def.fts); DROP TABLE IF EXISTS \(def.docs);
            DELETE FROM search_fields WHERE index_id = \(def.id);
            DELETE FROM search_prefixes WHERE index_id = \(def.id);
            DELETE FROM search_suggestions WHERE index_id = \(def.id);
            DELETE FROM search_indexes WHERE id = \(def.id);
            """)
        invalidate()
    }

    /// FT.ALTER ... SCHEMA ADD: new columns, FTS table rebuilt, hashes re-read for ON HASH.
    func addFields(_ def: SearchIndexDef, _ fields: [SearchField], now: Int64) throws {
        guard let storage else { return }
        try storage.willWrite()
        try insertFields(def.id, fields)
        for field in fields {
            try connection.execute("ALTER TABLE \(def.docs) ADD COLUMN \(field.column)")
            if field.type == .tag { try connection.execute("ALTER TABLE \(def.docs) ADD COLUMN \(field.tagColumn)") }
            if field.type == .numeric { try connection.execute("ALTER TABLE \(def.docs) ADD COLUMN \(field.numericColumn)") }
        }
        def.fields += fields
        try connection.execute("UPDATE search_indexes SET updated_at = \(now) WHERE id = \(def.id)")
        try rebuildFullText(def)
        if def.onHash { try backfill(def, now: now) }
        invalidate()
    }

    // MARK: Documents

    /// Writes a document whole (fields not given are cleared): UPSERT, so the FTS update
    /// trigger removes the old tokens.
    func writeDocument(_ def: SearchIndexDef, docId: [UInt8], score: Double, values: [String: [UInt8]], now: Int64) throws {
        guard let storage else { return }
        try storage.willWrite()
        let columns = def.dataColumns
        let placeholders = (0..<columns.count).map { "?\($0 + 3)" }.joined(separator: ", ")
        let updates = (["score = excluded.score"] + columns.map { "\($0) = excluded.\($0)" }).joined(separator: ", ")
        let sql = "INSERT INTO \(def.docs)(doc_id, score\(columns.map { ", \($0)" }.joined())) VALUES (?1, ?2\(columns.isEmpty ? "" : ", ")\(placeholders)) ON CONFLICT(doc_id) DO UPDATE SET \(updates)"
        let upsert = try statement(sql)
        defer { upsert.reset() }
        upsert.bindCopy(1, docId)
        upsert.bind(2, score)
        var index: Int32 = 3
        for field in def.fields {
            let raw = values[field.name]
            let text = raw.map { String(decoding: $0, as: UTF8.self) }
            bindText(upsert, index, text)
            index += 1
            if field.type == .tag {
                bindText(upsert, index, text.map { Self.normalisedTags($0, separator: field.separator) })
                index += 1
            }
            if field.type == .numeric {
                if let text, let number = Double(text.trimmingCharacters(in: .whitespaces)), !number.isNaN {
                    upsert.bind(index, number)
                } else {
                    bindNull(upsert, index)
                }
                index += 1
            }
        }
        try upsert.run()
    }

    /// Tags as stored: lowercased, trimmed, each enclosed by unit separators (\u{1F}a\u{1F}b\u{1F}).
    static func normalisedTags(_ text: String, separator: String) -> String {
        let sep = separator.first ?? ","
        let tags = text.split(separator: sep).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        return "\u{1F}" + tags.joined(separator: "\u{1F}") + "\u{1F}"
    }

    func documentExists(_ def: SearchIndexDef, _ docId: ByteView) throws -> Bool {
        let select = try statement("SELECT 1 FROM \(def.docs) WHERE doc_id = ?1")
        defer { select.reset() }
        select.bind(1, docId)
        return try select.step()
    }

    @discardableResult
    func deleteDocument(_ def: SearchIndexDef, _ docId: ByteView) throws -> Bool {
        guard let storage else { return false }
        guard try documentExists(def, docId) else { return false }
        try storage.willWrite()
        let delete = try statement("DELETE FROM \(def.docs) WHERE doc_id = ?1")
        delete.bind(1, docId)
        try delete.run()
        return true
    }

    /// A document's fields in schema order (nil values: not set), or nil when missing.
    func document(_ def: SearchIndexDef, _ docId: ByteView) throws -> [(String, String?)]? {
        let columns = def.fields.map(\.column).joined(separator: ", ")
        let select = try statement("SELECT 1\(columns.isEmpty ? "" : ", " + columns) FROM \(def.docs) WHERE doc_id = ?1")
        defer { select.reset() }
        select.bind(1, docId)
        guard try select.step() else { return nil }
        var result: [(String, String?)] = []
        for (i, field) in def.fields.enumerated() {
            let column = Int32(i + 1)
            result.append((field.name, select.isNull(column) ? nil : select.text(column)))
        }
        return result
    }

    func count(_ def: SearchIndexDef) throws -> Int64 {
        let select = try statement("SELECT count(*) FROM \(def.docs)")
        defer { select.reset() }
        return try select.step() ? select.int64(0) : 0
    }

    // MARK: Hashes (ON HASH)

    /// Re-indexes one key in every ON HASH index whose prefixes match it: from its current
    /// hash, or removed when it is gone or not a hash.
    func reindexKey(_ key: ByteView, now: Int64) throws {
        guard let storage else { return }
        let matching = indexes.values.filter { $0.onHash && $0.matches(key) }
        guard !matching.isEmpty else { return }
        var fields: [String: [UInt8]]?
        if let record = try storage.lookup(key, now: now), record.type == .hash {
            var values: [String: [UInt8]] = [:]
            let read = try statement("SELECT field, value FROM redis_hashes WHERE key_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)")
            read.bind(1, record.id)
            read.bind(2, now)
            defer { read.reset() }
            while try read.step() {
                values[read.bytes(0).string] = read.bytes(1).array
            }
            read.reset()
            fields = values
        }
        for def in matching {
            if let fields {
                var score = 1.0
                if let raw = fields["__score"], let parsed = Double(String(decoding: raw, as: UTF8.self)), parsed.isFinite { score = parsed }
                try writeDocument(def, docId: key.array, score: score, values: fields, now: now)
            } else {
                try deleteDocument(def, key)
            }
        }
    }

    /// A live hash's live fields in field order (empty when missing or not a hash).
    func hashFields(_ key: ByteView, now: Int64) throws -> [([UInt8], [UInt8])] {
        guard let storage, let record = try storage.lookup(key, now: now), record.type == .hash else { return [] }
        let read = try statement("SELECT field, value FROM redis_hashes WHERE key_id = ?1 AND (expires_at IS NULL OR expires_at > ?2) ORDER BY field")
        read.bind(1, record.id)
        read.bind(2, now)
        defer { read.reset() }
        var fields: [([UInt8], [UInt8])] = []
        while try read.step() { fields.append((read.bytes(0).array, read.bytes(1).array)) }
        return fields
    }

    /// FLUSHDB/FLUSHALL: every index goes (definition, documents, suggestions), as RediSearch
    /// drops its indexes on a flush; pending backfills go with them.
    func dropAll() throws {
        try refresh()
        for def in Array(indexes.values) { try drop(def) }
        backfills.removeAll()
    }

    /// Where the indexing of existing hashes of an ON HASH index has got to.
    struct Backfill {
        let indexId: Int64
        var prefixIndex = 0
        var cursor: [UInt8]
        var inclusive = true
    }

    /// Backfills still to run, one bounded batch per loop turn (Engine.runTimers).
    private(set) var backfills: [Backfill] = []

    /// Indexes the existing hashes under the index's prefixes: the first batch at once (a small
    /// keyspace is fully indexed when FT.CREATE answers), the rest one batch per loop turn so a
    /// large keyspace never blocks the server. Writes meanwhile are indexed by the write path.
    func backfill(_ def: SearchIndexDef, now: Int64) throws {
        backfills.removeAll { $0.indexId == def.id }
        backfills.append(Backfill(indexId: def.id, cursor: def.prefixes.first ?? []))
        try backfillStep(now: now)
    }

    /// Gives up the oldest pending backfill (after a storage error: not retried every turn).
    func dropFirstBackfill() {
        if !backfills.isEmpty { backfills.removeFirst() }
    }

    /// Runs one batch of the oldest pending backfill. True while any remain.
    @discardableResult
    func backfillStep(now: Int64) throws -> Bool {
        guard var job = backfills.first else { return false }
        guard let def = indexes.values.first(where: { $0.id == job.indexId }) else {
            backfills.removeFirst()  // the index was dropped meanwhile
            return !backfills.isEmpty
        }
        let prefixes = def.prefixes.isEmpty ? [[]] : def.prefixes
        let prefix = prefixes[job.prefixIndex]
        let upper = Self.upperBound(of: prefix)
        let select: Statement
        if let upper {
            select = try statement(job.inclusive
                ? "SELECT key FROM redis_keys WHERE key >= ?1 AND key < ?2 AND type = 2 ORDER BY key LIMIT ?3"
                : "SELECT key FROM redis_keys WHERE key > ?1 AND key < ?2 AND type = 2 ORDER BY key LIMIT ?3")
            select.bindCopy(2, upper)
        } else {
            select = try statement(job.inclusive
                ? "SELECT key FROM redis_keys WHERE key >= ?1 AND type = 2 ORDER BY key LIMIT ?3"
                : "SELECT key FROM redis_keys WHERE key > ?1 AND type = 2 ORDER BY key LIMIT ?3")
        }
        select.bindCopy(1, job.cursor)
        select.bind(3, Int64(SearchLimits.backfillBatch))
        var keys: [[UInt8]] = []
        do {
            while try select.step() { keys.append(select.bytes(0).array) }
        } catch { select.reset(); throw error }
        select.reset()
        for key in keys { try key.withByteView { try reindexKey($0, now: now) } }
        if keys.count == SearchLimits.backfillBatch, let last = keys.last {
            job.cursor = last
            job.inclusive = false
        } else if job.prefixIndex + 1 < prefixes.count {
            job.prefixIndex += 1
            job.cursor = prefixes[job.prefixIndex]
            job.inclusive = true
        } else {
            backfills.removeFirst()
            return !backfills.isEmpty
        }
        backfills[0] = job
        return true
    }

    /// The smallest byte string above every string with this prefix (nil: none, all 0xFF).
    static func upperBound(of prefix: [UInt8]) -> [UInt8]? {
        var bytes = prefix
        while let last = bytes.last {
            if last < 0xFF { bytes[bytes.count - 1] = last + 1; return bytes }
            bytes.removeLast()
        }
        return nil
    }

    // MARK: Suggestions

    func addSuggestion(_ def: SearchIndexDef, term: String, score: Double, increment: Bool, payload: [UInt8]?) throws -> Bool {
        guard let storage else { return false }
        try storage.willWrite()
        let select = try statement("SELECT score FROM search_suggestions WHERE index_id = ?1 AND term = ?2")
        select.bind(1, def.id)
        bindText(select, 2, term)
        let existing: Double? = try select.step() ? select.double(0) : nil
        select.reset()
        let upsert = try statement("""
            INSERT INTO search_suggestions(index_id, term, score, payload) VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT(index_id, term) DO UPDATE SET score = excluded.score, payload = excluded.payload
            """)
        upsert.bind(1, def.id)
        bindText(upsert, 2, term)
        upsert.bind(3, increment ? (existing ?? 0) + score : score)
        if let payload { upsert.bindCopy(4, payload) } else { bindNull(upsert, 4) }
        try upsert.run()
        return existing == nil
    }

    func suggestions(_ def: SearchIndexDef, prefix: String, max: Int) throws -> [(String, Double, [UInt8]?)] {
        let select = try statement("""
            SELECT term, score, payload FROM search_suggestions
            WHERE index_id = ?1 AND lower(substr(term, 1, length(?2))) = lower(?2)
            ORDER BY score DESC, term LIMIT ?3
            """)
        select.bind(1, def.id)
        bindText(select, 2, prefix)
        select.bind(3, Int64(max))
        defer { select.reset() }
        var result: [(String, Double, [UInt8]?)] = []
        while try select.step() {
            result.append((select.text(0), select.double(1), select.isNull(2) ? nil : select.bytes(2).array))
        }
        return result
    }

    func deleteSuggestion(_ def: SearchIndexDef, term: String) throws -> Bool {
        guard let storage else { return false }
        let select = try statement("SELECT 1 FROM search_suggestions WHERE index_id = ?1 AND term = ?2")
        select.bind(1, def.id)
        bindText(select, 2, term)
        let exists = try select.step()
        select.reset()
        guard exists else { return false }
        try storage.willWrite()
        let delete = try statement("DELETE FROM search_suggestions WHERE index_id = ?1 AND term = ?2")
        delete.bind(1, def.id)
        bindText(delete, 2, term)
        try delete.run()
        return true
    }

    func suggestionCount(_ def: SearchIndexDef) throws -> Int64 {
        let select = try statement("SELECT count(*) FROM search_suggestions WHERE index_id = ?1")
        select.bind(1, def.id)
        defer { select.reset() }
        return try select.step() ? select.int64(0) : 0
    }
}


// MARK: - Query compiler

/// A compiled query: an FTS5 MATCH expression of positive text clauses, one of negated text
/// clauses, and SQL conditions (tags, numeric ranges) with their parameters. Every piece of
/// user text reaches SQLite as a bound parameter or as a validated word inside double quotes.
struct CompiledQuery {
    var positive: [String] = []
    var negative: [String] = []
    var conditions: [String] = []
    var parameters: [SearchParameter] = []
    var matchAll = false
}

enum SearchParameter {
    case text(String)
    case number(Double)
}

struct QueryParser {
    let def: SearchIndexDef
    private var chars: [Character]
    private var position = 0
    static let invalid = CommandError("ERR invalid query")

    init(_ query: String, _ def: SearchIndexDef) {
        self.def = def
        self.chars = Array(query)
    }

    static func isWordCharacter(_ c: Character) -> Bool {
        c == "_" || c.isLetter || c.isNumber
    }

    private var atEnd: Bool { position >= chars.count }
    private var current: Character? { atEnd ? nil : chars[position] }

    private mutating func skipSpaces() {
        while let c = current, c == " " || c == "\t" { position += 1 }
    }

    mutating func parse() throws -> CompiledQuery {
        var result = CompiledQuery()
        for c in chars where c.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            _ = c
            throw Self.invalid
        }
        skipSpaces()
        if current == "*" {
            position += 1
            skipSpaces()
            guard atEnd else { throw Self.invalid }
            result.matchAll = true
            return result
        }
        var clauses = 0
        while true {
            skipSpaces()
            if atEnd { break }
            var negated = false
            if current == "-" {
                if position > 0 && Self.isWordCharacter(chars[position - 1]) { throw Self.invalid }
                negated = true
                position += 1
            }
            var group: [Atom] = [try parseSeparatedAtom()]
            while true {
                skipSpaces()
                guard current == "|" else { break }
                position += 1
                skipSpaces()
                group.append(try parseSeparatedAtom())
            }
            clauses += 1
            if group.allSatisfy({ if case .text = $0 { return true } else { return false } }) {
                let texts = group.map { atom -> String in if case .text(let t) = atom { return t } else { return "" } }
                let expression = texts.count == 1 ? texts[0] : "(" + texts.joined(separator: " OR ") + ")"
                if negated { result.negative.append(expression) } else { result.positive.append(expression) }
            } else {
                guard group.count == 1, case .condition(let sql, let parameters) = group[0] else { throw Self.invalid }
                result.conditions.append(negated ? "NOT coalesce(\(sql), 0)" : sql)
                result.parameters += parameters
            }
        }
        guard clauses > 0 else { throw Self.invalid }
        if result.positive.isEmpty && result.conditions.isEmpty { result.matchAll = true }
        return result
    }

    enum Atom {
        case text(String)
        case condition(String, [SearchParameter])
    }

    /// A word: letters, digits and underscores only (safe inside double quotes).
    private mutating func word() throws -> String {
        var text = ""
        while let c = current, Self.isWordCharacter(c) {
            text.append(c)
            position += 1
        }
        guard !text.isEmpty else { throw Self.invalid }
        return text
    }

    /// term | term* | "phrase words"
    private mutating func textAtom() throws -> String {
        if current == "\"" {
            position += 1
            var words: [String] = []
            while true {
                skipSpaces()
                if current == "\"" { position += 1; break }
                guard !atEnd else { throw Self.invalid }
                words.append(try word())
            }
            guard !words.isEmpty else { throw Self.invalid }
            return "\"" + words.joined(separator: " ") + "\""
        }
        let term = try word()
        if current == "*" {
            position += 1
            return "\"\(term)\"*"
        }
        return "\"\(term)\""
    }

    /// An atom followed by a space, `|` or the end (`a*b`, `"a"b` are rejected).
    private mutating func parseSeparatedAtom() throws -> Atom {
        let atom = try parseAtom()
        if let c = current, c != " " && c != "\t" && c != "|" { throw Self.invalid }
        return atom
    }

    private mutating func parseAtom() throws -> Atom {
        guard let c = current else { throw Self.invalid }
        if c == "@" {
            position += 1
            let name = try word()
            guard current == ":" else { throw Self.invalid }
            position += 1
            guard let field = def.field(named: name) else { throw CommandError("ERR unknown field") }
            switch field.type {
            case .text:
                let text = try textAtom()
                return .text("{\(field.column)} : (\(text))")
            case .tag:
                return try tagCondition(field)
            case .numeric:
                return try rangeCondition(field)
            }
        }
        let text = try textAtom()
        return .text(text)
    }

    /// {a | b c}
    private mutating func tagCondition(_ field: SearchField) throws -> Atom {
        guard current == "{" else { throw Self.invalid }
        position += 1
        var tags: [String] = []
        var buffer = ""
        while true {
            guard let c = current else { throw Self.invalid }
            position += 1
            if c == "}" || c == "|" {
                let tag = buffer.trimmingCharacters(in: .whitespaces).lowercased()
                guard !tag.isEmpty else { throw Self.invalid }
                tags.append(tag)
                buffer = ""
                if c == "}" { break }
            } else if c == "\\" {
                guard let next = current else { throw Self.invalid }
                buffer.append(next)
                position += 1
            } else {
                buffer.append(c)
            }
        }
        let column = "coalesce(d.\(field.tagColumn), '')"
        let sql = "(" + tags.map { _ in "instr(\(column), ?) > 0" }.joined(separator: " OR ") + ")"
        return .condition(sql, tags.map { .text("\u{1F}" + $0 + "\u{1F}") })
    }

    /// [min max] with ( for exclusive bounds, -inf / +inf
    private mutating func rangeCondition(_ field: SearchField) throws -> Atom {
        guard current == "[" else { throw Self.invalid }
        position += 1
        var body = ""
        while let c = current, c != "]" { body.append(c); position += 1 }
        guard current == "]" else { throw Self.invalid }
        position += 1
        let parts = body.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else { throw Self.invalid }
        func bound(_ text: Substring) throws -> (Double, Bool) {
            var text = text
            var exclusive = false
            if text.hasPrefix("(") { exclusive = true; text = text.dropFirst() }
            let lower = text.lowercased()
            if lower == "-inf" { return (-.infinity, exclusive) }
            if lower == "+inf" || lower == "inf" { return (.infinity, exclusive) }
            guard text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }), let value = Double(text), !value.isNaN else {
                throw Self.invalid
            }
            return (value, exclusive)
        }
        let (low, lowExclusive) = try bound(parts[0])
        let (high, highExclusive) = try bound(parts[1])
        let column = "d.\(field.numericColumn)"
        let sql = "(\(column) \(lowExclusive ? ">" : ">=") ? AND \(column) \(highExclusive ? "<" : "<=") ?)"
        return .condition(sql, [.number(low), .number(high)])
    }
}
