import ArgumentParser
import Foundation
import Gateway
import Logging

@main
struct CityGate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "citygate",
        abstract: "Smart-city IoT ingestion gateway: MQTT ingest, device profiles, registry and dead letters.",
        subcommands: [RunCommand.self, DemoCommand.self, SimulateCommand.self, ProfileCommand.self, DeadLetterCommand.self, QueryCommand.self, ExportCommand.self, StoreCommand.self, DebugCommand.self,
                      DevicesCommand.self, AlertsCommand.self, RulesCommand.self, UplinkCommand.self, TokenCommand.self, AuditCommand.self, BenchCommand.self, NABCommand.self]
    )

    /// The arguments, read back from /proc/self/cmdline when the runtime saw none: under an LD_PRELOAD library such
    /// as libfaketime (the fault tests' clock jumps) Swift's `CommandLine.arguments` comes up empty on Linux.
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if CommandLine.arguments.count <= 1, let raw = FileManager.default.contents(atPath: "/proc/self/cmdline") {
            arguments = raw.split(separator: 0, omittingEmptySubsequences: false).dropFirst().map { String(decoding: $0, as: UTF8.self) }
            if arguments.last == "" { arguments.removeLast() }
        }
        await main(arguments)
    }
}

/// Options shared by commands that open a gateway configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Gateway configuration file (YAML). Defaults are built in; CITYGATE_* variables override.")
    var config: String?

    func load() throws -> GatewayConfiguration {
        if let path = config { return try GatewayConfiguration.load(file: path) }
        return try GatewayConfiguration.fromEnvironment()
    }
}

/// Bootstraps logging once, at the configured level, to standard error.
func bootstrapLogging(level: String) -> Logger {
    let lvl = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        var h = StreamLogHandler.standardError(label: label)
        h.logLevel = lvl
        return h
    }
    var logger = Logger(label: "citygate")
    logger.logLevel = lvl
    return logger
}

/// A logger for the inspection commands (devices, deadletter, query, export): problems only, no bootstrap, so
/// their output stays the table the operator asked for.
func quietLogger() -> Logger {
    var logger = Logger(label: "citygate")
    logger.logLevel = .warning
    return logger
}

/// Writes to standard output without buffering surprises.
func out(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
