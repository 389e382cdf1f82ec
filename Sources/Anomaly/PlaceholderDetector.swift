// Temporary: replaced by the real detector when the anomaly branch merges. Same public shape.
/// A per-series streaming anomaly detector (placeholder: a robust z-score).
public struct AnomalyDetector: Sendable {
    /// Detector settings.
    public struct Configuration: Sendable, Hashable {
        /// Creates the default settings.
        public init() {}
    }

    var mean = 0.0
    var deviation = 1.0
    var count = 0

    /// Creates a detector.
    public init(configuration: Configuration = .init()) {}

    /// Scores one point in [0, 1].
    public mutating func score(timeMs: Int64, value: Double) -> Double {
        guard value.isFinite else { return 0 }
        count += 1
        let z = abs(value - mean) / max(deviation, 1e-9)
        mean += (value - mean) * 0.05
        deviation += (abs(value - mean) - deviation) * 0.05
        return count < 10 ? 0 : min(1, z / 6)
    }
}
