// Replays, without libFuzzer, what scripts/fuzz.sh uses and found: every crasher kept in Tests/Fuzz/FailCases/<target>/
// and every target's seeds, through the same `run` entry the fuzz binaries call (this test target compiles
// Tests/Fuzz without CITYGATE_FUZZ, so the libFuzzer entry points are left out).

import Foundation
import Testing

/// One fuzz target as the tests see it.
struct FuzzTarget: Sendable, CustomTestStringConvertible {
    let name: String
    let run: @Sendable ([UInt8]) -> FuzzOutcome
    let seeds: @Sendable () -> [FuzzSeed]

    var testDescription: String { name }

    static let all: [FuzzTarget] = [
        FuzzTarget(name: "profile-decode", run: FuzzProfileDecode.run, seeds: FuzzProfileDecode.seeds),
        FuzzTarget(name: "profile-yaml", run: FuzzProfileYAML.run, seeds: FuzzProfileYAML.seeds),
        FuzzTarget(name: "rules-yaml", run: FuzzRulesYAML.run, seeds: FuzzRulesYAML.seeds),
        FuzzTarget(name: "config-yaml", run: FuzzConfigYAML.run, seeds: FuzzConfigYAML.seeds),
        FuzzTarget(name: "coap", run: FuzzCoAP.run, seeds: FuzzCoAP.seeds),
        FuzzTarget(name: "push", run: FuzzPush.run, seeds: FuzzPush.seeds),
        FuzzTarget(name: "wal", run: FuzzWAL.run, seeds: FuzzWAL.seeds),
        FuzzTarget(name: "segment", run: FuzzSegment.run, seeds: FuzzSegment.seeds),
        FuzzTarget(name: "json", run: FuzzJSON.run, seeds: FuzzJSON.seeds),
        FuzzTarget(name: "expression", run: FuzzExpression.run, seeds: FuzzExpression.seeds),
    ]

    static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// A crasher kept in Tests/Fuzz/FailCases/<target>/<file>.
struct FailCase: Sendable, CustomTestStringConvertible {
    let target: String
    let file: String
    let bytes: [UInt8]

    var testDescription: String { "\(target)/\(file)" }

    static let directory = FuzzSupport.path("Tests/Fuzz/FailCases")

    static func all() -> [FailCase] {
        FuzzSupport.files(in: directory).compactMap { entry in
            let parts = entry.name.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].hasSuffix(".md") else { return nil }
            return FailCase(target: parts[0], file: parts[1], bytes: entry.bytes)
        }
    }
}

@Suite("Fuzz replay")
struct FuzzReplayTests {
    /// Each crasher once trapped (or broke an invariant) in its target; it must now run through in a child process
    /// (a trap there fails this test instead of taking the test runner down).
    @Test(arguments: FailCase.all())
    func failCaseNoLongerCrashes(_ failCase: FailCase) async {
        #expect(FuzzTarget.named(failCase.target) != nil, "Tests/Fuzz/FailCases/\(failCase.target) names no fuzz target")
        await #expect(processExitsWith: .success) { [target = failCase.target as String, bytes = failCase.bytes as [UInt8]] in
            _ = FuzzTarget.named(target)?.run(bytes)
        }
    }

    /// Every target's seeds run through the entry, and enough of them are accepted that fuzzing starts inside the
    /// code it means to test (a harness whose every input is refused explores nothing).
    @Test(arguments: FuzzTarget.all)
    func seedsReachTheCode(_ target: FuzzTarget) {
        let seeds = target.seeds()
        #expect(!seeds.isEmpty)
        #expect(Set(seeds.map(\.name)).count == seeds.count, "two seeds share a file name")
        let refused = seeds.filter { target.run($0.bytes) == .rejected }.map(\.name)
        switch target.name {
        case "profile-decode":
            // The shared device vectors are tried on every profile, so only the profiles' own vectors count here.
            let own = seeds.filter { $0.name.hasPrefix("ctx") }.map(\.name)
            #expect(own.count > 50)
            #expect(refused.filter { $0.hasPrefix("ctx") }.count * 4 < own.count, "refused: \(refused)")
        case "push", "expression", "json":
            // Some seeds are error cases on purpose (test vectors that expect a decode error, vectors tried on every
            // profile, an encrypted push); most must get through.
            #expect(refused.count * 2 < seeds.count, "refused: \(refused)")
        case "profile-yaml", "rules-yaml", "config-yaml":
            // The shipped files themselves must load; the pieces cut from them (one step or rule with the header,
            // one configuration section with its defaults uncommented) mostly do.
            #expect(refused.filter { $0.hasSuffix(".yaml") }.isEmpty, "refused: \(refused)")
            #expect(refused.count * 2 < seeds.count, "refused: \(refused)")
        case "wal":
            #expect(refused.sorted() == ["wal-flipped", "wal-torn"], "refused: \(refused)")
        default:
            // Shipped files, and frames and files written by the project's own writers: every one must be accepted.
            #expect(refused.isEmpty, "refused: \(refused)")
        }
    }

    /// Inputs the harnesses must refuse cleanly rather than mistake for good ones.
    @Test func emptyAndGarbageInputsAreRefused() {
        for target in FuzzTarget.all {
            // An empty configuration is all defaults and an empty rule file holds no rules; nothing else is valid empty.
            let expected: FuzzOutcome = ["config-yaml", "rules-yaml"].contains(target.name) ? .accepted : .rejected
            #expect(target.run([]) == expected, "\(target.name) on an empty input")
        }
        #expect(FuzzCoAP.run([0, 3, 0x80, 0, 0]) == .rejected)  // version 2
        #expect(FuzzSegment.run([1] + Array(repeating: 0, count: 64)) == .rejected)  // no magic
        #expect(FuzzWAL.run([3, 1, 0, 0, 0]) == .rejected)  // a torn header
    }
}
