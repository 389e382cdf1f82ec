import GatewayCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The CoAP server and the plain UDP listeners, as one `Service`.
///
/// ## Flow
/// One event loop receives datagrams (a classic `ChannelInboundHandler` per socket: measured faster than the
/// async channel wrapper). Each handler parses, deduplicates and limits on the loop, and at the end of a read
/// burst offers what it accepted to a bounded `IngestQueue`: one lock per burst, not per message. The ingest task
/// takes whatever is waiting and calls `DurableIngest.ingest` with it; up to `concurrentBatches` such calls run at
/// once, since each waits for the WAL's group commit. The outcomes go back to each handler's loop in one hop,
/// and only then are the CON ACKs (and NON answers) sent: an acknowledged uplink is durable.
///
/// ## Lifecycle
/// `run()` binds, ingests until graceful shutdown or cancellation, then stops reading, stores and answers what it
/// had accepted, closes the sockets and returns. It throws only when a socket cannot be bound.
public final class CoAPIngestService: Service, Sendable {
    /// The configuration it runs with.
    public let configuration: CoAPIngestConfiguration
    private let ingest: any DurableIngest
    private let logger: Logger
    private let queue: IngestQueue<UplinkBatch>
    private let counters = CoAPCounters()
    private let bound = Mutex<(coap: Int?, udp: [String: Int])>((nil, [:]))
    private let started = Atomic<Bool>(false)
    private let stopping = Mutex<[any Channel]?>([])

    /// Creates the service (nothing is bound until `run`).
    public init(configuration: CoAPIngestConfiguration, ingest: any DurableIngest, logger: Logger) {
        self.configuration = configuration
        self.ingest = ingest
        self.logger = logger
        queue = IngestQueue(capacity: 1 << 16)
    }

    /// Totals since start.
    public var stats: CoAPIngestStats { counters.snapshot }

    /// The CoAP port once bound (useful with port 0).
    public var coapPort: Int? { bound.withLock { $0.coap } }

    /// The UDP listeners' ports once bound, by profile id.
    public var udpPorts: [String: Int] { bound.withLock { $0.udp } }

    /// Binds, serves until shutdown, drains and returns.
    public func run() async throws {
        precondition(!started.exchange(true, ordering: .relaxed), "CoAPIngestService.run() may only be called once")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var channels: [any Channel] = []
        do {
            channels = try await bindAll(group)
        } catch {
            for c in channels { try? await c.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        let registered = stopping.withLock { list -> Bool in
            guard list != nil else { return false }
            list = channels
            return true
        }
        if !registered { stopIntake() }
        logger.info("CoAP ingest started", metadata: [
            "coap.address": "\(configuration.coapEnabled ? "\(configuration.host):\(coapPort ?? 0)" : "off")",
            "udp.listeners": "\(udpPorts.map { "\($0.value)→\($0.key)" }.sorted())",
        ])
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await ingestLoop()
            } onGracefulShutdown: { [self] in
                stopIntake()
            }
        } onCancel: { [self] in
            stopIntake()
        }
        // Every outcome has been handed to the loops; close after those answers are written.
        for c in channels { try? await c.close() }
        try? await group.shutdownGracefully()
        let s = stats
        logger.info("CoAP ingest stopped", metadata: [
            "coap.uplinks": "\(s.uplinks)", "coap.duplicates": "\(s.duplicates)", "coap.malformed": "\(s.malformed)",
            "coap.overloaded": "\(s.overloaded)", "udp.datagrams": "\(s.udpDatagrams)", "udp.dropped": "\(s.udpDropped)",
        ])
    }

    /// Stops reading new datagrams and closes the queue, so the ingest loop drains and ends. Idempotent.
    private func stopIntake() {
        let channels = stopping.withLock { list -> [any Channel] in
            let c = list ?? []
            list = nil
            return c
        }
        for c in channels { c.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
        queue.finish()
    }

    private func bindAll(_ group: MultiThreadedEventLoopGroup) async throws -> [any Channel] {
        var channels: [any Channel] = []
        let c = configuration
        let queue = self.queue
        let counters = self.counters
        let offer: @Sendable (UplinkBatch) -> Bool = { queue.offer($0) }
        if c.coapEnabled {
            let settings = CoAPServerHandler.Settings(
                maxExchanges: c.maxExchanges, maxBodyBytes: c.maxBodyBytes, maxBlockTransfers: c.maxBlockTransfers, blockTimeout: c.blockTimeout,
                dedupCapacity: c.dedupCapacity, nonDedupCapacity: c.nonDedupCapacity, perEndpointRate: c.perEndpointRate,
                perEndpointBurst: c.perEndpointBurst, retryAfterSeconds: c.retryAfterSeconds)
            let channel = try await bootstrap(group) { channel in
                try channel.pipeline.syncOperations.addHandler(CoAPServerHandler(settings: settings, counters: counters, offer: offer))
            }.bind(host: c.host, port: c.port).get()
            channels.append(channel)
            bound.withLock { $0.coap = channel.localAddress?.port }
        }
        for listener in c.udpListeners {
            let channel = try await bootstrap(group) { channel in
                try channel.pipeline.syncOperations.addHandler(UDPDatagramHandler(
                    profileID: listener.profileID, maxInFlight: c.maxExchanges, perEndpointRate: c.perEndpointRate,
                    perEndpointBurst: c.perEndpointBurst, counters: counters, offer: offer))
            }.bind(host: listener.host, port: listener.port).get()
            channels.append(channel)
            bound.withLock { $0.udp[listener.profileID] = channel.localAddress?.port }
        }
        return channels
    }

    private func bootstrap(_ group: MultiThreadedEventLoopGroup, _ add: @escaping @Sendable (any Channel) throws -> Void) -> DatagramBootstrap {
        Self.datagramBootstrap(group, receiveBufferBytes: configuration.receiveBufferBytes, add)
    }

    /// The socket setup of every listener (and of the benchmark's reference sink).
    static func datagramBootstrap(_ group: MultiThreadedEventLoopGroup, receiveBufferBytes: Int, _ add: @escaping @Sendable (any Channel) throws -> Void)
        -> DatagramBootstrap
    {
        DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferBytes))
            // recvmmsg: up to 64 datagrams per system call; 2 KiB each covers any CoAP block (≤ 1024) with headers.
            .channelOption(.datagramVectorReadMessageCount, value: 64)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 64 * 2048))
            .channelOption(.maxMessagesPerRead, value: 16)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try add(channel) }
            }
    }

    /// Takes what the handlers accepted and stores it, up to `concurrentBatches` calls at once; returns when the
    /// queue is closed and everything taken has been answered.
    private func ingestLoop() async {
        let limit = max(1, configuration.concurrentBatches)
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            while let batches = await queue.next(maxCount: 256) {
                if running >= limit {
                    await group.next()
                    running -= 1
                }
                running += 1
                group.addTask { await self.store(batches) }
            }
            await group.waitForAll()
        }
    }

    /// One `DurableIngest` call for several handlers' bursts, then each handler gets its outcomes back.
    private func store(_ batches: [UplinkBatch]) async {
        var messages: [RawMessage] = []
        messages.reserveCapacity(batches.reduce(0) { $0 + $1.items.count })
        for b in batches { for item in b.items { messages.append(item.message) } }
        let outcomes = await ingest.ingest(messages)
        var offset = 0
        for b in batches {
            let n = b.items.count
            let slice = offset + n <= outcomes.count ? Array(outcomes[offset..<(offset + n)])
                : Array(repeating: IngestOutcome.unavailable("no outcome"), count: n)
            offset += n
            b.origin.complete(b.items, slice)
        }
        logger.trace("CoAP batch stored", metadata: ["batch.messages": "\(messages.count)", "batch.bursts": "\(batches.count)"])
    }
}
