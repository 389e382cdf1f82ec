/// A profile (or rule, or config) file that cannot be loaded, with where and what.
public struct ProfileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file, or "<string>" for text given directly.
    public var file: String
    /// 1-based line, 0 when unknown.
    public var line: Int
    /// 1-based column, 0 when unknown.
    public var column: Int
    /// What is wrong, in the vendor's terms.
    public var message: String

    /// Creates an error.
    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `file:line:column: error: message`, the form editors and CI annotate.
    public var description: String {
        line > 0 ? "\(file):\(line):\(column): error: \(message)" : "\(file): error: \(message)"
    }
}

/// Why a payload could not be decoded. Carried into the dead-letter store.
public struct DecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The closed-set category, used as a metric label and for dead-letter filtering.
    public enum Kind: String, Sendable, Hashable {
        case malformed, integrity, decode, unknownDevice = "unknown_device", oversize, noProfile = "no_profile"
    }

    /// Category.
    public var kind: Kind
    /// Detail: field, offset, expectation.
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// `kind: message`.
    public var description: String { "\(kind.rawValue): \(message)" }
}
