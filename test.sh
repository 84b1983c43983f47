#!/usr/bin/env bash
# Runs every test of blackout. The README's quick start and CI (.ci/run) both call it.
#
# Tests that need Debian packages (real daemons and servers) get them here: as root,
# missing packages are installed with apt-get; without root, those tests say that
# they did not run. The real test data (MRT, BMP, RIS Live, geo ranges) is taken from
# $BLACKOUT_TEST_DATA if set, else ../shared/data beside the repository, else
# target/test-data, which scripts/fetch-test-data.sh fills from the original public
# sources. Without any of them, the tests that need the data say they were skipped.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests use: real BGP daemons, DNS, web and mail servers,
# probing and packet tools (dig for the lab's A and AAAA checks); PostgreSQL 15 (the store suite runs on a scratch cluster too); MaxMind's MMDB writer (blackout-geo regenerates its fixtures).
packages=(postgresql bgpdump libmaxmind-db-writer-perl nginx nsd fping bird2 frr frr-rpki-rtrlib python3-aiosmtpd nftables iproute2 traceroute iputils-ping openssl util-linux procps chromium prometheus fonts-dejavu-core nats-server bind9-dnsutils)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The packages start their own system-wide daemons; the tests run their own.
    for service in nginx nsd bird frr prometheus postgresql nats-server; do
      systemctl disable --now "$service" >/dev/null 2>&1 || service "$service" stop >/dev/null 2>&1 || true
    done
  else
    echo "test.sh: not root, so not installing ${missing[*]}; the tests that need them will say they did not run" >&2
  fi
fi

if [ -n "${BLACKOUT_TEST_DATA:-}" ]; then
  [ -d "$BLACKOUT_TEST_DATA" ] ||
    echo "test.sh: BLACKOUT_TEST_DATA=$BLACKOUT_TEST_DATA is not a directory; the tests that need the real data will say they were skipped" >&2
elif [ -d ../shared/data ]; then
  BLACKOUT_TEST_DATA=$(cd ../shared/data && pwd)
else
  echo "test.sh: no ../shared/data and no BLACKOUT_TEST_DATA: fetching the test data into target/test-data" >&2
  scripts/fetch-test-data.sh target/test-data ||
    echo "test.sh: some test data could not be had; the tests that need it will say they were skipped" >&2
  BLACKOUT_TEST_DATA=$(pwd)/target/test-data
fi
export BLACKOUT_TEST_DATA

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
