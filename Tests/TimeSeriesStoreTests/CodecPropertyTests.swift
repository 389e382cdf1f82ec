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
            let d = Int.random(in: 0...9, using: &g)
            let scale = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9][d]
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
