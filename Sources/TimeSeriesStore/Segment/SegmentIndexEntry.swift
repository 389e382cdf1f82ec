/// One series in a segment: where its chunk is and the statistics that answer `last` and coarse downsampling
/// without decompressing anything.
public struct SegmentIndexEntry: Sendable {
    /// The series.
    public let series: SeriesID
    /// Points in the chunk (at least 1).
    public let count: Int
    /// Time of the first point, Unix ms.
    public let tMin: Int64
    /// Time of the last point, Unix ms (≥ `tMin`).
    public let tMax: Int64
    /// Smallest value, ignoring NaN; NaN only when every value is NaN.
    public let min: Double
    /// Largest value, ignoring NaN; NaN only when every value is NaN.
    public let max: Double
    /// Sum of the values in time order (NaN if any is NaN; infinities propagate).
    public let sum: Double
    /// The value at `tMax`, bit for bit.
    public let last: Double

    /// Block number, and the chunk's offset and length within the block's uncompressed bytes.
    let block: Int
    let offset: Int
    let length: Int

    /// Mean value: `sum / count`.
    public var average: Double { sum / Double(count) }

    init(series: SeriesID, count: Int, tMin: Int64, tMax: Int64, min: Double, max: Double, sum: Double, last: Double,
         block: Int, offset: Int, length: Int) {
        self.series = series
        self.count = count
        self.tMin = tMin
        self.tMax = tMax
        self.min = min
        self.max = max
        self.sum = sum
        self.last = last
        self.block = block
        self.offset = offset
        self.length = length
    }
}
