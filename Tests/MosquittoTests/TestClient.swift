import GatewayTesting
import Mosquitto
import Testing

/// A `MosquittoClient` with its messages and events collected, for tests.
final class TestClient: Sendable {
    let client: MosquittoClient
    let messages: Collector<MQTTMessage>
    let events: Collector<MQTTEvent>
    private let eventTask: Task<Void, Never>

    /// Creates and starts a client against `broker`.
    init(
        _ broker: Broker, id: String, subscriptions: [MQTTSubscription] = [], start: Bool = true,
        configure: (inout MQTTClientConfiguration) -> Void = { _ in }
    ) throws {
        var configuration = MQTTClientConfiguration(
            host: broker.host, port: broker.port, clientID: id,
            reconnect: MQTTReconnectPolicy(initialDelay: .milliseconds(50), maxDelay: .milliseconds(500), jitterFraction: 0.2)
        )
        configure(&configuration)
        let messages = Collector<MQTTMessage>()
        let events = Collector<MQTTEvent>()
        self.messages = messages
        self.events = events
        let client = try MosquittoClient(configuration: configuration, subscriptions: subscriptions) { messages.append($0) }
        self.client = client
        self.eventTask = Task {
            for await event in client.events { events.append(event) }
        }
        if start { try client.start() }
    }

    deinit {
        client.stop()
        eventTask.cancel()
    }

    /// Number of `.subscribed` events so far.
    var subscribedCount: Int {
        events.items.count { if case .subscribed = $0 { true } else { false } }
    }

    /// Number of `.connected` events so far.
    var connectedEvents: [Bool] {
        events.items.compactMap { if case .connected(let present) = $0 { present } else { nil } }
    }

    /// Waits until the broker has acknowledged `count` subscriptions in total.
    func waitSubscribed(_ count: Int = 1) async -> Bool {
        await waitUntil { self.subscribedCount >= count }
    }

    /// Waits until the client has received at least `count` messages.
    func waitMessages(_ count: Int) async -> Bool {
        await waitUntil { self.messages.count >= count }
    }

    /// Waits until the client is connected.
    func waitConnected() async -> Bool {
        await waitUntil { self.client.isConnected }
    }

    /// Payloads received, as UTF-8 text.
    var texts: [String] { messages.items.map { String(decoding: $0.payload, as: UTF8.self) } }
}

/// `mosquitto_pub` against a broker, with the given extra arguments.
func mosquittoPub(_ broker: Broker, _ arguments: [String], stdin: [UInt8]? = nil) async throws {
    let tool = try #require(ProcessRunner.which("mosquitto_pub"))
    try await ProcessRunner.check(tool, ["-h", broker.host, "-p", String(broker.port)] + arguments, stdin: stdin)
}

/// Publishes `count` QoS 1 messages `"<prefix>-<i>"` to `topic/<i>` from a fresh client, then stops it after
/// every PUBACK (stop flushes).
func publishMany(
    _ broker: Broker, topic: String, count: Int, prefix: String = "m", id: String, configure: (inout MQTTClientConfiguration) -> Void = { _ in }
) async throws {
    let publisher = try TestClient(broker, id: id, configure: configure)
    #expect(await publisher.waitConnected())
    for i in 0..<count {
        try publisher.client.publish(topic: "\(topic)/\(i)", payload: Array("\(prefix)-\(i)".utf8), qos: .atLeastOnce)
    }
    publisher.client.stop(flushTimeout: .seconds(10))
    #expect(publisher.client.statistics.messagesPublished == count)
}

/// Deletes a stored session: connecting with a clean session (and, on MQTT 5, session expiry 0) makes the broker
/// discard it, and it is not kept after this disconnect. Returns whether a session was present.
func clearSession(_ broker: Broker, id: String, version: MQTTClientConfiguration.ProtocolVersion) async throws -> Bool? {
    let cleaner = try TestClient(broker, id: id) { $0.protocolVersion = version }
    #expect(await waitUntil { !cleaner.connectedEvents.isEmpty })
    cleaner.client.stop()
    return cleaner.connectedEvents.first
}
