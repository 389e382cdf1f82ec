import Foundation
import GatewayTesting
import Mosquitto
import Testing

/// Reconnects, re-subscription and persistent sessions, against a real broker that the tests kill and restart.
@Suite(.enabled(if: Broker.executable != nil, "mosquitto is not installed"))
struct MosquittoClientSessionTests {
    static func persistent(_ version: MQTTClientConfiguration.ProtocolVersion) -> (inout MQTTClientConfiguration) -> Void {
        { configuration in
            configuration.protocolVersion = version
            configuration.cleanSession = false
            configuration.sessionExpirySeconds = 300
        }
    }

    static func texts(_ prefix: String, _ count: Int) -> Set<String> {
        Set((0..<count).map { "\(prefix)-\($0)" })
    }

    @Test func reconnectsAndResubscribesAfterBrokerRestart() async throws {
        let broker = try await Broker()
        let subscriber = try TestClient(broker, id: "sub-restart", subscriptions: [.init(filter: "city/restart/#")])
        #expect(await subscriber.waitSubscribed())
        try await publishMany(broker, topic: "city/restart", count: 10, prefix: "before", id: "pub-before")
        #expect(await subscriber.waitMessages(10))

        // SIGKILL without persistence: the restarted broker has forgotten the subscription, so the later messages
        // arrive only if the client subscribes again on reconnect.
        broker.stop()
        #expect(await waitUntil { !subscriber.client.isConnected })
        #expect(await waitUntil { subscriber.client.statistics.connectFailures >= 1 })
        try await broker.restart()
        #expect(await waitUntil { subscriber.client.statistics.connects >= 2 })
        #expect(await subscriber.waitSubscribed(2))

        try await publishMany(broker, topic: "city/restart", count: 10, prefix: "after", id: "pub-after")
        #expect(await subscriber.waitMessages(20))
        #expect(Set(subscriber.texts) == Self.texts("before", 10).union(Self.texts("after", 10)))
        #expect(subscriber.messages.count == 20)
        #expect(subscriber.events.items.contains { if case .connectionLost = $0 { true } else { false } })
        #expect(subscriber.connectedEvents == [false, false])
        let statistics = subscriber.client.statistics
        #expect(statistics.connects == 2)
        #expect(statistics.disconnects == 1)
    }

    @Test(arguments: [MQTTClientConfiguration.ProtocolVersion.v5, .v311])
    func persistentSessionQueuesWhileClientIsAway(version: MQTTClientConfiguration.ProtocolVersion) async throws {
        let broker = try await Broker()
        let id = "sub-persist-\(version)"
        let subscription = MQTTSubscription(filter: "city/persist/#", qos: .atLeastOnce)
        let first = try TestClient(broker, id: id, subscriptions: [subscription], configure: Self.persistent(version))
        #expect(await first.waitSubscribed())
        first.client.stop()
        #expect(await waitUntil { first.events.items.last == .disconnected })

        try await publishMany(broker, topic: "city/persist", count: 50, prefix: "away", id: "pub-persist-\(version)")

        let second = try TestClient(broker, id: id, subscriptions: [subscription], configure: Self.persistent(version))
        #expect(await second.waitMessages(50))
        #expect(await waitUntil { !second.connectedEvents.isEmpty })
        #expect(second.connectedEvents.first == true, "the broker resumed the stored session")
        #expect(Set(second.texts) == Self.texts("away", 50))
        #expect(second.messages.items.allSatisfy { $0.qos == .atLeastOnce })
        second.client.stop()

        // Clean up the stored session, and check that it is gone.
        #expect(try await clearSession(broker, id: id, version: version) == false, "a clean start never resumes a session")
        let third = try TestClient(broker, id: id, configure: Self.persistent(version))
        #expect(await waitUntil { !third.connectedEvents.isEmpty })
        #expect(third.connectedEvents.first == false, "the session was deleted")
        third.client.stop()
        _ = try await clearSession(broker, id: id, version: version)
    }

    /// The control for the test above: MQTT 5 with session expiry 0 ends the session at disconnect, even with
    /// clean start off, so nothing is queued.
    @Test func sessionExpiryZeroEndsTheSessionAtDisconnect() async throws {
        let broker = try await Broker()
        let id = "sub-expiry-zero"
        let subscription = MQTTSubscription(filter: "city/expiry/#", qos: .atLeastOnce)
        let configure: (inout MQTTClientConfiguration) -> Void = {
            $0.cleanSession = false
            $0.sessionExpirySeconds = 0
        }
        let first = try TestClient(broker, id: id, subscriptions: [subscription], configure: configure)
        #expect(await first.waitSubscribed())
        first.client.stop()

        try await publishMany(broker, topic: "city/expiry", count: 10, prefix: "lost", id: "pub-expiry-zero")

        let second = try TestClient(broker, id: id, subscriptions: [subscription], configure: configure)
        #expect(await second.waitSubscribed())
        // Queued messages would be delivered right after CONNACK, before this marker (published after SUBACK).
        try await mosquittoPub(broker, ["-t", "city/expiry/marker", "-m", "marker", "-q", "1"])
        #expect(await second.waitMessages(1))
        #expect(second.texts == ["marker"])
        #expect(second.connectedEvents == [false])
        second.client.stop()
        _ = try await clearSession(broker, id: id, version: .v5)
    }

    @Test func persistentSessionSurvivesBrokerRestartWithPersistence() async throws {
        let broker = try await Broker(options: .init(persistence: true))
        let id = "sub-persist-broker"
        let subscription = MQTTSubscription(filter: "city/persist/#", qos: .atLeastOnce)
        let first = try TestClient(broker, id: id, subscriptions: [subscription], configure: Self.persistent(.v5))
        #expect(await first.waitSubscribed())
        first.client.stop()

        try await publishMany(broker, topic: "city/persist", count: 30, prefix: "saved", id: "pub-persist-broker")
        await broker.terminate()  // SIGTERM: mosquitto writes its database before exiting
        #expect(FileManager.default.fileExists(atPath: broker.directory.file("mosquitto.db")))
        try await broker.restart()

        let second = try TestClient(broker, id: id, subscriptions: [subscription], configure: Self.persistent(.v5))
        #expect(await second.waitMessages(30))
        #expect(await waitUntil { !second.connectedEvents.isEmpty })
        #expect(second.connectedEvents.first == true)
        #expect(Set(second.texts) == Self.texts("saved", 30))
        second.client.stop()
        _ = try await clearSession(broker, id: id, version: .v5)
    }
}
