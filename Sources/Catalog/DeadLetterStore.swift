import GatewayCore
import Logging
import SQLite
import Synchronization

/// Messages that failed to decode, kept whole (raw bytes, topic, transport metadata, reason, profile) so they can
/// be inspected and replayed after a profile fix.
///
/// Rows live in the `dead_letters` table of the catalog database (see `CatalogSchema`, `docs/formats/catalog.md`).
/// Each `append` is one transaction, however many letters it carries. The store is bounded by `maxRows`: when an
/// append would pass it, the oldest *replayed* rows go first, then the oldest rows of any status. Evictions are
/// returned by `append` and summed in `evictedTotal`, so loss is counted, never silent.
///
/// ## Thread safety
/// `Sendable`; the connection sits behind a `Mutex` and every method is synchronous and may block on disk, so call
/// it from a thread that may block (not the cooperative pool).
public final class DeadLetterStore: Sendable {
    private struct Database {
        let connection: SQLiteConnection
        let insert: SQLiteStatement
        /// Rows in the table, kept in step with every insert and delete so retention needs no COUNT(*).
        var rowCount: Int
        var evictedTotal: Int
    }

    private let database: Mutex<Database>
    /// Most rows kept.
    public let maxRows: Int
    private let logger: Logger

    /// Opens (creating and migrating if needed) the `dead_letters` table in the database at `path`.
    ///
    /// If the table already holds more than `maxRows` rows (the limit was lowered), the excess is evicted now and
    /// counted in `evictedTotal`.
    ///
    /// - Parameters:
    ///   - path: database file, normally `<data dir>/catalog.db`; `:memory:` for a private in-memory database.
    ///   - maxRows: retention bound, default 1,000,000.
    ///   - logger: used at `info` for open, `debug` for evictions.
    public init(path: String, maxRows: Int = 1_000_000, logger: Logger) throws {
        precondition(maxRows > 0, "maxRows must be positive")
        let connection = try SQLiteConnection(path == ":memory:" ? .memory : .path(path))
        try CatalogSchema.migrate(connection)
        let countStatement = try connection.prepare("SELECT COUNT(*) FROM dead_letters")
        _ = try countStatement.step()
        let rowCount = countStatement.int(at: 0)
        let insert = try connection.prepare(Self.insertSQL, persistent: true)
        var database = Database(connection: connection, insert: insert, rowCount: rowCount, evictedTotal: 0)
        if rowCount > maxRows {
            _ = try connection.transaction { try Self.evict(&database, maxRows: maxRows, logger: logger) }
        }
        self.maxRows = maxRows
        self.logger = logger
        logger.info("Dead letter store opened", metadata: [
            "catalog.path": "\(path)", "catalog.rows": "\(database.rowCount)", "catalog.evicted": "\(database.evictedTotal)",
        ])
        self.database = Mutex(database)
    }

    // MARK: Writing

    /// Stores `letters` in one transaction and returns their ids, evicting old rows if the store would pass
    /// `maxRows`. All or nothing: on error no letter is stored.
    @discardableResult
    public func append(_ letters: [DeadLetter]) throws -> DeadLetterAppendResult {
        if letters.isEmpty { return DeadLetterAppendResult(ids: [], evicted: 0) }
        let maxRows = self.maxRows
        let logger = self.logger
        return try database.withLock { database in
            let before = database
            do {
                return try database.connection.transaction {
                    var ids: [Int64] = []
                    ids.reserveCapacity(letters.count)
                    for letter in letters {
                        try Self.bind(letter, to: database.insert)
                        try database.insert.run()
                        ids.append(database.connection.lastInsertRowID)
                    }
                    database.rowCount += letters.count
                    let evicted = try Self.evict(&database, maxRows: maxRows, logger: logger)
                    return DeadLetterAppendResult(ids: ids, evicted: evicted)
                }
            } catch {
                // Rolled back: the counters must not keep what the transaction did.
                database.rowCount = before.rowCount
                database.evictedTotal = before.evictedTotal
                throw error
            }
        }
    }

    /// Marks a letter replayed successfully. Returns false when no row has that id (it may have been evicted).
    @discardableResult
    public func markReplayed(id: Int64, atMs: Int64) throws -> Bool {
        try update(
            "UPDATE dead_letters SET status = 'replayed', replayed_ms = ?2, replay_error = NULL, replay_attempts = replay_attempts + 1 WHERE id = ?1",
            id: id, .integer(atMs)
        )
    }

    /// Marks a letter whose replay failed again; the row is kept with the error. Returns false when no row has that id.
    @discardableResult
    public func markReplayFailed(id: Int64, error: String) throws -> Bool {
        try update(
            "UPDATE dead_letters SET status = 'failed', replay_error = ?2, replay_attempts = replay_attempts + 1 WHERE id = ?1",
            id: id, .text(error)
        )
    }

    private func update(_ sql: String, id: Int64, _ value: SQLiteValue) throws -> Bool {
        try database.withLock { database in
            let statement = try database.connection.prepare(sql)
            try statement.bind([.integer(id), value])
            try statement.run()
            return database.connection.changes > 0
        }
    }

    // MARK: Reading

    /// Letters matching every given filter, newest (highest id) first.
    ///
    /// - Parameters:
    ///   - sinceMs: only letters received at or after this time (Unix ms).
    ///   - limit: at most this many rows.
    ///   - offset: rows to skip, for paging.
    public func list(
        reason: DeadLetter.Reason? = nil, profileID: String? = nil, transport: Transport? = nil, sinceMs: Int64? = nil,
        status: DeadLetterStatus? = nil, limit: Int = 100, offset: Int = 0
    ) throws -> [StoredDeadLetter] {
        var conditions: [String] = []
        var values: [SQLiteValue] = []
        func add(_ condition: String, _ value: SQLiteValue) {
            values.append(value)
            conditions.append("\(condition) ?\(values.count)")
        }
        if let reason { add("reason =", .text(reason.rawValue)) }
        if let profileID { add("profile_id =", .text(profileID)) }
        if let transport { add("transport =", .text(transport.rawValue)) }
        if let sinceMs { add("received_ms >=", .integer(sinceMs)) }
        if let status { add("status =", .text(status.rawValue)) }
        var sql = "SELECT \(Self.columns) FROM dead_letters"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        values.append(.integer(Int64(max(limit, 0))))
        values.append(.integer(Int64(max(offset, 0))))
        sql += " ORDER BY id DESC LIMIT ?\(values.count - 1) OFFSET ?\(values.count)"
        return try database.withLock { database in
            let statement = try database.connection.prepare(sql)
            try statement.bind(values)
            return try statement.rows { try Self.storedLetter(from: $0) }
        }
    }

    /// The letters with these ids, in the order asked; ids with no row (never stored, or evicted) are skipped.
    public func letters(ids: [Int64]) throws -> [StoredDeadLetter] {
        try database.withLock { database in
            let statement = try database.connection.prepare("SELECT \(Self.columns) FROM dead_letters WHERE id = ?1")
            var result: [StoredDeadLetter] = []
            for id in ids {
                try statement.bind(id, at: 1)
                result.append(contentsOf: try statement.rows { try Self.storedLetter(from: $0) })
            }
            return result
        }
    }

    /// Number of letters, with `status` or all.
    public func count(status: DeadLetterStatus? = nil) throws -> Int {
        try database.withLock { database in
            guard let status else { return database.rowCount }
            let statement = try database.connection.prepare("SELECT COUNT(*) FROM dead_letters WHERE status = ?1")
            try statement.bind(status.rawValue, at: 1)
            return try statement.rows { $0.int(at: 0) }.first ?? 0
        }
    }

    /// Number of letters per reason (reasons with none are absent), with `status` or all.
    public func countsByReason(status: DeadLetterStatus? = nil) throws -> [DeadLetter.Reason: Int] {
        try database.withLock { database in
            var sql = "SELECT reason, COUNT(*) FROM dead_letters"
            if status != nil { sql += " WHERE status = ?1" }
            sql += " GROUP BY reason"
            let statement = try database.connection.prepare(sql)
            if let status { try statement.bind(status.rawValue, at: 1) }
            var counts: [DeadLetter.Reason: Int] = [:]
            for (name, count) in try statement.rows({ ($0.string(at: 0), $0.int(at: 1)) }) {
                guard let reason = DeadLetter.Reason(rawValue: name) else {
                    throw CatalogError.invalidRow(table: "dead_letters", key: "reason", detail: "unknown reason '\(name)'")
                }
                counts[reason] = count
            }
            return counts
        }
    }

    /// Rows evicted by retention since this store was opened.
    public var evictedTotal: Int {
        database.withLock { $0.evictedTotal }
    }

    // MARK: Retention

    /// Deletes rows beyond `maxRows`: oldest replayed first, then oldest of any status. Runs inside the caller's
    /// transaction. Returns the number deleted.
    private static func evict(_ database: inout Database, maxRows: Int, logger: Logger) throws(SQLiteError) -> Int {
        let excess = database.rowCount - maxRows
        guard excess > 0 else { return 0 }
        var evicted = 0
        for sql in [
            // Uses the (status, id) index: replayed rows have already served their purpose.
            "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE status = 'replayed' ORDER BY id LIMIT ?1)",
            "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters ORDER BY id LIMIT ?1)",
        ] where evicted < excess {
            let statement = try database.connection.prepare(sql)
            try statement.bind(excess - evicted, at: 1)
            try statement.run()
            evicted += database.connection.changes
        }
        database.rowCount -= evicted
        database.evictedTotal += evicted
        logger.debug("Dead letters evicted", metadata: ["catalog.evicted": "\(evicted)", "catalog.rows": "\(database.rowCount)"])
        return evicted
    }

    // MARK: Rows

    private static let columns = """
        id, received_ms, transport, topic, payload, attributes, reason, error, profile_id, profile_version, status, \
        replay_attempts, replayed_ms, replay_error
        """

    private static let insertSQL = """
        INSERT INTO dead_letters (received_ms, transport, topic, payload, attributes, reason, error, profile_id, profile_version)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
        """

    private static func bind(_ letter: DeadLetter, to statement: SQLiteStatement) throws(SQLiteError) {
        try statement.bind(letter.message.receiveTimeMs, at: 1)
        try statement.bind(letter.message.transport.rawValue, at: 2)
        try statement.bind(letter.message.topic, at: 3)
        try statement.bind(letter.message.payload, at: 4)
        try statement.bind(AttributesJSON.encode(letter.message.attributes), at: 5)
        try statement.bind(letter.reason.rawValue, at: 6)
        try statement.bind(letter.error, at: 7)
        try statement.bind(letter.profileID, at: 8)
        try statement.bind(letter.profileVersion, at: 9)
    }

    private static func storedLetter(from row: SQLiteStatement) throws -> StoredDeadLetter {
        let id = row.int64(at: 0)
        func invalid(_ detail: String) -> CatalogError {
            CatalogError.invalidRow(table: "dead_letters", key: "\(id)", detail: detail)
        }
        guard let transport = Transport(rawValue: row.string(at: 2)) else { throw invalid("transport '\(row.string(at: 2))'") }
        guard let attributes = AttributesJSON.decode(row.string(at: 5)) else { throw invalid("attributes are not a JSON object of strings") }
        guard let reason = DeadLetter.Reason(rawValue: row.string(at: 6)) else { throw invalid("reason '\(row.string(at: 6))'") }
        guard let status = DeadLetterStatus(rawValue: row.string(at: 10)) else { throw invalid("status '\(row.string(at: 10))'") }
        let message = RawMessage(
            transport: transport, topic: row.string(at: 3), payload: row.blob(at: 4), receiveTimeMs: row.int64(at: 1),
            attributes: attributes
        )
        let letter = DeadLetter(
            message: message, reason: reason, error: row.string(at: 7), profileID: row.stringOrNil(at: 8),
            profileVersion: row.intOrNil(at: 9)
        )
        return StoredDeadLetter(
            id: id, letter: letter, status: status, replayAttempts: row.int(at: 11), replayedMs: row.int64OrNil(at: 12),
            replayError: row.stringOrNil(at: 13)
        )
    }
}
