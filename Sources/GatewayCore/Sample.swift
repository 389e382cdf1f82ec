/// How far a decoded value can be trusted.
public enum SampleQuality: UInt8, Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// Decoded and within all checks.
    case good = 0
    /// Decoded, but something is off: a checksum that did not verify under a `warn` policy, a device time that
    /// was quarantined for skew, a value the profile marks as out of its plausible range.
    case uncertain = 1
    /// The device itself reported the reading as invalid (a sentinel such as 0xFFFF = sensor error).
    case bad = 2

    /// Worse quality compares greater, so `max` combines findings.
    public static func < (lhs: SampleQuality, rhs: SampleQuality) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Lower-case name used in logs, CLI output and files.
    public var description: String {
        switch self {
        case .good: "good"
        case .uncertain: "uncertain"
        case .bad: "bad"
        }
    }
}

/// One canonical reading: the unit of everything downstream of decoding.
public struct Sample: Sendable, Hashable {
    /// Device identifier, as the profile extracted it (topic part, payload field or envelope field).
    public var device: String
    /// Metric name in snake_case, e.g. `distance`, `soil_temperature`, `current_l1`.
    public var metric: String
    /// The device's own timestamp (Unix ms), if it sent a plausible one.
    public var deviceTimeMs: Int64?
    /// When the gateway received the message (Unix ms).
    public var receiveTimeMs: Int64
    /// The value; events and enums carry their numeric code.
    public var value: Double
    /// Canonical unit symbol (see `Units` in DeviceProfiles), or "" when dimensionless.
    public var unit: String
    /// Trust in the value.
    public var quality: SampleQuality

    /// Creates a sample.
    public init(
        device: String, metric: String, deviceTimeMs: Int64? = nil, receiveTimeMs: Int64, value: Double,
        unit: String = "", quality: SampleQuality = .good
    ) {
        self.device = device
        self.metric = metric
        self.deviceTimeMs = deviceTimeMs
        self.receiveTimeMs = receiveTimeMs
        self.value = value
        self.unit = unit
        self.quality = quality
    }

    /// The time the reading is filed under: device time when present, else receive time.
    public var timeMs: Int64 { deviceTimeMs ?? receiveTimeMs }
}
