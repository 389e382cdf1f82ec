/// How a `MosquittoClient` connects: broker address, identity, credentials, TLS, session and reconnect policy.
public struct MQTTClientConfiguration: Sendable, Hashable {
    /// MQTT protocol version spoken to the broker.
    public enum ProtocolVersion: Sendable, Hashable {
        /// MQTT 3.1.1. A persistent session (`cleanSession == false`) lasts until the broker's own
        /// `persistent_client_expiration`.
        case v311
        /// MQTT 5. A session outlives a disconnect only for `sessionExpirySeconds`.
        case v5
    }

    /// TLS settings. The server certificate is always verified against `caFile`.
    public struct TLS: Sendable, Hashable {
        /// PEM file with the CA certificate(s) that signed the broker's certificate.
        public var caFile: String
        /// PEM client certificate, for brokers that require one (`require_certificate true`).
        public var certFile: String?
        /// PEM private key for `certFile` (unencrypted).
        public var keyFile: String?
        /// Skips the check that the certificate's name matches `host` (the chain is still verified). Only for
        /// test rigs and brokers addressed by IP without a matching SAN.
        public var insecure: Bool

        /// Creates TLS settings.
        public init(caFile: String, certFile: String? = nil, keyFile: String? = nil, insecure: Bool = false) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
            self.insecure = insecure
        }
    }

    /// Broker host name or address.
    public var host: String
    /// Broker TCP port (1883 plain, 8883 TLS by convention).
    public var port: Int
    /// Client identifier. Must be non-empty and stable when `cleanSession` is false, since the broker keys the
    /// stored session (subscriptions and queued QoS 1/2 messages) by it.
    public var clientID: String
    /// User name for password authentication.
    public var username: String?
    /// Password for password authentication (requires `username` on MQTT 3.1.1).
    public var password: String?
    /// TLS settings; nil for plain TCP.
    public var tls: TLS?
    /// True to start a fresh session on every connect (MQTT 5: clean start). False to resume the stored session,
    /// so QoS 1/2 messages published while the client was away are delivered when it returns.
    public var cleanSession: Bool
    /// MQTT 5 session expiry interval, sent as a CONNECT property on every (re)connect. 0 ends the session when
    /// the network connection closes, so a persistent session needs a value above 0 (`UInt32.max` = never expire).
    /// Ignored for MQTT 3.1.1.
    public var sessionExpirySeconds: UInt32
    /// Protocol version; MQTT 5 by default.
    public var protocolVersion: ProtocolVersion
    /// Keepalive interval in seconds (libmosquitto requires at least 5).
    public var keepAliveSeconds: Int
    /// Delay between connection attempts.
    public var reconnect: MQTTReconnectPolicy
    /// Maximum outgoing QoS 1/2 messages in flight (unacknowledged); 0 means no limit, nil keeps libmosquitto's
    /// default (20, or the broker's receive maximum on MQTT 5). Further messages wait in libmosquitto's queue.
    public var maxInflightMessages: Int?
    /// MQTT 5 receive maximum: how many unacknowledged QoS 1/2 messages the broker may have in flight to this client
    /// (libmosquitto's default is 20). A subscriber that drains a backlog wants a larger window; nil keeps the default.
    public var receiveMaximum: Int?

    /// Creates a configuration. Defaults: MQTT 5, clean session, keepalive 30 s, default reconnect policy.
    public init(
        host: String = "127.0.0.1",
        port: Int = 1883,
        clientID: String,
        username: String? = nil,
        password: String? = nil,
        tls: TLS? = nil,
        cleanSession: Bool = true,
        sessionExpirySeconds: UInt32 = 0,
        protocolVersion: ProtocolVersion = .v5,
        keepAliveSeconds: Int = 30,
        reconnect: MQTTReconnectPolicy = MQTTReconnectPolicy(),
        maxInflightMessages: Int? = nil,
        receiveMaximum: Int? = nil
    ) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.username = username
        self.password = password
        self.tls = tls
        self.cleanSession = cleanSession
        self.sessionExpirySeconds = sessionExpirySeconds
        self.protocolVersion = protocolVersion
        self.keepAliveSeconds = keepAliveSeconds
        self.reconnect = reconnect
        self.maxInflightMessages = maxInflightMessages
        self.receiveMaximum = receiveMaximum
    }
}

extension MQTTClientConfiguration: CustomStringConvertible {
    /// The connection settings with the password redacted: a configuration in a log line never shows it.
    public var description: String {
        "MQTTClientConfiguration(host: \(host), port: \(port), clientID: \(clientID), username: \(username ?? "nil"), "
            + "password: \(password == nil ? "nil" : "<redacted>"), tls: \(tls.map { "\($0)" } ?? "nil"), cleanSession: \(cleanSession), "
            + "sessionExpirySeconds: \(sessionExpirySeconds), protocolVersion: \(protocolVersion), keepAliveSeconds: \(keepAliveSeconds))"
    }
}
