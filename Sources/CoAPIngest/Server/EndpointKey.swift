import NIOCore

/// A remote UDP endpoint packed into integers: cheap to hash and compare, unlike `SocketAddress`.
///
/// IPv4 uses `low` for the address; IPv6 uses both halves. A Unix-domain or unknown address packs to zero and so
/// shares one key: only loopback tests send from those.
public struct EndpointKey: Sendable, Hashable {
    /// Upper 64 address bits (IPv6).
    public var high: UInt64
    /// Lower 64 address bits (IPv6), or the IPv4 address.
    public var low: UInt64
    /// The UDP port.
    public var port: UInt16

    /// Packs an address. Reads the socket address bytes: port at offset 2, the IPv4 address at 4, the IPv6 address
    /// at 8 (the layout of `sockaddr_in` / `sockaddr_in6` on Linux and the BSDs alike), network byte order.
    public init(_ address: SocketAddress) {
        var h: UInt64 = 0
        var l: UInt64 = 0
        var p: UInt16 = 0
        switch address {
        case .v4(let a):
            withUnsafeBytes(of: a.address) { raw in
                p = UInt16(raw[2]) << 8 | UInt16(raw[3])
                for i in 4..<8 { l = l << 8 | UInt64(raw[i]) }
            }
        case .v6(let a):
            withUnsafeBytes(of: a.address) { raw in
                p = UInt16(raw[2]) << 8 | UInt16(raw[3])
                for i in 8..<16 { h = h << 8 | UInt64(raw[i]) }
                for i in 16..<24 { l = l << 8 | UInt64(raw[i]) }
            }
        default:
            break
        }
        high = h
        low = l
        port = p
    }

    /// Builds a key from parts (tests).
    public init(high: UInt64 = 0, low: UInt64, port: UInt16) {
        self.high = high
        self.low = low
        self.port = port
    }
}

/// An exchange: a message ID from one endpoint (RFC 7252 §4.5 deduplicates on exactly this pair).
public struct ExchangeKey: Sendable, Hashable {
    /// Who sent it.
    public var endpoint: EndpointKey
    /// Its message ID.
    public var messageID: UInt16

    /// Creates a key.
    public init(endpoint: EndpointKey, messageID: UInt16) {
        self.endpoint = endpoint
        self.messageID = messageID
    }
}
