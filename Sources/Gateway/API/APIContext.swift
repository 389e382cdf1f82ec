import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The request context of the gateway's HTTP server: who called (set by `APIAuthMiddleware` from the bearer
/// token) and from where.
public struct APIRequestContext: RequestContext {
    /// Hummingbird's storage.
    public var coreContext: CoreRequestContextStorage
    /// The authenticated caller; nil before authentication and on public routes.
    public var identity: APIIdentity?
    /// The peer's IP address (no port), `unknown` when the channel has none.
    public let clientAddress: String

    /// Created by the server for each request.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Largest body the routes' JSON decoding accepts (uploads collect with their own limit).
    public var maxUploadSize: Int { 1_048_576 }

    /// The caller, when their role is at least `role`; else 403 (401 when nobody authenticated).
    @discardableResult
    public func require(_ role: APIRole) throws -> APIIdentity {
        guard let identity else { throw APIError(.unauthorized, "a bearer token is required") }
        guard identity.role >= role else {
            throw APIError(.forbidden, "role '\(identity.role.rawValue)' of '\(identity.name)' cannot do this; it needs '\(role.rawValue)'")
        }
        return identity
    }
}

/// An API failure: status and a message, sent as `{"error": "..."}`.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    /// The status.
    public let status: HTTPResponse.Status
    /// For the caller.
    public let message: String
    /// Extra headers (Retry-After, WWW-Authenticate).
    public var headers: HTTPFields

    /// Creates an error.
    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    /// For logs.
    public var description: String { "\(status.code) \(message)" }

    /// The JSON body.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        let body = "{\"error\":" + APIJSON.quoted(message) + "}"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// Checks the bearer token of every request it guards and sets `context.identity`.
///
/// The token comes from `Authorization: Bearer <token>`, or for `GET` requests from an `access_token` query
/// parameter (browsers' EventSource cannot set headers). Missing, unknown, revoked or expired tokens get 401 with
/// `WWW-Authenticate: Bearer`. Failed attempts are counted per client address (`APIAuthFailures`): after
/// `maxFailures` within the window the address is locked out (429) for the lockout time, so guessing is hopeless;
/// the first failure of a window and each lockout are written to the audit log (`auth.failure`, `auth.lockout`).
public struct APIAuthMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext
    let tokens: APITokenStore
    let failures: APIAuthFailures?
    let audit: AuditLog?

    /// Guards with `tokens`; with `failures`, locks out addresses that keep failing; with `audit`, records it.
    public init(tokens: APITokenStore, failures: APIAuthFailures? = nil, audit: AuditLog? = nil) {
        self.tokens = tokens
        self.failures = failures
        self.audit = audit
    }

    public func handle(_ request: Request, context: APIRequestContext, next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        let address = context.clientAddress
        if let failures, let wait = failures.lockedOut(address) {
            throw APIError(.tooManyRequests, "too many failed authentication attempts from \(address); retry in \(wait) s", headers: [.retryAfter: "\(wait)"])
        }
        var token: String?
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { token = String(parts[1]).trimmingCharacters(in: .whitespaces) }
        } else if request.method == .get {
            token = request.uri.queryParameters.get("access_token")
        }
        guard let token else {
            throw APIError(.unauthorized, "a bearer token is required (Authorization: Bearer <token>)", headers: [.wwwAuthenticate: "Bearer"])
        }
        let reason: String
        switch tokens.lookup(token: token) {
        case .valid(let identity):
            var context = context
            context.identity = identity
            return try await next(request, context)
        case .expired(let name): reason = "token '\(name)' expired"
        case .unknown: reason = "unknown or revoked token"
        }
        if let failures {
            let outcome = failures.record(address)
            if outcome != .counted {
                try? audit?.record(actor: "-", role: "-", action: outcome == .lockedOut ? "auth.lockout" : "auth.failure", target: "\(request.method) \(request.uri.path)",
                                   outcome: "refused: \(reason)", client: address)
            }
        }
        throw APIError(.unauthorized, reason, headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
    }
}

/// Failed authentication attempts per client address, for lockout.
public final class APIAuthFailures: Sendable {
    /// Failures within `windowNs` that lock an address out.
    public let maxFailures: Int
    let windowNs: UInt64
    let lockoutNs: UInt64
    private struct Entry {
        var windowStartNs: UInt64
        var count: Int
        var lockedUntilNs: UInt64
    }
    private let entries = Mutex<[String: Entry]>([:])

    /// What recording a failure did.
    public enum Outcome: Sendable, Hashable {
        /// The first failure of a window.
        case first
        /// Another failure.
        case counted
        /// This failure locked the address out.
        case lockedOut
    }

    /// `maxFailures` within `window` lock an address out for `lockout`.
    public init(maxFailures: Int = 10, window: Duration = .seconds(300), lockout: Duration = .seconds(300)) {
        self.maxFailures = maxFailures
        windowNs = UInt64(window.components.seconds) * 1_000_000_000 + UInt64(window.components.attoseconds / 1_000_000_000)
        lockoutNs = UInt64(lockout.components.seconds) * 1_000_000_000 + UInt64(lockout.components.attoseconds / 1_000_000_000)
    }

    /// Seconds left of `address`'s lockout, or nil when it is not locked out.
    public func lockedOut(_ address: String, nowNs: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Int? {
        entries.withLock { e in
            guard let entry = e[address], entry.lockedUntilNs > nowNs else { return nil }
            return Int((entry.lockedUntilNs - nowNs + 999_999_999) / 1_000_000_000)
        }
    }

    /// Counts a failure from `address`.
    @discardableResult
    public func record(_ address: String, nowNs: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Outcome {
        entries.withLock { e in
            if e.count >= 10_000, e[address] == nil {
                e = e.filter { $0.value.lockedUntilNs > nowNs || nowNs &- $0.value.windowStartNs < windowNs }
            }
            var entry = e[address] ?? Entry(windowStartNs: nowNs, count: 0, lockedUntilNs: 0)
            if nowNs &- entry.windowStartNs >= windowNs { entry = Entry(windowStartNs: nowNs, count: 0, lockedUntilNs: 0) }
            entry.count += 1
            var outcome: Outcome = entry.count == 1 ? .first : .counted
            if entry.count >= maxFailures {
                entry.lockedUntilNs = nowNs + lockoutNs
                entry.count = 0
                entry.windowStartNs = nowNs
                outcome = .lockedOut
            }
            e[address] = entry
            return outcome
        }
    }
}

/// Per-client token buckets: each client (token name once authenticated, else its address) may make `burst`
/// requests at once and `perSecond` on average; beyond that 429 with `Retry-After`. Long-lived streams count once.
/// At most 10,000 clients are tracked; the least recently seen are forgotten first.
public final class APIRateLimiter: Sendable {
    /// Sustained requests per second per client.
    public let perSecond: Double
    /// Requests allowed at once.
    public let burst: Double
    private struct Bucket {
        var tokens: Double
        var lastNs: UInt64
    }
    private let buckets = Mutex<[String: Bucket]>([:])
    static let maxClients = 10_000

    /// Creates a limiter; `perSecond <= 0` turns it off.
    public init(perSecond: Double, burst: Double) {
        self.perSecond = perSecond
        self.burst = max(1, burst)
    }

    /// Takes one request from `client`'s bucket; returns nil when allowed, else the seconds until one is.
    public func take(client: String, nowNs: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Int? {
        guard perSecond > 0 else { return nil }
        return buckets.withLock { b -> Int? in
            var bucket = b[client] ?? Bucket(tokens: burst, lastNs: nowNs)
            let elapsed = Double(nowNs &- bucket.lastNs) / 1e9
            bucket.tokens = min(burst, bucket.tokens + max(0, elapsed) * perSecond)
            bucket.lastNs = nowNs
            if b.count >= Self.maxClients, b[client] == nil {
                // Forget the longest-idle tenth.
                let idle = b.sorted { $0.value.lastNs < $1.value.lastNs }.prefix(Self.maxClients / 10).map(\.key)
                for key in idle { b.removeValue(forKey: key) }
            }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                b[client] = bucket
                return nil
            }
            b[client] = bucket
            return max(1, Int(((1 - bucket.tokens) / perSecond).rounded(.up)))
        }
    }
}

/// Applies the rate limiter and the request-size limit to what it guards.
public struct APILimitsMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext
    let limiter: APIRateLimiter
    let maxBodyBytes: Int

    /// Guards with `limiter` and `maxBodyBytes`.
    public init(limiter: APIRateLimiter, maxBodyBytes: Int) {
        self.limiter = limiter
        self.maxBodyBytes = maxBodyBytes
    }

    public func handle(_ request: Request, context: APIRequestContext, next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        let client = context.identity.map { "token:\($0.name)" } ?? "ip:\(context.clientAddress)"
        if let wait = limiter.take(client: client) {
            throw APIError(.tooManyRequests, "rate limit: \(Int(limiter.perSecond)) requests/s, burst \(Int(limiter.burst)); retry in \(wait) s",
                           headers: [.retryAfter: "\(wait)"])
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            throw APIError(.contentTooLarge, "request body of \(length) bytes is over the limit of \(maxBodyBytes)")
        }
        return try await next(request, context)
    }
}

/// Turns errors that are not already HTTP answers into a logged 500 `{"error": ...}`, and decoding failures of
/// request bodies into 400, so every API answer has the documented error shape.
public struct APIErrorMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    /// Creates the middleware.
    public init() {}

    public func handle(_ request: Request, context: APIRequestContext, next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as DecodingError {
            throw APIError(.badRequest, "the body is not the JSON this route takes: \(APIErrorMiddleware.describe(error))")
        } catch let error as HTTPError {
            throw APIError(error.status, error.body ?? error.status.reasonPhrase, headers: error.headers)
        } catch let error as ConfigHTTPError {
            throw error
        } catch let error as any HTTPResponseError {
            throw APIError(error.status, error.status.reasonPhrase)
        } catch {
            context.logger.error("API request failed", metadata: [
                "http.method": "\(request.method)", "http.path": "\(request.uri.path)", "error": "\(String(reflecting: error))",
            ])
            throw APIError(.internalServerError, "internal error: \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let c): c.debugDescription
        case .keyNotFound(let k, _): "missing key '\(k.stringValue)'"
        case .typeMismatch(_, let c), .valueNotFound(_, let c):
            "wrong type at '\(c.codingPath.map(\.stringValue).joined(separator: "."))': \(c.debugDescription)"
        @unknown default: "\(error)"
        }
    }
}

/// Answers 405 Method Not Allowed, with `Allow`, when a path exists but not for the request's method (the router
/// alone would answer 404). Mounted first on the router; `routes` is filled once every route is registered.
public struct MethodNotAllowedMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    /// The served routes as (method, path pattern segments).
    public final class Routes: Sendable {
        private let entries = Mutex<[(method: String, segments: [Substring])]>([])

        /// Empty until `set`.
        public init() {}

        /// Records the router's routes (`GET /v1/alerts/:id` style paths).
        public func set(_ routes: [(method: String, path: String)]) {
            entries.withLock { $0 = routes.map { ($0.method, $0.path.split(separator: "/")) } }
        }

        /// Methods served at `path`.
        func methods(for path: String) -> [String] {
            let parts = path.split(separator: "/")
            return entries.withLock { entries in
                entries.filter { e in
                    e.segments.count == parts.count && zip(e.segments, parts).allSatisfy { $0.hasPrefix(":") || $0 == $1 }
                }.map(\.method)
            }
        }
    }

    let routes: Routes

    /// Answers from `routes`.
    public init(routes: Routes) { self.routes = routes }

    public func handle(_ request: Request, context: APIRequestContext, next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = Set(routes.methods(for: request.uri.path))
            guard !allowed.isEmpty, !allowed.contains(request.method.rawValue) else { throw error }
            let allow = allowed.sorted().joined(separator: ", ")
            throw APIError(.methodNotAllowed, "\(request.method) is not served at \(request.uri.path); allowed: \(allow)", headers: [.allow: allow])
        }
    }
}

/// Small JSON helpers shared by the API routes.
enum APIJSON {
    /// `text` as a JSON string literal.
    static func quoted(_ text: String) -> String {
        var out = ""
        JSONText.appendQuoted(text, to: &out)
        return out
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }()

    /// A 200 (or `status`) JSON response of `value`.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
