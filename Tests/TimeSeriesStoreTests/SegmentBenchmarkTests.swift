import Foundation
import Testing
import TimeSeriesStore

/// Block size and zstd level measurements behind the defaults in docs/formats/segment.md. Opt-in, because timings
/// only mean something in a release build on a quiet machine:
///
///     SEGMENT_BENCH=1 swift test -c release --filter SegmentBenchmarkTests
///
/// It prints a Markdown table and asserts only that everything round-trips; there are no timing assertions.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SEGMENT_BENCH"] != nil))
struct SegmentBenchmarkTests {
    typealias Workload = [(SeriesID, [Point])]

    /// NAB series (real traffic, AWS CloudWatch and artificial), cut into one-day partitions as the store would
    /// (5-minute data, so about 288 points per series per segment).
    static func nabPartitions() throws -> [Workload] {
        let root = URL(fileURLWithPath: "/work/shared/data/nab-dev/data")
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        var byDay: [Int64: Workload] = [:]
        var id: SeriesID = 0
        for case let url as URL in walker where url.pathExtension == "csv" {
            let text = try String(contentsOf: url, encoding: .utf8)
            var points: [Point] = []
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: ",")
                guard fields.count == 2, let time = Self.unixMs(fields[0]), let value = Double(fields[1]) else { continue }
                if let last = points.last, time <= last.timeMs { continue }
                points.append(Point(timeMs: time, value: value))
            }
            id += 1
            for (day, run) in Dictionary(grouping: points, by: { $0.timeMs / 86_400_000 }) {
                byDay[day, default: []].append((id, run.sorted { $0.timeMs < $1.timeMs }))
            }
        }
        return byDay.keys.sorted().map { byDay[$0]! }
    }

    /// "YYYY-MM-DD HH:MM:SS" (UTC) to Unix ms, by the days-from-civil algorithm.
    static func unixMs(_ text: Substring) -> Int64? {
        let parts = text.split(whereSeparator: { "- :".contains($0) }).compactMap { Int64($0) }
        guard parts.count == 6 else { return nil }
        let (y0, m, d) = (parts[0], parts[1], parts[2])
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return ((days * 24 + parts[3]) * 60 + parts[4]) * 60_000 + parts[5] * 1_000
    }

    struct Result {
        var bytes = 0
        var points = 0
        var rawBlockBytes = 0
        var indexBytes = 0
        var writeSeconds = Double.infinity
        var readSeconds = Double.infinity
        var bytesPerPoint: Double { Double(bytes) / Double(points) }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Writes each workload into one segment (best of `repeats` timings), then opens it and reads every series.
    static func measure(_ segments: [Workload], level: Int32, blockSize: Int, repeats: Int) throws -> Result {
        var result = Result()
        let clock = ContinuousClock()
        var files: [[UInt8]] = []
        for attempt in 0..<repeats {
            var built: [[UInt8]] = []
            let elapsed = try clock.measure {
                for workload in segments {
                    var writer = SegmentWriter(level: level, blockSize: blockSize)
                    for (id, points) in workload { writer.append(series: id, points: points) }
                    built.append(try writer.finish())
                }
            }
            result.writeSeconds = min(result.writeSeconds, seconds(elapsed))
            if attempt == 0 { files = built }
        }
        for (file, workload) in zip(files, segments) {
            let reader = try SegmentReader(bytes: file)
            result.bytes += file.count
            result.points += reader.pointCount
            result.rawBlockBytes += reader.blocks.reduce(0) { $0 + $1.rawBytes }
            let dataEnd = reader.blocks.last.map { $0.offset + $0.storedBytes } ?? SegmentFormat.headerSize
            result.indexBytes += file.count - dataEnd - SegmentFormat.trailerSize
            for (id, points) in workload {
                #expect(CodecFixtures.bits(try reader.points(for: id)) == CodecFixtures.bits(points))
            }
        }
        for _ in 0..<repeats {
            var total = 0
            let elapsed = try clock.measure {
                for file in files {
                    let reader = try SegmentReader(bytes: file)
                    for id in reader.series { total += try reader.points(for: id).count }
                }
            }
            #expect(total == result.points)
            result.readSeconds = min(result.readSeconds, seconds(elapsed))
        }
        return result
    }

    /// Cost of one query for one series when its block is not cached: open is excluded, decompression included.
    static func singleSeriesMicroseconds(_ file: [UInt8], samples: Int) throws -> Double {
        let reader = try SegmentReader(bytes: file)
        var g = SeededGenerator(seed: 3)
        var times: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<samples {
            let fresh = try SegmentReader(bytes: file)  // empty cache
            let id = reader.series.randomElement(using: &g)!
            let elapsed = try clock.measure { _ = try fresh.points(for: id) }
            times.append(seconds(elapsed) * 1e6)
        }
        return times.sorted()[times.count / 2]
    }

    @Test func blockSizeAndLevel() throws {
        let hourly = [CodecFixtures.cityWorkload(series: 2_000, points: 60, seed: 1)]
        let daily = [CodecFixtures.cityWorkload(series: 200, points: 1_440, seed: 2)]
        let nab = try Self.nabPartitions()
        let nabPoints = nab.reduce(0) { $0 + $1.reduce(0) { $0 + $1.1.count } }
        print("workloads: hourly 2,000 × 60 city points; daily 200 × 1,440; NAB \(nabPoints) points in \(nab.count) daily segments")
        print("| block | level | hourly B/pt | daily B/pt | NAB B/pt | index share (hourly) | write MB/s (hourly) | write MB/s (daily) | read MB/s (daily) | one series µs (hourly) | one series µs (daily) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for blockSize in [4, 16, 64, 256].map({ $0 * 1024 }) {
            for level: Int32 in [1, 3, 9] {
                let h = try Self.measure(hourly, level: level, blockSize: blockSize, repeats: 5)
                let d = try Self.measure(daily, level: level, blockSize: blockSize, repeats: 5)
                let n = try Self.measure(nab, level: level, blockSize: blockSize, repeats: 1)
                var hourlyWriter = SegmentWriter(level: level, blockSize: blockSize)
                for (id, points) in hourly[0] { hourlyWriter.append(series: id, points: points) }
                let singleHourly = try Self.singleSeriesMicroseconds(try hourlyWriter.finish(), samples: 300)
                var dailyWriter = SegmentWriter(level: level, blockSize: blockSize)
                for (id, points) in daily[0] { dailyWriter.append(series: id, points: points) }
                let singleDaily = try Self.singleSeriesMicroseconds(try dailyWriter.finish(), samples: 300)
                func mbps(_ points: Int, _ seconds: Double) -> String { String(format: "%.0f", Double(points * 16) / seconds / 1e6) }
                print("| \(blockSize / 1024) KiB | \(level) | " + String(format: "%.3f | %.3f | %.3f | %.0f %% | ", h.bytesPerPoint, d.bytesPerPoint, n.bytesPerPoint,
                                                                      100 * Double(h.indexBytes) / Double(h.bytes))
                      + "\(mbps(h.points, h.writeSeconds)) | \(mbps(d.points, d.writeSeconds)) | \(mbps(d.points, d.readSeconds)) | "
                      + String(format: "%.0f | %.0f |", singleHourly, singleDaily))
            }
        }
        // Before zstd: the codecs alone.
        let h = try Self.measure(hourly, level: 1, blockSize: 64 * 1024, repeats: 1)
        let d = try Self.measure(daily, level: 1, blockSize: 64 * 1024, repeats: 1)
        let n = try Self.measure(nab, level: 1, blockSize: 64 * 1024, repeats: 1)
        print(String(format: "chunks before zstd: hourly %.3f, daily %.3f, NAB %.3f bytes/point (raw points: 16)",
                     Double(h.rawBlockBytes) / Double(h.points), Double(d.rawBlockBytes) / Double(d.points), Double(n.rawBlockBytes) / Double(n.points)))
    }
}
