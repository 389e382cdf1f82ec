import CoAPIngest
import Foundation
import GatewayCore
import Logging
import ServiceLifecycle

/// `citygate bench coap`: a load generator sends NON uplinks over loopback to a whole gateway (CoAP server,
/// profile decoder, pipeline, registry, store with its WAL), and to a bare NIO UDP socket with the same options as
/// the reference; then confirmable requests measure the round trip to the piggybacked ACK, which is sent only
/// once the WAL holds the data.
///
/// The generator is plain POSIX `send` on connected sockets from one thread (not NIO, so it does not share the
/// server's event loop); every datagram is built before timing. An uplink counts as stored when its batch's
/// `DurableIngest.ingest` returned, i.e. after the WAL's group commit.
public struct CoAPBenchmark: Sendable {
    /// NON uplinks per run.
    public var messages: Int
    /// Target uplinks per second (0: as fast as the generator goes).
    public var rate: Int
    /// Client sockets (endpoints) the uplinks rotate over.
    public var sockets: Int
    /// Distinct devices (ids in the payload).
    public var devices: Int
    /// Confirmable requests for the round-trip figure.
    public var confirmables: Int
    /// Confirmable requests outstanding at once (one per client socket).
    public var confirmableConcurrency: Int
    /// Ask for no answers to NON uplinks (RFC 7967 No-Response), as NB-IoT devices in power-saving mode do.
    public var noResponse: Bool
    /// Device profiles.
    public var profiles: String
    /// WAL group-commit interval.
    public var commitIntervalMs: Int64

    /// Creates a benchmark.
    public init(messages: Int, rate: Int, sockets: Int, devices: Int, confirmables: Int, confirmableConcurrency: Int, noResponse: Bool,
                profiles: String, commitIntervalMs: Int64) {
        self.messages = messages
        self.rate = rate
        self.sockets = max(sockets, messages / 60_000 + 1)  // message IDs must not repeat per endpoint within NON_LIFETIME
        self.devices = devices
        self.confirmables = confirmables
        self.confirmableConcurrency = confirmableConcurrency
        self.noResponse = noResponse
        self.profiles = profiles
        self.commitIntervalMs = commitIntervalMs
    }

    /// What one run measured.
    public struct Result: Sendable {
        /// Datagrams the generator sent.
        public var sent: Int
        /// Seconds the generator took.
        public var sendSeconds: Double
        /// Reference: datagrams the bare NIO socket received, and over how long.
        public var referenceReceived: Int
        /// Reference seconds, first datagram to last.
        public var referenceSeconds: Double
        /// Gateway: datagrams received on the CoAP port.
        public var received: Int
        /// Gateway: uplinks refused with 5.03 because the cap on uplinks in flight was reached.
        public var overloaded: Int
        /// Gateway: uplinks stored (durable).
        public var stored: Int
        /// Gateway: samples produced.
        public var samples: Int
        /// Gateway: dead letters (should be 0).
        public var deadLetters: Int
        /// Gateway: seconds from the first send to the last uplink stored.
        public var storeSeconds: Double
        /// Confirmable round trips, in milliseconds, sorted.
        public var roundTripsMs: [Double]
        /// Confirmable requests answered 2.04.
        public var confirmed: Int
        /// Seconds the confirmable phase took.
        public var confirmableSeconds: Double

        /// Uplinks stored per second.
        public var storedRate: Double { Double(stored) / max(storeSeconds, 1e-9) }
        /// Reference datagrams per second.
        public var referenceRate: Double { Double(referenceReceived) / max(referenceSeconds, 1e-9) }
        /// The p-th percentile of the round trips.
        public func percentile(_ p: Double) -> Double {
            guard !roundTripsMs.isEmpty else { return .nan }
            return roundTripsMs[min(roundTripsMs.count - 1, Int((Double(roundTripsMs.count) * p).rounded(.up)) - 1)]
        }
    }

    /// Runs the reference, then the gateway, then the confirmable round trips.
    public func run(logger: Logger) async throws -> Result {
        let frames = prepared()

        let sink = try await UDPCountingSink()
        let (refSent, _) = await Self.onThread { send(frames, to: sink.port) }
        _ = await waitForQuiet { sink.datagrams }
        let refReceived = sink.datagrams
        let refSeconds = sink.seconds
        await sink.stop()
        _ = refSent

        let directory = NSTemporaryDirectory() + "citygate-bench-coap-\(ProcessInfo.processInfo.processIdentifier)"
        try? FileManager.default.removeItem(atPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = GatewayConfiguration()
        config.dataDirectory = directory
        config.profilesDirectory = profiles
        config.mqtt.enabled = false
        config.store.commitIntervalMs = commitIntervalMs
        config.coap.enabled = true
        config.coap.port = 0
        config.coap.perDeviceRate = 0
        config.coap.maxExchanges = 1 << 17
        config.registry.flushIntervalSeconds = 1
        let runtime = try GatewayRuntime(configuration: config, logger: logger)
        let group = runtime.serviceGroup(signals: false)
        let task = Task { try await group.run() }
        defer { task.cancel() }
        guard let coap = runtime.coap else { throw GatewayError.tool("the CoAP service did not start") }
        let deadline = Date().addingTimeInterval(10)
        while coap.coapPort == nil {
            guard Date() < deadline else { throw GatewayError.tool("the CoAP port did not bind") }
            try await Task.sleep(for: .milliseconds(10))
        }
        let port = coap.coapPort!

        let start = MonotonicClock.nowNs()
        let (sent, sendSeconds) = await Self.onThread { send(frames, to: port) }
        let lastStored = await waitForQuiet { coap.stats.completed }
        let s = coap.stats
        let pipeline = runtime.pipeline.stats

        let conStart = MonotonicClock.nowNs()
        let trips = await roundTrips(port: port)
        let conSeconds = Double(MonotonicClock.nowNs() - conStart) / 1e9

        await group.triggerGracefulShutdown()
        _ = try? await task.value
        return Result(
            sent: sent, sendSeconds: sendSeconds, referenceReceived: refReceived, referenceSeconds: refSeconds, received: s.datagrams,
            overloaded: s.overloaded, stored: s.completed, samples: pipeline.samples, deadLetters: pipeline.deadLetterTotal,
            storeSeconds: Double(lastStored &- start) / 1e9, roundTripsMs: trips.sorted(), confirmed: trips.count, confirmableSeconds: conSeconds)
    }

    /// The NON datagrams: NDDS75 gen-1 frames as ASCII hex on `dragino/ndds75`, message IDs unique per socket.
    func prepared() -> [[UInt8]] {
        (0..<messages).map { i in
            let device = String(format: "4110%08d", i % devices)
            let frame = device + "00640cd1" + String(format: "%02x%04x", 5 + i % 20, 100 + i % 3000) + "00"
            var options = [CoAPOption(number: CoAPOption.uriPath, string: "dragino"), CoAPOption(number: CoAPOption.uriPath, string: "ndds75")]
            if noResponse { options.append(CoAPOption(number: CoAPOption.noResponse, uint: 26)) }
            return CoAPMessage(type: .nonConfirmable, code: .post, messageID: UInt16(truncatingIfNeeded: i / sockets), token: [UInt8(i & 0xFF)],
                               options: options, payload: Array(frame.utf8)).serialized()
        }
    }

    /// Sends every frame, socket `i % sockets` for frame i, paced to `rate`; returns (sent, seconds).
    func send(_ frames: [[UInt8]], to port: Int) -> (Int, Double) {
        let fds = (0..<sockets).map { _ in Self.connectedSocket(port: port) }
        defer { for fd in fds where fd >= 0 { close(fd) } }
        let start = MonotonicClock.nowNs()
        var sent = 0
        for (i, frame) in frames.enumerated() {
            if rate > 0, i % 64 == 0 {
                let due = start + UInt64(Double(i) / Double(rate) * 1e9)
                let now = MonotonicClock.nowNs()
                if due > now { usleep(UInt32((due - now) / 1000)) }
            }
            let fd = fds[i % fds.count]
            let n = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            if n == frame.count { sent += 1 }
        }
        return (sent, Double(MonotonicClock.nowNs() - start) / 1e9)
    }

    /// Confirmable requests from `confirmableConcurrency` sockets, each waiting for its ACK before the next.
    func roundTrips(port: Int) async -> [Double] {
        let perSocket = max(1, confirmables / max(1, confirmableConcurrency))
        return await withTaskGroup(of: [Double].self) { group in
            for socketIndex in 0..<confirmableConcurrency {
                group.addTask {
                    let (trips, _) = await Self.onThread { () -> ([Double], Int) in
                        let fd = Self.connectedSocket(port: port)
                        defer { close(fd) }
                        var timeout = timeval(tv_sec: 5, tv_usec: 0)
                        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                        var trips: [Double] = []
                        var buffer = [UInt8](repeating: 0, count: 2048)
                        for k in 0..<perSocket {
                            let device = String(format: "4119%04d%04d", socketIndex, k % 10_000)
                            let frame = device + "00640cd1070a1600"
                            let id = UInt16(truncatingIfNeeded: k)
                            let request = CoAPMessage(type: .confirmable, code: .post, messageID: id, token: [UInt8(k & 0xFF), 1],
                                                      options: [CoAPOption(number: 11, string: "dragino"), CoAPOption(number: 11, string: "ndds75")],
                                                      payload: Array(frame.utf8)).serialized()
                            let t0 = MonotonicClock.nowNs()
                            _ = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
                            while true {
                                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                                guard n > 0 else { break }
                                if n >= 4, UInt16(buffer[2]) << 8 | UInt16(buffer[3]) == id {
                                    if buffer[1] == CoAPCode.changed.rawValue { trips.append(Double(MonotonicClock.nowNs() - t0) / 1e6) }
                                    break
                                }
                            }
                        }
                        return (trips, 0)
                    }
                    return trips
                }
            }
            var all: [Double] = []
            for await trips in group { all += trips }
            return all
        }
    }

    /// Polls `count` until it stops growing for a second; returns the monotonic time it last grew.
    func waitForQuiet(_ count: @Sendable () -> Int) async -> UInt64 {
        var last = count()
        var lastChange = MonotonicClock.nowNs()
        while MonotonicClock.nowNs() - lastChange < 1_000_000_000 {
            try? await Task.sleep(for: .milliseconds(1))
            let c = count()
            if c != last {
                last = c
                lastChange = MonotonicClock.nowNs()
            }
        }
        return lastChange
    }

    static func connectedSocket(port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, 4)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        return fd
    }

    /// Runs blocking socket work on its own thread, off the cooperative pool the gateway's tasks need.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }
}
