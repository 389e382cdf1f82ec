/// Little-endian varints, zig-zag integers, doubles and length-prefixed strings: the outbox's and the rollup
/// checkpoint's encoding (docs/formats/outbox.md).
enum ByteCoding {
    @inline(__always)
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    @inline(__always)
    static func appendSigned(_ value: Int64, to out: inout [UInt8]) {
        appendVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)), to: &out)
    }

    @inline(__always)
    static func appendDouble(_ value: Double, to out: inout [UInt8]) {
        var bits = value.bitPattern
        for _ in 0..<8 {
            out.append(UInt8(truncatingIfNeeded: bits))
            bits >>= 8
        }
    }

    @inline(__always)
    static func appendString(_ value: String, to out: inout [UInt8]) {
        var s = value
        s.withUTF8 { bytes in
            appendVarint(UInt64(bytes.count), to: &out)
            out.append(contentsOf: bytes)
        }
    }
}

/// Reads what `ByteCoding` wrote; every read returns nil on truncated or malformed input.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func skip(_ n: Int) { offset += n }

    mutating func varint() -> UInt64? { readVarint(bytes, at: &offset) }

    mutating func signed() -> Int64? {
        guard let u = varint() else { return nil }
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    mutating func double() -> Double? {
        guard offset + 8 <= bytes.count else { return nil }
        var bits: UInt64 = 0
        for k in 0..<8 { bits |= UInt64(bytes[offset + k]) << (8 * UInt64(k)) }
        offset += 8
        return Double(bitPattern: bits)
    }

    /// The byte range of a length-prefixed string, without building a `String`.
    mutating func stringRange() -> Range<Int>? {
        guard let n = varint(), n <= UInt64(bytes.count - offset) else { return nil }
        let r = offset..<(offset + Int(n))
        offset += Int(n)
        return r
    }

    mutating func string() -> String? {
        guard let r = stringRange() else { return nil }
        return String(decoding: bytes[r], as: UTF8.self)
    }
}

/// Reads an unsigned LEB128 varint from `bytes` at `offset`, moving `offset` past it; nil when it is truncated or
/// longer than 64 bits. Shared by `ByteReader` and the line-protocol renderer's `RowReader`.
@inline(__always)
func readVarint<C: RandomAccessCollection>(_ bytes: C, at offset: inout Int) -> UInt64? where C.Element == UInt8, C.Index == Int {
    var result: UInt64 = 0
    var shift: UInt64 = 0
    while offset < bytes.endIndex {
        let b = bytes[offset]
        offset += 1
        if shift == 63 && b > 1 { return nil }
        result |= UInt64(b & 0x7F) << shift
        if b < 0x80 { return result }
        shift += 7
        if shift > 63 { return nil }
    }
    return nil
}
