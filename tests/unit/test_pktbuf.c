/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for pktbuf. Exit status 0 on success; one line per failed
 * check. "--bench" also prints a rough alloc_bulk+free_bulk cost.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vhost/pktbuf.h>

static int failures;

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c)) {                                               \
			failures++;                                       \
			printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); \
		}                                                         \
	} while (0)

/* A small deterministic PRNG per thread (xorshift32). */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Pools in tests must exist: give up at once if one cannot be made. */
static struct vhost_pktbuf_pool *mkpool(const char *name, uint32_t count,
					uint16_t data_room, uint32_t cache)
{
	struct vhost_pktbuf_pool *p = vhost_pktbuf_pool_create(name, count, data_room, cache);

	if (!p) {
		printf("FAIL: pool_create(%s): %s\n", name, strerror(errno));
		exit(1);
	}
	return p;
}

static void check_fresh(const struct vhost_pktbuf *m,
			const struct vhost_pktbuf_pool *pool)
{
	CHECK(m->next == NULL);
	CHECK(m->pkt_len == 0 && m->data_len == 0);
	CHECK(m->data_off == VHOST_PKTBUF_HEADROOM);
	CHECK(m->nb_segs == 1);
	CHECK(vhost_pktbuf_refcnt_read(m) == 1);
	CHECK(m->ol_flags == 0 && m->gso_type == 0 && m->gso_size == 0);
	CHECK(m->csum_start == 0 && m->csum_offset == 0);
	CHECK(m->queue == 0 && m->userdata == 0);
	CHECK(m->pool == pool);
	CHECK(((uintptr_t)m & 63) == 0);
	CHECK(m->buf == (const char *)m + sizeof(*m));
}

static void check_einval(uint32_t count, uint16_t data_room, uint32_t cache)
{
	errno = 0;
	CHECK(vhost_pktbuf_pool_create("x", count, data_room, cache) == NULL);
	CHECK(errno == EINVAL);
}

static void test_create_args(void)
{
	struct vhost_pktbuf_pool *p;

	check_einval(0, 2048, 0);
	check_einval(8, 0, 0);
	check_einval(8, VHOST_PKTBUF_DATA_ROOM_MAX + 1, 0);
	check_einval(8, 256, 9);
	check_einval(4096, 256, VHOST_PKTBUF_CACHE_MAX + 1);
	/* Too small for the largest packet in the most segments. */
	CHECK(VHOST_PKTBUF_DATA_ROOM_MIN == 256);
	check_einval(8, 1, 0);
	check_einval(8, VHOST_PKTBUF_DATA_ROOM_MIN - 1, 0);
	vhost_pktbuf_pool_destroy(NULL);

	/* Largest data room, NULL name, a name longer than 31 chars. */
	p = vhost_pktbuf_pool_create(NULL, 2, VHOST_PKTBUF_DATA_ROOM_MAX, 1);
	CHECK(p != NULL);
	if (p) {
		struct vhost_pktbuf *m = vhost_pktbuf_alloc(p);

		CHECK(m && m->buf_len == UINT16_MAX);
		CHECK(m && vhost_pktbuf_tailroom(m) == VHOST_PKTBUF_DATA_ROOM_MAX);
		vhost_pktbuf_free(m);
		vhost_pktbuf_pool_destroy(p);
	}
	p = vhost_pktbuf_pool_create("a-name-that-is-much-longer-than-31-chars", 1,
				     VHOST_PKTBUF_DATA_ROOM_MIN, 0);
	CHECK(p && vhost_pktbuf_pool_count(p) == 1 &&
	      vhost_pktbuf_pool_data_room(p) == VHOST_PKTBUF_DATA_ROOM_MIN);
	vhost_pktbuf_pool_destroy(p);
}

static void test_basic(void)
{
	struct vhost_pktbuf_pool *p = mkpool("basic", 16, 2048, 4);
	struct vhost_pktbuf *m;
	char *d, *t;

	CHECK(vhost_pktbuf_pool_count(p) == 16 && vhost_pktbuf_pool_avail(p) == 16);
	m = vhost_pktbuf_alloc(p);
	CHECK(m != NULL);
	if (!m)
		return;
	check_fresh(m, p);
	CHECK(m->buf_len == VHOST_PKTBUF_HEADROOM + 2048 && vhost_pktbuf_pool_avail(p) == 15);
	CHECK(vhost_pktbuf_headroom(m) == VHOST_PKTBUF_HEADROOM && vhost_pktbuf_tailroom(m) == 2048);

	d = vhost_pktbuf_append(m, 100);
	CHECK(d == vhost_pktbuf_data(m) && m->data_len == 100 && m->pkt_len == 100);
	memset(d, 0xab, 100);
	CHECK(vhost_pktbuf_append(m, 1949) == NULL && m->pkt_len == 100);
	t = vhost_pktbuf_append(m, 1948);
	CHECK(t == d + 100 && vhost_pktbuf_tailroom(m) == 0 && m->pkt_len == 2048);
	CHECK(vhost_pktbuf_trim(m, 1948) == 0 && m->pkt_len == 100);
	CHECK(vhost_pktbuf_trim(m, 101) == -EINVAL && m->pkt_len == 100);

	t = vhost_pktbuf_prepend(m, 12);
	CHECK(t == d - 12 && m->data_len == 112 && m->pkt_len == 112);
	CHECK(vhost_pktbuf_headroom(m) == VHOST_PKTBUF_HEADROOM - 12);
	CHECK(vhost_pktbuf_prepend(m, VHOST_PKTBUF_HEADROOM) == NULL && m->pkt_len == 112);
	CHECK(vhost_pktbuf_prepend(m, VHOST_PKTBUF_HEADROOM - 12) == m->buf);
	CHECK(vhost_pktbuf_adj(m, VHOST_PKTBUF_HEADROOM) == d && m->pkt_len == 100);
	CHECK(vhost_pktbuf_adj(m, 101) == NULL && m->pkt_len == 100);
	CHECK(vhost_pktbuf_is_contiguous(m));

	/* Dirty every field: the next alloc of the same buffer resets them. */
	m->ol_flags = VHOST_PKT_F_GSO | VHOST_PKT_F_CSUM_PARTIAL;
	m->gso_type = VHOST_GSO_TCPV4;
	m->gso_size = 1448;
	m->csum_start = 34;
	m->csum_offset = 16;
	m->queue = 3;
	m->userdata = 42;
	vhost_pktbuf_free(m);
	CHECK(vhost_pktbuf_pool_avail(p) == 16);
	m = vhost_pktbuf_alloc(p);
	check_fresh(m, p);
	vhost_pktbuf_free(m);
	vhost_pktbuf_free(NULL);
	vhost_pktbuf_pool_destroy(p);
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* Take every buffer, check they are distinct, then check failures leave
 * the counts alone. */
static void test_exhaustion(uint32_t cache_size)
{
	enum { N = 100 };
	struct vhost_pktbuf_pool *p;
	struct vhost_pktbuf *all[N + 1], *extra[8];
	unsigned i, got = 0;

	p = mkpool("exh", N, 256, cache_size < N ? cache_size : N);
	while (got <= N && (all[got] = vhost_pktbuf_alloc(p)) != NULL)
		got++;
	CHECK(got == N && vhost_pktbuf_pool_avail(p) == 0);
	CHECK(vhost_pktbuf_alloc(p) == NULL);
	CHECK(vhost_pktbuf_alloc_bulk(p, extra, 1) == -ENOBUFS);
	CHECK(vhost_pktbuf_alloc_bulk(p, extra, N + 1) == -ENOBUFS);
	qsort(all, got, sizeof(all[0]), cmp_ptr);
	for (i = 1; i < got; i++)
		CHECK(all[i] != all[i - 1]);

	/* 5 free, ask for 6: nothing taken, pkts untouched. */
	vhost_pktbuf_free_bulk(all, 5);
	CHECK(vhost_pktbuf_pool_avail(p) == 5);
	memset(extra, 0, sizeof(extra));
	CHECK(vhost_pktbuf_alloc_bulk(p, extra, 6) == -ENOBUFS);
	CHECK(!extra[0] && !extra[5] && vhost_pktbuf_pool_avail(p) == 5);
	CHECK(vhost_pktbuf_alloc_bulk(p, extra, 5) == 0 && vhost_pktbuf_pool_avail(p) == 0);
	for (i = 0; i < 5; i++)
		check_fresh(extra[i], p);
	vhost_pktbuf_free_bulk(extra, 5);
	vhost_pktbuf_free_bulk(all + 5, got - 5);
	CHECK(vhost_pktbuf_pool_avail(p) == N);

	/* Bursts larger than the cache, then the whole pool in one go. */
	CHECK(vhost_pktbuf_alloc_bulk(p, all, N) == 0 && vhost_pktbuf_pool_avail(p) == 0);
	vhost_pktbuf_free_bulk(all, N);
	CHECK(vhost_pktbuf_pool_avail(p) == N);
	CHECK(vhost_pktbuf_alloc_bulk(p, all, 0) == 0);
	vhost_pktbuf_pool_destroy(p);
}

static void test_destroy_busy(void)
{
	struct vhost_pktbuf_pool *p = mkpool("busy", 4, 256, 2);
	struct vhost_pktbuf *m = vhost_pktbuf_alloc(p);

	CHECK(m != NULL);
	errno = 0;
	vhost_pktbuf_pool_destroy(p); /* refused: m is out */
	CHECK(errno == EBUSY && vhost_pktbuf_pool_avail(p) == 3);
	vhost_pktbuf_free(m);
	vhost_pktbuf_pool_destroy(p);
}

static void test_refcnt(void)
{
	struct vhost_pktbuf_pool *p = mkpool("ref", 8, 256, 0);
	struct vhost_pktbuf *m, *s[3];

	m = vhost_pktbuf_alloc(p);
	vhost_pktbuf_refcnt_update(m, 2);
	CHECK(vhost_pktbuf_refcnt_read(m) == 3);
	vhost_pktbuf_free(m);
	CHECK(vhost_pktbuf_refcnt_read(m) == 2 && vhost_pktbuf_pool_avail(p) == 7);
	vhost_pktbuf_refcnt_update(m, -1);
	CHECK(vhost_pktbuf_refcnt_read(m) == 1 && vhost_pktbuf_pool_avail(p) == 7);
	vhost_pktbuf_free(m);
	CHECK(vhost_pktbuf_pool_avail(p) == 8);

	/* Update reaches every segment; a segment shared by another holder
	 * stays out while the rest of the chain comes back. */
	CHECK(vhost_pktbuf_alloc_bulk(p, s, 3) == 0);
	CHECK(vhost_pktbuf_chain(s[0], s[1]) == 0 && vhost_pktbuf_chain(s[0], s[2]) == 0);
	CHECK(s[0]->nb_segs == 3 && s[0]->pkt_len == 0);
	vhost_pktbuf_refcnt_update(s[0], 1);
	CHECK(vhost_pktbuf_refcnt_read(s[1]) == 2 && vhost_pktbuf_refcnt_read(s[2]) == 2);
	vhost_pktbuf_free(s[0]);
	CHECK(vhost_pktbuf_pool_avail(p) == 5);
	vhost_pktbuf_refcnt_update(s[2], 1); /* extra hold on the last seg */
	vhost_pktbuf_free(s[0]);
	CHECK(vhost_pktbuf_pool_avail(p) == 7 && vhost_pktbuf_refcnt_read(s[2]) == 1);
	vhost_pktbuf_free(s[2]);
	CHECK(vhost_pktbuf_pool_avail(p) == 8);
	vhost_pktbuf_pool_destroy(p);
}

static void fill_pattern(uint8_t *b, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		b[i] = (uint8_t)(rnd(&seed) >> 7);
}

static void test_multiseg(void)
{
	enum { BIG = 65536 };
	struct vhost_pktbuf_pool *p = mkpool("seg", 64, 2048, 8);
	struct vhost_pktbuf_pool *q = mkpool("other", 4, 256, 0);
	struct vhost_pktbuf *h, *t, *x[4];
	static uint8_t src[BIG], dst[BIG + 16];
	uint32_t offs[] = { 0, 1, 2047, 2048, 2049, 4095, 30000, 65535 };
	unsigned i;

	fill_pattern(src, BIG, 12345);

	h = vhost_pktbuf_alloc(p);
	CHECK(vhost_pktbuf_append_data(h, src, 100) == 0 && h->nb_segs == 1 && h->pkt_len == 100);
	CHECK(vhost_pktbuf_append_data(h, src + 100, BIG - 100) == 0);
	CHECK(h->pkt_len == BIG && h->nb_segs == 32 && vhost_pktbuf_pool_avail(p) == 64 - 32);
	CHECK(vhost_pktbuf_read(h, 0, BIG + 16, dst) == BIG && memcmp(src, dst, BIG) == 0);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		uint32_t want = BIG - offs[i] < 3000 ? BIG - offs[i] : 3000;

		memset(dst, 0, 3000);
		CHECK(vhost_pktbuf_read(h, offs[i], 3000, dst) == want);
		CHECK(memcmp(src + offs[i], dst, want) == 0);
	}
	CHECK(vhost_pktbuf_read(h, BIG, 10, dst) == 0);
	CHECK(vhost_pktbuf_read(h, 5, 0, dst) == 0);
	CHECK(vhost_pktbuf_append_data(h, src, 0) == 0 && h->pkt_len == BIG);

	/* Full: one more byte is refused and changes nothing. */
	CHECK(vhost_pktbuf_append_data(h, src, 1) == -EOVERFLOW);
	CHECK(h->pkt_len == BIG && h->nb_segs == 32 && vhost_pktbuf_pool_avail(p) == 32);
	t = vhost_pktbuf_alloc(p);
	vhost_pktbuf_append(t, 1);
	CHECK(vhost_pktbuf_chain(h, t) == -EOVERFLOW && h->nb_segs == 32);
	vhost_pktbuf_free(t);
	CHECK(vhost_pktbuf_pool_avail(p) == 32);

	/* A segment from another pool goes back to that pool. */
	CHECK(vhost_pktbuf_trim(h, 100) == 0 && h->pkt_len == BIG - 100);
	t = vhost_pktbuf_alloc(q);
	memset(vhost_pktbuf_append(t, 100), 0x5a, 100);
	CHECK(vhost_pktbuf_chain(h, t) == 0 && vhost_pktbuf_lastseg(h) == t);
	CHECK(h->nb_segs == 33 && h->pkt_len == BIG && !vhost_pktbuf_is_contiguous(h));
	CHECK(vhost_pktbuf_read(h, BIG - 1, 1, dst) == 1 && dst[0] == 0x5a);
	CHECK(vhost_pktbuf_pool_avail(q) == 3);
	vhost_pktbuf_free(h);
	CHECK(vhost_pktbuf_pool_avail(p) == 64 && vhost_pktbuf_pool_avail(q) == 4);

	/* Pool runs dry in the middle: -ENOBUFS, packet and pool unchanged.
	 * q: 256-byte segments (the smallest data room), 4 buffers. */
	h = vhost_pktbuf_alloc(q);
	CHECK(vhost_pktbuf_append_data(h, src, 384) == 0 && h->nb_segs == 2);
	CHECK(vhost_pktbuf_append_data(h, src + 384, 641) == -ENOBUFS);
	CHECK(h->pkt_len == 384 && h->nb_segs == 2 && vhost_pktbuf_lastseg(h)->data_len == 128);
	CHECK(vhost_pktbuf_pool_avail(q) == 2);
	CHECK(vhost_pktbuf_append_data(h, src + 384, 640) == 0);
	CHECK(h->pkt_len == 1024 && h->nb_segs == 4 && vhost_pktbuf_pool_avail(q) == 0);
	CHECK(vhost_pktbuf_read(h, 0, 1024, dst) == 1024 && memcmp(src, dst, 1024) == 0);
	vhost_pktbuf_free(h);

	/* Segment limit: chains of 1-byte packets. */
	CHECK(vhost_pktbuf_alloc_bulk(q, x, 2) == 0);
	x[0]->nb_segs = VHOST_PKTBUF_MAX_SEGS; /* pretend, to hit the limit */
	CHECK(vhost_pktbuf_chain(x[0], x[1]) == -EOVERFLOW && x[0]->next == NULL);
	x[0]->nb_segs = VHOST_PKTBUF_MAX_SEGS - 1;
	CHECK(vhost_pktbuf_chain(x[0], x[1]) == 0 && x[0]->nb_segs == VHOST_PKTBUF_MAX_SEGS);
	CHECK(vhost_pktbuf_append_data(x[0], src, 300) == -EOVERFLOW);
	vhost_pktbuf_free(x[0]);
	CHECK(vhost_pktbuf_pool_avail(q) == 4);
	vhost_pktbuf_pool_destroy(q);
	vhost_pktbuf_pool_destroy(p);
}

/* --------------------------------------------------------------- threads */

struct worker {
	struct vhost_pktbuf_pool *pool;
	uint32_t seed;
	unsigned iters;
	int errors;                      /* checked after join */
};

/* Random bursts through this thread's cache; stamps each buffer to catch
 * one buffer handed to two owners at once. */
static void *churn(void *arg)
{
	struct worker *w = arg;
	struct vhost_pktbuf *pk[64];
	unsigned it, i, n;

	for (it = 0; it < w->iters; it++) {
		n = 1 + (rnd(&w->seed) & 63);
		if (vhost_pktbuf_alloc_bulk(w->pool, pk, n)) {
			w->errors++;
			continue;
		}
		for (i = 0; i < n; i++) {
			pk[i]->userdata = (uintptr_t)w ^ i;
			*(uint32_t *)vhost_pktbuf_append(pk[i], 4) = w->seed + i;
		}
		for (i = 0; i < n; i++)
			if (pk[i]->userdata != ((uintptr_t)w ^ i) ||
			    *(uint32_t *)vhost_pktbuf_data(pk[i]) != w->seed + i ||
			    vhost_pktbuf_refcnt_read(pk[i]) != 1)
				w->errors++;
		if (n & 1) {
			vhost_pktbuf_free(pk[0]);
			vhost_pktbuf_free_bulk(pk + 1, n - 1);
		} else {
			vhost_pktbuf_free_bulk(pk, n);
		}
	}
	return NULL;
}

/* Ping-pong on one packet with refcnt 2: both threads free it at the same
 * moment, so both may see 2 and race on the decrement. Exactly one must
 * return it, or the pool's count goes wrong. */
struct race {
	struct vhost_pktbuf_pool *pool;
	struct vhost_pktbuf *_Atomic pkt;
	_Atomic unsigned go, done;
};

/* Spin, but let a serialising tool (valgrind) run the other thread. */
static void wait_for(_Atomic unsigned *v, unsigned want)
{
	for (unsigned k = 0; atomic_load(v) != want; k++)
		if (k > 1000)
			sched_yield();
}

static void *race_peer(void *arg)
{
	struct race *r = arg;

	for (unsigned i = 1; i <= 100000; i++) {
		wait_for(&r->go, i);
		vhost_pktbuf_free(atomic_load(&r->pkt));
		atomic_store(&r->done, i);
	}
	return NULL;
}

static void test_refcnt_race(void)
{
	static struct race r;
	struct vhost_pktbuf *m;
	pthread_t t;

	r.pool = mkpool("race", 64, 256, 8);
	CHECK(pthread_create(&t, NULL, race_peer, &r) == 0);
	for (unsigned i = 1; i <= 100000; i++) {
		while (!(m = vhost_pktbuf_alloc(r.pool))) /* peer's cache */
			;
		vhost_pktbuf_refcnt_update(m, 1);
		atomic_store(&r.pkt, m);
		atomic_store(&r.go, i);
		vhost_pktbuf_free(m);
		wait_for(&r.done, i);
	}
	pthread_join(t, NULL);
	CHECK(vhost_pktbuf_pool_avail(r.pool) == 64);
	vhost_pktbuf_pool_destroy(r.pool);
}

static void test_threads(uint32_t cache_size)
{
	enum { COUNT = 1024 };
	struct vhost_pktbuf_pool *p = mkpool("mt", COUNT, 256, cache_size);
	static struct vhost_pktbuf *all[COUNT];
	struct worker w[2];
	pthread_t th[2];
	int i;

	for (i = 0; i < 2; i++) {
		w[i] = (struct worker){ .pool = p, .seed = 777u + (uint32_t)i,
					.iters = 20000 };
		CHECK(pthread_create(&th[i], NULL, churn, &w[i]) == 0);
	}
	for (i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CHECK(w[i].errors == 0);
	}
	/* Thread exit flushed their caches: this thread gets every buffer,
	 * each with refcnt back at 1. */
	CHECK(vhost_pktbuf_pool_avail(p) == COUNT);
	CHECK(vhost_pktbuf_alloc_bulk(p, all, COUNT) == 0);
	for (i = 0; i < COUNT; i++)
		CHECK(vhost_pktbuf_refcnt_read(all[i]) == 1);
	vhost_pktbuf_free_bulk(all, COUNT);
	vhost_pktbuf_pool_destroy(p);
}

/* Producer allocates, consumer frees: one cache always refills, the other
 * always flushes. */
struct pc_arg {
	struct vhost_pktbuf_pool *pool;
	unsigned total;
	int errors;
	struct vhost_pktbuf *slot[256]; /* single-producer/consumer ring */
	_Atomic unsigned head, tail;
};

static void *producer(void *arg)
{
	struct pc_arg *a = arg;
	unsigned sent = 0, h;

	while (sent < a->total) {
		struct vhost_pktbuf *m = vhost_pktbuf_alloc(a->pool);

		if (!m) /* consumer's cache may hold the rest: retry */
			continue;
		m->userdata = sent;
		h = atomic_load_explicit(&a->head, memory_order_relaxed);
		while (h - atomic_load_explicit(&a->tail, memory_order_acquire) == 256)
			;
		a->slot[h & 255] = m;
		atomic_store_explicit(&a->head, h + 1, memory_order_release);
		sent++;
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct pc_arg *a = arg;
	unsigned got = 0, t;

	while (got < a->total) {
		t = atomic_load_explicit(&a->tail, memory_order_relaxed);
		if (atomic_load_explicit(&a->head, memory_order_acquire) == t)
			continue;
		if (a->slot[t & 255]->userdata != got)
			a->errors++;
		vhost_pktbuf_free(a->slot[t & 255]);
		atomic_store_explicit(&a->tail, t + 1, memory_order_release);
		got++;
	}
	return NULL;
}

static void test_producer_consumer(void)
{
	static struct pc_arg a = { .total = 50000 };
	pthread_t t1, t2;

	a.pool = mkpool("pc", 512, 256, 64);
	CHECK(pthread_create(&t1, NULL, producer, &a) == 0);
	CHECK(pthread_create(&t2, NULL, consumer, &a) == 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	CHECK(a.errors == 0 && vhost_pktbuf_pool_avail(a.pool) == 512);
	vhost_pktbuf_pool_destroy(a.pool);
}

/* ----------------------------------------------------- destroy vs threads */

struct user {
	struct vhost_pktbuf_pool *pool;
	pthread_barrier_t *bar; /* NULL: just use the pool and exit */
};

static void *use_pool(void *arg)
{
	struct user *u = arg;
	struct vhost_pktbuf *pk[40];

	/* Leave buffers in this thread's cache. */
	if (vhost_pktbuf_alloc_bulk(u->pool, pk, 40) == 0)
		vhost_pktbuf_free_bulk(pk, 40);
	if (u->bar) {
		pthread_barrier_wait(u->bar); /* main destroys the pool now */
		pthread_barrier_wait(u->bar); /* main made a new pool */
		/* A new pool may reuse the key: this thread must get a fresh
		 * cache, not the freed one. */
		if (vhost_pktbuf_alloc_bulk(u->pool, pk, 40) == 0)
			vhost_pktbuf_free_bulk(pk, 40);
		pthread_barrier_wait(u->bar);
	}
	return NULL; /* exit: destructor runs for live pools only */
}

static void test_destroy_threads(void)
{
	struct vhost_pktbuf_pool *p = mkpool("d1", 64, 256, 32);
	struct vhost_pktbuf *all[64];
	pthread_barrier_t bar;
	struct user u = { .pool = p };
	pthread_t t;

	/* 1: the thread exited; its cache went back at exit. */
	CHECK(pthread_create(&t, NULL, use_pool, &u) == 0);
	pthread_join(t, NULL);
	CHECK(vhost_pktbuf_alloc_bulk(p, all, 64) == 0); /* nothing stuck */
	vhost_pktbuf_free_bulk(all, 64);
	vhost_pktbuf_pool_destroy(p);

	/* 2: the thread is alive with a full cache while the pool goes. */
	pthread_barrier_init(&bar, NULL, 2);
	u.pool = mkpool("d2", 64, 256, 32);
	u.bar = &bar;
	CHECK(pthread_create(&t, NULL, use_pool, &u) == 0);
	pthread_barrier_wait(&bar);
	CHECK(vhost_pktbuf_pool_avail(u.pool) == 64);
	CHECK(vhost_pktbuf_alloc_bulk(u.pool, all, 64) == -ENOBUFS); /* its cache */
	vhost_pktbuf_pool_destroy(u.pool);
	u.pool = mkpool("d3", 64, 256, 32);
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	CHECK(vhost_pktbuf_pool_avail(u.pool) == 64);
	pthread_join(t, NULL);
	CHECK(vhost_pktbuf_alloc_bulk(u.pool, all, 64) == 0);
	vhost_pktbuf_free_bulk(all, 64);
	vhost_pktbuf_pool_destroy(u.pool);
	pthread_barrier_destroy(&bar);
}

/* ------------------------------------------------------------------ bench */

static void bench(uint32_t cache_size)
{
	enum { BURST = 32, ITERS = 2000000 };
	struct vhost_pktbuf_pool *p = mkpool("bench", 4096, 2048, cache_size);
	struct vhost_pktbuf *pk[BURST];
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; p && i < ITERS; i++) {
		if (vhost_pktbuf_alloc_bulk(p, pk, BURST))
			abort();
		vhost_pktbuf_free_bulk(pk, BURST);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("bench: cache %u: alloc_bulk+free_bulk(%d) %.2f ns/buffer\n", cache_size, BURST,
	       ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / ITERS / BURST);
	vhost_pktbuf_pool_destroy(p);
}

/* A shared pool: every buffer (headroom + data room) inside its memfd
 * area, every header outside it, the area sealed against shrinking; an
 * ordinary pool has no area. */
static void test_shared(void)
{
	struct vhost_pktbuf_pool *pool =
		vhost_pktbuf_pool_create_shared("s", 100, 2048, 8);
	struct vhost_pktbuf_pool *plain = vhost_pktbuf_pool_create("p", 4, 2048, 0);
	struct vhost_pktbuf *m[100];
	uint64_t len = 0;
	void *base = NULL;
	int fd = -1;

	CHECK(pool && plain);
	if (!pool || !plain)
		return;
	CHECK(vhost_pktbuf_pool_shared_area(plain, &fd, &base, &len) == -EINVAL);
	CHECK(vhost_pktbuf_pool_shared_area(pool, &fd, &base, &len) == 0);
	CHECK(fd >= 0 && base && len >= 100ull * (VHOST_PKTBUF_HEADROOM + 2048) &&
	      len % 4096 == 0);
	CHECK(ftruncate(fd, 4096) < 0 && errno == EPERM);
	CHECK(vhost_pktbuf_alloc_bulk(pool, m, 100) == 0);
	for (int i = 0; i < 100; i++) {
		uintptr_t b = (uintptr_t)m[i]->buf, a = (uintptr_t)base;
		uintptr_t h = (uintptr_t)m[i];

		CHECK(b >= a && b + m[i]->buf_len <= a + len);
		CHECK(h + sizeof(*m[i]) <= a || h >= a + len);
		memset(vhost_pktbuf_append(m[i], 2048), i, 2048);
	}
	vhost_pktbuf_free_bulk(m, 100);
	CHECK(vhost_pktbuf_pool_avail(pool) == 100);
	CHECK(vhost_pktbuf_pool_create_shared("s", 0, 2048, 0) == NULL &&
	      errno == EINVAL);
	vhost_pktbuf_pool_destroy(pool);
	vhost_pktbuf_pool_destroy(plain);
}

int main(int argc, char **argv)
{
	static const uint32_t caches[] = { 0, 1, 7, 32, 256 };

	test_create_args();
	test_basic();
	for (unsigned i = 0; i < sizeof(caches) / sizeof(caches[0]); i++) {
		test_exhaustion(caches[i]);
		test_threads(caches[i]);
	}
	test_destroy_busy();
	test_refcnt();
	test_refcnt_race();
	test_multiseg();
	test_producer_consumer();
	test_destroy_threads();
	test_shared();
	if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
		bench(0);
		bench(256);
	}
	if (failures)
		printf("test_pktbuf: %d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
