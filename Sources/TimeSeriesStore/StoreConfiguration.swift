/// How the store partitions, commits and bounds its data.
public struct StoreConfiguration: Sendable {
    /// The store's directory: `store.db`, `wal/`, `segments/`, `quarantine/`.
    public var directory: String
    /// Time partition of a segment (default 1 day). Sensors report every 1–30 minutes, so shorter partitions leave
    /// a handful of points per series chunk and the per-chunk footer entry dominates the file (measured with
    /// `citygate bench store`: 1 h partitions 3.7 B/point, 1 day about 2 B/point). Checkpoints under load seal a
    /// partition in pieces, which are compacted into one segment once it closes.
    public var partitionMs: Int64 = 86_400_000
    /// WAL group-commit interval: the bound on what a crash can lose.
    public var commitInterval: Duration = .milliseconds(100)
    /// Disk budget for segment files; the oldest whole segments are evicted beyond it.
    public var maxBytes: Int64 = 10 * 1_073_741_824
    /// Age limit (data time); nil keeps data until the byte budget needs the room.
    public var maxAgeMs: Int64? = 30 * 86_400_000
    /// Points held in memory before the heads are sealed into segments regardless of partitions.
    public var maxHeadPoints = 4_000_000
    /// A partition is sealed once the newest data is this far past its end (late samples still arrive).
    public var sealGraceMs: Int64 = 300_000
    /// zstd level for segment blocks.
    public var zstdLevel: Int32 = 3
    /// Uncompressed bytes per zstd block in a segment: 16 KiB is within 1 % of the smallest files and reads one
    /// series 2.3× faster than 64 KiB (measured; docs/formats/segment.md).
    public var blockSize = 16 * 1024
    /// Opened segments kept for queries, bounded by the memory they hold (file, decoded index, one block).
    public var readerCacheBytes = 256 * 1_048_576
    /// Size at which the WAL starts a new file.
    public var walSegmentBytes = 64 * 1_048_576

    /// A configuration with defaults for `directory`.
    public init(directory: String) { self.directory = directory }
}

/// Names of everything the store keeps on disk, in one place.
enum Filenames {
    static let catalog = "store.db"
    static let wal = "wal"
    static let segments = "segments"
    static let quarantine = "quarantine"
    static let segmentSuffix = ".seg"
    static let temporarySuffix = ".tmp"

    static func segment(partitionStart: Int64, sequence: Int64) -> String { "p\(partitionStart)-\(sequence)\(segmentSuffix)" }
}
