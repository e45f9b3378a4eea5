/* SPDX-License-Identifier: BSD-3-Clause */
/* Prometheus text exposition format 0.0.4 (see prom.h). */
#include <inttypes.h>
#include <string.h>

#include "prom.h"

void prom_init(struct prom *p, FILE *out)
{
	memset(p, 0, sizeof(*p));
	p->out = out;
}

static const char *seen(const struct prom *p, const char *name)
{
	for (unsigned i = 0; i < p->nfamilies; i++)
		if (!strcmp(p->families[i], name))
			return p->families[i];
	return NULL;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && !strcmp(s + n - t, tail);
}

void prom_family(struct prom *p, const char *name, enum prom_type type,
		 const char *help)
{
	static const char *const type_names[] = { "counter", "gauge",
						  "histogram" };

	p->current = seen(p, name);
	if (p->current)
		return;
	/* The naming rule: counters, and only they, end in _total. */
	if ((type == PROM_COUNTER) != ends_with(name, "_total") ||
	    p->nfamilies == PROM_MAX_FAMILIES ||
	    strlen(name) >= PROM_MAX_NAME_LEN) {
		p->failed = true;
		return;
	}
	snprintf(p->families[p->nfamilies], PROM_MAX_NAME_LEN, "%s", name);
	p->current = p->families[p->nfamilies++];
	fprintf(p->out, "# HELP %s ", name);
	/* HELP escapes only backslash and newline. */
	for (const char *c = help; *c; c++)
		if (*c == '\\')
			fputs("\\\\", p->out);
		else if (*c == '\n')
			fputs("\\n", p->out);
		else
			fputc(*c, p->out);
	fprintf(p->out, "\n# TYPE %s %s\n", name, type_names[type]);
}

void prom_labels_clear(struct prom_labels *l)
{
	l->len = 0;
	l->text[0] = '\0';
	l->truncated = false;
}

static void put(struct prom_labels *l, const char *s, size_t n)
{
	if (l->truncated || n >= sizeof(l->text) - l->len) {
		l->truncated = true;
		return;
	}
	memcpy(l->text + l->len, s, n);
	l->len += n;
	l->text[l->len] = '\0';
}

void prom_label(struct prom_labels *l, const char *key, const char *value)
{
	if (l->len)
		put(l, ",", 1);
	put(l, key, strlen(key));
	put(l, "=\"", 2);
	for (const char *c = value; *c; c++) {
		if (*c == '\\')
			put(l, "\\\\", 2);
		else if (*c == '"')
			put(l, "\\\"", 2);
		else if (*c == '\n')
			put(l, "\\n", 2);
		else
			put(l, c, 1);
	}
	put(l, "\"", 1);
}

void prom_label_u(struct prom_labels *l, const char *key, unsigned long value)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lu", value);
	prom_label(l, key, buf);
}

static bool usable(struct prom *p, const struct prom_labels *l)
{
	if (!p->current || (l && l->truncated)) {
		p->failed = true;
		return false;
	}
	return true;
}

static void sample(struct prom *p, const char *suffix,
		   const struct prom_labels *l, const char *extra,
		   const char *value)
{
	bool any = (l && l->len) || extra;

	fprintf(p->out, "%s%s%s%s%s%s%s %s\n", p->current, suffix,
		any ? "{" : "", l && l->len ? l->text : "",
		l && l->len && extra ? "," : "", extra ? extra : "",
		any ? "}" : "", value);
}

void prom_value(struct prom *p, const struct prom_labels *l, uint64_t value)
{
	char v[24];

	if (!usable(p, l))
		return;
	snprintf(v, sizeof(v), "%" PRIu64, value);
	sample(p, "", l, NULL, v);
}

void prom_histogram(struct prom *p, const struct prom_labels *l,
		    const double *le, const uint64_t *counts, unsigned n,
		    double sum)
{
	uint64_t cumulative = 0;
	char v[32], bound[48];

	if (!usable(p, l) || n == 0)
		return;
	for (unsigned i = 0; i < n; i++) {
		cumulative += counts[i];
		if (i + 1 < n)
			snprintf(bound, sizeof(bound), "le=\"%g\"", le[i]);
		else
			snprintf(bound, sizeof(bound), "le=\"+Inf\"");
		snprintf(v, sizeof(v), "%" PRIu64, cumulative);
		sample(p, "_bucket", l, bound, v);
	}
	snprintf(v, sizeof(v), "%.17g", sum);
	sample(p, "_sum", l, NULL, v);
	snprintf(v, sizeof(v), "%" PRIu64, cumulative);
	sample(p, "_count", l, NULL, v);
}

int prom_finish(struct prom *p)
{
	if (fflush(p->out) || ferror(p->out))
		p->failed = true;
	return p->failed ? -1 : 0;
}
