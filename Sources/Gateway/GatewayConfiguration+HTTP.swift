import DeviceProfiles
import Yams

extension GatewayConfiguration {
    /// The `http:` section.
    public struct HTTP: Sendable {
        /// Whether the stage runs.
        public var enabled = false
    }

    static func parseHTTP(_ node: Node, into s: inout HTTP, _ r: YAMLReader) throws(ProfileError) {
        for (k, kn, v) in try r.mapping(node, "http") {
            switch k {
            case "enabled": s.enabled = try r.bool(v, k)
            default: throw r.error(kn, "unknown key 'http.\(k)'; known: enabled")
            }
        }
    }
}
