import AsyncHTTPClient
import Foundation
import GatewayCore
import Logging
import Mosquitto
import NIOCore
import NIOHTTP1
import Synchronization

/// A delivery channel: something that takes alert events and says when the receiver has them.
public protocol AlertChannel: Sendable {
    /// The name rules use in `channels:`.
    var name: String { get }
    /// Delivers `events` in order; returns once the receiver acknowledged all of them. Throws to be retried.
    func deliver(_ events: [AlertEvent]) async throws
    /// Starts connections (called once before the first delivery).
    func start() async throws
    /// Closes connections.
    func shutdown() async
}

extension AlertChannel {
    /// Nothing to start.
    public func start() async throws {}
    /// Nothing to close.
    public func shutdown() async {}
}

/// Why a delivery failed.
public struct AlertDeliveryError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String
}

/// Alerts over MQTT, QoS 1, on their own libmosquitto connection. Topic:
/// `<prefix>/<gateway>/<severity>/<rule>/<device>`; body: the event JSON (docs/alerts.md). A batch counts as
/// delivered when the broker acknowledged every PUBLISH (PUBACK); otherwise it is sent again, so a receiver may
/// see an event twice and deduplicates by (gateway, seq).
public final class MQTTAlertChannel: AlertChannel {
    /// `mqtt`, unless configured otherwise.
    public let name: String
    let gateway: String
    let topicPrefix: String
    let client: MosquittoClient
    let acks: PublishAcknowledgements
    let ackTimeout: Duration

    /// Creates the channel over its own client (configuration: broker, TLS, credentials; a unique client id).
    public init(name: String = "mqtt", configuration: MQTTClientConfiguration, gateway: String, topicPrefix: String = "citygate/alerts",
                ackTimeout: Duration = .seconds(10)) throws {
        self.name = name
        self.gateway = gateway
        self.topicPrefix = topicPrefix
        self.ackTimeout = ackTimeout
        let acks = PublishAcknowledgements()
        self.acks = acks
        client = try MosquittoClient(configuration: configuration, onPublished: { mid in acks.acknowledged(mid) })
    }

    /// The topic for an event.
    public func topic(for event: AlertEvent) -> String {
        func part(_ s: String) -> String {
            let cleaned = String(s.map { "/+#".contains($0) ? "_" : $0 })
            return cleaned.isEmpty ? "_" : cleaned
        }
        return "\(topicPrefix)/\(part(gateway))/\(event.alert.severity.rawValue)/\(part(event.alert.rule))/\(part(event.alert.device))"
    }

    /// Connects.
    public func start() async throws { try client.start() }

    /// Disconnects.
    public func shutdown() async { client.stop() }

    /// Publishes every event at QoS 1 and waits for all PUBACKs. An MQTT 5 PUBACK with an error reason code (the
    /// broker did not take the message, e.g. 0x87 not authorised by its ACL) fails the batch, which is retried.
    public func deliver(_ events: [AlertEvent]) async throws {
        guard client.isConnected else { throw AlertDeliveryError(description: "not connected to the broker") }
        acks.reset()
        let refusedBefore = client.statistics.messagesRefused
        var mids: Set<Int> = []
        for event in events {
            mids.insert(try client.publish(topic: topic(for: event), payload: event.jsonBody(gateway: gateway), qos: .atLeastOnce))
        }
        guard await acks.wait(for: mids, timeout: ackTimeout) else {
            throw AlertDeliveryError(description: "the broker did not acknowledge within \(ackTimeout)")
        }
        // Refusals are counted before the completion that reports them, so every refusal of this batch is seen here.
        let statistics = client.statistics
        if statistics.messagesRefused > refusedBefore {
            throw AlertDeliveryError(description: "the broker refused \(statistics.messagesRefused - refusedBefore) of \(events.count) alert messages "
                                         + "(MQTT 5 reason code 0x\(String(statistics.lastRefusalReasonCode, radix: 16)))")
        }
    }
}

/// Tracks PUBACKs reported by the client's network thread, for one waiter at a time.
final class PublishAcknowledgements: Sendable {
    struct State {
        var waiting: Set<Int> = []
        var done: Set<Int> = []
        var continuation: CheckedContinuation<Bool, Never>?
    }

    let state = Mutex(State())

    func reset() { state.withLock { $0 = State() } }

    /// Network thread: a message id completed.
    func acknowledged(_ mid: Int) {
        let c = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            s.done.insert(mid)
            guard s.continuation != nil, s.waiting.isSubset(of: s.done) else { return nil }
            defer { s.continuation = nil }
            return s.continuation
        }
        c?.resume(returning: true)
    }

    /// True once every id in `mids` completed; false after `timeout`.
    func wait(for mids: Set<Int>, timeout: Duration) async -> Bool {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                try? await Task.sleep(for: timeout)
                let c = state.withLock { s -> CheckedContinuation<Bool, Never>? in
                    defer { s.continuation = nil }
                    return s.continuation
                }
                c?.resume(returning: false)
            }
            let result = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let now = state.withLock { s -> Bool in
                    s.waiting = mids
                    if mids.isSubset(of: s.done) { return true }
                    s.continuation = c
                    return false
                }
                if now { c.resume(returning: true) }
            }
            group.cancelAll()
            return result
        }
    }
}

/// Alerts as signed webhooks: one POST per event, JSON body, `X-CityGate-Timestamp` and `X-CityGate-Signature`
/// (see `WebhookSignature`). Any 2xx answer counts as delivered; anything else (or no answer) is retried.
public final class WebhookAlertChannel: AlertChannel {
    /// The webhook's name, as rules refer to it.
    public let name: String
    let url: String
    let secret: String
    let gateway: String
    let client: HTTPClient
    let timeout: TimeAmount

    /// Creates a webhook channel posting to `url` with `client` (shared; shut down by its owner).
    public init(name: String, url: String, secret: String, gateway: String, client: HTTPClient, timeout: TimeAmount = .seconds(10)) {
        self.name = name
        self.url = url
        self.secret = secret
        self.gateway = gateway
        self.client = client
        self.timeout = timeout
    }

    /// Posts each event in order, stopping at the first failure.
    public func deliver(_ events: [AlertEvent]) async throws {
        for event in events {
            let body = event.jsonBody(gateway: gateway)
            let timestamp = WallClock.nowMs() / 1000
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "CityGate")
            request.headers.add(name: WebhookSignature.timestampHeader, value: "\(timestamp)")
            request.headers.add(name: WebhookSignature.signatureHeader, value: WebhookSignature.sign(body: body, timestamp: timestamp, secret: secret))
            request.headers.add(name: "X-CityGate-Event", value: event.kind.rawValue)
            request.headers.add(name: "X-CityGate-Seq", value: "\(event.seq)")
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await client.execute(request, timeout: timeout)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            guard (200..<300).contains(response.status.code) else {
                throw AlertDeliveryError(description: "webhook answered \(response.status.code)")
            }
        }
    }
}

/// The live feed as a channel (always delivered at once, never retried).
public struct FeedAlertChannel: AlertChannel {
    /// `feed`.
    public let name = "feed"
    let feed: AlertFeed

    /// Creates the channel.
    public init(feed: AlertFeed) { self.feed = feed }

    /// Publishes to subscribers.
    public func deliver(_ events: [AlertEvent]) async throws { feed.publish(events) }
}
