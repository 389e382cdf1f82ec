import Foundation
import GatewayCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The reference for `citygate bench store`: the same workload ingested into a VictoriaMetrics single-node server
/// on loopback, force-flushed and force-merged, then stopped, and its data directory measured.
///
/// The workload goes in as InfluxDB line protocol (`city,device=<device> value=<decimal> <ms>`, so the series is
/// `city_value{device="…"}`) POSTed with curl to `/write?precision=ms`, in chunks of `chunkLines` lines. Values are
/// printed from the workload's mantissas, so VictoriaMetrics parses exactly the decimals the store gets as doubles.
public struct VictoriaMetricsReference: Sendable {
    /// What the reference measured.
    public struct Result: Sendable {
        /// `victoria-metrics -version` (first line), or the Debian package version.
        public var version: String
        /// Points POSTed.
        public var postedPoints: Int
        /// Rows the server reports stored (`vm_rows{type="storage/…"}` after the flush).
        public var storedRows: Int
        /// `sum(count_over_time(city_value[…]))` over the whole range (-1 when the query failed).
        public var queriedPoints: Int
        /// `count(last_over_time(city_value[…]))` (-1 when the query failed).
        public var queriedSeries: Int
        /// Rows the server rejected (`vm_rows_invalid_total` + `vm_rows_ignored_total`).
        public var rejectedRows: Int
        /// Seconds spent in the POSTs (curl included, building the line protocol not).
        public var postSeconds: Double
        /// Line protocol bytes POSTed.
        public var lineProtocolBytes: Int64
        /// Seconds from force_merge until the directory stopped changing.
        public var mergeSeconds: Double
        /// Every file under -storageDataPath after shutdown (data/, indexdb/, cache/, metadata/ …).
        public var totalBytes: Int64
        /// `data/` alone: the samples.
        public var dataBytes: Int64
        /// `indexdb/` alone: the series index.
        public var indexBytes: Int64
        /// Where the server kept its data and log (removed unless kept).
        public var directory: String
    }

    /// The server binary: `path` if it is executable, else `victoria-metrics` on PATH (or /usr/bin); nil if none.
    public static func binary(_ path: String? = nil) -> String? {
        if let path { return FileManager.default.isExecutableFile(atPath: path) ? path : nil }
        return StoreBenchSupport.which("victoria-metrics")
    }

    /// What to print when it is not.
    public static let missingMessage = """
        victoria-metrics is not installed, so the reference half of the benchmark is skipped.
          Install it with `sudo apt-get install victoria-metrics` (Debian/Ubuntu package, 1.79.x was used for the \
        published figures), or put a `victoria-metrics` binary on PATH; pass --no-vm to skip this step quietly.
        """

    /// Lines per POST.
    public var chunkLines = 1_000_000
    /// The server binary (nil: look it up).
    public var binaryPath: String?
    /// Measurement name (the metric becomes `<measurement>_value`).
    public var measurement = "city"

    /// Creates the reference runner.
    public init(chunkLines: Int = 1_000_000, binaryPath: String? = nil) {
        self.chunkLines = chunkLines
        self.binaryPath = binaryPath
    }

    /// Runs the server in `directory`, ingests the scheduled workload, flushes, merges, stops and measures.
    public func run(workload w: CityWorkload, schedule: [UInt64], directory: String, progress: (String) -> Void) throws -> Result {
        guard let vm = VictoriaMetricsReference.binary(binaryPath) else { throw StoreBenchError.tool(VictoriaMetricsReference.missingMessage) }
        guard let curl = StoreBenchSupport.which("curl") else { throw StoreBenchError.tool("curl is not installed (needed to talk to victoria-metrics)") }
        let version = VictoriaMetricsReference.version(vm)
        let dataPath = directory + "/vm-data"
        let logPath = directory + "/victoria-metrics.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let port = try StoreBenchSupport.freeLoopbackPort()
        let base = "http://127.0.0.1:\(port)"

        let server = Process()
        server.executableURL = URL(fileURLWithPath: vm)
        server.arguments = ["-storageDataPath", dataPath, "-httpListenAddr", "127.0.0.1:\(port)", "-retentionPeriod", "100y"]
        let log = FileHandle(forWritingAtPath: logPath)
        server.standardOutput = log
        server.standardError = log
        server.standardInput = FileHandle.nullDevice
        try server.run()
        var stopped = false
        defer { if !stopped { VictoriaMetricsReference.stop(server) } }

        func logTail() -> String {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").suffix(15).joined(separator: "\n")
        }
        func get(_ path: String, timeout: Int = 600) throws -> String {
            let r = try StoreBenchSupport.run(curl, ["-sS", "--fail", "--max-time", "\(timeout)", base + path])
            guard r.status == 0 else { throw StoreBenchError.tool("GET \(path) failed (curl \(r.status)): \(r.error)\n\(logTail())") }
            return r.output
        }

        // Health.
        let deadline = Date().addingTimeInterval(60)
        while true {
            guard server.isRunning else { throw StoreBenchError.tool("victoria-metrics exited at start:\n\(logTail())") }
            if let r = try? StoreBenchSupport.run(curl, ["-sf", "--max-time", "2", base + "/health"]), r.status == 0, r.output.contains("OK") { break }
            guard Date() < deadline else { throw StoreBenchError.tool("victoria-metrics did not become healthy within 60 s:\n\(logTail())") }
            usleep(100_000)
        }
        progress("victoria-metrics \(version) on 127.0.0.1:\(port), data in \(dataPath)")

        // Ingest: build a chunk (untimed), POST it (timed).
        let chunkPath = directory + "/chunk.lp"
        var postNs: UInt64 = 0
        var lpBytes: Int64 = 0
        var buffer: [UInt8] = []
        buffer.reserveCapacity(chunkLines * 72)
        var i = 0
        var nextReport = schedule.count / 4
        while i < schedule.count {
            buffer.removeAll(keepingCapacity: true)
            let end = min(i + chunkLines, schedule.count)
            for k in i..<end { w.appendLineProtocol(w.event(packed: schedule[k]), measurement: measurement, to: &buffer) }
            try Data(buffer).write(to: URL(fileURLWithPath: chunkPath))
            lpBytes += Int64(buffer.count)
            let t0 = MonotonicClock.nowNs()
            let r = try StoreBenchSupport.run(curl, ["-sS", "--fail", "--max-time", "600", "-X", "POST", "-H", "Content-Type: text/plain",
                                                     "--data-binary", "@" + chunkPath, base + "/write?precision=ms"])
            postNs += MonotonicClock.nowNs() - t0
            guard r.status == 0 else { throw StoreBenchError.tool("POST /write failed (curl \(r.status)): \(r.error)\n\(logTail())") }
            i = end
            if i >= nextReport && i < schedule.count {
                progress("  victoria-metrics: \(StoreBenchSupport.grouped(i)) points posted")
                nextReport += schedule.count / 4
            }
        }
        try? FileManager.default.removeItem(atPath: chunkPath)

        // Flush, check the row count, merge, wait for quiet.
        _ = try get("/internal/force_flush")
        var metrics = VictoriaMetricsReference.parseMetrics(try get("/metrics"))
        let stored = Int(metrics.filter { $0.key.hasPrefix("vm_rows{type=\"storage/") }.values.reduce(0, +))
        let rejected = Int(metrics.filter { $0.key.hasPrefix("vm_rows_invalid_total") || $0.key.hasPrefix("vm_rows_ignored_total") }.values.reduce(0, +))
        let mergeStart = MonotonicClock.nowNs()
        _ = try get("/internal/force_merge?partition_prefix=")
        var lastSize: Int64 = -1
        var stableFor = 0
        let mergeDeadline = Date().addingTimeInterval(300)
        while Date() < mergeDeadline {
            usleep(1_000_000)
            metrics = VictoriaMetricsReference.parseMetrics(try get("/metrics"))
            let busy = metrics.filter { $0.key.hasPrefix("vm_active_merges") || $0.key.hasPrefix("vm_active_force_merges") }.values.reduce(0, +)
                + metrics.filter { $0.key.hasPrefix("vm_pending_rows") }.values.reduce(0, +)
            let size = StoreBenchSupport.directoryBytes(dataPath + "/data")
            stableFor = (busy == 0 && size == lastSize) ? stableFor + 1 : 0
            lastSize = size
            if stableFor >= 3 { break }
        }
        let mergeSeconds = Double(MonotonicClock.nowNs() - mergeStart) / 1e9 - Double(stableFor)

        // Read back through the query API: every point and every series there?
        let range = w.timeRange
        let window = "\((range.upperBound - range.lowerBound) / 1000 + 3600)s"
        let at = "\(range.upperBound / 1000 + 1)"
        func scalar(_ query: String) -> Int {
            guard let r = try? StoreBenchSupport.run(curl, ["-sS", "--fail", "--max-time", "300", base + "/api/v1/query",
                                                            "--data-urlencode", "query=\(query)", "--data-urlencode", "time=\(at)"]),
                  r.status == 0, let v = VictoriaMetricsReference.firstValue(r.output) else { return -1 }
            return v
        }
        let queriedPoints = scalar("sum(count_over_time(\(measurement)_value[\(window)]))")
        let queriedSeries = scalar("count(last_over_time(\(measurement)_value[\(window)]))")

        progress("  victoria-metrics: stopping (SIGINT)")
        VictoriaMetricsReference.stop(server)
        stopped = true
        let total = StoreBenchSupport.directoryBytes(dataPath)
        return Result(version: version, postedPoints: schedule.count, storedRows: stored, queriedPoints: queriedPoints, queriedSeries: queriedSeries,
                      rejectedRows: rejected, postSeconds: Double(postNs) / 1e9, lineProtocolBytes: lpBytes, mergeSeconds: mergeSeconds,
                      totalBytes: total, dataBytes: StoreBenchSupport.directoryBytes(dataPath + "/data"),
                      indexBytes: StoreBenchSupport.directoryBytes(dataPath + "/indexdb"), directory: directory)
    }

    /// SIGINT (a clean shutdown that flushes everything), then SIGKILL after 60 s.
    static func stop(_ p: Process) {
        guard p.isRunning else { return }
        kill(p.processIdentifier, SIGINT)
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    static func version(_ vm: String) -> String {
        if let r = try? StoreBenchSupport.run(vm, ["-version"]), let line = (r.output + r.error).split(separator: "\n").first, !line.isEmpty {
            return String(line)
        }
        if let r = try? StoreBenchSupport.run("/usr/bin/dpkg-query", ["-W", "-f=${Version}", "victoria-metrics"]), r.status == 0, !r.output.isEmpty {
            return r.output
        }
        return "(version unknown)"
    }

    /// `name{labels} value` lines of a /metrics page.
    static func parseMetrics(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = v
        }
        return out
    }

    /// The value of the first sample of an instant-query answer (`"value":[t,"123"]`).
    static func firstValue(_ json: String) -> Int? {
        guard let data = json.data(using: .utf8), let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let d = root["data"] as? [String: Any], let result = d["result"] as? [[String: Any]] else { return nil }
        guard let first = result.first else { return 0 }
        guard let pair = first["value"] as? [Any], pair.count == 2, let s = pair[1] as? String, let v = Double(s) else { return nil }
        return Int(v)
    }
}
