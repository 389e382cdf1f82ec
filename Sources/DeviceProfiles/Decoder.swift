import GatewayCore

/// What one message decoded to.
public struct DecodeResult: Sendable {
    /// Readings, in decode order.
    public var samples: [Sample] = []
    /// Enum labels, parallel to `samples` (nil where the reading has none).
    public var labels: [String?] = []
    /// One status per device the message spoke for.
    public var statuses: [DeviceStatus] = []
    /// Non-fatal findings: a checksum under `warn`, a quarantined device time.
    public var warnings: [String] = []
}

/// Limits that keep the work per message bounded, whatever a payload or profile says.
public struct DecodeLimits: Sendable {
    /// Most steps and loop iterations per message.
    public var workBudget = 100_000
    /// Most samples per message.
    public var maxSamples = 10_000
    /// Device times before this (Unix ms) are implausible (default 2000-01-01).
    public var minDeviceTimeMs: Int64 = 946_684_800_000
    /// Device times further than this ahead of receive time are implausible (default 1 day).
    public var maxFutureSkewMs: Int64 = 86_400_000
    /// Creates the default limits.
    public init() {}
}

extension Profile {
    /// Decodes one payload. `captures` are the parts the topic template captured.
    public func decode(
        payload: [UInt8], captures: [String: String] = [:], attributes: [String: String] = [:], receiveTimeMs: Int64,
        limits: DecodeLimits = DecodeLimits()
    ) throws(DecodeError) -> DecodeResult {
        try decode(payload: payload, topicCaptures: TopicCaptures(captures), attributes: attributes, receiveTimeMs: receiveTimeMs, limits: limits)
    }

    func decode(
        payload: [UInt8], topicCaptures captures: TopicCaptures, attributes: [String: String], receiveTimeMs: Int64, limits: DecodeLimits
    ) throws(DecodeError) -> DecodeResult {
        if payload.count > maxPayloadBytes {
            throw DecodeError(.oversize, "payload of \(payload.count) bytes exceeds max_payload \(maxPayloadBytes)")
        }
        let run = DecodeRun(profile: self, captures: captures, attributes: attributes, receiveTimeMs: receiveTimeMs, limits: limits)
        try run.start(payload: payload)
        return try run.finish()
    }
}

/// The state of one decode. A class so expressions can read it while steps mutate it; never shared.
final class DecodeRun: ExpressionEnvironment {
    enum TimeState: Equatable {
        case unset
        case valid(Int64)
        case invalid
    }

    struct RoleUpdate {
        var device: String
        var role: FieldRole
        var name: String
        var value: Value
        var unit: String
    }

    let profile: Profile
    let captures: TopicCaptures
    let attributes: [String: String]
    let receiveTimeMs: Int64
    let limits: DecodeLimits

    // Current frame.
    var bytes: [UInt8] = []
    var base = 0
    var end = 0
    var cursor = 0
    var extent = 0
    var json: JSONValue?

    var slots: [Value]
    var currentValue: Value = .null
    var work = 0

    var result = DecodeResult()
    var timeSet: [Bool] = []
    var roleUpdates: [RoleUpdate] = []
    var scopeDevice: String?
    var scopeTime: TimeState = .unset
    var uncertain = false

    init(profile: Profile, captures: TopicCaptures, attributes: [String: String], receiveTimeMs: Int64, limits: DecodeLimits) {
        self.profile = profile
        self.captures = captures
        self.attributes = attributes
        self.receiveTimeMs = receiveTimeMs
        self.limits = limits
        self.slots = Array(repeating: .null, count: profile.slotCount)
    }

    // MARK: ExpressionEnvironment

    var current: Value { currentValue }
    func slot(_ index: Int) -> Value { slots[index] }
    var payloadSize: Int { json == nil ? end - base : bytes.count }
    func topicVariable(_ name: String) -> Value { captures[name].map { .string($0) } ?? .null }
    func attribute(_ name: String) -> Value { attributes[name].map { .string($0) } ?? .null }
    func json(_ path: JSONPath) -> Value { Self.jsonValue(path, in: json) }
    func byte(_ offset: Int) -> Value {
        // Compare before adding: `base + offset` overflows for an offset near Int.max.
        let count = end - base
        guard offset < count, offset >= -count else { return .null }
        return .number(Double(bytes[offset >= 0 ? base + offset : end + offset]))
    }

    // MARK: running

    func start(payload: [UInt8]) throws(DecodeError) {
        try enterFrame(payload, stage: profile.input, what: "payload")
        try scoped { () throws(DecodeError) in try run(profile.steps) }
    }

    /// Sets the current frame from bytes through an input stage.
    func enterFrame(_ payload: [UInt8], stage: InputStage, what: String) throws(DecodeError) {
        switch stage {
        case .raw, .text:
            bytes = payload
            json = nil
        case .asciiHex:
            guard let b = HexCodec.decode(payload[...]) else { throw DecodeError(.malformed, "\(what) is not hex text") }
            bytes = b
            json = nil
        case .base64:
            guard let b = HexCodec.decodeBase64(payload) else { throw DecodeError(.malformed, "\(what) is not base64") }
            bytes = b
            json = nil
        case .json:
            json = try JSONParser.parse(payload)
            bytes = payload
        }
        base = 0
        end = bytes.count
        cursor = 0
        extent = 0
    }

    func spend() throws(DecodeError) {
        work += 1
        if work > limits.workBudget { throw DecodeError(.decode, "work limit of \(limits.workBudget) steps exceeded") }
    }

    /// Runs `body` as a scope: device ids and times read inside it apply to the samples emitted inside it.
    func scoped(_ body: () throws(DecodeError) -> Void) throws(DecodeError) {
        let firstSample = result.samples.count
        let firstRole = roleUpdates.count
        let savedDevice = scopeDevice
        let savedTime = scopeTime
        scopeDevice = nil
        scopeTime = .unset
        defer {
            scopeDevice = savedDevice
            scopeTime = savedTime
        }
        try body()
        if let d = scopeDevice {
            for i in firstSample..<result.samples.count where result.samples[i].device.isEmpty { result.samples[i].device = d }
            for i in firstRole..<roleUpdates.count where roleUpdates[i].device.isEmpty { roleUpdates[i].device = d }
        }
        switch scopeTime {
        case .unset: break
        case .valid(let t):
            for i in firstSample..<result.samples.count where !timeSet[i] {
                result.samples[i].deviceTimeMs = t
                timeSet[i] = true
            }
        case .invalid:
            for i in firstSample..<result.samples.count where !timeSet[i] {
                result.samples[i].quality = max(result.samples[i].quality, .uncertain)
                timeSet[i] = true
            }
        }
    }

    func run(_ steps: [Step]) throws(DecodeError) {
        for step in steps {
            try spend()
            switch step {
            case .field(let f): try field(f)
            case .skip(let n):
                cursor += n
                if cursor > end || cursor < base { throw DecodeError(.decode, "skip \(n) leaves the frame (offset \(cursor - base) of \(end - base))") }
            case .seek(let n):
                cursor = n >= 0 ? base + n : end + n
                if cursor > end || cursor < base { throw DecodeError(.decode, "seek \(n) is outside the frame of \(end - base) bytes") }
            case .tlv(let t): try tlv(t)
            case .repeatRecords(let r): try repeatRecords(r)
            case .switchOn(let s): try switchOn(s)
            case .checksum(let c): try checksum(c)
            case .assertion(let e, let message, let warn):
                if !e.evaluate(self).isTrue {
                    if warn {
                        uncertain = true
                        result.warnings.append(message)
                    } else {
                        throw DecodeError(.integrity, message)
                    }
                }
            case .expectBytes(let at, let expected):
                let i = at >= 0 ? base + at : end + at
                guard i >= base, i + expected.count <= end else {
                    throw DecodeError(.integrity, "expected \(HexCodec.encode(expected)) at offset \(at), but the frame has \(end - base) bytes")
                }
                let found = bytes[i..<(i + expected.count)]
                if !found.elementsEqual(expected) {
                    throw DecodeError(.integrity, "expected \(HexCodec.encode(expected)) at offset \(at), found \(HexCodec.encode(found))")
                }
                extent = max(extent, i + expected.count)
            case .inner(let i): try inner(i)
            case .each(let e): try each(e)
            case .reject(let message): throw DecodeError(.decode, message)
            }
        }
    }

    // MARK: fields

    func readBinary(_ type: BinaryType, at: Int?, name: String) throws(DecodeError) -> (Value, ArraySlice<UInt8>) {
        let size = type.size
        let start = at.map { $0 >= 0 ? base + $0 : end + $0 } ?? cursor
        guard start >= base, start + size <= end else {
            throw DecodeError(.decode, "field '\(name)' needs \(size) byte(s) at offset \(start - base), but the frame has \(end - base)")
        }
        let slice = bytes[start..<(start + size)]
        if at == nil { cursor = start + size }
        extent = max(extent, start + size)
        switch type {
        case .integer(let n, let signed, let little):
            var v: UInt64 = 0
            if little {
                for i in stride(from: start + n - 1, through: start, by: -1) { v = v << 8 | UInt64(bytes[i]) }
            } else {
                for i in start..<(start + n) { v = v << 8 | UInt64(bytes[i]) }
            }
            if signed, n < 8, v & (1 << (UInt64(n) * 8 - 1)) != 0 {
                return (.number(Double(Int64(bitPattern: v | ~((1 << (UInt64(n) * 8)) - 1)))), slice)
            }
            return (.number(signed ? Double(Int64(bitPattern: v)) : Double(v)), slice)
        case .float32(let little):
            var v: UInt32 = 0
            for b in (little ? Array(slice.reversed()) : Array(slice)) { v = v << 8 | UInt32(b) }
            return (.number(Double(Float(bitPattern: v))), slice)
        case .float64(let little):
            var v: UInt64 = 0
            for b in (little ? Array(slice.reversed()) : Array(slice)) { v = v << 8 | UInt64(b) }
            return (.number(Double(bitPattern: v)), slice)
        case .bcd:
            return (.string(HexCodec.encode(slice)), slice)
        case .hex:
            return (.string(HexCodec.encode(slice)), slice)
        case .ascii:
            var trimmed = slice
            while let last = trimmed.last, last == 0 || last == 0x20 { trimmed = trimmed.dropLast() }
            return (.string(String(decoding: trimmed, as: UTF8.self)), slice)
        }
    }

    func field(_ f: FieldStep) throws(DecodeError) {
        if let c = f.condition, !c.evaluate(self).isTrue { return }
        var raw: Value
        var rawBytes: ArraySlice<UInt8>?
        switch f.source {
        case .binary(let type, let at):
            (raw, rawBytes) = try readBinary(type, at: at, name: f.name)
        case .computed(let e):
            raw = e.evaluate(self)
            if raw == .null {
                slots[f.slot] = .null
                return
            }
        case .json(let path, let wantsText):
            guard let j = json, let v = path.first(in: j), v != .null else {
                if f.required { throw DecodeError(.decode, "required field '\(f.name)' is missing at \(path)") }
                slots[f.slot] = .null
                return
            }
            switch v {
            case .number(let d): raw = wantsText ? .string(JSONValue.number(d).textValue ?? "") : .number(d)
            case .bool(let b): raw = .number(b ? 1 : 0)
            case .string(let s):
                if wantsText || f.textEnum != nil {
                    raw = .string(s)
                } else if let d = v.numberValue {
                    raw = .number(d)
                } else if f.role == .none, f.timeFormat == nil {
                    if f.required { throw DecodeError(.decode, "field '\(f.name)' at \(path) is not a number: '\(s)'") }
                    result.warnings.append("field '\(f.name)' at \(path) is not a number: '\(s)'")
                    slots[f.slot] = .null
                    return
                } else {
                    raw = .string(s)
                }
            case .array, .object: raw = .string(v.jsonText)
            case .null: raw = .null
            }
        }

        // Roles that carry text or time are done here.
        if f.role == .time {
            try time(f, raw: raw, bytes: rawBytes)
            slots[f.slot] = raw
            return
        }

        var quality = SampleQuality.good
        var label: String?
        var value: Double
        switch raw {
        case .string(let s):
            if let te = f.textEnum {
                if let code = te[s] {
                    value = Double(code)
                    label = s
                } else {
                    value = -1
                    label = s
                    quality = .uncertain
                    result.warnings.append("field '\(f.name)': '\(s)' is not in its enum")
                }
            } else if f.role == .deviceID || f.role == .attribute || Double(s) == nil || f.emit == false {
                slots[f.slot] = raw
                if f.role == .deviceID {
                    guard !s.isEmpty else { throw DecodeError(.unknownDevice, "field '\(f.name)' gave an empty device id") }
                    scopeDevice = s
                } else if f.emit || f.role == .attribute {
                    roleUpdates.append(RoleUpdate(device: "", role: .attribute, name: f.name, value: raw, unit: ""))
                }
                return
            } else {
                value = Double(s)!
            }
        case .number(let d): value = d
        case .null:
            slots[f.slot] = .null
            return
        }

        if let bits = f.bits {
            guard let i = Int64(exactly: value.rounded(.towardZero)) else { throw DecodeError(.decode, "field '\(f.name)': bits of a non-integer") }
            let width = Int64(bits.upperBound - bits.lowerBound + 1)
            let mask: Int64 = width >= 63 ? -1 : (1 << width) - 1
            value = Double((i >> Int64(bits.lowerBound)) & mask)
        }
        if let action = f.sentinels[value] {
            switch action {
            case .omit:
                slots[f.slot] = .null
                return
            case .bad: quality = .bad
            }
        }
        if let ne = f.numericEnum {
            label = ne[Int(exactly: value) ?? Int.min]
            if label == nil {
                quality = max(quality, .uncertain)
                result.warnings.append("field '\(f.name)': code \(Value.number(value)) is not in its enum")
            }
        }
        for (bit, name) in f.flags {
            let i = Int64(exactly: value.rounded(.towardZero)) ?? 0
            emit(name: name, value: Double((i >> Int64(bit)) & 1), unit: "", quality: quality, label: nil)
        }
        if quality != .bad {
            if let s = f.scale { value *= s }
            if let o = f.offset { value += o }
            if let e = f.expression {
                currentValue = .number(value)
                guard let v = e.evaluate(self).number else {
                    slots[f.slot] = .null
                    result.warnings.append("field '\(f.name)': expression gave no number")
                    return
                }
                value = v
            }
        }
        var unit = ""
        if let path = f.unitPath, let j = json, let text = path.first(in: j)?.textValue {
            if let c = Units.conversion(for: text) {
                if quality != .bad { value = c.apply(value) }
                unit = c.canonical
            } else {
                unit = text
                quality = max(quality, .uncertain)
                result.warnings.append("field '\(f.name)': unknown unit '\(text)'")
            }
        } else if let c = f.unit {
            if quality != .bad { value = c.apply(value) }
            unit = c.canonical
        }
        if let r = f.round {
            let p = powDouble(10, Double(r))
            value = (value * p).rounded() / p
        }
        if !value.isFinite {
            quality = .bad
            result.warnings.append("field '\(f.name)' is not finite")
        }
        if let range = f.validRange, !range.contains(value), quality == .good {
            quality = .uncertain
            result.warnings.append("field '\(f.name)' = \(Value.number(value)) is outside its plausible range")
        }
        slots[f.slot] = .number(value)
        switch f.role {
        case .deviceID:
            let id = Value.number(value).description
            scopeDevice = id
            return
        case .battery, .csq, .rsrp, .sinr, .ecl:
            if quality != .bad { roleUpdates.append(RoleUpdate(device: "", role: f.role, name: f.name, value: .number(value), unit: unit)) }
        case .attribute:
            roleUpdates.append(RoleUpdate(device: "", role: .attribute, name: f.name, value: label.map { .string($0) } ?? .number(value), unit: unit))
        default: break
        }
        if f.emit, value.isFinite || quality == .bad {
            emit(name: f.name, value: value.isFinite ? value : 0, unit: unit, quality: quality, label: label)
        }
    }

    func emit(name: String, value: Double, unit: String, quality: SampleQuality, label: String?) {
        result.samples.append(Sample(device: "", metric: name, deviceTimeMs: nil, receiveTimeMs: receiveTimeMs, value: value, unit: unit, quality: quality))
        result.labels.append(label)
        timeSet.append(false)
    }

    func time(_ f: FieldStep, raw: Value, bytes rawBytes: ArraySlice<UInt8>?) throws(DecodeError) {
        guard let format = f.timeFormat else { return }
        var ms: Int64?
        if let b = rawBytes, case .pattern = format {
            ms = format.fromBytes(b, zoneOffsetSeconds: f.zoneOffsetSeconds)
        } else if let b = rawBytes, format == .cp56time2a {
            ms = format.fromBytes(b, zoneOffsetSeconds: f.zoneOffsetSeconds)
        } else {
            switch raw {
            case .number(let d): ms = format.fromNumber(d)
            case .string(let s): ms = format.fromText(s, zoneOffsetSeconds: f.zoneOffsetSeconds)
            case .null: return
            }
        }
        guard let t = ms, t >= limits.minDeviceTimeMs, t <= receiveTimeMs + limits.maxFutureSkewMs else {
            scopeTime = .invalid
            result.warnings.append("device time '\(raw)' in '\(f.name)' is implausible; receive time is used")
            return
        }
        scopeTime = .valid(t)
    }

    // MARK: structure

    /// Runs a block as a sub-frame starting at the cursor; returns how many bytes it consumed.
    func subFrame(_ block: Block, limit: Int, what: String) throws(DecodeError) -> Int {
        let savedBase = base
        let savedEnd = end
        let savedExtent = extent
        let start = cursor
        if let size = block.size, start + size > limit {
            throw DecodeError(.decode, "\(what) needs \(size) bytes at offset \(start - savedBase), but only \(limit - start) remain")
        }
        base = start
        end = block.size.map { start + $0 } ?? limit
        extent = start
        try scoped { () throws(DecodeError) in try run(block.steps) }
        let consumed = block.size ?? (max(cursor, extent) - start)
        base = savedBase
        end = savedEnd
        extent = max(savedExtent, start + consumed)
        cursor = start + consumed
        return consumed
    }

    func resolveLimit(_ until: Int?) -> Int {
        guard let u = until else { return end }
        return u >= 0 ? min(end, base + u) : max(base, end + u)
    }

    func tlv(_ t: TLVStep) throws(DecodeError) {
        let limit = resolveLimit(t.until)
        while cursor < limit {
            try spend()
            guard cursor + t.keySize <= limit else {
                throw DecodeError(.decode, "truncated TLV key at offset \(cursor - base)")
            }
            var key: UInt64 = 0
            for i in cursor..<(cursor + t.keySize) { key = key << 8 | UInt64(bytes[i]) }
            guard let entry = t.entries[key] else {
                let hex = HexCodec.encode(bytes[cursor..<(cursor + t.keySize)])
                if t.unknown == .skipRest {
                    result.warnings.append("unknown TLV key \(hex) at offset \(cursor - base); rest skipped")
                    cursor = limit
                    return
                }
                throw DecodeError(.decode, "unknown TLV key \(hex) at offset \(cursor - base)")
            }
            cursor += t.keySize
            let consumed = try subFrame(entry, limit: limit, what: "TLV entry \(String(key, radix: 16))")
            if consumed == 0, entry.steps.isEmpty == false {
                throw DecodeError(.decode, "TLV entry \(String(key, radix: 16)) consumed no bytes")
            }
        }
    }

    func repeatRecords(_ r: RepeatStep) throws(DecodeError) {
        let limit = resolveLimit(r.until)
        var remaining: Int?
        if let c = r.count {
            guard let n = c.evaluate(self).number, n >= 0, n <= Double(limits.workBudget) else {
                throw DecodeError(.decode, "repeat count is not a sensible number")
            }
            remaining = Int(n)
        }
        var index = 0
        while cursor < limit {
            if let rem = remaining, index >= rem { break }
            try spend()
            let consumed = try subFrame(r.block, limit: limit, what: "record \(index)")
            if consumed <= 0 { throw DecodeError(.decode, "record \(index) consumed no bytes") }
            index += 1
        }
        if let rem = remaining, index < rem { throw DecodeError(.decode, "expected \(rem) records, the frame holds \(index)") }
    }

    func switchOn(_ s: SwitchStep) throws(DecodeError) {
        let v = s.on.evaluate(self)
        var chosen: [Step]?
        if let d = v.number, let c = s.numericCases[d] { chosen = c }
        if chosen == nil { chosen = s.textCases[v.description] }
        if chosen == nil { chosen = s.defaultCase }
        guard let steps = chosen else {
            throw DecodeError(.decode, "no case for \(s.source) = \(v)")
        }
        try run(steps)
    }

    func checksum(_ c: ChecksumStep) throws(DecodeError) {
        let from = c.from >= 0 ? base + c.from : end + c.from
        let to = c.to.map { $0 >= 0 ? base + $0 : end + $0 } ?? end
        guard from >= base, from <= to, to <= end else {
            throw DecodeError(.integrity, "checksum range \(c.from)..<\(c.to.map(String.init) ?? "end") lies outside the frame of \(end - base) bytes")
        }
        let computed = c.algorithm.compute(bytes[from..<to])
        let expected: UInt32
        if let e = c.expected {
            expected = e
        } else {
            let at = c.storedAt!
            let i = at >= 0 ? base + at : end + at
            guard i >= base, i + c.algorithm.width <= end else { throw DecodeError(.integrity, "checksum field at \(at) is outside the frame") }
            var v: UInt32 = 0
            let range = i..<(i + c.algorithm.width)
            for b in (c.storedLittleEndian ? Array(bytes[range].reversed()) : Array(bytes[range])) { v = v << 8 | UInt32(b) }
            expected = v
            extent = max(extent, i + c.algorithm.width)
        }
        let ok = computed == expected
        if let name = c.emitName { emit(name: name, value: ok ? 1 : 0, unit: "", quality: .good, label: nil) }
        if !ok {
            let message = "\(c.algorithm.rawValue) mismatch: computed \(String(computed, radix: 16)), frame says \(String(expected, radix: 16))"
            if c.warnOnly {
                uncertain = true
                result.warnings.append(message)
            } else {
                throw DecodeError(.integrity, message)
            }
        }
    }

    func inner(_ i: InnerStep) throws(DecodeError) {
        let source: [UInt8]
        switch i.from {
        case .json(let path):
            guard let j = json, let v = path.first(in: j), case .string(let s) = v else {
                if i.optional { return }
                throw DecodeError(.decode, "inner payload at \(path) is missing or not a string")
            }
            source = Array(s.utf8)
        case .slot(let index, let name):
            guard case .string(let s) = slots[index] else {
                if i.optional { return }
                throw DecodeError(.decode, "inner payload field '\(name)' has no text")
            }
            source = Array(s.utf8)
        }
        let saved = (bytes, base, end, cursor, extent, json)
        defer { (bytes, base, end, cursor, extent, json) = saved }
        let checkpoint = (result.samples.count, roleUpdates.count, result.warnings.count)
        do {
            try enterFrame(source, stage: i.input, what: "inner payload")
            try scoped { () throws(DecodeError) in try run(i.steps) }
        } catch {
            guard i.optional else { throw error }
            // Undo what the failed inner decode emitted, keep a note, go on with the outer message.
            result.samples.removeSubrange(checkpoint.0...)
            result.labels.removeSubrange(checkpoint.0...)
            timeSet.removeSubrange(checkpoint.0...)
            roleUpdates.removeSubrange(checkpoint.1...)
            result.warnings.append("optional inner payload skipped: \(error.message)")
        }
    }

    func each(_ e: EachStep) throws(DecodeError) {
        guard let j = json else { return }
        var elements: [JSONValue]
        if e.path.isMulti {
            elements = e.path.all(in: j)
        } else if let v = e.path.first(in: j) {
            if case .array(let a) = v { elements = a } else { elements = [v] }
        } else {
            return
        }
        if !e.filter.isEmpty {
            elements = elements.filter { element in
                e.filter.allSatisfy { key, accepted in
                    let text = element[key]?.textValue ?? e.defaults[key] ?? ""
                    return accepted.contains(text)
                }
            }
        }
        if e.firstOnly, let f = elements.first { elements = [f] }
        let saved = json
        for element in elements {
            try spend()
            var el = element
            if !e.defaults.isEmpty, case .object(var members) = el {
                for (k, v) in e.defaults where el[k] == nil { members.append((k, .string(v))) }
                el = .object(members)
            }
            json = el
            try scoped { () throws(DecodeError) in try run(e.steps) }
        }
        json = saved
    }

    // MARK: result

    func fallbackDevice() -> String? {
        if let t = profile.deviceIDTemplate {
            var out = ""
            var rest = Substring(t)
            while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
                out += rest[rest.startIndex..<open]
                let name = String(rest[rest.index(after: open)..<close])
                let value = name.hasPrefix("attr.") ? attributes[String(name.dropFirst(5))] : captures[name]
                guard let v = value, !v.isEmpty else { return nil }
                out += v
                rest = rest[rest.index(after: close)...]
            }
            out += rest
            return out.isEmpty ? nil : out
        }
        return captures["deviceId"]
    }

    func finish() throws(DecodeError) -> DecodeResult {
        if result.samples.count > limits.maxSamples {
            throw DecodeError(.decode, "message produced \(result.samples.count) samples, over the limit of \(limits.maxSamples)")
        }
        let fallback = fallbackDevice()
        for i in result.samples.indices where result.samples[i].device.isEmpty {
            guard let d = fallback else { throw DecodeError(.unknownDevice, "no device id in the payload or topic") }
            result.samples[i].device = d
        }
        if uncertain {
            for i in result.samples.indices where result.samples[i].quality == .good { result.samples[i].quality = .uncertain }
        }
        func newStatus(_ device: String) -> DeviceStatus {
            DeviceStatus(device: device, profileID: profile.id, profileVersion: profile.version, family: profile.family,
                         reportIntervalSeconds: profile.reportIntervalSeconds, seenMs: receiveTimeMs)
        }
        func apply(_ u: RoleUpdate, to s: inout DeviceStatus) {
            switch u.role {
            case .battery: if let v = u.value.number { s.battery = .init(value: v, unit: u.unit == "V" ? "V" : "%") }
            case .csq: if let v = u.value.number, let dbm = DeviceStatus.dbm(fromCSQ: v) { s.csqDbm = dbm }
            case .rsrp: s.rsrpDbm = u.value.number
            case .sinr: s.sinrDb = u.value.number
            case .ecl: s.ecl = u.value.number
            case .attribute: s.attributes[u.name] = u.value.description
            default: break
            }
        }
        for i in roleUpdates.indices where roleUpdates[i].device.isEmpty {
            guard let d = fallback else { throw DecodeError(.unknownDevice, "no device id in the payload or topic") }
            roleUpdates[i].device = d
        }
        // The common case: one device per message, no dictionary.
        let first = result.samples.first?.device ?? roleUpdates.first?.device ?? fallback
        if let only = first, result.samples.allSatisfy({ $0.device == only }), roleUpdates.allSatisfy({ $0.device == only }) {
            var s = newStatus(only)
            for u in roleUpdates { apply(u, to: &s) }
            result.statuses = [s]
            mergeTransportSignal(device: only)
            return result
        }
        var statuses: [String: DeviceStatus] = [:]
        var order: [String] = []
        for u in roleUpdates {
            if statuses[u.device] == nil {
                order.append(u.device)
                statuses[u.device] = newStatus(u.device)
            }
            apply(u, to: &statuses[u.device]!)
        }
        for sample in result.samples where statuses[sample.device] == nil {
            order.append(sample.device)
            statuses[sample.device] = newStatus(sample.device)
        }
        result.statuses = order.compactMap { statuses[$0] }
        mergeTransportSignal(device: fallback)
        return result
    }

    /// Radio values the transport found in its envelope (`signal.rsrp`, `signal.sinr`, `signal.ecl`, `signal.csq`
    /// attributes) fill the status fields the payload left empty: the payload, read by the profile, wins. They
    /// describe the link of the device that sent the message: the only status, or the one of the device the
    /// topic or envelope names. Values that cannot be radio readings are ignored.
    func mergeTransportSignal(device: String?) {
        guard !attributes.isEmpty, !result.statuses.isEmpty else { return }
        let signal = TransportSignal(attributes)
        guard !signal.isEmpty else { return }
        let index = result.statuses.count == 1 ? 0 : result.statuses.firstIndex { $0.device == device }
        guard let i = index else { return }
        signal.fill(&result.statuses[i])
    }
}
