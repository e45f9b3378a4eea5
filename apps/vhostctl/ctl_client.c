/* SPDX-License-Identifier: BSD-3-Clause */
/* ctl_client.c -- connect, hello, request and reply on the control socket. */
#include "ctl_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int ctl_prefix_path(const char *prefix, char *out, size_t outlen)
{
	/* The daemons' rule (apps/common/ctl.c, DPDK's eal_get_runtime_dir()):
	 * $RUNTIME_DIRECTORY (set by systemd for a unit) if set, else /var/run
	 * for root, else $XDG_RUNTIME_DIR, else /tmp; then dpdk/PREFIX/. */
	const char *base = "/var/run";
	const char *rd = getenv("RUNTIME_DIRECTORY");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (rd && rd[0])
		base = rd;
	else if (getuid() != 0)
		base = (xdg && xdg[0]) ? xdg : "/tmp";
	int n = snprintf(out, outlen, "%s/dpdk/%s/dpdk_telemetry.v2", base, prefix);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Receive one datagram into c->buf before the timeout. Returns its length,
 * or -1 with a message in err (timeout, closed, larger than the buffer). */
static long recv_datagram(struct ctl_conn *c, size_t cap, const char *what, char *err, size_t errlen)
{
	long long deadline = now_ms() + c->timeout_ms;
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			snprintf(err, errlen, "no %s within %d ms", what, c->timeout_ms);
			return -1;
		}
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		if (r == 0)
			continue;
		/* MSG_TRUNC: the datagram's real length, so an oversized one is seen. */
		ssize_t n = recv(c->fd, c->buf, cap, MSG_TRUNC | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			snprintf(err, errlen, "the server closed the connection (no %s)", what);
			return -1;
		}
		if ((size_t)n > cap) {
			snprintf(err, errlen, "%s of %zd bytes is larger than the %zu announced", what, n, cap);
			return -1;
		}
		return (long)n;
	}
}

int ctl_open(struct ctl_conn *c, const char *path, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = timeout_ms;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a unix socket", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* connect() on a unix socket waits on a full backlog for the send timeout. */
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto bad;
	}
	/* The hello is small; read it into a buffer of the default size. */
	c->buf = malloc(CTL_DEFAULT_OUTPUT_LEN + 1);
	if (!c->buf) {
		snprintf(err, errlen, "out of memory");
		goto bad;
	}
	long n = recv_datagram(c, CTL_DEFAULT_OUTPUT_LEN, "hello", err, errlen);
	if (n < 0)
		goto bad;
	char perr[128];
	struct jnode *hello = jparse(c->buf, (size_t)n, perr, sizeof(perr));
	if (!hello) {
		snprintf(err, errlen, "%s: bad hello (not telemetry v2?): %s", path, perr);
		goto bad;
	}
	uint64_t mol = CTL_DEFAULT_OUTPUT_LEN;
	const struct jnode *m = jget(hello, "max_output_len");
	bool ok = hello->type == J_OBJECT && (!m || jnum_u64(m, &mol));
	jnode_free(hello);
	if (!ok || mol < 64 || mol > CTL_MAX_OUTPUT_LEN) {
		snprintf(err, errlen, "%s: bad hello (max_output_len missing or out of range)", path);
		goto bad;
	}
	char *nb = realloc(c->buf, (size_t)mol + 1);
	if (!nb) {
		snprintf(err, errlen, "out of memory");
		goto bad;
	}
	c->buf = nb;
	c->max_output_len = (size_t)mol;
	return 0;
bad:
	ctl_close(c);
	return -1;
}

void ctl_close(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

struct jnode *ctl_call(struct ctl_conn *c, const char *request, const struct jnode **value,
		       char *err, size_t errlen)
{
	size_t rlen = strlen(request);
	size_t cmdlen = strcspn(request, ",");
	if (rlen == 0 || rlen > CTL_MAX_REQUEST || request[0] != '/') {
		snprintf(err, errlen, "a request is /cmd[,params], at most %d bytes", CTL_MAX_REQUEST);
		return NULL;
	}
	if (send(c->fd, request, rlen, MSG_NOSIGNAL) != (ssize_t)rlen) {
		snprintf(err, errlen, "send: %s", strerror(errno));
		return NULL;
	}
	long n = recv_datagram(c, c->max_output_len, "reply", err, errlen);
	if (n < 0)
		return NULL;
	char perr[128];
	struct jnode *reply = jparse(c->buf, (size_t)n, perr, sizeof(perr));
	if (!reply) {
		snprintf(err, errlen, "bad reply: %s", perr);
		return NULL;
	}
	/* {"/cmd": value}: exactly one member, named for the command (no params). */
	if (reply->type != J_OBJECT || reply->n_kids != 1 || reply->kids[0].key_len != cmdlen ||
	    memcmp(reply->kids[0].key, request, cmdlen) != 0) {
		snprintf(err, errlen, "bad reply: not {\"%.*s\": value}", (int)cmdlen, request);
		jnode_free(reply);
		return NULL;
	}
	*value = &reply->kids[0];
	return reply;
}
