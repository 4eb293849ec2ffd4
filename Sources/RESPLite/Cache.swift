// The hot cache: key metadata and string values in front of SQLite, evicted least recently
// used first (approximately: CLOCK, one reference bit per entry), with entry and byte limits
// (REFERENCE.md §6). SQLite stays the source of truth; the cache never changes
// behaviour:
//  1. Every change of a `redis_keys` row, by any code path, reaches `invalidate(id:)` through
//     SQLite's update hook (installed by Storage), so an entry never outlives its row. The
//     exceptions are announced: a collection's count update (`Storage.adjustCount`, which
//     changes only `count`, `updated_at` and `version`) and the rewrite of a cached string by
//     its id (SET, INCR) pass `updatingInPlace` to the hook, then write the new count and time
//     (`adjust`), or the new value and TTL (`put`), into the entry, so a hot key keeps its entry
//     across writes.
//  2. FLUSH (SQLite's truncate optimisation skips the hook) and every rollback clear the whole
//     cache, so nothing uncommitted survives a failed command or batch.
//  3. Entries are made by reads (a key's metadata, a string's value) and by the writes of
//     strings (SET & co, INCR & co: the row id from the update hook); other writes evict them.
//  4. A read that finds no row at all leaves an *absent* entry (a GET of a missing key then
//     answers from the cache, as Redis would from memory). No row id names it, so it holds the
//     `absentGeneration` it was made in instead, and every insert or update of any key row
//     (the only ways a key can come to exist: a new row, RENAME's new name, an expired row
//     written again) moves the generation on, which retires every absent entry at once;
//     deletes leave it. A retired entry counts as a miss and is refreshed in place.
// Owned by the loop thread. Lookups hash the request bytes in place (no allocation).

import Foundation

/// Limits and switch of the hot cache.
public struct CacheOptions: Sendable {
    public var enabled = true
    /// Most entries kept. The original's 50,000 held half of redis-benchmark's 100,000 keys
    /// (`-P 16` GET at hit ratio 0.50: 0.41–0.49× Redis; with all of them cached 0.93×), so
    /// the byte limit governs by default: 64 MB is about 250,000 small strings.
    public var maxEntries = 500_000
    /// Most bytes kept: keys, values and `HotCache.entryOverheadBytes` per entry, so that it
    /// bounds the process memory the cache takes (the original's default: 64 MB).
    public var maxBytes = 64 * 1024 * 1024
    /// Strings larger than this are not cached (one huge value must not flush the cache).
    public var maxValueBytes = 256 * 1024
    /// Sorted sets up to this many members get their ranks kept in memory once read often
    /// without a write between (`SortedSetRanks`); 0 = never.
    public var sortedSetRankMaxMembers = SortedSetRanks.defaultMaxMembers
    /// Lists of up to this many elements get their elements kept in memory once read often
    /// without a write between (`ListHeads`); 0 = never.
    public var listHeadMaxElements = ListHeads.defaultMaxElements
    public init() {}
}

/// What the cache says of a key. `slot` names the entry until the cache next changes (the
/// caller reads its value at once, through `value(at:)`).
enum CacheLookup {
    case miss
    /// No row had this key when it was last read, and no key row was inserted or updated since.
    case absent
    case present(KeyRecord, slot: Int32)
}

final class HotCache {
    // Memory layout, for the hit path (measured: `-P 16` GET spent 40% of the loop in three
    // dependent cache misses of `find`, and the LRU list's relinking touched two more slots):
    // a hit reads the bucket, the slot, and one heap object holding the key and then the
    // value; recency is one flag in the slot (CLOCK), not a list through other slots.
    private struct Slot {
        var hash: Int
        /// The key's bytes, then (when `hasValue`) the string's value: one allocation, so the
        /// key comparison and the reply read the same object.
        var data: [UInt8]
        var record: KeyRecord
        var keyCount: Int32
        /// Its position in `buckets` (moved only by a removal's backward shift), so removal
        /// needs no probe; -1 for a free slot.
        var bucket: Int32 = -1
        var bytes: Int
        /// The `absentGeneration` of an absent entry (its `record` is a placeholder and it is
        /// not in `idToSlot`); -1 for an entry of a row.
        var absentGeneration: Int64 = -1
        var hasValue: Bool
        /// CLOCK's reference bit: set by every hit, cleared as the eviction hand passes.
        var referenced = true
        var isAbsent: Bool { absentGeneration >= 0 }
    }

    /// Memory an entry takes besides its key and value bytes (slot, array header, hash
    /// bucket, id index, allocator rounding). Measured: 94,904 entries of 16-byte keys and
    /// 64-byte values grew the process by 25.8 MB, ~272 bytes each (with the key and value in
    /// separate arrays; one array now).
    static let entryOverheadBytes = 192

    let options: CacheOptions
    private var slots: [Slot] = []
    private var freeSlots: [Int32] = []
    /// Open addressing with linear probing: bucket → slot index (-1 empty).
    private var buckets: [Int32]
    private var bucketMask: Int
    private var idToSlot = IdIndex()
    /// CLOCK hand: the next slot the eviction looks at.
    private var hand = 0
    private(set) var count = 0
    private(set) var bytes = 0
    /// Absent entries among `count` (they are not in `idToSlot`).
    private(set) var absentCount = 0
    /// Moved on by every insert or update of a key row (Storage's update hook); absent entries
    /// of an older generation are retired (rule 4 above).
    private(set) var absentGeneration: Int64 = 0

    private(set) var hits: Int64 = 0
    private(set) var misses: Int64 = 0
    private(set) var evictions: Int64 = 0
    private(set) var invalidations: Int64 = 0

    init(options: CacheOptions) {
        self.options = options
        var size = 1024
        while size < options.maxEntries * 2 { size *= 2 }
        buckets = [Int32](repeating: -1, count: size)
        bucketMask = size - 1
    }

    @inline(__always) static func hash(_ key: ByteView) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        key.withUnsafeBytes { bytes in
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        return Int(truncatingIfNeeded: hash & 0x7fff_ffff_ffff_ffff)
    }

    @inline(__always) private func keyMatches(_ key: ByteView, _ index: Int) -> Bool {
        let keyCount = Int(slots[index].keyCount)
        guard keyCount == key.count else { return false }
        if keyCount == 0 { return true }
        // Fields read in place: copying the Slot would retain and release its array.
        return slots[index].data.withUnsafeBytes { memcmp($0.baseAddress!, key.base!, keyCount) == 0 }
    }

    private func find(_ key: ByteView, hash: Int) -> (bucket: Int, slot: Int32)? {
        var bucket = hash & bucketMask
        while true {
            let slot = buckets[bucket]
            if slot == -1 { return nil }
            if slot >= 0 && slots[Int(slot)].hash == hash && keyMatches(key, Int(slot)) { return (bucket, slot) }
            bucket = (bucket + 1) & bucketMask
        }
    }

    /// What the cache knows of a key (a hit sets the entry's reference bit); counts a hit or
    /// a miss (a retired absent entry is a miss).
    func probe(_ key: ByteView) -> CacheLookup {
        let (lookup, slot) = locate(key)
        if case .miss = lookup {
            misses += 1
            return .miss
        }
        hits += 1
        let index = Int(slot)
        if !slots[index].referenced { slots[index].referenced = true }
        return lookup
    }

    /// What the cache knows of a key, for a writer about to delete it (its own write drops the
    /// entry): not counted as a lookup, the reference bit left alone.
    func peek(_ key: ByteView) -> CacheLookup { locate(key).lookup }

    /// What the entry of `key` says (a retired absent entry says nothing), and its slot.
    @inline(__always) private func locate(_ key: ByteView) -> (lookup: CacheLookup, slot: Int32) {
        guard count > 0, let found = find(key, hash: Self.hash(key)) else { return (.miss, -1) }
        let index = Int(found.slot)
        let generation = slots[index].absentGeneration
        if generation < 0 { return (.present(slots[index].record, slot: found.slot), found.slot) }
        return (generation == absentGeneration ? .absent : .miss, found.slot)
    }

    /// The cached value of the string entry `slot` (from `probe`, no change since): the array
    /// holding it and where the value starts in it. nil if only the record is cached.
    func value(at slot: Int32) -> (storage: [UInt8], offset: Int)? {
        let index = Int(slot)
        guard slots[index].hasValue else { return nil }
        return (slots[index].data, Int(slots[index].keyCount))
    }

    /// The row id and expiry of a cached string, for a writer about to replace it (its own
    /// write evicts the entry): not counted as a lookup, the LRU order left alone.
    func peekString(_ key: ByteView) -> (id: Int64, expiresAt: Int64?)? {
        guard case .present(let record, _) = peek(key), record.type == .string else { return nil }
        return (record.id, record.expiresAt)
    }

    /// An insert or update of key row `id` happened: every absent entry is retired.
    @inline(__always) func keyRowWritten(id: Int64) {
        absentGeneration &+= 1
        lastWrittenRowid = id
    }

    /// The key row the last insert or update wrote (an upsert does not set last_insert_rowid
    /// when it updates).
    private(set) var lastWrittenRowid: Int64 = 0

    /// Records that SQLite has no row for `key` (read just now, in this generation).
    func putAbsent(_ key: ByteView) {
        let size = key.count + Self.entryOverheadBytes
        guard size <= options.maxBytes else { return }
        let hash = Self.hash(key)
        if let found = find(key, hash: hash) {
            let index = Int(found.slot)
            if !slots[index].isAbsent {
                idToSlot[slots[index].record.id] = nil
                slots[index].record = Self.absentPlaceholder
                absentCount += 1
            }
            if slots[index].hasValue {
                slots[index].data = key.array
                slots[index].hasValue = false
            }
            slots[index].absentGeneration = absentGeneration
            bytes += size - slots[index].bytes
            slots[index].bytes = size
            slots[index].referenced = true
        } else {
            var slot = Slot(hash: hash, data: key.array, record: Self.absentPlaceholder, keyCount: Int32(key.count),
                            bytes: size, hasValue: false)
            slot.absentGeneration = absentGeneration
            insert(slot)
            absentCount += 1
        }
        evictOverLimits()
    }

    private static let absentPlaceholder = KeyRecord(id: 0, type: .string, expiresAt: nil, updatedAt: 0, count: 0)

    /// Stores what was just read from SQLite: a key's record and, for a string, its value
    /// (nil: the record only).
    func put(_ key: ByteView, _ record: KeyRecord, value: ByteView? = nil) {
        let size = key.count + (value?.count ?? 0) + Self.entryOverheadBytes
        guard (value?.count ?? 0) <= options.maxValueBytes, size <= options.maxBytes else {
            // Not kept: whatever the key had must not answer for it any more.
            remove(key)
            return
        }
        let hash = Self.hash(key)
        if let found = find(key, hash: hash) {
            let index = Int(found.slot)
            if slots[index].isAbsent {
                slots[index].absentGeneration = -1
                absentCount -= 1
                idToSlot[record.id] = found.slot
            } else if slots[index].record.id != record.id {
                idToSlot[slots[index].record.id] = nil
                idToSlot[record.id] = found.slot
            }
            bytes += size - slots[index].bytes
            slots[index].record = record
            if let value, value.count > 0, slots[index].hasValue, slots[index].data.count == key.count + value.count {
                // A value of the same size (a SET or INCR of a hot key): its bytes are rewritten
                // in the entry's array, no allocation. (Copy-on-write keeps a reply that still
                // holds the array intact.) memmove: `value` may be a view of this very array.
                slots[index].data.withUnsafeMutableBytes { buffer in
                    // Safe: the array holds key.count + value.count bytes (checked above).
                    _ = memmove(buffer.baseAddress! + key.count, value.base!, value.count)
                }
            } else {
                slots[index].data = Self.concatenate(key, value)
                slots[index].hasValue = value != nil
            }
            slots[index].bytes = size
            slots[index].referenced = true
        } else {
            let index = insert(Slot(hash: hash, data: Self.concatenate(key, value), record: record, keyCount: Int32(key.count),
                                    bytes: size, hasValue: value != nil))
            idToSlot[record.id] = index
        }
        evictOverLimits()
    }

    /// The key's bytes followed by the value's, in one array.
    private static func concatenate(_ key: ByteView, _ value: ByteView?) -> [UInt8] {
        let total = key.count + (value?.count ?? 0)
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            // Safe: the buffer holds `total` bytes; each copy stays within its part.
            if key.count > 0 { memcpy(buffer.baseAddress!, key.base!, key.count) }
            if let value, value.count > 0 { memcpy(buffer.baseAddress! + key.count, value.base!, value.count) }
            initialized = total
        }
    }

    /// Places a new slot in the table (its reference bit set).
    @discardableResult
    private func insert(_ slot: Slot) -> Int32 {
        let index: Int32
        if let reused = freeSlots.popLast() {
            index = reused
            slots[Int(index)] = slot
        } else {
            index = Int32(slots.count)
            slots.append(slot)
        }
        var bucket = slot.hash & bucketMask
        while buckets[bucket] >= 0 { bucket = (bucket + 1) & bucketMask }
        buckets[bucket] = index
        slots[Int(index)].bucket = Int32(bucket)
        count += 1
        bytes += slot.bytes
        return index
    }

    private func evictOverLimits() {
        while count > options.maxEntries || bytes > options.maxBytes, count > 0 {
            evictions += 1
            removeSlot(Int32(nextVictim()))
        }
    }

    /// CLOCK: the first live slot from the hand on whose reference bit is clear, clearing the
    /// bits it passes. Bounded: after one full turn every bit is clear.
    private func nextVictim() -> Int {
        assert(count > 0, "a victim exists")
        let limit = 2 * slots.count + 1
        for _ in 0..<limit {
            if hand >= slots.count { hand = 0 }
            let index = hand
            hand += 1
            guard slots[index].bucket >= 0 else { continue }  // a free slot
            if slots[index].referenced {
                slots[index].referenced = false
                continue
            }
            return index
        }
        preconditionFailure("CLOCK found no victim among \(count) entries")
    }

    /// The key row whose entry the next update hook call leaves for `adjust` to correct
    /// (-1: none). Set only around `Storage.adjustCount`'s UPDATE.
    var updatingInPlace: Int64 = -1

    /// Drops the entry of the key row `id` (SQLite's update hook).
    func invalidate(id: Int64) {
        if id == updatingInPlace { return }
        guard let slot = idToSlot[id] else { return }
        invalidations += 1
        removeSlot(slot)
    }

    /// Writes a collection's new count and last-write time into its entry, if cached (after
    /// the UPDATE that `updatingInPlace` announced).
    func adjust(id: Int64, count newCount: Int64, updatedAt: Int64) {
        guard let slot = idToSlot[id] else { return }
        slots[Int(slot)].record.count = newCount
        slots[Int(slot)].record.updatedAt = updatedAt
    }

    func remove(_ key: ByteView) {
        guard let found = find(key, hash: Self.hash(key)) else { return }
        removeSlot(found.slot)
    }

    /// Forgets everything (FLUSH, rollback).
    func clear() {
        guard count > 0 else { return }
        slots.removeAll(keepingCapacity: true)
        freeSlots.removeAll()
        for index in buckets.indices { buckets[index] = -1 }
        idToSlot.removeAll(keepingCapacity: true)
        hand = 0
        count = 0
        absentCount = 0
        bytes = 0
    }

    /// The table's invariants, one line per violation (tests): every entry is found from its
    /// key, its bucket points back at it, the id index and the free list agree with the count.
    func invariantViolations() -> [String] {
        var problems: [String] = []
        var live = 0
        var absent = 0
        for (bucket, slot) in buckets.enumerated() where slot >= 0 {
            live += 1
            let index = Int(slot)
            if slots[index].bucket != Int32(bucket) { problems.append("slot \(slot) records bucket \(slots[index].bucket), sits in \(bucket)") }
            let key = Array(slots[index].data[..<Int(slots[index].keyCount)])
            let found = key.withByteView { find($0, hash: slots[index].hash) }
            if found?.slot != slot { problems.append("slot \(slot) not found from its key") }
            if slots[index].isAbsent {
                absent += 1
                if slots[index].hasValue { problems.append("absent slot \(slot) holds a value") }
            } else if idToSlot[slots[index].record.id] != slot {
                problems.append("id index misses slot \(slot)")
            }
        }
        let free = slots.indices.filter { slots[$0].bucket < 0 }.count
        if live != count || free != freeSlots.count || live + free != slots.count
            || idToSlot.count + absent != count || absent != absentCount {
            problems.append("count \(count), buckets \(live), free \(free) of \(freeSlots.count) listed, slots \(slots.count), id index \(idToSlot.count), absent \(absent) of \(absentCount)")
        }
        return problems
    }

    func resetStats() {
        hits = 0
        misses = 0
        evictions = 0
        invalidations = 0
    }

    // MARK: Table maintenance

    private func removeSlot(_ slot: Int32) {
        let index = Int(slot)
        let bucket = Int(slots[index].bucket)
        assert(buckets[bucket] == slot, "a slot's bucket points back at it")
        clearBucket(bucket)
        if slots[index].isAbsent {
            slots[index].absentGeneration = -1
            absentCount -= 1
        } else {
            idToSlot[slots[index].record.id] = nil
        }
        count -= 1
        bytes -= slots[index].bytes
        slots[index].data = []
        slots[index].hasValue = false
        slots[index].bucket = -1
        freeSlots.append(slot)
    }

    /// Empties `bucket` and moves the later entries of its probe run that may sit earlier back
    /// into the hole (backward-shift deletion): linear probing without tombstones, so lookups
    /// never slow down and no rehash ever stops the loop. An entry stays when its home bucket
    /// lies cyclically in (hole, probe]. Ends at the first empty bucket; the table is at least
    /// twice `maxEntries`, so one exists.
    private func clearBucket(_ bucket: Int) {
        var hole = bucket
        var probe = bucket
        buckets[hole] = -1
        while true {
            probe = (probe + 1) & bucketMask
            let slot = buckets[probe]
            if slot < 0 { return }
            let home = slots[Int(slot)].hash & bucketMask
            if !backwardShiftKeepsInPlace(home: home, hole: hole, probe: probe) {
                buckets[hole] = slot
                slots[Int(slot)].bucket = Int32(hole)
                buckets[probe] = -1
                hole = probe
            }
        }
    }
}

/// Backward-shift deletion in a table with linear probing (the key table and `IdIndex`): after
/// a hole, the entry at `probe` stays where it is when its home bucket lies cyclically in
/// (hole, probe]; otherwise it moves into the hole.
@inline(__always) func backwardShiftKeepsInPlace(home: Int, hole: Int, probe: Int) -> Bool {
    hole <= probe ? (home > hole && home <= probe) : (home > hole || home <= probe)
}

/// Row id → slot of the hot cache: open addressing with linear probing and backward-shift
/// deletion, as the key table, hashed by one multiplication. Swift's Dictionary hashes an
/// Int64 with SipHash: callgrind counted ~500 instructions per insert and ~250 per lookup, paid
/// by every new key and by the update hook on every row written. Grows by doubling at half
/// full (it starts small: its memory follows the cache's entries, not `maxEntries`).
struct IdIndex {
    static let initialCapacity = 1024
    /// Row ids, and their slots (-1: empty bucket; any Int64 is a valid id).
    private var ids: [Int64]
    private var slots: [Int32]
    private var mask: Int
    private var shift: UInt64
    private(set) var count = 0

    init() {
        ids = [Int64](repeating: 0, count: Self.initialCapacity)
        slots = [Int32](repeating: -1, count: Self.initialCapacity)
        mask = Self.initialCapacity - 1
        shift = UInt64(64 - Self.initialCapacity.trailingZeroBitCount)
    }

    var capacity: Int { slots.count }

    /// Fibonacci hashing: the top bits of id × 2^64/φ, as many as the table has buckets.
    @inline(__always) static func home(_ id: Int64, capacity: Int) -> Int {
        home(id, shift: UInt64(64 - capacity.trailingZeroBitCount))
    }

    @inline(__always) private static func home(_ id: Int64, shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (UInt64(bitPattern: id) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    @inline(__always) private func home(_ id: Int64) -> Int { Self.home(id, shift: shift) }

    /// The bucket holding `id`, or the empty bucket where it would go.
    @inline(__always) private func bucket(of id: Int64) -> Int {
        var bucket = home(id)
        while slots[bucket] >= 0 && ids[bucket] != id { bucket = (bucket + 1) & mask }
        return bucket
    }

    subscript(id: Int64) -> Int32? {
        get {
            let slot = slots[bucket(of: id)]
            return slot >= 0 ? slot : nil
        }
        set {
            if let newValue { insert(id, newValue) } else { remove(id) }
        }
    }

    private mutating func insert(_ id: Int64, _ slot: Int32) {
        assert(slot >= 0, "slots are table indices")
        var bucket = bucket(of: id)
        if slots[bucket] < 0 {
            if (count + 1) * 2 > capacity {
                grow()
                bucket = self.bucket(of: id)
            }
            count += 1
            ids[bucket] = id
        }
        slots[bucket] = slot
    }

    /// Backward-shift deletion, as HotCache.clearBucket (`backwardShiftKeepsInPlace`).
    private mutating func remove(_ id: Int64) {
        var hole = bucket(of: id)
        guard slots[hole] >= 0 else { return }
        count -= 1
        slots[hole] = -1
        var probe = hole
        while true {
            probe = (probe + 1) & mask
            if slots[probe] < 0 { return }
            let home = home(ids[probe])
            if !backwardShiftKeepsInPlace(home: home, hole: hole, probe: probe) {
                ids[hole] = ids[probe]
                slots[hole] = slots[probe]
                slots[probe] = -1
                hole = probe
            }
        }
    }

    private mutating func grow() {
        let oldIds = ids, oldSlots = slots
        let newCapacity = capacity * 2
        ids = [Int64](repeating: 0, count: newCapacity)
        slots = [Int32](repeating: -1, count: newCapacity)
        mask = newCapacity - 1
        shift = UInt64(64 - newCapacity.trailingZeroBitCount)
        for index in oldSlots.indices where oldSlots[index] >= 0 {
            let bucket = bucket(of: oldIds[index])
            ids[bucket] = oldIds[index]
            slots[bucket] = oldSlots[index]
        }
    }

    /// Empties the index; `keepingCapacity` keeps its table.
    mutating func removeAll(keepingCapacity: Bool) {
        if keepingCapacity {
            for index in slots.indices { slots[index] = -1 }
        } else {
            self = IdIndex()
        }
        count = 0
    }
}

// MARK: - Read-mostly collections

/// In-memory copies of read-mostly collections (the ranks of a sorted set, the head of a list),
/// each exact by construction: a copy holds the generations it was read at
/// (`CollectionGenerations`: its table's, moved by every statement that may change the table
/// unless marked with the one key it writes, by every rollback and every `execute`; and its
/// key's) and answers only while neither has moved, and only for a collection of the same
/// element count.
///
/// Reading a collection whole costs many ordinary queries, so a collection is read only once it
/// has had `threshold` queries with no write of it between; the threshold starts at
/// `initialThreshold` and doubles for a collection whose copy was outdated by a write before
/// it had answered that many queries (up to `maxThreshold`), and halves for one whose copy paid
/// off. Bounds: `maxElements` per collection (the caller's), `maxSets` copies, `maxBytes`
/// (least recently used copies go first), `maxTrackedSets` collections whose queries are
/// counted.
final class ReadMostlyCache<Value> {
    typealias Generation = CollectionGenerations.Pair

    struct Limits {
        var maxElements: Int
        var maxSets = 16
        var maxBytes = 32 * 1024 * 1024
        var initialThreshold = 8
        var maxThreshold = 1_024
        var maxTrackedSets = 256
        /// The copy is the first `maxElements` elements of a collection of any length (a
        /// list's head), not a whole collection of at most `maxElements`.
        var prefix = false
    }

    private struct Entry {
        let generation: Generation
        let count: Int64
        let value: Value
        let bytes: Int
        var lastUsed: UInt64
        var hits = 0
    }

    /// Queries of a collection at one generation, and after how many it is read.
    private struct Demand {
        var generation: Generation
        var queries = 0
        var threshold: Int
    }

    let limits: Limits
    private var entries: [Int64: Entry] = [:]
    private var demand: [Int64: Demand] = [:]
    private var bytes = 0
    private var clock: UInt64 = 0
    private(set) var hits: Int64 = 0
    private(set) var reads: Int64 = 0

    init(_ limits: Limits) { self.limits = limits }

    var enabled: Bool { limits.maxElements > 0 }
    var setCount: Int { entries.count }
    var byteCount: Int { bytes }

    /// The copy of collection `id` (`count` elements, whose generations `generation` reads):
    /// the kept one if current; otherwise, once the collection has been asked often enough,
    /// the one `read` returns (nil: none to keep), kept if nothing moved the generations while
    /// it was read.
    func copy(id: Int64, count: Int64, generation: () -> Generation,
              read: () throws -> (value: Value, bytes: Int)?) rethrows -> Value? {
        let before = generation()
        if let kept = value(id: id, count: count, generation: before) { return kept }
        guard shouldRead(id: id, count: count, generation: before), let fresh = try read(),
              generation() == before else { return nil }
        store(id: id, fresh.value, bytes: fresh.bytes, count: count, generation: before)
        return value(id: id, count: count, generation: before)
    }

    /// The copy of collection `id`, if it is current (counted as a hit).
    private func value(id: Int64, count: Int64, generation: Generation) -> Value? {
        guard var entry = entries[id] else { return nil }
        guard entry.generation == generation && entry.count == count else {
            outdated(id, entry)
            return nil
        }
        clock &+= 1
        entry.lastUsed = clock
        entry.hits += 1
        entries[id] = entry
        hits += 1
        return entry.value
    }

    /// Counts a query of collection `id` that found no copy; true when it should be read now.
    private func shouldRead(id: Int64, count: Int64, generation: Generation) -> Bool {
        guard count > 0 && (limits.prefix || count <= Int64(limits.maxElements)) else { return false }
        if demand[id] == nil && demand.count >= limits.maxTrackedSets { demand.removeAll() }
        var wanted = demand[id] ?? Demand(generation: generation, threshold: limits.initialThreshold)
        if wanted.generation != generation {
            wanted.generation = generation
            wanted.queries = 0
        }
        wanted.queries += 1
        demand[id] = wanted
        return wanted.queries >= wanted.threshold
    }

    /// Keeps a copy of collection `id` (read at `generation`, `count` elements, about `size` bytes).
    private func store(id: Int64, _ value: Value, bytes size: Int, count: Int64, generation: Generation) {
        guard size <= limits.maxBytes else { return }
        if let old = entries.removeValue(forKey: id) { bytes -= old.bytes }
        clock &+= 1
        entries[id] = Entry(generation: generation, count: count, value: value, bytes: size, lastUsed: clock)
        bytes += size
        reads += 1
        while entries.count > limits.maxSets || bytes > limits.maxBytes {
            guard let oldest = entries.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key else { break }
            if let entry = entries.removeValue(forKey: oldest) { bytes -= entry.bytes }
        }
    }

    /// Drops a copy a write outdated; a collection whose copy did not pay for its read waits
    /// longer before the next one (and one that did, less long).
    private func outdated(_ id: Int64, _ entry: Entry) {
        entries.removeValue(forKey: id)
        bytes -= entry.bytes
        guard var wanted = demand[id] else { return }
        wanted.threshold = entry.hits < wanted.threshold
            ? Swift.min(wanted.threshold * 2, limits.maxThreshold)
            : Swift.max(wanted.threshold / 2, limits.initialThreshold)
        demand[id] = wanted
    }
}
