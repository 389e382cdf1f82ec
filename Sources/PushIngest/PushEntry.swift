import Crypto
import GatewayCore

/// A carrier platform that pushes over HTTP. Bounded: used as a metric label.
public enum PushPlatform: String, Sendable, Hashable, CaseIterable {
    /// China Telecom CTWing (AEP) subscription push.
    case ctwing
    /// China Mobile OneNET (legacy multi-protocol / NB-IoT suite) HTTP push.
    case onenet

    /// The transport its messages carry.
    public var transport: Transport {
        switch self {
        case .ctwing: .ctwing
        case .onenet: .onenet
        }
    }
}

/// What one item of a push became: something to ingest, something to keep as a dead letter, or a notice that is
/// only counted and logged (command responses).
struct PushEntry: Sendable, Hashable {
    /// The kind of item, a metric label.
    enum Kind: String, Sendable, Hashable, CaseIterable {
        case data
        case online
        case offline
        case commandResponse = "command_response"
        case deadLetter = "dead_letter"
    }

    /// What to do with it.
    enum Action: Sendable, Hashable {
        /// Hand to `DurableIngest.ingest`.
        case ingest(RawMessage)
        /// Hand to `DurableIngest.deadLetter`.
        case deadLetter(DeadLetter)
        /// Count and log at debug; nothing is stored. The values are log metadata (identifiers, result codes).
        case notice([String: String])
    }

    var kind: Kind
    /// Identity for retry deduplication.
    var key: PushKey
    var action: Action
}

/// A 128-bit digest identifying a delivered item, so a platform's retry of it is recognised.
struct PushKey: Sendable, Hashable {
    var high: UInt64
    var low: UInt64

    /// SHA-256 over the parts, each preceded by its length (so ("ab", "c") and ("a", "bc") differ), truncated to
    /// 128 bits: collisions are out of reach for the ~10^5 keys held at once.
    init(_ parts: [UInt8]...) {
        self.init(parts: parts)
    }

    /// The same, over a list of parts.
    init(parts: [[UInt8]]) {
        var hasher = SHA256()
        for part in parts {
            var length = UInt32(truncatingIfNeeded: part.count).littleEndian
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            part.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        hasher.finalize().withUnsafeBytes { raw in
            for i in 0..<8 { high = high << 8 | UInt64(raw[i]) }
            for i in 8..<16 { low = low << 8 | UInt64(raw[i]) }
        }
        self.high = high
        self.low = low
    }
}

/// Why a push body could not be read. The message names the field.
struct PushParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    var message: String
    /// The topic the body would have had, when its identifiers could be read (the dead letter is filed under it).
    var topic: String?

    init(_ message: String, topic: String? = nil) {
        self.message = message
        self.topic = topic
    }

    var description: String { message }
}

/// Helpers the two platform parsers share.
enum PushFields {
    /// An identifier usable as one topic level: non-empty, at most 128 bytes, no `/`, `+`, `#` or control characters.
    static func topicLevel(_ value: PushJSON?, _ field: String) throws(PushParseError) -> String {
        let text: String
        switch value?.kind {
        case .string(let s), .number(let s): text = s
        default: throw PushParseError("missing '\(field)' (a string or number)")
        }
        guard !text.isEmpty, text.utf8.count <= 128,
              !text.utf8.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") || $0 < 0x20 })
        else {
            throw PushParseError("'\(field)' is not usable as an identifier (empty, over 128 bytes, or contains '/', '+', '#')")
        }
        return text
    }

    /// Envelope fields that carry radio quality, mapped to the attribute names the decoder merges into the device
    /// registry. Values are copied as the platform wrote them (no sign or unit change).
    static let signalKeys: [(key: String, attribute: String)] = [
        ("RSRP", "signal.rsrp"), ("rsrp", "signal.rsrp"), ("Signal_Power", "signal.rsrp"), ("signalPower", "signal.rsrp"),
        ("SINR", "signal.sinr"), ("sinr", "signal.sinr"), ("SNR", "signal.sinr"), ("snr", "signal.sinr"),
        ("ECL", "signal.ecl"), ("ecl", "signal.ecl"),
        ("CSQ", "signal.csq"), ("csq", "signal.csq"),
    ]

    /// Copies numeric radio fields of `object` into `attributes` (first spelling found wins).
    static func liftSignals(from object: PushJSON?, into attributes: inout [String: String]) {
        guard let object, object.members != nil else { return }
        for (key, attribute) in signalKeys where attributes[attribute] == nil {
            if let v = object[key], v.double != nil, let text = v.scalarText { attributes[attribute] = text }
        }
    }

    /// The UTF-8 bytes of `value` as they appear in `body`.
    static func rawBytes(_ value: PushJSON, in body: [UInt8]) -> [UInt8] {
        Array(body[value.range])
    }

    /// Decodes hex text of even length (either case); nil when it is anything else.
    static func hexBytes(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty, utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let h = hexDigitValue(utf8[i]), let l = hexDigitValue(utf8[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}
