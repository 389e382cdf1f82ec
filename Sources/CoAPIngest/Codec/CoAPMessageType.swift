/// The four CoAP message types (RFC 7252 §3: the 2-bit T field).
public enum CoAPMessageType: UInt8, Sendable, Hashable, CaseIterable {
    /// Confirmable: the sender retransmits until it gets an ACK or RST.
    case confirmable = 0
    /// Non-confirmable: sent once.
    case nonConfirmable = 1
    /// Acknowledgement of a confirmable message; may carry the response (piggybacked).
    case acknowledgement = 2
    /// Reset: the recipient could not process the message.
    case reset = 3
}
