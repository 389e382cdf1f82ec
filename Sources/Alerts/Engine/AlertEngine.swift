import Anomaly
import GatewayCore
import Logging
import Metrics
import Synchronization

/// The alert engine: evaluates every sample against the rules that select its series, runs each (rule, series)
/// through ok → pending → firing → resolved, and hands the events to delivery.
///
/// It sits in the pipeline as a `SampleSink`. State lives in memory behind one lock, taken once per batch; rows
/// are written to the `AlertStore` only on transitions (one transaction per batch or tick), so the cost per sample
/// is a dictionary lookup and a comparison. Timers (`for:` durations, no data, flap holds, silence, escalation)
/// run on the monotonic clock from `tick()`, which `AlertService` calls every second.
public final class AlertEngine: SampleSink, Sendable {
    /// Engine settings.
    public struct Configuration: Sendable, Hashable {
        /// The report interval assumed for devices whose profile gives none (no-data rules).
        public var defaultReportIntervalMs: Int64 = 3_600_000

        /// Creates the settings.
        public init(defaultReportIntervalMs: Int64 = 3_600_000) {
            self.defaultReportIntervalMs = defaultReportIntervalMs
        }
    }

    /// Operator actions that cannot be done.
    public enum ActionError: Error, Sendable, Hashable, CustomStringConvertible {
        /// No alert has that id.
        case notFound(Int64)
        /// The alert is already resolved.
        case notOpen(Int64)
        /// Only firing alerts can be acknowledged.
        case notFiring(Int64)

        /// For the API and logs.
        public var description: String {
            switch self {
            case .notFound(let id): "no alert \(id)"
            case .notOpen(let id): "alert \(id) is already resolved"
            case .notFiring(let id): "alert \(id) is pending, not firing: there is nothing to acknowledge yet"
            }
        }
    }

    /// Counts since start.
    public struct Stats: Sendable, Hashable {
        /// Samples evaluated against at least one rule.
        public var samplesEvaluated: Int
        /// Alerts fired.
        public var fired: Int
        /// Alerts resolved.
        public var resolved: Int
        /// Open alerts now (pending + firing).
        public var open: Int
        /// Store writes that failed.
        public var storeFailures: Int
    }

    let state: Mutex<EngineState>
    let store: AlertStore
    let clock: any AlertClock
    let configuration: Configuration
    let logger: Logger
    let onEvents: @Sendable ([AlertEvent]) -> Void
    private let firedCounter = Counter(label: "gateway_alerts_fired_total")
    private let resolvedCounter = Counter(label: "gateway_alerts_resolved_total")
    private let storeFailureCounter = Counter(label: "gateway_alerts_store_failures_total")

    /// Creates the engine over `rules`, restoring open alerts, pending durations and disarmed pairs from `store`.
    /// - Parameter onEvents: told of every event, in sequence order, once it is durable (called under the engine's
    ///   lock: keep it short — the dispatcher only wakes its channel workers and the live feed).
    public init(
        rules: RuleSet, store: AlertStore, configuration: Configuration = Configuration(), clock: any AlertClock = SystemAlertClock(),
        systemRules: [AlertRule] = [], logger: Logger, onEvents: @escaping @Sendable ([AlertEvent]) -> Void = { _ in }
    ) throws {
        precondition(systemRules.allSatisfy { $0.condition == .external }, "system rules are .external")
        self.store = store
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
        self.onEvents = onEvents
        var s = EngineState(rules: rules, systemRules: systemRules)
        s.nextAlertID = try store.maxAlertID() + 1
        let now = clock.monotonicMs(), wall = clock.wallMs()
        var changes = AlertStore.Changes()
        for (alert, elapsed) in try store.openAlerts() {
            guard let r = s.ruleIndex[alert.rule] else {
                var closed = alert
                closed.state = .resolved
                closed.resolvedMs = wall
                closed.resolvedBy = "rule-removed"
                changes.upserts.append((closed, 0))
                if alert.state == .firing { changes.events.append(AlertEvent(seq: 0, kind: .resolved, timeMs: wall, alert: closed, channels: [])) }
                continue
            }
            let key = StateKey(rule: r, device: alert.device, metric: alert.metric)
            var st = RuleState()
            st.phase = alert.state == .pending ? .pending : .firing
            st.alertID = alert.id
            st.breaching = true
            st.pendingSinceMono = now - max(0, elapsed)
            st.firedMono = now - max(0, wall - (alert.firedMs ?? wall))
            st.lastSeenMono = now
            s.states[key] = st
            s.open.insert(key)
            s.openAlerts[alert.id] = alert
            s.byAlertID[alert.id] = key
        }
        for (rule, device, metric) in try store.disarmed() {
            guard let r = s.ruleIndex[rule] else { continue }
            s.states[StateKey(rule: r, device: device, metric: metric), default: RuleState()].phase = .disarmed
        }
        state = Mutex(s)
        if !changes.isEmpty {
            let events = try store.apply(changes, nowMs: wall)
            onEvents(events)
        }
        logger.info("Alert engine started", metadata: [
            "alerts.rules": "\(rules.rules.count)", "alerts.open": "\(state.withLock { $0.openAlerts.count })",
        ])
    }

    // MARK: Input

    /// `SampleSink`: evaluates the batch.
    public func accept(_ batch: SampleBatch) async throws {
        process(batch)
    }

    /// Evaluates a batch synchronously: device statuses first (they carry profile, family and report interval),
    /// then every sample against its series' rules.
    public func process(_ batch: SampleBatch) {
        let now = clock.monotonicMs()
        state.withLock { s in
            var effects = Effects(wallMs: clock.wallMs())
            for status in batch.statuses { s.sawDevice(status, nowMono: now, defaultIntervalMs: configuration.defaultReportIntervalMs, effects: &effects) }
            for sample in batch.samples {
                let entry = s.seriesRules(device: sample.device, metric: sample.metric)
                guard !entry.isEmpty else { continue }
                s.samplesEvaluated += 1
                for r in entry {
                    s.evaluate(rule: r, sample: sample, nowMono: now, effects: &effects)
                }
            }
            commit(&s, effects)
        }
    }

    /// Runs the timers: pending durations, flap holds, clear on silence, escalation, and no data.
    public func tick() {
        let now = clock.monotonicMs()
        state.withLock { s in
            var effects = Effects(wallMs: clock.wallMs())
            s.runTimers(nowMono: now, effects: &effects)
            commit(&s, effects)
        }
    }

    /// Makes devices known before any of their data arrives (from the registry at start), so no-data rules watch
    /// devices that stay silent after a restart. Their silence is counted from now.
    public func seed(devices: [(id: String, profile: String, family: String, reportIntervalSeconds: Int?)]) {
        let now = clock.monotonicMs()
        state.withLock { s in
            for d in devices where s.devices[d.id] == nil {
                var info = DeviceInfo(profile: d.profile, family: d.family)
                info.intervalMs = d.reportIntervalSeconds.map { Int64($0) * 1000 } ?? configuration.defaultReportIntervalMs
                info.lastSeenMono = now
                info.tags = s.deviceTags[d.id] ?? [:]
                s.devices[d.id] = info
                s.refreshNoDataRules(device: d.id)
            }
        }
    }

    /// Replaces the rules (hot reload). State carries over for rules that keep their id; open alerts of removed
    /// rules resolve with `rule-removed`.
    public func replaceRules(_ rules: RuleSet) {
        state.withLock { s in
            var effects = Effects(wallMs: clock.wallMs())
            s.replaceRules(rules, effects: &effects)
            commit(&s, effects)
        }
    }

    /// Saves how long each pending alert has been pending (called periodically and at shutdown).
    public func savePendingDurations() {
        let now = clock.monotonicMs()
        let entries = state.withLock { s in
            s.open.compactMap { key -> (id: Int64, elapsedMs: Int64)? in
                guard let st = s.states[key], st.phase == .pending else { return nil }
                return (st.alertID, now - st.pendingSinceMono)
            }
        }
        do {
            try store.savePendingElapsed(entries)
        } catch {
            logger.error("Pending alert durations could not be saved", metadata: ["error": "\(error)"])
        }
    }

    /// Raises (`breaching: true`) or clears a built-in rule's alert for `subject` (a sink name, the gateway):
    /// the same lifecycle, `for:` duration, delivery and persistence as file rules. Unknown rule ids are ignored.
    public func report(rule ruleID: String, subject: String, breaching: Bool, value: Double? = nil) {
        let now = clock.monotonicMs()
        state.withLock { s in
            guard let r = s.ruleIndex[ruleID], s.rules[Int(r)].condition == .external else { return }
            let key = StateKey(rule: r, device: subject, metric: "")
            var st = s.states[key] ?? RuleState()
            st.lastSeenMono = now
            s.states[key] = st
            var effects = Effects(wallMs: clock.wallMs())
            s.apply(breaching ? .breach : .clear, key: key, value: value, nowMono: now, effects: &effects)
            commit(&s, effects)
        }
    }

    // MARK: Operator actions

    /// Acknowledges a firing alert (idempotent). Returns the alert after the change.
    @discardableResult
    public func acknowledge(id: Int64, by user: String) throws -> Alert {
        try action(id: id) { s, key, effects in
            guard var alert = s.openAlerts[id] else { throw ActionError.notOpen(id) }
            guard alert.state == .firing else { throw ActionError.notFiring(id) }
            if alert.acknowledged { return alert }
            alert.acknowledged = true
            alert.acknowledgedBy = user
            alert.acknowledgedMs = effects.wallMs
            s.openAlerts[id] = alert
            effects.record(alert, event: .acknowledged, channels: s.rules[Int(key.rule)].channels)
            return alert
        }
    }

    /// Resolves an open alert by hand. If the condition still holds, the pair stays disarmed (raises nothing)
    /// until the condition clears once; then it re-arms.
    @discardableResult
    public func resolve(id: Int64, by user: String) throws -> Alert {
        try action(id: id) { s, key, effects in
            guard s.openAlerts[id] != nil else { throw ActionError.notOpen(id) }
            let alert = s.close(key, reason: user, effects: &effects)
            if s.states[key]?.breaching == true {
                s.states[key]?.phase = .disarmed
                effects.changes.disarm.append((s.rules[Int(key.rule)].id, key.device, key.metric))
            }
            return alert
        }
    }

    private func action(id: Int64, _ body: (inout EngineState, StateKey, inout Effects) throws -> Alert) throws -> Alert {
        try state.withLock { s in
            guard let key = s.byAlertID[id] else {
                if let stored = try store.alert(id: id) {
                    throw stored.state == .resolved ? ActionError.notOpen(id) : ActionError.notFound(id)
                }
                throw ActionError.notFound(id)
            }
            var effects = Effects(wallMs: clock.wallMs())
            let alert = try body(&s, key, &effects)
            commit(&s, effects)
            return alert
        }
    }

    // MARK: Reading

    /// Open alerts from memory (pending and firing), newest first.
    public var openAlerts: [Alert] {
        state.withLock { $0.openAlerts.values.sorted { $0.id > $1.id } }
    }

    /// Counts since start.
    public var stats: Stats {
        state.withLock { s in
            Stats(samplesEvaluated: s.samplesEvaluated, fired: s.firedTotal, resolved: s.resolvedTotal, open: s.openAlerts.count, storeFailures: s.storeFailures)
        }
    }

    /// The rules in force.
    public var rules: [AlertRule] { state.withLock { $0.rules } }

    // MARK: Committing

    private func commit(_ s: inout EngineState, _ effects: Effects) {
        guard !effects.changes.isEmpty else { return }
        s.firedTotal += effects.fired
        s.resolvedTotal += effects.resolved
        if effects.fired > 0 { firedCounter.increment(by: Int64(effects.fired)) }
        if effects.resolved > 0 { resolvedCounter.increment(by: Int64(effects.resolved)) }
        do {
            let events = try store.apply(effects.changes, nowMs: effects.wallMs)
            if !events.isEmpty { onEvents(events) }
        } catch {
            // The disk is full or the file is gone: the state in memory is right and the live feed still hears of
            // it (sequence 0 marks an event that is not in the durable log).
            s.storeFailures += 1
            storeFailureCounter.increment()
            logger.error("Alert changes could not be stored", metadata: ["error": "\(error)", "alerts.events": "\(effects.changes.events.count)"])
            if !effects.changes.events.isEmpty { onEvents(effects.changes.events) }
        }
    }
}
