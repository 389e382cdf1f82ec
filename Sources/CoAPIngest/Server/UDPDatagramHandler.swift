import GatewayCore
import NIOCore

/// A plain UDP listener bound to one device profile: each datagram is one uplink (transport `udp`, topic = the
/// profile id, so `ProfileSet` decodes it with that profile), with no answer, since plain UDP has none.
///
/// The same limits as CoAP apply, but a refused datagram can only be dropped and counted
/// (`gateway_ingest_dropped_total{transport="udp"}`). Confined to its channel's event loop.
final class UDPDatagramHandler: ChannelInboundHandler, UplinkCompleting {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let profileID: String
    private let maxInFlight: Int
    private let offer: @Sendable (UplinkBatch) -> Bool
    private let counters: CoAPCounters
    private let clock: @Sendable () -> UInt64
    private var limiter: EndpointRateLimiter
    private var origin: (any UplinkOrigin)?
    private var pending: [PendingUplink] = []
    private var inFlight = 0
    private var local = CoAPIngestStats()
    private var housekeeping: RepeatedTask?

    /// Creates a listener handler for `profileID`.
    init(profileID: String, maxInFlight: Int, perEndpointRate: Double, perEndpointBurst: Double, counters: CoAPCounters,
         clock: @escaping @Sendable () -> UInt64 = { NIODeadline.now().uptimeNanoseconds }, offer: @escaping @Sendable (UplinkBatch) -> Bool) {
        self.profileID = profileID
        self.maxInFlight = maxInFlight
        self.offer = offer
        self.counters = counters
        self.clock = clock
        limiter = EndpointRateLimiter(ratePerSecond: perEndpointRate, burst: perEndpointBurst)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        origin = LoopBoundOrigin(handler: NIOLoopBound(self as any UplinkCompleting, eventLoop: context.eventLoop), eventLoop: context.eventLoop)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        housekeeping = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            bound.value.limiter.sweep(nowNs: bound.value.clock())
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        housekeeping?.cancel()
        housekeeping = nil
        counters.publish(&local)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        local.udpDatagrams += 1
        guard inFlight < maxInFlight, limiter.allow(EndpointKey(envelope.remoteAddress), nowNs: clock()) else {
            local.udpDropped += 1
            return
        }
        let payload = Array(envelope.data.readableBytesView)
        pending.append(PendingUplink(message: RawMessage(transport: .udp, topic: profileID, payload: payload, receiveTimeMs: WallClock.nowMs()), reply: nil))
        inFlight += 1
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !pending.isEmpty, let origin {
            let items = pending
            pending = []
            if !offer(UplinkBatch(items: items, origin: origin)) {
                inFlight -= items.count
                local.udpDropped += items.count
            }
        }
        counters.publish(&local)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}

    /// Forgets stored datagrams (their outcome is in the registry or the dead letters; nobody to answer).
    func complete(_ items: [PendingUplink], _ outcomes: [IngestOutcome]) {
        inFlight -= items.count
    }
}
