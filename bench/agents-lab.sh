#!/usr/bin/env bash
# Fault to event with three vantage points in the lab (issue 15), per fault.
#
#   [TIMING=fast|lab|both] bench/agents-lab.sh [FAULT,FAULT,...|all]
#
# Runs the agents' end-to-end lab test (crates/blackout/tests/agents_lab.rs) in
# release mode, under the lab's lock: a nats-server in the central's namespace, one
# `blackout agent` in each of the three vantage namespaces, the central `blackout
# watch --nats --no-probes`. TIMING picks the probe interval: `fast` every 2 s (the
# test suite's), `lab` every 5 s (the lab profile's own), `both` (the default) one
# run of each, one after the other. For each fault it runs (by default the
# test's selection; `all`: every fault of the lab but `vantage-cut`, whose part is
# the path cut's) it writes the time from the fault's timestamp in the lab's fault
# log to the moment the central printed the event. This script prints them as a
# table, in seconds and in probe intervals, against the target: within 2 probe
# intervals (faults that only BGP sees reach the central through its feeds, not the
# agents, and are listed too). "first said" is the time to the event's first update,
# whatever its cause then: a flap is told as the outage of its first withdrawal at
# once, and as a flap only once its cycles reach the profile's flap count. Needs root. Exits non-zero if the test found a
# problem (the table still prints).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "needs root (the lab)" >&2; exit 2; }
TIMING=${TIMING:-both}
case $TIMING in
  both) TIMINGS=(fast lab) ;;
  fast | lab) TIMINGS=("$TIMING") ;;
  *) echo "TIMING is fast, lab or both, not $TIMING" >&2; exit 2 ;;
esac
FIGURES=$(mktemp -d)
trap 'rm -rf "$FIGURES"' EXIT
if [[ -n ${1:-} ]]; then export BLACKOUT_AGENTS_LAB_FAULTS=$1; fi

cargo build --release -p blackout --test agents_lab >&2
status=0
for timing in "${TIMINGS[@]}"; do
  BLACKOUT_WATCH_LAB_TIMING=$timing BLACKOUT_AGENTS_LAB_OUT=$FIGURES/$timing BLACKOUT_LAB_REQUIRED=1 \
    flock /tmp/blackout-lab.lock \
    cargo test --release -p blackout --test agents_lab -- --nocapture >&2 || status=$?
done

for timing in "${TIMINGS[@]}"; do
  figures=$FIGURES/$timing
  if [[ ! -s "$figures" ]]; then
    echo "the $timing run wrote no figures (exit $status)" >&2
    status=1
    continue
  fi
  echo
  echo "timing $timing: probes every $(awk -F'\t' 'NR == 2 { print $3; exit }' "$figures") s"
  awk -F'\t' '
    NR == 1 { next }
    {
      interval = $3
      intervals = ($4 == "-") ? "-" : sprintf("%.2f", $4 / interval)
      verdict = ($4 == "-") ? "NOT SEEN" : ($4 / interval <= 2 ? "met" : "MISSED")
      if ($4 != "-") { total++; if ($4 / interval <= 2) met++ }
      printf "| %-27s | %-12s | %9s | %9s | %-8s | %10s |\n", $1, $2, fmt($4), intervals, verdict, fmt($7 == "" ? "-" : $7)
    }
    END { printf "%d of %d faults within 2 probe intervals\n", met, total }
    function fmt(v) { return v == "-" ? "-" : sprintf("%.2f s", v) }
    BEGIN {
      printf "| %-27s | %-12s | %9s | %9s | %-8s | %10s |\n", "fault", "cause", "detected", "intervals", "verdict", "first said"
      printf "|%s|%s|%s|%s|%s|%s|\n", "-----------------------------", "--------------", "-----------", "-----------", "----------", "------------"
    }
  ' "$figures"
done
exit "$status"
