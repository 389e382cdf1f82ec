/// A topic template with named parts: `city/{district}/dragino/ndds75/{deviceId}/up`.
///
/// Segments are literals, `+` (any one level), `#` (the rest, last only) or `{name}` (one level, captured).
/// The MQTT subscription filter follows from it (`{name}` becomes `+`). The same syntax matches CoAP Uri-Paths
/// (segments joined by `/`) and the carrier push routes (`{productId}/{deviceId}`, `{productId}/{deviceId}/{dsId}`).
public struct TopicTemplate: Sendable, Hashable, CustomStringConvertible {
    enum Segment: Sendable, Hashable {
        case literal(String)
        case any
        case rest
        case capture(String)
    }

    let segments: [Segment]
    /// The template as written.
    public let description: String
    /// Literal levels as UTF-8, parallel to `segments` (empty for wildcards), for byte-level matching.
    let literalBytes: [[UInt8]]

    init(segments: [Segment], description: String) {
        self.segments = segments
        self.description = description
        self.literalBytes = segments.map { s in if case .literal(let l) = s { return Array(l.utf8) } else { return [] } }
    }

    /// Parses a template.
    public static func parse(_ text: String) -> Result<TopicTemplate, ProfileError.Reason> {
        if text.isEmpty { return .failure(.init("empty topic template")) }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        var segments: [Segment] = []
        var names = Set<String>()
        for (i, p) in parts.enumerated() {
            if p == "+" {
                segments.append(.any)
            } else if p == "#" {
                guard i == parts.count - 1 else { return .failure(.init("'#' must be the last level of '\(text)'")) }
                segments.append(.rest)
            } else if p.hasPrefix("{"), p.hasSuffix("}"), p.count > 2 {
                let name = String(p.dropFirst().dropLast())
                guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    return .failure(.init("invalid part name '{\(name)}' in '\(text)'"))
                }
                guard names.insert(name).inserted else { return .failure(.init("part '{\(name)}' appears twice in '\(text)'")) }
                segments.append(.capture(name))
            } else if p.contains("+") || p.contains("#") || p.contains("{") || p.contains("}") {
                return .failure(.init("wildcards must fill a whole level in '\(text)'"))
            } else {
                segments.append(.literal(String(p)))
            }
        }
        return .success(TopicTemplate(segments: segments, description: text))
    }

    /// The MQTT subscription filter that covers the template.
    public var subscriptionFilter: String {
        segments.map { s -> String in
            switch s {
            case .literal(let l): return l
            case .any, .capture: return "+"
            case .rest: return "#"
            }
        }.joined(separator: "/")
    }

    /// The names of the `{name}` parts, in order.
    public var captureNames: [String] {
        segments.compactMap { s -> String? in if case .capture(let c) = s { return c } else { return nil } }
    }

    /// Number of literal levels: more literals means a more specific template.
    var specificity: Int {
        segments.reduce(0) { acc, s in if case .literal = s { return acc + 1 } else { return acc } }
    }

    /// Matches a concrete topic; returns the captured parts, or nil.
    public func match(_ topic: String) -> [String: String]? {
        guard let c = captures(topic) else { return nil }
        return Dictionary(c.pairs, uniquingKeysWith: { a, _ in a })
    }

    /// Matches on the topic's UTF-8 bytes: no `String.Index` walking, and a `String` is made only per capture.
    func captures(_ topic: String) -> TopicCaptures? {
        var t = topic
        return t.withUTF8 { buf -> TopicCaptures? in
            var captures = TopicCaptures()
            var level = 0
            var start = 0
            var i = 0
            while i <= buf.count {
                if i == buf.count || buf[i] == 0x2F {
                    guard level < segments.count else { return nil }
                    switch segments[level] {
                    case .literal:
                        let lit = literalBytes[level]
                        guard lit.count == i - start else { return nil }
                        for k in 0..<lit.count where buf[start + k] != lit[k] { return nil }
                    case .any: break
                    case .capture(let name):
                        if i == start { return nil }
                        captures.pairs.append((name, String(decoding: UnsafeBufferPointer(rebasing: buf[start..<i]), as: UTF8.self)))
                    case .rest: return captures
                    }
                    level += 1
                    start = i + 1
                }
                i += 1
            }
            if level == segments.count { return captures }
            if level == segments.count - 1, case .rest = segments[level] { return captures }
            return nil
        }
    }
}

/// The parts a topic template captured, in template order. A few pairs searched linearly: cheaper per message
/// than building a dictionary.
struct TopicCaptures: Sendable {
    var pairs: [(String, String)] = []

    init() {}

    init(_ dictionary: [String: String]) { pairs = dictionary.map { ($0.key, $0.value) } }

    subscript(name: String) -> String? {
        for (k, v) in pairs where k == name { return v }
        return nil
    }
}
