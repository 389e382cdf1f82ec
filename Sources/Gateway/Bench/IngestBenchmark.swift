import DeviceProfiles
import Foundation
import GatewayCore
import Logging
import MQTTIngest
import Mosquitto
import Synchronization

/// `citygate bench ingest`: publisher → broker → gateway (decoding to samples), with `mosquitto_sub` receiving
/// the same stream from the same broker in the same run as the reference.
///
/// Both subscribers are connected before the first publish; each one's rate is messages / (time its last
/// message arrived − time of the first publish). The ratio gateway / mosquitto_sub is the figure that matters:
/// the publisher, broker and both receivers share the machine's cores, so absolute numbers move with the machine.
public struct IngestBenchmark: Sendable {
    /// One workload: a profile's topic shape and a payload generator.
    public struct Workload: Sendable {
        /// Name in the report.
        public var name: String
        /// Subscription filter.
        public var filter: String
        /// Topic and payload of message `i`.
        public var message: @Sendable (Int) -> (topic: String, payload: [UInt8])
    }

    /// The result of one workload.
    public struct Result: Sendable {
        /// Workload name.
        public var name: String
        /// Messages published.
        public var messages: Int
        /// Payload size of the first message.
        public var payloadBytes: Int
        /// Gateway: messages that arrived and were decoded.
        public var gatewayMessages: Int
        /// Gateway: samples produced.
        public var gatewaySamples: Int
        /// Gateway: dead letters (should be 0).
        public var gatewayDeadLetters: Int
        /// Gateway: messages dropped at its queue.
        public var gatewayDropped: Int
        /// Gateway: seconds from first publish to last decoded message.
        public var gatewaySeconds: Double
        /// mosquitto_sub: messages received.
        public var referenceMessages: Int
        /// mosquitto_sub: seconds from first publish to its exit after the last message.
        public var referenceSeconds: Double
        /// Publisher: seconds to hand all messages to libmosquitto.
        public var publishSeconds: Double

        /// Gateway messages per second.
        public var gatewayRate: Double { Double(gatewayMessages) / max(gatewaySeconds, 1e-9) }
        /// Gateway samples per second.
        public var sampleRate: Double { Double(gatewaySamples) / max(gatewaySeconds, 1e-9) }
        /// Reference messages per second.
        public var referenceRate: Double { Double(referenceMessages) / max(referenceSeconds, 1e-9) }
        /// Gateway rate / reference rate.
        public var ratio: Double { gatewayRate / max(referenceRate, 1e-9) }
    }

    /// Messages per workload.
    public var messages: Int
    /// QoS for subscriptions and publishing.
    public var qos: Int
    /// Distinct devices the messages rotate over.
    public var devices: Int

    /// Creates a benchmark.
    public init(messages: Int, qos: Int, devices: Int) {
        self.messages = messages
        self.qos = qos
        self.devices = devices
    }

    /// The two standard workloads: a JSON profile (Yunfei pest lamp data) and a binary one (Milesight EM500-CO2 TLV).
    public func standardWorkloads() -> [Workload] {
        let devices = self.devices
        return [
            Workload(name: "json (yunfei-pest data, 3 samples)", filter: "/yfkj/scd/pub/+") { i in
                let d = 865_650_043_000_000 + (i % devices)
                let text = "{\"cmd\":\"data\",\"ext\":{\"ct\":\"\(i % 50)\",\"stamp\":\"20260101\(String(format: "%02d%02d%02d", (i / 3600) % 24, (i / 60) % 60, i % 60))\",\"at\":\(20 + i % 10).\(i % 10),\"ah\":\(40 + i % 30)}}"
                return ("/yfkj/scd/pub/\(d)", Array(text.utf8))
            },
            Workload(name: "binary (milesight-em500-co2 TLV, 5 samples)", filter: "lora/milesight/em500-co2/+/up") { i in
                let d = String(format: "24e1240000%06x", i % devices)
                let co2 = UInt16(400 + i % 800)
                let t = Int16(200 + i % 100)
                let p = UInt16(10_000 + i % 200)
                let payload: [UInt8] = [0x01, 0x75, UInt8(50 + i % 50), 0x03, 0x67, UInt8(t & 0xFF), UInt8(t >> 8), 0x04, 0x68, UInt8(80 + i % 60),
                                        0x05, 0x7D, UInt8(co2 & 0xFF), UInt8(co2 >> 8), 0x06, 0x73, UInt8(p & 0xFF), UInt8(p >> 8)]
                return ("lora/milesight/em500-co2/\(d)/up", payload)
            },
        ]
    }

    /// Runs one workload against a fresh broker.
    public func run(_ workload: Workload, profiles: ProfileSet, logger: Logger) async throws -> Result {
        guard let subPath = StoreBenchSupport.which("mosquitto_sub") else { throw GatewayError.tool("mosquitto_sub is not installed (apt-get install mosquitto-clients)") }
        let broker = try LocalBroker(extraConfig: ["sys_interval 1", "max_inflight_messages 0"])
        defer { broker.stop() }
        let q: MQTTQoS = qos == 0 ? .atMostOnce : .atLeastOnce

        // Watch $SYS for the subscription count, so timing starts only once both receivers are subscribed.
        let subscriptionCount = Atomic<Int>(0)
        let watcher = try MosquittoClient(
            configuration: .init(port: broker.port, clientID: "bench-watch", cleanSession: true),
            subscriptions: [.init(filter: "$SYS/broker/subscriptions/count", qos: .atMostOnce)]
        ) { m in subscriptionCount.store(Int(String(decoding: m.payload, as: UTF8.self)) ?? 0, ordering: .relaxed) }
        try watcher.start()
        defer { watcher.stop() }

        // The reference: mosquitto_sub exits after N messages.
        let sub = Process()
        sub.executableURL = URL(fileURLWithPath: subPath)
        sub.arguments = ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", workload.filter, "-q", "\(qos)", "-C", "\(messages)", "-i", "bench-ref"]
        sub.standardOutput = FileHandle.nullDevice
        sub.standardError = FileHandle.nullDevice
        let referenceDone = Atomic<UInt64>(0)
        sub.terminationHandler = { _ in referenceDone.store(MonotonicClock.nowNs(), ordering: .relaxed) }
        try sub.run()

        // The gateway's MQTT source with the real profile decoder and a counting sink.
        let sink = CountingSink(target: messages)
        let ingest = try MQTTIngestService(
            configuration: .init(client: .init(port: broker.port, clientID: "bench-gateway", cleanSession: true),
                                 subscriptions: [.init(filter: workload.filter, qos: q)], queueCapacity: max(messages, 1024), maxBatchSize: 1024),
            decoder: profiles, sink: sink, logger: logger)
        let ingestTask = Task { try await ingest.run() }
        defer { ingestTask.cancel() }

        let deadline = Date().addingTimeInterval(15)
        while subscriptionCount.load(ordering: .relaxed) < 3 {
            guard Date() < deadline else { throw GatewayError.tool("subscribers did not subscribe within 15 s") }
            try await Task.sleep(for: .milliseconds(50))
        }

        // Build the messages before timing, so the publisher measures publishing, not string formatting.
        let prepared = (0..<messages).map { workload.message($0) }
        let publisher = try MosquittoClient(configuration: .init(port: broker.port, clientID: "bench-pub", cleanSession: true, maxInflightMessages: 0)) { _ in }
        try publisher.start()
        defer { publisher.stop(flushTimeout: .seconds(30)) }
        while !publisher.isConnected {
            guard Date() < deadline else { throw GatewayError.tool("publisher did not connect") }
            try await Task.sleep(for: .milliseconds(10))
        }
        let start = MonotonicClock.nowNs()
        try await Self.publishAll(prepared, with: publisher, qos: q)
        let published = MonotonicClock.nowNs()

        // Wait for both receivers (bounded).
        let limit = Date().addingTimeInterval(max(60, Double(messages) / 5_000))
        while (sink.doneNs == 0 || referenceDone.load(ordering: .relaxed) == 0) && Date() < limit {
            try await Task.sleep(for: .milliseconds(5))
        }
        let now = MonotonicClock.nowNs()
        if sub.isRunning { sub.terminate() }
        let gatewayEnd = sink.doneNs != 0 ? sink.doneNs : sink.lastNs
        let refEnd = referenceDone.load(ordering: .relaxed)
        let stats = ingest.stats
        return Result(
            name: workload.name, messages: messages, payloadBytes: prepared.first?.payload.count ?? 0,
            gatewayMessages: sink.messages, gatewaySamples: sink.samples, gatewayDeadLetters: sink.deadLetters, gatewayDropped: stats.dropped,
            gatewaySeconds: Double((gatewayEnd == 0 ? now : gatewayEnd) - start) / 1e9,
            referenceMessages: refEnd != 0 ? messages : 0, referenceSeconds: Double((refEnd == 0 ? now : refEnd) - start) / 1e9,
            publishSeconds: Double(published - start) / 1e9)
    }

    /// Backlog drain: both receivers hold persistent sessions; N messages are published while both are away;
    /// then each drains its backlog alone (mosquitto_sub first, then the gateway), timed from its connect to its
    /// last message. This measures what each receiver can take when the publisher is not the limit. Always QoS 1:
    /// what a broker queues for an absent persistent session is QoS 1 (QoS 0 queueing is optional and lossy).
    public func drain(_ workload: Workload, profiles: ProfileSet, logger: Logger) async throws -> Result {
        let qos = 1
        guard let subPath = StoreBenchSupport.which("mosquitto_sub") else { throw GatewayError.tool("mosquitto_sub is not installed (apt-get install mosquitto-clients)") }
        let broker = try LocalBroker(extraConfig: ["max_queued_bytes 0"])
        defer { broker.stop() }
        let q = MQTTQoS.atLeastOnce
        let deadline = Date().addingTimeInterval(15)

        // Register both persistent sessions, then leave.
        let register = Process()
        register.executableURL = URL(fileURLWithPath: subPath)
        register.arguments = ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", workload.filter, "-q", "\(qos)", "-c", "-i", "bench-ref", "-E"]
        try register.run()
        register.waitUntilExit()
        let client = MQTTClientConfiguration(port: broker.port, clientID: "bench-gateway", cleanSession: false, sessionExpirySeconds: 3600, receiveMaximum: 1000)
        let ingestConfig = MQTTIngestConfiguration(client: client, subscriptions: [.init(filter: workload.filter, qos: q)],
                                                   queueCapacity: max(messages, 1024), maxBatchSize: 1024)
        do {
            let first = try MQTTIngestService(configuration: ingestConfig, decoder: profiles, sink: CountingSink(target: .max), logger: logger)
            let task = Task { try await first.run() }
            while !first.stats.connected {
                guard Date() < deadline else { throw GatewayError.tool("gateway did not connect") }
                try await Task.sleep(for: .milliseconds(10))
            }
            try await Task.sleep(for: .milliseconds(300))
            task.cancel()
            _ = try? await task.value
        }

        // The backlog.
        let prepared = (0..<messages).map { workload.message($0) }
        let publisher = try MosquittoClient(configuration: .init(port: broker.port, clientID: "bench-pub", cleanSession: true, maxInflightMessages: 0)) { _ in }
        try publisher.start()
        while !publisher.isConnected {
            guard Date() < deadline else { throw GatewayError.tool("publisher did not connect") }
            try await Task.sleep(for: .milliseconds(10))
        }
        let publishStart = MonotonicClock.nowNs()
        try await Self.publishAll(prepared, with: publisher, qos: .atLeastOnce)
        publisher.stop(flushTimeout: .seconds(120))
        let publishEnd = MonotonicClock.nowNs()

        // mosquitto_sub drains alone.
        let sub = Process()
        sub.executableURL = URL(fileURLWithPath: subPath)
        sub.arguments = ["-h", "127.0.0.1", "-p", "\(broker.port)", "-t", workload.filter, "-q", "\(qos)", "-c", "-i", "bench-ref", "-C", "\(messages)"]
        sub.standardOutput = FileHandle.nullDevice
        let refStart = MonotonicClock.nowNs()
        try sub.run()
        sub.waitUntilExit()
        let refEnd = MonotonicClock.nowNs()

        // The gateway drains alone.
        let sink = CountingSink(target: messages)
        let ingest = try MQTTIngestService(configuration: ingestConfig, decoder: profiles, sink: sink, logger: logger)
        let gwStart = MonotonicClock.nowNs()
        let task = Task { try await ingest.run() }
        let limit = Date().addingTimeInterval(max(60, Double(messages) / 5_000))
        while sink.doneNs == 0 && Date() < limit { try await Task.sleep(for: .milliseconds(2)) }
        task.cancel()
        _ = try? await task.value
        let gwEnd = sink.doneNs != 0 ? sink.doneNs : MonotonicClock.nowNs()
        return Result(
            name: workload.name, messages: messages, payloadBytes: prepared.first?.payload.count ?? 0,
            gatewayMessages: sink.messages, gatewaySamples: sink.samples, gatewayDeadLetters: sink.deadLetters, gatewayDropped: ingest.stats.dropped,
            gatewaySeconds: Double(gwEnd - gwStart) / 1e9, referenceMessages: sub.terminationStatus == 0 ? messages : 0,
            referenceSeconds: Double(refEnd - refStart) / 1e9, publishSeconds: Double(publishEnd - publishStart) / 1e9)
    }

    /// Hands every message to libmosquitto, retrying briefly when it refuses (reconnecting).
    static func publishAll(_ messages: [(topic: String, payload: [UInt8])], with publisher: MosquittoClient, qos: MQTTQoS) async throws {
        for (topic, payload) in messages {
            while true {
                do {
                    try publisher.publish(topic: topic, payload: payload, qos: qos)
                    break
                } catch {
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
        }
    }
}

/// Counts what the pipeline would receive, and notes when the target message count was reached.
final class CountingSink: SampleSink, Sendable {
    let target: Int
    private let state = Mutex<(messages: Int, samples: Int, deadLetters: Int, doneNs: UInt64, lastNs: UInt64)>((0, 0, 0, 0, 0))

    init(target: Int) { self.target = target }

    var messages: Int { state.withLock { $0.messages } }
    var samples: Int { state.withLock { $0.samples } }
    var deadLetters: Int { state.withLock { $0.deadLetters } }
    var doneNs: UInt64 { state.withLock { $0.doneNs } }
    var lastNs: UInt64 { state.withLock { $0.lastNs } }

    func accept(_ batch: SampleBatch) async throws {
        let now = MonotonicClock.nowNs()
        state.withLock { s in
            s.messages += batch.messageCount
            s.samples += batch.samples.count
            s.deadLetters += batch.deadLetters.count
            s.lastNs = now
            if s.doneNs == 0, s.messages >= target { s.doneNs = now }
        }
    }
}
