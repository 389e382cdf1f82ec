import ArgumentParser
import Catalog
import DeviceProfiles
import Gateway
import GatewayCore
import Logging

struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deadletter", abstract: "Inspect and replay payloads that failed to decode.", subcommands: [List.self, Replay.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters, newest first.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Only this reason: \(DeadLetter.Reason.allCases.map(\.rawValue).joined(separator: ", ")).") var reason: String?
        @Option(help: "Only this status: new, replayed, failed.") var status: String?
        @Option(help: "Only this profile id.") var profile: String?
        @Option(help: "At most this many rows.") var limit = 50
        @Flag(help: "Also print the payload bytes (hex).") var payload = false

        func run() async throws {
            let config = try options.load()
            let logger = quietLogger()
            let store = try DeadLetterStore(path: config.catalogPath, maxRows: config.deadLetters.maxRows, logger: logger)
            let r = try reason.map { (text: String) throws -> DeadLetter.Reason in
                guard let v = DeadLetter.Reason(rawValue: text) else { throw ValidationError("unknown reason '\(text)'") }
                return v
            }
            let s = try status.map { (text: String) throws -> DeadLetterStatus in
                guard let v = DeadLetterStatus(rawValue: text) else { throw ValidationError("unknown status '\(text)'") }
                return v
            }
            out(try DeadLetterTool.list(store: store, reason: r, status: s, profileID: profile, limit: limit, showPayload: payload))
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-decode dead letters with the current profiles (after a fix).")
        @OptionGroup var options: ConfigOptions
        @Option(name: .customLong("id"), help: "Replay only these ids (repeatable). Default: every letter not yet replayed.") var ids: [Int64] = []
        @Option(help: "At most this many letters.") var limit = 10_000
        @Flag(help: "Print the samples the replayed letters produced.") var print = false

        func run() async throws {
            let config = try options.load()
            let logger = quietLogger()
            let profiles = try ProfileSet.load(directory: config.profilesDirectory, limits: config.decodeLimits, maxPayloadBytes: config.ingest.maxPayloadBytes)
            let store = try DeadLetterStore(path: config.catalogPath, maxRows: config.deadLetters.maxRows, logger: logger)
            let registry = try DeviceRegistry(path: config.catalogPath, configuration: config.registryConfiguration, logger: logger)
            let pipeline = Pipeline(registry: registry, deadLetters: store, logger: logger)
            let report = try await DeadLetterTool.replay(store: store, profiles: profiles, ids: ids, limit: limit, sink: pipeline)
            _ = try registry.flush()
            if print {
                for s in report.samples { out("\(s.device) \(s.metric)=\(Value.number(s.value))\(s.unit) \(s.quality)\n") }
            }
            out("\(report.replayed) replayed (\(report.samples.count) samples), \(report.failed) still failing\n")
        }
    }
}
