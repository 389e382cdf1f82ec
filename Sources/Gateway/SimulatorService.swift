import Foundation
import GatewayCore
import Logging
import Mosquitto
import ServiceLifecycle
import Synchronization

/// Publishes a simulated city (`CitySimulator`) to a broker in real time: what `citygate simulate` and the demo run.
public final class SimulatorService: Service, Sendable {
    /// What it has published.
    public struct Stats: Sendable {
        /// Messages handed to the broker.
        public var published: Int
        /// Of those, anomalies.
        public var anomalies: Int
        /// Of those, deliberately malformed.
        public var malformed: Int
        /// Publish attempts that failed (broker away).
        public var failed: Int
    }

    private let client: MosquittoClient
    private let simulator: Mutex<CitySimulator>
    private let tickInterval: Duration
    private let logger: Logger
    private let counts = Mutex(Stats(published: 0, anomalies: 0, malformed: 0, failed: 0))

    /// Creates a publisher for `simulator` on the broker at host:port.
    public init(simulator: CitySimulator, host: String, port: Int, clientID: String = "citygate-simulator", tickInterval: Duration = .milliseconds(100), logger: Logger) throws {
        self.client = try MosquittoClient(configuration: .init(host: host, port: port, clientID: clientID, cleanSession: true)) { _ in }
        self.simulator = Mutex(simulator)
        self.tickInterval = tickInterval
        self.logger = logger
    }

    /// Totals so far.
    public var stats: Stats { counts.withLock { $0 } }

    /// Publishes until graceful shutdown.
    public func run() async throws {
        try client.start()
        defer { client.stop() }
        logger.info("Simulator publishing", metadata: ["devices": "\(simulator.withLock { $0.deviceCount })"])
        while !Task.isShuttingDownGracefully {
            let messages = simulator.withLock { $0.tick(atMs: WallClock.nowMs()) }
            var published = 0, anomalies = 0, malformed = 0, failed = 0
            for m in messages {
                do {
                    try client.publish(topic: m.topic, payload: m.payload, qos: .atLeastOnce)
                    published += 1
                    if m.kind == .anomaly { anomalies += 1 }
                    if m.kind == .malformed { malformed += 1 }
                } catch {
                    failed += 1
                }
            }
            counts.withLock {
                $0.published += published
                $0.anomalies += anomalies
                $0.malformed += malformed
                $0.failed += failed
            }
            do {
                try await Task.sleep(for: tickInterval)
            } catch {
                break
            }
        }
    }
}
