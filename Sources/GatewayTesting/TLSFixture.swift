import Foundation

/// A throwaway certificate authority and a server certificate it signed, made with the `openssl` CLI.
///
/// The server certificate names `localhost` and `127.0.0.1`, so a client connecting to `Broker.host` passes
/// hostname verification. Two fixtures made separately have unrelated CAs: use one's `caFile` against the other's
/// broker to test a failed verification.
public struct TLSFixture: Sendable, Hashable {
    /// CA certificate (PEM): what clients trust.
    public let caFile: String
    /// Server certificate (PEM), signed by the CA.
    public let certFile: String
    /// Server private key (PEM, unencrypted).
    public let keyFile: String

    /// Generates the CA and server certificate into `directory`, with file names starting with `name`.
    /// EC P-256 keys, valid for two days. Throws `GatewayTestingError.notInstalled` without `openssl`.
    public static func generate(in directory: String, name: String = "test") async throws -> TLSFixture {
        guard let openssl = ProcessRunner.which("openssl") else { throw GatewayTestingError.notInstalled("openssl") }
        let caKey = "\(directory)/\(name)-ca.key"
        let caFile = "\(directory)/\(name)-ca.crt"
        let keyFile = "\(directory)/\(name)-server.key"
        let csr = "\(directory)/\(name)-server.csr"
        let certFile = "\(directory)/\(name)-server.crt"
        let extensions = "\(directory)/\(name)-server.ext"
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        try await ProcessRunner.check(
            openssl,
            ["req", "-x509"] + ec + [
                "-keyout", caKey, "-out", caFile, "-days", "2", "-subj", "/CN=CityGate Test CA \(name)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ]
        )
        try await ProcessRunner.check(openssl, ["req"] + ec + ["-keyout", keyFile, "-out", csr, "-subj", "/CN=localhost"])
        try """
        basicConstraints=CA:FALSE
        keyUsage=critical,digitalSignature,keyEncipherment
        extendedKeyUsage=serverAuth
        subjectAltName=DNS:localhost,IP:127.0.0.1

        """.write(toFile: extensions, atomically: true, encoding: .utf8)
        try await ProcessRunner.check(
            openssl,
            [
                "x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", caKey, "-CAcreateserial", "-out", certFile, "-days", "2",
                "-extfile", extensions,
            ]
        )
        return TLSFixture(caFile: caFile, certFile: certFile, keyFile: keyFile)
    }
}
