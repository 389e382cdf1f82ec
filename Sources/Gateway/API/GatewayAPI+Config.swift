import Alerts
import DeviceProfiles
import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import NIOCore

/// A refused profile or rule text: 422 with the message and the line-numbered errors (and, for profiles, the test
/// vectors' outcome), or another status with the same shape.
struct ConfigHTTPError: Error, HTTPResponseError, CustomStringConvertible {
    struct Body: Encodable {
        var error: String
        var errors: [ConfigIssue]
        var tests: ProfileTestReport?
        var version: Int?
        var profiles: ReloadOutcome?
        var rules: ReloadOutcome?
    }

    let status: HTTPResponse.Status
    let body: Body

    init(status: HTTPResponse.Status = .unprocessableContent, _ body: Body) {
        self.status = status
        self.body = body
    }

    var description: String { ([body.error] + body.errors.map(\.text)).joined(separator: "; ") }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIJSON.response(body, status: status)
    }
}

extension GatewayAPI {
    // MARK: JSON

    struct ProfileJSON: Encodable {
        var id: String, version: Int, vendor: String, model: String, family: String, description: String
        var transports: [String]
        var match: [String: [String]]
        var file: String?
        var activeVersion: Int?
        var versions: Int
        /// False for a profile stored but not running (then `yaml` is its newest stored version).
        var loaded = true
        var yaml: String?

        enum CodingKeys: String, CodingKey {
            case id, version, vendor, model, family, description, transports, match, file, activeVersion = "active_version", versions, loaded, yaml
        }
    }

    struct ProfileList: Encodable { var profiles: [ProfileJSON] }
    struct VersionList: Encodable { var versions: [ConfigRepository.Version] }

    struct Uploaded: Encodable {
        var id: String, version: Int, sha256: String, active: Bool
        var activation: ConfigManager.Activation?
        var tests: ProfileTestReport?
        var warnings: [String]
    }

    struct RuleJSON: Encodable {
        var id: String, kind: String, summary: String, severity: String, selector: String, file: String?
    }

    struct RuleList: Encodable { var rules: [RuleJSON] }

    struct RuleFileJSON: Encodable {
        var name: String, activeVersion: Int?, versions: Int, onDisk: Bool, rules: [String]
        var yaml: String?
        enum CodingKeys: String, CodingKey { case name, activeVersion = "active_version", versions, onDisk = "on_disk", rules, yaml }
    }

    struct RuleFileList: Encodable { var files: [RuleFileJSON] }

    struct ReloadJSON: Encodable {
        var profiles: ReloadOutcome?
        var rules: ReloadOutcome?
    }

    // MARK: Routes

    /// Profiles and rule files: list, read, version history, validate, upload, activate, roll back, and reload.
    func registerConfig(_ v1: RouterGroup<APIRequestContext>) {
        let runtime = runtime
        let config = runtime.configManager
        let maxBodyBytes = maxBodyBytes

        // Profiles.
        v1.get("profiles") { _, context in
            try context.require(.viewer)
            let items = Dictionary(try config.repository.items(.profile).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let profiles = runtime.decoder.profiles.profiles.values.sorted { $0.id < $1.id }.map { p in
                Self.profileJSON(p, file: config.profilePath(p.id), item: items[p.id])
            }
            return try APIJSON.response(ProfileList(profiles: profiles))
        }
        v1.post("profiles/validate") { request, context in
            try context.require(.viewer)
            let text = try await Self.yamlBody(request, maxBytes: maxBodyBytes)
            return try APIJSON.response(config.validateProfile(text).0)
        }
        v1.get("profiles/:id") { _, context in
            try context.require(.viewer)
            let id = try Self.string(context, "id")
            let item = try config.repository.item(.profile, id)
            let active = try config.repository.active(.profile, id)
            if let p = runtime.decoder.profiles.profiles[id] {
                var json = Self.profileJSON(p, file: config.profilePath(id), item: item)
                json.yaml = active?.text ?? config.profilePath(id).flatMap { try? String(contentsOfFile: config.absolute(config.profilesDirectory, $0), encoding: .utf8) }
                return try APIJSON.response(json)
            }
            // Stored but not running (uploaded and never activated, or its file removed): described from its newest
            // stored version.
            guard let item else { throw APIError(.notFound, "no profile '\(id)'") }
            let newest = try config.repository.version(.profile, id, item.versions)
            guard let text = newest?.text, let p = try? ProfileLoader.load(yaml: text, file: item.path).first else {
                throw APIError(.notFound, "profile '\(id)' is not loaded and its stored text does not compile")
            }
            var json = Self.profileJSON(p, file: item.path, item: item)
            json.loaded = false
            json.yaml = text
            return try APIJSON.response(json)
        }
        v1.get("profiles/:id/versions") { _, context in
            try context.require(.viewer)
            let id = try Self.string(context, "id")
            guard try config.repository.item(.profile, id) != nil else { throw APIError(.notFound, "no stored versions of profile '\(id)'") }
            return try APIJSON.response(VersionList(versions: try config.repository.versions(.profile, id)))
        }
        v1.get("profiles/:id/versions/:n") { _, context in
            try context.require(.viewer)
            let id = try Self.string(context, "id")
            let n = try Self.versionNumber(context)
            guard let v = try config.repository.version(.profile, id, n) else { throw APIError(.notFound, "profile '\(id)' has no version \(n)") }
            return try APIJSON.response(v)
        }
        v1.put("profiles/:id") { request, context in
            let id = try Self.string(context, "id")
            let q = request.uri.queryParameters
            let comment = q.get("comment") ?? ""
            let activate = try Self.flag(q, "activate")
            let text = try await Self.yamlBody(request, maxBytes: maxBodyBytes)
            let details = Self.details(["sha256": ConfigRepository.sha256(text), "comment": comment, "activate": activate ? "true" : "false"])
            return try await audited(context, role: .admin, action: "profile.upload", target: "profile/\(id)", details: details) { who in
                let (version, validation) = try Self.mapped { () throws(ConfigError) in try config.uploadProfile(id: id, text: text, author: who.name, comment: comment) }
                var out = Uploaded(id: id, version: version.version, sha256: version.sha256, active: false, tests: validation.tests, warnings: validation.warnings)
                if activate {
                    out.activation = try Self.mapped(storedVersion: version.version) { () throws(ConfigError) in
                        try config.activate(.profile, id, version: version.version)
                    }
                    out.active = true
                    out.warnings += out.activation?.warnings ?? []
                }
                return try APIJSON.response(out, status: .created)
            }
        }
        v1.post("profiles/:id/activate") { request, context in
            let id = try Self.string(context, "id")
            guard let n = request.uri.queryParameters.get("version").flatMap(Int32.init).map(Int.init), n > 0 else {
                throw APIError(.badRequest, "give the version to activate: ?version=N (1 to 2147483647)")
            }
            return try await audited(context, role: .admin, action: "profile.activate", target: "profile/\(id)@\(n)") { _ in
                try APIJSON.response(try Self.mapped { () throws(ConfigError) in try config.activate(.profile, id, version: n) })
            }
        }
        v1.post("profiles/:id/rollback") { _, context in
            let id = try Self.string(context, "id")
            return try await audited(context, role: .admin, action: "profile.rollback", target: "profile/\(id)") { _ in
                try APIJSON.response(try Self.mapped { () throws(ConfigError) in try config.rollback(.profile, id) })
            }
        }

        // Rules.
        v1.get("rules") { _, context in
            try context.require(.viewer)
            let files = config.ruleFiles
            let rules = (runtime.alerts?.rules ?? []).map { r in
                RuleJSON(id: r.id, kind: r.condition.kind, summary: r.summary, severity: r.severity.rawValue, selector: Self.selectorSummary(r.selector),
                         file: files[r.id])
            }
            return try APIJSON.response(RuleList(rules: rules))
        }
        v1.get("rules/files") { _, context in
            try context.require(.viewer)
            let items = try config.repository.items(.rules)
            let onDisk = Set(config.ruleFileNames())
            var byFile: [String: [String]] = [:]
            for (rule, file) in config.ruleFiles { byFile[file, default: []].append(rule) }
            var names = Set(items.map(\.name)).union(onDisk).sorted()
            if config.rulesDirectory == nil { names = [] }
            let itemByName = Dictionary(items.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            return try APIJSON.response(RuleFileList(files: names.map { name in
                RuleFileJSON(name: name, activeVersion: itemByName[name]?.activeVersion, versions: itemByName[name]?.versions ?? 0,
                             onDisk: onDisk.contains(name), rules: (byFile[name] ?? []).sorted())
            }))
        }
        v1.post("rules/validate") { request, context in
            try context.require(.viewer)
            let text = try await Self.yamlBody(request, maxBytes: maxBodyBytes)
            return try APIJSON.response(config.validateRules(text))
        }
        v1.get("rules/files/:name") { _, context in
            try context.require(.viewer)
            let name = try Self.string(context, "name")
            guard let item = try config.repository.item(.rules, name) else { throw APIError(.notFound, "no rule file '\(name)'") }
            let active = try config.repository.active(.rules, name)
            let rules = config.ruleFiles.filter { $0.value == name }.map(\.key).sorted()
            return try APIJSON.response(RuleFileJSON(name: name, activeVersion: item.activeVersion, versions: item.versions,
                                                     onDisk: config.ruleFileNames().contains(name), rules: rules, yaml: active?.text))
        }
        v1.get("rules/files/:name/versions") { _, context in
            try context.require(.viewer)
            let name = try Self.string(context, "name")
            guard try config.repository.item(.rules, name) != nil else { throw APIError(.notFound, "no stored versions of rule file '\(name)'") }
            return try APIJSON.response(VersionList(versions: try config.repository.versions(.rules, name)))
        }
        v1.get("rules/files/:name/versions/:n") { _, context in
            try context.require(.viewer)
            let name = try Self.string(context, "name")
            let n = try Self.versionNumber(context)
            guard let v = try config.repository.version(.rules, name, n) else { throw APIError(.notFound, "rule file '\(name)' has no version \(n)") }
            return try APIJSON.response(v)
        }
        v1.put("rules/files/:name") { request, context in
            let name = try Self.string(context, "name")
            let q = request.uri.queryParameters
            let comment = q.get("comment") ?? ""
            let activate = try Self.flag(q, "activate")
            let text = try await Self.yamlBody(request, maxBytes: maxBodyBytes)
            let details = Self.details(["sha256": ConfigRepository.sha256(text), "comment": comment, "activate": activate ? "true" : "false"])
            return try await audited(context, role: .admin, action: "rules.upload", target: "rules/\(name)", details: details) { who in
                let (version, _) = try Self.mapped { () throws(ConfigError) in try config.uploadRules(name: name, text: text, author: who.name, comment: comment) }
                var out = Uploaded(id: name, version: version.version, sha256: version.sha256, active: false, warnings: [])
                if activate {
                    out.activation = try Self.mapped(storedVersion: version.version) { () throws(ConfigError) in
                        try config.activate(.rules, name, version: version.version)
                    }
                    out.active = true
                }
                return try APIJSON.response(out, status: .created)
            }
        }
        v1.post("rules/files/:name/activate") { request, context in
            let name = try Self.string(context, "name")
            guard let n = request.uri.queryParameters.get("version").flatMap(Int32.init).map(Int.init), n > 0 else {
                throw APIError(.badRequest, "give the version to activate: ?version=N (1 to 2147483647)")
            }
            return try await audited(context, role: .admin, action: "rules.activate", target: "rules/\(name)@\(n)") { _ in
                try APIJSON.response(try Self.mapped { () throws(ConfigError) in try config.activate(.rules, name, version: n) })
            }
        }
        v1.post("rules/files/:name/rollback") { _, context in
            let name = try Self.string(context, "name")
            return try await audited(context, role: .admin, action: "rules.rollback", target: "rules/\(name)") { _ in
                try APIJSON.response(try Self.mapped { () throws(ConfigError) in try config.rollback(.rules, name) })
            }
        }

        // Both, from disk: what SIGHUP does.
        v1.post("reload") { request, context in
            let what = request.uri.queryParameters.get("what") ?? "all"
            guard ["all", "profiles", "rules"].contains(what) else { throw APIError(.badRequest, "what must be all, profiles or rules") }
            return try await audited(context, role: .admin, action: "config.reload", target: "config/\(what)") { _ in
                let outcome = config.reload(profiles: what != "rules", rules: what != "profiles")
                let refused = [outcome.profiles, outcome.rules].compactMap { $0 }.filter { !$0.loaded }
                guard refused.isEmpty else {
                    let parts = [outcome.profiles.map { ("profiles", $0) }, outcome.rules.map { ("rules", $0) }].compactMap { $0 }.filter { !$0.1.loaded }.map(\.0)
                    throw ConfigHTTPError(.init(error: "refused: \(parts.joined(separator: " and ")); the running set stays",
                                                errors: refused.flatMap(\.errors), profiles: outcome.profiles, rules: outcome.rules))
                }
                return try APIJSON.response(ReloadJSON(profiles: outcome.profiles, rules: outcome.rules))
            }
        }
    }

    // MARK: Helpers

    static func profileJSON(_ p: Profile, file: String?, item: ConfigRepository.Item?) -> ProfileJSON {
        var match: [String: [String]] = [:]
        for (transport, template) in p.allTemplates { match[transport.rawValue, default: []].append(template.description) }
        var transports = Profile.templateTransports.filter { match[$0.rawValue] != nil }.map(\.rawValue)
        if p.acceptsUDP { transports.append("udp") }
        return ProfileJSON(
            id: p.id, version: p.version, vendor: p.vendor, model: p.model, family: p.family, description: p.description, transports: transports, match: match,
            file: file, activeVersion: item?.activeVersion, versions: item?.versions ?? 0)
    }

    /// `family=neuron metric=angle_x,angle_y`; `all` when the rule selects everything.
    static func selectorSummary(_ s: AlertRule.Selector) -> String {
        var parts: [String] = []
        if !s.devices.isEmpty { parts.append("device=" + s.devices.joined(separator: ",")) }
        if !s.profiles.isEmpty { parts.append("profile=" + s.profiles.joined(separator: ",")) }
        if !s.families.isEmpty { parts.append("family=" + s.families.joined(separator: ",")) }
        if !s.metrics.isEmpty { parts.append("metric=" + s.metrics.joined(separator: ",")) }
        for (k, v) in s.tags.sorted(by: { $0.key < $1.key }) { parts.append("tag.\(k)=\(v)") }
        return parts.isEmpty ? "all" : parts.joined(separator: " ")
    }

    /// The request body as UTF-8 YAML text (Content-Type application/yaml, text/yaml, application/x-yaml or
    /// text/plain; none means YAML), at most `maxBytes`. An empty text is the validators' to judge (an empty rule
    /// file is valid; an empty profile is not).
    static func yamlBody(_ request: Request, maxBytes: Int) async throws -> String {
        if let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased(),
           !["application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml", "text/plain"].contains(type)
        {
            throw APIError(.unsupportedMediaType, "send the YAML text with Content-Type application/yaml or text/plain, not \(type)")
        }
        var request = request
        let body = try await request.collectBody(upTo: maxBytes)
        guard let text = String(validating: Array(body.readableBytesView), as: UTF8.self) else { throw APIError(.badRequest, "the body is not UTF-8 text") }
        return text
    }

    static func flag(_ q: Parameters, _ name: String) throws -> Bool {
        guard let s = q.get(name) else { return false }
        guard let b = Bool(s.lowercased()) else { throw APIError(.badRequest, "\(name) must be true or false") }
        return b
    }

    static func versionNumber(_ context: APIRequestContext) throws -> Int {
        guard let s = context.parameters.get("n"), let n = Int32(s), n > 0 else { throw APIError(.badRequest, "the version must be an integer from 1 to 2147483647") }
        return Int(n)
    }

    static func details(_ fields: [String: String]) -> String {
        "{" + fields.sorted { $0.key < $1.key }.map { APIJSON.quoted($0.key) + ":" + APIJSON.quoted($0.value) }.joined(separator: ",") + "}"
    }

    /// Runs a configuration change and turns its refusal into the HTTP answer.
    static func mapped<T>(storedVersion: Int? = nil, _ body: () throws(ConfigError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            switch error {
            case .badRequest(let m): throw APIError(.badRequest, m)
            case .notFound(let m): throw APIError(.notFound, m)
            case .conflict(let m): throw APIError(.conflict, m)
            case .failed(let m): throw APIError(.internalServerError, m)
            case .invalid(let m, let issues, let tests):
                var message = m
                if let storedVersion { message += " (stored as version \(storedVersion), not active)" }
                throw ConfigHTTPError(.init(error: message, errors: issues, tests: tests, version: storedVersion))
            }
        }
    }
}
