import Foundation
import GatewayCore
import GatewayTesting
import Testing
@testable import TimeSeriesStore

/// Samples stamped far ahead of the wall clock (a clock jump to next year, found by the fault harness) must neither
/// make every later append start a checkpoint nor, after a restart, age the rest of the store out.
@Suite struct StoreClockTests {
    let hour: Int64 = 3_600_000
    let year: Int64 = 365 * 86_400_000

    func open(_ dir: TemporaryDirectory) throws -> TimeSeriesStore {
        var c = StoreConfiguration(directory: dir.path)
        c.commitInterval = .milliseconds(10)
        c.partitionMs = hour
        c.maxAgeMs = 30 * 86_400_000
        return try TimeSeriesStore(configuration: c, logger: quietLogger())
    }

    @Test func aSampleAYearAheadDoesNotCloseTheCurrentPartition() throws {
        let dir = try TemporaryDirectory()
        let store = try open(dir)
        let now = WallClock.nowMs()
        try store.append([sample("jumped", "level", now + year, 1)])
        for i in 0..<20 {
            try store.append([sample("d1", "level", now + Int64(i), Double(i))])
            store.sealQueue.sync {}
        }
        #expect(store.stats.segments == 0, "no checkpoint was started: \(store.stats.segments) segments")
        try store.close()
    }

    @Test func aSegmentAYearAheadDoesNotAgeTheRestOutAtTheNextStart() throws {
        let dir = try TemporaryDirectory()
        let now = WallClock.nowMs()
        do {
            let store = try open(dir)
            try store.append([sample("d1", "level", now - hour, 1), sample("jumped", "level", now + year, 2)])
            try store.checkpoint()
            #expect(store.stats.segments == 2)
            try store.close()
        }
        let store = try open(dir)
        try store.checkpoint()
        #expect(store.stats.evictedSegments == 0)
        let id = try #require(store.seriesID(device: "d1", metric: "level"))
        #expect(try store.raw(id, fromMs: now - 2 * hour, toMs: now).map(\.value) == [1])
        try store.close()
    }
}
