/// The value of one hex digit (either case), or nil: shared by the hex codecs and the JSON readers.
@inlinable @inline(__always)
public func hexDigitValue(_ b: UInt8) -> UInt8? {
    switch b {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
    default: nil
    }
}

/// The escape sequences of JSON strings (RFC 8259 §7), for the gateway's byte-level JSON readers (the profile
/// decoder's and the carrier push receivers').
public enum JSONEscape {
    /// Decodes the escape whose letter is at `index` (just after the backslash), appends its UTF-8 to `out` and
    /// moves `index` past it (past both halves of a surrogate pair). Returns nil, or what is wrong, with `index`
    /// where it went wrong.
    @inlinable
    public static func decode<Bytes: RandomAccessCollection>(_ bytes: Bytes, at index: inout Int, into out: inout [UInt8]) -> String?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        guard index < bytes.endIndex else { return "unterminated escape" }
        let e = bytes[index]
        index += 1
        switch e {
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "/"): out.append(0x2F)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            guard var scalar = hex4(bytes, at: &index) else { return index + 4 > bytes.endIndex ? "truncated \\u escape" : "invalid \\u escape" }
            if (0xD800..<0xDC00).contains(scalar) {
                guard index + 1 < bytes.endIndex, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    return "unpaired surrogate"
                }
                index += 2
                guard let low = hex4(bytes, at: &index) else { return "invalid \\u escape" }
                guard (0xDC00..<0xE000).contains(low) else { return "unpaired surrogate" }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                return "unpaired surrogate"
            }
            guard let u = Unicode.Scalar(scalar) else { return "invalid \\u escape" }
            out.append(contentsOf: String(Character(u)).utf8)
        default:
            index -= 1
            return "invalid escape"
        }
        return nil
    }

    /// Four hex digits at `index` as a value, moving `index` past them; nil (index unchanged) if they are not.
    @inlinable
    static func hex4<Bytes: RandomAccessCollection>(_ bytes: Bytes, at index: inout Int) -> UInt32? where Bytes.Element == UInt8, Bytes.Index == Int {
        guard index + 4 <= bytes.endIndex else { return nil }
        var v: UInt32 = 0
        for k in index..<index + 4 {
            guard let d = hexDigitValue(bytes[k]) else { return nil }
            v = v << 4 | UInt32(d)
        }
        index += 4
        return v
    }
}
