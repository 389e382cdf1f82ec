import Mosquitto

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

    /// The delay before retry `attempt` (0-based) with `unitRandom` in `0..<1` choosing the jitter: the same
    /// arithmetic as the MQTT client's reconnect policy, applied to sends.
    public func delay(attempt: Int, unitRandom: Double) -> Duration {
        MQTTReconnectPolicy(initialDelay: initial, maxDelay: maximum, jitterFraction: jitter).delay(attempt: attempt, unitRandom: unitRandom)
    }

    /// The delay before retry `attempt`, jittered with the system generator.
    public func delay(attempt: Int) -> Duration {
        delay(attempt: attempt, unitRandom: Double.random(in: 0..<1))
    }
}
