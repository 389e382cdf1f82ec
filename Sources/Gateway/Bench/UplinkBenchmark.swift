import Forwarder
import Foundation
import GatewayCore
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `citygate bench uplink`: how fast a full outbox drains into VictoriaMetrics over HTTP line protocol.
///
/// The outbox is filled with `hours` of 1-minute rollups for `series` series (device `bench-NNNNNN`, metric `bench`,
/// six samples a window, two-decimal values as sensors send), oldest first, 1,000 points a row, exactly as the
/// rollup stage commits them. Then a VictoriaMetrics single-node server is started on loopback and a
/// `ForwarderService` with one HTTP sink (the production path: outbox read, line protocol, gzip, POST, cursor
/// commit) drains it; the time from start to the last acknowledgement gives points/s. The server's own count of
/// stored points is read back with `count_over_time`.
public struct UplinkBenchmark: Sendable {
    /// What the run measured.
    public struct Result: Sendable {
        /// Series and points in the outbox.
        public var series: Int
        /// Points drained.
        public var points: Int
        /// Outbox payload bytes.
        public var outboxBytes: Int64
        /// Outbox file size (SQLite).
        public var outboxFileBytes: Int64
        /// Seconds to fill the outbox (encode + SQLite).
        public var fillSeconds: Double
        /// Seconds from starting the forwarder to the last acknowledgement.
        public var drainSeconds: Double
        /// Line protocol bytes rendered, and bytes sent after gzip.
        public var lineProtocolBytes: Int
        /// Bytes on the wire (request bodies).
        public var wireBytes: Int
        /// HTTP requests that were acknowledged, and that failed (retried).
        public var batches: Int64
        /// Failed requests.
        public var failures: Int
        /// Points VictoriaMetrics reports stored (`sum(count_over_time(bench_count[…]))`), -1 if the query failed.
        public var storedPoints: Int
        /// `victoria-metrics -version`.
        public var vmVersion: String

        /// Points per second of the drain.
        public var pointsPerSecond: Double { drainSeconds > 0 ? Double(points) / drainSeconds : 0 }
    }

    /// Series.
    public var series: Int
    /// Hours of 1-minute rollups.
    public var hours: Int
    /// Points per HTTP request.
    public var batchPoints: Int
    /// gzip request bodies.
    public var gzip: Bool
    /// The victoria-metrics binary (nil: PATH).
    public var vmBinary: String?
    /// No receiver: batches are read, rendered and compressed exactly as for VictoriaMetrics, then acknowledged
    /// at once. Measures the gateway's side of the drain alone.
    public var dryRun = false

    /// Creates a benchmark.
    public init(series: Int = 100_000, hours: Int = 24, batchPoints: Int = 50_000, gzip: Bool = true, vmBinary: String? = nil) {
        self.series = series
        self.hours = hours
        self.batchPoints = batchPoints
        self.gzip = gzip
        self.vmBinary = vmBinary
    }

    /// Fills, serves, drains, verifies.
    public func run(directory: String, progress: @Sendable (String) -> Void) async throws -> Result {
        guard let vm = VictoriaMetricsReference.binary(vmBinary) else { throw StoreBenchError.tool(VictoriaMetricsReference.missingMessage) }
        guard let curl = StoreBenchSupport.which("curl") else { throw StoreBenchError.tool("curl is not installed (needed to talk to victoria-metrics)") }
        var logger = Logger(label: "citygate.bench.uplink")
        logger.logLevel = .error
        let outboxPath = directory + "/outbox.db"
        let minutes = hours * 60
        let endMs = (WallClock.nowMs() / 60_000) * 60_000 - 60_000
        let startMs = endMs - Int64(minutes) * 60_000
        let total = series * minutes

        // Fill: one transaction per minute of rollups.
        let t0 = MonotonicClock.nowNs()
        do {
            let outbox = try Outbox(configuration: .init(path: outboxPath, maxBytes: .max), sinks: ["vm"])
            let devices = (0..<series).map { String(format: "bench-%06d", $0) }
            var nextReport = minutes / 4
            for m in 0..<minutes {
                let start = startMs + Int64(m) * 60_000
                var rows: [(stream: UplinkStream, points: Int, body: [UInt8])] = []
                var i = 0
                while i < series {
                    let end = min(i + 1_000, series)
                    let points = (i..<end).map { s -> RollupPoint in
                        let base = Double((s &* 31 &+ m &* 17) % 2_000) / 100 + 10
                        return RollupPoint(device: devices[s], metric: "bench", unit: "Cel", windowMs: 60_000, startMs: start, count: 6, min: base - 0.25,
                                           max: base + 0.5, sum: base * 6 + 0.13, last: base + 0.07)
                    }
                    rows.append((.rollups(windowMs: 60_000), points.count, OutboxCodec.encode(points)))
                    i = end
                }
                try outbox.commitEncoded(rows, nowMs: WallClock.nowMs())
                if m + 1 >= nextReport && m + 1 < minutes {
                    progress("  outbox: \(StoreBenchSupport.grouped((m + 1) * series)) points written")
                    nextReport += minutes / 4
                }
            }
        }
        let fillSeconds = Double(MonotonicClock.nowNs() - t0) / 1e9
        let outboxFileBytes = StoreBenchSupport.directoryBytes(outboxPath) + StoreBenchSupport.directoryBytes(outboxPath + "-wal")
        progress("outbox filled: \(StoreBenchSupport.grouped(total)) points in \(String(format: "%.1f", fillSeconds)) s, \(outboxFileBytes / 1_048_576) MiB")

        if dryRun {
            let sink = NullReceiverSink(inner: try HTTPLineProtocolSink(configuration: .init(name: "vm", url: "http://127.0.0.1:1/write", gateway: "bench", gzip: gzip)))
            let (seconds, failures, status) = try await drain(outboxPath: outboxPath, sink: sink, total: total, logger: logger, progress: progress)
            let bytes = sink.bytes.withLock { $0 }
            return Result(series: series, points: total, outboxBytes: status.bytes, outboxFileBytes: outboxFileBytes, fillSeconds: fillSeconds,
                          drainSeconds: seconds, lineProtocolBytes: bytes.0, wireBytes: bytes.1, batches: status.sinks.first?.sentBatches ?? 0,
                          failures: failures, storedPoints: -1, vmVersion: "none (dry run: rendered and compressed, acknowledged without sending)")
        }

        // The receiver.
        let port = try StoreBenchSupport.freeLoopbackPort()
        let base = "http://127.0.0.1:\(port)"
        let logPath = directory + "/victoria-metrics.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: vm)
        server.arguments = ["-storageDataPath", directory + "/vm-data", "-httpListenAddr", "127.0.0.1:\(port)", "-retentionPeriod", "100y",
                            "-dedup.minScrapeInterval", "1ms", "-search.latencyOffset", "0s"]
        let log = FileHandle(forWritingAtPath: logPath)
        server.standardOutput = log
        server.standardError = log
        server.standardInput = FileHandle.nullDevice
        try server.run()
        defer { VictoriaMetricsReference.stop(server) }
        let deadline = Date().addingTimeInterval(60)
        while true {
            guard server.isRunning else { throw StoreBenchError.tool("victoria-metrics exited at start") }
            if let r = try? StoreBenchSupport.run(curl, ["-sf", "--max-time", "2", base + "/health"]), r.status == 0 { break }
            guard Date() < deadline else { throw StoreBenchError.tool("victoria-metrics did not become healthy within 60 s") }
            usleep(100_000)
        }
        let version = VictoriaMetricsReference.version(vm)
        progress("victoria-metrics \(version) on 127.0.0.1:\(port); draining")

        // Drain through the production path.
        let sink = try HTTPLineProtocolSink(configuration: .init(name: "vm", url: base + "/write", gateway: "bench", gzip: gzip))
        let (drainSeconds, failures, status) = try await drain(outboxPath: outboxPath, sink: sink, total: total, logger: logger, progress: progress)

        _ = try? StoreBenchSupport.run(curl, ["-sS", "--max-time", "120", base + "/internal/force_flush"])
        let window = "\(hours * 3_600 + 3_600)s"
        var stored = -1
        if let r = try? StoreBenchSupport.run(curl, ["-sS", "--fail", "--max-time", "600", base + "/api/v1/query", "--data-urlencode",
                                                    "query=sum(count_over_time(bench_count[\(window)]))", "--data-urlencode", "time=\(endMs / 1000 + 60)"]),
           r.status == 0 {
            stored = VictoriaMetricsReference.firstValue(r.output) ?? -1
        }
        let bytes = sink.bytesSent
        return Result(series: series, points: total, outboxBytes: status.bytes, outboxFileBytes: outboxFileBytes, fillSeconds: fillSeconds, drainSeconds: drainSeconds,
                      lineProtocolBytes: bytes.lineProtocol, wireBytes: bytes.wire, batches: status.sinks.first?.sentBatches ?? 0,
                      failures: failures, storedPoints: stored, vmVersion: version)
    }

    /// Runs a `ForwarderService` with `sink` over the filled outbox until every point is acknowledged.
    private func drain(outboxPath: String, sink: any UplinkSink, total: Int, logger: Logger, progress: @Sendable (String) -> Void) async throws
        -> (seconds: Double, failures: Int, status: OutboxStatus)
    {
        let config = ForwarderConfiguration(
            gatewayID: "bench", outboxPath: outboxPath, windows: [RollupWindow(sizeMs: 60_000, latenessMs: 30_000)], maxBytes: .max, backlogAlertAgeMs: nil,
            statusInterval: .seconds(3_600),
            sinks: [.init(kind: .http(.init(name: sink.name, url: "http://127.0.0.1:1/write", gateway: "bench")), batchPoints: batchPoints,
                          backoff: Backoff(initial: .milliseconds(100), maximum: .seconds(2)))])
        let service = try ForwarderService(configuration: config, sinks: [sink], logger: logger)
        let d0 = MonotonicClock.nowNs()
        let task = Task { try await service.run() }
        var nextReport = total / 4
        while true {
            let sent = service.sinkCounters[0].sentPoints
            if sent >= total { break }
            if sent >= nextReport {
                progress("  drained \(StoreBenchSupport.grouped(sent)) points (\(String(format: "%.0f", Double(sent) / (Double(MonotonicClock.nowNs() - d0) / 1e9))) points/s)")
                nextReport += total / 4
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let seconds = Double(MonotonicClock.nowNs() - d0) / 1e9
        task.cancel()
        _ = try? await task.value
        return (seconds, service.sinkCounters[0].failures, try await service.status())
    }

    /// `N cores (model), M GiB`.
    public static func machine() -> String {
        var model = "unknown CPU"
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }), let colon = line.firstIndex(of: ":") {
            model = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return "\(ProcessInfo.processInfo.activeProcessorCount) cores (\(model)), \(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB"
    }
}

/// The dry run's receiver: prepares batches like the HTTP sink (line protocol, gzip) and acknowledges them at once.
final class NullReceiverSink: UplinkSink {
    let inner: HTTPLineProtocolSink
    let bytes = Mutex<(Int, Int)>((0, 0))
    var name: String { inner.name }

    init(inner: HTTPLineProtocolSink) { self.inner = inner }

    func prepare(_ batch: OutboxBatch) async throws -> PreparedBatch { try await inner.prepare(batch) }

    func send(_ batch: OutboxBatch) async throws -> SinkOutcome { try await send(try await prepare(batch)) }

    func send(_ prepared: PreparedBatch) async throws -> SinkOutcome {
        bytes.withLock { $0 = ($0.0 + prepared.renderedBytes, $0.1 + (prepared.body?.count ?? 0)) }
        return .acknowledged
    }

    func shutdown() async { await inner.shutdown() }
}
