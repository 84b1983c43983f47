#!/usr/bin/env bash
# Fault to event with three vantage points in the lab (issue 15), per fault.
#
#   bench/agents-lab.sh [FAULT,FAULT,...|all]
#
# Runs the agents' end-to-end lab test (crates/blackout/tests/agents_lab.rs) in
# release mode, under the lab's lock: a nats-server in the central's namespace, one
# `blackout agent` in each of the three vantage namespaces, the central `blackout
# watch --nats --no-probes`, probes every 2 s. For each fault it runs (by default the
# test's selection; `all`: every fault of the lab but `vantage-cut`, whose part is
# the path cut's) it writes the time from the fault's timestamp in the lab's fault
# log to the moment the central printed the event. This script prints them as a
# table, in seconds and in probe intervals, against the target: within 2 probe
# intervals (faults that only BGP sees reach the central through its feeds, not the
# agents, and are listed too). Needs root. Exits non-zero if the test found a
# problem (the table still prints).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "needs root (the lab)" >&2; exit 2; }
FIGURES=$(mktemp)
trap 'rm -f "$FIGURES"' EXIT
if [[ -n ${1:-} ]]; then export BLACKOUT_AGENTS_LAB_FAULTS=$1; fi

cargo build --release -p blackout --test agents_lab >&2
status=0
BLACKOUT_AGENTS_LAB_OUT=$FIGURES BLACKOUT_LAB_REQUIRED=1 \
  flock /tmp/blackout-lab.lock \
  cargo test --release -p blackout --test agents_lab -- --nocapture >&2 || status=$?

if [[ ! -s "$FIGURES" ]]; then
  echo "the test wrote no figures (exit $status)" >&2
  exit 1
fi
awk -F'\t' '
  NR == 1 { next }
  {
    interval = $3
    intervals = ($4 == "-") ? "-" : sprintf("%.2f", $4 / interval)
    verdict = ($4 == "-") ? "NOT SEEN" : ($4 / interval <= 2 ? "met" : "MISSED")
    printf "| %-27s | %-12s | %9s | %9s | %-8s |\n", $1, $2, fmt($4), intervals, verdict
  }
  function fmt(v) { return v == "-" ? "-" : sprintf("%.2f s", v) }
  BEGIN {
    printf "| %-27s | %-12s | %9s | %9s | %-8s |\n", "fault", "cause", "detected", "intervals", "verdict"
    printf "|%s|%s|%s|%s|%s|\n", "-----------------------------", "--------------", "-----------", "-----------", "----------"
  }
' "$FIGURES"
exit "$status"
