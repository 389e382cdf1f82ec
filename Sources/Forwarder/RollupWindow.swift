/// One rollup window size with its allowed lateness.
///
/// Windows are aligned to the Unix epoch: a window of `sizeMs` covers `[k * sizeMs, (k + 1) * sizeMs)`. It closes
/// (is emitted) once the stage's clock has passed its end by `latenessMs`; a sample that arrives for a window that
/// has closed is late: counted and dropped (see `RollupEngine`).
public struct RollupWindow: Sendable, Hashable, Comparable {
    /// Window length in milliseconds.
    public var sizeMs: Int64
    /// How long after the window's end samples are still accepted into it.
    public var latenessMs: Int64

    /// Creates a window. `sizeMs` must be positive; lateness is clamped at 0.
    public init(sizeMs: Int64, latenessMs: Int64) {
        precondition(sizeMs > 0, "window size must be positive")
        self.sizeMs = sizeMs
        self.latenessMs = max(0, latenessMs)
    }

    /// The defaults: 1 min (30 s lateness), 5 min (1 min), 1 h (5 min).
    public static let defaults: [RollupWindow] = [
        RollupWindow(sizeMs: 60_000, latenessMs: 30_000),
        RollupWindow(sizeMs: 300_000, latenessMs: 60_000),
        RollupWindow(sizeMs: 3_600_000, latenessMs: 300_000),
    ]

    /// The label used as the `window` tag: `1m`, `5m`, `1h`, `1d`, `10s`, `1500ms`.
    public var label: String { Self.label(sizeMs) }

    /// The label of a window size in milliseconds.
    public static func label(_ ms: Int64) -> String {
        if ms % 86_400_000 == 0 { return "\(ms / 86_400_000)d" }
        if ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1_000 == 0 { return "\(ms / 1_000)s" }
        return "\(ms)ms"
    }

    /// Start of the window holding `timeMs` (floor, also for negative times).
    @inline(__always)
    public func start(of timeMs: Int64) -> Int64 {
        let r = timeMs % sizeMs
        return r >= 0 ? timeMs - r : timeMs - r - sizeMs
    }

    /// Orders by size.
    public static func < (lhs: RollupWindow, rhs: RollupWindow) -> Bool { lhs.sizeMs < rhs.sizeMs }
}
