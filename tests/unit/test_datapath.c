/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data path end to end: the test plays the guest driver on rings the
 * test front-end (tests/lib/frontend.c) set up over a real socket, and calls
 * vhost_enqueue_burst() / vhost_dequeue_burst() from the test thread.
 *
 * Checked: descriptor layouts (split headers, indirect tables, multi-segment
 * packets up to 64 KiB), the virtio-net header both ways (offloads, the
 * checksum completed for guests without GUEST_CSUM), mergeable buffers, the
 * used ring, notifications (with and without EVENT_IDX), stats and drop
 * reasons (malicious rings: test_datapath_hostile.c, same fixture in
 * datapath_fixture.h). Around every
 * burst the whole of guest memory is compared with a snapshot: nothing may
 * change but the used ring of the queue and (enqueue) the posted buffers;
 * memory the guest did not post is filled with a pattern so stray writes
 * show. The receive side is checked with a parser that reads the used ring
 * the way a Linux guest does (num_buffers entries per packet, entries
 * shorter than the header dropped alone).
 */
#include "datapath_fixture.h"

static void test_dequeue_layouts(void)
{
	static uint8_t d[5][200];
	static const uint32_t c_one[] = { 0 };          /* all in one */
	static const uint32_t c_hdr[] = { 12 };         /* header, data */
	static const uint32_t c_many[] = { 12, 30, 1, 40 };
	static const uint32_t c_tiny[] = { 1, 2, 9 };   /* split header */
	static const uint32_t c_mix[] = { 5, 60 };      /* hdr straddles */
	struct vhost_pktbuf *pk[8] = { 0 };
	uint16_t heads[5];
	struct vhost_vring_stats s;

	SETUP(BASE, 0, 0);
	for (int i = 0; i < 5; i++)
		fill(d[i], 100 + (uint32_t)i, (unsigned)i);
	heads[0] = tx_post(TXQ, &hdr0, d[0], 100, c_one, 0, false);
	heads[1] = tx_post(TXQ, &hdr0, d[1], 101, c_hdr, 1, false);
	heads[2] = tx_post(TXQ, &hdr0, d[2], 102, c_many, 4, false);
	heads[3] = tx_post(TXQ, &hdr0, d[3], 103, c_tiny, 3, false);
	heads[4] = tx_post(TXQ, &hdr0, d[4], 104, c_mix, 2, false);
	publish(TXQ);
	CHECK_EQ(vhost_vring_avail_count(T.dev, TXQ), 5);
	/* A burst smaller than what is there takes the first ones only. */
	CHECK_EQ(DEQ(TXQ, pk, 2), 2);
	CHECK_EQ(used_idx(TXQ), 2);
	CHECK_EQ(DEQ(TXQ, pk + 2, 8), 3);
	CHECK_EQ(used_idx(TXQ), 5);
	for (int i = 0; i < 5; i++) {
		CHECK(pkt_is(pk[i], d[i], 100 + (uint32_t)i));
		CHECK_EQ(pk[i]->nb_segs, 1);
		CHECK_EQ(pk[i]->ol_flags, 0);
		CHECK_EQ(pk[i]->queue, TXQ);
		CHECK_EQ(used_at(TXQ, (uint16_t)i).id, heads[i]);
		CHECK_EQ(used_at(TXQ, (uint16_t)i).len, 0);
	}
	vhost_pktbuf_free_bulk(pk, 5);
	/* Nothing left: an empty burst changes nothing. */
	CHECK_EQ(DEQ(TXQ, pk, 8), 0);
	CHECK_EQ(used_idx(TXQ), 5);
	s = stats(TXQ);
	CHECK_EQ(s.packets, 5);
	CHECK_EQ(s.bytes, 100 + 101 + 102 + 103 + 104);
	CHECK_EQ(s.size_buckets[1], 5);
	for (int i = 0; i < VHOST_DROP_REASONS; i++)
		CHECK_EQ(s.drops[i], 0);
	/* Reset. */
	CHECK_EQ(vhost_vring_stats_reset(T.dev, TXQ), 0);
	CHECK_EQ(stats(TXQ).packets, 0);
	teardown();
}

/* 10-byte header: neither VERSION_1 nor MRG_RXBUF. */
static void test_dequeue_legacy_header(void)
{
	static uint8_t d[300];
	static const uint32_t c_hdr[] = { 10 };
	static const uint32_t c_tiny[] = { 3, 7, 50 };
	struct vhost_pktbuf *pk[4] = { 0 };

	SETUP(F(VHOST_USER_F_PROTOCOL_FEATURES), 0, 0);
	CHECK_EQ(T.hdr, 10);
	fill(d, sizeof(d), 9);
	tx_post(TXQ, &hdr0, d, 300, c_hdr, 1, false);
	tx_post(TXQ, &hdr0, d, 299, c_tiny, 3, false);
	tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 4), 3);
	CHECK(pkt_is(pk[0], d, 300));
	CHECK(pkt_is(pk[1], d, 299));
	CHECK(pkt_is(pk[2], d, 64));
	vhost_pktbuf_free_bulk(pk, 3);
	CHECK_EQ(stats(TXQ).bytes, 300 + 299 + 64);
	CHECK_EQ(stats(TXQ).size_buckets[0], 1);
	CHECK_EQ(stats(TXQ).size_buckets[3], 2);
	teardown();
}

static void test_dequeue_indirect(void)
{
	static uint8_t d[3][1000];
	static const uint32_t c_three[] = { 12, 400 };
	static const uint32_t c_tiny[] = { 4, 4, 4, 1 };
	struct vhost_pktbuf *pk[4] = { 0 };
	uint16_t h[3];

	SETUP(BASE | F(VIRTIO_RING_F_INDIRECT_DESC), 0, 0);
	for (int i = 0; i < 3; i++)
		fill(d[i], 1000, 40u + (unsigned)i);
	h[0] = tx_post(TXQ, &hdr0, d[0], 1000, NULL, 0, true);
	h[1] = tx_post(TXQ, &hdr0, d[1], 999, c_three, 2, true);
	h[2] = tx_post(TXQ, &hdr0, d[2], 998, c_tiny, 4, true);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 4), 3);
	CHECK(pkt_is(pk[0], d[0], 1000));
	CHECK(pkt_is(pk[1], d[1], 999));
	CHECK(pkt_is(pk[2], d[2], 998));
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(used_at(TXQ, (uint16_t)i).id, h[i]);
		CHECK_EQ(used_at(TXQ, (uint16_t)i).len, 0);
	}
	vhost_pktbuf_free_bulk(pk, 3);
	CHECK_EQ(stats(TXQ).size_buckets[4], 3);
	teardown();
}

static void test_dequeue_sizes(void)
{
	static uint8_t d[VHOST_PKTBUF_MAX_PKT_LEN + 1];
	static const uint32_t sizes[] = { 64, 1518, 9000, 65535, 65536 };
	static const uint32_t c_4k[] = { 12, 4096, 4096, 4096, 4096, 4096,
					 4096, 4096, 4096, 4096, 4096, 4096,
					 4096, 4096, 4096, 4096, 4096 };
	static const uint32_t c_odd[] = { 7, 1001, 3, 2047, 2049, 1 };
	struct vhost_pktbuf *pk[4] = { 0 };
	uint64_t bytes = 0;
	struct vhost_vring_stats s;

	SETUP(BASE | F(VIRTIO_RING_F_INDIRECT_DESC), 0, 0);
	fill(d, sizeof(d), 77);
	for (unsigned i = 0; i < 5; i++) {
		uint32_t len = sizes[i];

		for (int layout = 0; layout < 3; layout++) {
			uint16_t head;

			if (layout == 0)
				head = tx_post(TXQ, &hdr0, d, len, NULL, 0, false);
			else if (layout == 1)
				head = tx_post(TXQ, &hdr0, d, len, c_4k, 17, false);
			else
				head = tx_post(TXQ, &hdr0, d, len, c_odd, 6, true);
			publish(TXQ);
			pk[0] = NULL;
			CHECK_EQ(DEQ(TXQ, pk, 4), 1);
			CHECK(pkt_is(pk[0], d, len));
			if (pk[0])
				CHECK_EQ(pk[0]->nb_segs, segs_for(len));
			CHECK_EQ(used_at(TXQ, (uint16_t)(used_idx(TXQ) - 1)).id, head);
			vhost_pktbuf_free(pk[0]);
			bytes += len;
		}
	}
	s = stats(TXQ);
	CHECK_EQ(s.packets, 15);
	CHECK_EQ(s.bytes, bytes);
	CHECK_EQ(s.size_buckets[0], 3);
	CHECK_EQ(s.size_buckets[5], 3);
	CHECK_EQ(s.size_buckets[6], 3);
	CHECK_EQ(s.size_buckets[7], 6);
	/* One byte more than the largest packet: refused as too big. */
	tx_post(TXQ, &hdr0, d, VHOST_PKTBUF_MAX_PKT_LEN + 1, c_4k, 17, false);
	tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 4), 1);
	CHECK(pkt_is(pk[0], d, 64));
	vhost_pktbuf_free(pk[0]);
	CHECK_EQ(drops(TXQ, VHOST_DROP_TOO_BIG), 1);
	CHECK_EQ(used_at(TXQ, (uint16_t)(used_idx(TXQ) - 2)).len, 0);
	teardown();
}

static void test_dequeue_offload(void)
{
	static uint8_t d[2000];
	struct vhost_pktbuf *pk[8] = { 0 };
	nethdr h;

	SETUP(BASE | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4), 0, 0);
	fill(d, sizeof(d), 5);
	h = mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 34, 16);
	tx_post(TXQ, &h, d, 200, NULL, 0, false);
	h = mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 1448,
		  34, 16);
	tx_post(TXQ, &h, d, 2000, NULL, 0, false);
	/* The checksum field may end exactly at the packet's end. */
	h = mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 90, 8);
	tx_post(TXQ, &h, d, 100, NULL, 0, false);
	/* TSO6 / ECN not negotiated: refused. */
	h = mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 1440,
		  54, 16);
	tx_post(TXQ, &h, d, 2000, NULL, 0, false);
	h = mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM,
		  VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 1448, 34, 16);
	tx_post(TXQ, &h, d, 2000, NULL, 0, false);
	/* GSO with size 0: refused. */
	h = mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 0, 34,
		  16);
	tx_post(TXQ, &h, d, 2000, NULL, 0, false);
	tx_post(TXQ, &hdr0, d, 60, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 8), 4);
	CHECK(pkt_is(pk[0], d, 200));
	CHECK_EQ(pk[0]->ol_flags, VHOST_PKT_F_CSUM_PARTIAL);
	CHECK_EQ(pk[0]->csum_start, 34);
	CHECK_EQ(pk[0]->csum_offset, 16);
	CHECK(pkt_is(pk[1], d, 2000));
	CHECK_EQ(pk[1]->ol_flags, VHOST_PKT_F_CSUM_PARTIAL | VHOST_PKT_F_GSO);
	CHECK_EQ(pk[1]->gso_type, VHOST_GSO_TCPV4);
	CHECK_EQ(pk[1]->gso_size, 1448);
	CHECK_EQ(pk[1]->csum_start, 34);
	CHECK_EQ(pk[1]->csum_offset, 16);
	CHECK_EQ(pk[1]->nb_segs, 1);
	CHECK(pkt_is(pk[2], d, 100));
	CHECK_EQ(pk[2]->ol_flags, VHOST_PKT_F_CSUM_PARTIAL);
	CHECK(pkt_is(pk[3], d, 60));
	CHECK_EQ(pk[3]->ol_flags, 0);
	CHECK_EQ(pk[3]->gso_type, 0);
	vhost_pktbuf_free_bulk(pk, 4);
	CHECK_EQ(drops(TXQ, VHOST_DROP_BAD_HDR), 3);
	CHECK_EQ(used_idx(TXQ), 7);
	for (uint16_t i = 0; i < 7; i++)
		CHECK_EQ(used_at(TXQ, i).len, 0);
	teardown();

	/* NEEDS_CSUM from a guest that did not negotiate CSUM: refused. */
	SETUP(BASE, 0, 0);
	h = mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 34, 16);
	tx_post(TXQ, &h, d, 200, NULL, 0, false);
	tx_post(TXQ, &hdr0, d, 200, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 8), 1);
	CHECK(pkt_is(pk[0], d, 200));
	vhost_pktbuf_free(pk[0]);
	CHECK_EQ(drops(TXQ, VHOST_DROP_BAD_HDR), 1);
	teardown();
}

/* The pool runs dry in the middle of a multi-segment packet: nothing is
 * lost, the chain stays in the ring for the next burst. */
static void test_dequeue_pool_empty(void)
{
	static uint8_t d[9000];
	struct vhost_pktbuf_pool *small =
		vhost_pktbuf_pool_create("dp-small", 2, ROOM, 0);
	struct vhost_pktbuf *pk[2] = { 0 };

	CHECK(small != NULL);
	if (!small)
		return;
	SETUP(BASE, 0, 0);
	fill(d, sizeof(d), 3);
	tx_post(TXQ, &hdr0, d, 9000, NULL, 0, false);
	publish(TXQ);
	snap_begin();
	CHECK_EQ(vhost_dequeue_burst(T.dev, TXQ, small, pk, 2), 0);
	snap_check(TXQ, false, __LINE__);
	CHECK_EQ(used_idx(TXQ), 0);
	CHECK_EQ(vhost_pktbuf_pool_avail(small), 2);
	CHECK_EQ(drops(TXQ, VHOST_DROP_NO_PKTBUF), 1);
	CHECK_EQ(vhost_vring_avail_count(T.dev, TXQ), 1);
	CHECK_EQ(DEQ(TXQ, pk, 2), 1);
	CHECK(pkt_is(pk[0], d, 9000));
	vhost_pktbuf_free(pk[0]);
	teardown();
	vhost_pktbuf_pool_destroy(small);
}

/* =================================================================== */
/*                               enqueue                               */
/* =================================================================== */

static void test_enqueue_simple(void)
{
	static uint8_t d[3][1500];
	static const uint32_t lens[] = { 60, 1000, 1500 };
	static const uint32_t two[] = { 12, 2036 };
	static const uint32_t tiny[] = { 1, 3, 8, 2036 };
	struct vhost_pktbuf *pk[3];
	uint16_t h[3];
	int errs;

	SETUP(BASE, 0, 0);
	for (int i = 0; i < 3; i++) {
		fill(d[i], lens[i], 10u + (unsigned)i);
		pk[i] = mkpkt(d[i], lens[i], i == 2 ? 333 : ROOM);
	}
	h[0] = rx_post(RXQ, 2048);
	h[1] = rx_post_chain(RXQ, two, 2, false);
	h[2] = rx_post_chain(RXQ, tiny, 4, false);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 3), 3);
	CHECK_EQ(used_idx(RXQ), 3);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(used_at(RXQ, (uint16_t)i).id, h[i]);
		CHECK_EQ(used_at(RXQ, (uint16_t)i).len, 12 + lens[i]);
	}
	CHECK_EQ(rx_collect(RXQ, &errs), 3);
	CHECK_EQ(errs, 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(rxp[i].h.hdr.flags, 0);
		CHECK_EQ(rxp[i].h.hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE);
		CHECK_EQ(rxp[i].h.num_buffers, 1);
		CHECK_EQ(rxp[i].len, lens[i]);
		CHECK(memcmp(rxp[i].data, d[i], lens[i]) == 0);
	}
	/* The device wrote header + packet and not a byte more. */
	CHECK_EQ(T.rx[RXQ][h[0]].p[0][12 + 60], PAT);
	CHECK_EQ(T.rx[RXQ][h[0]].p[0][2047], PAT);
	CHECK_EQ(stats(RXQ).packets, 3);
	CHECK_EQ(stats(RXQ).bytes, 60 + 1000 + 1500);
	CHECK_EQ(stats(RXQ).size_buckets[0], 1);
	CHECK_EQ(stats(RXQ).size_buckets[4], 1);
	CHECK_EQ(stats(RXQ).size_buckets[5], 1);
	/* The caller keeps its packets, untouched. */
	for (int i = 0; i < 3; i++) {
		CHECK(pkt_is(pk[i], d[i], lens[i]));
		CHECK_EQ(vhost_pktbuf_refcnt_read(pk[i]), 1);
	}
	vhost_pktbuf_free_bulk(pk, 3);
	/* A buffer that holds the header but for one byte gets it whole (the
	 * device skips the store only when all 12 bytes already match). */
	for (int k = 0; k < 12; k++) {
		static const nethdr plain = { .num_buffers = 1 };
		uint16_t hb = rx_post(RXQ, 2048);

		memcpy(T.rx[RXQ][hb].p[0], &plain, sizeof(plain));
		T.rx[RXQ][hb].p[0][k] ^= 0x40;
		publish(RXQ);
		pk[0] = mkpkt(d[0], 60, ROOM);
		CHECK_EQ(ENQ(RXQ, pk, 1), 1);
		CHECK_EQ(rx_collect(RXQ, &errs), 1);
		CHECK_EQ(errs, 0);
		CHECK(memcmp(&rxp[0].h, &plain, sizeof(plain)) == 0);
		vhost_pktbuf_free(pk[0]);
	}
	teardown();

	/* Legacy 10-byte header, indirect receive buffers. */
	SETUP(F(VHOST_USER_F_PROTOCOL_FEATURES) | F(VIRTIO_RING_F_INDIRECT_DESC),
	      0, 0);
	pk[0] = mkpkt(d[1], 1000, ROOM);
	h[0] = rx_post_chain(RXQ, tiny, 4, true);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 1), 1);
	CHECK_EQ(used_at(RXQ, 0).id, h[0]);
	CHECK_EQ(used_at(RXQ, 0).len, 10 + 1000);
	CHECK_EQ(rx_collect(RXQ, &errs), 1);
	CHECK_EQ(rxp[0].len, 1000);
	CHECK(memcmp(rxp[0].data, d[1], 1000) == 0);
	CHECK_EQ(rxp[0].h.hdr.flags, 0);
	vhost_pktbuf_free(pk[0]);
	teardown();
}

static void test_enqueue_mergeable(void)
{
	static uint8_t d[9000], e[100];
	static const uint32_t split_hdr[] = { 5, 7, 244 };
	struct vhost_pktbuf *pk[3];
	uint16_t h[8];
	int errs;
	uint8_t *b;

	SETUP(BASE | F(VIRTIO_NET_F_MRG_RXBUF), 0, 0);
	fill(d, sizeof(d), 21);
	fill(e, sizeof(e), 22);
	pk[0] = mkpkt(d, 1000, 700);
	pk[1] = mkpkt(e, 100, ROOM);
	h[0] = rx_post(RXQ, 256);
	h[1] = rx_post(RXQ, 256);
	h[2] = rx_post_chain(RXQ, split_hdr, 3, false);
	h[3] = rx_post(RXQ, 256);
	h[4] = rx_post(RXQ, 256);
	h[5] = rx_post(RXQ, 256);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 2), 2);
	CHECK_EQ(used_idx(RXQ), 5);
	/* 12 + 1000 bytes over 256 + 256 + 256 + 244. */
	CHECK_EQ(used_at(RXQ, 0).id, h[0]);
	CHECK_EQ(used_at(RXQ, 0).len, 256);
	CHECK_EQ(used_at(RXQ, 1).id, h[1]);
	CHECK_EQ(used_at(RXQ, 1).len, 256);
	CHECK_EQ(used_at(RXQ, 2).id, h[2]);
	CHECK_EQ(used_at(RXQ, 2).len, 256);
	CHECK_EQ(used_at(RXQ, 3).id, h[3]);
	CHECK_EQ(used_at(RXQ, 3).len, 244);
	CHECK_EQ(used_at(RXQ, 4).id, h[4]);
	CHECK_EQ(used_at(RXQ, 4).len, 112);
	/* The bytes where they belong. */
	b = T.rx[RXQ][h[0]].p[0];
	CHECK_EQ(((nethdr *)(void *)b)->num_buffers, 4);
	CHECK(memcmp(b + 12, d, 244) == 0);
	CHECK(memcmp(T.rx[RXQ][h[1]].p[0], d + 244, 256) == 0);
	CHECK(memcmp(T.rx[RXQ][h[2]].p[0], d + 500, 5) == 0);
	CHECK(memcmp(T.rx[RXQ][h[2]].p[1], d + 505, 7) == 0);
	CHECK(memcmp(T.rx[RXQ][h[2]].p[2], d + 512, 244) == 0);
	CHECK(memcmp(T.rx[RXQ][h[3]].p[0], d + 756, 244) == 0);
	CHECK_EQ(T.rx[RXQ][h[3]].p[0][244], PAT);
	CHECK_EQ(T.rx[RXQ][h[5]].p[0][0], PAT); /* not used */
	CHECK_EQ(rx_collect(RXQ, &errs), 2);
	CHECK_EQ(errs, 0);
	CHECK_EQ(rxp[0].nbufs, 4);
	CHECK_EQ(rxp[0].len, 1000);
	CHECK(memcmp(rxp[0].data, d, 1000) == 0);
	CHECK_EQ(rxp[1].nbufs, 1);
	CHECK_EQ(rxp[1].len, 100);
	CHECK(memcmp(rxp[1].data, e, 100) == 0);
	CHECK_EQ(stats(RXQ).packets, 2);
	CHECK_EQ(stats(RXQ).bytes, 1100);
	vhost_pktbuf_free_bulk(pk, 2);

	/* 9000 bytes from a multi-segment packet: h[5] (256, left from
	 * before), a split chain, then 4 KiB buffers. */
	pk[0] = mkpkt(d, 9000, 1000);
	h[6] = rx_post_chain(RXQ, split_hdr, 3, false);
	rx_post(RXQ, 4096);
	rx_post(RXQ, 4096);
	rx_post(RXQ, 4096);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 1), 1);
	CHECK_EQ(used_idx(RXQ), 5 + 5);
	CHECK_EQ(rx_collect(RXQ, &errs), 1);
	CHECK_EQ(errs, 0);
	CHECK_EQ(rxp[0].nbufs, 5);
	CHECK_EQ(rxp[0].len, 9000);
	CHECK(memcmp(rxp[0].data, d, 9000) == 0);
	CHECK_EQ(used_at(RXQ, 5).id, h[5]);
	CHECK_EQ(used_at(RXQ, 6).id, h[6]);
	CHECK_EQ(used_at(RXQ, 8).len, 4096);
	CHECK_EQ(used_at(RXQ, 9).len, 9012 - 256 - 256 - 4096 - 4096);
	CHECK_EQ(stats(RXQ).size_buckets[6], 1);
	vhost_pktbuf_free(pk[0]);
	teardown();
}

static void test_enqueue_too_big(void)
{
	static uint8_t d[1000], e[100];
	struct vhost_pktbuf *pk[3];
	uint16_t h;
	int errs;

	fill(d, sizeof(d), 31);
	fill(e, sizeof(e), 32);

	/* Without mergeable buffers: the packet that does not fit the chain
	 * ends the burst (counted TOO_BIG, the caller drops it); the chain
	 * takes the next packet when the caller sends it. */
	SETUP(BASE, 0, 0);
	pk[0] = mkpkt(d, 1000, ROOM);
	pk[1] = mkpkt(e, 100, ROOM);
	h = rx_post(RXQ, 512);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 2), 0); /* stops at the one that cannot fit */
	CHECK_EQ(drops(RXQ, VHOST_DROP_TOO_BIG), 1);
	CHECK_EQ(used_idx(RXQ), 0);
	CHECK_EQ(ENQ(RXQ, &pk[1], 1), 1);
	CHECK_EQ(drops(RXQ, VHOST_DROP_NO_ROOM), 0);
	CHECK_EQ(stats(RXQ).packets, 1);
	CHECK_EQ(used_idx(RXQ), 1);
	CHECK_EQ(used_at(RXQ, 0).id, h);
	CHECK_EQ(used_at(RXQ, 0).len, 112);
	CHECK_EQ(rx_collect(RXQ, &errs), 1);
	CHECK_EQ(rxp[0].len, 100);
	CHECK(memcmp(rxp[0].data, e, 100) == 0);
	vhost_pktbuf_free_bulk(pk, 2);
	teardown();

	/* Mergeable: not placed, the buffers stay available, return < n. */
	SETUP(BASE | F(VIRTIO_NET_F_MRG_RXBUF), 0, 0);
	pk[0] = mkpkt(e, 100, ROOM);
	pk[1] = mkpkt(d, 1000, ROOM);
	pk[2] = mkpkt(e, 50, ROOM);
	for (int i = 0; i < 4; i++)
		rx_post(RXQ, 256);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 3), 1); /* the first fits, the second not */
	CHECK_EQ(used_idx(RXQ), 1);
	CHECK_EQ(vhost_vring_avail_count(T.dev, RXQ), 3);
	CHECK_EQ(stats(RXQ).packets, 1);
	CHECK_EQ(drops(RXQ, VHOST_DROP_NO_ROOM), 2);
	CHECK_EQ(drops(RXQ, VHOST_DROP_TOO_BIG), 0);
	/* More buffers: it goes through, then the third. */
	rx_post(RXQ, 256);
	rx_post(RXQ, 256);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk + 1, 2), 2);
	CHECK_EQ(used_idx(RXQ), 1 + 4 + 1);
	CHECK_EQ(rx_collect(RXQ, &errs), 3);
	CHECK_EQ(errs, 0);
	CHECK_EQ(rxp[0].len, 100);
	CHECK(memcmp(rxp[0].data, e, 100) == 0);
	CHECK_EQ(rxp[1].nbufs, 4);
	CHECK_EQ(rxp[1].len, 1000);
	CHECK(memcmp(rxp[1].data, d, 1000) == 0);
	CHECK_EQ(rxp[2].len, 50);
	CHECK(memcmp(rxp[2].data, e, 50) == 0);
	vhost_pktbuf_free_bulk(pk, 3);
	teardown();
}

static void test_enqueue_ring_full(void)
{
	static uint8_t d[10][64];
	struct vhost_pktbuf *pk[10];
	int errs;

	for (int mrg = 0; mrg < 2; mrg++) {
		SETUP(BASE | (mrg ? F(VIRTIO_NET_F_MRG_RXBUF) : 0), 0, 0);
		for (int i = 0; i < 10; i++) {
			fill(d[i], 64, 50u + (unsigned)i);
			pk[i] = mkpkt(d[i], 64, ROOM);
		}
		/* Nothing posted: nothing placed. */
		CHECK_EQ(ENQ(RXQ, pk, 10), 0);
		for (int i = 0; i < 4; i++)
			rx_post(RXQ, 128);
		publish(RXQ);
		CHECK_EQ(ENQ(RXQ, pk, 10), 4);
		CHECK_EQ(used_idx(RXQ), 4);
		CHECK_EQ(vhost_vring_avail_count(T.dev, RXQ), 0);
		CHECK_EQ(ENQ(RXQ, pk + 4, 6), 0);
		rx_post(RXQ, 128);
		rx_post(RXQ, 128);
		publish(RXQ);
		CHECK_EQ(ENQ(RXQ, pk + 4, 6), 2);
		CHECK_EQ(used_idx(RXQ), 6);
		CHECK_EQ(rx_collect(RXQ, &errs), 6);
		CHECK_EQ(errs, 0);
		for (int i = 0; i < 6; i++) {
			CHECK_EQ(rxp[i].len, 64);
			CHECK(memcmp(rxp[i].data, d[i], 64) == 0);
		}
		CHECK_EQ(stats(RXQ).packets, 6);
		/* Unplaced packets are counted NO_ROOM (not dropped). */
		CHECK_EQ(drops(RXQ, VHOST_DROP_NO_ROOM), 10 + 6 + 6 + 4);
		for (int i = 0; i < 10; i++)
			CHECK(pkt_is(pk[i], d[i], 64));
		vhost_pktbuf_free_bulk(pk, 10);
		teardown();
	}
}

static uint32_t sum16(const uint8_t *p, uint32_t len, uint32_t sum)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Ethernet + IPv4 + TCP with the pseudo-header sum in the checksum field,
 * as a stack leaves it for CHECKSUM_PARTIAL. */
static uint32_t mk_tcp4(uint8_t *p, uint32_t payload)
{
	uint32_t tcp_len = 20 + payload, len = 34 + tcp_len, ps;
	uint16_t seed;

	memset(p, 0, 54);
	memset(p, 0x02, 12);
	p[12] = 0x08;
	p[14] = 0x45;
	p[16] = (uint8_t)((20 + tcp_len) >> 8);
	p[17] = (uint8_t)(20 + tcp_len);
	p[22] = 64;
	p[23] = 6;
	memcpy(p + 26, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	p[34] = 0x30;
	p[35] = 0x39;
	p[36] = 0x00;
	p[37] = 0x50;
	p[46] = 0x50;
	p[47] = 0x18;
	p[48] = 0xff;
	fill(p + 54, payload, 99);
	ps = sum16(p + 26, 8, 0) + 6 + tcp_len;
	seed = fold(ps);
	p[50] = (uint8_t)(seed >> 8);
	p[51] = (uint8_t)seed;
	return len;
}

/* A TCP/IPv4 packet verifies: pseudo-header + segment sum to 0xffff. */
static bool tcp4_csum_ok(const uint8_t *p, uint32_t len)
{
	uint32_t tcp_len = len - 34;
	uint32_t s = sum16(p + 26, 8, 0) + 6 + tcp_len;

	return fold(sum16(p + 34, tcp_len, s)) == 0xffff;
}

static void test_enqueue_csum(void)
{
	static uint8_t p[2000], orig[2000];
	struct vhost_pktbuf *pk[2];
	uint32_t len = mk_tcp4(p, 333);
	uint16_t want;
	int errs;

	memcpy(orig, p, len);
	/* My own checksum: ~sum over [csum_start, end) with the seed. */
	want = (uint16_t)~fold(sum16(p + 34, len - 34, 0));

	for (int mrg = 0; mrg < 2; mrg++) {
		SETUP(BASE | (mrg ? F(VIRTIO_NET_F_MRG_RXBUF) : 0), 0, 0);
		/* odd segment lengths: the sum carries across segments */
		pk[0] = mkpkt(p, len, 35);
		pk[0]->ol_flags = VHOST_PKT_F_CSUM_PARTIAL;
		pk[0]->csum_start = 34;
		pk[0]->csum_offset = 16;
		/* csum field beyond the packet: refused */
		pk[1] = mkpkt(p, 60, ROOM);
		pk[1]->ol_flags = VHOST_PKT_F_CSUM_PARTIAL;
		pk[1]->csum_start = 34;
		pk[1]->csum_offset = 25;
		if (mrg) {
			/* the checksum field (packet bytes 50, 51) straddles
			 * the first two buffers */
			rx_post(RXQ, 12 + 51);
			rx_post(RXQ, 7);
			rx_post(RXQ, 2048);
		} else {
			rx_post(RXQ, 2048);
		}
		publish(RXQ);
		CHECK_EQ(ENQ(RXQ, &pk[1], 1), 0); /* never placeable */
		CHECK_EQ(drops(RXQ, VHOST_DROP_BAD_HDR), 1);
		CHECK_EQ(used_idx(RXQ), 0);
		CHECK_EQ(ENQ(RXQ, pk, 1), 1);
		CHECK_EQ(rx_collect(RXQ, &errs), 1);
		CHECK_EQ(errs, 0);
		CHECK_EQ(rxp[0].h.hdr.flags, 0);
		CHECK_EQ(rxp[0].len, len);
		CHECK_EQ(rxp[0].data[50], (uint8_t)(want >> 8));
		CHECK_EQ(rxp[0].data[51], (uint8_t)want);
		CHECK(tcp4_csum_ok(rxp[0].data, len));
		CHECK(memcmp(rxp[0].data, orig, 50) == 0);
		CHECK(memcmp(rxp[0].data + 52, orig + 52, len - 52) == 0);
		/* The caller's packet is unchanged. */
		CHECK(pkt_is(pk[0], orig, len));
		CHECK_EQ(pk[0]->ol_flags, VHOST_PKT_F_CSUM_PARTIAL);
		vhost_pktbuf_free_bulk(pk, 2);
		teardown();
	}

	/* With GUEST_CSUM the guest gets the offload as is. */
	SETUP(BASE | F(VIRTIO_NET_F_GUEST_CSUM), 0, 0);
	pk[0] = mkpkt(p, len, 100);
	pk[0]->ol_flags = VHOST_PKT_F_CSUM_PARTIAL;
	pk[0]->csum_start = 34;
	pk[0]->csum_offset = 16;
	pk[1] = mkpkt(p, len, ROOM);
	pk[1]->ol_flags = VHOST_PKT_F_CSUM_VALID;
	rx_post(RXQ, 2048);
	rx_post(RXQ, 2048);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 2), 2);
	CHECK_EQ(rx_collect(RXQ, &errs), 2);
	CHECK_EQ(rxp[0].h.hdr.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(rxp[0].h.hdr.csum_start, 34);
	CHECK_EQ(rxp[0].h.hdr.csum_offset, 16);
	CHECK(memcmp(rxp[0].data, orig, len) == 0); /* seed left in place */
	CHECK_EQ(rxp[1].h.hdr.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	vhost_pktbuf_free_bulk(pk, 2);
	teardown();
}

static void test_enqueue_gso(void)
{
	static uint8_t p[4000];
	struct vhost_pktbuf *pk[3];
	uint32_t len = mk_tcp4(p, 3000);
	uint16_t h;
	int errs;

	/* Without GUEST_TSO4: dropped and counted; the buffer stays. */
	SETUP(BASE | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_MRG_RXBUF), 0,
	      0);
	pk[0] = mkpkt(p, len, ROOM);
	pk[0]->ol_flags = VHOST_PKT_F_CSUM_PARTIAL | VHOST_PKT_F_GSO;
	pk[0]->csum_start = 34;
	pk[0]->csum_offset = 16;
	pk[0]->gso_type = VHOST_GSO_TCPV4;
	pk[0]->gso_size = 1448;
	h = rx_post(RXQ, 8192);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 1), 0);
	CHECK_EQ(drops(RXQ, VHOST_DROP_BAD_HDR), 1);
	CHECK_EQ(stats(RXQ).packets, 0);
	CHECK_EQ(used_idx(RXQ), 0);
	CHECK_EQ(vhost_vring_avail_count(T.dev, RXQ), 1);
	CHECK_EQ(T.rx[RXQ][h].p[0][0], PAT);
	vhost_pktbuf_free(pk[0]);
	teardown();

	/* With it: the header carries the GSO request. */
	SETUP(BASE | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
	      F(VIRTIO_NET_F_MRG_RXBUF), 0, 0);
	pk[0] = mkpkt(p, len, ROOM);
	pk[0]->ol_flags = VHOST_PKT_F_CSUM_PARTIAL | VHOST_PKT_F_GSO;
	pk[0]->csum_start = 34;
	pk[0]->csum_offset = 16;
	pk[0]->gso_type = VHOST_GSO_TCPV4;
	pk[0]->gso_size = 1448;
	/* UDP GSO is not something the guest can take. */
	pk[1] = mkpkt(p, len, ROOM);
	pk[1]->ol_flags = VHOST_PKT_F_CSUM_PARTIAL | VHOST_PKT_F_GSO;
	pk[1]->csum_start = 34;
	pk[1]->csum_offset = 6;
	pk[1]->gso_type = VHOST_GSO_UDP;
	pk[1]->gso_size = 1448;
	/* GSO without a partial checksum: refused. */
	pk[2] = mkpkt(p, len, ROOM);
	pk[2]->ol_flags = VHOST_PKT_F_GSO;
	pk[2]->gso_type = VHOST_GSO_TCPV4;
	pk[2]->gso_size = 1448;
	rx_post(RXQ, 8192);
	h = rx_post(RXQ, 8192);
	publish(RXQ);
	/* The first goes in; the burst stops at the UDP one, which the
	 * caller drops; the next burst refuses the third. */
	CHECK_EQ(ENQ(RXQ, pk, 3), 1);
	CHECK_EQ(drops(RXQ, VHOST_DROP_BAD_HDR), 1);
	CHECK_EQ(ENQ(RXQ, &pk[2], 1), 0);
	CHECK_EQ(drops(RXQ, VHOST_DROP_BAD_HDR), 2);
	CHECK_EQ(vhost_vring_avail_count(T.dev, RXQ), 1);
	CHECK_EQ(T.rx[RXQ][h].p[0][0], PAT);
	CHECK_EQ(rx_collect(RXQ, &errs), 1);
	CHECK_EQ(rxp[0].h.hdr.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(rxp[0].h.hdr.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ(rxp[0].h.hdr.gso_size, 1448);
	CHECK_EQ(rxp[0].h.hdr.csum_start, 34);
	CHECK_EQ(rxp[0].h.hdr.csum_offset, 16);
	CHECK_EQ(rxp[0].len, len);
	CHECK(memcmp(rxp[0].data, p, len) == 0);
	vhost_pktbuf_free_bulk(pk, 3);
	teardown();
}

/* =================================================================== */
/*                            notifications                            */
/* =================================================================== */

static void test_notify_no_event_idx(void)
{
	static uint8_t d[64];
	struct vhost_pktbuf *pk[4];
	struct vhost_vring_stats s;
	int callfd;

	SETUP(BASE, 0, 0);
	callfd = VR(TXQ)->callfd;
	fill(d, 64, 1);
	/* Polling by default: the guest is asked not to kick. */
	CHECK_EQ(VR(RXQ)->used->flags, VRING_USED_F_NO_NOTIFY);
	CHECK_EQ(VR(TXQ)->used->flags, VRING_USED_F_NO_NOTIFY);
	drain(callfd);
	/* Interrupts wanted: one write per burst, however many entries. */
	VR(TXQ)->avail->flags = 0;
	for (int i = 0; i < 3; i++)
		tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 4), 3);
	vhost_pktbuf_free_bulk(pk, 3);
	CHECK_EQ(drain(callfd), 1);
	s = stats(TXQ);
	CHECK_EQ(s.notifications, 1);
	CHECK_EQ(s.notify_suppressed, 0);
	/* An empty burst: no notification, nothing counted. */
	CHECK_EQ(DEQ(TXQ, pk, 4), 0);
	CHECK_EQ(drain(callfd), 0);
	/* NO_INTERRUPT: suppressed and counted. */
	VR(TXQ)->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	for (int i = 0; i < 2; i++)
		tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 4), 2);
	vhost_pktbuf_free_bulk(pk, 2);
	CHECK_EQ(drain(callfd), 0);
	s = stats(TXQ);
	CHECK_EQ(s.notifications, 1);
	CHECK_EQ(s.notify_suppressed, 1);
	/* A bad chain alone still returns a used entry: it notifies. */
	VR(TXQ)->avail->flags = 0;
	{
		uint16_t h = new_desc(TXQ);

		set_desc(D(TXQ, h), gpa(galloc(64, 8)), 64, VRING_DESC_F_WRITE, 0);
		avail_add(TXQ, h);
	}
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 4), 0);
	CHECK_EQ(used_idx(TXQ), 6);
	CHECK_EQ(drain(callfd), 1);

	/* Same on the receive queue. */
	callfd = VR(RXQ)->callfd;
	drain(callfd);
	pk[0] = mkpkt(d, 64, ROOM);
	pk[1] = mkpkt(d, 64, ROOM);
	VR(RXQ)->avail->flags = 0;
	rx_post(RXQ, 128);
	rx_post(RXQ, 128);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 2), 2);
	CHECK_EQ(drain(callfd), 1);
	VR(RXQ)->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	rx_post(RXQ, 128);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 2), 1);
	CHECK_EQ(drain(callfd), 0);
	CHECK_EQ(stats(RXQ).notifications, 1);
	CHECK_EQ(stats(RXQ).notify_suppressed, 1);
	vhost_pktbuf_free_bulk(pk, 2);

	/* Interrupt mode for kicks and back. */
	CHECK_EQ(vhost_vring_enable_notify(T.dev, TXQ, true), 0);
	CHECK_EQ(VR(TXQ)->used->flags, 0);
	CHECK_EQ(VR(RXQ)->used->flags, VRING_USED_F_NO_NOTIFY);
	CHECK_EQ(vhost_vring_enable_notify(T.dev, TXQ, false), 0);
	CHECK_EQ(VR(TXQ)->used->flags, VRING_USED_F_NO_NOTIFY);
	CHECK(vhost_vring_kickfd(T.dev, TXQ) >= 0);
	CHECK_EQ(vhost_vring_kickfd(T.dev, 200), -1);
	teardown();
}

static void test_notify_event_idx(void)
{
	static uint8_t d[64];
	struct vhost_pktbuf *pk[4];
	struct vring_avail *av;
	uint16_t *used_event, *avail_event;
	int callfd;

	SETUP(BASE | F(VIRTIO_RING_F_EVENT_IDX), 0, 0);
	av = VR(TXQ)->avail;
	used_event = &av->ring[VR(TXQ)->size];
	avail_event = (uint16_t *)(void *)&VR(TXQ)->used->ring[VR(TXQ)->size];
	callfd = VR(TXQ)->callfd;
	fill(d, 64, 2);
	drain(callfd);
	/* NO_INTERRUPT means nothing with EVENT_IDX. */
	av->flags = VRING_AVAIL_F_NO_INTERRUPT;
	/* used_event 0: the first entry (0) passes it. */
	*used_event = 0;
	tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
	tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 4), 2);
	vhost_pktbuf_free_bulk(pk, 2);
	CHECK_EQ(drain(callfd), 1);
	/* used_event 4: entries 2, 3 do not reach it. */
	*used_event = 4;
	tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
	tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 4), 2);
	vhost_pktbuf_free_bulk(pk, 2);
	CHECK_EQ(drain(callfd), 0);
	/* entries 4, 5: entry 4 is the one asked for. */
	tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
	tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 4), 2);
	vhost_pktbuf_free_bulk(pk, 2);
	CHECK_EQ(drain(callfd), 1);
	/* entry 6, used_event still 4: no. */
	tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 4), 1);
	vhost_pktbuf_free_bulk(pk, 1);
	CHECK_EQ(drain(callfd), 0);
	/* used_event exactly the next entry (7). */
	*used_event = 7;
	tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 4), 1);
	vhost_pktbuf_free_bulk(pk, 1);
	CHECK_EQ(drain(callfd), 1);
	CHECK_EQ(stats(TXQ).notifications, 3);
	CHECK_EQ(stats(TXQ).notify_suppressed, 2);
	/* Kicks: flags and avail_event. */
	CHECK_EQ(VR(TXQ)->used->flags, VRING_USED_F_NO_NOTIFY);
	CHECK_EQ(vhost_vring_enable_notify(T.dev, TXQ, true), 0);
	CHECK_EQ(VR(TXQ)->used->flags, 0);
	CHECK_EQ(*avail_event, 8);
	CHECK_EQ(vhost_vring_enable_notify(T.dev, TXQ, false), 0);
	CHECK_EQ(VR(TXQ)->used->flags, VRING_USED_F_NO_NOTIFY);
	teardown();
}

/* A broken ring counts one BAD_DESC drop; nothing else here does. */
static bool ring_broken(uint16_t q)
{
	return drops(q, VHOST_DROP_BAD_DESC) == 1;
}

/* avail->idx is read again only when what its last read showed does not
 * cover a burst: a guest that moves it past the ring size is caught by
 * the first burst that reads it, and no entry beyond what a read showed
 * is taken. A burst that uses up what was shown (mergeable packets take
 * more entries than a burst has packets) reads it again rather than stop
 * short. */
static void test_avail_idx_reads(void)
{
	static uint8_t d[64];
	struct vhost_pktbuf *pk[16], *got[8];
	int errs;

	fill(d, 64, 9);
	for (int mrg = 0; mrg < 2; mrg++) {
		SETUP(BASE | (mrg ? F(VIRTIO_NET_F_MRG_RXBUF) : 0), 0, 0);
		for (int i = 0; i < 16; i++) {
			pk[i] = mkpkt(d, 64, ROOM);
			rx_post(RXQ, 128);
		}
		publish(RXQ);
		CHECK_EQ(ENQ(RXQ, pk, 4), 4);
		/* The 12 entries left were shown by that read. */
		set_avail_idx(RXQ, (uint16_t)(VR(RXQ)->avail_idx + 1000));
		CHECK_EQ(ENQ(RXQ, pk, 4), 4);
		CHECK_EQ(ENQ(RXQ, pk, 8), 8);
		CHECK(!ring_broken(RXQ));
		/* Nothing shown is left: this burst reads, and stops. */
		CHECK_EQ(ENQ(RXQ, pk, 1), 0);
		CHECK(ring_broken(RXQ));
		CHECK_EQ(used_idx(RXQ), 16);
		for (int k = 0; k < 2; k++) {
			CHECK_EQ(rx_collect(RXQ, &errs), 8);
			CHECK_EQ(errs, 0);
			for (int i = 0; i < 8; i++)
				CHECK(rxp[i].len == 64 &&
				      memcmp(rxp[i].data, d, 64) == 0);
		}
		vhost_pktbuf_free_bulk(pk, 16);
		teardown();
	}

	/* Mergeable: 64-byte buffers, two to a packet. */
	SETUP(BASE | F(VIRTIO_NET_F_MRG_RXBUF), 0, 0);
	for (int i = 0; i < 4; i++) {
		pk[i] = mkpkt(d, 64, ROOM);
		rx_post(RXQ, 64);
	}
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 1), 1);
	for (int i = 0; i < 4; i++)
		rx_post(RXQ, 64);
	publish(RXQ);
	/* Two entries were shown, two packets asked for: the second packet
	 * finds the four posted since. */
	CHECK_EQ(ENQ(RXQ, pk, 2), 2);
	CHECK_EQ(used_idx(RXQ), 6);
	CHECK_EQ(rx_collect(RXQ, &errs), 3);
	CHECK_EQ(errs, 0);
	for (int i = 0; i < 3; i++)
		CHECK(rxp[i].nbufs == 2 && rxp[i].len == 64 &&
		      memcmp(rxp[i].data, d, 64) == 0);
	vhost_pktbuf_free_bulk(pk, 4);
	teardown();

	/* Transmit: the same for the guest's packets. */
	SETUP(BASE, 0, 0);
	for (int i = 0; i < 8; i++)
		tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, got, 2), 2);
	vhost_pktbuf_free_bulk(got, 2);
	set_avail_idx(TXQ, (uint16_t)(VR(TXQ)->avail_idx + 1000));
	CHECK_EQ(DEQ(TXQ, got, 6), 6);
	for (int i = 0; i < 6; i++)
		CHECK(pkt_is(got[i], d, 64));
	vhost_pktbuf_free_bulk(got, 6);
	CHECK(!ring_broken(TXQ));
	CHECK_EQ(DEQ(TXQ, got, 1), 0);
	CHECK(ring_broken(TXQ));
	CHECK_EQ(used_idx(TXQ), 8);
	teardown();
}

/* The fast runs (enqueue_split_run, dequeue_split_run) stop at a chain
 * they do not take and hand its head to the general loop, then go on:
 * every packet in order, each used entry the head posted at its place,
 * a head out of range anywhere stops the ring there. */
static void test_fast_run_handover(void)
{
	static uint8_t d[6][100];
	static const uint32_t c_hdr[] = { 12 };
	static const uint32_t halves[] = { 40, 80 };
	struct vhost_pktbuf *pk[8];
	nethdr csum = mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 34, 6);
	uint16_t heads[6];
	int errs;

	for (int i = 0; i < 6; i++)
		fill(d[i], 100, 40u + (unsigned)i);
	SETUP(BASE | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_RING_F_INDIRECT_DESC), 0, 0);
	heads[0] = tx_post(TXQ, &hdr0, d[0], 100, NULL, 0, false);
	heads[1] = tx_post(TXQ, &hdr0, d[1], 100, c_hdr, 1, false);
	heads[2] = tx_post(TXQ, &hdr0, d[2], 100, NULL, 0, false);
	heads[3] = tx_post(TXQ, &csum, d[3], 100, NULL, 0, false);
	heads[4] = tx_post(TXQ, &hdr0, d[4], 100, c_hdr, 1, true);
	heads[5] = tx_post(TXQ, &hdr0, d[5], 100, NULL, 0, false);
	avail_add(TXQ, 999); /* out of range: the ring stops there */
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 8), 6);
	CHECK_EQ(used_idx(TXQ), 6);
	for (int i = 0; i < 6; i++) {
		CHECK(pkt_is(pk[i], d[i], 100));
		CHECK_EQ(pk[i]->ol_flags,
			 i == 3 ? VHOST_PKT_F_CSUM_PARTIAL : 0u);
		CHECK_EQ(used_at(TXQ, (uint16_t)i).id, heads[i]);
	}
	vhost_pktbuf_free_bulk(pk, 6);
	CHECK_EQ(drops(TXQ, VHOST_DROP_BAD_DESC), 1); /* broken */
	teardown();

	for (int mrg = 0; mrg < 2; mrg++) {
		SETUP(BASE | F(VIRTIO_RING_F_INDIRECT_DESC) |
		      (mrg ? F(VIRTIO_NET_F_MRG_RXBUF) : 0), 0, 0);
		heads[0] = rx_post(RXQ, 200);
		heads[1] = rx_post_chain(RXQ, halves, 2, false);
		heads[2] = rx_post(RXQ, 200);
		heads[3] = rx_post_chain(RXQ, halves, 2, true);
		heads[4] = rx_post(RXQ, 200);
		avail_add(RXQ, 999);
		publish(RXQ);
		for (int i = 0; i < 6; i++)
			pk[i] = mkpkt(d[i], 100, ROOM);
		CHECK_EQ(ENQ(RXQ, pk, 6), 5);
		CHECK_EQ(used_idx(RXQ), 5);
		CHECK_EQ(rx_collect(RXQ, &errs), 5);
		CHECK_EQ(errs, 0);
		for (int i = 0; i < 5; i++) {
			CHECK(rxp[i].len == 100 &&
			      memcmp(rxp[i].data, d[i], 100) == 0);
			CHECK_EQ(used_at(RXQ, (uint16_t)i).id, heads[i]);
		}
		CHECK_EQ(drops(RXQ, VHOST_DROP_BAD_DESC), 1);
		vhost_pktbuf_free_bulk(pk, 6);
		teardown();
	}
}

int main(void)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (fixture_begin("dp"))
		return 2;
	RUN(test_dequeue_layouts);
	RUN(test_dequeue_legacy_header);
	RUN(test_dequeue_indirect);
	RUN(test_dequeue_sizes);
	RUN(test_dequeue_offload);
	RUN(test_dequeue_pool_empty);
	RUN(test_enqueue_simple);
	RUN(test_enqueue_mergeable);
	RUN(test_enqueue_too_big);
	RUN(test_enqueue_ring_full);
	RUN(test_enqueue_csum);
	RUN(test_enqueue_gso);
	RUN(test_notify_no_event_idx);
	RUN(test_notify_event_idx);
	RUN(test_avail_idx_reads);
	RUN(test_fast_run_handover);
	fixture_end();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("datapath: %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return check_summary("datapath");
}
