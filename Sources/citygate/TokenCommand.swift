import ArgumentParser
import Foundation
import Gateway

/// `citygate token add|list|revoke`: API tokens, kept hashed in `<data>/api.db`. Safe next to a running gateway,
/// which looks tokens up on every request. Each change is written to the audit log as `cli:<user>`.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Create, list and revoke API tokens (roles: viewer, operator, admin).",
        subcommands: [Add.self, List.self, Revoke.self])

    static func open(_ options: ConfigOptions) throws -> (APITokenStore, AuditLog) {
        let config = try options.load()
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        return (try APITokenStore(path: config.apiDatabasePath), try AuditLog(path: config.apiDatabasePath))
    }

    static var cliActor: String { "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "\(getuid())") }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print it (the only time it is shown; only its hash is kept).")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "A unique name: the person or system using it (shown in the audit log and on acknowledgements).") var name: String
        @Option(help: "viewer, operator or admin.") var role: String = "viewer"
        @Option(help: "Stops working after this long (e.g. 90d, 12h); default never.") var expires: String?

        func run() async throws {
            guard let role = APIRole(rawValue: role) else { throw ValidationError("--role is viewer, operator or admin") }
            var expiresInMs: Int64?
            if let expires {
                guard let ms = DeviceProfilesBridge.durationMs(expires), ms > 0 else { throw ValidationError("--expires must be a duration such as 90d") }
                expiresInMs = ms
            }
            let (tokens, audit) = try TokenCommand.open(options)
            do {
                let token = try tokens.create(name: name, role: role, expiresInMs: expiresInMs)
                try audit.record(actor: TokenCommand.cliActor, role: "local", action: "token.create", target: "token/\(name)",
                                 details: "{\"role\":\"\(role.rawValue)\"}")
                out("\(token)\n")
            } catch let error as APITokenStore.TokenError {
                throw ValidationError(error.description)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (names, roles, hash fingerprints; never the tokens).")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let (tokens, _) = try TokenCommand.open(options)
            var rows = [["NAME", "ROLE", "CREATED", "EXPIRES", "FINGERPRINT"]]
            for t in try tokens.list() {
                rows.append([t.name, t.role.rawValue, ProfileTool.iso8601(t.createdMs), t.expiresMs.map(ProfileTool.iso8601) ?? "never", t.fingerprint])
            }
            out(ProfileTool.render(rows))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: requests carrying it get 401 at once.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "The token's name.") var name: String

        func run() async throws {
            let (tokens, audit) = try TokenCommand.open(options)
            guard try tokens.revoke(name: name) else { throw ValidationError("no token named '\(name)'") }
            try audit.record(actor: TokenCommand.cliActor, role: "local", action: "token.revoke", target: "token/\(name)")
            out("revoked \(name)\n")
        }
    }
}

/// `citygate audit list|verify`: the operator audit log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Read and verify the hash-chained operator audit log.", subcommands: [List.self, Verify.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Entries, oldest first.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Entries after this sequence number.") var after: Int64 = 0
        @Option(help: "At most this many.") var limit = 200
        @Option(help: "Only actions starting with this (e.g. alert.).") var action: String?

        func run() async throws {
            let (_, audit) = try TokenCommand.open(options)
            var rows = [["SEQ", "TIME", "ACTOR", "ROLE", "ACTION", "TARGET", "OUTCOME", "CLIENT", "DETAILS"]]
            for e in try audit.entries(afterSeq: after, limit: limit, action: action) {
                rows.append(["\(e.seq)", ProfileTool.iso8601(e.timeMs), e.actor, e.role, e.action, e.target, e.outcome, e.client, e.details])
            }
            out(ProfileTool.render(rows))
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recompute the hash chain; exit 1 at the first entry that was edited, removed or reordered.")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let (_, audit) = try TokenCommand.open(options)
            let v = try audit.verify()
            if v.intact {
                out("audit log intact: \(v.entries) entries\n")
            } else {
                out("audit log BROKEN at entry \(v.firstBadSeq ?? 0): \(v.problem ?? "")\n")
                throw ExitCode(1)
            }
        }
    }
}
