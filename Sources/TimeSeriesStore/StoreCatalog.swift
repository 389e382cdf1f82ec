import Foundation
import SQLite

/// The store's SQLite catalog (`store.db`): series ids and the segment files that exist.
///
/// ```
/// series   (id INTEGER PRIMARY KEY, device TEXT, metric TEXT, unit TEXT, UNIQUE(device, metric))
/// segments (id INTEGER PRIMARY KEY, file TEXT UNIQUE, partition_start INTEGER, t_min INTEGER, t_max INTEGER,
///           points INTEGER, bytes INTEGER, series INTEGER, state TEXT, created_ms INTEGER)
///           state: 'active' | 'deleting' | 'quarantined'
/// ```
/// A segment row is inserted only after its file is durable (written, fsynced, renamed); a file is deleted only
/// after its row is marked 'deleting', and the row is removed after the file. Recovery finishes half-done
/// deletions and drops files that have no row, so the catalog and the directory never disagree for long.
final class StoreCatalog {
    struct SegmentRow: Sendable, Hashable {
        var id: Int64
        var file: String
        var partitionStart: Int64
        var tMin: Int64
        var tMax: Int64
        var points: Int64
        var bytes: Int64
        var series: Int64
        var state: String
    }

    let connection: SQLiteConnection

    init(path: String) throws {
        connection = try SQLiteConnection(.path(path))
        // The catalog is written a batch of new series or one segment row at a time and read at open: SQLite's
        // default page cache (2 MB) would mostly hold series-table pages that are never read again, which at 100k
        // series is ~20 bytes of resident memory per series. 256 KiB keeps the segment table and the index roots.
        try connection.execute("PRAGMA cache_size = -256;")
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS series (
                id INTEGER PRIMARY KEY, device TEXT NOT NULL, metric TEXT NOT NULL, unit TEXT NOT NULL DEFAULT '',
                UNIQUE(device, metric));
            """)
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS segments (
                id INTEGER PRIMARY KEY AUTOINCREMENT, file TEXT NOT NULL UNIQUE, partition_start INTEGER NOT NULL,
                t_min INTEGER NOT NULL, t_max INTEGER NOT NULL, points INTEGER NOT NULL, bytes INTEGER NOT NULL,
                series INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'active', created_ms INTEGER NOT NULL);
            """)
        try connection.execute("CREATE INDEX IF NOT EXISTS segments_by_time ON segments(state, partition_start, t_min);")
    }

    func allSeries() throws -> [(SeriesID, String, String, String)] {
        let s = try connection.prepare("SELECT id, device, metric, unit FROM series")
        return try s.rows { row in (SeriesID(row.int64(at: 0)), row.string(at: 1), row.string(at: 2), row.string(at: 3)) }
    }

    func insertSeries(_ list: [(SeriesID, String, String, String)]) throws {
        guard !list.isEmpty else { return }
        try connection.transaction {
            let s = try connection.prepare("INSERT OR IGNORE INTO series (id, device, metric, unit) VALUES (?1, ?2, ?3, ?4)")
            for (id, device, metric, unit) in list {
                try s.bind([.integer(Int64(id)), .text(device), .text(metric), .text(unit)])
                try s.run()
            }
        }
    }

    func segments(state: String? = "active") throws -> [SegmentRow] {
        let sql = "SELECT id, file, partition_start, t_min, t_max, points, bytes, series, state FROM segments"
            + (state != nil ? " WHERE state = ?1" : "") + " ORDER BY partition_start, t_min, id"
        let s = try connection.prepare(sql)
        if let state { try s.bind([.text(state)]) }
        return try s.rows { r in
            SegmentRow(id: r.int64(at: 0), file: r.string(at: 1), partitionStart: r.int64(at: 2), tMin: r.int64(at: 3), tMax: r.int64(at: 4),
                       points: r.int64(at: 5), bytes: r.int64(at: 6), series: r.int64(at: 7), state: r.string(at: 8))
        }
    }

    @discardableResult
    func insertSegment(_ row: SegmentRow, nowMs: Int64) throws -> Int64 {
        let s = try connection.prepare("""
            INSERT INTO segments (file, partition_start, t_min, t_max, points, bytes, series, state, created_ms)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'active', ?8)
            """)
        try s.bind([.text(row.file), .integer(row.partitionStart), .integer(row.tMin), .integer(row.tMax), .integer(row.points),
                    .integer(row.bytes), .integer(row.series), .integer(nowMs)])
        try s.run()
        return connection.lastInsertRowID
    }

    func setState(_ id: Int64, _ state: String) throws {
        let s = try connection.prepare("UPDATE segments SET state = ?2 WHERE id = ?1")
        try s.bind([.integer(id), .text(state)])
        try s.run()
    }

    func deleteSegment(_ id: Int64) throws {
        let s = try connection.prepare("DELETE FROM segments WHERE id = ?1")
        try s.bind([.integer(id)])
        try s.run()
    }
}
