/// One CoAP option: a number and an opaque value (RFC 7252 §3.1, §5.10).
public struct CoAPOption: Sendable, Hashable {
    /// The option number (Uri-Path 11, Content-Format 12, Block1 27, ...).
    public var number: UInt16
    /// The value bytes; uint options are big-endian without leading zeros.
    public var value: [UInt8]

    /// Creates an option.
    public init(number: UInt16, value: [UInt8]) {
        self.number = number
        self.value = value
    }

    /// A string option (Uri-Path, Uri-Query), UTF-8.
    public init(number: UInt16, string: String) { self.init(number: number, value: Array(string.utf8)) }

    /// A uint option in its shortest form (0 is zero bytes).
    public init(number: UInt16, uint: UInt32) {
        var bytes: [UInt8] = []
        var v = uint
        while v > 0 {
            bytes.insert(UInt8(v & 0xFF), at: 0)
            v >>= 8
        }
        self.init(number: number, value: bytes)
    }

    /// The value read as a uint (up to 4 bytes; longer values are not uints and give nil).
    public var uintValue: UInt32? { Self.uint(value[...]) }

    /// Reads up to 4 big-endian bytes as a uint.
    static func uint(_ bytes: ArraySlice<UInt8>) -> UInt32? {
        guard bytes.count <= 4 else { return nil }
        return bytes.reduce(0) { ($0 << 8) | UInt32($1) }
    }

    /// True for critical options (odd numbers, §5.4.1): a recipient that does not know one must refuse the message.
    public var isCritical: Bool { number & 1 == 1 }

    /// Uri-Host (3).
    public static let uriHost: UInt16 = 3
    /// ETag (4).
    public static let eTag: UInt16 = 4
    /// Uri-Port (7).
    public static let uriPort: UInt16 = 7
    /// Uri-Path (11): one per path segment.
    public static let uriPath: UInt16 = 11
    /// Content-Format (12).
    public static let contentFormat: UInt16 = 12
    /// Max-Age (14): on 5.03, seconds after which the client may retry.
    public static let maxAge: UInt16 = 14
    /// Uri-Query (15): one per `key=value`.
    public static let uriQuery: UInt16 = 15
    /// Accept (17).
    public static let accept: UInt16 = 17
    /// Block2 (23, RFC 7959).
    public static let block2: UInt16 = 23
    /// Block1 (27, RFC 7959).
    public static let block1: UInt16 = 27
    /// Size2 (28, RFC 7959).
    public static let size2: UInt16 = 28
    /// Size1 (60): the size of the request body, in a request; the largest accepted, in a 4.13.
    public static let size1: UInt16 = 60
    /// No-Response (258, RFC 7967): response classes the client does not want.
    public static let noResponse: UInt16 = 258
    /// Request-Tag (292, RFC 9175): tells concurrent block-wise transfers apart.
    public static let requestTag: UInt16 = 292

    /// Options the server understands; any other critical option makes it refuse the request (4.02).
    public static let understood: Set<UInt16> = [uriHost, uriPort, uriPath, contentFormat, uriQuery, accept, block1, block2, size1, size2, noResponse, requestTag]
}
