/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the virtio-user front-end's parsing of what a
 * back-end writes: its replies during the handshake, and the used rings
 * (indices, ids, lengths) and receive headers in shared memory.
 *
 * Input byte 0 picks the part:
 *  - even: the rest is the byte stream the back-end sends on the socket
 *    (replies to GET_FEATURES, GET_PROTOCOL_FEATURES, acks ...), then it
 *    hangs up; vu_negotiate() runs against it.
 *  - odd: byte 1 sets the features (bit 0 MRG_RXBUF, bit 1 EVENT_IDX,
 *    bit 2 CSUM+GUEST_CSUM, bit 3 RING_PACKED, bit 4 zero-copy: a
 *    front-end with a shared pool registered, receive buffers its pktbufs,
 *    transmitted packets by reference), byte 2 how many packets
 *    are transmitted first; the rest is copied over both used rings (idx
 *    and entries; packed: the whole descriptor ring, flags, ids and
 *    lengths, and the device event area) and then over receive buffer
 *    headers; then every burst runs twice. The
 *    front-end's own bookkeeping must stay consistent (free counts within
 *    the ring, every packet buffer back in the pool).
 */
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vhost/vhost.h>

#include "virtio_user/vu_ring.h"

#define QSIZE 64

static struct virtio_user *vu_copy, *vu_zc;
static struct vhost_pktbuf_pool *cpool, *zpool;

static void init(void)
{
	struct virtio_user_params p = { .path = "/nonexistent/fuzz.sock",
					.queue_size = QSIZE };

	vhost_log_set_level(VHOST_LOG_ERR);
	vu_copy = virtio_user_create(&p);
	cpool = vhost_pktbuf_pool_create("fuzz", 2048, 2048, 0);
	zpool = vhost_pktbuf_pool_create_shared("fuzz-zc", 2048, 2048, 0);
	p.pools = &zpool;
	p.npools = 1;
	vu_zc = zpool ? virtio_user_create(&p) : NULL;
	if (!vu_copy || !cpool || !vu_zc)
		abort();
}

static void fuzz_replies(const uint8_t *d, size_t n)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return;
	/* Bounded by the socket buffer: larger inputs are cut. */
	if (n > 100000)
		n = 100000;
	if (n && send(sv[1], d, n, MSG_DONTWAIT) < 0) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	shutdown(sv[1], SHUT_WR);
	(void)vu_negotiate(vu_copy, sv[0]);
	close(sv[0]);
	close(sv[1]);
}

static void fuzz_rings(const uint8_t *d, size_t n)
{
	/* Bit 4: the zero-copy front-end (its shared pool registered). */
	bool zc = n && (d[0] & 16);
	struct virtio_user *vu = zc ? vu_zc : vu_copy;
	struct vhost_pktbuf_pool *pool = zc ? zpool : cpool;
	/* Zero-copy transmits only packets of more than 256 bytes. */
	uint16_t tx_len = zc ? 300 : 100;
	struct vu_ring *rx = &vu->rings[0], *tx = &vu->rings[1];
	struct vhost_pktbuf *p[QSIZE];
	uint64_t f = 1ull << VIRTIO_F_VERSION_1, bytes = 0;
	uint16_t k;

	if (n < 2)
		return;
	if (d[0] & 1)
		f |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
	if (d[0] & 2)
		f |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	if (d[0] & 4)
		f |= 1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM;
	if (d[0] & 8)
		f |= 1ull << VIRTIO_F_RING_PACKED;
	/* Bit 5: IN_ORDER (split only: transmit used entries go unread). */
	if (d[0] & 32)
		f |= 1ull << VIRTIO_F_IN_ORDER;
	k = d[1] % QSIZE;
	d += 2;
	n -= 2;
	for (int i = 0; i < 2; i++) {
		struct vu_ring *r = &vu->rings[i];

		r->packed = f >> VIRTIO_F_RING_PACKED & 1;
		vu_ring_reset(r);
		vu_ring_set_features(r, f);
		r->gen = false;
		r->ready = true;
	}
	/* Zero-copy: the receive ring filled with pktbufs of the pool (the
	 * first burst finds no used entry, then refills). */
	if (zc)
		virtio_user_rx_burst(vu, 0, pool, p, QSIZE);
	else
		vu_ring_post_rx(rx);
	if (vhost_pktbuf_alloc_bulk(pool, p, k ? k : 1) == 0) {
		for (uint16_t i = 0; i < (k ? k : 1); i++)
			memset(vhost_pktbuf_append(p[i], tx_len), 0x5a, tx_len);
		virtio_user_tx_burst(vu, 0, p, k);
		vhost_pktbuf_free_bulk(p, k ? k : 1);
	}
	/* Used rings: idx, then entries, RX first. */
	for (int i = 0; i < 2 && n; i++) {
		struct vu_ring *r = &vu->rings[i];
		size_t len = r->packed ? 16u * QSIZE : 4 + 8u * QSIZE;

		if (len > n)
			len = n;
		memcpy(r->packed ? (void *)r->pdesc : (void *)r->used, d, len);
		d += len;
		n -= len;
		if (r->packed && n >= 4) {
			memcpy(r->dev_event, d, 4);
			d += 4;
			n -= 4;
		}
	}
	/* Receive headers (num_buffers, flags, csum fields). */
	for (uint16_t h = 0; h < QSIZE && n; h++) {
		size_t len = n < VU_HDR_LEN ? n : VU_HDR_LEN;

		memcpy(rx->zc[h] ? (uint8_t *)vhost_pktbuf_data(rx->zc[h]) -
			       VU_HDR_LEN : vu_slot(rx, h), d, len);
		d += len;
		n -= len;
	}
	for (int round = 0; round < 2; round++) {
		uint16_t got = virtio_user_rx_burst(vu, 0, pool, p, QSIZE);

		vhost_pktbuf_free_bulk(p, got);
		virtio_user_gen_rx(vu, 0, QSIZE, &bytes);
		if (vhost_pktbuf_alloc_bulk(pool, p, 4) == 0) {
			for (int i = 0; i < 4; i++)
				memset(vhost_pktbuf_append(p[i], tx_len), 1, tx_len);
			virtio_user_tx_burst(vu, 0, p, 4);
			vhost_pktbuf_free_bulk(p, 4);
		}
	}
	if (rx->nfree > rx->size || tx->nfree > tx->size)
		abort();
	/* Zero-copy: what the rings still hold goes back with a reset. */
	if (zc) {
		vu_ring_reset(rx);
		vu_ring_reset(tx);
	}
	/* Every packet buffer back in the pool (no cache: exact). */
	if (vhost_pktbuf_pool_avail(pool) != vhost_pktbuf_pool_count(pool))
		abort();
	rx->ready = tx->ready = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!vu_copy)
		init();
	if (n < 1)
		return 0;
	if (d[0] & 1)
		fuzz_rings(d + 1, n - 1);
	else
		fuzz_replies(d + 1, n - 1);
	return 0;
}
