import Foundation
import Testing
import TimeSeriesStore

@Suite struct SegmentRoundTripTests {
    /// Statistics computed independently of the writer, the way the format document defines them.
    struct Stats: Equatable {
        var count: Int
        var tMin: Int64
        var tMax: Int64
        var min: UInt64
        var max: UInt64
        var sum: UInt64
        var last: UInt64

        init(_ points: [Point]) {
            let values = points.map(\.value)
            let numbers = values.filter { !$0.isNaN }
            count = points.count
            tMin = points.map(\.timeMs).min()!
            tMax = points.map(\.timeMs).max()!
            min = (numbers.min() ?? .nan).bitPattern
            max = (numbers.max() ?? .nan).bitPattern
            sum = values.reduce(0, +).bitPattern
            last = points.last!.value.bitPattern
        }

        init(_ e: SegmentIndexEntry) {
            count = e.count
            tMin = e.tMin
            tMax = e.tMax
            min = e.min.bitPattern
            max = e.max.bitPattern
            sum = e.sum.bitPattern
            last = e.last.bitPattern
        }
    }

    /// Format 2 is what the writer produces; format 1 (older builds) must still read back the same.
    @Test(arguments: [UInt8(1), 2])
    func manySeriesRoundTripWithIndexStatistics(version: UInt8) throws {
        // 2,000 series × 100 points, appended in shuffled order with sparse ids.
        var workload = CodecFixtures.cityWorkload(series: 2_000, points: 100, seed: 2_000)
        var g = SeededGenerator(seed: 1)
        workload.shuffle(using: &g)
        var writer = SegmentWriter(level: 3, blockSize: 64 * 1024, formatVersion: version)
        for (id, points) in workload { writer.append(series: id, points: points) }
        #expect(writer.seriesCount == 2_000)
        #expect(writer.pointCount == 200_000)
        let bytes = try writer.finish()
        let reader = try SegmentReader(bytes: bytes)
        #expect(bytes[4] == version)
        #expect(reader.formatVersion == version)

        let expected = Dictionary(uniqueKeysWithValues: workload)
        #expect(reader.series == expected.keys.sorted())
        #expect(reader.entries.map(\.series) == reader.series)
        #expect(reader.pointCount == 200_000)
        #expect(reader.byteCount == bytes.count)
        let allTimes = workload.flatMap { $0.1.map(\.timeMs) }
        #expect(reader.timeRange == allTimes.min()!...allTimes.max()!)
        for (id, points) in expected {
            let entry = try #require(reader.entry(for: id))
            #expect(Stats(entry) == Stats(points), "series \(id)")
            #expect(entry.average.bitPattern == (points.map(\.value).reduce(0, +) / Double(points.count)).bitPattern)
            #expect(CodecFixtures.bits(try reader.points(for: id)) == CodecFixtures.bits(points), "series \(id)")
        }

        // Blocks: more than one, each cut before passing the block size, all compressed at this size.
        #expect(reader.blocks.count > 1)
        for block in reader.blocks {
            #expect(block.rawBytes <= 64 * 1024)
            #expect(block.isCompressed)
        }
        #expect(reader.blocks.dropLast().allSatisfy { $0.rawBytes > 60 * 1024 }, "blocks are filled before being cut")
    }

    @Test func unknownSeriesHasNoEntryAndNoPoints() throws {
        var writer = SegmentWriter()
        writer.append(series: 10, points: [Point(timeMs: 1, value: 1)])
        writer.append(series: 30, points: [Point(timeMs: 2, value: 2)])
        let reader = try SegmentReader(bytes: try writer.finish())
        for id: SeriesID in [0, 9, 11, 20, 29, 31, .max] {
            #expect(reader.entry(for: id) == nil)
            #expect(try reader.points(for: id).isEmpty)
        }
        #expect(reader.entry(for: 30)?.last == 2)
    }

    @Test func emptySegmentIsValid() throws {
        var writer = SegmentWriter()
        writer.append(series: 3, points: [])  // adds nothing
        let bytes = try writer.finish()
        #expect(bytes.count == SegmentFormat.minimumSize + 1 + 2)  // index: kind byte + two zero counts
        let reader = try SegmentReader(bytes: bytes)
        #expect(reader.series.isEmpty)
        #expect(reader.blocks.isEmpty)
        #expect(reader.timeRange == nil)
        #expect(reader.pointCount == 0)
        #expect(try reader.points(for: 3).isEmpty)
    }

    @Test func extremeSeriesIdsAndTimes() throws {
        var writer = SegmentWriter()
        let wide = [Point(timeMs: .min, value: 1), Point(timeMs: 0, value: .nan), Point(timeMs: .max, value: -.infinity)]
        writer.append(series: .max, points: wide)
        writer.append(series: 0, points: [Point(timeMs: -1, value: -0.0)])
        let reader = try SegmentReader(bytes: try writer.finish())
        #expect(reader.series == [0, .max])
        #expect(reader.timeRange == Int64.min...Int64.max)
        #expect(CodecFixtures.bits(try reader.points(for: .max)) == CodecFixtures.bits(wide))
        let entry = try #require(reader.entry(for: .max))
        #expect(entry.min == -.infinity && entry.max == 1 && entry.sum.isNaN && entry.last == -.infinity)
        #expect(reader.entry(for: 0)?.last.bitPattern == (-0.0).bitPattern)
    }

    @Test func statisticsIgnoreNaNForMinAndMax() throws {
        var writer = SegmentWriter()
        writer.append(series: 1, points: CodecFixtures.points([1, 2, 3, 4], [.nan, 5, -2, .nan]))
        writer.append(series: 2, points: CodecFixtures.points([1, 2], [.nan, Double(nan: 3, signaling: false)]))
        writer.append(series: 3, points: CodecFixtures.points([1, 2, 3], [.infinity, 1, 2]))
        let reader = try SegmentReader(bytes: try writer.finish())
        let a = try #require(reader.entry(for: 1))
        #expect(a.min == -2 && a.max == 5 && a.sum.isNaN && a.last.isNaN && a.count == 4)
        let b = try #require(reader.entry(for: 2))
        #expect(b.min.isNaN && b.max.isNaN)
        #expect(b.last.bitPattern == Double(nan: 3, signaling: false).bitPattern)
        let c = try #require(reader.entry(for: 3))
        #expect(c.min == 1 && c.max == .infinity && c.sum == .infinity)
    }

    @Test func smallAndIncompressibleBlocksAreStoredRaw() throws {
        // Under 128 bytes: raw.
        var small = SegmentWriter()
        small.append(series: 1, points: CodecFixtures.points([1, 2, 3], [1, 2, 3]))
        let smallReader = try SegmentReader(bytes: try small.finish())
        #expect(smallReader.blocks.count == 1 && !smallReader.blocks[0].isCompressed)
        // Also when it would compress well: 100 regular points of one value are ~117 bytes, mostly zeros.
        var compressible = SegmentWriter()
        compressible.append(series: 1, points: CodecFixtures.points(CodecFixtures.regularTimes(100), Array(repeating: 7, count: 100)))
        let compressibleReader = try SegmentReader(bytes: try compressible.finish())
        #expect(compressibleReader.blocks.count == 1 && compressibleReader.blocks[0].rawBytes < 128)
        #expect(!compressibleReader.blocks[0].isCompressed)

        // Short chunks of random times and bit patterns, one per block: zstd cannot save 10 % on most of them, and
        // every block follows the rule either way.
        var g = SeededGenerator(seed: 77)
        var random = SegmentWriter(blockSize: 1)
        var noise: [(SeriesID, [Point])] = []
        for id in 0..<40 {
            let times = (0..<16).map { _ in Int64(bitPattern: g.next()) }.sorted()
            let points = CodecFixtures.points(times, (0..<16).map { _ in Double(bitPattern: g.next()) })
            noise.append((SeriesID(id), points))
            random.append(series: SeriesID(id), points: points)
        }
        let randomReader = try SegmentReader(bytes: try random.finish())
        #expect(randomReader.blocks.count == 40)
        for block in randomReader.blocks {
            #expect(block.rawBytes >= 128)
            #expect(!block.isCompressed || (block.storedBytes - 1) * 10 <= block.rawBytes * 9)
        }
        #expect(randomReader.blocks.contains { !$0.isCompressed })
        for (id, points) in noise {
            #expect(CodecFixtures.bits(try randomReader.points(for: id)) == CodecFixtures.bits(points))
        }

        // Sensor data compresses: zstd.
        var sensor = SegmentWriter()
        sensor.append(series: 1, points: CodecFixtures.cases.first { $0.name == "regular 60 s" }!.points)
        let sensorReader = try SegmentReader(bytes: try sensor.finish())
        #expect(sensorReader.blocks.count == 1 && sensorReader.blocks[0].isCompressed)
    }

    @Test func chunkLargerThanBlockSizeGetsABlockOfItsOwn() throws {
        let workload = CodecFixtures.cityWorkload(series: 5, points: 2_000, seed: 5)
        var writer = SegmentWriter(level: 1, blockSize: 256)
        for (id, points) in workload { writer.append(series: id, points: points) }
        let reader = try SegmentReader(bytes: try writer.finish())
        #expect(reader.blocks.count == 5)
        #expect(reader.blocks.allSatisfy { $0.rawBytes > 256 })
        for (id, points) in workload {
            #expect(CodecFixtures.bits(try reader.points(for: id)) == CodecFixtures.bits(points))
        }
    }

    @Test func sameInputGivesTheSameBytes() throws {
        let workload = CodecFixtures.cityWorkload(series: 50, points: 60, seed: 9)
        var forward = SegmentWriter()
        var backward = SegmentWriter()
        for (id, points) in workload { forward.append(series: id, points: points) }
        for (id, points) in workload.reversed() { backward.append(series: id, points: points) }
        #expect(try forward.finish() == backward.finish(), "append order must not matter: chunks are sorted by id")
    }

    @Test func levelsAndBlockSizesAllRoundTrip() throws {
        let workload = CodecFixtures.cityWorkload(series: 300, points: 60, seed: 3)
        for level: Int32 in [-5, 1, 3, 9, 19] {
            for blockSize in [1, 4 * 1024, 64 * 1024, 1 << 20] {
                var writer = SegmentWriter(level: level, blockSize: blockSize)
                for (id, points) in workload { writer.append(series: id, points: points) }
                let reader = try SegmentReader(bytes: try writer.finish())
                for (id, points) in workload.prefix(20) + workload.suffix(20) {
                    #expect(CodecFixtures.bits(try reader.points(for: id)) == CodecFixtures.bits(points), "level \(level) block \(blockSize)")
                }
            }
        }
    }

    /// One reader shared by many threads: the block cache must not mix blocks up.
    @Test func concurrentReadersGetTheirOwnSeries() async throws {
        let workload = CodecFixtures.cityWorkload(series: 400, points: 100, seed: 4)
        var writer = SegmentWriter(level: 1, blockSize: 4 * 1024)
        for (id, points) in workload { writer.append(series: id, points: points) }
        let reader = try SegmentReader(bytes: try writer.finish())
        #expect(reader.blocks.count > 10)
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var g = SeededGenerator(seed: UInt64(worker))
                    var bad = 0
                    for _ in 0..<500 {
                        let (id, points) = workload.randomElement(using: &g)!
                        if (try? reader.points(for: id)).map(CodecFixtures.bits) != CodecFixtures.bits(points) { bad += 1 }
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }

    /// Bytes per point on realistic data, printed for the format document (no assertion on the size; the round trip
    /// is asserted).
    @Test func reportsBytesPerPointOnRealisticData() throws {
        let workload = CodecFixtures.cityWorkload(series: 1_000, points: 60, seed: 60)
        var writer = SegmentWriter()
        for (id, points) in workload { writer.append(series: id, points: points) }
        let bytes = try writer.finish()
        let reader = try SegmentReader(bytes: bytes)
        for (id, points) in workload {
            #expect(CodecFixtures.bits(try reader.points(for: id)) == CodecFixtures.bits(points))
        }
        let encoded = reader.blocks.reduce(0) { $0 + $1.rawBytes }  // chunks tile the blocks
        print("segment, 1,000 city series × 60 points (1 h at 1 min): \(bytes.count) bytes, "
              + String(format: "%.2f bytes/point (chunks before zstd %.2f, raw 16)", Double(bytes.count) / 60_000, Double(encoded) / 60_000))
    }
}
