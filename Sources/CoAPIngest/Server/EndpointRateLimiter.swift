/// A token bucket per remote endpoint: each uplink takes a token, tokens refill at `ratePerSecond` up to `burst`.
///
/// Before a message is decoded the gateway does not know which device sent it, so the endpoint (address and
/// port: one NB-IoT device's session, also behind carrier NAT) stands for the device. A rate of 0 turns the limit
/// off. Buckets of endpoints that went quiet are dropped by `sweep`, and at most `maxEndpoints` are kept, so a
/// spoofed-source flood cannot grow memory without bound. Not thread-safe: an event-loop handler owns it.
public struct EndpointRateLimiter {
    struct Bucket {
        var tokens: Double
        var lastNs: UInt64
    }

    private var buckets: [EndpointKey: Bucket] = [:]
    /// Sustained uplinks per second per endpoint (0: unlimited).
    public let ratePerSecond: Double
    /// Uplinks an endpoint may send at once after a quiet spell.
    public let burst: Double
    /// Most endpoints tracked.
    public let maxEndpoints: Int

    /// Creates a limiter.
    public init(ratePerSecond: Double, burst: Double, maxEndpoints: Int = 100_000) {
        self.ratePerSecond = ratePerSecond
        self.burst = max(1, burst)
        self.maxEndpoints = maxEndpoints
    }

    /// Endpoints tracked now.
    public var trackedEndpoints: Int { buckets.count }

    /// Takes a token for `endpoint`; false when its bucket is empty (answer 5.03).
    public mutating func allow(_ endpoint: EndpointKey, nowNs: UInt64) -> Bool {
        guard ratePerSecond > 0 else { return true }
        if var b = buckets[endpoint] {
            let elapsed = Double(nowNs &- b.lastNs) / 1e9
            b.tokens = min(burst, b.tokens + elapsed * ratePerSecond)
            b.lastNs = nowNs
            let ok = b.tokens >= 1
            if ok { b.tokens -= 1 }
            buckets[endpoint] = b
            return ok
        }
        if buckets.count >= maxEndpoints { sweep(nowNs: nowNs) }
        // Still full after dropping the refilled buckets: refuse unknown endpoints rather than grow.
        guard buckets.count < maxEndpoints else { return false }
        buckets[endpoint] = Bucket(tokens: burst - 1, lastNs: nowNs)
        return true
    }

    /// Drops buckets that have refilled completely: forgetting them changes nothing.
    public mutating func sweep(nowNs: UInt64) {
        guard ratePerSecond > 0 else { return }
        let full = (burst / ratePerSecond) * 1e9
        buckets = buckets.filter { Double(nowNs &- $0.value.lastNs) < full }
    }
}
