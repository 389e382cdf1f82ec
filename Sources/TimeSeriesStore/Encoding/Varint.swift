/// Unsigned LEB128 varints: 7 bits per byte, low group first, high bit set on every byte but the last.
///
/// Encoding appends into a caller-owned buffer (as VictoriaMetrics' `lib/encoding` does), so a whole chunk or file
/// is built in one allocation. Decoding is strict: at most 10 bytes, the 10th may only carry the top bit of a
/// `UInt64`, and a redundant trailing zero group is refused, so each value has exactly one encoding.
public enum Varint {
    /// The most bytes a `UInt64` takes.
    public static let maxLength = 10

    /// Appends `value` to `dst`.
    @inline(__always)
    public static func append(_ value: UInt64, to dst: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            dst.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        dst.append(UInt8(truncatingIfNeeded: v))
    }

    /// Appends the zigzag form of `value` to `dst`.
    @inline(__always)
    public static func appendSigned(_ value: Int64, to dst: inout [UInt8]) {
        append(ZigZag.encode(value), to: &dst)
    }

    /// The number of bytes `append` writes for `value`.
    public static func length(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    /// Reads one varint at `offset`, which must lie in `0...end`, and moves `offset` past it. Reads nothing at or
    /// beyond `end`.
    ///
    /// - Throws: `CodecError` `.truncated` when the varint runs past `end`, `.corrupt` when it is longer than 10
    ///   bytes, overflows 64 bits or ends in a redundant zero group.
    @inline(__always)
    public static func read(_ src: [UInt8], at offset: inout Int, end: Int) throws(CodecError) -> UInt64 {
        // Fast path: one byte (timestamps of regular series, small value deltas).
        if offset < end {
            let first = src[offset]
            if first < 0x80 {
                offset += 1
                return UInt64(first)
            }
        }
        return try readSlow(src, at: &offset, end: end)
    }

    /// Reads one zigzag varint (see `read(_:at:end:)`).
    @inline(__always)
    public static func readSigned(_ src: [UInt8], at offset: inout Int, end: Int) throws(CodecError) -> Int64 {
        ZigZag.decode(try read(src, at: &offset, end: end))
    }

    private static func readSlow(_ src: [UInt8], at offset: inout Int, end: Int) throws(CodecError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var position = offset
        while true {
            guard position < end else {
                throw CodecError(.truncated, "varint at byte \(offset) runs past the end (byte \(end))")
            }
            let byte = src[position]
            position += 1
            if shift == 63 && byte > 1 {
                throw CodecError(.corrupt, "varint at byte \(offset) overflows 64 bits")
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 {
                if byte == 0 && position - offset > 1 {
                    throw CodecError(.corrupt, "varint at byte \(offset) ends in a redundant zero byte")
                }
                offset = position
                return result
            }
            shift += 7
        }
    }
}
