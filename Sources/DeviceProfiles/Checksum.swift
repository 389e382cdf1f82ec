/// Integrity checks device frames carry. Pure functions over bytes.
public enum Checksum: String, Sendable, Hashable, CaseIterable {
    /// Sum of bytes modulo 256.
    case sum8
    /// XOR of bytes.
    case xor8
    /// CRC-16/MODBUS: poly 0x8005 reflected (0xA001), init 0xFFFF.
    case crc16Modbus = "crc16-modbus"
    /// CRC-16/KERMIT: poly 0x1021 reflected (0x8408), init 0x0000.
    case crc16Kermit = "crc16-kermit"
    /// CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, not reflected.
    case crc16CCITT = "crc16-ccitt"

    /// Width of the stored value in bytes.
    public var width: Int {
        switch self {
        case .sum8, .xor8: return 1
        default: return 2
        }
    }

    /// Computes the check over `bytes`.
    public func compute<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        switch self {
        case .sum8:
            var s: UInt8 = 0
            for b in bytes { s &+= b }
            return UInt32(s)
        case .xor8:
            var s: UInt8 = 0
            for b in bytes { s ^= b }
            return UInt32(s)
        case .crc16Modbus: return UInt32(Checksum.reflected16(bytes, poly: 0xA001, initial: 0xFFFF))
        case .crc16Kermit: return UInt32(Checksum.reflected16(bytes, poly: 0x8408, initial: 0x0000))
        case .crc16CCITT:
            var crc: UInt16 = 0xFFFF
            for b in bytes {
                crc ^= UInt16(b) << 8
                for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
            }
            return UInt32(crc)
        }
    }

    private static func reflected16<C: Collection>(_ bytes: C, poly: UInt16, initial: UInt16) -> UInt16 where C.Element == UInt8 {
        var crc = initial
        for b in bytes {
            crc ^= UInt16(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ poly : crc >> 1 }
        }
        return crc
    }
}
