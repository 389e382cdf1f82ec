import SQLite
import Testing

@Suite struct SQLiteStatementTests {
    private func makeTable() throws -> SQLiteConnection {
        let db = try SQLiteConnection(.memory)
        try db.execute("CREATE TABLE v (i INTEGER, r REAL, s TEXT, b BLOB)")
        return db
    }

    @Test func bindStepAndReadEveryType() throws {
        let db = try makeTable()
        let insert = try db.prepare("INSERT INTO v VALUES (?1, ?2, ?3, ?4)")
        #expect(insert.parameterCount == 4)
        try insert.bind(Int64.min, at: 1)
        try insert.bind(-0.125, at: 2)
        try insert.bind("héllo ✓", at: 3)
        try insert.bind([0x00, 0xFF, 0x10] as [UInt8], at: 4)
        try insert.run()

        let select = try db.prepare("SELECT i, r, s, b FROM v")
        #expect(select.columnCount == 4)
        #expect(select.columnName(at: 2) == "s")
        #expect(try select.step() == .row)
        #expect(select.int64(at: 0) == Int64.min)
        #expect(select.double(at: 1) == -0.125)
        #expect(select.string(at: 2) == "héllo ✓")
        #expect(select.blob(at: 3) == [0x00, 0xFF, 0x10])
        #expect(select.value(at: 0) == .integer(Int64.min))
        #expect(select.value(at: 1) == .real(-0.125))
        #expect(select.value(at: 2) == .text("héllo ✓"))
        #expect(select.value(at: 3) == .blob([0x00, 0xFF, 0x10]))
        #expect(try select.step() == .done)
    }

    @Test func nilBindsNullAndReadsBackAsNil() throws {
        let db = try makeTable()
        let insert = try db.prepare("INSERT INTO v VALUES (?1, ?2, ?3, ?4)")
        try insert.bind(nil as Int64?, at: 1)
        try insert.bind(nil as Double?, at: 2)
        try insert.bind(nil as String?, at: 3)
        try insert.bind(nil as [UInt8]?, at: 4)
        try insert.run()

        let select = try db.prepare("SELECT i, r, s, b FROM v")
        #expect(try select.step() == .row)
        for column in 0..<4 {
            #expect(select.isNull(at: column))
            #expect(select.value(at: column) == .null)
        }
        #expect(select.int64OrNil(at: 0) == nil)
        #expect(select.doubleOrNil(at: 1) == nil)
        #expect(select.stringOrNil(at: 2) == nil)
        #expect(select.blobOrNil(at: 3) == nil)
        // Non-optional accessors read NULL as SQLite does.
        #expect(select.int64(at: 0) == 0)
        #expect(select.string(at: 2) == "")
        #expect(select.blob(at: 3) == [])
    }

    @Test func emptyStringAndEmptyBlobAreNotNull() throws {
        let db = try makeTable()
        let insert = try db.prepare("INSERT INTO v (s, b) VALUES (?1, ?2)")
        try insert.bind("", at: 1)
        try insert.bind([UInt8](), at: 2)
        try insert.run()

        let select = try db.prepare("SELECT s, b, typeof(s), typeof(b) FROM v")
        #expect(try select.step() == .row)
        #expect(select.stringOrNil(at: 0) == "")
        #expect(select.blobOrNil(at: 1) == [])
        #expect(select.string(at: 2) == "text")
        #expect(select.string(at: 3) == "blob")
    }

    @Test func textWithEmbeddedNULRoundTrips() throws {
        let db = try makeTable()
        let insert = try db.prepare("INSERT INTO v (s) VALUES (?1)")
        try insert.bind("a\u{0}b", at: 1)
        try insert.run()
        let select = try db.prepare("SELECT s, length(CAST(s AS BLOB)) FROM v")
        #expect(try select.step() == .row)
        #expect(select.string(at: 0) == "a\u{0}b")
        #expect(select.int(at: 1) == 3)
    }

    @Test func resetKeepsBindingsAndClearBindingsDropsThem() throws {
        let db = try makeTable()
        let insert = try db.prepare("INSERT INTO v (i) VALUES (?1)")
        try insert.bind(5, at: 1)
        try insert.run()
        try insert.run()  // run() resets, bindings stay
        insert.clearBindings()
        try insert.run()
        let rows = try db.prepare("SELECT i FROM v ORDER BY rowid").rows { $0.int64OrNil(at: 0) }
        #expect(rows == [5, 5, nil])
    }

    @Test func statementIsReusableAfterReset() throws {
        let db = try makeTable()
        try db.execute("INSERT INTO v (i) VALUES (1), (2), (3)")
        let select = try db.prepare("SELECT i FROM v WHERE i >= ?1 ORDER BY i")
        try select.bind(2, at: 1)
        #expect(try select.rows { $0.int(at: 0) } == [2, 3])
        try select.bind(1, at: 1)
        #expect(try select.rows { $0.int(at: 0) } == [1, 2, 3])
        try select.bind([.integer(3)])
        #expect(try select.step() == .row)
        #expect(select.int(at: 0) == 3)
        select.reset()
        #expect(try select.step() == .row)
        #expect(select.int(at: 0) == 3)
    }

    @Test func bindOutOfRangeIsAnError() throws {
        let db = try makeTable()
        let insert = try db.prepare("INSERT INTO v (i) VALUES (?1)")
        let error = #expect(throws: SQLiteError.self) { try insert.bind(1, at: 2) }
        #expect(error?.code == 25)  // SQLITE_RANGE
        #expect(error?.sql == "INSERT INTO v (i) VALUES (?1)")
    }

    @Test func prepareRefusesMoreThanOneStatement() throws {
        let db = try makeTable()
        let error = #expect(throws: SQLiteError.self) { try db.prepare("SELECT 1; SELECT 2") }
        #expect(error?.code == 21)  // SQLITE_MISUSE
        #expect(error?.sql == "SELECT 1; SELECT 2")
        // Trailing whitespace and comments are not statements.
        let statement = try db.prepare("SELECT 1; -- done\n  ")
        #expect(try statement.step() == .row)
        #expect(throws: SQLiteError.self) { try db.prepare("   ") }
    }

    @Test func statementOutlivesItsConnectionReference() throws {
        var db: SQLiteConnection? = try makeTable()
        let statement = try db!.prepare("SELECT 42")
        db = nil
        #expect(try statement.step() == .row)
        #expect(statement.int(at: 0) == 42)
    }
}
