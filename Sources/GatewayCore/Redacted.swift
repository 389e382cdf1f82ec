/// Descriptions of configuration values that never show a secret.
///
/// Secrets (passwords, tokens, webhook keys) must never reach a log line, and a configuration struct interpolated
/// into one (`"\(config)"`) would otherwise print every field. Types that hold a secret conform to
/// `CustomStringConvertible` through `Redacted.description(of:secrets:)`: every field as usual, the secret ones
/// as `<redacted>` (or `nil` when unset, which is not a secret).
public enum Redacted {
    /// `TypeName(field: value, secret: <redacted>, ...)`.
    public static func description(of value: Any, secrets: Set<String>) -> String {
        let fields = Mirror(reflecting: value).children.map { child -> String in
            let label = child.label ?? "_"
            guard secrets.contains(label) else { return "\(label): \(String(reflecting: child.value))" }
            let inner = Mirror(reflecting: child.value)
            let isNil = inner.displayStyle == .optional && inner.children.isEmpty
            return "\(label): \(isNil ? "nil" : "<redacted>")"
        }
        return "\(type(of: value))(\(fields.joined(separator: ", ")))"
    }
}
