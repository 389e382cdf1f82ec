import Foundation
import GatewayCore
import Yams

/// Compiles profile YAML into `Profile` values. Every error names file, line and column.
public enum ProfileLoader {
    /// Loads every profile in a file (a file may hold several documents separated by `---`).
    public static func load(file path: String) throws(ProfileError) -> [Profile] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ProfileError(file: path, line: 0, column: 0, message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ProfileError(file: path, line: 0, column: 0, message: "the file is not UTF-8")
        }
        return try load(yaml: text, file: path)
    }

    /// Loads profiles from YAML text.
    public static func load(yaml text: String, file: String = "<string>") throws(ProfileError) -> [Profile] {
        let reader = YAMLReader(file: file)
        var out: [Profile] = []
        for root in try reader.parseAll(text) {
            var compiler = Compiler(reader: reader)
            out.append(try compiler.profile(root))
        }
        return out
    }

    /// Every `*.yaml` / `*.yml` file below a directory, sorted.
    public static func profileFiles(in directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var files: [String] = []
        for case let rel as String in walker where rel.hasSuffix(".yaml") || rel.hasSuffix(".yml") {
            files.append((directory as NSString).appendingPathComponent(rel))
        }
        return files.sorted()
    }
}

/// The per-file compiler: tracks field slots in document order.
struct Compiler {
    let reader: YAMLReader
    var slots: [String: Int] = [:]
    var slotNames: [String] = []
    var littleEndian = false
    var enums: [String: (numeric: [Int: String]?, text: [String: Int]?)] = BuiltInEnums.all
    var input: InputStage = .raw

    init(reader: YAMLReader) { self.reader = reader }

    func fail(_ node: Node?, _ message: String) -> ProfileError { reader.error(node, message) }

    mutating func slot(for name: String) -> Int {
        if let s = slots[name] { return s }
        slots[name] = slotNames.count
        slotNames.append(name)
        return slotNames.count - 1
    }

    func expression(_ node: Node, allowCurrent: Bool, _ what: String) throws(ProfileError) -> Expression {
        let text = try reader.string(node, what)
        let known = slots
        switch ExpressionParser.parse(text, allowCurrent: allowCurrent, resolve: { known[$0] }) {
        case .success(let e): return e
        case .failure(let reason): throw fail(node, "\(what): \(reason.message)")
        }
    }

    func path(_ node: Node, _ what: String) throws(ProfileError) -> JSONPath {
        let text = try reader.string(node, what)
        switch JSONPath.compile(text) {
        case .success(let p): return p
        case .failure(let reason): throw fail(node, "\(what): \(reason.message)")
        }
    }

    static let topKeys: Set<String> = [
        "id", "version", "vendor", "model", "family", "description", "report_interval", "match", "device_id", "input",
        "endian", "max_payload", "enums", "decode", "tests", "notes",
    ]

    mutating func profile(_ root: Node) throws(ProfileError) -> Profile {
        let pairs = try reader.mapping(root, "a profile")
        var values: [String: Node] = [:]
        for (key, keyNode, value) in pairs {
            guard Compiler.topKeys.contains(key) else {
                throw fail(keyNode, "unknown key '\(key)'; a profile has: \(Compiler.topKeys.sorted().joined(separator: ", "))")
            }
            values[key] = value
        }
        guard let idNode = values["id"] else { throw fail(root, "missing 'id'") }
        let id = try reader.string(idNode, "id")
        guard id.range(of: "^[a-z0-9][a-z0-9._-]*$", options: .regularExpression) != nil else {
            throw fail(idNode, "id '\(id)' must be lower-case letters, digits, '-', '_' or '.'")
        }
        guard let versionNode = values["version"] else { throw fail(root, "missing 'version' (an integer that grows with every change)") }
        let version = try reader.int(versionNode, "version")
        guard version >= 1 else { throw fail(versionNode, "version must be 1 or more") }
        let vendor = try values["vendor"].map { (n) throws(ProfileError) in try reader.string(n, "vendor") } ?? ""
        let model = try values["model"].map { (n) throws(ProfileError) in try reader.string(n, "model") } ?? ""
        let description = try values["description"].map { (n) throws(ProfileError) in try reader.string(n, "description") } ?? ""
        var family = "neuron"
        if let n = values["family"] {
            family = try reader.string(n, "family")
            guard ["neuron", "charger", "farm"].contains(family) else { throw fail(n, "family must be neuron, charger or farm, found '\(family)'") }
        }
        var interval: Int?
        if let n = values["report_interval"] {
            let text = try reader.string(n, "report_interval")
            guard let s = YAMLReader.parseDurationSeconds(text), s > 0 else { throw fail(n, "report_interval must be a duration such as 90s, 20m, 1h, found '\(text)'") }
            interval = s
        }
        var templates: [Transport: [TopicTemplate]] = [:]
        var acceptsUDP = false
        if let n = values["match"] {
            for (key, keyNode, value) in try reader.mapping(n, "match") {
                if key == "udp" {
                    acceptsUDP = try reader.bool(value, "match.udp (true: bare UDP datagrams decode with this profile)")
                    continue
                }
                guard let transport = Compiler.templateKeys[key] else {
                    throw fail(keyNode, "unknown match key '\(key)'; supported: mqtt, coap, udp, ctwing, onenet")
                }
                let list: [Node] = value.scalarText != nil ? [value] : try reader.sequence(value, "match.\(key)")
                for t in list {
                    switch TopicTemplate.parse(try reader.string(t, "\(key) template")) {
                    case .success(let template): templates[transport, default: []].append(template)
                    case .failure(let reason): throw fail(t, reason.message)
                    }
                }
            }
        }
        let allTemplates = Profile.templateTransports.flatMap { templates[$0] ?? [] }
        if let n = values["input"] {
            let text = try reader.string(n, "input")
            guard let stage = InputStage(rawValue: text) else { throw fail(n, "input must be raw, ascii-hex, base64, json or text, found '\(text)'") }
            input = stage
        }
        if let n = values["endian"] {
            switch try reader.string(n, "endian") {
            case "big": littleEndian = false
            case "little": littleEndian = true
            case let other: throw fail(n, "endian must be big or little, found '\(other)'")
            }
        }
        var maxPayload = 4096
        if let n = values["max_payload"] {
            maxPayload = try reader.int(n, "max_payload")
            guard (1...1_048_576).contains(maxPayload) else { throw fail(n, "max_payload must be 1 to 1048576 bytes") }
        }
        if let n = values["enums"] {
            for (name, _, value) in try reader.mapping(n, "enums") {
                enums[name] = try enumMap(value, "enums.\(name)")
            }
        }
        var deviceTemplate: String?
        if let n = values["device_id"] {
            let t = try reader.string(n, "device_id")
            let captures = Set(allTemplates.flatMap(\.captureNames))
            for part in Compiler.templateParts(t) where !part.hasPrefix("attr.") && !captures.contains(part) {
                throw fail(n, "device_id refers to '{\(part)}', which no match template captures")
            }
            deviceTemplate = t
        }
        guard let decodeNode = values["decode"] else { throw fail(root, "missing 'decode' (the list of fields and steps)") }
        let steps = try self.steps(decodeNode, binary: input != .json, "decode")
        let payloadIdentity = Compiler.hasDeviceID(steps)
        if !payloadIdentity && deviceTemplate == nil && !allTemplates.contains(where: { $0.captureNames.contains("deviceId") }) {
            throw fail(root, "no device identity: add a field with 'role: device-id', a 'device_id:' template, or a {deviceId} part in a match template")
        }
        if acceptsUDP, !payloadIdentity, !(deviceTemplate.map { t in Compiler.templateParts(t).allSatisfy { $0.hasPrefix("attr.") } } ?? false) {
            throw fail(values["match"], "match.udp: a bare datagram has no topic, so the device id must come from the payload (a field with 'role: device-id') or a 'device_id:' template of attr.* parts")
        }
        let tests = try values["tests"].map { (n) throws(ProfileError) in try self.tests(n) } ?? []
        return Profile(
            id: id, version: version, vendor: vendor, model: model, family: family, description: description,
            reportIntervalSeconds: interval, templates: templates, acceptsUDP: acceptsUDP, deviceIDTemplate: deviceTemplate, input: input,
            maxPayloadBytes: maxPayload, tests: tests, file: reader.file, line: idNode.mark?.line ?? 0, steps: steps,
            slotCount: slotNames.count, slotNames: slotNames, littleEndianDefault: littleEndian)
    }

    /// `match:` keys that take topic templates, and the transport whose `RawMessage.topic` each is matched against.
    static let templateKeys: [String: Transport] = ["mqtt": .mqtt, "coap": .coap, "ctwing": .ctwing, "onenet": .onenet]

    static func templateParts(_ template: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            parts.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return parts
    }

    static func hasDeviceID(_ steps: [Step]) -> Bool {
        steps.contains { step in
            switch step {
            case .field(let f): return f.role == .deviceID
            case .tlv(let t): return t.entries.values.contains { hasDeviceID($0.steps) }
            case .repeatRecords(let r): return hasDeviceID(r.block.steps)
            case .switchOn(let s): return s.numericCases.values.contains(where: hasDeviceID) || s.textCases.values.contains(where: hasDeviceID) || hasDeviceID(s.defaultCase ?? [])
            case .inner(let i): return hasDeviceID(i.steps)
            case .each(let e): return hasDeviceID(e.steps)
            default: return false
            }
        }
    }

    func enumMap(_ node: Node, _ what: String) throws(ProfileError) -> (numeric: [Int: String]?, text: [String: Int]?) {
        if let name = node.scalarText {
            guard let shared = enums[name] else { throw fail(node, "\(what): no enum named '\(name)'; known: \(enums.keys.sorted().joined(separator: ", "))") }
            return shared
        }
        let pairs = try reader.mapping(node, what)
        if pairs.allSatisfy({ YAMLReader.parseInt($0.key) != nil }) {
            var m: [Int: String] = [:]
            for (k, _, v) in pairs { m[YAMLReader.parseInt(k)!] = try reader.string(v, what) }
            return (m, nil)
        }
        var m: [String: Int] = [:]
        for (k, _, v) in pairs { m[k] = try reader.int(v, "\(what).\(k) (text enums map a text to a numeric code)") }
        return (nil, m)
    }

    // MARK: steps

    mutating func steps(_ node: Node, binary: Bool, _ what: String) throws(ProfileError) -> [Step] {
        var out: [Step] = []
        for item in try reader.sequence(node, what) {
            out.append(try step(item, binary: binary))
        }
        return out
    }

    /// A block: a list of steps, a single field mapping, or `{size, decode}`.
    mutating func block(_ node: Node, binary: Bool, _ what: String) throws(ProfileError) -> Block {
        if case .sequence = node { return Block(size: nil, steps: try steps(node, binary: binary, what)) }
        let pairs = try reader.mapping(node, what)
        if pairs.contains(where: { $0.key == "decode" }) {
            var size: Int?
            var steps: [Step] = []
            for (k, kn, v) in pairs {
                switch k {
                case "size": size = try reader.int(v, "\(what).size")
                case "decode": steps = try self.steps(v, binary: binary, "\(what).decode")
                default: throw fail(kn, "\(what): unknown key '\(k)' (a block has size and decode)")
                }
            }
            return Block(size: size, steps: steps)
        }
        return Block(size: nil, steps: [try step(node, binary: binary)])
    }

    static let stepKinds = ["skip", "seek", "tlv", "repeat", "switch", "checksum", "assert", "expect", "inner", "each", "select", "reject"]

    mutating func step(_ node: Node, binary: Bool) throws(ProfileError) -> Step {
        let pairs = try reader.mapping(node, "a step")
        if pairs.contains(where: { $0.key == "name" }) { return .field(try field(node, pairs, binary: binary)) }
        guard pairs.count == 1, let (kind, kindNode, body) = pairs.first, Compiler.stepKinds.contains(kind) else {
            throw fail(node, "a step is a field (with 'name') or one of: \(Compiler.stepKinds.joined(separator: ", "))")
        }
        switch kind {
        case "skip":
            guard binary else { throw fail(kindNode, "skip works on binary frames only") }
            return .skip(try reader.int(body, "skip"))
        case "seek":
            guard binary else { throw fail(kindNode, "seek works on binary frames only") }
            return .seek(try reader.int(body, "seek"))
        case "reject": return .reject(try reader.string(body, "reject"))
        case "tlv":
            guard binary else { throw fail(kindNode, "tlv works on binary frames only") }
            return .tlv(try tlv(body))
        case "repeat":
            guard binary else { throw fail(kindNode, "repeat works on binary frames only; use each for JSON arrays") }
            var count: Expression?
            var until: Int?
            var blockNode: Node?
            var size: Int?
            for (k, kn, v) in try reader.mapping(body, "repeat") {
                switch k {
                case "count": count = try expression(v, allowCurrent: false, "repeat.count")
                case "until": until = try reader.int(v, "repeat.until")
                case "size": size = try reader.int(v, "repeat.size")
                case "decode": blockNode = v
                default: throw fail(kn, "repeat: unknown key '\(k)' (count, until, size, decode)")
                }
            }
            guard let b = blockNode else { throw fail(body, "repeat needs 'decode'") }
            if let s = size, s < 1 { throw fail(body, "repeat.size must be at least 1") }
            return .repeatRecords(RepeatStep(block: Block(size: size, steps: try steps(b, binary: true, "repeat.decode")), count: count, until: until))
        case "switch":
            var on: Expression?
            var onText = ""
            var casesNode: Node?
            for (k, kn, v) in try reader.mapping(body, "switch") {
                switch k {
                case "on":
                    onText = try reader.string(v, "switch.on")
                    on = try expression(v, allowCurrent: false, "switch.on")
                case "cases": casesNode = v
                default: throw fail(kn, "switch: unknown key '\(k)' (on, cases)")
                }
            }
            guard let onExpr = on, let cn = casesNode else { throw fail(body, "switch needs 'on' and 'cases'") }
            var numeric: [Double: [Step]] = [:]
            var text: [String: [Step]] = [:]
            var def: [Step]?
            for (k, _, v) in try reader.mapping(cn, "switch.cases") {
                let b = try block(v, binary: binary, "switch.cases.\(k)")
                if k == "default" {
                    def = b.steps
                } else if let i = YAMLReader.parseInt(k) {
                    numeric[Double(i)] = b.steps
                } else {
                    text[k] = b.steps
                }
            }
            return .switchOn(SwitchStep(on: onExpr, numericCases: numeric, textCases: text, defaultCase: def, source: onText))
        case "checksum":
            guard binary else { throw fail(kindNode, "checksum works on binary frames only") }
            return .checksum(try checksum(body))
        case "assert":
            var that: Expression?
            var message = ""
            var warn = false
            for (k, kn, v) in try reader.mapping(body, "assert") {
                switch k {
                case "that": that = try expression(v, allowCurrent: false, "assert.that")
                case "message": message = try reader.string(v, "assert.message")
                case "on_fail": warn = try failPolicy(v)
                default: throw fail(kn, "assert: unknown key '\(k)' (that, message, on_fail)")
                }
            }
            guard let e = that else { throw fail(body, "assert needs 'that'") }
            return .assertion(e, message: message.isEmpty ? "assertion failed" : message, warnOnly: warn)
        case "expect":
            guard binary else { throw fail(kindNode, "expect works on binary frames only") }
            var at = 0
            var bytes: [UInt8]?
            for (k, kn, v) in try reader.mapping(body, "expect") {
                switch k {
                case "at": at = try reader.int(v, "expect.at")
                case "hex":
                    guard let b = HexCodec.decode(try reader.string(v, "expect.hex")), !b.isEmpty else { throw fail(v, "expect.hex must be hex digits") }
                    bytes = b
                default: throw fail(kn, "expect: unknown key '\(k)' (at, hex)")
                }
            }
            guard let b = bytes else { throw fail(body, "expect needs 'hex'") }
            return .expectBytes(at: at, bytes: b)
        case "inner":
            var from: InnerStep.From?
            var stage: InputStage?
            var stepsNode: Node?
            var optional = false
            for (k, kn, v) in try reader.mapping(body, "inner") {
                switch k {
                case "path":
                    guard !binary else { throw fail(kn, "inner.path reads JSON; in a binary frame use inner.field") }
                    from = .json(try path(v, "inner.path"))
                case "field":
                    let name = try reader.string(v, "inner.field")
                    guard let s = slots[name] else { throw fail(v, "inner.field: no field named '\(name)' before this step") }
                    from = .slot(s, name)
                case "input":
                    let t = try reader.string(v, "inner.input")
                    guard let st = InputStage(rawValue: t) else { throw fail(v, "inner.input must be raw, ascii-hex, base64, json or text") }
                    stage = st
                case "decode": stepsNode = v
                case "optional": optional = try reader.bool(v, "inner.optional")
                default: throw fail(kn, "inner: unknown key '\(k)' (path or field, input, decode, optional)")
                }
            }
            guard let f = from, let st = stage, let sn = stepsNode else { throw fail(body, "inner needs path (or field), input and decode") }
            return .inner(InnerStep(from: f, input: st, steps: try steps(sn, binary: st != .json, "inner.decode"), optional: optional))
        case "each", "select":
            guard !binary else { throw fail(kindNode, "\(kind) iterates JSON arrays; use repeat in binary frames") }
            var p: JSONPath?
            var filter: [(key: String, accepted: [String])] = []
            var defaults: [String: String] = [:]
            var firstOnly = kind == "select"
            var stepsNode: Node?
            if let t = body.scalarText {
                _ = t
                throw fail(body, "\(kind) takes a mapping with path and decode")
            }
            for (k, kn, v) in try reader.mapping(body, kind) {
                switch k {
                case "path": p = try path(v, "\(kind).path")
                case "where":
                    guard kind == "select" else { throw fail(kn, "'where' belongs to select") }
                    for (wk, _, wv) in try reader.mapping(v, "select.where") {
                        if case .sequence = wv {
                            filter.append((wk, try reader.sequence(wv, "select.where.\(wk)").map { (n) throws(ProfileError) in try reader.string(n, "select.where") }))
                        } else {
                            filter.append((wk, [try reader.string(wv, "select.where.\(wk)")]))
                        }
                    }
                case "defaults":
                    for (dk, _, dv) in try reader.mapping(v, "\(kind).defaults") { defaults[dk] = try reader.string(dv, "defaults.\(dk)") }
                case "all":
                    guard kind == "select" else { throw fail(kn, "'all' belongs to select") }
                    firstOnly = !(try reader.bool(v, "select.all"))
                case "decode": stepsNode = v
                default: throw fail(kn, "\(kind): unknown key '\(k)' (path, \(kind == "select" ? "where, all, " : "")defaults, decode)")
                }
            }
            guard let path = p, let sn = stepsNode else { throw fail(body, "\(kind) needs path and decode") }
            if kind == "each" { firstOnly = false }
            return .each(EachStep(path: path, filter: filter, defaults: defaults, firstOnly: firstOnly, steps: try steps(sn, binary: false, "\(kind).decode")))
        default:
            throw fail(kindNode, "unknown step '\(kind)'")
        }
    }

    func failPolicy(_ node: Node) throws(ProfileError) -> Bool {
        switch try reader.string(node, "on_fail") {
        case "reject": return false
        case "warn": return true
        case let other: throw fail(node, "on_fail must be reject or warn, found '\(other)'")
        }
    }

    mutating func tlv(_ body: Node) throws(ProfileError) -> TLVStep {
        var keySize = 2
        var unknown = TLVStep.Unknown.deadLetter
        var until: Int?
        var entriesNode: Node?
        for (k, kn, v) in try reader.mapping(body, "tlv") {
            switch k {
            case "key":
                keySize = try reader.int(v, "tlv.key")
                guard (1...4).contains(keySize) else { throw fail(v, "tlv.key is the key size in bytes, 1 to 4") }
            case "unknown":
                let t = try reader.string(v, "tlv.unknown")
                guard let u = TLVStep.Unknown(rawValue: t) else { throw fail(v, "tlv.unknown must be dead-letter or skip-rest") }
                unknown = u
            case "until": until = try reader.int(v, "tlv.until")
            case "entries": entriesNode = v
            default: throw fail(kn, "tlv: unknown key '\(k)' (key, entries, unknown, until)")
            }
        }
        guard let en = entriesNode else { throw fail(body, "tlv needs 'entries'") }
        var entries: [UInt64: Block] = [:]
        for (k, kn, v) in try reader.mapping(en, "tlv.entries") {
            guard let bytes = HexCodec.decode(k), bytes.count == keySize else {
                throw fail(kn, "tlv key '\(k)' must be \(keySize) byte(s) of hex, e.g. \"01 75\"")
            }
            let key = bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            entries[key] = try block(v, binary: true, "tlv entry \(k)")
        }
        return TLVStep(keySize: keySize, entries: entries, unknown: unknown, until: until)
    }

    func checksum(_ body: Node) throws(ProfileError) -> ChecksumStep {
        var algorithm: Checksum?
        var from = 0
        var to: Int?
        var at: Int?
        var little = false
        var expected: UInt32?
        var warn = false
        var name: String?
        for (k, kn, v) in try reader.mapping(body, "checksum") {
            switch k {
            case "algorithm":
                let t = try reader.string(v, "checksum.algorithm")
                guard let a = Checksum(rawValue: t) else { throw fail(v, "checksum.algorithm must be one of \(Checksum.allCases.map(\.rawValue).joined(separator: ", "))") }
                algorithm = a
            case "from": from = try reader.int(v, "checksum.from")
            case "to": to = v.scalarText == "end" ? nil : try reader.int(v, "checksum.to")
            case "at": at = try reader.int(v, "checksum.at")
            case "endian":
                let t = try reader.string(v, "checksum.endian")
                guard t == "big" || t == "little" else { throw fail(v, "checksum.endian must be big or little") }
                little = t == "little"
            case "expect": expected = UInt32(try reader.int(v, "checksum.expect"))
            case "on_fail": warn = try failPolicy(v)
            case "name": name = try reader.string(v, "checksum.name")
            default: throw fail(kn, "checksum: unknown key '\(k)' (algorithm, from, to, at, endian, expect, on_fail, name)")
            }
        }
        guard let a = algorithm else { throw fail(body, "checksum needs 'algorithm'") }
        guard (at == nil) != (expected == nil) else { throw fail(body, "checksum needs either 'at' (where the stored value is) or 'expect' (a constant)") }
        return ChecksumStep(algorithm: a, from: from, to: to, storedAt: at, storedLittleEndian: little, expected: expected, warnOnly: warn, emitName: name)
    }

    static let fieldKeys: Set<String> = [
        "name", "type", "at", "length", "path", "expr", "bits", "scale", "offset", "sentinel", "enum", "flags", "unit", "unit_path",
        "round", "role", "emit", "format", "tz", "when", "required", "range",
    ]

    static func parseType(_ text: String, length: Int?, littleDefault: Bool) -> BinaryType? {
        var t = text
        var little = littleDefault
        if t.hasSuffix("le") {
            little = true
            t.removeLast(2)
        } else if t.hasSuffix("be") {
            little = false
            t.removeLast(2)
        }
        switch t {
        case "u8": return .integer(bytes: 1, signed: false, littleEndian: little)
        case "i8", "s8": return .integer(bytes: 1, signed: true, littleEndian: little)
        case "u16": return .integer(bytes: 2, signed: false, littleEndian: little)
        case "i16", "s16": return .integer(bytes: 2, signed: true, littleEndian: little)
        case "u24": return .integer(bytes: 3, signed: false, littleEndian: little)
        case "i24", "s24": return .integer(bytes: 3, signed: true, littleEndian: little)
        case "u32": return .integer(bytes: 4, signed: false, littleEndian: little)
        case "i32", "s32": return .integer(bytes: 4, signed: true, littleEndian: little)
        case "u64": return .integer(bytes: 8, signed: false, littleEndian: little)
        case "i64", "s64": return .integer(bytes: 8, signed: true, littleEndian: little)
        case "f32", "float": return .float32(littleEndian: little)
        case "f64", "double": return .float64(littleEndian: little)
        case "bcd": return length.map { .bcd($0) }
        case "ascii", "string": return length.map { .ascii($0) }
        case "hex": return length.map { .hex($0) }
        default: return nil
        }
    }

    mutating func field(_ node: Node, _ pairs: [(key: String, keyNode: Node, value: Node)], binary: Bool) throws(ProfileError) -> FieldStep {
        var v: [String: (Node, Node)] = [:]
        for (k, kn, val) in pairs {
            guard Compiler.fieldKeys.contains(k) else {
                throw fail(kn, "unknown field key '\(k)'; a field has: \(Compiler.fieldKeys.sorted().joined(separator: ", "))")
            }
            v[k] = (kn, val)
        }
        let nameNode = v["name"]!.1
        let name = try reader.string(nameNode, "name")
        guard name.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression) != nil else {
            throw fail(nameNode, "field name '\(name)' must be snake_case (a-z, 0-9, _), starting with a letter")
        }
        var role = FieldRole.none
        if let (_, n) = v["role"] {
            let t = try reader.string(n, "role")
            guard let r = FieldRole(rawValue: t), r != .none else {
                throw fail(n, "role must be one of device-id, time, battery, signal.csq, signal.rsrp, signal.sinr, signal.ecl, attribute, event; found '\(t)'")
            }
            role = r
        }
        var condition: Expression?
        if let (_, n) = v["when"] { condition = try expression(n, allowCurrent: false, "when") }

        var length: Int?
        if let (_, n) = v["length"] {
            length = try reader.int(n, "length")
            guard (1...256).contains(length!) else { throw fail(n, "length must be 1 to 256 bytes") }
        }
        let source: FieldSource
        if v["type"] != nil, v["path"] != nil, binary {
            throw fail(node, "field '\(name)': give one source: type (binary) or path (JSON); expr then transforms it")
        }
        var wantsText = false
        if let (_, pathNode) = v["path"] {
            guard !binary else { throw fail(pathNode, "field '\(name)': path reads JSON, but this frame is binary (input: \(input.rawValue))") }
            if let (_, tn) = v["type"] {
                switch try reader.string(tn, "type") {
                case "number": wantsText = false
                case "string": wantsText = true
                case let other: throw fail(tn, "a JSON field's type is number or string, found '\(other)'")
                }
            }
            wantsText = wantsText || role == .deviceID || role == .attribute || (role == .time && v["format"].map { $0.1.scalarText != "unix-s" && $0.1.scalarText != "unix-ms" } ?? false)
            source = .json(try path(pathNode, "path"), wantsText: wantsText)
        } else if let (_, tn) = v["type"] {
            guard binary else { throw fail(tn, "field '\(name)': a JSON frame reads fields with path, not type") }
            let t = try reader.string(tn, "type")
            guard let bt = Compiler.parseType(t, length: length, littleDefault: littleEndian) else {
                if ["bcd", "ascii", "string", "hex"].contains(t) { throw fail(tn, "type \(t) needs 'length' (bytes)") }
                throw fail(tn, "unknown type '\(t)'; binary types: u8 i8 u16 i16 u24 i24 u32 i32 u64 i64 (le/be suffix), f32 f64, bcd ascii hex (with length)")
            }
            var at: Int?
            if let (_, an) = v["at"] { at = try reader.int(an, "at") }
            source = .binary(bt, at: at)
        } else if v["expr"] != nil {
            source = .computed(.literal(.null))
        } else {
            throw fail(node, "field '\(name)' has no source: give type (binary), path (JSON) or expr (computed)")
        }

        var bits: ClosedRange<Int>?
        if let (_, n) = v["bits"] {
            let t = try reader.string(n, "bits")
            let parts = t.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            if parts.count == 1, let b = parts[0] {
                bits = b...b
            } else if parts.count == 2, let lo = parts[0], let hi = parts[1], lo <= hi {
                bits = lo...hi
            } else {
                throw fail(n, "bits is a bit number (7) or a range low-high (0-13), found '\(t)'")
            }
            guard bits!.lowerBound >= 0, bits!.upperBound < 64 else { throw fail(n, "bits must lie within 0-63") }
        }
        var sentinels: [Double: SentinelAction] = [:]
        if let (_, n) = v["sentinel"] {
            for (k, kn, val) in try reader.mapping(n, "sentinel") {
                guard let raw = YAMLReader.parseInt(k).map(Double.init) ?? Double(k) else { throw fail(kn, "sentinel keys are raw values such as 0xFFFF") }
                switch val.scalarText {
                case "null", "~", "omit", "": sentinels[raw] = .omit
                case "bad", "error", "invalid": sentinels[raw] = .bad
                default: throw fail(val, "a sentinel maps to null (no reading) or bad (reading flagged invalid)")
                }
            }
        }
        var numericEnum: [Int: String]?
        var textEnum: [String: Int]?
        if let (_, n) = v["enum"] { (numericEnum, textEnum) = try enumMap(n, "enum") }
        var flags: [(bit: Int, name: String)] = []
        if let (_, n) = v["flags"] {
            for (k, kn, val) in try reader.mapping(n, "flags") {
                guard let bit = YAMLReader.parseInt(k), (0..<64).contains(bit) else { throw fail(kn, "flag keys are bit numbers 0-63") }
                let flagName = try reader.string(val, "flags.\(k)")
                guard flagName.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression) != nil else { throw fail(val, "flag name '\(flagName)' must be snake_case") }
                flags.append((bit, flagName))
            }
        }
        var scale: Double?
        if let (_, n) = v["scale"] { scale = try reader.double(n, "scale") }
        var offset: Double?
        if let (_, n) = v["offset"] { offset = try reader.double(n, "offset") }
        var unit: Units.Conversion?
        if let (_, n) = v["unit"] {
            let t = try reader.string(n, "unit")
            guard let c = Units.conversion(for: t) else { throw fail(n, "unknown unit '\(t)'; known units: \(Units.knownUnits.joined(separator: " "))") }
            unit = c
        }
        var unitPath: JSONPath?
        if let (_, n) = v["unit_path"] {
            guard !binary else { throw fail(n, "unit_path reads JSON; this frame is binary") }
            unitPath = try path(n, "unit_path")
        }
        var round: Int?
        if let (_, n) = v["round"] {
            round = try reader.int(n, "round")
            guard (0...12).contains(round!) else { throw fail(n, "round is a number of decimals, 0 to 12") }
        }
        var timeFormat: TimeFormat?
        if let (_, n) = v["format"] {
            let t = try reader.string(n, "format")
            guard let f = TimeFormat.named(t) else { throw fail(n, "unknown time format '\(t)'; use unix-s, unix-ms, iso8601, cp56time2a or a pattern like yyyyMMddHHmmss") }
            timeFormat = f
        }
        if role == .time, timeFormat == nil { throw fail(nameNode, "field '\(name)' has role time but no 'format'") }
        if role != .time, let (_, n) = v["format"], v["type"]?.1.scalarText != nil || true {
            if role != .time { throw fail(n, "'format' applies to fields with role: time") }
        }
        var zone = 0
        if let (_, n) = v["tz"] {
            let t = try reader.string(n, "tz")
            guard let z = TimeFormat.parseZone(t) else { throw fail(n, "tz must look like +08:00, -05:30 or UTC") }
            zone = z
        }
        var emit = role != .deviceID && role != .time && role != .attribute && flags.isEmpty
        if let (_, n) = v["emit"] { emit = try reader.bool(n, "emit") }
        var required = binary
        if let (_, n) = v["required"] { required = try reader.bool(n, "required") }
        var range: ClosedRange<Double>?
        if let (_, n) = v["range"] {
            let list = try reader.sequence(n, "range")
            guard list.count == 2 else { throw fail(n, "range is [min, max]") }
            let lo = try reader.double(list[0], "range")
            let hi = try reader.double(list[1], "range")
            guard lo <= hi else { throw fail(n, "range: min must not exceed max") }
            range = lo...hi
        }

        // The expression sees earlier fields and x; the field's own slot is assigned after, so `x` is the only self-reference.
        var expr: Expression?
        if let (_, n) = v["expr"] {
            let isComputed = { if case .computed = source { return true } else { return false } }()
            expr = try expression(n, allowCurrent: !isComputed, "expr")
        }
        let slot = slot(for: name)
        var finalSource = source
        if case .computed = source, let e = expr {
            finalSource = .computed(e)
            expr = nil
        }
        return FieldStep(
            name: name, slot: slot, source: finalSource, required: required, bits: bits, sentinels: sentinels, numericEnum: numericEnum,
            textEnum: textEnum, flags: flags, scale: scale, offset: offset, expression: expr, unit: unit, unitPath: unitPath, round: round,
            role: role, emit: emit, timeFormat: timeFormat, zoneOffsetSeconds: zone, condition: condition, validRange: range)
    }

    // MARK: tests

    mutating func tests(_ node: Node) throws(ProfileError) -> [ProfileTest] {
        var out: [ProfileTest] = []
        for (i, item) in try reader.sequence(node, "tests").enumerated() {
            var name = "test \(i + 1)"
            var topic: String?
            var payload: [UInt8]?
            var attributes: [String: String] = [:]
            var device: String?
            var samples: [ProfileTest.ExpectedSample] = []
            var absent: [String] = []
            var status: [String: ProfileTest.ExpectedValue] = [:]
            var expectedError: (kind: String?, contains: String?)?
            var tolerance = 1e-9
            var source: String?
            var received: Int64?
            for (k, kn, v) in try reader.mapping(item, "a test") {
                switch k {
                case "received":
                    let t = try reader.string(v, "received")
                    guard let ms = TimeFormat.parseISO8601(t, defaultOffset: 0) else { throw fail(v, "received must be ISO-8601, e.g. 2026-07-23T09:00:00Z") }
                    received = ms
                case "name": name = try reader.string(v, "name")
                case "topic": topic = try reader.string(v, "topic")
                case "source": source = try reader.string(v, "source")
                case "tolerance": tolerance = try reader.double(v, "tolerance")
                case "attributes":
                    for (ak, _, av) in try reader.mapping(v, "attributes") { attributes[ak] = try reader.string(av, "attributes.\(ak)") }
                case "payload": payload = try testPayload(v)
                case "expect":
                    for (ek, ekn, ev) in try reader.mapping(v, "expect") {
                        switch ek {
                        case "device": device = try reader.string(ev, "expect.device")
                        case "absent": absent = try reader.sequence(ev, "expect.absent").map { (n) throws(ProfileError) in try reader.string(n, "absent") }
                        case "status":
                            for (sk, _, sv) in try reader.mapping(ev, "expect.status") { status[sk] = expectedValue(sv) }
                        case "samples":
                            samples = try expectedSamples(ev)
                        case "error":
                            var kind: String?
                            var contains: String?
                            if let t = ev.scalarText {
                                contains = t
                            } else {
                                for (xk, xkn, xv) in try reader.mapping(ev, "expect.error") {
                                    switch xk {
                                    case "kind": kind = try reader.string(xv, "kind")
                                    case "contains": contains = try reader.string(xv, "contains")
                                    default: throw fail(xkn, "expect.error has kind and contains")
                                    }
                                }
                            }
                            expectedError = (kind, contains)
                        default: throw fail(ekn, "expect: unknown key '\(ek)' (device, samples, status, absent, error)")
                        }
                    }
                default: throw fail(kn, "a test has name, topic, payload, attributes, received, expect, tolerance, source; found '\(k)'")
                }
            }
            guard let p = payload else { throw fail(item, "test '\(name)' has no payload") }
            if samples.isEmpty, expectedError == nil, status.isEmpty, device == nil, absent.isEmpty {
                throw fail(item, "test '\(name)' expects nothing: give expect.samples, expect.status, expect.device, expect.absent or expect.error")
            }
            out.append(ProfileTest(
                name: name, topic: topic, payload: p, attributes: attributes, receiveTimeMs: received, expectedDevice: device, expectedSamples: samples,
                absentMetrics: absent, expectedStatus: status, expectedError: expectedError, tolerance: tolerance, source: source,
                line: item.mark?.line ?? 0))
        }
        return out
    }

    func expectedValue(_ node: Node) -> ProfileTest.ExpectedValue {
        let t = node.scalarText ?? ""
        if case .scalar(let s) = node, s.style == .plain, let d = YAMLReader.parseInt(t).map(Double.init) ?? Double(t) { return .number(d) }
        return .text(t)
    }

    func expectedSamples(_ node: Node) throws(ProfileError) -> [ProfileTest.ExpectedSample] {
        var out: [ProfileTest.ExpectedSample] = []
        var counts: [String: Int] = [:]
        func one(_ metric: String, _ v: Node) throws(ProfileError) -> ProfileTest.ExpectedSample {
            let index = counts[metric, default: 0]
            counts[metric] = index + 1
            if case .mapping = v {
                var value: ProfileTest.ExpectedValue?
                var unit: String?
                var time: Int64?
                var quality: String?
                for (k, kn, x) in try reader.mapping(v, "expected sample \(metric)") {
                    switch k {
                    case "value": value = expectedValue(x)
                    case "unit": unit = try reader.string(x, "unit")
                    case "quality": quality = try reader.string(x, "quality")
                    case "time":
                        let t = try reader.string(x, "time")
                        guard let ms = TimeFormat.parseISO8601(t, defaultOffset: 0) else { throw fail(x, "time must be ISO-8601, e.g. 2024-01-02T03:04:05Z") }
                        time = ms
                    case "metric": break
                    default: throw fail(kn, "an expected sample has value, unit, time, quality")
                    }
                }
                guard let val = value else { throw fail(v, "expected sample '\(metric)' needs a value") }
                return .init(metric: metric, index: index, value: val, unit: unit, timeMs: time, quality: quality)
            }
            return .init(metric: metric, index: index, value: expectedValue(v), unit: nil, timeMs: nil, quality: nil)
        }
        if case .sequence = node {
            for item in try reader.sequence(node, "expect.samples") {
                let pairs = try reader.mapping(item, "an expected sample")
                guard let m = pairs.first(where: { $0.key == "metric" }) else { throw fail(item, "each listed sample needs 'metric'") }
                out.append(try one(try reader.string(m.value, "metric"), item))
            }
        } else {
            for (k, _, v) in try reader.mapping(node, "expect.samples") { out.append(try one(k, v)) }
        }
        return out
    }

    /// Test payloads: hex for raw input; the text itself for ascii-hex/base64/text; YAML or a JSON string for json.
    func testPayload(_ node: Node) throws(ProfileError) -> [UInt8] {
        switch input {
        case .raw:
            guard let b = HexCodec.decode(try reader.string(node, "payload")) else { throw fail(node, "payload must be hex digits for input: raw") }
            return b
        case .asciiHex, .base64, .text:
            return Array(try reader.string(node, "payload").utf8)
        case .json:
            if case .scalar(let s) = node, s.style != .plain || s.string.hasPrefix("{") || s.string.hasPrefix("[") { return Array(s.string.utf8) }
            return Array(Compiler.json(from: node).jsonText.utf8)
        }
    }

    /// Converts a YAML node into JSON, keeping scalars that look like numbers as numbers unless quoted.
    static func json(from node: Node) -> JSONValue {
        switch node {
        case .scalar(let s):
            if s.style == .plain {
                if s.string == "null" || s.string == "~" { return .null }
                if s.string == "true" { return .bool(true) }
                if s.string == "false" { return .bool(false) }
                if let d = Double(s.string) { return .number(d) }
            }
            return .string(s.string)
        case .sequence(let seq): return .array(seq.map(json(from:)))
        case .mapping(let m): return .object(m.map { ($0.key.scalarText ?? "", json(from: $0.value)) })
        case .alias: return .null
        }
    }
}

/// Shared enums shipped with the gateway, usable by name from any profile.
enum BuiltInEnums {
    static let all: [String: (numeric: [Int: String]?, text: [String: Int]?)] = [
        // The Chinese NB-IoT smoke-alarm event set shared by LiAn and Milesight GS524N (DEVICES.md §3.5).
        "smoke_event": ([1: "alarm", 2: "silenced", 3: "reserved", 4: "low_battery", 5: "fault", 6: "data_abnormal", 7: "normal",
                         8: "single_mute", 10: "removed", 11: "installed", 12: "online", 13: "abnormal",
                         14: "test_normal_battery", 15: "test_low_battery"], nil),
        "ocpp_status": (nil, ["Available": 0, "Preparing": 1, "Charging": 2, "SuspendedEVSE": 3, "SuspendedEV": 4, "Finishing": 5,
                              "Reserved": 6, "Unavailable": 7, "Faulted": 8]),
        "ocpp_error": (nil, ["NoError": 0, "ConnectorLockFailure": 1, "EVCommunicationError": 2, "GroundFailure": 3,
                             "HighTemperature": 4, "InternalError": 5, "LocalListConflict": 6, "OtherError": 7,
                             "OverCurrentFailure": 8, "OverVoltage": 9, "PowerMeterFailure": 10, "PowerSwitchFailure": 11,
                             "ReaderFailure": 12, "ResetFailure": 13, "UnderVoltage": 14, "WeakSignal": 15]),
    ]
}
