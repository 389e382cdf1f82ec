import Foundation

/// A small JSON device profile for configuration tests: `test/meter/{deviceId}/up` with payloads
/// `{"ts": <unix ms>, "seq": N, "raw": R}`, decoded into `seq` and `level` = R × `scale` (metres), at the device time.
/// Its own test vector expects `level` = 3 × `scale` for `raw` 3, so a text whose vector disagrees can be built too.
public enum MeterProfile {
    /// The profile id.
    public static let id = "test-meter"

    /// The topic a device publishes on.
    public static func topic(device: String) -> String { "test/meter/\(device)/up" }

    /// A payload.
    public static func payload(seq: Int, raw: Int, timeMs: Int64) -> String { "{\"ts\": \(timeMs), \"seq\": \(seq), \"raw\": \(raw)}" }

    /// The profile's YAML: `version`, the scale applied to `raw`, further MQTT templates, and the `level` the test
    /// vector expects for `raw` 3 (default: the right one, 3 × scale).
    public static func yaml(version: Int, scale: Int, id: String = MeterProfile.id, extraTemplates: [String] = [], expectedLevel: Int? = nil) -> String {
        let templates = (["test/meter/{deviceId}/up"] + extraTemplates).map { "\"\($0)\"" }.joined(separator: ", ")
        return """
            # A test meter (CityGate configuration tests).
            id: \(id)
            version: \(version)
            vendor: CityGate Test
            model: Meter
            family: neuron
            report_interval: 1m
            match:
              mqtt: [\(templates)]
            input: json
            decode:
              - { name: time, path: "$.ts", role: time, format: unix-ms }
              - { name: seq, path: "$.seq", required: true }
              - { name: level, path: "$.raw", scale: \(scale), unit: m }
            tests:
              - name: a reading
                payload: '{"ts": 1767225600000, "seq": 7, "raw": 3}'
                expect:
                  samples: { seq: 7, level: \(expectedLevel ?? 3 * scale) }

            """
    }

    /// A version with a misspelt key on the `level` line (`scael`): refused, the error on that line.
    public static func brokenYAML(version: Int) -> String {
        yaml(version: version, scale: 1).replacingOccurrences(of: "scale: 1,", with: "scael: 1,")
    }

    /// The 1-based line of the first line of `text` containing `needle` (for checking error positions).
    public static func line(of needle: String, in text: String) -> Int? {
        text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(needle) }.map { $0 + 1 }
    }
}
