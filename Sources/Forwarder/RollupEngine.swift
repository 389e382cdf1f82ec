import GatewayCore

/// The rollup arithmetic and window bookkeeping, without locks or I/O: `RollupStage` owns one behind a mutex and
/// calls it once per batch.
///
/// ## Time and the watermark
/// A sample is filed under its `timeMs` (device time, else receive time). The engine keeps one clock: the largest
/// `min(timeMs, receiveTimeMs)` seen, so a device whose clock runs ahead cannot push it past the gateway's own wall
/// clock. When no data arrives the clock is extrapolated by the monotonic time since it last advanced (`tick`), so
/// the last windows of a quiet period still close, and a wall-clock jump cannot close windows early.
/// For each window size the watermark is `clock - lateness`; a window `[start, start + size)` closes once the
/// watermark reaches its end.
///
/// ## Late samples
/// A sample whose window has already reached the watermark is late: it is counted per window size and dropped
/// (other window sizes may still take it). A correction would have to re-send the window with its earlier samples,
/// which are gone once emitted. Samples of quality `bad` and non-finite values are skipped and counted too.
struct RollupEngine {
    /// Configured windows, smallest first.
    let windows: [RollupWindow]
    private(set) var series: [SeriesKey: SeriesRollup] = [:]
    /// The engine's clock (Unix ms); `Int64.min` before the first sample.
    private(set) var clockMs: Int64 = .min
    /// Earliest time at which some open window closes.
    private var nextCloseMs: Int64 = .max
    /// Series whose open windows changed since the last checkpoint (may repeat; deduplicated when taken).
    private var dirtyKeys: [SeriesKey] = []
    private var markClockMs: Int64 = .min
    private var markMonotonicNs: UInt64 = 0
    /// Samples accepted into at least one window.
    private(set) var accepted = 0
    /// Samples skipped (quality bad, NaN or infinite).
    private(set) var skipped = 0
    /// Late samples per window (same order as `windows`).
    private(set) var late: [Int]

    init(windows: [RollupWindow]) {
        precondition(!windows.isEmpty, "at least one rollup window")
        self.windows = windows.sorted()
        self.late = Array(repeating: 0, count: windows.count)
    }

    /// Open series (those with at least one open window).
    var seriesCount: Int { series.count }

    /// Adds samples; `monotonicNs` is taken once per batch by the caller.
    mutating func add(_ samples: [Sample], monotonicNs: UInt64) {
        let before = clockMs
        for s in samples {
            guard s.value.isFinite, s.quality != .bad else {
                skipped += 1
                continue
            }
            let t = s.timeMs
            let c = min(t, s.receiveTimeMs)
            if c > clockMs { clockMs = c }
            let key = SeriesKey(device: s.device, metric: s.metric)
            let state: SeriesRollup
            var created = false
            if let existing = series[key] {
                state = existing
            } else {
                state = SeriesRollup(device: s.device, metric: s.metric, unit: s.unit, windowCount: windows.count)
                created = true
            }
            var took = false
            for i in 0..<windows.count {
                let w = windows[i]
                let start = w.start(of: t)
                let closesAt = start + w.sizeMs + w.latenessMs
                if closesAt <= clockMs {
                    late[i] += 1
                    continue
                }
                state.add(window: i, startMs: start, value: s.value, timeMs: t)
                if closesAt < nextCloseMs { nextCloseMs = closesAt }
                took = true
            }
            guard took else { continue }
            accepted += 1
            if state.unit != s.unit, !s.unit.isEmpty { state.unit = s.unit }
            if created { series[key] = state }
            if !state.dirty {
                state.dirty = true
                dirtyKeys.append(key)
            }
        }
        if clockMs > before {
            markClockMs = clockMs
            markMonotonicNs = monotonicNs
        }
    }

    /// Advances the clock by the monotonic time since data last advanced it.
    mutating func tick(monotonicNs: UInt64) {
        guard markClockMs != .min, monotonicNs > markMonotonicNs else { return }
        let extrapolated = markClockMs + Int64((monotonicNs - markMonotonicNs) / 1_000_000)
        if extrapolated > clockMs { clockMs = extrapolated }
    }

    /// Sets the clock directly (tests, restore).
    mutating func setClock(_ ms: Int64, monotonicNs: UInt64) {
        clockMs = ms
        markClockMs = ms
        markMonotonicNs = monotonicNs
    }

    /// Emits every window whose watermark has passed, series by series in start order.
    mutating func closeDue() -> [RollupPoint] {
        guard clockMs >= nextCloseMs else { return [] }
        var out: [RollupPoint] = []
        var next = Int64.max
        var emptied: [SeriesKey] = []
        for (key, state) in series {
            var changed = false
            for i in 0..<windows.count where !state.open[i].isEmpty {
                let w = windows[i]
                var keep = 0
                for acc in state.open[i] {
                    let closesAt = acc.startMs + w.sizeMs + w.latenessMs
                    if closesAt <= clockMs {
                        out.append(RollupPoint(device: state.device, metric: state.metric, unit: state.unit, windowMs: w.sizeMs, startMs: acc.startMs,
                                               count: acc.count, min: acc.min, max: acc.max, sum: acc.sum, last: acc.last))
                        changed = true
                    } else {
                        state.open[i][keep] = acc
                        keep += 1
                        if closesAt < next { next = closesAt }
                    }
                }
                state.open[i].removeLast(state.open[i].count - keep)
            }
            if changed {
                if !state.dirty {
                    state.dirty = true
                    dirtyKeys.append(key)
                }
                if state.isEmpty { emptied.append(key) }
            }
        }
        for key in emptied { series.removeValue(forKey: key) }
        nextCloseMs = next
        return out
    }

    /// The series changed since the last call: current state to upsert, or nil to delete (no window open).
    mutating func takeCheckpoint() -> [(key: SeriesKey, state: [UInt8]?)] {
        guard !dirtyKeys.isEmpty else { return [] }
        var seen = Set<SeriesKey>()
        var out: [(key: SeriesKey, state: [UInt8]?)] = []
        out.reserveCapacity(dirtyKeys.count)
        for key in dirtyKeys where seen.insert(key).inserted {
            if let state = series[key] {
                state.dirty = false
                out.append((key, state.encode(windows: windows)))
            } else {
                out.append((key, nil))
            }
        }
        dirtyKeys.removeAll(keepingCapacity: true)
        return out
    }

    /// Marks series dirty again after a checkpoint could not be written.
    mutating func redirty(_ keys: [SeriesKey]) {
        for key in keys {
            if let state = series[key] { state.dirty = true }
            dirtyKeys.append(key)
        }
    }

    /// Restores one series from a checkpoint row; windows no longer configured are dropped.
    mutating func restore(_ bytes: [UInt8]) {
        guard let state = SeriesRollup.decode(bytes, windows: windows), !state.isEmpty else { return }
        series[SeriesKey(device: state.device, metric: state.metric)] = state
        for i in 0..<windows.count {
            for acc in state.open[i] {
                let closesAt = acc.startMs + windows[i].sizeMs + windows[i].latenessMs
                if closesAt < nextCloseMs { nextCloseMs = closesAt }
            }
        }
    }
}

/// A series' identity inside the engine.
struct SeriesKey: Hashable, Sendable {
    var device: String
    var metric: String

    /// The checkpoint table's key: device, NUL, metric.
    var storageKey: String { device + "\u{0}" + metric }
}

/// One window's running aggregate.
struct Accumulator: Hashable, Sendable {
    var startMs: Int64
    var count: Int
    var sum: Double
    var min: Double
    var max: Double
    var last: Double
    var lastTimeMs: Int64

    init(startMs: Int64, value: Double, timeMs: Int64) {
        self.startMs = startMs
        count = 1
        sum = value
        min = value
        max = value
        last = value
        lastTimeMs = timeMs
    }

    @inline(__always)
    mutating func add(_ value: Double, timeMs: Int64) {
        count += 1
        sum += value
        if value < min { min = value }
        if value > max { max = value }
        if timeMs >= lastTimeMs {
            last = value
            lastTimeMs = timeMs
        }
    }
}

/// The open windows of one series. A class so the engine mutates it in place after one dictionary lookup.
final class SeriesRollup {
    let device: String
    let metric: String
    var unit: String
    /// Per window size: open windows in start order (usually one, two while a window waits for its lateness).
    var open: [[Accumulator]]
    var dirty = false

    init(device: String, metric: String, unit: String, windowCount: Int) {
        self.device = device
        self.metric = metric
        self.unit = unit
        self.open = Array(repeating: [], count: windowCount)
    }

    var isEmpty: Bool { open.allSatisfy(\.isEmpty) }

    @inline(__always)
    func add(window i: Int, startMs: Int64, value: Double, timeMs: Int64) {
        // Nearly always the newest window: search from the back.
        var j = open[i].count - 1
        while j >= 0 {
            let s = open[i][j].startMs
            if s == startMs {
                open[i][j].add(value, timeMs: timeMs)
                return
            }
            if s < startMs { break }
            j -= 1
        }
        open[i].insert(Accumulator(startMs: startMs, value: value, timeMs: timeMs), at: j + 1)
    }

    /// Checkpoint encoding: device, metric, unit, then per open window its size and aggregate.
    func encode(windows: [RollupWindow]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + 64 * open.count)
        ByteCoding.appendString(device, to: &out)
        ByteCoding.appendString(metric, to: &out)
        ByteCoding.appendString(unit, to: &out)
        ByteCoding.appendVarint(UInt64(open.reduce(0) { $0 + $1.count }), to: &out)
        for (i, list) in open.enumerated() {
            for a in list {
                ByteCoding.appendSigned(windows[i].sizeMs, to: &out)
                ByteCoding.appendSigned(a.startMs, to: &out)
                ByteCoding.appendVarint(UInt64(a.count), to: &out)
                ByteCoding.appendDouble(a.sum, to: &out)
                ByteCoding.appendDouble(a.min, to: &out)
                ByteCoding.appendDouble(a.max, to: &out)
                ByteCoding.appendDouble(a.last, to: &out)
                ByteCoding.appendSigned(a.lastTimeMs, to: &out)
            }
        }
        return out
    }

    static func decode(_ bytes: [UInt8], windows: [RollupWindow]) -> SeriesRollup? {
        var r = ByteReader(bytes)
        guard let device = r.string(), let metric = r.string(), let unit = r.string(), let n = r.varint() else { return nil }
        let state = SeriesRollup(device: device, metric: metric, unit: unit, windowCount: windows.count)
        for _ in 0..<n {
            guard let size = r.signed(), let start = r.signed(), let count = r.varint(), let sum = r.double(), let mn = r.double(), let mx = r.double(),
                  let last = r.double(), let lastTime = r.signed() else { return nil }
            guard let i = windows.firstIndex(where: { $0.sizeMs == size }) else { continue }
            var a = Accumulator(startMs: start, value: last, timeMs: lastTime)
            a.count = Int(count)
            a.sum = sum
            a.min = mn
            a.max = mx
            state.open[i].append(a)
        }
        for i in 0..<windows.count { state.open[i].sort { $0.startMs < $1.startMs } }
        return state
    }
}
