/// The compiled form of a profile's `decode:` steps. Built once at load; interpreted per message by `Decoder`.
/// Every node is a value type with no references into YAML, so a loaded profile is immutable and `Sendable`.

/// How the transport payload is turned into the first frame.
public enum InputStage: String, Sendable, Hashable {
    /// Bytes as received (LoRaWAN-style binary).
    case raw
    /// ASCII text of hex digits ("41105675..."), as Dragino NB devices send.
    case asciiHex = "ascii-hex"
    /// Base64 text (CTWing APPdata).
    case base64
    /// A JSON document.
    case json
    /// UTF-8 text, for expressions over a plain string.
    case text
}

/// What a decoded field is, beyond a reading.
enum FieldRole: String, Sendable, Hashable {
    case none
    case deviceID = "device-id"
    case time
    case battery
    case csq = "signal.csq"
    case rsrp = "signal.rsrp"
    case sinr = "signal.sinr"
    case ecl = "signal.ecl"
    case attribute
    case event
}

/// A binary field's wire type.
enum BinaryType: Sendable, Hashable {
    case integer(bytes: Int, signed: Bool, littleEndian: Bool)
    case float32(littleEndian: Bool)
    case float64(littleEndian: Bool)
    case bcd(Int)
    case ascii(Int)
    case hex(Int)

    var size: Int {
        switch self {
        case .integer(let b, _, _): return b
        case .float32: return 4
        case .float64: return 8
        case .bcd(let n), .ascii(let n), .hex(let n): return n
        }
    }
}

/// Where a field's raw value comes from.
enum FieldSource: Sendable, Hashable {
    /// Bytes of the current frame; `at` nil means at the cursor (which then advances).
    case binary(BinaryType, at: Int?)
    /// A JSON path in the current JSON context.
    case json(JSONPath, wantsText: Bool)
    /// Computed from earlier fields.
    case computed(Expression)
}

/// What a sentinel raw value means.
enum SentinelAction: Sendable, Hashable {
    /// No reading: the field is dropped.
    case omit
    /// The device says the reading is invalid: emitted with quality `bad`.
    case bad
}

/// One field: read, transform, emit. A class so that running a step costs one retain, not one per member.
final class FieldStep: Sendable, Hashable {
    let name: String
    let slot: Int
    let source: FieldSource
    let required: Bool
    let bits: ClosedRange<Int>?
    let sentinels: [Double: SentinelAction]
    let numericEnum: [Int: String]?
    let textEnum: [String: Int]?
    let flags: [(bit: Int, name: String)]
    let scale: Double?
    let offset: Double?
    let expression: Expression?
    let unit: Units.Conversion?
    let unitPath: JSONPath?
    let round: Int?
    let role: FieldRole
    let emit: Bool
    let timeFormat: TimeFormat?
    let zoneOffsetSeconds: Int
    let condition: Expression?
    let validRange: ClosedRange<Double>?

    init(name: String, slot: Int, source: FieldSource, required: Bool, bits: ClosedRange<Int>?, sentinels: [Double: SentinelAction], numericEnum: [Int: String]?, textEnum: [String: Int]?, flags: [(bit: Int, name: String)], scale: Double?, offset: Double?, expression: Expression?, unit: Units.Conversion?, unitPath: JSONPath?, round: Int?, role: FieldRole, emit: Bool, timeFormat: TimeFormat?, zoneOffsetSeconds: Int, condition: Expression?, validRange: ClosedRange<Double>?) {
        self.name = name
        self.slot = slot
        self.source = source
        self.required = required
        self.bits = bits
        self.sentinels = sentinels
        self.numericEnum = numericEnum
        self.textEnum = textEnum
        self.flags = flags
        self.scale = scale
        self.offset = offset
        self.expression = expression
        self.unit = unit
        self.unitPath = unitPath
        self.round = round
        self.role = role
        self.emit = emit
        self.timeFormat = timeFormat
        self.zoneOffsetSeconds = zoneOffsetSeconds
        self.condition = condition
        self.validRange = validRange
    }

    static func == (a: FieldStep, b: FieldStep) -> Bool { a === b || (a.name == b.name && a.slot == b.slot && a.source == b.source) }
    func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(slot)
    }
}

/// A TLV loop keyed on fixed-size keys with no length byte: the key fixes the entry's layout.
struct TLVStep: Sendable, Hashable {
    enum Unknown: String, Sendable, Hashable {
        case deadLetter = "dead-letter"
        case skipRest = "skip-rest"
    }

    var keySize: Int
    var entries: [UInt64: Block]
    var unknown: Unknown
    var until: Int?
}

/// A list of steps with an optional fixed size (TLV entries, records).
struct Block: Sendable, Hashable {
    var size: Int?
    var steps: [Step]
}

/// Fixed-size or self-sized records until the end of the frame, or `count` times.
struct RepeatStep: Sendable, Hashable {
    var block: Block
    var count: Expression?
    var until: Int?
}

/// A conditional layout.
struct SwitchStep: Sendable, Hashable {
    var on: Expression
    var numericCases: [Double: [Step]]
    var textCases: [String: [Step]]
    var defaultCase: [Step]?
    var source: String
}

/// An integrity check over a byte range of the frame.
struct ChecksumStep: Sendable, Hashable {
    var algorithm: Checksum
    var from: Int
    var to: Int?
    var storedAt: Int?
    var storedLittleEndian: Bool
    var expected: UInt32?
    var warnOnly: Bool
    var emitName: String?
}

/// Decode a nested payload: a JSON string field or a binary/string slot, with its own input stage.
struct InnerStep: Sendable, Hashable {
    enum From: Sendable, Hashable {
        case json(JSONPath)
        case slot(Int, String)
    }

    var from: From
    var input: InputStage
    var steps: [Step]
    /// When true, a missing or undecodable inner payload is a warning, not a failure.
    var optional: Bool
}

/// Iterate JSON array elements, or select the elements whose keys match.
struct EachStep: Sendable, Hashable {
    var path: JSONPath
    var filter: [(key: String, accepted: [String])]
    var defaults: [String: String]
    var firstOnly: Bool
    var steps: [Step]

    static func == (a: EachStep, b: EachStep) -> Bool { a.path == b.path && a.steps == b.steps && a.firstOnly == b.firstOnly }
    func hash(into hasher: inout Hasher) { hasher.combine(path) }
}

/// One compiled step.
indirect enum Step: Sendable, Hashable {
    case field(FieldStep)
    case skip(Int)
    case seek(Int)
    case tlv(TLVStep)
    case repeatRecords(RepeatStep)
    case switchOn(SwitchStep)
    case checksum(ChecksumStep)
    case assertion(Expression, message: String, warnOnly: Bool)
    case expectBytes(at: Int, bytes: [UInt8])
    case inner(InnerStep)
    case each(EachStep)
    case reject(String)
}
