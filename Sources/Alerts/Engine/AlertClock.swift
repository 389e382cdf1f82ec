import GatewayCore

/// The two clocks the engine reads: monotonic for every timer (so a wall-clock jump neither fires nor clears an
/// alert), wall for the times written on alerts.
public protocol AlertClock: Sendable {
    /// Milliseconds since an arbitrary fixed point; never goes back.
    func monotonicMs() -> Int64
    /// Unix milliseconds.
    func wallMs() -> Int64
}

/// The system's clocks.
public struct SystemAlertClock: AlertClock {
    /// Creates the clock.
    public init() {}
    /// `CLOCK_MONOTONIC`.
    public func monotonicMs() -> Int64 { Int64(MonotonicClock.nowNs() / 1_000_000) }
    /// `CLOCK_REALTIME`.
    public func wallMs() -> Int64 { WallClock.nowMs() }
}
