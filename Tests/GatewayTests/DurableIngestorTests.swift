import Catalog
import Foundation
import Gateway
import GatewayCore
import Logging
import Testing
import TimeSeriesStore

@Suite("Durable ingest (CoAP CON and carrier push acknowledge on it)")
struct DurableIngestorTests {
    static var root: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    func runtime(_ dir: String) throws -> GatewayRuntime {
        var config = GatewayConfiguration()
        config.dataDirectory = dir
        config.profilesDirectory = Self.root + "/device-profiles"
        config.alerts.rulesDirectory = Self.root + "/configs/rules"
        config.mqtt.enabled = false
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try GatewayRuntime(configuration: config, logger: logger)
    }

    @Test func storedSamplesAreInTheWALWhenTheCallReturnsAndRejectsAreDeadLettered() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("durable-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let gateway = try runtime(dir)
            let now = WallClock.nowMs()
            let good = RawMessage(transport: .mqtt, topic: "lora/milesight/em500-pp/24e124148b24ce7c/up",
                                  payload: [0x01, 0x75, 90, 0x03, 0x7B, 0x2C, 0x01], receiveTimeMs: now)
            let unknown = RawMessage(transport: .mqtt, topic: "nobody/knows/this", payload: [1, 2, 3], receiveTimeMs: now)
            let outcomes = await gateway.durableIngest.ingest([good, unknown])
            #expect(outcomes.count == 2)
            #expect(outcomes[0] == .stored(samples: 2))
            guard case .rejected(let reason, _) = outcomes[1] else {
                Issue.record("the unknown topic was not rejected: \(outcomes[1])")
                return
            }
            #expect(reason == .noProfile)
            #expect(outcomes.allSatisfy { $0.isAccepted })
            #expect(gateway.pipeline.stats.deadLetterTotal == 1)
            let letter = DeadLetter(message: unknown, reason: .malformed, error: "envelope did not parse")
            #expect(await gateway.durableIngest.deadLetter(letter))
            #expect(gateway.pipeline.stats.deadLetters[.malformed] == 1)
            // No close, no checkpoint: what the WAL holds is what a restart (or a read-only reader) sees.
        }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let reopened = try TimeSeriesStore(configuration: StoreConfiguration(directory: dir + "/store"), logger: logger, readOnly: true)
        let id = try #require(reopened.seriesID(device: "24e124148b24ce7c", metric: "pressure"))
        #expect(try reopened.last(id)?.value == 300_000)
        try reopened.close()
    }

    @Test func platformPresenceReportsMoveKnownDevicesOfflineAndOnline() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("presence-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gateway = try runtime(dir)
        let now = WallClock.nowMs()
        let data = RawMessage(transport: .mqtt, topic: "lora/milesight/em500-pp/24e124148b24ce7c/up",
                              payload: [0x01, 0x75, 90, 0x03, 0x7B, 0x2C, 0x01], receiveTimeMs: now)
        _ = await gateway.durableIngest.ingest([data])
        #expect(gateway.registry.device(id: "24e124148b24ce7c")?.state == .online)
        func presence(_ online: Bool, device: String) -> RawMessage {
            RawMessage(transport: .ctwing, topic: "15014772/\(device)", payload: [], receiveTimeMs: now + 1_000,
                       attributes: ["event.online": online ? "1" : "0", "platform.device_id": device])
        }
        #expect(await gateway.durableIngest.ingest([presence(false, device: "24e124148b24ce7c")]) == [.stored(samples: 0)])
        #expect(gateway.registry.device(id: "24e124148b24ce7c")?.state == .offline)
        #expect(gateway.registry.summary.offline == 1)
        _ = await gateway.durableIngest.ingest([presence(true, device: "24e124148b24ce7c")])
        #expect(gateway.registry.device(id: "24e124148b24ce7c")?.state == .online)
        // Unknown to the registry: accepted, nothing created, no dead letter.
        #expect(await gateway.durableIngest.ingest([presence(false, device: "nobody")]) == [.stored(samples: 0)])
        #expect(gateway.registry.device(id: "nobody") == nil)
        #expect(gateway.pipeline.stats.deadLetterTotal == 0)
    }
}
