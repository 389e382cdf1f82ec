import ArgumentParser
import Foundation
import Gateway
import GatewayCore

/// `citygate bench soak`: the real gateway under a steady load for a long time; memory, threads and descriptors
/// sampled from outside. Also the scale run (`--devices 200000`: one million series).
struct BenchSoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Soak: `citygate run` under a steady MQTT load; resident memory, threads and descriptors must stay flat.",
        discussion: """
            Starts mosquitto, this binary as `citygate run` (alert rules, HTTP API, and with --uplink 1-minute rollups into \
            a local VictoriaMetrics), then publishes EM500-CO2 uplinks (five samples each) at --rate messages/s over \
            --devices devices at QoS 1 while querying the API. It samples the gateway every --sample-every seconds and \
            judges the samples after --warmup. The issue's soak is the default: one hour at 20,000 messages/s. The scale \
            run: --devices 200000 (1,000,000 series). Needs mosquitto (and victoria-metrics, curl for --uplink).
            """)
    @Option(help: "Length of the run, seconds.") var seconds = 3600
    @Option(help: "Messages per second.") var rate = 20_000
    @Option(help: "Devices (five series each).") var devices = 10_000
    @Option(help: "Seconds left out of the flatness verdict (default: a sixth of the run, at most 600).") var warmup: Int?
    @Option(help: "Seconds between samples (default: 60, or less for short runs).") var sampleEvery: Int?
    @Option(help: "API queries per second.") var queries = 5
    @Flag(inversion: .prefixedNo, help: "Forward 1-minute rollups to a local VictoriaMetrics.") var uplink = true
    @Option(help: "Device profiles directory.") var profiles = "device-profiles"
    @Option(help: "Keep the run's files (config, data, gateway.log) in this directory instead of a removed temporary one.") var dir: String?
    @Option(help: "Also write the samples as CSV to this file.") var csv: String?

    func run() async throws {
        guard seconds >= 10, rate > 0, devices > 0, queries >= 0 else { throw ValidationError("--seconds ≥ 10, --rate and --devices > 0, --queries ≥ 0") }
        let warmup = self.warmup ?? min(600, seconds / 6)
        let sampleEvery = self.sampleEvery ?? max(1, min(60, seconds / 30))
        guard warmup < seconds, sampleEvery > 0 else { throw ValidationError("--warmup must be shorter than --seconds; --sample-every positive") }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let profiles = URL(fileURLWithPath: self.profiles).standardizedFileURL.path
        if let dir { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let bench = SoakBenchmark(seconds: seconds, rate: rate, devices: devices, warmupSeconds: warmup, sampleSeconds: sampleEvery,
                                  queriesPerSecond: queries, uplink: uplink, executable: executable, profiles: profiles,
                                  directory: dir.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
        out("machine: \(StoreBenchSupport.machine()); load: \(rate) msg/s × 5 samples over \(devices) devices (\(devices * 5) series), \(seconds) s, warm-up \(warmup) s\n")
        // Ctrl-C or SIGTERM: take the broker, VictoriaMetrics and the gateway down too, then stop.
        let interrupts = [SIGINT, SIGTERM].map { (signo: Int32) -> any DispatchSourceSignal in
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
            source.setEventHandler {
                SoakBenchmark.killChildren()
                FileHandle.standardError.write(Data("bench soak interrupted; its child processes were stopped\n".utf8))
                Foundation.exit(130)
            }
            source.resume()
            return source
        }
        defer { interrupts.forEach { $0.cancel() } }
        let r = try await bench.run { out($0) }
        if let csv {
            var text = "elapsed_s,published,ingested,series,dropped,rss_bytes,threads,fds,cpu_s,data_bytes\n"
            for s in r.samples {
                text += "\(String(format: "%.1f", s.elapsed)),\(s.published),\(s.ingested),\(s.series),\(s.dropped),\(s.residentBytes),\(s.threads),\(s.descriptors),\(String(format: "%.2f", s.cpuSeconds)),\(s.dataBytes)\n"
            }
            try text.write(toFile: csv, atomically: true, encoding: .utf8)
        }
        out(Self.report(r, warmup: warmup, rate: rate, seconds: seconds))
    }

    static func report(_ r: SoakBenchmark.Result, warmup: Int, rate: Int, seconds: Int) -> String {
        let steady = r.steady(after: warmup)
        guard let first = steady.first, let last = steady.last, let end = r.samples.last else { return "no samples after the warm-up\n" }
        func mib(_ b: Int64) -> String { String(format: "%.1f MiB", Double(b) / 1_048_576) }
        let rss = steady.map(\.residentBytes)
        let growth = Double(last.residentBytes - first.residentBytes) / Double(max(1, first.residentBytes)) * 100
        let slope = SoakBenchmark.residentSlopePerHour(steady)
        let threads = steady.map(\.threads), fds = steady.map(\.descriptors)
        let perSeries = end.series > 0 ? Double(end.residentBytes - r.idleResidentBytes) / Double(end.series) : 0
        let cpu = (last.cpuSeconds - first.cpuSeconds) / max(1, last.elapsed - first.elapsed)
        let ingestRate = Double(last.ingested - first.ingested) / max(1, last.elapsed - first.elapsed)
        let publishRate = Double(last.published - first.published) / max(1, last.elapsed - first.elapsed)
        var rows: [[String]] = [["FIGURE", "VALUE"]]
        rows.append(["messages published / ingested", "\(r.published) / \(r.ingested) (\(r.published - r.ingested) not ingested, \(end.dropped) dropped at ingest)"])
        rows.append(["ingest rate after warm-up (ratio to published)", String(format: "%.0f msg/s (%.3f; target %d)", ingestRate, publishRate > 0 ? ingestRate / publishRate : 0, rate)])
        rows.append(["gateway CPU after warm-up", String(format: "%.2f cores", cpu)])
        rows.append(["resident after warm-up: first → last (min … max)", "\(mib(first.residentBytes)) → \(mib(last.residentBytes)) (\(mib(rss.min() ?? 0)) … \(mib(rss.max() ?? 0)))"])
        rows.append(["resident growth after warm-up; slope", String(format: "%+.1f %%; %+.1f MiB/h", growth, slope / 1_048_576)])
        rows.append(["threads after warm-up (min … max)", "\(threads.min() ?? -1) … \(threads.max() ?? -1)"])
        rows.append(["descriptors after warm-up (min … max)", "\(fds.min() ?? -1) … \(fds.max() ?? -1)"])
        rows.append(["series at the end; resident per series over the idle gateway", "\(end.series); \(String(format: "%.0f", perSeries)) B (idle \(mib(r.idleResidentBytes)))"])
        rows.append(["data directory at the end", mib(end.dataBytes)])
        for l in r.latencies {
            rows.append(["API query \(l.kind): p50 / p99 / max (n, failed)", String(format: "%.2f / %.2f / %.2f ms (%d, %d)", l.p50, l.p99, l.max, l.count, l.failed)])
        }
        if r.uplinkPoints >= 0 { rows.append(["CO2 1-minute rollups in VictoriaMetrics", "\(r.uplinkPoints)"]) }
        rows.append(["SIGTERM → exit", String(format: "%.2f s, status %d", r.shutdownSeconds, r.exitStatus)])
        return ProfileTool.render(rows)
    }
}
