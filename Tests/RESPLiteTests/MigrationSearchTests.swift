// migrate-search: RediSearch indexes into a RESPLite database. The source is a RESPLite server
// (real RediSearch cannot be installed here); the RediSearch 2.x FT.INFO shape is built by hand
// after RediSearch's own documentation and `IndexInfoCommand` (src/info/info_command.c): a map
// (flat array in RESP2) with index_name, index_options, index_definition (a map: key_type,
// prefixes, default_score, ...) and attributes (one map per field: identifier, attribute, type,
// WEIGHT / SEPARATOR / vector parameters, then the flags SORTABLE, NOSTEM, NOINDEX ... as bare
// tokens in RESP2, as a `flags` array in RESP3).

import Foundation
import XCTest
@testable import RESPLite

private func b(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The ids FT.SEARCH answers (NOCONTENT), as a set.
private func searchIds(_ client: RESPClient, _ index: String, _ query: String,
                       file: StaticString = #filePath, line: UInt = #line) throws -> Set<String> {
    let reply = try client.run("FT.SEARCH", index, query, "NOCONTENT", "LIMIT", "0", "1000")
    guard let items = reply.elements, let first = items.first, case .integer(let total) = first else {
        XCTFail("FT.SEARCH \(index) \(query): \(reply)", file: file, line: line)
        return []
    }
    let ids = Set(items.dropFirst().compactMap { $0.textValue })
    XCTAssertEqual(Int(total), ids.count, "total of \(query)", file: file, line: line)
    return ids
}

/// FT.INFO as a dictionary of its top-level keys.
private func info(_ client: RESPClient, _ index: String) throws -> [String: RESPValue] {
    let reply = try client.run("FT.INFO", index)
    var table: [String: RESPValue] = [:]
    let items = reply.elements ?? []
    var i = 0
    while i + 1 < items.count {
        if let key = items[i].textValue { table[key] = items[i + 1] }
        i += 2
    }
    return table
}

/// (name, type) of each attribute of a FT.INFO answer.
private func attributes(_ table: [String: RESPValue]) -> [String] {
    (table["attributes"]?.elements ?? []).compactMap { item in
        guard let field = SearchInfoParser.parseField(item) else { return nil }
        return "\(field.identifier) \(field.type)"
    }
}

private func prefixes(_ table: [String: RESPValue]) -> [String] {
    guard let definition = table["index_definition"]?.elements else { return [] }
    var i = 0
    while i + 1 < definition.count {
        if definition[i].textValue == "prefixes" { return (definition[i + 1].elements ?? []).compactMap { $0.textValue } }
        i += 2
    }
    return []
}

final class MigrationSearchTests: XCTestCase {
    var directory = ""

    override func setUp() {
        directory = makeTemporaryDirectory()
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - Reading FT.INFO

    /// A RediSearch 2.x answer in RESP2 (flat arrays, flags as bare tokens).
    private func rediSearch2Info() -> RESPValue {
        .array([
            bulk("index_name"), bulk("products"),
            bulk("index_options"), .array([]),
            bulk("index_definition"), .array([
                bulk("key_type"), bulk("HASH"),
                bulk("prefixes"), .array([simple("product:"), simple("item:")]),
                bulk("default_score"), bulk("1"),
                bulk("indexes_all"), bulk("false"),
            ]),
            bulk("attributes"), .array([
                bulks(["identifier", "title", "attribute", "title", "type", "TEXT", "WEIGHT", "2", "SORTABLE"]),
                bulks(["identifier", "tags", "attribute", "tags", "type", "TAG", "SEPARATOR", ","]),
                bulks(["identifier", "price", "attribute", "price", "type", "NUMERIC", "SORTABLE", "UNF"]),
                bulks(["identifier", "location", "attribute", "location", "type", "GEO"]),
                .array([bulk("identifier"), bulk("embedding"), bulk("attribute"), bulk("embedding"), bulk("type"), bulk("VECTOR"),
                        bulk("algorithm"), bulk("FLAT"), bulk("data_type"), bulk("FLOAT32"), bulk("dim"), .integer(4),
                        bulk("distance_metric"), bulk("COSINE")]),
                bulks(["identifier", "area", "attribute", "area", "type", "GEOSHAPE", "coord_system", "SPHERICAL"]),
                bulks(["identifier", "body", "attribute", "content", "type", "TEXT", "WEIGHT", "1", "NOSTEM"]),
                bulks(["identifier", "sortkey", "attribute", "sortkey", "type", "TEXT", "WEIGHT", "1", "SORTABLE", "NOINDEX"]),
                bulks(["identifier", "first-name", "attribute", "first_name", "type", "TEXT", "WEIGHT", "1"]),
                bulks(["identifier", "type", "attribute", "type", "type", "TEXT", "WEIGHT", "0.5"]),
            ]),
            bulk("num_docs"), bulk("3"),
            bulk("max_doc_id"), bulk("3"),
            bulk("hash_indexing_failures"), bulk("0"),
            bulk("indexing"), bulk("0"),
            bulk("percent_indexed"), bulk("1"),
        ])
    }

    func testParseRediSearch2InfoAndMapping() throws {
        let source = try SearchInfoParser.parse(rediSearch2Info(), name: "products")
        XCTAssertEqual(source.name, "products")
        XCTAssertEqual(source.keyType, "HASH")
        XCTAssertEqual(source.prefixes, [b("product:"), b("item:")])
        XCTAssertEqual(source.fields.map(\.identifier),
                       ["title", "tags", "price", "location", "embedding", "area", "body", "sortkey", "first-name", "type"])
        XCTAssertEqual(source.fields[0], SourceSearchField(identifier: "title", attribute: "title", type: "TEXT", weight: 2, flags: ["SORTABLE"]))
        XCTAssertEqual(source.fields[6].attribute, "content")
        XCTAssertEqual(source.fields[7].flags, ["SORTABLE", "NOINDEX"])
        XCTAssertEqual(source.fields[9], SourceSearchField(identifier: "type", attribute: "type", type: "TEXT", weight: 0.5))

        let plan = SearchInfoParser.plan(source)
        XCTAssertNil(plan.skipReason)
        XCTAssertEqual(plan.prefixes, [b("product:"), b("item:")])
        XCTAssertEqual(plan.fields, [
            MappedSearchField(name: "title", sourceType: "TEXT", weight: 2),
            MappedSearchField(name: "tags", sourceType: "TAG", weight: 1),
            MappedSearchField(name: "price", sourceType: "NUMERIC", weight: 1),
            MappedSearchField(name: "body", sourceType: "TEXT", weight: 1),
            MappedSearchField(name: "type", sourceType: "TEXT", weight: 0.5),
        ])
        XCTAssertEqual(plan.skippedFields, ["location GEO", "embedding VECTOR", "area GEOSHAPE", "sortkey TEXT", "first-name AS first_name TEXT"])
        func warned(_ words: String...) -> Bool {
            plan.warnings.contains { warning in words.allSatisfy { warning.contains($0) } }
        }
        XCTAssertTrue(warned("tags", "TAG mapped to TEXT"))
        XCTAssertTrue(warned("price", "NUMERIC mapped to TEXT"))
        XCTAssertTrue(warned("location", "GEO", "skipped"))
        XCTAssertTrue(warned("embedding", "VECTOR", "skipped"))
        XCTAssertTrue(warned("area", "GEOSHAPE", "skipped"))
        XCTAssertTrue(warned("sortkey", "NOINDEX", "skipped"))
        XCTAssertTrue(warned("first-name", "not a valid RESPLite field name", "skipped"))
        XCTAssertTrue(warned("body AS content", "@body", "@content"))
        XCTAssertEqual(plan.warnings.count, 8, "\(plan.warnings)")
        XCTAssertFalse(warned("title"))
    }

    func testSkippedIndexes() throws {
        // A JSON index: skipped whole, with its reason.
        let json = RESPValue.array([
            bulk("index_name"), bulk("docs"),
            bulk("index_definition"), .array([bulk("key_type"), bulk("JSON"), bulk("prefixes"), bulks(["doc:"])]),
            bulk("attributes"), .array([bulks(["identifier", "$.title", "attribute", "title", "type", "TEXT", "WEIGHT", "1"])]),
        ])
        let jsonPlan = SearchInfoParser.plan(try SearchInfoParser.parse(json, name: "docs"))
        XCTAssertNotNil(jsonPlan.skipReason)
        XCTAssertTrue(jsonPlan.warnings.contains { $0.contains("JSON") && $0.contains("skipped") }, "\(jsonPlan.warnings)")
        XCTAssertEqual(jsonPlan.fields, [])

        // Only GEO and VECTOR fields: nothing left to index.
        let geo = RESPValue.array([
            bulk("index_name"), bulk("places"),
            bulk("index_definition"), .array([bulk("key_type"), bulk("HASH"), bulk("prefixes"), bulks(["place:"])]),
            bulk("attributes"), .array([bulks(["identifier", "where", "attribute", "where", "type", "GEO"]),
                                        bulks(["identifier", "v", "attribute", "v", "type", "VECTOR"])]),
        ])
        let geoPlan = SearchInfoParser.plan(try SearchInfoParser.parse(geo, name: "places"))
        XCTAssertEqual(geoPlan.skipReason, "no field left to index")
        XCTAssertEqual(geoPlan.skippedFields, ["where GEO", "v VECTOR"])
        XCTAssertTrue(geoPlan.warnings.contains { $0.contains("index skipped") })

        // A name FT.CREATE does not accept.
        let badName = RESPValue.array([
            bulk("index_name"), bulk("my index!"),
            bulk("index_definition"), .array([bulk("key_type"), bulk("HASH")]),
            bulk("attributes"), .array([bulks(["identifier", "t", "attribute", "t", "type", "TEXT"])]),
        ])
        let badPlan = SearchInfoParser.plan(try SearchInfoParser.parse(badName, name: "my index!"))
        XCTAssertNotNil(badPlan.skipReason)
        XCTAssertTrue(badPlan.warnings.contains { $0.contains("not a valid RESPLite index name") })

        // An error answer is an error.
        XCTAssertThrowsError(try SearchInfoParser.parse(.error("Unknown index name"), name: "nope"))
    }

    /// RESP3 (maps, a `flags` array, doubles), keys in another case and order; and the
    /// RediSearch 1.x/2.0 shape (`fields` = [name, type, T, ...], no index_definition).
    func testParseRESP3AndLegacyShapes() throws {
        let resp3 = RESPValue.map([
            (simple("ATTRIBUTES"), .array([
                .map([(simple("identifier"), bulk("name")), (simple("attribute"), bulk("name")), (simple("type"), simple("TEXT")),
                      (simple("WEIGHT"), .double(3)), (simple("flags"), .array([simple("SORTABLE")]))]),
                .map([(simple("identifier"), bulk("year")), (simple("attribute"), bulk("year")), (simple("type"), simple("NUMERIC")),
                      (simple("flags"), .array([]))]),
            ])),
            (simple("Index_Definition"), .map([(simple("prefixes"), .array([simple("user:")])), (simple("key_type"), simple("HASH")),
                                               (simple("default_score"), .double(1))])),
            (simple("index_name"), bulk("users")),
        ])
        let parsed = try SearchInfoParser.parse(resp3, name: "users")
        XCTAssertEqual(parsed.prefixes, [b("user:")])
        XCTAssertEqual(parsed.fields, [SourceSearchField(identifier: "name", attribute: "name", type: "TEXT", weight: 3, flags: ["SORTABLE"]),
                                       SourceSearchField(identifier: "year", attribute: "year", type: "NUMERIC")])
        let plan = SearchInfoParser.plan(parsed)
        XCTAssertEqual(plan.fields.map(\.description), ["name", "year NUMERIC→TEXT"])
        XCTAssertEqual(plan.warnings.count, 1, "\(plan.warnings)")

        let legacy = RESPValue.array([
            bulk("fields"), .array([
                bulks(["title", "type", "TEXT", "WEIGHT", "1", "SORTABLE"]),
                bulks(["type", "type", "TAG", "SEPARATOR", ","]),
                bulks(["pos", "type", "GEO"]),
            ]),
            bulk("index_name"), bulk("wikipedia"),
            bulk("num_docs"), bulk("0"),
        ])
        let old = try SearchInfoParser.parse(legacy, name: "wikipedia")
        XCTAssertFalse(old.hasDefinition)
        XCTAssertEqual(old.fields.map { "\($0.identifier) \($0.type)" }, ["title TEXT", "type TAG", "pos GEO"])
        let oldPlan = SearchInfoParser.plan(old)
        XCTAssertEqual(oldPlan.prefixes, [])
        XCTAssertEqual(oldPlan.fields.map(\.name), ["title", "type"])
        XCTAssertEqual(oldPlan.skippedFields, ["pos GEO"])
        XCTAssertTrue(oldPlan.warnings.contains { $0.contains("no index_definition") })

        // RESPLite's own answer (it also lists plain names under `fields`: attributes win).
        let server = try TestServer()
        let client = try server.client()
        XCTAssertEqual(try client.run("FT.CREATE", "own", "ON", "HASH", "PREFIX", "1", "o:", "SCHEMA", "a", "TEXT", "WEIGHT", "2",
                                      "b", "TAG", "c", "NUMERIC"), ok)
        let own = SearchInfoParser.plan(try SearchInfoParser.parse(try client.run("FT.INFO", "own"), name: "own"))
        XCTAssertEqual(own.prefixes, [b("o:")])
        XCTAssertEqual(own.fields, [MappedSearchField(name: "a", sourceType: "TEXT", weight: 2),
                                    MappedSearchField(name: "b", sourceType: "TAG", weight: 1),
                                    MappedSearchField(name: "c", sourceType: "NUMERIC", weight: 1)])
    }

    // MARK: - End to end

    /// A source with two ON HASH indexes, documents, hashes outside the prefixes, a string under
    /// a prefix and a hash with a TTL.
    private func fillSource(_ client: RESPClient) throws {
        XCTAssertEqual(try client.run("FT.CREATE", "products", "ON", "HASH", "PREFIX", "2", "product:", "item:", "SCHEMA",
                                      "title", "TEXT", "WEIGHT", "2", "body", "TEXT", "tags", "TAG", "price", "NUMERIC"), ok)
        XCTAssertEqual(try client.run("FT.CREATE", "notes", "ON", "HASH", "PREFIX", "1", "note:", "SCHEMA", "text", "TEXT"), ok)
        let docs: [(String, String, String, String, String)] = [
            ("product:1", "red laptop", "a fast machine for work", "sale,new", "999"),
            ("product:2", "blue phone", "small and fast", "new", "499"),
            ("product:3", "red phone case", "protects your phone", "sale", "19"),
            ("product:4", "green laptop bag", "carries a laptop", "", "49"),
            ("item:1", "reading lamp", "warm light for reading", "home", "35"),
            ("item:2", "red lamp", "a lamp that is red", "home,sale", "40"),
        ]
        for (key, title, body, tags, price) in docs {
            XCTAssertEqual(try client.run("HSET", key, "title", title, "body", body, "tags", tags, "price", price), int(4))
        }
        for i in 0..<30 {
            try client.run("HSET", "note:\(i)", "text", i % 3 == 0 ? "remember the milk \(i)" : "call someone \(i)", "extra", "x")
        }
        try client.run("HSET", "product:ttl", "title", "red balloon", "body", "it floats away")
        try client.run("PEXPIRE", "product:ttl", "300000")
        // Outside every prefix, or not a hash: not copied.
        try client.run("HSET", "other:1", "title", "red laptop elsewhere")
        try client.run("HSET", "prod:1", "title", "red laptop almost")
        try client.run("SET", "product:string", "red laptop as a string")
        try client.run("RPUSH", "note:list", "remember")
    }

    private let queries = ["red", "laptop", "phone", "red phone", "lamp*", "fast -phone", "@title:laptop", "@body:laptop", "balloon", "*"]

    private func assertSameSearch(_ source: RESPClient, _ destination: RESPClient, file: StaticString = #filePath, line: UInt = #line) throws {
        for query in queries {
            let expected = try searchIds(source, "products", query, file: file, line: line)
            XCTAssertFalse(expected.isEmpty, "source answers \(query)", file: file, line: line)
            XCTAssertEqual(try searchIds(destination, "products", query, file: file, line: line), expected, query, file: file, line: line)
        }
        for query in ["milk", "call", "remember milk", "*"] {
            XCTAssertEqual(try searchIds(destination, "notes", query, file: file, line: line),
                           try searchIds(source, "notes", query, file: file, line: line), query, file: file, line: line)
        }
    }

    func testMigrateThroughTheAPI() throws {
        let sourceServer = try TestServer()
        let source = try sourceServer.client()
        try fillSource(source)
        let path = directory + "/search.db"
        let url = RedisURL(port: sourceServer.port)

        var seen: [String] = []
        let migrator = try SearchMigrator(source: url, destinationPath: path)
        migrator.onResult = { seen.append($0.name) }
        let report = try migrator.run()
        migrator.close()
        XCTAssertEqual(seen, ["notes", "products"])
        XCTAssertFalse(report.failed, report.description)
        let products = try XCTUnwrap(report.results.first { $0.name == "products" })
        XCTAssertEqual(products.outcome, .created)
        XCTAssertEqual(products.hashesCopied, 7, products.description)  // 6 documents + the one with a TTL
        XCTAssertEqual(products.documents, 7)
        XCTAssertEqual(products.mappedFields.map(\.description), ["title", "body", "tags TAG→TEXT", "price NUMERIC→TEXT"])
        XCTAssertEqual(products.warnings.count, 2, products.description)
        XCTAssertTrue(products.line.hasPrefix("index products: created; fields mapped 4"), products.line)
        let notes = try XCTUnwrap(report.results.first { $0.name == "notes" })
        XCTAssertEqual(notes.outcome, .created)
        XCTAssertEqual(notes.hashesCopied, 30)
        XCTAssertEqual(notes.warnings, [])
        XCTAssertEqual(try consistencyProblems(path), [])

        // A second run: nothing to create, the same counts, still no failure.
        let again = try SearchMigrator.migrate(source: url, destinationPath: path)
        XCTAssertFalse(again.failed, again.description)
        XCTAssertEqual(again.results.map(\.outcome), [.existing, .existing])
        XCTAssertEqual(again.results.map(\.documents), [30, 7])

        let server = try TestServer(databasePath: path)
        let destination = try server.client()
        try assertSameSearch(source, destination)

        let table = try info(destination, "products")
        XCTAssertEqual(attributes(table), ["title TEXT", "body TEXT", "tags TEXT", "price TEXT"])
        XCTAssertEqual(prefixes(table), ["product:", "item:"])
        XCTAssertEqual(table["num_docs"], int(7))
        XCTAssertEqual(try destination.run("HGETALL", "product:2"), try source.run("HGETALL", "product:2"))

        // Only hashes under the prefixes came over: 7 + 30.
        XCTAssertEqual(try destination.run("DBSIZE"), int(37))
        for key in ["other:1", "prod:1", "product:string", "note:list"] {
            XCTAssertEqual(try destination.run("EXISTS", key), int(0), key)
        }
        guard case .integer(let sourceTTL) = try source.run("PTTL", "product:ttl"),
              case .integer(let destinationTTL) = try destination.run("PTTL", "product:ttl") else { return XCTFail("PTTL") }
        XCTAssertGreaterThan(destinationTTL, 0)
        XCTAssertLessThan(abs(destinationTTL - sourceTTL), 5000)

        // The destination's index follows writes: a new hash under a prefix is searchable,
        // a changed one is re-indexed, a deleted one leaves.
        XCTAssertEqual(try destination.run("HSET", "item:new", "title", "zebra striped mug", "price", "12"), int(2))
        XCTAssertEqual(try searchIds(destination, "products", "zebra"), ["item:new"])
        XCTAssertEqual(try searchIds(destination, "products", "@price:12"), ["item:new"])  // NUMERIC became TEXT
        try destination.run("HSET", "product:1", "title", "yellow laptop")
        XCTAssertEqual(try searchIds(destination, "products", "red laptop"), [])
        try destination.run("DEL", "product:2")
        XCTAssertEqual(try searchIds(destination, "products", "phone"), ["product:3"])
        XCTAssertEqual(try searchIds(destination, "products", "elsewhere"), [])
    }

    /// The hashes were copied by `bulk` before (no index then): the index must cover them
    /// through FT.CREATE's backfill, run to its end (more than one batch of 500).
    func testIndexCoversHashesCopiedEarlier() throws {
        let sourceServer = try TestServer()
        let source = try sourceServer.client()
        XCTAssertEqual(try source.run("FT.CREATE", "big", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA", "body", "TEXT"), ok)
        var commands: [[[UInt8]]] = []
        for i in 0..<1300 {
            commands.append([b("HSET"), b("doc:\(String(format: "%05d", i))"), b("body"), b(i % 2 == 0 ? "even word\(i)" : "odd word\(i)")])
        }
        commands.append([b("HSET"), b("zzz"), b("body"), b("even outside")])
        for reply in try source.pipeline(commands) { XCTAssertNil(errorText(reply)) }
        let path = directory + "/bulk-first.db"
        let url = RedisURL(port: sourceServer.port)

        let importer = try MigrationImporter(source: url, destinationPath: path)
        XCTAssertEqual(try importer.importAll(), .completed)
        importer.close()

        var options = SearchMigrationOptions()
        options.copyHashes = false
        let report = try SearchMigrator.migrate(source: url, destinationPath: path, options: options)
        XCTAssertFalse(report.failed, report.description)
        XCTAssertEqual(report.results.first?.outcome, .created)
        XCTAssertEqual(report.results.first?.hashesCopied, 0)
        XCTAssertEqual(report.results.first?.documents, 1300)

        let server = try TestServer(databasePath: path)
        let destination = try server.client()
        XCTAssertEqual(try searchIds(destination, "big", "even").count, 650)
        XCTAssertEqual(try searchIds(destination, "big", "word1299"), ["doc:01299"])
        let same = try searchIds(destination, "big", "even") == searchIds(source, "big", "even")
        XCTAssertTrue(same, "destination answers what the source answers")
    }

    /// The built tool: --help, one line per index, a conflicting definition fails (exit 1)
    /// until --replace, --dry-run writes nothing.
    func testCommandLine() throws {
        let tool = try migrationExecutable("resplite-import")
        let (helpStatus, help, _) = try runProgram(tool, ["migrate-search", "--help"], timeoutSeconds: 20)
        XCTAssertEqual(helpStatus, 0)
        for option in ["--from", "--to", "--index", "--replace", "--dry-run", "--pragma-template", "TAG and NUMERIC"] {
            XCTAssertTrue(help.contains(option), "help lacks \(option): \(help)")
        }

        let sourceServer = try TestServer()
        let source = try sourceServer.client()
        try fillSource(source)
        let from = "redis://127.0.0.1:\(sourceServer.port)"
        let path = directory + "/cli.db"

        let (dryStatus, dryOut, dryErr) = try runProgram(tool, ["migrate-search", "--from", from, "--to", path, "--dry-run"], timeoutSeconds: 30)
        XCTAssertEqual(dryStatus, 0, dryOut + dryErr)
        XCTAssertTrue(dryOut.contains("index products: planned"), dryOut)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))

        // The destination already has `products` with another definition.
        do {
            let server = try TestServer(databasePath: path)
            XCTAssertEqual(try server.client().run("FT.CREATE", "products", "ON", "HASH", "PREFIX", "1", "product:", "SCHEMA", "title", "TEXT"), ok)
            server.stop()
        }
        let arguments = ["migrate-search", "--from", from, "--to", path, "--index", "products", "--index", "notes",
                         "--pragma-template", "safety", "--scan-count", "3", "--max-concurrency", "2", "--batch-keys", "5"]
        let (status, out, err) = try runProgram(tool, arguments, timeoutSeconds: 30)
        XCTAssertEqual(status, 1, out + err)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("index products: failed") && $0.contains("--replace") }, out)
        XCTAssertTrue(lines.contains { $0.hasPrefix("index notes: created") && $0.contains("hashes copied 30") }, out)
        XCTAssertTrue(lines.contains { $0.contains("tags TAG→TEXT") } || out.contains("warning: field tags: TAG mapped to TEXT"), out)

        let (replaceStatus, replaceOut, replaceErr) = try runProgram(tool, arguments + ["--replace"], timeoutSeconds: 30)
        XCTAssertEqual(replaceStatus, 0, replaceOut + replaceErr)
        XCTAssertTrue(replaceOut.contains("index products: replaced"), replaceOut)
        XCTAssertTrue(replaceOut.contains("index notes: existing"), replaceOut)
        XCTAssertTrue(replaceOut.contains("warning: field price: NUMERIC mapped to TEXT"), replaceOut)
        XCTAssertTrue(replaceOut.contains("2 indexes: 2 migrated, 0 skipped, 0 failed"), replaceOut)

        // An index the source does not have fails; the others are still done.
        let (missingStatus, missingOut, _) = try runProgram(tool, ["migrate-search", "--from", from, "--to", path, "--index", "nope", "--index", "notes"],
                                                            timeoutSeconds: 30)
        XCTAssertEqual(missingStatus, 1)
        XCTAssertTrue(missingOut.contains("index nope: failed"), missingOut)
        XCTAssertTrue(missingOut.contains("index notes: existing"), missingOut)

        XCTAssertEqual(try consistencyProblems(path), [])
        let server = try TestServer(databasePath: path)
        try assertSameSearch(source, try server.client())
    }
}
