import Foundation
import Gateway
import GatewayTesting
import Testing

/// What ships to an edge box (edge/): the systemd units, the broker configuration with its ACL template, and
/// the install script, each checked with the real tools.
@Suite(.serialized)
struct EdgeTests {
    static let edge = Repo.root + "/edge"

    // MARK: systemd units

    /// `systemd-analyze verify` on a copy of the unit (ExecStart pointed at an existing binary), and on Debian's
    /// mosquitto.service with our drop-in beside it. Nothing is started.
    @Test(.enabled(if: ProcessRunner.which("systemd-analyze") != nil, "systemd-analyze is not installed"))
    func unitsVerifyWithoutWarnings() async throws {
        let dir = try TemporaryDirectory()
        let unit = try String(contentsOfFile: Self.edge + "/citygate.service", encoding: .utf8)
        for line in ["ProtectSystem=strict", "PrivateDevices=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service",
                     "CapabilityBoundingSet=\n", "MemoryDenyWriteExecute=yes", "LimitNOFILE=", "Restart=always", "StartLimitBurst=", "TimeoutStopSec=10\n"] {
            #expect(unit.contains(line), "citygate.service has \(line)")
        }
        #expect(!unit.contains("WatchdogSec"), "no watchdog without sd_notify")
        try unit.replacingOccurrences(of: "/usr/local/bin/citygate", with: "/bin/true").write(toFile: dir.file("citygate.service"), atomically: true, encoding: .utf8)
        let verify = try await ProcessRunner.run("systemd-analyze", ["verify", dir.file("citygate.service")], timeout: .seconds(60))
        #expect(verify.succeeded && (verify.stdoutText + verify.stderrText).isEmpty, "\(verify.stdoutText)\(verify.stderrText)")

        // The drop-in, over the unit Debian's mosquitto package ships (or a stand-in with its ExecStart).
        let units = dir.file("units")
        try FileManager.default.createDirectory(atPath: units + "/mosquitto.service.d", withIntermediateDirectories: true)
        let debian = (try? String(contentsOfFile: "/lib/systemd/system/mosquitto.service", encoding: .utf8))
            ?? "[Unit]\nDescription=Mosquitto\n[Service]\nExecStart=/usr/sbin/mosquitto -c /etc/mosquitto/mosquitto.conf\n[Install]\nWantedBy=multi-user.target\n"
        try debian.write(toFile: units + "/mosquitto.service", atomically: true, encoding: .utf8)
        let dropIn = try String(contentsOfFile: Self.edge + "/mosquitto.service.d/citygate.conf", encoding: .utf8)
        let mosquitto = try #require(Broker.executable)
        try dropIn.replacingOccurrences(of: "/usr/sbin/mosquitto", with: mosquitto)
            .write(toFile: units + "/mosquitto.service.d/citygate.conf", atomically: true, encoding: .utf8)
        let env = "SYSTEMD_UNIT_PATH=\(units):"
        let both = try await ProcessRunner.run("env", [env, "systemd-analyze", "verify", units + "/mosquitto.service"], timeout: .seconds(60))
        #expect(both.succeeded && (both.stdoutText + both.stderrText).isEmpty, "\(both.stdoutText)\(both.stderrText)")
        // The check reads the drop-in: a wrong key in it is reported.
        try (dropIn + "\nRestartz=always\n").write(toFile: units + "/mosquitto.service.d/citygate.conf", atomically: true, encoding: .utf8)
        let broken = try await ProcessRunner.run("env", [env, "systemd-analyze", "verify", units + "/mosquitto.service"], timeout: .seconds(60))
        #expect((broken.stdoutText + broken.stderrText).contains("Restartz"))
    }

    // MARK: mosquitto.conf and the ACL template

    /// edge/mosquitto.conf as shipped, with its paths moved into a temporary directory and its two listeners on
    /// free loopback ports, started by a real mosquitto.
    struct EdgeBroker {
        let dir: TemporaryDirectory
        let plainPort: Int
        let tlsPort: Int
        let tls: TLSFixture
        let process: ChildProcess

        init(users: [(String, String)]) async throws {
            dir = try TemporaryDirectory()
            plainPort = try FreePort.next()
            tlsPort = try FreePort.next()
            tls = try await TLSFixture.generate(in: dir.path, name: "edge")
            for (from, to) in [(tls.caFile, "ca.crt"), (tls.certFile, "server.crt"), (tls.keyFile, "server.key")] {
                try FileManager.default.copyItem(atPath: from, toPath: dir.file(to))
            }
            try FileManager.default.copyItem(atPath: EdgeTests.edge + "/mosquitto.acl", toPath: dir.file("acl"))
            try await MosquittoPasswordFile.create(at: dir.file("passwd"), users: users)
            var conf = try String(contentsOfFile: EdgeTests.edge + "/mosquitto.conf", encoding: .utf8)
            #expect(conf.contains("listener 1883 127.0.0.1") && conf.contains("listener 8883\n"))
            conf = conf.replacingOccurrences(of: "/etc/mosquitto/citygate/", with: dir.path + "/")
                .replacingOccurrences(of: "persistence_location /var/lib/mosquitto/", with: "persistence_location \(dir.path)/")
                .replacingOccurrences(of: "listener 1883 127.0.0.1", with: "listener \(plainPort) 127.0.0.1")
                .replacingOccurrences(of: "listener 8883\n", with: "listener \(tlsPort) 127.0.0.1\n")
            // As root mosquitto would switch to the mosquitto user, which cannot read the temporary directory.
            if let user = getpwuid(geteuid())?.pointee.pw_name { conf = "user \(String(cString: user))\n" + conf }
            try conf.write(toFile: dir.file("mosquitto.conf"), atomically: true, encoding: .utf8)
            process = try ChildProcess.spawn(executable: Broker.executable!, arguments: ["-c", dir.file("mosquitto.conf")], stdoutPath: dir.file("mosquitto.log"))
            let (plain, secure) = (plainPort, tlsPort)
            guard await waitUntil(timeout: .seconds(30), { FreePort.isAccepting(port: plain) && FreePort.isAccepting(port: secure) }) else {
                process.send(SIGKILL)
                process.wait()
                throw GatewayTestingError.brokerFailed("edge broker did not start", log: FileContents.text(atPath: dir.file("mosquitto.log")))
            }
        }

        func stop() {
            process.send(SIGKILL)
            process.wait()
        }

        /// mosquitto_pub as `user` on the plain (or TLS) listener; the outcome.
        func publish(user: String, password: String, topic: String, message: String, tls useTLS: Bool = false) async throws -> ProcessRunner.Output {
            var args = ["-h", "127.0.0.1", "-p", "\(useTLS ? tlsPort : plainPort)", "-u", user, "-P", password, "-t", topic, "-m", message, "-q", "1",
                        "-V", "mqttv5", "-i", "pub-\(user)"]
            if useTLS { args += ["--cafile", tls.caFile] }
            return try await ProcessRunner.run("mosquitto_pub", args, timeout: .seconds(30))
        }
    }

    @Test(.enabled(if: Broker.executable != nil && ProcessRunner.which("mosquitto_pub") != nil && ProcessRunner.which("mosquitto_sub") != nil))
    func aDevicePublishesOnlyOnItsOwnTopicsAndTheGatewayReadsAll() async throws {
        let broker = try await EdgeBroker(users: [("citygate", "gw-pass"), ("411056750021", "dev-a-pass"), ("411056750022", "dev-b-pass")])
        defer { broker.stop() }
        // The gateway's user subscribes to everything on the loopback listener.
        let out = broker.dir.file("sub.out")
        let sub = try ChildProcess.spawn(executable: "mosquitto_sub", arguments: [
            "-h", "127.0.0.1", "-p", "\(broker.plainPort)", "-u", "citygate", "-P", "gw-pass", "-i", "gateway", "-t", "#", "-q", "1", "-v", "-C", "3",
        ], stdoutPath: out)
        defer { sub.send(SIGKILL); _ = sub.wait() }
        #expect(await waitUntil(timeout: .seconds(30)) { FileContents.text(atPath: broker.dir.file("mosquitto.log")).contains("as gateway") })
        try await Task.sleep(for: .milliseconds(300))

        let own = "city/lixia/dragino/ndds75/411056750021/up"
        let other = "city/lixia/dragino/ndds75/411056750022/up"
        // Device A on device B's topic: refused (MQTT 5 PUBACK "not authorised"); nothing is delivered.
        let denied = try await broker.publish(user: "411056750021", password: "dev-a-pass", topic: other, message: "forged")
        #expect((denied.stdoutText + denied.stderrText).lowercased().contains("not authori"), "\(denied.stdoutText)\(denied.stderrText)")
        // Device A on its own topic, over the plain and the TLS device listener; device B on its own.
        #expect(try await broker.publish(user: "411056750021", password: "dev-a-pass", topic: own, message: "a-plain").succeeded)
        #expect(try await broker.publish(user: "411056750021", password: "dev-a-pass", topic: own, message: "a-tls", tls: true).succeeded)
        #expect(try await broker.publish(user: "411056750022", password: "dev-b-pass", topic: other, message: "b").succeeded)
        // A wrong password and anonymous clients are refused.
        #expect(try await broker.publish(user: "411056750022", password: "wrong", topic: other, message: "x").succeeded == false)
        let anonymous = try await ProcessRunner.run("mosquitto_pub", ["-h", "127.0.0.1", "-p", "\(broker.plainPort)", "-t", own, "-m", "anon", "-q", "1"])
        #expect(anonymous.succeeded == false)

        #expect(await sub.wait(timeout: .seconds(30)) == .exited(0), "the gateway user received three messages")
        let lines = FileContents.text(atPath: out).split(separator: "\n").map(String.init)
        #expect(lines == ["\(own) a-plain", "\(own) a-tls", "\(other) b"], "the forged message was never delivered, in order before the others")
    }

    // MARK: install.sh

    @Test func installScriptStagesACompleteTreeIdempotently() async throws {
        let dir = try TemporaryDirectory()
        let stage = dir.file("stage")
        let binary = try #require(citygateExecutable ?? ProcessRunner.which("true"))

        // --dry-run changes nothing.
        let dry = try await ProcessRunner.check("bash", [Self.edge + "/install.sh", "--dry-run", "--destdir", stage, "--binary", binary], timeout: .seconds(120))
        #expect(!FileManager.default.fileExists(atPath: stage))
        #expect(dry.stdoutText.contains("would: install -D -m 0644") && dry.stdoutText.contains("citygate.service"))

        let first = try await ProcessRunner.check("env", ["DESTDIR=\(stage)", "bash", Self.edge + "/install.sh", "--prefix", "/opt/citygate", "--binary", binary],
                                                  timeout: .seconds(120))
        #expect(first.stdoutText.contains("install: done"))
        let fm = FileManager.default
        for path in ["opt/citygate/bin/citygate", "etc/citygate/gateway.yaml", "etc/citygate/gateway.yaml.dist", "etc/citygate/citygate.env",
                     "etc/citygate/profiles/dragino/ndds75.yaml", "etc/citygate/rules/neurons.yaml", "opt/citygate/share/citygate/device-profiles",
                     "etc/systemd/system/citygate.service", "etc/systemd/system/mosquitto.service.d/citygate.conf",
                     "etc/mosquitto/citygate/mosquitto.conf", "etc/mosquitto/citygate/acl", "opt/citygate/share/doc/citygate/operations.md"] {
            #expect(fm.fileExists(atPath: stage + "/" + path), "\(path) installed")
        }
        var isDirectory: ObjCBool = false
        #expect(fm.fileExists(atPath: stage + "/var/lib/citygate", isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(fm.isExecutableFile(atPath: stage + "/opt/citygate/bin/citygate"))
        let envMode = try fm.attributesOfItem(atPath: stage + "/etc/citygate/citygate.env")[.posixPermissions] as? Int
        #expect(envMode == 0o640, "the secrets file is not world-readable")
        let unit = try String(contentsOfFile: stage + "/etc/systemd/system/citygate.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/opt/citygate/bin/citygate run --config /etc/citygate/gateway.yaml"), "the unit runs the prefix's binary")

        // The installed configuration loads, with the box's paths and the password from the env file.
        let env = try String(contentsOfFile: stage + "/etc/citygate/citygate.env", encoding: .utf8)
        let password = try #require(env.split(separator: "\n").first { $0.hasPrefix("CITYGATE_MQTT_PASSWORD=") }?.dropFirst("CITYGATE_MQTT_PASSWORD=".count))
        #expect(password.count >= 16)
        let config = try GatewayConfiguration.load(file: stage + "/etc/citygate/gateway.yaml", environment: ["CITYGATE_MQTT_PASSWORD": String(password)])
        #expect(config.dataDirectory == "/var/lib/citygate")
        #expect(config.profilesDirectory == "/etc/citygate/profiles")
        #expect(config.alerts.rulesDirectory == "/etc/citygate/rules")
        #expect(config.mqtt.username == "citygate" && config.mqtt.password == String(password))
        if ProcessRunner.which("mosquitto_passwd") != nil {
            let passwd = try String(contentsOfFile: stage + "/etc/mosquitto/citygate/passwd", encoding: .utf8)
            #expect(passwd.hasPrefix("citygate:$7$"), "the broker knows the gateway's user (hashed)")
            #expect(!passwd.contains(password))
        }

        // Again: the operator's files stay, ours are refreshed, nothing fails.
        try "data_dir: /srv/mine\n".write(toFile: stage + "/etc/citygate/gateway.yaml", atomically: true, encoding: .utf8)
        let second = try await ProcessRunner.check("bash", [Self.edge + "/install.sh", "--destdir", stage, "--prefix", "/opt/citygate", "--binary", binary],
                                                   timeout: .seconds(120))
        #expect(second.stdoutText.contains("kept \(stage)/etc/citygate/gateway.yaml (yours)"))
        #expect(second.stdoutText.contains("unchanged \(stage)/etc/systemd/system/citygate.service"))
        #expect(try String(contentsOfFile: stage + "/etc/citygate/gateway.yaml", encoding: .utf8) == "data_dir: /srv/mine\n")
        #expect(try String(contentsOfFile: stage + "/etc/citygate/citygate.env", encoding: .utf8) == env, "the secret is not regenerated")

        let bad = try await ProcessRunner.run("bash", [Self.edge + "/install.sh", "--destdir", stage, "--prefix", "relative"])
        #expect(bad.status == .exited(2) && bad.stderrText.contains("--prefix must be an absolute path"))
    }
}
