import Alerts
import Hummingbird
import NIOCore
import ServiceLifecycle

/// The live alert feed over HTTP: `GET /v1/alerts/stream`, Server-Sent Events (`text/event-stream`). Each event has
/// `id` = the event's sequence number, `event` = fired / acknowledged / escalated / resolved, and `data` = the JSON
/// body of docs/alerts.md. A client that reconnects with `Last-Event-ID` (or `?after=<seq>`) first receives the
/// kept events it missed. A comment line (`: keepalive`) every `heartbeat` keeps proxies with idle timeouts from
/// cutting a quiet stream. The stream ends when the gateway shuts down.
enum AlertFeedRoutes {
    /// Seconds between keepalive comments.
    static let heartbeat: Duration = .seconds(15)

    static func stream(request: Request, feed: AlertFeed, gateway: String) throws -> Response {
        // The header (a reconnecting EventSource) wins over the query parameter; both must be sequence numbers.
        var after: Int64?
        for text in request.uri.queryParameters.getAll("after") {
            guard let seq = Int64(text) else { throw APIError(.badRequest, "after must be an event sequence number") }
            after = seq
        }
        if let header = request.headers[.init("Last-Event-ID")!] {
            guard let seq = Int64(header) else { throw APIError(.badRequest, "Last-Event-ID must be an event sequence number") }
            after = seq
        }
        let events = feed.subscribe(afterSeq: after)
        let body = ResponseBody { writer in
            // One stream of text chunks: the feed's events and the keepalives, written in arrival order.
            let (chunks, sink) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(4_096))
            sink.yield(": citygate alert feed\n\n")
            let forward = Task {
                for await event in events.cancelOnGracefulShutdown() { sink.yield(AlertFeed.serverSentEvent(event, gateway: gateway)) }
                sink.finish()
            }
            let keepalive = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: heartbeat)
                    sink.yield(": keepalive\n\n")
                }
            }
            defer {
                forward.cancel()
                keepalive.cancel()
            }
            for await chunk in chunks { try await writer.write(ByteBuffer(string: chunk)) }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"],
            body: body)
    }
}
