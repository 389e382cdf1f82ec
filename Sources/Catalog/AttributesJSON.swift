import GatewayCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `[String: String]` ⇄ JSON object text, for the `attributes` columns.
///
/// Encoding is hand-written because it runs for every dead letter appended (bursts of thousands when the ingest
/// queue overflows) and the shape is fixed; keys are sorted so equal maps give equal text. Decoding uses
/// Foundation, which is only on read paths (open, list).
enum AttributesJSON {
    /// Encodes `attributes` as a JSON object with sorted keys.
    static func encode(_ attributes: [String: String]) -> String {
        if attributes.isEmpty { return "{}" }
        var out = "{"
        for (index, key) in attributes.keys.sorted().enumerated() {
            if index > 0 { out += "," }
            appendQuoted(key, to: &out)
            out += ":"
            appendQuoted(attributes[key]!, to: &out)
        }
        out += "}"
        return out
    }

    /// Decodes a JSON object of strings; nil when `text` is not one.
    static func decode(_ text: String) -> [String: String]? {
        if text == "{}" { return [:] }
        return try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))
    }

    private static func appendQuoted(_ string: String, to out: inout String) {
        JSONText.appendQuoted(string, to: &out)
    }
}
