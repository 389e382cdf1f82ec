@testable import Alerts
import DeviceProfiles
import Foundation
import Testing

@Suite("Rule files")
struct RuleLoaderTests {
    @Test func everyKindParses() throws {
        let set = try rules("""
            device_tags:
              cover-1: { district: lixia, site: school }
            rules:
              - { id: a, select: { metric: m }, above: 10, clear: 8, for: 2m, severity: critical, channels: [mqtt] }
              - { id: b, select: { metric: m }, below: 1 }
              - { id: c, select: { metric: m }, outside: [1, 5], clear: [1.5, 4.5] }
              - { id: d, select: { metric: m }, rate: { limit: 0.3, per: 10m, direction: down } }
              - { id: e, select: { metric: m }, stuck: { for: 6h } }
              - { id: f, select: { family: [neuron, farm] }, no_data: { factor: 3 } }
              - { id: g, select: { metric: alarm }, event: [1, 2], clear_on_silence: 15m }
              - { id: h, select: { metric: m }, anomaly: 0.9, clear: 0.5, escalate: { after: 10m, channels: [duty] } }
            """)
        #expect(set.rules.map(\.condition.kind) == ["above", "below", "outside", "rate", "stuck", "no_data", "event", "anomaly"])
        #expect(set.rules[0].condition == .above(level: 10, clear: 8))
        #expect(set.rules[0].forMs == 120_000 && set.rules[0].severity == .critical && set.rules[0].channels == ["mqtt"])
        #expect(set.rules[1].condition == .below(level: 1, clear: 1), "no clear level: the threshold itself")
        #expect(set.rules[3].condition == .rate(limit: 0.3, perMs: 600_000, direction: .down))
        #expect(set.rules[5].condition == .noData(factor: 3, minimumMs: 60_000))
        #expect(set.rules[6].condition == .event(codes: [1, 2]) && set.rules[6].clearOnSilenceMs == 900_000)
        #expect(set.rules[7].escalation == AlertRule.Escalation(afterMs: 600_000, severity: .major, channels: ["duty"]))
        #expect(set.deviceTags["cover-1"] == ["district": "lixia", "site": "school"])
    }

    func error(_ yaml: String, knownChannels: Set<String>? = nil) -> String {
        do {
            _ = try RuleSet.parse(files: [("rules/x.yaml", yaml)], knownChannels: knownChannels)
            return "no error"
        } catch {
            return error.description
        }
    }

    /// The engine multiplies no_data.factor by the report interval in Int64 milliseconds; `factor: inf` (or 1e300)
    /// trapped there on the first tick, so the loader bounds it, and durations that overflow are errors too.
    @Test(arguments: ["no_data: { factor: inf }", "no_data: { factor: 1e300 }", "no_data: { factor: 1001 }",
                      "no_data: { minimum: 2222222222222222230d }", "stuck: { for: 9223372036854775807h }"])
    func numbersTheEngineCannotHoldAreLineNumberedErrors(_ condition: String) {
        let message = error("""
            rules:
              - id: a
                select: { metric: m }
                \(condition)
            """)
        #expect(message.hasPrefix("rules/x.yaml:4:"), "\(message)")
    }

    @Test func errorsNameFileLineAndColumn() {
        #expect(error("""
            rules:
              - id: a
                select: { metric: m }
                above: 10
                clear: 12
            """).hasPrefix("rules/x.yaml:5:"))
        #expect(error("""
            rules:
              - id: a
                select: { metric: m }
                abvoe: 10
            """).hasPrefix("rules/x.yaml:4:5: error: unknown key 'abvoe'"))
        #expect(error("""
            rules:
              - id: a
                select: { metric: m }
                above: 10
                below: 2
            """).contains("exactly one condition"))
        #expect(error("""
            rules:
              - id: a
                above: 10
            """).contains("needs 'select: { metric: ... }'"))
        #expect(error("""
            rules:
              - id: a
                select: { metric: m }
                above: 10
                for: soon
            """).hasPrefix("rules/x.yaml:5:10: error: for: 'soon' is not a duration"))
        #expect(error("""
            rules:
              - id: a
                select: { metric: m }
                above: 10
                channels: [pager]
            """, knownChannels: ["mqtt", "feed"]).contains("unknown channel 'pager'"))
        #expect(error("rules: [ { id: a, select: { metric: m }, above: 1 }, { id: a, select: { metric: m }, below: 1 } ]").contains("already defined"))
        #expect(error("rules:\n  - id: a\n    select: {metric: m\n").hasPrefix("rules/x.yaml:"))
        #expect(error("rules: [ { id: 'a b', select: { metric: m }, above: 1 } ]").contains("without spaces"))
        #expect(error("rules: [ { id: a, select: { family: bus }, no_data: true } ]").contains("unknown family 'bus'"))
    }

    @Test func loadsADirectoryAndReportsEveryBrokenFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rules-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "rules: [ { id: a, select: { metric: m }, above: 1 } ]".write(toFile: dir + "/1.yaml", atomically: true, encoding: .utf8)
        try "rules: [ { id: b, select: { metric: m }, above: x } ]".write(toFile: dir + "/2.yaml", atomically: true, encoding: .utf8)
        try "rules: [ { id: c, select: { metric: m }, frob: 1 } ]".write(toFile: dir + "/3.yml", atomically: true, encoding: .utf8)
        #expect(throws: RuleSetError.self) { try RuleSet.load(directory: dir) }
        do {
            _ = try RuleSet.load(directory: dir)
        } catch {
            #expect(error.errors.count == 2)
            #expect(error.errors.map { ($0.file as NSString).lastPathComponent } == ["2.yaml", "3.yml"])
        }
        try FileManager.default.removeItem(atPath: dir + "/2.yaml")
        try FileManager.default.removeItem(atPath: dir + "/3.yml")
        #expect(try RuleSet.load(directory: dir).rules.map(\.id) == ["a"])
        #expect(try RuleSet.load(directory: dir + "/missing").rules.isEmpty)
    }

    @Test func globs() {
        #expect(globMatch("*", "anything"))
        #expect(globMatch("milesight-*", "milesight-em320-tilt"))
        #expect(!globMatch("milesight-*", "dragino-lse01"))
        #expect(globMatch("*-tilt", "milesight-em320-tilt"))
        #expect(globMatch("a*b*c", "aXXbYYc"))
        #expect(!globMatch("a*b*c", "aXXbYY"))
        #expect(globMatch("exact", "exact") && !globMatch("exact", "exact2"))
    }

    @Test func webhookSignatureMatchesAKnownHMACAndRejectsTampering() {
        // HMAC-SHA256("key", "1700000000.{}") computed independently with Python's hmac module.
        let body = Array("{}".utf8)
        let signature = WebhookSignature.sign(body: body, timestamp: 1_700_000_000, secret: "key")
        #expect(signature == "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae")
        #expect(WebhookSignature.verify(body: body, timestamp: 1_700_000_000, signature: signature, secret: "key", now: 1_700_000_100))
        #expect(!WebhookSignature.verify(body: Array("{ }".utf8), timestamp: 1_700_000_000, signature: signature, secret: "key", now: 1_700_000_100))
        #expect(!WebhookSignature.verify(body: body, timestamp: 1_700_000_000, signature: signature, secret: "other", now: 1_700_000_100))
        #expect(!WebhookSignature.verify(body: body, timestamp: 1_700_000_000, signature: signature, secret: "key", now: 1_700_001_000), "too old")
    }
}
