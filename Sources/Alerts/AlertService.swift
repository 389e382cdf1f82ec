import GatewayCore
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Runs the alert engine's timers and one delivery worker per channel, as a `Service` of the gateway's group.
///
/// Each worker reads the durable event log after its own cursor, delivers in order, and moves the cursor only
/// after the receiver acknowledged; failures back off exponentially (capped, with jitter) and retry the same
/// events, across restarts too. A dead receiver holds back only its own channel — never ingest, never the other
/// channels. The live feed is told of events at once by the engine (it is not durable).
public final class AlertService: Service, Sendable {
    /// Settings.
    public struct Configuration: Sendable, Hashable {
        /// How often timers run.
        public var tickInterval: Duration = .seconds(1)
        /// How often pending durations are saved.
        public var saveInterval: Duration = .seconds(5)
        /// Events per delivery attempt.
        public var batchSize = 100
        /// First retry delay.
        public var retryInitial: Duration = .milliseconds(500)
        /// Longest retry delay.
        public var retryMax: Duration = .seconds(60)
        /// Resolved alerts and delivered events are kept this long.
        public var retentionMs: Int64 = 30 * 86_400_000

        /// Creates the settings.
        public init() {}
    }

    let engine: AlertEngine
    let store: AlertStore
    let channels: [any AlertChannel]
    let configuration: Configuration
    let logger: Logger
    let wakers: [String: Wakeup]
    let volatile: VolatileEvents
    let counters: Mutex<[String: ChannelStatus]>

    /// Delivery status of one channel.
    public struct ChannelStatus: Sendable, Hashable {
        /// Events delivered since start.
        public var delivered = 0
        /// Failed attempts since start.
        public var failures = 0
        /// The last error, if the last attempt failed.
        public var lastError: String?
        /// The channel's cursor.
        public var cursor: Int64 = 0
    }

    /// Creates the service; `engine` must have been created with `onEvents: service.wake` — use
    /// `AlertService.wiring` to get both right.
    public init(engine: AlertEngine, store: AlertStore, channels: [any AlertChannel], configuration: Configuration = Configuration(),
                wiring: Wiring, logger: Logger) {
        self.engine = engine
        self.store = store
        self.channels = channels
        self.configuration = configuration
        self.logger = logger
        self.wakers = wiring.wakers
        self.volatile = wiring.volatile
        // A channel new to this store starts with what happens from now on, not the whole history. Decided here,
        // before ingest starts, so no event raised during startup is skipped.
        for channel in channels {
            do {
                if try store.cursor(channel: channel.name) == nil { try store.setCursor(channel: channel.name, seq: try store.lastEventSeq()) }
            } catch {
                logger.error("Alert channel cursor could not be read", metadata: ["alert.channel": "\(channel.name)", "error": "\(error)"])
            }
        }
        self.counters = Mutex(Dictionary(uniqueKeysWithValues: channels.map { ($0.name, ChannelStatus()) }))
    }

    /// Wake-up signals per channel, made before the engine so its `onEvents` can reach the workers.
    public struct Wiring: Sendable {
        let wakers: [String: Wakeup]
        /// Events the engine could not write to alerts.db (disk full), per channel, delivered from memory.
        let volatile: VolatileEvents
        /// The feed, told of every event at once.
        public let feed: AlertFeed?

        /// Pass as the engine's `onEvents`.
        public var onEvents: @Sendable ([AlertEvent]) -> Void {
            let wakers = self.wakers
            let feed = self.feed
            let volatile = self.volatile
            return { events in
                feed?.publish(events)
                // Sequence 0: not in the durable log, so no worker would read it there. Alerts must keep flowing
                // while the disk is full: hand them to every channel in memory.
                let unlogged = events.filter { $0.seq == 0 }
                if !unlogged.isEmpty { volatile.append(unlogged, channels: Array(wakers.keys)) }
                for w in wakers.values { w.signal() }
            }
        }
    }

    /// Makes the wake-up signals for the named durable channels (not the feed).
    public static func wiring(channelNames: [String], feed: AlertFeed?) -> Wiring {
        Wiring(wakers: Dictionary(uniqueKeysWithValues: channelNames.map { ($0, Wakeup()) }), volatile: VolatileEvents(), feed: feed)
    }

    /// Delivery status per channel.
    public var channelStatus: [String: ChannelStatus] { counters.withLock { $0 } }

    /// Runs timers and workers until graceful shutdown; saves pending durations on the way out.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.runTimers() }
                for channel in self.channels {
                    group.addTask { await self.runWorker(channel) }
                }
                await group.waitForAll()
            }
        } onGracefulShutdown: {
            for w in self.wakers.values { w.signal() }
        }
        engine.savePendingDurations()
        for channel in channels { await channel.shutdown() }
    }

    private func runTimers() async {
        var sinceSave = Duration.zero
        var sincePrune = Duration.seconds(3600)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do { try await Task.sleep(for: configuration.tickInterval) } catch { break }
            engine.tick()
            sinceSave += configuration.tickInterval
            sincePrune += configuration.tickInterval
            if sinceSave >= configuration.saveInterval {
                sinceSave = .zero
                engine.savePendingDurations()
            }
            if sincePrune >= .seconds(3600) {
                sincePrune = .zero
                do {
                    try store.prune(beforeMs: WallClock.nowMs() - configuration.retentionMs, channels: channels.map(\.name))
                } catch {
                    logger.warning("Alert history could not be pruned", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    private func runWorker(_ channel: any AlertChannel) async {
        let name = channel.name
        let wake = wakers[name] ?? Wakeup()
        var cursor: Int64
        do {
            cursor = try store.cursor(channel: name) ?? 0
            try await channel.start()
        } catch {
            logger.error("Alert channel could not start", metadata: ["alert.channel": "\(name)", "error": "\(error)"])
            return
        }
        var delay = configuration.retryInitial
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let batch: [AlertEvent]
            do {
                batch = try store.events(after: cursor, limit: configuration.batchSize)
            } catch {
                logger.error("Alert events could not be read", metadata: ["alert.channel": "\(name)", "error": "\(error)"])
                batch = []
            }
            if batch.isEmpty {
                // Events that could not be logged (disk full) go out from memory, after the durable backlog.
                let unlogged = volatile.peek(channel: name, limit: configuration.batchSize)
                if !unlogged.isEmpty {
                    let mine = unlogged.filter { $0.isFor(channel: name) }
                    do {
                        if !mine.isEmpty { try await channel.deliver(mine) }
                        volatile.drop(channel: name, count: unlogged.count)
                        delay = configuration.retryInitial
                        counters.withLock {
                            $0[name, default: ChannelStatus()].delivered += mine.count
                            $0[name]?.lastError = nil
                        }
                    } catch {
                        counters.withLock {
                            $0[name, default: ChannelStatus()].failures += 1
                            $0[name]?.lastError = "\(error)"
                        }
                        let jittered = delay * Double.random(in: 0.5...1.0)
                        do { try await Task.sleep(for: jittered) } catch { break }
                        delay = min(delay * 2, configuration.retryMax)
                    }
                    continue
                }
                // Wait for the engine's signal, or look again in a second (a missed signal costs at most that).
                await wake.wait(timeout: .seconds(1))
                continue
            }
            let mine = batch.filter { $0.isFor(channel: name) }
            do {
                if !mine.isEmpty { try await channel.deliver(mine) }
                cursor = batch.last!.seq
                // Delivered: move on in memory even if the cursor cannot be saved (disk full); after a restart the
                // saved cursor resends these (at least once; receivers deduplicate by gateway + seq).
                do {
                    try store.setCursor(channel: name, seq: cursor)
                } catch {
                    logger.warning("Alert channel cursor could not be saved", metadata: ["alert.channel": "\(name)", "error": "\(error)"])
                }
                delay = configuration.retryInitial
                counters.withLock {
                    $0[name, default: ChannelStatus()].delivered += mine.count
                    $0[name]?.lastError = nil
                    $0[name]?.cursor = cursor
                }
            } catch {
                counters.withLock {
                    $0[name, default: ChannelStatus()].failures += 1
                    $0[name]?.lastError = "\(error)"
                }
                logger.warning("Alert delivery failed; retrying", metadata: [
                    "alert.channel": "\(name)", "error": "\(error)", "retry.delay_ms": "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)",
                ])
                let jittered = delay * Double.random(in: 0.5...1.0)
                do { try await Task.sleep(for: jittered) } catch { break }
                delay = min(delay * 2, configuration.retryMax)
            }
        }
    }
}

/// A one-waiter wake-up signal: `signal()` before `wait` is remembered once.
final class Wakeup: Sendable {
    struct State {
        var pending = false
        var continuation: CheckedContinuation<Void, Never>?
    }

    let state = Mutex(State())

    func signal() {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let c = s.continuation else {
                s.pending = true
                return nil
            }
            s.continuation = nil
            return c
        }
        c?.resume()
    }

    /// Returns at the next signal (or at once if one is pending), or after `timeout`.
    func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                try? await Task.sleep(for: timeout)
                signal()
            }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.pending {
                        s.pending = false
                        return true
                    }
                    s.continuation = c
                    return false
                }
                if now { c.resume() }
            }
            group.cancelAll()
        }
        state.withLock { $0.pending = false }
    }
}

/// Alert events that are not in the durable log (alerts.db could not be written), queued per channel in memory and
/// delivered after the channel's durable backlog. Bounded: beyond `limit` per channel the oldest are dropped and
/// counted (`gateway_alert_volatile_dropped_total`). Lost on a restart, like the rest of what the full disk refused.
final class VolatileEvents: Sendable {
    let queues = Mutex<[String: [AlertEvent]]>([:])
    let limit: Int
    let dropped = Counter(label: "gateway_alert_volatile_dropped_total")

    init(limit: Int = 10_000) { self.limit = limit }

    func append(_ events: [AlertEvent], channels: [String]) {
        var overflow = 0
        queues.withLock { q in
            for name in channels {
                q[name, default: []].append(contentsOf: events)
                if let n = q[name]?.count, n > limit {
                    q[name]!.removeFirst(n - limit)
                    overflow += n - limit
                }
            }
        }
        if overflow > 0 { dropped.increment(by: Int64(overflow)) }
    }

    func peek(channel: String, limit: Int) -> [AlertEvent] {
        queues.withLock { Array(($0[channel] ?? []).prefix(limit)) }
    }

    func drop(channel: String, count: Int) {
        queues.withLock { q in
            guard let n = q[channel]?.count else { return }
            q[channel]!.removeFirst(min(count, n))
        }
    }
}
