import Foundation
import Gateway
import GatewayTesting
import Testing

/// The `citygate` binary of the build that built these tests: beside the test bundle (so a sanitizer build's tests
/// run its own sanitized binary), else `.build/debug/citygate`.
let citygateExecutable: String? = {
    var candidates: [String] = []
    if let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        candidates.append(URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("citygate").path)
    }
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    candidates.append(url.path + "/.build/debug/citygate")
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

@Suite("SIGHUP reload of rules and profiles", .serialized, .enabled(if: citygateExecutable != nil, "build the citygate executable first (swift build)"))
struct ReloadTests {
    @Test func aBrokenRuleFileIsRefusedWithItsLineAndTheRunningRulesStay() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("rules"), withIntermediateDirectories: true)
        let rules = dir.file("rules/r.yaml")
        try "rules: [ { id: first, select: { metric: m }, above: 1 } ]\n".write(toFile: rules, atomically: true, encoding: .utf8)
        try """
            data_dir: \(dir.file("data"))
            profiles_dir: \(Repo.profiles)
            log_level: info
            mqtt: { port: \(broker.port), client_id: reload-test }
            alerts: { rules_dir: \(dir.file("rules")), mqtt: { enabled: false } }
            """.write(toFile: dir.file("gateway.yaml"), atomically: true, encoding: .utf8)
        let log = dir.file("gateway.log")
        let child = try ChildProcess.spawn(executable: citygateExecutable!, arguments: ["run", "-c", dir.file("gateway.yaml")], stdoutPath: log)
        defer { child.send(SIGKILL); _ = child.wait() }
        #expect(await waitUntil(timeout: .seconds(20)) { FileContents.text(atPath: log).contains("Alert engine started") })
        try await Task.sleep(for: .milliseconds(300))

        try "rules:\n  - id: second\n    select: { metric: m }\n    abovee: 2\n".write(toFile: rules, atomically: true, encoding: .utf8)
        child.send(SIGHUP)
        #expect(await waitUntil(timeout: .seconds(10)) { FileContents.text(atPath: log).contains("Alert rules refused") })
        #expect(FileContents.text(atPath: log).contains("r.yaml:4:5"), "the error names the line")
        #expect(FileContents.text(atPath: log).contains("Profiles reloaded"), "profiles reload independently")

        try "rules: [ { id: a, select: { metric: m }, above: 1 }, { id: b, select: { metric: m }, below: 0 } ]\n".write(toFile: rules, atomically: true, encoding: .utf8)
        child.send(SIGHUP)
        #expect(await waitUntil(timeout: .seconds(10)) { FileContents.text(atPath: log).contains("alerts.rules=2") })

        child.send(SIGTERM)
        let status = await child.wait(timeout: .seconds(10))
        #expect(status == .exited(0), "SIGTERM after reloads still shuts down cleanly")
    }

    /// The profile swap of ConfigReloadTests through the real binary: the file is edited on disk and SIGHUP sent;
    /// the new version decodes what follows and is recorded as a version by `disk`; a broken edit is refused with
    /// its line and the running version stays.
    @Test func aProfileEditedOnDiskIsSwappedBySIGHUPAndABrokenEditIsRefused() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let dir = try TemporaryDirectory()
        let profiles = dir.file("profiles")
        try FileManager.default.createDirectory(atPath: profiles + "/test", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("data"), withIntermediateDirectories: true)
        let meter = profiles + "/test/meter.yaml"
        try MeterProfile.yaml(version: 1, scale: 1).write(toFile: meter, atomically: true, encoding: .utf8)
        let httpPort = try FreePort.next()
        try """
            data_dir: \(dir.file("data"))
            profiles_dir: \(profiles)
            log_level: info
            mqtt: { port: \(broker.port), client_id: reload-profile-test }
            http: { enabled: true, host: 127.0.0.1, port: \(httpPort) }
            alerts: { enabled: false }
            """.write(toFile: dir.file("gateway.yaml"), atomically: true, encoding: .utf8)
        let token = try APITokenStore(path: dir.file("data/api.db")).create(name: "viewer-hup", role: .viewer)
        let api = ConfigClient(port: httpPort)
        let log = dir.file("gateway.log")
        let child = try ChildProcess.spawn(executable: citygateExecutable!, arguments: ["run", "-c", dir.file("gateway.yaml")], stdoutPath: log)
        defer { child.send(SIGKILL); _ = child.wait() }
        #expect(await waitUntil(timeout: .seconds(180)) { FreePort.isAccepting(port: httpPort) && FileContents.text(atPath: log).contains("MQTT broker connected") })

        /// Publishes raw 5 at `seq` and waits until it is stored; returns the stored `level`. The same message is
        /// published again every 3 s until it is stored (the first may precede the gateway's subscription).
        let base = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
        func level(seq: Int) async throws -> Double? {
            for attempt in 0..<1_800 {
                if attempt % 30 == 0 {
                    try await mosquittoPub(broker, topic: MeterProfile.topic(device: "m-hup"), message: MeterProfile.payload(seq: seq, raw: 5, timeMs: base + Int64(seq)))
                }
                try await Task.sleep(for: .milliseconds(100))
                let last = try await api.get("/v1/series/m-hup/level/last", token)
                if let p = last.list("points").first, (p["t"] as? NSNumber)?.int64Value == base + Int64(seq) { return (p["v"] as? NSNumber)?.doubleValue }
            }
            return nil
        }
        #expect(try await level(seq: 1) == 5)

        try MeterProfile.yaml(version: 2, scale: 10).write(toFile: meter, atomically: true, encoding: .utf8)
        child.send(SIGHUP)
        #expect(await waitUntil(timeout: .seconds(60)) { FileContents.text(atPath: log).contains("test-meter@2") })
        #expect(try await level(seq: 2) == 50)

        let broken = MeterProfile.brokenYAML(version: 3)
        try broken.write(toFile: meter, atomically: true, encoding: .utf8)
        child.send(SIGHUP)
        #expect(await waitUntil(timeout: .seconds(60)) { FileContents.text(atPath: log).contains("Profiles refused") })
        #expect(FileContents.text(atPath: log).contains("test/meter.yaml:\(MeterProfile.line(of: "scael", in: broken) ?? -1):"), "the error names the line")
        #expect(try await level(seq: 3) == 50, "the running version stays")

        let history = try await api.get("/v1/profiles/\(MeterProfile.id)/versions", token).list("versions")
        #expect(history.map { $0["version"] as? Int } == [2, 1])
        #expect(history.map { $0["author"] as? String } == ["disk", "disk"])
        #expect(try await api.get("/v1/profiles/\(MeterProfile.id)", token)["version"] as? Int == 2)

        child.send(SIGTERM)
        #expect(await child.wait(timeout: .seconds(20)) == .exited(0))
    }
}
