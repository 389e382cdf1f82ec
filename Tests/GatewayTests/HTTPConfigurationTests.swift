import Foundation
import Gateway
import GatewayTesting
import Testing

@Suite struct HTTPConfigurationTests {
    @Test func defaultsAreOffAndLoopback() throws {
        let c = try GatewayConfiguration.parse(yaml: "")
        #expect(c.http.enabled == false)
        #expect(c.http.host == "127.0.0.1")
        #expect(c.http.maxBodyBytes == 65_536)
        #expect(c.http.ctwing.enabled)
        #expect(c.http.onenet.enabled == false)
        #expect(c.http.dedupWindowMs == 600_000)
    }

    @Test func everyKeyParses() throws {
        let dir = try TemporaryDirectory()
        let tokenFile = dir.file("onenet.token")
        try "  tok-from-file \n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let c = try GatewayConfiguration.parse(yaml: """
            http:
              enabled: true
              host: 0.0.0.0
              port: 9090
              max_body_bytes: 4096
              dedup_window: 2m
              dedup_max_entries: 500
              ctwing: { enabled: false, token: abc }
              onenet: { enabled: true, token_file: \(tokenFile), verify_signature: true }
            """)
        #expect(c.http.enabled)
        #expect(c.http.host == "0.0.0.0")
        #expect(c.http.port == 9090)
        #expect(c.http.maxBodyBytes == 4096)
        #expect(c.http.dedupWindowMs == 120_000)
        #expect(c.http.dedupMaxEntries == 500)
        #expect(c.http.ctwing.enabled == false)
        #expect(c.http.ctwing.token == "abc")
        #expect(c.http.onenet.enabled)
        #expect(c.http.onenet.token == "tok-from-file")
    }

    @Test(arguments: [
        ("http: { port: 0 }", "port"),
        ("http: { max_body_bytes: 10 }", "max_body_bytes"),
        ("http: { onenet: { enabled: true } }", "token"),
        ("http: { onenet: { enabled: true, token_file: /nonexistent/x } }", "cannot read"),
        ("http: { ctwing: { secret: x } }", "unknown key 'http.ctwing.secret'"),
        ("http: { tls: { cert: x } }", "unknown key 'http.tls.cert'"),
    ])
    func errorsNameTheKey(yaml: String, fragment: String) {
        #expect {
            _ = try GatewayConfiguration.parse(yaml: yaml)
        } throws: { error in
            "\(error)".contains(fragment)
        }
    }

    @Test func onenetWithoutVerificationNeedsNoToken() throws {
        let c = try GatewayConfiguration.parse(yaml: "http: { onenet: { enabled: true, verify_signature: false } }")
        #expect(c.http.onenet.token == nil)
    }

    @Test func theShippedConfigurationLoads() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let c = try GatewayConfiguration.load(file: url.path + "/configs/gateway.yaml", environment: [:])
        #expect(c.http.enabled == false)
    }
}
