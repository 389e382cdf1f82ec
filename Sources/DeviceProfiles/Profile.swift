import GatewayCore

/// A loaded, validated device profile: what a vendor wrote in YAML, compiled. Immutable, and a class so that
/// routing and decoding pass a reference rather than copying its many fields per message.
public final class Profile: Sendable {
    /// Stable identifier, e.g. `dragino-ndds75`.
    public let id: String
    /// Increases with every change; id + version name the decoder that produced a sample.
    public let version: Int
    /// Vendor name.
    public let vendor: String
    /// Model name(s).
    public let model: String
    /// `neuron`, `charger` or `farm`.
    public let family: String
    /// One line for listings.
    public let description: String
    /// Expected seconds between reports; drives online/offline.
    public let reportIntervalSeconds: Int?
    /// Templates this profile decodes, per transport (`match:` keys `mqtt`, `coap`, `ctwing`, `onenet`), each matched
    /// against the `RawMessage.topic` that transport builds (docs/profiles.md §2).
    public let templates: [Transport: [TopicTemplate]]
    /// True when `match: { udp: true }`: bare UDP datagrams sent to a listener bound to this profile are decoded
    /// with it (the device id then comes from the payload or a transport attribute).
    public let acceptsUDP: Bool
    /// Device id template (`{deviceId}`, `{attr.imei}`), used when the payload carries no device-id field.
    public let deviceIDTemplate: String?
    /// How the payload bytes become the first frame.
    public let input: InputStage
    /// Largest payload accepted, in bytes.
    public let maxPayloadBytes: Int
    /// Inline test vectors.
    public let tests: [ProfileTest]
    /// The file it came from.
    public let file: String
    /// Line of the `id:` key (for multi-document files).
    public let line: Int

    let steps: [Step]
    let slotCount: Int
    let slotNames: [String]
    let littleEndianDefault: Bool

    init(
        id: String, version: Int, vendor: String, model: String, family: String, description: String, reportIntervalSeconds: Int?,
        templates: [Transport: [TopicTemplate]], acceptsUDP: Bool, deviceIDTemplate: String?, input: InputStage, maxPayloadBytes: Int, tests: [ProfileTest], file: String,
        line: Int, steps: [Step], slotCount: Int, slotNames: [String], littleEndianDefault: Bool
    ) {
        self.id = id
        self.version = version
        self.vendor = vendor
        self.model = model
        self.family = family
        self.description = description
        self.reportIntervalSeconds = reportIntervalSeconds
        self.templates = templates
        self.acceptsUDP = acceptsUDP
        self.deviceIDTemplate = deviceIDTemplate
        self.input = input
        self.maxPayloadBytes = maxPayloadBytes
        self.tests = tests
        self.file = file
        self.line = line
        self.steps = steps
        self.slotCount = slotCount
        self.slotNames = slotNames
        self.littleEndianDefault = littleEndianDefault
    }

    /// MQTT topic templates this profile decodes (what the gateway subscribes to).
    public var mqttTopics: [TopicTemplate] { templates[.mqtt] ?? [] }

    /// Every template of every transport, in a fixed transport order (mqtt, coap, ctwing, onenet), then as written.
    public var allTemplates: [(transport: Transport, template: TopicTemplate)] {
        Profile.templateTransports.flatMap { t in (templates[t] ?? []).map { (t, $0) } }
    }

    /// The transports whose messages carry a topic a template can match, in the order `match:` lists them in docs.
    public static let templateTransports: [Transport] = [.mqtt, .coap, .ctwing, .onenet]

    /// `id@version`, how logs and dead letters name a decoder.
    public var reference: String { "\(id)@\(version)" }
}

/// An inline test vector from a profile's `tests:` section.
public struct ProfileTest: Sendable {
    /// Name shown in the pass/fail table.
    public let name: String
    /// Topic to decode under (defaults to one synthesised from the first template).
    public let topic: String?
    /// Payload bytes as the transport would deliver them.
    public let payload: [UInt8]
    /// Transport attributes (`fport`, ...).
    public let attributes: [String: String]
    /// When the gateway is taken to have received it (Unix ms); device-time plausibility is judged against it.
    public let receiveTimeMs: Int64?
    /// Expected device id.
    public let expectedDevice: String?
    /// Expected samples by metric (checked against the first sample of that metric unless `index` is given).
    public let expectedSamples: [ExpectedSample]
    /// Metrics that must not appear.
    public let absentMetrics: [String]
    /// Expected status/attribute values (`csq_dbm`, `imei`, ...).
    public let expectedStatus: [String: ExpectedValue]
    /// Expected failure, if the vector must not decode.
    public let expectedError: (kind: String?, contains: String?)?
    /// Relative/absolute tolerance for numbers.
    public let tolerance: Double
    /// Where the vector comes from (vectors.json id, vendor doc).
    public let source: String?
    /// Line in the profile file.
    public let line: Int

    /// One expected reading.
    public struct ExpectedSample: Sendable {
        /// Metric name.
        public let metric: String
        /// Which occurrence (0-based) for metrics that repeat (history records, several phases).
        public let index: Int
        /// Number or enum label.
        public let value: ExpectedValue
        /// Canonical unit, when given.
        public let unit: String?
        /// Device time, when given (Unix ms).
        public let timeMs: Int64?
        /// Quality, when given.
        public let quality: String?
    }

    /// A number (with tolerance) or a text label.
    public enum ExpectedValue: Sendable, CustomStringConvertible {
        case number(Double)
        case text(String)

        /// As written.
        public var description: String {
            switch self {
            case .number(let d): return Value.number(d).description
            case .text(let s): return s
            }
        }
    }
}
