import GatewayCore
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOSSL
import Logging
import MQTTIngest
import PushIngest
import ServiceLifecycle

/// Adds routes to the gateway's HTTP router: the seam through which later stages mount their controllers next to
/// the push receivers and the API.
public typealias HTTPRouteRegistration = @Sendable (Router<APIRequestContext>) -> Void

/// The gateway's HTTP server: one Hummingbird `Application`, run as a `Service` in the gateway's group.
///
/// Public routes: `GET /health` (200 `ok` while the server runs), `GET /ready` (200 once every enabled stage is
/// up, else 503 with what is not), `GET /metrics` (Prometheus text; token-protected unless `http.api.metrics_public`),
/// the carrier push receivers under `/push` (`PushController`, with their own tokens and signatures). Then the
/// operator API under `/v1` (`GatewayAPI`, bearer tokens with roles) and whatever `extraRoutes` add. It binds
/// `http.host:http.port` (loopback by default) and speaks plain HTTP or, with `http.tls`, HTTPS (TLS 1.2+;
/// otherwise a reverse proxy in front terminates TLS, see docs/operations.md). On graceful shutdown it stops
/// accepting connections and lets requests in flight finish: a push waiting for the WAL still gets its answer,
/// because the store is stopped after the server.
///
/// Connection limits: at most 256 connections at once (further ones wait in the backlog), idle connections closed
/// after 60 s, request headers at most 16 KiB. Bodies are capped by the push receivers and the API's limits.
public enum HTTPServer {
    /// Most connections served at once.
    static let maxConnections = 256

    /// The router with every route mounted.
    public static func makeRouter(push: PushReceiver?, extraRoutes: [HTTPRouteRegistration] = []) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        let routes = MethodNotAllowedMiddleware.Routes()
        router.add(middleware: MethodNotAllowedMiddleware(routes: routes))
        router.get("health") { _, _ in HTTPResponse.Status.ok }
        if let push {
            PushController<APIRequestContext>(receiver: push).addRoutes(to: router.group("push"))
        }
        for register in extraRoutes { register(router) }
        routes.set(router.routes.map { ($0.method.rawValue, $0.path.description) })
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
    /// The operator API over this gateway (its tokens and audit log in `api.db`).
    public var api: GatewayAPI {
        let c = configuration.http.api
        return GatewayAPI(runtime: self, tokens: apiTokens, audit: auditLog,
                          limiter: apiRateLimiter, failures: apiAuthFailures, maxBodyBytes: c.maxBodyBytes)
    }

    /// Every route the gateway serves besides `/health` and `/push`: readiness, metrics, the API, the live feed.
    func standardRoutes() -> [HTTPRouteRegistration] {
        let api = self.api
        let metricsPublic = configuration.http.api.metricsPublic
        let tokens = apiTokens
        return [
            { router in
                router.get("ready") { _, _ in
                    let problems = self.readinessProblems()
                    if problems.isEmpty { return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ready\n"))) }
                    return Response(status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                                    body: .init(byteBuffer: ByteBuffer(string: problems.joined(separator: "\n") + "\n")))
                }
                let metrics: @Sendable (Request, APIRequestContext) async throws -> Response = { _, _ in
                    Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                             body: .init(byteBuffer: ByteBuffer(bytes: self.metricsText())))
                }
                if metricsPublic {
                    router.get("metrics", use: metrics)
                } else {
                    router.group("metrics").add(middleware: APIAuthMiddleware(tokens: tokens, failures: self.apiAuthFailures, audit: self.auditLog)).get { request, context in
                        try context.require(.viewer)
                        return try await metrics(request, context)
                    }
                }
                api.register(on: router)
            },
        ]
    }

    /// Every route the HTTP server serves, as method and path (`GET /v1/alerts/:id`): what the OpenAPI test checks.
    public func httpRoutes() -> [(method: String, path: String)] {
        let push = (configuration.http.ctwing.enabled || configuration.http.onenet.enabled) ? pushReceiver : nil
        return HTTPServer.makeRouter(push: push, extraRoutes: standardRoutes()).routes.map { ($0.method.rawValue, $0.path.description) }
    }

    /// The HTTP server when `http.enabled`, with the push receivers over this gateway's durable ingest.
    func httpService(extraRoutes: [HTTPRouteRegistration] = []) -> (any Service)? {
        guard configuration.http.enabled else { return nil }
        let push = (configuration.http.ctwing.enabled || configuration.http.onenet.enabled) ? pushReceiver : nil
        return HTTPServer.makeApplication(configuration: configuration.http, push: push, extraRoutes: standardRoutes() + extraRoutes, logger: logger)
    }

    /// What keeps the gateway from being ready (empty when ready): the MQTT connection when MQTT ingest is on.
    func readinessProblems() -> [String] {
        var problems: [String] = []
        if let mqtt, !mqtt.stats.connected { problems.append("mqtt: not connected to \(configuration.mqtt.host):\(configuration.mqtt.port)") }
        return problems
    }
}
