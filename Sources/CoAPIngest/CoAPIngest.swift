/// NB-IoT ingest over UDP: a CoAP server (RFC 7252, Block1 of RFC 7959) and plain UDP datagrams.
///
/// `CoAPIngestService` runs both; `CoAPMessage` is the codec; `ExchangeTable`, `BlockAssembler` and
/// `EndpointRateLimiter` hold the per-endpoint state the event-loop handlers keep. docs/operations.md describes
/// the behaviour an operator sees, docs/formats/coap.md the subset of the protocol the server speaks.
public enum CoAPIngest {
    /// RFC 7252 §4.8.2 EXCHANGE_LIFETIME with the default transmission parameters: how long a confirmable
    /// message's ID stays known for deduplication (247 s).
    public static let exchangeLifetime: Duration = .seconds(247)
    /// RFC 7252 §4.8.2 NON_LIFETIME (145 s): the same for non-confirmable messages.
    public static let nonLifetime: Duration = .seconds(145)
    /// The IANA default CoAP port.
    public static let defaultPort = 5683
}
