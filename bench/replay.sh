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
# Environment: DATA (default ../shared/data beside the repository), RUNS (default 3),
# READER=example to time the archive reader alone (crates/archive/examples/count.rs,
# kp watch set) instead of the whole replay.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-3}
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
printf '%-58s %9s %10s %11s %7s %12s %12s\n' file MB bgpdump_s blackout_s ratio blackout_MB bgpdump_MB
for file in "${FILES[@]}"; do
    read -r b_secs b_rss < <(best_of "${BLACKOUT[@]}" "$file")
    read -r d_secs d_rss < <(best_of bgpdump -m "$file")
    awk -v f="$(basename "$file")" -v size="$(stat -c %s "$file")" \
        -v b="$b_secs" -v d="$d_secs" -v br="$b_rss" -v dr="$d_rss" 'BEGIN {
        printf "%-58s %9.2f %10.3f %11.3f %7.1f %12.1f %12.1f\n",
            f, size / 1e6, d, b, (b > 0 ? d / b : 0), br / 1024, dr / 1024
    }'
done
