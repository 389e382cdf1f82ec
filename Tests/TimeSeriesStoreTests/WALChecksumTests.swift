import Testing
@testable import TimeSeriesStore

@Suite struct WALChecksumTests {
    /// Bit-at-a-time CRC-32C, the definition the table-driven version must match.
    static func reference(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        }
        return ~c
    }

    @Test func knownVectors() {
        #expect(WALChecksum.crc32c(Array("123456789".utf8)) == 0xE306_9283)
        #expect(WALChecksum.crc32c([]) == 0)
        // RFC 3720 (iSCSI) B.4 test patterns.
        #expect(WALChecksum.crc32c([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(WALChecksum.crc32c([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(WALChecksum.crc32c((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(WALChecksum.crc32c((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func slicingMatchesBitwiseReferenceForEveryLengthAndAlignment() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for start in 0..<9 {
            for length in 0..<(data.count - start) where length < 40 || length % 37 == 0 {
                let slice = Array(data[start..<(start + length)])
                let fast = slice.withUnsafeBytes { WALChecksum.crc32c($0) }
                #expect(fast == Self.reference(slice), "start \(start) length \(length)")
            }
        }
    }

    @Test func continuingOverPiecesEqualsOneShot() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let whole = WALChecksum.crc32c(data)
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let first = data[..<split].withUnsafeBytes { WALChecksum.crc32c($0) }
            let both = data[split...].withUnsafeBytes { WALChecksum.crc32c($0, continuing: first) }
            #expect(both == whole, "split at \(split)")
        }
    }
}
