#!/usr/bin/env bash
# Many vantage points: central ingest through NATS JetStream, and one agent's footprint.
#
# 1. Central ingest (crates/watch/examples/agents_ingest.rs): a nats-server on
#    loopback holds RESULTS probe results from three agents, at 1x, 10x and 100x
#    (10,000, 100,000 and 1,000,000 results), each probe at its own time as the
#    probe engine spreads a round over the interval, in the messages the agents'
#    ResultBatcher makes (what came back within one 100 ms tick, together); for
#    agents of the kp profile's size and for agents 300 times as large. Read from the start by a plain
#    async-nats pull consumer (default settings, every message acknowledged, none
#    decoded: the broker's and the client's own pace), then by `blackout watch
#    --nats --no-probes` (decode, engine, SQLite, acknowledged once written: one ack
#    per message, the last of a stored batch confirmed). Prints the rates in
#    results/s, the plain consumer's in messages/s too, and central/plain; the
#    target is 100,000 results/s for the central.
#    Debian's nats-server ships no `nats` CLI, so there is no `nats bench` figure:
#    the plain consumer is the broker's side of the comparison.
# 2. The footprint of one agent: `blackout agent --profile kp` publishing to the
#    nats-server for AGENT_SECS seconds (default 150: three probe rounds of 60 s),
#    peak RSS from /usr/bin/time; the target is 20 MB at most.
#
# Everything runs inside a network namespace of its own that has nothing but
# loopback (`unshare -n`): the kp profile names real hosts, and there they are
# unreachable, so nothing is probed beyond this machine. Needs root.
#
# Environment: SIZES (default "10000 100000 1000000"), COPIES (default "1 300": the
# agents' size, in copies of the kp profile's targets: 1 is the kp profile, a result
# every few seconds an agent, one result a message; 300 is 6,600 targets, about 110
# results/s an agent, about 11 a message), STORES (default "sqlite postgres": the
# central's store, a SQLite file or a scratch PostgreSQL cluster with
# synchronous_commit=off), SCENARIOS (default "steady outage": every target
# answering but one round in 50 from one vantage point, or, in the run's second
# half, an outage: no target answering any vantage point, the controls answering,
# so the central keeps weighing every check failing), AGENT_SECS (default 150),
# PARTS (default "ingest agent").
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "needs root (a network namespace of its own)" >&2; exit 2; }
SIZES=${SIZES:-10000 100000 1000000}
COPIES=${COPIES:-1 300}
STORES=${STORES:-sqlite postgres}
SCENARIOS=${SCENARIOS:-steady outage}
AGENT_SECS=${AGENT_SECS:-150}
PARTS=${PARTS:-ingest agent}
TARGET=${CARGO_TARGET_DIR:-target}

if [[ -z "${BLACKOUT_BENCH_NETNS:-}" ]]; then
    command -v nats-server >/dev/null || {
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nats-server >/dev/null
        systemctl disable --now nats-server >/dev/null 2>&1 || true
    }
    [ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
    # Two commands: with --example given, cargo would build no binary.
    cargo build --release -q -p blackout --bin blackout
    cargo build --release -q -p blackout-watch --example agents_ingest
    exec unshare -n env BLACKOUT_BENCH_NETNS=1 "$0" "$@"
fi

# In the namespace: loopback only, and nothing else.
ip link set lo up
if ip -o link show | grep -v ': lo:' | grep -q .; then
    echo "the namespace has a link besides loopback; stopping" >&2
    exit 1
fi
if ip route show table all | grep -v ' dev lo ' | grep -q .; then
    echo "the namespace has a route besides loopback; stopping" >&2
    exit 1
fi

WORK=$(mktemp -d)
NATS_PID=
stop_nats() {
    if [[ -n "$NATS_PID" ]]; then
        kill "$NATS_PID" 2>/dev/null || true
        wait "$NATS_PID" 2>/dev/null || true
        NATS_PID=
    fi
}
trap 'stop_nats; rm -rf "$WORK"' EXIT
PORT=4333
URL=nats://127.0.0.1:$PORT
start_nats() {
    rm -rf "$WORK/store"
    nats-server -a 127.0.0.1 -p $PORT -js -sd "$WORK/store" >"$WORK/nats.log" 2>&1 &
    NATS_PID=$!
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nats-server did not listen" >&2
    exit 1
}

value() { sed -n "s/^$1=//p" "$2"; }

if [[ " $PARTS " == *" ingest "* ]]; then
    echo "Central ingest through JetStream ($(nats-server --version), loopback)"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
    row='%-6s %8s %9s %8s %7s %6s %10s %9s %11s %10s %7s %14s\n'
    for store in $STORES; do
    for copies in $COPIES; do
    for scenario in $SCENARIOS; do
        echo
        echo "three agents, each probing $copies x the kp profile's targets; the central's store: $store; $scenario"
        printf "$row" scale targets results messages res/msg bytes publish/s plain/s plain-msg/s central/s ÷plain central/CPU-s
        scale=1
        for n in $SIZES; do
            start_nats
            out="$WORK/ingest-$copies-$n"
            mkdir -p "$WORK/db"
            arg=; [[ $scenario == outage ]] && arg=outage
            "$TARGET/release/examples/agents_ingest" "$URL" "$n" "$WORK/db" "$copies" "$store" $arg >"$out" 2>"$out.err" || {
                cat "$out.err" >&2
                exit 1
            }
            printf "$row" "${scale}x" "$(value targets_per_agent "$out")" "$n" \
                "$(value messages "$out")" "$(value results_per_message "$out")" \
                "$(value mean_result_bytes "$out")" "$(value publish_per_sec "$out")" \
                "$(value plain_per_sec "$out")" "$(value plain_messages_per_sec "$out")" \
                "$(value central_per_sec "$out")" \
                "$(value central_to_plain "$out")" "$(value central_per_cpu_sec "$out")"
            stop_nats
            rm -rf "$WORK/db"
            scale=$((scale * 10))
        done
    done
    done
    done
    echo
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "targets: per agent; plain/s: results/s of the plain consumer (it decodes nothing), plain-msg/s its messages/s"
    echo "central/CPU-s: results per CPU second of the central's process (the broker's and PostgreSQL's CPU not counted)"
    echo "target: central 100,000 results/s or more"
fi

if [[ " $PARTS " == *" agent "* ]]; then
    echo
    echo "One agent, profile kp, ${AGENT_SECS} s (its hosts unreachable from here)"
    start_nats
    set +e
    /usr/bin/time -f 'peak_rss_kb=%M cpu_secs=%U+%S' -o "$WORK/agent.time" \
        timeout -s INT "$AGENT_SECS" "$TARGET/release/blackout" agent --profile kp \
        --vantage vp-bench --nats "$URL" --buffer "$WORK/agent-buffer" 2>"$WORK/agent.log"
    set -e
    stop_nats
    tail -n 1 "$WORK/agent.log"
    rss=$(sed -n 's/.*peak_rss_kb=\([0-9]*\).*/\1/p' "$WORK/agent.time")
    cpu=$(sed -n 's/.*cpu_secs=\([0-9.+]*\).*/\1/p' "$WORK/agent.time")
    echo "peak RSS: $((rss / 1024)).$(((rss % 1024) * 10 / 1024)) MB ($rss kB), CPU ${cpu} s; target: 20 MB at most"
fi
