import ArgumentParser
import Foundation
import DeviceProfiles
import Gateway
import GatewayCore
import Logging
import TimeSeriesStore

/// Parses `2026-01-01T00:00:00Z`, `now`, `-24h`, `-30m`, or Unix milliseconds.
func parseTime(_ text: String, now: Int64 = WallClock.nowMs()) throws -> Int64 {
    if text == "now" { return now }
    if text.hasPrefix("-"), let ms = DeviceProfilesBridge.durationMs(String(text.dropFirst())) { return now - ms }
    if let ms = Int64(text) { return ms }
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let d = f.date(from: text) { return Int64(d.timeIntervalSince1970 * 1000) }
    f.formatOptions = [.withInternetDateTime]
    if let d = f.date(from: text) { return Int64(d.timeIntervalSince1970 * 1000) }
    throw ValidationError("time '\(text)' must be ISO-8601, 'now', '-24h' or Unix milliseconds")
}

func openStoreReadOnly(_ options: ConfigOptions) throws -> TimeSeriesStore {
    let config = try options.load()
    return try TimeSeriesStore(configuration: StoreConfiguration(directory: config.storeDirectory), logger: quietLogger(), readOnly: true)
}

struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Read stored samples: raw, downsampled, or the last value per device and metric (sealed data; the live head is served by the HTTP API).")
    @OptionGroup var options: ConfigOptions
    @Option(help: "Device id.") var device: String?
    @Option(help: "Metric name.") var metric: String?
    @Option(help: "Start: ISO-8601, 'now', '-24h', or Unix ms.") var from = "-24h"
    @Option(help: "End (exclusive).") var to = "now"
    @Option(help: "Downsample step (e.g. 1m, 1h); raw points without it.") var step: String?
    @Flag(help: "The last value of every matching series instead of a range.") var last = false
    @Option(help: "table or csv.") var format = "table"

    func run() async throws {
        guard ["table", "csv"].contains(format) else { throw ValidationError("--format is table or csv") }
        let store = try openStoreReadOnly(options)
        let now = WallClock.nowMs()
        var rows: [[String]] = []
        if last {
            rows.append(["DEVICE", "METRIC", "TIME", "VALUE", "UNIT"])
            for s in store.series(device: device) where metric == nil || s.metric == metric {
                if let p = try store.last(s.id) { rows.append([s.device, s.metric, ProfileTool.iso8601(p.timeMs), fmt(p.value), s.unit]) }
            }
        } else {
            guard let device, let metric else { throw ValidationError("give --device and --metric (or --last)") }
            guard let id = store.seriesID(device: device, metric: metric) else { throw ValidationError("no stored series \(device) / \(metric)") }
            let unit = store.info(id)?.unit ?? ""
            let start = try parseTime(from, now: now)
            let end = try parseTime(to, now: now)
            if let step {
                guard let stepMs = DeviceProfilesBridge.durationMs(step), stepMs > 0 else { throw ValidationError("--step must be a duration such as 1m") }
                rows.append(["TIME", "COUNT", "MIN", "MAX", "AVG", "SUM", "LAST", "UNIT"])
                for b in try store.downsample(id, fromMs: start, toMs: end, stepMs: stepMs) {
                    rows.append([ProfileTool.iso8601(b.startMs), "\(b.count)", fmt(b.min), fmt(b.max), fmt(b.avg), fmt(b.sum), fmt(b.last), unit])
                }
            } else {
                rows.append(["TIME", "VALUE", "UNIT"])
                for p in try store.raw(id, fromMs: start, toMs: end - 1) { rows.append([ProfileTool.iso8601(p.timeMs), fmt(p.value), unit]) }
            }
        }
        if format == "csv" {
            out(rows.map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n")
        } else {
            out(ProfileTool.render(rows))
        }
    }
}

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Export stored samples as CSV or InfluxDB line protocol, with a progress bar.")
    @OptionGroup var options: ConfigOptions
    @Option(help: "Only this device.") var device: String?
    @Option(help: "Only this metric.") var metric: String?
    @Option(help: "Start: ISO-8601, 'now', '-24h', or Unix ms.") var from = "-24h"
    @Option(help: "End (exclusive).") var to = "now"
    @Option(help: "csv or line (InfluxDB line protocol, ms precision).") var format = "csv"
    @Option(help: "Output file (default: standard output).") var output: String?

    func run() async throws {
        guard ["csv", "line"].contains(format) else { throw ValidationError("--format is csv or line") }
        let store = try openStoreReadOnly(options)
        let now = WallClock.nowMs()
        let start = try parseTime(from, now: now)
        let end = try parseTime(to, now: now)
        let series = store.series(device: device).filter { metric == nil || $0.metric == metric }
        let sink: FileHandle
        if let output {
            FileManager.default.createFile(atPath: output, contents: nil)
            guard let h = FileHandle(forWritingAtPath: output) else { throw ValidationError("cannot write \(output)") }
            sink = h
        } else {
            sink = FileHandle.standardOutput
        }
        if format == "csv" { sink.write(Data("device,metric,time_ms,value,unit\n".utf8)) }
        let progress = ProgressBar(total: series.count, label: "export")
        var points = 0
        for (i, s) in series.enumerated() {
            var text = ""
            for p in try store.raw(s.id, fromMs: start, toMs: end - 1) {
                points += 1
                if format == "csv" {
                    text += "\(csv(s.device)),\(csv(s.metric)),\(p.timeMs),\(fmt(p.value)),\(s.unit)\n"
                } else if p.value.isFinite {
                    text += "\(escapeLP(s.metric)),device=\(escapeLP(s.device))\(s.unit.isEmpty ? "" : ",unit=\(escapeLP(s.unit))") value=\(fmt(p.value)) \(p.timeMs)\n"
                }
            }
            sink.write(Data(text.utf8))
            progress.update(i + 1, detail: "\(points) points")
        }
        progress.finish(detail: "\(points) points from \(series.count) series")
    }

    func csv(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
    func escapeLP(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ",", with: "\\,").replacingOccurrences(of: " ", with: "\\ ")
            .replacingOccurrences(of: "=", with: "\\=")
    }
}

/// A progress bar on standard error, drawn only when it is a terminal.
final class ProgressBar {
    let total: Int
    let label: String
    let enabled = isatty(2) != 0
    var lastDraw = Date.distantPast

    init(total: Int, label: String) {
        self.total = max(total, 1)
        self.label = label
    }

    func update(_ done: Int, detail: String) {
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
        lastDraw = Date()
        let width = 30
        let filled = width * done / total
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done * 100 / total)% \(detail)   ".utf8))
    }

    func finish(detail: String) {
        FileHandle.standardError.write(Data(((enabled ? "\r" : "") + "\(label): \(detail)\n").utf8))
    }
}

/// Number formatting and duration parsing from DeviceProfiles, named for the CLI.
enum DeviceProfilesBridge {
    static func durationMs(_ text: String) -> Int64? { YAMLReader.parseDurationMilliseconds(text) }
}

func fmt(_ d: Double) -> String { DeviceProfiles.Value.number(d).description }
