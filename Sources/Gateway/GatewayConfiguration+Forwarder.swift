import DeviceProfiles
import Yams

extension GatewayConfiguration {
    /// The `forwarder:` section.
    public struct Forwarder: Sendable {
        /// Whether the stage runs.
        public var enabled = false
    }

    static func parseForwarder(_ node: Node, into s: inout Forwarder, _ r: YAMLReader) throws(ProfileError) {
        for (k, kn, v) in try r.mapping(node, "forwarder") {
            switch k {
            case "enabled": s.enabled = try r.bool(v, k)
            default: throw r.error(kn, "unknown key 'forwarder.\(k)'; known: enabled")
            }
        }
    }
}
