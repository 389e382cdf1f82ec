import Crypto
import Foundation

/// The signature on every webhook request: HMAC-SHA256 with the webhook's shared secret over
/// `"<timestamp>.<body>"`, sent as `X-CityGate-Signature: sha256=<lower-case hex>` next to
/// `X-CityGate-Timestamp: <Unix seconds>`. Receivers recompute it and reject requests whose timestamp is more than
/// a few minutes old (replay protection).
public enum WebhookSignature {
    /// The header carrying the timestamp.
    public static let timestampHeader = "X-CityGate-Timestamp"
    /// The header carrying the signature.
    public static let signatureHeader = "X-CityGate-Signature"

    /// The header value for `body` sent at `timestamp`.
    public static func sign(body: [UInt8], timestamp: Int64, secret: String) -> String {
        var message = Array("\(timestamp).".utf8)
        message.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Checks a received signature in constant time; false also when the timestamp is further than `tolerance`
    /// seconds from `now`.
    public static func verify(body: [UInt8], timestamp: Int64, signature: String, secret: String, now: Int64, tolerance: Int64 = 300) -> Bool {
        guard abs(now - timestamp) <= tolerance else { return false }
        let expected = Array(sign(body: body, timestamp: timestamp, secret: secret).utf8)
        let given = Array(signature.utf8)
        guard expected.count == given.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<expected.count { diff |= expected[i] ^ given[i] }
        return diff == 0
    }
}
