/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket server (apps/common/telemetry.c), over real sockets:
 * - the hello, "/", "/info", "/help", unknown commands, parameters;
 * - hostile requests: oversized, bad characters, NUL bytes, a handler
 *   error, a reply larger than max_output_len: null, and the client
 *   keeps working;
 * - more clients than allowed are closed at once, the others work;
 * - a client that never reads is closed while another keeps working;
 * - the socket file: mode, a stale socket replaced, a live one
 *   (EADDRINUSE) and a regular file left alone;
 * - the permission rule and request syntax (pure functions);
 * - tel_stop with clients connected; no fd left open;
 * - the ethdev handlers over a fake provider: DPDK's key names, the
 *   size buckets folded as the vhost PMD names them, bad port ids null.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <grp.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "ctl.h"
#include "ethdev.h"
#include "telemetry.h"

#define WAIT_MS 10000 /* generous: the machine may be loaded */

static char dir[32], path[96];

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Drop whitespace outside strings, so checks do not depend on how the
 * writer spaces its output. */
static void squeeze(char *s)
{
	bool in_str = false, esc = false;
	char *o = s;
	for (; *s; s++) {
		if (in_str) {
			if (esc)
				esc = false;
			else if (*s == '\\')
				esc = true;
			else if (*s == '"')
				in_str = false;
		} else if (*s == '"') {
			in_str = true;
		} else if (*s == ' ' || *s == '\n' || *s == '\t') {
			continue;
		}
		*o++ = *s;
	}
	*o = '\0';
}

/* One datagram into buf (NUL-terminated, squeezed); length, 0 on EOF, -1
 * on error (errno), -2 on timeout. */
static ssize_t recv_msg(int fd, char *buf, size_t cap)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, WAIT_MS) != 1)
		return -2;
	ssize_t n = recv(fd, buf, cap - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	squeeze(buf);
	return n;
}

static int connect_raw(const char *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Connect and read the hello; -1 if there was none. */
static int client(void)
{
	char buf[1024];
	int fd = connect_raw(path);
	if (fd < 0)
		return -1;
	if (recv_msg(fd, buf, sizeof(buf)) <= 0 ||
	    strncmp(buf, "{\"version\":\"libvhost", 20) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send req (len bytes) and return the squeezed reply in a static buffer,
 * "" if none came. */
static const char *ask_n(int fd, const char *req, size_t len)
{
	static char buf[TEL_MAX_OUTPUT_LEN + 1024];
	buf[0] = '\0';
	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return "";
	if (recv_msg(fd, buf, sizeof(buf)) <= 0)
		buf[0] = '\0';
	return buf;
}

static const char *ask(int fd, const char *req)
{
	return ask_n(fd, req, strlen(req));
}

/* /test/echo,P -> "P" */
static int h_echo(const char *cmd, const char *params, struct jw *out,
		  void *arg)
{
	(void)cmd;
	(void)arg;
	jw_str(out, NULL, params);
	return 0;
}

static int h_fail(const char *cmd, const char *params, struct jw *out,
		  void *arg)
{
	(void)cmd;
	(void)params;
	(void)out;
	(void)arg;
	return -1;
}

/* /test/big,N -> a string of N bytes */
static int h_big(const char *cmd, const char *params, struct jw *out,
		 void *arg)
{
	(void)cmd;
	(void)arg;
	size_t n = strtoul(params, NULL, 10);
	char *s = malloc(n + 1);
	if (!s)
		return -1;
	memset(s, 'x', n);
	s[n] = '\0';
	jw_str(out, NULL, s);
	free(s);
	return 0;
}

static struct tel *start(unsigned max_clients, mode_t mode)
{
	struct tel_params p = { .path = path, .app = "test", .mode = mode,
				.uid = (uid_t)-1, .gid = (gid_t)-1,
				.max_clients = max_clients };
	struct tel *t = tel_start(&p);
	if (t) {
		tel_register(t, "/test/echo", h_echo, NULL, "Echo params", 0);
		tel_register(t, "/test/fail", h_fail, NULL, "Fails", 0);
		tel_register(t, "/test/big", h_big, NULL, "N bytes", 0);
		tel_register(t, "/test/write", h_echo, NULL, "Writes",
			     TEL_CHANGES_STATE);
		tel_register(t, "/test/level", h_echo, NULL,
			     "Reads, writes with params",
			     TEL_CHANGES_STATE_WITH_PARAMS);
	}
	return t;
}

static void test_protocol(void)
{
	struct tel *t = start(0, 0660);
	CHECK(t != NULL);
	if (!t)
		return;
	struct stat st;
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	      (st.st_mode & 07777) == 0660);

	int fd = connect_raw(path);
	char hello[1024];
	CHECK(fd >= 0);
	CHECK(recv_msg(fd, hello, sizeof(hello)) > 0);
	char want[256];
	snprintf(want, sizeof(want), "\"pid\":%d,\"max_output_len\":65536}",
		 (int)getpid());
	CHECK(strstr(hello, "{\"version\":\"libvhost ") == hello);
	CHECK(strstr(hello, want) != NULL);

	const char *r = ask(fd, "/");
	CHECK(strncmp(r, "{\"/\":[\"/\",\"/info\",\"/help\",", 26) == 0);
	CHECK(strstr(r, "\"/test/echo\"") != NULL);
	CHECK(strstr(r, "\"/test/write\",\"/test/level\"]}") != NULL);
	r = ask(fd, "/info");
	CHECK(strncmp(r, "{\"/info\":{\"version\":\"libvhost ", 30) == 0);
	CHECK(strstr(r, want) != NULL);
	CHECK(strcmp(ask(fd, "/help,/test/echo"),
		     "{\"/help\":{\"/test/echo\":\"Echo params\"}}") == 0);
	CHECK(strncmp(ask(fd, "/help"), "{\"/help\":\"Returns help", 22) == 0);
	CHECK(strcmp(ask(fd, "/help,/nope"), "{\"/help\":null}") == 0);
	CHECK(strcmp(ask(fd, "/nope"), "{\"/nope\":null}") == 0);
	CHECK(strcmp(ask(fd, "/test/echo,a b=c,d"),
		     "{\"/test/echo\":\"a b=c,d\"}") == 0);
	CHECK(strcmp(ask(fd, "/test/echo"), "{\"/test/echo\":\"\"}") == 0);
	CHECK(strcmp(ask(fd, "/test/fail,1"), "{\"/test/fail\":null}") == 0);
	/* We own the socket: a state-changing command runs. */
	CHECK(strcmp(ask(fd, "/test/write,x"), "{\"/test/write\":\"x\"}") == 0);
	close(fd);
	tel_stop(t);
	CHECK(access(path, F_OK) < 0 && errno == ENOENT);
}

static void test_hostile(void)
{
	struct tel *t = start(0, 0600);
	CHECK(t != NULL);
	if (!t)
		return;
	int fd = client();
	CHECK(fd >= 0);

	/* Oversized: null, and the client stays. */
	static char big[4096];
	memset(big, 'a', sizeof(big));
	memcpy(big, "/test/echo,", 11);
	CHECK(strcmp(ask_n(fd, big, TEL_MAX_REQUEST + 1),
		     "{\"/test/echo\":null}") == 0);
	CHECK(strcmp(ask_n(fd, big, sizeof(big)),
		     "{\"/test/echo\":null}") == 0);
	const char *r = ask_n(fd, big, TEL_MAX_REQUEST);
	CHECK(strncmp(r, "{\"/test/echo\":\"aaa", 18) == 0);
	/* Bad characters anywhere: null; the key is escaped. */
	CHECK(strcmp(ask(fd, "/test/echo,\x01"), "{\"/test/echo\":null}") == 0);
	CHECK(strcmp(ask(fd, "/test/echo,\xff"), "{\"/test/echo\":null}") == 0);
	CHECK(strcmp(ask(fd, "/te st"), "{\"/te st\":null}") == 0);
	CHECK(strcmp(ask(fd, "/te-st"), "{\"/te-st\":null}") == 0);
	CHECK(strcmp(ask(fd, "\"\\x"), "{\"\\\"\\\\x\":null}") == 0);
	CHECK(strcmp(ask(fd, "\x02"), "{\"\\u0002\":null}") == 0);
	CHECK(strcmp(ask_n(fd, "/test/echo\0,x", 13),
		     "{\"/test/echo\":null}") == 0);
	CHECK(strcmp(ask(fd, "test/echo"), "{\"test/echo\":null}") == 0);
	/* A command name longer than 55 characters. */
	CHECK(strncmp(ask(fd, "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
		      "{\"/aaaa", 7) == 0);
	/* A reply past max_output_len: null; just under it: sent. */
	CHECK(strcmp(ask(fd, "/test/big,70000"), "{\"/test/big\":null}") == 0);
	r = ask(fd, "/test/big,65000");
	CHECK(strlen(r) == 65000 + strlen("{\"/test/big\":\"\"}"));
	CHECK(strcmp(ask(fd, "/test/echo,ok"), "{\"/test/echo\":\"ok\"}") == 0);
	close(fd);
	tel_stop(t);
}

static void test_max_clients(void)
{
	struct tel *t = start(4, 0600);
	int fds[4];
	CHECK(t != NULL);
	if (!t)
		return;
	for (int i = 0; i < 4; i++) {
		fds[i] = client();
		CHECK(fds[i] >= 0);
	}
	/* The fifth is accepted and closed at once: no hello, EOF. */
	for (int k = 0; k < 3; k++) {
		char buf[256];
		int extra = connect_raw(path);
		CHECK(extra >= 0);
		CHECK_EQ(recv_msg(extra, buf, sizeof(buf)), 0);
		close(extra);
	}
	for (int i = 0; i < 4; i++)
		CHECK(strcmp(ask(fds[i], "/test/echo,1"),
			     "{\"/test/echo\":\"1\"}") == 0);
	/* A slot freed is reused (the server sees the close on its own
	 * time: retry, bounded). */
	close(fds[0]);
	fds[0] = -1;
	for (int tries = 0; tries < 1000 && fds[0] < 0; tries++) {
		fds[0] = client();
		if (fds[0] < 0)
			usleep(10000);
	}
	CHECK(fds[0] >= 0);
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	tel_stop(t);
}

static void test_slow_reader(void)
{
	struct tel *t = start(0, 0600);
	CHECK(t != NULL);
	if (!t)
		return;
	int slow = client(), good = client();
	CHECK(slow >= 0 && good >= 0);
	bool closed = false;
	/* slow asks for big replies and never reads: its receive queue
	 * fills, the server closes it rather than wait. */
	for (int i = 0; i < 10000 && !closed; i++) {
		const char *req = "/test/big,60000";
		if (send(slow, req, strlen(req), MSG_NOSIGNAL) < 0) {
			CHECK(errno == EPIPE || errno == ECONNRESET);
			closed = true;
		}
		if (i % 4 == 0)
			CHECK(strcmp(ask(good, "/test/echo,go"),
				     "{\"/test/echo\":\"go\"}") == 0);
	}
	CHECK(closed);
	CHECK(strcmp(ask(good, "/test/echo,still"),
		     "{\"/test/echo\":\"still\"}") == 0);
	close(slow);
	close(good);
	tel_stop(t);
}

static void test_socket_file(void)
{
	struct tel_params p = { .path = path, .app = "test", .mode = 0640,
				.uid = (uid_t)-1, .gid = (gid_t)-1 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);

	/* A stale socket (bound, nobody listening) is replaced. */
	int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(s);
	struct tel *t = tel_start(&p);
	CHECK(t != NULL);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);

	/* A live listener: EADDRINUSE, and it keeps its socket. */
	errno = 0;
	CHECK(tel_start(&p) == NULL);
	CHECK_EQ(errno, EADDRINUSE);
	int fd = client();
	CHECK(fd >= 0);
	close(fd);
	tel_stop(t);
	CHECK(access(path, F_OK) < 0);

	/* A regular file is never removed. */
	int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(f >= 0);
	close(f);
	CHECK(tel_start(&p) == NULL);
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
	unlink(path);

	/* Missing directories are created. */
	char deep[128];
	snprintf(deep, sizeof(deep), "%s/a/b/sock", dir);
	p.path = deep;
	t = tel_start(&p);
	CHECK(t != NULL);
	tel_stop(t);
	snprintf(deep, sizeof(deep), "%s/a/b", dir);
	CHECK(rmdir(deep) == 0);
	snprintf(deep, sizeof(deep), "%s/a", dir);
	CHECK(rmdir(deep) == 0);

	/* A path too long for sun_path. */
	char longp[200];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	p.path = longp;
	CHECK(tel_start(&p) == NULL);
}

static void test_register(void)
{
	struct tel *t = start(0, 0600);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_EQ(tel_register(t, "/test/echo", h_echo, NULL, "", 0), -EEXIST);
	CHECK_EQ(tel_register(t, "no/slash", h_echo, NULL, "", 0), -EINVAL);
	CHECK_EQ(tel_register(t, "/a,b", h_echo, NULL, "", 0), -EINVAL);
	CHECK_EQ(tel_register(t, "/a b", h_echo, NULL, "", 0), -EINVAL);
	CHECK_EQ(tel_register(t, "/a.b", h_echo, NULL, "", 0), -EINVAL);
	CHECK_EQ(tel_register(t, "/my-app/x_1", h_echo, NULL, "", 0), 0);
	CHECK_EQ(tel_register(t, "/", h_echo, NULL, "", 0), -EEXIST);
	CHECK_EQ(tel_register(t, "/x", NULL, NULL, "", 0), -EINVAL);
	/* Registered while serving: visible at once. */
	CHECK_EQ(tel_register(t, "/late", h_echo, NULL, "", 0), 0);
	int fd = client();
	CHECK(strcmp(ask(fd, "/late,1"), "{\"/late\":\"1\"}") == 0);
	close(fd);
	tel_stop(t);
}

static void test_stop_with_clients(void)
{
	struct tel *t = start(0, 0600);
	int fds[5];
	CHECK(t != NULL);
	if (!t)
		return;
	for (int i = 0; i < 5; i++)
		fds[i] = client();
	/* one with a request still unread */
	CHECK(send(fds[0], "/info", 5, 0) == 5);
	tel_stop(t);
	for (int i = 0; i < 5; i++) {
		char buf[1024];
		ssize_t n;
		do /* a reply may come first, then EOF */
			n = recv_msg(fds[i], buf, sizeof(buf));
		while (n > 0);
		/* EOF, or a reset where the server dropped an unread
		 * request */
		CHECK(n == 0 || (n == -1 && errno == ECONNRESET));
		close(fds[i]);
	}
	CHECK(access(path, F_OK) < 0);
}

/* Another user (root only: the test takes uid 65534 in a child) may
 * read through a 0666 socket but not change state (a read-or-set command:
 * read without parameters only); the owner may. */
static void test_permission_peer(void)
{
	if (geteuid() != 0) {
		printf("  (not root: no other user to connect as; skipped)\n");
		return;
	}
	struct tel *t = start(0, 0666);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(chmod(dir, 0755) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* No malloc here: the parent has threads. */
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(10);
		int fd = client();
		if (fd < 0)
			_exit(11);
		if (strcmp(ask(fd, "/test/echo,r"), "{\"/test/echo\":\"r\"}"))
			_exit(12);
		if (strcmp(ask(fd, "/test/write,w"), "{\"/test/write\":null}"))
			_exit(13);
		if (strcmp(ask(fd, "/test/level"), "{\"/test/level\":\"\"}"))
			_exit(14);
		if (strcmp(ask(fd, "/test/level,w"), "{\"/test/level\":null}"))
			_exit(15);
		_exit(0);
	}
	int status = -1;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fprintf(stderr, "  child status %d\n", status);
	int fd = client();
	CHECK(strcmp(ask(fd, "/test/write,w"), "{\"/test/write\":\"w\"}") == 0);
	CHECK(strcmp(ask(fd, "/test/level,w"), "{\"/test/level\":\"w\"}") == 0);
	close(fd);
	CHECK(chmod(dir, 0700) == 0);
	tel_stop(t);
}

static void test_permission_rule(void)
{
	const gid_t g[] = { 5, 7 };
	/* root, owner */
	CHECK(tel_peer_may_change(0, 0, NULL, 0, 1000, 1000, 0600));
	CHECK(tel_peer_may_change(1000, 1, NULL, 0, 1000, 1000, 0600));
	/* group: only with group write permission */
	CHECK(!tel_peer_may_change(1001, 1000, NULL, 0, 1000, 1000, 0640));
	CHECK(tel_peer_may_change(1001, 1000, NULL, 0, 1000, 1000, 0660));
	CHECK(tel_peer_may_change(1001, 3, g, 2, 1000, 7, 0660));
	CHECK(!tel_peer_may_change(1001, 3, g, 2, 1000, 8, 0660));
	CHECK(!tel_peer_may_change(1001, 3, g, 2, 1000, 7, 0640));
	/* others: never, even with a 0666 socket */
	CHECK(!tel_peer_may_change(1001, 1001, NULL, 0, 1000, 1000, 0666));
	CHECK(!tel_peer_may_change(1001, 1001, g, 2, 0, 0, 0777));
}

static void test_request_syntax(void)
{
	CHECK(tel_request_valid("/", 1));
	CHECK(tel_request_valid("/ethdev/stats,0", 15));
	CHECK(tel_request_valid("/a_b/C9,x y=z,/p", 16));
	CHECK(!tel_request_valid("", 0));
	CHECK(!tel_request_valid("ethdev", 6));
	CHECK(tel_request_valid("/vhost-switch/port_add,/p", 25));
	CHECK(tel_request_valid("/vhost-switch/ports", 19));
	CHECK(!tel_request_valid("/a.b", 4));
	CHECK(!tel_request_valid("/a,\t", 4));
	CHECK(!tel_request_valid("/a,\x7f", 4));
	CHECK(!tel_request_valid("/a\0", 3));
	static char big[TEL_MAX_REQUEST + 2];
	memset(big, 'a', sizeof(big));
	memcpy(big, "/x,", 3);
	CHECK(tel_request_valid(big, TEL_MAX_REQUEST));
	CHECK(!tel_request_valid(big, TEL_MAX_REQUEST + 1));
	big[1] = big[2] = 'a'; /* a 56-character command name */
	big[56] = ',';
	CHECK(!tel_request_valid(big, 60));
	big[55] = ',';
	CHECK(tel_request_valid(big, 60));
}

/* A provider with ports 0 and 3: 0 a vhost port with ring stats and two
 * queues, 3 a tap (link down). */
static unsigned fake_list(void *arg, uint16_t *ids, unsigned max)
{
	(void)arg;
	if (max < 2)
		return 0;
	ids[0] = 0;
	ids[1] = 3;
	return 2;
}

static int fake_snapshot(void *arg, uint16_t id, struct ethdev_port *out)
{
	(void)arg;
	if (id != 0 && id != 3)
		return -1;
	out->port_id = id;
	if (id == 3) {
		snprintf(out->name, sizeof(out->name), "tap0");
		snprintf(out->driver_name, sizeof(out->driver_name), "tap");
		out->nb_rx_queues = out->nb_tx_queues = 1;
		return 0;
	}
	snprintf(out->name, sizeof(out->name), "/run/a \"b\".sock");
	snprintf(out->driver_name, sizeof(out->driver_name), "vhost_user");
	out->link_up = true;
	out->link_speed = 10000;
	out->mtu = 1500;
	memcpy(out->mac, (uint8_t[]){ 0x52, 0x54, 0, 0xab, 0xcd, 0xef }, 6);
	out->nb_rx_queues = out->nb_tx_queues = 2;
	out->ipackets = 11;
	out->opackets = 22;
	out->ibytes = 33;
	out->obytes = 44;
	out->imissed = 5;
	out->ierrors = 6;
	out->oerrors = 7;
	out->rx_nombuf = 8;
	out->has_ring_stats = true;
	out->rxq[1].packets = 9;
	out->rxq[1].size_buckets[6] = 2;
	out->rxq[1].size_buckets[7] = 3;
	out->rxq[1].notifications = 4;
	out->txq[0].drops[VHOST_DROP_NO_ROOM] = 12;
	return 0;
}

static void test_ethdev(void)
{
	static const struct ethdev_provider prov = {
		.list = fake_list, .snapshot = fake_snapshot,
	};
	struct tel *t = start(0, 0600);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_EQ(ethdev_register(t, &prov), 0);
	CHECK_EQ(ethdev_register(t, &prov), -EEXIST);
	int fd = client();
	CHECK(strcmp(ask(fd, "/ethdev/list"), "{\"/ethdev/list\":[0,3]}") == 0);
	CHECK(strcmp(ask(fd, "/ethdev/stats,0"),
		     "{\"/ethdev/stats\":{\"ipackets\":11,\"opackets\":22,"
		     "\"ibytes\":33,\"obytes\":44,\"imissed\":5,\"ierrors\":6,"
		     "\"oerrors\":7,\"rx_nombuf\":8,"
		     "\"q_ipackets\":[0,9,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"
		     "\"q_opackets\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"
		     "\"q_ibytes\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"
		     "\"q_obytes\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"
		     "\"q_errors\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}}") == 0);
	const char *r = ask(fd, "/ethdev/xstats,0");
	CHECK(strstr(r, "{\"/ethdev/xstats\":{\"rx_good_packets\":11,") == r);
	CHECK(strstr(r, "\"rx_q1_good_packets\":9,") != NULL);
	CHECK(strstr(r, "\"rx_q1_size_1519_max_packets\":5,") != NULL);
	CHECK(strstr(r, "\"rx_q1_guest_notifications\":4,") != NULL);
	CHECK(strstr(r, "\"tx_q0_drop_no_room\":12,") != NULL);
	CHECK(strstr(r, "\"tx_q1_size_64_packets\":0,") != NULL);
	CHECK(strstr(r, "rx_q2_") == NULL);
	r = ask(fd, "/ethdev/xstats,3");
	CHECK(strstr(r, "\"rx_q0_packets\":0") != NULL);
	CHECK(strstr(r, "good_packets\":0,\"tx_good") != NULL);
	CHECK(strstr(r, "rx_q0_good_packets") == NULL); /* no ring stats */
	CHECK(strcmp(ask(fd, "/ethdev/link_status,0"),
		     "{\"/ethdev/link_status\":{\"status\":\"UP\",\"speed\":10000,"
		     "\"duplex\":\"full-duplex\"}}") == 0);
	CHECK(strcmp(ask(fd, "/ethdev/link_status,3"),
		     "{\"/ethdev/link_status\":{\"status\":\"DOWN\"}}") == 0);
	r = ask(fd, "/ethdev/info,0");
	CHECK(strstr(r, "\"name\":\"/run/a \\\"b\\\".sock\"") != NULL);
	CHECK(strstr(r, "\"mac_addr\":\"52:54:00:AB:CD:EF\"") != NULL);
	CHECK(strstr(r, "\"nb_rx_queues\":2,") != NULL);
	CHECK(strstr(r, "\"driver_name\":\"vhost_user\"") != NULL);
	static const char *const bad[] = {
		"/ethdev/stats", "/ethdev/stats,1", "/ethdev/stats,abc",
		"/ethdev/stats,-1", "/ethdev/stats,65536", "/ethdev/stats,0x0",
		"/ethdev/stats,0,0", "/ethdev/stats, 0", "/ethdev/info,4",
		"/ethdev/xstats,99999999999999999999", "/ethdev/link_status,",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "{\"%.*s\":null}",
			 (int)strcspn(bad[i], ","), bad[i]);
		CHECK(strcmp(ask(fd, bad[i]), want) == 0);
	}
	CHECK(strcmp(ask(fd, "/ethdev/list,1"), "{\"/ethdev/list\":null}") == 0);
	CHECK(strcmp(ethdev_size_name(1), "size_65_127_packets") == 0);
	CHECK(ethdev_size_name(VHOST_SIZE_BUCKETS) == NULL);
	CHECK(strcmp(ethdev_drop_name(VHOST_DROP_NO_ROOM), "drop_no_room") == 0);
	CHECK(ethdev_drop_name(VHOST_DROP_REASONS) == NULL);
	close(fd);
	tel_stop(t);
}

/* DPDK's default path rule and the option values (ctl.c). */
static void test_ctl_options(void)
{
	char b[128];
	CHECK_EQ(ctl_default_path(b, sizeof(b), "vhost-switch", 0, NULL,
				  "/run/user/0"), 0);
	CHECK(strcmp(b, "/var/run/dpdk/vhost-switch/dpdk_telemetry.v2") == 0);
	CHECK_EQ(ctl_default_path(b, sizeof(b), "sw1", 1000, NULL,
				  "/run/user/1000"), 0);
	CHECK(strcmp(b, "/run/user/1000/dpdk/sw1/dpdk_telemetry.v2") == 0);
	CHECK_EQ(ctl_default_path(b, sizeof(b), "sw1", 1000, "", ""), 0);
	CHECK(strcmp(b, "/tmp/dpdk/sw1/dpdk_telemetry.v2") == 0);
	CHECK_EQ(ctl_default_path(b, sizeof(b), "sw1", 0, "/run/vs", NULL), 0);
	CHECK(strcmp(b, "/run/vs/dpdk/sw1/dpdk_telemetry.v2") == 0);
	CHECK_EQ(ctl_default_path(b, 20, "sw1", 0, NULL, NULL), -ENAMETOOLONG);
	CHECK_EQ(ctl_default_path(b, sizeof(b), "a/b", 0, NULL, NULL), -EINVAL);

	struct ctl_opts o;
	ctl_opts_init(&o);
	CHECK_EQ(o.mode, 0660);
	CHECK_EQ(ctl_parse_opt(&o, CTL_OPT_MODE, "0640"), 1);
	CHECK_EQ(o.mode, 0640);
	CHECK_EQ(ctl_parse_opt(&o, CTL_OPT_MODE, "0689"), -1);
	CHECK_EQ(ctl_parse_opt(&o, CTL_OPT_MODE, "10000"), -1);
	CHECK_EQ(ctl_parse_opt(&o, CTL_OPT_GROUP, "123"), 1);
	CHECK_EQ(o.gid, 123);
	CHECK_EQ(ctl_parse_opt(&o, CTL_OPT_GROUP, "root"), 1);
	CHECK_EQ(o.gid, 0);
	CHECK_EQ(ctl_parse_opt(&o, CTL_OPT_GROUP, "no-such-group-x"), -1);
	CHECK_EQ(ctl_parse_opt(&o, CTL_OPT_FILE_PREFIX, "../x"), -1);
	CHECK_EQ(ctl_parse_opt(&o, CTL_OPT_FILE_PREFIX, "x"), 1);
	CHECK_EQ(ctl_parse_opt(&o, CTL_OPT_PATH, "none"), 1);
	CHECK(o.disabled);
	errno = 5;
	CHECK(ctl_start(&o, "test") == NULL && errno == 0);
	CHECK_EQ(ctl_parse_opt(&o, CTL_OPT_PATH, path), 1);
	CHECK(!o.disabled);
	CHECK_EQ(ctl_parse_opt(&o, 'x', "1"), 0);
	struct tel *t = ctl_start(&o, "test");
	CHECK(t != NULL);
	tel_stop(t);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_tel.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/dpdk_telemetry.v2", dir);
	int fds = count_fds();

	RUN(test_permission_rule);
	RUN(test_request_syntax);
	RUN(test_protocol);
	RUN(test_permission_peer);
	RUN(test_hostile);
	RUN(test_max_clients);
	RUN(test_slow_reader);
	RUN(test_socket_file);
	RUN(test_register);
	RUN(test_stop_with_clients);
	RUN(test_ctl_options);
	RUN(test_ethdev);

	CHECK_EQ(count_fds(), fds);
	rmdir(dir);
	return check_summary("telemetry");
}
