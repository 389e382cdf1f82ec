import DeviceProfiles
import Foundation
import Yams

extension GatewayConfiguration {
    /// The `alerts:` section: where rules live and where alerts go.
    public struct Alerts: Sendable {
        /// Whether the alert engine runs.
        public var enabled = true
        /// Rule files (`*.yaml`), hot-reloaded on SIGHUP.
        public var rulesDirectory = "./configs/rules"
        /// This gateway's name in alert bodies and MQTT topics; defaults to the host name.
        public var gatewayID = ProcessInfo.processInfo.hostName
        /// Alerts over MQTT to the control room's broker (by default the broker the gateway ingests from).
        public var mqtt = MQTTChannel()
        /// Signed webhooks.
        public var webhooks: [Webhook] = []
        /// How long resolved alerts and delivered events are kept (ms).
        public var retentionMs: Int64 = 30 * 86_400_000

        /// The MQTT channel's settings.
        public struct MQTTChannel: Sendable {
            /// Publish alerts over MQTT.
            public var enabled = true
            /// Broker host; nil: the ingest broker (with its credentials and TLS).
            public var host: String?
            /// Broker port; nil: the ingest broker's.
            public var port: Int?
            /// Topic prefix: alerts go to `<prefix>/<gateway>/<severity>/<rule>/<device>`.
            public var topicPrefix = "citygate/alerts"
        }

        /// One webhook receiver.
        public struct Webhook: Sendable {
            /// The name rules use in `channels:`.
            public var name: String
            /// Where to POST.
            public var url: String
            /// The HMAC secret (prefer `secret_file`).
            public var secret: String
        }

        /// The channel names rules may use.
        public var channelNames: Set<String> {
            var names: Set<String> = ["feed"]
            if mqtt.enabled { names.insert("mqtt") }
            for w in webhooks { names.insert(w.name) }
            return names
        }
    }

    static func parseAlerts(_ node: Node, into s: inout Alerts, _ r: YAMLReader) throws(ProfileError) {
        for (k, kn, v) in try r.mapping(node, "alerts") {
            switch k {
            case "enabled": s.enabled = try r.bool(v, k)
            case "rules_dir": s.rulesDirectory = try r.string(v, k)
            case "gateway_id": s.gatewayID = try r.string(v, k)
            case "retention": s.retentionMs = try durationMs(v, k, r)
            case "mqtt" where v.null != nil:
                break  // every key commented out: the defaults
            case "mqtt":
                for (mk, mkn, mv) in try r.mapping(v, "alerts.mqtt") {
                    switch mk {
                    case "enabled": s.mqtt.enabled = try r.bool(mv, mk)
                    case "host": s.mqtt.host = try r.string(mv, mk)
                    case "port":
                        let port = try r.int(mv, mk)
                        guard (1...65_535).contains(port) else { throw r.error(mv, "port must be 1-65535") }
                        s.mqtt.port = port
                    case "topic_prefix":
                        s.mqtt.topicPrefix = try r.string(mv, mk)
                        guard !s.mqtt.topicPrefix.contains("+"), !s.mqtt.topicPrefix.contains("#") else {
                            throw r.error(mv, "topic_prefix cannot contain MQTT wildcards")
                        }
                    default: throw r.error(mkn, "unknown key 'alerts.mqtt.\(mk)'; known: enabled, host, port, topic_prefix")
                    }
                }
            case "webhooks":
                for item in try r.sequence(v, "alerts.webhooks") {
                    var name: String?
                    var url: String?
                    var secret: String?
                    for (wk, wkn, wv) in try r.mapping(item, "a webhook") {
                        switch wk {
                        case "name": name = try r.string(wv, wk)
                        case "url":
                            let text = try r.string(wv, wk)
                            guard let u = URL(string: text), ["http", "https"].contains(u.scheme ?? ""), u.host != nil else {
                                throw r.error(wv, "url must be an http:// or https:// address")
                            }
                            url = text
                        case "secret": secret = try r.string(wv, wk)
                        case "secret_file":
                            let path = try r.string(wv, wk)
                            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw r.error(wv, "cannot read secret_file \(path)") }
                            secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
                        default: throw r.error(wkn, "unknown key '\(wk)' in a webhook; known: name, url, secret, secret_file")
                        }
                    }
                    guard let name, !name.isEmpty else { throw r.error(item, "a webhook needs a name") }
                    guard !["mqtt", "feed"].contains(name), !s.webhooks.contains(where: { $0.name == name }) else {
                        throw r.error(item, "webhook name '\(name)' is taken")
                    }
                    guard let url else { throw r.error(item, "webhook '\(name)' needs a url") }
                    guard let secret, secret.utf8.count >= 16 else { throw r.error(item, "webhook '\(name)' needs a secret of at least 16 characters") }
                    s.webhooks.append(Alerts.Webhook(name: name, url: url, secret: secret))
                }
            default: throw r.error(kn, "unknown key 'alerts.\(k)'; known: enabled, rules_dir, gateway_id, retention, mqtt, webhooks")
            }
        }
    }
}
