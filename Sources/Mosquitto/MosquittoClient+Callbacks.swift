import CMosquitto

extension MosquittoClient {
    /// Registers the MQTT 5 callbacks (libmosquitto calls the v5 variants for MQTT 3.1.1 connections too).
    ///
    /// Each closure is a non-capturing `@convention(c)` function defined in a library file, so it is not
    /// main-actor isolated (a closure at the top level of `main.swift` would be, and crashes when libmosquitto
    /// calls it from its thread). `obj` is the `MosquittoClientCore` passed to `mosquitto_new`; no global map.
    static func installCallbacks(_ handle: OpaquePointer) {
        mosquitto_connect_v5_callback_set(handle) { mosq, obj, rc, flags, _ in
            guard let mosq, let obj else { return }
            MosquittoClientCore.from(obj).didConnect(handle: mosq, rc: rc, flags: flags)
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, obj, rc, _ in
            guard let obj else { return }
            MosquittoClientCore.from(obj).didDisconnect(rc: rc)
        }
        mosquitto_message_v5_callback_set(handle) { _, obj, message, _ in
            // libmosquitto frees `message` when this returns (mosquitto.h, on_message): the core copies it out.
            guard let obj, let message else { return }
            MosquittoClientCore.from(obj).didReceive(message)
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, obj, mid, count, granted, _ in
            guard let obj else { return }
            let codes = UnsafeBufferPointer(start: granted, count: granted == nil ? 0 : Int(max(count, 0)))
            MosquittoClientCore.from(obj).didSubscribe(mid: mid, granted: codes)
        }
        mosquitto_publish_v5_callback_set(handle) { _, obj, mid, reasonCode, _ in
            guard let obj else { return }
            MosquittoClientCore.from(obj).didPublish(mid: mid, reasonCode: reasonCode)
        }
    }

    /// Turns libmosquitto's log callback on for the handshake and off once connected.
    ///
    /// libmosquitto formats every log line (a `vsnprintf` into a fresh buffer, lib/logging_mosq.c) only when a
    /// callback is set, and it logs a debug line per PUBLISH; so it is set only while connecting, where its error
    /// lines (OpenSSL's reason for a failed handshake) make the attempt's error readable.
    static func setHandshakeLogging(_ handle: OpaquePointer, enabled: Bool) {
        if enabled {
            mosquitto_log_callback_set(handle) { _, obj, level, message in
                guard let obj, let message else { return }
                MosquittoClientCore.from(obj).didLog(level: level, message: message)
            }
        } else {
            mosquitto_log_callback_set(handle, nil)
        }
    }
}
