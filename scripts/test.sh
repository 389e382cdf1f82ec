#!/usr/bin/env bash
# The whole test suite: installs its system packages, builds once, runs every test target (unit tests, shipped
# profile vectors, and integration tests against real mosquitto brokers the tests start on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test-output.txt
