#!/usr/bin/env python3
"""Write the seed corpus of the fuzz targets (run once; seeds are committed).

messages: realistic handshakes in the fuzz_messages input format
(header, payload, one fd-spec byte: count | kind << 4)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

def msg(req, payload=b"", fds=0, kind=0, flags=1):
    return struct.pack("<III", req, flags, len(payload)) + payload + bytes([fds | kind << 4])

def u64(v):
    return struct.pack("<Q", v)

def state(i, n):
    return struct.pack("<II", i, n)

UVA = 0x7f0000000000
GPA = 0x40000000
MEM = 1 << 20

def handshake(features, proto, ring=256, mrg_regions=False):
    m = [msg(1), msg(15), msg(16, u64(proto)), msg(3), msg(2, u64(features))]
    region = struct.pack("<QQQQ", GPA, MEM, UVA, 0)
    m.append(msg(5, struct.pack("<II", 1, 0) + region, 1, 0))
    if mrg_regions:
        m.append(msg(37, u64(0) + struct.pack("<QQQQ", GPA + MEM, 4096, UVA + MEM, 0), 1, 1))
        m.append(msg(36))
    for q in range(2):
        base = UVA + q * 0x10000
        m.append(msg(8, state(q, ring)))
        m.append(msg(10, state(q, 0)))
        m.append(msg(9, struct.pack("<IIQQQQ", q, 0, base, base + 0x8000, base + 0x4000, 0)))
        m.append(msg(12, u64(q), 1, 2))
        m.append(msg(13, u64(q), 1, 2))
        m.append(msg(18, state(q, 1)))
    m.append(msg(39, u64(0xf)))
    m.append(msg(11, state(0, 0)))
    m.append(msg(40))
    m.append(msg(34))
    return b"".join(m)

def write(dirname, name, data):
    d = os.path.join(HERE, "corpus", dirname)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

ALL_PROTO = (1 << 0) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 13) | (1 << 15) | (1 << 16)
FEAT = (1 << 32) | (1 << 30) | (1 << 15) | (1 << 28) | (1 << 29)
write("messages", "handshake-full", handshake(FEAT, ALL_PROTO))
write("messages", "handshake-noack", handshake(FEAT, ALL_PROTO & ~(1 << 3)))
write("messages", "handshake-slots", handshake(FEAT, ALL_PROTO, 1024, True))
write("messages", "handshake-legacy", handshake(1 << 15, 0, 64))
write("messages", "unknown", msg(1000) + msg(0) + msg(41, b"x" * 40, 3, 3))
