/// The value of a Block1/Block2 option (RFC 7959 §2.2): block number, more flag and size exponent.
public struct BlockOption: Sendable, Hashable {
    /// Block number (0 to 2^20 - 1).
    public var number: UInt32
    /// More blocks follow.
    public var more: Bool
    /// Size exponent: the block holds 2^(szx + 4) bytes (16 to 1024).
    public var szx: UInt8

    /// Creates a block value. `szx` must be 0...6.
    public init(number: UInt32, more: Bool, szx: UInt8) {
        self.number = number
        self.more = more
        self.szx = szx
    }

    /// Reads an option value of 0-3 bytes; nil for longer values, SZX 7 (reserved) or a block number that does
    /// not fit 20 bits.
    public init?(_ value: [UInt8]) {
        guard value.count <= 3, let v = CoAPOption.uint(value[...]) else { return nil }
        let szx = UInt8(v & 0x7)
        guard szx != 7 else { return nil }
        self.init(number: v >> 4, more: v & 0x8 != 0, szx: szx)
    }

    /// Bytes per block.
    public var size: Int { 1 << (Int(szx) + 4) }

    /// Byte offset of this block in the body.
    public var offset: Int { Int(number) * size }

    /// The option carrying this value.
    public func option(_ number: UInt16) -> CoAPOption {
        CoAPOption(number: number, uint: self.number << 4 | (more ? 0x8 : 0) | UInt32(szx))
    }

    /// The SZX for a block size (16...1024, a power of two), rounding down.
    public static func szx(forSize size: Int) -> UInt8 {
        var s: UInt8 = 0
        while s < 6 && (1 << (Int(s) + 5)) <= size { s += 1 }
        return s
    }
}
