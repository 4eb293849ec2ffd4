// resplite-dirty-tracker: records keys touched in the source (keyspace notifications) in the
// destination's dirty-key registry, for the delta apply of a minimal-downtime migration.

import ArgumentParser
import Foundation
import RESPLite

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Subscribe and record dirty keys until stopped.")
    @Option(name: .customLong("run-id")) var runId: String
    @Option(name: .long, help: "Source Redis: redis://[user:pass@]host:port[/db]") var from: String = "redis://127.0.0.1:6379"
    @Option(name: .long, help: "Destination RESPLite database file.") var to: String = "./resplite.db"
    @Option(help: "keyevent | keyspace | both") var channels: String = "keyevent"

    func run() throws {
        guard let channelChoice = TrackerChannels(rawValue: channels) else { throw ValidationError("--channels: keyevent|keyspace|both") }
        let url: RedisURL
        do { url = try RedisURL(parsing: from) } catch { throw ValidationError("--from: \(error)") }
        MigrationSignals.install()
        let tracker = try DirtyTracker(runId: runId, source: url, destinationPath: to, channels: channelChoice)
        defer { tracker.close() }
        tracker.log = { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }
        FileHandle.standardError.write("tracking \(url) for run \(runId)\n".data(using: .utf8)!)
        try tracker.run()
        print("tracker stopped after \(tracker.eventsRecorded) events")
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ask the running tracker of a run to stop.")
    @Option(name: .customLong("run-id")) var runId: String
    @Option(name: .long) var to: String = "./resplite.db"
    @Option(name: .customLong("timeout-ms")) var timeoutMs = 10_000

    func run() throws {
        if try DirtyTracker.requestStop(runId: runId, destinationPath: to, timeoutMs: timeoutMs) {
            print("stopped")
        } else {
            FileHandle.standardError.write("tracker did not confirm within \(timeoutMs) ms\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
    }
}

struct DirtyTrackerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resplite-dirty-tracker", abstract: "Dirty-key tracker for a RESPLite migration.",
        subcommands: [Start.self, Stop.self])
}

DirtyTrackerCommand.main()
