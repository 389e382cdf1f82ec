import Foundation
import Logging

/// A fresh directory holding a `catalog.db` path; removed by `cleanup()`.
struct TemporaryCatalog {
    let directory: URL
    var path: String { directory.appendingPathComponent("catalog.db").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("catalog-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func cleanup() {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Tests log nowhere.
let testLogger: Logger = {
    var logger = Logger(label: "citygate.catalog.tests", factory: { _ in SwiftLogNoOpLogHandler() })
    logger.logLevel = .trace
    return logger
}()
