import GatewayCore

extension HTTPLineProtocolSink.Configuration: CustomStringConvertible {
    /// Every field, the token and password redacted.
    public var description: String { Redacted.description(of: self, secrets: ["token", "password"]) }
}
