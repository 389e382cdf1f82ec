// Fuzz target `push`: the carrier push body parsers (Sources/PushIngest: CTWing, and OneNET's envelope, batched
// messages and signature text) through `PushBodyReader`, which reads a body exactly as `PushReceiver` does. Every
// body becomes messages, notices or dead letters, never a trap; the messages are then routed and decoded by the
// shipped profiles as the receiver's ingest would.
//
// Input: one HTTP request body, read once as a CTWing push and once as a OneNET push.

import DeviceProfiles
import Foundation
import GatewayCore
import PushIngest

#if CITYGATE_FUZZ
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = FuzzPush.run(FuzzSupport.input(data, size))
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer, _ argv: UnsafeMutableRawPointer) -> CInt {
    FuzzSupport.writeSeedsIfRequested(FuzzPush.seeds)
    _ = FuzzSupport.shippedProfiles
    return 0
}
#endif

public enum FuzzPush {
    static let receiveTimeMs: Int64 = 1_767_225_600_000

    /// Reads `input` with both platforms' parsers; accepted when either found a message or notice in it.
    public static func run(_ input: [UInt8]) -> FuzzOutcome {
        var readable = false
        for platform in PushPlatform.allCases {
            let (items, signedText) = PushBodyReader.read(platform, body: input, receiveTimeMs: receiveTimeMs)
            precondition(!items.isEmpty || platform == .onenet, "a CTWing body read to nothing")
            if !signedText.isEmpty {
                let signature = PushBodyReader.onenetSignature(token: "fuzz-token", nonce: "n0nce", text: signedText)
                precondition(signature.utf8.count == 24, "an MD5 signature in base64 is 24 characters")
            }
            for item in items {
                switch item {
                case .message(let message):
                    readable = true
                    precondition(message.transport == platform.transport, "a \(platform) message on transport \(message.transport)")
                    precondition(!message.topic.isEmpty, "a push message without a topic")
                    var batch = SampleBatch()
                    FuzzSupport.shippedProfiles.decode(message, into: &batch)
                    precondition(batch.messageCount == 1, "one message decoded as \(batch.messageCount)")
                case .notice:
                    readable = true
                case .deadLetter(let letter):
                    precondition(letter.message.transport == platform.transport, "a \(platform) dead letter on transport \(letter.message.transport)")
                    precondition(!letter.error.isEmpty, "a dead letter without an error")
                }
            }
        }
        return readable ? .accepted : .rejected
    }

    /// CTWing data (transparent and decoded), presence and command responses; OneNET single and batched messages,
    /// `msg` as a string, an encrypted push, presence and a command result. Written here after the shapes in
    /// docs/profiles.md §11; the identifiers are made up.
    public static func seeds() -> [FuzzSeed] {
        [
            FuzzSeed("ctwing-transparent", text: #"{"timestamp":1767225600123,"tenantId":"1001","protocol":"lwm2m","productId":"15000001","payload":{"APPdata":"QRBWdWRxAGQM0QcKFgA="},"messageType":"dataReport","deviceId":"0a1b2c3d4e5f","IMSI":"undefined","IMEI":"860000000000001","RSRP":-97,"SINR":6,"ECL":0}"#),
            FuzzSeed("ctwing-decoded", text: #"{"timestamp":1767225600456,"productId":"15014772","serviceId":"notification","payload":{"serviceId":"notification","serviceData":{"IMEI":"860000000000002","Battery_Level":88,"Alarm_Status":1,"RSRP":110,"SNR":3,"CSQ":12}},"messageType":"dataReport","deviceId":"ffee","IMEI":"860000000000002"}"#),
            FuzzSeed("ctwing-online", text: #"{"timestamp":1767225600789,"productId":"15000001","messageType":"deviceOnlineOfflineReport","eventType":1,"deviceId":"0a1b2c3d4e5f","iccid":"undefined"}"#),
            FuzzSeed("ctwing-command", text: #"{"timestamp":1767225601000,"taskId":42,"result":{"resultCode":"DELIVERED","resultDetail":""},"productId":"15000001","messageType":"commandResponse","deviceId":"0a1b2c3d4e5f"}"#),
            FuzzSeed("onenet-data-hex", text: #"{"msg":{"at":1767225600000,"imei":"860000000000003","type":1,"ds_id":"3200_0_5750","value":"0175640367100104","dev_id":520000001},"msg_signature":"AAAAAAAAAAAAAAAAAAAAAA==","nonce":"abcd1234"}"#),
            FuzzSeed("onenet-batch", text: #"{"msg":[{"at":1767225600000,"type":1,"ds_id":"temp","value":21.5,"dev_id":7},{"at":1767225600001,"type":1,"ds_id":"doc","value":{"a":[1,2,{"b":"c"}]},"dev_id":7,"product_id":"p1"},{"at":1767225600002,"type":2,"status":0,"login_type":10,"dev_id":7},{"at":1767225600003,"type":7,"cmd_id":"x1","send_status":4,"dev_id":7}],"msg_signature":"c2lnbmF0dXJl","nonce":"n"}"#),
            FuzzSeed("onenet-string-msg", text: #"{"msg":"{\"at\":1767225600000,\"type\":1,\"ds_id\":\"level\",\"value\":\"text value\",\"dev_id\":9}","msg_signature":"x","nonce":"y"}"#),
            FuzzSeed("onenet-encrypted", text: #"{"enc_msg":"U2FsdGVkX1+abc","msg_signature":"x","nonce":"y","id":"1"}"#),
        ]
    }
}
