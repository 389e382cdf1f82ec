import Mosquitto

/// What `MQTTIngestService` connects to, what it subscribes to, and how much it buffers.
public struct MQTTIngestConfiguration: Sendable, Hashable {
    /// Broker, identity, credentials, TLS, session and reconnect policy. For no loss across gateway restarts use
    /// `cleanSession: false` with a stable `clientID` (and on MQTT 5 a `sessionExpirySeconds` above 0) and QoS 1
    /// subscriptions: the broker then queues messages while the gateway is away.
    public var client: MQTTClientConfiguration
    /// Filters subscribed on every (re)connect, e.g. `city/#` or `$share/citygate/city/#` to split one stream
    /// between several gateways.
    public var subscriptions: [MQTTSubscription]
    /// Most messages held between the network thread and the decode task. When full, new messages are dropped
    /// and counted (`gateway_ingest_dropped_total{transport="mqtt"}`): QoS 1 is already acknowledged to the
    /// broker by then, so this capacity is part of the crash-loss bound.
    public var queueCapacity: Int
    /// Most messages decoded into one `SampleBatch` (one hop to the sink per batch).
    public var maxBatchSize: Int
    /// Least time between two "messages dropped" warnings; the count in between is summed.
    public var dropWarningInterval: Duration

    /// Creates a configuration. Defaults: 16,384 queued messages, batches of up to 1,024, drop warnings at most
    /// every 10 s.
    public init(
        client: MQTTClientConfiguration, subscriptions: [MQTTSubscription], queueCapacity: Int = 16_384, maxBatchSize: Int = 1_024,
        dropWarningInterval: Duration = .seconds(10)
    ) {
        self.client = client
        self.subscriptions = subscriptions
        self.queueCapacity = queueCapacity
        self.maxBatchSize = maxBatchSize
        self.dropWarningInterval = dropWarningInterval
    }
}
