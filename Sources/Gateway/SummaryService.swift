import Alerts
import Catalog
import Foundation
import GatewayCore
import MQTTIngest
import ServiceLifecycle
import TimeSeriesStore

/// Prints a live summary for the demo: messages/s, samples/s, devices, dead letters.
public struct SummaryService: Service {
    let runtime: GatewayRuntime
    let simulator: SimulatorService?
    let interval: Duration
    let write: @Sendable (String) -> Void

    /// Creates the printer.
    public init(runtime: GatewayRuntime, simulator: SimulatorService?, interval: Duration = .seconds(2), write: @escaping @Sendable (String) -> Void) {
        self.runtime = runtime
        self.simulator = simulator
        self.interval = interval
        self.write = write
    }

    /// Prints until shutdown, with a line per alert event as it happens.
    public func run() async throws {
        let feed = runtime.alertFeed.subscribe()
        let write = self.write
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in feed {
                    let a = event.alert
                    let value = a.lastValue.map { String(format: " %@=%.3g", a.metric, $0) } ?? ""
                    let who = event.kind == .resolved ? " (\(a.resolvedBy ?? ""))" : ""
                    write("  ALERT \(event.kind.rawValue.uppercased()) #\(a.id) \(a.severity.rawValue) \(a.rule) on \(a.device)\(value)\(who)\n")
                }
            }
            await printSummaries()
            runtime.alertFeed.finish()
        }
    }

    private func printSummaries() async {
        var last = runtime.pipeline.stats
        var lastTime = MonotonicClock.nowNs()
        write("time      msg/s  samples/s  stored(points/segments)  devices(online/total)  alerts(firing/fired)  dead letters (by reason)              queue(depth/drops)  broker  published\n")
        var ticks = 0
        while !Task.isShuttingDownGracefully {
            do {
                try await Task.sleep(for: interval)
            } catch {
                break
            }
            let now = MonotonicClock.nowNs()
            let s = runtime.pipeline.stats
            let seconds = Double(now - lastTime) / 1e9
            let summary = runtime.registry.summary
            let reasons = s.deadLetters.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: " ")
            let mqtt = runtime.mqtt?.stats
            let drops = mqtt?.dropped ?? 0
            let time = ProfileTool.iso8601(WallClock.nowMs()).dropFirst(11).prefix(8)
            let stored = runtime.store.map { st in "\(st.stats.acceptedPoints)/\(st.stats.segments)" } ?? "off"
            let alerts = runtime.alerts.map { a in "\(a.stats.open)/\(a.stats.fired)" } ?? "off"
            let line = String(format: "%@  %6.0f  %9.0f  %23@  %21@  %20@  %-38@  %18@  %6@  %9d\n", String(time), Double(s.messages - last.messages) / seconds,
                              Double(s.samples - last.samples) / seconds, stored as NSString, "\(summary.online)/\(summary.total)" as NSString,
                              alerts as NSString,
                              "\(s.deadLetterTotal) (\(reasons))" as NSString, "\(mqtt?.queueDepth ?? 0)/\(drops)" as NSString,
                              (mqtt?.connected ?? false ? "up" : "DOWN") as NSString, simulator?.stats.published ?? 0)
            write(line)
            ticks += 1
            if ticks % 10 == 0, let store = runtime.store { write(queryExample(store)) }
            last = s
            lastTime = now
        }
    }

    /// A sample query against the store, so the demo shows data being read back: the last 5 minutes of one
    /// water-level sensor at 1-minute steps.
    func queryExample(_ store: TimeSeriesStore) -> String {
        guard let series = store.series().first(where: { $0.metric == "distance" }) ?? store.series().first else { return "" }
        let now = WallClock.nowMs()
        guard let buckets = try? store.downsample(series.id, fromMs: now - 300_000, toMs: now, stepMs: 60_000) else { return "" }
        let cells = buckets.map { "\(ProfileTool.iso8601($0.startMs).dropFirst(11).prefix(5)) avg \(String(format: "%.3f", $0.avg)) (\($0.count))" }
        return "  query \(series.device)/\(series.metric) [\(series.unit)] last 5 min by minute: \(cells.joined(separator: ", "))\n"
    }
}
