import CZstd

/// A zstd failure: either the library's own error (with its `ZSTD_getErrorName` text) or a refusal by this wrapper
/// (a frame too large for the caller's limit, input that is not a zstd frame).
public struct ZstdError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as a closed set.
    public enum Kind: Sendable, Hashable {
        /// libzstd returned an error code; `code` and `message` say which.
        case library
        /// The decompressed size is, or would become, larger than `maxSize`.
        case contentTooLarge
        /// The input does not start with a zstd frame, or ends in the middle of one.
        case invalidFrame
        /// A context could not be allocated.
        case outOfMemory
    }

    /// The closed-set kind.
    public let kind: Kind
    /// For `.library`, zstd's `ZSTD_ErrorCode` (the negated `size_t` result, as zstd encodes errors); else 0.
    public let code: Int
    /// `ZSTD_getErrorName` text for library errors; otherwise the wrapper's explanation.
    public let message: String

    /// Creates an error.
    public init(kind: Kind, code: Int = 0, message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    /// `zstd: Unknown frame descriptor` / `zstd: content size 2000000 exceeds maxSize 1000000`.
    public var description: String { "zstd: \(message)" }
}

extension ZstdError {
    /// Maps a `size_t` result to an error: the one place zstd codes are interpreted.
    ///
    /// zstd.h: results are sizes unless `ZSTD_isError(result)`; an error result is `(size_t)-ZSTD_ErrorCode`.
    @inline(__always)
    static func check(_ result: Int) throws(ZstdError) -> Int {
        if ZSTD_isError(result) != 0 {
            throw ZstdError(kind: .library, code: 0 &- result, message: String(cString: ZSTD_getErrorName(result)))
        }
        return result
    }
}
