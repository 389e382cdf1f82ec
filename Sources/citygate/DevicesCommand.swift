import ArgumentParser
import Catalog
import DeviceProfiles
import Gateway
import GatewayCore
import Logging

struct DevicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "devices", abstract: "List the device registry: status, battery, signal, last seen.")
    @OptionGroup var options: ConfigOptions
    @Flag(help: "Only offline devices.") var offline = false
    @Option(help: "At most this many rows.") var limit = 100

    func run() async throws {
        let config = try options.load()
        let registry = try DeviceRegistry(path: config.catalogPath, configuration: config.registryConfiguration, logger: quietLogger())
        _ = registry.sweep(nowMs: WallClock.nowMs())
        var rows: [[String]] = [["DEVICE", "PROFILE", "FAMILY", "STATE", "LAST SEEN", "BATTERY", "RSRP", "SINR", "CSQ", "MESSAGES"]]
        let devices = registry.devices().filter { !offline || $0.state == .offline }.sorted { $0.lastSeenMs > $1.lastSeenMs }
        for d in devices.prefix(limit) {
            rows.append([
                d.id, "\(d.profileID)@\(d.profileVersion)", d.family, d.state.rawValue, ProfileTool.iso8601(d.lastSeenMs),
                d.battery.map { "\(Value.number($0.value))\($0.unit)" } ?? "-", d.rsrpDbm.map { "\(Value.number($0))dBm" } ?? "-",
                d.sinrDb.map { "\(Value.number($0))dB" } ?? "-", d.csqDbm.map { "\(Value.number($0))dBm" } ?? "-", "\(d.messageCount)",
            ])
        }
        out(ProfileTool.render(rows))
        let s = registry.summary
        out("\(s.total) devices: \(s.online) online, \(s.offline) offline\n")
    }
}
