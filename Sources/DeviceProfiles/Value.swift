/// A value while decoding: numbers for readings, strings for identifiers and JSON text fields.
public enum Value: Sendable, Hashable, CustomStringConvertible {
    case null
    case number(Double)
    case string(String)

    /// The number, or a string that reads as a number.
    public var number: Double? {
        switch self {
        case .number(let d): return d
        case .string(let s): return Double(s.trimmingASCIIWhitespace())
        case .null: return nil
        }
    }

    /// Truthiness for conditions: non-zero numbers and non-empty strings.
    public var isTrue: Bool {
        switch self {
        case .number(let d): return d != 0 && !d.isNaN
        case .string(let s): return !s.isEmpty
        case .null: return false
        }
    }

    /// Text form: integers without a fraction.
    public var description: String {
        switch self {
        case .null: return "null"
        case .string(let s): return s
        case .number(let d):
            if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
            return String(d)
        }
    }
}
