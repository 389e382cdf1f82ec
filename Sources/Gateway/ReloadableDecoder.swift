import DeviceProfiles
import GatewayCore
import Synchronization

/// The decoder transports hold: it reads the current `ProfileSet`, which a reload swaps in one step, so messages
/// in flight finish with the set they started with and none are lost during a reload.
public final class ReloadableDecoder: MessageDecoder, Sendable {
    private let current: Mutex<ProfileSet>

    /// Starts with `profiles`.
    public init(_ profiles: ProfileSet) { current = Mutex(profiles) }

    /// The set in use.
    public var profiles: ProfileSet { current.withLock { $0 } }

    /// Swaps in a new set (already validated by its loader).
    public func replace(with profiles: ProfileSet) { current.withLock { $0 = profiles } }

    /// Decodes with the current set.
    public func decode(_ message: RawMessage, into batch: inout SampleBatch) {
        let set = current.withLock { $0 }
        set.decode(message, into: &batch)
    }
}
