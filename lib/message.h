/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One vhost-user message on the wire: header, payload, and the fds that
 * came with it (SCM_RIGHTS). Reading is non-blocking and incremental, so a
 * front-end that sends half a message cannot stall the event thread: the
 * bytes and fds gathered so far wait in struct msg_rx until the rest comes.
 */
#ifndef VHOST_MESSAGE_H
#define VHOST_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

struct vhost_msg {
	struct vhost_user_hdr hdr;
	union vhost_user_payload payload;
	int fds[VHOST_USER_MAX_FDS]; /* -1 once taken by a handler */
	unsigned nfds;
};

struct msg_rx {
	struct vhost_msg msg;
	size_t got; /* header + payload bytes read so far */
};

void msg_rx_init(struct msg_rx *rx);
/* Read what is available of the next message from fd.
 * Returns 1 when rx->msg is complete (the caller handles it, then calls
 * msg_close_fds() and msg_rx_init()), 0 if more bytes are needed, or
 * -errno: -ECONNRESET on hang-up, -EMSGSIZE / -EPROTO / -E2BIG on a
 * malformed message. Every fd received is closed on error. */
int msg_read(int fd, struct msg_rx *rx);
/* Close every fd of msg not taken by a handler. */
void msg_close_fds(struct vhost_msg *msg);
/* Take fd i (ownership passes to the caller); -1 if none. */
int msg_take_fd(struct vhost_msg *msg, unsigned i);

/* Send header + payload (hdr->size bytes) with fds. Non-blocking: a peer
 * that does not read its replies gets -EAGAIN, and the caller closes it. */
int msg_send(int fd, const struct vhost_user_hdr *hdr, const void *payload,
	     const int *fds, unsigned nfds);

/* Blocking read of one whole message with a timeout in ms, for the
 * requester side (virtio-user front-end, tests, back-end requests). */
int msg_recv_timeout(int fd, struct vhost_msg *msg, int timeout_ms);

/* Requester side: send hdr + payload + fds (blocking up to timeout_ms for
 * room), then wait up to timeout_ms for the reply to that request. The
 * reply must carry the reply flag and the same request id (else -EPROTO)
 * and no fds (closed, -EPROTO). */
int msg_call(int fd, const struct vhost_user_hdr *hdr, const void *payload,
	     const int *fds, unsigned nfds, struct vhost_msg *reply,
	     int timeout_ms);
/* Send without waiting for a reply, blocking up to timeout_ms for room. */
int msg_send_wait(int fd, const struct vhost_user_hdr *hdr,
		  const void *payload, const int *fds, unsigned nfds,
		  int timeout_ms);

#endif
