import Alerts
import Catalog
import DeviceProfiles
import Foundation
import GatewayCore
import Logging
import Synchronization
import TimeSeriesStore

/// `citygate bench alerts`: receive → alert emitted latency through the real decode, pipeline, store and alert
/// engine, at a paced message rate over many series.
///
/// The workload is Milesight EM500-PP hydrant pressure sensors (binary TLV: battery + pressure, so two series per
/// device). A small share of messages carry a pressure far below the rule's threshold; each such message's
/// receive time is noted, and its latency ends when the engine hands the `fired` event (written to the alert
/// store) to delivery. The next ordinary message from that device resolves the alert, so every breach fires anew.
/// As a reference, the same paced workload runs once with no rules, giving the pipeline's own time per batch.
public struct AlertBenchmark: Sendable {
    /// Messages per second.
    public var rate = 20_000
    /// Series under rules (two per device).
    public var series = 100_000
    /// Measured seconds.
    public var seconds = 20
    /// Share of messages that breach.
    public var breachShare = 0.005
    /// Also run an anomaly detector on every pressure series.
    public var anomaly = false

    /// Creates the benchmark.
    public init() {}

    /// One run's figures.
    public struct Result: Sendable {
        /// Messages sent in the measured phase.
        public var messages: Int
        /// Achieved rate.
        public var messagesPerSecond: Double
        /// Alerts fired in the measured phase.
        public var fired: Int
        /// Latency receive → fired event, ms.
        public var p50Ms: Double
        /// 99th percentile.
        public var p99Ms: Double
        /// Worst.
        public var maxMs: Double
        /// Pipeline time per batch (decode + registry + store + alerts), median and p99, ms.
        public var batchP50Ms: Double
        /// 99th percentile.
        public var batchP99Ms: Double
        /// Resident memory after the run, bytes.
        public var residentBytes: Int
    }

    static let rulesYAML = """
        rules:
          - id: hydrant-pressure-low
            select: { profile: milesight-em500-pp, metric: pressure }
            below: 150000
            clear: 200000
            severity: major
          - id: battery-low
            select: { metric: battery }
            below: 5
            clear: 10
          - id: sensor-silent
            select: { family: neuron }
            no_data: { factor: 3 }
        """

    static let anomalyRule = """

          - id: pressure-anomaly
            select: { metric: pressure }
            anomaly: 0.6
            clear: 0.5
        """

    /// Runs once with rules (`withRules`) or without (the reference).
    public func run(profiles: String, withRules: Bool, logger: Logger) async throws -> Result {
        let set = try ProfileSet.load(directory: profiles)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("citygate-bench-alerts-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let registry = try DeviceRegistry(path: dir + "/catalog.db", logger: logger)
        let deadLetters = try DeadLetterStore(path: dir + "/catalog.db", logger: logger)
        let store = try TimeSeriesStore(configuration: StoreConfiguration(directory: dir + "/store"), logger: logger)
        defer { try? store.close() }

        let breaches = Mutex<[String: UInt64]>([:])
        let latencies = Mutex<[Double]>([])
        var stages: [any SampleSink] = [store]
        if withRules {
            let rules = try RuleSet.parse(files: [("bench.yaml", Self.rulesYAML + (anomaly ? Self.anomalyRule : ""))])
            let engine = try AlertEngine(rules: rules, store: try AlertStore(path: dir + "/alerts.db"), logger: logger) { events in
                let now = MonotonicClock.nowNs()
                for e in events where e.kind == .fired {
                    if let sent = breaches.withLock({ $0.removeValue(forKey: e.alert.device) }) {
                        latencies.withLock { $0.append(Double(now - sent) / 1e6) }
                    }
                }
            }
            stages.append(engine)
        }
        let pipeline = Pipeline(registry: registry, deadLetters: deadLetters, downstream: stages, logger: logger)
        let devices = max(1, series / 2)
        let topics = (0..<devices).map { String(format: "lora/milesight/em500-pp/24e1241%09x/up", $0) }
        let ids = (0..<devices).map { String(format: "24e1241%09x", $0) }
        func payload(_ kPa: Int, battery: Int = 90) -> [UInt8] {
            [0x01, 0x75, UInt8(battery), 0x03, 0x7B, UInt8(kPa & 0xFF), UInt8(kPa >> 8)]
        }

        // Warm-up: every device once, unpaced, so every series exists before measuring.
        for chunk in stride(from: 0, to: devices, by: 1000) {
            var batch = SampleBatch(reservingCapacity: 2000)
            for d in chunk..<min(chunk + 1000, devices) {
                set.decode(RawMessage(transport: .mqtt, topic: topics[d], payload: payload(300), receiveTimeMs: WallClock.nowMs()), into: &batch)
            }
            batch.messageCount = min(1000, devices - chunk)
            await pipeline.process(batch)
        }
        latencies.withLock { $0 = [] }

        var rng = SimRNG(7)
        var batchTimes: [Double] = []
        var sent = 0
        var fired = 0
        let total = rate * seconds
        let start = MonotonicClock.nowNs()
        var cursor = 0
        while sent < total {
            let elapsed = Double(MonotonicClock.nowNs() - start) / 1e9
            let due = min(total, Int(elapsed * Double(rate))) - sent
            if due <= 0 {
                try await Task.sleep(for: .microseconds(200))
                continue
            }
            let t0 = MonotonicClock.nowNs()
            var batch = SampleBatch(reservingCapacity: due * 2)
            let wall = WallClock.nowMs()
            for _ in 0..<due {
                let d = cursor % devices
                cursor += 1
                let breach = Double(rng.next() >> 11) / Double(1 << 53) < breachShare
                if breach {
                    let isNew = breaches.withLock { b -> Bool in
                        guard b[ids[d]] == nil else { return false }
                        b[ids[d]] = t0
                        return true
                    }
                    if isNew { fired += 1 }
                }
                let kPa = breach ? 40 + Int(rng.next() % 60) : 280 + Int(rng.next() % 40)
                set.decode(RawMessage(transport: .mqtt, topic: topics[d], payload: payload(kPa), receiveTimeMs: wall), into: &batch)
            }
            batch.messageCount = due
            await pipeline.process(batch)
            batchTimes.append(Double(MonotonicClock.nowNs() - t0) / 1e6)
            sent += due
        }
        let duration = Double(MonotonicClock.nowNs() - start) / 1e9
        let l = latencies.withLock { $0 }
        return Result(
            messages: sent, messagesPerSecond: Double(sent) / duration, fired: withRules ? l.count : 0,
            p50Ms: StoreBenchSupport.quantile(l, 0.5), p99Ms: StoreBenchSupport.quantile(l, 0.99), maxMs: l.max() ?? 0,
            batchP50Ms: StoreBenchSupport.quantile(batchTimes, 0.5), batchP99Ms: StoreBenchSupport.quantile(batchTimes, 0.99),
            residentBytes: StoreBenchSupport.residentBytes())
    }
}
