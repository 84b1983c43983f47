#!/usr/bin/env bash
# Prefix-to-country map: load time and lookups/s, against peers in the same run.
#
# Loads the two range CSVs of ../shared/data/geo (ip-location-db geo-whois-asn-country,
# 334,373 IPv4 + 216,295 IPv6 lines) with blackout-geo (crates/geo/examples/geo.rs),
# best of RUNS, with peak RSS. Then times lookups of real routed prefixes: LOOKUPS IPv4
# prefixes sampled from the 2014 RouteViews prefix table in ../shared/data/text and the
# 6,870 IPv6 prefixes of the (truncated) 2015 route-views6 RIB in ../shared/data/expected,
# at 1x, 10x and 100x (the list repeated, after one untimed pass), and prints the cost
# per lookup and how it grows (per-lookup cost should stay flat). `country_of` costs a
# binary search plus one step per range inside the prefix: a /48 of dense geofeed
# space can hold thousands of ranges (up to about 10 us), routed prefixes few.
#
# blackout is timed twice: `country_of(prefix)` (the country of most of the prefix's
# addresses) and, like for like with the peers, the country of the prefix's first
# address. Peers, in the same run and on the same lookups:
#   - python3 with ipaddress and bisect over the same CSVs (what a script would do);
#   - python3-maxminddb (Debian; its C extension on libmaxminddb) over the MMDB files of
#     the same ip-location-db release, fetched once with `npm pack` into the cache
#     (GEO_CACHE, default target/geo-bench); without npm or the package that part is
#     skipped, saying so. blackout's MMDB reader is timed on the same files, and the
#     maps from CSV and MMDB are compared.
# `mmdblookup` (mmdb-bin) answers one address per process, so it is no peer for a rate.
#
# Environment: DATA (default ../shared/data beside the repository), RUNS (default 3),
# LOOKUPS (default 100000), GEO_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-3}
LOOKUPS=${LOOKUPS:-100000}
TARGET=${CARGO_TARGET_DIR:-target}
GEO_CACHE=${GEO_CACHE:-$TARGET/geo-bench}
MMDB_PACKAGE=@ip-location-db/geo-whois-asn-country-mmdb@2.3.2026061719
SYSTEM_PYTHON=/usr/bin/python3

CSV4="$DATA/geo/geo-whois-asn-country-ipv4.20260617.csv.gz"
CSV6="$DATA/geo/geo-whois-asn-country-ipv6.20260617.csv.gz"
ROUTED="$DATA/text/pyasn_ipasn_20140513.dat.gz"
ROUTED6="$DATA/expected/routeviews6_rib.20151101.0600.first1MiB-truncated.bz2.bgpdump-m.txt.gz"
for file in "$CSV4" "$CSV6" "$ROUTED" "$ROUTED6"; do
    [ -f "$file" ] || { echo "missing $file (../shared/data must sit beside the repository)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null
"$SYSTEM_PYTHON" -c 'import maxminddb' 2>/dev/null || apt-get install -y python3-maxminddb >/dev/null

cargo build --release -q -p blackout-geo --example geo
GEO="$TARGET/release/examples/geo"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The lookups: real routed IPv4 prefixes in a fixed shuffled order, then real IPv6 ones.
zcat "$ROUTED" | awk '$1 ~ /^[0-9.]+\/[0-9]+$/ { print $1 }' \
    | shuf -n "$LOOKUPS" --random-source=<(yes) >"$TMP/lookups"
zcat "$ROUTED6" | cut -d'|' -f6 | sort -u | shuf --random-source=<(yes) >"$TMP/lookups6"
V6=$(wc -l <"$TMP/lookups6")
cat "$TMP/lookups6" >>"$TMP/lookups"
BASE=$(wc -l <"$TMP/lookups")

# The MMDB files of the same release, once.
MMDB4="$GEO_CACHE/package/geo-whois-asn-country-ipv4.mmdb"
MMDB6="$GEO_CACHE/package/geo-whois-asn-country-ipv6.mmdb"
if [ ! -f "$MMDB6" ] && command -v npm >/dev/null; then
    mkdir -p "$GEO_CACHE"
    (cd "$GEO_CACHE" && npm pack -q "$MMDB_PACKAGE" >/dev/null 2>&1 && tar xzf ./*.tgz) \
        || echo "npm pack $MMDB_PACKAGE failed: the MMDB comparison is skipped" >&2
fi
HAVE_MMDB=$([ -f "$MMDB4" ] && [ -f "$MMDB6" ] && echo yes || echo no)

# value KEY FILE: the value of a key=value line
value() { grep -m1 "^$1=" "$2" | cut -d= -f2-; }

# best_load CMD...: runs the loader RUNS times, prints "best_seconds peak_rss_kb"
best_load() {
    local best="" rss=0
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f %M -o "$TMP/rss" "$@" >"$TMP/out" 2>"$TMP/err" || {
            echo "failed: $* ($(tail -1 "$TMP/err"))" >&2
            return 1
        }
        local secs
        secs=$(value load_seconds "$TMP/out")
        if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$secs; fi
        [ "$(tail -1 "$TMP/rss")" -gt "$rss" ] && rss=$(tail -1 "$TMP/rss")
    done
    cp "$TMP/out" "$TMP/last-load"
    echo "$best $rss"
}

cat >"$TMP/peer.py" <<'EOF'
# Peer: python's ipaddress + bisect over the CSVs, or python3-maxminddb over MMDB files.
# argv: csv|mmdb LOOKUPS REPEAT FILE... ; prints key=value lines like the example.
import bisect, gzip, ipaddress, sys, time
mode, lookups, repeat, files = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
started = time.perf_counter()
if mode == "csv":
    tables = {4: ([], [], []), 6: ([], [], [])}
    for path in files:
        with gzip.open(path, "rt") as f:
            for line in f:
                start, end, cc = line.rstrip("\n").split(",")[:3]
                s, e = ipaddress.ip_address(start), ipaddress.ip_address(end)
                starts, ends, ccs = tables[s.version]
                starts.append(int(s)); ends.append(int(e)); ccs.append(cc)
    def country(address):
        starts, ends, ccs = tables[address.version]
        n = int(address)
        i = bisect.bisect_right(starts, n) - 1
        # the last line starting at or before the address; nested lines follow their
        # enclosing range in these files, so this is the most specific one
        return ccs[i] if i >= 0 and ends[i] >= n else None
else:
    import maxminddb
    readers = [maxminddb.open_database(p, maxminddb.MODE_MMAP_EXT) for p in files]
    by_version = {r.metadata().ip_version: r for r in readers}
    def country(address):
        record = by_version.get(address.version)
        record = record.get(address) if record else None
        return record.get("country_code") if record else None
print(f"load_seconds={time.perf_counter() - started:.6f}")
with open(lookups) as f:
    addresses = [ipaddress.ip_network(l.strip(), strict=False).network_address for l in f if l.strip()]
started = time.perf_counter()
known = 0
for _ in range(repeat):
    for address in addresses:
        known += country(address) is not None
seconds = time.perf_counter() - started
print(f"lookups={len(addresses) * repeat}")
print(f"lookup_known={known}")
print(f"lookup_seconds={seconds:.6f}")
EOF

echo "== load (best of $RUNS)"
printf '%-52s %9s %9s %9s %9s\n' what seconds MB_RSS ipv4 ipv6
read -r CSV_S CSV_RSS < <(best_load "$GEO" "$CSV4" "$CSV6")
printf '%-52s %9.3f %9.1f %9s %9s\n' "blackout-geo, the two CSVs" "$CSV_S" "$(awk -v k="$CSV_RSS" 'BEGIN { print k / 1024 }')" \
    "$(value ipv4_ranges "$TMP/last-load")" "$(value ipv6_ranges "$TMP/last-load")"
CSV_DIGEST=$(value digest "$TMP/last-load")
read -r PY_S PY_RSS < <(best_load "$SYSTEM_PYTHON" "$TMP/peer.py" csv /dev/null 0 "$CSV4" "$CSV6")
printf '%-52s %9.3f %9.1f   (blackout %.1fx faster)\n' "python3 ipaddress, the two CSVs" "$PY_S" "$(awk -v k="$PY_RSS" 'BEGIN { print k / 1024 }')" \
    "$(awk -v p="$PY_S" -v b="$CSV_S" 'BEGIN { print p / b }')"
if [ "$HAVE_MMDB" = yes ]; then
    read -r MM_S MM_RSS < <(best_load "$GEO" "$MMDB4" "$MMDB6")
    printf '%-52s %9.3f %9.1f %9s %9s\n' "blackout-geo, the two MMDBs (same release)" "$MM_S" "$(awk -v k="$MM_RSS" 'BEGIN { print k / 1024 }')" \
        "$(value ipv4_ranges "$TMP/last-load")" "$(value ipv6_ranges "$TMP/last-load")"
    if [ "$(value digest "$TMP/last-load")" = "$CSV_DIGEST" ]; then
        echo "  the map from the MMDBs is the map from the CSVs (same ranges, same countries)"
    else
        echo "  the map from the MMDBs DIFFERS from the map from the CSVs"
    fi
fi

echo
echo "== lookups: $BASE routed prefixes ($LOOKUPS IPv4, $V6 IPv6), repeated"
printf '%-6s %11s | %-21s | %-21s | %-21s | %-21s\n' scale lookups "country_of (ns, grow)" "first addr (ns, grow)" "py bisect (ns, ratio)" "py maxminddb (ns, ratio)"
lookup_ns() { awk -v s="$(value lookup_seconds "$1")" -v n="$(value lookups "$1")" 'BEGIN { printf "%.1f", s * 1e9 / n }'; }
for scale in 1 10 100; do
    "$GEO" --lookups "$TMP/lookups" --repeat "$scale" "$CSV4" "$CSV6" >"$TMP/of"
    "$GEO" --lookups "$TMP/lookups" --repeat "$scale" --first-address "$CSV4" "$CSV6" >"$TMP/first"
    "$SYSTEM_PYTHON" "$TMP/peer.py" csv "$TMP/lookups" "$scale" "$CSV4" "$CSV6" >"$TMP/py"
    OF=$(lookup_ns "$TMP/of"); FIRST=$(lookup_ns "$TMP/first"); PY=$(lookup_ns "$TMP/py")
    [ "$scale" = 1 ] && { OF1=$OF; FIRST1=$FIRST; }
    MM="-"
    if [ "$HAVE_MMDB" = yes ]; then
        "$SYSTEM_PYTHON" "$TMP/peer.py" mmdb "$TMP/lookups" "$scale" "$MMDB4" "$MMDB6" >"$TMP/mm"
        MM=$(lookup_ns "$TMP/mm")
        MM="$MM, $(awk -v m="$MM" -v f="$FIRST" 'BEGIN { printf "%.1fx", m / f }')"
    fi
    printf '%-6s %11s | %-21s | %-21s | %-21s | %-21s\n' "${scale}x" "$(value lookups "$TMP/of")" \
        "$OF, $(awk -v a="$OF" -v b="$OF1" 'BEGIN { printf "%.2fx", a / b }')" \
        "$FIRST, $(awk -v a="$FIRST" -v b="$FIRST1" 'BEGIN { printf "%.2fx", a / b }')" \
        "$PY, $(awk -v p="$PY" -v f="$FIRST" 'BEGIN { printf "%.1fx", p / f }')" "$MM"
    files=(first py); [ "$HAVE_MMDB" = yes ] && files+=(mm)
    for file in "${files[@]}"; do
        known=$(value lookup_known "$TMP/$file")
        [ "$known" = "$(value lookup_known "$TMP/first")" ] \
            || echo "  note: $file knew $known lookups, first-address knew $(value lookup_known "$TMP/first")"
    done
done
echo "(ns per lookup; grow = per-lookup cost against 1x; ratio = the peer's cost over blackout's first-address cost)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
