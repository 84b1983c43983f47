#!/usr/bin/env bash
# Live feed ingest on one core with the kp watch set: BMP Route Monitoring (framing,
# decoding, router session, BgpState::apply) and RIS Live JSON (parsing,
# BgpState::apply), over the 641,957 routes of the real rrc06 RIB in shared/data.
# Prints figures; not a timed test (this machine is shared and noisy).
#
#   bench/feeds.sh [DATA_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p blackout-feeds --example feeds_ingest
exec taskset -c 0 "${CARGO_TARGET_DIR:-target}/release/examples/feeds_ingest" "$@"
