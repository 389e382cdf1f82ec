import Crypto
import Foundation
import SQLite
import Synchronization

/// What an API caller may do. Each role includes the ones below it.
public enum APIRole: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Reads everything: devices, series, alerts, dead letters, uplink, rules and profiles.
    case viewer
    /// Also acts on alerts (acknowledge, resolve) and replays dead letters.
    case `operator`
    /// Also changes rules and profiles, and reads the audit log.
    case admin

    var rank: Int {
        switch self {
        case .viewer: 0
        case .operator: 1
        case .admin: 2
        }
    }

    public static func < (a: APIRole, b: APIRole) -> Bool { a.rank < b.rank }
}

/// Who made a request: the name and role of the token it carried.
public struct APIIdentity: Sendable, Hashable, Codable {
    /// The token's name (a person or a system, e.g. `operator-ana`, `grafana`).
    public var name: String
    /// Its role.
    public var role: APIRole

    /// Creates an identity.
    public init(name: String, role: APIRole) {
        self.name = name
        self.role = role
    }
}

/// API tokens, stored hashed in `api.db` (table `api_tokens`).
///
/// A token is `cgt_` followed by 32 random bytes in base64url (256 bits), shown once when it is created and never
/// stored: the table keeps its SHA-256. Because tokens are random and long, a fast hash is the right one (a slow
/// password hash only helps against guessable secrets); lookups compare hashes, so the plain token never sits in
/// memory longer than the request that carried it. Names are unique; revoking deletes the row.
public final class APITokenStore: Sendable {
    /// One token as listed (never the token itself).
    public struct Entry: Sendable, Hashable, Codable {
        /// Unique name.
        public var name: String
        /// Role.
        public var role: APIRole
        /// Created (Unix ms).
        public var createdMs: Int64
        /// The first 8 characters of the token's hash, to tell tokens apart in listings.
        public var fingerprint: String
        /// When it stops working (Unix ms); nil: never.
        public var expiresMs: Int64?

        enum CodingKeys: String, CodingKey { case name, role, createdMs = "created_ms", fingerprint, expiresMs = "expires_ms" }
    }

    /// Why a token cannot be created.
    public enum TokenError: Error, CustomStringConvertible, Sendable {
        /// The name is taken.
        case exists(String)
        /// The name is empty or has characters outside `[A-Za-z0-9._@-]`, or is over 64 characters.
        case badName(String)

        /// For the CLI.
        public var description: String {
            switch self {
            case .exists(let n): "a token named '\(n)' exists already (revoke it first to replace it)"
            case .badName(let n): "token name '\(n)' must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -"
            }
        }
    }

    private struct Database {
        let connection: SQLiteConnection
        let lookup: SQLiteStatement
    }

    private let database: Mutex<Database>

    static let schema = """
        CREATE TABLE IF NOT EXISTS api_tokens(
            name TEXT PRIMARY KEY, role TEXT NOT NULL, hash BLOB NOT NULL UNIQUE, created_ms INTEGER NOT NULL, expires_ms INTEGER);
        """

    /// Opens (creating if needed) the token table in the database at `path` (`:memory:` for tests).
    public init(path: String) throws {
        let connection = try SQLiteConnection(path == ":memory:" ? .memory : .path(path))
        try connection.execute("PRAGMA journal_mode=WAL")
        try connection.execute(Self.schema)
        let lookup = try connection.prepare("SELECT name, role, expires_ms FROM api_tokens WHERE hash = ?1", persistent: true)
        database = Mutex(Database(connection: connection, lookup: lookup))
    }

    /// Creates a token and returns it: the only time the plain token exists. With `expiresInMs` it stops working
    /// that long from now.
    public func create(name: String, role: APIRole, expiresInMs: Int64? = nil, nowMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) throws -> String {
        guard Self.isValidName(name) else { throw TokenError.badName(name) }
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: .min ... .max, using: &rng) }
        let token = "cgt_" + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        try database.withLock { db in
            let exists = try db.connection.prepare("SELECT 1 FROM api_tokens WHERE name = ?1")
            try exists.bind(name, at: 1)
            if try exists.step() == .row { throw TokenError.exists(name) }
            let insert = try db.connection.prepare("INSERT INTO api_tokens(name, role, hash, created_ms, expires_ms) VALUES(?1, ?2, ?3, ?4, ?5)")
            try insert.bind(name, at: 1)
            try insert.bind(role.rawValue, at: 2)
            try insert.bind(Self.hash(token), at: 3)
            try insert.bind(nowMs, at: 4)
            try insert.bind(expiresInMs.map { nowMs + $0 }, at: 5)
            try insert.run()
        }
        return token
    }

    /// What a presented token turned out to be.
    public enum Lookup: Sendable, Hashable {
        /// A valid token.
        case valid(APIIdentity)
        /// A known token past its expiry.
        case expired(name: String)
        /// Not a token of ours (or revoked).
        case unknown
    }

    /// Looks a presented token up.
    public func lookup(token: String, nowMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> Lookup {
        guard token.hasPrefix("cgt_"), token.utf8.count < 200 else { return .unknown }
        let digest = Self.hash(token)
        return database.withLock { db -> Lookup in
            defer { db.lookup.reset() }
            guard (try? db.lookup.bind(digest, at: 1)) != nil, (try? db.lookup.step()) == .row,
                  let role = APIRole(rawValue: db.lookup.string(at: 1))
            else { return .unknown }
            let name = db.lookup.string(at: 0)
            if let expires = db.lookup.int64OrNil(at: 2), expires <= nowMs { return .expired(name: name) }
            return .valid(APIIdentity(name: name, role: role))
        }
    }

    /// The identity a token stands for, or nil for an unknown, revoked or expired token.
    public func identity(token: String) -> APIIdentity? {
        if case .valid(let identity) = lookup(token: token) { return identity }
        return nil
    }

    /// Every token, by name.
    public func list() throws -> [Entry] {
        try database.withLock { db in
            let s = try db.connection.prepare("SELECT name, role, created_ms, hash, expires_ms FROM api_tokens ORDER BY name")
            return try s.rows { row in
                Entry(name: row.string(at: 0), role: APIRole(rawValue: row.string(at: 1)) ?? .viewer, createdMs: row.int64(at: 2),
                      fingerprint: String(row.blob(at: 3).prefix(4).map { String(format: "%02x", $0) }.joined()), expiresMs: row.int64OrNil(at: 4))
            }
        }
    }

    /// Deletes the token named `name`; false when there is none.
    @discardableResult
    public func revoke(name: String) throws -> Bool {
        try database.withLock { db in
            let s = try db.connection.prepare("DELETE FROM api_tokens WHERE name = ?1")
            try s.bind(name, at: 1)
            try s.run()
            return db.connection.changes > 0
        }
    }

    static func hash(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Array(token.utf8))) }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x40 || c == 0x2D
            }
    }
}
