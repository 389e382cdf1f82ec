import CoAPIngest
import DeviceProfiles
import Yams

extension GatewayConfiguration {
    /// The `coap:` section: the CoAP server (RFC 7252, Block1) and plain UDP listeners for NB-IoT devices.
    public struct CoAP: Sendable {
        /// Whether the stage runs.
        public var enabled = false
        /// Serve CoAP on `host:port` (false: only the UDP listeners run).
        public var serveCoAP = true
        /// Address to bind; the default serves only this box (a public NB-IoT APN needs the box's address).
        public var host = "127.0.0.1"
        /// CoAP port.
        public var port = CoAPIngest.defaultPort
        /// Uplinks accepted and not yet stored, per socket; beyond it 5.03 (UDP: dropped and counted).
        public var maxExchanges = 16_384
        /// Sustained uplinks per second per remote endpoint (address and port); 0 turns the limit off.
        public var perDeviceRate = 20.0
        /// Uplinks an endpoint may send at once.
        public var perDeviceBurst = 40.0
        /// Largest request body, single or reassembled from Block1 blocks; beyond it 4.13.
        public var maxBodyBytes = 16_384
        /// Block1 uploads open at once.
        public var maxBlockTransfers = 1_024
        /// An idle Block1 upload is dropped after this.
        public var blockTimeoutMs: Int64 = 60_000
        /// CON exchanges remembered for deduplication (EXCHANGE_LIFETIME, 247 s) at most.
        public var dedupCapacity = 200_000
        /// Max-Age on a 5.03: seconds before the device should retry.
        public var retryAfterSeconds = 2
        /// Plain UDP listeners, each bound to one profile with `match: { udp: true }`.
        public var udpListeners: [UDPListener] = []

        /// `{ port, profile, host }`.
        public struct UDPListener: Sendable, Hashable {
            /// UDP port.
            public var port: Int
            /// Profile id.
            public var profile: String
            /// Address to bind (default: `coap.host`).
            public var host: String?

            /// Creates a listener.
            public init(port: Int, profile: String, host: String? = nil) {
                self.port = port
                self.profile = profile
                self.host = host
            }
        }
    }

    /// The CoAP service settings derived from the `coap:` section.
    public var coapIngest: CoAPIngestConfiguration {
        var c = CoAPIngestConfiguration()
        c.coapEnabled = coap.serveCoAP
        c.host = coap.host
        c.port = coap.port
        c.maxExchanges = coap.maxExchanges
        c.perEndpointRate = coap.perDeviceRate
        c.perEndpointBurst = coap.perDeviceBurst
        c.maxBodyBytes = coap.maxBodyBytes
        c.maxBlockTransfers = coap.maxBlockTransfers
        c.blockTimeout = .milliseconds(coap.blockTimeoutMs)
        c.dedupCapacity = coap.dedupCapacity
        c.retryAfterSeconds = UInt32(clamping: coap.retryAfterSeconds)
        c.udpListeners = coap.udpListeners.map { .init(host: $0.host ?? coap.host, port: $0.port, profileID: $0.profile) }
        return c
    }

    static let coapKeys = "enabled, serve_coap, host, port, max_exchanges, per_device_rate, per_device_burst, max_body_bytes, max_block_transfers, block_timeout, dedup_capacity, retry_after, udp_listeners"

    static func parseCoAP(_ node: Node, into s: inout CoAP, _ r: YAMLReader) throws(ProfileError) {
        func positive(_ v: Node, _ k: String) throws(ProfileError) -> Int {
            let n = try r.int(v, k)
            guard n >= 1 else { throw r.error(v, "\(k) must be positive") }
            return n
        }
        func port(_ v: Node, _ k: String) throws(ProfileError) -> Int {
            let p = try r.int(v, k)
            guard (0...65535).contains(p) else { throw r.error(v, "\(k) must be 0 to 65535") }
            return p
        }
        for (k, kn, v) in try r.mapping(node, "coap") {
            switch k {
            case "enabled": s.enabled = try r.bool(v, k)
            case "serve_coap": s.serveCoAP = try r.bool(v, k)
            case "host": s.host = try r.string(v, k)
            case "port": s.port = try port(v, k)
            case "max_exchanges": s.maxExchanges = try positive(v, k)
            case "per_device_rate":
                s.perDeviceRate = try r.double(v, k)
                guard s.perDeviceRate >= 0 else { throw r.error(v, "per_device_rate must be 0 (off) or more") }
            case "per_device_burst":
                s.perDeviceBurst = try r.double(v, k)
                guard s.perDeviceBurst >= 1 else { throw r.error(v, "per_device_burst must be at least 1") }
            case "max_body_bytes":
                s.maxBodyBytes = try r.int(v, k)
                guard (16...1_048_576).contains(s.maxBodyBytes) else { throw r.error(v, "max_body_bytes must be 16 to 1048576") }
            case "max_block_transfers": s.maxBlockTransfers = try positive(v, k)
            case "block_timeout":
                s.blockTimeoutMs = try durationMs(v, k, r)
                guard s.blockTimeoutMs >= 1_000 else { throw r.error(v, "block_timeout must be at least 1s") }
            case "dedup_capacity": s.dedupCapacity = try positive(v, k)
            case "retry_after": s.retryAfterSeconds = try duration(v, k, r)
            case "udp_listeners":
                s.udpListeners = []
                for item in try r.sequence(v, k) {
                    var p: Int?
                    var profile: String?
                    var host: String?
                    for (lk, lkn, lv) in try r.mapping(item, "a UDP listener") {
                        switch lk {
                        case "port": p = try port(lv, "port")
                        case "profile": profile = try r.string(lv, "profile")
                        case "host": host = try r.string(lv, "host")
                        default: throw r.error(lkn, "unknown key '\(lk)' in a UDP listener; known: port, profile, host")
                        }
                    }
                    guard let p, let profile else { throw r.error(item, "a UDP listener needs port and profile") }
                    s.udpListeners.append(.init(port: p, profile: profile, host: host))
                }
            default: throw r.error(kn, "unknown key 'coap.\(k)'; known: \(coapKeys)")
            }
        }
    }
}
