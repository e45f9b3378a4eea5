/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include "pkt.h"

#define PATTERN_OFF PKT_HDRS_LEN
#define SEQ_LEN 8

uint16_t ipv4_header_csum(const uint8_t *ip)
{
	uint32_t sum = 0;
	unsigned ihl = (ip[0] & 0xf) * 4u;

	for (unsigned i = 0; i < ihl; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Payload byte i of a packet with sequence seq. */
static inline uint8_t pattern_byte(uint64_t seq, uint32_t i)
{
	return (uint8_t)(seq * 31 + i * 7 + (i >> 8));
}

int pkt_build_udp(struct vhost_pktbuf *pkt, uint32_t len, uint64_t seq,
		  const uint8_t src_mac[6], const uint8_t dst_mac[6])
{
	uint8_t hdr[PKT_HDRS_LEN + SEQ_LEN];
	uint8_t *ip = hdr + 14, *udp = hdr + 34;
	uint8_t chunk[256];
	uint32_t off;

	if (len < PKT_MIN_LEN || len > VHOST_PKTBUF_MAX_PKT_LEN)
		return -EINVAL;
	memcpy(hdr, dst_mac, 6);
	memcpy(hdr + 6, src_mac, 6);
	put16(hdr + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(len - 14));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (const uint8_t[]){ 198, 18, 0, 1 }, 4);
	memcpy(ip + 16, (const uint8_t[]){ 198, 18, 0, 2 }, 4);
	put16(ip + 10, ipv4_header_csum(ip));
	put16(udp, 9);
	put16(udp + 2, 9);
	put16(udp + 4, (uint16_t)(len - 34));
	put16(udp + 6, 0); /* no UDP checksum (allowed for IPv4) */
	memcpy(hdr + PKT_HDRS_LEN, &seq, SEQ_LEN);
	if (vhost_pktbuf_append_data(pkt, hdr, sizeof(hdr)))
		return -ENOBUFS;
	for (off = sizeof(hdr); off < len;) {
		uint32_t n = len - off < sizeof(chunk) ? len - off : sizeof(chunk);

		for (uint32_t i = 0; i < n; i++)
			chunk[i] = pattern_byte(seq, off + i);
		if (vhost_pktbuf_append_data(pkt, chunk, n))
			return -ENOBUFS;
		off += n;
	}
	return 0;
}

bool pkt_validate_udp(const struct vhost_pktbuf *pkt, bool check_payload)
{
	uint8_t hdr[PKT_HDRS_LEN + SEQ_LEN];
	const uint8_t *ip = hdr + 14, *udp = hdr + 34;
	uint8_t chunk[256];
	uint64_t seq;

	if (pkt->pkt_len < PKT_HDRS_LEN ||
	    vhost_pktbuf_read(pkt, 0, PKT_HDRS_LEN, hdr) != PKT_HDRS_LEN)
		return false;
	if (get16(hdr + 12) != 0x0800 || ip[0] != 0x45 || ip[9] != 17)
		return false;
	if (ipv4_header_csum(ip) != 0)
		return false;
	if (get16(ip + 2) + 14u != pkt->pkt_len ||
	    get16(udp + 4) + 34u != pkt->pkt_len)
		return false;
	if (!check_payload)
		return true;
	if (pkt->pkt_len < sizeof(hdr) ||
	    vhost_pktbuf_read(pkt, PKT_HDRS_LEN, SEQ_LEN, &seq) != SEQ_LEN)
		return false;
	for (uint32_t off = sizeof(hdr); off < pkt->pkt_len;) {
		uint32_t n = pkt->pkt_len - off < sizeof(chunk) ?
			     pkt->pkt_len - off : sizeof(chunk);

		vhost_pktbuf_read(pkt, off, n, chunk);
		for (uint32_t i = 0; i < n; i++)
			if (chunk[i] != pattern_byte(seq, off + i))
				return false;
		off += n;
	}
	return true;
}

void pkt_swap_macs(struct vhost_pktbuf *pkt)
{
	uint8_t *d = vhost_pktbuf_data(pkt), t[6];

	if (pkt->data_len < 12)
		return;
	memcpy(t, d, 6);
	memcpy(d, d + 6, 6);
	memcpy(d + 6, t, 6);
}
