import DeviceProfiles
import Foundation
import Yams

/// The rules of one or more rule files, validated, with the device tags they declare.
public struct RuleSet: Sendable, Hashable {
    /// Rules in file order (files sorted by name).
    public var rules: [AlertRule]
    /// Device id → tags, from every file's `device_tags:`.
    public var deviceTags: [String: [String: String]]

    /// Creates a rule set.
    public init(rules: [AlertRule] = [], deviceTags: [String: [String: String]] = [:]) {
        self.rules = rules
        self.deviceTags = deviceTags
    }

    /// Loads every `*.yaml`/`*.yml` file in `directory` (a missing directory is an empty set). All errors are
    /// collected, one per line, each as `file:line:column: message`.
    /// - Parameter knownChannels: when given, a rule naming another channel is an error.
    public static func load(directory: String, knownChannels: Set<String>? = nil) throws(RuleSetError) -> RuleSet {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else { return RuleSet() }
        guard isDirectory.boolValue else { throw RuleSetError(errors: [ProfileError(file: directory, line: 0, column: 0, message: "not a directory")]) }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        var files: [(String, String)] = []
        var errors: [ProfileError] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                errors.append(ProfileError(file: path, line: 0, column: 0, message: "unreadable or not UTF-8"))
                continue
            }
            files.append((path, text))
        }
        return try parse(files: files, knownChannels: knownChannels, priorErrors: errors)
    }

    /// Parses rule file texts given as (file name, text).
    public static func parse(files: [(String, String)], knownChannels: Set<String>? = nil, priorErrors: [ProfileError] = []) throws(RuleSetError) -> RuleSet {
        var errors = priorErrors
        var set = RuleSet()
        var seen: [String: String] = [:]
        for (file, text) in files {
            do {
                let (rules, tags) = try RuleFileParser(file: file, knownChannels: knownChannels).parse(text)
                for (rule, node) in rules {
                    if let other = seen[rule.id] {
                        errors.append(RuleFileParser(file: file, knownChannels: nil).reader.error(node, "rule id '\(rule.id)' is already defined in \(other)"))
                        continue
                    }
                    seen[rule.id] = file
                    set.rules.append(rule)
                }
                set.deviceTags.merge(tags) { a, b in a.merging(b) { _, new in new } }
            } catch {
                errors.append(error)
            }
        }
        if !errors.isEmpty { throw RuleSetError(errors: errors) }
        return set
    }
}

/// Rule files that did not load: every error, each with file, line and column.
public struct RuleSetError: Error, Sendable, CustomStringConvertible {
    /// The errors, in file order.
    public var errors: [ProfileError]

    /// One error per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Parses one rule file.
struct RuleFileParser {
    let reader: YAMLReader
    let knownChannels: Set<String>?

    init(file: String, knownChannels: Set<String>?) {
        reader = YAMLReader(file: file)
        self.knownChannels = knownChannels
    }

    static let conditionKeys: Set<String> = ["above", "below", "outside", "rate", "stuck", "no_data", "event", "anomaly"]

    func parse(_ text: String) throws(ProfileError) -> ([(AlertRule, Node)], [String: [String: String]]) {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return ([], [:]) }
        let root = try reader.parse(text)
        var rules: [(AlertRule, Node)] = []
        var tags: [String: [String: String]] = [:]
        for (key, keyNode, value) in try reader.mapping(root, "the rule file") {
            switch key {
            case "rules":
                for node in try reader.sequence(value, "rules") { rules.append((try rule(node), node)) }
            case "device_tags":
                for (device, _, map) in try reader.mapping(value, "device_tags") {
                    var t: [String: String] = [:]
                    for (k, _, v) in try reader.mapping(map, "device_tags.\(device)") { t[k] = try reader.string(v, k) }
                    tags[device] = t
                }
            default:
                throw reader.error(keyNode, "unknown key '\(key)'; known: rules, device_tags")
            }
        }
        return (rules, tags)
    }

    func strings(_ node: Node, _ what: String) throws(ProfileError) -> [String] {
        if node.scalarText != nil { return [try reader.string(node, what)] }
        var out: [String] = []
        for item in try reader.sequence(node, what) { out.append(try reader.string(item, what)) }
        return out
    }

    func duration(_ node: Node, _ what: String) throws(ProfileError) -> Int64 {
        let text = try reader.string(node, what)
        guard let ms = YAMLReader.parseDurationMilliseconds(text), ms >= 0 else {
            throw reader.error(node, "\(what): '\(text)' is not a duration (e.g. 30s, 5m, 2h)")
        }
        return ms
    }

    func pair(_ node: Node, _ what: String) throws(ProfileError) -> (Double, Double) {
        let items = try reader.sequence(node, what)
        guard items.count == 2 else { throw reader.error(node, "\(what) takes [low, high]") }
        let low = try reader.double(items[0], what), high = try reader.double(items[1], what)
        guard low < high else { throw reader.error(node, "\(what): low must be below high") }
        return (low, high)
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    func rule(_ node: Node) throws(ProfileError) -> AlertRule {
        let entries = try reader.mapping(node, "a rule")
        var values: [String: (Node, Node)] = [:]
        let known: Set<String> = RuleFileParser.conditionKeys.union([
            "id", "summary", "select", "clear", "for", "severity", "channels", "flap", "clear_on_silence", "escalate",
        ])
        for (key, keyNode, value) in entries {
            guard known.contains(key) else {
                throw reader.error(keyNode, "unknown key '\(key)'; known: \(known.sorted().joined(separator: ", "))")
            }
            values[key] = (keyNode, value)
        }
        guard let (_, idNode) = values["id"] else { throw reader.error(node, "a rule needs an 'id'") }
        let id = try reader.string(idNode, "id")
        guard !id.isEmpty, id.utf8.allSatisfy({ $0 > 32 && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "#") }) else {
            throw reader.error(idNode, "rule id '\(id)' must be non-empty, without spaces, '/', '+' or '#' (it appears in MQTT topics)")
        }
        let conditionKeys = values.keys.filter { RuleFileParser.conditionKeys.contains($0) }
        guard conditionKeys.count == 1, let kind = conditionKeys.first, let (_, condNode) = values[kind] else {
            throw reader.error(node, "rule '\(id)' needs exactly one condition: \(RuleFileParser.conditionKeys.sorted().joined(separator: ", "))")
        }
        let clearNode = values["clear"]?.1
        let condition: AlertRule.Condition
        switch kind {
        case "above", "below":
            let level = try reader.double(condNode, kind)
            let clear = try clearNode.map { n throws(ProfileError) in try reader.double(n, "clear") } ?? level
            if kind == "above", clear > level { throw reader.error(clearNode, "clear (\(clear)) must be at or below the 'above' level (\(level))") }
            if kind == "below", clear < level { throw reader.error(clearNode, "clear (\(clear)) must be at or above the 'below' level (\(level))") }
            condition = kind == "above" ? .above(level: level, clear: clear) : .below(level: level, clear: clear)
        case "outside":
            let (low, high) = try pair(condNode, "outside")
            var (clearLow, clearHigh) = (low, high)
            if let clearNode {
                (clearLow, clearHigh) = try pair(clearNode, "clear")
                guard clearLow >= low, clearHigh <= high else { throw reader.error(clearNode, "the clear band must lie within the 'outside' band") }
            }
            condition = .outside(low: low, high: high, clearLow: clearLow, clearHigh: clearHigh)
        case "rate":
            var limit: Double?
            var per: Int64 = 60_000
            var direction = AlertRule.RateDirection.both
            for (k, kn, v) in try reader.mapping(condNode, "rate") {
                switch k {
                case "limit": limit = try reader.double(v, k)
                case "per": per = try duration(v, "rate.per")
                case "direction":
                    let text = try reader.string(v, k)
                    guard let d = AlertRule.RateDirection(rawValue: text) else { throw reader.error(v, "direction must be up, down or both") }
                    direction = d
                default: throw reader.error(kn, "unknown key 'rate.\(k)'; known: limit, per, direction")
                }
            }
            guard let limit, limit > 0 else { throw reader.error(condNode, "rate needs a positive 'limit'") }
            guard per > 0 else { throw reader.error(condNode, "rate.per must be positive") }
            condition = .rate(limit: limit, perMs: per, direction: direction)
        case "stuck":
            var durationMs: Int64?
            var tolerance = 0.0
            for (k, kn, v) in try reader.mapping(condNode, "stuck") {
                switch k {
                case "for": durationMs = try duration(v, "stuck.for")
                case "tolerance": tolerance = try reader.double(v, k)
                default: throw reader.error(kn, "unknown key 'stuck.\(k)'; known: for, tolerance")
                }
            }
            guard let durationMs, durationMs > 0 else { throw reader.error(condNode, "stuck needs a positive 'for' duration") }
            condition = .stuck(durationMs: durationMs, tolerance: abs(tolerance))
        case "no_data":
            var factor = 2.5
            var minimum: Int64 = 60_000
            if condNode.scalarText != nil {
                guard try reader.bool(condNode, "no_data") else { throw reader.error(condNode, "no_data: false makes no rule; remove it") }
            } else {
                for (k, kn, v) in try reader.mapping(condNode, "no_data") {
                    switch k {
                    case "factor": factor = try reader.double(v, k)
                    case "minimum": minimum = try duration(v, "no_data.minimum")
                    default: throw reader.error(kn, "unknown key 'no_data.\(k)'; known: factor, minimum")
                    }
                }
            }
            // Bounded above too: the engine multiplies it by the report interval in Int64 milliseconds on every tick.
            guard factor >= 1, factor <= 1000 else { throw reader.error(condNode, "no_data.factor must be between 1 and 1000") }
            condition = .noData(factor: factor, minimumMs: minimum)
        case "event":
            var codes = Set<Int>()
            let items = condNode.scalarText != nil ? [condNode] : try reader.sequence(condNode, "event")
            for item in items { codes.insert(try reader.int(item, "event code")) }
            guard !codes.isEmpty else { throw reader.error(condNode, "event needs at least one code") }
            condition = .event(codes: codes)
        default: // anomaly
            let score = try reader.double(condNode, "anomaly")
            guard score > 0, score <= 1 else { throw reader.error(condNode, "anomaly score must be in (0, 1]") }
            let clear = try clearNode.map { n throws(ProfileError) in try reader.double(n, "clear") } ?? score
            guard clear <= score, clear >= 0 else { throw reader.error(clearNode, "clear must be in [0, anomaly score]") }
            condition = .anomaly(score: score, clear: clear)
        }
        if clearNode != nil, ["rate", "stuck", "no_data", "event"].contains(kind) {
            throw reader.error(values["clear"]?.0, "'clear' does not apply to a \(kind) rule")
        }
        var rule = AlertRule(id: id, condition: condition)
        if let (_, v) = values["summary"] { rule.summary = try reader.string(v, "summary") }
        if let (_, v) = values["select"] {
            for (k, kn, sv) in try reader.mapping(v, "select") {
                switch k {
                case "device", "devices": rule.selector.devices = try strings(sv, k)
                case "metric", "metrics": rule.selector.metrics = try strings(sv, k)
                case "profile", "profiles": rule.selector.profiles = try strings(sv, k)
                case "family", "families":
                    rule.selector.families = try strings(sv, k)
                    for f in rule.selector.families where !["neuron", "charger", "farm"].contains(f) {
                        throw reader.error(sv, "unknown family '\(f)'; known: neuron, charger, farm")
                    }
                case "tags":
                    for (tk, _, tv) in try reader.mapping(sv, "select.tags") { rule.selector.tags[tk] = try reader.string(tv, tk) }
                default: throw reader.error(kn, "unknown key 'select.\(k)'; known: device, metric, profile, family, tags")
                }
            }
        }
        if kind != "no_data", rule.selector.metrics.isEmpty {
            throw reader.error(values["select"]?.1 ?? node, "rule '\(id)' needs 'select: { metric: ... }' (a \(kind) rule watches a metric)")
        }
        if let (_, v) = values["for"] { rule.forMs = try duration(v, "for") }
        if let (_, v) = values["severity"] {
            let text = try reader.string(v, "severity")
            guard let s = AlertRule.Severity(rawValue: text) else { throw reader.error(v, "severity must be info, warning, major or critical") }
            rule.severity = s
        }
        if let (_, v) = values["channels"] { rule.channels = try channelList(v, "channels") }
        if let (_, v) = values["flap"] {
            for (k, kn, fv) in try reader.mapping(v, "flap") {
                switch k {
                case "window": rule.flap.windowMs = try duration(fv, "flap.window")
                case "max_firings":
                    rule.flap.maxFirings = try reader.int(fv, k)
                    guard rule.flap.maxFirings >= 1 else { throw reader.error(fv, "max_firings must be at least 1") }
                default: throw reader.error(kn, "unknown key 'flap.\(k)'; known: window, max_firings")
                }
            }
        }
        if let (_, v) = values["clear_on_silence"] { rule.clearOnSilenceMs = try duration(v, "clear_on_silence") }
        if let (_, v) = values["escalate"] {
            var after: Int64?
            var severity = rule.severity.raised
            var channels: [String] = []
            for (k, kn, ev) in try reader.mapping(v, "escalate") {
                switch k {
                case "after": after = try duration(ev, "escalate.after")
                case "severity":
                    let text = try reader.string(ev, k)
                    guard let s = AlertRule.Severity(rawValue: text) else { throw reader.error(ev, "severity must be info, warning, major or critical") }
                    severity = s
                case "channels": channels = try channelList(ev, "escalate.channels")
                default: throw reader.error(kn, "unknown key 'escalate.\(k)'; known: after, severity, channels")
                }
            }
            guard let after, after > 0 else { throw reader.error(v, "escalate needs a positive 'after' duration") }
            rule.escalation = AlertRule.Escalation(afterMs: after, severity: severity, channels: channels)
        }
        return rule
    }

    func channelList(_ node: Node, _ what: String) throws(ProfileError) -> [String] {
        let list = try strings(node, what)
        if let knownChannels {
            for c in list where !knownChannels.contains(c) {
                throw reader.error(node, "unknown channel '\(c)'; configured: \(knownChannels.sorted().joined(separator: ", "))")
            }
        }
        return list
    }
}
