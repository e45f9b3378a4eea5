/* SPDX-License-Identifier: BSD-3-Clause */
/* The virtio-net header helpers: the software checksum against a plain
 * byte-wise reference over packets split into odd-sized segments, and the
 * TSO header length. */
#include <stdlib.h>

#include "check.h"
#include "net_hdr.h"

static uint16_t reference(const uint8_t *d, uint32_t len, uint32_t from)
{
	uint64_t sum = 0;

	for (uint32_t i = from; i < len; i++)
		sum += (i - from) & 1 ? d[i] : (uint32_t)d[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = (uint16_t)~sum;
	return sum ? (uint16_t)sum : 0xffff;
}

/* A packet of len bytes in segments of 1..seg_max bytes. */
static struct vhost_pktbuf *split_pkt(struct vhost_pktbuf_pool *pool,
				      const uint8_t *d, uint32_t len,
				      unsigned seg_max)
{
	struct vhost_pktbuf *head = vhost_pktbuf_alloc(pool);
	uint32_t off = 0;

	while (off < len) {
		/* at most ~200 segments (the limit is 256) */
		uint32_t n = len / 200 + 1 + (uint32_t)rand() % seg_max;
		uint8_t *w;

		if (n > len - off)
			n = len - off;
		if (off) {
			struct vhost_pktbuf *s = vhost_pktbuf_alloc(pool);

			if (!s || vhost_pktbuf_chain(head, s))
				abort();
		}
		w = vhost_pktbuf_append(head, (uint16_t)n); /* to the last */
		if (!w)
			abort();
		memcpy(w, d + off, n);
		off += n;
	}
	return head;
}

static void test_csum(void)
{
	struct vhost_pktbuf_pool *pool = vhost_pktbuf_pool_create("t", 4096, 2048, 0);
	static uint8_t d[9000];

	srand(7);
	for (int round = 0; round < 2000; round++) {
		uint32_t len = 1 + (uint32_t)rand() % sizeof(d);
		uint32_t from = (uint32_t)rand() % len;
		struct vhost_pktbuf *p;

		for (uint32_t i = 0; i < len; i++)
			d[i] = (uint8_t)rand();
		p = split_pkt(pool, d, len, 1 + (unsigned)rand() % 300);
		CHECK_EQ(p->pkt_len, len);
		CHECK_EQ(net_pkt_csum(p, from), reference(d, len, from));
		vhost_pktbuf_free(p);
	}
	/* all-zero data after a 0xffff word sums to 0xffff: sent as 0xffff */
	memset(d, 0, 64);
	d[0] = d[1] = 0xff;
	{
		struct vhost_pktbuf *p = split_pkt(pool, d, 64, 64);

		CHECK_EQ(net_pkt_csum(p, 0), 0xffff);
		vhost_pktbuf_free(p);
	}
	vhost_pktbuf_pool_destroy(pool);
}

static void test_gso_hdr_len(void)
{
	struct vhost_pktbuf_pool *pool = vhost_pktbuf_pool_create("t", 64, 2048, 0);
	struct vhost_pktbuf *p = vhost_pktbuf_alloc(pool);
	uint8_t *d = vhost_pktbuf_append(p, 100);

	memset(d, 0, 100);
	p->csum_start = 34;
	p->csum_offset = 16;
	d[34 + 12] = 8 << 4; /* 32-byte TCP header (options) */
	CHECK_EQ(net_gso_hdr_len(p), 66);
	d[34 + 12] = 2 << 4; /* nonsense: shorter than the checksum field */
	CHECK_EQ(net_gso_hdr_len(p), 52);
	p->csum_start = 99; /* TCP header past the end */
	p->csum_offset = 0;
	CHECK_EQ(net_gso_hdr_len(p), 101);
	vhost_pktbuf_free(p);
	vhost_pktbuf_pool_destroy(pool);
}

int main(void)
{
	RUN(test_csum);
	RUN(test_gso_hdr_len);
	return check_summary("net_hdr");
}
