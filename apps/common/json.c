/* SPDX-License-Identifier: BSD-3-Clause */
/* The JSON writer: see json.h. */
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw *w, size_t limit)
{
	memset(w, 0, sizeof(*w));
	w->limit = limit;
}

void jw_free(struct jw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static bool reserve(struct jw *w, size_t more)
{
	size_t cap;
	char *nb;

	if (w->failed)
		return false;
	if (more > SIZE_MAX / 2 - w->len ||
	    (w->limit && w->len + more > w->limit)) {
		w->failed = true;
		return false;
	}
	if (w->len + more + 1 <= w->cap)
		return true;
	cap = w->cap ? w->cap : 256;
	while (cap < w->len + more + 1)
		cap *= 2;
	nb = realloc(w->buf, cap);
	if (!nb) {
		w->failed = true;
		return false;
	}
	w->buf = nb;
	w->cap = cap;
	return true;
}

static void put(struct jw *w, const char *s, size_t n)
{
	if (!reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void puts_(struct jw *w, const char *s)
{
	put(w, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none.
 * Overlong forms, surrogates and code points past U+10FFFF are invalid
 * (RFC 3629). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0xc2)
		return 0; /* ASCII is handled by the caller; 80-c1 invalid */
	if (s[0] < 0xe0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

static void put_string(struct jw *w, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0, run;
	char esc[8];

	put(w, "\"", 1);
	while (i < n && !w->failed) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			run = i;
			while (run < n && s[run] >= 0x20 && s[run] < 0x80 &&
			       s[run] != '"' && s[run] != '\\')
				run++;
			put(w, str + i, run - i);
			i = run;
			continue;
		}
		if (c >= 0x80) {
			size_t l = utf8_len(s + i, n - i);

			if (l) {
				put(w, str + i, l);
				i += l;
			} else {
				put(w, "\xef\xbf\xbd", 3); /* U+FFFD */
				i++;
			}
			continue;
		}
		switch (c) {
		case '"': puts_(w, "\\\""); break;
		case '\\': puts_(w, "\\\\"); break;
		case '\n': puts_(w, "\\n"); break;
		case '\r': puts_(w, "\\r"); break;
		case '\t': puts_(w, "\\t"); break;
		case '\b': puts_(w, "\\b"); break;
		case '\f': puts_(w, "\\f"); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			puts_(w, esc);
		}
		i++;
	}
	put(w, "\"", 1);
}

/* The separator and key before a value at the current depth. */
static void begin_value(struct jw *w, const char *key)
{
	if (w->failed)
		return;
	if (w->depth > 0 && w->need_comma[w->depth - 1])
		put(w, ",", 1);
	if (key) {
		put_string(w, key);
		put(w, ":", 1);
	}
	if (w->depth > 0)
		w->need_comma[w->depth - 1] = true;
}

static void open_(struct jw *w, const char *key, const char *brace)
{
	begin_value(w, key);
	if (w->depth >= JW_MAX_DEPTH) {
		w->failed = true;
		return;
	}
	put(w, brace, 1);
	w->need_comma[w->depth++] = false;
}

static void close_(struct jw *w, const char *brace)
{
	if (w->depth == 0) {
		w->failed = true;
		return;
	}
	w->depth--;
	put(w, brace, 1);
}

void jw_obj_open(struct jw *w, const char *key) { open_(w, key, "{"); }
void jw_obj_close(struct jw *w) { close_(w, "}"); }
void jw_arr_open(struct jw *w, const char *key) { open_(w, key, "["); }
void jw_arr_close(struct jw *w) { close_(w, "]"); }

void jw_str(struct jw *w, const char *key, const char *val)
{
	begin_value(w, key);
	if (val)
		put_string(w, val);
	else
		puts_(w, "null");
}

void jw_u64(struct jw *w, const char *key, uint64_t val)
{
	char b[24];

	begin_value(w, key);
	snprintf(b, sizeof(b), "%" PRIu64, val);
	puts_(w, b);
}

void jw_i64(struct jw *w, const char *key, int64_t val)
{
	char b[24];

	begin_value(w, key);
	snprintf(b, sizeof(b), "%" PRId64, val);
	puts_(w, b);
}

void jw_double(struct jw *w, const char *key, double val)
{
	char b[32];

	begin_value(w, key);
	if (!isfinite(val)) {
		puts_(w, "null");
		return;
	}
	/* 15 digits: exact for what we print (rates, percentages) without
	 * binary noise; JSON has no "inf" or "nan". */
	snprintf(b, sizeof(b), "%.15g", val);
	puts_(w, b);
}

void jw_bool(struct jw *w, const char *key, bool val)
{
	begin_value(w, key);
	puts_(w, val ? "true" : "false");
}

void jw_null(struct jw *w, const char *key)
{
	begin_value(w, key);
	puts_(w, "null");
}

void jw_raw(struct jw *w, const char *key, const char *json)
{
	begin_value(w, key);
	puts_(w, json);
}

const char *jw_text(const struct jw *w)
{
	if (w->failed || w->depth != 0)
		return NULL;
	return w->buf ? w->buf : "";
}

int jw_print(const struct jw *w, FILE *f)
{
	const char *t = jw_text(w);

	if (!t || fprintf(f, "%s\n", t) < 0)
		return -1;
	return 0;
}
