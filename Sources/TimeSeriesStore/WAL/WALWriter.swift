import Logging

/// The store's append-only write-ahead log, with group commit on a dedicated thread.
///
/// Appends encode the batch (format: `docs/formats/wal.md`) into a memory buffer and return at once. A dedicated
/// thread — not the Swift cooperative pool, since `fsync` blocks — writes and fsyncs that buffer every
/// `commitInterval` after the first un-committed append, as soon as it holds `flushThresholdBytes`, and whenever a
/// committer asks. `commit()` (blocking) and `waitUntilDurable()` (suspending) return only once everything appended
/// before them is durable, so HTTP push and CoAP CON acknowledge after them. A crash loses at most the appends of one
/// commit interval plus one write + fsync.
///
/// Disk errors (ENOSPC, EIO, an unwritable file) never crash: they make `commit()` throw, set `lastError`, and the
/// bytes stay buffered (up to `maxBufferedBytes`) and are rewritten on the next attempt, so the WAL recovers without a
/// restart once the disk does.
///
/// Replay (`WALReader.replay`) before opening a writer: the writer always starts a new file after the highest one.
/// One writer per directory (`wal.lock`).
///
/// `Sendable`: the only stored property is immutable and `WALWriterEngine` is `Sendable` (its soundness argument is on
/// that type), so every method can be called from any thread.
public final class WALWriter: Sendable {
    let engine: WALWriterEngine

    /// The WAL directory.
    public var directory: String { engine.directory }

    /// Opens (creating it if needed) the WAL directory, takes `wal.lock`, creates the file numbered one above the highest
    /// existing file and starts the WAL thread.
    ///
    /// - Parameters:
    ///   - segmentBytes: a file is closed and the next started once it reaches this size (checked after each commit).
    ///   - commitInterval: the longest an append waits for its group commit; the crash-loss bound.
    ///   - flushThresholdBytes: commit early once this many bytes are buffered.
    ///   - maxBufferedBytes: appends are refused beyond this many bytes not yet durable (a failing or stalled disk).
    /// - Throws: `WALError.locked` if another writer holds the directory, `.io` if it cannot be created or written.
    public init(
        directory: String, segmentBytes: Int = 64 << 20, commitInterval: Duration = .milliseconds(100),
        flushThresholdBytes: Int = 1 << 20, maxBufferedBytes: Int = 128 << 20, logger: Logger
    ) throws(WALError) {
        engine = try WALWriterEngine(
            directory: directory, segmentBytes: segmentBytes, commitInterval: commitInterval,
            flushThresholdBytes: flushThresholdBytes, maxBufferedBytes: maxBufferedBytes, logger: logger
        )
        try engine.start()
    }

    deinit {
        engine.close()
    }

    /// Appends points (one record per 65,536) to the buffer and returns at once; durable after the next group commit.
    ///
    /// - Returns: false if the points were refused — the writer is closed or `maxBufferedBytes` would be passed — and
    ///   then they are not in the WAL at all (`statistics.rejectedAppends` counts it, the next `commit()` throws it).
    @discardableResult
    public func append(points: [(SeriesID, Point)]) -> Bool {
        engine.append(WALRecordEncoder.encode(points: points))
    }

    /// Appends new series definitions, so recovery rebuilds the series map for series created after the last catalog
    /// write. Append them before the first points that use the ids. Returns false if refused (see `append(points:)`),
    /// also when one definition is larger than a record can hold.
    @discardableResult
    public func append(series: [WALSeriesDefinition]) -> Bool {
        let encoded: [UInt8]
        do {
            encoded = try WALRecordEncoder.encode(series: series)
        } catch {
            engine.lock.withLock { engine.reject(error) }
            return false
        }
        return engine.append(encoded)
    }

    /// Writes and fsyncs now, and returns when everything appended (by any thread) before the call is durable.
    ///
    /// Blocks the calling thread for up to one write + fsync: from async code use `waitUntilDurable(force: true)`.
    /// - Throws: the write, fsync or file-creation error of the attempt that should have made the data durable (the data
    ///   stays buffered and is retried); `.closed` if the writer closed first; and, after the data is durable, the
    ///   reason any append was refused since the previous `commit()` call (a conservative signal: with several
    ///   producers, each must check its own `append` result).
    public func commit() throws(WALError) {
        try engine.commit()
    }

    /// Suspends, without blocking a thread, until everything appended before the call is durable: resumed by the WAL
    /// thread after the next group commit (`force: true` starts that commit at once, like `commit()`).
    ///
    /// - Throws: the `WALError` of the failed attempt, `WALError.closed`, or `CancellationError` if the task is cancelled
    ///   while waiting (the data may still become durable).
    public func waitUntilDurable(force: Bool = false) async throws {
        try await engine.waitUntilDurable(force: force)
    }

    /// Makes everything appended before the call durable in the current file, closes it and starts the next one.
    ///
    /// - Returns: the new file number N: everything appended before the call is in files < N, so once the store has
    ///   sealed what it held at that moment it calls `removeFiles(through: N - 1)`. (If the current file is still
    ///   empty it is returned as N; no empty file is added.) Blocks for a write + fsync.
    public func rotate() throws(WALError) -> Int {
        try engine.rotate()
    }

    /// Deletes the files numbered ≤ `number` (never the current one) and makes the deletion durable.
    public func removeFiles(through number: Int) throws(WALError) {
        try engine.removeFiles(through: number)
    }

    /// Commits what is buffered, stops the WAL thread and releases `wal.lock`. Later appends are refused. A final
    /// commit that fails leaves `lastError` set (call `commit()` first to get the error thrown). Idempotent.
    public func close() {
        engine.close()
    }

    /// Counters: bytes appended and written, fsyncs, commits, failures, rejected appends, commit durations.
    public var statistics: WALStatistics { engine.snapshot }

    /// The most recent failure (write, fsync, file creation, refused append); it stays set after the WAL recovers —
    /// see `isFailing` for the current state.
    public var lastError: WALError? { engine.lastError }

    /// True while the latest commit attempt failed (data is buffered, waiting for the disk).
    public var isFailing: Bool { engine.isFailing }

    /// The number of the file appends currently go to.
    public var currentFileNumber: Int { engine.snapshot.currentFileNumber }

    /// Test hook: makes the following commit attempts fail as a full or failing disk would.
    func injectFaults(_ faults: WALFaults) {
        engine.injectFaults(faults)
    }
}
