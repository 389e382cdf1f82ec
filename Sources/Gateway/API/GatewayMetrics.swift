import Alerts
import Catalog
import Metrics
import Prometheus
import Synchronization
import TimeSeriesStore

/// The process's Prometheus registry, behind swift-metrics: every `Counter`/`Gauge` the stages create lands here
/// once `bootstrap()` ran (the `run` and `demo` commands call it; tests may too, once per process).
public enum GatewayMetrics {
    /// The registry `/metrics` renders.
    public static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped = Mutex(false)

    /// Routes swift-metrics to `registry`. Safe to call more than once.
    public static func bootstrap() {
        bootstrapped.withLock { done in
            guard !done else { return }
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            done = true
        }
    }

    /// Whether `bootstrap()` ran in this process.
    public static var isBootstrapped: Bool { bootstrapped.withLock { $0 } }
}

extension GatewayRuntime {
    /// The Prometheus text for `/metrics`: the stages' counters, plus gauges read at scrape time from the store,
    /// the registry and the alert engine (so they are current without a timer).
    func metricsText() -> [UInt8] {
        let r = GatewayMetrics.registry
        let summary = registry.summary
        r.makeGauge(name: "gateway_devices", labels: [("state", "online")], help: "Known devices by state").set(Double(summary.online))
        r.makeGauge(name: "gateway_devices", labels: [("state", "offline")], help: "Known devices by state").set(Double(summary.offline))
        if let store {
            let s = store.stats
            r.makeGauge(name: "gateway_store_series", help: "Series in the store").set(Double(s.series))
            r.makeGauge(name: "gateway_store_head_points", help: "Points in memory, not yet sealed into segments").set(Double(s.headPoints))
            r.makeGauge(name: "gateway_store_segments", help: "Active segment files").set(Double(s.segments))
            r.makeGauge(name: "gateway_store_segment_bytes", help: "Bytes of active segment files").set(Double(s.segmentBytes))
            r.makeGauge(name: "gateway_store_evicted_segments", help: "Segments evicted by the ring since start").set(Double(s.evictedSegments))
            r.makeGauge(name: "gateway_store_quarantined_segments", help: "Segments quarantined since start").set(Double(s.quarantinedSegments))
            r.makeGauge(name: "gateway_store_accepted_points", help: "Points accepted since start").set(Double(s.acceptedPoints))
        }
        if let alerts {
            r.makeGauge(name: "gateway_alerts_open", help: "Open alerts (pending and firing)").set(Double(alerts.stats.open))
        }
        if let deadLetterCount = try? deadLetters.count() {
            r.makeGauge(name: "gateway_deadletters", help: "Dead letters kept").set(Double(deadLetterCount))
        }
        return r.emitToBuffer()
    }
}
