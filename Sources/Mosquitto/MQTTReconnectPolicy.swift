/// Capped exponential backoff with jitter between connection attempts.
///
/// Attempt `n` (0-based, counted since the last successful CONNACK) waits `base = min(maxDelay, initialDelay * 2^n)`
/// shortened by a random fraction of up to `jitterFraction`: the delay lies in `[base * (1 - jitterFraction), base]`.
/// The jitter spreads a fleet of gateways that lost the same broker, so they do not reconnect in lock step; the cap
/// bounds how long a recovered broker waits to see us. libmosquitto's own `mosquitto_reconnect_delay_set` has no
/// jitter and reconnects without CONNECT properties, so `MosquittoClient` does this itself.
public struct MQTTReconnectPolicy: Sendable, Hashable {
    /// Delay before the first retry.
    public var initialDelay: Duration
    /// Upper bound of any delay.
    public var maxDelay: Duration
    /// Largest fraction (0...1) randomly taken off a delay.
    public var jitterFraction: Double

    /// Creates a policy. Defaults: 0.5 s doubling up to 30 s, up to 20 % jitter.
    public init(initialDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(30), jitterFraction: Double = 0.2) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.jitterFraction = jitterFraction
    }

    /// The delay before attempt `attempt` (0-based), with `unitRandom` in `0..<1` choosing the jitter.
    public func delay(attempt: Int, unitRandom: Double) -> Duration {
        let initial = Self.seconds(initialDelay)
        let cap = max(Self.seconds(maxDelay), 0)
        var base = max(initial, 0)
        var doublings = 0
        while doublings < attempt && base < cap {
            base *= 2
            doublings += 1
        }
        base = min(base, cap)
        let jitter = min(max(jitterFraction, 0), 1) * min(max(unitRandom, 0), 1)
        let seconds = base * (1 - jitter)
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    /// The delay before attempt `attempt` (0-based), jittered with `generator`.
    public func delay<G: RandomNumberGenerator>(attempt: Int, using generator: inout G) -> Duration {
        delay(attempt: attempt, unitRandom: Double.random(in: 0..<1, using: &generator))
    }

    private static func seconds(_ duration: Duration) -> Double {
        let c = duration.components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
