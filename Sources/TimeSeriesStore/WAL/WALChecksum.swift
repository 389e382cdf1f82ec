/// CRC-32C (Castagnoli) for WAL records, in software (slicing-by-8).
///
/// Reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF, the variant iSCSI, ext4 and
/// LevelDB/RocksDB use; check value `crc32c("123456789") == 0xE3069283`. Kept private to the WAL until it is folded
/// with `Encoding/CRC32C.swift`. About 1 GB/s in release builds, far above what the WAL writes.
enum WALChecksum {
    /// The CRC-32C of `bytes`, continuing from `crc` (the result of an earlier call over the preceding bytes; 0 to start).
    static func crc32c(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard var p = bytes.baseAddress, !bytes.isEmpty else { return crc }
        var n = bytes.count
        var c = ~crc
        return table.withUnsafeBufferPointer { t in
            // Slicing-by-8: eight table lookups per 8 input bytes instead of one per byte.
            while n >= 8 {
                let word = p.loadUnaligned(as: UInt64.self).littleEndian ^ UInt64(c)
                let lo = UInt32(truncatingIfNeeded: word)
                let hi = UInt32(truncatingIfNeeded: word >> 32)
                c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                p += 8
                n -= 8
            }
            while n > 0 {
                c = t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                p += 1
                n -= 1
            }
            return ~c
        }
    }

    /// The CRC-32C of `bytes`.
    static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { crc32c($0) }
    }

    /// Eight 256-entry tables: table k maps a byte to its CRC contribution k bytes further back.
    static let table: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 {
                let previous = t[(k - 1) * 256 + i]
                t[k * 256 + i] = t[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return t
    }()
}
