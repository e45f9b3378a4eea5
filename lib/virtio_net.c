/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-net data path: enqueue (host -> guest, RX queues) and dequeue
 * (guest -> host, TX queues), the virtio-net header (virtio 1.1, 5.1.6),
 * mergeable buffers, offloads, dirty logging, notifications and
 * statistics, written once over the ring interface (vring.h) and
 * instantiated for split and packed rings.
 *
 * Per burst: one trylock, one read of avail->idx (split) or one acquire
 * read of each head's flags (packed), one release publication of the used
 * entries, at most one eventfd write. Per packet: no lock, no syscall, no
 * allocation beyond packet buffers from the pool's per-thread cache, no
 * division. Bad chains are returned to the guest with length 0, counted,
 * and logged at a rate limit; the queue keeps working.
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "announce.h"
#include "log.h"
#include "net_hdr.h"
#include "ring_error.h"
#include "virtio_net_batch.h"
#include "vring.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtio-net headers are little-endian; big-endian hosts need conversions"
#endif

#define MAX_PKT_LEN VHOST_PKTBUF_MAX_PKT_LEN

/* ------------------------------------------------------------ helpers */

static inline struct vhost_vring *data_vring(struct vhost_dev *dev,
					     uint16_t queue, bool rx)
{
	/* RX queues (enqueue) are even, TX queues (dequeue) odd. */
	if (!dev || queue >= dev->max_vrings || (queue & 1) == rx)
		return NULL;
	return &dev->vrings[queue];
}

/* Chains one burst consumes without progress at most (bad chains, and
 * receive buffers that hold no byte of the packet): a guest that posts
 * nothing but junk costs a bounded amount of work per burst. */
#define BAD_CHAINS_PER_BURST 64

/* Descriptors one packet may span over all its mergeable buffers (Linux
 * vhost-net's UIO_MAXIOV): 64 bytes a descriptor on average for the largest
 * packet. Past it the packet is dropped as too big for this guest's
 * buffers: without it, buffers of one byte (or chains sharing a long tail
 * of empty descriptors) make every burst walk the whole ring for a packet
 * that is then not placed. */
#define MRG_MAX_DESCS 1024

static void count_bad_chain(struct vhost_vring *vq, struct burst_stats *b,
			    enum chain_status st, uint16_t head)
{
	enum vhost_drop_reason r = st == CHAIN_BAD_ADDR ? VHOST_DROP_BAD_ADDR :
				   st == CHAIN_TOO_BIG ? VHOST_DROP_TOO_BIG :
				   VHOST_DROP_BAD_DESC;

	b->drops[r]++;
	LOG_RATELIMIT(VHOST_LOG_WARNING,
		      "%s: vring %u: bad descriptor chain at head %u (%s)",
		      vhost_dev_path(vq->dev), vq->index,
		      head, r == VHOST_DROP_BAD_ADDR ? "address" :
		      r == VHOST_DROP_TOO_BIG ? "too long" : "descriptor");
}

/* The guest broke the ring: it moved avail->idx by more than the ring
 * size, or made available a head that is not a descriptor. Nothing it did
 * not post may go to the used ring, so the ring stops (Linux vhost does
 * the same) until the front-end sets it up again; the front-end and the
 * application are told by the event thread (ring_error.c). */
static void mark_broken(struct vhost_vring *vq, const char *what)
{
	STAT_ADD(vq->stats.drops[VHOST_DROP_BAD_DESC], 1);
	LOG_RATELIMIT(VHOST_LOG_ERR, "%s: vring %u: %s; ring stopped",
		      vhost_dev_path(vq->dev), vq->index, what);
	ring_error_mark_broken(vq);
}

static inline bool ring_usable(struct vhost_vring *vq)
{
	/* Under the lock, which orders it with every writer. */
	return atomic_load_explicit(&vq->access_ok, memory_order_relaxed);
}

/* Sequential writer over a chain's pieces; callers check capacity. */
struct chain_writer {
	struct chain *c;
	uint16_t i;
	uint32_t off;
};

static inline void cw_write(struct chain_writer *w, const uint8_t *src,
			    uint32_t len)
{
	while (len) {
		struct buf_vec *v = &w->c->vec[w->i];
		uint32_t n = v->len - w->off;

		if (n > len)
			n = len;
		memcpy(v->addr + w->off, src, n);
		src += n;
		len -= n;
		w->off += n;
		if (w->off == v->len) {
			w->i++;
			w->off = 0;
		}
	}
}

/* Sequential reader over a chain's pieces; callers check length. */
static inline void cr_read(struct chain_writer *r, uint8_t *dst, uint32_t len)
{
	while (len) {
		const struct buf_vec *v = &r->c->vec[r->i];
		uint32_t n = v->len - r->off;

		if (n > len)
			n = len;
		memcpy(dst, v->addr + r->off, n);
		dst += n;
		len -= n;
		r->off += n;
		if (r->off == v->len) {
			r->i++;
			r->off = 0;
		}
	}
}

/* Position in a multi-segment packet. */
struct pkt_cursor {
	const struct vhost_pktbuf *seg;
	uint32_t off;   /* in seg */
	uint32_t pos;   /* in the packet */
};

/* Copy len packet bytes from pc into the chain at w. */
static void copy_pkt_out(struct chain_writer *w, struct pkt_cursor *pc,
			 uint32_t len, const struct csum_fix *fix)
{
	while (len) {
		const struct vhost_pktbuf *s = pc->seg;
		uint32_t n = s->data_len - pc->off;
		struct buf_vec *v;

		if (n == 0) {
			pc->seg = s->next;
			pc->off = 0;
			continue;
		}
		v = &w->c->vec[w->i];
		if (n > v->len - w->off)
			n = v->len - w->off;
		if (n > len)
			n = len;
		memcpy(v->addr + w->off,
		       (const uint8_t *)vhost_pktbuf_data(s) + pc->off, n);
		if (fix->on) {
			for (uint32_t k = 0; k < 2; k++)
				if (fix->at + k >= pc->pos &&
				    fix->at + k < pc->pos + n)
					v->addr[w->off + fix->at + k - pc->pos] =
						fix->val[k];
		}
		pc->off += n;
		pc->pos += n;
		w->off += n;
		len -= n;
		if (w->off == v->len) {
			w->i++;
			w->off = 0;
		}
	}
}

/* ------------------------------------------------------- fast paths */

/* Do the len (10 or 12) bytes at p hold header h? Two loads each side,
 * the second overlapping the first: no call. */
static inline bool hdr_same(const uint8_t *p,
			    const struct virtio_net_hdr_mrg_rxbuf *h, uint32_t len)
{
	uint64_t a, b;
	uint32_t c, d;

	memcpy(&a, p, sizeof(a));
	memcpy(&b, h, sizeof(b));
	memcpy(&c, p + len - sizeof(c), sizeof(c));
	memcpy(&d, (const uint8_t *)h + len - sizeof(d), sizeof(d));
	return a == b && c == d;
}

/*
 * The common layout gets a short path: one descriptor (no chain, no
 * indirect table) in one region, a one-segment packet, no offloads. Each
 * returns false when the case is anything else, having changed nothing the
 * guest can see: the general path then walks the same head from scratch
 * (reading the descriptor again, so nothing read here is trusted there).
 */
/* The fast path's write of a one-segment packet without offloads into
 * the buffer at p (room checked by the caller). num_buffers is 1 with or
 * without MRG_RXBUF (5.1.6.4). A buffer that holds this header already
 * (the guest read it there last time round and left it) is not written
 * again: the store would take the line back from the guest's cache. What
 * is read only decides whether to write; the guest gets this header
 * either way. */
static inline __attribute__((always_inline)) void
fast_put(uint8_t *p, const struct vhost_pktbuf *pkt, uint32_t hdr_len)
{
	static const struct virtio_net_hdr_mrg_rxbuf plain = { .num_buffers = 1 };

	if (!hdr_same(p, &plain, hdr_len))
		memcpy(p, &plain, hdr_len);
	memcpy(p + hdr_len, vhost_pktbuf_data(pkt), pkt->pkt_len);
}

static inline __attribute__((always_inline)) bool
enqueue_fast(struct vhost_vring *vq, const bool packed,
	     const struct ring_head *h, const struct vhost_pktbuf *pkt,
	     uint32_t *used_len, uint16_t *id, const bool logging)
{
	uint32_t need = vq->hdr_len + pkt->pkt_len, len;
	uint64_t addr;
	uint8_t *p;

	if (pkt->next || pkt->ol_flags)
		return false;
	if (!ring_single(vq, packed, h, VRING_DESC_F_WRITE, &addr, &len, id) ||
	    len < need)
		return false;
	p = mem_gpa_range_hint(vq->mem, addr, need, &vq->mem_hint);
	if (!p)
		return false;
	fast_put(p, pkt, vq->hdr_len);
	if (logging)
		vring_log_gpa(vq, addr, need);
	*used_len = need;
	return true;
}

/* The hinted memory region in locals: while a fast run's buffers stay in
 * it, a translation is one subtraction and two compares (as
 * mem_gpa_range_hint's first test), with no load from the table. */
struct run_region {
	uint64_t base, size, hva;
};

static inline struct run_region run_region_load(const struct mem_table *mt,
						uint32_t hint)
{
	struct run_region rr = { 0, 0, 0 };

	if (hint < mt->nregions) {
		rr.base = mt->regions[hint].gpa;
		rr.size = mt->regions[hint].size;
		rr.hva = mt->regions[hint].hva;
	}
	return rr;
}

/* [addr, addr + len) whole in one region, or NULL; another region
 * becomes the hint (and rr). */
static inline uint8_t *run_region_map(struct vhost_vring *vq,
				      struct run_region *rr, uint64_t addr,
				      uint64_t len)
{
	uint64_t off = addr - rr->base; /* wraps past size when addr < base */
	uint8_t *p;

	if (off < rr->size && len <= rr->size - off)
		return (uint8_t *)(uintptr_t)(rr->hva + off);
	p = mem_gpa_range_hint(vq->mem, addr, len, &vq->mem_hint);
	if (p)
		*rr = run_region_load(vq->mem, vq->mem_hint);
	return p;
}

/*
 * Split ring, no dirty log: enqueue_fast over consecutive packets, with
 * the ring's state and the hinted memory region in locals (the general
 * loops around it keep too much live to hold them in registers, and each
 * spill is one more store queued behind the guest's lines). Stops at the
 * first packet the fast path does not take; the head it read there goes
 * to the general loop in *pend (*pending set: each avail entry is read
 * once). Returns the packets placed: cur, the used entries from used on,
 * and b moved past them.
 */
static __attribute__((noinline)) uint16_t
enqueue_split_run(struct vhost_vring *vq, struct ring_cur *cur,
		  struct vhost_pktbuf *const *pkts, uint16_t n, uint16_t used,
		  struct burst_stats *b, struct ring_head *pend, bool *pending)
{
	const struct vring_desc *desc = vq->desc;
	const uint16_t *avail = vq->avail->ring;
	struct vring_used_elem *ue = vq->used->ring;
	const struct mem_table *mt = vq->mem;
	uint16_t mask = vq->mask, size = vq->size, hdr_len = vq->hdr_len;
	uint16_t idx = cur->idx, uidx = (uint16_t)(vq->last_used_idx + used);
	uint16_t i, m = n < cur->left ? n : cur->left;
	struct run_region rr = run_region_load(mt, vq->mem_hint);
	uint64_t bytes = 0;

	pend->flags = 0;
	for (i = 0; i < m; i++, idx++, uidx++) {
		const struct vhost_pktbuf *pkt = pkts[i];
		uint16_t head = GUEST_READ(avail[idx & mask]);
		uint32_t need = hdr_len + pkt->pkt_len, len;
		const struct vring_desc *d;
		uint64_t addr;
		uint8_t *p;

		pend->head = head;
		if (head >= size || pkt->next || pkt->ol_flags)
			break;
		d = &desc[head];
		if (GUEST_READ(d->flags) != VRING_DESC_F_WRITE)
			break;
		len = GUEST_READ(d->len);
		addr = GUEST_READ(d->addr);
		if (len < need)
			break;
		p = run_region_map(vq, &rr, addr, need);
		if (!p)
			break;
		fast_put(p, pkt, hdr_len);
		ue[uidx & mask].id = head;
		ue[uidx & mask].len = need;
		bytes += pkt->pkt_len;
		b->buckets[size_bucket(pkt->pkt_len)]++;
	}
	*pending = i < m;
	cur->idx = idx;
	cur->left = (uint16_t)(cur->left - i);
	b->packets += i;
	b->bytes += bytes;
	return i;
}

/* The next head of an enqueue loop: the one enqueue_split_run stopped at
 * (split without dirty log: the run takes every packet the fast path
 * would, so *ran says to skip it), else a fresh peek. */
static inline __attribute__((always_inline)) enum ring_peek
enqueue_next_head(struct vhost_vring *vq, const bool packed,
		  const bool logging, struct ring_cur *cur,
		  struct vhost_pktbuf *const *pkts, uint16_t n, uint16_t *i,
		  uint16_t *used, struct burst_stats *b, struct ring_head *h,
		  bool *ran)
{
	*ran = false;
	if (!packed && !logging) {
		bool pending;
		uint16_t k = enqueue_split_run(vq, cur, pkts + *i,
					       (uint16_t)(n - *i), *used, b,
					       h, &pending);

		*i = (uint16_t)(*i + k);
		*used = (uint16_t)(*used + k);
		*ran = true;
		if (pending)
			return h->head < vq->size ? RING_HEAD : RING_BROKEN;
		if (*i == n)
			return RING_EMPTY; /* the caller's loop ends */
	}
	return ring_peek(vq, packed, cur, h);
}

/* The fast path's read of the buffer at p (len bytes, header included,
 * len - hdr_len fitting pkt's tailroom: checked by the caller) into pkt.
 * false: a bad header; pkt's metadata may have been written. */
static inline __attribute__((always_inline)) bool
fast_take(const struct vhost_vring *vq, uint32_t hdr_len, const uint8_t *p,
	  uint32_t len, struct vhost_pktbuf *pkt)
{
	struct virtio_net_hdr_mrg_rxbuf h;

	/* The header is read once, into our memory, then checked. */
	memcpy(&h, p, sizeof(h.hdr));
	if (h.hdr.flags || h.hdr.gso_type) {
		if (!net_hdr_to_pkt(vq->features, &h, len - hdr_len, pkt))
			return false;
	} else {
		pkt->ol_flags = 0;
	}
	memcpy(vhost_pktbuf_data(pkt), p + hdr_len, len - hdr_len);
	pkt->data_len = (uint16_t)(len - hdr_len);
	pkt->pkt_len = len - hdr_len;
	return true;
}

static inline __attribute__((always_inline)) bool
dequeue_fast(struct vhost_vring *vq, const bool packed,
	     const struct ring_head *rh, struct vhost_pktbuf *pkt, uint16_t *id)
{
	uint32_t hdr_len = vq->hdr_len, len;
	uint64_t addr;
	const uint8_t *p;

	if (!ring_single(vq, packed, rh, 0, &addr, &len, id) ||
	    len <= hdr_len || len - hdr_len > vhost_pktbuf_tailroom(pkt))
		return false;
	p = mem_gpa_range_hint(vq->mem, addr, len, &vq->mem_hint);
	return p && fast_take(vq, hdr_len, p, len, pkt);
}

/* ------------------------------------------------------------- enqueue */

/*
 * The enqueue bodies are written once and instantiated per ring format
 * (constant `packed`) and with and without dirty logging (constant
 * `logging`: while no migration runs, no dirty-log code is in the loop).
 * The choice is one branch per burst (vhost_enqueue_burst_status).
 * cur: the ring cursor, moved past what was consumed; *used_out: used
 * entries written (ring_used_add), published by the caller.
 */
#define ENQUEUE_ARGS                                                         \
	struct vhost_vring *vq, struct ring_cur *cur_io,                     \
	struct vhost_pktbuf *const *pkts, uint16_t n, struct burst_stats *b, \
	uint16_t *used_out, enum vhost_enqueue_status *why
#define ENQUEUE_PASS vq, cur_io, pkts, n, b, used_out, why

/* Without MRG_RXBUF: one chain per packet. Returns packets placed. */
static inline __attribute__((always_inline)) uint16_t
enqueue_simple(ENQUEUE_ARGS, const bool packed, const bool logging)
{
	/* The cursor in registers (not behind a pointer guest writes may
	 * alias); written back at the end. */
	struct ring_cur cur_l = *cur_io, *cur = &cur_l;
	struct chain c;
	uint16_t used = 0, i = 0;
	uint16_t hdr_len = vq->hdr_len;
	bool dry = false;

	while (i < n) {
		const struct vhost_pktbuf *pkt;
		uint32_t need;
		uint32_t used_len;
		uint16_t id;
		struct virtio_net_hdr_mrg_rxbuf h;
		struct csum_fix fix;
		struct chain_writer w = { .c = &c };
		struct pkt_cursor pc;
		struct ring_head rh;
		bool ran;
		enum ring_peek pk = enqueue_next_head(vq, packed, logging, cur,
						      pkts, n, &i, &used, b,
						      &rh, &ran);
		enum chain_status st;

		if (i == n)
			break;
		pkt = pkts[i];
		need = hdr_len + pkt->pkt_len;
		pc = (struct pkt_cursor){ .seg = pkt };
		if (pk == RING_EMPTY) {
			dry = true;
			break;
		}
		if (pk == RING_BROKEN) {
			*why = VHOST_ENQUEUE_STOPPED; /* the caller marks it */
			break;
		}
		if (packed && n - i >= PACKED_BATCH &&
		    enqueue_batch(vq, cur, &rh, pkts + i, used, b, logging)) {
			used = (uint16_t)(used + PACKED_BATCH);
			i = (uint16_t)(i + PACKED_BATCH);
			continue;
		}
		if (!ran && enqueue_fast(vq, packed, &rh, pkt, &used_len, &id,
					 logging)) {
			ring_used_add(vq, packed, used++, id, used_len, 1);
			ring_next(vq, packed, cur, 1);
			count_packet(b, pkt->pkt_len);
			i++;
			continue;
		}
		if (!net_hdr_from_pkt(vq->features, pkt, &h, &fix)) {
			b->drops[VHOST_DROP_BAD_HDR]++;
			*why = VHOST_ENQUEUE_UNPLACEABLE;
			break; /* it can never be placed: the caller drops it */
		}
		st = ring_walk(vq, packed, cur, &rh, true, need, &c);
		if (st == CHAIN_BROKEN) {
			*why = VHOST_ENQUEUE_STOPPED;
			break;
		}
		/* Every buffer holds at least a header (5.1.6.3); one that
		 * cannot is junk, not a reason to refuse every packet. */
		if (st == CHAIN_OK && c.len < hdr_len)
			st = CHAIN_BAD_DESC;
		if (st != CHAIN_OK) {
			/* Give the buffer back empty; retry the packet. */
			count_bad_chain(vq, b, st, c.head);
			ring_used_add(vq, packed, used++, c.head, 0, c.nslots);
			ring_next(vq, packed, cur, c.nslots);
			if (++b->bad_chains > BAD_CHAINS_PER_BURST) {
				*why = VHOST_ENQUEUE_BUSY;
				break;
			}
			continue;
		}
		if (c.len < need) {
			/* The guest's buffers are smaller than the packet:
			 * the caller drops it. */
			b->drops[VHOST_DROP_TOO_BIG]++;
			*why = VHOST_ENQUEUE_UNPLACEABLE;
			break;
		}
		if (hdr_len == sizeof(h))
			h.num_buffers = 1;
		cw_write(&w, (const uint8_t *)&h, hdr_len);
		copy_pkt_out(&w, &pc, pkt->pkt_len, &fix);
		if (logging)
			vring_log_chain(vq, &c, need);
		ring_used_add(vq, packed, used++, c.head, need, c.nslots);
		ring_next(vq, packed, cur, c.nslots);
		count_packet(b, pkt->pkt_len);
		i++;
	}
	*used_out = used;
	*cur_io = cur_l;
	if (i < n && (dry || !cur->left) && *why != VHOST_ENQUEUE_STOPPED)
		*why = VHOST_ENQUEUE_NO_ROOM;
	return i;
}

/* The general path of a mergeable packet (enqueue_mergeable): spread
 * pkt over as many buffers as it needs, starting at the head peeked as h0.
 * true: placed (cur and *used moved past its buffers); false: not now or
 * never (*why says which). Out of the fast path's loop, inlined. */
static inline __attribute__((always_inline)) bool
enqueue_mergeable_slow(struct vhost_vring *vq, const bool packed,
		       const bool logging, struct ring_cur *cur,
		       uint16_t *used, const struct vhost_pktbuf *pkt,
		       const struct ring_head *h0, struct burst_stats *b,
		       enum vhost_enqueue_status *why, struct chain *first,
		       struct chain *cur_c)
{
	uint16_t hdr_len = vq->hdr_len;
	uint32_t left = pkt->pkt_len;
	struct virtio_net_hdr_mrg_rxbuf h;
	struct csum_fix fix;
	struct pkt_cursor pc = { .seg = pkt };
	/* t, u: next ring place / used entry; t0, u0: where this
	 * packet's buffers start (moved past bad chains, which stay
	 * used). */
	struct ring_cur t = *cur, t0 = *cur;
	uint16_t u = *used, u0 = *used, nbufs = 0;
	bool out_of_buffers = false, gave_up = false, broken = false;
	bool too_many = false;
	uint32_t descs = 0;       /* walked for this packet */

	if (!net_hdr_from_pkt(vq->features, pkt, &h, &fix)) {
		b->drops[VHOST_DROP_BAD_HDR]++;
		*why = VHOST_ENQUEUE_UNPLACEABLE;
		return false; /* it can never be placed: dropped */
	}
	while (nbufs == 0 || left) {
		struct chain *c = nbufs ? cur_c : first;
		uint32_t want = left + (nbufs ? 0 : hdr_len);
		struct chain_writer w = { .c = c };
		struct ring_head rh = *h0;
		enum chain_status st;
		uint32_t n_data;

		if (t.idx != cur->idx || t.left != cur->left) {
			enum ring_peek pk = ring_peek(vq, packed, &t, &rh);

			if (pk == RING_EMPTY) {
				out_of_buffers = true;
				break;
			}
			if (pk == RING_BROKEN) {
				broken = true;
				break;
			}
		}
		st = ring_walk(vq, packed, &t, &rh, true, want, c);
		if (st == CHAIN_BROKEN) {
			broken = true;
			break;
		}
		ring_next(vq, packed, &t, c->nslots);
		/* Every buffer holds at least a header (5.1.6.3); a
		 * later one that holds no byte of what is left is no
		 * progress: junk, returned like a bad chain (so a
		 * ring of empty buffers costs a bounded walk). */
		if (st == CHAIN_OK &&
		    (nbufs ? c->len == 0 : c->len < hdr_len))
			st = CHAIN_BAD_DESC;
		if (st != CHAIN_OK) {
			/* Returned empty, in ring order (IN_ORDER).
			 * Buffers this packet already filled go back
			 * empty too (a guest drops entries shorter than
			 * a header) and the packet starts over in the
			 * buffers after the bad one. */
			count_bad_chain(vq, b, st, c->head);
			for (uint16_t k = u0; k != u; k++)
				ring_used_zero(vq, packed, k);
			ring_used_add(vq, packed, u++, c->head, 0,
				      c->nslots);
			t0 = t;
			u0 = u;
			nbufs = 0;
			descs = 0;
			left = pkt->pkt_len;
			pc.seg = pkt;
			pc.off = 0;
			pc.pos = 0;
			if (++b->bad_chains > BAD_CHAINS_PER_BURST) {
				gave_up = true; /* junk ring: later */
				break;
			}
			continue;
		}
		descs += c->ndesc;
		if (descs > MRG_MAX_DESCS) {
			too_many = true;
			break;
		}
		if (!nbufs) {
			w.off = 0;
			/* skip the header's place, filled at the end */
			for (uint32_t skip = hdr_len; skip;) {
				uint32_t k = c->vec[w.i].len - w.off;

				k = k > skip ? skip : k;
				skip -= k;
				w.off += k;
				if (w.off == c->vec[w.i].len) {
					w.i++;
					w.off = 0;
				}
			}
		}
		n_data = c->len - (nbufs ? 0 : hdr_len);
		copy_pkt_out(&w, &pc, n_data, &fix);
		/* Logged as written: a packet that starts over after a
		 * bad chain leaves these bytes in the guest too. */
		if (logging)
			vring_log_chain(vq, c, c->len);
		left -= n_data;
		ring_used_add(vq, packed, u++, c->head, c->len,
			      c->nslots);
		nbufs++;
	}
	if (out_of_buffers || gave_up || broken || too_many) {
		/* Not placed now: the buffers it took are offered
		 * again next burst; bad chains stay returned. Whole
		 * ring: the packet walked every slot from t0 (split: by
		 * index, as t0.left may be from an earlier read of
		 * avail->idx; an empty t always comes from a fresh one). */
		bool whole_ring = !t.left &&
			(packed ? t0.left == vq->size :
				  (uint16_t)(t.idx - t0.idx) == vq->size);

		*cur = t0;
		*used = u0;
		if (broken) {
			*why = VHOST_ENQUEUE_STOPPED;
		} else if (gave_up) {
			*why = VHOST_ENQUEUE_BUSY;
		} else if (too_many || whole_ring) {
			/* More descriptors than a packet may span, or
			 * every slot of the ring is posted and the
			 * packet does not fit in all of them: it
			 * never will. */
			b->drops[VHOST_DROP_TOO_BIG]++;
			*why = VHOST_ENQUEUE_UNPLACEABLE;
		} else {
			*why = VHOST_ENQUEUE_NO_ROOM;
		}
		return false;
	}
	{
		struct chain_writer w = { .c = first };

		h.num_buffers = nbufs;
		cw_write(&w, (const uint8_t *)&h, hdr_len);
		if (logging)
			vring_log_chain(vq, first, hdr_len);
	}
	*cur = t;
	*used = u;
	count_packet(b, pkt->pkt_len);
	return true;
}

/* With MRG_RXBUF: a packet spreads over as many buffers as it needs; the
 * header (written last) says how many. A packet that does not fit in what
 * the guest posted now is not started: its buffers stay available. */
static inline __attribute__((always_inline)) uint16_t
enqueue_mergeable(ENQUEUE_ARGS, const bool packed, const bool logging)
{
	struct ring_cur cur_l = *cur_io, *cur = &cur_l;
	struct chain first, cur_c;
	uint16_t used = 0, i = 0;
	bool dry = false;

	/* The burst's used entries: the guest read them a lap ago, so each
	 * line is to be taken back from its cache. Asked for together here,
	 * the transfers overlap instead of stalling one store after another. */
	if (!packed)
		for (uint16_t k = 0; k < n; k = (uint16_t)(k + 8))
			__builtin_prefetch(&vq->used->ring[(uint16_t)(vq->last_used_idx + k) &
							   vq->mask], 1);
	while (i < n) {
		const struct vhost_pktbuf *pkt;
		uint32_t used_len;
		uint16_t id;
		/* Each head is read once: h0 serves both paths. */
		struct ring_head h0;
		bool ran;
		enum ring_peek pk = enqueue_next_head(vq, packed, logging, cur,
						      pkts, n, &i, &used, b,
						      &h0, &ran);

		if (i == n)
			break;
		pkt = pkts[i];
		if (pk == RING_EMPTY) {
			dry = true;
			break;
		}
		if (pk == RING_BROKEN) {
			*why = VHOST_ENQUEUE_STOPPED; /* the caller marks it */
			break;
		}
		if (packed && n - i >= PACKED_BATCH &&
		    enqueue_batch(vq, cur, &h0, pkts + i, used, b, logging)) {
			used = (uint16_t)(used + PACKED_BATCH);
			i = (uint16_t)(i + PACKED_BATCH);
			continue;
		}
		if (!ran && enqueue_fast(vq, packed, &h0, pkt, &used_len, &id,
					 logging)) {
			ring_used_add(vq, packed, used++, id, used_len, 1);
			ring_next(vq, packed, cur, 1);
			count_packet(b, pkt->pkt_len);
			i++;
			continue;
		}
		if (!enqueue_mergeable_slow(vq, packed, logging, cur, &used,
					    pkt, &h0, b, why, &first, &cur_c))
			break;
		i++;
	}
	*used_out = used;
	*cur_io = cur_l;
	if (i < n && (dry || !cur->left) && *why != VHOST_ENQUEUE_STOPPED &&
	    *why != VHOST_ENQUEUE_UNPLACEABLE)
		*why = VHOST_ENQUEUE_NO_ROOM;
	return i;
}

typedef uint16_t (*enqueue_fn)(ENQUEUE_ARGS);

#define ENQUEUE_INSTANCE(body, fmt, packed, log, logging)                    \
	static uint16_t body##_##fmt##_##log(ENQUEUE_ARGS)                    \
	{                                                                     \
		return body(ENQUEUE_PASS, packed, logging);                   \
	}
ENQUEUE_INSTANCE(enqueue_simple, split, false, plain, false)
ENQUEUE_INSTANCE(enqueue_simple, split, false, logged, true)
ENQUEUE_INSTANCE(enqueue_simple, packed, true, plain, false)
ENQUEUE_INSTANCE(enqueue_simple, packed, true, logged, true)
ENQUEUE_INSTANCE(enqueue_mergeable, split, false, plain, false)
ENQUEUE_INSTANCE(enqueue_mergeable, split, false, logged, true)
ENQUEUE_INSTANCE(enqueue_mergeable, packed, true, plain, false)
ENQUEUE_INSTANCE(enqueue_mergeable, packed, true, logged, true)

/* [mergeable][packed][logging] */
static const enqueue_fn enqueue_bodies[2][2][2] = {
	{ { enqueue_simple_split_plain, enqueue_simple_split_logged },
	  { enqueue_simple_packed_plain, enqueue_simple_packed_logged } },
	{ { enqueue_mergeable_split_plain, enqueue_mergeable_split_logged },
	  { enqueue_mergeable_packed_plain,
	    enqueue_mergeable_packed_logged } },
};

uint16_t vhost_enqueue_burst_status(struct vhost_dev *dev, uint16_t queue,
				    struct vhost_pktbuf *const *pkts,
				    uint16_t n,
				    enum vhost_enqueue_status *status)
{
	struct vhost_vring *vq = data_vring(dev, queue, true);
	struct burst_stats b = { 0 };
	struct ring_cur cur;
	uint16_t used = 0, done = 0;
	enum vhost_enqueue_status why = VHOST_ENQUEUE_DONE, dummy;

	if (!status)
		status = &dummy;
	if (!vq) {
		*status = VHOST_ENQUEUE_STOPPED;
		return 0;
	}
	if (!n) {
		*status = VHOST_ENQUEUE_DONE;
		return 0;
	}
	if (!vring_trylock(vq)) {
		*status = VHOST_ENQUEUE_BUSY;
		return 0;
	}
	if (!ring_usable(vq)) {
		why = VHOST_ENQUEUE_STOPPED;
		goto out;
	}
	if (ring_begin(vq, vq->packed, &cur, n)) {
		mark_broken(vq, "avail index moved too far");
		why = VHOST_ENQUEUE_STOPPED;
		goto out;
	}
	done = enqueue_bodies[vq->mrg_rxbuf][vq->packed][vq->log_bits != NULL](
		vq, &cur, pkts, n, &b, &used, &why);
	if (done < n && why == VHOST_ENQUEUE_DONE)
		why = VHOST_ENQUEUE_NO_ROOM; /* the guest posted no buffer */
	if (why == VHOST_ENQUEUE_NO_ROOM)
		b.drops[VHOST_DROP_NO_ROOM] += n - done;
	ring_commit(vq, vq->packed, &cur);
	if (used) {
		if (vq->packed)
			ring_publish(vq, true, used, true);
		else
			ring_publish(vq, false, used, true);
	}
	stats_commit(vq, &b);
	/* What came before the bad head was done and is published. */
	if (why == VHOST_ENQUEUE_STOPPED)
		mark_broken(vq, "available head out of range");
	if (vq->log_bits)
		vring_log_flush(vq);
out:
	vring_unlock(vq);
	*status = why;
	return done;
}

uint16_t vhost_enqueue_burst(struct vhost_dev *dev, uint16_t queue,
			     struct vhost_pktbuf *const *pkts, uint16_t n)
{
	return vhost_enqueue_burst_status(dev, queue, pkts, n, NULL);
}

/* ------------------------------------------------------------- dequeue */

/* Copy len bytes from the chain into pkt, adding segments as needed; the
 * caller checked that len fits in VHOST_PKTBUF_MAX_SEGS segments
 * (pool_max_pkt()).
 * false if the pool ran dry (pkt keeps what it had). */
static bool copy_chain_in(struct chain_writer *r, struct vhost_pktbuf *pkt,
			  uint32_t len)
{
	struct vhost_pktbuf *seg = pkt;

	while (len) {
		uint16_t room = vhost_pktbuf_tailroom(seg);
		uint32_t n = len < room ? len : room;

		if (n == 0) {
			struct vhost_pktbuf *next;

			if (pkt->nb_segs >= VHOST_PKTBUF_MAX_SEGS)
				return false;
			next = vhost_pktbuf_alloc(pkt->pool);
			if (!next)
				return false;
			seg->next = next;
			pkt->nb_segs++;
			seg = next;
			continue;
		}
		cr_read(r, (uint8_t *)vhost_pktbuf_data(seg) + seg->data_len, n);
		seg->data_len = (uint16_t)(seg->data_len + n);
		pkt->pkt_len += n;
		len -= n;
	}
	return true;
}

/* The pending SEND_RARP as a packet in pkts[0]; 1 if one was made. */
static uint16_t take_rarp(struct vhost_dev *dev, struct vhost_pktbuf_pool *pool,
			  uint16_t queue, struct vhost_pktbuf **pkts)
{
	uint64_t v = atomic_exchange_explicit(&dev->rarp, 0,
					      memory_order_acquire);
	uint8_t mac[8];
	struct vhost_pktbuf *p;

	if (!(v & RARP_PENDING))
		return 0;
	memcpy(mac, &v, sizeof(mac));
	p = announce_rarp_pkt(pool, mac);
	if (!p) {
		/* Pool empty: keep it for the next burst, unless a newer
		 * request came in meanwhile. */
		uint64_t none = 0;

		atomic_compare_exchange_strong(&dev->rarp, &none, v);
		return 0;
	}
	p->queue = queue;
	pkts[0] = p;
	LOG_INFO("%s: guest announcement (RARP) handed to the application",
		 vhost_dev_path(dev));
	return 1;
}

/* The most a packet from this pool can hold (a fresh head has the whole
 * data room after the headroom; so does each segment). Pools refuse to be
 * made too small for VHOST_PKTBUF_MAX_PKT_LEN, so every chain the walk
 * accepts fits; it is checked anyway, as it decides between "drop" and
 * "retry later" (a queue must never stall on a packet it cannot take). */
static inline uint64_t pool_max_pkt(const struct vhost_pktbuf_pool *pool)
{
	return (uint64_t)VHOST_PKTBUF_MAX_SEGS *
	       vhost_pktbuf_pool_data_room(pool);
}

enum slow_result {
	SLOW_PKT,     /* *out is the packet; the chain is done */
	SLOW_BAD,     /* the chain goes back unread (bad, too big) */
	SLOW_BAD_HDR, /* the chain goes back: its header was refused */
	SLOW_RETRY,   /* the pool is empty now: leave the chain in the ring */
	SLOW_BROKEN,  /* packed: the chain's extent or id is unknowable */
};

/*
 * The general path for one chain: walk, check, copy into pkt (a fresh
 * buffer, or NULL: take one from the pool). Out of line and cold, so the
 * common packet's loop keeps its registers and layout (callgrind, 64-byte
 * packets: 179 instructions per packet inline, 168 so). pkt is used up
 * (given in *out or freed) unless the result is SLOW_BAD. c->head and
 * c->nslots: what goes back to the used ring (unless SLOW_BROKEN).
 */
static __attribute__((noinline, cold)) enum slow_result
dequeue_slow(struct vhost_vring *vq, const struct ring_cur *cur,
	     const struct ring_head *rh, struct vhost_pktbuf_pool *pool,
	     struct vhost_pktbuf *pkt, struct burst_stats *b,
	     struct vhost_pktbuf **out, struct chain *c)
{
	uint32_t hdr_len = vq->hdr_len, len;
	struct virtio_net_hdr_mrg_rxbuf h;
	struct chain_writer r = { .c = c };
	enum chain_status st;

	st = vq->packed ?
	     ring_walk(vq, true, cur, rh, false, hdr_len + MAX_PKT_LEN, c) :
	     ring_walk(vq, false, cur, rh, false, hdr_len + MAX_PKT_LEN, c);
	if (st == CHAIN_BROKEN)
		return SLOW_BROKEN;
	if (st == CHAIN_OK && c->len <= hdr_len)
		st = CHAIN_BAD_DESC; /* no room for header + data */
	else if (st == CHAIN_OK && c->len - hdr_len > pool_max_pkt(pool))
		st = CHAIN_TOO_BIG; /* never, not just now: drop it */
	if (st != CHAIN_OK) {
		count_bad_chain(vq, b, st, c->head);
		return SLOW_BAD;
	}
	if (!pkt)
		pkt = vhost_pktbuf_alloc(pool);
	if (!pkt) {
		b->drops[VHOST_DROP_NO_PKTBUF]++;
		return SLOW_RETRY;
	}
	/* Read the header once, into our memory, then check it. */
	memset(&h, 0, sizeof(h));
	cr_read(&r, (uint8_t *)&h, hdr_len);
	len = c->len - hdr_len;
	if (!net_hdr_to_pkt(vq->features, &h, len, pkt)) {
		vhost_pktbuf_free(pkt);
		b->drops[VHOST_DROP_BAD_HDR]++;
		LOG_RATELIMIT(VHOST_LOG_WARNING,
			      "%s: vring %u: bad virtio-net header",
			      vhost_dev_path(vq->dev), vq->index);
		return SLOW_BAD_HDR;
	}
	if (!copy_chain_in(&r, pkt, len)) {
		/* It fits the pool: the pool is empty right now. */
		vhost_pktbuf_free(pkt);
		b->drops[VHOST_DROP_NO_PKTBUF]++;
		return SLOW_RETRY;
	}
	*out = pkt;
	return SLOW_PKT;
}

/*
 * Split ring: dequeue_fast over consecutive chains into the fresh buffers
 * fresh[0..nfresh), with the ring's state and the hinted region in locals
 * (as enqueue_split_run). At most n chains, which the caller knows are
 * there. Stops at the first chain the fast path does not take and hands
 * the head it read there over in *pend (*pending set). Returns the
 * packets put in pkts (one chain and one fresh buffer each): cur, the used
 * entries from taken on, and b moved past them.
 */
static __attribute__((noinline)) uint16_t
dequeue_split_run(struct vhost_vring *vq, struct ring_cur *cur,
		  struct vhost_pktbuf *const *fresh, uint16_t nfresh,
		  struct vhost_pktbuf **pkts, uint16_t n, uint16_t taken,
		  uint16_t queue, struct burst_stats *b, struct ring_head *pend,
		  bool *pending)
{
	const struct vring_desc *desc = vq->desc;
	const uint16_t *avail = vq->avail->ring;
	struct vring_used_elem *ue = vq->used->ring;
	const struct mem_table *mt = vq->mem;
	uint16_t mask = vq->mask, size = vq->size, hdr_len = vq->hdr_len;
	uint16_t idx = cur->idx, uidx = (uint16_t)(vq->last_used_idx + taken);
	uint16_t i, m = n < nfresh ? n : nfresh;
	struct run_region rr = run_region_load(mt, vq->mem_hint);
	uint64_t bytes = 0;

	pend->flags = 0;
	for (i = 0; i < m; i++, idx++, uidx++) {
		struct vhost_pktbuf *pkt = fresh[i];
		uint16_t head = GUEST_READ(avail[idx & mask]);
		const struct vring_desc *d;
		uint64_t addr;
		uint32_t len;
		const uint8_t *p;

		pend->head = head;
		if (head >= size)
			break;
		d = &desc[head];
		if (GUEST_READ(d->flags) != 0)
			break;
		len = GUEST_READ(d->len);
		addr = GUEST_READ(d->addr);
		if (len <= hdr_len || len - hdr_len > vhost_pktbuf_tailroom(pkt))
			break;
		p = run_region_map(vq, &rr, addr, len);
		if (!p)
			break;
		if (!fast_take(vq, hdr_len, p, len, pkt))
			break;
		len -= hdr_len;
		pkt->queue = queue;
		pkts[i] = pkt;
		ue[uidx & mask].id = head;
		ue[uidx & mask].len = 0;
		bytes += len;
		b->buckets[size_bucket(len)]++;
	}
	*pending = i < m;
	cur->idx = idx;
	cur->left = (uint16_t)(cur->left - i);
	b->packets += i;
	b->bytes += bytes;
	return i;
}

/* The dequeue body, instantiated per ring format. Returns packets put in
 * pkts; *taken: chains consumed (used entries written). */
static inline __attribute__((always_inline)) uint16_t
dequeue_body(struct vhost_vring *vq, const bool packed,
	     struct ring_cur *cur_io, struct vhost_pktbuf_pool *pool,
	     struct vhost_pktbuf **pkts, uint16_t n, uint16_t queue,
	     struct burst_stats *b, uint16_t *taken_out)
{
	struct ring_cur cur_l = *cur_io, *cur = &cur_l;
	uint16_t taken = 0, got = 0, nfresh = 0, used_fresh = 0;
	struct vhost_pktbuf *fresh[64];
	bool bulk_failed = false;
	struct chain c;

	/* Split knows how many wait (and counts bad chains against n, as
	 * before); packed finds out descriptor by descriptor. */
	if (!packed && n > cur->left)
		n = cur->left;
	while ((packed ? got : taken) < n) {
		struct vhost_pktbuf *pkt, *cand;
		struct ring_head rh;
		enum ring_peek pk;
		enum slow_result res;
		uint16_t id;
		bool pending = false;

		/* Buffers come in bulk, a burst's worth at a time; when the
		 * pool cannot give a whole bulk, one at a time (slow path). */
		if (used_fresh == nfresh && !bulk_failed) {
			uint16_t more = (uint16_t)(n - (packed ? got : taken));
			uint16_t want = more > 64 ? 64 : more;

			used_fresh = nfresh = 0;
			if (!vhost_pktbuf_alloc_bulk(pool, fresh, want))
				nfresh = want;
			else
				bulk_failed = true;
		}
		if (!packed && used_fresh < nfresh) {
			uint16_t k = dequeue_split_run(
				vq, cur, fresh + used_fresh,
				(uint16_t)(nfresh - used_fresh), pkts + got,
				(uint16_t)(n - taken), taken, queue, b, &rh,
				&pending);

			used_fresh = (uint16_t)(used_fresh + k);
			taken = (uint16_t)(taken + k);
			got = (uint16_t)(got + k);
			if (taken == n)
				break;
			if (!pending)
				continue; /* its buffers used up: more */
		}
		if (pending)
			pk = rh.head < vq->size ? RING_HEAD : RING_BROKEN;
		else
			pk = ring_peek_n(vq, packed, cur, &rh, !packed);
		if (pk == RING_EMPTY)
			break;
		if (pk == RING_BROKEN) {
			b->broken = true;
			break;
		}
		if (packed && n - got >= PACKED_BATCH &&
		    nfresh - used_fresh >= PACKED_BATCH &&
		    dequeue_batch(vq, cur, &rh, fresh + used_fresh, taken,
				  queue, b)) {
			memcpy(pkts + got, fresh + used_fresh,
			       PACKED_BATCH * sizeof(*pkts));
			used_fresh = (uint16_t)(used_fresh + PACKED_BATCH);
			taken = (uint16_t)(taken + PACKED_BATCH);
			got = (uint16_t)(got + PACKED_BATCH);
			continue;
		}
		cand = used_fresh < nfresh ? fresh[used_fresh] : NULL;
		/* A head the run handed over is not for the fast path. */
		if (cand && !pending && dequeue_fast(vq, packed, &rh, cand, &id)) {
			used_fresh++;
			pkt = cand;
			ring_used_add(vq, packed, taken++, id, 0, 1);
			ring_next(vq, packed, cur, 1);
		} else {
			/* A copy: the cursor itself stays in registers. */
			struct ring_cur cc = *cur;

			res = dequeue_slow(vq, &cc, &rh, pool, cand, b, &pkt,
					   &c);
			if (res == SLOW_BROKEN) {
				b->broken = true;
				break;
			}
			if (res != SLOW_BAD && cand)
				used_fresh++; /* used up */
			if (res == SLOW_RETRY)
				break; /* leave it in the ring for the next burst */
			ring_used_add(vq, packed, taken++, c.head, 0, c.nslots);
			ring_next(vq, packed, cur, c.nslots);
			if (res != SLOW_PKT) {
				/* Returned unread; it counts against the
				 * burst's budget of chains without progress. */
				if (++b->bad_chains > BAD_CHAINS_PER_BURST)
					break;
				continue;
			}
		}
		pkt->queue = queue;
		pkts[got++] = pkt;
		count_packet(b, pkt->pkt_len);
	}
	if (used_fresh < nfresh)
		vhost_pktbuf_free_bulk(fresh + used_fresh, nfresh - used_fresh);
	*cur_io = cur_l;
	*taken_out = taken;
	return got;
}

static uint16_t dequeue_split(struct vhost_vring *vq, struct ring_cur *cur,
			      struct vhost_pktbuf_pool *pool,
			      struct vhost_pktbuf **pkts, uint16_t n,
			      uint16_t queue, struct burst_stats *b,
			      uint16_t *taken)
{
	return dequeue_body(vq, false, cur, pool, pkts, n, queue, b, taken);
}

static uint16_t dequeue_packed(struct vhost_vring *vq, struct ring_cur *cur,
			       struct vhost_pktbuf_pool *pool,
			       struct vhost_pktbuf **pkts, uint16_t n,
			       uint16_t queue, struct burst_stats *b,
			       uint16_t *taken)
{
	return dequeue_body(vq, true, cur, pool, pkts, n, queue, b, taken);
}

uint16_t vhost_dequeue_burst(struct vhost_dev *dev, uint16_t queue,
			     struct vhost_pktbuf_pool *pool,
			     struct vhost_pktbuf **pkts, uint16_t n)
{
	struct vhost_vring *vq = data_vring(dev, queue, false);
	struct burst_stats b = { 0 };
	struct ring_cur cur;
	uint16_t taken = 0, got = 0;

	if (!vq || !pool || !n || !vring_trylock(vq))
		return 0;
	if (!ring_usable(vq))
		goto out;
	if (ring_begin(vq, vq->packed, &cur, n)) {
		mark_broken(vq, "avail index moved too far");
		goto out;
	}
	/* After a migration (SEND_RARP) the guest's announcement comes
	 * first, as if the guest had sent it. */
	if (atomic_load_explicit(&dev->rarp, memory_order_relaxed))
		got = take_rarp(dev, pool, queue, pkts);
	got = (uint16_t)(got + (vq->packed ? dequeue_packed : dequeue_split)(
				       vq, &cur, pool, pkts + got,
				       (uint16_t)(n - got), queue, &b, &taken));
	if (taken) {
		ring_commit(vq, vq->packed, &cur);
		if (vq->packed)
			ring_publish(vq, true, taken, false);
		else
			ring_publish(vq, false, taken, false);
	}
	stats_commit(vq, &b);
	/* What came before the bad head was done and is published. */
	if (b.broken)
		mark_broken(vq, "available head out of range");
	if (vq->log_bits)
		vring_log_flush(vq);
out:
	vring_unlock(vq);
	return got;
}

/* ------------------------------------------------- queue control (public) */

static struct vhost_vring *any_vring(struct vhost_dev *dev, uint16_t queue)
{
	return dev && queue < dev->max_vrings ? &dev->vrings[queue] : NULL;
}

int vhost_vring_kickfd(struct vhost_dev *dev, uint16_t queue)
{
	struct vhost_vring *vq = any_vring(dev, queue);

	return vq ? vq->kickfd : -1;
}

int vhost_vring_enable_notify(struct vhost_dev *dev, uint16_t queue,
			      bool enable)
{
	struct vhost_vring *vq = any_vring(dev, queue);

	if (!vq)
		return -EINVAL;
	vring_lock(vq);
	vq->notify_wanted = enable;
	if (ring_usable(vq))
		ring_set_kick_wanted(vq, enable);
	vring_unlock(vq);
	return 0;
}

/* Packed rings have no index to subtract: descriptors are counted one by
 * one, up to this many for vhost_vring_avail_count. */
#define PACKED_COUNT_MAX 256

uint16_t vhost_vring_avail_upto(struct vhost_dev *dev, uint16_t queue,
				uint16_t max)
{
	struct vhost_vring *vq = any_vring(dev, queue);
	uint16_t n = 0;
	bool known;

	if (!vq || !max || !vring_trylock(vq))
		return 0;
	if (ring_usable(vq)) {
		/* Packed: each flag read may miss (the guest writes those
		 * lines): look no further than what the caller can use. */
		if (vq->packed)
			n = packed_avail_upto(vq, max < PACKED_COUNT_MAX ?
						      max : PACKED_COUNT_MAX);
		else if (split_avail_atleast(vq, max, &n, &known))
			n = 0;
	}
	vring_unlock(vq);
	return n < max ? n : max;
}

/* Split: the whole count (an index difference); packed: up to 256. */
uint16_t vhost_vring_avail_count(struct vhost_dev *dev, uint16_t queue)
{
	return vhost_vring_avail_upto(dev, queue, UINT16_MAX);
}

int vhost_vring_stats_get(struct vhost_dev *dev, uint16_t queue,
			  struct vhost_vring_stats *stats)
{
	struct vhost_vring *vq = any_vring(dev, queue);

	if (!vq || !stats)
		return -EINVAL;
	/* Monitoring read without the lock: each counter is one relaxed
	 * atomic load (writers use STAT_ADD under the lock). */
	stats_copy(stats, &vq->stats);
	return 0;
}

int vhost_vring_stats_reset(struct vhost_dev *dev, uint16_t queue)
{
	struct vhost_vring *vq = any_vring(dev, queue);

	if (!vq)
		return -EINVAL;
	vring_lock(vq);
	stats_zero(&vq->stats);
	vring_unlock(vq);
	return 0;
}
