/// A topic filter and the QoS to subscribe with.
///
/// The filter may use the `+` and `#` wildcards, and the MQTT 5 shared-subscription form
/// `$share/<group>/<filter>` (the broker splits matching messages between the group's members).
public struct MQTTSubscription: Sendable, Hashable {
    /// Topic filter, e.g. `city/+/dragino/+/up` or `$share/citygate/city/#`.
    public var filter: String
    /// Maximum QoS the broker should deliver with.
    public var qos: MQTTQoS

    /// Creates a subscription.
    public init(filter: String, qos: MQTTQoS = .atLeastOnce) {
        self.filter = filter
        self.qos = qos
    }
}
