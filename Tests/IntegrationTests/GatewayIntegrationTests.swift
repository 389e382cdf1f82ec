import Catalog
import DeviceProfiles
import Foundation
import Gateway
import GatewayCore
import GatewayTesting
import Logging
import MQTTIngest
import Testing
import TimeSeriesStore

/// The spine end to end: real mosquitto, real outside clients, the whole gateway in-process.
@Suite(.enabled(if: Broker.executable != nil && ProcessRunner.which("mosquitto_pub") != nil), .serialized)
struct GatewayIntegrationTests {
    @Test func mosquittoPubAndPahoMessagesArriveAsSamples() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let data = try TemporaryDirectory()
        let gateway = try await RunningGateway(broker: broker, dataDirectory: data.path, clientID: "it-clients")

        // mosquitto_pub: ASCII-hex text (Dragino NDDS75) and binary from a file (Milesight EM500-PP).
        try await mosquittoPub(broker, topic: "city/lixia/dragino/ndds75/x1/up", message: "41105675647100640cd1070a1600")
        let bin = data.file("pp.bin")
        try Data([0x01, 0x75, 0x64, 0x03, 0x7B, 0x0A, 0x00]).write(to: URL(fileURLWithPath: bin))
        try await mosquittoPub(broker, topic: "lora/milesight/em500-pp/24e1000000000001/up", file: bin)
        // paho-mqtt (MQTT 5): JSON (Yunfei) and binary TLV (EM500-CO2).
        try await pahoPublish(broker, [
            ("/yfkj/cbd/pub/865650043207246", Array(#"{"cmd":"status","ext":{"csq":29,"upds":1,"lat":"34.815187","lng":"113.67336","stamp":"20260101080000"}}"#.utf8)),
            ("lora/milesight/em500-co2/24e1000000000002/up", HexCodec.decode("01756403671901046873057D670406736827")!),
        ])

        let c = gateway.collector
        #expect(await waitUntil(timeout: .seconds(10)) { c.samples.count >= 4 + 2 + 4 + 5 })
        #expect(c.values(device: "411056756471", metric: "distance") == [2.582])
        #expect(c.values(device: "24e1000000000001", metric: "pressure") == [10_000])
        #expect(c.values(device: "865650043207246", metric: "upper_door") == [1])
        #expect(c.values(device: "865650043207246", metric: "latitude") == [34.815187])
        #expect(c.values(device: "24e1000000000002", metric: "co2") == [1127])
        #expect(c.samples.items.first { $0.metric == "upper_door" }?.deviceTimeMs == 1_767_225_600_000, "Yunfei local time +08:00")
        await gateway.stop()

        // The registry kept them, with battery and signal, across the flush on shutdown.
        let registry = try DeviceRegistry(path: data.file("catalog.db"), logger: Logger(label: "t"))
        let ndds = try #require(registry.device(id: "411056756471"))
        #expect(ndds.profileID == "dragino-ndds75")
        #expect(ndds.battery?.value == 3.281)
        #expect(ndds.csqDbm == -99)
        #expect(registry.device(id: "865650043207246")?.csqDbm == -55)
        #expect(registry.count == 4)
    }

    @Test func malformedCorpusLandsInDeadLettersWhileGoodMessagesFlow() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let data = try TemporaryDirectory()
        let gateway = try await RunningGateway(broker: broker, dataDirectory: data.path, clientID: "it-bad") { c in
            c.mqtt.extraSubscriptions = ["city/unknown/#"]
        }
        var messages: [(topic: String, payload: [UInt8])] = []
        var expectedReasons: [DeadLetter.Reason: Int] = [:]
        func bad(_ topic: String, _ payload: [UInt8], _ reason: DeadLetter.Reason) {
            messages.append((topic, payload))
            expectedReasons[reason, default: 0] += 1
        }
        for i in 0..<300 {
            let device = String(format: "24e10000%08x", i)
            messages.append(("lora/milesight/em500-pp/\(device)/up", [0x01, 0x75, 0x64, 0x03, 0x7B, UInt8(i % 200), 0x01]))
            switch i % 6 {
            case 0: bad("lora/milesight/em500-pp/\(device)/up", [0x01, 0x75], .decode)  // truncated
            case 1: bad("lora/milesight/gs524n/\(device)/up", HexCodec.decode("221E64001C41")!, .integrity)  // wrong checksum
            case 2: bad("/yfkj/cbd/pub/\(i)", Array(#"{"cmd":"status","ext":{"csq":"#.utf8), .malformed)  // bad JSON
            case 3: bad("/yfkj/cbd/pub/\(i)", [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D], .malformed)  // bad UTF-8
            case 4: bad("city/unknown/thing/\(i)", [1, 2, 3], .noProfile)  // unknown topic
            default: bad("lora/milesight/em500-pp/\(device)/up", Array(repeating: 0x01, count: 70_000), .oversize)
            }
        }
        try await pahoPublish(broker, messages)
        let c = gateway.collector
        let pipeline = gateway.runtime.pipeline
        #expect(await waitUntil(timeout: .seconds(20)) { pipeline.stats.messages >= messages.count })
        // Every good message became its samples (battery + pressure), none held back by the bad ones.
        #expect(Set(c.samples.items.filter { $0.metric == "pressure" }.map(\.device)).count == 300)
        #expect(c.samples.count == 600)
        await gateway.stop()

        let store = try DeadLetterStore(path: data.file("catalog.db"), logger: Logger(label: "t"))
        #expect(try store.countsByReason() == expectedReasons)
        let oversize = try #require(try store.list(reason: .oversize, limit: 1).first)
        #expect(oversize.letter.message.payload.count == 70_000, "the raw bytes are kept whole")
        let crc = try #require(try store.list(reason: .integrity, limit: 1).first)
        #expect(crc.letter.profileID == "milesight-gs524n")
        #expect(crc.letter.error.contains("sum8"))
        let utf8 = try #require(try store.list(reason: .malformed, limit: 300).first { $0.letter.message.payload == [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D] })
        #expect(utf8.letter.error.contains("UTF-8"))
    }

    @Test func persistentSessionDeliversWhatWasPublishedWhileTheGatewayWasAway() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let data = try TemporaryDirectory()
        let first = try await RunningGateway(broker: broker, dataDirectory: data.path, clientID: "it-persistent")
        await first.stop()

        // The gateway is away: 200 QoS 1 messages wait in its session on the broker.
        let messages = (0..<200).map { i in ("lora/milesight/em500-pp/\(String(format: "24e1%012x", i))/up", [UInt8]([0x03, 0x7B, UInt8(i % 256), 0x00])) }
        try await pahoPublish(broker, messages)

        let second = try await RunningGateway(broker: broker, dataDirectory: data.path, clientID: "it-persistent")
        let c = second.collector
        #expect(await waitUntil(timeout: .seconds(10)) { c.samples.count >= 200 })
        #expect(Set(c.samples.items.map(\.device)).count == 200)
        await second.stop()
    }

    @Test func brokerRestartMidStreamIsSurvived() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let data = try TemporaryDirectory()
        let gateway = try await RunningGateway(broker: broker, dataDirectory: data.path, clientID: "it-restart")
        let mqtt = try #require(gateway.runtime.mqtt)
        try await pahoPublish(broker, (0..<50).map { ("lora/milesight/em500-pp/before\($0)/up", [0x03, 0x7B, 0x10, 0x00]) })
        #expect(await waitUntil(timeout: .seconds(10)) { gateway.collector.samples.count >= 50 })

        try await broker.restart()
        #expect(await waitUntil(timeout: .seconds(15)) { mqtt.stats.connects >= 2 && mqtt.stats.connected }, "reconnected with backoff")
        try await Task.sleep(for: .milliseconds(300))
        try await pahoPublish(broker, (0..<50).map { ("lora/milesight/em500-pp/after\($0)/up", [0x03, 0x7B, 0x20, 0x00]) })
        #expect(await waitUntil(timeout: .seconds(10)) { gateway.collector.samples.count >= 100 }, "re-subscribed after the restart")
        #expect(gateway.collector.samples.items.filter { $0.device.hasPrefix("after") }.count == 50)
        await gateway.stop()
    }

    @Test func twoGatewaysOnASharedSubscriptionSplitTheStream() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let dataA = try TemporaryDirectory()
        let dataB = try TemporaryDirectory()
        let a = try await RunningGateway(broker: broker, dataDirectory: dataA.path, clientID: "it-share-a") { $0.mqtt.sharedGroup = "citygate" }
        let b = try await RunningGateway(broker: broker, dataDirectory: dataB.path, clientID: "it-share-b") { $0.mqtt.sharedGroup = "citygate" }
        let n = 400
        try await pahoPublish(broker, (0..<n).map { ("lora/milesight/em500-pp/dev\($0)/up", [0x03, 0x7B, UInt8($0 % 256), 0x00]) })
        #expect(await waitUntil(timeout: .seconds(15)) { a.collector.samples.count + b.collector.samples.count >= n })
        try await Task.sleep(for: .milliseconds(300))
        let devicesA = a.collector.samples.items.map(\.device)
        let devicesB = b.collector.samples.items.map(\.device)
        #expect(!devicesA.isEmpty && !devicesB.isEmpty, "each gateway gets part of the stream (\(devicesA.count) / \(devicesB.count))")
        #expect(devicesA.count + devicesB.count == n, "together exactly all of it")
        #expect(Set(devicesA).isDisjoint(with: devicesB), "no message reaches both")
        #expect(Set(devicesA + devicesB).count == n)
        await a.stop()
        await b.stop()
    }

    @Test func deadLettersReplayAfterAProfileFix() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let data = try TemporaryDirectory()
        // A profile directory with an EM500-PP profile that lacks the pressure channel.
        let profiles = data.file("profiles")
        try FileManager.default.createDirectory(atPath: profiles, withIntermediateDirectories: true)
        let good = try String(contentsOfFile: Repo.profiles + "/milesight/em500-pp.yaml", encoding: .utf8)
        let broken = good.replacingOccurrences(of: "        \"03 7B\": { name: pressure, type: u16, unit: kPa, sentinel: { 0xFFFF: bad } }\n", with: "")
            .replacingOccurrences(of: "        pressure: { value: 10000, unit: Pa }\n", with: "")
        #expect(broken != good)
        try broken.write(toFile: profiles + "/em500-pp.yaml", atomically: true, encoding: .utf8)

        let gateway = try await RunningGateway(broker: broker, dataDirectory: data.path, clientID: "it-replay", profiles: profiles)
        try await pahoPublish(broker, (0..<20).map { ("lora/milesight/em500-pp/r\($0)/up", [0x01, 0x75, 0x64, 0x03, 0x7B, 0x0A, 0x00]) })
        let pipeline = gateway.runtime.pipeline
        #expect(await waitUntil(timeout: .seconds(10)) { pipeline.stats.deadLetterTotal >= 20 })
        await gateway.stop()

        // The vendor fixes the profile; replay re-decodes every stored letter.
        try good.write(toFile: profiles + "/em500-pp.yaml", atomically: true, encoding: .utf8)
        let store = try DeadLetterStore(path: data.file("catalog.db"), logger: Logger(label: "t"))
        let report = try await DeadLetterTool.replay(store: store, profiles: try ProfileSet.load(directory: profiles), ids: [], limit: 100, sink: nil)
        #expect(report.replayed == 20)
        #expect(report.failed == 0)
        #expect(report.samples.filter { $0.metric == "pressure" }.map(\.value) == Array(repeating: 10_000, count: 20))
        #expect(try store.count(status: .replayed) == 20)
        #expect(try store.count(status: .new) == 0)
    }
}

/// MQTT in, samples stored, a restart replays the WAL, queries read them back.
@Suite(.enabled(if: Broker.executable != nil), .serialized)
struct StoreIntegrationTests {
    @Test func samplesFromMQTTAreStoredAndSurviveARestart() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let data = try TemporaryDirectory()
        let gateway = try await RunningGateway(broker: broker, dataDirectory: data.path, clientID: "it-store")
        // 120 pest-lamp kill counts with device times a minute apart (stamp is China time, +08:00).
        let messages = (0..<120).map { i -> (topic: String, payload: [UInt8]) in
            let stamp = String(format: "20260101%02d%02d00", 8 + i / 60, i % 60)
            return ("/yfkj/scd/pub/lamp-7", Array("{\"cmd\":\"data\",\"ext\":{\"ct\":\"\(i)\",\"stamp\":\"\(stamp)\"}}".utf8))
        }
        try await pahoPublish(broker, messages)
        let store = try #require(gateway.runtime.store)
        #expect(await waitUntil(timeout: .seconds(10)) { store.stats.acceptedPoints >= 120 })
        let id = try #require(store.seriesID(device: "lamp-7", metric: "kill_count"))
        let points = try store.raw(id, fromMs: 0, toMs: .max)
        #expect(points.map(\.value) == (0..<120).map(Double.init))
        #expect(points.first?.timeMs == Int64(1_767_225_600_000), "2026-01-01 08:00 +08:00")
        #expect(points.last?.timeMs == Int64(1_767_225_600_000) + 119 * 60_000)
        await gateway.stop()

        // A new gateway on the same data directory: the WAL brings the points back.
        let again = try await RunningGateway(broker: broker, dataDirectory: data.path, clientID: "it-store")
        let reopened = try #require(again.runtime.store)
        // Closed partitions were sealed into segments; the rest came back from the WAL.
        #expect(reopened.stats.segmentPoints + Int64(reopened.recovery.replayedPoints) >= 120)
        let id2 = try #require(reopened.seriesID(device: "lamp-7", metric: "kill_count"))
        #expect(id2 == id)
        #expect(try reopened.raw(id2, fromMs: 0, toMs: .max) == points)
        #expect(try reopened.last(id2) == points.last)
        await again.stop()
    }
}
