import SQLite

/// The outbox's connection, prepared statements and in-memory indexes; lives inside `Outbox`'s mutex.
final class OutboxState {
    let db: SQLiteConnection
    let sinks: [String]
    private let insert: SQLiteStatement
    let upsertState: SQLiteStatement
    let deleteState: SQLiteStatement
    private let selectAfter: SQLiteStatement
    private let selectRange: SQLiteStatement
    private let insertInFlight: SQLiteStatement
    private let deleteInFlight: SQLiteStatement
    private let setNextSeq: SQLiteStatement
    private let upsertCursor: SQLiteStatement
    private let ackSink: SQLiteStatement
    private let deleteRow: SQLiteStatement
    private let oldestRows: SQLiteStatement

    /// Per stream: largest id written.
    private var maxID: [Int64: Int64] = [:]
    /// Per stream: rows up to this id have been deleted after acknowledgement.
    private var collectedThrough: [Int64: Int64] = [:]
    private var cursors: [String: [Int64: Int64]] = [:]
    /// Per sink: the sequence number the next new batch gets.
    private var nextSeq: [String: Int64] = [:]
    /// Per sink: the batches in flight, in sequence order (the `inflight` table, plus which of them the receiver
    /// acknowledged out of order; those are persisted only once every earlier batch of their stream is).
    private var inFlight: [String: [InFlightEntry]] = [:]
    private(set) var totalBytes: Int64 = 0

    init(db: SQLiteConnection, sinks: [String]) throws {
        self.db = db
        self.sinks = sinks
        insert = try db.prepare("INSERT INTO outbox(stream, points, bytes, created_ms, body) VALUES(?, ?, ?, ?, ?)", persistent: true)
        upsertState = try db.prepare("INSERT INTO rollup_state(key, body) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET body = excluded.body", persistent: true)
        deleteState = try db.prepare("DELETE FROM rollup_state WHERE key = ?", persistent: true)
        selectAfter = try db.prepare("SELECT id, points, created_ms, body FROM outbox WHERE stream = ? AND id > ? ORDER BY id", persistent: true)
        selectRange = try db.prepare("SELECT id, points, created_ms, body FROM outbox WHERE stream = ? AND id >= ? AND id <= ? ORDER BY id", persistent: true)
        insertInFlight = try db.prepare("INSERT OR REPLACE INTO inflight(sink, seq, stream, from_id, to_id) VALUES(?, ?, ?, ?, ?)", persistent: true)
        deleteInFlight = try db.prepare("DELETE FROM inflight WHERE sink = ? AND seq = ?", persistent: true)
        setNextSeq = try db.prepare("UPDATE sinks SET next_seq = ? WHERE sink = ?", persistent: true)
        upsertCursor = try db.prepare(
            "INSERT INTO cursors(sink, stream, acked) VALUES(?, ?, ?) ON CONFLICT(sink, stream) DO UPDATE SET acked = excluded.acked", persistent: true)
        ackSink = try db.prepare(
            """
            UPDATE sinks SET sent_points = sent_points + ?, sent_batches = sent_batches + ? WHERE sink = ?
            """, persistent: true)
        deleteRow = try db.prepare("DELETE FROM outbox WHERE id = ?", persistent: true)
        oldestRows = try db.prepare("SELECT id, points, bytes FROM outbox WHERE stream = ? AND id > ? ORDER BY id LIMIT 512", persistent: true)

        let add = try db.prepare("INSERT OR IGNORE INTO sinks(sink, next_seq) VALUES(?, 1)")
        for sink in sinks {
            try add.bind(sink, at: 1)
            try add.run()
            add.reset()
        }
        let streams = try db.prepare("SELECT stream, MAX(id), SUM(bytes) FROM outbox GROUP BY stream")
        for (stream, maxID, bytes) in try streams.rows({ ($0.int64(at: 0), $0.int64(at: 1), $0.int64(at: 2)) }) {
            self.maxID[stream] = maxID
            totalBytes += bytes
        }
        let c = try db.prepare("SELECT sink, stream, acked FROM cursors")
        for (sink, stream, acked) in try c.rows({ ($0.string(at: 0), $0.int64(at: 1), $0.int64(at: 2)) }) {
            cursors[sink, default: [:]][stream] = acked
        }
        // Outboxes written before several batches could be in flight kept the one batch in flight in `sinks`, with
        // the sequence number `next_seq`: move it to `inflight` (same rows, same number) once.
        try db.transaction {
            let legacy = try db.prepare("SELECT sink, next_seq, inflight_stream, inflight_from, inflight_to FROM sinks WHERE inflight_stream IS NOT NULL")
            for row in try legacy.rows({ ($0.string(at: 0), $0.int64(at: 1), $0.int64(at: 2), $0.int64(at: 3), $0.int64(at: 4)) }) {
                try insertInFlight.bind(row.0, at: 1)
                try insertInFlight.bind(row.1, at: 2)
                try insertInFlight.bind(row.2, at: 3)
                try insertInFlight.bind(row.3, at: 4)
                try insertInFlight.bind(row.4, at: 5)
                try insertInFlight.run()
                let clear = try db.prepare(
                    "UPDATE sinks SET next_seq = ?, inflight_stream = NULL, inflight_from = NULL, inflight_to = NULL WHERE sink = ?")
                try clear.bind(row.1 + 1, at: 1)
                try clear.bind(row.0, at: 2)
                try clear.run()
            }
        }
        let s = try db.prepare("SELECT sink, next_seq FROM sinks")
        for (sink, seq) in try s.rows({ ($0.string(at: 0), $0.int64(at: 1)) }) { nextSeq[sink] = seq }
        let f = try db.prepare("SELECT sink, seq, stream, from_id, to_id FROM inflight ORDER BY sink, seq")
        for row in try f.rows({ ($0.string(at: 0), $0.int64(at: 1), $0.int64(at: 2), $0.int64(at: 3), $0.int64(at: 4)) }) {
            inFlight[row.0, default: []].append(InFlightEntry(seq: row.1, stream: row.2, from: row.3, to: row.4))
        }
    }

    // MARK: Meta

    func meta(_ name: String) throws -> Int64? {
        let st = try db.prepare("SELECT value FROM meta WHERE name = ?")
        try st.bind(name, at: 1)
        return try st.step() == .row ? st.int64(at: 0) : nil
    }

    func setMeta(_ name: String, _ value: Int64) throws {
        let st = try db.prepare("INSERT INTO meta(name, value) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value")
        try st.bind(name, at: 1)
        try st.bind(value, at: 2)
        try st.run()
    }

    // MARK: Rows

    func insertRow(stream: UplinkStream, points: Int, body: [UInt8], nowMs: Int64) throws {
        try insert.bind(stream.rawValue, at: 1)
        try insert.bind(points, at: 2)
        try insert.bind(body.count, at: 3)
        try insert.bind(nowMs, at: 4)
        try insert.bind(body, at: 5)
        try insert.run()
        insert.reset()
        maxID[stream.rawValue] = db.lastInsertRowID
        totalBytes += Int64(body.count)
    }

    private func readRows(_ st: SQLiteStatement, maxPoints: Int) throws -> [OutboxBatch.Row] {
        defer { st.reset() }
        var rows: [OutboxBatch.Row] = []
        var points = 0
        while points < maxPoints, try st.step() == .row {
            let row = OutboxBatch.Row(id: st.int64(at: 0), points: st.int(at: 1), createdMs: st.int64(at: 2), body: st.blob(at: 3))
            points += row.points
            rows.append(row)
        }
        return rows
    }

    /// The first batch in flight that is neither acknowledged nor in `excluding` (sent again with its sequence
    /// number and rows); else a new batch after everything in flight, recorded in flight before it is returned.
    func nextBatch(sink: String, maxPoints: Int, excluding: Set<Int64>) throws -> OutboxBatch? {
        var i = 0
        while i < inFlight[sink, default: []].count {
            let e = inFlight[sink]![i]
            i += 1
            guard !e.acked, !excluding.contains(e.seq) else { continue }
            try selectRange.bind(e.stream, at: 1)
            try selectRange.bind(e.from, at: 2)
            try selectRange.bind(e.to, at: 3)
            let rows = try readRows(selectRange, maxPoints: .max)
            if !rows.isEmpty { return OutboxBatch(sink: sink, seq: e.seq, stream: UplinkStream(rawValue: e.stream), rows: rows) }
            // Its rows are gone (nothing deletes rows in flight; an outbox edited by hand): nothing left to send.
            try acknowledge(sink: sink, seq: e.seq, points: 0, keepSent: true)
            i = 0
        }
        let flying = inFlight[sink] ?? []
        for stream in maxID.keys.map(UplinkStream.init(rawValue:)).sorted() {
            let raw = stream.rawValue
            let mine = flying.filter { $0.stream == raw }
            // Events keep their order upstream: one batch of a stream of events in flight at a time.
            if !stream.isRollup && !mine.isEmpty { continue }
            let after = max(cursors[sink]?[raw] ?? 0, mine.last?.to ?? 0)
            guard let top = maxID[raw], top > after else { continue }
            try selectAfter.bind(raw, at: 1)
            try selectAfter.bind(after, at: 2)
            let rows = try readRows(selectAfter, maxPoints: maxPoints)
            guard let first = rows.first, let last = rows.last else { continue }
            let seq = nextSeq[sink] ?? 1
            try db.transaction {
                try insertInFlight.bind(sink, at: 1)
                try insertInFlight.bind(seq, at: 2)
                try insertInFlight.bind(raw, at: 3)
                try insertInFlight.bind(first.id, at: 4)
                try insertInFlight.bind(last.id, at: 5)
                try insertInFlight.run()
                try setNextSeq.bind(seq + 1, at: 1)
                try setNextSeq.bind(sink, at: 2)
                try setNextSeq.run()
            }
            inFlight[sink, default: []].append(InFlightEntry(seq: seq, stream: raw, from: first.id, to: last.id))
            nextSeq[sink] = seq + 1
            return OutboxBatch(sink: sink, seq: seq, stream: stream, rows: rows)
        }
        return nil
    }

    /// The batches in flight for `sink`, in sequence order.
    func inFlightBatches(sink: String) -> [OutboxStatus.InFlight] {
        (inFlight[sink] ?? []).map { .init(seq: $0.seq, stream: UplinkStream(rawValue: $0.stream), from: $0.from, to: $0.to, acknowledged: $0.acked) }
    }

    func ack(_ batch: OutboxBatch, keepSent: Bool) throws {
        try acknowledge(sink: batch.sink, seq: batch.seq, points: batch.points, keepSent: keepSent)
    }

    /// Marks the batch acknowledged; then, if it and every batch of its stream sent before it are, moves the cursor
    /// over that contiguous prefix, forgets those batches and deletes rows every sink has acknowledged. One
    /// transaction. A batch acknowledged ahead of an earlier one only waits in memory: after a crash it is sent
    /// again (and overwrites upstream).
    private func acknowledge(sink: String, seq: Int64, points: Int, keepSent: Bool) throws {
        guard var list = inFlight[sink], let index = list.firstIndex(where: { $0.seq == seq }) else { return }
        list[index].acked = true
        list[index].points = points
        let stream = list[index].stream
        var done: [InFlightEntry] = []
        for e in list where e.stream == stream {
            guard e.acked else { break }
            done.append(e)
        }
        guard let through = done.last?.to else {
            inFlight[sink] = list
            return
        }
        try db.transaction {
            try upsertCursor.bind(sink, at: 1)
            try upsertCursor.bind(stream, at: 2)
            try upsertCursor.bind(through, at: 3)
            try upsertCursor.run()
            for e in done {
                try deleteInFlight.bind(sink, at: 1)
                try deleteInFlight.bind(e.seq, at: 2)
                try deleteInFlight.run()
            }
            try ackSink.bind(done.reduce(0) { $0 + $1.points }, at: 1)
            try ackSink.bind(done.count, at: 2)
            try ackSink.bind(sink, at: 3)
            try ackSink.run()
            if !keepSent {
                let collect = sinks.map { $0 == sink ? through : (cursors[$0]?[stream] ?? 0) }.min() ?? 0
                let from = collectedThrough[stream] ?? 0
                if collect > from {
                    let sum = try db.prepare("SELECT COALESCE(SUM(bytes), 0) FROM outbox WHERE stream = ? AND id > ? AND id <= ?")
                    try sum.bind(stream, at: 1)
                    try sum.bind(from, at: 2)
                    try sum.bind(collect, at: 3)
                    let bytes = try sum.step() == .row ? sum.int64(at: 0) : 0
                    let del = try db.prepare("DELETE FROM outbox WHERE stream = ? AND id > ? AND id <= ?")
                    try del.bind(stream, at: 1)
                    try del.bind(from, at: 2)
                    try del.bind(collect, at: 3)
                    try del.run()
                    totalBytes -= bytes
                    collectedThrough[stream] = collect
                }
            }
        }
        let popped = Set(done.map(\.seq))
        list.removeAll { popped.contains($0.seq) }
        inFlight[sink] = list
        cursors[sink, default: [:]][stream] = through
    }

    /// Drops rows until the payload is within `maxBytes`: finest rollups first, oldest first, then coarser
    /// rollups, then status changes; never alerts, never a batch in flight.
    func enforceBound(_ maxBytes: Int64) throws -> [UplinkStream: Int] {
        guard totalBytes > maxBytes else { return [:] }
        var dropped: [UplinkStream: Int] = [:]
        let order = maxID.keys.map(UplinkStream.init(rawValue:)).filter(\.isDroppable).sorted(by: >)
        let protected = inFlight.values.flatMap { $0 }
        for stream in order where totalBytes > maxBytes {
            // Oldest first, a page at a time; rows of a batch in flight are stepped over.
            var after: Int64 = 0
            while totalBytes > maxBytes {
                try oldestRows.bind(stream.rawValue, at: 1)
                try oldestRows.bind(after, at: 2)
                var candidates: [(Int64, Int, Int64)] = []
                while try oldestRows.step() == .row { candidates.append((oldestRows.int64(at: 0), oldestRows.int(at: 1), oldestRows.int64(at: 2))) }
                oldestRows.reset()
                guard let lastID = candidates.last?.0 else { break }
                after = lastID
                for (id, points, bytes) in candidates where totalBytes > maxBytes {
                    if protected.contains(where: { $0.stream == stream.rawValue && id >= $0.from && id <= $0.to }) { continue }
                    try deleteRow.bind(id, at: 1)
                    try deleteRow.run()
                    deleteRow.reset()
                    totalBytes -= bytes
                    dropped[stream, default: 0] += points
                }
            }
        }
        for (stream, n) in dropped {
            let name = "dropped_points:\(stream.rawValue)"
            try setMeta(name, (try meta(name) ?? 0) + Int64(n))
        }
        return dropped
    }

    // MARK: Status

    func status(nowMs: Int64) throws -> OutboxStatus {
        try Self.status(db: db, sinks: sinks, nowMs: nowMs)
    }

    static func status(db: SQLiteConnection, sinks: [String], nowMs: Int64) throws -> OutboxStatus {
        let totals = try db.prepare("SELECT COUNT(*), COALESCE(SUM(points), 0), COALESCE(SUM(bytes), 0) FROM outbox")
        _ = try totals.step()
        var status = OutboxStatus(sinks: [], rows: totals.int(at: 0), points: totals.int(at: 1), bytes: totals.int64(at: 2), dropped: [:], openSeries: 0,
                                  clockMs: nil)
        let streams = try db.prepare("SELECT DISTINCT stream FROM outbox").rows { $0.int64(at: 0) }
        let backlog = try db.prepare(
            "SELECT COUNT(*), COALESCE(SUM(points), 0), COALESCE(SUM(bytes), 0), MIN(created_ms) FROM outbox WHERE stream = ? AND id > ?")
        let cursorQuery = try db.prepare("SELECT stream, acked FROM cursors WHERE sink = ?")
        let sinkQuery = try db.prepare("SELECT next_seq, sent_points, sent_batches FROM sinks WHERE sink = ?")
        let hasInFlightTable = try db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'inflight'").rows { $0.int(at: 0) }.first == 1
        let inFlightQuery = try db.prepare(
            hasInFlightTable
                ? "SELECT seq, stream, from_id, to_id FROM inflight WHERE sink = ? ORDER BY seq"
                : "SELECT next_seq, inflight_stream, inflight_from, inflight_to FROM sinks WHERE sink = ? AND inflight_stream IS NOT NULL")
        for sink in sinks {
            try cursorQuery.bind(sink, at: 1)
            var cursors: [UplinkStream: Int64] = [:]
            while try cursorQuery.step() == .row { cursors[UplinkStream(rawValue: cursorQuery.int64(at: 0))] = cursorQuery.int64(at: 1) }
            cursorQuery.reset()
            var s = OutboxStatus.Sink(name: sink, backlogRows: 0, backlogPoints: 0, backlogBytes: 0, oldestUnsentAgeMs: 0, cursors: cursors, nextSeq: 1,
                                      sentPoints: 0, sentBatches: 0, inFlight: [])
            var oldest = Int64.max
            for stream in streams {
                try backlog.bind(stream, at: 1)
                try backlog.bind(cursors[UplinkStream(rawValue: stream)] ?? 0, at: 2)
                if try backlog.step() == .row {
                    s.backlogRows += backlog.int(at: 0)
                    s.backlogPoints += backlog.int(at: 1)
                    s.backlogBytes += backlog.int64(at: 2)
                    if let created = backlog.int64OrNil(at: 3) { oldest = min(oldest, created) }
                }
                backlog.reset()
            }
            if oldest != .max { s.oldestUnsentAgeMs = max(0, nowMs - oldest) }
            try sinkQuery.bind(sink, at: 1)
            if try sinkQuery.step() == .row {
                s.nextSeq = sinkQuery.int64(at: 0)
                s.sentPoints = sinkQuery.int64(at: 1)
                s.sentBatches = sinkQuery.int64(at: 2)
            }
            sinkQuery.reset()
            try inFlightQuery.bind(sink, at: 1)
            s.inFlight = try inFlightQuery.rows {
                OutboxStatus.InFlight(seq: $0.int64(at: 0), stream: UplinkStream(rawValue: $0.int64(at: 1)), from: $0.int64(at: 2), to: $0.int64(at: 3))
            }
            status.sinks.append(s)
        }
        let meta = try db.prepare("SELECT name, value FROM meta")
        for (name, value) in try meta.rows({ ($0.string(at: 0), $0.int64(at: 1)) }) {
            if name == "clock_ms" { status.clockMs = value }
            if name.hasPrefix("dropped_points:"), let raw = Int64(name.dropFirst("dropped_points:".count)) {
                status.dropped[UplinkStream(rawValue: raw)] = value
            }
        }
        let open = try db.prepare("SELECT COUNT(*) FROM rollup_state")
        if try open.step() == .row { status.openSeries = open.int(at: 0) }
        return status
    }
}

/// One batch in flight, as `OutboxState` tracks it.
struct InFlightEntry {
    var seq: Int64
    var stream: Int64
    var from: Int64
    var to: Int64
    /// Acknowledged, waiting for an earlier batch of its stream.
    var acked = false
    var points = 0
}
