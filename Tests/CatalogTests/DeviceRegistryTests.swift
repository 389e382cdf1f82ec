import Catalog
import GatewayCore
import Testing

private let t0: Int64 = 1_750_000_000_000

private func status(
    _ device: String, at seenMs: Int64, interval: Int? = 60, profile: String = "dragino-ndds75", version: Int = 3,
    family: String = "neuron", configure: (inout DeviceStatus) -> Void = { _ in }
) -> DeviceStatus {
    var s = DeviceStatus(device: device, profileID: profile, profileVersion: version, family: family, reportIntervalSeconds: interval, seenMs: seenMs)
    configure(&s)
    return s
}

@Suite struct DeviceRegistryTests {
    @Test func firstStatusCreatesAnOnlineRecordWithoutATransition() throws {
        let registry = try DeviceRegistry(path: ":memory:", logger: testLogger)
        let changes = registry.apply([status("d1", at: t0) { $0.battery = .init(value: 3.6, unit: "V") }])
        #expect(changes.isEmpty)
        let record = try #require(registry.device(id: "d1"))
        #expect(record.firstSeenMs == t0)
        #expect(record.lastSeenMs == t0)
        #expect(record.state == .online)
        #expect(record.messageCount == 1)
        #expect(record.battery == .init(value: 3.6, unit: "V"))
        #expect(registry.sweep(nowMs: t0).isEmpty)
    }

    @Test func absentFieldsKeepTheirPreviousValues() throws {
        let registry = try DeviceRegistry(path: ":memory:", logger: testLogger)
        registry.apply([
            status("d1", at: t0, interval: 1_200) {
                $0.battery = .init(value: 87, unit: "%")
                $0.rsrpDbm = -95
                $0.sinrDb = 4.5
                $0.csqDbm = -63
                $0.ecl = 1
                $0.attributes = ["imei": "860000000000001", "firmware": "1.0"]
            }
        ])
        registry.apply([
            status("d1", at: t0 + 60_000, interval: nil, version: 4) {
                $0.rsrpDbm = -101
                $0.attributes = ["firmware": "1.1", "iccid": "8986000000000000001"]
            }
        ])
        let record = try #require(registry.device(id: "d1"))
        #expect(record.reportIntervalSeconds == 1_200)  // nil in the second status: kept
        #expect(record.battery == .init(value: 87, unit: "%"))
        #expect(record.rsrpDbm == -101)  // replaced
        #expect(record.sinrDb == 4.5)
        #expect(record.csqDbm == -63)
        #expect(record.ecl == 1)
        #expect(record.profileVersion == 4)
        #expect(record.attributes == ["imei": "860000000000001", "firmware": "1.1", "iccid": "8986000000000000001"])
        #expect(record.messageCount == 2)
        #expect(record.firstSeenMs == t0)
        #expect(record.lastSeenMs == t0 + 60_000)
    }

    @Test func csqAndRsrpAreStoredAndReloaded() throws {
        let temp = try TemporaryCatalog()
        defer { temp.cleanup() }
        do {
            let registry = try DeviceRegistry(path: temp.path, logger: testLogger)
            registry.apply([
                status("nb-1", at: t0) { $0.csqDbm = -113 + 2 * 25 },
                status("lte-1", at: t0) { $0.rsrpDbm = -97.5; $0.sinrDb = -2.25 },
            ])
            #expect(try registry.flush() == 2)
        }
        let reopened = try DeviceRegistry(path: temp.path, logger: testLogger)
        #expect(reopened.device(id: "nb-1")?.csqDbm == -63)
        #expect(reopened.device(id: "nb-1")?.rsrpDbm == nil)
        #expect(reopened.device(id: "lte-1")?.rsrpDbm == -97.5)
        #expect(reopened.device(id: "lte-1")?.sinrDb == -2.25)
        #expect(reopened.device(id: "lte-1")?.csqDbm == nil)
    }

    @Test func everyFieldSurvivesReopen() throws {
        let temp = try TemporaryCatalog()
        defer { temp.cleanup() }
        let before: [DeviceRecord]
        do {
            let registry = try DeviceRegistry(path: temp.path, logger: testLogger)
            registry.apply([
                status("a", at: t0, interval: 1_200, family: "farm") {
                    $0.battery = .init(value: 3.18, unit: "V")
                    $0.rsrpDbm = -88
                    $0.sinrDb = 12
                    $0.csqDbm = -71
                    $0.ecl = 0
                    $0.attributes = ["imei": "86\"quoted\"\n", "model": "NDDS75 ✓"]
                },
                status("b", at: t0 + 5, interval: nil, profile: "milesight-em500", version: 1),
                status("b", at: t0 + 10, interval: nil, profile: "milesight-em500", version: 1),
            ])
            #expect(registry.sweep(nowMs: t0 + 3_600_000 * 10).count == 2)
            registry.apply([status("a", at: t0 + 3_600_000 * 10 + 1)])
            #expect(try registry.flush() == 2)
            before = registry.devices()
        }
        let reopened = try DeviceRegistry(path: temp.path, logger: testLogger)
        #expect(reopened.devices() == before)
        #expect(reopened.summary == DeviceSummary(total: 2, online: 1, offline: 1))
        #expect(reopened.dirtyCount == 0)
    }

    @Test func flushWritesOnlyDirtyRows() throws {
        let temp = try TemporaryCatalog()
        defer { temp.cleanup() }
        let registry = try DeviceRegistry(path: temp.path, logger: testLogger)
        registry.apply([status("a", at: t0), status("b", at: t0), status("a", at: t0 + 1)])
        #expect(registry.dirtyCount == 2)
        #expect(try registry.flush() == 2)
        #expect(registry.dirtyCount == 0)
        #expect(try registry.flush() == 0)
        registry.apply([status("b", at: t0 + 2)])
        #expect(try registry.flush() == 1)
        // A sweep that changes a state makes that row dirty too.
        _ = registry.sweep(nowMs: t0 + 3_600_000)
        #expect(registry.dirtyCount == 2)
        #expect(try registry.flush() == 2)
    }

    @Test func unflushedStatusesAreNotPersisted() throws {
        let temp = try TemporaryCatalog()
        defer { temp.cleanup() }
        do {
            let registry = try DeviceRegistry(path: temp.path, logger: testLogger)
            registry.apply([status("a", at: t0)])
            try registry.flush()
            registry.apply([status("a", at: t0 + 1), status("b", at: t0 + 1)])
        }
        let reopened = try DeviceRegistry(path: temp.path, logger: testLogger)
        #expect(reopened.count == 1)
        #expect(reopened.device(id: "a")?.messageCount == 1)
    }

    @Test func onlineOfflineOnlineWithExplicitNow() throws {
        // 60 s interval × 2.5 = 150 s, above the 120 s minimum.
        let registry = try DeviceRegistry(path: ":memory:", logger: testLogger)
        registry.apply([status("d", at: t0)])
        #expect(registry.sweep(nowMs: t0 + 150_000).isEmpty)  // exactly at the threshold: still online
        #expect(registry.device(id: "d")?.state == .online)

        let offline = registry.sweep(nowMs: t0 + 150_001)
        #expect(offline == [DeviceStateChange(device: "d", from: .online, to: .offline, atMs: t0 + 150_001)])
        #expect(registry.device(id: "d")?.state == .offline)
        #expect(registry.device(id: "d")?.stateChangedMs == t0 + 150_001)
        #expect(registry.summary == DeviceSummary(total: 1, online: 0, offline: 1))
        #expect(registry.sweep(nowMs: t0 + 500_000).isEmpty)  // reported once

        let back = registry.apply([status("d", at: t0 + 600_000)])
        let expected = DeviceStateChange(device: "d", from: .offline, to: .online, atMs: t0 + 600_000)
        #expect(back == [expected])
        #expect(registry.device(id: "d")?.state == .online)
        #expect(registry.summary == DeviceSummary(total: 1, online: 1, offline: 0))
        // The next sweep forwards it too, once.
        #expect(registry.sweep(nowMs: t0 + 600_001) == [expected])
        #expect(registry.sweep(nowMs: t0 + 600_002).isEmpty)
    }

    @Test func minimumOfflineSecondsAndDefaultIntervalApply() throws {
        let configuration = DeviceRegistry.Configuration(graceFactor: 2.5, minimumOfflineSeconds: 120, defaultReportIntervalSeconds: 600)
        let registry = try DeviceRegistry(path: ":memory:", configuration: configuration, logger: testLogger)
        registry.apply([
            status("fast", at: t0, interval: 10),  // 25 s < 120 s minimum
            status("none", at: t0, interval: nil),  // default 600 s × 2.5 = 1500 s
        ])
        #expect(registry.sweep(nowMs: t0 + 119_000).isEmpty)
        #expect(registry.sweep(nowMs: t0 + 120_001).map(\.device) == ["fast"])
        #expect(registry.sweep(nowMs: t0 + 1_500_000).isEmpty)
        #expect(registry.sweep(nowMs: t0 + 1_500_001).map(\.device) == ["none"])
        #expect(configuration.offlineAfterMs(reportIntervalSeconds: 3_600) == 9_000_000)
    }

    @Test func backwardsClockJumpNeverMarksDevicesOffline() throws {
        let registry = try DeviceRegistry(path: ":memory:", logger: testLogger)
        registry.apply([status("d", at: t0), status("e", at: t0)])
        // The wall clock steps back one day.
        let jumped = t0 - 86_400_000
        #expect(registry.sweep(nowMs: jumped).isEmpty)
        // New messages carry the earlier clock; lastSeen does not move backwards.
        registry.apply([status("d", at: jumped + 1_000)])
        #expect(registry.device(id: "d")?.lastSeenMs == t0)
        #expect(registry.device(id: "d")?.messageCount == 2)
        for minute in 1...60 {
            #expect(registry.sweep(nowMs: jumped + Int64(minute) * 60_000).isEmpty)
        }
        #expect(registry.summary.online == 2)
        // Once the clock is past the threshold again, a silent device does go offline.
        #expect(registry.sweep(nowMs: t0 + 150_001).count == 2)
    }

    @Test func offlineDeviceComesBackEvenWhenClockWentBackwards() throws {
        let registry = try DeviceRegistry(path: ":memory:", logger: testLogger)
        registry.apply([status("d", at: t0)])
        #expect(registry.sweep(nowMs: t0 + 1_000_000).count == 1)
        let changes = registry.apply([status("d", at: t0 - 5_000_000)])
        #expect(changes.map(\.to) == [.online])
    }

    @Test func restartReportsDevicesThatWentSilentWhileDown() throws {
        let temp = try TemporaryCatalog()
        defer { temp.cleanup() }
        do {
            let registry = try DeviceRegistry(path: temp.path, logger: testLogger)
            registry.apply([status("quiet", at: t0), status("chatty", at: t0)])
            try registry.flush()
        }
        let reopened = try DeviceRegistry(path: temp.path, logger: testLogger)
        reopened.apply([status("chatty", at: t0 + 3_600_000)])
        let changes = reopened.sweep(nowMs: t0 + 3_600_001)
        #expect(changes == [DeviceStateChange(device: "quiet", from: .online, to: .offline, atMs: t0 + 3_600_001)])
    }

    @Test func devicesFilterAndPage() throws {
        let registry = try DeviceRegistry(path: ":memory:", logger: testLogger)
        registry.apply([
            status("c", at: t0, family: "farm"),
            status("a", at: t0, profile: "p2"),
            status("b", at: t0 + 200_000),
            status("d", at: t0, profile: "p2", family: "charger"),
        ])
        _ = registry.sweep(nowMs: t0 + 200_000)  // a, c, d go offline
        #expect(registry.devices().map(\.id) == ["a", "b", "c", "d"])
        #expect(registry.devices(state: .online).map(\.id) == ["b"])
        #expect(registry.devices(state: .offline).map(\.id) == ["a", "c", "d"])
        #expect(registry.devices(profileID: "p2").map(\.id) == ["a", "d"])
        #expect(registry.devices(family: "farm").map(\.id) == ["c"])
        #expect(registry.devices(state: .offline, profileID: "p2", family: "charger").map(\.id) == ["d"])
        #expect(registry.devices(limit: 2, offset: 1).map(\.id) == ["b", "c"])
        #expect(registry.devices(limit: 10, offset: 10).isEmpty)
        #expect(registry.count == 4)
        #expect(registry.summary == DeviceSummary(total: 4, online: 1, offline: 3))
        #expect(registry.device(id: "zz") == nil)
    }

    @Test func concurrentApplyCountsEveryStatus() async throws {
        let registry = try DeviceRegistry(path: ":memory:", logger: testLogger)
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for i in 0..<500 {
                        registry.apply([status("d\(i % 50)", at: t0 + Int64(worker * 1_000 + i))])
                        if i % 100 == 0 { _ = registry.sweep(nowMs: t0) }
                    }
                }
            }
        }
        #expect(registry.count == 50)
        #expect(registry.devices().reduce(0) { $0 + $1.messageCount } == 2_000)
    }

    @Test func registryAndDeadLetterStoreShareOneFile() throws {
        let temp = try TemporaryCatalog()
        defer { temp.cleanup() }
        let registry = try DeviceRegistry(path: temp.path, logger: testLogger)
        let letters = try DeadLetterStore(path: temp.path, logger: testLogger)
        registry.apply([status("a", at: t0)])
        let message = RawMessage(transport: .mqtt, topic: "t", payload: [1], receiveTimeMs: t0)
        try letters.append([DeadLetter(message: message, reason: .decode, error: "x")])
        #expect(try registry.flush() == 1)
        #expect(try letters.count() == 1)
    }
}
