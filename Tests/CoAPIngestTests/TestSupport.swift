@testable import CoAPIngest
import GatewayCore
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

/// Batches a handler offered, kept for the test to answer.
final class OfferedBatches: Sendable {
    private let batches = Mutex<[UplinkBatch]>([])
    private let refuse = Atomic<Bool>(false)

    var offer: @Sendable (UplinkBatch) -> Bool {
        { batch in
            if self.refuse.load(ordering: .relaxed) { return false }
            self.batches.withLock { $0.append(batch) }
            return true
        }
    }

    func refuseFromNowOn() { refuse.store(true, ordering: .relaxed) }

    /// Everything offered so far, taken.
    func take() -> [UplinkBatch] { batches.withLock { b in defer { b = [] }; return b } }
}

/// A manual monotonic clock.
final class TestClock: Sendable {
    let ns = Atomic<UInt64>(1_000_000_000)
    var now: @Sendable () -> UInt64 { { self.ns.load(ordering: .relaxed) } }
    func advance(seconds: Double) { ns.add(UInt64(seconds * 1e9), ordering: .relaxed) }
}

/// A CoAP handler in an `EmbeddedChannel`, with helpers to send datagrams and read answers.
struct HandlerRig {
    static let device = try! SocketAddress(ipAddress: "10.0.0.7", port: 40_000)
    static let local = try! SocketAddress(ipAddress: "127.0.0.1", port: 5683)

    let channel: EmbeddedChannel
    let offered = OfferedBatches()
    let clock = TestClock()
    let counters = CoAPCounters()

    static func settings(maxExchanges: Int = 100, maxBodyBytes: Int = 4096, rate: Double = 0, burst: Double = 1, maxBlockTransfers: Int = 8)
        -> CoAPServerHandler.Settings
    {
        .init(maxExchanges: maxExchanges, maxBodyBytes: maxBodyBytes, maxBlockTransfers: maxBlockTransfers, blockTimeout: .seconds(60),
              dedupCapacity: 1000, nonDedupCapacity: 1000, perEndpointRate: rate, perEndpointBurst: burst, retryAfterSeconds: 3)
    }

    init(_ settings: CoAPServerHandler.Settings = HandlerRig.settings()) throws {
        channel = EmbeddedChannel()
        let handler = CoAPServerHandler(settings: settings, counters: counters, clock: clock.now, offer: offered.offer)
        try channel.pipeline.syncOperations.addHandler(handler)
    }

    /// Delivers one datagram (one read burst).
    func send(_ bytes: [UInt8], from remote: SocketAddress = HandlerRig.device) throws {
        let buffer = channel.allocator.buffer(bytes: bytes)
        try channel.writeInbound(AddressedEnvelope(remoteAddress: remote, data: buffer))
    }

    func send(_ message: CoAPMessage, from remote: SocketAddress = HandlerRig.device) throws { try send(message.serialized(), from: remote) }

    /// Every answer written so far, parsed.
    func answers() throws -> [CoAPMessage] {
        var out: [CoAPMessage] = []
        while let e = try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) {
            out.append(try CoAPMessage.parse(Array(e.data.readableBytesView)))
        }
        return out
    }

    /// Raw answer bytes.
    func answerBytes() throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let e = try channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) { out.append(Array(e.data.readableBytesView)) }
        return out
    }

    /// Answers every offered batch with `outcome` (as the ingest task would), and runs the loop.
    @discardableResult
    func store(_ outcome: (RawMessage) -> IngestOutcome = { _ in .stored(samples: 1) }) -> [RawMessage] {
        var messages: [RawMessage] = []
        for batch in offered.take() {
            messages += batch.items.map(\.message)
            batch.origin.complete(batch.items, batch.items.map { outcome($0.message) })
        }
        channel.embeddedEventLoop.run()
        return messages
    }

    static func post(_ id: UInt16, path: [String] = ["nb", "dev1", "up"], type: CoAPMessageType = .confirmable, token: [UInt8] = [0xBE, 0xEF],
                     options: [CoAPOption] = [], payload: [UInt8] = Array("0102".utf8), code: CoAPCode = .post) -> CoAPMessage {
        CoAPMessage(type: type, code: code, messageID: id, token: token,
                    options: path.map { CoAPOption(number: CoAPOption.uriPath, string: $0) } + options, payload: payload)
    }
}

/// A deterministic generator for fuzz inputs (SplitMix64).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
