/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Contexts and sockets: register/unregister, server (listen/accept) and
 * client (connect, reconnect with back-off). Public entry points run their
 * body on the event thread through event_loop_call(), so all of this state
 * has one writer.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "protocol.h"
#include "ring_error.h"
#include "socket.h"

#define DEFAULT_MAX_SOCKETS 64
#define DEFAULT_MAX_DEVICES 1024
#define DEFAULT_MAX_CONNECTIONS 64
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000

#define BIT(n) (1ull << (n))

_Static_assert(VHOST_MEM_GUARD_SLOTS == MEM_GUARD_SLOTS,
	       "vhost.h and memory.h agree on the guard slots");

/* What the data path and the control plane really implement. IN_ORDER
 * costs nothing: both bursts always use buffers in the order the guest
 * made them available and return them in that order. */
#define SUPPORTED_FEATURES                                                   \
	(BIT(VIRTIO_F_VERSION_1) | BIT(VHOST_USER_F_PROTOCOL_FEATURES) |    \
	 BIT(VIRTIO_F_ANY_LAYOUT) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |      \
	 BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_NET_F_MRG_RXBUF) |       \
	 BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |            \
	 BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |        \
	 BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |      \
	 BIT(VIRTIO_NET_F_MTU) | BIT(VIRTIO_NET_F_STATUS) |                \
	 BIT(VIRTIO_F_IN_ORDER) | BIT(VIRTIO_NET_F_MQ) |                   \
	 BIT(VIRTIO_NET_F_GUEST_ANNOUNCE) | BIT(VHOST_F_LOG_ALL) |          \
	 BIT(VIRTIO_F_RING_PACKED))

/* Offered unless the application says otherwise. Not MQ: a guest that uses
 * more than one queue pair needs an application that polls them all, so
 * the application opts in (vhost_socket_enable_features and
 * vhost_socket_set_max_queue_pairs). */
#define DEFAULT_FEATURES (SUPPORTED_FEATURES & ~BIT(VIRTIO_NET_F_MQ))

#define SUPPORTED_PROTOCOL_FEATURES                                          \
	(BIT(VHOST_USER_PROTOCOL_F_MQ) |                                    \
	 BIT(VHOST_USER_PROTOCOL_F_LOG_SHMFD) |                             \
	 BIT(VHOST_USER_PROTOCOL_F_RARP) |                                  \
	 BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |                             \
	 BIT(VHOST_USER_PROTOCOL_F_NET_MTU) |                               \
	 BIT(VHOST_USER_PROTOCOL_F_BACKEND_REQ) |                           \
	 BIT(VHOST_USER_PROTOCOL_F_RESET_DEVICE) |                          \
	 BIT(VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |                   \
	 BIT(VHOST_USER_PROTOCOL_F_STATUS))

uint64_t vhost_supported_features(void)
{
	return SUPPORTED_FEATURES;
}

uint64_t vhost_supported_protocol_features(void)
{
	return SUPPORTED_PROTOCOL_FEATURES;
}

/* Migration needs LOG_ALL and LOG_SHMFD together (QEMU checks LOG_SHMFD
 * first, then LOG_ALL): offered both, or neither. */
static bool socket_offers_logging(const struct vhost_socket *sock)
{
	return (sock->features & BIT(VHOST_F_LOG_ALL)) &&
	       (sock->protocol_features &
		BIT(VHOST_USER_PROTOCOL_F_LOG_SHMFD));
}

uint64_t socket_offered_features(const struct vhost_socket *sock)
{
	return socket_offers_logging(sock) ? sock->features :
	       sock->features & ~BIT(VHOST_F_LOG_ALL);
}

uint64_t socket_offered_protocol_features(const struct vhost_socket *sock)
{
	return socket_offers_logging(sock) ? sock->protocol_features :
	       sock->protocol_features &
	       ~BIT(VHOST_USER_PROTOCOL_F_LOG_SHMFD);
}

uint16_t socket_max_queue_pairs(const struct vhost_socket *sock)
{
	return sock->max_queue_pairs;
}

unsigned socket_conn_mem_regions(const struct vhost_socket *sock)
{
	return sock->mem_regions ? sock->mem_regions :
	       sock->ctx->conn_mem_regions;
}

uint64_t socket_conn_mem_bytes(const struct vhost_socket *sock)
{
	return sock->mem_bytes ? sock->mem_bytes : sock->ctx->conn_mem_bytes;
}

/* ------------------------------------------------------------- context */

static int ctx_start_ring_error(void *arg)
{
	return ring_error_start(arg);
}

struct vhost_ctx *vhost_ctx_create(const struct vhost_ctx_params *params)
{
	struct vhost_ctx *ctx = calloc(1, sizeof(*ctx));
	int err;

	if (!ctx) {
		errno = ENOMEM;
		return NULL;
	}
	ctx->max_sockets = params && params->max_sockets ?
			   params->max_sockets : DEFAULT_MAX_SOCKETS;
	ctx->max_devices = params && params->max_devices ?
			   params->max_devices : DEFAULT_MAX_DEVICES;
	ctx->ring_error_fd = -1;
	ctx->conn_mem_regions = params && params->conn_mem_regions ?
				params->conn_mem_regions :
				VHOST_DEFAULT_CONN_MEM_REGIONS;
	ctx->conn_mem_bytes = params && params->conn_mem_bytes ?
			      params->conn_mem_bytes :
			      VHOST_DEFAULT_CONN_MEM_BYTES;
	ctx->mem.max_regions = params && params->ctx_mem_regions ?
			       params->ctx_mem_regions :
			       VHOST_DEFAULT_CTX_MEM_REGIONS;
	ctx->mem.max_bytes = params && params->ctx_mem_bytes ?
			     params->ctx_mem_bytes : VHOST_DEFAULT_CTX_MEM_BYTES;
	if (ctx->conn_mem_regions > VHOST_USER_MAX_MEM_SLOTS ||
	    ctx->mem.max_regions > VHOST_MEM_GUARD_SLOTS) {
		free(ctx);
		errno = EINVAL;
		return NULL;
	}
	err = event_loop_create(&ctx->el);
	if (err) {
		free(ctx);
		errno = -err;
		return NULL;
	}
	err = event_loop_call(ctx->el, ctx_start_ring_error, ctx);
	if (err) {
		event_loop_destroy(ctx->el);
		free(ctx);
		errno = -err;
		return NULL;
	}
	return ctx;
}

static int socket_unregister_locked(struct vhost_socket *sock);

static int ctx_unregister_all(void *arg)
{
	struct vhost_ctx *ctx = arg;

	while (ctx->sockets)
		socket_unregister_locked(ctx->sockets);
	/* No device runs now: no data thread can report a broken ring. */
	ring_error_stop(ctx);
	return 0;
}

void vhost_ctx_destroy(struct vhost_ctx *ctx)
{
	if (!ctx)
		return;
	event_loop_call(ctx->el, ctx_unregister_all, ctx);
	/* Devices are freed by deferred work that the loop runs before it
	 * stops. */
	event_loop_destroy(ctx->el);
	free(ctx);
}

/* -------------------------------------------------------------- sockets */

struct register_args {
	struct vhost_ctx *ctx;
	const char *path;
	uint32_t flags;
	struct vhost_socket **out;
};

static int do_register(void *arg)
{
	struct register_args *a = arg;
	struct vhost_ctx *ctx = a->ctx;
	struct vhost_socket *sock;

	for (sock = ctx->sockets; sock; sock = sock->next)
		if (!strcmp(sock->path, a->path))
			return -EEXIST;
	if (ctx->nsockets >= ctx->max_sockets) {
		LOG_ERR("%s: too many sockets (max %u)", a->path,
			ctx->max_sockets);
		return -ENOSPC;
	}
	sock = calloc(1, sizeof(*sock));
	if (!sock)
		return -ENOMEM;
	sock->ctx = ctx;
	memcpy(sock->path, a->path, strlen(a->path) + 1);
	sock->flags = a->flags;
	sock->listen_fd = -1;
	sock->spare_fd = -1;
	sock->timer_fd = -1;
	sock->features = DEFAULT_FEATURES;
	sock->protocol_features = SUPPORTED_PROTOCOL_FEATURES;
	sock->max_queue_pairs = 1;
	sock->max_connections = (a->flags & VHOST_SOCKET_CLIENT) ?
				1 : DEFAULT_MAX_CONNECTIONS;
	sock->next = ctx->sockets;
	ctx->sockets = sock;
	ctx->nsockets++;
	*a->out = sock;
	return 0;
}

int vhost_socket_register(struct vhost_ctx *ctx, const char *path,
			  uint32_t flags, struct vhost_socket **out)
{
	struct register_args a = { ctx, path, flags, out };

	if (!ctx || !path || !out || !path[0])
		return -EINVAL;
	if (flags & ~(VHOST_SOCKET_CLIENT | VHOST_SOCKET_NO_RECONNECT))
		return -EINVAL;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	return event_loop_call(ctx->el, do_register, &a);
}

static void socket_stop_client_timer(struct vhost_socket *sock)
{
	if (sock->timer_evh)
		event_del(sock->ctx->el, sock->timer_evh);
	sock->timer_evh = NULL;
	if (sock->timer_fd >= 0)
		close(sock->timer_fd);
	sock->timer_fd = -1;
}

static int socket_unregister_locked(struct vhost_socket *sock)
{
	struct vhost_ctx *ctx = sock->ctx;
	struct vhost_socket **pp;

	if (sock->unregistering)
		return -EALREADY;
	sock->unregistering = true;
	while (sock->devs)
		device_close(sock->devs);
	if (sock->listen_evh)
		event_del(ctx->el, sock->listen_evh);
	if (sock->listen_fd >= 0)
		close(sock->listen_fd);
	if (sock->spare_fd >= 0)
		close(sock->spare_fd);
	if (sock->created_file)
		unlink(sock->path);
	socket_stop_client_timer(sock);
	for (pp = &ctx->sockets; *pp; pp = &(*pp)->next) {
		if (*pp == sock) {
			*pp = sock->next;
			break;
		}
	}
	ctx->nsockets--;
	LOG_INFO("%s: unregistered", sock->path);
	/* Handlers may still hold sock in this batch: free it after. */
	if (event_loop_defer(ctx->el, free, sock))
		LOG_ERR("%s: cannot defer free; leaking socket", sock->path);
	return 0;
}

static int do_unregister(void *arg)
{
	return socket_unregister_locked(arg);
}

int vhost_socket_unregister(struct vhost_socket *sock)
{
	if (!sock)
		return -EINVAL;
	return event_loop_call(sock->ctx->el, do_unregister, sock);
}

/* Setters: tiny, so they share one trampoline. */
enum set_what { SET_FEATURES, ENABLE_FEATURES, DISABLE_FEATURES,
		SET_PROTOCOL_FEATURES, SET_QUEUE_PAIRS, SET_MAX_CONN, SET_OPS,
		SET_MEM_LIMITS };

struct set_args {
	struct vhost_socket *sock;
	enum set_what what;
	uint64_t value, value2;
	const struct vhost_device_ops *ops;
	void *opaque;
};

static int do_set(void *arg)
{
	struct set_args *a = arg;
	struct vhost_socket *sock = a->sock;

	if (sock->started && a->what != SET_MAX_CONN)
		return -EBUSY;
	switch (a->what) {
	case SET_FEATURES:
	case ENABLE_FEATURES:
		if (a->value & ~SUPPORTED_FEATURES)
			return -ENOTSUP;
		sock->features = a->what == SET_FEATURES ?
				 a->value : sock->features | a->value;
		return 0;
	case DISABLE_FEATURES:
		sock->features &= ~a->value;
		return 0;
	case SET_PROTOCOL_FEATURES:
		if (a->value & ~SUPPORTED_PROTOCOL_FEATURES)
			return -ENOTSUP;
		sock->protocol_features = a->value;
		return 0;
	case SET_QUEUE_PAIRS:
		if (a->value < 1 || a->value > VHOST_MAX_QUEUE_PAIRS)
			return -EINVAL;
		sock->max_queue_pairs = (uint16_t)a->value;
		return 0;
	case SET_MAX_CONN:
		if (a->value < 1 || ((sock->flags & VHOST_SOCKET_CLIENT) &&
				     a->value != 1))
			return -EINVAL;
		sock->max_connections = (unsigned)a->value;
		return 0;
	case SET_OPS:
		sock->ops = a->ops;
		sock->opaque = a->opaque;
		return 0;
	case SET_MEM_LIMITS:
		if (a->value > VHOST_USER_MAX_MEM_SLOTS)
			return -EINVAL;
		sock->mem_regions = (unsigned)a->value;
		sock->mem_bytes = a->value2;
		return 0;
	}
	return -EINVAL;
}

static int socket_set(struct vhost_socket *sock, enum set_what what,
		      uint64_t value)
{
	struct set_args a = { .sock = sock, .what = what, .value = value };

	if (!sock)
		return -EINVAL;
	return event_loop_call(sock->ctx->el, do_set, &a);
}

int vhost_socket_set_features(struct vhost_socket *sock, uint64_t features)
{
	return socket_set(sock, SET_FEATURES, features);
}

int vhost_socket_enable_features(struct vhost_socket *sock, uint64_t features)
{
	return socket_set(sock, ENABLE_FEATURES, features);
}

int vhost_socket_disable_features(struct vhost_socket *sock, uint64_t features)
{
	return socket_set(sock, DISABLE_FEATURES, features);
}

int vhost_socket_set_protocol_features(struct vhost_socket *sock,
				       uint64_t features)
{
	return socket_set(sock, SET_PROTOCOL_FEATURES, features);
}

int vhost_socket_set_max_queue_pairs(struct vhost_socket *sock, uint16_t n)
{
	return socket_set(sock, SET_QUEUE_PAIRS, n);
}

int vhost_socket_set_max_connections(struct vhost_socket *sock, unsigned n)
{
	return socket_set(sock, SET_MAX_CONN, n);
}

int vhost_socket_set_mem_limits(struct vhost_socket *sock, unsigned regions,
				uint64_t bytes)
{
	struct set_args a = { .sock = sock, .what = SET_MEM_LIMITS,
			      .value = regions, .value2 = bytes };

	if (!sock)
		return -EINVAL;
	return event_loop_call(sock->ctx->el, do_set, &a);
}

int vhost_socket_set_ops(struct vhost_socket *sock,
			 const struct vhost_device_ops *ops, void *opaque)
{
	struct set_args a = { .sock = sock, .what = SET_OPS, .ops = ops,
			      .opaque = opaque };

	if (!sock)
		return -EINVAL;
	return event_loop_call(sock->ctx->el, do_set, &a);
}

/* Read once, before start, by the application thread that set them. */
uint64_t vhost_socket_get_features(const struct vhost_socket *sock)
{
	return sock->features;
}

uint64_t vhost_socket_get_protocol_features(const struct vhost_socket *sock)
{
	return sock->protocol_features;
}

const char *vhost_socket_path(const struct vhost_socket *sock)
{
	return sock->path;
}

/* ------------------------------------------------------- connections */

/* At the limit, a front-end that reconnects may be racing with the hang-up
 * of its old connection, not yet read: close connections whose peer is
 * gone before refusing the new one. */
static void socket_reap_hung_up(struct vhost_socket *sock)
{
	struct vhost_dev *dev = sock->devs;

	while (dev) {
		struct vhost_dev *next = dev->next;
		struct pollfd p = { .fd = dev->fd, .events = POLLRDHUP };

		if (poll(&p, 1, 0) == 1 &&
		    (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			LOG_INFO("%s: device %llu: peer gone", sock->path,
				 (unsigned long long)dev->id);
			device_close(dev);
		}
		dev = next;
	}
}

static bool socket_accepts_device(struct vhost_socket *sock)
{
	struct vhost_ctx *ctx = sock->ctx;

	if (sock->ndevs >= sock->max_connections)
		socket_reap_hung_up(sock);
	/* A callback of a reaped device may have unregistered the socket. */
	if (sock->unregistering)
		return false;
	if (sock->ndevs >= sock->max_connections) {
		LOG_ERR("%s: connection refused: max %u connections",
			sock->path, sock->max_connections);
		return false;
	}
	if (ctx->ndevices >= ctx->max_devices) {
		LOG_ERR("%s: connection refused: max %u devices", sock->path,
			ctx->max_devices);
		return false;
	}
	return true;
}

static void socket_add_device(struct vhost_socket *sock, int fd)
{
	struct vhost_dev *dev = device_create(sock, fd);

	if (!dev) {
		close(fd);
		return;
	}
	dev->next = sock->devs;
	sock->devs = dev;
	sock->ndevs++;
	sock->ctx->ndevices++;
	if (sock->ops && sock->ops->new_connection &&
	    sock->ops->new_connection(dev) < 0) {
		LOG_INFO("%s: connection refused by the application",
			 sock->path);
		device_close(dev);
		return;
	}
	dev->connected_cb_done = true;
}

static void socket_arm_timer(struct vhost_socket *sock, unsigned ms);

/* Accept and close one connection with the spare fd kept for this. If even
 * that fails (no spare: another thread took the slot), stop listening for
 * a while: a readable listen fd we cannot serve would make us spin. */
static void drop_pending_connection(struct vhost_socket *sock, int lfd)
{
	int c = -1;

	if (sock->spare_fd >= 0) {
		close(sock->spare_fd);
		sock->spare_fd = -1;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0)
			close(c);
	}
	sock->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (c < 0 && sock->listen_evh) {
		event_del(sock->ctx->el, sock->listen_evh);
		sock->listen_evh = NULL;
		socket_arm_timer(sock, 100);
	}
}

static void on_accept(int fd, uint32_t events, void *opaque)
{
	struct vhost_socket *sock = opaque;

	(void)events;
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of fds: drop the waiting connection, or
				 * the listen fd stays readable and this
				 * thread spins. */
				LOG_RATELIMIT(VHOST_LOG_ERR,
					      "%s: accept: %s; connection dropped",
					      sock->path, strerror(errno));
				drop_pending_connection(sock, fd);
				return;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				LOG_ERR("%s: accept: %s", sock->path,
					strerror(errno));
			return;
		}
		if (!socket_accepts_device(sock)) {
			close(c);
			if (sock->unregistering)
				return;
			continue;
		}
		LOG_INFO("%s: new connection (fd %d)", sock->path, c);
		socket_add_device(sock, c);
		/* new_connection may have unregistered the socket: its
		 * listen fd is closed (and its number maybe reused). */
		if (sock->unregistering)
			return;
	}
}

/* A path exists: remove it only if it is a socket nobody listens on. */
static int remove_stale_socket(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		LOG_ERR("%s: exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (ret == 0 || errno == EAGAIN) {
		LOG_ERR("%s: another process listens on it", path);
		return -EADDRINUSE;
	}
	LOG_INFO("%s: removing stale socket file", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int socket_listen(struct vhost_socket *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	memcpy(sa.sun_path, sock->path, strlen(sock->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (ret < 0 && errno == EADDRINUSE) {
		ret = remove_stale_socket(sock->path, &sa);
		if (ret == 0)
			ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	}
	if (ret < 0) {
		ret = ret == -1 ? -errno : ret;
		LOG_ERR("%s: bind: %s", sock->path, strerror(-ret));
		goto fail;
	}
	sock->created_file = true;
	if (listen(fd, 16) < 0) {
		ret = -errno;
		goto fail_unlink;
	}
	sock->listen_evh = event_add(sock->ctx->el, fd, EPOLLIN, on_accept,
				     sock);
	if (!sock->listen_evh) {
		ret = -errno;
		goto fail_unlink;
	}
	sock->listen_fd = fd;
	sock->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	LOG_INFO("%s: listening", sock->path);
	return 0;
fail_unlink:
	unlink(sock->path);
	sock->created_file = false;
fail:
	close(fd);
	return ret;
}

static int socket_connect(struct vhost_socket *sock);

static void on_reconnect_timer(int fd, uint32_t events, void *opaque)
{
	struct vhost_socket *sock = opaque;
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		LOG_ERR("%s: timer: %s", sock->path, strerror(errno));
	socket_stop_client_timer(sock);
	if (sock->unregistering)
		return;
	if (!(sock->flags & VHOST_SOCKET_CLIENT)) {
		/* Listening again after running out of fds. */
		if (!sock->listen_evh && sock->listen_fd >= 0) {
			sock->listen_evh = event_add(sock->ctx->el,
						     sock->listen_fd, EPOLLIN,
						     on_accept, sock);
			if (!sock->listen_evh)
				socket_arm_timer(sock, 100);
		}
		return;
	}
	if (!sock->devs)
		socket_connect(sock);
}

static void socket_schedule_reconnect(struct vhost_socket *sock)
{
	socket_arm_timer(sock, sock->backoff_ms);
	sock->backoff_ms = sock->backoff_ms * 2 > BACKOFF_MAX_MS ?
			   BACKOFF_MAX_MS : sock->backoff_ms * 2;
}

/* One timer per socket: the client's reconnect back-off, or the server's
 * pause after running out of fds. */
static void socket_arm_timer(struct vhost_socket *sock, unsigned ms)
{
	struct itimerspec its = { 0 };

	if (sock->timer_fd < 0) {
		sock->timer_fd = timerfd_create(CLOCK_MONOTONIC,
						TFD_NONBLOCK | TFD_CLOEXEC);
		if (sock->timer_fd < 0) {
			LOG_ERR("%s: timerfd: %s", sock->path, strerror(errno));
			return;
		}
		sock->timer_evh = event_add(sock->ctx->el, sock->timer_fd,
					    EPOLLIN, on_reconnect_timer, sock);
		if (!sock->timer_evh) {
			LOG_ERR("%s: cannot watch timer", sock->path);
			socket_stop_client_timer(sock);
			return;
		}
	}
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	timerfd_settime(sock->timer_fd, 0, &its, NULL);
}

/* Client: one attempt; on failure retry later unless NO_RECONNECT. */
static int socket_connect(struct vhost_socket *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	memcpy(sa.sun_path, sock->path, strlen(sock->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (ret == 0) {
		sock->backoff_ms = BACKOFF_MIN_MS;
		if (!socket_accepts_device(sock)) {
			close(fd);
			ret = -ENOSPC;
		} else {
			LOG_INFO("%s: connected", sock->path);
			socket_add_device(sock, fd);
			return 0;
		}
	} else {
		/* EAGAIN: the listener's backlog is full; treat as absent. */
		ret = -errno;
		close(fd);
		LOG_DEBUG("%s: connect: %s", sock->path, strerror(-ret));
	}
	if (!(sock->flags & VHOST_SOCKET_NO_RECONNECT))
		socket_schedule_reconnect(sock);
	return ret;
}

void socket_device_gone(struct vhost_socket *sock, struct vhost_dev *dev)
{
	struct vhost_dev **pp;

	for (pp = &sock->devs; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			sock->ndevs--;
			sock->ctx->ndevices--;
			break;
		}
	}
	if ((sock->flags & VHOST_SOCKET_CLIENT) && !sock->unregistering &&
	    !(sock->flags & VHOST_SOCKET_NO_RECONNECT)) {
		sock->backoff_ms = BACKOFF_MIN_MS;
		socket_schedule_reconnect(sock);
	}
}

static int do_start(void *arg)
{
	struct vhost_socket *sock = arg;
	int ret;

	if (sock->started)
		return -EALREADY;
	if (!(sock->features & BIT(VIRTIO_F_VERSION_1)) &&
	    !(sock->features & BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
		LOG_WARN("%s: neither VERSION_1 nor PROTOCOL_FEATURES offered",
			 sock->path);
	if (sock->flags & VHOST_SOCKET_CLIENT) {
		sock->backoff_ms = BACKOFF_MIN_MS;
		ret = socket_connect(sock);
		if (ret < 0 && !(sock->flags & VHOST_SOCKET_NO_RECONNECT)) {
			LOG_INFO("%s: peer absent, retrying in the background",
				 sock->path);
			ret = 0;
		}
	} else {
		ret = socket_listen(sock);
	}
	if (ret == 0)
		sock->started = true;
	return ret;
}

int vhost_socket_start(struct vhost_socket *sock)
{
	if (!sock)
		return -EINVAL;
	return event_loop_call(sock->ctx->el, do_start, sock);
}
