/// A CoAP code: 3-bit class and 5-bit detail, written `c.dd` (RFC 7252 §3, §12.1).
public struct CoAPCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The code byte.
    public var rawValue: UInt8

    /// Wraps a code byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `class.detail`, e.g. `CoAPCode(2, 4)` for 2.04 Changed.
    public init(_ codeClass: UInt8, _ detail: UInt8) { rawValue = (codeClass << 5) | (detail & 0x1F) }

    /// 0 request/empty, 2 success, 4 client error, 5 server error.
    public var codeClass: UInt8 { rawValue >> 5 }
    /// The detail part.
    public var detail: UInt8 { rawValue & 0x1F }

    /// True for 0.01-0.31 (methods).
    public var isRequest: Bool { codeClass == 0 && detail != 0 }
    /// True for 2.xx-5.xx.
    public var isResponse: Bool { (2...5).contains(codeClass) }

    /// `2.04`.
    public var description: String {
        let d = detail < 10 ? "0\(detail)" : "\(detail)"
        return "\(codeClass).\(d)"
    }

    /// 0.00: an empty message (ACK, RST, ping).
    public static let empty = CoAPCode(0, 0)
    /// 0.01 GET.
    public static let get = CoAPCode(0, 1)
    /// 0.02 POST.
    public static let post = CoAPCode(0, 2)
    /// 0.03 PUT.
    public static let put = CoAPCode(0, 3)
    /// 0.04 DELETE.
    public static let delete = CoAPCode(0, 4)
    /// 2.01 Created.
    public static let created = CoAPCode(2, 1)
    /// 2.04 Changed: the uplink is stored.
    public static let changed = CoAPCode(2, 4)
    /// 2.31 Continue: a Block1 block was received, send the next (RFC 7959 §2.9.1).
    public static let `continue` = CoAPCode(2, 31)
    /// 4.00 Bad Request.
    public static let badRequest = CoAPCode(4, 0)
    /// 4.02 Bad Option: an unrecognised critical option (RFC 7252 §5.4.1).
    public static let badOption = CoAPCode(4, 2)
    /// 4.04 Not Found: no profile routes the path, or the device is unknown.
    public static let notFound = CoAPCode(4, 4)
    /// 4.05 Method Not Allowed.
    public static let methodNotAllowed = CoAPCode(4, 5)
    /// 4.08 Request Entity Incomplete: a Block1 transfer misses blocks (RFC 7959 §2.9.2).
    public static let requestEntityIncomplete = CoAPCode(4, 8)
    /// 4.13 Request Entity Too Large.
    public static let requestEntityTooLarge = CoAPCode(4, 13)
    /// 5.00 Internal Server Error.
    public static let internalServerError = CoAPCode(5, 0)
    /// 5.03 Service Unavailable: overload or the store cannot take data; Max-Age says when to retry.
    public static let serviceUnavailable = CoAPCode(5, 3)
}
