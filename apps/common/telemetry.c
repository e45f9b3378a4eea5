/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket server (telemetry.h): DPDK telemetry v2 on one
 * AF_UNIX SOCK_SEQPACKET listener, served by one thread that polls the
 * listener, every client and a stop eventfd. The thread never blocks on a
 * client: replies go out with MSG_DONTWAIT, and a client that cannot take
 * one (its buffer is full) is closed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "telemetry.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef LIBVHOST_VERSION
#define LIBVHOST_VERSION "0"
#endif

#define TEL_MAX_CMD_LEN 56        /* DPDK's MAX_CMD_LEN, NUL included */
#define TEL_MAX_HELP_LEN 128
#define TEL_MAX_COMMANDS 128
#define TEL_DEFAULT_CLIENTS 16
#define TEL_MAX_CLIENTS 1024
#define TEL_LISTEN_BACKLOG 64
#define TEL_ACCEPT_BURST 64    /* connections accepted per poll round */

struct tel_cmd {
	char name[TEL_MAX_CMD_LEN];
	char help[TEL_MAX_HELP_LEN];
	tel_handler fn;
	void *arg;
	unsigned flags;
};

struct tel {
	char *path;
	char app[64];
	int listen_fd;
	int stop_fd;                  /* eventfd: tel_stop wakes the thread */
	ino_t sock_ino;               /* to unlink only our own socket */
	dev_t sock_dev;
	pthread_t thread;
	bool thread_started;
	unsigned max_clients;
	int *clients;                 /* max_clients slots, -1: free */
	struct pollfd *pfd;           /* the thread's: 2 + max_clients */
	unsigned *slot_of;            /* pfd index -> client slot */
	pthread_mutex_t lock;         /* guards cmds (tel_register vs thread) */
	struct tel_cmd cmds[TEL_MAX_COMMANDS];
	unsigned ncmds;
};

bool tel_peer_may_change(uid_t peer_uid, gid_t peer_gid,
			 const gid_t *peer_groups, unsigned ngroups,
			 uid_t sock_uid, gid_t sock_gid, mode_t sock_mode)
{
	if (peer_uid == 0 || peer_uid == sock_uid)
		return true;
	if (!(sock_mode & S_IWGRP))
		return false;
	if (peer_gid == sock_gid)
		return true;
	for (unsigned i = 0; i < ngroups; i++)
		if (peer_groups[i] == sock_gid)
			return true;
	return false;
}

bool tel_request_valid(const char *req, size_t len)
{
	size_t i = 0;

	if (len == 0 || len > TEL_MAX_REQUEST || req[0] != '/')
		return false;
	for (; i < len && req[i] != ','; i++) {
		char c = req[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '/' || c == '-';
		if (!ok || i >= TEL_MAX_CMD_LEN - 1)
			return false;
	}
	for (; i < len; i++) /* params: printable ASCII */
		if (req[i] < 0x20 || req[i] > 0x7e)
			return false;
	return true;
}

static bool cmd_name_valid(const char *cmd)
{
	size_t n = strlen(cmd);
	return n > 0 && n < TEL_MAX_CMD_LEN && tel_request_valid(cmd, n) &&
	       !strchr(cmd, ',');
}

int tel_register(struct tel *t, const char *cmd, tel_handler fn, void *arg,
		 const char *help, unsigned flags)
{
	int ret = 0;

	if (!t || !cmd || !fn || !cmd_name_valid(cmd))
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->ncmds; i++)
		if (strcmp(t->cmds[i].name, cmd) == 0)
			ret = -EEXIST;
	if (ret == 0 && t->ncmds == TEL_MAX_COMMANDS)
		ret = -ENOSPC;
	if (ret == 0) {
		struct tel_cmd *c = &t->cmds[t->ncmds++];
		snprintf(c->name, sizeof(c->name), "%s", cmd);
		snprintf(c->help, sizeof(c->help), "%s", help ? help : "");
		c->fn = fn;
		c->arg = arg;
		c->flags = flags;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

/* ------------------------------------------------------------ built-ins */

static int cmd_list(const char *cmd, const char *params, struct jw *out,
		    void *arg)
{
	struct tel *t = arg;
	(void)cmd;
	(void)params;
	jw_arr_open(out, NULL);
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->ncmds; i++)
		jw_str(out, NULL, t->cmds[i].name);
	pthread_mutex_unlock(&t->lock);
	jw_arr_close(out);
	return 0;
}

static void write_info(struct jw *out)
{
	jw_obj_open(out, NULL);
	jw_str(out, "version", "libvhost " LIBVHOST_VERSION);
	jw_i64(out, "pid", getpid());
	jw_u64(out, "max_output_len", TEL_MAX_OUTPUT_LEN);
	jw_obj_close(out);
}

static int cmd_info(const char *cmd, const char *params, struct jw *out,
		    void *arg)
{
	(void)cmd;
	(void)params;
	(void)arg;
	write_info(out);
	return 0;
}

/* As DPDK: "/help" alone is its own help text as a string; "/help,/cmd"
 * is {"/cmd": "text"}; an unknown command is an error. */
static int cmd_help(const char *cmd, const char *params, struct jw *out,
		    void *arg)
{
	struct tel *t = arg;
	const char *want = params[0] ? params : cmd;
	int ret = -1;

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->ncmds; i++) {
		if (strcmp(t->cmds[i].name, want) != 0)
			continue;
		if (params[0]) {
			jw_obj_open(out, NULL);
			jw_str(out, params, t->cmds[i].help);
			jw_obj_close(out);
		} else {
			jw_str(out, NULL, t->cmds[i].help);
		}
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return ret;
}

/* ------------------------------------------------------------- serving */

static void client_close(struct tel *t, unsigned slot)
{
	close(t->clients[slot]);
	t->clients[slot] = -1;
}

/* Send one datagram without waiting; false: the client must go. */
static bool client_send(int fd, const char *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	return n == (ssize_t)len;
}

static bool peer_may_change(const struct tel *t, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[64];
	socklen_t glen = sizeof(groups);
	unsigned ngroups = 0;
	struct stat st;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    len != sizeof(cred) || stat(t->path, &st) < 0)
		return false;
	/* Supplementary groups (Linux >= 4.13); a peer in more than 64
	 * groups is judged on its primary group and the first 64. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0)
		ngroups = glen / sizeof(gid_t);
	return tel_peer_may_change(cred.uid, cred.gid, groups, ngroups,
				   st.st_uid, st.st_gid, st.st_mode);
}

/* The reply {"<cmd>":<value>} (malloc'ed, *len set), NULL if it would
 * pass max_output_len. key is the command as received (it may be
 * garbage: the writer escapes it). */
static char *build_reply(const char *key, const char *val, size_t *len)
{
	struct jw w;
	char *s = NULL;

	jw_init(&w, TEL_MAX_OUTPUT_LEN);
	jw_obj_open(&w, NULL);
	jw_raw(&w, key, val);
	jw_obj_close(&w);
	if (jw_text(&w)) {
		s = w.buf; /* ours now */
		*len = w.len;
		w.buf = NULL;
	}
	jw_free(&w);
	return s;
}

/* Send the reply; a client that cannot take it is closed. */
static void send_reply(struct tel *t, unsigned slot, const char *key,
		       const char *val)
{
	size_t len = 0;
	char *reply = build_reply(key, val, &len);

	if (!reply && strcmp(val, "null") != 0)
		reply = build_reply(key, "null", &len);
	if (!reply || !client_send(t->clients[slot], reply, len))
		client_close(t, slot);
	free(reply);
}

static void reply_null(struct tel *t, unsigned slot, const char *key)
{
	send_reply(t, slot, key, "null");
}

/* The reply's key: the command part as sent (up to a comma or NUL), cut
 * short, so even a bad request gets an answer it can match. */
static void reply_key(const char *req, char key[TEL_MAX_CMD_LEN])
{
	size_t klen = strcspn(req, ",");

	if (klen >= TEL_MAX_CMD_LEN)
		klen = TEL_MAX_CMD_LEN - 1;
	memcpy(key, req, klen);
	key[klen] = '\0';
}

static void handle_request(struct tel *t, unsigned slot, char *req, size_t len)
{
	char key[TEL_MAX_CMD_LEN];
	const char *params = "";
	struct tel_cmd c = { .fn = NULL };

	reply_key(req, key);
	if (!tel_request_valid(req, len) || strlen(req) != len) {
		reply_null(t, slot, key);
		return;
	}
	char *comma = strchr(req, ',');
	if (comma) {
		*comma = '\0';
		params = comma + 1;
	}
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->ncmds; i++)
		if (strcmp(t->cmds[i].name, req) == 0)
			c = t->cmds[i];
	pthread_mutex_unlock(&t->lock);
	if (!c.fn) {
		reply_null(t, slot, key);
		return;
	}
	if (((c.flags & TEL_CHANGES_STATE) ||
	     ((c.flags & TEL_CHANGES_STATE_WITH_PARAMS) && params[0])) &&
	    !peer_may_change(t, t->clients[slot])) {
		fprintf(stderr, "%s: control socket: %s refused: the peer may "
			"not change state\n", t->app, c.name);
		reply_null(t, slot, key);
		return;
	}

	struct jw val;
	jw_init(&val, TEL_MAX_OUTPUT_LEN);
	int ret = c.fn(c.name, params, &val, c.arg);
	const char *text = jw_text(&val);
	if (ret < 0 || !text || !text[0])
		reply_null(t, slot, key);
	else
		send_reply(t, slot, key, text);
	jw_free(&val);
}

static void client_readable(struct tel *t, unsigned slot)
{
	char buf[TEL_MAX_REQUEST + 1];
	/* MSG_TRUNC: the datagram's real length, to refuse oversized ones
	 * (the rest of the datagram is discarded by the kernel). */
	ssize_t n = recv(t->clients[slot], buf, sizeof(buf) - 1,
			 MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* error, or end of stream (also an empty datagram) */
		client_close(t, slot);
		return;
	}
	if ((size_t)n > TEL_MAX_REQUEST) {
		char key[TEL_MAX_CMD_LEN];
		buf[TEL_MAX_REQUEST] = '\0';
		reply_key(buf, key);
		reply_null(t, slot, key);
		return;
	}
	buf[n] = '\0';
	handle_request(t, slot, buf, (size_t)n);
}

/* Accept one pending connection; false when there was none. */
static bool accept_client(struct tel *t)
{
	int fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	unsigned slot;

	if (fd < 0)
		return false;
	for (slot = 0; slot < t->max_clients; slot++)
		if (t->clients[slot] < 0)
			break;
	if (slot == t->max_clients) { /* full: as DPDK, close at once */
		close(fd);
		return true;
	}
	t->clients[slot] = fd;

	struct jw hello;
	jw_init(&hello, 0);
	write_info(&hello);
	if (!jw_text(&hello) || !client_send(fd, hello.buf, hello.len))
		client_close(t, slot);
	jw_free(&hello);
	return true;
}

static void *tel_thread(void *arg)
{
	struct tel *t = arg;
	struct pollfd *pfd = t->pfd;
	unsigned *slot_of = t->slot_of;

	for (;;) {
		unsigned n = 0;
		pfd[n++] = (struct pollfd){ .fd = t->stop_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = t->listen_fd, .events = POLLIN };
		for (unsigned i = 0; i < t->max_clients; i++) {
			if (t->clients[i] < 0)
				continue;
			slot_of[n] = i;
			pfd[n++] = (struct pollfd){ .fd = t->clients[i],
						    .events = POLLIN };
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: control socket: poll: %s; no longer "
				"served\n", t->app, strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		/* One request per client per round: no client starves the
		 * others. Slots freed here are not reused before the next
		 * round, so slot_of stays right. */
		for (unsigned i = 2; i < n; i++) {
			unsigned s = slot_of[i];
			if (pfd[i].revents & POLLIN)
				client_readable(t, s);
			else if (pfd[i].revents & (POLLHUP | POLLERR | POLLNVAL))
				client_close(t, s);
		}
		/* Drain the listen queue (bounded): a burst of connections
		 * past the limit is closed at once instead of waiting there. */
		for (unsigned k = 0; k < TEL_ACCEPT_BURST && pfd[1].revents & POLLIN;
		     k++)
			if (!accept_client(t))
				break;
	}
	return NULL;
}

/* ------------------------------------------------------ socket file */

/* mkdir -p of path's directory; new directories get 0755 (the socket
 * file's own mode and owner are the access control). */
static int make_parent_dirs(const char *path)
{
	char *dir = strdup(path);
	int ret = 0;

	if (!dir)
		return -ENOMEM;
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir) {
		free(dir);
		return 0;
	}
	*slash = '\0';
	for (char *p = dir + 1; ret == 0; p++) {
		bool end = *p == '\0';
		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			ret = -errno;
		if (end)
			break;
		*p = '/';
	}
	free(dir);
	return ret;
}

/* A socket file nobody listens on is left over from a crash: remove it.
 * A live listener is EADDRINUSE; anything else that is not a socket is
 * never touched (EEXIST). */
static int clear_stale_socket(const char *path)
{
	struct stat st;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int err = errno;
	close(fd);
	if (ret == 0)
		return -EADDRINUSE;
	if (err != ECONNREFUSED)
		return err == EPROTOTYPE ? -EADDRINUSE : -err;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int open_listener(struct tel *t, const struct tel_params *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int ret;

	if (strlen(p->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p->path);
	ret = make_parent_dirs(p->path);
	if (ret == 0)
		ret = clear_stale_socket(p->path);
	if (ret < 0)
		return ret;
	t->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
			      SOCK_NONBLOCK, 0);
	if (t->listen_fd < 0)
		return -errno;
	if (bind(t->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return errno == EADDRINUSE ? -EADDRINUSE : -errno;
	/* Mode and owner before listen: nobody connects in between. */
	if (lstat(p->path, &st) < 0 || chmod(p->path, p->mode & 07777) < 0 ||
	    ((p->uid != (uid_t)-1 || p->gid != (gid_t)-1) &&
	     chown(p->path, p->uid, p->gid) < 0)) {
		ret = -errno;
		unlink(p->path);
		return ret;
	}
	t->sock_ino = st.st_ino;
	t->sock_dev = st.st_dev;
	if (listen(t->listen_fd, TEL_LISTEN_BACKLOG) < 0) {
		ret = -errno;
		unlink(p->path);
		return ret;
	}
	return 0;
}

static void unlink_own_socket(const struct tel *t)
{
	struct stat st;

	if (lstat(t->path, &st) == 0 && st.st_ino == t->sock_ino &&
	    st.st_dev == t->sock_dev)
		unlink(t->path);
}

static void tel_free(struct tel *t)
{
	if (t->clients)
		for (unsigned i = 0; i < t->max_clients; i++)
			if (t->clients[i] >= 0)
				close(t->clients[i]);
	if (t->listen_fd >= 0)
		close(t->listen_fd);
	if (t->stop_fd >= 0)
		close(t->stop_fd);
	pthread_mutex_destroy(&t->lock);
	free(t->clients);
	free(t->pfd);
	free(t->slot_of);
	free(t->path);
	free(t);
}

struct tel *tel_start(const struct tel_params *p)
{
	struct tel *t;
	int ret;

	if (!p || !p->path || !p->path[0]) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->listen_fd = -1;
	t->stop_fd = -1;
	pthread_mutex_init(&t->lock, NULL);
	snprintf(t->app, sizeof(t->app), "%s", p->app ? p->app : "app");
	t->max_clients = p->max_clients ? p->max_clients : TEL_DEFAULT_CLIENTS;
	if (t->max_clients > TEL_MAX_CLIENTS)
		t->max_clients = TEL_MAX_CLIENTS;
	t->path = strdup(p->path);
	t->clients = malloc(t->max_clients * sizeof(*t->clients));
	t->pfd = calloc(2 + t->max_clients, sizeof(*t->pfd));
	t->slot_of = calloc(2 + t->max_clients, sizeof(*t->slot_of));
	if (!t->path || !t->clients || !t->pfd || !t->slot_of) {
		ret = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < t->max_clients; i++)
		t->clients[i] = -1;
	tel_register(t, "/", cmd_list, t, "Returns list of available commands, Takes no parameters", 0);
	tel_register(t, "/info", cmd_info, t, "Returns DPDK Telemetry information. Takes no parameters", 0);
	tel_register(t, "/help", cmd_help, t, "Returns help text for a command. Parameters: string command", 0);
	t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->stop_fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = open_listener(t, p);
	if (ret < 0)
		goto fail;
	ret = -pthread_create(&t->thread, NULL, tel_thread, t);
	if (ret < 0) {
		unlink_own_socket(t);
		goto fail;
	}
	t->thread_started = true;
	return t;
fail:
	tel_free(t);
	errno = -ret;
	return NULL;
}

void tel_stop(struct tel *t)
{
	if (!t)
		return;
	if (t->thread_started) {
		uint64_t one = 1;
		if (write(t->stop_fd, &one, sizeof(one)) < 0)
			perror("telemetry: stop");
		pthread_join(t->thread, NULL);
	}
	unlink_own_socket(t);
	tel_free(t);
}
