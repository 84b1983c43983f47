#!/usr/bin/env bash
# Replay speed and memory against bgpdump.
#
# For the large RIB (derived/ris-rrc06_bview…tdv2-reencoded.gz, 641,957 entries) and
# the three largest update files of ../shared/data/mrt, runs
#   blackout replay --profile kp --format json FILE > /dev/null
#   bgpdump -m FILE > /dev/null
# best of 3 each, and prints wall times, the ratio bgpdump/blackout (the target is 2 or
# more) and peak RSS (the target is under 64 MB for blackout).
#
# Then the IPv6 RIB (mrt/routeviews6_rib…first1MiB-truncated.bz2, route-views6, 27
# peers, 149,578 entries of 6,870 prefixes) at 1x, 10x and 100x the work: its complete
# records, gzip'd once, the member repeated 1, 10 and 100 times in one file (a
# multi-member gzip both tools read through), each tool side by side with the ratio.
# blackout runs twice: with kp, which watches no IPv6 prefix (the reader walks the
# entries' headers only), and with a profile of every IPv6 prefix of the file, one
# network per origin AS (every route decoded, kept and judged).
#
# Environment: DATA (default ../shared/data beside the repository), RUNS (default 3),
# PARTS (default "ipv4 ipv6": the large RIB and update files, the IPv6 RIB),
# READER=example to time the archive reader alone (crates/archive/examples/count.rs,
# kp watch set) instead of the whole replay.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-3}
PARTS=${PARTS:-ipv4 ipv6}
TARGET=${CARGO_TARGET_DIR:-target}

command -v bgpdump >/dev/null || apt-get install -y bgpdump >/dev/null
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null

if [ "${READER:-replay}" = example ]; then
    cargo build --release -q -p blackout-archive --example count
    BLACKOUT=("$TARGET/release/examples/count")
    LABEL="archive reader (examples/count, kp watch)"
else
    cargo build --release -q -p blackout
    BLACKOUT=("$TARGET/release/blackout" replay --profile kp --format json)
    LABEL="blackout replay --profile kp --format json"
fi

FILES=("$DATA/derived/ris-rrc06_bview.20100701.0759.tdv2-reencoded.gz")
while IFS= read -r file; do FILES+=("$file"); done < <(ls -S "$DATA"/mrt/*update* | head -3)

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# best_of CMD...: prints "seconds peak_rss_kb" of the fastest of $RUNS runs
best_of() {
    local best="" best_rss=0 start end secs rss
    for _ in $(seq "$RUNS"); do
        start=$(date +%s%N)
        /usr/bin/time -f %M -o "$TMP/rss" "$@" >/dev/null 2>"$TMP/stderr" || {
            echo "failed: $* ($(tail -1 "$TMP/stderr"))" >&2
            return 1
        }
        end=$(date +%s%N)
        secs=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }')
        rss=$(tail -1 "$TMP/rss")
        if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$secs
        fi
        [ "$rss" -gt "$best_rss" ] && best_rss=$rss
    done
    echo "$best $best_rss"
}

echo "blackout: $LABEL; best of $RUNS"
[[ " $PARTS " == *" ipv4 "* ]] || FILES=()
((${#FILES[@]})) && printf '%-58s %9s %10s %11s %7s %12s %12s\n' file MB bgpdump_s blackout_s ratio blackout_MB bgpdump_MB
for file in "${FILES[@]}"; do
    read -r b_secs b_rss < <(best_of "${BLACKOUT[@]}" "$file")
    read -r d_secs d_rss < <(best_of bgpdump -m "$file")
    awk -v f="$(basename "$file")" -v size="$(stat -c %s "$file")" \
        -v b="$b_secs" -v d="$d_secs" -v br="$b_rss" -v dr="$d_rss" 'BEGIN {
        printf "%-58s %9.2f %10.3f %11.3f %7.1f %12.1f %12.1f\n",
            f, size / 1e6, d, b, (b > 0 ? d / b : 0), br / 1024, dr / 1024
    }'
done

# ---- the IPv6 RIB at 1x, 10x and 100x ----
[[ " $PARTS " == *" ipv6 "* ]] || exit 0
V6="$DATA/mrt/routeviews6_rib.20151101.0600.first1MiB-truncated.bz2"
if [ ! -f "$V6" ]; then
    echo "SKIPPED the IPv6 RIB: $V6 is not there" >&2
    exit 0
fi
# The file is cut at 1 MiB of bzip2: keep its complete MRT records only, so that the
# copies follow one another on record boundaries.
# bzcat exits non-zero at the cut: that end is expected, the records before it are read.
{ bzcat "$V6" 2>/dev/null || true; } | python3 -c '
import sys
data = sys.stdin.buffer.read()
at = 0
while at + 12 <= len(data):
    end = at + 12 + int.from_bytes(data[at + 8:at + 12], "big")
    if end > len(data):
        break
    at = end
sys.stdout.buffer.write(data[:at])
' | gzip -1 > "$TMP/v6.member.gz"
# A profile of every IPv6 prefix of the file, one network per origin AS (the last
# AS of its first path).
bgpdump -m "$TMP/v6.member.gz" 2>/dev/null | python3 -c '
import sys
origins, seen = {}, set()
for line in sys.stdin:
    fields = line.split("|")
    if len(fields) < 7 or ":" not in fields[5] or fields[5] in seen:
        continue
    hops = [a for a in fields[6].split() if a.isdigit()]
    if hops:
        seen.add(fields[5])
        origins.setdefault(int(hops[-1]), []).append(fields[5])
print("name = \"bench-v6\"")
print(f"description = \"the {len(seen)} IPv6 prefixes of the route-views6 RIB, by origin AS\"")
for asn in sorted(origins):
    quoted = ", ".join(f"\"{p}\"" for p in origins[asn])
    print(f"\n[[network]]\nname = \"AS{asn}\"\nasn = {asn}\nprefixes = [{quoted}]")
' > "$TMP/v6-profile.toml"
if [ "${READER:-replay}" = example ]; then
    V6_RUNS=(kp)
else
    V6_RUNS=(kp all)
fi
echo
echo "IPv6 RIB (route-views6, complete records of the first MiB), best of $RUNS;"
echo "watched: kp (no IPv6 prefix) or all ($(grep -c '^\[\[network' "$TMP/v6-profile.toml") origin ASes, every IPv6 prefix of the file)"
printf '%-34s %9s %10s %11s %7s %12s %12s\n' work MB bgpdump_s blackout_s ratio blackout_MB bgpdump_MB
for times in 1 10 100; do
    file="$TMP/v6.x$times.gz"
    for _ in $(seq "$times"); do cat "$TMP/v6.member.gz"; done > "$file"
    read -r d_secs d_rss < <(best_of bgpdump -m "$file")
    for watched in "${V6_RUNS[@]}"; do
        if [ "$watched" = kp ]; then
            run=("${BLACKOUT[@]}" "$file")
        else
            run=("$TARGET/release/blackout" replay --config "$TMP/v6-profile.toml" --format json "$file")
        fi
        read -r b_secs b_rss < <(best_of "${run[@]}")
        awk -v f="routeviews6 RIB x$times, $watched" -v size="$(stat -c %s "$file")" \
            -v b="$b_secs" -v d="$d_secs" -v br="$b_rss" -v dr="$d_rss" 'BEGIN {
            printf "%-34s %9.2f %10.3f %11.3f %7.1f %12.1f %12.1f\n",
                f, size / 1e6, d, b, (b > 0 ? d / b : 0), br / 1024, dr / 1024
        }'
    done
    rm -f "$file"
done
echo "(ratio: bgpdump seconds / blackout seconds; above 1, blackout is faster)"
