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

def ring_setup(q, ring=256):
    base = UVA + q * 0x10000
    return b"".join([msg(8, state(q, ring)), msg(10, state(q, 0)),
                     msg(9, struct.pack("<IIQQQQ", q, 0, base, base + 0x8000, base + 0x4000, 0)),
                     msg(12, u64(q), 1, 2), msg(13, u64(q), 1, 2), msg(18, state(q, 1))])

# Spec edge cases: the TX ring disabled while started (drained), RESET_OWNER
# and the rings started again, refused features then FEATURES_OK.
write("messages", "edges",
      handshake(FEAT, ALL_PROTO) + msg(18, state(1, 0)) + msg(18, state(0, 0)) +
      msg(4) + ring_setup(0) + ring_setup(1) +
      msg(2, u64(1 << 63)) + msg(39, u64(0xb)) + msg(40))

# vring: 16 control bytes, RX desc table (64 x 16) + avail (6 + 128), TX desc
# table + avail, then the 16 KiB buffer area (guest offset 0x6000).
RING = 64
BUF = 0x6000

def desc(addr, length, flags=0, nxt=0):
    return struct.pack("<QIHH", addr, length, flags, nxt)

def ring(descs, heads, idx):
    t = b"".join(descs).ljust(16 * RING, b"\0")
    a = struct.pack("<HH", 0, idx) + b"".join(struct.pack("<H", h) for h in heads)
    return t + a.ljust(6 + 2 * RING, b"\0")

def vring_seed(flags, rx_descs, rx_heads, tx_descs, tx_heads, area=b""):
    ctl = bytes([flags, 0, 0, 0, 0, 8, 20, 0, 10, 6, 1, 2, 30, 4, 5, 6])
    return (ctl + ring(rx_descs, rx_heads, len(rx_heads)) +
            ring(tx_descs, tx_heads, len(tx_heads)) + area.ljust(16384, b"\0"))

W, N, I = 2, 1, 4  # VRING_DESC_F_WRITE, NEXT, INDIRECT
rx = [desc(BUF + 2048 * i, 2048, W) for i in range(8)]
pkt = b"\0" * 12 + bytes(range(60))
tx = [desc(BUF + 128 * i, len(pkt)) for i in range(8)]
area = pkt.ljust(128, b"\0") * 8
write("vring", "simple", vring_seed(0, rx, range(8), tx, range(8), area))
write("vring", "mergeable", vring_seed(1 | 4, rx, range(8), tx, range(8), area))
# TX: header and data in separate descriptors, chained; RX via an indirect table
tx2 = []
for i in range(4):
    tx2 += [desc(BUF + 256 * i, 12, N, 2 * i + 1), desc(BUF + 256 * i + 12, 60)]
ind = b"".join(desc(BUF + 4096 + 1024 * i, 1024, W | (N if i < 3 else 0), i + 1) for i in range(4))
area2 = (pkt.ljust(256, b"\0") * 4).ljust(2048, b"\0") + ind
rx2 = [desc(BUF + 2048, len(ind), I)]
write("vring", "chained-indirect", vring_seed(2 | 16, rx2, [0], tx2, [0, 2, 4, 6], area2))

# vring, packed (control bit 0x20): RX desc ring (61 x 16) + driver event
# area (4), TX likewise; bases 0x8000 (position 0, wrap counter 1).
PRING = 61
def pdesc(addr, length, id_, flags):
    return struct.pack("<QIHH", addr, length, id_, flags)

def pring(descs):
    return b"".join(descs).ljust(16 * PRING, b"\0") + b"\0" * 4

AV = 0x80  # VRING_PACKED_DESC_F_AVAIL: available with wrap counter 1
prx = [pdesc(BUF + 2048 * i, 2048, i, AV | W) for i in range(8)]
ptx = [pdesc(BUF + 128 * i, 12, i, AV | N) if j == 0 else pdesc(BUF + 128 * i + 12, 60, i, AV)
       for i in range(4) for j in range(2)]
pctl = bytes([0x20 | 1 | 2 | 4, 0, 0x80, 0, 0x80, 8, 20, 0, 10, 6, 1, 2, 30, 4, 5, 6])
write("vring", "packed", pctl + pring(prx) + pring(ptx))
# Packed batches (0x40: every descriptor made available, one-segment
# packets of 1, 98, 195, ... bytes): eight single buffers each way (two
# cache lines of descriptors) far from the rings, mergeable off and on.
BB = 0x80000
prx4 = [pdesc(BB + 4096 * i, 4096, 7 - i, AV | W) for i in range(8)]
ptx4 = [pdesc(BB + 0x10000 + 128 * i, 72, 7 - i, AV) for i in range(8)]
for name, f in (("packed-batch", 0), ("packed-batch-mrg", 1 | 4)):
    bctl = bytes([0x20 | 0x40 | f, 0, 0x80, 0, 0x80, 8] + [0] * 10)
    write("vring", name, bctl + pring(prx4) + pring(ptx4))

# net_hdr: features, length, header, metadata, packet
def hdr_seed(features, length, hdr, meta, pkt):
    return struct.pack("<QI", features, length) + hdr + meta + pkt

CSUMF = (1 << 0) | (1 << 1) | (1 << 7) | (1 << 11) | (1 << 32)
h_csum = struct.pack("<BBHHHHH", 1, 0, 0, 0, 34, 16, 0)
h_gso = struct.pack("<BBHHHHH", 1, 1, 54, 1448, 34, 16, 0)
meta = struct.pack("<IHHHBB", 1, 34, 16, 1448, 1, 0)
write("net_hdr", "csum", hdr_seed(CSUMF, 1000, h_csum, meta, bytes(range(256)) * 4))
write("net_hdr", "gso", hdr_seed(CSUMF, 9000, h_gso, struct.pack("<IHHHBB", 5, 34, 16, 1448, 1, 0), bytes(200)))
write("net_hdr", "none", hdr_seed(0, 60, bytes(12), bytes(12), bytes(60)))
