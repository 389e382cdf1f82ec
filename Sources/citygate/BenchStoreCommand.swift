import ArgumentParser
import Foundation
import Gateway
import GatewayCore
import Logging
import TimeSeriesStore

/// `citygate bench store`: the time-series store on NAB data replicated into a city, with VictoriaMetrics on the
/// same data in the same run as the reference for bytes per point.
struct BenchStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Time-series store: bytes/point (vs VictoriaMetrics on the same data), ingest points/s, query latency, memory per series.",
        discussion: """
            The workload is every NAB CSV under --data replicated into a city (CityWorkload): copy k of series s is device \
            city-<k>-<s>, shifted in time and perturbed at the series' own resolution. Default: about 16 million points \
            (125 copies of the 35 nab-dev series, 4,375 series). VictoriaMetrics (/usr/bin/victoria-metrics) gets the same \
            points over loopback as InfluxDB line protocol; without it that half is skipped with a message.
            """)

    @Option(help: "Directory of NAB CSVs (searched recursively), relative to the current directory.")
    var data = "../shared/data/nab-dev/data"
    @Option(help: "Copies of every series (default: enough for --points).")
    var copies: Int?
    @Option(help: "Target points when --copies is not given (default 16,000,000; --quick: 1,000,000).")
    var points: Int?
    @Option(help: "Samples per append.")
    var batchSize = 10_000
    @Option(help: "Queries of each kind (default 1,000; --quick: 200).")
    var queries: Int?
    @Option(help: "Active-series counts for the memory figure, comma-separated (default 100000,1000000; --quick: 100000).")
    var memorySeries: String?
    @Flag(inversion: .prefixedNo, help: "Also ingest the workload into VictoriaMetrics (loopback) for the bytes/point reference.")
    var vm = true
    @Option(help: "The victoria-metrics binary (default: found on PATH or in /usr/bin).")
    var vmBinary: String?
    @Option(help: "Store partition length in hours (default: the store's own, 24 h); for exploring the trade-off, not for the reported figures.")
    var partitionHours: Double?
    @Option(help: "Seed of the workload's shifts and perturbations and of the query choice.")
    var seed: UInt64 = 1
    @Flag(help: "A small run (about 1M points, 200 queries, memory at 100k series only) in well under a minute.")
    var quick = false
    @Option(help: "Where the temporary store and VictoriaMetrics directories go (default $TMPDIR or /tmp).")
    var workDir: String?
    @Flag(help: "Keep the temporary directories (printed) instead of removing them.")
    var keep = false
    @Option(help: .hidden) var memoryProbe: Int?

    func run() async throws {
        var logger = Logger(label: "citygate.bench.store")
        logger.logLevel = .error

        if let n = memoryProbe {
            let dir = try StoreBenchSupport.temporaryDirectory("citygate-memprobe", in: workDir)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            out(StoreBenchmark.memoryProbeLine(try StoreBenchmark.memoryProbe(series: n, directory: dir, logger: logger)) + "\n")
            return
        }

        let memoryCounts = try (memorySeries ?? (quick ? "100000" : "100000,1000000")).split(separator: ",").map { s -> Int in
            guard let n = Int(s.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "")), n > 0 else {
                throw ValidationError("--memory-series takes positive counts separated by commas, e.g. 100000,1000000")
            }
            return n
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        let queryCount = queries ?? (quick ? 200 : 1_000)
        let commandLine = (["citygate"] + CommandLine.arguments.dropFirst()).joined(separator: " ")

        // Workload.
        let t0 = MonotonicClock.nowNs()
        let sources: [CityWorkload.Source]
        do {
            sources = try CityWorkload.loadSources(directory: data)
        } catch {
            throw ValidationError("\(error)\n(cwd: \(FileManager.default.currentDirectoryPath); run from the repository root or pass --data)")
        }
        let copyCount = copies ?? CityWorkload.copies(forPoints: points ?? (quick ? 1_000_000 : 16_000_000), sources: sources)
        let workload = CityWorkload(sources: sources, copies: copyCount, seed: seed)
        let schedule = workload.schedule()
        let range = workload.timeRange
        progress("workload: \(sources.count) source series × \(copyCount) copies = \(StoreBenchSupport.grouped(workload.seriesCount)) series, "
                 + "\(StoreBenchSupport.grouped(schedule.count)) points, \(ProfileTool.iso8601(range.lowerBound)) … \(ProfileTool.iso8601(range.upperBound)) "
                 + String(format: "(merged in %.1f s)", Double(MonotonicClock.nowNs() - t0) / 1e9))

        let base = try StoreBenchSupport.temporaryDirectory("citygate-bench-store", in: workDir)
        defer { if keep { progress("kept \(base)") } else { try? FileManager.default.removeItem(atPath: base) } }

        // Store: ingest, queries, files.
        let storeDir = base + "/store"
        progress("store: ingesting into \(storeDir) (batches of \(batchSize))")
        let partitionMs = try partitionHours.map { h -> Int64 in
            guard h > 0 else { throw ValidationError("--partition-hours must be positive") }
            return Int64(h * 3_600_000)
        }
        var (ingest, query) = try storeRun(workload, schedule: schedule, directory: storeDir, partitionMs: partitionMs, queries: queryCount, logger: logger)
        // Measured once the store object is gone, so SQLite has folded its -wal file back into store.db.
        StoreBenchmark.measureFiles(&ingest, directory: storeDir)
        if !keep { try? FileManager.default.removeItem(atPath: storeDir) }

        // Memory, each count in a fresh process.
        var memory: [StoreBenchmark.MemoryResult] = []
        for n in memoryCounts {
            progress("store: memory with \(StoreBenchSupport.grouped(n)) active series (child process)")
            let command = [StoreBenchSupport.executablePath(), "bench", "store", "--memory-probe", "\(n)", "--work-dir", base]
            let m: StoreBenchmark.MemoryResult
            do {
                m = try StoreBenchmark.memoryInChild(series: n, command: command)
            } catch {
                progress("  memory probe failed: \(error)")
                continue
            }
            progress(String(format: "  %.0f bytes/series (RSS %.1f → %.1f MiB, %.1f s)", m.bytesPerSeries,
                            Double(m.residentBefore) / 1_048_576, Double(m.residentAfter) / 1_048_576, m.seconds))
            memory.append(m)
        }

        // VictoriaMetrics.
        var reference: VictoriaMetricsReference.Result?
        var referenceNote: String?
        if vm {
            if VictoriaMetricsReference.binary(vmBinary) == nil {
                referenceNote = VictoriaMetricsReference.missingMessage
                progress(VictoriaMetricsReference.missingMessage)
            } else {
                let vmDir = base + "/vm"
                try FileManager.default.createDirectory(atPath: vmDir, withIntermediateDirectories: true)
                progress("victoria-metrics: ingesting the same points")
                do {
                    reference = try VictoriaMetricsReference(binaryPath: vmBinary).run(workload: workload, schedule: schedule, directory: vmDir, progress: progress)
                } catch {
                    referenceNote = "VictoriaMetrics reference failed: \(error)"
                    progress(referenceNote!)
                }
                if let r = reference {
                    progress(String(format: "victoria-metrics: %.3f bytes/point in data/, %.3f with indexdb/", Double(r.dataBytes) / Double(r.postedPoints),
                                    Double(r.dataBytes + r.indexBytes) / Double(r.postedPoints)))
                }
            }
        } else {
            referenceNote = "VictoriaMetrics skipped (--no-vm)."
        }

        out(BenchStoreCommand.report(workload: workload, points: schedule.count, batchSize: batchSize, partitionMs: partitionMs, ingest: ingest, query: query,
                                     memory: memory, reference: reference, referenceNote: referenceNote, commandLine: commandLine))
    }

    /// Ingest and queries on a store that is closed and released before this returns.
    func storeRun(_ workload: CityWorkload, schedule: [UInt64], directory: String, partitionMs: Int64?, queries: Int,
                  logger: Logger) throws -> (StoreBenchmark.IngestResult, StoreBenchmark.QueryResult) {
        let (ingest, store) = try StoreBenchmark.ingest(workload, schedule: schedule, batchSize: batchSize, directory: directory, partitionMs: partitionMs,
                                                        logger: logger, progress: progress)
        if ingest.stats.segmentPoints != Int64(schedule.count) || ingest.stats.headPoints != 0 {
            progress("WARNING: after the final checkpoint the store holds \(ingest.stats.segmentPoints) points in segments and "
                     + "\(ingest.stats.headPoints) in heads; \(schedule.count) were appended")
        }
        progress(String(format: "store: %.0f points/s (%.1f s; %.1f s with building the batches), %d segments, %.3f bytes/point in segments",
                        ingest.pointsPerSecond, ingest.storeSeconds, ingest.wallSeconds, ingest.stats.segments, ingest.segmentBytesPerPoint))
        progress("store: \(queries) downsample + \(queries) raw queries")
        let query = try StoreBenchmark.queries(store, workload: workload, count: queries, seed: seed)
        try store.close()
        return (ingest, query)
    }

    func progress(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    // MARK: report

    static func report(workload w: CityWorkload, points: Int, batchSize: Int, partitionMs: Int64?, ingest: StoreBenchmark.IngestResult, query: StoreBenchmark.QueryResult,
                       memory: [StoreBenchmark.MemoryResult], reference: VictoriaMetricsReference.Result?, referenceNote: String?,
                       commandLine: String) -> String {
        func f(_ v: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", v) }
        func n(_ v: Double) -> String { StoreBenchSupport.grouped(Int64(v.rounded())) }
        let p = Double(points)
        var text = ""
        text += "\ncitygate bench store — \(ProfileTool.iso8601(WallClock.nowMs()))\n"
        text += "machine: \(StoreBenchSupport.machine())\n"
        text += "workload: NAB \(w.sources.count) series × \(w.copies) copies = \(StoreBenchSupport.grouped(w.seriesCount)) series, "
            + "\(StoreBenchSupport.grouped(points)) points, seed \(w.seed), batches of \(StoreBenchSupport.grouped(batchSize))"
            + (partitionMs.map { String(format: ", store partitions of %.4g h (not the default)", Double($0) / 3_600_000) } ?? "") + "\n"
        text += "command: \(commandLine)" + (sourceRevision().map { " (source \($0))" } ?? "") + "\n\n"

        var rows: [[String]] = [["FIGURE", "STORE", "VICTORIAMETRICS", "STORE/VM", "GOAL", "MET"]]
        let storeSamples = Double(ingest.stats.segmentBytes) / p
        let storeIndexed = Double(ingest.totalBytes) / p
        if let r = reference {
            let vmSamples = Double(r.dataBytes) / p
            let vmIndexed = Double(r.dataBytes + r.indexBytes) / p
            let vmAll = Double(r.totalBytes) / p
            rows.append(["bytes/point, samples (segments | data/)", f(storeSamples), f(vmSamples), f(storeSamples / vmSamples, 2), "≤ 0.80",
                         storeSamples <= 0.8 * vmSamples ? "yes" : "no"])
            rows.append(["bytes/point, samples + index (store dir | data/+indexdb/)", f(storeIndexed), f(vmIndexed), f(storeIndexed / vmIndexed, 2), "≤ 0.80",
                         storeIndexed <= 0.8 * vmIndexed ? "yes" : "no"])
            rows.append(["bytes/point, every file (incl. VM cache/)", f(storeIndexed), f(vmAll), f(storeIndexed / vmAll, 2), "", ""])
            rows.append(["ingest points/s (store: in process; VM: HTTP line protocol)", n(ingest.pointsPerSecond), n(p / r.postSeconds),
                         f(ingest.pointsPerSecond / (p / r.postSeconds), 2), "≥ 1,000,000", ingest.pointsPerSecond >= 1_000_000 ? "yes" : "no"])
        } else {
            rows.append(["bytes/point, samples (segments)", f(storeSamples), "—", "—", "≤ 0.8 × VM", "?"])
            rows.append(["bytes/point, store dir (segments+catalog+WAL)", f(storeIndexed), "—", "—", "", ""])
            rows.append(["ingest points/s (in process)", n(ingest.pointsPerSecond), "—", "—", "≥ 1,000,000", ingest.pointsPerSecond >= 1_000_000 ? "yes" : "no"])
        }
        rows.append(["query downsample 24 h @ 1 min, p50 (ms)", f(query.downsampleP50), "", "", "< 0.5", query.downsampleP50 < 0.5 ? "yes" : "no"])
        rows.append(["query downsample 24 h @ 1 min, p99 (ms)", f(query.downsampleP99), "", "", "", ""])
        rows.append(["query raw 24 h, p50 / p99 (ms)", "\(f(query.rawP50)) / \(f(query.rawP99))", "", "", "", ""])
        for m in memory {
            rows.append(["resident bytes per active series @ \(StoreBenchSupport.grouped(m.series))", n(m.bytesPerSeries), "", "", "≤ 300",
                         m.bytesPerSeries <= 300 ? "yes" : "no"])
        }
        text += ProfileTool.render(rows)

        text += "\nstore details:\n"
        text += "  ingest: \(f(ingest.storeSeconds, 2)) s = \(f(ingest.appendSeconds, 2)) s inside append (\(n(ingest.appendPointsPerSecond)) points/s) "
            + "+ \(f(ingest.finalCheckpointSeconds, 2)) s final checkpoint (draining queued background checkpoints); "
            + "\(f(ingest.wallSeconds, 2)) s with building the batches; peak RSS \(f(Double(ingest.peakResidentBytes) / 1_048_576, 0)) MiB\n"
        text += "  files: segments \(StoreBenchSupport.grouped(ingest.stats.segmentBytes)) B in \(ingest.stats.segments) segments "
            + "(\(StoreBenchSupport.grouped(ingest.stats.segmentPoints)) points), catalog \(StoreBenchSupport.grouped(ingest.catalogBytes)) B, "
            + "WAL \(StoreBenchSupport.grouped(ingest.walBytes)) B, whole directory \(StoreBenchSupport.grouped(ingest.totalBytes)) B\n"
        text += "  queries: \(query.queries) each over \(query.segmentsInStore) segments; downsample mean \(f(query.downsampleMean)) ms, "
            + "\(f(query.meanBuckets, 1)) buckets/answer, p50 \(f(query.downsampleRepeatP50)) ms when the same query is repeated at once; "
            + "raw \(f(query.meanRawPoints, 1)) points/answer\n"
        for m in memory {
            text += "  memory @ \(StoreBenchSupport.grouped(m.series)): RSS \(StoreBenchSupport.grouped(m.residentBefore)) → \(StoreBenchSupport.grouped(m.residentAfter)) B "
                + "(one point each, device m<i>, metric v; created in \(f(m.seconds, 1)) s)\n"
        }
        if let r = reference {
            text += "\nvictoria-metrics \(r.version) (loopback, -retentionPeriod 100y, force_flush + force_merge, stopped before measuring):\n"
            text += "  posted \(StoreBenchSupport.grouped(r.postedPoints)) points (\(StoreBenchSupport.grouped(r.lineProtocolBytes)) B of line protocol) in "
                + "\(f(r.postSeconds, 1)) s; stored rows \(StoreBenchSupport.grouped(r.storedRows)), rejected \(r.rejectedRows); "
                + "read back \(StoreBenchSupport.grouped(r.queriedPoints)) points in \(StoreBenchSupport.grouped(r.queriedSeries)) series\n"
            text += "  files: data/ \(StoreBenchSupport.grouped(r.dataBytes)) B, indexdb/ \(StoreBenchSupport.grouped(r.indexBytes)) B, "
                + "everything \(StoreBenchSupport.grouped(r.totalBytes)) B; merges settled \(f(r.mergeSeconds, 1)) s after force_merge\n"
            if r.storedRows != r.postedPoints || (r.queriedPoints >= 0 && r.queriedPoints != r.postedPoints) {
                text += "  WARNING: VictoriaMetrics does not hold exactly the posted points\n"
            }
        } else if let note = referenceNote {
            text += "\n\(note)\n"
        }
        return text
    }

    /// `git rev-parse --short HEAD` of the current directory, with `+local changes` when Sources/ differs; nil outside a checkout.
    static func sourceRevision() -> String? {
        guard let git = StoreBenchSupport.which("git"), let head = try? StoreBenchSupport.run(git, ["rev-parse", "--short", "HEAD"]), head.status == 0 else {
            return nil
        }
        let dirty = (try? StoreBenchSupport.run(git, ["status", "--porcelain", "--", "Sources"]))?.output.isEmpty == false
        return head.output.trimmingCharacters(in: .whitespacesAndNewlines) + (dirty ? "+local changes" : "")
    }
}
