import Catalog
import DeviceProfiles
import Foundation
import Gateway
import GatewayCore
import Logging
import Testing

/// The city simulator against the shipped profiles: what it generates must decode (or dead-letter) exactly as
/// the gateway would see it from real devices.
@Suite struct SimulatorTests {
    // MARK: fixtures

    static let profilesDirectory: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/device-profiles"
    }()

    static func profiles() throws -> ProfileSet { try ProfileSet.load(directory: profilesDirectory) }

    /// 2025-06-01T00:00:00Z.
    static let dayStartMs: Int64 = 1_748_736_000_000
    /// Local (UTC+8) midnight of that day.
    static let localMidnightMs: Int64 = dayStartMs - 8 * 3_600_000

    /// Times spread over one simulated day, every 37 minutes (so every hour of the day gets visited).
    static let dayTimes: [Int64] = stride(from: 0, to: 24 * 60, by: 37).map { localMidnightMs + Int64($0) * 60_000 + 1_234 }

    /// Plausible ranges by metric, then by unit.
    static func plausible(_ s: Sample, model: String) -> ClosedRange<Double>? {
        switch (s.metric, s.unit) {
        case ("battery", "%"): return 0...100
        case ("battery", "V"): return model == "yunfei-pest" ? 10...15 : 2.5...4.2
        case ("charging_voltage", _): return 0...25
        case ("voltage", "V") where model == "milesight-ws558": return 150...270
        case ("rsrp", _): return -140 ... -44
        case ("csq", _): return 0...31
        case ("latitude", _): return -90...90
        case ("longitude", _): return -180...180
        default: break
        }
        switch s.unit {
        case "degC": return -40...80
        case "%": return 0...100
        case "V": return 0...1_000
        case "A": return 0...500
        case "W": return 0...200_000
        case "Wh": return 0...1e10
        case "Pa": return 0...1_000_000
        case "m": return 0...10
        case "ppm": return 300...6_000
        case "uS/cm": return 0...20_000
        case "deg": return -180...180
        case "dBm": return -140 ... -40
        case "dB": return -20...40
        case "s": return 0...86_400
        case "": return nil
        default: return nil
        }
    }

    /// Decodes one message the way the gateway does, returning problems as text.
    static func check(_ msg: SimulatedMessage, model: String, set: ProfileSet) -> [String] {
        var problems: [String] = []
        let what = "\(model) \(msg.kind) \(msg.device) @\(msg.timeMs) \(msg.topic) \(render(msg.payload))"
        guard set.route(topic: msg.topic)?.profile.id == model else { return ["topic does not route to \(model): \(what)"] }
        switch set.decode(msg.rawMessage()) {
        case .failure(let f):
            problems.append("dead letter \(f.error.kind) '\(f.error.message)': \(what)")
        case .success(let (profile, result)):
            if profile.id != model { problems.append("decoded by \(profile.id): \(what)") }
            if result.samples.isEmpty { problems.append("no samples: \(what)") }
            if !result.warnings.isEmpty { problems.append("warnings \(result.warnings): \(what)") }
            for s in result.samples {
                if s.device != msg.device { problems.append("sample device \(s.device) != \(msg.device): \(what)") }
                if s.quality != .good { problems.append("\(s.metric) quality \(s.quality): \(what)") }
                if !s.value.isFinite { problems.append("\(s.metric) not finite: \(what)") }
                if let r = plausible(s, model: model), !r.contains(s.value) {
                    problems.append("\(s.metric) = \(s.value) \(s.unit) outside \(r): \(what)")
                }
            }
            for st in result.statuses where st.device != msg.device {
                problems.append("status device \(st.device) != \(msg.device): \(what)")
            }
        }
        return problems
    }

    static func render(_ payload: [UInt8]) -> String {
        if payload.count > 300 { return "<\(payload.count) bytes>" }
        if payload.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return String(decoding: payload, as: UTF8.self) }
        return payload.map { String(format: "%02x", $0) }.joined()
    }

    static func decoded(_ msg: SimulatedMessage, _ set: ProfileSet) -> [String: Double] {
        guard case .success(let (_, r)) = set.decode(msg.rawMessage()) else { return [:] }
        var values: [String: Double] = [:]
        for s in r.samples where values[s.metric] == nil { values[s.metric] = s.value }
        return values
    }

    // MARK: coverage

    @Test func everyShippedProfileHasAGenerator() throws {
        let set = try Self.profiles()
        let missing = Set(set.profiles.keys).subtracting(CitySimulator.supportedModels)
        #expect(missing.isEmpty, "profiles without a simulator generator: \(missing.sorted())")
        let unknown = Set(CitySimulator.supportedModels).subtracting(set.profiles.keys)
        #expect(unknown.isEmpty, "generators without a shipped profile: \(unknown.sorted())")
        let sim = CitySimulator(devicesPerModel: 3, seed: 1)
        #expect(Set(sim.models) == Set(set.profiles.keys))
        #expect(sim.deviceCount == 3 * set.profiles.count)
        let subset = CitySimulator(devicesPerModel: 2, seed: 1, models: ["ocpp16j", "dragino-ndds75"])
        #expect(subset.models == ["ocpp16j", "dragino-ndds75"])
        #expect(subset.deviceCount == 4)
    }

    // MARK: decoding

    @Test(arguments: CitySimulator.supportedModels)
    func normalAndAnomalyMessagesDecode(model: String) throws {
        let set = try Self.profiles()
        var sim = CitySimulator(devicesPerModel: 10, seed: 42)
        var problems: [String] = []
        var count = 0
        for device in 0..<10 {
            for t in Self.dayTimes {
                for kind in [SimulatedMessage.Kind.normal, .anomaly] {
                    let msg = sim.message(for: model, device: device, atMs: t, kind: kind)
                    #expect(msg.model == model && msg.kind == kind && msg.timeMs == t)
                    #expect(msg.device == sim.deviceID(for: model, device: device))
                    problems += Self.check(msg, model: model, set: set)
                    count += 1
                }
            }
        }
        #expect(count == 10 * Self.dayTimes.count * 2)
        #expect(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5).joined(separator: "\n"))")
    }

    /// What makes an anomaly alarming, per model, on the decoded values.
    static let alarming: [String: @Sendable ([String: Double]) -> Bool] = [
        "dragino-ndds75": { $0["interrupt"] == 1 && ($0["distance"] ?? 9) < 0.4 },
        "milesight-em400-mud": { $0["distance_alarm"] == 1 || $0["position"] == 1 },
        "milesight-em400-mud-nb": { $0["distance_alarm"] == 1 || $0["position"] == 1 },
        "milesight-em320-tilt": { v in
            (v["threshold_x"] == 1 || v["threshold_y"] == 1) && max(abs(v["angle_x"] ?? 0), abs(v["angle_y"] ?? 0)) >= 15
        },
        "dingtek-dc410": { $0["full"] == 1 || ($0["motion"] == 1 && ($0["angle"] ?? 0) >= 15) },
        "dingtek-df702": { $0["fire"] == 1 || $0["tilt"] == 1 || ($0["full"] == 1 && ($0["level"] ?? 9) < 0.2) },
        "milesight-gs524n": { $0["smoke_event"] == 1 && ($0["smoke_concentration"] ?? 0) >= 10 },
        "lian-smoke-ctwing": { $0["smoke_event"] == 1 },
        "milesight-em500-pp": { ($0["pressure"] ?? 1e9) < 150_000 },
        "bosch-tps110": { ($0["temperature"] ?? 0) >= 60 },
        "milesight-ws558": { v in (v["voltage"] ?? 220) < 195 || (v["voltage"] ?? 220) > 245 },
        "ocpp16j": { $0["connector_status"] == 8 || ($0["temperature"] ?? 0) >= 70 },
        "ykc-v16": { $0["status"] == 1 },
        "dragino-lse01": { ($0["soil_moisture"] ?? 50) < 10 || ($0["soil_conductivity"] ?? 0) > 5_000 },
        "milesight-em500-smtc": { ($0["soil_moisture"] ?? 50) < 10 || ($0["soil_conductivity"] ?? 0) > 5_000 },
        "milesight-em500-co2": { ($0["co2"] ?? 0) > 2_500 || ($0["temperature"] ?? 0) > 40 },
        "yunfei-pest": { v in
            (v["kill_count"] ?? 0) >= 300 || (v["infrared_count"] ?? 0) >= 300 || v["tilt_protection"] == 1
        },
    ]

    @Test(arguments: CitySimulator.supportedModels)
    func anomaliesAreAlarmingAndNormalsAreNot(model: String) throws {
        let set = try Self.profiles()
        let isAlarming = try #require(Self.alarming[model], "no anomaly rule for \(model)")
        var sim = CitySimulator(devicesPerModel: 6, seed: 7)
        var quietAnomalies: [String] = []
        var noisyNormals: [String] = []
        for device in 0..<6 {
            for t in Self.dayTimes {
                let a = sim.message(for: model, device: device, atMs: t, kind: .anomaly)
                let av = Self.decoded(a, set)
                if !isAlarming(av) { quietAnomalies.append("\(av)") }
                let n = sim.message(for: model, device: device, atMs: t, kind: .normal)
                let nv = Self.decoded(n, set)
                if isAlarming(nv) { noisyNormals.append("\(nv)") }
            }
        }
        #expect(quietAnomalies.isEmpty, "\(quietAnomalies.count) anomalies look normal: \(quietAnomalies.prefix(3))")
        #expect(noisyNormals.isEmpty, "\(noisyNormals.count) normal reports look alarming: \(noisyNormals.prefix(3))")
    }

    // MARK: dead letters

    @Test func malformedMessagesDeadLetterForEveryReason() throws {
        let set = try Self.profiles()
        var sim = CitySimulator(devicesPerModel: 10, seed: 99)
        var reasons: [DeadLetter.Reason: Int] = [:]
        var variants: Set<SimulatedMessage.Malformation> = []
        var decodedAnyway: [String] = []
        for model in CitySimulator.supportedModels {
            var modelReasons: Set<DeadLetter.Reason> = []
            for device in 0..<10 {
                let msg = sim.message(for: model, device: device, atMs: Self.dayTimes[device * 3], kind: .malformed)
                #expect(msg.kind == .malformed && msg.malformation != nil)
                variants.formUnion(msg.malformation.map { [$0] } ?? [])
                switch set.decode(msg.rawMessage()) {
                case .success:
                    decodedAnyway.append("\(model) \(msg.malformation.map(\.rawValue) ?? "?") \(Self.render(msg.payload))")
                case .failure(let f):
                    let r = f.deadLetter(for: msg.rawMessage()).reason
                    reasons[r, default: 0] += 1
                    modelReasons.insert(r)
                }
            }
            #expect(modelReasons.count >= 3, "\(model) dead-letters for only \(modelReasons)")
        }
        #expect(decodedAnyway.isEmpty, "malformed messages that decoded: \(decodedAnyway.prefix(5))")
        let required: Set<DeadLetter.Reason> = [.malformed, .integrity, .decode, .oversize, .noProfile]
        #expect(required.isSubset(of: Set(reasons.keys)), "reasons seen: \(reasons)")
        #expect(variants == Set(SimulatedMessage.Malformation.allCases))
    }

    /// MQTT topic filter matching (`+` one level, `#` the rest).
    static func filter(_ filter: String, matches topic: String) -> Bool {
        let f = filter.split(separator: "/", omittingEmptySubsequences: false)
        let t = topic.split(separator: "/", omittingEmptySubsequences: false)
        for (i, level) in f.enumerated() {
            if level == "#" { return true }
            if i >= t.count { return false }
            if level != "+" && level != t[i] { return false }
        }
        return f.count == t.count
    }

    @Test func unroutedTopicsAreCoveredByTheirFiltersAndRouteNowhere() throws {
        let set = try Self.profiles()
        let sim = CitySimulator(devicesPerModel: 3, seed: 8)
        let filters = CitySimulator.unroutedTopicFilters
        #expect(!filters.isEmpty)
        for model in CitySimulator.supportedModels {
            for d in 0..<3 {
                let msg = sim.malformedMessage(for: model, device: d, atMs: Self.dayStartMs, as: .unknownTopic)
                #expect(set.route(topic: msg.topic) == nil, "\(msg.topic) routes")
                #expect(filters.contains { Self.filter($0, matches: msg.topic) }, "\(msg.topic) not covered by \(filters)")
                // The unrouted filters never overlap the profiles' own subscriptions.
                #expect(!set.subscriptionFilters.contains { Self.filter($0, matches: msg.topic) }, "\(msg.topic)")
            }
        }
        // And the profiles' own filters cover every well-formed topic.
        var s2 = CitySimulator(devicesPerModel: 3, seed: 8)
        for model in CitySimulator.supportedModels {
            let msg = s2.message(for: model, device: 0, atMs: Self.dayStartMs, kind: .normal)
            #expect(set.subscriptionFilters.contains { Self.filter($0, matches: msg.topic) }, "\(msg.topic)")
            #expect(!filters.contains { Self.filter($0, matches: msg.topic) })
        }
    }

    @Test(arguments: CitySimulator.supportedModels)
    func eachMalformationFailsAsExpected(model: String) throws {
        let set = try Self.profiles()
        let sim = CitySimulator(devicesPerModel: 4, seed: 5)
        for device in 0..<4 {
            for variant in SimulatedMessage.Malformation.allCases {
                for t in Self.dayTimes.prefix(6) {
                    let msg = sim.malformedMessage(for: model, device: device, atMs: t, as: variant)
                    guard case .failure(let f) = set.decode(msg.rawMessage()) else {
                        Issue.record("\(model) \(variant) decoded: \(Self.render(msg.payload))")
                        continue
                    }
                    let reason = f.deadLetter(for: msg.rawMessage()).reason
                    let expected: Set<DeadLetter.Reason>
                    switch msg.malformation {
                    case .oversize: expected = [.oversize]
                    case .unknownTopic: expected = [.noProfile]
                    case .badEncoding: expected = [.malformed]
                    case .truncated: expected = [.malformed, .decode, .integrity]
                    case .corrupted: expected = [.decode, .integrity]
                    case nil: expected = []
                    }
                    #expect(expected.contains(reason), "\(model) \(variant) gave \(reason): \(f.error.message)")
                    if variant == .oversize { #expect(msg.payload.count > 65_536) }
                }
            }
        }
    }

    // MARK: determinism and schedule

    @Test func sameSeedGivesSameMessages() {
        func run(seed: UInt64) -> [SimulatedMessage] {
            var sim = CitySimulator(devicesPerModel: 3, seed: seed, anomalyProbability: 0.1, malformedProbability: 0.1)
            var all: [SimulatedMessage] = []
            for t in stride(from: Self.dayStartMs, through: Self.dayStartMs + 1_800_000, by: 10_000) {
                all += sim.tick(atMs: t)
            }
            return all
        }
        let a = run(seed: 2024)
        let b = run(seed: 2024)
        let c = run(seed: 2025)
        #expect(!a.isEmpty)
        #expect(a == b)
        #expect(a != c)
        #expect(Set(a.map(\.kind)) == Set(SimulatedMessage.Kind.allCases))

        var s1 = CitySimulator(devicesPerModel: 3, seed: 77)
        var s2 = CitySimulator(devicesPerModel: 3, seed: 77)
        for model in CitySimulator.supportedModels {
            for d in 0..<3 {
                let m1 = s1.message(for: model, device: d, atMs: Self.dayStartMs, kind: .normal)
                let m2 = s2.message(for: model, device: d, atMs: Self.dayStartMs, kind: .normal)
                #expect(m1 == m2)
            }
        }
    }

    @Test func tickOverAnHourYieldsDevicesTimesHourOverInterval() {
        var sim = CitySimulator(devicesPerModel: 4, seed: 3, anomalyProbability: 0.1, malformedProbability: 0.05)
        #expect(sim.intervalMs(for: "ocpp16j") == 60_000)
        let start = Self.dayStartMs + 123
        var messages: [SimulatedMessage] = []
        for t in stride(from: start, through: start + 3_600_000, by: 7_000) { messages += sim.tick(atMs: t) }
        let expected = sim.deviceCount * 60  // 60 s interval
        #expect(messages.count >= expected - sim.deviceCount && messages.count <= expected + sim.deviceCount,
                "\(messages.count) messages for \(sim.deviceCount) devices")
        #expect(abs(sim.expectedMessagesPerHour - Double(expected)) < 1)
        // Every device reports once a minute, in time order, spread over the minute.
        let perDevice = Dictionary(grouping: messages, by: { $0.model + "/" + $0.device }).mapValues(\.count)
        #expect(perDevice.count == sim.deviceCount)
        #expect(perDevice.values.allSatisfy { (59...61).contains($0) }, "\(perDevice.values.sorted())")
        #expect(zip(messages, messages.dropFirst()).allSatisfy { $0.timeMs <= $1.timeMs })
        let secondsUsed = Set(messages.map { ($0.timeMs - start) / 1000 % 60 })
        #expect(secondsUsed.count > 30, "reports spread over the minute")
        // Kinds in about the configured proportions.
        let anomalies = Double(messages.filter { $0.kind == .anomaly }.count) / Double(messages.count)
        let malformed = Double(messages.filter { $0.kind == .malformed }.count) / Double(messages.count)
        #expect(anomalies > 0.06 && anomalies < 0.14, "anomaly share \(anomalies)")
        #expect(malformed > 0.025 && malformed < 0.08, "malformed share \(malformed)")

        // 100x faster: the same number of messages in 36 simulated seconds.
        var fast = CitySimulator(devicesPerModel: 4, seed: 3)
        fast.intervalScale = 0.01
        #expect(fast.intervalMs(for: "ykc-v16") == 600)
        var fastCount = 0
        for t in stride(from: start, through: start + 36_000, by: 100) { fastCount += fast.tick(atMs: t).count }
        #expect(fastCount >= expected - fast.deviceCount && fastCount <= expected + fast.deviceCount, "\(fastCount)")

        // Speeding up mid-run takes effect at once (no wait for the old, slower slots).
        var demo = CitySimulator(devicesPerModel: 4, seed: 3)
        for t in stride(from: start, through: start + 600_000, by: 1_000) { _ = demo.tick(atMs: t) }
        demo.intervalScale = 0.01
        var demoCount = 0
        for t in stride(from: start + 600_100, through: start + 606_000, by: 100) { demoCount += demo.tick(atMs: t).count }
        #expect(abs(demoCount - demo.deviceCount * 10) <= demo.deviceCount, "\(demoCount)")

        // A caller that ticks rarely gets one report per device, not a backlog.
        var slow = CitySimulator(devicesPerModel: 4, seed: 3)
        _ = slow.tick(atMs: start)
        #expect(slow.tick(atMs: start + 3_600_000).count == slow.deviceCount)

        // Per-model intervals.
        var mixed = CitySimulator(devicesPerModel: 2, seed: 3, models: ["ocpp16j", "milesight-em500-pp"])
        mixed.setInterval(ms: 300_000, for: "ocpp16j")
        var n = 0
        for t in stride(from: start, through: start + 3_600_000, by: 5_000) { n += mixed.tick(atMs: t).count }
        #expect((2 * 12 + 2 * 60 - 4)...(2 * 12 + 2 * 60 + 4) ~= n, "\(n)")
        mixed.useProfileReportIntervals()
        #expect(mixed.intervalMs(for: "ocpp16j") == 300_000 && mixed.intervalMs(for: "milesight-em500-pp") == 600_000)
    }

    // MARK: identities, counters, daily cycle

    @Test func deviceIDsAreStableUniqueAndRealistic() throws {
        var sim = CitySimulator(devicesPerModel: 50, seed: 11)
        for model in CitySimulator.supportedModels {
            var ids: Set<String> = []
            for d in 0..<50 {
                let a = sim.message(for: model, device: d, atMs: Self.dayStartMs, kind: .normal)
                let b = sim.message(for: model, device: d, atMs: Self.dayStartMs + 86_400_000 * 30, kind: .anomaly)
                #expect(a.device == b.device)
                ids.insert(a.device)
            }
            #expect(ids.count == 50, "\(model) ids collide")
        }
        func luhnOK(_ s: String) -> Bool {
            var sum = 0
            for (i, c) in s.reversed().enumerated() {
                var d = Int(String(c))!
                if i % 2 == 1 {
                    d *= 2
                    if d > 9 { d -= 9 }
                }
                sum += d
            }
            return sum % 10 == 0
        }
        for model in ["lian-smoke-ctwing", "milesight-em400-mud-nb", "yunfei-pest"] {
            for d in 0..<50 {
                let imei = sim.deviceID(for: model, device: d)
                #expect(imei.count == 15 && imei.allSatisfy(\.isNumber) && luhnOK(imei), "\(model) IMEI \(imei)")
            }
        }
        let eui = sim.deviceID(for: "milesight-em500-pp", device: 0)
        #expect(eui.count == 16 && eui.hasPrefix("24e124") && eui.allSatisfy(\.isHexDigit))
        #expect(sim.deviceID(for: "ykc-v16", device: 0).count == 14)
    }

    @Test func countersOnlyGrowAndCyclesFollowTheDay() throws {
        let set = try Self.profiles()
        var sim = CitySimulator(devicesPerModel: 6, seed: 21)
        for model in ["milesight-ws558", "ocpp16j"] {
            for d in 0..<6 {
                var last = -1.0
                var first: Double?
                for minute in stride(from: 0, to: 2 * 24 * 60, by: 10) {
                    let t = Self.localMidnightMs + Int64(minute) * 60_000
                    let msg = sim.message(for: model, device: d, atMs: t, kind: .normal)
                    guard let e = Self.decoded(msg, set)["energy"] else { continue }
                    #expect(e >= last, "\(model) device \(d) energy fell from \(last) to \(e)")
                    last = e
                    if first == nil { first = e }
                }
                #expect(last > (first ?? last), "\(model) device \(d) energy never grew")
            }
        }
        // Streetlights on at night, off at noon.
        for d in 0..<6 {
            let night = Self.decoded(sim.message(for: "milesight-ws558", device: d, atMs: Self.localMidnightMs + 23 * 3_600_000, kind: .normal), set)
            let noon = Self.decoded(sim.message(for: "milesight-ws558", device: d, atMs: Self.localMidnightMs + 12 * 3_600_000, kind: .normal), set)
            #expect(night["switch_1"] == 1 && (night["active_power"] ?? 0) > 0)
            #expect(noon["switch_1"] == 0 && noon["active_power"] == 0)
        }
        // Greenhouse CO2 builds up before dawn and is drawn down in the afternoon.
        var dawn = 0.0
        var afternoon = 0.0
        for d in 0..<6 {
            dawn += Self.decoded(sim.message(for: "milesight-em500-co2", device: d, atMs: Self.localMidnightMs + 5 * 3_600_000, kind: .normal), set)["co2"] ?? 0
            afternoon += Self.decoded(sim.message(for: "milesight-em500-co2", device: d, atMs: Self.localMidnightMs + 16 * 3_600_000, kind: .normal), set)["co2"] ?? 0
        }
        #expect(dawn > afternoon + 6 * 300)
        // Chargers: a StatusNotification whenever the state changed since the previous report.
        var statuses: [Double] = []
        for minute in 0..<(24 * 60) {
            let msg = sim.message(for: "ocpp16j", device: 0, atMs: Self.localMidnightMs + Int64(minute) * 60_000, kind: .normal)
            if let s = Self.decoded(msg, set)["connector_status"] { statuses.append(s) }
        }
        #expect(statuses.contains(1) && statuses.contains(2) && statuses.contains(5) && statuses.contains(0), "\(statuses)")
    }
}

/// A failing downstream stage is counted and ingest goes on.
@Suite struct PipelineTests {
    struct FailingSink: SampleSink {
        func accept(_ batch: SampleBatch) async throws { throw CocoaError(.fileWriteOutOfSpace) }
    }

    @Test func aFailingStageDoesNotStopThePipeline() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        let registry = try DeviceRegistry(path: dir + "/catalog.db", logger: logger)
        let letters = try DeadLetterStore(path: dir + "/catalog.db", logger: logger)
        let pipeline = Pipeline(registry: registry, deadLetters: letters, downstream: [FailingSink()], logger: logger)
        var batch = SampleBatch()
        batch.samples = [Sample(device: "d", metric: "m", receiveTimeMs: 1, value: 1)]
        batch.statuses = [DeviceStatus(device: "d", profileID: "p", profileVersion: 1, family: "neuron", reportIntervalSeconds: 60, seenMs: 1)]
        batch.messageCount = 1
        try await pipeline.accept(batch)
        try await pipeline.accept(batch)
        #expect(pipeline.stats.stageFailures == 2)
        #expect(pipeline.stats.samples == 2, "the batches were still counted and the registry updated")
        #expect(registry.device(id: "d") != nil)
    }
}
