/// A fixed number of `Float`s stored inline (a homogeneous tuple), so a detector's buffers live in the struct
/// itself: no heap allocation, no reference counting, a fixed `MemoryLayout` size. (`InlineArray` would do, but
/// needs macOS 26.) Conformers give the tuple and its length; element access and `fill` are shared.
protocol InlineFloats: Sendable {
    /// The homogeneous tuple of `count` floats.
    associatedtype Storage: Sendable
    /// The number of elements.
    static var count: Int { get }
    /// The elements.
    var storage: Storage { get set }
}

extension InlineFloats {
    /// The element at `index` (0 ..< count); out-of-range indices trap.
    subscript(index: Int) -> Float {
        get {
            precondition(index >= 0 && index < Self.count, "index out of range")
            return withUnsafeBytes(of: storage) { $0.load(fromByteOffset: index * 4, as: Float.self) }
        }
        set {
            precondition(index >= 0 && index < Self.count, "index out of range")
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: newValue, toByteOffset: index * 4, as: Float.self) }
        }
    }

    /// Sets every element to `value`.
    mutating func fill(_ value: Float) {
        for i in 0..<Self.count { self[i] = value }
    }
}

/// 48 inline `Float`s, all zero at first.
struct InlineFloats48: InlineFloats {
    static let count = 48
    var storage: (
        Float, Float, Float, Float, Float, Float, Float, Float,
        Float, Float, Float, Float, Float, Float, Float, Float,
        Float, Float, Float, Float, Float, Float, Float, Float,
        Float, Float, Float, Float, Float, Float, Float, Float,
        Float, Float, Float, Float, Float, Float, Float, Float,
        Float, Float, Float, Float, Float, Float, Float, Float
    ) = (
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0
    )
}

/// 32 inline `Float`s, all zero at first.
struct InlineFloats32: InlineFloats {
    static let count = 32
    var storage: (
        Float, Float, Float, Float, Float, Float, Float, Float,
        Float, Float, Float, Float, Float, Float, Float, Float,
        Float, Float, Float, Float, Float, Float, Float, Float,
        Float, Float, Float, Float, Float, Float, Float, Float
    ) = (
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0
    )
}
