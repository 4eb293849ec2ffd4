// Expiry: absolute expiry times in unix milliseconds, lazy hiding on every access (the
// storage lookups treat an expired row as missing), and the active sweeper that deletes
// expired keys in bounded batches on a loop timer.

import Foundation

/// The unit and base of an expiry argument.
enum ExpiryUnit {
    case seconds, milliseconds, unixSeconds, unixMilliseconds

    /// Converts the argument to an absolute unix time in ms, or nil on overflow.
    func absoluteMillis(_ value: Int64, now: Int64) -> Int64? {
        switch self {
        case .seconds:
            let (ms, overflow) = value.multipliedReportingOverflow(by: 1000)
            if overflow { return nil }
            let (sum, overflow2) = ms.addingReportingOverflow(now)
            return overflow2 ? nil : sum
        case .milliseconds:
            let (sum, overflow) = value.addingReportingOverflow(now)
            return overflow ? nil : sum
        case .unixSeconds:
            let (ms, overflow) = value.multipliedReportingOverflow(by: 1000)
            return overflow ? nil : ms
        case .unixMilliseconds:
            return value
        }
    }
}

extension Engine {
    /// Deletes up to `limit` expired keys, then, within the same budget, expired hash fields
    /// (oldest first, through the partial index `redis_hashes_expires_at`; counts adjusted,
    /// hashes left empty deleted). Returns how many keys and fields were deleted: a result of
    /// `limit` means a backlog, swept again on the next turn.
    @discardableResult
    func sweepExpired(limit: Int) -> Int {
        let now = currentTimeMillis()
        do {
            try storage.beginBatchIfNeeded()
            let keys = try storage.expiredKeys(now: now, limit: limit)
            for key in keys {
                try key.withByteView { key in
                    _ = try storage.deleteKey(key)
                    try searchKeyDeleted(key)
                    notifyKeyspaceEvent(.expired, "expired", key: key)
                }
            }
            let fields = try storage.sweepExpiredFields(now: now, limit: limit - keys.count)
            storage.endCommand(failed: false)
            stats.sweeps += 1
            stats.expiredKeysSwept += Int64(keys.count)
            stats.expiredFieldsSwept += Int64(fields)
            return keys.count + fields
        } catch {
            storage.endCommand(failed: true)
            logger.warning("expiry sweep failed: \(error)")
            return 0
        }
    }
}

/// The remaining time to live as TTL/PTTL report it: -2 missing, -1 no expiry.
func timeToLive(_ record: KeyRecord?, now: Int64, milliseconds: Bool) -> Int64 {
    guard let record else { return -2 }
    guard let expiresAt = record.expiresAt else { return -1 }
    let remaining = Swift.max(0, expiresAt - now)
    return milliseconds ? remaining : (remaining + 500) / 1000
}
