// resplite-import: migration from Redis into a RESPLite database (SPEC_F).
//   import | preflight | enable-notifications | bulk | status | apply-dirty | verify | control
//   | migrate-search (RediSearch indexes and the hashes under their prefixes)

import ArgumentParser
import Foundation
import RESPLite
#if canImport(Glibc)
import Glibc
#endif

struct Source: ParsableArguments {
    @Option(name: .long, help: "Source Redis: redis://[user:pass@]host:port[/db]")
    var from: String = "redis://127.0.0.1:6379"

    func url() throws -> RedisURL {
        do { return try RedisURL(parsing: from) } catch { throw ValidationError("--from: \(error)") }
    }
}

struct Destination: ParsableArguments {
    @Option(name: .long, help: "Destination RESPLite database file.")
    var to: String = "./resplite.db"
}

struct Tuning: ParsableArguments {
    @Option(name: .customLong("scan-count"), help: "SCAN COUNT hint.") var scanCount: Int = 1000
    @Option(name: .customLong("max-concurrency"), help: "Keys in flight at once (pipeline window).") var maxConcurrency: Int = 256
    @Option(name: .customLong("max-rps"), help: "Keys read per second at most (0 = unlimited).") var maxRPS: Int = 0
    @Option(name: .customLong("batch-keys"), help: "Keys per committed transaction.") var batchKeys: Int = 20_000
    @Option(name: .customLong("batch-bytes"), help: "Bytes per committed transaction (e.g. 64MB).") var batchBytes: String = "64MB"
    @Option(name: .customLong("ttl-mode"), help: "TTL handling (preserve: absolute expiry kept).") var ttlMode: String = "preserve"
    @Option(name: .customLong("pragma-template"), help: "Destination pragma template: default|performance|safety|minimal|none.") var pragmaTemplate: String = "default"

    func options(resume: Bool) throws -> MigrationOptions {
        var options = MigrationOptions()
        options.scanCount = max(1, scanCount)
        options.maxConcurrency = max(1, maxConcurrency)
        options.maxRPS = max(0, maxRPS)
        options.batchKeys = max(1, batchKeys)
        guard let bytes = parseByteSize(batchBytes), bytes > 0 else { throw ValidationError("--batch-bytes: bad size \(batchBytes)") }
        options.batchBytes = bytes
        guard ttlMode == "preserve" else { throw ValidationError("--ttl-mode: only 'preserve' is supported") }
        guard let template = PragmaTemplate(rawValue: pragmaTemplate) else { throw ValidationError("--pragma-template: unknown \(pragmaTemplate)") }
        options.pragmaTemplate = template
        options.resume = resume
        return options
    }
}

/// Progress: a live line on a terminal, plain lines otherwise.
func progressPrinter() -> (MigrationProgress) -> Void {
    let terminal = isatty(2) != 0
    return { progress in
        let line = progress.line
        if terminal { FileHandle.standardError.write(("\r\u{1B}[K" + line).data(using: .utf8)!) }
        else { FileHandle.standardError.write((line + "\n").data(using: .utf8)!) }
    }
}

func runBulk(source: RedisURL, to: String, runId: String, options: MigrationOptions) throws {
    MigrationSignals.install()
    let importer = try MigrationImporter(source: source, destinationPath: to, options: options)
    defer { importer.close() }
    importer.onProgress = progressPrinter()
    if let estimate = try? RESPClient.open(source).command("DBSIZE"), case .integer(let count) = estimate {
        importer.estimatedTotalKeys = count
    }
    let result = try importer.bulk(runId: runId)
    if isatty(2) != 0 { FileHandle.standardError.write("\n".data(using: .utf8)!) }
    if let status = try importer.destination.runStatus(runId) { print(status) }
    if result == .aborted {
        FileHandle.standardError.write("run \(runId) aborted; continue with --resume\n".data(using: .utf8)!)
        throw ExitCode(3)
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One-shot copy of every supported key (with TTLs).")
    @OptionGroup var source: Source
    @OptionGroup var destination: Destination
    @OptionGroup var tuning: Tuning
    @Option(name: .customLong("run-id"), help: "Run id (default: generated).") var runId: String?

    func run() throws {
        try runBulk(source: try source.url(), to: destination.to, runId: runId ?? "import-\(Int(Date().timeIntervalSince1970 * 1000))",
                    options: try tuning.options(resume: false))
    }
}

struct Bulk: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "SCAN and copy all keys; checkpointed and resumable.")
    @OptionGroup var source: Source
    @OptionGroup var destination: Destination
    @OptionGroup var tuning: Tuning
    @Option(name: .customLong("run-id")) var runId: String
    @Flag(help: "Continue from the stored checkpoint.") var resume = false

    func run() throws {
        try runBulk(source: try source.url(), to: destination.to, runId: runId, options: try tuning.options(resume: resume))
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run state and dirty-key counts (no Redis needed).")
    @OptionGroup var destination: Destination
    @Option(name: .customLong("run-id")) var runId: String

    func run() throws {
        let db = try MigrationDestination(path: destination.to)
        defer { db.close() }
        guard let status = try db.runStatus(runId) else {
            FileHandle.standardError.write("no run \(runId) in \(destination.to)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
        print(status)
    }
}

struct ApplyDirty: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "apply-dirty", abstract: "Re-import dirty keys (delete those gone from the source).")
    @OptionGroup var source: Source
    @OptionGroup var destination: Destination
    @OptionGroup var tuning: Tuning
    @Option(name: .customLong("run-id")) var runId: String

    func run() throws {
        MigrationSignals.install()
        let importer = try MigrationImporter(source: try source.url(), destinationPath: destination.to, options: try tuning.options(resume: false))
        defer { importer.close() }
        let result = try importer.applyDirty(runId: runId)
        print("applied \(result.applied) deleted \(result.deleted) skipped \(result.skipped) errors \(result.errors) in \(String(format: "%.2f", result.seconds)) s")
        if let status = try importer.destination.runStatus(runId) { print(status) }
        if result.errors > 0 { throw ExitCode(2) }
    }
}

struct Preflight: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Key count, types, notifications, recommended settings.")
    @OptionGroup var source: Source
    @OptionGroup var destination: Destination
    @Option(name: .customLong("config-command"), help: "Name of CONFIG if renamed.") var configCommand = "CONFIG"
    @Option(help: "Keys sampled for the type distribution.") var sample = 1000

    func run() throws {
        print(try MigrationChecks.preflight(source: try source.url(), configCommand: configCommand, sample: sample))
    }
}

struct EnableNotifications: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enable-notifications", abstract: "Merge the tracker's flags into notify-keyspace-events.")
    @OptionGroup var source: Source
    @Option(name: .customLong("config-command"), help: "Name of CONFIG if renamed.") var configCommand = "CONFIG"

    func run() throws {
        let (old, new) = try MigrationChecks.enableNotifications(source: try source.url(), configCommand: configCommand)
        print("notify-keyspace-events: \"\(old)\" -> \"\(new)\"")
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Compare a sample of keys (type, value, TTL).")
    @OptionGroup var source: Source
    @OptionGroup var destination: Destination
    @Option(name: .customLong("run-id")) var runId: String?
    @Option(help: "Sample, e.g. 0.5% or 0.005 or 100%.") var sample = "1%"
    @Option(name: .customLong("ttl-tolerance-ms")) var ttlToleranceMs: Int64 = 2000

    func run() throws {
        var text = sample.trimmingCharacters(in: .whitespaces)
        var fraction: Double
        if text.hasSuffix("%") {
            text.removeLast()
            guard let value = Double(text) else { throw ValidationError("--sample: bad value") }
            fraction = value / 100
        } else {
            guard let value = Double(text) else { throw ValidationError("--sample: bad value") }
            fraction = value
        }
        fraction = min(1, max(0, fraction))
        let report = try MigrationChecks.verify(source: try source.url(), destinationPath: destination.to, runId: runId,
                                                fraction: fraction, ttlToleranceMs: ttlToleranceMs)
        for line in report.mismatches { print("MISMATCH \(line)") }
        print("checked \(report.checked) keys, \(report.mismatches.isEmpty ? "no" : String(report.mismatches.count)) mismatches")
        if !report.mismatches.isEmpty { throw ExitCode(4) }
    }
}

struct Control: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "pause | resume | abort | set name=value... for a running bulk.")
    @OptionGroup var destination: Destination
    @Option(name: .customLong("run-id")) var runId: String
    @Argument(help: "pause | resume | abort | set") var action: String
    @Argument(help: "For set: max-rps=N max-concurrency=N batch-keys=N batch-bytes=SIZE scan-count=N") var settings: [String] = []

    func run() throws {
        let db = try MigrationDestination(path: destination.to)
        defer { db.close() }
        if action == "set" {
            guard !settings.isEmpty else { throw ValidationError("set needs name=value") }
            for setting in settings {
                let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
                let names = ["max-rps", "max-concurrency", "batch-keys", "batch-bytes", "scan-count"]
                guard parts.count == 2, names.contains(parts[0]) else { throw ValidationError("unknown setting \(setting) (\(names.joined(separator: ", ")))") }
                guard let value = parts[0] == "batch-bytes" ? parseByteSize(parts[1]) : Int(parts[1]), value >= 0 else {
                    throw ValidationError("bad value in \(setting)")
                }
                try db.setSetting(runId, name: parts[0].replacingOccurrences(of: "-", with: "_"), value: Int64(value))
            }
        } else {
            try db.control(runId, action: action)
        }
        print("ok")
    }
}

struct MigrateSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-search",
        abstract: "Copy RediSearch indexes (FT._LIST, FT.INFO) and the hashes under their prefixes.",
        discussion: """
            Each source index becomes an ON HASH index with the same prefixes in the destination. \
            TEXT fields stay TEXT (with their WEIGHT); TAG and NUMERIC fields become TEXT (a warning \
            each); GEO, VECTOR, GEOSHAPE and other fields are skipped with a warning. JSON indexes, \
            names RESPLite does not accept and indexes left without a field are skipped with a \
            warning. Fields are named after the hash field (identifier); an alias is reported. \
            Then the hashes under the prefixes are copied (SCAN TYPE hash, TTLs kept) and the \
            index is checked to cover every hash under them. Re-running is idempotent; an index \
            of the same name with another definition is an error unless --replace. One line per \
            index; exit status 1 if any index failed.
            """)
    @OptionGroup var source: Source
    @OptionGroup var destination: Destination
    @Option(name: .customLong("index"), help: "Index to migrate (repeat for several; default: every index FT._LIST names).")
    var indexes: [String] = []
    @Flag(help: "Drop and recreate a destination index of the same name whose definition differs.") var replace = false
    @Flag(name: .customLong("dry-run"), help: "Read and map the source's indexes; write nothing.") var dryRun = false
    @Flag(name: .customLong("no-copy"), help: "Create and backfill the indexes only (the hashes were copied by bulk).") var noCopy = false
    @Option(name: .customLong("scan-count"), help: "SCAN COUNT hint.") var scanCount: Int = 1000
    @Option(name: .customLong("max-concurrency"), help: "Keys in flight at once (pipeline window).") var maxConcurrency: Int = 256
    @Option(name: .customLong("max-rps"), help: "Keys read per second at most (0 = unlimited).") var maxRPS: Int = 0
    @Option(name: .customLong("batch-keys"), help: "Keys per committed transaction.") var batchKeys: Int = 20_000
    @Option(name: .customLong("pragma-template"), help: "Destination pragma template: default|performance|safety|minimal|none.") var pragmaTemplate: String = "default"

    func run() throws {
        var options = SearchMigrationOptions()
        options.indexes = indexes
        options.replace = replace
        options.dryRun = dryRun
        options.copyHashes = !noCopy
        options.scanCount = max(1, scanCount)
        options.maxConcurrency = max(1, maxConcurrency)
        options.maxRPS = max(0, maxRPS)
        options.batchKeys = max(1, batchKeys)
        guard let template = PragmaTemplate(rawValue: pragmaTemplate) else { throw ValidationError("--pragma-template: unknown \(pragmaTemplate)") }
        options.pragmaTemplate = template
        MigrationSignals.install()
        let migrator = try SearchMigrator(source: try source.url(), destinationPath: destination.to, options: options)
        defer { migrator.close() }
        migrator.onProgress = { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }
        migrator.onResult = { print($0); fflush(stdout) }
        let report = try migrator.run()
        let failed = report.results.filter(\.failed).count
        let skipped = report.results.filter { $0.outcome == .skipped }.count
        print("\(report.results.count) indexes: \(report.results.count - failed - skipped) \(dryRun ? "planned" : "migrated"), \(skipped) skipped, \(failed) failed")
        if report.failed { throw ExitCode(1) }
    }
}

struct ResliteImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resplite-import",
        abstract: "Migrate a Redis dataset into a RESPLite database (one-shot or minimal downtime).",
        subcommands: [Import.self, Preflight.self, EnableNotifications.self, Bulk.self, Status.self,
                      ApplyDirty.self, Verify.self, Control.self, MigrateSearch.self])
}

ResliteImport.main()
