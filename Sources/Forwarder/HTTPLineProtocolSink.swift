import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// Sends batches as InfluxDB line protocol over HTTP(S): VictoriaMetrics (`/write`, `/api/v2/write`), InfluxDB
/// 1.x (`/write?db=…`) and 2.x (`/api/v2/write?org=…&bucket=…`), TDengine's schemaless endpoint.
///
/// `precision=ms` is added to the URL when it names no precision. Bodies are gzip-compressed when configured. 2xx
/// acknowledges; 400 and 422 reject the batch for good (the receiver cannot parse it: counted and skipped);
/// anything else (5xx, 429, 401/403 while credentials are wrong, connection errors, timeouts) is retried.
public final class HTTPLineProtocolSink: UplinkSink {
    /// Settings.
    public struct Configuration: Sendable, Hashable {
        /// Sink name.
        public var name: String
        /// Write URL.
        public var url: String
        /// Gateway id (the `gateway` tag).
        public var gateway: String
        /// gzip the body.
        public var gzip: Bool
        /// gzip level, 1 (fastest) to 9 (smallest).
        public var gzipLevel: Int
        /// Which fields of a rollup point go upstream (all six by default).
        public var fields: RollupFields
        /// Token sent as `Authorization: <tokenScheme> <token>`.
        public var token: String?
        /// `Token` (InfluxDB 2.x) or `Bearer`.
        public var tokenScheme: String
        /// Basic authentication.
        public var username: String?
        /// Basic authentication password.
        public var password: String?
        /// PEM CA file to trust instead of the system store (https).
        public var caFile: String?
        /// Skip certificate verification (test rigs only).
        public var insecure: Bool
        /// Per-request timeout.
        public var timeout: Duration

        /// Creates settings.
        public init(name: String, url: String, gateway: String, gzip: Bool = true, gzipLevel: Int = 1, fields: RollupFields = .all, token: String? = nil,
                    tokenScheme: String = "Token", username: String? = nil, password: String? = nil, caFile: String? = nil, insecure: Bool = false,
                    timeout: Duration = .seconds(30)) {
            self.name = name
            self.url = url
            self.gateway = gateway
            self.gzip = gzip
            self.gzipLevel = min(9, max(1, gzipLevel))
            self.fields = fields.isEmpty ? .all : fields
            self.token = token
            self.tokenScheme = tokenScheme
            self.username = username
            self.password = password
            self.caFile = caFile
            self.insecure = insecure
            self.timeout = timeout
        }
    }

    /// The settings in force.
    public let configuration: Configuration
    /// Sink name.
    public var name: String { configuration.name }
    private let client: HTTPClient
    private let url: String
    private let gatewayBytes: [UInt8]
    private let authorization: String?
    private let counts = Atomic<Int>(0)
    private let wire = Atomic<Int>(0)

    /// Line protocol bytes rendered for acknowledged requests, and bytes sent for them (after gzip).
    public var bytesSent: (lineProtocol: Int, wire: Int) { (counts.load(ordering: .relaxed), wire.load(ordering: .relaxed)) }

    /// Creates the sink and its HTTP client (connections are opened on the first send).
    public init(configuration: Configuration) throws {
        self.configuration = configuration
        var c = HTTPClient.Configuration()
        c.timeout = .init(connect: .seconds(10), read: .seconds(Int64(configuration.timeout.components.seconds) + 1))
        if configuration.caFile != nil || configuration.insecure {
            var tls = TLSConfiguration.makeClientConfiguration()
            if let ca = configuration.caFile { tls.trustRoots = .file(ca) }
            if configuration.insecure { tls.certificateVerification = .none }
            c.tlsConfiguration = tls
        }
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: c)
        url = configuration.url.contains("precision=") ? configuration.url : configuration.url + (configuration.url.contains("?") ? "&" : "?") + "precision=ms"
        gatewayBytes = Array(configuration.gateway.utf8)
        if let token = configuration.token {
            authorization = "\(configuration.tokenScheme) \(token)"
        } else if let user = configuration.username {
            authorization = "Basic " + Base64.encode(Array("\(user):\(configuration.password ?? "")".utf8))
        } else {
            authorization = nil
        }
    }

    /// Line protocol for a batch, uncompressed. Rollup rows are rendered straight from their bytes into one buffer
    /// sized for the worst case (`LineProtocol.rowBound`), so nothing is reallocated or copied on the way.
    public func render(_ batch: OutboxBatch) throws -> [UInt8] {
        var body: [UInt8] = []
        if batch.stream.isRollup {
            let window = Array(RollupWindow.label(batch.stream.rawValue).utf8)
            var bound = 0
            for row in batch.rows {
                guard let b = LineProtocol.rowBound(row.body, window: window.count, gateway: gatewayBytes.count) else {
                    throw UplinkSinkError.encoding("outbox row \(row.id) is damaged")
                }
                bound += b
            }
            guard bound > 0 else { return [] }
            let fields = configuration.fields
            let gateway = gatewayBytes
            body = try [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
                let start = buffer.baseAddress!
                var p = start
                for row in batch.rows {
                    let end = row.body.withUnsafeBufferPointer { b in
                        window.withUnsafeBufferPointer { w in
                            gateway.withUnsafeBufferPointer { g in LineProtocol.renderRollups(b, window: w, gateway: g, fields: fields, to: p) }
                        }
                    }
                    guard let end else {
                        count = p - start
                        throw UplinkSinkError.encoding("outbox row \(row.id) is damaged")
                    }
                    p = end
                }
                count = p - start
            }
        } else {
            for row in batch.rows {
                guard let events = OutboxCodec.decodeEvents(row.body) else { throw UplinkSinkError.encoding("outbox row \(row.id) is damaged") }
                for e in events { LineProtocol.appendEvent(e, gateway: gatewayBytes, to: &body) }
            }
        }
        return body
    }

    /// Renders (and compresses) the body.
    public func prepare(_ batch: OutboxBatch) async throws -> PreparedBatch {
        let body = try render(batch)
        if configuration.gzip, let zipped = Gzip.compress(body, level: configuration.gzipLevel) {
            return PreparedBatch(batch: batch, body: zipped, renderedBytes: body.count, gzipped: true)
        }
        return PreparedBatch(batch: batch, body: body, renderedBytes: body.count, gzipped: false)
    }

    /// POSTs the batch; see the type's documentation for the status handling.
    public func send(_ batch: OutboxBatch) async throws -> SinkOutcome {
        try await send(try await prepare(batch))
    }

    /// POSTs a prepared batch.
    public func send(_ prepared: PreparedBatch) async throws -> SinkOutcome {
        guard let body = prepared.body else { return try await send(prepared.batch) }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        request.headers.add(name: "X-CityGate-Seq", value: "\(prepared.batch.seq)")
        if prepared.gzipped { request.headers.add(name: "Content-Encoding", value: "gzip") }
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let c = configuration.timeout.components
        let response = try await client.execute(request, timeout: .nanoseconds(c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000))
        let text = (try? await response.body.collect(upTo: 16_384)).map { String(buffer: $0) } ?? ""
        switch response.status.code {
        case 200..<300:
            counts.add(prepared.renderedBytes, ordering: .relaxed)
            wire.add(body.count, ordering: .relaxed)
            return .acknowledged
        case 400, 422: return .rejected("HTTP \(response.status.code): \(text.prefix(500))")
        default: throw UplinkSinkError.status(Int(response.status.code), String(text.prefix(500)))
        }
    }

    /// Closes the client's connections.
    public func shutdown() async {
        try? await client.shutdown()
    }
}

/// Standard base64 (RFC 4648) for the Basic authorization header.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var v = UInt32(bytes[i]) << 16
            if n > 1 { v |= UInt32(bytes[i + 1]) << 8 }
            if n > 2 { v |= UInt32(bytes[i + 2]) }
            out.append(alphabet[Int((v >> 18) & 63)])
            out.append(alphabet[Int((v >> 12) & 63)])
            out.append(n > 1 ? alphabet[Int((v >> 6) & 63)] : UInt8(ascii: "="))
            out.append(n > 2 ? alphabet[Int(v & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
