import CMosquitto
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An MQTT client over libmosquitto with its own network thread, reconnects with capped exponential backoff and
/// jitter, and re-subscribes on every connect.
///
/// ## Threads
/// `start()` spawns one network thread that runs connect → `mosquitto_loop` → (on loss) backoff → connect until
/// `stop()`. Every libmosquitto callback runs on that thread. The message handler given to `init` is called there,
/// synchronously, once per message: it must copy what it needs and return quickly (the ingest layer offers the
/// message to a bounded queue). A slow handler stalls the socket, not the broker: the broker buffers (QoS 1/2 up
/// to its `max_queued_messages`) or drops (QoS 0). Connection changes are published as `events`.
///
/// ## Durability: the crash-loss window
/// libmosquitto 2.0.11 queues the PUBACK for an incoming QoS 1 PUBLISH *before* it calls `on_message`
/// (lib/handle_publish.c: `send__puback(...)`, then the callback); no 2.0 release can defer or withhold it. In the
/// threaded mode used here the loop writes the ack right after the callback returns (observed: with the callback
/// blocked, the broker logged `Received PUBACK` only once it returned). So a crash *inside* the callback gets the
/// message redelivered, but once the callback has returned the broker considers it delivered and forgets it: from
/// then on the message exists only in this process. Durability therefore starts at our own buffer, and a crash
/// loses whatever sits between this callback and the pipeline's durable write (the bounded ingest queue, the
/// batch being decoded, the WAL's un-synced tail). MQTT does not close that window; keep it small and bounded.
/// (QoS 2 is no different: libmosquitto completes its side of the handshake whatever the callback does.)
///
/// ## Sessions
/// With `cleanSession == false` the broker keeps the subscriptions and queues QoS 1/2 messages while the client
/// is away. In MQTT 5 the session ends when the connection closes unless CONNECT carries a session expiry
/// interval, and `mosquitto_reconnect` (lib/connect.c in 2.0.11) sends CONNECT without properties. So every
/// attempt, the first and each reconnect, calls `mosquitto_connect_bind_v5` with the session expiry property.
/// Subscriptions are replayed in `on_connect` regardless of `sessionPresent`, so a broker that lost the session
/// (restart without persistence, expiry) gets them back.
///
/// ## Limits
/// `mosquitto_loop` uses `select()`, so the client's socket descriptor must be below `FD_SETSIZE` (1024); a
/// process with more descriptors open gets `MOSQ_ERR_INVAL` from the loop (reported as a failed connection).
/// A client is one-shot: after `stop()` it cannot be started again; create a new one with the same client ID
/// to resume a persistent session.
///
/// ## Sendable
/// `@unchecked Sendable` is sound because:
/// - `handle` is set once in `init` and freed only in `deinit`. The network thread holds a strong reference to
///   the client while it runs, so `deinit` (and `mosquitto_destroy`) can only happen after that thread has
///   left libmosquitto for good.
/// - The handle is put in threaded mode (`mosquitto_threaded_set(true)`), in which libmosquitto locks its own
///   state so `mosquitto_publish_v5` may be called from any thread while the network thread is in
///   `mosquitto_loop` (this is how `mosquitto_loop_start` clients publish).
/// - Every other call on the handle (connect, loop, subscribe, unsubscribe, disconnect) is made only by the
///   network thread, including subscriptions requested from other threads, which are queued and sent by it.
/// - Publishes are excluded from the one call that is unsafe to overlap with them, `mosquitto_connect_bind_v5`
///   (it re-creates the wake-up socket pair publishers write to), by the core's `gate` lock.
/// - All other mutable state lives in `MosquittoClientCore` behind `Mutex` and `Atomic`.
public final class MosquittoClient: @unchecked Sendable {
    /// The configuration the client was created with.
    public let configuration: MQTTClientConfiguration
    /// Connection changes: connected, failures, losses, SUBACKs, and a final `.disconnected` after `stop()`.
    /// Keeps the newest 256 events if nobody reads; single consumer.
    public let events: AsyncStream<MQTTEvent>

    private let handle: OpaquePointer
    private let core: MosquittoClientCore

    /// Creates a client. Nothing touches the network until `start()`.
    ///
    /// - Parameters:
    ///   - configuration: broker, identity, credentials, TLS, session and reconnect policy.
    ///   - subscriptions: filters subscribed on every connect; more can be added with `subscribe(_:)`.
    ///   - onMessage: called on the network thread for every message, synchronously. Copy and return.
    ///   - onPublished: called on the network thread with the message id (as `publish` returned it) of every
    ///     QoS 1/2 message the broker acknowledged; QoS 0 messages report when written. Keep it short.
    /// - Throws: `MosquittoError` with kind `.invalid` for a bad configuration (keepalive below 5 s, missing
    ///   client ID with a persistent session, unreadable CA file, port out of range).
    public init(
        configuration: MQTTClientConfiguration,
        subscriptions: [MQTTSubscription] = [],
        onMessage: @escaping @Sendable (MQTTMessage) -> Void = { _ in },
        onPublished: (@Sendable (Int) -> Void)? = nil
    ) throws(MosquittoError) {
        try MosquittoLibrary.ensureInitialized()
        let (stream, continuation) = AsyncStream.makeStream(of: MQTTEvent.self, bufferingPolicy: .bufferingNewest(256))
        let core = MosquittoClientCore(
            protocolVersion: configuration.protocolVersion, subscriptions: subscriptions, onMessage: onMessage,
            onPublished: onPublished, eventContinuation: continuation
        )
        do {
            self.handle = try Self.makeHandle(configuration: configuration, core: core)
        } catch {
            continuation.finish()
            throw error
        }
        self.configuration = configuration
        self.core = core
        self.events = stream
    }

    deinit {
        // The network thread retains `self` while it runs, so it has ended (or never started): nothing else can
        // be inside libmosquitto with this handle.
        mosquitto_destroy(handle)
        core.eventContinuation.finish()
    }

    /// Creates and configures the handle; destroys it again if any step fails.
    private static func makeHandle(configuration c: MQTTClientConfiguration, core: MosquittoClientCore) throws(MosquittoError) -> OpaquePointer {
        let invalid = MosquittoError(code: MOSQ_ERR_INVAL.rawValue)
        guard c.keepAliveSeconds >= 5, c.keepAliveSeconds <= Int(UInt16.max) else { throw invalid }
        guard (1...65_535).contains(c.port), !c.host.isEmpty else { throw invalid }
        guard c.cleanSession || !c.clientID.isEmpty else { throw invalid }
        if let maxInflight = c.maxInflightMessages, maxInflight < 0 { throw invalid }
        if let receiveMaximum = c.receiveMaximum, !(1...65_535).contains(receiveMaximum) { throw invalid }

        let obj = Unmanaged.passUnretained(core).toOpaque()
        guard let handle = mosquitto_new(c.clientID.isEmpty ? nil : c.clientID, c.cleanSession, obj) else {
            throw MosquittoError(code: errno == ENOMEM ? MOSQ_ERR_NOMEM.rawValue : MOSQ_ERR_INVAL.rawValue)
        }
        do {
            let version = c.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
            try MosquittoError.check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, Int32(version)))
            try MosquittoError.check(mosquitto_threaded_set(handle, true))
            if c.username != nil || c.password != nil {
                try MosquittoError.check(mosquitto_username_pw_set(handle, c.username, c.password))
            }
            if let tls = c.tls {
                // mosquitto_tls_set opens caFile (and the cert/key pair) now and returns MOSQ_ERR_INVAL if it can't.
                try MosquittoError.check(mosquitto_tls_set(handle, tls.caFile, nil, tls.certFile, tls.keyFile, nil))
                try MosquittoError.check(mosquitto_tls_insecure_set(handle, tls.insecure))
            }
            if let receiveMaximum = c.receiveMaximum, c.protocolVersion == .v5 {
                try MosquittoError.check(mosquitto_int_option(handle, MOSQ_OPT_RECEIVE_MAXIMUM, Int32(receiveMaximum)))
            }
            if let maxInflight = c.maxInflightMessages {
                try MosquittoError.check(mosquitto_max_inflight_messages_set(handle, UInt32(maxInflight)))
            }
        } catch {
            mosquitto_destroy(handle)
            throw error
        }
        installCallbacks(handle)
        return handle
    }

    // MARK: Lifecycle

    /// Starts the network thread, which connects and keeps reconnecting until `stop()`.
    ///
    /// Returns at once; watch `events` or `isConnected` for the outcome. Throws `.invalid` if the client was
    /// already started or stopped.
    public func start() throws(MosquittoError) {
        let rc: Int32 = core.lifecycle.withLock { lifecycle in
            guard case .idle = lifecycle else { return MOSQ_ERR_INVAL.rawValue }
            // The thread owns a strong reference until it ends; see the Sendable argument above.
            let arg = Unmanaged.passRetained(self).toOpaque()
            #if canImport(Glibc)
            var thread = pthread_t()
            #else
            var thread: pthread_t?
            #endif
            let created = pthread_create(
                &thread, nil,
                { arg in
                    guard let arg else { return nil }
                    let client = Unmanaged<MosquittoClient>.fromOpaque(arg).takeRetainedValue()
                    client.runNetworkThread()
                    return nil
                }, arg
            )
            guard created == 0 else {
                Unmanaged<MosquittoClient>.fromOpaque(arg).release()
                return MOSQ_ERR_ERRNO.rawValue
            }
            #if canImport(Glibc)
            lifecycle = .running(.init(id: thread))
            #else
            lifecycle = .running(.init(id: thread!))
            #endif
            return MOSQ_ERR_SUCCESS.rawValue
        }
        try MosquittoError.check(rc)
    }

    /// Disconnects cleanly and ends the network thread.
    ///
    /// If connected, the thread first lets outgoing messages complete (QoS 0 written, QoS 1 acknowledged) for up
    /// to `flushTimeout` (best effort: messages outstanding when an earlier connection dropped are not waited
    /// for), then sends DISCONNECT (reason 0, so an MQTT 5 session keeps its expiry) and closes the
    /// socket. Blocks until the thread has ended, or for `flushTimeout` plus 5 s if it is stuck in a blocking TCP
    /// connect to an unresponsive host (the thread is then detached and exits when the connect returns).
    /// Idempotent; also fine before `start()`. Publishing after `stop()` fails with `.noConnection`.
    public func stop(flushTimeout: Duration = .seconds(2)) {
        let thread: MosquittoClientCore.ThreadID? = core.lifecycle.withLock { lifecycle in
            switch lifecycle {
            case .running(let thread):
                lifecycle = .stopped
                return thread
            case .idle:
                lifecycle = .stopped
                return nil
            case .stopped:
                return nil
            }
        }
        let flushNs = Self.nanoseconds(flushTimeout)
        core.flushTimeoutNs.store(flushNs, ordering: .relaxed)
        core.stopRequested.store(true, ordering: .releasing)
        core.gate.withLock { $0.closed = true }
        guard let thread else {
            core.eventContinuation.finish()
            return
        }
        if pthread_equal(thread.id, pthread_self()) != 0 {
            // Called from a handler on the network thread: it will see the flag when the callback returns.
            pthread_detach(thread.id)
            return
        }
        let deadline = ContinuousClock.now.advanced(by: .nanoseconds(flushNs) + .seconds(5))
        while !core.threadExited.load(ordering: .acquiring) && ContinuousClock.now < deadline {
            usleep(1_000)
        }
        if core.threadExited.load(ordering: .acquiring) {
            pthread_join(thread.id, nil)
        } else {
            pthread_detach(thread.id)
        }
    }

    // MARK: Subscriptions and publishing

    /// Adds (or replaces, for the same filter) a subscription. Sent now if connected, and on every later connect.
    /// The SUBACK arrives as `.subscribed` or `.subscriptionRejected` on `events`.
    public func subscribe(_ subscription: MQTTSubscription) {
        let sendNow = core.state.withLock { s -> Bool in
            s.subscriptions.removeAll { $0.filter == subscription.filter }
            s.subscriptions.append(subscription)
            guard s.connected else { return false }
            s.pendingSubscribes.append(subscription)
            return true
        }
        if sendNow { core.hasPendingWork.store(true, ordering: .releasing) }
    }

    /// Removes a subscription: unsubscribed now if connected, and no longer replayed on connect.
    public func unsubscribe(filter: String) {
        let sendNow = core.state.withLock { s -> Bool in
            s.subscriptions.removeAll { $0.filter == filter }
            guard s.connected else { return false }
            s.pendingUnsubscribes.append(filter)
            return true
        }
        if sendNow { core.hasPendingWork.store(true, ordering: .releasing) }
    }

    /// Publishes a message. Thread-safe; never blocks on the network.
    ///
    /// QoS 0 needs a connection (`.noConnection` otherwise). QoS 1/2 messages published while disconnected wait in
    /// libmosquitto's memory and are sent after the next connect (unbounded: callers that may publish through
    /// long outages should bound their own backlog). During a connect attempt every publish fails fast with
    /// `.noConnection` rather than waiting for the TCP connect.
    /// - Returns: the MQTT message id.
    @discardableResult
    public func publish(topic: String, payload: [UInt8], qos: MQTTQoS = .atMostOnce, retain: Bool = false) throws(MosquittoError) -> Int {
        guard payload.count <= Int(Int32.max) else { throw MosquittoError(code: MOSQ_ERR_PAYLOAD_SIZE.rawValue) }
        var mid: Int32 = 0
        let handle = self.handle
        let rc: Int32 = core.gate.withLock { gate in
            if gate.connecting || gate.closed { return MOSQ_ERR_NO_CONN.rawValue }
            return payload.withUnsafeBytes { bytes in
                mosquitto_publish_v5(handle, &mid, topic, Int32(bytes.count), bytes.baseAddress, Int32(qos.rawValue), retain, nil)
            }
        }
        try MosquittoError.check(rc)
        core.publishesQueued.add(1, ordering: .relaxed)
        return Int(mid)
    }

    // MARK: Status

    /// True between a successful CONNACK and the loss of that connection.
    public var isConnected: Bool { core.connectedFlag.load(ordering: .acquiring) }

    /// Publishes handed to libmosquitto on this connection and not completed yet (no PUBACK/PUBCOMP, or QoS 0 not
    /// yet written). A publisher can hold this down: libmosquitto walks its outgoing list, so a very long one makes
    /// each acknowledgement slower (quadratic overall).
    public var pendingPublishes: Int {
        max(0, core.publishesQueued.load(ordering: .relaxed) - core.publishesCompleted.load(ordering: .relaxed))
    }

    /// The most recent connection error (refusal, TLS failure, loss), for status displays.
    public var lastError: MosquittoError? { core.state.withLock { $0.lastError } }

    /// Counters since the client was created, for status displays.
    public var statistics: MosquittoClientStatistics {
        MosquittoClientStatistics(
            isConnected: isConnected,
            connects: core.connects.load(ordering: .relaxed),
            disconnects: core.disconnects.load(ordering: .relaxed),
            connectFailures: core.connectFailures.load(ordering: .relaxed),
            messagesReceived: core.messagesReceived.load(ordering: .relaxed),
            messagesPublished: core.publishesCompleted.load(ordering: .acquiring),
            messagesRefused: core.publishesRefused.load(ordering: .relaxed),
            lastRefusalReasonCode: core.lastRefusalReasonCode.load(ordering: .relaxed)
        )
    }

    /// The subscriptions replayed on every connect.
    public var subscriptions: [MQTTSubscription] { core.state.withLock { $0.subscriptions } }

    // MARK: Network thread

    /// Connect, loop, back off, repeat; then flush and disconnect. Runs on the client's own thread.
    private func runNetworkThread() {
        var generator = SystemRandomNumberGenerator()
        var failedAttempts = 0
        while !core.isStopping {
            core.beginAttempt()
            let rc = connectOnce()
            if rc != MOSQ_ERR_SUCCESS.rawValue {
                if core.isStopping { break }
                core.connectCallFailed(MosquittoError(code: rc))
                sleepUnlessStopped(configuration.reconnect.delay(attempt: failedAttempts, using: &generator))
                failedAttempts += 1
                continue
            }
            var loopResult = MOSQ_ERR_SUCCESS.rawValue
            while !core.isStopping {
                loopResult = mosquitto_loop(handle, 100, 1)
                if loopResult != MOSQ_ERR_SUCCESS.rawValue { break }
                core.sendPendingWork(handle: handle)
            }
            if core.isStopping {
                flushAndDisconnect()
                break
            }
            if core.endAttempt(loopResult: loopResult) {
                // The broker had accepted us: this loss starts a fresh backoff sequence.
                failedAttempts = 0
            }
            sleepUnlessStopped(configuration.reconnect.delay(attempt: failedAttempts, using: &generator))
            failedAttempts += 1
        }
        core.finish()
    }

    /// One `mosquitto_connect_bind_v5` (blocking TCP connect, TLS handshake, CONNECT queued) with the session
    /// expiry property, publishes held off by the gate.
    private func connectOnce() -> Int32 {
        var properties: OpaquePointer? = nil
        defer { mosquitto_property_free_all(&properties) }
        if configuration.protocolVersion == .v5 && configuration.sessionExpirySeconds > 0 {
            let rc = mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), configuration.sessionExpirySeconds)
            if rc != MOSQ_ERR_SUCCESS.rawValue { return rc }
        }
        let startedConnecting = core.gate.withLock { gate -> Bool in
            if gate.closed { return false }
            gate.connecting = true
            return true
        }
        guard startedConnecting else { return MOSQ_ERR_NO_CONN.rawValue }
        Self.setHandshakeLogging(handle, enabled: true)
        let rc = mosquitto_connect_bind_v5(
            handle, configuration.host, Int32(configuration.port), Int32(configuration.keepAliveSeconds), nil, properties
        )
        core.gate.withLock { $0.connecting = false }
        return rc
    }

    /// After `stop()`: let outgoing messages complete, then DISCONNECT and run the loop until the socket closes.
    private func flushAndDisconnect() {
        let flushDeadline = ContinuousClock.now.advanced(by: .nanoseconds(core.flushTimeoutNs.load(ordering: .relaxed)))
        while isConnected
            && core.publishesCompleted.load(ordering: .relaxed) < core.publishesQueued.load(ordering: .relaxed)
            && ContinuousClock.now < flushDeadline
        {
            if mosquitto_loop(handle, 20, 1) != MOSQ_ERR_SUCCESS.rawValue { break }
        }
        guard mosquitto_disconnect_v5(handle, 0, nil) == MOSQ_ERR_SUCCESS.rawValue else { return }
        // The DISCONNECT is written by the loop, which then closes the socket (lib/packet_mosq.c) and returns
        // MOSQ_ERR_NO_CONN on the next turn. Bounded in case the socket is stuck.
        for _ in 0..<50 {
            if mosquitto_loop(handle, 20, 1) != MOSQ_ERR_SUCCESS.rawValue { break }
        }
    }

    /// Sleeps for `delay` in short slices, returning early when `stop()` is called.
    private func sleepUnlessStopped(_ delay: Duration) {
        let deadline = ContinuousClock.now.advanced(by: delay)
        while !core.isStopping {
            let left = ContinuousClock.now.duration(to: deadline)
            if left <= .zero { return }
            usleep(UInt32(min(Self.nanoseconds(left) / 1_000, 10_000)))
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let c = duration.components
        return max(0, c.seconds) * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }
}
