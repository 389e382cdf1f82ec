import NIOCore
import NIOPosix
import Synchronization

/// The reference for `citygate bench coap`: a bare NIO UDP socket with the server's own channel options and one
/// event loop, whose handler only counts datagrams. What the CoAP server achieves is read against what this
/// receives from the same load generator on the same loopback.
public final class UDPCountingSink: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let counter: Counted

    /// The bound port.
    public let port: Int

    private final class Counted: Sendable {
        let datagrams = Atomic<Int>(0)
        let firstNs = Atomic<UInt64>(0)
        let lastNs = Atomic<UInt64>(0)
    }

    private final class CountingHandler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let counted: Counted
        var n = 0
        init(_ counted: Counted) { self.counted = counted }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            // Touch the bytes, as a parser would.
            n &+= Int(unwrapInboundIn(data).data.readableBytes)
            if counted.firstNs.load(ordering: .relaxed) == 0 { counted.firstNs.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed) }
            counted.datagrams.add(1, ordering: .relaxed)
        }
        func channelReadComplete(context: ChannelHandlerContext) {
            counted.lastNs.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed)
        }
    }

    /// Binds 127.0.0.1 on a free port.
    public init(receiveBufferBytes: Int = 4 << 20) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let counter = Counted()
        let channel = try await CoAPIngestService.datagramBootstrap(group, receiveBufferBytes: receiveBufferBytes) { channel in
            try channel.pipeline.syncOperations.addHandler(CountingHandler(counter))
        }.bind(host: "127.0.0.1", port: 0).get()
        self.group = group
        self.channel = channel
        self.counter = counter
        self.port = channel.localAddress?.port ?? 0
    }

    /// Datagrams received so far.
    public var datagrams: Int { counter.datagrams.load(ordering: .relaxed) }

    /// Seconds from the first datagram to the end of the last read burst.
    public var seconds: Double {
        Double(counter.lastNs.load(ordering: .relaxed) &- counter.firstNs.load(ordering: .relaxed)) / 1e9
    }

    /// Closes the socket and its event loop.
    public func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}
