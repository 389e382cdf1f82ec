import Foundation
import GatewayCore
import GatewayTesting
import Logging
import Synchronization
import Testing
@testable import TimeSeriesStore

func quietLogger() -> Logger {
    var l = Logger(label: "test.store")
    l.logLevel = .critical
    return l
}

func sample(_ device: String, _ metric: String, _ t: Int64, _ v: Double) -> Sample {
    Sample(device: device, metric: metric, deviceTimeMs: t, receiveTimeMs: t, value: v, unit: "")
}

@Suite struct StoreTests {
    let hour: Int64 = 3_600_000
    let t0: Int64 = 1_767_225_600_000  // 2026-01-01T00:00Z

    func open(_ dir: TemporaryDirectory, _ configure: (inout StoreConfiguration) -> Void = { _ in }) throws -> TimeSeriesStore {
        var c = StoreConfiguration(directory: dir.path)
        c.commitInterval = .milliseconds(10)
        c.partitionMs = hour
        configure(&c)
        return try TimeSeriesStore(configuration: c, logger: quietLogger())
    }

    @Test func writesReadBackFromHeadsAndSegmentsAndSurviveReopen() throws {
        let dir = try TemporaryDirectory()
        var expected: [Point] = []
        do {
            let store = try open(dir)
            var batch: [Sample] = []
            for i in 0..<600 {
                let t = t0 + Int64(i) * 60_000
                let v = 20 + Double(i % 50) / 10
                batch.append(sample("d1", "temperature", t, v))
                expected.append(Point(timeMs: t, value: v))
            }
            try store.append(batch)
            let id = try #require(store.seriesID(device: "d1", metric: "temperature"))
            #expect(try store.raw(id, fromMs: t0, toMs: t0 + 10 * hour) == expected, "from the heads")
            try store.checkpoint()
            #expect(store.stats.segments == 10, "one segment per hourly partition")
            #expect(store.stats.headPoints == 0)
            #expect(try store.raw(id, fromMs: t0, toMs: t0 + 10 * hour) == expected, "from the segments")
            try store.append([sample("d1", "temperature", t0 + 600 * 60_000, 99)])
            expected.append(Point(timeMs: t0 + 600 * 60_000, value: 99))
            try store.close()
        }
        let reopened = try open(dir)
        #expect(reopened.recovery.replayedPoints == 1, "the unsealed point comes back from the WAL")
        let id = try #require(reopened.seriesID(device: "d1", metric: "temperature"))
        #expect(try reopened.raw(id, fromMs: t0, toMs: t0 + 11 * hour) == expected)
        #expect(try reopened.last(id) == Point(timeMs: t0 + 600 * 60_000, value: 99))
    }

    @Test func outOfOrderAndDuplicateTimesKeepTheLastWrite() throws {
        let dir = try TemporaryDirectory()
        let store = try open(dir)
        try store.append([sample("d", "m", t0 + 2000, 2), sample("d", "m", t0 + 1000, 1), sample("d", "m", t0 + 2000, 20)])
        let id = try #require(store.seriesID(device: "d", metric: "m"))
        #expect(try store.raw(id, fromMs: t0, toMs: t0 + 5000) == [Point(timeMs: t0 + 1000, value: 1), Point(timeMs: t0 + 2000, value: 20)])
        try store.checkpoint()
        // A late rewrite of a sealed time wins over the segment.
        try store.append([sample("d", "m", t0 + 1000, 10)])
        #expect(try store.raw(id, fromMs: t0, toMs: t0 + 5000) == [Point(timeMs: t0 + 1000, value: 10), Point(timeMs: t0 + 2000, value: 20)])
        try store.checkpoint()
        #expect(try store.raw(id, fromMs: t0, toMs: t0 + 5000) == [Point(timeMs: t0 + 1000, value: 10), Point(timeMs: t0 + 2000, value: 20)])
    }

    @Test func downsampleMatchesRawAggregation() throws {
        let dir = try TemporaryDirectory()
        let store = try open(dir)
        var samples: [Sample] = []
        for i in 0..<(24 * 60) { samples.append(sample("d", "level", t0 + Int64(i) * 60_000, Double((i * 37) % 101) / 10)) }
        try store.append(samples)
        try store.checkpoint()
        try store.append([sample("d", "level", t0 + 5 * hour + 30_000, 1000)])  // an overlapping late point
        let id = try #require(store.seriesID(device: "d", metric: "level"))
        for step in [60_000, 15 * 60_000, hour, 24 * hour] as [Int64] {
            let buckets = try store.downsample(id, fromMs: t0, toMs: t0 + 24 * hour, stepMs: step)
            let raw = try store.raw(id, fromMs: t0, toMs: t0 + 24 * hour - 1)
            let grouped = Dictionary(grouping: raw) { t0 + (($0.timeMs - t0) / step) * step }
            #expect(buckets.count == grouped.count, "step \(step)")
            for b in buckets {
                let pts = try #require(grouped[b.startMs])
                #expect(b.count == pts.count)
                #expect(b.min == pts.map(\.value).min())
                #expect(b.max == pts.map(\.value).max())
                #expect(abs(b.sum - pts.map(\.value).reduce(0, +)) < 1e-6)
                #expect(b.last == pts.max { $0.timeMs < $1.timeMs }!.value)
            }
        }
    }

    @Test func aClosedPartitionSealedInPiecesIsCompactedIntoOneSegment() throws {
        let dir = try TemporaryDirectory()
        let store = try open(dir) { $0.sealGraceMs = 0 }
        var expected: [Point] = []
        for piece in 0..<4 {  // four checkpoints inside the first hour, one rewriting an earlier time
            let batch = (0..<15).map { i in sample("d", "m", t0 + Int64(piece * 15 + i) * 60_000, Double(piece * 100 + i)) }
            try store.append(batch)
            try store.checkpoint()
            expected += batch.map { Point(timeMs: $0.timeMs, value: $0.value) }
        }
        try store.append([sample("d", "m", t0 + 5 * 60_000, -1)])
        expected[5].value = -1
        try store.checkpoint()
        #expect(store.stats.segments == 5, "the open partition keeps its pieces")
        // Data for the next hour closes the first partition; the next checkpoint compacts it.
        try store.append([sample("d", "m", t0 + hour, 7)])
        try store.checkpoint()
        let partitions = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/segments").filter { $0.hasPrefix("p\(t0)-") }
        #expect(partitions.count == 1, "one segment for the closed hour: \(partitions)")
        let id = try #require(store.seriesID(device: "d", metric: "m"))
        #expect(try store.raw(id, fromMs: t0, toMs: t0 + hour - 1) == expected, "merged with the last write winning, nothing duplicated")
        #expect(store.stats.segmentPoints == 61)
    }

    @Test func queriesKeepAnsweringWhileCheckpointsAndCompactionsReplaceSegments() async throws {
        let dir = try TemporaryDirectory()
        // A one-entry reader cache makes every query open segment files, where the race with compaction lies.
        let store = try open(dir) { $0.sealGraceMs = 0; $0.maxHeadPoints = 200; $0.readerCacheBytes = 1 }
        try store.append([sample("d", "m", t0, 0)])
        let id = try #require(store.seriesID(device: "d", metric: "m"))
        let writer = Task.detached {
            for i in 1..<6_000 { try store.append([sample("d", "m", t0 + Int64(i) * 20_000, Double(i))]) }
        }
        var answers = 0
        while !writer.isCancelled {
            let points = try store.raw(id, fromMs: t0, toMs: .max)
            #expect(points.first == Point(timeMs: t0, value: 0), "the oldest point is always there")
            answers += 1
            if store.stats.acceptedPoints >= 6_000 { break }
        }
        try await writer.value
        try store.checkpoint()
        #expect(try store.raw(id, fromMs: t0, toMs: .max).count == 6_000)
        #expect(answers > 0)
    }

    @Test func ringEvictsOldestWholeSegmentsWithinTheBudget() throws {
        let dir = try TemporaryDirectory()
        let store = try open(dir) { $0.maxBytes = 1_048_576; $0.maxAgeMs = nil }
        var rng = SystemRandomNumberGenerator()
        for h in 0..<12 {
            // Noisy values compress poorly, so each hour's segment is a sizeable share of the budget.
            let batch = (0..<20_000).map { i in sample("d\(i % 50)", "noise", t0 + Int64(h) * hour + Int64(i) * 100, Double.random(in: 0..<1, using: &rng)) }
            try store.append(batch)
            try store.checkpoint()
        }
        let stats = store.stats
        #expect(stats.segmentBytes <= 1_048_576, "within budget: \(stats.segmentBytes)")
        #expect(stats.evictedSegments > 0)
        let id = try #require(store.seriesID(device: "d0", metric: "noise"))
        let oldest = try store.raw(id, fromMs: t0, toMs: t0 + 12 * hour).first?.timeMs ?? .max
        let newest = try store.raw(id, fromMs: t0, toMs: t0 + 12 * hour).last?.timeMs ?? .min
        #expect(oldest > t0, "the oldest data went first")
        #expect(newest >= t0 + 11 * hour, "the newest data stayed")
        // Catalog and files agree.
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/segments").filter { $0.hasSuffix(".seg") }
        #expect(files.count == stats.segments)
    }

    /// `citygate export` opens the store read-only beside the running gateway; segments the gateway evicts after
    /// that open are dropped from the reader's list instead of failing the read ("segment file … is missing").
    @Test func aReadOnlyStoreSurvivesSegmentsEvictedByTheWriter() throws {
        let dir = try TemporaryDirectory()
        let store = try open(dir) { $0.maxBytes = 1_048_576; $0.maxAgeMs = nil }
        var rng = SystemRandomNumberGenerator()
        func writeHour(_ h: Int) throws {
            let batch = (0..<20_000).map { i in sample("d\(i % 50)", "noise", t0 + Int64(h) * hour + Int64(i) * 100, Double.random(in: 0..<1, using: &rng)) }
            try store.append(batch)
            try store.checkpoint()
        }
        try writeHour(0)
        let reader = try TimeSeriesStore(configuration: StoreConfiguration(directory: dir.path), logger: quietLogger(), readOnly: true)
        for h in 1..<12 { try writeHour(h) }
        #expect(store.stats.evictedSegments > 0, "the writer evicted the hour the reader saw at its open")
        let id = try #require(reader.seriesID(device: "d0", metric: "noise"))
        let points = try reader.raw(id, fromMs: t0, toMs: t0 + 12 * hour)
        #expect((points.first?.timeMs ?? .max) > t0 + hour - 1, "the evicted first hour is gone, not an error")
        #expect(try reader.downsample(id, fromMs: t0, toMs: t0 + 12 * hour, stepMs: hour).isEmpty == false)
    }

    /// The query cache of opened segments is bounded by the memory they hold, their decoded index included: a
    /// checkpoint piece of many series carries an index entry per series, as large as its compressed points.
    @Test func theReaderCacheIsBoundedByTheMemoryItsReadersHold() throws {
        let dir = try TemporaryDirectory()
        let store = try open(dir) { $0.readerCacheBytes = 2_000_000 }
        for piece in 0..<8 {
            try store.append((0..<5_000).map { sample("d\($0)", "m", t0 + Int64(piece) * 60_000, Double(piece)) })
            try store.checkpoint()
        }
        let rows = store.state.withLock { $0.segments.map(\.row) }
        try #require(rows.count == 8, "one piece per checkpoint of the open day")
        let readers = try rows.map { try store.reader(for: $0) }
        let one = try #require(readers.first)
        #expect(one.memoryBytes > 2 * one.byteCount, "5,000 index entries outweigh the compressed file: \(one.memoryBytes) vs \(one.byteCount)")
        let held = store.readers.withLock { ($0.heldBytes, $0.count) }
        #expect(held.0 <= 2_000_000, "within the cache's bound: \(held.0)")
        #expect(held.1 < 8, "not every piece stays cached: \(held.1)")
        let id = try #require(store.seriesID(device: "d7", metric: "m"))
        #expect(try store.raw(id, fromMs: t0, toMs: t0 + 3_600_000).map(\.value) == (0..<8).map(Double.init), "reads stay right across evictions")
    }

    @Test func aWallClockJumpDoesNotAgeDataOut() throws {
        let dir = try TemporaryDirectory()
        let store = try open(dir) { $0.maxAgeMs = 7 * 86_400_000 }
        try store.append((0..<60).map { sample("d", "m", t0 + Int64($0) * 60_000, 1) })
        try store.checkpoint()
        // The clock jumps a year ahead: new samples carry times a year later.
        try store.append([sample("d", "m", t0 + 365 * 86_400_000, 2)])
        try store.checkpoint()
        let id = try #require(store.seriesID(device: "d", metric: "m"))
        #expect(try store.raw(id, fromMs: t0, toMs: t0 + hour).count == 60, "a year-long jump evicted nothing")
        #expect(store.stats.evictedSegments == 0)
    }

    @Test func corruptSegmentIsQuarantinedAndTheStoreStillOpens() throws {
        let dir = try TemporaryDirectory()
        do {
            let store = try open(dir)
            try store.append((0..<120).map { sample("d", "m", t0 + Int64($0) * 60_000, Double($0)) })
            try store.checkpoint()
            try store.close()
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/segments").filter { $0.hasSuffix(".seg") }.sorted()
        #expect(files.count == 2)
        let path = dir.path + "/segments/" + files[0]
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 0x04
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let reopened = try open(dir)
        #expect(reopened.recovery.quarantined == [files[0]])
        #expect(FileManager.default.fileExists(atPath: dir.path + "/quarantine/" + files[0]))
        let id = try #require(reopened.seriesID(device: "d", metric: "m"))
        #expect(try reopened.raw(id, fromMs: t0, toMs: t0 + 2 * hour).count == 60, "the healthy segment still answers")
    }

    @Test func orphanAndMissingFilesAreReconciled() throws {
        let dir = try TemporaryDirectory()
        do {
            let store = try open(dir)
            try store.append([sample("d", "m", t0, 1)])
            try store.checkpoint()
            try store.close()
        }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir.path + "/segments/p0-999.seg.tmp"))
        let reopened = try open(dir)
        #expect(reopened.recovery.orphanFiles == ["p0-999.seg.tmp"])
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/segments/p0-999.seg.tmp"))
        #expect(reopened.stats.segments == 1)
    }
}
