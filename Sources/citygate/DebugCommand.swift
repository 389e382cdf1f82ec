import ArgumentParser
import Foundation
import GatewayCore
import Logging
import TimeSeriesStore

/// Hidden helpers for the fault tests (not for operators).
struct DebugCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug", abstract: "Fault-test helpers.", shouldDisplay: false, subcommands: [StoreCrashChild.self])

    /// Ingests forever into a store, printing `ack N` after batch N is committed, checkpointing often, so a test
    /// can SIGKILL it at any moment and check what survived.
    struct StoreCrashChild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "store-crash-child")
        @Option var dir: String
        @Option var series = 50
        @Option var batchPoints = 500

        func run() async throws {
            var logger = Logger(label: "crash-child")
            logger.logLevel = .critical
            var c = StoreConfiguration(directory: dir)
            c.partitionMs = 60_000
            c.sealGraceMs = 0
            c.commitInterval = .milliseconds(20)
            c.maxHeadPoints = 20_000
            c.maxBytes = 4 * 1_048_576
            c.maxAgeMs = nil
            let store = try TimeSeriesStore(configuration: c, logger: logger)
            // Continue after whatever the previous life acknowledged.
            let start = (try store.series(device: "crash").compactMap { try store.last($0.id) }.map { Int($0.value) }.max() ?? -1) + 1
            var batch = start
            while true {
                let samples = (0..<batchPoints).map { j -> Sample in
                    let t = Int64(batch) * 1000 + Int64(j)
                    return Sample(device: "crash", metric: "s\(j % series)", deviceTimeMs: 1_700_000_000_000 + t, receiveTimeMs: 0, value: Double(batch))
                }
                try store.append(samples)
                try store.commit()
                FileHandle.standardOutput.write(Data("ack \(batch)\n".utf8))
                if batch % 7 == 0 { try store.checkpoint() }
                batch += 1
            }
        }
    }
}
