/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small vhost-user front-end for the tests: it plays QEMU's part over a
 * real UNIX socket, with guest memory in a memfd and rings laid out in it.
 * It uses the library's wire definitions (protocol.h, message.c) but none of
 * its back-end code. Tests use it to drive the full handshake, to build
 * rings and descriptors for the data path, and to send malformed input.
 */
#ifndef TEST_FRONTEND_H
#define TEST_FRONTEND_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "message.h"
#include "protocol.h"

#define FE_MAX_VRINGS 8
#define FE_GPA_BASE 0x40000000ull

struct fe_vring {
	uint16_t size;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	int kickfd, callfd;
	uint16_t avail_idx;  /* next avail->idx to publish */
	uint16_t used_seen;  /* used entries consumed */
	/* Packed rings (fe_packed_alloc): desc is the descriptor ring,
	 * avail the driver event area, used the device event area. */
	bool packed;
	bool avail_wrap;     /* with avail_idx: next position to post */
	uint16_t used_idx;   /* next position to read a used entry at */
	bool used_wrap;
};

struct fe {
	int fd;
	int memfd;
	uint8_t *mem;
	uint64_t mem_size;
	uint64_t mem_next;   /* bump allocator offset */
	uint64_t features;
	uint64_t protocol_features;
	uint16_t nvrings;
	struct fe_vring vr[FE_MAX_VRINGS];
};

struct fe_opts {
	uint64_t features_mask;   /* ack offered & mask (0: all offered) */
	uint64_t protocol_mask;   /* likewise for protocol features */
	uint16_t nvrings;         /* 0: 2 */
	uint16_t ring_size;       /* 0: 256 */
	uint64_t mem_size;        /* 0: 8 MiB */
	bool no_status;           /* skip SET_STATUS(DRIVER_OK) */
	bool packed;              /* negotiate VIRTIO_F_RING_PACKED */
};

void fe_init(struct fe *fe);
/* Connect to a listening back-end, retrying until timeout_ms. */
int fe_connect(struct fe *fe, const char *path, int timeout_ms);
/* Listen on path (for back-ends in client mode) and accept one. */
int fe_listen(const char *path);
int fe_accept(struct fe *fe, int listen_fd, int timeout_ms);
void fe_close(struct fe *fe); /* socket, memory, eventfds */

int fe_mem_init(struct fe *fe, uint64_t size);
void *fe_alloc(struct fe *fe, uint64_t size, uint64_t align);
uint64_t fe_gpa(const struct fe *fe, const void *p);

/* Raw message out. */
int fe_send(struct fe *fe, uint32_t req, uint32_t flags, const void *payload,
	    uint32_t size, const int *fds, unsigned nfds);
/* sendmsg of raw bytes with up to 64 fds (msg_send builds only well-formed
 * messages with at most 8): for malformed input. flags: MSG_DONTWAIT... */
ssize_t fe_send_raw(int fd, const void *buf, size_t len, const int *fds,
		    unsigned nfds, int flags);
/* Wait for one message from the back-end. */
int fe_recv(struct fe *fe, struct vhost_msg *msg, int timeout_ms);
/* Request with an explicit u64 reply (GET_FEATURES ...). */
int fe_get_u64(struct fe *fe, uint32_t req, uint64_t *out);
/* Request without explicit reply; asks for an ack when REPLY_ACK was
 * negotiated. Returns 0, -EIO for a non-zero ack, or -errno. */
int fe_request(struct fe *fe, uint32_t req, const void *payload, uint32_t size,
	       const int *fds, unsigned nfds);
int fe_set_u64(struct fe *fe, uint32_t req, uint64_t v);
int fe_vring_state(struct fe *fe, uint32_t req, uint32_t index, uint32_t num);
int fe_get_vring_base(struct fe *fe, uint32_t index, uint32_t *num);

/* Lay out ring i (size n) in guest memory; no message sent. */
int fe_vring_alloc(struct fe *fe, uint16_t i, uint16_t n);
/* SET_VRING_NUM/BASE/ADDR/KICK/CALL (+ENABLE when protocol features). */
int fe_vring_setup(struct fe *fe, uint16_t i);
int fe_set_mem_table(struct fe *fe);
/* The whole start-up sequence QEMU uses. */
int fe_handshake(struct fe *fe, const struct fe_opts *opts);

/* ---- packed rings, driver side (virtio 1.1, 2.7) ---- */

/* One buffer of a chain to post. flags: VRING_DESC_F_WRITE and/or
 * VRING_DESC_F_INDIRECT (NEXT and the avail/used bits are added). */
struct fe_pbuf {
	uint64_t addr;     /* guest physical */
	uint32_t len;
	uint16_t flags;
};

/* Lay out packed ring i (size n, any n) in guest memory: wrap counters
 * 1, positions 0; no message sent (fe_vring_setup sends the 32-bit base). */
int fe_packed_alloc(struct fe *fe, uint16_t i, uint16_t n);
/* The avail/used flag bits for a descriptor made available with wrap w. */
uint16_t fe_packed_avail_bits(bool w);
/* Post a chain of n buffers with buffer id `id` (written in every
 * descriptor, as Linux does), the head's flags last (release). Returns the
 * head's position. */
uint16_t fe_packed_post(struct fe *fe, uint16_t i, const struct fe_pbuf *b,
			unsigned n, uint16_t id);
/* The next used entry, if the device wrote one: its id and len; the read
 * position then moves by nslots (the chain length of that id, which the
 * driver knows). Returns false if none. */
bool fe_packed_used(struct fe *fe, uint16_t i, uint16_t nslots, uint16_t *id,
		    uint32_t *len);

/* Migration start as QEMU does it: SET_LOG_BASE with a memfd of size bytes
 * (the reply is header-only), SET_FEATURES with LOG_ALL, SET_VRING_ADDR with
 * the LOG flag on every ring set up. *fd and *view: the log's memfd and our
 * mapping of it (size bytes + one canary page). 0 or -errno. */
int fe_log_create(uint64_t size, int *fd, uint8_t **view);
int fe_send_log_base(struct fe *fe, int fd, uint64_t size, uint64_t offset);
int fe_set_vring_log(struct fe *fe, uint16_t i, bool on);
int fe_start_logging(struct fe *fe, uint64_t size, int *fd, uint8_t **view);

/* True once the back-end has more than `count` devices... tests poll
 * their own callback counters instead; this waits for a predicate. */
int fe_wait(bool (*pred)(void *), void *arg, int timeout_ms);

/* Number of open fds of this process (leak checks). */
int fe_count_fds(void);

#endif
