import DeviceProfiles
import Foundation
import Yams

/// Environment overrides.
///
/// The rule: every scalar key of the configuration file outside a list can be set by an environment variable
/// named `CITYGATE_` + its path in capitals with `_` for `.` (`mqtt.password` → `CITYGATE_MQTT_PASSWORD`,
/// `http.onenet.token` → `CITYGATE_HTTP_ONENET_TOKEN`, `data_dir` → `CITYGATE_DATA_DIR`). Named list entries
/// take their name, in capitals with every other character as `_`, in the path: the secret of the webhook named
/// `city-ops` is `CITYGATE_ALERTS_WEBHOOKS_CITY_OPS_SECRET`, the token of the sink `province-vm` is
/// `CITYGATE_FORWARDER_SINKS_PROVINCE_VM_TOKEN`.
///
/// An override is applied to the file's YAML tree before it is read, so it goes through the same checks as the
/// file (an invalid value is refused with the variable's name), and a secret given in the environment replaces
/// its `*_file` key in the file (`CITYGATE_MQTT_PASSWORD` wins over `mqtt.password_file`). The value is taken
/// literally, never parsed as YAML. An empty value for a secret or an optional name means "none".
extension GatewayConfiguration {
    /// Every key path an environment variable may override (`CITYGATE_` + the path in capitals, `.` → `_`).
    public static let environmentKeyPaths: [String] = [
        "data_dir", "profiles_dir", "log_level",
        "mqtt.enabled", "mqtt.host", "mqtt.port", "mqtt.client_id", "mqtt.username", "mqtt.password_file", "mqtt.password",
        "mqtt.protocol", "mqtt.clean_session", "mqtt.session_expiry", "mqtt.keepalive", "mqtt.receive_maximum", "mqtt.qos",
        "mqtt.shared_group", "mqtt.queue_capacity", "mqtt.max_batch",
        "mqtt.tls.ca_file", "mqtt.tls.cert_file", "mqtt.tls.key_file", "mqtt.tls.insecure",
        "mqtt.reconnect.initial", "mqtt.reconnect.max", "mqtt.reconnect.jitter",
        "ingest.max_payload_bytes", "ingest.max_future_skew",
        "registry.flush_interval", "registry.offline_grace_factor", "registry.offline_minimum", "registry.default_report_interval",
        "dead_letters.max_rows",
        "store.enabled", "store.dir", "store.partition", "store.commit_interval", "store.max_bytes", "store.max_age",
        "alerts.enabled", "alerts.rules_dir", "alerts.gateway_id", "alerts.retention",
        "alerts.mqtt.enabled", "alerts.mqtt.host", "alerts.mqtt.port", "alerts.mqtt.topic_prefix",
        "forwarder.enabled", "forwarder.gateway_id", "forwarder.backlog_alert_age",
        "forwarder.outbox.path", "forwarder.outbox.max_bytes", "forwarder.outbox.flush_interval", "forwarder.outbox.keep_sent",
        "coap.enabled", "coap.serve_coap", "coap.host", "coap.port", "coap.max_exchanges", "coap.per_device_rate",
        "coap.per_device_burst", "coap.max_body_bytes", "coap.max_block_transfers", "coap.block_timeout", "coap.dedup_capacity",
        "coap.retry_after",
        "http.enabled", "http.host", "http.port", "http.max_body_bytes", "http.dedup_window", "http.dedup_max_entries",
        "http.ctwing.enabled", "http.ctwing.token_file", "http.ctwing.token",
        "http.onenet.enabled", "http.onenet.token_file", "http.onenet.token", "http.onenet.verify_signature",
        "http.tls.cert_file", "http.tls.key_file",
        "http.api.rate_limit.per_second", "http.api.rate_limit.burst", "http.api.max_body_bytes", "http.api.metrics_public",
        "http.api.auth_lockout.max_failures", "http.api.auth_lockout.window", "http.api.auth_lockout.lockout",
    ]

    /// Keys of named list entries an environment variable may override: list path → (name key, keys).
    static let environmentListKeys: [(list: String, keys: [String])] = [
        ("alerts.webhooks", ["url", "secret_file", "secret"]),
        ("forwarder.sinks", ["url", "token_file", "token", "token_scheme", "username", "password_file", "password", "host", "port"]),
    ]

    /// Older names kept working: variable → key path.
    static let environmentAliases: [String: String] = [
        "CITYGATE_RULES_DIR": "alerts.rules_dir",
        "CITYGATE_GATEWAY_ID": "alerts.gateway_id",
    ]

    /// The variable that overrides `path` (`mqtt.tls.ca_file` → `CITYGATE_MQTT_TLS_CA_FILE`).
    public static func environmentVariable(for path: String) -> String {
        "CITYGATE_" + environmentName(path)
    }

    /// Capitals, with every character other than a letter or digit as `_`.
    static func environmentName(_ text: String) -> String {
        String(text.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }

    /// One override: the variable, the path of mappings to the key (list entries as `(list, index)`), the value.
    struct EnvironmentOverride {
        var variable: String
        var path: [String]
        var value: String
    }

    /// Variables that look like configuration overrides (`CITYGATE_<SECTION>_...`) but name no key: most likely a
    /// typo, which would otherwise be ignored in silence. `citygate run` logs them as warnings.
    public static func unknownEnvironmentVariables(_ env: [String: String], root: Node? = nil) -> [String] {
        let known = Set(environmentKeyPaths.map(environmentVariable(for:))).union(environmentAliases.keys)
        let sections = Set(environmentKeyPaths.compactMap { $0.split(separator: ".").count > 1 ? String($0.split(separator: ".")[0]) : nil })
        let sectionPrefixes = sections.map { "CITYGATE_" + environmentName($0) + "_" }
        let listPrefixes = environmentListKeys.map { "CITYGATE_" + environmentName($0.list) + "_" }
        return env.keys.filter { name in
            guard name.hasPrefix("CITYGATE_"), !known.contains(name) else { return false }
            guard sectionPrefixes.contains(where: { name.hasPrefix($0) }) else { return false }
            // Named list entries are checked against the names in the file when it is given.
            if listPrefixes.contains(where: { name.hasPrefix($0) }) {
                guard let root else { return false }
                return listOverrides([name: ""], root: root).isEmpty
            }
            return true
        }.sorted()
    }

    /// The overrides `env` asks for, in `environmentKeyPaths` order (a `*_file` key before its secret).
    static func environmentOverrides(_ env: [String: String], root: Node) -> [EnvironmentOverride] {
        var out: [EnvironmentOverride] = []
        for (variable, path) in environmentAliases.sorted(by: { $0.key < $1.key }) {
            if let v = env[variable], env[environmentVariable(for: path)] == nil {
                out.append(.init(variable: variable, path: path.split(separator: ".").map(String.init), value: v))
            }
        }
        for path in environmentKeyPaths {
            let variable = environmentVariable(for: path)
            if let v = env[variable] { out.append(.init(variable: variable, path: path.split(separator: ".").map(String.init), value: v)) }
        }
        return out + listOverrides(env, root: root)
    }

    /// Overrides of named list entries: `CITYGATE_<LIST>_<NAME>_<KEY>` for each entry of the list in the file.
    static func listOverrides(_ env: [String: String], root: Node) -> [EnvironmentOverride] {
        var out: [EnvironmentOverride] = []
        for (list, keys) in environmentListKeys {
            let parts = list.split(separator: ".").map(String.init)
            var node: Node? = root
            for p in parts { node = node?.mapping?[p] }
            guard case .sequence(let items)? = node else { continue }
            for (index, item) in items.enumerated() {
                guard let name = item.mapping?["name"]?.scalar?.string, !name.isEmpty else { continue }
                for key in keys {
                    let variable = "CITYGATE_\(environmentName(list))_\(environmentName(name))_\(environmentName(key))"
                    if let v = env[variable] { out.append(.init(variable: variable, path: parts + ["#\(index)", key], value: v)) }
                }
            }
        }
        return out
    }

    /// `root` with `overrides` set in it; missing mappings are created, a `<key>_file` beside a secret is removed.
    ///
    /// Each value becomes a double-quoted scalar composed on line `firstLine + index`, past the end of the file,
    /// so an error the parser reports on it names a line that `overrideIndex` maps back to its variable.
    static func applying(_ overrides: [EnvironmentOverride], to root: Node, firstLine: Int) -> Node {
        let text = String(repeating: "\n", count: firstLine - 1) + overrides.map { "- " + quoted($0.value) }.joined(separator: "\n") + "\n"
        guard case .sequence(let values)? = try? Yams.compose(yaml: text), values.count == overrides.count else { return root }
        var root = root
        for (o, value) in zip(overrides, values) {
            root = setting(value, at: o.path[...], in: root)
        }
        return root
    }

    /// YAML double-quoted form of a literal value.
    static func quoted(_ value: String) -> String {
        var out = "\""
        for u in value.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case _ where u.value < 0x20 || u.value == 0x7F: out += "\\u" + String(format: "%04X", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    private static func setting(_ value: Node, at path: ArraySlice<String>, in node: Node) -> Node {
        guard let head = path.first else { return node }
        if head.hasPrefix("#"), let index = Int(head.dropFirst()) {
            guard case .sequence(var items) = node, index < items.count else { return node }
            items[index] = setting(value, at: path.dropFirst(), in: items[index])
            return .sequence(items)
        }
        // A section with everything under it commented out is null: replace it by a mapping.
        var mapping = node.mapping ?? Node.Mapping([])
        if path.count == 1 {
            mapping[head] = value
            if ["password", "token", "secret"].contains(head) { mapping["\(head)_file"] = nil }
        } else {
            let child = mapping[head] ?? Node.Mapping([]).asNode
            mapping[head] = setting(value, at: path.dropFirst(), in: child)
        }
        return .mapping(mapping)
    }
}

extension Node.Mapping {
    fileprivate var asNode: Node { .mapping(self) }
}
