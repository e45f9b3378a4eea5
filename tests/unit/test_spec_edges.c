/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Edge cases of the vhost-user spec (QEMU docs/interop/vhost-user.rst) over
 * a real socket, with the test front-end playing QEMU: RESET_OWNER keeps the
 * negotiated state, FEATURES_OK is never reported for refused features, a
 * device runs on any enabled queue pair (pair 0 included in what may be
 * disabled), started-but-disabled TX rings are drained, and ring set-up
 * reads the guest's used->idx once.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#include <vhost/vhost.h>

#include "check.h"
#include "frontend.h"

#define WAIT_MS 5000

static _Atomic int n_new_dev, n_destroy_dev, n_destroy_conn;
static _Atomic int n_vring_on, n_vring_off;
static _Atomic int vring_on_mask; /* rings last told usable */
static struct vhost_dev *_Atomic g_dev;

static int cb_new_device(struct vhost_dev *dev)
{
	atomic_store(&g_dev, dev);
	n_new_dev++;
	return 0;
}

static void cb_destroy_device(struct vhost_dev *dev)
{
	(void)dev;
	atomic_store(&vring_on_mask, 0);
	n_destroy_dev++;
}

static void cb_destroy_connection(struct vhost_dev *dev)
{
	(void)dev;
	n_destroy_conn++;
}

static void cb_vring_state(struct vhost_dev *dev, uint16_t q, bool on)
{
	(void)dev;
	if (on) {
		atomic_fetch_or(&vring_on_mask, 1 << q);
		n_vring_on++;
	} else {
		atomic_fetch_and(&vring_on_mask, ~(1 << q));
		n_vring_off++;
	}
}

static const struct vhost_device_ops ops = {
	.new_device = cb_new_device,
	.destroy_device = cb_destroy_device,
	.destroy_connection = cb_destroy_connection,
	.vring_state_changed = cb_vring_state,
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

static struct vhost_ctx *ctx;
static char sock_path[108];
static struct vhost_socket *sock;
static struct fe fe;

static bool setup(uint16_t nvrings, uint16_t ring_size)
{
	struct fe_opts o = { .nvrings = nvrings, .ring_size = ring_size };

	n_new_dev = n_destroy_dev = n_destroy_conn = 0;
	n_vring_on = n_vring_off = 0;
	vring_on_mask = 0;
	atomic_store(&g_dev, NULL);
	CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &sock), 0);
	if (!sock)
		return false;
	CHECK_EQ(vhost_socket_set_ops(sock, &ops, NULL), 0);
	CHECK_EQ(vhost_socket_set_max_queue_pairs(sock, 2), 0);
	CHECK_EQ(vhost_socket_start(sock), 0);
	fe_init(&fe);
	CHECK_EQ(fe_connect(&fe, sock_path, WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&fe, &o), 0);
	if (!wait_for(&n_new_dev, 1))
		return false;
	return true;
}

static void teardown(void)
{
	/* Through the event thread first: what this thread did with the
	 * device happens-before its teardown for TSan, which does not see
	 * the order the socket gives. (-EBUSY: the socket is started.) */
	if (sock)
		CHECK_EQ(vhost_socket_set_features(sock, 0), -EBUSY);
	fe_close(&fe);
	if (sock) {
		CHECK(wait_for(&n_destroy_conn, 1));
		CHECK_EQ(vhost_socket_unregister(sock), 0);
	}
	sock = NULL;
}

/* A request with a reply is answered after every earlier message was
 * handled, callbacks included: a barrier for "nothing happened" checks. */
static void sync_backend(void)
{
	uint64_t f;

	CHECK_EQ(fe_get_u64(&fe, VHOST_USER_GET_FEATURES, &f), 0);
}

/* One device-readable TX chain (header + 64 bytes) on ring q, kicked. */
static void tx_post(uint16_t q, uint16_t n)
{
	struct fe_vring *vr = &fe.vr[q];
	uint8_t *buf = fe_alloc(&fe, 128, 64);

	memset(buf, 0, 128);
	for (uint16_t i = 0; i < n; i++) {
		uint16_t d = (uint16_t)(vr->avail_idx & (vr->size - 1));

		vr->desc[d].addr = fe_gpa(&fe, buf);
		vr->desc[d].len = 12 + 64;
		vr->desc[d].flags = 0;
		vr->desc[d].next = 0;
		vr->avail->ring[d] = d;
		vr->avail_idx++;
	}
	atomic_store_explicit((_Atomic uint16_t *)&vr->avail->idx,
			      vr->avail_idx, memory_order_release);
	eventfd_write(vr->kickfd, 1);
}

static uint16_t used_idx(uint16_t q)
{
	return atomic_load_explicit((_Atomic uint16_t *)&fe.vr[q].used->idx,
				    memory_order_acquire);
}

static uint16_t want_q, want_idx;

static bool used_reached(void *arg)
{
	(void)arg;
	return used_idx(want_q) == want_idx;
}

static uint64_t drops(uint16_t q, enum vhost_drop_reason r)
{
	struct vhost_vring_stats st;

	if (vhost_vring_stats_get(atomic_load(&g_dev), q, &st))
		return ~0ull;
	return st.drops[r];
}

/* RESET_OWNER is deprecated: the rings stop and are disabled, features and
 * memory stay; starting the rings again (no SET_FEATURES, no
 * SET_MEM_TABLE) brings the device back. */
static void test_reset_owner_keeps_state(void)
{
	if (!setup(2, 0)) {
		CHECK(!"setup");
		teardown();
		return;
	}
	CHECK_EQ(fe_request(&fe, VHOST_USER_RESET_OWNER, NULL, 0, NULL, 0), 0);
	CHECK(wait_for(&n_destroy_dev, 1));
	CHECK_EQ(fe_vring_setup(&fe, 0), 0);
	CHECK_EQ(fe_vring_setup(&fe, 1), 0);
	CHECK(wait_for(&n_new_dev, 2));
	CHECK_EQ(vhost_dev_features(atomic_load(&g_dev)), fe.features);
	/* The rings are usable: a packet the guest sends is seen. */
	tx_post(1, 1);
	CHECK_EQ(vhost_vring_avail_count(atomic_load(&g_dev), 1), 1);
	teardown();
}

/* GET_STATUS never shows FEATURES_OK for features the back-end refused
 * (virtio 3.1.1: the device leaves the bit clear). */
static void test_features_ok_after_refusal(void)
{
	struct fe_opts o = { .no_status = true };
	uint64_t st = 0;
	const uint64_t fok = VIRTIO_CONFIG_S_ACKNOWLEDGE |
			     VIRTIO_CONFIG_S_DRIVER |
			     VIRTIO_CONFIG_S_FEATURES_OK;

	n_destroy_conn = 0;
	CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &sock), 0);
	CHECK_EQ(vhost_socket_set_ops(sock, &ops, NULL), 0);
	CHECK_EQ(vhost_socket_start(sock), 0);
	fe_init(&fe);
	CHECK_EQ(fe_connect(&fe, sock_path, WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&fe, &o), 0);
	CHECK(fe.protocol_features & (1ull << VHOST_USER_PROTOCOL_F_STATUS));
	CHECK(fe.protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	/* Refused (bit 63 is never offered): non-zero ack, connection kept. */
	CHECK_EQ(fe_set_u64(&fe, VHOST_USER_SET_FEATURES,
			    fe.features | (1ull << 63)), -EIO);
	CHECK_EQ(fe_set_u64(&fe, VHOST_USER_SET_STATUS, fok), 0);
	CHECK_EQ(fe_get_u64(&fe, VHOST_USER_GET_STATUS, &st), 0);
	CHECK_EQ(st, fok & ~(uint64_t)VIRTIO_CONFIG_S_FEATURES_OK);
	/* Accepted: the bit sticks. */
	CHECK_EQ(fe_set_u64(&fe, VHOST_USER_SET_FEATURES, fe.features), 0);
	CHECK_EQ(fe_set_u64(&fe, VHOST_USER_SET_STATUS, fok), 0);
	CHECK_EQ(fe_get_u64(&fe, VHOST_USER_GET_STATUS, &st), 0);
	CHECK_EQ(st, fok);
	/* Refused after FEATURES_OK was set: the bit goes. */
	CHECK_EQ(fe_set_u64(&fe, VHOST_USER_SET_FEATURES, 1ull << 63), -EIO);
	CHECK_EQ(fe_get_u64(&fe, VHOST_USER_GET_STATUS, &st), 0);
	CHECK_EQ(st, fok & ~(uint64_t)VIRTIO_CONFIG_S_FEATURES_OK);
	teardown();
}

/* Any enabled pair carries the device: disabling pair 0 only takes its two
 * rings away; the device stops when no pair is left, and comes back with
 * pair 1 alone. */
static void test_any_pair_runs_device(void)
{
	if (!setup(4, 0)) {
		CHECK(!"setup");
		teardown();
		return;
	}
	CHECK(wait_for(&n_vring_on, 4));
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 0, 0), 0);
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 1, 0), 0);
	CHECK(wait_for(&n_vring_off, 2));
	sync_backend();
	CHECK_EQ(n_destroy_dev, 0);
	CHECK_EQ(atomic_load(&vring_on_mask), 0xc);
	CHECK_EQ(vhost_vring_avail_count(atomic_load(&g_dev), 0), 0);
	/* Pair 0 back: told per ring, no new device. */
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 0, 1), 0);
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 1, 1), 0);
	CHECK(wait_for(&n_vring_on, 6));
	sync_backend();
	CHECK_EQ(atomic_load(&vring_on_mask), 0xf);
	CHECK_EQ(n_new_dev, 1);
	/* No pair left: the device stops. */
	for (uint32_t q = 0; q < 4; q++)
		CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, q, 0),
			 0);
	CHECK(wait_for(&n_destroy_dev, 1));
	/* Pair 1 alone runs it again. */
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 2, 1), 0);
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 3, 1), 0);
	CHECK(wait_for(&n_new_dev, 2));
	sync_backend();
	CHECK_EQ(atomic_load(&vring_on_mask), 0xc);
	tx_post(3, 1);
	CHECK_EQ(vhost_vring_avail_count(atomic_load(&g_dev), 3), 1);
	teardown();
}

/* Started-but-disabled TX ring: what the guest sends is returned with
 * length 0 and counted, more than one wakeup's budget included; the guest
 * is asked for kicks; RX is not touched; enabled again, the ring carries
 * packets to the application. */
static void test_disabled_tx_drained(void)
{
	struct vhost_dev *dev;

	if (!setup(4, 512)) {
		CHECK(!"setup");
		teardown();
		return;
	}
	dev = atomic_load(&g_dev);
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 1, 0), 0);
	CHECK(wait_for(&n_vring_off, 1));
	sync_backend();
	/* The guest posts more than one wakeup drains. */
	tx_post(1, 300);
	want_q = 1;
	want_idx = 300;
	CHECK_EQ(fe_wait(used_reached, NULL, WAIT_MS), 0);
	CHECK_EQ(used_idx(1), 300);
	for (uint16_t i = 0; i < 300; i++) {
		CHECK_EQ(fe.vr[1].used->ring[i].len, 0);
		if (fe.vr[1].used->ring[i].id != i) {
			CHECK_EQ(fe.vr[1].used->ring[i].id, i);
			break;
		}
	}
	CHECK_EQ(drops(1, VHOST_DROP_DISABLED), 300);
	/* Kicks are wanted while the ring is drained. */
	CHECK(!(fe.vr[1].used->flags & VRING_USED_F_NO_NOTIFY));
	/* Another kick later: drained too. */
	tx_post(1, 5);
	want_idx = 305;
	CHECK_EQ(fe_wait(used_reached, NULL, WAIT_MS), 0);
	CHECK_EQ(drops(1, VHOST_DROP_DISABLED), 305);
	/* Pair 1 runs the device; the application never saw these. */
	CHECK_EQ(n_destroy_dev, 0);
	CHECK_EQ(vhost_vring_avail_count(dev, 1), 0);
	/* Enabled again: the next packet is for the application. */
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 1, 1), 0);
	CHECK(wait_for(&n_vring_on, 5));
	sync_backend();
	tx_post(1, 1);
	sync_backend();
	CHECK_EQ(used_idx(1), 305);
	CHECK_EQ(vhost_vring_avail_count(dev, 1), 1);
	CHECK_EQ(drops(1, VHOST_DROP_DISABLED), 305);
	/* An RX ring disabled gets nothing placed, and is not drained. */
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 0, 0), 0);
	sync_backend();
	CHECK_EQ(used_idx(0), 0);
	CHECK_EQ(drops(0, VHOST_DROP_DISABLED), 0);
	teardown();
}

/* ------------------------------------------- counting reads of used->idx */

/* The back-end's view of the page holding ring 0's used ring is made
 * inaccessible; each access faults once (SIGSEGV: count, open the page,
 * single-step) and the page closes again after the instruction (SIGTRAP).
 * x86-64 only (the trap flag). */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__) && \
	!__has_feature(thread_sanitizer)
#define COUNT_READS 1
static uint8_t *watch_page;
static _Atomic int watch_faults;

static void on_segv(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	uint8_t *a = si->si_addr;

	if (!watch_page || a < watch_page || a >= watch_page + 4096) {
		signal(sig, SIG_DFL); /* a real crash */
		return;
	}
	watch_faults++;
	mprotect(watch_page, 4096, PROT_READ | PROT_WRITE);
	uc->uc_mcontext.gregs[REG_EFL] |= 0x100; /* TF: trap after one */
}

static void on_trap(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;

	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_EFL] &= ~0x100ll;
	mprotect(watch_page, 4096, PROT_NONE);
}

/* The back-end's own mapping of the front-end's memfd. */
static uint8_t *backend_view(void)
{
	struct stat st;
	char line[512];
	uint8_t *found = NULL;
	FILE *f;

	if (fstat(fe.memfd, &st))
		return NULL;
	f = fopen("/proc/self/maps", "r");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, off, ino;
		char dev[32];

		if (sscanf(line, "%lx-%lx %*s %lx %31s %lu", &lo, &hi, &off, dev,
			   &ino) != 5)
			continue;
		if (ino == st.st_ino && off == 0 && (uint8_t *)lo != fe.mem &&
		    hi - lo >= fe.mem_size)
			found = (uint8_t *)lo;
	}
	fclose(f);
	return found;
}
#endif

/* Ring set-up reads the guest's used->idx once: a guest that changes it
 * between two reads would otherwise get different last_used and
 * last_avail indices. */
static void test_used_idx_read_once(void)
{
#ifdef COUNT_READS
	struct sigaction sa = { .sa_flags = SA_SIGINFO }, old_segv, old_trap;
	struct vhost_user_vring_addr a;
	uint8_t *view;
	uint32_t base = 0;
	uint64_t off;

	if (!setup(2, 0)) {
		CHECK(!"setup");
		teardown();
		return;
	}
	/* Ring 0 stopped: nothing but its set-up looks at it. */
	CHECK_EQ(fe_get_vring_base(&fe, 0, &base), 0);
	CHECK(wait_for(&n_destroy_dev, 1));
	view = backend_view();
	CHECK(view != NULL);
	if (!view) {
		teardown();
		return;
	}
	off = (uint64_t)((uint8_t *)fe.vr[0].used - fe.mem);
	CHECK_EQ(off & 4095, 0);
	fe.vr[0].used->idx = 7; /* differs from the base: sync to it */
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_BASE, 0, 0), 0);
	a = (struct vhost_user_vring_addr){
		.index = 0,
		.desc_user_addr = (uint64_t)(uintptr_t)fe.vr[0].desc,
		.avail_user_addr = (uint64_t)(uintptr_t)fe.vr[0].avail,
		.used_user_addr = (uint64_t)(uintptr_t)fe.vr[0].used,
	};
	sa.sa_sigaction = on_segv;
	sigaction(SIGSEGV, &sa, &old_segv);
	sa.sa_sigaction = on_trap;
	sigaction(SIGTRAP, &sa, &old_trap);
	watch_faults = 0;
	watch_page = view + off;
	mprotect(watch_page, 4096, PROT_NONE);
	CHECK_EQ(fe_request(&fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a),
			    NULL, 0), 0);
	sync_backend();
	mprotect(watch_page, 4096, PROT_READ | PROT_WRITE);
	watch_page = NULL;
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGTRAP, &old_trap, NULL);
	CHECK_EQ(watch_faults, 1);
	/* Both indices took the one value read. */
	CHECK_EQ(fe_get_vring_base(&fe, 0, &base), 0);
	CHECK_EQ(base, 7);
	teardown();
#endif
}

int main(void)
{
	int fds_start;

	snprintf(sock_path, sizeof(sock_path), "/tmp/vhost-test-spec-%d.sock",
		 (int)getpid());
	fds_start = fe_count_fds();
	ctx = vhost_ctx_create(NULL);
	if (!ctx)
		return 2;
	RUN(test_reset_owner_keeps_state);
	RUN(test_features_ok_after_refusal);
	RUN(test_any_pair_runs_device);
	RUN(test_disabled_tx_drained);
	RUN(test_used_idx_read_once);
	vhost_ctx_destroy(ctx);
	CHECK_EQ(fe_count_fds(), fds_start);
	unlink(sock_path);
	return check_summary("spec_edges");
}
