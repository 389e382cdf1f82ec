import GatewayCore
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The uplink as one `Service`: commits the rollup stage's closed windows, its checkpoint and queued events to the
/// outbox every flush interval, runs one `SinkRunner` per sink, publishes backlog metrics and raises the backlog
/// alert.
///
/// Place it after the store and before the transports in the service group: on shutdown the transports stop
/// first, their last batches reach the rollup stage, then this service commits a final cut and stops its sinks.
public final class ForwarderService: Service, Sendable {
    /// The settings in force.
    public let configuration: ForwarderConfiguration
    /// The pipeline stage to add to the downstream sinks.
    public let stage: RollupStage
    /// The outbox.
    public let outbox: Outbox
    private let executor = OutboxExecutor()
    private let sinks: [any UplinkSink]
    private let counters: [SinkCounters]
    private let pendingEvents = Mutex<[UplinkEvent]>([])
    private let alerting = Mutex<Set<String>>([])
    private let lastStatus = Mutex<OutboxStatus?>(nil)
    private let onBacklogAlert: @Sendable (_ sink: String, _ firing: Bool, _ oldestAgeMs: Int64) -> Void
    private let logger: Logger
    private let metrics: ForwarderMetrics

    /// Opens the outbox, restores the open windows it saved, and builds the sinks (unless `sinks` is given: tests
    /// and benchmarks pass their own). `onBacklogAlert` hears each raise and clear of the backlog alert.
    public init(configuration: ForwarderConfiguration, sinks: [any UplinkSink]? = nil, logger: Logger,
                onBacklogAlert: @escaping @Sendable (_ sink: String, _ firing: Bool, _ oldestAgeMs: Int64) -> Void = { _, _, _ in }) throws {
        self.configuration = configuration
        self.logger = logger
        self.onBacklogAlert = onBacklogAlert
        let sinks = try sinks ?? configuration.makeSinks()
        self.sinks = sinks
        counters = sinks.map { SinkCounters(name: $0.name) }
        outbox = try Outbox(
            configuration: .init(path: configuration.outboxPath, maxBytes: configuration.maxBytes, rowPoints: configuration.rowPoints, keepSent: configuration.keepSent),
            sinks: sinks.map(\.name))
        stage = RollupStage(windows: configuration.windows)
        let checkpoint = try outbox.loadCheckpoint()
        stage.restore(clockMs: checkpoint.clockMs, series: checkpoint.series)
        metrics = ForwarderMetrics(sinks: sinks.map(\.name), windows: stage.windows)
        logger.info("Uplink outbox opened", metadata: [
            "outbox.path": "\(configuration.outboxPath)", "outbox.bytes": "\(outbox.totalBytes)", "rollup.open_series": "\(checkpoint.series.count)",
            "uplink.sinks": "\(sinks.map(\.name).joined(separator: ","))",
        ])
    }

    // MARK: Events (the alert engine and the registry call these)

    /// Queues events for the next commit (within one flush interval). Never blocks; for synchronous callers such
    /// as the registry's state-change callback.
    public func enqueue(_ events: [UplinkEvent]) {
        guard !events.isEmpty else { return }
        pendingEvents.withLock { $0.append(contentsOf: events) }
    }

    /// Queues one event for the next commit.
    public func enqueue(_ event: UplinkEvent) {
        enqueue([event])
    }

    /// Writes events to the outbox now and returns once they are durable: for callers that acknowledge
    /// something (an alert to the control room) only after the uplink holds it.
    public func enqueueDurably(_ events: [UplinkEvent]) async throws {
        guard !events.isEmpty else { return }
        let outbox = self.outbox
        _ = try await executor.run { try outbox.commit(points: [], events: events, nowMs: WallClock.nowMs()) }
    }

    // MARK: Flushing

    /// Commits one cut: closed windows, the changed open windows, the clock and queued events. On failure the cut
    /// and the events are kept for the next attempt, and the error is rethrown.
    @discardableResult
    public func flush() async throws -> Outbox.CommitResult {
        let cut = stage.cut()
        let events = pendingEvents.withLock { e in
            defer { e.removeAll() }
            return e
        }
        if cut.points.isEmpty && cut.checkpoint.isEmpty && events.isEmpty { return Outbox.CommitResult() }
        let outbox = self.outbox
        do {
            let result = try await executor.run {
                try outbox.commit(points: cut.points, events: events, checkpoint: cut.checkpoint, clockMs: cut.clockMs, nowMs: WallClock.nowMs())
            }
            metrics.committed(cut.points, dropped: result.dropped)
            if !result.dropped.isEmpty {
                logger.info("Outbox over its bound: oldest rollups dropped", metadata: [
                    "outbox.dropped": "\(result.dropped.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ","))",
                ])
            }
            return result
        } catch {
            stage.restore(failed: cut)
            pendingEvents.withLock { $0.insert(contentsOf: events, at: 0) }
            throw error
        }
    }

    // MARK: Status

    /// The outbox's status now (backlog per sink, cursors, drops).
    public func status() async throws -> OutboxStatus {
        let outbox = self.outbox
        return try await executor.run { try outbox.status(nowMs: WallClock.nowMs()) }
    }

    /// Live counters per sink: points sent, failures, points rejected since start.
    public var sinkCounters: [(sink: String, sentPoints: Int, failures: Int, rejectedPoints: Int)] {
        counters.map { ($0.name, $0.sentPointsTotal.load(ordering: .relaxed), $0.failuresTotal.load(ordering: .relaxed), $0.rejectedTotal.load(ordering: .relaxed)) }
    }

    private func updateStatus(previous: inout [Int], elapsedSeconds: Double) async {
        guard let status = try? await self.status() else { return }
        lastStatus.withLock { $0 = status }
        let sent = counters.map { $0.sentPointsTotal.load(ordering: .relaxed) }
        let rates = zip(sent, previous).map { elapsedSeconds > 0 ? Double($0 - $1) / elapsedSeconds : 0 }
        previous = sent
        metrics.update(status, rates: rates, late: stage.statistics.late)
        guard let limit = configuration.backlogAlertAgeMs else { return }
        for s in status.sinks {
            let over = s.oldestUnsentAgeMs > limit
            let changed = alerting.withLock { a -> Bool in
                over ? a.insert(s.name).inserted : a.remove(s.name) != nil
            }
            metrics.backlogAlert(sink: s.name, firing: over)
            guard changed else { continue }
            logger.info(over ? "Uplink backlog older than its limit" : "Uplink backlog back within its limit", metadata: [
                "uplink.sink": "\(s.name)", "uplink.oldest_age_ms": "\(s.oldestUnsentAgeMs)", "uplink.backlog_points": "\(s.backlogPoints)",
            ])
            onBacklogAlert(s.name, over, s.oldestUnsentAgeMs)
            let now = WallClock.nowMs()
            enqueue(.alert(alertID: "uplink_backlog:\(configuration.gatewayID):\(s.name)", rule: "uplink_backlog", device: "", severity: "warning",
                           state: over ? "firing" : "resolved", value: Double(s.oldestUnsentAgeMs) / 1000, timeMs: now,
                           detailsJSON: "{\"sink\":\(JSONText.quoted(s.name)),\"backlog_points\":\(s.backlogPoints)}"))
        }
    }

    // MARK: Service

    /// Flushes every interval and runs the sinks until graceful shutdown; then commits a final cut.
    public func run() async throws {
        let runners = zip(sinks, counters).map { sink, c in
            let settings = configuration.sinks.first { $0.name == sink.name }
            return SinkRunner(sink: sink, outbox: outbox, executor: executor, batchPoints: settings?.batchPoints ?? 10_000,
                              maxInFlight: sink.sendsOneAtATime ? 1 : settings?.maxInFlight ?? 1, backoff: settings?.backoff ?? Backoff(),
                              idlePoll: min(configuration.flushInterval, .milliseconds(250)), counters: c, logger: logger)
        }
        await withTaskGroup(of: Void.self) { group in
            for runner in runners { group.addTask { await runner.run() } }
            var previous = counters.map { _ in 0 }
            var lastStatusNs = MonotonicClock.nowNs()
            await updateStatus(previous: &previous, elapsedSeconds: 0)
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: self.configuration.flushInterval) }
                } catch {
                    break
                }
                do {
                    try await flush()
                } catch {
                    logger.info("Outbox commit failed", metadata: ["error": "\(error)"])
                }
                let now = MonotonicClock.nowNs()
                let elapsed = Double(now - lastStatusNs) / 1e9
                if elapsed >= Double(configuration.statusInterval.components.seconds) + Double(configuration.statusInterval.components.attoseconds) / 1e18 {
                    await updateStatus(previous: &previous, elapsedSeconds: elapsed)
                    lastStatusNs = now
                }
            }
            group.cancelAll()
        }
        do {
            try await flush()
        } catch {
            logger.info("Outbox commit failed at shutdown", metadata: ["error": "\(error)"])
        }
        for sink in sinks { await sink.shutdown() }
        logger.info("Uplink stopped", metadata: ["outbox.bytes": "\(outbox.totalBytes)"])
    }
}

/// The forwarder's metrics (swift-metrics API; the `citygate` binary bootstraps the backend).
final class ForwarderMetrics: Sendable {
    private let backlogPoints: [String: Gauge]
    private let backlogBytes: [String: Gauge]
    private let oldestAge: [String: Gauge]
    private let rate: [String: Gauge]
    private let alert: [String: Gauge]
    private let outboxBytes = Gauge(label: "gateway_uplink_outbox_bytes")
    private let rollups: [Int64: Counter]
    private let dropped: Mutex<[UplinkStream: Counter]> = Mutex([:])
    private let late: [Int64: Gauge]
    private let sinks: [String]

    init(sinks: [String], windows: [RollupWindow]) {
        self.sinks = sinks
        func gauges(_ label: String) -> [String: Gauge] {
            Dictionary(uniqueKeysWithValues: sinks.map { ($0, Gauge(label: label, dimensions: [("sink", $0)])) })
        }
        backlogPoints = gauges("gateway_uplink_backlog_points")
        backlogBytes = gauges("gateway_uplink_backlog_bytes")
        oldestAge = gauges("gateway_uplink_oldest_unsent_seconds")
        rate = gauges("gateway_uplink_send_rate_points_per_second")
        alert = gauges("gateway_uplink_backlog_alert")
        rollups = Dictionary(uniqueKeysWithValues: windows.map { ($0.sizeMs, Counter(label: "gateway_rollup_points_total", dimensions: [("window", $0.label)])) })
        late = Dictionary(uniqueKeysWithValues: windows.map { ($0.sizeMs, Gauge(label: "gateway_rollup_late_samples", dimensions: [("window", $0.label)])) })
    }

    func committed(_ points: [RollupPoint], dropped d: [UplinkStream: Int]) {
        var counts: [Int64: Int] = [:]
        for p in points { counts[p.windowMs, default: 0] += 1 }
        for (w, n) in counts { rollups[w]?.increment(by: Int64(n)) }
        for (stream, n) in d {
            let c = dropped.withLock { m in
                if let c = m[stream] { return c }
                let c = Counter(label: "gateway_uplink_dropped_points_total", dimensions: [("stream", stream.description)])
                m[stream] = c
                return c
            }
            c.increment(by: Int64(n))
        }
    }

    func update(_ status: OutboxStatus, rates: [Double], late lateCounts: [Int64: Int]) {
        outboxBytes.record(status.bytes)
        for s in status.sinks {
            backlogPoints[s.name]?.record(s.backlogPoints)
            backlogBytes[s.name]?.record(s.backlogBytes)
            oldestAge[s.name]?.record(Double(s.oldestUnsentAgeMs) / 1000)
        }
        for (name, r) in zip(sinks, rates) { rate[name]?.record(r) }
        for (w, n) in lateCounts { late[w]?.record(n) }
    }

    func backlogAlert(sink: String, firing: Bool) {
        alert[sink]?.record(firing ? 1 : 0)
    }
}
