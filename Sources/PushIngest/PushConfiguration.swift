/// What the carrier push receivers accept and how they check it.
public struct PushConfiguration: Sendable, Hashable {
    /// Largest request body read; a larger one is answered 413 without being read further.
    public var maxBodyBytes: Int
    /// The CTWing receiver (`POST /push/ctwing`).
    public var ctwing: CTWing
    /// The OneNET receiver (`GET` and `POST /push/onenet`).
    public var onenet: OneNET
    /// How long a delivered push is remembered, so a platform retry of it is answered 200 without storing it again.
    /// CTWing retries at most 3 times and OneNET retries a push it saw fail; both do so within minutes.
    public var dedupWindow: Duration
    /// Most pushes remembered at once. Each costs about 80 bytes (a 16-byte digest in a dictionary and a queue),
    /// so the default of 100,000 bounds the memory near 8 MB. Beyond it the oldest are forgotten early.
    public var dedupMaxEntries: Int

    /// CTWing settings.
    public struct CTWing: Sendable, Hashable {
        /// Whether the route exists.
        public var enabled: Bool
        /// A shared secret of our own: CTWing's subscription push carries no signature, so when this is set the
        /// subscription URL must carry it (`?token=...`) or the request an `X-CityGate-Token` header; otherwise 401.
        public var token: String?

        /// Creates the settings.
        public init(enabled: Bool = true, token: String? = nil) {
            self.enabled = enabled
            self.token = token
        }
    }

    /// OneNET settings.
    public struct OneNET: Sendable, Hashable {
        /// Whether the route exists.
        public var enabled: Bool
        /// The token configured on the OneNET push page: the key of its MD5 signatures.
        public var token: String?
        /// Check `msg_signature` on every POST and `signature` on the URL verification GET (on by default; off
        /// only while testing against a platform account whose token is unknown).
        public var verifySignature: Bool

        /// Creates the settings.
        public init(enabled: Bool = true, token: String? = nil, verifySignature: Bool = true) {
            self.enabled = enabled
            self.token = token
            self.verifySignature = verifySignature
        }
    }

    /// Creates a configuration. Defaults: 64 KiB bodies, both platforms on, a 10-minute dedup window of at most
    /// 100,000 pushes.
    public init(
        maxBodyBytes: Int = 65_536, ctwing: CTWing = CTWing(), onenet: OneNET = OneNET(), dedupWindow: Duration = .seconds(600),
        dedupMaxEntries: Int = 100_000
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.ctwing = ctwing
        self.onenet = onenet
        self.dedupWindow = dedupWindow
        self.dedupMaxEntries = dedupMaxEntries
    }
}
