/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow hash for spreading transmit over a guest's enabled RX queues: one
 * flow always maps to one queue (its packets stay in order), different
 * flows spread. The hash covers the IP addresses, the protocol and, for TCP,
 * UDP and SCTP packets that are not fragments, the ports; it looks past up
 * to two VLAN tags. Anything else (ARP, fragments' L4, headers not in the
 * first segment) hashes what it has: the L3 part, else the MAC addresses
 * and EtherType. A queue is picked by multiply-shift, not modulo.
 */
#ifndef APPS_FLOWHASH_H
#define APPS_FLOWHASH_H

#include <stdint.h>
#include <string.h>

#include <vhost/pktbuf.h>

static inline uint32_t fh_rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint32_t fh_mix(uint32_t h, uint32_t v)
{
	v *= 0xcc9e2d51u;
	v = v << 15 | v >> 17;
	h ^= v * 0x1b873593u;
	h = h << 13 | h >> 19;
	return h * 5 + 0xe6546b64u;
}

static inline uint32_t fh_final(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	return h ^ (h >> 16);
}

static inline int fh_has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

/* Hash of the frame in buf[0..len) (the first segment of a packet). */
static inline uint32_t flow_hash_buf(const uint8_t *buf, uint32_t len)
{
	uint32_t off = 12, h = 0x9747b28cu;
	uint16_t type;

	if (len < 14)
		return fh_final(len);
	type = (uint16_t)(buf[12] << 8 | buf[13]);
	for (int tags = 0; tags < 2 && (type == 0x8100 || type == 0x88a8) &&
			   len >= off + 8; tags++) {
		off += 4;
		type = (uint16_t)(buf[off] << 8 | buf[off + 1]);
	}
	off += 2; /* the L3 header */
	if (type == 0x0800 && len >= off + 20) {
		const uint8_t *ip = buf + off;
		uint32_t ihl = (uint32_t)(ip[0] & 0xf) * 4;
		/* Fragments (MF or an offset) carry no ports past the first:
		 * every fragment of a datagram hashes the same. */
		int frag = ((ip[6] & 0x3f) | ip[7]) != 0;

		h = fh_mix(h, fh_rd32(ip + 12));
		h = fh_mix(h, fh_rd32(ip + 16));
		h = fh_mix(h, ip[9]);
		if (!frag && ihl >= 20 && fh_has_ports(ip[9]) &&
		    len >= off + ihl + 4)
			h = fh_mix(h, fh_rd32(ip + ihl));
		return fh_final(h);
	}
	if (type == 0x86dd && len >= off + 40) {
		const uint8_t *ip = buf + off;

		for (int i = 8; i < 40; i += 4)
			h = fh_mix(h, fh_rd32(ip + i));
		h = fh_mix(h, ip[6]);
		if (fh_has_ports(ip[6]) && len >= off + 44)
			h = fh_mix(h, fh_rd32(ip + 40));
		return fh_final(h);
	}
	h = fh_mix(h, fh_rd32(buf));
	h = fh_mix(h, fh_rd32(buf + 4));
	h = fh_mix(h, fh_rd32(buf + 8));
	h = fh_mix(h, type);
	return fh_final(h);
}

static inline uint32_t flow_hash(const struct vhost_pktbuf *p)
{
	return flow_hash_buf(vhost_pktbuf_data(p), p->data_len);
}

/* Index in [0, n) for hash h, without a division. */
static inline unsigned flow_pick(uint32_t h, unsigned n)
{
	return (unsigned)(((uint64_t)h * n) >> 32);
}

/* The queue indices set in mask, lowest first; returns how many. */
static inline unsigned flow_queues(uint64_t mask, uint8_t *q, unsigned max)
{
	unsigned n = 0;

	while (mask && n < max) {
		q[n++] = (uint8_t)__builtin_ctzll(mask);
		mask &= mask - 1;
	}
	return n;
}

#endif
