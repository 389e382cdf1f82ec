import ArgumentParser
import Forwarder
import Foundation
import Gateway

/// `citygate bench uplink`: drain rate of a full outbox into VictoriaMetrics (loopback) in points/s.
struct BenchUplinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uplink",
        abstract: "Uplink drain rate: a day of 1-minute rollups for N series from the outbox into VictoriaMetrics, points/s.",
        discussion: """
            The goal is 500,000 points/s: a day of 1-minute rollups for 100,000 series (144 million points) drained in under \
            5 minutes. The default run is that day; --series 10000 is a quicker one (14.4 million points). Needs \
            /usr/bin/victoria-metrics (Debian victoria-metrics) and curl; the outbox takes about 70 bytes per point on disk.
            """)
    @Option(help: "Series in the outbox.") var series = 100_000
    @Option(help: "Hours of 1-minute rollups per series.") var hours = 24
    @Option(help: "Points per HTTP request.") var batchPoints = 50_000
    @Flag(inversion: .prefixedNo, help: "gzip the request bodies (as the default sink configuration does).") var gzip = true
    @Option(help: "gzip level, 1 (fastest, the sink's default) to 9.") var gzipLevel = 1
    @Option(help: "Requests on the wire at once (the sink's max_in_flight; also the reference sender's concurrency).") var maxInFlight = 2
    @Option(help: "Fields per point, comma-separated (the sink's fields:), e.g. avg,max. Default: all six.") var fields: String?
    @Flag(inversion: .prefixedNo, help: "Measure the reference first: the same bodies, pre-built, POSTed by a minimal sender into a fresh VictoriaMetrics.")
    var reference = true
    @Option(help: "Most points the reference sends (its bodies are held in memory).") var referencePoints = 14_400_000
    @Option(help: "The victoria-metrics binary (default: found on PATH or in /usr/bin).") var vmBinary: String?
    @Option(help: "Where the temporary outbox and VictoriaMetrics data go (default $TMPDIR or /tmp).") var workDir: String?
    @Flag(help: "Keep the temporary directory (printed) instead of removing it.") var keep = false
    @Flag(help: "No receiver: read, render and compress every batch, acknowledge at once (the gateway's side alone).") var dryRun = false

    func run() async throws {
        guard series > 0, hours > 0, batchPoints > 0 else { throw ValidationError("--series, --hours and --batch-points must be positive") }
        guard (1...9).contains(gzipLevel) else { throw ValidationError("--gzip-level must be 1 to 9") }
        guard (1...16).contains(maxInFlight) else { throw ValidationError("--max-in-flight must be 1 to 16") }
        guard referencePoints > 0 else { throw ValidationError("--reference-points must be positive") }
        var chosen: RollupFields = .all
        if let fields {
            chosen = []
            for name in fields.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard let f = RollupFields(name: name) else { throw ValidationError("--fields: unknown field '\(name)'; known: min, max, avg, sum, count, last") }
                chosen.insert(f)
            }
            guard !chosen.isEmpty else { throw ValidationError("--fields needs at least one field") }
        }
        let fieldNames = RollupFields.names.filter { chosen.contains($0.1) }.map(\.0).joined(separator: ",")
        let dir = try StoreBenchSupport.temporaryDirectory("citygate-bench-uplink", in: workDir)
        defer { if !keep { try? FileManager.default.removeItem(atPath: dir) } }
        let commandLine = (["citygate"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        out("machine: \(StoreBenchSupport.machine()); \(series) series × \(hours * 60) one-minute rollups; work dir \(dir)\n")
        var bench = UplinkBenchmark(series: series, hours: hours, batchPoints: batchPoints, gzip: gzip, vmBinary: vmBinary)
        bench.dryRun = dryRun
        bench.gzipLevel = gzipLevel
        bench.maxInFlight = maxInFlight
        bench.fields = chosen
        bench.reference = reference && !dryRun
        bench.referencePoints = referencePoints
        let r = try await bench.run(directory: dir) { out($0 + "\n") }
        var rows = [
            ["FIGURE", "VALUE"],
            ["settings", "batch_points \(batchPoints), max_in_flight \(maxInFlight), gzip \(gzip ? "level \(gzipLevel)" : "off"), fields \(fieldNames)"],
            ["points drained", StoreBenchSupport.grouped(r.points)],
            ["drain time", String(format: "%.1f s", r.drainSeconds)],
            ["drain rate", String(format: "%.0f points/s", r.pointsPerSecond)],
            ["goal (500,000 points/s)", r.pointsPerSecond >= 500_000 ? "met" : "not met"],
            ["requests", "\(r.batches) acknowledged, \(r.failures) failed"],
            ["line protocol", String(format: "%.1f MiB (%.0f bytes/point)", Double(r.lineProtocolBytes) / 1_048_576, Double(r.lineProtocolBytes) / Double(max(1, r.points)))],
            ["sent (gzip \(gzip ? "on" : "off"))", String(format: "%.1f MiB (%.1f bytes/point)", Double(r.wireBytes) / 1_048_576, Double(r.wireBytes) / Double(max(1, r.points)))],
            ["outbox fill", String(format: "%.1f s, %.0f MiB file (%.0f bytes/point)", r.fillSeconds, Double(r.outboxFileBytes) / 1_048_576,
                                   Double(r.outboxFileBytes) / Double(max(1, r.points)))],
            ["stored in VictoriaMetrics", r.storedPoints < 0 ? "(query failed)" : "\(StoreBenchSupport.grouped(r.storedPoints)) points"],
            ["receiver", dryRun ? r.vmVersion : "victoria-metrics \(r.vmVersion), loopback, -dedup.minScrapeInterval=1ms"],
        ]
        if let ref = r.reference {
            rows.append(["reference (same bodies, pre-built)",
                         String(format: "%.0f points/s: ", ref.pointsPerSecond) + "\(StoreBenchSupport.grouped(ref.points)) points "
                             + String(format: "in %.1f s, %d requests, %d failed (bodies built in %.1f s)", ref.seconds, ref.requests, ref.failures, ref.prepareSeconds)])
            rows.append(["gateway / reference", String(format: "%.2f", r.ratio ?? 0)])
        }
        rows.append(["gateway CPU during the drain", String(format: "%.1f s (%.2f µs/point)", r.drainCPUSeconds, r.drainCPUSeconds * 1e6 / Double(max(1, r.points)))])
        if r.receiverCPUSeconds >= 0 {
            rows.append(["VictoriaMetrics CPU during the drain", String(format: "%.1f s (%.2f µs/point)", r.receiverCPUSeconds,
                                                                       r.receiverCPUSeconds * 1e6 / Double(max(1, r.points)))])
        }
        if let ref = r.reference, ref.receiverCPUSeconds >= 0 {
            rows.append(["CPU during the reference", String(format: "sender %.1f s, VictoriaMetrics %.1f s (%.2f µs/point)", ref.senderCPUSeconds,
                                                           ref.receiverCPUSeconds, ref.receiverCPUSeconds * 1e6 / Double(max(1, ref.points)))])
        }
        rows.append(["load average at the end", (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"])
        rows.append(["machine", StoreBenchSupport.machine()])
        out(ProfileTool.render(rows))
        out("command: \(commandLine)\n")
        if keep { out("kept \(dir)\n") }
    }
}
