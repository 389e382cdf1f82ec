import Foundation
import Yams

/// The operations of docs/openapi.yaml, read with Yams, for checking the spec against the routes served.
struct OpenAPISpec {
    struct Operation {
        let method: String
        let path: String
        /// Declares bearer security (its own or the document's default).
        let security: Bool
        /// Response codes documented.
        let responses: Set<String>
    }

    let operations: [Operation]

    init(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let root = try Yams.load(yaml: text) as? [String: Any], let paths = root["paths"] as? [String: Any] else {
            throw CocoaError(.fileReadCorruptFile)
        }
        let defaultSecurity = (root["security"] as? [Any])?.isEmpty == false
        var ops: [Operation] = []
        for (p, item) in paths {
            guard let item = item as? [String: Any] else { continue }
            for (method, op) in item where ["get", "put", "post", "delete", "patch"].contains(method) {
                guard let op = op as? [String: Any] else { continue }
                let security: Bool
                if let s = op["security"] as? [Any] { security = !s.isEmpty && s.contains { !(($0 as? [String: Any])?.isEmpty ?? true) } } else { security = defaultSecurity }
                let responses = Set(((op["responses"] as? [AnyHashable: Any]) ?? [:]).keys.map { "\($0)" })
                ops.append(Operation(method: method.uppercased(), path: p, security: security, responses: responses))
            }
        }
        operations = ops
    }

    /// A Hummingbird route path (`/v1/alerts/:id`) in OpenAPI form (`/v1/alerts/{id}`).
    static func openAPIPath(_ path: String) -> String {
        let p = path.hasPrefix("/") ? path : "/" + path
        return p.split(separator: "/", omittingEmptySubsequences: false).map { seg in
            seg.hasPrefix(":") ? "{\(seg.dropFirst())}" : String(seg)
        }.joined(separator: "/")
    }
}
