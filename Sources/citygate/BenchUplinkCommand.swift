import ArgumentParser
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
    @Option(help: "The victoria-metrics binary (default: found on PATH or in /usr/bin).") var vmBinary: String?
    @Option(help: "Where the temporary outbox and VictoriaMetrics data go (default $TMPDIR or /tmp).") var workDir: String?
    @Flag(help: "Keep the temporary directory (printed) instead of removing it.") var keep = false
    @Flag(help: "No receiver: read, render and compress every batch, acknowledge at once (the gateway's side alone).") var dryRun = false

    func run() async throws {
        guard series > 0, hours > 0, batchPoints > 0 else { throw ValidationError("--series, --hours and --batch-points must be positive") }
        let dir = try StoreBenchSupport.temporaryDirectory("citygate-bench-uplink", in: workDir)
        defer { if !keep { try? FileManager.default.removeItem(atPath: dir) } }
        let commandLine = (["citygate"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        out("machine: \(UplinkBenchmark.machine()); \(series) series × \(hours * 60) one-minute rollups; work dir \(dir)\n")
        var bench = UplinkBenchmark(series: series, hours: hours, batchPoints: batchPoints, gzip: gzip, vmBinary: vmBinary)
        bench.dryRun = dryRun
        let r = try await bench.run(directory: dir) { out($0 + "\n") }
        let rows = [
            ["FIGURE", "VALUE"],
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
        out(ProfileTool.render(rows))
        out("command: \(commandLine)\n")
        if keep { out("kept \(dir)\n") }
    }
}
