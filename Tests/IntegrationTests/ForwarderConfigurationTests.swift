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
        #expect(h.gzipLevel == 1, "fastest gzip by default")
        #expect(h.fields == .all)
        #expect(f.sinks[0].maxInFlight == 2, "two requests on the wire by default")
        #expect(f.sinks[1].maxInFlight == 1, "an MQTT sink sends one batch at a time")
    }

    @Test func parsesInFlightGzipLevelAndFields() throws {
        let c = try GatewayConfiguration.parse(yaml: """
            forwarder:
              sinks:
                - { name: vm, kind: http, url: "http://127.0.0.1:8428/write", max_in_flight: 4, gzip_level: 6, fields: [avg, max] }
            """)
        let sink = c.forwarderConfiguration.sinks[0]
        guard case .http(let h) = sink.kind else {
            Issue.record("sink kind")
            return
        }
        #expect(sink.maxInFlight == 4)
        #expect(h.gzipLevel == 6)
        #expect(h.fields == [.avg, .max])
    }

    @Test(arguments: [
        ("forwarder:\n  sinks:\n    - { name: a, kind: http, url: 'http://x', max_in_flight: 0 }", 3, "max_in_flight must be 1 to 16"),
        ("forwarder:\n  sinks:\n    - { name: a, kind: http, url: 'http://x', gzip_level: 11 }", 3, "gzip_level must be 1"),
        ("forwarder:\n  sinks:\n    - name: a\n      kind: http\n      url: 'http://x'\n      fields: [avg, median]", 6, "unknown field 'median'"),
        ("forwarder:\n  sinks:\n    - { name: a, kind: http, url: 'http://x', fields: [] }", 3, "fields needs at least one"),
        ("forwarder:\n  sinks:\n    - { name: a, kind: mqtt, max_in_flight: 2 }", 3, "one batch at a time"),
    ])
    func rejectsBadSinkSettingsWithTheirLine(yaml: String, line: Int, message: String) {
        do {
            _ = try GatewayConfiguration.parse(yaml: yaml)
            Issue.record("accepted: \(yaml)")
        } catch let error as ProfileError {
            #expect(error.message.contains(message), "\(error)")
            #expect(error.line == line, "line-numbered: \(error)")
        } catch {
            Issue.record("\(error)")
        }
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
