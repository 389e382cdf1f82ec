/// The uplink to the province platform: rollups per series, a durable outbox, and the upstream sinks.
///
/// `RollupStage` (a `SampleSink`) aggregates samples into windows; `ForwarderService` commits closed windows and
/// events to the `Outbox` (SQLite) and runs one `SinkRunner` per configured sink (HTTP line protocol, MQTT), each
/// with its own persisted cursor. docs/architecture.md ("The uplink") states the watermark, overflow and
/// exactly-once rules this module implements.
public enum Forwarder {}
