import ArgumentParser
import DeviceProfiles
import Foundation
import Gateway
import Logging

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Benchmarks, reported as ratios against a reference measured in the same run.",
                                                    subcommands: [Ingest.self])

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publisher → mosquitto → gateway decoding to samples, beside mosquitto_sub on the same broker.")
        @Option(help: "Messages per workload.") var messages = 200_000
        @Option(help: "QoS (0 or 1).") var qos = 0
        @Option(help: "Distinct devices.") var devices = 10_000
        @Option(help: "Runs per workload (the median is reported).") var runs = 3
        @Option(help: "Device profiles directory.") var profiles = "device-profiles"

        func run() async throws {
            var logger = Logger(label: "citygate.bench")
            logger.logLevel = .warning
            let set = try ProfileSet.load(directory: profiles)
            let bench = IngestBenchmark(messages: messages, qos: qos, devices: devices)
            out("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB; \(messages) messages per run, QoS \(qos), \(runs) runs, median shown\n")
            var rows: [[String]] = [["WORKLOAD", "BYTES", "GATEWAY MSG/S", "SAMPLES/S", "MOSQUITTO_SUB MSG/S", "RATIO", "PUBLISH MSG/S", "LOST", "DEAD"]]
            for w in bench.standardWorkloads() {
                var results: [IngestBenchmark.Result] = []
                for _ in 0..<runs { results.append(try await bench.run(w, profiles: set, logger: logger)) }
                let r = results.sorted { $0.ratio < $1.ratio }[results.count / 2]
                rows.append([
                    r.name, "\(r.payloadBytes)", String(format: "%.0f", r.gatewayRate), String(format: "%.0f", r.sampleRate),
                    String(format: "%.0f", r.referenceRate), String(format: "%.2f", r.ratio), String(format: "%.0f", Double(r.messages) / r.publishSeconds),
                    "\(r.messages - r.gatewayMessages)", "\(r.gatewayDeadLetters)",
                ])
                out("  \(w.name): ratios \(results.map { String(format: "%.2f", $0.ratio) }.joined(separator: " "))\n")
            }
            out(ProfileTool.render(rows))
        }
    }
}
