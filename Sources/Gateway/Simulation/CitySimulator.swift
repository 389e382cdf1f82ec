import Foundation

/// A deterministic smart-city simulator: every shipped device profile's model, many devices each, reporting on
/// their own schedules with values on a daily cycle, in exactly the wire format the profile decodes.
///
/// - Same `seed` (and the same calls) give the same messages, byte for byte.
/// - Values depend only on the seed, the device and the simulated time, so `message(for:device:atMs:kind:)`
///   agrees with `tick(atMs:)`, and counters (energy registers, streetlight Wh) only grow with time.
/// - Each device reports every `intervalMs(for:)` on its own phase, so reports spread over the interval.
///   `tick` hands out the messages that fell due since the previous tick; a device that missed several slots
///   (the caller ticked rarely) reports once, for its latest slot, as a real device would not replay backlog.
///
/// Not thread-safe by itself (a value type with `mutating` methods): give each producer its own copy.
public struct CitySimulator: Sendable {
    /// Normal, anomaly or malformed.
    public typealias Kind = SimulatedMessage.Kind

    /// Every profile id the simulator can generate, sorted.
    public static let supportedModels: [String] = SimModel.allCases.map(\.rawValue).sorted()

    /// MQTT subscription filters covering the topics of `unknownTopic` malformed messages (no profile claims
    /// them, so a gateway subscribed only to its profiles' filters would never see them). Subscribe to these as
    /// well to have those messages reach the dead-letter store as `no_profile`.
    public static let unroutedTopicFilters: [String] = SimModel.allCases.map { $0.subscriptionFilter + SimModel.unroutedSuffix }.sorted()

    /// The demo reporting interval every model starts with.
    public static let defaultIntervalMs: Int64 = 60_000

    /// Each model's `report_interval` from its shipped profile (ms), for a realistic rather than demo cadence.
    public static var profileReportIntervalsMs: [String: Int64] {
        Dictionary(uniqueKeysWithValues: SimModel.allCases.map { ($0.rawValue, $0.profileIntervalSeconds * 1000) })
    }

    /// Devices simulated for each model.
    public let devicesPerModel: Int
    /// The seed every value derives from.
    public let seed: UInt64
    /// Chance that a scheduled report is an anomaly.
    public var anomalyProbability: Double
    /// Chance that a scheduled report is malformed.
    public var malformedProbability: Double
    /// Multiplies every model's interval: 0.01 makes devices report 100 times as often (for demos).
    /// Changing it mid-run reschedules every device from the last tick on.
    public var intervalScale: Double = 1 {
        didSet { rescheduleIfStarted() }
    }
    /// The city's offset from UTC (seconds), for the daily cycles (night, rush hours). Default China, +08:00.
    public var utcOffsetSeconds: Int = 8 * 3600

    let simModels: [SimModel]
    var baseIntervalsMs: [Int64]
    let devices: [SimDevice]

    // Schedule: a binary min-heap of (due time, device slot).
    var heap: [(due: Int64, slot: Int32)] = []
    var started = false
    var lastTickMs: Int64 = .min
    // Rotation of malformed variants.
    var malformedCounter = 0

    /// Creates a simulator.
    /// - Parameters:
    ///   - devicesPerModel: devices per model (ids stay stable per index; unique up to 1,000,000 per model).
    ///   - seed: every value derives from it.
    ///   - anomalyProbability: chance a scheduled report is an anomaly.
    ///   - malformedProbability: chance a scheduled report is malformed.
    ///   - models: profile ids to simulate (nil = all of `supportedModels`). Unknown ids are a programming error.
    public init(
        devicesPerModel: Int, seed: UInt64, anomalyProbability: Double = 0.01, malformedProbability: Double = 0.005,
        models: [String]? = nil
    ) {
        precondition(devicesPerModel >= 0, "devicesPerModel must not be negative")
        self.devicesPerModel = devicesPerModel
        self.seed = seed
        self.anomalyProbability = anomalyProbability
        self.malformedProbability = malformedProbability
        var chosen: [SimModel] = []
        for id in models ?? CitySimulator.supportedModels {
            guard let m = SimModel(rawValue: id) else {
                preconditionFailure("CitySimulator has no generator for model '\(id)'; known: \(CitySimulator.supportedModels.joined(separator: ", "))")
            }
            if !chosen.contains(m) { chosen.append(m) }
        }
        simModels = chosen
        baseIntervalsMs = Array(repeating: CitySimulator.defaultIntervalMs, count: chosen.count)
        var devices: [SimDevice] = []
        devices.reserveCapacity(chosen.count * devicesPerModel)
        for m in chosen {
            let modelKey = SimRNG.mix(seed ^ SimRNG.hash(m.rawValue))
            for i in 0..<devicesPerModel { devices.append(m.makeDevice(modelKey: modelKey, index: i)) }
        }
        self.devices = devices
    }

    /// Total simulated devices.
    public var deviceCount: Int { devices.count }

    /// The simulated models' profile ids, in the order given (or sorted when all).
    public var models: [String] { simModels.map(\.rawValue) }

    /// Sets a model's base interval (before `intervalScale`).
    public mutating func setInterval(ms: Int64, for model: String) {
        precondition(ms > 0, "interval must be positive")
        guard let i = modelIndex(model) else { preconditionFailure("model '\(model)' is not simulated") }
        baseIntervalsMs[i] = ms
        rescheduleIfStarted()
    }

    /// Uses each profile's own `report_interval` as the base interval (24 h parking heartbeats, 10 min farm
    /// sensors, 5 min chargers, ...).
    public mutating func useProfileReportIntervals() {
        for (i, m) in simModels.enumerated() { baseIntervalsMs[i] = m.profileIntervalSeconds * 1000 }
        rescheduleIfStarted()
    }

    /// The effective interval of a model (ms, after `intervalScale`).
    public func intervalMs(for model: String) -> Int64 {
        guard let i = modelIndex(model) else { preconditionFailure("model '\(model)' is not simulated") }
        return effectiveInterval(i)
    }

    /// The device id that device `index` of `model` reports as.
    public func deviceID(for model: String, device index: Int) -> String {
        guard let i = modelIndex(model) else { preconditionFailure("model '\(model)' is not simulated") }
        precondition(index >= 0 && index < devicesPerModel, "device index \(index) out of range")
        return devices[i * devicesPerModel + index].id
    }

    /// Expected messages per simulated hour, over all devices, at the current intervals.
    public var expectedMessagesPerHour: Double {
        var total = 0.0
        for i in simModels.indices { total += Double(devicesPerModel) * 3_600_000 / Double(effectiveInterval(i)) }
        return total
    }

    // MARK: generating

    /// The messages due since the previous tick, up to and including `atMs` (Unix ms on the simulated clock),
    /// in time order. The first call starts the schedule: only devices whose slot falls exactly on `atMs` report.
    public mutating func tick(atMs: Int64) -> [SimulatedMessage] {
        if !started { startSchedule(atMs: atMs) }
        lastTickMs = max(lastTickMs, atMs)
        var out: [SimulatedMessage] = []
        while let top = heap.first, top.due <= atMs {
            let slot = Int(top.slot)
            let modelIdx = slot / max(devicesPerModel, 1)
            let interval = effectiveInterval(modelIdx)
            let phase = phaseMs(slot, interval)
            // Latest slot on the grid at or before atMs (coalesces missed slots into one report).
            let latest = SimTime.floorDiv(atMs - phase, interval) * interval + phase
            let due = max(top.due, latest)
            let dev = devices[slot]
            let u = SimRNG.unit(dev.key ^ SimRNG.mix(UInt64(bitPattern: due) &+ 0x4B1D))
            let kind: Kind = u < anomalyProbability ? .anomaly : (u < anomalyProbability + malformedProbability ? .malformed : .normal)
            out.append(generate(modelIdx: modelIdx, dev: dev, atMs: due, kind: kind))
            heap[0].due = due + interval
            siftDown(0)
        }
        return out
    }

    /// One message for device `index` of `model` at `atMs`, of the given kind (for benchmarks and tests).
    /// Malformed messages rotate through `SimulatedMessage.Malformation` on successive calls.
    public mutating func message(for model: String, device index: Int, atMs: Int64, kind: Kind) -> SimulatedMessage {
        guard let i = modelIndex(model) else { preconditionFailure("model '\(model)' is not simulated") }
        precondition(index >= 0 && index < devicesPerModel, "device index \(index) out of range")
        return generate(modelIdx: i, dev: devices[i * devicesPerModel + index], atMs: atMs, kind: kind)
    }

    /// One malformed message broken in a chosen way (the variant may fall back to `corrupted` for raw binary
    /// models asked for `badEncoding`; `malformation` on the result says what was applied).
    public func malformedMessage(for model: String, device index: Int, atMs: Int64, as variant: SimulatedMessage.Malformation) -> SimulatedMessage {
        guard let i = modelIndex(model) else { preconditionFailure("model '\(model)' is not simulated") }
        precondition(index >= 0 && index < devicesPerModel, "device index \(index) out of range")
        let dev = devices[i * devicesPerModel + index]
        var ctx = context(modelIdx: i, dev: dev, atMs: atMs, salt: 0x6D61_6C66)
        let m = simModels[i]
        let base = m.generate(dev: dev, ctx: &ctx, anomaly: false)
        let (broken, applied) = m.malform(base, dev: dev, ctx: &ctx, variant: variant)
        return SimulatedMessage(topic: broken.topic, payload: broken.payload, model: m.rawValue, device: dev.id,
                                kind: .malformed, timeMs: atMs, malformation: applied)
    }

    // MARK: internals

    func modelIndex(_ model: String) -> Int? { simModels.firstIndex { $0.rawValue == model } }

    @inline(__always)
    func effectiveInterval(_ modelIdx: Int) -> Int64 {
        max(1, Int64((Double(baseIntervalsMs[modelIdx]) * intervalScale).rounded()))
    }

    @inline(__always)
    func phaseMs(_ slot: Int, _ interval: Int64) -> Int64 {
        min(interval - 1, Int64(devices[slot].phase * Double(interval)))
    }

    func context(modelIdx: Int, dev: SimDevice, atMs: Int64, salt: UInt64) -> SimContext {
        SimContext(
            clock: SimClock(atMs, offsetSeconds: Int64(utcOffsetSeconds)), intervalMs: effectiveInterval(modelIdx),
            offsetSeconds: Int64(utcOffsetSeconds), rng: SimRNG(dev.key, UInt64(bitPattern: atMs), salt))
    }

    mutating func generate(modelIdx: Int, dev: SimDevice, atMs: Int64, kind: Kind) -> SimulatedMessage {
        let m = simModels[modelIdx]
        var ctx = context(modelIdx: modelIdx, dev: dev, atMs: atMs, salt: 0x5EED)
        let out = m.generate(dev: dev, ctx: &ctx, anomaly: kind == .anomaly)
        guard kind == .malformed else {
            return SimulatedMessage(topic: out.topic, payload: out.payload, model: m.rawValue, device: dev.id, kind: kind, timeMs: atMs)
        }
        let all = SimulatedMessage.Malformation.allCases
        let variant = all[malformedCounter % all.count]
        malformedCounter &+= 1
        let (broken, applied) = m.malform(out, dev: dev, ctx: &ctx, variant: variant)
        return SimulatedMessage(topic: broken.topic, payload: broken.payload, model: m.rawValue, device: dev.id,
                                kind: .malformed, timeMs: atMs, malformation: applied)
    }

    /// After an interval change: every device moves to its first slot on the new grid after the last tick.
    mutating func rescheduleIfStarted() {
        if started { startSchedule(atMs: lastTickMs &+ 1) }
    }

    mutating func startSchedule(atMs: Int64) {
        started = true
        heap.removeAll(keepingCapacity: true)
        heap.reserveCapacity(devices.count)
        for slot in devices.indices {
            let interval = effectiveInterval(slot / max(devicesPerModel, 1))
            let phase = phaseMs(slot, interval)
            // First slot on the device's grid at or after atMs.
            let k = SimTime.floorDiv(atMs - phase - 1, interval) + 1
            heap.append((k * interval + phase, Int32(slot)))
        }
        var i = heap.count / 2 - 1
        while i >= 0 {
            siftDown(i)
            i -= 1
        }
    }

    @inline(__always)
    static func less(_ a: (due: Int64, slot: Int32), _ b: (due: Int64, slot: Int32)) -> Bool {
        a.due != b.due ? a.due < b.due : a.slot < b.slot
    }

    mutating func siftDown(_ start: Int) {
        var i = start
        let n = heap.count
        while true {
            let l = 2 * i + 1
            if l >= n { return }
            var m = l
            let r = l + 1
            if r < n, CitySimulator.less(heap[r], heap[l]) { m = r }
            if CitySimulator.less(heap[m], heap[i]) {
                heap.swapAt(m, i)
                i = m
            } else {
                return
            }
        }
    }
}

/// One simulated device: identity computed once, values computed per message.
struct SimDevice: Sendable {
    /// Per-device hash every value derives from.
    let key: UInt64
    /// Index within its model.
    let index: Int
    /// The id the profile decodes the device to.
    let id: String
    /// Its uplink topic.
    let topic: String
    /// Phase of its reports within the interval, 0 ..< 1.
    let phase: Double
    /// Model-specific variant (firmware generation, GPS, device type, vendor ...).
    let variant: Int
    /// Model-specific strings (IMSI, ICCID, serial, platform ids ...).
    let extra: [String]

    /// A stable per-device uniform value in [lo, hi) for a named trait.
    @inline(__always)
    func trait(_ salt: UInt64, _ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * SimRNG.unit(key ^ SimRNG.mix(salt))
    }
}

/// What one generation step needs.
struct SimContext {
    let clock: SimClock
    let intervalMs: Int64
    let offsetSeconds: Int64
    var rng: SimRNG

    var t: Int64 { clock.t }

    /// The clock one interval earlier (the device's previous report).
    var previous: SimClock { SimClock(clock.t - intervalMs, offsetSeconds: offsetSeconds) }

    func clock(at t: Int64) -> SimClock { SimClock(t, offsetSeconds: offsetSeconds) }
}

/// A generated topic and payload.
struct SimOutput {
    var topic: String
    var payload: [UInt8]
}
