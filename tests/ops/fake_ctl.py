#!/usr/bin/env python3
"""tests/ops/fake_ctl.py -- a fake control socket (DPDK telemetry v2) for vhostctl's tests.

Serves canned replies in the shapes of docs/operations.md on an AF_UNIX
SOCK_SEQPACKET socket, one client at a time, until killed. Counters grow by a
fixed step on every /vhost-switch/ports, /ethdev/stats and /vhost-switch/workers
request, so `vhostctl top` sees non-zero rates.

    fake_ctl.py --socket PATH [--mode MODE] [--max-output-len N]

MODE (hostile servers): normal (default), garbage (reply bytes that are not
JSON), truncated (a reply cut in the middle), huge (a reply larger than
max_output_len), silent (never replies), close (closes right after the hello),
nohello (never sends the hello), badhello (a hello that is not JSON),
hugehello (max_output_len of 1 TiB),
wrongkey (a reply for another command), deep (nesting 100000 deep), nul (NUL
bytes inside the reply), error (every command replies {"error": ...}),
null (every command replies null).
"""
import argparse
import json
import os
import socket
import sys

STEP = 1000  # packets per request, per counter


class Switch:
    def __init__(self):
        self.calls = 0

    def ports(self):
        self.calls += 1
        n = self.calls * STEP
        return [
            {"id": 0, "name": "vm1", "kind": "vhost", "mode": "server", "state": "up",
             "network": 0, "queues": 2, "rx_packets": n, "rx_bytes": n * 64,
             "rx_drops": 0, "tx_packets": 2 * n, "tx_bytes": 2 * n * 64, "tx_drops": 3,
             "macs": 1},
            {"id": 1, "name": "tap-\u00e9\x1b[31m", "kind": "tap", "mode": "", "state": "down",
             "network": 7, "queues": 1, "rx_packets": 5, "rx_bytes": 320, "rx_drops": 1,
             "tx_packets": 0, "tx_bytes": 0, "tx_drops": 0, "macs": 0},
            {"id": 2, "name": "vm3", "kind": "vhost", "mode": "client", "state": "up",
             "network": 0, "queues": 1, "rx_packets": 0, "rx_bytes": 0, "rx_drops": 0,
             "tx_packets": 0, "tx_bytes": 0, "tx_drops": 0,
             "macs": ["52:54:00:00:00:03", "52:54:00:00:00:04"]},
        ]

    def workers(self):
        self.calls += 1
        n = self.calls * STEP
        return [{"id": 1, "cpu": -1, "units": 1, "passes": n, "busy_passes": 0,
                 "packets": 0, "floods": 0},
                {"id": 0, "cpu": 1, "units": 3, "passes": 10 * n, "busy_passes": n,
                 "packets": 5 * n, "floods": 2}]

    def ethstats(self, port):
        self.calls += 1
        n = self.calls * STEP
        return {"ipackets": n, "opackets": n, "ibytes": 64 * n, "obytes": 64 * n,
                "imissed": 0, "ierrors": 0, "oerrors": 0, "rx_nombuf": 0,
                "q_ipackets": [n], "q_opackets": [n], "q_ibytes": [64 * n],
                "q_obytes": [64 * n], "q_errors": [0]}

    def answer(self, cmd, param):
        if cmd == "/":
            return ["/", "/info", "/help", "/ethdev/list", "/ethdev/stats",
                    "/vhost-switch/ports", "/vhost-switch/port_add", "/vhost-switch/port_del",
                    "/vhost-switch/fdb_show", "/vhost-switch/fdb_flush",
                    "/vhost-switch/workers", "/vhost-switch/rxqs", "/vhost-switch/log_level",
                    "/vhost-switch/vteps", "/vhost-switch/vtep_add", "/vhost-switch/vtep_del"]
        if cmd == "/info":
            return {"version": "fake 1.0", "pid": os.getpid(), "max_output_len": 65536}
        if cmd == "/ethdev/list":
            return [0, 1]
        if cmd == "/ethdev/stats":
            return self.ethstats(param) if param in ("0", "1") else None
        if cmd == "/vhost-switch/ports":
            return self.ports()
        if cmd == "/vhost-switch/port_add":
            if param.startswith("/tmp/exists"):
                return {"error": "port exists: " + param}
            return {"id": 2, "name": param.split(",")[0]} if param else None
        if cmd == "/vhost-switch/port_del":
            if param in ("vm1", "0"):
                return {"id": 0, "name": "vm1"}
            return {"error": "no such port: " + param} if param else None
        if cmd == "/vhost-switch/fdb_show":
            entries = [
                {"mac": "52:54:00:00:00:01", "network": 0, "port": 0, "age": 3},
                {"mac": "52:54:00:00:00:02", "network": 7, "port": 1, "age": 10},
                {"mac": "02:00:00:00:00:09", "network": 7, "port": 9,
                 "vtep": "192.0.2.2", "age": 0},
            ]
            if param == "99":  # a table larger than the reply: capped, said so
                return {"count": 5000, "truncated": True, "entries": entries[:1]}
            if param:
                entries = [e for e in entries if str(e["network"]) == param]
            return {"count": len(entries), "truncated": False, "entries": entries}
        if cmd == "/vhost-switch/fdb_flush":
            return {"flushed": 1 if param else 3}
        if cmd == "/vhost-switch/workers":
            return self.workers()
        if cmd == "/vhost-switch/rxqs":
            return [{"worker": 1, "port": 0, "name": "vm1", "queue": 1},
                    {"worker": 0, "port": 0, "name": "vm1", "queue": 0},
                    {"worker": 0, "port": 1, "name": "tap0", "queue": 0}]
        if cmd == "/vhost-switch/vteps":
            return [{"network": 1, "vni": 42, "vteps": [
                        {"ip": "10.0.0.2", "port": 4789, "kind": "flood"},
                        {"ip": "10.0.0.3", "port": 8472, "kind": "learned"}]},
                    {"network": 7, "vni": 700, "vteps": []}]
        if cmd == "/vhost-switch/vtep_add":
            if param.startswith("9:"):
                return {"error": "network 9 has VNI 900, not " + param.split(":")[1]}
            return {"added": param} if param else None
        if cmd == "/vhost-switch/vtep_del":
            if param == "1:10.0.0.2":
                return {"removed": param}
            return {"error": "no such VTEP: " + param} if param else None
        if cmd == "/vhost-switch/log_level":
            if param and param not in ("err", "warning", "info", "debug"):
                return None
            return {"level": param or "info"}
        return None


def reply_bytes(mode, sw, req, max_len):
    cmd, _, param = req.partition(",")
    if mode == "garbage":
        return b"\xff\xfe this is not json"
    if mode == "truncated":
        return json.dumps({cmd: sw.answer(cmd, param)}).encode()[:-7]
    if mode == "huge":
        return json.dumps({cmd: "x" * (max_len * 2)}).encode()
    if mode == "wrongkey":
        return json.dumps({"/other": 1}).encode()
    if mode == "deep":
        return ('{"%s":' % cmd).encode() + b"[" * 100000 + b"]" * 100000 + b"}"
    if mode == "nul":
        return ('{"%s": "a' % cmd).encode() + b"\x00" + b'b"}'
    if mode == "error":
        return json.dumps({cmd: {"error": "refused by the fake"}}).encode()
    if mode == "null":
        return json.dumps({cmd: None}).encode()
    return json.dumps({cmd: sw.answer(cmd, param)}).encode()


def serve(conn, mode, max_len, sw):
    if mode == "nohello":
        conn.recv(4096)
        conn.recv(4096)  # hold until the client gives up
        return
    if mode == "badhello":
        conn.send(b"{hello")
    elif mode == "hugehello":  # asks the client for a 1 TiB reply buffer
        conn.send(json.dumps({"version": "fake", "pid": 1, "max_output_len": 1 << 40}).encode())
    else:
        conn.send(json.dumps({"version": "fake 1.0", "pid": os.getpid(),
                              "max_output_len": max_len}).encode())
    if mode == "close":
        return
    while True:
        req = conn.recv(4096)
        if not req:
            return
        if mode == "silent":
            continue
        data = reply_bytes(mode, sw, req.decode(errors="replace"), max_len)
        conn.send(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--mode", default="normal")
    ap.add_argument("--max-output-len", type=int, default=16384)
    a = ap.parse_args()
    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    # Large replies (huge, deep) need a send buffer to match.
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 21)
    srv.bind(a.socket + ".tmp")
    srv.listen(4)
    os.rename(a.socket + ".tmp", a.socket)  # the path appears when it accepts
    sw = Switch()
    while True:
        conn, _ = srv.accept()
        try:
            serve(conn, a.mode, a.max_output_len, sw)
        except OSError as e:
            print("fake_ctl: %s" % e, file=sys.stderr)
        finally:
            conn.close()


if __name__ == "__main__":
    main()
