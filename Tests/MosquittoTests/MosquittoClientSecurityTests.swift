import GatewayTesting
import Mosquitto
import Testing

/// TLS and password authentication against a real broker.
@Suite(.enabled(if: Broker.executable != nil, "mosquitto is not installed"))
struct MosquittoClientSecurityTests {
    @Test func tlsWithTheRightCAReceivesMessages() async throws {
        let directory = try TemporaryDirectory()
        let fixture = try await TLSFixture.generate(in: directory.path, name: "good")
        let broker = try await Broker(options: .init(tls: .init(fixture)))
        let subscriber = try TestClient(broker, id: "sub-tls", subscriptions: [.init(filter: "city/tls/#")]) {
            $0.tls = .init(caFile: fixture.caFile)
        }
        #expect(await subscriber.waitSubscribed())
        try await mosquittoPub(broker, ["--cafile", fixture.caFile, "-t", "city/tls/1", "-m", "secret", "-q", "1"])
        #expect(await subscriber.waitMessages(1))
        #expect(subscriber.texts == ["secret"])
        #expect(subscriber.client.lastError == nil)
    }

    @Test func tlsWithAnotherCAFailsToConnect() async throws {
        let directory = try TemporaryDirectory()
        let fixture = try await TLSFixture.generate(in: directory.path, name: "good")
        let other = try await TLSFixture.generate(in: directory.path, name: "other")
        let broker = try await Broker(options: .init(tls: .init(fixture)))
        let client = try TestClient(broker, id: "sub-wrong-ca") { $0.tls = .init(caFile: other.caFile) }
        #expect(await waitUntil { client.client.statistics.connectFailures >= 2 }, "keeps retrying without crashing")
        #expect(client.client.statistics.connects == 0)
        let error = try #require(client.client.lastError)
        #expect(error.kind == .tls)
        #expect(error.description.contains("certificate verify failed"), "OpenSSL's reason is kept: \(error)")
        #expect(await waitUntil { client.events.items.contains { if case .connectFailed = $0 { true } else { false } } })
        #expect(!client.events.items.contains { if case .connected = $0 { true } else { false } })
    }

    @Test func plainClientCannotTalkToATLSListener() async throws {
        let directory = try TemporaryDirectory()
        let fixture = try await TLSFixture.generate(in: directory.path, name: "good")
        let broker = try await Broker(options: .init(tls: .init(fixture)))
        let client = try TestClient(broker, id: "sub-plain")
        #expect(await waitUntil { client.client.statistics.connectFailures >= 1 })
        #expect(client.client.statistics.connects == 0)
    }

    @Test(arguments: [MQTTClientConfiguration.ProtocolVersion.v5, .v311])
    func passwordAuthentication(version: MQTTClientConfiguration.ProtocolVersion) async throws {
        let directory = try TemporaryDirectory()
        let passwords = directory.file("passwd")
        try await MosquittoPasswordFile.create(at: passwords, users: [("gateway", "s3cret"), ("sensor", "other")])
        let broker = try await Broker(options: .init(allowAnonymous: false, passwordFile: passwords))

        let good = try TestClient(broker, id: "sub-auth-good", subscriptions: [.init(filter: "city/auth/#")]) {
            $0.protocolVersion = version
            $0.username = "gateway"
            $0.password = "s3cret"
        }
        #expect(await good.waitSubscribed())
        try await mosquittoPub(broker, ["-u", "sensor", "-P", "other", "-t", "city/auth/1", "-m", "ok", "-q", "1"])
        #expect(await good.waitMessages(1))
        #expect(good.texts == ["ok"])

        let bad = try TestClient(broker, id: "sub-auth-bad") {
            $0.protocolVersion = version
            $0.username = "gateway"
            $0.password = "wrong"
        }
        let anonymous = try TestClient(broker, id: "sub-auth-anonymous") { $0.protocolVersion = version }
        for refused in [bad, anonymous] {
            #expect(await waitUntil { refused.client.statistics.connectFailures >= 1 })
            #expect(refused.client.statistics.connects == 0)
            let error = try #require(refused.client.lastError)
            #expect(error.kind == .connectionRefused)
            #expect(error.reasonCode != nil)
            let text = error.description.lowercased()
            #expect(text.contains("refused") && (text.contains("authori") || text.contains("password")), "\(error)")
        }
    }
}
