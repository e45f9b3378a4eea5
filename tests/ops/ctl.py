#!/usr/bin/env python3
"""ctl.py SOCKET CMD[,PARAMS]: one request on a telemetry v2 control socket
(SOCK_SEQPACKET: read the hello, send the request, read the reply); prints
the reply's value as JSON. Exit 0 with a value, 1 on null or an error
object, 3 if the socket cannot be reached. For the tests; vhostctl is the
operator's tool."""
import json
import socket
import sys


def main():
    if len(sys.argv) != 3:
        print("usage: ctl.py SOCKET CMD[,PARAMS]", file=sys.stderr)
        return 2
    path, req = sys.argv[1], sys.argv[2]
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(10)
        s.connect(path)
        hello = json.loads(s.recv(65536).decode())
        s.send(req.encode())
        reply = json.loads(s.recv(hello.get("max_output_len", 65536)).decode())
    except (OSError, ValueError) as e:
        print("ctl.py: %s: %s" % (path, e), file=sys.stderr)
        return 3
    value = reply.get(req.split(",", 1)[0])
    print(json.dumps(value))
    if value is None or (isinstance(value, dict) and "error" in value):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
