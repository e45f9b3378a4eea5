/* SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frontend.h"

#define REPLY_TIMEOUT_MS 5000

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void fe_init(struct fe *fe)
{
	memset(fe, 0, sizeof(*fe));
	fe->fd = -1;
	fe->memfd = -1;
	for (int i = 0; i < FE_MAX_VRINGS; i++) {
		fe->vr[i].kickfd = -1;
		fe->vr[i].callfd = -1;
	}
}

int fe_connect(struct fe *fe, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			fe->fd = fd;
			return 0;
		}
		close(fd);
		if (now_ms() >= end)
			return -ETIMEDOUT;
		usleep(10000);
	}
}

int fe_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int fe_accept(struct fe *fe, int listen_fd, int timeout_ms)
{
	struct pollfd p = { .fd = listen_fd, .events = POLLIN };
	int fd;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	fe->fd = fd;
	return 0;
}

void fe_close(struct fe *fe)
{
	if (fe->fd >= 0)
		close(fe->fd);
	fe->fd = -1;
	for (int i = 0; i < FE_MAX_VRINGS; i++) {
		if (fe->vr[i].kickfd >= 0)
			close(fe->vr[i].kickfd);
		if (fe->vr[i].callfd >= 0)
			close(fe->vr[i].callfd);
		fe->vr[i].kickfd = -1;
		fe->vr[i].callfd = -1;
	}
	if (fe->mem)
		munmap(fe->mem, fe->mem_size);
	fe->mem = NULL;
	if (fe->memfd >= 0)
		close(fe->memfd);
	fe->memfd = -1;
}

int fe_mem_init(struct fe *fe, uint64_t size)
{
	fe->memfd = memfd_create("fe-guest", MFD_CLOEXEC);
	if (fe->memfd < 0)
		return -errno;
	if (ftruncate(fe->memfd, (off_t)size) < 0)
		return -errno;
	fe->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fe->memfd, 0);
	if (fe->mem == MAP_FAILED) {
		fe->mem = NULL;
		return -errno;
	}
	fe->mem_size = size;
	fe->mem_next = 0;
	return 0;
}

void *fe_alloc(struct fe *fe, uint64_t size, uint64_t align)
{
	uint64_t off = (fe->mem_next + align - 1) & ~(align - 1);

	if (off + size > fe->mem_size)
		return NULL;
	fe->mem_next = off + size;
	memset(fe->mem + off, 0, size);
	return fe->mem + off;
}

uint64_t fe_gpa(const struct fe *fe, const void *p)
{
	return FE_GPA_BASE + (uint64_t)((const uint8_t *)p - fe->mem);
}

int fe_send(struct fe *fe, uint32_t req, uint32_t flags, const void *payload,
	    uint32_t size, const int *fds, unsigned nfds)
{
	struct vhost_user_hdr hdr = {
		.request = req,
		.flags = VHOST_USER_VERSION | flags,
		.size = size,
	};

	return msg_send(fe->fd, &hdr, payload, fds, nfds);
}

ssize_t fe_send_raw(int fd, const void *buf, size_t len, const int *fds,
		    unsigned nfds, int flags)
{
	union {
		char b[CMSG_SPACE(64 * sizeof(int))];
		struct cmsghdr a;
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 64)
		return -1;
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(fd, &mh, MSG_NOSIGNAL | flags);
}

int fe_recv(struct fe *fe, struct vhost_msg *msg, int timeout_ms)
{
	return msg_recv_timeout(fe->fd, msg, timeout_ms);
}

static int recv_reply(struct fe *fe, uint32_t req, struct vhost_msg *msg)
{
	int ret = fe_recv(fe, msg, REPLY_TIMEOUT_MS);

	if (ret)
		return ret;
	msg_close_fds(msg);
	if (msg->hdr.request != req || !(msg->hdr.flags & VHOST_USER_REPLY_MASK))
		return -EPROTO;
	return 0;
}

int fe_get_u64(struct fe *fe, uint32_t req, uint64_t *out)
{
	struct vhost_msg msg;
	int ret = fe_send(fe, req, 0, NULL, 0, NULL, 0);

	if (ret)
		return ret;
	ret = recv_reply(fe, req, &msg);
	if (ret)
		return ret;
	if (msg.hdr.size != sizeof(uint64_t))
		return -EPROTO;
	*out = msg.payload.u64;
	return 0;
}

int fe_request(struct fe *fe, uint32_t req, const void *payload, uint32_t size,
	       const int *fds, unsigned nfds)
{
	bool ack = fe->protocol_features &
		   (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK);
	struct vhost_msg msg;
	int ret = fe_send(fe, req, ack ? VHOST_USER_NEED_REPLY_MASK : 0,
			  payload, size, fds, nfds);

	if (ret || !ack)
		return ret;
	ret = recv_reply(fe, req, &msg);
	if (ret)
		return ret;
	return msg.payload.u64 ? -EIO : 0;
}

int fe_set_u64(struct fe *fe, uint32_t req, uint64_t v)
{
	return fe_request(fe, req, &v, sizeof(v), NULL, 0);
}

int fe_vring_state(struct fe *fe, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_user_vring_state s = { .index = index, .num = num };

	return fe_request(fe, req, &s, sizeof(s), NULL, 0);
}

int fe_get_vring_base(struct fe *fe, uint32_t index, uint32_t *num)
{
	struct vhost_user_vring_state s = { .index = index };
	struct vhost_msg msg;
	int ret = fe_send(fe, VHOST_USER_GET_VRING_BASE, 0, &s, sizeof(s),
			  NULL, 0);

	if (ret)
		return ret;
	ret = recv_reply(fe, VHOST_USER_GET_VRING_BASE, &msg);
	if (ret)
		return ret;
	if (msg.hdr.size != sizeof(s) || msg.payload.state.index != index)
		return -EPROTO;
	*num = msg.payload.state.num;
	return 0;
}

int fe_vring_alloc(struct fe *fe, uint16_t i, uint16_t n)
{
	struct fe_vring *vr = &fe->vr[i];

	if (i >= FE_MAX_VRINGS)
		return -EINVAL;
	vr->size = n;
	vr->desc = fe_alloc(fe, 16ull * n, 4096);
	vr->avail = fe_alloc(fe, 6 + 2ull * n, 4096);
	vr->used = fe_alloc(fe, 6 + 8ull * n, 4096);
	if (!vr->desc || !vr->avail || !vr->used)
		return -ENOMEM;
	vr->avail_idx = 0;
	vr->used_seen = 0;
	if (vr->kickfd < 0)
		vr->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vr->callfd < 0)
		vr->callfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (i >= fe->nvrings)
		fe->nvrings = i + 1;
	return 0;
}

int fe_packed_alloc(struct fe *fe, uint16_t i, uint16_t n)
{
	struct fe_vring *vr = &fe->vr[i];
	int ret = fe_vring_alloc(fe, i, 1);

	if (ret)
		return ret;
	vr->size = n;
	vr->desc = fe_alloc(fe, 16ull * n, 4096);
	vr->avail = fe_alloc(fe, 4, 4096);
	vr->used = fe_alloc(fe, 4, 4096);
	if (!vr->desc || !vr->avail || !vr->used)
		return -ENOMEM;
	memset(vr->desc, 0, 16ull * n);
	memset(vr->avail, 0, 4);
	memset(vr->used, 0, 4);
	vr->packed = true;
	vr->avail_idx = 0;
	vr->avail_wrap = true;
	vr->used_idx = 0;
	vr->used_wrap = true;
	return 0;
}

uint16_t fe_packed_avail_bits(bool w)
{
	return w ? (uint16_t)(1u << VRING_PACKED_DESC_F_AVAIL) :
		   (uint16_t)(1u << VRING_PACKED_DESC_F_USED);
}

uint16_t fe_packed_post(struct fe *fe, uint16_t i, const struct fe_pbuf *b,
			unsigned n, uint16_t id)
{
	struct fe_vring *vr = &fe->vr[i];
	struct vring_packed_desc *ring = (struct vring_packed_desc *)vr->desc;
	uint16_t head = vr->avail_idx, head_flags = 0;

	for (unsigned k = 0; k < n; k++) {
		struct vring_packed_desc *d = &ring[vr->avail_idx];
		uint16_t f = (uint16_t)(b[k].flags |
					fe_packed_avail_bits(vr->avail_wrap));

		if (k + 1 < n)
			f |= VRING_DESC_F_NEXT;
		d->addr = b[k].addr;
		d->len = b[k].len;
		d->id = id;
		if (k == 0)
			head_flags = f;
		else
			d->flags = f;
		if (++vr->avail_idx == vr->size) {
			vr->avail_idx = 0;
			vr->avail_wrap = !vr->avail_wrap;
		}
	}
	__atomic_store_n(&ring[head].flags, head_flags, __ATOMIC_RELEASE);
	return head;
}

bool fe_packed_used(struct fe *fe, uint16_t i, uint16_t nslots, uint16_t *id,
		    uint32_t *len)
{
	struct fe_vring *vr = &fe->vr[i];
	struct vring_packed_desc *d =
		&((struct vring_packed_desc *)vr->desc)[vr->used_idx];
	uint16_t f = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);
	bool a = f & (1u << VRING_PACKED_DESC_F_AVAIL);
	bool u = f & (1u << VRING_PACKED_DESC_F_USED);

	if (a != u || u != vr->used_wrap)
		return false;
	*id = d->id;
	*len = d->len;
	vr->used_idx = (uint16_t)(vr->used_idx + nslots);
	if (vr->used_idx >= vr->size) {
		vr->used_idx = (uint16_t)(vr->used_idx - vr->size);
		vr->used_wrap = !vr->used_wrap;
	}
	return true;
}

int fe_vring_setup(struct fe *fe, uint16_t i)
{
	struct fe_vring *vr = &fe->vr[i];
	struct vhost_user_vring_addr a = {
		.index = i,
		.desc_user_addr = (uint64_t)(uintptr_t)vr->desc,
		.avail_user_addr = (uint64_t)(uintptr_t)vr->avail,
		.used_user_addr = (uint64_t)(uintptr_t)vr->used,
	};
	uint64_t v = i;
	int ret;

	ret = fe_vring_state(fe, VHOST_USER_SET_VRING_NUM, i, vr->size);
	if (!ret)
		ret = fe_vring_state(fe, VHOST_USER_SET_VRING_BASE, i,
				     vr->packed ?
				     (uint32_t)vr->avail_idx |
				     (uint32_t)vr->avail_wrap << 15 |
				     (uint32_t)vr->used_idx << 16 |
				     (uint32_t)vr->used_wrap << 31 :
				     vr->avail_idx);
	if (!ret)
		ret = fe_request(fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a),
				 NULL, 0);
	if (!ret)
		ret = fe_request(fe, VHOST_USER_SET_VRING_CALL, &v, sizeof(v),
				 &vr->callfd, 1);
	if (!ret)
		ret = fe_request(fe, VHOST_USER_SET_VRING_KICK, &v, sizeof(v),
				 &vr->kickfd, 1);
	if (!ret && (fe->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		ret = fe_vring_state(fe, VHOST_USER_SET_VRING_ENABLE, i, 1);
	return ret;
}

int fe_set_mem_table(struct fe *fe)
{
	struct vhost_user_memory m = { .nregions = 1 };

	m.regions[0].guest_phys_addr = FE_GPA_BASE;
	m.regions[0].memory_size = fe->mem_size;
	m.regions[0].userspace_addr = (uint64_t)(uintptr_t)fe->mem;
	m.regions[0].mmap_offset = 0;
	return fe_request(fe, VHOST_USER_SET_MEM_TABLE, &m,
			  8 + sizeof(m.regions[0]), &fe->memfd, 1);
}

int fe_handshake(struct fe *fe, const struct fe_opts *o)
{
	struct fe_opts def = { 0 };
	uint64_t offered, pf = 0, qn;
	uint16_t nvrings;
	int ret;

	if (!o)
		o = &def;
	nvrings = o->nvrings ? o->nvrings : 2;
	ret = fe_get_u64(fe, VHOST_USER_GET_FEATURES, &offered);
	if (ret)
		return ret;
	fe->features = offered & (o->features_mask ? o->features_mask : ~0ull);
	/* Packed rings only when asked: the rings laid out are split. */
	if (!o->packed)
		fe->features &= ~(1ull << VIRTIO_F_RING_PACKED);
	if (offered & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)) {
		ret = fe_get_u64(fe, VHOST_USER_GET_PROTOCOL_FEATURES, &pf);
		if (ret)
			return ret;
		pf &= o->protocol_mask ? o->protocol_mask : ~0ull;
		/* Not yet acked: this request goes without an ack. */
		ret = fe_set_u64(fe, VHOST_USER_SET_PROTOCOL_FEATURES, pf);
		if (ret)
			return ret;
		fe->protocol_features = pf;
		if (pf & (1ull << VHOST_USER_PROTOCOL_F_MQ)) {
			ret = fe_get_u64(fe, VHOST_USER_GET_QUEUE_NUM, &qn);
			if (ret)
				return ret;
			if (qn * 2 < nvrings)
				return -ERANGE;
		}
	}
	ret = fe_request(fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	if (!ret)
		ret = fe_set_u64(fe, VHOST_USER_SET_FEATURES, fe->features);
	if (!ret && !fe->mem)
		ret = fe_mem_init(fe, o->mem_size ? o->mem_size : 8u << 20);
	if (!ret)
		ret = fe_set_mem_table(fe);
	for (uint16_t i = 0; !ret && i < nvrings; i++) {
		if (!fe->vr[i].desc)
			ret = (o->packed ? fe_packed_alloc : fe_vring_alloc)(
				fe, i, o->ring_size ? o->ring_size : 256);
		if (!ret)
			ret = fe_vring_setup(fe, i);
	}
	if (!ret && !o->no_status &&
	    (pf & (1ull << VHOST_USER_PROTOCOL_F_STATUS)))
		ret = fe_set_u64(fe, VHOST_USER_SET_STATUS,
				 VIRTIO_CONFIG_S_ACKNOWLEDGE |
				 VIRTIO_CONFIG_S_DRIVER |
				 VIRTIO_CONFIG_S_FEATURES_OK |
				 VIRTIO_CONFIG_S_DRIVER_OK);
	return ret;
}

int fe_wait(bool (*pred)(void *), void *arg, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (!pred(arg)) {
		if (now_ms() >= end)
			return -ETIMEDOUT;
		usleep(2000);
	}
	return 0;
}

int fe_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

int fe_log_create(uint64_t size, int *fd, uint8_t **view)
{
	uint64_t page = 4096;

	*fd = memfd_create("fe-dirty-log", MFD_CLOEXEC);
	if (*fd < 0)
		return -errno;
	/* One page more than the bitmap: a canary the back-end must never
	 * write (the log's size ends the bits it may set). */
	if (ftruncate(*fd, (off_t)(size + page)) < 0)
		goto fail;
	*view = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_SHARED,
		     *fd, 0);
	if (*view == MAP_FAILED)
		goto fail;
	memset(*view + size, 0x5a, page);
	return 0;
fail:
	close(*fd);
	*fd = -1;
	return -errno;
}

int fe_send_log_base(struct fe *fe, int fd, uint64_t size, uint64_t offset)
{
	struct vhost_user_log l = { .mmap_size = size, .mmap_offset = offset };
	struct vhost_msg reply;
	int ret = fe_send(fe, VHOST_USER_SET_LOG_BASE, 0, &l, sizeof(l), &fd, 1);

	if (ret)
		return ret;
	/* Always a reply, header-only (QEMU waits for it). */
	ret = fe_recv(fe, &reply, 5000);
	if (ret)
		return ret;
	if (reply.hdr.request != VHOST_USER_SET_LOG_BASE ||
	    !(reply.hdr.flags & VHOST_USER_REPLY_MASK))
		return -EPROTO;
	return 0;
}

int fe_set_vring_log(struct fe *fe, uint16_t i, bool on)
{
	struct fe_vring *vr = &fe->vr[i];
	struct vhost_user_vring_addr a = {
		.index = i,
		.flags = on ? 1u << VHOST_VRING_F_LOG : 0,
		.desc_user_addr = (uint64_t)(uintptr_t)vr->desc,
		.avail_user_addr = (uint64_t)(uintptr_t)vr->avail,
		.used_user_addr = (uint64_t)(uintptr_t)vr->used,
		.log_guest_addr = fe_gpa(fe, vr->used),
	};

	return fe_request(fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

int fe_start_logging(struct fe *fe, uint64_t size, int *fd, uint8_t **view)
{
	int ret = fe_log_create(size, fd, view);

	if (!ret)
		ret = fe_send_log_base(fe, *fd, size, 0);
	if (!ret)
		ret = fe_set_u64(fe, VHOST_USER_SET_FEATURES,
				 fe->features | (1ull << VHOST_F_LOG_ALL));
	for (uint16_t i = 0; !ret && i < fe->nvrings; i++)
		if (fe->vr[i].desc)
			ret = fe_set_vring_log(fe, i, true);
	return ret;
}
