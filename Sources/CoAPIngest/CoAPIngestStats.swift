import Metrics
import Synchronization

/// Totals of a `CoAPIngestService` since it started: a snapshot for summaries and tests.
public struct CoAPIngestStats: Sendable, Hashable {
    /// Datagrams received on the CoAP port.
    public var datagrams = 0
    /// Requests accepted for storage (CON and NON, a Block1 upload counted once).
    public var uplinks = 0
    /// Uplinks whose storage finished (stored or dead-lettered or refused by the store).
    public var completed = 0
    /// Retransmissions and duplicates answered from the cache or ignored, never stored again.
    public var duplicates = 0
    /// Datagrams that are not CoAP or not well-formed (RST for a CON, else ignored).
    public var malformed = 0
    /// Requests refused with 5.03 because the exchange cap was reached or the queue was closed.
    public var overloaded = 0
    /// Requests refused with 5.03 by the per-endpoint rate limit (for UDP: datagrams dropped).
    public var rateLimited = 0
    /// Block1 blocks answered with 2.31 Continue.
    public var blocks = 0
    /// Responses sent (ACK, NON and RST).
    public var responses = 0
    /// Plain UDP datagrams received on the listeners.
    public var udpDatagrams = 0
    /// Plain UDP datagrams dropped (cap or rate limit).
    public var udpDropped = 0
}

/// Shared counters the handlers add to once per read burst or completed batch (never per message), plus the
/// Metrics counters they feed.
final class CoAPCounters: Sendable {
    private let totals = Mutex(CoAPIngestStats())
    private let metrics = CoAPMetrics()

    var snapshot: CoAPIngestStats { totals.withLock { $0 } }

    /// Adds a handler's local counts and resets them.
    func publish(_ delta: inout CoAPIngestStats) {
        guard delta != CoAPIngestStats() else { return }
        let d = delta
        delta = CoAPIngestStats()
        totals.withLock { t in
            t.datagrams += d.datagrams
            t.uplinks += d.uplinks
            t.completed += d.completed
            t.duplicates += d.duplicates
            t.malformed += d.malformed
            t.overloaded += d.overloaded
            t.rateLimited += d.rateLimited
            t.blocks += d.blocks
            t.responses += d.responses
            t.udpDatagrams += d.udpDatagrams
            t.udpDropped += d.udpDropped
        }
        metrics.add(d)
    }
}

/// The service's metrics, created once. No label carries a device, path or address.
struct CoAPMetrics: Sendable {
    let datagrams = Counter(label: "gateway_coap_datagrams_total")
    let uplinks = Counter(label: "gateway_coap_uplinks_total")
    let duplicates = Counter(label: "gateway_coap_duplicates_total")
    let malformed = Counter(label: "gateway_coap_malformed_total")
    let overloaded = Counter(label: "gateway_coap_overload_total")
    let rateLimited = Counter(label: "gateway_coap_rate_limited_total")
    let blocks = Counter(label: "gateway_coap_blocks_total")
    let responses = Counter(label: "gateway_coap_responses_total")
    let udpDatagrams = Counter(label: "gateway_udp_datagrams_total")
    let udpDropped = Counter(label: "gateway_ingest_dropped_total", dimensions: [("transport", "udp")])

    func add(_ d: CoAPIngestStats) {
        if d.datagrams > 0 { datagrams.increment(by: Int64(d.datagrams)) }
        if d.uplinks > 0 { uplinks.increment(by: Int64(d.uplinks)) }
        if d.duplicates > 0 { duplicates.increment(by: Int64(d.duplicates)) }
        if d.malformed > 0 { malformed.increment(by: Int64(d.malformed)) }
        if d.overloaded > 0 { overloaded.increment(by: Int64(d.overloaded)) }
        if d.rateLimited > 0 { rateLimited.increment(by: Int64(d.rateLimited)) }
        if d.blocks > 0 { blocks.increment(by: Int64(d.blocks)) }
        if d.responses > 0 { responses.increment(by: Int64(d.responses)) }
        if d.udpDatagrams > 0 { udpDatagrams.increment(by: Int64(d.udpDatagrams)) }
        if d.udpDropped > 0 { udpDropped.increment(by: Int64(d.udpDropped)) }
    }
}
