import Foundation
import SQLite

/// A read-only consistency check of a store directory (`citygate store check`), for operators after an incident
/// and for the fault tests after every `kill -9`: every catalogued segment file verifies (magics, length, CRC32C,
/// index), its size matches its catalog row, the catalog and the `segments/` directory agree both ways, and
/// `store.db` passes `PRAGMA integrity_check`. Nothing on disk is changed.
///
/// A crash can legitimately leave a segment written but not yet registered (a `.seg` file without a row), a
/// half-written `.tmp` file, or a row marked `deleting`; the next open removes them. `crashed: true` lists those
/// as leftovers instead of mismatches, so a directory taken right after a kill can be checked before recovery
/// hides anything. A catalogued file that is missing or fails verification is a mismatch either way.
public enum StoreCheck {
    /// One catalogued segment file that did not verify.
    public struct BadSegment: Sendable, Hashable {
        /// File name under `segments/`.
        public var file: String
        /// Why.
        public var reason: String
    }

    /// What the check found.
    public struct Report: Sendable {
        /// Catalogued, active segment files read and verified.
        public var segmentsChecked = 0
        /// Points in those segments, from their indexes.
        public var points: Int64 = 0
        /// Bytes of those segments.
        public var bytes: Int64 = 0
        /// Active segments whose file fails verification or disagrees with its row.
        public var corrupt: [BadSegment] = []
        /// Active rows whose file is missing.
        public var missingFiles: [String] = []
        /// `.seg` files under `segments/` with no active row (after a crash: written, not yet registered).
        public var unregisteredFiles: [String] = []
        /// Temporary files under `segments/` (a crash during a write).
        public var temporaryFiles: [String] = []
        /// Rows marked `deleting` (a crash during an eviction or compaction).
        public var deletingRows: [String] = []
        /// Rows marked `quarantined`.
        public var quarantinedRows: [String] = []
        /// Files under `quarantine/`.
        public var quarantineFiles: [String] = []
        /// `PRAGMA integrity_check` of `store.db`: "ok" or what it reported.
        public var integrity = ""
        /// Series in the catalog.
        public var series = 0
        /// WAL files present.
        public var walFiles = 0
        /// Whether leftovers of an interrupted write or deletion are tolerated.
        public var crashed = false

        /// Mismatches: what makes the check fail.
        public var problems: [String] {
            var list: [String] = []
            if integrity != "ok" { list.append("store.db integrity_check: \(integrity)") }
            list += corrupt.map { "segment \($0.file) does not verify: \($0.reason)" }
            list += missingFiles.map { "segment \($0) is catalogued but missing" }
            if !crashed {
                list += unregisteredFiles.map { "segment \($0) is not in the catalog" }
                list += temporaryFiles.map { "temporary file \($0) left in segments/" }
                list += deletingRows.map { "catalog row for \($0) is stuck in state 'deleting'" }
            }
            return list
        }

        /// True when nothing is wrong.
        public var isConsistent: Bool { problems.isEmpty }
    }

    /// Checks the store in `directory` (the one holding `store.db`).
    public static func run(directory: String, crashed: Bool = false) throws -> Report {
        let fm = FileManager.default
        let catalogPath = directory + "/" + Filenames.catalog
        guard fm.fileExists(atPath: catalogPath) else { throw StoreError.noStore(directory) }
        var report = Report()
        report.crashed = crashed
        report.integrity = try integrityCheck(path: catalogPath)

        let connection = try SQLiteConnection(.path(catalogPath), readOnly: true)
        let rows = try connection.prepare("SELECT file, bytes, points, state FROM segments ORDER BY id").rows { r in
            (file: r.string(at: 0), bytes: r.int64(at: 1), points: r.int64(at: 2), state: r.string(at: 3))
        }
        report.series = Int(try connection.prepare("SELECT count(*) FROM series").rows { $0.int64(at: 0) }.first ?? 0)

        let segDir = directory + "/" + Filenames.segments
        let onDisk = Set((try? fm.contentsOfDirectory(atPath: segDir)) ?? [])
        var active = Set<String>()
        for row in rows {
            switch row.state {
            case "active":
                active.insert(row.file)
                guard let data = fm.contents(atPath: segDir + "/" + row.file) else {
                    report.missingFiles.append(row.file)
                    continue
                }
                report.segmentsChecked += 1
                do {
                    let reader = try SegmentReader(bytes: [UInt8](data))
                    if Int64(data.count) != row.bytes {
                        report.corrupt.append(BadSegment(file: row.file, reason: "file has \(data.count) bytes, catalog says \(row.bytes)"))
                    } else if Int64(reader.pointCount) != row.points {
                        report.corrupt.append(BadSegment(file: row.file, reason: "file holds \(reader.pointCount) points, catalog says \(row.points)"))
                    } else {
                        report.points += row.points
                        report.bytes += row.bytes
                    }
                } catch {
                    report.corrupt.append(BadSegment(file: row.file, reason: "\(error)"))
                }
            case "deleting":
                report.deletingRows.append(row.file)
                active.insert(row.file)  // its file may or may not still be there
            case "quarantined":
                report.quarantinedRows.append(row.file)
            default:
                report.corrupt.append(BadSegment(file: row.file, reason: "unknown catalog state '\(row.state)'"))
            }
        }
        for file in onDisk.sorted() where !active.contains(file) {
            if file.hasSuffix(Filenames.temporarySuffix) {
                report.temporaryFiles.append(file)
            } else {
                report.unregisteredFiles.append(file)
            }
        }
        report.quarantineFiles = ((try? fm.contentsOfDirectory(atPath: directory + "/" + Filenames.quarantine)) ?? []).sorted()
        report.walFiles = ((try? fm.contentsOfDirectory(atPath: directory + "/" + Filenames.wal)) ?? []).filter { $0.hasSuffix(".log") }.count
        return report
    }

    /// `PRAGMA integrity_check` of any SQLite file, opened read-only: "ok", or the problems it lists joined by "; ".
    public static func integrityCheck(path: String) throws -> String {
        let connection = try SQLiteConnection(.path(path), readOnly: true)
        let lines = try connection.prepare("PRAGMA integrity_check").rows { $0.string(at: 0) }
        return lines.joined(separator: "; ")
    }
}
