import GatewayCore
import Logging
import Metrics
import Synchronization

/// The answer to one push request: a status code and a short plain-text body (never a secret, never payload data).
public struct PushReply: Sendable, Hashable {
    /// HTTP status code.
    public var status: Int
    /// Plain-text body: `ok`, the echoed OneNET `msg`, or a one-line reason.
    public var body: String

    /// Creates a reply.
    public init(status: Int, body: String) {
        self.status = status
        self.body = body
    }
}

/// The carrier push receivers without the HTTP layer: reads CTWing and OneNET bodies, checks signatures and
/// tokens, deduplicates platform retries, and hands messages to a `DurableIngest`, answering only after it returned.
///
/// ## Answers
/// - **200** once every item of the push is durable: stored (samples in the WAL), kept as a dead letter (by the
///   decoder, or by the receiver for a body or message it cannot read), counted as a command response, or
///   recognised as a retry of something already delivered.
/// - **200 for malformed and unknown bodies too**, after they are durable as dead letters: CTWing counts every
///   non-200 answer as a failure and, past 10 % failures in 10 s or 100 in a row, stops pushing *all* devices for a
///   minute; OneNET retries any non-200 push. A retry cannot fix a body we cannot read, so refusing it would only
///   cost good data or repeat the dead letter. The dead letter (raw body, error) can be replayed after a fix.
/// - **403** for a wrong or missing OneNET signature (or CTWing token, when configured): nothing is stored, the
///   failure is counted (`gateway_push_auth_failures_total`), and the platform's retry succeeds once the token is
///   corrected.
/// - **503** when the ingest reports `.unavailable` (store refused the write, shutting down) or a dead letter could
///   not be written: the platform retries. Also for a retry that arrives while the first attempt is still being
///   stored (it is answered 200 as a duplicate once that attempt finished).
/// - **413** for a body over `maxBodyBytes` (from the HTTP layer, counted here).
///
/// ## Metrics
/// `gateway_push_requests_total{platform,status}`, `gateway_push_messages_total{platform,kind}` (kind: data,
/// online, offline, command_response, dead_letter), `gateway_push_duplicates_total{platform}`,
/// `gateway_push_auth_failures_total{platform}`. No label carries a device or product id.
///
/// Logging: command responses, auth failures and dead letters at debug; never a token or payload bytes.
public final class PushReceiver: Sendable {
    /// The configuration in force.
    public let configuration: PushConfiguration
    private let ingest: any DurableIngest
    private let logger: Logger
    private let wallClockMs: @Sendable () -> Int64
    private let deduplicator: PushDeduplicator
    private let counters = PushCounters()
    private let metrics: [PushPlatform: PlatformMetrics]

    /// Counters of one platform, created once (metric creation takes the factory's lock).
    private struct PlatformMetrics: Sendable {
        let requests: [Int: Counter]
        let messages: [PushEntry.Kind: Counter]
        let duplicates: Counter
        let authFailures: Counter

        static let statuses = [200, 400, 403, 413, 503]

        init(_ platform: PushPlatform) {
            let p = platform.rawValue
            var requests: [Int: Counter] = [:]
            for status in Self.statuses {
                requests[status] = Counter(label: "gateway_push_requests_total", dimensions: [("platform", p), ("status", String(status))])
            }
            self.requests = requests
            var messages: [PushEntry.Kind: Counter] = [:]
            for kind in PushEntry.Kind.allCases {
                messages[kind] = Counter(label: "gateway_push_messages_total", dimensions: [("platform", p), ("kind", kind.rawValue)])
            }
            self.messages = messages
            duplicates = Counter(label: "gateway_push_duplicates_total", dimensions: [("platform", p)])
            authFailures = Counter(label: "gateway_push_auth_failures_total", dimensions: [("platform", p)])
        }
    }

    /// Creates a receiver over `ingest`, with the system clocks.
    public convenience init(configuration: PushConfiguration, ingest: any DurableIngest, logger: Logger) {
        self.init(configuration: configuration, ingest: ingest, logger: logger, wallClockMs: { WallClock.nowMs() },
                  monotonicNs: { MonotonicClock.nowNs() })
    }

    /// Creates a receiver with explicit clocks (tests move time without sleeping).
    init(configuration: PushConfiguration, ingest: any DurableIngest, logger: Logger, wallClockMs: @escaping @Sendable () -> Int64,
         monotonicNs: @escaping @Sendable () -> UInt64)
    {
        self.configuration = configuration
        self.ingest = ingest
        self.logger = logger
        self.wallClockMs = wallClockMs
        self.deduplicator = PushDeduplicator(window: configuration.dedupWindow, maxEntries: configuration.dedupMaxEntries, now: monotonicNs)
        var metrics: [PushPlatform: PlatformMetrics] = [:]
        for platform in PushPlatform.allCases { metrics[platform] = PlatformMetrics(platform) }
        self.metrics = metrics
    }

    /// Totals since start.
    public var stats: PushStats { counters.snapshot() }

    /// Pushes remembered for deduplication now.
    public var rememberedPushes: Int { deduplicator.count }

    // MARK: CTWing

    /// Handles a CTWing push body. `token` is what the request carried (`?token=` or `X-CityGate-Token`), checked
    /// only when `configuration.ctwing.token` is set.
    public func receiveCTWing(body: [UInt8], token: String?) async -> PushReply {
        if let expected = configuration.ctwing.token {
            guard let token, OneNETParser.signatureMatches(token, expected: expected) else {
                return authFailure(.ctwing, reason: token == nil ? "missing token" : "wrong token")
            }
        }
        let receiveTimeMs = wallClockMs()
        let entry: PushEntry
        do {
            entry = try CTWingParser.parse(body, receiveTimeMs: receiveTimeMs)
        } catch {
            return await deliver([wholeBodyDeadLetter(.ctwing, body: body, error: error, receiveTimeMs: receiveTimeMs)], platform: .ctwing)
        }
        return await deliver([entry], platform: .ctwing)
    }

    // MARK: OneNET

    /// Handles a OneNET push body: checks `msg_signature` (when `verifySignature`), then delivers every message.
    ///
    /// With verification on, nothing unauthenticated is stored: a body without a signable `msg` (not JSON, no
    /// `msg`) is refused 403 like a wrong signature. With it off, such a body is kept as a dead letter.
    public func receiveOneNET(body: [UInt8]) async -> PushReply {
        let receiveTimeMs = wallClockMs()
        let envelope: OneNETParser.Envelope
        do {
            envelope = try OneNETParser.envelope(body)
        } catch {
            if configuration.onenet.verifySignature { return authFailure(.onenet, reason: "unsigned or unreadable body") }
            return await deliver([wholeBodyDeadLetter(.onenet, body: body, error: error, receiveTimeMs: receiveTimeMs)], platform: .onenet)
        }
        if configuration.onenet.verifySignature {
            guard let token = configuration.onenet.token else { return authFailure(.onenet, reason: "no token configured") }
            guard let signature = envelope.signature, let nonce = envelope.nonce else { return authFailure(.onenet, reason: "missing msg_signature or nonce") }
            let expected = OneNETParser.signature(token: token, nonce: nonce, text: envelope.signedText)
            guard OneNETParser.signatureMatches(signature, expected: expected) else { return authFailure(.onenet, reason: "wrong msg_signature") }
        }
        if let unsupported = envelope.unsupported {
            return await deliver([wholeBodyDeadLetter(.onenet, body: body, error: PushParseError(unsupported), receiveTimeMs: receiveTimeMs)], platform: .onenet)
        }
        let entries = OneNETParser.entries(envelope, receiveTimeMs: receiveTimeMs)
        guard !entries.isEmpty else { return reply(.onenet, 200, "ok") }
        return await deliver(entries, platform: .onenet)
    }

    /// Answers OneNET's URL verification (`GET ?msg=&nonce=&signature=`, values already URL-decoded): echoes `msg`
    /// when the signature is Base64(MD5(token + nonce + msg)), or without checking when `verifySignature` is off.
    public func verifyOneNETURL(msg: String?, nonce: String?, signature: String?) -> PushReply {
        guard let msg, !msg.isEmpty else { return reply(.onenet, 400, "missing msg") }
        if configuration.onenet.verifySignature {
            guard let token = configuration.onenet.token else { return authFailure(.onenet, reason: "no token configured") }
            guard let nonce, let signature else { return authFailure(.onenet, reason: "missing nonce or signature") }
            let expected = OneNETParser.signature(token: token, nonce: nonce, text: Array(msg.utf8))
            guard OneNETParser.signatureMatches(signature, expected: expected) else { return authFailure(.onenet, reason: "wrong signature") }
        }
        counters.verifications.add(1, ordering: .relaxed)
        logger.info("OneNET push URL verified", metadata: ["push.platform": "onenet"])
        return reply(.onenet, 200, msg)
    }

    /// Counts a request refused by the HTTP layer for its size, and returns the 413 to send.
    public func bodyTooLarge(_ platform: PushPlatform) -> PushReply {
        counters.tooLarge.add(1, ordering: .relaxed)
        return reply(platform, 413, "body larger than \(configuration.maxBodyBytes) bytes")
    }

    // MARK: Delivery

    /// Claims the entries' keys, hands new ones to the ingest, commits what was accepted and releases the rest.
    private func deliver(_ entries: [PushEntry], platform: PushPlatform) async -> PushReply {
        let metrics = self.metrics[platform]!
        let claims = deduplicator.claim(entries.map(\.key))
        if claims.contains(.inFlight) {
            deduplicator.release(zip(entries, claims).filter { $0.1 == .claimed }.map(\.0.key))
            counters.unavailable.add(1, ordering: .relaxed)
            return reply(platform, 503, "the same push is still being stored; retry")
        }
        var messages: [PushEntry] = []
        var letters: [PushEntry] = []
        var accepted: [PushKey] = []
        var failed: [PushKey] = []
        var duplicates = 0
        for (entry, claim) in zip(entries, claims) {
            guard claim == .claimed else {
                duplicates += 1
                continue
            }
            switch entry.action {
            case .ingest: messages.append(entry)
            case .deadLetter: letters.append(entry)
            case .notice(let detail):
                var metadata: Logger.Metadata = ["push.platform": "\(platform.rawValue)"]
                for (k, v) in detail { metadata[k] = "\(v)" }
                logger.debug("Carrier command response", metadata: metadata)
                counters.commandResponses.add(1, ordering: .relaxed)
                metrics.messages[entry.kind]?.increment()
                accepted.append(entry.key)
            }
        }
        if duplicates > 0 {
            counters.duplicates.add(duplicates, ordering: .relaxed)
            metrics.duplicates.increment(by: Int64(duplicates))
        }
        if !messages.isEmpty {
            let raw: [RawMessage] = messages.map {
                if case .ingest(let m) = $0.action { return m }
                preconditionFailure("only ingest entries are collected here")
            }
            let outcomes = await ingest.ingest(raw)
            for (index, entry) in messages.enumerated() {
                // A short answer from the ingest is a programming error elsewhere: treat the missing ones as not stored.
                if index < outcomes.count, outcomes[index].isAccepted {
                    accepted.append(entry.key)
                    counters.ingested.add(1, ordering: .relaxed)
                    metrics.messages[entry.kind]?.increment()
                } else {
                    failed.append(entry.key)
                }
            }
        }
        for entry in letters {
            guard case .deadLetter(let letter) = entry.action else { continue }
            if await ingest.deadLetter(letter) {
                accepted.append(entry.key)
                counters.deadLetters.add(1, ordering: .relaxed)
                metrics.messages[.deadLetter]?.increment()
                logger.debug("Carrier push dead-lettered", metadata: [
                    "push.platform": "\(platform.rawValue)", "push.topic": "\(letter.message.topic)", "error": "\(letter.error)",
                ])
            } else {
                failed.append(entry.key)
            }
        }
        deduplicator.commit(accepted)
        deduplicator.release(failed)
        if !failed.isEmpty {
            counters.unavailable.add(1, ordering: .relaxed)
            return reply(platform, 503, "not stored; retry")
        }
        if !letters.isEmpty, messages.isEmpty, letters.count == entries.count {
            return reply(platform, 200, "dead-lettered")
        }
        return reply(platform, 200, duplicates == entries.count ? "duplicate" : "ok")
    }

    private func wholeBodyDeadLetter(_ platform: PushPlatform, body: [UInt8], error: PushParseError, receiveTimeMs: Int64) -> PushEntry {
        let message = RawMessage(transport: platform.transport, topic: error.topic ?? platform.rawValue, payload: body, receiveTimeMs: receiveTimeMs)
        let letter = DeadLetter(message: message, reason: .malformed, error: error.message)
        return PushEntry(kind: .deadLetter, key: PushKey(Array("body".utf8), Array(platform.rawValue.utf8), body), action: .deadLetter(letter))
    }

    private func authFailure(_ platform: PushPlatform, reason: String) -> PushReply {
        counters.authFailures.add(1, ordering: .relaxed)
        metrics[platform]?.authFailures.increment()
        logger.debug("Carrier push refused", metadata: ["push.platform": "\(platform.rawValue)", "reason": "\(reason)"])
        return reply(platform, 403, "forbidden")
    }

    private func reply(_ platform: PushPlatform, _ status: Int, _ body: String) -> PushReply {
        counters.requests.add(1, ordering: .relaxed)
        metrics[platform]?.requests[status]?.increment()
        return PushReply(status: status, body: body)
    }
}
