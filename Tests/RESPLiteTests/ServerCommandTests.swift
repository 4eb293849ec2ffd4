// Connection and server commands, AUTH, RESP3 shapes, command policy and hooks.

import Foundation
import Logging
import XCTest
@testable import RESPLite

final class ServerCommandTests: XCTestCase {
    // MARK: HELLO and RESP3

    /// Cached statements are prepared once: commands whose statements bind a LIMIT, a count or
    /// an offset that changes from call to call (LRANGE, LREM, LPOP/RPOP with a count, LPOS,
    /// ZRANGE BYSCORE LIMIT, ZRANGE by rank, SCAN COUNT, SRANDMEMBER, HRANDFIELD, ZPOPMIN)
    /// leave SQLite's re-prepare counter at zero. (SQLite 3.54 plans with a bound LIMIT's value
    /// unless built with SQLITE_ENABLE_QPSG, and then parses and plans the statement again
    /// each time the value changes.)
    func testBoundValuesNeverReprepareCachedStatements() throws {
        let server = try TestServer()
        let client = try server.client()
        for index in 0..<60 {
            _ = try client.run("RPUSH", "l:\(index % 3)", "v\(index % 7)")
            _ = try client.run("ZADD", "z", "\(index)", "m\(index)")
            _ = try client.run("SADD", "s", "m\(index)")
            _ = try client.run("HSET", "h", "f\(index)", "v")
            _ = try client.run("SET", "k\(index)", "v")
        }
        for round in 0..<12 {
            let list = "l:\(round % 3)"
            _ = try client.run("LRANGE", list, "\(round)", "\(round + 3 + round % 5)")
            _ = try client.run("LRANGE", list, "-\(round + 2)", "-1")
            _ = try client.run("LREM", list, "\(round % 3 - 1)", "v\(round % 7)")
            _ = try client.run("LPOS", list, "v\(round % 7)", "COUNT", "\(round % 4)")
            _ = try client.run(round % 2 == 0 ? "LPOP" : "RPOP", list, "\(1 + round % 3)")
            _ = try client.run("ZRANGE", "z", "\(round)", "\(round * 2 + 1)")
            _ = try client.run("ZRANGE", "z", "0", "100", "BYSCORE", "LIMIT", "\(round)", "\(1 + round % 4)")
            _ = try client.run("ZPOPMIN", "z", "\(1 + round % 3)")
            _ = try client.run("SCAN", "0", "COUNT", "\(5 + round)")
            _ = try client.run("SRANDMEMBER", "s", "\(round % 5 + 1)")
            _ = try client.run("HRANDFIELD", "h", "\(round % 5 + 1)")
        }
        let reprepares = infoFields(try client.run("SQLITE.INFO"))["statement_reprepares"]
        XCTAssertEqual(reprepares, "0")
    }

    func testHelloNegotiatesProtocolAndShapes() throws {
        try forEachBackend { server in
            let c = try server.client()
            // RESP2: HELLO answers a flat array of 14.
            guard case .array(let flat) = try c.run("HELLO") else { return XCTFail("HELLO in RESP2 is an array") }
            XCTAssertEqual(flat.count, 14)
            XCTAssertEqual(flat[0], bulk("server"))
            XCTAssertEqual(flat[5], int(2), "proto")
            XCTAssertEqual(try c.run("HELLO", "4"), err("NOPROTO unsupported protocol version"))
            XCTAssertEqual(try c.run("HELLO", "x"), err("ERR Protocol version is not an integer or out of range"))
            XCTAssertEqual(try c.run("HELLO", "3", "FOO"), err("ERR Syntax error in HELLO option 'FOO'"))
            XCTAssertEqual(try c.run("GET", "missing"), null)

            guard case .map(let pairs) = try c.run("HELLO", "3", "SETNAME", "conn-a") else { return XCTFail("HELLO 3 is a map") }
            let hello = Dictionary(uniqueKeysWithValues: pairs.map { ($0.0.string ?? "", $0.1) })
            XCTAssertEqual(hello["proto"], int(3))
            XCTAssertEqual(hello["role"], bulk("master"))
            XCTAssertEqual(hello["mode"], bulk("standalone"))
            XCTAssertEqual(hello["id"], try c.run("CLIENT", "ID"))
            XCTAssertEqual(try c.run("CLIENT", "GETNAME"), bulk("conn-a"))
            // RESP3 shapes: maps for CONFIG GET, verbatim text for INFO, null for a missing key.
            guard case .map(let config) = try c.run("CONFIG", "GET", "maxclients") else { return XCTFail("CONFIG GET is a map in RESP3") }
            XCTAssertEqual(config.first?.0, bulk("maxclients"))
            guard case .verbatim(let info) = try c.run("INFO", "server") else { return XCTFail("INFO is verbatim text in RESP3") }
            XCTAssertTrue(info.contains("redis_version:"))
            XCTAssertEqual(try c.run("GET", "missing"), null)
            // Back to RESP2.
            guard case .array = try c.run("HELLO", "2") else { return XCTFail("HELLO 2 is an array again") }
            guard case .array = try c.run("CONFIG", "GET", "maxclients") else { return XCTFail("CONFIG GET is an array in RESP2") }
        }
    }

    /// RESP3 null is `_`, not `$-1`: read the raw bytes.
    func testResp3NullIsUnderscoreOnTheWire() throws {
        let server = try TestServer()
        let socket = try RawConnection(port: server.port)
        socket.send("HELLO 3\r\n")
        _ = socket.read(untilContains: "modules")
        socket.send("GET nothing\r\n")
        XCTAssertEqual(socket.read(untilContains: "\r\n"), "_\r\n")
        socket.send("HELLO 2\r\n")
        _ = socket.read(untilContains: "modules")
        socket.send("GET nothing\r\n")
        XCTAssertEqual(socket.read(untilContains: "\r\n"), "$-1\r\n")
    }

    // MARK: AUTH

    func testRequirePassBlocksUntilAuth() throws {
        try forEachBackend(configure: { $0.requirePassword = "s3cret" }) { server in
            let c = try server.client()
            XCTAssertEqual(try c.run("GET", "k"), err("NOAUTH Authentication required."))
            XCTAssertEqual(try c.run("PING"), err("NOAUTH Authentication required."))
            XCTAssertEqual(try c.run("HELLO", "3"), err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"))
            XCTAssertEqual(try c.run("AUTH", "wrong"), err("WRONGPASS invalid username-password pair or user is disabled."))
            XCTAssertEqual(try c.run("AUTH", "alice", "s3cret"), err("WRONGPASS invalid username-password pair or user is disabled."))
            XCTAssertEqual(try c.run("AUTH", "a", "b", "c"), err("ERR syntax error"))
            XCTAssertEqual(try c.run("AUTH", "s3cret"), ok)
            XCTAssertEqual(try c.run("SET", "k", "v"), ok)
            // RESET forgets the authentication.
            XCTAssertEqual(try c.run("RESET"), simple("RESET"))
            XCTAssertEqual(try c.run("GET", "k"), err("NOAUTH Authentication required."))
            XCTAssertEqual(try c.run("AUTH", "default", "s3cret"), ok)
            XCTAssertEqual(try c.run("GET", "k"), bulk("v"))

            let second = try server.client()
            guard case .array = try second.run("HELLO", "2", "AUTH", "default", "s3cret") else { return XCTFail("HELLO AUTH") }
            XCTAssertEqual(try second.run("GET", "k"), bulk("v"))
            let third = try server.client()
            XCTAssertEqual(try third.run("HELLO", "3", "AUTH", "default", "nope"), err("WRONGPASS invalid username-password pair or user is disabled."))
            XCTAssertEqual(try third.run("QUIT"), ok, "QUIT works before AUTH")
            XCTAssertTrue(third.waitForClose())
        }
    }

    func testAuthWithoutPasswordConfiguredAndConfigSet() throws {
        let server = try TestServer()
        let c = try server.client()
        XCTAssertEqual(try c.run("AUTH", "x"), err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"))
        XCTAssertEqual(try c.run("AUTH", "default", "anything"), ok)
        XCTAssertEqual(try c.run("CONFIG", "SET", "requirepass", "later"), ok)
        XCTAssertEqual(try c.run("CONFIG", "GET", "requirepass"), bulks(["requirepass", "later"]))
        let fresh = try server.client()
        XCTAssertEqual(try fresh.run("GET", "k"), err("NOAUTH Authentication required."))
        XCTAssertEqual(try fresh.run("AUTH", "later"), ok)
        XCTAssertEqual(try fresh.run("CONFIG", "SET", "requirepass", ""), ok)
        XCTAssertEqual(try server.client().run("PING"), simple("PONG"))
    }

    func testConstantTimeComparison() {
        func check(_ given: String, _ expected: String) -> Bool {
            Array(given.utf8).withByteView { ConnectionCommands.constantTimeEquals($0, Array(expected.utf8)) }
        }
        XCTAssertTrue(check("s3cret", "s3cret"))
        XCTAssertFalse(check("s3creT", "s3cret"))
        XCTAssertFalse(check("s3cre", "s3cret"))
        XCTAssertFalse(check("s3crets3cret", "s3cret"), "a repeated password is not the password")
        XCTAssertFalse(check("", "s3cret"))
    }

    // MARK: CLIENT, SELECT, RESET

    func testClientCommands() throws {
        try forEachBackend { server in
            let a = try server.client(), b = try server.client()
            let idA = try a.run("CLIENT", "ID").integer ?? -1
            let idB = try b.run("CLIENT", "ID").integer ?? -1
            XCTAssertNotEqual(idA, idB)
            XCTAssertEqual(try a.run("CLIENT", "GETNAME"), null)
            XCTAssertEqual(try a.run("CLIENT", "SETNAME", "alpha"), ok)
            XCTAssertEqual(try a.run("CLIENT", "SETNAME", "has space"), err("ERR Client names cannot contain spaces, newlines or special characters."))
            XCTAssertEqual(try a.run("CLIENT", "GETNAME"), bulk("alpha"))
            XCTAssertEqual(try a.run("CLIENT", "SETINFO", "LIB-NAME", "redis-py"), ok)
            XCTAssertEqual(try a.run("CLIENT", "SETINFO", "LIB-VER", "5.0.0"), ok)
            XCTAssertEqual(try a.run("CLIENT", "SETINFO", "BOGUS", "1"), err("ERR Unrecognized option 'BOGUS'"))
            XCTAssertEqual(try a.run("CLIENT", "NO-EVICT", "on"), ok)
            XCTAssertEqual(try a.run("CLIENT", "NO-TOUCH", "maybe"), err("ERR syntax error"))
            XCTAssertEqual(try a.run("CLIENT", "SETNAME"), err("ERR wrong number of arguments for 'client|setname' command"))
            XCTAssertEqual(try a.run("CLIENT", "FOO"), err("ERR unknown subcommand 'FOO'. Try CLIENT HELP."))
            let list = try a.run("CLIENT", "LIST").string ?? ""
            XCTAssertTrue(list.contains("id=\(idA) ") && list.contains("name=alpha") && list.contains("lib-name=redis-py"), list)
            XCTAssertTrue(list.contains("id=\(idB) "), list)
            XCTAssertEqual(list.split(separator: "\n").count, 2)
            let only = try a.run("CLIENT", "LIST", "ID", String(idB)).string ?? ""
            XCTAssertEqual(only.split(separator: "\n").count, 1)
            XCTAssertTrue((try a.run("CLIENT", "INFO").string ?? "").hasPrefix("id=\(idA) "))
            XCTAssertEqual(try a.run("SELECT", "0"), ok)
            XCTAssertEqual(try a.run("SELECT", "1"), err("ERR DB index is out of range"))
            // KILL by id closes the other connection.
            XCTAssertEqual(try a.run("CLIENT", "KILL", "ID", String(idB)), int(1))
            XCTAssertTrue(b.waitForClose())
            XCTAssertEqual(try a.run("CLIENT", "KILL", "ID", String(idA)), int(0), "SKIPME yes by default")
            XCTAssertEqual(try a.run("CLIENT", "KILL", "127.0.0.1:1"), err("ERR No such client"))
            XCTAssertEqual(try a.run("PING"), simple("PONG"))
        }
    }

    func testClientReplyOffAndSkip() throws {
        try forEachBackend { server in
            let c = try server.client()
            c.enqueue([Array("CLIENT".utf8), Array("REPLY".utf8), Array("OFF".utf8)])
            c.enqueue([Array("SET".utf8), Array("quiet".utf8), Array("1".utf8)])
            c.enqueue([Array("CLIENT".utf8), Array("REPLY".utf8), Array("ON".utf8)])
            try c.flush()
            XCTAssertEqual(try c.readReply(), ok, "only CLIENT REPLY ON answers")
            XCTAssertEqual(try c.run("GET", "quiet"), bulk("1"))
            c.enqueue([Array("CLIENT".utf8), Array("REPLY".utf8), Array("SKIP".utf8)])
            c.enqueue([Array("INCR".utf8), Array("n".utf8)])
            c.enqueue([Array("INCR".utf8), Array("n".utf8)])
            try c.flush()
            XCTAssertEqual(try c.readReply(), int(2), "SKIP drops its own reply and the next one")
        }
    }

    // MARK: INFO, CONFIG, COMMAND, TIME, SAVE

    func testInfoSections() throws {
        let server = try TestServer()
        let c = try server.client()
        XCTAssertEqual(try c.run("SET", "a", "1"), ok)
        XCTAssertEqual(try c.run("SET", "b", "2", "EX", "100"), ok)
        let info = try c.run("INFO").string ?? ""
        for header in ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication", "# CPU", "# Keyspace", "# Resplite"] {
            XCTAssertTrue(info.contains(header + "\r\n"), "missing \(header)")
        }
        for field in ["redis_version:", "used_memory:", "used_memory_peak:", "used_memory_human:", "role:master",
                      "connected_clients:1", "db0:keys=2,expires=1,avg_ttl=0", "sqlite_version:", "network_backend:",
                      "total_commands_processed:", "tcp_port:\(server.port)"] {
            XCTAssertTrue(info.contains(field), "missing \(field)")
        }
        let keyspace = try c.run("INFO", "keyspace").string ?? ""
        XCTAssertEqual(keyspace, "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n")
        XCTAssertEqual(try c.run("INFO", "nosuchsection"), bulk(""))
        let both = try c.run("INFO", "server", "clients").string ?? ""
        XCTAssertTrue(both.contains("# Server") && both.contains("# Clients") && !both.contains("# Memory"))
    }

    func testConfigGetSet() throws {
        let server = try TestServer()
        let c = try server.client()
        guard case .array(let all) = try c.run("CONFIG", "GET", "*") else { return XCTFail() }
        let names = stride(from: 0, to: all.count, by: 2).compactMap { all[$0].string }
        for name in ["maxclients", "save", "appendonly", "maxmemory", "databases", "port", "requirepass"] {
            XCTAssertTrue(names.contains(name), "CONFIG GET * lacks \(name)")
        }
        XCTAssertEqual(try c.run("CONFIG", "GET", "databases"), bulks(["databases", "1"]))
        XCTAssertEqual(try c.run("CONFIG", "GET", "port"), bulks(["port", String(server.port)]))
        XCTAssertEqual(try c.run("CONFIG", "SET", "maxclients", "5"), ok)
        XCTAssertEqual(try c.run("CONFIG", "GET", "maxclients"), bulks(["maxclients", "5"]))
        XCTAssertEqual(try c.run("CONFIG", "SET", "maxclients", "abc"),
                       err("ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"))
        XCTAssertEqual(try c.run("CONFIG", "SET", "port", "1"),
                       err("ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"))
        XCTAssertEqual(try c.run("CONFIG", "SET", "nosuch", "1"), err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"))
        XCTAssertEqual(try c.run("CONFIG", "SET", "save", ""), ok)
        XCTAssertEqual(try c.run("CONFIG", "SET", "appendonly", "no", "maxmemory", "0"), ok)
        XCTAssertEqual(try c.run("CONFIG", "RESETSTAT"), ok)
        XCTAssertEqual(try c.run("CONFIG", "REWRITE"), err("ERR The server is running without a config file"))
        // maxclients is enforced for new connections.
        var extra: [RESPClient] = []
        for _ in 0..<4 { extra.append(try server.client()) }
        for client in extra { XCTAssertEqual(try client.run("PING"), simple("PONG")) }
        let refused = try server.client()
        XCTAssertEqual(try refused.readReply(), err("ERR max number of clients reached"))
    }

    func testCommandIntrospection() throws {
        let server = try TestServer()
        let c = try server.client()
        let count = try c.run("COMMAND", "COUNT").integer ?? 0
        XCTAssertGreaterThan(count, 60)
        XCTAssertEqual(Int64(try c.run("COMMAND", "LIST").array?.count ?? 0), count)
        XCTAssertEqual(Int64(try c.run("COMMAND").array?.count ?? 0), count)
        guard case .array(let info) = try c.run("COMMAND", "INFO", "get", "nosuch") else { return XCTFail() }
        XCTAssertEqual(info[1], null)
        guard case .array(let get) = info[0] else { return XCTFail() }
        XCTAssertEqual(get.count, 10)
        XCTAssertEqual(get[0], bulk("get"))
        XCTAssertEqual(get[1], int(2))
        XCTAssertTrue(get[2].array?.contains(simple("readonly")) ?? false)
        XCTAssertEqual(Array(get[3...5]), [int(1), int(1), int(1)])
        XCTAssertEqual(try c.run("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"), bulks(["a", "b"]))
        XCTAssertEqual(try c.run("COMMAND", "GETKEYS", "PING"), err("ERR The command has no key arguments"))
        XCTAssertEqual(try c.run("COMMAND", "LIST", "FILTERBY", "PATTERN", "exp*"), bulks(["expire", "expireat", "expiretime"]))
        guard case .array(let docs) = try c.run("COMMAND", "DOCS", "set") else { return XCTFail() }
        XCTAssertEqual(docs.first, bulk("set"))
    }

    func testTimeSaveAndAdmin() throws {
        let server = try TestServer()
        let c = try server.client()
        guard case .array(let time) = try c.run("TIME"), time.count == 2,
              let seconds = Int64(time[0].string ?? ""), let micros = Int64(time[1].string ?? "") else { return XCTFail() }
        XCTAssertLessThan(abs(seconds - Int64(Date().timeIntervalSince1970)), 5)
        XCTAssertTrue((0..<1_000_000).contains(micros))
        let before = try c.run("LASTSAVE").integer ?? 0
        XCTAssertEqual(try c.run("SAVE"), ok)
        XCTAssertEqual(try c.run("BGSAVE"), simple("Background saving started"))
        XCTAssertGreaterThanOrEqual(try c.run("LASTSAVE").integer ?? 0, before)
        XCTAssertEqual(try c.run("SWAPDB", "0", "1"), err("ERR DB index is out of range"))
        XCTAssertEqual(try c.run("SET", "k", "hello"), ok)
        XCTAssertEqual(try c.run("MOVE", "k", "1"), err("ERR DB index is out of range"))
        XCTAssertTrue((try c.run("SQLITE.INFO").string ?? "").contains("sqlite_version:3."))
        XCTAssertTrue((try c.run("SQLITE.INFO").string ?? "").contains("keys_string:1"))
        XCTAssertTrue((try c.run("CACHE.INFO").string ?? "").contains("enabled:1"))
        let memoryInfo = try c.run("MEMORY.INFO").string ?? ""
        XCTAssertTrue(memoryInfo.contains("rss_bytes:"))
        // SQLite's own memory (page cache, schema, statements of the connection) is counted.
        let sqliteBytes = memoryInfo.split(separator: "\r\n").first { $0.hasPrefix("sqlite_memory_used:") }
            .flatMap { Int($0.dropFirst("sqlite_memory_used:".count)) } ?? 0
        XCTAssertGreaterThan(sqliteBytes, 4096, memoryInfo)
        let usage = try c.run("MEMORY", "USAGE", "k").integer ?? 0
        XCTAssertGreaterThan(usage, 6)
        XCTAssertEqual(try c.run("MEMORY", "USAGE", "missing"), null)
        XCTAssertNotNil(try c.run("MEMORY", "STATS").array)
        XCTAssertEqual(try c.run("OBJECT", "ENCODING", "k"), bulk("embstr"))
    }

    func testSlowlogAndMonitor() throws {
        try forEachBackend { server in
            let c = try server.client()
            XCTAssertEqual(try c.run("CONFIG", "SET", "slowlog-log-slower-than", "0"), ok)
            XCTAssertEqual(try c.run("SET", "slow", "v"), ok)
            XCTAssertGreaterThan(try c.run("SLOWLOG", "LEN").integer ?? 0, 0)
            guard case .array(let entries) = try c.run("SLOWLOG", "GET", "1"), case .array(let entry) = entries.first else { return XCTFail() }
            XCTAssertEqual(entry.count, 6)
            XCTAssertEqual(entry[3], bulks(["SLOWLOG", "LEN"]), "the newest entry first")
            XCTAssertEqual(try c.run("SLOWLOG", "RESET"), ok)
            XCTAssertEqual(try c.run("CONFIG", "SET", "slowlog-log-slower-than", "-1"), ok)
            XCTAssertEqual(try c.run("SLOWLOG", "LEN"), int(1), "only the CONFIG SET after the reset")

            let monitor = try server.client()
            XCTAssertEqual(try monitor.run("MONITOR"), ok)
            XCTAssertEqual(try c.run("SET", "watched", "a b"), ok)
            guard case .simple(let line) = try monitor.readReply() else { return XCTFail("MONITOR line") }
            XCTAssertTrue(line.hasSuffix("\"SET\" \"watched\" \"a b\""), line)
            XCTAssertTrue(line.contains(" [0 127.0.0.1:"), line)
            XCTAssertEqual(try c.run("AUTH", "x").string, nil)  // an error, and never shown to monitors
            XCTAssertEqual(try c.run("PING"), simple("PONG"))
            guard case .simple(let next) = try monitor.readReply() else { return XCTFail() }
            XCTAssertTrue(next.hasSuffix("\"PING\""), next)
        }
    }

    func testShutdownStopsTheServer() throws {
        let server = try TestServer()
        let c = try server.client()
        XCTAssertEqual(try c.run("SET", "kept", "1"), ok)
        XCTAssertEqual(try c.run("SHUTDOWN", "ABORT"), err("ERR No shutdown in progress."))
        c.enqueue([Array("SHUTDOWN".utf8), Array("NOSAVE".utf8)])
        try c.flush()
        XCTAssertTrue(c.waitForClose())
        let port = server.port
        XCTAssertThrowsError(try RESPClient(port: port, timeoutMs: 500).run("PING"))
        server.stop()  // returns at once: the loop has ended
        try server.restart()
        XCTAssertEqual(try server.client().run("GET", "kept"), bulk("1"))
    }

    // MARK: Policy and hooks

    func testRenameAndDisablePolicy() throws {
        let server = try TestServer(configure: {
            $0.renamedCommands = ["get": "fetch", "config": ""]
            $0.disabledCommands = ["flushall"]
        })
        let c = try server.client()
        XCTAssertEqual(try c.run("SET", "k", "v"), ok)
        XCTAssertEqual(try c.run("FETCH", "k"), bulk("v"))
        XCTAssertEqual(try c.run("GET", "k"), err("ERR unknown command 'GET', with args beginning with: 'k' "))
        XCTAssertEqual(try c.run("FLUSHALL"), err("ERR command not supported yet"))
        XCTAssertEqual(try c.run("CONFIG", "GET", "*"), err("ERR command not supported yet"))
        XCTAssertEqual(try c.run("FETCH"), err("ERR wrong number of arguments for 'get' command"))
        let names = (try c.run("COMMAND", "LIST").array ?? []).compactMap(\.string)
        XCTAssertTrue(names.contains("fetch"))
        XCTAssertFalse(names.contains("get") || names.contains("flushall") || names.contains("config"))
        guard case .array(let info) = try c.run("COMMAND", "INFO", "get", "fetch", "flushall") else { return XCTFail() }
        XCTAssertEqual(info[0], null)
        XCTAssertNotEqual(info[1], null)
        XCTAssertEqual(info[2], null)
    }

    func testHooksSeeFailuresWithoutChangingReplies() throws {
        final class Recorder: @unchecked Sendable {
            let lock = NSLock()
            var events: [(String, HookEvent)] = []
            func add(_ kind: String, _ event: HookEvent) { lock.lock(); events.append((kind, event)); lock.unlock() }
            var all: [(String, HookEvent)] { lock.lock(); defer { lock.unlock() }; return events }
        }
        let recorder = Recorder()
        try forEachBackend(configure: {
            $0.hooks.onUnknownCommand = { recorder.add("unknown", $0) }
            $0.hooks.onCommandError = { recorder.add("error", $0) }
            $0.hooks.onSocketError = { recorder.add("socket", $0) }
        }) { server in
            recorder.lock.lock(); recorder.events.removeAll(); recorder.lock.unlock()
            let c = try server.client()
            XCTAssertEqual(try c.run("NOPE", "a1", "b2"), err("ERR unknown command 'NOPE', with args beginning with: 'a1' 'b2' "))
            XCTAssertEqual(try c.run("SET", "k", "v"), ok)
            XCTAssertEqual(try c.run("INCR", "k"), err("ERR value is not an integer or out of range"))
            XCTAssertEqual(try c.run("GET"), err("ERR wrong number of arguments for 'get' command"))
            XCTAssertEqual(try c.run("PING"), simple("PONG"))
            let events = recorder.all
            XCTAssertEqual(events.map(\.0), ["unknown", "error", "error"])
            XCTAssertEqual(events[0].1.command, "NOPE")
            XCTAssertEqual(events[0].1.arguments, [Array("NOPE".utf8), Array("a1".utf8), Array("b2".utf8)])
            XCTAssertTrue(events[0].1.clientAddress.hasPrefix("127.0.0.1:"))
            XCTAssertEqual(events[1].1.arguments, [Array("INCR".utf8), Array("k".utf8)])
            XCTAssertEqual(events[1].1.message, "ERR value is not an integer or out of range")
            XCTAssertEqual(events[2].1.command, "GET")
        }
    }

    func testPublicBindWithoutPasswordWarns() throws {
        final class Capture: @unchecked Sendable {
            let lock = NSLock()
            var messages: [String] = []
        }
        let capture = Capture()
        struct Handler: LogHandler {
            let capture: Capture
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .info
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
                capture.lock.lock(); capture.messages.append("\(level): \(message)"); capture.lock.unlock()
            }
        }
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = ServerOptions()
        options.host = "0.0.0.0"
        options.port = 0
        options.databasePath = directory + "/w.db"
        let server = try RESPLiteServer.start(options, logger: Logger(label: "t", factory: { _ in Handler(capture: capture) }))
        server.stop()
        capture.lock.lock(); defer { capture.lock.unlock() }
        XCTAssertTrue(capture.messages.contains { $0.hasPrefix("warning:") && $0.contains("without a password") }, "\(capture.messages)")
    }
}

/// A plain TCP connection for checking bytes on the wire.
final class RawConnection {
    private let fd: Int32

    init(port: Int) throws {
        fd = try connectLoopback(port: port)
    }

    deinit { if !closed { close(fd) } }

    /// Closes with SO_LINGER 0: the peer gets a reset instead of an orderly close.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(fd, Int32(SHUT_RD))
        close(fd)
        closed = true
    }

    private var closed = false

    func send(_ text: String) {
        _ = text.withCString { Glibc.send(fd, $0, strlen($0), 0) }
    }

    /// Reads until the text received so far contains `marker` (bounded by the socket timeout).
    func read(untilContains marker: String) -> String {
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: received, as: UTF8.self).contains(marker) {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: received, as: UTF8.self)
    }
}

extension ServerCommandTests {
    /// A client that resets its connection while a large reply is being sent: the socket-error
    /// hook fires with the client's address; the server keeps serving others.
    func testSocketErrorHookFires() throws {
        final class Recorder: @unchecked Sendable {
            let lock = NSLock()
            var events: [HookEvent] = []
        }
        let recorder = Recorder()
        try forEachBackend(configure: {
            $0.hooks.onSocketError = { event in recorder.lock.lock(); recorder.events.append(event); recorder.lock.unlock() }
        }) { server in
            recorder.lock.lock(); recorder.events.removeAll(); recorder.lock.unlock()
            let setup = try server.client()
            XCTAssertEqual(try setup.run(bytes: Array("SET".utf8), Array("big".utf8), [UInt8](repeating: 0x61, count: 4 << 20)), ok)
            for _ in 0..<5 {
                let raw = try RawConnection(port: server.port)
                raw.send(String(repeating: "GET big\r\n", count: 16))  // 64 MB of replies, never read
                usleep(50_000)
                raw.reset()  // RST: the server's next send or receive fails
                usleep(50_000)
                recorder.lock.lock(); let seen = recorder.events.count; recorder.lock.unlock()
                if seen > 0 { break }
            }
            recorder.lock.lock(); let events = recorder.events; recorder.lock.unlock()
            XCTAssertFalse(events.isEmpty, "no socket error reported")
            XCTAssertTrue(events.first?.clientAddress.hasPrefix("127.0.0.1:") ?? false)
            XCTAssertFalse(events.first?.message.isEmpty ?? true)
            XCTAssertEqual(try setup.run("PING"), simple("PONG"), "others are unaffected")
        }
    }
}
