/// Dense series identifier, assigned by the store's catalog (SQLite `series` table).
public typealias SeriesID = UInt32

/// One stored point.
public struct Point: Sendable, Hashable {
    /// Unix milliseconds.
    public var timeMs: Int64
    /// The value; any Double bit pattern round-trips (NaN payloads, -0.0, infinities, subnormals).
    public var value: Double

    /// Creates a point.
    public init(timeMs: Int64, value: Double) {
        self.timeMs = timeMs
        self.value = value
    }
}
