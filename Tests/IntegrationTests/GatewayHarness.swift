import Catalog
import DeviceProfiles
import Foundation
import Gateway
import GatewayCore
import GatewayTesting
import Logging
import MQTTIngest
import ServiceLifecycle

/// The repository root, found from this file.
enum Repo {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static var profiles: String { root + "/device-profiles" }
}

/// Collects every batch a gateway's pipeline forwards downstream.
final class SampleCollector: SampleSink, Sendable {
    let samples = Collector<Sample>()
    func accept(_ batch: SampleBatch) async throws { samples.append(contentsOf: batch.samples) }
    func values(device: String, metric: String) -> [Double] { samples.items.filter { $0.device == device && $0.metric == metric }.map(\.value) }
}

/// A whole gateway (profiles, catalog, pipeline, MQTT ingest) running in-process against a test broker.
final class RunningGateway: Sendable {
    let runtime: GatewayRuntime
    let collector: SampleCollector
    let group: ServiceGroup
    let task: Task<Void, any Error>

    init(broker: Broker, dataDirectory: String, clientID: String, profiles: String = Repo.profiles,
         configure: (inout GatewayConfiguration) -> Void = { _ in }) async throws {
        var config = GatewayConfiguration()
        config.dataDirectory = dataDirectory
        config.profilesDirectory = profiles
        config.alerts.rulesDirectory = Repo.root + "/configs/rules"
        config.alerts.gatewayID = "test-gw"
        config.mqtt.port = broker.port
        config.mqtt.clientID = clientID
        config.mqtt.reconnectInitialSeconds = 0.1
        config.mqtt.reconnectMaxSeconds = 1
        config.registry.flushIntervalSeconds = 0.2
        configure(&config)
        var logger = Logger(label: "test.gateway")
        logger.logLevel = .warning
        collector = SampleCollector()
        runtime = try GatewayRuntime(configuration: config, downstream: [collector], logger: logger)
        let group = runtime.serviceGroup(signals: false)
        self.group = group
        task = Task { try await group.run() }
        let mqtt = runtime.mqtt!
        // Generous: at the start of the full suite both cores (and the two-thread cooperative pool) are saturated
        // for up to ~100 s by tests running in parallel; the wait ends as soon as the gateway is connected.
        guard await waitUntil(timeout: .seconds(180), { mqtt.stats.connected }) else { throw GatewayTestingError.timedOut(command: "gateway connect") }
        // Subscriptions are sent right after CONNACK; give the SUBACK a moment.
        try await Task.sleep(for: .milliseconds(200))
    }

    /// Graceful shutdown: ingest drains, the registry flushes.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

/// Publishes with the real mosquitto_pub client.
func mosquittoPub(_ broker: Broker, topic: String, message: String? = nil, file: String? = nil, qos: Int = 1) async throws {
    var args = ["-h", broker.host, "-p", "\(broker.port)", "-t", topic, "-q", "\(qos)"]
    if let m = message { args += ["-m", m] }
    if let f = file { args += ["-f", f] }
    try await ProcessRunner.check("mosquitto_pub", args)
}

/// Publishes a list of (topic, hex payload) with Python paho-mqtt, MQTT 5, QoS 1, waiting for every PUBACK.
func pahoPublish(_ broker: Broker, _ messages: [(topic: String, payload: [UInt8])]) async throws {
    let lines = messages.map { "\($0.topic)\t\(HexCodec.encode($0.payload))" }.joined(separator: "\n")
    let script = """
        import sys, paho.mqtt.client as mqtt
        try:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-test", protocol=mqtt.MQTTv5)
        except AttributeError:
            c = mqtt.Client(client_id="paho-test", protocol=mqtt.MQTTv5)
        c.connect("127.0.0.1", \(broker.port))
        c.loop_start()
        for line in sys.stdin.read().splitlines():
            topic, payload = line.split("\\t")
            c.publish(topic, bytes.fromhex(payload), qos=1).wait_for_publish(10)
        c.loop_stop()
        c.disconnect()
        """
    try await ProcessRunner.check("python3", ["-c", script], stdin: Array(lines.utf8))
}
