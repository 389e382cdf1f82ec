import GatewayCore
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOSSL
import Logging
import PushIngest
import ServiceLifecycle

/// Adds routes to the gateway's HTTP router: the seam through which later stages (the query API, the live alert
/// feed, `/metrics`) mount their controllers next to the push receivers.
public typealias HTTPRouteRegistration = @Sendable (Router<BasicRequestContext>) -> Void

/// The gateway's HTTP server: one Hummingbird `Application`, run as a `Service` in the gateway's group.
///
/// Routes: `GET /health` (200 `ok` while the server runs), the carrier push receivers under `/push`
/// (`PushController`), then whatever `extraRoutes` add. It binds `http.host:http.port` (loopback by default) and
/// speaks plain HTTP or, with `http.tls`, HTTPS (TLS 1.2+; otherwise a reverse proxy in front terminates TLS, see
/// docs/operations.md). On graceful shutdown it stops accepting connections and lets requests in flight finish: a
/// push waiting for the WAL still gets its answer, because the store is stopped after the server.
///
/// Connection limits (not configurable yet): at most 256 connections at once (further ones wait in the backlog),
/// idle connections closed after 60 s, request headers at most 16 KiB. Bodies are capped by the push receivers.
public enum HTTPServer {
    /// Most connections served at once.
    static let maxConnections = 256
    /// The router with every route mounted.
    public static func makeRouter(push: PushReceiver?, extraRoutes: [HTTPRouteRegistration] = []) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("health") { _, _ in HTTPResponse.Status.ok }
        if let push {
            PushController<BasicRequestContext>(receiver: push).addRoutes(to: router.group("push"))
        }
        for register in extraRoutes { register(router) }
        return router
    }

    /// The application (a `Service`) for `configuration`. `onRunning` is called with the bound port once the server
    /// listens (tests bind port 0 through it).
    public static func makeApplication(
        configuration: GatewayConfiguration.HTTP, push: PushReceiver?, extraRoutes: [HTTPRouteRegistration] = [], logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        let router = makeRouter(push: push, extraRoutes: extraRoutes)
        let host = configuration.host
        let http1 = HTTP1Channel.Configuration(
            idleTimeout: .seconds(60),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: 16_384, maxHeaderListSize: 16_384, maxHeaderFieldCount: 100))
        // HTTPS when `http.tls` is set. A certificate that does not load fails the server's start with the reason
        // (`citygate run` checks it earlier, at configuration load).
        let server: HTTPServerBuilder
        if let tls = configuration.tls {
            do {
                server = try .tls(.http1(configuration: http1), tlsConfiguration: tls.serverConfiguration())
            } catch {
                let reason = "http.tls: cannot load cert_file '\(tls.certFile)' and key_file '\(tls.keyFile)': \(error)"
                server = HTTPServerBuilder { _ in throw GatewayError.tool(reason) }
            }
        } else {
            server = .http1(configuration: http1)
        }
        let scheme = configuration.tls == nil ? "http" : "https"
        return Application(
            router: router,
            server: server,
            configuration: ApplicationConfiguration(
                address: .hostname(host, port: configuration.port), serverName: "citygate",
                availableConnectionsDelegate: MaximumAvailableConnections(maxConnections)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("HTTP server listening", metadata: ["http.host": "\(host)", "http.port": "\(port)", "http.scheme": "\(scheme)"])
                await onRunning(port)
            },
            logger: logger)
    }
}

extension GatewayRuntime {
    /// The HTTP server when `http.enabled`, with the push receivers over this gateway's durable ingest.
    func httpService(extraRoutes: [HTTPRouteRegistration] = []) -> (any Service)? {
        guard configuration.http.enabled else { return nil }
        let push = (configuration.http.ctwing.enabled || configuration.http.onenet.enabled) ? pushReceiver : nil
        var routes = extraRoutes
        if alerts != nil { routes.append(AlertFeedRoutes.register(feed: alertFeed, gateway: configuration.alerts.gatewayID)) }
        return HTTPServer.makeApplication(configuration: configuration.http, push: push, extraRoutes: routes, logger: logger)
    }
}
