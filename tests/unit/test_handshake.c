/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane end to end over real sockets, with the test front-end
 * (tests/lib/frontend.c) playing QEMU: handshake and new_device, ring stop
 * and restart, server and client mode, reconnect when either side restarts,
 * limits, unregister with live connections, feature negotiation, STATUS,
 * RESET_DEVICE, memory slots, and no fd leaks across all of it.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <vhost/vhost.h>

#include "check.h"
#include "frontend.h"

#define WAIT_MS 5000

static _Atomic int n_new_conn, n_destroy_conn, n_new_dev, n_destroy_dev;
static _Atomic int n_vring_on, n_vring_off;
static _Atomic uint64_t last_features;
static _Atomic uint16_t last_nvrings;

static int cb_new_connection(struct vhost_dev *dev)
{
	(void)dev;
	n_new_conn++;
	return 0;
}

static void cb_destroy_connection(struct vhost_dev *dev)
{
	(void)dev;
	n_destroy_conn++;
}

static int cb_new_device(struct vhost_dev *dev)
{
	last_features = vhost_dev_features(dev);
	last_nvrings = vhost_dev_num_vrings(dev);
	n_new_dev++;
	return 0;
}

static void cb_destroy_device(struct vhost_dev *dev)
{
	(void)dev;
	n_destroy_dev++;
}

static _Atomic int kick_fd_closed_early;

static void cb_vring_state(struct vhost_dev *dev, uint16_t q, bool on)
{
	int fd = vhost_vring_kickfd(dev, q);

	/* The kick fd the application may be polling is still open when it
	 * hears that the ring is gone. */
	if (!on && fd >= 0 && fcntl(fd, F_GETFD) < 0)
		kick_fd_closed_early++;
	if (on)
		n_vring_on++;
	else
		n_vring_off++;
}

static const struct vhost_device_ops ops = {
	.new_connection = cb_new_connection,
	.destroy_connection = cb_destroy_connection,
	.new_device = cb_new_device,
	.destroy_device = cb_destroy_device,
	.vring_state_changed = cb_vring_state,
};

static void reset_counts(void)
{
	n_new_conn = n_destroy_conn = n_new_dev = n_destroy_dev = 0;
	n_vring_on = n_vring_off = 0;
	last_features = 0;
}

static _Atomic int *wait_var;
static int wait_value;

static bool reached(void *arg)
{
	(void)arg;
	return atomic_load(wait_var) >= wait_value;
}

/* Wait until *v >= value (bounded). */
static bool wait_for(_Atomic int *v, int value)
{
	wait_var = v;
	wait_value = value;
	return fe_wait(reached, NULL, WAIT_MS) == 0;
}

static char sock_path[108];

static struct vhost_ctx *ctx;

static struct vhost_socket *start_server(uint32_t flags)
{
	struct vhost_socket *s = NULL;

	CHECK_EQ(vhost_socket_register(ctx, sock_path, flags, &s), 0);
	if (!s)
		return NULL;
	CHECK_EQ(vhost_socket_set_ops(s, &ops, NULL), 0);
	CHECK_EQ(vhost_socket_start(s), 0);
	return s;
}

/* Peer closed: recv returns 0 within the timeout. */
static bool peer_closed(struct fe *fe)
{
	struct vhost_msg m;
	int ret = fe_recv(fe, &m, WAIT_MS);

	return ret == -ECONNRESET;
}

static void test_server_handshake(void)
{
	int fds_before = fe_count_fds();
	struct vhost_socket *s;
	struct fe fe;
	uint32_t base = 0xffff;

	reset_counts();
	s = start_server(0);
	fe_init(&fe);
	CHECK_EQ(fe_connect(&fe, sock_path, WAIT_MS), 0);
	CHECK(wait_for(&n_new_conn, 1));
	CHECK_EQ(fe_handshake(&fe, NULL), 0);
	CHECK(wait_for(&n_new_dev, 1));
	CHECK_EQ(last_features, fe.features);
	CHECK_EQ(last_nvrings, 2);
	CHECK(fe.features & (1ull << VIRTIO_F_VERSION_1));
	/* Stopping a ring of the first pair stops the device; the reply
	 * carries the ring's index. */
	CHECK_EQ(fe_get_vring_base(&fe, 0, &base), 0);
	CHECK_EQ(base, 0);
	CHECK(wait_for(&n_destroy_dev, 1));
	/* Restart the ring the way QEMU does: base, then kick. */
	CHECK_EQ(fe_vring_setup(&fe, 0), 0);
	CHECK(wait_for(&n_new_dev, 2));
	fe_close(&fe);
	CHECK(wait_for(&n_destroy_conn, 1));
	CHECK_EQ(n_destroy_dev, 2);
	CHECK_EQ(vhost_socket_unregister(s), 0);
	CHECK(access(sock_path, F_OK) != 0); /* file removed */
	CHECK_EQ(fe_count_fds(), fds_before);
}

static void test_many_connections_and_limit(void)
{
	int fds_before = fe_count_fds();
	struct vhost_socket *s = NULL;
	struct fe fe[3];

	reset_counts();
	CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &s), 0);
	CHECK_EQ(vhost_socket_set_ops(s, &ops, NULL), 0);
	CHECK_EQ(vhost_socket_set_max_connections(s, 2), 0);
	CHECK_EQ(vhost_socket_start(s), 0);
	for (int i = 0; i < 3; i++) {
		fe_init(&fe[i]);
		CHECK_EQ(fe_connect(&fe[i], sock_path, WAIT_MS), 0);
		if (i < 2)
			CHECK(wait_for(&n_new_conn, i + 1));
	}
	CHECK(peer_closed(&fe[2])); /* past the limit */
	for (int i = 0; i < 2; i++)
		CHECK_EQ(fe_handshake(&fe[i], NULL), 0);
	CHECK(wait_for(&n_new_dev, 2));
	/* Unregister with live connections: both devices are destroyed. */
	CHECK_EQ(vhost_socket_unregister(s), 0);
	CHECK_EQ(n_destroy_dev, 2);
	CHECK_EQ(n_destroy_conn, 2);
	for (int i = 0; i < 2; i++)
		CHECK(peer_closed(&fe[i]));
	for (int i = 0; i < 3; i++)
		fe_close(&fe[i]);
	CHECK_EQ(fe_count_fds(), fds_before);
}

static void test_backend_restart_server(void)
{
	int fds_before = fe_count_fds();
	struct vhost_socket *s;
	struct fe fe;

	reset_counts();
	s = start_server(0);
	fe_init(&fe);
	CHECK_EQ(fe_connect(&fe, sock_path, WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&fe, NULL), 0);
	CHECK(wait_for(&n_new_dev, 1));
	/* The back-end goes away and comes back on the same path; the
	 * front-end reconnects and negotiates again. */
	CHECK_EQ(vhost_socket_unregister(s), 0);
	CHECK(peer_closed(&fe));
	fe_close(&fe);
	s = start_server(0);
	fe_init(&fe);
	CHECK_EQ(fe_connect(&fe, sock_path, WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&fe, NULL), 0);
	CHECK(wait_for(&n_new_dev, 2));
	fe_close(&fe);
	CHECK(wait_for(&n_destroy_conn, 2));
	CHECK_EQ(vhost_socket_unregister(s), 0);
	CHECK_EQ(fe_count_fds(), fds_before);
}

static void test_stale_socket_file(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vhost_socket *s = NULL;
	int fd;

	/* A socket file left by a dead process is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	unlink(sock_path);
	CHECK_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &s), 0);
	CHECK_EQ(vhost_socket_start(s), 0);
	CHECK_EQ(vhost_socket_unregister(s), 0);

	/* A live listener is not stolen from. */
	fd = fe_listen(sock_path);
	CHECK(fd >= 0);
	CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &s), 0);
	CHECK_EQ(vhost_socket_start(s), -EADDRINUSE);
	CHECK_EQ(vhost_socket_unregister(s), 0);
	close(fd);
	unlink(sock_path);

	/* A regular file is never removed. */
	fd = open(sock_path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &s), 0);
	CHECK_EQ(vhost_socket_start(s), -EEXIST);
	CHECK_EQ(vhost_socket_unregister(s), 0);
	CHECK_EQ(access(sock_path, F_OK), 0);
	unlink(sock_path);
}

static void test_client_mode_reconnect(void)
{
	int fds_before = fe_count_fds();
	struct vhost_socket *s = NULL;
	int lfd;
	struct fe fe;

	reset_counts();
	unlink(sock_path);
	/* The front-end is not there yet: start succeeds and retries. */
	CHECK_EQ(vhost_socket_register(ctx, sock_path, VHOST_SOCKET_CLIENT, &s),
		 0);
	CHECK_EQ(vhost_socket_set_ops(s, &ops, NULL), 0);
	CHECK_EQ(vhost_socket_start(s), 0);
	usleep(150 * 1000);
	lfd = fe_listen(sock_path);
	CHECK(lfd >= 0);
	fe_init(&fe);
	CHECK_EQ(fe_accept(&fe, lfd, WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&fe, NULL), 0);
	CHECK(wait_for(&n_new_dev, 1));
	/* The front-end restarts: the back-end reconnects by itself. */
	fe_close(&fe);
	CHECK(wait_for(&n_destroy_conn, 1));
	fe_init(&fe);
	CHECK_EQ(fe_accept(&fe, lfd, WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&fe, NULL), 0);
	CHECK(wait_for(&n_new_dev, 2));
	/* The front-end goes away for a while (listener closed). */
	fe_close(&fe);
	close(lfd);
	unlink(sock_path);
	CHECK(wait_for(&n_destroy_conn, 2));
	usleep(300 * 1000);
	lfd = fe_listen(sock_path);
	fe_init(&fe);
	CHECK_EQ(fe_accept(&fe, lfd, WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&fe, NULL), 0);
	CHECK(wait_for(&n_new_dev, 3));
	CHECK_EQ(vhost_socket_unregister(s), 0);
	CHECK(peer_closed(&fe));
	fe_close(&fe);
	close(lfd);
	unlink(sock_path);
	CHECK_EQ(fe_count_fds(), fds_before);
}

static void test_client_no_reconnect(void)
{
	struct vhost_socket *s = NULL;

	unlink(sock_path);
	CHECK_EQ(vhost_socket_register(ctx, sock_path,
				       VHOST_SOCKET_CLIENT |
				       VHOST_SOCKET_NO_RECONNECT, &s), 0);
	CHECK(vhost_socket_start(s) < 0);
	CHECK_EQ(vhost_socket_unregister(s), 0);
}

static void test_features(void)
{
	struct vhost_socket *s = NULL;
	struct fe fe;
	uint64_t f = 0, pf = 0;

	reset_counts();
	CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &s), 0);
	CHECK_EQ(vhost_socket_set_ops(s, &ops, NULL), 0);
	CHECK_EQ(vhost_socket_enable_features(s, 1ull << 63), -ENOTSUP);
	CHECK_EQ(vhost_socket_disable_features(s,
		 1ull << VIRTIO_NET_F_MRG_RXBUF), 0);
	CHECK_EQ(vhost_socket_set_max_queue_pairs(s, 2), 0);
	CHECK_EQ(vhost_socket_start(s), 0);
	CHECK_EQ(vhost_socket_set_features(s, 0), -EBUSY); /* after start */
	fe_init(&fe);
	CHECK_EQ(fe_connect(&fe, sock_path, WAIT_MS), 0);
	CHECK_EQ(fe_get_u64(&fe, VHOST_USER_GET_FEATURES, &f), 0);
	CHECK_EQ(f, vhost_socket_get_features(s));
	CHECK(!(f & (1ull << VIRTIO_NET_F_MRG_RXBUF)));
	CHECK_EQ(fe_get_u64(&fe, VHOST_USER_GET_PROTOCOL_FEATURES, &pf), 0);
	CHECK_EQ(pf, vhost_supported_protocol_features());
	/* Acking an unoffered feature closes the connection (no ack asked). */
	CHECK_EQ(fe_set_u64(&fe, VHOST_USER_SET_FEATURES,
			    f | (1ull << VIRTIO_NET_F_MRG_RXBUF)), 0);
	CHECK(peer_closed(&fe));
	fe_close(&fe);

	/* Two queue pairs: the second pair comes up after new_device and is
	 * announced through vring_state_changed. */
	fe_init(&fe);
	CHECK_EQ(fe_connect(&fe, sock_path, WAIT_MS), 0);
	struct fe_opts o = { .nvrings = 4 };
	CHECK_EQ(fe_handshake(&fe, &o), 0);
	CHECK(wait_for(&n_new_dev, 1));
	CHECK(wait_for(&n_vring_on, 4));
	CHECK_EQ(n_vring_on, 4); /* each usable ring once */
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 3, 0), 0);
	CHECK(wait_for(&n_vring_off, 1));
	/* Disabling twice tells nothing new; enabling again does. */
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 3, 0), 0);
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 3, 1), 0);
	CHECK(wait_for(&n_vring_on, 5));
	CHECK_EQ(n_vring_off, 1);
	/* Stopping ring 2 (GET_VRING_BASE) takes it away too. */
	{
		uint32_t base;

		CHECK_EQ(fe_get_vring_base(&fe, 2, &base), 0);
		CHECK(wait_for(&n_vring_off, 2));
		CHECK_EQ(fe_vring_setup(&fe, 2), 0);
		CHECK(wait_for(&n_vring_on, 6));
	}
	CHECK_EQ(n_destroy_dev, 0);
	/* A new kick fd for a usable ring: the ring is taken away (with
	 * its old fd still open) before the fd is replaced, then given back. */
	{
		int before_off = n_vring_off, before_on = n_vring_on;
		uint64_t v = 3;
		int nfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

		CHECK_EQ(fe_request(&fe, VHOST_USER_SET_VRING_KICK, &v, sizeof(v),
				    &nfd, 1), 0);
		close(nfd);
		CHECK(wait_for(&n_vring_off, before_off + 1));
		CHECK(wait_for(&n_vring_on, before_on + 1));
		CHECK_EQ(kick_fd_closed_early, 0);
	}
	/* REPLY_ACK: an error gets a non-zero ack and the connection lives. */
	CHECK_EQ(fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, 3, 7), -EIO);
	CHECK_EQ(fe_set_u64(&fe, VHOST_USER_NET_SET_MTU, 1500), 0);
	CHECK_EQ(fe_set_u64(&fe, VHOST_USER_NET_SET_MTU, 20), -EIO);
	fe_close(&fe);
	CHECK(wait_for(&n_destroy_conn, 2));
	CHECK_EQ(vhost_socket_unregister(s), 0);
}

static void test_status_and_reset(void)
{
	struct vhost_socket *s;
	struct fe fe;
	uint64_t st = 0;

	reset_counts();
	s = start_server(0);
	fe_init(&fe);
	CHECK_EQ(fe_connect(&fe, sock_path, WAIT_MS), 0);
	struct fe_opts o = { .no_status = true };
	CHECK_EQ(fe_handshake(&fe, &o), 0);
	/* STATUS negotiated: not running before DRIVER_OK. */
	usleep(50 * 1000);
	CHECK_EQ(n_new_dev, 0);
	CHECK_EQ(fe_set_u64(&fe, VHOST_USER_SET_STATUS,
			    VIRTIO_CONFIG_S_DRIVER_OK |
			    VIRTIO_CONFIG_S_FEATURES_OK), 0);
	CHECK(wait_for(&n_new_dev, 1));
	CHECK_EQ(fe_get_u64(&fe, VHOST_USER_GET_STATUS, &st), 0);
	CHECK_EQ(st, VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FEATURES_OK);
	CHECK_EQ(fe_set_u64(&fe, VHOST_USER_SET_STATUS, 0), 0);
	CHECK(wait_for(&n_destroy_dev, 1));
	/* RESET_DEVICE: back to square one; a full set-up runs it again. */
	CHECK_EQ(fe_request(&fe, VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	CHECK_EQ(fe_set_u64(&fe, VHOST_USER_SET_FEATURES, fe.features), 0);
	CHECK_EQ(fe_set_mem_table(&fe), 0);
	CHECK_EQ(fe_vring_setup(&fe, 0), 0);
	CHECK_EQ(fe_vring_setup(&fe, 1), 0);
	CHECK_EQ(fe_set_u64(&fe, VHOST_USER_SET_STATUS,
			    VIRTIO_CONFIG_S_DRIVER_OK), 0);
	CHECK(wait_for(&n_new_dev, 2));
	fe_close(&fe);
	CHECK(wait_for(&n_destroy_conn, 1));
	CHECK_EQ(vhost_socket_unregister(s), 0);
}

static void test_mem_slots(void)
{
	int fds_before = fe_count_fds();
	struct vhost_socket *s;
	struct fe fe;
	uint64_t slots = 0;
	enum { N = 40 };
	int memfds[N];

	reset_counts();
	s = start_server(0);
	fe_init(&fe);
	CHECK_EQ(fe_connect(&fe, sock_path, WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&fe, NULL), 0);
	CHECK(wait_for(&n_new_dev, 1));
	CHECK_EQ(fe_get_u64(&fe, VHOST_USER_GET_MAX_MEM_SLOTS, &slots), 0);
	CHECK_EQ(slots, VHOST_DEFAULT_CONN_MEM_REGIONS); /* the budget */
	/* Hot-plug N small regions above the first, then remove them all;
	 * the device keeps running throughout. */
	for (int i = 0; i < N; i++) {
		struct vhost_user_single_mem_region r = { 0 };

		memfds[i] = memfd_create("slot", MFD_CLOEXEC);
		CHECK_EQ(ftruncate(memfds[i], 65536), 0);
		r.region.guest_phys_addr = 0x100000000ull + (uint64_t)i * 65536;
		r.region.userspace_addr = 0x7000000000ull + (uint64_t)i * 65536;
		r.region.memory_size = 65536;
		CHECK_EQ(fe_request(&fe, VHOST_USER_ADD_MEM_REG, &r, sizeof(r),
				    &memfds[i], 1), 0);
	}
	for (int i = 0; i < N; i++) {
		struct vhost_user_single_mem_region r = { 0 };

		r.region.guest_phys_addr = 0x100000000ull + (uint64_t)i * 65536;
		r.region.userspace_addr = 0x7000000000ull + (uint64_t)i * 65536;
		r.region.memory_size = 65536;
		CHECK_EQ(fe_request(&fe, VHOST_USER_REM_MEM_REG, &r, sizeof(r),
				    NULL, 0), 0);
		close(memfds[i]);
	}
	CHECK_EQ(n_destroy_dev, 0);
	fe_close(&fe);
	CHECK(wait_for(&n_destroy_conn, 1));
	CHECK_EQ(vhost_socket_unregister(s), 0);
	CHECK_EQ(fe_count_fds(), fds_before);
}

/* The application unregisters the socket from inside its own callbacks:
 * destroy_device (the front-end went away) and destroy_connection. Each
 * callback runs once, nothing is freed twice, the event thread goes on. */
static struct vhost_socket *cb_sock;
static _Atomic int cb_mode, cb_ddev, cb_dconn;

static void cb_unreg_ddev(struct vhost_dev *dev)
{
	(void)dev;
	cb_ddev++;
	if (cb_mode == 2)
		CHECK_EQ(vhost_socket_unregister(cb_sock), 0);
}

static void cb_unreg_dconn(struct vhost_dev *dev)
{
	(void)dev;
	cb_dconn++;
	if (cb_mode == 1)
		CHECK_EQ(vhost_socket_unregister(cb_sock), 0);
}

static int cb_unreg_newdev(struct vhost_dev *dev)
{
	(void)dev;
	n_new_dev++;
	return 0;
}

static const struct vhost_device_ops unreg_ops = {
	.new_device = cb_unreg_newdev,
	.destroy_device = cb_unreg_ddev,
	.destroy_connection = cb_unreg_dconn,
};

static void test_unregister_in_callbacks(void)
{
	int fds_before = fe_count_fds();

	for (int mode = 1; mode <= 2; mode++) {
		struct fe fe;
		struct vhost_socket *again = NULL;

		reset_counts();
		cb_mode = mode;
		cb_ddev = cb_dconn = 0;
		CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &cb_sock), 0);
		CHECK_EQ(vhost_socket_set_ops(cb_sock, &unreg_ops, NULL), 0);
		CHECK_EQ(vhost_socket_start(cb_sock), 0);
		fe_init(&fe);
		CHECK_EQ(fe_connect(&fe, sock_path, WAIT_MS), 0);
		CHECK_EQ(fe_handshake(&fe, NULL), 0);
		CHECK(wait_for(&n_new_dev, 1));
		fe_close(&fe); /* the front-end goes away */
		CHECK(wait_for(&cb_dconn, 1));
		usleep(50 * 1000);
		CHECK_EQ(cb_ddev, 1);
		CHECK_EQ(cb_dconn, 1);
		/* The event thread still serves: the path can be used again. */
		CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &again), 0);
		CHECK_EQ(vhost_socket_unregister(again), 0);
	}
	CHECK_EQ(fe_count_fds(), fds_before);
}

static void test_ctx_limits(void)
{
	struct vhost_ctx_params p = { .max_sockets = 2 };
	struct vhost_ctx *c = vhost_ctx_create(&p);
	struct vhost_socket *a = NULL, *b = NULL, *d = NULL;

	CHECK(c != NULL);
	CHECK_EQ(vhost_socket_register(c, "/tmp/vhost-lim-a", 0, &a), 0);
	CHECK_EQ(vhost_socket_register(c, "/tmp/vhost-lim-a", 0, &b), -EEXIST);
	CHECK_EQ(vhost_socket_register(c, "/tmp/vhost-lim-b", 0, &b), 0);
	CHECK_EQ(vhost_socket_register(c, "/tmp/vhost-lim-c", 0, &d), -ENOSPC);
	/* destroy unregisters what is left */
	vhost_ctx_destroy(c);
}

int main(void)
{
	int fds_start;

	snprintf(sock_path, sizeof(sock_path), "/tmp/vhost-test-hs-%d.sock",
		 (int)getpid());
	fds_start = fe_count_fds();
	ctx = vhost_ctx_create(NULL);
	if (!ctx)
		return 2;
	RUN(test_server_handshake);
	RUN(test_many_connections_and_limit);
	RUN(test_backend_restart_server);
	RUN(test_stale_socket_file);
	RUN(test_client_mode_reconnect);
	RUN(test_client_no_reconnect);
	RUN(test_features);
	RUN(test_status_and_reset);
	RUN(test_mem_slots);
	RUN(test_unregister_in_callbacks);
	RUN(test_ctx_limits);
	vhost_ctx_destroy(ctx);
	CHECK_EQ(fe_count_fds(), fds_start);
	unlink(sock_path);
	return check_summary("handshake");
}
