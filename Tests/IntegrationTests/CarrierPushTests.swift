import AsyncHTTPClient
import Catalog
import DeviceProfiles
import Foundation
import Gateway
import GatewayCore
import GatewayTesting
import Logging
import NIOCore
import NIOHTTP1
import PushIngest
import ServiceLifecycle
import Testing
import TimeSeriesStore

/// The whole gateway in-process (profiles, catalog, pipeline, store, HTTP server on a free loopback port; no MQTT)
/// receiving real HTTP pushes from AsyncHTTPClient.
final class PushGateway: Sendable {
    let runtime: GatewayRuntime
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let port: Int
    let data: String

    init(profiles: String, dataDirectory: String, commitIntervalMs: Int64, configure: (inout GatewayConfiguration) -> Void = { _ in }) async throws {
        var config = GatewayConfiguration()
        config.dataDirectory = dataDirectory
        config.profilesDirectory = profiles
        config.mqtt.enabled = false
        config.registry.flushIntervalSeconds = 0.2
        config.store.commitIntervalMs = commitIntervalMs
        config.http.enabled = true
        config.http.host = "127.0.0.1"
        config.http.port = try FreePort.next()
        configure(&config)
        var logger = Logger(label: "test.gateway")
        logger.logLevel = .warning
        runtime = try GatewayRuntime(configuration: config, logger: logger)
        port = config.http.port
        data = dataDirectory
        let group = runtime.serviceGroup(signals: false)
        self.group = group
        task = Task { try await group.run() }
        let port = self.port
        // A failure bound, not a timing assertion: in the full parallel suite on 2 cores the cooperative pool can be
        // busy for a minute or more before the server task first runs.
        guard await waitUntil(timeout: .seconds(180), { FreePort.isAccepting(port: port) }) else {
            await group.triggerGracefulShutdown()
            throw GatewayTestingError.timedOut(command: "gateway HTTP server on port \(port)")
        }
    }

    var storeWAL: String { runtime.configuration.storeDirectory + "/wal" }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// POSTs `body` and returns the status and the body text.
    func post(_ path: String, _ body: String) async throws -> PushReply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        return try await send(request)
    }

    func get(_ path: String) async throws -> PushReply {
        try await send(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"))
    }

    private func send(_ request: HTTPClientRequest) async throws -> PushReply {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let body = try await response.body.collect(upTo: 1 << 20)
        return PushReply(status: Int(response.status.code), body: String(buffer: body))
    }
}

/// The LiAn NB-IoT smoke detector (device-profiles/lian/smoke-ctwing.yaml) as it arrives by CTWing push rather than
/// through the MQTT bridge: the payload is the platform-decoded `payload` object, so paths start at
/// `$.serviceData`, the IMEI comes from the payload (the envelope's `IMEI` is also in `attr.imei`), and the device,
/// which sends no time of its own, is filed under the platform's receive time (`attr.platform.time_ms`).
///
/// `MATCH` is replaced by the match section: a `ctwing:` template on the push topic (`{productId}/{deviceId}`).
let lianPushProfile = """
    id: lian-smoke-ctwing-push
    version: 1
    vendor: LiAn (力安)
    model: NB-IoT smoke detector (CTWing push, profile mode)
    family: neuron
    report_interval: 24h
    match:
      MATCH
    input: json
    decode:
      - { name: imei, path: "$.serviceData.IMEI", role: device-id, required: true }
      - { name: time, expr: "attr.platform.time_ms", role: time, format: unix-ms }
      - { name: battery, path: "$.serviceData.Battery_Level", unit: "%", role: battery }
      - { name: smoke_event, path: "$.serviceData.Alarm_Status", enum: smoke_event, role: event }
      - { name: rsrp, path: "$.serviceData.RSRP", expr: "x > 0 ? -x : x", unit: dBm, role: signal.rsrp }
      - { name: sinr, path: "$.serviceData.SNR", unit: dB, role: signal.sinr }
      - { name: csq, path: "$.serviceData.CSQ", sentinel: { 99: null }, role: signal.csq }
    """

/// The real LiAn platform message (device-profiles/lian/smoke-ctwing.yaml, from ../shared/device-vectors).
let lianPush = """
    {"upPacketSN":-1,"upDataSN":-1,"topic":"v1/up/ad19prof","timestamp":1606982320277,"tenantId":"10461180",
     "serviceId":"","protocol":"lwm2m","productId":"15014772",
     "payload":{"serviceId":"notification","serviceData":{"TData":30,"SNR":1,"RSRP":114,"IMEI":"860374051096202",
     "Cell_ID_Length":8,"Cell_ID":"38848339","CSQ":5,"Battery_Level":100,"Alarm_Status":2,"AlarmLevel":100}},
     "messageType":"dataReport","deviceType":"","deviceId":"acf7baaee65e431eadfb8f5fe50e8b81","assocAssetId":"",
     "IMSI":"undefined","IMEI":"860374051096202"}
    """

/// Writes one profile into a fresh profiles directory.
func profilesDirectory(_ data: TemporaryDirectory, match: String) throws -> String {
    let dir = data.file("profiles/lian")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try lianPushProfile.replacingOccurrences(of: "MATCH", with: match).write(toFile: dir + "/smoke-ctwing-push.yaml", atomically: true, encoding: .utf8)
    return data.file("profiles")
}

/// True when the profile language accepts a `ctwing:` match key (the routing change has landed).
let ctwingMatchSupported: Bool = {
    let text = lianPushProfile.replacingOccurrences(of: "MATCH", with: #"ctwing: "15014772/{deviceId}""#)
    guard let dir = try? TemporaryDirectory() else { return false }
    let file = dir.file("probe.yaml")
    guard (try? text.write(toFile: file, atomically: true, encoding: .utf8)) != nil else { return false }
    return (try? ProfileLoader.load(file: file)) != nil
}()

@Suite(.serialized) struct CarrierPushTests {
    /// Points and series definitions in the WAL files on disk right now, read beside the live writer.
    func walContents(_ directory: String) throws -> (series: [String], points: Int) {
        var series: [String] = []
        var points = 0
        _ = try WALReader.replay(directory: directory, repair: false) { record in
            switch record {
            case .series(let definitions): series += definitions.map { "\($0.device)/\($0.metric)" }
            case .points(let p): points += p.count
            }
        }
        return (series, points)
    }

    @Test func ctwingPushOfTheLianSmokeDetectorIsDurableBeforeThe200() async throws {
        let data = try TemporaryDirectory()
        let profiles = try profilesDirectory(data, match: #"ctwing: "15014772/{platformDeviceId}""#)
        // A long group-commit interval: an answer sent before the commit would find the WAL still empty.
        let gateway = try await PushGateway(profiles: profiles, dataDirectory: data.file("data"), commitIntervalMs: 1_500)
        do {
            #expect(try await gateway.get("/health").status == 200)

            #expect(try await gateway.post("/push/ctwing", lianPush) == PushReply(status: 200, body: "ok"))
            // Read the WAL files now, after the 200 and before anything else: the samples must already be there.
            let wal = try walContents(gateway.storeWAL)
            #expect(wal.series.contains("860374051096202/smoke_event"))
            #expect(wal.series.contains("860374051096202/rsrp"))
            #expect(wal.points >= 5)

            let store = try #require(gateway.runtime.store)
            let rsrp = try #require(store.seriesID(device: "860374051096202", metric: "rsrp"))
            #expect(try store.last(rsrp)?.value == -114)
            let smoke = try #require(store.seriesID(device: "860374051096202", metric: "smoke_event"))
            #expect(try store.last(smoke)?.value == 2)
            #expect(try store.last(smoke)?.timeMs == 1_606_982_320_277, "the platform's timestamp, as the profile asked")

            let device = try #require(gateway.runtime.registry.device(id: "860374051096202"))
            #expect(device.profileID == "lian-smoke-ctwing-push")
            #expect(device.rsrpDbm == -114)
            #expect(device.sinrDb == 1)
            #expect(device.csqDbm == -103)
            #expect(device.battery?.value == 100)

            // The platform's retry: answered 200, not stored again.
            let accepted = store.stats.acceptedPoints
            #expect(try await gateway.post("/push/ctwing", lianPush) == PushReply(status: 200, body: "duplicate"))
            #expect(store.stats.acceptedPoints == accepted)
            #expect(gateway.runtime.pushReceiver.stats.duplicates == 1)

            // A malformed push is kept as a dead letter (with its raw body) and answered 200 so CTWing does not
            // count a failure.
            let broken = #"{"messageType":"dataReport","deviceId":"acf7baaee65e431eadfb8f5fe50e8b81","productId":"15014772","payload":"#
            #expect(try await gateway.post("/push/ctwing", broken) == PushReply(status: 200, body: "dead-lettered"))
            let letters = try gateway.runtime.deadLetters.list(transport: .ctwing)
            #expect(letters.count == 1)
            #expect(letters.first?.letter.reason == .malformed)
            #expect(letters.first?.letter.message.payload == Array(broken.utf8))

            // An unknown product has no profile: the decoder dead-letters it, and that is durable too.
            // (A later uplink: same device and payload at the same platform time would be a retry.)
            let unknown = lianPush.replacingOccurrences(of: "15014772", with: "99999999")
                .replacingOccurrences(of: "1606982320277", with: "1606982380277")
            #expect(try await gateway.post("/push/ctwing", unknown) == PushReply(status: 200, body: "ok"))
            #expect(try gateway.runtime.deadLetters.list(reason: .noProfile).first?.letter.message.topic == "99999999/acf7baaee65e431eadfb8f5fe50e8b81")
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test func onenetURLVerificationAndAWrongSignatureOverRealHTTP() async throws {
        let data = try TemporaryDirectory()
        let profiles = try profilesDirectory(data, match: #"ctwing: "15014772/{platformDeviceId}""#)
        let gateway = try await PushGateway(profiles: profiles, dataDirectory: data.file("data"), commitIntervalMs: 100) { config in
            config.http.onenet.enabled = true
            config.http.onenet.token = "citygate-test-token"
        }
        do {
            // Base64(MD5(token + nonce + msg)) = ik6bCgx1R+GrgER/I7txgg== (computed with Python hashlib).
            #expect(try await gateway.get("/push/onenet?msg=citygate-verify-123&nonce=abcdefgh&signature=ik6bCgx1R%2BGrgER%2FI7txgg%3D%3D")
                == PushReply(status: 200, body: "citygate-verify-123"))
            let forged = #"{"msg":{"at":1553224749838,"type":2,"dev_id":520156945,"status":1},"msg_signature":"AAAAAAAAAAAAAAAAAAAAAA==","nonce":"e5f6a7b8"}"#
            #expect(try await gateway.post("/push/onenet", forged).status == 403)
            #expect(gateway.runtime.pushReceiver.stats.authFailures == 1)
            #expect(try gateway.runtime.deadLetters.count() == 0, "nothing from a forged push is stored")
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    /// The same push matched through the profile language's own `ctwing:` key. Skipped until the profile-routing
    /// change (another engineer's branch) lets profiles declare `match: { ctwing: ... }`; on this branch the loader
    /// still rejects that key. Once it lands, this runs and must pass unchanged.
    @Test(.enabled(if: ctwingMatchSupported, "profiles cannot declare match.ctwing yet (profile-routing change not merged)"))
    func lianProfileMatchedByItsCTWingKey() async throws {
        let data = try TemporaryDirectory()
        let profiles = try profilesDirectory(data, match: #"ctwing: "15014772/{deviceId}""#)
        let gateway = try await PushGateway(profiles: profiles, dataDirectory: data.file("data"), commitIntervalMs: 100)
        do {
            #expect(try await gateway.post("/push/ctwing", lianPush) == PushReply(status: 200, body: "ok"))
            #expect(gateway.runtime.registry.device(id: "860374051096202")?.rsrpDbm == -114)
            #expect(try gateway.runtime.deadLetters.count() == 0)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }
}
