#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A streaming anomaly detector for one series: O(1) work per point, fixed-size inline state, a score in [0, 1].
///
/// Three forecasters run side by side: a fast exponentially weighted level (tracks drift and level shifts), a
/// daily profile of 48 half-hour buckets over a slower level (knows the time of day), and the last value (knows
/// smooth signals). Each normalises its error by its own running scale and keeps an exponentially forgetting
/// histogram of those normalised errors, so "how unusual is this error" is an empirical tail probability under
/// that forecaster, whatever the shape of the series' noise. A point is surprising only if it is surprising under
/// every forecaster; a slower channel accumulates surprise under the daily profile so that a pattern that goes
/// missing (a flat stretch where the day usually moves) is noticed too. After a detection the score is damped for
/// a while, because NAB (and an operator) wants one early alert per incident, not a burst.
///
/// Memory: `MemoryLayout<AnomalyDetector>.size` bytes, all inline (no heap); see `docs/anomaly.md`.
public struct AnomalyDetector: Sendable {
    /// Tuning of an `AnomalyDetector`. Rates are per point. The defaults were chosen by coordinate search on the
    /// NAB subset in ../shared/data (two-fold held-out figures in docs/anomaly.md); they are meant for series
    /// sampled every few minutes with no more than a few thousand points between incidents.
    public struct Configuration: Sendable, Hashable {
        /// Smoothing of the fast level forecaster (0 < a ≤ 1).
        public var fastAlpha: Double = 0.266
        /// Smoothing of the deseasonalised level under the daily profile.
        public var levelAlpha: Double = 0.01125
        /// Learning rate of the daily profile's buckets.
        public var seasonalAlpha: Double = 0.075
        /// Smoothing of each forecaster's all-day error scale (mean absolute error).
        public var scaleAlpha: Double = 0.0133
        /// Errors are clipped at this many scales before they update scales and forecasts, so one spike neither
        /// blinds the detector nor drags the forecast.
        public var scaleClip: Double = 4.5
        /// Learning rate of the per-time-of-day error scales (0 uses one scale for the whole day).
        public var errorProfileAlpha: Double = 0.1
        /// Floor of a time-of-day error scale, as a fraction of the forecaster's all-day scale.
        public var errorProfileFloor: Double = 0.3
        /// Half-life, in points, of the error histograms (how long the detector remembers what "unusual" means).
        public var memoryHalfLife: Double = 4000
        /// Weight, in points, of the prior (a Laplace tail `e^-z`) mixed into every error histogram.
        public var priorWeight: Double = 1
        /// Surprise of a value just outside the remembered range of values (0 disables the range channel).
        public var rangeBase: Double = 3
        /// Extra surprise per range width beyond the remembered range.
        public var rangeSlope: Double = 10
        /// Per-point decay of the remembered range towards the level (how fast an old extreme is forgotten).
        public var rangeDecay: Double = 0.0001
        /// Per-point decay of the accumulated daily-profile surprise.
        public var sustainedDecay: Double = 0.9
        /// Surprise per point that the accumulated daily-profile surprise treats as normal.
        public var sustainedAllowance: Double = 1
        /// Weight of the accumulated daily-profile surprise against the point surprise.
        public var sustainedWeight: Double = 0.3325
        /// Points scored 0 while the forecasters learn.
        public var warmUp: Int = 300
        /// Surprise (−ln tail probability) that maps to a score of 0.5.
        public var detectionSurprise: Double = 5
        /// Score at or above which a point counts as a detection and starts the suppression period.
        public var detectionScore: Double = 0.45
        /// Points after a detection during which scores are damped.
        public var suppressionPoints: Int = 60
        /// Factor applied to scores during the suppression period.
        public var suppressionFactor: Double = 0.1

        /// The tuned defaults.
        public init() {}
    }

    /// Buckets of the daily profile.
    static let buckets = InlineFloats48.count
    /// Bins of each error histogram: log2 of the normalised error from 2^-6 to 2^10 in half steps.
    static let bins = InlineFloats32.count
    /// Milliseconds in a day.
    static let dayMs: Int64 = 86_400_000

    /// The configuration this detector runs with.
    public let configuration: Configuration

    private var count: Int = 0
    private var lastValue: Double = 0
    private var fastLevel: Double = 0
    private var seasonalLevel: Double = 0
    private var scales: (Double, Double, Double) = (0, 0, 0)
    private var masses: (Double, Double, Double) = (0, 0, 0)
    private var profile = InlineFloats48()
    private var histograms = (InlineFloats32(), InlineFloats32(), InlineFloats32())
    private var errorProfiles = (InlineFloats48(), InlineFloats48(), InlineFloats48())
    private var sustained: Double = 0
    private var lastDetection: Int = Int.min / 2
    private var rangeLow: Double = 0
    private var rangeHigh: Double = 0
    private let decay: Double

    /// A detector with no history.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        decay = exp2(-1 / max(configuration.memoryHalfLife, 1))
    }

    /// Points scored so far (non-finite values are not counted).
    public var pointsSeen: Int { count }

    /// Scores one point, then learns from it. `timeMs` is Unix milliseconds (only its time of day is used);
    /// a NaN or infinite `value` scores 0 and leaves the state untouched.
    public mutating func score(timeMs: Int64, value: Double) -> Double {
        // Magnitudes beyond 1e30 are treated like NaN: the state's Float buckets and squared terms stay finite.
        guard value.isFinite, abs(value) < 1e30 else { return 0 }
        let c = configuration
        defer { count += 1 }
        if count == 0 {
            lastValue = value
            fastLevel = value
            seasonalLevel = value
            rangeLow = value
            rangeHigh = value
            return 0
        }

        // Daily-profile position: linear interpolation between the two nearest bucket centres.
        let dayPosition = Double(((timeMs % Self.dayMs) + Self.dayMs) % Self.dayMs) / Double(Self.dayMs) * Double(Self.buckets) - 0.5
        let lower = Int(dayPosition.rounded(.down))
        let fraction = dayPosition - Double(lower)
        let b0 = (lower + Self.buckets) % Self.buckets
        let b1 = (b0 + 1) % Self.buckets
        let seasonal = (1 - fraction) * Double(profile[b0]) + fraction * Double(profile[b1])

        let errors = (value - fastLevel, value - (seasonalLevel + seasonal), value - lastValue)
        let z0 = localScale(errorProfiles.0, scales.0, b0, b1, fraction)
        let z1 = localScale(errorProfiles.1, scales.1, b0, b1, fraction)
        let z2 = localScale(errorProfiles.2, scales.2, b0, b1, fraction)
        let s0 = surprise(error: errors.0, scale: z0, histogram: histograms.0, mass: masses.0)
        let s1 = surprise(error: errors.1, scale: z1, histogram: histograms.1, mass: masses.1)
        let s2 = surprise(error: errors.2, scale: z2, histogram: histograms.2, mass: masses.2)

        learn(error: errors.0, localScale: z0, scale: &scales.0, histogram: &histograms.0, mass: &masses.0)
        learn(error: errors.1, localScale: z1, scale: &scales.1, histogram: &histograms.1, mass: &masses.1)
        learn(error: errors.2, localScale: z2, scale: &scales.2, histogram: &histograms.2, mass: &masses.2)
        learnProfile(error: errors.0, scale: z0, profile: &errorProfiles.0, b0, b1, fraction)
        learnProfile(error: errors.1, scale: z1, profile: &errorProfiles.1, b0, b1, fraction)
        learnProfile(error: errors.2, scale: z2, profile: &errorProfiles.2, b0, b1, fraction)

        fastLevel += c.fastAlpha * clip(errors.0, scales.0)
        let e1 = clip(errors.1, scales.1)
        seasonalLevel += c.levelAlpha * e1
        profile[b0] += Float(c.seasonalAlpha * (1 - fraction) * e1)
        profile[b1] += Float(c.seasonalAlpha * fraction * e1)
        lastValue = value

        sustained = max(0, c.sustainedDecay * sustained + s1 - c.sustainedAllowance)
        // A point is as surprising as the least surprised forecaster finds it.
        let point = min(s0, s1, s2)
        // A value outside everything seen so far is news even where the forecasters' errors are noisy.
        var rangeSurprise = 0.0
        let width = rangeHigh - rangeLow
        if c.rangeBase > 0, width > 0, value > rangeHigh || value < rangeLow {
            let beyond = (value > rangeHigh ? value - rangeHigh : rangeLow - value) / width
            rangeSurprise = c.rangeBase + c.rangeSlope * beyond
        }
        rangeHigh = max(rangeHigh - c.rangeDecay * (rangeHigh - seasonalLevel), value)
        rangeLow = min(rangeLow + c.rangeDecay * (seasonalLevel - rangeLow), value)
        let combined = max(point, c.sustainedWeight * sustained, rangeSurprise)

        guard count >= c.warmUp else { return 0 }
        // r² / (1 + r²) with r = surprise / detectionSurprise: 0.5 at the detection surprise, → 1 beyond it.
        let r = combined / max(c.detectionSurprise, .leastNormalMagnitude)
        var result = r > 1e6 ? 1 : r * r / (1 + r * r)
        if count - lastDetection < c.suppressionPoints {
            result *= c.suppressionFactor
        } else if result >= c.detectionScore {
            lastDetection = count
        }
        return result.isFinite ? min(max(result, 0), 1) : 0
    }

    /// Clips an error at `scaleClip` scales (errors of a forecaster with no scale yet pass unchanged).
    private func clip(_ error: Double, _ scale: Double) -> Double {
        guard scale > 0 else { return error }
        let limit = configuration.scaleClip * scale
        return min(max(error, -limit), limit)
    }

    /// The normalised error as a histogram bin.
    private static func bin(_ z: Double) -> Int {
        guard z > 0 else { return 0 }
        let b = ((log2(z) + 6) * 2).rounded(.down)
        return Int(min(max(b, 0), Double(bins - 1)))
    }

    /// The error normalised by the scale; an error on a forecaster with no scale yet is huge unless it is zero.
    private static func normalised(_ error: Double, _ scale: Double) -> Double {
        let e = abs(error)
        if scale > 0 { return min(e / scale, 1e9) }
        return e > 0 ? 1e9 : 0
    }

    /// −ln of the probability of an error at least this unusual: the histogram's tail mixed with a Laplace prior.
    private func surprise(error: Double, scale: Double, histogram: InlineFloats32, mass: Double) -> Double {
        let z = Self.normalised(error, scale)
        let b = Self.bin(z)
        var tail = 0.0
        for j in b..<Self.bins { tail += Double(histogram[j]) }
        let w = configuration.priorWeight
        let prior = exp(-min(z, 700))
        let p = (tail + w * prior) / (mass + w)
        return -log(max(p, 1e-300))
    }

    /// The error scale at this time of day: the interpolated bucket scale, floored at a fraction of the all-day
    /// scale (the all-day scale itself where the buckets have not learned yet).
    private func localScale(_ p: InlineFloats48, _ scale: Double, _ b0: Int, _ b1: Int, _ f: Double) -> Double {
        let a = Double(p[b0])
        let b = Double(p[b1])
        guard configuration.errorProfileAlpha > 0, a > 0, b > 0 else { return scale }
        return max((1 - f) * a + f * b, configuration.errorProfileFloor * scale)
    }

    /// Moves the two neighbouring bucket scales towards the (clipped) absolute error.
    private func learnProfile(error: Double, scale: Double, profile p: inout InlineFloats48, _ b0: Int, _ b1: Int, _ f: Double) {
        let a = configuration.errorProfileAlpha
        guard a > 0 else { return }
        let e = scale > 0 ? min(abs(error), configuration.scaleClip * scale) : abs(error)
        for (b, w) in [(b0, 1 - f), (b1, f)] {
            if p[b] <= 0 { p[b] = Float(max(e, Double(Float.leastNormalMagnitude))) } else {
                p[b] += Float(a * w * (e - Double(p[b])))
            }
        }
    }

    /// Adds an error to a forecaster's histogram (normalised by `localScale`) and to its all-day scale.
    private func learn(error: Double, localScale: Double, scale: inout Double, histogram: inout InlineFloats32, mass: inout Double) {
        let z = Self.normalised(error, localScale)
        let b = Self.bin(z)
        let f = Float(decay)
        for j in 0..<Self.bins { histogram[j] *= f }
        histogram[b] += 1
        mass = mass * decay + 1
        let e = abs(error)
        if scale > 0 {
            scale += configuration.scaleAlpha * (min(e, configuration.scaleClip * scale) - scale)
        } else {
            scale = e
        }
    }
}
