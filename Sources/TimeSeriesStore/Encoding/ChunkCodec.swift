/// One series' points in a segment block: `count <uvarint> │ timestamps │ values` (docs/formats/segment.md).
public enum ChunkCodec {
    /// Appends the chunk for `points` to `dst` and returns the value encoding chosen.
    @discardableResult
    public static func encode(_ points: [Point], into dst: inout [UInt8]) -> ValueCodec.Encoding {
        Varint.append(UInt64(points.count), to: &dst)
        TimestampCodec.encode(points.map(\.timeMs), into: &dst)
        return ValueCodec.encode(points.map(\.value), into: &dst)
    }

    /// Decodes the chunk that occupies exactly `range` of `src`.
    ///
    /// The count is checked against the bytes of the range before anything is reserved, so corrupt input allocates
    /// at most one point per byte of input.
    ///
    /// - Throws: `CodecError` when the chunk is malformed, ends early or does not fill `range`.
    public static func decode(_ src: [UInt8], range: Range<Int>) throws(CodecError) -> [Point] {
        precondition(range.lowerBound >= 0 && range.upperBound <= src.count, "range must lie within src")
        var offset = range.lowerBound
        let end = range.upperBound
        let rawCount = try Varint.read(src, at: &offset, end: end)
        guard rawCount <= UInt64(end - offset) else {
            throw CodecError(.truncated, "chunk declares \(rawCount) points in \(end - offset) bytes")
        }
        let count = Int(rawCount)
        var times: [Int64] = []
        try TimestampCodec.decode(src, at: &offset, end: end, count: count, into: &times)
        var values: [Double] = []
        try ValueCodec.decode(src, at: &offset, end: end, count: count, into: &values)
        guard offset == end else {
            throw CodecError(.corrupt, "\(end - offset) bytes left after the chunk's \(count) points")
        }
        return (0..<count).map { Point(timeMs: times[$0], value: values[$0]) }
    }
}
