#!/usr/bin/env bash
# Detection latency of `blackout watch` in the lab, per fault.
#
#   bench/latency.sh [lab|fast]
#
# Runs watch's end-to-end lab test (crates/blackout/tests/watch_lab.rs) in release
# mode, under the lab's lock, with the lab profile's own timing (`lab`, the default:
# probes every 5 s, recovery hold 10 s) or the test suite's (`fast`: every 2 s).
# The test injects every fault of the lab, waits for watch's event and heals; it
# writes, per fault, the time from the fault's timestamp in the lab's fault log to
# the moment watch printed the event, and for faults that BGP sees, from the first
# withdrawal the feeds saw (the event's earliest BGP evidence). This script prints
# them as a table against the targets: BGP-visible faults within 2 s of the first
# withdrawal, probe-only faults within two probe intervals of the fault.
# Needs root. Exits non-zero if the test found a problem (the table still prints).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "needs root (the lab)" >&2; exit 2; }
TIMING=${1:-lab}
case "$TIMING" in lab|fast) ;; *) echo "usage: bench/latency.sh [lab|fast]" >&2; exit 2 ;; esac
FIGURES=$(mktemp)
trap 'rm -f "$FIGURES"' EXIT

cargo build --release -p blackout --test watch_lab >&2
status=0
BLACKOUT_WATCH_LAB_TIMING=$TIMING BLACKOUT_LAB_LATENCY_OUT=$FIGURES BLACKOUT_LAB_REQUIRED=1 \
  flock /tmp/blackout-lab.lock \
  cargo test --release -p blackout --test watch_lab -- --nocapture >&2 || status=$?

if [[ ! -s "$FIGURES" ]]; then
  echo "the test wrote no figures (exit $status)" >&2
  exit 1
fi
awk -F'\t' '
  NR == 1 { next }
  {
    interval = $4
    if ($3 == "true") { target = "2 s after 1st withdrawal"; figure = $6; limit = 2 }
    else { target = sprintf("%g s (2 probe intervals)", 2 * interval); figure = $5; limit = 2 * interval }
    verdict = (figure == "-") ? "NOT SEEN" : (figure + 0 <= limit ? "met" : "MISSED")
    printf "| %-15s | %-12s | %9s | %20s | %-26s | %-8s |\n", $1, $2, fmt($5), fmt($6), target, verdict
  }
  function fmt(v) { return v == "-" ? "-" : sprintf("%.2f s", v) }
  BEGIN {
    printf "| %-15s | %-12s | %9s | %20s | %-26s | %-8s |\n", "fault", "cause", "detected", "after 1st withdrawal", "target", "verdict"
    printf "|%s|%s|%s|%s|%s|%s|\n", "-----------------", "--------------", "-----------", "----------------------", "----------------------------", "----------"
  }
' "$FIGURES"
exit "$status"
