/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-fwd in-process (fwd.c: its socket set-up, worker and quiescence)
 * with test front-ends as VMs:
 * - offloads it cannot deliver are not offered: no HOST_TSO4/6 (it
 *   forwards unchanged and segments nothing); CSUM stays, and a partial
 *   checksum from one guest reaches a guest without GUEST_CSUM complete;
 * - fwd_quiesce waits for a worker inside a pass even while vhost-fwd
 *   stops (a device destroyed during shutdown is not freed under it);
 * - after a reconnect, in interrupt mode, a guest whose RX ring is already
 *   full of buffers (posted before the device started: it never kicks
 *   again) gets traffic at once: nothing waits for a kick (test
 *   front-ends never kick);
 * - two queue pairs: frames from TX queue q go to RX queue q of the other
 *   port, or, with that queue disabled, to an enabled one; per-queue
 *   counters agree; a port's own queue count overrides the default.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include <vhost/pktbuf.h>
#include <vhost/vhost.h>

#include "check.h"
#include "frontend.h"
#include "fwd.h"

#define WAIT_MS 10000
#define F(b) (1ull << (b))
#define RXQ 0
#define TXQ 1
#define HDR 12

static struct fwd f;
static char paths[2][108];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int cb_new(struct vhost_dev *dev)
{
	struct fwd_port *port = vhost_dev_socket_opaque(dev);

	atomic_store(&port->dev, dev);
	return 0;
}

static void cb_destroy(struct vhost_dev *dev)
{
	struct fwd_port *port = vhost_dev_socket_opaque(dev);

	atomic_store(&port->dev, NULL);
	fwd_port_rings_off(port);
	fwd_quiesce(&f);
}

static const struct vhost_device_ops ops = {
	.new_device = cb_new,
	.destroy_device = cb_destroy,
	.vring_state_changed = fwd_vring_state_changed,
};

/* Both ports with f.queues = 2; port 1's own queue count q1 (0: default). */
static void fwd_up_q(uint16_t q1)
{
	memset(&f, 0, sizeof(f));
	f.mode = MODE_IO;
	f.burst = 32;
	f.cpu = -1;
	f.pkt_len = 64;
	f.nports = 2;
	f.queues = 2;
	f.pool = vhost_pktbuf_pool_create("fwd", 1024, 2048, 256);
	f.ctx = vhost_ctx_create(NULL);
	CHECK(f.pool && f.ctx);
	for (int i = 0; i < 2; i++) {
		snprintf(paths[i], sizeof(paths[i]), "/tmp/test_fwd.%d.%d",
			 (int)getpid(), i);
		unlink(paths[i]);
		f.ports[i].id = i;
		f.ports[i].path = paths[i];
		f.ports[i].queues = i ? q1 : 0;
		CHECK_EQ(fwd_port_start(&f, &f.ports[i], 0, &ops), 0);
	}
}

static void fwd_up(void)
{
	fwd_up_q(0);
}

static void fwd_down(void)
{
	vhost_ctx_destroy(f.ctx);
	CHECK_EQ(vhost_pktbuf_pool_avail(f.pool), 1024);
	vhost_pktbuf_pool_destroy(f.pool);
}

static bool dev_up(void *arg)
{
	return atomic_load(&((struct fwd_port *)arg)->dev) != NULL;
}

static uint16_t used_idx(struct fe *fe, uint16_t q)
{
	return atomic_load_explicit((_Atomic uint16_t *)&fe->vr[q].used->idx,
				    memory_order_acquire);
}

struct used_wait {
	struct fe *fe;
	uint16_t q, want;
};

static bool used_reached(void *arg)
{
	struct used_wait *w = arg;

	return used_idx(w->fe, w->q) == w->want;
}

/* The worker counts a packet after the guest can see it: wait for the
 * counter, not just for the used ring. */
static bool counter_is_one(void *arg)
{
	return atomic_load((_Atomic uint64_t *)arg) == 1;
}

static void post(struct fe *fe, uint16_t q, void *p, uint32_t len,
		 uint16_t flags)
{
	struct fe_vring *vr = &fe->vr[q];
	uint16_t i = vr->avail_idx & (vr->size - 1);

	vr->desc[i].addr = fe_gpa(fe, p);
	vr->desc[i].len = len;
	vr->desc[i].flags = flags;
	vr->avail->ring[i] = i;
	vr->avail_idx++;
	atomic_store_explicit((_Atomic uint16_t *)&vr->avail->idx, vr->avail_idx,
			      memory_order_release);
}

static uint32_t sum16(const uint8_t *d, uint32_t len, uint32_t sum)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(d[i] << 8 | d[i + 1]);
	if (len & 1)
		sum += (uint32_t)d[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void test_offloads(void)
{
	struct fe a, b;
	struct fe_opts all = { .mem_size = 4u << 20 };
	struct fe_opts no_csum = { .mem_size = 4u << 20,
				   .features_mask = ~F(VIRTIO_NET_F_GUEST_CSUM) };
	uint64_t offered = 0;
	pthread_t worker;
	uint8_t *tx, *rx;
	const uint32_t len = 14 + 20 + 8 + 100;
	struct used_wait w;

	fwd_up();
	fe_init(&a);
	fe_init(&b);
	CHECK_EQ(fe_connect(&a, paths[0], WAIT_MS), 0);
	CHECK_EQ(fe_get_u64(&a, VHOST_USER_GET_FEATURES, &offered), 0);
	/* Segmentation it cannot do is not offered; checksums are. */
	CHECK(!(offered & F(VIRTIO_NET_F_HOST_TSO4)));
	CHECK(!(offered & F(VIRTIO_NET_F_HOST_TSO6)));
	CHECK(offered & F(VIRTIO_NET_F_CSUM));
	CHECK(offered & F(VIRTIO_NET_F_GUEST_TSO4));
	CHECK_EQ(fe_handshake(&a, &all), 0);
	CHECK(!(a.features & (F(VIRTIO_NET_F_HOST_TSO4) |
			      F(VIRTIO_NET_F_HOST_TSO6))));
	CHECK_EQ(fe_connect(&b, paths[1], WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&b, &no_csum), 0);
	CHECK_EQ(fe_wait(dev_up, &f.ports[0], WAIT_MS), 0);
	CHECK_EQ(fe_wait(dev_up, &f.ports[1], WAIT_MS), 0);
	CHECK_EQ(pthread_create(&worker, NULL, fwd_worker, &f), 0);
	/* A sends UDP with a partial checksum (seeded with the pseudo-header
	 * sum, as Linux does); B, without GUEST_CSUM, gets it complete. */
	rx = fe_alloc(&b, 2048, 8);
	post(&b, RXQ, rx, 2048, VRING_DESC_F_WRITE);
	tx = fe_alloc(&a, HDR + len, 8);
	memset(tx, 0, HDR + len);
	{
		struct virtio_net_hdr_mrg_rxbuf *h = (void *)tx;
		uint8_t *e = tx + HDR, *ip = e + 14, *udp = ip + 20;
		uint16_t seed;

		h->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->hdr.csum_start = 34;
		h->hdr.csum_offset = 6;
		memset(e, 0xff, 6);
		memcpy(e + 6, (uint8_t[]){ 2, 0, 0, 0, 0, 1 }, 6);
		e[12] = 0x08;
		ip[0] = 0x45;
		ip[3] = (uint8_t)(len - 14);
		ip[8] = 64;
		ip[9] = 17;
		memcpy(ip + 12, (uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
		udp[1] = 7;
		udp[3] = 9;
		udp[5] = (uint8_t)(len - 34);
		for (uint32_t i = 42; i < len; i++)
			e[i] = (uint8_t)(i * 13);
		seed = fold(sum16(ip + 12, 8, 17 + (len - 34)));
		udp[6] = (uint8_t)(seed >> 8);
		udp[7] = (uint8_t)seed;
	}
	post(&a, TXQ, tx, HDR + len, 0);
	w = (struct used_wait){ &b, RXQ, 1 };
	CHECK_EQ(fe_wait(used_reached, &w, WAIT_MS), 0);
	CHECK_EQ(b.vr[RXQ].used->ring[0].len, HDR + len);
	{
		uint8_t *ip = rx + HDR + 14, *udp = ip + 20;

		CHECK(udp[6] | udp[7]);
		/* pseudo-header + UDP sums to 0xffff: the checksum is right */
		CHECK_EQ(fold(sum16(udp, len - 34,
				    sum16(ip + 12, 8, 17 + (len - 34)))), 0xffff);
		CHECK_EQ(rx[HDR + len - 1], (uint8_t)((len - 1) * 13));
	}
	atomic_store(&f.stop, true);
	pthread_join(worker, NULL);
	fe_close(&a);
	fe_close(&b);
	fwd_down();
}

static _Atomic bool quiesced;

static void *quiesce_thread(void *arg)
{
	(void)arg;
	fwd_quiesce(&f);
	atomic_store(&quiesced, true);
	return NULL;
}

static bool is_quiesced(void *arg)
{
	(void)arg;
	return atomic_load(&quiesced);
}

static void test_quiesce_during_stop(void)
{
	pthread_t t;
	uint64_t end;

	memset(&f, 0, sizeof(f));
	atomic_store(&f.worker_seq, 5); /* the worker is inside a pass */
	atomic_store(&f.stop, true);
	CHECK_EQ(pthread_create(&t, NULL, quiesce_thread, NULL), 0);
	end = now_ms() + 300;
	while (now_ms() < end && !atomic_load(&quiesced))
		sched_yield();
	CHECK(!atomic_load(&quiesced));
	atomic_store(&f.worker_seq, 6); /* the pass ends */
	CHECK_EQ(fe_wait(is_quiesced, NULL, WAIT_MS), 0);
	pthread_join(t, NULL);
}

/* Connect fe to port p with its rings laid out first: `rx` RX buffers and
 * `tx` frames already posted, as a guest that reconnects has them;
 * SET_VRING_BASE says nothing of them was consumed. (TX frames posted
 * before the ring is enabled are discarded, per spec: the ring is started
 * at SET_VRING_KICK and enabled only after.) */
static void connect_prefilled(struct fe *fe, int p, uint16_t nvrings,
			      unsigned rx, unsigned tx, uint8_t **rxbufs)
{
	struct fe_opts o = { .mem_size = 4u << 20, .nvrings = nvrings };

	fe_init(fe);
	CHECK_EQ(fe_connect(fe, paths[p], WAIT_MS), 0);
	CHECK_EQ(fe_mem_init(fe, 4u << 20), 0);
	for (uint16_t q = 0; q < nvrings; q++)
		CHECK_EQ(fe_vring_alloc(fe, q, 256), 0);
	for (unsigned i = 0; i < rx; i++) {
		rxbufs[i] = fe_alloc(fe, 2048, 8);
		post(fe, RXQ, rxbufs[i], 2048, VRING_DESC_F_WRITE);
	}
	for (unsigned i = 0; i < tx; i++) {
		uint8_t *b = fe_alloc(fe, HDR + 60, 8);

		memset(b, 0, HDR + 60);
		memset(b + HDR, 0xff, 6);
		b[HDR + 14] = (uint8_t)(0x40 + i);
		post(fe, TXQ, b, HDR + 60, 0);
	}
	/* The back-end's base: nothing consumed yet. */
	fe->vr[RXQ].avail_idx = 0;
	fe->vr[TXQ].avail_idx = 0;
	CHECK_EQ(fe_handshake(fe, &o), 0);
	fe->vr[RXQ].avail_idx = (uint16_t)rx;
	fe->vr[TXQ].avail_idx = (uint16_t)tx;
}

static bool worker_slept(void *arg)
{
	(void)arg;
	return atomic_load(&f.idle_passes) > 2000;
}

static void test_reconnect_no_kick(void)
{
	struct fe a, b;
	uint8_t *rx[8];
	pthread_t worker;
	struct used_wait w;

	fwd_up();
	f.interrupt = true;
	CHECK_EQ(pthread_create(&worker, NULL, fwd_worker, &f), 0);
	/* A first session of B, gone. */
	fe_init(&b);
	CHECK_EQ(fe_connect(&b, paths[1], WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&b, &(struct fe_opts){ .mem_size = 4u << 20 }), 0);
	CHECK_EQ(fe_wait(dev_up, &f.ports[1], WAIT_MS), 0);
	fe_close(&b);
	/* The worker is idle, and sleeps on kick fds between looks. */
	CHECK_EQ(fe_wait(worker_slept, NULL, WAIT_MS), 0);
	/* B again, its RX ring full of buffers posted before its device
	 * started; A sends three frames. Nobody kicks. */
	connect_prefilled(&b, 1, 2, 8, 0, rx);
	connect_prefilled(&a, 0, 2, 0, 0, rx);
	CHECK_EQ(fe_wait(dev_up, &f.ports[0], WAIT_MS), 0);
	for (int i = 0; i < 3; i++) {
		uint8_t *t = fe_alloc(&a, HDR + 60, 8);

		memset(t, 0, HDR + 60);
		memset(t + HDR, 0xff, 6);
		t[HDR + 14] = (uint8_t)(0x40 + i);
		post(&a, TXQ, t, HDR + 60, 0);
	}
	w = (struct used_wait){ &b, RXQ, 3 };
	CHECK_EQ(fe_wait(used_reached, &w, WAIT_MS), 0);
	CHECK_EQ(rx[2][HDR + 14], 0x42);
	w = (struct used_wait){ &a, TXQ, 3 };
	CHECK_EQ(fe_wait(used_reached, &w, WAIT_MS), 0);
	atomic_store(&f.stop, true);
	pthread_join(worker, NULL);
	fe_close(&a);
	fe_close(&b);
	fwd_down();
}

/* Two queue pairs: A's TX queue 1 goes to B's RX queue 1; with B's RX
 * queue 1 disabled, to B's RX queue 0. */
static void test_two_queue_pairs(void)
{
	struct fe a, b;
	struct fe_opts o = { .mem_size = 4u << 20, .nvrings = 4 };
	uint8_t *rx0 = NULL, *rx1 = NULL, *tx;
	pthread_t worker;
	struct used_wait w;

	fwd_up();
	fe_init(&a);
	fe_init(&b);
	CHECK_EQ(fe_connect(&a, paths[0], WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&a, &o), 0);
	CHECK_EQ(fe_connect(&b, paths[1], WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&b, &o), 0);
	CHECK_EQ(fe_wait(dev_up, &f.ports[1], WAIT_MS), 0);
	CHECK_EQ(pthread_create(&worker, NULL, fwd_worker, &f), 0);
	for (int i = 0; i < 4; i++) {
		rx0 = fe_alloc(&b, 2048, 8);
		post(&b, 0, rx0, 2048, VRING_DESC_F_WRITE);
		rx1 = fe_alloc(&b, 2048, 8);
		post(&b, 2, rx1, 2048, VRING_DESC_F_WRITE);
	}
	tx = fe_alloc(&a, HDR + 60, 8);
	memset(tx, 0x5a, HDR + 60);
	memset(tx, 0, HDR);
	post(&a, 3, tx, HDR + 60, 0);
	w = (struct used_wait){ &b, 2, 1 };
	CHECK_EQ(fe_wait(used_reached, &w, WAIT_MS), 0);
	CHECK_EQ(used_idx(&b, 0), 0);
	CHECK_EQ(fe_wait(counter_is_one, &f.ports[0].q_rx_packets[1], WAIT_MS), 0);
	CHECK_EQ(fe_wait(counter_is_one, &f.ports[1].q_tx_packets[1], WAIT_MS), 0);
	/* B's RX queue 1 off: queue 1's traffic goes to RX queue 0. */
	CHECK_EQ(fe_vring_state(&b, VHOST_USER_SET_VRING_ENABLE, 2, 0), 0);
	CHECK_EQ(atomic_load(&f.ports[1].rxq_on), 0x1);
	post(&a, 3, tx, HDR + 60, 0);
	w = (struct used_wait){ &b, 0, 1 };
	CHECK_EQ(fe_wait(used_reached, &w, WAIT_MS), 0);
	CHECK_EQ(used_idx(&b, 2), 1);
	CHECK_EQ(fe_wait(counter_is_one, &f.ports[1].q_tx_packets[0], WAIT_MS), 0);
	atomic_store(&f.stop, true);
	pthread_join(worker, NULL);
	fe_close(&a);
	fe_close(&b);
	fwd_down();
}

/* --queues 2 for all, --socket PATH,queues=1 for port 1: MQ offered on
 * port 0 (two pairs), not on port 1. */
static void test_queues_per_port(void)
{
	struct fe a, b;
	uint64_t fa = 0, fb = 0, pf = 0, qn = 0;

	fwd_up_q(1);
	fe_init(&a);
	fe_init(&b);
	CHECK_EQ(fe_connect(&a, paths[0], WAIT_MS), 0);
	CHECK_EQ(fe_connect(&b, paths[1], WAIT_MS), 0);
	CHECK_EQ(fe_get_u64(&a, VHOST_USER_GET_FEATURES, &fa), 0);
	CHECK_EQ(fe_get_u64(&b, VHOST_USER_GET_FEATURES, &fb), 0);
	CHECK(fa & F(VIRTIO_NET_F_MQ));
	CHECK(!(fb & F(VIRTIO_NET_F_MQ)));
	CHECK_EQ(fe_get_u64(&a, VHOST_USER_GET_PROTOCOL_FEATURES, &pf), 0);
	CHECK_EQ(fe_set_u64(&a, VHOST_USER_SET_PROTOCOL_FEATURES, pf), 0);
	CHECK_EQ(fe_get_u64(&a, VHOST_USER_GET_QUEUE_NUM, &qn), 0);
	CHECK_EQ(qn, 2);
	fe_close(&a);
	fe_close(&b);
	fwd_down();
}

int main(void)
{
	int fds = fe_count_fds();

	signal(SIGPIPE, SIG_IGN);
	vhost_log_set_level(VHOST_LOG_WARNING);
	RUN(test_offloads);
	RUN(test_quiesce_during_stop);
	RUN(test_reconnect_no_kick);
	RUN(test_two_queue_pairs);
	RUN(test_queues_per_port);
	CHECK_EQ(fe_count_fds(), fds); /* no fd left behind */
	return check_summary("fwd");
}
