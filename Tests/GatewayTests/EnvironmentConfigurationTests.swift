import DeviceProfiles
import Forwarder
import Foundation
import Gateway
import GatewayTesting
import Mosquitto
import Testing

/// `CITYGATE_<SECTION>_<KEY>` overrides over a configuration file.
@Suite struct EnvironmentConfigurationTests {
    let file = """
        data_dir: /srv/data
        log_level: info
        mqtt:
          host: broker.local
          username: citygate
          password_file: /nonexistent/only-read-without-the-override
        http:
          enabled: true
          ctwing: { token: from-file }
        alerts:
          webhooks:
            - { name: city-ops, url: "https://ops.example/hook", secret: "file-secret-0123456789" }
        forwarder:
          enabled: true
          sinks:
            - { name: province-vm, kind: http, url: "https://vm.example/write", token: file-token }
            - { name: province-mqtt, kind: mqtt, host: mqtt.example, username: gw }
        """

    @Test func secretsDirectoriesAndHTTPAddressComeFromTheEnvironment() throws {
        let env = [
            "CITYGATE_DATA_DIR": "/var/lib/citygate",
            "CITYGATE_LOG_LEVEL": "debug",
            "CITYGATE_MQTT_PASSWORD": "pw: with # yaml characters",
            "CITYGATE_MQTT_PORT": "8883",
            "CITYGATE_HTTP_HOST": "0.0.0.0",
            "CITYGATE_HTTP_PORT": "9443",
            "CITYGATE_HTTP_CTWING_TOKEN": "ctwing-env-token",
            "CITYGATE_HTTP_ONENET_ENABLED": "true",
            "CITYGATE_HTTP_ONENET_TOKEN": "onenet-env-token",
            "CITYGATE_ALERTS_WEBHOOKS_CITY_OPS_SECRET": "env-webhook-secret-0123456789",
            "CITYGATE_FORWARDER_SINKS_PROVINCE_VM_TOKEN": "env-upstream-token",
            "CITYGATE_FORWARDER_SINKS_PROVINCE_MQTT_PASSWORD": "env-upstream-password",
            "CITYGATE_STORE_MAX_BYTES": "2GiB",
            "CITYGATE_MQTT_TLS_CA_FILE": "/etc/citygate/ca.crt",
            "CITYGATE_UNRELATED": "x",
        ]
        let c = try GatewayConfiguration.parse(yaml: file, file: "gateway.yaml", environment: env)
        #expect(c.dataDirectory == "/var/lib/citygate")
        #expect(c.logLevel == "debug")
        #expect(c.mqtt.host == "broker.local", "keys without a variable keep the file's value")
        #expect(c.mqtt.username == "citygate")
        #expect(c.mqtt.password == "pw: with # yaml characters", "taken literally, and the password_file is not read")
        #expect(c.mqtt.port == 8883)
        #expect(c.mqtt.tls?.caFile == "/etc/citygate/ca.crt", "a missing nested section is created")
        #expect(c.http.host == "0.0.0.0")
        #expect(c.http.port == 9443)
        #expect(c.http.ctwing.token == "ctwing-env-token")
        #expect(c.http.onenet.enabled)
        #expect(c.http.onenet.token == "onenet-env-token")
        #expect(c.alerts.webhooks.first?.secret == "env-webhook-secret-0123456789")
        #expect(c.store.maxBytes == 2 * 1_073_741_824)
        let sinks = c.forwarderConfiguration.sinks
        guard case .http(let vm)? = sinks.first?.kind, case .mqtt(let mq)? = sinks.last?.kind else {
            Issue.record("sink kinds")
            return
        }
        #expect(vm.token == "env-upstream-token")
        #expect(mq.client.password == "env-upstream-password")
        #expect(mq.client.username == "gw")
    }

    @Test func withoutVariablesTheFileStands() throws {
        let c = try GatewayConfiguration.parse(yaml: file.replacingOccurrences(of: "password_file: /nonexistent/only-read-without-the-override", with: "password: p"))
        #expect(c.dataDirectory == "/srv/data")
        #expect(c.mqtt.password == "p")
        #expect(c.http.ctwing.token == "from-file")
        #expect(c.alerts.webhooks.first?.secret == "file-secret-0123456789")
    }

    @Test func noFileAtAll() throws {
        let c = try GatewayConfiguration.fromEnvironment(["CITYGATE_HTTP_ENABLED": "yes", "CITYGATE_HTTP_PORT": "8088", "CITYGATE_COAP_ENABLED": "true",
                                                          "CITYGATE_RULES_DIR": "/etc/citygate/rules"])
        #expect(c.http.enabled && c.http.port == 8088)
        #expect(c.coap.enabled)
        #expect(c.alerts.rulesDirectory == "/etc/citygate/rules", "the older name still works")
        #expect(try GatewayConfiguration.fromEnvironment([:]).http.port == 8080)
    }

    @Test(arguments: [
        ("CITYGATE_HTTP_PORT", "eighty", "CITYGATE_HTTP_PORT: port must be an integer"),
        ("CITYGATE_MQTT_PORT", "70000", "CITYGATE_MQTT_PORT: port must be 1 to 65535"),
        ("CITYGATE_LOG_LEVEL", "loud", "CITYGATE_LOG_LEVEL: log_level must be"),
        ("CITYGATE_STORE_COMMIT_INTERVAL", "1 week", "CITYGATE_STORE_COMMIT_INTERVAL: commit_interval must be a duration"),
        ("CITYGATE_ALERTS_WEBHOOKS_CITY_OPS_SECRET", "short", "needs a secret of at least 16 characters"),
    ])
    func aBadValueNamesTheVariable(variable: String, value: String, fragment: String) {
        #expect {
            _ = try GatewayConfiguration.parse(yaml: file, file: "gateway.yaml", environment: [variable: value, "CITYGATE_MQTT_PASSWORD": "x"])
        } throws: { error in
            "\(error)".contains(fragment)
        }
    }

    /// The rule is mechanical: every listed key path is a key the parser knows, so its variable really overrides.
    @Test func everyOverridableKeyExistsInTheParser() throws {
        for path in GatewayConfiguration.environmentKeyPaths {
            let parts = path.split(separator: ".").map(String.init)
            var yaml = ""
            for (depth, part) in parts.enumerated() {
                yaml += String(repeating: "  ", count: depth) + part + (depth == parts.count - 1 ? ": \"@@\"\n" : ":\n")
            }
            do {
                _ = try GatewayConfiguration.parse(yaml: yaml)
            } catch {
                #expect(!error.message.contains("unknown key"), "\(path): \(error)")
            }
            #expect(GatewayConfiguration.environmentVariable(for: path) == "CITYGATE_" + path.uppercased().replacingOccurrences(of: ".", with: "_"))
        }
    }

    @Test func misspelledVariablesAreReported() throws {
        let env = ["CITYGATE_MQTT_PASWORD": "x", "CITYGATE_MQTT_PASSWORD": "y", "CITYGATE_LONG_TESTS": "1", "CITYGATE_HTTP_TLS_CERT": "z"]
        #expect(GatewayConfiguration.unknownEnvironmentVariables(env) == ["CITYGATE_HTTP_TLS_CERT", "CITYGATE_MQTT_PASWORD"])
    }

    @Test func descriptionsNeverShowSecrets() throws {
        let env = ["CITYGATE_MQTT_PASSWORD": "mqtt-secret-1", "CITYGATE_HTTP_CTWING_TOKEN": "ctwing-secret-2",
                   "CITYGATE_HTTP_ONENET_ENABLED": "true", "CITYGATE_HTTP_ONENET_TOKEN": "onenet-secret-3",
                   "CITYGATE_ALERTS_WEBHOOKS_CITY_OPS_SECRET": "webhook-secret-4-0123456789",
                   "CITYGATE_FORWARDER_SINKS_PROVINCE_VM_TOKEN": "upstream-secret-5",
                   "CITYGATE_FORWARDER_SINKS_PROVINCE_MQTT_PASSWORD": "upstream-secret-6"]
        let c = try GatewayConfiguration.parse(yaml: file, environment: env)
        let texts = [String(describing: c), String(reflecting: c), "\(c.mqttClient)", "\(c.forwarderConfiguration)", "\(c.http.pushConfiguration)"]
        for text in texts {
            for secret in env.values where secret != "true" { #expect(!text.contains(secret), "\(secret) in \(text)") }
        }
        #expect(texts[0].contains("<redacted>"))
        #expect(texts[0].contains("broker.local"), "everything else is still shown")
    }
}
