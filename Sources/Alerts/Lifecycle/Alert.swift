import Foundation

/// One alert: a (rule, series) that breached, from pending through firing to resolved.
///
/// At most one alert per (rule, series) is open (pending or firing) at a time. Acknowledgement is an operator flag
/// on a firing alert, with who and when.
public struct Alert: Sendable, Hashable, Codable {
    /// Lifecycle states.
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        /// Breaching, waiting for the rule's `for:` duration.
        case pending
        /// Fired and delivered; open until resolved.
        case firing
        /// Closed: the condition cleared, the series went silent, or an operator resolved it.
        case resolved
    }

    /// Unique, increasing id.
    public var id: Int64
    /// The rule's id.
    public var rule: String
    /// The device.
    public var device: String
    /// The metric; empty for device-level rules (no data).
    public var metric: String
    /// Current severity (raised by escalation).
    public var severity: AlertRule.Severity
    /// Lifecycle state.
    public var state: State
    /// The rule's summary line.
    public var summary: String
    /// The condition kind (above, below, no_data, …).
    public var kind: String
    /// The value that made it fire (nil for no-data).
    public var value: Double?
    /// The latest value seen while open.
    public var lastValue: Double?
    /// When the breach began (wall clock, Unix ms).
    public var startedMs: Int64
    /// When it fired.
    public var firedMs: Int64?
    /// When it resolved.
    public var resolvedMs: Int64?
    /// Why or by whom it resolved: `clear`, `silence`, `data`, `rule-removed`, or an operator's name.
    public var resolvedBy: String?
    /// Operator acknowledgement.
    public var acknowledged: Bool
    /// Who acknowledged.
    public var acknowledgedBy: String?
    /// When.
    public var acknowledgedMs: Int64?
    /// Escalated for staying unacknowledged.
    public var escalated: Bool

    /// Creates an alert.
    public init(
        id: Int64, rule: String, device: String, metric: String, severity: AlertRule.Severity, state: State, summary: String,
        kind: String, value: Double?, startedMs: Int64
    ) {
        self.id = id
        self.rule = rule
        self.device = device
        self.metric = metric
        self.severity = severity
        self.state = state
        self.summary = summary
        self.kind = kind
        self.value = value
        self.lastValue = value
        self.startedMs = startedMs
        self.acknowledged = false
        self.escalated = false
    }

    enum CodingKeys: String, CodingKey {
        case id, rule, device, metric, severity, state, summary, kind, value
        case lastValue = "last_value", startedMs = "started_ms", firedMs = "fired_ms", resolvedMs = "resolved_ms"
        case resolvedBy = "resolved_by", acknowledged, acknowledgedBy = "acknowledged_by", acknowledgedMs = "acknowledged_ms"
        case escalated
    }
}

/// Something that happened to an alert and is delivered to control rooms.
public struct AlertEvent: Sendable, Hashable, Codable {
    /// Event kinds.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// The alert fired.
        case fired
        /// An operator acknowledged it.
        case acknowledged
        /// It stayed unacknowledged and was escalated.
        case escalated
        /// It resolved.
        case resolved
    }

    /// Position in the durable event log: strictly increasing, no gaps except events a restart never wrote.
    public var seq: Int64
    /// What happened.
    public var kind: Kind
    /// When (wall clock, Unix ms).
    public var timeMs: Int64
    /// The alert after the event.
    public var alert: Alert
    /// Channels to deliver to (empty: all).
    public var channels: [String]

    /// Creates an event.
    public init(seq: Int64, kind: Kind, timeMs: Int64, alert: Alert, channels: [String]) {
        self.seq = seq
        self.kind = kind
        self.timeMs = timeMs
        self.alert = alert
        self.channels = channels
    }

    enum CodingKeys: String, CodingKey {
        case seq, kind = "event", timeMs = "time_ms", alert, channels
    }

    /// The JSON body delivered over MQTT, webhooks and the live feed (documented in docs/alerts.md).
    public func jsonBody(gateway: String) -> [UInt8] {
        struct Body: Encodable {
            let gateway: String
            let event: AlertEvent
            enum CodingKeys: String, CodingKey { case gateway, seq, event, timeMs = "time_ms", alert }
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(gateway, forKey: .gateway)
                try c.encode(event.seq, forKey: .seq)
                try c.encode(event.kind, forKey: .event)
                try c.encode(event.timeMs, forKey: .timeMs)
                try c.encode(event.alert, forKey: .alert)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return Array((try? encoder.encode(Body(gateway: gateway, event: self))) ?? Data("{}".utf8))
    }

    /// Whether `channel` should receive this event.
    public func isFor(channel: String) -> Bool { channels.isEmpty || channels.contains(channel) }
}
