import Catalog
import DeviceProfiles
import Foundation
import Mosquitto
import Yams

/// Everything an operator can set, with the defaults built in. Loaded from one YAML file (configs/gateway.yaml
/// documents every key); `CITYGATE_*` environment variables override single keys (GatewayConfiguration+Environment.swift).
public struct GatewayConfiguration: Sendable {
    /// Where the catalog (devices, dead letters) and, later, the time-series store live.
    public var dataDirectory = "./data"
    /// Device profiles to load.
    public var profilesDirectory = "./device-profiles"
    /// `trace`, `debug`, `info`, `notice`, `warning`, `error`.
    public var logLevel = "info"

    /// The broker connection and subscriptions.
    public var mqtt = MQTT()
    /// Limits on what the gateway accepts.
    public var ingest = Ingest()
    /// Device registry behaviour.
    public var registry = Registry()
    /// Dead-letter retention.
    public var deadLetters = DeadLetters()
    /// The time-series store.
    public var store = Store()
    /// The alert engine (GatewayConfiguration+Alerts.swift).
    public var alerts = Alerts()
    /// The uplink to the province platform (GatewayConfiguration+Forwarder.swift).
    public var forwarder = Forwarder()
    /// CoAP and raw UDP ingest (GatewayConfiguration+CoAP.swift).
    public var coap = CoAP()
    /// The HTTP server: carrier push, API, live feeds (GatewayConfiguration+HTTP.swift).
    public var http = HTTP()

    /// The time-series store's settings.
    public struct Store: Sendable {
        /// Keep samples on the box (off: samples only feed later stages).
        public var enabled = true
        /// Directory; default `<data_dir>/store`.
        public var directory: String?
        /// Segment time partition.
        public var partitionMs: Int64 = 86_400_000
        /// WAL group-commit interval: what a crash can lose.
        public var commitIntervalMs: Int64 = 100
        /// Disk budget for segments.
        public var maxBytes: Int64 = 10 * 1_073_741_824
        /// Age limit (0 = none).
        public var maxAgeMs: Int64 = 30 * 86_400_000
    }

    /// The MQTT source.
    public struct MQTT: Sendable {
        /// Turn MQTT ingest off (a CoAP-only box, or tests).
        public var enabled = true
        /// Broker host.
        public var host = "127.0.0.1"
        /// Broker port.
        public var port = 1883
        /// Client id; must be unique per gateway for persistent sessions.
        public var clientID = "citygate-\(ProcessInfo.processInfo.hostName)"
        /// Optional credentials.
        public var username: String?
        /// Optional password (prefer `passwordFile`).
        public var password: String?
        /// TLS settings; nil for plain TCP.
        public var tls: MQTTClientConfiguration.TLS?
        /// 3.1.1 or 5.
        public var protocolVersion: MQTTClientConfiguration.ProtocolVersion = .v5
        /// false keeps the session (and QoS 1 messages queued while the gateway is away) on the broker.
        public var cleanSession = false
        /// How long the broker keeps the session after a disconnect (MQTT 5).
        public var sessionExpirySeconds: UInt32 = 86_400
        /// Keep-alive interval.
        public var keepAliveSeconds = 30
        /// MQTT 5 receive maximum: unacknowledged QoS 1 messages the broker may have in flight to the gateway.
        /// libmosquitto's default of 20 throttles the drain of a backlog after an outage.
        public var receiveMaximum = 1_000
        /// QoS of the subscriptions.
        public var qos = 1
        /// MQTT 5 shared-subscription group: with a name, several gateways split the stream (`$share/GROUP/...`).
        public var sharedGroup: String?
        /// Extra filters beyond those the profiles' topic templates imply.
        public var extraSubscriptions: [String] = []
        /// Messages held between the network thread and the decoder; beyond this they are dropped and counted.
        public var queueCapacity = 100_000
        /// Most messages decoded into one batch.
        public var maxBatch = 1_000
        /// Reconnect backoff.
        public var reconnectInitialSeconds = 0.5
        /// Reconnect backoff cap.
        public var reconnectMaxSeconds = 30.0
        /// Fraction of each delay randomised away so a fleet does not reconnect in step.
        public var reconnectJitter = 0.2
    }

    /// Input limits.
    public struct Ingest: Sendable {
        /// Largest payload accepted from any transport.
        public var maxPayloadBytes = 65_536
        /// Device times further ahead than this are quarantined (receive time is used).
        public var maxFutureSkewSeconds = 86_400
    }

    /// Registry settings.
    public struct Registry: Sendable {
        /// How often in-memory device state is written to SQLite.
        public var flushIntervalSeconds = 1.0
        /// A device is offline after report_interval × this factor ...
        public var offlineGraceFactor = 2.5
        /// ... but never sooner than this.
        public var offlineMinimumSeconds = 120
        /// Interval assumed for profiles that state none.
        public var defaultReportIntervalSeconds = 3_600
    }

    /// Dead-letter settings.
    public struct DeadLetters: Sendable {
        /// Most rows kept; the oldest replayed rows go first, and every eviction is counted.
        public var maxRows = 1_000_000
    }

    /// Built-in defaults.
    public init() {}

    /// The store's directory.
    public var storeDirectory: String { store.directory ?? (dataDirectory as NSString).appendingPathComponent("store") }

    /// The SQLite catalog file.
    public var catalogPath: String { (dataDirectory as NSString).appendingPathComponent("catalog.db") }
    /// API tokens and the audit log.
    public var apiDatabasePath: String { (dataDirectory as NSString).appendingPathComponent("api.db") }

    /// The subscriptions the MQTT source makes: one per distinct profile filter, shared if a group is set.
    public func subscriptions(for profiles: ProfileSet) -> [MQTTSubscription] {
        let qos: MQTTQoS = mqtt.qos == 0 ? .atMostOnce : .atLeastOnce
        var seen = Set<String>()
        return (profiles.subscriptionFilters + mqtt.extraSubscriptions).filter { seen.insert($0).inserted }.map { filter in
            let full = mqtt.sharedGroup.map { "$share/\($0)/\(filter)" } ?? filter
            return MQTTSubscription(filter: full, qos: qos)
        }
    }

    /// The libmosquitto client settings.
    public var mqttClient: MQTTClientConfiguration {
        MQTTClientConfiguration(
            host: mqtt.host, port: mqtt.port, clientID: mqtt.clientID, username: mqtt.username, password: mqtt.password, tls: mqtt.tls,
            cleanSession: mqtt.cleanSession, sessionExpirySeconds: mqtt.cleanSession ? 0 : mqtt.sessionExpirySeconds,
            protocolVersion: mqtt.protocolVersion, keepAliveSeconds: mqtt.keepAliveSeconds,
            reconnect: MQTTReconnectPolicy(
                initialDelay: .milliseconds(Int64(mqtt.reconnectInitialSeconds * 1000)), maxDelay: .milliseconds(Int64(mqtt.reconnectMaxSeconds * 1000)),
                jitterFraction: mqtt.reconnectJitter),
            receiveMaximum: mqtt.receiveMaximum)
    }

    /// The device registry's settings derived from these.
    public var registryConfiguration: DeviceRegistry.Configuration {
        .init(graceFactor: registry.offlineGraceFactor, minimumOfflineSeconds: registry.offlineMinimumSeconds,
              defaultReportIntervalSeconds: registry.defaultReportIntervalSeconds)
    }

    /// Decode limits derived from the settings.
    public var decodeLimits: DecodeLimits {
        var l = DecodeLimits()
        l.maxFutureSkewMs = Int64(ingest.maxFutureSkewSeconds) * 1000
        return l
    }
}

extension GatewayConfiguration {
    /// Loads a configuration file over the defaults, with environment overrides (GatewayConfiguration+Environment).
    public static func load(file path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ProfileError) -> GatewayConfiguration {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ProfileError(file: path, line: 0, column: 0, message: "cannot read the configuration file")
        }
        var config = try parse(yaml: text, file: path, environment: environment)
        let base = (path as NSString).deletingLastPathComponent
        config.resolvePaths(relativeTo: base)
        if let tls = config.http.tls, config.http.enabled {
            do {
                _ = try tls.serverConfiguration()
            } catch {
                throw ProfileError(file: path, line: 0, column: 0, message: "http.tls: cannot load cert_file '\(tls.certFile)' and key_file '\(tls.keyFile)': \(error)")
            }
        }
        return config
    }

    /// The built-in defaults with environment overrides (no configuration file).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(ProfileError) -> GatewayConfiguration {
        try parse(yaml: "", file: "environment", environment: environment)
    }

    /// Parses configuration text over the defaults, then `environment`'s `CITYGATE_*` overrides. An invalid
    /// override is refused naming its variable (`environment: error: CITYGATE_HTTP_PORT: port must be ...`).
    public static func parse(yaml text: String, file: String = "<string>", environment: [String: String] = [:]) throws(ProfileError) -> GatewayConfiguration {
        let r = YAMLReader(file: file)
        let root = text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? Node.mapping(Node.Mapping([])) : try r.parse(text)
        let overrides = environmentOverrides(environment, root: root)
        if overrides.isEmpty { return try parse(root: root, r) }
        // Override values sit on lines past the file's end: an error there names its variable.
        let firstLine = text.split(separator: "\n", omittingEmptySubsequences: false).count + 2
        do {
            return try parse(root: applying(overrides, to: root, firstLine: firstLine), r)
        } catch where error.line >= firstLine && error.line - firstLine < overrides.count {
            throw ProfileError(file: "environment", line: 0, column: 0, message: "\(overrides[error.line - firstLine].variable): \(error.message)")
        }
    }

    static func parse(root: Node, _ r: YAMLReader) throws(ProfileError) -> GatewayConfiguration {
        var c = GatewayConfiguration()
        for (key, keyNode, value) in try r.mapping(root, "the configuration") {
            // A section whose keys are all commented out (as in configs/gateway.yaml) is empty: the defaults.
            if value.null != nil { continue }
            switch key {
            case "data_dir": c.dataDirectory = try r.string(value, key)
            case "profiles_dir": c.profilesDirectory = try r.string(value, key)
            case "log_level":
                c.logLevel = try r.string(value, key)
                guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(c.logLevel) else {
                    throw r.error(value, "log_level must be trace, debug, info, notice, warning, error or critical")
                }
            case "mqtt": try parseMQTT(value, into: &c.mqtt, r)
            case "ingest":
                for (k, kn, v) in try r.mapping(value, "ingest") {
                    switch k {
                    case "max_payload_bytes":
                        c.ingest.maxPayloadBytes = try r.int(v, k)
                        guard (16...16_777_216).contains(c.ingest.maxPayloadBytes) else { throw r.error(v, "max_payload_bytes must be 16 to 16777216") }
                    case "max_future_skew": c.ingest.maxFutureSkewSeconds = try duration(v, k, r)
                    default: throw r.error(kn, "unknown key 'ingest.\(k)'; known: max_payload_bytes, max_future_skew")
                    }
                }
            case "registry":
                for (k, kn, v) in try r.mapping(value, "registry") {
                    switch k {
                    case "flush_interval": c.registry.flushIntervalSeconds = Double(try duration(v, k, r))
                    case "offline_grace_factor":
                        c.registry.offlineGraceFactor = try r.double(v, k)
                        guard c.registry.offlineGraceFactor >= 1 else { throw r.error(v, "offline_grace_factor must be at least 1") }
                    case "offline_minimum": c.registry.offlineMinimumSeconds = try duration(v, k, r)
                    case "default_report_interval": c.registry.defaultReportIntervalSeconds = try duration(v, k, r)
                    default: throw r.error(kn, "unknown key 'registry.\(k)'; known: flush_interval, offline_grace_factor, offline_minimum, default_report_interval")
                    }
                }
            case "store":
                for (k, kn, v) in try r.mapping(value, "store") {
                    switch k {
                    case "enabled": c.store.enabled = try r.bool(v, k)
                    case "dir": c.store.directory = try r.string(v, k)
                    case "partition":
                        c.store.partitionMs = try durationMs(v, k, r)
                        guard c.store.partitionMs >= 60_000, 86_400_000 % c.store.partitionMs == 0 else {
                            throw r.error(v, "partition must be at least 1m and divide a day (e.g. 15m, 1h, 6h, 1d)")
                        }
                    case "commit_interval":
                        c.store.commitIntervalMs = try durationMs(v, k, r)
                        guard (1...10_000).contains(c.store.commitIntervalMs) else { throw r.error(v, "commit_interval must be 1ms to 10s") }
                    case "max_bytes":
                        let t = try r.string(v, k)
                        guard let b = YAMLReader.parseByteSize(t), b >= 1_048_576 else { throw r.error(v, "max_bytes must be a size of at least 1MiB, such as 500MiB or 10GiB") }
                        c.store.maxBytes = b
                    case "max_age": c.store.maxAgeMs = try durationMs(v, k, r)
                    default: throw r.error(kn, "unknown key 'store.\(k)'; known: enabled, dir, partition, commit_interval, max_bytes, max_age")
                    }
                }
            case "dead_letters":
                for (k, kn, v) in try r.mapping(value, "dead_letters") {
                    switch k {
                    case "max_rows":
                        c.deadLetters.maxRows = try r.int(v, k)
                        guard c.deadLetters.maxRows >= 100 else { throw r.error(v, "max_rows must be at least 100") }
                    default: throw r.error(kn, "unknown key 'dead_letters.\(k)'; known: max_rows")
                    }
                }
            case "alerts": try parseAlerts(value, into: &c.alerts, r)
            case "forwarder": try parseForwarder(value, into: &c.forwarder, r)
            case "coap": try parseCoAP(value, into: &c.coap, r)
            case "http": try parseHTTP(value, into: &c.http, r)
            default:
                throw r.error(keyNode, "unknown key '\(key)'; known: data_dir, profiles_dir, log_level, mqtt, ingest, registry, dead_letters, store, alerts, forwarder, coap, http")
            }
        }
        return c
    }

    static func durationMs(_ node: Node, _ what: String, _ r: YAMLReader) throws(ProfileError) -> Int64 {
        let text = try r.string(node, what)
        guard let ms = YAMLReader.parseDurationMilliseconds(text), ms >= 0 else { throw r.error(node, "\(what) must be a duration such as 100ms, 30s, 1h, 30d; found '\(text)'") }
        return ms
    }

    static func duration(_ node: Node, _ what: String, _ r: YAMLReader) throws(ProfileError) -> Int {
        let text = try r.string(node, what)
        guard let s = YAMLReader.parseDurationSeconds(text), s >= 0 else { throw r.error(node, "\(what) must be a duration such as 30s, 5m, 1h, 1d; found '\(text)'") }
        return s
    }

    static func parseMQTT(_ node: Node, into m: inout MQTT, _ r: YAMLReader) throws(ProfileError) {
        for (k, kn, v) in try r.mapping(node, "mqtt") {
            switch k {
            case "enabled": m.enabled = try r.bool(v, k)
            case "host": m.host = try r.string(v, k)
            case "port":
                m.port = try r.int(v, k)
                guard (1...65535).contains(m.port) else { throw r.error(v, "port must be 1 to 65535") }
            case "client_id":
                m.clientID = try r.string(v, k)
                guard !m.clientID.isEmpty, m.clientID.utf8.count <= 65535 else { throw r.error(v, "client_id must not be empty") }
            case "username": m.username = try r.string(v, k)
            case "password": m.password = try r.string(v, k)
            case "password_file":
                let path = try r.string(v, k)
                guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                    throw r.error(v, "cannot read password_file '\(path)'")
                }
                m.password = text.trimmingCharacters(in: .whitespacesAndNewlines)
            case "tls":
                var ca: String?
                var cert: String?
                var key: String?
                var insecure = false
                for (tk, tkn, tv) in try r.mapping(v, "mqtt.tls") {
                    switch tk {
                    case "ca_file": ca = try r.string(tv, tk)
                    case "cert_file": cert = try r.string(tv, tk)
                    case "key_file": key = try r.string(tv, tk)
                    case "insecure": insecure = try r.bool(tv, tk)
                    default: throw r.error(tkn, "unknown key 'mqtt.tls.\(tk)'; known: ca_file, cert_file, key_file, insecure")
                    }
                }
                guard let caFile = ca else { throw r.error(v, "mqtt.tls needs ca_file") }
                guard (cert == nil) == (key == nil) else { throw r.error(v, "mqtt.tls: cert_file and key_file go together") }
                m.tls = .init(caFile: caFile, certFile: cert, keyFile: key, insecure: insecure)
            case "protocol":
                switch try r.string(v, k) {
                case "5", "5.0", "v5": m.protocolVersion = .v5
                case "3.1.1", "4", "v311": m.protocolVersion = .v311
                case let other: throw r.error(v, "protocol must be 5 or 3.1.1, found '\(other)'")
                }
            case "clean_session": m.cleanSession = try r.bool(v, k)
            case "session_expiry": m.sessionExpirySeconds = UInt32(clamping: try duration(v, k, r))
            case "keepalive":
                m.keepAliveSeconds = try duration(v, k, r)
                guard m.keepAliveSeconds >= 5 else { throw r.error(v, "keepalive must be at least 5s") }
            case "receive_maximum":
                m.receiveMaximum = try r.int(v, k)
                guard (1...65_535).contains(m.receiveMaximum) else { throw r.error(v, "receive_maximum must be 1 to 65535") }
            case "qos":
                m.qos = try r.int(v, k)
                guard m.qos == 0 || m.qos == 1 else { throw r.error(v, "qos must be 0 or 1") }
            case "shared_group":
                let g = try r.string(v, k)
                guard !g.contains("/"), !g.contains("+"), !g.contains("#") else { throw r.error(v, "shared_group must not contain '/', '+' or '#'") }
                m.sharedGroup = g.isEmpty ? nil : g
            case "subscriptions":
                m.extraSubscriptions = try r.sequence(v, k).map { (n) throws(ProfileError) in try r.string(n, "a subscription filter") }
            case "queue_capacity":
                m.queueCapacity = try r.int(v, k)
                guard m.queueCapacity >= 1 else { throw r.error(v, "queue_capacity must be positive") }
            case "max_batch":
                m.maxBatch = try r.int(v, k)
                guard m.maxBatch >= 1 else { throw r.error(v, "max_batch must be positive") }
            case "reconnect":
                for (rk, rkn, rv) in try r.mapping(v, "mqtt.reconnect") {
                    switch rk {
                    case "initial": m.reconnectInitialSeconds = Double(try duration(rv, rk, r))
                    case "max": m.reconnectMaxSeconds = Double(try duration(rv, rk, r))
                    case "jitter":
                        m.reconnectJitter = try r.double(rv, rk)
                        guard (0...1).contains(m.reconnectJitter) else { throw r.error(rv, "jitter is a fraction from 0 to 1") }
                    default: throw r.error(rkn, "unknown key 'mqtt.reconnect.\(rk)'; known: initial, max, jitter")
                    }
                }
            default:
                throw r.error(kn, "unknown key 'mqtt.\(k)'; known: enabled, host, port, client_id, username, password, password_file, tls, protocol, clean_session, session_expiry, keepalive, receive_maximum, qos, shared_group, subscriptions, queue_capacity, max_batch, reconnect")
            }
        }
    }

    /// Relative paths in a config file are relative to the file.
    mutating func resolvePaths(relativeTo base: String) {
        func resolve(_ p: String) -> String { p.hasPrefix("/") || base.isEmpty ? p : (base as NSString).appendingPathComponent(p) }
        dataDirectory = resolve(dataDirectory)
        store.directory = store.directory.map(resolve)
        forwarder.outboxPath = forwarder.outboxPath.map(resolve)
        profilesDirectory = resolve(profilesDirectory)
        if var tls = mqtt.tls {
            tls.caFile = resolve(tls.caFile)
            tls.certFile = tls.certFile.map(resolve)
            tls.keyFile = tls.keyFile.map(resolve)
            mqtt.tls = tls
        }
        if var tls = http.tls {
            tls.certFile = resolve(tls.certFile)
            tls.keyFile = resolve(tls.keyFile)
            http.tls = tls
        }
    }
}
