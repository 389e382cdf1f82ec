import Foundation
import GatewayCore
import GatewayTesting
import Testing
@testable import TimeSeriesStore

/// The store under SIGKILL: a child process ingests and acknowledges committed batches; it is killed at random
/// moments, and after every kill the store must open clean with every acknowledged batch intact.
let crashChildExecutable: String? = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    let path = url.path + "/.build/debug/citygate"
    return FileManager.default.isExecutableFile(atPath: path) ? path : nil
}()

@Suite(.serialized, .enabled(if: crashChildExecutable != nil, "build the citygate executable first (swift build)"))
struct StoreCrashTests {

    static var kills: Int { ProcessInfo.processInfo.environment["CITYGATE_LONG_TESTS"] == "1" ? 50 : 10 }

    @Test func killNineDuringIngestAndCheckpointsLosesNothingAcknowledged() async throws {
        let dir = try TemporaryDirectory(prefix: "citygate-crash")
        var acknowledged = -1
        var generator = SystemRandomNumberGenerator()
        for round in 0..<Self.kills {
            let out = dir.file("child-\(round).out")
            let child = try ChildProcess.spawn(
                executable: crashChildExecutable!, arguments: ["debug", "store-crash-child", "--dir", dir.path + "/store"],
                stdinPath: nil, stdoutPath: out, stderrPath: dir.file("child-\(round).err"))
            try await Task.sleep(for: .milliseconds(Int.random(in: 300...1500, using: &generator)))
            child.send(SIGKILL)
            child.wait()
            let acks = (try? String(contentsOfFile: out, encoding: .utf8))?.split(separator: "\n").compactMap { Int($0.split(separator: " ").last ?? "") } ?? []
            acknowledged = max(acknowledged, acks.max() ?? -1)

            // Reopen in this process: clean, consistent, nothing acknowledged missing.
            var c = StoreConfiguration(directory: dir.path + "/store")
            c.partitionMs = 60_000
            c.maxAgeMs = nil
            let store = try TimeSeriesStore(configuration: c, logger: quietLogger())
            #expect(store.recovery.quarantined.isEmpty, "round \(round): no segment is corrupt")
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/store/segments").filter { $0.hasSuffix(".seg") }
            #expect(files.count == store.stats.segments, "round \(round): catalog matches files")
            if acknowledged >= 0 {
                let series = store.series(device: "crash")
                #expect(series.count == 50)
                for s in series {
                    let points = try store.raw(s.id, fromMs: 0, toMs: .max)
                    let batches = Set(points.map { Int($0.value) })
                    let missing = (0...acknowledged).filter { !batches.contains($0) }
                    #expect(missing.isEmpty, "round \(round), \(s.metric): acknowledged batches missing: \(missing.prefix(5))")
                    // Each batch wrote 10 points per series; acknowledged ones must be whole.
                    let counts = Dictionary(grouping: points) { Int($0.value) }.mapValues(\.count)
                    #expect((0...acknowledged).allSatisfy { counts[$0] == 10 }, "round \(round), \(s.metric): a batch is partial")
                }
            }
            try store.close()
        }
        #expect(acknowledged > 0, "the child made progress")
    }
}
