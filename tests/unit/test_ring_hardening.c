/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Data-path hardening (issue 8), end to end over a real socket: the test
 * plays the guest on rings the test front-end set up and calls the bursts
 * from this thread.
 *
 * - A head the guest made available that is not a descriptor (>= ring
 *   size) never reaches the used ring: the ring is marked broken, the
 *   front-end hears it on the ring's error eventfd and the application by
 *   a callback, both once and without waiting for another message; a
 *   fresh set-up brings the ring back.
 * - Work per burst is bounded when the guest posts junk: empty receive
 *   buffers (mergeable and not) and bad transmit chains.
 * - A pool that cannot hold a maximum-size packet is refused.
 * - vhost_enqueue_burst_status() tells the truth in every case.
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <vhost/pktbuf.h>
#include <vhost/vhost.h>

#include "check.h"
#include "device.h"
#include "frontend.h"

#define WAIT_MS 5000
#define POOL_N 512u
#define ROOM 2048u
#define F(b) (1ull << (b))
#define BASE (F(VHOST_USER_F_PROTOCOL_FEATURES) | F(VIRTIO_F_VERSION_1))
#define RXQ 0
#define TXQ 1
#define HDR 12u
/* The library's per-burst budget of chains without progress
 * (BAD_CHAINS_PER_BURST in lib/virtio_net.c). */
#define BUDGET 64u

static struct vhost_ctx *ctx;
static char sock_path[108];
static struct vhost_pktbuf_pool *pool;

/* ------------------------------------------------------------ back-end */

static struct vhost_dev *_Atomic g_dev;
static _Atomic int n_new_dev, n_destroy_dev, n_destroy_conn;
static _Atomic int n_off[4];   /* vring_state_changed(q, false) */

static int cb_new_device(struct vhost_dev *dev)
{
	atomic_store(&g_dev, dev);
	n_new_dev++;
	return 0;
}

static void cb_destroy_device(struct vhost_dev *dev)
{
	(void)dev;
	n_destroy_dev++;
}

static void cb_destroy_connection(struct vhost_dev *dev)
{
	(void)dev;
	n_destroy_conn++;
}

static void cb_vring_state(struct vhost_dev *dev, uint16_t q, bool on)
{
	(void)dev;
	if (!on && q < 4)
		n_off[q]++;
}

static const struct vhost_device_ops ops = {
	.new_device = cb_new_device,
	.destroy_device = cb_destroy_device,
	.destroy_connection = cb_destroy_connection,
	.vring_state_changed = cb_vring_state,
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

/* What the application was told about the loss of ring q: pair 0 may be
 * reported as vring_state_changed(false) or as destroy_device. */
static int app_reports(uint16_t q)
{
	return atomic_load(&n_off[q]) + (q < 2 ? atomic_load(&n_destroy_dev) : 0);
}

static int report_target;
static uint16_t report_q;

static bool reported(void *arg)
{
	(void)arg;
	return app_reports(report_q) >= report_target;
}

/* ------------------------------------------------------ the test guest */

struct tdev {
	struct fe fe;
	struct vhost_socket *s;
	struct vhost_dev *dev;
	uint16_t nd[4];           /* next free descriptor */
	int errfd[4];             /* our end of SET_VRING_ERR */
};

static struct tdev T;

static void teardown(void)
{
	uint64_t f;

	/* One round trip first: what this thread read of the device (stats,
	 * fds) is then ordered before the event thread frees it after the
	 * hang-up (ThreadSanitizer sees socket reads and writes as
	 * synchronisation, not a close). */
	if (T.s && T.fe.fd >= 0)
		fe_get_u64(&T.fe, VHOST_USER_GET_FEATURES, &f);
	fe_close(&T.fe);
	if (T.s) {
		CHECK(wait_for(&n_destroy_conn, 1));
		CHECK_EQ(vhost_socket_unregister(T.s), 0);
	}
	for (int i = 0; i < 4; i++)
		if (T.errfd[i] >= 0)
			close(T.errfd[i]);
	memset(&T, 0, sizeof(T));
	for (int i = 0; i < 4; i++)
		T.errfd[i] = -1;
}

static bool setup_n(uint64_t features, uint16_t ring_size, uint16_t nvrings)
{
	struct fe_opts o = {
		.features_mask = features,
		.ring_size = ring_size,
		.nvrings = nvrings,
		.mem_size = 16u << 20,
	};

	memset(&T, 0, sizeof(T));
	for (int i = 0; i < 4; i++)
		T.errfd[i] = -1;
	n_new_dev = n_destroy_dev = n_destroy_conn = 0;
	for (int i = 0; i < 4; i++)
		n_off[i] = 0;
	atomic_store(&g_dev, NULL);
	CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &T.s), 0);
	if (!T.s)
		return false;
	CHECK_EQ(vhost_socket_set_ops(T.s, &ops, NULL), 0);
	CHECK_EQ(vhost_socket_set_max_queue_pairs(T.s, 2), 0);
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
	/* The front-end's error eventfds (QEMU gives one per ring). */
	for (uint64_t q = 0; q < T.fe.nvrings; q++) {
		T.errfd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		CHECK(T.errfd[q] >= 0);
		CHECK_EQ(fe_request(&T.fe, VHOST_USER_SET_VRING_ERR, &q,
				    sizeof(q), &T.errfd[q], 1), 0);
	}
	return true;
}

static bool setup(uint64_t features, uint16_t ring_size)
{
	return setup_n(features, ring_size, 2);
}

#define SETUP(...)                                                           \
	do {                                                                 \
		if (!setup(__VA_ARGS__)) {                                   \
			teardown();                                          \
			return;                                              \
		}                                                            \
	} while (0)

static uint8_t *galloc(uint64_t len, uint64_t align)
{
	uint8_t *p = fe_alloc(&T.fe, len ? len : 1, align);

	if (!p) {
		fprintf(stderr, "guest memory exhausted\n");
		abort();
	}
	memset(p, 0, len ? len : 1);
	return p;
}

static uint64_t gpa(const void *p)
{
	return fe_gpa(&T.fe, p);
}

static struct fe_vring *VR(uint16_t q)
{
	return &T.fe.vr[q];
}

static void set_desc(uint16_t q, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct vring_desc *d = &VR(q)->desc[i];

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static uint16_t new_desc(uint16_t q)
{
	uint16_t i = T.nd[q];

	T.nd[q] = (uint16_t)((i + 1) & (VR(q)->size - 1));
	return i;
}

static void avail_add(uint16_t q, uint16_t head)
{
	struct fe_vring *vr = VR(q);

	vr->avail->ring[vr->avail_idx & (vr->size - 1)] = head;
	vr->avail_idx++;
}

/* The driver's release store of avail->idx (virtio 2.6.13). */
static void publish(uint16_t q)
{
	atomic_store_explicit((_Atomic uint16_t *)&VR(q)->avail->idx,
			      VR(q)->avail_idx, memory_order_release);
}

static uint16_t used_idx(uint16_t q)
{
	return atomic_load_explicit((_Atomic uint16_t *)&VR(q)->used->idx,
				    memory_order_acquire);
}

static struct vring_used_elem used_at(uint16_t q, uint16_t i)
{
	return VR(q)->used->ring[i & (VR(q)->size - 1)];
}

/* One transmit packet on q in one descriptor: a zero header, len bytes. */
static uint16_t tx_post_q(uint16_t q, uint32_t len)
{
	uint8_t *b = galloc(HDR + len, 8);
	uint16_t h = new_desc(q);

	memset(b + HDR, 0x5a, len);
	set_desc(q, h, gpa(b), HDR + len, 0, 0);
	avail_add(q, h);
	return h;
}

static uint16_t tx_post(uint32_t len)
{
	return tx_post_q(TXQ, len);
}

/* One receive buffer of len bytes (len 0: a descriptor of length 0). */
static uint16_t rx_post(uint32_t len)
{
	uint8_t *b = galloc(len, 8);
	uint16_t h = new_desc(RXQ);

	set_desc(RXQ, h, gpa(b), len, VRING_DESC_F_WRITE, 0);
	avail_add(RXQ, h);
	return h;
}

static struct vhost_pktbuf *mkpkt(uint32_t len)
{
	struct vhost_pktbuf *p = vhost_pktbuf_alloc(pool);

	if (!p) {
		fprintf(stderr, "pool\n");
		abort();
	}
	while (len) {
		static uint8_t d[ROOM];
		uint32_t l = len < ROOM ? len : ROOM;

		memset(d, 0xa5, l);
		if (vhost_pktbuf_append_data(p, d, l)) {
			fprintf(stderr, "append\n");
			abort();
		}
		len -= l;
	}
	return p;
}

static struct vhost_vring_stats stats(uint16_t q)
{
	struct vhost_vring_stats s;

	memset(&s, 0, sizeof(s));
	CHECK_EQ(vhost_vring_stats_get(T.dev, q, &s), 0);
	return s;
}

static uint16_t enq(struct vhost_pktbuf *const *pk, uint16_t n,
		    enum vhost_enqueue_status *st)
{
	*st = (enum vhost_enqueue_status)-1;
	return vhost_enqueue_burst_status(T.dev, RXQ, pk, n, st);
}

/* Every entry in the used ring of q is a head the guest posted. */
static void check_used_ids(uint16_t q)
{
	for (uint16_t i = 0; i != used_idx(q); i++)
		CHECK(used_at(q, i).id < VR(q)->size);
}

/* The error eventfd of ring q fires within the deadline, with 1. */
static bool errfd_fired(uint16_t q)
{
	struct pollfd p = { .fd = T.errfd[q], .events = POLLIN };
	eventfd_t v = 0;

	if (poll(&p, 1, WAIT_MS) != 1)
		return false;
	return eventfd_read(T.errfd[q], &v) == 0 && v == 1;
}

/* The event thread has handled everything pending: two round trips. */
static void settle(void)
{
	uint64_t f;

	for (int i = 0; i < 2; i++)
		CHECK_EQ(fe_get_u64(&T.fe, VHOST_USER_GET_FEATURES, &f), 0);
}

/* Wait until the application heard of ring q's loss `target` times. */
static bool app_told(uint16_t q, int target)
{
	report_q = q;
	report_target = target;
	return fe_wait(reported, NULL, WAIT_MS) == 0;
}

static uint16_t usable_q;

static bool ring_usable_again(void *arg)
{
	(void)arg;
	return vhost_vring_avail_count(atomic_load(&g_dev), usable_q) > 0;
}

/* The front-end sets ring q up again from base (QEMU's restart); the
 * guest has posted something there: wait until the ring offers it. */
static void ring_setup_again(uint16_t q, uint16_t base)
{
	uint64_t v = q;

	CHECK_EQ(fe_vring_state(&T.fe, VHOST_USER_SET_VRING_BASE, q, base), 0);
	CHECK_EQ(fe_request(&T.fe, VHOST_USER_SET_VRING_KICK, &v, sizeof(v),
			    &VR(q)->kickfd, 1), 0);
	usable_q = q;
	CHECK(fe_wait(ring_usable_again, NULL, WAIT_MS) == 0);
	T.dev = atomic_load(&g_dev);
}

/* ===================================================== broken rings */

/* TX: a head >= ring size between two good packets. The first packet
 * goes, the bad head never reaches the used ring, the ring stops, and
 * both the front-end and the application hear of it once, without
 * another message; set up again, the ring works; it breaks again. */
static void test_tx_head_out_of_range(void)
{
	static const uint16_t bad_heads[] = { 256, 300, 0xffff };
	struct vhost_pktbuf *pk[4];

	SETUP(BASE, 256);
	for (unsigned k = 0; k < 3; k++) {
		uint16_t u0 = used_idx(TXQ), good1, good2, slot;
		int told = app_reports(TXQ);
		eventfd_t v;

		good1 = tx_post(100);
		slot = VR(TXQ)->avail_idx;
		avail_add(TXQ, bad_heads[k]);
		good2 = tx_post(101);
		publish(TXQ);
		CHECK_EQ(vhost_dequeue_burst(T.dev, TXQ, pool, pk, 4), 1);
		vhost_pktbuf_free(pk[0]);
		CHECK_EQ(used_idx(TXQ), (uint16_t)(u0 + 1));
		CHECK_EQ(used_at(TXQ, u0).id, good1);
		check_used_ids(TXQ);
		/* Stopped: nothing more is taken. */
		CHECK_EQ(vhost_dequeue_burst(T.dev, TXQ, pool, pk, 4), 0);
		CHECK_EQ(used_idx(TXQ), (uint16_t)(u0 + 1));
		/* Told promptly, with no message from the front-end. */
		CHECK(errfd_fired(TXQ));
		CHECK(app_told(TXQ, told + 1));
		/* Once: more bursts and messages change nothing. */
		CHECK_EQ(vhost_dequeue_burst(T.dev, TXQ, pool, pk, 4), 0);
		settle();
		CHECK(eventfd_read(T.errfd[TXQ], &v) < 0 && errno == EAGAIN);
		CHECK_EQ(app_reports(TXQ), told + 1);
		/* The guest fixes its ring; the front-end sets it up again. */
		VR(TXQ)->avail->ring[slot & 255] = good2;
		VR(TXQ)->avail_idx = (uint16_t)(slot + 1);
		publish(TXQ);
		ring_setup_again(TXQ, (uint16_t)(u0 + 1));
		CHECK_EQ(vhost_dequeue_burst(T.dev, TXQ, pool, pk, 4), 1);
		vhost_pktbuf_free(pk[0]);
		CHECK_EQ(used_idx(TXQ), (uint16_t)(u0 + 2));
		CHECK_EQ(used_at(TXQ, (uint16_t)(u0 + 1)).id, good2);
	}
	teardown();
}

/* RX, with and without mergeable buffers: a bad head stops the burst;
 * packets placed before it are published, the rest are not, and the
 * status says the queue stopped. */
static void test_rx_head_out_of_range(void)
{
	for (int mrg = 0; mrg < 2; mrg++) {
		uint64_t f = BASE | (mrg ? F(VIRTIO_NET_F_MRG_RXBUF) : 0);
		struct vhost_pktbuf *pk[3] = { mkpkt(100), mkpkt(100), mkpkt(200) };
		enum vhost_enqueue_status st;
		uint16_t good;

		SETUP(f, 256);
		good = rx_post(1024);
		avail_add(RXQ, 256);
		rx_post(1024);
		publish(RXQ);
		CHECK_EQ(enq(pk, 3, &st), 1);
		CHECK_EQ(st, VHOST_ENQUEUE_STOPPED);
		CHECK_EQ(used_idx(RXQ), 1);
		CHECK_EQ(used_at(RXQ, 0).id, good);
		CHECK_EQ(used_at(RXQ, 0).len, HDR + 100);
		check_used_ids(RXQ);
		CHECK(errfd_fired(RXQ));
		CHECK(app_told(RXQ, 1));
		CHECK_EQ(enq(pk, 3, &st), 0);
		CHECK_EQ(st, VHOST_ENQUEUE_STOPPED);
		teardown();

		if (!mrg) {
			vhost_pktbuf_free_bulk(pk, 3);
			continue;
		}
		/* A packet begun in a good buffer that needs the next one,
		 * whose head is bad: none of it is published. */
		SETUP(f, 256);
		rx_post(64);
		avail_add(RXQ, 0xffff);
		publish(RXQ);
		CHECK_EQ(enq(pk + 2, 1, &st), 0);
		CHECK_EQ(st, VHOST_ENQUEUE_STOPPED);
		CHECK_EQ(used_idx(RXQ), 0);
		CHECK(errfd_fired(RXQ));
		teardown();
		vhost_pktbuf_free_bulk(pk, 3);
	}
}

/* avail->idx moved more than the ring size: the front-end's error
 * eventfd and the application hear of it at once. */
static void test_avail_idx_jump_reported(void)
{
	struct vhost_pktbuf *pk[2];

	SETUP(BASE, 256);
	tx_post(64);
	VR(TXQ)->avail_idx = (uint16_t)(VR(TXQ)->avail_idx + 257);
	publish(TXQ);
	CHECK_EQ(vhost_dequeue_burst(T.dev, TXQ, pool, pk, 2), 0);
	CHECK_EQ(used_idx(TXQ), 0);
	CHECK(errfd_fired(TXQ));
	CHECK(app_told(TXQ, 1));
	teardown();
}

/* A data thread bursts on the second pair's TX queue while the guest
 * breaks that ring again and again, the front-end keeps the event thread
 * busy with messages, and sets the ring up after each break. The data
 * thread writes access_ok/broken (mark_broken) while the event thread
 * reads them after every message: under ThreadSanitizer plain flags race
 * here. Each breakage is reported once to the front-end. */
struct burster {
	struct vhost_dev *dev;
	_Atomic bool stop;
	_Atomic unsigned long got;
};

static void *tx_burster(void *arg)
{
	struct burster *w = arg;
	struct vhost_pktbuf *pk[32];

	while (!atomic_load(&w->stop)) {
		uint16_t n = vhost_dequeue_burst(w->dev, 3, pool, pk, 32);

		vhost_pktbuf_free_bulk(pk, n);
		atomic_fetch_add(&w->got, n);
		sched_yield();
	}
	return NULL;
}

static uint16_t want_used;

static bool q3_used(void *arg)
{
	(void)arg;
	return used_idx(3) == want_used;
}

static void test_break_under_traffic(void)
{
	static struct burster w;
	pthread_t t;
	uint64_t f, v = 3;
	int rounds = 20;

	if (!setup_n(BASE, 256, 4)) {
		teardown();
		return;
	}
	memset(&w, 0, sizeof(w));
	w.dev = T.dev;
	CHECK_EQ(pthread_create(&t, NULL, tx_burster, &w), 0);
	for (int k = 0; k < rounds; k++) {
		uint16_t u = used_idx(3);
		eventfd_t ev;

		/* A packet goes through (the ring works again). */
		tx_post_q(3, 64);
		publish(3);
		want_used = (uint16_t)(u + 1);
		CHECK(fe_wait(q3_used, NULL, WAIT_MS) == 0);
		/* The guest breaks the ring while the front-end talks. */
		atomic_store_explicit((_Atomic uint16_t *)&VR(3)->avail->idx,
				      (uint16_t)(VR(3)->avail_idx + 300),
				      memory_order_release);
		for (int i = 0; i < 4; i++)
			CHECK_EQ(fe_get_u64(&T.fe, VHOST_USER_GET_FEATURES, &f), 0);
		CHECK(errfd_fired(3));
		CHECK(app_told(3, k + 1));
		CHECK(eventfd_read(T.errfd[3], &ev) < 0 && errno == EAGAIN);
		/* Sane again, and set up again from where it stopped. */
		publish(3);
		CHECK_EQ(fe_vring_state(&T.fe, VHOST_USER_SET_VRING_BASE, 3,
					used_idx(3)), 0);
		CHECK_EQ(fe_request(&T.fe, VHOST_USER_SET_VRING_KICK, &v,
				    sizeof(v), &VR(3)->kickfd, 1), 0);
	}
	atomic_store(&w.stop, true);
	pthread_join(t, NULL);
	CHECK_EQ(atomic_load(&w.got), (unsigned long)rounds);
	CHECK_EQ(stats(3).drops[VHOST_DROP_BAD_DESC], rounds);
	teardown();
}

/* ============================================ bounded work per burst */

/* Mergeable receive buffers of length 0 after a first one: each burst
 * used to walk the whole ring (32768 chains) and place nothing. A bad
 * chain (outside memory) sits at slot 1000: a burst that walks that far
 * counts it. Every burst consumes at most the budget. */
static void test_mergeable_empty_buffers(void)
{
	const uint16_t size = 32768, sentinel = 1000;
	struct vhost_pktbuf *pk = mkpkt(1000);
	enum vhost_enqueue_status st;
	unsigned bursts = 0, most = 0;
	uint8_t *z;

	SETUP(BASE | F(VIRTIO_NET_F_MRG_RXBUF), size);
	z = galloc(64, 8);
	set_desc(RXQ, 0, gpa(z), 64, VRING_DESC_F_WRITE, 0);
	for (uint32_t i = 1; i < size; i++)
		set_desc(RXQ, (uint16_t)i, gpa(z), 0, VRING_DESC_F_WRITE, 0);
	set_desc(RXQ, sentinel, FE_GPA_BASE + T.fe.mem_size + 4096, 100,
		 VRING_DESC_F_WRITE, 0);
	for (uint32_t i = 0; i < size; i++)
		avail_add(RXQ, (uint16_t)i);
	publish(RXQ);

	CHECK_EQ(enq(&pk, 1, &st), 0);
	CHECK_EQ(st, VHOST_ENQUEUE_BUSY);
	printf("  mergeable, %u empty buffers: the first burst consumed %u chains (budget %u)\n",
	       size - 1, used_idx(RXQ), BUDGET);
	CHECK(used_idx(RXQ) <= BUDGET + 2);
	CHECK_EQ(stats(RXQ).drops[VHOST_DROP_BAD_ADDR], 0);
	/* The junk goes back a budget at a time; nothing is placed. */
	while (st == VHOST_ENQUEUE_BUSY && bursts < 2 * size / BUDGET) {
		uint16_t u = used_idx(RXQ);

		CHECK_EQ(enq(&pk, 1, &st), 0);
		if ((uint16_t)(used_idx(RXQ) - u) > most)
			most = (uint16_t)(used_idx(RXQ) - u);
		bursts++;
	}
	CHECK(most <= BUDGET + 2);
	CHECK_EQ(st, VHOST_ENQUEUE_NO_ROOM);
	CHECK_EQ(used_idx(RXQ), size);
	CHECK_EQ(stats(RXQ).drops[VHOST_DROP_BAD_ADDR], 1);
	check_used_ids(RXQ);
	/* A good buffer: the packet goes. */
	set_desc(RXQ, 0, gpa(galloc(2048, 8)), 2048, VRING_DESC_F_WRITE, 0);
	avail_add(RXQ, 0);
	publish(RXQ);
	CHECK_EQ(enq(&pk, 1, &st), 1);
	CHECK_EQ(st, VHOST_ENQUEUE_DONE);
	CHECK_EQ(used_at(RXQ, size).len, HDR + 1000);
	vhost_pktbuf_free(pk);
	teardown();
}

/* Mergeable buffers of one byte: a packet may span at most 1024
 * descriptors (Linux vhost-net's UIO_MAXIOV); past that it is dropped as
 * too big for this guest, instead of every burst walking the ring for a
 * packet it then does not place. Smaller packets still go. */
static void test_mergeable_tiny_buffers(void)
{
	const uint16_t size = 4096, nbuf = 3000;
	struct vhost_pktbuf *big = mkpkt(1500), *small = mkpkt(500);
	enum vhost_enqueue_status st;
	uint8_t *area, *b0;
	uint16_t first;

	SETUP(BASE | F(VIRTIO_NET_F_MRG_RXBUF), size);
	area = galloc(nbuf, 8);
	b0 = galloc(HDR + 1, 8);
	first = new_desc(RXQ);
	set_desc(RXQ, first, gpa(b0), HDR + 1, VRING_DESC_F_WRITE, 0);
	avail_add(RXQ, first);
	for (uint16_t i = 1; i < nbuf; i++) {
		uint16_t h = new_desc(RXQ);

		set_desc(RXQ, h, gpa(area + i), 1, VRING_DESC_F_WRITE, 0);
		avail_add(RXQ, h);
	}
	publish(RXQ);
	CHECK_EQ(enq(&big, 1, &st), 0);
	CHECK_EQ(st, VHOST_ENQUEUE_UNPLACEABLE);
	CHECK_EQ(stats(RXQ).drops[VHOST_DROP_TOO_BIG], 1);
	CHECK_EQ(used_idx(RXQ), 0);
	CHECK_EQ(vhost_vring_avail_count(T.dev, RXQ), nbuf);
	CHECK_EQ(enq(&small, 1, &st), 1);
	CHECK_EQ(st, VHOST_ENQUEUE_DONE);
	CHECK_EQ(used_idx(RXQ), 500);
	CHECK_EQ(used_at(RXQ, 0).id, first);
	CHECK_EQ(used_at(RXQ, 0).len, HDR + 1);
	{
		struct virtio_net_hdr_mrg_rxbuf h;

		memcpy(&h, b0, sizeof(h));
		CHECK_EQ(h.num_buffers, 500);
	}
	vhost_pktbuf_free(big);
	vhost_pktbuf_free(small);
	teardown();
}

/* Without mergeable buffers, a buffer shorter than a header holds no
 * packet: it is returned as junk (it used to make every packet
 * "unplaceable" while it headed the ring). */
static void test_simple_empty_buffer(void)
{
	struct vhost_pktbuf *pk = mkpkt(100);
	enum vhost_enqueue_status st;
	uint16_t bad, good;

	SETUP(BASE, 256);
	bad = rx_post(0);
	good = rx_post(1024);
	publish(RXQ);
	CHECK_EQ(enq(&pk, 1, &st), 1);
	CHECK_EQ(st, VHOST_ENQUEUE_DONE);
	CHECK_EQ(used_idx(RXQ), 2);
	CHECK_EQ(used_at(RXQ, 0).id, bad);
	CHECK_EQ(used_at(RXQ, 0).len, 0);
	CHECK_EQ(used_at(RXQ, 1).id, good);
	CHECK_EQ(used_at(RXQ, 1).len, HDR + 100);
	CHECK_EQ(stats(RXQ).drops[VHOST_DROP_BAD_DESC], 1);
	vhost_pktbuf_free(pk);
	teardown();
}

/* Transmit: 200 bad chains before a good packet. One burst returns at
 * most the budget of them; the packet comes within a few bursts. */
static void test_tx_bad_chain_budget(void)
{
	struct vhost_pktbuf *pk[256];
	uint8_t *b;
	uint16_t got = 0, good;
	unsigned bursts = 0;

	SETUP(BASE, 256);
	b = galloc(64, 8);
	for (int i = 0; i < 200; i++) {
		uint16_t h = new_desc(TXQ);

		set_desc(TXQ, h, gpa(b), 64, VRING_DESC_F_WRITE, 0);
		avail_add(TXQ, h);
	}
	good = tx_post(80);
	publish(TXQ);
	CHECK_EQ(vhost_dequeue_burst(T.dev, TXQ, pool, pk, 255), 0);
	printf("  transmit, 200 bad chains: the first burst consumed %u chains (budget %u)\n",
	       used_idx(TXQ), BUDGET);
	CHECK(used_idx(TXQ) <= BUDGET + 1);
	while (!got && bursts++ < 10) {
		uint16_t u = used_idx(TXQ);

		got = vhost_dequeue_burst(T.dev, TXQ, pool, pk, 255);
		CHECK((uint16_t)(used_idx(TXQ) - u) <= BUDGET + 1);
	}
	CHECK_EQ(got, 1);
	CHECK_EQ(used_idx(TXQ), 201);
	CHECK_EQ(used_at(TXQ, 200).id, good);
	CHECK_EQ(stats(TXQ).drops[VHOST_DROP_BAD_DESC], 200);
	vhost_pktbuf_free_bulk(pk, got);
	teardown();
}

/* ========================================================= packet pools */

/* A pool whose buffers cannot hold a VHOST_PKTBUF_MAX_PKT_LEN packet in
 * VHOST_PKTBUF_MAX_SEGS segments is refused. Were one made anyway, a guest
 * packet it cannot hold must be dropped as too big, not stall the queue:
 * that part runs only if the pool was accepted. */
static void test_pool_too_small(void)
{
	struct vhost_pktbuf_pool *small;
	struct vhost_pktbuf *pk[4];
	uint32_t big = 40000; /* 313 segments of 128 bytes */
	uint16_t u;

	errno = 0;
	small = vhost_pktbuf_pool_create("small", 1024, 128, 0);
	CHECK(small == NULL);
	CHECK_EQ(errno, EINVAL);
	small = vhost_pktbuf_pool_create("min", 4, VHOST_PKTBUF_DATA_ROOM_MIN, 0);
	CHECK(small != NULL);
	vhost_pktbuf_pool_destroy(small);
	small = vhost_pktbuf_pool_create("small", 1024, 128, 0);
	if (!small)
		return;
	SETUP(BASE, 256);
	tx_post(big);
	tx_post(64);
	publish(TXQ);
	for (int i = 0; i < 3; i++) {
		uint16_t got = vhost_dequeue_burst(T.dev, TXQ, small, pk, 4);

		vhost_pktbuf_free_bulk(pk, got);
	}
	u = used_idx(TXQ);
	CHECK_EQ(u, 2);
	CHECK_EQ(stats(TXQ).drops[VHOST_DROP_TOO_BIG], 1);
	CHECK_EQ(stats(TXQ).packets, 1);
	teardown();
	vhost_pktbuf_pool_destroy(small);
}

/* ======================================================= enqueue status */

static void test_enqueue_status(void)
{
	struct vhost_pktbuf *pk[3] = { mkpkt(100), mkpkt(100), mkpkt(2000) };
	struct vhost_pktbuf *gso = mkpkt(200);
	enum vhost_enqueue_status st;
	struct vhost_vring_stats s0;

	gso->ol_flags = VHOST_PKT_F_CSUM_PARTIAL | VHOST_PKT_F_GSO;
	gso->gso_type = VHOST_GSO_TCPV4;
	gso->gso_size = 100;
	gso->csum_start = 34;
	gso->csum_offset = 16;

	SETUP(BASE, 16);
	/* STOPPED: no such queue, a TX queue, a pair not set up. */
	st = VHOST_ENQUEUE_DONE;
	CHECK_EQ(vhost_enqueue_burst_status(T.dev, 200, pk, 1, &st), 0);
	CHECK_EQ(st, VHOST_ENQUEUE_STOPPED);
	st = VHOST_ENQUEUE_DONE;
	CHECK_EQ(vhost_enqueue_burst_status(T.dev, TXQ, pk, 1, &st), 0);
	CHECK_EQ(st, VHOST_ENQUEUE_STOPPED);
	st = VHOST_ENQUEUE_DONE;
	CHECK_EQ(vhost_enqueue_burst_status(NULL, RXQ, pk, 1, &st), 0);
	CHECK_EQ(st, VHOST_ENQUEUE_STOPPED);
	/* NO_ROOM: nothing posted; then one buffer for two packets. */
	CHECK_EQ(enq(pk, 2, &st), 0);
	CHECK_EQ(st, VHOST_ENQUEUE_NO_ROOM);
	rx_post(512);
	publish(RXQ);
	s0 = stats(RXQ);
	CHECK_EQ(enq(pk, 2, &st), 1);
	CHECK_EQ(st, VHOST_ENQUEUE_NO_ROOM);
	CHECK_EQ(stats(RXQ).drops[VHOST_DROP_NO_ROOM] -
		 s0.drops[VHOST_DROP_NO_ROOM], 1);
	/* DONE, and DONE for an empty burst. */
	rx_post(512);
	rx_post(512);
	publish(RXQ);
	CHECK_EQ(enq(pk, 2, &st), 2);
	CHECK_EQ(st, VHOST_ENQUEUE_DONE);
	CHECK_EQ(enq(pk, 0, &st), 0);
	CHECK_EQ(st, VHOST_ENQUEUE_DONE);
	/* BUSY: the control thread holds the ring. */
	rx_post(512);
	publish(RXQ);
	vring_lock(&T.dev->vrings[RXQ]);
	CHECK_EQ(enq(pk, 1, &st), 0);
	CHECK_EQ(st, VHOST_ENQUEUE_BUSY);
	vring_unlock(&T.dev->vrings[RXQ]);
	/* UNPLACEABLE: a header the guest refused (no GUEST_TSO4). */
	s0 = stats(RXQ);
	CHECK_EQ(enq(&gso, 1, &st), 0);
	CHECK_EQ(st, VHOST_ENQUEUE_UNPLACEABLE);
	CHECK_EQ(stats(RXQ).drops[VHOST_DROP_BAD_HDR] -
		 s0.drops[VHOST_DROP_BAD_HDR], 1);
	/* UNPLACEABLE: larger than the buffer; the buffer stays and takes
	 * the next packet. */
	CHECK_EQ(enq(pk + 2, 2, &st), 0);
	CHECK_EQ(st, VHOST_ENQUEUE_UNPLACEABLE);
	CHECK_EQ(stats(RXQ).drops[VHOST_DROP_TOO_BIG] -
		 s0.drops[VHOST_DROP_TOO_BIG], 1);
	CHECK_EQ(vhost_vring_avail_count(T.dev, RXQ), 1);
	CHECK_EQ(enq(pk, 1, &st), 1);
	CHECK_EQ(st, VHOST_ENQUEUE_DONE);
	teardown();

	/* Mergeable, ring of 16. */
	SETUP(BASE | F(VIRTIO_NET_F_MRG_RXBUF), 16);
	rx_post(64);
	rx_post(64);
	publish(RXQ);
	CHECK_EQ(enq(&gso, 1, &st), 0);
	CHECK_EQ(st, VHOST_ENQUEUE_UNPLACEABLE);
	/* Two 64-byte buffers cannot take 2000 bytes yet: NO_ROOM. */
	CHECK_EQ(enq(pk + 2, 1, &st), 0);
	CHECK_EQ(st, VHOST_ENQUEUE_NO_ROOM);
	/* All 16 posted (1 KiB): 2000 bytes never fit. */
	for (int i = 0; i < 14; i++)
		rx_post(64);
	publish(RXQ);
	s0 = stats(RXQ);
	CHECK_EQ(enq(pk + 2, 1, &st), 0);
	CHECK_EQ(st, VHOST_ENQUEUE_UNPLACEABLE);
	CHECK_EQ(stats(RXQ).drops[VHOST_DROP_TOO_BIG] -
		 s0.drops[VHOST_DROP_TOO_BIG], 1);
	CHECK_EQ(used_idx(RXQ), 0);
	/* The buffers are still there for what fits. */
	CHECK_EQ(enq(pk, 1, &st), 1);
	CHECK_EQ(st, VHOST_ENQUEUE_DONE);
	CHECK_EQ(used_idx(RXQ), 2);
	teardown();
	vhost_pktbuf_free_bulk(pk, 3);
	vhost_pktbuf_free(gso);
}

/* Every wait is bounded; a hang inside the library is not: end the run. */
static void watchdog(int sig)
{
	static const char msg[] = "ring_hardening: watchdog: stuck for 60 s\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

/* An argument runs only the tests whose name contains it. */
static const char *only;

#define RUN_SOME(fn)                                                         \
	do {                                                                 \
		if (!only || strstr(#fn, only))                              \
			RUN(fn);                                             \
	} while (0)

int main(int argc, char **argv)
{
	only = argc > 1 ? argv[1] : NULL;
	signal(SIGALRM, watchdog);
	alarm(60);
	snprintf(sock_path, sizeof(sock_path), "/tmp/vhost-test-rh-%d.sock",
		 (int)getpid());
	if (!getenv("VHOST_LOG_LEVEL"))
		vhost_log_set_level(VHOST_LOG_ERR);
	ctx = vhost_ctx_create(NULL);
	pool = vhost_pktbuf_pool_create("rh", POOL_N, ROOM, 0);
	if (!ctx || !pool)
		return 2;
	T.errfd[0] = T.errfd[1] = -1;
	RUN_SOME(test_tx_head_out_of_range);
	RUN_SOME(test_rx_head_out_of_range);
	RUN_SOME(test_avail_idx_jump_reported);
	RUN_SOME(test_break_under_traffic);
	RUN_SOME(test_mergeable_empty_buffers);
	RUN_SOME(test_mergeable_tiny_buffers);
	RUN_SOME(test_simple_empty_buffer);
	RUN_SOME(test_tx_bad_chain_budget);
	RUN_SOME(test_pool_too_small);
	RUN_SOME(test_enqueue_status);
	/* Every packet buffer is back (no leak on any path). */
	CHECK_EQ(vhost_pktbuf_pool_avail(pool), POOL_N);
	vhost_ctx_destroy(ctx);
	vhost_pktbuf_pool_destroy(pool);
	unlink(sock_path);
	return check_summary("ring_hardening");
}
