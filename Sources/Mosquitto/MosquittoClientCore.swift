import CMosquitto
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The part of a `MosquittoClient` that libmosquitto's callbacks reach through the `obj` user pointer.
///
/// It holds no C state, only Swift values behind `Mutex` and `Atomic`, so it is `Sendable` without any
/// `@unchecked`. The callbacks run on the client's network thread; the public API reads the same state from any
/// thread.
final class MosquittoClientCore: Sendable {
    /// How the current connection attempt ended, as far as CONNACK is concerned.
    enum Attempt: Sendable {
        /// TCP (and TLS) done or in progress, no CONNACK yet.
        case pending
        /// CONNACK success.
        case connected
        /// CONNACK refusal (already reported).
        case refused
    }

    /// Subscription and connection state shared by the callbacks and the public API.
    struct State: Sendable {
        /// Every subscription the client wants; replayed in `on_connect` on every (re)connect.
        var subscriptions: [MQTTSubscription]
        /// Added by `subscribe(_:)` while connected; sent by the network thread on its next turn.
        var pendingSubscribes: [MQTTSubscription] = []
        /// Removed by `unsubscribe(filter:)` while connected; sent by the network thread on its next turn.
        var pendingUnsubscribes: [String] = []
        /// SUBSCRIBE message id to filter, to name the filter in the SUBACK event.
        var subackFilters: [Int32: String] = [:]
        /// CONNACK success on the current network connection.
        var connected = false
        /// Outcome of the current attempt.
        var attempt: Attempt = .pending
        /// The most recent connection error, for status displays.
        var lastError: MosquittoError?
        /// The last error line libmosquitto logged during the current attempt (e.g. OpenSSL's "certificate verify
        /// failed"), added to the attempt's error.
        var libraryErrorDetail: String?
    }

    /// Guards the calls into libmosquitto made from threads other than the network thread (publish).
    ///
    /// `mosquitto_connect_bind_v5` closes and re-creates the socket pair that `packet__queue` writes to from a
    /// publishing thread (lib/connect.c `mosquitto__connect_init`); a publish racing with it could write to a
    /// closed, or worse reused, descriptor. The network thread sets `connecting` under this lock around the
    /// connect call, and publishers see it and fail fast with `MOSQ_ERR_NO_CONN` instead of waiting out a TCP
    /// connect. `closed` is set by `stop()`.
    struct Gate: Sendable {
        var connecting = false
        var closed = false
    }

    /// The thread that runs the network loop.
    struct ThreadID: @unchecked Sendable {
        // pthread_t is an integer on Linux and a pointer on Darwin; it is only compared, joined or detached.
        let id: pthread_t
    }

    /// Where the client is in its one-shot life.
    enum Lifecycle: Sendable {
        case idle
        case running(ThreadID)
        case stopped
    }

    let protocolVersion: MQTTClientConfiguration.ProtocolVersion
    let onMessage: @Sendable (MQTTMessage) -> Void
    let eventContinuation: AsyncStream<MQTTEvent>.Continuation

    let state: Mutex<State>
    let gate = Mutex(Gate())
    let lifecycle = Mutex(Lifecycle.idle)

    /// Set when `pendingSubscribes`/`pendingUnsubscribes` may be non-empty, so the loop need not lock every turn.
    let hasPendingWork = Atomic<Bool>(false)
    let stopRequested = Atomic<Bool>(false)
    let threadExited = Atomic<Bool>(false)
    /// How long (ns) the network thread may keep running after `stop()` to let outgoing messages complete.
    let flushTimeoutNs = Atomic<Int64>(0)

    let connectedFlag = Atomic<Bool>(false)
    let messagesReceived = Atomic<Int>(0)
    let connects = Atomic<Int>(0)
    let disconnects = Atomic<Int>(0)
    let connectFailures = Atomic<Int>(0)
    /// Successful `mosquitto_publish_v5` calls.
    let publishesQueued = Atomic<Int>(0)
    /// `on_publish` callbacks: QoS 0 written to the socket, QoS 1 PUBACK, QoS 2 PUBCOMP.
    let publishesCompleted = Atomic<Int>(0)
    /// Of those, MQTT 5 PUBACK/PUBREC with an error reason code (0x80 or above: the broker did not take the
    /// message), and the last such code.
    let publishesRefused = Atomic<Int>(0)
    let lastRefusalReasonCode = Atomic<Int>(0)
    /// Told the message id of every completed QoS 1/2 publish (PUBACK/PUBCOMP received), on the network thread.
    let onPublished: (@Sendable (Int) -> Void)?

    init(
        protocolVersion: MQTTClientConfiguration.ProtocolVersion,
        subscriptions: [MQTTSubscription],
        onMessage: @escaping @Sendable (MQTTMessage) -> Void,
        onPublished: (@Sendable (Int) -> Void)? = nil,
        eventContinuation: AsyncStream<MQTTEvent>.Continuation
    ) {
        self.onPublished = onPublished
        self.protocolVersion = protocolVersion
        self.onMessage = onMessage
        self.eventContinuation = eventContinuation
        var unique: [MQTTSubscription] = []
        for s in subscriptions {
            unique.removeAll { $0.filter == s.filter }
            unique.append(s)
        }
        self.state = Mutex(State(subscriptions: unique))
    }

    /// The core behind a callback's `obj` pointer. The client owns the core and the network thread owns the
    /// client, so the core outlives every callback.
    @inline(__always)
    static func from(_ obj: UnsafeMutableRawPointer) -> MosquittoClientCore {
        Unmanaged<MosquittoClientCore>.fromOpaque(obj).takeUnretainedValue()
    }

    var isStopping: Bool { stopRequested.load(ordering: .acquiring) }

    // MARK: Callbacks (libmosquitto network thread)

    /// `on_connect`: on success, replay every subscription (so a broker that lost our session, or a clean session,
    /// gets them back; `examples/subscribe/basic-1.c` does the same); on refusal, record the reason.
    func didConnect(handle: OpaquePointer, rc: Int32, flags: Int32) {
        guard rc == 0 else {
            let error = MosquittoError.connectionRefused(reasonCode: rc, protocolVersion: protocolVersion)
            state.withLock {
                $0.attempt = .refused
                $0.lastError = error
            }
            connectFailures.add(1, ordering: .relaxed)
            eventContinuation.yield(.connectFailed(error))
            return
        }
        MosquittoClient.setHandshakeLogging(handle, enabled: false)
        let subscriptions = state.withLock { s -> [MQTTSubscription] in
            s.connected = true
            s.attempt = .connected
            s.pendingSubscribes.removeAll()
            s.pendingUnsubscribes.removeAll()
            return s.subscriptions
        }
        connectedFlag.store(true, ordering: .releasing)
        connects.add(1, ordering: .relaxed)
        eventContinuation.yield(.connected(sessionPresent: flags & 1 != 0))
        for subscription in subscriptions {
            sendSubscribe(handle: handle, subscription)
        }
    }

    /// `on_disconnect`: the network connection closed, cleanly or not.
    func didDisconnect(rc: Int32) {
        let wasConnected = state.withLock { s -> Bool in
            let was = s.connected
            s.connected = false
            s.pendingSubscribes.removeAll()
            s.pendingUnsubscribes.removeAll()
            s.subackFilters.removeAll()
            return was
        }
        connectedFlag.store(false, ordering: .releasing)
        // Forget outgoing messages still outstanding: QoS 0 ones are gone with the socket (no on_publish will come)
        // and QoS 1/2 ones are resent after reconnect. Otherwise a later stop() would wait its whole flush timeout.
        publishesQueued.store(publishesCompleted.load(ordering: .relaxed), ordering: .relaxed)
        guard wasConnected else { return }
        disconnects.add(1, ordering: .relaxed)
        if isStopping && rc == MOSQ_ERR_SUCCESS.rawValue { return }
        let error = MosquittoError.disconnect(rc: rc)
        state.withLock { $0.lastError = error }
        eventContinuation.yield(.connectionLost(error))
    }

    /// `on_message`: copy out (libmosquitto frees `message` when the callback returns) and hand over.
    func didReceive(_ message: UnsafePointer<mosquitto_message>) {
        let m = message.pointee
        let topic = m.topic.map { String(cString: $0) } ?? ""
        let payload: [UInt8] =
            if let bytes = m.payload, m.payloadlen > 0 {
                [UInt8](UnsafeRawBufferPointer(start: bytes, count: Int(m.payloadlen)))
            } else {
                []
            }
        messagesReceived.add(1, ordering: .relaxed)
        onMessage(MQTTMessage(topic: topic, payload: payload, qos: MQTTQoS(rawValue: Int(m.qos)) ?? .atMostOnce, retain: m.retain))
    }

    /// `on_subscribe`: one granted QoS (or failure reason code) per filter; we send one filter per SUBSCRIBE.
    func didSubscribe(mid: Int32, granted: UnsafeBufferPointer<Int32>) {
        let filter = state.withLock { $0.subackFilters.removeValue(forKey: mid) } ?? "?"
        guard let code = granted.first else { return }
        if code < 0x80, let qos = MQTTQoS(rawValue: Int(code)) {
            eventContinuation.yield(.subscribed(filter: filter, grantedQoS: qos))
        } else {
            eventContinuation.yield(.subscriptionRejected(filter: filter, reasonCode: Int(code)))
        }
    }

    /// `on_log`, installed only while connecting: keep the last error line as detail for the attempt's error.
    func didLog(level: Int32, message: UnsafePointer<CChar>) {
        guard level & Int32(MOSQ_LOG_ERR) != 0 else { return }
        let text = String(cString: message)
        state.withLock { $0.libraryErrorDetail = text }
    }

    /// `on_publish`: an outgoing message is done; a reason code of 0x80 or above (MQTT 5) means the broker refused
    /// it. The refusal is counted before the completion, so a reader that sees the completion sees the refusal.
    func didPublish(mid: Int32, reasonCode: Int32) {
        if reasonCode >= 0x80 {
            lastRefusalReasonCode.store(Int(reasonCode), ordering: .relaxed)
            publishesRefused.add(1, ordering: .relaxed)
        }
        publishesCompleted.add(1, ordering: .releasing)
        onPublished?(Int(mid))
    }

    // MARK: Network thread helpers

    /// Sends one SUBSCRIBE. Network thread only, so the SUBACK cannot be handled before the mid is recorded.
    func sendSubscribe(handle: OpaquePointer, _ subscription: MQTTSubscription) {
        var mid: Int32 = 0
        let rc = mosquitto_subscribe_v5(handle, &mid, subscription.filter, Int32(subscription.qos.rawValue), 0, nil)
        if rc == MOSQ_ERR_SUCCESS.rawValue {
            state.withLock { $0.subackFilters[mid] = subscription.filter }
        } else {
            let error = MosquittoError(code: rc)
            state.withLock { $0.lastError = error }
            eventContinuation.yield(.subscriptionRejected(filter: subscription.filter, reasonCode: Int(rc)))
        }
    }

    /// Sends subscribes and unsubscribes queued by other threads while connected. Network thread only.
    func sendPendingWork(handle: OpaquePointer) {
        guard hasPendingWork.exchange(false, ordering: .acquiringAndReleasing) else { return }
        let (subscribes, unsubscribes) = state.withLock { s in
            defer {
                s.pendingSubscribes.removeAll()
                s.pendingUnsubscribes.removeAll()
            }
            return (s.pendingSubscribes, s.pendingUnsubscribes)
        }
        for filter in unsubscribes {
            _ = mosquitto_unsubscribe_v5(handle, nil, filter, nil)
        }
        for subscription in subscribes {
            sendSubscribe(handle: handle, subscription)
        }
    }

    /// Starts an attempt: no CONNACK seen yet.
    func beginAttempt() {
        state.withLock {
            $0.attempt = .pending
            $0.libraryErrorDetail = nil
        }
    }

    /// Records a connect call that failed before any MQTT exchange (DNS, TCP, TLS).
    func connectCallFailed(_ failure: MosquittoError) {
        let error = state.withLock { s -> MosquittoError in
            var error = failure
            if let detail = s.libraryErrorDetail {
                error = MosquittoError(code: Int32(failure.code), reasonCode: failure.reasonCode, description: "\(failure.description) (\(detail))")
            }
            s.lastError = error
            return error
        }
        connectFailures.add(1, ordering: .relaxed)
        eventContinuation.yield(.connectFailed(error))
    }

    /// Ends an attempt whose loop returned `rc`. Returns true when the broker had accepted the connection.
    func endAttempt(loopResult rc: Int32) -> Bool {
        let attempt = state.withLock { $0.attempt }
        switch attempt {
        case .connected:
            return true
        case .refused:
            return false
        case .pending:
            // The socket closed before CONNACK: a TLS handshake failure, or a broker that hung up.
            connectCallFailed(MosquittoError(code: rc == MOSQ_ERR_SUCCESS.rawValue ? MOSQ_ERR_CONN_LOST.rawValue : rc))
            return false
        }
    }

    /// The network thread is done: close the event stream.
    func finish() {
        connectedFlag.store(false, ordering: .releasing)
        eventContinuation.yield(.disconnected)
        eventContinuation.finish()
        threadExited.store(true, ordering: .releasing)
    }
}
