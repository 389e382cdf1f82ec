import DeviceProfiles
import Forwarder
import Gateway
import Mosquitto
import Testing

/// The `forwarder:` section of the configuration file.
struct ForwarderConfigurationTests {
    @Test func parsesWindowsOutboxAndBothSinkKinds() throws {
        let c = try GatewayConfiguration.parse(yaml: """
            data_dir: /var/lib/citygate
            mqtt: { client_id: box-7 }
            forwarder:
              enabled: true
              windows: [1m, { size: 1h, lateness: 10m }]
              outbox: { max_bytes: 256MiB, flush_interval: 500ms, keep_sent: true }
              backlog_alert_age: 30m
              sinks:
                - { name: vm, kind: http, url: "https://vm.example/api/v2/write", token: abc, gzip: false, batch_points: 5000,
                    backoff: { initial: 2s, max: 2m, jitter: 0.25 } }
                - { name: up, kind: mqtt, host: mqtt.example, port: 8883, tls: { ca_file: /etc/ca.crt }, topic: "p/{gateway}/{stream}" }
            """)
        #expect(c.forwarder.enabled)
        let f = c.forwarderConfiguration
        #expect(f.gatewayID == "box-7", "defaults to the MQTT client id")
        #expect(f.windows == [RollupWindow(sizeMs: 60_000, latenessMs: 30_000), RollupWindow(sizeMs: 3_600_000, latenessMs: 600_000)])
        #expect(f.maxBytes == 256 * 1_048_576)
        #expect(f.flushInterval == .milliseconds(500))
        #expect(f.keepSent)
        #expect(f.backlogAlertAgeMs == 1_800_000)
        #expect(f.outboxPath == "/var/lib/citygate/outbox.db")
        #expect(f.sinks.map(\.name) == ["vm", "up"])
        guard case .http(let h) = f.sinks[0].kind, case .mqtt(let m) = f.sinks[1].kind else {
            Issue.record("sink kinds")
            return
        }
        #expect(h.gateway == "box-7")
        #expect(h.token == "abc")
        #expect(!h.gzip)
        #expect(f.sinks[0].batchPoints == 5000)
        #expect(f.sinks[0].backoff == Backoff(initial: .seconds(2), maximum: .seconds(120), jitter: 0.25))
        #expect(m.client.host == "mqtt.example")
        #expect(m.client.tls?.caFile == "/etc/ca.crt")
        #expect(m.client.clientID == "citygate-uplink-box-7-up")
        #expect(m.topic == "p/{gateway}/{stream}")
    }

    @Test(arguments: [
        "forwarder: { sinks: [{ name: a, kind: http }] }",
        "forwarder: { sinks: [{ name: a, kind: smtp }] }",
        "forwarder: { sinks: [{ name: a, kind: http, url: 'http://x' }, { name: a, kind: http, url: 'http://y' }] }",
        "forwarder: { windows: [] }",
        "forwarder: { windows: [1m, 60s] }",
        "forwarder: { outbox: { max_bytes: 1KiB } }",
        "forwarder: { unknown: 1 }",
    ])
    func rejectsBadSections(yaml: String) {
        #expect(throws: ProfileError.self) { try GatewayConfiguration.parse(yaml: yaml) }
    }
}
