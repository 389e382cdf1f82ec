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
    private let setInFlight: SQLiteStatement
    private let upsertCursor: SQLiteStatement
    private let ackSink: SQLiteStatement
    private let deleteRow: SQLiteStatement
    private let oldestRows: SQLiteStatement

    /// Per stream: largest id written.
    private var maxID: [Int64: Int64] = [:]
    /// Per stream: rows up to this id have been deleted after acknowledgement.
    private var collectedThrough: [Int64: Int64] = [:]
    private var cursors: [String: [Int64: Int64]] = [:]
    private var nextSeq: [String: Int64] = [:]
    private var inFlight: [String: (stream: Int64, from: Int64, to: Int64)] = [:]
    private(set) var totalBytes: Int64 = 0

    init(db: SQLiteConnection, sinks: [String]) throws {
        self.db = db
        self.sinks = sinks
        insert = try db.prepare("INSERT INTO outbox(stream, points, bytes, created_ms, body) VALUES(?, ?, ?, ?, ?)", persistent: true)
        upsertState = try db.prepare("INSERT INTO rollup_state(key, body) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET body = excluded.body", persistent: true)
        deleteState = try db.prepare("DELETE FROM rollup_state WHERE key = ?", persistent: true)
        selectAfter = try db.prepare("SELECT id, points, created_ms, body FROM outbox WHERE stream = ? AND id > ? ORDER BY id", persistent: true)
        selectRange = try db.prepare("SELECT id, points, created_ms, body FROM outbox WHERE stream = ? AND id >= ? AND id <= ? ORDER BY id", persistent: true)
        setInFlight = try db.prepare("UPDATE sinks SET inflight_stream = ?, inflight_from = ?, inflight_to = ? WHERE sink = ?", persistent: true)
        upsertCursor = try db.prepare(
            "INSERT INTO cursors(sink, stream, acked) VALUES(?, ?, ?) ON CONFLICT(sink, stream) DO UPDATE SET acked = excluded.acked", persistent: true)
        ackSink = try db.prepare(
            """
            UPDATE sinks SET next_seq = ?, inflight_stream = NULL, inflight_from = NULL, inflight_to = NULL,
                sent_points = sent_points + ?, sent_batches = sent_batches + 1 WHERE sink = ?
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
        let s = try db.prepare("SELECT sink, next_seq, inflight_stream, inflight_from, inflight_to FROM sinks")
        for row in try s.rows({ ($0.string(at: 0), $0.int64(at: 1), $0.int64OrNil(at: 2), $0.int64OrNil(at: 3), $0.int64OrNil(at: 4)) }) {
            nextSeq[row.0] = row.1
            if let stream = row.2, let from = row.3, let to = row.4 { inFlight[row.0] = (stream, from, to) }
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

    func nextBatch(sink: String, maxPoints: Int) throws -> OutboxBatch? {
        let seq = nextSeq[sink] ?? 1
        if let f = inFlight[sink] {
            try selectRange.bind(f.stream, at: 1)
            try selectRange.bind(f.from, at: 2)
            try selectRange.bind(f.to, at: 3)
            let rows = try readRows(selectRange, maxPoints: .max)
            if !rows.isEmpty { return OutboxBatch(sink: sink, seq: seq, stream: UplinkStream(rawValue: f.stream), rows: rows) }
            inFlight[sink] = nil
        }
        for stream in maxID.keys.map(UplinkStream.init(rawValue:)).sorted() {
            let acked = cursors[sink]?[stream.rawValue] ?? 0
            guard let top = maxID[stream.rawValue], top > acked else { continue }
            try selectAfter.bind(stream.rawValue, at: 1)
            try selectAfter.bind(acked, at: 2)
            let rows = try readRows(selectAfter, maxPoints: maxPoints)
            guard let first = rows.first, let last = rows.last else { continue }
            try setInFlight.bind(stream.rawValue, at: 1)
            try setInFlight.bind(first.id, at: 2)
            try setInFlight.bind(last.id, at: 3)
            try setInFlight.bind(sink, at: 4)
            try setInFlight.run()
            setInFlight.reset()
            inFlight[sink] = (stream.rawValue, first.id, last.id)
            return OutboxBatch(sink: sink, seq: seq, stream: stream, rows: rows)
        }
        return nil
    }

    /// The first stream in priority order with rows after the sink's cursor (with `override` as a hypothetical
    /// cursor), and that cursor.
    private func pendingStreams(sink: String, override: (Int64, Int64)? = nil) -> [(UplinkStream, Int64)] {
        maxID.keys.map(UplinkStream.init(rawValue:)).sorted().compactMap { stream in
            var acked = cursors[sink]?[stream.rawValue] ?? 0
            if let o = override, o.0 == stream.rawValue { acked = max(acked, o.1) }
            guard let top = maxID[stream.rawValue], top > acked else { return nil }
            return (stream, acked)
        }
    }

    func peekBatch(after batch: OutboxBatch, maxPoints: Int) throws -> OutboxBatch? {
        guard let last = batch.rows.last else { return nil }
        for (stream, acked) in pendingStreams(sink: batch.sink, override: (batch.stream.rawValue, last.id)) {
            try selectAfter.bind(stream.rawValue, at: 1)
            try selectAfter.bind(acked, at: 2)
            let rows = try readRows(selectAfter, maxPoints: maxPoints)
            if !rows.isEmpty { return OutboxBatch(sink: batch.sink, seq: batch.seq + 1, stream: stream, rows: rows) }
        }
        return nil
    }

    func claim(_ batch: OutboxBatch) throws -> Bool {
        guard inFlight[batch.sink] == nil, batch.seq == (nextSeq[batch.sink] ?? 1), let first = batch.rows.first, let last = batch.rows.last,
              let (stream, acked) = pendingStreams(sink: batch.sink).first, stream == batch.stream, acked < first.id else { return false }
        let count = try db.prepare("SELECT COUNT(*) FROM outbox WHERE stream = ? AND id > ? AND id <= ?")
        try count.bind(stream.rawValue, at: 1)
        try count.bind(acked, at: 2)
        try count.bind(last.id, at: 3)
        guard try count.step() == .row, count.int(at: 0) == batch.rows.count else { return false }
        try setInFlight.bind(stream.rawValue, at: 1)
        try setInFlight.bind(first.id, at: 2)
        try setInFlight.bind(last.id, at: 3)
        try setInFlight.bind(batch.sink, at: 4)
        try setInFlight.run()
        setInFlight.reset()
        inFlight[batch.sink] = (stream.rawValue, first.id, last.id)
        return true
    }

    func ack(_ batch: OutboxBatch, keepSent: Bool) throws {
        guard let last = batch.rows.last else { return }
        let stream = batch.stream.rawValue
        try db.transaction {
            try upsertCursor.bind(batch.sink, at: 1)
            try upsertCursor.bind(stream, at: 2)
            try upsertCursor.bind(last.id, at: 3)
            try upsertCursor.run()
            upsertCursor.reset()
            try ackSink.bind(batch.seq + 1, at: 1)
            try ackSink.bind(batch.points, at: 2)
            try ackSink.bind(batch.sink, at: 3)
            try ackSink.run()
            ackSink.reset()
            if !keepSent {
                let through = sinks.map { $0 == batch.sink ? last.id : (cursors[$0]?[stream] ?? 0) }.min() ?? 0
                let from = collectedThrough[stream] ?? 0
                if through > from {
                    let sum = try db.prepare("SELECT COALESCE(SUM(bytes), 0) FROM outbox WHERE stream = ? AND id > ? AND id <= ?")
                    try sum.bind(stream, at: 1)
                    try sum.bind(from, at: 2)
                    try sum.bind(through, at: 3)
                    let bytes = try sum.step() == .row ? sum.int64(at: 0) : 0
                    let del = try db.prepare("DELETE FROM outbox WHERE stream = ? AND id > ? AND id <= ?")
                    try del.bind(stream, at: 1)
                    try del.bind(from, at: 2)
                    try del.bind(through, at: 3)
                    try del.run()
                    totalBytes -= bytes
                    collectedThrough[stream] = through
                }
            }
        }
        cursors[batch.sink, default: [:]][stream] = last.id
        nextSeq[batch.sink] = batch.seq + 1
        inFlight[batch.sink] = nil
    }

    /// Drops rows until the payload is within `maxBytes`: finest rollups first, oldest first, then coarser
    /// rollups, then status changes; never alerts, never a batch in flight.
    func enforceBound(_ maxBytes: Int64) throws -> [UplinkStream: Int] {
        guard totalBytes > maxBytes else { return [:] }
        var dropped: [UplinkStream: Int] = [:]
        let order = maxID.keys.map(UplinkStream.init(rawValue:)).filter(\.isDroppable).sorted(by: >)
        let protected = Array(inFlight.values)
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
        let sinkQuery = try db.prepare(
            "SELECT next_seq, sent_points, sent_batches, inflight_stream, inflight_from, inflight_to FROM sinks WHERE sink = ?")
        for sink in sinks {
            try cursorQuery.bind(sink, at: 1)
            var cursors: [UplinkStream: Int64] = [:]
            while try cursorQuery.step() == .row { cursors[UplinkStream(rawValue: cursorQuery.int64(at: 0))] = cursorQuery.int64(at: 1) }
            cursorQuery.reset()
            var s = OutboxStatus.Sink(name: sink, backlogRows: 0, backlogPoints: 0, backlogBytes: 0, oldestUnsentAgeMs: 0, cursors: cursors, nextSeq: 1,
                                      sentPoints: 0, sentBatches: 0, inFlight: nil)
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
                if let st = sinkQuery.int64OrNil(at: 3), let f = sinkQuery.int64OrNil(at: 4), let t = sinkQuery.int64OrNil(at: 5) {
                    s.inFlight = (UplinkStream(rawValue: st), f, t)
                }
            }
            sinkQuery.reset()
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
