import GatewayCore
import NIOCore

/// An uplink a handler accepted and handed to the ingest task, with what it needs to answer once it is stored.
struct PendingUplink: Sendable {
    /// The message for `DurableIngest`.
    var message: RawMessage
    /// How to answer; nil for plain UDP, which has no answer.
    var reply: CoAPReply?
}

/// The addressing of a CoAP response: who asked, in which exchange, and which options the answer must carry.
struct CoAPReply: Sendable {
    /// Where the answer goes.
    var remote: SocketAddress
    /// The exchange, for the deduplication cache.
    var key: ExchangeKey
    /// CON (answered by a piggybacked ACK) or NON (answered by a NON).
    var type: CoAPMessageType
    /// Echoed in the answer.
    var token: [UInt8]
    /// Block1 of the last block, echoed with the final code.
    var block1: BlockOption?
    /// RFC 7967 No-Response bits: 2 suppresses 2.xx, 8 suppresses 4.xx, 16 suppresses 5.xx (NON only).
    var noResponse: UInt8
}

/// What one handler flushed at the end of a read burst: one element of the queue to the ingest task.
struct UplinkBatch: Sendable {
    /// The uplinks, in arrival order.
    var items: [PendingUplink]
    /// Where the outcomes go back to.
    var origin: any UplinkOrigin
}

/// The handler an uplink came from, seen from the ingest task: gets the outcomes back, on its own event loop.
protocol UplinkOrigin: Sendable {
    /// Called by the ingest task once `items` are stored (or refused): one hop back per batch.
    func complete(_ items: [PendingUplink], _ outcomes: [IngestOutcome])
}

/// Hands outcomes back to a handler on its event loop.
struct LoopBoundOrigin: UplinkOrigin {
    let handler: NIOLoopBound<any UplinkCompleting>
    let eventLoop: any EventLoop

    func complete(_ items: [PendingUplink], _ outcomes: [IngestOutcome]) {
        let handler = handler
        eventLoop.execute { handler.value.complete(items, outcomes) }
    }
}

/// A handler that answers completed uplinks (on its event loop).
protocol UplinkCompleting: AnyObject {
    /// Answers and forgets `items`.
    func complete(_ items: [PendingUplink], _ outcomes: [IngestOutcome])
}
