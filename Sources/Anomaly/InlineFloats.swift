/// 48 `Float`s stored inline (a homogeneous tuple), so a detector's buffers live in the struct itself: no heap
/// allocation, no reference counting, a fixed `MemoryLayout` size. (`InlineArray` would do, but needs macOS 26.)
struct InlineFloats48: Sendable {
    /// The number of elements.
    static let count = 48
    private var storage: (
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

    /// All zeros.
    init() {}

    /// The element at `index` (0 ..< 48); out-of-range indices trap.
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

/// 32 `Float`s stored inline (a homogeneous tuple), so a detector's buffers live in the struct itself: no heap
/// allocation, no reference counting, a fixed `MemoryLayout` size. (`InlineArray` would do, but needs macOS 26.)
struct InlineFloats32: Sendable {
    /// The number of elements.
    static let count = 32
    private var storage: (
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

    /// All zeros.
    init() {}

    /// The element at `index` (0 ..< 32); out-of-range indices trap.
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
