import GatewayCore
import Synchronization

/// The rollup stage of the pipeline: a `SampleSink` that folds every batch into per-series windows.
///
/// `accept` takes the stage's lock once per batch and does a dictionary lookup and a few additions per sample:
/// no I/O, no allocation for a series already open. Closing windows and taking the checkpoint happen in `cut`,
/// which `ForwarderService` calls every flush interval, so the pipeline never waits for a scan or the disk.
public final class RollupStage: SampleSink, Sendable {
    private struct State {
        var engine: RollupEngine
        /// Points of a cut whose commit failed: they go out with the next cut.
        var carried: [RollupPoint] = []
    }

    private let state: Mutex<State>
    /// The configured windows, smallest first.
    public let windows: [RollupWindow]

    /// Creates a stage over `windows`.
    public init(windows: [RollupWindow]) {
        let engine = RollupEngine(windows: windows)
        self.windows = engine.windows
        self.state = Mutex(State(engine: engine))
    }

    /// Folds the batch's samples into their windows.
    public func accept(_ batch: SampleBatch) async throws {
        guard !batch.samples.isEmpty else { return }
        let now = MonotonicClock.nowNs()
        state.withLock { $0.engine.add(batch.samples, monotonicNs: now) }
    }

    /// Folds samples in synchronously (tests, benchmarks).
    public func add(_ samples: [Sample], monotonicNs: UInt64 = MonotonicClock.nowNs()) {
        state.withLock { $0.engine.add(samples, monotonicNs: monotonicNs) }
    }

    /// What a flush writes: the windows closed since the last cut and the open windows that changed, taken at one
    /// instant so that committing them together is a consistent cut.
    public struct Cut: Sendable {
        /// Closed windows, in emission order.
        public var points: [RollupPoint]
        /// Changed series: checkpoint key and state (nil: no window open any more).
        public var checkpoint: [(key: String, state: [UInt8]?)]
        /// The rollup clock.
        public var clockMs: Int64?
    }

    /// Advances the clock by idle time, closes due windows and takes the checkpoint of what changed.
    public func cut(monotonicNs: UInt64 = MonotonicClock.nowNs()) -> Cut {
        state.withLock { s in
            s.engine.tick(monotonicNs: monotonicNs)
            var points = s.carried
            s.carried = []
            points += s.engine.closeDue()
            let checkpoint = s.engine.takeCheckpoint().map { (key: $0.key.storageKey, state: $0.state) }
            return Cut(points: points, checkpoint: checkpoint, clockMs: s.engine.clockMs == .min ? nil : s.engine.clockMs)
        }
    }

    /// Takes a cut back after its commit failed: its points go out with the next cut, its series are written again.
    public func restore(failed cut: Cut) {
        state.withLock { s in
            s.carried = cut.points + s.carried
            s.engine.redirty(cut.checkpoint.map { entry in
                let parts = entry.key.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
                return SeriesKey(device: String(parts.first ?? ""), metric: parts.count > 1 ? String(parts[1]) : "")
            })
        }
    }

    /// Loads the open windows and the clock an outbox saved (at start, before any batch).
    public func restore(clockMs: Int64?, series: [[UInt8]], monotonicNs: UInt64 = MonotonicClock.nowNs()) {
        state.withLock { s in
            if let clockMs { s.engine.setClock(clockMs, monotonicNs: monotonicNs) }
            for bytes in series { s.engine.restore(bytes) }
        }
    }

    /// Counters since start.
    public var statistics: RollupStatistics {
        state.withLock { s in
            RollupStatistics(accepted: s.engine.accepted, skipped: s.engine.skipped, late: Dictionary(uniqueKeysWithValues: zip(windows.map(\.sizeMs), s.engine.late)),
                             openSeries: s.engine.seriesCount, clockMs: s.engine.clockMs == .min ? nil : s.engine.clockMs)
        }
    }
}

/// The rollup stage's counters.
public struct RollupStatistics: Sendable, Hashable {
    /// Samples folded into at least one window.
    public var accepted: Int
    /// Samples skipped: quality `bad`, NaN or infinite.
    public var skipped: Int
    /// Late samples dropped, per window size (ms).
    public var late: [Int64: Int]
    /// Series with an open window.
    public var openSeries: Int
    /// The rollup clock (Unix ms).
    public var clockMs: Int64?
}
