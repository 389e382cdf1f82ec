import Alerts
import AsyncHTTPClient
import Foundation
import Gateway
import GatewayCore
import GatewayTesting
import NIOCore
import NIOHTTP1
import Testing

/// An answer of the API: status, the body text and, when it is a JSON object, the object.
struct ConfigReply: @unchecked Sendable {
    let status: Int
    let text: String
    let json: [String: Any]

    subscript(key: String) -> Any? { json[key] }
    func list(_ key: String) -> [[String: Any]] { json[key] as? [[String: Any]] ?? [] }
}

/// Calls the gateway's API over real HTTP (AsyncHTTPClient) with a bearer token.
struct ConfigClient: Sendable {
    let port: Int

    func send(_ method: HTTPMethod, _ path: String, token: String?, body: String? = nil, contentType: String = "application/yaml") async throws -> ConfigReply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let buffer = try await response.body.collect(upTo: 8 << 20)
        let text = String(buffer: buffer)
        let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        return ConfigReply(status: Int(response.status.code), text: text, json: json)
    }

    func get(_ path: String, _ token: String?) async throws -> ConfigReply { try await send(.GET, path, token: token) }
    func put(_ path: String, _ token: String?, _ body: String) async throws -> ConfigReply { try await send(.PUT, path, token: token, body: body) }
    func post(_ path: String, _ token: String?, _ body: String? = nil) async throws -> ConfigReply { try await send(.POST, path, token: token, body: body) }
}

/// A gateway in-process with HTTP on a free loopback port, the test meter and the Bosch profile in a temporary
/// profiles directory, one rule file, and a token of each role.
struct ConfigAPIFixture {
    let data: TemporaryDirectory
    let gateway: PushGateway
    let api: ConfigClient
    let viewer: String, operatorToken: String, admin: String
    var profiles: String { data.file("profiles") }
    var rules: String { data.file("rules") }
    var meterFile: String { FileContents.text(atPath: profiles + "/test/meter.yaml") }

    static let rulesText = "rules:\n  - { id: level-high, select: { metric: level }, above: 10, severity: warning }\n"

    init() async throws {
        data = try TemporaryDirectory()
        let profiles = data.file("profiles")
        try FileManager.default.createDirectory(atPath: profiles + "/test", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: profiles + "/bosch", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: data.file("rules"), withIntermediateDirectories: true)
        try MeterProfile.yaml(version: 1, scale: 1).write(toFile: profiles + "/test/meter.yaml", atomically: true, encoding: .utf8)
        try FileContents.text(atPath: Repo.profiles + "/bosch/tps110.yaml").write(toFile: profiles + "/bosch/tps110.yaml", atomically: true, encoding: .utf8)
        try Self.rulesText.write(toFile: data.file("rules/city.yaml"), atomically: true, encoding: .utf8)
        let rules = data.file("rules")
        gateway = try await PushGateway(profiles: profiles, dataDirectory: data.file("data"), commitIntervalMs: 100) { c in
            c.alerts.rulesDirectory = rules
            c.alerts.mqtt.enabled = false
            c.http.api.rateLimitPerSecond = 0
            c.http.api.maxBodyBytes = 65_536
        }
        api = ConfigClient(port: gateway.port)
        viewer = try gateway.runtime.apiTokens.create(name: "viewer-vic", role: .viewer)
        operatorToken = try gateway.runtime.apiTokens.create(name: "operator-olga", role: .operator)
        admin = try gateway.runtime.apiTokens.create(name: "admin-ana", role: .admin)
    }

    /// The `level` the running profile set decodes for raw 5.
    func level() -> Double? {
        var batch = SampleBatch()
        gateway.runtime.decoder.decode(RawMessage(transport: .mqtt, topic: MeterProfile.topic(device: "m1"),
                                                  payload: Array(MeterProfile.payload(seq: 1, raw: 5, timeMs: 1_767_225_600_000).utf8),
                                                  receiveTimeMs: 1_767_225_600_000), into: &batch)
        return batch.samples.first { $0.metric == "level" }?.value
    }

    /// Audit entries whose action starts with `prefix`, oldest first.
    func audit(_ prefix: String) throws -> [AuditLog.Entry] { try gateway.runtime.auditLog.entries(limit: 10_000, action: prefix) }
}

@Suite(.serialized) struct ConfigAPITests {
    /// Runs `body` against a fresh gateway and stops it whatever happens.
    func withGateway(_ body: (ConfigAPIFixture) async throws -> Void) async throws {
        let f = try await ConfigAPIFixture()
        do {
            try await body(f)
        } catch {
            await f.gateway.stop()
            throw error
        }
        await f.gateway.stop()
    }

    @Test func viewersReadProfilesAndHistoryButOnlyAdminsChangeThem() async throws {
        try await withGateway { f in
            let id = MeterProfile.id
            #expect(try await f.api.get("/v1/profiles", nil).status == 401)
            let list = try await f.api.get("/v1/profiles", f.viewer)
            #expect(list.status == 200)
            let meter = try #require(list.list("profiles").first { $0["id"] as? String == id })
            #expect(meter["version"] as? Int == 1)
            #expect(meter["active_version"] as? Int == 1)
            #expect(meter["versions"] as? Int == 1)
            #expect(meter["file"] as? String == "test/meter.yaml")
            #expect(meter["transports"] as? [String] == ["mqtt"])
            #expect(meter["vendor"] as? String == "CityGate Test")
            #expect(list.list("profiles").map { $0["id"] as? String } == ["bosch-tps110", id])

            let one = try await f.api.get("/v1/profiles/\(id)", f.viewer)
            #expect(one["yaml"] as? String == f.meterFile)
            #expect(one["family"] as? String == "neuron")
            let history = try await f.api.get("/v1/profiles/\(id)/versions", f.viewer)
            #expect(history.list("versions").map { $0["author"] as? String } == ["disk"])
            #expect(history.list("versions").first?["active"] as? Bool == true)
            let v1 = try await f.api.get("/v1/profiles/\(id)/versions/1", f.viewer)
            #expect(v1["text"] as? String == f.meterFile)
            #expect(v1["sha256"] as? String == ConfigRepository.sha256(f.meterFile))
            #expect(try await f.api.get("/v1/profiles/\(id)/versions/2", f.viewer).status == 404)
            #expect(try await f.api.get("/v1/profiles/no-such-profile", f.viewer).status == 404)

            let v2 = MeterProfile.yaml(version: 2, scale: 10)
            #expect(try await f.api.put("/v1/profiles/\(id)", f.viewer, v2).status == 403)
            #expect(try await f.api.put("/v1/profiles/\(id)", f.operatorToken, v2).status == 403)
            #expect(try await f.api.post("/v1/profiles/\(id)/activate?version=1", f.viewer).status == 403)
            #expect(try await f.api.post("/v1/profiles/\(id)/rollback", f.operatorToken).status == 403)
            #expect(try await f.api.put("/v1/rules/files/city.yaml", f.operatorToken, FixtureTexts.twoRules).status == 403)
            #expect(try await f.api.post("/v1/rules/files/city.yaml/activate?version=1", f.viewer).status == 403)
            #expect(try await f.api.post("/v1/reload", f.operatorToken).status == 403)
            #expect(try await f.api.put("/v1/profiles/\(id)", nil, v2).status == 401)

            #expect(try await f.api.get("/v1/profiles/\(id)/versions", f.viewer).list("versions").count == 1, "nothing was stored")
            #expect(f.level() == 5)
            let refused = try f.audit("profile.")
            #expect(refused.map(\.actor) == ["viewer-vic", "operator-olga", "viewer-vic", "operator-olga"], "a missing token is refused before any route")
            #expect(refused.allSatisfy { $0.outcome.hasPrefix("refused") })
            #expect(try f.audit("config.reload").first?.outcome.hasPrefix("refused") == true)
        }
    }

    @Test func validateAnswersLineNumberedErrorsAndTheTestVectorsOutcome() async throws {
        try await withGateway { f in
            let broken = MeterProfile.brokenYAML(version: 2)
            let bad = try await f.api.post("/v1/profiles/validate", f.viewer, broken)
            #expect(bad.status == 200)
            #expect(bad["valid"] as? Bool == false)
            let error = try #require(bad.list("errors").first)
            #expect(error["line"] as? Int == MeterProfile.line(of: "scael", in: broken))
            #expect((error["column"] as? Int ?? 0) > 0)
            #expect((error["message"] as? String)?.contains("scael") == true)

            let failing = try await f.api.post("/v1/profiles/validate", f.viewer, MeterProfile.yaml(version: 2, scale: 2, expectedLevel: 3))
            #expect(failing["valid"] as? Bool == true)
            let tests = try #require(failing["tests"] as? [String: Any])
            #expect(tests["failed"] as? Int == 1)
            #expect(tests["passed"] as? Int == 0)
            #expect(((tests["failures"] as? [[String: Any]])?.first?["test"] as? String) == "a reading")

            let good = try await f.api.post("/v1/profiles/validate", f.viewer, MeterProfile.yaml(version: 2, scale: 10))
            #expect(good["valid"] as? Bool == true)
            #expect((good["tests"] as? [String: Any])?["passed"] as? Int == 1)
            #expect((good["warnings"] as? [String])?.isEmpty == true)
            let clash = try await f.api.post("/v1/profiles/validate", f.viewer, MeterProfile.yaml(version: 2, scale: 1, extraTemplates: [FixtureTexts.boschTemplate]))
            #expect((clash["warnings"] as? [String])?.first?.contains("already claimed") == true)

            #expect(try await f.api.send(.POST, "/v1/profiles/validate", token: f.viewer, body: "{}", contentType: "application/json").status == 415)
            let shipped = FileContents.text(atPath: Repo.profiles + "/milesight/em500-pp.yaml")
            let vendor = try await f.api.post("/v1/profiles/validate", f.viewer, shipped)
            #expect(vendor["valid"] as? Bool == true)
            #expect(((vendor["tests"] as? [String: Any])?["passed"] as? Int ?? 0) > 0, "a shipped profile's own vectors pass")

            let rules = try await f.api.post("/v1/rules/validate", f.viewer, "rules:\n  - id: x\n    select: { metric: level }\n    abov: 1\n")
            #expect(rules["valid"] as? Bool == false)
            #expect(rules.list("errors").first?["line"] as? Int == 4)
            let okRules = try await f.api.post("/v1/rules/validate", f.viewer, FixtureTexts.twoRules)
            #expect(okRules["rules"] as? [String] == ["level-high", "level-low"])
        }
    }

    @Test func uploadActivateAndRollbackChangeWhatDecodesAndAreAudited() async throws {
        try await withGateway { f in
            let id = MeterProfile.id
            let v2 = MeterProfile.yaml(version: 2, scale: 10)
            let put = try await f.api.put("/v1/profiles/\(id)?comment=times%20ten", f.admin, v2)
            #expect(put.status == 201)
            #expect(put["version"] as? Int == 2)
            #expect(put["active"] as? Bool == false)
            #expect(put["sha256"] as? String == ConfigRepository.sha256(v2))
            #expect(f.level() == 5, "stored, not active")
            #expect(f.meterFile != v2)

            let activated = try await f.api.post("/v1/profiles/\(id)/activate?version=2", f.admin)
            #expect(activated.status == 200)
            #expect(activated["previous_version"] as? Int == 1)
            #expect(f.level() == 50)
            #expect(f.meterFile == v2)
            let listed = try await f.api.get("/v1/profiles", f.viewer).list("profiles").first { $0["id"] as? String == id }
            #expect(listed?["version"] as? Int == 2)
            #expect(listed?["active_version"] as? Int == 2)
            #expect(listed?["versions"] as? Int == 2)
            let history = try await f.api.get("/v1/profiles/\(id)/versions", f.viewer).list("versions")
            #expect(history.map { $0["version"] as? Int } == [2, 1])
            #expect(history.first?["author"] as? String == "admin-ana")
            #expect(history.first?["comment"] as? String == "times ten")

            let rolledBack = try await f.api.post("/v1/profiles/\(id)/rollback", f.admin)
            #expect(rolledBack.status == 200)
            #expect(rolledBack["version"] as? Int == 1)
            #expect(f.level() == 5)
            #expect(try await f.api.get("/v1/profiles/\(id)", f.viewer)["active_version"] as? Int == 1)

            let v3 = MeterProfile.yaml(version: 3, scale: 100)
            let oneStep = try await f.api.put("/v1/profiles/\(id)?activate=true", f.admin, v3)
            #expect(oneStep.status == 201)
            #expect(oneStep["version"] as? Int == 3)
            #expect(oneStep["active"] as? Bool == true)
            #expect(f.level() == 500)

            let entries = try f.audit("profile.")
            #expect(entries.map(\.action) == ["profile.upload", "profile.activate", "profile.rollback", "profile.upload"])
            #expect(entries.allSatisfy { $0.actor == "admin-ana" && $0.outcome == "ok" })
            #expect(entries.map(\.target) == ["profile/\(id)", "profile/\(id)@2", "profile/\(id)", "profile/\(id)"])
            #expect(entries[0].details.contains("times ten"))
            #expect(try f.gateway.runtime.auditLog.verify().intact)
        }
    }

    @Test func invalidUploadsAre422WithLineNumbersAndAreNotStored() async throws {
        try await withGateway { f in
            let id = MeterProfile.id
            let broken = MeterProfile.brokenYAML(version: 2)
            let bad = try await f.api.put("/v1/profiles/\(id)", f.admin, broken)
            #expect(bad.status == 422)
            #expect(bad.list("errors").first?["line"] as? Int == MeterProfile.line(of: "scael", in: broken))
            #expect(bad.list("errors").first?["file"] as? String == "test/meter.yaml")
            #expect(bad["error"] is String)

            let wrongID = try await f.api.put("/v1/profiles/another-id", f.admin, MeterProfile.yaml(version: 2, scale: 1))
            #expect(wrongID.status == 422)
            #expect((wrongID["error"] as? String)?.contains("not 'another-id'") == true)
            let failing = try await f.api.put("/v1/profiles/\(id)", f.admin, MeterProfile.yaml(version: 2, scale: 2, expectedLevel: 3))
            #expect(failing.status == 422)
            #expect((failing["tests"] as? [String: Any])?["failed"] as? Int == 1)
            #expect(failing.list("errors").first?["line"] as? Int == MeterProfile.line(of: "- name: a reading", in: MeterProfile.yaml(version: 2, scale: 2)))
            #expect(try await f.api.put("/v1/profiles/Bad%20Id", f.admin, MeterProfile.yaml(version: 2, scale: 1)).status == 400)
            let empty = try await f.api.put("/v1/profiles/\(id)", f.admin, "  \n")
            #expect(empty.status == 422)
            #expect((empty.list("errors").first?["message"] as? String)?.contains("empty") == true)
            #expect(try await f.api.put("/v1/profiles/\(id)", f.admin, String(repeating: "#", count: 70_000)).status == 413)

            #expect(try await f.api.get("/v1/profiles/\(id)/versions", f.viewer).list("versions").count == 1, "nothing refused was stored")
            #expect(try await f.api.post("/v1/profiles/\(id)/activate?version=9", f.admin).status == 404)
            #expect(try await f.api.post("/v1/profiles/\(id)/activate", f.admin).status == 400)
            #expect(try await f.api.post("/v1/profiles/\(id)/rollback", f.admin).status == 409, "version 1 has nothing before it")
            #expect(f.level() == 5)
            #expect(f.meterFile == MeterProfile.yaml(version: 1, scale: 1))
            let uploads = try f.audit("profile.upload")
            #expect(uploads.count == 5, "the oversized body never reached the change")
            #expect(uploads.allSatisfy { $0.outcome.hasPrefix("failed") })
            #expect(uploads[0].outcome.contains("scael"))
        }
    }

    @Test func anActivationWhoseSetDoesNotLoadIsRefusedAndTheRunningVersionStays() async throws {
        try await withGateway { f in
            let id = MeterProfile.id
            let clash = MeterProfile.yaml(version: 2, scale: 10, extraTemplates: [FixtureTexts.boschTemplate])
            let stored = try await f.api.put("/v1/profiles/\(id)", f.admin, clash)
            #expect(stored.status == 201, "valid on its own")
            #expect((stored["warnings"] as? [String])?.isEmpty == false)
            let refused = try await f.api.post("/v1/profiles/\(id)/activate?version=2", f.admin)
            #expect(refused.status == 422)
            #expect(refused.list("errors").contains { ($0["message"] as? String)?.contains("already claimed by profile 'bosch-tps110'") == true })
            #expect(f.meterFile == MeterProfile.yaml(version: 1, scale: 1), "the previous file is back")
            #expect(f.level() == 5)
            #expect(try await f.api.get("/v1/profiles/\(id)", f.viewer)["active_version"] as? Int == 1)

            let inOneStep = try await f.api.put("/v1/profiles/\(id)?activate=true", f.admin, clash)
            #expect(inOneStep.status == 422)
            #expect(inOneStep["version"] as? Int == 3, "stored, not active")
            #expect(f.level() == 5)
            #expect(try f.audit("profile.activate").first?.outcome.contains("already claimed") == true)

            // A profile new to the gateway, stored but never activated, is described from its stored text.
            let newcomer = MeterProfile.yaml(version: 1, scale: 1, id: "test-newcomer").replacingOccurrences(of: "test/meter/", with: "test/new/")
            #expect(try await f.api.put("/v1/profiles/test-newcomer", f.admin, newcomer).status == 201)
            let described = try await f.api.get("/v1/profiles/test-newcomer", f.viewer)
            #expect(described["loaded"] as? Bool == false)
            #expect(described["file"] as? String == "citygate-test/test-newcomer.yaml")
            #expect(described["yaml"] as? String == newcomer)
            #expect(described["active_version"] == nil)
            #expect(try await f.api.get("/v1/profiles", f.viewer).list("profiles").count == 2, "listed once running")
            #expect(try await f.api.post("/v1/profiles/test-newcomer/activate?version=1", f.admin).status == 200)
            #expect(try await f.api.get("/v1/profiles/test-newcomer", f.viewer)["loaded"] as? Bool == true)
            #expect(FileContents.text(atPath: f.profiles + "/citygate-test/test-newcomer.yaml") == newcomer)
        }
    }

    @Test func ruleFilesAreListedVersionedActivatedAndRolledBack() async throws {
        try await withGateway { f in
            let rules = try await f.api.get("/v1/rules", f.viewer)
            #expect(rules.list("rules").count == 1)
            let rule = try #require(rules.list("rules").first)
            #expect(rule["id"] as? String == "level-high")
            #expect(rule["kind"] as? String == "above")
            #expect(rule["selector"] as? String == "metric=level")
            #expect(rule["severity"] as? String == "warning")
            #expect(rule["file"] as? String == "city.yaml")
            let files = try await f.api.get("/v1/rules/files", f.viewer).list("files")
            #expect(files.map { $0["name"] as? String } == ["city.yaml"])
            #expect(files.first?["active_version"] as? Int == 1)
            #expect(files.first?["rules"] as? [String] == ["level-high"])
            #expect(try await f.api.get("/v1/rules/files/city.yaml", f.viewer)["yaml"] as? String == ConfigAPIFixture.rulesText)

            let bad = try await f.api.put("/v1/rules/files/city.yaml", f.admin, "rules:\n  - { id: level-high, select: { metric: level }, abov: 10 }\n")
            #expect(bad.status == 422)
            #expect(bad.list("errors").first?["line"] as? Int == 2)
            #expect(bad.list("errors").first?["file"] as? String == "city.yaml")

            let put = try await f.api.put("/v1/rules/files/city.yaml?activate=true&comment=low%20too", f.admin, FixtureTexts.twoRules)
            #expect(put.status == 201)
            #expect(put["version"] as? Int == 2)
            #expect(put["active"] as? Bool == true)
            #expect(try await f.api.get("/v1/rules", f.viewer).list("rules").compactMap { $0["id"] as? String } == ["level-high", "level-low"])
            #expect(f.gateway.runtime.alerts?.rules.map(\.id) == ["level-high", "level-low"])
            #expect(FileContents.text(atPath: f.rules + "/city.yaml") == FixtureTexts.twoRules)

            // A new file whose rule id another file already defines: valid alone, refused as a set.
            let dup = "rules:\n  - { id: level-low, select: { metric: level }, below: 0 }\n"
            let extra = try await f.api.put("/v1/rules/files/extra.yaml", f.admin, dup)
            #expect(extra.status == 201)
            let refused = try await f.api.post("/v1/rules/files/extra.yaml/activate?version=1", f.admin)
            #expect(refused.status == 422)
            #expect(refused.list("errors").contains { ($0["message"] as? String)?.contains("already defined") == true })
            #expect(!FileManager.default.fileExists(atPath: f.rules + "/extra.yaml"), "a file that did not exist is removed again")
            #expect(f.gateway.runtime.alerts?.rules.count == 2)

            let back = try await f.api.post("/v1/rules/files/city.yaml/rollback", f.admin)
            #expect(back.status == 200)
            #expect(f.gateway.runtime.alerts?.rules.map(\.id) == ["level-high"])
            let history = try await f.api.get("/v1/rules/files/city.yaml/versions", f.viewer).list("versions")
            #expect(history.map { $0["version"] as? Int } == [2, 1])
            #expect(history.map { $0["active"] as? Bool } == [false, true])
            #expect(try await f.api.get("/v1/rules/files/city.yaml/versions/2", f.viewer)["text"] as? String == FixtureTexts.twoRules)
            #expect(try await f.api.put("/v1/rules/files/..%2Fescape.yaml", f.admin, FixtureTexts.twoRules).status == 400)

            #expect(try f.audit("rules.").map(\.action) == ["rules.upload", "rules.upload", "rules.upload", "rules.activate", "rules.rollback", "rules.upload"])
            #expect(try f.audit("rules.").map { $0.outcome.hasPrefix("ok") } == [false, true, true, false, true, false])
        }
    }

    @Test func reloadThroughTheAPIRecordsDiskEditsAndReportsWhatWasRefused() async throws {
        try await withGateway { f in
            try MeterProfile.yaml(version: 2, scale: 7).write(toFile: f.profiles + "/test/meter.yaml", atomically: true, encoding: .utf8)
            let ok = try await f.api.post("/v1/reload", f.admin)
            #expect(ok.status == 200)
            let profiles = try #require(ok["profiles"] as? [String: Any])
            #expect(profiles["loaded"] as? Bool == true)
            #expect(profiles["count"] as? Int == 2)
            #expect((profiles["recorded"] as? [[String: Any]])?.first?["name"] as? String == MeterProfile.id)
            #expect((ok["rules"] as? [String: Any])?["loaded"] as? Bool == true)
            #expect(f.level() == 35)
            let history = try await f.api.get("/v1/profiles/\(MeterProfile.id)/versions", f.viewer).list("versions")
            #expect(history.map { $0["author"] as? String } == ["disk", "disk"])
            #expect(history.first?["active"] as? Bool == true)

            try "rules:\n  - { id: level-high, select: { metric: level }, abov: 10 }\n".write(toFile: f.rules + "/city.yaml", atomically: true, encoding: .utf8)
            let refused = try await f.api.post("/v1/reload", f.admin)
            #expect(refused.status == 422)
            let rules = try #require(refused["rules"] as? [String: Any])
            #expect(rules["loaded"] as? Bool == false)
            #expect((rules["errors"] as? [[String: Any]])?.first?["line"] as? Int == 2)
            #expect((refused["profiles"] as? [String: Any])?["loaded"] as? Bool == true, "profiles reload independently")
            #expect(f.gateway.runtime.alerts?.rules.map(\.id) == ["level-high"], "the running rules stay")
            #expect(try await f.api.get("/v1/rules/files/city.yaml/versions", f.viewer).list("versions").count == 1, "a refused file is not recorded")

            let onlyProfiles = try await f.api.post("/v1/reload?what=profiles", f.admin)
            #expect(onlyProfiles.status == 200)
            #expect(onlyProfiles["rules"] == nil)
            #expect(try f.audit("config.reload").map { $0.outcome.hasPrefix("ok") } == [true, false, true])
        }
    }
}

enum FixtureTexts {
    /// A topic template the Bosch TPS110 profile claims.
    static let boschTemplate = "lora/bosch/tps110/{deviceId}/{fport}"
    static let twoRules = """
        rules:
          - { id: level-high, select: { metric: level }, above: 10, severity: warning }
          - { id: level-low, select: { metric: level }, below: -1, severity: info }

        """
}
