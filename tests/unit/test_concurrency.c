/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control plane against a running data path, for ThreadSanitizer (the
 * unit suite runs in the TSan build too): a guest thread keeps both rings
 * busy (it recycles every used buffer), a data thread loops packets from
 * TX to RX, and the control plane meanwhile stops and restarts rings,
 * disables and enables them, resets the owner, reads statistics, and
 * finally unregisters the socket under traffic. The application quiesces
 * its data thread in destroy_device, as a real one must.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <vhost/pktbuf.h>
#include <vhost/vhost.h>

#include "check.h"
#include "frontend.h"

#define WAIT_MS 2000
#define RING 256
#define POOL_N 1024u

static struct vhost_ctx *ctx;
static struct vhost_pktbuf_pool *pool;
static char sock_path[108];
static struct vhost_socket *sock;
static struct fe fe;

static _Atomic int n_new_dev, n_destroy_dev, n_destroy_conn;
static struct vhost_dev *_Atomic active;  /* the data thread's device */
static struct vhost_dev *_Atomic conn_dev; /* until destroy_connection */
static _Atomic int in_burst;              /* the data thread holds it */
static _Atomic bool stop_threads;
static _Atomic uint64_t moved;            /* packets looped TX -> RX */

static int cb_new_device(struct vhost_dev *dev)
{
	n_new_dev++;
	atomic_store(&conn_dev, dev);
	atomic_store(&active, dev);
	return 0;
}

/* Quiesce: after this the data thread never touches dev again (seq_cst
 * store of NULL against its seq_cst in_burst / active pair). */
static void cb_destroy_device(struct vhost_dev *dev)
{
	(void)dev;
	atomic_store(&active, NULL);
	while (atomic_load(&in_burst))
		sched_yield();
	n_destroy_dev++;
}

static void cb_destroy_connection(struct vhost_dev *dev)
{
	(void)dev;
	n_destroy_conn++;
}

static const struct vhost_device_ops ops = {
	.new_device = cb_new_device,
	.destroy_device = cb_destroy_device,
	.destroy_connection = cb_destroy_connection,
};

static _Atomic int *wait_var;
static int wait_value;

static bool reached(void *arg)
{
	(void)arg;
	return atomic_load(wait_var) >= wait_value;
}

static bool wait_for(_Atomic int *v, int value)
{
	wait_var = v;
	wait_value = value;
	return fe_wait(reached, NULL, WAIT_MS) == 0;
}

static uint64_t moved_goal;

static bool moved_enough(void *arg)
{
	(void)arg;
	return atomic_load(&moved) >= moved_goal;
}

/* Wait until n more packets went round. */
static bool traffic(uint64_t n)
{
	moved_goal = atomic_load(&moved) + n;
	if (fe_wait(moved_enough, NULL, WAIT_MS) == 0)
		return true;
	for (uint16_t q = 0; q < 2; q++) {
		struct vhost_vring_stats st = { 0 };

		vhost_vring_stats_get(atomic_load(&conn_dev), q, &st);
		fprintf(stderr, "ring %u: %llu packets, drops %llu %llu %llu %llu %llu %llu %llu\n",
			q, (unsigned long long)st.packets,
			(unsigned long long)st.drops[0], (unsigned long long)st.drops[1],
			(unsigned long long)st.drops[2], (unsigned long long)st.drops[3],
			(unsigned long long)st.drops[4], (unsigned long long)st.drops[5],
			(unsigned long long)st.drops[6]);
	}
	return false;
}

static void *data_thread(void *arg)
{
	struct vhost_pktbuf *pkts[32];

	(void)arg;
	while (!atomic_load(&stop_threads)) {
		struct vhost_dev *dev;
		uint16_t n, sent = 0;

		atomic_store(&in_burst, 1);
		dev = atomic_load(&active);
		if (!dev) {
			atomic_store(&in_burst, 0);
			sched_yield();
			continue;
		}
		n = vhost_dequeue_burst(dev, 1, pool, pkts, 32);
		if (n)
			sent = vhost_enqueue_burst(dev, 0, pkts, n);
		atomic_store(&in_burst, 0);
		/* The caller keeps ownership of what was placed too. */
		if (n)
			vhost_pktbuf_free_bulk(pkts, n);
		atomic_fetch_add(&moved, sent);
		if (!n)
			sched_yield();
	}
	return NULL;
}

/* The guest: every used buffer goes back to the avail ring at once. */
static uint8_t *bufs[2];

static void guest_post_all(uint16_t q, bool writable)
{
	struct fe_vring *vr = &fe.vr[q];

	for (uint16_t i = 0; i < RING; i++) {
		vr->desc[i].addr = fe_gpa(&fe, bufs[q] + (size_t)i * 2048);
		vr->desc[i].len = writable ? 2048 : 12 + 60;
		vr->desc[i].flags = writable ? VRING_DESC_F_WRITE : 0;
		vr->desc[i].next = 0;
		vr->avail->ring[i] = i;
	}
	vr->avail_idx = RING;
	vr->used_seen = 0;
	atomic_store_explicit((_Atomic uint16_t *)&vr->avail->idx, RING,
			      memory_order_release);
}

static void guest_recycle(uint16_t q)
{
	struct fe_vring *vr = &fe.vr[q];
	uint16_t used = atomic_load_explicit(
		(_Atomic uint16_t *)&vr->used->idx, memory_order_acquire);

	while (vr->used_seen != used) {
		uint16_t id = (uint16_t)(vr->used->ring[vr->used_seen &
							 (RING - 1)].id &
					 (RING - 1));

		vr->avail->ring[vr->avail_idx & (RING - 1)] = id;
		vr->avail_idx++;
		vr->used_seen++;
	}
	atomic_store_explicit((_Atomic uint16_t *)&vr->avail->idx,
			      vr->avail_idx, memory_order_release);
}

static _Atomic bool guest_paused, guest_idle;

static void *guest_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_threads)) {
		if (atomic_load(&guest_paused)) {
			atomic_store(&guest_idle, true);
			sched_yield();
			continue;
		}
		atomic_store(&guest_idle, false);
		guest_recycle(0);
		guest_recycle(1);
		sched_yield();
	}
	return NULL;
}

static bool is_idle(void *arg)
{
	(void)arg;
	return atomic_load(&guest_idle);
}

/* The guest stops touching its rings while the front-end re-creates one
 * (as a driver does while its queue is stopped). */
static void guest_pause(bool pause)
{
	atomic_store(&guest_idle, false);
	atomic_store(&guest_paused, pause);
	if (pause)
		CHECK_EQ(fe_wait(is_idle, NULL, WAIT_MS), 0);
}

/* Restart ring q from a clean state (both sides start at index 0). */
static void restart_ring(uint16_t q)
{
	uint32_t base = 0;

	guest_pause(true);
	CHECK_EQ(fe_get_vring_base(&fe, q, &base), 0);
	memset(fe.vr[q].used, 0, 6 + 8 * RING);
	guest_post_all(q, q == 0);
	fe.vr[q].avail_idx = 0; /* fe_vring_setup sends it as the base */
	CHECK_EQ(fe_vring_setup(&fe, q), 0);
	fe.vr[q].avail_idx = RING;
	guest_pause(false);
}

static void test_control_under_traffic(void)
{
	struct fe_opts o = { .ring_size = RING, .mem_size = 8u << 20 };
	pthread_t dt, gt;
	struct vhost_vring_stats st;

	CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &sock), 0);
	CHECK_EQ(vhost_socket_set_ops(sock, &ops, NULL), 0);
	CHECK_EQ(vhost_socket_start(sock), 0);
	fe_init(&fe);
	CHECK_EQ(fe_connect(&fe, sock_path, WAIT_MS), 0);
	CHECK_EQ(fe_mem_init(&fe, o.mem_size), 0);
	for (uint16_t q = 0; q < 2; q++) {
		CHECK_EQ(fe_vring_alloc(&fe, q, RING), 0);
		bufs[q] = fe_alloc(&fe, (uint64_t)RING * 2048, 4096);
		CHECK(bufs[q] != NULL);
		memset(bufs[q], 0, (size_t)RING * 2048);
		guest_post_all(q, q == 0);
		fe.vr[q].avail_idx = 0; /* base 0 at set-up */
	}
	CHECK_EQ(fe_handshake(&fe, &o), 0);
	fe.vr[0].avail_idx = fe.vr[1].avail_idx = RING;
	CHECK(wait_for(&n_new_dev, 1));
	CHECK_EQ(pthread_create(&dt, NULL, data_thread, NULL), 0);
	CHECK_EQ(pthread_create(&gt, NULL, guest_thread, NULL), 0);
	CHECK(traffic(5000));

	for (int round = 0; round < 5; round++) {
		/* Ring stop and restart (QEMU's stop/start path). */
		restart_ring((uint16_t)(round & 1));
		CHECK(wait_for(&n_new_dev, 2 + round * 3));
		CHECK(traffic(1000));
		/* Disable and enable the TX ring: drained by the event
		 * thread meanwhile. */
		CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 1, 0),
			 0);
		/* Statistics read while the rings change hands. */
		CHECK_EQ(vhost_vring_stats_get(atomic_load(&conn_dev), 1, &st),
			 0);
		CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 1, 1),
			 0);
		CHECK(wait_for(&n_new_dev, 3 + round * 3));
		CHECK(traffic(1000));
		/* RESET_OWNER under traffic, then the rings start again. */
		guest_pause(true);
		CHECK_EQ(fe_request(&fe, VHOST_USER_RESET_OWNER, NULL, 0, NULL,
				    0), 0);
		for (uint16_t q = 0; q < 2; q++) {
			memset(fe.vr[q].used, 0, 6 + 8 * RING);
			guest_post_all(q, q == 0);
			fe.vr[q].avail_idx = 0;
			CHECK_EQ(fe_vring_setup(&fe, q), 0);
			fe.vr[q].avail_idx = RING;
		}
		guest_pause(false);
		CHECK(wait_for(&n_new_dev, 4 + round * 3));
		CHECK(traffic(1000));
	}
	/* Unregister while packets flow. */
	CHECK_EQ(vhost_socket_unregister(sock), 0);
	sock = NULL;
	CHECK_EQ(n_destroy_conn, 1);
	CHECK_EQ(n_destroy_dev, n_new_dev);
	CHECK(atomic_load(&active) == NULL);
	atomic_store(&stop_threads, true);
	pthread_join(dt, NULL);
	pthread_join(gt, NULL);
	fe_close(&fe);
	printf("  %llu packets looped\n", (unsigned long long)moved);
}

int main(void)
{
	int fds_start;

	snprintf(sock_path, sizeof(sock_path), "/tmp/vhost-test-conc-%d.sock",
		 (int)getpid());
	fds_start = fe_count_fds();
	ctx = vhost_ctx_create(NULL);
	pool = vhost_pktbuf_pool_create("conc", POOL_N, 2048, 0);
	if (!ctx || !pool)
		return 2;
	RUN(test_control_under_traffic);
	CHECK_EQ(vhost_pktbuf_pool_avail(pool), POOL_N);
	vhost_pktbuf_pool_destroy(pool);
	vhost_ctx_destroy(ctx);
	CHECK_EQ(fe_count_fds(), fds_start);
	unlink(sock_path);
	return check_summary("concurrency");
}
