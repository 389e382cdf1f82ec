/// A snapshot of a `MosquittoClient`'s counters.
public struct MosquittoClientStatistics: Sendable, Hashable {
    /// Connected now.
    public var isConnected: Bool
    /// Successful CONNACKs.
    public var connects: Int
    /// Established connections that ended (lost or cleanly closed).
    public var disconnects: Int
    /// Attempts that failed (TCP, TLS, or refused).
    public var connectFailures: Int
    /// Messages delivered to the message handler.
    public var messagesReceived: Int
    /// Outgoing messages completed (QoS 0 written, QoS 1 PUBACK, QoS 2 PUBCOMP), refused ones included.
    public var messagesPublished: Int
    /// Of those, messages the broker refused: an MQTT 5 PUBACK or PUBREC with a reason code of 0x80 or above
    /// (not authorized, quota exceeded, payload format invalid ...).
    public var messagesRefused: Int = 0
    /// The reason code of the last refusal (0 if none).
    public var lastRefusalReasonCode: Int = 0
}
