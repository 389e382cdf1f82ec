/// Reassembles Block1 uploads (RFC 7959 §2.5): blocks of one request body, keyed by endpoint and request
/// (Uri-Path, Uri-Query, Request-Tag), placed at `number × size`, so blocks may arrive out of order.
///
/// Bounded three ways: a body never exceeds `maxBodyBytes` (4.13), at most `maxTransfers` are open at once
/// (5.03), and a transfer idle for `timeout` is dropped by `expire`. Not thread-safe: an event-loop handler owns it.
public struct BlockAssembler {
    /// What became of one block.
    public enum Outcome: Sendable, Equatable {
        /// Stored; more to come: answer 2.31 Continue.
        case needMore
        /// The last block completed the body.
        case complete([UInt8])
        /// The body would exceed the cap: 4.13 (the transfer is dropped).
        case tooLarge
        /// The last block arrived but earlier ones are missing: 4.08 (the transfer is dropped).
        case incomplete
        /// Too many transfers are open: 5.03.
        case busy
    }

    /// One transfer under way.
    struct Transfer {
        var body: [UInt8] = []
        /// Which byte ranges are filled: block offsets and lengths.
        var filled: [Int: Int] = [:]
        var lastActivityNs: UInt64
        var totalLength: Int?
    }

    /// Identifies a transfer: the endpoint and a digest of the request options that name the resource.
    public struct Key: Sendable, Hashable {
        /// Who uploads.
        public var endpoint: EndpointKey
        /// Uri-Path, Uri-Query and Request-Tag, as one string.
        public var request: String
        /// Creates a key.
        public init(endpoint: EndpointKey, request: String) {
            self.endpoint = endpoint
            self.request = request
        }
    }

    private var transfers: [Key: Transfer] = [:]
    /// Largest body accepted.
    public let maxBodyBytes: Int
    /// Most transfers open at once.
    public let maxTransfers: Int
    /// Idle time after which a transfer is dropped, in nanoseconds.
    public let timeoutNs: UInt64
    /// Transfers dropped by `expire`.
    public private(set) var expired = 0

    /// Creates an assembler.
    public init(maxBodyBytes: Int, maxTransfers: Int, timeout: Duration) {
        self.maxBodyBytes = maxBodyBytes
        self.maxTransfers = maxTransfers
        let c = timeout.components
        self.timeoutNs = UInt64(max(0, c.seconds)) * 1_000_000_000 + UInt64(max(0, c.attoseconds) / 1_000_000_000)
    }

    /// Transfers open now.
    public var openTransfers: Int { transfers.count }

    /// Adds one block of a body.
    public mutating func add(_ key: Key, block: BlockOption, payload: [UInt8], nowNs: UInt64) -> Outcome {
        let offset = block.offset
        // A declared offset beyond the cap is refused before anything is allocated for it.
        guard offset <= maxBodyBytes, payload.count <= maxBodyBytes - offset else {
            transfers[key] = nil
            return .tooLarge
        }
        if block.number == 0 { transfers[key] = nil }  // block 0 starts the body again
        if transfers[key] == nil {
            guard transfers.count < maxTransfers else { return .busy }
            transfers[key] = Transfer(lastActivityNs: nowNs)
        }
        var finished: [UInt8]?
        var outcome = Outcome.needMore
        // Mutate in place (no copy of the body per block).
        withTransfer(key) { t in
            t.lastActivityNs = nowNs
            let end = offset + payload.count
            if t.body.count < end { t.body.append(contentsOf: repeatElement(0, count: end - t.body.count)) }
            t.body.replaceSubrange(offset..<end, with: payload)
            t.filled[offset] = payload.count
            if !block.more { t.totalLength = end }
            // A block that is not the last must fill its whole block size (RFC 7959 §2.2).
            if block.more, payload.count != block.size { outcome = .incomplete; return }
            guard let total = t.totalLength else { return }
            // Complete when the filled ranges cover 0..<total without gaps.
            var covered = 0
            for start in t.filled.keys.sorted() {
                guard start <= covered else { break }
                covered = max(covered, start + t.filled[start]!)
            }
            if covered >= total {
                finished = Array(t.body.prefix(total))
            } else if !block.more {
                outcome = .incomplete
            }
        }
        if let body = finished {
            transfers[key] = nil
            return .complete(body)
        }
        if outcome == .incomplete { transfers[key] = nil }
        return outcome
    }

    private mutating func withTransfer(_ key: Key, _ body: (inout Transfer) -> Void) {
        guard var t = transfers.removeValue(forKey: key) else { return }
        body(&t)
        transfers[key] = t
    }

    /// Drops transfers idle for longer than the timeout.
    public mutating func expire(nowNs: UInt64) {
        let before = transfers.count
        transfers = transfers.filter { nowNs &- $0.value.lastActivityNs < timeoutNs }
        expired += before - transfers.count
    }

    /// Forgets a transfer (the client gave up, or it was answered with an error).
    public mutating func cancel(_ key: Key) { transfers[key] = nil }
}
