/// One closed window of one series: what the uplink delivers. Its identity at the receiver is
/// (gateway, device, metric, window, start), so sending it again overwrites instead of duplicating.
public struct RollupPoint: Sendable, Hashable {
    /// Device identifier.
    public var device: String
    /// Metric name.
    public var metric: String
    /// Unit of the samples (the last seen for the series), "" when dimensionless.
    public var unit: String
    /// Window length in milliseconds.
    public var windowMs: Int64
    /// Window start (Unix ms): the point's timestamp.
    public var startMs: Int64
    /// Samples aggregated.
    public var count: Int
    /// Smallest value.
    public var min: Double
    /// Largest value.
    public var max: Double
    /// Sum of the values.
    public var sum: Double
    /// The value with the latest time (the later arrival on a tie).
    public var last: Double

    /// Creates a point.
    public init(device: String, metric: String, unit: String, windowMs: Int64, startMs: Int64, count: Int, min: Double, max: Double, sum: Double, last: Double) {
        self.device = device
        self.metric = metric
        self.unit = unit
        self.windowMs = windowMs
        self.startMs = startMs
        self.count = count
        self.min = min
        self.max = max
        self.sum = sum
        self.last = last
    }

    /// Mean of the values.
    public var avg: Double { count > 0 ? sum / Double(count) : 0 }
}
