/// A change in a `MosquittoClient`'s connection, delivered on `MosquittoClient.events`.
///
/// Messages are not events: they go to the synchronous message handler, so the hot path never crosses into
/// async code per message.
public enum MQTTEvent: Sendable, Hashable {
    /// The broker accepted the connection (CONNACK success). `sessionPresent` is true when the broker resumed a
    /// stored session (MQTT 3.1.1 clean session off, or MQTT 5 session expiry not yet reached).
    case connected(sessionPresent: Bool)
    /// A connection attempt failed: TCP or TLS error, or the broker refused it (bad credentials, not authorised).
    /// The client retries after a backoff delay until `stop()`.
    case connectFailed(MosquittoError)
    /// An established connection ended unexpectedly (broker gone, keepalive timeout, taken over). The client
    /// reconnects after a backoff delay.
    case connectionLost(MosquittoError)
    /// The broker granted a subscription (at the QoS given, which may be lower than asked).
    case subscribed(filter: String, grantedQoS: MQTTQoS)
    /// The broker refused a subscription (SUBACK reason code 0x80 or above, e.g. not authorised, or shared
    /// subscriptions not supported).
    case subscriptionRejected(filter: String, reasonCode: Int)
    /// The client disconnected cleanly because `stop()` was called. The event stream ends after this.
    case disconnected
}
