import Alerts
import AsyncHTTPClient
import Catalog
import DeviceProfiles
import Foundation
import Gateway
import GatewayCore
import GatewayTesting
import NIOCore
import NIOHTTP1
import SQLite
import Testing
import TimeSeriesStore

/// A reply: status, headers and body text.
struct APIReply {
    let status: Int
    let headers: HTTPHeaders
    let body: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
}

/// Calls a gateway's HTTP API with a bearer token.
struct APIClient {
    let port: Int
    var token: String?

    func call(_ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)] = []) async throws -> APIReply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let text = try await response.body.collect(upTo: 8 << 20)
        return APIReply(status: Int(response.status.code), headers: response.headers, body: String(buffer: text))
    }

    func get(_ path: String) async throws -> APIReply { try await call(.GET, path) }
    func post(_ path: String, body: String? = nil) async throws -> APIReply { try await call(.POST, path, body: body) }
}

/// A real gateway (mosquitto, store, alerts, HTTP on a free port) for API tests, with one token per role.
struct APIGateway {
    let broker: Broker
    let dir: TemporaryDirectory
    let gateway: RunningGateway
    let port: Int
    let viewer: APIClient
    let `operator`: APIClient
    let admin: APIClient

    static func start(clientID: String, configure: (inout GatewayConfiguration) -> Void = { _ in }) async throws -> APIGateway {
        let broker = try await Broker()
        let dir = try TemporaryDirectory()
        let port = try FreePort.next()
        // Copies of the shipped profiles and rules: admins (and schemathesis) may upload and activate through the
        // API, which writes these directories.
        try FileManager.default.copyItem(atPath: Repo.profiles, toPath: dir.file("profiles"))
        try FileManager.default.copyItem(atPath: Repo.root + "/configs/rules", toPath: dir.file("rules"))
        let rules = dir.file("rules")
        let gateway = try await RunningGateway(broker: broker, dataDirectory: dir.path, clientID: clientID, profiles: dir.file("profiles")) { config in
            config.http.enabled = true
            config.http.port = port
            config.alerts.rulesDirectory = rules
            configure(&config)
        }
        guard await waitUntil(timeout: .seconds(180), { FreePort.isAccepting(port: port) }) else {
            throw GatewayTestingError.timedOut(command: "HTTP server on \(port)")
        }
        let tokens = gateway.runtime.apiTokens
        return APIGateway(
            broker: broker, dir: dir, gateway: gateway, port: port,
            viewer: APIClient(port: port, token: try tokens.create(name: "viewer-li", role: .viewer)),
            operator: APIClient(port: port, token: try tokens.create(name: "operator-ana", role: .operator)),
            admin: APIClient(port: port, token: try tokens.create(name: "admin-wang", role: .admin)))
    }

    func stop() async {
        await gateway.stop()
        broker.stop()
    }

    /// Publishes an EM500-PP uplink with pressure `kPa` for `device` and waits until the gateway has stored it.
    func publishPressure(_ kPa: Int, device: String = "24e124148b24ce7c") async throws {
        let raw = dir.file("pp-\(kPa).bin")
        FileManager.default.createFile(atPath: raw, contents: Data([0x01, 0x75, 90, 0x03, 0x7B, UInt8(kPa & 0xFF), UInt8(kPa >> 8)]))
        let before = gateway.runtime.pipeline.stats.messages
        try await mosquittoPub(broker, topic: "lora/milesight/em500-pp/\(device)/up", file: raw)
        let pipeline = gateway.runtime.pipeline
        _ = await waitUntil(timeout: .seconds(30)) { pipeline.stats.messages > before }
    }
}

@Suite("Operator API", .serialized)
struct APITests {
    @Test func tokensRolesAndTheAuditTrailGuardAlertActions() async throws {
        let g = try await APIGateway.start(clientID: "gw-api-roles")
        defer { Task { await g.stop() } }
        try await g.publishPressure(42)
        #expect(await waitUntil(timeout: .seconds(30)) { g.gateway.runtime.alerts?.openAlerts.count == 1 })

        // No token, an unknown token: 401 with WWW-Authenticate.
        let anonymous = try await APIClient(port: g.port, token: nil).get("/v1/alerts")
        #expect(anonymous.status == 401)
        #expect(anonymous.headers.first(name: "WWW-Authenticate")?.hasPrefix("Bearer") == true)
        #expect(try await APIClient(port: g.port, token: "cgt_not-a-real-token").get("/v1/alerts").status == 401)

        // The viewer sees the alert but cannot acknowledge it.
        let list = try await g.viewer.get("/v1/alerts?state=open")
        #expect(list.status == 200)
        let alerts = list.json["alerts"] as? [[String: Any]] ?? []
        let id = try #require(alerts.first?["id"] as? Int)
        #expect(alerts.first?["rule"] as? String == "hydrant-pressure-low")
        let refused = try await g.viewer.post("/v1/alerts/\(id)/acknowledge")
        #expect(refused.status == 403)
        #expect(refused.json["error"] as? String == "role 'viewer' of 'viewer-li' cannot do this; it needs 'operator'")
        #expect((try await g.viewer.get("/v1/alerts/\(id)")).json["acknowledged"] as? Bool == false)

        // The operator acknowledges; the API then reports who did.
        let ack = try await g.operator.post("/v1/alerts/\(id)/acknowledge", body: #"{"comment": "crew on the way"}"#)
        #expect(ack.status == 200)
        let after = try await g.viewer.get("/v1/alerts/\(id)")
        #expect(after.json["acknowledged"] as? Bool == true)
        #expect(after.json["acknowledged_by"] as? String == "operator-ana")
        #expect(try await g.operator.post("/v1/alerts/999999/acknowledge").status == 404)
        #expect(try await g.operator.post("/v1/alerts/\(id)/acknowledge", body: "not json").status == 400)

        // Resolving closes it; resolving again conflicts.
        #expect(try await g.operator.post("/v1/alerts/\(id)/resolve").status == 200)
        #expect(try await g.operator.post("/v1/alerts/\(id)/resolve").status == 409)
        #expect((try await g.viewer.get("/v1/alerts/\(id)")).json["resolved_by"] as? String == "operator-ana")

        // The audit trail holds the refusal and both actions; only an admin reads it.
        #expect(try await g.operator.get("/v1/audit").status == 403)
        let audit = try await g.admin.get("/v1/audit?action=alert.")
        let entries = audit.json["entries"] as? [[String: Any]] ?? []
        let summary = entries.map { "\($0["actor"] ?? "")|\($0["action"] ?? "")|\($0["target"] ?? "")|\(($0["outcome"] as? String ?? "").prefix(7))" }
        #expect(summary.contains("viewer-li|alert.acknowledge|alert/\(id)|refused"))
        #expect(summary.contains("operator-ana|alert.acknowledge|alert/\(id)|ok"))
        #expect(summary.contains("operator-ana|alert.resolve|alert/\(id)|ok"))
        #expect(entries.contains { ($0["details"] as? String)?.contains("crew on the way") == true })
        #expect((try await g.admin.get("/v1/audit/verify")).json["intact"] as? Bool == true)
    }

    @Test func adminsCreateAndRevokeTokens() async throws {
        let g = try await APIGateway.start(clientID: "gw-api-tokens")
        defer { Task { await g.stop() } }
        #expect(try await g.operator.post("/v1/tokens", body: #"{"name": "grafana", "role": "viewer"}"#).status == 403)
        let created = try await g.admin.post("/v1/tokens", body: #"{"name": "grafana", "role": "viewer"}"#)
        #expect(created.status == 201)
        let token = try #require(created.json["token"] as? String)
        let grafana = APIClient(port: g.port, token: token)
        #expect((try await grafana.get("/v1/whoami")).json["name"] as? String == "grafana")
        #expect(try await g.admin.post("/v1/tokens", body: #"{"name": "grafana", "role": "admin"}"#).status == 409)
        #expect(try await g.admin.post("/v1/tokens", body: #"{"name": "bad name!", "role": "viewer"}"#).status == 400)
        let listed = try await g.admin.get("/v1/tokens")
        #expect(!listed.body.contains(token), "listings never show tokens")
        #expect((listed.json["tokens"] as? [[String: Any]])?.compactMap { $0["name"] as? String }.contains("grafana") == true)
        #expect(try await g.admin.call(.DELETE, "/v1/tokens/grafana").status == 204)
        #expect(try await grafana.get("/v1/whoami").status == 401)
        #expect(try await g.admin.call(.DELETE, "/v1/tokens/grafana").status == 404)

        // Guessing tokens locks the address out (10 failures, counting the revoked token's above), and the audit
        // log says so.
        var statuses: [Int] = []
        for i in 0..<10 { statuses.append(try await APIClient(port: g.port, token: "cgt_guess\(i)").get("/v1/whoami").status) }
        #expect(statuses == Array(repeating: 401, count: 9) + [429])
        #expect(try await g.admin.get("/v1/whoami").status == 429, "the lockout is per address, even for a valid token")
        let audit = try g.gateway.runtime.auditLog.entries(action: "auth.")
        #expect(audit.map(\.action) == ["auth.failure", "auth.lockout"])
    }

    @Test func devicesSeriesDeadLettersUplinkAndMetricsAnswer() async throws {
        let g = try await APIGateway.start(clientID: "gw-api-reads")
        defer { Task { await g.stop() } }
        try await g.publishPressure(300)
        try await g.publishPressure(310)
        // A payload no profile decodes becomes a dead letter.
        try await mosquittoPub(g.broker, topic: "lora/milesight/em500-pp/24e124148b24ce7c/up", message: "zz-not-hex")
        #expect(await waitUntil(timeout: .seconds(30)) { (try? g.gateway.runtime.deadLetters.count()) ?? 0 >= 1 })
        try await g.gateway.runtime.store?.waitUntilDurable(force: true)

        let devices = try await g.viewer.get("/v1/devices?family=neuron")
        #expect(devices.status == 200)
        let device = (devices.json["devices"] as? [[String: Any]])?.first { $0["id"] as? String == "24e124148b24ce7c" }
        #expect(device?["profile"] as? String == "milesight-em500-pp")
        #expect((device?["battery"] as? [String: Any])?["value"] as? Double == 90)
        #expect(try await g.viewer.get("/v1/devices/nope").status == 404)
        let one = try await g.viewer.get("/v1/devices/24e124148b24ce7c")
        let metrics = (one.json["metrics"] as? [[String: Any]])?.compactMap { $0["metric"] as? String } ?? []
        #expect(metrics.contains("pressure"))

        let raw = try await g.viewer.get("/v1/series/24e124148b24ce7c/pressure?from=0&to=\(WallClock.nowMs() + 60_000)")
        #expect(raw.status == 200)
        #expect((raw.json["points"] as? [[String: Any]])?.compactMap { $0["v"] as? Double } == [300_000, 310_000])
        #expect(raw.json["unit"] as? String == "Pa")
        let stepped = try await g.viewer.get("/v1/series/24e124148b24ce7c/pressure?from=0&to=\(WallClock.nowMs() + 60_000)&step=86400000000")
        let step = (stepped.json["steps"] as? [[String: Any]])?.first
        #expect(step?["count"] as? Int == 2 && step?["max"] as? Double == 310_000 && step?["avg"] as? Double == 305_000)
        #expect((try await g.viewer.get("/v1/series/24e124148b24ce7c/pressure/last")).body.contains("310000"))
        #expect(try await g.viewer.get("/v1/series/24e124148b24ce7c/nothing").status == 404)
        #expect(try await g.viewer.get("/v1/series/24e124148b24ce7c/pressure?from=abc").status == 400)
        // Extreme ranges are answered, never trapped on.
        let p = "/v1/series/24e124148b24ce7c/pressure"
        #expect(try await g.viewer.get(p + "?from=-9223372036854775808&to=9223372036854775807&step=1").status == 400)
        #expect(try await g.viewer.get(p + "?to=-9223372036854775808").status == 200)
        #expect(try await g.viewer.get(p + "?from=9223372036854775807&to=0").status == 200)

        let letters = try await g.viewer.get("/v1/deadletters")
        let letter = (letters.json["deadletters"] as? [[String: Any]])?.first
        #expect(letter?["payload_text"] as? String == "zz-not-hex")
        let letterID = try #require(letter?["id"] as? Int)
        #expect(try await g.viewer.post("/v1/deadletters/\(letterID)/replay").status == 403)
        let replay = try await g.operator.post("/v1/deadletters/\(letterID)/replay")
        #expect(replay.status == 200)
        #expect(replay.json["failed"] as? Int == 1, "still undecodable with the same profiles: kept, with the new error")

        #expect((try await g.viewer.get("/v1/uplink")).json["enabled"] as? Bool == false)
        let metricsText = try await APIClient(port: g.port, token: nil).get("/metrics")
        #expect(metricsText.status == 200)
        #expect(metricsText.body.contains("gateway_devices{state=\"online\"} 1"))
        #expect(try await APIClient(port: g.port, token: nil).get("/ready").status == 200)
        #expect(try await APIClient(port: g.port, token: nil).get("/health").status == 200)
    }

    @Test func rateAndSizeLimitsAnswer429And413() async throws {
        let g = try await APIGateway.start(clientID: "gw-api-limits") { config in
            config.http.api.rateLimitPerSecond = 0.5
            config.http.api.rateLimitBurst = 3
            config.http.api.maxBodyBytes = 2_048
        }
        defer { Task { await g.stop() } }
        var statuses: [Int] = []
        for _ in 0..<4 { statuses.append(try await g.viewer.get("/v1/whoami").status) }
        #expect(statuses.prefix(3).allSatisfy { $0 == 200 })
        let limited = try await g.viewer.get("/v1/whoami")
        #expect(limited.status == 429)
        #expect(Int(limited.headers.first(name: "Retry-After") ?? "") ?? 0 >= 1)
        // Another client has its own bucket; an oversize body is refused before it is read.
        let big = try await g.operator.post("/v1/alerts/1/acknowledge", body: "{\"comment\": \"" + String(repeating: "x", count: 4_000) + "\"}")
        #expect(big.status == 413)
    }

    @Test func everyRouteIsInTheOpenAPISpecAndEverySpecRouteExists() async throws {
        let g = try await APIGateway.start(clientID: "gw-api-spec") { config in
            config.http.ctwing.enabled = true
            config.http.onenet.enabled = true
            config.http.onenet.verifySignature = false
        }
        defer { Task { await g.stop() } }
        let served = Set(g.gateway.runtime.httpRoutes().map { "\($0.method) \(OpenAPISpec.openAPIPath($0.path))" })
        let spec = try OpenAPISpec(path: Repo.root + "/docs/openapi.yaml")
        let documented = Set(spec.operations.map { "\($0.method) \($0.path)" })
        #expect(served.subtracting(documented).sorted() == [], "routes served but missing from docs/openapi.yaml")
        #expect(documented.subtracting(served).sorted() == [], "routes in docs/openapi.yaml the gateway does not serve")
        // Every documented operation says who may call it and documents its error answers.
        for op in spec.operations where op.path.hasPrefix("/v1/") {
            #expect(op.security, "\(op.method) \(op.path) declares bearer security")
            #expect(op.responses.contains("401"), "\(op.method) \(op.path) documents 401")
        }
    }
}

/// Schemathesis (a real outside OpenAPI client, from PyPI) generates requests from docs/openapi.yaml, including
/// invalid ones, against a live gateway and checks every answer: no 5xx, only documented status codes, bodies
/// that match their schemas, 401 without a token, 405 for unserved methods, invalid input refused.
@Suite("OpenAPI conformance (schemathesis)", .serialized)
struct OpenAPIConformanceTests {
    @Test func aLiveGatewayConformsToItsSpec() async throws {
        let g = try await APIGateway.start(clientID: "gw-api-st") { config in
            config.http.api.rateLimitPerSecond = 0
            config.http.api.lockoutMaxFailures = 0
            config.http.ctwing.enabled = true
            config.http.onenet.enabled = true
            config.http.onenet.token = "schemathesis-onenet-token"
        }
        defer { Task { await g.stop() } }
        try await g.publishPressure(42)
        try await mosquittoPub(g.broker, topic: "lora/milesight/em500-pp/24e124148b24ce7c/up", message: "zz")
        let token = try g.gateway.runtime.apiTokens.create(name: "schemathesis", role: .admin)
        let result = try await ProcessRunner.run("python3", [
            "-m", "schemathesis.cli", "--config-file", Repo.root + "/Tests/IntegrationTests/Fixtures/schemathesis.toml", "run", Repo.root + "/docs/openapi.yaml", "--url", "http://127.0.0.1:\(g.port)", "-H", "Authorization: Bearer \(token)",
            "--checks", "all", "--max-examples", "6", "--seed", "2026", "--no-color",
        ], timeout: .seconds(600))
        let report = result.stdoutText + result.stderrText
        #expect(result.status == .exited(0), "schemathesis found problems:\n\(report.suffix(6_000))")
        #expect(report.contains("API Operations:"), "schemathesis ran")
        #expect(report.range(of: #"Tested: (2[0-9]|[3-9][0-9])"#, options: .regularExpression) != nil, "it tested the operations")
    }
}
