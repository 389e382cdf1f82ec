/// The uplink to the province platform: rollups per series, a durable outbox, and the upstream sinks.
public enum Forwarder {}
