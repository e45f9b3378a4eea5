/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet buffer pools. The contract is in include/vhost/pktbuf.h.
 *
 * A pool is one allocation:
 *   [struct vhost_pktbuf_pool][free stack: count pointers][count elements]
 * An element is the 64-byte header followed by buf_len bytes, rounded up to
 * a cache line so that every header starts a line.
 *
 * Free buffers live either on the shared stack (under pool->lock) or in a
 * per-thread cache (a pthread key per pool; only the owning thread touches
 * it, except for pool_avail() reading its length and pool_destroy() freeing
 * it once the pool is idle). Every free buffer has refcnt 1, so alloc does
 * not touch the count and free of an unshared buffer needs no atomic RMW.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vhost/pktbuf.h>

#define CACHE_LINE 64
#define FREE_BATCH 64 /* segments gathered per pool before a put */

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

static_assert(sizeof(struct vhost_pktbuf) == CACHE_LINE,
	      "pktbuf header must be one cache line");
/* refcnt is a plain uint16_t in the public header (C++ includes it too) and
 * is accessed here as _Atomic uint16_t: that needs the same layout. */
static_assert(sizeof(_Atomic uint16_t) == sizeof(uint16_t) &&
	      _Alignof(_Atomic uint16_t) == _Alignof(uint16_t),
	      "_Atomic uint16_t must look like uint16_t");
static_assert(VHOST_PKTBUF_MAX_SEGS <= UINT16_MAX, "nb_segs is 16 bits");

struct pktbuf_cache {
	struct vhost_pktbuf_pool *pool;
	/* In pool->caches, under pool->lock. */
	struct pktbuf_cache *next, **pprev;
	/* Written by the owning thread only; atomic so pool_avail() may read
	 * it from another thread without a data race. */
	_Atomic uint32_t len;
	struct vhost_pktbuf *objs[]; /* pool->cache_size entries */
};

struct vhost_pktbuf_pool {
	/* Read-mostly, by every thread on every call. */
	uint32_t count;
	uint32_t cache_size;
	uint32_t refill;   /* what a cache holds after a refill or a flush */
	uint32_t elt_size;
	uint16_t data_room;
	uint16_t buf_len;
	bool has_key;      /* cache_size > 0 */
	pthread_key_t key;
	struct vhost_pktbuf **stack;
	char *elts;
	char name[32];
	/* Shared pools: every buffer's headroom + data room in one memfd
	 * (elts then holds the headers alone, which stay private: a peer that
	 * maps the area cannot touch buf, next or pool). -1 / NULL if not. */
	int memfd;
	void *area;
	size_t area_len;

	/* Written under lock: own cache line, so taking the lock does not
	 * evict the fields above from other cores. */
	_Alignas(CACHE_LINE) pthread_mutex_t lock;
	uint32_t len;      /* free buffers on stack */
	struct pktbuf_cache *caches;
};

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static inline _Atomic uint16_t *refcnt_of(const struct vhost_pktbuf *m)
{
	return (_Atomic uint16_t *)(uintptr_t)&m->refcnt;
}

/* --------------------------------------------------------- shared stack */

/* Push a[0..na) and b[0..nb) in one lock hold. */
static void stack_put(struct vhost_pktbuf_pool *pool,
		      struct vhost_pktbuf *const *a, uint32_t na,
		      struct vhost_pktbuf *const *b, uint32_t nb)
{
	uint32_t len;

	pthread_mutex_lock(&pool->lock);
	len = pool->len;
	/* More free buffers than exist: a double free. Writing on would
	 * run off the stack into the buffers, so stop here. */
	if (unlikely(na + nb > pool->count - len))
		abort();
	if (na)
		memcpy(&pool->stack[len], a, na * sizeof(*a));
	if (nb)
		memcpy(&pool->stack[len + na], b, nb * sizeof(*b));
	pool->len = len + na + nb;
	pthread_mutex_unlock(&pool->lock);
}

/* ------------------------------------------------------ per-thread cache */

/* Thread exit: hand the cache's buffers back and forget the cache. Not run
 * for pools already destroyed (pthread_key_delete). */
static void cache_destructor(void *arg)
{
	struct pktbuf_cache *c = arg;
	struct vhost_pktbuf_pool *pool = c->pool;
	uint32_t len = atomic_load_explicit(&c->len, memory_order_relaxed);

	stack_put(pool, c->objs, len, NULL, 0);
	pthread_mutex_lock(&pool->lock);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	pthread_mutex_unlock(&pool->lock);
	free(c);
}

/* First use of the pool by this thread. NULL (use the shared stack
 * directly) if memory or the key refuse. */
static struct pktbuf_cache *cache_create(struct vhost_pktbuf_pool *pool)
{
	size_t sz = align_up(sizeof(struct pktbuf_cache) +
			     pool->cache_size * sizeof(struct vhost_pktbuf *),
			     CACHE_LINE);
	struct pktbuf_cache *c;
	void *mem;

	/* Own cache lines: no false sharing with other threads' data. */
	if (posix_memalign(&mem, CACHE_LINE, sz))
		return NULL;
	c = mem;
	c->pool = pool;
	atomic_init(&c->len, 0);
	if (pthread_setspecific(pool->key, c)) {
		free(c);
		return NULL;
	}
	pthread_mutex_lock(&pool->lock);
	c->next = pool->caches;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &pool->caches;
	pool->caches = c;
	pthread_mutex_unlock(&pool->lock);
	return c;
}

static inline struct pktbuf_cache *cache_of(struct vhost_pktbuf_pool *pool)
{
	struct pktbuf_cache *c;

	if (!pool->has_key)
		return NULL;
	c = pthread_getspecific(pool->key);
	if (likely(c))
		return c;
	return cache_create(pool);
}

/* ------------------------------------------------------------ alloc/free */

static inline void pkt_reset(struct vhost_pktbuf *m)
{
	/* buf, buf_len and pool never change; refcnt is already 1. */
	m->next = NULL;
	m->pkt_len = m->ol_flags = 0;
	m->data_off = VHOST_PKTBUF_HEADROOM;
	m->data_len = m->queue = 0;
	m->nb_segs = 1;
	m->csum_start = m->csum_offset = m->gso_size = 0;
	m->gso_type = VHOST_GSO_NONE;
	m->userdata = 0;
}

/* Cache (if any) short of n: give the caller what the cache has plus
 * n - len from the stack, and refill the cache, all in one lock hold. The
 * refill leaves room for n to come back, so bursts of up to cache_size
 * allocated then freed settle in the cache instead of taking the lock
 * every time. */
static int refill_get(struct vhost_pktbuf_pool *pool, struct pktbuf_cache *c,
		      uint32_t len, struct vhost_pktbuf **pkts, uint32_t n)
{
	uint32_t need = n - len, want = c ? pool->refill : 0, plen, r, i;

	if (c && n > pool->cache_size - want)
		want = n < pool->cache_size ? pool->cache_size - n : 0;

	pthread_mutex_lock(&pool->lock);
	if (unlikely(pool->len < need)) {
		pthread_mutex_unlock(&pool->lock);
		return -ENOBUFS;
	}
	plen = pool->len - need;
	memcpy(&pkts[len], &pool->stack[plen], need * sizeof(*pkts));
	for (i = 0; i < len; i++)
		pkts[i] = c->objs[len - 1 - i];
	r = want < plen ? want : plen;
	plen -= r;
	if (r)
		memcpy(c->objs, &pool->stack[plen], r * sizeof(*pkts));
	pool->len = plen;
	pthread_mutex_unlock(&pool->lock);
	if (c)
		atomic_store_explicit(&c->len, r, memory_order_relaxed);
	return 0;
}

int vhost_pktbuf_alloc_bulk(struct vhost_pktbuf_pool *pool,
			    struct vhost_pktbuf **pkts, unsigned n)
{
	struct pktbuf_cache *c = cache_of(pool);
	uint32_t len, i;

	if (unlikely(n > pool->count))
		return -ENOBUFS;
	if (unlikely(n == 0))
		return 0;
	len = c ? atomic_load_explicit(&c->len, memory_order_relaxed) : 0;
	if (likely(c && n <= len)) {
		/* Most recently freed first: warmest in cache. */
		for (i = 0; i < n; i++)
			pkts[i] = c->objs[len - 1 - i];
		atomic_store_explicit(&c->len, len - n, memory_order_relaxed);
	} else if (refill_get(pool, c, len, pkts, n)) {
		return -ENOBUFS;
	}
	for (i = 0; i < n; i++)
		pkt_reset(pkts[i]);
	return 0;
}

struct vhost_pktbuf *vhost_pktbuf_alloc(struct vhost_pktbuf_pool *pool)
{
	struct vhost_pktbuf *m;

	return vhost_pktbuf_alloc_bulk(pool, &m, 1) ? NULL : m;
}

/* Return n segments (refcnt already dropped to "free") to pool. */
static void pool_put(struct vhost_pktbuf_pool *pool,
		     struct vhost_pktbuf *const *objs, uint32_t n)
{
	struct pktbuf_cache *c = cache_of(pool);
	uint32_t len, keep, f;

	if (unlikely(!c)) {
		stack_put(pool, objs, n, NULL, 0);
		return;
	}
	len = atomic_load_explicit(&c->len, memory_order_relaxed);
	if (likely(len + n <= pool->cache_size)) {
		memcpy(&c->objs[len], objs, n * sizeof(*objs));
		atomic_store_explicit(&c->len, len + n, memory_order_relaxed);
		return;
	}
	/* Full: flush so that the cache ends up holding `keep`: half of it,
	 * or this burst if larger, so the next alloc of as many is served
	 * from the cache. */
	keep = pool->refill;
	if (n > keep && n <= pool->cache_size)
		keep = n;
	if (n >= keep) {
		stack_put(pool, c->objs, len, objs + keep, n - keep);
		memcpy(c->objs, objs, keep * sizeof(*objs));
	} else {
		/* len + n > cache_size >= keep, so 0 < f <= len. */
		f = len + n - keep;
		len -= f;
		stack_put(pool, &c->objs[len], f, NULL, 0);
		memcpy(&c->objs[len], objs, n * sizeof(*objs));
	}
	atomic_store_explicit(&c->len, keep, memory_order_relaxed);
}

/* Drop one reference; true if the caller now owns the segment outright. */
static inline bool seg_release(struct vhost_pktbuf *m)
{
	_Atomic uint16_t *rc = refcnt_of(m);

	/* Sole owner: nobody else can change the count, so skip the RMW.
	 * Acquire pairs with the release of a holder that dropped 2 -> 1. */
	if (likely(atomic_load_explicit(rc, memory_order_acquire) == 1))
		return true;
	if (atomic_fetch_sub_explicit(rc, 1, memory_order_acq_rel) != 1)
		return false;
	/* Free buffers keep refcnt 1 (see top of file). */
	atomic_store_explicit(rc, 1, memory_order_relaxed);
	return true;
}

void vhost_pktbuf_free_bulk(struct vhost_pktbuf **pkts, unsigned n)
{
	struct vhost_pktbuf *batch[FREE_BATCH];
	struct vhost_pktbuf_pool *bpool = NULL;
	struct vhost_pktbuf *m, *next;
	uint32_t nb = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		for (m = pkts[i]; m; m = next) {
			/* Read before release: once released, another
			 * thread may reuse the segment. */
			next = m->next;
			if (!seg_release(m))
				continue;
			if (m->pool != bpool || nb == FREE_BATCH) {
				if (nb)
					pool_put(bpool, batch, nb);
				bpool = m->pool;
				nb = 0;
			}
			batch[nb++] = m;
		}
	}
	if (nb)
		pool_put(bpool, batch, nb);
}

void vhost_pktbuf_free(struct vhost_pktbuf *pkt)
{
	vhost_pktbuf_free_bulk(&pkt, 1);
}

void vhost_pktbuf_refcnt_update(struct vhost_pktbuf *pkt, int16_t v)
{
	/* Taking a reference needs no ordering; dropping one must publish
	 * this holder's accesses to whoever frees last (acquire there). */
	memory_order mo = v < 0 ? memory_order_release : memory_order_relaxed;

	for (; pkt; pkt = pkt->next)
		atomic_fetch_add_explicit(refcnt_of(pkt), (uint16_t)v, mo);
}

uint16_t vhost_pktbuf_refcnt_read(const struct vhost_pktbuf *pkt)
{
	return atomic_load_explicit(refcnt_of(pkt), memory_order_relaxed);
}

/* ------------------------------------------------------------------ pool */

/* The shared area of count buffers of buf_stride bytes: a memfd sealed
 * against shrinking and growing (a peer that truncates it cannot make us
 * fault), mapped shared. 0 or an errno. */
static int area_create(struct vhost_pktbuf_pool *pool, const char *name,
		       size_t size)
{
	int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, err;

	pool->area_len = align_up(size, 4096);
	pool->memfd = memfd_create(name && *name ? name : "pktbuf",
				   MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (pool->memfd < 0)
		return errno;
	if (ftruncate(pool->memfd, (off_t)pool->area_len) < 0 ||
	    fcntl(pool->memfd, F_ADD_SEALS, seals) < 0)
		goto fail;
	pool->area = mmap(NULL, pool->area_len, PROT_READ | PROT_WRITE,
			  MAP_SHARED, pool->memfd, 0);
	if (pool->area != MAP_FAILED)
		return 0;
	pool->area = NULL;
fail:
	err = errno;
	close(pool->memfd);
	pool->memfd = -1;
	return err;
}

static void area_destroy(struct vhost_pktbuf_pool *pool)
{
	if (pool->area)
		munmap(pool->area, pool->area_len);
	if (pool->memfd >= 0)
		close(pool->memfd);
}

static struct vhost_pktbuf_pool *pool_create(const char *name, uint32_t count,
					     uint16_t data_room,
					     uint32_t cache_size, bool shared)
{
	struct vhost_pktbuf_pool *pool;
	size_t hdr_sz, stack_sz, elt_size, buf_stride, total;
	uint32_t buf_len, i;
	void *mem;
	int err;

	/* A packet of VHOST_PKTBUF_MAX_PKT_LEN bytes must fit in
	 * VHOST_PKTBUF_MAX_SEGS buffers: else a guest's largest packet could
	 * never be taken, and a dequeue could neither take it nor drop it. */
	if (!count || data_room < VHOST_PKTBUF_DATA_ROOM_MIN ||
	    data_room > VHOST_PKTBUF_DATA_ROOM_MAX ||
	    cache_size > count || cache_size > VHOST_PKTBUF_CACHE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	buf_len = VHOST_PKTBUF_HEADROOM + data_room;
	buf_stride = align_up(buf_len, CACHE_LINE);
	elt_size = shared ? sizeof(struct vhost_pktbuf) :
			    align_up(sizeof(struct vhost_pktbuf) + buf_len,
				     CACHE_LINE);
	if (shared && SIZE_MAX / buf_stride < count) {
		errno = ENOMEM;
		return NULL;
	}
	hdr_sz = align_up(sizeof(*pool), CACHE_LINE);
	stack_sz = align_up((size_t)count * sizeof(void *), CACHE_LINE);
	if ((SIZE_MAX - hdr_sz - stack_sz) / elt_size < count) {
		errno = ENOMEM;
		return NULL;
	}
	total = hdr_sz + stack_sz + (size_t)count * elt_size;
	err = posix_memalign(&mem, CACHE_LINE, total);
	if (err) {
		errno = err;
		return NULL;
	}
	pool = mem;
	memset(pool, 0, sizeof(*pool));
	pool->count = count;
	pool->cache_size = cache_size;
	pool->refill = (cache_size + 1) >> 1;
	pool->elt_size = (uint32_t)elt_size;
	pool->data_room = data_room;
	pool->buf_len = (uint16_t)buf_len;
	pool->stack = (struct vhost_pktbuf **)((char *)mem + hdr_sz);
	pool->elts = (char *)mem + hdr_sz + stack_sz;
	snprintf(pool->name, sizeof(pool->name), "%s", name ? name : "");
	pool->memfd = -1;
	if (shared) {
		err = area_create(pool, name, (size_t)count * buf_stride);
		if (err)
			goto fail_mem;
	}
	err = pthread_mutex_init(&pool->lock, NULL);
	if (err)
		goto fail_area;
	if (cache_size) {
		err = pthread_key_create(&pool->key, cache_destructor);
		if (err)
			goto fail_mutex;
		pool->has_key = true;
	}

	/* Stack top = lowest address, so a fresh pool hands out buffers in
	 * address order. */
	for (i = 0; i < count; i++) {
		struct vhost_pktbuf *m =
			(struct vhost_pktbuf *)(pool->elts + (size_t)i * elt_size);

		memset(m, 0, sizeof(*m));
		m->buf = shared ? (char *)pool->area + (size_t)i * buf_stride :
				  (char *)m + sizeof(*m);
		m->buf_len = (uint16_t)buf_len;
		m->pool = pool;
		atomic_init(refcnt_of(m), 1);
		pool->stack[count - 1 - i] = m;
	}
	pool->len = count;
	return pool;

fail_mutex:
	pthread_mutex_destroy(&pool->lock);
fail_area:
	area_destroy(pool);
fail_mem:
	free(mem);
	errno = err;
	return NULL;
}

struct vhost_pktbuf_pool *vhost_pktbuf_pool_create(const char *name,
						   uint32_t count,
						   uint16_t data_room,
						   uint32_t cache_size)
{
	return pool_create(name, count, data_room, cache_size, false);
}

struct vhost_pktbuf_pool *vhost_pktbuf_pool_create_shared(const char *name,
							  uint32_t count,
							  uint16_t data_room,
							  uint32_t cache_size)
{
	return pool_create(name, count, data_room, cache_size, true);
}

int vhost_pktbuf_pool_shared_area(const struct vhost_pktbuf_pool *pool,
				  int *fd, void **base, uint64_t *len)
{
	if (!pool || pool->memfd < 0)
		return -EINVAL;
	*fd = pool->memfd;
	*base = pool->area;
	*len = pool->area_len;
	return 0;
}

unsigned vhost_pktbuf_pool_avail(const struct vhost_pktbuf_pool *cpool)
{
	/* The lock is the only mutable part: cast away const for it. */
	struct vhost_pktbuf_pool *pool = (struct vhost_pktbuf_pool *)cpool;
	struct pktbuf_cache *c;
	unsigned n;

	pthread_mutex_lock(&pool->lock);
	n = pool->len;
	for (c = pool->caches; c; c = c->next)
		n += atomic_load_explicit(&c->len, memory_order_relaxed);
	pthread_mutex_unlock(&pool->lock);
	return n;
}

uint32_t vhost_pktbuf_pool_count(const struct vhost_pktbuf_pool *pool)
{
	return pool->count;
}

uint16_t vhost_pktbuf_pool_data_room(const struct vhost_pktbuf_pool *pool)
{
	return pool->data_room;
}

void vhost_pktbuf_pool_destroy(struct vhost_pktbuf_pool *pool)
{
	struct pktbuf_cache *c, *next;

	if (!pool)
		return;
	if (vhost_pktbuf_pool_avail(pool) != pool->count) {
		errno = EBUSY;
		return;
	}
	/* Delete the key first: from here no thread exit runs our
	 * destructor, so the caches are ours to free. */
	if (pool->has_key)
		pthread_key_delete(pool->key);
	for (c = pool->caches; c; c = next) {
		next = c->next;
		free(c);
	}
	pthread_mutex_destroy(&pool->lock);
	area_destroy(pool);
	free(pool);
}

/* ---------------------------------------------------------- data changes */

void *vhost_pktbuf_append(struct vhost_pktbuf *pkt, uint16_t len)
{
	struct vhost_pktbuf *last = vhost_pktbuf_lastseg(pkt);
	char *p;

	if (len > vhost_pktbuf_tailroom(last))
		return NULL;
	p = (char *)last->buf + last->data_off + last->data_len;
	last->data_len = (uint16_t)(last->data_len + len);
	pkt->pkt_len += len;
	return p;
}

void *vhost_pktbuf_prepend(struct vhost_pktbuf *pkt, uint16_t len)
{
	if (len > pkt->data_off)
		return NULL;
	pkt->data_off = (uint16_t)(pkt->data_off - len);
	pkt->data_len = (uint16_t)(pkt->data_len + len);
	pkt->pkt_len += len;
	return vhost_pktbuf_data(pkt);
}

void *vhost_pktbuf_adj(struct vhost_pktbuf *pkt, uint16_t len)
{
	if (len > pkt->data_len)
		return NULL;
	pkt->data_off = (uint16_t)(pkt->data_off + len);
	pkt->data_len = (uint16_t)(pkt->data_len - len);
	pkt->pkt_len -= len;
	return vhost_pktbuf_data(pkt);
}

int vhost_pktbuf_trim(struct vhost_pktbuf *pkt, uint16_t len)
{
	struct vhost_pktbuf *last = vhost_pktbuf_lastseg(pkt);

	if (len > last->data_len)
		return -EINVAL;
	last->data_len = (uint16_t)(last->data_len - len);
	pkt->pkt_len -= len;
	return 0;
}

int vhost_pktbuf_chain(struct vhost_pktbuf *head, struct vhost_pktbuf *tail)
{
	if ((uint64_t)head->pkt_len + tail->pkt_len > VHOST_PKTBUF_MAX_PKT_LEN ||
	    (uint32_t)head->nb_segs + tail->nb_segs > VHOST_PKTBUF_MAX_SEGS)
		return -EOVERFLOW;
	vhost_pktbuf_lastseg(head)->next = tail;
	head->pkt_len += tail->pkt_len;
	head->nb_segs = (uint16_t)(head->nb_segs + tail->nb_segs);
	/* tail is an inner segment now: its head-only fields go stale. */
	tail->pkt_len = tail->data_len;
	tail->nb_segs = 1;
	return 0;
}

int vhost_pktbuf_append_data(struct vhost_pktbuf *head, const void *data,
			     uint32_t len)
{
	struct vhost_pktbuf *segs[VHOST_PKTBUF_MAX_SEGS];
	struct vhost_pktbuf *last = vhost_pktbuf_lastseg(head);
	uint32_t room = vhost_pktbuf_tailroom(last);
	uint32_t seg_room = head->pool->data_room;
	uint32_t nseg = 0, n, i;
	const char *src = data;

	if (len == 0)
		return 0;
	if ((uint64_t)head->pkt_len + len > VHOST_PKTBUF_MAX_PKT_LEN)
		return -EOVERFLOW;
	if (len > room) {
		/* One division per call, not per buffer: this is not the
		 * alloc/free fast path. */
		nseg = (len - room + seg_room - 1) / seg_room;
		if (head->nb_segs + nseg > VHOST_PKTBUF_MAX_SEGS)
			return -EOVERFLOW;
		/* Take every segment first so failure leaves no trace. */
		if (vhost_pktbuf_alloc_bulk(head->pool, segs, nseg))
			return -ENOBUFS;
	}
	n = len < room ? len : room;
	if (n)
		memcpy(vhost_pktbuf_append(head, (uint16_t)n), src, n);
	src += n;
	len -= n;
	for (i = 0; i < nseg; i++) {
		n = len < seg_room ? len : seg_room;
		memcpy(vhost_pktbuf_data(segs[i]), src, n);
		segs[i]->data_len = (uint16_t)n;
		last->next = segs[i];
		last = segs[i];
		head->pkt_len += n;
		src += n;
		len -= n;
	}
	head->nb_segs = (uint16_t)(head->nb_segs + nseg);
	return 0;
}

uint32_t vhost_pktbuf_read(const struct vhost_pktbuf *pkt, uint32_t off,
			   uint32_t len, void *dst)
{
	char *d = dst;
	uint32_t done = 0, n;

	for (; pkt && done < len; pkt = pkt->next) {
		if (off >= pkt->data_len) {
			off -= pkt->data_len;
			continue;
		}
		n = pkt->data_len - off;
		if (n > len - done)
			n = len - done;
		memcpy(d + done, (const char *)pkt->buf + pkt->data_off + off,
		       n);
		done += n;
		off = 0;
	}
	return done;
}
