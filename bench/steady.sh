#!/usr/bin/env bash
# A steady lab under random loss: `blackout watch` must call no outage, and stay small.
#
#   bench/steady.sh [MINUTES] [path/to/blackout]      (10 minutes by default)
#
# Brings the lab up (under the lab's lock), puts 2 % random loss (nftables) on both
# directions of the origin's two uplinks (to AS64501 and AS64502), runs
# `blackout watch --profile lab` in the vantage namespace for MINUTES, and reports:
# the loss a ping from the vantage point sees, the events watch printed (the target
# is none: 2 % loss is no outage), and watch's peak resident memory (VmHWM, target
# under 50 MB) with its RSS at the end. Takes the lab down afterwards. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "needs root (the lab)" >&2; exit 2; }
if [[ -z "${BLACKOUT_LAB_LOCKED:-}" ]]; then
  exec env BLACKOUT_LAB_LOCKED=1 flock /tmp/blackout-lab.lock "$0" "$@"
fi
MINUTES=${1:-10}
BIN=${2:-}
if [[ -z "$BIN" ]]; then
  cargo build --release -p blackout >&2
  BIN=${CARGO_TARGET_DIR:-target}/release/blackout
fi
BIN=$(realpath "$BIN")
STATE=/run/blackout-lab-steady
TMP=$(mktemp -d)
WATCH_PID=
cleanup() {
  [[ -n "$WATCH_PID" ]] && kill "$WATCH_PID" 2>/dev/null || true
  "$BIN" lab --state-dir "$STATE" down >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

"$BIN" lab --state-dir "$STATE" up >&2
cat > "$TMP/vrps.json" <<'JSON'
{"roas": [{"prefix": "203.0.113.0/24", "maxLength": 26, "asn": "AS64500", "ta": "lab"}]}
JSON

# 2 % loss each way on origin-up1 and origin-up2: every packet that arrives at
# either end of either link, BGP included, is dropped with probability 2 %. With
# nftables' netdev ingress hook rather than netem, which not every kernel has.
for end in bo-origin:up1 bo-origin:up2 bo-up1:origin bo-up2:origin; do
  ns=${end%%:*} dev=${end#*:}
  ip netns exec "$ns" nft -f - <<NFT
table netdev bo_steady_$dev {
  chain ingress_$dev {
    type filter hook ingress device "$dev" priority 0; policy accept;
    numgen random mod 100 < 2 counter drop
  }
}
NFT
done
loss=$(ip netns exec bo-vantage ping -q -n -c 500 -i 0.01 -W 1 203.0.113.130 | grep -o '[0-9.]*% packet loss')
echo "ping from the vantage point to 203.0.113.130 under the loss: $loss" >&2

ip netns exec bo-vantage "$BIN" watch --profile lab --db "$TMP/steady.db" --vrps "$TMP/vrps.json" \
  --listen 127.0.0.1:8470 --format json > "$TMP/events.jsonl" 2> "$TMP/watch.log" &
WATCH_PID=$!   # ip netns exec becomes watch itself
echo "watching for $MINUTES minutes (pid $WATCH_PID)" >&2
end=$(( $(date +%s) + MINUTES * 60 ))
while (( $(date +%s) < end )); do
  kill -0 "$WATCH_PID" 2>/dev/null || { echo "watch died:" >&2; cat "$TMP/watch.log" >&2; exit 1; }
  sleep 5
done
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$WATCH_PID/status")
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$WATCH_PID/status")
kill -TERM "$WATCH_PID"
wait "$WATCH_PID" || true
WATCH_PID=
tail -1 "$TMP/watch.log" >&2

started=$(grep -c '"change":"started"' "$TMP/events.jsonl" || true)
echo
echo "steady lab, ${MINUTES} min, 2 % loss each way on both uplinks (ping: $loss)"
echo "  events watch started: $started (target: 0)"
if (( started > 0 )); then
  grep '"change":"started"' "$TMP/events.jsonl" | while read -r line; do
    field() { grep -o "\"$1\":\"[^\"]*\"" <<<"$line" | head -1 | cut -d'"' -f4; }
    echo "    $(field start) $(field cause) on $(field entity): $(field summary)"
  done
fi
awk -v h="$hwm" -v r="$rss" 'BEGIN { printf "  watch peak RSS (VmHWM): %.1f MB (target: under 50 MB); RSS at the end: %.1f MB\n", h / 1024, r / 1024 }'
(( started == 0 )) && (( hwm < 50 * 1024 ))
