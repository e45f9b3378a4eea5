/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench/micro: the cost of the burst functions alone, in-process, with no
 * peer and no other core involved. The test front-end sets up a device over
 * a real socket; this thread then plays the guest (posts buffers, reaps
 * used entries) and times only the library calls. Prints ns per packet for
 * enqueue and dequeue; under callgrind
 *   valgrind --tool=callgrind --toggle-collect=vhost_enqueue_burst \
 *            --toggle-collect=vhost_dequeue_burst build/bench/micro 64 1 20000
 * it gives instruction counts per call, which do not depend on the
 * machine's load (divide by the packets moved: iterations x 32).
 *
 * usage: micro [PKT_LEN=64] [MRG=1] [ITERATIONS=200000] [LOG=0] [PACKED=0]
 * LOG=1: as during a live migration (dirty log mapped, LOG_ALL, rings
 * logging), to measure what logging costs. PACKED=1: packed virtqueues
 * (the guest re-posts each descriptor per lap, outside the timed calls).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include <vhost/vhost.h>

#include "frontend.h"

#define RING 256
#define BURST 32

static struct vhost_dev *_Atomic the_dev;

static int on_new(struct vhost_dev *d)
{
	atomic_store(&the_dev, d);
	return 0;
}

static const struct vhost_device_ops ops = { .new_device = on_new };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	uint32_t len = argc > 1 ? (uint32_t)atoi(argv[1]) : 64;
	int mrg = argc > 2 ? atoi(argv[2]) : 1;
	long iters = argc > 3 ? atol(argv[3]) : 200000;
	int logging = argc > 4 ? atoi(argv[4]) : 0;
	int packed = argc > 5 ? atoi(argv[5]) : 0;
	uint8_t *log_view = NULL;
	int log_fd = -1;
	struct fe_opts o = { .ring_size = RING, .mem_size = 32u << 20 };
	struct vhost_pktbuf *pkts[BURST], *out[BURST];
	struct vhost_pktbuf_pool *pool;
	struct vhost_socket *s;
	struct vhost_ctx *ctx;
	struct vhost_dev *dev;
	struct fe fe;
	uint8_t *rxbuf, *txbuf;
	uint64_t t_enq = 0, t_deq = 0, n_enq = 0, n_deq = 0;
	char path[64];

	if (!mrg)
		o.features_mask = ~(1ull << VIRTIO_NET_F_MRG_RXBUF);
	o.packed = packed;
	vhost_log_set_level(VHOST_LOG_ERR);
	snprintf(path, sizeof(path), "/tmp/vhost-micro-%d.sock", getpid());
	ctx = vhost_ctx_create(NULL);
	if (!ctx || vhost_socket_register(ctx, path, 0, &s) ||
	    vhost_socket_set_ops(s, &ops, NULL) || vhost_socket_start(s))
		return 1;
	fe_init(&fe);
	if (fe_connect(&fe, path, 2000) || fe_handshake(&fe, &o))
		return 1;
	for (int i = 0; i < 2000 && !atomic_load(&the_dev); i++)
		usleep(1000);
	dev = atomic_load(&the_dev);
	if (!dev)
		return 1;
	/* A bitmap for all of guest physical memory up to its end. */
	if (logging && fe_start_logging(&fe, (FE_GPA_BASE + fe.mem_size) / 4096 / 8 + 1,
					&log_fd, &log_view))
		return 1;
	/* Guest buffers: RX 2 KiB each (or 10 KiB without mergeable for big
	 * packets), TX one packet each with a zero header. */
	uint32_t rx_len = mrg ? 2048 : (len + 12 > 2048 ? 10240 : 2048);
	rxbuf = fe_alloc(&fe, (uint64_t)RING * rx_len, 4096);
	txbuf = fe_alloc(&fe, (uint64_t)RING * (len + 12), 64);
	pool = vhost_pktbuf_pool_create("micro", 4096, 2048, 256);
	if (!rxbuf || !txbuf || !pool)
		return 1;
	for (int i = 0; i < RING && !packed; i++) {
		fe.vr[0].desc[i].addr = fe_gpa(&fe, rxbuf + (uint64_t)i * rx_len);
		fe.vr[0].desc[i].len = rx_len;
		fe.vr[0].desc[i].flags = VRING_DESC_F_WRITE;
		fe.vr[1].desc[i].addr = fe_gpa(&fe, txbuf + (uint64_t)i * (len + 12));
		fe.vr[1].desc[i].len = len + 12;
		fe.vr[1].desc[i].flags = 0;
		fe.vr[0].avail->ring[i] = (uint16_t)i;
		fe.vr[1].avail->ring[i] = (uint16_t)i;
		memset(txbuf + (uint64_t)i * (len + 12) + 12, 0x5a, len);
	}
	/* The guest asks for no interrupts: we measure the data path. */
	if (packed) {
		((struct vring_packed_desc_event *)fe.vr[0].avail)->flags =
			VRING_PACKED_EVENT_FLAG_DISABLE;
		((struct vring_packed_desc_event *)fe.vr[1].avail)->flags =
			VRING_PACKED_EVENT_FLAG_DISABLE;
		for (int i = 0; i < RING; i++)
			memset(txbuf + (uint64_t)i * (len + 12) + 12, 0x5a, len);
	} else {
		fe.vr[0].avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
		fe.vr[1].avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	}
	for (int i = 0; i < BURST; i++) {
		uint8_t *d;

		pkts[i] = vhost_pktbuf_alloc(pool);
		d = vhost_pktbuf_append(pkts[i], (uint16_t)(len > 2048 ? 2048 : len));
		memset(d, 0xa5, len > 2048 ? 2048 : len);
	}
	for (long it = 0; it < iters; it++) {
		uint64_t t0, t1, t2;
		uint16_t a, b;

		/* Guest: make 32 buffers available on each ring (the ring
		 * entries stay the same: in-order reuse). */
		for (int k = 0; packed && k < BURST; k++) {
			uint16_t pr = fe.vr[0].avail_idx, pt = fe.vr[1].avail_idx;
			struct fe_pbuf r = { fe_gpa(&fe, rxbuf + (uint64_t)pr * rx_len),
					     rx_len, VRING_DESC_F_WRITE };
			struct fe_pbuf t = { fe_gpa(&fe, txbuf + (uint64_t)pt * (len + 12)),
					     len + 12, 0 };

			fe_packed_post(&fe, 0, &r, 1, pr);
			fe_packed_post(&fe, 1, &t, 1, pt);
		}
		for (int q = 0; !packed && q < 2; q++)
			atomic_store_explicit(
				(_Atomic uint16_t *)&fe.vr[q].avail->idx,
				(uint16_t)(fe.vr[q].avail->idx + BURST),
				memory_order_release);
		t0 = now_ns();
		a = vhost_enqueue_burst(dev, 0, pkts, BURST);
		t1 = now_ns();
		b = vhost_dequeue_burst(dev, 1, pool, out, BURST);
		t2 = now_ns();
		vhost_pktbuf_free_bulk(out, b);
		t_enq += t1 - t0;
		t_deq += t2 - t1;
		n_enq += a;
		n_deq += b;
		if (a != BURST || b != BURST) {
			fprintf(stderr, "iteration %ld: enqueued %u dequeued %u\n",
				it, a, b);
			return 1;
		}
	}
	printf("len %u mrg %d%s%s: enqueue %.1f ns/pkt, dequeue %.1f ns/pkt (%lu packets each)\n",
	       len, mrg, logging ? " logging" : "", packed ? " packed" : "",
	       (double)t_enq / (double)n_enq,
	       (double)t_deq / (double)n_deq, (unsigned long)n_enq);
	vhost_pktbuf_free_bulk(pkts, BURST);
	fe_close(&fe);
	vhost_ctx_destroy(ctx);
	vhost_pktbuf_pool_destroy(pool);
	if (log_fd >= 0)
		close(log_fd);
	unlink(path);
	return 0;
}
