import Forwarder
import Foundation
import GatewayCore
import GatewayTesting
import Mosquitto
import Synchronization
import Testing

/// The built `citygate` binary, which the uplink test runs and SIGKILLs as a child process.
let uplinkGatewayExecutable: String? = {
    let path = Repo.root + "/.build/debug/citygate"
    return FileManager.default.isExecutableFile(atPath: path) ? path : nil
}()

/// The uplink end to end: a `citygate run` child fed by simulated devices through a real mosquitto, forwarding to a
/// real VictoriaMetrics (HTTP line protocol) and a real upstream mosquitto (MQTT JSON batches). Both upstreams are
/// down for a compressed "day" (1 s and 5 s windows), the gateway is SIGKILLed several times during the outage and
/// during the drain, and afterwards VictoriaMetrics must hold every rollup the gateway committed, once, with its
/// values, and the MQTT receiver must have seen every sequence number. The HTTP sink keeps three requests in flight.
@Suite(.serialized, .enabled(if: uplinkGatewayExecutable != nil && Broker.executable != nil && VictoriaMetricsServer.executable != nil
                             && ProcessRunner.which("curl") != nil, "needs .build/debug/citygate, mosquitto, victoria-metrics and curl"))
struct UplinkIntegrationTests {
    static var long: Bool { ProcessInfo.processInfo.environment["CITYGATE_LONG_TESTS"] == "1" }

    /// One gateway life: spawned, later killed or stopped.
    final class GatewayChild: Sendable {
        let child: ChildProcess
        init(config: String, log: String) throws {
            child = try ChildProcess.spawn(executable: uplinkGatewayExecutable!, arguments: ["run", "--config", config], stdoutPath: log)
        }
        func kill9() {
            child.send(SIGKILL)
            child.wait()
        }
    }

    @Test func outageKillsAndDrainLeaveEveryRollupOnceUpstream() async throws {
        let dir = try TemporaryDirectory(prefix: "citygate-uplink")
        let ingest = try await Broker(options: .init(persistence: false, maxQueuedMessages: 1_000_000))
        defer { ingest.stop() }
        let upstream = try await Broker(options: .init(persistence: true, autosaveIntervalSeconds: 1, maxQueuedMessages: 1_000_000))
        defer { upstream.stop() }
        let vm = try VictoriaMetricsServer()
        defer { vm.stop() }

        // The province's MQTT receiver: a persistent session subscribed before the outage, so whatever the broker
        // accepts from the gateway later is kept for it.
        let received = Collector<[UInt8]>()
        let receiver = try MosquittoClient(
            configuration: MQTTClientConfiguration(port: upstream.port, clientID: "province-receiver", cleanSession: false, sessionExpirySeconds: 86_400,
                                                   reconnect: MQTTReconnectPolicy(initialDelay: .milliseconds(100), maxDelay: .milliseconds(500)),
                                                   receiveMaximum: 1_000),
            subscriptions: [MQTTSubscription(filter: "province/#", qos: .atLeastOnce)]) { message in received.append(message.payload) }
        try receiver.start()
        defer { receiver.stop() }
        #expect(await waitUntil(timeout: .seconds(10)) { receiver.isConnected })
        try await Task.sleep(for: .milliseconds(300))
        await upstream.terminate()  // saves the receiver's session; the upstream is now down

        let config = dir.file("gateway.yaml")
        try """
            data_dir: \(dir.file("data"))
            profiles_dir: \(Repo.profiles)
            log_level: info
            mqtt:
              port: \(ingest.port)
              client_id: it-uplink-gateway
              reconnect: { initial: 1s, max: 1s }
            store:
              commit_interval: 50ms
            forwarder:
              enabled: true
              gateway_id: it-gw
              windows: [{ size: 1s, lateness: 300ms }, { size: 5s, lateness: 1s }]
              outbox: { flush_interval: 100ms, keep_sent: true }
              backlog_alert_age: 3s
              sinks:
                - { name: vm, kind: http, url: "\(vm.url)/write", gzip: true, batch_points: 5, max_in_flight: 3, timeout: 2s,
                    backoff: { initial: 50ms, max: 500ms } }
                - { name: province, kind: mqtt, port: \(upstream.port), topic: "province/{gateway}/{stream}", batch_points: 4, timeout: 2s,
                    backoff: { initial: 50ms, max: 500ms } }
            """.write(toFile: config, atomically: true, encoding: .utf8)

        // Simulated devices: 30 pressure sensors publishing QoS 1 every 100 ms to the ingest broker.
        let devices = (0..<30).map { String(format: "24e1%012x", 0x5000 + $0) }
        let publisher = try MosquittoClient(configuration: MQTTClientConfiguration(port: ingest.port, clientID: "it-devices")) { _ in }
        try publisher.start()
        defer { publisher.stop() }
        #expect(await waitUntil(timeout: .seconds(10)) { publisher.isConnected })
        let publishing = Atomic<Bool>(true)
        let feeder = Task {
            var tick = 0
            while publishing.load(ordering: .relaxed) {
                for (i, d) in devices.enumerated() {
                    let kPa = UInt16((tick * 7 + i * 13) % 900 + 100)
                    _ = try? publisher.publish(topic: "lora/milesight/em500-pp/\(d)/up", payload: [0x03, 0x7B, UInt8(kPa & 0xFF), UInt8(kPa >> 8)], qos: .atLeastOnce)
                }
                tick += 1
                try? await Task.sleep(for: .milliseconds(100))
            }
        }

        let outbox = dir.file("data/outbox.db")
        func status() -> OutboxStatus? { try? Outbox.readStatus(path: outbox, sinks: ["vm", "province"], nowMs: WallClock.nowMs()) }
        var lives = 0
        func startGateway() throws -> GatewayChild {
            lives += 1
            return try GatewayChild(config: config, log: dir.file("gateway-\(lives).log"))
        }

        // The outage: both upstreams down, the gateway killed at random moments.
        var generator = SystemRandomNumberGenerator()
        var gateway = try startGateway()
        let outageKills = Self.long ? 5 : 3
        for _ in 0..<outageKills {
            try await Task.sleep(for: .milliseconds(Int.random(in: (Self.long ? 4_000 : 2_000)...(Self.long ? 9_000 : 4_000), using: &generator)))
            gateway.kill9()
            gateway = try startGateway()
        }
        try await Task.sleep(for: .seconds(2))
        let backlogBefore = status()?.sinks.map(\.backlogPoints) ?? []
        #expect(backlogBefore.count == 2 && backlogBefore.allSatisfy { $0 > 50 }, "a backlog built up during the outage: \(backlogBefore)")

        // The upstreams come back; the gateway is killed twice more while it drains.
        try await vm.start()
        try await upstream.restart()
        var drainKills = 0
        var killsWithBacklog = 0
        for _ in 0..<2 {
            let start = status()?.sinks.map(\.sentPoints) ?? []
            _ = await waitUntil(timeout: .seconds(20), pollEvery: .milliseconds(5)) {
                guard let now = status()?.sinks.map(\.sentPoints), now.count == start.count else { return false }
                return zip(now, start).contains { $0 > $1 + 10 }
            }
            if let s = status(), s.sinks.contains(where: { $0.backlogPoints > 0 }) { killsWithBacklog += 1 }
            gateway.kill9()
            drainKills += 1
            gateway = try startGateway()
        }

        // Stop the devices, let the last windows close and everything drain, then stop the gateway cleanly.
        publishing.store(false, ordering: .relaxed)
        _ = await feeder.value
        try await Task.sleep(for: .seconds(8))
        let drained = await waitUntil(timeout: .seconds(60), pollEvery: .milliseconds(50)) {
            status()?.sinks.allSatisfy { $0.backlogPoints == 0 } == true
        }
        #expect(drained, "both sinks drained: \(String(describing: status()?.sinks.map { ($0.name, $0.backlogPoints) }))")
        gateway.child.send(SIGTERM)
        if await gateway.child.wait(timeout: .seconds(20)) == nil { gateway.kill9() }

        // What the gateway produced: every rollup committed to the outbox (kept after sending for this audit).
        let box = try Outbox(configuration: .init(path: outbox, keepSent: true), sinks: ["vm", "province"])
        let final = try box.status(nowMs: WallClock.nowMs())
        #expect(final.dropped.isEmpty, "nothing overflowed")
        var produced: [String: RollupPoint] = [:]
        var producedDuplicates = 0
        for row in try box.allRows() where row.stream.isRollup {
            for p in try #require(OutboxCodec.decodeRollups(row.body, windowMs: row.stream.rawValue)) {
                let key = "\(p.device)|\(RollupWindow.label(p.windowMs))|\(p.startMs)"
                if produced.updateValue(p, forKey: key) != nil { producedDuplicates += 1 }
            }
        }
        #expect(producedDuplicates == 0, "a window is committed once, even across kills")
        #expect(produced.count > 200, "rollups were produced: \(produced.count)")

        // VictoriaMetrics, through its export API.
        _ = try await ProcessRunner.check("curl", ["-sS", "--fail", "\(vm.url)/internal/force_flush"])
        let export = try await ProcessRunner.check("curl", ["-sS", "--fail", "\(vm.url)/api/v1/export", "--data-urlencode",
                                                            "match[]={__name__=~\"pressure_(count|sum)\",gateway=\"it-gw\"}"], timeout: .seconds(60))
        var vmCount: [String: Double] = [:]
        var vmSum: [String: Double] = [:]
        var vmDuplicates = 0
        for line in export.stdoutText.split(separator: "\n") {
            let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let labels = try #require(json["metric"] as? [String: String])
            let timestamps = try #require(json["timestamps"] as? [NSNumber]).map(\.int64Value)
            let values = try #require(json["values"] as? [NSNumber]).map(\.doubleValue)
            vmDuplicates += timestamps.count - Set(timestamps).count
            for (t, v) in zip(timestamps, values) {
                let key = "\(labels["device"] ?? "")|\(labels["window"] ?? "")|\(t)"
                if labels["__name__"] == "pressure_count" { vmCount[key] = v } else { vmSum[key] = v }
            }
        }
        let missing = produced.keys.filter { vmCount[$0] == nil }
        let extra = vmCount.keys.filter { produced[$0] == nil }
        let wrong = produced.filter { k, p in vmCount[k].map { $0 != Double(p.count) } ?? false || vmSum[k].map { abs($0 - p.sum) > 1e-6 * max(1, abs(p.sum)) } ?? false }
        #expect(missing.isEmpty, "missing in VictoriaMetrics: \(missing.count), e.g. \(missing.prefix(3))")
        #expect(vmDuplicates == 0, "duplicate points in VictoriaMetrics")
        #expect(extra.isEmpty, "points in VictoriaMetrics the gateway never committed: \(extra.prefix(3))")
        #expect(wrong.isEmpty, "values differ: \(wrong.keys.prefix(3))")
        let alerts = try await ProcessRunner.check("curl", ["-sS", "--fail", "\(vm.url)/api/v1/export", "--data-urlencode",
                                                            "match[]=citygate_alert_value{rule=\"uplink_backlog\"}"])
        #expect(alerts.stdoutText.contains("\"state\":\"firing\""), "the backlog alert was raised during the outage and forwarded")

        // The MQTT receiver: every sequence number, repeats only as identical replays, every rollup.
        #expect(await waitUntil(timeout: .seconds(10)) { receiver.statistics.messagesReceived >= Int(final.sinks[1].sentBatches) })
        var bySeq: [Int: [UInt8]] = [:]
        var replays = 0
        var mqttPoints = Set<String>()
        for payload in received.items {
            let json = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
            #expect(json["gateway"] as? String == "it-gw")
            let seq = try #require(json["seq"] as? NSNumber).intValue
            if let earlier = bySeq[seq] {
                replays += 1
                #expect(earlier == payload, "a repeated sequence number carries the same batch")
                continue
            }
            bySeq[seq] = payload
            for p in (json["points"] as? [[String: Any]]) ?? [] {
                mqttPoints.insert("\(p["device"] as? String ?? "")|\(p["window"] as? String ?? "")|\((p["start"] as? NSNumber)?.int64Value ?? -1)")
            }
        }
        let maxSeq = bySeq.keys.max() ?? 0
        #expect(maxSeq > 0)
        #expect(bySeq.count == maxSeq, "no gap in the sequence numbers: \(maxSeq - bySeq.count) missing")
        #expect(Int64(maxSeq) == final.sinks[1].nextSeq - 1)
        #expect(mqttPoints == Set(produced.keys), "the MQTT receiver got every rollup: \(Set(produced.keys).subtracting(mqttPoints).count) missing")

        let dedup = try await ProcessRunner.check("curl", ["-sS", "--fail", "\(vm.url)/metrics"])
        let merged = dedup.stdoutText.split(separator: "\n").filter { $0.hasPrefix("vm_deduplicated_samples_total") }
        print("uplink test: \(lives) gateway lives, \(outageKills) kills during the outage, \(drainKills) during the drain (\(killsWithBacklog) with a backlog),",
              "\(produced.count) rollups, backlog at reconnect \(backlogBefore), MQTT batches \(maxSeq) (+\(replays) replays), VM \(merged.joined(separator: " "))")
    }
}
