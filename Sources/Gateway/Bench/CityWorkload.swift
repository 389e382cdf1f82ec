import DeviceProfiles
import Foundation
import GatewayCore

/// Real sensor series (NAB CSVs) replicated into a "city" of devices, for the store benchmark.
///
/// Every CSV under a directory (`timestamp,value`, `YYYY-MM-DD HH:MM:SS` UTC) is one *source*. Copy `k` of source
/// `s` is the device `city-<k>-<source name>` with one metric (`value`):
///
/// - **time**: every source is first moved by whole weeks so that it starts in the week after `cityStartMs`
///   (weekday and time of day kept, so all sources run concurrently, as a city's sensors do); copy 0 stays there,
///   copy `k ≥ 1` is shifted further by a pseudo-random whole number of seconds in `[0, spreadMs)` (default: one
///   day), so copies report at different phases and are at different points of their pattern at any instant.
/// - **values**: the source's resolution (decimals) is detected from the CSV text; every value is held as an
///   integer mantissa at that resolution. Copy 0 is the source itself; in copy `k ≥ 1` a fraction of the points
///   (default 10 %) get ±1…±`maxPerturbSteps` resolution steps added (never below the source's minimum), so copies
///   are not byte-identical but stay at the series' own resolution.
///
/// The points come out in time order across all series (as a gateway would receive them), merged on the fly from
/// the sources: only the sources (≈128k points for NAB's 35 series) and one cursor per series are in memory, never
/// the whole workload. Everything is a pure function of the sources, `copies` and `seed`.
public struct CityWorkload: Sendable {
    /// One CSV file.
    public struct Source: Sendable, Hashable {
        /// File name without `.csv`.
        public var name: String
        /// Folder the file was found in, relative to the workload directory ("" at its top).
        public var folder: String
        /// Times (Unix ms), sorted and unique, already moved to the city's start week.
        public var timesMs: [Int64]
        /// Values × 10^decimals, exact integers.
        public var mantissas: [Int64]
        /// Decimal places of the series' resolution (the most any value in the file needs, float-export noise removed).
        public var decimals: Int
        /// The smallest mantissa (perturbation never goes below it).
        public var minMantissa: Int64
        /// Median time between points.
        public var intervalMs: Int64

        /// Points in the file (after dropping duplicate times).
        public var count: Int { timesMs.count }
        /// One resolution step.
        public var resolution: Double { 1 / CityWorkload.powersOfTen[decimals] }
        /// Value of point `i`.
        public func value(_ i: Int) -> Double { Double(mantissas[i]) / CityWorkload.powersOfTen[decimals] }
    }

    /// One point of the workload.
    public struct Event: Sendable, Hashable {
        /// Series index (`copy × sources.count + source`).
        public var series: Int
        /// Index of the point within its source.
        public var index: Int
        /// Unix ms.
        public var timeMs: Int64
        /// Value × 10^decimals.
        public var mantissa: Int64
        /// Decimals of the value.
        public var decimals: Int
        /// The value.
        public var value: Double { Double(mantissa) / CityWorkload.powersOfTen[decimals] }
    }

    /// What a load or parse step found wrong.
    public enum WorkloadError: Error, CustomStringConvertible {
        /// No CSV under the directory.
        case noData(String)
        /// A line that is not `YYYY-MM-DD HH:MM:SS,value`.
        case badLine(file: String, line: Int, text: String)

        /// The message.
        public var description: String {
            switch self {
            case .noData(let d): "no NAB CSV files under \(d) (pass the data directory, e.g. --data ../shared/data/nab-dev/data)"
            case .badLine(let f, let l, let t): "\(f):\(l): not 'YYYY-MM-DD HH:MM:SS,value': \(t)"
            }
        }
    }

    /// 10^0 … 10^15, exact.
    static let powersOfTen: [Double] = (0...15).map { pow(10, Double($0)) }
    /// Monday 2015-08-03T00:00:00Z: the default start of the city's first week.
    public static let defaultCityStartMs: Int64 = 1_438_560_000_000

    /// The sources, sorted by folder and name.
    public let sources: [Source]
    /// Copies of every source.
    public let copies: Int
    /// Seed of the shifts and perturbations.
    public let seed: UInt64
    /// Fraction of a perturbed copy's points that are changed.
    public let perturbFraction: Double
    /// Largest perturbation, in resolution steps.
    public let maxPerturbSteps: Int
    /// Copies `k ≥ 1` are shifted by up to this much (whole seconds).
    public let spreadMs: Int64
    /// The metric name every series uses.
    public let metric = "value"
    /// Device name of every series.
    public let devices: [String]
    let offsets: [Int64]
    let perturbThreshold: UInt64

    /// Builds a workload over already loaded sources.
    public init(sources: [Source], copies: Int, seed: UInt64 = 1, perturbFraction: Double = 0.1, maxPerturbSteps: Int = 2,
                spreadMs: Int64 = 86_400_000) {
        precondition(copies >= 1 && !sources.isEmpty && maxPerturbSteps >= 1 && spreadMs >= 1000)
        self.sources = sources
        self.copies = copies
        self.seed = seed
        self.perturbFraction = perturbFraction
        self.maxPerturbSteps = maxPerturbSteps
        self.spreadMs = spreadMs
        perturbThreshold = UInt64(max(0, min(1, perturbFraction)) * 1_000_000)
        var devices: [String] = []
        var offsets: [Int64] = []
        devices.reserveCapacity(copies * sources.count)
        for k in 0..<copies {
            for (s, source) in sources.enumerated() {
                devices.append("city-\(k)-\(source.name)")
                let h = CityWorkload.mix(seed, 0x5348_4946_5400 &+ UInt64(k), UInt64(s))
                offsets.append(k == 0 ? 0 : Int64(h % UInt64(spreadMs / 1000)) * 1000)
            }
        }
        self.devices = devices
        self.offsets = offsets
    }

    /// Loads every CSV under `directory` and builds the workload.
    public init(directory: String, copies: Int, seed: UInt64 = 1, cityStartMs: Int64 = CityWorkload.defaultCityStartMs) throws {
        self.init(sources: try CityWorkload.loadSources(directory: directory, cityStartMs: cityStartMs), copies: copies, seed: seed)
    }

    /// Copies needed for about `points` points (at least 1).
    public static func copies(forPoints points: Int, sources: [Source]) -> Int {
        let perCopy = sources.reduce(0) { $0 + $1.count }
        return max(1, Int((Double(points) / Double(max(perCopy, 1))).rounded()))
    }

    /// Series in the workload.
    public var seriesCount: Int { copies * sources.count }
    /// Points in the workload.
    public var pointCount: Int { copies * sources.reduce(0) { $0 + $1.count } }
    /// The source a series copies.
    public func source(ofSeries series: Int) -> Int { series % sources.count }
    /// The copy number of a series.
    public func copy(ofSeries series: Int) -> Int { series / sources.count }
    /// How far a series is shifted from its source (0 for copy 0).
    public func offsetMs(series: Int) -> Int64 { offsets[series] }
    /// First and last time of a series.
    public func timeRange(series: Int) -> ClosedRange<Int64> {
        let src = sources[source(ofSeries: series)]
        return (src.timesMs.first! + offsets[series])...(src.timesMs.last! + offsets[series])
    }
    /// First and last time of the whole workload.
    public var timeRange: ClosedRange<Int64> {
        let lo = (0..<seriesCount).map { timeRange(series: $0).lowerBound }.min()!
        let hi = (0..<seriesCount).map { timeRange(series: $0).upperBound }.max()!
        return lo...hi
    }

    /// Point `index` of `series`, as the workload emits it.
    public func event(series: Int, index: Int) -> Event {
        let s = source(ofSeries: series)
        let src = sources[s]
        return Event(series: series, index: index, timeMs: src.timesMs[index] + offsets[series],
                     mantissa: mantissa(series: series, source: src, index: index), decimals: src.decimals)
    }

    @inline(__always)
    func mantissa(series: Int, source src: Source, index: Int) -> Int64 {
        let m = src.mantissas[index]
        guard series >= sources.count, perturbThreshold > 0 else { return m }
        let h = CityWorkload.mix(seed, UInt64(series), UInt64(index))
        guard h % 1_000_000 < perturbThreshold else { return m }
        let steps = Int64((h >> 32) % UInt64(maxPerturbSteps)) + 1
        let up = (h >> 63) == 1
        let changed = up ? m + steps : m - steps
        return changed < src.minMantissa ? m + steps : changed
    }

    /// SplitMix64 finaliser over three words: the workload's only source of randomness.
    @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        var z = a &+ 0x9E37_79B9_7F4A_7C15 &* (b &+ 1) &+ 0xD1B5_4A32_D192_ED03 &* (c &+ 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    // MARK: iteration

    /// Every point in time order (ties: series index), merged from one cursor per series.
    public func makeCursor() -> Cursor { Cursor(self) }

    /// Time-ordered `[Sample]` batches of `size` (the last one may be smaller).
    public func batches(size: Int) -> Batches { Batches(cursor: makeCursor(), size: size) }

    /// The whole workload's order, 8 bytes a point (`series << 32 | index`): for a benchmark that must not spend its
    /// timed loop on the merge (`sample(packed:)` rebuilds a point in a few nanoseconds).
    public func schedule() -> [UInt64] {
        var out: [UInt64] = []
        out.reserveCapacity(pointCount)
        var c = makeCursor()
        while let e = c.next() { out.append(UInt64(e.series) << 32 | UInt64(e.index)) }
        return out
    }

    /// The point a `schedule()` entry stands for.
    @inline(__always)
    public func event(packed: UInt64) -> Event { event(series: Int(packed >> 32), index: Int(packed & 0xFFFF_FFFF)) }

    /// The sample a `schedule()` entry stands for.
    @inline(__always)
    public func sample(packed: UInt64) -> Sample { sample(event(packed: packed)) }

    /// The sample of an event: device, metric `value`, device time = receive time = the event's time.
    @inline(__always)
    public func sample(_ e: Event) -> Sample {
        Sample(device: devices[e.series], metric: metric, deviceTimeMs: e.timeMs, receiveTimeMs: e.timeMs, value: e.value)
    }

    /// A k-way merge (binary heap keyed by each series' next time).
    public struct Cursor: IteratorProtocol, Sendable {
        let workload: CityWorkload
        var position: [Int32]
        var nextTime: [Int64]
        var heap: [Int32]
        /// Points emitted so far.
        public private(set) var emitted = 0

        init(_ w: CityWorkload) {
            workload = w
            position = Array(repeating: 0, count: w.seriesCount)
            nextTime = (0..<w.seriesCount).map { w.sources[w.source(ofSeries: $0)].timesMs[0] + w.offsets[$0] }
            heap = []
            heap.reserveCapacity(w.seriesCount)
            for s in 0..<w.seriesCount where !w.sources[w.source(ofSeries: s)].timesMs.isEmpty { push(Int32(s)) }
        }

        @inline(__always)
        func less(_ a: Int32, _ b: Int32) -> Bool {
            let ta = nextTime[Int(a)], tb = nextTime[Int(b)]
            return ta != tb ? ta < tb : a < b
        }

        mutating func push(_ s: Int32) {
            heap.append(s)
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard less(heap[i], heap[parent]) else { break }
                heap.swapAt(i, parent)
                i = parent
            }
        }

        mutating func siftDown(_ start: Int) {
            var i = start
            let n = heap.count
            while true {
                let l = 2 * i + 1
                guard l < n else { return }
                var m = l
                if l + 1 < n && less(heap[l + 1], heap[l]) { m = l + 1 }
                guard less(heap[m], heap[i]) else { return }
                heap.swapAt(i, m)
                i = m
            }
        }

        /// The next point in time order, nil at the end.
        public mutating func next() -> Event? {
            guard let top = heap.first else { return nil }
            let series = Int(top)
            let index = Int(position[series])
            let s = workload.source(ofSeries: series)
            let src = workload.sources[s]
            let event = Event(series: series, index: index, timeMs: nextTime[series],
                              mantissa: workload.mantissa(series: series, source: src, index: index), decimals: src.decimals)
            if index + 1 < src.timesMs.count {
                position[series] = Int32(index + 1)
                nextTime[series] = src.timesMs[index + 1] + workload.offsets[series]
                siftDown(0)
            } else {
                let last = heap.removeLast()
                if !heap.isEmpty {
                    heap[0] = last
                    siftDown(0)
                }
            }
            emitted += 1
            return event
        }
    }

    /// Samples, `size` at a time, in time order.
    public struct Batches: IteratorProtocol, Sequence, Sendable {
        var cursor: Cursor
        let size: Int

        /// The next batch, nil at the end.
        public mutating func next() -> [Sample]? {
            var batch: [Sample] = []
            batch.reserveCapacity(size)
            let w = cursor.workload
            while batch.count < size, let e = cursor.next() { batch.append(w.sample(e)) }
            return batch.isEmpty ? nil : batch
        }
    }

    // MARK: InfluxDB line protocol (for the VictoriaMetrics reference)

    /// Appends `measurement,device=<device> value=<decimal> <ms>\n` for the event: the value printed from the
    /// mantissa, so the reference parses exactly the decimal the store gets as a `Double`.
    public func appendLineProtocol(_ e: Event, measurement: String, to out: inout [UInt8]) {
        out.append(contentsOf: measurement.utf8)
        out.append(contentsOf: ",device=".utf8)
        out.append(contentsOf: devices[e.series].utf8)
        out.append(contentsOf: " value=".utf8)
        CityWorkload.appendDecimal(e.mantissa, decimals: e.decimals, to: &out)
        out.append(UInt8(ascii: " "))
        CityWorkload.appendInteger(e.timeMs, to: &out)
        out.append(UInt8(ascii: "\n"))
    }

    static func appendInteger(_ v: Int64, to out: inout [UInt8]) {
        if v < 0 { out.append(UInt8(ascii: "-")) }
        var m = v.magnitude
        var digits: [UInt8] = []
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(m % 10))
            m /= 10
        } while m > 0
        out.append(contentsOf: digits.reversed())
    }

    /// `mantissa / 10^decimals` as decimal text, trailing fraction zeros dropped (`1230, 2` → `12.3`).
    public static func appendDecimal(_ mantissa: Int64, decimals: Int, to out: inout [UInt8]) {
        if mantissa < 0 { out.append(UInt8(ascii: "-")) }
        var digits: [UInt8] = []
        var m = mantissa.magnitude
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(m % 10))
            m /= 10
        } while m > 0
        while digits.count <= decimals { digits.append(UInt8(ascii: "0")) }
        // digits are little-endian: [0, decimals) is the fraction.
        var fractionStart = 0
        while fractionStart < decimals && digits[fractionStart] == UInt8(ascii: "0") { fractionStart += 1 }
        for i in stride(from: digits.count - 1, through: decimals, by: -1) { out.append(digits[i]) }
        if fractionStart < decimals {
            out.append(UInt8(ascii: "."))
            for i in stride(from: decimals - 1, through: fractionStart, by: -1) { out.append(digits[i]) }
        }
    }

    // MARK: loading

    /// Reads every `*.csv` under `directory` (recursively), sorted by relative path.
    public static func loadSources(directory: String, cityStartMs: Int64 = CityWorkload.defaultCityStartMs) throws -> [Source] {
        let fm = FileManager.default
        guard let walker = fm.enumerator(atPath: directory) else { throw WorkloadError.noData(directory) }
        var files: [String] = []
        while let f = walker.nextObject() as? String {
            if f.hasSuffix(".csv") { files.append(f) }
        }
        files.sort()
        guard !files.isEmpty else { throw WorkloadError.noData(directory) }
        return try files.map { rel in
            guard let data = fm.contents(atPath: directory + "/" + rel) else { throw WorkloadError.noData(directory + "/" + rel) }
            let url = URL(fileURLWithPath: rel)
            let folder = url.deletingLastPathComponent().relativePath
            return try parse(csv: [UInt8](data), name: url.deletingPathExtension().lastPathComponent,
                             folder: folder == "." ? "" : folder, cityStartMs: cityStartMs)
        }
    }

    /// Parses one NAB CSV: header line, then `YYYY-MM-DD HH:MM:SS,value`. Duplicate times keep the last value.
    public static func parse(csv bytes: [UInt8], name: String, folder: String = "", cityStartMs: Int64 = CityWorkload.defaultCityStartMs) throws -> Source {
        var rows: [(Int64, Double)] = []
        var decimals = 0
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            var line = bytes[start..<end]
            start = end + 1
            lineNumber += 1
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.isEmpty { continue }
            guard let comma = line.firstIndex(of: UInt8(ascii: ",")) else {
                throw WorkloadError.badLine(file: name, line: lineNumber, text: String(decoding: line, as: UTF8.self))
            }
            let stamp = line[line.startIndex..<comma]
            let valueText = line[(comma + 1)...]
            guard let t = parseTimestamp(stamp) else {
                if lineNumber == 1 { continue }  // header
                throw WorkloadError.badLine(file: name, line: lineNumber, text: String(decoding: line, as: UTF8.self))
            }
            guard let v = Double(String(decoding: valueText, as: UTF8.self)), v.isFinite else {
                throw WorkloadError.badLine(file: name, line: lineNumber, text: String(decoding: line, as: UTF8.self))
            }
            decimals = max(decimals, decimalPlaces(text: valueText, value: v))
            rows.append((t, v))
        }
        guard !rows.isEmpty else { throw WorkloadError.noData(name) }
        // Sorted, one value per time (the last in the file wins, as in the store).
        let sorted = rows.enumerated().sorted { $0.element.0 != $1.element.0 ? $0.element.0 < $1.element.0 : $0.offset < $1.offset }.map(\.element)
        var times: [Int64] = []
        var values: [Double] = []
        for (t, v) in sorted {
            if times.last == t { values[values.count - 1] = v } else {
                times.append(t)
                values.append(v)
            }
        }
        // Keep mantissas exact doubles: |m| < 2^53.
        let largest = values.map(\.magnitude).max() ?? 0
        while decimals > 0 && largest * powersOfTen[decimals] >= 9.007_199_254_740_992e15 { decimals -= 1 }
        let scale = powersOfTen[decimals]
        let mantissas = values.map { Int64(($0 * scale).rounded()) }
        // Whole weeks, so the first point falls in [cityStart, cityStart + 7 d).
        let week: Int64 = 7 * 86_400_000
        let weeks = (cityStartMs - times[0]) >= 0 ? (cityStartMs - times[0] + week - 1) / week : -((times[0] - cityStartMs) / week)
        let shift = weeks * week
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }.sorted()
        return Source(name: name, folder: folder, timesMs: times.map { $0 + shift }, mantissas: mantissas, decimals: decimals,
                      minMantissa: mantissas.min()!, intervalMs: gaps.isEmpty ? 0 : gaps[gaps.count / 2])
    }

    /// Decimal places a value's text carries. Text with more than 15 significant digits is a binary double printed
    /// in full (`51.846000000000004`, `0.33399999999999996`): there the places are the fewest that give back the
    /// value to within 1e-14 relative.
    public static func decimalPlaces<S: Collection>(text: S, value: Double) -> Int where S.Element == UInt8 {
        var significant = 0
        var fraction = 0
        var seenDot = false
        var seenNonZero = false
        var trailingZeros = 0
        for c in text {
            if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { return numericPlaces(value) }
            if c == UInt8(ascii: ".") {
                seenDot = true
                continue
            }
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { continue }
            if c != UInt8(ascii: "0") { seenNonZero = true }
            if seenNonZero { significant += 1 }
            if seenDot {
                fraction += 1
                trailingZeros = c == UInt8(ascii: "0") ? trailingZeros + 1 : 0
            }
        }
        if significant > 15 { return numericPlaces(value) }
        return fraction - trailingZeros
    }

    static func numericPlaces(_ v: Double) -> Int {
        for d in 0...15 {
            let scale = powersOfTen[d]
            let back = (v * scale).rounded() / scale
            if abs(back - v) <= 1e-14 * max(abs(v), 1e-300) { return d }
        }
        return 15
    }

    /// `YYYY-MM-DD HH:MM:SS` (UTC) → Unix ms, with the profile language's ISO-8601 parser.
    static func parseTimestamp(_ s: ArraySlice<UInt8>) -> Int64? {
        TimeFormat.parseISO8601(String(decoding: s, as: UTF8.self), defaultOffset: 0)
    }
}
