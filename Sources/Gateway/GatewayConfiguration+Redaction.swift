import GatewayCore

// Configuration structs that hold secrets describe themselves without them (GatewayCore's `Redacted`), so a
// configuration interpolated into a log line or an error never shows a password or token.

extension GatewayConfiguration.MQTT: CustomStringConvertible {
    /// Every field, the password redacted.
    public var description: String { Redacted.description(of: self, secrets: ["password"]) }
}

extension GatewayConfiguration.HTTP.CTWing: CustomStringConvertible {
    /// Every field, the token redacted.
    public var description: String { Redacted.description(of: self, secrets: ["token"]) }
}

extension GatewayConfiguration.HTTP.OneNET: CustomStringConvertible {
    /// Every field, the token redacted.
    public var description: String { Redacted.description(of: self, secrets: ["token"]) }
}

extension GatewayConfiguration.Alerts.Webhook: CustomStringConvertible {
    /// Every field, the secret redacted.
    public var description: String { Redacted.description(of: self, secrets: ["secret"]) }
}
