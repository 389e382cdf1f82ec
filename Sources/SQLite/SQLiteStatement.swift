import CSQLite

/// A compiled statement: bind parameters, step through rows, read columns, reset and reuse.
///
/// Parameter indexes are 1-based and column indexes 0-based, as in the C API. Like its connection, a statement is
/// not `Sendable` and must be used by one thread at a time (see `SQLiteConnection`). It keeps its connection alive
/// and is finalized in `deinit`.
public final class SQLiteStatement {
    /// The `sqlite3_stmt *`, finalized in `deinit`.
    private let handle: OpaquePointer
    private let connection: SQLiteConnection
    /// The SQL text, carried into every error.
    public let sql: String

    init(handle: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.handle = handle
        self.connection = connection
        self.sql = sql
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// The result of one `step()`.
    public enum Step: Sendable, Hashable {
        /// A row is ready: read it with the column accessors.
        case row
        /// The statement has finished; `reset()` before running it again.
        case done
    }

    /// Number of `?` parameters.
    public var parameterCount: Int { Int(sqlite3_bind_parameter_count(handle)) }

    /// Number of result columns.
    public var columnCount: Int { Int(sqlite3_column_count(handle)) }

    /// Name of result column `index` (0-based).
    public func columnName(at index: Int) -> String {
        precondition(index >= 0 && index < columnCount, "column index out of range")
        return sqlite3_column_name(handle, Int32(index)).map { String(cString: $0) } ?? ""
    }

    // MARK: Binding

    /// Binds an integer to parameter `index` (1-based).
    public func bind(_ value: Int64, at index: Int) throws(SQLiteError) {
        try connection.check(sqlite3_bind_int64(handle, Int32(index), value), sql: sql)
    }

    /// Binds an integer to parameter `index` (1-based).
    public func bind(_ value: Int, at index: Int) throws(SQLiteError) {
        try bind(Int64(value), at: index)
    }

    /// Binds a double to parameter `index` (1-based).
    public func bind(_ value: Double, at index: Int) throws(SQLiteError) {
        try connection.check(sqlite3_bind_double(handle, Int32(index), value), sql: sql)
    }

    /// Binds text to parameter `index` (1-based). SQLite copies the bytes before returning.
    public func bind(_ value: String, at index: Int) throws(SQLiteError) {
        var value = value
        let rc = value.withUTF8 { utf8 -> Int32 in
            guard utf8.count <= Int32.max else { return SQLITE_TOOBIG }
            // A NULL pointer would bind SQL NULL, so an empty string needs a real (empty) C string.
            guard utf8.count > 0, let base = utf8.baseAddress else {
                return csqlite_bind_text_transient(handle, Int32(index), "", 0)
            }
            return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                csqlite_bind_text_transient(handle, Int32(index), $0, Int32(utf8.count))
            }
        }
        try connection.check(rc, sql: sql)
    }

    /// Binds bytes as a BLOB to parameter `index` (1-based). SQLite copies the bytes before returning.
    public func bind(_ value: [UInt8], at index: Int) throws(SQLiteError) {
        let rc = value.withUnsafeBytes { bytes -> Int32 in
            guard bytes.count <= Int32.max else { return SQLITE_TOOBIG }
            // A NULL pointer would bind SQL NULL; `zeroblob(0)` is an empty BLOB.
            guard bytes.count > 0, let base = bytes.baseAddress else { return sqlite3_bind_zeroblob(handle, Int32(index), 0) }
            return csqlite_bind_blob_transient(handle, Int32(index), base, Int32(bytes.count))
        }
        try connection.check(rc, sql: sql)
    }

    /// Binds SQL NULL to parameter `index` (1-based).
    public func bindNull(at index: Int) throws(SQLiteError) {
        try connection.check(sqlite3_bind_null(handle, Int32(index)), sql: sql)
    }

    /// Binds an integer, or NULL when `value` is nil.
    public func bind(_ value: Int64?, at index: Int) throws(SQLiteError) {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    /// Binds an integer, or NULL when `value` is nil.
    public func bind(_ value: Int?, at index: Int) throws(SQLiteError) {
        if let value { try bind(Int64(value), at: index) } else { try bindNull(at: index) }
    }

    /// Binds a double, or NULL when `value` is nil.
    public func bind(_ value: Double?, at index: Int) throws(SQLiteError) {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    /// Binds text, or NULL when `value` is nil.
    public func bind(_ value: String?, at index: Int) throws(SQLiteError) {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    /// Binds a BLOB, or NULL when `value` is nil.
    public func bind(_ value: [UInt8]?, at index: Int) throws(SQLiteError) {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    /// Binds any value to parameter `index` (1-based).
    public func bind(_ value: SQLiteValue, at index: Int) throws(SQLiteError) {
        switch value {
        case .null: try bindNull(at: index)
        case .integer(let v): try bind(v, at: index)
        case .real(let v): try bind(v, at: index)
        case .text(let v): try bind(v, at: index)
        case .blob(let v): try bind(v, at: index)
        }
    }

    /// Binds `values` to parameters 1, 2, ... in order.
    public func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        for (offset, value) in values.enumerated() {
            try bind(value, at: offset + 1)
        }
    }

    /// Sets every parameter back to NULL (`sqlite3_clear_bindings`). `reset()` alone keeps the bindings.
    public func clearBindings() {
        sqlite3_clear_bindings(handle)
    }

    // MARK: Running

    /// Runs the statement to its next row, or to completion.
    public func step() throws(SQLiteError) -> Step {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return .row
        case SQLITE_DONE: return .done
        default: throw connection.error(rc, sql: sql)
        }
    }

    /// Steps until done, for statements that return no rows (INSERT, UPDATE, DELETE), then resets the statement
    /// so it can be bound and run again. Bindings are kept.
    public func run() throws(SQLiteError) {
        defer { reset() }
        while try step() == .row {}
    }

    /// Steps through every row, calling `transform` on each, then resets the statement.
    public func rows<Element>(_ transform: (SQLiteStatement) throws -> Element) throws -> [Element] {
        defer { reset() }
        var result: [Element] = []
        while try step() == .row {
            result.append(try transform(self))
        }
        return result
    }

    /// Rewinds the statement so it can run again; bindings are kept.
    ///
    /// `sqlite3_reset` repeats the error of a failed `step`, which `step` has already thrown, so it is ignored here.
    public func reset() {
        sqlite3_reset(handle)
    }

    // MARK: Columns (0-based, valid after `step()` returned `.row`)

    /// True when column `index` is SQL NULL.
    public func isNull(at index: Int) -> Bool {
        columnType(index) == SQLITE_NULL
    }

    /// Column `index` as an integer (NULL reads as 0, as in SQLite).
    public func int64(at index: Int) -> Int64 {
        precondition(index >= 0 && index < columnCount, "column index out of range")
        return sqlite3_column_int64(handle, Int32(index))
    }

    /// Column `index` as an `Int` (NULL reads as 0).
    public func int(at index: Int) -> Int { Int(int64(at: index)) }

    /// Column `index` as a double (NULL reads as 0).
    public func double(at index: Int) -> Double {
        precondition(index >= 0 && index < columnCount, "column index out of range")
        return sqlite3_column_double(handle, Int32(index))
    }

    /// Column `index` as text (NULL reads as ""). Invalid UTF-8 is repaired with U+FFFD; read bytes with `blob`.
    public func string(at index: Int) -> String {
        precondition(index >= 0 && index < columnCount, "column index out of range")
        // Per the SQLite docs, call sqlite3_column_text before sqlite3_column_bytes so the length is of the text.
        guard let text = sqlite3_column_text(handle, Int32(index)) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, Int32(index)))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// Column `index` as bytes (NULL and empty BLOB read as `[]`).
    public func blob(at index: Int) -> [UInt8] {
        precondition(index >= 0 && index < columnCount, "column index out of range")
        // sqlite3_column_blob returns NULL for a zero-length BLOB.
        guard let bytes = sqlite3_column_blob(handle, Int32(index)) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, Int32(index)))
        return [UInt8](UnsafeRawBufferPointer(start: bytes, count: count))
    }

    /// Column `index` as an integer, or nil when NULL.
    public func int64OrNil(at index: Int) -> Int64? { isNull(at: index) ? nil : int64(at: index) }

    /// Column `index` as an `Int`, or nil when NULL.
    public func intOrNil(at index: Int) -> Int? { isNull(at: index) ? nil : int(at: index) }

    /// Column `index` as a double, or nil when NULL.
    public func doubleOrNil(at index: Int) -> Double? { isNull(at: index) ? nil : double(at: index) }

    /// Column `index` as text, or nil when NULL.
    public func stringOrNil(at index: Int) -> String? { isNull(at: index) ? nil : string(at: index) }

    /// Column `index` as bytes, or nil when NULL.
    public func blobOrNil(at index: Int) -> [UInt8]? { isNull(at: index) ? nil : blob(at: index) }

    /// Column `index` with its storage class, as SQLite holds it.
    public func value(at index: Int) -> SQLiteValue {
        switch columnType(index) {
        case SQLITE_INTEGER: .integer(int64(at: index))
        case SQLITE_FLOAT: .real(double(at: index))
        case SQLITE_TEXT: .text(string(at: index))
        case SQLITE_BLOB: .blob(blob(at: index))
        default: .null
        }
    }

    private func columnType(_ index: Int) -> Int32 {
        precondition(index >= 0 && index < columnCount, "column index out of range")
        return sqlite3_column_type(handle, Int32(index))
    }
}

@available(*, unavailable, message: "SQLiteStatement must be used by one thread at a time, like its connection")
extension SQLiteStatement: Sendable {}
