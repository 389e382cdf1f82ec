/// An MQTT topic template with named parts: `city/{district}/dragino/ndds75/{deviceId}/up`.
///
/// Segments are literals, `+` (any one level), `#` (the rest, last only) or `{name}` (one level, captured).
/// The MQTT subscription filter follows from it (`{name}` becomes `+`).
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

    /// Number of literal levels: more literals means a more specific template.
    var specificity: Int {
        segments.reduce(0) { acc, s in if case .literal = s { return acc + 1 } else { return acc } }
    }

    /// Matches a concrete topic; returns the captured parts, or nil.
    public func match(_ topic: String) -> [String: String]? {
        var captures: [String: String] = [:]
        var index = topic.startIndex
        for (i, segment) in segments.enumerated() {
            if case .rest = segment { return captures }
            if index > topic.endIndex { return nil }
            let end = topic[index...].firstIndex(of: "/") ?? topic.endIndex
            let level = topic[index..<end]
            switch segment {
            case .literal(let l): if level != l { return nil }
            case .any: break
            case .capture(let name):
                if level.isEmpty { return nil }
                captures[name] = String(level)
            case .rest: return captures
            }
            if end == topic.endIndex {
                return i == segments.count - 1 ? captures : (i == segments.count - 2 && segments.last == .rest ? captures : nil)
            }
            index = topic.index(after: end)
        }
        return nil
    }
}
