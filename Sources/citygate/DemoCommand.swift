import ArgumentParser
import Foundation
import Gateway
import Logging
import Catalog
import ServiceLifecycle
import UnixSignals

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Broker + gateway + simulated devices of all three families, with a live summary.")

    @Option(help: "Use this broker (host:port) instead of starting a local mosquitto.") var broker: String?
    @Option(help: "Simulated devices per device model.") var devicesPerModel = 20
    @Option(help: "Report this many times faster than real devices (60: a 1-minute interval becomes 1 second).") var speed = 60.0
    @Option(help: "Stop after this many seconds (0: run until Ctrl-C).") var duration = 0
    @Option(help: "Where the demo keeps its catalog.") var dataDir = "demo-data"
    @Option(help: "Device profiles directory.") var profiles = "device-profiles"
    @Option(help: "Alert rules directory.") var rules = "configs/rules"
    @Option(help: "Port of the HTTP API and console on 127.0.0.1 (0: no HTTP server).") var httpPort = 8080

    func run() async throws {
        let logger = bootstrapLogging(level: ProcessInfo.processInfo.environment["CITYGATE_LOG_LEVEL"] ?? "warning")
        GatewayMetrics.bootstrap()
        var local: LocalBroker?
        var host = "127.0.0.1"
        var port = 1883
        if let b = broker {
            let parts = b.split(separator: ":")
            guard parts.count == 2, let p = Int(parts[1]) else { throw ValidationError("--broker takes host:port") }
            host = String(parts[0])
            port = p
        } else {
            local = try LocalBroker()
            port = local!.port
            out("mosquitto started on 127.0.0.1:\(port)\n")
        }
        defer { local?.stop() }

        var config = GatewayConfiguration()
        config.dataDirectory = dataDir
        config.profilesDirectory = profiles
        config.alerts.rulesDirectory = rules
        config.alerts.gatewayID = "demo"
        config.mqtt.host = host
        config.mqtt.port = port
        config.mqtt.clientID = "citygate-demo"
        config.mqtt.extraSubscriptions = CitySimulator.unroutedTopicFilters
        config.registry.offlineMinimumSeconds = 30
        if httpPort > 0 {
            config.http.enabled = true
            config.http.host = "127.0.0.1"
            config.http.port = httpPort
        }
        let runtime = try GatewayRuntime(configuration: config, logger: logger)
        if httpPort > 0 {
            // A fresh operator token each run (the previous one is revoked), printed for the console.
            try runtime.apiTokens.revoke(name: "demo-operator")
            let token = try runtime.apiTokens.create(name: "demo-operator", role: .operator)
            out("console: http://127.0.0.1:\(httpPort)/console/  sign in with the operator token\n  \(token)\n")
            out("API:     curl -H 'Authorization: Bearer \(token)' http://127.0.0.1:\(httpPort)/v1/alerts\n")
        }
        var simulator = CitySimulator(devicesPerModel: devicesPerModel, seed: 2026)
        simulator.intervalScale = 1 / speed
        let publisher = try SimulatorService(simulator: simulator, host: host, port: port, logger: logger)
        out("gateway: \(simulator.deviceCount) simulated devices over \(simulator.models.count) models, reporting \(Int(speed))× faster than real; catalog in \(dataDir)/\n")
        out("inspect while it runs: citygate devices / citygate deadletter list / citygate alerts list  (with CITYGATE_DATA_DIR=\(dataDir))\n")
        out("alerts go to mqtt://127.0.0.1:\(port) under citygate/alerts/#  (try: mosquitto_sub -p \(port) -t 'citygate/alerts/#' -v)\n\n")
        let summary = SummaryService(runtime: runtime, simulator: publisher) { out($0) }
        let group = runtime.serviceGroup(extra: [publisher, summary], signals: true)
        try await runGroup(group, for: duration)
        let s = runtime.pipeline.stats
        out("\nstopped: \(s.messages) messages, \(s.samples) samples, \(runtime.registry.count) devices, \(s.deadLetterTotal) dead letters\n")
    }
}

/// Runs a service group, and with a duration, shuts it down gracefully when the time is up: in reverse order,
/// exactly as SIGTERM would (the summary and simulator stop, ingest drains into the store, the store commits, the
/// registry flushes).
func runGroup(_ group: ServiceGroup, for seconds: Int) async throws {
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        if seconds > 0 {
            tasks.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                await group.triggerGracefulShutdown()
            }
        }
        try await tasks.next()
        tasks.cancelAll()
    }
}

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate", abstract: "Publish realistic streams of all three device families to a broker.")
    @Option(help: "Broker host.") var host = "127.0.0.1"
    @Option(help: "Broker port.") var port = 1883
    @Option(help: "Simulated devices per device model.") var devicesPerModel = 20
    @Option(help: "Report this many times faster than real devices.") var speed = 60.0
    @Option(help: "Random seed (same seed, same city).") var seed: UInt64 = 2026
    @Option(help: "Stop after this many seconds (0: until Ctrl-C).") var duration = 0

    func run() async throws {
        let logger = bootstrapLogging(level: "info")
        var simulator = CitySimulator(devicesPerModel: devicesPerModel, seed: seed)
        simulator.intervalScale = 1 / speed
        let publisher = try SimulatorService(simulator: simulator, host: host, port: port, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: publisher)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await runGroup(group, for: duration)
        let s = publisher.stats
        out("published \(s.published) (\(s.anomalies) anomalies, \(s.malformed) malformed), \(s.failed) failed\n")
    }
}
