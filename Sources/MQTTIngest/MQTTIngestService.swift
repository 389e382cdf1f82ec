import GatewayCore
import Logging
import Metrics
import Mosquitto
import ServiceLifecycle
import Synchronization

/// Receives MQTT messages, decodes them in batches, and hands each batch to a `SampleSink`.
///
/// ## Flow
/// libmosquitto's network thread (inside `MosquittoClient`) copies each message into a `RawMessage`
/// (transport `.mqtt`, receive time from `WallClock`, attributes `qos` and `retain`) and offers it to a bounded
/// `IngestQueue`; nothing else happens on that thread. One task takes whatever is waiting (up to `maxBatchSize`),
/// decodes every message into one `SampleBatch` and awaits `sink.accept`: one isolation hop per batch. While the
/// sink applies back-pressure the queue fills; when it is full new messages are dropped, counted in
/// `droppedCount` and `gateway_ingest_dropped_total{transport="mqtt"}`, and reported in a warning at most once
/// per `dropWarningInterval`.
///
/// ## Durability
/// libmosquitto sends PUBACK for a QoS 1 message before our callback sees it, so from that moment the message
/// exists only in this process. A crash loses what is in the queue (at most `queueCapacity` messages), the batch
/// being decoded or accepted (at most `maxBatchSize`), and whatever the sink has not made durable yet.
///
/// ## Lifecycle
/// `run()` starts the client, and returns after graceful shutdown (or cancellation): the client disconnects
/// cleanly (no new messages), the queue is closed, and what was already buffered is decoded and accepted before
/// `run()` returns. It throws only if the sink throws (it can accept nothing more; the service group reports the
/// error), or if the network thread cannot be created. Runs once.
///
/// Log levels: lifecycle and connection changes at info, SUBACKs at debug, batches at trace, and dropped
/// messages at warning, rate-limited to one line per `dropWarningInterval` (loss must never be silent).
///
/// ## Metrics
/// `gateway_mqtt_messages_total`, `gateway_ingest_dropped_total{transport="mqtt"}`, `gateway_mqtt_connects_total`,
/// `gateway_mqtt_disconnects_total`, `gateway_mqtt_connect_failures_total`, `gateway_mqtt_batches_total`,
/// `gateway_mqtt_samples_total` and the gauge `gateway_ingest_queue_depth{transport="mqtt"}`. No label carries a
/// topic or device.
public final class MQTTIngestService: Service, Sendable {
    /// The configuration the service was created with.
    public let configuration: MQTTIngestConfiguration

    private let decoder: any MessageDecoder
    private let sink: any SampleSink
    private let logger: Logger
    private let queue: IngestQueue<RawMessage>
    private let client: MosquittoClient
    private let metrics: IngestMetrics

    private let started = Atomic<Bool>(false)
    private let decodedBatches = Atomic<Int>(0)
    private let decodedMessages = Atomic<Int>(0)
    private let samples = Atomic<Int>(0)
    private let deadLetters = Atomic<Int>(0)
    private let dropReport = Mutex(DropReport())
    private let sourceClosed = Mutex(false)

    /// Drops already reported in a warning, and when.
    private struct DropReport {
        var reported = 0
        var lastWarning: ContinuousClock.Instant?
    }

    /// The service's counters and gauge, created once (metric creation takes the factory's lock).
    private struct IngestMetrics: Sendable {
        let messages = Counter(label: "gateway_mqtt_messages_total")
        let dropped = Counter(label: "gateway_ingest_dropped_total", dimensions: [("transport", "mqtt")])
        let connects = Counter(label: "gateway_mqtt_connects_total")
        let disconnects = Counter(label: "gateway_mqtt_disconnects_total")
        let connectFailures = Counter(label: "gateway_mqtt_connect_failures_total")
        let batches = Counter(label: "gateway_mqtt_batches_total")
        let samples = Counter(label: "gateway_mqtt_samples_total")
        let queueDepth = Gauge(label: "gateway_ingest_queue_depth", dimensions: [("transport", "mqtt")])
    }

    /// Creates the service and its MQTT client (not yet connected).
    ///
    /// - Parameters:
    ///   - configuration: client settings, subscriptions, queue capacity and batch size.
    ///   - decoder: turns each `RawMessage` into samples or a dead letter (called on the decode task).
    ///   - sink: takes each decoded batch.
    ///   - logger: lifecycle at info, connection changes at info/debug, drops at warning (rate-limited).
    /// - Throws: `MosquittoError` for an invalid client configuration (see `MosquittoClient.init`).
    public init(configuration: MQTTIngestConfiguration, decoder: any MessageDecoder, sink: any SampleSink, logger: Logger) throws(MosquittoError) {
        precondition(configuration.queueCapacity > 0, "queueCapacity must be positive")
        precondition(configuration.maxBatchSize > 0, "maxBatchSize must be positive")
        let queue = IngestQueue<RawMessage>(capacity: configuration.queueCapacity)
        let metrics = IngestMetrics()
        self.configuration = configuration
        self.decoder = decoder
        self.sink = sink
        self.logger = logger
        self.queue = queue
        self.metrics = metrics
        self.client = try MosquittoClient(configuration: configuration.client, subscriptions: configuration.subscriptions) { message in
            // libmosquitto's network thread: copy, offer, count. No decoding, no logging, no await.
            metrics.messages.increment()
            // No per-message dictionary unless there is something to say: most messages carry no attributes.
            let attributes: [String: String] = message.retain ? ["retain": "1"] : [:]
            let raw = RawMessage(
                transport: .mqtt, topic: message.topic, payload: message.payload, receiveTimeMs: WallClock.nowMs(), attributes: attributes
            )
            if !queue.offer(raw) {
                metrics.dropped.increment()
            }
        }
    }

    /// Messages dropped because the queue was full.
    public var droppedCount: Int { queue.droppedCount }

    /// Counters for a live summary.
    public var stats: MQTTIngestStats {
        let client = client.statistics
        return MQTTIngestStats(
            connected: client.isConnected,
            connects: client.connects,
            disconnects: client.disconnects,
            connectFailures: client.connectFailures,
            received: client.messagesReceived,
            queued: queue.acceptedCount,
            dropped: queue.droppedCount,
            queueDepth: queue.depth,
            decodedBatches: decodedBatches.load(ordering: .relaxed),
            decodedMessages: decodedMessages.load(ordering: .relaxed),
            samples: samples.load(ordering: .relaxed),
            deadLetters: deadLetters.load(ordering: .relaxed),
            lastError: self.client.lastError?.description
        )
    }

    /// Connects, ingests until graceful shutdown or cancellation, drains, and returns.
    public func run() async throws {
        precondition(!started.exchange(true, ordering: .relaxed), "MQTTIngestService.run() may only be called once")
        let c = configuration.client
        logger.info(
            "MQTT ingest starting",
            metadata: [
                "mqtt.broker": "\(c.host):\(c.port)", "mqtt.client_id": "\(c.clientID)",
                "mqtt.subscriptions": "\(configuration.subscriptions.map { "\($0.filter) q\($0.qos.rawValue)" })",
                "mqtt.clean_session": "\(c.cleanSession)", "mqtt.tls": "\(c.tls != nil)",
            ]
        )
        try client.start()
        do {
            try await withTaskCancellationHandler {
                try await withGracefulShutdownHandler {
                    try await ingest()
                } onGracefulShutdown: { [self] in
                    closeSource()
                }
            } onCancel: { [self] in
                closeSource()
            }
        } catch {
            closeSource()
            reportDrops(force: true)
            logger.debug("MQTT ingest ending on error", metadata: ["error": "\(error)"])
            throw error
        }
        reportDrops(force: true)
        let s = stats
        logger.info(
            "MQTT ingest stopped",
            metadata: [
                "mqtt.received": "\(s.received)", "mqtt.dropped": "\(s.dropped)", "mqtt.batches": "\(s.decodedBatches)",
                "mqtt.samples": "\(s.samples)",
            ]
        )
    }

    /// Stops new input: the client disconnects (its thread is joined, so no message arrives afterwards) and the
    /// queue is closed, so the decode loop ends once it has drained what is buffered. Idempotent.
    private func closeSource() {
        // Serialised, so a cancellation racing a graceful shutdown cannot close the queue while the first caller
        // is still waiting for the network thread (messages arriving in between would count as drops).
        sourceClosed.withLock { closed in
            guard !closed else { return }
            client.stop()
            queue.finish()
            closed = true
        }
    }

    private func ingest() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.watchEvents() }
            group.addTask { await self.watchDrops() }
            try await decodeLoop()
            group.cancelAll()
        }
    }

    /// The one task that decodes and hands batches over.
    private func decodeLoop() async throws {
        while let messages = await queue.next(maxCount: configuration.maxBatchSize) {
            var batch = SampleBatch(reservingCapacity: messages.count)
            for message in messages {
                decoder.decode(message, into: &batch)
            }
            batch.messageCount = messages.count
            let sampleCount = batch.samples.count
            let deadLetterCount = batch.deadLetters.count
            try await sink.accept(batch)
            decodedBatches.add(1, ordering: .relaxed)
            decodedMessages.add(messages.count, ordering: .relaxed)
            samples.add(sampleCount, ordering: .relaxed)
            deadLetters.add(deadLetterCount, ordering: .relaxed)
            metrics.batches.increment()
            metrics.samples.increment(by: Int64(sampleCount))
            metrics.queueDepth.record(queue.depth)
            logger.trace(
                "MQTT batch accepted",
                metadata: ["batch.messages": "\(messages.count)", "batch.samples": "\(sampleCount)", "batch.dead_letters": "\(deadLetterCount)"]
            )
        }
    }

    /// Connection changes, off the network thread: log and count. Ends when the client stops.
    private func watchEvents() async {
        for await event in client.events {
            switch event {
            case .connected(let sessionPresent):
                metrics.connects.increment()
                logger.info("MQTT broker connected", metadata: ["mqtt.session_present": "\(sessionPresent)"])
            case .connectFailed(let error):
                metrics.connectFailures.increment()
                logger.info("MQTT connect failed", metadata: ["error": "\(error)"])
            case .connectionLost(let error):
                metrics.disconnects.increment()
                logger.info("MQTT connection lost", metadata: ["error": "\(error)"])
            case .subscribed(let filter, let qos):
                logger.debug("MQTT subscribed", metadata: ["mqtt.filter": "\(filter)", "mqtt.qos": "\(qos.rawValue)"])
            case .subscriptionRejected(let filter, let reasonCode):
                logger.info("MQTT subscription rejected", metadata: ["mqtt.filter": "\(filter)", "mqtt.reason_code": "\(reasonCode)"])
            case .disconnected:
                logger.debug("MQTT disconnected")
            }
        }
    }

    /// Checks the drop counter every second until cancelled.
    private func watchDrops() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .seconds(1))
            } catch {
                return
            }
            reportDrops(force: false)
        }
    }

    /// Logs a warning with the drops since the last one, at most once per `dropWarningInterval` (or now when
    /// `force`, at shutdown), so loss is never silent but never floods the log.
    private func reportDrops(force: Bool) {
        let total = queue.droppedCount
        let now = ContinuousClock.now
        let interval = configuration.dropWarningInterval
        let newDrops: Int? = dropReport.withLock { report in
            guard total > report.reported else { return nil }
            if !force, let last = report.lastWarning, last.duration(to: now) < interval { return nil }
            defer {
                report.reported = total
                report.lastWarning = now
            }
            return total - report.reported
        }
        guard let newDrops else { return }
        logger.warning(
            "MQTT ingest queue full, messages dropped",
            metadata: [
                "mqtt.dropped": "\(newDrops)", "mqtt.dropped_total": "\(total)", "queue.capacity": "\(configuration.queueCapacity)",
            ]
        )
    }
}
