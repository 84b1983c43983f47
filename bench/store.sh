#!/usr/bin/env bash
# The store on SQLite and on PostgreSQL side by side, through the same Store:
# signal points and events inserted per second, and query latency (the 50 newest
# events, one event by id, ten minutes of a series), at 1x, 10x and 100x the work,
# with the ratio PostgreSQL/SQLite. pgbench's own figures on the same kind of
# scratch cluster are printed beside them. Needs PostgreSQL's programs (Debian's
# `postgresql`); as root, the cluster runs as the user `postgres`.
# Prints figures; not a timed test (this machine is shared and noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p blackout-store --features postgres --example store_compare
bin="${CARGO_TARGET_DIR:-target}/release/examples/store_compare"
for scale in ${SCALES:-1 10 100}; do
  "$bin" "$scale"
  echo
done
BLACKOUT_PGBENCH=1 "$bin" 1 | grep '^pgbench'
