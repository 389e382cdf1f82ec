import Foundation
import GatewayCore
import GatewayTesting
import Mosquitto
import Testing
@testable import Forwarder

/// The MQTT uplink against a real mosquitto: a PUBACK with an error reason code is not an acknowledgement.
@Suite(.enabled(if: Broker.executable != nil, "needs mosquitto"))
struct MQTTUplinkSinkTests {
    func batch(seq: Int64) -> OutboxBatch {
        let p = RollupPoint(device: "d1", metric: "level", unit: "m", windowMs: 60_000, startMs: 60_000, count: 1, min: 1, max: 1, sum: 1, last: 1)
        return OutboxBatch(sink: "province", seq: seq, stream: .rollups(windowMs: 60_000), rows: [.init(id: seq, points: 1, createdMs: 0, body: OutboxCodec.encode([p]))])
    }

    func sink(port: Int, topic: String) -> MQTTUplinkSink {
        MQTTUplinkSink(configuration: .init(
            name: "province", gateway: "gw",
            client: MQTTClientConfiguration(port: port, clientID: "uplink-\(topic.prefix(7))-\(UInt32.random(in: 0...UInt32.max))", protocolVersion: .v5),
            topic: topic, ackTimeout: .seconds(10)))
    }

    @Test func aPubackWithAnErrorReasonCodeIsAFailureAndTheBatchIsRetried() async throws {
        // Anonymous clients may publish under allowed/ only: mosquitto answers an MQTT 5 PUBLISH elsewhere with
        // PUBACK 0x87 (not authorized).
        let dir = try TemporaryDirectory(prefix: "acl")
        let acl = dir.file("acl")
        try "topic readwrite allowed/#\n".write(toFile: acl, atomically: true, encoding: .utf8)
        let broker = try await Broker(options: .init(extraConfiguration: ["acl_file \(acl)"]))
        defer { broker.stop() }

        let denied = sink(port: broker.port, topic: "province/{gateway}/{stream}")
        for attempt in 1...2 {
            do {
                let outcome = try await denied.send(batch(seq: 1))
                Issue.record("attempt \(attempt): a refused publish counted as \(outcome)")
            } catch let error as UplinkSinkError {
                #expect(error == .refused(reasonCode: 0x87), "attempt \(attempt)")
            }
        }
        await denied.shutdown()

        // The same sink code on a permitted topic: PUBACK 0x00 or 0x10 (no matching subscribers) both acknowledge.
        let permitted = sink(port: broker.port, topic: "allowed/{gateway}/{stream}")
        let first = try await permitted.send(batch(seq: 1))
        let second = try await permitted.send(batch(seq: 2))
        await permitted.shutdown()
        #expect(first == .acknowledged)
        #expect(second == .acknowledged)
    }
}
