#!/usr/bin/env bash
# Fetches the real test data (MRT, BMP, RIS Live, geo ranges) from its original public
# sources into a directory, and checks every file against scripts/test-data/SHA256SUMS.
#
#   scripts/fetch-test-data.sh [DIR]      (DIR defaults to ./target/test-data)
#
# scripts/test-data/SOURCES.tsv names each file's source: a raw file at a pinned commit
# of a public repository (`url`), the same gzip'd (`gzip-url`), a file of an npm package
# (`npm`), or a file made from the others (`derived`: bgpdump -m output, TCP payloads
# taken out of pcaps, a re-encoded RIB). Derived files are not remade here; tests that
# need one say that they were skipped. A file whose SHA-256 differs is deleted, never used.
#
# Exit status: 0 when every downloadable file arrived and matched, 1 when some did not
# (the tests that need those files then skip), 2 on bad usage or missing tools.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sources=$here/test-data/SOURCES.tsv
sums=$here/test-data/SHA256SUMS
dest=${1:-$here/../target/test-data}

for tool in curl sha256sum gzip; do
  command -v "$tool" >/dev/null || { echo "fetch-test-data: $tool is not installed" >&2; exit 2; }
done
mkdir -p "$dest" || { echo "fetch-test-data: cannot create $dest" >&2; exit 2; }
dest=$(cd "$dest" && pwd)

expected_sum() {
  awk -v path="$1" '$2 == path { print $1 }' "$sums"
}

fetched=0 failed=0 derived=0 unreachable=0
while IFS=$'\t' read -r path how source; do
  case $path in '' | '#'*) continue ;; esac
  want=$(expected_sum "$path")
  [ -n "$want" ] || { echo "fetch-test-data: $path has no line in SHA256SUMS" >&2; failed=$((failed + 1)); continue; }
  target=$dest/$path
  if [ -f "$target" ] && [ "$(sha256sum <"$target" | cut -d' ' -f1)" = "$want" ]; then
    fetched=$((fetched + 1))
    continue
  fi
  mkdir -p "$(dirname "$target")"
  partial=$target.partial
  case $how in
    url) curl -fsSL --connect-timeout 10 --max-time 300 -o "$partial" "$source" ;;
    gzip-url) curl -fsSL --connect-timeout 10 --max-time 300 "$source" | gzip -n -9 >"$partial" ;;
    npm | derived)
      derived=$((derived + 1))
      echo "fetch-test-data: $path is not fetched by this script ($how: $source)" >&2
      continue
      ;;
    *) echo "fetch-test-data: $path: unknown source kind '$how'" >&2; failed=$((failed + 1)); continue ;;
  esac
  status=$?
  if [ $status -ne 0 ]; then
    rm -f "$partial"
    unreachable=$((unreachable + 1))
    echo "fetch-test-data: $path: cannot download $source (curl exit $status)" >&2
    continue
  fi
  got=$(sha256sum <"$partial" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    rm -f "$partial"
    failed=$((failed + 1))
    echo "fetch-test-data: $path: SHA-256 $got, expected $want; deleted" >&2
    continue
  fi
  mv "$partial" "$target"
  fetched=$((fetched + 1))
done <"$sources"

echo "fetch-test-data: $dest: $fetched files present and checked, $unreachable could not be downloaded, $failed did not match, $derived not fetchable here (derived or npm)" >&2
[ $unreachable -eq 0 ] && [ $failed -eq 0 ]
