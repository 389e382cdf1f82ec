import Testing
import TimeSeriesStore

/// Seeded random round trips: thousands of generated chunks per codec, each replayable from its seed.
@Suite struct CodecPropertyTests {
    /// Any Int64 sequence (sorted or not, extremes included) round-trips through the timestamp codec.
    @Test func timestampsRoundTripForAnySequence() throws {
        var g = SeededGenerator(seed: 0x7155)
        for round in 0..<3_000 {
            let count = Int.random(in: 0...200, using: &g)
            var times: [Int64] = []
            switch round % 4 {
            case 0:  // regular with jitter
                var t = Int64.random(in: -(1 << 45)...(1 << 45), using: &g)
                let step = Int64.random(in: 1...3_600_000, using: &g)
                for _ in 0..<count {
                    times.append(t + Int64.random(in: -step / 2...step / 2, using: &g))
                    t += step
                }
            case 1:  // sorted, irregular, gaps up to a year
                var t = Int64.random(in: -(1 << 50)...(1 << 50), using: &g)
                for _ in 0..<count {
                    t += Int64.random(in: 1...31_536_000_000, using: &g)
                    times.append(t)
                }
            case 2:  // anything at all: the arithmetic wraps
                times = (0..<count).map { _ in Int64(bitPattern: g.next()) }
            default:  // extremes mixed in
                let pool: [Int64] = [.min, .max, 0, -1, 1, .min + 1, .max - 1]
                times = (0..<count).map { _ in Bool.random(using: &g) ? pool.randomElement(using: &g)! : Int64(bitPattern: g.next() >> 3) }
            }
            var encoded: [UInt8] = []
            TimestampCodec.encode(times, into: &encoded)
            #expect(try TimestampCodec.decode(encoded, count: times.count) == times, "round \(round)")
        }
    }

    /// Any Double sequence round-trips bit for bit, through the automatic choice and through every encoding that
    /// accepts it; the choice follows the documented rule.
    @Test func valuesRoundTripBitForBit() throws {
        var g = SeededGenerator(seed: 0xD0B1E)
        var chosen: [ValueCodec.Encoding: Int] = [:]
        for round in 0..<4_000 {
            let count = Int.random(in: 0...200, using: &g)
            let values = Self.randomValues(count: count, round: round, generator: &g)
            var encoded: [UInt8] = []
            let encoding = ValueCodec.encode(values, into: &encoded)
            chosen[encoding, default: 0] += 1
            let decoded = try ValueCodec.decode(encoded, count: values.count)
            #expect(CodecFixtures.bits(decoded) == CodecFixtures.bits(values), "round \(round), \(encoding)")

            let constant = values.count >= 2 && Set(values.map(\.bitPattern)).count == 1
            let decimal = !values.isEmpty && ValueCodec.decimalExponent(values) != nil
            #expect(encoding == (constant ? .constant : decimal ? .decimal : .xor), "round \(round)")
            for forced in ValueCodec.Encoding.allCases {
                var bytes: [UInt8] = []
                if ValueCodec.encode(values, as: forced, into: &bytes) {
                    #expect(CodecFixtures.bits(try ValueCodec.decode(bytes, count: values.count)) == CodecFixtures.bits(values), "round \(round), \(forced)")
                }
            }
        }
        // The generator must actually exercise all three encodings.
        #expect(chosen.count == 3, "\(chosen)")
    }

    /// Values built as m / 10^d with some m not divisible by 10 get exactly exponent d.
    @Test func decimalExponentIsMinimal() {
        var g = SeededGenerator(seed: 0xDEC)
        for round in 0..<3_000 {
            let d = Int.random(in: 0...9, using: &g)
            let scale = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9][d]
            let count = Int.random(in: 1...50, using: &g)
            var mantissas = (0..<count).map { _ in Int64.random(in: -(1 << 40)...(1 << 40), using: &g) }
            mantissas[Int.random(in: 0..<count, using: &g)] = Int64.random(in: 1...(1 << 40), using: &g) * 10 + Int64.random(in: 1...9, using: &g)
            let values = mantissas.map { Double($0) / scale }
            #expect(ValueCodec.decimalExponent(values) == d, "round \(round): d \(d)")
        }
    }

    /// Whole chunks of sorted points round-trip, and a chunk never costs more than its worst case (10 bytes a
    /// timestamp, 9 a value, plus count and encoding bytes).
    @Test func chunksRoundTrip() throws {
        var g = SeededGenerator(seed: 0xC4A2)
        for round in 0..<2_000 {
            let count = Int.random(in: 0...300, using: &g)
            var t = Int64.random(in: -(1 << 44)...(1 << 44), using: &g)
            let times = (0..<count).map { _ in
                t += Int64.random(in: 1...600_000, using: &g)
                return t
            }
            let values = Self.randomValues(count: count, round: round, generator: &g)
            let points = CodecFixtures.points(times, values)
            var encoded: [UInt8] = []
            ChunkCodec.encode(points, into: &encoded)
            #expect(encoded.count <= Varint.maxLength + 1 + 19 * count)
            #expect(CodecFixtures.bits(try ChunkCodec.decode(encoded, range: 0..<encoded.count)) == CodecFixtures.bits(points), "round \(round)")
        }
    }

    static func randomValues(count: Int, round: Int, generator g: inout SeededGenerator) -> [Double] {
        switch round % 6 {
        case 0:  // fixed decimals at a random resolution and magnitude
            let d = Int.random(in: 0...15, using: &g)
            let scale = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15][d]
            let bound = Int64(1) << Int.random(in: 1...52, using: &g)
            return (0..<count).map { _ in Double(Int64.random(in: -(bound - 1)...(bound - 1), using: &g)) / scale }
        case 1:  // any bit pattern: NaN payloads, subnormals, infinities, −0.0
            return (0..<count).map { _ in Double(bitPattern: g.next()) }
        case 2:  // special values mixed with ordinary ones
            let pool: [Double] = [.nan, -.nan, Double(nan: 99, signaling: true), .infinity, -.infinity, -0.0, 0.0, .leastNonzeroMagnitude,
                                  .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1, 0.1, 9_007_199_254_740_991, 9_007_199_254_740_992]
            return (0..<count).map { _ in pool.randomElement(using: &g)! }
        case 3:  // constant runs
            let v = Bool.random(using: &g) ? Double(bitPattern: g.next()) : Double(Int.random(in: -5...5, using: &g)) / 4
            return Array(repeating: v, count: count)
        case 4:  // noisy unrounded floats
            return (0..<count).map { _ in 20 + g.gaussian() }
        default:  // a fixed-decimal run with one odd value somewhere
            var values = (0..<count).map { _ in Double(Int.random(in: -10_000...10_000, using: &g)) / 100 }
            if count > 0 { values[Int.random(in: 0..<count, using: &g)] = [Double.nan, -0.0, 1e-12, .pi].randomElement(using: &g)! }
            return values
        }
    }
}

/// The codecs of segment format 2: zero-run timestamps, decimals up to 15 places, both chunk layouts.
@Suite struct CodecVersion2PropertyTests {
    /// Timestamps of every shape a gateway sees (and some it should not): regular with gaps, jitter, irregular,
    /// duplicates, out of order, anything at all, extremes.
    static func randomTimes(round: Int, generator g: inout SeededGenerator) -> [Int64] {
        let count = Int.random(in: 0...300, using: &g)
        var t = Int64.random(in: -(1 << 45)...(1 << 45), using: &g)
        let step = Int64.random(in: 1...3_600_000, using: &g)
        switch round % 7 {
        case 0:  // regular, with an occasional gap or late reading
            return (0..<count).map { _ in
                t += Int.random(in: 0..<20, using: &g) == 0 ? step * Int64.random(in: 2...5, using: &g) : step
                return t
            }
        case 1:  // regular with jitter
            return (0..<count).map { i in t + Int64(i) * step + Int64.random(in: -2_000...2_000, using: &g) }
        case 2:  // irregular, sorted
            return (0..<count).map { _ in
                t += Int64.random(in: 1...31_536_000_000, using: &g)
                return t
            }
        case 3:  // duplicates and out of order
            let base = (0..<count).map { t + Int64($0) * step }
            return base.map { Int.random(in: 0..<4, using: &g) == 0 ? base.randomElement(using: &g)! : $0 }
        case 4:  // anything: the arithmetic wraps
            return (0..<count).map { _ in Int64(bitPattern: g.next()) }
        case 5:  // extremes mixed with runs
            let pool: [Int64] = [.min, .max, 0, -1, 1, .min + 1, .max - 1]
            return (0..<count).map { i in i % 9 == 0 ? pool.randomElement(using: &g)! : t + Int64(i) * step }
        default:  // very short
            return (0..<Int.random(in: 0...4, using: &g)).map { _ in t + Int64.random(in: -5...5, using: &g) * step }
        }
    }

    /// Every sequence round-trips through zero runs and through the automatic choice; the choice is never larger
    /// than plain delta-of-delta plus its encoding byte.
    @Test func timestampsRoundTripThroughEveryEncoding() throws {
        var g = SeededGenerator(seed: 0x2E60)
        var chosen: [TimestampCodec.Encoding: Int] = [:]
        for round in 0..<4_000 {
            let times = Self.randomTimes(round: round, generator: &g)
            var plain: [UInt8] = []
            TimestampCodec.encode(times, into: &plain)
            for encoding in TimestampCodec.Encoding.allCases {
                var tagged: [UInt8] = [0xEE, encoding.rawValue]  // decoding starts after the 0xEE
                TimestampCodec.encode(times, as: encoding, into: &tagged)
                var offset = 1
                var decoded: [Int64] = [7]  // decode appends
                let found = try TimestampCodec.decodeTagged(tagged, at: &offset, end: tagged.count, count: times.count, into: &decoded)
                #expect(found == encoding)
                #expect(offset == tagged.count, "round \(round), \(encoding)")
                #expect(decoded == [7] + times, "round \(round), \(encoding)")
            }
            var best: [UInt8] = []
            let encoding = TimestampCodec.encodeSmaller(times, into: &best)
            chosen[encoding, default: 0] += 1
            #expect(best.count <= plain.count + 1, "round \(round)")
            var offset = 0
            var decoded: [Int64] = []
            #expect(try TimestampCodec.decodeTagged(best, at: &offset, end: best.count, count: times.count, into: &decoded) == encoding)
            #expect(decoded == times && offset == best.count, "round \(round)")
        }
        #expect(chosen.count == 2, "\(chosen)")
    }

    /// A regular day of 5-minute readings: a handful of bytes with zero runs, 288 without.
    @Test func regularTimestampsCollapseToAFewBytes() throws {
        let times = CodecFixtures.regularTimes(288, step: 300_000)
        var encoded: [UInt8] = []
        #expect(TimestampCodec.encodeSmaller(times, into: &encoded) == .zeroRuns)
        #expect(encoded.count <= 16, "\(encoded.count) bytes")  // byte, t0 (6), step (3), 0x00, 285 (2)
        var plain: [UInt8] = []
        TimestampCodec.encode(times, into: &plain)
        #expect(plain.count >= 288)
        var capped: [UInt8] = []
        #expect(TimestampCodec.encodeSmaller(times, into: &capped, allowZeroRuns: false) == .deltaOfDelta)
        #expect(capped == [TimestampCodec.Encoding.deltaOfDelta.rawValue] + plain)
    }

    /// Values at 10 to 15 decimals (NAB's synthetic series have 10) are decimal in format 2 and round-trip bit for
    /// bit at every exponent; format 1's chunks keep them as XOR; noise, specials and 2^53 still fall back to XOR.
    @Test func decimalsUpToFifteenPlacesRoundTrip() throws {
        var g = SeededGenerator(seed: 0xF1F7)
        for round in 0..<3_000 {
            let d = Int.random(in: 0...15, using: &g)
            let scale = (0..<d).reduce(1.0) { acc, _ in acc * 10 }
            let count = Int.random(in: 1...200, using: &g)
            // Below 2^48: near 2^53, v × 10^d can round to a neighbouring mantissa and the encoder falls back to XOR.
            let bound = Int64(1) << Int.random(in: 4...48, using: &g)
            var mantissas = (0..<count).map { _ in Int64.random(in: -(bound - 1)...(bound - 1), using: &g) }
            mantissas[0] = Int64.random(in: 1...(bound - 1) / 10 + 1, using: &g) * 10 - Int64.random(in: 1...9, using: &g)
            let values = mantissas.map { Double($0) / scale }
            #expect(ValueCodec.decimalExponent(values) == d, "round \(round)")
            var encoded: [UInt8] = []
            let encoding = ValueCodec.encode(values, into: &encoded)
            #expect(encoding == (count >= 2 && Set(values.map(\.bitPattern)).count == 1 ? .constant : .decimal), "round \(round)")
            #expect(CodecFixtures.bits(try ValueCodec.decode(encoded, count: count)) == CodecFixtures.bits(values), "round \(round)")
            var version1: [UInt8] = []
            let old = ValueCodec.encode(values, into: &version1, maxDecimalExponent: ValueCodec.maxDecimalExponentVersion1)
            if d > 9 && encoding == .decimal { #expect(old == .xor, "round \(round)") }
            #expect(CodecFixtures.bits(try ValueCodec.decode(version1, count: count)) == CodecFixtures.bits(values), "round \(round)")
        }
        for odd: [Double] in [[.nan, 1], [-0.0, 1], [.infinity], [.leastNonzeroMagnitude], [1e-16], [9_007_199_254_740_992], [0.1 + 0.2]] {
            #expect(ValueCodec.decimalExponent(odd) == nil, "\(odd)")
        }
    }

    /// Whole chunks in both layouts: every time shape, every value kind, bit for bit; format 1 never holds more
    /// points than bytes.
    @Test(arguments: [UInt8(1), 2])
    func chunksRoundTrip(version: UInt8) throws {
        var g = SeededGenerator(seed: 0xC4A3 + UInt64(version))
        for round in 0..<2_000 {
            let times = Self.randomTimes(round: round, generator: &g)
            let values = CodecPropertyTests.randomValues(count: times.count, round: round / 7, generator: &g)
            let points = CodecFixtures.points(times, values)
            var encoded: [UInt8] = [1, 2]
            ChunkCodec.encode(points, into: &encoded, version: version)
            encoded.append(3)
            let decoded = try ChunkCodec.decode(encoded, range: 2..<(encoded.count - 1), version: version)
            #expect(CodecFixtures.bits(decoded) == CodecFixtures.bits(points), "round \(round)")
            if version == 1 { #expect(points.count <= encoded.count - 3) }
        }
    }

    /// Malformed zero runs are refused: longer than the timestamps left, a run straight after a run, an unknown
    /// encoding byte, a run length cut off.
    @Test func malformedZeroRunsAreRefused() {
        func decode(_ bytes: [UInt8], count: Int) throws(CodecError) -> [Int64] {
            var offset = 0
            var out: [Int64] = []
            try TimestampCodec.decodeTagged(bytes, at: &offset, end: bytes.count, count: count, into: &out)
            return out
        }
        // t0 = 0, delta 1, then a run of 3 zero delta-of-deltas: 5 timestamps.
        #expect((try? decode([1, 0, 2, 0, 2], count: 5)) == [0, 1, 2, 3, 4])
        #expect(throws: CodecError.self) { try decode([1, 0, 2, 0, 3], count: 5) }  // run of 4, 3 left
        #expect(throws: CodecError.self) { try decode([1, 0, 2, 0, 0, 0, 0], count: 5) }  // run after run
        #expect(throws: CodecError.self) { try decode([2, 0, 2, 0, 2], count: 5) }  // unknown encoding
        #expect(throws: CodecError.self) { try decode([1, 0, 2, 0], count: 5) }  // run length missing
        #expect(throws: CodecError.self) { try decode([1, 0, 2, 0, 0xFF], count: 5) }  // run length cut off
        #expect(throws: CodecError.self) { try decode([], count: 0) }  // no encoding byte
        // A chunk may not declare more than the bound beyond its bytes, whatever its runs could hold.
        var chunk: [UInt8] = []
        Varint.append(UInt64(ChunkCodec.maxPointsBeyondBytes + 1), to: &chunk)
        chunk += [1, 0, 2, 0]
        Varint.append(UInt64(ChunkCodec.maxPointsBeyondBytes - 2), to: &chunk)
        chunk += [1, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(throws: CodecError.self) { try ChunkCodec.decode(chunk, range: 0..<chunk.count) }
    }
}
