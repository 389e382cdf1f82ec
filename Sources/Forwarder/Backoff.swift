/// Capped exponential backoff with jitter between failed sends of one sink.
///
/// Attempt `n` (0-based, counted since the last success) waits `base = min(max, initial * 2^n)` shortened by a
/// random fraction of up to `jitter`, so the delay lies in `[base * (1 - jitter), base]`. With `jitter = 1` this is
/// "full jitter"; the default 0.5 keeps a floor so a dead receiver is not hammered. A fleet of gateways that lost
/// the same province endpoint thus does not retry in lock step, and the cap bounds how long a recovered endpoint
/// waits to hear from us.
public struct Backoff: Sendable, Hashable {
    /// Delay before the first retry.
    public var initial: Duration
    /// Upper bound of any delay.
    public var maximum: Duration
    /// Largest fraction (0...1) randomly taken off a delay.
    public var jitter: Double

    /// Creates a policy. Defaults: 1 s doubling up to 60 s, up to half of each delay randomised away.
    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(60), jitter: Double = 0.5) {
        self.initial = initial
        self.maximum = maximum
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The delay before retry `attempt` (0-based) with `unitRandom` in `0..<1` choosing the jitter.
    public func delay(attempt: Int, unitRandom: Double) -> Duration {
        let cap = max(Self.seconds(maximum), 0)
        var base = min(max(Self.seconds(initial), 0), cap)
        var n = 0
        while n < attempt && base < cap {
            base = min(base * 2, cap)
            n += 1
        }
        let seconds = base * (1 - jitter * min(max(unitRandom, 0), 1))
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    /// The delay before retry `attempt`, jittered with the system generator.
    public func delay(attempt: Int) -> Duration {
        delay(attempt: attempt, unitRandom: Double.random(in: 0..<1))
    }

    private static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
