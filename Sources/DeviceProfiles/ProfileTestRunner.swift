import GatewayCore

/// Runs a profile's inline `tests:` and reports each as passed or failed with the reasons.
public enum ProfileTestRunner {
    /// The outcome of one vector.
    public struct Outcome: Sendable {
        /// Profile id.
        public let profileID: String
        /// Test name.
        public let name: String
        /// Line of the test in the profile file.
        public let line: Int
        /// Every mismatch; empty means passed.
        public let failures: [String]
        /// Passed?
        public var passed: Bool { failures.isEmpty }
    }

    /// A fixed receive time for tests, so outputs do not depend on when they run (2026-01-01T00:00:00Z).
    public static let testReceiveTimeMs: Int64 = 1_767_225_600_000

    /// Runs every test of a profile.
    public static func run(_ profile: Profile) -> [Outcome] {
        profile.tests.map { run($0, of: profile) }
    }

    static func topic(for test: ProfileTest, profile: Profile) -> String {
        if let t = test.topic { return t }
        guard let template = profile.allTemplates.first?.template else { return "" }
        return template.segments.map { s -> String in
            switch s {
            case .literal(let l): return l
            case .capture(let name): return name == "deviceId" ? "test-device" : name
            case .any, .rest: return "x"
            }
        }.joined(separator: "/")
    }

    static func run(_ test: ProfileTest, of profile: Profile) -> Outcome {
        var failures: [String] = []
        let topic = topic(for: test, profile: profile)
        var captures: [String: String] = [:]
        if let t = profile.allTemplates.lazy.compactMap({ $0.template.match(topic) }).first {
            captures = t
        } else if !profile.allTemplates.isEmpty {
            failures.append("topic '\(topic)' matches none of the profile's templates")
        }
        let result: DecodeResult
        do {
            result = try profile.decode(payload: test.payload, captures: captures, attributes: test.attributes, receiveTimeMs: test.receiveTimeMs ?? testReceiveTimeMs)
        } catch {
            if let expected = test.expectedError {
                if let k = expected.kind, k != error.kind.rawValue { failures.append("expected error kind \(k), got \(error.kind.rawValue): \(error.message)") }
                if let c = expected.contains, !error.message.contains(c) { failures.append("expected error containing '\(c)', got '\(error.message)'") }
            } else {
                failures.append("decode failed: \(error)")
            }
            return Outcome(profileID: profile.id, name: test.name, line: test.line, failures: failures)
        }
        if let e = test.expectedError {
            failures.append("expected an error (\(e.kind ?? "")\(e.contains.map { " containing '\($0)'" } ?? "")), but it decoded to \(result.samples.count) samples")
        }
        if let d = test.expectedDevice {
            let devices = Set(result.samples.map(\.device)).union(result.statuses.map(\.device))
            if devices != [d] { failures.append("device: expected \(d), got \(devices.sorted().joined(separator: ", "))") }
        }
        for e in test.expectedSamples {
            let matching = result.samples.indices.filter { result.samples[$0].metric == e.metric }
            guard e.index < matching.count else {
                failures.append("\(e.metric)\(e.index > 0 ? "[\(e.index)]" : ""): missing (decoded: \(Set(result.samples.map(\.metric)).sorted().joined(separator: ", ")))")
                continue
            }
            let i = matching[e.index]
            let s = result.samples[i]
            switch e.value {
            case .number(let want):
                if !close(s.value, want, test.tolerance) { failures.append("\(e.metric): expected \(Value.number(want)), got \(Value.number(s.value))") }
            case .text(let want):
                let label = result.labels[i]
                if label != want { failures.append("\(e.metric): expected '\(want)', got \(label.map { "'\($0)'" } ?? "no label") (value \(Value.number(s.value)))") }
            }
            if let u = e.unit, u != s.unit { failures.append("\(e.metric): expected unit \(u), got '\(s.unit)'") }
            if let t = e.timeMs, t != s.deviceTimeMs { failures.append("\(e.metric): expected time \(t), got \(s.deviceTimeMs.map(String.init) ?? "none")") }
            if let q = e.quality, q != s.quality.description { failures.append("\(e.metric): expected quality \(q), got \(s.quality)") }
        }
        for m in test.absentMetrics where result.samples.contains(where: { $0.metric == m }) {
            failures.append("\(m): expected absent, but decoded")
        }
        for (key, want) in test.expectedStatus.sorted(by: { $0.key < $1.key }) {
            let got = statusValue(key, result.statuses.first)
            switch (want, got) {
            case (.number(let w), .number(let g)?): if !close(g, w, test.tolerance) { failures.append("status \(key): expected \(Value.number(w)), got \(Value.number(g))") }
            case (.text(let w), let g?): if g.description != w { failures.append("status \(key): expected \(w), got \(g)") }
            case (.number(let w), let g?): if g.number.map({ !close($0, w, test.tolerance) }) ?? true { failures.append("status \(key): expected \(Value.number(w)), got \(g)") }
            case (_, nil): failures.append("status \(key): missing")
            }
        }
        return Outcome(profileID: profile.id, name: test.name, line: test.line, failures: failures)
    }

    static func close(_ a: Double, _ b: Double, _ tolerance: Double) -> Bool {
        if a == b { return true }
        let scale = max(1, abs(a), abs(b))
        return abs(a - b) <= tolerance * scale
    }

    static func statusValue(_ key: String, _ status: DeviceStatus?) -> Value? {
        guard let s = status else { return nil }
        switch key {
        case "battery": return s.battery.map { .number($0.value) }
        case "battery_unit": return s.battery.map { .string($0.unit) }
        case "csq_dbm": return s.csqDbm.map { .number($0) }
        case "rsrp_dbm": return s.rsrpDbm.map { .number($0) }
        case "sinr_db": return s.sinrDb.map { .number($0) }
        case "ecl": return s.ecl.map { .number($0) }
        default: return s.attributes[key].map { .string($0) }
        }
    }
}
