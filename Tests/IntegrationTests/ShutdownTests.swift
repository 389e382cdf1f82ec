import Foundation
import GatewayTesting
import Testing

/// paho-mqtt is importable (the outside MQTT client of the load scripts).
let pahoAvailable: Bool = {
    guard let python = ProcessRunner.which("python3") else { return false }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = ["-c", "import paho.mqtt.client"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}()

/// SIGTERM to the real `citygate run` under load: clean exit, and nothing acknowledged is lost.
@Suite("Graceful SIGTERM of citygate run", .serialized,
       .enabled(if: citygateExecutable != nil && Broker.executable != nil && pahoAvailable, "needs .build/debug/citygate, mosquitto and paho-mqtt"))
struct ShutdownTests {
    /// Devices with a stored `metric`, read with `citygate export` (beside a running gateway or after it).
    func storedDevices(config: String, metric: String) async throws -> Set<String> {
        let out = try await ProcessRunner.check(citygateExecutable!, ["export", "-c", config, "--metric", metric, "--from=-1h", "--format", "csv"],
                                                timeout: .seconds(120))
        return Set(out.stdoutText.split(separator: "\n").dropFirst().compactMap { $0.split(separator: ",").first.map(String.init) })
    }

    @Test func sigtermUnderLoadExitsCleanlyAndLosesNothingAcknowledged() async throws {
        let broker = try await Broker(options: .init(persistence: true, maxQueuedMessages: 100_000))
        defer { broker.stop() }
        let dir = try TemporaryDirectory()
        let profiles = try profilesDirectory(dir, match: #"ctwing: "15014772/{platformDeviceId}""#)
        try FileManager.default.copyItem(atPath: Repo.profiles + "/dragino/ndds75.yaml", toPath: profiles + "/ndds75.yaml")
        try FileManager.default.createDirectory(atPath: dir.file("rules"), withIntermediateDirectories: true)
        // One alert, acknowledged through the API before the SIGTERM, must still be acknowledged after it.
        try """
            rules:
              - { id: water-far, summary: Water far below the sensor, select: { device: "419990000001", metric: distance }, above: 65 }   # metres (canonical unit)
            """.write(toFile: dir.file("rules/shutdown.yaml"), atomically: true, encoding: .utf8)
        let coapPort = try FreePort.next()
        let httpPort = try FreePort.next()
        let config = dir.file("gateway.yaml")
        try """
            data_dir: \(dir.file("data"))
            profiles_dir: \(profiles)
            log_level: info
            mqtt: { port: \(broker.port), client_id: shutdown-test, reconnect: { initial: 0s, max: 1s } }
            alerts: { rules_dir: \(dir.file("rules")), mqtt: { enabled: false } }
            coap: { enabled: true, port: \(coapPort), per_device_rate: 0 }
            http: { enabled: true, port: \(httpPort) }
            """.write(toFile: config, atomically: true, encoding: .utf8)

        var lives = 0
        func start() async throws -> GatewayLife {
            lives += 1
            let life = try GatewayLife.spawn(config: config, log: dir.file("gateway-\(lives).log"))
            // Failure bounds, not timing assertions: the whole suite loads both cores.
            try await life.waitReady(markers: ["MQTT broker connected", "CoAP ingest started"], ports: [httpPort])
            return life
        }

        var gateway = try await start()
        let token = try await ProcessRunner.check(citygateExecutable!, ["token", "add", "operator-sun", "--role", "operator", "-c", config])
            .stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        let api = APIClient(port: httpPort, token: token)
        try await mosquittoPub(broker, topic: "city/lixia/dragino/ndds75/419990000001/up", message: "419990000001" + "00640cd107" + "fe00" + "00")
        var alertID: Int?
        let alertDeadline = ContinuousClock.now.advanced(by: .seconds(60))
        while alertID == nil, ContinuousClock.now < alertDeadline {
            let reply = try await api.get("/v1/alerts?state=firing&rule=water-far")
            alertID = (reply.json["alerts"] as? [[String: Any]])?.first?["id"] as? Int
            if alertID == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        let id = try #require(alertID, "the alert fired")
        #expect(try await api.post("/v1/alerts/\(id)/acknowledge", body: #"{"comment": "crew dispatched"}"#).status == 200)
        let load = try await FaultLoad.start(dir: dir, name: "load", mqttPort: broker.port, coapPort: coapPort, httpPort: httpPort, prefix: 1)
        defer { load.child.send(SIGKILL) }

        // Let traffic flow, then SIGTERM in the middle of it.
        try await Task.sleep(for: .seconds(3))
        let status = await gateway.terminate(timeout: .seconds(10))
        #expect(status == .exited(0), "exits 0 within 10 s of SIGTERM: \(FileContents.text(atPath: gateway.log).suffix(3000))")
        let firstRun = FileContents.text(atPath: gateway.log)
        for phase in ["coap", "http", "mqtt", "alerts", "store", "registry"] {
            #expect(firstRun.contains("shutdown.phase=\(phase)"), "the \(phase) phase is logged with its duration")
        }
        #expect(firstRun.contains("Gateway stopped"))

        // Back up while the load goes on: the broker redelivers what the gateway had not acknowledged.
        gateway = try await start()
        let reopened = try await api.get("/v1/alerts/\(id)")
        #expect(reopened.json["acknowledged"] as? Bool == true && reopened.json["acknowledged_by"] as? String == "operator-sun",
                "the acknowledgement survived the SIGTERM: \(reopened.body)")
        try await Task.sleep(for: .seconds(3))
        let result = try await load.finish()
        let acked = (mqtt: result.mqtt.map(\.device), coap: result.coap.filter { $0.code == 0x44 }.map(\.device),
                     http: result.http.filter { $0.code == 200 }.map(\.device))
        #expect(acked.mqtt.count > 100 && acked.coap.count > 10 && acked.http.count > 10, "the load ran on every transport: \(acked.mqtt.count) \(acked.coap.count) \(acked.http.count)")
        #expect(acked.coap.count < result.coap.count || acked.http.count < result.http.count, "some requests met the stopped gateway")

        // Wait for the backlog queued on the broker to drain into the store (read beside the running gateway).
        let expectedDistance = Set(acked.mqtt + acked.coap)
        let drainDeadline = ContinuousClock.now.advanced(by: .seconds(180))
        while ContinuousClock.now < drainDeadline, !((try? await storedDevices(config: config, metric: "distance")) ?? []).isSuperset(of: expectedDistance) {
            try await Task.sleep(for: .seconds(1))
        }
        #expect(await gateway.terminate(timeout: .seconds(10)) == .exited(0))

        let distance = try await storedDevices(config: config, metric: "distance")
        let rsrp = try await storedDevices(config: config, metric: "rsrp")
        let lostMQTT = Set(acked.mqtt).subtracting(distance)
        let lostCoAP = Set(acked.coap).subtracting(distance)
        let lostPush = Set(acked.http).subtracting(rsrp)
        #expect(lostMQTT.isEmpty, "\(lostMQTT.count) of \(acked.mqtt.count) broker-accepted QoS 1 messages missing: \(lostMQTT.sorted().prefix(5))")
        #expect(lostCoAP.isEmpty, "\(lostCoAP.count) of \(acked.coap.count) ACKed CoAP CONs missing: \(lostCoAP.sorted().prefix(5))")
        #expect(lostPush.isEmpty, "\(lostPush.count) of \(acked.http.count) 200-answered pushes missing: \(lostPush.sorted().prefix(5))")
    }
}
