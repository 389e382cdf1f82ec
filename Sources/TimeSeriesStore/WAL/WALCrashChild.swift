#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// The child process of the WAL crash test (`WALCrashTests`): it appends numbered batches to a WAL as fast as it can
/// and prints the number of every batch on stdout only after `commit()` returned for it, until it is killed.
///
/// The test SIGKILLs it at random moments, replays the directory and checks that every printed (acknowledged) batch
/// is present and intact. Hosted by the `wal-crash-child` executable target (`WALCrashChild.main(arguments:)`); it lives
/// in the library so the test and the child share the batch generator.
public enum WALCrashChild {
    /// Entry point of the `wal-crash-child` executable: `wal-crash-child <directory> [first-batch]`. Never returns.
    public static func main(arguments: [String]) -> Never {
        guard arguments.count >= 2, arguments.count <= 3 else {
            printError("usage: wal-crash-child <directory> [first-batch]\n")
            exit(2)
        }
        do {
            try run(directory: arguments[1], firstBatch: arguments.count == 3 ? Int(arguments[2]) : nil)
        } catch {
            printError("wal-crash-child: \(error)\n")
            exit(1)
        }
    }

    /// Replays `directory` (repairing a torn tail), then appends batch after batch — from `firstBatch`, or after the
    /// highest batch found — committing every few batches and printing the numbers of the batches each commit made
    /// durable. Rotates now and then. Exits by itself after two minutes or when its parent is gone (a test that died),
    /// never otherwise.
    public static func run(directory: String, firstBatch: Int? = nil) throws -> Never {
        var highest = -1
        let report = try WALReader.replay(directory: directory) { record in
            if case .points(let points) = record, let n = batchNumber(of: points) { highest = max(highest, n) }
        }
        let first = max(firstBatch ?? 0, highest + 1)
        printError("wal-crash-child: start at batch \(first), \(report.records) records, \(report.issues.count) issues\n")

        let logger = Logger(label: "wal-crash-child", factory: { _ in SwiftLogNoOpLogHandler() })
        var random = SystemRandomNumberGenerator()
        let writer = try WALWriter(
            directory: directory, segmentBytes: 256 << 10, commitInterval: .milliseconds(Int64.random(in: 1...20, using: &random)),
            flushThresholdBytes: 64 << 10, logger: logger
        )
        let parent = getppid()
        let stopAt = WALClock.nowNs() + 120_000_000_000
        var unacknowledged: [Int] = []
        var n = first
        while true {
            if n % seriesEvery == 0 {
                guard writer.append(series: series(n)) else { fail("append(series:) refused: \(String(describing: writer.lastError))") }
            }
            guard writer.append(points: batch(n)) else { fail("append(points:) refused: \(String(describing: writer.lastError))") }
            unacknowledged.append(n)
            n += 1
            if Int.random(in: 0..<4, using: &random) == 0 {
                try writer.commit()
                acknowledge(unacknowledged)
                unacknowledged.removeAll(keepingCapacity: true)
            }
            if Int.random(in: 0..<300, using: &random) == 0 { _ = try writer.rotate() }
            if getppid() != parent || WALClock.nowNs() > stopAt { exit(0) }
        }
    }

    /// A series record precedes every batch whose number is a multiple of this.
    static let seriesEvery = 25
    /// Time of batch 0 (2026-01-01T00:00Z).
    static let baseTimeMs: Int64 = 1_767_225_600_000

    /// The points of batch `n`: 20–399 points, deterministic, so the verifier can rebuild them exactly.
    static func batch(_ n: Int) -> [(SeriesID, Point)] {
        let count = 20 + (n &* 7919) % 380
        return (0..<count).map { i in
            let id = SeriesID((n &* 131 &+ i) % 5000)
            let time = baseTimeMs + Int64(n) * 1000 + Int64(i)
            return (id, Point(timeMs: time, value: Double(n) + Double(i) / 1024))
        }
    }

    /// The series definitions written before batch `n` (when `n` is a multiple of `seriesEvery`).
    static func series(_ n: Int) -> [WALSeriesDefinition] {
        [(id: SeriesID(1_000_000 + n), device: "设备-\(n)-ü", metric: "temperature", unit: "°C")]
    }

    /// The batch number a points record claims (from its first point's time), if it looks like a batch at all.
    static func batchNumber(of points: [(SeriesID, Point)]) -> Int? {
        guard let first = points.first else { return nil }
        let offset = first.1.timeMs - baseTimeMs
        guard offset >= 0, offset % 1000 == 0 else { return nil }
        return Int(offset / 1000)
    }

    /// The batch number of a series record written by the child, if it matches one exactly.
    static func batchNumber(of definitions: [WALSeriesDefinition]) -> Int? {
        guard definitions.count == 1, definitions[0].id >= 1_000_000 else { return nil }
        let n = Int(definitions[0].id) - 1_000_000
        let expected = series(n)[0]
        let got = definitions[0]
        guard got.device == expected.device, got.metric == expected.metric, got.unit == expected.unit else { return nil }
        return n
    }

    /// Prints one line per batch number, in one write(2) so a kill cannot interleave partial lines.
    private static func acknowledge(_ numbers: [Int]) {
        guard !numbers.isEmpty else { return }
        var text = ""
        for n in numbers { text += "\(n)\n" }
        writeAll(1, text)
    }

    private static func fail(_ message: String) -> Never {
        printError("wal-crash-child: \(message)\n")
        exit(3)
    }

    private static func printError(_ text: String) {
        writeAll(2, text)
    }

    private static func writeAll(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            done += n
        }
    }
}
