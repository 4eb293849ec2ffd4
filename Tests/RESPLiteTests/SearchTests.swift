// FT.* on SQLite FTS5: the original's surface (REFERENCE.md §8), exact delete/replace (no
// ghost matches, without contentless_delete), query safety, and ON HASH indexes that follow hashes.

import Foundation
import XCTest
@testable import RESPLite

final class SearchTests: XCTestCase {
    private func ids(_ reply: RESPValue) -> [String] {
        guard case .array(let items) = reply else { return [] }
        return items.dropFirst().compactMap { if case .bulk(let b) = $0 { return String(decoding: b, as: UTF8.self) } else { return nil } }
    }

    private func total(_ reply: RESPValue) -> Int64? {
        guard case .array(let items) = reply, case .integer(let n)? = items.first else { return nil }
        return n
    }

    private func search(_ c: RESPClient, _ index: String, _ query: String) throws -> [String] {
        ids(try c.run("FT.SEARCH", index, query, "NOCONTENT", "LIMIT", "0", "1000"))
    }

    func testOriginalSurface() throws {
        let server = try TestServer(backend: .epoll)
        let c = try server.client()
        XCTAssertEqual(try c.run("FT.CREATE", "docs", "SCHEMA", "title", "TEXT", "payload", "TEXT"), ok)
        XCTAssertEqual(try c.run("FT.CREATE", "docs", "SCHEMA", "title", "TEXT", "payload", "TEXT"), err("ERR index already exists"))
        XCTAssertEqual(try c.run("ft.create", "nopayload", "schema", "title", "text"), err("ERR payload field required"))
        XCTAssertEqual(try c.run("FT.CREATE", "9bad", "SCHEMA", "payload", "TEXT"), err("ERR invalid index name"))
        XCTAssertEqual(try c.run("FT.CREATE", "x", "SCHEMA", "payload", "TEXT", "extra"), err("ERR syntax error"))
        XCTAssertEqual(try c.run("FT.CREATE", "x", "SCHEMA", "payload", "GEO"), err("ERR unsupported field type"))
        XCTAssertEqual(try c.run("FT.CREATE", "x", "SCHEMA", "bad-field", "TEXT"), err("ERR syntax error"))

        XCTAssertEqual(try c.run("FT.ADD", "docs", "d1", "1", "FIELDS", "title", "hello world", "payload", "p1"), ok)
        XCTAssertEqual(try c.run("FT.ADD", "docs", "d2", "2", "FIELDS", "title", "hello there"), ok)
        XCTAssertEqual(try c.run("FT.ADD", "docs", "d3", "1", "FIELDS", "title", "goodbye world"), ok)
        XCTAssertEqual(try c.run("FT.ADD", "docs", "d1", "1", "FIELDS", "title", "x"), err("ERR document exists"))
        XCTAssertEqual(try c.run("FT.ADD", "nope", "d1", "1", "FIELDS", "title", "x"), err("Unknown index name"))
        XCTAssertEqual(try c.run("FT.ADD", "docs", "d9", "abc", "FIELDS", "title", "x"), err("ERR invalid score"))
        XCTAssertEqual(try c.run("FT.ADD", "docs", "d9", "1", "FIELDS", "nosuch", "x"), err("ERR unknown field"))
        XCTAssertEqual(try c.run("FT.ADD", "docs", "d9", "1", "BOGUS", "FIELDS", "title", "x"), err("ERR syntax error"))
        XCTAssertEqual(try c.run("FT.ADD", "docs", "d9", "1", "FIELDS", "title"), err("ERR syntax error"))
        XCTAssertEqual(try c.run(bytes: Array("FT.ADD".utf8), Array("docs".utf8), Array("d9".utf8), Array("1".utf8),
                                 Array("FIELDS".utf8), Array("title".utf8), [0xff, 0xfe]), err("ERR invalid field value"))

        XCTAssertEqual(try c.run("FT.GET", "docs", "d1"), bulks(["title", "hello world", "payload", "p1"]))
        XCTAssertEqual(try c.run("FT.GET", "docs", "d2"), bulks(["title", "hello there"]))
        XCTAssertEqual(try c.run("FT.GET", "docs", "missing"), null)
        XCTAssertEqual(try c.run("FT.GET", "nope", "d1"), err("Unknown index name"))

        // Ranking: BM25 combined with the document score (d2 has score 2).
        let hello = try c.run("FT.SEARCH", "docs", "hello", "NOCONTENT")
        XCTAssertEqual(total(hello), 2)
        XCTAssertEqual(ids(hello), ["d2", "d1"])
        XCTAssertEqual(Set(try search(c, "docs", "world")), ["d1", "d3"])
        XCTAssertEqual(try search(c, "docs", "hello world"), ["d1"])
        XCTAssertEqual(Set(try search(c, "docs", "wor*")), ["d1", "d3"])
        XCTAssertEqual(try search(c, "docs", "nothing"), [])
        // With content: [total, id, [f, v...]]
        XCTAssertEqual(try c.run("FT.SEARCH", "docs", "goodbye"),
                       .array([int(1), bulk("d3"), bulks(["title", "goodbye world"])]))
        // LIMIT: total counts every match, the page is bounded.
        let page = try c.run("FT.SEARCH", "docs", "hello | goodbye", "NOCONTENT", "LIMIT", "1", "1")
        XCTAssertEqual(total(page), 3)
        XCTAssertEqual(ids(page).count, 1)
        XCTAssertEqual(try c.run("FT.SEARCH", "docs", "hello", "LIMIT", "0", "0"), .array([int(2)]))
        XCTAssertEqual(try c.run("FT.SEARCH", "docs", "hello", "LIMIT", "0", "1001"), err("ERR invalid limit"))
        XCTAssertEqual(try c.run("FT.SEARCH", "docs", "hello", "LIMIT", "-1", "10"), err("ERR invalid limit"))
        XCTAssertEqual(try c.run("FT.SEARCH", "docs", "hello", "LIMIT", "a", "10"), err("ERR invalid limit"))
        XCTAssertEqual(try c.run("FT.SEARCH", "docs", "hello", "LIMIT", "0"), err("ERR syntax error"))
        XCTAssertEqual(try c.run("FT.SEARCH", "docs", "hello", "BOGUS"), err("ERR syntax error"))
        XCTAssertEqual(try c.run("FT.SEARCH", "nope", "hello"), err("Unknown index name"))

        // Default LIMIT 0 10.
        for i in 0..<15 { try c.run("FT.ADD", "docs", "m\(i)", "1", "FIELDS", "title", "many") }
        let many = try c.run("FT.SEARCH", "docs", "many", "NOCONTENT")
        XCTAssertEqual(total(many), 15)
        XCTAssertEqual(ids(many).count, 10)

        XCTAssertEqual(try c.run("FT.DEL", "docs", "d3"), int(1))
        XCTAssertEqual(try c.run("FT.DEL", "docs", "d3"), int(0))
        XCTAssertEqual(try c.run("FT.DEL", "nope", "d3"), err("Unknown index name"))
        XCTAssertEqual(try search(c, "docs", "goodbye"), [])

        guard case .array(let info) = try c.run("FT.INFO", "docs") else { return XCTFail("FT.INFO") }
        XCTAssertEqual(info[0], bulk("index_name"))
        XCTAssertEqual(info[1], bulk("docs"))
        if let i = info.firstIndex(of: bulk("num_docs")) { XCTAssertEqual(info[i + 1], int(17)) } else { XCTFail("num_docs") }
        if let i = info.firstIndex(of: bulk("fields")) { XCTAssertEqual(info[i + 1], bulks(["title", "payload"])) } else { XCTFail("fields") }
        XCTAssertNotNil(info.firstIndex(of: bulk("created_at")))
        XCTAssertEqual(try c.run("FT.INFO", "nope"), err("Unknown index name"))
        XCTAssertEqual(try c.run("FT._LIST"), bulks(["docs"]))
        XCTAssertEqual(try consistencyProblems(server.databasePath), [])
    }

    /// A replace or delete leaves no stale tokens: the old text no longer matches.
    func testNoGhostMatchesAfterReplaceAndDelete() throws {
        let server = try TestServer(backend: .epoll)
        let c = try server.client()
        try c.run("FT.CREATE", "g", "SCHEMA", "body", "TEXT", "payload", "TEXT")
        try c.run("FT.ADD", "g", "doc", "1", "FIELDS", "body", "alpha bravo", "payload", "charlie")
        XCTAssertEqual(try search(c, "g", "alpha"), ["doc"])
        XCTAssertEqual(try c.run("FT.ADD", "g", "doc", "1", "REPLACE", "FIELDS", "body", "delta echo"), ok)
        XCTAssertEqual(try search(c, "g", "alpha"), [])
        XCTAssertEqual(try search(c, "g", "bravo"), [])
        XCTAssertEqual(try search(c, "g", "charlie"), [])
        XCTAssertEqual(try search(c, "g", "alp*"), [])
        XCTAssertEqual(try search(c, "g", "delta"), ["doc"])
        XCTAssertEqual(try c.run("FT.GET", "g", "doc"), bulks(["body", "delta echo"]))
        // Replace many times, then delete: nothing of any version matches.
        for i in 0..<20 { try c.run("FT.ADD", "g", "doc", "1", "REPLACE", "FIELDS", "body", "version\(i) common") }
        XCTAssertEqual(try search(c, "g", "version3"), [])
        XCTAssertEqual(try search(c, "g", "version19"), ["doc"])
        XCTAssertEqual(total(try c.run("FT.SEARCH", "g", "common", "NOCONTENT")), 1)
        XCTAssertEqual(try c.run("FT.DEL", "g", "doc"), int(1))
        XCTAssertEqual(try search(c, "g", "common"), [])
        XCTAssertEqual(try search(c, "g", "delta"), [])
        XCTAssertEqual(try search(c, "g", "version*"), [])
        // A new document reusing the id starts clean.
        try c.run("FT.ADD", "g", "doc", "1", "FIELDS", "body", "foxtrot")
        XCTAssertEqual(try search(c, "g", "common"), [])
        XCTAssertEqual(try search(c, "g", "foxtrot"), ["doc"])
        // The FTS index agrees with its content table.
        let db = try openDatabase(server.databasePath, readOnly: true)
        defer { db.close() }
        let id = try db.scalar("SELECT id FROM search_indexes WHERE name = 'g'")!
        XCTAssertEqual(try db.scalar("SELECT count(*) FROM search_fts_\(id) WHERE search_fts_\(id) MATCH 'common OR alpha OR delta'"), "0")
    }

    func testQuerySafetyRejections() throws {
        let server = try TestServer(backend: .epoll)
        let c = try server.client()
        try c.run("FT.CREATE", "q", "SCHEMA", "payload", "TEXT")
        try c.run("FT.ADD", "q", "a", "1", "FIELDS", "payload", "safe words here")
        let bad = ["", "   ", "\"unterminated", "a\"b", "'quoted'", "NEAR(a b)", "a AND (b", "col:term", "a^2",
                   "a + b", "a;b", "\\", "x\u{0}y", "a\nb", "(a)", "a b)", "--a", "-", "|a", "a |", "a||b",
                   "\"\"", "@:x", "a*b", "**", "a-b", "{a}", "[1 2]", "a:b", "%", "a,b", "a.b"]
        for query in bad {
            XCTAssertEqual(try c.run("FT.SEARCH", "q", query), err("ERR invalid query"), "query \(query.debugDescription)")
        }
        XCTAssertEqual(try c.run("FT.SEARCH", "q", "@nosuch:x"), err("ERR unknown field"))
        XCTAssertEqual(try c.run("FT.SEARCH", "q"), err("ERR syntax error"))
        XCTAssertEqual(try c.run("FT.ADD", "q", "x", "1", "FIELDS"), err("ERR syntax error"))
        XCTAssertEqual(try c.run("FT.GET", "q"), err("ERR syntax error"))
        XCTAssertEqual(try c.run("FT.INFO", "q", "extra"), err("ERR syntax error"))
        // Tag and range values are bound parameters: SQL in them is only text.
        try c.run("FT.CREATE", "t", "ON", "HASH", "PREFIX", "1", "t:", "SCHEMA", "tag", "TAG", "n", "NUMERIC", "body", "TEXT")
        try c.run("HSET", "t:1", "tag", "a", "n", "1", "body", "text")
        XCTAssertEqual(try search(c, "t", "@tag:{x') OR 1=1 --}"), [])
        XCTAssertEqual(try search(c, "t", "@tag:{a}"), ["t:1"])
        for query in ["@n:[1 x]", "@n:[1]", "@n:[1 2 3]", "@n:1", "@tag:a", "@tag:{}", "@tag:{a", "@n:[1 2", "@body:{a}", "text | @tag:{a}"] {
            XCTAssertEqual(try c.run("FT.SEARCH", "t", query), err("ERR invalid query"), "query \(query.debugDescription)")
        }
        XCTAssertEqual(try c.run(bytes: Array("FT.SEARCH".utf8), Array("q".utf8), [0xc3, 0x28]), err("ERR invalid query"))
        // Words in any script are fine; FTS5 keywords are only words here.
        XCTAssertEqual(try search(c, "q", "safe"), ["a"])
        XCTAssertEqual(try search(c, "q", "NOT"), [])
        XCTAssertEqual(try search(c, "q", "OR"), [])
        XCTAssertEqual(try search(c, "q", "ünïcödé"), [])
    }

    func testQueryOperatorsReturnSortAndAlter() throws {
        let server = try TestServer(backend: .epoll)
        let c = try server.client()
        try c.run("FT.CREATE", "b", "SCHEMA", "title", "TEXT", "WEIGHT", "5", "body", "TEXT", "payload", "TEXT")
        try c.run("FT.ADD", "b", "1", "1", "FIELDS", "title", "red apple", "body", "sweet fruit", "payload", "z")
        try c.run("FT.ADD", "b", "2", "1", "FIELDS", "title", "green apple", "body", "sour fruit", "payload", "a")
        try c.run("FT.ADD", "b", "3", "1", "FIELDS", "title", "red car", "body", "fast apple", "payload", "m")
        XCTAssertEqual(Set(try search(c, "b", "apple -green")), ["1", "3"])
        XCTAssertEqual(Set(try search(c, "b", "red | green")), ["1", "2", "3"])
        XCTAssertEqual(try search(c, "b", "@title:car"), ["3"])
        XCTAssertEqual(Set(try search(c, "b", "@body:apple")), ["3"])
        XCTAssertEqual(try search(c, "b", "\"red apple\""), ["1"])
        XCTAssertEqual(try search(c, "b", "\"apple red\""), [])
        XCTAssertEqual(Set(try search(c, "b", "-red")), ["2"])
        XCTAssertEqual(Set(try search(c, "b", "*")), ["1", "2", "3"])
        // The title weight ranks a title match first.
        XCTAssertEqual(try search(c, "b", "apple").last, "3")
        XCTAssertEqual(ids(try c.run("FT.SEARCH", "b", "apple", "NOCONTENT", "INFIELDS", "1", "body")), ["3"])
        XCTAssertEqual(try c.run("FT.SEARCH", "b", "car", "RETURN", "1", "payload"), .array([int(1), bulk("3"), bulks(["payload", "m"])]))
        XCTAssertEqual(try c.run("FT.SEARCH", "b", "car", "RETURN", "0"), .array([int(1), bulk("3")]))
        XCTAssertEqual(ids(try c.run("FT.SEARCH", "b", "fruit | car", "NOCONTENT", "SORTBY", "payload")), ["2", "3", "1"])
        XCTAssertEqual(ids(try c.run("FT.SEARCH", "b", "fruit | car", "NOCONTENT", "SORTBY", "payload", "DESC")), ["1", "3", "2"])
        XCTAssertEqual(try c.run("FT.SEARCH", "b", "car", "SORTBY", "nosuch"), err("ERR unknown field"))
        XCTAssertEqual(try c.run("FT.SEARCH", "b", "car", "RETURN", "1", "nosuch"), err("ERR unknown field"))
        XCTAssertEqual(try c.run("FT.SEARCH", "b", "car", "DIALECT", "2", "NOCONTENT"), .array([int(1), bulk("3")]))

        XCTAssertEqual(try c.run("FT.ALTER", "b", "SCHEMA", "ADD", "extra", "TEXT"), ok)
        XCTAssertEqual(try c.run("FT.ALTER", "b", "SCHEMA", "ADD", "extra", "TEXT"), err("ERR duplicate field in schema"))
        try c.run("FT.ADD", "b", "4", "1", "FIELDS", "extra", "zebra", "payload", "q")
        XCTAssertEqual(try search(c, "b", "@extra:zebra"), ["4"])
        XCTAssertEqual(Set(try search(c, "b", "apple")), ["1", "2", "3"])
        XCTAssertEqual(try c.run("FT.ADD", "b", "4", "1", "REPLACE", "FIELDS", "extra", "yak", "payload", "q"), ok)
        XCTAssertEqual(try search(c, "b", "zebra"), [])

        XCTAssertEqual(try c.run("FT.DROPINDEX", "b"), ok)
        XCTAssertEqual(try c.run("FT.SEARCH", "b", "apple"), err("Unknown index name"))
        XCTAssertEqual(try c.run("FT._LIST"), .array([]))
        XCTAssertEqual(try c.run("FT.DROPINDEX", "b"), err("Unknown index name"))
        XCTAssertEqual(try c.run("FT.CREATE", "b", "SCHEMA", "payload", "TEXT"), ok)
        XCTAssertEqual(try search(c, "b", "apple"), [])
    }

    func testSuggestions() throws {
        let server = try TestServer(backend: .epoll)
        let c = try server.client()
        try c.run("FT.CREATE", "s", "SCHEMA", "payload", "TEXT")
        XCTAssertEqual(try c.run("FT.SUGADD", "s", "hello", "1"), int(1))
        XCTAssertEqual(try c.run("FT.SUGADD", "s", "help", "3"), int(1))
        XCTAssertEqual(try c.run("FT.SUGADD", "s", "helium", "3", "PAYLOAD", "gas"), int(1))
        XCTAssertEqual(try c.run("FT.SUGADD", "s", "hello", "5", "INCR"), int(0))
        XCTAssertEqual(try c.run("FT.SUGADD", "s", "world", "1"), int(1))
        XCTAssertEqual(try c.run("FT.SUGADD", "s", "x", "bad"), err("ERR invalid score"))
        XCTAssertEqual(try c.run("FT.SUGADD", "s", "x", "1", "BOGUS"), err("ERR syntax error"))
        XCTAssertEqual(try c.run("FT.SUGADD", "nope", "x", "1"), err("Unknown index name"))
        XCTAssertEqual(try c.run("FT.SUGGET", "s", "hel"), bulks(["hello", "helium", "help"]))
        XCTAssertEqual(try c.run("FT.SUGGET", "s", "hel", "MAX", "2"), bulks(["hello", "helium"]))
        XCTAssertEqual(try c.run("FT.SUGGET", "s", "hel", "WITHSCORES", "MAX", "1"), bulks(["hello", "6"]))
        XCTAssertEqual(try c.run("FT.SUGGET", "s", "heli", "WITHPAYLOADS"), bulks(["helium", "gas"]))
        XCTAssertEqual(try c.run("FT.SUGGET", "s", "heli", "WITHSCORES", "WITHPAYLOADS"), bulks(["helium", "3", "gas"]))
        XCTAssertEqual(try c.run("FT.SUGGET", "s", "hel", "FUZZY"), err("ERR not supported yet"))
        XCTAssertEqual(try c.run("FT.SUGGET", "s", "hel", "MAX", "x"), err("ERR syntax error"))
        XCTAssertEqual(try c.run("FT.SUGGET", "s", "zzz"), .array([]))
        XCTAssertEqual(try c.run("FT.SUGDEL", "s", "help"), int(1))
        XCTAssertEqual(try c.run("FT.SUGDEL", "s", "help"), int(0))
        XCTAssertEqual(try c.run("FT.SUGGET", "s", "hel"), bulks(["hello", "helium"]))
        guard case .array(let info) = try c.run("FT.INFO", "s"), let i = info.firstIndex(of: bulk("num_suggestions")) else {
            return XCTFail("FT.INFO")
        }
        XCTAssertEqual(info[i + 1], int(3))
    }

    func testPersistenceAndAtomicity() throws {
        let server = try TestServer(backend: .epoll)
        var c = try server.client()
        try c.run("FT.CREATE", "p", "SCHEMA", "title", "TEXT", "payload", "TEXT")
        try c.run("FT.ADD", "p", "a", "1", "FIELDS", "title", "persistent text")
        try c.run("FT.ADD", "p", "b", "1", "FIELDS", "title", "old words")
        try c.run("FT.ADD", "p", "b", "1", "REPLACE", "FIELDS", "title", "new words")
        try c.run("FT.SUGADD", "p", "persist", "2")
        // A failing FT.ADD inside MULTI changes nothing of the index.
        try c.run("MULTI")
        try c.run("FT.ADD", "p", "c", "1", "FIELDS", "title", "queued")
        try c.run("FT.ADD", "p", "a", "1", "FIELDS", "title", "duplicate")
        guard case .array(let results) = try c.run("EXEC") else { return XCTFail("EXEC") }
        XCTAssertEqual(results, [ok, err("ERR document exists")])
        try server.restart()
        c = try server.client()
        XCTAssertEqual(try search(c, "p", "persistent"), ["a"])
        XCTAssertEqual(try search(c, "p", "queued"), ["c"])
        XCTAssertEqual(try search(c, "p", "old"), [])
        XCTAssertEqual(try search(c, "p", "new"), ["b"])
        XCTAssertEqual(try c.run("FT.SUGGET", "p", "per"), bulks(["persist"]))
        XCTAssertEqual(try c.run("FT._LIST"), bulks(["p"]))
        XCTAssertEqual(try consistencyProblems(server.databasePath), [])
    }

    // MARK: ON HASH

    func testOnHashFollowsHashes() throws {
        let server = try TestServer(backend: .epoll)
        var c = try server.client()
        // Existing hashes are indexed at creation.
        try c.run("HSET", "task:1", "title", "write report", "tags", "work,urgent", "prio", "5")
        try c.run("HSET", "task:2", "title", "buy milk", "tags", "home", "prio", "1")
        try c.run("HSET", "other:1", "title", "write poem")
        try c.run("SET", "task:str", "not a hash")
        XCTAssertEqual(try c.run("FT.CREATE", "tasks", "ON", "HASH", "PREFIX", "1", "task:", "SCHEMA",
                                 "title", "TEXT", "WEIGHT", "2", "tags", "TAG", "SEPARATOR", ",", "prio", "NUMERIC", "SORTABLE"), ok)
        XCTAssertEqual(try search(c, "tasks", "write"), ["task:1"])
        XCTAssertEqual(try search(c, "tasks", "@tags:{urgent}"), ["task:1"])
        XCTAssertEqual(Set(try search(c, "tasks", "@tags:{urgent | home}")), ["task:1", "task:2"])
        XCTAssertEqual(try search(c, "tasks", "-@tags:{urgent}"), ["task:2"])
        XCTAssertEqual(try search(c, "tasks", "@prio:[2 +inf]"), ["task:1"])
        XCTAssertEqual(try search(c, "tasks", "@prio:[(1 5]"), ["task:1"])
        XCTAssertEqual(try search(c, "tasks", "@prio:[1 (5]"), ["task:2"])
        XCTAssertEqual(try search(c, "tasks", "@prio:[-inf (1]"), [])
        XCTAssertEqual(try search(c, "tasks", "write @tags:{work}"), ["task:1"])
        XCTAssertEqual(ids(try c.run("FT.SEARCH", "tasks", "*", "NOCONTENT", "SORTBY", "prio", "DESC")), ["task:1", "task:2"])
        // Results carry the hash's fields, schema or not (RETURN may name any of them).
        try c.run("HSET", "task:2", "owner", "ann")
        XCTAssertEqual(try c.run("FT.SEARCH", "tasks", "milk"),
                       .array([int(1), bulk("task:2"), bulks(["owner", "ann", "prio", "1", "tags", "home", "title", "buy milk"])]))
        XCTAssertEqual(try c.run("FT.SEARCH", "tasks", "milk", "RETURN", "2", "title", "owner"),
                       .array([int(1), bulk("task:2"), bulks(["title", "buy milk", "owner", "ann"])]))

        // HSET changes the document: the old text no longer matches.
        try c.run("HSET", "task:1", "title", "read book")
        XCTAssertEqual(try search(c, "tasks", "write"), [])
        XCTAssertEqual(try search(c, "tasks", "read"), ["task:1"])
        // HDEL of a field clears it.
        try c.run("HDEL", "task:1", "tags")
        XCTAssertEqual(try search(c, "tasks", "@tags:{urgent}"), [])
        // New hashes are indexed; other prefixes and types are not.
        try c.run("HSET", "task:3", "title", "read news", "prio", "3")
        try c.run("HSET", "other:2", "title", "read more")
        XCTAssertEqual(Set(try search(c, "tasks", "read")), ["task:1", "task:3"])
        // DEL removes it.
        try c.run("DEL", "task:3")
        XCTAssertEqual(try search(c, "tasks", "read"), ["task:1"])
        // RENAME out of and into the prefix.
        try c.run("RENAME", "task:1", "other:9")
        XCTAssertEqual(try search(c, "tasks", "read"), [])
        try c.run("RENAME", "other:9", "task:9")
        XCTAssertEqual(try search(c, "tasks", "read"), ["task:9"])
        // A hash replaced by a string leaves the index.
        try c.run("SET", "task:2", "string now")
        XCTAssertEqual(try search(c, "tasks", "milk"), [])
        // EXPIRE: hidden at once, and removed by the sweeper.
        try c.run("HSET", "task:4", "title", "ephemeral note")
        XCTAssertEqual(try search(c, "tasks", "ephemeral"), ["task:4"])
        try c.run("PEXPIRE", "task:4", "30")
        usleep(60_000)
        XCTAssertEqual(try search(c, "tasks", "ephemeral"), [])
        XCTAssertEqual(try c.run("FT.GET", "tasks", "task:9"), bulks(["title", "read book", "prio", "5"]))
        // MULTI/EXEC.
        try c.run("MULTI")
        try c.run("HSET", "task:5", "title", "in transaction")
        try c.run("HSET", "task:9", "title", "changed")
        try c.run("EXEC")
        XCTAssertEqual(try search(c, "tasks", "transaction"), ["task:5"])
        XCTAssertEqual(try search(c, "tasks", "read"), [])

        guard case .array(let info) = try c.run("FT.INFO", "tasks"),
              let d = info.firstIndex(of: bulk("index_definition")), let a = info.firstIndex(of: bulk("attributes")) else {
            return XCTFail("FT.INFO")
        }
        XCTAssertEqual(info[d + 1], .array([bulk("key_type"), bulk("HASH"), bulk("prefixes"), bulks(["task:"]), bulk("default_score"), bulk("1")]))
        guard case .array(let attributes) = info[a + 1] else { return XCTFail("attributes") }
        XCTAssertEqual(attributes.count, 3)
        XCTAssertEqual(attributes[1], bulks(["identifier", "tags", "attribute", "tags", "type", "TAG", "SEPARATOR", ","]))

        // Across a restart the index keeps following the hashes.
        try server.restart()
        c = try server.client()
        XCTAssertEqual(try search(c, "tasks", "changed"), ["task:9"])
        try c.run("HSET", "task:9", "title", "after restart")
        XCTAssertEqual(try search(c, "tasks", "changed"), [])
        XCTAssertEqual(try search(c, "tasks", "restart"), ["task:9"])
        XCTAssertEqual(try search(c, "tasks", "ephemeral"), [])

        // FLUSHALL drops every index, as RediSearch does: ON HASH or not, with its suggestions,
        // and for good (after a restart too); a new index of the same name starts empty.
        XCTAssertEqual(try c.run("FT.CREATE", "plain", "SCHEMA", "payload", "TEXT"), ok)
        XCTAssertEqual(try c.run("FT.ADD", "plain", "doc1", "1", "FIELDS", "payload", "kept words"), ok)
        XCTAssertEqual(try c.run("FT.SUGADD", "plain", "kept", "1"), int(1))
        try c.run("FLUSHALL")
        XCTAssertEqual(try c.run("FT._LIST"), .array([]))
        XCTAssertEqual(try c.run("FT.SEARCH", "tasks", "again"), err("Unknown index name"))
        XCTAssertEqual(try c.run("FT.INFO", "plain"), err("Unknown index name"))
        try server.restart()
        c = try server.client()
        XCTAssertEqual(try c.run("FT._LIST"), .array([]))
        XCTAssertEqual(try c.run("FT.CREATE", "plain", "SCHEMA", "payload", "TEXT"), ok)
        XCTAssertEqual(try c.run("FT.SEARCH", "plain", "kept", "NOCONTENT"), .array([int(0)]))
        XCTAssertEqual(try c.run("FT.SUGGET", "plain", "ke"), .array([]))
        XCTAssertEqual(try c.run("FT.CREATE", "tasks", "ON", "HASH", "PREFIX", "1", "task:", "SCHEMA", "title", "TEXT"), ok)
        XCTAssertEqual(try search(c, "tasks", "*"), [])
        // DROPINDEX DD deletes the hashes.
        try c.run("HSET", "task:10", "title", "again")
        XCTAssertEqual(try search(c, "tasks", "again"), ["task:10"])
        XCTAssertEqual(try c.run("FT.DROPINDEX", "tasks", "DD"), ok)
        XCTAssertEqual(try c.run("EXISTS", "task:10"), int(0))
        try c.run("HSET", "task:11", "title", "no index")
        XCTAssertEqual(try consistencyProblems(server.databasePath), [])
    }

    func testOnHashOtherWritersAndResp3Info() throws {
        let server = try TestServer(backend: .epoll)
        let c = try server.client()
        try c.run("FT.CREATE", "plain", "SCHEMA", "payload", "TEXT")
        try c.run("FT.CREATE", "h", "ON", "HASH", "PREFIX", "2", "a:", "b:", "SCHEMA", "n", "NUMERIC", "t", "TEXT")
        try c.run("HSET", "a:1", "n", "1", "t", "copy me")
        try c.run("HINCRBY", "a:1", "n", "10")
        XCTAssertEqual(try search(c, "h", "@n:[11 11]"), ["a:1"])
        try c.run("COPY", "a:1", "b:1")
        XCTAssertEqual(Set(try search(c, "h", "copy")), ["a:1", "b:1"])
        try c.run("HSET", "c:1", "t", "copy elsewhere")
        XCTAssertEqual(Set(try search(c, "h", "copy")), ["a:1", "b:1"])
        // Writes to hashes never touch an index that does not follow hashes.
        try c.run("HSET", "payload", "payload", "copy")
        XCTAssertEqual(try search(c, "plain", "copy"), [])
        // FT.DROPINDEX without DD keeps the hashes.
        XCTAssertEqual(try c.run("FT.DROPINDEX", "h"), ok)
        XCTAssertEqual(try c.run("EXISTS", "a:1", "b:1"), int(2))
        try c.run("HSET", "a:1", "t", "after drop")
        // DD deletes the hashes, and other indexes over them forget them.
        try c.run("FT.CREATE", "x1", "PREFIX", "1", "d:", "SCHEMA", "t", "TEXT")
        try c.run("FT.CREATE", "x2", "PREFIX", "1", "d:", "SCHEMA", "t", "TEXT")
        try c.run("HSET", "d:1", "t", "shared doc")
        XCTAssertEqual(try search(c, "x2", "shared"), ["d:1"])
        XCTAssertEqual(try c.run("FT.DROPINDEX", "x1", "DD"), ok)
        XCTAssertEqual(try c.run("EXISTS", "d:1"), int(0))
        XCTAssertEqual(try search(c, "x2", "shared"), [])
        try c.run("HSET", "d:2", "t", "another")
        XCTAssertEqual(try c.run("FT.DEL", "x2", "d:2", "DD"), int(1))
        XCTAssertEqual(try c.run("EXISTS", "d:2"), int(0))
        // RESP3: FT.INFO is a map.
        try c.run("HELLO", "3")
        try c.run("FT.CREATE", "h3", "PREFIX", "1", "a:", "SCHEMA", "t", "TEXT")
        guard case .map(let pairs) = try c.run("FT.INFO", "h3") else { return XCTFail("FT.INFO map") }
        XCTAssertEqual(pairs.first?.0, bulk("index_name"))
        XCTAssertEqual(pairs.first(where: { $0.0 == bulk("num_docs") })?.1, int(1))
        XCTAssertEqual(try consistencyProblems(server.databasePath), [])
    }

    func testOnHashSweeperRemovesExpiredDocuments() throws {
        let server = try TestServer(backend: .epoll) { $0.sweepIntervalMs = 20 }
        let c = try server.client()
        try c.run("FT.CREATE", "e", "ON", "HASH", "PREFIX", "1", "e:", "SCHEMA", "t", "TEXT")
        try c.run("HSET", "e:1", "t", "short lived")
        try c.run("PEXPIRE", "e:1", "20")
        let deadline = Date(timeIntervalSinceNow: 10)
        var count: RESPValue = .null
        while Date() < deadline {
            usleep(30_000)
            guard case .array(let info) = try c.run("FT.INFO", "e"), let i = info.firstIndex(of: bulk("num_docs")) else { break }
            count = info[i + 1]
            if count == int(0) { break }
        }
        XCTAssertEqual(count, int(0))
    }

    func testOnHashCreateIndexesManyExistingHashesInBatches() throws {
        let server = try TestServer(backend: .epoll)
        let c = try server.client()
        for i in 0..<1200 { try c.run("HSET", "bulk:\(i)", "body", i % 2 == 0 ? "even item" : "odd item") }
        try c.run("HSET", "bulk;x", "body", "even outside")  // ';' sorts right after ':'
        XCTAssertEqual(try c.run("FT.CREATE", "bulk", "PREFIX", "1", "bulk:", "SCHEMA", "body", "TEXT"), ok)
        // FT.CREATE indexed the first batch; the rest follows one batch per loop turn, and
        // writes made meanwhile are indexed by the write path.
        XCTAssertGreaterThanOrEqual(total(try c.run("FT.SEARCH", "bulk", "item", "NOCONTENT")) ?? 0, 500)
        XCTAssertEqual(try c.run("HSET", "bulk:1199", "body", "changed item"), int(0))
        let deadline = Date(timeIntervalSinceNow: 5)
        while Date() < deadline, (total(try c.run("FT.SEARCH", "bulk", "item", "NOCONTENT")) ?? 0) < 1200 { usleep(10_000) }
        XCTAssertEqual(total(try c.run("FT.SEARCH", "bulk", "item", "NOCONTENT")), 1200)
        XCTAssertEqual(total(try c.run("FT.SEARCH", "bulk", "even", "NOCONTENT")), 600)
        XCTAssertEqual(total(try c.run("FT.SEARCH", "bulk", "odd", "NOCONTENT")), 599)
        XCTAssertEqual(total(try c.run("FT.SEARCH", "bulk", "changed", "NOCONTENT")), 1)
    }
}
