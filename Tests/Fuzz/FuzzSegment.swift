// Fuzz target `segment`: the segment reader (`SegmentReader`, what the store runs on every segment at open and for
// every query) over arbitrary bytes as a segment file (docs/formats/segment.md), then every series' points.
//
// Input: byte 0 holds flags, the rest is the file. With bit 0 set the file is first made to pass the checks that
// come before parsing: the header's file length, the trailing magic and the CRC32C are rewritten, so mutated index
// and chunk bytes reach the index parser and the chunk codecs instead of stopping at the checksum.

import Foundation
import TimeSeriesStore

#if CITYGATE_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = FuzzSegment.run(FuzzSupport.input(data, size))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer, _ argv: UnsafeMutableRawPointer) -> CInt {
    FuzzSupport.writeSeedsIfRequested(FuzzSegment.seeds)
    return 0
}
#endif

public enum FuzzSegment {
    /// Rewrites the length, trailing magic and checksum of a file at least as long as the smallest segment.
    static func fixUp(_ bytes: inout [UInt8]) {
        let n = bytes.count
        guard n >= SegmentFormat.minimumSize else { return }
        for i in 0..<8 { bytes[8 + i] = UInt8(truncatingIfNeeded: UInt64(n) >> (8 * UInt64(i))) }
        for i in 0..<4 { bytes[n - 4 + i] = SegmentFormat.magic[i] }
        let crc = CRC32C.checksum(bytes[0..<(n - 8)])
        for i in 0..<4 { bytes[n - 8 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    }

    /// Opens `input` as a segment and reads every series it indexes.
    public static func run(_ input: [UInt8]) -> FuzzOutcome {
        guard let flags = input.first else { return .rejected }
        var file = Array(input.dropFirst())
        if flags & 1 != 0 { fixUp(&file) }
        let reader: SegmentReader
        do {
            reader = try SegmentReader(bytes: file, maxBlockBytes: 1 << 20)
        } catch {
            precondition(!"\(error)".isEmpty, "a segment error without a description")
            return .rejected
        }
        precondition(reader.series.count == reader.entries.count, "series and entries differ")
        precondition(zip(reader.series, reader.series.dropFirst()).allSatisfy { $0 < $1 }, "series ids are not ascending")
        var clean = true
        var total = 0
        for entry in reader.entries {
            precondition(reader.entry(for: entry.series)?.series == entry.series, "entry(for:) misses an indexed series")
            do {
                let points = try reader.points(for: entry.series)
                precondition(points.count == entry.count, "\(points.count) points for an entry of \(entry.count)")
                precondition(zip(points, points.dropFirst()).allSatisfy { $0.timeMs < $1.timeMs }, "points are not in ascending time order")
                total += points.count
            } catch {
                clean = false
            }
        }
        precondition(!clean || total == reader.pointCount, "read \(total) points of \(reader.pointCount)")
        return clean ? .accepted : .rejected
    }

    /// Segments written by `SegmentWriter` in both formats, with raw and zstd blocks and every value encoding
    /// (constant, decimal, xor, empty-count corner cases), zero-run timestamps, and several blocks; with and without
    /// the fix-up flag.
    public static func seeds() -> [FuzzSeed] {
        let t: Int64 = 1_767_225_600_000
        var series: [(SeriesID, [Point])] = []
        series.append((1, (0..<50).map { Point(timeMs: t + Int64($0) * 300_000, value: 21.5) }))  // constant, zero runs
        series.append((2, (0..<40).map { Point(timeMs: t + Int64($0) * 60_000 + Int64($0 % 3), value: Double($0 % 7) * 0.25 - 1) }))  // decimal
        series.append((3, (0..<30).map { Point(timeMs: t + Int64($0) * 1_000, value: sin(Double($0)) * 1e-7) }))  // xor
        series.append((4, [Point(timeMs: .min, value: .nan), Point(timeMs: 0, value: -0.0), Point(timeMs: .max, value: .infinity)]))
        series.append((900, [Point(timeMs: t, value: 1)]))
        var out: [FuzzSeed] = []
        for (version, blockSize, level) in [(UInt8(2), 16 * 1024, Int32(3)), (2, 64, 1), (1, 16 * 1024, 3), (1, 100, 3)] {
            var writer = SegmentWriter(level: level, blockSize: blockSize, formatVersion: version)
            for (id, points) in series { writer.append(series: id, points: points) }
            guard let file = try? writer.finish() else { fatalError("fuzz harness: cannot write a seed segment") }
            out.append(FuzzSeed("segment-v\(version)-b\(blockSize)", [0] + file))
            out.append(FuzzSeed("segment-v\(version)-b\(blockSize)-fix", [1] + file))
        }
        var small = SegmentWriter(blockSize: 1 << 20)
        small.append(series: 7, points: [Point(timeMs: t, value: 3.25), Point(timeMs: t + 1, value: 3.5)])
        if let file = try? small.finish() { out.append(FuzzSeed("segment-small-raw-fix", [1] + file)) }
        if let empty = try? SegmentWriter().finish() { out.append(FuzzSeed("segment-empty", [1] + empty)) }
        return out
    }
}
