/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data-path tests' fixture (test_datapath.c, test_datapath_hostile.c):
 * a back-end on a real socket, the test front-end (tests/lib/frontend.c) as
 * the guest driver, helpers that build descriptor chains and read the used
 * ring as a Linux guest does, and the snapshot of guest memory compared
 * around every burst. Included once per test program: everything is
 * static (marked unused: each program uses its own part).
 */
#ifndef TEST_DATAPATH_FIXTURE_H
#define TEST_DATAPATH_FIXTURE_H

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

static __attribute__((unused)) struct vhost_ctx *ctx;
static __attribute__((unused)) char sock_path[108];
static __attribute__((unused)) struct vhost_pktbuf_pool *pool;

/* ------------------------------------------------------------ back-end */

static __attribute__((unused)) struct vhost_dev *_Atomic g_dev;
static __attribute__((unused)) _Atomic int n_new_dev, n_destroy_dev, n_destroy_conn;

static __attribute__((unused)) int cb_new_device(struct vhost_dev *dev)
{
	atomic_store(&g_dev, dev);
	n_new_dev++;
	return 0;
}

static __attribute__((unused)) void cb_destroy_device(struct vhost_dev *dev)
{
	(void)dev;
	n_destroy_dev++;
}

static __attribute__((unused)) void cb_destroy_connection(struct vhost_dev *dev)
{
	(void)dev;
	n_destroy_conn++;
}

static __attribute__((unused)) const struct vhost_device_ops ops = {
	.new_device = cb_new_device,
	.destroy_device = cb_destroy_device,
	.destroy_connection = cb_destroy_connection,
};

static __attribute__((unused)) _Atomic int *wait_var;
static __attribute__((unused)) int wait_value;

static __attribute__((unused)) bool reached(void *arg)
{
	(void)arg;
	return atomic_load(wait_var) >= wait_value;
}

static __attribute__((unused)) bool wait_for(_Atomic int *v, int value)
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

static __attribute__((unused)) struct tdev T;

static __attribute__((unused)) void teardown(void)
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

static __attribute__((unused)) bool setup_opts(uint64_t features, uint16_t ring_size, uint16_t nvrings)
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
static __attribute__((unused)) uint8_t *galloc(uint64_t len, uint64_t align)
{
	uint8_t *p = fe_alloc(&T.fe, len ? len : 1, align);

	if (!p) {
		fprintf(stderr, "guest memory exhausted\n");
		abort();
	}
	memset(p, PAT, len ? len : 1);
	return p;
}

static __attribute__((unused)) uint64_t gpa(const void *p)
{
	return fe_gpa(&T.fe, p);
}

static __attribute__((unused)) uint64_t gpa_end(void)
{
	return FE_GPA_BASE + T.fe.mem_size;
}

static __attribute__((unused)) struct fe_vring *VR(uint16_t q)
{
	return &T.fe.vr[q];
}

static __attribute__((unused)) struct vring_desc *D(uint16_t q, uint16_t i)
{
	return &VR(q)->desc[i];
}

static __attribute__((unused)) void set_desc(struct vring_desc *d, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static __attribute__((unused)) uint16_t new_desc(uint16_t q)
{
	uint16_t i = T.nd[q];

	T.nd[q] = (uint16_t)((i + 1) & (VR(q)->size - 1));
	return i;
}

static __attribute__((unused)) void avail_add(uint16_t q, uint16_t head)
{
	struct fe_vring *vr = VR(q);

	vr->avail->ring[vr->avail_idx & (vr->size - 1)] = head;
	vr->avail_idx++;
}

/* The driver's release store of avail->idx (virtio 2.6.13). */
static __attribute__((unused)) void publish(uint16_t q)
{
	atomic_store_explicit((_Atomic uint16_t *)&VR(q)->avail->idx,
			      VR(q)->avail_idx, memory_order_release);
}

static __attribute__((unused)) void set_avail_idx(uint16_t q, uint16_t idx)
{
	atomic_store_explicit((_Atomic uint16_t *)&VR(q)->avail->idx, idx,
			      memory_order_release);
}

static __attribute__((unused)) uint16_t used_idx(uint16_t q)
{
	return atomic_load_explicit((_Atomic uint16_t *)&VR(q)->used->idx,
				    memory_order_acquire);
}

static __attribute__((unused)) struct vring_used_elem used_at(uint16_t q, uint16_t i)
{
	return VR(q)->used->ring[i & (VR(q)->size - 1)];
}

struct seg {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

/* Write s[0..n) as one chain of fresh descriptors; returns its head. */
static __attribute__((unused)) uint16_t chain(uint16_t q, const struct seg *s, unsigned n)
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
static __attribute__((unused)) uint16_t chain_indirect(uint16_t q, const struct seg *s, unsigned n)
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

static __attribute__((unused)) void fill(uint8_t *d, uint32_t len, unsigned seed)
{
	for (uint32_t i = 0; i < len; i++)
		d[i] = (uint8_t)(seed * 29u + i * 7u + (i >> 8) * 3u + 1u);
}

static __attribute__((unused)) nethdr mkhdr(uint8_t flags, uint8_t gso, uint16_t gso_size,
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

static __attribute__((unused)) const nethdr hdr0;

/*
 * Post one transmit packet: header + data laid out contiguously in guest
 * memory and cut into descriptors of cuts[0..ncuts) bytes (the rest in one
 * more). Not published.
 */
static __attribute__((unused)) uint16_t tx_post(uint16_t q, const nethdr *h, const uint8_t *data,
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
static __attribute__((unused)) uint16_t rx_post_chain(uint16_t q, const uint32_t *lens, unsigned n,
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

static __attribute__((unused)) uint16_t rx_post(uint16_t q, uint32_t len)
{
	return rx_post_chain(q, &len, 1, false);
}

/* ------------------------------------------- guest memory write checks */

static __attribute__((unused)) void snap_begin(void)
{
	memcpy(T.snap, T.fe.mem, T.fe.mem_size);
}

static __attribute__((unused)) void allow(const void *p, uint64_t len)
{
	uint64_t off = (uint64_t)((const uint8_t *)p - T.fe.mem);

	memcpy(T.snap + off, p, len);
}

/* Nothing changed in guest memory but the used ring of q and, for a
 * receive queue, the buffers the guest posted there. */
static __attribute__((unused)) void snap_check(uint16_t q, bool rx, int line)
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

static __attribute__((unused)) uint16_t deq(uint16_t q, struct vhost_pktbuf **pkts, uint16_t n,
		    int line)
{
	uint16_t r;

	snap_begin();
	r = vhost_dequeue_burst(T.dev, q, pool, pkts, n);
	snap_check(q, false, line);
	return r;
}

static __attribute__((unused)) uint16_t enq(uint16_t q, struct vhost_pktbuf *const *pkts, uint16_t n,
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

static __attribute__((unused)) struct vhost_vring_stats stats(uint16_t q)
{
	struct vhost_vring_stats s;

	memset(&s, 0, sizeof(s));
	CHECK_EQ(vhost_vring_stats_get(T.dev, q, &s), 0);
	return s;
}

static __attribute__((unused)) uint64_t drops(uint16_t q, enum vhost_drop_reason r)
{
	return stats(q).drops[r];
}

static __attribute__((unused)) uint64_t drain(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	return v;
}

/* A packet of len bytes from data, in segments of seglen bytes. */
static __attribute__((unused)) struct vhost_pktbuf *mkpkt(const uint8_t *data, uint32_t len,
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
static __attribute__((unused)) bool pkt_is(const struct vhost_pktbuf *p, const uint8_t *data,
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

static __attribute__((unused)) unsigned segs_for(uint32_t len)
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

static __attribute__((unused)) struct rxpkt rxp[8];

/* Copy len bytes of the receive chain head into dst (header first). */
static __attribute__((unused)) bool gather(uint16_t q, uint16_t id, uint32_t len, uint8_t *dst)
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
static __attribute__((unused)) int rx_collect(uint16_t q, int *errs)
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



/* Every wait is bounded; a hang inside the library is not: end the run. */
static __attribute__((unused)) void watchdog(int sig)
{
	static const char msg[] = "datapath: watchdog: stuck for 60 s\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}


/* main()'s start and end, shared: a watchdog, the context and the pool. */
static __attribute__((unused)) int fixture_begin(const char *name)
{
	signal(SIGALRM, watchdog);
	alarm(60);
	snprintf(sock_path, sizeof(sock_path), "/tmp/vhost-test-%s-%d.sock", name,
		 (int)getpid());
	if (!getenv("VHOST_LOG_LEVEL"))
		vhost_log_set_level(VHOST_LOG_ERR);
	ctx = vhost_ctx_create(NULL);
	pool = vhost_pktbuf_pool_create(name, POOL_N, ROOM, 0);
	return ctx && pool ? 0 : -1;
}

static __attribute__((unused)) void fixture_end(void)
{
	vhost_ctx_destroy(ctx);
	vhost_pktbuf_pool_destroy(pool);
	unlink(sock_path);
}

#endif
