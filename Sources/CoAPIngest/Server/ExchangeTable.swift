/// Message IDs seen per endpoint, for deduplication over a lifetime (RFC 7252 §4.5), with what was answered.
///
/// Entries expire in arrival order (the lifetime is one constant), so expiry is a walk from the front of a FIFO
/// ring, O(1) amortised per message, with no timer per entry. The table never holds more than `capacity` entries:
/// beyond it the oldest is forgotten early and counted (`evictedEarly`), so a flood bounds memory instead of
/// growing it. Not thread-safe: an event-loop handler owns it.
public struct ExchangeTable<Value> {
    struct Entry {
        var value: Value
        var expiresNs: UInt64
    }

    private var entries: [ExchangeKey: Entry] = [:]
    private var order: [(key: ExchangeKey, expiresNs: UInt64)] = []
    private var head = 0
    /// Most entries held.
    public let capacity: Int
    /// How long an entry lives, in nanoseconds.
    public let lifetimeNs: UInt64
    /// Entries dropped before their lifetime because the table was full.
    public private(set) var evictedEarly = 0

    /// Creates an empty table.
    public init(capacity: Int, lifetime: Duration) {
        precondition(capacity > 0, "capacity must be positive")
        self.capacity = capacity
        let c = lifetime.components
        self.lifetimeNs = UInt64(max(0, c.seconds)) * 1_000_000_000 + UInt64(max(0, c.attoseconds) / 1_000_000_000)
        entries.reserveCapacity(min(capacity, 65_536))
    }

    /// Entries held now.
    public var count: Int { entries.count }

    /// The value for `key` if it is known and not expired.
    public func lookup(_ key: ExchangeKey, nowNs: UInt64) -> Value? {
        guard let e = entries[key], e.expiresNs > nowNs else { return nil }
        return e.value
    }

    /// Records `key` (replacing an earlier value) and expires old entries.
    public mutating func insert(_ key: ExchangeKey, _ value: Value, nowNs: UInt64) {
        expire(nowNs: nowNs)
        while entries.count >= capacity, head < order.count {
            let oldest = order[head]
            head += 1
            if let e = entries[oldest.key], e.expiresNs == oldest.expiresNs {
                entries[oldest.key] = nil
                evictedEarly += 1
            }
        }
        let expires = nowNs &+ lifetimeNs
        entries[key] = Entry(value: value, expiresNs: expires)
        order.append((key, expires))
        compact()
    }

    /// Changes the value of a known entry, keeping its expiry; false if it is gone.
    @discardableResult
    public mutating func update(_ key: ExchangeKey, _ value: Value) -> Bool {
        guard entries[key] != nil else { return false }
        entries[key]!.value = value
        return true
    }

    /// Forgets entries whose lifetime has passed.
    public mutating func expire(nowNs: UInt64) {
        while head < order.count, order[head].expiresNs <= nowNs {
            let old = order[head]
            head += 1
            // The key may have been inserted again since; only the entry this ring slot created goes.
            if let e = entries[old.key], e.expiresNs == old.expiresNs { entries[old.key] = nil }
        }
        compact()
    }

    private mutating func compact() {
        if head > 4096, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
