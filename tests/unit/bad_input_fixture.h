/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bad-input tests' fixture (test_bad_input.c, test_bad_input_session.c):
 * a back-end in this process on a real socket, the test front-end, the case
 * framework (each case: a fresh connection, the bad message, then a full
 * handshake must still work, no fd may leak, no device may have started)
 * and the back-end log counted, not printed. Included once per program:
 * everything is static (marked unused: each program uses its own part).
 */
#ifndef TEST_BAD_INPUT_FIXTURE_H
#define TEST_BAD_INPUT_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vhost/vhost.h>

#include "check.h"
#include "frontend.h"
#include "message.h"
#include "protocol.h"

#define WAIT_MS 3000     /* any single wait */
#define MEM_SIZE (1u << 20)
#define PF(x) (1ull << VHOST_USER_PROTOCOL_F_##x)
#define ALL ~0ull
#define HDR sizeof(struct vhost_user_hdr)

static __attribute__((unused)) _Atomic int n_new_conn, n_destroy_conn, n_new_dev, n_destroy_dev;
static __attribute__((unused)) struct vhost_dev *_Atomic last_dev; /* of the last new_device */
static __attribute__((unused)) _Atomic int last_nvrings;            /* its vhost_dev_num_vrings() */

static __attribute__((unused)) int cb_new_connection(struct vhost_dev *dev)
{
	(void)dev;
	n_new_conn++;
	return 0;
}

static __attribute__((unused)) void cb_destroy_connection(struct vhost_dev *dev)
{
	(void)dev;
	n_destroy_conn++;
}

static __attribute__((unused)) int cb_new_device(struct vhost_dev *dev)
{
	last_dev = dev;
	last_nvrings = vhost_dev_num_vrings(dev);
	n_new_dev++;
	return 0;
}

static __attribute__((unused)) void cb_destroy_device(struct vhost_dev *dev)
{
	(void)dev;
	n_destroy_dev++;
}

static __attribute__((unused)) const struct vhost_device_ops ops = {
	.new_connection = cb_new_connection,
	.destroy_connection = cb_destroy_connection,
	.new_device = cb_new_device,
	.destroy_device = cb_destroy_device,
};

static __attribute__((unused)) char path[108];
static __attribute__((unused)) struct vhost_ctx *ctx;
static __attribute__((unused)) struct vhost_socket *vsock;

/* ------------------------------------------------------------ reporting */

static __attribute__((unused)) const char *case_name = "-";

static __attribute__((unused)) void report(bool ok, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static __attribute__((unused)) void report(bool ok, int line, const char *fmt, ...)
{
	va_list ap;

	check_total++;
	if (ok)
		return;
	check_failed++;
	fprintf(stderr, "FAIL %s:%d [%s]: ", __FILE__, line, case_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static __attribute__((unused)) uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------ per-case fds */

static __attribute__((unused)) int tmp[1100];
static __attribute__((unused)) unsigned ntmp;

static __attribute__((unused)) int keep(int fd)
{
	if (fd >= 0 && ntmp < sizeof(tmp) / sizeof(tmp[0]))
		tmp[ntmp++] = fd;
	return fd;
}

static __attribute__((unused)) void close_tmp(void)
{
	while (ntmp)
		close(tmp[--ntmp]);
}

static __attribute__((unused)) int mk_eventfd(void)
{
	return keep(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}

static __attribute__((unused)) int mk_memfd(uint64_t size)
{
	int fd = memfd_create("bad-input", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	return keep(fd);
}

static __attribute__((unused)) int mk_pipe(void)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	keep(p[1]);
	return keep(p[0]);
}

/* -------------------------------------------------------------- waits */

static __attribute__((unused)) _Atomic int *wv_a, *wv_b;
static __attribute__((unused)) int wv_val;

static __attribute__((unused)) bool pred_ge(void *arg)
{
	(void)arg;
	return atomic_load(wv_a) >= wv_val;
}

static __attribute__((unused)) bool pred_eq2(void *arg)
{
	(void)arg;
	return atomic_load(wv_a) == atomic_load(wv_b);
}

static __attribute__((unused)) bool pred_fds(void *arg)
{
	(void)arg;
	return fe_count_fds() == wv_val;
}

static __attribute__((unused)) bool wait_ge(_Atomic int *v, int value)
{
	wv_a = v;
	wv_val = value;
	return fe_wait(pred_ge, NULL, WAIT_MS) == 0;
}

static __attribute__((unused)) bool wait_eq(_Atomic int *a, _Atomic int *b)
{
	wv_a = a;
	wv_b = b;
	return fe_wait(pred_eq2, NULL, WAIT_MS) == 0;
}

static __attribute__((unused)) bool wait_fds(int n)
{
	wv_val = n;
	return fe_wait(pred_fds, NULL, WAIT_MS) == 0;
}

/* ----------------------------------------------------- outcome of a msg */

enum outcome { O_ERR_ACK, O_OK_ACK, O_REPLY, O_CLOSED, O_HANG, O_ODD };
static __attribute__((unused)) const char *const oname[] = { "error ack", "success ack", "reply",
				     "closed", "HANG (timeout)", "odd message" };

/* Requests the spec gives an explicit reply. */
static __attribute__((unused)) bool explicit_reply(uint32_t req)
{
	switch (req) {
	case VHOST_USER_GET_FEATURES:
	case VHOST_USER_GET_PROTOCOL_FEATURES:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_GET_QUEUE_NUM:
	case VHOST_USER_SET_LOG_BASE:
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_CREATE_CRYPTO_SESSION:
	case VHOST_USER_POSTCOPY_ADVISE:
	case VHOST_USER_POSTCOPY_END:
	case VHOST_USER_GET_INFLIGHT_FD:
	case VHOST_USER_GET_MAX_MEM_SLOTS:
	case VHOST_USER_GET_STATUS:
		return true;
	}
	return false;
}

static __attribute__((unused)) bool has_ack(const struct fe *fe)
{
	return fe->protocol_features & PF(REPLY_ACK);
}

/* The next message from the back-end, classified as the answer to req. */
static __attribute__((unused)) enum outcome read_outcome(struct fe *fe, uint32_t req)
{
	struct vhost_msg m;
	int r = fe_recv(fe, &m, WAIT_MS);

	if (r == -ETIMEDOUT)
		return O_HANG;
	if (r < 0)
		return O_CLOSED; /* EOF / ECONNRESET */
	msg_close_fds(&m);
	if (!(m.hdr.flags & VHOST_USER_REPLY_MASK) || m.hdr.request != req)
		return O_ODD;
	if (explicit_reply(req))
		return O_REPLY;
	if (m.hdr.size != sizeof(uint64_t))
		return O_ODD;
	return m.payload.u64 ? O_ERR_ACK : O_OK_ACK;
}

/* Probe with GET_FEATURES: a reply means the connection lives (the
 * message before was taken silently: O_OK_ACK); an error ack for req that
 * arrives first also counts as a refusal. */
static __attribute__((unused)) enum outcome probe(struct fe *fe, uint32_t req)
{
	struct vhost_msg m;
	int r;

	if (fe_send(fe, VHOST_USER_GET_FEATURES, 0, NULL, 0, NULL, 0))
		return O_CLOSED;
	r = fe_recv(fe, &m, WAIT_MS);
	if (r == -ETIMEDOUT)
		return O_HANG;
	if (r < 0)
		return O_CLOSED;
	msg_close_fds(&m);
	if (!(m.hdr.flags & VHOST_USER_REPLY_MASK))
		return O_ODD;
	if (m.hdr.request == VHOST_USER_GET_FEATURES && m.hdr.size == 8)
		return O_OK_ACK;
	if (m.hdr.request == req && m.hdr.size == 8 && m.payload.u64)
		return O_ERR_ACK;
	return O_ODD;
}

/* What happened to the message just sent: read its ack or reply; without
 * either, probe. */
static __attribute__((unused)) enum outcome outcome_of(struct fe *fe, uint32_t req, bool acked)
{
	if (acked || explicit_reply(req))
		return read_outcome(fe, req);
	return probe(fe, req);
}

enum expect { MUST_REFUSE, MAY_ACCEPT, MUST_ACCEPT };

/* Send one message (NEED_REPLY when REPLY_ACK is negotiated and no explicit
 * reply exists) and check its outcome. */
static __attribute__((unused)) enum outcome send_expect(struct fe *fe, uint32_t req, uint32_t flags,
				const void *p, uint32_t size, const int *fds,
				unsigned nfds, enum expect e, int line)
{
	bool acked = has_ack(fe) && !explicit_reply(req) &&
		     !(flags & VHOST_USER_REPLY_MASK);
	enum outcome o;
	int r;

	if (acked)
		flags |= VHOST_USER_NEED_REPLY_MASK;
	r = fe_send(fe, req, flags, p, size, fds, nfds);
	if (r) {
		/* Already closed by the back-end (an earlier message). */
		o = O_CLOSED;
		report(e != MUST_ACCEPT, line, "request %u: send: %s", req,
		       strerror(-r));
		return o;
	}
	o = outcome_of(fe, req, acked);
	switch (e) {
	case MUST_REFUSE:
		report(o == O_ERR_ACK || o == O_CLOSED, line,
		       "request %u (size %u, %u fds) not refused: %s", req,
		       size, nfds, oname[o]);
		break;
	case MAY_ACCEPT:
		report(o != O_HANG && o != O_ODD, line, "request %u: %s", req,
		       oname[o]);
		break;
	case MUST_ACCEPT:
		report(o == O_OK_ACK || o == O_REPLY, line,
		       "valid request %u not accepted: %s", req, oname[o]);
		break;
	}
	return o;
}

#define REFUSE(fe, req, p, size, fds, nfds)                                  \
	send_expect(fe, req, 0, p, size, fds, nfds, MUST_REFUSE, __LINE__)
#define TOLERATE(fe, req, p, size, fds, nfds)                                \
	send_expect(fe, req, 0, p, size, fds, nfds, MAY_ACCEPT, __LINE__)
#define ACCEPT(fe, req, p, size, fds, nfds)                                  \
	send_expect(fe, req, 0, p, size, fds, nfds, MUST_ACCEPT, __LINE__)

/* After raw bytes that cannot be acked: the back-end must close. */
static __attribute__((unused)) void expect_closed(struct fe *fe, int line)
{
	enum outcome o = probe(fe, VHOST_USER_NONE);

	/* A reply to our probe would mean the garbage was swallowed. */
	report(o == O_CLOSED, line, "connection not closed: %s", oname[o]);
}

/* raw bytes with fds: tests/lib/frontend.c */
static __attribute__((unused)) ssize_t send_raw(int fd, const void *buf, size_t len, const int *fds,
			unsigned nfds)
{
	return fe_send_raw(fd, buf, len, fds, nfds, 0);
}

/* ------------------------------------------------------ case framework */

struct snap {
	int fds;
	int devs;
};

static __attribute__((unused)) struct snap case_begin(const char *name)
{
	struct snap s;

	case_name = name;
	s.fds = fe_count_fds();
	s.devs = n_new_dev;
	return s;
}

/* The current connection legitimately started a device (a valid
 * handshake before the bad input): count from here. */
static __attribute__((unused)) void rebase(struct snap *s)
{
	s->devs = n_new_dev;
}

enum open_flags {
	O_PROTO = 1,     /* GET/SET_PROTOCOL_FEATURES (with mask) */
	O_FEAT = 2,      /* SET_FEATURES (all offered) */
	O_MEM = 4,       /* SET_MEM_TABLE (MEM_SIZE memfd) */
};

/* Connect and negotiate. pf: protocol features wanted (of those offered). */
static __attribute__((unused)) bool conn_open(struct fe *fe, uint64_t pf, unsigned flags, int line)
{
	uint64_t f = 0, offered_pf = 0;
	int r;

	fe_init(fe);
	r = fe_connect(fe, path, WAIT_MS);
	if (!r)
		r = fe_get_u64(fe, VHOST_USER_GET_FEATURES, &f);
	f &= ~(1ull << VIRTIO_F_RING_PACKED); /* the rings here are split */
	fe->features = f;
	if (!r && (flags & O_PROTO)) {
		r = fe_get_u64(fe, VHOST_USER_GET_PROTOCOL_FEATURES,
			       &offered_pf);
		if (!r)
			r = fe_set_u64(fe, VHOST_USER_SET_PROTOCOL_FEATURES,
				       offered_pf & pf);
		fe->protocol_features = offered_pf & pf;
	}
	if (!r)
		r = fe_request(fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	if (!r && (flags & O_FEAT))
		r = fe_set_u64(fe, VHOST_USER_SET_FEATURES, f);
	if (!r && (flags & O_MEM)) {
		r = fe_mem_init(fe, MEM_SIZE);
		if (!r)
			r = fe_set_mem_table(fe);
	}
	report(r == 0, line, "opening a connection: %s", strerror(-r));
	return r == 0;
}

#define OPEN(fe, pf, flags) conn_open(fe, pf, flags, __LINE__)

/* (c), (a), then close everything, then (b). */
static __attribute__((unused)) void case_end_n(struct snap *s, struct fe *bad, unsigned nbad, int line)
{
	struct fe g;
	int devs = n_new_dev, r;

	report(devs == s->devs, line, "bad input started %d device(s)",
	       devs - s->devs);
	/* (a) a fresh connection works while the bad one may still be open. */
	fe_init(&g);
	r = fe_connect(&g, path, WAIT_MS);
	if (!r)
		r = fe_handshake(&g, NULL);
	report(r == 0, line, "fresh handshake after the case: %s",
	       strerror(-r));
	report(wait_ge(&n_new_dev, devs + 1), line,
	       "new_device did not fire for the fresh connection");
	fe_close(&g);
	for (unsigned i = 0; i < nbad; i++)
		fe_close(&bad[i]);
	close_tmp();
	/* (b) */
	report(wait_eq(&n_destroy_conn, &n_new_conn), line,
	       "connections not all gone: %d opened, %d destroyed",
	       atomic_load(&n_new_conn), atomic_load(&n_destroy_conn));
	report(wait_eq(&n_destroy_dev, &n_new_dev), line,
	       "devices not all stopped: %d started, %d stopped",
	       atomic_load(&n_new_dev), atomic_load(&n_destroy_dev));
	report(wait_fds(s->fds), line, "fd leak: %d fds before, %d after",
	       s->fds, fe_count_fds());
	case_name = "-";
}

#define CASE_END(s, fe) case_end_n(&(s), (fe), 1, __LINE__)

/* ------------------------------------------------------------- helpers */

/* Per-request payload sizes from the spec, for the size cases. */
struct fixed {
	uint32_t req;
	uint32_t size;
	unsigned nfds;      /* fds the request takes when well formed */
};

static __attribute__((unused)) const struct fixed fixed_size[] = {
	{ VHOST_USER_SET_FEATURES, 8, 0 },
	{ VHOST_USER_SET_LOG_BASE, 16, 1 },
	{ VHOST_USER_SET_VRING_NUM, 8, 0 },
	{ VHOST_USER_SET_VRING_ADDR, 40, 0 },
	{ VHOST_USER_SET_VRING_BASE, 8, 0 },
	{ VHOST_USER_GET_VRING_BASE, 8, 0 },
	{ VHOST_USER_SET_VRING_KICK, 8, 1 },
	{ VHOST_USER_SET_VRING_CALL, 8, 1 },
	{ VHOST_USER_SET_VRING_ERR, 8, 1 },
	{ VHOST_USER_SET_PROTOCOL_FEATURES, 8, 0 },
	{ VHOST_USER_SET_VRING_ENABLE, 8, 0 },
	{ VHOST_USER_SEND_RARP, 8, 0 },
	{ VHOST_USER_NET_SET_MTU, 8, 0 },
	{ VHOST_USER_IOTLB_MSG, 32, 0 },
	{ VHOST_USER_SET_VRING_ENDIAN, 8, 0 },
	{ VHOST_USER_GET_INFLIGHT_FD, 24, 0 },
	{ VHOST_USER_SET_INFLIGHT_FD, 24, 1 },
	{ VHOST_USER_VRING_KICK, 8, 0 },
	{ VHOST_USER_ADD_MEM_REG, 40, 1 },
	{ VHOST_USER_REM_MEM_REG, 40, 0 },
	{ VHOST_USER_SET_STATUS, 8, 0 },
};

/* A payload that would be valid apart from its size. */
static __attribute__((unused)) void fill_valid(uint32_t req, union vhost_user_payload *p, int memfd)
{
	memset(p, 0, sizeof(*p));
	(void)memfd;
	switch (req) {
	case VHOST_USER_SET_FEATURES:
		p->u64 = vhost_socket_get_features(vsock);
		break;
	case VHOST_USER_SET_VRING_NUM:
		p->state.num = 256;
		break;
	case VHOST_USER_SET_VRING_ENABLE:
		p->state.num = 1;
		break;
	case VHOST_USER_NET_SET_MTU:
		p->u64 = 1500;
		break;
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		p->u64 = PF(REPLY_ACK);
		break;
	case VHOST_USER_SET_STATUS:
		p->u64 = VIRTIO_CONFIG_S_ACKNOWLEDGE;
		break;
	case VHOST_USER_ADD_MEM_REG:
	case VHOST_USER_REM_MEM_REG:
		p->mem_reg.region.guest_phys_addr = 0x80000000ull;
		p->mem_reg.region.memory_size = 4096;
		p->mem_reg.region.userspace_addr = 0x7f0000000000ull;
		break;
	case VHOST_USER_SET_LOG_BASE:
		p->log.mmap_size = 4096;
		break;
	}
}


static __attribute__((unused)) _Atomic unsigned log_lines;

static __attribute__((unused)) void count_log(enum vhost_log_level level, const char *line)
{
	(void)level;
	(void)line;
	log_lines++;
}

static __attribute__((unused)) void on_alarm(int sig)
{
	static const char m[] = "FAIL: test_bad_input hung (alarm)\n";

	(void)sig;
	if (write(2, m, sizeof(m) - 1) < 0)
		_exit(2);
	_exit(2);
}

/* main()'s common start: signals, the log counted, the back-end started
 * on its socket. 0, or -1 (reported). */
static __attribute__((unused)) int fixture_begin(const char *name)
{
	int r;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(60);
	/* Errors are expected by the hundred: count them instead of printing
	 * them, unless VHOST_LOG_LEVEL asks for the log. */
	if (!getenv("VHOST_LOG_LEVEL"))
		vhost_log_set_handler(count_log);
	snprintf(path, sizeof(path), "/tmp/vhost-%s-%d.sock", name, (int)getpid());
	unlink(path);
	ctx = vhost_ctx_create(NULL);
	if (!ctx) {
		perror("vhost_ctx_create");
		return -1;
	}
	r = vhost_socket_register(ctx, path, 0, &vsock);
	if (!r)
		r = vhost_socket_set_ops(vsock, &ops, NULL);
	if (!r)
		r = vhost_socket_start(vsock);
	if (r) {
		fprintf(stderr, "cannot start back-end: %s\n", strerror(-r));
		return -1;
	}
	return 0;
}

static __attribute__((unused)) int fixture_end(const char *name)
{
	vhost_ctx_destroy(ctx);
	CHECK(access(path, F_OK) != 0);
	printf("(%u back-end log lines suppressed)\n", log_lines);
	return check_summary(name);
}

#endif
