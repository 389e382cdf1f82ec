import Foundation
import Gateway
import GatewayTesting
import Testing

/// `citygate bench soak` end to end, briefly: the real binary as gateway, a real mosquitto, the API queried. The
/// figures themselves are for the long run (docs/reliability.md); this checks the harness counts what it claims.
@Suite("bench soak", .enabled(if: citygateExecutable != nil, "build the citygate executable first (swift build)"))
struct BenchSoakTests {
    @Test func aShortSoakIngestsEverythingAndReportsItsSamples() async throws {
        let dir = try TemporaryDirectory(prefix: "citygate-soak-test")
        let csv = dir.file("samples.csv")
        let out = try await ProcessRunner.run(citygateExecutable!, [
            "bench", "soak", "--seconds", "12", "--rate", "400", "--devices", "300", "--warmup", "4", "--sample-every", "2",
            "--queries", "10", "--no-uplink", "--profiles", Repo.profiles, "--dir", dir.file("run"), "--csv", csv,
        ], timeout: .seconds(300))
        let text = out.stdoutText + out.stderrText
        #expect(out.succeeded, "\(text)")
        let rows = FileContents.text(atPath: csv).split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        #expect(rows.count >= 5, "a sample every 2 s over 12 s, and the end: \(rows)")
        let end = try #require(rows.last)
        let published = Int(end[1]) ?? -1, ingested = Int(end[2]) ?? -2, series = Int(end[3]) ?? -1
        #expect(published >= 4_000, "about 400 msg/s for 12 s were published: \(published)")
        #expect(ingested == published, "the gateway took every message: \(ingested) of \(published)")
        #expect(series == 1_500, "300 devices × 5 metrics: \(series)")
        #expect(rows.allSatisfy { (Int64($0[5]) ?? 0) > 1_000_000 && (Int($0[6]) ?? 0) > 0 && (Int($0[7]) ?? 0) > 0 }, "resident memory, threads, descriptors read from /proc: \(rows)")
        #expect(text.contains("API query last: p50"), "query latencies reported: \(text)")
        #expect(text.contains("SIGTERM → exit") && text.contains("status 0"), "clean exit: \(text)")
        // The gateway's own store has the data: the last CO2 of device 0 is its breaching 1500 ppm.
        let last = try await ProcessRunner.run(citygateExecutable!, ["query", "-c", dir.file("run/gateway.yaml"), "--device", "24e1240000000000", "--metric", "co2", "--last"])
        #expect(last.stdoutText.contains("1500"), "\(last.stdoutText)\(last.stderrText)")
    }
}
