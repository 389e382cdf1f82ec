/// Fixed-width little-endian integers in byte arrays, for the few fields that are not varints (float bit patterns,
/// segment header and trailer).
enum LittleEndian {
    @inline(__always)
    static func append(_ value: UInt64, to dst: inout [UInt8]) {
        var v = value
        for _ in 0..<8 {
            dst.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    @inline(__always)
    static func append(_ value: UInt32, to dst: inout [UInt8]) {
        var v = value
        for _ in 0..<4 {
            dst.append(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    /// Overwrites 8 bytes at `offset`, which the caller has already appended.
    static func store(_ value: UInt64, into dst: inout [UInt8], at offset: Int) {
        for i in 0..<8 { dst[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    /// Reads 8 bytes at `offset`; the caller has checked they exist.
    @inline(__always)
    static func readUInt64(_ src: [UInt8], at offset: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(src[offset + i]) << (8 * UInt64(i)) }
        return v
    }

    /// Reads 4 bytes at `offset`; the caller has checked they exist.
    @inline(__always)
    static func readUInt32(_ src: [UInt8], at offset: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(src[offset + i]) << (8 * UInt32(i)) }
        return v
    }
}
