/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Framing tests for lib/message.c over socketpair(AF_UNIX, SOCK_STREAM):
 * round trips with fds, byte-at-a-time delivery, back-to-back messages,
 * every framing error (too many fds, oversized payload, bad version, EOF
 * mid-message) with fd-leak checks, a sender whose peer never reads, and
 * msg_recv_timeout timing out. Every wait is bounded (alarm() as a last
 * resort turns a hang into a failure).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "frontend.h"
#include "message.h"
#include "protocol.h"

#define HDR sizeof(struct vhost_user_hdr)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* sv[0] writes, sv[1] reads. */
static void mkpair(int sv[2])
{
	int r = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);

	CHECK_EQ(r, 0);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* raw bytes with fds: tests/lib/frontend.c */
static ssize_t raw_send(int fd, const void *buf, size_t len, const int *fds,
			unsigned nfds)
{
	return fe_send_raw(fd, buf, len, fds, nfds, 0);
}

/* msg_read until it returns non-zero, waiting at most timeout_ms. */
static int read_msg(int fd, struct msg_rx *rx, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int ret = msg_read(fd, rx);

		if (ret != 0)
			return ret;
		if (now_ms() >= end)
			return -ETIMEDOUT;
		poll(&p, 1, 50);
	}
}

/* Two fds of one pipe: rd, wr. */
static void mkpipe(int p[2])
{
	int r = pipe2(p, O_CLOEXEC | O_NONBLOCK);

	CHECK_EQ(r, 0);
}

/* fd a and fd b are the same open file (same inode, live). */
static bool same_file(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* ------------------------------------------------------------ round trip */

static void roundtrip_n(unsigned nfds)
{
	int sv[2], pipes[VHOST_USER_MAX_FDS][2], wr[VHOST_USER_MAX_FDS];
	struct vhost_user_hdr hdr = {
		.request = VHOST_USER_SET_VRING_ADDR,
		.flags = VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK,
		.size = sizeof(struct vhost_user_vring_addr),
	};
	struct vhost_user_vring_addr a = {
		.index = 1, .flags = 0x5a5a, .desc_user_addr = 0x1122334455667788ull,
		.used_user_addr = UINT64_MAX, .avail_user_addr = 42,
		.log_guest_addr = 0xdeadbeef,
	};
	struct msg_rx rx;
	int before, ret;

	mkpair(sv);
	for (unsigned i = 0; i < nfds; i++) {
		mkpipe(pipes[i]);
		wr[i] = pipes[i][1];
	}
	before = fe_count_fds();
	ret = msg_send(sv[0], &hdr, &a, wr, nfds);
	CHECK_EQ(ret, 0);
	msg_rx_init(&rx);
	ret = read_msg(sv[1], &rx, 2000);
	CHECK_EQ(ret, 1);
	CHECK_EQ(rx.got, HDR + sizeof(a));
	CHECK(memcmp(&rx.msg.hdr, &hdr, HDR) == 0);
	CHECK(memcmp(&rx.msg.payload.addr, &a, sizeof(a)) == 0);
	CHECK_EQ(rx.msg.nfds, nfds);
	CHECK_EQ(fe_count_fds(), before + (int)nfds);
	for (unsigned i = 0; i < rx.msg.nfds && i < nfds; i++) {
		int got = rx.msg.fds[i];
		char c = (char)('a' + i), d = 0;

		CHECK(got >= 0);
		CHECK(got != wr[i]);
		CHECK(same_file(got, wr[i]));
		/* Received with MSG_CMSG_CLOEXEC. */
		CHECK(fcntl(got, F_GETFD) & FD_CLOEXEC);
		/* Live duplicate: a byte written through it comes out of the
		 * read end of our pipe. */
		CHECK_EQ(write(got, &c, 1), 1);
		CHECK_EQ(read(pipes[i][0], &d, 1), 1);
		CHECK_EQ(d, c);
	}
	for (unsigned i = nfds; i < VHOST_USER_MAX_FDS; i++)
		CHECK_EQ(rx.msg.fds[i], -1);
	/* msg_take_fd passes ownership; msg_close_fds closes the rest. */
	if (nfds) {
		int t = msg_take_fd(&rx.msg, 0);

		CHECK(t >= 0 && same_file(t, wr[0]));
		CHECK_EQ(msg_take_fd(&rx.msg, 0), -1);
		CHECK_EQ(msg_take_fd(&rx.msg, nfds), -1);
		msg_close_fds(&rx.msg);
		CHECK(fd_open(t));
		CHECK_EQ(fe_count_fds(), before + 1);
		close(t);
	} else {
		CHECK_EQ(msg_take_fd(&rx.msg, 0), -1);
		msg_close_fds(&rx.msg);
	}
	CHECK_EQ(fe_count_fds(), before);
	/* Nothing more is pending. */
	msg_rx_init(&rx);
	CHECK_EQ(msg_read(sv[1], &rx), 0);
	for (unsigned i = 0; i < nfds; i++) {
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
	close(sv[0]);
	close(sv[1]);
}

static void test_roundtrip_0_fds(void) { roundtrip_n(0); }
static void test_roundtrip_1_fd(void) { roundtrip_n(1); }
static void test_roundtrip_8_fds(void) { roundtrip_n(8); }

/* msg_send refuses more than 8 fds without sending anything. */
static void test_send_too_many_fds(void)
{
	int sv[2], fds[9];
	struct vhost_user_hdr hdr = { VHOST_USER_GET_FEATURES,
				      VHOST_USER_VERSION, 0 };
	struct msg_rx rx;

	mkpair(sv);
	for (int i = 0; i < 9; i++)
		fds[i] = sv[0];
	CHECK_EQ(msg_send(sv[0], &hdr, NULL, fds, 9), -EINVAL);
	msg_rx_init(&rx);
	CHECK_EQ(msg_read(sv[1], &rx), 0);
	CHECK_EQ(rx.got, 0);
	close(sv[0]);
	close(sv[1]);
}

/* ----------------------------------------------------- byte at a time */

static void test_one_byte_at_a_time(void)
{
	int sv[2], p[2], fds[2];
	uint8_t buf[HDR + sizeof(struct vhost_user_vring_state)];
	struct vhost_user_hdr hdr = { VHOST_USER_SET_VRING_NUM,
				      VHOST_USER_VERSION,
				      sizeof(struct vhost_user_vring_state) };
	struct vhost_user_vring_state st = { .index = 0x01020304,
					     .num = 0xa0b0c0d0 };
	struct msg_rx rx;
	int before;

	mkpair(sv);
	mkpipe(p);
	fds[0] = p[0];
	fds[1] = p[1];
	memcpy(buf, &hdr, HDR);
	memcpy(buf + HDR, &st, sizeof(st));
	before = fe_count_fds();
	msg_rx_init(&rx);
	CHECK_EQ(msg_read(sv[1], &rx), 0); /* nothing yet */
	for (size_t i = 0; i < sizeof(buf); i++) {
		int ret;

		CHECK_EQ(raw_send(sv[0], buf + i, 1, fds, i == 0 ? 2 : 0), 1);
		ret = msg_read(sv[1], &rx);
		if (i + 1 < sizeof(buf)) {
			CHECK_EQ(ret, 0);
			CHECK_EQ(rx.got, i + 1);
		} else {
			CHECK_EQ(ret, 1);
		}
		if (i == 0) {
			/* The fds come with the first byte. */
			CHECK_EQ(rx.msg.nfds, 2);
			CHECK_EQ(fe_count_fds(), before + 2);
		}
	}
	CHECK_EQ(rx.msg.nfds, 2);
	CHECK(same_file(rx.msg.fds[0], p[0]));
	CHECK(same_file(rx.msg.fds[1], p[1]));
	CHECK_EQ(rx.msg.hdr.request, VHOST_USER_SET_VRING_NUM);
	CHECK_EQ(rx.msg.payload.state.index, 0x01020304);
	CHECK_EQ(rx.msg.payload.state.num, 0xa0b0c0d0u);
	msg_close_fds(&rx.msg);
	CHECK_EQ(fe_count_fds(), before);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* Two complete messages in one write come out one at a time, in order,
 * with no bytes of the second in the first. */
static void test_back_to_back(void)
{
	int sv[2];
	uint8_t buf[2 * HDR + 8 + 0];
	struct vhost_user_hdr h1 = { VHOST_USER_SET_FEATURES,
				     VHOST_USER_VERSION, 8 };
	struct vhost_user_hdr h2 = { VHOST_USER_GET_FEATURES,
				     VHOST_USER_VERSION, 0 };
	uint64_t v = 0x8877665544332211ull;
	struct msg_rx rx;

	mkpair(sv);
	memcpy(buf, &h1, HDR);
	memcpy(buf + HDR, &v, 8);
	memcpy(buf + HDR + 8, &h2, HDR);
	CHECK_EQ(write(sv[0], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	msg_rx_init(&rx);
	CHECK_EQ(msg_read(sv[1], &rx), 1);
	CHECK_EQ(rx.msg.hdr.request, VHOST_USER_SET_FEATURES);
	CHECK_EQ(rx.msg.hdr.size, 8);
	CHECK(rx.msg.payload.u64 == v);
	CHECK_EQ(rx.got, HDR + 8);
	msg_close_fds(&rx.msg);
	msg_rx_init(&rx);
	CHECK_EQ(msg_read(sv[1], &rx), 1);
	CHECK_EQ(rx.msg.hdr.request, VHOST_USER_GET_FEATURES);
	CHECK_EQ(rx.msg.hdr.size, 0);
	/* The payload of the first is not visible in the second. */
	CHECK(rx.msg.payload.u64 == 0);
	msg_rx_init(&rx);
	CHECK_EQ(msg_read(sv[1], &rx), 0);

	/* A longer message followed by a short one, same check. */
	{
		uint8_t b2[HDR + 40 + HDR + 8];
		struct vhost_user_hdr ha = { VHOST_USER_SET_VRING_ADDR,
					     VHOST_USER_VERSION, 40 };
		struct vhost_user_hdr hb = { VHOST_USER_SET_VRING_NUM,
					     VHOST_USER_VERSION, 8 };

		memset(b2, 0xee, sizeof(b2));
		memcpy(b2, &ha, HDR);
		memcpy(b2 + HDR + 40, &hb, HDR);
		CHECK_EQ(write(sv[0], b2, sizeof(b2)), (ssize_t)sizeof(b2));
		msg_rx_init(&rx);
		CHECK_EQ(msg_read(sv[1], &rx), 1);
		CHECK_EQ(rx.msg.hdr.request, VHOST_USER_SET_VRING_ADDR);
		CHECK(rx.msg.payload.addr.log_guest_addr == 0xeeeeeeeeeeeeeeeeull);
		msg_rx_init(&rx);
		CHECK_EQ(msg_read(sv[1], &rx), 1);
		CHECK_EQ(rx.msg.hdr.request, VHOST_USER_SET_VRING_NUM);
		CHECK(rx.msg.payload.u64 == 0xeeeeeeeeeeeeeeeeull);
		CHECK(rx.msg.payload.bytes[8] == 0); /* not the previous 0xee */
	}
	close(sv[0]);
	close(sv[1]);
}

static void test_zero_size_payload(void)
{
	int sv[2];
	struct vhost_user_hdr hdr = { VHOST_USER_GET_PROTOCOL_FEATURES,
				      VHOST_USER_VERSION, 0 };
	struct msg_rx rx;

	mkpair(sv);
	CHECK_EQ(msg_send(sv[0], &hdr, NULL, NULL, 0), 0);
	msg_rx_init(&rx);
	CHECK_EQ(read_msg(sv[1], &rx, 1000), 1);
	CHECK_EQ(rx.got, HDR);
	CHECK_EQ(rx.msg.hdr.size, 0);
	CHECK_EQ(rx.msg.hdr.request, VHOST_USER_GET_PROTOCOL_FEATURES);
	CHECK_EQ(rx.msg.nfds, 0);
	/* And with an fd but no payload. */
	{
		int fd = sv[0];

		CHECK_EQ(msg_send(sv[0], &hdr, NULL, &fd, 1), 0);
		msg_rx_init(&rx);
		CHECK_EQ(read_msg(sv[1], &rx, 1000), 1);
		CHECK_EQ(rx.msg.nfds, 1);
		CHECK(same_file(rx.msg.fds[0], sv[0]));
		msg_close_fds(&rx.msg);
	}
	/* The largest payload allowed is accepted. */
	{
		static uint8_t big[VHOST_USER_PAYLOAD_MAX];
		struct vhost_user_hdr h = { VHOST_USER_SET_CONFIG,
					    VHOST_USER_VERSION,
					    (uint32_t)VHOST_USER_PAYLOAD_MAX };

		memset(big, 0x77, sizeof(big));
		CHECK_EQ(msg_send(sv[0], &h, big, NULL, 0), 0);
		msg_rx_init(&rx);
		CHECK_EQ(read_msg(sv[1], &rx, 1000), 1);
		CHECK_EQ(rx.msg.hdr.size, VHOST_USER_PAYLOAD_MAX);
		CHECK(memcmp(rx.msg.payload.bytes, big, sizeof(big)) == 0);
	}
	close(sv[0]);
	close(sv[1]);
}

/* -------------------------------------------------------- framing errors */

/* n fds (all duplicates of one pipe end) with the first byte of a valid
 * message: msg_read fails and every received fd is closed. */
static void too_many_fds(unsigned n, bool split)
{
	int sv[2], p[2], fds[64];
	struct vhost_user_hdr hdr = { VHOST_USER_GET_FEATURES,
				      VHOST_USER_VERSION, 0 };
	struct msg_rx rx;
	int before, ret;

	mkpair(sv);
	mkpipe(p);
	for (unsigned i = 0; i < n; i++)
		fds[i] = p[1];
	before = fe_count_fds();
	if (split) {
		/* Half the fds with the first 4 bytes, half with the rest:
		 * each chunk is legal alone, the sum is not. */
		CHECK_EQ(raw_send(sv[0], &hdr, 4, fds, n / 2), 4);
		CHECK_EQ(raw_send(sv[0], (char *)&hdr + 4, HDR - 4, fds,
				  n - n / 2), (ssize_t)(HDR - 4));
	} else {
		CHECK_EQ(raw_send(sv[0], &hdr, HDR, fds, n), (ssize_t)HDR);
	}
	msg_rx_init(&rx);
	ret = read_msg(sv[1], &rx, 1000);
	CHECK(ret < 0);
	CHECK_EQ(ret, -E2BIG);
	CHECK_EQ(rx.msg.nfds, 0);
	CHECK_EQ(fe_count_fds(), before);
	/* Nothing of it is still open: the pipe's write end is ours only, so
	 * closing it gives EOF on the read end. */
	close(p[1]);
	{
		char c;

		CHECK_EQ(read(p[0], &c, 1), 0);
	}
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
}

static void test_nine_fds(void) { too_many_fds(9, false); }
static void test_many_fds_truncated(void) { too_many_fds(40, false); }
static void test_fds_split_over_chunks(void) { too_many_fds(10, true); }

/* Header announces more than the largest payload: -EMSGSIZE, fds closed. */
static void test_payload_too_big(void)
{
	const uint32_t sizes[] = { (uint32_t)VHOST_USER_PAYLOAD_MAX + 1,
				   4096, UINT32_MAX };

	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		int sv[2], p[2], fds[2];
		struct vhost_user_hdr hdr = { VHOST_USER_SET_MEM_TABLE,
					      VHOST_USER_VERSION, sizes[k] };
		struct msg_rx rx;
		int before;

		mkpair(sv);
		mkpipe(p);
		fds[0] = p[0];
		fds[1] = p[1];
		before = fe_count_fds();
		CHECK_EQ(raw_send(sv[0], &hdr, HDR, fds, 2), (ssize_t)HDR);
		msg_rx_init(&rx);
		CHECK_EQ(read_msg(sv[1], &rx, 1000), -EMSGSIZE);
		CHECK_EQ(fe_count_fds(), before);
		close(p[0]);
		close(p[1]);
		close(sv[0]);
		close(sv[1]);
	}
}

static void test_bad_version(void)
{
	const uint32_t flags[] = { 0, 2, 3, VHOST_USER_NEED_REPLY_MASK,
				   0xfffffffc, 0xffffffff & ~1u };

	for (unsigned k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
		int sv[2], fd;
		struct vhost_user_hdr hdr = { VHOST_USER_SET_FEATURES,
					      flags[k], 8 };
		struct msg_rx rx;
		int before;

		mkpair(sv);
		fd = sv[0];
		before = fe_count_fds();
		CHECK_EQ(raw_send(sv[0], &hdr, HDR, &fd, 1), (ssize_t)HDR);
		msg_rx_init(&rx);
		CHECK_EQ(read_msg(sv[1], &rx, 1000), -EPROTO);
		CHECK_EQ(fe_count_fds(), before);
		close(sv[0]);
		close(sv[1]);
	}
	/* Other flag bits with version 1 are framing-valid (the handlers
	 * decide about them). */
	{
		int sv[2];
		struct vhost_user_hdr hdr = { VHOST_USER_GET_FEATURES,
					      VHOST_USER_VERSION | 0xfff0, 0 };
		struct msg_rx rx;

		mkpair(sv);
		CHECK_EQ(raw_send(sv[0], &hdr, HDR, NULL, 0), (ssize_t)HDR);
		msg_rx_init(&rx);
		CHECK_EQ(read_msg(sv[1], &rx, 1000), 1);
		close(sv[0]);
		close(sv[1]);
	}
}

/* The writer sends `len` bytes of a message (with 3 fds) and hangs up. */
static void eof_after(size_t len)
{
	int sv[2], p[2], fds[3];
	uint8_t buf[HDR + 40];
	struct vhost_user_hdr hdr = { VHOST_USER_SET_VRING_ADDR,
				      VHOST_USER_VERSION, 40 };
	struct msg_rx rx;
	int before, ret;

	mkpair(sv);
	mkpipe(p);
	fds[0] = fds[1] = fds[2] = p[1];
	memset(buf, 0x11, sizeof(buf));
	memcpy(buf, &hdr, HDR);
	msg_rx_init(&rx);
	before = fe_count_fds();
	CHECK_EQ(raw_send(sv[0], buf, len, fds, 3), (ssize_t)len);
	/* Read what is there first, then the hang-up arrives. */
	CHECK_EQ(msg_read(sv[1], &rx), 0);
	CHECK_EQ(rx.got, len);
	CHECK_EQ(rx.msg.nfds, 3);
	close(sv[0]);
	ret = read_msg(sv[1], &rx, 1000);
	CHECK_EQ(ret, -ECONNRESET);
	CHECK_EQ(rx.msg.nfds, 0);
	CHECK_EQ(fe_count_fds(), before - 1); /* sv[0] is gone too */
	close(p[1]);
	{
		char c;

		CHECK_EQ(read(p[0], &c, 1), 0); /* no copy of p[1] left */
	}
	close(p[0]);
	close(sv[1]);

	/* Same, but the hang-up is already there on the first read. */
	mkpair(sv);
	mkpipe(p);
	fds[0] = fds[1] = fds[2] = p[1];
	before = fe_count_fds();
	CHECK_EQ(raw_send(sv[0], buf, len, fds, 3), (ssize_t)len);
	close(sv[0]);
	msg_rx_init(&rx);
	CHECK_EQ(read_msg(sv[1], &rx, 1000), -ECONNRESET);
	CHECK_EQ(fe_count_fds(), before - 1);
	close(p[0]);
	close(p[1]);
	close(sv[1]);
}

static void test_eof_mid_header(void) { eof_after(5); }
static void test_eof_mid_payload(void) { eof_after(HDR + 17); }

/* EOF between messages (nothing partial) is a hang-up too. */
static void test_eof_clean(void)
{
	int sv[2];
	struct msg_rx rx;

	mkpair(sv);
	close(sv[0]);
	msg_rx_init(&rx);
	CHECK_EQ(read_msg(sv[1], &rx, 1000), -ECONNRESET);
	close(sv[1]);
}

/* ------------------------------------------------------------ sending */

static void on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "FAIL: test_message hung (alarm)\n";

	if (write(2, m, sizeof(m) - 1) < 0)
		_exit(2);
	_exit(2);
}

/* The peer never reads: msg_send must report -EAGAIN once the socket
 * buffer is full, never block. */
static void test_send_peer_not_reading(void)
{
	int sv[2], sz = 4096, ret = 0;
	struct vhost_user_hdr hdr = { VHOST_USER_SET_CONFIG, VHOST_USER_VERSION,
				      200 };
	uint8_t payload[200] = { 0 };
	unsigned long sent = 0;
	uint64_t t0 = now_ms();

	mkpair(sv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	alarm(10);
	for (sent = 0; sent < 1000000; sent++) {
		ret = msg_send(sv[0], &hdr, payload, NULL, 0);
		if (ret)
			break;
	}
	alarm(0);
	CHECK_EQ(ret, -EAGAIN);
	CHECK(sent > 0);
	CHECK(now_ms() - t0 < 5000);
	/* Also with fds. */
	{
		int fd = sv[0];

		CHECK_EQ(msg_send(sv[0], &hdr, payload, &fd, 1), -EAGAIN);
	}
	/* The bytes that did go out are whole messages up to the (possibly
	 * partial) last one. */
	{
		struct msg_rx rx;
		unsigned long got = 0;

		for (;;) {
			msg_rx_init(&rx);
			if (msg_read(sv[1], &rx) != 1)
				break;
			CHECK_EQ(rx.msg.hdr.request, VHOST_USER_SET_CONFIG);
			msg_close_fds(&rx.msg);
			got++;
		}
		CHECK(got == sent || got == sent + 1);
	}
	close(sv[1]);
	/* A peer that hung up: -EPIPE, no SIGPIPE. */
	CHECK_EQ(msg_send(sv[0], &hdr, payload, NULL, 0), -EPIPE);
	close(sv[0]);
}

static void test_recv_timeout(void)
{
	int sv[2], p[2], fds[2];
	struct vhost_msg msg;
	uint64_t t0;
	int ret, before;

	mkpair(sv);
	t0 = now_ms();
	ret = msg_recv_timeout(sv[1], &msg, 150);
	CHECK_EQ(ret, -ETIMEDOUT);
	CHECK(now_ms() - t0 >= 140);
	CHECK(now_ms() - t0 < 3000);

	/* Half a message with fds, then silence: timeout, fds closed. */
	mkpipe(p);
	fds[0] = p[0];
	fds[1] = p[1];
	before = fe_count_fds();
	{
		struct vhost_user_hdr hdr = { VHOST_USER_SET_FEATURES,
					      VHOST_USER_VERSION, 8 };

		CHECK_EQ(raw_send(sv[0], &hdr, HDR, fds, 2), (ssize_t)HDR);
	}
	t0 = now_ms();
	ret = msg_recv_timeout(sv[1], &msg, 100);
	CHECK_EQ(ret, -ETIMEDOUT);
	CHECK(now_ms() - t0 < 3000);
	CHECK_EQ(fe_count_fds(), before);

	/* A whole message within the timeout is returned with its fds. */
	close(sv[0]);
	close(sv[1]);
	mkpair(sv);
	{
		struct vhost_user_hdr hdr = { VHOST_USER_SET_FEATURES,
					      VHOST_USER_VERSION, 8 };
		uint64_t v = 7;

		CHECK_EQ(msg_send(sv[0], &hdr, &v, fds, 1), 0);
		CHECK_EQ(msg_recv_timeout(sv[1], &msg, 1000), 0);
		CHECK_EQ(msg.nfds, 1);
		CHECK(msg.payload.u64 == 7);
		CHECK(same_file(msg.fds[0], p[0]));
		msg_close_fds(&msg);
	}
	/* Hang-up while waiting: -ECONNRESET, not a timeout. */
	close(sv[0]);
	t0 = now_ms();
	CHECK_EQ(msg_recv_timeout(sv[1], &msg, 2000), -ECONNRESET);
	CHECK(now_ms() - t0 < 1000);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm(25); /* whole program */
	RUN(test_roundtrip_0_fds);
	RUN(test_roundtrip_1_fd);
	RUN(test_roundtrip_8_fds);
	RUN(test_send_too_many_fds);
	RUN(test_one_byte_at_a_time);
	RUN(test_back_to_back);
	RUN(test_zero_size_payload);
	RUN(test_nine_fds);
	RUN(test_many_fds_truncated);
	RUN(test_fds_split_over_chunks);
	RUN(test_payload_too_big);
	RUN(test_bad_version);
	RUN(test_eof_mid_header);
	RUN(test_eof_mid_payload);
	RUN(test_eof_clean);
	alarm(25);
	RUN(test_send_peer_not_reading);
	alarm(25);
	RUN(test_recv_timeout);
	return check_summary("test_message");
}
