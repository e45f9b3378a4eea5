/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-switch in-process: the switch's own workers and device callbacks
 * (worker.c, port.c), with test front-ends (tests/lib/frontend.c) playing
 * the VMs over real sockets.
 *
 * - one VM per port: a second front-end on a port is refused at once while
 *   the first keeps moving packets;
 * - a packet the guest can never take (larger than its buffers) is dropped
 *   and counted, and every packet after it in the burst is still delivered;
 * - a VM that takes another port's MAC gets its frames dropped and counted,
 *   the victim keeps working; a MAC that moves between open ports is
 *   counted and logged, and followed;
 * - sw_quiesce waits for a worker inside a pass even while the switch
 *   stops (a device destroyed during shutdown is not freed under it), and
 *   a shutdown that destroys devices under traffic is clean (ASan).
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
#include "switch.h"

#define WAIT_MS 10000
#define NP 3
#define F(b) (1ull << (b))
#define RXQ 0
#define TXQ 1
#define HDR 12 /* VERSION_1: virtio_net_hdr_mrg_rxbuf */

static struct sw sw;
static char paths[NP][108];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ----------------------------------------------------------- the switch */

static void sw_up(unsigned nports)
{
	memset(&sw, 0, sizeof(sw));
	pthread_mutex_init(&sw.assign_lock, NULL);
	sw.macs = malloc(sizeof(*sw.macs));
	sw.pool = vhost_pktbuf_pool_create("switch", 4096, 2048, 256);
	sw.ctx = vhost_ctx_create(NULL);
	CHECK(sw.macs && sw.pool && sw.ctx);
	mac_table_init(sw.macs, 300);
	sw.nports = nports;
	for (unsigned i = 0; i < nports; i++) {
		struct sw_port *p = &sw.ports[i];

		snprintf(paths[i], sizeof(paths[i]), "/tmp/test_switch.%d.%u",
			 (int)getpid(), i);
		unlink(paths[i]);
		p->id = (uint16_t)i;
		p->kind = PORT_VHOST;
		p->name = paths[i];
		p->tap_fd = -1;
		atomic_store(&p->worker, -1);
		port_sec_init(&sw.sec[i]);
	}
	sw.nworkers = 1;
	sw.workers[0].id = 0;
	sw.workers[0].sw = &sw;
	sw.workers[0].cpu = -1;
}

static void sw_start(void)
{
	CHECK_EQ(pthread_create(&sw.workers[0].thread, NULL, sw_worker_main,
				&sw.workers[0]), 0);
	for (unsigned i = 0; i < sw.nports; i++)
		CHECK_EQ(sw_port_start(&sw, &sw.ports[i], false), 0);
}

/* As main() does: workers first, then the devices. */
static void sw_down(void)
{
	atomic_store(&sw.stop, true);
	pthread_join(sw.workers[0].thread, NULL);
	vhost_ctx_destroy(sw.ctx);
	CHECK_EQ(vhost_pktbuf_pool_avail(sw.pool), 4096);
	vhost_pktbuf_pool_destroy(sw.pool);
	free(sw.macs);
	pthread_mutex_destroy(&sw.assign_lock);
}

/* ------------------------------------------------------------ the guests */

struct guest {
	struct fe fe;
	uint16_t nd;           /* next free descriptor (both rings share) */
	uint8_t *buf[256];     /* RX buffer of each descriptor */
	uint8_t mac[6];
};

static bool wait_until(bool (*pred)(void *), void *arg)
{
	return fe_wait(pred, arg, WAIT_MS) == 0;
}

static bool port_is_up(void *arg)
{
	return atomic_load(&((struct sw_port *)arg)->up);
}

static bool g_connect(struct guest *g, unsigned port, uint64_t mask,
		      uint8_t id)
{
	struct fe_opts o = { .features_mask = mask, .mem_size = 4u << 20 };

	memset(g, 0, sizeof(*g));
	fe_init(&g->fe);
	memcpy(g->mac, (uint8_t[]){ 0x02, 0, 0, 0, 0, id }, 6);
	if (fe_connect(&g->fe, paths[port], WAIT_MS) ||
	    fe_handshake(&g->fe, &o))
		return false;
	return wait_until(port_is_up, &sw.ports[port]);
}

static uint16_t g_desc(struct guest *g, uint16_t q, void *p, uint32_t len,
		       uint16_t flags)
{
	struct fe_vring *vr = &g->fe.vr[q];
	uint16_t i = g->nd++ & (uint16_t)(vr->size - 1);

	vr->desc[i].addr = fe_gpa(&g->fe, p);
	vr->desc[i].len = len;
	vr->desc[i].flags = flags;
	vr->desc[i].next = 0;
	vr->avail->ring[vr->avail_idx++ & (vr->size - 1)] = i;
	return i;
}

static void g_publish(struct guest *g, uint16_t q)
{
	struct fe_vring *vr = &g->fe.vr[q];

	atomic_store_explicit((_Atomic uint16_t *)&vr->avail->idx,
			      vr->avail_idx, memory_order_release);
}

static uint16_t g_used(struct guest *g, uint16_t q)
{
	return atomic_load_explicit((_Atomic uint16_t *)&g->fe.vr[q].used->idx,
				    memory_order_acquire);
}

/* One frame (no offloads) to dst from g; not published. */
static void g_tx(struct guest *g, const uint8_t *dst, const uint8_t *src,
		 uint32_t len, uint8_t fill)
{
	uint8_t *b = fe_alloc(&g->fe, HDR + len, 8);

	memset(b, 0, HDR);
	memcpy(b + HDR, dst, 6);
	memcpy(b + HDR + 6, src, 6);
	b[HDR + 12] = 0x08;
	b[HDR + 13] = 0x00;
	memset(b + HDR + 14, fill, len - 14);
	g_desc(g, TXQ, b, HDR + len, 0);
}

static void g_rx_post(struct guest *g, unsigned n, uint32_t len)
{
	for (unsigned k = 0; k < n; k++) {
		uint8_t *b = fe_alloc(&g->fe, len, 8);
		uint16_t i = g_desc(g, RXQ, b, len, VRING_DESC_F_WRITE);

		g->buf[i] = b;
	}
	g_publish(g, RXQ);
}

/* The k-th frame g received: its length (without the header), and its
 * fill byte (byte 14). */
static uint32_t g_rx_frame(struct guest *g, uint16_t k, uint8_t *fill)
{
	struct vring_used_elem e = g->fe.vr[RXQ].used->ring[k & 255];

	*fill = e.id < 256 && g->buf[e.id] && e.len > HDR + 14 ?
			g->buf[e.id][HDR + 14] : 0;
	return e.len >= HDR ? e.len - HDR : 0;
}

struct used_wait {
	struct guest *g;
	uint16_t q, want;
};

static bool used_reached(void *arg)
{
	struct used_wait *w = arg;

	return (uint16_t)(g_used(w->g, w->q) - w->want) < 0x8000;
}

static bool wait_used(struct guest *g, uint16_t q, uint16_t want)
{
	struct used_wait w = { g, q, want };

	return wait_until(used_reached, &w);
}

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ------------------------------------------------------------------ tests */

/* A port is one VM: a second front-end is closed before any reply. */
static void test_one_vm_per_port(void)
{
	struct guest a, b, c;
	uint64_t f;
	uint8_t fill;

	sw_up(2);
	sw_start();
	CHECK(g_connect(&a, 0, 0, 1));
	CHECK(g_connect(&b, 1, 0, 2));
	fe_init(&c.fe);
	CHECK_EQ(fe_connect(&c.fe, paths[0], WAIT_MS), 0);
	CHECK(fe_get_u64(&c.fe, VHOST_USER_GET_FEATURES, &f) != 0);
	fe_close(&c.fe);
	CHECK_EQ(atomic_load(&sw.ports[0].connects), 1);
	/* The first VM still moves packets both ways. */
	g_rx_post(&b, 4, 2048);
	g_rx_post(&a, 4, 2048);
	g_tx(&a, b.mac, a.mac, 100, 0x11);
	g_publish(&a, TXQ);
	CHECK(wait_used(&b, RXQ, 1));
	CHECK_EQ(g_rx_frame(&b, 0, &fill), 100);
	CHECK_EQ(fill, 0x11);
	g_tx(&b, a.mac, b.mac, 200, 0x22);
	g_publish(&b, TXQ);
	CHECK(wait_used(&a, RXQ, 1));
	CHECK_EQ(g_rx_frame(&a, 0, &fill), 200);
	CHECK_EQ(fill, 0x22);
	fe_close(&a.fe);
	fe_close(&b.fe);
	sw_down();
}

/* Five frames B's buffers can never hold, then one that fits, in one
 * burst: the five are dropped (counted as unplaceable), the last arrives. */
static void test_unplaceable_then_next(void)
{
	struct guest a, b;
	uint8_t fill;

	sw_up(2);
	sw_start();
	CHECK(g_connect(&a, 0, 0, 1));
	/* No mergeable buffers: a frame must fit in one 1536-byte buffer. */
	CHECK(g_connect(&b, 1, ~F(VIRTIO_NET_F_MRG_RXBUF), 2));
	g_rx_post(&b, 8, 1536);
	for (int i = 0; i < 5; i++)
		g_tx(&a, b.mac, a.mac, 3000, (uint8_t)(0x30 + i));
	g_tx(&a, b.mac, a.mac, 300, 0x77);
	g_publish(&a, TXQ); /* one burst */
	CHECK(wait_used(&a, TXQ, 6));
	CHECK(wait_used(&b, RXQ, 1));
	CHECK_EQ(g_rx_frame(&b, 0, &fill), 300);
	CHECK_EQ(fill, 0x77);
	CHECK_EQ(atomic_load(&sw.ports[1].tx_unplaceable), 5);
	CHECK_EQ(atomic_load(&sw.ports[1].tx_packets), 1);
	CHECK_EQ(atomic_load(&sw.ports[1].tx_drops), 5);
	CHECK_EQ(atomic_load(&sw.ports[1].tx_no_room), 0);
	fe_close(&a.fe);
	fe_close(&b.fe);
	sw_down();
}

/* Port 0 allows only its MAC; port 1 (locked to its first MAC) takes
 * port 0's MAC: dropped and counted, port 0 keeps receiving. */
static void test_mac_steal(void)
{
	struct guest a, b, c;
	uint8_t fill;

	sw_up(3);
	CHECK_EQ(port_sec_allow(&sw.sec[0], (uint8_t[]){ 2, 0, 0, 0, 0, 1 }), 0);
	sw.sec[1].lock_first = true;
	sw_start();
	CHECK(g_connect(&a, 0, 0, 1));
	CHECK(g_connect(&b, 1, 0, 2));
	CHECK(g_connect(&c, 2, 0, 3));
	g_rx_post(&a, 8, 2048);
	g_rx_post(&c, 8, 2048);
	/* b speaks as itself (locks), a and c too. */
	g_tx(&b, bcast, b.mac, 60, 0x01);
	g_publish(&b, TXQ);
	CHECK(wait_used(&c, RXQ, 1));
	g_tx(&a, bcast, a.mac, 60, 0x02);
	g_publish(&a, TXQ);
	CHECK(wait_used(&c, RXQ, 2));
	/* b now sends as a, to c: c must never see it. */
	for (int i = 0; i < 5; i++)
		g_tx(&b, c.mac, a.mac, 60, 0x66);
	g_publish(&b, TXQ);
	CHECK(wait_used(&b, TXQ, 6));
	/* c asks for a: the reply goes to a, not to b. */
	g_tx(&c, a.mac, c.mac, 80, 0x33);
	g_publish(&c, TXQ);
	CHECK(wait_used(&a, RXQ, 2));
	CHECK_EQ(g_rx_frame(&a, 1, &fill), 80);
	CHECK_EQ(fill, 0x33);
	CHECK_EQ(g_used(&c, RXQ), 2);
	CHECK_EQ(atomic_load(&sw.sec[1].drop_spoof), 5);
	CHECK_EQ(atomic_load(&sw.ports[1].rx_drops), 5);
	CHECK_EQ(mac_table_lookup(sw.macs, 1, a.mac), 0);
	CHECK_EQ(atomic_load(&sw.sec[0].moves) + atomic_load(&sw.sec[1].moves), 0);
	fe_close(&a.fe);
	fe_close(&b.fe);
	fe_close(&c.fe);
	sw_down();
}

/* A MAC seen first on port 0, then on port 1 (open ports: a migration):
 * it moves, the move is counted on port 1 and logged once; frames to it
 * then go to port 1. */
static void test_mac_move(void)
{
	struct guest a, b;
	const uint8_t x[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	uint8_t fill;

	sw_up(2);
	sw_start();
	CHECK(g_connect(&a, 0, 0, 1));
	CHECK(g_connect(&b, 1, 0, 2));
	g_rx_post(&a, 4, 2048);
	g_rx_post(&b, 4, 2048);
	g_tx(&a, bcast, x, 60, 0x01);
	g_publish(&a, TXQ);
	CHECK(wait_used(&b, RXQ, 1));
	CHECK_EQ(mac_table_lookup(sw.macs, 1, x), 0);
	g_tx(&b, bcast, x, 60, 0x02);
	g_publish(&b, TXQ);
	CHECK(wait_used(&a, RXQ, 1));
	CHECK_EQ(mac_table_lookup(sw.macs, 1, x), 1);
	CHECK_EQ(atomic_load(&sw.sec[1].moves), 1);
	sw_log_events(&sw);
	CHECK_EQ(sw.moves_logged[1], 1);
	/* A frame to x now goes to port 1. */
	g_tx(&a, x, a.mac, 70, 0x03);
	g_publish(&a, TXQ);
	CHECK(wait_used(&b, RXQ, 2));
	CHECK_EQ(g_rx_frame(&b, 1, &fill), 70);
	CHECK_EQ(fill, 0x03);
	fe_close(&a.fe);
	fe_close(&b.fe);
	sw_down();
}

/* sw_quiesce against a worker inside a pass, with stop set: it must wait
 * for the pass to end (the device is freed when destroy_device returns). */
static _Atomic bool quiesced;

static void *quiesce_thread(void *arg)
{
	(void)arg;
	sw_quiesce(&sw);
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

	sw_up(1);
	atomic_store(&sw.workers[0].seq, 7); /* inside a pass */
	atomic_store(&sw.stop, true);
	atomic_store(&quiesced, false);
	CHECK_EQ(pthread_create(&t, NULL, quiesce_thread, NULL), 0);
	/* It may not return while the pass goes on: look for a while. */
	end = now_ms() + 300;
	while (now_ms() < end && !atomic_load(&quiesced))
		sched_yield();
	CHECK(!atomic_load(&quiesced));
	atomic_store(&sw.workers[0].seq, 8); /* the pass ends */
	CHECK(wait_until(is_quiesced, NULL));
	pthread_join(t, NULL);
	vhost_ctx_destroy(sw.ctx);
	vhost_pktbuf_pool_destroy(sw.pool);
	free(sw.macs);
}

/* Shutdown that destroys devices while the worker still runs and guests
 * still send (stop set first, devices destroyed before the join): under
 * ASan, a destroy_device that returned before the worker left the device
 * shows as a use after free. */
static _Atomic bool pumping;

static void *pump(void *arg)
{
	struct guest *g = arg;

	while (atomic_load(&pumping)) {
		struct fe_vring *vr = &g->fe.vr[TXQ];

		/* Keep the TX ring full of the same few frames. */
		if ((uint16_t)(vr->avail_idx - g_used(g, TXQ)) < 64) {
			uint16_t i = g->nd++ & 63;

			vr->avail->ring[vr->avail_idx++ & (vr->size - 1)] = i;
			g_publish(g, TXQ);
		} else {
			sched_yield();
		}
	}
	return NULL;
}

static void test_shutdown_under_traffic(void)
{
	for (int round = 0; round < 20; round++) {
		struct guest g[2];
		pthread_t t[2];
		bool ok = true;

		sw_up(2);
		sw_start();
		for (int i = 0; i < 2 && ok; i++)
			ok = g_connect(&g[i], (unsigned)i, 0, (uint8_t)(i + 1));
		CHECK(ok);
		if (!ok)
			break;
		for (int i = 0; i < 2; i++) {
			/* 64 TX frames in descriptors 0..63, reposted. */
			for (int k = 0; k < 64; k++) {
				uint8_t *b = fe_alloc(&g[i].fe, HDR + 64, 8);
				struct vring_desc *d = &g[i].fe.vr[TXQ].desc[k];

				memset(b, 0, HDR + 64);
				memcpy(b + HDR, g[i ^ 1].mac, 6);
				memcpy(b + HDR + 6, g[i].mac, 6);
				d->addr = fe_gpa(&g[i].fe, b);
				d->len = HDR + 64;
				d->flags = 0;
			}
			g[i].nd = 0;
			g_rx_post(&g[i], 200, 2048);
		}
		atomic_store(&pumping, true);
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, pump, &g[i]);
		CHECK(wait_used(&g[1], RXQ, 10));
		/* Stop, then destroy the devices while the worker may still be
		 * in its last pass. */
		atomic_store(&sw.stop, true);
		vhost_ctx_destroy(sw.ctx);
		pthread_join(sw.workers[0].thread, NULL);
		atomic_store(&pumping, false);
		for (int i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
			fe_close(&g[i].fe);
		}
		CHECK_EQ(vhost_pktbuf_pool_avail(sw.pool), 4096);
		vhost_pktbuf_pool_destroy(sw.pool);
		free(sw.macs);
	}
}

int main(void)
{
	int fds = fe_count_fds();

	signal(SIGPIPE, SIG_IGN);
	vhost_log_set_level(VHOST_LOG_WARNING);
	RUN(test_one_vm_per_port);
	RUN(test_unplaceable_then_next);
	RUN(test_mac_steal);
	RUN(test_mac_move);
	RUN(test_quiesce_during_stop);
	RUN(test_shutdown_under_traffic);
	CHECK_EQ(fe_count_fds(), fds); /* no fd left behind */
	return check_summary("switch");
}
