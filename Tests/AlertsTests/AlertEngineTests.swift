@testable import Alerts
import Foundation
import GatewayCore
import Testing

@Suite("Alert engine")
struct AlertEngineTests {
    static let threshold = """
        rules:
          - id: high
            summary: Too high
            select: { metric: m }
            above: 10
            clear: 8
            for: 30s
            severity: major
        """

    @Test func aboveFiresOnlyAfterItsDurationAndResolvesBelowTheClearLevel() throws {
        let f = try EngineFixture(Self.threshold)
        f.feed(11)
        #expect(f.engine.openAlerts.map(\.state) == [.pending])
        f.feed(12, after: 20_000)
        #expect(f.log.kinds().isEmpty, "29 s of 30: still pending")
        f.feed(12, after: 10_000)
        #expect(f.log.kinds() == [.fired])
        #expect(f.log.all[0].alert.severity == .major)
        #expect(f.log.all[0].alert.value == 12)
        f.feed(9, after: 1_000)  // inside the hysteresis band: still firing
        #expect(f.log.kinds() == [.fired])
        f.feed(8, after: 1_000)  // at the clear level
        #expect(f.log.kinds() == [.fired, .resolved])
        #expect(f.log.all[1].alert.resolvedBy == "clear")
        #expect(f.engine.openAlerts.isEmpty)
    }

    @Test func exactlyAtTheLevelDoesNotBreach() throws {
        let f = try EngineFixture(Self.threshold)
        f.feed(10)
        f.tick(after: 60_000)
        #expect(f.engine.openAlerts.isEmpty)
        #expect(f.log.all.isEmpty)
    }

    @Test func pendingEndsWhenTheValueDropsBeforeTheDuration() throws {
        let f = try EngineFixture(Self.threshold)
        f.feed(11)
        f.feed(9.5, after: 10_000)  // not a breach: the wait ends even inside the band
        f.tick(after: 60_000)
        #expect(f.log.all.isEmpty)
        #expect(f.engine.openAlerts.isEmpty)
        #expect(try f.store.alerts().isEmpty, "a pending alert that never fired leaves no row")
    }

    @Test func timerFiresAPendingAlertWithoutANewSample() throws {
        let f = try EngineFixture(Self.threshold)
        f.feed(11)
        f.tick(after: 29_000)
        #expect(f.log.all.isEmpty)
        f.tick(after: 1_000)
        #expect(f.log.kinds() == [.fired])
    }

    @Test func oscillationAroundTheThresholdRaisesOneAlert() throws {
        let f = try EngineFixture("""
            rules:
              - id: level
                select: { metric: m }
                above: 10
                clear: 9
            """)
        for i in 0..<500 { f.feed(i % 2 == 0 ? 10.2 : 9.8, after: 1_000) }
        #expect(f.log.kinds() == [.fired])
    }

    @Test func flapSuppressionHoldsTheClearOnceARuleFlaps() throws {
        // No hysteresis: every swing crosses. After 3 firings within 10 minutes the alert stays open.
        let f = try EngineFixture("""
            rules:
              - id: level
                select: { metric: m }
                above: 10
                flap: { window: 10m, max_firings: 3 }
            """)
        for i in 0..<300 { f.feed(i % 2 == 0 ? 11 : 9, after: 1_000) }
        let fired = f.log.kinds().filter { $0 == .fired }.count
        #expect(fired == 3)
        #expect(f.engine.openAlerts.count == 1)
        // Clear for the whole window: it resolves.
        f.feed(9, after: 1_000)
        f.tick(after: 600_000)
        #expect(f.engine.openAlerts.isEmpty)
        #expect(f.log.kinds().last == .resolved)
    }

    @Test func belowAndOutsideBands() throws {
        let f = try EngineFixture("""
            rules:
              - id: low
                select: { metric: pressure }
                below: 0.2
                clear: 0.25
              - id: band
                select: { metric: temp }
                outside: [5, 30]
                clear: [6, 29]
            """)
        f.feed(0.21, metric: "pressure")
        f.feed(0.19, metric: "pressure", after: 1_000)
        f.feed(0.24, metric: "pressure", after: 1_000)
        f.feed(0.25, metric: "pressure", after: 1_000)
        f.feed(20, metric: "temp")
        f.feed(31, metric: "temp", after: 1_000)
        f.feed(29.5, metric: "temp", after: 1_000)
        f.feed(4, metric: "temp", after: 1_000)
        f.feed(28, metric: "temp", after: 1_000)
        let byRule = Dictionary(grouping: f.log.all, by: \.alert.rule).mapValues { $0.map(\.kind) }
        #expect(byRule["low"] == [.fired, .resolved])
        #expect(byRule["band"] == [.fired, .resolved])
    }

    @Test func rateOfChangeUsesDeviceTime() throws {
        let f = try EngineFixture("""
            rules:
              - id: rising
                select: { metric: level }
                rate: { limit: 0.5, per: 10m, direction: up }
            """)
        let t0: Int64 = 1_700_000_000_000
        f.feed(1.0, metric: "level", timeMs: t0)
        f.feed(1.4, metric: "level", timeMs: t0 + 600_000)  // 0.4 per 10 min: fine
        f.feed(1.2, metric: "level", timeMs: t0 + 900_000)  // falling: fine for "up"
        #expect(f.log.all.isEmpty)
        f.feed(1.6, metric: "level", timeMs: t0 + 1_200_000)  // 0.4 in 5 min = 0.8 per 10 min
        #expect(f.log.kinds() == [.fired])
        f.feed(1.65, metric: "level", timeMs: t0 + 1_800_000)
        #expect(f.log.kinds() == [.fired, .resolved])
    }

    @Test func stuckValue() throws {
        let f = try EngineFixture("""
            rules:
              - id: stuck
                select: { metric: m }
                stuck: { for: 1h, tolerance: 0.01 }
            """)
        f.feed(5)
        for _ in 0..<5 { f.feed(5.005, after: 600_000) }
        #expect(f.log.all.isEmpty, "50 minutes unchanged")
        f.feed(5, after: 600_000)
        #expect(f.log.kinds() == [.fired])
        f.feed(5.5, after: 60_000)
        #expect(f.log.kinds() == [.fired, .resolved])
    }

    @Test func eventCodesFireAtOnceAndClearOnSilence() throws {
        let f = try EngineFixture("""
            rules:
              - id: smoke
                select: { metric: smoke_event }
                event: [1, 3]
                severity: critical
                clear_on_silence: 10m
            """)
        f.feed(0, metric: "smoke_event")
        f.feed(1, metric: "smoke_event", after: 1_000)
        #expect(f.log.kinds() == [.fired])
        f.feed(3, metric: "smoke_event", after: 1_000)
        #expect(f.log.kinds() == [.fired], "still the same alert")
        f.tick(after: 599_000)
        #expect(f.log.kinds() == [.fired])
        f.tick(after: 2_000)
        #expect(f.log.kinds() == [.fired, .resolved])
        #expect(f.log.all.last?.alert.resolvedBy == "silence")
    }

    @Test func noDataFollowsTheDeviceIntervalAndIgnoresWallClockJumps() throws {
        let f = try EngineFixture("""
            rules:
              - id: silent
                select: { family: neuron }
                no_data: { factor: 2, minimum: 1m }
            """)
        f.feed(1, interval: 600)  // reports every 10 minutes: silent after 20
        f.time.jumpWall(ms: 86_400_000 * 365)  // the wall clock leaps a year
        f.engine.tick()
        #expect(f.log.all.isEmpty, "a wall-clock jump does not make a device silent")
        f.tick(after: 1_199_000)
        #expect(f.log.all.isEmpty)
        f.tick(after: 1_000)
        #expect(f.log.kinds() == [.fired])
        #expect(f.log.all[0].alert.metric == "")
        f.feed(2, after: 5_000)
        #expect(f.log.kinds() == [.fired, .resolved])
        #expect(f.log.all.last?.alert.resolvedBy == "data")
    }

    @Test func noDataWatchesOnlySelectedFamilies() throws {
        let f = try EngineFixture("""
            rules:
              - id: silent
                select: { family: charger }
                no_data: true
            """)
        f.feed(1, interval: 60)
        f.tick(after: 3_600_000)
        #expect(f.log.all.isEmpty)
    }

    @Test func selectorsByProfileDeviceAndTags() throws {
        let f = try EngineFixture("""
            device_tags:
              cover-7: { district: lixia }
            rules:
              - id: tilt
                select: { profile: "milesight-*", metric: tilt, tags: { district: lixia } }
                above: 20
            """)
        f.feed(30, device: "cover-7", metric: "tilt", profile: "dragino-x")
        f.feed(30, device: "cover-8", metric: "tilt", profile: "milesight-em320-tilt")
        #expect(f.log.all.isEmpty)
        f.feed(30, device: "cover-7", metric: "tilt", after: 1_000, profile: "milesight-em320-tilt")
        #expect(f.log.kinds() == [.fired])
        #expect(f.log.all[0].alert.device == "cover-7")
    }

    @Test func acknowledgementIsRecordedAndStopsEscalation() throws {
        let yaml = """
            rules:
              - id: hot
                select: { metric: m }
                above: 10
                severity: warning
                escalate: { after: 15m }
            """
        let f = try EngineFixture(yaml)
        f.feed(11, device: "a")
        f.feed(11, device: "b")
        let ids = f.log.all.map(\.alert.id)
        try f.engine.acknowledge(id: ids[0], by: "operator-li")
        f.tick(after: 15 * 60_000)
        let kinds = f.log.all.map { ($0.kind, $0.alert.device) }
        #expect(kinds.contains { $0 == (.acknowledged, "a") })
        #expect(kinds.contains { $0 == (.escalated, "b") })
        #expect(!kinds.contains { $0 == (.escalated, "a") })
        let escalated = try #require(f.log.all.first { $0.kind == .escalated })
        #expect(escalated.alert.severity == .major)
        let stored = try #require(try f.store.alert(id: ids[0]))
        #expect(stored.acknowledged && stored.acknowledgedBy == "operator-li" && stored.acknowledgedMs != nil)
    }

    @Test func acknowledgingAPendingOrUnknownAlertIsRefused() throws {
        let f = try EngineFixture(Self.threshold)
        f.feed(11)
        let pending = try #require(f.engine.openAlerts.first)
        #expect(throws: AlertEngine.ActionError.notFiring(pending.id)) { try f.engine.acknowledge(id: pending.id, by: "x") }
        #expect(throws: AlertEngine.ActionError.notFound(999)) { try f.engine.acknowledge(id: 999, by: "x") }
    }

    @Test func manualResolveDisarmsUntilTheConditionClears() throws {
        let f = try EngineFixture("""
            rules:
              - id: hot
                select: { metric: m }
                above: 10
                clear: 8
            """)
        f.feed(11)
        let id = try #require(f.log.all.first?.alert.id)
        try f.engine.resolve(id: id, by: "operator-wang")
        #expect(f.log.kinds() == [.fired, .resolved])
        #expect(f.log.all.last?.alert.resolvedBy == "operator-wang")
        for _ in 0..<10 { f.feed(12, after: 1_000) }
        #expect(f.log.kinds() == [.fired, .resolved], "disarmed while the condition holds")
        f.feed(7, after: 1_000)  // clears: re-armed
        f.feed(12, after: 1_000)
        #expect(f.log.kinds() == [.fired, .resolved, .fired])
        #expect(f.log.all.last?.alert.id != id)
        #expect(throws: AlertEngine.ActionError.notOpen(id)) { try f.engine.resolve(id: id, by: "x") }
    }

    @Test func pendingDurationSurvivesARestart() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/alerts.db"
        let clock = ManualClock()
        do {
            let f = try EngineFixture(Self.threshold, store: try AlertStore(path: path), clock: clock)
            f.feed(11)
            f.feed(11, after: 20_000)
            f.engine.savePendingDurations()
        }
        clock.advance(ms: 3_600_000)  // down for an hour: downtime does not count towards `for:`
        let f = try EngineFixture(Self.threshold, store: try AlertStore(path: path), clock: clock)
        #expect(f.engine.openAlerts.map(\.state) == [.pending])
        f.tick(after: 9_000)
        #expect(f.log.all.isEmpty)
        f.tick(after: 1_000)
        #expect(f.log.kinds() == [.fired], "20 s before the restart + 10 s after = the 30 s duration")
    }

    @Test func firingAlertAndDisarmSurviveARestart() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/alerts.db"
        let yaml = """
            rules:
              - id: a
                select: { metric: m }
                above: 10
              - id: b
                select: { metric: n }
                above: 10
            """
        let clock = ManualClock()
        var firingID: Int64 = 0
        do {
            let f = try EngineFixture(yaml, store: try AlertStore(path: path), clock: clock)
            f.feed(11, metric: "m")
            f.feed(11, metric: "n")
            firingID = try #require(f.log.all.first { $0.alert.rule == "a" }?.alert.id)
            let other = try #require(f.log.all.first { $0.alert.rule == "b" }?.alert.id)
            try f.engine.resolve(id: other, by: "op")
        }
        let f = try EngineFixture(yaml, store: try AlertStore(path: path), clock: clock)
        #expect(f.engine.openAlerts.map(\.id) == [firingID])
        f.feed(12, metric: "m", after: 1_000)
        f.feed(12, metric: "n")
        #expect(f.log.all.isEmpty, "no second alert for the open one, none for the disarmed one")
        f.feed(5, metric: "m", after: 1_000)
        #expect(f.log.kinds() == [.resolved])
        #expect(f.log.all[0].alert.id == firingID)
    }

    @Test func removingARuleResolvesItsAlerts() throws {
        let f = try EngineFixture(Self.threshold + """

              - id: other
                select: { metric: m }
                above: 100
            """)
        f.feed(11)
        f.feed(11, after: 30_000)
        #expect(f.log.kinds() == [.fired])
        f.engine.replaceRules(try rules("""
            rules:
              - id: other
                select: { metric: m }
                above: 100
            """))
        #expect(f.log.kinds() == [.fired, .resolved])
        #expect(f.log.all.last?.alert.resolvedBy == "rule-removed")
        f.feed(150, after: 1_000)
        #expect(f.log.all.last?.alert.rule == "other")
    }

    @Test func nanAndBadQualityValuesNeitherFireNorClear() throws {
        let f = try EngineFixture("""
            rules:
              - id: hot
                select: { metric: m }
                above: 10
            """)
        f.feed(.nan)
        f.feed(.infinity)
        #expect(f.log.all.isEmpty)
        f.feed(11)
        f.feed(.nan, after: 1_000)
        #expect(f.log.kinds() == [.fired])
    }

    @Test func eventsAreDurableAndOrdered() throws {
        let f = try EngineFixture(Self.threshold)
        f.feed(11)
        f.feed(11, after: 30_000)
        f.feed(1, after: 1_000)
        let stored = try f.store.events(after: 0)
        #expect(stored.map(\.kind) == [.fired, .resolved])
        #expect(stored.map(\.seq) == f.log.all.map(\.seq))
        #expect(stored[0].seq < stored[1].seq)
    }
}

@Suite("Built-in (external) alert rules")
struct ExternalAlertTests {
    @Test func theGatewayRaisesAndClearsItsOwnAlertsThroughTheSameLifecycle() throws {
        let clock = ManualClock()
        let log = EventLog()
        var rule = AlertRule(id: "uplink-backlog-old", summary: "Uplink backlog too old", condition: .external)
        rule.forMs = 60_000
        rule.severity = .major
        let engine = try AlertEngine(rules: try rules("rules: []"), store: try AlertStore(path: ":memory:"), clock: clock, systemRules: [rule],
                                     logger: quietLogger(), onEvents: log.onEvents)
        engine.report(rule: "uplink-backlog-old", subject: "victoria", breaching: true, value: 3_600)
        clock.advance(ms: 59_000)
        engine.tick()
        #expect(log.all.isEmpty)
        clock.advance(ms: 1_000)
        engine.tick()
        #expect(log.kinds() == [.fired])
        #expect(log.all[0].alert.device == "victoria" && log.all[0].alert.kind == "external")
        engine.replaceRules(try rules("rules: [ { id: x, select: { metric: m }, above: 1 } ]"))
        #expect(engine.openAlerts.count == 1, "a reload keeps built-in rules and their alerts")
        engine.report(rule: "uplink-backlog-old", subject: "victoria", breaching: false)
        #expect(log.kinds() == [.fired, .resolved])
        engine.report(rule: "no-such-rule", subject: "x", breaching: true)
        #expect(engine.openAlerts.isEmpty)
    }
}

@Suite("Anomaly rules")
struct AnomalyRuleTests {
    @Test func aSpikeOnARegularSeriesFiresAndTheStateStaysSmallForThresholdRules() throws {
        let f = try EngineFixture("""
            rules:
              - id: odd
                select: { metric: m }
                anomaly: 0.6
                clear: 0.3
              - id: hot
                select: { metric: n }
                above: 100
            """)
        let t0: Int64 = 1_700_000_000_000
        for i in 0..<2_000 {
            let daily = sin(Double(i % 288) / 288 * 2 * .pi)
            f.feed(20 + 5 * daily + Double(i % 7) * 0.01, timeMs: t0 + Int64(i) * 300_000)
        }
        #expect(f.log.all.filter { $0.kind == .fired }.count <= 2, "an ordinary daily cycle raises (almost) nothing")
        let before = f.log.all.count
        f.feed(90, timeMs: t0 + 2_000 * 300_000)
        #expect(f.log.all.dropFirst(before).contains { $0.kind == .fired && $0.alert.rule == "odd" })
        #expect(MemoryLayout<RuleState>.size < 200, "the detector is boxed, not inline in every pair")
    }
}
