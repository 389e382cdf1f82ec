import ArgumentParser
import Forwarder
import Foundation
import Gateway
import GatewayCore

/// `citygate uplink status`: the outbox of a gateway (running or not), read without writing to it.
struct UplinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "uplink", abstract: "The uplink to the province platform.", subcommands: [Status.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Backlog per sink (points, bytes, oldest unsent age), cursors, send rate, overflow drops.",
            discussion: "Reads the outbox read-only, so it is safe next to a running gateway. The send rate is measured over --interval.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Seconds between the two readings the send rate is computed from (0: no rate).") var interval = 1.0

        func run() async throws {
            let config = try options.load()
            let path = config.outboxPath
            guard FileManager.default.fileExists(atPath: path) else {
                out("no outbox at \(path) (forwarder.enabled: \(config.forwarder.enabled))\n")
                return
            }
            let sinks = config.forwarderConfiguration.sinks.map(\.name)
            let first = try Outbox.readStatus(path: path, sinks: sinks, nowMs: WallClock.nowMs())
            var rates: [String: Double] = [:]
            if interval > 0 {
                try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                let second = try Outbox.readStatus(path: path, sinks: sinks, nowMs: WallClock.nowMs())
                for (a, b) in zip(first.sinks, second.sinks) { rates[a.name] = Double(b.sentPoints - a.sentPoints) / interval }
            }
            out(Self.render(first, rates: rates, maxBytes: config.forwarder.maxBytes, alertAgeMs: config.forwarder.backlogAlertAgeMs))
        }

        static func render(_ s: OutboxStatus, rates: [String: Double], maxBytes: Int64, alertAgeMs: Int64) -> String {
            var rows: [[String]] = [["SINK", "BACKLOG POINTS", "BACKLOG BYTES", "OLDEST UNSENT", "SENT POINTS", "POINTS/S", "NEXT SEQ", "IN FLIGHT", "CURSORS"]]
            for k in s.sinks {
                let inFlight = k.inFlight.isEmpty ? "-" : k.inFlight.map { "\($0.stream) #\($0.from)-\($0.to)" }.joined(separator: " ")
                let cursors = k.cursors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                var age = k.backlogRows == 0 ? "-" : Self.age(k.oldestUnsentAgeMs)
                if alertAgeMs > 0 && k.oldestUnsentAgeMs > alertAgeMs { age += " (ALERT)" }
                rows.append([k.name, "\(k.backlogPoints)", "\(k.backlogBytes)", age, "\(k.sentPoints)", rates[k.name].map { String(format: "%.0f", $0) } ?? "-",
                             "\(k.nextSeq)", inFlight, cursors.isEmpty ? "-" : cursors])
            }
            var text = ProfileTool.render(rows)
            text += "outbox: \(s.rows) rows, \(s.points) points, \(s.bytes) of \(maxBytes) bytes; \(s.openSeries) series with open windows"
            if let clock = s.clockMs { text += "; rollup clock \(ProfileTool.iso8601(clock))" }
            text += "\n"
            let dropped = s.dropped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            text += "dropped by the overflow policy: \(dropped.isEmpty ? "none" : dropped.joined(separator: ", "))\n"
            return text
        }

        static func age(_ ms: Int64) -> String {
            if ms < 60_000 { return String(format: "%.1fs", Double(ms) / 1000) }
            if ms < 3_600_000 { return "\(ms / 60_000)m\((ms / 1000) % 60)s" }
            if ms < 86_400_000 { return "\(ms / 3_600_000)h\((ms / 60_000) % 60)m" }
            return "\(ms / 86_400_000)d\((ms / 3_600_000) % 24)h"
        }
    }
}
