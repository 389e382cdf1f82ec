/// HTTP push receivers for the NB-IoT carrier platforms (CTWing, OneNET).
///
/// `PushReceiver` reads the platforms' bodies (`CTWingParser`, `OneNETParser`), checks signatures, deduplicates
/// retries and hands `RawMessage`s to a `DurableIngest`, answering only once they are durable; `PushController`
/// exposes it as Hummingbird routes. The topic and attribute conventions are in docs/profiles.md.
public enum PushIngest {}
