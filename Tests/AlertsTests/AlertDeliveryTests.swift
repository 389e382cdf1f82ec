@testable import Alerts
import AsyncHTTPClient
import NIOCore
import Foundation
import GatewayCore
import GatewayTesting
import Mosquitto
import ServiceLifecycle
import Testing

@Suite("Alert delivery against real receivers", .serialized)
struct AlertDeliveryTests {
    static let rulesYAML = """
        rules:
          - id: hydrant-pressure-low
            summary: Hydrant pressure low
            select: { metric: pressure }
            below: 0.15
            clear: 0.2
            severity: critical
        """

    static var fixture: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/webhook_receiver.py").path
    }

    /// Runs `body` while an AlertService delivers over `channels`; shuts it down gracefully after.
    func withService(engine: AlertEngine, store: AlertStore, channels: [any AlertChannel], wiring: AlertService.Wiring,
                     _ body: () async throws -> Void) async throws {
        var configuration = AlertService.Configuration()
        configuration.retryInitial = .milliseconds(100)
        configuration.retryMax = .milliseconds(400)
        configuration.tickInterval = .milliseconds(100)
        let service = AlertService(engine: engine, store: store, channels: channels, configuration: configuration, wiring: wiring, logger: quietLogger())
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: quietLogger()))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { Task { await group.triggerGracefulShutdown() } }
            try await body()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    func sample(_ value: Double, device: String = "hydrant-12") -> SampleBatch {
        var batch = SampleBatch()
        batch.samples = [Sample(device: device, metric: "pressure", receiveTimeMs: WallClock.nowMs(), value: value, unit: "MPa")]
        batch.statuses = [DeviceStatus(device: device, profileID: "p", profileVersion: 1, family: "neuron", reportIntervalSeconds: 60, seenMs: WallClock.nowMs())]
        return batch
    }

    /// A broker that refuses the alert topic (its ACL) answers the MQTT 5 PUBLISH with PUBACK 0x87: that is not a
    /// delivery, so the batch stays undelivered and is retried; on a permitted topic the same channel delivers.
    @Test func aPubackWithAnErrorReasonCodeIsNotADelivery() async throws {
        let dir = try TemporaryDirectory(prefix: "alert-acl")
        try "topic readwrite allowed/#\n".write(toFile: dir.file("acl"), atomically: true, encoding: .utf8)
        let broker = try await Broker(options: .init(extraConfiguration: ["acl_file \(dir.file("acl"))"]))
        defer { broker.stop() }
        let log = EventLog()
        let engine = try AlertEngine(rules: try rules(Self.rulesYAML), store: try AlertStore(path: dir.file("alerts.db")), logger: quietLogger(), onEvents: log.onEvents)
        engine.process(sample(0.1))
        let events = log.all
        try #require(events.count == 1, "one fired event to deliver")

        for (prefix, permitted) in [("citygate/alerts", false), ("allowed/alerts", true)] {
            var config = MQTTClientConfiguration(host: broker.host, port: broker.port, clientID: "alerts-\(permitted)", protocolVersion: .v5)
            config.reconnect = MQTTReconnectPolicy(initialDelay: .milliseconds(50), maxDelay: .milliseconds(200), jitterFraction: 0.2)
            let channel = try MQTTAlertChannel(configuration: config, gateway: "jinan-01", topicPrefix: prefix, ackTimeout: .seconds(10))
            try await channel.start()
            #expect(await waitUntil { channel.client.isConnected })
            do {
                try await channel.deliver(events)
                #expect(permitted, "a refused PUBLISH counted as delivered")
            } catch let error as AlertDeliveryError {
                #expect(!permitted, "\(error)")
                #expect(error.description.contains("0x87"), "\(error)")
            }
            await channel.shutdown()
        }
    }

    @Test func aRealMosquittoSubscriberReceivesTheAlert() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let dir = try TemporaryDirectory()
        let out = dir.file("sub.out")
        let sub = try ChildProcess.spawn(executable: "mosquitto_sub", arguments: [
            "-h", "127.0.0.1", "-p", "\(broker.port)", "-q", "1", "-t", "citygate/alerts/#", "-v", "-C", "2", "-i", "control-room",
        ], stdoutPath: out)
        // mosquitto_sub has subscribed once the broker logs it.
        #expect(await waitUntil { broker.log.contains("control-room") })
        try await Task.sleep(for: .milliseconds(200))

        let store = try AlertStore(path: dir.file("alerts.db"))
        let wiring = AlertService.wiring(channelNames: ["mqtt"], feed: nil)
        let engine = try AlertEngine(rules: try rules(Self.rulesYAML), store: store, logger: quietLogger(), onEvents: wiring.onEvents)
        var mqttConfig = MQTTClientConfiguration(host: broker.host, port: broker.port, clientID: "citygate-alerts-test")
        mqttConfig.reconnect = MQTTReconnectPolicy(initialDelay: .milliseconds(50), maxDelay: .milliseconds(200), jitterFraction: 0.2)
        let channel = try MQTTAlertChannel(configuration: mqttConfig, gateway: "jinan-01")
        try await withService(engine: engine, store: store, channels: [channel], wiring: wiring) {
            engine.process(sample(0.1))
            engine.process(sample(0.3))
            let status = await sub.wait(timeout: .seconds(10))
            #expect(status == .exited(0), "mosquitto_sub got both messages")
        }
        let lines = FileContents.text(atPath: out).split(separator: "\n").map(String.init)
        try #require(lines.count == 2)
        #expect(lines[0].hasPrefix("citygate/alerts/jinan-01/critical/hydrant-pressure-low/hydrant-12 {"))
        let body = try #require(lines[0].split(separator: " ", maxSplits: 1).last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect(json["event"] as? String == "fired")
        #expect(json["gateway"] as? String == "jinan-01")
        let alert = try #require(json["alert"] as? [String: Any])
        #expect(alert["device"] as? String == "hydrant-12")
        #expect(alert["value"] as? Double == 0.1)
        #expect(lines[1].contains("\"event\":\"resolved\""))
        #expect(try store.cursor(channel: "mqtt") == 2)
    }

    @Test func webhookIsSignedAndRetriedUntilTheReceiverAccepts() async throws {
        let dir = try TemporaryDirectory()
        let port = try FreePort.next()
        let log = dir.file("webhook.log")
        let receiver = try ChildProcess.spawn(executable: "python3", arguments: [Self.fixture, "\(port)", "s3cret", "2", log], stdoutPath: dir.file("py.out"))
        defer { receiver.send(SIGKILL); _ = receiver.wait() }
        #expect(await waitUntil { FreePort.isAccepting(port: port) })

        let store = try AlertStore(path: dir.file("alerts.db"))
        let wiring = AlertService.wiring(channelNames: ["control-room"], feed: nil)
        let engine = try AlertEngine(rules: try rules(Self.rulesYAML), store: store, logger: quietLogger(), onEvents: wiring.onEvents)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let channel = WebhookAlertChannel(name: "control-room", url: "http://127.0.0.1:\(port)/alerts", secret: "s3cret", gateway: "jinan-01", client: http)
        try await withService(engine: engine, store: store, channels: [channel], wiring: wiring) {
            engine.process(sample(0.1, device: "h1"))
            engine.process(sample(0.1, device: "h2"))
            engine.process(sample(0.5, device: "h1"))
            #expect(await waitUntil(timeout: .seconds(20)) {
                FileContents.text(atPath: log).split(separator: "\n").filter { $0.contains("\"status\": 200") }.count == 3
            })
        }
        try await http.shutdown()
        let entries = try FileContents.text(atPath: log).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(entries.allSatisfy { $0["valid"] as? Bool == true }, "the receiver verified every signature")
        #expect(entries.prefix(2).allSatisfy { $0["status"] as? Int == 500 })
        let accepted = entries.filter { $0["status"] as? Int == 200 }
        #expect(accepted.map { $0["seq"] as? Int } == [1, 2, 3], "in order, each once")
        #expect(accepted.map { $0["event"] as? String } == ["fired", "fired", "resolved"])
        #expect(entries.count >= 5, "two refusals were retried")
    }

    @Test func eventsWaitingForADeadReceiverAreDeliveredAfterARestart() async throws {
        let dir = try TemporaryDirectory()
        let port = try FreePort.next()
        let log = dir.file("webhook.log")
        let path = dir.file("alerts.db")
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            // The receiver is down: nothing can be delivered before the "gateway" stops.
            let store = try AlertStore(path: path)
            let wiring = AlertService.wiring(channelNames: ["control-room"], feed: nil)
            let engine = try AlertEngine(rules: try rules(Self.rulesYAML), store: store, logger: quietLogger(), onEvents: wiring.onEvents)
            let channel = WebhookAlertChannel(name: "control-room", url: "http://127.0.0.1:\(port)/alerts", secret: "k", gateway: "g", client: http,
                                              timeout: .milliseconds(500))
            try await withService(engine: engine, store: store, channels: [channel], wiring: wiring) {
                engine.process(sample(0.1, device: "a"))
                engine.process(sample(0.1, device: "b"))
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(try store.cursor(channel: "control-room") == 0)
        }
        let receiver = try ChildProcess.spawn(executable: "python3", arguments: [Self.fixture, "\(port)", "k", "0", log], stdoutPath: dir.file("py.out"))
        defer { receiver.send(SIGKILL); _ = receiver.wait() }
        #expect(await waitUntil { FreePort.isAccepting(port: port) })
        let store = try AlertStore(path: path)
        let wiring = AlertService.wiring(channelNames: ["control-room"], feed: nil)
        let engine = try AlertEngine(rules: try rules(Self.rulesYAML), store: store, logger: quietLogger(), onEvents: wiring.onEvents)
        let channel = WebhookAlertChannel(name: "control-room", url: "http://127.0.0.1:\(port)/alerts", secret: "k", gateway: "g", client: http)
        try await withService(engine: engine, store: store, channels: [channel], wiring: wiring) {
            #expect(await waitUntil(timeout: .seconds(10)) { FileContents.text(atPath: log).split(separator: "\n").count == 2 })
        }
        try await http.shutdown()
        #expect(try store.cursor(channel: "control-room") == 2)
        #expect(FileContents.text(atPath: log).contains("\"seq\": 1") && FileContents.text(atPath: log).contains("\"seq\": 2"))
    }

    @Test func liveFeedSubscribersResumeFromTheirLastEvent() async throws {
        let feed = AlertFeed(history: 4)
        let store = try AlertStore(path: ":memory:")
        let wiring = AlertService.wiring(channelNames: [], feed: feed)
        let engine = try AlertEngine(rules: try rules(Self.rulesYAML), store: store, logger: quietLogger(), onEvents: wiring.onEvents)
        engine.process(sample(0.1, device: "a"))
        engine.process(sample(0.1, device: "b"))
        let stream = feed.subscribe(afterSeq: 1)
        engine.process(sample(0.5, device: "a"))
        feed.finish()
        var seqs: [Int64] = []
        for await e in stream { seqs.append(e.seq) }
        #expect(seqs == [2, 3])
        let text = AlertFeed.serverSentEvent(try #require(try store.events(after: 0).first), gateway: "g")
        #expect(text.hasPrefix("id: 1\nevent: fired\ndata: {"))
        #expect(text.hasSuffix("}\n\n"))
    }
}
