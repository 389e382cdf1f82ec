import AsyncHTTPClient
import Foundation
import GatewayCore
import Mosquitto
import NIOCore
import NIOHTTP1
import Synchronization

/// `citygate bench soak`: the real gateway (`citygate run` as a child process, release build) under a steady MQTT
/// load for a long time, sampled from outside.
///
/// - **Load**: an in-process libmosquitto publisher sends Milesight EM500-CO2 uplinks (binary TLV, five samples
///   each: battery, temperature, humidity, CO2, pressure) at QoS 1, paced every 10 ms to `rate` messages/s,
///   round-robin over `devices` devices, so the store holds 5 × `devices` series. Every thousandth device reports
///   CO2 above the soak's alert rule, so the alert engine holds open alerts; a no-data rule watches every device.
///   With `uplink`, 1-minute rollups of every series go to a VictoriaMetrics on loopback through the outbox.
/// - **Queries**: `queriesPerSecond` API reads through `/v1/series` at random series, cycling last value, raw
///   last 10 minutes and a 1-hour range in 1-minute steps; their latency is the query figure.
/// - **Samples** every `sampleSeconds`: the gateway's resident memory, threads, open descriptors and CPU time from
///   /proc; messages and series from its `/metrics`; the bytes in its data directory.
/// - **Verdict** over the samples after `warmupSeconds`: resident memory's growth and least-squares slope,
///   and the spread of threads and descriptors. Memory per series is the resident growth from the idle gateway
///   (before the first message) to the end, over the series then held.
///
/// The reference measured in the same run is the publisher: the gateway's message rate is reported as a ratio of
/// the rate actually published (1.00 = it kept up, nothing queued or lost).
public struct SoakBenchmark: Sendable {
    /// Run length after the start, seconds (warm-up included).
    public var seconds: Int
    /// Messages per second published.
    public var rate: Int
    /// Devices the messages rotate over (5 series each).
    public var devices: Int
    /// Seconds excluded from the flatness verdict.
    public var warmupSeconds: Int
    /// Seconds between samples.
    public var sampleSeconds: Int
    /// API queries per second (0: none).
    public var queriesPerSecond: Int
    /// Rollups to a local VictoriaMetrics.
    public var uplink: Bool
    /// The `citygate` binary to run.
    public var executable: String
    /// Device profiles directory.
    public var profiles: String
    /// Where the run's files go (default: a fresh temporary directory, removed afterwards).
    public var directory: String?

    /// Creates the benchmark.
    public init(seconds: Int, rate: Int, devices: Int, warmupSeconds: Int, sampleSeconds: Int, queriesPerSecond: Int, uplink: Bool,
                executable: String, profiles: String, directory: String? = nil) {
        self.seconds = seconds
        self.rate = rate
        self.devices = devices
        self.warmupSeconds = warmupSeconds
        self.sampleSeconds = sampleSeconds
        self.queriesPerSecond = queriesPerSecond
        self.uplink = uplink
        self.executable = executable
        self.profiles = profiles
        self.directory = directory
    }

    /// One reading.
    public struct Sample: Sendable {
        /// Seconds since the load started.
        public var elapsed: Double
        /// Messages handed to the broker so far.
        public var published: Int
        /// Messages the gateway's pipeline took (gateway_pipeline_messages_total).
        public var ingested: Int
        /// Series in the store.
        public var series: Int
        /// Messages dropped at ingest (gateway_ingest_dropped_total).
        public var dropped: Int
        /// Resident memory, bytes.
        public var residentBytes: Int64
        /// Threads.
        public var threads: Int
        /// Open descriptors.
        public var descriptors: Int
        /// CPU seconds used so far.
        public var cpuSeconds: Double
        /// Bytes under the data directory.
        public var dataBytes: Int64
    }

    /// Latency of one kind of query, milliseconds.
    public struct Latency: Sendable {
        /// Query kind.
        public var kind: String
        /// Answered queries.
        public var count: Int
        /// Queries that failed or answered other than 200.
        public var failed: Int
        public var p50: Double
        public var p99: Double
        public var max: Double
    }

    /// What a run measured.
    public struct Result: Sendable {
        /// Every sample, in order.
        public var samples: [Sample]
        /// Resident memory of the connected, idle gateway before the first message.
        public var idleResidentBytes: Int64
        /// Messages published and ingested in all.
        public var published: Int
        public var ingested: Int
        /// Query latencies.
        public var latencies: [Latency]
        /// SIGTERM to exit, seconds, and the exit status (0 is clean).
        public var shutdownSeconds: Double
        public var exitStatus: Int32
        /// CO2 rollup points VictoriaMetrics held at the end (-1: no uplink).
        public var uplinkPoints: Int

        /// Samples after the warm-up.
        public func steady(after warmup: Int) -> [Sample] { samples.filter { $0.elapsed >= Double(warmup) } }
    }

    static let alertRules = """
        rules:
          - { id: soak-co2-high, summary: CO2 high in a soak device, select: { metric: co2 }, above: 1200, clear: 1000, for: 30s }
          - { id: soak-silent, summary: Soak device silent, select: { metric: co2 }, no_data: { factor: 3, minimum: 10m } }
        """

    /// Runs the soak; `progress` gets every sample as it is taken and notes on the phases.
    public func run(progress: @Sendable (String) -> Void) async throws -> Result {
        let dir = try directory ?? StoreBenchSupport.temporaryDirectory("citygate-soak")
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: dir) } }
        try FileManager.default.createDirectory(atPath: dir + "/rules", withIntermediateDirectories: true)
        try Self.alertRules.write(toFile: dir + "/rules/soak.yaml", atomically: true, encoding: .utf8)

        let broker = try LocalBroker(extraConfig: ["max_queued_messages 0", "max_queued_bytes 0", "max_inflight_messages 0"])
        defer { broker.stop() }
        Self.children.withLock { $0.append(broker.pid) }
        var vm: (process: Process, base: String)?
        if uplink {
            guard let binary = VictoriaMetricsReference.binary(), let curl = StoreBenchSupport.which("curl") else {
                throw StoreBenchError.tool(VictoriaMetricsReference.missingMessage)
            }
            vm = try await StoreBenchSupport.startVictoriaMetrics(binary, curl: curl, dataPath: dir + "/vm-data", logPath: dir + "/victoria-metrics.log")
            Self.children.withLock { $0.append(vm!.process.processIdentifier) }
        }
        defer { if let vm { VictoriaMetricsReference.stop(vm.process) } }

        let httpPort = try StoreBenchSupport.freeLoopbackPort()
        let config = dir + "/gateway.yaml"
        var yaml = """
            data_dir: \(dir)/data
            profiles_dir: \(profiles)
            log_level: warning
            mqtt: { port: \(broker.port), client_id: soak-gateway }
            alerts: { rules_dir: \(dir)/rules, mqtt: { enabled: false } }
            http: { enabled: true, host: 127.0.0.1, port: \(httpPort), api: { rate_limit: { per_second: 100000, burst: 100000 } } }

            """
        if let vm {
            yaml += """
                forwarder:
                  enabled: true
                  gateway_id: soak
                  windows: [ { size: 1m, lateness: 10s } ]
                  outbox: { path: \(dir)/data/outbox.db }
                  sinks: [ { name: vm, kind: http, url: "\(vm.base)/write" } ]

                """
        }
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let token = try StoreBenchSupport.run(executable, ["token", "add", "soak", "--role", "viewer", "-c", config])
        guard token.status == 0 else { throw StoreBenchError.tool("citygate token add failed: \(token.error)") }
        let bearer = "Bearer " + token.output.trimmingCharacters(in: .whitespacesAndNewlines)

        let gateway = Process()
        gateway.executableURL = URL(fileURLWithPath: executable)
        gateway.arguments = ["run", "-c", config]
        _ = FileManager.default.createFile(atPath: dir + "/gateway.log", contents: nil)
        let log = FileHandle(forWritingAtPath: dir + "/gateway.log")
        gateway.standardOutput = log
        gateway.standardError = log
        gateway.standardInput = FileHandle.nullDevice
        try gateway.run()
        defer { if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) } }
        Self.children.withLock { $0.append(gateway.processIdentifier) }
        let base = "http://127.0.0.1:\(httpPort)"
        let http = HTTPClient.shared
        let deadline = ContinuousClock.now + .seconds(120)
        while (try? await Self.get(http, base + "/ready", auth: nil))?.status != 200 {
            guard gateway.isRunning, ContinuousClock.now < deadline else { throw StoreBenchError.tool("the gateway did not become ready (see \(dir)/gateway.log)") }
            try await Task.sleep(for: .milliseconds(200))
        }
        let probe = ProcessProbe(pid: gateway.processIdentifier)
        try await Task.sleep(for: .seconds(2))
        let idle = probe.residentBytes ?? 0
        progress("gateway ready (pid \(gateway.processIdentifier)), idle resident \(Self.mib(idle)) MiB; publishing \(rate) msg/s over \(devices) devices for \(seconds) s\n")

        // The load.
        let publisher = try MosquittoClient(configuration: .init(port: broker.port, clientID: "soak-publisher", cleanSession: true, maxInflightMessages: 0)) { _ in }
        try publisher.start()
        defer { publisher.stop(flushTimeout: .seconds(10)) }
        while !publisher.isConnected {
            guard ContinuousClock.now < deadline else { throw StoreBenchError.tool("the publisher did not connect") }
            try await Task.sleep(for: .milliseconds(10))
        }
        let shared = Shared()
        let start = ContinuousClock.now
        let stop = start + .seconds(seconds)
        let rate = self.rate, devices = self.devices
        let load = Task.detached {
            let topics = (0..<devices).map { String(format: "lora/milesight/em500-co2/24e1240000%06x/up", $0) }
            var sent = 0
            while ContinuousClock.now < stop, !Task.isCancelled {
                let due = min(Int(Self.seconds(ContinuousClock.now - start) * Double(rate)), rate * Int(Self.seconds(stop - start))) - sent
                for _ in 0..<max(0, due) {
                    // Keep libmosquitto's outgoing list short (see `pendingPublishes`); a broker that falls behind
                    // shows as published < target, not as a publisher spinning in its own list.
                    while publisher.pendingPublishes > 2_000, !Task.isCancelled { try? await Task.sleep(for: .milliseconds(1)) }
                    let d = sent % devices
                    let round = sent / devices
                    let payload = Self.payload(device: d, round: round)
                    while (try? publisher.publish(topic: topics[d], payload: payload, qos: .atLeastOnce)) == nil {
                        try? await Task.sleep(for: .milliseconds(1))
                    }
                    sent += 1
                    if sent & 255 == 0 { shared.published.store(sent, ordering: .relaxed) }
                }
                shared.published.store(sent, ordering: .relaxed)
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        defer { load.cancel() }

        // The queries.
        let queries = Task.detached { [queriesPerSecond] in
            guard queriesPerSecond > 0 else { return }
            var rng = SystemRandomNumberGenerator()
            var i = 0
            let metrics = ["battery", "temperature", "humidity", "co2", "pressure"]
            while ContinuousClock.now < stop, !Task.isCancelled {
                let sentSoFar = shared.published.load(ordering: .relaxed)
                guard sentSoFar > 0 else {
                    try? await Task.sleep(for: .milliseconds(100))
                    continue
                }
                let device = String(format: "24e1240000%06x", Int.random(in: 0..<min(devices, sentSoFar), using: &rng))
                let metric = metrics[Int.random(in: 0..<metrics.count, using: &rng)]
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                let (kind, path): (String, String) = switch i % 3 {
                case 0: ("last", "/v1/series/\(device)/\(metric)/last")
                case 1: ("raw 10 min", "/v1/series/\(device)/\(metric)?from=\(now - 600_000)&to=\(now)")
                default: ("1 h in 1 min steps", "/v1/series/\(device)/\(metric)?from=\(now - 3_600_000)&to=\(now)&step=60000")
                }
                i += 1
                let t0 = ContinuousClock.now
                let status = (try? await Self.get(http, base + path, auth: bearer))?.status ?? 0
                let ms = Self.seconds(ContinuousClock.now - t0) * 1000
                shared.latencies.withLock { l in
                    if status == 200 { l[kind, default: ([], 0)].times.append(ms) } else { l[kind, default: ([], 0)].failed += 1 }
                }
                try? await Task.sleep(for: .milliseconds(1000 / queriesPerSecond))
            }
        }
        defer { queries.cancel() }

        // The samples.
        var samples: [Sample] = []
        func sample() async -> Sample {
            let metrics = (try? await Self.get(http, base + "/metrics", auth: nil)).map { Self.parseMetrics($0.body) } ?? [:]
            return Sample(elapsed: Self.seconds(ContinuousClock.now - start), published: shared.published.load(ordering: .relaxed),
                          ingested: Int(metrics["gateway_pipeline_messages_total"] ?? -1), series: Int(metrics["gateway_store_series"] ?? -1),
                          dropped: Int(metrics["gateway_ingest_dropped_total"] ?? 0), residentBytes: probe.residentBytes ?? -1,
                          threads: probe.threads ?? -1, descriptors: probe.descriptors ?? -1, cpuSeconds: probe.cpuSeconds ?? -1,
                          dataBytes: StoreBenchSupport.directoryBytes(dir + "/data"))
        }
        var next = start + .seconds(sampleSeconds)
        while ContinuousClock.now < stop {
            guard gateway.isRunning else { throw StoreBenchError.tool("the gateway exited during the soak (see \(dir)/gateway.log)") }
            try await Task.sleep(until: min(next, stop))
            if ContinuousClock.now >= next {
                let s = await sample()
                progress(Self.describe(s, previous: samples.last) + "\n")
                samples.append(s)
                next = next + .seconds(sampleSeconds)
            }
        }
        _ = await load.value
        queries.cancel()
        let total = shared.published.load(ordering: .relaxed)
        // Let the gateway take what is queued (bounded).
        let drainLimit = ContinuousClock.now + .seconds(120)
        var last = await sample()
        while last.ingested < total, ContinuousClock.now < drainLimit {
            try await Task.sleep(for: .milliseconds(500))
            last = await sample()
        }
        samples.append(last)
        progress(Self.describe(last, previous: samples.dropLast().last) + " (end)\n")

        var uplinkPoints = -1
        if let vm {
            // Rollups of the last window close after its lateness; give the forwarder a moment, then count.
            try await Task.sleep(for: .seconds(15))
            let q = "sum(count_over_time(co2_count[\(seconds + 600)s]))"
            let encoded = q.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? q
            if let r = try? await Self.get(http, vm.base + "/api/v1/query?query=\(encoded)", auth: nil) {
                uplinkPoints = VictoriaMetricsReference.firstValue(r.body) ?? -1
            }
        }

        let t0 = ContinuousClock.now
        kill(gateway.processIdentifier, SIGTERM)
        while gateway.isRunning, ContinuousClock.now - t0 < .seconds(30) { try await Task.sleep(for: .milliseconds(20)) }
        let shutdown = Self.seconds(ContinuousClock.now - t0)
        if gateway.isRunning { kill(gateway.processIdentifier, SIGKILL) }
        gateway.waitUntilExit()
        let l = shared.latencies.withLock { $0 }
        return Result(samples: samples, idleResidentBytes: idle, published: total, ingested: last.ingested,
                      latencies: l.keys.sorted().map { k in
                          let v = l[k]!
                          return Latency(kind: k, count: v.times.count, failed: v.failed, p50: StoreBenchSupport.quantile(v.times, 0.5),
                                         p99: StoreBenchSupport.quantile(v.times, 0.99), max: v.times.max() ?? 0)
                      },
                      shutdownSeconds: shutdown, exitStatus: gateway.terminationReason == .exit ? gateway.terminationStatus : -gateway.terminationStatus,
                      uplinkPoints: uplinkPoints)
    }

    /// Child processes of runs in progress (broker, VictoriaMetrics, gateway), for `killChildren()`.
    static let children = Mutex<[Int32]>([])

    /// Kills the child processes of runs in progress: for a command interrupted by a signal, whose defers do not run.
    public static func killChildren() {
        for pid in children.withLock({ $0 }) { kill(pid, SIGKILL) }
    }

    /// What the load, query and sampling tasks share.
    final class Shared: Sendable {
        let published = Atomic<Int>(0)
        let latencies = Mutex<[String: (times: [Double], failed: Int)]>([:])
    }

    /// An EM500-CO2 uplink: battery, temperature, humidity, CO2, pressure; every thousandth device above 1200 ppm.
    static func payload(device d: Int, round: Int) -> [UInt8] {
        let co2 = UInt16(d % 1000 == 0 ? 1500 : 400 + (d + round) % 500)
        let t = Int16(150 + (d + round) % 150)
        let p = UInt16(10_000 + (d + round) % 200)
        return [0x01, 0x75, UInt8(50 + d % 50), 0x03, 0x67, UInt8(truncatingIfNeeded: t), UInt8(truncatingIfNeeded: t >> 8), 0x04, 0x68, UInt8(60 + (d + round) % 60),
                0x05, 0x7D, UInt8(co2 & 0xFF), UInt8(co2 >> 8), 0x06, 0x73, UInt8(p & 0xFF), UInt8(p >> 8)]
    }

    /// Sums a /metrics page's samples by metric name, labels folded together (the page read by
    /// `VictoriaMetricsReference.parseMetrics`, which keys each sample by `name{labels}`).
    static func parseMetrics(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for (key, value) in VictoriaMetricsReference.parseMetrics(text) {
            out[key.split(separator: "{", maxSplits: 1).first.map(String.init) ?? key, default: 0] += value
        }
        return out
    }

    static func get(_ http: HTTPClient, _ url: String, auth: String?) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        if let auth { request.headers.add(name: "Authorization", value: auth) }
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func mib(_ bytes: Int64) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }

    static func describe(_ s: Sample, previous: Sample?) -> String {
        let dt = s.elapsed - (previous?.elapsed ?? 0)
        let rate = dt > 0 ? Double(s.ingested - (previous?.ingested ?? 0)) / dt : 0
        let cpu = dt > 0 ? (s.cpuSeconds - (previous?.cpuSeconds ?? 0)) / dt : 0
        return String(format: "  t=%6.0f s  published %10d  ingested %10d (%7.0f msg/s)  series %8d", s.elapsed, s.published, s.ingested, rate, s.series)
            + "  RSS \(mib(s.residentBytes)) MiB  threads \(s.threads)  fds \(s.descriptors)  CPU \(String(format: "%.2f", cpu))  data \(mib(s.dataBytes)) MiB"
    }

    /// Least-squares slope of resident memory over time, bytes per hour.
    public static func residentSlopePerHour(_ samples: [Sample]) -> Double {
        guard samples.count >= 2 else { return 0 }
        let n = Double(samples.count)
        let mx = samples.map(\.elapsed).reduce(0, +) / n
        let my = samples.map { Double($0.residentBytes) }.reduce(0, +) / n
        let sxy = samples.map { ($0.elapsed - mx) * (Double($0.residentBytes) - my) }.reduce(0, +)
        let sxx = samples.map { ($0.elapsed - mx) * ($0.elapsed - mx) }.reduce(0, +)
        return sxx > 0 ? sxy / sxx * 3600 : 0
    }
}
