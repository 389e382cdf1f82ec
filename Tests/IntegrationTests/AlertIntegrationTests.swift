import Alerts
import DeviceProfiles
import Foundation
import Gateway
import GatewayCore
import GatewayTesting
import Testing

@Suite("Alerts through the whole gateway", .serialized)
struct AlertIntegrationTests {
    /// An EM500-PP uplink: battery 90 %, pressure in kPa.
    func pressure(_ kPa: Int) -> String {
        HexCodec.encode([0x01, 0x75, 90, 0x03, 0x7B, UInt8(kPa & 0xFF), UInt8(kPa >> 8)])
    }

    @Test func aHydrantPressureDropReachesAControlRoomSubscriberAndSurvivesARestart() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let dir = try TemporaryDirectory()
        let out = dir.file("alerts.out")
        let sub = try ChildProcess.spawn(executable: "mosquitto_sub", arguments: [
            "-h", "127.0.0.1", "-p", "\(broker.port)", "-q", "1", "-t", "citygate/alerts/#", "-v", "-C", "2", "-i", "control-room",
        ], stdoutPath: out)
        #expect(await waitUntil { broker.log.contains("control-room") })

        let topic = "lora/milesight/em500-pp/24e124148b24ce7c/up"
        let raw = dir.file("low.bin")
        FileManager.default.createFile(atPath: raw, contents: Data(HexCodec.decode(pressure(42))!))
        var gateway: RunningGateway? = try await RunningGateway(broker: broker, dataDirectory: dir.path, clientID: "gw-alerts")
        try await mosquittoPub(broker, topic: topic, file: raw)
        #expect(await waitUntil(timeout: .seconds(10)) { gateway?.runtime.alerts?.openAlerts.count == 1 })
        let alert = try #require(gateway?.runtime.alerts?.openAlerts.first)
        #expect(alert.rule == "hydrant-pressure-low" && alert.device == "24e124148b24ce7c" && alert.value == 42_000)
        try gateway?.runtime.alerts?.acknowledge(id: alert.id, by: "operator-zhang")
        await gateway?.stop()
        gateway = nil

        // After a restart the alert is still open and acknowledged; normal pressure resolves it.
        gateway = try await RunningGateway(broker: broker, dataDirectory: dir.path, clientID: "gw-alerts")
        let reopened = try #require(gateway?.runtime.alerts?.openAlerts.first)
        #expect(reopened.id == alert.id && reopened.acknowledged && reopened.acknowledgedBy == "operator-zhang")
        FileManager.default.createFile(atPath: raw, contents: Data(HexCodec.decode(pressure(300))!))
        try await mosquittoPub(broker, topic: topic, file: raw)
        #expect(await waitUntil(timeout: .seconds(10)) { gateway?.runtime.alerts?.openAlerts.isEmpty == true })
        #expect(await sub.wait(timeout: .seconds(10)) != nil, "mosquitto_sub saw fired and resolved")
        await gateway?.stop()

        let lines = FileContents.text(atPath: out).split(separator: "\n")
        #expect(lines.count >= 2)
        #expect(lines.first?.hasPrefix("citygate/alerts/test-gw/major/hydrant-pressure-low/24e124148b24ce7c {") == true)
        #expect(lines.first?.contains("\"event\":\"fired\"") == true)
        // The acknowledgement, delivered before the restart, and the resolution after it: nothing lost, in order.
        let events = try AlertStore(path: dir.file("alerts.db")).events(after: 0)
        #expect(events.map(\.kind) == [.fired, .acknowledged, .resolved])
        #expect(try AlertStore(path: dir.file("alerts.db")).cursor(channel: "mqtt") == events.last?.seq)
    }

    @Test func theLiveFeedStreamsAlertsAsServerSentEvents() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let dir = try TemporaryDirectory()
        let port = try FreePort.next()
        let gateway = try await RunningGateway(broker: broker, dataDirectory: dir.path, clientID: "gw-feed") { config in
            config.http.enabled = true
            config.http.port = port
        }
        #expect(await waitUntil(timeout: .seconds(60)) { FreePort.isAccepting(port: port) })
        let out = dir.file("sse.out")
        let token = try gateway.runtime.apiTokens.create(name: "wall-screen", role: .viewer)
        let curl = try ChildProcess.spawn(
            executable: "curl", arguments: ["-sN", "-H", "Authorization: Bearer \(token)", "http://127.0.0.1:\(port)/v1/alerts/stream"], stdoutPath: out)
        defer { curl.send(SIGKILL); _ = curl.wait() }
        #expect(await waitUntil { FileContents.text(atPath: out).contains(": citygate alert feed") })
        let raw = dir.file("low.bin")
        FileManager.default.createFile(atPath: raw, contents: Data(HexCodec.decode(pressure(50))!))
        try await mosquittoPub(broker, topic: "lora/milesight/em500-pp/24e124148b24aaaa/up", file: raw)
        #expect(await waitUntil(timeout: .seconds(10)) { FileContents.text(atPath: out).contains("event: fired") })
        let text = FileContents.text(atPath: out)
        #expect(text.contains("id: 1\nevent: fired\ndata: {"))
        #expect(text.contains("\"device\":\"24e124148b24aaaa\""))
        await gateway.stop()
        #expect(await curl.wait(timeout: .seconds(10)) != nil, "shutdown ends the stream")
    }
}
