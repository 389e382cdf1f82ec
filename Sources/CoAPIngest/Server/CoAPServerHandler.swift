import GatewayCore
import NIOCore

/// The CoAP server's channel handler: parses each datagram, deduplicates, limits, reassembles Block1 bodies and
/// answers what it can at once; hands accepted uplinks to the ingest task once per read burst, and answers them
/// when their batch is stored (`complete`). Confined to its channel's event loop: no locks, no per-message hops.
///
/// Answers (RFC 7252): a CON gets a piggybacked ACK, a NON a NON (unless No-Response, RFC 7967, declines it).
/// - 2.04 stored; 2.31 Continue for a Block1 block that is not the last (RFC 7959);
/// - 4.00 the payload or an option is malformed; 4.02 an unknown critical option; 4.04 no profile routes the path,
///   or the device is unknown; 4.05 not POST/PUT; 4.08 a Block1 body with missing blocks; 4.13 a body over the
///   cap (Size1 says the cap);
/// - 5.03 overload (exchange cap, per-endpoint rate, too many Block1 transfers) or the store cannot take data,
///   with Max-Age saying when to retry;
/// - RST for a CON that is not well-formed CoAP, a CoAP ping, or a response nobody asked for. Other datagrams that
///   cannot be handled are ignored (§4.2, §4.3). Nothing a datagram holds can make the handler throw.
final class CoAPServerHandler: ChannelInboundHandler, UplinkCompleting {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// Limits and timing.
    struct Settings: Sendable {
        var maxExchanges: Int
        var maxBodyBytes: Int
        var maxBlockTransfers: Int
        var blockTimeout: Duration
        var dedupCapacity: Int
        var nonDedupCapacity: Int
        var perEndpointRate: Double
        var perEndpointBurst: Double
        var retryAfterSeconds: UInt32
    }

    /// A CON exchange: still being stored, or answered (the bytes are sent again to a retransmission).
    enum ExchangeState {
        case inProgress
        case answered([UInt8])
    }

    private let settings: Settings
    private let offer: @Sendable (UplinkBatch) -> Bool
    private let counters: CoAPCounters
    private let clock: @Sendable () -> UInt64
    private var context: ChannelHandlerContext?
    private var origin: (any UplinkOrigin)?
    private var confirmable: ExchangeTable<ExchangeState>
    private var nonConfirmable: ExchangeTable<Bool>
    private var blocks: BlockAssembler
    private var limiter: EndpointRateLimiter
    private var pending: [PendingUplink] = []
    private var inFlight = 0
    private var nextMessageID: UInt16
    private var local = CoAPIngestStats()
    private var needsFlush = false
    private var housekeeping: RepeatedTask?

    /// Creates a handler. `offer` hands a batch to the ingest task (false: refused, the queue is closed or full);
    /// `clock` gives monotonic nanoseconds (tests pass their own).
    init(settings: Settings, counters: CoAPCounters, clock: @escaping @Sendable () -> UInt64 = { NIODeadline.now().uptimeNanoseconds },
         offer: @escaping @Sendable (UplinkBatch) -> Bool) {
        self.settings = settings
        self.offer = offer
        self.counters = counters
        self.clock = clock
        confirmable = ExchangeTable(capacity: settings.dedupCapacity, lifetime: CoAPIngest.exchangeLifetime)
        nonConfirmable = ExchangeTable(capacity: settings.nonDedupCapacity, lifetime: CoAPIngest.nonLifetime)
        blocks = BlockAssembler(maxBodyBytes: settings.maxBodyBytes, maxTransfers: settings.maxBlockTransfers, timeout: settings.blockTimeout)
        limiter = EndpointRateLimiter(ratePerSecond: settings.perEndpointRate, burst: settings.perEndpointBurst)
        nextMessageID = UInt16.random(in: 0...UInt16.max)
    }

    /// Uplinks accepted and not yet answered.
    var uplinksInFlight: Int { inFlight }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        origin = LoopBoundOrigin(handler: NIOLoopBound(self as any UplinkCompleting, eventLoop: context.eventLoop), eventLoop: context.eventLoop)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        housekeeping = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            bound.value.tidy()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        housekeeping?.cancel()
        housekeeping = nil
        counters.publish(&local)
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        local.datagrams += 1
        let now = clock()
        envelope.data.withUnsafeReadableBytes { raw in
            handle(raw, from: envelope.remoteAddress, nowNs: now)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushPending()
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        counters.publish(&local)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A UDP socket error (ICMP port unreachable for an earlier answer, a full send buffer) concerns one peer,
        // never the server: swallow it so the channel keeps running.
    }

    // MARK: requests

    func handle(_ raw: UnsafeRawBufferPointer, from remote: SocketAddress, nowNs: UInt64) {
        guard let header = CoAPMessage.header(raw) else {
            local.malformed += 1
            return
        }
        let message: CoAPMessage
        do {
            message = try CoAPMessage.parse(raw)
        } catch {
            local.malformed += 1
            // A CON that is not well-formed is rejected with a matching RST; anything else is ignored (§4.2, §4.3).
            if header.type == .confirmable { send(reset: header.messageID, to: remote) }
            return
        }
        switch message.type {
        case .acknowledgement, .reset:
            return  // the server sends no CONs, so there is nothing to acknowledge or reset
        case .confirmable, .nonConfirmable:
            break
        }
        guard message.code.isRequest else {
            // An empty CON is a ping (§4.3): RST. A response nobody asked for: RST for a CON, ignore a NON.
            if message.type == .confirmable { send(reset: message.messageID, to: remote) }
            if message.code != .empty { local.malformed += 1 }
            return
        }
        let endpoint = EndpointKey(remote)
        let key = ExchangeKey(endpoint: endpoint, messageID: message.messageID)
        if message.type == .confirmable {
            switch confirmable.lookup(key, nowNs: nowNs) {
            case .inProgress?:
                local.duplicates += 1  // still being stored; the client will ask again and get the answer then
                return
            case .answered(let bytes)?:
                local.duplicates += 1
                write(bytes, to: remote)
                return
            case nil:
                confirmable.insert(key, .inProgress, nowNs: nowNs)
            }
        } else {
            if nonConfirmable.lookup(key, nowNs: nowNs) != nil {
                local.duplicates += 1
                return
            }
            nonConfirmable.insert(key, true, nowNs: nowNs)
        }
        request(message, key: key, from: remote, nowNs: nowNs)
    }

    private func request(_ message: CoAPMessage, key: ExchangeKey, from remote: SocketAddress, nowNs: UInt64) {
        var reply = CoAPReply(remote: remote, key: key, type: message.type, token: message.token, block1: nil, noResponse: 0)
        var block1: BlockOption?
        var size1: UInt32?
        var contentFormat: UInt32?
        for option in message.options {
            switch option.number {
            case CoAPOption.noResponse: reply.noResponse = UInt8(truncatingIfNeeded: option.uintValue ?? 0)
            case CoAPOption.block1:
                guard let b = BlockOption(option.value) else { return answer(reply, .badRequest, "bad Block1 option") }
                block1 = b
            case CoAPOption.size1: size1 = option.uintValue
            case CoAPOption.contentFormat:
                guard let cf = option.uintValue, cf <= 0xFFFF else { return answer(reply, .badRequest, "bad Content-Format") }
                contentFormat = cf
            default:
                if option.isCritical, !CoAPOption.understood.contains(option.number) {
                    return answer(reply, .badOption, "option \(option.number) not supported")
                }
            }
        }
        guard message.code == .post || message.code == .put else { return answer(reply, .methodNotAllowed, "POST or PUT an uplink") }
        // A Block1 continuation belongs to an upload already counted; only its first block meets the rate limit.
        if (block1?.number ?? 0) == 0, !limiter.allow(key.endpoint, nowNs: nowNs) {
            local.rateLimited += 1
            return answer(reply, .serviceUnavailable, "rate limit", maxAge: settings.retryAfterSeconds)
        }
        if let s = size1, Int(s) > settings.maxBodyBytes { return answer(reply, .requestEntityTooLarge, "body too large", size1: settings.maxBodyBytes) }
        var payload = message.payload
        if let block = block1 {
            let transfer = BlockAssembler.Key(endpoint: key.endpoint, request: Self.requestIdentity(message))
            switch blocks.add(transfer, block: block, payload: payload, nowNs: nowNs) {
            case .needMore:
                local.blocks += 1
                reply.block1 = BlockOption(number: block.number, more: true, szx: block.szx)
                return answer(reply, .continue, nil)
            case .tooLarge: return answer(reply, .requestEntityTooLarge, "body too large", size1: settings.maxBodyBytes)
            case .incomplete: return answer(reply, .requestEntityIncomplete, "blocks missing")
            case .busy:
                local.overloaded += 1
                return answer(reply, .serviceUnavailable, "too many block transfers", maxAge: settings.retryAfterSeconds)
            case .complete(let body):
                payload = body
                reply.block1 = BlockOption(number: block.number, more: false, szx: block.szx)
            }
        } else if payload.count > settings.maxBodyBytes {
            return answer(reply, .requestEntityTooLarge, "body too large", size1: settings.maxBodyBytes)
        }
        guard inFlight < settings.maxExchanges else {
            local.overloaded += 1
            return answer(reply, .serviceUnavailable, "overloaded", maxAge: settings.retryAfterSeconds)
        }
        let uplink = RawMessage(transport: .coap, topic: message.uriPath, payload: payload, receiveTimeMs: WallClock.nowMs(),
                                attributes: Self.attributes(message, contentFormat: contentFormat))
        pending.append(PendingUplink(message: uplink, reply: reply))
        inFlight += 1
        local.uplinks += 1
    }

    /// Uri-Query `key=value` pairs as transport attributes (`rsrp`, `sinr`, `ecl`, `csq` as `signal.*`), and the
    /// Content-Format as `content_format`. No dictionary when there is nothing to say.
    static func attributes(_ message: CoAPMessage, contentFormat: UInt32?) -> [String: String] {
        var out: [String: String] = [:]
        for option in message.options where option.number == CoAPOption.uriQuery {
            let text = String(decoding: option.value, as: UTF8.self)
            let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = parts.first, !name.isEmpty, out.count < 32 else { continue }
            let value = parts.count > 1 ? String(parts[1]) : ""
            switch name {
            case "rsrp", "sinr", "ecl", "csq": out["signal.\(name)"] = value
            default: out[String(name)] = value
            }
        }
        if let cf = contentFormat { out["content_format"] = String(cf) }
        return out
    }

    /// What names the resource of a Block1 upload: Uri-Path, Uri-Query and Request-Tag.
    static func requestIdentity(_ message: CoAPMessage) -> String {
        var s = message.uriPath
        for option in message.options where option.number == CoAPOption.uriQuery || option.number == CoAPOption.requestTag {
            s += option.number == CoAPOption.uriQuery ? "?" : "#"
            s += String(decoding: option.value, as: UTF8.self)
        }
        return s
    }

    /// Hands what this burst accepted to the ingest task: one offer per burst.
    private func flushPending() {
        guard !pending.isEmpty, let origin else { return }
        let items = pending
        pending = []
        pending.reserveCapacity(items.count)
        if !offer(UplinkBatch(items: items, origin: origin)) {
            // Shutting down: nothing more is stored, so say so now.
            local.overloaded += items.count
            complete(items, Array(repeating: .unavailable("the gateway is shutting down"), count: items.count))
        }
    }

    // MARK: answers

    /// Answers uplinks once their batch is stored (called on the event loop by `LoopBoundOrigin`).
    func complete(_ items: [PendingUplink], _ outcomes: [IngestOutcome]) {
        for (item, outcome) in zip(items, outcomes) {
            inFlight -= 1
            local.completed += 1
            guard let reply = item.reply else { continue }
            switch outcome {
            case .stored: answer(reply, .changed, nil)
            case .rejected(let reason, let error):
                switch reason {
                case .noProfile, .unknownDevice: answer(reply, .notFound, Self.diagnostic(error))
                case .oversize: answer(reply, .requestEntityTooLarge, Self.diagnostic(error), size1: settings.maxBodyBytes)
                default: answer(reply, .badRequest, Self.diagnostic(error))
                }
            case .unavailable(let why): answer(reply, .serviceUnavailable, Self.diagnostic(why), maxAge: settings.retryAfterSeconds)
            }
        }
        if needsFlush, let context {
            needsFlush = false
            context.flush()
        }
        counters.publish(&local)
    }

    /// A short diagnostic payload: at most 64 bytes, so an answer never amplifies a small request much.
    static func diagnostic(_ text: String) -> String {
        text.utf8.count <= 64 ? text : String(decoding: text.utf8.prefix(61), as: UTF8.self) + "..."
    }

    /// Sends a response: a piggybacked ACK for a CON (cached for retransmissions), a NON for a NON.
    private func answer(_ reply: CoAPReply, _ code: CoAPCode, _ diagnostic: String?, maxAge: UInt32? = nil, size1: Int? = nil) {
        var options: [CoAPOption] = []
        if let b = reply.block1 { options.append(b.option(CoAPOption.block1)) }
        if let m = maxAge { options.append(CoAPOption(number: CoAPOption.maxAge, uint: m)) }
        if let s = size1 { options.append(CoAPOption(number: CoAPOption.size1, uint: UInt32(clamping: s))) }
        let payload = diagnostic.map { Array($0.utf8) } ?? []
        if reply.type == .confirmable {
            let bytes = CoAPMessage(type: .acknowledgement, code: code, messageID: reply.key.messageID, token: reply.token, options: options,
                                    payload: payload).serialized()
            confirmable.update(reply.key, .answered(bytes))
            write(bytes, to: reply.remote)
        } else {
            let suppress: UInt8 = switch code.codeClass { case 2: 2; case 4: 8; case 5: 16; default: 0 }
            guard reply.noResponse & suppress == 0 else { return }
            nextMessageID &+= 1
            write(CoAPMessage(type: .nonConfirmable, code: code, messageID: nextMessageID, token: reply.token, options: options, payload: payload).serialized(),
                  to: reply.remote)
        }
    }

    private func send(reset messageID: UInt16, to remote: SocketAddress) {
        write(CoAPMessage(type: .reset, code: .empty, messageID: messageID).serialized(), to: remote)
    }

    private func write(_ bytes: [UInt8], to remote: SocketAddress) {
        guard let context else { return }
        local.responses += 1
        let buffer = context.channel.allocator.buffer(bytes: bytes)
        // Nobody waits on a datagram write: no promise, no allocation for one (as NIO's UDP echo example does).
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: buffer)), promise: nil)
        needsFlush = true
    }

    /// Once a second: forget expired exchanges, idle Block1 transfers and full rate buckets.
    private func tidy() {
        let now = clock()
        confirmable.expire(nowNs: now)
        nonConfirmable.expire(nowNs: now)
        blocks.expire(nowNs: now)
        limiter.sweep(nowNs: now)
    }
}
