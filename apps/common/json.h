/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One JSON writer for everything the apps print (--json, the control
 * socket). Strings are escaped per RFC 8259 (quote, backslash, control
 * characters as \u00XX; bytes >= 0x80 are passed through, so UTF-8 stays
 * UTF-8 and invalid UTF-8 is replaced by U+FFFD). Output goes to a growable
 * buffer; the writer remembers whether a comma is due at each depth, so
 * callers only say what they write. Not for the packet path.
 */
#ifndef APPS_JSON_H
#define APPS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 32

struct jw {
	char *buf;           /* NUL-terminated text so far (malloc'ed) */
	size_t len, cap;
	size_t limit;        /* 0: none; past it the writer fails */
	bool failed;         /* out of memory, too deep or past the limit */
	unsigned depth;
	bool need_comma[JW_MAX_DEPTH];
};

void jw_init(struct jw *w, size_t limit);
void jw_free(struct jw *w);
/* key is NULL inside an array (and for the top-level value). */
void jw_obj_open(struct jw *w, const char *key);
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w, const char *key);
void jw_arr_close(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *val); /* NULL: null */
void jw_u64(struct jw *w, const char *key, uint64_t val);
void jw_i64(struct jw *w, const char *key, int64_t val);
void jw_double(struct jw *w, const char *key, double val); /* NaN/inf: null */
void jw_bool(struct jw *w, const char *key, bool val);
void jw_null(struct jw *w, const char *key);
/* A value that is already JSON (the caller vouches for it). */
void jw_raw(struct jw *w, const char *key, const char *json);
/* The text, or NULL if the writer failed or a container is still open. */
const char *jw_text(const struct jw *w);
/* Write the text to f followed by a newline; -1 if jw_text is NULL. */
int jw_print(const struct jw *w, FILE *f);

#endif
