import DeviceProfiles
import Forwarder
import Foundation
import Mosquitto
import Yams

extension GatewayConfiguration {
    /// The `forwarder:` section: rollups, the outbox and the upstream sinks (configs/gateway.yaml documents every
    /// key).
    public struct Forwarder: Sendable {
        /// Whether the uplink runs.
        public var enabled = false
        /// This gateway's id upstream; default: the MQTT client id.
        public var gatewayID: String?
        /// Rollup windows with their allowed lateness.
        public var windows: [RollupWindow] = RollupWindow.defaults
        /// Outbox file; default `<data_dir>/outbox.db`.
        public var outboxPath: String?
        /// Outbox bound in payload bytes.
        public var maxBytes: Int64 = 1 << 30
        /// Commit interval of closed windows and the rollup checkpoint.
        public var flushIntervalMs: Int64 = 1_000
        /// Keep acknowledged rows (audits, tests).
        public var keepSent = false
        /// Backlog alert age (0: off).
        public var backlogAlertAgeMs: Int64 = 3_600_000
        /// Receivers; the gateway id is filled in by `forwarderConfiguration`.
        public var sinks: [ForwarderConfiguration.Sink] = []
    }

    /// The outbox file.
    public var outboxPath: String { forwarder.outboxPath ?? (dataDirectory as NSString).appendingPathComponent("outbox.db") }

    /// The forwarder's settings derived from these.
    public var forwarderConfiguration: ForwarderConfiguration {
        let gateway = forwarder.gatewayID ?? mqtt.clientID
        let sinks = forwarder.sinks.map { s -> ForwarderConfiguration.Sink in
            var s = s
            switch s.kind {
            case .http(var c):
                c.gateway = gateway
                s.kind = .http(c)
            case .mqtt(var c):
                c.gateway = gateway
                if c.client.clientID.isEmpty { c.client.clientID = "citygate-uplink-\(gateway)-\(c.name)" }
                s.kind = .mqtt(c)
            }
            return s
        }
        return ForwarderConfiguration(
            gatewayID: gateway, outboxPath: outboxPath, windows: forwarder.windows, maxBytes: forwarder.maxBytes, keepSent: forwarder.keepSent,
            flushInterval: .milliseconds(forwarder.flushIntervalMs), backlogAlertAgeMs: forwarder.backlogAlertAgeMs > 0 ? forwarder.backlogAlertAgeMs : nil,
            sinks: sinks)
    }

    static func parseForwarder(_ node: Node, into s: inout Forwarder, _ r: YAMLReader) throws(ProfileError) {
        for (k, kn, v) in try r.mapping(node, "forwarder") {
            switch k {
            case "enabled": s.enabled = try r.bool(v, k)
            case "gateway_id":
                let id = try r.string(v, k)
                guard !id.isEmpty else { throw r.error(v, "gateway_id must not be empty") }
                s.gatewayID = id
            case "windows":
                var windows: [RollupWindow] = []
                for w in try r.sequence(v, k) {
                    windows.append(try parseWindow(w, r))
                }
                guard !windows.isEmpty else { throw r.error(v, "windows needs at least one window") }
                guard Set(windows.map(\.sizeMs)).count == windows.count else { throw r.error(v, "windows must have different sizes") }
                s.windows = windows.sorted()
            case "outbox":
                for (ok, okn, ov) in try r.mapping(v, "forwarder.outbox") {
                    switch ok {
                    case "path": s.outboxPath = try r.string(ov, ok)
                    case "max_bytes":
                        let t = try r.string(ov, ok)
                        guard let b = YAMLReader.parseByteSize(t), b >= 65_536 else { throw r.error(ov, "max_bytes must be a size of at least 64KiB, such as 512MiB or 2GiB") }
                        s.maxBytes = b
                    case "flush_interval":
                        s.flushIntervalMs = try durationMs(ov, ok, r)
                        guard (10...60_000).contains(s.flushIntervalMs) else { throw r.error(ov, "flush_interval must be 10ms to 1m") }
                    case "keep_sent": s.keepSent = try r.bool(ov, ok)
                    default: throw r.error(okn, "unknown key 'forwarder.outbox.\(ok)'; known: path, max_bytes, flush_interval, keep_sent")
                    }
                }
            case "backlog_alert_age": s.backlogAlertAgeMs = try durationMs(v, k, r)
            case "sinks":
                var names = Set<String>()
                for item in try r.sequence(v, k) {
                    let sink = try parseSink(item, r)
                    guard names.insert(sink.name).inserted else { throw r.error(item, "sink names must be unique ('\(sink.name)' repeats)") }
                    s.sinks.append(sink)
                }
            default:
                throw r.error(kn, "unknown key 'forwarder.\(k)'; known: enabled, gateway_id, windows, outbox, backlog_alert_age, sinks")
            }
        }
    }

    /// `1m` (lateness: half the window, at most 5 minutes) or `{size: 1m, lateness: 30s}`.
    static func parseWindow(_ node: Node, _ r: YAMLReader) throws(ProfileError) -> RollupWindow {
        if node.scalar != nil {
            let size = try durationMs(node, "a window", r)
            guard size > 0 else { throw r.error(node, "a window must be longer than 0") }
            return RollupWindow(sizeMs: size, latenessMs: min(size / 2, 300_000))
        }
        var size: Int64?
        var lateness: Int64?
        for (k, kn, v) in try r.mapping(node, "a window") {
            switch k {
            case "size": size = try durationMs(v, k, r)
            case "lateness": lateness = try durationMs(v, k, r)
            default: throw r.error(kn, "unknown key '\(k)' in a window; known: size, lateness")
            }
        }
        guard let size, size > 0 else { throw r.error(node, "a window needs a size, such as 1m") }
        return RollupWindow(sizeMs: size, latenessMs: lateness ?? min(size / 2, 300_000))
    }

    static func parseSink(_ node: Node, _ r: YAMLReader) throws(ProfileError) -> ForwarderConfiguration.Sink {
        var name: String?
        var kind: String?
        var url: String?
        var gzip = true
        var gzipLevel = 1
        var fields: RollupFields = .all
        var maxInFlight: Int?
        var token: String?
        var tokenScheme = "Token"
        var username: String?
        var password: String?
        var caFile: String?
        var certFile: String?
        var keyFile: String?
        var insecure = false
        var timeoutMs: Int64 = 30_000
        var batchPoints: Int?
        var backoff = Backoff()
        var host = "127.0.0.1"
        var port = 1883
        var clientID: String?
        var topic = "province/{gateway}/{stream}"
        var protocolVersion: MQTTClientConfiguration.ProtocolVersion = .v5
        func readFile(_ v: Node, _ k: String) throws(ProfileError) -> String {
            let path = try r.string(v, k)
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw r.error(v, "cannot read \(k) '\(path)'")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        for (k, kn, v) in try r.mapping(node, "a sink") {
            switch k {
            case "name": name = try r.string(v, k)
            case "kind":
                kind = try r.string(v, k)
                guard kind == "http" || kind == "mqtt" else { throw r.error(v, "kind must be http or mqtt") }
            case "url": url = try r.string(v, k)
            case "gzip": gzip = try r.bool(v, k)
            case "gzip_level":
                gzipLevel = try r.int(v, k)
                guard (1...9).contains(gzipLevel) else { throw r.error(v, "gzip_level must be 1 (fastest) to 9 (smallest)") }
            case "fields":
                var chosen: RollupFields = []
                for item in try r.sequence(v, k) {
                    let name = try r.string(item, "a field")
                    guard let f = RollupFields(name: name) else {
                        throw r.error(item, "unknown field '\(name)'; known: min, max, avg, sum, count, last")
                    }
                    guard !chosen.contains(f) else { throw r.error(item, "field '\(name)' is listed twice") }
                    chosen.insert(f)
                }
                guard !chosen.isEmpty else { throw r.error(v, "fields needs at least one of min, max, avg, sum, count, last") }
                fields = chosen
            case "max_in_flight":
                maxInFlight = try r.int(v, k)
                guard (1...16).contains(maxInFlight!) else { throw r.error(v, "max_in_flight must be 1 to 16") }
            case "token": token = try r.string(v, k)
            case "token_file": token = try readFile(v, k)
            case "token_scheme": tokenScheme = try r.string(v, k)
            case "username": username = try r.string(v, k)
            case "password": password = try r.string(v, k)
            case "password_file": password = try readFile(v, k)
            case "tls":
                for (tk, tkn, tv) in try r.mapping(v, "a sink's tls") {
                    switch tk {
                    case "ca_file": caFile = try r.string(tv, tk)
                    case "cert_file": certFile = try r.string(tv, tk)
                    case "key_file": keyFile = try r.string(tv, tk)
                    case "insecure": insecure = try r.bool(tv, tk)
                    default: throw r.error(tkn, "unknown key 'tls.\(tk)'; known: ca_file, cert_file, key_file, insecure")
                    }
                }
            case "timeout": timeoutMs = max(100, try durationMs(v, k, r))
            case "batch_points":
                batchPoints = try r.int(v, k)
                guard batchPoints! >= 1 else { throw r.error(v, "batch_points must be positive") }
            case "backoff":
                for (bk, bkn, bv) in try r.mapping(v, "a sink's backoff") {
                    switch bk {
                    case "initial": backoff.initial = .milliseconds(try durationMs(bv, bk, r))
                    case "max": backoff.maximum = .milliseconds(try durationMs(bv, bk, r))
                    case "jitter":
                        let j = try r.double(bv, bk)
                        guard (0...1).contains(j) else { throw r.error(bv, "jitter is a fraction from 0 to 1") }
                        backoff.jitter = j
                    default: throw r.error(bkn, "unknown key 'backoff.\(bk)'; known: initial, max, jitter")
                    }
                }
            case "host": host = try r.string(v, k)
            case "port":
                port = try r.int(v, k)
                guard (1...65535).contains(port) else { throw r.error(v, "port must be 1 to 65535") }
            case "client_id": clientID = try r.string(v, k)
            case "topic": topic = try r.string(v, k)
            case "protocol":
                switch try r.string(v, k) {
                case "5", "5.0", "v5": protocolVersion = .v5
                case "3.1.1", "4", "v311": protocolVersion = .v311
                case let other: throw r.error(v, "protocol must be 5 or 3.1.1, found '\(other)'")
                }
            default:
                throw r.error(kn, "unknown key '\(k)' in a sink; known: name, kind, url, gzip, token, token_file, token_scheme, username, password, password_file, tls, timeout, batch_points, max_in_flight, gzip_level, fields, backoff, host, port, client_id, topic, protocol")
            }
        }
        guard let name, !name.isEmpty else { throw r.error(node, "a sink needs a name") }
        switch kind {
        case "http":
            guard let url, url.hasPrefix("http://") || url.hasPrefix("https://") else { throw r.error(node, "sink '\(name)' needs an http:// or https:// url") }
            let c = HTTPLineProtocolSink.Configuration(name: name, url: url, gateway: "", gzip: gzip, gzipLevel: gzipLevel, fields: fields, token: token,
                                                       tokenScheme: tokenScheme, username: username, password: password, caFile: caFile, insecure: insecure,
                                                       timeout: .milliseconds(timeoutMs))
            return .init(kind: .http(c), batchPoints: batchPoints ?? 10_000, backoff: backoff, maxInFlight: maxInFlight ?? 2)
        case "mqtt":
            if let maxInFlight, maxInFlight > 1 {
                throw r.error(node, "sink '\(name)': an mqtt sink sends one batch at a time (max_in_flight: 1); max_in_flight > 1 is for http sinks")
            }
            if fields != .all { throw r.error(node, "sink '\(name)': fields is for http sinks (an mqtt batch carries every field)") }
            guard (certFile == nil) == (keyFile == nil) else { throw r.error(node, "sink '\(name)': cert_file and key_file go together") }
            let tls = caFile.map { MQTTClientConfiguration.TLS(caFile: $0, certFile: certFile, keyFile: keyFile, insecure: insecure) }
            let client = MQTTClientConfiguration(
                host: host, port: port, clientID: clientID ?? "", username: username,
                password: password, tls: tls, cleanSession: true, protocolVersion: protocolVersion,
                reconnect: MQTTReconnectPolicy(initialDelay: backoff.initial, maxDelay: backoff.maximum, jitterFraction: backoff.jitter))
            let c = MQTTUplinkSink.Configuration(name: name, gateway: "", client: client, topic: topic, ackTimeout: .milliseconds(timeoutMs))
            return .init(kind: .mqtt(c), batchPoints: batchPoints ?? 1_000, backoff: backoff)
        default:
            throw r.error(node, "sink '\(name)' needs kind: http or kind: mqtt")
        }
    }
}
