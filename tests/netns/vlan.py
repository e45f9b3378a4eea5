#!/usr/bin/env python3
# tests/netns/vlan.py IFNAME VID SRC_MAC SRC_IP TARGET_IP [--no-wait]
# Send an ARP request for TARGET_IP on IFNAME with an 802.1Q tag VID (0: no
# tag) and, unless --no-wait, wait up to 10 s for the ARP reply carrying the
# same VID (the kernel may hand the tag over as auxdata). Exit 0 on a reply.
import socket
import struct
import sys
import time

SOL_PACKET, PACKET_AUXDATA, TP_STATUS_VLAN_VALID = 263, 8, 0x10


def main():
    ifname, vid, mac, sip, tip = sys.argv[1:6]
    vid = int(vid)
    mac_b = bytes.fromhex(mac.replace(":", ""))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((ifname, 0))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac_b,
                      socket.inet_aton(sip), b"\0" * 6, socket.inet_aton(tip))
    tag = struct.pack("!HH", 0x8100, vid) if vid else b""
    s.send(b"\xff" * 6 + mac_b + tag + b"\x08\x06" + arp)
    if "--no-wait" in sys.argv:
        return 0
    end = time.time() + 10
    s.settimeout(0.2)
    while time.time() < end:
        try:
            data, anc, _, _ = s.recvmsg(4096, 1024)
        except socket.timeout:
            continue
        got = None
        for lvl, typ, val in anc:
            if lvl == SOL_PACKET and typ == PACKET_AUXDATA and len(val) >= 20:
                st, _, _, _, _, tci, _ = struct.unpack("IIIHHHH", val[:20])
                if st & TP_STATUS_VLAN_VALID:
                    got = tci & 0xfff
        et = struct.unpack("!H", data[12:14])[0]
        if et == 0x8100:
            got = struct.unpack("!H", data[14:16])[0] & 0xfff
            data = data[:12] + data[16:]
            et = struct.unpack("!H", data[12:14])[0]
        if et != 0x0806 or data[6:12] == mac_b:
            continue
        op = struct.unpack("!H", data[20:22])[0]
        if op == 2 and data[28:32] == socket.inet_aton(tip):
            if got == vid:
                return 0
            print("reply with VID %s, wanted %d" % (got, vid))
            return 1
    print("no reply")
    return 1


if __name__ == "__main__":
    sys.exit(main())
