import Foundation
import GatewayCore
import GatewayTesting
import Testing

/// Shared pieces of the fault tests (FaultTests.swift): the mode switch, a seeded generator, a `citygate run` child
/// with its own environment, /proc readings, and the outside load (MQTT QoS 1, CoAP CON, CTWing push).
enum FaultMode {
    /// `CITYGATE_FAULTS=long`: many kills and cycles (local runs); anything else is the short CI mode.
    static let long = ProcessInfo.processInfo.environment["CITYGATE_FAULTS"] == "long"
    /// The seed every random choice of a run derives from: `CITYGATE_FAULTS_SEED`, else fresh (and printed).
    static let seed: UInt64 = ProcessInfo.processInfo.environment["CITYGATE_FAULTS_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
}

/// SplitMix64: a small, seedable generator, so a failing run can be repeated with `CITYGATE_FAULTS_SEED`.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One life of the real `citygate run`, started with extra environment variables (through `env`, so the test
/// process's own environment is untouched and nothing leaks into other tests' children).
struct GatewayLife {
    let child: ChildProcess
    let log: String
    let pid: Int32

    static func spawn(config: String, log: String, environment: [String] = []) throws -> GatewayLife {
        let child = try ChildProcess.spawn(executable: "/usr/bin/env", arguments: environment + [citygateExecutable!, "run", "-c", config], stdoutPath: log)
        return GatewayLife(child: child, log: log, pid: child.pid)
    }

    /// Waits until every marker is in the log and the given TCP ports accept; kills and fails otherwise.
    func waitReady(markers: [String], ports: [Int] = [], timeout: Duration = .seconds(180)) async throws {
        var exited = false
        let up = await waitUntil(timeout: timeout, pollEvery: .milliseconds(20)) {
            let text = FileContents.text(atPath: log)
            if markers.allSatisfy({ text.contains($0) }) && ports.allSatisfy({ FreePort.isAccepting(port: $0) }) { return true }
            exited = !isRunning
            return exited
        } && !exited
        if !up { kill9() }
        try #require(up, "gateway started: \(FileContents.text(atPath: log).suffix(3000))")
    }

    func kill9() {
        child.send(SIGKILL)
        child.wait()
    }

    /// SIGTERM and the exit status (nil: still running after `timeout`, then killed).
    func terminate(timeout: Duration = .seconds(20)) async -> ProcessRunner.Status? {
        child.send(SIGTERM)
        let status = await child.wait(timeout: timeout)
        if status == nil { kill9() }
        return status
    }

    var isRunning: Bool { kill(pid, 0) == 0 && !(ProcessProbe(pid: pid).state == "Z") }
}

/// CPU readings from /proc for one process (ProcessProbe has the rest).
enum ProcStat {
    /// Share of one core used over `interval` (1.0 = one core busy).
    static func cpuShare(_ pid: Int32, over interval: Duration) async -> Double? {
        let probe = ProcessProbe(pid: pid)
        guard let a = probe.cpuTicks else { return nil }
        let start = ContinuousClock.now
        try? await Task.sleep(for: interval)
        guard let b = probe.cpuTicks else { return nil }
        let seconds = Double((ContinuousClock.now - start).components.seconds) + Double((ContinuousClock.now - start).components.attoseconds) / 1e18
        return Double(b - a) / ProcessProbe.ticksPerSecond / seconds
    }
}

/// The outside devices of the fault tests, in Python (paho-mqtt, a raw CoAP socket, urllib): every message from its
/// own device id (prefix + sequence number), so loss and duplicates are counted exactly. Runs until the stop file
/// exists. Each CoAP and HTTP attempt is appended to the events file as it happens (`coap <unix s> <code> <device>`,
/// `http <unix s> <status> <imei>`); at the end the JSON result lists the MQTT messages the broker acknowledged
/// (PUBACK) with their publish time, and every CoAP/HTTP attempt with its answer (CoAP code byte: 0x44 = 2.04,
/// 0xa3 = 5.03; -1 no answer).
let faultLoadScript = #"""
import json, os, socket, struct, sys, threading, time, urllib.request, urllib.error
import paho.mqtt.client as mqtt

cfg = json.loads(sys.argv[1])
events = open(cfg["events"], "a", buffering=1)
lock = threading.Lock()
result = {"mqtt": [], "mqtt_sent": 0, "coap": [], "http": []}

def event(line):
    with lock:
        events.write(line + "\n")

def stopped():
    return os.path.exists(cfg["stop"])

def frame(device, distance):  # Dragino NDDS75 gen-1, ASCII hex
    return device + "00640cd107" + "%04x" % distance + "00"

def run_mqtt():
    try:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg["mqtt_client"], protocol=mqtt.MQTTv311)
    except AttributeError:
        c = mqtt.Client(client_id=cfg["mqtt_client"], protocol=mqtt.MQTTv311)
    c.max_queued_messages_set(0)
    c.max_inflight_messages_set(100)
    c.reconnect_delay_set(min_delay=1, max_delay=2)
    c.connect("127.0.0.1", cfg["mqtt_port"])
    c.loop_start()
    sent = []
    n = 0
    while not stopped():
        device = cfg["mqtt_prefix"] + "%07d" % n
        info = c.publish(cfg.get("mqtt_topic", "city/lixia/dragino/ndds75/%s/up") % device, frame(device, 100 + n % 60000), qos=1)
        sent.append((device, time.time(), info))
        n += 1
        time.sleep(cfg["mqtt_interval"])
    # A publish made while the broker is down fails at once (rc != 0) and is never acknowledged; paho's
    # is_published() raises for it, so ask safely and wait only for the ones that went out.
    def acked(i):
        try:
            return i.is_published()
        except Exception:
            return False
    pending = [i for _, _, i in sent if i.rc == mqtt.MQTT_ERR_SUCCESS]
    end = time.time() + 120
    while time.time() < end and not all(acked(i) for i in pending):
        time.sleep(0.05)
    result["mqtt"] = [[d, t] for d, t, i in sent if acked(i)]
    result["mqtt_sent"] = len(sent)
    c.loop_stop()
    c.disconnect()

def run_coap():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    n = 0
    while not stopped():
        device = cfg["coap_prefix"] + "%07d" % n
        mid = n & 0xFFFF
        token = struct.pack(">H", n & 0xFFFF)
        msg = bytes([0x42, 0x02]) + struct.pack(">H", mid) + token + bytes([0xB7]) + b"dragino" + bytes([0x06]) + b"ndds75" + b"\xff" + frame(device, 100 + n % 60000).encode()
        n += 1
        code = -1
        t = time.time()
        try:
            s.sendto(msg, ("127.0.0.1", cfg["coap_port"]))
            while True:
                data, _ = s.recvfrom(2048)
                if len(data) >= 4 and data[2:4] == msg[2:4]:
                    code = data[1]
                    break
        except (socket.timeout, ConnectionRefusedError, OSError):
            time.sleep(0.05)
        result["coap"].append([device, t, code])
        event("coap %.3f %d %s" % (t, code, device))
        time.sleep(cfg["coap_interval"])

def run_http():
    n = 0
    while not stopped():
        imei = cfg["http_prefix"] + "%010d" % n
        body = json.dumps({"upPacketSN": -1, "timestamp": int(time.time() * 1000), "productId": "15014772", "messageType": "dataReport",
                           "deviceId": "dev" + imei, "IMEI": imei, "protocol": "lwm2m", "topic": "v1/up/ad19prof",
                           "payload": {"serviceId": "notification", "serviceData": {"IMEI": imei, "RSRP": 100 + n % 20, "SNR": 1, "CSQ": 5,
                                                                                   "Battery_Level": 90, "Alarm_Status": 0}}}).encode()
        n += 1
        status = -1
        t = time.time()
        try:
            r = urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d/push/ctwing" % cfg["http_port"], data=body,
                                                              headers={"Content-Type": "application/json"}), timeout=10)
            status = r.status if r.read() == b"ok" else -2
        except urllib.error.HTTPError as e:
            status = e.code
        except Exception:
            time.sleep(0.05)
        result["http"].append([imei, t, status])
        event("http %.3f %d %s" % (t, status, imei))
        time.sleep(cfg["http_interval"])

threads = [threading.Thread(target=f) for f, port in ((run_mqtt, "mqtt_port"), (run_coap, "coap_port"), (run_http, "http_port")) if cfg.get(port)]
print("started", flush=True)
for t in threads: t.start()
for t in threads: t.join()
json.dump(result, open(cfg["out"], "w"))
print("done", flush=True)
"""#

/// A running `faultLoadScript` and what it reported.
struct FaultLoad {
    struct Attempt {
        var device: String
        var time: Double
        var code: Int
    }

    let child: ChildProcess
    let dir: TemporaryDirectory
    let name: String

    var stopFile: String { dir.file("\(name).stop") }
    var eventsFile: String { dir.file("\(name).events") }
    var resultFile: String { dir.file("\(name).json") }
    var logFile: String { dir.file("\(name).log") }

    /// Starts the load. Ports of 0 leave that transport out.
    static func start(dir: TemporaryDirectory, name: String, mqttPort: Int = 0, coapPort: Int = 0, httpPort: Int = 0, prefix: Int,
                      mqttInterval: Double = 0.004, coapInterval: Double = 0.01, httpInterval: Double = 0.02, mqttClient: String? = nil) async throws -> FaultLoad {
        let config: [String: Any] = [
            "mqtt_port": mqttPort, "coap_port": coapPort, "http_port": httpPort,
            "mqtt_prefix": "41\(prefix)10", "coap_prefix": "41\(prefix)20", "http_prefix": "86\(prefix)37",
            "mqtt_interval": mqttInterval, "coap_interval": coapInterval, "http_interval": httpInterval,
            "mqtt_client": mqttClient ?? "fault-load-\(name)",
            "events": dir.file("\(name).events"), "stop": dir.file("\(name).stop"), "out": dir.file("\(name).json"),
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
        let child = try ChildProcess.spawn(executable: "python3", arguments: ["-c", faultLoadScript, json], stdoutPath: dir.file("\(name).log"))
        let load = FaultLoad(child: child, dir: dir, name: name)
        let started = await waitUntil(timeout: .seconds(120), pollEvery: .milliseconds(20)) { FileContents.text(atPath: load.logFile).contains("started") }
        try #require(started, "load script started: \(FileContents.text(atPath: load.logFile))")
        return load
    }

    /// The CoAP/HTTP attempts so far, from the events file.
    func events() -> (coap: [Attempt], http: [Attempt]) {
        var coap: [Attempt] = []
        var http: [Attempt] = []
        for line in FileContents.text(atPath: eventsFile).split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 4, let t = Double(f[1]), let c = Int(f[2]) else { continue }
            let a = Attempt(device: String(f[3]), time: t, code: c)
            if f[0] == "coap" { coap.append(a) } else { http.append(a) }
        }
        return (coap, http)
    }

    /// Stops the load and reads its result: MQTT messages acknowledged by the broker (device, publish time),
    /// messages published, and every CoAP/HTTP attempt.
    func finish() async throws -> (mqtt: [(device: String, time: Double)], mqttSent: Int, coap: [Attempt], http: [Attempt]) {
        FileManager.default.createFile(atPath: stopFile, contents: nil)
        let status = await child.wait(timeout: .seconds(240))
        if status == nil { child.send(SIGKILL); child.wait() }
        try #require(status == .exited(0), "load script: \(FileContents.text(atPath: logFile).suffix(2000))")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: resultFile))) as? [String: Any])
        let mqtt = ((object["mqtt"] as? [[Any]]) ?? []).compactMap { row -> (String, Double)? in
            guard row.count == 2, let d = row[0] as? String, let t = (row[1] as? NSNumber)?.doubleValue else { return nil }
            return (d, t)
        }
        func attempts(_ key: String) -> [Attempt] {
            ((object[key] as? [[Any]]) ?? []).compactMap { row in
                guard row.count == 3, let d = row[0] as? String, let t = (row[1] as? NSNumber)?.doubleValue, let c = (row[2] as? NSNumber)?.intValue else { return nil }
                return Attempt(device: d, time: t, code: c)
            }
        }
        return (mqtt.map { (device: $0.0, time: $0.1) }, (object["mqtt_sent"] as? NSNumber)?.intValue ?? 0, attempts("coap"), attempts("http"))
    }
}

/// Rows of `citygate export --format csv` for one metric: (device, time) pairs, in file order (repeats kept).
func exportedRows(config: String, metric: String, from: String = "-2h", to: String? = nil) async throws -> [(device: String, timeMs: Int64)] {
    var args = ["export", "-c", config, "--metric", metric, "--from=\(from)", "--format", "csv"]
    if let to { args += ["--to=\(to)"] }
    let out = try await ProcessRunner.check(citygateExecutable!, args, timeout: .seconds(300))
    return out.stdoutText.split(separator: "\n").dropFirst().compactMap { line in
        let f = line.split(separator: ",")
        guard f.count >= 3, let t = Int64(f[2]) else { return nil }
        return (String(f[0]), t)
    }
}

/// `citygate store check` on a configuration: its output, and whether it passed.
func storeCheck(config: String, crashed: Bool = false) async throws -> (ok: Bool, output: String) {
    let out = try await ProcessRunner.run(citygateExecutable!, ["store", "check", "-c", config] + (crashed ? ["--crashed"] : []), timeout: .seconds(300))
    return (out.succeeded, out.stdoutText + out.stderrText)
}

/// The profiles of the fault tests: the shipped NDDS75 (MQTT, CoAP) and the LiAn smoke detector by CTWing push.
func faultProfiles(_ dir: TemporaryDirectory) throws -> String {
    let profiles = try profilesDirectory(dir, match: #"ctwing: "15014772/{platformDeviceId}""#)
    try FileManager.default.copyItem(atPath: Repo.profiles + "/dragino/ndds75.yaml", toPath: profiles + "/ndds75.yaml")
    return profiles
}

/// Sum of `key=value` integers over the log lines that contain `marker`.
func sumOfLogValues(_ text: String, marker: String, key: String) -> Int {
    text.split(separator: "\n").filter { $0.contains(marker) }.reduce(0) { total, line in
        guard let r = line.range(of: "\(key)=") else { return total }
        return total + (Int(line[r.upperBound...].prefix { $0.isNumber }) ?? 0)
    }
}

extension ProcessRunner {
    /// Runs a short command to completion on the calling thread (for static probes); its exit status.
    static func runSync(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: which(executable) ?? executable)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }
}
