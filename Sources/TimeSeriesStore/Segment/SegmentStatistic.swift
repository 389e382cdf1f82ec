/// One statistic of an index entry (min, max, sum or last): `d <1>` then, for `d` in 0...15 (0...9 in format 1), the svarint mantissa `m`
/// with value `Double(m) / 10^d`, or for `d` = 0xFF the 8-byte bit pattern (docs/formats/segment.md, "Index body").
///
/// Sensor statistics are mostly short decimals (21.3, 3.615), which take 2–4 bytes this way instead of 8 bytes
/// of nearly random mantissa bits that zstd cannot shrink; that is most of an hourly segment's index.
enum SegmentStatistic {
    /// The `d` byte of a statistic stored as its bit pattern.
    static let rawMarker: UInt8 = 0xFF

    static func append(_ value: Double, to dst: inout [UInt8], maxDecimalExponent: Int = ValueCodec.maxDecimalExponent) {
        for exponent in 0...maxDecimalExponent {
            if let m = ValueCodec.mantissa(of: value, exponent: exponent) {
                dst.append(UInt8(exponent))
                Varint.appendSigned(m, to: &dst)
                return
            }
        }
        dst.append(rawMarker)
        LittleEndian.append(value.bitPattern, to: &dst)
    }

    static func read(_ src: [UInt8], at offset: inout Int, end: Int) throws(CodecError) -> Double {
        guard offset < end else { throw CodecError(.truncated, "statistic at byte \(offset) runs past the end") }
        let marker = src[offset]
        if marker == rawMarker {
            guard end - offset > 8 else { throw CodecError(.truncated, "statistic at byte \(offset) runs past the end") }
            let value = Double(bitPattern: LittleEndian.readUInt64(src, at: offset + 1))
            offset += 9
            return value
        }
        guard Int(marker) <= ValueCodec.maxDecimalExponent else {
            throw CodecError(.corrupt, "statistic at byte \(offset) has exponent \(marker)")
        }
        var position = offset + 1
        let m = try Varint.readSigned(src, at: &position, end: end)
        guard m.magnitude < 1 << 53 else { throw CodecError(.corrupt, "statistic at byte \(offset) has a mantissa out of range") }
        offset = position
        return Double(m) / ValueCodec.powersOfTen[Int(marker)]
    }
}
