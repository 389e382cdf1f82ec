import GatewayCore

/// A JSON value read from a push body, with the byte range it occupies in that body.
///
/// The push receivers need the exact bytes of some values, not a re-serialisation: OneNET signs the text of `msg`
/// as it sent it, and a CTWing profile-mode `payload` object is handed to the profile as the platform wrote it
/// (Foundation would reformat numbers such as `3.656`). So this small parser keeps spans. It is used only on
/// bodies already capped by the HTTP size limit; nesting is limited to `maxDepth`, so it never recurses deeply.
struct PushJSON: Sendable, Hashable {
    /// The value's kind and content.
    enum Kind: Sendable, Hashable {
        case object([Member])
        case array([PushJSON])
        case string(String)
        /// The number's text as written (`-90`, `3.656`, `1.5e3`).
        case number(String)
        case bool(Bool)
        case null
    }

    /// One key and value of an object, in document order.
    struct Member: Sendable, Hashable {
        var key: String
        var value: PushJSON
    }

    /// What the value is.
    var kind: Kind
    /// Where it is in the body (for strings, including the quotes).
    var range: Range<Int>

    /// Deepest nesting accepted: platform envelopes are two or three levels deep.
    static let maxDepth = 32

    /// The member `key` of an object (the first, if the key repeats), or nil.
    subscript(key: String) -> PushJSON? {
        guard case .object(let members) = kind else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The object's members, or nil when not an object.
    var members: [Member]? {
        if case .object(let m) = kind { return m }
        return nil
    }

    /// The string's content, or nil when not a string.
    var string: String? {
        if case .string(let s) = kind { return s }
        return nil
    }

    /// A scalar as text: a string's content, a number as written, `true`/`false`. Nil for null, objects, arrays.
    var scalarText: String? {
        switch kind {
        case .string(let s): s
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        case .null, .object, .array: nil
        }
    }

    /// An integer from a number without fraction or exponent, or from a string holding one (platforms send ids
    /// both ways).
    var int64: Int64? {
        switch kind {
        case .number(let n), .string(let n): Int64(n)
        default: nil
        }
    }

    /// A number, or a string holding one.
    var double: Double? {
        switch kind {
        case .number(let n), .string(let n): Double(n).flatMap { $0.isFinite ? $0 : nil }
        default: nil
        }
    }

    /// Parses a whole document: one value, optionally surrounded by whitespace.
    static func parse(_ bytes: [UInt8]) throws(PushJSONError) -> PushJSON {
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw PushJSONError(offset: parser.index, "trailing characters after the JSON value") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        mutating func skipWhitespace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }

        mutating func value(depth: Int) throws(PushJSONError) -> PushJSON {
            guard depth < PushJSON.maxDepth else { throw PushJSONError(offset: index, "nested deeper than \(PushJSON.maxDepth) levels") }
            guard index < bytes.count else { throw PushJSONError(offset: index, "unexpected end of input") }
            let start = index
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [Member] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return PushJSON(kind: .object(members), range: start..<index)
                }
                while true {
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw PushJSONError(offset: index, "expected a string key") }
                    let key = try string()
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw PushJSONError(offset: index, "expected ':'") }
                    index += 1
                    skipWhitespace()
                    members.append(Member(key: key, value: try value(depth: depth + 1)))
                    skipWhitespace()
                    guard index < bytes.count else { throw PushJSONError(offset: index, "unexpected end of input in an object") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    guard bytes[index] == UInt8(ascii: "}") else { throw PushJSONError(offset: index, "expected ',' or '}'") }
                    index += 1
                    return PushJSON(kind: .object(members), range: start..<index)
                }
            case UInt8(ascii: "["):
                index += 1
                var elements: [PushJSON] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return PushJSON(kind: .array(elements), range: start..<index)
                }
                while true {
                    skipWhitespace()
                    elements.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard index < bytes.count else { throw PushJSONError(offset: index, "unexpected end of input in an array") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    guard bytes[index] == UInt8(ascii: "]") else { throw PushJSONError(offset: index, "expected ',' or ']'") }
                    index += 1
                    return PushJSON(kind: .array(elements), range: start..<index)
                }
            case UInt8(ascii: "\""):
                let s = try string()
                return PushJSON(kind: .string(s), range: start..<index)
            case UInt8(ascii: "t"):
                try literal("true")
                return PushJSON(kind: .bool(true), range: start..<index)
            case UInt8(ascii: "f"):
                try literal("false")
                return PushJSON(kind: .bool(false), range: start..<index)
            case UInt8(ascii: "n"):
                try literal("null")
                return PushJSON(kind: .null, range: start..<index)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return PushJSON(kind: .number(try number()), range: start..<index)
            default:
                throw PushJSONError(offset: index, "unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws(PushJSONError) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw PushJSONError(offset: index, "unexpected end of input") }
            for i in 0..<count where bytes[index + i] != word.utf8Start[i] {
                throw PushJSONError(offset: index, "invalid literal")
            }
            index += count
        }

        /// RFC 8259 number grammar; returns its text.
        mutating func number() throws(PushJSONError) -> String {
            let start = index
            func digits(_ p: inout Parser) -> Int {
                let s = p.index
                while p.index < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.index]) { p.index += 1 }
                return p.index - s
            }
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count else { throw PushJSONError(offset: index, "invalid number") }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else if digits(&self) == 0 {
                throw PushJSONError(offset: index, "invalid number")
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits(&self) > 0 else { throw PushJSONError(offset: index, "invalid number") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits(&self) > 0 else { throw PushJSONError(offset: index, "invalid number") }
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// A string starting at the opening quote; leaves `index` after the closing quote.
        mutating func string() throws(PushJSONError) -> String {
            index += 1
            var out: [UInt8] = []
            while true {
                guard index < bytes.count else { throw PushJSONError(offset: index, "unterminated string") }
                let b = bytes[index]
                switch b {
                case UInt8(ascii: "\""):
                    index += 1
                    guard let s = String(validating: out, as: UTF8.self) else { throw PushJSONError(offset: index, "string is not valid UTF-8") }
                    return s
                case UInt8(ascii: "\\"):
                    index += 1
                    if let problem = JSONEscape.decode(bytes, at: &index, into: &out) { throw PushJSONError(offset: index, problem) }
                case 0x00..<0x20:
                    throw PushJSONError(offset: index, "control character in a string")
                default:
                    out.append(b)
                    index += 1
                }
            }
        }
    }
}


/// Why a push body is not JSON, with the byte offset.
struct PushJSONError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Byte offset in the body.
    var offset: Int
    /// What is wrong.
    var message: String

    init(offset: Int, _ message: String) {
        self.offset = offset
        self.message = message
    }

    var description: String { "invalid JSON at byte \(offset): \(message)" }
}
