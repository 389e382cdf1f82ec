import GatewayCore

extension PushConfiguration.CTWing: CustomStringConvertible {
    /// Every field, the token redacted.
    public var description: String { Redacted.description(of: self, secrets: ["token"]) }
}

extension PushConfiguration.OneNET: CustomStringConvertible {
    /// Every field, the token redacted.
    public var description: String { Redacted.description(of: self, secrets: ["token"]) }
}
