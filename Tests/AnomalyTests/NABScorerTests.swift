import Anomaly
import Testing

/// A 1,000-record series (probationary period 150) with the given windows and detections (score 1, else 0).
private func series(windows: [ClosedRange<Int>], detections: [Int], count: Int = 1000, name: String = "cat/s.csv") -> NABSeries {
    var scores = [Double](repeating: 0, count: count)
    for d in detections { scores[d] = 1 }
    return NABSeries(name: name, scores: scores, windows: windows)
}

/// Equal up to floating-point rounding (σ(p)/σ(−1) at p = −1 is 1 only to within an ulp or so).
private func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-9 }

@Test func scaledSigmoidMatchesNAB() {
    #expect(abs(NABScorer.scaledSigmoid(-1) - 0.98661429815143) < 1e-12)
    #expect(NABScorer.scaledSigmoid(0) == 0)
    #expect(abs(NABScorer.scaledSigmoid(1) + 0.98661429815143) < 1e-12)
    #expect(NABScorer.scaledSigmoid(3.5) == -1)
}

@Test func profilesHaveNABWeights() {
    #expect(NABProfile.standard.truePositive == 1 && NABProfile.standard.falseNegative == 1 && NABProfile.standard.falsePositive == 0.11)
    #expect(NABProfile.rewardLowFalsePositives.falsePositive == 0.22 && NABProfile.rewardLowFalsePositives.falseNegative == 1)
    #expect(NABProfile.rewardLowFalseNegatives.falseNegative == 2 && NABProfile.rewardLowFalseNegatives.falsePositive == 0.11)
}

@Test func probationaryPeriodIsFifteenPercentCappedAt750() {
    #expect(NABScorer.probationaryPeriod(count: 1000) == 150)
    #expect(NABScorer.probationaryPeriod(count: 4032) == 604)
    #expect(NABScorer.probationaryPeriod(count: 22695) == 750)
}

@Test func perfectDetectorScores100AndNullScores0() {
    let windows = [400...499, 700...799]
    let perfect = NABScorer.optimize([series(windows: windows, detections: [400, 700])])
    #expect(abs(perfect.normalized - 100) < 1e-9)
    #expect(close(perfect.raw, 2) && close(perfect.nullRaw, -2) && close(perfect.perfectRaw, 2))
    #expect(perfect.truePositives == 2 && perfect.falseNegatives == 0 && perfect.falsePositives == 0)

    let null = NABScorer.optimize([series(windows: windows, detections: [])])
    #expect(close(null.normalized, 0))
    #expect(close(null.raw, -2) && null.falseNegatives == 2)
}

@Test func earlyDetectionInAWindowBeatsALateOne() {
    // Window 600...699 (w = 100): at 610 p = -0.9, worth σ(-0.9)/σ(-1) = 0.99130; at 690 p = -0.1, worth 0.24824.
    let early = NABScorer.score([series(windows: [600...699], detections: [610])], threshold: 0.5)
    let late = NABScorer.score([series(windows: [600...699], detections: [690])], threshold: 0.5)
    #expect(abs(early.raw - 0.9912952980422967) < 1e-9)
    #expect(abs(late.raw - 0.24824154977542992) < 1e-9)
    #expect(early.normalized > late.normalized)
    // Only the best detection of a window counts: later ones in it neither add nor subtract.
    let both = NABScorer.score([series(windows: [600...699], detections: [610, 650, 690])], threshold: 0.5)
    #expect(both.raw == early.raw && both.falsePositives == 0)
}

@Test func falsePositivesCostPerTheProfile() {
    // Before any window: -A_FP.
    let before = NABScorer.score([series(windows: [600...699], detections: [300, 600])], threshold: 0.5)
    #expect(close(before.raw, 1 - 0.11))
    #expect(before.falsePositives == 1)
    let lowFP = NABScorer.score([series(windows: [600...699], detections: [300, 600])], profile: .rewardLowFalsePositives, threshold: 0.5)
    #expect(close(lowFP.raw, 1 - 0.22))
    // After a window: A_FP·σ(|699 - i| / 99): almost free right after it, nearly the full cost further on.
    let justAfter = NABScorer.score([series(windows: [600...699], detections: [600, 700])], threshold: 0.5)
    #expect(abs(justAfter.raw - (1 - 0.002777187474616506)) < 1e-9)
    let later = NABScorer.score([series(windows: [600...699], detections: [600, 750])], threshold: 0.5)
    #expect(abs(later.raw - (1 - 0.09444269735402838)) < 1e-9)
    // Beyond three window widths (p = 300/99 > 3) the cost is the full A_FP.
    let far = NABScorer.score([series(windows: [600...699], detections: [600, 999])], threshold: 0.5)
    #expect(close(far.raw, 1 - 0.11))
    // A missed window costs A_FN (2 in the low-FN profile).
    let missed = NABScorer.score([series(windows: [600...699], detections: [])], profile: .rewardLowFalseNegatives, threshold: 0.5)
    #expect(close(missed.raw, -2))
}

@Test func probationaryDetectionsCountForNothing() {
    let s = NABScorer.score([series(windows: [600...699], detections: [10, 100, 149, 600])], threshold: 0.5)
    #expect(close(s.raw, 1) && s.falsePositives == 0)
    let one = NABScorer.score([series(windows: [600...699], detections: [150, 600])], threshold: 0.5)
    #expect(one.falsePositives == 1)
}

@Test func optimiserPicksTheThresholdWithTheBestRawScore() {
    // The window's detection scores 0.9; noise outside it reaches 0.6 at 20 records. Detecting at 0.6 would cost
    // 20 × 0.11 for nothing, so the best threshold is 0.9.
    var s = series(windows: [600...699], detections: [])
    s.scores[620] = 0.9
    for i in 0..<20 { s.scores[200 + i * 10] = 0.6 }
    let best = NABScorer.optimize([s])
    #expect(best.threshold == 0.9)
    #expect(best.falsePositives == 0 && best.truePositives == 1)
    #expect(NABScorer.score([s], threshold: 0.6).raw < best.raw)
}

@Test func windowTimestampsBecomeInclusiveIndexRanges() {
    let t: [Int64] = (0..<100).map { Int64($0) * 300_000 }
    let w = NABScorer.windowIndices(
        timestampsMs: t, windows: [(start: 3_000_000, end: 6_000_000), (start: 6_150_000, end: 7_000_000), (start: 99_000_000, end: 99_500_000)])
    // First record at or after the start through the last at or before the end; a window holding no record is dropped.
    #expect(w == [10...20, 21...23])
    // Overlapping windows merge.
    #expect(NABScorer.windowIndices(timestampsMs: t, windows: [(start: 0, end: 1_000_000), (start: 600_000, end: 1_500_000)]) == [0...5])
}

@Test func normalisationIsOverTheWholeCorpus() {
    let a = series(windows: [600...699], detections: [600], name: "x/a.csv")
    let b = series(windows: [600...699], detections: [], name: "y/b.csv")
    let s = NABScorer.score([a, b], threshold: 0.5)
    #expect(close(s.raw, 0) && close(s.nullRaw, -2) && close(s.perfectRaw, 2))
    #expect(close(s.normalized, 50))
    #expect(a.category == "x")
}
