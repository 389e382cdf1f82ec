import DeviceProfiles
import Gateway
import Testing

/// What the `config-yaml` fuzz target found (Tests/Fuzz/FailCases/config-yaml): a duration that overflowed while
/// parsing trapped the loader instead of naming the line.
@Suite struct ConfigurationLimitsTests {
    @Test func anOverflowingDurationIsALineNumberedError() {
        let yaml = """
            store:
              enabled: true
              partition: 1d
              max_age: 2222222222222222230d
            """
        #expect(throws: ProfileError.self) { try GatewayConfiguration.parse(yaml: yaml, file: "gateway.yaml") }
        do {
            _ = try GatewayConfiguration.parse(yaml: yaml, file: "gateway.yaml")
        } catch {
            #expect(error.line == 4)
            #expect(error.message.contains("must be a duration"))
        }
    }

    @Test func anImpossibleSizeIsALineNumberedError() {
        do {
            _ = try GatewayConfiguration.parse(yaml: "store:\n  max_bytes: inf GiB\n", file: "gateway.yaml")
            Issue.record("max_bytes: inf GiB was accepted")
        } catch {
            #expect(error.line == 2)
            #expect(error.message.contains("max_bytes"))
        }
    }
}
