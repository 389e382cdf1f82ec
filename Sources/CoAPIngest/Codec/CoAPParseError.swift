/// Why a datagram is not a well-formed CoAP message (RFC 7252 §3: a "message format error").
public enum CoAPParseError: Error, Sendable, Hashable {
    /// Fewer than the 4 header bytes.
    case truncatedHeader
    /// Version other than 1 (such messages are silently ignored, §3).
    case unsupportedVersion(UInt8)
    /// Token length 9-15 (reserved).
    case reservedTokenLength(UInt8)
    /// The datagram ends inside the token.
    case truncatedToken
    /// An option delta or length nibble of 15 that is not the payload marker.
    case reservedOptionNibble
    /// The datagram ends inside an option.
    case truncatedOption
    /// Option numbers beyond 65535.
    case optionNumberOverflow
    /// A payload marker followed by no payload.
    case emptyPayloadAfterMarker
    /// An empty message (code 0.00) with a token, options or payload.
    case nonEmptyEmptyMessage
}
