/* SPDX-License-Identifier: BSD-3-Clause */
/* The metrics threads (apps/common/metrics.c): option parsing, the
 * textfile rewritten while running (never a PATH.tmp left behind) and a
 * last time at stop, nothing started without options. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"

static int failures;

#define CHECK(cond)                                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n",      \
				__FILE__, __LINE__, #cond);               \
			failures++;                                       \
		}                                                         \
	} while (0)

static _Atomic unsigned renders;

static void render(struct prom *p, void *arg)
{
	(void)arg;
	prom_family(p, "test_renders_total", PROM_COUNTER, "Renders.");
	prom_value(p, NULL, atomic_fetch_add(&renders, 1) + 1);
}

static unsigned long file_value(const char *path)
{
	char line[256];
	unsigned long v = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "test_renders_total ", 19))
			v = strtoul(line + 19, NULL, 10);
	fclose(f);
	return v;
}

static void test_options(void)
{
	struct metrics_params mp;

	metrics_params_init(&mp);
	CHECK(mp.interval == 10 && !mp.textfile && !mp.listen);
	CHECK(metrics_parse_option(&mp, 'x', "a") == 0);
	CHECK(metrics_parse_option(&mp, METRICS_OPT_INTERVAL, "0") == -1);
	CHECK(metrics_parse_option(&mp, METRICS_OPT_INTERVAL, "1x") == -1);
	CHECK(metrics_parse_option(&mp, METRICS_OPT_INTERVAL, "0.2") == 1);
	CHECK(metrics_parse_option(&mp, METRICS_OPT_TEXTFILE, "") == -1);
	CHECK(metrics_parse_option(&mp, METRICS_OPT_LISTEN, "notaport") == -1);
	CHECK(metrics_parse_option(&mp, METRICS_OPT_LISTEN, "1.2.3:80") == -1);
	CHECK(metrics_parse_option(&mp, METRICS_OPT_LISTEN, "70000") == -1);
	CHECK(metrics_parse_option(&mp, METRICS_OPT_LISTEN, "[::1:80") == -1);
#ifdef HAVE_MICROHTTPD
	CHECK(metrics_parse_option(&mp, METRICS_OPT_LISTEN, "9100") == 1);
	CHECK(metrics_parse_option(&mp, METRICS_OPT_LISTEN, "0.0.0.0:9100") == 1);
	CHECK(metrics_parse_option(&mp, METRICS_OPT_LISTEN, "[::1]:9100") == 1);
#else
	CHECK(metrics_parse_option(&mp, METRICS_OPT_LISTEN, "9100") == -1);
#endif
}

static void test_textfile(void)
{
	char dir[] = "/tmp/test_metrics.XXXXXX", path[64], tmp[80];
	struct metrics_params mp;
	struct metrics *m;
	struct stat st;
	unsigned long seen = 0, after;
	int err = -1;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	metrics_params_init(&mp);
	CHECK(!metrics_start(&mp, render, NULL, &err) && err == 0);
	mp.textfile = path;
	mp.interval = 0.1;
	m = metrics_start(&mp, render, NULL, &err);
	CHECK(m && err == 0);
	/* Rewritten while running: the value grows (bounded wait). */
	for (int i = 0; i < 300 && seen < 3; i++) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		seen = file_value(path);
		nanosleep(&ts, NULL);
	}
	CHECK(seen >= 3);
	metrics_stop(m);
	after = file_value(path);
	/* The last write happens at stop: it saw every render before it. */
	CHECK(after == atomic_load(&renders));
	CHECK(stat(tmp, &st) == -1 && errno == ENOENT);
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
	unlink(path);
	/* A textfile that cannot be written fails the start. */
	snprintf(path, sizeof(path), "%s/missing/m.prom", dir);
	err = 0;
	CHECK(!metrics_start(&mp, render, NULL, &err) && err == -ENOENT);
	rmdir(dir);
	metrics_stop(NULL);
}

int main(void)
{
	test_options();
	test_textfile();
	if (failures)
		fprintf(stderr, "test_metrics: %d failures\n", failures);
	return failures ? 1 : 0;
}
