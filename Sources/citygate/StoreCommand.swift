import ArgumentParser
import Foundation
import Gateway
import TimeSeriesStore

/// `citygate store check`: is what is on disk whole? Read-only, so it may run beside a live gateway.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store", abstract: "The time-series store on disk.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every segment (checksums, sizes), the catalog against the files both ways, and every database file.",
            discussion: """
                Reads every catalogued segment file and verifies it (magics, length, CRC32C, index), compares the \
                catalog (store.db) with the files in segments/ both ways, lists quarantined segments, and runs \
                PRAGMA integrity_check on store.db, catalog.db, api.db, alerts.db and the outbox. Changes nothing. \
                Exits 1 when anything disagrees. --crashed: the directory is what a crash left (the gateway has not \
                started since), so files written but not yet registered, temporary files and half-done deletions are \
                listed, not counted as errors (the next start removes them).
                """)
        @OptionGroup var options: ConfigOptions
        @Flag(help: "The data directory is what a crash left: leftovers of interrupted writes are expected.") var crashed = false

        func run() async throws {
            let config = try options.load()
            var problems: [String] = []
            let report: StoreCheck.Report
            do {
                report = try StoreCheck.run(directory: config.storeDirectory, crashed: crashed)
            } catch {
                out("store: \(error)\n")
                throw ExitCode(1)
            }
            out("store: \(config.storeDirectory)\n")
            out("  segments: \(report.segmentsChecked) verified, \(report.points) points, \(report.bytes) bytes; \(report.series) series; \(report.walFiles) WAL files\n")
            out("  store.db integrity_check: \(report.integrity)\n")
            out("  quarantined: \(report.quarantinedRows.count) rows, \(report.quarantineFiles.count) files\(report.quarantineFiles.isEmpty ? "" : " (" + report.quarantineFiles.joined(separator: ", ") + ")")\n")
            if crashed {
                let leftovers = report.unregisteredFiles.count + report.temporaryFiles.count + report.deletingRows.count
                out("  crash leftovers: \(report.unregisteredFiles.count) unregistered, \(report.temporaryFiles.count) temporary, \(report.deletingRows.count) deleting\(leftovers == 0 ? "" : " (removed at the next start)")\n")
            }
            problems += report.problems
            for (name, path) in [("catalog.db", config.catalogPath), ("api.db", config.apiDatabasePath),
                                 ("alerts.db", (config.dataDirectory as NSString).appendingPathComponent("alerts.db")), ("outbox", config.outboxPath)] {
                guard FileManager.default.fileExists(atPath: path) else { continue }
                let result: String
                do { result = try StoreCheck.integrityCheck(path: path) } catch { result = "\(error)" }
                out("  \(name) integrity_check: \(result)\n")
                if result != "ok" { problems.append("\(name) integrity_check: \(result)") }
            }
            if problems.isEmpty {
                out("ok\n")
            } else {
                for p in problems { out("error: \(p)\n") }
                throw ExitCode(1)
            }
        }
    }
}
