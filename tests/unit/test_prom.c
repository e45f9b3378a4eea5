/* SPDX-License-Identifier: BSD-3-Clause */
/* The Prometheus writer (apps/common/prom.c): label escaping, HELP/TYPE
 * once per family, counter naming, cumulative histogram buckets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

static int failures;

#define CHECK(cond)                                                       \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n",      \
				__FILE__, __LINE__, #cond);               \
			failures++;                                       \
		}                                                         \
	} while (0)

static unsigned occurrences(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *s = strstr(hay, needle); s; s = strstr(s + 1, needle))
		n++;
	return n;
}

static void test_escaping(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct prom p;
	struct prom_labels l;

	prom_init(&p, f);
	prom_family(&p, "x_packets_total", PROM_COUNTER, "Packets \\ with\nnewline");
	prom_labels_clear(&l);
	prom_label(&l, "port", "/tmp/a\"b\\c\nd");
	prom_label_u(&l, "queue", 3);
	prom_value(&p, &l, 42);
	CHECK(prom_finish(&p) == 0);
	fclose(f);
	CHECK(strstr(buf, "# HELP x_packets_total Packets \\\\ with\\nnewline\n"));
	CHECK(strstr(buf, "# TYPE x_packets_total counter\n"));
	CHECK(strstr(buf, "x_packets_total{port=\"/tmp/a\\\"b\\\\c\\nd\",queue=\"3\"} 42\n"));
	free(buf);
}

static void test_once_per_family(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct prom p;
	struct prom_labels l;

	prom_init(&p, f);
	for (unsigned port = 0; port < 3; port++) {
		prom_family(&p, "x_macs", PROM_GAUGE, "MACs");
		prom_labels_clear(&l);
		prom_label_u(&l, "port", port);
		prom_value(&p, &l, port);
	}
	prom_family(&p, "x_up", PROM_GAUGE, "Up");
	prom_value(&p, NULL, 1);
	CHECK(prom_finish(&p) == 0);
	fclose(f);
	CHECK(occurrences(buf, "# TYPE x_macs gauge") == 1);
	CHECK(occurrences(buf, "# HELP x_macs ") == 1);
	CHECK(strstr(buf, "x_macs{port=\"2\"} 2\n"));
	CHECK(strstr(buf, "\nx_up 1\n"));
	free(buf);

	/* Counters must end in _total, and only counters. */
	f = open_memstream(&buf, &len);
	prom_init(&p, f);
	prom_family(&p, "x_packets", PROM_COUNTER, "bad");
	prom_value(&p, NULL, 1);
	CHECK(prom_finish(&p) == -1);
	prom_init(&p, f);
	prom_family(&p, "x_gauge_total", PROM_GAUGE, "bad");
	CHECK(prom_finish(&p) == -1);
	fclose(f);
	CHECK(!strstr(buf, "x_packets "));
	free(buf);
}

static void test_histogram(void)
{
	static const double le[] = { 64, 127, 1518 };
	static const uint64_t counts[] = { 5, 0, 7, 2 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct prom p;
	struct prom_labels l;

	prom_init(&p, f);
	prom_family(&p, "x_size_bytes", PROM_HISTOGRAM, "Sizes");
	prom_labels_clear(&l);
	prom_label(&l, "port", "a");
	prom_histogram(&p, &l, le, counts, 4, 12345);
	CHECK(prom_finish(&p) == 0);
	fclose(f);
	CHECK(strstr(buf, "# TYPE x_size_bytes histogram\n"));
	CHECK(strstr(buf, "x_size_bytes_bucket{port=\"a\",le=\"64\"} 5\n"));
	CHECK(strstr(buf, "x_size_bytes_bucket{port=\"a\",le=\"127\"} 5\n"));
	CHECK(strstr(buf, "x_size_bytes_bucket{port=\"a\",le=\"1518\"} 12\n"));
	CHECK(strstr(buf, "x_size_bytes_bucket{port=\"a\",le=\"+Inf\"} 14\n"));
	CHECK(strstr(buf, "x_size_bytes_sum{port=\"a\"} 12345\n"));
	CHECK(strstr(buf, "x_size_bytes_count{port=\"a\"} 14\n"));
	free(buf);
}

static void test_truncated_labels(void)
{
	char *buf = NULL, big[2 * PROM_MAX_LABELS_LEN];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct prom p;
	struct prom_labels l;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	prom_init(&p, f);
	prom_family(&p, "x_up", PROM_GAUGE, "Up");
	prom_labels_clear(&l);
	prom_label(&l, "port", big);
	prom_value(&p, &l, 1);
	CHECK(prom_finish(&p) == -1);
	fclose(f);
	CHECK(!strstr(buf, "x_up{"));
	free(buf);
}

int main(void)
{
	test_escaping();
	test_once_per_family();
	test_histogram();
	test_truncated_labels();
	if (failures)
		fprintf(stderr, "test_prom: %d failures\n", failures);
	return failures ? 1 : 0;
}
