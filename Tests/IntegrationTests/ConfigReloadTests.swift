import Catalog
import DeviceProfiles
import MQTTIngest
import Foundation
import Gateway
import GatewayCore
import GatewayTesting
import Testing
import TimeSeriesStore

/// The reload test: while messages flow at QoS 1 through a real mosquitto, a profile is replaced through
/// the API by a new version and then by a broken one; no message is lost, the broken one is refused with its
/// error, the running version stays.
@Suite(.serialized) struct ConfigReloadTests {
    /// Publishes `{"ts", "seq", "raw": seq}` to the test meter's topic with paho at QoS 1 (each PUBACK awaited),
    /// every 25th message malformed (`broken-<seq>`), until `stop` exists (at most 20,000 messages or 300 s),
    /// then prints how many it published.
    static let publisher = """
        import json, os, sys, time
        import paho.mqtt.client as mqtt
        port, stop, base, topic = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
        try:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="citygate-reload-publisher")
        except AttributeError:
            c = mqtt.Client(client_id="citygate-reload-publisher")
        c.connect("127.0.0.1", port)
        c.loop_start()
        seq = 0
        deadline = time.time() + 300
        while seq < 20000 and time.time() < deadline:
            seq += 1
            if seq % 25 == 0:
                payload = ("broken-%d" % seq).encode()
            else:
                payload = json.dumps({"ts": base + seq * 10, "seq": seq, "raw": seq}).encode()
            c.publish(topic, payload, qos=1).wait_for_publish(60)
            if os.path.exists(stop):
                break
            time.sleep(0.004)
        c.loop_stop()
        c.disconnect()
        print(seq, flush=True)
        """

    @Test func aProfileReplacedWhileMessagesFlowLosesNothingAndABrokenVersionIsRefused() async throws {
        let broker = try await Broker()
        defer { broker.stop() }
        let dir = try TemporaryDirectory()
        let profiles = dir.file("profiles")
        try FileManager.default.createDirectory(atPath: profiles + "/test", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: profiles + "/bosch", withIntermediateDirectories: true)
        try MeterProfile.yaml(version: 1, scale: 1).write(toFile: profiles + "/test/meter.yaml", atomically: true, encoding: .utf8)
        try FileContents.text(atPath: Repo.profiles + "/bosch/tps110.yaml").write(toFile: profiles + "/bosch/tps110.yaml", atomically: true, encoding: .utf8)
        let httpPort = try FreePort.next()
        let gateway = try await RunningGateway(broker: broker, dataDirectory: dir.file("data"), clientID: "config-reload", profiles: profiles) { c in
            c.http.enabled = true
            c.http.host = "127.0.0.1"
            c.http.port = httpPort
            c.http.api.rateLimitPerSecond = 0
            c.alerts.mqtt.enabled = false
        }
        let store = try #require(gateway.runtime.store)
        let mqtt = try #require(gateway.runtime.mqtt)
        let api = ConfigClient(port: httpPort)
        let admin = try gateway.runtime.apiTokens.create(name: "admin-reload", role: .admin)
        let device = "m-reload"
        let base = WallClock.nowMs() - 3_600_000
        let stopFile = dir.file("stop")
        let published = dir.file("published.txt")
        let publisher = try ChildProcess.spawn(
            executable: "python3", arguments: ["-c", Self.publisher, "\(broker.port)", stopFile, "\(base)", MeterProfile.topic(device: device)],
            stdoutPath: published)
        do {
            #expect(await waitUntil(timeout: .seconds(180)) { FreePort.isAccepting(port: httpPort) })
            func storedSeqs() -> [Point] {
                guard let id = store.seriesID(device: device, metric: "seq") else { return [] }
                return (try? store.raw(id, fromMs: base, toMs: base + 20_001 * 10)) ?? []
            }
            // Failure bounds, not timing assertions: each wait ends as soon as enough messages have arrived.
            func waitForMore(_ count: Int) async -> Bool {
                let target = mqtt.stats.received + count
                return await waitUntil(timeout: .seconds(180)) { mqtt.stats.received >= target }
            }
            // At least 90 readings decoded with version 1 and stored before the switch.
            #expect(await waitUntil(timeout: .seconds(180)) { storedSeqs().count >= 90 })

            // (a) A new version that scales `level` by 10, uploaded and activated in one step.
            let v2 = MeterProfile.yaml(version: 2, scale: 10)
            let activated = try await api.put("/v1/profiles/\(MeterProfile.id)?activate=true&comment=scale%2010", admin, v2)
            #expect(activated.status == 201)
            #expect(activated["active"] as? Bool == true)
            #expect(await waitForMore(100))

            // (b) A broken version: refused with its line-numbered error, nothing stored.
            let broken = MeterProfile.brokenYAML(version: 3)
            let refused = try await api.put("/v1/profiles/\(MeterProfile.id)?activate=true", admin, broken)
            #expect(refused.status == 422)
            #expect(refused.list("errors").first?["line"] as? Int == MeterProfile.line(of: "scael", in: broken))
            #expect((refused.list("errors").first?["message"] as? String)?.contains("scael") == true)
            // And a version valid alone whose set does not load (it claims the Bosch profile's template).
            let clash = MeterProfile.yaml(version: 3, scale: 1000, extraTemplates: ["lora/bosch/tps110/{deviceId}/{fport}"])
            let stored = try await api.put("/v1/profiles/\(MeterProfile.id)", admin, clash)
            #expect(stored.status == 201)
            let clashVersion = try #require(stored["version"] as? Int)
            let notLoaded = try await api.post("/v1/profiles/\(MeterProfile.id)/activate?version=\(clashVersion)", admin)
            #expect(notLoaded.status == 422)
            #expect(notLoaded.list("errors").contains { ($0["message"] as? String)?.contains("already claimed") == true })
            #expect(await waitForMore(100))

            try "stop".write(toFile: stopFile, atomically: true, encoding: .utf8)
            let status = await publisher.wait(timeout: .seconds(120))
            #expect(status == .exited(0))
            let total = try #require(Int(FileContents.text(atPath: published).trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(total >= 300)

            // Every published message is accounted for: stored, or kept as a dead letter.
            let bad = Set(stride(from: 25, through: total, by: 25))
            let good = Set(1...total).subtracting(bad)
            let arrived = await waitUntil(timeout: .seconds(180)) {
                storedSeqs().count + ((try? gateway.runtime.deadLetters.count()) ?? 0) >= total
            }
            #expect(arrived)
            let seqs = storedSeqs()
            #expect(seqs.count == good.count)
            #expect(Set(seqs.map { Int($0.value) }) == good)
            #expect(seqs.allSatisfy { $0.timeMs == base + Int64($0.value) * 10 })
            let letters = try gateway.runtime.deadLetters.list(limit: 100_000)
            #expect(letters.count == bad.count)
            #expect(Set(letters.map { String(decoding: $0.letter.message.payload, as: UTF8.self) }) == Set(bad.map { "broken-\($0)" }))
            #expect(letters.allSatisfy { $0.letter.reason == .malformed })

            // Messages before the switch decoded with version 1 (level = raw), after it with version 2 (10 × raw).
            let levelID = try #require(store.seriesID(device: device, metric: "level"))
            let levels = try store.raw(levelID, fromMs: base, toMs: base + Int64(total + 1) * 10)
            #expect(levels.count == good.count)
            let versionOf: [(seq: Int, version: Int)] = levels.map { p in
                let seq = Int((p.timeMs - base) / 10)
                return (seq, p.value == Double(seq) ? 1 : p.value == Double(seq * 10) ? 2 : -1)
            }
            #expect(!versionOf.contains { $0.version == -1 }, "every level is raw or 10 × raw")
            let firstV2 = try #require(versionOf.first { $0.version == 2 }?.seq)
            #expect(versionOf.filter { $0.seq < firstV2 }.allSatisfy { $0.version == 1 })
            #expect(versionOf.filter { $0.seq >= firstV2 }.allSatisfy { $0.version == 2 }, "one switch, never back")
            #expect(versionOf.filter { $0.version == 1 }.count >= 90)
            #expect(versionOf.filter { $0.version == 2 }.count >= 150)
            // The dead letters name the profile version that tried them, switching at the same point (a letter
            // between the last version-1 reading and the first version-2 one may have met either).
            let lastV1 = versionOf.filter { $0.version == 1 }.map(\.seq).max() ?? 0
            for letter in letters {
                let seq = Int(String(decoding: letter.letter.message.payload, as: UTF8.self).dropFirst("broken-".count)) ?? 0
                if seq < lastV1 { #expect(letter.letter.profileVersion == 1, "broken-\(seq)") }
                if seq > firstV2 { #expect(letter.letter.profileVersion == 2, "broken-\(seq)") }
            }

            // The running version is still the good new one.
            #expect(gateway.runtime.decoder.profiles.profiles[MeterProfile.id]?.version == 2)
            let current = try await api.get("/v1/profiles/\(MeterProfile.id)", admin)
            #expect(current["active_version"] as? Int == 2)
            #expect(current["yaml"] as? String == v2)
            #expect(FileContents.text(atPath: profiles + "/test/meter.yaml") == v2)
            #expect(mqtt.stats.dropped == 0)
        } catch {
            publisher.send(SIGKILL)
            _ = publisher.wait()
            await gateway.stop()
            throw error
        }
        publisher.send(SIGKILL)
        _ = publisher.wait()
        await gateway.stop()
    }
}
