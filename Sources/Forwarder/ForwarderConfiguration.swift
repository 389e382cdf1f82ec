/// Everything the forwarder needs: windows, the outbox, the sinks. `Gateway` builds it from the `forwarder:`
/// section of the configuration file.
public struct ForwarderConfiguration: Sendable, Hashable {
    /// One upstream receiver.
    public struct Sink: Sendable, Hashable {
        /// Transport and its settings.
        public enum Kind: Sendable, Hashable {
            /// InfluxDB line protocol over HTTP(S).
            case http(HTTPLineProtocolSink.Configuration)
            /// JSON batches over MQTT.
            case mqtt(MQTTUplinkSink.Configuration)
        }

        /// Transport.
        public var kind: Kind
        /// Most points per batch (at least one outbox row is always sent).
        public var batchPoints: Int
        /// Retry policy.
        public var backoff: Backoff
        /// Most batches on the wire at once (HTTP; an MQTT sink always sends one at a time).
        public var maxInFlight: Int

        /// Creates a sink entry.
        public init(kind: Kind, batchPoints: Int = 10_000, backoff: Backoff = Backoff(), maxInFlight: Int = 2) {
            self.kind = kind
            self.batchPoints = max(1, batchPoints)
            self.backoff = backoff
            if case .mqtt = kind {
                self.maxInFlight = 1
            } else {
                self.maxInFlight = max(1, maxInFlight)
            }
        }

        /// The sink's name.
        public var name: String {
            switch kind {
            case .http(let c): c.name
            case .mqtt(let c): c.name
            }
        }
    }

    /// Identifies this gateway upstream (`gateway` tag, MQTT batches).
    public var gatewayID: String
    /// Rollup windows.
    public var windows: [RollupWindow]
    /// The outbox file.
    public var outboxPath: String
    /// Outbox bound (payload bytes).
    public var maxBytes: Int64
    /// Most points per outbox row.
    public var rowPoints: Int
    /// Keep acknowledged rows (audits, tests).
    public var keepSent: Bool
    /// How often closed windows and the checkpoint are committed: what a crash can lose of the rollups.
    public var flushInterval: Duration
    /// Raise the backlog alert when a sink's oldest unsent row is older than this (nil: never).
    public var backlogAlertAgeMs: Int64?
    /// How often status metrics (backlog, age, rate) are computed.
    public var statusInterval: Duration
    /// Receivers.
    public var sinks: [Sink]

    /// Creates a configuration with the defaults: 1 m / 5 m / 1 h windows, 1 GiB outbox, 1 s flush, 1 h alert.
    public init(gatewayID: String, outboxPath: String, windows: [RollupWindow] = RollupWindow.defaults, maxBytes: Int64 = 1 << 30, rowPoints: Int = 1_000,
                keepSent: Bool = false, flushInterval: Duration = .seconds(1), backlogAlertAgeMs: Int64? = 3_600_000, statusInterval: Duration = .seconds(5),
                sinks: [Sink] = []) {
        self.gatewayID = gatewayID
        self.outboxPath = outboxPath
        self.windows = windows
        self.maxBytes = maxBytes
        self.rowPoints = rowPoints
        self.keepSent = keepSent
        self.flushInterval = flushInterval
        self.backlogAlertAgeMs = backlogAlertAgeMs
        self.statusInterval = statusInterval
        self.sinks = sinks
    }

    /// Builds the sinks.
    public func makeSinks() throws -> [any UplinkSink] {
        try sinks.map { s -> any UplinkSink in
            switch s.kind {
            case .http(let c): try HTTPLineProtocolSink(configuration: c)
            case .mqtt(let c): MQTTUplinkSink(configuration: c)
            }
        }
    }
}
