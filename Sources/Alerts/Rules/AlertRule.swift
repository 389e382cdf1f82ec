/// One alert rule, as loaded from a rule file in `configs/rules/`: which series it watches, the condition, and
/// how its alerts behave (duration, hysteresis, flap suppression, silence, escalation, channels).
public struct AlertRule: Sendable, Hashable {
    /// Unique id across all rule files; alerts and their state are keyed by it.
    public var id: String
    /// One line for the control room ("Manhole cover tilted").
    public var summary: String
    /// Which series (or, for `noData`, which devices) the rule watches.
    public var selector: Selector
    /// What makes the rule breach and clear.
    public var condition: Condition
    /// How long the condition must hold before the alert fires (0: at once).
    public var forMs: Int64 = 0
    /// Severity of the alert when it fires.
    public var severity: Severity = .warning
    /// Delivery channel names (`mqtt`, `feed`, or a webhook's name); empty means every configured channel.
    public var channels: [String] = []
    /// Flap suppression: after `maxFirings` firings within `windowMs`, a clear is held until the condition has
    /// stayed clear for `windowMs`, so an oscillating value keeps one alert open instead of raising many.
    public var flap = FlapPolicy()
    /// A firing alert resolves by itself after this long without a sample from its series (nil: never).
    public var clearOnSilenceMs: Int64?
    /// Escalation when a firing alert stays unacknowledged this long (nil: never).
    public var escalation: Escalation?

    /// Creates a rule.
    public init(id: String, summary: String = "", selector: Selector = Selector(), condition: Condition) {
        self.id = id
        self.summary = summary
        self.selector = selector
        self.condition = condition
    }

    /// Severity levels, in rising order.
    public enum Severity: String, Sendable, Hashable, CaseIterable, Comparable, Codable {
        /// For the record.
        case info
        /// Look at it today.
        case warning
        /// Act soon.
        case major
        /// Act now.
        case critical

        /// Ordered by urgency.
        public static func < (a: Severity, b: Severity) -> Bool {
            Severity.allCases.firstIndex(of: a)! < Severity.allCases.firstIndex(of: b)!
        }

        /// The next level up (critical stays critical).
        public var raised: Severity {
            let all = Severity.allCases
            return all[min(all.firstIndex(of: self)! + 1, all.count - 1)]
        }
    }

    /// What a rule watches. Every given field must match; globs use `*` for any run of characters.
    public struct Selector: Sendable, Hashable {
        /// Device id globs (empty: any).
        public var devices: [String] = []
        /// Metric name globs (empty: any; required for value rules by the loader).
        public var metrics: [String] = []
        /// Profile id globs (empty: any).
        public var profiles: [String] = []
        /// Device families: neuron, charger, farm (empty: any).
        public var families: [String] = []
        /// Device tags that must all be equal (from the rule files' `device_tags:`).
        public var tags: [String: String] = [:]

        /// Creates a selector.
        public init(devices: [String] = [], metrics: [String] = [], profiles: [String] = [], families: [String] = [], tags: [String: String] = [:]) {
            self.devices = devices
            self.metrics = metrics
            self.profiles = profiles
            self.families = families
            self.tags = tags
        }
    }

    /// The condition kinds.
    public enum Condition: Sendable, Hashable {
        /// Breaches when the value is above `level`; clears when it is at or below `clear` (≤ level).
        case above(level: Double, clear: Double)
        /// Breaches when the value is below `level`; clears when it is at or above `clear` (≥ level).
        case below(level: Double, clear: Double)
        /// Breaches outside [low, high]; clears inside [clearLow, clearHigh] (a narrower band).
        case outside(low: Double, high: Double, clearLow: Double, clearHigh: Double)
        /// Breaches when the value changes faster than `limit` per `perMs` (device time between samples), in the
        /// given direction; clears when a later change is within `limit`.
        case rate(limit: Double, perMs: Int64, direction: RateDirection)
        /// Breaches when the value has not changed by more than `tolerance` for `durationMs`.
        case stuck(durationMs: Int64, tolerance: Double)
        /// Breaches when a device (or, with a metric selector, that metric) has sent nothing for
        /// `factor` × its expected report interval, but at least `minimumMs`.
        case noData(factor: Double, minimumMs: Int64)
        /// Breaches when the value (an event or status code) is one of `codes`; clears on any other code.
        case event(codes: Set<Int>)
        /// Breaches when the streaming detector's score reaches `score`; clears below `clear`.
        case anomaly(score: Double, clear: Double)
        /// Raised and cleared by the gateway itself (`AlertEngine.report`), e.g. an uplink backlog too old. Not
        /// written in rule files: these rules are built in.
        case external

        /// The kind's name as written in rule files.
        public var kind: String {
            switch self {
            case .above: "above"
            case .below: "below"
            case .outside: "outside"
            case .rate: "rate"
            case .stuck: "stuck"
            case .noData: "no_data"
            case .event: "event"
            case .anomaly: "anomaly"
            case .external: "external"
            }
        }
    }

    /// Which changes a rate rule watches.
    public enum RateDirection: String, Sendable, Hashable {
        /// Rising faster than the limit.
        case up
        /// Falling faster than the limit.
        case down
        /// Either.
        case both
    }

    /// Flap suppression settings.
    public struct FlapPolicy: Sendable, Hashable {
        /// The window over which firings are counted, and how long a clear is held once flapping.
        public var windowMs: Int64 = 600_000
        /// Firings within the window that make the series count as flapping.
        public var maxFirings: Int = 3

        /// Creates a policy.
        public init(windowMs: Int64 = 600_000, maxFirings: Int = 3) {
            self.windowMs = windowMs
            self.maxFirings = maxFirings
        }
    }

    /// Escalation settings.
    public struct Escalation: Sendable, Hashable {
        /// How long a firing alert may stay unacknowledged.
        public var afterMs: Int64
        /// The severity it escalates to.
        public var severity: Severity
        /// Extra channels told of the escalation (besides the rule's own).
        public var channels: [String]

        /// Creates an escalation.
        public init(afterMs: Int64, severity: Severity, channels: [String] = []) {
            self.afterMs = afterMs
            self.severity = severity
            self.channels = channels
        }
    }
}

/// `*` glob matching over the bytes of two strings (no other metacharacters).
func globMatch(_ pattern: String, _ text: String) -> Bool {
    if pattern == "*" { return true }
    if !pattern.utf8.contains(UInt8(ascii: "*")) { return pattern == text }
    let p = Array(pattern.utf8), t = Array(text.utf8)
    var pi = 0, ti = 0, star = -1, mark = 0
    while ti < t.count {
        if pi < p.count, p[pi] != UInt8(ascii: "*"), p[pi] == t[ti] {
            pi += 1
            ti += 1
        } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
            star = pi
            mark = ti
            pi += 1
        } else if star >= 0 {
            pi = star + 1
            mark += 1
            ti = mark
        } else {
            return false
        }
    }
    while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
    return pi == p.count
}
