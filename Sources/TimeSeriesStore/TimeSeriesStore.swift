import Dispatch
import Foundation
import GatewayCore
import Logging
import Synchronization

/// The edge box's time-series store: WAL → per-series heads → zstd-compressed, checksummed segment files,
/// listed in a SQLite catalog and kept within a byte budget and age limit (the ring).
///
/// Write path: `accept` resolves each sample's series id (creating it in the catalog and the WAL the first time),
/// appends the points to the WAL's in-memory buffer (made durable by group commit every `commitInterval`) and
/// to the head of the sample's time partition. A checkpoint seals every head into segment files on a dedicated
/// queue, off the ingest path, then drops the WAL files it covered. Reads merge segments and heads; for equal
/// times the newest write wins.
public final class TimeSeriesStore: SampleSink, Sendable {
    /// What the store holds, for status displays and benchmarks.
    public struct Stats: Sendable, Hashable {
        /// Series known.
        public var series: Int
        /// Points in memory, not yet sealed.
        public var headPoints: Int
        /// Active segment files.
        public var segments: Int
        /// Points in active segments.
        public var segmentPoints: Int64
        /// Bytes of active segment files.
        public var segmentBytes: Int64
        /// Segments evicted by the ring since start.
        public var evictedSegments: Int
        /// Segments quarantined (checksum failed) since start.
        public var quarantinedSegments: Int
        /// Points accepted since start.
        public var acceptedPoints: Int
    }

    /// A series as the catalog names it.
    public struct SeriesInfo: Sendable, Hashable {
        /// Dense id.
        public var id: SeriesID
        /// Device id.
        public var device: String
        /// Metric name.
        public var metric: String
        /// Canonical unit.
        public var unit: String
    }

    /// One step of a downsampled series.
    public struct Bucket: Sendable, Hashable {
        /// Start of the step (Unix ms).
        public var startMs: Int64
        /// Points in the step.
        public var count: Int
        /// Smallest value.
        public var min: Double
        /// Largest value.
        public var max: Double
        /// Sum of values.
        public var sum: Double
        /// Value of the latest point in the step.
        public var last: Double
        /// Time of that point.
        public var lastTimeMs: Int64
        /// Mean value.
        public var avg: Double { sum / Double(count) }

        /// Folds another bucket of the same step into this one (NaN ignored by min/max, as in segment footers).
        mutating func absorb(_ other: Bucket) {
            count += other.count
            min = TimeSeriesStore.nanIgnoringMin(min, other.min)
            max = TimeSeriesStore.nanIgnoringMax(max, other.max)
            sum += other.sum
            if other.lastTimeMs >= lastTimeMs {
                last = other.last
                lastTimeMs = other.lastTimeMs
            }
        }
    }

    /// What recovery found when the store opened.
    public struct RecoveryReport: Sendable {
        /// Points replayed from the WAL into the heads.
        public var replayedPoints = 0
        /// Segment files whose checksum failed, moved to quarantine/.
        public var quarantined: [String] = []
        /// Catalog rows whose file was missing (removed).
        public var missingFiles: [String] = []
        /// Files without a catalog row (removed; their data is still in the WAL).
        public var orphanFiles: [String] = []
        /// WAL problems (torn tail, corrupt records).
        public var walNotes: [String] = []
    }

    struct LoadedSegment: Sendable {
        var row: StoreCatalog.SegmentRow
    }

    struct State {
        var series = SeriesTable()
        var heads: [Int64: PartitionHeads] = [:]
        var sealing: [Int64: PartitionHeads] = [:]
        var headPoints = 0
        var newestMs: Int64 = .min
        var ageReferenceMs: Int64 = .min
        var ageReferenceUpdatedNs: UInt64 = 0
        var segments: [LoadedSegment] = []
        var checkpointScheduled = false
        var evicted = 0
        var quarantined = 0
        var accepted = 0
    }

    /// The configuration in force.
    public let configuration: StoreConfiguration
    /// What recovery found at open.
    public let recovery: RecoveryReport
    let state: Mutex<State>
    let catalog: Mutex<StoreCatalog>
    let wal: WALWriter?
    /// Opened for reading only (by the CLI beside a running gateway): no WAL, nothing on disk is changed.
    public let readOnly: Bool
    let sealQueue = DispatchQueue(label: "citygate.store.seal")
    let readers = Mutex(ReaderCache())
    let logger: Logger
    let segmentSequence = Atomic<Int64>(0)

    /// Opens (or creates) the store, recovering from whatever a crash left: finishes half-done deletions,
    /// quarantines segments whose checksum fails, drops files the catalog does not know, and replays the WAL.
    public init(configuration: StoreConfiguration, logger: Logger, readOnly: Bool = false) throws {
        self.configuration = configuration
        self.readOnly = readOnly
        self.logger = logger
        let fm = FileManager.default
        let dir = configuration.directory
        if readOnly {
            guard fm.fileExists(atPath: dir + "/" + Filenames.catalog) else { throw StoreError.noStore(dir) }
        } else {
            for sub in [Filenames.wal, Filenames.segments, Filenames.quarantine] {
                try fm.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
            }
        }
        let catalog = try StoreCatalog(path: dir + "/" + Filenames.catalog)
        var report = RecoveryReport()
        var s = State()

        for (id, device, metric, unit) in try catalog.allSeries() {
            TimeSeriesStore.register(&s, SeriesInfo(id: id, device: device, metric: metric, unit: unit))
        }

        // Segments: finish deletions, verify checksums, drop orphans.
        let segDir = dir + "/" + Filenames.segments
        for row in try catalog.segments(state: "deleting") where !readOnly {
            try? fm.removeItem(atPath: segDir + "/" + row.file)
            try catalog.deleteSegment(row.id)
        }
        var known = Set<String>()
        var maxSequence: Int64 = 0
        for row in try catalog.segments(state: "active") {
            let path = segDir + "/" + row.file
            guard let data = fm.contents(atPath: path) else {
                report.missingFiles.append(row.file)
                if !readOnly { try catalog.deleteSegment(row.id) }
                continue
            }
            do {
                _ = try SegmentReader(bytes: [UInt8](data))
                known.insert(row.file)
                s.segments.append(LoadedSegment(row: row))
                s.newestMs = max(s.newestMs, row.tMax)
                if let seq = Int64(row.file.split(separator: "-").last?.split(separator: ".").first ?? "") { maxSequence = max(maxSequence, seq) }
            } catch {
                report.quarantined.append(row.file)
                if !readOnly {
                    try? fm.moveItem(atPath: path, toPath: dir + "/" + Filenames.quarantine + "/" + row.file)
                    try catalog.setState(row.id, "quarantined")
                }
                s.quarantined += 1
                logger.error("Segment failed its checksum and was quarantined", metadata: ["segment.path": "\(path)", "error": "\(error)"])
            }
        }
        for file in (try? fm.contentsOfDirectory(atPath: segDir)) ?? [] where !known.contains(file) && !readOnly {
            report.orphanFiles.append(file)
            try? fm.removeItem(atPath: segDir + "/" + file)
        }
        segmentSequence.store(maxSequence, ordering: .relaxed)

        // WAL: rebuild the series map and the heads.
        var newSeries: [(SeriesID, String, String, String)] = []
        // Read-only opens replay without repairing (no lock, no truncation), so they also see unsealed data.
        let replay = try WALReader.replay(directory: dir + "/" + Filenames.wal, repair: !readOnly) { record in
            switch record {
            case .series(let list):
                for entry in list where !s.series.isDefined(entry.0) {
                    TimeSeriesStore.register(&s, SeriesInfo(id: entry.0, device: entry.1, metric: entry.2, unit: entry.3))
                    newSeries.append((entry.0, entry.1, entry.2, entry.3))
                }
            case .points(let points):
                for (id, p) in points {
                    let partition = TimeSeriesStore.partition(of: p.timeMs, configuration.partitionMs)
                    s.heads[partition, default: PartitionHeads()].append(id, p.timeMs, p.value)
                    s.headPoints += 1
                    s.newestMs = max(s.newestMs, p.timeMs)
                }
                report.replayedPoints += points.count
            }
        }
        report.walNotes = replay.notes
        if !readOnly { try catalog.insertSeries(newSeries) }
        // Data stamped while the wall clock ran ahead (a jump to next year) must not age everything else out at the
        // next start: the reference starts no later than now, when now is plausible.
        let wallNow = WallClock.nowMs()
        s.ageReferenceMs = wallNow >= WallClock.plausibleFloorMs ? min(s.newestMs, wallNow) : s.newestMs
        s.ageReferenceUpdatedNs = MonotonicClock.nowNs()

        self.wal = readOnly ? nil : try WALWriter(directory: dir + "/" + Filenames.wal, segmentBytes: configuration.walSegmentBytes,
                                                  commitInterval: configuration.commitInterval, logger: logger)
        let (seriesCount, segmentCount) = (s.series.definedCount, s.segments.count)
        self.catalog = Mutex(catalog)
        self.state = Mutex(s)
        self.recovery = report
        logger.info("Store opened", metadata: [
            "store.path": "\(dir)", "store.series": "\(seriesCount)", "store.segments": "\(segmentCount)",
            "store.replayed_points": "\(report.replayedPoints)", "store.quarantined": "\(report.quarantined.count)",
        ])
    }

    static func register(_ s: inout State, _ info: SeriesInfo) {
        s.series.define(info.id, device: info.device, metric: info.metric, unit: info.unit)
    }

    @inline(__always)
    static func partition(of timeMs: Int64, _ partitionMs: Int64) -> Int64 {
        let q = timeMs / partitionMs
        return (timeMs % partitionMs < 0 ? q - 1 : q) * partitionMs
    }

    // MARK: writing

    /// `SampleSink`: stores every sample of the batch.
    public func accept(_ batch: SampleBatch) async throws {
        guard !batch.samples.isEmpty else { return }
        try append(batch.samples)
    }

    /// Stores samples: series ids resolved (created on first sight), WAL appended, heads updated.
    /// Durable after the next group commit (or `commit()`).
    public func append(_ samples: [Sample]) throws {
        guard let wal else { throw StoreError.readOnly }
        let partitionMs = configuration.partitionMs
        let (created, checkpoint, walAccepted) = state.withLock { s -> ([(SeriesID, String, String, String)], Bool, Bool) in
            var created: [(SeriesID, String, String, String)] = []
            var points: [(SeriesID, Point)] = []
            points.reserveCapacity(samples.count)
            for sample in samples {
                let id: SeriesID
                if let existing = s.series.lookup(device: sample.device, metric: sample.metric) {
                    id = existing
                } else {
                    id = SeriesID(s.series.idCount)
                    TimeSeriesStore.register(&s, SeriesInfo(id: id, device: sample.device, metric: sample.metric, unit: sample.unit))
                    created.append((id, sample.device, sample.metric, sample.unit))
                }
                let t = sample.timeMs
                points.append((id, Point(timeMs: t, value: sample.value)))
                s.heads[TimeSeriesStore.partition(of: t, partitionMs), default: PartitionHeads()].append(id, t, sample.value)
                if t > s.newestMs { s.newestMs = t }
            }
            // The WAL sees series before the points that use them, in the order the heads saw them.
            var accepted = true
            if !created.isEmpty { accepted = wal.append(series: created.map { (id: $0.0, device: $0.1, metric: $0.2, unit: $0.3) }) }
            accepted = wal.append(points: points) && accepted
            s.headPoints += samples.count
            s.accepted += samples.count
            TimeSeriesStore.advanceAgeReference(&s)
            let due = !s.checkpointScheduled && (s.headPoints >= configuration.maxHeadPoints || hasClosedPartition(s))
            if due { s.checkpointScheduled = true }
            return (created, due, accepted)
        }
        if !created.isEmpty {
            try catalog.withLock { try $0.insertSeries(created) }
        }
        if checkpoint { scheduleCheckpoint() }
        // The heads hold the points (queries see them), but they are not in the WAL: say so loudly.
        if !walAccepted { throw StoreError.walRefused(wal.lastError.map { "\($0)" } ?? "buffer full") }
    }

    /// Follows the newest data time, but never faster than the monotonic clock: a wall-clock jump that makes new
    /// samples look a year younger cannot make old segments look a year older.
    static func advanceAgeReference(_ s: inout State) {
        let now = MonotonicClock.nowNs()
        if s.ageReferenceMs == .min {
            // The first data of an empty store: no later than the wall clock, as at open.
            let wall = WallClock.nowMs()
            s.ageReferenceMs = wall >= WallClock.plausibleFloorMs ? min(s.newestMs, wall) : s.newestMs
        } else {
            let elapsedMs = Int64((now &- s.ageReferenceUpdatedNs) / 1_000_000)
            s.ageReferenceMs = min(s.newestMs, s.ageReferenceMs &+ max(elapsedMs, 0))
        }
        s.ageReferenceUpdatedNs = now
    }

    /// The time partitions close against: the newest data, but never past the wall clock, so samples stamped a
    /// year ahead (a clock jump, a device with a wrong clock) do not make every partition look closed from then on
    /// (a checkpoint per append).
    static func closingReference(_ s: State) -> Int64 { min(s.newestMs, WallClock.nowMs()) }

    func hasClosedPartition(_ s: State) -> Bool {
        let end = TimeSeriesStore.closingReference(s) - configuration.sealGraceMs
        return s.heads.keys.contains { $0 + configuration.partitionMs <= end }
    }

    /// Makes everything appended so far durable now (the HTTP push and CoAP CON paths call this before they
    /// acknowledge).
    public func commit() throws { try wal?.commit() }

    /// Suspends, without blocking a thread, until everything appended before the call is durable: after the WAL's
    /// next group commit (`force: true` starts it at once). Throws the WAL's error, or `readOnly`.
    public func waitUntilDurable(force: Bool = false) async throws {
        guard let wal else { throw StoreError.readOnly }
        try await wal.waitUntilDurable(force: force)
    }

    func scheduleCheckpoint() {
        sealQueue.async { [self] in
            do {
                try checkpointNow()
            } catch {
                logger.error("Checkpoint failed", metadata: ["error": "\(error)"])
                state.withLock { $0.checkpointScheduled = false }
            }
        }
    }

    /// Seals every head into segment files (one per partition), then drops the WAL files they covered and applies
    /// the ring. Safe to call at any time; runs serially with itself.
    public func checkpoint() throws {
        try sealQueue.sync { try checkpointNow() }
    }

    func checkpointNow() throws {
        guard let wal else { throw StoreError.readOnly }
        let (snapshot, coveredThrough): ([Int64: PartitionHeads], Int) = try state.withLock { s in
            let snap = s.heads
            s.heads = [:]
            s.sealing = snap
            s.headPoints = 0
            // Later appends go to a new WAL file; every file before it holds only what is being sealed.
            let next = try wal.rotate()
            return (snap, next - 1)
        }
        var written: [LoadedSegment] = []
        do {
            for partition in snapshot.keys.sorted() {
                if let segment = try seal(partition: partition, chunks: snapshot[partition]!) { written.append(segment) }
            }
        } catch {
            // Nothing is lost: the heads go back and the WAL files stay.
            state.withLock { s in
                for (p, older) in snapshot {
                    s.heads[p, default: PartitionHeads()].prepend(older)
                }
                s.headPoints = s.heads.values.reduce(0) { $0 + $1.points }
                s.sealing = [:]
                s.segments += written
            }
            throw error
        }
        state.withLock { s in
            s.segments += written
            s.sealing = [:]
            s.checkpointScheduled = false
        }
        try wal.removeFiles(through: coveredThrough)
        try compactClosedPartitions()
        try enforceRing()
    }

    /// Merges the segments of every closed partition that has more than one into a single segment: checkpoints
    /// under load seal a partition in pieces, and each piece repeats a footer entry per series. The merged file is
    /// registered before the pieces are removed, so a crash in between leaves duplicates (resolved on read, merged
    /// again next time), never a gap.
    func compactClosedPartitions() throws {
        let groups: [[StoreCatalog.SegmentRow]] = state.withLock { s in
            let closedBefore = TimeSeriesStore.closingReference(s) - configuration.sealGraceMs
            let rows = s.segments.map(\.row).filter { $0.partitionStart + configuration.partitionMs <= closedBefore }
            return Dictionary(grouping: rows, by: \.partitionStart).values.filter { $0.count > 1 }.map { $0.sorted { $0.id < $1.id } }
        }
        for rows in groups {
            let sources = try rows.map { try reader(for: $0) }
            let ids = Set(sources.flatMap(\.series)).sorted()
            guard let merged = try writeSegment(partition: rows[0].partitionStart, series: ids, points: { id in
                TimeSeriesStore.merge(try sources.map { try $0.points(for: id) })
            }) else { continue }
            state.withLock { $0.segments.append(merged) }
            for old in rows { try remove(old) }
            logger.debug("Partition compacted", metadata: ["segment.path": "\(merged.row.file)", "segments.merged": "\(rows.count)"])
        }
    }

    /// Removes one segment: catalog row marked, dropped from reads, file deleted, row deleted.
    func remove(_ row: StoreCatalog.SegmentRow) throws {
        try catalog.withLock { try $0.setState(row.id, "deleting") }
        state.withLock { s in s.segments.removeAll { $0.row.id == row.id } }
        readers.withLock { $0.remove(row.file) }
        try? FileManager.default.removeItem(atPath: configuration.directory + "/" + Filenames.segments + "/" + row.file)
        try catalog.withLock { try $0.deleteSegment(row.id) }
    }

    func seal(partition: Int64, chunks: PartitionHeads) throws -> LoadedSegment? {
        try writeSegment(partition: partition, series: chunks.series) { chunks.chunk($0)?.resolved() ?? [] }
    }

    /// Builds one segment from each series' points (produced one series at a time), writes it durably and
    /// registers it in the catalog. Nil when there is nothing to write.
    func writeSegment(partition: Int64, series ids: [SeriesID], points pointsOf: (SeriesID) throws -> [Point]) throws -> LoadedSegment? {
        var writer = SegmentWriter(level: configuration.zstdLevel, blockSize: configuration.blockSize)
        var points: Int64 = 0
        var tMin = Int64.max
        var tMax = Int64.min
        for id in ids {
            let series = try pointsOf(id)
            guard let first = series.first, let last = series.last else { continue }
            writer.append(series: id, points: series)
            points += Int64(series.count)
            tMin = min(tMin, first.timeMs)
            tMax = max(tMax, last.timeMs)
        }
        guard points > 0 else { return nil }
        let bytes = try writer.finish()
        let sequence = segmentSequence.wrappingAdd(1, ordering: .relaxed).newValue
        let name = Filenames.segment(partitionStart: partition, sequence: sequence)
        let dir = configuration.directory + "/" + Filenames.segments
        try DurableFile.write(bytes, to: dir + "/" + name, temporaryPath: dir + "/" + name + Filenames.temporarySuffix)
        var row = StoreCatalog.SegmentRow(id: 0, file: name, partitionStart: partition, tMin: tMin, tMax: tMax, points: points,
                                          bytes: Int64(bytes.count), series: Int64(writer.seriesCount), state: "active")
        row.id = try catalog.withLock { try $0.insertSegment(row, nowMs: WallClock.nowMs()) }
        logger.debug("Segment written", metadata: ["segment.path": "\(name)", "segment.points": "\(points)", "segment.bytes": "\(bytes.count)"])
        return LoadedSegment(row: row)
    }

    /// Evicts the oldest whole segments until the store is within its byte budget and age limit.
    func enforceRing() throws {
        guard !readOnly else { return }
        let (victims, reference): ([LoadedSegment], Int64) = state.withLock { s in
            var total = s.segments.reduce(Int64(0)) { $0 + $1.row.bytes }
            let ordered = s.segments.sorted { ($0.row.partitionStart, $0.row.tMin, $0.row.id) < ($1.row.partitionStart, $1.row.tMin, $1.row.id) }
            var victims: [LoadedSegment] = []
            for seg in ordered {
                let tooOld = configuration.maxAgeMs.map { seg.row.tMax < s.ageReferenceMs - $0 } ?? false
                guard total > configuration.maxBytes || tooOld else { break }
                victims.append(seg)
                total -= seg.row.bytes
            }
            return (victims, s.ageReferenceMs)
        }
        guard !victims.isEmpty else { return }
        for v in victims {
            try remove(v.row)
            state.withLock { $0.evicted += 1 }
        }
        logger.info("Ring evicted segments", metadata: ["segments": "\(victims.count)", "store.age_reference_ms": "\(reference)"])
    }

    /// Commits the WAL and stops its thread. Heads stay in the WAL and are replayed at the next open.
    public func close() throws {
        sealQueue.sync {}
        try wal?.commit()
        wal?.close()
    }

    // MARK: reading

    /// Totals.
    public var stats: Stats {
        state.withLock { s in
            Stats(series: s.series.definedCount, headPoints: s.headPoints + s.sealing.values.reduce(0) { $0 + $1.points },
                  segments: s.segments.count, segmentPoints: s.segments.reduce(0) { $0 + $1.row.points },
                  segmentBytes: s.segments.reduce(0) { $0 + $1.row.bytes }, evictedSegments: s.evicted, quarantinedSegments: s.quarantined,
                  acceptedPoints: s.accepted)
        }
    }

    /// The series id for a device and metric.
    public func seriesID(device: String, metric: String) -> SeriesID? {
        state.withLock { $0.series.lookup(device: device, metric: metric) }
    }

    /// Every series, optionally of one device.
    public func series(device: String? = nil) -> [SeriesInfo] {
        state.withLock { s in s.series.all(device: device) }
    }

    /// The name of a series.
    public func info(_ id: SeriesID) -> SeriesInfo? {
        state.withLock { s in s.series.info(id) }
    }

    func reader(for row: StoreCatalog.SegmentRow) throws -> SegmentReader {
        if let r = readers.withLock({ $0.get(row.file) }) { return r }
        let path = configuration.directory + "/" + Filenames.segments + "/" + row.file
        guard let data = FileManager.default.contents(atPath: path) else { throw StoreError.missingSegment(row.file) }
        let r = try SegmentReader(bytes: [UInt8](data))
        let limit = configuration.readerCacheBytes
        readers.withLock { $0.put(row.file, r, limit: limit) }
        return r
    }

    /// The sources that may hold points of a series in a range, oldest write first.
    func sources(_ id: SeriesID, from: Int64, to: Int64) -> (segments: [StoreCatalog.SegmentRow], memory: [HeadChunk]) {
        state.withLock { s in
            let segs = s.segments.map(\.row).filter { $0.tMax >= from && $0.tMin <= to }.sorted { $0.id < $1.id }
            var memory: [HeadChunk] = []
            for layer in [s.sealing, s.heads] {
                for (p, chunks) in layer where p + configuration.partitionMs > from && p <= to {
                    if let c = chunks.chunk(id) { memory.append(c) }
                }
            }
            return (segs, memory)
        }
    }

    /// Runs a read again when a segment it listed was retired meanwhile (compacted or evicted): compaction
    /// registers the merged segment before removing the pieces, so the next attempt finds the data there. A
    /// read-only store (the CLI beside a running gateway) learns of the other process's retirements by reading the
    /// catalog's active segments again.
    func retryingRetired<T>(_ body: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch StoreError.missingSegment(let file) {
                if readOnly { try reloadActiveSegments() }
                let stillActive = state.withLock { $0.segments.contains { $0.row.file == file } }
                attempt += 1
                if stillActive || attempt >= 5 { throw StoreError.missingSegment(file) }
            }
        }
    }

    /// Replaces the segment list of a read-only store with the catalog's active rows, as the writing process left
    /// them.
    func reloadActiveSegments() throws {
        let rows = try catalog.withLock { try $0.segments(state: "active") }
        state.withLock { s in
            s.segments = rows.map { LoadedSegment(row: $0) }
            s.newestMs = max(s.newestMs, rows.map(\.tMax).max() ?? .min)
        }
    }

    /// Raw points of a series in [fromMs, toMs], sorted, one per time (the last write wins).
    public func raw(_ id: SeriesID, fromMs: Int64, toMs: Int64) throws -> [Point] {
        try retryingRetired { try rawOnce(id, fromMs: fromMs, toMs: toMs) }
    }

    func rawOnce(_ id: SeriesID, fromMs: Int64, toMs: Int64) throws -> [Point] {
        let (segments, memory) = sources(id, from: fromMs, to: toMs)
        var runs: [[Point]] = []
        for row in segments {
            let r = try reader(for: row)
            guard let entry = r.entry(for: id), entry.tMax >= fromMs, entry.tMin <= toMs else { continue }
            runs.append(try r.points(for: id).filter { $0.timeMs >= fromMs && $0.timeMs <= toMs })
        }
        for chunk in memory { runs.append(chunk.resolved().filter { $0.timeMs >= fromMs && $0.timeMs <= toMs }) }
        return TimeSeriesStore.merge(runs)
    }

    /// Merges sorted runs; later runs win on equal times.
    static func merge(_ runs: [[Point]]) -> [Point] {
        let nonEmpty = runs.filter { !$0.isEmpty }
        if nonEmpty.isEmpty { return [] }
        if nonEmpty.count == 1 { return nonEmpty[0] }
        // Disjoint and in order: concatenate.
        if zip(nonEmpty, nonEmpty.dropFirst()).allSatisfy({ $0.last!.timeMs < $1.first!.timeMs }) { return nonEmpty.flatMap { $0 } }
        var tagged: [(Point, Int)] = []
        for (i, run) in nonEmpty.enumerated() { tagged += run.map { ($0, i) } }
        tagged.sort { $0.0.timeMs != $1.0.timeMs ? $0.0.timeMs < $1.0.timeMs : $0.1 < $1.1 }
        var out: [Point] = []
        for (p, _) in tagged {
            if let last = out.last, last.timeMs == p.timeMs { out[out.count - 1] = p } else { out.append(p) }
        }
        return out
    }

    /// Downsamples [fromMs, toMs) into steps of `stepMs`. A segment chunk that lies wholly inside one step, with no
    /// other source overlapping it, is answered from its footer statistics without decompressing.
    public func downsample(_ id: SeriesID, fromMs: Int64, toMs: Int64, stepMs: Int64) throws -> [Bucket] {
        precondition(stepMs > 0, "stepMs must be positive")
        return try retryingRetired { try downsampleOnce(id, fromMs: fromMs, toMs: toMs, stepMs: stepMs) }
    }

    func downsampleOnce(_ id: SeriesID, fromMs: Int64, toMs: Int64, stepMs: Int64) throws -> [Bucket] {
        let (segments, memory) = sources(id, from: fromMs, to: toMs - 1)
        var buckets: [Int64: Bucket] = [:]
        func bucketStart(_ t: Int64) -> Int64 { fromMs + ((t - fromMs) / stepMs) * stepMs }
        func add(_ b: Bucket) {
            if var x = buckets[b.startMs] {
                x.absorb(b)
                buckets[b.startMs] = x
            } else {
                buckets[b.startMs] = b
            }
        }
        // Which segment chunks can be answered from statistics alone.
        var entries: [(StoreCatalog.SegmentRow, SegmentIndexEntry, SegmentReader)] = []
        for row in segments {
            let r = try reader(for: row)
            if let e = r.entry(for: id), e.tMax >= fromMs, e.tMin < toMs { entries.append((row, e, r)) }
        }
        let memoryRanges = memory.compactMap { c -> (Int64, Int64)? in
            guard let low = c.points.lazy.map(\.timeMs).min(), let high = c.points.lazy.map(\.timeMs).max() else { return nil }
            return (low, high)
        }
        var decoded: [[Point]] = []
        for (i, (_, e, r)) in entries.enumerated() {
            let inside = e.tMin >= fromMs && e.tMax < toMs && bucketStart(e.tMin) == bucketStart(e.tMax)
            let overlapped = entries.indices.contains { j in j != i && entries[j].1.tMax >= e.tMin && entries[j].1.tMin <= e.tMax }
                || memoryRanges.contains { $0.1 >= e.tMin && $0.0 <= e.tMax }
            if inside && !overlapped {
                let b = bucketStart(e.tMin)
                add(Bucket(startMs: b, count: e.count, min: e.min, max: e.max, sum: e.sum, last: e.last, lastTimeMs: e.tMax))
            } else {
                decoded.append(try r.points(for: id).filter { $0.timeMs >= fromMs && $0.timeMs < toMs })
            }
        }
        for chunk in memory { decoded.append(chunk.resolved().filter { $0.timeMs >= fromMs && $0.timeMs < toMs }) }
        for p in TimeSeriesStore.merge(decoded) {
            add(Bucket(startMs: bucketStart(p.timeMs), count: 1, min: p.value, max: p.value, sum: p.value, last: p.value, lastTimeMs: p.timeMs))
        }
        return buckets.values.sorted { $0.startMs < $1.startMs }
    }

    /// min/max that ignore NaN, as the segment footers do, so a bucket is the same whichever path answered it.
    static func nanIgnoringMin(_ a: Double, _ b: Double) -> Double { a.isNaN ? b : (b.isNaN ? a : Swift.min(a, b)) }
    static func nanIgnoringMax(_ a: Double, _ b: Double) -> Double { a.isNaN ? b : (b.isNaN ? a : Swift.max(a, b)) }

    /// The latest point of a series.
    public func last(_ id: SeriesID) throws -> Point? {
        try retryingRetired { try lastOnce(id) }
    }

    func lastOnce(_ id: SeriesID) throws -> Point? {
        let (segments, memory) = sources(id, from: .min, to: .max)
        var best: Point?
        for chunk in memory {
            if let p = chunk.resolved().last, best == nil || p.timeMs >= best!.timeMs { best = p }
        }
        for row in segments.sorted(by: { $0.tMax > $1.tMax }) {
            if let b = best, row.tMax < b.timeMs { break }
            let r = try reader(for: row)
            if let e = r.entry(for: id), best == nil || e.tMax >= best!.timeMs { best = Point(timeMs: e.tMax, value: e.last) }
        }
        return best
    }
}

/// Store failures an operator sees.
public enum StoreError: Error, CustomStringConvertible {
    /// A catalogued segment file is gone.
    case missingSegment(String)
    /// Writing to a store opened read-only.
    case readOnly
    /// No store at the path.
    case noStore(String)
    /// The WAL refused an append (disk failing or full): the points are in memory only.
    case walRefused(String)

    /// The message.
    public var description: String {
        switch self {
        case .missingSegment(let f): "segment file \(f) is missing"
        case .readOnly: "the store was opened read-only"
        case .noStore(let d): "no store at \(d) (start the gateway once, or check data_dir / store.dir)"
        case .walRefused(let reason): "the write-ahead log refused the points (\(reason)): they are not durable"
        }
    }
}

/// Opened segments, least recently used evicted first, bounded by the memory they hold (`SegmentReader.memoryBytes`):
/// opening a segment reads and checksums the whole file, which is most of a query's cost when the reader is not cached.
struct ReaderCache {
    private var entries: [String: (reader: SegmentReader, used: UInt64)] = [:]
    private var bytes = 0
    private var clock: UInt64 = 0
    /// Memory held by the cached readers.
    var heldBytes: Int { bytes }
    /// Readers cached.
    var count: Int { entries.count }

    mutating func get(_ file: String) -> SegmentReader? {
        guard let e = entries[file] else { return nil }
        clock += 1
        entries[file] = (e.reader, clock)
        return e.reader
    }

    mutating func put(_ file: String, _ reader: SegmentReader, limit: Int) {
        clock += 1
        if let old = entries[file] { bytes -= old.reader.memoryBytes }
        entries[file] = (reader, clock)
        bytes += reader.memoryBytes
        while bytes > limit, entries.count > 1, let victim = entries.min(by: { $0.value.used < $1.value.used })?.key {
            remove(victim)
        }
    }

    mutating func remove(_ file: String) {
        if let old = entries.removeValue(forKey: file) { bytes -= old.reader.memoryBytes }
    }
}
