import DeviceProfiles
import Foundation
import GatewayCore

/// What `citygate profile ...` does, as functions returning text and an exit status, so tests can call them.
public enum ProfileTool {
    /// The outcome of a tool command.
    public struct Output: Sendable {
        /// Text for standard output.
        public var text: String
        /// Process exit status: 0 success, 1 failures found, 2 usage or load error.
        public var status: Int32
    }

    /// Validates files (or directories); prints `file:line:col: error: ...` for every problem.
    public static func validate(paths: [String]) -> Output {
        var lines: [String] = []
        var failed = false
        var all: [Profile] = []
        for file in expand(paths) {
            do {
                let profiles = try ProfileLoader.load(file: file)
                all += profiles
                for p in profiles { lines.append("ok    \(file): \(p.reference) (\(p.family), \(matchSummary(p)))") }
            } catch {
                failed = true
                lines.append(error.description)
            }
        }
        if !failed {
            do {
                _ = try ProfileSet(all)
            } catch {
                failed = true
                lines.append(error.description)
            }
        }
        if lines.isEmpty { return Output(text: "no profile files found in \(paths.joined(separator: " "))\n", status: 2) }
        return Output(text: lines.joined(separator: "\n") + "\n", status: failed ? 1 : 0)
    }

    /// Decodes one payload with one profile file and prints the samples as a table.
    ///
    /// `payload` is hex for raw input, the text itself for ascii-hex/base64/text, JSON text for json input.
    public static func decode(file: String, payload: String, topic: String?, attributes: [String: String] = [:], json: Bool = false) -> Output {
        let profiles: [Profile]
        do {
            profiles = try ProfileLoader.load(file: file)
        } catch {
            return Output(text: error.description + "\n", status: 2)
        }
        guard let profile = profiles.first else { return Output(text: "\(file): no profile\n", status: 2) }
        let bytes: [UInt8]
        if profile.input == .raw {
            guard let b = HexCodec.decode(payload) else { return Output(text: "--payload must be hex for a profile with input: raw\n", status: 2) }
            bytes = b
        } else {
            bytes = Array(payload.utf8)
        }
        var captures: [String: String] = [:]
        if let t = topic {
            guard let c = profile.allTemplates.lazy.compactMap({ $0.template.match(t) }).first else {
                return Output(text: "topic '\(t)' matches none of \(matchSummary(profile))\n", status: 2)
            }
            captures = c
        } else if !profile.allTemplates.isEmpty {
            captures = ["deviceId": "cli-device"]
        }
        do {
            let r = try profile.decode(payload: bytes, captures: captures, attributes: attributes, receiveTimeMs: WallClock.nowMs())
            if json { return Output(text: jsonLines(r) + "\n", status: 0) }
            return Output(text: table(r, profile: profile), status: 0)
        } catch {
            return Output(text: "decode failed (\(profile.reference)): \(error)\n", status: 1)
        }
    }

    /// A profile's match templates for listings: `mqtt a/{deviceId}, coap nb/{deviceId}/up, udp`.
    static func matchSummary(_ profile: Profile) -> String {
        var parts = profile.allTemplates.map { $0.transport == .mqtt ? $0.template.description : "\($0.transport.rawValue) \($0.template)" }
        if profile.acceptsUDP { parts.append("udp") }
        return parts.joined(separator: ", ")
    }

    /// Runs the inline tests of files or directories and prints a pass/fail table.
    public static func test(paths: [String]) -> Output {
        var rows: [[String]] = [["RESULT", "PROFILE", "TEST", "LINE", "DETAIL"]]
        var passed = 0
        var failed = 0
        var loadErrors: [String] = []
        for file in expand(paths) {
            let profiles: [Profile]
            do {
                profiles = try ProfileLoader.load(file: file)
            } catch {
                loadErrors.append(error.description)
                continue
            }
            for p in profiles {
                if p.tests.isEmpty {
                    rows.append(["FAIL", p.id, "(no tests)", "\(p.line)", "a profile must carry test vectors"])
                    failed += 1
                }
                for o in ProfileTestRunner.run(p) {
                    if o.passed { passed += 1 } else { failed += 1 }
                    rows.append([o.passed ? "pass" : "FAIL", p.id, o.name, "\(o.line)", o.failures.joined(separator: "; ")])
                }
            }
        }
        var text = render(rows)
        text += loadErrors.map { $0 + "\n" }.joined()
        text += "\(passed) passed, \(failed + loadErrors.count) failed\n"
        let status: Int32 = (failed + loadErrors.count) > 0 ? 1 : (passed == 0 ? 2 : 0)
        return Output(text: text, status: status)
    }

    static func expand(_ paths: [String]) -> [String] {
        paths.flatMap { path -> [String] in
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue { return ProfileLoader.profileFiles(in: path) }
            return [path]
        }
    }

    static func table(_ r: DecodeResult, profile: Profile) -> String {
        var rows: [[String]] = [["DEVICE", "METRIC", "VALUE", "UNIT", "LABEL", "DEVICE TIME", "QUALITY"]]
        for (i, s) in r.samples.enumerated() {
            rows.append([s.device, s.metric, Value.number(s.value).description, s.unit, r.labels[i] ?? "", s.deviceTimeMs.map(iso8601) ?? "-", s.quality.description])
        }
        var text = "decoded with \(profile.reference): \(r.samples.count) sample(s)\n" + render(rows)
        for s in r.statuses {
            var parts: [String] = []
            if let b = s.battery { parts.append("battery=\(Value.number(b.value))\(b.unit)") }
            if let v = s.rsrpDbm { parts.append("rsrp=\(Value.number(v))dBm") }
            if let v = s.sinrDb { parts.append("sinr=\(Value.number(v))dB") }
            if let v = s.csqDbm { parts.append("csq=\(Value.number(v))dBm") }
            for (k, v) in s.attributes.sorted(by: { $0.key < $1.key }) { parts.append("\(k)=\(v)") }
            text += "device \(s.device): \(parts.joined(separator: " "))\n"
        }
        for w in r.warnings { text += "warning: \(w)\n" }
        return text
    }

    static func jsonLines(_ r: DecodeResult) -> String {
        r.samples.enumerated().map { i, s in
            var fields = ["\"device\":\(JSONValue.string(s.device).jsonText)", "\"metric\":\"\(s.metric)\"", "\"value\":\(JSONValue.number(s.value).jsonText)",
                          "\"unit\":\(JSONValue.string(s.unit).jsonText)", "\"quality\":\"\(s.quality)\"", "\"receive_time_ms\":\(s.receiveTimeMs)"]
            if let t = s.deviceTimeMs { fields.append("\"device_time_ms\":\(t)") }
            if let l = r.labels[i] { fields.append("\"label\":\(JSONValue.string(l).jsonText)") }
            return "{" + fields.joined(separator: ",") + "}"
        }.joined(separator: "\n")
    }

    /// Left-aligned columns.
    public static func render(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        var widths = Array(repeating: 0, count: first.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count - 1 { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { i, c in i < widths.count - 1 ? c.padding(toLength: widths[i], withPad: " ", startingAt: 0) : c }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// `2026-01-01T00:00:00.000Z`.
    public static func iso8601(_ ms: Int64) -> String {
        let d = Date(timeIntervalSince1970: Double(ms) / 1000)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: d)
    }
}
