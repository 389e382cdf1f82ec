import Foundation
import TimeSeriesStore

// Shared data for the codec and segment tests (this file holds no tests; its name follows the target's
// Codec*Tests.swift pattern so it sits with the tests that use it).

/// SplitMix64: a tiny seeded generator, so every "random" test replays exactly from its seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A normally distributed value (Box–Muller).
    mutating func gaussian() -> Double {
        let u = Double.random(in: Double.ulpOfOne..<1, using: &self)
        let v = Double.random(in: 0..<1, using: &self)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

/// Named inputs shared by the round-trip tables.
enum CodecFixtures {
    /// Unix ms of 2023-11-14T22:13:20Z, a typical "now".
    static let epoch: Int64 = 1_700_000_000_000

    /// One row of the round-trip table: the points and the value encoding the automatic choice must pick.
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var points: [Point]
        var expected: ValueCodec.Encoding
        /// The decimal exponent when `expected` is decimal.
        var exponent: Int? = nil
        var description: String { name }
    }

    static func regularTimes(_ count: Int, start: Int64 = epoch, step: Int64 = 60_000) -> [Int64] {
        (0..<count).map { start + Int64($0) * step }
    }

    static func points(_ times: [Int64], _ values: [Double]) -> [Point] {
        precondition(times.count == values.count)
        return zip(times, values).map { Point(timeMs: $0, value: $1) }
    }

    static func rounded(_ v: Double, decimals: Int) -> Double {
        let scale = [1.0, 10, 100, 1_000, 10_000][decimals]
        return (v * scale).rounded() / scale
    }

    /// The prometheus-style table: every case runs through every encoding that can hold it.
    static let cases: [Case] = {
        var g = SeededGenerator(seed: 42)
        var cases: [Case] = []
        cases.append(Case(name: "empty", points: [], expected: .xor, exponent: 0))
        cases.append(Case(name: "single point", points: [Point(timeMs: epoch, value: 21.5)], expected: .decimal, exponent: 1))
        cases.append(Case(name: "regular 60 s", points: points(regularTimes(1_440), (0..<1_440).map { rounded(20 + 5 * sin(Double($0) / 229), decimals: 1) }),
                          expected: .decimal, exponent: 1))
        var jittered: [Int64] = []
        for i in 0..<500 { jittered.append(epoch + Int64(i) * 60_000 + Int64.random(in: -1_500...1_500, using: &g)) }
        cases.append(Case(name: "jitter ±1.5 s", points: points(jittered, (0..<500).map { Double($0 % 37 + 300) / 100 }), expected: .decimal, exponent: 2))
        cases.append(Case(name: "negative epoch times", points: points(regularTimes(200, start: -315_619_200_000, step: 3_600_000), (0..<200).map { Double($0 - 100) }),
                          expected: .decimal, exponent: 0))
        cases.append(Case(name: "times crossing zero", points: points(regularTimes(100, start: -50_000, step: 1_000), (0..<100).map { Double($0) * 0.5 }),
                          expected: .decimal, exponent: 1))
        var irregular: [Int64] = []
        var t = epoch
        for _ in 0..<400 {
            t += Int64.random(in: 1...3_600_000, using: &g)
            irregular.append(t)
        }
        cases.append(Case(name: "irregular, duplicate-free", points: points(irregular, (0..<400).map { _ in Double(Int.random(in: -500...500, using: &g)) / 1_000 }),
                          expected: .decimal, exponent: 3))
        cases.append(Case(name: "large gaps", points: points([epoch - 5 * 31_536_000_000, epoch - 1, epoch, epoch + 1, epoch + 86_400_000, epoch + 400 * 31_536_000_000],
                                                         [1, 2, 3, 4, 5, 6]), expected: .decimal, exponent: 0))
        cases.append(Case(name: "Int64 extreme times", points: points([.min, .min + 1, -1, 0, 1, .max - 1, .max], [0, 1, 2, 3, 4, 5, 6]),
                          expected: .decimal, exponent: 0))
        for decimals in 1...3 {
            let values = (0..<300).map { i in rounded(15 + 10 * sin(Double(i) / 47) + 0.3 * g.gaussian(), decimals: decimals) }
            cases.append(Case(name: "fixed decimal \(decimals)", points: points(regularTimes(300), values), expected: .decimal, exponent: decimals))
        }
        cases.append(Case(name: "noisy unrounded", points: points(regularTimes(300), (0..<300).map { _ in 20 + g.gaussian() }), expected: .xor))
        cases.append(Case(name: "decimal 0.1 + 0.2 sums", points: points(regularTimes(3), [0.1 + 0.2, 0.3, 0.1]), expected: .xor))
        cases.append(Case(name: "NaN with payloads", points: points(regularTimes(6), [
            .nan, Double(nan: 0x1234, signaling: false), Double(nan: 0x5, signaling: true), -Double.nan,
            Double(bitPattern: 0x7FF0_0000_0000_0001), Double(bitPattern: 0xFFFF_FFFF_FFFF_FFFF),
        ]), expected: .xor))
        cases.append(Case(name: "±Inf", points: points(regularTimes(4), [.infinity, -.infinity, 1, .infinity]), expected: .xor))
        cases.append(Case(name: "-0.0", points: points(regularTimes(4), [0, -0.0, 1, -0.0]), expected: .xor))
        cases.append(Case(name: "subnormals", points: points(regularTimes(5), [
            .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude / 3, .leastNormalMagnitude.nextDown, 0,
        ]), expected: .xor))
        cases.append(Case(name: "greatestFiniteMagnitude", points: points(regularTimes(3), [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1e308]),
                          expected: .xor))
        cases.append(Case(name: "mantissa extremes ±(2^53 − 1)", points: points(regularTimes(4), [9_007_199_254_740_991, -9_007_199_254_740_991, 0, 9_007_199_254_740_991]),
                          expected: .decimal, exponent: 0))
        cases.append(Case(name: "2^53 is not decimal", points: points(regularTimes(2), [9_007_199_254_740_992, 1]), expected: .xor))
        cases.append(Case(name: "Int64 extremes as values", points: points(regularTimes(2), [Double(Int64.max), Double(Int64.min)]), expected: .xor))
        cases.append(Case(name: "nine decimals", points: points(regularTimes(3), [0.000_000_001, 1.123_456_789, -2.5]), expected: .decimal, exponent: 9))
        cases.append(Case(name: "ten decimals", points: points(regularTimes(3), [0.000_000_000_1, 1, 18.622_184_922_4]), expected: .decimal, exponent: 10))
        cases.append(Case(name: "fifteen decimals", points: points(regularTimes(2), [0.000_000_000_000_001, -1.5]), expected: .decimal, exponent: 15))
        cases.append(Case(name: "sixteen decimals", points: points(regularTimes(2), [0.000_000_000_000_000_1, 1]), expected: .xor))
        cases.append(Case(name: "fifteen decimals beyond 2^53", points: points(regularTimes(2), [9.007_199_254_740_993, 1]), expected: .xor))
        cases.append(Case(name: "constant run", points: points(regularTimes(600), Array(repeating: 3.3, count: 600)), expected: .constant, exponent: 1))
        cases.append(Case(name: "constant NaN", points: points(regularTimes(50), Array(repeating: Double(nan: 7, signaling: false), count: 50)),
                          expected: .constant))
        cases.append(Case(name: "constant then step", points: points(regularTimes(60), (0..<60).map { $0 < 59 ? 1 : 0 }), expected: .decimal, exponent: 0))
        return cases
    }()

    /// Kinds of realistic city sensor series.
    enum SensorKind: CaseIterable {
        case temperature, humidity, voltage, power, counter, status, noisy
    }

    /// `count` points of one realistic sensor series at 1-minute cadence: daily cycles, noise, the resolution the
    /// device reports, and for half of the series the receive-time jitter of a real network.
    static func sensorSeries(kind: SensorKind, count: Int, start: Int64 = epoch, jitter: Bool, generator g: inout SeededGenerator) -> [Point] {
        var points: [Point] = []
        points.reserveCapacity(count)
        let phase = Double.random(in: 0..<(2 * .pi), using: &g)
        var level = Double.random(in: 0...100, using: &g)
        var previousTime = Int64.min
        for i in 0..<count {
            var time = start + Int64(i) * 60_000
            if jitter { time += Int64.random(in: -800...800, using: &g) }
            if time <= previousTime { time = previousTime + 1 }
            previousTime = time
            let day = 2 * .pi * Double(i) / 1_440 + phase
            let value: Double
            switch kind {
            case .temperature: value = rounded(12 + 6 * sin(day) + 0.15 * g.gaussian(), decimals: 1)
            case .humidity: value = rounded(60 - 15 * sin(day) + 0.5 * g.gaussian(), decimals: 1)
            case .voltage: value = rounded(3.6 - 0.000_05 * Double(i) + 0.002 * g.gaussian(), decimals: 3)
            case .power:
                if Int.random(in: 0..<30, using: &g) == 0 { level = Double.random(in: 0...50, using: &g) }
                value = rounded(level + 0.05 * g.gaussian(), decimals: 2)
            case .counter:
                level += Double(Int.random(in: 0...3, using: &g))
                value = level.rounded()
            case .status:
                if Int.random(in: 0..<200, using: &g) == 0 { level = level == 0 ? 1 : 0 }
                value = level == 0 ? 0 : 1
            case .noisy: value = 18 + 3 * sin(day) + g.gaussian()
            }
            points.append(Point(timeMs: time, value: value))
        }
        return points
    }

    /// A city workload: `series` series of `points` points, kinds mixed as a gateway sees them (mostly
    /// fixed-decimal sensors, some counters and flags, a few computed unrounded values).
    static func cityWorkload(series: Int, points: Int, seed: UInt64, start: Int64 = epoch) -> [(SeriesID, [Point])] {
        var g = SeededGenerator(seed: seed)
        let weighted: [SensorKind] = [.temperature, .temperature, .humidity, .humidity, .voltage, .power, .power, .counter, .status, .noisy]
        return (0..<series).map { index in
            let kind = weighted[index % weighted.count]
            return (SeriesID(index * 3 + 7), sensorSeries(kind: kind, count: points, start: start, jitter: index % 2 == 1, generator: &g))
        }
    }

    static func bits(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }
    static func bits(_ points: [Point]) -> [[UInt64]] { points.map { [UInt64(bitPattern: $0.timeMs), $0.value.bitPattern] } }
}
