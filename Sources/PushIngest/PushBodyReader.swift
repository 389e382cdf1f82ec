import GatewayCore

/// Reads one carrier push body exactly as `PushReceiver` does — `CTWingParser`, or `OneNETParser`'s envelope, message
/// entries and signature text — without checking tokens, deduplicating or storing anything. For tools and for the
/// fuzz target `push` (Tests/Fuzz), which must reach the body parsers directly.
public enum PushBodyReader {
    /// What one item of a push became.
    public enum Item: Sendable, Hashable {
        /// A message `PushReceiver` would hand to the ingest (decode with the profiles).
        case message(RawMessage)
        /// A dead letter: the whole body (unreadable push) or one unreadable message of a OneNET batch.
        case deadLetter(DeadLetter)
        /// A command response: counted and logged only. The values are its log metadata.
        case notice([String: String])
    }

    /// The items of `body` as `platform` pushed it; a body that is not a push at all is one dead letter, as the
    /// receiver keeps it. For OneNET, `signedText` is what `msg_signature` covers (empty when the body has none).
    public static func read(_ platform: PushPlatform, body: [UInt8], receiveTimeMs: Int64) -> (items: [Item], signedText: [UInt8]) {
        switch platform {
        case .ctwing:
            do {
                return ([item(try CTWingParser.parse(body, receiveTimeMs: receiveTimeMs))], [])
            } catch {
                return ([wholeBody(.ctwing, body, error, receiveTimeMs)], [])
            }
        case .onenet:
            let envelope: OneNETParser.Envelope
            do {
                envelope = try OneNETParser.envelope(body)
            } catch {
                return ([wholeBody(.onenet, body, error, receiveTimeMs)], [])
            }
            if let unsupported = envelope.unsupported {
                return ([wholeBody(.onenet, body, PushParseError(unsupported), receiveTimeMs)], envelope.signedText)
            }
            return (OneNETParser.entries(envelope, receiveTimeMs: receiveTimeMs).map(item), envelope.signedText)
        }
    }

    /// Base64(MD5(token + nonce + text)), the OneNET push signature (`PushReceiver` compares it in constant time).
    public static func onenetSignature(token: String, nonce: String, text: [UInt8]) -> String {
        OneNETParser.signature(token: token, nonce: nonce, text: text)
    }

    private static func item(_ entry: PushEntry) -> Item {
        switch entry.action {
        case .ingest(let message): .message(message)
        case .deadLetter(let letter): .deadLetter(letter)
        case .notice(let detail): .notice(detail)
        }
    }

    private static func wholeBody(_ platform: PushPlatform, _ body: [UInt8], _ error: PushParseError, _ receiveTimeMs: Int64) -> Item {
        let message = RawMessage(transport: platform.transport, topic: error.topic ?? platform.rawValue, payload: body, receiveTimeMs: receiveTimeMs)
        return .deadLetter(DeadLetter(message: message, reason: .malformed, error: error.message))
    }
}
