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
 * reasons, and malicious rings: every bad chain is returned with length 0,
 * counted, and the next good packet on the queue still works. Around every
 * burst the whole of guest memory is compared with a snapshot: nothing may
 * change but the used ring of the queue and (enqueue) the posted buffers;
 * memory the guest did not post is filled with a pattern so stray writes
 * show. The receive side is checked with a parser that reads the used ring
 * the way a Linux guest does (num_buffers entries per packet, entries
 * shorter than the header dropped alone).
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
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
#define MAXRING 256
#define F(b) (1ull << (b))
#define BASE (F(VHOST_USER_F_PROTOCOL_FEATURES) | F(VIRTIO_F_VERSION_1))
#define RXQ 0
#define TXQ 1

typedef struct virtio_net_hdr_mrg_rxbuf nethdr;

static struct vhost_ctx *ctx;
static char sock_path[108];
static struct vhost_pktbuf_pool *pool;

/* ------------------------------------------------------------ back-end */

static struct vhost_dev *_Atomic g_dev;
static _Atomic int n_new_dev, n_destroy_dev, n_destroy_conn;

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

static const struct vhost_device_ops ops = {
	.new_device = cb_new_device,
	.destroy_device = cb_destroy_device,
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

/* ------------------------------------------------------ the test guest */

struct rxrec {            /* a receive chain the guest posted */
	uint8_t n;
	uint8_t *p[16];
	uint32_t len[16];
};

struct tdev {
	struct fe fe;
	struct vhost_socket *s;
	struct vhost_dev *dev;
	uint16_t hdr;             /* virtio-net header length */
	bool mrg;
	uint16_t nd[FE_MAX_VRINGS]; /* next free descriptor */
	struct {
		uint8_t *p;
		uint32_t len;
	} wr[2048];               /* posted device-writable buffers */
	unsigned nwr;
	struct rxrec rx[FE_MAX_VRINGS][MAXRING];
	uint8_t *snap;
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
	T.s = NULL;
	T.dev = NULL;
	free(T.snap);
	T.snap = NULL;
	/* Every packet buffer is back (no leak on any path). */
	CHECK_EQ(vhost_pktbuf_pool_avail(pool), POOL_N);
}

static bool setup_opts(uint64_t features, uint16_t ring_size, uint16_t nvrings)
{
	struct fe_opts o = {
		.features_mask = features,
		.ring_size = ring_size,
		.nvrings = nvrings,
		.mem_size = MEM_SIZE,
	};

	memset(&T, 0, sizeof(T));
	n_new_dev = n_destroy_dev = n_destroy_conn = 0;
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
	/* Everything asked for is supported: negotiated exactly. */
	CHECK_EQ(T.fe.features, features);
	CHECK_EQ(vhost_dev_features(T.dev), features);
	T.mrg = features & F(VIRTIO_NET_F_MRG_RXBUF);
	T.hdr = (features & F(VIRTIO_F_VERSION_1)) || T.mrg ? 12 : 10;
	/* Memory not handed out yet carries the pattern. */
	memset(T.fe.mem + T.fe.mem_next, PAT, T.fe.mem_size - T.fe.mem_next);
	T.snap = malloc(T.fe.mem_size);
	return T.snap != NULL;
}

#define SETUP(...)                                                           \
	do {                                                                 \
		if (!setup_opts(__VA_ARGS__)) {                              \
			teardown();                                          \
			return;                                              \
		}                                                            \
	} while (0)

/* Guest memory, filled with the pattern. */
static uint8_t *galloc(uint64_t len, uint64_t align)
{
	uint8_t *p = fe_alloc(&T.fe, len ? len : 1, align);

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

static uint64_t gpa_end(void)
{
	return FE_GPA_BASE + T.fe.mem_size;
}

static struct fe_vring *VR(uint16_t q)
{
	return &T.fe.vr[q];
}

static struct vring_desc *D(uint16_t q, uint16_t i)
{
	return &VR(q)->desc[i];
}

static void set_desc(struct vring_desc *d, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
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

static void set_avail_idx(uint16_t q, uint16_t idx)
{
	atomic_store_explicit((_Atomic uint16_t *)&VR(q)->avail->idx, idx,
			      memory_order_release);
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

struct seg {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

/* Write s[0..n) as one chain of fresh descriptors; returns its head. */
static uint16_t chain(uint16_t q, const struct seg *s, unsigned n)
{
	uint16_t idx[MAXRING] = { 0 };

	for (unsigned i = 0; i < n && i < MAXRING; i++)
		idx[i] = new_desc(q);
	for (unsigned i = 0; i < n; i++)
		set_desc(D(q, idx[i]), s[i].addr, s[i].len,
			 (uint16_t)(s[i].flags |
				    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			 i + 1 < n ? idx[i + 1] : 0);
	return idx[0];
}

/* The same chain in an indirect table; returns the ring descriptor. */
static uint16_t chain_indirect(uint16_t q, const struct seg *s, unsigned n)
{
	struct vring_desc *tbl = (struct vring_desc *)(void *)galloc(16ull * n, 16);
	uint16_t h = new_desc(q);

	for (unsigned i = 0; i < n; i++)
		set_desc(&tbl[i], s[i].addr, s[i].len,
			 (uint16_t)(s[i].flags |
				    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			 (uint16_t)(i + 1 < n ? i + 1 : 0));
	set_desc(D(q, h), gpa(tbl), 16 * n, VRING_DESC_F_INDIRECT, 0);
	return h;
}

static void fill(uint8_t *d, uint32_t len, unsigned seed)
{
	for (uint32_t i = 0; i < len; i++)
		d[i] = (uint8_t)(seed * 29u + i * 7u + (i >> 8) * 3u + 1u);
}

static nethdr mkhdr(uint8_t flags, uint8_t gso, uint16_t gso_size,
		    uint16_t cs, uint16_t co)
{
	nethdr h;

	memset(&h, 0, sizeof(h));
	h.hdr.flags = flags;
	h.hdr.gso_type = gso;
	h.hdr.gso_size = gso_size;
	h.hdr.csum_start = cs;
	h.hdr.csum_offset = co;
	return h;
}

static const nethdr hdr0;

/*
 * Post one transmit packet: header + data laid out contiguously in guest
 * memory and cut into descriptors of cuts[0..ncuts) bytes (the rest in one
 * more). Not published.
 */
static uint16_t tx_post(uint16_t q, const nethdr *h, const uint8_t *data,
			uint32_t len, const uint32_t *cuts, unsigned ncuts,
			bool indirect)
{
	static struct seg s[MAXRING];
	uint32_t total = T.hdr + len, off = 0;
	uint8_t *b = galloc(total, 8);
	unsigned n = 0;
	uint16_t head;

	memcpy(b, h, T.hdr);
	memcpy(b + T.hdr, data, len);
	for (unsigned i = 0; i < ncuts && off < total; i++) {
		uint32_t l = cuts[i] < total - off ? cuts[i] : total - off;

		s[n++] = (struct seg){ gpa(b + off), l, 0 };
		off += l;
	}
	if (off < total)
		s[n++] = (struct seg){ gpa(b + off), total - off, 0 };
	head = indirect ? chain_indirect(q, s, n) : chain(q, s, n);
	avail_add(q, head);
	return head;
}

/* A receive chain of n descriptors of lens[i] bytes, each its own buffer. */
static uint16_t rx_post_chain(uint16_t q, const uint32_t *lens, unsigned n,
			      bool indirect)
{
	struct seg s[16];
	struct rxrec r = { .n = (uint8_t)n };
	uint16_t head;

	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = galloc(lens[i], 8);

		s[i] = (struct seg){ gpa(p), lens[i], VRING_DESC_F_WRITE };
		r.p[i] = p;
		r.len[i] = lens[i];
		if (T.nwr < sizeof(T.wr) / sizeof(T.wr[0])) {
			T.wr[T.nwr].p = p;
			T.wr[T.nwr].len = lens[i];
			T.nwr++;
		}
	}
	head = indirect ? chain_indirect(q, s, n) : chain(q, s, n);
	T.rx[q][head] = r;
	avail_add(q, head);
	return head;
}

static uint16_t rx_post(uint16_t q, uint32_t len)
{
	return rx_post_chain(q, &len, 1, false);
}

/* ------------------------------------------- guest memory write checks */

static void snap_begin(void)
{
	memcpy(T.snap, T.fe.mem, T.fe.mem_size);
}

static void allow(const void *p, uint64_t len)
{
	uint64_t off = (uint64_t)((const uint8_t *)p - T.fe.mem);

	memcpy(T.snap + off, p, len);
}

/* Nothing changed in guest memory but the used ring of q and, for a
 * receive queue, the buffers the guest posted there. */
static void snap_check(uint16_t q, bool rx, int line)
{
	if (q < T.fe.nvrings && VR(q)->used)
		allow(VR(q)->used, 6 + 8ull * VR(q)->size);
	if (rx)
		for (unsigned i = 0; i < T.nwr; i++)
			allow(T.wr[i].p, T.wr[i].len);
	if (memcmp(T.snap, T.fe.mem, T.fe.mem_size)) {
		uint64_t off = 0;

		while (T.snap[off] == T.fe.mem[off])
			off++;
		fprintf(stderr, "  burst at line %d wrote guest memory at offset 0x%llx (0x%02x -> 0x%02x)\n",
			line, (unsigned long long)off, T.snap[off],
			T.fe.mem[off]);
		CHECK(!"guest memory written outside the used ring and posted buffers");
	}
}

static uint16_t deq(uint16_t q, struct vhost_pktbuf **pkts, uint16_t n,
		    int line)
{
	uint16_t r;

	snap_begin();
	r = vhost_dequeue_burst(T.dev, q, pool, pkts, n);
	snap_check(q, false, line);
	return r;
}

static uint16_t enq(uint16_t q, struct vhost_pktbuf *const *pkts, uint16_t n,
		    int line)
{
	uint16_t r;

	snap_begin();
	r = vhost_enqueue_burst(T.dev, q, pkts, n);
	snap_check(q, true, line);
	return r;
}

#define DEQ(q, p, n) deq(q, p, n, __LINE__)
#define ENQ(q, p, n) enq(q, p, n, __LINE__)

/* ------------------------------------------------------------- packets */

static struct vhost_vring_stats stats(uint16_t q)
{
	struct vhost_vring_stats s;

	memset(&s, 0, sizeof(s));
	CHECK_EQ(vhost_vring_stats_get(T.dev, q, &s), 0);
	return s;
}

static uint64_t drops(uint16_t q, enum vhost_drop_reason r)
{
	return stats(q).drops[r];
}

static uint64_t drain(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	return v;
}

/* A packet of len bytes from data, in segments of seglen bytes. */
static struct vhost_pktbuf *mkpkt(const uint8_t *data, uint32_t len,
				  uint32_t seglen)
{
	struct vhost_pktbuf *head = NULL;
	uint32_t off = 0;

	do {
		struct vhost_pktbuf *s = vhost_pktbuf_alloc(pool);
		uint32_t l = seglen < len - off ? seglen : len - off;
		uint8_t *d;

		if (!s) {
			fprintf(stderr, "pool empty\n");
			abort();
		}
		d = vhost_pktbuf_append(s, (uint16_t)l);
		if (l)
			memcpy(d, data + off, l);
		off += l;
		if (!head)
			head = s;
		else if (vhost_pktbuf_chain(head, s)) {
			CHECK(!"chain");
			vhost_pktbuf_free(s);
		}
	} while (off < len);
	return head;
}

/* pkt is exactly data[0..len): lengths, segment count and every byte. */
static bool pkt_is(const struct vhost_pktbuf *p, const uint8_t *data,
		   uint32_t len)
{
	static uint8_t tmp[VHOST_PKTBUF_MAX_PKT_LEN];
	const struct vhost_pktbuf *s;
	uint32_t sum = 0;
	unsigned segs = 0;

	if (!p)
		return false;
	for (s = p; s; s = s->next) {
		sum += s->data_len;
		segs++;
	}
	return p->pkt_len == len && sum == len && segs == p->nb_segs &&
	       vhost_pktbuf_read(p, 0, len, tmp) == len &&
	       memcmp(tmp, data, len) == 0;
}

static unsigned segs_for(uint32_t len)
{
	return len ? (len + ROOM - 1) / ROOM : 1;
}

/* --------------------------------------------- the guest's receive side */

struct rxpkt {
	nethdr h;
	uint16_t nbufs;
	uint32_t len;       /* data bytes after the header */
	uint8_t data[VHOST_PKTBUF_MAX_PKT_LEN + 64];
};

static struct rxpkt rxp[8];

/* Copy len bytes of the receive chain head into dst (header first). */
static bool gather(uint16_t q, uint16_t id, uint32_t len, uint8_t *dst)
{
	const struct rxrec *r = &T.rx[q][id];

	for (unsigned i = 0; i < r->n && len; i++) {
		uint32_t l = r->len[i] < len ? r->len[i] : len;

		memcpy(dst, r->p[i], l);
		dst += l;
		len -= l;
	}
	return len == 0; /* the used length fits the chain */
}

/*
 * Read the used entries published since the last call as a Linux guest
 * does: an entry shorter than the header (or of an unknown id) is an error,
 * dropped alone; otherwise the header's num_buffers (mergeable) says how
 * many entries the packet spans. Returns packets read into rxp[].
 */
static int rx_collect(uint16_t q, int *errs)
{
	struct fe_vring *vr = VR(q);
	uint16_t end = used_idx(q);
	static uint8_t tmp[VHOST_PKTBUF_MAX_PKT_LEN + 64];
	int np = 0;

	*errs = 0;
	while (vr->used_seen != end && np < 8) {
		struct vring_used_elem e = used_at(q, vr->used_seen++);
		struct rxpkt *p = &rxp[np];
		uint32_t total;

		if (e.id >= vr->size || !T.rx[q][e.id].n || e.len < T.hdr) {
			(*errs)++;
			continue;
		}
		CHECK(gather(q, (uint16_t)e.id, e.len, tmp));
		memset(&p->h, 0, sizeof(p->h));
		memcpy(&p->h, tmp, T.hdr);
		total = e.len - T.hdr;
		memcpy(p->data, tmp + T.hdr, total);
		p->nbufs = T.mrg ? p->h.num_buffers : 1;
		for (uint16_t k = 1; k < p->nbufs; k++) {
			if (vr->used_seen == end) {
				CHECK(!"num_buffers beyond the used entries");
				break;
			}
			e = used_at(q, vr->used_seen++);
			if (e.id >= vr->size || !T.rx[q][e.id].n ||
			    total + e.len > sizeof(p->data)) {
				CHECK(!"bad used entry inside a packet");
				break;
			}
			CHECK(gather(q, (uint16_t)e.id, e.len, p->data + total));
			total += e.len;
		}
		p->len = total;
		np++;
	}
	return np;
}

/* =================================================================== */
/*                               dequeue                               */
/* =================================================================== */

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

/* Every wait is bounded; a hang inside the library is not: end the run. */
static void watchdog(int sig)
{
	static const char msg[] = "datapath: watchdog: stuck for 60 s\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

int main(void)
{
	struct timespec t0, t1;

	signal(SIGALRM, watchdog);
	alarm(60);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	snprintf(sock_path, sizeof(sock_path), "/tmp/vhost-test-dp-%d.sock",
		 (int)getpid());
	if (!getenv("VHOST_LOG_LEVEL"))
		vhost_log_set_level(VHOST_LOG_ERR);
	ctx = vhost_ctx_create(NULL);
	pool = vhost_pktbuf_pool_create("dp", POOL_N, ROOM, 0);
	if (!ctx || !pool)
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
	RUN(test_malicious_tx);
	RUN(test_malicious_tx_headers);
	RUN(test_malicious_rx);
	RUN(test_malicious_rx_mergeable);
	RUN(test_indirect_not_negotiated);
	RUN(test_chain_longer_than_ring);
	RUN(test_broken_ring);
	RUN(test_bad_arguments);
	RUN(test_second_pair);
	vhost_ctx_destroy(ctx);
	vhost_pktbuf_pool_destroy(pool);
	unlink(sock_path);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("datapath: %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return check_summary("datapath");
}
