import Synchronization

/// Remembers the pushes already delivered, for a time window and up to a count, so a platform's retry of a push it
/// did not see acknowledged (a timeout after we stored it) is answered 200 without storing it twice.
///
/// A key is first *claimed* (in flight), then either *committed* (delivered: remembered until the window ends) or
/// *released* (the write failed: forgotten, so the retry is stored). A key claimed by a request still in flight is
/// reported as such, and the receiver answers 503 so the platform tries again later, when the first request has
/// finished one way or the other.
///
/// ## Bounds
/// Entries leave in insertion order: when older than `window`, or when `maxEntries` are held and a new one comes
/// (then a retry of the evicted push would be stored again: size `maxEntries` above the pushes of one window).
/// Memory is about 80 bytes per entry. Time is monotonic, so a wall-clock jump neither expires nor keeps entries.
final class PushDeduplicator: Sendable {
    /// What `claim` found.
    enum Claim: Sendable, Hashable {
        /// New: now claimed by the caller.
        case claimed
        /// Delivered before, within the window.
        case duplicate
        /// Claimed by a request still in flight.
        case inFlight
    }

    private struct State {
        var entries: [PushKey: Entry] = [:]
        /// Keys in insertion order; `head` is the oldest live position.
        var order: [Queued] = []
        var head = 0
        var nextSequence: UInt64 = 0
    }

    private struct Queued {
        var key: PushKey
        var atNs: UInt64
        var sequence: UInt64
    }

    private struct Entry {
        var delivered: Bool
        /// The queue position that owns the entry (a key forgotten and claimed again gets a new one).
        var sequence: UInt64
    }

    private let state = Mutex(State())
    private let windowNs: UInt64
    private let maxEntries: Int
    private let now: @Sendable () -> UInt64

    /// Creates a deduplicator; `now` is a monotonic clock in nanoseconds (injectable for tests).
    init(window: Duration, maxEntries: Int, now: @escaping @Sendable () -> UInt64) {
        precondition(maxEntries > 0, "maxEntries must be positive")
        let (seconds, attoseconds) = window.components
        self.windowNs = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
        self.maxEntries = maxEntries
        self.now = now
    }

    /// Number of keys held (in flight or delivered).
    var count: Int { state.withLock { $0.entries.count } }

    /// Claims every key that is new. Returns one answer per key; a key repeated within `keys` counts as in
    /// flight after its first occurrence.
    func claim(_ keys: [PushKey]) -> [Claim] {
        let t = now()
        return state.withLock { s in
            expire(&s, nowNs: t)
            return keys.map { key in
                switch s.entries[key]?.delivered {
                case true?: return .duplicate
                case false?: return .inFlight
                case nil:
                    insert(&s, key, delivered: false, nowNs: t)
                    return .claimed
                }
            }
        }
    }

    /// Marks claimed keys delivered: retries within the window are duplicates from now on. The window counts
    /// from the claim (the arrival of the push).
    func commit(_ keys: [PushKey]) {
        guard !keys.isEmpty else { return }
        let t = now()
        state.withLock { s in
            for key in keys {
                if s.entries[key] == nil {
                    // Evicted while in flight (capacity pressure): remember it afresh.
                    insert(&s, key, delivered: true, nowNs: t)
                } else {
                    s.entries[key]?.delivered = true
                }
            }
        }
    }

    /// Forgets claimed keys whose delivery failed, so a retry is stored.
    func release(_ keys: [PushKey]) {
        guard !keys.isEmpty else { return }
        state.withLock { s in
            for key in keys where s.entries[key]?.delivered == false {
                s.entries[key] = nil
            }
        }
    }

    private func insert(_ s: inout State, _ key: PushKey, delivered: Bool, nowNs: UInt64) {
        while s.entries.count >= maxEntries, s.head < s.order.count {
            evictOldest(&s)
        }
        s.entries[key] = Entry(delivered: delivered, sequence: s.nextSequence)
        s.order.append(Queued(key: key, atNs: nowNs, sequence: s.nextSequence))
        s.nextSequence += 1
    }

    private func expire(_ s: inout State, nowNs: UInt64) {
        while s.head < s.order.count, nowNs &- s.order[s.head].atNs > windowNs {
            evictOldest(&s)
        }
    }

    /// Drops the oldest queue position and the entry it owns (an entry released and claimed again is owned by
    /// its newer position).
    private func evictOldest(_ s: inout State) {
        let queued = s.order[s.head]
        s.head += 1
        if s.entries[queued.key]?.sequence == queued.sequence { s.entries[queued.key] = nil }
        if s.head >= 1024, s.head * 2 >= s.order.count {
            s.order.removeFirst(s.head)
            s.head = 0
        }
    }
}
