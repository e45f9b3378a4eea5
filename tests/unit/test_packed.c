/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packed virtqueues (VIRTIO_F_RING_PACKED, virtio 1.1 2.7) end to end: the
 * test front-end negotiates packed rings over a real socket and plays the
 * guest driver on rings it builds in guest memory (tests/lib/frontend.c,
 * fe_packed_*); the test thread calls the bursts.
 *
 * Checked: both directions with single, chained and indirect descriptors;
 * mergeable receive buffers; ring sizes that are not powers of two over many
 * wraps; used entries (id, len, flags, chain skipping); event suppression
 * (driver area ENABLE / DISABLE / DESC with off_wrap, and the device area);
 * GET/SET_VRING_BASE's 32-bit form; the drain of a started but disabled TX
 * ring; dirty logging of the write-backs; and malicious rings: ids out of
 * range, holes inside a chain (flags inconsistent with the wrap counter),
 * chains longer than the ring, zero-length and untranslatable descriptors,
 * bad indirect tables. A chain whose extent is known but whose content is
 * bad comes back with length 0 and the next packet works; one whose extent
 * or id is unknowable stops the ring, and nothing is written back for it.
 * The batch paths (four descriptors of a line at once): each malicious
 * layout inside a line gives the one-by-one outcome; lines straddling the
 * end of rings of 6 and 10; a batch's buffers logged while migrating.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vhost/pktbuf.h>
#include <vhost/vhost.h>

#include "check.h"
#include "frontend.h"

#define WAIT_MS 5000
#define MEM_SIZE (8u << 20)
#define PAT 0xa5
#define POOL_N 512u
#define ROOM 2048u
#define F(b) (1ull << (b))
#define BASE (F(VHOST_USER_F_PROTOCOL_FEATURES) | F(VIRTIO_F_VERSION_1) | \
	      F(VIRTIO_F_RING_PACKED))
#define RXQ 0
#define TXQ 1
#define HDR 12u
#define W VRING_DESC_F_WRITE
#define IND VRING_DESC_F_INDIRECT

static struct vhost_ctx *ctx;
static char sock_path[108];
static struct vhost_pktbuf_pool *pool;
static struct vhost_dev *_Atomic g_dev;
static _Atomic int n_new_dev, n_destroy_conn;

static int cb_new_device(struct vhost_dev *dev)
{
	atomic_store(&g_dev, dev);
	n_new_dev++;
	return 0;
}

static void cb_destroy_connection(struct vhost_dev *dev)
{
	(void)dev;
	n_destroy_conn++;
}

static const struct vhost_device_ops ops = {
	.new_device = cb_new_device,
	.destroy_connection = cb_destroy_connection,
};

static _Atomic int *wait_var;
static int wait_value;

static bool reached(void *arg)
{
	(void)arg;
	return atomic_load(wait_var) >= wait_value;
}

static bool wait_for(_Atomic int *v, int value)
{
	wait_var = v;
	wait_value = value;
	return fe_wait(reached, NULL, WAIT_MS) == 0;
}

static struct {
	struct fe fe;
	struct vhost_socket *s;
	struct vhost_dev *dev;
} T;

static void teardown(void)
{
	uint64_t f;

	if (T.s && T.fe.fd >= 0)
		fe_get_u64(&T.fe, VHOST_USER_GET_FEATURES, &f);
	fe_close(&T.fe);
	if (T.s) {
		CHECK(wait_for(&n_destroy_conn, 1));
		CHECK_EQ(vhost_socket_unregister(T.s), 0);
	}
	T.s = NULL;
	T.dev = NULL;
	CHECK_EQ(vhost_pktbuf_pool_avail(pool), POOL_N);
}

static bool setup(uint64_t features, uint16_t ring_size)
{
	struct fe_opts o = {
		.features_mask = features,
		.ring_size = ring_size,
		.mem_size = MEM_SIZE,
		.packed = true,
	};

	memset(&T, 0, sizeof(T));
	n_new_dev = n_destroy_conn = 0;
	atomic_store(&g_dev, NULL);
	CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &T.s), 0);
	if (!T.s)
		return false;
	CHECK_EQ(vhost_socket_set_ops(T.s, &ops, NULL), 0);
	CHECK_EQ(vhost_socket_start(T.s), 0);
	fe_init(&T.fe);
	CHECK_EQ(fe_connect(&T.fe, sock_path, WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&T.fe, &o), 0);
	if (!wait_for(&n_new_dev, 1)) {
		CHECK(!"new_device");
		return false;
	}
	T.dev = atomic_load(&g_dev);
	CHECK_EQ(vhost_dev_features(T.dev), features);
	memset(T.fe.mem + T.fe.mem_next, PAT, T.fe.mem_size - T.fe.mem_next);
	return true;
}

#define SETUP(...)                                                           \
	do {                                                                 \
		if (!setup(__VA_ARGS__)) {                                   \
			teardown();                                          \
			return;                                              \
		}                                                            \
	} while (0)

static uint8_t *galloc(uint64_t len)
{
	uint8_t *p = fe_alloc(&T.fe, len ? len : 1, 16);

	if (!p) {
		fprintf(stderr, "guest memory exhausted\n");
		abort();
	}
	memset(p, PAT, len ? len : 1);
	return p;
}

static uint64_t gpa(const void *p)
{
	return fe_gpa(&T.fe, p);
}

static struct vring_packed_desc *PD(uint16_t q, uint16_t pos)
{
	return &((struct vring_packed_desc *)T.fe.vr[q].desc)[pos];
}

static struct vring_packed_desc_event *DRIVER(uint16_t q)
{
	return (struct vring_packed_desc_event *)T.fe.vr[q].avail;
}

static struct vring_packed_desc_event *DEVICE(uint16_t q)
{
	return (struct vring_packed_desc_event *)T.fe.vr[q].used;
}

static void fill(uint8_t *d, uint32_t len, unsigned seed)
{
	for (uint32_t i = 0; i < len; i++)
		d[i] = (uint8_t)(seed * 29u + i * 7u + 1u);
}

static struct vhost_pktbuf *mkpkt(uint32_t len, unsigned seed)
{
	struct vhost_pktbuf *p = vhost_pktbuf_alloc(pool);
	uint8_t *d;

	if (!p)
		abort();
	d = vhost_pktbuf_append(p, (uint16_t)len);
	fill(d, len, seed);
	return p;
}

static bool pkt_is(const struct vhost_pktbuf *p, uint32_t len, unsigned seed)
{
	uint8_t want[ROOM * 8];
	uint32_t off = 0;

	if (!p || p->pkt_len != len || len > sizeof(want))
		return false;
	fill(want, len, seed);
	for (const struct vhost_pktbuf *s = p; s; s = s->next) {
		if (memcmp(vhost_pktbuf_data(s), want + off, s->data_len))
			return false;
		off += s->data_len;
	}
	return off == len;
}

/* A transmit packet in guest memory: header + data, in nseg pieces. */
static unsigned tx_layout(struct fe_pbuf *b, uint32_t len, unsigned seed,
			  unsigned nseg)
{
	uint32_t total = HDR + len, off = 0;
	uint8_t *g = galloc(total);

	memset(g, 0, HDR);
	fill(g + HDR, len, seed);
	for (unsigned k = 0; k < nseg; k++) {
		uint32_t l = k + 1 < nseg ? total / nseg : total - off;

		b[k] = (struct fe_pbuf){ gpa(g + off), l, 0 };
		off += l;
	}
	return nseg;
}

static uint16_t deq(struct vhost_pktbuf **pkts, uint16_t n)
{
	return vhost_dequeue_burst(T.dev, TXQ, pool, pkts, n);
}

static void free_pkts(struct vhost_pktbuf **p, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		vhost_pktbuf_free(p[i]);
}

static uint64_t drops(uint16_t q, enum vhost_drop_reason r)
{
	struct vhost_vring_stats st;

	vhost_vring_stats_get(T.dev, q, &st);
	return st.drops[r];
}

/* ------------------------------------------------------------- transmit */

static void test_tx_layouts(void)
{
	struct vhost_pktbuf *p[8];
	struct fe_pbuf b[4];
	uint16_t id;
	uint32_t len;

	SETUP(BASE | F(VIRTIO_RING_F_INDIRECT_DESC), 256);
	/* One descriptor, a chain of three, an indirect table of two. */
	fe_packed_post(&T.fe, TXQ, b, tx_layout(b, 60, 1, 1), 7);
	fe_packed_post(&T.fe, TXQ, b, tx_layout(b, 1000, 2, 3), 9);
	{
		struct vring_packed_desc *tbl =
			(struct vring_packed_desc *)(void *)galloc(32);
		struct fe_pbuf in[2], ind;

		tx_layout(in, 500, 3, 2);
		for (int k = 0; k < 2; k++)
			tbl[k] = (struct vring_packed_desc){ in[k].addr,
							     in[k].len, 0, 0 };
		ind = (struct fe_pbuf){ gpa(tbl), 32, IND };
		fe_packed_post(&T.fe, TXQ, &ind, 1, 4);
	}
	CHECK_EQ(deq(p, 8), 3);
	CHECK(pkt_is(p[0], 60, 1));
	CHECK(pkt_is(p[1], 1000, 2));
	CHECK(pkt_is(p[2], 500, 3));
	free_pkts(p, 3);
	/* Used entries at each chain's head, skipping the chain. */
	CHECK(fe_packed_used(&T.fe, TXQ, 1, &id, &len) && id == 7 && len == 0);
	CHECK(fe_packed_used(&T.fe, TXQ, 3, &id, &len) && id == 9);
	CHECK(fe_packed_used(&T.fe, TXQ, 1, &id, &len) && id == 4);
	CHECK(!fe_packed_used(&T.fe, TXQ, 1, &id, &len));
	CHECK_EQ(deq(p, 8), 0);
	teardown();
}

/* A ring of 7 (not a power of two) wrapped many times, chains crossing
 * the end of the ring. */
static void test_tx_wrap(void)
{
	struct vhost_pktbuf *p[8];
	struct fe_pbuf b[4];
	unsigned seed = 0;
	bool ok = true;

	SETUP(BASE, 7);
	for (int round = 0; round < 40 && ok; round++) {
		unsigned nseg = 1 + round % 3, posted = 0, got;
		uint16_t id;
		uint32_t len;

		/* As many chains as fit in the 7 slots. */
		for (unsigned used = 0; used + nseg <= 7; used += nseg) {
			tx_layout(b, 100, seed + posted, nseg);
			fe_packed_post(&T.fe, TXQ, b, nseg, (uint16_t)posted);
			posted++;
		}
		got = deq(p, 8);
		ok = got == posted;
		for (unsigned k = 0; k < got; k++) {
			ok = ok && pkt_is(p[k], 100, seed + k);
			ok = ok && fe_packed_used(&T.fe, TXQ, (uint16_t)nseg,
						  &id, &len) &&
			     id == k;
		}
		free_pkts(p, (uint16_t)got);
		seed += posted;
	}
	CHECK(ok);
	teardown();
}

/* ------------------------------------------------------------- receive */

static bool rx_check(const uint8_t *buf, uint32_t len, unsigned seed,
		     uint16_t nbufs)
{
	struct virtio_net_hdr_mrg_rxbuf h;
	uint8_t want[2048];

	memcpy(&h, buf, sizeof(h));
	fill(want, len, seed);
	return h.num_buffers == nbufs && !memcmp(buf + HDR, want, len);
}

static void test_rx(void)
{
	struct vhost_pktbuf *p[4];
	uint8_t *bufs[4];
	uint16_t id, flags;
	uint32_t len;

	SETUP(BASE, 10);
	for (int k = 0; k < 3; k++) {
		struct fe_pbuf b = { 0, 2048, W };

		bufs[k] = galloc(2048);
		b.addr = gpa(bufs[k]);
		fe_packed_post(&T.fe, RXQ, &b, 1, (uint16_t)(k + 3));
	}
	/* Applications size their bursts by it (vhost-fwd txonly). */
	CHECK_EQ(vhost_vring_avail_count(T.dev, RXQ), 3);
	/* Counted up to what the burst wants: the third descriptor says
	 * the two before it are there; past the last one, counted. */
	CHECK_EQ(vhost_vring_avail_upto(T.dev, RXQ, 2), 2);
	CHECK_EQ(vhost_vring_avail_upto(T.dev, RXQ, 3), 3);
	CHECK_EQ(vhost_vring_avail_upto(T.dev, RXQ, 32), 3);
	CHECK_EQ(vhost_vring_avail_upto(T.dev, RXQ, 0), 0);
	for (int k = 0; k < 4; k++)
		p[k] = mkpkt(100 + k, 10 + k);
	/* Three buffers: three packets, the fourth stays ours. */
	CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, p, 4), 3);
	free_pkts(p, 4);
	CHECK_EQ(vhost_vring_avail_count(T.dev, RXQ), 0);
	for (int k = 0; k < 3; k++) {
		flags = PD(RXQ, (uint16_t)k)->flags;
		CHECK(fe_packed_used(&T.fe, RXQ, 1, &id, &len));
		CHECK_EQ(id, k + 3);
		CHECK_EQ(len, HDR + 100 + k);
		/* Used with the wrap counter 1, WRITE set (it wrote). */
		CHECK_EQ(flags, (1u << VRING_PACKED_DESC_F_AVAIL) |
				(1u << VRING_PACKED_DESC_F_USED) | W);
		CHECK(rx_check(bufs[k], 100 + k, 10 + k, 1));
	}
	teardown();
}

/* A chain of small writable buffers for one packet (plain), and
 * mergeable: one packet over three one-descriptor buffers. */
static void test_rx_chain_and_mergeable(void)
{
	struct vhost_pktbuf *p;
	uint8_t *g = NULL, *m[3];
	uint16_t id;
	uint32_t len;

	SETUP(BASE, 16);
	{
		struct fe_pbuf b[3];

		g = galloc(1200);
		for (int k = 0; k < 3; k++)
			b[k] = (struct fe_pbuf){ gpa(g + 400 * k), 400, W };
		fe_packed_post(&T.fe, RXQ, b, 3, 5);
	}
	p = mkpkt(1000, 4);
	CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, &p, 1), 1);
	vhost_pktbuf_free(p);
	CHECK(fe_packed_used(&T.fe, RXQ, 3, &id, &len) && id == 5 &&
	      len == HDR + 1000);
	CHECK(rx_check(g, 1000, 4, 1));
	teardown();

	SETUP(BASE | F(VIRTIO_NET_F_MRG_RXBUF), 16);
	for (int k = 0; k < 3; k++) {
		struct fe_pbuf b = { 0, 512, W };

		m[k] = galloc(512);
		b.addr = gpa(m[k]);
		fe_packed_post(&T.fe, RXQ, &b, 1, (uint16_t)k);
	}
	p = mkpkt(1200, 8);
	CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, &p, 1), 1);
	vhost_pktbuf_free(p);
	{
		struct virtio_net_hdr_mrg_rxbuf h;
		uint8_t want[1200], got[1200];
		uint32_t lens[3] = { 0 };

		for (int k = 0; k < 3; k++)
			CHECK(fe_packed_used(&T.fe, RXQ, 1, &id, &len) &&
			      id == k && (lens[k] = len) > 0);
		CHECK_EQ(lens[0] + lens[1] + lens[2], HDR + 1200);
		memcpy(&h, m[0], sizeof(h));
		CHECK_EQ(h.num_buffers, 3);
		memcpy(got, m[0] + HDR, 500);
		memcpy(got + 500, m[1], 512);
		memcpy(got + 1012, m[2], 188);
		fill(want, 1200, 8);
		CHECK(!memcmp(got, want, 1200));
	}
	/* Not enough posted for the next one: not started, nothing used. */
	{
		struct fe_pbuf b = { 0, 512, W };

		b.addr = gpa(galloc(512));
		fe_packed_post(&T.fe, RXQ, &b, 1, 3);
	}
	p = mkpkt(1200, 9);
	CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, &p, 1), 0);
	vhost_pktbuf_free(p);
	CHECK(!fe_packed_used(&T.fe, RXQ, 1, &id, &len));
	teardown();
}

/* -------------------------------------------------- event suppression */

static uint64_t calls(uint16_t q)
{
	eventfd_t v = 0;

	if (eventfd_read(T.fe.vr[q].callfd, &v) < 0)
		return 0;
	return v;
}

static void tx_one(unsigned seed)
{
	struct fe_pbuf b[1];

	fe_packed_post(&T.fe, TXQ, b, tx_layout(b, 60, seed, 1), 0);
}

static void tx_drain(unsigned n)
{
	struct vhost_pktbuf *p[16];
	uint16_t got = deq(p, 16), id;
	uint32_t len;

	CHECK_EQ(got, n);
	free_pkts(p, got);
	for (uint16_t k = 0; k < got; k++)
		fe_packed_used(&T.fe, TXQ, 1, &id, &len);
}

static void test_notify(void)
{
	SETUP(BASE, 8);
	/* Polling by default: the device asks for no kicks. */
	CHECK_EQ(DEVICE(TXQ)->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
	CHECK_EQ(vhost_vring_enable_notify(T.dev, TXQ, true), 0);
	CHECK_EQ(DEVICE(TXQ)->flags, VRING_PACKED_EVENT_FLAG_ENABLE);
	calls(TXQ);
	DRIVER(TXQ)->flags = VRING_PACKED_EVENT_FLAG_ENABLE;
	tx_one(1);
	tx_drain(1);
	CHECK_EQ(calls(TXQ), 1);
	DRIVER(TXQ)->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	tx_one(2);
	tx_drain(1);
	CHECK_EQ(calls(TXQ), 0);
	teardown();

	/* EVENT_IDX: a call only when the used position passes off_wrap. */
	SETUP(BASE | F(VIRTIO_RING_F_EVENT_IDX), 8);
	calls(TXQ);
	DRIVER(TXQ)->flags = VRING_PACKED_EVENT_FLAG_DESC;
	DRIVER(TXQ)->off_wrap = 3 | 1u << 15;  /* position 3, wrap 1 */
	tx_one(1);
	tx_drain(1);          /* used 0 -> 1: the first call always goes */
	calls(TXQ);
	tx_one(2);
	tx_drain(1);          /* 1 -> 2: before 3 */
	CHECK_EQ(calls(TXQ), 0);
	tx_one(3);
	tx_one(4);
	tx_drain(2);          /* 2 -> 4: entry 3 written */
	CHECK_EQ(calls(TXQ), 1);
	/* Next lap: position 1 with wrap 0. */
	DRIVER(TXQ)->off_wrap = 1;
	for (int k = 0; k < 4; k++)
		tx_one(5 + k);
	tx_drain(4);          /* 4 -> 8 = 0 (wrap 0): not yet */
	CHECK_EQ(calls(TXQ), 0);
	tx_one(9);
	tx_one(10);
	tx_drain(2);          /* 0 -> 2 on wrap 0: passes 1 */
	CHECK_EQ(calls(TXQ), 1);
	teardown();
}

/* ------------------------------------------------------ ring base */

static void test_vring_base(void)
{
	uint32_t num = 0;

	SETUP(BASE, 6);
	for (int k = 0; k < 8; k++) {
		tx_one((unsigned)k);
		tx_drain(1);
	}
	/* 8 on a ring of 6: position 2, both wrap counters 0. */
	CHECK_EQ(fe_get_vring_base(&T.fe, TXQ, &num), 0);
	CHECK_EQ(num, 2u | 2u << 16);
	/* Set up again from that base: traffic continues where it was. */
	CHECK_EQ(fe_vring_setup(&T.fe, TXQ), 0);
	CHECK(wait_for(&n_new_dev, 2));
	tx_one(20);
	tx_drain(1);
	CHECK_EQ(fe_get_vring_base(&T.fe, TXQ, &num), 0);
	CHECK_EQ(num, 3u | 3u << 16);
	/* A zero high half means used = avail (DPDK's 0x8000 at start). */
	CHECK_EQ(fe_vring_state(&T.fe, VHOST_USER_SET_VRING_BASE, TXQ, 3), 0);
	CHECK_EQ(fe_get_vring_base(&T.fe, TXQ, &num), 0);
	CHECK_EQ(num, 3u | 3u << 16);
	teardown();
}

/* A back-end restart as QEMU 7.2 does it with a packed ring: it cannot
 * read the indices back from guest memory, so it re-sends the base of the
 * last orderly stop (here: the start, 0x80008000) while the guest is far
 * along. The ring's flags say where the device stands. */
static void test_restart_stale_base(void)
{
	uint32_t num = 0;
	struct vhost_pktbuf *p[4];

	SETUP(BASE, 6);
	for (int k = 0; k < 9; k++) {
		tx_one((unsigned)k);
		tx_drain(1);
	}
	/* The guest has two packets posted when the back-end "dies". */
	tx_one(30);
	tx_one(31);
	CHECK_EQ(fe_get_vring_base(&T.fe, TXQ, &num), 0);
	CHECK_EQ(num, 3u | 3u << 16);   /* position 3, lap 2 (wrap 0) */
	CHECK_EQ(fe_vring_state(&T.fe, VHOST_USER_SET_VRING_NUM, TXQ, 6), 0);
	CHECK_EQ(fe_vring_state(&T.fe, VHOST_USER_SET_VRING_BASE, TXQ,
				0x80008000u), 0);
	{
		struct fe_vring *vr = &T.fe.vr[TXQ];
		struct vhost_user_vring_addr a = {
			.index = TXQ,
			.desc_user_addr = (uint64_t)(uintptr_t)vr->desc,
			.avail_user_addr = (uint64_t)(uintptr_t)vr->avail,
			.used_user_addr = (uint64_t)(uintptr_t)vr->used,
		};
		uint64_t v = TXQ;

		CHECK_EQ(fe_request(&T.fe, VHOST_USER_SET_VRING_ADDR, &a,
				    sizeof(a), NULL, 0), 0);
		CHECK_EQ(fe_request(&T.fe, VHOST_USER_SET_VRING_KICK, &v,
				    sizeof(v), &vr->kickfd, 1), 0);
	}
	CHECK(wait_for(&n_new_dev, 2));
	/* Both waiting packets come out, in order, and go back where the
	 * guest reads them. */
	{
		uint16_t got = deq(p, 4), id;
		uint32_t len;

		CHECK_EQ(got, 2);
		CHECK(got == 2 && pkt_is(p[0], 60, 30) && pkt_is(p[1], 60, 31));
		free_pkts(p, got);
		CHECK(fe_packed_used(&T.fe, TXQ, 1, &id, &len));
		CHECK(fe_packed_used(&T.fe, TXQ, 1, &id, &len));
	}
	tx_one(32);
	tx_drain(1);
	teardown();
}

/* ------------------------------------------- started, disabled TX ring */

static bool tx_returned(void *arg)
{
	uint16_t *id = arg;
	uint32_t len;

	return fe_packed_used(&T.fe, TXQ, 2, id, &len);
}

static void test_drain_disabled(void)
{
	struct fe_pbuf b[2];
	uint16_t id = 0xffff;

	SETUP(BASE, 8);
	CHECK_EQ(fe_vring_state(&T.fe, VHOST_USER_SET_VRING_ENABLE, TXQ, 0), 0);
	fe_packed_post(&T.fe, TXQ, b, tx_layout(b, 80, 1, 2), 6);
	CHECK_EQ(eventfd_write(T.fe.vr[TXQ].kickfd, 1), 0);
	CHECK_EQ(fe_wait(tx_returned, &id, WAIT_MS), 0);
	CHECK_EQ(id, 6);
	CHECK_EQ(drops(TXQ, VHOST_DROP_DISABLED), 1);
	teardown();
}

/* ------------------------------------------------------- dirty log */

static bool bit(const uint8_t *log, uint64_t gpa_)
{
	uint64_t page = gpa_ / 4096;

	return log[page / 8] & (1u << (page % 8));
}

static void test_dirty_log(void)
{
	struct vhost_pktbuf *p;
	uint8_t *log, *buf;
	int logfd;
	uint64_t size = (FE_GPA_BASE + MEM_SIZE) / 4096 / 8;
	struct fe_pbuf b = { 0, 2048, W };

	SETUP(BASE, 8);
	buf = galloc(8192);
	buf += 4096 - (gpa(buf) & 4095);
	CHECK_EQ(fe_start_logging(&T.fe, size, &logfd, &log), 0);
	b.addr = gpa(buf);
	fe_packed_post(&T.fe, RXQ, &b, 1, 1);
	p = mkpkt(300, 1);
	CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, &p, 1), 1);
	vhost_pktbuf_free(p);
	/* The buffer and the descriptor written back are in the log. */
	CHECK(bit(log, gpa(buf)));
	CHECK(bit(log, gpa(PD(RXQ, 0))));
	/* Three one by one (positions 1-3), then a batch (4-7), each of
	 * its buffers in a page of its own: all four logged. */
	{
		uint8_t *g = galloc(5 * 4096);
		struct vhost_pktbuf *x[4];

		g += 4096 - (gpa(g) & 4095);
		for (int k = 0; k < 7; k++) {
			b.addr = k < 3 ? gpa(galloc(2048)) :
				 gpa(g + (k - 3) * 4096);
			fe_packed_post(&T.fe, RXQ, &b, 1, (uint16_t)k);
		}
		for (int k = 0; k < 4; k++) {
			x[k] = mkpkt(100, (unsigned)k);
			CHECK(!bit(log, gpa(g + k * 4096)));
		}
		CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, x, 3), 3);
		CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, x, 4), 4);
		for (int k = 0; k < 4; k++)
			CHECK(bit(log, gpa(g + k * 4096)));
		free_pkts(x, 4);
	}
	munmap(log, size + 4096);
	close(logfd);
	teardown();
}

/* ------------------------------------------------------ hostile rings */

/* The ring stops: no burst takes anything, the breakage is counted. */
static void expect_broken(uint16_t q, const char *what)
{
	struct vhost_vring_stats st;
	struct vhost_pktbuf *p[4];

	if (q == TXQ) {
		CHECK_EQ(deq(p, 4), 0);
	} else {
		struct vhost_pktbuf *x = mkpkt(60, 0);
		enum vhost_enqueue_status s;

		CHECK_EQ(vhost_enqueue_burst_status(T.dev, q, &x, 1, &s), 0);
		CHECK_EQ(s, VHOST_ENQUEUE_STOPPED);
		vhost_pktbuf_free(x);
	}
	vhost_vring_stats_get(T.dev, q, &st);
	if (st.drops[VHOST_DROP_BAD_DESC] == 0)
		fprintf(stderr, "not broken: %s\n", what);
	CHECK(st.drops[VHOST_DROP_BAD_DESC] > 0);
}

static void test_hostile_broken(void)
{
	struct vhost_pktbuf *p[4];
	struct fe_pbuf b[3];
	uint16_t id;
	uint32_t len;

	/* An id past the ring size. */
	SETUP(BASE, 8);
	fe_packed_post(&T.fe, TXQ, b, tx_layout(b, 60, 1, 1), 8);
	CHECK_EQ(deq(p, 4), 0);
	CHECK(!fe_packed_used(&T.fe, TXQ, 1, &id, &len));
	expect_broken(TXQ, "id");
	teardown();

	/* A hole: the second descriptor of a chain is not available under
	 * the wrap counter (the driver's flags say "used" or "old lap"). */
	SETUP(BASE, 8);
	fe_packed_post(&T.fe, TXQ, b, tx_layout(b, 60, 1, 2), 1);
	PD(TXQ, 1)->flags = (uint16_t)((1u << VRING_PACKED_DESC_F_AVAIL) |
				       (1u << VRING_PACKED_DESC_F_USED));
	CHECK_EQ(deq(p, 4), 0);
	CHECK(!fe_packed_used(&T.fe, TXQ, 1, &id, &len));
	expect_broken(TXQ, "hole");
	teardown();

	/* Every descriptor of the ring chained to the next: longer than
	 * the ring. */
	SETUP(BASE, 4);
	for (uint16_t k = 0; k < 4; k++) {
		PD(TXQ, k)->addr = gpa(galloc(64));
		PD(TXQ, k)->len = 64;
		PD(TXQ, k)->id = 0;
		if (k)
			PD(TXQ, k)->flags = (uint16_t)(VRING_DESC_F_NEXT |
						fe_packed_avail_bits(true));
	}
	__atomic_store_n(&PD(TXQ, 0)->flags,
			 (uint16_t)(VRING_DESC_F_NEXT | fe_packed_avail_bits(true)),
			 __ATOMIC_RELEASE);
	CHECK_EQ(deq(p, 4), 0);
	expect_broken(TXQ, "endless chain");
	teardown();

	/* Receive side: an id out of range stops the ring too. */
	SETUP(BASE, 8);
	{
		struct fe_pbuf r = { 0, 2048, W };

		r.addr = gpa(galloc(2048));
		fe_packed_post(&T.fe, RXQ, &r, 1, 200);
	}
	expect_broken(RXQ, "rx id");
	CHECK(!fe_packed_used(&T.fe, RXQ, 1, &id, &len));
	teardown();
}

/* Bad content, known extent: back with length 0, counted, next works. */
static void test_hostile_returned(void)
{
	struct vhost_pktbuf *p[8];
	struct fe_pbuf b[3];
	uint16_t id;
	uint32_t len;
	struct vring_packed_desc *tbl;

	SETUP(BASE | F(VIRTIO_RING_F_INDIRECT_DESC), 32);
	/* 1: zero-length descriptor alone (no header: junk). */
	b[0] = (struct fe_pbuf){ gpa(galloc(64)), 0, 0 };
	fe_packed_post(&T.fe, TXQ, b, 1, 1);
	/* 2: untranslatable address. */
	b[0] = (struct fe_pbuf){ FE_GPA_BASE + MEM_SIZE + 4096, 100, 0 };
	fe_packed_post(&T.fe, TXQ, b, 1, 2);
	/* 3: a zero-length descriptor inside a good chain: fine. */
	tx_layout(b, 200, 3, 2);
	b[2] = b[1];
	b[1] = (struct fe_pbuf){ gpa(galloc(16)), 0, 0 };
	fe_packed_post(&T.fe, TXQ, b, 3, 3);
	/* 4: indirect with NEXT in the ring (chained to a normal one). */
	tbl = (struct vring_packed_desc *)(void *)galloc(32);
	tx_layout(b, 100, 4, 2);
	tbl[0] = (struct vring_packed_desc){ b[0].addr, b[0].len, 0, 0 };
	tbl[1] = (struct vring_packed_desc){ b[1].addr, b[1].len, 0, 0 };
	b[0] = (struct fe_pbuf){ gpa(tbl), 32, IND };
	fe_packed_post(&T.fe, TXQ, b, 2, 4);
	/* 5: indirect table length not a multiple of 16. */
	b[0] = (struct fe_pbuf){ gpa(tbl), 24, IND };
	fe_packed_post(&T.fe, TXQ, b, 1, 5);
	/* 6: nested indirect. */
	{
		struct vring_packed_desc *t2 =
			(struct vring_packed_desc *)(void *)galloc(16);

		t2[0] = (struct vring_packed_desc){ gpa(tbl), 32, 0, IND };
		b[0] = (struct fe_pbuf){ gpa(t2), 16, IND };
		fe_packed_post(&T.fe, TXQ, b, 1, 6);
	}
	/* 7: a device-writable descriptor on transmit. */
	tx_layout(b, 100, 7, 1);
	b[0].flags = W;
	fe_packed_post(&T.fe, TXQ, b, 1, 7);
	/* 8: good. */
	fe_packed_post(&T.fe, TXQ, b, tx_layout(b, 150, 8, 1), 8);

	CHECK_EQ(deq(p, 8), 2);
	CHECK(pkt_is(p[0], 200, 3));
	CHECK(pkt_is(p[1], 150, 8));
	free_pkts(p, 2);
	{
		static const uint16_t slots[] = { 1, 1, 3, 2, 1, 1, 1, 1 };

		for (int k = 0; k < 8; k++) {
			CHECK(fe_packed_used(&T.fe, TXQ, slots[k], &id, &len));
			CHECK_EQ(id, k + 1);
			CHECK_EQ(len, 0);
		}
	}
	CHECK_EQ(drops(TXQ, VHOST_DROP_BAD_DESC), 5);
	CHECK_EQ(drops(TXQ, VHOST_DROP_BAD_ADDR), 1);
	teardown();

	/* Receive: a read-only buffer, then a good one. */
	SETUP(BASE, 8);
	{
		struct fe_pbuf r = { 0, 2048, 0 };
		struct vhost_pktbuf *x = mkpkt(90, 5);
		uint8_t *g = galloc(2048);

		r.addr = gpa(galloc(2048));
		fe_packed_post(&T.fe, RXQ, &r, 1, 0);
		/* Zero-length, then untranslatable (CVE-2020-10725's
		 * classes): returned empty too. */
		r = (struct fe_pbuf){ gpa(galloc(64)), 0, W };
		fe_packed_post(&T.fe, RXQ, &r, 1, 2);
		r = (struct fe_pbuf){ FE_GPA_BASE + MEM_SIZE, 2048, W };
		fe_packed_post(&T.fe, RXQ, &r, 1, 3);
		r = (struct fe_pbuf){ gpa(g), 2048, W };
		fe_packed_post(&T.fe, RXQ, &r, 1, 1);
		CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, &x, 1), 1);
		vhost_pktbuf_free(x);
		CHECK(fe_packed_used(&T.fe, RXQ, 1, &id, &len) && id == 0 &&
		      len == 0);
		CHECK(fe_packed_used(&T.fe, RXQ, 1, &id, &len) && id == 2 &&
		      len == 0);
		CHECK(fe_packed_used(&T.fe, RXQ, 1, &id, &len) && id == 3 &&
		      len == 0);
		CHECK(fe_packed_used(&T.fe, RXQ, 1, &id, &len) && id == 1 &&
		      len == HDR + 90);
		CHECK_EQ(drops(RXQ, VHOST_DROP_BAD_ADDR), 1);
		CHECK(rx_check(g, 90, 5, 1));
	}
	teardown();
}

/* A guest flipping flags it does not own: a descriptor whose flags say
 * "used" under our counter is not available; nothing happens. */
static void test_flags_not_available(void)
{
	struct vhost_pktbuf *p[2];
	struct fe_pbuf b[1];

	SETUP(BASE, 8);
	tx_layout(b, 60, 1, 1);
	PD(TXQ, 0)->addr = b[0].addr;
	PD(TXQ, 0)->len = b[0].len;
	PD(TXQ, 0)->flags = (uint16_t)((1u << VRING_PACKED_DESC_F_AVAIL) |
				       (1u << VRING_PACKED_DESC_F_USED));
	CHECK_EQ(deq(p, 2), 0);
	PD(TXQ, 0)->flags = 0; /* avail 0, used 0: the other lap's "used" */
	CHECK_EQ(deq(p, 2), 0);
	CHECK_EQ(drops(TXQ, VHOST_DROP_BAD_DESC), 0);
	teardown();
}

/* ----------------------------------------------- batches (4 per line) */

/*
 * The batch paths take four single descriptors of one cache line at once
 * (positions 0-3 here). Each case spoils one descriptor of the line after
 * it was made available and expects exactly what the one-by-one path
 * does: the batch must fall back, never half-take a line, and never write
 * back an id the guest did not post (ids 4-7 at positions 0-3).
 */
enum spoil { SP_ZERO_LEN, SP_ADDR, SP_NEXT, SP_INDIRECT, SP_ID, SP_NOT_AVAIL };

static void spoil(uint16_t q, uint16_t pos, enum spoil how)
{
	struct vring_packed_desc *d = PD(q, pos);

	switch (how) {
	case SP_ZERO_LEN: d->len = 0; break;
	case SP_ADDR: d->addr = FE_GPA_BASE + MEM_SIZE + 4096; break;
	case SP_NEXT: d->flags |= VRING_DESC_F_NEXT; break;
	case SP_INDIRECT: d->flags |= IND; break; /* not negotiated */
	case SP_ID: d->id = 200; break;
	case SP_NOT_AVAIL: /* the other lap's "used" */
		d->flags ^= (uint16_t)((1u << VRING_PACKED_DESC_F_AVAIL) |
				       (1u << VRING_PACKED_DESC_F_USED));
		break;
	}
}

/* The next used entries are exactly ids[0..n) (slots: each one's chain
 * length), with lengths lens (NULL: all 0), and nothing after them. */
static bool used_are(uint16_t q, const uint16_t *ids, const uint16_t *slots,
		     const uint32_t *lens, unsigned n)
{
	uint16_t id;
	uint32_t len;

	for (unsigned k = 0; k < n; k++) {
		if (!fe_packed_used(&T.fe, q, slots[k], &id, &len) ||
		    id != ids[k] || len != (lens ? lens[k] : 0)) {
			fprintf(stderr, "used entry %u: id %u len %u\n", k,
				id, len);
			return false;
		}
	}
	return !fe_packed_used(&T.fe, q, 1, &id, &len);
}

static void batch_tx_case(enum spoil how)
{
	static const uint16_t one[] = { 1, 1, 1, 1 };
	struct vhost_pktbuf *p[8];
	struct fe_pbuf b[1];
	uint16_t bad = how == SP_NEXT ? 1 : 2, got;

	SETUP(BASE, 8);
	for (uint16_t k = 0; k < 4; k++)
		fe_packed_post(&T.fe, TXQ, b, tx_layout(b, 60 + k, k, 1),
			       (uint16_t)(4 + k));
	spoil(TXQ, bad, how);
	got = deq(p, 8);
	switch (how) {
	case SP_ZERO_LEN: case SP_ADDR: case SP_INDIRECT: {
		/* Returned empty and counted; the others are packets. */
		static const uint16_t ids[] = { 4, 5, 6, 7 };

		CHECK_EQ(got, 3);
		CHECK(got == 3 && pkt_is(p[0], 60, 0) && pkt_is(p[1], 61, 1) &&
		      pkt_is(p[2], 63, 3));
		CHECK(used_are(TXQ, ids, one, NULL, 4));
		CHECK_EQ(drops(TXQ, how == SP_ADDR ? VHOST_DROP_BAD_ADDR :
					VHOST_DROP_BAD_DESC), 1);
		break;
	}
	case SP_NEXT: {
		/* Positions 1-2 are one chain with the id of its last. */
		static const uint16_t ids[] = { 4, 6, 7 }, slots[] = { 1, 2, 1 };

		CHECK_EQ(got, 3);
		CHECK(got == 3 && pkt_is(p[0], 60, 0) && pkt_is(p[2], 63, 3) &&
		      p[1]->pkt_len == 61 + HDR + 62);
		CHECK(used_are(TXQ, ids, slots, NULL, 3));
		break;
	}
	case SP_ID: {
		static const uint16_t ids[] = { 4, 5 };

		CHECK_EQ(got, 2);
		CHECK(used_are(TXQ, ids, one, NULL, 2));
		expect_broken(TXQ, "batch id");
		break;
	}
	case SP_NOT_AVAIL: {
		static const uint16_t ids[] = { 4, 5 }, ids2[] = { 6, 7 };

		CHECK_EQ(got, 2);
		CHECK(used_are(TXQ, ids, one, NULL, 2));
		CHECK_EQ(drops(TXQ, VHOST_DROP_BAD_DESC), 0);
		/* Available after all: the rest comes. */
		free_pkts(p, got);
		spoil(TXQ, bad, how);
		got = deq(p, 8);
		CHECK(got == 2 && pkt_is(p[0], 62, 2) && pkt_is(p[1], 63, 3));
		CHECK(used_are(TXQ, ids2, one, NULL, 2));
		break;
	}
	}
	free_pkts(p, got);
	teardown();
}

static void batch_rx_case(enum spoil how, bool mrg)
{
	static const uint16_t one[] = { 1, 1, 1, 1 };
	struct vhost_pktbuf *x[4];
	uint8_t *g[4];
	uint16_t bad = how == SP_NEXT ? 1 : 2, done;
	enum vhost_enqueue_status st;

	SETUP(BASE | (mrg ? F(VIRTIO_NET_F_MRG_RXBUF) : 0), 8);
	for (uint16_t k = 0; k < 4; k++) {
		struct fe_pbuf r = { 0, 2048, W };

		g[k] = galloc(2048);
		r.addr = gpa(g[k]);
		fe_packed_post(&T.fe, RXQ, &r, 1, (uint16_t)(4 + k));
		x[k] = mkpkt(60 + k, 10 + k);
	}
	spoil(RXQ, bad, how);
	done = vhost_enqueue_burst_status(T.dev, RXQ, x, 4, &st);
	switch (how) {
	case SP_ZERO_LEN: case SP_ADDR: case SP_INDIRECT: {
		/* Buffer 2 back empty; packet 2 goes to buffer 3. */
		static const uint16_t ids[] = { 4, 5, 6, 7 };
		static const uint32_t lens[] = { HDR + 60, HDR + 61, 0,
						 HDR + 62 };

		CHECK_EQ(done, 3);
		CHECK_EQ(st, VHOST_ENQUEUE_NO_ROOM);
		CHECK(used_are(RXQ, ids, one, lens, 4));
		CHECK(rx_check(g[0], 60, 10, 1) && rx_check(g[1], 61, 11, 1) &&
		      rx_check(g[3], 62, 12, 1));
		CHECK_EQ(drops(RXQ, how == SP_ADDR ? VHOST_DROP_BAD_ADDR :
					VHOST_DROP_BAD_DESC), 1);
		break;
	}
	case SP_NEXT: {
		static const uint16_t ids[] = { 4, 6, 7 }, slots[] = { 1, 2, 1 };
		static const uint32_t lens[] = { HDR + 60, HDR + 61, HDR + 62 };

		CHECK_EQ(done, 3);
		CHECK(used_are(RXQ, ids, slots, lens, 3));
		CHECK(rx_check(g[1], 61, 11, 1) && rx_check(g[3], 62, 12, 1));
		break;
	}
	case SP_ID: {
		static const uint16_t ids[] = { 4, 5 };
		static const uint32_t lens[] = { HDR + 60, HDR + 61 };

		CHECK_EQ(done, 2);
		CHECK_EQ(st, VHOST_ENQUEUE_STOPPED);
		CHECK(used_are(RXQ, ids, one, lens, 2));
		break;
	}
	case SP_NOT_AVAIL: {
		static const uint16_t ids[] = { 4, 5 };
		static const uint32_t lens[] = { HDR + 60, HDR + 61 };

		CHECK_EQ(done, 2);
		CHECK_EQ(st, VHOST_ENQUEUE_NO_ROOM);
		CHECK(used_are(RXQ, ids, one, lens, 2));
		break;
	}
	}
	free_pkts(x, 4);
	teardown();
}

static void test_batch_spoiled(void)
{
	for (enum spoil how = SP_ZERO_LEN; how <= SP_NOT_AVAIL; how++) {
		batch_tx_case(how);
		batch_rx_case(how, false);
		batch_rx_case(how, true);
	}
}

/* Rings of 6 and 10 (not powers of two: lines straddle the ring's end)
 * and 8, posted 4 or 5 at a time for many laps: every packet arrives
 * whole, under the id it was posted with. */
static void test_batch_laps(void)
{
	static const uint16_t sizes[] = { 6, 8, 10 };

	for (unsigned s = 0; s < 3; s++) {
		uint16_t size = sizes[s];
		uint8_t *g[5];
		unsigned seed = 0;
		bool ok = true;

		SETUP(BASE, size);
		for (unsigned k = 0; k < 5; k++)
			g[k] = galloc(2048);
		for (unsigned round = 0; round < 40 && ok; round++) {
			unsigned n = 4 + round % 2 * (size > 4);
			struct vhost_pktbuf *p[8], *x[5];
			struct fe_pbuf b[1];
			uint16_t id, got;
			uint32_t len;

			if (n > size)
				n = size;
			for (unsigned k = 0; k < n; k++) {
				struct fe_pbuf r = { gpa(g[k]), 2048, W };

				fe_packed_post(&T.fe, TXQ, b,
					       tx_layout(b, 60 + k, seed + k, 1),
					       (uint16_t)(size - 1 - k));
				fe_packed_post(&T.fe, RXQ, &r, 1, (uint16_t)k);
				x[k] = mkpkt(70 + k, seed + k);
			}
			got = deq(p, 8);
			ok = got == n &&
			     vhost_enqueue_burst(T.dev, RXQ, x, (uint16_t)n) == n;
			for (unsigned k = 0; k < n && ok; k++) {
				ok = pkt_is(p[k], 60 + k, seed + k) &&
				     fe_packed_used(&T.fe, TXQ, 1, &id, &len) &&
				     id == size - 1 - k &&
				     fe_packed_used(&T.fe, RXQ, 1, &id, &len) &&
				     id == k && len == HDR + 70 + k &&
				     rx_check(g[k], 70 + k, seed + k, 1);
			}
			if (!ok)
				fprintf(stderr, "size %u round %u\n", size, round);
			free_pkts(p, got);
			free_pkts(x, (uint16_t)n);
			seed += n;
		}
		CHECK(ok);
		teardown();
	}
}

static void watchdog(int sig)
{
	static const char msg[] = "packed: watchdog: stuck for 60 s\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

int main(void)
{
	signal(SIGALRM, watchdog);
	alarm(60);
	snprintf(sock_path, sizeof(sock_path), "/tmp/vhost-test-packed-%d.sock",
		 (int)getpid());
	if (!getenv("VHOST_LOG_LEVEL"))
		vhost_log_set_level(VHOST_LOG_ERR);
	ctx = vhost_ctx_create(NULL);
	pool = vhost_pktbuf_pool_create("packed", POOL_N, ROOM, 0);
	if (!ctx || !pool)
		return 2;
	RUN(test_tx_layouts);
	RUN(test_tx_wrap);
	RUN(test_rx);
	RUN(test_rx_chain_and_mergeable);
	RUN(test_notify);
	RUN(test_vring_base);
	RUN(test_restart_stale_base);
	RUN(test_drain_disabled);
	RUN(test_dirty_log);
	RUN(test_hostile_broken);
	RUN(test_hostile_returned);
	RUN(test_flags_not_available);
	RUN(test_batch_spoiled);
	RUN(test_batch_laps);
	vhost_ctx_destroy(ctx);
	vhost_pktbuf_pool_destroy(pool);
	return check_summary("packed");
}
