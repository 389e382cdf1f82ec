import Foundation
import GatewayCore
import Logging
import TimeSeriesStore

/// `citygate bench store`: the time-series store on a replicated NAB city workload (`CityWorkload`), against
/// VictoriaMetrics on the same data in the same run.
///
/// - **ingest**: the workload, in time order, `batchSize` samples per `append`, into a fresh store; the clock runs
///   from the first append to the end of the final `checkpoint()` (background checkpoints included).
/// - **bytes per point**: segment bytes / points, and the whole store directory (catalog, WAL) / points.
/// - **query latency**: `downsample` of 24 h at 1-minute steps over random series and windows inside their data;
///   then `raw` over the same windows.
/// - **memory**: in a child process (a clean heap), a fresh store given N series with one point each; VmRSS growth
///   / N.
public struct StoreBenchmark: Sendable {
    /// Ingest figures.
    public struct IngestResult: Sendable {
        /// Points appended.
        public var points: Int
        /// Series in the workload.
        public var series: Int
        /// Seconds in `append` and the final checkpoint, building the `[Sample]` batches excluded.
        public var storeSeconds: Double
        /// Seconds of the whole loop, building the batches included.
        public var wallSeconds: Double
        /// Seconds of the final checkpoint alone (mostly waiting for the background checkpoints still queued).
        public var finalCheckpointSeconds: Double
        /// Seconds in `append` alone (building excluded, final checkpoint excluded).
        public var appendSeconds: Double
        /// Store totals after the final checkpoint.
        public var stats: TimeSeriesStore.Stats
        /// Files under `segments/`.
        public var segmentFileBytes: Int64
        /// `store.db` and its SQLite side files.
        public var catalogBytes: Int64
        /// Files under `wal/`.
        public var walBytes: Int64
        /// Every file in the store directory.
        public var totalBytes: Int64
        /// Peak resident memory of the process during the ingest (VmHWM), bytes.
        public var peakResidentBytes: Int

        /// Points per second through the store.
        public var pointsPerSecond: Double { Double(points) / storeSeconds }
        /// Points per second counting only the time inside `append`.
        public var appendPointsPerSecond: Double { Double(points) / appendSeconds }
        /// Segment bytes per point.
        public var segmentBytesPerPoint: Double { Double(stats.segmentBytes) / Double(points) }
        /// Whole directory per point.
        public var totalBytesPerPoint: Double { Double(totalBytes) / Double(points) }
    }

    /// Query figures (milliseconds).
    public struct QueryResult: Sendable {
        /// Queries of each kind.
        public var queries: Int
        /// `downsample` 24 h / 1 min: median, 99th percentile, mean.
        public var downsampleP50: Double
        public var downsampleP99: Double
        public var downsampleMean: Double
        /// `downsample` median when the same query runs again at once (page cache and, if they fit, segment readers warm).
        public var downsampleRepeatP50: Double
        /// `raw` 24 h: median, 99th percentile.
        public var rawP50: Double
        public var rawP99: Double
        /// Mean buckets per downsample answer and points per raw answer (sanity: 24 h of 5-minute data ≈ 288).
        public var meanBuckets: Double
        public var meanRawPoints: Double
        /// Segment files in the store when the queries ran.
        public var segmentsInStore: Int
    }

    /// Memory figures for one series count.
    public struct MemoryResult: Sendable {
        /// Active series created.
        public var series: Int
        /// VmRSS before and after, bytes.
        public var residentBefore: Int
        public var residentAfter: Int
        /// Seconds to create them (append + commit).
        public var seconds: Double

        /// RSS growth per series.
        public var bytesPerSeries: Double { Double(residentAfter - residentBefore) / Double(series) }
    }

    /// A store configuration for a benchmark directory: no age limit and no byte budget (the city data is years
    /// old and must all stay), everything else as shipped.
    public static func configuration(directory: String, partitionMs: Int64? = nil) -> StoreConfiguration {
        var c = StoreConfiguration(directory: directory)
        if let partitionMs { c.partitionMs = partitionMs }
        c.maxAgeMs = nil
        c.maxBytes = Int64.max / 4
        return c
    }

    // MARK: ingest

    /// Ingests the scheduled workload into a fresh store in `directory`; returns the figures and the open store.
    public static func ingest(_ w: CityWorkload, schedule: [UInt64], batchSize: Int, directory: String, partitionMs: Int64? = nil, logger: Logger,
                              progress: (String) -> Void) throws -> (IngestResult, TimeSeriesStore) {
        let store = try TimeSeriesStore(configuration: configuration(directory: directory, partitionMs: partitionMs), logger: logger)
        var batch: [Sample] = []
        batch.reserveCapacity(batchSize)
        var buildNs: UInt64 = 0
        var appendNs: UInt64 = 0
        var i = 0
        var nextReport = schedule.count / 4
        let start = MonotonicClock.nowNs()
        while i < schedule.count {
            let b0 = MonotonicClock.nowNs()
            batch.removeAll(keepingCapacity: true)
            let end = min(i + batchSize, schedule.count)
            for k in i..<end { batch.append(w.sample(packed: schedule[k])) }
            let a0 = MonotonicClock.nowNs()
            buildNs += a0 - b0
            try store.append(batch)
            appendNs += MonotonicClock.nowNs() - a0
            i = end
            if i >= nextReport && i < schedule.count {
                let s = Double(MonotonicClock.nowNs() - start - buildNs) / 1e9
                progress("  store: \(StoreBenchSupport.grouped(i)) points, \(String(format: "%.0f", Double(i) / s)) points/s so far")
                nextReport += schedule.count / 4
            }
        }
        let c0 = MonotonicClock.nowNs()
        try store.checkpoint()
        let end = MonotonicClock.nowNs()
        let stats = store.stats
        let result = IngestResult(
            points: schedule.count, series: w.seriesCount, storeSeconds: Double(end - start - buildNs) / 1e9, wallSeconds: Double(end - start) / 1e9,
            finalCheckpointSeconds: Double(end - c0) / 1e9, appendSeconds: Double(appendNs) / 1e9, stats: stats, segmentFileBytes: 0, catalogBytes: 0, walBytes: 0, totalBytes: 0,
            peakResidentBytes: peakResidentBytes())
        return (result, store)
    }

    /// Measures the directory of a closed (or checkpointed) store into the result.
    public static func measureFiles(_ r: inout IngestResult, directory: String) {
        r.segmentFileBytes = StoreBenchSupport.directoryBytes(directory + "/segments")
        r.walBytes = StoreBenchSupport.directoryBytes(directory + "/wal")
        r.totalBytes = StoreBenchSupport.directoryBytes(directory)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        r.catalogBytes = files.filter { $0.hasPrefix("store.db") }.reduce(0) { $0 + StoreBenchSupport.directoryBytes(directory + "/" + $1) }
    }

    /// VmHWM of this process, bytes.
    static func peakResidentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) } ?? 0) * 1024
        }
        return 0
    }

    // MARK: queries

    /// `count` downsample queries (24 h, 1-minute steps) over random series and windows inside their data, then
    /// `raw` over the same windows.
    public static func queries(_ store: TimeSeriesStore, workload w: CityWorkload, count: Int, seed: UInt64) throws -> QueryResult {
        let day: Int64 = 86_400_000
        var rng = SimRNG(seed ^ 0x5155_4552_5900)
        var plan: [(SeriesID, Int64)] = []
        for _ in 0..<count {
            let s = Int(rng.next() % UInt64(w.seriesCount))
            guard let id = store.seriesID(device: w.devices[s], metric: w.metric) else {
                throw StoreBenchError.check("series \(w.devices[s]) is not in the store")
            }
            let r = w.timeRange(series: s)
            let room = r.upperBound - r.lowerBound - day
            plan.append((id, room > 0 ? r.lowerBound + Int64(rng.next() % UInt64(room)) : r.lowerBound))
        }
        var downsample: [Double] = []
        var buckets = 0
        for (id, from) in plan {
            let t0 = MonotonicClock.nowNs()
            let answer = try store.downsample(id, fromMs: from, toMs: from + day, stepMs: 60_000)
            downsample.append(Double(MonotonicClock.nowNs() - t0) / 1e6)
            buckets += answer.count
        }
        var repeated: [Double] = []
        for (id, from) in plan.prefix(200) {
            _ = try store.downsample(id, fromMs: from, toMs: from + day, stepMs: 60_000)
            let t0 = MonotonicClock.nowNs()
            _ = try store.downsample(id, fromMs: from, toMs: from + day, stepMs: 60_000)
            repeated.append(Double(MonotonicClock.nowNs() - t0) / 1e6)
        }
        var raw: [Double] = []
        var points = 0
        for (id, from) in plan {
            let t0 = MonotonicClock.nowNs()
            let answer = try store.raw(id, fromMs: from, toMs: from + day - 1)
            raw.append(Double(MonotonicClock.nowNs() - t0) / 1e6)
            points += answer.count
        }
        return QueryResult(queries: count, downsampleP50: StoreBenchSupport.quantile(downsample, 0.5), downsampleP99: StoreBenchSupport.quantile(downsample, 0.99),
                           downsampleMean: downsample.reduce(0, +) / Double(max(count, 1)),
                           downsampleRepeatP50: StoreBenchSupport.quantile(repeated, 0.5), rawP50: StoreBenchSupport.quantile(raw, 0.5),
                           rawP99: StoreBenchSupport.quantile(raw, 0.99), meanBuckets: Double(buckets) / Double(max(count, 1)),
                           meanRawPoints: Double(points) / Double(max(count, 1)), segmentsInStore: store.stats.segments)
    }

    // MARK: memory

    /// In this process: a fresh store in `directory`, `series` series with one point each (device `m<i>`, metric
    /// `v`), VmRSS before and after (heap trimmed, after a settle). Run it in a fresh process for a clean heap.
    public static func memoryProbe(series: Int, directory: String, logger: Logger) throws -> MemoryResult {
        let store = try TimeSeriesStore(configuration: configuration(directory: directory), logger: logger)
        let t: Int64 = 1_767_225_600_000  // 2026-01-01
        func add(_ range: Range<Int>, prefix: String) throws {
            var batch: [Sample] = []
            batch.reserveCapacity(10_000)
            for start in stride(from: range.lowerBound, to: range.upperBound, by: 10_000) {
                batch.removeAll(keepingCapacity: true)
                for i in start..<min(start + 10_000, range.upperBound) {
                    batch.append(Sample(device: "\(prefix)\(i)", metric: "v", deviceTimeMs: t, receiveTimeMs: t, value: Double(i % 1000) / 10))
                }
                try store.append(batch)
            }
            try store.commit()
        }
        // Warm-up: the first series pay for lazily created structures (WAL buffers, statement caches).
        try add(0..<1_000, prefix: "w")
        settle()
        let before = StoreBenchSupport.residentBytes()
        let t0 = MonotonicClock.nowNs()
        try add(0..<series, prefix: "m")
        let seconds = Double(MonotonicClock.nowNs() - t0) / 1e9
        settle()
        let after = StoreBenchSupport.residentBytes()
        guard store.stats.series == series + 1_000 else { throw StoreBenchError.check("memory probe: \(store.stats.series) series, expected \(series + 1_000)") }
        try store.close()
        return MemoryResult(series: series, residentBefore: before, residentAfter: after, seconds: seconds)
    }

    static func settle() {
        usleep(1_000_000)  // group commits (100 ms) and WAL writes done
        StoreBenchSupport.trimHeap()
        usleep(200_000)
    }

    /// Line the probe prints, and the parent parses.
    public static func memoryProbeLine(_ r: MemoryResult) -> String {
        "memory-probe series=\(r.series) before=\(r.residentBefore) after=\(r.residentAfter) seconds=\(r.seconds)"
    }

    /// Runs the probe in a child process (`command` is the executable and the arguments that make it run
    /// `memoryProbe` and print `memoryProbeLine`).
    public static func memoryInChild(series: Int, command: [String]) throws -> MemoryResult {
        let r = try StoreBenchSupport.run(command[0], Array(command.dropFirst()))
        guard r.status == 0, let line = r.output.split(separator: "\n").first(where: { $0.hasPrefix("memory-probe ") }) else {
            throw StoreBenchError.check("memory probe for \(series) series failed (exit \(r.status)):\n\(r.output)\(r.error)")
        }
        var fields: [String: String] = [:]
        for part in line.split(separator: " ").dropFirst() {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        guard let n = fields["series"].flatMap({ Int($0) }), let b = fields["before"].flatMap({ Int($0) }),
              let a = fields["after"].flatMap({ Int($0) }), let s = fields["seconds"].flatMap({ Double($0) }) else {
            throw StoreBenchError.check("memory probe printed an unexpected line: \(line)")
        }
        return MemoryResult(series: n, residentBefore: b, residentAfter: a, seconds: s)
    }
}
