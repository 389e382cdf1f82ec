import CSQLite

/// One SQLite database connection, configured for a write-heavy catalog: WAL journal, `synchronous=NORMAL`, a busy
/// timeout and foreign keys on.
///
/// ## Thread safety
/// `SQLiteConnection` and its `SQLiteStatement`s are deliberately **not** `Sendable`. The handle is opened with
/// `SQLITE_OPEN_NOMUTEX` ("multi-thread" mode), whose contract in <https://sqlite.org/threadsafe.html> is: a
/// connection, and every statement prepared on it, may be used from any thread, but never from two threads at
/// the same time. Swift enforces the same rule for a non-Sendable value: an owner may hand the connection to one
/// other isolation domain at a time (`sending`, e.g. into a `Mutex` or onto a thread-pool thread), but no two
/// domains can hold it at once. So whoever owns the connection serializes it: `Catalog` keeps its connection inside
/// a `Mutex` and calls it only inside `withLock`. All calls are synchronous and may block (disk I/O, busy
/// timeout), so run them off the cooperative pool.
///
/// ## Lifetime
/// Statements keep their connection alive; the connection is closed in `deinit` with `sqlite3_close_v2`, which
/// defers the close until the last statement is finalized.
public final class SQLiteConnection {
    /// Where the database lives.
    public enum Location: Sendable, Hashable {
        /// A private, temporary in-memory database (`:memory:`). WAL does not apply; `journalMode` reports `memory`.
        case memory
        /// A file path; the file is created if missing.
        case path(String)
    }

    /// The `sqlite3 *`. Non-nil for the whole life of the object; closed in `deinit`.
    private let handle: OpaquePointer
    /// Nesting depth of `transaction`, used to name savepoints.
    private var transactionDepth = 0

    /// Opens (creating if needed) a database and applies the connection settings.
    ///
    /// - Parameters:
    ///   - location: a file path or `.memory`.
    ///   - busyTimeoutMs: how long a call waits for another connection's lock before failing with `SQLITE_BUSY`.
    ///   - readOnly: open with `SQLITE_OPEN_READONLY`; the file must exist and the journal mode is left as is.
    public init(_ location: Location, busyTimeoutMs: Int = 5_000, readOnly: Bool = false) throws(SQLiteError) {
        // `sqlite3_threadsafe() == 0` means the library was built without any mutexes, in which case even the
        // multi-thread contract documented above does not hold.
        guard sqlite3_threadsafe() != 0 else {
            throw SQLiteError(code: SQLITE_MISUSE, extendedCode: SQLITE_MISUSE,
                              message: "libsqlite3 was built with SQLITE_THREADSAFE=0", sql: nil)
        }
        let path: String
        switch location {
        case .memory: path = ":memory:"
        case .path(let p): path = p
        }
        var flags = SQLITE_OPEN_NOMUTEX
        flags |= readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        // sqlite3_open_v2 returns a handle even on failure (except out of memory); it must still be closed.
        guard rc == SQLITE_OK, let db else {
            let error = SQLiteError.from(rc, handle: db, sql: nil)
            sqlite3_close_v2(db)
            throw error
        }
        // From here `self` owns the handle, so `deinit` closes it if a setting below fails.
        self.handle = db
        sqlite3_busy_timeout(db, Int32(clamping: busyTimeoutMs))
        if !readOnly, case .path = location {
            try execute("PRAGMA journal_mode=WAL")
        }
        // NORMAL is durable in WAL mode except for the last transactions before a power loss (not an app crash).
        try execute("PRAGMA synchronous=NORMAL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    // MARK: Errors

    /// Turns a result code into `SQLiteError`: the one place codes are mapped. `SQLITE_OK` passes.
    @inline(__always)
    func check(_ rc: Int32, sql: String?) throws(SQLiteError) {
        if rc != SQLITE_OK { throw SQLiteError.from(rc, handle: handle, sql: sql) }
    }

    /// Builds the error for a failed call on this connection (used where a result code other than OK means success).
    func error(_ rc: Int32, sql: String?) -> SQLiteError {
        SQLiteError.from(rc, handle: handle, sql: sql)
    }

    // MARK: Statements

    /// Runs one or more SQL statements that return no rows you need (DDL, PRAGMA, BEGIN ...).
    public func execute(_ sql: String) throws(SQLiteError) {
        try check(sqlite3_exec(handle, sql, nil, nil, nil), sql: sql)
    }

    /// Compiles exactly one statement.
    ///
    /// - Parameter persistent: hint that the statement will be kept and reused many times
    ///   (`SQLITE_PREPARE_PERSISTENT`).
    /// - Throws: `SQLiteError` for a syntax error, or with `SQLITE_MISUSE` when `sql` holds no statement or more
    ///   than one (trailing whitespace and comments are fine).
    public func prepare(_ sql: String, persistent: Bool = false) throws(SQLiteError) -> SQLiteStatement {
        let flags = UInt32(persistent ? SQLITE_PREPARE_PERSISTENT : 0)
        var statement: OpaquePointer?
        var trailingStatement = false
        let rc = sql.withCString { text -> Int32 in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v3(handle, text, -1, flags, &statement, &tail)
            guard rc == SQLITE_OK, var rest = tail else { return rc }
            // Anything after the first statement must compile to nothing (only whitespace or comments).
            while rest.pointee != 0 {
                var extra: OpaquePointer?
                var next: UnsafePointer<CChar>?
                let extraRC = sqlite3_prepare_v3(handle, rest, -1, 0, &extra, &next)
                if extra != nil { trailingStatement = true }
                sqlite3_finalize(extra)
                guard extraRC == SQLITE_OK, !trailingStatement, let next, next != rest else { return extraRC }
                rest = next
            }
            return rc
        }
        if rc != SQLITE_OK || trailingStatement {
            sqlite3_finalize(statement)
            if trailingStatement {
                throw SQLiteError(code: SQLITE_MISUSE, extendedCode: SQLITE_MISUSE,
                                  message: "prepare accepts exactly one statement", sql: sql)
            }
            throw error(rc, sql: sql)
        }
        guard let statement else {
            throw SQLiteError(code: SQLITE_MISUSE, extendedCode: SQLITE_MISUSE, message: "no statement in SQL", sql: sql)
        }
        return SQLiteStatement(handle: statement, connection: self, sql: sql)
    }

    // MARK: Transactions

    /// How `transaction` begins.
    public enum TransactionKind: Sendable {
        /// `BEGIN DEFERRED`: takes locks on first use. A read that later writes can fail with `SQLITE_BUSY`.
        case deferred
        /// `BEGIN IMMEDIATE`: takes the write lock at once (waiting up to the busy timeout). The default.
        case immediate
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws (or when COMMIT fails)
    /// and rethrows the error.
    ///
    /// Inside another `transaction` this becomes a `SAVEPOINT`, so an inner failure rolls back only the inner work.
    public func transaction<Result>(_ kind: TransactionKind = .immediate, _ body: () throws -> Result) throws -> Result {
        let nested = transactionDepth > 0 || !isAutocommit
        let savepoint = "citygate_sp\(transactionDepth)"
        if nested {
            try execute("SAVEPOINT \(savepoint)")
        } else {
            try execute(kind == .immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
        }
        transactionDepth += 1
        defer { transactionDepth -= 1 }
        do {
            let result = try body()
            try execute(nested ? "RELEASE \(savepoint)" : "COMMIT")
            return result
        } catch {
            // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) already rolled the transaction back; the rollback below
            // then fails with "no transaction is active", which must not hide the original error.
            if nested {
                try? execute("ROLLBACK TO \(savepoint)")
                try? execute("RELEASE \(savepoint)")
            } else if !isAutocommit {
                try? execute("ROLLBACK")
            }
            throw error
        }
    }

    /// False while a transaction is open (`sqlite3_get_autocommit`).
    public var isAutocommit: Bool { sqlite3_get_autocommit(handle) != 0 }

    // MARK: State

    /// Row id of the most recent successful INSERT on this connection (`sqlite3_last_insert_rowid`).
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows changed by the most recent INSERT, UPDATE or DELETE (`sqlite3_changes64`).
    public var changes: Int { Int(sqlite3_changes64(handle)) }

    /// Rows changed since the connection opened (`sqlite3_total_changes64`).
    public var totalChanges: Int { Int(sqlite3_total_changes64(handle)) }

    /// The journal mode in effect: `wal` for files, `memory` for in-memory databases.
    public func journalMode() throws(SQLiteError) -> String {
        try pragmaText("journal_mode")
    }

    /// `PRAGMA user_version`: the schema version an application stores in the file header.
    public func userVersion() throws(SQLiteError) -> Int {
        let statement = try prepare("PRAGMA user_version")
        guard try statement.step() == .row else { return 0 }
        return statement.int(at: 0)
    }

    /// Sets `PRAGMA user_version`. Use inside the migration's transaction so version and schema change together.
    public func setUserVersion(_ version: Int) throws(SQLiteError) {
        try execute("PRAGMA user_version = \(version)")
    }

    private func pragmaText(_ name: String) throws(SQLiteError) -> String {
        let statement = try prepare("PRAGMA \(name)")
        guard try statement.step() == .row else { return "" }
        return statement.string(at: 0)
    }
}

@available(*, unavailable, message: "SQLiteConnection must be used by one thread at a time; keep it behind a lock")
extension SQLiteConnection: Sendable {}

extension SQLiteError {
    /// Reads code, extended code and message from the connection right after the failing call.
    static func from(_ rc: Int32, handle: OpaquePointer?, sql: String?) -> SQLiteError {
        guard let handle else {
            return SQLiteError(code: rc & 0xFF, extendedCode: rc, message: String(cString: sqlite3_errstr(rc)), sql: sql)
        }
        var extended = sqlite3_extended_errcode(handle)
        // A call that does not record its error on the connection leaves an older code there; trust `rc` then.
        if extended & 0xFF != rc & 0xFF { extended = rc }
        return SQLiteError(code: rc & 0xFF, extendedCode: extended, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }
}
