import CoreMetrics
import GatewayCore
import GatewayTesting
import Logging
import MQTTIngest
import Mosquitto
import ServiceLifecycle
import Testing

@Suite(.enabled(if: Broker.executable != nil, "mosquitto is not installed"))
struct MQTTIngestServiceTests {
    @Test func messagesInSamplesOut() async throws {
        let broker = try await Broker()
        let decoder = FakeDecoder()
        let sink = CollectingSink()
        let records = Collector<RecordingLogHandler.Record>()
        let logger = RecordingLogHandler.logger(records)
        let service = try MQTTIngestService(
            configuration: ingestConfiguration(broker, id: "ingest-e2e", maxBatchSize: 50), decoder: decoder, sink: sink, logger: logger
        )
        let count = 300
        let before = WallClock.nowMs()
        try await withRunningService(service, logger: logger) { _ in
            #expect(await waitUntil(timeout: .seconds(180)) { records.items.contains { $0.message == "MQTT subscribed" } })
            try await publishNumbers(broker, topic: "city/e2e", count: count, id: "pub-e2e")
            try await mosquittoPubText(broker, topic: "city/e2e/bad", text: "not-a-number")
            #expect(await waitUntil(timeout: .seconds(60)) { sink.messageCount == count + 1 })
        }
        let after = WallClock.nowMs()

        let samples = sink.samples
        #expect(samples.count == count)
        #expect(Set(samples.map(\.value)) == Set((0..<count).map(Double.init)))
        #expect(samples.allSatisfy { $0.device == "city/e2e/\(Int($0.value))" })
        #expect(sink.batches.items.allSatisfy { $0.messageCount <= 50 })
        let deadLetters = sink.batches.items.flatMap(\.deadLetters)
        #expect(deadLetters.map(\.message.topic) == ["city/e2e/bad"])

        let seen = decoder.seen.items
        #expect(seen.count == count + 1)
        #expect(seen.allSatisfy { $0.transport == .mqtt && $0.attributes.isEmpty }, "no per-message attributes unless retained")
        #expect(seen.allSatisfy { $0.receiveTimeMs >= before && $0.receiveTimeMs <= after })

        let stats = service.stats
        #expect(stats.received == count + 1)
        #expect(stats.queued == count + 1)
        #expect(stats.dropped == 0)
        #expect(stats.decodedMessages == count + 1)
        #expect(stats.samples == count)
        #expect(stats.deadLetters == 1)
        #expect(stats.decodedBatches == sink.batches.count)
        #expect(stats.connects == 1)
        #expect(!stats.connected, "disconnected after shutdown")
        #expect(records.items.contains { $0.level == .info && $0.message == "MQTT broker connected" })
        #expect(!records.items.contains { $0.level == .warning })
    }

    @Test func retainedMessageCarriesRetainAttribute() async throws {
        let broker = try await Broker()
        try await mosquittoPubText(broker, topic: "city/retained/1", text: "42", extra: ["-r"])
        let decoder = FakeDecoder()
        let sink = CollectingSink()
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let service = try MQTTIngestService(
            configuration: ingestConfiguration(broker, id: "ingest-retained"), decoder: decoder, sink: sink, logger: logger
        )
        try await withRunningService(service, logger: logger) { _ in
            #expect(await waitUntil(timeout: .seconds(60)) { sink.messageCount == 1 })
        }
        let message = try #require(decoder.seen.items.first)
        #expect(message.topic == "city/retained/1")
        #expect(message.payload == Array("42".utf8))
        #expect(message.attributes == ["retain": "1"])
        #expect(sink.samples.map(\.value) == [42])
    }

    /// Graceful shutdown while the sink is stalled: everything already received is still decoded and accepted
    /// before `run()` returns.
    @Test func gracefulShutdownDrainsTheQueue() async throws {
        let broker = try await Broker()
        let gate = Gate()
        let sink = CollectingSink(gate: gate)
        let records = Collector<RecordingLogHandler.Record>()
        let logger = RecordingLogHandler.logger(records)
        let service = try MQTTIngestService(
            configuration: ingestConfiguration(broker, id: "ingest-drain", queueCapacity: 1_000, maxBatchSize: 10), decoder: FakeDecoder(),
            sink: sink, logger: logger
        )
        let count = 100
        try await withRunningService(service, logger: logger) { group in
            #expect(await waitUntil(timeout: .seconds(180)) { records.items.contains { $0.message == "MQTT subscribed" } })
            try await publishNumbers(broker, topic: "city/drain", count: count, id: "pub-drain")
            #expect(await waitUntil(timeout: .seconds(60)) { service.stats.received == count })
            #expect(await waitUntil(timeout: .seconds(60)) { sink.entered.count == 1 }, "the first batch is stuck in the sink")
            #expect(sink.batches.count == 0)
            // Shut down while stalled, then let the sink go.
            await group.triggerGracefulShutdown()
            #expect(await waitUntil(timeout: .seconds(60)) { !service.stats.connected })
            gate.open()
        }
        #expect(sink.messageCount == count)
        #expect(Set(sink.samples.map(\.value)) == Set((0..<count).map(Double.init)))
        #expect(service.droppedCount == 0)
    }

    /// A tiny queue and a stalled sink: the overflow is dropped, counted (property, metric and a warning), and
    /// delivered + dropped == published.
    @Test func overflowIsCountedNeverSilent() async throws {
        let broker = try await Broker()
        let metrics = CountingMetricsFactory()
        let records = Collector<RecordingLogHandler.Record>()
        let logger = RecordingLogHandler.logger(records)
        let gate = Gate()
        let sink = CollectingSink(gate: gate)
        let service = try withMetricsFactory(metrics) {
            try MQTTIngestService(
                configuration: ingestConfiguration(broker, id: "ingest-overflow", queueCapacity: 5, maxBatchSize: 2), decoder: FakeDecoder(),
                sink: sink, logger: logger
            )
        }
        let published = 60
        try await withRunningService(service, logger: logger) { _ in
            #expect(await waitUntil(timeout: .seconds(180)) { records.items.contains { $0.message == "MQTT subscribed" } })
            try await publishNumbers(broker, topic: "city/overflow", count: published, id: "pub-overflow")
            #expect(await waitUntil(timeout: .seconds(60)) { service.stats.received == published })
            gate.open()
        }
        let delivered = sink.messageCount
        let dropped = service.droppedCount
        #expect(dropped > 0)
        #expect(delivered + dropped == published)
        #expect(delivered <= 5 + 2, "at most one batch in the sink plus a full queue")
        #expect(sink.samples.count == delivered)
        #expect(service.stats.dropped == dropped)
        #expect(metrics.counter("gateway_ingest_dropped_total", [("transport", "mqtt")]) == Int64(dropped))
        #expect(metrics.counter("gateway_mqtt_messages_total") == Int64(published))
        #expect(metrics.counter("gateway_mqtt_connects_total") == 1)
        let warnings = records.items.filter { $0.level == .warning }
        #expect(warnings.count >= 1)
        let reported = warnings.compactMap { Int("\($0.metadata["mqtt.dropped"] ?? "")") }.reduce(0, +)
        #expect(reported == dropped, "every drop is reported in some warning")
    }
}

/// One `mosquitto_pub` QoS 1 message.
func mosquittoPubText(_ broker: Broker, topic: String, text: String, extra: [String] = []) async throws {
    let tool = try #require(ProcessRunner.which("mosquitto_pub"))
    try await ProcessRunner.check(tool, ["-h", broker.host, "-p", String(broker.port), "-t", topic, "-m", text, "-q", "1"] + extra)
}
