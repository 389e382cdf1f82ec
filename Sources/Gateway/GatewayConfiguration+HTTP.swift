import DeviceProfiles
import Foundation
import NIOSSL
import PushIngest
import Yams

extension GatewayConfiguration {
    /// The `http:` section: the gateway's HTTP server (carrier push receivers, `/health`; later the API and live
    /// alert feed).
    public struct HTTP: Sendable {
        /// Whether the server runs.
        public var enabled = false
        /// Address to bind. Loopback by default: put a TLS reverse proxy in front for the carrier platforms.
        public var host = "127.0.0.1"
        /// Port to bind.
        public var port = 8080
        /// Largest request body read; larger ones are answered 413.
        public var maxBodyBytes = 65_536
        /// CTWing receiver (`POST /push/ctwing`).
        public var ctwing = CTWing()
        /// OneNET receiver (`GET`/`POST /push/onenet`).
        public var onenet = OneNET()
        /// How long delivered pushes are remembered to answer platform retries without storing twice.
        public var dedupWindowMs: Int64 = 600_000
        /// Most pushes remembered at once (about 80 bytes each).
        public var dedupMaxEntries = 100_000
        /// The operator API (`/v1`) and `/metrics`.
        public var api = API()

        /// Limits and options of the operator API.
        public struct API: Sendable {
            /// Sustained requests per second per client (token, or address before authentication); 0 turns the limit off.
            public var rateLimitPerSecond: Double = 20
            /// Requests a client may make at once.
            public var rateLimitBurst: Double = 60
            /// Largest request body (profile and rule uploads are the largest).
            public var maxBodyBytes = 1_048_576
            /// `/metrics` answers without a token (Prometheus on the box or a trusted network).
            public var metricsPublic = true
            /// Failed authentications from one address within `lockoutWindowMs` that lock it out; 0 turns lockout off.
            public var lockoutMaxFailures = 10
            /// The window failures are counted in.
            public var lockoutWindowMs: Int64 = 300_000
            /// How long a locked-out address gets 429.
            public var lockoutMs: Int64 = 300_000
        }

        /// Serve HTTPS with this certificate instead of plain HTTP; nil: plain HTTP (behind a TLS proxy).
        public var tls: TLS?

        /// `http.tls`: the server's certificate chain and private key (PEM files).
        public struct TLS: Sendable, Hashable {
            /// Certificate chain, leaf first (PEM).
            public var certFile: String
            /// Private key of the leaf certificate (PEM, unencrypted).
            public var keyFile: String

            /// Creates the settings.
            public init(certFile: String, keyFile: String) {
                self.certFile = certFile
                self.keyFile = keyFile
            }

            /// The server-side TLS configuration: TLS 1.2 or newer, no client certificates.
            public func serverConfiguration() throws -> TLSConfiguration {
                let chain = try NIOSSLCertificate.fromPEMFile(certFile).map { NIOSSLCertificateSource.certificate($0) }
                let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
                var c = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
                c.minimumTLSVersion = .tlsv12
                return c
            }
        }

        /// `http.ctwing`.
        public struct CTWing: Sendable {
            /// Whether `/push/ctwing` exists.
            public var enabled = true
            /// Optional shared secret required as `?token=` in the subscription URL or an `X-CityGate-Token` header.
            public var token: String?
        }

        /// `http.onenet`.
        public struct OneNET: Sendable {
            /// Whether `/push/onenet` exists. Off by default: it needs the platform's token.
            public var enabled = false
            /// The token set on the OneNET push page.
            public var token: String?
            /// Check signatures (URL verification and every push).
            public var verifySignature = true
        }

        /// The push receivers' settings derived from these.
        public var pushConfiguration: PushConfiguration {
            PushConfiguration(
                maxBodyBytes: maxBodyBytes,
                ctwing: .init(enabled: ctwing.enabled, token: ctwing.token),
                onenet: .init(enabled: onenet.enabled, token: onenet.token, verifySignature: onenet.verifySignature),
                dedupWindow: .milliseconds(dedupWindowMs), dedupMaxEntries: dedupMaxEntries)
        }
    }

    static func parseHTTP(_ node: Node, into s: inout HTTP, _ r: YAMLReader) throws(ProfileError) {
        for (k, kn, v) in try r.mapping(node, "http") {
            if v.null != nil { continue }  // a key with everything under it commented out
            switch k {
            case "enabled": s.enabled = try r.bool(v, k)
            case "host":
                s.host = try r.string(v, k)
                guard !s.host.isEmpty else { throw r.error(v, "host must not be empty") }
            case "port":
                s.port = try r.int(v, k)
                guard (1...65535).contains(s.port) else { throw r.error(v, "port must be 1 to 65535") }
            case "max_body_bytes":
                s.maxBodyBytes = try r.int(v, k)
                guard (1_024...16_777_216).contains(s.maxBodyBytes) else { throw r.error(v, "max_body_bytes must be 1024 to 16777216") }
            case "dedup_window":
                s.dedupWindowMs = try durationMs(v, k, r)
                guard s.dedupWindowMs >= 1_000 else { throw r.error(v, "dedup_window must be at least 1s") }
            case "dedup_max_entries":
                s.dedupMaxEntries = try r.int(v, k)
                guard (1...10_000_000).contains(s.dedupMaxEntries) else { throw r.error(v, "dedup_max_entries must be 1 to 10000000") }
            case "api":
                for (ak, akn, av) in try r.mapping(v, "http.api") {
                    if av.null != nil { continue }
                    switch ak {
                    case "rate_limit":
                        for (rk, rkn, rv) in try r.mapping(av, "http.api.rate_limit") {
                            switch rk {
                            case "per_second":
                                s.api.rateLimitPerSecond = try r.double(rv, rk)
                                guard s.api.rateLimitPerSecond >= 0 else { throw r.error(rv, "per_second must be 0 (off) or more") }
                            case "burst":
                                s.api.rateLimitBurst = try r.double(rv, rk)
                                guard s.api.rateLimitBurst >= 1 else { throw r.error(rv, "burst must be at least 1") }
                            default: throw r.error(rkn, "unknown key 'http.api.rate_limit.\(rk)'; known: per_second, burst")
                            }
                        }
                    case "max_body_bytes":
                        s.api.maxBodyBytes = try r.int(av, ak)
                        guard (1_024...67_108_864).contains(s.api.maxBodyBytes) else { throw r.error(av, "max_body_bytes must be 1024 to 67108864") }
                    case "metrics_public": s.api.metricsPublic = try r.bool(av, ak)
                    case "auth_lockout":
                        for (lk, lkn, lv) in try r.mapping(av, "http.api.auth_lockout") {
                            switch lk {
                            case "max_failures":
                                s.api.lockoutMaxFailures = try r.int(lv, lk)
                                guard s.api.lockoutMaxFailures >= 0 else { throw r.error(lv, "max_failures must be 0 (off) or more") }
                            case "window":
                                s.api.lockoutWindowMs = try durationMs(lv, lk, r)
                                guard s.api.lockoutWindowMs >= 1_000 else { throw r.error(lv, "window must be at least 1s") }
                            case "lockout":
                                s.api.lockoutMs = try durationMs(lv, lk, r)
                                guard s.api.lockoutMs >= 1_000 else { throw r.error(lv, "lockout must be at least 1s") }
                            default: throw r.error(lkn, "unknown key 'http.api.auth_lockout.\(lk)'; known: max_failures, window, lockout")
                            }
                        }
                    default: throw r.error(akn, "unknown key 'http.api.\(ak)'; known: rate_limit, max_body_bytes, metrics_public, auth_lockout")
                    }
                }
            case "tls":
                var cert: String?
                var key: String?
                for (tk, tkn, tv) in try r.mapping(v, "http.tls") {
                    switch tk {
                    case "cert_file": cert = try r.string(tv, tk)
                    case "key_file": key = try r.string(tv, tk)
                    default: throw r.error(tkn, "unknown key 'http.tls.\(tk)'; known: cert_file, key_file")
                    }
                }
                guard let cert, let key, !cert.isEmpty, !key.isEmpty else { throw r.error(v, "http.tls needs cert_file and key_file") }
                s.tls = HTTP.TLS(certFile: cert, keyFile: key)
            case "ctwing":
                for (ck, ckn, cv) in try r.mapping(v, "http.ctwing") {
                    switch ck {
                    case "enabled": s.ctwing.enabled = try r.bool(cv, ck)
                    case "token": s.ctwing.token = try secret(cv, ck, r)
                    case "token_file": s.ctwing.token = try secretFile(cv, ck, r)
                    default: throw r.error(ckn, "unknown key 'http.ctwing.\(ck)'; known: enabled, token, token_file")
                    }
                }
            case "onenet":
                for (ok, okn, ov) in try r.mapping(v, "http.onenet") {
                    switch ok {
                    case "enabled": s.onenet.enabled = try r.bool(ov, ok)
                    case "token": s.onenet.token = try secret(ov, ok, r)
                    case "token_file": s.onenet.token = try secretFile(ov, ok, r)
                    case "verify_signature": s.onenet.verifySignature = try r.bool(ov, ok)
                    default: throw r.error(okn, "unknown key 'http.onenet.\(ok)'; known: enabled, token, token_file, verify_signature")
                    }
                }
                if s.onenet.enabled, s.onenet.verifySignature, s.onenet.token == nil {
                    throw r.error(v, "http.onenet needs the push token (token or token_file) to verify signatures, or verify_signature: false")
                }
            default:
                throw r.error(kn, "unknown key 'http.\(k)'; known: enabled, host, port, max_body_bytes, dedup_window, dedup_max_entries, api, tls, ctwing, onenet")
            }
        }
    }

    private static func secret(_ node: Node, _ what: String, _ r: YAMLReader) throws(ProfileError) -> String? {
        let text = try r.string(node, what)
        return text.isEmpty ? nil : text
    }

    /// Reads a one-line secret file (trailing whitespace dropped). The error names the file, never its content.
    private static func secretFile(_ node: Node, _ what: String, _ r: YAMLReader) throws(ProfileError) -> String? {
        let path = try r.string(node, what)
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw r.error(node, "cannot read \(what) '\(path)'")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw r.error(node, "\(what) '\(path)' is empty") }
        return token
    }
}
