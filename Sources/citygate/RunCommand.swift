import ArgumentParser
import Foundation
import Gateway
import Logging

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the gateway until SIGTERM or SIGINT.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.load()
        let logger = bootstrapLogging(level: config.logLevel)
        GatewayMetrics.bootstrap()
        for name in GatewayConfiguration.unknownEnvironmentVariables(ProcessInfo.processInfo.environment) {
            logger.warning("Environment variable names no configuration key; ignored", metadata: ["env": "\(name)"])
        }
        let runtime = try GatewayRuntime(configuration: config, logger: logger)
        try await runtime.run()
        logger.notice("Gateway stopped")
    }
}
