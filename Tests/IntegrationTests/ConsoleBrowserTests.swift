import Alerts
import Foundation
import Gateway
import GatewayCore
import GatewayTesting
import Testing

/// The control-room console in real headless Chromium (Debian `chromium` + `chromium-driver`, driven by Python
/// selenium: Fixtures/console_browser.py) against a whole in-process gateway, a real mosquitto and mosquitto_pub.
///
/// The operator signs in, the alert arrives over the live feed while the page is open, the operator acknowledges
/// it in the page, and the API then reports it acknowledged by that user; a viewer sees no buttons and is refused
/// (403). The screenshot is kept as `.build/artifacts/console.png` (and `console-viewer.png`; `console-failure.png`
/// when the driver failed).
@Suite("The console in a real browser", .serialized)
struct ConsoleBrowserTests {
    /// An EM500-PP uplink: battery 90 %, pressure in kPa (below 150 kPa fires `hydrant-pressure-low` at once).
    func pressure(_ kPa: Int) -> Data {
        Data([0x01, 0x75, 90, 0x03, 0x7B, UInt8(kPa & 0xFF), UInt8(kPa >> 8)])
    }

    /// `GET <path>` on the gateway with `token`, by curl, as a JSON object.
    func apiGet(port: Int, _ path: String, token: String) async throws -> [String: Any] {
        let output = try await ProcessRunner.check("curl", [
            "-sS", "--fail-with-body", "-H", "Authorization: Bearer \(token)", "http://127.0.0.1:\(port)\(path)",
        ])
        let object = try JSONSerialization.jsonObject(with: Data(output.stdout))
        return try #require(object as? [String: Any], "not a JSON object: \(output.stdoutText)")
    }

    @Test func anOperatorAcknowledgesALiveAlertInChromiumAndAViewerCannot() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let dir = try TemporaryDirectory()
        let port = try FreePort.next()
        let gateway = try await RunningGateway(broker: broker, dataDirectory: dir.path, clientID: "gw-console") { config in
            config.http.enabled = true
            config.http.port = port
        }
        #expect(await waitUntil(timeout: .seconds(120)) { FreePort.isAccepting(port: port) })
        let operatorToken = try gateway.runtime.apiTokens.create(name: "operator-ana", role: .operator)
        let viewerToken = try gateway.runtime.apiTokens.create(name: "viewer-li", role: .viewer)

        let artifacts = Repo.root + "/.build/artifacts"
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let screenshot = artifacts + "/console.png"
        for name in ["console.png", "console-viewer.png", "console-failure.png"] { try? FileManager.default.removeItem(atPath: artifacts + "/" + name) }

        let acked = "24e124148b24c0a1", other = "24e124148b24c0b2"
        let out = dir.file("driver.out")
        let driver = try ChildProcess.spawn(executable: "python3", arguments: [
            Repo.root + "/Tests/IntegrationTests/Fixtures/console_browser.py",
            "--url", "http://127.0.0.1:\(port)/console/",
            "--operator-token", operatorToken, "--operator-name", "operator-ana",
            "--viewer-token", viewerToken, "--viewer-name", "viewer-li",
            "--ack-device", acked, "--other-device", other, "--screenshot", screenshot,
        ], stdoutPath: out)

        // The page is open and its live feed connected before anything fires: the rows must arrive live.
        let ready = await waitUntil(timeout: .seconds(240), pollEvery: .milliseconds(50)) {
            let text = FileContents.text(atPath: out)
            return text.contains("READY") || text.contains("FAIL")
        }
        var status: ProcessRunner.Status?
        if ready, FileContents.text(atPath: out).contains("READY") {
            #expect(gateway.runtime.alerts?.openAlerts.isEmpty == true, "nothing fired before the page was ready")
            let raw = dir.file("low.bin")
            FileManager.default.createFile(atPath: raw, contents: pressure(42))
            try await mosquittoPub(broker, topic: "lora/milesight/em500-pp/\(acked)/up", file: raw)
            try await mosquittoPub(broker, topic: "lora/milesight/em500-pp/\(other)/up", file: raw)
            status = await driver.wait(timeout: .seconds(300))
        }
        if status == nil {
            driver.send(SIGKILL)
            driver.wait()
        }
        let log = FileContents.text(atPath: out)
        #expect(status == .exited(0), "the browser driver failed:\n\(log)")

        // What the API says, whatever the page showed.
        let open = gateway.runtime.alerts?.openAlerts ?? []
        let ackedAlert = try #require(open.first { $0.device == acked }, "no alert for \(acked)")
        let otherAlert = try #require(open.first { $0.device == other }, "no alert for \(other)")
        #expect(log.contains("ACKED \(ackedAlert.id)\n"), "the driver acknowledged the row of alert \(ackedAlert.id)")
        let body = try await apiGet(port: port, "/v1/alerts/\(ackedAlert.id)", token: operatorToken)
        #expect(body["acknowledged"] as? Bool == true)
        #expect(body["acknowledged_by"] as? String == "operator-ana")
        #expect(body["device"] as? String == acked)
        let untouched = try await apiGet(port: port, "/v1/alerts/\(otherAlert.id)", token: viewerToken)
        #expect(untouched["acknowledged"] as? Bool == false, "the viewer's acknowledgement was refused")

        let png = FileContents.bytes(atPath: screenshot) ?? []
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG screenshot at \(screenshot)")
        await gateway.stop()
    }
}
