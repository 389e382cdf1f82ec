import GatewayCore
import Logging
import Synchronization
@testable import PushIngest

/// A `DurableIngest` that records what it is given and answers as told.
final class FakeDurableIngest: DurableIngest {
    enum Mode: Sendable { case store, unavailable, deadLetterFails }

    private let state = Mutex<(messages: [RawMessage], letters: [DeadLetter], calls: Int)>(([], [], 0))
    let mode: Mutex<Mode>

    init(_ mode: Mode = .store) { self.mode = Mutex(mode) }

    var messages: [RawMessage] { state.withLock { $0.messages } }
    var letters: [DeadLetter] { state.withLock { $0.letters } }
    var ingestCalls: Int { state.withLock { $0.calls } }

    func ingest(_ messages: [RawMessage]) async -> [IngestOutcome] {
        let mode = self.mode.withLock { $0 }
        state.withLock { $0.calls += 1 }
        if mode == .unavailable { return messages.map { _ in .unavailable("store refused") } }
        state.withLock { $0.messages += messages }
        return messages.map { _ in .stored(samples: 1) }
    }

    func deadLetter(_ letter: DeadLetter) async -> Bool {
        if mode.withLock({ $0 }) == .deadLetterFails { return false }
        state.withLock { $0.letters.append(letter) }
        return true
    }
}

/// A monotonic clock the test moves by hand.
final class ManualClock: Sendable {
    private let ns = Atomic<UInt64>(1_000_000_000)
    func advance(seconds: UInt64) { ns.add(seconds * 1_000_000_000, ordering: .relaxed) }
    var now: UInt64 { ns.load(ordering: .relaxed) }
}

let quietLogger: Logger = {
    var l = Logger(label: "test.push")
    l.logLevel = .critical
    return l
}()

/// A receiver with a fixed wall clock (receive time 1_700_000_000_000) and a manual monotonic clock.
func makeReceiver(
    _ ingest: FakeDurableIngest, configuration: PushConfiguration = PushConfiguration(onenet: .init(token: Fixtures.onenetToken)),
    clock: ManualClock = ManualClock()
) -> PushReceiver {
    PushReceiver(configuration: configuration, ingest: ingest, logger: quietLogger, wallClockMs: { 1_700_000_000_000 }, monotonicNs: { clock.now })
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

func hex(_ b: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(b.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
}
