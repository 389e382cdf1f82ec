#ifndef CMosquitto_SHIM_H
#define CMosquitto_SHIM_H
#include <mosquitto.h>
/* MQTT_PROP_* and MQTT_PROTOCOL_* constants (session expiry property, protocol versions). */
#include <mqtt_protocol.h>
#endif
