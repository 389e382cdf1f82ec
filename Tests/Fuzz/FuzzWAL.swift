// Fuzz target `wal`: WAL replay and repair (`WALReader.replay`, what the store runs at every start) over arbitrary
// bytes as WAL files. docs/formats/wal.md: a bad record in the last file ends the replay and, with repair, is cut
// off so the next replay is clean; a bad record in an earlier file skips the rest of that file.
//
// Input: byte 0 holds flags, the rest is the file content.
// - bit 0: fix the checksums: walk the framing and write the right CRC32C into every record header that fits, so
//   mutated payloads reach the record decoder instead of stopping at the checksum;
// - bit 1: repair (cut a torn tail) and replay again: the second replay must be clean and return the same records;
// - bit 2: two files: the first record goes to wal-00000001.log, the rest to wal-00000002.log.

import Foundation
import Logging
import TimeSeriesStore

#if CITYGATE_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = FuzzWAL.run(FuzzSupport.input(data, size))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer, _ argv: UnsafeMutableRawPointer) -> CInt {
    FuzzSupport.writeSeedsIfRequested(FuzzWAL.seeds)
    return 0
}
#endif

public enum FuzzWAL {
    /// One directory per process, on tmpfs where there is one: files are rewritten for every input.
    static let directory: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let dir = base + "/citygate-fuzz-wal-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    static func fileName(_ number: Int) -> String { "wal-0000000\(number).log" }

    /// Writes the checksum of every record whose length fits the bytes left; returns where the first record ends.
    static func fixChecksums(_ bytes: inout [UInt8]) -> Int? {
        var offset = 0
        var firstEnd: Int?
        while bytes.count - offset >= 8 {
            let length = Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
            guard length >= 1, length <= bytes.count - offset - 8 else { break }
            let crc = CRC32C.checksum(bytes[(offset + 8)..<(offset + 8 + length)])
            for i in 0..<4 { bytes[offset + 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
            offset += 8 + length
            if firstEnd == nil { firstEnd = offset }
        }
        return firstEnd
    }

    /// Replays `input` as WAL files (see the file header).
    public static func run(_ input: [UInt8]) -> FuzzOutcome {
        guard let flags = input.first else { return .rejected }
        var content = Array(input.dropFirst())
        let firstEnd = flags & 1 != 0 ? fixChecksums(&content) : nil
        let repair = flags & 2 != 0
        let files: [[UInt8]]
        if flags & 4 != 0 {
            let split = firstEnd ?? content.count / 2
            files = [Array(content[..<split]), Array(content[split...])]
        } else {
            files = [content]
        }
        for number in 1...2 { unlink(directory + "/" + fileName(number)) }
        for (index, bytes) in files.enumerated() {
            let path = directory + "/" + fileName(index + 1)
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard fd >= 0, written == bytes.count, close(fd) == 0 else { fatalError("fuzz harness: cannot write \(path)") }
        }

        let first = replay(repair: repair)
        precondition(first.report.bytes <= content.count, "replayed \(first.report.bytes) bytes of \(content.count)")
        if repair {
            let second = replay(repair: true)
            precondition(second.records == first.records && second.points == first.points,
                         "a replay after repair returned \(second.records) records, the first \(first.records)")
            if files.count == 1 {
                precondition(second.report.isClean, "a replay after repair is not clean: \(second.report.notes)")
            }
        }
        return first.report.isClean ? .accepted : .rejected
    }

    static func replay(repair: Bool) -> (report: WALReplayReport, records: Int, points: Int) {
        var records = 0
        var points = 0
        let report: WALReplayReport
        do {
            report = try WALReader.replay(directory: directory, repair: repair) { record in
                records += 1
                switch record {
                case .points(let p): points += p.count
                case .series(let s):
                    for definition in s { precondition(definition.device.utf8.count < 1 << 24, "an impossible series name") }
                }
            }
        } catch {
            fatalError("fuzz harness: WAL replay failed on I/O: \(error)")
        }
        precondition(report.records == records && report.points == points, "the report disagrees with the records replayed")
        return (report, records, points)
    }

    /// WAL files written by `WALWriter` (series definitions, then point batches: regular, out of order, extreme times
    /// and values), under each flag combination; plus a torn tail and a flipped bit.
    public static func seeds() -> [FuzzSeed] {
        let dir = NSTemporaryDirectory() + "/citygate-fuzz-wal-seed-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let writer: WALWriter
        do {
            writer = try WALWriter(directory: dir, logger: Logger(label: "fuzz-seed"))
        } catch {
            fatalError("fuzz harness: cannot open a seed WAL: \(error)")
        }
        writer.append(series: [(id: 1, device: "ndds75-001", metric: "distance", unit: "mm"),
                               (id: 2, device: "智能烟感-7", metric: "battery", unit: "%"),
                               (id: 3, device: "ev-17", metric: "energy", unit: "kWh")])
        let t: Int64 = 1_767_225_600_000
        var regular: [(SeriesID, Point)] = []
        for i in 0..<20 {
            let point = Point(timeMs: t + Int64(i) * 60_000, value: Double(i) * 1.5)
            regular.append((SeriesID(i % 3 + 1), point))
        }
        writer.append(points: regular)
        let extremes: [(SeriesID, Point)] = [
            (1, Point(timeMs: t - 5_000, value: -0.0)), (2, Point(timeMs: .max, value: .infinity)),
            (3, Point(timeMs: .min, value: .nan)), (1, Point(timeMs: 0, value: 1e300)),
        ]
        writer.append(points: extremes)
        writer.append(series: [(id: 70_000, device: "d", metric: "m", unit: "")])
        writer.append(points: [(70_000, Point(timeMs: t, value: 42))])
        do {
            try writer.commit()
        } catch {
            fatalError("fuzz harness: cannot write a seed WAL: \(error)")
        }
        writer.close()
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".log") }.sorted()
        let file = names.flatMap { name in FileManager.default.contents(atPath: dir + "/" + name).map { Array($0) } ?? [] }
        precondition(!file.isEmpty, "fuzz harness: the seed WAL is empty")
        var out: [FuzzSeed] = []
        for flags: UInt8 in [0, 1, 2, 3, 5, 7] {
            out.append(FuzzSeed("wal-flags\(flags)", [flags] + file))
        }
        out.append(FuzzSeed("wal-torn", [3] + file.dropLast(5)))
        var flipped = file
        if flipped.count > 40 { flipped[40] ^= 0x10 }
        out.append(FuzzSeed("wal-flipped", [2] + flipped))
        return out
    }
}
