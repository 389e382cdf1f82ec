#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts a mosquitto on loopback, the gateway and simulated devices of
# all three families (city neurons, chargers, farm monitors), and shows a live summary. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product citygate
exec .build/release/citygate demo "$@"
