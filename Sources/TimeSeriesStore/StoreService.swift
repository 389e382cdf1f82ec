import GatewayCore
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the store's housekeeping (checkpoints of closed partitions, the ring's age limit) and closes it on
/// shutdown, after the transports listed later in the group have drained into it.
public struct StoreService: Service {
    let store: TimeSeriesStore
    let interval: Duration

    /// Creates the service.
    public init(store: TimeSeriesStore, interval: Duration = .seconds(30)) {
        self.store = store
        self.interval = interval
    }

    /// Runs until graceful shutdown; then commits the WAL and closes.
    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            // Graceful shutdown does not cancel a sleep by itself: wake at once instead of finishing the interval.
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break
            }
            if store.checkpointDue() {
                store.scheduleCheckpoint()
            }
        }
        try store.close()
    }
}

extension TimeSeriesStore {
    /// True when a partition has closed or the heads are over their limit and no checkpoint is under way.
    func checkpointDue() -> Bool {
        state.withLock { s in
            guard !s.checkpointScheduled, s.headPoints > 0 else { return false }
            let due = s.headPoints >= configuration.maxHeadPoints || hasClosedPartition(s)
            if due { s.checkpointScheduled = true }
            return due
        }
    }
}
