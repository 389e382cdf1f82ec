/// A compiled JSON path: `$.ext.csq`, `$[3].meterValue`, `$.reports[*].value`, `$['odd key']`.
///
/// Only member access, array index (negative counts from the end) and `[*]` are supported: enough for every
/// device family seen, and every step is O(members).
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    enum Component: Sendable, Hashable {
        case member(String)
        case index(Int)
        case all
    }

    let components: [Component]
    /// The path as written.
    public let description: String

    /// True when the path can select several values.
    public var isMulti: Bool { components.contains(.all) }

    /// Compiles a path; nil with a reason when it is not valid.
    public static func compile(_ text: String) -> Result<JSONPath, ProfileError.Reason> {
        var chars = Substring(text)
        guard chars.first == "$" else { return .failure(.init("a JSON path starts with '$', found '\(text)'")) }
        chars.removeFirst()
        var components: [Component] = []
        while let c = chars.first {
            if c == "." {
                chars.removeFirst()
                var name = ""
                while let n = chars.first, n != ".", n != "[" {
                    name.append(n)
                    chars.removeFirst()
                }
                if name.isEmpty { return .failure(.init("empty member name in JSON path '\(text)'")) }
                components.append(.member(name))
            } else if c == "[" {
                chars.removeFirst()
                guard let close = chars.firstIndex(of: "]") else { return .failure(.init("missing ']' in JSON path '\(text)'")) }
                let inner = chars[chars.startIndex..<close]
                chars = chars[chars.index(after: close)...]
                if inner == "*" {
                    components.append(.all)
                } else if let i = Int(inner) {
                    components.append(.index(i))
                } else if inner.count >= 2, inner.first == "'" || inner.first == "\"", inner.last == inner.first {
                    components.append(.member(String(inner.dropFirst().dropLast())))
                } else {
                    return .failure(.init("invalid index '[\(inner)]' in JSON path '\(text)'"))
                }
            } else {
                return .failure(.init("unexpected '\(c)' in JSON path '\(text)'"))
            }
        }
        return .success(JSONPath(components: components, description: text))
    }

    /// The single value the path selects (the first, for `[*]` paths).
    public func first(in root: JSONValue) -> JSONValue? {
        var out: JSONValue?
        visit(root, components[...]) { value in
            out = value
            return false
        }
        return out
    }

    /// Every value the path selects, in document order.
    public func all(in root: JSONValue) -> [JSONValue] {
        var out: [JSONValue] = []
        visit(root, components[...]) { value in
            out.append(value)
            return true
        }
        return out
    }

    /// Walks matches; `body` returns false to stop.
    @discardableResult
    private func visit(_ value: JSONValue, _ rest: ArraySlice<Component>, _ body: (JSONValue) -> Bool) -> Bool {
        guard let head = rest.first else { return body(value) }
        let tail = rest.dropFirst()
        switch head {
        case .member(let name):
            guard let next = value[name] else { return true }
            return visit(next, tail, body)
        case .index(let i):
            guard case .array(let elements) = value else { return true }
            let j = i < 0 ? elements.count + i : i
            guard j >= 0, j < elements.count else { return true }
            return visit(elements[j], tail, body)
        case .all:
            switch value {
            case .array(let elements):
                for e in elements where !visit(e, tail, body) { return false }
            case .object(let members):
                for (_, e) in members where !visit(e, tail, body) { return false }
            default: break
            }
            return true
        }
    }
}

extension ProfileError {
    /// A message without a position yet; the loader adds the node's line.
    public struct Reason: Error, Sendable, Hashable {
        /// What is wrong.
        public var message: String
        /// Creates a reason.
        public init(_ message: String) { self.message = message }
    }
}
