import CoreMetrics
import GatewayCore
import GatewayTesting
import Logging
import MQTTIngest
import Mosquitto
import ServiceLifecycle
import Synchronization
import Testing

/// One sample per message: device = topic, value = the payload read as a decimal number; anything else becomes
/// a dead letter. Records every message it saw.
struct FakeDecoder: MessageDecoder {
    let seen = Collector<RawMessage>()

    func decode(_ message: RawMessage, into batch: inout SampleBatch) {
        seen.append(message)
        guard let value = Double(String(decoding: message.payload, as: UTF8.self)) else {
            batch.deadLetters.append(DeadLetter(message: message, reason: .malformed, error: "not a number"))
            return
        }
        batch.samples.append(Sample(device: message.topic, metric: "value", receiveTimeMs: message.receiveTimeMs, value: value))
    }
}

/// A gate that tasks wait on until it is opened (then stays open).
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    init(open: Bool = false) {
        state.withLock { $0.open = open }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { s in
            s.open = true
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        waiters.forEach { $0.resume() }
    }
}

/// Collects batches; each `accept` first waits for `gate` (open by default), which lets a test stall the pipeline.
struct CollectingSink: SampleSink {
    let batches = Collector<SampleBatch>()
    let gate: Gate
    /// Calls to `accept` that have started (including ones waiting at the gate).
    let entered = Collector<Int>()

    init(gate: Gate = Gate(open: true)) {
        self.gate = gate
    }

    func accept(_ batch: SampleBatch) async throws {
        entered.append(batch.messageCount)
        await gate.wait()
        batches.append(batch)
    }

    var samples: [Sample] { batches.items.flatMap(\.samples) }
    var messageCount: Int { batches.items.reduce(0) { $0 + $1.messageCount } }
}

/// Keeps every log record, for asserting that loss is reported.
struct RecordingLogHandler: LogHandler {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    let records: Collector<Record>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.append(Record(level: event.level, message: event.message.description, metadata: event.metadata ?? [:]))
    }

    static func logger(_ records: Collector<Record>) -> Logger {
        Logger(label: "test") { _ in RecordingLogHandler(records: records) }
    }
}

/// A metrics factory that sums counters per label and dimensions.
final class CountingMetricsFactory: MetricsFactory {
    final class Count: CounterHandler {
        let value = Atomic<Int64>(0)
        func increment(by amount: Int64) { value.add(amount, ordering: .relaxed) }
        func reset() { value.store(0, ordering: .relaxed) }
    }

    private let counters = Mutex<[String: Count]>([:])

    private static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        ([label] + dimensions.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }).joined(separator: ",")
    }

    func counter(_ label: String, _ dimensions: [(String, String)] = []) -> Int64? {
        counters.withLock { $0[Self.key(label, dimensions)] }?.value.load(ordering: .relaxed)
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        counters.withLock { counters in
            let key = Self.key(label, dimensions)
            if let existing = counters[key] { return existing }
            let count = Count()
            counters[key] = count
            return count
        }
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        NOOPMetricsHandler.instance
    }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler { NOOPMetricsHandler.instance }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        NOOPMetricsHandler.instance
    }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { NOOPMetricsHandler.instance }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

/// Runs `service` in a `ServiceGroup`, calls `body`, then triggers graceful shutdown and waits for the group.
func withRunningService(
    _ service: MQTTIngestService, logger: Logger, _ body: (ServiceGroup) async throws -> Void
) async throws {
    let group = ServiceGroup(configuration: .init(services: [service], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        try await body(group)
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

/// An ingest configuration against `broker` with a fast reconnect policy.
func ingestConfiguration(
    _ broker: Broker, id: String, filter: String = "city/#", queueCapacity: Int = 1_000, maxBatchSize: Int = 64
) -> MQTTIngestConfiguration {
    MQTTIngestConfiguration(
        client: MQTTClientConfiguration(
            host: broker.host, port: broker.port, clientID: id,
            reconnect: MQTTReconnectPolicy(initialDelay: .milliseconds(50), maxDelay: .milliseconds(500))
        ),
        subscriptions: [MQTTSubscription(filter: filter, qos: .atLeastOnce)],
        queueCapacity: queueCapacity,
        maxBatchSize: maxBatchSize
    )
}

/// Publishes `count` QoS 1 messages with payload `"<i>"` to `<topic>/<i>`, and waits for every PUBACK.
func publishNumbers(_ broker: Broker, topic: String, count: Int, id: String) async throws {
    let publisher = try MosquittoClient(
        configuration: MQTTClientConfiguration(host: broker.host, port: broker.port, clientID: id)
    ) { _ in }
    try publisher.start()
    #expect(await waitUntil { publisher.isConnected })
    for i in 0..<count {
        try publisher.publish(topic: "\(topic)/\(i)", payload: Array(String(i).utf8), qos: .atLeastOnce)
    }
    publisher.stop(flushTimeout: .seconds(10))
    #expect(publisher.statistics.messagesPublished == count)
}
