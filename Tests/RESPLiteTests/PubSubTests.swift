// Pub/Sub: delivery, order, unsubscribe replies, subscribed mode, RESP3 pushes, keyspace
// notifications, and the slow-subscriber limit.

import Foundation
import XCTest
@testable import RESPLite

final class PubSubTests: XCTestCase {
    func testChannelAndPatternDelivery() throws {
        try forEachBackend { server in
            let subscriber = try server.client(), patterns = try server.client(), publisher = try server.client()
            XCTAssertEqual(try subscriber.run("SUBSCRIBE", "news", "sport"), .array([bulk("subscribe"), bulk("news"), int(1)]))
            XCTAssertEqual(try subscriber.readReply(), .array([bulk("subscribe"), bulk("sport"), int(2)]))
            XCTAssertEqual(try patterns.run("PSUBSCRIBE", "n*"), .array([bulk("psubscribe"), bulk("n*"), int(1)]))
            XCTAssertEqual(try publisher.run("PUBLISH", "news", "one"), int(2))
            XCTAssertEqual(try publisher.run("PUBLISH", "sport", "two"), int(1))
            XCTAssertEqual(try publisher.run("PUBLISH", "nothing-here", "x"), int(1))
            XCTAssertEqual(try publisher.run("PUBLISH", "elsewhere", "x"), int(0))
            for n in 0..<20 { XCTAssertEqual(try publisher.run("PUBLISH", "news", "m\(n)"), int(2)) }
            XCTAssertEqual(try subscriber.readReply(), .array([bulk("message"), bulk("news"), bulk("one")]))
            XCTAssertEqual(try subscriber.readReply(), .array([bulk("message"), bulk("sport"), bulk("two")]))
            for n in 0..<20 { XCTAssertEqual(try subscriber.readReply(), .array([bulk("message"), bulk("news"), bulk("m\(n)")]), "in order") }
            XCTAssertEqual(try patterns.readReply(), .array([bulk("pmessage"), bulk("n*"), bulk("news"), bulk("one")]))
            XCTAssertEqual(try patterns.readReply(), .array([bulk("pmessage"), bulk("n*"), bulk("nothing-here"), bulk("x")]))
            XCTAssertEqual(try publisher.run("PUBSUB", "CHANNELS"), bulks(["news", "sport"]))
            XCTAssertEqual(try publisher.run("PUBSUB", "NUMSUB", "news", "none"), .array([bulk("news"), int(1), bulk("none"), int(0)]))
            XCTAssertEqual(try publisher.run("PUBSUB", "NUMPAT"), int(1))
        }
    }

    func testSubscribedModeAndUnsubscribe() throws {
        try forEachBackend { server in
            let c = try server.client()
            XCTAssertEqual(try c.run("UNSUBSCRIBE"), .array([bulk("unsubscribe"), null, int(0)]))
            XCTAssertEqual(try c.run("SUBSCRIBE", "a"), .array([bulk("subscribe"), bulk("a"), int(1)]))
            XCTAssertEqual(try c.run("GET", "k"), err("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"))
            XCTAssertEqual(try c.run("PING"), bulks(["pong", ""]))
            XCTAssertEqual(try c.run("PING", "hi"), bulks(["pong", "hi"]))
            XCTAssertEqual(try c.run("PSUBSCRIBE", "p*"), .array([bulk("psubscribe"), bulk("p*"), int(2)]))
            XCTAssertEqual(try c.run("SUBSCRIBE", "b"), .array([bulk("subscribe"), bulk("b"), int(3)]))
            XCTAssertEqual(try c.run("UNSUBSCRIBE"), .array([bulk("unsubscribe"), bulk("a"), int(2)]))
            XCTAssertEqual(try c.readReply(), .array([bulk("unsubscribe"), bulk("b"), int(1)]))
            XCTAssertEqual(try c.run("PUNSUBSCRIBE", "p*"), .array([bulk("punsubscribe"), bulk("p*"), int(0)]))
            XCTAssertEqual(try c.run("GET", "k"), null, "back to normal mode")
            XCTAssertEqual(try c.run("SSUBSCRIBE", "shard"), .array([bulk("ssubscribe"), bulk("shard"), int(1)]))
            let other = try server.client()
            XCTAssertEqual(try other.run("SPUBLISH", "shard", "s1"), int(1))
            XCTAssertEqual(try other.run("PUBLISH", "shard", "not-a-shard-message"), int(0))
            XCTAssertEqual(try c.readReply(), .array([bulk("smessage"), bulk("shard"), bulk("s1")]))
            XCTAssertEqual(try c.run("RESET"), simple("RESET"))
            XCTAssertEqual(try other.run("SPUBLISH", "shard", "s2"), int(0), "RESET dropped the subscriptions")
        }
    }

    func testResp3PushesAllowCommands() throws {
        try forEachBackend { server in
            let c = try server.client(), publisher = try server.client()
            _ = try c.run("HELLO", "3")
            XCTAssertEqual(try c.run("SUBSCRIBE", "r3"), .push([bulk("subscribe"), bulk("r3"), int(1)]))
            XCTAssertEqual(try c.run("SET", "k", "v"), ok, "RESP3 clients may run any command while subscribed")
            XCTAssertEqual(try publisher.run("PUBLISH", "r3", "hello"), int(1))
            XCTAssertEqual(try c.readReply(), .push([bulk("message"), bulk("r3"), bulk("hello")]))
        }
    }

    func testKeyspaceNotifications() throws {
        try forEachBackend(configure: { $0.sweepIntervalMs = 20 }) { server in
            let c = try server.client(), listener = try server.client()
            XCTAssertEqual(try c.run("CONFIG", "SET", "notify-keyspace-events", "KEA"), ok)
            XCTAssertEqual(try c.run("CONFIG", "GET", "notify-keyspace-events"), bulks(["notify-keyspace-events", "AKE"]))
            XCTAssertEqual(try c.run("CONFIG", "SET", "notify-keyspace-events", "Q"),
                           err("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."))
            XCTAssertEqual(try listener.run("PSUBSCRIBE", "__key*__:*"), .array([bulk("psubscribe"), bulk("__key*__:*"), int(1)]))
            XCTAssertEqual(try c.run("SET", "k1", "v"), ok)
            XCTAssertEqual(try c.run("EXPIRE", "k1", "100"), int(1))
            XCTAssertEqual(try c.run("INCR", "n"), int(1))
            XCTAssertEqual(try c.run("DEL", "k1"), int(1))
            func next() throws -> (String, String) {
                guard case .array(let parts) = try listener.readReply(), parts.count == 4 else { return ("?", "?") }
                return (parts[2].string ?? "", parts[3].string ?? "")
            }
            XCTAssertTrue(try next() == ("__keyspace@0__:k1", "set"))
            XCTAssertTrue(try next() == ("__keyevent@0__:set", "k1"))
            XCTAssertTrue(try next() == ("__keyspace@0__:k1", "expire"))
            XCTAssertTrue(try next() == ("__keyevent@0__:expire", "k1"))
            XCTAssertTrue(try next() == ("__keyspace@0__:n", "incrby"))
            XCTAssertTrue(try next() == ("__keyevent@0__:incrby", "n"))
            XCTAssertTrue(try next() == ("__keyspace@0__:k1", "del"))
            XCTAssertTrue(try next() == ("__keyevent@0__:del", "k1"))
            // Only the classes asked for: E + $ (string events), no generic ones.
            XCTAssertEqual(try c.run("CONFIG", "SET", "notify-keyspace-events", "E$"), ok)
            XCTAssertEqual(try c.run("DEL", "n"), int(1))
            XCTAssertEqual(try c.run("SET", "k2", "v"), ok)
            XCTAssertTrue(try next() == ("__keyevent@0__:set", "k2"))
            // The sweeper announces the keys it expires (x).
            XCTAssertEqual(try c.run("CONFIG", "SET", "notify-keyspace-events", "Ex"), ok)
            XCTAssertEqual(try c.run("SET", "short", "v", "PX", "5"), ok)
            XCTAssertTrue(try next() == ("__keyevent@0__:expired", "short"))
        }
    }

    /// A subscriber that never reads is disconnected instead of growing memory.
    func testSlowSubscriberIsDisconnected() throws {
        let server = try TestServer()
        let slow = try server.client()
        XCTAssertEqual(try slow.run("SUBSCRIBE", "firehose"), .array([bulk("subscribe"), bulk("firehose"), int(1)]))
        let publisher = try server.client()
        let payload = [UInt8](repeating: 0x78, count: 256 * 1024)
        var receiversSeen: [Int64] = []
        for _ in 0..<400 {  // 100 MB offered; the hard limit is 32 MB of pending output
            let replies = try publisher.pipeline([[Array("PUBLISH".utf8), Array("firehose".utf8), payload]])
            receiversSeen.append(replies[0].integer ?? -1)
            if receiversSeen.last == 0 { break }
        }
        XCTAssertEqual(receiversSeen.last, 0, "the slow subscriber was dropped")
        XCTAssertEqual(try publisher.run("PUBSUB", "NUMSUB", "firehose"), .array([bulk("firehose"), int(0)]))
        XCTAssertEqual(try publisher.run("PING"), simple("PONG"))
    }
}
