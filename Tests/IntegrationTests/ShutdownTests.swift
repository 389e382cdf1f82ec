import Foundation
import GatewayTesting
import Testing

/// Outside clients that load the gateway over MQTT (QoS 1), CoAP (CON) and carrier push (CTWing HTTP) at a steady
/// rate for `duration` seconds, each message from its own device id, and write what was acknowledged to `out` as
/// JSON: MQTT messages the broker PUBACKed, CoAP CONs answered 2.04, pushes answered 200 "ok".
let shutdownLoadScript = #"""
import json, socket, struct, sys, threading, time, urllib.request
import paho.mqtt.client as mqtt

mqtt_port, coap_port, http_port, duration, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
deadline = time.time() + duration
result = {"mqtt": [], "coap": [], "http": [], "coap_sent": 0, "http_sent": 0, "mqtt_sent": 0}

def frame(device, distance):  # Dragino NDDS75 gen-1, ASCII hex
    return device + "00640cd107" + "%04x" % distance + "00"

def run_mqtt():
    try:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="load-mqtt", protocol=mqtt.MQTTv311)
    except AttributeError:
        c = mqtt.Client(client_id="load-mqtt", protocol=mqtt.MQTTv311)
    c.max_queued_messages_set(0)
    c.max_inflight_messages_set(100)
    c.connect("127.0.0.1", mqtt_port)
    c.loop_start()
    sent = []
    n = 0
    while time.time() < deadline:
        device = "41100%07d" % n
        info = c.publish("city/lixia/dragino/ndds75/%s/up" % device, frame(device, 100 + n % 60000), qos=1)
        sent.append((device, info))
        n += 1
        time.sleep(0.004)
    end = time.time() + 60
    while time.time() < end and not all(i.is_published() for _, i in sent):
        time.sleep(0.05)
    result["mqtt"] = [d for d, i in sent if i.is_published()]
    result["mqtt_sent"] = len(sent)
    c.loop_stop()
    c.disconnect()

def run_coap():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    n = 0
    while time.time() < deadline:
        device = "41200%07d" % n
        mid = n & 0xFFFF
        token = struct.pack(">H", n & 0xFFFF)
        msg = bytes([0x42, 0x02]) + struct.pack(">H", mid) + token + bytes([0xB7]) + b"dragino" + bytes([0x06]) + b"ndds75" + b"\xff" + frame(device, 100 + n % 60000).encode()
        n += 1
        try:
            s.sendto(msg, ("127.0.0.1", coap_port))
            while True:
                data, _ = s.recvfrom(2048)
                if len(data) >= 4 and data[2:4] == msg[2:4]:
                    if (data[0] >> 4) & 3 == 2 and data[1] == 0x44:
                        result["coap"].append(device)
                    break
        except (socket.timeout, ConnectionRefusedError, OSError):
            time.sleep(0.05)
    result["coap_sent"] = n

def run_http():
    n = 0
    while time.time() < deadline:
        imei = "86037%010d" % n
        body = json.dumps({"upPacketSN": -1, "timestamp": int(time.time() * 1000), "productId": "15014772", "messageType": "dataReport",
                           "deviceId": "dev%010d" % n, "IMEI": imei, "protocol": "lwm2m", "topic": "v1/up/ad19prof",
                           "payload": {"serviceId": "notification", "serviceData": {"IMEI": imei, "RSRP": 100 + n % 20, "SNR": 1, "CSQ": 5,
                                                                                   "Battery_Level": 90, "Alarm_Status": 0}}}).encode()
        n += 1
        try:
            r = urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d/push/ctwing" % http_port, data=body,
                                                              headers={"Content-Type": "application/json"}), timeout=5)
            if r.status == 200 and r.read() == b"ok":
                result["http"].append(imei)
        except Exception:
            time.sleep(0.05)
        time.sleep(0.02)
    result["http_sent"] = n

threads = [threading.Thread(target=f) for f in (run_mqtt, run_coap, run_http)]
print("started", flush=True)
for t in threads: t.start()
for t in threads: t.join()
json.dump(result, open(out, "w"))
"""#

/// What the load script reports.
struct LoadResult: Decodable {
    var mqtt: [String]
    var coap: [String]
    var http: [String]
    var mqtt_sent: Int
    var coap_sent: Int
    var http_sent: Int
}

let pahoAvailable: Bool = {
    guard let python = ProcessRunner.which("python3") else { return false }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = ["-c", "import paho.mqtt.client"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}()

/// SIGTERM to the real `citygate run` under load: clean exit, and nothing acknowledged is lost.
@Suite("Graceful SIGTERM of citygate run", .serialized,
       .enabled(if: citygateExecutable != nil && Broker.executable != nil && pahoAvailable, "needs .build/debug/citygate, mosquitto and paho-mqtt"))
struct ShutdownTests {
    /// Devices with a stored `metric`, read with `citygate export` (beside a running gateway or after it).
    func storedDevices(config: String, metric: String) async throws -> Set<String> {
        let out = try await ProcessRunner.check(citygateExecutable!, ["export", "-c", config, "--metric", metric, "--from=-1h", "--format", "csv"],
                                                timeout: .seconds(120))
        return Set(out.stdoutText.split(separator: "\n").dropFirst().compactMap { $0.split(separator: ",").first.map(String.init) })
    }

    @Test func sigtermUnderLoadExitsCleanlyAndLosesNothingAcknowledged() async throws {
        let broker = try await Broker(options: .init(persistence: true, maxQueuedMessages: 100_000))
        defer { broker.stop() }
        let dir = try TemporaryDirectory()
        let profiles = try profilesDirectory(dir, match: #"ctwing: "15014772/{platformDeviceId}""#)
        try FileManager.default.copyItem(atPath: Repo.profiles + "/dragino/ndds75.yaml", toPath: profiles + "/ndds75.yaml")
        try FileManager.default.createDirectory(atPath: dir.file("rules"), withIntermediateDirectories: true)
        // One alert, acknowledged through the API before the SIGTERM, must still be acknowledged after it.
        try """
            rules:
              - { id: water-far, summary: Water far below the sensor, select: { device: "419990000001", metric: distance }, above: 65 }   # metres (canonical unit)
            """.write(toFile: dir.file("rules/shutdown.yaml"), atomically: true, encoding: .utf8)
        let coapPort = try FreePort.next()
        let httpPort = try FreePort.next()
        let config = dir.file("gateway.yaml")
        try """
            data_dir: \(dir.file("data"))
            profiles_dir: \(profiles)
            log_level: info
            mqtt: { port: \(broker.port), client_id: shutdown-test, reconnect: { initial: 0s, max: 1s } }
            alerts: { rules_dir: \(dir.file("rules")), mqtt: { enabled: false } }
            coap: { enabled: true, port: \(coapPort), per_device_rate: 0 }
            http: { enabled: true, port: \(httpPort) }
            """.write(toFile: config, atomically: true, encoding: .utf8)

        let log = dir.file("gateway.log")
        func start() async throws -> ChildProcess {
            let offset = FileContents.text(atPath: log).count
            let child = try ChildProcess.spawn(executable: citygateExecutable!, arguments: ["run", "-c", config], stdoutPath: log)
            // Failure bounds, not timing assertions: the whole suite loads both cores.
            let up = await waitUntil(timeout: .seconds(180)) {
                let text = FileContents.text(atPath: log).dropFirst(offset)
                return text.contains("MQTT broker connected") && text.contains("CoAP ingest started") && FreePort.isAccepting(port: httpPort)
            }
            if !up { child.send(SIGKILL); child.wait() }
            try #require(up, "gateway started: \(FileContents.text(atPath: log).suffix(2000))")
            return child
        }

        var gateway = try await start()
        let token = try await ProcessRunner.check(citygateExecutable!, ["token", "add", "operator-sun", "--role", "operator", "-c", config])
            .stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        let api = APIClient(port: httpPort, token: token)
        try await mosquittoPub(broker, topic: "city/lixia/dragino/ndds75/419990000001/up", message: "419990000001" + "00640cd107" + "fe00" + "00")
        var alertID: Int?
        let alertDeadline = ContinuousClock.now.advanced(by: .seconds(60))
        while alertID == nil, ContinuousClock.now < alertDeadline {
            let reply = try await api.get("/v1/alerts?state=firing&rule=water-far")
            alertID = (reply.json["alerts"] as? [[String: Any]])?.first?["id"] as? Int
            if alertID == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        let id = try #require(alertID, "the alert fired")
        #expect(try await api.post("/v1/alerts/\(id)/acknowledge", body: #"{"comment": "crew dispatched"}"#).status == 200)
        let result = dir.file("load.json")
        let load = try ChildProcess.spawn(executable: "python3", arguments: ["-c", shutdownLoadScript, "\(broker.port)", "\(coapPort)", "\(httpPort)", "8", result],
                                          stdoutPath: dir.file("load.log"))
        defer { load.send(SIGKILL); _ = load.wait() }

        // Let traffic flow, then SIGTERM in the middle of it.
        #expect(await waitUntil(timeout: .seconds(120)) { FileContents.text(atPath: dir.file("load.log")).contains("started") })
        try await Task.sleep(for: .seconds(3))
        gateway.send(SIGTERM)
        let status = await gateway.wait(timeout: .seconds(10))
        if status == nil { gateway.send(SIGKILL); gateway.wait() }
        #expect(status == .exited(0), "exits 0 within 10 s of SIGTERM: \(FileContents.text(atPath: log).suffix(3000))")
        let firstRun = FileContents.text(atPath: log)
        for phase in ["coap", "http", "mqtt", "alerts", "store", "registry"] {
            #expect(firstRun.contains("shutdown.phase=\(phase)"), "the \(phase) phase is logged with its duration")
        }
        #expect(firstRun.contains("Gateway stopped"))

        // Back up while the load goes on: the broker redelivers what the gateway had not acknowledged.
        gateway = try await start()
        let reopened = try await api.get("/v1/alerts/\(id)")
        #expect(reopened.json["acknowledged"] as? Bool == true && reopened.json["acknowledged_by"] as? String == "operator-sun",
                "the acknowledgement survived the SIGTERM: \(reopened.body)")
        #expect(await load.wait(timeout: .seconds(180)) == .exited(0), "load script: \(FileContents.text(atPath: dir.file("load.log")))")
        let acked = try JSONDecoder().decode(LoadResult.self, from: Data(contentsOf: URL(fileURLWithPath: result)))
        #expect(acked.mqtt.count > 100 && acked.coap.count > 10 && acked.http.count > 10, "the load ran on every transport: \(acked.mqtt.count) \(acked.coap.count) \(acked.http.count)")
        #expect(acked.coap.count < acked.coap_sent || acked.http.count < acked.http_sent, "some requests met the stopped gateway")

        // Wait for the backlog queued on the broker to drain into the store (read beside the running gateway).
        let expectedDistance = Set(acked.mqtt + acked.coap)
        let drainDeadline = ContinuousClock.now.advanced(by: .seconds(180))
        while ContinuousClock.now < drainDeadline, !((try? await storedDevices(config: config, metric: "distance")) ?? []).isSuperset(of: expectedDistance) {
            try await Task.sleep(for: .seconds(1))
        }
        gateway.send(SIGTERM)
        #expect(await gateway.wait(timeout: .seconds(10)) == .exited(0))

        let distance = try await storedDevices(config: config, metric: "distance")
        let rsrp = try await storedDevices(config: config, metric: "rsrp")
        let lostMQTT = Set(acked.mqtt).subtracting(distance)
        let lostCoAP = Set(acked.coap).subtracting(distance)
        let lostPush = Set(acked.http).subtracting(rsrp)
        #expect(lostMQTT.isEmpty, "\(lostMQTT.count) of \(acked.mqtt.count) broker-accepted QoS 1 messages missing: \(lostMQTT.sorted().prefix(5))")
        #expect(lostCoAP.isEmpty, "\(lostCoAP.count) of \(acked.coap.count) ACKed CoAP CONs missing: \(lostCoAP.sorted().prefix(5))")
        #expect(lostPush.isEmpty, "\(lostPush.count) of \(acked.http.count) 200-answered pushes missing: \(lostPush.sorted().prefix(5))")
    }
}
