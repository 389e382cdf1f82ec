// Fuzz target `config-yaml`: the gateway configuration loader (`GatewayConfiguration.parse`, what `citygate run
// --config` reads) over arbitrary text. Every refusal must be a line-numbered error, never a trap.
//
// Input: the text of one configuration file (refused unless UTF-8).

import DeviceProfiles
import Foundation
import Gateway

#if CITYGATE_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = FuzzConfigYAML.run(FuzzSupport.input(data, size))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer, _ argv: UnsafeMutableRawPointer) -> CInt {
    FuzzSupport.writeSeedsIfRequested(FuzzConfigYAML.seeds)
    return 0
}
#endif

public enum FuzzConfigYAML {
    /// Parses `input` as a gateway configuration file.
    public static func run(_ input: [UInt8]) -> FuzzOutcome {
        guard let text = FuzzSupport.utf8(input) else { return .rejected }
        do {
            _ = try GatewayConfiguration.parse(yaml: text, file: "fuzz.yaml")
            return .accepted
        } catch {
            precondition(!error.message.isEmpty, "a configuration error without a message")
            return .rejected
        }
    }

    /// The shipped configuration as it is, with every documented default uncommented, and each top-level section
    /// of that alone (small seeds for a short `-max_len`).
    public static func seeds() -> [FuzzSeed] {
        var out: [FuzzSeed] = []
        for file in FuzzSupport.files(in: FuzzSupport.path("configs"), extensions: [".yaml"]) where !file.name.hasPrefix("rules/") {
            out.append(FuzzSeed(file.name, file.bytes))
            let text = String(decoding: file.bytes, as: UTF8.self)
            let full = FuzzSupport.yamlPieces(text, listKey: "", uncomment: true)
            out.append(FuzzSeed("\(file.name)-uncommented", text: full.joined()))
            let sections = ["data_dir", "profiles_dir", "log_level", "mqtt", "ingest", "registry", "dead_letters", "store", "alerts", "http",
                            "coap", "forwarder"]
            for section in sections.dropFirst(3) {
                let piece = FuzzSupport.yamlPieces(full.joined(), listKey: "", dropping: Set(sections).subtracting([section]))
                out.append(FuzzSeed("\(file.name)-\(section)", text: piece.joined()))
            }
        }
        return out
    }
}
