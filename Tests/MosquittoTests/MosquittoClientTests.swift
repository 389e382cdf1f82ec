import Foundation
import GatewayTesting
import Mosquitto
import Testing

/// Delivery from outside publishers (mosquitto_pub, Python paho-mqtt) and our own, against a real broker.
@Suite(.enabled(if: Broker.executable != nil, "mosquitto is not installed"))
struct MosquittoClientTests {
    /// All 256 byte values, NUL and invalid UTF-8 included.
    static let binaryPayload: [UInt8] = (0...255).map { UInt8($0) } + [0, 0, 0xFF, 0xFE]

    @Test(arguments: [MQTTQoS.atMostOnce, .atLeastOnce])
    func mosquittoPubMessagesArriveExactly(qos: MQTTQoS) async throws {
        let broker = try await Broker()
        let directory = try TemporaryDirectory()
        let subscriber = try TestClient(broker, id: "sub-pub-\(qos.rawValue)", subscriptions: [.init(filter: "city/#", qos: qos)])
        #expect(await subscriber.waitSubscribed())

        let file = directory.file("payload.bin")
        try Data(Self.binaryPayload).write(to: URL(fileURLWithPath: file))
        let q = String(qos.rawValue)
        try await mosquittoPub(broker, ["-t", "city/text/1", "-m", "hello 世界", "-q", q])
        try await mosquittoPub(broker, ["-t", "city/binary/file", "-f", file, "-q", q])
        try await mosquittoPub(broker, ["-t", "city/binary/stdin", "-s", "-q", q], stdin: Self.binaryPayload.reversed())
        try await mosquittoPub(broker, ["-t", "city/empty", "-n", "-q", q, "-V", "mqttv311"])

        #expect(await subscriber.waitMessages(4))
        let byTopic = Dictionary(subscriber.messages.items.map { ($0.topic, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(subscriber.messages.count == 4)
        #expect(byTopic["city/text/1"]?.payload == Array("hello 世界".utf8))
        #expect(byTopic["city/binary/file"]?.payload == Self.binaryPayload)
        #expect(byTopic["city/binary/stdin"]?.payload == Self.binaryPayload.reversed())
        #expect(byTopic["city/empty"]?.payload == [])
        #expect(subscriber.messages.items.allSatisfy { $0.qos == qos && !$0.retain })
        #expect(subscriber.client.statistics.messagesReceived == 4)
    }

    @Test func retainedMessageIsFlagged() async throws {
        let broker = try await Broker()
        try await mosquittoPub(broker, ["-t", "city/retained", "-m", "last", "-r", "-q", "1"])
        let subscriber = try TestClient(broker, id: "sub-retained", subscriptions: [.init(filter: "city/retained")])
        #expect(await subscriber.waitMessages(1))
        let message = try #require(subscriber.messages.items.first)
        #expect(message.retain)
        #expect(message.payload == Array("last".utf8))
    }

    @Test(arguments: ["5", "311"])
    func pahoMessagesArrive(protocolVersion: String) async throws {
        let broker = try await Broker()
        let subscriber = try TestClient(broker, id: "sub-paho-\(protocolVersion)", subscriptions: [.init(filter: "city/paho/#")])
        #expect(await subscriber.waitSubscribed())
        let script = """
            import sys
            import paho.mqtt.client as mqtt
            port, proto, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
            version = mqtt.MQTTv5 if proto == "5" else mqtt.MQTTv311
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-pub-" + proto, protocol=version)
            c.connect("127.0.0.1", port)
            c.loop_start()
            for i in range(n):
                payload = bytes([i % 256, 0, 255]) + ("reading-%d" % i).encode()
                c.publish("city/paho/%s/%d" % (proto, i), payload, qos=1).wait_for_publish(10)
            c.disconnect()
            c.loop_stop()
            """
        let count = 25
        let python = try #require(ProcessRunner.which("python3"))
        try await ProcessRunner.check(python, ["-c", script, String(broker.port), protocolVersion, String(count)])

        #expect(await subscriber.waitMessages(count))
        let received = Dictionary(subscriber.messages.items.map { ($0.topic, $0.payload) }, uniquingKeysWith: { a, _ in a })
        #expect(subscriber.messages.count == count)
        for i in 0..<count {
            let expected = [UInt8(i % 256), 0, 255] + Array("reading-\(i)".utf8)
            #expect(received["city/paho/\(protocolVersion)/\(i)"] == expected)
        }
    }

    @Test func ownPublishRoundTripsAndCountsCompletion() async throws {
        let broker = try await Broker()
        let subscriber = try TestClient(broker, id: "sub-own", subscriptions: [.init(filter: "city/own/#", qos: .exactlyOnce)])
        #expect(await subscriber.waitSubscribed())
        let publisher = try TestClient(broker, id: "pub-own")
        #expect(await publisher.waitConnected())
        for (i, qos) in MQTTQoS.allCases.enumerated() {
            try publisher.client.publish(topic: "city/own/\(i)", payload: Self.binaryPayload + [UInt8(i)], qos: qos)
        }
        #expect(await subscriber.waitMessages(3))
        #expect(await waitUntil { publisher.client.statistics.messagesPublished == 3 })
        let byTopic = Dictionary(subscriber.messages.items.map { ($0.topic, $0) }, uniquingKeysWith: { a, _ in a })
        for (i, qos) in MQTTQoS.allCases.enumerated() {
            #expect(byTopic["city/own/\(i)"]?.payload == Self.binaryPayload + [UInt8(i)])
            #expect(byTopic["city/own/\(i)"]?.qos == qos)
        }
    }

    @Test func subscribeAndUnsubscribeWhileConnected() async throws {
        let broker = try await Broker()
        let subscriber = try TestClient(broker, id: "sub-dynamic")
        #expect(await subscriber.waitConnected())
        subscriber.client.subscribe(.init(filter: "city/late/#"))
        #expect(await subscriber.waitSubscribed())
        #expect(subscriber.events.items.contains(.subscribed(filter: "city/late/#", grantedQoS: .atLeastOnce)))
        try await mosquittoPub(broker, ["-t", "city/late/1", "-m", "one", "-q", "1"])
        #expect(await subscriber.waitMessages(1))

        subscriber.client.unsubscribe(filter: "city/late/#")
        #expect(subscriber.client.subscriptions.isEmpty)
        // A marker on a second filter proves the unsubscribe was processed before later publishes: the broker
        // handles one client's packets in order.
        subscriber.client.subscribe(.init(filter: "city/marker"))
        #expect(await subscriber.waitSubscribed(2))
        try await mosquittoPub(broker, ["-t", "city/late/2", "-m", "two", "-q", "1"])
        try await mosquittoPub(broker, ["-t", "city/marker", "-m", "end", "-q", "1"])
        #expect(await subscriber.waitMessages(2))
        #expect(subscriber.texts == ["one", "end"])
    }

    @Test func sharedSubscriptionSplitsOneStream() async throws {
        let broker = try await Broker()
        let filter = MQTTSubscription(filter: "$share/citygate/city/shared/#", qos: .atLeastOnce)
        let a = try TestClient(broker, id: "share-a", subscriptions: [filter])
        let b = try TestClient(broker, id: "share-b", subscriptions: [filter])
        #expect(await a.waitSubscribed())
        #expect(await b.waitSubscribed())

        let count = 200
        try await publishMany(broker, topic: "city/shared", count: count, prefix: "s", id: "share-pub")
        #expect(await waitUntil { a.messages.count + b.messages.count >= count })
        a.client.stop()
        b.client.stop()

        let textsA = a.texts
        let textsB = b.texts
        #expect(!textsA.isEmpty)
        #expect(!textsB.isEmpty)
        let all = textsA + textsB
        #expect(all.count == count, "no duplicates")
        #expect(Set(all) == Set((0..<count).map { "s-\($0)" }))
        #expect(Set(textsA).isDisjoint(with: textsB))
    }
}
