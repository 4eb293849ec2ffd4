// Full-text search (FT.*) on SQLite FTS5: table entries and handlers. Storage, the query
// compiler and ON HASH indexing are in SearchIndex.swift.

import Foundation

let searchCommands: [Command] = [
    Command("ft.create", arity: -2, flags: [.write, .denyOOM], group: "search", handler: SearchCommands.create),
    Command("ft.info", arity: -2, flags: [.readonly], group: "search", handler: SearchCommands.info),
    Command("ft.add", arity: -2, flags: [.write, .denyOOM], group: "search", handler: SearchCommands.add),
    Command("ft.del", arity: -2, flags: [.write], group: "search", handler: SearchCommands.del),
    Command("ft.get", arity: -2, flags: [.readonly], group: "search", handler: SearchCommands.get),
    Command("ft.search", arity: -2, flags: [.readonly], group: "search", handler: SearchCommands.search),
    Command("ft.sugadd", arity: -2, flags: [.write, .denyOOM], group: "search", handler: SearchCommands.sugadd),
    Command("ft.sugget", arity: -2, flags: [.readonly], group: "search", handler: SearchCommands.sugget),
    Command("ft.sugdel", arity: -2, flags: [.write], group: "search", handler: SearchCommands.sugdel),
    Command("ft.dropindex", arity: -2, flags: [.write], group: "search", handler: SearchCommands.dropindex),
    Command("ft._list", arity: 1, flags: [.readonly], group: "search", handler: SearchCommands.list),
    Command("ft.alter", arity: -2, flags: [.write, .denyOOM], group: "search", handler: SearchCommands.alter),
]

extension Engine {
    /// Called by `keysModified` after every write command that wrote: ON HASH indexes follow
    /// the keys it touched (re-read from their current hash), in the same transaction.
    func searchKeysModified(_ command: Command, _ args: [ByteView]) {
        let state = storage.search
        if state.loaded && !state.hasOnHash { return }
        do {
            try state.refresh()
            // FLUSHDB/FLUSHALL (keyspace-wide) dropped every index themselves.
            if state.hasOnHash && !command.flags.contains(.keyspaceWide) {
                let now = currentTimeMillis()
                for position in CommandIntrospection.keyPositions(command, args) {
                    try state.reindexKey(args[position], now: now)
                }
            }
            storage.endCommand(failed: false)
        } catch {
            storage.endCommand(failed: true)
            logger.warning("search index update failed: \(error)")
        }
    }

    /// Called by the sweeper after it deleted an expired key (inside its transaction).
    func searchKeyDeleted(_ key: ByteView) throws {
        try storage.searchKeyChanged(key)
    }
}

extension Storage {
    /// Keeps ON HASH indexes exact after `key` was written or deleted outside the command
    /// path (the sweeper; writers such as the migration importer): re-reads the key in this
    /// transaction. Cheap when no ON HASH index exists.
    func searchKeyChanged(_ key: ByteView, now: Int64 = currentTimeMillis()) throws {
        let state = self.search
        if state.loaded && !state.hasOnHash { return }
        try state.refresh()
        if state.hasOnHash { try state.reindexKey(key, now: now) }
    }
}

enum SearchCommands {
    static let invalidIndexName = CommandError("ERR invalid index name")
    static let invalidFieldValue = CommandError("ERR invalid field value")

    static func state(_ c: CommandCall) -> SearchState {
        c.engine.storage.search
    }

    /// Argument counts are checked here, not by the table, so that a short command answers
    /// `ERR syntax error` as the original does.
    static func requireArguments(_ c: CommandCall, atLeast minimum: Int, atMost maximum: Int = .max) throws {
        guard c.argumentCount >= minimum && c.argumentCount <= maximum else { throw CommandError.syntax }
    }

    /// Valid UTF-8 text of an argument, or the given error.
    static func text(_ view: ByteView, _ error: CommandError = CommandError.syntax) throws -> String {
        guard let text = String(bytes: view.array, encoding: .utf8) else { throw error }
        return text
    }

    static func indexName(_ view: ByteView) throws -> String {
        let name = try text(view, invalidIndexName)
        guard matchesName(name, extra: ":-", max: 64) else { throw invalidIndexName }
        return name
    }

    static func isFieldName(_ name: String) -> Bool { matchesName(name, extra: "", max: 64) }

    private static func matchesName(_ name: String, extra: String, max: Int) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard let first = scalars.first, scalars.count <= max, first.isASCII, first.properties.isAlphabetic else { return false }
        return scalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || extra.unicodeScalars.contains($0)) }
    }

    static func index(_ c: CommandCall, _ argument: Int) throws -> SearchIndexDef {
        try state(c).index(try indexName(c.args[argument]))
    }

    static func parseScore(_ view: ByteView) throws -> Double {
        guard let score = Double(view.string.trimmingCharacters(in: .whitespaces)), score.isFinite else {
            throw CommandError("ERR invalid score")
        }
        return score
    }

    // MARK: FT.CREATE

    /// FT.CREATE idx [ON HASH] [PREFIX n p...] SCHEMA field TYPE [options] ...
    static func create(_ c: CommandCall) throws {
        try requireArguments(c, atLeast: 5)
        let name = try indexName(c.args[1])
        var i = 2
        var onHash = false
        var prefixes: [[UInt8]] = []
        while i < c.argumentCount && !c.args[i].equalsLower("schema") {
            if c.args[i].equalsLower("on") {
                guard i + 1 < c.argumentCount, c.args[i + 1].equalsLower("hash") else { throw CommandError.syntax }
                onHash = true
                i += 2
            } else if c.args[i].equalsLower("prefix") {
                guard i + 1 < c.argumentCount, let n = c.args[i + 1].parseInt64(), n >= 0, i + 2 + Int(n) <= c.argumentCount else {
                    throw CommandError.syntax
                }
                for k in 0..<Int(n) { prefixes.append(c.args[i + 2 + k].array) }
                onHash = true
                i += 2 + Int(n)
            } else {
                throw CommandError.syntax
            }
        }
        guard i < c.argumentCount, c.args[i].equalsLower("schema") else { throw CommandError.syntax }
        i += 1
        let fields = try parseFields(c, from: i, startPosition: 0, existing: [])
        guard !fields.isEmpty else { throw CommandError.syntax }
        if !onHash && !fields.contains(where: { $0.name == "payload" && $0.type == .text }) {
            throw CommandError("ERR payload field required")
        }
        let state = state(c)
        let now = currentTimeMillis()
        let def = try state.create(name: name, onHash: onHash, prefixes: prefixes, fields: fields, now: now)
        if onHash {
            try state.refresh()
            try state.backfill(def, now: now)
        }
        c.reply.ok()
    }

    /// field TYPE [WEIGHT w] [SEPARATOR c] [SORTABLE] [NOSTEM] ... to the end of the arguments.
    static func parseFields(_ c: CommandCall, from start: Int, startPosition: Int, existing: [SearchField]) throws -> [SearchField] {
        var fields: [SearchField] = []
        var i = start
        while i < c.argumentCount {
            guard i + 1 < c.argumentCount else { throw CommandError.syntax }
            let name = try text(c.args[i])
            guard isFieldName(name) else { throw CommandError.syntax }
            guard !fields.contains(where: { $0.name == name }) && !existing.contains(where: { $0.name == name }) else {
                throw CommandError("ERR duplicate field in schema")
            }
            let typeArgument = c.args[i + 1]
            let type: SearchFieldType
            if typeArgument.equalsLower("text") { type = .text }
            else if typeArgument.equalsLower("tag") { type = .tag }
            else if typeArgument.equalsLower("numeric") { type = .numeric }
            else { throw CommandError("ERR unsupported field type") }
            var field = SearchField(name: name, type: type, position: startPosition + fields.count)
            i += 2
            while i < c.argumentCount {
                let option = c.args[i]
                if option.equalsLower("weight") && type == .text {
                    guard i + 1 < c.argumentCount, let weight = Double(c.args[i + 1].string), weight.isFinite, weight >= 0 else {
                        throw CommandError.syntax
                    }
                    field.weight = weight
                    i += 2
                } else if option.equalsLower("separator") && type == .tag {
                    guard i + 1 < c.argumentCount, c.args[i + 1].count == 1, c.args[i + 1][0] < 0x80 else { throw CommandError.syntax }
                    field.separator = c.args[i + 1].string
                    i += 2
                } else if option.equalsLower("sortable") || option.equalsLower("nostem") || option.equalsLower("unf")
                            || (option.equalsLower("casesensitive") && type == .tag) {
                    i += 1
                } else {
                    break
                }
            }
            fields.append(field)
        }
        return fields
    }

    // MARK: FT.INFO, FT._LIST

    static func info(_ c: CommandCall) throws {
        try requireArguments(c, atLeast: 2, atMost: 2)
        let state = state(c)
        let def = try index(c, 1)
        let reply = c.reply
        reply.mapHeader(11)
        reply.bulk("index_name")
        reply.bulk(def.name)
        reply.bulk("index_options")
        reply.arrayHeader(0)
        reply.bulk("index_definition")
        reply.arrayHeader(6)
        reply.bulk("key_type")
        reply.bulk("HASH")
        reply.bulk("prefixes")
        let prefixes = def.onHash && def.prefixes.isEmpty ? [[UInt8]()] : def.prefixes
        reply.arrayHeader(prefixes.count)
        for prefix in prefixes { reply.bulk(prefix) }
        reply.bulk("default_score")
        reply.bulk("1")
        reply.bulk("attributes")
        reply.arrayHeader(def.fields.count)
        for field in def.fields {
            reply.arrayHeader(8)
            reply.bulk("identifier")
            reply.bulk(field.name)
            reply.bulk("attribute")
            reply.bulk(field.name)
            reply.bulk("type")
            reply.bulk(field.type.rawValue)
            switch field.type {
            case .text:
                reply.bulk("WEIGHT")
                reply.bulk(formatDouble(field.weight))
            case .tag:
                reply.bulk("SEPARATOR")
                reply.bulk(field.separator)
            case .numeric:
                reply.bulk("SORTABLE")
                reply.bulk("false")
            }
        }
        reply.bulk("fields")
        reply.arrayHeader(def.fields.count)
        for field in def.fields { reply.bulk(field.name) }
        reply.bulk("num_docs")
        reply.integer(try state.count(def))
        reply.bulk("num_suggestions")
        reply.integer(try state.suggestionCount(def))
        reply.bulk("created_at")
        reply.integer(def.createdAt)
        reply.bulk("updated_at")
        reply.integer(def.updatedAt)
        reply.bulk("indexing")
        reply.integer(0)
        reply.bulk("percent_indexed")
        reply.bulk("1")
    }

    static func list(_ c: CommandCall) throws {
        let state = state(c)
        try state.refresh()
        let names = state.indexes.keys.sorted()
        c.reply.arrayHeader(names.count)
        for name in names { c.reply.bulk(name) }
    }

    // MARK: Documents

    /// FT.ADD idx docId score [REPLACE] FIELDS f v [f v ...]
    static func add(_ c: CommandCall) throws {
        try requireArguments(c, atLeast: 6)
        let name = try indexName(c.args[1])
        let docId = c.args[2]
        guard docId.count >= 1 && docId.count <= 256, (try? text(docId)) != nil else { throw CommandError.syntax }
        let score = try parseScore(c.args[3])
        var i = 4
        var replace = false
        while i < c.argumentCount && !c.args[i].equalsLower("fields") {
            guard c.args[i].equalsLower("replace") else { throw CommandError.syntax }
            replace = true
            i += 1
        }
        guard i < c.argumentCount else { throw CommandError.syntax }
        i += 1
        guard i < c.argumentCount, (c.argumentCount - i) % 2 == 0 else { throw CommandError.syntax }
        let state = state(c)
        let def = try state.index(name)
        var values: [String: [UInt8]] = [:]
        while i < c.argumentCount {
            let field = try text(c.args[i])
            guard isFieldName(field) else { throw CommandError.syntax }
            guard def.field(named: field) != nil else { throw CommandError("ERR unknown field") }
            guard (try? text(c.args[i + 1])) != nil else { throw invalidFieldValue }
            values[field] = c.args[i + 1].array
            i += 2
        }
        if try state.documentExists(def, docId), !replace { throw CommandError("ERR document exists") }
        try state.writeDocument(def, docId: docId.array, score: score, values: values, now: currentTimeMillis())
        c.reply.ok()
    }

    /// FT.DEL idx docId [DD]
    static func del(_ c: CommandCall) throws {
        try requireArguments(c, atLeast: 3, atMost: 4)
        guard c.argumentCount == 3 || (c.argumentCount == 4 && c.args[3].equalsLower("dd")) else { throw CommandError.syntax }
        let state = state(c)
        let def = try index(c, 1)
        let deleted = try state.deleteDocument(def, c.args[2])
        if deleted && c.argumentCount == 4 && def.onHash {
            try c.engine.storage.deleteKey(c.args[2])
            try c.engine.storage.searchKeyChanged(c.args[2])
        }
        c.reply.integer(deleted ? 1 : 0)
    }

    /// FT.GET idx docId → [f, v, ...] in schema order (set fields only), or null.
    static func get(_ c: CommandCall) throws {
        try requireArguments(c, atLeast: 3, atMost: 3)
        let state = state(c)
        let def = try index(c, 1)
        guard let fields = try state.document(def, c.args[2]) else {
            c.reply.null()
            return
        }
        let set = fields.filter { $0.1 != nil }
        c.reply.arrayHeader(set.count * 2)
        for (name, value) in set {
            c.reply.bulk(name)
            if let value, !value.isEmpty { c.reply.bulk(value) } else { c.reply.null() }
        }
    }

    // MARK: FT.SEARCH

    /// FT.SEARCH idx query [NOCONTENT] [LIMIT offset count] [RETURN n f...] [SORTBY f [ASC|DESC]]
    /// [INFIELDS n f...] [DIALECT n]
    static func search(_ c: CommandCall) throws {
        try requireArguments(c, atLeast: 3)
        let name = try indexName(c.args[1])
        guard let query = String(bytes: c.args[2].array, encoding: .utf8) else { throw QueryParser.invalid }
        var noContent = false
        var offset = 0
        var count = SearchLimits.defaultCount
        var returnFields: [String]?
        var sortBy: (String, Bool)?
        var inFields: [String]?
        var i = 3
        while i < c.argumentCount {
            let option = c.args[i]
            if option.equalsLower("nocontent") {
                noContent = true
                i += 1
            } else if option.equalsLower("limit") {
                guard i + 2 < c.argumentCount else { throw CommandError.syntax }
                guard let o = c.args[i + 1].parseInt64(), let n = c.args[i + 2].parseInt64(), o >= 0, n >= 0,
                      n <= SearchLimits.maxResults, o <= Int64(Int32.max) else {
                    throw CommandError("ERR invalid limit")
                }
                offset = Int(o)
                count = Int(n)
                i += 3
            } else if option.equalsLower("return") || option.equalsLower("infields") {
                guard i + 1 < c.argumentCount, let n = c.args[i + 1].parseInt64(), n >= 0, i + 2 + Int(n) <= c.argumentCount else {
                    throw CommandError.syntax
                }
                let names = try (0..<Int(n)).map { try text(c.args[i + 2 + $0]) }
                if option.equalsLower("return") { returnFields = names } else { inFields = names }
                i += 2 + Int(n)
            } else if option.equalsLower("sortby") {
                guard i + 1 < c.argumentCount else { throw CommandError.syntax }
                var ascending = true
                let field = try text(c.args[i + 1])
                i += 2
                if i < c.argumentCount && c.args[i].equalsLower("asc") { i += 1 }
                else if i < c.argumentCount && c.args[i].equalsLower("desc") { ascending = false; i += 1 }
                sortBy = (field, ascending)
            } else if option.equalsLower("dialect") {
                guard i + 1 < c.argumentCount, c.args[i + 1].parseInt64() != nil else { throw CommandError.syntax }
                i += 2
            } else {
                throw CommandError.syntax
            }
        }
        let state = state(c)
        let def = try state.index(name)
        // RETURN on an ON HASH index may name any hash field, as in RediSearch.
        for field in (def.onHash ? [] : returnFields ?? []) + (inFields ?? []) where def.field(named: field) == nil {
            throw CommandError("ERR unknown field")
        }
        var sortField: SearchField?
        if let sortBy {
            guard let field = def.field(named: sortBy.0) else { throw CommandError("ERR unknown field") }
            sortField = field
        }
        var parser = QueryParser(query, def)
        var compiled = try parser.parse()
        let hasText = !compiled.positive.isEmpty || !compiled.negative.isEmpty
        if hasText && def.textFields.isEmpty { throw QueryParser.invalid }
        if let inFields {
            let columns = inFields.compactMap { def.field(named: $0) }.filter { $0.type == .text }.map(\.column)
            guard !columns.isEmpty else { throw CommandError("ERR unknown field") }
            let scope = "{" + columns.joined(separator: " ") + "} : "
            compiled.positive = compiled.positive.map { scope + "(" + $0 + ")" }
            compiled.negative = compiled.negative.map { scope + "(" + $0 + ")" }
        }

        // The SQL: only table names (from the catalog id), column names (c<i>) and the fixed
        // shape are spliced; every user value is a bound parameter.
        var from: String
        var conditions: [String] = []
        var parameters: [SearchParameter] = []
        let positive = compiled.positive.joined(separator: " AND ")
        if !positive.isEmpty {
            from = "\(def.fts) JOIN \(def.docs) d ON d.id = \(def.fts).rowid"
            conditions.append("\(def.fts) MATCH ?")
            parameters.append(.text(positive))
        } else {
            from = "\(def.docs) d"
        }
        if !compiled.negative.isEmpty {
            conditions.append("d.id NOT IN (SELECT rowid FROM \(def.fts) WHERE \(def.fts) MATCH ?)")
            parameters.append(.text(compiled.negative.joined(separator: " OR ")))
        }
        conditions += compiled.conditions
        parameters += compiled.parameters
        if def.onHash {
            conditions.append("NOT EXISTS (SELECT 1 FROM redis_keys k WHERE k.key = d.doc_id AND k.expires_at <= ?)")
            parameters.append(.number(Double(currentTimeMillis())))
        }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        var order: String
        if let sortField, let sortBy {
            let column = sortField.type == .numeric ? "d.\(sortField.numericColumn)" : "d.\(sortField.column)"
            order = "\(column) \(sortBy.1 ? "ASC" : "DESC"), d.id"
        } else if !positive.isEmpty {
            let weights = def.textFields.map { formatDouble($0.weight) }.joined(separator: ", ")
            order = "bm25(\(def.fts), \(weights)) * d.score, d.id"
        } else {
            order = "d.score DESC, d.id"
        }

        let total = try state.transient("SELECT count(*) FROM \(from)\(whereClause)")
        defer { total.finalize() }
        bind(state, total, parameters)
        let totalCount = try total.step() ? total.int64(0) : 0
        total.reset()

        let shown: [SearchField]
        if let returnFields { shown = returnFields.compactMap { def.field(named: $0) } } else { shown = def.fields }
        let withContent = !noContent && !(returnFields?.isEmpty ?? false)
        // ON HASH documents answer with the hash's fields (all of them, or those of RETURN).
        let fromHash = withContent && def.onHash
        let columns = withContent && !fromHash ? shown.map { ", d.\($0.column)" }.joined() : ""
        let page = try state.transient("SELECT d.doc_id\(columns) FROM \(from)\(whereClause) ORDER BY \(order) LIMIT ? OFFSET ?")
        defer { page.finalize() }
        bind(state, page, parameters)
        page.bind(Int32(parameters.count + 1), Int64(count))
        page.bind(Int32(parameters.count + 2), Int64(offset))
        var rows: [([UInt8], [([UInt8], [UInt8])])] = []
        while try page.step() {
            var values: [([UInt8], [UInt8])] = []
            if withContent && !fromHash {
                for (k, field) in shown.enumerated() where !page.isNull(Int32(k + 1)) {
                    values.append((Array(field.name.utf8), Array(page.text(Int32(k + 1)).utf8)))
                }
            }
            rows.append((page.bytes(0).array, values))
        }
        page.reset()
        if fromHash {
            let now = currentTimeMillis()
            for index in rows.indices {
                let fields = try rows[index].0.withByteView { try state.hashFields($0, now: now) }
                if let returnFields {
                    rows[index].1 = returnFields.compactMap { name in fields.first { $0.0 == Array(name.utf8) } }
                } else {
                    rows[index].1 = fields
                }
            }
        }
        let reply = c.reply
        reply.arrayHeader(1 + rows.count * (withContent ? 2 : 1))
        reply.integer(totalCount)
        for (id, values) in rows {
            reply.bulk(id)
            if withContent {
                reply.arrayHeader(values.count * 2)
                for (name, value) in values {
                    reply.bulk(name)
                    reply.bulk(value)
                }
            }
        }
    }

    private static func bind(_ state: SearchState, _ statement: Statement, _ parameters: [SearchParameter]) {
        for (k, parameter) in parameters.enumerated() {
            switch parameter {
            case .text(let text): state.bindText(statement, Int32(k + 1), text)
            case .number(let number): statement.bind(Int32(k + 1), number)
            }
        }
    }

    // MARK: FT.DROPINDEX, FT.ALTER

    /// FT.DROPINDEX idx [DD]: DD also deletes the documents' hashes (ON HASH indexes).
    static func dropindex(_ c: CommandCall) throws {
        try requireArguments(c, atLeast: 2, atMost: 3)
        guard c.argumentCount == 2 || (c.argumentCount == 3 && c.args[2].equalsLower("dd")) else { throw CommandError.syntax }
        let state = state(c)
        let def = try index(c, 1)
        if c.argumentCount == 3 && def.onHash {
            let select = try state.statement("SELECT doc_id FROM \(def.docs)")
            var keys: [[UInt8]] = []
            defer { select.reset() }
            while try select.step() { keys.append(select.bytes(0).array) }
            select.reset()
            try state.drop(def)
            // Deleted keys leave any other ON HASH index that covered them.
            for key in keys {
                try key.withByteView {
                    _ = try c.engine.storage.deleteKey($0)
                    try c.engine.storage.searchKeyChanged($0)
                }
            }
        } else {
            try state.drop(def)
        }
        c.reply.ok()
    }

    /// FT.ALTER idx SCHEMA ADD field TYPE [options] ...
    static func alter(_ c: CommandCall) throws {
        try requireArguments(c, atLeast: 6)
        guard c.args[2].equalsLower("schema"), c.args[3].equalsLower("add") else { throw CommandError.syntax }
        let state = state(c)
        let def = try index(c, 1)
        let next = (def.fields.map(\.position).max() ?? -1) + 1
        let fields = try parseFields(c, from: 4, startPosition: next, existing: def.fields)
        guard !fields.isEmpty else { throw CommandError.syntax }
        try state.addFields(def, fields, now: currentTimeMillis())
        c.reply.ok()
    }

    // MARK: Suggestions

    /// FT.SUGADD idx term score [INCR] [PAYLOAD p] → 1 new, 0 updated.
    static func sugadd(_ c: CommandCall) throws {
        try requireArguments(c, atLeast: 4)
        let name = try indexName(c.args[1])
        let term = try text(c.args[2])
        guard term.utf8.count >= 1 && term.utf8.count <= 256 else { throw CommandError.syntax }
        let score = try parseScore(c.args[3])
        var increment = false
        var payload: [UInt8]?
        var i = 4
        while i < c.argumentCount {
            if c.args[i].equalsLower("incr") {
                increment = true
                i += 1
            } else if c.args[i].equalsLower("payload") {
                guard i + 1 < c.argumentCount else { throw CommandError.syntax }
                _ = try text(c.args[i + 1])
                payload = c.args[i + 1].array
                i += 2
            } else {
                throw CommandError.syntax
            }
        }
        let state = state(c)
        let def = try state.index(name)
        let added = try state.addSuggestion(def, term: term, score: score, increment: increment, payload: payload)
        c.reply.integer(added ? 1 : 0)
    }

    /// FT.SUGGET idx prefix [MAX n] [WITHSCORES] [WITHPAYLOADS] (FUZZY: not supported).
    static func sugget(_ c: CommandCall) throws {
        try requireArguments(c, atLeast: 3)
        let name = try indexName(c.args[1])
        let prefix = try text(c.args[2])
        var max = 5
        var withScores = false
        var withPayloads = false
        var i = 3
        while i < c.argumentCount {
            let option = c.args[i]
            if option.equalsLower("fuzzy") {
                throw CommandError("ERR not supported yet")
            } else if option.equalsLower("max") {
                guard i + 1 < c.argumentCount, let n = c.args[i + 1].parseInt64(), n >= 0 else { throw CommandError.syntax }
                max = Int(Swift.min(n, Int64(SearchLimits.maxResults)))
                i += 2
            } else if option.equalsLower("withscores") {
                withScores = true
                i += 1
            } else if option.equalsLower("withpayloads") {
                withPayloads = true
                i += 1
            } else {
                throw CommandError.syntax
            }
        }
        let state = state(c)
        let def = try state.index(name)
        let found = try state.suggestions(def, prefix: prefix, max: max)
        let per = 1 + (withScores ? 1 : 0) + (withPayloads ? 1 : 0)
        c.reply.arrayHeader(found.count * per)
        for (term, score, payload) in found {
            c.reply.bulk(term)
            if withScores { c.reply.bulk(formatDouble(score)) }
            if withPayloads {
                if let payload { c.reply.bulk(payload) } else { c.reply.null() }
            }
        }
    }

    /// FT.SUGDEL idx term → 1/0.
    static func sugdel(_ c: CommandCall) throws {
        try requireArguments(c, atLeast: 3, atMost: 3)
        let name = try indexName(c.args[1])
        let term = try text(c.args[2])
        let state = state(c)
        let def = try state.index(name)
        c.reply.integer(try state.deleteSuggestion(def, term: term) ? 1 : 0)
    }
}
