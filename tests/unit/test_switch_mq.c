/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-switch multiqueue in-process: its workers, scheduler and device
 * callbacks with test front-ends that set up two queue pairs.
 *
 * - both TX rings of both guests are polled, as four units over two
 *   workers (two each);
 * - traffic into a guest spreads over its two RX rings by flow: each flow
 *   on one ring, in order, both rings used; per-queue counters agree;
 * - the guest disables an RX ring: nothing more goes to it; it disables a
 *   TX ring: the unit leaves its worker (three units, loads 2/1) and what
 *   the guest posts there is not forwarded; enabled again, it is polled
 *   and forwarded again;
 * - units that leave a worker are out of its slots before the quiesce, and
 *   the call that took them does not return while the worker is still in
 *   a pass that began before (no threads, no devices: slots and sequence
 *   counts set by hand).
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
#define HDR 12
#define NFLOWS 16
#define PER_FLOW 4

static struct sw sw;
static char paths[2][108];

static void sw_up(void)
{
	memset(&sw, 0, sizeof(sw));
	pthread_mutex_init(&sw.assign_lock, NULL);
	sw.macs = malloc(sizeof(*sw.macs));
	sw.pool = vhost_pktbuf_pool_create("switch", 4096, 2048, 256);
	sw.ctx = vhost_ctx_create(NULL);
	CHECK(sw.macs && sw.pool && sw.ctx);
	mac_table_init(sw.macs, 300);
	sw.nports = 2;
	for (unsigned i = 0; i < 2; i++) {
		struct sw_port *p = &sw.ports[i];

		snprintf(paths[i], sizeof(paths[i]), "/tmp/test_switch_mq.%d.%u",
			 (int)getpid(), i);
		unlink(paths[i]);
		p->id = (uint16_t)i;
		p->kind = PORT_VHOST;
		p->name = paths[i];
		p->tap_fd = -1;
		p->queues = 2;
		atomic_store(&p->worker, -1);
		port_sec_init(&sw.sec[i]);
	}
	sw.nworkers = 2;
	for (int w = 0; w < 2; w++) {
		sw.workers[w].id = w;
		sw.workers[w].sw = &sw;
		sw.workers[w].cpu = -1;
		CHECK_EQ(pthread_create(&sw.workers[w].thread, NULL,
					sw_worker_main, &sw.workers[w]), 0);
	}
	for (unsigned i = 0; i < 2; i++)
		CHECK_EQ(sw_port_start(&sw, &sw.ports[i], false), 0);
}

static void sw_down(void)
{
	atomic_store(&sw.stop, true);
	for (int w = 0; w < 2; w++)
		pthread_join(sw.workers[w].thread, NULL);
	vhost_ctx_destroy(sw.ctx);
	CHECK_EQ(vhost_pktbuf_pool_avail(sw.pool), 4096);
	vhost_pktbuf_pool_destroy(sw.pool);
	free(sw.macs);
	pthread_mutex_destroy(&sw.assign_lock);
}

/* ------------------------------------------------------------ the guests */

struct guest {
	struct fe fe;
	uint16_t nd[4];        /* next descriptor of each ring */
	uint8_t *buf[4][256];  /* buffer of each descriptor */
	uint8_t mac[6];
};

static bool wait_until(bool (*pred)(void *), void *arg)
{
	return fe_wait(pred, arg, WAIT_MS) == 0;
}

static bool both_polled(void *arg)
{
	struct sw_port *p = arg;

	return atomic_load(&p->up) && atomic_load(&p->txq_on) == 0x3 &&
	       atomic_load(&p->rxq_on) == 0x3;
}

static bool g_connect(struct guest *g, unsigned port, uint8_t id)
{
	struct fe_opts o = { .mem_size = 4u << 20, .nvrings = 4 };

	memset(g, 0, sizeof(*g));
	fe_init(&g->fe);
	memcpy(g->mac, (uint8_t[]){ 0x02, 0, 0, 0, 0, id }, 6);
	if (fe_connect(&g->fe, paths[port], WAIT_MS) ||
	    fe_handshake(&g->fe, &o))
		return false;
	return wait_until(both_polled, &sw.ports[port]);
}

static void g_post(struct guest *g, uint16_t q, uint8_t *b, uint32_t len,
		   uint16_t flags)
{
	struct fe_vring *vr = &g->fe.vr[q];
	uint16_t i = g->nd[q]++ & (uint16_t)(vr->size - 1);

	vr->desc[i].addr = fe_gpa(&g->fe, b);
	vr->desc[i].len = len;
	vr->desc[i].flags = flags;
	vr->desc[i].next = 0;
	g->buf[q][i] = b;
	vr->avail->ring[vr->avail_idx++ & (vr->size - 1)] = i;
	atomic_store_explicit((_Atomic uint16_t *)&vr->avail->idx,
			      vr->avail_idx, memory_order_release);
}

static uint16_t g_used(struct guest *g, uint16_t q)
{
	return atomic_load_explicit((_Atomic uint16_t *)&g->fe.vr[q].used->idx,
				    memory_order_acquire);
}

/* UDP frame of flow `flow` (its source port), sequence seq at byte 42,
 * onto TX ring q. */
static void g_udp(struct guest *g, uint16_t q, const uint8_t *dst,
		  uint8_t flow, uint8_t seq)
{
	uint8_t *b = fe_alloc(&g->fe, HDR + 60, 8);
	uint8_t *e = b + HDR;

	memset(b, 0, HDR + 60);
	memcpy(e, dst, 6);
	memcpy(e + 6, g->mac, 6);
	e[12] = 0x08;
	e[14] = 0x45;
	e[23] = 17;
	memcpy(e + 26, (uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
	e[34] = 0x9c;
	e[35] = flow;
	e[37] = 53;
	e[42] = flow;
	e[43] = seq;
	g_post(g, q, b, HDR + 60, 0);
}

static void g_rx_post(struct guest *g, uint16_t q, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		g_post(g, q, fe_alloc(&g->fe, 2048, 8), 2048,
		       VRING_DESC_F_WRITE);
}

struct used_wait {
	struct guest *g;
	uint16_t q0, q1, want;
};

static bool used_sum(void *arg)
{
	struct used_wait *w = arg;

	return (uint16_t)(g_used(w->g, w->q0) + g_used(w->g, w->q1)) >= w->want;
}

static bool wait_used2(struct guest *g, uint16_t q0, uint16_t q1,
		       uint16_t want)
{
	struct used_wait w = { g, q0, q1, want };

	return wait_until(used_sum, &w);
}

/* Frames on RX ring q from index `from`: each flow seen on one ring only
 * (ring_of[flow]), in order (last[flow]). */
static void check_rx(struct guest *g, uint16_t q, uint16_t from, uint16_t to,
		     int *ring_of, int *last)
{
	for (uint16_t k = from; k != to; k++) {
		struct vring_used_elem e = g->fe.vr[q].used->ring[k & 255];
		uint8_t *b = e.id < 256 ? g->buf[q][e.id] : NULL;
		uint8_t flow, seq;

		CHECK(b && e.len == HDR + 60);
		if (!b)
			continue;
		flow = b[HDR + 42];
		seq = b[HDR + 43];
		CHECK(flow < NFLOWS);
		if (flow >= NFLOWS)
			continue;
		if (ring_of[flow] < 0)
			ring_of[flow] = q;
		CHECK_EQ(ring_of[flow], q);
		CHECK(seq > last[flow] || last[flow] < 0);
		last[flow] = seq;
	}
}

static unsigned units_total(unsigned *load)
{
	unsigned t = 0;

	for (int w = 0; w < 2; w++) {
		load[w] = atomic_load(&sw.workers[w].nunits);
		t += load[w];
	}
	return t;
}

struct mask_wait {
	_Atomic uint64_t *mask;
	uint64_t want;
};

static bool mask_is(void *arg)
{
	struct mask_wait *m = arg;

	return atomic_load(m->mask) == m->want;
}

static bool wait_mask(_Atomic uint64_t *mask, uint64_t want)
{
	struct mask_wait m = { mask, want };

	return wait_until(mask_is, &m);
}

static void test_mq_spread_and_enable(void)
{
	struct guest a, b;
	unsigned load[2];
	int ring_of[NFLOWS], last[NFLOWS];
	uint16_t r0, r1, total = NFLOWS * PER_FLOW;
	uint64_t a_q1;

	sw_up();
	CHECK(g_connect(&a, 0, 1));
	CHECK(g_connect(&b, 1, 2));
	/* Four units, two per worker. */
	CHECK_EQ(units_total(load), 4);
	CHECK_EQ(load[0], 2);
	CHECK_EQ(load[1], 2);
	g_rx_post(&b, 0, 200);
	g_rx_post(&b, 2, 200);
	/* Flows in order, sent on both of A's TX rings by flow parity. */
	for (uint8_t s = 0; s < PER_FLOW; s++)
		for (uint8_t fl = 0; fl < NFLOWS; fl++)
			g_udp(&a, (fl & 1) ? 3 : 1, b.mac, fl, s);
	CHECK(wait_used2(&b, 0, 2, total));
	r0 = g_used(&b, 0);
	r1 = g_used(&b, 2);
	CHECK_EQ((uint16_t)(r0 + r1), total);
	CHECK(r0 > 0 && r1 > 0); /* both RX queues carried flows */
	memset(ring_of, -1, sizeof(ring_of));
	memset(last, -1, sizeof(last));
	check_rx(&b, 0, 0, r0, ring_of, last);
	check_rx(&b, 2, 0, r1, ring_of, last);
	CHECK_EQ(atomic_load(&sw.ports[1].q_tx_packets[0]), r0);
	CHECK_EQ(atomic_load(&sw.ports[1].q_tx_packets[1]), r1);
	CHECK_EQ(atomic_load(&sw.ports[0].q_rx_packets[0]), total / 2);
	CHECK_EQ(atomic_load(&sw.ports[0].q_rx_packets[1]), total / 2);

	/* B turns its RX queue 1 off: every flow now goes to queue 0. */
	CHECK_EQ(fe_vring_state(&b.fe, VHOST_USER_SET_VRING_ENABLE, 2, 0), 0);
	CHECK(wait_mask(&sw.ports[1].rxq_on, 0x1));
	for (uint8_t fl = 0; fl < NFLOWS; fl++)
		g_udp(&a, 1, b.mac, fl, PER_FLOW);
	CHECK(wait_used2(&b, 0, 2, (uint16_t)(total + NFLOWS)));
	CHECK_EQ(g_used(&b, 2), r1);
	CHECK_EQ(g_used(&b, 0), (uint16_t)(r0 + NFLOWS));

	/* A turns its TX queue 1 off: its unit leaves (3 units, 2/1), and
	 * frames posted there are not forwarded. */
	CHECK_EQ(fe_vring_state(&a.fe, VHOST_USER_SET_VRING_ENABLE, 3, 0), 0);
	CHECK(wait_mask(&sw.ports[0].txq_on, 0x1));
	CHECK_EQ(units_total(load), 3);
	CHECK(load[0] + load[1] == 3 && load[0] >= 1 && load[1] >= 1);
	a_q1 = atomic_load(&sw.ports[0].q_rx_packets[1]);
	for (uint8_t fl = 0; fl < 4; fl++)
		g_udp(&a, 3, b.mac, fl, PER_FLOW + 1);
	/* A frame on queue 0 after them arrives: a pass went by. */
	g_udp(&a, 1, b.mac, 0, PER_FLOW + 1);
	CHECK(wait_used2(&b, 0, 2, (uint16_t)(total + NFLOWS + 1)));
	CHECK_EQ(atomic_load(&sw.ports[0].q_rx_packets[1]), a_q1);
	CHECK_EQ((uint16_t)(g_used(&b, 0) + g_used(&b, 2)),
		 (uint16_t)(total + NFLOWS + 1));

	/* Both back on: four units again, both RX queues used again. */
	CHECK_EQ(fe_vring_state(&a.fe, VHOST_USER_SET_VRING_ENABLE, 3, 1), 0);
	CHECK_EQ(fe_vring_state(&b.fe, VHOST_USER_SET_VRING_ENABLE, 2, 1), 0);
	CHECK(wait_mask(&sw.ports[0].txq_on, 0x3));
	CHECK(wait_mask(&sw.ports[1].rxq_on, 0x3));
	CHECK_EQ(units_total(load), 4);
	CHECK_EQ(load[0], 2);
	r0 = g_used(&b, 0);
	r1 = g_used(&b, 2);
	for (uint8_t fl = 0; fl < NFLOWS; fl++)
		g_udp(&a, 3, b.mac, fl, PER_FLOW + 2);
	CHECK(wait_used2(&b, 0, 2, (uint16_t)(r0 + r1 + NFLOWS)));
	CHECK(g_used(&b, 0) != r0 && g_used(&b, 2) != r1);
	CHECK(atomic_load(&sw.ports[0].q_rx_packets[1]) > a_q1);
	fe_close(&a.fe);
	fe_close(&b.fe);
	sw_down();
}

static _Atomic bool unassigned;

static void *unassign_thread(void *arg)
{
	sw_unassign_port(&sw, arg);
	atomic_store(&unassigned, true);
	return NULL;
}

static bool is_unassigned(void *arg)
{
	(void)arg;
	return atomic_load(&unassigned);
}

static unsigned held(int w)
{
	unsigned n = 0;

	for (unsigned i = 0; i < atomic_load(&sw.workers[w].nslots); i++)
		if (atomic_load(&sw.workers[w].units[i]))
			n++;
	return n;
}

static void test_leave_then_quiesce(void)
{
	struct sw_port *p = &sw.ports[0];
	pthread_t t;
	struct timespec ts;
	uint64_t end;

	memset(&sw, 0, sizeof(sw));
	pthread_mutex_init(&sw.assign_lock, NULL);
	sw.nports = 1;
	sw.nworkers = 2;
	p->kind = PORT_VHOST;
	atomic_store(&p->up, true);
	atomic_store(&p->txq_on, 0x3);
	sw_assign_port(&sw, p);
	CHECK_EQ(held(0), 1);
	CHECK_EQ(held(1), 1);
	/* Worker 1 is inside a pass: taking the port away must wait for it,
	 * with the units already out of every slot. */
	atomic_store(&sw.workers[1].seq, 7);
	atomic_store(&unassigned, false);
	CHECK_EQ(pthread_create(&t, NULL, unassign_thread, p), 0);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + 300;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 >= end ||
		    atomic_load(&unassigned))
			break;
		sched_yield();
	}
	CHECK(!atomic_load(&unassigned));
	CHECK_EQ(held(0) + held(1), 0);
	atomic_store(&sw.workers[1].seq, 8); /* the pass ends */
	CHECK(wait_until(is_unassigned, NULL));
	pthread_join(t, NULL);
	CHECK_EQ(atomic_load(&sw.workers[0].nunits) +
		 atomic_load(&sw.workers[1].nunits), 0);
	pthread_mutex_destroy(&sw.assign_lock);
}

int main(void)
{
	int fds = fe_count_fds();

	signal(SIGPIPE, SIG_IGN);
	vhost_log_set_level(VHOST_LOG_WARNING);
	RUN(test_mq_spread_and_enable);
	RUN(test_leave_then_quiesce);
	CHECK_EQ(fe_count_fds(), fds); /* no fd left behind */
	return check_summary("switch_mq");
}
