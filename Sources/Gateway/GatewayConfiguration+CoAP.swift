import DeviceProfiles
import Yams

extension GatewayConfiguration {
    /// The `coap:` section.
    public struct CoAP: Sendable {
        /// Whether the stage runs.
        public var enabled = false
    }

    static func parseCoAP(_ node: Node, into s: inout CoAP, _ r: YAMLReader) throws(ProfileError) {
        for (k, kn, v) in try r.mapping(node, "coap") {
            switch k {
            case "enabled": s.enabled = try r.bool(v, k)
            default: throw r.error(kn, "unknown key 'coap.\(k)'; known: enabled")
            }
        }
    }
}
