#!/usr/bin/env bash
# Installs what CityGate needs on Debian/Ubuntu: the C libraries it links (libmosquitto, libzstd, libsqlite3),
# the broker and clients its demo and tests run (mosquitto, mosquitto_pub/sub), VictoriaMetrics and curl as the uplink's
# receiver in the integration test and `bench uplink`/`bench store`, openssl for the TLS tests, Python paho-mqtt as an
# outside MQTT client, libcoap's coap-client and Python aiocoap as outside CoAP clients, systemd for
# systemd-analyze (the edge units are verified, never started), Chromium with its WebDriver and Python selenium
# for the console's browser test. Swift itself must already be on PATH.
set -euo pipefail

packages=(pkg-config libmosquitto-dev libzstd-dev libsqlite3-dev mosquitto mosquitto-clients openssl python3 libcoap3-bin victoria-metrics curl systemd chromium chromium-driver fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# A mosquitto installed as a service would hold port 1883; the demo and tests start their own brokers instead.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then :; fi

if ! python3 -c 'import paho.mqtt' 2>/dev/null; then
    echo "setup: installing paho-mqtt"
    python3 -m pip install --quiet --disable-pip-version-check paho-mqtt 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages paho-mqtt
fi
if ! python3 -c 'import schemathesis' 2>/dev/null; then
    echo "setup: installing schemathesis"
    python3 -m pip install --quiet --disable-pip-version-check schemathesis 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages schemathesis
fi
if ! python3 -c 'import aiocoap' 2>/dev/null; then
    echo "setup: installing aiocoap"
    python3 -m pip install --quiet --disable-pip-version-check aiocoap 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages aiocoap
fi
if ! python3 -c 'import selenium' 2>/dev/null; then
    echo "setup: installing selenium"
    python3 -m pip install --quiet --disable-pip-version-check selenium 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages selenium
fi
command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6.1 or newer is required)" >&2; exit 1; }
