/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet buffers ("pktbuf"): a small rte_mbuf + rte_mempool.
 *
 * Pool
 * ----
 * A pool is one allocation holding `count` fixed-size buffers. Each buffer
 * is a 64-byte header (struct vhost_pktbuf) followed by its data area:
 * VHOST_PKTBUF_HEADROOM bytes of headroom, then data_room bytes. Allocation
 * and free never call malloc and never take a lock on the common path:
 * every thread that uses a pool gets a private cache of free buffers
 * (created the first time the thread touches the pool, flushed back when the
 * thread exits). The shared part of the pool is only locked when a cache
 * runs empty or full, and then about cache_size/2 buffers move at once.
 * Bursts of up to cache_size buffers that are allocated and later freed on
 * the same thread settle in its cache; pick cache_size >= the burst size
 * (256 suits bursts of 32).
 *
 * Because caches hold buffers, a thread may see the pool empty while other
 * threads' caches still hold up to cache_size buffers each. Size the pool
 * for count >= needed + threads * cache_size.
 *
 * Debugging: a double free of an unshared buffer is not detected unless it
 * overflows the pool (then the library calls abort()).
 *
 * Threads
 * -------
 * - vhost_pktbuf_alloc*, vhost_pktbuf_free* and vhost_pktbuf_refcnt_update
 *   are thread-safe: any thread may call them on any pool at any time
 *   between create and destroy. Not async-signal-safe.
 * - A buffer may be freed by a thread other than the one that allocated it.
 * - The functions that change a packet (append, prepend, adj, trim, chain,
 *   append_data) and those that read it are not synchronised: the caller
 *   must own the packet (or all its holders must only read it).
 * - vhost_pktbuf_pool_create/destroy must not run concurrently with any
 *   other use of that pool.
 *
 * Ownership
 * ---------
 * A buffer returned by alloc belongs to the caller, with refcnt 1. Each
 * vhost_pktbuf_free() drops one reference on every segment of the chain;
 * a segment goes back to ITS OWN pool when its count reaches 0. To share a
 * packet, vhost_pktbuf_refcnt_update(pkt, +1) and free it once per holder.
 * Shared packets are read-only by convention.
 */
#ifndef VHOST_PKTBUF_H
#define VHOST_PKTBUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VHOST_PKTBUF_HEADROOM   128
/* Largest packet (sum of segments): Linux's GSO_MAX_SIZE. */
#define VHOST_PKTBUF_MAX_PKT_LEN 65536u
/* Most segments in one packet. */
#define VHOST_PKTBUF_MAX_SEGS   256u
/* Largest per-thread cache. */
#define VHOST_PKTBUF_CACHE_MAX  1024u
/* Largest data_room: buf_len (headroom + data_room) must fit 16 bits. */
#define VHOST_PKTBUF_DATA_ROOM_MAX (UINT16_MAX - VHOST_PKTBUF_HEADROOM)
/* Smallest data_room: the largest packet must fit in the most segments. */
#define VHOST_PKTBUF_DATA_ROOM_MIN \
	((VHOST_PKTBUF_MAX_PKT_LEN + VHOST_PKTBUF_MAX_SEGS - 1) / VHOST_PKTBUF_MAX_SEGS)

/* ol_flags */
#define VHOST_PKT_F_CSUM_PARTIAL (1u << 0) /* L4 checksum not computed: fill it in at csum_start + csum_offset (virtio NEEDS_CSUM) */
#define VHOST_PKT_F_CSUM_VALID   (1u << 1) /* checksum already verified (virtio DATA_VALID) */
#define VHOST_PKT_F_GSO          (1u << 2) /* gso_type/gso_size valid: a large segment to be split */
#define VHOST_PKT_F_GSO_ECN      (1u << 3)

enum vhost_gso_type {
	VHOST_GSO_NONE = 0,
	VHOST_GSO_TCPV4 = 1,
	VHOST_GSO_TCPV6 = 2,
	VHOST_GSO_UDP = 3,
	VHOST_GSO_UDP_L4 = 4,
};

struct vhost_pktbuf_pool;

#ifdef __cplusplus
#define VHOST_PKTBUF_ALIGNAS_(n) alignas(n)
#else
#define VHOST_PKTBUF_ALIGNAS_(n) _Alignas(n)
#endif

/*
 * One segment. Exactly one 64-byte cache line. Fields marked (head) are
 * meaningful on the first segment only.
 */
struct vhost_pktbuf {
	VHOST_PKTBUF_ALIGNAS_(64)
	void *buf;                   /* headroom + data room; fixed */
	struct vhost_pktbuf *next;   /* next segment, NULL on the last */
	uint32_t pkt_len;            /* (head) whole packet */
	uint16_t data_off;           /* data starts at (char *)buf + data_off */
	uint16_t data_len;           /* bytes in this segment */
	uint16_t buf_len;            /* size of buf; fixed */
	uint16_t nb_segs;            /* (head) */
	uint16_t refcnt;             /* never access directly: see below */
	uint16_t queue;              /* (head) queue the packet came from / goes to */
	uint32_t ol_flags;           /* (head) VHOST_PKT_F_* */
	uint16_t csum_start, csum_offset; /* (head) from the packet start */
	uint16_t gso_size;           /* (head) */
	uint8_t gso_type;            /* (head) enum vhost_gso_type */
	struct vhost_pktbuf_pool *pool; /* owner; fixed */
	uint64_t userdata;           /* free for the application; 0 after alloc */
};

/* ------------------------------------------------------------------ pool */

/*
 * Create a pool of count buffers, each with data_room bytes after the
 * headroom, and per-thread caches of up to cache_size buffers (0: no cache;
 * every alloc/free then takes the pool's mutex). name is copied (truncated
 * to 31 chars) and may be NULL.
 * Returns NULL with errno set: EINVAL (count 0, data_room below
 * VHOST_PKTBUF_DATA_ROOM_MIN (256: a VHOST_PKTBUF_MAX_PKT_LEN packet must fit
 * in VHOST_PKTBUF_MAX_SEGS buffers) or above
 * VHOST_PKTBUF_DATA_ROOM_MAX, cache_size above count or
 * VHOST_PKTBUF_CACHE_MAX), ENOMEM, EAGAIN (out of pthread keys: each pool
 * with a cache uses one key).
 * The caller owns the pool and must destroy it.
 */
struct vhost_pktbuf_pool *vhost_pktbuf_pool_create(const char *name,
						   uint32_t count,
						   uint16_t data_room,
						   uint32_t cache_size);

/*
 * The same, with every buffer's headroom + data room in one memfd mapped
 * shared (sealed against shrinking and growing), so that a peer process can
 * map it: a virtio-user front-end (vhost/virtio_user.h) lists such pools in
 * its parameters and then posts their buffers to the back-end by reference
 * instead of copying. The buffer headers (struct vhost_pktbuf) stay in
 * private memory. Extra errno values: those of memfd_create, ftruncate and
 * mmap.
 */
struct vhost_pktbuf_pool *vhost_pktbuf_pool_create_shared(const char *name,
							  uint32_t count,
							  uint16_t data_room,
							  uint32_t cache_size);

/* A shared pool's buffer area: the memfd (owned by the pool: dup it to keep
 * it), where it is mapped here and its length in bytes (a multiple of the
 * page size). 0, or -EINVAL for a pool not created shared. */
int vhost_pktbuf_pool_shared_area(const struct vhost_pktbuf_pool *pool,
				  int *fd, void **base, uint64_t *len);

/*
 * Free the pool, its caches and its buffers. NULL is ok.
 * Preconditions (not checkable cheaply, so not checked beyond the count):
 * - every buffer has been freed (caches count as freed);
 * - no thread uses the pool any more, and none is exiting at this moment.
 *   Threads that used it may have exited already, or may still be alive as
 *   long as they never touch the pool again: their caches are freed here.
 * If buffers are still out, the pool is left untouched (it leaks, so late
 * frees stay harmless and leak checkers point at it) and errno is EBUSY.
 */
void vhost_pktbuf_pool_destroy(struct vhost_pktbuf_pool *pool);

/* Free buffers, including those sitting in caches. Thread-safe; approximate
 * while other threads allocate or free. Takes the pool's mutex. */
unsigned vhost_pktbuf_pool_avail(const struct vhost_pktbuf_pool *pool);
/* Number of buffers the pool was created with. */
uint32_t vhost_pktbuf_pool_count(const struct vhost_pktbuf_pool *pool);
/* data_room given at creation: the most one fresh segment can append. */
uint16_t vhost_pktbuf_pool_data_room(const struct vhost_pktbuf_pool *pool);

/* ---------------------------------------------------------- alloc / free */

/*
 * One fresh buffer owned by the caller: data_off = VHOST_PKTBUF_HEADROOM,
 * data_len = pkt_len = 0, nb_segs 1, refcnt 1, ol_flags/offload fields 0,
 * queue 0, userdata 0, next NULL. NULL (errno not set) when the pool, as
 * seen from this thread, is empty.
 */
struct vhost_pktbuf *vhost_pktbuf_alloc(struct vhost_pktbuf_pool *pool);

/* n fresh buffers into pkts[0..n). All or nothing: 0, or -ENOBUFS with
 * pkts untouched and nothing taken. */
int vhost_pktbuf_alloc_bulk(struct vhost_pktbuf_pool *pool,
			    struct vhost_pktbuf **pkts, unsigned n);

/* Drop one reference on every segment of the chain; each segment whose
 * count reaches 0 returns to its own pool. NULL is ok. The caller must not
 * use pkt afterwards. */
void vhost_pktbuf_free(struct vhost_pktbuf *pkt);
/* vhost_pktbuf_free() on each of pkts[0..n); NULL entries are skipped. */
void vhost_pktbuf_free_bulk(struct vhost_pktbuf **pkts, unsigned n);

/*
 * refcnt is a plain uint16_t so that C++ can include this header, but the
 * library updates it atomically: read it with vhost_pktbuf_refcnt_read()
 * and never store to it.
 *
 * Add v to the refcnt of every segment (atomic). v may be negative but must
 * not bring a count to 0: use free for that. Thread-safe.
 */
void vhost_pktbuf_refcnt_update(struct vhost_pktbuf *pkt, int16_t v);
/* Current refcnt of one segment (atomic load). */
uint16_t vhost_pktbuf_refcnt_read(const struct vhost_pktbuf *pkt);

/* ------------------------------------------------------- data accessors */

static inline void *vhost_pktbuf_data(const struct vhost_pktbuf *p)
{
	return (char *)p->buf + p->data_off;
}

/* Bytes free after the data of this segment. */
static inline uint16_t vhost_pktbuf_tailroom(const struct vhost_pktbuf *p)
{
	return (uint16_t)(p->buf_len - p->data_off - p->data_len);
}

/* Bytes free before the data of this segment. */
static inline uint16_t vhost_pktbuf_headroom(const struct vhost_pktbuf *p)
{
	return p->data_off;
}

static inline struct vhost_pktbuf *vhost_pktbuf_lastseg(struct vhost_pktbuf *p)
{
	while (p->next)
		p = p->next;
	return p;
}

/* The packet is in one piece: its data is vhost_pktbuf_data(p). */
static inline int vhost_pktbuf_is_contiguous(const struct vhost_pktbuf *p)
{
	return p->next == NULL;
}

/* --------------------------------------------------------- data changes */
/* All these need the caller to own the packet; pkt is the head. */

/* Grow the last segment by len bytes; returns where to write them, or NULL
 * (packet unchanged) if the last segment lacks the room. */
void *vhost_pktbuf_append(struct vhost_pktbuf *pkt, uint16_t len);

/* Grow the first segment into its headroom; returns the new data start, or
 * NULL (unchanged) if the headroom is too small. */
void *vhost_pktbuf_prepend(struct vhost_pktbuf *pkt, uint16_t len);

/* Drop len bytes from the front of the first segment; returns the new data
 * start, or NULL (unchanged) if that segment holds fewer than len bytes. */
void *vhost_pktbuf_adj(struct vhost_pktbuf *pkt, uint16_t len);

/* Drop len bytes from the end of the last segment; 0, or -EINVAL
 * (unchanged) if that segment holds fewer than len bytes. */
int vhost_pktbuf_trim(struct vhost_pktbuf *pkt, uint16_t len);

/*
 * Append the chain tail to the packet head. On success head owns tail (free
 * only head); on -EOVERFLOW (total above VHOST_PKTBUF_MAX_PKT_LEN bytes or
 * VHOST_PKTBUF_MAX_SEGS segments) nothing changes and the caller still owns
 * tail.
 */
int vhost_pktbuf_chain(struct vhost_pktbuf *head, struct vhost_pktbuf *tail);

/*
 * Copy len bytes to the end of the packet, filling the last segment's
 * tailroom, then new segments taken from head->pool (each keeps the usual
 * headroom, so holds data_room bytes). Returns 0, -ENOBUFS
 * (pool empty) or -EOVERFLOW (limits above); on failure the packet is
 * unchanged and nothing is taken from the pool.
 */
int vhost_pktbuf_append_data(struct vhost_pktbuf *head, const void *data,
			     uint32_t len);

/* Copy up to len bytes starting at packet offset off into dst, across
 * segments. Returns the bytes copied (less than len near the end). */
uint32_t vhost_pktbuf_read(const struct vhost_pktbuf *pkt, uint32_t off,
			   uint32_t len, void *dst);

#ifdef __cplusplus
}
#endif

#endif /* VHOST_PKTBUF_H */
