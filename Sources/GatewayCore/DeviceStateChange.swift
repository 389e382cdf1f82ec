/// Whether a device is reporting as often as its profile says it should.
public enum DeviceState: String, Sendable, Hashable, CaseIterable, Codable {
    /// Heard from within its offline threshold.
    case online
    /// Silent for longer than its offline threshold.
    case offline
}

/// One online/offline transition, for later stages (alerts, uplink) to forward.
public struct DeviceStateChange: Sendable, Hashable {
    /// Device identifier.
    public var device: String
    /// State before.
    public var from: DeviceState
    /// State after.
    public var to: DeviceState
    /// When the transition was decided (Unix ms): the status's `seenMs` for offline → online, the sweep's `nowMs`
    /// for online → offline.
    public var atMs: Int64

    /// Creates a transition.
    public init(device: String, from: DeviceState, to: DeviceState, atMs: Int64) {
        self.device = device
        self.from = from
        self.to = to
        self.atMs = atMs
    }
}
