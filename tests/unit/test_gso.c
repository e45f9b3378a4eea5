/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-switch's software TCP segmentation: every segment's IPv4/IPv6 and
 * TCP headers (lengths, id, sequence, flags, checksums) and the payload,
 * put back together, equal to the original; cut in batches of any size,
 * so any segment count works (MSS 536 on a 64 KiB frame: 123). */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "gso.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint16_t csum(const uint8_t *d, uint32_t len, uint32_t sum)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += get16(d + i);
	if (len & 1)
		sum += (uint32_t)d[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum; /* 0xffff when the checksum is right */
}

#define MAX_SEGS 200
#define POOL_BUFS 512

static void check_one(bool v6, uint32_t payload, uint16_t mss, unsigned batch)
{
	struct vhost_pktbuf_pool *pool = vhost_pktbuf_pool_create("gso", POOL_BUFS,
								  2048, 0);
	uint32_t l3 = 14, l4 = v6 ? 54 : 34, hlen = l4 + 32; /* TCP options */
	uint32_t len = hlen + payload;
	static uint8_t pkt[70000], back[70000];
	struct vhost_pktbuf *p = vhost_pktbuf_alloc(pool), *segs[MAX_SEGS];
	uint32_t got = 0;
	int n, total, k;

	memset(pkt, 0, hlen);
	pkt[12] = v6 ? 0x86 : 0x08;
	pkt[13] = v6 ? 0xdd : 0x00;
	if (v6) {
		pkt[l3] = 0x60;
		pkt[l3 + 6] = 6;
		for (int i = 0; i < 32; i++)
			pkt[l3 + 8 + i] = (uint8_t)(i * 7);
	} else {
		pkt[l3] = 0x45;
		pkt[l3 + 4] = 0x12; /* id 0x1234 */
		pkt[l3 + 5] = 0x34;
		pkt[l3 + 8] = 64;
		pkt[l3 + 9] = 6;
		memcpy(pkt + l3 + 12, (uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
	}
	pkt[l4 + 4] = 0xff; /* seq near the wrap */
	pkt[l4 + 5] = 0xff;
	pkt[l4 + 6] = 0xf0;
	pkt[l4 + 12] = 8 << 4;
	pkt[l4 + 13] = 0x18 | 0x01 | 0x80; /* ACK PSH FIN CWR */
	for (uint32_t i = hlen; i < len; i++)
		pkt[i] = (uint8_t)rand();
	CHECK_EQ(vhost_pktbuf_append_data(p, pkt, len), 0);
	p->ol_flags = VHOST_PKT_F_GSO | VHOST_PKT_F_CSUM_PARTIAL;
	p->gso_type = v6 ? VHOST_GSO_TCPV6 : VHOST_GSO_TCPV4;
	p->gso_size = mss;
	p->csum_start = (uint16_t)l4;
	p->csum_offset = 16;
	total = gso_count(p);
	CHECK_EQ(total, (int)((payload + mss - 1) / mss));
	CHECK(total <= MAX_SEGS);
	/* Batch by batch, as the switch does: the last one may be short,
	 * past the end there is nothing. */
	for (n = 0; n < total; n += k) {
		unsigned want = batch < (unsigned)(MAX_SEGS - n) ?
					batch : (unsigned)(MAX_SEGS - n);

		k = gso_segment(p, pool, (unsigned)n, segs + n, want);
		CHECK_EQ(k, (int)(total - n < (int)batch ? total - n : (int)batch));
		if (k <= 0)
			break;
	}
	CHECK_EQ(n, total);
	CHECK_EQ(gso_segment(p, pool, (unsigned)total, segs, batch), 0);
	for (k = 0; k < n; k++) {
		uint8_t s[2048];
		uint32_t sl = segs[k]->pkt_len, dl = sl - hlen;
		uint8_t *ip = s + l3, *tcp = s + l4;
		uint32_t seq, pseudo;

		CHECK(sl <= sizeof(s));
		vhost_pktbuf_read(segs[k], 0, sl, s);
		CHECK_EQ(dl, k == n - 1 ? payload - (uint32_t)k * mss : mss);
		if (v6) {
			CHECK_EQ(get16(ip + 4), sl - l4);
			pseudo = csum(ip + 8, 32, 0);
		} else {
			CHECK_EQ(get16(ip + 2), sl - l3);
			CHECK_EQ(get16(ip + 4), 0x1234 + k);
			CHECK_EQ(csum(ip, 20, 0), 0xffff);
			pseudo = csum(ip + 12, 8, 0);
		}
		seq = (uint32_t)get16(tcp + 4) << 16 | get16(tcp + 6);
		CHECK_EQ(seq, 0xfffff000u + (uint32_t)k * mss);
		CHECK_EQ(!!(tcp[13] & 0x01), k == n - 1); /* FIN */
		CHECK_EQ(!!(tcp[13] & 0x08), k == n - 1); /* PSH */
		CHECK_EQ(!!(tcp[13] & 0x80), k == 0);     /* CWR */
		CHECK_EQ(csum(tcp, sl - l4, pseudo + 6 + (sl - l4)), 0xffff);
		CHECK(memcmp(s, pkt, l3) == 0);
		memcpy(back + got, s + hlen, dl);
		got += dl;
	}
	CHECK_EQ(got, payload);
	CHECK(memcmp(back, pkt + hlen, payload) == 0);
	vhost_pktbuf_free_bulk(segs, n > 0 ? (unsigned)n : 0);
	/* Not a TSO packet, or one we cannot cut: refused, nothing leaks. */
	p->gso_type = v6 ? VHOST_GSO_TCPV4 : VHOST_GSO_TCPV6;
	CHECK_EQ(gso_segment(p, pool, 0, segs, batch), -EINVAL);
	CHECK_EQ(gso_count(p), -EINVAL);
	p->gso_type = v6 ? VHOST_GSO_TCPV6 : VHOST_GSO_TCPV4;
	p->csum_start = 20;
	CHECK_EQ(gso_segment(p, pool, 0, segs, batch), -EINVAL);
	p->csum_start = (uint16_t)l4;
	/* An MSS so small that one packet would make thousands of
	 * segments (work a guest could ask of a shared worker): refused. */
	p->gso_size = GSO_MIN_SEG - 1;
	CHECK_EQ(gso_count(p), -EINVAL);
	CHECK_EQ(gso_segment(p, pool, 0, segs, batch), -EINVAL);
	vhost_pktbuf_free(p);
	CHECK_EQ(vhost_pktbuf_pool_avail(pool), POOL_BUFS);
	vhost_pktbuf_pool_destroy(pool);
}

static void test_segments(void)
{
	srand(3);
	check_one(false, 5000, 1448, 32);
	check_one(false, 1448 * 3, 1448, 32);
	check_one(false, 65000, 1448, 32);
	check_one(true, 5001, 1428, 32);
	check_one(true, 100, 1428, 32);
}

/* MSS 536 on a 64 KiB TSO frame (the largest packet): 123 segments, more than
 * the 64 the switch could cut before; batches of 32 (the switch's) and of
 * 7 (every boundary somewhere else). */
static void test_many_segments(void)
{
	const uint32_t v4 = VHOST_PKTBUF_MAX_PKT_LEN - 14 - 20 - 32;
	const uint32_t v6 = VHOST_PKTBUF_MAX_PKT_LEN - 14 - 40 - 32;

	srand(5);
	CHECK_EQ((v4 + 535) / 536, 123u);
	CHECK_EQ((v6 + 535) / 536, 123u);
	check_one(false, v4, 536, 32);
	check_one(true, v6, 536, 32);
	check_one(false, v4, 536, 7);
	check_one(true, v6, 536, 200);
	check_one(false, v4, GSO_MIN_SEG + 500, 64);
}

int main(void)
{
	RUN(test_segments);
	RUN(test_many_segments);
	return check_summary("gso");
}
