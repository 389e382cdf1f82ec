@testable import Alerts
import GatewayCore
import Logging
import Synchronization

/// A clock the test moves by hand; the wall clock can jump independently of the monotonic one.
final class ManualClock: AlertClock {
    let state = Mutex((mono: Int64(1_000_000), wall: Int64(1_700_000_000_000)))
    func monotonicMs() -> Int64 { state.withLock { $0.mono } }
    func wallMs() -> Int64 { state.withLock { $0.wall } }
    /// Both clocks move forward.
    func advance(ms: Int64) { state.withLock { $0.mono += ms; $0.wall += ms } }
    /// Only the wall clock jumps.
    func jumpWall(ms: Int64) { state.withLock { $0.wall += ms } }
}

/// Collects delivered events.
final class EventLog: Sendable {
    let events = Mutex<[AlertEvent]>([])
    var all: [AlertEvent] { events.withLock { $0 } }
    func kinds() -> [AlertEvent.Kind] { all.map(\.kind) }
    var onEvents: @Sendable ([AlertEvent]) -> Void { { [self] e in events.withLock { $0 += e } } }
}

func rules(_ yaml: String) throws -> RuleSet {
    try RuleSet.parse(files: [("test.yaml", yaml)])
}

func quietLogger() -> Logger {
    var l = Logger(label: "test")
    l.logLevel = .critical
    return l
}

struct EngineFixture {
    let time: ManualClock
    let log = EventLog()
    let store: AlertStore
    let engine: AlertEngine

    init(_ yaml: String, store: AlertStore? = nil, clock: ManualClock? = nil) throws {
        let s = try store ?? AlertStore(path: ":memory:")
        self.store = s
        let c = clock ?? ManualClock()
        time = c
        engine = try AlertEngine(rules: try rules(yaml), store: s, clock: c, logger: quietLogger(), onEvents: log.onEvents)
    }

    /// Feeds one sample (with a status for its device) and advances the clocks by `after` first.
    func feed(_ value: Double, device: String = "d1", metric: String = "m", after: Int64 = 0, profile: String = "p", family: String = "neuron",
              interval: Int? = 60, timeMs: Int64? = nil) {
        if after > 0 { time.advance(ms: after) }
        var batch = SampleBatch()
        batch.samples = [Sample(device: device, metric: metric, receiveTimeMs: timeMs ?? time.wallMs(), value: value)]
        batch.statuses = [DeviceStatus(device: device, profileID: profile, profileVersion: 1, family: family, reportIntervalSeconds: interval, seenMs: time.wallMs())]
        batch.messageCount = 1
        engine.process(batch)
    }

    func tick(after: Int64) {
        time.advance(ms: after)
        engine.tick()
    }
}
