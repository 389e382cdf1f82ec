import Catalog
import Foundation
import GatewayCore
import MQTTIngest
import ServiceLifecycle

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

    /// Prints until shutdown.
    public func run() async throws {
        var last = runtime.pipeline.stats
        var lastTime = MonotonicClock.nowNs()
        write("time      msg/s  samples/s  devices(online/total)  dead letters (by reason)              queue(depth/drops)  broker  published\n")
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
            let line = String(format: "%@  %6.0f  %9.0f  %21@  %-38@  %18@  %6@  %9d\n", String(time), Double(s.messages - last.messages) / seconds,
                              Double(s.samples - last.samples) / seconds, "\(summary.online)/\(summary.total)" as NSString,
                              "\(s.deadLetterTotal) (\(reasons))" as NSString, "\(mqtt?.queueDepth ?? 0)/\(drops)" as NSString,
                              (mqtt?.connected ?? false ? "up" : "DOWN") as NSString, simulator?.stats.published ?? 0)
            write(line)
            last = s
            lastTime = now
        }
    }
}
