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
                throw r.error(kn, "unknown key 'http.\(k)'; known: enabled, host, port, max_body_bytes, dedup_window, dedup_max_entries, tls, ctwing, onenet")
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
