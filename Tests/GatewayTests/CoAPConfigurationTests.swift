import Foundation
import Gateway
import GatewayTesting
import Logging
import Testing

/// The `coap:` section: parsing, and UDP listeners that name a profile unable to take them.
@Suite struct CoAPConfigurationTests {
    @Test func theSectionParses() throws {
        let c = try GatewayConfiguration.parse(yaml: """
            coap:
              enabled: true
              host: 0.0.0.0
              port: 5684
              per_device_rate: 0
              max_body_bytes: 4096
              block_timeout: 30s
              retry_after: 5s
              udp_listeners:
                - { port: 5700, profile: dragino-ndds75 }
                - { port: 5701, profile: milesight-em400-mud-nb, host: 10.0.0.1 }
            """)
        #expect(c.coap.enabled)
        #expect(c.coap.host == "0.0.0.0" && c.coap.port == 5684)
        #expect(c.coap.perDeviceRate == 0)
        #expect(c.coap.maxBodyBytes == 4096)
        #expect(c.coap.blockTimeoutMs == 30_000)
        #expect(c.coap.retryAfterSeconds == 5)
        #expect(c.coap.udpListeners == [.init(port: 5700, profile: "dragino-ndds75"), .init(port: 5701, profile: "milesight-em400-mud-nb", host: "10.0.0.1")])
    }

    @Test func mistakesNameTheKey() {
        #expect { try GatewayConfiguration.parse(yaml: "coap:\n  prot: 5683\n") } throws: { "\($0)".contains("unknown key 'coap.prot'") }
        #expect { try GatewayConfiguration.parse(yaml: "coap:\n  udp_listeners:\n    - { port: 5700 }\n") } throws: { "\($0)".contains("needs port and profile") }
        #expect { try GatewayConfiguration.parse(yaml: "coap:\n  max_body_bytes: 8\n") } throws: { "\($0)".contains("16 to 1048576") }
    }

    @Test func aUDPListenerMustNameAProfileThatTakesBareDatagrams() throws {
        let data = try TemporaryDirectory()
        var c = GatewayConfiguration()
        c.dataDirectory = data.path
        c.profilesDirectory = SimulatorTests.profilesDirectory
        c.mqtt.enabled = false
        c.coap.enabled = true
        c.coap.udpListeners = [.init(port: 5700, profile: "milesight-em500-pp")]  // no match.udp: its id is in the topic
        #expect { try GatewayRuntime(configuration: c, logger: Logger(label: "t")) } throws: { "\($0)".contains("match: { udp: true }") }
        c.coap.udpListeners = [.init(port: 5700, profile: "dragino-ndds75")]
        #expect(try GatewayRuntime(configuration: c, logger: Logger(label: "t")).coap != nil)
    }
}
