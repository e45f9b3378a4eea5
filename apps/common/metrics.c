/* SPDX-License-Identifier: BSD-3-Clause */
/* Prometheus metrics: textfile writer thread and HTTP /metrics (see
 * metrics.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_MICROHTTPD
#include <microhttpd.h>
#endif

#include "metrics.h"

#define METRICS_HTTP_CLIENTS 16   /* connections at once */
#define METRICS_HTTP_TIMEOUT 10   /* seconds an idle connection may stay */

struct metrics {
	struct metrics_params params;
	metrics_render_fn render;
	void *arg;
	pthread_mutex_t render_lock;  /* one render at a time */
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stop;
	bool writer_running;
	pthread_t writer;
#ifdef HAVE_MICROHTTPD
	struct MHD_Daemon *http;
#endif
};

void metrics_params_init(struct metrics_params *mp)
{
	memset(mp, 0, sizeof(*mp));
	mp->interval = 10;
}

/* [ADDR:]PORT, ADDR an IPv4 address or [IPv6]. */
static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char addr[64] = "127.0.0.1";
	const char *colon = strrchr(s, ':'), *port = s;
	unsigned long p;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (colon) {
		size_t n = (size_t)(colon - s);

		if (n >= sizeof(addr))
			return -1;
		memcpy(addr, s, n);
		addr[n] = '\0';
		port = colon + 1;
	}
	p = strtoul(port, &end, 10);
	if (end == port || *end || p == 0 || p > 65535)
		return -1;
	if (addr[0] == '[') {
		size_t n = strlen(addr);

		if (n < 3 || addr[n - 1] != ']')
			return -1;
		addr[n - 1] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		return inet_pton(AF_INET6, addr + 1, &in6->sin6_addr) == 1 ? 0 : -1;
	}
	in4->sin_family = AF_INET;
	in4->sin_port = htons((uint16_t)p);
	return inet_pton(AF_INET, addr, &in4->sin_addr) == 1 ? 0 : -1;
}

int metrics_parse_option(struct metrics_params *mp, int code, const char *arg)
{
	char *end;

	switch (code) {
	case METRICS_OPT_TEXTFILE:
		if (!*arg) {
			fprintf(stderr, "--metrics-textfile: a path\n");
			return -1;
		}
		mp->textfile = arg;
		return 1;
	case METRICS_OPT_INTERVAL:
		mp->interval = strtod(arg, &end);
		if (end == arg || *end || !(mp->interval >= 0.1) ||
		    mp->interval > 86400) {
			fprintf(stderr, "--metrics-interval: seconds, 0.1..86400\n");
			return -1;
		}
		return 1;
	case METRICS_OPT_LISTEN: {
		struct sockaddr_storage ss;

#ifndef HAVE_MICROHTTPD
		fprintf(stderr, "--metrics-listen: this build has no HTTP "
			"server (rebuild with libmicrohttpd: meson "
			"-Dmetrics_http=enabled); --metrics-textfile works\n");
		return -1;
#endif
		if (parse_listen(arg, &ss)) {
			fprintf(stderr, "--metrics-listen [ADDR:]PORT (ADDR IPv4 "
				"or [IPv6], default 127.0.0.1): %s\n", arg);
			return -1;
		}
		mp->listen = arg;
		return 1;
	}
	default:
		return 0;
	}
}

/* Render into a malloc'ed buffer: 0, or -1 (nothing to free). */
static int render_text(struct metrics *m, char **text, size_t *len)
{
	struct prom p;
	FILE *f;
	int ret;

	*text = NULL;
	*len = 0;
	f = open_memstream(text, len);
	if (!f)
		return -1;
	pthread_mutex_lock(&m->render_lock);
	prom_init(&p, f);
	m->render(&p, m->arg);
	ret = prom_finish(&p);
	pthread_mutex_unlock(&m->render_lock);
	if (fclose(f) || ret) {
		free(*text);
		*text = NULL;
		return -1;
	}
	return 0;
}

/* 0, or -errno (logged). */
static int write_textfile(struct metrics *m)
{
	const char *path = m->params.textfile;
	size_t n = strlen(path) + sizeof(".tmp"), len, off = 0;
	char *tmp = malloc(n), *text;
	int fd, err = 0;

	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, n, "%s.tmp", path);
	if (render_text(m, &text, &len)) {
		fprintf(stderr, "metrics: render failed\n");
		free(tmp);
		return -EIO;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	while (fd >= 0 && off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (fd >= 0 && off < len)
		err = errno ? -errno : -EIO;
	if (fd >= 0 && close(fd) && !err)
		err = -errno;
	if (fd < 0 || err || rename(tmp, path)) {
		err = err ? err : -errno;
		fprintf(stderr, "metrics: %s: %s\n", path, strerror(-err));
		if (fd >= 0)
			unlink(tmp);
	}
	free(text);
	free(tmp);
	return err;
}

static void *writer_main(void *arg)
{
	struct metrics *m = arg;

	/* The first write was metrics_start's. */
	pthread_mutex_lock(&m->stop_lock);
	while (!m->stop) {
		struct timespec until;
		double s = m->params.interval;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)s;
		until.tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!m->stop &&
		       pthread_cond_timedwait(&m->stop_cond, &m->stop_lock,
					      &until) != ETIMEDOUT)
			;
		if (m->stop)
			break;
		pthread_mutex_unlock(&m->stop_lock);
		write_textfile(m);
		pthread_mutex_lock(&m->stop_lock);
	}
	pthread_mutex_unlock(&m->stop_lock);
	return NULL;
}

#ifdef HAVE_MICROHTTPD
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *type, char *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_len, void **state)
{
	static char not_found[] = "not found: try /metrics\n";
	static char bad_method[] = "GET only\n";
	static char failed[] = "render failed\n";
	struct metrics *m = cls;
	char *text;
	size_t len;

	(void)version;
	(void)upload;
	if (!*state) {
		/* First call: headers only. A body is not read. */
		*state = (void *)1;
		return MHD_YES;
	}
	if (*upload_len) {
		*upload_len = 0;    /* ignore (and discard) a request body */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			     bad_method, strlen(bad_method),
			     MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", not_found,
			     strlen(not_found), MHD_RESPMEM_PERSISTENT);
	if (render_text(m, &text, &len))
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
			     failed, strlen(failed), MHD_RESPMEM_PERSISTENT);
	return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		     text, len, MHD_RESPMEM_MUST_FREE);
}

static int start_http(struct metrics *m)
{
	struct sockaddr_storage ss;

	if (parse_listen(m->params.listen, &ss))
		return -EINVAL;  /* checked by metrics_parse_option */
	m->http = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			(ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
		0, NULL, NULL, on_request, m,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_CLIENTS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_HTTP_TIMEOUT,
		MHD_OPTION_END);
	if (!m->http) {
		int err = errno ? errno : EADDRINUSE;

		fprintf(stderr, "--metrics-listen %s: cannot listen (%s)\n",
			m->params.listen, strerror(err));
		return -err;
	}
	return 0;
}
#else
static int start_http(struct metrics *m)
{
	(void)m;
	return -ENOTSUP;  /* refused by metrics_parse_option */
}
#endif

struct metrics *metrics_start(const struct metrics_params *mp,
			      metrics_render_fn render, void *arg, int *err)
{
	struct metrics *m;
	pthread_condattr_t ca;

	*err = 0;
	if (!mp->textfile && !mp->listen)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m) {
		*err = -ENOMEM;
		return NULL;
	}
	m->params = *mp;
	m->render = render;
	m->arg = arg;
	pthread_mutex_init(&m->render_lock, NULL);
	pthread_mutex_init(&m->stop_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->stop_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (mp->listen) {
		*err = start_http(m);
		if (*err)
			goto fail;
	}
	if (mp->textfile) {
		/* Once now: a path that cannot be written fails the start,
		 * not every interval later. */
		*err = write_textfile(m);
		if (*err)
			goto fail;
		*err = -pthread_create(&m->writer, NULL, writer_main, m);
		if (*err) {
			fprintf(stderr, "metrics: cannot start the writer\n");
			goto fail;
		}
		m->writer_running = true;
	}
	return m;
fail:
	metrics_stop(m);
	return NULL;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
#ifdef HAVE_MICROHTTPD
	if (m->http)
		MHD_stop_daemon(m->http);
#endif
	if (m->writer_running) {
		pthread_mutex_lock(&m->stop_lock);
		m->stop = true;
		pthread_cond_signal(&m->stop_cond);
		pthread_mutex_unlock(&m->stop_lock);
		pthread_join(m->writer, NULL);
		write_textfile(m);  /* the final counters */
	}
	pthread_cond_destroy(&m->stop_cond);
	pthread_mutex_destroy(&m->stop_lock);
	pthread_mutex_destroy(&m->render_lock);
	free(m);
}
