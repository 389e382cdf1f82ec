import GatewayCore

/// One uplink produced by `CitySimulator`: the topic and payload exactly as the device (or its bridge) would
/// publish them, plus what the simulator knows about it.
public struct SimulatedMessage: Sendable, Hashable {
    /// What the simulator meant the message to be.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A routine report with values on the daily cycle.
        case normal
        /// A plausible but alarming report: spike, drop, tilt, smoke alarm, pressure loss, charger fault.
        case anomaly
        /// A message that must end up as a dead letter (see `Malformation`).
        case malformed
    }

    /// How a `.malformed` message is broken. Consecutive malformed messages rotate through these.
    public enum Malformation: String, Sendable, Hashable, CaseIterable {
        /// The frame or JSON text is cut short (dead-letter reason `decode`, `integrity` or `malformed`).
        case truncated
        /// A checksum, CRC, trailer or length byte is flipped, or a JSON message lacks a required field
        /// (reason `integrity` or `decode`).
        case corrupted
        /// Non-hex text for ASCII-hex models, invalid JSON for JSON models (reason `malformed`); raw binary models
        /// have no text stage, so they fall back to `corrupted`.
        case badEncoding
        /// A payload larger than 64 KiB (reason `oversize`).
        case oversize
        /// A topic no profile claims (reason `no_profile`).
        case unknownTopic
    }

    /// MQTT topic.
    public var topic: String
    /// Payload bytes as published (raw bytes, ASCII-hex text or JSON text, as the model's profile expects).
    public var payload: [UInt8]
    /// Profile id of the device model, e.g. `dragino-ndds75`.
    public var model: String
    /// The device id the profile decodes this message to.
    public var device: String
    /// Normal, anomaly or malformed.
    public var kind: Kind
    /// The simulated time the message describes (Unix ms); timestamps inside the payload derive from it.
    public var timeMs: Int64
    /// For `.malformed` messages, how the message is broken (the variant actually applied).
    public var malformation: Malformation?

    /// Creates a message.
    public init(
        topic: String, payload: [UInt8], model: String, device: String, kind: Kind, timeMs: Int64 = 0,
        malformation: Malformation? = nil
    ) {
        self.topic = topic
        self.payload = payload
        self.model = model
        self.device = device
        self.kind = kind
        self.timeMs = timeMs
        self.malformation = malformation
    }

    /// The message as an MQTT transport would hand it to the decoder.
    public func rawMessage(receiveTimeMs: Int64? = nil) -> RawMessage {
        RawMessage(transport: .mqtt, topic: topic, payload: payload, receiveTimeMs: receiveTimeMs ?? timeMs)
    }
}
