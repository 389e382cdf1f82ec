import Testing
import TimeSeriesStore

/// One round-trip function over every encoding, as prometheus `chunk_test.go` does: each case of
/// `CodecFixtures.cases` goes through the timestamp codec, every value encoding that can hold it, the automatic
/// choice, the chunk codec and a one-series segment, and must come back bit for bit.
@Suite struct CodecRoundTripTests {
    @Test(arguments: CodecFixtures.cases)
    func timestampsRoundTrip(_ c: CodecFixtures.Case) throws {
        let times = c.points.map(\.timeMs)
        var encoded: [UInt8] = [0xAA]  // APIs append: bytes already in dst stay
        TimestampCodec.encode(times, into: &encoded)
        #expect(encoded.first == 0xAA)
        #expect(try TimestampCodec.decode(Array(encoded.dropFirst()), count: times.count) == times)
    }

    @Test(arguments: CodecFixtures.cases)
    func everyApplicableValueEncodingRoundTrips(_ c: CodecFixtures.Case) throws {
        let values = c.points.map(\.value)
        var applicable: [ValueCodec.Encoding] = []
        for encoding in ValueCodec.Encoding.allCases {
            var encoded: [UInt8] = [1, 2, 3]
            guard ValueCodec.encode(values, as: encoding, into: &encoded) else {
                #expect(encoded == [1, 2, 3], "a refused encoding must leave dst alone")
                continue
            }
            applicable.append(encoding)
            #expect(encoded[3] == encoding.rawValue)
            let decoded = try ValueCodec.decode(Array(encoded.dropFirst(3)), count: values.count)
            #expect(CodecFixtures.bits(decoded) == CodecFixtures.bits(values), "\(encoding)")
        }
        #expect(applicable.contains(.xor), "xor holds anything")
        #expect(applicable.contains(.decimal) == (c.exponent != nil), "decimal applicability")
        #expect(ValueCodec.decimalExponent(values) == c.exponent)
    }

    @Test(arguments: CodecFixtures.cases)
    func automaticChoiceRoundTrips(_ c: CodecFixtures.Case) throws {
        let values = c.points.map(\.value)
        var encoded: [UInt8] = []
        let chosen = ValueCodec.encode(values, into: &encoded)
        #expect(chosen == c.expected)
        var offset = 0
        var decoded: [Double] = [42]  // decode appends
        let found = try ValueCodec.decode(encoded, at: &offset, end: encoded.count, count: values.count, into: &decoded)
        #expect(found == chosen)
        #expect(offset == encoded.count)
        #expect(CodecFixtures.bits(decoded) == CodecFixtures.bits([42] + values))
    }

    @Test(arguments: CodecFixtures.cases)
    func chunkRoundTrips(_ c: CodecFixtures.Case) throws {
        var encoded: [UInt8] = [9, 9]
        ChunkCodec.encode(c.points, into: &encoded)
        encoded.append(7)
        let decoded = try ChunkCodec.decode(encoded, range: 2..<(encoded.count - 1))
        #expect(CodecFixtures.bits(decoded) == CodecFixtures.bits(c.points))
    }

    @Test(arguments: CodecFixtures.cases)
    func oneSeriesSegmentRoundTrips(_ c: CodecFixtures.Case) throws {
        // Segments hold sorted, unique times only; every case qualifies.
        var writer = SegmentWriter()
        writer.append(series: 5, points: c.points)
        let reader = try SegmentReader(bytes: try writer.finish())
        #expect(CodecFixtures.bits(try reader.points(for: 5)) == CodecFixtures.bits(c.points))
        #expect(reader.series == (c.points.isEmpty ? [] : [5]))
    }

    @Test func decimalChoosesTheSmallestExponent() {
        #expect(ValueCodec.decimalExponent([]) == 0)
        #expect(ValueCodec.decimalExponent([1, 2, 300]) == 0)
        #expect(ValueCodec.decimalExponent([1.5, 2]) == 1)
        #expect(ValueCodec.decimalExponent([0.25, 0.1]) == 2)
        #expect(ValueCodec.decimalExponent([21.3, 21.30, 0.007]) == 3)
        #expect(ValueCodec.decimalExponent([0.1, .nan]) == nil)
        #expect(ValueCodec.decimalExponent([-0.0]) == nil)
        #expect(ValueCodec.decimalExponent([0.0]) == 0)
    }

    @Test func regularTimestampsCostOneBytePerPoint() {
        var encoded: [UInt8] = []
        TimestampCodec.encode(CodecFixtures.regularTimes(1_000), into: &encoded)
        // t0 takes 6 bytes, the first delta 3, then 998 zero delta-of-deltas.
        #expect(encoded.count == 6 + 3 + 998)
    }

    @Test func fixedDecimalValuesAreSmallerThanXOR() {
        let values = CodecFixtures.cases.first { $0.name == "fixed decimal 2" }!.points.map(\.value)
        var decimal: [UInt8] = []
        var xor: [UInt8] = []
        #expect(ValueCodec.encode(values, as: .decimal, into: &decimal))
        #expect(ValueCodec.encode(values, as: .xor, into: &xor))
        #expect(decimal.count * 2 < xor.count, "decimal \(decimal.count) bytes, xor \(xor.count)")
    }

    @Test func xorWritesOneByteForARepeatedValue() {
        var encoded: [UInt8] = []
        #expect(ValueCodec.encode([1.5, 1.5, 1.5], as: .xor, into: &encoded))
        #expect(encoded.count == 1 + 3 + 2)  // encoding byte; first value 0x3FF8000000000000 → ctl + 2 bytes; two 0x80
        #expect(encoded.suffix(2) == [0x80, 0x80])
    }

    @Test func zigZagAndVarintEdges() throws {
        for v: Int64 in [0, -1, 1, -2, 2, .max, .min, .max - 1, .min + 1] {
            #expect(ZigZag.decode(ZigZag.encode(v)) == v)
        }
        #expect(ZigZag.encode(0) == 0 && ZigZag.encode(-1) == 1 && ZigZag.encode(1) == 2 && ZigZag.encode(.min) == .max)
        for v: UInt64 in [0, 1, 127, 128, 16_383, 16_384, 1 << 35, .max >> 1, .max] {
            var encoded: [UInt8] = []
            Varint.append(v, to: &encoded)
            #expect(encoded.count == Varint.length(v))
            var offset = 0
            #expect(try Varint.read(encoded, at: &offset, end: encoded.count) == v)
            #expect(offset == encoded.count)
        }
        var maxEncoded: [UInt8] = []
        Varint.append(.max, to: &maxEncoded)
        #expect(maxEncoded == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
    }
}
