import Alerts
import AsyncHTTPClient
import Catalog
import CoAPIngest
import DeviceProfiles
import Forwarder
import Foundation
import GatewayCore
import Logging
import MQTTIngest
import Mosquitto
import PushIngest
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
    /// The CoAP and plain UDP source, when enabled.
    public let coap: CoAPIngestService?
    /// The time-series store, when enabled.
    public let store: TimeSeriesStore?
    /// The alert engine, when enabled.
    public let alerts: AlertEngine?
    /// Alert history and delivery cursors.
    public let alertStore: AlertStore?
    /// The live alert feed (Server-Sent Events in the HTTP API).
    public let alertFeed: AlertFeed
    let alertService: AlertService?
    /// What transports that acknowledge after storage (CoAP CON, carrier push) hand their messages to.
    public let durableIngest: DurableIngestor
    /// The carrier push receivers (CTWing, OneNET) over `durableIngest`; served by the HTTP server when `http.enabled`.
    public let pushReceiver: PushReceiver
    /// The uplink to the province platform (rollups, outbox, sinks), when enabled.
    public let forwarder: ForwarderService?
    /// API tokens (hashed), in `api.db`.
    public let apiTokens: APITokenStore
    /// The operator audit log, in `api.db`.
    public let auditLog: AuditLog
    /// Per-client request limits of the API.
    let apiRateLimiter: APIRateLimiter
    /// Failed-authentication lockout of the API (nil: off).
    let apiAuthFailures: APIAuthFailures?
    /// Versioned profiles and rule files (history in `api.db`) and their hot reload.
    public let configManager: ConfigManager
    let logger: Logger

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
        apiTokens = try APITokenStore(path: configuration.apiDatabasePath)
        auditLog = try AuditLog(path: configuration.apiDatabasePath)
        apiRateLimiter = APIRateLimiter(perSecond: configuration.http.api.rateLimitPerSecond, burst: configuration.http.api.rateLimitBurst)
        let api = configuration.http.api
        apiAuthFailures = api.lockoutMaxFailures == 0 ? nil : APIAuthFailures(
            maxFailures: api.lockoutMaxFailures, window: .milliseconds(api.lockoutWindowMs), lockout: .milliseconds(api.lockoutMs))
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
        // The uplink's backlog alert goes through the alert engine (built below): a cell both closures can reach.
        let alertsCell = AlertEngineCell()
        if configuration.forwarder.enabled {
            try FileManager.default.createDirectory(atPath: (configuration.outboxPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            forwarder = try ForwarderService(configuration: configuration.forwarderConfiguration, logger: logger) { sink, firing, ageMs in
                if firing {
                    logger.warning("Uplink backlog older than its alert age", metadata: ["uplink.sink": "\(sink)", "uplink.oldest_age_ms": "\(ageMs)"])
                } else {
                    logger.notice("Uplink backlog back within its alert age", metadata: ["uplink.sink": "\(sink)"])
                }
                alertsCell.engine?.report(rule: Self.uplinkBacklogRule.id, subject: sink, breaching: firing, value: Double(ageMs) / 1000)
            }
        } else {
            forwarder = nil
        }
        self.forwarder = forwarder
        alertFeed = AlertFeed()
        if configuration.alerts.enabled {
            let (engine, alertStore, service) = try Self.makeAlerts(
                configuration: configuration, registry: registry, feed: alertFeed, forwarder: forwarder, logger: logger)
            alerts = engine
            alertsCell.engine = engine
            self.alertStore = alertStore
            alertService = service
        } else {
            alerts = nil
            alertStore = nil
            alertService = nil
        }
        var stages: [any SampleSink] = store.map { [$0] } ?? []
        if let alerts { stages.append(alerts) }
        var onStateChanges: (@Sendable ([DeviceStateChange]) -> Void)?
        if let forwarder {
            stages.append(forwarder.stage)
            onStateChanges = { changes in forwarder.enqueue(changes.map(UplinkEvent.status)) }
        }
        pipeline = Pipeline(registry: registry, deadLetters: deadLetters, downstream: stages + downstream, logger: logger, onStateChanges: onStateChanges)
        durableIngest = DurableIngestor(decoder: decoder, pipeline: pipeline, registry: registry, store: store, storeStage: store == nil ? nil : 0, logger: logger)
        pushReceiver = PushReceiver(configuration: configuration.http.pushConfiguration, ingest: durableIngest, logger: logger)
        if configuration.mqtt.enabled {
            let ingest = MQTTIngestConfiguration(
                client: configuration.mqttClient, subscriptions: configuration.subscriptions(for: set),
                queueCapacity: configuration.mqtt.queueCapacity, maxBatchSize: configuration.mqtt.maxBatch)
            mqtt = try MQTTIngestService(configuration: ingest, decoder: decoder, sink: pipeline, logger: logger)
        } else {
            mqtt = nil
        }
        if configuration.coap.enabled {
            for listener in configuration.coap.udpListeners where !set.udpProfileIDs.contains(listener.profile) {
                throw GatewayError.profiles("coap.udp_listeners: port \(listener.port) names profile '\(listener.profile)', which is not loaded or has no 'match: { udp: true }'")
            }
            coap = CoAPIngestService(configuration: configuration.coapIngest, ingest: durableIngest, logger: logger)
        } else {
            coap = nil
        }
        configManager = ConfigManager(
            repository: try ConfigRepository(path: configuration.apiDatabasePath), profilesDirectory: configuration.profilesDirectory,
            rulesDirectory: configuration.alerts.enabled ? configuration.alerts.rulesDirectory : nil, knownChannels: configuration.alerts.channelNames,
            limits: configuration.decodeLimits, maxPayloadBytes: configuration.ingest.maxPayloadBytes, decoder: decoder, alerts: alerts,
            subscribedFilters: configuration.mqtt.enabled ? Set(set.subscriptionFilters) : nil, logger: logger)
        configManager.recordStartup()
        logger.info("Gateway configured", metadata: [
            "profiles.count": "\(set.profiles.count)", "catalog.path": "\(configuration.catalogPath)",
            "devices.known": "\(registry.count)",
        ])
    }

    /// Services in dependency order: the registry first (stopped last, so its final flush sees everything),
    /// then the transports. Each logs its shutdown phase with its duration (`ShutdownPhases`).
    public func services(extra: [any Service] = []) -> [any Service] {
        let forwarder = self.forwarder
        var list: [(String, any Service)] = [
            ("registry", RegistryService(registry: registry, interval: .milliseconds(Int64(configuration.registry.flushIntervalSeconds * 1000)), logger: logger,
                                         onChanges: { changes in forwarder?.enqueue(changes.map(UplinkEvent.status)) })),
        ]
        // The store is closed (WAL committed and fsynced) after everything that writes to it has stopped.
        if let store { list.append(("store", StoreService(store: store))) }
        if let alertService { list.append(("alerts", alertService)) }
        // After the store, before the transports: on shutdown ingest drains into the rollup stage, then the
        // forwarder commits its last cut.
        if let forwarder { list.append(("forwarder", forwarder)) }
        if let mqtt { list.append(("mqtt", mqtt)) }
        // After the store: stopped before it, so pushes in flight still reach the WAL.
        if let http = httpService() { list.append(("http", http)) }

        if let coap { list.append(("coap", coap)) }
        let phases = ShutdownPhases(logger: logger)
        return list.map { phases.wrap($0.1, name: $0.0) } + extra
    }

    /// How long a graceful shutdown may take before the remaining services are cancelled.
    public static let maximumGracefulShutdown: Duration = .seconds(8)

    /// Runs until SIGTERM or SIGINT, then shuts down in reverse order; SIGHUP reloads profiles and rules.
    public func run(extra: [any Service] = []) async throws {
        try await serviceGroup(extra: [ReloadService(runtime: self, logger: logger)] + extra, signals: true).run()
    }

    /// The group to run; `signals: false` for embedding (tests, benchmarks), which stop it with
    /// `triggerGracefulShutdown()`.
    public func serviceGroup(extra: [any Service] = [], signals: Bool) -> ServiceGroup {
        var groupConfiguration = ServiceGroupConfiguration(
            services: services(extra: extra).map { .init(service: $0) },
            gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [], logger: logger)
        // systemd kills at TimeoutStopSec=10s (edge/citygate.service): past 8 s the group cancels what is left
        // (each service still commits what it holds on cancellation) rather than be killed mid-write.
        groupConfiguration.maximumGracefulShutdownDuration = Self.maximumGracefulShutdown
        return ServiceGroup(configuration: groupConfiguration)
    }

    /// Re-reads the profiles directory; keeps the running set when the new one does not load.
    public func reloadProfiles() throws(ProfileSetError) -> Int {
        let set = try ProfileSet.load(directory: configuration.profilesDirectory, limits: configuration.decodeLimits,
                                      maxPayloadBytes: configuration.ingest.maxPayloadBytes)
        decoder.replace(with: set)
        return set.profiles.count
    }
}

extension GatewayRuntime {
    /// The built-in alert the uplink raises when a sink's oldest unsent point is older than its alert age.
    static let uplinkBacklogRule: AlertRule = {
        var rule = AlertRule(id: "uplink-backlog-old", summary: "Uplink backlog older than its alert age (link to the province platform down?)",
                             condition: .external)
        rule.severity = .major
        return rule
    }()

    static func makeAlerts(configuration: GatewayConfiguration, registry: DeviceRegistry, feed: AlertFeed, forwarder: ForwarderService?, logger: Logger) throws
        -> (AlertEngine, AlertStore, AlertService)
    {
        let a = configuration.alerts
        let rules: RuleSet
        do {
            rules = try RuleSet.load(directory: a.rulesDirectory, knownChannels: a.channelNames)
        } catch {
            throw GatewayError.rules(error.description)
        }
        let store = try AlertStore(path: (configuration.dataDirectory as NSString).appendingPathComponent("alerts.db"))
        var channels: [any AlertChannel] = []
        if a.mqtt.enabled {
            var client = configuration.mqttClient
            if let host = a.mqtt.host { client.host = host }
            if let port = a.mqtt.port { client.port = port }
            client.clientID = "\(configuration.mqtt.clientID)-alerts"
            client.cleanSession = true
            client.sessionExpirySeconds = 0
            channels.append(try MQTTAlertChannel(configuration: client, gateway: a.gatewayID, topicPrefix: a.mqtt.topicPrefix))
        }
        for w in a.webhooks {
            channels.append(WebhookAlertChannel(name: w.name, url: w.url, secret: w.secret, gateway: a.gatewayID, client: HTTPClient.shared))
        }
        let wiring = AlertService.wiring(channelNames: channels.map(\.name), feed: feed)
        let deliver = wiring.onEvents
        // Alerts also go upstream (issue "forwarding"): keyed by alert id and state, so a replay overwrites.
        let gatewayID = configuration.alerts.gatewayID
        let onEvents: @Sendable ([AlertEvent]) -> Void
        if let forwarder {
            onEvents = { events in
                deliver(events)
                forwarder.enqueue(events.map { Self.uplinkEvent($0, gateway: gatewayID) })
            }
        } else {
            onEvents = deliver
        }
        let engine = try AlertEngine(
            rules: rules, store: store,
            configuration: .init(defaultReportIntervalMs: Int64(configuration.registry.defaultReportIntervalSeconds) * 1000),
            systemRules: forwarder == nil ? [] : [uplinkBacklogRule], logger: logger, onEvents: onEvents)
        engine.seed(devices: registry.devices().map { (id: $0.id, profile: $0.profileID, family: $0.family, reportIntervalSeconds: $0.reportIntervalSeconds) })
        var serviceConfiguration = AlertService.Configuration()
        serviceConfiguration.retentionMs = a.retentionMs
        let service = AlertService(engine: engine, store: store, channels: channels, configuration: serviceConfiguration, wiring: wiring, logger: logger)
        return (engine, store, service)
    }

    static func uplinkEvent(_ e: AlertEvent, gateway: String) -> UplinkEvent {
        UplinkEvent.alert(
            alertID: "\(e.alert.id)", rule: e.alert.rule, device: e.alert.device, severity: e.alert.severity.rawValue, state: e.kind.rawValue,
            value: e.alert.lastValue ?? e.alert.value ?? 0, timeMs: e.timeMs, detailsJSON: String(decoding: e.jsonBody(gateway: gateway), as: UTF8.self))
    }

    /// Re-reads the rule files; keeps the running rules when the new ones do not load.
    public func reloadRules() throws(RuleSetError) -> Int {
        guard let alerts else { return 0 }
        let set = try RuleSet.load(directory: configuration.alerts.rulesDirectory, knownChannels: configuration.alerts.channelNames)
        alerts.replaceRules(set)
        return set.rules.count
    }
}

/// Lets the forwarder's backlog callback, made before the alert engine, reach it once it exists.
final class AlertEngineCell: @unchecked Sendable {
    private let lock = NSLock()
    private var _engine: AlertEngine?
    var engine: AlertEngine? {
        get { lock.withLock { _engine } }
        set { lock.withLock { _engine = newValue } }
    }
}

/// Startup failures, stated for an operator.
public enum GatewayError: Error, CustomStringConvertible {
    /// Profiles did not load.
    case profiles(String)
    /// A local tool (mosquitto) is missing or failed.
    case tool(String)
    /// Alert rules did not load.
    case rules(String)

    /// The message.
    public var description: String {
        switch self {
        case .profiles(let s): "device profiles failed to load:\n\(s)"
        case .tool(let s): s
        case .rules(let s): "alert rules failed to load:\n\(s)"
        }
    }
}
