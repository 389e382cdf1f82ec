// Fuzz target `rules-yaml`: the alert rule file parser (`RuleSet.parse`, the code `citygate rules validate` and the
// gateway's loader run) over arbitrary text. Every refusal must be a line-numbered error, never a trap.
//
// Input: the text of one rule file (refused unless UTF-8, as `RuleSet.load` refuses it). A fixed set of channel names
// is known, so the check of `channels:` references runs too.

import Alerts
import DeviceProfiles
import Foundation

#if CITYGATE_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = FuzzRulesYAML.run(FuzzSupport.input(data, size))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer, _ argv: UnsafeMutableRawPointer) -> CInt {
    FuzzSupport.writeSeedsIfRequested(FuzzRulesYAML.seeds)
    return 0
}
#endif

public enum FuzzRulesYAML {
    static let channels: Set<String> = ["mqtt", "webhook", "control-room", "ops"]

    /// Parses `input` as one rule file.
    public static func run(_ input: [UInt8]) -> FuzzOutcome {
        guard let text = FuzzSupport.utf8(input) else { return .rejected }
        do {
            let set = try RuleSet.parse(files: [("fuzz.yaml", text)], knownChannels: channels)
            precondition(Set(set.rules.map(\.id)).count == set.rules.count, "two rules with one id")
            return .accepted
        } catch {
            precondition(!error.errors.isEmpty, "a rule set error without errors")
            for e in error.errors { precondition(!e.message.isEmpty, "a rule error without a message") }
            return .rejected
        }
    }

    /// The shipped rule files, whole and one rule at a time (with the file's device tags).
    public static func seeds() -> [FuzzSeed] {
        var out: [FuzzSeed] = []
        for file in FuzzSupport.files(in: FuzzSupport.path("configs/rules"), extensions: [".yaml", ".yml"]) {
            out.append(FuzzSeed(file.name, file.bytes))
            for (n, piece) in FuzzSupport.yamlPieces(String(decoding: file.bytes, as: UTF8.self), listKey: "rules").enumerated() {
                out.append(FuzzSeed("\(file.name)-rule\(n)", text: piece))
            }
        }
        return out
    }
}
