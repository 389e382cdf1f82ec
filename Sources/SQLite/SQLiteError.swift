import CSQLite

/// A failed SQLite call: the result code, the extended code, SQLite's own message and the SQL that was running.
///
/// Every SQLite return code is turned into this type in one place, `SQLiteConnection.check(_:sql:)`, so the
/// message is always the one `sqlite3_errmsg` held right after the failing call.
public struct SQLiteError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Primary result code (`SQLITE_BUSY` = 5, `SQLITE_CONSTRAINT` = 19, ...): the low 8 bits of `extendedCode`.
    public let code: Int32
    /// Extended result code (`SQLITE_CONSTRAINT_UNIQUE` = 2067, ...), as `sqlite3_extended_errcode` reports it.
    public let extendedCode: Int32
    /// `sqlite3_errmsg` text, e.g. `no such table: devices`.
    public let message: String
    /// The statement that failed, when there was one.
    public let sql: String?

    /// Creates an error. Library code builds these only through `SQLiteConnection.check`.
    public init(code: Int32, extendedCode: Int32, message: String, sql: String?) {
        self.code = code
        self.extendedCode = extendedCode
        self.message = message
        self.sql = sql
    }

    /// True for `SQLITE_BUSY` and `SQLITE_LOCKED`: another connection held the lock past the busy timeout.
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }

    /// True for constraint violations (UNIQUE, NOT NULL, CHECK, FOREIGN KEY).
    public var isConstraintViolation: Bool { code == SQLITE_CONSTRAINT }

    /// `sqlite3_errstr` of the primary code: the generic text (`database is locked`), independent of any connection.
    public var codeDescription: String { String(cString: sqlite3_errstr(code)) }

    /// `SQLite error 1 (SQL logic error): no such table: x [SQL: SELECT * FROM x]`.
    public var description: String {
        var text = "SQLite error \(extendedCode) (\(codeDescription)): \(message)"
        if let sql { text += " [SQL: \(sql)]" }
        return text
    }
}
