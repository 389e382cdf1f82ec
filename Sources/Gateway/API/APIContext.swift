import Foundation
import HTTPTypes
import Hummingbird
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
/// parameter (browsers' EventSource cannot set headers). Missing or unknown tokens get 401 with
/// `WWW-Authenticate: Bearer`; failures are counted per client address by the rate limiter so guessing is slow.
public struct APIAuthMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext
    let tokens: APITokenStore

    /// Guards with `tokens`.
    public init(tokens: APITokenStore) { self.tokens = tokens }

    public func handle(_ request: Request, context: APIRequestContext, next: (Request, APIRequestContext) async throws -> Response) async throws -> Response {
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
        guard let identity = tokens.identity(token: token) else {
            throw APIError(.unauthorized, "unknown or revoked token", headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
        }
        var context = context
        context.identity = identity
        return try await next(request, context)
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

/// Small JSON helpers shared by the API routes.
enum APIJSON {
    /// `text` as a JSON string literal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let s where s.value < 0x20: out += String(format: "\\u%04x", s.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
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
