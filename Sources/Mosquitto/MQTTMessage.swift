/// One message received from (or sent to) the broker. Owns its bytes: it is copied out of libmosquitto's buffer
/// before the callback returns.
public struct MQTTMessage: Sendable, Hashable {
    /// The topic the message was published to.
    public var topic: String
    /// The payload bytes, exactly as published.
    public var payload: [UInt8]
    /// QoS the message was delivered with.
    public var qos: MQTTQoS
    /// True when the broker delivered it from its retained store (a subscription's first message).
    public var retain: Bool

    /// Creates a message.
    public init(topic: String, payload: [UInt8], qos: MQTTQoS = .atMostOnce, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}
