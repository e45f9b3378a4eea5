#!/usr/bin/env python3
# tests/netns/xfer.py -- a checked TCP transfer.
#   xfer.py recv PORT OUT      accept one connection, write what arrives to OUT
#                              (prints "listening" once bound, to stdout)
#   xfer.py send HOST PORT IN  connect (retrying for 20 s) and send file IN
# The caller compares IN and OUT (cmp). Exit status 0 on success.
import socket
import sys
import time


def recv(port, out):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(port)))
    s.listen(1)
    s.settimeout(60)
    print("listening", flush=True)
    c, _ = s.accept()
    c.settimeout(60)
    with open(out, "wb") as f:
        while True:
            b = c.recv(65536)
            if not b:
                break
            f.write(b)
    c.close()


def send(host, port, path):
    end = time.time() + 20
    while True:
        try:
            c = socket.create_connection((host, int(port)), timeout=5)
            break
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.1)
    c.settimeout(60)
    with open(path, "rb") as f:
        c.sendall(f.read())
    c.shutdown(socket.SHUT_WR)
    c.recv(1)  # wait for the receiver to close: everything arrived
    c.close()


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(sys.argv[2], sys.argv[3])
    else:
        send(sys.argv[2], sys.argv[3], sys.argv[4])
