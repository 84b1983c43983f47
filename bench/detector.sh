#!/usr/bin/env bash
# Detector throughput on a long synthetic trace, and the store's write rate.
# Prints figures; not a timed test (this machine is shared and noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p blackout-engine --example engine_throughput
cargo build --release -q -p blackout-store --example store_write_rate
for run in 1 2 3; do
  ./target/release/examples/engine_throughput "${1:-2000000}"
done
./target/release/examples/store_write_rate
