/* SPDX-License-Identifier: BSD-3-Clause */
/* sd_notify without libsystemd (apps/common/sdnotify.c): messages reach a
 * NOTIFY_SOCKET datagram socket of our own, path and abstract, in order;
 * no variable means nothing is sent; a bad variable is an error. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"

static int failures;

#define CHECK(cond)                                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n",      \
				__FILE__, __LINE__, #cond);               \
			failures++;                                       \
		}                                                         \
	} while (0)

/* Bind a datagram socket at name ("/path" or "@abstract"). */
static int listener(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || n >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	if (bind(fd, (struct sockaddr *)&sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
			     (name[0] == '/')))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The next datagram, or "" when none is waiting. */
static const char *next_message(int fd, char *buf, size_t size)
{
	ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void run(const char *name)
{
	char buf[512];
	int fd = listener(name);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	setenv("NOTIFY_SOCKET", name, 1);
	CHECK(sd_notify_status("%u ports listening", 2u) == 1);
	CHECK(sd_notify_send("READY=1") == 1);
	CHECK(sd_notify_send("STOPPING=1") == 1);
	CHECK(!strcmp(next_message(fd, buf, sizeof(buf)), "STATUS=2 ports listening"));
	CHECK(!strcmp(next_message(fd, buf, sizeof(buf)), "READY=1"));
	CHECK(!strcmp(next_message(fd, buf, sizeof(buf)), "STOPPING=1"));
	CHECK(!strcmp(next_message(fd, buf, sizeof(buf)), ""));
	close(fd);
}

int main(void)
{
	char path[64], abstract[64];

	snprintf(path, sizeof(path), "/tmp/test_sdnotify.%d", (int)getpid());
	snprintf(abstract, sizeof(abstract), "@test_sdnotify.%d", (int)getpid());
	unlink(path);
	run(path);
	unlink(path);
	run(abstract);

	unsetenv("NOTIFY_SOCKET");
	CHECK(sd_notify_send("READY=1") == 0);
	setenv("NOTIFY_SOCKET", "relative", 1);
	CHECK(sd_notify_send("READY=1") == -EINVAL);
	/* Nobody listens there: an error, not a crash or a hang. */
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK(sd_notify_send("READY=1") < 0);
	if (failures)
		fprintf(stderr, "test_sdnotify: %d failures\n", failures);
	return failures ? 1 : 0;
}
