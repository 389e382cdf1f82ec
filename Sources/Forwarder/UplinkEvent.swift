import GatewayCore

/// An alert transition or a device status change to forward upstream, beside the rollups.
///
/// `key` identifies the event at the receiver: the alert id plus its state, or the device plus the transition
/// time. Line protocol receivers key it by (measurement, tags, time), MQTT receivers by `key`, so a replay after a
/// crash overwrites or is recognised, never counted twice. Events are never dropped by the outbox's overflow policy
/// (alerts) or dropped only after every rollup (status changes).
public struct UplinkEvent: Sendable, Hashable {
    /// What the event is.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// An alert's state changed (pending, firing, resolved, acknowledged).
        case alert
        /// A device went online or offline.
        case status
    }

    /// Alert or status.
    public var kind: Kind
    /// Stable identity (alert id + state; device + transition time).
    public var key: String
    /// When it happened (Unix ms): the line-protocol timestamp.
    public var timeMs: Int64
    /// Device concerned ("" if none).
    public var device: String
    /// Rule id for alerts; "online"/"offline" for status changes.
    public var rule: String
    /// Severity for alerts (`info`, `warning`, `critical`); "" for status changes.
    public var severity: String
    /// State after the transition (`firing`, `resolved`, `online`, `offline` ...).
    public var state: String
    /// The value that triggered the alert; 1 (online) or 0 (offline) for status changes.
    public var value: Double
    /// Extra detail as a JSON object text (message, thresholds ...), forwarded verbatim in MQTT batches; "{}" if none.
    public var detailsJSON: String

    /// Creates an event.
    public init(kind: Kind, key: String, timeMs: Int64, device: String, rule: String, severity: String, state: String, value: Double, detailsJSON: String = "{}") {
        self.kind = kind
        self.key = key
        self.timeMs = timeMs
        self.device = device
        self.rule = rule
        self.severity = severity
        self.state = state
        self.value = value
        self.detailsJSON = detailsJSON
    }

    /// An alert transition. `alertID` must be stable for the alert's lifetime (rule + series, or a stored id);
    /// the key is `alertID/state`, so each state of one alert is forwarded once.
    public static func alert(
        alertID: String, rule: String, device: String, severity: String, state: String, value: Double, timeMs: Int64, detailsJSON: String = "{}"
    ) -> UplinkEvent {
        UplinkEvent(kind: .alert, key: "\(alertID)/\(state)", timeMs: timeMs, device: device, rule: rule, severity: severity, state: state, value: value,
                    detailsJSON: detailsJSON)
    }

    /// A device online/offline transition from the registry.
    public static func status(_ change: DeviceStateChange) -> UplinkEvent {
        let state = change.to.rawValue
        return UplinkEvent(kind: .status, key: "\(change.device)/\(change.atMs)/\(state)", timeMs: change.atMs, device: change.device, rule: state,
                           severity: "", state: state, value: change.to == .online ? 1 : 0)
    }
}
