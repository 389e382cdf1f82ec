import Catalog
import Foundation
import SQLite
import Testing

@Suite struct CatalogSchemaTests {
    @Test func openingSetsUserVersionOnce() throws {
        let temp = try TemporaryCatalog()
        defer { temp.cleanup() }
        _ = try DeviceRegistry(path: temp.path, logger: testLogger)
        _ = try DeadLetterStore(path: temp.path, logger: testLogger)
        let db = try SQLiteConnection(.path(temp.path))
        #expect(try db.userVersion() == CatalogSchema.currentVersion)
        #expect(try db.journalMode() == "wal")
        let tables = try db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .rows { $0.string(at: 0) }
        #expect(tables == ["dead_letters", "devices"])
    }

    @Test func refusesANewerSchema() throws {
        let temp = try TemporaryCatalog()
        defer { temp.cleanup() }
        do {
            let db = try SQLiteConnection(.path(temp.path))
            try db.setUserVersion(CatalogSchema.currentVersion + 1)
        }
        let error = #expect(throws: CatalogError.self) { try DeviceRegistry(path: temp.path, logger: testLogger) }
        #expect(error == .schemaTooNew(found: CatalogSchema.currentVersion + 1, supported: CatalogSchema.currentVersion))
    }

    @Test func filenameIsCatalogDB() {
        #expect(CatalogSchema.filename == "catalog.db")
    }
}
