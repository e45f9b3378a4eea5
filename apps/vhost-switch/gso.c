/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Software TCP segmentation, for a TSO packet (VHOST_PKT_F_GSO) going to a
 * port whose guest did not negotiate GUEST_TSO4/6: the packet is cut into
 * gso_size pieces, each with its own IP and TCP headers (IPv4 id, lengths,
 * sequence number, FIN/PSH only on the last piece, CWR only on the first)
 * and complete checksums, so any guest can take them.
 */
#include <errno.h>
#include <string.h>

#include "gso.h"

#define ETH_HLEN 14

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t sum16(const uint8_t *d, uint32_t len, uint32_t sum)
{
	uint32_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(d + i);
	if (i < len)
		sum += (uint32_t)d[i] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The headers of a TSO packet we can cut, read and checked once. */
struct gso_hdrs {
	uint8_t hdr[GSO_MAX_HDR];
	uint32_t l3, l4, hlen, payload, mss, seq;
	uint16_t ip_id;
	bool v4;
};

static int gso_parse(const struct vhost_pktbuf *pkt, struct gso_hdrs *g)
{
	uint8_t *hdr = g->hdr;
	uint32_t l3 = ETH_HLEN, l4 = pkt->csum_start, hlen;

	if (!(pkt->ol_flags & VHOST_PKT_F_GSO) || pkt->gso_size < GSO_MIN_SEG ||
	    pkt->gso_size > GSO_MAX_SEG)
		return -EINVAL;
	if (vhost_pktbuf_read(pkt, 0, ETH_HLEN + 4, hdr) != ETH_HLEN + 4)
		return -EINVAL;
	if (get16(hdr + 12) == 0x8100) /* one VLAN tag */
		l3 += 4;
	/* Headers up to the end of TCP's, all of them readable and sane. */
	if (l4 < l3 + 20 || l4 + 20 > pkt->pkt_len || l4 + 20 > GSO_MAX_HDR ||
	    vhost_pktbuf_read(pkt, 0, l4 + 20, hdr) != l4 + 20)
		return -EINVAL;
	hlen = l4 + (uint32_t)(hdr[l4 + 12] >> 4) * 4;
	if (hlen < l4 + 20 || hlen > GSO_MAX_HDR || hlen >= pkt->pkt_len ||
	    vhost_pktbuf_read(pkt, 0, hlen, hdr) != hlen)
		return -EINVAL;
	g->v4 = (hdr[l3] >> 4) == 4;
	if ((g->v4 && pkt->gso_type != VHOST_GSO_TCPV4) ||
	    (!g->v4 && ((hdr[l3] >> 4) != 6 || pkt->gso_type != VHOST_GSO_TCPV6)))
		return -EINVAL;
	if (g->v4 && (hdr[l3 + 9] != 6 || l3 + (uint32_t)(hdr[l3] & 15) * 4 != l4))
		return -EINVAL;
	if (!g->v4 && (hdr[l3 + 6] != 6 || l3 + 40 != l4))
		return -EINVAL; /* no IPv6 extension headers */
	g->l3 = l3;
	g->l4 = l4;
	g->hlen = hlen;
	g->mss = pkt->gso_size;
	g->payload = pkt->pkt_len - hlen;
	g->seq = (uint32_t)get16(hdr + l4 + 4) << 16 | get16(hdr + l4 + 6);
	g->ip_id = g->v4 ? get16(hdr + l3 + 4) : 0;
	/* pkt_len < 2^32 and mss >= GSO_MIN_SEG: no overflow, and the count
	 * (the work one packet asks for) is bounded. */
	return (int)((g->payload + g->mss - 1) / g->mss);
}

int gso_count(const struct vhost_pktbuf *pkt)
{
	struct gso_hdrs g;

	return gso_parse(pkt, &g);
}

int gso_segment(const struct vhost_pktbuf *pkt, struct vhost_pktbuf_pool *pool,
		unsigned first, struct vhost_pktbuf **out, unsigned max)
{
	struct gso_hdrs g;
	uint8_t seg[GSO_MAX_HDR + GSO_MAX_SEG];
	uint32_t l3, l4, hlen, off;
	int total = gso_parse(pkt, &g);
	unsigned n = 0, k;

	if (total < 0)
		return total;
	if (first >= (unsigned)total)
		return 0;
	l3 = g.l3;
	l4 = g.l4;
	hlen = g.hlen;
	for (k = first, off = first * g.mss; n < max && off < g.payload;
	     k++, off += g.mss, n++) {
		uint32_t len = g.payload - off < g.mss ? g.payload - off : g.mss;
		uint8_t *ip = seg + l3, *tcp = seg + l4;
		bool last = off + len == g.payload;
		uint32_t sum;
		struct vhost_pktbuf *p;

		memcpy(seg, g.hdr, hlen);
		vhost_pktbuf_read(pkt, hlen + off, len, seg + hlen);
		if (g.v4) {
			put16(ip + 2, (uint16_t)(l4 - l3 + (hlen - l4) + len));
			put16(ip + 4, (uint16_t)(g.ip_id + k));
			put16(ip + 10, 0);
			put16(ip + 10, fold(sum16(ip, l4 - l3, 0)));
		} else {
			put16(ip + 4, (uint16_t)((hlen - l4) + len));
		}
		put16(tcp + 4, (uint16_t)((g.seq + off) >> 16));
		put16(tcp + 6, (uint16_t)(g.seq + off));
		if (!last)
			tcp[13] &= (uint8_t)~0x09; /* FIN, PSH */
		if (off)
			tcp[13] &= (uint8_t)~0x80; /* CWR */
		/* TCP checksum over the pseudo-header and the segment. */
		put16(tcp + 16, 0);
		if (g.v4)
			sum = sum16(ip + 12, 8, 0);
		else
			sum = sum16(ip + 8, 32, 0);
		sum += 6 + (hlen - l4) + len;
		sum = sum16(tcp, (hlen - l4) + len, sum);
		put16(tcp + 16, fold(sum));

		p = vhost_pktbuf_alloc(pool);
		if (!p || vhost_pktbuf_append_data(p, seg, hlen + len)) {
			vhost_pktbuf_free(p);
			vhost_pktbuf_free_bulk(out, n);
			return -ENOBUFS;
		}
		p->ol_flags = VHOST_PKT_F_CSUM_VALID;
		out[n] = p;
	}
	return (int)n;
}
