import XCTest
@testable import RESPLite

final class SmokeTests: XCTestCase {
    func testPingOnBothBackends() throws {
        try forEachBackend { server in
            let client = try server.client()
            XCTAssertEqual(try client.run("PING"), simple("PONG"))
            XCTAssertEqual(try client.run("SET", "k", "v"), ok)
            XCTAssertEqual(try client.run("GET", "k"), bulk("v"))
        }
    }
}
