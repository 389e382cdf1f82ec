import AsyncHTTPClient
import Foundation
import Gateway
import GatewayCore
import GatewayTesting
import Logging
import MQTTIngest
import Mosquitto
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle
import Testing

/// TLS on both sides of the gateway, credentials, and secrets kept out of logs.
@Suite(.serialized)
struct SecurityTests {
    /// `http.tls`: the gateway's HTTP server speaks HTTPS with the configured certificate; a client that trusts
    /// the CA gets `/health`, one that does not is refused, and plain HTTP gets no answer.
    @Test(.enabled(if: ProcessRunner.which("openssl") != nil, "openssl is not installed"))
    func httpsHealthWithAClientTrustingTheCA() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try await TLSFixture.generate(in: dir.path, name: "http")
        let other = try await TLSFixture.generate(in: dir.path, name: "other")
        let yaml = """
            http:
              enabled: true
              port: \(try FreePort.next())
              tls: { cert_file: \(fixture.certFile), key_file: \(fixture.keyFile) }
            """
        try yaml.write(toFile: dir.file("gateway.yaml"), atomically: true, encoding: .utf8)
        var config = try GatewayConfiguration.load(file: dir.file("gateway.yaml"), environment: [:])
        #expect(config.http.tls == .init(certFile: fixture.certFile, keyFile: fixture.keyFile))
        config.dataDirectory = dir.file("data")
        config.profilesDirectory = Repo.profiles
        config.mqtt.enabled = false
        config.alerts.enabled = false
        var logger = Logger(label: "test.https")
        logger.logLevel = .warning
        let runtime = try GatewayRuntime(configuration: config, logger: logger)
        let group = runtime.serviceGroup(signals: false)
        let task = Task { try await group.run() }
        defer { task.cancel() }
        let port = config.http.port
        #expect(await waitUntil(timeout: .seconds(180)) { FreePort.isAccepting(port: port) })

        func client(trusting ca: String) -> HTTPClient {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(ca)
            return HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        }
        let trusting = client(trusting: fixture.caFile)
        let response = try await trusting.execute(HTTPClientRequest(url: "https://127.0.0.1:\(port)/health"), timeout: .seconds(60))
        #expect(response.status == .ok)
        _ = try await response.body.collect(upTo: 1024)
        let localhost = try await trusting.execute(HTTPClientRequest(url: "https://localhost:\(port)/health"), timeout: .seconds(60))
        #expect(localhost.status == .ok, "the name in the certificate")

        let stranger = client(trusting: other.caFile)
        await #expect(throws: (any Error).self) {
            _ = try await stranger.execute(HTTPClientRequest(url: "https://127.0.0.1:\(port)/health"), timeout: .seconds(60))
        }
        await #expect(throws: (any Error).self, "plain HTTP on the TLS port gets no HTTP answer") {
            _ = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(30))
        }
        try await trusting.shutdown()
        try await stranger.shutdown()
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    @Test func httpsConfigurationErrors() throws {
        let dir = try TemporaryDirectory()
        #expect {
            _ = try GatewayConfiguration.parse(yaml: "http:\n  tls: { cert_file: a.crt }\n", file: "g.yaml")
        } throws: { "\($0)".contains("g.yaml:2:8: error: http.tls needs cert_file and key_file") }
        try "http: { enabled: true, tls: { cert_file: missing.crt, key_file: missing.key } }\n".write(toFile: dir.file("g.yaml"), atomically: true, encoding: .utf8)
        #expect {
            _ = try GatewayConfiguration.load(file: dir.file("g.yaml"), environment: [:])
        } throws: { "\($0)".contains("http.tls: cannot load cert_file '\(dir.file("missing.crt"))'") }
    }

    /// The gateway's MQTT ingest through a TLS listener that requires a username and password, as configured in
    /// YAML (password from a file) and the CA from the environment.
    @Test(.enabled(if: Broker.executable != nil && ProcessRunner.which("openssl") != nil && ProcessRunner.which("mosquitto_pub") != nil))
    func mqttIngestOverTLSWithCredentials() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try await TLSFixture.generate(in: dir.path, name: "mqtt")
        try await MosquittoPasswordFile.create(at: dir.file("passwd"), users: [("citygate", "gw-secret-1"), ("411056750031", "dev-secret")])
        let broker = try await Broker(options: .init(allowAnonymous: false, passwordFile: dir.file("passwd"), tls: .init(fixture)))
        defer { broker.stop() }
        try "gw-secret-1\n".write(toFile: dir.file("mqtt.password"), atomically: true, encoding: .utf8)
        try """
            mqtt: { port: \(broker.port), client_id: tls-gateway, username: citygate, password_file: \(dir.file("mqtt.password")) }
            """.write(toFile: dir.file("gateway.yaml"), atomically: true, encoding: .utf8)
        let config = try GatewayConfiguration.load(file: dir.file("gateway.yaml"), environment: ["CITYGATE_MQTT_TLS_CA_FILE": fixture.caFile])
        #expect(config.mqtt.tls?.caFile == fixture.caFile && config.mqtt.password == "gw-secret-1")
        let gateway = try await RunningGateway(broker: broker, dataDirectory: dir.file("data"), clientID: "tls-gateway") { c in
            c.mqtt.username = config.mqtt.username
            c.mqtt.password = config.mqtt.password
            c.mqtt.tls = config.mqtt.tls
            c.alerts.mqtt.enabled = false
        }
        try await ProcessRunner.check("mosquitto_pub", [
            "-h", "127.0.0.1", "-p", "\(broker.port)", "--cafile", fixture.caFile, "-u", "411056750031", "-P", "dev-secret", "-q", "1",
            "-t", "city/lixia/dragino/ndds75/411056750031/up", "-m", ndds75Frame(device: "411056750031", distanceMM: 1234),
        ])
        #expect(await waitUntil(timeout: .seconds(30)) { gateway.collector.values(device: "411056750031", metric: "distance") == [1.234] })
        #expect(gateway.runtime.mqtt?.stats.connected == true)
        await gateway.stop()

        // Without the password the broker refuses the gateway.
        let refused = try await RunningGatewayAttempt.connects(broker: broker, dataDirectory: dir.file("data2")) { c in
            c.mqtt.username = "citygate"
            c.mqtt.password = "wrong"
            c.mqtt.tls = .init(caFile: fixture.caFile)
            c.alerts.mqtt.enabled = false
        }
        #expect(refused == false)
    }

    /// The real binary at trace level with every kind of secret configured and used: none appears in its output.
    @Test(.enabled(if: citygateExecutable != nil && Broker.executable != nil && ProcessRunner.which("mosquitto_pub") != nil))
    func secretsNeverAppearInLogsAtTraceLevel() async throws {
        let dir = try TemporaryDirectory()
        let secrets = [
            "mqtt": "Mqtt-Pass-9f8e7d6c", "webhook": "Webhook-Key-5a4b3c2d1e0f", "ctwing": "Ctwing-Token-8a7b6c",
            "onenet": "Onenet-Token-1q2w3e", "upstream": "Upstream-Token-0o9i8u", "upstream-mqtt": "Upstream-Mqtt-7y6t5r",
        ]
        try await MosquittoPasswordFile.create(at: dir.file("passwd"), users: [("citygate", secrets["mqtt"]!), ("province", secrets["upstream-mqtt"]!)])
        let broker = try await Broker(options: .init(allowAnonymous: false, passwordFile: dir.file("passwd")))
        defer { broker.stop() }
        let profiles = try profilesDirectory(dir, match: #"ctwing: "15014772/{platformDeviceId}""#)
        try FileManager.default.copyItem(atPath: Repo.profiles + "/dragino/ndds75.yaml", toPath: profiles + "/ndds75.yaml")
        let httpPort = try FreePort.next()
        let closedPort = try FreePort.next()
        try """
            data_dir: \(dir.file("data"))
            profiles_dir: \(profiles)
            log_level: trace
            mqtt: { port: \(broker.port), client_id: secret-test, username: citygate }
            alerts:
              rules_dir: \(Repo.root)/configs/rules
              gateway_id: secret-gw
              webhooks:
                - { name: control-room, url: "http://127.0.0.1:\(closedPort)/hook" }
            http:
              enabled: true
              port: \(httpPort)
              onenet: { enabled: true }
            forwarder:
              enabled: true
              gateway_id: secret-gw
              windows: [ { size: 1m, lateness: 0s } ]
              outbox: { flush_interval: 100ms }
              sinks:
                - { name: province-vm, kind: http, url: "http://127.0.0.1:\(closedPort)/api/v2/write", backoff: { initial: 100ms, max: 200ms } }
                - { name: province-mqtt, kind: mqtt, port: \(broker.port), username: province, backoff: { initial: 100ms, max: 200ms } }
            """.write(toFile: dir.file("gateway.yaml"), atomically: true, encoding: .utf8)
        let log = dir.file("gateway.log")
        // Secrets through the environment, as systemd's EnvironmentFile gives them.
        let env = [
            "CITYGATE_MQTT_PASSWORD": secrets["mqtt"]!, "CITYGATE_ALERTS_WEBHOOKS_CONTROL_ROOM_SECRET": secrets["webhook"]!,
            "CITYGATE_HTTP_CTWING_TOKEN": secrets["ctwing"]!, "CITYGATE_HTTP_ONENET_TOKEN": secrets["onenet"]!,
            "CITYGATE_FORWARDER_SINKS_PROVINCE_VM_TOKEN": secrets["upstream"]!,
            "CITYGATE_FORWARDER_SINKS_PROVINCE_MQTT_PASSWORD": secrets["upstream-mqtt"]!,
        ]
        let child = try ChildProcess.spawn(executable: "env", arguments: env.map { "\($0.key)=\($0.value)" } + [citygateExecutable!, "run", "-c", dir.file("gateway.yaml")],
                                           stdoutPath: log)
        defer { child.send(SIGKILL); _ = child.wait() }
        #expect(await waitUntil(timeout: .seconds(180)) {
            FileContents.text(atPath: log).contains("MQTT broker connected") && FreePort.isAccepting(port: httpPort)
        }, "connected with the password from the environment: \(FileContents.text(atPath: log).suffix(2000))")

        // Use every secret: MQTT traffic, pushes with the right and a wrong token, OneNET URL verification.
        try await ProcessRunner.check("mosquitto_pub", ["-h", "127.0.0.1", "-p", "\(broker.port)", "-u", "citygate", "-P", secrets["mqtt"]!, "-q", "1",
                                                        "-t", "city/lixia/dragino/ndds75/411056750041/up", "-m", ndds75Frame(device: "411056750041", distanceMM: 99)])
        var push = HTTPClientRequest(url: "http://127.0.0.1:\(httpPort)/push/ctwing?token=\(secrets["ctwing"]!)")
        push.method = .POST
        push.body = .bytes(ByteBuffer(string: lianPush))
        #expect(try await HTTPClient.shared.execute(push, timeout: .seconds(60)).status == .ok)
        var wrong = HTTPClientRequest(url: "http://127.0.0.1:\(httpPort)/push/ctwing?token=not-\(secrets["ctwing"]!)")
        wrong.method = .POST
        wrong.body = .bytes(ByteBuffer(string: lianPush))
        #expect([401, 403].contains(try await HTTPClient.shared.execute(wrong, timeout: .seconds(60)).status.code))
        _ = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(httpPort)/push/onenet?msg=hello&nonce=abc&signature=AAAA"), timeout: .seconds(60))
        // The uplink tries its receivers (one refuses connections) a few times.
        #expect(await waitUntil(timeout: .seconds(60)) { FileContents.text(atPath: log).contains("province-vm") })
        try await Task.sleep(for: .seconds(2))

        child.send(SIGTERM)
        #expect(await child.wait(timeout: .seconds(30)) == .exited(0))
        let output = FileContents.text(atPath: log)
        #expect(output.contains("trace"), "trace lines were written")
        #expect(output.contains("MQTT batch accepted"))
        for (name, secret) in secrets {
            #expect(!output.contains(secret), "the \(name) secret appears in the log")
        }
    }
}

/// Whether a gateway with this configuration connects to the broker within a bound (for refusals).
enum RunningGatewayAttempt {
    static func connects(broker: Broker, dataDirectory: String, configure: (inout GatewayConfiguration) -> Void) async throws -> Bool {
        var config = GatewayConfiguration()
        config.dataDirectory = dataDirectory
        config.profilesDirectory = Repo.profiles
        config.alerts.rulesDirectory = Repo.root + "/configs/rules"
        config.mqtt.port = broker.port
        config.mqtt.clientID = "refused-gateway"
        config.mqtt.reconnectInitialSeconds = 0.1
        config.mqtt.reconnectMaxSeconds = 0.5
        configure(&config)
        var logger = Logger(label: "test.refused")
        logger.logLevel = .critical
        let runtime = try GatewayRuntime(configuration: config, logger: logger)
        let group = runtime.serviceGroup(signals: false)
        let task = Task { try await group.run() }
        let mqtt = runtime.mqtt!
        // Until the broker has refused it twice (or it connected).
        _ = await waitUntil(timeout: .seconds(120)) { mqtt.stats.connected || mqtt.stats.connectFailures >= 2 }
        let connected = mqtt.stats.connected
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        return connected
    }
}
