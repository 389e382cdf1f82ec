import Testing
import TimeSeriesStore

@Suite struct CRC32CTests {
    /// Bit-at-a-time reference straight from the definition, to check the slicing-by-8 tables against.
    static func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 0 ? 0 : 0x82F6_3B78) }
        }
        return ~crc
    }

    @Test func standardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(Self.reference(Array("123456789".utf8)) == 0xE306_9283)
    }

    /// RFC 3720 (iSCSI) appendix B.4 test vectors.
    @Test func iSCSIVectors() {
        #expect(CRC32C.checksum([]) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
    }

    @Test func matchesTheBitwiseReferenceAtEveryLengthAndAlignment() {
        var g = SeededGenerator(seed: 0xC5C)
        let data = (0..<600).map { _ in UInt8.random(in: 0...255, using: &g) }
        for start in 0..<9 {
            for length in 0...(data.count - start) where length < 80 || length % 37 == 0 {
                let slice = data[start..<(start + length)]
                #expect(CRC32C.checksum(slice) == Self.reference(Array(slice)), "start \(start) length \(length)")
            }
        }
    }

    @Test func continuingEqualsOneShot() {
        var g = SeededGenerator(seed: 0xC0C0)
        for _ in 0..<200 {
            let data = (0..<Int.random(in: 0...300, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            let cut = Int.random(in: 0...data.count, using: &g)
            let pieces = CRC32C.checksum(data[cut...], continuing: CRC32C.checksum(data[..<cut]))
            #expect(pieces == CRC32C.checksum(data))
        }
    }

    @Test func everySingleBitFlipChangesTheChecksum() {
        var g = SeededGenerator(seed: 0xF11)
        var data = (0..<257).map { _ in UInt8.random(in: 0...255, using: &g) }
        let original = CRC32C.checksum(data)
        for bit in 0..<(data.count * 8) {
            data[bit / 8] ^= 1 << (bit % 8)
            #expect(CRC32C.checksum(data) != original, "bit \(bit)")
            data[bit / 8] ^= 1 << (bit % 8)
        }
    }
}
