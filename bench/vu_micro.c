/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench/vu_micro: the cost of the front-end's burst functions alone,
 * in-process: our virtio-user front-end attached to our back-end over a
 * real socket, one thread playing both sides in turn:
 *   virtio_user_tx_burst -> vhost_dequeue_burst -> vhost_enqueue_burst ->
 *   virtio_user_rx_burst
 * and timing each call. Prints ns per packet for the two front-end calls
 * (and the generator's), and for the back-end's for comparison. Under
 * callgrind
 *   valgrind --tool=callgrind --toggle-collect=virtio_user_tx_burst \
 *            --toggle-collect=virtio_user_rx_burst build/bench/vu_micro 64 20000
 * it gives instruction counts, which do not depend on the machine's load
 * (divide by iterations x 32).
 *
 * usage: vu_micro [PKT_LEN=64] [ITERATIONS=200000] [zc]
 * zc: the packets come from a shared pool registered with the front-end,
 * so they are sent (and received, with the pool given to rx_burst) by
 * reference instead of copied.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vhost/vhost.h>
#include <vhost/virtio_user.h>

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
	long iters = argc > 2 ? atol(argv[2]) : 200000;
	char path[64];
	struct vhost_ctx *ctx = vhost_ctx_create(NULL);
	struct vhost_socket *sock;
	bool zc = argc > 3 && !strcmp(argv[3], "zc");
	struct vhost_pktbuf_pool *pool =
		zc ? vhost_pktbuf_pool_create_shared("m", 4096, 2048, 256) :
		     vhost_pktbuf_pool_create("m", 4096, 2048, 256);
	struct virtio_user_params p = { .path = path, .pools = &pool,
					.npools = zc };
	struct virtio_user *vu;
	struct vhost_pktbuf *tx[BURST], *q[BURST];
	uint64_t t_tx = 0, t_rx = 0, t_deq = 0, t_enq = 0, moved = 0, t0;
	uint8_t tmpl[2048] = { 0 };

	if (len < 60 || len > 2048 || !ctx || !pool)
		return 2;
	snprintf(path, sizeof(path), "/tmp/vu_micro.%d.sock", getpid());
	vhost_log_set_level(VHOST_LOG_ERR);
	if (vhost_socket_register(ctx, path, 0, &sock) ||
	    vhost_socket_set_ops(sock, &ops, NULL) || vhost_socket_start(sock))
		return 1;
	vu = virtio_user_create(&p);
	if (!vu || virtio_user_start(vu) || virtio_user_wait_ready(vu, 5000))
		return 1;
	while (!atomic_load(&the_dev))
		usleep(1000);
	if (vhost_pktbuf_alloc_bulk(pool, tx, BURST))
		return 1;
	for (int i = 0; i < BURST; i++) {
		memset(vhost_pktbuf_append(tx[i], (uint16_t)len), 0x11, len);
		tx[i]->ol_flags = 0;
	}
	for (long it = 0; it < iters; it++) {
		uint16_t n, k;

		t0 = now_ns();
		n = virtio_user_tx_burst(vu, 0, tx, BURST);
		t_tx += now_ns() - t0;
		t0 = now_ns();
		k = vhost_dequeue_burst(atomic_load(&the_dev), 1, pool, q, BURST);
		t_deq += now_ns() - t0;
		t0 = now_ns();
		vhost_enqueue_burst(atomic_load(&the_dev), 0, q, k);
		t_enq += now_ns() - t0;
		vhost_pktbuf_free_bulk(q, k);
		t0 = now_ns();
		k = virtio_user_rx_burst(vu, 0, pool, q, BURST);
		t_rx += now_ns() - t0;
		vhost_pktbuf_free_bulk(q, k);
		moved += n;
	}
	printf("%u bytes, %llu packets: front-end tx %.1f ns/pkt, rx %.1f ns/pkt; "
	       "back-end dequeue %.1f, enqueue %.1f ns/pkt\n", len,
	       (unsigned long long)moved, (double)t_tx / moved,
	       (double)t_rx / moved, (double)t_deq / moved, (double)t_enq / moved);
	/* The generator: prebuilt packets, nothing copied. */
	memset(tmpl, 0x22, len);
	virtio_user_gen_set_packet(vu, 0, tmpl, len);
	t_tx = 0;
	moved = 0;
	for (long it = 0; it < iters; it++) {
		uint16_t k;

		t0 = now_ns();
		moved += virtio_user_gen_tx(vu, 0, BURST);
		t_tx += now_ns() - t0;
		k = vhost_dequeue_burst(atomic_load(&the_dev), 1, pool, q, BURST);
		vhost_pktbuf_free_bulk(q, k);
	}
	printf("generator tx %.1f ns/pkt\n", moved ? (double)t_tx / moved : 0.0);
	vhost_pktbuf_free_bulk(tx, BURST);
	virtio_user_destroy(vu);
	vhost_ctx_destroy(ctx);
	vhost_pktbuf_pool_destroy(pool);
	return 0;
}
