import Alerts
import DeviceProfiles
import Foundation
import GatewayCore
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A problem in a profile or rule file: where and what (line and column from 1; 0 when unknown).
public struct ConfigIssue: Sendable, Hashable, Codable {
    /// The file, relative to its directory, when the problem is in a file.
    public var file: String?
    /// Line, from 1.
    public var line: Int
    /// Column, from 1.
    public var column: Int
    /// What is wrong.
    public var message: String

    /// Creates an issue.
    public init(file: String?, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `file:line:column: message`.
    public var text: String { "\(file ?? "<text>"):\(line):\(column): \(message)" }
}

/// The outcome of a profile's own test vectors.
public struct ProfileTestReport: Sendable, Hashable, Codable {
    /// One failed vector.
    public struct Failure: Sendable, Hashable, Codable {
        /// Profile id.
        public var profile: String
        /// Test name.
        public var test: String
        /// Line of the test in the text.
        public var line: Int
        /// What did not match.
        public var problems: [String]
    }

    /// Vectors that passed.
    public var passed = 0
    /// Vectors that failed.
    public var failed = 0
    /// Each failure.
    public var failures: [Failure] = []
}

/// What validating a profile text found.
public struct ProfileValidation: Sendable, Hashable, Codable {
    /// The profiles the text defines.
    public struct Defined: Sendable, Hashable, Codable {
        /// Id.
        public var id: String
        /// Its own `version:`.
        public var version: Int
    }

    /// Parses and compiles (test results do not count here).
    public var valid: Bool
    /// Line-numbered errors; empty when valid.
    public var errors: [ConfigIssue]
    /// What the text defines.
    public var profiles: [Defined]
    /// The test vectors' outcome.
    public var tests: ProfileTestReport
    /// Problems that do not make the text invalid but would refuse its activation as things stand (a topic
    /// template another loaded profile claims).
    public var warnings: [String]
}

/// What validating a rule file text found.
public struct RuleValidation: Sendable, Hashable, Codable {
    /// Parses, and every rule is well-formed.
    public var valid: Bool
    /// Line-numbered errors; empty when valid.
    public var errors: [ConfigIssue]
    /// Ids of the rules it defines.
    public var rules: [String]
}

/// The outcome of reloading profiles or rules.
public struct ReloadOutcome: Sendable, Hashable, Codable {
    /// A version recorded because the file on disk had changed.
    public struct Recorded: Sendable, Hashable, Codable {
        /// Profile id or rule file name.
        public var name: String
        /// The new version number.
        public var version: Int
    }

    /// Whether the new set is running (false: refused, the running set stays).
    public var loaded: Bool
    /// Profiles or rules running after the reload.
    public var count: Int
    /// Why it was refused.
    public var errors: [ConfigIssue]
    /// Versions recorded from disk.
    public var recorded: [Recorded]
}

/// Why a configuration change was refused.
public enum ConfigError: Error, CustomStringConvertible, Sendable {
    /// The request itself is wrong (a bad name).
    case badRequest(String)
    /// No such profile, rule file or version.
    case notFound(String)
    /// Not possible in the current state.
    case conflict(String)
    /// The text or the resulting set does not load: the errors, and for profiles the test outcome.
    case invalid(String, [ConfigIssue], tests: ProfileTestReport?)
    /// A file or database operation failed.
    case failed(String)

    /// For logs and the audit log.
    public var description: String {
        switch self {
        case .badRequest(let m), .notFound(let m), .conflict(let m), .failed(let m): m
        case .invalid(let m, let issues, _): ([m] + issues.map(\.text)).joined(separator: "; ")
        }
    }
}

/// Versioned device profiles and alert rule files, and their hot reload: what the `/v1/profiles`, `/v1/rules` and
/// `/v1/reload` routes and SIGHUP call.
///
/// The invariant it keeps: each item's active version in the repository is the text in its file on disk and is
/// what runs. Activation writes the file atomically (temporary file, fsync, rename, directory fsync), reloads the
/// whole profile set (or every rule file) and, when that fails, puts the previous file back: the running set is
/// never replaced by one that does not load. Every change and every reload runs under one lock, so two admins
/// cannot interleave file writes and reloads, nor race SIGHUP. Messages keep flowing throughout: the decoder
/// swaps its set in one step (`ReloadableDecoder`).
public final class ConfigManager: Sendable {
    /// The version history.
    public let repository: ConfigRepository
    /// Where profiles live.
    public let profilesDirectory: String
    /// Where rule files live; nil when alerts are disabled (rules are then neither loaded nor versioned).
    public let rulesDirectory: String?
    let knownChannels: Set<String>?
    let limits: DecodeLimits
    let maxPayloadBytes: Int
    let decoder: ReloadableDecoder
    let alerts: AlertEngine?
    /// MQTT filters subscribed at start (nil without MQTT): a profile whose templates need others is flagged.
    let subscribedFilters: Set<String>?
    let logger: Logger

    /// What the last successful loads found on disk; the lock that serialises every change.
    struct Files: Sendable {
        /// Loaded profile id → its file, relative to the profiles directory.
        var profilePaths: [String: String] = [:]
        /// Files holding more than one profile (not versioned through the API) → their ids.
        var sharedFiles: [String: [String]] = [:]
        /// Loaded rule id → its file name.
        var ruleFiles: [String: String] = [:]
    }

    private let state = Mutex(Files())

    /// Creates the manager; call `recordStartup()` once the gateway has loaded its profiles and rules.
    public init(
        repository: ConfigRepository, profilesDirectory: String, rulesDirectory: String?, knownChannels: Set<String>?, limits: DecodeLimits,
        maxPayloadBytes: Int, decoder: ReloadableDecoder, alerts: AlertEngine?, subscribedFilters: Set<String>?, logger: Logger
    ) {
        self.repository = repository
        self.profilesDirectory = profilesDirectory
        self.rulesDirectory = rulesDirectory
        self.knownChannels = knownChannels
        self.limits = limits
        self.maxPayloadBytes = maxPayloadBytes
        self.decoder = decoder
        self.alerts = alerts
        self.subscribedFilters = subscribedFilters
        self.logger = logger
    }

    // MARK: Reading

    /// The file (relative to the profiles directory) of a loaded profile.
    public func profilePath(_ id: String) -> String? { state.withLock { $0.profilePaths[id] } }

    /// Loaded rule id → its file name.
    public var ruleFiles: [String: String] { state.withLock { $0.ruleFiles } }

    /// Files on disk holding several profiles, with their ids.
    public var sharedProfileFiles: [String: [String]] { state.withLock { $0.sharedFiles } }

    /// Rule file names in the rules directory.
    public func ruleFileNames() -> [String] {
        guard let rulesDirectory else { return [] }
        return ((try? FileManager.default.contentsOfDirectory(atPath: rulesDirectory)) ?? []).filter(Self.isRuleFileName).sorted()
    }

    // MARK: Startup and reload

    /// Records what is on disk as versions (`disk`) where it differs from the active version: on the first start
    /// every profile and rule file becomes version 1. Does not swap anything in.
    public func recordStartup() {
        state.withLock { s in
            do throws(ProfileSetError) {
                let (set, files) = try loadProfiles()
                _ = recordProfiles(set, files, into: &s, comment: "found on disk at start")
            } catch {
                logger.warning("Profile history not updated: the profiles on disk no longer load", metadata: ["error": "\(error.description)"])
            }
            guard rulesDirectory != nil else { return }
            do throws(RuleSetError) {
                let (_, files) = try loadRules()
                _ = recordRules(files, into: &s, comment: "found on disk at start")
            } catch {
                logger.warning("Rule history not updated: the rule files on disk do not load", metadata: ["error": "\(error.description)"])
            }
        }
    }

    /// Re-reads profiles and/or rules from disk (SIGHUP, `POST /v1/reload`). A part that does not load is refused
    /// with its errors and its running set stays; one that loads replaces the running set, and files that changed
    /// on disk are recorded as new versions by `disk`.
    public func reload(profiles: Bool = true, rules: Bool = true) -> (profiles: ReloadOutcome?, rules: ReloadOutcome?) {
        state.withLock { s in
            var result: (profiles: ReloadOutcome?, rules: ReloadOutcome?) = (nil, nil)
            if profiles {
                do throws(ProfileSetError) {
                    let (set, files) = try loadProfiles()
                    decoder.replace(with: set)
                    let recorded = recordProfiles(set, files, into: &s, comment: "changed on disk, picked up by a reload")
                    result.profiles = ReloadOutcome(loaded: true, count: set.profiles.count, errors: [], recorded: recorded)
                } catch {
                    result.profiles = ReloadOutcome(loaded: false, count: decoder.profiles.profiles.count, errors: issues(error.errors, base: profilesDirectory), recorded: [])
                }
            }
            if rules, let rulesDirectory {
                do throws(RuleSetError) {
                    let (set, files) = try loadRules()
                    alerts?.replaceRules(set)
                    let recorded = recordRules(files, into: &s, comment: "changed on disk, picked up by a reload")
                    result.rules = ReloadOutcome(loaded: true, count: set.rules.count, errors: [], recorded: recorded)
                } catch {
                    result.rules = ReloadOutcome(loaded: false, count: alerts?.rules.count ?? 0, errors: issues(error.errors, base: rulesDirectory), recorded: [])
                }
            }
            return result
        }
    }

    // MARK: Profiles

    /// Parses and compiles `text` (named `file` in errors), runs its test vectors, and checks it against the
    /// running set (warnings only).
    public func validateProfile(_ text: String, file: String = "<upload>") -> (ProfileValidation, [Profile]) {
        var v = ProfileValidation(valid: false, errors: [], profiles: [], tests: ProfileTestReport(), warnings: [])
        let profiles: [Profile]
        do throws(ProfileError) {
            profiles = try ProfileLoader.load(yaml: text, file: file)
        } catch {
            v.errors = [Self.issue(error, base: nil)]
            return (v, [])
        }
        guard !profiles.isEmpty else {
            v.errors = [ConfigIssue(file: file, line: 1, column: 1, message: "the text defines no profile")]
            return (v, [])
        }
        v.valid = true
        v.profiles = profiles.map { .init(id: $0.id, version: $0.version) }
        for p in profiles {
            for outcome in ProfileTestRunner.run(p) {
                if outcome.passed {
                    v.tests.passed += 1
                } else {
                    v.tests.failed += 1
                    v.tests.failures.append(.init(profile: p.id, test: outcome.name, line: outcome.line, problems: outcome.failures))
                }
            }
        }
        let ids = Set(profiles.map(\.id))
        let others = decoder.profiles.profiles.values.filter { !ids.contains($0.id) }
        do throws(ProfileError) {
            _ = try ProfileSet(Array(others) + profiles, limits: limits, maxPayloadBytes: maxPayloadBytes)
        } catch {
            v.warnings.append("the running profiles would refuse it: \(error.message)")
        }
        return (v, profiles)
    }

    /// Stores `text` as a new version of profile `id` (not active). Refused when it does not validate, defines
    /// other than exactly the profile `id`, or fails its own test vectors.
    public func uploadProfile(id: String, text: String, author: String, comment: String) throws(ConfigError) -> (ConfigRepository.Version, ProfileValidation) {
        guard Self.isProfileID(id) else { throw .badRequest("profile id '\(id)' must be lower-case letters, digits, '-', '_' or '.'") }
        return try serialised { s throws(ConfigError) in
            if let (file, ids) = s.sharedFiles.first(where: { $0.value.contains(id) }) {
                throw .conflict("profile '\(id)' shares \(file) with \(ids.filter { $0 != id }.joined(separator: ", ")); split the file to manage it through the API")
            }
            let existing = try database { try repository.item(.profile, id) }
            let knownPath = existing?.path ?? s.profilePaths[id]
            let (validation, profiles) = validateProfile(text, file: knownPath ?? "\(id).yaml")
            guard validation.valid else { throw .invalid("profile text does not validate", validation.errors, tests: validation.tests) }
            guard profiles.count == 1, let profile = profiles.first else {
                throw .invalid("an upload holds exactly one profile; this text defines \(profiles.count)",
                               [ConfigIssue(file: knownPath, line: profiles[1].line, column: 1, message: "a second profile document")], tests: validation.tests)
            }
            guard profile.id == id else {
                throw .invalid("the text defines profile '\(profile.id)', not '\(id)'",
                               [ConfigIssue(file: knownPath, line: profile.line, column: 1, message: "id '\(profile.id)' does not match '\(id)' in the path")],
                               tests: validation.tests)
            }
            guard validation.tests.failed == 0 else {
                throw .invalid("\(validation.tests.failed) of the profile's test vectors fail", validation.tests.failures.map {
                    ConfigIssue(file: knownPath, line: $0.line, column: 1, message: "test '\($0.test)': " + $0.problems.joined(separator: "; "))
                }, tests: validation.tests)
            }
            let path: String
            if let knownPath {
                path = knownPath
            } else {
                path = Self.newProfilePath(vendor: profile.vendor, id: id)
                if FileManager.default.fileExists(atPath: absolute(profilesDirectory, path)) {
                    throw .conflict("a new profile '\(id)' would be written to \(path), which exists and holds another profile")
                }
            }
            let version = try database { try repository.add(.profile, id, path: path, text: text, author: author, comment: comment) }
            return (version, validation)
        }
    }

    /// What an activation did.
    public struct Activation: Sendable, Hashable, Codable {
        /// `profile` or `rules`.
        public var kind: ConfigRepository.Kind
        /// Profile id or rule file name.
        public var name: String
        /// The version now active.
        public var version: Int
        /// Its SHA-256.
        public var sha256: String
        /// The version active before (nil if none).
        public var previousVersion: Int?
        /// Profiles or rules running now.
        public var count: Int
        /// Things to know (e.g. an MQTT filter that needs a restart).
        public var warnings: [String]
        /// Versions recorded from disk by the reload (other files changed on disk meanwhile).
        public var recorded: [ReloadOutcome.Recorded]

        enum CodingKeys: String, CodingKey {
            case kind, name, version, sha256, previousVersion = "previous_version", count, warnings, recorded
        }
    }

    /// Makes version `number` of an item the running one: writes its file, reloads that whole part (profiles or
    /// rules) and marks it active. When the part does not load, the previous file is put back, the running set
    /// stays, and the errors are thrown.
    public func activate(_ kind: ConfigRepository.Kind, _ name: String, version number: Int) throws(ConfigError) -> Activation {
        try serialised { s throws(ConfigError) in try activateLocked(kind, name, version: number, &s) }
    }

    /// Activates the version before the active one.
    public func rollback(_ kind: ConfigRepository.Kind, _ name: String) throws(ConfigError) -> Activation {
        try serialised { s throws(ConfigError) in
            guard let item = try database({ try repository.item(kind, name) }) else { throw .notFound("no \(kind.rawValue) '\(name)' in the repository") }
            guard let active = item.activeVersion else { throw .conflict("\(kind.rawValue) '\(name)' has no active version to roll back from") }
            guard let previous = try database({ try repository.previous(kind, name) }) else {
                throw .conflict("\(kind.rawValue) '\(name)' has no version before \(active)")
            }
            return try activateLocked(kind, name, version: previous, &s)
        }
    }

    private func activateLocked(_ kind: ConfigRepository.Kind, _ name: String, version number: Int, _ s: inout Files) throws(ConfigError) -> Activation {
        guard let item = try database({ try repository.item(kind, name) }) else { throw .notFound("no \(kind.rawValue) '\(name)' in the repository") }
        guard let version = try database({ try repository.version(kind, name, number) }), let text = version.text else {
            throw .notFound("\(kind.rawValue) '\(name)' has no version \(number) (it has \(item.versions))")
        }
        guard let directory = kind == .profile ? profilesDirectory : rulesDirectory else { throw .notFound("alerts are not enabled on this gateway") }
        let path = absolute(directory, item.path)
        let before = FileManager.default.contents(atPath: path)
        do {
            try Self.writeDurably(Array(text.utf8), to: path)
        } catch {
            throw .failed("cannot write \(item.path): \(error)")
        }
        func restore() {
            do {
                if let before { try Self.writeDurably(Array(before), to: path) } else { try FileManager.default.removeItem(atPath: path) }
            } catch {
                logger.error("Could not put the previous file back after a refused activation", metadata: ["file": "\(path)", "error": "\(error)"])
            }
        }
        var warnings: [String] = []
        var recorded: [ReloadOutcome.Recorded] = []
        let count: Int
        switch kind {
        case .profile:
            let loaded: (ProfileSet, [LoadedFile])
            do throws(ProfileSetError) {
                loaded = try loadProfiles()
            } catch {
                restore()
                throw .invalid("the profile set does not load with \(name) version \(number); the running set stays", issues(error.errors, base: directory), tests: nil)
            }
            let set = loaded.0
            guard set.profiles[name]?.file == path else {
                restore()
                let winner = set.profiles[name].map { "version \($0.version) in \(relative(directory, $0.file))" } ?? "nothing"
                throw .invalid("profile '\(name)' version \(number) would not run: the set keeps \(winner); the running set stays", [], tests: nil)
            }
            decoder.replace(with: set)
            try database { try repository.setActive(kind, name, version: number) }
            recorded = recordProfiles(set, loaded.1, into: &s, comment: "changed on disk, picked up by an activation")
            count = set.profiles.count
            if let subscribedFilters {
                for filter in set.subscriptionFilters where !subscribedFilters.contains(filter) {
                    warnings.append("MQTT topic filter '\(filter)' is not subscribed: messages on it arrive after the gateway restarts")
                }
            }
        case .rules:
            let loaded: (RuleSet, [LoadedFile])
            do throws(RuleSetError) {
                loaded = try loadRules()
            } catch {
                restore()
                throw .invalid("the rule files do not load with \(name) version \(number); the running rules stay", issues(error.errors, base: directory), tests: nil)
            }
            alerts?.replaceRules(loaded.0)
            try database { try repository.setActive(kind, name, version: number) }
            recorded = recordRules(loaded.1, into: &s, comment: "changed on disk, picked up by an activation")
            count = loaded.0.rules.count
        }
        logger.notice("Configuration activated", metadata: [
            "config.kind": "\(kind.rawValue)", "config.name": "\(name)", "config.version": "\(number)", "config.previous": "\(item.activeVersion.map { "\($0)" } ?? "-")",
        ])
        return Activation(kind: kind, name: name, version: number, sha256: version.sha256, previousVersion: item.activeVersion, count: count,
                          warnings: warnings, recorded: recorded)
    }

    // MARK: Rules

    /// Parses and checks one rule file text (named `file` in errors).
    public func validateRules(_ text: String, file: String = "<upload>") -> RuleValidation {
        do throws(RuleSetError) {
            let set = try RuleSet.parse(files: [(file, text)], knownChannels: knownChannels)
            return RuleValidation(valid: true, errors: [], rules: set.rules.map(\.id))
        } catch {
            return RuleValidation(valid: false, errors: error.errors.map { Self.issue($0, base: nil) }, rules: [])
        }
    }

    /// Stores `text` as a new version of rule file `name` (not active). Refused when it does not validate.
    public func uploadRules(name: String, text: String, author: String, comment: String) throws(ConfigError) -> (ConfigRepository.Version, RuleValidation) {
        guard Self.isRuleFileName(name) else {
            throw .badRequest("rule file name '\(name)' must be letters, digits, '-', '_' or '.', not start with '.', and end in .yaml or .yml")
        }
        guard rulesDirectory != nil else { throw .notFound("alerts are not enabled on this gateway") }
        return try serialised { _ throws(ConfigError) in
            let validation = validateRules(text, file: name)
            guard validation.valid else { throw .invalid("rule file does not validate", validation.errors, tests: nil) }
            let version = try database { try repository.add(.rules, name, path: name, text: text, author: author, comment: comment) }
            return (version, validation)
        }
    }

    // MARK: Loading

    /// One file read during a load.
    struct LoadedFile {
        /// Relative to its directory.
        var path: String
        var text: String
        /// Profile ids or rule ids it defines.
        var ids: [String]
    }

    /// Loads every profile below the directory from texts read once, so what is recorded is what runs.
    func loadProfiles() throws(ProfileSetError) -> (ProfileSet, [LoadedFile]) {
        var profiles: [Profile] = []
        var errors: [ProfileError] = []
        var files: [LoadedFile] = []
        var rels: [String] = []
        if let walker = FileManager.default.enumerator(atPath: profilesDirectory) {
            for case let rel as String in walker where rel.hasSuffix(".yaml") || rel.hasSuffix(".yml") { rels.append(rel) }
        }
        for rel in rels.sorted(by: { absolute(profilesDirectory, $0) < absolute(profilesDirectory, $1) }) {
            let file = absolute(profilesDirectory, rel)
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                errors.append(ProfileError(file: file, line: 0, column: 0, message: "cannot read the file, or it is not UTF-8"))
                continue
            }
            do throws(ProfileError) {
                let loaded = try ProfileLoader.load(yaml: text, file: file)
                profiles += loaded
                files.append(LoadedFile(path: rel, text: text, ids: loaded.map(\.id)))
            } catch {
                errors.append(error)
            }
        }
        if !errors.isEmpty { throw ProfileSetError(errors: errors) }
        let set: ProfileSet
        do throws(ProfileError) {
            set = try ProfileSet(profiles, limits: limits, maxPayloadBytes: maxPayloadBytes)
        } catch {
            throw ProfileSetError(errors: [error])
        }
        guard !set.profiles.isEmpty else {
            throw ProfileSetError(errors: [ProfileError(file: profilesDirectory, line: 0, column: 0, message: "no profiles found")])
        }
        return (set, files)
    }

    /// Loads every rule file of the directory from texts read once.
    func loadRules() throws(RuleSetError) -> (RuleSet, [LoadedFile]) {
        guard let rulesDirectory else { return (RuleSet(), []) }
        var texts: [(String, String)] = []
        var errors: [ProfileError] = []
        var names: [String] = []
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: rulesDirectory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                _ = try RuleSet.parse(files: [], priorErrors: [ProfileError(file: rulesDirectory, line: 0, column: 0, message: "not a directory")])
                return (RuleSet(), [])
            }
            names = ((try? FileManager.default.contentsOfDirectory(atPath: rulesDirectory)) ?? []).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        }
        for name in names {
            let path = absolute(rulesDirectory, name)
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                errors.append(ProfileError(file: path, line: 0, column: 0, message: "unreadable or not UTF-8"))
                continue
            }
            texts.append((path, text))
        }
        let set = try RuleSet.parse(files: texts, knownChannels: knownChannels, priorErrors: errors)
        let files = zip(names, texts).map { name, t in
            LoadedFile(path: name, text: t.1, ids: (try? RuleSet.parse(files: [t], knownChannels: nil).rules.map(\.id)) ?? [])
        }
        return (set, files)
    }

    /// Records loaded profile files whose text differs from their active version, and notes where each loaded
    /// profile lives. Profiles no longer on disk lose their active mark.
    private func recordProfiles(_ set: ProfileSet, _ files: [LoadedFile], into s: inout Files, comment: String) -> [ReloadOutcome.Recorded] {
        var recorded: [ReloadOutcome.Recorded] = []
        var paths: [String: String] = [:]
        var shared: [String: [String]] = [:]
        for f in files {
            for id in f.ids where set.profiles[id]?.file == absolute(profilesDirectory, f.path) { paths[id] = f.path }
            if f.ids.count > 1 { shared[f.path] = f.ids }
        }
        s.profilePaths = paths
        s.sharedFiles = shared
        do {
            for f in files where f.ids.count == 1 {
                let id = f.ids[0]
                guard paths[id] == f.path else { continue }
                if let v = try repository.recordDisk(.profile, id, path: f.path, text: f.text, comment: comment) {
                    recorded.append(.init(name: id, version: v.version))
                }
            }
            for item in try repository.items(.profile) where item.activeVersion != nil && paths[item.name] == nil {
                try repository.deactivate(.profile, item.name)
            }
        } catch {
            logger.warning("Profile history not updated", metadata: ["error": "\(error)"])
        }
        return recorded
    }

    private func recordRules(_ files: [LoadedFile], into s: inout Files, comment: String) -> [ReloadOutcome.Recorded] {
        var recorded: [ReloadOutcome.Recorded] = []
        var ruleFiles: [String: String] = [:]
        for f in files { for id in f.ids { ruleFiles[id] = f.path } }
        s.ruleFiles = ruleFiles
        do {
            for f in files {
                if let v = try repository.recordDisk(.rules, f.path, path: f.path, text: f.text, comment: comment) {
                    recorded.append(.init(name: f.path, version: v.version))
                }
            }
            let onDisk = Set(files.map(\.path))
            for item in try repository.items(.rules) where item.activeVersion != nil && !onDisk.contains(item.name) {
                try repository.deactivate(.rules, item.name)
            }
        } catch {
            logger.warning("Rule history not updated", metadata: ["error": "\(error)"])
        }
        return recorded
    }

    // MARK: Helpers

    private func serialised<T>(_ body: (inout Files) throws(ConfigError) -> T) throws(ConfigError) -> T {
        let result: Result<T, ConfigError> = state.withLock { s in
            do throws(ConfigError) { return .success(try body(&s)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private func database<T>(_ body: () throws -> T) throws(ConfigError) -> T {
        do { return try body() } catch { throw .failed("configuration repository: \(error)") }
    }

    func issues(_ errors: [ProfileError], base: String) -> [ConfigIssue] { errors.map { Self.issue($0, base: base) } }

    static func issue(_ e: ProfileError, base: String?) -> ConfigIssue {
        ConfigIssue(file: base.map { relativePath($0, e.file) } ?? e.file, line: e.line, column: e.column, message: e.message)
    }

    func absolute(_ directory: String, _ rel: String) -> String { (directory as NSString).appendingPathComponent(rel) }

    func relative(_ directory: String, _ path: String) -> String { Self.relativePath(directory, path) }

    static func relativePath(_ directory: String, _ path: String) -> String {
        let base = (directory as NSString).appendingPathComponent("x").dropLast()
        if path.hasPrefix(base) { return String(path.dropFirst(base.count)) }
        let plain = directory.hasSuffix("/") ? directory : directory + "/"
        if path.hasPrefix(plain) { return String(path.dropFirst(plain.count)) }
        return path
    }

    /// Profile ids as the profile language allows them.
    static func isProfileID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id.first != "."
            && id.utf8.allSatisfy { c in (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F || c == 0x2E }
    }

    /// Rule file names: a plain name ending in .yaml or .yml.
    static func isRuleFileName(_ name: String) -> Bool {
        (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) && name.first != "." && name.utf8.count <= 128
            && name.utf8.allSatisfy { c in
                (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F || c == 0x2E
            }
    }

    /// Where a profile new to this gateway is written: `<vendor>/<id>.yaml`, the vendor in lower case letters
    /// and digits (`api` when that leaves nothing).
    static func newProfilePath(vendor: String, id: String) -> String {
        var slug = ""
        for c in vendor.lowercased().unicodeScalars {
            if (c >= "a" && c <= "z") || (c >= "0" && c <= "9") {
                slug.unicodeScalars.append(c)
            } else if !slug.isEmpty, slug.last != "-" {
                slug += "-"
            }
        }
        while slug.hasSuffix("-") { slug.removeLast() }
        return (slug.isEmpty ? "api" : slug) + "/" + id + ".yaml"
    }

    /// Writes a whole file durably (`DurableFile`) through a hidden temporary file beside it, a name the loaders
    /// skip.
    static func writeDurably(_ bytes: [UInt8], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try DurableFile.write(bytes, to: path, temporaryPath: directory + "/." + (path as NSString).lastPathComponent + ".citygate-tmp")
    }
}
