import Testing
import TimeSeriesStore

/// Corrupt and truncated codec input throws a `CodecError`; it never traps and never reserves more than the input
/// can hold.
@Suite struct CodecCorruptionTests {
    static func valueEncodings(_ values: [Double]) -> [(ValueCodec.Encoding, [UInt8])] {
        ValueCodec.Encoding.allCases.compactMap { encoding in
            var bytes: [UInt8] = []
            return ValueCodec.encode(values, as: encoding, into: &bytes) ? (encoding, bytes) : nil
        }
    }

    @Test(arguments: CodecFixtures.cases.filter { !$0.points.isEmpty })
    func everyTruncationThrows(_ c: CodecFixtures.Case) {
        var times: [UInt8] = []
        TimestampCodec.encode(c.points.map(\.timeMs), into: &times)
        for length in 0..<times.count {
            #expect(throws: CodecError.self) { try TimestampCodec.decode(Array(times.prefix(length)), count: c.points.count) }
        }
        for (encoding, values) in Self.valueEncodings(c.points.map(\.value)) {
            for length in 0..<values.count {
                #expect(throws: CodecError.self, "\(encoding) cut at \(length)") {
                    try ValueCodec.decode(Array(values.prefix(length)), count: c.points.count)
                }
            }
        }
        var chunk: [UInt8] = []
        ChunkCodec.encode(c.points, into: &chunk)
        for length in 0..<chunk.count {
            #expect(throws: CodecError.self) { try ChunkCodec.decode(chunk, range: 0..<length) }
        }
    }

    @Test(arguments: CodecFixtures.cases)
    func trailingBytesThrow(_ c: CodecFixtures.Case) {
        var times: [UInt8] = []
        TimestampCodec.encode(c.points.map(\.timeMs), into: &times)
        #expect(throws: CodecError.self) { try TimestampCodec.decode(times + [0], count: c.points.count) }
        for (encoding, values) in Self.valueEncodings(c.points.map(\.value)) {
            #expect(throws: CodecError.self, "\(encoding)") { try ValueCodec.decode(values + [0], count: c.points.count) }
        }
        var chunk: [UInt8] = []
        ChunkCodec.encode(c.points, into: &chunk)
        #expect(throws: CodecError.self) { try ChunkCodec.decode(chunk + [0], range: 0..<(chunk.count + 1)) }
    }

    @Test func malformedVarintsThrow() {
        let bad: [(String, [UInt8], CodecError.Kind)] = [
            ("empty", [], .truncated),
            ("continuation without end", [0x80], .truncated),
            ("redundant zero group", [0x80, 0x00], .corrupt),
            ("redundant zero group, longer", [0xFF, 0x80, 0x00], .corrupt),
            ("11 bytes", Array(repeating: 0xFF, count: 10) + [0x01], .corrupt),
            ("10th byte overflows", Array(repeating: 0xFF, count: 9) + [0x02], .corrupt),
        ]
        for (name, bytes, kind) in bad {
            var offset = 0
            let error = #expect(throws: CodecError.self, "\(name)") { try Varint.read(bytes, at: &offset, end: bytes.count) }
            #expect(error?.kind == kind, "\(name)")
            #expect(offset == 0, "a failed read leaves offset alone")
        }
        // `end` is a hard limit even when the array goes on.
        var offset = 0
        #expect(throws: CodecError.self) { try Varint.read([0x81, 0x01], at: &offset, end: 1) }
    }

    @Test func malformedValueStreamsThrow() {
        let bad: [(String, [UInt8], Int, CodecError.Kind)] = [
            ("no encoding byte", [], 1, .truncated),
            ("encoding 0", [0], 0, .corrupt),
            ("encoding 4", [4, 0], 1, .corrupt),
            ("encoding 255", [255], 0, .corrupt),
            ("constant with no values", [1, 0, 0, 0, 0, 0, 0, 0, 0], 0, .corrupt),
            ("constant cut short", [1, 0, 0, 0], 3, .truncated),
            ("decimal without exponent", [2], 1, .truncated),
            ("decimal exponent 16", [2, 16, 0], 1, .corrupt),
            ("decimal mantissa 2^53", [2, 0] + Self.svarint(1 << 53), 1, .corrupt),
            ("decimal mantissa −2^53", [2, 0] + Self.svarint(-(1 << 53)), 1, .corrupt),
            ("decimal deltas leave the range", [2, 0] + Self.svarint((1 << 53) - 1) + Self.svarint(1), 2, .corrupt),
            ("decimal count beyond the bytes", [2, 1, 0, 0], 3, .truncated),
            ("xor control 0x80 is the only zero form", [3, 0x44], 1, .corrupt),
            ("xor lead+trail = 8", [3, 0x71, 0x01], 1, .corrupt),
            ("xor control 0xF0", [3, 0xF0], 1, .corrupt),
            ("xor significant bytes end in zero", [3, 0x60, 0x01, 0x00], 1, .corrupt),
            ("xor significant bytes start with zero", [3, 0x60, 0x00, 0x01], 1, .corrupt),
            ("xor bytes cut short", [3, 0x00, 1, 2, 3], 1, .truncated),
            ("xor count beyond the bytes", [3, 0x80], 2, .truncated),
        ]
        for (name, bytes, count, kind) in bad {
            let error = #expect(throws: CodecError.self, "\(name)") { try ValueCodec.decode(bytes, count: count) }
            #expect(error?.kind == kind, "\(name): \(String(describing: error))")
        }
    }

    @Test func hugeCountsAreRefusedBeforeAllocating() {
        // Each of these would need terabytes if the count were trusted.
        #expect(throws: CodecError.self) { try TimestampCodec.decode([0, 0, 0], count: Int.max) }
        #expect(throws: CodecError.self) { try ValueCodec.decode([3, 0x80, 0x80], count: 1 << 40) }
        #expect(throws: CodecError.self) { try ValueCodec.decode([2, 0, 0, 0], count: 1 << 40) }
        var chunk: [UInt8] = []
        Varint.append(UInt64.max, to: &chunk)
        chunk += [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(throws: CodecError.self) { try ChunkCodec.decode(chunk, range: 0..<chunk.count) }
        var chunk2: [UInt8] = []
        Varint.append(1 << 40, to: &chunk2)
        chunk2 += Array(repeating: 0, count: 64)
        #expect(throws: CodecError.self) { try ChunkCodec.decode(chunk2, range: 0..<chunk2.count) }
    }

    /// Random bytes as a chunk: decoding either succeeds with at most one point per input byte or throws; it must
    /// never trap (a trap fails the whole test run). Mutated valid chunks likewise.
    @Test func garbageAndMutatedChunksNeverTrap() {
        var g = SeededGenerator(seed: 0x6A2B)
        var threw = 0
        var decoded = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...64, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
                // Bias towards plausible prefixes: a small count and a known encoding byte somewhere.
                if !bytes.isEmpty && Bool.random(using: &g) { bytes[0] = UInt8.random(in: 0...20, using: &g) }
            } else {
                let c = CodecFixtures.cases[round % CodecFixtures.cases.count]
                bytes = []
                ChunkCodec.encode(Array(c.points.prefix(40)), into: &bytes)
                for _ in 0..<Int.random(in: 1...3, using: &g) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &g)] ^= UInt8.random(in: 1...255, using: &g)
                }
            }
            do {
                let points = try ChunkCodec.decode(bytes, range: 0..<bytes.count)
                // Zero runs let a chunk hold more points than bytes, up to the bound the decoder enforces.
                #expect(points.count <= max(bytes.count, ChunkCodec.maxPointsBeyondBytes))
                decoded += 1
            } catch {
                threw += 1
            }
        }
        #expect(threw > 1_000)
        #expect(decoded > 100)
    }

    static func svarint(_ v: Int64) -> [UInt8] {
        var bytes: [UInt8] = []
        Varint.appendSigned(v, to: &bytes)
        return bytes
    }
}
