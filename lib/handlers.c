/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user requests. Each request has one row in handler_table: its
 * payload size rule, how many fds it carries, whether its payload names a
 * virtqueue, which protocol feature it needs, and whether it has an
 * explicit reply. vhost_user_handle_msg() checks all of that before a
 * handler runs, so handlers see well-formed payloads with valid ring
 * indices and only do the semantic checks of their request.
 *
 * Errors: a handler returns -errno. If the front-end asked for an ack
 * (REPLY_ACK negotiated, NEED_REPLY set) it gets a non-zero ack and the
 * connection stays; otherwise, and for requests with an explicit reply,
 * the connection is closed. Either way the process and every other device
 * keep running.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <linux/virtio_config.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "handlers.h"
#include "log.h"
#include "socket.h"
#include "vring_drain.h"

#define MSGS_PER_WAKEUP 64 /* then yield to other connections */
#define NO_FEATURE 0xff

enum size_rule {
	SIZE_EXACT, /* payload is exactly .size bytes */
	SIZE_MIN,   /* at least .size bytes; the handler checks the rest */
	SIZE_NONE,  /* no payload expected; any sent is ignored */
};

enum fd_rule {
	FDS_NONE,     /* no fd */
	FDS_ONE,      /* exactly one */
	FDS_OPTIONAL, /* zero or one (closed unused) */
	FDS_VRING,    /* one, or none with the "no fd" bit of the u64 */
	FDS_REGIONS,  /* one per memory region */
};

enum index_rule {
	IDX_NONE,
	IDX_STATE, /* u32 index first (vring state / address) */
	IDX_U64,   /* low byte of a u64 (kick, call, err) */
};

struct reply {
	union vhost_user_payload payload;
	uint32_t size;
};

typedef int (*handler_fn)(struct vhost_dev *dev, struct vhost_msg *msg,
			  struct reply *reply);

struct handler {
	const char *name;
	handler_fn fn;
	uint32_t size;
	uint8_t size_rule;
	uint8_t fd_rule;
	uint8_t index_rule;
	uint8_t protocol_feature; /* needed, or NO_FEATURE */
	bool has_reply;
};

static const struct handler handler_table[VHOST_USER_MAX_REQUEST];

const char *vhost_user_request_name(uint32_t request)
{
	if (request < VHOST_USER_MAX_REQUEST && handler_table[request].name)
		return handler_table[request].name;
	return "UNKNOWN";
}

static const char *dev_path(const struct vhost_dev *dev)
{
	return dev->sock->path;
}

static struct vhost_vring *msg_vring(struct vhost_dev *dev,
				     const struct vhost_msg *msg)
{
	uint32_t idx = handler_table[msg->hdr.request].index_rule == IDX_U64 ?
		       (uint32_t)(msg->payload.u64 & VHOST_USER_VRING_IDX_MASK) :
		       msg->payload.state.index;

	return &dev->vrings[idx]; /* checked in vhost_user_handle_msg */
}

/* The data path writes call fds and applications read kick fds: neither
 * may block, whatever the front-end passed (an eventfd at its maximum
 * count, a full pipe). */
static int nonblocking(int fd)
{
	int fl;

	if (fd >= 0 && (fl = fcntl(fd, F_GETFL)) >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return fd;
}

static void replace_fd(int *slot, int fd)
{
	if (*slot >= 0)
		close(*slot);
	*slot = fd;
}

static void reply_u64(struct reply *reply, uint64_t v)
{
	reply->payload.u64 = v;
	reply->size = sizeof(uint64_t);
}

/* ------------------------------------------------------------- features */

static int h_get_features(struct vhost_dev *dev, struct vhost_msg *msg,
			  struct reply *reply)
{
	(void)msg;
	reply_u64(reply, socket_offered_features(dev->sock));
	return 0;
}

/* Features not accepted: FEATURES_OK is not ours to report (virtio 1.1
 * 3.1.1: the device clears it when it refuses the features). */
static int features_refused(struct vhost_dev *dev, int err)
{
	dev->features_refused = true;
	dev->status &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	return err;
}

static int h_set_features(struct vhost_dev *dev, struct vhost_msg *msg,
			  struct reply *reply)
{
	uint64_t features = msg->payload.u64;
	uint64_t offered = socket_offered_features(dev->sock);
	bool was_set = dev->features_set;
	uint64_t old = dev->features;

	(void)reply;
	if (features & ~offered) {
		LOG_ERR("%s: front-end acked features 0x%llx not offered (0x%llx)",
			dev_path(dev), (unsigned long long)features,
			(unsigned long long)offered);
		return features_refused(dev, -EINVAL);
	}
	/* Only logging may be switched on a running device (migration). */
	if (dev->running && ((old ^ features) & ~(1ull << VHOST_F_LOG_ALL))) {
		LOG_ERR("%s: features changed while the device runs",
			dev_path(dev));
		return features_refused(dev, -EBUSY);
	}
	dev->features = features;
	dev->features_set = true;
	dev->features_refused = false;
	/* Without PROTOCOL_FEATURES there is no SET_VRING_ENABLE: the spec
	 * says rings start enabled. */
	if (!(features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		for (uint16_t i = 0; i < dev->max_vrings; i++)
			dev->vrings[i].enabled = true;
	for (uint16_t i = 0; i < dev->max_vrings; i++)
		vring_refresh(dev, &dev->vrings[i]);
	LOG_INFO("%s: features acked 0x%llx", dev_path(dev),
		 (unsigned long long)features);
	if (dev->running && was_set && old != features &&
	    device_ops(dev)->features_changed)
		device_ops(dev)->features_changed(dev, features);
	return 0;
}

static int h_get_protocol_features(struct vhost_dev *dev,
				   struct vhost_msg *msg, struct reply *reply)
{
	(void)msg;
	reply_u64(reply, socket_offered_protocol_features(dev->sock));
	return 0;
}

static int h_set_protocol_features(struct vhost_dev *dev,
				   struct vhost_msg *msg, struct reply *reply)
{
	uint64_t features = msg->payload.u64;
	uint64_t offered = socket_offered_protocol_features(dev->sock);

	(void)reply;
	if (features & ~offered) {
		LOG_ERR("%s: protocol features 0x%llx not offered (0x%llx)",
			dev_path(dev), (unsigned long long)features,
			(unsigned long long)offered);
		return -EINVAL;
	}
	dev->protocol_features = features;
	LOG_INFO("%s: protocol features acked 0x%llx", dev_path(dev),
		 (unsigned long long)features);
	return 0;
}

static int h_get_queue_num(struct vhost_dev *dev, struct vhost_msg *msg,
			   struct reply *reply)
{
	(void)msg;
	reply_u64(reply, socket_max_queue_pairs(dev->sock));
	return 0;
}

/* ---------------------------------------------------------- ownership */

static int h_set_owner(struct vhost_dev *dev, struct vhost_msg *msg,
		       struct reply *reply)
{
	(void)msg;
	(void)reply;
	dev->owner = true;
	return 0;
}

static int h_reset(struct vhost_dev *dev, struct vhost_msg *msg,
		   struct reply *reply)
{
	(void)reply;
	LOG_INFO("%s: %s", dev_path(dev),
		 vhost_user_request_name(msg->hdr.request));
	/* RESET_OWNER is deprecated; vhost-user.rst recommends ignoring it
	 * or disabling all rings, not dropping the negotiated state: a
	 * front-end may start its rings again without renegotiating. */
	if (msg->hdr.request == VHOST_USER_RESET_OWNER)
		device_stop_rings(dev);
	else
		device_reset(dev);
	return 0;
}

/* --------------------------------------------------------------- memory */

/* Install a new table: the data path is kept out while entries move and
 * rings are re-translated; old mappings are released afterwards. */
static void install_mem_table(struct vhost_dev *dev, struct mem_table *new_mt,
			      struct mem_table *old_out)
{
	device_lock_all_vrings(dev);
	memcpy(old_out, dev->mem, sizeof(*old_out));
	memcpy(dev->mem, new_mt, sizeof(*new_mt));
	for (uint16_t i = 0; i < dev->max_vrings; i++)
		vring_refresh_locked(dev, &dev->vrings[i]);
	device_unlock_all_vrings(dev);
}

/* The same layout over the same files: the mappings can stay. */
static bool same_regions(const struct mem_table *mt,
			 const struct vhost_user_memory *m, const int *fds)
{
	if (mt->nregions != m->nregions)
		return false;
	for (uint32_t i = 0; i < m->nregions; i++) {
		const struct mem_region *r = &mt->regions[i];
		const struct vhost_user_mem_region *d = &m->regions[i];

		if (r->gpa != d->guest_phys_addr || r->size != d->memory_size ||
		    r->uva != d->userspace_addr ||
		    r->mmap_offset != d->mmap_offset ||
		    !mem_region_same_file(r, fds[i]))
			return false;
	}
	return true;
}

/* Bytes one more mapping of dev may take: what is left of the connection's
 * budget (conn_used mapped) and of the context's, where `credit` bytes of
 * the context's are about to be released (the table being replaced). */
static uint64_t mem_room(const struct vhost_dev *dev, uint64_t conn_used,
			 uint64_t credit)
{
	const struct mem_budget *b = &dev->ctx->mem;
	uint64_t conn_max = socket_conn_mem_bytes(dev->sock);
	uint64_t ctx_used = b->bytes - credit;
	uint64_t conn_room = conn_used < conn_max ? conn_max - conn_used : 0;
	uint64_t ctx_room = ctx_used < b->max_bytes ? b->max_bytes - ctx_used : 0;

	return conn_room < ctx_room ? conn_room : ctx_room;
}

/* dev may hold n regions in place of the `credit` it holds now. */
static bool mem_regions_fit(const struct vhost_dev *dev, uint32_t n,
			    uint32_t credit)
{
	const struct mem_budget *b = &dev->ctx->mem;
	unsigned conn_max = socket_conn_mem_regions(dev->sock);

	if (n > conn_max) {
		LOG_ERR("%s: %u memory regions: over the connection's budget of %u",
			dev_path(dev), n, conn_max);
		return false;
	}
	if ((uint64_t)b->regions - credit + n > b->max_regions) {
		LOG_ERR("%s: memory regions: the context's budget of %u is used",
			dev_path(dev), b->max_regions);
		return false;
	}
	return true;
}

static int h_set_mem_table(struct vhost_dev *dev, struct vhost_msg *msg,
			   struct reply *reply)
{
	const struct vhost_user_memory *m = &msg->payload.memory;
	struct mem_table *new_mt, *old_mt;
	uint64_t old_bytes, new_bytes = 0;
	int ret = 0;

	(void)reply;
	/* nregions vs size and fds was checked centrally. */
	if (same_regions(dev->mem, m, msg->fds)) {
		/* QEMU resends an unchanged table; keep the mappings. */
		LOG_DEBUG("%s: memory table unchanged", dev_path(dev));
		return 0;
	}
	/* The new table is budgeted as if the old one were gone already. */
	if (!mem_regions_fit(dev, m->nregions, dev->mem->nregions))
		return -ENOSPC;
	old_bytes = mem_table_bytes(dev->mem);
	new_mt = calloc(1, sizeof(*new_mt));
	old_mt = calloc(1, sizeof(*old_mt));
	if (!new_mt || !old_mt) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < m->nregions; i++) {
		const struct vhost_user_mem_region *d = &m->regions[i];

		ret = mem_region_validate(d);
		if (ret)
			goto fail;
		if (mem_table_overlaps(new_mt, d)) {
			LOG_ERR("%s: memory regions overlap", dev_path(dev));
			ret = -EINVAL;
			goto fail;
		}
		/* The fd is closed after the message: the mapping keeps
		 * the file. */
		ret = mem_region_map(&new_mt->regions[i], d, msg->fds[i],
				     mem_room(dev, new_bytes, old_bytes),
				     &dev->ctx->mem);
		if (ret)
			goto fail;
		new_mt->nregions = i + 1;
		new_bytes += new_mt->regions[i].mmap_size;
	}
	install_mem_table(dev, new_mt, old_mt);
	mem_table_unmap_all(old_mt);
	goto out;
fail:
	mem_table_unmap_all(new_mt);
out:
	free(new_mt);
	free(old_mt);
	return ret;
}

static int h_get_max_mem_slots(struct vhost_dev *dev, struct vhost_msg *msg,
			       struct reply *reply)
{
	(void)msg;
	/* The connection's budget: QEMU plans hot-plug within it. */
	reply_u64(reply, socket_conn_mem_regions(dev->sock));
	return 0;
}

static int h_add_mem_reg(struct vhost_dev *dev, struct vhost_msg *msg,
			 struct reply *reply)
{
	const struct vhost_user_mem_region *d = &msg->payload.mem_reg.region;
	struct mem_region r;
	int ret, dup;

	(void)reply;
	ret = mem_region_validate(d);
	if (ret)
		return ret;
	dup = mem_table_find(dev->mem, d);
	if (dup >= 0 && dev->mem->regions[dup].mmap_offset == d->mmap_offset &&
	    mem_region_same_file(&dev->mem->regions[dup], msg->fds[0])) {
		LOG_DEBUG("%s: region already mapped", dev_path(dev));
		return 0; /* the fd is closed by the caller */
	}
	if (mem_table_overlaps(dev->mem, d)) {
		LOG_ERR("%s: added region overlaps a mapped one", dev_path(dev));
		return -EINVAL;
	}
	if (dev->mem->nregions >= VHOST_USER_MAX_MEM_SLOTS) {
		LOG_ERR("%s: all %u memory slots used", dev_path(dev),
			VHOST_USER_MAX_MEM_SLOTS);
		return -ENOSPC;
	}
	if (!mem_regions_fit(dev, dev->mem->nregions + 1, dev->mem->nregions))
		return -ENOSPC;
	/* The fd is closed after the message: the mapping keeps the file. */
	ret = mem_region_map(&r, d, msg->fds[0],
			     mem_room(dev, mem_table_bytes(dev->mem), 0),
			     &dev->ctx->mem);
	if (ret)
		return ret;
	device_lock_all_vrings(dev);
	dev->mem->regions[dev->mem->nregions++] = r;
	for (uint16_t i = 0; i < dev->max_vrings; i++)
		vring_refresh_locked(dev, &dev->vrings[i]);
	device_unlock_all_vrings(dev);
	return 0;
}

static int h_rem_mem_reg(struct vhost_dev *dev, struct vhost_msg *msg,
			 struct reply *reply)
{
	const struct vhost_user_mem_region *d = &msg->payload.mem_reg.region;
	struct mem_table *mt = dev->mem;
	struct mem_region gone;
	int i = mem_table_find(mt, d);

	(void)reply;
	if (i < 0) {
		LOG_ERR("%s: removing a region that is not mapped",
			dev_path(dev));
		return -ENOENT;
	}
	device_lock_all_vrings(dev);
	gone = mt->regions[i];
	mt->regions[i] = mt->regions[mt->nregions - 1];
	mt->nregions--;
	for (uint16_t q = 0; q < dev->max_vrings; q++)
		vring_refresh_locked(dev, &dev->vrings[q]);
	device_unlock_all_vrings(dev);
	mem_region_unmap(&gone);
	return 0;
}

/* --------------------------------------------------------------- vrings */

static int h_set_vring_num(struct vhost_dev *dev, struct vhost_msg *msg,
			   struct reply *reply)
{
	struct vhost_vring *vq = msg_vring(dev, msg);
	uint32_t num = msg->payload.state.num;

	(void)reply;
	/* Packed rings need not be powers of two (virtio 2.7.10.2). */
	if (num == 0 || num > VHOST_MAX_RING_SIZE ||
	    ((num & (num - 1)) &&
	     !dev_has_feature(dev, VIRTIO_F_RING_PACKED))) {
		LOG_ERR("%s: vring %u: bad size %u", dev_path(dev), vq->index,
			num);
		return -EINVAL;
	}
	if (vq->started) {
		LOG_ERR("%s: vring %u: resize of a started ring",
			dev_path(dev), vq->index);
		return -EBUSY;
	}
	vring_lock(vq);
	vq->size = (uint16_t)(num == 32768 ? 32768 : num);
	vq->mask = (uint16_t)(num - 1);
	vring_refresh_locked(dev, vq);
	vring_unlock(vq);
	return 0;
}

static int h_set_vring_addr(struct vhost_dev *dev, struct vhost_msg *msg,
			    struct reply *reply)
{
	const struct vhost_user_vring_addr *a = &msg->payload.addr;
	struct vhost_vring *vq = msg_vring(dev, msg);
	int ret = 0;

	bool same_ring;

	(void)reply;
	if (a->flags & ~(1u << VHOST_VRING_F_LOG)) {
		LOG_ERR("%s: vring %u: address flags 0x%x", dev_path(dev),
			vq->index, a->flags);
		return -EINVAL;
	}
	vring_lock(vq);
	same_ring = vq->addr_set && vq->desc_uaddr == a->desc_user_addr &&
		    vq->avail_uaddr == a->avail_user_addr &&
		    vq->used_uaddr == a->used_user_addr;
	vq->addr_flags = a->flags;
	vq->desc_uaddr = a->desc_user_addr;
	vq->avail_uaddr = a->avail_user_addr;
	vq->used_uaddr = a->used_user_addr;
	vq->log_gaddr = a->log_guest_addr;
	vq->addr_set = true;
	/* Migration start and cancel re-send the addresses of a running ring
	 * with only the LOG flag changed: its indices stay ours. A ring being
	 * set up takes them from the guest's used ring (vring_translate). */
	if (!same_ring || !vq->started)
		vq->sync_used = true;
	vring_refresh_locked(dev, vq);
	/* With memory mapped and a size known the ring must translate now;
	 * otherwise translation waits for the memory table. */
	if (dev->mem->nregions && vq->size && !vq->desc)
		ret = -EFAULT;
	vring_unlock(vq);
	return ret;
}

static int h_set_vring_base(struct vhost_dev *dev, struct vhost_msg *msg,
			    struct reply *reply)
{
	struct vhost_vring *vq = msg_vring(dev, msg);
	uint32_t base = msg->payload.state.num;
	bool packed = dev_has_feature(dev, VIRTIO_F_RING_PACKED);

	(void)reply;
	if (base > UINT16_MAX && !packed) {
		LOG_ERR("%s: vring %u: base %u out of range", dev_path(dev),
			vq->index, base);
		return -EINVAL;
	}
	/* A ring the guest broke may be set up again while started. */
	if (vq->started && !vq->broken) {
		LOG_ERR("%s: vring %u: base set on a started ring",
			dev_path(dev), vq->index);
		return -EBUSY;
	}
	vring_lock(vq);
	if (packed) {
		/* Bits 0-14 avail position, 15 its wrap counter, 16-31 the
		 * same for used; a zero high half means used = avail (DPDK's
		 * virtio-user sends 0x8000 at start). Positions are checked
		 * against the size when the ring is translated. */
		uint32_t hi = base >> 16 ? base >> 16 : base & 0xffff;

		vq->last_avail_idx = (uint16_t)(base & 0x7fff);
		vq->avail_wrap = (base >> 15) & 1;
		vq->last_used_idx = (uint16_t)(hi & 0x7fff);
		vq->used_wrap = (hi >> 15) & 1;
	} else {
		vq->last_avail_idx = (uint16_t)base;
		vq->last_used_idx = (uint16_t)base;
	}
	vq->avail_known = 0;
	vq->signalled_used_valid = false;
	vq->broken = false;
	vq->sync_used = true;
	vring_unlock(vq);
	return 0;
}

static int h_get_vring_base(struct vhost_dev *dev, struct vhost_msg *msg,
			    struct reply *reply)
{
	struct vhost_vring *vq = msg_vring(dev, msg);

	/* The ring stops here (spec). Ring 0/1 stopping makes the device
	 * not ready: device_update_running() calls destroy_device after. */
	/* The kick fd stays open until replaced or the device goes: the
	 * application may still be polling it. */
	vring_lock(vq);
	vq->started = false;
	vq->kick_set = false;
	vq->signalled_used_valid = false;
	vring_refresh_locked(dev, vq);
	reply->payload.state.index = vq->index;
	/* Every burst completed its chains under this lock: nothing is in
	 * flight. Packed: the 32-bit form of SET_VRING_BASE. */
	reply->payload.state.num = vq->last_avail_idx;
	if (dev_has_feature(dev, VIRTIO_F_RING_PACKED))
		reply->payload.state.num |=
			(uint32_t)vq->avail_wrap << 15 |
			(uint32_t)vq->last_used_idx << 16 |
			(uint32_t)vq->used_wrap << 31;
	reply->size = sizeof(reply->payload.state);
	vring_unlock(vq);
	LOG_INFO("%s: vring %u stopped at %u", dev_path(dev), vq->index,
		 reply->payload.state.num);
	return 0;
}

static int h_set_vring_kick(struct vhost_dev *dev, struct vhost_msg *msg,
			    struct reply *reply)
{
	struct vhost_vring *vq = msg_vring(dev, msg);

	(void)reply;
	/* The application may poll the old kick fd while the ring is
	 * usable: take the ring away from it before the fd goes. */
	vring_make_unusable(dev, vq);
	vring_drain_stop(vq);
	vring_lock(vq);
	replace_fd(&vq->kickfd, nonblocking(msg_take_fd(msg, 0)));
	vq->kick_set = true;
	/* Rings start on their first kick; we poll, so the kick fd given is
	 * as good as a kick (what QEMU and DPDK expect). */
	vq->started = true;
	vring_refresh_locked(dev, vq);
	vring_unlock(vq);
	return 0;
}

static int h_set_vring_call(struct vhost_dev *dev, struct vhost_msg *msg,
			    struct reply *reply)
{
	struct vhost_vring *vq = msg_vring(dev, msg);

	(void)reply;
	vring_lock(vq);
	replace_fd(&vq->callfd, nonblocking(msg_take_fd(msg, 0)));
	vq->call_set = true;
	vq->signalled_used_valid = false;
	vring_unlock(vq);
	return 0;
}

static int h_set_vring_err(struct vhost_dev *dev, struct vhost_msg *msg,
			   struct reply *reply)
{
	struct vhost_vring *vq = msg_vring(dev, msg);

	(void)reply;
	/* Non-blocking: the front-end, which holds the counter, must not be
	 * able to stall the event thread that reports a broken ring. */
	replace_fd(&vq->errfd, nonblocking(msg_take_fd(msg, 0)));
	return 0;
}

static int h_set_vring_enable(struct vhost_dev *dev, struct vhost_msg *msg,
			      struct reply *reply)
{
	struct vhost_vring *vq = msg_vring(dev, msg);
	uint32_t enable = msg->payload.state.num;

	(void)reply;
	if (enable > 1) {
		LOG_ERR("%s: vring %u: enable value %u", dev_path(dev),
			vq->index, enable);
		return -EINVAL;
	}
	vring_lock(vq);
	vq->enabled = enable;
	vq->fe_disabled = !enable;
	vring_refresh_locked(dev, vq);
	vring_unlock(vq);
	LOG_DEBUG("%s: vring %u %s", dev_path(dev), vq->index,
		  enable ? "enabled" : "disabled");
	return 0;
}

/* ------------------------------------------------------------ migration */

/* The dirty log (LOG_SHMFD). QEMU re-sends it when guest memory grows: the
 * new log is mapped first and swapped in under every ring lock, so a burst
 * logs wholly into the old one or the new one; the old is unmapped after
 * (QEMU merges the old log's bits when it frees it). The reply is
 * header-only and always sent: QEMU waits for it with or without
 * REPLY_ACK. */
static int h_set_log_base(struct vhost_dev *dev, struct vhost_msg *msg,
			  struct reply *reply)
{
	const struct vhost_user_log *l = &msg->payload.log;
	struct dirty_log fresh, old;
	int ret;

	ret = dirty_log_map(&fresh, msg->fds[0], l->mmap_size, l->mmap_offset);
	if (ret) {
		LOG_ERR("%s: SET_LOG_BASE refused", dev_path(dev));
		return ret;
	}
	device_lock_all_vrings(dev);
	old = dev->log;
	dev->log = fresh;
	for (uint16_t i = 0; i < dev->max_vrings; i++)
		vring_refresh_locked(dev, &dev->vrings[i]);
	device_unlock_all_vrings(dev);
	dirty_log_unmap(&old);
	LOG_INFO("%s: dirty log of 0x%llx bytes mapped", dev_path(dev),
		 (unsigned long long)l->mmap_size);
	reply->size = 0;
	return 0;
}

/* Legacy companion of SET_LOG_BASE (an eventfd to signal log updates);
 * QEMU never sends it and we never signal: accept and drop the fd. */
static int h_set_log_fd(struct vhost_dev *dev, struct vhost_msg *msg,
			struct reply *reply)
{
	(void)dev;
	(void)msg;
	(void)reply;
	return 0;
}

/* ------------------------------------------------------------- the rest */

static int h_send_rarp(struct vhost_dev *dev, struct vhost_msg *msg,
		       struct reply *reply)
{
	(void)reply;
	uint8_t mac[8] = { 0 };
	uint64_t v;

	/* The payload's first six bytes are the MAC, in wire order. */
	memcpy(mac, &msg->payload.u64, 6);
	memcpy(&v, mac, sizeof(v));
	atomic_store_explicit(&dev->rarp, v | RARP_PENDING,
			      memory_order_release);
	LOG_INFO("%s: SEND_RARP %02x:%02x:%02x:%02x:%02x:%02x", dev_path(dev),
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return 0;
}

static int h_net_set_mtu(struct vhost_dev *dev, struct vhost_msg *msg,
			 struct reply *reply)
{
	uint64_t mtu = msg->payload.u64;

	(void)reply;
	if (mtu < 68 || mtu > 65535) {
		LOG_ERR("%s: MTU %llu out of range", dev_path(dev),
			(unsigned long long)mtu);
		return -EINVAL;
	}
	dev->mtu = (uint16_t)mtu;
	LOG_INFO("%s: MTU %u", dev_path(dev), dev->mtu);
	return 0;
}

static int h_set_backend_req_fd(struct vhost_dev *dev, struct vhost_msg *msg,
				struct reply *reply)
{
	(void)reply;
	replace_fd(&dev->backend_req_fd, msg_take_fd(msg, 0));
	return 0;
}

static int h_set_status(struct vhost_dev *dev, struct vhost_msg *msg,
			struct reply *reply)
{
	(void)reply;
	if (msg->payload.u64 > UINT8_MAX) {
		LOG_ERR("%s: status 0x%llx out of range", dev_path(dev),
			(unsigned long long)msg->payload.u64);
		return -EINVAL;
	}
	dev->status = (uint8_t)msg->payload.u64;
	if ((dev->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    (!dev->features_set || dev->features_refused)) {
		LOG_ERR("%s: FEATURES_OK set but the features were not accepted",
			dev_path(dev));
		dev->status &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	LOG_DEBUG("%s: status 0x%x", dev_path(dev), dev->status);
	return 0;
}

static int h_get_status(struct vhost_dev *dev, struct vhost_msg *msg,
			struct reply *reply)
{
	(void)msg;
	reply_u64(reply, dev->status);
	return 0;
}

/* Requests of features we do not offer land here (the central protocol
 * feature check normally refuses them first). */
static int h_unsupported(struct vhost_dev *dev, struct vhost_msg *msg,
			 struct reply *reply)
{
	(void)reply;
	LOG_ERR("%s: %s not supported", dev_path(dev),
		vhost_user_request_name(msg->hdr.request));
	return -ENOTSUP;
}

#define H(req, fn_, size_, srule, frule, irule, pf, rep)                     \
	[VHOST_USER_##req] = { #req, fn_, size_, srule, frule, irule, pf, rep }
#define U64 sizeof(uint64_t)
#define STATE sizeof(struct vhost_user_vring_state)
#define P(f) VHOST_USER_PROTOCOL_F_##f

static const struct handler handler_table[VHOST_USER_MAX_REQUEST] = {
	H(GET_FEATURES, h_get_features, 0, SIZE_NONE, FDS_NONE, IDX_NONE, NO_FEATURE, true),
	H(SET_FEATURES, h_set_features, U64, SIZE_EXACT, FDS_NONE, IDX_NONE, NO_FEATURE, false),
	H(SET_OWNER, h_set_owner, 0, SIZE_NONE, FDS_NONE, IDX_NONE, NO_FEATURE, false),
	H(RESET_OWNER, h_reset, 0, SIZE_NONE, FDS_NONE, IDX_NONE, NO_FEATURE, false),
	H(SET_MEM_TABLE, h_set_mem_table, 8, SIZE_MIN, FDS_REGIONS, IDX_NONE, NO_FEATURE, false),
	H(SET_LOG_BASE, h_set_log_base, sizeof(struct vhost_user_log), SIZE_EXACT, FDS_ONE, IDX_NONE, P(LOG_SHMFD), true),
	H(SET_LOG_FD, h_set_log_fd, 0, SIZE_NONE, FDS_ONE, IDX_NONE, P(LOG_SHMFD), false),
	H(SET_VRING_NUM, h_set_vring_num, STATE, SIZE_EXACT, FDS_NONE, IDX_STATE, NO_FEATURE, false),
	H(SET_VRING_ADDR, h_set_vring_addr, sizeof(struct vhost_user_vring_addr), SIZE_EXACT, FDS_NONE, IDX_STATE, NO_FEATURE, false),
	H(SET_VRING_BASE, h_set_vring_base, STATE, SIZE_EXACT, FDS_NONE, IDX_STATE, NO_FEATURE, false),
	H(GET_VRING_BASE, h_get_vring_base, STATE, SIZE_EXACT, FDS_NONE, IDX_STATE, NO_FEATURE, true),
	H(SET_VRING_KICK, h_set_vring_kick, U64, SIZE_EXACT, FDS_VRING, IDX_U64, NO_FEATURE, false),
	H(SET_VRING_CALL, h_set_vring_call, U64, SIZE_EXACT, FDS_VRING, IDX_U64, NO_FEATURE, false),
	H(SET_VRING_ERR, h_set_vring_err, U64, SIZE_EXACT, FDS_VRING, IDX_U64, NO_FEATURE, false),
	H(GET_PROTOCOL_FEATURES, h_get_protocol_features, 0, SIZE_NONE, FDS_NONE, IDX_NONE, NO_FEATURE, true),
	H(SET_PROTOCOL_FEATURES, h_set_protocol_features, U64, SIZE_EXACT, FDS_NONE, IDX_NONE, NO_FEATURE, false),
	H(GET_QUEUE_NUM, h_get_queue_num, 0, SIZE_NONE, FDS_NONE, IDX_NONE, P(MQ), true),
	H(SET_VRING_ENABLE, h_set_vring_enable, STATE, SIZE_EXACT, FDS_NONE, IDX_STATE, NO_FEATURE, false),
	H(SEND_RARP, h_send_rarp, U64, SIZE_EXACT, FDS_NONE, IDX_NONE, P(RARP), false),
	H(NET_SET_MTU, h_net_set_mtu, U64, SIZE_EXACT, FDS_NONE, IDX_NONE, P(NET_MTU), false),
	H(SET_BACKEND_REQ_FD, h_set_backend_req_fd, 0, SIZE_NONE, FDS_ONE, IDX_NONE, P(BACKEND_REQ), false),
	H(IOTLB_MSG, h_unsupported, sizeof(struct vhost_user_iotlb), SIZE_EXACT, FDS_NONE, IDX_NONE, NO_FEATURE, false),
	H(SET_VRING_ENDIAN, h_unsupported, STATE, SIZE_EXACT, FDS_NONE, IDX_STATE, P(CROSS_ENDIAN), false),
	H(GET_CONFIG, h_unsupported, 12, SIZE_MIN, FDS_NONE, IDX_NONE, P(CONFIG), true),
	H(SET_CONFIG, h_unsupported, 12, SIZE_MIN, FDS_NONE, IDX_NONE, P(CONFIG), false),
	H(CREATE_CRYPTO_SESSION, h_unsupported, 0, SIZE_MIN, FDS_NONE, IDX_NONE, P(CRYPTO_SESSION), true),
	H(CLOSE_CRYPTO_SESSION, h_unsupported, 0, SIZE_MIN, FDS_NONE, IDX_NONE, P(CRYPTO_SESSION), false),
	H(POSTCOPY_ADVISE, h_unsupported, 0, SIZE_NONE, FDS_NONE, IDX_NONE, P(PAGEFAULT), true),
	H(POSTCOPY_LISTEN, h_unsupported, 0, SIZE_NONE, FDS_NONE, IDX_NONE, P(PAGEFAULT), false),
	H(POSTCOPY_END, h_unsupported, 0, SIZE_NONE, FDS_NONE, IDX_NONE, P(PAGEFAULT), true),
	H(GET_INFLIGHT_FD, h_unsupported, sizeof(struct vhost_user_inflight), SIZE_EXACT, FDS_NONE, IDX_NONE, P(INFLIGHT_SHMFD), true),
	H(SET_INFLIGHT_FD, h_unsupported, sizeof(struct vhost_user_inflight), SIZE_EXACT, FDS_ONE, IDX_NONE, P(INFLIGHT_SHMFD), false),
	H(RESET_DEVICE, h_reset, 0, SIZE_NONE, FDS_NONE, IDX_NONE, P(RESET_DEVICE), false),
	H(VRING_KICK, h_unsupported, STATE, SIZE_EXACT, FDS_NONE, IDX_STATE, P(INBAND_NOTIFICATIONS), false),
	H(GET_MAX_MEM_SLOTS, h_get_max_mem_slots, 0, SIZE_NONE, FDS_NONE, IDX_NONE, P(CONFIGURE_MEM_SLOTS), true),
	H(ADD_MEM_REG, h_add_mem_reg, sizeof(struct vhost_user_single_mem_region), SIZE_EXACT, FDS_ONE, IDX_NONE, P(CONFIGURE_MEM_SLOTS), false),
	H(REM_MEM_REG, h_rem_mem_reg, sizeof(struct vhost_user_single_mem_region), SIZE_EXACT, FDS_OPTIONAL, IDX_NONE, P(CONFIGURE_MEM_SLOTS), false),
	H(SET_STATUS, h_set_status, U64, SIZE_EXACT, FDS_NONE, IDX_NONE, P(STATUS), false),
	H(GET_STATUS, h_get_status, 0, SIZE_NONE, FDS_NONE, IDX_NONE, P(STATUS), true),
};

/* ------------------------------------------------------- central checks */

static int check_fds(struct vhost_dev *dev, const struct handler *h,
		     const struct vhost_msg *msg)
{
	unsigned want_min = 0, want_max = 0;

	switch (h->fd_rule) {
	case FDS_NONE:
		break;
	case FDS_ONE:
		want_min = want_max = 1;
		break;
	case FDS_OPTIONAL:
		want_max = 1;
		break;
	case FDS_VRING:
		want_min = want_max =
			(msg->payload.u64 & VHOST_USER_VRING_NOFD_MASK) ? 0 : 1;
		break;
	case FDS_REGIONS:
		want_min = want_max = msg->payload.memory.nregions;
		break;
	}
	if (msg->nfds < want_min || msg->nfds > want_max) {
		LOG_ERR("%s: %s with %u fds, want %u..%u", dev_path(dev), h->name,
			msg->nfds, want_min, want_max);
		return -EINVAL;
	}
	return 0;
}

static int check_msg(struct vhost_dev *dev, const struct handler *h,
		     struct vhost_msg *msg)
{
	uint32_t size = msg->hdr.size;

	if ((h->size_rule == SIZE_EXACT && size != h->size) ||
	    (h->size_rule == SIZE_MIN && size < h->size)) {
		LOG_ERR("%s: %s payload %u bytes, want %s%u", dev_path(dev),
			h->name, size, h->size_rule == SIZE_MIN ? ">= " : "",
			h->size);
		return -EINVAL;
	}
	if (msg->hdr.request == VHOST_USER_SET_MEM_TABLE) {
		uint32_t n = msg->payload.memory.nregions;

		if (n == 0 || n > VHOST_USER_MEMORY_MAX_NREGIONS ||
		    size < 8 + n * sizeof(struct vhost_user_mem_region)) {
			LOG_ERR("%s: SET_MEM_TABLE with %u regions in %u bytes",
				dev_path(dev), n, size);
			return -EINVAL;
		}
	}
	if (h->index_rule != IDX_NONE) {
		uint64_t idx = h->index_rule == IDX_U64 ?
			       (msg->payload.u64 & VHOST_USER_VRING_IDX_MASK) :
			       msg->payload.state.index;

		if (h->index_rule == IDX_U64 &&
		    (msg->payload.u64 & ~(VHOST_USER_VRING_IDX_MASK |
					  VHOST_USER_VRING_NOFD_MASK))) {
			LOG_ERR("%s: %s: reserved bits set", dev_path(dev),
				h->name);
			return -EINVAL;
		}
		if (idx >= dev->max_vrings) {
			LOG_ERR("%s: %s: vring %llu out of range (%u vrings)",
				dev_path(dev), h->name, (unsigned long long)idx,
				dev->max_vrings);
			return -ERANGE;
		}
	}
	if (h->protocol_feature != NO_FEATURE &&
	    !dev_has_protocol_feature(dev, h->protocol_feature)) {
		LOG_ERR("%s: %s needs protocol feature %u, not negotiated",
			dev_path(dev), h->name, h->protocol_feature);
		return -ENOTSUP;
	}
	return check_fds(dev, h, msg);
}

static int send_reply(struct vhost_dev *dev, const struct vhost_msg *msg,
		      const struct reply *reply)
{
	struct vhost_user_hdr hdr = {
		.request = msg->hdr.request,
		.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
		.size = reply->size,
	};
	int ret = msg_send(dev->fd, &hdr, &reply->payload, NULL, 0);

	if (ret)
		LOG_ERR("%s: reply to %s: %s", dev_path(dev),
			vhost_user_request_name(msg->hdr.request),
			strerror(-ret));
	return ret;
}

int vhost_user_handle_msg(struct vhost_dev *dev, struct vhost_msg *msg)
{
	uint32_t req = msg->hdr.request;
	const struct handler *h = req < VHOST_USER_MAX_REQUEST ?
				  &handler_table[req] : NULL;
	bool want_ack = (msg->hdr.flags & VHOST_USER_NEED_REPLY_MASK) &&
			dev_has_protocol_feature(dev,
						 VHOST_USER_PROTOCOL_F_REPLY_ACK);
	struct reply reply = { .size = 0 };
	int ret;

	if (msg->hdr.flags & VHOST_USER_REPLY_MASK) {
		LOG_ERR("%s: unexpected reply message", dev_path(dev));
		ret = -EPROTO;
		goto close;
	}
	if (!h || !h->fn) {
		LOG_ERR("%s: unknown request %u", dev_path(dev), req);
		ret = -ENOTSUP;
		goto error;
	}
	LOG_DEBUG("%s: %s (size %u, %u fds)", dev_path(dev), h->name,
		  msg->hdr.size, msg->nfds);
	ret = check_msg(dev, h, msg);
	if (ret == 0)
		ret = h->fn(dev, msg, &reply);
	/* Count the rings the front-end really set up. */
	if (ret == 0 && h->index_rule != IDX_NONE &&
	    msg_vring(dev, msg)->index >= dev->nr_vrings)
		dev->nr_vrings = (uint16_t)(msg_vring(dev, msg)->index + 1);
	msg_close_fds(msg);
	/* The front-end hears back only once what the request changed is
	 * settled: the application told (new_device, destroy_device,
	 * vring_state_changed). A front-end that acts on the ack (or on the
	 * base GET_VRING_BASE returns) finds the device in that state. */
	if (ret == 0 || (want_ack && !h->has_reply)) {
		if (device_settle(dev) < 0)
			return -ECONNREFUSED;
	}
	if (h->has_reply) {
		if (ret)
			goto close;
		ret = send_reply(dev, msg, &reply);
		if (ret)
			goto close;
	} else if (ret) {
		goto error;
	} else if (want_ack) {
		reply_u64(&reply, 0);
		if (send_reply(dev, msg, &reply))
			goto close;
	}
	return 0;
error:
	msg_close_fds(msg);
	LOG_ERR("%s: %s failed: %s", dev_path(dev), vhost_user_request_name(req),
		strerror(-ret));
	if (want_ack && !(h && h->has_reply)) {
		reply_u64(&reply, 1);
		if (send_reply(dev, msg, &reply) == 0)
			return 0;
	}
close:
	msg_close_fds(msg);
	return ret ? ret : -EPROTO;
}

void vhost_user_on_readable(int fd, uint32_t events, void *opaque)
{
	struct vhost_dev *dev = opaque;

	for (unsigned n = 0; n < MSGS_PER_WAKEUP && !dev->closing; n++) {
		int ret = msg_read(fd, &dev->rx);

		if (ret == 0) {
			if (events & (EPOLLHUP | EPOLLERR)) {
				ret = -ECONNRESET;
			} else {
				return;
			}
		}
		if (ret < 0) {
			if (ret == -ECONNRESET)
				LOG_INFO("%s: front-end closed the connection",
					 dev_path(dev));
			else
				LOG_ERR("%s: closing connection: %s",
					dev_path(dev), strerror(-ret));
			device_close(dev);
			return;
		}
		ret = vhost_user_handle_msg(dev, &dev->rx.msg);
		msg_rx_init(&dev->rx);
		if (ret < 0 && !dev->closing) {
			LOG_ERR("%s: closing connection after bad message",
				dev_path(dev));
			device_close(dev);
			return;
		}
	}
}
