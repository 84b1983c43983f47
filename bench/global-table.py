#!/usr/bin/env python3
"""Builds the global benchmark's input: a full table under 24 full-feed peers, and a day
of updates over it, as MRT files (derived data, for bench/global.sh; never in the repo).

The routes are the real RIS rrc06 RIB of 2010-07-01 (the text form in
../shared/data/text, 323,487 prefixes, 641,957 entries), re-encoded the way
../shared/data/derived was made (TABLE_DUMP_V2: PEER_INDEX_TABLE + RIB_IPV4_UNICAST,
4-byte AS_PATH), but under 24 peers instead of the RIB's 2 full-feed ones: peer k
carries every prefix with the path of real full-feed peer k % 2 (the other one's where
that one lacks the prefix), its own AS in place of the real peer's. Peers use
documentation addresses (198.51.100.0/24) and ASNs (64496-64511, 65536-65551).

The day of updates (BGP4MP_MESSAGE_AS4, one UPDATE per message, in time order over the
24 hours after the dump) is path churn: a peer moves a prefix to the other real path
(or back), or withdraws it and announces it again a few minutes later.

Usage: global-table.py TEXT_RIB OUT_RIB OUT_UPDATES [--every N] [--updates-per-peer M]
Keeps every N-th prefix of the table (1x/10x/100x work); writes gzip (level 1).
"""
import argparse
import gzip
import heapq
import random
import struct
import subprocess

T0 = 1277971199  # the RIB's dump time
PEERS = 24


def peer_asn(k):
    return 64496 + k if k < 16 else 65536 + (k - 16)


def peer_ip(k):
    return bytes([198, 51, 100, k + 1])


def path_segments(path):
    """AS_PATH attribute body (4-byte ASNs) of a bgpdump -m path, minus its first AS."""
    seq, out = [], b""
    sets = []
    for token in path.split():
        if token.startswith("{"):
            sets.append([int(a) for a in token.strip("{}").split(",") if a])
        else:
            seq.append(int(token))
    seq = seq[1:]  # the real peer's own AS: replaced per peer
    return seq, sets


def as_path_attr(first, seq, sets):
    body = struct.pack(">BB", 2, len(seq) + 1) + struct.pack(">I", first)
    body += b"".join(struct.pack(">I", a) for a in seq)
    for s in sets:
        body += struct.pack(">BB", 1, len(s)) + b"".join(struct.pack(">I", a) for a in s)
    return b"\x50\x02" + struct.pack(">H", len(body)) + body


ORIGIN = {"IGP": 0, "EGP": 1, "INCOMPLETE": 2}


def attrs(k, route):
    origin, seq, sets = route
    return (
        bytes([0x40, 1, 1, origin])
        + as_path_attr(peer_asn(k), seq, sets)
        + b"\x40\x03\x04"
        + peer_ip(k)
    )


def mrt(t, kind, subtype, body):
    return struct.pack(">IHHI", t, kind, subtype, len(body)) + body


def nlri(prefix):
    addr, length = prefix.split("/")
    length = int(length)
    octets = bytes(int(o) for o in addr.split("."))
    return bytes([length]) + octets[: (length + 7) // 8]


def gzip_writer(path):
    out = open(path, "wb")
    proc = subprocess.Popen(["gzip", "-1", "-c"], stdin=subprocess.PIPE, stdout=out)
    return proc, out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("text_rib")
    parser.add_argument("out_rib")
    parser.add_argument("out_updates")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--updates-per-peer", type=int, default=100000)
    args = parser.parse_args()

    # prefix -> [route of 2497, route of 4777], in the file's order
    table = {}
    with gzip.open(args.text_rib, "rt") as f:
        for line in f:
            fields = line.split("|")
            if len(fields) < 8 or fields[4] not in ("2497", "4777") or ":" in fields[5]:
                continue
            seq, sets = path_segments(fields[6])
            slot = 0 if fields[4] == "2497" else 1
            table.setdefault(fields[5], [None, None])[slot] = (
                ORIGIN.get(fields[7], 2),
                seq,
                sets,
            )
    prefixes = list(table)[:: args.every]

    proc, out = gzip_writer(args.out_rib)
    w = proc.stdin
    # PEER_INDEX_TABLE: collector id, empty view name, peers (type 2: IPv4, 4-byte AS)
    body = bytes([202, 249, 2, 1]) + struct.pack(">HH", 0, PEERS)
    for k in range(PEERS):
        body += bytes([2]) + peer_ip(k) + peer_ip(k) + struct.pack(">I", peer_asn(k))
    w.write(mrt(T0, 13, 1, body))
    entries = 0
    for seqno, prefix in enumerate(prefixes):
        routes = table[prefix]
        parts = [struct.pack(">I", seqno), nlri(prefix), struct.pack(">H", PEERS)]
        for k in range(PEERS):
            route = routes[k % 2] or routes[1 - k % 2]
            a = attrs(k, route)
            parts.append(struct.pack(">HIH", k, T0, len(a)))
            parts.append(a)
        entries += PEERS
        w.write(mrt(T0, 13, 2, b"".join(parts)))
    w.close()
    proc.wait()
    out.close()

    # A day of churn, the same every run.
    rng = random.Random(20100701)
    total = args.updates_per_peer * PEERS
    proc, out = gzip_writer(args.out_updates)
    w = proc.stdin
    pending = []  # (time, peer, prefix): announcements after a withdrawal
    current = {}  # (peer, prefix) -> which real path the peer now uses
    lines = 0

    def announce(t, k, prefix, slot):
        routes = table[prefix]
        route = routes[slot] or routes[1 - slot]
        a = attrs(k, route)
        update = struct.pack(">H", 0) + struct.pack(">H", len(a)) + a + nlri(prefix)
        return message(t, k, update)

    def withdraw(t, k, prefix):
        n = nlri(prefix)
        update = struct.pack(">H", len(n)) + n + struct.pack(">H", 0)
        return message(t, k, update)

    def message(t, k, update):
        bgp = b"\xff" * 16 + struct.pack(">HB", 19 + len(update), 2) + update
        body = struct.pack(">IIHH", peer_asn(k), 12654, 0, 1) + peer_ip(k) + bytes([202, 249, 2, 1]) + bgp
        return mrt(t, 16, 4, body)

    for i in range(total):
        t = T0 + 1 + (i * 86400) // total
        while pending and pending[0][0] <= t:
            at, k, prefix = heapq.heappop(pending)
            w.write(announce(at, k, prefix, current.get((k, prefix), k % 2)))
            lines += 1
        k = rng.randrange(PEERS)
        prefix = prefixes[rng.randrange(len(prefixes))]
        if rng.random() < 0.8:
            slot = 1 - current.get((k, prefix), k % 2)
            current[(k, prefix)] = slot
            w.write(announce(t, k, prefix, slot))
        else:
            w.write(withdraw(t, k, prefix))
            heapq.heappush(pending, (t + rng.randrange(60, 600), k, prefix))
        lines += 1
    for at, k, prefix in sorted(pending):
        w.write(announce(at, k, prefix, current.get((k, prefix), k % 2)))
        lines += 1
    w.close()
    proc.wait()
    out.close()
    print(f"prefixes={len(prefixes)} rib_entries={entries} update_messages={lines}")


if __name__ == "__main__":
    main()
