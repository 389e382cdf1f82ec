import Catalog
import CoAPIngest
import DeviceProfiles
import Foundation
import Gateway
import GatewayCore
import GatewayTesting
import Logging
import ServiceLifecycle
import Testing

/// A whole gateway with CoAP and a plain UDP listener (bound to the Dragino NDDS75 profile) on free loopback
/// ports, MQTT off.
final class RunningCoAPGateway: Sendable {
    let runtime: GatewayRuntime
    let collector: SampleCollector
    let group: ServiceGroup
    let task: Task<Void, any Error>

    init(dataDirectory: String, configure: (inout GatewayConfiguration) -> Void = { _ in }) async throws {
        var config = GatewayConfiguration()
        config.dataDirectory = dataDirectory
        config.profilesDirectory = Repo.profiles
        config.mqtt.enabled = false
        config.registry.flushIntervalSeconds = 0.2
        config.coap.enabled = true
        config.coap.port = 0
        config.coap.udpListeners = [.init(port: 0, profile: "dragino-ndds75")]
        configure(&config)
        var logger = Logger(label: "test.coap")
        logger.logLevel = .warning
        collector = SampleCollector()
        runtime = try GatewayRuntime(configuration: config, downstream: [collector], logger: logger)
        let group = runtime.serviceGroup(signals: false)
        self.group = group
        task = Task { try await group.run() }
        let coap = try #require(runtime.coap)
        guard await waitUntil(timeout: .seconds(180), { coap.coapPort != nil && coap.udpPorts.count == config.coap.udpListeners.count }) else {
            throw GatewayTestingError.timedOut(command: "CoAP bind")
        }
    }

    var port: Int { runtime.coap?.coapPort ?? 0 }
    var udpPort: Int { runtime.coap?.udpPorts["dragino-ndds75"] ?? 0 }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

/// libcoap's command-line client (Debian libcoap3-bin installs it as coap-client-notls and friends).
let coapClient: String? = ProcessRunner.which("coap-client") ?? ProcessRunner.which("coap-client-notls")
    ?? ProcessRunner.which("coap-client-openssl") ?? ProcessRunner.which("coap-client-gnutls")

/// True when Python can import aiocoap.
let aiocoapAvailable: Bool = {
    guard ProcessRunner.which("python3") != nil else { return false }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ProcessRunner.which("python3")!)
    p.arguments = ["-c", "import aiocoap"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}()

/// An NDDS75 gen-1 frame (14 bytes as ASCII hex) for a device id of 12 digits.
func ndds75Frame(device: String, distanceMM: Int) -> String {
    device + "00640cd107" + String(format: "%04x", distanceMM) + "00"
}

/// An NDDS75 gen-2 frame with `records` datalog records: 21 + 6·records bytes, as ASCII hex (larger than one block).
func ndds75Datalog(device: String, records: Int) -> String {
    var s = device + "006e0d0a1f0100015e65535431"
    for i in 0..<records { s += String(format: "%04x%08x", 100 + i, 0x6553_0000 + i * 60) }
    return s
}

/// Runs a python3 script with arguments; returns stdout.
func python(_ script: String, _ arguments: [String]) async throws -> String {
    try await ProcessRunner.check("python3", ["-c", script] + arguments, timeout: .seconds(60)).stdoutText
}

/// Interoperability with real CoAP clients, the raw UDP listener, and retransmissions from a raw socket.
@Suite(.serialized)
struct CoAPInteropTests {
    @Test(.enabled(if: coapClient != nil)) func libcoapClientSendsConNonAndBlock1() async throws {
        let data = try TemporaryDirectory()
        let gateway = try await RunningCoAPGateway(dataDirectory: data.path)
        defer { Task { await gateway.stop() } }
        let client = try #require(coapClient)
        let base = "coap://127.0.0.1:\(gateway.port)"

        // CON: answered 2.04 once stored; the query carries radio values into the registry.
        let con = try await ProcessRunner.check(client, ["-m", "post", "-t", "0", "-B", "10", "-e", ndds75Frame(device: "411056750001", distanceMM: 2582),
                                                         "\(base)/dragino/ndds75/up?rsrp=-97&ecl=1"])
        #expect(!con.stdoutText.contains("4."), "\(con.stdoutText)\(con.stderrText)")
        #expect(gateway.collector.values(device: "411056750001", metric: "distance") == [2.582])
        let record = try #require(gateway.runtime.registry.device(id: "411056750001"))
        #expect(record.rsrpDbm == -97)
        #expect(record.ecl == 1)
        #expect(record.csqDbm == -99, "CSQ from the payload")

        // NON.
        try await ProcessRunner.check(client, ["-m", "post", "-N", "-B", "10", "-e", ndds75Frame(device: "411056750002", distanceMM: 1000), "\(base)/dragino/ndds75"])
        #expect(await waitUntil { gateway.collector.values(device: "411056750002", metric: "distance") == [1.0] })

        // Block1: 561 bytes of frame as 1122 characters, in 64-byte blocks.
        let file = data.file("datalog.txt")
        try Data(ndds75Datalog(device: "8674120100000003", records: 90).utf8).write(to: URL(fileURLWithPath: file))
        let block = try await ProcessRunner.check(client, ["-m", "post", "-b", "64", "-B", "20", "-f", file, "\(base)/dragino/ndds75"])
        #expect(!block.stdoutText.contains("4."), "\(block.stdoutText)\(block.stderrText)")
        #expect(gateway.collector.values(device: "8674120100000003", metric: "distance").count == 91, "the reassembled body decoded whole")
        #expect((gateway.runtime.coap?.stats.blocks ?? 0) >= 17)

        // Nothing routes this path: 4.04 with a diagnostic, and the payload kept as a dead letter.
        let missing = try await ProcessRunner.run(client, ["-m", "post", "-B", "10", "-e", "0102", "\(base)/no/such/path"])
        #expect((missing.stdoutText + missing.stderrText).contains("4.04"), "\(missing.stdoutText)\(missing.stderrText)")
        await gateway.stop()
        let letters = try DeadLetterStore(path: data.file("catalog.db"), logger: Logger(label: "t"))
        #expect(try letters.list(limit: 10).contains { $0.letter.message.topic == "no/such/path" && $0.letter.message.transport == .coap })
    }

    @Test(.enabled(if: aiocoapAvailable)) func aiocoapSendsConNonAndBlock1() async throws {
        let data = try TemporaryDirectory()
        let gateway = try await RunningCoAPGateway(dataDirectory: data.path)
        defer { Task { await gateway.stop() } }
        let script = """
            import asyncio, sys
            import aiocoap
            async def main(port, frames):
                ctx = await aiocoap.Context.create_client_context()
                for kind, frame in frames:
                    m = aiocoap.Message(code=aiocoap.POST, uri=f"coap://127.0.0.1:{port}/dragino/ndds75", payload=frame.encode(),
                                        mtype=aiocoap.NON if kind == "non" else aiocoap.CON)
                    r = await asyncio.wait_for(ctx.request(m).response, 30)
                    print(kind, r.code)
                await ctx.shutdown()
            asyncio.run(main(int(sys.argv[1]), [a.split(":", 1) for a in sys.argv[2:]]))
            """
        let out = try await python(script, [
            "\(gateway.port)", "con:" + ndds75Frame(device: "411056750011", distanceMM: 500), "non:" + ndds75Frame(device: "411056750012", distanceMM: 600),
            "con:" + ndds75Datalog(device: "8674120100000013", records: 200),
        ])
        #expect(out.split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") } == ["con 2.04", "non 2.04", "con 2.04"], "\(out)")
        #expect(gateway.collector.values(device: "411056750011", metric: "distance") == [0.5])
        #expect(gateway.collector.values(device: "411056750012", metric: "distance") == [0.6])
        #expect(gateway.collector.values(device: "8674120100000013", metric: "distance").count == 201, "2,442 characters arrived in Block1 blocks")
        await gateway.stop()
    }

    @Test func aRetransmittedConIsStoredOnceAndGarbageChangesNothing() async throws {
        let data = try TemporaryDirectory()
        let gateway = try await RunningCoAPGateway(dataDirectory: data.path)
        defer { Task { await gateway.stop() } }
        let request = CoAPMessage(type: .confirmable, code: .post, messageID: 0x5151, token: [1, 2, 3],
                                  options: ["dragino", "ndds75"].map { CoAPOption(number: CoAPOption.uriPath, string: $0) },
                                  payload: Array(ndds75Frame(device: "411056750021", distanceMM: 777).utf8))
        // Garbage first, then the same CON three times from one socket: twice at once, once after the first ACK.
        let script = """
            import socket, sys, os
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(20)
            addr = ("127.0.0.1", int(sys.argv[1]))
            for n in range(200):
                s.sendto(os.urandom(n % 40), addr)
            s.sendto(bytes.fromhex("40020001f1"), addr)
            s.settimeout(20)
            msg = bytes.fromhex(sys.argv[2])
            s.sendto(msg, addr); s.sendto(msg, addr)
            answers = []
            while True:
                data, _ = s.recvfrom(2048)
                if data[2:4] == msg[2:4]:
                    answers.append(data.hex()); break
            s.sendto(msg, addr)
            while True:
                data, _ = s.recvfrom(2048)
                if data[2:4] == msg[2:4]:
                    answers.append(data.hex()); break
            print("\\n".join(answers))
            """
        let out = try await python(script, ["\(gateway.port)", HexCodec.encode(request.serialized())])
        let answers = out.split(separator: "\n").map { try? CoAPMessage.parse(HexCodec.decode(String($0)) ?? []) }
        #expect(answers.count == 2)
        #expect(answers.allSatisfy { $0?.type == .acknowledgement && $0?.code == .changed && $0?.token == [1, 2, 3] })
        #expect(gateway.collector.values(device: "411056750021", metric: "distance") == [0.777], "stored once")
        let stats = try #require(gateway.runtime.coap?.stats)
        #expect(stats.duplicates >= 1)
        #expect(stats.malformed >= 1)
        await gateway.stop()
    }

    @Test func plainUDPDatagramsAreDecodedByTheListenersProfile() async throws {
        let data = try TemporaryDirectory()
        let gateway = try await RunningCoAPGateway(dataDirectory: data.path)
        defer { Task { await gateway.stop() } }
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for frame in sys.argv[2:]:
                s.sendto(frame.encode(), ("127.0.0.1", int(sys.argv[1])))
            """
        _ = try await python(script, ["\(gateway.udpPort)", ndds75Frame(device: "411056750031", distanceMM: 1234), "not hex at all"])
        #expect(await waitUntil { gateway.collector.values(device: "411056750031", metric: "distance") == [1.234] })
        #expect(await waitUntil { gateway.runtime.pipeline.stats.deadLetters[.malformed, default: 0] == 1 }, "the bad datagram is a dead letter")
        await gateway.stop()
        let letters = try DeadLetterStore(path: data.file("catalog.db"), logger: Logger(label: "t"))
        #expect(try letters.list(limit: 10).contains { $0.letter.message.transport == .udp && $0.letter.message.topic == "dragino-ndds75" })
    }
}
