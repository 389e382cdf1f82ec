import Foundation
import Yams

/// Reads a Yams node tree with positions, so every error a vendor or operator sees names the file, line and column.
/// Shared by the profile loader and the gateway configuration loader.
public struct YAMLReader: Sendable {
    /// The file name used in errors.
    public let file: String

    /// Creates a reader for errors that name `file`.
    public init(file: String) { self.file = file }

    public func error(_ node: Node?, _ message: String) -> ProfileError {
        let mark = node?.mark
        return ProfileError(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, message: message)
    }

    public func parse(_ text: String) throws(ProfileError) -> Node {
        do {
            guard let node = try Yams.compose(yaml: text) else { throw error(nil, "the file is empty") }
            return node
        } catch {
            throw positioned(error)
        }
    }

    /// Splits a multi-document stream (`---`) into roots.
    public func parseAll(_ text: String) throws(ProfileError) -> [Node] {
        do {
            var roots: [Node] = []
            var documents = try Yams.compose_all(yaml: text)
            while let node = documents.next() { roots.append(node) }
            // The sequence stops at a parse error and keeps it: rethrow it, or a broken file would read as empty.
            if let e = documents.error { throw e }
            if roots.isEmpty { throw error(nil, "the file is empty") }
            return roots
        } catch {
            throw positioned(error)
        }
    }

    /// Any error from parsing as a `ProfileError` with the position Yams reported.
    private func positioned(_ error: any Error) -> ProfileError {
        switch error {
        case let e as ProfileError: return e
        case let YamlError.scanner(_, problem, mark, _), let YamlError.parser(_, problem, mark, _), let YamlError.composer(_, problem, mark, _):
            return ProfileError(file: file, line: mark.line, column: mark.column, message: "YAML: \(problem)")
        default: return ProfileError(file: file, line: 0, column: 0, message: "YAML: \(error)")
        }
    }

    /// The ordered key/value pairs of a mapping, with duplicate keys refused.
    public func mapping(_ node: Node, _ what: String) throws(ProfileError) -> [(key: String, keyNode: Node, value: Node)] {
        guard case .mapping(let m) = node else { throw error(node, "\(what) must be a mapping") }
        var seen = Set<String>()
        var out: [(key: String, keyNode: Node, value: Node)] = []
        for (k, v) in m {
            guard let key = k.scalar?.string else { throw error(k, "\(what): keys must be plain scalars") }
            if !seen.insert(key).inserted { throw error(k, "\(what): duplicate key '\(key)'") }
            out.append((key, k, v))
        }
        return out
    }

    public func sequence(_ node: Node, _ what: String) throws(ProfileError) -> [Node] {
        guard case .sequence(let s) = node else { throw error(node, "\(what) must be a list") }
        return Array(s)
    }

    public func string(_ node: Node, _ what: String) throws(ProfileError) -> String {
        guard case .scalar(let s) = node else { throw error(node, "\(what) must be a scalar") }
        return s.string
    }

    public func int(_ node: Node, _ what: String) throws(ProfileError) -> Int {
        let text = try string(node, what)
        guard let value = YAMLReader.parseInt(text) else { throw error(node, "\(what) must be an integer, found '\(text)'") }
        return value
    }

    public func double(_ node: Node, _ what: String) throws(ProfileError) -> Double {
        let text = try string(node, what)
        if let i = YAMLReader.parseInt(text) { return Double(i) }
        guard let value = Double(text.replacingOccurrences(of: "_", with: "")) else {
            throw error(node, "\(what) must be a number, found '\(text)'")
        }
        return value
    }

    public func bool(_ node: Node, _ what: String) throws(ProfileError) -> Bool {
        switch try string(node, what).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        case let other: throw error(node, "\(what) must be true or false, found '\(other)'")
        }
    }

    /// Accepts `1`, `-3`, `0x1F`, `0b101`, `1_000`.
    public static func parseInt(_ raw: String) -> Int? {
        var text = raw.replacingOccurrences(of: "_", with: "")
        var negative = false
        if text.hasPrefix("-") {
            negative = true
            text.removeFirst()
        } else if text.hasPrefix("+") {
            text.removeFirst()
        }
        // One sign only: `--5` is not an integer (and `--9223372036854775808` negated Int.min).
        if text.hasPrefix("-") || text.hasPrefix("+") { return nil }
        let value: Int?
        if text.hasPrefix("0x") || text.hasPrefix("0X") {
            value = Int(text.dropFirst(2), radix: 16)
        } else if text.hasPrefix("0b") || text.hasPrefix("0B") {
            value = Int(text.dropFirst(2), radix: 2)
        } else {
            value = Int(text)
        }
        guard let v = value else { return nil }
        return negative ? -v : v
    }

    /// The longest duration accepted, in seconds (about 292 years): any duration then fits `Int64` nanoseconds, so
    /// no later conversion can overflow. Longer ones, like values that overflow while parsing, are not durations.
    public static let maxDurationSeconds = Int(Int64.max / 1_000_000_000)

    /// Parses `250ms`, `90s`, `20m`, `1h`, `2d`, or a plain number of seconds, into milliseconds.
    public static func parseDurationMilliseconds(_ raw: String) -> Int64? {
        let text = raw.trimmingCharacters(in: .whitespaces)
        if text.hasSuffix("ms"), let n = Int64(text.dropLast(2)) {
            return n.magnitude <= UInt64(maxDurationSeconds) * 1000 ? n : nil
        }
        return parseDurationSeconds(text).map { Int64($0) * 1000 }
    }

    /// Parses `512`, `64KiB`, `500MiB`, `10GiB` (also KB/MB/GB as powers of 1000) into bytes.
    public static func parseByteSize(_ raw: String) -> Int64? {
        let text = raw.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int64)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40), ("KB", 1_000), ("MB", 1_000_000),
                                        ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("B", 1)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let n = Double(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n >= 0 else { return nil }
            // `inf GiB` or `1e10 TiB` would trap in the conversion: not a size.
            let bytes = n * Double(factor)
            guard bytes < 9.2e18 else { return nil }
            return Int64(bytes)
        }
        return Int64(text)
    }

    /// Parses `90s`, `20m`, `1h`, `2d`, or a plain number of seconds.
    /// Up to `maxDurationSeconds`, either sign; nil for anything else (an overflowing `2222222222222222230d` trapped).
    public static func parseDurationSeconds(_ raw: String) -> Int? {
        let text = raw.trimmingCharacters(in: .whitespaces)
        let n: Int
        let scale: Int
        if let plain = Int(text) {
            (n, scale) = (plain, 1)
        } else {
            guard let unit = text.last, let count = Int(text.dropLast()) else { return nil }
            switch unit {
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d": scale = 86400
            default: return nil
            }
            n = count
        }
        let (seconds, overflow) = n.multipliedReportingOverflow(by: scale)
        guard !overflow, seconds.magnitude <= UInt(maxDurationSeconds) else { return nil }
        return seconds
    }
}

extension Node {
    /// The scalar text, or nil for mappings and sequences.
    public var scalarText: String? {
        if case .scalar(let s) = self { return s.string }
        return nil
    }
}
