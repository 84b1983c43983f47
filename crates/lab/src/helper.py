# blackout lab helper: the small servers and load generators the lab runs inside
# its network namespaces. Written to the lab's state dir by `blackout lab up` and
# run with Debian's /usr/bin/python3. Every mode writes its pid to --pidfile.
#
# Modes:
#   smtp PORT NAME HOST...       an SMTP server (aiosmtpd) that accepts and discards mail,
#                                on every HOST (IPv4 or IPv6)
#   smtp-4xx PORT NAME HOST...   an SMTP responder whose banner is a 421 (temporary failure)
#   hang HOST:PORT...            TCP listeners that never accept: connects succeed, nothing
#                                answers ([v6]:PORT for IPv6)
#   flood SECONDS PPS SIZE DST...  a UDP flood to DST:9 (IPv4 or IPv6) that stops by itself
#                                after SECONDS
#   rtr HOST PORT ROAFILE        an RPKI-to-router cache (RFC 8210, versions 0 and 1)
#                                serving the ROAs (IPv4 and IPv6) in ROAFILE, with a Serial
#                                Notify on change
#   flap COUNT INTERVAL BIRDSOCK LOG PROTO...  withdraws and re-announces the BIRD static
#                                protocols PROTO (names or a quoted pattern) COUNT times,
#                                logging each step to LOG
#   sink HOST PORT FILE          accepts TCP connections and writes the bytes of the n-th
#                                to FILE.n (a BMP or BGP capture for the tests)
import argparse
import asyncio
import datetime
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def smtp(args):
    from aiosmtpd.smtp import SMTP

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 2.0.0 OK: discarded"

    port, name, hosts = int(args.rest[0]), args.rest[1], args.rest[2:]
    loop = asyncio.new_event_loop()
    loop.run_until_complete(loop.create_server(lambda: SMTP(Sink(), hostname=name), hosts, port))
    loop.run_forever()


def smtp_4xx(args):
    port, name, hosts = int(args.rest[0]), args.rest[1], args.rest[2:]

    async def answer(reader, writer):
        writer.write(f"421 4.3.2 {name} Service not available, closing transmission channel\r\n".encode())
        try:
            await writer.drain()
        finally:
            writer.close()

    loop = asyncio.new_event_loop()
    loop.run_until_complete(asyncio.start_server(answer, hosts, port))
    loop.run_forever()


def hang(args):
    sockets = []
    for spec in args.rest:
        host, port = spec.rsplit(":", 1)
        host = host.strip("[]")
        s = socket.socket(family(host), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
        s.listen(4096)
        sockets.append(s)
    while True:
        time.sleep(3600)


def flood(args):
    seconds, pps, size = float(args.rest[0]), int(args.rest[1]), int(args.rest[2])
    targets = args.rest[3:]
    sockets = {f: socket.socket(f, socket.SOCK_DGRAM) for f in {family(t) for t in targets}}
    payload = b"\x00" * size
    end = time.monotonic() + seconds
    batch = 10
    gap = batch / pps
    sent = 0
    nxt = time.monotonic()
    while time.monotonic() < end:
        for i in range(batch):
            try:
                target = targets[(sent + i) % len(targets)]
                sockets[family(target)].sendto(payload, (target, 9))
            except OSError:
                pass
        sent += batch
        nxt += gap
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(f"flood done: {sent} packets", flush=True)


def load_roas(path):
    with open(path) as f:
        return [tuple(r) for r in json.load(f)]


def rtr(args):
    host, port, path = args.rest[0], int(args.rest[1]), args.rest[2]
    state = {"serial": 1, "roas": load_roas(path), "mtime": os.stat(path).st_mtime, "session": 4711}

    def end_of_data(version):
        if version == 0:
            return struct.pack("!BBHII", 0, 7, state["session"], 12, state["serial"])
        return struct.pack("!BBHIIIII", 1, 7, state["session"], 24, state["serial"], 10, 5, 7200)

    def full(version):
        out = struct.pack("!BBHI", version, 3, state["session"], 8)
        for prefix, plen, maxlen, asn in state["roas"]:
            if ":" in prefix:
                address = socket.inet_pton(socket.AF_INET6, prefix)
                out += struct.pack("!BBHIBBBB16sI", version, 6, 0, 32, 1, plen, maxlen, 0, address, asn)
            else:
                address = socket.inet_aton(prefix)
                out += struct.pack("!BBHIBBBB4sI", version, 4, 0, 20, 1, plen, maxlen, 0, address, asn)
        return out + end_of_data(version)

    async def serve(reader, writer):
        version = 1
        entry = [writer, version]
        registry[id(entry)] = entry
        try:
            while True:
                head = await reader.readexactly(8)
                v, kind, _, length = struct.unpack("!BBHI", head)
                body = await reader.readexactly(max(0, length - 8)) if length > 8 else b""
                version = 1 if v >= 1 else 0
                entry[1] = version
                if kind == 2:
                    writer.write(full(version))
                elif kind == 1:
                    (serial,) = struct.unpack("!I", body[:4])
                    if serial == state["serial"]:
                        writer.write(struct.pack("!BBHI", version, 3, state["session"], 8) + end_of_data(version))
                    else:
                        writer.write(struct.pack("!BBHI", version, 8, 0, 8))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            registry.pop(id(entry), None)
            writer.close()

    registry = {}

    async def watch():
        while True:
            await asyncio.sleep(0.5)
            try:
                mtime = os.stat(path).st_mtime
                if mtime != state["mtime"]:
                    state["roas"], state["mtime"] = load_roas(path), mtime
                    state["serial"] += 1
                    for writer, version in list(registry.values()):
                        writer.write(struct.pack("!BBHII", version, 0, state["session"], 12, state["serial"]))
            except (OSError, ValueError):
                pass

    loop = asyncio.new_event_loop()
    loop.run_until_complete(asyncio.start_server(serve, host, port))
    loop.create_task(watch())
    loop.run_forever()


def flap(args):
    count, interval, sock, log = int(args.rest[0]), float(args.rest[1]), args.rest[2], args.rest[3]
    protos = args.rest[4:]

    def step(action, n):
        for proto in protos:
            subprocess.run(["birdc", "-s", sock, action, proto], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(log, "a") as f:
            f.write(json.dumps({"at": now(), "action": "flap-" + ("withdraw" if action == "disable" else "announce"),
                                "fault": "flap", "cycle": n}) + "\n")

    for n in range(1, count + 1):
        step("disable", n)
        time.sleep(interval)
        step("enable", n)
        if n < count:
            time.sleep(interval)


def sink(args):
    import threading

    host, port, path = args.rest[0], int(args.rest[1]), args.rest[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(4)

    def drain(conn, name):
        with conn, open(name, "wb") as out:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                out.write(data)
                out.flush()

    n = 0
    while True:
        conn, _ = s.accept()
        n += 1
        threading.Thread(target=drain, args=(conn, f"{path}.{n}"), daemon=True).start()


MODES = {"smtp": smtp, "smtp-4xx": smtp_4xx, "hang": hang, "flood": flood, "rtr": rtr, "flap": flap, "sink": sink}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pidfile")
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("rest", nargs="*")
    args = parser.parse_args()
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        MODES[args.mode](args)
    finally:
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass


if __name__ == "__main__":
    main()
