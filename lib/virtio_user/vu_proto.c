/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vhost-user protocol, front-end side: requests on a connected socket,
 * replies checked (request id, reply flag, size, no fds), the start-up
 * sequence QEMU uses, and ring setup. The wire layer is the back-end's
 * (message.c); nothing here trusts a byte of a reply it has not checked.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <string.h>

#include "log.h"
#include "message.h"
#include "vu.h"

#define BIT(n) (1ull << (n))
#define WANTED_PROTOCOL_FEATURES                                             \
	(BIT(VHOST_USER_PROTOCOL_F_MQ) | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 BIT(VHOST_USER_PROTOCOL_F_STATUS))

static int call(int fd, uint32_t req, uint32_t flags, const void *payload,
		uint32_t size, const int *fds, unsigned nfds,
		struct vhost_msg *reply)
{
	struct vhost_user_hdr hdr = {
		.request = req,
		.flags = VHOST_USER_VERSION | flags,
		.size = size,
	};

	return msg_call(fd, &hdr, payload, fds, nfds, reply,
			VU_REPLY_TIMEOUT_MS);
}

int vu_get_u64(int fd, uint32_t req, uint64_t *out)
{
	struct vhost_msg reply;
	int ret = call(fd, req, 0, NULL, 0, NULL, 0, &reply);

	if (ret)
		return ret;
	if (reply.hdr.size != sizeof(uint64_t))
		return -EPROTO;
	*out = reply.payload.u64;
	return 0;
}

int vu_request(int fd, bool ack, uint32_t req, const void *payload,
	       uint32_t size, const int *fds, unsigned nfds)
{
	struct vhost_user_hdr hdr = {
		.request = req,
		.flags = VHOST_USER_VERSION,
		.size = size,
	};
	struct vhost_msg reply;
	int ret;

	if (!ack)
		return msg_send_wait(fd, &hdr, payload, fds, nfds,
				     VU_REPLY_TIMEOUT_MS);
	ret = call(fd, req, VHOST_USER_NEED_REPLY_MASK, payload, size, fds,
		   nfds, &reply);
	if (ret)
		return ret;
	if (reply.hdr.size != sizeof(uint64_t))
		return -EPROTO;
	return reply.payload.u64 ? -EIO : 0;
}

static int request_u64(struct virtio_user *vu, int fd, uint32_t req,
		       uint64_t v)
{
	bool ack = vu->protocol_features & BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK);

	return vu_request(fd, ack, req, &v, sizeof(v), NULL, 0);
}

static int request_state(struct virtio_user *vu, int fd, uint32_t req,
			 uint32_t index, uint32_t num)
{
	struct vhost_user_vring_state s = { .index = index, .num = num };
	bool ack = vu->protocol_features & BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK);

	return vu_request(fd, ack, req, &s, sizeof(s), NULL, 0);
}

int vu_negotiate(struct virtio_user *vu, int fd)
{
	uint64_t be, pf = 0, qn, features;
	uint16_t pairs = vu->p.queue_pairs;
	struct vhost_user_memory m = { .nregions = 1 + vu->npools };
	int fds[1 + VIRTIO_USER_MAX_POOLS] = { vu->memfd };
	bool ack;
	int ret;

	vu->protocol_features = 0;
	ret = vu_get_u64(fd, VHOST_USER_GET_FEATURES, &be);
	if (ret)
		return ret;
	features = vu->offered & be;
	if (!(features & BIT(VIRTIO_F_VERSION_1))) {
		LOG_ERR("virtio-user %s: back-end lacks VERSION_1", vu->path);
		return -ENOTSUP;
	}
	if (features & BIT(VHOST_USER_F_PROTOCOL_FEATURES)) {
		ret = vu_get_u64(fd, VHOST_USER_GET_PROTOCOL_FEATURES, &pf);
		if (ret)
			return ret;
		pf &= WANTED_PROTOCOL_FEATURES;
		/* Sent before REPLY_ACK is in force: no ack asked. */
		ret = vu_request(fd, false, VHOST_USER_SET_PROTOCOL_FEATURES,
				 &pf, sizeof(pf), NULL, 0);
		if (ret)
			return ret;
	}
	vu->protocol_features = pf;
	ack = pf & BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK);
	if (pairs > 1 && (pf & BIT(VHOST_USER_PROTOCOL_F_MQ)) &&
	    (features & BIT(VIRTIO_NET_F_MQ))) {
		ret = vu_get_u64(fd, VHOST_USER_GET_QUEUE_NUM, &qn);
		if (ret)
			return ret;
		if (qn == 0) {
			LOG_ERR("virtio-user %s: back-end has 0 queue pairs",
				vu->path);
			return -EPROTO;
		}
		if (qn < pairs)
			pairs = (uint16_t)qn;
	} else {
		pairs = 1;
	}
	if (pairs == 1)
		features &= ~BIT(VIRTIO_NET_F_MQ);
	/* IN_ORDER (virtio 2.7.9): split rings only here, and only while
	 * every ring still takes its descriptors in ring order (a back-end
	 * before this one may have returned buffers out of order). */
	if (features & BIT(VIRTIO_F_RING_PACKED))
		features &= ~BIT(VIRTIO_F_IN_ORDER);
	for (uint16_t i = 0; i < 2 * pairs; i++)
		if (!vu->rings[i].ordered)
			features &= ~BIT(VIRTIO_F_IN_ORDER);
	ret = vu_request(fd, ack, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	if (!ret)
		ret = request_u64(vu, fd, VHOST_USER_SET_FEATURES, features);
	if (ret)
		return ret;
	/* Our memory, then each shared pool's buffer area (zero-copy): our
	 * addresses are the "guest physical" ones. */
	m.regions[0].guest_phys_addr = (uint64_t)(uintptr_t)vu->mem;
	m.regions[0].userspace_addr = (uint64_t)(uintptr_t)vu->mem;
	m.regions[0].memory_size = vu->mem_size;
	m.regions[0].mmap_offset = 0;
	for (unsigned i = 0; i < vu->npools; i++) {
		struct vhost_user_mem_region *rg = &m.regions[1 + i];
		void *base;

		vhost_pktbuf_pool_shared_area(vu->pools[i], &fds[1 + i], &base,
					      &rg->memory_size);
		rg->guest_phys_addr = rg->userspace_addr =
			(uint64_t)(uintptr_t)base;
		rg->mmap_offset = 0;
	}
	ret = vu_request(fd, ack, VHOST_USER_SET_MEM_TABLE, &m,
			 (uint32_t)(offsetof(struct vhost_user_memory, regions) +
				    m.nregions * sizeof(m.regions[0])),
			 fds, m.nregions);
	if (ret)
		return ret;
	atomic_store(&vu->features, features);
	atomic_store(&vu->active_pairs, pairs);
	return 0;
}

int vu_setup_ring(struct virtio_user *vu, int fd, struct vu_ring *r,
		  uint32_t base)
{
	struct vhost_user_vring_addr a = {
		.index = r->index,
		.desc_user_addr = (uint64_t)(uintptr_t)r->desc,
		.used_user_addr = (uint64_t)(uintptr_t)r->used,
		.avail_user_addr = (uint64_t)(uintptr_t)r->avail,
	};
	bool ack = vu->protocol_features & BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK);
	int ret;

	ret = request_state(vu, fd, VHOST_USER_SET_VRING_NUM, r->index, r->size);
	if (!ret)
		ret = request_state(vu, fd, VHOST_USER_SET_VRING_BASE, r->index,
				    base);
	if (!ret)
		ret = vu_request(fd, ack, VHOST_USER_SET_VRING_ADDR, &a,
				 sizeof(a), NULL, 0);
	if (!ret)
		ret = vu_request(fd, ack, VHOST_USER_SET_VRING_KICK,
				 &(uint64_t){ r->index }, sizeof(uint64_t),
				 &r->kickfd, 1);
	if (!ret)
		ret = vu_request(fd, ack, VHOST_USER_SET_VRING_CALL,
				 &(uint64_t){ r->index }, sizeof(uint64_t),
				 &r->callfd, 1);
	if (!ret && (atomic_load(&vu->features) &
		     BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
		ret = request_state(vu, fd, VHOST_USER_SET_VRING_ENABLE,
				    r->index, 1);
	return ret;
}

int vu_set_status(struct virtio_user *vu, int fd)
{
	if (!(vu->protocol_features & BIT(VHOST_USER_PROTOCOL_F_STATUS)))
		return 0;
	return request_u64(vu, fd, VHOST_USER_SET_STATUS,
			   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			   VIRTIO_CONFIG_S_FEATURES_OK |
			   VIRTIO_CONFIG_S_DRIVER_OK);
}
