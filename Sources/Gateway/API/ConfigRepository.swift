import Crypto
import Foundation
import SQLite
import Synchronization

/// Every version of every device profile and alert rule file the gateway has run or been given, in `api.db`.
///
/// An *item* is one profile (named by its id, kept in one file below `profiles_dir`) or one rule file (named by its
/// file name in `alerts.rules_dir`). Each item has versions numbered from 1 without gaps, each with its full YAML
/// text, its SHA-256, who stored it (a token name, or `disk` for what was found on disk) and when, and a comment.
/// At most one version of an item is *active*: the one on disk and running. Uploading stores a version without
/// activating it; activating (done by the API, which writes the file and reloads) only moves the marker here.
///
/// Tables (created if missing): `config_items(kind, name, path, active_version)` and
/// `config_versions(kind, name, version, text, sha256, author, created_ms, comment)`.
public final class ConfigRepository: Sendable {
    /// What an item is.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// A device profile, named by its id.
        case profile
        /// An alert rule file, named by its file name.
        case rules
    }

    /// One item: its file and which version runs.
    public struct Item: Sendable, Hashable, Codable {
        /// Profile or rule file.
        public var kind: Kind
        /// Profile id or rule file name.
        public var name: String
        /// The file, relative to the profiles or rules directory.
        public var path: String
        /// The active version; nil when none is (e.g. uploaded but never activated).
        public var activeVersion: Int?
        /// How many versions are stored.
        public var versions: Int

        enum CodingKeys: String, CodingKey {
            case kind, name, path, activeVersion = "active_version", versions
        }
    }

    /// One stored version.
    public struct Version: Sendable, Hashable, Codable {
        /// Profile or rule file.
        public var kind: Kind
        /// Profile id or rule file name.
        public var name: String
        /// 1, 2, ... per item.
        public var version: Int
        /// SHA-256 of the text's UTF-8 bytes (hex).
        public var sha256: String
        /// The token name that stored it, or `disk`.
        public var author: String
        /// When it was stored (Unix ms).
        public var createdMs: Int64
        /// Free text given with the upload.
        public var comment: String
        /// Whether it is the active version.
        public var active: Bool
        /// The YAML text (nil in listings).
        public var text: String?

        enum CodingKeys: String, CodingKey {
            case kind, name, version, sha256, author, createdMs = "created_ms", comment, active, text
        }
    }

    /// The author of versions found on disk.
    public static let diskAuthor = "disk"

    private let connection: Mutex<SQLiteConnection>

    static let schema = """
        CREATE TABLE IF NOT EXISTS config_items(
            kind TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL, active_version INTEGER,
            PRIMARY KEY(kind, name));
        CREATE TABLE IF NOT EXISTS config_versions(
            kind TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, text TEXT NOT NULL, sha256 TEXT NOT NULL,
            author TEXT NOT NULL, created_ms INTEGER NOT NULL, comment TEXT NOT NULL,
            PRIMARY KEY(kind, name, version));
        """

    /// Opens (creating the tables if needed) the repository in the database at `path` (`:memory:` for tests).
    public init(path: String) throws {
        let connection = try SQLiteConnection(path == ":memory:" ? .memory : .path(path))
        try connection.execute("PRAGMA journal_mode=WAL")
        try connection.execute(Self.schema)
        self.connection = Mutex(connection)
    }

    /// SHA-256 of `text` (hex).
    public static func sha256(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Reading

    /// Every item of `kind`, by name.
    public func items(_ kind: Kind) throws -> [Item] {
        try connection.withLock { c in
            let q = try c.prepare("""
                SELECT i.name, i.path, i.active_version, (SELECT COUNT(*) FROM config_versions v WHERE v.kind = i.kind AND v.name = i.name)
                FROM config_items i WHERE i.kind = ?1 ORDER BY i.name
                """)
            try q.bind(kind.rawValue, at: 1)
            return try q.rows { r in Item(kind: kind, name: r.string(at: 0), path: r.string(at: 1), activeVersion: r.intOrNil(at: 2), versions: r.int(at: 3)) }
        }
    }

    /// The item `name` of `kind`, if stored.
    public func item(_ kind: Kind, _ name: String) throws -> Item? {
        try connection.withLock { c in try Self.item(c, kind, name) }
    }

    /// Every version of an item, newest first, without texts.
    public func versions(_ kind: Kind, _ name: String) throws -> [Version] {
        try connection.withLock { c in
            let active = try Self.item(c, kind, name)?.activeVersion
            let q = try c.prepare("""
                SELECT version, sha256, author, created_ms, comment FROM config_versions WHERE kind = ?1 AND name = ?2 ORDER BY version DESC
                """)
            try q.bind([.text(kind.rawValue), .text(name)])
            return try q.rows { r in
                Version(kind: kind, name: name, version: r.int(at: 0), sha256: r.string(at: 1), author: r.string(at: 2), createdMs: r.int64(at: 3),
                        comment: r.string(at: 4), active: r.int(at: 0) == active, text: nil)
            }
        }
    }

    /// One version with its text.
    public func version(_ kind: Kind, _ name: String, _ number: Int) throws -> Version? {
        try connection.withLock { c in try Self.version(c, kind, name, number) }
    }

    /// The active version with its text, if any.
    public func active(_ kind: Kind, _ name: String) throws -> Version? {
        try connection.withLock { c in
            guard let n = try Self.item(c, kind, name)?.activeVersion else { return nil }
            return try Self.version(c, kind, name, n)
        }
    }

    /// The highest version below the active one: what a rollback activates. Nil when nothing is active or the
    /// active version is the first.
    public func previous(_ kind: Kind, _ name: String) throws -> Int? {
        try connection.withLock { c in
            guard let n = try Self.item(c, kind, name)?.activeVersion else { return nil }
            let q = try c.prepare("SELECT MAX(version) FROM config_versions WHERE kind = ?1 AND name = ?2 AND version < ?3")
            try q.bind([.text(kind.rawValue), .text(name), .integer(Int64(n))])
            guard try q.step() == .row else { return nil }
            return q.intOrNil(at: 0)
        }
    }

    // MARK: Writing

    /// Stores `text` as the next version of an item (creating the item at `path` if new) and returns it. It
    /// becomes active only when `activate` is true.
    @discardableResult
    public func add(
        _ kind: Kind, _ name: String, path: String, text: String, author: String, comment: String = "", activate: Bool = false,
        nowMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)
    ) throws -> Version {
        try connection.withLock { c in
            try c.transaction {
                try Self.add(c, kind, name, path: path, text: text, author: author, comment: comment, activate: activate, nowMs: nowMs)
            }
        }
    }

    /// Marks version `number` of an item active (it must exist).
    public func setActive(_ kind: Kind, _ name: String, version number: Int) throws {
        try connection.withLock { c in
            guard try Self.version(c, kind, name, number) != nil else { throw RepositoryError.noVersion(kind, name, number) }
            let q = try c.prepare("UPDATE config_items SET active_version = ?3 WHERE kind = ?1 AND name = ?2")
            try q.bind([.text(kind.rawValue), .text(name), .integer(Int64(number))])
            try q.run()
        }
    }

    /// Clears an item's active mark (its file is gone from disk).
    public func deactivate(_ kind: Kind, _ name: String) throws {
        try connection.withLock { c in
            let q = try c.prepare("UPDATE config_items SET active_version = NULL WHERE kind = ?1 AND name = ?2")
            try q.bind([.text(kind.rawValue), .text(name)])
            try q.run()
        }
    }

    /// Records what is on disk for an item: when the item is new, or its active version's text differs from
    /// `text`, stores `text` as a new version by `disk` and makes it active (history shows every change, so a
    /// file put back to an older text becomes a new version too). Returns the version stored, or nil when the
    /// active version already is this text.
    @discardableResult
    public func recordDisk(
        _ kind: Kind, _ name: String, path: String, text: String, comment: String = "found on disk",
        nowMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)
    ) throws -> Version? {
        let sha = Self.sha256(text)
        return try connection.withLock { c in
            try c.transaction { () throws -> Version? in
                let item = try Self.item(c, kind, name)
                if let item, let n = item.activeVersion, let v = try Self.version(c, kind, name, n), v.sha256 == sha {
                    if item.path != path { try Self.setPath(c, kind, name, path) }
                    return nil
                }
                return try Self.add(c, kind, name, path: path, text: text, author: Self.diskAuthor, comment: comment, activate: true, nowMs: nowMs)
            }
        }
    }

    /// Why the repository refused.
    public enum RepositoryError: Error, CustomStringConvertible, Sendable {
        /// The version does not exist.
        case noVersion(Kind, String, Int)

        /// For people.
        public var description: String {
            switch self {
            case .noVersion(let k, let n, let v): "\(k.rawValue) '\(n)' has no version \(v)"
            }
        }
    }

    // MARK: Internals (under the lock)

    private static func item(_ c: SQLiteConnection, _ kind: Kind, _ name: String) throws -> Item? {
        let q = try c.prepare("""
            SELECT path, active_version, (SELECT COUNT(*) FROM config_versions v WHERE v.kind = ?1 AND v.name = ?2)
            FROM config_items WHERE kind = ?1 AND name = ?2
            """)
        try q.bind([.text(kind.rawValue), .text(name)])
        guard try q.step() == .row else { return nil }
        return Item(kind: kind, name: name, path: q.string(at: 0), activeVersion: q.intOrNil(at: 1), versions: q.int(at: 2))
    }

    private static func version(_ c: SQLiteConnection, _ kind: Kind, _ name: String, _ number: Int) throws -> Version? {
        let q = try c.prepare("""
            SELECT v.text, v.sha256, v.author, v.created_ms, v.comment, i.active_version FROM config_versions v
            JOIN config_items i ON i.kind = v.kind AND i.name = v.name
            WHERE v.kind = ?1 AND v.name = ?2 AND v.version = ?3
            """)
        try q.bind([.text(kind.rawValue), .text(name), .integer(Int64(number))])
        guard try q.step() == .row else { return nil }
        return Version(kind: kind, name: name, version: number, sha256: q.string(at: 1), author: q.string(at: 2), createdMs: q.int64(at: 3),
                       comment: q.string(at: 4), active: q.intOrNil(at: 5) == number, text: q.string(at: 0))
    }

    private static func setPath(_ c: SQLiteConnection, _ kind: Kind, _ name: String, _ path: String) throws {
        let q = try c.prepare("UPDATE config_items SET path = ?3 WHERE kind = ?1 AND name = ?2")
        try q.bind([.text(kind.rawValue), .text(name), .text(path)])
        try q.run()
    }

    private static func add(
        _ c: SQLiteConnection, _ kind: Kind, _ name: String, path: String, text: String, author: String, comment: String, activate: Bool, nowMs: Int64
    ) throws -> Version {
        let upsert = try c.prepare("""
            INSERT INTO config_items(kind, name, path, active_version) VALUES(?1, ?2, ?3, NULL)
            ON CONFLICT(kind, name) DO UPDATE SET path = excluded.path
            """)
        try upsert.bind([.text(kind.rawValue), .text(name), .text(path)])
        try upsert.run()
        let next = try c.prepare("SELECT COALESCE(MAX(version), 0) + 1 FROM config_versions WHERE kind = ?1 AND name = ?2")
        try next.bind([.text(kind.rawValue), .text(name)])
        _ = try next.step()
        let number = next.int(at: 0)
        let sha = sha256(text)
        let insert = try c.prepare("""
            INSERT INTO config_versions(kind, name, version, text, sha256, author, created_ms, comment) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            """)
        try insert.bind([.text(kind.rawValue), .text(name), .integer(Int64(number)), .text(text), .text(sha), .text(author), .integer(nowMs), .text(comment)])
        try insert.run()
        if activate {
            let q = try c.prepare("UPDATE config_items SET active_version = ?3 WHERE kind = ?1 AND name = ?2")
            try q.bind([.text(kind.rawValue), .text(name), .integer(Int64(number))])
            try q.run()
        }
        return Version(kind: kind, name: name, version: number, sha256: sha, author: author, createdMs: nowMs, comment: comment, active: activate, text: text)
    }
}
