import ArgumentParser
import DeviceProfiles
import Foundation
import Gateway
import GatewayCore
import Logging

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Benchmarks, reported as ratios against a reference measured in the same run.",
                                                    subcommands: [Ingest.self, Decode.self, BenchStoreCommand.self, Alerts.self, BenchCoAPCommand.self, BenchUplinkCommand.self, BenchSoakCommand.self])

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publisher → mosquitto → gateway decoding to samples, beside mosquitto_sub on the same broker.")
        @Option(help: "Messages per workload.") var messages = 200_000
        @Option(help: "QoS (0 or 1).") var qos = 0
        @Option(help: "Distinct devices.") var devices = 10_000
        @Option(help: "Runs per workload (the median is reported).") var runs = 3
        @Option(help: "Device profiles directory.") var profiles = "device-profiles"
        @Option(help: "live (publisher, gateway and mosquitto_sub at once), drain (each receiver drains the same backlog alone), or both.")
        var mode = "both"

        func run() async throws {
            var logger = Logger(label: "citygate.bench")
            logger.logLevel = .warning
            let set = try ProfileSet.load(directory: profiles)
            let bench = IngestBenchmark(messages: messages, qos: qos, devices: devices)
            out("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB; \(messages) messages per run, QoS \(qos), \(runs) runs, median shown\n")
            guard ["live", "drain", "both"].contains(mode) else { throw ValidationError("--mode is live, drain or both") }
            var rows: [[String]] = [["MODE", "WORKLOAD", "BYTES", "GATEWAY MSG/S", "SAMPLES/S", "MOSQUITTO_SUB MSG/S", "RATIO", "PUBLISH MSG/S", "LOST", "DEAD"]]
            for m in (mode == "both" ? ["live", "drain"] : [mode]) {
                for w in bench.standardWorkloads() {
                    var results: [IngestBenchmark.Result] = []
                    for _ in 0..<runs {
                        results.append(m == "live" ? try await bench.run(w, profiles: set, logger: logger) : try await bench.drain(w, profiles: set, logger: logger))
                    }
                    let r = results.sorted { $0.ratio < $1.ratio }[results.count / 2]
                    rows.append([
                        m, r.name, "\(r.payloadBytes)", String(format: "%.0f", r.gatewayRate), String(format: "%.0f", r.sampleRate),
                        String(format: "%.0f", r.referenceRate), String(format: "%.2f", r.ratio), String(format: "%.0f", Double(r.messages) / r.publishSeconds),
                        "\(r.messages - r.gatewayMessages)", "\(r.gatewayDeadLetters)",
                    ])
                    out("  \(m) \(w.name): ratios \(results.map { String(format: "%.2f", $0.ratio) }.joined(separator: " "))\n")
                }
            }
            out(ProfileTool.render(rows))
        }
    }

    struct Decode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "In-process decode cost per message for the ingest workloads (no broker).")
        @Option(help: "Messages per workload.") var messages = 500_000
        @Option(help: "Device profiles directory.") var profiles = "device-profiles"

        func run() async throws {
            let set = try ProfileSet.load(directory: profiles)
            let bench = IngestBenchmark(messages: messages, qos: 0, devices: 10_000)
            var rows: [[String]] = [["WORKLOAD", "MSG/S (1 CORE)", "NS/MSG", "SAMPLES/S"]]
            for w in bench.standardWorkloads() {
                let raw = (0..<messages).map { i -> RawMessage in
                    let m = w.message(i)
                    return RawMessage(transport: .mqtt, topic: m.topic, payload: m.payload, receiveTimeMs: WallClock.nowMs())
                }
                var samples = 0
                let start = MonotonicClock.nowNs()
                for chunk in stride(from: 0, to: raw.count, by: 1024) {
                    var batch = SampleBatch(reservingCapacity: 4096)
                    for m in raw[chunk..<min(chunk + 1024, raw.count)] { set.decode(m, into: &batch) }
                    samples += batch.samples.count
                }
                let seconds = Double(MonotonicClock.nowNs() - start) / 1e9
                rows.append([w.name, String(format: "%.0f", Double(messages) / seconds), String(format: "%.0f", seconds * 1e9 / Double(messages)),
                             String(format: "%.0f", Double(samples) / seconds)])
            }
            out(ProfileTool.render(rows))
        }
    }

    struct Alerts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Receive → alert emitted latency at a paced message rate over many series (decode, registry, store, alert engine).")
        @Option(help: "Messages per second.") var rate = 20_000
        @Option(help: "Series under rules (two per device).") var series = 100_000
        @Option(help: "Measured seconds per run.") var seconds = 20
        @Option(help: "Share of messages that breach a threshold.") var breachShare = 0.005
        @Flag(help: "Also run an anomaly detector on every pressure series.") var anomaly = false
        @Option(help: "Device profiles directory.") var profiles = "device-profiles"

        func run() async throws {
            var bench = AlertBenchmark()
            bench.rate = rate
            bench.series = series
            bench.seconds = seconds
            bench.breachShare = breachShare
            bench.anomaly = anomaly
            let logger = quietLogger()
            out("machine: \(StoreBenchSupport.machine())\n")
            out("workload: \(series) series (EM500-PP pressure + battery), \(rate) msg/s for \(seconds) s, \(breachShare * 100)% breaching\n")
            let reference = try await bench.run(profiles: profiles, withRules: false, logger: logger)
            let measured = try await bench.run(profiles: profiles, withRules: true, logger: logger)
            var rows = [["RUN", "MSG/S", "BATCH P50 ms", "BATCH P99 ms", "ALERTS", "LATENCY P50 ms", "P99 ms", "MAX ms", "RSS MiB"]]
            for (name, r) in [("pipeline, no rules (reference)", reference), ("pipeline + alert rules", measured)] {
                rows.append([
                    name, String(format: "%.0f", r.messagesPerSecond), String(format: "%.3f", r.batchP50Ms), String(format: "%.3f", r.batchP99Ms),
                    "\(r.fired)", r.fired > 0 ? String(format: "%.3f", r.p50Ms) : "-", r.fired > 0 ? String(format: "%.3f", r.p99Ms) : "-",
                    r.fired > 0 ? String(format: "%.3f", r.maxMs) : "-", String(format: "%.0f", Double(r.residentBytes) / 1_048_576),
                ])
            }
            out(ProfileTool.render(rows))
            out(String(format: "alerts add %.2f× to the pipeline's p99 batch time; receive → fired p99 %.3f ms (goal < 2 ms)\n",
                       measured.batchP99Ms / max(reference.batchP99Ms, 1e-9), measured.p99Ms))
        }
    }
}
