/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Front-end lifecycle: create, the control thread (connect or accept,
 * negotiate, set the rings up, watch the connection, stop the rings when
 * the back-end goes, reconnect), destroy, and the accessors.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "message.h"
#include "protocol.h"
#include "vu_ring.h"

#define BIT(n) (1ull << (n))
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000

#define SUPPORTED                                                            \
	(BIT(VIRTIO_F_VERSION_1) | BIT(VHOST_USER_F_PROTOCOL_FEATURES) |    \
	 BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_NET_F_MRG_RXBUF) |       \
	 BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |            \
	 BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |        \
	 BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |      \
	 BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_F_RING_PACKED) |                 \
	 BIT(VIRTIO_F_IN_ORDER))

uint64_t virtio_user_supported_features(void)
{
	return SUPPORTED;
}

/* Split rings unless asked (as DPDK's virtio-user, packed_vq=0). */
uint64_t virtio_user_default_features(void)
{
	return SUPPORTED & ~(BIT(VIRTIO_NET_F_MQ) | BIT(VIRTIO_F_RING_PACKED));
}

struct virtio_user *virtio_user_create(const struct virtio_user_params *p)
{
	struct virtio_user *vu;
	int err;

	if (!p || !p->path) {
		errno = EINVAL;
		return NULL;
	}
	if (strlen(p->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	vu = calloc(1, sizeof(*vu));
	if (!vu) {
		errno = ENOMEM;
		return NULL;
	}
	vu->p = *p;
	strcpy(vu->path, p->path);
	vu->p.path = vu->path;
	vu->memfd = vu->sock = vu->listen_fd = vu->wakefd = -1;
	for (unsigned i = 0; i < VU_MAX_RINGS; i++) {
		vu->rings[i].kickfd = vu->rings[i].callfd = -1;
		atomic_flag_clear(&vu->rings[i].busy);
	}
	if (!vu->p.queue_pairs)
		vu->p.queue_pairs = 1;
	if (!vu->p.queue_size)
		vu->p.queue_size = 256;
	if (!vu->p.buf_len)
		vu->p.buf_len = 2048;
	vu->offered = p->features ? p->features : virtio_user_default_features();
	if (vu->p.queue_pairs > 1)
		vu->offered |= BIT(VIRTIO_NET_F_MQ);
	/* Large receive needs mergeable buffers (no big-packet chains). */
	if (!(vu->offered & BIT(VIRTIO_NET_F_MRG_RXBUF)))
		vu->offered &= ~(BIT(VIRTIO_NET_F_GUEST_TSO4) |
				 BIT(VIRTIO_NET_F_GUEST_TSO6));
	err = EINVAL;
	if (vu->p.queue_pairs > VIRTIO_USER_MAX_QUEUE_PAIRS ||
	    vu->p.queue_size > VIRTIO_USER_MAX_QUEUE_SIZE ||
	    (vu->p.queue_size & (vu->p.queue_size - 1)) ||
	    vu->p.buf_len > VHOST_PKTBUF_MAX_PKT_LEN ||
	    (vu->offered & ~SUPPORTED) ||
	    !(vu->offered & BIT(VIRTIO_F_VERSION_1)) ||
	    (!(vu->offered & BIT(VIRTIO_NET_F_MRG_RXBUF)) && vu->p.buf_len < 1518) ||
	    p->npools > VIRTIO_USER_MAX_POOLS || (p->npools && !p->pools))
		goto fail;
	for (unsigned i = 0; i < p->npools; i++) {
		int fd;
		void *base;
		uint64_t len;

		if (vhost_pktbuf_pool_shared_area(p->pools[i], &fd, &base, &len))
			goto fail;
		/* Listed twice: two regions over the same memory, which a
		 * back-end may refuse. */
		for (unsigned k = 0; k < vu->npools; k++)
			if (vu->pools[k] == p->pools[i])
				goto fail;
		vu->pools[vu->npools++] = p->pools[i];
	}
	/* Copied: the caller's array need not outlive create. */
	vu->p.pools = NULL;
	vu->p.npools = 0;
	vu->nrings = (uint16_t)(2 * vu->p.queue_pairs);
	pthread_mutex_init(&vu->lock, NULL);
	pthread_cond_init(&vu->cond, NULL);
	err = -vu_mem_init(vu);
	if (err)
		goto fail;
	vu->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vu->wakefd < 0)
		goto fail_errno;
	for (uint16_t i = 0; i < vu->nrings; i++) {
		struct vu_ring *r = &vu->rings[i];

		r->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		r->callfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (r->kickfd < 0 || r->callfd < 0)
			goto fail_errno;
	}
	return vu;
fail_errno:
	err = errno;
fail:
	virtio_user_destroy(vu);
	errno = err;
	return NULL;
}

/* Stop every ring: wait out a burst in progress, then mark it stopped. */
static void rings_stop(struct virtio_user *vu)
{
	for (uint16_t i = 0; i < vu->nrings; i++) {
		struct vu_ring *r = &vu->rings[i];

		while (!vu_ring_lock(r))
			sched_yield();
		r->ready = false;
		vu_ring_unlock(r);
	}
}

static void set_state(struct virtio_user *vu, enum vu_state s)
{
	pthread_mutex_lock(&vu->lock);
	atomic_store(&vu->state, s);
	pthread_cond_broadcast(&vu->cond);
	pthread_mutex_unlock(&vu->lock);
}

/* Negotiate with a new back-end and hand it the rings where they were. */
static int bring_up(struct virtio_user *vu, int fd)
{
	uint16_t pairs;
	int ret = vu_negotiate(vu, fd);

	if (ret)
		return ret;
	pairs = atomic_load(&vu->active_pairs);
	for (uint16_t i = 0; i < 2 * pairs; i++) {
		struct vu_ring *r = &vu->rings[i];
		bool packed = atomic_load(&vu->features) &
			      BIT(VIRTIO_F_RING_PACKED);
		uint32_t base;

		/* Stopped (rings_stop); the lock keeps a burst that only
		 * looks at ready from racing the changes. */
		while (!vu_ring_lock(r))
			sched_yield();
		if (r->packed != packed) {
			/* A back-end of the other ring format: what was in
			 * flight cannot be carried over. */
			if (vu_inflight(r) && r->tx)
				LOG_WARN("virtio-user ring %u: ring format "
					 "changed, %u buffers dropped",
					 r->index, vu_inflight(r));
			r->packed = packed;
			vu_ring_reset(r);
		}
		base = vu_ring_recover(r);
		vu_ring_set_features(r, atomic_load(&vu->features));
		if (!r->tx)
			vu_ring_post_rx(r);
		else
			vu_update_intr(r);
		vu_ring_unlock(r);
		ret = vu_setup_ring(vu, fd, r, base);
		if (ret)
			return ret;
	}
	ret = vu_set_status(vu, fd);
	if (ret)
		return ret;
	atomic_store(&vu->protocol_features_pub, vu->protocol_features);
	for (uint16_t i = 0; i < 2 * pairs; i++) {
		struct vu_ring *r = &vu->rings[i];

		while (!vu_ring_lock(r))
			sched_yield();
		r->ready = true;
		vu_ring_unlock(r);
	}
	return 0;
}

/* The connection destroy may cut short (a back-end that stops answering
 * in the middle of the handshake would hold it for the reply timeouts). */
static void set_sock(struct virtio_user *vu, int fd)
{
	pthread_mutex_lock(&vu->lock);
	vu->sock = fd;
	if (fd >= 0 && atomic_load(&vu->stop))
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&vu->lock);
}

/* Sleep ms, or until destroy wakes us. */
static void nap(struct virtio_user *vu, int ms)
{
	struct pollfd p = { .fd = vu->wakefd, .events = POLLIN };

	poll(&p, 1, ms);
}

static int connect_once(struct virtio_user *vu)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, vu->path, strlen(vu->path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int accept_once(struct virtio_user *vu)
{
	struct pollfd p[2] = {
		{ .fd = vu->listen_fd, .events = POLLIN },
		{ .fd = vu->wakefd, .events = POLLIN },
	};
	int fd;

	if (poll(p, 2, -1) <= 0 || !(p[0].revents & POLLIN))
		return -EINTR;
	fd = accept4(vu->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Wait for the back-end to go (or for destroy). Nothing is expected on
 * the socket: anything that comes is logged and dropped. */
static void watch(struct virtio_user *vu, int fd)
{
	struct msg_rx rx;

	msg_rx_init(&rx);
	while (!atomic_load(&vu->stop)) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = vu->wakefd, .events = POLLIN },
		};
		int ret;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return;
		if (!p[0].revents)
			continue;
		ret = msg_read(fd, &rx);
		if (ret < 0)
			return;
		if (ret == 1) {
			LOG_RATELIMIT(VHOST_LOG_WARNING,
				      "virtio-user %s: unexpected message %u from the back-end, ignored",
				      vu->path, rx.msg.hdr.request);
			msg_close_fds(&rx.msg);
			msg_rx_init(&rx);
		}
	}
}

static void *control(void *arg)
{
	struct virtio_user *vu = arg;
	bool server = vu->p.flags & VIRTIO_USER_SERVER;
	int backoff = BACKOFF_MIN_MS;

	while (!atomic_load(&vu->stop)) {
		int fd = server ? accept_once(vu) : connect_once(vu);

		if (fd >= 0) {
			int ret;

			set_sock(vu, fd);
			ret = bring_up(vu, fd);

			if (!ret) {
				LOG_INFO("virtio-user %s: back-end ready, %u queue pair(s), features 0x%llx",
					 vu->path, atomic_load(&vu->active_pairs),
					 (unsigned long long)atomic_load(&vu->features));
				atomic_fetch_add(&vu->connects, 1);
				backoff = BACKOFF_MIN_MS;
				set_state(vu, VU_READY);
				watch(vu, fd);
				if (!atomic_load(&vu->stop)) {
					LOG_INFO("virtio-user %s: back-end gone",
						 vu->path);
					atomic_fetch_add(&vu->disconnects, 1);
				}
			} else {
				LOG_ERR("virtio-user %s: set-up failed: %s",
					vu->path, strerror(-ret));
			}
			rings_stop(vu);
			set_sock(vu, -1);
			close(fd);
			if (!atomic_load(&vu->stop))
				set_state(vu, VU_IDLE);
		}
		if (atomic_load(&vu->stop))
			break;
		if (vu->p.flags & VIRTIO_USER_NO_RECONNECT) {
			set_state(vu, VU_GONE);
			break;
		}
		if (!server || fd < 0) {
			nap(vu, backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
				  backoff * 2;
		}
	}
	return NULL;
}

static int listen_on(struct virtio_user *vu)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, vu->path, strlen(vu->path) + 1);
	unlink(vu->path); /* a stale socket of an earlier run */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int virtio_user_start(struct virtio_user *vu)
{
	int ret;

	if (vu->started)
		return -EALREADY;
	if (vu->p.flags & VIRTIO_USER_SERVER) {
		vu->listen_fd = listen_on(vu);
		if (vu->listen_fd < 0)
			return vu->listen_fd;
	}
	ret = pthread_create(&vu->thread, NULL, control, vu);
	if (ret)
		return -ret;
	vu->started = true;
	return 0;
}

void virtio_user_destroy(struct virtio_user *vu)
{
	if (!vu)
		return;
	if (vu->started) {
		pthread_mutex_lock(&vu->lock);
		atomic_store(&vu->stop, true);
		if (vu->sock >= 0)
			shutdown(vu->sock, SHUT_RDWR);
		pthread_mutex_unlock(&vu->lock);
		eventfd_write(vu->wakefd, 1);
		pthread_join(vu->thread, NULL);
	}
	if (vu->listen_fd >= 0) {
		close(vu->listen_fd);
		unlink(vu->path);
	}
	for (unsigned i = 0; i < VU_MAX_RINGS; i++) {
		if (vu->rings[i].kickfd >= 0)
			close(vu->rings[i].kickfd);
		if (vu->rings[i].callfd >= 0)
			close(vu->rings[i].callfd);
	}
	if (vu->wakefd >= 0)
		close(vu->wakefd);
	vu_mem_fini(vu);
	if (vu->nrings) {
		pthread_mutex_destroy(&vu->lock);
		pthread_cond_destroy(&vu->cond);
	}
	free(vu);
}

int virtio_user_wait_ready(struct virtio_user *vu, int timeout_ms)
{
	struct timespec end;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&vu->lock);
	while (atomic_load(&vu->state) == VU_IDLE && ret == 0)
		ret = pthread_cond_timedwait(&vu->cond, &vu->lock, &end);
	pthread_mutex_unlock(&vu->lock);
	switch (atomic_load(&vu->state)) {
	case VU_READY: return 0;
	case VU_GONE: return -ENOTCONN;
	default: return -ETIMEDOUT;
	}
}

bool virtio_user_is_ready(const struct virtio_user *vu)
{
	return atomic_load(&((struct virtio_user *)vu)->state) == VU_READY;
}

uint64_t virtio_user_features(const struct virtio_user *vu)
{
	return atomic_load(&((struct virtio_user *)vu)->features);
}

uint64_t virtio_user_protocol_features(const struct virtio_user *vu)
{
	return atomic_load(&((struct virtio_user *)vu)->protocol_features_pub);
}

uint16_t virtio_user_queue_pairs(const struct virtio_user *vu)
{
	return atomic_load(&((struct virtio_user *)vu)->active_pairs);
}

uint64_t virtio_user_connects(const struct virtio_user *vu)
{
	return atomic_load(&((struct virtio_user *)vu)->connects);
}

uint64_t virtio_user_disconnects(const struct virtio_user *vu)
{
	return atomic_load(&((struct virtio_user *)vu)->disconnects);
}

int virtio_user_callfd(struct virtio_user *vu, uint16_t ring)
{
	return ring < vu->nrings ? vu->rings[ring].callfd : -EINVAL;
}

int virtio_user_enable_intr(struct virtio_user *vu, uint16_t ring, bool on)
{
	struct vu_ring *r;

	if (ring >= vu->nrings)
		return -EINVAL;
	r = &vu->rings[ring];
	/* Held by the control thread for a moment at most (set-up). */
	while (!vu_ring_lock(r))
		sched_yield();
	r->intr = on;
	if (r->ready) {
		vu_update_intr(r);
		/* The flag before our next look at used->idx (pairs with the
		 * back-end's fence before it decides to call). */
		atomic_thread_fence(memory_order_seq_cst);
	}
	vu_ring_unlock(r);
	return 0;
}

int virtio_user_stats_get(const struct virtio_user *vu, uint16_t ring,
			  struct virtio_user_queue_stats *st)
{
	if (ring >= vu->nrings)
		return -EINVAL;
	/* Each counter has one writer; a torn snapshot is fine here. */
	memcpy(st, (const void *)&vu->rings[ring].st, sizeof(*st));
	return 0;
}

bool virtio_user_ring_broken(const struct virtio_user *vu, uint16_t ring)
{
	return ring < vu->nrings && VU_READ(vu->rings[ring].broken);
}
