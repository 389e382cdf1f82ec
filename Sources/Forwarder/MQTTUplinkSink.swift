import Mosquitto
import Synchronization

/// Publishes batches as JSON (`JSONBatch`) at QoS 1 through its own libmosquitto connection to the upstream broker.
///
/// A batch counts as acknowledged when the broker's PUBACK arrives (libmosquitto's `on_publish`) with a success
/// reason code; an MQTT 5 PUBACK with an error reason code (0x80 or above, such as 0x87 not authorized or 0x97
/// quota exceeded) is a failure, and the batch is sent again after the backoff. The sink has
/// one batch in flight at a time and owns its client, so the client's completed-publish counter moving past its
/// value before the publish is that batch's PUBACK. When no PUBACK arrives within `ackTimeout`, or the connection
/// drops, the client is discarded (with whatever libmosquitto still held for it) and a fresh one is connected for
/// the retry, so a late PUBACK of an abandoned attempt can never be mistaken for the next batch's. The retry
/// carries the same sequence number; a receiver deduplicates on it.
///
/// Topic template placeholders: `{gateway}`, `{sink}`, `{stream}` (`alerts`, `status`, `rollup_1m` ...).
public final class MQTTUplinkSink: UplinkSink {
    /// Settings.
    public struct Configuration: Sendable, Hashable {
        /// Sink name.
        public var name: String
        /// Gateway id.
        public var gateway: String
        /// The upstream broker connection (clean session: the outbox, not the broker, holds the backlog).
        public var client: MQTTClientConfiguration
        /// Topic template.
        public var topic: String
        /// How long to wait for a PUBACK.
        public var ackTimeout: Duration

        /// Creates settings.
        public init(name: String, gateway: String, client: MQTTClientConfiguration, topic: String = "province/{gateway}/{stream}",
                    ackTimeout: Duration = .seconds(10)) {
            self.name = name
            self.gateway = gateway
            self.client = client
            self.topic = topic
            self.ackTimeout = ackTimeout
        }
    }

    /// The settings in force.
    public let configuration: Configuration
    /// Sink name.
    public var name: String { configuration.name }
    private let client = Mutex<MosquittoClient?>(nil)

    /// Creates the sink; it connects on the first send.
    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The topic for a stream.
    public func topic(for stream: UplinkStream) -> String {
        configuration.topic.replacingPlaceholders(["gateway": configuration.gateway, "sink": configuration.name, "stream": stream.description])
    }

    private func currentClient() throws -> MosquittoClient {
        try client.withLock { c in
            if let c { return c }
            let fresh = try MosquittoClient(configuration: configuration.client) { _ in }
            try fresh.start()
            c = fresh
            return fresh
        }
    }

    private func discardClient() {
        let old = client.withLock { c in
            defer { c = nil }
            return c
        }
        old?.stop(flushTimeout: .zero)
    }

    /// Publishes and waits for the PUBACK.
    public func send(_ batch: OutboxBatch) async throws -> SinkOutcome {
        let c = try currentClient()
        if !c.isConnected {
            // A fresh client needs a moment for its CONNACK.
            let deadline = ContinuousClock.now.advanced(by: .seconds(2))
            while !c.isConnected && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            guard c.isConnected else { throw UplinkSinkError.notConnected(c.lastError.map { "\($0)" } ?? "connecting") }
        }
        let before = c.statistics.messagesPublished
        let refusedBefore = c.statistics.messagesRefused
        let disconnects = c.statistics.disconnects
        let payload = JSONBatch.render(batch, gateway: configuration.gateway)
        do {
            try c.publish(topic: topic(for: batch.stream), payload: payload, qos: .atLeastOnce)
        } catch {
            discardClient()
            throw UplinkSinkError.notConnected("\(error)")
        }
        let deadline = ContinuousClock.now.advanced(by: configuration.ackTimeout)
        while ContinuousClock.now < deadline {
            let s = c.statistics
            if s.messagesPublished > before {
                if s.messagesRefused > refusedBefore { throw UplinkSinkError.refused(reasonCode: s.lastRefusalReasonCode) }
                return .acknowledged
            }
            if s.disconnects != disconnects || !s.isConnected { break }
            try await Task.sleep(for: .milliseconds(2))
        }
        discardClient()
        throw UplinkSinkError.timeout
    }

    /// One batch at a time: the PUBACK is matched by the client's completion counter, not by message id.
    public var sendsOneAtATime: Bool { true }

    /// Disconnects.
    public func shutdown() async {
        discardClient()
    }
}

extension String {
    /// Replaces `{name}` placeholders.
    func replacingPlaceholders(_ values: [String: String]) -> String {
        var out = self
        for (k, v) in values { out = out.replacing("{\(k)}", with: v) }
        return out
    }
}
