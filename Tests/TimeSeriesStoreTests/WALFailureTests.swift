#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import GatewayTesting
import Testing
@testable import TimeSeriesStore

/// Disk failures: commit() must throw, lastError must be set, nothing may crash, and once the disk recovers the
/// buffered data must become durable exactly once, without reopening.
@Suite struct WALFailureTests {
    func open(_ dir: TemporaryDirectory) throws -> WALWriter {
        // Only commit() starts attempts during these tests (no interval, no threshold).
        try WALWriter(directory: dir.path, commitInterval: .seconds(3600), flushThresholdBytes: 1 << 30, logger: WALFixture.logger)
    }

    @Test(arguments: [0, 5, 100])
    func diskFullOnWriteThrowsAndRecoversWithoutDuplicates(bytesBeforeError: Int) throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try open(dir)
        defer { writer.close() }
        let a = WALFixture.points(seed: 1, count: 20)
        let b = WALFixture.points(seed: 2, count: 20)
        let c = WALFixture.points(seed: 3, count: 20)
        writer.append(points: a)
        try writer.commit()

        writer.injectFaults(WALFaults(writeErrno: ENOSPC, writeBytesBeforeError: bytesBeforeError))
        writer.append(points: b)
        #expect(throws: WALError.io(operation: "write", path: dir.file(WALFileName.name(1)), errno: ENOSPC)) { try writer.commit() }
        #expect(writer.lastError?.errno == ENOSPC)
        #expect(writer.isFailing)
        #expect(writer.statistics.failedCommits == 1)
        #expect(writer.statistics.bufferedBytes > 0)
        #expect(writer.append(points: c), "appends keep being accepted while the buffer has room")
        #expect(throws: WALError.self) { try writer.commit() }

        writer.injectFaults(WALFaults())
        try writer.commit()
        #expect(!writer.isFailing)
        #expect(writer.lastError?.errno == ENOSPC, "lastError keeps the latest failure")
        #expect(writer.statistics.bufferedBytes == 0)
        let (records, report) = try WALFixture.replay(dir.path, repair: false)
        #expect(records == [a, b, c].map { .points($0.map(WALFixture.P.init)) })
        #expect(report.isClean, "the torn bytes of the failed write were overwritten")
    }

    @Test func fsyncFailureRewritesTheWholeRangeBeforeTheNextFsync() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try open(dir)
        defer { writer.close() }
        let a = WALFixture.points(seed: 1, count: 20)
        let b = WALFixture.points(seed: 2, count: 20)
        writer.append(points: a)
        try writer.commit()
        let before = writer.statistics

        writer.injectFaults(WALFaults(fsyncErrno: EIO))
        writer.append(points: b)
        #expect(throws: WALError.io(operation: "fsync", path: dir.file(WALFileName.name(1)), errno: EIO)) { try writer.commit() }
        writer.injectFaults(WALFaults())
        try writer.commit()

        let after = writer.statistics
        let bBytes = Int(after.bytesAppended - before.bytesAppended)
        #expect(Int(after.bytesWritten - before.bytesWritten) == 2 * bBytes, "b written twice: once before the failed fsync, once after")
        #expect(after.fsyncs == before.fsyncs + 1, "the failed fsync is not counted and not simply retried")
        let (records, report) = try WALFixture.replay(dir.path, repair: false)
        #expect(records == [a, b].map { .points($0.map(WALFixture.P.init)) })
        #expect(report.isClean)
    }

    @Test func failedFileCreationFailsRotateAndCommitUntilItWorks() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try open(dir)
        defer { writer.close() }
        let a = WALFixture.points(seed: 1, count: 5)
        let b = WALFixture.points(seed: 2, count: 5)
        writer.append(points: a)
        writer.injectFaults(WALFaults(createErrno: ENOSPC))
        #expect(throws: WALError.io(operation: "open", path: dir.file(WALFileName.name(2)), errno: ENOSPC)) { _ = try writer.rotate() }
        #expect(try WALFixture.replay(dir.path, repair: false).0.count == 1, "what came before the rotation is durable")
        writer.append(points: b)
        #expect(throws: WALError.self) { try writer.commit() }
        writer.injectFaults(WALFaults())
        try writer.commit()
        #expect(try writer.rotate() == 3)
        #expect(try WALFileName.list(dir.path) == [1, 2, 3])
        let (records, report) = try WALFixture.replay(dir.path, from: 2, repair: false)
        #expect(records == [.points(b.map(WALFixture.P.init))])
        #expect(report.isClean)
    }

    @Test func asyncWaitersGetTheErrorToo() async throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try open(dir)
        defer { writer.close() }
        writer.injectFaults(WALFaults(writeErrno: ENOSPC))
        writer.append(points: WALFixture.points(seed: 1, count: 5))
        await #expect(throws: WALError.self) { try await writer.waitUntilDurable(force: true) }
        writer.injectFaults(WALFaults())
        try await writer.waitUntilDurable(force: true)
    }

    @Test func groupCommitRetriesOnItsOwnOnceTheDiskRecovers() async throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try WALWriter(directory: dir.path, commitInterval: .milliseconds(10), logger: WALFixture.logger)
        defer { writer.close() }
        writer.injectFaults(WALFaults(writeErrno: ENOSPC, writeBytesBeforeError: 3))
        writer.append(points: WALFixture.points(seed: 1, count: 5))
        #expect(await waitUntil(timeout: .seconds(20)) { writer.statistics.failedCommits >= 2 }, "retried without commit() calls")
        writer.injectFaults(WALFaults())
        #expect(await waitUntil(timeout: .seconds(20)) { writer.statistics.bufferedBytes == 0 && !writer.isFailing })
        #expect(try WALFixture.replay(dir.path, repair: false).0.count == 1)
    }

    @Test func closingWhileFailingLeavesAFileThatReplaysClean() throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try open(dir)
        let a = WALFixture.points(seed: 1, count: 5)
        writer.append(points: a)
        try writer.commit()
        writer.injectFaults(WALFaults(writeErrno: ENOSPC, writeBytesBeforeError: 11))
        writer.append(points: WALFixture.points(seed: 2, count: 5))
        writer.close()
        #expect(writer.lastError?.errno == ENOSPC)
        #expect(throws: WALError.self) { try writer.commit() }
        let (records, report) = try WALFixture.replay(dir.path)
        #expect(records == [.points(a.map(WALFixture.P.init))])
        #expect(report.isClean, "the partial record was cut at close")
    }

    // MARK: Real file-system refusals (root ignores permissions, so an immutable flag stands in for a full disk)

    static let chattrWorks: Bool = {
        guard let chattr = ProcessRunner.which("chattr") else { return false }
        guard let dir = try? TemporaryDirectory(prefix: "wal-chattr") else { return false }
        let path = dir.file("probe")
        guard FileManager.default.createFile(atPath: path, contents: Data([1])) else { return false }
        defer { _ = WALFailureTests.runSync(chattr, ["-i", path]) }
        guard WALFailureTests.runSync(chattr, ["+i", path]) else { return false }
        let fd = Glibc.open(path, O_WRONLY)
        if fd >= 0 { Glibc.close(fd) }
        return fd < 0
    }()

    static func runSync(_ executable: String, _ arguments: [String]) -> Bool {
        guard let child = try? ChildProcess.spawn(executable: executable, arguments: arguments, stdoutPath: "/dev/null") else { return false }
        return child.wait() == .exited(0)
    }

    static func chattr(_ flag: String, _ path: String) async throws {
        try await ProcessRunner.check(try #require(ProcessRunner.which("chattr")), [flag, path])
    }

    @Test(.enabled(if: chattrWorks, "needs chattr and a file system with the immutable flag (ext4, xfs, btrfs)"))
    func unwritableFileMakesCommitThrowUntilItIsWritableAgain() async throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try open(dir)
        defer { writer.close() }
        let current = dir.file(WALFileName.name(1))
        let a = WALFixture.points(seed: 1, count: 5)
        let b = WALFixture.points(seed: 2, count: 5)
        writer.append(points: a)
        try writer.commit()

        try await Self.chattr("+i", current)
        do {
            writer.append(points: b)
            #expect(throws: WALError.io(operation: "write", path: current, errno: EPERM)) { try writer.commit() }
            #expect(writer.lastError?.errno == EPERM)
            #expect(writer.isFailing)
        }
        try await Self.chattr("-i", current)
        try writer.commit()
        #expect(!writer.isFailing)
        let (records, report) = try WALFixture.replay(dir.path, repair: false)
        #expect(records == [a, b].map { .points($0.map(WALFixture.P.init)) })
        #expect(report.isClean)
    }

    @Test(.enabled(if: chattrWorks, "needs chattr and a file system with the immutable flag (ext4, xfs, btrfs)"))
    func readOnlyDirectoryFailsRotationUntilItIsWritableAgain() async throws {
        let dir = try TemporaryDirectory(prefix: "wal")
        let writer = try open(dir)
        defer { writer.close() }
        let a = WALFixture.points(seed: 1, count: 5)
        let b = WALFixture.points(seed: 2, count: 5)
        writer.append(points: a)

        try await Self.chattr("+i", dir.path)
        var failure: WALError?
        do {
            _ = try writer.rotate()
        } catch {
            failure = error
        }
        try await Self.chattr("-i", dir.path)
        #expect(failure == .io(operation: "open", path: dir.file(WALFileName.name(2)), errno: EPERM))
        #expect(writer.lastError == failure)

        writer.append(points: b)
        try writer.commit()  // creates file 2 now that the directory is writable
        #expect(try WALFileName.list(dir.path) == [1, 2])
        let (records, report) = try WALFixture.replay(dir.path, repair: false)
        #expect(records == [a, b].map { .points($0.map(WALFixture.P.init)) })
        #expect(report.isClean)
    }
}
