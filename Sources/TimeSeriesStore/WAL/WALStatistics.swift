/// Counters of one `WALWriter`, a consistent snapshot taken under its lock.
public struct WALStatistics: Sendable, Hashable {
    /// Bytes accepted by `append` (framed records), since open.
    public var bytesAppended: UInt64 = 0
    /// Bytes handed to `write(2)`, including rewrites of a range after a failed write or fsync.
    public var bytesWritten: UInt64 = 0
    /// Successful fsyncs of WAL files.
    public var fsyncs: UInt64 = 0
    /// Commit attempts that made data durable.
    public var commits: UInt64 = 0
    /// Commit attempts that failed (write, fsync or file creation); the data stayed buffered for the next attempt.
    public var failedCommits: UInt64 = 0
    /// Appends refused because the writer was closed or its buffer was full (`maxBufferedBytes`).
    public var rejectedAppends: UInt64 = 0
    /// Files started after the first one (explicit `rotate()` and size-based).
    public var rotations: UInt64 = 0
    /// Write + fsync time of the latest successful commit: the part of the crash-loss window beyond `commitInterval`.
    public var lastCommitDuration: Duration = .zero
    /// The longest successful commit since open.
    public var maxCommitDuration: Duration = .zero
    /// Bytes appended but not yet durable (buffered or being written).
    public var bufferedBytes = 0
    /// The file number appends currently go to.
    public var currentFileNumber = 0

    /// Empty counters.
    public init() {}
}
