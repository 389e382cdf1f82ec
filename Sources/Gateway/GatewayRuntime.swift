import Catalog
import DeviceProfiles
import Forwarder
import Foundation
import GatewayCore
import Logging
import MQTTIngest
import Mosquitto
import ServiceLifecycle
import TimeSeriesStore
import UnixSignals

/// The composed gateway: configuration, profiles, catalog, pipeline and transports, ready to run as one
/// `ServiceGroup`. Everything a CLI command or a test needs to start a real gateway in-process.
public final class GatewayRuntime: Sendable {
    /// The configuration in force.
    public let configuration: GatewayConfiguration
    /// Decoder over the loaded profiles (reloadable).
    public let decoder: ReloadableDecoder
    /// Device registry.
    public let registry: DeviceRegistry
    /// Dead-letter store.
    public let deadLetters: DeadLetterStore
    /// Where batches land.
    public let pipeline: Pipeline
    /// The MQTT source, when enabled.
    public let mqtt: MQTTIngestService?
    /// The time-series store, when enabled.
    public let store: TimeSeriesStore?
    /// What transports that acknowledge after storage (CoAP CON, carrier push) hand their messages to.
    public let durableIngest: DurableIngestor
    /// The uplink to the province platform (rollups, outbox, sinks), when enabled.
    public let forwarder: ForwarderService?
    private let logger: Logger

    /// Builds the gateway. Fails, with every error listed, when profiles or the catalog cannot be loaded.
    public init(configuration: GatewayConfiguration, downstream: [any SampleSink] = [], logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let set: ProfileSet
        do {
            set = try ProfileSet.load(directory: configuration.profilesDirectory, limits: configuration.decodeLimits,
                                      maxPayloadBytes: configuration.ingest.maxPayloadBytes)
        } catch {
            throw GatewayError.profiles(error.description)
        }
        guard !set.profiles.isEmpty else { throw GatewayError.profiles("no profiles found in \(configuration.profilesDirectory)") }
        decoder = ReloadableDecoder(set)
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        registry = try DeviceRegistry(path: configuration.catalogPath, configuration: configuration.registryConfiguration, logger: logger)
        deadLetters = try DeadLetterStore(path: configuration.catalogPath, maxRows: configuration.deadLetters.maxRows, logger: logger)
        if configuration.store.enabled {
            var sc = StoreConfiguration(directory: configuration.storeDirectory)
            sc.partitionMs = configuration.store.partitionMs
            sc.commitInterval = .milliseconds(configuration.store.commitIntervalMs)
            sc.maxBytes = configuration.store.maxBytes
            sc.maxAgeMs = configuration.store.maxAgeMs > 0 ? configuration.store.maxAgeMs : nil
            store = try TimeSeriesStore(configuration: sc, logger: logger)
        } else {
            store = nil
        }
        let forwarder: ForwarderService?
        if configuration.forwarder.enabled {
            try FileManager.default.createDirectory(atPath: (configuration.outboxPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            forwarder = try ForwarderService(configuration: configuration.forwarderConfiguration, logger: logger) { sink, firing, ageMs in
                if firing {
                    logger.warning("Uplink backlog older than its alert age", metadata: ["uplink.sink": "\(sink)", "uplink.oldest_age_ms": "\(ageMs)"])
                } else {
                    logger.notice("Uplink backlog back within its alert age", metadata: ["uplink.sink": "\(sink)"])
                }
            }
        } else {
            forwarder = nil
        }
        self.forwarder = forwarder
        var stages: [any SampleSink] = store.map { [$0] } ?? []
        var onStateChanges: (@Sendable ([DeviceStateChange]) -> Void)?
        if let forwarder {
            stages.append(forwarder.stage)
            onStateChanges = { changes in forwarder.enqueue(changes.map(UplinkEvent.status)) }
        }
        pipeline = Pipeline(registry: registry, deadLetters: deadLetters, downstream: stages + downstream, logger: logger, onStateChanges: onStateChanges)
        durableIngest = DurableIngestor(decoder: decoder, pipeline: pipeline, store: store, storeStage: store == nil ? nil : 0, logger: logger)
        if configuration.mqtt.enabled {
            let ingest = MQTTIngestConfiguration(
                client: configuration.mqttClient, subscriptions: configuration.subscriptions(for: set),
                queueCapacity: configuration.mqtt.queueCapacity, maxBatchSize: configuration.mqtt.maxBatch)
            mqtt = try MQTTIngestService(configuration: ingest, decoder: decoder, sink: pipeline, logger: logger)
        } else {
            mqtt = nil
        }
        logger.info("Gateway configured", metadata: [
            "profiles.count": "\(set.profiles.count)", "catalog.path": "\(configuration.catalogPath)",
            "devices.known": "\(registry.count)",
        ])
    }

    /// Services in dependency order: the registry first (stopped last, so its final flush sees everything),
    /// then the transports.
    public func services(extra: [any Service] = []) -> [any Service] {
        let forwarder = self.forwarder
        var list: [any Service] = [
            RegistryService(registry: registry, interval: .milliseconds(Int64(configuration.registry.flushIntervalSeconds * 1000)), logger: logger,
                            onChanges: { changes in forwarder?.enqueue(changes.map(UplinkEvent.status)) }),
        ]
        if let store { list.append(StoreService(store: store)) }
        // After the store, before the transports: on shutdown ingest drains into the rollup stage, then the
        // forwarder commits its last cut.
        if let forwarder { list.append(forwarder) }
        if let mqtt { list.append(mqtt) }
        return list + extra
    }

    /// Runs until SIGTERM or SIGINT, then shuts down in reverse order.
    public func run(extra: [any Service] = []) async throws {
        try await serviceGroup(extra: extra, signals: true).run()
    }

    /// The group to run; `signals: false` for embedding (tests, benchmarks), which stop it with
    /// `triggerGracefulShutdown()`.
    public func serviceGroup(extra: [any Service] = [], signals: Bool) -> ServiceGroup {
        ServiceGroup(configuration: .init(
            services: services(extra: extra).map { .init(service: $0) },
            gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [], logger: logger))
    }

    /// Re-reads the profiles directory; keeps the running set when the new one does not load.
    public func reloadProfiles() throws(ProfileSetError) -> Int {
        let set = try ProfileSet.load(directory: configuration.profilesDirectory, limits: configuration.decodeLimits,
                                      maxPayloadBytes: configuration.ingest.maxPayloadBytes)
        decoder.replace(with: set)
        return set.profiles.count
    }
}

/// Startup failures, stated for an operator.
public enum GatewayError: Error, CustomStringConvertible {
    /// Profiles did not load.
    case profiles(String)
    /// A local tool (mosquitto) is missing or failed.
    case tool(String)

    /// The message.
    public var description: String {
        switch self {
        case .profiles(let s): "device profiles failed to load:\n\(s)"
        case .tool(let s): s
        }
    }
}
