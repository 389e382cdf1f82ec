/// Zigzag mapping of signed to unsigned integers (protobuf's `sint64`): 0, −1, 1, −2, … → 0, 1, 2, 3, …, so numbers
/// near zero of either sign become small varints.
public enum ZigZag {
    /// Maps `value` to its zigzag form. Total: every `Int64` has one.
    @inline(__always)
    public static func encode(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }

    /// Inverse of `encode(_:)`. Total: every `UInt64` maps back to one `Int64`.
    @inline(__always)
    public static func decode(_ value: UInt64) -> Int64 {
        Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1)))
    }
}
