import Catalog
import GatewayCore
import Logging
import ServiceLifecycle

/// Keeps the device registry durable and its online/offline states current: flushes dirty rows to SQLite and
/// sweeps for devices that went quiet, on a fixed interval, and once more on shutdown.
public struct RegistryService: Service {
    let registry: DeviceRegistry
    let interval: Duration
    let logger: Logger
    let onChanges: @Sendable ([DeviceStateChange]) -> Void

    /// Creates the service. `onChanges` receives online/offline transitions (alerts and uplink subscribe later).
    public init(registry: DeviceRegistry, interval: Duration, logger: Logger, onChanges: @escaping @Sendable ([DeviceStateChange]) -> Void = { _ in }) {
        self.registry = registry
        self.interval = interval
        self.logger = logger
        self.onChanges = onChanges
    }

    /// Runs until graceful shutdown, then flushes once more.
    public func run() async throws {
        defer { flush() }
        while !Task.isShuttingDownGracefully {
            // Graceful shutdown does not cancel a sleep by itself: wake at once instead of finishing the interval.
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break
            }
            flush()
            let changes = registry.sweep(nowMs: WallClock.nowMs())
            for c in changes where c.to == .offline {
                logger.info("Device offline", metadata: ["device.id": "\(c.device)"])
            }
            if !changes.isEmpty { onChanges(changes) }
        }
    }

    private func flush() {
        do {
            let n = try registry.flush()
            if n > 0 { logger.trace("Registry flushed", metadata: ["rows": "\(n)"]) }
        } catch {
            logger.error("Registry flush failed", metadata: ["error": "\(error)"])
        }
    }
}
