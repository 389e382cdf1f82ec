/// A CoAP message (RFC 7252 §3), parsed or to be serialised. Format: docs/formats/coap.md.
///
/// ```
///  0                   1                   2                   3
/// |Ver| T |  TKL  |      Code     |          Message ID           |
/// |   Token (TKL bytes) ...
/// |   Options (delta/length nibbles, extended by 1 or 2 bytes) ...
/// |1 1 1 1 1 1 1 1|    Payload (if any) ...
/// ```
public struct CoAPMessage: Sendable, Hashable {
    /// CON, NON, ACK or RST.
    public var type: CoAPMessageType
    /// Method or response code.
    public var code: CoAPCode
    /// Matches an ACK/RST to its CON and detects duplicates.
    public var messageID: UInt16
    /// Matches a response to its request; 0-8 bytes.
    public var token: [UInt8]
    /// Options in number order (repeated options keep their relative order).
    public var options: [CoAPOption]
    /// The payload; empty when there is none.
    public var payload: [UInt8]

    /// Creates a message.
    public init(type: CoAPMessageType, code: CoAPCode, messageID: UInt16, token: [UInt8] = [], options: [CoAPOption] = [], payload: [UInt8] = []) {
        self.type = type
        self.code = code
        self.messageID = messageID
        self.token = token
        self.options = options
        self.payload = payload
    }

    /// The fixed header of a datagram, readable even when the rest is not: enough to reject a confirmable
    /// message with a matching RST. Nil when shorter than 4 bytes or not version 1 (ignored silently, §3).
    public static func header(_ bytes: UnsafeRawBufferPointer) -> (type: CoAPMessageType, code: CoAPCode, messageID: UInt16)? {
        guard bytes.count >= 4, bytes[0] >> 6 == 1 else { return nil }
        return (CoAPMessageType(rawValue: (bytes[0] >> 4) & 0x3)!, CoAPCode(rawValue: bytes[1]), UInt16(bytes[2]) << 8 | UInt16(bytes[3]))
    }

    /// Parses a datagram. Never reads past `bytes`, never allocates in proportion to a length the datagram declares.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(CoAPParseError) -> CoAPMessage {
        let n = bytes.count
        guard n >= 4 else { throw .truncatedHeader }
        let version = bytes[0] >> 6
        guard version == 1 else { throw .unsupportedVersion(version) }
        let type = CoAPMessageType(rawValue: (bytes[0] >> 4) & 0x3)!
        let tokenLength = Int(bytes[0] & 0x0F)
        guard tokenLength <= 8 else { throw .reservedTokenLength(UInt8(tokenLength)) }
        let code = CoAPCode(rawValue: bytes[1])
        let messageID = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        guard n >= 4 + tokenLength else { throw .truncatedToken }
        let token = Array(bytes[4..<(4 + tokenLength)])
        var i = 4 + tokenLength
        var options: [CoAPOption] = []
        var number = 0
        var payload: [UInt8] = []
        while i < n {
            let first = bytes[i]
            if first == 0xFF {
                guard i + 1 < n else { throw .emptyPayloadAfterMarker }
                payload = Array(bytes[(i + 1)..<n])
                break
            }
            i += 1
            // Extended delta first, then extended length (§3.1).
            let delta = try extendedNibble(Int(first >> 4), bytes, at: &i)
            let length = try extendedNibble(Int(first & 0x0F), bytes, at: &i)
            number += delta
            guard number <= Int(UInt16.max) else { throw .optionNumberOverflow }
            guard length <= n - i else { throw .truncatedOption }
            options.append(CoAPOption(number: UInt16(number), value: Array(bytes[i..<(i + length)])))
            i += length
        }
        if code == .empty, tokenLength != 0 || !options.isEmpty || !payload.isEmpty { throw .nonEmptyEmptyMessage }
        return CoAPMessage(type: type, code: code, messageID: messageID, token: token, options: options, payload: payload)
    }

    /// Parses a byte array (tests, tools).
    public static func parse(_ bytes: [UInt8]) throws(CoAPParseError) -> CoAPMessage {
        let result: Result<CoAPMessage, CoAPParseError> = bytes.withUnsafeBytes { raw in
            do throws(CoAPParseError) { return .success(try parse(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// The wire form. Options are written in number order (stable for repeated numbers); the token is cut to 8
    /// bytes and option values to 65804 bytes, the most the format can express.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        serialize(into: &out)
        return out
    }

    /// Appends the wire form to `out`.
    public func serialize(into out: inout [UInt8]) {
        let tkl = min(token.count, 8)
        out.reserveCapacity(out.count + 4 + tkl + options.reduce(0) { $0 + 3 + $1.value.count } + (payload.isEmpty ? 0 : 1 + payload.count))
        out.append(0x40 | type.rawValue << 4 | UInt8(tkl))
        out.append(code.rawValue)
        out.append(UInt8(messageID >> 8))
        out.append(UInt8(messageID & 0xFF))
        out.append(contentsOf: token.prefix(tkl))
        let sorted = options.enumerated().sorted { a, b in a.element.number != b.element.number ? a.element.number < b.element.number : a.offset < b.offset }
        var previous = 0
        for (_, option) in sorted {
            let delta = Int(option.number) - previous
            previous = Int(option.number)
            let value = option.value.prefix(65_804)
            let (dn, dx) = Self.nibble(delta)
            let (ln, lx) = Self.nibble(value.count)
            out.append(dn << 4 | ln)
            out.append(contentsOf: dx)
            out.append(contentsOf: lx)
            out.append(contentsOf: value)
        }
        if !payload.isEmpty {
            out.append(0xFF)
            out.append(contentsOf: payload)
        }
    }

    /// The 4-bit nibble and extension bytes for an option delta or length (§3.1).
    /// An option delta or length nibble with its extension bytes (13: one more byte + 13; 14: two more bytes + 269;
    /// 15: reserved), moving `i` past the extension.
    static func extendedNibble(_ nibble: Int, _ bytes: UnsafeRawBufferPointer, at i: inout Int) throws(CoAPParseError) -> Int {
        switch nibble {
        case 13:
            guard i < bytes.count else { throw .truncatedOption }
            defer { i += 1 }
            return Int(bytes[i]) + 13
        case 14:
            guard i + 1 < bytes.count else { throw .truncatedOption }
            defer { i += 2 }
            return (Int(bytes[i]) << 8 | Int(bytes[i + 1])) + 269
        case 15: throw .reservedOptionNibble
        default: return nibble
        }
    }

    static func nibble(_ v: Int) -> (UInt8, [UInt8]) {
        if v < 13 { return (UInt8(v), []) }
        if v < 269 { return (13, [UInt8(v - 13)]) }
        let e = v - 269
        return (14, [UInt8(e >> 8), UInt8(e & 0xFF)])
    }

    /// The values of every option with this number, in order.
    public func values(of number: UInt16) -> [[UInt8]] { options.filter { $0.number == number }.map(\.value) }

    /// The first option with this number.
    public func option(_ number: UInt16) -> CoAPOption? { options.first { $0.number == number } }

    /// The Uri-Path segments joined by `/`: what CoAP profiles' `match.coap` templates are matched against. A `/`
    /// inside a segment is written `%2F`, so it cannot fake a level.
    public var uriPath: String {
        var out = ""
        var first = true
        for option in options where option.number == CoAPOption.uriPath {
            if !first { out += "/" }
            first = false
            let segment = String(decoding: option.value, as: UTF8.self)
            out += segment.contains("/") ? segment.replacingSlashes() : segment
        }
        return out
    }
}

extension String {
    fileprivate func replacingSlashes() -> String {
        var out = ""
        for c in self { if c == "/" { out += "%2F" } else { out.append(c) } }
        return out
    }
}
