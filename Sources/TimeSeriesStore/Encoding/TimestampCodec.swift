/// Timestamps as delta-of-delta zigzag varints (docs/formats/segment.md, "Chunk").
///
/// Layout: `t0`, then `t1 − t0`, then each `(t[i] − t[i−1]) − (t[i−1] − t[i−2])`, all svarints. A regular series
/// costs one byte per point this way; the `zeroRuns` encoding writes each run of zero delta-of-deltas as `0x00` and
/// the run's length, so a regular day of 5-minute readings takes about 8 bytes instead of 288. Every subtraction
/// wraps modulo 2^64, so any `Int64` sequence round-trips and no input can trap; the segment only stores sorted,
/// unique times.
public enum TimestampCodec {
    /// The byte in front of a version-2 chunk's timestamps.
    public enum Encoding: UInt8, Sendable, Hashable, CaseIterable {
        /// One svarint per delta-of-delta (the only layout of format version 1, where no byte names it).
        case deltaOfDelta = 0
        /// As `deltaOfDelta`, but each maximal run of zero delta-of-deltas is `0x00 │ run length − 1 <uvarint>`.
        case zeroRuns = 1
    }

    /// Appends the encoding byte and the body of whichever of the two encodings is smaller (`deltaOfDelta` on a
    /// tie, and always when `allowZeroRuns` is false) and returns the encoding written.
    @discardableResult
    public static func encodeSmaller(_ timestamps: [Int64], into dst: inout [UInt8], allowZeroRuns: Bool = true) -> Encoding {
        let start = dst.count
        dst.append(Encoding.deltaOfDelta.rawValue)
        encode(timestamps, into: &dst)
        guard allowZeroRuns, timestamps.count >= 4 else { return .deltaOfDelta }
        var runs: [UInt8] = [Encoding.zeroRuns.rawValue]
        encode(timestamps, as: .zeroRuns, into: &runs)
        guard runs.count < dst.count - start else { return .deltaOfDelta }
        dst.removeSubrange(start...)
        dst.append(contentsOf: runs)
        return .zeroRuns
    }

    /// Appends the body of `encoding` (no encoding byte) for `timestamps` to `dst`.
    public static func encode(_ timestamps: [Int64], as encoding: Encoding, into dst: inout [UInt8]) {
        guard encoding == .zeroRuns else { return encode(timestamps, into: &dst) }
        var previous: Int64 = 0
        var previousDelta: Int64 = 0
        var run = 0
        func flush(_ dst: inout [UInt8]) {
            guard run > 0 else { return }
            dst.append(0)
            Varint.append(UInt64(run - 1), to: &dst)
            run = 0
        }
        for (index, t) in timestamps.enumerated() {
            switch index {
            case 0:
                Varint.appendSigned(t, to: &dst)
            case 1:
                previousDelta = t &- previous
                Varint.appendSigned(previousDelta, to: &dst)
            default:
                let delta = t &- previous
                let dod = delta &- previousDelta
                if dod == 0 {
                    run += 1
                } else {
                    flush(&dst)
                    Varint.appendSigned(dod, to: &dst)
                }
                previousDelta = delta
            }
            previous = t
        }
        flush(&dst)
    }

    /// Decodes an encoding byte and `count` timestamps in that encoding (see `decode(_:at:end:count:into:)`).
    ///
    /// `count` must come from a bounded source (the chunk decoder bounds it): zero runs hold many timestamps in a
    /// few bytes. A run longer than the timestamps still expected, or a run straight after a run (the writer merges
    /// them), is refused.
    ///
    /// - Throws: `CodecError` for an unknown encoding byte, a malformed varint or run, or input that ends early.
    @discardableResult
    public static func decodeTagged(
        _ src: [UInt8], at offset: inout Int, end: Int, count: Int, into dst: inout [Int64]
    ) throws(CodecError) -> Encoding {
        precondition(offset >= 0 && offset <= end && end <= src.count, "offset and end must lie within src")
        guard offset < end else { throw CodecError(.truncated, "no timestamp encoding byte at byte \(offset)") }
        guard let encoding = Encoding(rawValue: src[offset]) else {
            throw CodecError(.corrupt, "unknown timestamp encoding \(src[offset]) at byte \(offset)")
        }
        offset += 1
        if encoding == .deltaOfDelta {
            try decode(src, at: &offset, end: end, count: count, into: &dst)
            return encoding
        }
        guard count >= 0 else { throw CodecError(.corrupt, "negative timestamp count \(count)") }
        dst.reserveCapacity(dst.count + count)
        var previous: Int64 = 0
        var delta: Int64 = 0
        var index = 0
        var afterRun = false
        while index < count {
            let start = offset
            let value = try Varint.readSigned(src, at: &offset, end: end)
            switch index {
            case 0:
                previous = value
            case 1:
                delta = value
                previous = previous &+ delta
            default:
                if value == 0 {
                    guard !afterRun else { throw CodecError(.corrupt, "zero run at byte \(start) follows another zero run") }
                    let extra = try Varint.read(src, at: &offset, end: end)
                    guard extra < UInt64(count - index) else {
                        throw CodecError(.corrupt, "zero run of \(extra) + 1 at byte \(start) passes the \(count) timestamps")
                    }
                    for _ in 0...Int(extra) {
                        previous = previous &+ delta
                        dst.append(previous)
                    }
                    index += Int(extra) + 1
                    afterRun = true
                    continue
                }
                delta = delta &+ value
                previous = previous &+ delta
            }
            afterRun = false
            dst.append(previous)
            index += 1
        }
        return encoding
    }

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
