/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Broken rings: from the data thread that finds one to the front-end's
 * error eventfd and the application's callbacks, on the event thread.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "ring_error.h"
#include "socket.h"

void ring_error_mark_broken(struct vhost_vring *vq)
{
	/* The order of these stores matters to readers without the lock
	 * only: the event thread loads breaks (acquire) after reading the
	 * eventfd, and access_ok (acquire) in device_report_vrings; both
	 * see broken set because it is stored first (release below). */
	atomic_store_explicit(&vq->broken, true, memory_order_relaxed);
	atomic_fetch_add_explicit(&vq->breaks, 1, memory_order_release);
	atomic_store_explicit(&vq->access_ok, false, memory_order_release);
	/* vq->dev and its context outlive every burst (destroy_device
	 * returns only when no burst runs); the fd lives as long as the
	 * context. A full counter (EAGAIN) still wakes the reader. */
	eventfd_write(vq->dev->ctx->ring_error_fd, 1);
}

/* One ring: the front-end hears of each breakage once, on its error
 * eventfd (non-blocking: a peer that never reads it cannot stall us). */
static void report_errfd(struct vhost_vring *vq)
{
	uint32_t breaks = atomic_load_explicit(&vq->breaks,
					       memory_order_acquire);

	if (breaks == vq->breaks_reported)
		return;
	vq->breaks_reported = breaks;
	if (vq->errfd >= 0 && eventfd_write(vq->errfd, 1) < 0)
		LOG_RATELIMIT(VHOST_LOG_WARNING,
			      "%s: vring %u: error eventfd: %s",
			      vhost_dev_path(vq->dev), vq->index,
			      strerror(errno));
}

static void on_ring_error(int fd, uint32_t events, void *opaque)
{
	struct vhost_ctx *ctx = opaque;
	eventfd_t n;

	(void)events;
	if (eventfd_read(fd, &n) < 0)
		return; /* EAGAIN: nothing new */
	/* Callbacks may unregister sockets or close devices: the lists
	 * change, but what leaves them is freed only after this batch of
	 * events, so a saved next pointer stays valid. */
	for (struct vhost_socket *s = ctx->sockets, *sn; s; s = sn) {
		sn = s->next;
		for (struct vhost_dev *d = s->devs, *dn; d; d = dn) {
			dn = d->next;
			if (d->closing)
				continue;
			for (uint16_t i = 0; i < d->max_vrings; i++)
				report_errfd(&d->vrings[i]);
			/* Readiness does not change with a breakage; a
			 * refusal could only come from new_device. */
			if (device_settle(d) < 0)
				device_close(d);
		}
	}
}

int ring_error_start(struct vhost_ctx *ctx)
{
	ctx->ring_error_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ctx->ring_error_fd < 0)
		return -errno;
	ctx->ring_error_evh = event_add(ctx->el, ctx->ring_error_fd, EPOLLIN,
					on_ring_error, ctx);
	if (!ctx->ring_error_evh) {
		int err = -errno;

		close(ctx->ring_error_fd);
		ctx->ring_error_fd = -1;
		return err;
	}
	return 0;
}

void ring_error_stop(struct vhost_ctx *ctx)
{
	event_del(ctx->el, ctx->ring_error_evh);
	ctx->ring_error_evh = NULL;
	if (ctx->ring_error_fd >= 0)
		close(ctx->ring_error_fd);
	ctx->ring_error_fd = -1;
}
