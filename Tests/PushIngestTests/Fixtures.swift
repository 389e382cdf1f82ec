/// Push bodies from ../shared/protocols/carrier-push.md (our reference material), copied verbatim where the spec
/// gives a whole body, plus the variants the spec describes in words. The project must not need shared/ to test.
enum Fixtures {
    // MARK: CTWing (spec §4.1)

    /// Transparent (base64 APPdata) uplink.
    static let ctwingTransparent = """
        {"upPacketSN":"","upDataSN":"","topic":"v1/up/ad","timestamp":1589444235861,
         "tenantId":"10461180","serviceId":"","protocol":"lwm2m","productId":"10053421",
         "payload":{"APPdata":"UFUAPBAAAAYBAAMAJwMnuwpogDAwYGckCQYAAQAADjxkZAJVcVCnAAAAAAAAAEYAAAAAAAAAAAEDJ7sKAAAAAA=="},
         "messageType":"dataReport","deviceType":"","deviceId":"44d0b9e48d404094bbbcf889e4e64ece",
         "assocAssetId":"","IMSI":"undefined","IMEI":"860803030676429"}
        """
    /// The APPdata above, decoded (hex).
    static let ctwingTransparentBytesHex =
        "5055003c1000000601000300270327bb0a688030306067240906000100000e3c646402557150a700000000000000460000000000000000010327bb0a00000000"

    /// Online report.
    static let ctwingOnline = """
        {"timestamp":1589444231825,"tenantId":"10461180","protocol":"lwm2m","productId":"10053421",
         "messageType":"deviceOnlineOfflineReport","iccid":"undefined","eventType":1,
         "deviceId":"44d0b9e48d404094bbbcf889e4e64ece"}
        """

    /// Command response.
    static let ctwingCommandResponse = """
        {"timestamp":1589444233258,"tenantId":"10461180","taskId":1,
         "result":{"resultDetail":"","resultCode":"DELIVERED"},"protocol":"lwm2m",
         "productId":"10053421","messageType":"commandResponse","deviceId":"44d0b9e48d404094bbbcf889e4e64ece"}
        """

    /// Profile-decoded (物模型) LwM2M uplink from a parking magnetometer.
    static let ctwingDecoded = """
        {"upPacketSN":-1,"upDataSN":-1,"topic":"v1/up/ad19","timestamp":1622186044981,
         "tenantId":"2000030881","serviceId":1,"protocol":"lwm2m","productId":"15034864",
         "payload":{"parking_state":0,"battery_voltage":3.656,"Signal_Power":-90,"pack_count":506,
                    "ptime":1622186096000,"mag_id":127763,"Manufacturer":"WXHS","Model":"P_MD"},
         "messageType":"dataReport","deviceType":"","deviceId":"87f4b2814f434992a94a4871b32c6b75",
         "assocAssetId":"","IMSI":"undefined","IMEI":"864016059485616"}
        """
    /// The `payload` object of `ctwingDecoded`, exactly as it appears there.
    static let ctwingDecodedPayload = """
        {"parking_state":0,"battery_voltage":3.656,"Signal_Power":-90,"pack_count":506,
                    "ptime":1622186096000,"mag_id":127763,"Manufacturer":"WXHS","Model":"P_MD"}
        """

    /// TCP-protocol product variant: `"protocol":"tcp","topic":"ad","upPacketSN":-1,"upDataSN":-1`, APPdata holding a
    /// JSON document (`{"temp":21.5,"hum":40}`).
    static let ctwingTCP = """
        {"upPacketSN":-1,"upDataSN":-1,"topic":"ad","timestamp":1589444235999,"tenantId":"10461180","serviceId":"",
         "protocol":"tcp","productId":"10053421","payload":{"APPdata":"eyJ0ZW1wIjoyMS41LCJodW0iOjQwfQ=="},
         "messageType":"dataReport","deviceType":"","deviceId":"44d0b9e48d404094bbbcf889e4e64ece","assocAssetId":"",
         "IMSI":"undefined","IMEI":"860803030676429"}
        """

    /// The LiAn smoke detector push of device-profiles/lian/smoke-ctwing.yaml (a real platform message, profile mode).
    static let ctwingLian = """
        {"upPacketSN":-1,"upDataSN":-1,"topic":"v1/up/ad19prof","timestamp":1606982320277,"tenantId":"10461180",
         "serviceId":"","protocol":"lwm2m","productId":"15014772",
         "payload":{"serviceId":"notification","serviceData":{"TData":30,"SNR":1,"RSRP":114,"IMEI":"860374051096202",
         "Cell_ID_Length":8,"Cell_ID":"38848339","CSQ":5,"Battery_Level":100,"Alarm_Status":2,"AlarmLevel":100}},
         "messageType":"dataReport","deviceType":"","deviceId":"acf7baaee65e431eadfb8f5fe50e8b81","assocAssetId":"",
         "IMSI":"undefined","IMEI":"860374051096202"}
        """

    // MARK: OneNET (spec §4.2)

    /// The token the OneNET tests configure.
    static let onenetToken = "citygate-test-token"

    /// Type 1 message (NB transparent object, hex value), one line as the platform sends it.
    static let onenetDataMsg =
        #"{"at":1553224758882,"imei":"866971030389733","type":1,"ds_id":"3200_0_5750","value":"800464000000000000FF2C70063400120103191005010000000020030100003102272241036300005002000080020000810200008201000F16","dev_id":520156945}"#
    /// Base64(MD5(token + "a1b2c3d4" + onenetDataMsg)), computed independently (Python hashlib).
    static let onenetDataSignature = "zsVkT6JLtrTUawX9CJYLdg=="
    /// The data push with its envelope.
    static let onenetData = #"{"msg":\#(onenetDataMsg),"msg_signature":"\#(onenetDataSignature)","nonce":"a1b2c3d4"}"#

    /// Type 2 message (online, NB-IoT login).
    static let onenetOnlineMsg = #"{"at":1553224749838,"login_type":10,"imei":"866971030389733","type":2,"dev_id":520156945,"status":1}"#
    /// Base64(MD5(token + "e5f6a7b8" + onenetOnlineMsg)), computed independently.
    static let onenetOnlineSignature = "DJiz8AlQAt0GeP22UtMEkg=="
    /// The online push with its envelope.
    static let onenetOnline = #"{"msg":\#(onenetOnlineMsg),"msg_signature":"\#(onenetOnlineSignature)","nonce":"e5f6a7b8"}"#

    /// URL verification: msg, nonce and Base64(MD5(token + nonce + msg)), computed independently. The signature holds
    /// `+` and `/`, so URL encoding matters.
    static let verifyMsg = "citygate-verify-123"
    static let verifyNonce = "abcdefgh"
    static let verifySignature = "ik6bCgx1R+GrgER/I7txgg=="

    /// The spec's examples verbatim, placeholders and all (for parsing without signature checks).
    static let onenetSpecData = """
        {"msg":{"at":1553224758882,"imei":"866971030389733","type":1,"ds_id":"3200_0_5750",
                "value":"800464000000000000FF2C70063400120103191005010000000020030100003102272241036300005002000080020000810200008201000F16",
                "dev_id":520156945},
         "msg_signature":"<digest>","nonce":"<nonce>"}
        """
    static let onenetSpecOnline = """
        {"msg":{"at":1553224749838,"login_type":10,"imei":"866971030389733","type":2,"dev_id":520156945,"status":1},
         "msg_signature":"<digest>","nonce":"<nonce>"}
        """
}
