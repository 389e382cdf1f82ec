/// The transport a message arrived on. Bounded set: used as a metric label.
public enum Transport: String, Sendable, Hashable, CaseIterable, Codable {
    case mqtt, coap, udp, ctwing, onenet, http
}

/// One uplink as a transport received it, before any decoding.
///
/// Sources copy the bytes out of the C callback or NIO buffer into this value, so it owns its memory and can
/// cross isolation domains.
public struct RawMessage: Sendable, Hashable {
    /// How the message arrived.
    public var transport: Transport
    /// MQTT topic, CoAP Uri-Path, or the push route; what profiles match on.
    public var topic: String
    /// The payload bytes exactly as received.
    public var payload: [UInt8]
    /// When the gateway received it (Unix milliseconds, wall clock).
    public var receiveTimeMs: Int64
    /// Transport metadata a profile may read (`fport`, carrier `imei`, `qos`, ...). Small, never per-reading data.
    public var attributes: [String: String]

    /// Creates a message.
    public init(transport: Transport, topic: String, payload: [UInt8], receiveTimeMs: Int64, attributes: [String: String] = [:]) {
        self.transport = transport
        self.topic = topic
        self.payload = payload
        self.receiveTimeMs = receiveTimeMs
        self.attributes = attributes
    }
}
