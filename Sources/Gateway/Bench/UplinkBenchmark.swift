import AsyncHTTPClient
import Forwarder
import Foundation
import NIOCore
import NIOHTTP1
import GatewayCore
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `citygate bench uplink`: how fast a full outbox drains into VictoriaMetrics over HTTP line protocol, beside the
/// ceiling of that VictoriaMetrics for the same bodies.
///
/// The outbox is filled with `hours` of 1-minute rollups for `series` series (device `bench-NNNNNN`, metric `bench`,
/// six samples a window, two-decimal values as sensors send), oldest first, 1,000 points a row, exactly as the
/// rollup stage commits them.
///
/// 1. **Reference** (unless `reference` is off): the first `referencePoints` points are read from the outbox,
///    rendered and compressed by the sink's own code into request bodies, all before timing; then a fresh
///    VictoriaMetrics single node on loopback receives them from a minimal sender (AsyncHTTPClient, `maxInFlight`
///    requests at once, nothing else): the receiver's ceiling on this machine for this data.
/// 2. **Gateway**: a second fresh VictoriaMetrics, and a `ForwarderService` with one HTTP sink (the production path:
///    outbox read, line protocol, gzip, POST with up to `maxInFlight` requests on the wire, cursor commit) drains
///    the whole outbox; the time from start to the last acknowledgement gives points/s. The server's own count of
///    stored points is read back with `count_over_time`.
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
        /// The reference run, if any.
        public var reference: Reference?
        /// CPU seconds (user + system) this process spent during the drain: the gateway's side, whatever else
        /// runs on the machine.
        public var drainCPUSeconds: Double = 0
        /// CPU seconds VictoriaMetrics spent during the drain (-1: unknown).
        public var receiverCPUSeconds: Double = -1

        /// Points per second of the drain.
        public var pointsPerSecond: Double { drainSeconds > 0 ? Double(points) / drainSeconds : 0 }
        /// Gateway drain rate / reference rate.
        public var ratio: Double? { reference.map { $0.pointsPerSecond > 0 ? pointsPerSecond / $0.pointsPerSecond : 0 } }
    }

    /// The reference sender's figures.
    public struct Reference: Sendable {
        /// Points sent.
        public var points: Int
        /// Requests.
        public var requests: Int
        /// Seconds to render and compress the bodies (not timed in the rate).
        public var prepareSeconds: Double
        /// Seconds from the first request to the last response.
        public var seconds: Double
        /// Non-2xx responses or connection errors (each retried).
        public var failures: Int
        /// Request body bytes.
        public var wireBytes: Int
        /// CPU seconds of the sender (this process) and of VictoriaMetrics while sending.
        public var senderCPUSeconds: Double = 0
        /// CPU seconds VictoriaMetrics spent (-1: unknown).
        public var receiverCPUSeconds: Double = -1

        /// Points per second.
        public var pointsPerSecond: Double { seconds > 0 ? Double(points) / seconds : 0 }
    }

    /// Series.
    public var series: Int
    /// Hours of 1-minute rollups.
    public var hours: Int
    /// Points per HTTP request.
    public var batchPoints: Int
    /// gzip request bodies.
    public var gzip: Bool
    /// gzip level (1–9).
    public var gzipLevel = 1
    /// Requests on the wire at once (the sink's `max_in_flight`, and the reference sender's concurrency).
    public var maxInFlight = 2
    /// Fields per point.
    public var fields: RollupFields = .all
    /// The victoria-metrics binary (nil: PATH).
    public var vmBinary: String?
    /// No receiver: batches are read, rendered and compressed exactly as for VictoriaMetrics, then acknowledged
    /// at once. Measures the gateway's side of the drain alone.
    public var dryRun = false
    /// Run the reference first.
    public var reference = true
    /// Most points the reference sends (its bodies are held in memory): a prefix of the outbox.
    public var referencePoints = 14_400_000

    /// Creates a benchmark.
    public init(series: Int = 100_000, hours: Int = 24, batchPoints: Int = 50_000, gzip: Bool = true, vmBinary: String? = nil) {
        self.series = series
        self.hours = hours
        self.batchPoints = batchPoints
        self.gzip = gzip
        self.vmBinary = vmBinary
    }

    /// The sink settings both runs use.
    private func sinkConfiguration(url: String) -> HTTPLineProtocolSink.Configuration {
        .init(name: "vm", url: url, gateway: "bench", gzip: gzip, gzipLevel: gzipLevel, fields: fields)
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
            let sink = NullReceiverSink(inner: try HTTPLineProtocolSink(configuration: sinkConfiguration(url: "http://127.0.0.1:1/write")))
            let (seconds, failures, status, drainCPU) = try await drain(outboxPath: outboxPath, sink: sink, total: total, logger: logger, progress: progress)
            let bytes = sink.bytes.withLock { $0 }
            return Result(series: series, points: total, outboxBytes: status.bytes, outboxFileBytes: outboxFileBytes, fillSeconds: fillSeconds,
                          drainSeconds: seconds, lineProtocolBytes: bytes.0, wireBytes: bytes.1, batches: status.sinks.first?.sentBatches ?? 0,
                          failures: failures, storedPoints: -1, vmVersion: "none (dry run: rendered and compressed, acknowledged without sending)",
                          drainCPUSeconds: drainCPU)
        }
        let version = VictoriaMetricsReference.version(vm)

        // 1. The reference: the same bodies, pre-built, into a fresh VictoriaMetrics.
        var referenceResult: Reference?
        if reference {
            let p0 = MonotonicClock.nowNs()
            let bodies = try await referenceBodies(outboxPath: outboxPath, limit: min(total, referencePoints))
            let prepareSeconds = Double(MonotonicClock.nowNs() - p0) / 1e9
            let points = bodies.reduce(0) { $0 + $1.points }
            progress("reference: \(StoreBenchSupport.grouped(points)) points in \(bodies.count) bodies built in \(String(format: "%.1f", prepareSeconds)) s; sending")
            let server = try await StoreBenchSupport.startVictoriaMetrics(vm, curl: curl, dataPath: directory + "/vm-reference", logPath: directory + "/vm-reference.log")
            let cpu0 = (Self.selfCPUSeconds(), (ProcessProbe(pid: server.process.processIdentifier).cpuSeconds ?? -1))
            let sent = try await Self.post(bodies, url: server.base + "/write?precision=ms", gzip: gzip, concurrency: maxInFlight)
            let cpu1 = (Self.selfCPUSeconds(), (ProcessProbe(pid: server.process.processIdentifier).cpuSeconds ?? -1))
            VictoriaMetricsReference.stop(server.process)
            try? FileManager.default.removeItem(atPath: directory + "/vm-reference")
            referenceResult = Reference(points: points, requests: bodies.count, prepareSeconds: prepareSeconds, seconds: sent.seconds, failures: sent.failures,
                                        wireBytes: bodies.reduce(0) { $0 + $1.body.readableBytes }, senderCPUSeconds: cpu1.0 - cpu0.0,
                                        receiverCPUSeconds: cpu0.1 >= 0 && cpu1.1 >= 0 ? cpu1.1 - cpu0.1 : -1)
            progress(String(format: "reference: %.0f points/s", referenceResult!.pointsPerSecond))
        }

        // 2. The gateway: the production path into another fresh VictoriaMetrics.
        let server = try await StoreBenchSupport.startVictoriaMetrics(vm, curl: curl, dataPath: directory + "/vm-data", logPath: directory + "/victoria-metrics.log")
        defer { VictoriaMetricsReference.stop(server.process) }
        let base = server.base
        progress("victoria-metrics \(version) on \(base); draining")
        let sink = try HTTPLineProtocolSink(configuration: sinkConfiguration(url: base + "/write"))
        let vmCPU0 = (ProcessProbe(pid: server.process.processIdentifier).cpuSeconds ?? -1)
        let (drainSeconds, failures, status, drainCPU) = try await drain(outboxPath: outboxPath, sink: sink, total: total, logger: logger, progress: progress)
        let vmCPU1 = (ProcessProbe(pid: server.process.processIdentifier).cpuSeconds ?? -1)

        _ = try? StoreBenchSupport.run(curl, ["-sS", "--max-time", "120", base + "/internal/force_flush"])
        let window = "\(hours * 3_600 + 3_600)s"
        var stored = -1
        let counted = fields.contains(.count) ? "bench_count" : "bench_\(RollupFields.names.first { fields.contains($0.1) }!.0)"
        if let r = try? StoreBenchSupport.run(curl, ["-sS", "--fail", "--max-time", "600", base + "/api/v1/query", "--data-urlencode",
                                                    "query=sum(count_over_time(\(counted)[\(window)]))", "--data-urlencode", "time=\(endMs / 1000 + 60)"]),
           r.status == 0 {
            stored = VictoriaMetricsReference.firstValue(r.output) ?? -1
        }
        let bytes = sink.bytesSent
        return Result(series: series, points: total, outboxBytes: status.bytes, outboxFileBytes: outboxFileBytes, fillSeconds: fillSeconds, drainSeconds: drainSeconds,
                      lineProtocolBytes: bytes.lineProtocol, wireBytes: bytes.wire, batches: status.sinks.first?.sentBatches ?? 0,
                      failures: failures, storedPoints: stored, vmVersion: version, reference: referenceResult, drainCPUSeconds: drainCPU,
                      receiverCPUSeconds: vmCPU0 >= 0 && vmCPU1 >= 0 ? vmCPU1 - vmCPU0 : -1)
    }

    /// The reference's request bodies: the outbox's first `limit` points in batches of `batchPoints`, rendered and
    /// compressed by the HTTP sink's own `prepare`. Read under a second sink name, so the gateway's cursor is not
    /// touched and nothing is deleted.
    private func referenceBodies(outboxPath: String, limit: Int) async throws -> [(body: ByteBuffer, points: Int)] {
        let outbox = try Outbox(configuration: .init(path: outboxPath, maxBytes: .max, keepSent: true), sinks: ["vm", "reference"])
        let renderer = try HTTPLineProtocolSink(configuration: sinkConfiguration(url: "http://127.0.0.1:1/write"))
        var bodies: [(body: ByteBuffer, points: Int)] = []
        var points = 0
        do {
            while points < limit, let batch = try outbox.nextBatch(sink: "reference", maxPoints: min(batchPoints, limit - points)) {
                let prepared = try await renderer.prepare(batch)
                bodies.append((ByteBuffer(bytes: prepared.body ?? []), batch.points))
                points += batch.points
                try outbox.ack(batch)
            }
        } catch {
            await renderer.shutdown()
            throw error
        }
        await renderer.shutdown()
        return bodies
    }

    /// POSTs every body, `concurrency` at a time, each until it gets a 2xx; seconds from the first request to the
    /// last response.
    static func post(_ bodies: [(body: ByteBuffer, points: Int)], url: String, gzip: Bool, concurrency: Int) async throws -> (seconds: Double, failures: Int) {
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        final class Counters: Sendable {
            let next = Atomic<Int>(0)
            let failures = Atomic<Int>(0)
        }
        let counters = Counters()
        let t0 = MonotonicClock.nowNs()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<max(1, concurrency) {
                    group.addTask {
                        while true {
                            let i = counters.next.add(1, ordering: .relaxed).oldValue
                            guard i < bodies.count else { return }
                            var attempts = 0
                            while true {
                                var request = HTTPClientRequest(url: url)
                                request.method = .POST
                                request.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
                                if gzip { request.headers.add(name: "Content-Encoding", value: "gzip") }
                                request.body = .bytes(bodies[i].body)
                                let ok: Bool
                                do {
                                    let response = try await client.execute(request, timeout: .seconds(120))
                                    _ = try? await response.body.collect(upTo: 16_384)
                                    ok = (200..<300).contains(response.status.code)
                                } catch {
                                    ok = false
                                }
                                if ok { break }
                                counters.failures.add(1, ordering: .relaxed)
                                attempts += 1
                                guard attempts < 20 else { throw StoreBenchError.tool("the reference sender could not deliver body \(i) in 20 attempts") }
                                try await Task.sleep(for: .milliseconds(100))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        let seconds = Double(MonotonicClock.nowNs() - t0) / 1e9
        try? await client.shutdown()
        return (seconds, counters.failures.load(ordering: .relaxed))
    }

    /// Runs a `ForwarderService` with `sink` over the filled outbox until every point is acknowledged.
    private func drain(outboxPath: String, sink: any UplinkSink, total: Int, logger: Logger, progress: @Sendable (String) -> Void) async throws
        -> (seconds: Double, failures: Int, status: OutboxStatus, cpuSeconds: Double)
    {
        let config = ForwarderConfiguration(
            gatewayID: "bench", outboxPath: outboxPath, windows: [RollupWindow(sizeMs: 60_000, latenessMs: 30_000)], maxBytes: .max, backlogAlertAgeMs: nil,
            statusInterval: .seconds(3_600),
            sinks: [.init(kind: .http(sinkConfiguration(url: "http://127.0.0.1:1/write")), batchPoints: batchPoints,
                          backoff: Backoff(initial: .milliseconds(100), maximum: .seconds(2)), maxInFlight: maxInFlight)])
        let service = try ForwarderService(configuration: config, sinks: [sink], logger: logger)
        let cpu0 = Self.selfCPUSeconds()
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
        let cpu = Self.selfCPUSeconds() - cpu0
        task.cancel()
        _ = try? await task.value
        return (seconds, service.sinkCounters[0].failures, try await service.status(), cpu)
    }

    /// User + system CPU seconds of this process.
    static func selfCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
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
