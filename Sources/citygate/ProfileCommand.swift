import ArgumentParser
import Foundation
import Gateway

struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile", abstract: "Write and test device profiles without touching Swift.",
        subcommands: [Validate.self, Decode.self, Test.self])

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check profile files; errors name file, line and column.")
        @Argument(help: "Profile files or directories.") var paths: [String]
        func run() throws {
            let o = ProfileTool.validate(paths: paths)
            out(o.text)
            if o.status != 0 { throw ExitCode(o.status) }
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Decode one payload with a profile and print the samples.")
        @Argument(help: "The profile file.") var file: String
        @Option(help: "The payload: hex for input raw, the text itself for ascii-hex/base64, JSON text for input json.") var payload: String
        @Option(help: "Topic to decode under (selects captures such as {deviceId} or {fport}).") var topic: String?
        @Option(name: .customLong("attr"), help: "Transport attribute key=value (repeatable).") var attributes: [String] = []
        @Flag(help: "Print JSON lines instead of a table.") var json = false
        func run() throws {
            var attrs: [String: String] = [:]
            for a in attributes {
                let parts = a.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { throw ValidationError("--attr takes key=value, found '\(a)'") }
                attrs[String(parts[0])] = String(parts[1])
            }
            let o = ProfileTool.decode(file: file, payload: payload, topic: topic, attributes: attrs, json: json)
            out(o.text)
            if o.status != 0 { throw ExitCode(o.status) }
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the inline test vectors of profiles; non-zero exit on any failure.")
        @Argument(help: "Profile files or directories (default: device-profiles).") var paths: [String] = ["device-profiles"]
        func run() throws {
            let o = ProfileTool.test(paths: paths)
            out(o.text)
            if o.status != 0 { throw ExitCode(o.status) }
        }
    }
}
