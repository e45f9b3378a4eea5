#!/usr/bin/env python3
"""A hostile and a busy client of the control socket (telemetry v2).

ctl_client.py SOCKET malformed
    Oversized, garbage, empty and bad-parameter requests: each gets a
    {"<cmd>": null} reply (an empty datagram ends the connection, as it
    does for DPDK); the server still answers afterwards.
ctl_client.py SOCKET hammer CLIENTS SECONDS
    CLIENTS threads ask /ethdev/stats,0 in a loop for SECONDS. Clients past
    the server's limit are closed at once and retry. Every reply must be
    valid JSON and ipackets never goes back.

Prints "ok ..." lines and exits 0, or prints "error ..." and exits 1.
"""
import json
import socket
import sys
import threading
import time

TIMEOUT = 20.0  # generous: the machine may be loaded


def connect(path):
    """(socket, hello), or (None, None) if the server closed at once or its
    listen queue was full (AF_UNIX says EAGAIN then: retry later)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(TIMEOUT)
    try:
        s.connect(path)
    except BlockingIOError:
        s.close()
        return None, None
    hello = s.recv(65536)
    if not hello:
        s.close()
        return None, None
    return s, json.loads(hello)


def ask(s, req):
    s.send(req)
    data = s.recv(65536 + 1024)
    if not data:
        raise ConnectionError("closed")
    return json.loads(data)


def fail(msg):
    print("error " + msg)
    sys.exit(1)


def malformed(path):
    s, hello = connect(path)
    if s is None:
        fail("no hello")
    for k in ("version", "pid", "max_output_len"):
        if k not in hello:
            fail("hello lacks " + k)
    cases = [
        (b"/ethdev/stats," + b"0" * 2000, "/ethdev/stats"),
        (b"/ethdev/list," + b"x" * 1100, "/ethdev/list"),
        (b"\xff\xfe\x00\x01garbage", None),
        (b"/ethdev/stats,\x00\x01", "/ethdev/stats"),
        (b"/ethdev/stats,abc", "/ethdev/stats"),
        (b"/ethdev/stats,99999", "/ethdev/stats"),
        (b"/ethdev/stats,0 junk", "/ethdev/stats"),
        (b"/ethdev/stats", "/ethdev/stats"),
        (b"/no/such/command", "/no/such/command"),
        (b"ethdev/list", "ethdev/list"),
        (b"/" + b"a" * 200, None),
    ]
    for req, key in cases:
        r = ask(s, req)
        if len(r) != 1 or list(r.values())[0] is not None:
            fail("%r: %r, wanted a null reply" % (req[:40], r))
        if key is not None and key not in r:
            fail("%r: reply key %r" % (req[:40], list(r)))
    if ask(s, b"/ethdev/list")["/ethdev/list"] is None:
        fail("/ethdev/list after the bad requests")
    # An empty datagram: the server cannot tell it from end of stream and
    # closes; a new connection works.
    s.send(b"")
    s.settimeout(TIMEOUT)
    if s.recv(65536) != b"":
        fail("empty datagram: the connection stayed")
    s.close()
    # Many connections opened and dropped without a word.
    for _ in range(200):
        t = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        t.connect(path)
        t.close()
    s, _ = connect(path)
    if s is None or ask(s, b"/info")["/info"] is None:
        fail("no answer after the bad requests")
    s.close()
    print("ok malformed: %d bad requests answered null, server alive" % len(cases))


def hammer(path, nclients, seconds):
    stats = {"replies": 0, "refused": 0, "errors": []}
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def worker():
        replies = refused = 0
        last = -1
        try:
            while time.monotonic() < end:
                s, _ = connect(path)
                if s is None:  # past the limit: closed at once
                    refused += 1
                    time.sleep(0.01)
                    continue
                with s:
                    while time.monotonic() < end:
                        r = ask(s, b"/ethdev/stats,0")["/ethdev/stats"]
                        if r is None or r["ipackets"] < last:
                            raise ValueError("bad stats %r after %d" % (r, last))
                        last = r["ipackets"]
                        replies += 1
        except Exception as e:  # noqa: BLE001 -- every failure counts
            with lock:
                stats["errors"].append(repr(e))
        with lock:
            stats["replies"] += replies
            stats["refused"] += refused

    threads = [threading.Thread(target=worker) for _ in range(nclients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 3 * TIMEOUT)
    if any(t.is_alive() for t in threads):
        fail("hammer: a client hung")
    if stats["errors"]:
        fail("hammer: %d clients failed, first: %s" % (len(stats["errors"]), stats["errors"][0]))
    if stats["replies"] == 0:
        fail("hammer: no replies")
    print("ok hammer: %d clients, %d replies, %d connections refused past the limit"
          % (nclients, stats["replies"], stats["refused"]))


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "malformed":
        malformed(path)
    elif mode == "hammer" and len(sys.argv) == 5:
        hammer(path, int(sys.argv[3]), float(sys.argv[4]))
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
