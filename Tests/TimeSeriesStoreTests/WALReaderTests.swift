import Foundation
import GatewayTesting
import Testing
@testable import TimeSeriesStore

@Suite struct WALReaderTests {
    /// Writes `batches` (one record each) to a fresh WAL, rotating after each group of `perFile`, and returns the
    /// expected records per file.
    func makeWAL(_ dir: TemporaryDirectory, files: Int, perFile: Int, pointsPerBatch: Int = 12) throws -> [[WALFixture.Rec]] {
        let writer = try WALWriter(directory: dir.path, commitInterval: .seconds(3600), logger: WALFixture.logger)
        var expected: [[WALFixture.Rec]] = []
        for file in 0..<files {
            var inFile: [WALFixture.Rec] = []
            for batch in 0..<perFile {
                if batch == 1 {
                    let definitions: [WALSeriesDefinition] = [(id: SeriesID(file), device: "设备-\(file)", metric: "t", unit: "°C")]
                    writer.append(series: definitions)
                    inFile.append(.series(definitions.map(WALFixture.S.init)))
                }
                let points = WALFixture.points(seed: UInt64(file * 1000 + batch), count: pointsPerBatch)
                writer.append(points: points)
                inFile.append(.points(points.map(WALFixture.P.init)))
            }
            expected.append(inFile)
            if file < files - 1 { _ = try writer.rotate() }
        }
        try writer.commit()
        writer.close()
        #expect(try WALFileName.list(dir.path) == Array(1...files))
        return expected
    }

    @Test func tornTailAtEveryByteOffsetOfTheLastRecord() throws {
        let source = try TemporaryDirectory(prefix: "wal-src")
        let expected = try makeWAL(source, files: 2, perFile: 4)
        let lastPath = source.file(WALFileName.name(2))
        let original = try WALFixture.read(lastPath)
        let lastRecordStart = try #require(WALFixture.recordOffsets(original).last)
        let firstFile = try WALFixture.read(source.file(WALFileName.name(1)))
        let complete = expected[0] + expected[1].dropLast()

        for length in lastRecordStart..<original.count {
            let dir = try TemporaryDirectory(prefix: "wal-torn")
            try WALFixture.write(firstFile, to: dir.file(WALFileName.name(1)))
            try WALFixture.write(Array(original[..<length]), to: dir.file(WALFileName.name(2)))

            let (records, report) = try WALFixture.replay(dir.path)
            #expect(records == complete, "cut at \(length)")
            if length == lastRecordStart {
                #expect(report.isClean, "a cut on a record boundary is a clean end")
            } else {
                let tail = try #require(report.tail, "cut at \(length)")
                #expect(tail.fileNumber == 2 && tail.offset == lastRecordStart && tail.truncated)
                #expect(tail.kind == (length - lastRecordStart < 8 ? .truncatedHeader : .truncatedPayload))
                #expect(report.corruptFiles.isEmpty)
            }
            #expect(WALFixture.size(dir.file(WALFileName.name(2))) == lastRecordStart, "truncated to the last good record")
            #expect(report.largestReadBuffer <= max(firstFile.count, length))

            // The repaired WAL replays clean, and a writer continues cleanly after it.
            let writer = try WALWriter(directory: dir.path, logger: WALFixture.logger)
            let more = WALFixture.points(seed: 99, count: 5)
            writer.append(points: more)
            writer.close()
            let (after, afterReport) = try WALFixture.replay(dir.path)
            #expect(afterReport.isClean)
            #expect(after == complete + [.points(more.map(WALFixture.P.init))])
        }
    }

    @Test func everyFlippedBitInTheLastRecordIsDetectedAndDropped() throws {
        let source = try TemporaryDirectory(prefix: "wal-src")
        let expected = try makeWAL(source, files: 1, perFile: 3, pointsPerBatch: 6)
        let path = source.file(WALFileName.name(1))
        let original = try WALFixture.read(path)
        let lastRecordStart = try #require(WALFixture.recordOffsets(original).last)
        let dir = try TemporaryDirectory(prefix: "wal-flip")
        let target = dir.file(WALFileName.name(1))

        for byte in lastRecordStart..<original.count {
            for bit in 0..<8 {
                var damaged = original
                damaged[byte] ^= UInt8(1 << bit)
                try WALFixture.write(damaged, to: target)
                let (records, report) = try WALFixture.replay(dir.path)
                #expect(records == Array(expected[0].dropLast()), "bit \(bit) of byte \(byte)")
                let tail = try #require(report.tail, "bit \(bit) of byte \(byte) not detected")
                #expect(tail.offset == lastRecordStart && tail.truncated)
                #expect(WALFixture.size(target) == lastRecordStart)
            }
        }
    }

    @Test func flippedBitInAnEarlierFileIsReportedAndTheFollowingFilesStillReplay() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let expected = try makeWAL(dir, files: 3, perFile: 5)
        let path = dir.file(WALFileName.name(1))
        var bytes = try WALFixture.read(path)
        let offsets = WALFixture.recordOffsets(bytes)
        let badRecord = 2
        bytes[offsets[badRecord] + 8 + 5] ^= 0x10  // a payload byte of the third record
        try WALFixture.write(bytes, to: path)

        let (records, report) = try WALFixture.replay(dir.path)
        #expect(records == Array(expected[0].prefix(badRecord)) + expected[1] + expected[2])
        #expect(report.corruptFiles == [1])
        #expect(report.tail == nil)
        let issue = try #require(report.issues.first)
        #expect(issue.kind == .checksumMismatch && issue.offset == offsets[badRecord] && !issue.inLastFile && !issue.truncated)
        #expect(issue.skippedBytes == bytes.count - offsets[badRecord])
        #expect(WALFixture.size(path) == bytes.count, "an earlier file is left as it is")
        #expect(report.notes.count == 1 && report.notes[0].contains("checksumMismatch"))

        // Reported again on the next replay (never silently repaired away).
        #expect(try WALFixture.replay(dir.path).1.corruptFiles == [1])
    }

    @Test func hostileLengthInTheLastFileIsATornTailNotAnAllocation() throws {
        for length in [UInt32.max, 0x7FFF_FFFF, UInt32(WALFormat.maxPayloadBytes) + 1, 1 << 20] {
            let dir = try TemporaryDirectory(prefix: "wal")
            let good = WALRecordEncoder.encode(points: WALFixture.points(seed: 1, count: 4))
            var bytes = good
            withUnsafeBytes(of: length.littleEndian) { bytes.append(contentsOf: $0) }
            bytes += [0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3]
            try WALFixture.write(bytes, to: dir.file(WALFileName.name(1)))
            let (records, report) = try WALFixture.replay(dir.path)
            #expect(records.count == 1)
            #expect(report.tail?.kind == .truncatedPayload && report.tail?.truncated == true)
            #expect(report.largestReadBuffer <= bytes.count, "read buffer sized by the file, not the length field")
            #expect(WALFixture.size(dir.file(WALFileName.name(1))) == good.count)
        }
    }

    @Test func lengthAboveTheRecordLimitIsInvalidEvenWhenTheFileIsThatLarge() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let path = dir.file(WALFileName.name(1))
        var header: [UInt8] = []
        withUnsafeBytes(of: UInt32(WALFormat.maxPayloadBytes + 1).littleEndian) { header.append(contentsOf: $0) }
        header += [0, 0, 0, 0]
        try WALFixture.write(header, to: path)
        #expect(truncate(path, off_t(WALFormat.maxPayloadBytes + 4096)) == 0)  // sparse: 16 MiB of zeros after it
        let (records, report) = try WALFixture.replay(dir.path)
        #expect(records.isEmpty)
        #expect(report.tail?.kind == .invalidLength)
        #expect(report.largestReadBuffer <= WALReadWindow.defaultBytes)
        #expect(WALFixture.size(path) == 0)
    }

    @Test func hostileLengthInAnEarlierFileSkipsOnlyThatFile() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let expected = try makeWAL(dir, files: 2, perFile: 3)
        let path = dir.file(WALFileName.name(1))
        var bytes = try WALFixture.read(path)
        let second = WALFixture.recordOffsets(bytes)[1]
        bytes.replaceSubrange(second..<(second + 4), with: [0xFF, 0xFF, 0xFF, 0x7F])
        try WALFixture.write(bytes, to: path)
        let (records, report) = try WALFixture.replay(dir.path)
        #expect(records == [expected[0][0]] + expected[1])
        #expect(report.corruptFiles == [1] && report.issues.first?.kind == .truncatedPayload)
        #expect(report.largestReadBuffer <= bytes.count + 4096)
    }

    @Test func checksummedRecordWithAHostileCountIsRejectedWithoutReserving() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        // Type points, count 2^40, then a few bytes: the CRC is right, the count is a lie.
        var payload: [UInt8] = [1]
        WALRecordEncoder.appendVarint(1 << 40, to: &payload)
        payload += [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        let good = WALRecordEncoder.encode(points: WALFixture.points(seed: 3, count: 2))
        try WALFixture.write(good + WALFixture.framed(payload), to: dir.file(WALFileName.name(1)))
        let (records, report) = try WALFixture.replay(dir.path)
        #expect(records.count == 1)
        #expect(report.tail?.kind == .undecodablePayload)
        #expect(report.tail?.detail.contains("count") == true)
    }

    @Test func zeroLengthAndZeroFilledTailsAreCut() throws {
        // Power loss can leave a file extended with zeros past the last fsynced record.
        let dir = try TemporaryDirectory(prefix: "wal")
        let good = WALRecordEncoder.encode(points: WALFixture.points(seed: 4, count: 7))
        try WALFixture.write(good + [UInt8](repeating: 0, count: 4096), to: dir.file(WALFileName.name(1)))
        let (records, report) = try WALFixture.replay(dir.path)
        #expect(records.count == 1)
        #expect(report.tail?.kind == .invalidLength && report.truncatedBytes == 4096)
    }

    @Test func emptyFilesAfterATornFileDoNotHideItsTail() throws {
        // A writer that crashed right after creating its file leaves an empty last file; the torn tail before it is
        // still the last data and is repaired.
        let dir = try TemporaryDirectory(prefix: "wal")
        let good = WALRecordEncoder.encode(points: WALFixture.points(seed: 5, count: 7))
        try WALFixture.write(good + [5, 0, 0], to: dir.file(WALFileName.name(1)))
        try WALFixture.write([], to: dir.file(WALFileName.name(2)))
        let (records, report) = try WALFixture.replay(dir.path)
        #expect(records.count == 1)
        #expect(report.tail?.fileNumber == 1 && report.tail?.truncated == true)
        #expect(report.corruptFiles.isEmpty)
        #expect(report.files == [1, 2])
    }

    @Test func replayFromANumberSkipsOlderFilesAndIgnoresOtherNames() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let expected = try makeWAL(dir, files: 3, perFile: 2)
        try WALFixture.write([1, 2, 3], to: dir.file("wal-00000002.log.tmp"))
        try WALFixture.write([1, 2, 3], to: dir.file("notes.txt"))
        let (records, report) = try WALFixture.replay(dir.path, from: 2)
        #expect(records == expected[1] + expected[2])
        #expect(report.files == [2, 3] && report.isClean)
        #expect(report.records == records.count)
        #expect(report.seriesDefinitions == 2 && report.points == 4 * 12)
    }

    @Test func missingOrEmptyDirectoryReplaysNothing() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let report = try WALReader.replay(directory: dir.path + "/absent") { _ in Issue.record("no records expected") }
        #expect(report.isClean && report.files.isEmpty)
        let empty = try WALReader.replay(directory: dir.path) { _ in Issue.record("no records expected") }
        #expect(empty.files.isEmpty)
    }

    @Test func anErrorFromTheBodyStopsReplayAndRepairsNothing() throws {
        struct Stop: Error {}
        let dir = try TemporaryDirectory(prefix: "wal")
        _ = try makeWAL(dir, files: 1, perFile: 3)
        let path = dir.file(WALFileName.name(1))
        let size = WALFixture.size(path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: [9, 0, 0, 0, 1])
        try handle.close()
        var seen = 0
        #expect(throws: Stop.self) {
            _ = try WALReader.replay(directory: dir.path) { _ in
                seen += 1
                if seen == 2 { throw Stop() }
            }
        }
        #expect(WALFixture.size(path) == size + 5)
    }
}
