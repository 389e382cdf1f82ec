import Logging
import ServiceLifecycle
import Synchronization

/// Logs each phase of a graceful shutdown with its duration.
///
/// The service group stops its services one at a time in reverse order (transports first, then the stages they
/// feed, the registry last); each service wrapped by `wrap` logs, when it has stopped, how long its own stop took
/// and how long the whole shutdown has taken so far:
///
///     Shutdown phase done  shutdown.phase=mqtt shutdown.phase_ms=41 shutdown.elapsed_ms=43
///
/// The last line (`registry`) gives the total. A service that ends by itself or with an error before any
/// shutdown began logs nothing here (the group reports that).
public final class ShutdownPhases: Sendable {
    private let began = Mutex<ContinuousClock.Instant?>(nil)
    private let logger: Logger

    /// Creates the recorder.
    public init(logger: Logger) {
        self.logger = logger
    }

    /// `service` with its stop logged as the phase `name`.
    public func wrap(_ service: any Service, name: String) -> any Service {
        PhaseService(base: service, name: name, phases: self)
    }

    /// Marks the start of a phase (the first one starts the shutdown); returns its start.
    fileprivate func start(_ name: String) -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        let first = began.withLock { b -> Bool in
            if b == nil {
                b = now
                return true
            }
            return false
        }
        if first { logger.notice("Shutdown started: stopping intake", metadata: ["shutdown.phase": "\(name)"]) }
        return now
    }

    fileprivate func done(_ name: String, since start: ContinuousClock.Instant) {
        let now = ContinuousClock.now
        let total = began.withLock { $0 }.map { now - $0 } ?? .zero
        logger.notice("Shutdown phase done", metadata: [
            "shutdown.phase": "\(name)", "shutdown.phase_ms": "\(Self.milliseconds(now - start))", "shutdown.elapsed_ms": "\(Self.milliseconds(total))",
        ])
    }

    static func milliseconds(_ d: Duration) -> Int64 {
        d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }
}

/// Runs `base`; when the group asks it to stop, times the stop.
private struct PhaseService: Service {
    let base: any Service
    let name: String
    let phases: ShutdownPhases

    func run() async throws {
        let start = PhaseStart()
        let (phases, name) = (self.phases, self.name)
        try await withGracefulShutdownHandler {
            try await base.run()
        } onGracefulShutdown: {
            let s = phases.start(name)
            start.instant.withLock { $0 = s }
        }
        if let s = start.instant.withLock({ $0 }) { phases.done(name, since: s) }
    }
}

/// When a phase's stop began (set from the shutdown handler).
private final class PhaseStart: Sendable {
    let instant = Mutex<ContinuousClock.Instant?>(nil)
}
