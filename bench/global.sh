#!/usr/bin/env bash
# The global view at Internet scale, on one core, against bgpdump in the same run.
#
# 1. Global replay of a full table under 24 full-feed peers plus a day of updates:
#    bench/global-table.py re-encodes the real rrc06 RIB of ../shared/data
#    (323,486 IPv4 prefixes) under 24 peers (7.76 M RIB entries) and makes a day of
#    path churn over it (100,000 updates per peer, 2.9 M messages), at 1x, 10x and
#    100x the work (every 100th prefix, every 10th, all; updates scaled alike).
#    Timed: `blackout replay --global --geo CSV4 CSV6 --format json RIB UPDATES`
#    against `bgpdump -m RIB; bgpdump -m UPDATES`, each under `taskset -c $CORE`,
#    with peak RSS from /usr/bin/time (the target is 2 GB at most, the aim 1 GB).
#    Prints the ratio bgpdump/blackout (the target: 1 or more) and how the time grows.
# 2. The growth curve on the real rrc06 RIB (derived/…tdv2-reencoded.gz, 641,957
#    entries): `blackout replay` with 4 watched prefixes (kp), 1,000, 10,000 and
#    100,000 (profiles of whole origin ASes drawn from the table's own prefixes), and
#    --global; bgpdump -m on the same file for scale. The target is linear growth,
#    with decoding the main cost.
# 3. Live full-feed ingest in global mode over loopback (crates/watch/examples/
#    global_ingest.rs): a BMP router and a RIS Live server on 127.0.0.1 send the
#    rrc06 routes (641,957, then as many path changes) to the real station and
#    client, which feed an Engine watching every country and AS. The target is
#    200,000 route updates/s per core.
#
# The tables are derived data: they go to GLOBAL_CACHE (default
# $TMPDIR/blackout-global-bench), never into the repository, and are built once.
#
# Environment: DATA (default ../shared/data beside the repository), RUNS (default 1;
# best of), CORE (default 0), GLOBAL_CACHE, UPDATES_PER_PEER (default 100000),
# PARTS (default "replay growth ingest").
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-1}
CORE=${CORE:-0}
TARGET=${CARGO_TARGET_DIR:-target}
CACHE=${GLOBAL_CACHE:-${TMPDIR:-/tmp}/blackout-global-bench}
UPDATES_PER_PEER=${UPDATES_PER_PEER:-100000}
PARTS=${PARTS:-replay growth ingest}

TEXT_RIB="$DATA/text/ris-rrc06_bview.20100701.0759.bgpdump-m.txt.gz"
DERIVED="$DATA/derived/ris-rrc06_bview.20100701.0759.tdv2-reencoded.gz"
CSV4="$DATA/geo/geo-whois-asn-country-ipv4.20260617.csv.gz"
CSV6="$DATA/geo/geo-whois-asn-country-ipv6.20260617.csv.gz"
for file in "$TEXT_RIB" "$DERIVED" "$CSV4" "$CSV6"; do
    [ -f "$file" ] || { echo "missing $file (../shared/data must sit beside the repository)" >&2; exit 1; }
done
command -v bgpdump >/dev/null || apt-get install -y bgpdump >/dev/null
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null

cargo build --release -q -p blackout
BLACKOUT="$TARGET/release/blackout"
mkdir -p "$CACHE"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# timed CMD...: runs CMD on one core RUNS times; prints "best_seconds peak_rss_kb"
timed() {
    local best="" rss=0 secs kb
    for _ in $(seq "$RUNS"); do
        taskset -c "$CORE" /usr/bin/time -f "%e %M" -o "$TMP/time" "$@" >/dev/null 2>"$TMP/err" || {
            echo "failed: $* ($(grep -v '^Command' "$TMP/err" | tail -1))" >&2
            return 1
        }
        read -r secs kb <"$TMP/time"
        if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$secs; fi
        [ "$kb" -gt "$rss" ] && rss=$kb
    done
    echo "$best $rss"
}

# bgpdump_both RIB UPDATES: bgpdump -m over both files, one after the other
cat >"$TMP/bgpdump-both" <<'EOF'
#!/bin/sh
bgpdump -m "$1" && bgpdump -m "$2"
EOF
chmod +x "$TMP/bgpdump-both"

mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

if [[ " $PARTS " == *" replay "* ]]; then
    for every in 100 10 1; do
        if [ ! -f "$CACHE/built.every$every.txt" ]; then
            echo "building the 24-peer table, every ${every}th prefix, into $CACHE" >&2
            python3 bench/global-table.py "$TEXT_RIB" "$CACHE/rib.every$every.gz" "$CACHE/updates.every$every.gz" \
                --every "$every" --updates-per-peer $((UPDATES_PER_PEER / every)) >"$CACHE/built.every$every.tmp"
            mv "$CACHE/built.every$every.tmp" "$CACHE/built.every$every.txt"
        fi
    done
    echo "== global replay: 24 full-feed peers + a day of updates; one core (taskset -c $CORE), best of $RUNS"
    printf '%-6s %10s %10s %11s %9s %11s %7s %7s %11s\n' scale rib_entries updates bgpdump_s MB blackout_s MB ratio growth
    first=""
    for every in 100 10 1; do
        rib="$CACHE/rib.every$every.gz"; upd="$CACHE/updates.every$every.gz"
        entries=$(sed -n 's/.*rib_entries=\([0-9]*\).*/\1/p' "$CACHE/built.every$every.txt")
        updates=$(sed -n 's/.*update_messages=\([0-9]*\).*/\1/p' "$CACHE/built.every$every.txt")
        read -r d_s d_kb < <(timed "$TMP/bgpdump-both" "$rib" "$upd")
        read -r b_s b_kb < <(timed "$BLACKOUT" replay --global --geo "$CSV4" "$CSV6" --format json "$rib" "$upd")
        [ -z "$first" ] && first=$b_s
        awk -v s="$((100 / every))x" -v e="$entries" -v u="$updates" -v d="$d_s" -v dk="$d_kb" -v b="$b_s" -v bk="$b_kb" -v f="$first" 'BEGIN {
            printf "%-6s %10d %10d %11.2f %9.0f %11.2f %7.0f %7.2f %10.1fx\n", s, e, u, d, dk / 1024, b, bk / 1024, d / b, b / f }'
    done
    echo "(ratio = bgpdump time / blackout time, 1 or more is the target; MB = peak RSS, 2048 at most, 1024 the aim; growth = blackout's time against 1x)"
fi

if [[ " $PARTS " == *" growth "* ]]; then
    # Profiles of N watched prefixes: whole origin ASes of the table, in a fixed
    # shuffled order, the last one cut to make N.
    for n in 1000 10000 100000; do
        [ -f "$CACHE/profile-$n.toml" ] && continue
        python3 - "$TEXT_RIB" "$n" >"$CACHE/profile-$n.toml" <<'EOF'
import gzip, random, sys
path, n = sys.argv[1], int(sys.argv[2])
origins = {}
seen = set()
with gzip.open(path, "rt") as f:
    for line in f:
        fields = line.split("|")
        if len(fields) < 7 or fields[5] in seen or ":" in fields[5]:
            continue
        hops = [a for a in fields[6].split() if a.isdigit()]
        if not hops:
            continue
        seen.add(fields[5])
        origins.setdefault(int(hops[-1]), []).append(fields[5])
order = sorted(origins)
random.Random(n).shuffle(order)
print(f'name = "bench-{n}"\ndescription = "{n} prefixes of the rrc06 table, by origin AS"')
left = n
for asn in order:
    if left == 0:
        break
    prefixes = origins[asn][:left]
    left -= len(prefixes)
    quoted = ", ".join(f'"{p}"' for p in prefixes)
    print(f'\n[[network]]\nname = "AS{asn}"\nasn = {asn}\nprefixes = [{quoted}]')
EOF
    done
    echo
    echo "== growth curve: the real rrc06 RIB (641,957 entries), one core, best of $RUNS"
    printf '%-22s %11s %9s %14s\n' watched seconds MB against_4
    read -r d_s d_kb < <(timed bgpdump -m "$DERIVED")
    four=""
    for n in 4 1000 10000 100000 global; do
        case $n in
            4) args=(--profile kp) ;;
            global) args=(--global --geo "$CSV4" "$CSV6") ;;
            *) args=(--config "$CACHE/profile-$n.toml") ;;
        esac
        read -r b_s b_kb < <(timed "$BLACKOUT" replay "${args[@]}" --format json "$DERIVED")
        [ -z "$four" ] && four=$b_s
        label=$([ "$n" = global ] && echo "global (all)" || echo "$n prefixes")
        awk -v l="$label" -v b="$b_s" -v k="$b_kb" -v f="$four" 'BEGIN { printf "%-22s %11.2f %9.0f %13.1fx\n", l, b, k / 1024, b / f }'
    done
    awk -v d="$d_s" -v k="$d_kb" 'BEGIN { printf "%-22s %11.2f %9.0f\n", "bgpdump -m (decoding)", d, k / 1024 }'
fi

if [[ " $PARTS " == *" ingest "* ]]; then
    cargo build --release -q -p blackout-watch --example global_ingest
    echo
    echo "== live ingest in global mode over loopback, one core (taskset -c $CORE), best of $RUNS"
    taskset -c "$CORE" "$TARGET/release/examples/global_ingest" "$DATA" "$RUNS" >"$TMP/ingest"
    value() { grep -m1 "^$1=" "$TMP/ingest" | cut -d= -f2-; }
    printf '%-10s %9s %9s %16s %8s\n' feed routes seconds routes_per_s target
    for feed in bmp rislive; do
        awk -v f="$feed" -v r="$(value "${feed}_routes")" -v s="$(value "${feed}_seconds")" -v p="$(value "${feed}_routes_per_second")" 'BEGIN {
            printf "%-10s %9d %9.2f %16.0f %7.2fx\n", f, r, s, p, p / 200000 }'
    done
    echo "(target = the rate against 200,000 route updates/s; the sender shares the core)"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
