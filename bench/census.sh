#!/usr/bin/env bash
# Census benchmark: `blackout census` against fping on loopback, in the same run.
#
#   [FAMILY=ipv4|ipv6|both] [RUNS=5] bench/census.sh [path/to/blackout]
#
# FAMILY (default both) picks the sweeps: ipv4 the loopback ones, ipv6 the
# namespace ones.
# Sweeps 127.0.0.0/16 (65,536 addresses) with blackout (raw socket, then ping
# socket) and with `fping -g 127.0.0.0/16 -r 0 -i 0 -q -a`, each RUNS times,
# alternating, and prints the best and median wall times, the rates, the ratio to
# fping and how many addresses each reported alive. Then times the census of
# 127.1.0.0/22 (1,024 addresses). Then IPv6: in a network namespace of its own, a
# dummy interface whose 2001:db8:1::/112 is a local route (every address in it
# answers, as 127.0.0.0/8 does), swept at 1x, 10x and 100x the work (a /120, 256
# addresses; a /116 ≈ 16x; a /113 = 128x) by `blackout census` and by
# `fping -6 -f LIST -r 0 -i 0 -q -a` over the same addresses. Loopback and
# documentation space only. Needs root (raw sockets, namespaces, and
# net.ipv4.ping_group_range, which it restores) and fping.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-}
if [[ -z "$BIN" ]]; then
  cargo build --release -p blackout >&2
  BIN=${CARGO_TARGET_DIR:-target}/release/blackout
fi
RUNS=${RUNS:-5}
FAMILY=${FAMILY:-both}
case "$FAMILY" in
  ipv4|ipv6|both) ;;
  *) echo "FAMILY is ipv4, ipv6 or both, not $FAMILY" >&2; exit 2 ;;
esac
command -v fping >/dev/null || { echo "needs fping: apt-get install fping" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "needs root" >&2; exit 2; }
RANGE_FILE=/proc/sys/net/ipv4/ping_group_range
OLD_RANGE=$(cat "$RANGE_FILE")
restore() { echo "$OLD_RANGE" > "$RANGE_FILE"; }
trap restore EXIT
TMP=$(mktemp -d)
trap 'restore; rm -rf "$TMP"' EXIT

now() { date +%s.%N; }

# run NAME COMMAND...: appends "seconds alive" to $TMP/NAME
run() {
  local name=$1; shift
  local start end alive
  start=$(now)
  alive=$("$@" 2>/dev/null | wc -l)
  end=$(now)
  awk -v s="$start" -v e="$end" -v a="$alive" 'BEGIN { printf "%.4f %d\n", e - s, a }' >> "$TMP/$name"
}

census_raw()  { echo "1 0" > "$RANGE_FILE"; "$BIN" census "$1" --format json; }
census_ping() { echo "0 2147483647" > "$RANGE_FILE"; "$BIN" census "$1" --format json; }

stats() { # NAME ADDRESSES -> "best median rate alive"
  sort -n "$TMP/$1" | awk -v n="$2" '{ t[NR]=$1; a[NR]=$2 } END {
    m = t[int((NR+1)/2)]; printf "%.3f %.3f %.0f %d", t[1], m, n/m, a[1] }'
}

if [[ "$FAMILY" != ipv6 ]]; then
for _ in $(seq "$RUNS"); do
  run fping fping -g 127.0.0.0/16 -r 0 -i 0 -q -a
  run raw census_raw 127.0.0.0/16
  run ping census_ping 127.0.0.0/16
  run raw22 census_raw 127.1.0.0/22
  run ping22 census_ping 127.1.0.0/22
done

read -r FB FM FR FA <<<"$(stats fping 65536)"
printf "%-34s %8s %8s %12s %8s %s\n" "sweep of 127.0.0.0/16" "best s" "median s" "addresses/s" "alive" "vs fping (median)"
printf "%-34s %8s %8s %12s %8s\n" "fping -r 0 -i 0 (raw socket)" "$FB" "$FM" "$FR" "$FA"
for mode in raw ping; do
  read -r B M R A <<<"$(stats $mode 65536)"
  printf "%-34s %8s %8s %12s %8s %.2fx\n" "blackout census ($mode socket)" "$B" "$M" "$R" "$A" "$(awk -v f="$FM" -v m="$M" 'BEGIN { print f / m }')"
done
echo
for mode in raw ping; do
  read -r B M R A <<<"$(stats ${mode}22 1024)"
  printf "%-34s best %s s, median %s s, %s alive\n" "blackout census 127.1.0.0/22 ($mode)" "$B" "$M" "$A"
done
echo "(fping reports 65,534: it skips the network and broadcast addresses of the prefix; blackout sweeps all 65,536)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
[[ "$FAMILY" == ipv4 ]] && exit 0

# ---- IPv6: a namespace with a dummy interface (or, where the kernel has no dummy
# driver, its loopback), 2001:db8:1::/112 local to it ----
NS=bo-census6-$$
ip netns add "$NS"
trap 'restore; ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
ip -n "$NS" link set lo up
if ip -n "$NS" link add dummy0 type dummy 2>/dev/null; then
  ip -n "$NS" link set dummy0 up
  ip -n "$NS" -6 addr add 2001:db8:1::1/64 dev dummy0 nodad
else
  echo "census.sh: no dummy driver in this kernel; the IPv6 sweep uses the namespace's loopback" >&2
  ip -n "$NS" -6 addr add 2001:db8:1::1/128 dev lo nodad
fi
ip -n "$NS" -6 route add local 2001:db8:1::/112 dev lo
in_ns() { ip netns exec "$NS" "$@"; }

# v6list PREFIX_LEN: every address of 2001:db8:1::/PREFIX_LEN, one a line
v6list() { python3 -c 'import ipaddress,sys; [print(a) for a in ipaddress.ip_network(sys.argv[1])]' "2001:db8:1::/$1"; }

declare -A V6SIZE=([120]=256 [116]=4096 [113]=32768)
declare -A V6SCALE=([120]=1x [116]=16x [113]=128x)
for len in 120 116 113; do v6list "$len" > "$TMP/v6-$len.list"; done
for _ in $(seq "$RUNS"); do
  for len in 120 116 113; do
    run "fping6-$len" in_ns fping -6 -f "$TMP/v6-$len.list" -r 0 -i 0 -q -a
    run "census6-$len" in_ns "$BIN" census "2001:db8:1::/$len" --format json --max-addresses "${V6SIZE[$len]}"
  done
done
echo
printf "%-40s %8s %8s %12s %8s %s\n" "IPv6 sweep (namespace, local /112)" "best s" "median s" "addresses/s" "alive" "vs fping -6 (median)"
for len in 120 116 113; do
  n=${V6SIZE[$len]}
  read -r FB FM FR FA <<<"$(stats "fping6-$len" "$n")"
  read -r B M R A <<<"$(stats "census6-$len" "$n")"
  printf "%-40s %8s %8s %12s %8s\n" "fping -6 /$len ($n, ${V6SCALE[$len]})" "$FB" "$FM" "$FR" "$FA"
  printf "%-40s %8s %8s %12s %8s %.2fx\n" "blackout census /$len ($n, ${V6SCALE[$len]})" "$B" "$M" "$R" "$A" "$(awk -v f="$FM" -v m="$M" 'BEGIN { print f / m }')"
done
echo "(ratio > 1: blackout is faster; the census is told --max-addresses past its /116 default for the /113)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
