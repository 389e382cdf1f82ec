/// Settings of `CoAPIngestService`: where it listens and the limits that make a storm degrade with 5.03.
public struct CoAPIngestConfiguration: Sendable {
    /// A plain UDP listener bound to one device profile (`match: { udp: true }`).
    public struct UDPListener: Sendable, Hashable {
        /// Address to bind.
        public var host: String
        /// UDP port (0: any free port, tests).
        public var port: Int
        /// The profile that decodes its datagrams.
        public var profileID: String

        /// Creates a listener.
        public init(host: String = "127.0.0.1", port: Int, profileID: String) {
            self.host = host
            self.port = port
            self.profileID = profileID
        }
    }

    /// Serve CoAP (false: only the UDP listeners run).
    public var coapEnabled = true
    /// Address the CoAP server binds.
    public var host = "127.0.0.1"
    /// CoAP port (0: any free port, tests).
    public var port = CoAPIngest.defaultPort
    /// Plain UDP listeners.
    public var udpListeners: [UDPListener] = []
    /// Uplinks accepted and not yet stored, per listener; beyond it CON and NON get 5.03 (UDP: dropped).
    public var maxExchanges = 16_384
    /// Sustained uplinks per second per remote endpoint (0: no limit); beyond it 5.03 (UDP: dropped).
    public var perEndpointRate = 20.0
    /// Uplinks an endpoint may send at once.
    public var perEndpointBurst = 40.0
    /// Largest request body, single or reassembled from Block1 blocks: beyond it 4.13.
    public var maxBodyBytes = 16_384
    /// Block1 uploads open at once; beyond it 5.03.
    public var maxBlockTransfers = 1_024
    /// A Block1 upload idle this long is dropped.
    public var blockTimeout: Duration = .seconds(60)
    /// Confirmable exchanges remembered for deduplication (EXCHANGE_LIFETIME, 247 s) at most.
    public var dedupCapacity = 200_000
    /// Non-confirmable message IDs remembered (NON_LIFETIME, 145 s) at most.
    public var nonDedupCapacity = 65_536
    /// Batches of uplinks being stored at once: each waits for the WAL's group commit, so several in flight keep
    /// the receive path busy meanwhile.
    public var concurrentBatches = 4
    /// Max-Age (seconds) on a 5.03: when the client may try again.
    public var retryAfterSeconds: UInt32 = 2
    /// Kernel receive buffer per socket (SO_RCVBUF), bytes; absorbs bursts while the event loop is busy.
    public var receiveBufferBytes = 4 << 20

    /// The defaults.
    public init() {}
}
