import SQLite
import Synchronization

/// The durable, ordered, byte-bounded queue between the rollup stage and the sinks: one SQLite file
/// (docs/formats/outbox.md).
///
/// ## Tables
/// - `outbox(id, stream, points, bytes, created_ms, body)`: rows of encoded points (`OutboxCodec`), `id` from
///   `AUTOINCREMENT` so it only grows, even after deletes; ordered by id within a stream.
/// - `cursors(sink, stream, acked)`: per sink and stream, the last row id the receiver acknowledged.
/// - `sinks(sink, next_seq, sent_*)`: per sink the sequence number the next new batch gets, and counters.
/// - `inflight(sink, seq, stream, from_id, to_id)`: per sink the batches in flight (up to the sink's
///   `max_in_flight`), each written *before* it is sent, so after a crash the same rows go out again with the same
///   sequence number.
/// - `rollup_state(key, body)`: the open windows of every series at the last commit (`RollupEngine` checkpoint).
/// - `meta(name, value)`: the rollup clock and drop counters.
///
/// ## Invariants
/// - A commit (`commit`) writes new rows, the checkpoint and the clock in one transaction: a window is either
///   still open in the checkpoint or in the outbox, never both, never neither.
/// - A cursor moves only in `ack`, after the receiver acknowledged, and only over a contiguous acknowledged prefix
///   of its stream: a batch acknowledged before an earlier one of the same stream waits (in memory) for it. The
///   row range of a batch in flight is never dropped by overflow.
/// - Rows every configured sink has acknowledged are deleted (unless `keepSent`); rows of sinks no longer in the
///   configuration do not hold anything back.
///
/// ## Threads
/// Every method is synchronous and may block on disk: call it from `OutboxExecutor` (a dedicated serial thread),
/// never from the cooperative pool. The connection lives in a `Mutex`, so calls are serialised anyway.
public final class Outbox: Sendable {
    /// Settings.
    public struct Configuration: Sendable, Hashable {
        /// The SQLite file.
        public var path: String
        /// Bound on the sum of row payload bytes; overflow drops per `UplinkStream` order.
        public var maxBytes: Int64
        /// Most points in one row.
        public var rowPoints: Int
        /// Keep rows after every sink acknowledged them (audits and tests); only overflow deletes them then.
        public var keepSent: Bool

        /// Creates settings. Defaults: 1 GiB, 1,000 points per row.
        public init(path: String, maxBytes: Int64 = 1 << 30, rowPoints: Int = 1_000, keepSent: Bool = false) {
            self.path = path
            self.maxBytes = maxBytes
            self.rowPoints = max(1, rowPoints)
            self.keepSent = keepSent
        }
    }

    /// The settings in force.
    public let configuration: Configuration
    private let state: Mutex<OutboxState>

    /// Opens (creating if needed) the outbox for the given sinks.
    public init(configuration: Configuration, sinks: [String]) throws {
        self.configuration = configuration
        let db = try SQLiteConnection(.path(configuration.path))
        try db.execute("""
            CREATE TABLE IF NOT EXISTS outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, stream INTEGER NOT NULL, points INTEGER NOT NULL,
                bytes INTEGER NOT NULL, created_ms INTEGER NOT NULL, body BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS outbox_stream ON outbox(stream, id);
            CREATE TABLE IF NOT EXISTS cursors(sink TEXT NOT NULL, stream INTEGER NOT NULL, acked INTEGER NOT NULL, PRIMARY KEY(sink, stream)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS sinks(sink TEXT PRIMARY KEY, next_seq INTEGER NOT NULL, inflight_stream INTEGER, inflight_from INTEGER,
                inflight_to INTEGER, sent_points INTEGER NOT NULL DEFAULT 0, sent_batches INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS inflight(sink TEXT NOT NULL, seq INTEGER NOT NULL, stream INTEGER NOT NULL, from_id INTEGER NOT NULL,
                to_id INTEGER NOT NULL, PRIMARY KEY(sink, seq)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS rollup_state(key TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
            """)
        let s = try OutboxState(db: db, sinks: sinks)
        state = Mutex(s)
    }

    // MARK: Writing

    /// What one commit did.
    public struct CommitResult: Sendable, Hashable {
        /// Rows written.
        public var rows = 0
        /// Points written.
        public var points = 0
        /// Points dropped by the overflow policy, per stream.
        public var dropped: [UplinkStream: Int] = [:]
    }

    /// Writes rollup points (any window sizes), events and the rollup checkpoint in one transaction, then applies
    /// the byte bound.
    public func commit(points: [RollupPoint], events: [UplinkEvent] = [], checkpoint: [(key: String, state: [UInt8]?)] = [], clockMs: Int64? = nil,
                       nowMs: Int64) throws -> CommitResult {
        var bodies: [(UplinkStream, Int, [UInt8])] = []
        let byWindow = Dictionary(grouping: points, by: \.windowMs)
        for windowMs in byWindow.keys.sorted(by: >) {
            let list = byWindow[windowMs]!
            var i = 0
            while i < list.count {
                let end = min(i + configuration.rowPoints, list.count)
                bodies.append((.rollups(windowMs: windowMs), end - i, OutboxCodec.encode(list[i..<end])))
                i = end
            }
        }
        for kind in UplinkEvent.Kind.allCases {
            let list = events.filter { $0.kind == kind }
            guard !list.isEmpty else { continue }
            bodies.append((kind == .alert ? .alerts : .status, list.count, OutboxCodec.encode(list)))
        }
        return try state.withLock { s in
            try s.db.transaction {
                var result = CommitResult()
                for (stream, n, body) in bodies {
                    try s.insertRow(stream: stream, points: n, body: body, nowMs: nowMs)
                    result.rows += 1
                    result.points += n
                }
                for (key, body) in checkpoint {
                    if let body {
                        try s.upsertState.bind(key, at: 1)
                        try s.upsertState.bind(body, at: 2)
                        try s.upsertState.run()
                    } else {
                        try s.deleteState.bind(key, at: 1)
                        try s.deleteState.run()
                    }
                }
                if let clockMs { try s.setMeta("clock_ms", clockMs) }
                result.dropped = try s.enforceBound(configuration.maxBytes)
                return result
            }
        }
    }

    /// Writes rows already encoded (the uplink benchmark fills the outbox this way).
    public func commitEncoded(_ rows: [(stream: UplinkStream, points: Int, body: [UInt8])], nowMs: Int64) throws {
        try state.withLock { s in
            try s.db.transaction {
                for r in rows { try s.insertRow(stream: r.stream, points: r.points, body: r.body, nowMs: nowMs) }
                _ = try s.enforceBound(configuration.maxBytes)
            }
        }
    }

    /// The rollup clock and open windows saved by the last commit.
    public func loadCheckpoint() throws -> (clockMs: Int64?, series: [[UInt8]]) {
        try state.withLock { s in
            let clock = try s.meta("clock_ms")
            let st = try s.db.prepare("SELECT body FROM rollup_state")
            let rows = try st.rows { $0.blob(at: 0) }
            return (clock, rows)
        }
    }

    // MARK: Sending

    /// The next batch for `sink`: the first batch recorded in flight that is not acknowledged and not in
    /// `excluding` (a crash or failure interrupted it: same rows, same sequence number), else up to `maxPoints`
    /// points (at least one row) of the highest-priority stream with rows after everything in flight, recorded in
    /// flight with the sink's next sequence number before it is returned. A stream of events (alerts, status) has
    /// at most one batch in flight. Nil when nothing is pending.
    ///
    /// A runner with several requests on the wire passes their sequence numbers as `excluding`.
    public func nextBatch(sink: String, maxPoints: Int, excluding: Set<Int64> = []) throws -> OutboxBatch? {
        try state.withLock { s in try s.nextBatch(sink: sink, maxPoints: max(1, maxPoints), excluding: excluding) }
    }

    /// The batches in flight for `sink` (recorded, not yet persisted as acknowledged), in sequence order.
    public func inFlight(sink: String) -> [OutboxStatus.InFlight] {
        state.withLock { $0.inFlightBatches(sink: sink) }
    }

    /// Records that the receiver acknowledged `batch`. If every batch of its stream sent before it is acknowledged
    /// too, moves the cursor over them, clears their in-flight records and deletes rows every sink has
    /// acknowledged, in one transaction; otherwise only remembers the acknowledgement (in memory) until they are.
    public func ack(_ batch: OutboxBatch) throws {
        try state.withLock { s in try s.ack(batch, keepSent: configuration.keepSent) }
    }

    // MARK: Reading state

    /// Backlog, cursors and counters per sink.
    public func status(nowMs: Int64) throws -> OutboxStatus {
        try state.withLock { s in try s.status(nowMs: nowMs) }
    }

    /// Payload bytes held.
    public var totalBytes: Int64 { state.withLock { $0.totalBytes } }

    /// Every row (tests and audits): stream, id and body, in id order.
    public func allRows() throws -> [(id: Int64, stream: UplinkStream, body: [UInt8])] {
        try state.withLock { s in
            let st = try s.db.prepare("SELECT id, stream, body FROM outbox ORDER BY id")
            return try st.rows { ($0.int64(at: 0), UplinkStream(rawValue: $0.int64(at: 1)), $0.blob(at: 2)) }
        }
    }

    /// Reads the status of an outbox file without opening it for writing (`citygate uplink status` beside a
    /// running gateway).
    public static func readStatus(path: String, sinks: [String], nowMs: Int64) throws -> OutboxStatus {
        let db = try SQLiteConnection(.path(path), readOnly: true)
        return try OutboxState.status(db: db, sinks: sinks, nowMs: nowMs)
    }
}

/// One batch handed to a sink: rows of one stream, contiguous in that stream's order.
public struct OutboxBatch: Sendable, Hashable {
    /// The sink it belongs to.
    public var sink: String
    /// The sink's sequence number for it (the same on every resend).
    public var seq: Int64
    /// Its stream.
    public var stream: UplinkStream
    /// Row ids and payloads, in order.
    public var rows: [Row]

    /// One outbox row.
    public struct Row: Sendable, Hashable {
        /// Row id.
        public var id: Int64
        /// Points in it.
        public var points: Int
        /// When it was committed (Unix ms).
        public var createdMs: Int64
        /// Encoded payload (`OutboxCodec`).
        public var body: [UInt8]
    }

    /// Points in the batch.
    public var points: Int { rows.reduce(0) { $0 + $1.points } }
    /// Payload bytes in the batch.
    public var bytes: Int { rows.reduce(0) { $0 + $1.body.count } }
}

/// The outbox seen from one sink, and overall.
public struct OutboxStatus: Sendable, Hashable {
    /// Per configured sink.
    public struct Sink: Sendable, Hashable {
        /// Name.
        public var name: String
        /// Rows not yet acknowledged.
        public var backlogRows: Int
        /// Points not yet acknowledged.
        public var backlogPoints: Int
        /// Payload bytes not yet acknowledged.
        public var backlogBytes: Int64
        /// Age of the oldest unacknowledged row (ms), 0 when none.
        public var oldestUnsentAgeMs: Int64
        /// Last acknowledged row id per stream.
        public var cursors: [UplinkStream: Int64]
        /// Sequence number the next new batch gets.
        public var nextSeq: Int64
        /// Points and batches acknowledged since the outbox was created.
        public var sentPoints: Int64
        /// Batches acknowledged since the outbox was created.
        public var sentBatches: Int64
        /// The batches in flight, in sequence order.
        public var inFlight: [InFlight]
    }

    /// A batch in flight: its sequence number, stream and row ids.
    public struct InFlight: Sendable, Hashable {
        /// Sequence number.
        public var seq: Int64
        /// Stream.
        public var stream: UplinkStream
        /// First row id.
        public var from: Int64
        /// Last row id.
        public var to: Int64
        /// The receiver acknowledged it, but an earlier batch of its stream is still out (live view only; the
        /// file does not record this).
        public var acknowledged: Bool

        /// Creates a record.
        public init(seq: Int64, stream: UplinkStream, from: Int64, to: Int64, acknowledged: Bool = false) {
            self.seq = seq
            self.stream = stream
            self.from = from
            self.to = to
            self.acknowledged = acknowledged
        }
    }

    /// Per sink, in configuration order.
    public var sinks: [Sink]
    /// Rows held.
    public var rows: Int
    /// Points held.
    public var points: Int
    /// Payload bytes held.
    public var bytes: Int64
    /// Points dropped by the overflow policy since the outbox was created, per stream.
    public var dropped: [UplinkStream: Int64]
    /// Open rollup series in the checkpoint.
    public var openSeries: Int
    /// The rollup clock at the last commit.
    public var clockMs: Int64?
}
