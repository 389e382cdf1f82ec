/// Timestamps as delta-of-delta zigzag varints (docs/formats/segment.md, "Chunk").
///
/// Layout: `t0`, then `t1 − t0`, then each `(t[i] − t[i−1]) − (t[i−1] − t[i−2])`, all svarints. A regular series
/// costs one byte per point, and zstd shrinks the run of zero bytes further. Every subtraction wraps modulo 2^64, so
/// any `Int64` sequence round-trips and no input can trap; the segment only stores sorted, unique times.
public enum TimestampCodec {
    /// Appends the encoding of `timestamps` (Unix ms) to `dst`. The count is not written: the caller records it.
    public static func encode(_ timestamps: [Int64], into dst: inout [UInt8]) {
        var previous: Int64 = 0
        var previousDelta: Int64 = 0
        for (index, t) in timestamps.enumerated() {
            switch index {
            case 0:
                Varint.appendSigned(t, to: &dst)
            case 1:
                previousDelta = t &- previous
                Varint.appendSigned(previousDelta, to: &dst)
            default:
                let delta = t &- previous
                Varint.appendSigned(delta &- previousDelta, to: &dst)
                previousDelta = delta
            }
            previous = t
        }
    }

    /// Decodes `count` timestamps starting at `offset`, reading nothing at or past `end`, appends them to `dst` and
    /// moves `offset` past them.
    ///
    /// Each timestamp takes at least one byte, so a `count` larger than the bytes left is refused before anything
    /// is reserved: corrupt input cannot make this allocate more than the input's size in elements.
    ///
    /// - Throws: `CodecError` when the bytes run out or a varint is malformed.
    public static func decode(
        _ src: [UInt8], at offset: inout Int, end: Int, count: Int, into dst: inout [Int64]
    ) throws(CodecError) {
        precondition(offset >= 0 && offset <= end && end <= src.count, "offset and end must lie within src")
        guard count >= 0, count <= end - offset else {
            throw CodecError(.truncated, "\(count) timestamps cannot fit in the \(end - offset) bytes from byte \(offset)")
        }
        dst.reserveCapacity(dst.count + count)
        var previous: Int64 = 0
        var delta: Int64 = 0
        for index in 0..<count {
            let value = try Varint.readSigned(src, at: &offset, end: end)
            switch index {
            case 0: previous = value
            case 1:
                delta = value
                previous = previous &+ delta
            default:
                delta = delta &+ value
                previous = previous &+ delta
            }
            dst.append(previous)
        }
    }

    /// Decodes exactly `count` timestamps from the whole of `src`.
    ///
    /// - Throws: `CodecError` as `decode(_:at:end:count:into:)` does, and `.corrupt` when bytes are left over.
    public static func decode(_ src: [UInt8], count: Int) throws(CodecError) -> [Int64] {
        var offset = 0
        var timestamps: [Int64] = []
        try decode(src, at: &offset, end: src.count, count: count, into: &timestamps)
        guard offset == src.count else {
            throw CodecError(.corrupt, "\(src.count - offset) bytes left after \(count) timestamps")
        }
        return timestamps
    }
}
