import Synchronization

/// The live feed: every alert event, pushed to subscribers as it happens (the HTTP API streams it as
/// Server-Sent Events). It keeps the newest events so a reconnecting client can resume from its last id.
///
/// A subscriber that reads too slowly loses its oldest undelivered events (bounded buffer), never slowing the
/// engine; it can notice the gap in `seq` and re-read from the API.
public final class AlertFeed: Sendable {
    struct State {
        var recent: [AlertEvent] = []
        var subscribers: [Int: AsyncStream<AlertEvent>.Continuation] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())
    /// Events kept for resuming.
    public let history: Int
    /// Events buffered per subscriber.
    public let bufferSize: Int

    /// Creates a feed.
    public init(history: Int = 512, bufferSize: Int = 1024) {
        self.history = history
        self.bufferSize = bufferSize
    }

    /// Publishes events to every subscriber.
    public func publish(_ events: [AlertEvent]) {
        state.withLock { s in
            s.recent.append(contentsOf: events)
            if s.recent.count > history { s.recent.removeFirst(s.recent.count - history) }
            for continuation in s.subscribers.values {
                for event in events { continuation.yield(event) }
            }
        }
    }

    /// A stream of events from now on, preceded by the kept events after `afterSeq` (when given).
    public func subscribe(afterSeq: Int64? = nil) -> AsyncStream<AlertEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: AlertEvent.self, bufferingPolicy: .bufferingNewest(bufferSize))
        let id = state.withLock { s -> Int in
            if let afterSeq {
                for event in s.recent where event.seq > afterSeq || event.seq == 0 { continuation.yield(event) }
            }
            let id = s.nextID
            s.nextID += 1
            s.subscribers[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Subscribers now.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Ends every subscription (shutdown).
    public func finish() {
        let all = state.withLock { s -> [AsyncStream<AlertEvent>.Continuation] in
            defer { s.subscribers = [:] }
            return Array(s.subscribers.values)
        }
        for c in all { c.finish() }
    }

    /// One event as a Server-Sent Events message: `id` is the sequence number, `event` the kind, `data` the JSON
    /// body (one line).
    public static func serverSentEvent(_ event: AlertEvent, gateway: String) -> String {
        "id: \(event.seq)\nevent: \(event.kind.rawValue)\ndata: \(String(decoding: event.jsonBody(gateway: gateway), as: UTF8.self))\n\n"
    }
}
