import DeviceProfiles
import Testing

/// Regressions for what fuzzing the profile language found (docs/reliability.md; the raw crashers are replayed from
/// Tests/Fuzz/FailCases by FuzzReplayTests). Each input here trapped or overflowed the stack before its fix.
@Suite struct FuzzFindingsTests {
    static func profile(expr: String) -> String {
        """
        id: p
        version: 1
        match: { mqtt: "t/{deviceId}" }
        decode:
          - { name: a, type: u8, expr: "\(expr)" }
        """
    }

    /// `1+1+…+1` with many terms built a tree so deep that parsing or evaluating it overflowed the stack.
    @Test func anExpressionWithTooManyTokensIsAnErrorWithItsLine() {
        let huge = Array(repeating: "1", count: 20_000).joined(separator: "+")
        #expect(throws: ProfileError.self) { try ProfileLoader.load(yaml: Self.profile(expr: huge)) }
        do {
            _ = try ProfileLoader.load(yaml: Self.profile(expr: huge), file: "huge.yaml")
        } catch {
            #expect(error.line == 5)
            #expect(error.message.contains("more than 512 tokens"))
        }
        #expect(throws: Never.self) { try ProfileLoader.load(yaml: Self.profile(expr: Array(repeating: "x", count: 200).joined(separator: "+"))) }
    }

    /// A long run of unary minus recursed once per sign, without the depth check parentheses had.
    @Test func deeplyNestedUnaryOperatorsAreRefused() {
        if case .failure(let reason) = ProfileExpression.evaluate(String(repeating: "-", count: 100_000) + "1") {
            #expect(reason.message.contains("tokens") || reason.message.contains("nested too deeply"))
        } else {
            Issue.record("100,000 unary minus signs parsed")
        }
        #expect(throws: ProfileError.self) { try ProfileLoader.load(yaml: Self.profile(expr: String(repeating: "-", count: 40) + "x")) }
        #expect(ProfileExpression.evaluate(String(repeating: "-", count: 30) + "2") == .success(.number(2)))
    }

    /// `byte(i)` converted any double to Int and trapped on 1e300, NaN or infinity; an offset near Int.max then
    /// overflowed the frame arithmetic.
    @Test(arguments: ["byte(1e300)", "byte(-1e300)", "byte(0/0)", "byte(pow(10, 400))", "byte(9223372036854774784)", "byte(-9223372036854774784)"])
    func byteOutsideTheFrameHasNoValue(_ text: String) {
        #expect(ProfileExpression.evaluate(text, in: .init(payload: [1, 2, 3])) == .success(.null))
    }

    @Test func byteStillReadsTheFrame() {
        let context = ProfileExpression.Context(payload: [0x10, 0x20, 0x30])
        #expect(ProfileExpression.evaluate("byte(0) + byte(-1)", in: context) == .success(.number(0x40)))
        #expect(ProfileExpression.evaluate("byte(2.9)", in: context) == .success(.number(0x30)))
        #expect(ProfileExpression.evaluate("byte(3)", in: context) == .success(.null))
        #expect(ProfileExpression.evaluate("byte(-4)", in: context) == .success(.null))
    }

    @Test func aFieldWhoseExpressionReadsAHugeOffsetDecodesWithoutIt() throws {
        let profile = try #require(try ProfileLoader.load(yaml: """
            id: p
            version: 1
            match: { mqtt: "t/{deviceId}" }
            decode:
              - { name: a, type: u8 }
              - { name: b, type: u8, expr: "byte(a * 1e300)" }
            """).first)
        let result = try profile.decode(payload: [7, 9], captures: ["deviceId": "d"], receiveTimeMs: 1_767_225_600_000)
        #expect(result.samples.map(\.metric) == ["a"])
    }
}

/// Durations, sizes and integers in profile, rule and configuration files: overflow gave traps (found by the
/// `config-yaml` fuzz target: `max_age: 2222222222222222230d`).
@Suite struct YAMLNumberLimitsTests {
    @Test(arguments: ["2222222222222222230d", "9223372036854775807h", "-9223372036854775807m", "106752d", "9223372036855s"])
    func aDurationThatOverflowsOrPassesThreeCenturiesIsNone(_ text: String) {
        #expect(YAMLReader.parseDurationSeconds(text) == nil)
        #expect(YAMLReader.parseDurationMilliseconds(text) == nil)
    }

    @Test func durationsUpToTheLimitStillParse() {
        #expect(YAMLReader.parseDurationSeconds("106751d") == 106_751 * 86_400)
        #expect(YAMLReader.parseDurationSeconds("-90s") == -90)
        #expect(YAMLReader.parseDurationMilliseconds("250ms") == 250)
        #expect(YAMLReader.parseDurationMilliseconds("1h") == 3_600_000)
        #expect(YAMLReader.parseDurationMilliseconds("-9223372036854775808ms") == nil)
        #expect(YAMLReader.parseDurationMilliseconds("9223372036854775807ms") == nil)
    }

    @Test func sizesThatNoInt64HoldsAreNone() {
        #expect(YAMLReader.parseByteSize("inf GiB") == nil)
        #expect(YAMLReader.parseByteSize("1e10TiB") == nil)
        #expect(YAMLReader.parseByteSize("10GiB") == 10 << 30)
        #expect(YAMLReader.parseByteSize("1.5KB") == 1_500)
    }

    @Test func anIntegerHasOneSign() {
        #expect(YAMLReader.parseInt("--9223372036854775808") == nil)
        #expect(YAMLReader.parseInt("+-5") == nil)
        #expect(YAMLReader.parseInt("-5") == -5)
        #expect(YAMLReader.parseInt("-0x1F") == -31)
        #expect(YAMLReader.parseInt("1_000") == 1_000)
    }
}
