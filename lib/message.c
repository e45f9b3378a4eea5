/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "message.h"

#define HDR_SIZE sizeof(struct vhost_user_hdr)

void msg_rx_init(struct msg_rx *rx)
{
	/* Zero the payload too: a short message must not expose the bytes of
	 * the previous one to a handler. */
	memset(&rx->msg.hdr, 0, sizeof(rx->msg.hdr));
	memset(&rx->msg.payload, 0, sizeof(rx->msg.payload));
	for (unsigned i = 0; i < VHOST_USER_MAX_FDS; i++)
		rx->msg.fds[i] = -1;
	rx->msg.nfds = 0;
	rx->got = 0;
}

void msg_close_fds(struct vhost_msg *msg)
{
	for (unsigned i = 0; i < msg->nfds; i++) {
		if (msg->fds[i] >= 0)
			close(msg->fds[i]);
		msg->fds[i] = -1;
	}
	msg->nfds = 0;
}

int msg_take_fd(struct vhost_msg *msg, unsigned i)
{
	int fd;

	if (i >= msg->nfds)
		return -1;
	fd = msg->fds[i];
	msg->fds[i] = -1;
	return fd;
}

/* Collect the fds of one recvmsg; more than a message may carry is an
 * error (the extra ones are closed too). */
static int collect_fds(struct msghdr *mh, struct vhost_msg *msg)
{
	int err = 0;

	if (mh->msg_flags & MSG_CTRUNC)
		err = -E2BIG;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;
		const unsigned char *data;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		data = CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, data + i * sizeof(int), sizeof(int));
			if (msg->nfds < VHOST_USER_MAX_FDS) {
				msg->fds[msg->nfds++] = fd;
			} else {
				close(fd);
				err = -E2BIG;
			}
		}
	}
	return err;
}

int msg_read(int fd, struct msg_rx *rx)
{
	struct vhost_msg *msg = &rx->msg;
	int err;

	for (;;) {
		/* Room for one more fd than allowed, to notice excess. */
		union {
			char buf[CMSG_SPACE((VHOST_USER_MAX_FDS + 1) * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		size_t want;
		ssize_t n;

		if (rx->got < HDR_SIZE) {
			want = HDR_SIZE - rx->got;
			iov.iov_base = (char *)&msg->hdr + rx->got;
		} else {
			size_t off = rx->got - HDR_SIZE;

			want = msg->hdr.size - off;
			if (want == 0)
				return 1;
			iov.iov_base = msg->payload.bytes + off;
		}
		iov.iov_len = want;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			err = -errno;
			goto fail;
		}
		if (n == 0) {
			err = -ECONNRESET;
			goto fail;
		}
		err = collect_fds(&mh, msg);
		if (err) {
			LOG_ERR("message with too many fds");
			goto fail;
		}
		rx->got += (size_t)n;
		if (rx->got == HDR_SIZE) {
			if ((msg->hdr.flags & VHOST_USER_VERSION_MASK) !=
			    VHOST_USER_VERSION) {
				LOG_ERR("message version %u, want %u",
					msg->hdr.flags & VHOST_USER_VERSION_MASK,
					VHOST_USER_VERSION);
				err = -EPROTO;
				goto fail;
			}
			if (msg->hdr.size > VHOST_USER_PAYLOAD_MAX) {
				LOG_ERR("message %u payload %u > max %zu",
					msg->hdr.request, msg->hdr.size,
					VHOST_USER_PAYLOAD_MAX);
				err = -EMSGSIZE;
				goto fail;
			}
		}
		if (rx->got == HDR_SIZE + msg->hdr.size)
			return 1;
	}
fail:
	msg_close_fds(msg);
	return err;
}

int msg_send(int fd, const struct vhost_user_hdr *hdr, const void *payload,
	     const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = {
		{ .iov_base = (void *)hdr, .iov_len = HDR_SIZE },
		{ .iov_base = (void *)payload, .iov_len = hdr->size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = hdr->size ? 2 : 1 };
	size_t total = HDR_SIZE + hdr->size;
	ssize_t n;

	if (nfds > VHOST_USER_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do {
		n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* A stream socket with room for a small message takes all of it; a
	 * partial send means the peer stopped reading. */
	if ((size_t)n != total)
		return -EAGAIN;
	return 0;
}

int msg_recv_timeout(int fd, struct vhost_msg *msg, int timeout_ms)
{
	struct msg_rx rx;
	int ret;

	msg_rx_init(&rx);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		ret = msg_read(fd, &rx);
		if (ret != 0)
			break;
		ret = poll(&p, 1, timeout_ms);
		if (ret == 0) {
			msg_close_fds(&rx.msg);
			return -ETIMEDOUT;
		}
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			msg_close_fds(&rx.msg);
			return ret;
		}
	}
	if (ret < 0)
		return ret;
	*msg = rx.msg;
	return 0;
}

int msg_send_wait(int fd, const struct vhost_user_hdr *hdr,
		  const void *payload, const int *fds, unsigned nfds,
		  int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int ret = poll(&p, 1, timeout_ms);

	if (ret == 0)
		return -ETIMEDOUT;
	if (ret < 0)
		return -errno;
	/* A message is far smaller than a socket buffer: once there is
	 * room, msg_send takes it whole. */
	return msg_send(fd, hdr, payload, fds, nfds);
}

int msg_call(int fd, const struct vhost_user_hdr *hdr, const void *payload,
	     const int *fds, unsigned nfds, struct vhost_msg *reply,
	     int timeout_ms)
{
	int ret = msg_send_wait(fd, hdr, payload, fds, nfds, timeout_ms);

	if (ret)
		return ret;
	ret = msg_recv_timeout(fd, reply, timeout_ms);
	if (ret)
		return ret;
	if (reply->nfds) {
		msg_close_fds(reply);
		return -EPROTO;
	}
	if (reply->hdr.request != hdr->request ||
	    !(reply->hdr.flags & VHOST_USER_REPLY_MASK))
		return -EPROTO;
	return 0;
}
