/// Values of one chunk, in whichever of three encodings fits (docs/formats/segment.md, "Chunk"): a leading
/// encoding byte names it.
///
/// - `constant`: one bit pattern for every value (a switch, a dead sensor).
/// - `decimal`: values with a fixed number of decimals (most sensors) as `Double(m) / 10^d`, with `d` stored once
///   and the integer mantissas as zigzag varint deltas. Chosen only when the round trip is bit-exact.
/// - `xor`: anything else, bit-exact for every pattern (NaN payloads, ±Inf, −0.0, subnormals): each value's bits
///   XORed with the previous value's, written as a control byte plus the XOR's non-zero middle bytes.
public enum ValueCodec {
    /// The encoding byte that starts the values of a chunk.
    public enum Encoding: UInt8, Sendable, Hashable, CaseIterable {
        /// Every value has the same bit pattern, stored once (8 bytes).
        case constant = 1
        /// Scaled-decimal mantissas, as zigzag varint deltas.
        case decimal = 2
        /// XOR of consecutive bit patterns, byte-aligned.
        case xor = 3
    }

    /// The largest decimal exponent (segment format 2): 15 decimals cover values printed with up to 15 decimals,
    /// such as NAB's 10-decimal synthetic series, which format 1 (at most 9) stored as XOR at about 1.5× the bytes.
    /// 10^15 < 2^53, so the scale is an exact double, and mantissas stay below 2^53 as before.
    public static let maxDecimalExponent = 15

    /// The largest decimal exponent a segment of format version 1 holds.
    public static let maxDecimalExponentVersion1 = 9

    /// Exact powers of ten (every one up to 10^22 is a double exactly).
    static let powersOfTen: [Double] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15]
    /// 2^53: mantissas stay below it so they are exact doubles and their deltas cannot overflow an `Int64`.
    private static let mantissaLimit: Double = 9_007_199_254_740_992

    /// Appends `values` in the encoding chosen for them and returns it: `constant` when there are at least two
    /// values and all share a bit pattern, else `decimal` when it round-trips with an exponent of at most
    /// `maxDecimalExponent` (9 for segment format 1), else `xor` (also for no values: one byte).
    @discardableResult
    public static func encode(_ values: [Double], into dst: inout [UInt8], maxDecimalExponent limit: Int = maxDecimalExponent) -> Encoding {
        if values.count >= 2, encode(values, as: .constant, into: &dst) { return .constant }
        if !values.isEmpty, let (exponent, mantissas) = decimalMantissas(values), exponent <= limit {
            appendDecimal(exponent: exponent, mantissas: mantissas, into: &dst)
            return .decimal
        }
        encodeXOR(values, into: &dst)
        return .xor
    }

    /// Appends `values` in `encoding` if it can hold them exactly, and returns whether it did; on false `dst` is
    /// unchanged. `xor` holds anything; `constant` needs one or more values with one bit pattern; `decimal` needs
    /// `decimalExponent(values)` to be non-nil.
    public static func encode(_ values: [Double], as encoding: Encoding, into dst: inout [UInt8]) -> Bool {
        switch encoding {
        case .constant:
            guard let first = values.first, values.allSatisfy({ $0.bitPattern == first.bitPattern }) else { return false }
            dst.append(Encoding.constant.rawValue)
            LittleEndian.append(first.bitPattern, to: &dst)
            return true
        case .decimal:
            guard let (exponent, mantissas) = decimalMantissas(values) else { return false }
            appendDecimal(exponent: exponent, mantissas: mantissas, into: &dst)
            return true
        case .xor:
            encodeXOR(values, into: &dst)
            return true
        }
    }

    /// The smallest `d` in 0...15 such that every value equals `Double(m) / 10^d` bit for bit with |m| < 2^53, or
    /// nil when there is none (a NaN, an infinity, −0.0, a value with more decimals, or a huge one).
    public static func decimalExponent(_ values: [Double]) -> Int? {
        decimalMantissas(values)?.exponent
    }

    /// Decodes `count` values starting at `offset` (encoding byte first), reading nothing at or past `end`, appends
    /// them to `dst`, moves `offset` past them and returns the encoding found.
    ///
    /// `decimal` and `xor` spend at least one byte per value, so a `count` beyond the bytes left is refused before
    /// anything is reserved. `constant` spends 9 bytes in all, so its `count` must come from a bounded source: the
    /// chunk decoder bounds it (`ChunkCodec.maxPointsBeyondBytes`).
    ///
    /// - Throws: `CodecError` for an unknown encoding byte, a decimal exponent above 15, a mantissa of 2^53 or more,
    ///   a non-canonical XOR control byte, or input that ends early.
    @discardableResult
    public static func decode(
        _ src: [UInt8], at offset: inout Int, end: Int, count: Int, into dst: inout [Double]
    ) throws(CodecError) -> Encoding {
        precondition(offset >= 0 && offset <= end && end <= src.count, "offset and end must lie within src")
        guard count >= 0 else { throw CodecError(.corrupt, "negative value count \(count)") }
        guard offset < end else { throw CodecError(.truncated, "no encoding byte at byte \(offset)") }
        let byte = src[offset]
        guard let encoding = Encoding(rawValue: byte) else {
            throw CodecError(.corrupt, "unknown value encoding \(byte) at byte \(offset)")
        }
        offset += 1
        switch encoding {
        case .constant:
            guard count >= 1 else { throw CodecError(.corrupt, "constant encoding with no values at byte \(offset - 1)") }
            guard end - offset >= 8 else { throw CodecError(.truncated, "constant value at byte \(offset) runs past the end") }
            let value = Double(bitPattern: LittleEndian.readUInt64(src, at: offset))
            offset += 8
            dst.append(contentsOf: repeatElement(value, count: count))
        case .decimal:
            guard offset < end else { throw CodecError(.truncated, "no decimal exponent at byte \(offset)") }
            let exponent = Int(src[offset])
            guard exponent <= maxDecimalExponent else {
                throw CodecError(.corrupt, "decimal exponent \(exponent) at byte \(offset) is above \(maxDecimalExponent)")
            }
            offset += 1
            try checkRoom(count, offset: offset, end: end)
            dst.reserveCapacity(dst.count + count)
            let scale = powersOfTen[exponent]
            var mantissa: Int64 = 0
            for index in 0..<count {
                let start = offset
                mantissa = mantissa &+ (try Varint.readSigned(src, at: &offset, end: end))
                // 2^53 − 1 is the largest mantissa an encoder writes.
                guard mantissa.magnitude < 1 << 53 else {
                    throw CodecError(.corrupt, "decimal mantissa of value \(index) at byte \(start) is out of range")
                }
                dst.append(Double(mantissa) / scale)
            }
        case .xor:
            try checkRoom(count, offset: offset, end: end)
            dst.reserveCapacity(dst.count + count)
            var bits: UInt64 = 0
            for index in 0..<count {
                guard offset < end else { throw CodecError(.truncated, "value \(index) of \(count) runs past the end") }
                let control = src[offset]
                if control == 0x80 {
                    offset += 1
                    dst.append(Double(bitPattern: bits))
                    continue
                }
                let lead = Int(control >> 4)
                let trail = Int(control & 0x0F)
                guard lead + trail <= 7 else {
                    throw CodecError(.corrupt, "XOR control byte \(control) of value \(index) at byte \(offset)")
                }
                let length = 8 - lead - trail
                guard end - offset - 1 >= length else {
                    throw CodecError(.truncated, "value \(index) of \(count) at byte \(offset) runs past the end")
                }
                // Canonical form: the first and last significant bytes are non-zero, or the counts would be larger.
                guard src[offset + 1] != 0, src[offset + length] != 0 else {
                    throw CodecError(.corrupt, "XOR bytes of value \(index) at byte \(offset) start or end with zero")
                }
                var significant: UInt64 = 0
                for i in 0..<length {
                    significant |= UInt64(src[offset + 1 + i]) << (8 * UInt64(i))
                }
                bits ^= significant << (8 * UInt64(trail))
                offset += 1 + length
                dst.append(Double(bitPattern: bits))
            }
        }
        return encoding
    }

    /// Decodes exactly `count` values from the whole of `src`.
    ///
    /// - Throws: `CodecError` as `decode(_:at:end:count:into:)` does, and `.corrupt` when bytes are left over.
    public static func decode(_ src: [UInt8], count: Int) throws(CodecError) -> [Double] {
        var offset = 0
        var values: [Double] = []
        try decode(src, at: &offset, end: src.count, count: count, into: &values)
        guard offset == src.count else {
            throw CodecError(.corrupt, "\(src.count - offset) bytes left after \(count) values")
        }
        return values
    }

    // MARK: - Helpers

    /// The exponent and mantissas of the decimal encoding, or nil when it cannot hold `values` exactly.
    ///
    /// If `v == Double(m) / 10^d` (a correctly rounded division), then `Double(m·10^k) / 10^(d+k)` is the same
    /// double, because both are the nearest double to the same rational number; so once a value fits at `d` it fits
    /// at every larger `d` while its mantissa stays below 2^53. The first pass therefore only ever raises `d`, and
    /// the second pass computes and verifies every mantissa at the final `d`.
    private static func decimalMantissas(_ values: [Double]) -> (exponent: Int, mantissas: [Int64])? {
        var exponent = 0
        for v in values {
            while mantissa(of: v, exponent: exponent) == nil {
                exponent += 1
                if exponent > maxDecimalExponent { return nil }
            }
        }
        var mantissas: [Int64] = []
        mantissas.reserveCapacity(values.count)
        for v in values {
            guard let m = mantissa(of: v, exponent: exponent) else { return nil }
            mantissas.append(m)
        }
        return (exponent, mantissas)
    }

    /// `m` with `Double(m) / 10^exponent == v` bit for bit and |m| < 2^53, or nil. NaN, ±Inf and huge values fail
    /// the magnitude test; −0.0 fails the bit comparison (the decoder only produces +0.0).
    @inline(__always)
    static func mantissa(of v: Double, exponent: Int) -> Int64? {
        let scale = powersOfTen[exponent]
        let scaled = (v * scale).rounded()
        guard scaled.magnitude < mantissaLimit else { return nil }
        let m = Int64(scaled)
        guard (Double(m) / scale).bitPattern == v.bitPattern else { return nil }
        return m
    }

    private static func appendDecimal(exponent: Int, mantissas: [Int64], into dst: inout [UInt8]) {
        dst.append(Encoding.decimal.rawValue)
        dst.append(UInt8(exponent))
        var previous: Int64 = 0
        for m in mantissas {
            // |m| < 2^53, so the difference cannot overflow.
            Varint.appendSigned(m - previous, to: &dst)
            previous = m
        }
    }

    private static func encodeXOR(_ values: [Double], into dst: inout [UInt8]) {
        dst.append(Encoding.xor.rawValue)
        var previous: UInt64 = 0
        for v in values {
            let bits = v.bitPattern
            let x = bits ^ previous
            previous = bits
            if x == 0 {
                dst.append(0x80)
                continue
            }
            let lead = x.leadingZeroBitCount >> 3
            let trail = x.trailingZeroBitCount >> 3
            dst.append(UInt8(lead << 4 | trail))
            var significant = x >> (8 * UInt64(trail))
            for _ in 0..<(8 - lead - trail) {
                dst.append(UInt8(truncatingIfNeeded: significant))
                significant >>= 8
            }
        }
    }

    private static func checkRoom(_ count: Int, offset: Int, end: Int) throws(CodecError) {
        guard count <= end - offset else {
            throw CodecError(.truncated, "\(count) values cannot fit in the \(end - offset) bytes from byte \(offset)")
        }
    }
}
