/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Started-but-disabled transmit rings. vhost-user.rst, "Ring states": a
 * ring that is started but disabled "must not supply any new RX packets,
 * but must process and discard any TX packets". The application is told
 * the ring is unusable (access_ok is false, so no burst touches it), and
 * the event thread discards what the guest transmits on it: it watches the
 * ring's kick fd, asks the guest for kicks, and returns each chain with
 * length 0, counted as VHOST_DROP_DISABLED. Receive rings are left alone.
 *
 * Event thread only. The ring is changed under its lock, like every other
 * control-plane change of a ring.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "event.h"
#include "log.h"
#include "ring_error.h"
#include "socket.h"
#include "vring_drain.h"
#include "vring.h"

/* Chains returned per wakeup; more wait for the next turn of the loop, so
 * one guest cannot hold the event thread every other device needs. */
#define DRAIN_BUDGET 256

static bool vring_drain_wanted(const struct vhost_dev *dev,
			       const struct vhost_vring *vq)
{
	/* Only a ring the front-end disabled (not one waiting for its first
	 * enable: see fe_disabled in device.h). */
	return !dev->closing && (vq->index & 1) && vq->desc != NULL &&
	       vring_state(vq) == VRING_STARTED_DISABLED && vq->fe_disabled;
}

/* The same report as the data path's: error eventfd, application. */
static void drain_mark_broken(struct vhost_vring *vq, const char *why)
{
	STAT_ADD(vq->stats.drops[VHOST_DROP_BAD_DESC], 1);
	LOG_RATELIMIT(VHOST_LOG_ERR, "%s: disabled vring %u: %s; ring stopped",
		      vhost_dev_path(vq->dev), vq->index, why);
	ring_error_mark_broken(vq);
}

/* Return up to DRAIN_BUDGET available chains with length 0 (each walked
 * for its extent and id; its content does not matter). Caller holds vq's
 * lock. Returns true if more are waiting. */
static bool drain_locked(struct vhost_vring *vq)
{
	const bool packed = vq->packed;
	struct ring_cur cur;
	struct ring_head h;
	struct chain c;
	uint16_t i = 0;
	bool more = false;

	/* Everything there is: a fresh read. */
	if (ring_begin(vq, packed, &cur, 0)) {
		drain_mark_broken(vq, "avail index moved too far");
		return false;
	}
	for (;;) {
		enum ring_peek pk = ring_peek(vq, packed, &cur, &h);

		if (pk == RING_EMPTY)
			break;
		if (i == DRAIN_BUDGET) {
			more = true;
			break;
		}
		/* Only ids the guest made available go to the used ring. */
		if (pk == RING_BROKEN ||
		    ring_walk(vq, packed, &cur, &h, false, UINT32_MAX, &c) ==
		    CHAIN_BROKEN) {
			drain_mark_broken(vq, "head index out of range");
			break;
		}
		ring_used_add(vq, packed, i++, c.head, 0, c.nslots);
		ring_next(vq, packed, &cur, c.nslots);
	}
	if (i) {
		ring_commit(vq, packed, &cur);
		ring_publish(vq, packed, i, false);
		STAT_ADD(vq->stats.drops[VHOST_DROP_DISABLED], i);
	}
	if (more || atomic_load_explicit(&vq->broken, memory_order_relaxed))
		return more;
	/* Ask for a kick past what we took (avail_event with EVENT_IDX),
	 * then look once more: the guest may have added one in between. */
	ring_set_kick_wanted(vq, true);
	return ring_has_avail(vq);
}

static void drain_run(struct vhost_vring *vq)
{
	bool more;

	vring_lock(vq);
	more = vring_drain_wanted(vq->dev, vq) && drain_locked(vq);
	vring_unlock(vq);
	/* Over budget: come back on the next turn of the loop (the kick fd
	 * is an eventfd; epoll is level-triggered). Without a watched fd the
	 * next message drains more. */
	if (more && vq->drain_evh)
		eventfd_write(vq->kickfd, 1);
}

static void drain_on_kick(int fd, uint32_t events, void *opaque)
{
	struct vhost_vring *vq = opaque;
	eventfd_t v;

	if (events & (EPOLLHUP | EPOLLERR)) {
		/* Not an eventfd we can wait on: no more wakeups from it. */
		vring_drain_stop(vq);
		return;
	}
	/* Clear the kick before looking at the ring: a kick after this read
	 * wakes us again. */
	(void)eventfd_read(fd, &v);
	drain_run(vq);
}

void vring_drain_stop(struct vhost_vring *vq)
{
	if (!vq->drain_evh)
		return;
	event_del(vq->dev->ctx->el, vq->drain_evh);
	vq->drain_evh = NULL;
}

void vring_drain_update(struct vhost_dev *dev)
{
	for (uint16_t i = 1; i < dev->max_vrings; i += 2) {
		struct vhost_vring *vq = &dev->vrings[i];
		bool want = vring_drain_wanted(dev, vq);

		if (!want) {
			vring_drain_stop(vq);
			continue;
		}
		if (vq->drain_evh)
			continue;
		/* No kick fd (or one epoll refuses): drained after each
		 * message instead. */
		if (vq->kickfd >= 0) {
			vq->drain_evh = event_add(dev->ctx->el, vq->kickfd,
						  EPOLLIN, drain_on_kick, vq);
			if (!vq->drain_evh)
				LOG_RATELIMIT(VHOST_LOG_WARNING,
					      "%s: vring %u: cannot watch the kick fd of a disabled ring: %s",
					      dev->sock->path, i, strerror(errno));
		}
		/* What is there already goes now; then kicks are asked for. */
		drain_run(vq);
	}
}
