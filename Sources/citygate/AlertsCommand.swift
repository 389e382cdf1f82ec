import Alerts
import ArgumentParser
import Foundation
import Gateway
import GatewayCore

struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts", abstract: "Inspect alerts: open ones, history, delivery cursors.",
        subcommands: [List.self, Events.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List alerts, newest first (read-only; acknowledge through the HTTP API).")
        @OptionGroup var options: ConfigOptions
        @Flag(help: "Only open alerts (pending or firing).") var open = false
        @Option(help: "Only this rule.") var rule: String?
        @Option(help: "Only this device.") var device: String?
        @Option(help: "At most this many rows.") var limit = 50

        func run() async throws {
            let config = try options.load()
            let store = try AlertStore(path: (config.dataDirectory as NSString).appendingPathComponent("alerts.db"))
            let alerts = try store.alerts(AlertStore.Filter(states: open ? [.pending, .firing] : [], rule: rule, device: device, limit: limit))
            var rows = [["ID", "STATE", "SEVERITY", "RULE", "DEVICE", "METRIC", "VALUE", "FIRED", "ACK", "RESOLVED"]]
            for a in alerts {
                rows.append([
                    "\(a.id)", a.state.rawValue, a.severity.rawValue + (a.escalated ? "↑" : ""), a.rule, a.device, a.metric.isEmpty ? "-" : a.metric,
                    a.value.map { String(format: "%.6g", $0) } ?? "-", a.firedMs.map(ProfileTool.iso8601) ?? "-",
                    a.acknowledged ? (a.acknowledgedBy ?? "yes") : "-",
                    a.resolvedMs.map { "\(ProfileTool.iso8601($0)) (\(a.resolvedBy ?? ""))" } ?? "-",
                ])
            }
            out(ProfileTool.render(rows))
            out("\(alerts.count) alerts\n")
        }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the alert event log and each channel's delivery cursor.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Events after this sequence number.") var after: Int64 = 0
        @Option(help: "At most this many events.") var limit = 50

        func run() async throws {
            let config = try options.load()
            let store = try AlertStore(path: (config.dataDirectory as NSString).appendingPathComponent("alerts.db"))
            let last = try store.lastEventSeq()
            for e in try store.events(after: max(after, last - Int64(limit)), limit: limit) {
                out("\(e.seq)  \(ProfileTool.iso8601(e.timeMs))  \(e.kind.rawValue)  #\(e.alert.id) \(e.alert.rule) \(e.alert.device)\n")
            }
            var channels: [String] = config.alerts.mqtt.enabled ? ["mqtt"] : []
            channels += config.alerts.webhooks.map(\.name)
            for c in channels {
                let cursor = try store.cursor(channel: c)
                out("channel \(c): delivered through \(cursor.map { "\($0)" } ?? "-") of \(last)\n")
            }
        }
    }
}

struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "Work with alert rule files.", subcommands: [Validate.self])

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check every rule file in a directory; errors name file:line:column.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "Rules directory (default: the configuration's alerts.rules_dir).") var directory: String?

        func run() async throws {
            let config = try options.load()
            let dir = directory ?? config.alerts.rulesDirectory
            do {
                let set = try RuleSet.load(directory: dir, knownChannels: config.alerts.channelNames)
                for rule in set.rules {
                    out("ok  \(rule.id)  \(rule.condition.kind)  \(rule.severity.rawValue)  \(rule.summary)\n")
                }
                out("\(set.rules.count) rules valid in \(dir)\n")
            } catch {
                FileHandle.standardError.write(Data("\(error.description)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
