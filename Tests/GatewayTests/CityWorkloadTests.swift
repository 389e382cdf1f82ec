import Foundation
import Gateway
import GatewayCore
import Testing

/// The store benchmark's workload: NAB-style CSVs replicated into a city of devices.
@Suite struct CityWorkloadTests {
    // MARK: fixtures

    /// The nab-dev data beside the repository (`<repo>/../shared/data/nab-dev/data`), if present.
    static let nabDirectory: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.deletingLastPathComponent().path + "/shared/data/nab-dev/data"
    }()
    static var hasNAB: Bool { FileManager.default.fileExists(atPath: nabDirectory) }

    /// Three small series with known resolutions: 2 decimals, whole numbers (with a duplicate time), and binary
    /// doubles printed in full (3 decimals underneath).
    static func fixtureDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cityworkload-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/traffic", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/cloud", withIntermediateDirectories: true)
        var occupancy = "timestamp,value\n"
        for i in 0..<400 {
            occupancy += "\(stamp(1_441_115_100 + i * 300)),\(String(format: "%.2f", 3.0 + Double(i % 37) * 0.17))\n"
        }
        var speed = "timestamp,value\n"
        for i in 0..<300 { speed += "\(stamp(1_441_000_000 + i * 600)),\(50 + i % 30)\n" }
        speed += "\(stamp(1_441_000_000 + 299 * 600)),77\n"  // duplicate time: the last one wins
        var cpu = "timestamp,value\r\n"
        for i in 0..<500 {
            let v = [51.846000000000004, 0.33399999999999996, 2.296, 99.22200000000001, 0.0][i % 5]
            cpu += "\(stamp(1_396_449_000 + i * 300)),\(v)\r\n"
        }
        try occupancy.write(toFile: dir + "/traffic/occupancy_1.csv", atomically: true, encoding: .utf8)
        try speed.write(toFile: dir + "/traffic/speed_2.csv", atomically: true, encoding: .utf8)
        try cpu.write(toFile: dir + "/cloud/cpu_3.csv", atomically: true, encoding: .utf8)
        return dir
    }

    static func stamp(_ unix: Int) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(unix)))
    }

    static func all(_ w: CityWorkload) -> [CityWorkload.Event] {
        var c = w.makeCursor()
        var out: [CityWorkload.Event] = []
        while let e = c.next() { out.append(e) }
        return out
    }

    // MARK: loading

    @Test func loadsSourcesWithResolutionAndDeduplicatedTimes() throws {
        let dir = try Self.fixtureDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sources = try CityWorkload.loadSources(directory: dir)
        #expect(sources.map(\.name) == ["cpu_3", "occupancy_1", "speed_2"])
        #expect(sources.map(\.folder) == ["cloud", "traffic", "traffic"])
        #expect(sources.map(\.decimals) == [3, 2, 0])
        #expect(sources.map(\.count) == [500, 400, 300])
        #expect(sources[2].value(299) == 77)
        #expect(sources[0].value(0) == 51.846)  // float-export noise removed
        #expect(sources[0].value(1) == 0.334)
        #expect(sources.map(\.intervalMs) == [300_000, 300_000, 600_000])
        // Moved by whole weeks into the city's first week, time of day kept.
        for s in sources {
            #expect(s.timesMs[0] >= CityWorkload.defaultCityStartMs && s.timesMs[0] < CityWorkload.defaultCityStartMs + 7 * 86_400_000)
            #expect(zip(s.timesMs, s.timesMs.dropFirst()).allSatisfy { $0 < $1 })
        }
        #expect(sources[1].timesMs[0] % 86_400_000 == Int64(1_441_115_100 % 86_400) * 1000)
    }

    @Test func decimalPlacesFromText() {
        func d(_ s: String) -> Int { CityWorkload.decimalPlaces(text: Array(s.utf8), value: Double(s)!) }
        #expect(d("564") == 0)
        #expect(d("20.0") == 0)
        #expect(d("3.06") == 2)
        #expect(d("13.50") == 1)
        #expect(d("51.846000000000004") == 3)
        #expect(d("0.33399999999999996") == 3)
        #expect(d("18.324918539200002") == 10)
        #expect(d("1.5e-3") == 4)
    }

    @Test func lineProtocolDecimals() {
        func text(_ m: Int64, _ d: Int) -> String {
            var b: [UInt8] = []
            CityWorkload.appendDecimal(m, decimals: d, to: &b)
            return String(decoding: b, as: UTF8.self)
        }
        #expect(text(1230, 2) == "12.3")
        #expect(text(5, 3) == "0.005")
        #expect(text(-5, 3) == "-0.005")
        #expect(text(0, 2) == "0")
        #expect(text(42, 0) == "42")
        #expect(text(-1200, 2) == "-12")
        #expect(text(123_456, 10) == "0.0000123456")
    }

    // MARK: the city

    @Test func countsAndNames() throws {
        let dir = try Self.fixtureDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try CityWorkload(directory: dir, copies: 4, seed: 7)
        #expect(w.seriesCount == 12)
        #expect(w.pointCount == 4 * 1200)
        #expect(Set(w.devices).count == 12)
        #expect(w.devices.contains("city-0-occupancy_1") && w.devices.contains("city-3-speed_2"))
        let events = Self.all(w)
        #expect(events.count == w.pointCount)
        var perSeries = [Int](repeating: 0, count: w.seriesCount)
        for e in events { perSeries[e.series] += 1 }
        #expect(perSeries == (0..<w.seriesCount).map { w.sources[w.source(ofSeries: $0)].count })
        // Every point of every series exactly once.
        #expect(Set(events.map { [$0.series, $0.index] }).count == events.count)
        #expect(CityWorkload.copies(forPoints: 16_000, sources: w.sources) == 13)
    }

    @Test func timeOrderAcrossSeriesAndBatches() throws {
        let dir = try Self.fixtureDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try CityWorkload(directory: dir, copies: 5, seed: 3)
        let events = Self.all(w)
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.timeMs < $1.timeMs || ($0.timeMs == $1.timeMs && $0.series < $1.series) })
        // Within a series, points come in source order.
        var lastIndex = [Int](repeating: -1, count: w.seriesCount)
        for e in events {
            #expect(e.index == lastIndex[e.series] + 1)
            lastIndex[e.series] = e.index
        }
        // Batches: same samples, same order, sized as asked.
        var batches = w.batches(size: 333)
        var samples: [Sample] = []
        var sizes: [Int] = []
        while let b = batches.next() {
            sizes.append(b.count)
            samples += b
        }
        #expect(sizes.dropLast().allSatisfy { $0 == 333 } && sizes.last! <= 333)
        #expect(samples.count == events.count)
        #expect(zip(samples, events).allSatisfy { s, e in
            s.device == w.devices[e.series] && s.metric == "value" && s.timeMs == e.timeMs && s.value == e.value
        })
        // The packed schedule is the same order.
        let schedule = w.schedule()
        #expect(schedule.count == events.count)
        #expect(zip(schedule, events).allSatisfy { w.event(packed: $0) == $1 })
        // Copies interleave: copies ≥ 1 are shifted (whole seconds, under a day), copy 0 is not.
        for s in 0..<w.seriesCount {
            let offset = w.offsetMs(series: s)
            #expect(offset % 1000 == 0 && offset >= 0 && offset < 86_400_000)
            if w.copy(ofSeries: s) == 0 { #expect(offset == 0) }
        }
        #expect(Set((w.sources.count..<w.seriesCount).map { w.offsetMs(series: $0) }).count > w.seriesCount / 2)
    }

    @Test func deterministicWithASeed() throws {
        let dir = try Self.fixtureDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = Self.all(try CityWorkload(directory: dir, copies: 3, seed: 11))
        let b = Self.all(try CityWorkload(directory: dir, copies: 3, seed: 11))
        let c = Self.all(try CityWorkload(directory: dir, copies: 3, seed: 12))
        #expect(a == b)
        #expect(a != c)
    }

    @Test func perturbationStaysAtResolution() throws {
        let dir = try Self.fixtureDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try CityWorkload(directory: dir, copies: 6, seed: 5)
        var changed = [Int](repeating: 0, count: w.seriesCount)
        for e in Self.all(w) {
            let src = w.sources[w.source(ofSeries: e.series)]
            let original = src.mantissas[e.index]
            let delta = e.mantissa - original
            if w.copy(ofSeries: e.series) == 0 {
                #expect(delta == 0)
                #expect(e.timeMs == src.timesMs[e.index])
            }
            #expect(abs(delta) <= Int64(w.maxPerturbSteps))
            #expect(e.mantissa >= src.minMantissa)
            if delta != 0 { changed[e.series] += 1 }
            // The value is the decimal at the series' resolution: the double its text parses to.
            let scaled = e.value * pow(10, Double(src.decimals))
            #expect(abs(scaled - scaled.rounded()) < 1e-6)
            var text: [UInt8] = []
            CityWorkload.appendDecimal(e.mantissa, decimals: e.decimals, to: &text)
            #expect(Double(String(decoding: text, as: UTF8.self)) == e.value)
        }
        // About perturbFraction of each perturbed copy's points changed: not zero, not most.
        for s in w.sources.count..<w.seriesCount {
            let count = w.sources[w.source(ofSeries: s)].count
            let fraction = Double(changed[s]) / Double(count)
            #expect(fraction > w.perturbFraction / 3 && fraction < w.perturbFraction * 2, "series \(w.devices[s]): \(fraction)")
        }
    }

    // MARK: the real data

    @Test(.enabled(if: CityWorkloadTests.hasNAB, "nab-dev data not found beside the repository"))
    func nabDevDataReplicates() throws {
        let sources = try CityWorkload.loadSources(directory: Self.nabDirectory)
        #expect(sources.count == 35)
        let perCopy = sources.reduce(0) { $0 + $1.count }
        #expect(perCopy > 120_000 && perCopy < 130_000)
        #expect(CityWorkload.copies(forPoints: 16_000_000, sources: sources) == 125)
        let byName = Dictionary(uniqueKeysWithValues: sources.map { ($0.name, $0) })
        #expect(byName["speed_6005"]?.decimals == 0)
        #expect(byName["occupancy_6005"]?.decimals == 2)
        #expect(byName["ec2_cpu_utilization_24ae8d"]?.decimals == 3)
        let w = CityWorkload(sources: sources, copies: 2, seed: 1)
        var c = w.makeCursor()
        var n = 0
        var last = Int64.min
        while let e = c.next() {
            #expect(e.timeMs >= last)
            last = e.timeMs
            n += 1
        }
        #expect(n == 2 * perCopy)
    }
}
