/// One series' points in a segment block (docs/formats/segment.md, "Chunk").
///
/// Version 2 (written): `count <uvarint> │ timestamp encoding <1> │ timestamps │ values`, the timestamp encoding the
/// smaller of plain delta-of-delta and delta-of-delta with zero runs. Version 1 (read only, and written only when a
/// test asks for it): `count <uvarint> │ timestamps (plain delta-of-delta) │ values`.
public enum ChunkCodec {
    /// The most points a chunk may declare beyond one per byte of the chunk. Zero runs can hold many regular
    /// timestamps in a few bytes, so a chunk's count is no longer bounded by its size; this bounds what a forged
    /// count can make a reader allocate (16 MiB of points). The writer uses zero runs only up to this count (plain
    /// delta-of-delta, at least one byte a point, above it), so any chunk can still be written.
    public static let maxPointsBeyondBytes = 1 << 20

    /// Appends the chunk for `points` to `dst` in the layout of segment format `version` (1 or 2) and returns the
    /// value encoding chosen.
    @discardableResult
    public static func encode(_ points: [Point], into dst: inout [UInt8], version: UInt8 = SegmentFormat.version) -> ValueCodec.Encoding {
        precondition(version == 1 || version == 2, "chunk layout version \(version) does not exist")
        Varint.append(UInt64(points.count), to: &dst)
        let times = points.map(\.timeMs)
        if version == 1 {
            TimestampCodec.encode(times, into: &dst)
            return ValueCodec.encode(points.map(\.value), into: &dst, maxDecimalExponent: ValueCodec.maxDecimalExponentVersion1)
        }
        TimestampCodec.encodeSmaller(times, into: &dst, allowZeroRuns: points.count <= maxPointsBeyondBytes)
        return ValueCodec.encode(points.map(\.value), into: &dst)
    }

    /// Decodes the chunk of segment format `version` that occupies exactly `range` of `src`.
    ///
    /// The count is checked before anything is reserved: at most one point per byte of the range, or
    /// `maxPointsBeyondBytes` (version 2), so corrupt input cannot make this allocate more than that.
    ///
    /// - Throws: `CodecError` when the chunk is malformed, ends early or does not fill `range`.
    public static func decode(_ src: [UInt8], range: Range<Int>, version: UInt8 = SegmentFormat.version) throws(CodecError) -> [Point] {
        precondition(range.lowerBound >= 0 && range.upperBound <= src.count, "range must lie within src")
        var offset = range.lowerBound
        let end = range.upperBound
        let rawCount = try Varint.read(src, at: &offset, end: end)
        let limit = version == 1 ? UInt64(end - offset) : UInt64(max(end - offset, maxPointsBeyondBytes))
        guard rawCount <= limit else {
            throw CodecError(.truncated, "chunk declares \(rawCount) points in \(end - offset) bytes")
        }
        let count = Int(rawCount)
        var times: [Int64] = []
        if version == 1 {
            try TimestampCodec.decode(src, at: &offset, end: end, count: count, into: &times)
        } else {
            try TimestampCodec.decodeTagged(src, at: &offset, end: end, count: count, into: &times)
        }
        var values: [Double] = []
        try ValueCodec.decode(src, at: &offset, end: end, count: count, into: &values)
        guard offset == end else {
            throw CodecError(.corrupt, "\(end - offset) bytes left after the chunk's \(count) points")
        }
        return (0..<count).map { Point(timeMs: times[$0], value: values[$0]) }
    }
}
