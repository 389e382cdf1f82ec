/// Which queue of the outbox an entry belongs to: alerts, device status changes, or the rollups of one window
/// size. Each sink keeps one cursor per stream.
///
/// Priority (what a sink sends first): alerts, then status changes, then rollups from the coarsest window to the
/// finest. Overflow drops in the opposite order: the finest rollups first, oldest first; alerts never.
public struct UplinkStream: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Stored value: -2 alerts, -1 status changes, otherwise the window size in milliseconds.
    public let rawValue: Int64

    /// Wraps a stored value.
    public init(rawValue: Int64) { self.rawValue = rawValue }

    /// Alert transitions.
    public static let alerts = UplinkStream(rawValue: -2)
    /// Device status changes.
    public static let status = UplinkStream(rawValue: -1)
    /// Rollups of one window size.
    public static func rollups(windowMs: Int64) -> UplinkStream { UplinkStream(rawValue: windowMs) }

    /// True for rollup streams.
    public var isRollup: Bool { rawValue > 0 }

    /// `alerts`, `status`, or `rollup_1m`: metric label and status display.
    public var description: String {
        switch rawValue {
        case -2: "alerts"
        case -1: "status"
        default: "rollup_\(RollupWindow.label(rawValue))"
        }
    }

    /// Send order: alerts < status < coarse rollups < fine rollups.
    public static func < (lhs: UplinkStream, rhs: UplinkStream) -> Bool {
        if lhs.isRollup != rhs.isRollup { return !lhs.isRollup }
        if !lhs.isRollup { return lhs.rawValue < rhs.rawValue }
        return lhs.rawValue > rhs.rawValue
    }

    /// May overflow drop this stream's entries? Never for alerts.
    public var isDroppable: Bool { rawValue != UplinkStream.alerts.rawValue }
}
