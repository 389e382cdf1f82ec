import Foundation
import SQLite
import Testing

/// A fresh directory under the system temp dir, removed by the caller.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sqlite-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private struct Boom: Error, Equatable {}

@Suite struct SQLiteConnectionTests {
    private func count(_ db: SQLiteConnection, _ table: String = "t") throws -> Int64 {
        let statement = try db.prepare("SELECT COUNT(*) FROM \(table)")
        #expect(try statement.step() == .row)
        return statement.int64(at: 0)
    }

    @Test func fileDatabaseUsesWALNormalSyncAndForeignKeys() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try SQLiteConnection(.path(dir.appendingPathComponent("a.db").path))
        #expect(try db.journalMode() == "wal")
        let sync = try db.prepare("PRAGMA synchronous")
        #expect(try sync.step() == .row)
        #expect(sync.int(at: 0) == 1)  // NORMAL
        let fk = try db.prepare("PRAGMA foreign_keys")
        #expect(try fk.step() == .row)
        #expect(fk.int(at: 0) == 1)
        // The -wal file appears with the first write.
        try db.execute("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("a.db-wal").path))
    }

    @Test func foreignKeysAreEnforced() throws {
        let db = try SQLiteConnection(.memory)
        try db.execute("CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (p INTEGER REFERENCES p(id))")
        let error = #expect(throws: SQLiteError.self) { try db.execute("INSERT INTO c VALUES (42)") }
        #expect(error?.isConstraintViolation == true)
        #expect(error?.extendedCode == 787)  // SQLITE_CONSTRAINT_FOREIGNKEY
    }

    @Test func inMemoryDatabaseReportsMemoryJournal() throws {
        let db = try SQLiteConnection(.memory)
        #expect(try db.journalMode() == "memory")
    }

    @Test func errorCarriesCodeMessageAndSQL() throws {
        let db = try SQLiteConnection(.memory)
        let sql = "SELECT * FROM missing_table"
        let error = #expect(throws: SQLiteError.self) { try db.prepare(sql) }
        #expect(error?.code == 1)  // SQLITE_ERROR
        #expect(error?.message == "no such table: missing_table")
        #expect(error?.sql == sql)
        #expect(error?.description.contains("no such table: missing_table") == true)
        #expect(error?.description.contains(sql) == true)
    }

    @Test func stepErrorCarriesExtendedCodeAndSQL() throws {
        let db = try SQLiteConnection(.memory)
        try db.execute("CREATE TABLE t (k TEXT UNIQUE)")
        let insert = try db.prepare("INSERT INTO t VALUES (?1)")
        try insert.bind("a", at: 1)
        try insert.run()
        let error = #expect(throws: SQLiteError.self) { try insert.run() }
        #expect(error?.code == 19)  // SQLITE_CONSTRAINT
        #expect(error?.extendedCode == 2067)  // SQLITE_CONSTRAINT_UNIQUE
        #expect(error?.message == "UNIQUE constraint failed: t.k")
        #expect(error?.sql == "INSERT INTO t VALUES (?1)")
    }

    @Test func executeErrorCarriesSQL() throws {
        let db = try SQLiteConnection(.memory)
        let error = #expect(throws: SQLiteError.self) { try db.execute("CREATE TABL x (a)") }
        #expect(error?.message.contains("syntax error") == true)
        #expect(error?.sql == "CREATE TABL x (a)")
    }

    @Test func openFailureIsAnError() throws {
        let error = #expect(throws: SQLiteError.self) {
            try SQLiteConnection(.path("/nonexistent-dir-\(UUID().uuidString)/x.db"))
        }
        #expect(error?.code == 14)  // SQLITE_CANTOPEN
    }

    @Test func transactionCommits() throws {
        let db = try SQLiteConnection(.memory)
        try db.execute("CREATE TABLE t (a INTEGER)")
        let value = try db.transaction {
            try db.execute("INSERT INTO t VALUES (1), (2)")
            return 7
        }
        #expect(value == 7)
        #expect(try count(db) == 2)
        #expect(db.isAutocommit)
    }

    @Test func transactionRollsBackOnThrowAndRethrows() throws {
        let db = try SQLiteConnection(.memory)
        try db.execute("CREATE TABLE t (a INTEGER)")
        #expect(throws: Boom.self) {
            try db.transaction {
                try db.execute("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        #expect(try count(db) == 0)
        #expect(db.isAutocommit)
    }

    @Test func transactionRollsBackOnSQLError() throws {
        let db = try SQLiteConnection(.memory)
        try db.execute("CREATE TABLE t (a INTEGER NOT NULL)")
        #expect(throws: SQLiteError.self) {
            try db.transaction {
                try db.execute("INSERT INTO t VALUES (1)")
                try db.execute("INSERT INTO t VALUES (NULL)")
            }
        }
        #expect(try count(db) == 0)
    }

    @Test func nestedTransactionRollsBackOnlyInnerWork() throws {
        let db = try SQLiteConnection(.memory)
        try db.execute("CREATE TABLE t (a INTEGER)")
        try db.transaction {
            try db.execute("INSERT INTO t VALUES (1)")
            try? db.transaction {
                try db.execute("INSERT INTO t VALUES (2)")
                throw Boom()
            }
            try db.execute("INSERT INTO t VALUES (3)")
        }
        let rows = try db.prepare("SELECT a FROM t ORDER BY a").rows { $0.int(at: 0) }
        #expect(rows == [1, 3])
    }

    @Test func lastInsertRowIDAndChanges() throws {
        let db = try SQLiteConnection(.memory)
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER)")
        try db.execute("INSERT INTO t (a) VALUES (10)")
        try db.execute("INSERT INTO t (a) VALUES (20)")
        #expect(db.lastInsertRowID == 2)
        try db.execute("UPDATE t SET a = a + 1")
        #expect(db.changes == 2)
        try db.execute("DELETE FROM t WHERE id = 1")
        #expect(db.changes == 1)
    }

    @Test func userVersionRoundTrips() throws {
        let db = try SQLiteConnection(.memory)
        #expect(try db.userVersion() == 0)
        try db.setUserVersion(3)
        #expect(try db.userVersion() == 3)
    }

    @Test func secondConnectionSeesCommittedRows() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("shared.db").path
        let writer = try SQLiteConnection(.path(path))
        try writer.execute("CREATE TABLE t (a INTEGER)")
        try writer.transaction { try writer.execute("INSERT INTO t VALUES (1)") }
        let reader = try SQLiteConnection(.path(path), readOnly: true)
        #expect(try count(reader) == 1)
        #expect(throws: SQLiteError.self) { try reader.execute("INSERT INTO t VALUES (2)") }
    }

    @Test func dataSurvivesReopen() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("reopen.db").path
        do {
            let db = try SQLiteConnection(.path(path))
            try db.execute("CREATE TABLE t (a INTEGER)")
            try db.execute("INSERT INTO t VALUES (1), (2), (3)")
        }
        let db = try SQLiteConnection(.path(path))
        #expect(try count(db) == 3)
    }
}
