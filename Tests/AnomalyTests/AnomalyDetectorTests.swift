import Anomaly
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A deterministic pseudo-random generator (SplitMix64) so the synthetic series are the same on every run.
private struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// Standard normal (Box–Muller).
    mutating func normal() -> Double {
        let u = max(uniform(), 1e-12)
        let v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}

/// Five-minute sampling from 2024-01-01T00:00:00Z.
private let stepMs: Int64 = 300_000
private let startMs: Int64 = 1_704_067_200_000
private let perDay = 288

/// A noisy daily sine: mean 50, amplitude 20, noise σ = 1.
private func dailySine(days: Int, seed: UInt64) -> [Double] {
    var rng = SplitMix64(state: seed)
    return (0..<(days * perDay)).map { i in 50 + 20 * sin(2 * Double.pi * Double(i) / Double(perDay)) + rng.normal() }
}

private func scores(_ values: [Double], configuration: AnomalyDetector.Configuration = .init()) -> [Double] {
    var d = AnomalyDetector(configuration: configuration)
    return values.enumerated().map { d.score(timeMs: startMs + Int64($0.offset) * stepMs, value: $0.element) }
}

@Test func scoresStayInTheUnitInterval() {
    var rng = SplitMix64(state: 7)
    var d = AnomalyDetector()
    var t = startMs
    for i in 0..<20_000 {
        // Noise, heavy spikes, long flat stretches, huge magnitudes, irregular and repeated timestamps.
        var v = rng.normal() * (i % 5000 < 2500 ? 1 : 1e9)
        if rng.uniform() < 0.01 { v *= 1e6 }
        if (8000..<9000).contains(i) { v = 3 }
        t += Int64(rng.uniform() * 600_000)
        let s = d.score(timeMs: t, value: v)
        #expect(s >= 0 && s <= 1, "score \(s) at \(i)")
        if !(s >= 0 && s <= 1) { return }
    }
}

@Test func spikeOnANoisyDailyCycleScoresHighAndTheCycleLow() {
    var values = dailySine(days: 10, seed: 1)
    let spike = 8 * perDay + 100
    values[spike] += 15
    let s = scores(values)
    let ordinary = s[(3 * perDay)..<(8 * perDay)]
    let worstOrdinary = ordinary.max() ?? 1
    #expect(s[spike] >= 0.5)
    #expect(worstOrdinary < 0.5)
    #expect(s[spike] > worstOrdinary)
    // Nearly all of the ordinary cycle is far from alarming.
    #expect(ordinary.filter { $0 > 0.3 }.count <= ordinary.count / 100)
}

@Test func levelShiftIsDetectedThenAdaptedTo() {
    var rng = SplitMix64(state: 3)
    let shift = 2000
    let values = (0..<5000).map { i in (i < shift ? 10.0 : 30.0) + rng.normal() }
    let s = scores(values)
    #expect((s[shift...(shift + 5)].max() ?? 0) >= 0.5)
    #expect((s[1000..<shift].max() ?? 1) < 0.5)
    // Once the new level is the normal one, it scores low again.
    #expect((s[(shift + 1000)...].max() ?? 1) < 0.5)
}

@Test func nonFiniteValuesDoNotPoisonTheState() {
    let values = dailySine(days: 4, seed: 11)
    var clean = AnomalyDetector()
    var dirty = AnomalyDetector()
    for (i, v) in values.enumerated() {
        let t = startMs + Int64(i) * stepMs
        if i % 97 == 0 {
            for bad in [Double.nan, .infinity, -.infinity, .signalingNaN] {
                let s = dirty.score(timeMs: t, value: bad)
                #expect(s == 0)
            }
        }
        #expect(clean.score(timeMs: t, value: v) == dirty.score(timeMs: t, value: v))
    }
    #expect(clean.pointsSeen == values.count && dirty.pointsSeen == values.count)
}

@Test func stateIsFixedSizeAndUnderTwoKiB() {
    // All state is inline (no heap buffers), so the struct's size is the whole memory per series.
    #expect(MemoryLayout<AnomalyDetector>.size < 2048)
    #expect(MemoryLayout<AnomalyDetector>.stride < 2048)
}

@Test func detectorIsAValue() {
    let values = dailySine(days: 3, seed: 5)
    var a = AnomalyDetector()
    for (i, v) in values.prefix(500).enumerated() { _ = a.score(timeMs: startMs + Int64(i) * stepMs, value: v) }
    var b = a
    // The copy continues exactly like the original and is unaffected by it.
    for (i, v) in values.enumerated().dropFirst(500) {
        let t = startMs + Int64(i) * stepMs
        #expect(a.score(timeMs: t, value: v) == b.score(timeMs: t, value: v))
    }
    _ = a.score(timeMs: startMs, value: 1e12)
    #expect(a.pointsSeen == b.pointsSeen + 1)
}

@Test func aFlatSeriesScoresZeroAndAChangeInItScoresHigh() {
    var values = [Double](repeating: 45, count: 3000)
    for i in 2500..<3000 { values[i] = 46 }
    let s = scores(values)
    #expect((s[..<2500].max() ?? 1) < 1e-9)
    #expect(s[2500] >= 0.5)
}
