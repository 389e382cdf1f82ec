import Alerts
import DeviceProfiles
import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads device profiles and alert rules on SIGHUP. A set that does not load is refused with its errors and
/// the running one stays; messages keep flowing throughout (the decoder swaps its set atomically).
public struct ReloadService: Service {
    let runtime: GatewayRuntime
    let logger: Logger

    /// Creates the service.
    public init(runtime: GatewayRuntime, logger: Logger) {
        self.runtime = runtime
        self.logger = logger
    }

    /// Waits for SIGHUP until shutdown.
    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await withGracefulShutdownHandler {
            for await _ in signals.cancelOnGracefulShutdown() {
                runtime.reloadAll(logger: logger)
            }
        } onGracefulShutdown: {}
    }
}

extension GatewayRuntime {
    /// Reloads profiles and rules (through `configManager`, so files changed on disk are recorded as versions),
    /// logging what happened; returns (profiles, rules) loaded or nil where refused.
    @discardableResult
    public func reloadAll(logger: Logger) -> (profiles: Int?, rules: Int?) {
        let outcome = configManager.reload()
        var result: (profiles: Int?, rules: Int?) = (nil, nil)
        if let p = outcome.profiles {
            if p.loaded {
                result.profiles = p.count
                logger.notice("Profiles reloaded", metadata: ["profiles.count": "\(p.count)", "profiles.recorded": "\(p.recorded.map { "\($0.name)@\($0.version)" })"])
            } else {
                logger.error("Profiles refused; the running set stays", metadata: ["error": "\(p.errors.map(\.text).joined(separator: "\n"))"])
            }
        }
        if let r = outcome.rules {
            if r.loaded {
                result.rules = r.count
                logger.notice("Alert rules reloaded", metadata: ["alerts.rules": "\(r.count)", "alerts.recorded": "\(r.recorded.map { "\($0.name)@\($0.version)" })"])
            } else {
                logger.error("Alert rules refused; the running rules stay", metadata: ["error": "\(r.errors.map(\.text).joined(separator: "\n"))"])
            }
        } else {
            result.rules = 0
        }
        return result
    }
}
