// Fuzz target `profile-yaml`: the profile loader (YAML → compiled profiles, every error line-numbered) over arbitrary
// text, then a `ProfileSet` of what loaded and each profile's own inline test vectors, so fuzzed layouts,
// expressions and test payloads also reach the decoder. The loader must never trap, whatever the YAML says.
//
// Input: the text of one profile file (refused unless UTF-8, as `ProfileLoader.load(file:)` refuses it).

import DeviceProfiles
import Foundation

#if CITYGATE_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = FuzzProfileYAML.run(FuzzSupport.input(data, size))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer, _ argv: UnsafeMutableRawPointer) -> CInt {
    FuzzSupport.writeSeedsIfRequested(FuzzProfileYAML.seeds)
    return 0
}
#endif

public enum FuzzProfileYAML {
    /// Loads `input` as a profile file; on success builds a set and runs the inline tests.
    public static func run(_ input: [UInt8]) -> FuzzOutcome {
        guard let text = FuzzSupport.utf8(input) else { return .rejected }
        let profiles: [Profile]
        do {
            profiles = try ProfileLoader.load(yaml: text, file: "fuzz.yaml")
        } catch {
            precondition(!error.message.isEmpty, "a profile error without a message")
            precondition(error.line >= 0 && error.column >= 0, "a profile error with a negative position")
            return .rejected
        }
        precondition(!profiles.isEmpty, "a profile file loaded to no profile without an error")
        guard let set = try? ProfileSet(profiles) else { return .rejected }
        for profile in set.profiles.values {
            for outcome in ProfileTestRunner.run(profile) {
                precondition(outcome.profileID == profile.id, "a test outcome for another profile")
            }
        }
        return .accepted
    }

    /// Every shipped profile file, and per file one small profile for each of its decode steps (its header and that
    /// step alone; later steps may name fields it lacks, which is a clean error), so a short `-max_len` still
    /// starts from every construct.
    public static func seeds() -> [FuzzSeed] {
        var out: [FuzzSeed] = []
        for file in FuzzSupport.files(in: FuzzSupport.path("device-profiles"), extensions: [".yaml", ".yml"]) {
            let name = file.name.replacingOccurrences(of: "/", with: "-")
            out.append(FuzzSeed(name, file.bytes))
            let pieces = FuzzSupport.yamlPieces(String(decoding: file.bytes, as: UTF8.self), listKey: "decode", dropping: ["tests", "notes", "description"])
            for (n, piece) in pieces.enumerated() { out.append(FuzzSeed("\(name)-step\(n)", text: piece)) }
        }
        return out
    }
}
