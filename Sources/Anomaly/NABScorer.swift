#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Scoring weights of one Numenta Anomaly Benchmark profile.
///
/// A detection inside a window earns up to `truePositive`, a window with no detection costs `falseNegative`, and a
/// detection outside every window costs up to `falsePositive` (NAB's `A_TP`, `A_FN`, `A_FP`).
public struct NABProfile: Sendable, Hashable {
    /// The profile's name as NAB spells it (`standard`, `reward_low_FP_rate`, `reward_low_FN_rate`).
    public var name: String
    /// Weight of the best detection in a window (`A_TP`).
    public var truePositive: Double
    /// Cost of a window with no detection (`A_FN`), a positive number.
    public var falseNegative: Double
    /// Cost of a detection outside every window (`A_FP`), a positive number.
    public var falsePositive: Double

    /// A profile with the given weights.
    public init(name: String, truePositive: Double, falseNegative: Double, falsePositive: Double) {
        self.name = name
        self.truePositive = truePositive
        self.falseNegative = falseNegative
        self.falsePositive = falsePositive
    }

    /// NAB's standard profile: TP 1.0, FN 1.0, FP 0.11.
    public static let standard = NABProfile(name: "standard", truePositive: 1.0, falseNegative: 1.0, falsePositive: 0.11)
    /// NAB's "reward low FP rate" profile: TP 1.0, FN 1.0, FP 0.22.
    public static let rewardLowFalsePositives = NABProfile(name: "reward_low_FP_rate", truePositive: 1.0, falseNegative: 1.0, falsePositive: 0.22)
    /// NAB's "reward low FN rate" profile: TP 1.0, FN 2.0, FP 0.11.
    public static let rewardLowFalseNegatives = NABProfile(name: "reward_low_FN_rate", truePositive: 1.0, falseNegative: 2.0, falsePositive: 0.11)
    /// The three NAB profiles, standard first.
    public static let all: [NABProfile] = [.standard, .rewardLowFalsePositives, .rewardLowFalseNegatives]
}

/// One labelled series with a detector's scores, ready for NAB scoring.
///
/// Windows are inclusive record-index ranges, sorted and disjoint, as `NABScorer.windowIndices` builds them from
/// window timestamps.
public struct NABSeries: Sendable, Hashable {
    /// The series' name (NAB's `<folder>/<file>.csv`).
    public var name: String
    /// The detector's score for every record, in [0, 1].
    public var scores: [Double]
    /// The anomaly windows as inclusive record-index ranges, sorted and disjoint.
    public var windows: [ClosedRange<Int>]

    /// A series from its scores and windows.
    public init(name: String, scores: [Double], windows: [ClosedRange<Int>]) {
        self.name = name
        self.scores = scores
        self.windows = windows
    }

    /// The category of a series named `<folder>/<file>.csv`: the folder (the whole name without a slash).
    public var category: String {
        guard let slash = name.lastIndex(of: "/") else { return name }
        return String(name[..<slash])
    }
}

/// The outcome of scoring a corpus at one threshold.
public struct NABScore: Sendable, Hashable {
    /// The detection threshold: a record is a detection when its score is at least this.
    public var threshold: Double
    /// The detector's raw score summed over all series.
    public var raw: Double
    /// The raw score of the null detector (never detects) on the same corpus.
    public var nullRaw: Double
    /// The raw score of the perfect detector (detects at the first record of every window, nowhere else).
    public var perfectRaw: Double
    /// Windows with at least one detection.
    public var truePositives: Int
    /// Windows without a detection.
    public var falseNegatives: Int
    /// Detections outside every window (after the probationary period).
    public var falsePositives: Int

    /// `100 × (raw − null) / (perfect − null)`: 100 for the perfect detector, 0 for the null one (0 when the corpus
    /// has no windows, where the two coincide).
    public var normalized: Double {
        let span = perfectRaw - nullRaw
        return span > 0 ? 100 * (raw - nullRaw) / span : 0
    }
}

/// The Numenta Anomaly Benchmark scorer (NAB v1.1 semantics, as ../shared/data/README.md describes them).
///
/// Records before the probationary period (`min(⌊0.15 n⌋, 750)`) count for nothing. Inside a window of width `w`
/// a detection at index `i` has position `p = −(end − i + 1) / w` and is worth `A_TP · σ(p) / σ(−1)` with the
/// scaled sigmoid `σ(p) = 2 / (1 + e^{5p}) − 1`; only the best (earliest) detection of a window counts. A window
/// without a detection costs `−A_FN`. A detection outside every window costs `A_FP · σ(|prevEnd − i| / (w_prev − 1))`
/// after a window and `−A_FP` before the first one. One threshold serves the whole corpus; `optimize` picks the
/// one with the highest raw score, as NAB's sweeper does. A window that lies wholly inside the probationary period
/// cannot be scored and is left out (it counts neither for the detector nor for the null and perfect detectors).
public enum NABScorer {
    /// NAB's probationary period for a file of `count` records: `min(⌊0.15 · count⌋, 750)`.
    public static func probationaryPeriod(count: Int) -> Int {
        min(count * 15 / 100, 750)
    }

    /// NAB's scaled sigmoid `2 / (1 + e^{5p}) − 1`: +0.987 at p = −1, 0 at p = 0, −0.987 at p = 1.
    public static func scaledSigmoid(_ p: Double) -> Double {
        if p > 3 { return -1 }
        return 2 / (1 + exp(5 * p)) - 1
    }

    /// Turns window time limits (Unix ms, inclusive) into inclusive record-index ranges over sorted timestamps:
    /// the first record at or after the start through the last record at or before the end. Windows holding no
    /// record are dropped; overlapping windows are merged.
    public static func windowIndices(timestampsMs: [Int64], windows: [(start: Int64, end: Int64)]) -> [ClosedRange<Int>] {
        var result: [ClosedRange<Int>] = []
        for w in windows.sorted(by: { $0.start < $1.start }) {
            let first = lowerBound(timestampsMs, w.start)
            let last = lowerBound(timestampsMs, w.end &+ 1) - 1
            guard first <= last else { continue }
            if let previous = result.last, previous.upperBound >= first {
                result[result.count - 1] = previous.lowerBound...max(previous.upperBound, last)
            } else {
                result.append(first...last)
            }
        }
        return result
    }

    /// The first index whose timestamp is at least `t`.
    static func lowerBound(_ a: [Int64], _ t: Int64) -> Int {
        var lo = 0
        var hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] < t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// What detecting at one record would be worth.
    struct Point {
        /// The detector's score at the record.
        var score: Double
        /// Corpus-wide index of the window the record lies in, or -1 outside every window.
        var window: Int
        /// The weighted value of a detection here (positive in a window, negative outside).
        var value: Double
    }

    /// The scorable records of a series (after the probationary period) with their window and detection value,
    /// numbering windows from `firstWindow`. Returns the points and the number of scorable windows.
    static func points(count: Int, scores: (Int) -> Double, windows: [ClosedRange<Int>], profile: NABProfile,
                       firstWindow: Int) -> (points: [Point], windows: Int) {
        let probation = probationaryPeriod(count: count)
        let tpScale = profile.truePositive / scaledSigmoid(-1)
        var points: [Point] = []
        points.reserveCapacity(max(0, count - probation))
        var windowNumber = firstWindow - 1
        var scorableWindows = 0
        var next = 0  // the next window not yet entered
        var previous: ClosedRange<Int>?
        for i in 0..<count {
            while next < windows.count, windows[next].upperBound < i {
                previous = windows[next]
                next += 1
            }
            let inside = next < windows.count && windows[next].contains(i)
            if inside, i == max(windows[next].lowerBound, probation) {
                windowNumber += 1
                scorableWindows += 1
            }
            guard i >= probation else { continue }
            if inside {
                let w = windows[next]
                let p = -Double(w.upperBound - i + 1) / Double(w.count)
                points.append(Point(score: scores(i), window: windowNumber, value: scaledSigmoid(p) * tpScale))
            } else if let prev = previous {
                let p = Double(abs(prev.upperBound - i)) / Double(max(prev.count - 1, 1))
                points.append(Point(score: scores(i), window: -1, value: scaledSigmoid(p) * profile.falsePositive))
            } else {
                points.append(Point(score: scores(i), window: -1, value: -profile.falsePositive))
            }
        }
        return (points, scorableWindows)
    }

    /// All scorable points of a corpus for one score function, and the number of windows.
    static func corpusPoints(_ corpus: [NABSeries], profile: NABProfile, scores: (NABSeries, Int) -> Double) -> (points: [Point], windows: Int) {
        var all: [Point] = []
        var windows = 0
        for s in corpus {
            let (p, w) = points(count: s.scores.count, scores: { scores(s, $0) }, windows: s.windows, profile: profile, firstWindow: windows)
            all += p
            windows += w
        }
        return (all, windows)
    }

    /// Raw score and counts at one threshold.
    static func evaluate(_ points: [Point], windows: Int, threshold: Double, profile: NABProfile) -> (raw: Double, tp: Int, fp: Int) {
        var best = [Double](repeating: -profile.falseNegative, count: windows)
        var detected = [Bool](repeating: false, count: windows)
        var fpSum = 0.0
        var fp = 0
        for p in points where p.score >= threshold {
            if p.window >= 0 {
                best[p.window] = max(best[p.window], p.value)
                detected[p.window] = true
            } else {
                fpSum += p.value
                fp += 1
            }
        }
        return (best.reduce(0, +) + fpSum, detected.count(where: { $0 }), fp)
    }

    /// Null and perfect raw scores of a corpus, each at its own best threshold as NAB computes them.
    static func baselines(_ corpus: [NABSeries], profile: NABProfile) -> (null: Double, perfect: Double) {
        let null = corpusPoints(corpus, profile: profile) { _, _ in 0 }
        let perfect = corpusPoints(corpus, profile: profile) { s, i in
            let probation = probationaryPeriod(count: s.scores.count)
            return s.windows.contains(where: { max($0.lowerBound, probation) == i }) ? 1 : 0
        }
        return (sweep(null.points, windows: null.windows, profile: profile).raw,
                sweep(perfect.points, windows: perfect.windows, profile: profile).raw)
    }

    /// NAB's threshold sweep: every distinct score, from the highest down, as a threshold; returns the best
    /// threshold and its raw score (ties go to the higher threshold). Thresholds above every score detect nothing.
    static func sweep(_ points: [Point], windows: Int, profile: NABProfile) -> (threshold: Double, raw: Double) {
        let sorted = points.sorted { $0.score > $1.score }
        var parts = [Double](repeating: -profile.falseNegative, count: windows)
        var total = -profile.falseNegative * Double(windows)
        var bestThreshold = 1.1
        var bestRaw = total
        var i = 0
        while i < sorted.count {
            let threshold = sorted[i].score
            while i < sorted.count, sorted[i].score == threshold {
                let p = sorted[i]
                if p.window >= 0 {
                    if p.value > parts[p.window] {
                        total += p.value - parts[p.window]
                        parts[p.window] = p.value
                    }
                } else {
                    total += p.value
                }
                i += 1
            }
            if total > bestRaw {
                bestRaw = total
                bestThreshold = threshold
            }
        }
        return (bestThreshold, bestRaw)
    }

    /// Scores a corpus at a fixed threshold.
    public static func score(_ corpus: [NABSeries], profile: NABProfile = .standard, threshold: Double) -> NABScore {
        let (points, windows) = corpusPoints(corpus, profile: profile) { s, i in s.scores[i] }
        let (null, perfect) = baselines(corpus, profile: profile)
        let r = evaluate(points, windows: windows, threshold: threshold, profile: profile)
        return NABScore(threshold: threshold, raw: r.raw, nullRaw: null, perfectRaw: perfect, truePositives: r.tp,
                        falseNegatives: windows - r.tp, falsePositives: r.fp)
    }

    /// Scores a corpus at the threshold that maximises its raw score, as NAB's optimiser does for each profile.
    public static func optimize(_ corpus: [NABSeries], profile: NABProfile = .standard) -> NABScore {
        let (points, windows) = corpusPoints(corpus, profile: profile) { s, i in s.scores[i] }
        let best = sweep(points, windows: windows, profile: profile)
        return score(corpus, profile: profile, threshold: best.threshold)
    }
}
