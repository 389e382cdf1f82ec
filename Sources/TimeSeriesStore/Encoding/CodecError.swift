/// A chunk codec refused its input: it ended early, or it is not something an encoder in this module writes.
///
/// Codecs decode bytes read from disk, so every failure is data, never a trap (docs/formats/segment.md).
public struct CodecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as a closed set.
    public enum Kind: Sendable, Hashable {
        /// The input ended in the middle of a value.
        case truncated
        /// The input is malformed: an unknown encoding byte, an over-long varint, an out-of-range field.
        case corrupt
    }

    /// The closed-set kind.
    public let kind: Kind
    /// What was being read and where, e.g. `timestamp 3 of 60: varint runs past byte 17`.
    public let message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// `truncated: …` or `corrupt: …`.
    public var description: String { "\(kind == .truncated ? "truncated" : "corrupt"): \(message)" }
}
