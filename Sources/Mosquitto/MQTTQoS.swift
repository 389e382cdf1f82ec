/// MQTT quality of service level.
public enum MQTTQoS: Int, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    /// QoS 0: fire and forget; lost if the connection drops.
    case atMostOnce = 0
    /// QoS 1: acknowledged with PUBACK; may be delivered more than once.
    case atLeastOnce = 1
    /// QoS 2: four-way handshake; delivered once.
    case exactlyOnce = 2

    /// `"0"`, `"1"` or `"2"`, as used in message attributes and metric labels.
    public var description: String { String(rawValue) }

    /// Orders by level.
    public static func < (lhs: MQTTQoS, rhs: MQTTQoS) -> Bool { lhs.rawValue < rhs.rawValue }
}
