import GatewayCore
import Testing
@testable import Forwarder

/// Window arithmetic, closing on the watermark, late samples, idle closing and the checkpoint.
struct RollupEngineTests {
    static let base: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z, a multiple of every window

    func sample(_ device: String = "d1", _ metric: String = "level", at offsetMs: Int64, _ value: Double, received: Int64? = nil, unit: String = "m",
                quality: SampleQuality = .good) -> Sample {
        Sample(device: device, metric: metric, deviceTimeMs: Self.base + offsetMs, receiveTimeMs: received.map { Self.base + $0 } ?? Self.base + offsetMs,
               value: value, unit: unit, quality: quality)
    }

    @Test func aggregatesAWindowAndClosesItAtTheWatermark() throws {
        var e = RollupEngine(windows: [RollupWindow(sizeMs: 60_000, latenessMs: 10_000)])
        e.add([sample(at: 1_000, 3), sample(at: 20_000, -1), sample(at: 59_999, 2.5), sample(at: 30_000, 7)], monotonicNs: 0)
        #expect(e.closeDue().isEmpty, "the clock (59.999 s) has not reached end + lateness (70 s)")
        e.add([sample(at: 69_999, 1)], monotonicNs: 0)
        #expect(e.closeDue().isEmpty)
        e.add([sample(at: 70_000, 1)], monotonicNs: 0)
        let points = e.closeDue()
        try #require(points.count == 1)
        let p = points[0]
        #expect(p.startMs == Self.base)
        #expect(p.windowMs == 60_000)
        #expect(p.count == 4)
        #expect(p.min == -1)
        #expect(p.max == 7)
        #expect(p.sum == 11.5)
        #expect(p.avg == 11.5 / 4)
        #expect(p.last == 2.5, "last is the value with the latest time, not the last to arrive")
        #expect(p.unit == "m")
    }

    @Test func everyWindowSizeGetsItsOwnPoints() {
        var e = RollupEngine(windows: [RollupWindow(sizeMs: 1_000, latenessMs: 0), RollupWindow(sizeMs: 5_000, latenessMs: 0)])
        e.add((0..<10).map { sample(at: Int64($0) * 500, Double($0)) }, monotonicNs: 0)  // 0 … 4.5 s
        e.add([sample(at: 5_000, 100)], monotonicNs: 0)
        let points = e.closeDue()
        let ones = points.filter { $0.windowMs == 1_000 }.sorted { $0.startMs < $1.startMs }
        let fives = points.filter { $0.windowMs == 5_000 }
        #expect(ones.map(\.count) == [2, 2, 2, 2, 2])
        #expect(ones.map(\.sum) == [1, 5, 9, 13, 17])
        #expect(fives.count == 1)
        #expect(fives.first?.count == 10)
        #expect(fives.first?.sum == 45)
    }

    @Test func lateSamplesAreCountedAndDroppedButLatenessIsHonoured() {
        var e = RollupEngine(windows: [RollupWindow(sizeMs: 60_000, latenessMs: 30_000)])
        e.add([sample(at: 10_000, 1), sample(at: 80_000, 2)], monotonicNs: 0)
        // Clock 80 s: the first window (closes at 90 s) still takes a sample from 50 s.
        e.add([sample(at: 50_000, 3, received: 81_000)], monotonicNs: 0)
        #expect(e.late == [0])
        e.add([sample(at: 95_000, 0)], monotonicNs: 0)
        let first = e.closeDue()
        #expect(first.map(\.count) == [2])
        #expect(first.first?.sum == 4)
        // The window is emitted: another sample for it is late.
        e.add([sample(at: 59_000, 9, received: 96_000)], monotonicNs: 0)
        #expect(e.late == [1])
        #expect(e.closeDue().isEmpty)
    }

    @Test func aDeviceClockAheadDoesNotAdvanceTheWatermark() {
        var e = RollupEngine(windows: [RollupWindow(sizeMs: 60_000, latenessMs: 0)])
        e.add([sample(at: 1_000, 1)], monotonicNs: 0)
        // Device time a day ahead, received now: the clock follows the receive time.
        e.add([sample("d2", at: 86_400_000, 5, received: 2_000)], monotonicNs: 0)
        #expect(e.clockMs == Self.base + 2_000)
        #expect(e.closeDue().isEmpty)
        e.add([sample(at: 3_000, 2)], monotonicNs: 0)
        #expect(e.late == [0], "the on-time device is not late")
    }

    @Test func qualityBadAndNonFiniteValuesAreSkipped() {
        var e = RollupEngine(windows: [RollupWindow(sizeMs: 60_000, latenessMs: 0)])
        e.add([sample(at: 0, .nan), sample(at: 1, .infinity), sample(at: 2, 5, quality: .bad), sample(at: 3, 4, quality: .uncertain)], monotonicNs: 0)
        #expect(e.skipped == 3)
        #expect(e.accepted == 1)
    }

    @Test func idleTimeClosesTheLastWindowsByTheMonotonicClock() {
        var e = RollupEngine(windows: [RollupWindow(sizeMs: 1_000, latenessMs: 500)])
        e.add([sample(at: 100, 1)], monotonicNs: 1_000_000_000)
        e.tick(monotonicNs: 2_000_000_000)  // 1 s later: clock 1.1 s, window closes at 1.5 s
        #expect(e.closeDue().isEmpty)
        e.tick(monotonicNs: 2_500_000_000)
        #expect(e.closeDue().count == 1)
        #expect(e.seriesCount == 0, "a series with no open window is forgotten")
    }

    @Test func checkpointRestoresOpenWindowsAndDeletesClosedOnes() {
        let windows = [RollupWindow(sizeMs: 1_000, latenessMs: 0), RollupWindow(sizeMs: 10_000, latenessMs: 0)]
        var e = RollupEngine(windows: windows)
        e.add([sample(at: 100, 1), sample(at: 200, 3), sample("d2", at: 300, 10)], monotonicNs: 0)
        let cp = e.takeCheckpoint()
        #expect(cp.count == 2)
        #expect(e.takeCheckpoint().isEmpty, "nothing changed since")

        var restored = RollupEngine(windows: windows)
        restored.setClock(e.clockMs, monotonicNs: 0)
        for entry in cp { restored.restore(entry.state!) }
        restored.add([sample(at: 1_100, 5), sample("d2", at: 1_200, 20)], monotonicNs: 0)
        let points = restored.closeDue().sorted { ($0.device, $0.windowMs) < ($1.device, $1.windowMs) }
        #expect(points.map(\.device) == ["d1", "d2"])
        #expect(points.map(\.sum) == [4, 10], "the restored 1 s windows carry the samples from before the restart")
        let after = restored.takeCheckpoint()
        #expect(after.count == 2)
        #expect(after.allSatisfy { $0.state != nil }, "the 10 s windows are still open")

        // A series whose every window closed is deleted from the checkpoint.
        var single = RollupEngine(windows: [RollupWindow(sizeMs: 1_000, latenessMs: 0)])
        single.add([sample(at: 0, 1)], monotonicNs: 0)
        _ = single.takeCheckpoint()
        single.add([sample("d9", at: 1_000, 1)], monotonicNs: 0)
        #expect(single.closeDue().count == 1)
        let deletes = single.takeCheckpoint().filter { $0.state == nil }
        #expect(deletes.map(\.key.device) == ["d1"])
    }

    @Test func windowsAlignToTheEpochAlsoBeforeIt() {
        let w = RollupWindow(sizeMs: 60_000, latenessMs: 0)
        #expect(w.start(of: 0) == 0)
        #expect(w.start(of: 59_999) == 0)
        #expect(w.start(of: -1) == -60_000)
        #expect(w.label == "1m")
        #expect(RollupWindow(sizeMs: 3_600_000, latenessMs: 0).label == "1h")
        #expect(RollupWindow(sizeMs: 1_500, latenessMs: 0).label == "1500ms")
    }

    @Test func stageCutCarriesPointsBackAfterAFailedCommit() {
        let stage = RollupStage(windows: [RollupWindow(sizeMs: 1_000, latenessMs: 0)])
        stage.add([sample(at: 0, 1), sample(at: 1_000, 2)])
        let cut = stage.cut()
        #expect(cut.points.count == 1)
        stage.restore(failed: cut)
        let again = stage.cut()
        #expect(again.points == cut.points)
        #expect(Set(again.checkpoint.map(\.key)) == Set(cut.checkpoint.map(\.key)))
    }
}
