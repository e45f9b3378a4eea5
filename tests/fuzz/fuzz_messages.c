/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: sequences of arbitrary vhost-user messages, fds
 * included, handled by a fresh device (whatever state earlier messages left
 * it in). Runs the real handler code on the real event thread, as a
 * front-end's messages would.
 *
 * Input format, repeated until the input ends:
 *   12-byte header (request, flags, size), then min(size, what is left, max
 *   payload) payload bytes, then one byte: low 4 bits = number of fds to
 *   attach (clamped to 8), high 4 bits = their kind (memfd of 1 MiB,
 *   memfd of 4 KiB, eventfd, pipe, /dev/null, socket).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdio.h>

#include "frontend.h"
#include "handlers.h"
#include "socket.h"

static struct vhost_ctx *ctx;

static void quiet(enum vhost_log_level level, const char *line)
{
	(void)level;
	(void)line;
}
static struct vhost_socket *sock;

struct input {
	const uint8_t *data;
	size_t size;
};

static int make_fd(unsigned kind, int *extra)
{
	int fd = -1, p[2];

	*extra = -1;
	switch (kind % 6) {
	case 0:
	case 1:
		fd = memfd_create("fuzz", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, kind % 6 ? 4096 : 1 << 20) < 0) {
			close(fd);
			fd = -1;
		}
		break;
	case 2:
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		break;
	case 3:
		if (pipe2(p, O_CLOEXEC) == 0) {
			fd = p[0];
			*extra = p[1];
		}
		break;
	case 4:
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	case 5:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) == 0) {
			fd = p[0];
			*extra = p[1];
		}
		break;
	}
	return fd;
}

static int run_input(void *arg)
{
	struct input *in = arg;
	const uint8_t *d = in->data;
	size_t left = in->size;
	struct vhost_dev *dev;
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
		       sp))
		return 0;
	dev = device_create(sock, sp[0]);
	if (!dev) {
		close(sp[0]);
		close(sp[1]);
		return 0;
	}
	while (left >= sizeof(struct vhost_user_hdr)) {
		struct vhost_msg msg;
		int extras[VHOST_USER_MAX_FDS];
		size_t n;
		uint8_t fdspec = 0;
		bool closed;
		char drain[4096];

		memset(&msg, 0, sizeof(msg));
		memcpy(&msg.hdr, d, sizeof(msg.hdr));
		d += sizeof(msg.hdr);
		left -= sizeof(msg.hdr);
		/* message.c refuses these before any handler sees them */
		if (msg.hdr.size > VHOST_USER_PAYLOAD_MAX ||
		    (msg.hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
			break;
		n = msg.hdr.size < left ? msg.hdr.size : left;
		memcpy(msg.payload.bytes, d, n);
		msg.hdr.size = (uint32_t)n;
		d += n;
		left -= n;
		if (left) {
			fdspec = *d++;
			left--;
		}
		for (unsigned i = 0; i < VHOST_USER_MAX_FDS; i++) {
			msg.fds[i] = -1;
			extras[i] = -1;
		}
		msg.nfds = fdspec & 0xf;
		if (msg.nfds > VHOST_USER_MAX_FDS)
			msg.nfds = VHOST_USER_MAX_FDS;
		for (unsigned i = 0; i < msg.nfds; i++)
			msg.fds[i] = make_fd((fdspec >> 4) + i, &extras[i]);
		closed = vhost_user_handle_msg(dev, &msg) < 0 || dev->closing;
		/* the other ends of pipes and sockets (msg.nfds is 0 now) */
		for (unsigned i = 0; i < VHOST_USER_MAX_FDS; i++)
			if (extras[i] >= 0)
				close(extras[i]);
		if (closed)
			break;
		/* Replies pile up in the socket: drain them. */
		while (read(sp[1], drain, sizeof(drain)) > 0)
			;
	}
	device_close(dev);
	close(sp[1]);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	int fds_before;

	if (!ctx) {
		/* Bad input is logged by design; keep the fuzzer fast. */
		if (getenv("FUZZ_VERBOSE"))
			vhost_log_set_level(VHOST_LOG_DEBUG);
		else
			vhost_log_set_handler(quiet);
		ctx = vhost_ctx_create(NULL);
		if (!ctx || vhost_socket_register(ctx, "/tmp/vhost-fuzz-unused.sock",
						  0, &sock))
			abort();
		vhost_socket_set_max_queue_pairs(sock, 2);
	}
	/* On the event thread, like real messages; deferred frees run
	 * before the call returns. */
	fds_before = fe_count_fds();
	event_loop_call(ctx->el, run_input, &in);
	if (fe_count_fds() != fds_before) {
		fprintf(stderr, "fd leak: %d before, %d after\n", fds_before,
			fe_count_fds());
		if (system("ls -l /proc/$PPID/fd >&2") < 0)
			perror("system");
		abort();
	}
	return 0;
}
