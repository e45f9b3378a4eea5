#!/usr/bin/env python3
"""qmp.py -- talk to QEMU's QMP socket from the VM tests.

  qmp.py SOCK hmp 'COMMAND'         run an HMP command, print its output
  qmp.py SOCK migrate-wait SECONDS  poll 'info migrate' until the migration
                                    completed (exit 0), failed or was
                                    cancelled (exit 1), or SECONDS passed
                                    (exit 2); prints the last 'info migrate'
  qmp.py SOCK status                print the run state (e.g. 'running')
Every call connects, negotiates capabilities and disconnects; the socket
may take up to 10 s to appear.
"""
import json
import socket
import sys
import time


def connect(path):
    deadline = time.monotonic() + 10
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            break
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    s.settimeout(30)
    f = s.makefile("rwb")
    json.loads(f.readline())  # greeting
    call(f, "qmp_capabilities")
    return s, f


def call(f, cmd, args=None):
    req = {"execute": cmd}
    if args is not None:
        req["arguments"] = args
    f.write(json.dumps(req).encode() + b"\n")
    f.flush()
    while True:
        line = f.readline()
        if not line:
            raise RuntimeError("QMP connection closed")
        msg = json.loads(line)
        if "return" in msg:
            return msg["return"]
        if "error" in msg:
            raise RuntimeError(msg["error"].get("desc", str(msg["error"])))
        # asynchronous events: skip


def hmp(f, line):
    return call(f, "human-monitor-command", {"command-line": line})


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    path, what = sys.argv[1], sys.argv[2]
    s, f = connect(path)
    try:
        if what == "hmp":
            sys.stdout.write(hmp(f, sys.argv[3]).replace("\r\n", "\n"))
            return 0
        if what == "status":
            print(call(f, "query-status")["status"])
            return 0
        if what == "migrate-wait":
            deadline = time.monotonic() + float(sys.argv[3])
            while True:
                info = hmp(f, "info migrate").replace("\r\n", "\n")
                for l in info.splitlines():
                    if l.startswith("Migration status:"):
                        st = l.split(":", 1)[1].strip()
                        if st == "completed":
                            sys.stdout.write(info)
                            return 0
                        if st in ("failed", "cancelled"):
                            sys.stdout.write(info)
                            return 1
                if time.monotonic() > deadline:
                    sys.stdout.write(info)
                    return 2
                time.sleep(0.1)
        sys.stderr.write(__doc__)
        return 2
    finally:
        s.close()


if __name__ == "__main__":
    sys.exit(main())
