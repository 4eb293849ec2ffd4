// The redo log (`<database>-redo`): turns the server acknowledged before SQLite committed them.
//
// The loop does not COMMIT at the end of every turn. It appends the turn's write statements,
// with the values bound to them, to the redo log (one write per turn; an fdatasync under the
// `safety` template), sends the replies, and keeps the SQLite transaction open. The transaction
// commits once the loop has been idle for a moment, after a time or byte budget, or for a turn
// the log cannot hold (`RedoLogOptions`). A page that a burst of writes dirties again and again
// then goes to the WAL once per commit instead of once per turn. The commit records the LSN of
// the last turn it holds in `resplite_meta`, inside the same transaction, so after a crash the
// records past it are exactly the acknowledged turns SQLite lost; start-up replays them
// statement by statement.
// Replay re-makes the same rows because the statements are deterministic given the rows before
// them: every time, random choice and new id is a bound value.
//
// File format (little-endian). One epoch per SQLite commit; the first turn logged after a
// commit rewrites the file from offset 0:
//   header (32 bytes): magic "RSLREDO1" | base LSN u64 (what SQLite held) | salt u64 | checksum u64
//   record (32 bytes, then the payload): payload length u32 | flags u32 (0) | LSN u64 | salt u64 |
//          checksum u64 (XXH64 of the payload, seeded with XXH64 of the record's first 24 bytes)
//   payload: operations, each led by a tag byte:
//     1 DEFINE: number u32, SQL length u32, SQL (before a statement's first EXEC in the epoch)
//     2 EXEC:   number u32, parameter count u16, then each parameter: type u8 (0 null,
//               1 integer i64, 2 real f64 bits, 3 blob u32 length + bytes, 4 text u32 length + bytes)
// Records of an older epoch (another salt), a torn record (its checksum) and anything after a
// break in the LSN sequence are not part of the log: reading stops at the first of them.
//
// Invariants:
//  1. `lastLSN` is the LSN of the last turn whose record was written whole; `appliedLSN` that of
//     the last turn SQLite committed (read back at open). appliedLSN <= lastLSN, and every turn
//     in (appliedLSN, lastLSN] is in the file, in order, in the current epoch.
//  2. The open turn's operations are in `turn` after `turnPayloadStart`; a savepoint rollback
//     or a failed statement cuts `turn` back, and definitions made in the cut part are undone.
//  3. A statement's number is defined in the file (`definedInFile`) only once a record with its
//     DEFINE was written whole in the current epoch.

import CSQLite
import CShims
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// When the server may acknowledge a turn before SQLite commits it.
public struct RedoLogOptions: Sendable {
    /// Off: every turn commits before its replies go out (as without a redo log).
    public var enabled = true
    /// Longest a logged turn stays uncommitted in SQLite. Under a steady load each commit
    /// stalls the loop while it writes the window's dirty pages to the WAL (up to the page
    /// cache's spill threshold); 1 s rather than 100 ms makes those stalls a tenth as frequent
    /// (redis-benchmark SET p99 2.0-5.0 ms -> 1.0 ms; docs/benchmarks.md, eighth session), and
    /// under such a load `maxDeferBytes` usually ends the window first.
    public var maxDeferMs = 1_000
    /// Most log bytes between two SQLite commits.
    public var maxDeferBytes = 8 * 1024 * 1024
    /// A turn whose statements log more than this commits instead of being logged (a big value
    /// is then written once, to the WAL, and the log buffer stays small).
    public var maxTurnBytes = 1024 * 1024
    /// The open transaction commits once the loop has had nothing to do for this long (and
    /// the database file is then up to date a moment after the last reply); 0: as soon as a
    /// turn's replies are out.
    public var idleCommitMs = 1
    public init() {}
}

/// A value bound to a parameter of a captured statement. Trivial (no references), so a
/// statement's array of them is copied and read without reference counting.
enum CapturedValue {
    case null
    case integer(Int64)
    case real(Double)
    /// Bound SQLITE_STATIC: valid until the statement is stepped (Storage invariant 2).
    case blob(ByteView)
    /// Bound by copy: the bytes are the statement's `capturedCopies` at the parameter's index.
    case copy(isText: Bool)
}

struct RedoLogError: Error, CustomStringConvertible {
    let message: String
    var description: String { "redo log: \(message)" }
}

final class RedoLog {
    /// "RSLREDO1": the file's first eight bytes.
    static let magicBytes: [UInt8] = Array("RSLREDO1".utf8)
    /// The same bytes as the integer whose little-endian form they are.
    static let magic: UInt64 = magicBytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    static let headerBytes = 32
    static let recordHeaderBytes = 32
    /// Operation tags.
    static let defineTag: UInt8 = 1
    static let execTag: UInt8 = 2

    let path: String
    let options: RedoLogOptions
    /// fdatasync after each turn (the `safety` template: synchronous=FULL or EXTRA).
    let syncEachTurn: Bool
    private let fd: Int32
    private let logger: Logger

    /// Invariant 1.
    private(set) var appliedLSN: UInt64
    private(set) var lastLSN: UInt64
    /// Where the next record goes; 0: a new epoch (the header goes first).
    private var fileOffset: Int64 = 0
    private var salt: UInt64 = 0
    /// Monotonic ms when the first turn of the open epoch was logged (0: none logged).
    private var epochStartedAt: Int64 = 0

    /// The open turn: room for the file and record headers, then its operations.
    private let turn = ByteBuffer(capacity: 64 * 1024)
    private let turnPayloadStart = RedoLog.headerBytes + RedoLog.recordHeaderBytes
    /// Where the last recorded statement's operations start (cut back if it fails).
    private var lastRecordStart = -1
    /// Where the open savepoint's operations start (-1: none).
    private var savepointMark = -1
    /// The turn wrote more than `maxTurnBytes`, or wrote outside captured statements (schema
    /// changes): it cannot be logged and commits instead.
    private(set) var turnUnloggable = false
    /// Something in the turn asked for a real commit (SAVE, BGSAVE).
    var commitRequested = false

    /// Distinct statement texts numbered at most (the SQL the server runs is a fixed set plus a
    /// few per search index); past it a turn that needs a new number commits instead.
    static let maxStatementNumbers = 65_536

    /// Statement numbers by SQL text (stable for the process), and which are defined in the
    /// file's epoch (invariant 3) or in the open turn (with where their DEFINE starts).
    private var numbers: [String: UInt32] = [:]
    private var definedInFile: [Bool] = []
    private var definedInTurn: [Bool] = []
    private var turnDefinitions: [(number: UInt32, offset: Int)] = []

    // Counters (SQLITE.INFO).
    private(set) var turnsLogged: Int64 = 0
    private(set) var bytesLogged: Int64 = 0
    private(set) var deferredCommits: Int64 = 0
    private(set) var replayedAtOpen = 0
    /// The file's length after `preallocate` (0: not preallocated).
    private(set) var preallocatedBytes = 0

    /// `appliedLSN`: what the database holds (`recovered` sets it after start-up's replay).
    init(path: String, options: RedoLogOptions, syncEachTurn: Bool, appliedLSN: UInt64 = 0, logger: Logger) throws {
        self.path = path
        self.options = options
        self.syncEachTurn = syncEachTurn
        self.appliedLSN = appliedLSN
        self.lastLSN = appliedLSN
        self.logger = logger
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RedoLogError(message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        turn.appendZeros(turnPayloadStart)
        if syncEachTurn { preallocate() }
    }

    /// Most bytes `preallocate` writes (a `maxDeferBytes` raised for tests stays cheap).
    static let maxPreallocatedBytes = 64 * 1024 * 1024

    /// Under `syncEachTurn`: makes the file at least as long as one epoch may write
    /// (`maxDeferBytes`, at most `maxPreallocatedBytes`), its new blocks written with zeros once
    /// and synced. A turn's record then overwrites blocks the file already has, and its
    /// fdatasync flushes data only: an append would also make the file system commit the new
    /// size to its journal on every turn (ext4; measured: `safety` SET on a new file 0.83x of
    /// Redis' `appendfsync always`, 1.14-1.25x once the log file had grown; docs/benchmarks.md,
    /// twelfth session). Zeros are no record (a record's salt is never 0) and an all-zero header
    /// is an empty log, so reading is unchanged. Best effort: a failure only costs that speed.
    private func preallocate() {
        var status = stat()
        guard fstat(fd, &status) == 0 else { return }
        let target = Int64(Swift.min(options.maxDeferBytes, Self.maxPreallocatedBytes))
        var size = Int64(status.st_size)
        guard size < target else {
            preallocatedBytes = Int(size)  // an earlier start's preallocation (blocks written)
            return
        }
        let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { zeros.deallocate() }
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
        while size < target {
            let count = Int(Swift.min(Int64(zeros.count), target - size))
            let written = pwrite(fd, zeros.baseAddress, count, off_t(size))
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                logger.warning("redo log \(path): cannot preallocate (\(String(cString: strerror(errno)))); each turn's sync also commits the file's new size")
                return
            }
            size += Int64(written)
        }
        _ = fdatasync(fd)
        preallocatedBytes = Int(size)
    }

    deinit { Glibc.close(fd) }

    // MARK: Capture (called by Statement and Storage on the loop thread)

    var turnHasRecords: Bool { turn.count > turnPayloadStart }
    /// Memory the turn buffer holds (SQLITE.INFO): bounded by `maxTurnBytes` and one definition.
    var turnBufferCapacity: Int { turn.capacity }
    /// Turns logged since SQLite last committed.
    var epochHasRecords: Bool { lastLSN > appliedLSN }

    /// Appends a statement's execution (its definition first if the epoch has not seen it). A
    /// turn that would pass `maxTurnBytes` is marked unloggable before anything is copied, so
    /// the buffer never holds more than that and one execution.
    func record(_ statement: Statement) {
        guard !turnUnloggable else { return }
        let parameters = statement.captured
        let copies = statement.capturedCopies
        var size = 7  // tag, number, count
        for index in parameters.indices {
            switch parameters[index] {
            case .null: size += 1
            case .integer, .real: size += 9
            case .blob(let view): size += 5 + view.count
            case .copy: size += 5 + copies[index].count
            }
        }
        guard turn.count - turnPayloadStart + size <= options.maxTurnBytes,
              let number = self.number(for: statement) else {
            markTurnUnloggable()
            return
        }
        let start = turn.count
        if !definedInFile[Int(number)] && !definedInTurn[Int(number)] {
            let text = statement.sql
            turn.append(Self.defineTag)
            turn.appendLittleEndian(number)
            turn.appendLittleEndian(UInt32(text.utf8.count))
            turn.append(text)
            definedInTurn[Int(number)] = true
            turnDefinitions.append((number, start))
        }
        turn.appendReserved(size) { out in
            out.byte(Self.execTag)
            out.littleEndian(number)
            out.littleEndian(UInt16(parameters.count))
            for index in parameters.indices {
                switch parameters[index] {
                case .null:
                    out.byte(0)
                case .integer(let integer):
                    out.byte(1)
                    out.littleEndian(integer)
                case .real(let real):
                    out.byte(2)
                    out.littleEndian(real.bitPattern)
                case .blob(let view):
                    out.byte(3)
                    out.littleEndian(UInt32(view.count))
                    out.bytes(view)
                case .copy(let isText):
                    out.byte(isText ? 4 : 3)
                    out.littleEndian(UInt32(copies[index].count))
                    copies[index].withUnsafeBytes { out.bytes($0) }
                }
            }
        }
        lastRecordStart = start
    }

    /// The statement's number (by its SQL text); nil once `maxStatementNumbers` are taken.
    private func number(for statement: Statement) -> UInt32? {
        if statement.redoNumber >= 0 { return UInt32(statement.redoNumber) }
        let text = statement.sql
        let number: UInt32
        if let known = numbers[text] {
            number = known
        } else {
            guard numbers.count < Self.maxStatementNumbers else { return nil }
            number = UInt32(numbers.count)
            numbers[text] = number
            definedInFile.append(false)
            definedInTurn.append(false)
        }
        statement.redoNumber = Int64(number)
        return number
    }

    /// The last recorded statement failed (SQLite undid it): its operations go.
    func cancelLastRecord() {
        guard lastRecordStart >= 0, !turnUnloggable else { return }
        cut(to: lastRecordStart)
        lastRecordStart = -1
    }

    /// A command's savepoint opened / rolled back / released.
    func savepointOpened() { savepointMark = turn.count }
    func savepointRolledBack() {
        if savepointMark >= 0 && !turnUnloggable { cut(to: savepointMark) }
        savepointMark = -1
    }
    func savepointReleased() { savepointMark = -1 }

    /// A write outside captured statements (schema changes), or a turn too large to log: the
    /// turn must commit.
    func markTurnUnloggable() {
        turnUnloggable = true
        cut(to: turnPayloadStart)
    }

    private func cut(to offset: Int) {
        precondition(offset >= turnPayloadStart && offset <= turn.count, "cut inside the turn")
        while let last = turnDefinitions.last, last.offset >= offset {
            definedInTurn[Int(last.number)] = false
            turnDefinitions.removeLast()
        }
        turn.truncate(to: offset)
        if lastRecordStart >= offset { lastRecordStart = -1 }
    }

    /// Forgets the open turn (committed with the transaction, or rolled back).
    func discardTurn() {
        cut(to: turnPayloadStart)
        turnDefinitions.removeAll(keepingCapacity: true)
        lastRecordStart = -1
        savepointMark = -1
        turnUnloggable = false
        commitRequested = false
    }

    // MARK: Turn end

    /// Whether the open turn may be logged instead of committed: the loop is busy, the turn
    /// wrote nothing the log cannot replay, and the epoch is within its time and byte budgets.
    func mayDefer(idle: Bool, now: Int64) -> Bool {
        guard !idle, !turnUnloggable, !commitRequested else { return false }
        guard turnHasRecords || epochHasRecords else { return false }
        if epochHasRecords && now - epochStartedAt >= Int64(options.maxDeferMs) { return false }
        return Int(fileOffset) + turn.count <= options.maxDeferBytes
    }

    /// Writes the open turn as one record (with the file header first in a new epoch); on
    /// success the turn is acknowledged. Throws (nothing counts as written) on a write error.
    func writeTurn(now: Int64) throws {
        precondition(turnHasRecords && !turnUnloggable, "a loggable turn")
        let lsn = lastLSN + 1
        let newEpoch = fileOffset == 0
        if newEpoch {
            assert(lastLSN == appliedLSN, "a new epoch starts at what SQLite holds")
            salt = UInt64.random(in: 1...UInt64.max)
            turn.storeLittleEndian(Self.magic, at: 0)
            turn.storeLittleEndian(appliedLSN, at: 8)
            turn.storeLittleEndian(salt, at: 16)
            turn.storeLittleEndian(Self.checksum(turn.written(from: 0, to: 24), seed: 0), at: 24)
        }
        let header = Self.headerBytes
        let payloadLength = turn.count - turnPayloadStart
        turn.storeLittleEndian(UInt32(payloadLength), at: header)
        turn.storeLittleEndian(UInt32(0), at: header + 4)
        turn.storeLittleEndian(lsn, at: header + 8)
        turn.storeLittleEndian(salt, at: header + 16)
        let seed = Self.checksum(turn.written(from: header, to: header + 24), seed: 0)
        turn.storeLittleEndian(Self.checksum(turn.written(from: turnPayloadStart, to: turn.count), seed: seed), at: header + 24)
        let bytes = turn.written(from: newEpoch ? 0 : header, to: turn.count)
        try writeFully(bytes, at: fileOffset)
        if syncEachTurn && fdatasync(fd) != 0 {
            throw RedoLogError(message: "fdatasync \(path): \(String(cString: strerror(errno)))")
        }
        fileOffset += Int64(bytes.count)
        if newEpoch { epochStartedAt = now }
        lastLSN = lsn
        for definition in turnDefinitions { definedInFile[Int(definition.number)] = true }
        turnsLogged += 1
        bytesLogged += Int64(bytes.count)
        discardTurn()
    }

    /// Test hook: the next `count` turn writes fail as if the disk were full.
    static var failNextWrites = 0

    private func writeFully(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        if Self.failNextWrites > 0 {
            Self.failNextWrites -= 1
            throw SQLiteError(code: SQLITE_FULL, message: "redo log write failed (test hook)")
        }
        var written = 0
        while written < bytes.count {
            // Safe: the range [written, count) lies inside `bytes`.
            let result = pwrite(fd, bytes.baseAddress! + written, bytes.count - written, off_t(offset) + off_t(written))
            if result < 0 {
                if errno == EINTR { continue }
                let code: Int32 = errno == ENOSPC ? SQLITE_FULL : SQLITE_IOERR
                throw SQLiteError(code: code, message: "redo log write failed: \(String(cString: strerror(errno)))")
            }
            written += result
        }
    }

    /// SQLite committed everything logged so far: the next logged turn starts a new epoch.
    func committed() {
        if epochHasRecords { deferredCommits += 1 }
        appliedLSN = lastLSN
        fileOffset = 0
        epochStartedAt = 0
        for index in definedInFile.indices { definedInFile[index] = false }
        discardTurn()
    }

    /// Start-up replayed the turns through `lastLSN` (what the database now holds) and
    /// committed them: the server owns the log from here, and the file starts empty.
    func recovered(lastLSN: UInt64, turns: Int) {
        appliedLSN = lastLSN
        self.lastLSN = lastLSN
        replayedAtOpen = turns
        truncateFile()
    }

    /// Empties the file (a clean close after the last commit). A preallocated file keeps its
    /// blocks: only its header is zeroed.
    func truncateFile() {
        if preallocatedBytes > 0 {
            let zeros = [UInt8](repeating: 0, count: Self.headerBytes)
            _ = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        } else {
            _ = ftruncate(fd, 0)
        }
        fileOffset = 0
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        cshim_xxh64(bytes.baseAddress, bytes.count, seed)
    }

    // MARK: Reading and replay

    /// The turns of a log file, in order: the epoch's base LSN and each whole record's LSN
    /// and payload (stopping at the first record that is not part of the log).
    struct Contents {
        var baseLSN: UInt64
        var records: [(lsn: UInt64, payload: ArraySlice<UInt8>)]
    }

    /// Parses a log file's bytes; nil if it holds no valid header (empty, or not a log).
    static func parse(_ bytes: [UInt8]) -> Contents? {
        var reader = ByteReader(bytes)
        guard bytes.count >= headerBytes, Array(bytes[0..<8]) == magicBytes else { return nil }
        let headerSum = bytes.withUnsafeBytes { checksum(UnsafeRawBufferPointer(rebasing: $0[0..<24]), seed: 0) }
        reader.offset = 8
        guard let base = reader.u64(), let salt = reader.u64(), let sum = reader.u64(), sum == headerSum else { return nil }
        var contents = Contents(baseLSN: base, records: [])
        var expected = base + 1
        while reader.remaining >= recordHeaderBytes {
            let start = reader.offset
            guard let length = reader.u32(), let flags = reader.u32(), let lsn = reader.u64(), let recordSalt = reader.u64(),
                  let recordSum = reader.u64() else { break }
            guard flags == 0, recordSalt == salt, lsn == expected, Int(length) <= reader.remaining else { break }
            let payloadStart = reader.offset
            let payloadEnd = payloadStart + Int(length)
            let computed = bytes.withUnsafeBytes { raw -> UInt64 in
                let seed = checksum(UnsafeRawBufferPointer(rebasing: raw[start..<(start + 24)]), seed: 0)
                return checksum(UnsafeRawBufferPointer(rebasing: raw[payloadStart..<payloadEnd]), seed: seed)
            }
            guard computed == recordSum else { break }
            contents.records.append((lsn, bytes[payloadStart..<payloadEnd]))
            reader.offset = payloadEnd
            expected += 1
        }
        return contents
    }

    /// Reads the file and replays, on `connection` (inside the caller's transaction), the turns
    /// after `appliedLSN` up to `upTo` (nil: every whole turn). Returns the LSN of the last turn
    /// replayed (`appliedLSN` if none). Throws if the file cannot be read or a statement fails.
    static func replay(path: String, appliedLSN: UInt64, upTo: UInt64?, connection: SQLiteConnection,
                       logger: Logger) throws -> (last: UInt64, turns: Int) {
        guard let data = FileManager.default.contents(atPath: path) else { return (appliedLSN, 0) }
        guard let contents = parse([UInt8](data)) else {
            // An all-zero header is an empty log (a preallocated file); anything else is not a log.
            if data.prefix(headerBytes).contains(where: { $0 != 0 }) {
                logger.warning("redo log \(path): no valid header; ignored")
            }
            return (appliedLSN, 0)
        }
        let pending = contents.records.filter { $0.lsn > appliedLSN && $0.lsn <= (upTo ?? .max) }
        if contents.baseLSN > appliedLSN {
            // SQLite lost commits the log had already been restarted after (power loss without
            // the `safety` template): the log cannot be applied on top; what it held is lost.
            if !pending.isEmpty {
                logger.error("redo log \(path) starts after the database's last turn (\(contents.baseLSN) > \(appliedLSN)): \(pending.count) logged turns cannot be replayed")
            }
            return (appliedLSN, 0)
        }
        if let upTo, upTo > appliedLSN, pending.last?.lsn != upTo {
            throw RedoLogError(message: "turn \(upTo) is not in \(path) (last whole turn: \(contents.records.last?.lsn ?? contents.baseLSN))")
        }
        var statements: [UInt32: OpaquePointer] = [:]
        defer { for statement in statements.values { sqlite3_finalize(statement) } }
        var last = appliedLSN
        for record in contents.records where record.lsn <= (upTo ?? .max) {
            try apply(record.payload, execute: record.lsn > appliedLSN, statements: &statements, connection: connection)
            if record.lsn > appliedLSN { last = record.lsn }
        }
        return (last, pending.count)
    }

    /// Runs one turn's operations (or, with `execute` false, only learns its definitions).
    private static func apply(_ payload: ArraySlice<UInt8>, execute: Bool, statements: inout [UInt32: OpaquePointer],
                              connection: SQLiteConnection) throws {
        var reader = ByteReader(Array(payload))
        while reader.remaining > 0 {
            guard let tag = reader.u8() else { throw RedoLogError(message: "truncated operation") }
            switch tag {
            case defineTag:
                guard let number = reader.u32(), let length = reader.u32(), let sql = reader.bytes(Int(length)) else {
                    throw RedoLogError(message: "truncated definition")
                }
                if let old = statements[number] { sqlite3_finalize(old) }
                var pointer: OpaquePointer?
                let text = String(decoding: sql, as: UTF8.self)
                guard sqlite3_prepare_v3(connection.handle, text, -1, 0, &pointer, nil) == SQLITE_OK, let pointer else {
                    throw RedoLogError(message: "cannot prepare logged statement \(number): \(connection.lastError.message)")
                }
                statements[number] = pointer
            case execTag:
                guard let number = reader.u32(), let count = reader.u16() else { throw RedoLogError(message: "truncated execution") }
                let statement = statements[number]
                if execute && statement == nil { throw RedoLogError(message: "statement \(number) used before its definition") }
                for index in 0..<Int32(count) {
                    guard let type = reader.u8() else { throw RedoLogError(message: "truncated parameter") }
                    try bindParameter(type, &reader, statement: execute ? statement : nil, index: index + 1)
                }
                guard execute, let statement else { continue }
                var result = sqlite3_step(statement)
                while result == SQLITE_ROW { result = sqlite3_step(statement) }
                sqlite3_reset(statement)
                guard result == SQLITE_DONE else {
                    throw RedoLogError(message: "logged statement \(number) failed: \(connection.lastError.message)")
                }
            default:
                throw RedoLogError(message: "unknown operation \(tag)")
            }
        }
    }

    private static func bindParameter(_ type: UInt8, _ reader: inout ByteReader, statement: OpaquePointer?, index: Int32) throws {
        switch type {
        case 0:
            if let statement { sqlite3_bind_null(statement, index) }
        case 1:
            guard let value = reader.u64() else { throw RedoLogError(message: "truncated integer") }
            if let statement { sqlite3_bind_int64(statement, index, Int64(bitPattern: value)) }
        case 2:
            guard let value = reader.u64() else { throw RedoLogError(message: "truncated real") }
            if let statement { sqlite3_bind_double(statement, index, Double(bitPattern: value)) }
        case 3, 4:
            guard let length = reader.u32(), let bytes = reader.bytes(Int(length)) else { throw RedoLogError(message: "truncated bytes") }
            guard let statement else { return }
            bytes.withUnsafeBytes { raw in
                // SQLITE_TRANSIENT: SQLite copies the bytes before this returns.
                let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
                if type == 3 {
                    _ = sqlite3_bind_blob64(statement, index, raw.baseAddress ?? UnsafeRawPointer(emptyBlobByte), sqlite3_uint64(raw.count), transient)
                } else {
                    let text = (raw.baseAddress ?? UnsafeRawPointer(emptyBlobByte)).assumingMemoryBound(to: CChar.self)
                    _ = sqlite3_bind_text64(statement, index, text, sqlite3_uint64(raw.count), transient, UInt8(SQLITE_UTF8))
                }
            }
        default:
            throw RedoLogError(message: "unknown parameter type \(type)")
        }
    }
}

/// Bounds-checked little-endian reads from bytes read from a file (hostile until checked).
struct ByteReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var remaining: Int { bytes.count - offset }

    mutating func u8() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }
    mutating func u16() -> UInt16? { integer(UInt16.self) }
    mutating func u32() -> UInt32? { integer(UInt32.self) }
    mutating func u64() -> UInt64? { integer(UInt64.self) }

    private mutating func integer<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { return nil }
        var value: T = 0
        for index in 0..<size { value |= T(bytes[offset + index]) << (8 * index) }
        offset += size
        return value
    }

    mutating func bytes(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }
}
