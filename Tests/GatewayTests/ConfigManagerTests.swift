import DeviceProfiles
import Foundation
import Gateway
import GatewayCore
import GatewayTesting
import Logging
import Testing

/// `ConfigManager` over real files in a temporary directory and a real decoder: activation writes files and swaps
/// the profile set, refusals leave the disk and the running set as they were, reloads record disk edits.
@Suite struct ConfigManagerTests {
    struct Fixture {
        let dir: TemporaryDirectory
        let profiles: String
        let rules: String
        let decoder: ReloadableDecoder
        let manager: ConfigManager

        init(shared: Bool = false) throws {
            dir = try TemporaryDirectory()
            profiles = dir.file("profiles")
            rules = dir.file("rules")
            try FileManager.default.createDirectory(atPath: profiles + "/test", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: profiles + "/bosch", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: rules, withIntermediateDirectories: true)
            try MeterProfile.yaml(version: 1, scale: 1).write(toFile: profiles + "/test/meter.yaml", atomically: true, encoding: .utf8)
            let bosch = try String(contentsOfFile: Self.repoRoot + "/device-profiles/bosch/tps110.yaml", encoding: .utf8)
            try bosch.write(toFile: profiles + "/bosch/tps110.yaml", atomically: true, encoding: .utf8)
            if shared {
                let two = MeterProfile.yaml(version: 1, scale: 1, id: "pair-a").replacingOccurrences(of: "test/meter/", with: "pair/a/")
                    + "---\n" + MeterProfile.yaml(version: 1, scale: 1, id: "pair-b").replacingOccurrences(of: "test/meter/", with: "pair/b/")
                try two.write(toFile: profiles + "/test/pair.yaml", atomically: true, encoding: .utf8)
            }
            try "rules:\n  - { id: level-high, select: { metric: level }, above: 10 }\n".write(toFile: rules + "/city.yaml", atomically: true, encoding: .utf8)
            decoder = ReloadableDecoder(try ProfileSet.load(directory: profiles))
            manager = ConfigManager(
                repository: try ConfigRepository(path: dir.file("api.db")), profilesDirectory: profiles, rulesDirectory: rules, knownChannels: [],
                limits: DecodeLimits(), maxPayloadBytes: 65_536, decoder: decoder, alerts: nil, subscribedFilters: nil, logger: Self.logger)
            manager.recordStartup()
        }

        static let logger: Logger = {
            var l = Logger(label: "test.config")
            l.logLevel = .warning
            return l
        }()

        static let repoRoot: String = {
            var url = URL(fileURLWithPath: #filePath)
            for _ in 0..<3 { url.deleteLastPathComponent() }
            return url.path
        }()

        /// The `level` the running set decodes for raw 5.
        func level() -> Double? {
            var batch = SampleBatch()
            decoder.decode(RawMessage(transport: .mqtt, topic: MeterProfile.topic(device: "m1"), payload: Array(MeterProfile.payload(seq: 1, raw: 5, timeMs: 1_767_225_600_000).utf8),
                                      receiveTimeMs: 1_767_225_600_000), into: &batch)
            return batch.samples.first { $0.metric == "level" }?.value
        }

        var meterFile: String { (try? String(contentsOfFile: profiles + "/test/meter.yaml", encoding: .utf8)) ?? "<missing>" }
    }

    @Test func startImportsEveryProfileAndRuleFileAsVersionOneByDisk() throws {
        let f = try Fixture(shared: true)
        let items = try f.manager.repository.items(.profile)
        #expect(items.map(\.name) == ["bosch-tps110", MeterProfile.id], "profiles sharing a file are not versioned")
        #expect(items.map(\.path) == ["bosch/tps110.yaml", "test/meter.yaml"])
        #expect(items.allSatisfy { $0.activeVersion == 1 && $0.versions == 1 })
        #expect(try f.manager.repository.active(.profile, MeterProfile.id)?.text == f.meterFile)
        #expect(try f.manager.repository.active(.profile, MeterProfile.id)?.author == "disk")
        #expect(f.manager.sharedProfileFiles == ["test/pair.yaml": ["pair-a", "pair-b"]])
        #expect(try f.manager.repository.items(.rules).map(\.name) == ["city.yaml"])
        #expect(f.manager.ruleFiles == ["level-high": "city.yaml"])
        #expect(throws: ConfigError.self) { try f.manager.uploadProfile(id: "pair-a", text: MeterProfile.yaml(version: 2, scale: 1, id: "pair-a"), author: "a", comment: "") }

        // A second start records nothing new.
        f.manager.recordStartup()
        #expect(try f.manager.repository.versions(.profile, MeterProfile.id).count == 1)
    }

    @Test func activationWritesTheFileAndSwapsTheRunningSet() throws {
        let f = try Fixture()
        #expect(f.level() == 5)
        let v2 = MeterProfile.yaml(version: 2, scale: 10)
        let (stored, validation) = try f.manager.uploadProfile(id: MeterProfile.id, text: v2, author: "ana", comment: "×10")
        #expect(stored.version == 2)
        #expect(validation.tests.passed == 1)
        #expect(f.level() == 5, "an upload alone changes nothing")
        #expect(f.meterFile != v2)

        let activation = try f.manager.activate(.profile, MeterProfile.id, version: 2)
        #expect(activation.previousVersion == 1)
        #expect(f.meterFile == v2)
        #expect(f.level() == 50)
        #expect(f.decoder.profiles.profiles[MeterProfile.id]?.version == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.profiles + "/test") == ["meter.yaml"], "no temporary file is left")

        let back = try f.manager.rollback(.profile, MeterProfile.id)
        #expect(back.version == 1)
        #expect(f.level() == 5)
        #expect(try f.manager.repository.active(.profile, MeterProfile.id)?.version == 1)
        #expect(throws: ConfigError.self) { try f.manager.rollback(.profile, MeterProfile.id) }
    }

    @Test func aSetThatDoesNotLoadIsRefusedAndTheFileAndRunningSetStay() throws {
        let f = try Fixture()
        let before = f.meterFile
        // Valid alone, but it claims the Bosch profile's topic template.
        let clash = MeterProfile.yaml(version: 2, scale: 10, extraTemplates: ["lora/bosch/tps110/{deviceId}/{fport}"])
        let (stored, validation) = try f.manager.uploadProfile(id: MeterProfile.id, text: clash, author: "ana", comment: "")
        #expect(validation.warnings.count == 1, "validation warns that the running set would refuse it")
        do {
            _ = try f.manager.activate(.profile, MeterProfile.id, version: stored.version)
            Issue.record("the activation should have been refused")
        } catch {
            guard case .invalid(_, let issues, _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(issues.contains { $0.message.contains("already claimed") })
        }
        #expect(f.meterFile == before, "the previous file is back")
        #expect(f.level() == 5)
        #expect(try f.manager.repository.active(.profile, MeterProfile.id)?.version == 1)

        // A new profile whose set fails: its file is removed again.
        let newcomer = MeterProfile.yaml(version: 1, scale: 1, id: "test-newcomer")
        let (n, _) = try f.manager.uploadProfile(id: "test-newcomer", text: newcomer, author: "ana", comment: "")
        #expect(throws: ConfigError.self) { try f.manager.activate(.profile, "test-newcomer", version: n.version) }
        #expect(!FileManager.default.fileExists(atPath: f.profiles + "/citygate-test/test-newcomer.yaml"))
        #expect(f.decoder.profiles.profiles["test-newcomer"] == nil)
    }

    @Test func uploadsThatDoNotValidateAreNotStored() throws {
        let f = try Fixture()
        let broken = MeterProfile.brokenYAML(version: 2)
        do {
            _ = try f.manager.uploadProfile(id: MeterProfile.id, text: broken, author: "ana", comment: "")
            Issue.record("a broken text was stored")
        } catch {
            guard case .invalid(_, let issues, _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(issues.first?.line == MeterProfile.line(of: "scael", in: broken))
        }
        #expect(throws: ConfigError.self, "the id must match") {
            try f.manager.uploadProfile(id: "other-id", text: MeterProfile.yaml(version: 2, scale: 1), author: "a", comment: "")
        }
        #expect(throws: ConfigError.self, "its own test vectors must pass") {
            try f.manager.uploadProfile(id: MeterProfile.id, text: MeterProfile.yaml(version: 2, scale: 2, expectedLevel: 3), author: "a", comment: "")
        }
        #expect(throws: ConfigError.self, "ids are checked before anything else") {
            try f.manager.uploadProfile(id: "../escape", text: MeterProfile.yaml(version: 2, scale: 1), author: "a", comment: "")
        }
        #expect(throws: ConfigError.self) { try f.manager.uploadRules(name: "../x.yaml", text: "rules: []\n", author: "a", comment: "") }
        #expect(try f.manager.repository.versions(.profile, MeterProfile.id).count == 1)
    }

    @Test func reloadRecordsDiskEditsAndRefusesBrokenFiles() throws {
        let f = try Fixture()
        let edited = MeterProfile.yaml(version: 2, scale: 100)
        try edited.write(toFile: f.profiles + "/test/meter.yaml", atomically: true, encoding: .utf8)
        let outcome = f.manager.reload()
        #expect(outcome.profiles?.loaded == true)
        #expect(outcome.profiles?.recorded.map { "\($0.name)@\($0.version)" } == ["\(MeterProfile.id)@2"])
        #expect(outcome.rules?.loaded == true)
        #expect(f.level() == 500)
        #expect(try f.manager.repository.active(.profile, MeterProfile.id)?.author == "disk")

        let broken = MeterProfile.brokenYAML(version: 3)
        try broken.write(toFile: f.profiles + "/test/meter.yaml", atomically: true, encoding: .utf8)
        try "rules:\n  - { id: x, select: { metric: level }, abov: 1 }\n".write(toFile: f.rules + "/city.yaml", atomically: true, encoding: .utf8)
        let refused = f.manager.reload()
        #expect(refused.profiles?.loaded == false)
        #expect(refused.profiles?.errors.first?.file == "test/meter.yaml")
        #expect(refused.profiles?.errors.first?.line == MeterProfile.line(of: "scael", in: broken))
        #expect(refused.rules?.loaded == false)
        #expect(refused.rules?.errors.first?.line == 2)
        #expect(f.level() == 500, "the running set stays")
        #expect(try f.manager.repository.versions(.profile, MeterProfile.id).count == 2, "a refused file is not recorded")
    }

    @Test func concurrentActivationsNeverLeaveTheFileTheRepositoryAndTheRunningSetApart() async throws {
        let f = try Fixture()
        _ = try f.manager.uploadProfile(id: MeterProfile.id, text: MeterProfile.yaml(version: 2, scale: 10), author: "a", comment: "")
        let manager = f.manager
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<16 {
                group.addTask { _ = try manager.activate(.profile, MeterProfile.id, version: i % 2 + 1) }
            }
            try await group.waitForAll()
        }
        let active = try #require(try f.manager.repository.active(.profile, MeterProfile.id))
        #expect(active.text == f.meterFile)
        #expect(f.decoder.profiles.profiles[MeterProfile.id]?.version == active.version)
        #expect(try f.manager.repository.versions(.profile, MeterProfile.id).count == 2, "activations record no extra versions")
    }
}
