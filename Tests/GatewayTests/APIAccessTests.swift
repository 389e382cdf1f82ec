import Foundation
import Gateway
import GatewayTesting
import SQLite
import Testing

@Suite("API tokens and the audit log")
struct APIAccessTests {
    @Test func tokensAreStoredHashedAndResolveToTheirRole() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("api.db")
        let tokens = try APITokenStore(path: path)
        let token = try tokens.create(name: "operator-ana", role: .operator)
        #expect(token.hasPrefix("cgt_") && token.count > 40)
        #expect(tokens.identity(token: token) == APIIdentity(name: "operator-ana", role: .operator))
        #expect(tokens.identity(token: token + "x") == nil)
        #expect(tokens.identity(token: "operator-ana") == nil)
        #expect(throws: APITokenStore.TokenError.self) { try tokens.create(name: "operator-ana", role: .admin) }
        #expect(throws: APITokenStore.TokenError.self) { try tokens.create(name: "has space", role: .viewer) }

        // The file holds no plain token.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.range(of: Data(token.utf8)) == nil)
        let walBytes = (try? Data(contentsOf: URL(fileURLWithPath: path + "-wal"))) ?? Data()
        #expect(walBytes.range(of: Data(token.utf8)) == nil)

        #expect(try tokens.revoke(name: "operator-ana"))
        #expect(tokens.identity(token: token) == nil)
        #expect(try !tokens.revoke(name: "operator-ana"))
    }

    @Test func expiredTokensStopWorking() throws {
        let tokens = try APITokenStore(path: ":memory:")
        let token = try tokens.create(name: "contractor", role: .viewer, expiresInMs: 1_000, nowMs: 10_000)
        #expect(tokens.lookup(token: token, nowMs: 10_999) == .valid(APIIdentity(name: "contractor", role: .viewer)))
        #expect(tokens.lookup(token: token, nowMs: 11_000) == .expired(name: "contractor"))
        #expect(try tokens.list().first?.expiresMs == 11_000)
    }

    @Test func repeatedAuthenticationFailuresLockAnAddressOut() {
        let failures = APIAuthFailures(maxFailures: 3, window: .seconds(60), lockout: .seconds(120))
        let t0: UInt64 = 5_000_000_000
        #expect(failures.record("10.0.0.9", nowNs: t0) == .first)
        #expect(failures.record("10.0.0.9", nowNs: t0) == .counted)
        #expect(failures.lockedOut("10.0.0.9", nowNs: t0) == nil)
        #expect(failures.record("10.0.0.9", nowNs: t0) == .lockedOut)
        #expect(failures.lockedOut("10.0.0.9", nowNs: t0) == 120)
        #expect(failures.lockedOut("10.0.0.8", nowNs: t0) == nil, "per address")
        #expect(failures.lockedOut("10.0.0.9", nowNs: t0 + 120_000_000_000) == nil, "the lockout ends")
        // Failures spread wider than the window never lock out.
        #expect(failures.record("10.0.0.7", nowNs: t0) == .first)
        #expect(failures.record("10.0.0.7", nowNs: t0 + 61_000_000_000) == .first)
    }

    @Test func rolesAreOrdered() {
        #expect(APIRole.viewer < .operator && APIRole.operator < .admin)
        #expect(!(APIRole.admin < .viewer))
    }

    @Test func theAuditChainDetectsAnEditedEntry() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("api.db")
        let log = try AuditLog(path: path)
        for i in 1...5 { try log.record(actor: "operator-ana", role: "operator", action: "alert.acknowledge", target: "alert/\(i)", nowMs: Int64(i)) }
        let clean = try log.verify()
        #expect(clean.intact && clean.entries == 5 && clean.firstBadSeq == nil)

        // The table refuses edits outright.
        let raw = try SQLiteConnection(.path(path))
        #expect(throws: SQLiteError.self) { try raw.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3") }
        #expect(throws: SQLiteError.self) { try raw.execute("DELETE FROM audit_log WHERE seq = 3") }

        // Someone who drops the trigger and edits entry 3 breaks the chain there.
        try raw.execute("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
        let v = try AuditLog(path: path).verify()
        #expect(!v.intact && v.firstBadSeq == 3)
    }

    @Test func theAuditChainDetectsRemovedEntries() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("api.db")
        let log = try AuditLog(path: path)
        for i in 1...4 { try log.record(actor: "admin-wang", role: "admin", action: "token.create", target: "token/t\(i)") }
        let raw = try SQLiteConnection(.path(path))
        try raw.execute("DROP TRIGGER audit_log_no_delete")
        // A hole in the middle…
        try raw.execute("DELETE FROM audit_log WHERE seq = 2")
        #expect(try AuditLog(path: path).verify().firstBadSeq == 2)
        // …and the newest entries cut off, which still chains but no longer reaches the recorded head.
        let dir2 = try TemporaryDirectory()
        let path2 = dir2.file("api.db")
        let log2 = try AuditLog(path: path2)
        for i in 1...4 { try log2.record(actor: "admin-wang", role: "admin", action: "token.create", target: "token/t\(i)") }
        let raw2 = try SQLiteConnection(.path(path2))
        try raw2.execute("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 4")
        let v = try AuditLog(path: path2).verify()
        #expect(!v.intact && v.firstBadSeq == 4)
        // Appending continues the chain after a reopen.
        let reopened = try AuditLog(path: dir.file("fresh.db"))
        try reopened.record(actor: "a", role: "admin", action: "x", target: "y")
        #expect(try AuditLog(path: dir.file("fresh.db")).record(actor: "a", role: "admin", action: "x", target: "z").seq == 2)
        #expect(try AuditLog(path: dir.file("fresh.db")).verify().intact)
    }

    @Test func theRateLimiterRefillsAtItsRate() {
        let limiter = APIRateLimiter(perSecond: 2, burst: 2)
        let t0: UInt64 = 1_000_000_000
        #expect(limiter.take(client: "a", nowNs: t0) == nil)
        #expect(limiter.take(client: "a", nowNs: t0) == nil)
        #expect(limiter.take(client: "a", nowNs: t0) == 1)
        #expect(limiter.take(client: "b", nowNs: t0) == nil, "buckets are per client")
        #expect(limiter.take(client: "a", nowNs: t0 + 500_000_000) == nil, "half a second refills one request at 2/s")
        #expect(limiter.take(client: "a", nowNs: t0 + 500_000_000) != nil)
        #expect(APIRateLimiter(perSecond: 0, burst: 1).take(client: "a") == nil, "0 turns the limit off")
    }
}
