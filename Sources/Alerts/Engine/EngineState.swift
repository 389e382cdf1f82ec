import Anomaly
import GatewayCore

/// A (rule, series) pair; device-level rules (no data) use an empty metric.
struct StateKey: Hashable, Sendable {
    var rule: Int32
    var device: String
    var metric: String
}

struct SeriesKey: Hashable, Sendable {
    var device: String
    var metric: String
}

/// Where one (rule, series) pair stands.
struct RuleState: Sendable {
    enum Phase: UInt8, Sendable {
        case ok, pending, firing, disarmed
    }

    var phase: Phase = .ok
    var alertID: Int64 = 0
    /// The last verdict was a breach.
    var breaching = false
    var pendingSinceMono: Int64 = 0
    var firedMono: Int64 = 0
    var lastSeenMono: Int64 = 0
    /// Rate rules: the previous sample.
    var previousValue = Double.nan
    var previousTimeMs = Int64.min
    /// Stuck rules: the value the series has stayed at, and since when.
    var stuckValue = Double.nan
    var stuckSinceMono: Int64 = 0
    /// Flap suppression: monotonic times of recent firings, and since when a held clear has lasted.
    var recentFirings: [Int64] = []
    var clearSinceMono: Int64?
    /// Anomaly rules only: boxed, so the ~1.4 KiB detector is not inline in every pair's state.
    var detector: DetectorBox?
}

/// A heap cell for one series' detector (mutated only under the engine's lock).
final class DetectorBox: @unchecked Sendable {
    var detector = AnomalyDetector()
}

/// What the engine knows of a device: enough to select rules and time no-data.
struct DeviceInfo: Sendable {
    var profile: String
    var family: String
    var tags: [String: String] = [:]
    var intervalMs: Int64 = 3_600_000
    var lastSeenMono: Int64 = 0
    /// Bumped when profile, family or tags change, so series re-select their rules.
    var generation: UInt32 = 0
    /// No-data rules that select this device.
    var noDataRules: [Int32] = []
}

struct SeriesEntry: Sendable {
    var rules: [Int32]
    var generation: UInt32
    var rulesVersion: UInt32
}

/// Changes and events collected under the lock, written in one transaction.
struct Effects {
    let wallMs: Int64
    var changes = AlertStore.Changes()
    var fired = 0
    var resolved = 0

    init(wallMs: Int64) { self.wallMs = wallMs }

    mutating func record(_ alert: Alert, event: AlertEvent.Kind?, channels: [String], pendingElapsedMs: Int64 = 0) {
        changes.upserts.append((alert, pendingElapsedMs))
        if let event { changes.events.append(AlertEvent(seq: 0, kind: event, timeMs: wallMs, alert: alert, channels: channels)) }
    }
}

/// Everything behind the engine's lock.
struct EngineState: Sendable {
    var rules: [AlertRule]
    var ruleIndex: [String: Int32] = [:]
    var deviceTags: [String: [String: String]]
    var rulesVersion: UInt32 = 0
    var valueRules: [Int32] = []
    var noDataRules: [Int32] = []
    var devices: [String: DeviceInfo] = [:]
    var series: [SeriesKey: SeriesEntry] = [:]
    var states: [StateKey: RuleState] = [:]
    /// Pairs with an open alert (pending or firing): what the timers look at.
    var open: Set<StateKey> = []
    var openAlerts: [Int64: Alert] = [:]
    var byAlertID: [Int64: StateKey] = [:]
    var nextAlertID: Int64 = 1
    var samplesEvaluated = 0
    var firedTotal = 0
    var resolvedTotal = 0
    var storeFailures = 0

    /// Built-in rules (`.external`), kept across reloads.
    var systemRules: [AlertRule] = []

    init(rules set: RuleSet, systemRules: [AlertRule] = []) {
        self.systemRules = systemRules
        rules = set.rules + systemRules
        deviceTags = set.deviceTags
        indexRules()
    }

    mutating func indexRules() {
        ruleIndex = [:]
        valueRules = []
        noDataRules = []
        for (i, rule) in rules.enumerated() {
            ruleIndex[rule.id] = Int32(i)
            switch rule.condition {
            case .noData: noDataRules.append(Int32(i))
            case .external: break
            default: valueRules.append(Int32(i))
            }
        }
        rulesVersion &+= 1
    }

    // MARK: Selection

    func selects(_ rule: AlertRule, device: String, info: DeviceInfo?) -> Bool {
        let sel = rule.selector
        if !sel.devices.isEmpty, !sel.devices.contains(where: { globMatch($0, device) }) { return false }
        if !sel.profiles.isEmpty {
            guard let info, sel.profiles.contains(where: { globMatch($0, info.profile) }) else { return false }
        }
        if !sel.families.isEmpty {
            guard let info, sel.families.contains(info.family) else { return false }
        }
        if !sel.tags.isEmpty {
            let tags = info?.tags ?? deviceTags[device] ?? [:]
            for (k, v) in sel.tags where tags[k] != v { return false }
        }
        return true
    }

    /// The value rules that select (device, metric), cached per series until the rules or the device change.
    mutating func seriesRules(device: String, metric: String) -> [Int32] {
        if valueRules.isEmpty { return [] }
        let key = SeriesKey(device: device, metric: metric)
        let info = devices[device]
        let generation = info?.generation ?? 0
        if let entry = series[key], entry.generation == generation, entry.rulesVersion == rulesVersion { return entry.rules }
        var matched: [Int32] = []
        for r in valueRules {
            let rule = rules[Int(r)]
            guard rule.selector.metrics.contains(where: { globMatch($0, metric) }), selects(rule, device: device, info: info) else { continue }
            matched.append(r)
        }
        series[key] = SeriesEntry(rules: matched, generation: generation, rulesVersion: rulesVersion)
        return matched
    }

    mutating func refreshNoDataRules(device: String) {
        guard var info = devices[device] else { return }
        info.noDataRules = noDataRules.filter { selects(rules[Int($0)], device: device, info: info) }
        devices[device] = info
    }

    // MARK: Devices and no data

    mutating func sawDevice(_ status: DeviceStatus, nowMono: Int64, defaultIntervalMs: Int64, effects: inout Effects) {
        let interval = status.reportIntervalSeconds.map { Int64($0) * 1000 } ?? defaultIntervalMs
        if var info = devices[status.device] {
            if info.profile != status.profileID || info.family != status.family || info.intervalMs != interval {
                info.profile = status.profileID
                info.family = status.family
                info.intervalMs = interval
                info.generation &+= 1
                devices[status.device] = info
                refreshNoDataRules(device: status.device)
            }
            devices[status.device]?.lastSeenMono = nowMono
        } else {
            var info = DeviceInfo(profile: status.profileID, family: status.family)
            info.tags = deviceTags[status.device] ?? [:]
            info.intervalMs = interval
            info.lastSeenMono = nowMono
            info.generation = 1
            devices[status.device] = info
            refreshNoDataRules(device: status.device)
        }
        // Data is back: no-data alerts of this device resolve; disarmed ones re-arm.
        guard let rulesForDevice = devices[status.device]?.noDataRules, !rulesForDevice.isEmpty else { return }
        for r in rulesForDevice {
            let key = StateKey(rule: r, device: status.device, metric: "")
            guard var st = states[key] else { continue }
            st.breaching = false
            st.lastSeenMono = nowMono
            switch st.phase {
            case .firing, .pending:
                states[key] = st
                _ = close(key, reason: "data", effects: &effects)
            case .disarmed:
                st.phase = .ok
                states[key] = st
                effects.changes.rearm.append((rules[Int(r)].id, status.device, ""))
            case .ok:
                states[key] = st
            }
        }
    }

    // MARK: Evaluation

    enum Verdict { case breach, clear, hold }

    mutating func evaluate(rule r: Int32, sample: Sample, nowMono: Int64, effects: inout Effects) {
        let key = StateKey(rule: r, device: sample.device, metric: sample.metric)
        let rule = rules[Int(r)]
        var st = states[key] ?? RuleState()
        st.lastSeenMono = nowMono
        let value = sample.value
        let verdict: Verdict
        if !value.isFinite || sample.quality == .bad {
            verdict = .hold
        } else {
            switch rule.condition {
            case .above(let level, let clear):
                verdict = value > level ? .breach : (value <= clear ? .clear : .hold)
            case .below(let level, let clear):
                verdict = value < level ? .breach : (value >= clear ? .clear : .hold)
            case .outside(let low, let high, let clearLow, let clearHigh):
                verdict = (value < low || value > high) ? .breach : ((value >= clearLow && value <= clearHigh) ? .clear : .hold)
            case .rate(let limit, let perMs, let direction):
                let t = sample.timeMs
                if st.previousTimeMs != .min, t > st.previousTimeMs, st.previousValue.isFinite {
                    let rate = (value - st.previousValue) / Double(t - st.previousTimeMs) * Double(perMs)
                    let fast = switch direction {
                    case .up: rate > limit
                    case .down: -rate > limit
                    case .both: abs(rate) > limit
                    }
                    verdict = fast ? .breach : .clear
                } else {
                    verdict = .hold
                }
                if t >= st.previousTimeMs || st.previousTimeMs == .min {
                    st.previousValue = value
                    st.previousTimeMs = t
                }
            case .stuck(let durationMs, let tolerance):
                if st.stuckValue.isNaN || abs(value - st.stuckValue) > tolerance {
                    st.stuckValue = value
                    st.stuckSinceMono = nowMono
                    verdict = .clear
                } else {
                    verdict = nowMono - st.stuckSinceMono >= durationMs ? .breach : .clear
                }
            case .event(let codes):
                verdict = codes.contains(Int(value.rounded())) ? .breach : .clear
            case .anomaly(let score, let clear):
                if st.detector == nil { st.detector = DetectorBox() }
                let s = st.detector!.detector.score(timeMs: sample.timeMs, value: value)
                verdict = s >= score ? .breach : (s < clear ? .clear : .hold)
            case .noData, .external:
                verdict = .hold
            }
        }
        states[key] = st
        apply(verdict, key: key, value: value, nowMono: nowMono, effects: &effects)
    }

    /// Moves a pair through its states on one verdict.
    mutating func apply(_ verdict: Verdict, key: StateKey, value: Double?, nowMono: Int64, effects: inout Effects) {
        guard var st = states[key] else { return }
        let rule = rules[Int(key.rule)]
        if verdict != .hold { st.breaching = verdict == .breach }
        switch st.phase {
        case .ok:
            guard verdict == .breach else { break }
            let id = nextAlertID
            nextAlertID += 1
            var alert = Alert(id: id, rule: rule.id, device: key.device, metric: key.metric, severity: rule.severity, state: .pending,
                              summary: rule.summary, kind: rule.condition.kind, value: value, startedMs: effects.wallMs)
            st.alertID = id
            st.pendingSinceMono = nowMono
            st.phase = .pending
            states[key] = st
            openAlerts[id] = alert
            byAlertID[id] = key
            open.insert(key)
            if rule.forMs <= 0 {
                fire(key, value: value, nowMono: nowMono, effects: &effects)
            } else {
                alert.lastValue = value
                effects.record(alert, event: nil, channels: rule.channels)
            }
            return
        case .pending:
            if verdict == .breach {
                openAlerts[st.alertID]?.lastValue = value
                states[key] = st
                if nowMono - st.pendingSinceMono >= rule.forMs { fire(key, value: value, nowMono: nowMono, effects: &effects) }
                return
            }
            // Anything short of a breach ends the wait: the condition did not hold for the whole duration.
            states[key] = st
            cancelPending(key, effects: &effects)
            return
        case .firing:
            if let value { openAlerts[st.alertID]?.lastValue = value }
            switch verdict {
            case .breach:
                st.clearSinceMono = nil
                states[key] = st
            case .clear:
                if isFlapping(st, rule: rule, nowMono: nowMono) {
                    if st.clearSinceMono == nil { st.clearSinceMono = nowMono }
                    states[key] = st
                    if nowMono - st.clearSinceMono! >= rule.flap.windowMs { _ = close(key, reason: "clear", effects: &effects) }
                } else {
                    states[key] = st
                    _ = close(key, reason: "clear", effects: &effects)
                }
            case .hold:
                states[key] = st
            }
            return
        case .disarmed:
            if verdict == .clear {
                st.phase = .ok
                effects.changes.rearm.append((rule.id, key.device, key.metric))
            }
        }
        states[key] = st
    }

    func isFlapping(_ st: RuleState, rule: AlertRule, nowMono: Int64) -> Bool {
        st.recentFirings.filter { nowMono - $0 < rule.flap.windowMs }.count >= rule.flap.maxFirings
    }

    mutating func fire(_ key: StateKey, value: Double?, nowMono: Int64, effects: inout Effects) {
        guard var st = states[key], var alert = openAlerts[st.alertID] else { return }
        let rule = rules[Int(key.rule)]
        st.phase = .firing
        st.firedMono = nowMono
        st.clearSinceMono = nil
        st.recentFirings = (st.recentFirings.filter { nowMono - $0 < rule.flap.windowMs } + [nowMono]).suffix(max(rule.flap.maxFirings, 1))
        states[key] = st
        alert.state = .firing
        alert.firedMs = effects.wallMs
        if let value { alert.value = value }
        openAlerts[alert.id] = alert
        effects.fired += 1
        effects.record(alert, event: .fired, channels: rule.channels)
    }

    mutating func cancelPending(_ key: StateKey, effects: inout Effects) {
        guard var st = states[key] else { return }
        openAlerts[st.alertID] = nil
        byAlertID[st.alertID] = nil
        effects.changes.deletes.append(st.alertID)
        st.phase = .ok
        st.alertID = 0
        states[key] = st
        open.remove(key)
    }

    /// Resolves the open alert of `key` (pending ones are resolved without an event: nothing was delivered).
    @discardableResult
    mutating func close(_ key: StateKey, reason: String, effects: inout Effects) -> Alert {
        guard var st = states[key], var alert = openAlerts[st.alertID] else {
            return openAlerts[states[key]?.alertID ?? 0] ?? Alert(id: 0, rule: "", device: "", metric: "", severity: .info, state: .resolved, summary: "", kind: "", value: nil, startedMs: 0)
        }
        let wasFiring = alert.state == .firing
        alert.state = .resolved
        alert.resolvedMs = effects.wallMs
        alert.resolvedBy = reason
        openAlerts[alert.id] = nil
        byAlertID[alert.id] = nil
        open.remove(key)
        st.phase = .ok
        st.alertID = 0
        st.clearSinceMono = nil
        states[key] = st
        if wasFiring { effects.resolved += 1 }
        effects.record(alert, event: wasFiring ? .resolved : nil, channels: rules[Int(key.rule)].channels)
        return alert
    }

    // MARK: Timers

    mutating func runTimers(nowMono: Int64, effects: inout Effects) {
        for key in open {
            guard let st = states[key] else { continue }
            let rule = rules[Int(key.rule)]
            switch st.phase {
            case .pending:
                if st.breaching, nowMono - st.pendingSinceMono >= rule.forMs {
                    fire(key, value: openAlerts[st.alertID]?.lastValue, nowMono: nowMono, effects: &effects)
                }
            case .firing:
                if let since = st.clearSinceMono, nowMono - since >= rule.flap.windowMs {
                    close(key, reason: "clear", effects: &effects)
                } else if let silence = rule.clearOnSilenceMs, !isNoData(rule), nowMono - st.lastSeenMono >= silence {
                    close(key, reason: "silence", effects: &effects)
                } else if let escalation = rule.escalation, var alert = openAlerts[st.alertID], !alert.acknowledged, !alert.escalated,
                          nowMono - st.firedMono >= escalation.afterMs {
                    alert.escalated = true
                    alert.severity = max(alert.severity, escalation.severity)
                    openAlerts[alert.id] = alert
                    var channels = rule.channels
                    if !channels.isEmpty { channels += escalation.channels.filter { !channels.contains($0) } }
                    effects.record(alert, event: .escalated, channels: channels)
                }
            case .ok, .disarmed:
                break
            }
        }
        guard !noDataRules.isEmpty else { return }
        for (device, info) in devices where !info.noDataRules.isEmpty {
            let silent = nowMono - info.lastSeenMono
            for r in info.noDataRules {
                guard case .noData(let factor, let minimumMs) = rules[Int(r)].condition else { continue }
                let limit = max(Int64(Double(info.intervalMs) * factor), minimumMs)
                guard silent >= limit else { continue }
                let key = StateKey(rule: r, device: device, metric: "")
                if states[key] == nil { states[key] = RuleState() }
                guard let phase = states[key]?.phase, phase == .ok || phase == .pending else { continue }
                // The breach began when the limit passed; `for:` counts from there.
                if phase == .ok {
                    apply(.breach, key: key, value: nil, nowMono: nowMono, effects: &effects)
                    if states[key]?.phase == .pending { states[key]?.pendingSinceMono = info.lastSeenMono + limit }
                }
                if let st = states[key], st.phase == .pending, nowMono - st.pendingSinceMono >= rules[Int(r)].forMs {
                    fire(key, value: nil, nowMono: nowMono, effects: &effects)
                }
            }
        }
    }

    func isNoData(_ rule: AlertRule) -> Bool {
        if case .noData = rule.condition { return true }
        return false
    }

    // MARK: Reload

    mutating func replaceRules(_ set: RuleSet, effects: inout Effects) {
        let oldRules = rules
        rules = set.rules + systemRules
        deviceTags = set.deviceTags
        indexRules()
        var newStates: [StateKey: RuleState] = [:]
        var newOpen: Set<StateKey> = []
        var newByID: [Int64: StateKey] = [:]
        var removed: [(StateKey, RuleState)] = []
        for (key, st) in states {
            let id = oldRules[Int(key.rule)].id
            if let r = ruleIndex[id] {
                let k = StateKey(rule: r, device: key.device, metric: key.metric)
                newStates[k] = st
                if open.contains(key) { newOpen.insert(k) }
                if st.alertID != 0 { newByID[st.alertID] = k }
            } else if st.alertID != 0 {
                removed.append((key, st))
            }
        }
        for (key, st) in removed {
            guard var alert = openAlerts[st.alertID] else { continue }
            let wasFiring = alert.state == .firing
            alert.state = .resolved
            alert.resolvedMs = effects.wallMs
            alert.resolvedBy = "rule-removed"
            openAlerts[st.alertID] = nil
            if wasFiring { effects.resolved += 1 }
            effects.record(alert, event: wasFiring ? .resolved : nil, channels: oldRules[Int(key.rule)].channels)
        }
        states = newStates
        open = newOpen
        byAlertID = newByID
        for device in Array(devices.keys) {
            devices[device]?.tags = deviceTags[device] ?? [:]
            devices[device]?.generation &+= 1
            refreshNoDataRules(device: device)
        }
    }
}
