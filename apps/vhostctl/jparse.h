/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * jparse.h -- a small, bounded JSON parser for vhostctl.
 *
 * Replies come from a socket peer, so the parser treats its input as hostile:
 * the input length, the nesting depth and the number of nodes are bounded;
 * strings must be valid UTF-8 (escapes \uXXXX with surrogate pairs are
 * decoded; a lone surrogate is an error); numbers are kept as int64 when
 * negative integers fit, uint64 when non-negative integers fit, else as a
 * finite double. The result is a tree that jnode_free releases.
 */
#ifndef VHOSTCTL_JPARSE_H
#define VHOSTCTL_JPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JPARSE_MAX_DEPTH 64
#define JPARSE_MAX_INPUT (16u << 20)
#define JPARSE_MAX_NODES (1u << 20)

enum jtype { J_NULL, J_BOOL, J_INT, J_UINT, J_DOUBLE, J_STRING, J_ARRAY, J_OBJECT };

struct jnode {
	enum jtype type;
	char *key;          /* member name when inside an object (NUL-terminated) */
	size_t key_len;     /* its length: a decoded \u0000 may sit inside */
	char *str;          /* J_STRING (NUL-terminated) */
	size_t str_len;
	bool b;             /* J_BOOL */
	int64_t i;          /* J_INT (negative) */
	uint64_t u;         /* J_UINT */
	double d;           /* J_DOUBLE */
	struct jnode *kids; /* J_ARRAY elements, J_OBJECT members */
	size_t n_kids;
};

/* Parse len bytes (no NUL needed) into a new tree. Returns NULL with a
 * message in err (if errlen > 0) on any error, including trailing bytes. */
struct jnode *jparse(const char *text, size_t len, char *err, size_t errlen);
void jnode_free(struct jnode *n);

/* The first member called key of an object, or NULL. */
const struct jnode *jget(const struct jnode *obj, const char *key);
/* Numeric value as uint64 / double; false when n is not a number or does not fit. */
bool jnum_u64(const struct jnode *n, uint64_t *out);
bool jnum_double(const struct jnode *n, double *out);
/* The string of a J_STRING, else NULL. */
const char *jstr(const struct jnode *n);

/* Write n as JSON: pretty (two-space indent, lists of scalars on one line) or
 * compact. A parsed tree printed for people; apps/common/json.c builds JSON
 * from C values and has no pretty form. Output is valid JSON
 * and valid UTF-8; control characters are escaped. */
void jprint(FILE *f, const struct jnode *n, bool pretty);

#endif
