/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: arbitrary ring contents and descriptors in mapped guest
 * memory, run through both burst directions (descriptor walk, indirect
 * tables, header parse and build, mergeable buffers, notifications).
 *
 * A real device is set up once by the test front-end over a socket; each
 * input then rewrites both rings (descriptor tables, avail rings), a buffer
 * area, the ring indices and the negotiated data-path flags, and sends a
 * burst of packets whose metadata also comes from the input.
 *
 * Input: 16 control bytes, then bytes copied over RX desc+avail, TX
 * desc+avail, and the buffer area. Control bit 0x20 selects a second
 * device with packed rings (size 61, not a power of two): the input is
 * copied over its descriptor rings and driver event areas instead, and
 * the bases give positions and wrap counters; with bit 0x40 too, every
 * descriptor is made available (the input keeps NEXT, WRITE, INDIRECT) and
 * the packets have one segment, so runs of four single descriptors and
 * packets reach the batch paths. Descriptor
 * addresses with the top bit
 * clear are folded into guest memory so the fuzzer reaches valid buffers;
 * with it set they are used raw (anywhere, wrapping, unmapped).
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "device.h"
#include "frontend.h"
#include "socket.h"

#define RING 64
#define PRING 61
#define MEM (1u << 20)
#define BUF_AREA 16384

static struct vhost_ctx *ctx;
static struct vhost_dev *_Atomic the_dev, *_Atomic the_pdev;
static struct fe fe, pfe;
static struct vhost_pktbuf_pool *pool;
static uint8_t *bufs;

static int on_new(struct vhost_dev *d)
{
	if (vhost_dev_features(d) & (1ull << VIRTIO_F_RING_PACKED))
		atomic_store(&the_pdev, d);
	else
		atomic_store(&the_dev, d);
	return 0;
}

static const struct vhost_device_ops ops = { .new_device = on_new };

static void quiet(enum vhost_log_level l, const char *s)
{
	(void)l;
	(void)s;
}

static void setup(void)
{
	struct vhost_socket *s;
	char path[64];
	struct fe_opts o = { .ring_size = RING, .mem_size = MEM };
	struct fe_opts po = { .ring_size = PRING, .mem_size = MEM,
			      .packed = true };

	if (!getenv("FUZZ_VERBOSE"))
		vhost_log_set_handler(quiet);
	snprintf(path, sizeof(path), "/tmp/vhost-fuzz-vring-%d.sock", getpid());
	ctx = vhost_ctx_create(NULL);
	if (!ctx || vhost_socket_register(ctx, path, 0, &s) ||
	    vhost_socket_set_ops(s, &ops, NULL) || vhost_socket_start(s))
		abort();
	fe_init(&fe);
	if (fe_connect(&fe, path, 2000) || fe_handshake(&fe, &o))
		abort();
	fe_init(&pfe);
	if (fe_connect(&pfe, path, 2000) || fe_handshake(&pfe, &po))
		abort();
	for (int i = 0; i < 2000 && !(atomic_load(&the_dev) &&
				      atomic_load(&the_pdev)); i++)
		usleep(1000);
	if (!atomic_load(&the_dev) || !atomic_load(&the_pdev))
		abort();
	unlink(path);
	bufs = fe_alloc(&fe, BUF_AREA, 4096);
	pool = vhost_pktbuf_pool_create("fuzz", 4096, 2048, 64);
	if (!bufs || !pool)
		abort();
}

static const uint8_t *take(const uint8_t **d, size_t *left, size_t n)
{
	const uint8_t *p = *d;

	if (*left < n)
		return NULL;
	*d += n;
	*left -= n;
	return p;
}

static void fill(void *dst, size_t n, const uint8_t **d, size_t *left)
{
	size_t k = n < *left ? n : *left;

	memset(dst, 0, n);
	memcpy(dst, *d, k);
	*d += k;
	*left -= k;
}

static void fold_descs(struct vring_desc *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!(t[i].addr >> 63))
			t[i].addr = FE_GPA_BASE + (t[i].addr & (MEM - 1));
}

/* Set one ring's indices and data-path flags as if negotiated so. */
static void reset_vring(struct vhost_vring *vq, uint8_t flags, uint16_t base)
{
	vring_lock(vq);
	vq->mrg_rxbuf = flags & 1;
	vq->indirect = flags & 2;
	vq->event_idx = flags & 4;
	vq->hdr_len = (flags & 8) ? 10 : 12;
	vq->last_avail_idx = base;
	vq->last_used_idx = base;
	vq->signalled_used_valid = false;
	vq->broken = false;
	vq->access_ok = true;
	vring_unlock(vq);
}

/* The same for a packed ring: positions and wrap counters from base. */
static void reset_pvring(struct vhost_vring *vq, uint8_t flags, uint16_t base)
{
	reset_vring(vq, flags, 0);
	vring_lock(vq);
	vq->last_avail_idx = (uint16_t)((base & 0x7fff) % PRING);
	vq->last_used_idx = vq->last_avail_idx;
	vq->avail_wrap = vq->used_wrap = base >> 15;
	vring_unlock(vq);
}

static void fold_pdescs(struct vring_packed_desc *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!(t[i].addr >> 63))
			t[i].addr = FE_GPA_BASE + (t[i].addr & (MEM - 1));
}

/* Control bit 0x40 (packed): every descriptor's avail/used bits say
 * "available" for the lap the device reads it in (from base on: this lap;
 * before it: the next), so that runs of available descriptors, the batch
 * paths' input, are common; NEXT, WRITE and INDIRECT stay the input's. */
static void make_pavail(struct vring_packed_desc *t, uint16_t base)
{
	uint16_t start = (uint16_t)((base & 0x7fff) % PRING);
	bool w = base >> 15;

	for (unsigned i = 0; i < PRING; i++) {
		bool lap = i >= start ? w : !w;

		t[i].flags = (uint16_t)((t[i].flags & (VRING_DESC_F_NEXT |
						       VRING_DESC_F_WRITE |
						       VRING_DESC_F_INDIRECT)) |
					(lap ? 1u << VRING_PACKED_DESC_F_AVAIL :
					       1u << VRING_PACKED_DESC_F_USED));
	}
}

/* Only heads the guest made available reach the used ring: never one at
 * or beyond the ring size (such a head breaks the ring instead). Valid
 * only when the back-end wrote no packet into guest memory: a receive
 * buffer may overlap the guest's own used rings. */
static void check_used(const struct fe_vring *vr, uint16_t base)
{
	uint16_t end = __atomic_load_n(&vr->used->idx, __ATOMIC_ACQUIRE);

	for (uint16_t i = base; i != end; i++)
		if (vr->used->ring[i & (RING - 1)].id >= RING)
			abort();
}

static void check_pkt(const struct vhost_pktbuf *p)
{
	uint32_t sum = 0;
	unsigned segs = 0;

	for (const struct vhost_pktbuf *s = p; s; s = s->next) {
		sum += s->data_len;
		segs++;
	}
	if (sum != p->pkt_len || segs != p->nb_segs || p->pkt_len == 0)
		abort();
	if ((p->ol_flags & VHOST_PKT_F_CSUM_PARTIAL) &&
	    (uint32_t)p->csum_start + p->csum_offset + 2 > p->pkt_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *c = data;
	size_t left = size;
	struct vhost_dev *dev;
	struct vhost_pktbuf *pkts[32], *out[32];
	uint16_t npkts, base_rx, base_tx;
	const uint8_t *ctl;

	if (!ctx)
		setup();
	dev = atomic_load(&the_dev);
	ctl = take(&c, &left, 16);
	if (!ctl)
		return 0;
	base_rx = (uint16_t)(ctl[1] | ctl[2] << 8);
	base_tx = (uint16_t)(ctl[3] | ctl[4] << 8);
	npkts = ctl[5] & 31;

	if (ctl[0] & 32) {
		/* Packed: descriptor rings and driver event areas. */
		dev = atomic_load(&the_pdev);
		fill(pfe.vr[0].desc, 16 * PRING, &c, &left);
		fill(pfe.vr[0].avail, 4, &c, &left);
		fill(pfe.vr[1].desc, 16 * PRING, &c, &left);
		fill(pfe.vr[1].avail, 4, &c, &left);
		fold_pdescs((struct vring_packed_desc *)pfe.vr[0].desc, PRING);
		fold_pdescs((struct vring_packed_desc *)pfe.vr[1].desc, PRING);
		if (ctl[0] & 64) {
			make_pavail((struct vring_packed_desc *)pfe.vr[0].desc,
				    base_rx);
			make_pavail((struct vring_packed_desc *)pfe.vr[1].desc,
				    base_tx);
		}
		reset_pvring(&dev->vrings[0], ctl[0], base_rx);
		reset_pvring(&dev->vrings[1], ctl[0], base_tx);
	}
	/* The guest's side: rings and buffers. */
	fill(fe.vr[0].desc, 16 * RING, &c, &left);
	fill(fe.vr[0].avail, 6 + 2 * RING, &c, &left);
	fill(fe.vr[1].desc, 16 * RING, &c, &left);
	fill(fe.vr[1].avail, 6 + 2 * RING, &c, &left);
	fill(bufs, BUF_AREA, &c, &left);
	fold_descs(fe.vr[0].desc, RING);
	fold_descs(fe.vr[1].desc, RING);
	/* Indirect tables in the buffer area get the same folding. */
	fold_descs((struct vring_desc *)bufs, BUF_AREA / 16);
	if (!(ctl[0] & 32)) {
		reset_vring(&dev->vrings[0], ctl[0], base_rx);
		reset_vring(&dev->vrings[1], ctl[0], base_tx);
	}
	fe.vr[0].used->idx = base_rx;
	fe.vr[1].used->idx = base_tx;

	/* Host packets for the RX queue, metadata from the input. */
	for (uint16_t i = 0; i < npkts; i++) {
		const uint8_t *m = &ctl[6 + (i % 5)];
		/* 0x40 with packed: one-segment packets (batches). */
		uint32_t len = (ctl[0] & 96) == 96 ?
			       1 + ((uint32_t)m[0] * 37 + i * 97u) % 2048 :
			       1 + (uint32_t)m[0] * 37 + (i * 977u) % 9000;

		pkts[i] = vhost_pktbuf_alloc(pool);
		if (!pkts[i] || vhost_pktbuf_append_data(pkts[i], bufs + (i * 64),
							 len > 4096 ? 4096 : len)) {
			npkts = i;
			if (pkts[i])
				vhost_pktbuf_free(pkts[i]);
			break;
		}
		if (len > 4096) {
			uint8_t zero[512] = { 0 };

			for (uint32_t k = 4096; k < len; k += 512)
				if (vhost_pktbuf_append_data(pkts[i], zero,
					len - k < 512 ? len - k : 512))
					break;
		}
		pkts[i]->ol_flags = m[1] & 0xf;
		pkts[i]->csum_start = (uint16_t)(m[2] * 3);
		pkts[i]->csum_offset = m[3] & 0x1f;
		pkts[i]->gso_type = m[4] % 6;
		pkts[i]->gso_size = (uint16_t)(m[5] * 11);
	}
	if (ctl[0] & 16) {
		uint16_t n = vhost_dequeue_burst(dev, 1, pool, out, 32);

		for (uint16_t i = 0; i < n; i++)
			check_pkt(out[i]);
		vhost_pktbuf_free_bulk(out, n);
		vhost_enqueue_burst(dev, 0, pkts, npkts);
	} else {
		uint16_t n;

		vhost_enqueue_burst(dev, 0, pkts, npkts);
		n = vhost_dequeue_burst(dev, 1, pool, out, 32);
		for (uint16_t i = 0; i < n; i++)
			check_pkt(out[i]);
		vhost_pktbuf_free_bulk(out, n);
	}
	vhost_pktbuf_free_bulk(pkts, npkts);
	if (!npkts && !(ctl[0] & 32))
		check_used(&fe.vr[1], base_tx);
	/* Every buffer went back. */
	if (vhost_pktbuf_pool_avail(pool) != vhost_pktbuf_pool_count(pool))
		abort();
	return 0;
}
