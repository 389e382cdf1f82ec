import Alerts
import Catalog
import DeviceProfiles
import Forwarder
import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TimeSeriesStore

/// The operator API under `/v1` (documented in docs/openapi.yaml, for people in docs/api.md).
///
/// Every `/v1` route needs a bearer token (`APIAuthMiddleware`); reads need `viewer`, alert actions and
/// dead-letter replays `operator`, token management and the audit log `admin`. Every action is written to the
/// audit log, refused ones too. Rate and size limits apply to every `/v1` request (`APILimitsMiddleware`).
public struct GatewayAPI: Sendable {
    let runtime: GatewayRuntime
    let tokens: APITokenStore
    let audit: AuditLog
    let limiter: APIRateLimiter
    let failures: APIAuthFailures?
    let maxBodyBytes: Int

    /// An API over `runtime`, its tokens and audit log.
    public init(runtime: GatewayRuntime, tokens: APITokenStore, audit: AuditLog, limiter: APIRateLimiter, failures: APIAuthFailures?, maxBodyBytes: Int) {
        self.runtime = runtime
        self.tokens = tokens
        self.audit = audit
        self.limiter = limiter
        self.failures = failures
        self.maxBodyBytes = maxBodyBytes
    }

    /// Mounts `/v1` on `router`.
    public func register(on router: Router<APIRequestContext>) {
        let v1 = router.group("v1")
            .add(middleware: APIErrorMiddleware())
            .add(middleware: APIAuthMiddleware(tokens: tokens, failures: failures, audit: audit))
            .add(middleware: APILimitsMiddleware(limiter: limiter, maxBodyBytes: maxBodyBytes))
        v1.get("whoami") { _, context in try APIJSON.response(try context.require(.viewer)) }
        registerAlerts(v1)
        registerDevices(v1)
        registerSeries(v1)
        registerDeadLetters(v1)
        registerUplink(v1)
        registerAdmin(v1)
        registerConfig(v1)
    }

    // MARK: Audit

    /// Runs `body` as `action` on `target` and writes the outcome (ok or the error) to the audit log.
    func audited<T>(
        _ context: APIRequestContext, role: APIRole, action: String, target: String, details: String = "{}", _ body: (APIIdentity) async throws -> T
    ) async throws -> T {
        let identity: APIIdentity
        do {
            identity = try context.require(role)
        } catch let error as APIError {
            _ = try? audit.record(actor: context.identity?.name ?? "-", role: context.identity?.role.rawValue ?? "-", action: action, target: target,
                              outcome: "refused: \(error.message)", details: details, client: context.clientAddress)
            throw error
        }
        do {
            let result = try await body(identity)
            try audit.record(actor: identity.name, role: identity.role.rawValue, action: action, target: target, details: details,
                             client: context.clientAddress)
            return result
        } catch {
            _ = try? audit.record(actor: identity.name, role: identity.role.rawValue, action: action, target: target,
                              outcome: "failed: \(error)", details: details, client: context.clientAddress)
            throw error
        }
    }

    // MARK: Alerts

    func registerAlerts(_ v1: RouterGroup<APIRequestContext>) {
        let runtime = runtime
        v1.get("alerts") { request, context in
            try context.require(.viewer)
            guard let store = runtime.alertStore else { return try APIJSON.response(AlertList(alerts: [])) }
            let q = request.uri.queryParameters
            var filter = AlertStore.Filter()
            switch try Self.filter(q, "state") ?? "open" {
            case "open": filter.states = [.pending, .firing]
            case "all": filter.states = []
            case let s:
                guard let state = Alert.State(rawValue: s) else { throw APIError(.badRequest, "state must be open, pending, firing, resolved or all") }
                filter.states = [state]
            }
            filter.device = try Self.filter(q, "device")
            filter.rule = try Self.filter(q, "rule")
            if let s = try Self.filter(q, "severity") {
                guard let severity = AlertRule.Severity(rawValue: s) else { throw APIError(.badRequest, "severity must be info, warning, major or critical") }
                filter.minimumSeverity = severity
            }
            if let a = try Self.filter(q, "acknowledged") {
                guard let b = Bool(a) else { throw APIError(.badRequest, "acknowledged must be true or false") }
                filter.acknowledged = b
            }
            filter.limit = try Self.limit(q, default: 200, max: 5_000)
            return try APIJSON.response(AlertList(alerts: try store.alerts(filter)))
        }
        v1.get("alerts/stream") { request, context in
            try context.require(.viewer)
            return try AlertFeedRoutes.stream(request: request, feed: runtime.alertFeed, gateway: runtime.configuration.alerts.gatewayID)
        }
        v1.get("alerts/:id") { _, context in
            try context.require(.viewer)
            let id = try Self.int64(context, "id")
            guard let alert = try runtime.alertStore?.alert(id: id) else { throw APIError(.notFound, "no alert \(id)") }
            return try APIJSON.response(alert)
        }
        for (verb, action) in [("acknowledge", "alert.acknowledge"), ("resolve", "alert.resolve")] {
            v1.post("alerts/:id/\(verb)") { request, context in
                let id = try Self.int64(context, "id")
                let comment = try await Self.comment(request, context)
                return try await audited(context, role: .operator, action: action, target: "alert/\(id)", details: comment) { who in
                    guard let engine = runtime.alerts else { throw APIError(.notFound, "alerts are not enabled on this gateway") }
                    do {
                        let alert = verb == "acknowledge" ? try engine.acknowledge(id: id, by: who.name) : try engine.resolve(id: id, by: who.name)
                        return try APIJSON.response(alert)
                    } catch let error as AlertEngine.ActionError {
                        switch error {
                        case .notFound: throw APIError(.notFound, error.description)
                        case .notOpen, .notFiring: throw APIError(.conflict, error.description)
                        }
                    }
                }
            }
        }
    }

    struct AlertList: Encodable { var alerts: [Alert] }

    /// `{"comment": "..."}` from an optional JSON body, as audit details.
    static func comment(_ request: Request, _ context: APIRequestContext) async throws -> String {
        var request = request
        let body = try await request.collectBody(upTo: 16_384)
        guard body.readableBytes > 0 else { return "{}" }
        struct Comment: Decodable { var comment: String? }
        guard let c = try? JSONDecoder().decode(Comment.self, from: Data(body.readableBytesView)) else {
            throw APIError(.badRequest, "the body must be JSON such as {\"comment\": \"...\"}")
        }
        return c.comment.map { "{\"comment\":" + APIJSON.quoted($0) + "}" } ?? "{}"
    }

    // MARK: Devices

    struct DeviceJSON: Encodable {
        struct Battery: Encodable { var value: Double; var unit: String }
        struct Signal: Encodable {
            var rsrpDbm: Double?, sinrDb: Double?, csqDbm: Double?, ecl: Double?
            enum CodingKeys: String, CodingKey { case rsrpDbm = "rsrp_dbm", sinrDb = "sinr_db", csqDbm = "csq_dbm", ecl }
        }
        struct Metric: Encodable {
            var metric: String, unit: String, lastMs: Int64?, lastValue: Double?
            enum CodingKeys: String, CodingKey { case metric, unit, lastMs = "last_ms", lastValue = "last_value" }
        }
        var id: String, profile: String, profileVersion: Int, family: String, state: String, stateChangedMs: Int64
        var firstSeenMs: Int64, lastSeenMs: Int64, messageCount: Int64, reportIntervalS: Int?
        var battery: Battery?, signal: Signal, attributes: [String: String]
        var metrics: [Metric]?

        enum CodingKeys: String, CodingKey {
            case id, profile, profileVersion = "profile_version", family, state, stateChangedMs = "state_changed_ms"
            case firstSeenMs = "first_seen_ms", lastSeenMs = "last_seen_ms", messageCount = "message_count", reportIntervalS = "report_interval_s"
            case battery, signal, attributes, metrics
        }

        init(_ d: DeviceRecord) {
            id = d.id
            profile = d.profileID
            profileVersion = d.profileVersion
            family = d.family
            state = d.state.rawValue
            stateChangedMs = d.stateChangedMs
            firstSeenMs = d.firstSeenMs
            lastSeenMs = d.lastSeenMs
            messageCount = d.messageCount
            reportIntervalS = d.reportIntervalSeconds
            battery = d.battery.map { Battery(value: $0.value, unit: $0.unit) }
            signal = Signal(rsrpDbm: d.rsrpDbm, sinrDb: d.sinrDb, csqDbm: d.csqDbm, ecl: d.ecl)
            attributes = d.attributes
        }
    }

    struct DeviceList: Encodable {
        struct Summary: Encodable { var total: Int, online: Int, offline: Int }
        var devices: [DeviceJSON]
        var summary: Summary
    }

    func registerDevices(_ v1: RouterGroup<APIRequestContext>) {
        let runtime = runtime
        v1.get("devices") { request, context in
            try context.require(.viewer)
            let q = request.uri.queryParameters
            var state: DeviceState?
            if let s = try Self.filter(q, "state") {
                guard let st = DeviceState(rawValue: s) else { throw APIError(.badRequest, "state must be online or offline") }
                state = st
            }
            let limit = try Self.limit(q, default: 1_000, max: 100_000)
            let offset = try Self.int(q, "offset") ?? 0
            let devices = runtime.registry.devices(state: state, profileID: try Self.filter(q, "profile"), family: try Self.filter(q, "family"), limit: limit, offset: offset)
            let s = runtime.registry.summary
            return try APIJSON.response(DeviceList(devices: devices.map(DeviceJSON.init), summary: .init(total: s.total, online: s.online, offline: s.offline)))
        }
        v1.get("devices/:id") { _, context in
            try context.require(.viewer)
            let id = try Self.string(context, "id")
            guard let record = runtime.registry.device(id: id) else { throw APIError(.notFound, "no device '\(id)'") }
            var json = DeviceJSON(record)
            if let store = runtime.store {
                json.metrics = try store.series(device: id).sorted { $0.metric < $1.metric }.map { s in
                    let last = try store.last(s.id)
                    return DeviceJSON.Metric(metric: s.metric, unit: s.unit, lastMs: last?.timeMs, lastValue: last?.value)
                }
            }
            return try APIJSON.response(json)
        }
    }

    // MARK: Series

    struct SeriesJSON: Encodable {
        struct Raw: Encodable { var t: Int64, v: Double }
        struct Step: Encodable { var t: Int64, count: Int, min: Double, max: Double, avg: Double, sum: Double, last: Double }
        var device: String, metric: String, unit: String
        var points: [Raw]?
        var steps: [Step]?
    }

    struct SeriesList: Encodable {
        struct Entry: Encodable { var device: String, metric: String, unit: String }
        var series: [Entry]
    }

    /// The most raw points one request returns; longer ranges need a `step`.
    static let maxRawPoints = 100_000

    func registerSeries(_ v1: RouterGroup<APIRequestContext>) {
        let runtime = runtime
        v1.get("series") { request, context in
            try context.require(.viewer)
            guard let store = runtime.store else { throw APIError(.notFound, "the store is not enabled on this gateway") }
            let q = request.uri.queryParameters
            let limit = try Self.limit(q, default: 10_000, max: 1_000_000)
            let metric = try Self.filter(q, "metric")
            let all = store.series(device: try Self.filter(q, "device")).filter { s in metric.map { $0 == s.metric } ?? true }
            return try APIJSON.response(SeriesList(series: all.prefix(limit).map { .init(device: $0.device, metric: $0.metric, unit: $0.unit) }))
        }
        v1.get("series/:device/:metric") { request, context in
            try context.require(.viewer)
            let (store, id, info) = try Self.series(runtime, context)
            let q = request.uri.queryParameters
            let now = WallClock.nowMs()
            let to = try Self.int64(q, "to") ?? now
            let from = try Self.int64(q, "from") ?? to.subtractingReportingOverflow(3_600_000).partialValue.clamped(below: to)
            var out = SeriesJSON(device: info.device, metric: info.metric, unit: info.unit)
            if from >= to {
                out.points = []
            } else if let step = try Self.int64(q, "step") {
                let span = to.subtractingReportingOverflow(from)
                guard step > 0, !span.overflow, span.partialValue / step <= 100_000 else { throw APIError(.badRequest, "step must be positive and give at most 100000 steps") }
                out.steps = try store.downsample(id, fromMs: from, toMs: to, stepMs: step).map {
                    .init(t: $0.startMs, count: $0.count, min: $0.min, max: $0.max, avg: $0.avg, sum: $0.sum, last: $0.last)
                }
            } else {
                let raw = try store.raw(id, fromMs: from, toMs: to - 1)
                guard raw.count <= Self.maxRawPoints else {
                    throw APIError(.badRequest, "\(raw.count) points in range, over \(Self.maxRawPoints): narrow the range or give a step")
                }
                out.points = raw.map { .init(t: $0.timeMs, v: $0.value) }
            }
            return try APIJSON.response(out)
        }
        v1.get("series/:device/:metric/last") { _, context in
            try context.require(.viewer)
            let (store, id, info) = try Self.series(runtime, context)
            guard let p = try store.last(id) else { throw APIError(.notFound, "no points in \(info.device) / \(info.metric)") }
            return try APIJSON.response(SeriesJSON(device: info.device, metric: info.metric, unit: info.unit, points: [.init(t: p.timeMs, v: p.value)]))
        }
    }

    static func series(_ runtime: GatewayRuntime, _ context: APIRequestContext) throws -> (TimeSeriesStore, SeriesID, TimeSeriesStore.SeriesInfo) {
        guard let store = runtime.store else { throw APIError(.notFound, "the store is not enabled on this gateway") }
        let device = try string(context, "device")
        let metric = try string(context, "metric")
        guard let id = store.seriesID(device: device, metric: metric), let info = store.info(id) else {
            throw APIError(.notFound, "no stored series \(device) / \(metric)")
        }
        return (store, id, info)
    }

    // MARK: Dead letters

    struct DeadLetterJSON: Encodable {
        var id: Int64, receivedMs: Int64, transport: String, topic: String, device: String?, reason: String, error: String
        var profile: String?, profileVersion: Int?, payloadBytes: Int, payloadHex: String, payloadText: String?
        var status: String, replayAttempts: Int, replayedMs: Int64?, replayError: String?

        enum CodingKeys: String, CodingKey {
            case id, receivedMs = "received_ms", transport, topic, device, reason, error, profile, profileVersion = "profile_version"
            case payloadBytes = "payload_bytes", payloadHex = "payload_hex", payloadText = "payload_text", status
            case replayAttempts = "replay_attempts", replayedMs = "replayed_ms", replayError = "replay_error"
        }

        /// Payloads are shown up to this many bytes.
        static let shownBytes = 4_096

        init(_ s: StoredDeadLetter) {
            let m = s.letter.message
            id = s.id
            receivedMs = m.receiveTimeMs
            transport = m.transport.rawValue
            topic = m.topic
            device = m.attributes["device"] ?? m.attributes["deviceId"] ?? m.attributes["imei"]
            reason = s.letter.reason.rawValue
            error = s.replayError ?? s.letter.error
            profile = s.letter.profileID
            profileVersion = s.letter.profileVersion
            payloadBytes = m.payload.count
            let shown = m.payload.prefix(Self.shownBytes)
            payloadHex = HexCodec.encode(shown)
            payloadText = String(validating: Array(shown), as: UTF8.self)
            status = s.status.rawValue
            replayAttempts = s.replayAttempts
            replayedMs = s.replayedMs
            replayError = s.replayError
        }
    }

    struct DeadLetterList: Encodable {
        var deadletters: [DeadLetterJSON]
        var total: Int
        var byReason: [String: Int]
        enum CodingKeys: String, CodingKey { case deadletters, total, byReason = "by_reason" }
    }

    struct ReplayJSON: Encodable {
        var replayed: Int, failed: Int, samples: Int
        var letters: [DeadLetterJSON]
    }

    func registerDeadLetters(_ v1: RouterGroup<APIRequestContext>) {
        let runtime = runtime
        v1.get("deadletters") { request, context in
            try context.require(.viewer)
            let q = request.uri.queryParameters
            var reason: DeadLetter.Reason?
            if let r = try Self.filter(q, "reason") {
                guard let v = DeadLetter.Reason(rawValue: r) else {
                    throw APIError(.badRequest, "reason must be one of " + DeadLetter.Reason.allCases.map(\.rawValue).joined(separator: ", "))
                }
                reason = v
            }
            var status: DeadLetterStatus?
            if let s = try Self.filter(q, "status") {
                guard let v = DeadLetterStatus(rawValue: s) else { throw APIError(.badRequest, "status must be new, replayed or failed") }
                status = v
            }
            var transport: Transport?
            if let t = try Self.filter(q, "transport") {
                guard let v = Transport(rawValue: t) else { throw APIError(.badRequest, "unknown transport '\(t)'") }
                transport = v
            }
            let letters = try runtime.deadLetters.list(
                reason: reason, profileID: try Self.filter(q, "profile"), transport: transport, sinceMs: try Self.int64(q, "since"), status: status,
                limit: try Self.limit(q, default: 200, max: 10_000), offset: try Self.int(q, "offset") ?? 0)
            let counts = try runtime.deadLetters.countsByReason()
            return try APIJSON.response(DeadLetterList(
                deadletters: letters.map(DeadLetterJSON.init), total: try runtime.deadLetters.count(),
                byReason: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })))
        }
        v1.post("deadletters/:id/replay") { _, context in
            let id = try Self.int64(context, "id")
            return try await audited(context, role: .operator, action: "deadletter.replay", target: "deadletter/\(id)") { _ in
                guard !(try runtime.deadLetters.letters(ids: [id])).isEmpty else { throw APIError(.notFound, "no dead letter \(id)") }
                return try APIJSON.response(try await Self.replay(runtime, ids: [id], limit: 1))
            }
        }
        v1.post("deadletters/replay") { request, context in
            let q = request.uri.queryParameters
            let limit = try Self.limit(q, default: 1_000, max: 100_000)
            return try await audited(context, role: .operator, action: "deadletter.replay", target: "deadletter/*", details: "{\"limit\":\(limit)}") { _ in
                try APIJSON.response(try await Self.replay(runtime, ids: [], limit: limit))
            }
        }
    }

    /// Re-decodes letters with the profiles in force, feeds what now decodes through the pipeline, and answers
    /// once it is durable in the store.
    static func replay(_ runtime: GatewayRuntime, ids: [Int64], limit: Int) async throws -> ReplayJSON {
        let report = try await DeadLetterTool.replay(store: runtime.deadLetters, profiles: runtime.decoder.profiles, ids: ids, limit: limit, sink: runtime.pipeline)
        try await runtime.store?.waitUntilDurable(force: true)
        let letters = ids.isEmpty ? [] : try runtime.deadLetters.letters(ids: ids)
        return ReplayJSON(replayed: report.replayed, failed: report.failed, samples: report.samples.count, letters: letters.map(DeadLetterJSON.init))
    }

    // MARK: Uplink

    struct UplinkJSON: Encodable {
        struct Sink: Encodable {
            var name: String, backlogPoints: Int, backlogBytes: Int64, oldestUnsentAgeMs: Int64, sentPoints: Int64, sentBatches: Int64
            var failures: Int, rejectedPoints: Int, cursors: [String: Int64]
            enum CodingKeys: String, CodingKey {
                case name, backlogPoints = "backlog_points", backlogBytes = "backlog_bytes", oldestUnsentAgeMs = "oldest_unsent_age_ms"
                case sentPoints = "sent_points", sentBatches = "sent_batches", failures, rejectedPoints = "rejected_points", cursors
            }
        }
        var enabled: Bool
        var sinks: [Sink]
        var rows: Int, points: Int, bytes: Int64, maxBytes: Int64, dropped: [String: Int64], openSeries: Int, backlogAlertAgeMs: Int64
        enum CodingKeys: String, CodingKey {
            case enabled, sinks, rows, points, bytes, maxBytes = "max_bytes", dropped, openSeries = "open_series"
            case backlogAlertAgeMs = "backlog_alert_age_ms"
        }
    }

    func registerUplink(_ v1: RouterGroup<APIRequestContext>) {
        let runtime = runtime
        v1.get("uplink") { _, context in
            try context.require(.viewer)
            let c = runtime.configuration.forwarder
            guard let forwarder = runtime.forwarder else {
                return try APIJSON.response(UplinkJSON(enabled: false, sinks: [], rows: 0, points: 0, bytes: 0, maxBytes: c.maxBytes, dropped: [:], openSeries: 0,
                                                       backlogAlertAgeMs: c.backlogAlertAgeMs))
            }
            let s = try await forwarder.status()
            let counters = Dictionary(forwarder.sinkCounters.map { ($0.sink, $0) }, uniquingKeysWith: { a, _ in a })
            let sinks = s.sinks.map { k in
                UplinkJSON.Sink(
                    name: k.name, backlogPoints: k.backlogPoints, backlogBytes: k.backlogBytes, oldestUnsentAgeMs: k.backlogRows == 0 ? 0 : k.oldestUnsentAgeMs,
                    sentPoints: k.sentPoints, sentBatches: k.sentBatches, failures: counters[k.name]?.failures ?? 0,
                    rejectedPoints: counters[k.name]?.rejectedPoints ?? 0,
                    cursors: Dictionary(uniqueKeysWithValues: k.cursors.map { ("\($0.key)", $0.value) }))
            }
            return try APIJSON.response(UplinkJSON(
                enabled: true, sinks: sinks, rows: s.rows, points: s.points, bytes: s.bytes, maxBytes: c.maxBytes,
                dropped: Dictionary(uniqueKeysWithValues: s.dropped.map { ("\($0.key)", $0.value) }), openSeries: s.openSeries,
                backlogAlertAgeMs: c.backlogAlertAgeMs))
        }
    }

    // MARK: Tokens and audit (admin)

    struct TokenRequest: Decodable {
        var name: String, role: APIRole, expiresInDays: Int?
        enum CodingKeys: String, CodingKey { case name, role, expiresInDays = "expires_in_days" }
    }
    struct TokenCreated: Encodable {
        var name: String, role: APIRole, token: String, expiresMs: Int64?
        enum CodingKeys: String, CodingKey { case name, role, token, expiresMs = "expires_ms" }
    }
    struct TokenList: Encodable { var tokens: [APITokenStore.Entry] }
    struct AuditList: Encodable { var entries: [AuditLog.Entry] }

    func registerAdmin(_ v1: RouterGroup<APIRequestContext>) {
        let tokens = tokens
        let audit = audit
        v1.get("tokens") { _, context in
            try context.require(.admin)
            return try APIJSON.response(TokenList(tokens: try tokens.list()))
        }
        v1.post("tokens") { request, context in
            let body = try await Self.decodeBody(TokenRequest.self, request)
            return try await audited(context, role: .admin, action: "token.create", target: "token/\(body.name)",
                                     details: "{\"role\":\"\(body.role.rawValue)\"}") { _ in
                if let days = body.expiresInDays, !(1...3_650).contains(days) { throw APIError(.badRequest, "expires_in_days must be 1 to 3650") }
                do {
                    let now = WallClock.nowMs()
                    let expiresIn = body.expiresInDays.map { Int64($0) * 86_400_000 }
                    let token = try tokens.create(name: body.name, role: body.role, expiresInMs: expiresIn, nowMs: now)
                    return try APIJSON.response(TokenCreated(name: body.name, role: body.role, token: token, expiresMs: expiresIn.map { now + $0 }), status: .created)
                } catch let error as APITokenStore.TokenError {
                    if case .exists = error { throw APIError(.conflict, error.description) }
                    throw APIError(.badRequest, error.description)
                }
            }
        }
        v1.delete("tokens/:name") { _, context in
            let name = try Self.string(context, "name")
            return try await audited(context, role: .admin, action: "token.revoke", target: "token/\(name)") { _ in
                guard try tokens.revoke(name: name) else { throw APIError(.notFound, "no token named '\(name)'") }
                return Response(status: .noContent)
            }
        }
        v1.get("audit") { request, context in
            try context.require(.admin)
            let q = request.uri.queryParameters
            return try APIJSON.response(AuditList(entries: try audit.entries(
                afterSeq: try Self.int64(q, "after") ?? 0, limit: try Self.limit(q, default: 200, max: 10_000), action: try Self.filter(q, "action"), actor: try Self.filter(q, "actor"))))
        }
        v1.get("audit/verify") { _, context in
            try context.require(.admin)
            return try APIJSON.response(try audit.verify())
        }
    }

    // MARK: Parameters

    /// The JSON body as `T`, or 400 saying what is wrong.
    static func decodeBody<T: Decodable>(_ type: T.Type, _ request: Request, limit: Int = 65_536) async throws -> T {
        var request = request
        let body = try await request.collectBody(upTo: limit)
        guard body.readableBytes > 0 else { throw APIError(.badRequest, "a JSON body is required") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch let error as DecodingError {
            throw APIError(.badRequest, "the body is not the JSON this route takes: \(APIErrorMiddleware.describe(error))")
        }
    }

    static func string(_ context: APIRequestContext, _ name: String) throws -> String {
        guard let s = context.parameters.get(name), !s.isEmpty else { throw APIError(.badRequest, "missing \(name)") }
        return s.removingPercentEncoding ?? s
    }

    static func int64(_ context: APIRequestContext, _ name: String) throws -> Int64 {
        guard let s = context.parameters.get(name), let v = Int64(s) else { throw APIError(.badRequest, "\(name) must be an integer") }
        return v
    }

    static func int64(_ q: Parameters, _ name: String) throws -> Int64? {
        guard let s = try filter(q, name) else { return nil }
        guard let v = Int64(s) else { throw APIError(.badRequest, "\(name) must be an integer (Unix milliseconds for times)") }
        return v
    }

    /// A non-negative integer parameter; one too large for Int is served as Int.max (an offset past the end).
    static func int(_ q: Parameters, _ name: String) throws -> Int? {
        guard let s = try filter(q, name) else { return nil }
        guard let v = Int(s) ?? (s.allSatisfy(\.isASCIIDigitCharacter) ? Int.max : nil), v >= 0 else {
            throw APIError(.badRequest, "\(name) must be a non-negative integer")
        }
        return v
    }

    /// `limit`, at least 1; larger values than `m` are served as `m`.
    static func limit(_ q: Parameters, default d: Int, max m: Int) throws -> Int {
        guard let s = try filter(q, "limit") else { return d }
        guard let v = Int(s) ?? (s.allSatisfy(\.isASCIIDigitCharacter) ? Int.max : nil), v >= 1 else { throw APIError(.badRequest, "limit must be a positive integer") }
        return min(v, m)
    }

    /// A query filter: absent or empty means no filter. Given more than once is refused.
    static func filter(_ q: Parameters, _ name: String) throws -> String? {
        let all = q.getAll(name)
        guard all.count <= 1 else { throw APIError(.badRequest, "\(name) given \(all.count) times") }
        guard let s = all.first, !s.isEmpty else { return nil }
        return s
    }
}

extension Int64 {
    /// `self`, or `limit` when `self` wrapped past it.
    func clamped(below limit: Int64) -> Int64 { self <= limit ? self : .min }
}

extension Character {
    /// 0-9 only (`isNumber` also takes other scripts' digits and fractions).
    var isASCIIDigitCharacter: Bool { isASCII && isWholeNumber }
}
