import Crypto
import Foundation
import SQLite
import Synchronization

/// The operator audit log: every action taken through the API (acknowledge, resolve, replay, uploads and
/// activations, token changes) as an append-only, hash-chained table in `api.db`.
///
/// Each entry's `hash` is SHA-256 over the previous entry's hash and the entry's own fields (see `digest`), so
/// editing, deleting or reordering any entry breaks the chain from there on; `verify()` finds the first break.
/// SQLite triggers refuse UPDATE and DELETE on the table, so an edit needs deliberate tampering with the file. To
/// catch the loss of the newest entries (a truncated table still chains), the head (last seq and hash) is also
/// written to `audit.head` beside the database after each append, and `verify()` checks the table reaches it.
public final class AuditLog: Sendable {
    /// One entry.
    public struct Entry: Sendable, Hashable, Codable {
        /// Position, from 1, without gaps.
        public var seq: Int64
        /// When (Unix ms).
        public var timeMs: Int64
        /// Who (token name, or `cli:<user>` for local commands).
        public var actor: String
        /// Their role.
        public var role: String
        /// What, e.g. `alert.acknowledge`, `deadletter.replay`, `profile.activate`.
        public var action: String
        /// On what, e.g. `alert/12`, `profile/acme-manhole@3`.
        public var target: String
        /// `ok`, or the error that refused the action.
        public var outcome: String
        /// Free-form details (JSON text), e.g. a comment.
        public var details: String
        /// The client's address.
        public var client: String
        /// The chain hash (hex).
        public var hash: String

        enum CodingKeys: String, CodingKey {
            case seq, timeMs = "time_ms", actor, role, action, target, outcome, details, client, hash
        }
    }

    /// The result of checking the chain.
    public struct Verification: Sendable, Hashable, Codable {
        /// Entries checked.
        public var entries: Int
        /// Whether the whole chain holds.
        public var intact: Bool
        /// The first entry whose hash does not match (nil when intact).
        public var firstBadSeq: Int64?
        /// What is wrong, for people.
        public var problem: String?

        enum CodingKeys: String, CodingKey {
            case entries, intact, firstBadSeq = "first_bad_seq", problem
        }
    }

    private struct State {
        let connection: SQLiteConnection
        let insert: SQLiteStatement
        let last: SQLiteStatement
    }

    private let state: Mutex<State>
    private let headPath: String?

    static let genesis = String(repeating: "0", count: 64)

    static let schema = """
        CREATE TABLE IF NOT EXISTS audit_log(
            seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL,
            target TEXT NOT NULL, outcome TEXT NOT NULL, details TEXT NOT NULL, client TEXT NOT NULL, hash TEXT NOT NULL);
        CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """

    /// Opens (creating if needed) the log in the database at `path` (`:memory:` for tests, which keeps no head file).
    public init(path: String) throws {
        let connection = try SQLiteConnection(path == ":memory:" ? .memory : .path(path))
        try connection.execute("PRAGMA journal_mode=WAL")
        try connection.execute(Self.schema)
        let insert = try connection.prepare(
            "INSERT INTO audit_log(seq, time_ms, actor, role, action, target, outcome, details, client, hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            persistent: true)
        let last = try connection.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", persistent: true)
        state = Mutex(State(connection: connection, insert: insert, last: last))
        headPath = path == ":memory:" ? nil : (path as NSString).deletingLastPathComponent + "/audit.head"
    }

    /// Appends an entry and returns it. The previous entry is read inside the write transaction, so several
    /// processes (the gateway and `citygate token` commands) can append to the same log.
    @discardableResult
    public func record(
        actor: String, role: String, action: String, target: String, outcome: String = "ok", details: String = "{}", client: String = "",
        nowMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)
    ) throws -> Entry {
        try state.withLock { s in
            let entry = try s.connection.transaction(.immediate) { () throws -> Entry in
                defer {
                    s.last.reset()
                    s.insert.reset()
                }
                var previousSeq: Int64 = 0
                var previousHash = Self.genesis
                if try s.last.step() == .row {
                    previousSeq = s.last.int64(at: 0)
                    previousHash = s.last.string(at: 1)
                }
                var entry = Entry(seq: previousSeq + 1, timeMs: nowMs, actor: actor, role: role, action: action, target: target, outcome: outcome,
                                  details: details, client: client, hash: "")
                entry.hash = Self.digest(entry, previous: previousHash)
                try s.insert.bind([
                    .integer(entry.seq), .integer(entry.timeMs), .text(entry.actor), .text(entry.role), .text(entry.action), .text(entry.target),
                    .text(entry.outcome), .text(entry.details), .text(entry.client), .text(entry.hash),
                ])
                try s.insert.run()
                return entry
            }
            if let headPath {
                try? Data("\(entry.seq) \(entry.hash)\n".utf8).write(to: URL(fileURLWithPath: headPath), options: .atomic)
            }
            return entry
        }
    }

    /// Entries after `afterSeq`, oldest first, at most `limit`; `action` filters by prefix (e.g. `alert.`).
    public func entries(afterSeq: Int64 = 0, limit: Int = 200, action: String? = nil, actor: String? = nil) throws -> [Entry] {
        try state.withLock { s in
            var sql = "SELECT seq, time_ms, actor, role, action, target, outcome, details, client, hash FROM audit_log WHERE seq > ?1"
            var binds: [SQLiteValue] = [.integer(afterSeq)]
            if let action {
                binds.append(.text(action + "%"))
                sql += " AND action LIKE ?\(binds.count)"
            }
            if let actor {
                binds.append(.text(actor))
                sql += " AND actor = ?\(binds.count)"
            }
            binds.append(.integer(Int64(max(1, min(limit, 10_000)))))
            sql += " ORDER BY seq LIMIT ?\(binds.count)"
            let q = try s.connection.prepare(sql)
            try q.bind(binds)
            return try q.rows(Self.entry)
        }
    }

    /// Walks the whole chain from the first entry, recomputing every hash.
    public func verify() throws -> Verification {
        try state.withLock { s in
            let q = try s.connection.prepare("SELECT seq, time_ms, actor, role, action, target, outcome, details, client, hash FROM audit_log ORDER BY seq")
            var previous = Self.genesis
            var expectedSeq: Int64 = 1
            var count = 0
            while try q.step() == .row {
                let e = Self.entry(q)
                count += 1
                if e.seq != expectedSeq {
                    return Verification(entries: count, intact: false, firstBadSeq: expectedSeq, problem: "entry \(expectedSeq) is missing")
                }
                if Self.digest(e, previous: previous) != e.hash {
                    return Verification(entries: count, intact: false, firstBadSeq: e.seq,
                                        problem: "entry \(e.seq) does not match its hash: it or an earlier entry was edited")
                }
                previous = e.hash
                expectedSeq += 1
            }
            if let headPath, let text = try? String(contentsOfFile: headPath, encoding: .utf8) {
                let parts = text.split(separator: " ")
                if parts.count == 2, let headSeq = Int64(parts[0]) {
                    let headHash = parts[1].trimmingCharacters(in: .whitespacesAndNewlines)
                    if headSeq > expectedSeq - 1 {
                        return Verification(entries: count, intact: false, firstBadSeq: expectedSeq,
                                            problem: "the log ends at entry \(expectedSeq - 1) but reached \(headSeq): newer entries were removed")
                    }
                    if headSeq == expectedSeq - 1, headSeq > 0, headHash != previous {
                        return Verification(entries: count, intact: false, firstBadSeq: headSeq, problem: "entry \(headSeq) differs from the recorded head")
                    }
                }
            }
            return Verification(entries: count, intact: true, firstBadSeq: nil, problem: nil)
        }
    }

    private static func entry(_ row: SQLiteStatement) -> Entry {
        Entry(seq: row.int64(at: 0), timeMs: row.int64(at: 1), actor: row.string(at: 2), role: row.string(at: 3), action: row.string(at: 4),
              target: row.string(at: 5), outcome: row.string(at: 6), details: row.string(at: 7), client: row.string(at: 8), hash: row.string(at: 9))
    }

    /// SHA-256 (hex) over the previous hash and the entry's fields, each length-prefixed so no two different
    /// entries serialise alike.
    static func digest(_ e: Entry, previous: String) -> String {
        var bytes: [UInt8] = []
        for field in [previous, "\(e.seq)", "\(e.timeMs)", e.actor, e.role, e.action, e.target, e.outcome, e.details, e.client] {
            bytes += Array("\(field.utf8.count):".utf8)
            bytes += Array(field.utf8)
        }
        return SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}
