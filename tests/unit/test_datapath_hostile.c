/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data path against malicious rings (the fixture of test_datapath.c):
 * bad descriptor chains and headers both ways, indirect tables not
 * negotiated, chains longer than the ring, a ring marked broken, bad
 * arguments, the second queue pair. Every bad chain is returned with
 * length 0 and counted, nothing outside the posted buffers is written, and
 * the next good packet on the queue still works.
 */
#include "datapath_fixture.h"

/* =================================================================== */
/*                           malicious rings                           */
/* =================================================================== */

enum bad_kind {
	BAD_HEAD_RANGE,
	BAD_LOOP,
	BAD_NEXT_RANGE,
	BAD_IND_LEN_ODD,
	BAD_IND_LEN_0,
	BAD_IND_NESTED,
	BAD_IND_NEXT,
	BAD_IND_OUTSIDE,
	BAD_IND_STRADDLE,
	BAD_IND_MISALIGNED,
	BAD_IND_LOOP,
	BAD_IND_NEXT_RANGE,
	BAD_IND_TOO_MANY,
	BAD_ADDR_OUTSIDE,
	BAD_ADDR_LOW,
	BAD_ADDR_STRADDLE,
	BAD_ADDR_WRAP,
	BAD_DIRECTION,    /* readable on RX / writable on TX */
	BAD_DIRECTION_2ND,
	BAD_KINDS
};

static const char *const bad_names[] = {
	"head >= ring size", "loop", "next out of range",
	"indirect len % 16", "indirect len 0", "nested indirect",
	"INDIRECT|NEXT", "indirect outside memory",
	"indirect straddles end", "indirect misaligned", "indirect loop",
	"indirect next out of range", "indirect > 256 entries",
	"buffer outside memory", "buffer below memory",
	"buffer straddles end", "address wraps", "wrong direction",
	"wrong direction (2nd desc)",
};

/*
 * Post a bad chain on q whose good parts are buffers of the right
 * direction. Returns the head posted and sets *reason.
 */
static uint16_t post_bad(uint16_t q, enum bad_kind k, bool rx,
			 enum vhost_drop_reason *reason)
{
	uint16_t dir = rx ? VRING_DESC_F_WRITE : 0;
	uint16_t wrong = rx ? 0 : VRING_DESC_F_WRITE;
	uint8_t *b = galloc(4096, 64);
	uint16_t a = new_desc(q), c = new_desc(q);
	uint16_t size = VR(q)->size;
	struct vring_desc *tbl = (struct vring_desc *)(void *)galloc(
		16 * 300 + 16, 16);
	uint16_t head = a;

	/* For TX the buffer holds a valid empty header and data. */
	memset(b, 0, 64);
	*reason = VHOST_DROP_BAD_DESC;
	switch (k) {
	case BAD_HEAD_RANGE:
		head = (uint16_t)(size + 44);
		break;
	case BAD_LOOP:
		/* zero-length pieces: even a receive walk, which stops when
		 * it has enough room, must see the loop */
		set_desc(D(q, a), gpa(b), rx ? 0 : 100, dir | VRING_DESC_F_NEXT, c);
		set_desc(D(q, c), gpa(b), 0, dir | VRING_DESC_F_NEXT, a);
		break;
	case BAD_NEXT_RANGE:
		set_desc(D(q, a), gpa(b), rx ? 0 : 20, dir | VRING_DESC_F_NEXT,
			 (uint16_t)(size + 1));
		break;
	case BAD_IND_LEN_ODD:
	case BAD_IND_LEN_0:
	case BAD_IND_NESTED:
	case BAD_IND_NEXT:
	case BAD_IND_OUTSIDE:
	case BAD_IND_STRADDLE:
	case BAD_IND_MISALIGNED:
	case BAD_IND_LOOP:
	case BAD_IND_NEXT_RANGE:
	case BAD_IND_TOO_MANY: {
		uint64_t taddr = gpa(tbl);
		uint32_t tlen = 32;
		uint16_t fl = VRING_DESC_F_INDIRECT;

		/* A receive walk stops once it has room enough: the first
		 * piece is empty so that it reaches the bad part. */
		set_desc(&tbl[0], gpa(b), rx ? 0 : 2000,
			 dir | VRING_DESC_F_NEXT, 1);
		set_desc(&tbl[1], gpa(b) + 2000, 2000, dir, 0);
		if (k == BAD_IND_LEN_ODD)
			tlen = 24;
		else if (k == BAD_IND_LEN_0)
			tlen = 0;
		else if (k == BAD_IND_NESTED)
			set_desc(&tbl[1], gpa(tbl), 32, VRING_DESC_F_INDIRECT, 0);
		else if (k == BAD_IND_NEXT)
			fl |= VRING_DESC_F_NEXT;
		else if (k == BAD_IND_OUTSIDE) {
			taddr = gpa_end() + 4096;
			*reason = VHOST_DROP_BAD_ADDR;
		} else if (k == BAD_IND_STRADDLE) {
			taddr = gpa_end() - 16;
			*reason = VHOST_DROP_BAD_ADDR;
		} else if (k == BAD_IND_MISALIGNED) {
			memmove((uint8_t *)tbl + 4, tbl, 32);
			taddr += 4;
		} else if (k == BAD_IND_LOOP) {
			set_desc(&tbl[0], gpa(b), 0, dir | VRING_DESC_F_NEXT, 1);
			set_desc(&tbl[1], gpa(b), 0, dir | VRING_DESC_F_NEXT, 0);
		} else if (k == BAD_IND_NEXT_RANGE) {
			set_desc(&tbl[1], gpa(b) + 2000, rx ? 0 : 2000,
				 dir | VRING_DESC_F_NEXT, 2);
		} else if (k == BAD_IND_TOO_MANY) {
			/* 300 one-byte pieces: more than a chain may span */
			for (uint16_t i = 0; i < 300; i++)
				set_desc(&tbl[i], gpa(b) + i, 1,
					 (uint16_t)(dir | (i < 299 ?
						    VRING_DESC_F_NEXT : 0)),
					 (uint16_t)(i + 1));
			tlen = 16 * 300;
		}
		set_desc(D(q, a), taddr, tlen, fl, c);
		set_desc(D(q, c), gpa(b), 100, dir, 0);
		break;
	}
	case BAD_ADDR_OUTSIDE:
		set_desc(D(q, a), gpa_end() + 65536, 200, dir, 0);
		*reason = VHOST_DROP_BAD_ADDR;
		break;
	case BAD_ADDR_LOW:
		set_desc(D(q, a), FE_GPA_BASE - 4096, 200, dir, 0);
		*reason = VHOST_DROP_BAD_ADDR;
		break;
	case BAD_ADDR_STRADDLE:
		set_desc(D(q, a), gpa(b), rx ? 0 : 20, dir | VRING_DESC_F_NEXT, c);
		set_desc(D(q, c), gpa_end() - 8, 4000, dir, 0);
		*reason = VHOST_DROP_BAD_ADDR;
		break;
	case BAD_ADDR_WRAP:
		set_desc(D(q, a), UINT64_MAX - 15, 4000, dir, 0);
		*reason = VHOST_DROP_BAD_ADDR;
		break;
	case BAD_DIRECTION:
		set_desc(D(q, a), gpa(b), 4000, wrong, 0);
		break;
	case BAD_DIRECTION_2ND:
		set_desc(D(q, a), gpa(b), 20, dir | VRING_DESC_F_NEXT, c);
		set_desc(D(q, c), gpa(b) + 100, 4000, wrong, 0);
		break;
	case BAD_KINDS:
		break;
	}
	avail_add(q, head);
	return head;
}

static void test_malicious_tx(void)
{
	static uint8_t d[500];
	struct vhost_pktbuf *pk[4];

	SETUP(BASE | F(VIRTIO_RING_F_INDIRECT_DESC), 0, 0);
	fill(d, sizeof(d), 60);
	for (int k = 0; k < BAD_KINDS; k++) {
		enum vhost_drop_reason r;
		struct vhost_vring_stats s0 = stats(TXQ), s1;
		uint16_t u0 = used_idx(TXQ), bad, good;
		int before = check_failed;

		/* A head out of range breaks the ring: test_ring_hardening. */
		if (k == BAD_HEAD_RANGE)
			continue;
		bad = post_bad(TXQ, (enum bad_kind)k, false, &r);
		good = tx_post(TXQ, &hdr0, d, 100u + (uint32_t)k, NULL, 0,
			       false);
		publish(TXQ);
		pk[0] = NULL;
		CHECK_EQ(DEQ(TXQ, pk, 4), 1);
		CHECK(pkt_is(pk[0], d, 100u + (uint32_t)k));
		vhost_pktbuf_free(pk[0]);
		CHECK_EQ(used_idx(TXQ), (uint16_t)(u0 + 2));
		CHECK_EQ(used_at(TXQ, u0).id, bad);
		CHECK_EQ(used_at(TXQ, u0).len, 0);
		CHECK_EQ(used_at(TXQ, (uint16_t)(u0 + 1)).id, good);
		s1 = stats(TXQ);
		CHECK_EQ(s1.drops[r] - s0.drops[r], 1);
		CHECK_EQ(s1.packets - s0.packets, 1);
		if (check_failed != before)
			fprintf(stderr, "  ^ tx case: %s\n", bad_names[k]);
	}
	teardown();
}

/* Header and length rules of the transmit side. */
static void test_malicious_tx_headers(void)
{
	static uint8_t d[500];
	struct vhost_pktbuf *pk[8];
	struct {
		nethdr h;
		uint32_t len;
		uint32_t cut;     /* first descriptor */
		enum vhost_drop_reason r;
		const char *name;
	} cases[] = {
		{ hdr0, 0, 0, VHOST_DROP_BAD_DESC, "header only" },
		{ hdr0, 0, 8, VHOST_DROP_BAD_DESC, "shorter than the header" },
		{ mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 90, 9), 100, 0,
		  VHOST_DROP_BAD_HDR, "csum field beyond the packet" },
		{ mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0xffff, 0xffff),
		  100, 0, VHOST_DROP_BAD_HDR, "csum start+offset wrap" },
		{ mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 7, 1000, 34, 16), 100, 0,
		  VHOST_DROP_BAD_HDR, "unknown gso_type" },
		{ mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP, 1000,
			34, 6), 100, 0, VHOST_DROP_BAD_HDR, "UFO" },
		{ mkhdr(0, VIRTIO_NET_HDR_GSO_TCPV4, 1000, 34, 16), 100, 0,
		  VHOST_DROP_BAD_HDR, "GSO without NEEDS_CSUM" },
	};

	SETUP(BASE | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4), 0, 0);
	fill(d, sizeof(d), 61);
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct vhost_vring_stats s0 = stats(TXQ), s1;
		uint16_t u0 = used_idx(TXQ), bad, good;
		int before = check_failed;
		enum vhost_drop_reason r = cases[k].r;

		if (cases[k].cut) {
			/* a chain of cut bytes only */
			uint8_t *b = galloc(cases[k].cut, 8);
			struct seg s = { gpa(b), cases[k].cut, 0 };

			memset(b, 0, cases[k].cut);
			bad = chain(TXQ, &s, 1);
			avail_add(TXQ, bad);
		} else {
			bad = tx_post(TXQ, &cases[k].h, d, cases[k].len, NULL, 0,
				      false);
		}
		good = tx_post(TXQ, &hdr0, d, 64, NULL, 0, false);
		publish(TXQ);
		pk[0] = NULL;
		CHECK_EQ(DEQ(TXQ, pk, 8), 1);
		CHECK(pkt_is(pk[0], d, 64));
		vhost_pktbuf_free(pk[0]);
		CHECK_EQ(used_idx(TXQ), (uint16_t)(u0 + 2));
		CHECK_EQ(used_at(TXQ, u0).id, bad);
		CHECK_EQ(used_at(TXQ, u0).len, 0);
		CHECK_EQ(used_at(TXQ, (uint16_t)(u0 + 1)).id, good);
		s1 = stats(TXQ);
		CHECK_EQ(s1.drops[r] - s0.drops[r], 1);
		if (check_failed != before)
			fprintf(stderr, "  ^ tx header case: %s\n",
				cases[k].name);
	}
	teardown();
}

static void test_malicious_rx(void)
{
	static uint8_t d[300];

	fill(d, sizeof(d), 70);
	for (int mrg = 0; mrg < 2; mrg++) {
		SETUP(BASE | F(VIRTIO_RING_F_INDIRECT_DESC) |
		      (mrg ? F(VIRTIO_NET_F_MRG_RXBUF) : 0), 0, 0);
		for (int k = 0; k < BAD_KINDS; k++) {
			enum vhost_drop_reason r;
			struct vhost_vring_stats s0 = stats(RXQ), s1;
			uint16_t u0 = used_idx(RXQ), bad, good;
			struct vhost_pktbuf *pk = mkpkt(d, 200, ROOM);
			int before = check_failed, errs;

			/* A 300-entry table is fine for a receive walk that
			 * needs fewer pieces (it stops there). A head out of
			 * range breaks the ring: test_ring_hardening. */
			if (k == BAD_IND_TOO_MANY || k == BAD_HEAD_RANGE) {
				vhost_pktbuf_free(pk);
				continue;
			}
			bad = post_bad(RXQ, (enum bad_kind)k, true, &r);
			good = rx_post(RXQ, 1024);
			publish(RXQ);
			CHECK_EQ(ENQ(RXQ, &pk, 1), 1);
			CHECK_EQ(used_idx(RXQ), (uint16_t)(u0 + 2));
			CHECK_EQ(used_at(RXQ, u0).id, bad);
			CHECK_EQ(used_at(RXQ, u0).len, 0);
			CHECK_EQ(used_at(RXQ, (uint16_t)(u0 + 1)).id, good);
			CHECK_EQ(used_at(RXQ, (uint16_t)(u0 + 1)).len, 212);
			CHECK_EQ(rx_collect(RXQ, &errs), 1);
			CHECK_EQ(errs, 1);
			CHECK_EQ(rxp[0].len, 200);
			CHECK(memcmp(rxp[0].data, d, 200) == 0);
			s1 = stats(RXQ);
			CHECK_EQ(s1.drops[r] - s0.drops[r], 1);
			CHECK_EQ(s1.packets - s0.packets, 1);
			vhost_pktbuf_free(pk);
			if (check_failed != before)
				fprintf(stderr, "  ^ rx%s case: %s\n",
					mrg ? " mergeable" : "", bad_names[k]);
		}
		teardown();
	}
}

/* Mergeable: a first buffer smaller than the header is bad; a bad chain
 * met in the middle of a packet must not end up among the packet's used
 * entries (the guest reads num_buffers consecutive entries). */
static void test_malicious_rx_mergeable(void)
{
	static uint8_t d[600];
	struct vhost_pktbuf *pk;
	enum vhost_drop_reason r;
	uint16_t u0;
	int errs;

	SETUP(BASE | F(VIRTIO_NET_F_MRG_RXBUF), 0, 0);
	fill(d, sizeof(d), 80);
	pk = mkpkt(d, 400, ROOM);
	rx_post(RXQ, 8);          /* < header */
	rx_post(RXQ, 512);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, &pk, 1), 1);
	CHECK_EQ(used_idx(RXQ), 2);
	CHECK_EQ(used_at(RXQ, 0).len, 0);
	CHECK_EQ(drops(RXQ, VHOST_DROP_BAD_DESC), 1);
	CHECK_EQ(rx_collect(RXQ, &errs), 1);
	CHECK_EQ(errs, 1);
	CHECK_EQ(rxp[0].len, 400);
	CHECK(memcmp(rxp[0].data, d, 400) == 0);

	/* good 256, bad, good 256: the used ring stays in ring order
	 * (IN_ORDER): the first buffer, already filled, goes back empty
	 * with the bad one, and the packet starts over after them; one
	 * 256-byte buffer is not enough, so it waits for another. */
	u0 = used_idx(RXQ);
	rx_post(RXQ, 256);
	post_bad(RXQ, BAD_DIRECTION, true, &r);
	rx_post(RXQ, 256);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, &pk, 1), 0);
	CHECK_EQ(used_idx(RXQ), (uint16_t)(u0 + 2));
	CHECK_EQ(used_at(RXQ, u0).len, 0);
	CHECK_EQ(used_at(RXQ, (uint16_t)(u0 + 1)).len, 0);
	CHECK_EQ(drops(RXQ, VHOST_DROP_BAD_DESC), 2);
	rx_post(RXQ, 256);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, &pk, 1), 1);
	CHECK_EQ(used_idx(RXQ), (uint16_t)(u0 + 4));
	CHECK_EQ(rx_collect(RXQ, &errs), 1);
	CHECK_EQ(errs, 2);
	CHECK_EQ(rxp[0].nbufs, 2);
	CHECK_EQ(rxp[0].len, 400);
	CHECK(memcmp(rxp[0].data, d, 400) == 0);
	vhost_pktbuf_free(pk);
	teardown();
}

/* Without INDIRECT_DESC negotiated an indirect descriptor is bad. */
static void test_indirect_not_negotiated(void)
{
	static uint8_t d[200];
	struct vhost_pktbuf *pk[2];
	uint16_t bad;
	int errs;

	SETUP(BASE, 0, 0);
	fill(d, sizeof(d), 90);
	bad = tx_post(TXQ, &hdr0, d, 100, NULL, 0, true);
	tx_post(TXQ, &hdr0, d, 101, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 2), 1);
	CHECK(pkt_is(pk[0], d, 101));
	vhost_pktbuf_free(pk[0]);
	CHECK_EQ(used_at(TXQ, 0).id, bad);
	CHECK_EQ(used_at(TXQ, 0).len, 0);
	CHECK_EQ(drops(TXQ, VHOST_DROP_BAD_DESC), 1);

	pk[0] = mkpkt(d, 150, ROOM);
	bad = rx_post_chain(RXQ, (const uint32_t[]){ 1024 }, 1, true);
	rx_post(RXQ, 1024);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 1), 1);
	CHECK_EQ(used_at(RXQ, 0).id, bad);
	CHECK_EQ(used_at(RXQ, 0).len, 0);
	CHECK_EQ(drops(RXQ, VHOST_DROP_BAD_DESC), 1);
	CHECK_EQ(rx_collect(RXQ, &errs), 1);
	CHECK_EQ(errs, 1);
	CHECK_EQ(rxp[0].len, 150);
	vhost_pktbuf_free(pk[0]);
	teardown();
}

/* A chain that visits more descriptors than the ring has: a cycle through
 * the whole table. */
static void test_chain_longer_than_ring(void)
{
	static uint8_t d[200];
	struct vhost_pktbuf *pk[2];
	uint8_t *b;
	uint16_t size;
	int errs;

	SETUP(BASE, 16, 0);
	size = VR(TXQ)->size;
	CHECK_EQ(size, 16);
	fill(d, sizeof(d), 91);
	b = galloc(64, 8);
	memset(b, 0, 64);
	for (uint16_t i = 0; i < size; i++)
		set_desc(D(TXQ, i), gpa(b), 1, VRING_DESC_F_NEXT,
			 (uint16_t)((i + 1) % size));
	avail_add(TXQ, 3);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 2), 0);
	CHECK_EQ(used_idx(TXQ), 1);
	CHECK_EQ(used_at(TXQ, 0).id, 3);
	CHECK_EQ(used_at(TXQ, 0).len, 0);
	CHECK_EQ(drops(TXQ, VHOST_DROP_BAD_DESC), 1);
	T.nd[TXQ] = 0;
	tx_post(TXQ, &hdr0, d, 120, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 2), 1);
	CHECK(pkt_is(pk[0], d, 120));
	vhost_pktbuf_free(pk[0]);

	/* Receive: a cycle of zero-length writable descriptors. */
	for (uint16_t i = 0; i < size; i++)
		set_desc(D(RXQ, i), gpa(b), 0,
			 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
			 (uint16_t)((i + 1) % size));
	avail_add(RXQ, 5);
	publish(RXQ);
	pk[0] = mkpkt(d, 100, ROOM);
	CHECK_EQ(ENQ(RXQ, pk, 1), 0);
	CHECK_EQ(used_idx(RXQ), 1);
	CHECK_EQ(used_at(RXQ, 0).id, 5);
	CHECK_EQ(used_at(RXQ, 0).len, 0);
	CHECK_EQ(drops(RXQ, VHOST_DROP_BAD_DESC), 1);
	T.nd[RXQ] = 0;
	rx_post(RXQ, 512);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 1), 1);
	CHECK_EQ(rx_collect(RXQ, &errs), 1);
	CHECK_EQ(errs, 1);
	CHECK_EQ(rxp[0].len, 100);
	vhost_pktbuf_free(pk[0]);
	teardown();
}

/* avail->idx more than the ring size ahead: the ring stops; a fresh
 * SET_VRING_BASE + SET_VRING_KICK brings it back. */
static void test_broken_ring(void)
{
	static uint8_t d[100];
	struct vhost_pktbuf *pk[2];
	uint64_t v = TXQ;
	uint16_t u;
	int ret;

	SETUP(BASE, 0, 0);
	fill(d, sizeof(d), 92);
	tx_post(TXQ, &hdr0, d, 100, NULL, 0, false);
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 2), 1);
	vhost_pktbuf_free(pk[0]);
	tx_post(TXQ, &hdr0, d, 99, NULL, 0, false);
	set_avail_idx(TXQ, (uint16_t)(VR(TXQ)->avail_idx + VR(TXQ)->size));
	CHECK_EQ(DEQ(TXQ, pk, 2), 0);
	CHECK_EQ(drops(TXQ, VHOST_DROP_BAD_DESC), 1);
	CHECK_EQ(used_idx(TXQ), 1);
	/* Stays stopped even once the index is sane again. */
	publish(TXQ);
	CHECK_EQ(DEQ(TXQ, pk, 2), 0);
	CHECK_EQ(vhost_vring_avail_count(T.dev, TXQ), 0);
	CHECK_EQ(drops(TXQ, VHOST_DROP_BAD_DESC), 1);
	/* The front-end sets the ring up again. */
	u = used_idx(TXQ);
	ret = fe_vring_state(&T.fe, VHOST_USER_SET_VRING_BASE, TXQ, u);
	CHECK_EQ(ret, 0);
	CHECK_EQ(fe_request(&T.fe, VHOST_USER_SET_VRING_KICK, &v, sizeof(v),
			    &VR(TXQ)->kickfd, 1), 0);
	pk[0] = NULL;
	CHECK_EQ(DEQ(TXQ, pk, 2), 1);
	CHECK(pkt_is(pk[0], d, 99));
	vhost_pktbuf_free(pk[0]);
	teardown();

	/* The way QEMU restarts a ring: GET_VRING_BASE (stop), then
	 * SET_VRING_BASE + SET_VRING_KICK. Receive queue this time. */
	SETUP(BASE, 0, 0);
	rx_post(RXQ, 256);
	set_avail_idx(RXQ, (uint16_t)(VR(RXQ)->avail_idx + 300));
	pk[0] = mkpkt(d, 100, ROOM);
	CHECK_EQ(ENQ(RXQ, pk, 1), 0);
	CHECK_EQ(drops(RXQ, VHOST_DROP_BAD_DESC), 1);
	publish(RXQ);
	CHECK_EQ(ENQ(RXQ, pk, 1), 0);
	{
		uint32_t base = 0xffff;
		uint64_t v0 = RXQ;

		CHECK_EQ(fe_get_vring_base(&T.fe, RXQ, &base), 0);
		CHECK_EQ(base, 0);
		CHECK(wait_for(&n_destroy_dev, 1));
		CHECK_EQ(fe_vring_state(&T.fe, VHOST_USER_SET_VRING_BASE, RXQ, 0),
			 0);
		CHECK_EQ(fe_request(&T.fe, VHOST_USER_SET_VRING_KICK, &v0,
				    sizeof(v0), &VR(RXQ)->kickfd, 1), 0);
		CHECK(wait_for(&n_new_dev, 2));
		CHECK(atomic_load(&g_dev) == T.dev);
	}
	CHECK_EQ(ENQ(RXQ, pk, 1), 1);
	CHECK_EQ(used_idx(RXQ), 1);
	CHECK_EQ(used_at(RXQ, 0).len, 112);
	vhost_pktbuf_free(pk[0]);
	teardown();
}

/* Calls that must do nothing. */
static void test_bad_arguments(void)
{
	static uint8_t d[100];
	struct vhost_pktbuf *pk[2];
	struct vhost_vring_stats s;

	SETUP(BASE, 0, 0);
	fill(d, sizeof(d), 93);
	tx_post(TXQ, &hdr0, d, 100, NULL, 0, false);
	publish(TXQ);
	rx_post(RXQ, 512);
	publish(RXQ);
	pk[0] = mkpkt(d, 100, ROOM);
	/* wrong parity */
	CHECK_EQ(ENQ(TXQ, pk, 1), 0);
	CHECK_EQ(DEQ(RXQ, pk + 1, 1), 0);
	/* beyond the device, and a pair not set up */
	CHECK_EQ(ENQ(200, pk, 1), 0);
	CHECK_EQ(DEQ(201, pk + 1, 1), 0);
	CHECK_EQ(ENQ(VHOST_QUEUE_RX(1), pk, 1), 0);
	CHECK_EQ(DEQ(VHOST_QUEUE_TX(1), pk + 1, 1), 0);
	CHECK_EQ(ENQ(VHOST_QUEUE_RX(2), pk, 1), 0);
	CHECK_EQ(DEQ(VHOST_QUEUE_TX(2), pk + 1, 1), 0);
	CHECK_EQ(ENQ(0xffff, pk, 1), 0);
	/* n = 0, dev NULL, pool NULL */
	CHECK_EQ(ENQ(RXQ, pk, 0), 0);
	CHECK_EQ(DEQ(TXQ, pk + 1, 0), 0);
	CHECK_EQ(vhost_enqueue_burst(NULL, RXQ, pk, 1), 0);
	CHECK_EQ(vhost_dequeue_burst(NULL, TXQ, pool, pk + 1, 1), 0);
	CHECK_EQ(vhost_dequeue_burst(T.dev, TXQ, NULL, pk + 1, 1), 0);
	CHECK_EQ(vhost_vring_stats_get(NULL, RXQ, &s), -EINVAL);
	CHECK_EQ(vhost_vring_stats_get(T.dev, 200, &s), -EINVAL);
	CHECK_EQ(vhost_vring_stats_get(T.dev, RXQ, NULL), -EINVAL);
	CHECK_EQ(vhost_vring_stats_reset(T.dev, 200), -EINVAL);
	CHECK_EQ(vhost_vring_enable_notify(T.dev, 200, true), -EINVAL);
	CHECK_EQ(vhost_vring_enable_notify(NULL, RXQ, true), -EINVAL);
	CHECK_EQ(vhost_vring_avail_count(T.dev, 200), 0);
	CHECK_EQ(vhost_vring_avail_count(NULL, RXQ), 0);
	/* Nothing was consumed or counted. */
	CHECK_EQ(used_idx(RXQ), 0);
	CHECK_EQ(used_idx(TXQ), 0);
	s = stats(RXQ);
	CHECK_EQ(s.packets, 0);
	CHECK_EQ(s.drops[VHOST_DROP_NO_ROOM], 0);
	CHECK_EQ(vhost_vring_avail_count(T.dev, RXQ), 1);
	CHECK_EQ(vhost_vring_avail_count(T.dev, TXQ), 1);
	/* and the queues work */
	CHECK_EQ(ENQ(RXQ, pk, 1), 1);
	CHECK_EQ(DEQ(TXQ, pk + 1, 1), 1);
	CHECK(pkt_is(pk[1], d, 100));
	vhost_pktbuf_free_bulk(pk, 2);
	teardown();
}

/* Two queue pairs: the second pair's queues are independent. */
static void test_second_pair(void)
{
	static uint8_t d[100];
	struct vhost_pktbuf *pk[2];
	int errs;

	SETUP(BASE, 0, 4);
	fill(d, sizeof(d), 94);
	tx_post(3, &hdr0, d, 100, NULL, 0, false);
	publish(3);
	CHECK_EQ(DEQ(TXQ, pk, 2), 0);
	CHECK_EQ(DEQ(3, pk, 2), 1);
	CHECK(pkt_is(pk[0], d, 100));
	CHECK_EQ(pk[0]->queue, 3);
	rx_post(2, 512);
	publish(2);
	CHECK_EQ(ENQ(RXQ, pk, 1), 0);
	CHECK_EQ(ENQ(2, pk, 1), 1);
	CHECK_EQ(rx_collect(2, &errs), 1);
	CHECK_EQ(rxp[0].len, 100);
	CHECK(memcmp(rxp[0].data, d, 100) == 0);
	CHECK_EQ(stats(3).packets, 1);
	CHECK_EQ(stats(2).packets, 1);
	CHECK_EQ(stats(TXQ).packets, 0);
	vhost_pktbuf_free(pk[0]);
	teardown();
}

int main(void)
{
	if (fixture_begin("dph"))
		return 2;
	RUN(test_malicious_tx);
	RUN(test_malicious_tx_headers);
	RUN(test_malicious_rx);
	RUN(test_malicious_rx_mergeable);
	RUN(test_indirect_not_negotiated);
	RUN(test_chain_longer_than_ring);
	RUN(test_broken_ring);
	RUN(test_bad_arguments);
	RUN(test_second_pair);
	fixture_end();
	return check_summary("datapath_hostile");
}
