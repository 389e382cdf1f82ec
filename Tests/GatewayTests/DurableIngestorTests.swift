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
}
