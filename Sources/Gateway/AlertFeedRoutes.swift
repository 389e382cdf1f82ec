import Alerts
import Hummingbird
import NIOCore
import ServiceLifecycle

/// The live alert feed over HTTP: `GET /v1/alerts/stream`, Server-Sent Events (`text/event-stream`). Each event has
/// `id` = the event's sequence number, `event` = fired / acknowledged / escalated / resolved, and `data` = the JSON
/// body of docs/alerts.md. A client that reconnects with `Last-Event-ID` (or `?after=<seq>`) first receives the
/// kept events it missed. The stream ends when the gateway shuts down.
enum AlertFeedRoutes {
    static func register(feed: AlertFeed, gateway: String) -> HTTPRouteRegistration {
        { router in
            router.get("v1/alerts/stream") { request, _ -> Response in
                let header = request.headers[.init("Last-Event-ID")!]
                let after = header.flatMap { Int64($0) } ?? request.uri.queryParameters.get("after").flatMap { Int64($0) }
                let events = feed.subscribe(afterSeq: after)
                let hello = AsyncStream<ByteBuffer> { c in
                    c.yield(ByteBuffer(string: ": citygate alert feed\n\n"))
                    c.finish()
                }
                let body = ResponseBody { writer in
                    for await buffer in hello { try await writer.write(buffer) }
                    for await event in events.cancelOnGracefulShutdown() {
                        try await writer.write(ByteBuffer(string: AlertFeed.serverSentEvent(event, gateway: gateway)))
                    }
                    try await writer.finish(nil)
                }
                return Response(
                    status: .ok,
                    headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"],
                    body: body)
            }
        }
    }
}
