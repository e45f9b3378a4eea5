/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-net data path of the front-end: transmit and receive bursts with
 * packet buffers (copied into and out of the shared buffers, the
 * virtio-net header built and parsed by net_hdr.c), mergeable receive,
 * and the load generator's prebuilt packets.
 *
 * Per burst: one trylock, one acquire load of used->idx (packed: of each
 * used descriptor's flags), one release store of avail->idx (packed: of
 * each chain head's flags), at most one kick (only when the back-end
 * asked). Per packet: no lock, no syscall, no division or modulo. The
 * ring format is vu_ring.h's business.
 */
#include <errno.h>
#include <string.h>

#include "net_hdr.h"
#include "vu_ring.h"

#define HAS(f, b) (((f) >> (b)) & 1)

/* net_hdr.c speaks for a back-end: what it builds is checked against the
 * guest's GUEST_* features, what it parses against HOST_* ones. A
 * front-end sends to the device's HOST_* side and receives from its
 * GUEST_* side, so each direction gets the mirrored view. */
void vu_ring_set_features(struct vu_ring *r, uint64_t f)
{
	r->event_idx = HAS(f, VIRTIO_RING_F_EVENT_IDX);
	r->intr_mode = 0; /* EVENT_IDX may differ: write the fields afresh */
	r->in_order = HAS(f, VIRTIO_F_IN_ORDER) && !HAS(f, VIRTIO_F_RING_PACKED);
	r->mrg = HAS(f, VIRTIO_NET_F_MRG_RXBUF);
	r->tx_features = (HAS(f, VIRTIO_NET_F_CSUM) ? 1ull << VIRTIO_NET_F_GUEST_CSUM : 0) |
		(HAS(f, VIRTIO_NET_F_HOST_TSO4) ? 1ull << VIRTIO_NET_F_GUEST_TSO4 : 0) |
		(HAS(f, VIRTIO_NET_F_HOST_TSO6) ? 1ull << VIRTIO_NET_F_GUEST_TSO6 : 0);
	r->rx_features = (HAS(f, VIRTIO_NET_F_GUEST_CSUM) ? 1ull << VIRTIO_NET_F_CSUM : 0) |
		(HAS(f, VIRTIO_NET_F_GUEST_TSO4) ? 1ull << VIRTIO_NET_F_HOST_TSO4 : 0) |
		(HAS(f, VIRTIO_NET_F_GUEST_TSO6) ? 1ull << VIRTIO_NET_F_HOST_TSO6 : 0) |
		(HAS(f, VIRTIO_NET_F_GUEST_ECN) ? 1ull << VIRTIO_NET_F_HOST_ECN : 0);
}

/* Every free receive descriptor to the back-end with its slot (split
 * descriptors are prebuilt, unless one carried a pktbuf since). */
static void rx_refill(struct vu_ring *r)
{
	if (!r->rx_desc_dirty) {
		while (r->nfree)
			vu_post_prebuilt(r, vu_alloc_chain(r, 1));
		return;
	}
	while (r->nfree) {
		uint16_t head = vu_alloc_chain(r, 1);

		vu_desc_write(r, head, 0, head,
			      (uint64_t)(uintptr_t)vu_slot(r, head),
			      r->post_len, false);
		vu_post(r, head);
	}
}

/* Split: post want fresh pktbufs of b (from the end, see rx_refill_zc),
 * one descriptor each, with the ring's state in locals. */
static void rx_post_split_zc(struct vu_ring *r, struct vhost_pktbuf **b,
			     unsigned want)
{
	uint16_t *next = r->next, *avail_sh = r->avail_sh;
	struct vu_head *heads = r->heads;
	struct vhost_pktbuf **zc = r->zc;
	uint16_t mask = r->mask, fh = r->free_head, ai = r->avail_idx;
	uint32_t seq = r->seq;

	for (unsigned k = 0; k < want; k++) {
		struct vhost_pktbuf *p = b[want - 1 - k];
		uint16_t d = fh, pos = ai & mask;
		uint64_t at = (uint64_t)(uintptr_t)vhost_pktbuf_data(p) - VU_HDR_LEN;
		uint32_t len = VU_HDR_LEN + vhost_pktbuf_tailroom(p);

		fh = next[d];
		heads[d].ndesc = 1;
		heads[d].seq = seq++;
		vu_split_desc_put(r, d, at, len, VRING_DESC_F_WRITE,
				  (uint16_t)(r->links[d] >> 16));
		zc[d] = p;
		vu_avail_put(r->avail, avail_sh, pos, d);
		ai++;
	}
	r->free_head = fh;
	r->nfree = (uint16_t)(r->nfree - want);
	r->avail_idx = ai;
	r->seq = seq;
}

/* Zero-copy receive: every free descriptor gets a fresh pktbuf of pool
 * (bulk allocs, halved when the pool is short), posted from 12 bytes
 * before its data start: the virtio-net header lands in the headroom and
 * the packet where the caller expects it. The ring holds the pktbuf
 * (zc[head]) until it comes back or the ring is reset. */
static void rx_refill_zc(struct vu_ring *r, struct vhost_pktbuf_pool *pool)
{
	struct vhost_pktbuf *b[64];

	r->rx_desc_dirty = true;
	while (r->nfree) {
		unsigned want = r->nfree < 64 ? r->nfree : 64;

		while (want && vhost_pktbuf_alloc_bulk(pool, b, want))
			want >>= 1;
		if (!want) {
			r->st.no_pktbuf++;
			return;
		}
		/* Heads come off the free list in the order they came back,
		 * buffers off the pool most recently freed first: taken from
		 * the end, a head mostly gets the buffer it had when the caller
		 * freed a burst in order, and its descriptor stays unwritten
		 * (vu_desc_write). */
		if (!r->packed) {
			rx_post_split_zc(r, b, want);
			continue;
		}
		for (unsigned k = 0; k < want; k++) {
			struct vhost_pktbuf *p = b[want - 1 - k];
			uint16_t head = vu_alloc_chain(r, 1);
			uint64_t at = (uint64_t)(uintptr_t)vhost_pktbuf_data(p) -
				      VU_HDR_LEN;
			uint32_t len = VU_HDR_LEN + vhost_pktbuf_tailroom(p);

			vu_desc_write(r, head, 0, head, at, len, false);
			r->zc[head] = p;
			vu_post(r, head);
		}
	}
}

void vu_ring_post_rx(struct vu_ring *r)
{
	rx_refill(r);
	vu_update_intr(r);
	if (!r->packed)
		atomic_store_explicit((_Atomic uint16_t *)&r->avail->idx,
				      r->avail_idx, memory_order_release);
}

static struct vu_ring *ring_get(struct virtio_user *vu, uint16_t qp, bool tx)
{
	if (qp >= VIRTIO_USER_MAX_QUEUE_PAIRS || qp >= vu->p.queue_pairs)
		return NULL;
	return &vu->rings[qp * 2 + tx];
}

/* Start a burst: the ring is ours and running. */
static bool burst_begin(struct vu_ring *r)
{
	if (!r || !vu_ring_lock(r))
		return false;
	if (!r->ready || r->broken) {
		vu_ring_unlock(r);
		return false;
	}
	return true;
}

/* Packets sent by reference whose chains came back, freed in bulk (one
 * pool cache lookup per batch, not per packet). */
#define ZC_BATCH 64
struct zc_done {
	struct vhost_pktbuf *pkts[ZC_BATCH];
	unsigned n;
};

/* The chain at head came back: free it, and its packet if it carried one.
 * The chain is freed first and the id is checked before (vu_used_check:
 * ndesc != 0), so an id returned twice never reaches a packet twice. */
static inline void tx_chain_done(struct vu_ring *r, uint16_t head,
				 struct zc_done *done)
{
	struct vhost_pktbuf *p = r->zc[head];

	vu_free_chain(r, head);
	if (!p)
		return;
	r->zc[head] = NULL;
	done->pkts[done->n++] = p;
	if (done->n == ZC_BATCH) {
		vhost_pktbuf_free_bulk(done->pkts, ZC_BATCH);
		done->n = 0;
	}
}

/* Packed: chains of any length come back one used descriptor each, the
 * next one after the chain's own length. Bounded: each frees a chain in
 * flight. */
static int tx_reclaim_packed(struct vu_ring *r, struct zc_done *done)
{
	uint16_t head;
	uint32_t len;
	int got;

	while ((got = vu_p_used_next(r, &head, &len)) > 0) {
		uint16_t nd = r->heads[head].ndesc;

		tx_chain_done(r, head, done);
		vu_p_advance(r, &r->used_pos, &r->used_wrap, nd);
	}
	if (got < 0) {
		vu_ring_break(r, "used id not in flight");
		return -1;
	}
	return 0;
}

/* Split, IN_ORDER: the n chains posted first come back, in post order
 * (avail_sh), their used entries unread. Locals: stores through next[]
 * and heads[] could otherwise alias the ring's fields, reloaded each time.
 * The free list as vu_free_chain keeps it. */
static int tx_reclaim_in_order(struct vu_ring *r, uint16_t n,
			       struct zc_done *done)
{
	uint16_t *next = r->next;
	struct vu_head *heads = r->heads;
	uint16_t mask = r->mask;
	struct vu_free f = vu_free_load(r);
	int ret = 0;
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct vhost_pktbuf *p;
		uint16_t h, nd, last;

		if (vu_used_head_in_order(r, i, &h) < 0) {
			ret = -1;
			break;
		}
		nd = heads[h].ndesc;
		last = h;
		for (uint16_t k = 1; k < nd; k++)
			last = next[last];
		vu_free_append(next, mask, &f, h, last, nd);
		heads[h].ndesc = 0;
		p = r->zc[h];
		if (p) {
			r->zc[h] = NULL;
			done->pkts[done->n++] = p;
			if (done->n == ZC_BATCH) {
				vhost_pktbuf_free_bulk(done->pkts, ZC_BATCH);
				done->n = 0;
			}
		}
	}
	vu_free_store(r, &f);
	r->last_used = (uint16_t)(r->last_used + i);
	if (ret)
		vu_ring_break(r, "used id not in flight");
	return ret;
}

static int tx_reclaim_split(struct vu_ring *r, struct zc_done *done)
{
	uint16_t n, head;
	uint32_t len;

	if (vu_used_count(r, &n, 0xffff) < 0) {
		vu_ring_break(r, "used index ahead of the buffers posted");
		return -1;
	}
	if (r->in_order)
		return n ? tx_reclaim_in_order(r, n, done) : 0;
	for (uint16_t i = 0; i < n; i++) {
		if (vu_used_entry(r, i, &head, &len) < 0) {
			r->last_used = (uint16_t)(r->last_used + i);
			vu_ring_break(r, "used id not in flight");
			return -1;
		}
		tx_chain_done(r, head, done);
	}
	r->last_used = (uint16_t)(r->last_used + n);
	return 0;
}

/* Return transmit chains the back-end has used, and drop our references
 * on the packets they carried. */
static int tx_reclaim(struct vu_ring *r)
{
	struct zc_done done;
	int ret;

	done.n = 0;
	ret = r->packed ? tx_reclaim_packed(r, &done) :
			  tx_reclaim_split(r, &done);
	if (done.n)
		vhost_pktbuf_free_bulk(done.pkts, done.n);
	return ret;
}

/* Descriptors for len bytes of header + packet (no division). */
static uint32_t descs_for(const struct vu_ring *r, uint32_t len)
{
	uint32_t n = 1;

	while (len > r->slot_room) {
		len -= r->slot_room;
		n++;
	}
	return n;
}

/* The zero header (no offload) into slot d, unless it holds one already:
 * its line then stays clean in the back-end's cache (VU_SLOT_PAD). */
static inline void tx_zero_hdr(struct vu_ring *r, uint16_t d)
{
	if (r->hdr_set[d]) {
		memset(vu_slot(r, d), 0, VU_HDR_LEN);
		r->hdr_set[d] = 0;
	}
}

/* Copy header + packet into the chain at head and write its descriptors. */
static void tx_fill(struct vu_ring *r, uint16_t head, uint16_t ndesc,
		    const struct virtio_net_hdr_mrg_rxbuf *h,
		    const struct vhost_pktbuf *pkt, const struct csum_fix *fix)
{
	const struct vhost_pktbuf *seg = pkt;
	uint32_t seg_off = 0, pos = 0; /* packet offset */
	uint16_t d = head;

	for (uint16_t k = 0; k < ndesc; k++) {
		uint8_t *dst = vu_slot(r, d);
		uint32_t room = r->slot_room, used = 0;

		r->hdr_set[d] = 1; /* a header, or data, where one would be */
		if (k == 0) {
			memcpy(dst, h, VU_HDR_LEN);
			used = VU_HDR_LEN;
		}
		while (used < room && seg) {
			uint32_t left = seg->data_len - seg_off;
			uint32_t c = left < room - used ? left : room - used;

			memcpy(dst + used, (uint8_t *)vhost_pktbuf_data(seg) + seg_off, c);
			/* The checksum the back-end cannot compute. */
			if (fix->on && fix->at >= pos && fix->at < pos + c)
				dst[used + fix->at - pos] = fix->val[0];
			if (fix->on && fix->at + 1 >= pos && fix->at + 1 < pos + c)
				dst[used + fix->at + 1 - pos] = fix->val[1];
			used += c;
			pos += c;
			seg_off += c;
			if (seg_off == seg->data_len) {
				seg = seg->next;
				seg_off = 0;
			}
		}
		vu_desc_write(r, head, k, d, (uint64_t)(uintptr_t)dst, used,
			      k + 1 < ndesc);
		d = r->next[d];
	}
}

static inline bool zc_pool(const struct virtio_user *vu,
			   const struct vhost_pktbuf_pool *pool)
{
	for (unsigned i = 0; i < vu->npools; i++)
		if (pool == vu->pools[i])
			return true;
	return false;
}

/* The library's view of a pktbuf's count (pktbuf.c refcnt_of): a plain
 * uint16_t in the public header, atomic inside. */
static inline _Atomic uint16_t *zc_refcnt(struct vhost_pktbuf *p)
{
	return (_Atomic uint16_t *)(uintptr_t)&p->refcnt;
}

/* Segments of pkt if every one lies in a pool registered with vu and
 * holds data, else 0 (copy it). Bounded by VHOST_PKTBUF_MAX_SEGS. */
static uint32_t zc_segs(const struct virtio_user *vu,
			const struct vhost_pktbuf *pkt)
{
	uint32_t n = 0;

	for (const struct vhost_pktbuf *s = pkt; s; s = s->next)
		if (!zc_pool(vu, s->pool) || !s->data_len ||
		    ++n > VHOST_PKTBUF_MAX_SEGS)
			return 0;
	return n;
}

/* Packets up to this many bytes are copied even from a registered pool:
 * a copy of one or two cache lines costs less than the reference (a plain
 * store here, but an atomic decrement in the caller's free, which then
 * finds the count at 2) and the bulk free at reclaim. bench/vu_micro,
 * in-process, tx ns/packet copy / zero-copy: 64 B 11.8 / 15.3, 128 B
 * 12.8 / 16.3, 256 B 19.6 / 15.6, 512 B 30.2 / 16.0, 1518 B 48.4 / 17.8
 * (without the caller's atomic). */
#define VU_TX_COPY_MAX 256u

enum zc_result { ZC_SENT, ZC_RING_FULL, ZC_DROPPED, ZC_COPY };

/* The zero header into a packet's headroom, unless it holds one already
 * (it does when the buffer went out this way before): the back-end read
 * that line, and a store would take it back from its cache. What is read
 * only decides whether to write. */
static inline void zc_hdr_zero(uint8_t *at)
{
	uint64_t a;
	uint32_t b;

	memcpy(&a, at, sizeof(a));
	memcpy(&b, at + sizeof(a), sizeof(b));
	if (a | b)
		memset(at, 0, VU_HDR_LEN);
}

/*
 * Post pkt (nseg segments, all in registered pools) by reference.
 *
 * The virtio-net header (VERSION_1: any descriptor layout, virtio 2.7.4)
 * goes into the packet's headroom when the packet is exclusively the
 * caller's (refcnt 1 before ours, one segment, 12 bytes of headroom): one
 * descriptor, as DPDK's can_push. Nobody else can be reading or writing
 * that headroom: any later holder sees refcnt >= 2, so treats the packet
 * as shared, and would take the separate header itself. Otherwise (shared,
 * chained) the header goes into the slot of the chain's head, ours alone,
 * as a descriptor of its own: writing a shared packet's headroom could
 * race another front-end pushing its own header there.
 */
static enum zc_result tx_zero_copy(struct vu_ring *r, struct vhost_pktbuf *pkt,
				   uint32_t nseg)
{
	bool push = nseg == 1 && pkt->data_off >= VU_HDR_LEN &&
		    vhost_pktbuf_refcnt_read(pkt) == 1;
	uint32_t ndesc = nseg + !push;
	struct virtio_net_hdr_mrg_rxbuf h;
	struct csum_fix fix;
	uint16_t head, d, k = 0;
	uint8_t *hdr_at;

	if (ndesc > r->size)
		return ZC_COPY; /* the copy path packs it into fewer */
	if (pkt->pkt_len > VHOST_PKTBUF_MAX_PKT_LEN) {
		r->st.too_big++;
		return ZC_DROPPED;
	}
	if (pkt->ol_flags) {
		if (!net_hdr_from_pkt(r->tx_features, pkt, &h, &fix)) {
			r->st.bad_hdr++;
			return ZC_DROPPED;
		}
		/* A checksum to write into the data: not into a packet the
		 * caller still owns; the copy gets it. */
		if (fix.on)
			return ZC_COPY;
		/* virtio 5.1.6.2.1: the driver sets neither DATA_VALID nor
		 * num_buffers. */
		h.hdr.flags &= (uint8_t)~VIRTIO_NET_HDR_F_DATA_VALID;
		h.num_buffers = 0;
	} else {
		memset(&h, 0, sizeof(h));
	}
	if (ndesc > r->nfree)
		return ZC_RING_FULL;
	head = vu_alloc_chain(r, (uint16_t)ndesc);
	d = head;
	if (push) {
		hdr_at = (uint8_t *)vhost_pktbuf_data(pkt) - VU_HDR_LEN;
		memcpy(hdr_at, &h, VU_HDR_LEN);
		vu_desc_write(r, head, 0, d, (uint64_t)(uintptr_t)hdr_at,
			      VU_HDR_LEN + pkt->data_len, false);
	} else {
		hdr_at = vu_slot(r, head);
		memcpy(hdr_at, &h, VU_HDR_LEN);
		r->hdr_set[head] = 1;
		vu_desc_write(r, head, k++, d, (uint64_t)(uintptr_t)hdr_at,
			      VU_HDR_LEN, true);
		for (const struct vhost_pktbuf *s = pkt; s; s = s->next) {
			d = r->next[d];
			vu_desc_write(r, head, k, d,
				      (uint64_t)(uintptr_t)vhost_pktbuf_data(s),
				      s->data_len, s->next != NULL);
			k++;
		}
	}
	/* Ours until the chain comes back (tx_reclaim) or the ring is reset
	 * (vu_ring_reset, vu_mem_fini). */
	vhost_pktbuf_refcnt_update(pkt, 1);
	r->zc[head] = pkt;
	vu_post(r, head);
	r->st.packets++;
	r->st.zero_copy++;
	r->st.bytes += pkt->pkt_len;
	return ZC_SENT;
}

/*
 * Split rings, the leading run of packets that are copied into one slot
 * each (one segment, no offload, not sent by reference): the common small
 * packet, with the ring's state in locals (stores through the arrays could
 * otherwise alias it). Each descriptor, avail entry and header is written
 * only when it changes (vu_ring.h). Returns the packets posted; the
 * caller's loop takes the rest.
 */
/* Not inlined: in a function of its own the ring's state stays in
 * registers (callgrind: 4 instructions a packet fewer). */
static __attribute__((noinline)) uint16_t
tx_split_copy_run(struct virtio_user *vu, struct vu_ring *r,
		  struct vhost_pktbuf *const *pkts, uint16_t n)
{
	uint16_t *next = r->next, *avail_sh = r->avail_sh;
	struct vu_head *heads = r->heads;
	uint8_t *slots = r->slots + VU_SLOT_PAD;
	uint32_t slot_len = r->slot_len, room = r->slot_room - VU_HDR_LEN;
	uint32_t copy_max = vu->npools ? VU_TX_COPY_MAX : UINT32_MAX;
	uint16_t mask = r->mask, fh = r->free_head, nf = r->nfree;
	uint16_t ai = r->avail_idx;
	uint32_t seq = r->seq;
	uint64_t bytes = 0;
	uint16_t i;

	for (i = 0; i < n && nf; i++) {
		const struct vhost_pktbuf *pkt = pkts[i];
		uint32_t dl = pkt->data_len;
		const uint8_t *src;
		uint8_t *dst;
		uint16_t d;

		if (pkt->ol_flags || pkt->next || dl > room || dl > copy_max)
			break;
		d = fh;
		fh = next[d];
		nf--;
		heads[d].ndesc = 1;
		heads[d].seq = seq++;
		dst = slots + (size_t)d * slot_len;
		tx_zero_hdr(r, d);
		src = vhost_pktbuf_data(pkt);
		/* A line's copy, fixed size (no call), when both sides have
		 * the room: bytes past the packet are the slot's own. */
		if (dl <= 64 && room >= 64 &&
		    (uint32_t)pkt->buf_len - pkt->data_off >= 64)
			memcpy(dst + VU_HDR_LEN, src, 64);
		else
			memcpy(dst + VU_HDR_LEN, src, dl);
		vu_split_desc_put(r, d, (uint64_t)(uintptr_t)dst,
				  VU_HDR_LEN + dl, 0, (uint16_t)(r->links[d] >> 16));
		vu_avail_put(r->avail, avail_sh, ai & mask, d);
		ai++;
		bytes += dl;
	}
	r->free_head = fh;
	r->nfree = nf;
	r->avail_idx = ai;
	r->seq = seq;
	r->st.packets += i;
	r->st.bytes += bytes;
	return i;
}

uint16_t virtio_user_tx_burst(struct virtio_user *vu, uint16_t qp,
			      struct vhost_pktbuf *const *pkts, uint16_t n)
{
	struct vu_ring *r = ring_get(vu, qp, true);
	uint16_t i, old;

	if (!burst_begin(r))
		return 0;
	if (tx_reclaim(r) < 0) {
		vu_ring_unlock(r);
		return 0;
	}
	old = r->avail_idx;
	i = r->packed ? 0 : tx_split_copy_run(vu, r, pkts, n);
	for (; i < n; i++) {
		const struct vhost_pktbuf *pkt = pkts[i];
		struct virtio_net_hdr_mrg_rxbuf h;
		struct csum_fix fix;
		uint32_t ndesc, nseg;
		uint16_t head;

		/* The common zero-copy packet: one segment of the caller's
		 * alone (refcnt 1), no offload: the zero header pushed into
		 * its headroom, one descriptor (tx_zero_copy says why). The
		 * count goes 1 -> 2 with a plain store: nobody else holds the
		 * packet, so nobody else can change it meanwhile. */
		if (vu->npools && pkt->pkt_len > VU_TX_COPY_MAX &&
		    !pkt->next && !pkt->ol_flags &&
		    pkt->data_off >= VU_HDR_LEN && pkt->data_len &&
		    zc_pool(vu, pkt->pool) &&
		    atomic_load_explicit(zc_refcnt(pkts[i]),
					 memory_order_relaxed) == 1) {
			uint8_t *at = (uint8_t *)vhost_pktbuf_data(pkt) - VU_HDR_LEN;

			if (!r->nfree)
				break;
			head = vu_alloc_chain(r, 1);
			zc_hdr_zero(at);
			vu_desc_write(r, head, 0, head, (uint64_t)(uintptr_t)at,
				      VU_HDR_LEN + pkt->data_len, false);
			atomic_store_explicit(zc_refcnt(pkts[i]), 2,
					      memory_order_relaxed);
			r->zc[head] = pkts[i];
			vu_post(r, head);
			r->st.packets++;
			r->st.zero_copy++;
			r->st.bytes += pkt->data_len;
			continue;
		}
		if (vu->npools && pkt->pkt_len > VU_TX_COPY_MAX &&
		    (nseg = zc_segs(vu, pkt))) {
			enum zc_result zr = tx_zero_copy(r, pkts[i], nseg);

			if (zr == ZC_RING_FULL)
				break;
			if (zr != ZC_COPY)
				continue;
		}

		/* The common packet: one segment, no offload, one buffer
		 * (its address is fixed: only length and flags change). */
		if (!pkt->ol_flags && !pkt->next &&
		    pkt->data_len <= r->slot_room - VU_HDR_LEN) {
			uint8_t *dst;

			if (!r->nfree)
				break;
			head = vu_alloc_chain(r, 1);
			dst = vu_slot(r, head);
			tx_zero_hdr(r, head);
			memcpy(dst + VU_HDR_LEN, vhost_pktbuf_data(pkt),
			       pkt->data_len);
			vu_desc_write(r, head, 0, head, (uint64_t)(uintptr_t)dst,
				      VU_HDR_LEN + pkt->data_len, false);
			vu_post(r, head);
			r->st.packets++;
			r->st.bytes += pkt->data_len;
			continue;
		}
		if (pkt->pkt_len > VHOST_PKTBUF_MAX_PKT_LEN ||
		    (ndesc = descs_for(r, VU_HDR_LEN + pkt->pkt_len)) > r->size) {
			r->st.too_big++;
			continue;
		}
		if (ndesc > r->nfree)
			break;
		if (!net_hdr_from_pkt(r->tx_features, pkt, &h, &fix)) {
			r->st.bad_hdr++;
			continue;
		}
		/* virtio 5.1.6.2.1: the driver sets neither DATA_VALID nor
		 * num_buffers. */
		h.hdr.flags &= (uint8_t)~VIRTIO_NET_HDR_F_DATA_VALID;
		h.num_buffers = 0;
		head = vu_alloc_chain(r, (uint16_t)ndesc);
		tx_fill(r, head, (uint16_t)ndesc, &h, pkt, &fix);
		vu_post(r, head);
		r->st.packets++;
		r->st.bytes += pkt->pkt_len;
	}
	if (r->avail_idx != old)
		vu_publish(r, old);
	else
		r->st.empty_polls++;
	vu_update_intr(r);
	vu_ring_unlock(r);
	return i;
}

/* A further buffer of a mergeable packet received in place: its data
 * starts where it was posted (no header in it), and it becomes the next
 * segment of pkt. true if the packet must be dropped (too many segments
 * or bytes); the buffer stays in zc[head] for the caller to release. */
static bool rx_chain_zc(struct vu_ring *r, uint16_t head,
			struct vhost_pktbuf *pkt, uint32_t len)
{
	struct vhost_pktbuf *seg = r->zc[head];

	if (!len)
		return false;
	seg->data_off = (uint16_t)(seg->data_off - VU_HDR_LEN);
	seg->data_len = (uint16_t)len;
	seg->pkt_len = len;
	if (vhost_pktbuf_chain(pkt, seg)) {
		seg->data_off = (uint16_t)(seg->data_off + VU_HDR_LEN);
		r->st.too_big++;
		return true;
	}
	r->zc[head] = NULL;
	return false;
}

/* Copy one received buffer into pkt. */
static int rx_copy(struct vhost_pktbuf *pkt, const uint8_t *src, uint32_t len)
{
	return len ? vhost_pktbuf_append_data(pkt, src, len) : 0;
}

/* The used entry rx_split_zc_run stopped at, read once: the general loop
 * takes it from here. */
struct rx_pending {
	bool on, hdr;           /* an entry; its header copied too */
	uint16_t head;
	uint32_t len;
	struct virtio_net_hdr_mrg_rxbuf h;
};

/*
 * Split rings, zero-copy: the leading run of used entries that are whole
 * packets received in place (one buffer, a header without offloads), with
 * the ring's state in locals. Each entry is checked as vu_used_entry does;
 * a bad one breaks the ring. At the first entry that needs more (several
 * buffers, offloads, a slot instead of a pktbuf, no room for a header) it
 * stops and hands what it read to the caller's loop (pend). Returns the
 * entries consumed; *got counts the packets.
 */
static uint16_t rx_split_zc_run(struct vu_ring *r, uint16_t qp, uint16_t n,
				uint16_t cnt, struct vhost_pktbuf **pkts,
				uint16_t *got, struct rx_pending *pend)
{
	const struct vring_used_elem *ring = r->used->ring;
	uint16_t *next = r->next;
	struct vu_head *heads = r->heads;
	struct vhost_pktbuf **zc = r->zc;
	uint16_t mask = r->mask, pos = r->last_used;
	struct vu_free f = vu_free_load(r);
	bool mrg = r->mrg;
	uint64_t bytes = 0;
	uint16_t i, g = 0;

	for (i = 0; i < cnt && g < n; i++, pos++) {
		const struct vring_used_elem *e = &ring[pos & mask];
		struct vhost_pktbuf *p;
		uint16_t id;
		uint32_t l;

		if (vu_used_check_split(r, pos & mask, VU_READ(e->id),
					VU_READ(e->len), &id, &l) < 0) {
			vu_ring_break(r, "used id not in flight or length past its buffer");
			break;
		}
		p = zc[id];
		pend->head = id;
		pend->len = l;
		if (!p || l < VU_HDR_LEN) {
			pend->on = true;
			break;
		}
		/* Copied once: the back-end may write it again meanwhile. */
		memcpy(&pend->h, (uint8_t *)vhost_pktbuf_data(p) - VU_HDR_LEN,
		       VU_HDR_LEN);
		if ((mrg && pend->h.num_buffers != 1) || pend->h.hdr.flags ||
		    pend->h.hdr.gso_type) {
			pend->on = pend->hdr = true;
			break;
		}
		zc[id] = NULL;
		p->data_len = (uint16_t)(l - VU_HDR_LEN);
		p->pkt_len = l - VU_HDR_LEN;
		p->queue = qp;
		pkts[g++] = p;
		bytes += l - VU_HDR_LEN;
		vu_free_append(next, mask, &f, id, id, 1);
		heads[id].ndesc = 0;
	}
	vu_free_store(r, &f);
	r->st.packets += g;
	r->st.zero_copy += g;
	r->st.bytes += bytes;
	*got = g;
	return i;
}

uint16_t virtio_user_rx_burst(struct virtio_user *vu, uint16_t qp,
			      struct vhost_pktbuf_pool *pool,
			      struct vhost_pktbuf **pkts, uint16_t n)
{
	struct rx_pending pend = { .on = false };
	struct vu_ring *r = ring_get(vu, qp, false);
	/* pkts[got..have) hold fresh buffers taken in one bulk call (copy
	 * mode only: in zero-copy mode the heads carry their own pktbufs). */
	uint16_t cnt, i = 0, got = 0, have = 0, old;
	bool zc;

	if (!burst_begin(r))
		return 0;
	/* Zero-copy when pool is ours to post and its buffers hold what a
	 * receive buffer must (a whole packet without MRG_RXBUF). */
	zc = vu->npools && zc_pool(vu, pool) &&
	     (r->mrg || vhost_pktbuf_pool_data_room(pool) >= vu->p.buf_len);
	/* Zero-copy refills first, with what the caller freed since the last
	 * burst, so a head mostly gets its own buffer again and its
	 * descriptor needs no write (rx_refill_zc). Refilled at the end, it
	 * would get the buffers of the burst before. */
	if (zc && r->nfree) {
		old = r->avail_idx;
		rx_refill_zc(r, pool);
		if (r->avail_idx != old)
			vu_publish(r, old);
	}
	if (vu_used_count(r, &cnt, n) < 0) {
		vu_ring_break(r, "used index ahead of the buffers posted");
		goto out;
	}
	if (cnt && n && !zc) {
		uint16_t want = cnt < n ? cnt : n;

		if (!vhost_pktbuf_alloc_bulk(pool, pkts, want))
			have = want;
	}
	if (zc && !r->packed)
		i = rx_split_zc_run(r, qp, n, cnt, pkts, &got, &pend);
	while (!r->broken && got < n && i < cnt) {
		struct virtio_net_hdr_mrg_rxbuf h;
		struct vhost_pktbuf *pkt;
		uint16_t head, nb = 1;
		uint32_t len, total;
		bool drop = false;

		if (pend.on) {
			/* Read by rx_split_zc_run, checked there. */
			head = pend.head;
			len = pend.len;
		} else if (vu_used_entry(r, i, &head, &len) < 0) {
			vu_ring_break(r, "used id not in flight or length past its buffer");
			break;
		}
		if (len < VU_HDR_LEN) {
			pend.on = false;
			/* No room for the header: nothing usable. */
			r->st.bad_hdr++;
			vu_zc_release(r, head);
			vu_free_chain(r, head);
			i++;
			continue;
		}
		/* Copied once: the back-end may write it again meanwhile. */
		if (pend.on && pend.hdr)
			h = pend.h;
		else
			memcpy(&h, r->zc[head] ? (uint8_t *)vhost_pktbuf_data(r->zc[head]) -
					VU_HDR_LEN : vu_slot(r, head), VU_HDR_LEN);
		pend.on = false;
		if (r->mrg) {
			nb = VU_READ(h.num_buffers);
			if (nb == 0 || nb > vu_inflight(r)) {
				vu_ring_break(r, "num_buffers past the buffers in flight");
				break;
			}
			/* The rest of the packet is not published yet. */
			if (nb > cnt - i)
				vu_used_extend(r, &cnt, (uint16_t)(i + nb));
			if (nb > cnt - i)
				break;
		}
		if (r->zc[head]) {
			/* Received in place: the header sat in its headroom. */
			pkt = r->zc[head];
			r->zc[head] = NULL;
			pkt->data_len = (uint16_t)(len - VU_HDR_LEN);
			pkt->pkt_len = len - VU_HDR_LEN;
			r->st.zero_copy++;
		} else if (!(pkt = got < have ? pkts[got] :
				   vhost_pktbuf_alloc(pool))) {
			r->st.no_pktbuf++;
			drop = true;
		} else if (len - VU_HDR_LEN <= vhost_pktbuf_tailroom(pkt)) {
			/* One segment: copy straight in. */
			memcpy(vhost_pktbuf_data(pkt), vu_slot(r, head) + VU_HDR_LEN,
			       len - VU_HDR_LEN);
			pkt->data_len = (uint16_t)(len - VU_HDR_LEN);
			pkt->pkt_len = len - VU_HDR_LEN;
		} else if (rx_copy(pkt, vu_slot(r, head) + VU_HDR_LEN,
				   len - VU_HDR_LEN)) {
			drop = true;
			r->st.too_big++;
		}
		total = len - VU_HDR_LEN;
		vu_free_chain(r, head);
		for (uint16_t k = 1; k < nb; k++) {
			if (vu_used_entry(r, (uint16_t)(i + k), &head, &len) < 0) {
				/* A stash buffer is freed with the stash. */
				if (got >= have)
					vhost_pktbuf_free(pkt);
				vu_used_consume(r, (uint16_t)(i + k));
				vu_ring_break(r, "used id not in flight or length past its buffer");
				goto done;
			}
			total += len;
			if (r->zc[head]) {
				if (!drop)
					drop = rx_chain_zc(r, head, pkt, len);
				vu_zc_release(r, head);
			} else if (!drop && rx_copy(pkt, vu_slot(r, head), len)) {
				r->st.too_big++;
				drop = true;
			}
			vu_free_chain(r, head);
		}
		i = (uint16_t)(i + nb);
		/* A header without offloads leaves the fresh metadata. */
		if (!drop && (h.hdr.flags || h.hdr.gso_type) &&
		    !net_hdr_to_pkt(r->rx_features, &h, total, pkt)) {
			r->st.bad_hdr++;
			drop = true;
		}
		if (drop) {
			vhost_pktbuf_free(pkt);
			if (got < have) {
				/* Its place in the stash gets a fresh buffer. */
				pkts[got] = vhost_pktbuf_alloc(pool);
				if (!pkts[got]) {
					vhost_pktbuf_free_bulk(pkts + got + 1,
							       (unsigned)(have - got - 1));
					have = got;
				}
			}
			continue;
		}
		if ((h.hdr.flags & VIRTIO_NET_HDR_F_DATA_VALID) &&
		    (r->rx_features >> VIRTIO_NET_F_CSUM & 1))
			pkt->ol_flags |= VHOST_PKT_F_CSUM_VALID;
		pkt->queue = qp;
		pkts[got++] = pkt;
		r->st.packets++;
		r->st.bytes += total;
	}
	vu_used_consume(r, i);
done:
	if (have > got)
		vhost_pktbuf_free_bulk(pkts + got, (unsigned)(have - got));
	if (!got)
		r->st.empty_polls++;
	if (!r->broken && r->nfree && !zc) {
		old = r->avail_idx;
		rx_refill(r);
		vu_publish(r, old);
	}
out:
	vu_update_intr(r);
	vu_ring_unlock(r);
	return got;
}

int virtio_user_gen_set_packet(struct virtio_user *vu, uint16_t qp,
			       const void *pkt, uint32_t len)
{
	struct vu_ring *r = ring_get(vu, qp, true);

	if (!r || len == 0 || VU_HDR_LEN + len > r->slot_room)
		return -EINVAL;
	while (!vu_ring_lock(r))
		;
	r->gen = true;
	r->gen_len = len;
	for (uint16_t i = 0; i < r->size; i++) {
		uint8_t *s = vu_slot(r, i);

		memset(s, 0, VU_HDR_LEN);
		r->hdr_set[i] = 0;
		memcpy(s + VU_HDR_LEN, pkt, len);
		if (!r->packed) {
			r->desc[i].addr = (uint64_t)(uintptr_t)s;
			r->desc[i].len = VU_HDR_LEN + len;
			r->desc[i].flags = 0;
			r->addrs[i] = (uint64_t)(uintptr_t)s;
			r->lens[i] = VU_HDR_LEN + len;
			r->links[i] = 0;
		}
	}
	r->post_len = VU_HDR_LEN + len;
	vu_ring_unlock(r);
	return 0;
}

uint16_t virtio_user_gen_tx(struct virtio_user *vu, uint16_t qp, uint16_t n)
{
	struct vu_ring *r = ring_get(vu, qp, true);
	uint16_t old, i;

	if (!r || !r->gen || !burst_begin(r))
		return 0;
	if (tx_reclaim(r) < 0) {
		vu_ring_unlock(r);
		return 0;
	}
	old = r->avail_idx;
	if (n > r->nfree)
		n = r->nfree;
	for (i = 0; i < n; i++)
		vu_post_prebuilt(r, vu_alloc_chain(r, 1));
	if (n) {
		vu_publish(r, old);
		r->st.packets += n;
		r->st.bytes += (uint64_t)n * r->gen_len;
	} else {
		r->st.empty_polls++;
	}
	vu_update_intr(r);
	vu_ring_unlock(r);
	return n;
}

uint16_t virtio_user_gen_rx(struct virtio_user *vu, uint16_t qp, uint16_t n,
			    uint64_t *bytes)
{
	struct vu_ring *r = ring_get(vu, qp, false);
	uint16_t cnt, i, head, old;
	uint64_t b = 0;
	uint32_t len;

	if (!burst_begin(r))
		return 0;
	if (vu_used_count(r, &cnt, n) < 0) {
		vu_ring_break(r, "used index ahead of the buffers posted");
		vu_ring_unlock(r);
		return 0;
	}
	if (cnt > n)
		cnt = n;
	for (i = 0; i < cnt; i++) {
		if (vu_used_entry(r, i, &head, &len) < 0) {
			vu_ring_break(r, "used id not in flight or length past its buffer");
			break;
		}
		b += len > VU_HDR_LEN ? len - VU_HDR_LEN : 0;
		vu_zc_release(r, head);
		vu_free_chain(r, head);
	}
	vu_used_consume(r, i);
	r->st.packets += i;
	r->st.bytes += b;
	if (bytes)
		*bytes += b;
	if (!i)
		r->st.empty_polls++;
	if (!r->broken && r->nfree) {
		old = r->avail_idx;
		rx_refill(r);
		vu_publish(r, old);
	}
	vu_update_intr(r);
	vu_ring_unlock(r);
	return i;
}
