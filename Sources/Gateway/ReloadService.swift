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
    /// Reloads profiles and rules, logging what happened; returns (profiles, rules) loaded or nil where refused.
    @discardableResult
    public func reloadAll(logger: Logger) -> (profiles: Int?, rules: Int?) {
        var result: (profiles: Int?, rules: Int?) = (nil, nil)
        do {
            result.profiles = try reloadProfiles()
            logger.notice("Profiles reloaded", metadata: ["profiles.count": "\(result.profiles!)"])
        } catch {
            logger.error("Profiles refused; the running set stays", metadata: ["error": "\(error.description)"])
        }
        do {
            result.rules = try reloadRules()
            logger.notice("Alert rules reloaded", metadata: ["alerts.rules": "\(result.rules!)"])
        } catch {
            logger.error("Alert rules refused; the running rules stay", metadata: ["error": "\(error.description)"])
        }
        return result
    }
}
