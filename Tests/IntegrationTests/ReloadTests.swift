import Foundation
import GatewayTesting
import Testing

let citygateExecutable: String? = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    let path = url.path + "/.build/debug/citygate"
    return FileManager.default.isExecutableFile(atPath: path) ? path : nil
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
}
