/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device lifecycle: one per connection. Creation, readiness (when to call
 * new_device / destroy_device), ring state, reset and teardown, and the
 * device accessors of the public API.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "handlers.h"
#include "log.h"
#include "socket.h"
#include "vring_drain.h"
#include "vring.h"

const struct vhost_device_ops *device_ops(const struct vhost_dev *dev)
{
	static const struct vhost_device_ops none;

	return dev->sock->ops ? dev->sock->ops : &none;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void device_lock_all_vrings(struct vhost_dev *dev)
{
	for (uint16_t i = 0; i < dev->max_vrings; i++)
		vring_lock(&dev->vrings[i]);
}

void device_unlock_all_vrings(struct vhost_dev *dev)
{
	for (uint16_t i = 0; i < dev->max_vrings; i++)
		vring_unlock(&dev->vrings[i]);
}

/* Could a device stand at position p with wrap counter w of this packed
 * ring? The descriptor there is available under w or used on the lap
 * before (!w); the one before it is used on its own lap, or already made
 * available again for the next (either way its USED bit is its lap's). */
static bool packed_pos_plausible(const struct vring_packed_desc *d,
				 uint16_t n, uint16_t p, bool w)
{
	uint16_t f = GUEST_READ(d[p].flags);
	uint16_t g = GUEST_READ(d[p ? p - 1 : n - 1].flags);
	bool a = f & PACKED_AVAIL, u = f & PACKED_USED;
	bool pw = p ? w : !w;

	if (n < 2)
		return true;
	return ((a == w && u != w) || (a != w && u != w)) &&
	       !!(g & PACKED_USED) == pw;
}

/* Where a device stands in a packed ring, from the descriptors' flags
 * alone: at the start of the run of available descriptors, or (none
 * available) where the used descriptors' lap changes. Used only when the
 * front-end's base cannot be right: after a back-end restart QEMU 7.2
 * re-sends the base of the ring's last orderly stop (it cannot read a
 * packed ring's indices back from guest memory). */
static void packed_find_pos(const struct vring_packed_desc *d, uint16_t n,
			    uint16_t *pos, bool *wrap)
{
	bool any_avail = false, all_avail = true;
	uint16_t lap_change = 0;

	for (uint16_t i = 0; i < n; i++) {
		uint16_t f = GUEST_READ(d[i].flags);
		uint16_t g = GUEST_READ(d[i ? i - 1 : n - 1].flags);
		bool av = !(f & PACKED_AVAIL) != !(f & PACKED_USED);
		bool pav = !(g & PACKED_AVAIL) != !(g & PACKED_USED);

		any_avail |= av;
		all_avail &= av;
		if (av && !pav) {
			*pos = i;
			*wrap = f & PACKED_AVAIL;
			return;
		}
		if (i && !lap_change &&
		    !(f & PACKED_AVAIL) != !(g & PACKED_AVAIL))
			lap_change = i;
	}
	*pos = lap_change;
	if (all_avail && any_avail)
		*wrap = GUEST_READ(d[lap_change].flags) & PACKED_AVAIL;
	else if (lap_change)
		*wrap = GUEST_READ(d[lap_change - 1].flags) & PACKED_AVAIL;
	else
		*wrap = !(GUEST_READ(d[0].flags) & PACKED_AVAIL);
}

/* Packed rings (virtio 2.7): the descriptor ring (aligned 16) and the
 * driver and device event areas (4 bytes each, aligned 4), and the used
 * entries of a burst aside (vq->shadow). Indices cannot be read back from
 * a packed ring: the front-end's base is all there is. */
static void vring_translate_packed(struct vhost_dev *dev,
				   struct vhost_vring *vq)
{
	uint64_t n = vq->size;
	struct vring_packed_desc *desc;
	struct vring_packed_desc_event *drv, *devev;

	if (vq->last_avail_idx >= n || vq->last_used_idx >= n) {
		LOG_ERR("%s: vring %u: base %u/%u past the ring size %u",
			dev->sock->path, vq->index, vq->last_avail_idx,
			vq->last_used_idx, vq->size);
		return;
	}
	desc = mem_uva_range(dev->mem, vq->desc_uaddr, 16 * n);
	drv = mem_uva_range(dev->mem, vq->avail_uaddr, sizeof(*drv));
	devev = mem_uva_range(dev->mem, vq->used_uaddr, sizeof(*devev));
	if (!desc || !drv || !devev) {
		LOG_ERR("%s: vring %u: ring addresses not in guest memory",
			dev->sock->path, vq->index);
		return;
	}
	if (((uintptr_t)desc & 15) || ((uintptr_t)drv & 3) ||
	    ((uintptr_t)devev & 3)) {
		LOG_ERR("%s: vring %u: misaligned ring", dev->sock->path,
			vq->index);
		return;
	}
	if (vq->shadow_size != n) {
		free(vq->shadow);
		vq->shadow_size = 0;
		vq->shadow = calloc(n, sizeof(*vq->shadow));
		if (!vq->shadow) {
			LOG_ERR("%s: vring %u: out of memory", dev->sock->path,
				vq->index);
			return;
		}
		vq->shadow_size = (uint16_t)n;
	}
	/* Once per ring set-up (as split's used->idx): a base that no
	 * device could stand at is replaced by what the ring says, so a
	 * restarted back-end finds the guest where it is. Everything before
	 * is taken as completed (in-flight packets are lost, as with split). */
	if (vq->sync_used && vq->last_avail_idx == vq->last_used_idx &&
	    vq->avail_wrap == vq->used_wrap &&
	    !packed_pos_plausible(desc, (uint16_t)n, vq->last_avail_idx,
				  vq->avail_wrap)) {
		uint16_t p;
		bool w;

		packed_find_pos(desc, (uint16_t)n, &p, &w);
		LOG_WARN("%s: vring %u: base %u/%u does not match the ring; using %u/%u from its descriptors",
			 dev->sock->path, vq->index, vq->last_avail_idx,
			 vq->avail_wrap, p, w);
		vq->last_avail_idx = vq->last_used_idx = p;
		vq->avail_wrap = vq->used_wrap = w;
	}
	vq->sync_used = false;
	vq->pdesc = desc;
	vq->driver_event = drv;
	vq->device_event = devev;
	vq->desc = (struct vring_desc *)desc;
}

/* Point the ring at guest memory: the three areas must each lie whole in
 * one mapped region and be aligned as the virtio spec requires (desc 16,
 * avail 2, used 4), or the ring stays unusable. Caller holds vq's lock. */
static void vring_translate(struct vhost_dev *dev, struct vhost_vring *vq)
{
	uint64_t n = vq->size;
	uint64_t extra = dev_has_feature(dev, VIRTIO_RING_F_EVENT_IDX) ? 2 : 0;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;

	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->pdesc = NULL;
	vq->driver_event = NULL;
	vq->device_event = NULL;
	/* New memory or a new base: avail->idx is read again. */
	vq->avail_known = 0;
	vq->packed = dev_has_feature(dev, VIRTIO_F_RING_PACKED);
	if (!vq->addr_set || !n || !dev->mem->nregions)
		return;
	if (vq->packed) {
		vring_translate_packed(dev, vq);
		return;
	}
	if (n & (n - 1)) {
		LOG_ERR("%s: vring %u: split ring size %u not a power of two",
			dev->sock->path, vq->index, vq->size);
		return;
	}
	desc = mem_uva_range(dev->mem, vq->desc_uaddr, 16 * n);
	avail = mem_uva_range(dev->mem, vq->avail_uaddr, 4 + 2 * n + extra);
	used = mem_uva_range(dev->mem, vq->used_uaddr, 4 + 8 * n + extra);
	if (!desc || !avail || !used) {
		LOG_ERR("%s: vring %u: ring addresses not in guest memory",
			dev->sock->path, vq->index);
		return;
	}
	if (((uintptr_t)desc & 15) || ((uintptr_t)avail & 1) ||
	    ((uintptr_t)used & 3)) {
		LOG_ERR("%s: vring %u: misaligned ring", dev->sock->path,
			vq->index);
		return;
	}
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	/* After a back-end restart the front-end's base may lag what the
	 * guest saw in the used ring; the guest's used index is what counts
	 * (packets in flight are lost either way). Once per ring set-up, not
	 * on every refresh: a running ring's indices are ours. */
	if (vq->sync_used) {
		/* One read: the guest may change it between two. */
		uint16_t used_idx = GUEST_READ(vq->used->idx);

		if (used_idx != vq->last_used_idx) {
			LOG_WARN("%s: vring %u: used idx %u != base %u; using used idx",
				 dev->sock->path, vq->index, used_idx,
				 vq->last_used_idx);
			vq->last_used_idx = used_idx;
			vq->last_avail_idx = used_idx;
		}
	}
	vq->sync_used = false;
}

void vring_refresh_locked(struct vhost_dev *dev, struct vhost_vring *vq)
{
	vring_translate(dev, vq);
	vq->mem = dev->mem;
	vq->features = dev->features;
	vq->event_idx = dev_has_feature(dev, VIRTIO_RING_F_EVENT_IDX);
	vq->mrg_rxbuf = dev_has_feature(dev, VIRTIO_NET_F_MRG_RXBUF);
	vq->indirect = dev_has_feature(dev, VIRTIO_RING_F_INDIRECT_DESC);
	vq->hdr_len = (dev_has_feature(dev, VIRTIO_F_VERSION_1) ||
		       vq->mrg_rxbuf) ?
		      sizeof(struct virtio_net_hdr_mrg_rxbuf) :
		      sizeof(struct virtio_net_hdr);
	/* Log only while migrating (LOG_ALL) with a log to write into. */
	if (dev_has_feature(dev, VHOST_F_LOG_ALL) && dev->log.bits) {
		vq->log_bits = dev->log.bits;
		vq->log_size = dev->log.size;
	} else {
		vq->log_bits = NULL;
		vq->log_size = 0;
	}
	vq->log_used = (vq->addr_flags >> VHOST_VRING_F_LOG) & 1;
	vq->log_used_gpa = vq->log_gaddr;
	vq->access_ok = dev->running && vq->desc != NULL &&
			vring_state(vq) == VRING_STARTED_ENABLED;
	/* Polling by default: ask the guest not to kick us. */
	if (vq->access_ok)
		ring_set_kick_wanted(vq, vq->notify_wanted);
}

void vring_refresh(struct vhost_dev *dev, struct vhost_vring *vq)
{
	vring_lock(vq);
	vring_refresh_locked(dev, vq);
	vring_unlock(vq);
}

_Static_assert(offsetof(struct vhost_vring, lock) == 0,
	       "vring_reset clears everything after the lock");

_Static_assert(sizeof(struct vhost_vring_stats) % sizeof(uint64_t) == 0,
	       "stats are 64-bit counters");

/* Back to the state of a fresh connection, keeping the lock (a data
 * thread may be trying it) and the statistics (cumulative per device; not
 * written here: any thread may be reading them).
 * Caller holds vq's lock or the device is not running. */
void vring_reset(struct vhost_vring *vq)
{
	struct vhost_dev *dev = vq->dev;
	uint16_t index = vq->index;
	size_t st = offsetof(struct vhost_vring, stats);
	size_t st_end = st + sizeof(vq->stats);

	vring_drain_stop(vq);
	close_fd(&vq->kickfd);
	close_fd(&vq->callfd);
	close_fd(&vq->errfd);
	free(vq->shadow);
	memset((char *)vq + sizeof(vq->lock), 0, st - sizeof(vq->lock));
	memset((char *)vq + st_end, 0, sizeof(*vq) - st_end);
	vq->dev = dev;
	vq->index = index;
	vq->kickfd = -1;
	vq->callfd = -1;
	vq->errfd = -1;
	vq->mem = dev->mem;
}

struct vhost_dev *device_create(struct vhost_socket *sock, int fd)
{
	uint16_t nvrings = (uint16_t)(2 * socket_max_queue_pairs(sock));
	struct vhost_dev *dev;

	dev = calloc(1, sizeof(*dev) + nvrings * sizeof(dev->vrings[0]));
	if (!dev)
		goto fail;
	dev->mem = calloc(1, sizeof(*dev->mem));
	if (!dev->mem)
		goto fail;
	dev->ctx = sock->ctx;
	dev->sock = sock;
	dev->id = ++sock->ctx->next_dev_id;
	dev->fd = fd;
	dev->backend_req_fd = -1;
	dev->max_vrings = nvrings;
	for (uint16_t i = 0; i < nvrings; i++) {
		dev->vrings[i].dev = dev;
		dev->vrings[i].index = i;
		dev->vrings[i].kickfd = -1;
		dev->vrings[i].callfd = -1;
		dev->vrings[i].errfd = -1;
		vring_reset(&dev->vrings[i]);
	}
	msg_rx_init(&dev->rx);
	dev->evh = event_add(sock->ctx->el, fd, EPOLLIN | EPOLLRDHUP,
			     vhost_user_on_readable, dev);
	if (!dev->evh)
		goto fail;
	return dev;
fail:
	LOG_ERR("%s: cannot create device: %s", sock->path, strerror(errno));
	if (dev)
		free(dev->mem);
	free(dev);
	return NULL;
}

/* A queue pair the device can run on: both rings translated, kick and call
 * given, started and enabled. Broken or not: a broken ring is told to the
 * application as unusable (vring_state), the device stays. */
static bool pair_ready(const struct vhost_dev *dev, uint16_t pair)
{
	for (unsigned i = 0; i < 2; i++) {
		const struct vhost_vring *vq = &dev->vrings[2 * pair + i];

		if (!vq->desc || !vq->kick_set || !vq->call_set ||
		    !vq->enabled || !vq->started)
			return false;
	}
	return true;
}

/* Ready: memory and features set, at least one queue pair ready (any pair:
 * disabling pair 0 does not take the device away while another pair runs,
 * vhost-user.rst "Multiple queue support"), and DRIVER_OK if STATUS was
 * negotiated. Which rings are usable is told per ring. */
static bool device_is_ready(const struct vhost_dev *dev)
{
	bool any = false;

	if (!dev->features_set || !dev->mem->nregions)
		return false;
	for (uint16_t p = 0; !any && p < dev->max_vrings / 2; p++)
		any = pair_ready(dev, p);
	if (!any)
		return false;
	if (dev_has_protocol_feature(dev, VHOST_USER_PROTOCOL_F_STATUS) &&
	    !(dev->status & VIRTIO_CONFIG_S_DRIVER_OK))
		return false;
	return true;
}

static void device_set_running(struct vhost_dev *dev, bool running)
{
	dev->running = running;
	for (uint16_t i = 0; i < dev->max_vrings; i++)
		vring_refresh(dev, &dev->vrings[i]);
}

void device_stop(struct vhost_dev *dev)
{
	const struct vhost_device_ops *ops = device_ops(dev);

	if (!dev->running)
		return;
	/* The data path sees access_ok false before the application is told,
	 * so no burst can start on this device after destroy_device. */
	device_set_running(dev, false);
	/* destroy_device means every ring is off. */
	for (uint16_t i = 0; i < dev->max_vrings; i++)
		dev->vrings[i].app_usable = false;
	LOG_INFO("%s: device %llu stopped", dev->sock->path,
		 (unsigned long long)dev->id);
	if (ops->destroy_device)
		ops->destroy_device(dev);
}

void vring_make_unusable(struct vhost_dev *dev, struct vhost_vring *vq)
{
	/* Decided by what the application was told, not by access_ok,
	 * which a data thread clears on its own when the guest breaks the
	 * ring (the application hears of that only after this message). */
	if (!dev->running)
		return;
	/* No ring carries the device: if this was the last ready pair,
	 * device_update_running() stops it after the message. */
	vring_lock(vq);
	vq->access_ok = false;
	vring_unlock(vq);
	device_report_vrings(dev);
}

void device_report_vrings(struct vhost_dev *dev)
{
	const struct vhost_device_ops *ops = device_ops(dev);

	for (uint16_t i = 0; i < dev->max_vrings; i++) {
		struct vhost_vring *vq = &dev->vrings[i];
		/* A data thread may clear access_ok (broken ring); read it
		 * once, without taking the lock the data path trylocks. */
		bool now = atomic_load_explicit(&vq->access_ok,
						  memory_order_acquire);

		if (!dev->running || dev->closing || now == vq->app_usable)
			continue;
		vq->app_usable = now;
		if (ops->vring_state_changed)
			ops->vring_state_changed(dev, i, now);
	}
}

int device_update_running(struct vhost_dev *dev)
{
	const struct vhost_device_ops *ops = device_ops(dev);
	bool ready;

	if (dev->closing)
		return 0;
	ready = device_is_ready(dev);
	if (ready == dev->running)
		return 0;
	if (!ready) {
		device_stop(dev);
		return 0;
	}
	device_set_running(dev, true);
	LOG_INFO("%s: device %llu ready: features 0x%llx protocol 0x%llx, %u vrings",
		 dev->sock->path, (unsigned long long)dev->id,
		 (unsigned long long)dev->features,
		 (unsigned long long)dev->protocol_features, dev->nr_vrings);
	if (ops->new_device && ops->new_device(dev) < 0) {
		LOG_ERR("%s: device %llu refused by the application",
			dev->sock->path, (unsigned long long)dev->id);
		device_set_running(dev, false);
		return -ECONNREFUSED;
	}
	/* Tell the application which rings it may use now; later changes
	 * are reported after each message (device_report_vrings). */
	device_report_vrings(dev);
	return 0;
}

int device_settle(struct vhost_dev *dev)
{
	if (device_update_running(dev) < 0)
		return -ECONNREFUSED;
	device_report_vrings(dev);
	vring_drain_update(dev);
	return 0;
}

void device_stop_rings(struct vhost_dev *dev)
{
	/* Without PROTOCOL_FEATURES there is no SET_VRING_ENABLE: rings
	 * stay enabled and come back when started again. */
	bool disable = dev_has_feature(dev, VHOST_USER_F_PROTOCOL_FEATURES);

	device_stop(dev);
	for (uint16_t i = 0; i < dev->max_vrings; i++) {
		struct vhost_vring *vq = &dev->vrings[i];

		vring_lock(vq);
		vq->started = false;
		vq->kick_set = false;
		vq->signalled_used_valid = false;
		if (disable)
			vq->enabled = false;
		vring_refresh_locked(dev, vq);
		vring_unlock(vq);
	}
}

void device_reset(struct vhost_dev *dev)
{
	device_stop(dev);
	device_lock_all_vrings(dev);
	for (uint16_t i = 0; i < dev->max_vrings; i++)
		vring_reset(&dev->vrings[i]);
	mem_table_unmap_all(dev->mem);
	device_unlock_all_vrings(dev);
	dirty_log_unmap(&dev->log);
	dev->features = 0;
	dev->features_set = false;
	dev->features_refused = false;
	dev->status = 0;
	dev->nr_vrings = 0;
}

static void device_free(void *arg)
{
	struct vhost_dev *dev = arg;

	for (uint16_t i = 0; i < dev->max_vrings; i++)
		vring_reset(&dev->vrings[i]);
	mem_table_unmap_all(dev->mem);
	dirty_log_unmap(&dev->log);
	close_fd(&dev->backend_req_fd);
	msg_close_fds(&dev->rx.msg);
	free(dev->mem);
	free(dev);
}

void device_close(struct vhost_dev *dev)
{
	const struct vhost_device_ops *ops = device_ops(dev);
	struct vhost_socket *sock = dev->sock;

	if (dev->closing)
		return;
	/* Closing before any callback, and off the socket's list: a callback
	 * may unregister the socket (which closes what is still listed) or
	 * close this device again; both must find nothing left to do. The
	 * socket itself is freed only after this batch of events. */
	dev->closing = true;
	socket_device_gone(sock, dev);
	event_del(dev->ctx->el, dev->evh);
	close_fd(&dev->fd);
	for (uint16_t i = 0; i < dev->max_vrings; i++)
		vring_drain_stop(&dev->vrings[i]);
	device_stop(dev);
	LOG_INFO("%s: connection of device %llu closed", sock->path,
		 (unsigned long long)dev->id);
	if (dev->connected_cb_done && ops->destroy_connection)
		ops->destroy_connection(dev);
	/* The message handler that got us here may still use dev. */
	if (event_loop_defer(dev->ctx->el, device_free, dev))
		LOG_ERR("%s: out of memory: device %llu leaked", sock->path,
			(unsigned long long)dev->id);
}

/* ------------------------------------------------------- public accessors */

uint64_t vhost_dev_id(const struct vhost_dev *dev)
{
	return dev->id;
}

const char *vhost_dev_path(const struct vhost_dev *dev)
{
	return dev->sock->path;
}

void *vhost_dev_socket_opaque(const struct vhost_dev *dev)
{
	return dev->sock->opaque;
}

void vhost_dev_set_priv(struct vhost_dev *dev, void *priv)
{
	dev->priv = priv;
}

void *vhost_dev_get_priv(const struct vhost_dev *dev)
{
	return dev->priv;
}

uint64_t vhost_dev_features(const struct vhost_dev *dev)
{
	return dev->features;
}

uint64_t vhost_dev_protocol_features(const struct vhost_dev *dev)
{
	return dev->protocol_features;
}

uint16_t vhost_dev_num_vrings(const struct vhost_dev *dev)
{
	return dev->nr_vrings;
}

uint16_t vhost_dev_mtu(const struct vhost_dev *dev)
{
	return dev->mtu;
}
