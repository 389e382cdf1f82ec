import Foundation
import SQLite
import Synchronization

/// Durable alert state: alerts (open and history), the event log that delivery channels read with their own
/// cursors, and the rule/series pairs an operator disarmed. One SQLite file, `alerts.db` in the data directory.
///
/// Layout in docs/alerts.md. Every change the engine makes is one transaction (alerts + events together), so a
/// crash never leaves an event without its alert or the reverse.
///
/// ## Thread safety
/// `Sendable`; the connection sits behind a `Mutex`. Calls are synchronous and short (rows are written only on
/// transitions, which are rare next to samples).
public final class AlertStore: Sendable {
    struct Database {
        let connection: SQLiteConnection
        let upsert: SQLiteStatement
        let insertEvent: SQLiteStatement
    }

    private let database: Mutex<Database>
    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }()
    private static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return d
    }()

    static let schema = """
        CREATE TABLE IF NOT EXISTS alerts(
            id INTEGER PRIMARY KEY, rule TEXT NOT NULL, device TEXT NOT NULL, metric TEXT NOT NULL,
            state TEXT NOT NULL, severity TEXT NOT NULL, updated_ms INTEGER NOT NULL,
            pending_elapsed_ms INTEGER NOT NULL DEFAULT 0, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS alerts_open ON alerts(state) WHERE state != 'resolved';
        CREATE INDEX IF NOT EXISTS alerts_updated ON alerts(updated_ms);
        CREATE TABLE IF NOT EXISTS alert_events(
            seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id INTEGER NOT NULL, time_ms INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS delivery_cursors(channel TEXT PRIMARY KEY, seq INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS alert_disarmed(rule TEXT NOT NULL, device TEXT NOT NULL, metric TEXT NOT NULL,
            PRIMARY KEY(rule, device, metric));
        """

    /// Opens (creating if needed) the store at `path` (`:memory:` for tests).
    public init(path: String) throws {
        let connection = try SQLiteConnection(path == ":memory:" ? .memory : .path(path))
        try connection.execute(Self.schema)
        let upsert = try connection.prepare(
            """
            INSERT INTO alerts(id, rule, device, metric, state, severity, updated_ms, pending_elapsed_ms, body)
            VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
            ON CONFLICT(id) DO UPDATE SET state = ?5, severity = ?6, updated_ms = ?7, pending_elapsed_ms = ?8, body = ?9
            """, persistent: true)
        let insertEvent = try connection.prepare("INSERT INTO alert_events(alert_id, time_ms, body) VALUES(?1, ?2, ?3)", persistent: true)
        database = Mutex(Database(connection: connection, upsert: upsert, insertEvent: insertEvent))
    }

    /// One transaction's worth of engine changes.
    struct Changes {
        var upserts: [(Alert, pendingElapsedMs: Int64)] = []
        var deletes: [Int64] = []
        var events: [AlertEvent] = []
        var disarm: [(String, String, String)] = []
        var rearm: [(String, String, String)] = []

        var isEmpty: Bool { upserts.isEmpty && deletes.isEmpty && events.isEmpty && disarm.isEmpty && rearm.isEmpty }
    }

    /// Writes the changes in one transaction; returns the events with their sequence numbers.
    func apply(_ changes: Changes, nowMs: Int64) throws -> [AlertEvent] {
        try database.withLock { db in
            try db.connection.transaction {
                for (alert, elapsed) in changes.upserts {
                    try Self.bindAlert(alert, elapsed: elapsed, nowMs: nowMs, to: db.upsert)
                    try db.upsert.run()
                }
                if !changes.deletes.isEmpty {
                    let delete = try db.connection.prepare("DELETE FROM alerts WHERE id = ?1 AND state = 'pending'")
                    for id in changes.deletes {
                        try delete.bind(id, at: 1)
                        try delete.run()
                    }
                }
                var out: [AlertEvent] = []
                for var event in changes.events {
                    try db.insertEvent.bind(event.alert.id, at: 1)
                    try db.insertEvent.bind(event.timeMs, at: 2)
                    try db.insertEvent.bind(String(decoding: try Self.encoder.encode(event), as: UTF8.self), at: 3)
                    try db.insertEvent.run()
                    event.seq = db.connection.lastInsertRowID
                    out.append(event)
                }
                if !changes.disarm.isEmpty {
                    let s = try db.connection.prepare("INSERT OR IGNORE INTO alert_disarmed(rule, device, metric) VALUES(?1, ?2, ?3)")
                    for (r, d, m) in changes.disarm {
                        try s.bind([.text(r), .text(d), .text(m)])
                        try s.run()
                    }
                }
                if !changes.rearm.isEmpty {
                    let s = try db.connection.prepare("DELETE FROM alert_disarmed WHERE rule = ?1 AND device = ?2 AND metric = ?3")
                    for (r, d, m) in changes.rearm {
                        try s.bind([.text(r), .text(d), .text(m)])
                        try s.run()
                    }
                }
                return out
            }
        }
    }

    private static func bindAlert(_ alert: Alert, elapsed: Int64, nowMs: Int64, to s: SQLiteStatement) throws {
        try s.bind([
            .integer(alert.id), .text(alert.rule), .text(alert.device), .text(alert.metric), .text(alert.state.rawValue),
            .text(alert.severity.rawValue), .integer(nowMs), .integer(elapsed),
            .text(String(decoding: try encoder.encode(alert), as: UTF8.self)),
        ])
    }

    /// Records how long each pending alert has been pending, so a restart resumes the `for:` duration.
    func savePendingElapsed(_ entries: [(id: Int64, elapsedMs: Int64)]) throws {
        guard !entries.isEmpty else { return }
        try database.withLock { db in
            try db.connection.transaction {
                let s = try db.connection.prepare("UPDATE alerts SET pending_elapsed_ms = ?2 WHERE id = ?1 AND state = 'pending'")
                for e in entries {
                    try s.bind([.integer(e.id), .integer(e.elapsedMs)])
                    try s.run()
                }
            }
        }
    }

    // MARK: Reading

    /// Open (pending or firing) alerts with their saved pending durations.
    func openAlerts() throws -> [(Alert, pendingElapsedMs: Int64)] {
        try database.withLock { db in
            let s = try db.connection.prepare("SELECT body, pending_elapsed_ms FROM alerts WHERE state != 'resolved' ORDER BY id")
            return try s.rows { row in (try Self.decoder.decode(Alert.self, from: Data(row.string(at: 0).utf8)), row.int64(at: 1)) }
        }
    }

    /// Disarmed (rule, device, metric) triples.
    func disarmed() throws -> [(String, String, String)] {
        try database.withLock { db in
            try db.connection.prepare("SELECT rule, device, metric FROM alert_disarmed").rows { ($0.string(at: 0), $0.string(at: 1), $0.string(at: 2)) }
        }
    }

    /// The highest alert id ever used (0 when none).
    func maxAlertID() throws -> Int64 {
        try database.withLock { db in
            let s = try db.connection.prepare("SELECT COALESCE(MAX(id), 0) FROM alerts")
            _ = try s.step()
            return s.int64(at: 0)
        }
    }

    /// One alert by id.
    public func alert(id: Int64) throws -> Alert? {
        try database.withLock { db in
            let s = try db.connection.prepare("SELECT body FROM alerts WHERE id = ?1")
            try s.bind(id, at: 1)
            return try s.rows { try Self.decoder.decode(Alert.self, from: Data($0.string(at: 0).utf8)) }.first
        }
    }

    /// A filter for listing alerts.
    public struct Filter: Sendable, Hashable {
        /// Only these states (empty: all).
        public var states: Set<Alert.State> = []
        /// Only this rule.
        public var rule: String?
        /// Only this device.
        public var device: String?
        /// At least this severity.
        public var minimumSeverity: AlertRule.Severity?
        /// Only acknowledged (true) or unacknowledged (false) ones.
        public var acknowledged: Bool?
        /// Most rows, newest first.
        public var limit: Int = 200

        /// Creates a filter.
        public init(states: Set<Alert.State> = [], rule: String? = nil, device: String? = nil, minimumSeverity: AlertRule.Severity? = nil,
                    acknowledged: Bool? = nil, limit: Int = 200) {
            self.states = states
            self.rule = rule
            self.device = device
            self.minimumSeverity = minimumSeverity
            self.acknowledged = acknowledged
            self.limit = limit
        }
    }

    /// Alerts matching `filter`, newest first.
    public func alerts(_ filter: Filter = Filter()) throws -> [Alert] {
        var clauses: [String] = []
        var binds: [SQLiteValue] = []
        if !filter.states.isEmpty {
            clauses.append("state IN (\(filter.states.map { "'\($0.rawValue)'" }.sorted().joined(separator: ",")))")
        }
        if let rule = filter.rule {
            binds.append(.text(rule))
            clauses.append("rule = ?\(binds.count)")
        }
        if let device = filter.device {
            binds.append(.text(device))
            clauses.append("device = ?\(binds.count)")
        }
        if let minimum = filter.minimumSeverity {
            let allowed = AlertRule.Severity.allCases.filter { $0 >= minimum }.map { "'\($0.rawValue)'" }
            clauses.append("severity IN (\(allowed.joined(separator: ",")))")
        }
        let sql = "SELECT body FROM alerts \(clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")) ORDER BY id DESC"
        let limit = max(1, filter.limit)
        return try database.withLock { db in
            let s = try db.connection.prepare(sql)
            try s.bind(binds)
            var out: [Alert] = []
            while try s.step() == .row, out.count < limit {
                let alert = try Self.decoder.decode(Alert.self, from: Data(s.string(at: 0).utf8))
                if let ack = filter.acknowledged, alert.acknowledged != ack { continue }
                out.append(alert)
            }
            return out
        }
    }

    /// Events after `seq`, oldest first, at most `limit`.
    public func events(after seq: Int64, limit: Int = 500) throws -> [AlertEvent] {
        try database.withLock { db in
            let s = try db.connection.prepare("SELECT seq, body FROM alert_events WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            try s.bind([.integer(seq), .integer(Int64(limit))])
            return try s.rows { row in
                var event = try Self.decoder.decode(AlertEvent.self, from: Data(row.string(at: 1).utf8))
                event.seq = row.int64(at: 0)
                return event
            }
        }
    }

    /// The newest event's sequence number (0 when none).
    public func lastEventSeq() throws -> Int64 {
        try database.withLock { db in
            let s = try db.connection.prepare("SELECT COALESCE(MAX(seq), 0) FROM alert_events")
            _ = try s.step()
            return s.int64(at: 0)
        }
    }

    /// A channel's delivery cursor: the last event it delivered (nil when it never delivered anything).
    public func cursor(channel: String) throws -> Int64? {
        try database.withLock { db in
            let s = try db.connection.prepare("SELECT seq FROM delivery_cursors WHERE channel = ?1")
            try s.bind(channel, at: 1)
            return try s.rows { $0.int64(at: 0) }.first
        }
    }

    /// Moves a channel's cursor (after the receiver acknowledged).
    public func setCursor(channel: String, seq: Int64) throws {
        try database.withLock { db in
            let s = try db.connection.prepare(
                "INSERT INTO delivery_cursors(channel, seq) VALUES(?1, ?2) ON CONFLICT(channel) DO UPDATE SET seq = MAX(seq, ?2)")
            try s.bind([.text(channel), .integer(seq)])
            try s.run()
        }
    }

    /// Drops resolved alerts last changed before `beforeMs`, and events every channel has delivered and that are
    /// older than `beforeMs`. Returns (alerts, events) removed.
    @discardableResult
    public func prune(beforeMs: Int64, channels: [String]) throws -> (Int, Int) {
        try database.withLock { db in
            try db.connection.transaction {
                let a = try db.connection.prepare("DELETE FROM alerts WHERE state = 'resolved' AND updated_ms < ?1")
                try a.bind(beforeMs, at: 1)
                try a.run()
                let alerts = db.connection.changes
                var minCursor = Int64.max
                for channel in channels {
                    let s = try db.connection.prepare("SELECT seq FROM delivery_cursors WHERE channel = ?1")
                    try s.bind(channel, at: 1)
                    minCursor = min(minCursor, try s.rows { $0.int64(at: 0) }.first ?? 0)
                }
                let e = try db.connection.prepare("DELETE FROM alert_events WHERE time_ms < ?1 AND seq <= ?2")
                try e.bind([.integer(beforeMs), .integer(minCursor == .max ? Int64.max : minCursor)])
                try e.run()
                return (alerts, db.connection.changes)
            }
        }
    }
}
