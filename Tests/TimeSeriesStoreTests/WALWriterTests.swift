#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import GatewayTesting
import Logging
import Testing
@testable import TimeSeriesStore

@Suite struct WALWriterTests {
    @Test func manyBatchesRoundTripAcrossRotatedFiles() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, segmentBytes: 16 << 10, commitInterval: .milliseconds(5), logger: WALFixture.logger)
        var expected: [WALFixture.Rec] = []
        var rotatedTo: [Int] = []
        for batch in 0..<400 {
            if batch % 40 == 0 {
                let definitions: [WALSeriesDefinition] = [(id: SeriesID(batch), device: "dev-\(batch)", metric: "m", unit: "u")]
                #expect(writer.append(series: definitions))
                expected.append(.series(definitions.map(WALFixture.S.init)))
            }
            let points = WALFixture.points(seed: UInt64(batch), count: 1 + batch % 97)
            #expect(writer.append(points: points))
            expected.append(.points(points.map(WALFixture.P.init)))
            if batch % 100 == 99 { rotatedTo.append(try writer.rotate()) }
            // Bounded commits (≤ 10 batches, ~6 KB) make the size-based rotation at 16 KiB happen regardless of timing.
            if batch % 10 == 9 { try writer.commit() }
        }
        try writer.commit()
        let statistics = writer.statistics
        writer.close()

        #expect(rotatedTo == rotatedTo.sorted() && Set(rotatedTo).count == rotatedTo.count)
        let (records, report) = try WALFixture.replay(dir.path)
        #expect(records == expected)
        #expect(report.isClean)
        #expect(report.files.count > 5, "size-based and explicit rotation should have made several files")
        #expect(report.records == expected.count)
        #expect(statistics.fsyncs >= 1 && statistics.bytesWritten == statistics.bytesAppended && statistics.bufferedBytes == 0)
        #expect(statistics.rotations >= UInt64(report.files.count - 1))
    }

    @Test func closeWithoutCommitStillWritesEverything() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, commitInterval: .seconds(3600), logger: WALFixture.logger)
        let points = WALFixture.points(seed: 1, count: 1000)
        writer.append(points: points)
        writer.close()
        writer.close()  // idempotent
        let (records, report) = try WALFixture.replay(dir.path)
        #expect(records == [.points(points.map(WALFixture.P.init))])
        #expect(report.isClean)
    }

    @Test func reopeningContinuesAfterTheHighestFile() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let first = WALFixture.points(seed: 1, count: 10)
        let second = WALFixture.points(seed: 2, count: 10)
        do {
            let writer = try WALWriter(directory: dir.path, logger: WALFixture.logger)
            #expect(writer.currentFileNumber == 1)
            writer.append(points: first)
            writer.close()
        }
        do {
            let writer = try WALWriter(directory: dir.path, logger: WALFixture.logger)
            #expect(writer.currentFileNumber == 2)
            writer.append(points: second)
            writer.close()
        }
        #expect(try WALFileName.list(dir.path) == [1, 2])
        let (records, _) = try WALFixture.replay(dir.path)
        #expect(records == [.points(first.map(WALFixture.P.init)), .points(second.map(WALFixture.P.init))])
    }

    @Test func seriesRecordsRoundTripWithUnicodeDeviceIDs() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, logger: WALFixture.logger)
        let definitions: [WALSeriesDefinition] = [
            (id: 0, device: "724031556159", metric: "distance", unit: "m"),
            (id: 1, device: "水表-朝阳区-0042", metric: "流量", unit: "m³/h"),
            (id: 2, device: "Ωmega-🚏-7", metric: "battery", unit: "%"),
            (id: 3, device: "café\u{301}", metric: "", unit: ""),
        ]
        #expect(writer.append(series: definitions))
        let points: [(SeriesID, Point)] = [(1, Point(timeMs: 1, value: 1.5)), (2, Point(timeMs: 2, value: 99))]
        writer.append(points: points)
        try writer.commit()
        writer.close()
        let (records, _) = try WALFixture.replay(dir.path)
        #expect(records == [.series(definitions.map(WALFixture.S.init)), .points(points.map(WALFixture.P.init))])
        // The store's call shape: an unlabeled id converts to the labeled tuple.
        let created: [(SeriesID, String, String, String)] = [(4, "d", "m", "u")]
        let writer2 = try WALWriter(directory: dir.path, logger: WALFixture.logger)
        #expect(writer2.append(series: created.map { ($0.0, device: $0.1, metric: $0.2, unit: $0.3) }))
        writer2.close()
    }

    @Test func commitMakesDataVisibleToAReaderImmediately() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        // No group commit during the test: only commit() can write.
        let writer = try WALWriter(directory: dir.path, commitInterval: .seconds(3600), logger: WALFixture.logger)
        defer { writer.close() }
        let points = WALFixture.points(seed: 5, count: 50)
        writer.append(points: points)
        #expect(try WALFixture.replay(dir.path, repair: false).0.isEmpty, "nothing is written before a commit")
        try writer.commit()
        #expect(try WALFixture.replay(dir.path, repair: false).0 == [.points(points.map(WALFixture.P.init))])
        #expect(writer.statistics.fsyncs == 1)
        try writer.commit()  // nothing new: no extra fsync
        #expect(writer.statistics.fsyncs == 1)
    }

    @Test func groupCommitWritesWithoutCommitCalls() async throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, logger: WALFixture.logger)  // default 100 ms interval
        defer { writer.close() }
        let points = WALFixture.points(seed: 6, count: 20)
        writer.append(points: points)
        // Durable (written and fsynced) by the WAL thread alone; the deadline only bounds a hang.
        let durable = await waitUntil(timeout: .seconds(20)) {
            let statistics = writer.statistics
            return statistics.commits >= 1 && statistics.bufferedBytes == 0
        }
        #expect(durable)
        #expect(writer.statistics.fsyncs >= 1)
        #expect(try WALFixture.replay(dir.path, repair: false).0 == [.points(points.map(WALFixture.P.init))])
    }

    @Test func flushThresholdCommitsEarly() async throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, commitInterval: .seconds(3600), flushThresholdBytes: 4096, logger: WALFixture.logger)
        defer { writer.close() }
        writer.append(points: WALFixture.points(seed: 1, count: 1000))  // > 4 KiB
        let committed = await waitUntil(timeout: .seconds(20)) { writer.statistics.commits >= 1 }
        #expect(committed)
    }

    @Test func waitUntilDurableResumesAfterTheGroupCommit() async throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, commitInterval: .milliseconds(20), logger: WALFixture.logger)
        defer { writer.close() }
        let points = WALFixture.points(seed: 7, count: 30)
        writer.append(points: points)
        try await writer.waitUntilDurable()
        #expect(try WALFixture.replay(dir.path, repair: false).0 == [.points(points.map(WALFixture.P.init))])
        try await writer.waitUntilDurable()  // nothing pending: returns at once
    }

    @Test func waitUntilDurableWithForceDoesNotWaitForTheInterval() async throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, commitInterval: .seconds(3600), logger: WALFixture.logger)
        defer { writer.close() }
        writer.append(points: WALFixture.points(seed: 8, count: 30))
        try await writer.waitUntilDurable(force: true)
        #expect(try WALFixture.replay(dir.path, repair: false).0.count == 1)
    }

    @Test func manyConcurrentWaitersAreAllResumed() async throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, commitInterval: .milliseconds(10), logger: WALFixture.logger)
        defer { writer.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<50 {
                group.addTask {
                    for round in 0..<10 {
                        writer.append(points: WALFixture.points(seed: UInt64(task * 100 + round), count: 5))
                        try await writer.waitUntilDurable(force: round % 3 == 0)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(writer.statistics.bufferedBytes == 0)
        #expect(try WALFixture.replay(dir.path, repair: false).0.count == 500)
    }

    @Test func cancellingAWaiterThrowsCancellationError() async throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, commitInterval: .seconds(3600), logger: WALFixture.logger)
        defer { writer.close() }
        writer.append(points: WALFixture.points(seed: 9, count: 3))
        let waiter = Task { try await writer.waitUntilDurable() }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }

    @Test func appendsFromManyThreadsKeepEachThreadsOrder() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, segmentBytes: 256 << 10, commitInterval: .milliseconds(2), flushThresholdBytes: 8192, logger: WALFixture.logger)
        let threads = 8
        let batches = 400
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for batch in 0..<batches {
                // Series id = thread, time = batch: each record says who wrote it and in which order.
                let points = (0..<(1 + batch % 13)).map { (SeriesID(thread), Point(timeMs: Int64(batch), value: Double($0))) }
                writer.append(points: points)
                if batch % 50 == 0 { try? writer.commit() }
                if thread == 0 && batch % 100 == 50 { _ = try? writer.rotate() }
            }
        }
        try writer.commit()
        writer.close()
        var next = [Int](repeating: 0, count: threads)
        let report = try WALReader.replay(directory: dir.path) { record in
            guard case .points(let points) = record, let first = points.first else { return }
            let thread = Int(first.0)
            #expect(Int(first.1.timeMs) == next[thread], "thread \(thread) out of order")
            #expect(points.count == 1 + Int(first.1.timeMs) % 13)
            next[thread] = Int(first.1.timeMs) + 1
        }
        #expect(next == [Int](repeating: batches, count: threads))
        #expect(report.isClean)
    }

    @Test func rotateReturnsTheNextNumberAndRemoveFilesKeepsTheCurrentOne() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, commitInterval: .seconds(3600), logger: WALFixture.logger)
        defer { writer.close() }
        let a = WALFixture.points(seed: 1, count: 10)
        let b = WALFixture.points(seed: 2, count: 10)
        let c = WALFixture.points(seed: 3, count: 10)
        writer.append(points: a)
        #expect(try writer.rotate() == 2)
        #expect(try writer.rotate() == 2, "an empty current file is not replaced by another empty one")
        writer.append(points: b)
        #expect(try writer.rotate() == 3)
        writer.append(points: c)
        try writer.commit()
        #expect(try WALFileName.list(dir.path) == [1, 2, 3])

        // Everything before a rotation is in the files below the number it returned.
        #expect(try WALFixture.replay(dir.path, from: 3, repair: false).0 == [.points(c.map(WALFixture.P.init))])
        try writer.removeFiles(through: 2)
        #expect(try WALFileName.list(dir.path) == [3])
        try writer.removeFiles(through: 10)
        #expect(try WALFileName.list(dir.path) == [3], "the current file is never removed")
        #expect(try WALFixture.replay(dir.path, repair: false).0 == [.points(c.map(WALFixture.P.init))])
    }

    @Test func oneWriterPerDirectoryAndNoRepairBesideALiveWriter() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, logger: WALFixture.logger)
        writer.append(points: WALFixture.points(seed: 1, count: 3))
        try writer.commit()
        #expect(throws: WALError.locked(path: dir.file("wal.lock"))) { _ = try WALWriter(directory: dir.path, logger: WALFixture.logger) }
        #expect(throws: WALError.locked(path: dir.file("wal.lock"))) { _ = try WALReader.replay(directory: dir.path) { _ in } }
        #expect(try WALFixture.replay(dir.path, repair: false).0.count == 1)
        writer.close()
        let again = try WALWriter(directory: dir.path, logger: WALFixture.logger)
        again.close()
    }

    @Test func createsMissingDirectories() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let nested = dir.path + "/a/b/wal"
        let writer = try WALWriter(directory: nested, logger: WALFixture.logger)
        writer.close()
        #expect(try WALFileName.list(nested) == [1])
    }

    @Test func appendsAfterCloseAreRefused() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, logger: WALFixture.logger)
        writer.close()
        #expect(!writer.append(points: WALFixture.points(seed: 1, count: 3)))
        #expect(writer.statistics.rejectedAppends == 1)
        #expect(throws: WALError.closed) { try writer.commit() }
        #expect(throws: WALError.closed) { _ = try writer.rotate() }
        #expect(writer.append(points: []), "an empty append is a no-op, even closed")
    }

    @Test func fullBufferRefusesAppendsAndCommitReportsIt() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(
            directory: dir.path, commitInterval: .seconds(3600), flushThresholdBytes: 1 << 30, maxBufferedBytes: 4096,
            logger: WALFixture.logger
        )
        defer { writer.close() }
        let small = WALFixture.points(seed: 1, count: 10)
        #expect(writer.append(points: small))
        #expect(!writer.append(points: WALFixture.points(seed: 2, count: 1000)))
        #expect(writer.statistics.rejectedAppends == 1)
        #expect(writer.lastError == .bufferFull(limitBytes: 4096))
        #expect(throws: WALError.bufferFull(limitBytes: 4096)) { try writer.commit() }
        try writer.commit()  // the refusal was reported once; what was accepted is durable
        #expect(try WALFixture.replay(dir.path, repair: false).0 == [.points(small.map(WALFixture.P.init))])
    }
}

/// Shared by the WAL tests: comparable records, generators, replay and file helpers.
enum WALFixture {
    static let logger: Logger = {
        var logger = Logger(label: "test.wal")
        logger.logLevel = .critical
        return logger
    }()

    /// A point with the value's bit pattern, so NaN payloads and -0.0 compare exactly.
    struct P: Equatable, CustomStringConvertible {
        var id: SeriesID
        var timeMs: Int64
        var bits: UInt64
        init(_ point: (SeriesID, Point)) {
            id = point.0
            timeMs = point.1.timeMs
            bits = point.1.value.bitPattern
        }
        var description: String { "(\(id), \(timeMs), \(Double(bitPattern: bits)))" }
    }

    struct S: Equatable {
        var id: SeriesID
        var device: String
        var metric: String
        var unit: String
        init(_ definition: WALSeriesDefinition) {
            id = definition.id
            device = definition.device
            metric = definition.metric
            unit = definition.unit
        }
    }

    enum Rec: Equatable {
        case points([P])
        case series([S])
    }

    static func comparable(_ record: WALRecord) -> Rec {
        switch record {
        case .points(let points): .points(points.map(P.init))
        case .series(let definitions): .series(definitions.map(S.init))
        }
    }

    /// Deterministic points: ids 0–999, times around 2026 with jitter, values with fractions.
    static func points(seed: UInt64, count: Int) -> [(SeriesID, Point)] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        var time: Int64 = 1_767_225_600_000 + Int64(seed % 1000) * 3_600_000
        return (0..<count).map { _ in
            time += Int64(next() % 120_000) - 5_000
            return (SeriesID(next() % 1000), Point(timeMs: time, value: Double(Int64(next() % 200_000) - 100_000) / 100))
        }
    }

    /// Replays `directory` into comparable records.
    static func replay(_ directory: String, from: Int = 0, repair: Bool = true) throws -> ([Rec], WALReplayReport) {
        var records: [Rec] = []
        let report = try WALReader.replay(directory: directory, from: from, repair: repair) { records.append(comparable($0)) }
        return (records, report)
    }

    /// Decodes a buffer of framed records (what the encoder produces), checking lengths and CRCs.
    static func decodeFramed(_ bytes: [UInt8]) throws -> [WALRecord] {
        var records: [WALRecord] = []
        var offset = 0
        try bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                let crc = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
                let payload = UnsafeRawBufferPointer(rebasing: raw[(offset + 8)..<(offset + 8 + length)])
                #expect(CRC32C.checksum(payload) == crc)
                records.append(try WALRecordDecoder.decode(payload))
                offset += 8 + length
            }
        }
        return records
    }

    /// The whole file (POSIX reads: Foundation's `Data(contentsOf:)` leaks a buffer on empty files under ASan).
    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw WALError.io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                result.append(contentsOf: chunk[0..<n])
            } else if n == 0 {
                return result
            } else if errno != EINTR {
                throw WALError.io(operation: "read", path: path, errno: errno)
            }
        }
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
    }

    /// Start offsets of the records in a file's bytes (walking the length fields of a well-formed file).
    static func recordOffsets(_ bytes: [UInt8]) -> [Int] {
        var offsets: [Int] = []
        var offset = 0
        while offset + 8 <= bytes.count {
            offsets.append(offset)
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
            offset += 8 + length
        }
        return offsets
    }

    /// A framed record with a correct CRC around `payload` (to build hostile-but-checksummed input).
    static func framed(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        WALRecordEncoder.appendFramed(payload: payload, to: &out)
        return out
    }
}
