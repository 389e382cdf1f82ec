import DeviceProfiles
import Yams

extension GatewayConfiguration {
    /// The `alerts:` section.
    public struct Alerts: Sendable {
        /// Whether the stage runs.
        public var enabled = false
    }

    static func parseAlerts(_ node: Node, into s: inout Alerts, _ r: YAMLReader) throws(ProfileError) {
        for (k, kn, v) in try r.mapping(node, "alerts") {
            switch k {
            case "enabled": s.enabled = try r.bool(v, k)
            default: throw r.error(kn, "unknown key 'alerts.\(k)'; known: enabled")
            }
        }
    }
}
