// The hot cache: an LRU of key metadata and string values in front of SQLite, with entry and
// byte limits (REFERENCE.md §6). SQLite stays the source of truth; the cache never changes
// behaviour:
//  1. Every change of a `redis_keys` row, by any code path, reaches `invalidate(id:)` through
//     SQLite's update hook (installed by Storage), so an entry never outlives its row. The one
//     exception is announced: a collection's count update (`Storage.adjustCount`, which changes
//     only `count`, `updated_at` and `version`) passes `updatingInPlace` to the hook, then
//     writes the new count and time into the entry (`adjust`), so a hot collection keeps its
//     entry across writes.
//  2. FLUSH (SQLite's truncate optimisation skips the hook) and every rollback clear the whole
//     cache, so nothing uncommitted survives a failed command or batch.
//  3. Entries are made by reads (a key's metadata, a string's value); a write evicts them.
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
    public init() {}
}

/// What the cache knows of a key.
struct CachedKey {
    var record: KeyRecord
    /// The value of a string (nil for collections, or when not loaded).
    var value: [UInt8]?
}

/// What the cache says of a key.
enum CacheLookup {
    case miss
    /// No row had this key when it was last read, and no key row was inserted or updated since.
    case absent
    case present(CachedKey)
}

final class HotCache {
    private struct Slot {
        var key: [UInt8]
        var entry: CachedKey
        var hash: Int
        /// Its position in `buckets` (moved only by a removal's backward shift), so removal
        /// needs no probe.
        var bucket: Int32 = -1
        var previous: Int32 = -1
        var next: Int32 = -1
        var bytes: Int
        /// The `absentGeneration` of an absent entry (its `entry` is a placeholder and it is not
        /// in `idToSlot`); -1 for an entry of a row.
        var absentGeneration: Int64 = -1
        var isAbsent: Bool { absentGeneration >= 0 }
    }

    /// Memory an entry takes besides its key and value bytes (slot, array headers, hash
    /// bucket, id index, allocator rounding). Measured: 94,904 entries of 16-byte keys and
    /// 64-byte values grew the process by 25.8 MB, ~272 bytes each.
    static let entryOverheadBytes = 192

    let options: CacheOptions
    private var slots: [Slot] = []
    private var freeSlots: [Int32] = []
    /// Open addressing with linear probing: bucket → slot index (-1 empty).
    private var buckets: [Int32]
    private var bucketMask: Int
    private var idToSlot: [Int64: Int32] = [:]
    private var head: Int32 = -1  // most recently used
    private var tail: Int32 = -1  // least recently used
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

    private func find(_ key: ByteView, hash: Int) -> (bucket: Int, slot: Int32)? {
        var bucket = hash & bucketMask
        while true {
            let slot = buckets[bucket]
            if slot == -1 { return nil }
            // Fields read in place: copying the Slot would retain and release its arrays.
            if slot >= 0 && slots[Int(slot)].hash == hash && key.equals(slots[Int(slot)].key) { return (bucket, slot) }
            bucket = (bucket + 1) & bucketMask
        }
    }

    /// What the cache knows of a key (an entry is marked most recently used); counts a hit or
    /// a miss (a retired absent entry is a miss).
    func probe(_ key: ByteView) -> CacheLookup {
        guard count > 0, let found = find(key, hash: Self.hash(key)) else {
            misses += 1
            return .miss
        }
        let generation = slots[Int(found.slot)].absentGeneration
        if generation >= 0 && generation != absentGeneration {
            misses += 1
            return .miss
        }
        hits += 1
        touch(found.slot)
        return generation >= 0 ? .absent : .present(slots[Int(found.slot)].entry)
    }

    /// The row id and expiry of a cached string, for a writer about to replace it (its own
    /// write evicts the entry): not counted as a lookup, the LRU order left alone.
    func peekString(_ key: ByteView) -> (id: Int64, expiresAt: Int64?)? {
        guard count > 0, let found = find(key, hash: Self.hash(key)) else { return nil }
        let index = Int(found.slot)
        // Fields read in place: copying the Slot would retain and release its arrays.
        guard !slots[index].isAbsent, slots[index].entry.record.type == .string else { return nil }
        return (slots[index].entry.record.id, slots[index].entry.record.expiresAt)
    }

    /// An insert or update of a key row happened: every absent entry is retired.
    @inline(__always) func keyRowWritten() {
        absentGeneration &+= 1
    }

    /// Records that SQLite has no row for `key` (read just now, in this generation).
    func putAbsent(_ key: ByteView) {
        let size = key.count + Self.entryOverheadBytes
        guard size <= options.maxBytes else { return }
        let hash = Self.hash(key)
        if let found = find(key, hash: hash) {
            let index = Int(found.slot)
            if !slots[index].isAbsent {
                idToSlot[slots[index].entry.record.id] = nil
                slots[index].entry = Self.absentPlaceholder
                absentCount += 1
            }
            slots[index].absentGeneration = absentGeneration
            bytes += size - slots[index].bytes
            slots[index].bytes = size
            touch(found.slot)
        } else {
            var slot = Slot(key: key.array, entry: Self.absentPlaceholder, hash: hash, bytes: size)
            slot.absentGeneration = absentGeneration
            insert(slot)
            absentCount += 1
        }
        evictOverLimits()
    }

    private static let absentPlaceholder = CachedKey(record: KeyRecord(id: 0, type: .string, expiresAt: nil, updatedAt: 0, count: 0), value: nil)

    /// Stores what was just read from SQLite.
    func put(_ key: ByteView, _ entry: CachedKey) {
        if let value = entry.value, value.count > options.maxValueBytes { remove(key); return }
        let size = key.count + (entry.value?.count ?? 0) + Self.entryOverheadBytes
        guard size <= options.maxBytes else { return }
        let hash = Self.hash(key)
        if let found = find(key, hash: hash) {
            let index = Int(found.slot)
            if slots[index].isAbsent {
                slots[index].absentGeneration = -1
                absentCount -= 1
                idToSlot[entry.record.id] = found.slot
            } else if slots[index].entry.record.id != entry.record.id {
                idToSlot[slots[index].entry.record.id] = nil
                idToSlot[entry.record.id] = found.slot
            }
            bytes += size - slots[index].bytes
            slots[index].entry = entry
            slots[index].bytes = size
            touch(found.slot)
        } else {
            let index = insert(Slot(key: key.array, entry: entry, hash: hash, bytes: size))
            idToSlot[entry.record.id] = index
        }
        evictOverLimits()
    }

    /// Places a new slot in the table and at the front of the LRU list.
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
        linkFront(index)
        return index
    }

    private func evictOverLimits() {
        while count > options.maxEntries || bytes > options.maxBytes, tail >= 0 {
            evictions += 1
            removeSlot(tail)
        }
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
        slots[Int(slot)].entry.record.count = newCount
        slots[Int(slot)].entry.record.updatedAt = updatedAt
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
        head = -1
        tail = -1
        count = 0
        absentCount = 0
        bytes = 0
    }

    /// The table's invariants, one line per violation (tests): every entry is found from its
    /// key, its bucket points back at it, the id index and the LRU list agree with the count.
    func invariantViolations() -> [String] {
        var problems: [String] = []
        var live = 0
        var absent = 0
        for (bucket, slot) in buckets.enumerated() where slot >= 0 {
            live += 1
            if slots[Int(slot)].bucket != Int32(bucket) { problems.append("slot \(slot) records bucket \(slots[Int(slot)].bucket), sits in \(bucket)") }
            let found = slots[Int(slot)].key.withByteView { find($0, hash: slots[Int(slot)].hash) }
            if found?.slot != slot { problems.append("slot \(slot) not found from its key") }
            if slots[Int(slot)].isAbsent {
                absent += 1
            } else if idToSlot[slots[Int(slot)].entry.record.id] != slot {
                problems.append("id index misses slot \(slot)")
            }
        }
        var listed = 0
        var slot = head
        while slot >= 0 && listed <= count { listed += 1; slot = slots[Int(slot)].next }
        if live != count || listed != count || idToSlot.count + absent != count || absent != absentCount {
            problems.append("count \(count), buckets \(live), LRU list \(listed), id index \(idToSlot.count), absent \(absent) of \(absentCount)")
        }
        return problems
    }

    func resetStats() {
        hits = 0
        misses = 0
        evictions = 0
        invalidations = 0
    }

    // MARK: LRU list and table maintenance

    private func removeSlot(_ slot: Int32) {
        let index = Int(slot)
        let bucket = Int(slots[index].bucket)
        assert(buckets[bucket] == slot, "a slot's bucket points back at it")
        clearBucket(bucket)
        unlink(slot)
        if slots[index].isAbsent {
            slots[index].absentGeneration = -1
            absentCount -= 1
        } else {
            idToSlot[slots[index].entry.record.id] = nil
        }
        count -= 1
        bytes -= slots[index].bytes
        slots[index].key = []
        slots[index].entry.value = nil
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
            let stays = hole <= probe ? (home > hole && home <= probe) : (home > hole || home <= probe)
            if !stays {
                buckets[hole] = slot
                slots[Int(slot)].bucket = Int32(hole)
                buckets[probe] = -1
                hole = probe
            }
        }
    }

    private func touch(_ slot: Int32) {
        guard head != slot else { return }
        unlink(slot)
        linkFront(slot)
    }

    private func linkFront(_ slot: Int32) {
        slots[Int(slot)].previous = -1
        slots[Int(slot)].next = head
        if head >= 0 { slots[Int(head)].previous = slot }
        head = slot
        if tail < 0 { tail = slot }
    }

    private func unlink(_ slot: Int32) {
        let previous = slots[Int(slot)].previous, next = slots[Int(slot)].next
        if previous >= 0 { slots[Int(previous)].next = next } else if head == slot { head = next }
        if next >= 0 { slots[Int(next)].previous = previous } else if tail == slot { tail = previous }
        slots[Int(slot)].previous = -1
        slots[Int(slot)].next = -1
    }
}
