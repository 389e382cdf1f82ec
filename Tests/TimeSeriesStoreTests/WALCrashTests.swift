#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import GatewayTesting
import Testing
@testable import TimeSeriesStore

/// Where the `wal-crash-child` executable is: `CITYGATE_WAL_CRASH_CHILD`, or beside the test binary (SwiftPM puts
/// every product of a build in the same directory).
enum WALCrashChildBinary {
    static let name = "wal-crash-child"

    static let path: String? = {
        if let configured = ProcessInfo.processInfo.environment["CITYGATE_WAL_CRASH_CHILD"], !configured.isEmpty {
            return access(configured, X_OK) == 0 ? configured : nil
        }
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((exe as NSString).deletingLastPathComponent)
        }
        if let argv0 = CommandLine.arguments.first, argv0.contains("/") {
            candidates.append((argv0 as NSString).deletingLastPathComponent)
        }
        for directory in candidates {
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }()
}

/// Kills a process that appends to the WAL at random moments and checks that no acknowledged batch is ever lost or
/// damaged (RELIABILITY.md F1 for the WAL). The child prints a batch number only after `commit()` returned for it.
@Suite struct WALCrashTests {
    static let longMode = ProcessInfo.processInfo.environment["CITYGATE_LONG_TESTS"] == "1"
    static let kills = longMode ? 100 : 12

    @Test(
        .enabled(
            if: WALCrashChildBinary.path != nil,
            "the wal-crash-child executable target is not built (add it to Package.swift, see WALCrashChild.swift) or set CITYGATE_WAL_CRASH_CHILD"
        ),
        .timeLimit(.minutes(15))
    )
    func killedWriterNeverLosesAnAcknowledgedBatch() async throws {
        let executable = try #require(WALCrashChildBinary.path)
        let dir = try TemporaryDirectory(prefix: "wal-crash")
        let wal = dir.file("wal")
        var acknowledged: [Int] = []
        var nextBatch = 0
        var tornTails = 0
        var truncatedBytes = 0
        var unacknowledgedButDurable = 0
        var lostTotal = 0
        var random = SystemRandomNumberGenerator()

        for kill in 0..<Self.kills {
            let stdout = dir.file("stdout-\(kill)")
            let stderr = dir.file("stderr-\(kill)")
            let child = try ChildProcess.spawn(executable: executable, arguments: [wal, String(nextBatch)], stdoutPath: stdout, stderrPath: stderr)
            var exitedEarly: ProcessRunner.Status?
            if kill % 4 == 3 {
                // Sometimes while it starts up: replaying, repairing, creating its first file.
                try await Task.sleep(for: .milliseconds(Int.random(in: 0..<60, using: &random)))
            } else {
                let started = await waitUntil(timeout: .seconds(60)) {
                    if exitedEarly == nil { exitedEarly = child.poll() }
                    return exitedEarly != nil || Self.size(stdout) > 0
                }
                #expect(started, "child printed nothing in 60 s")
                try await Task.sleep(for: .milliseconds(Int.random(in: 0..<300, using: &random)))
            }
            if exitedEarly == nil { child.send(SIGKILL) }
            let status = exitedEarly ?? child.wait()
            let childErrors = String(decoding: (try? WALFixture.read(stderr)) ?? [], as: UTF8.self)
            #expect(status == .signaled(SIGKILL), "child \(kill) was not killed but \(status): \(childErrors)")

            let acks = try Self.acknowledgements(stdout)
            acknowledged += acks

            // Replay as the store would at startup (repairing the tail) and check every record.
            let (batches, report) = try Self.replayAndCheck(wal)
            #expect(report.corruptFiles.isEmpty, "only the last file may have a torn tail after a kill: \(report.notes)")
            if let tail = report.tail {
                tornTails += 1
                truncatedBytes += tail.skippedBytes
            }
            let present = Set(batches)
            let floor = batches.first ?? Int.max
            let lost = acknowledged.filter { $0 >= floor && !present.contains($0) } + acks.filter { $0 < floor }
            #expect(lost.isEmpty, "kill \(kill): \(lost.count) acknowledged batches missing after replay: \(lost.prefix(20))")
            lostTotal += lost.count
            let lostSet = Set(lost)
            acknowledged.removeAll { lostSet.contains($0) }  // report each loss once
            let runStart = nextBatch
            unacknowledgedButDurable += batches.filter { $0 >= runStart && $0 > (acks.last ?? runStart - 1) }.count
            if let last = batches.last { nextBatch = last + 1 }

            // What a store does after sealing: drop all files but the newest, so the WAL stays small across kills.
            let numbers = try WALFileName.list(wal)
            for number in numbers.dropLast() { unlink(WALFileName.path(wal, number)) }
        }

        print("""
            WAL crash test: \(Self.kills) kills, \(acknowledged.count + lostTotal) acknowledged batches, \(lostTotal) lost, \
            \(tornTails) torn tails repaired (\(truncatedBytes) bytes cut), \(unacknowledgedButDurable) batches durable \
            beyond the last acknowledgement
            """)
        #expect(acknowledged.count > 0)
    }

    /// Complete lines of the child's stdout as batch numbers (a kill can cut the last line short).
    static func acknowledgements(_ path: String) throws -> [Int] {
        let bytes = (try? WALFixture.read(path)) ?? []
        guard let end = bytes.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        return try String(decoding: bytes[...end], as: UTF8.self).split(separator: "\n").map { line in
            try #require(Int(line), "unexpected child output line: \(line)")
        }
    }

    /// Replays `wal`, checking that every record is exactly what the child wrote and that batch numbers only grow.
    static func replayAndCheck(_ wal: String) throws -> ([Int], WALReplayReport) {
        var batches: [Int] = []
        let report = try WALReader.replay(directory: wal) { record in
            switch record {
            case .points(let points):
                guard let n = WALCrashChild.batchNumber(of: points) else {
                    Issue.record("a points record that is no batch of the child")
                    return
                }
                #expect(WALFixture.comparable(record) == .points(WALCrashChild.batch(n).map(WALFixture.P.init)), "batch \(n) damaged")
                if let last = batches.last { #expect(n > last, "batch \(n) after \(last)") }
                batches.append(n)
            case .series(let definitions):
                #expect(WALCrashChild.batchNumber(of: definitions) != nil, "series record damaged")
            }
        }
        return (batches, report)
    }

    static func size(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }
}
