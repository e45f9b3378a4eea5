/* SPDX-License-Identifier: BSD-3-Clause */
/* jparse.c -- bounded recursive-descent JSON parser and printer (see jparse.h). */
#include "jparse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const unsigned char *p, *end;
	size_t nodes;
	char *err;
	size_t errlen;
	const unsigned char *start;
};

static bool fail(struct parser *ps, const char *fmt, ...)
{
	if (ps->errlen && !ps->err[0]) {
		int off = snprintf(ps->err, ps->errlen, "at byte %zu: ", (size_t)(ps->p - ps->start));
		if (off >= 0 && (size_t)off < ps->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(ps->err + off, ps->errlen - (size_t)off, fmt, ap);
			va_end(ap);
		}
	}
	return false;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* A growable byte buffer for decoded strings. */
struct sbuf {
	char *data;
	size_t len, cap;
};

static bool sbuf_put(struct sbuf *b, const void *src, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return false;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, src, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

static size_t utf8_encode(uint32_t cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Length of the valid UTF-8 sequence at p (< end), or 0 (overlong forms,
 * surrogates and code points past U+10FFFF are invalid, as in RFC 3629). */
static size_t utf8_valid_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static bool read_hex4(struct parser *ps, uint32_t *out)
{
	uint32_t v = 0;
	if (ps->end - ps->p < 4)
		return fail(ps, "truncated \\u escape");
	for (int k = 0; k < 4; k++) {
		unsigned char c = *ps->p++;
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return fail(ps, "bad hex digit in \\u escape");
	}
	*out = v;
	return true;
}

/* At the opening quote. On success *out is a malloc'd NUL-terminated string. */
static bool parse_string(struct parser *ps, char **out, size_t *out_len)
{
	struct sbuf b = { 0 };
	ps->p++; /* the quote */
	for (;;) {
		if (ps->p >= ps->end) {
			fail(ps, "unterminated string");
			goto bad;
		}
		unsigned char c = *ps->p;
		if (c == '"') {
			ps->p++;
			break;
		}
		if (c < 0x20) {
			fail(ps, "control character 0x%02x in string", c);
			goto bad;
		}
		if (c != '\\') {
			/* A run of plain bytes, copied at once after a UTF-8 check. */
			const unsigned char *run = ps->p;
			while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && *ps->p >= 0x20) {
				size_t n = utf8_valid_len(ps->p, ps->end);
				if (!n) {
					fail(ps, "invalid UTF-8 in string");
					goto bad;
				}
				ps->p += n;
			}
			if (!sbuf_put(&b, run, (size_t)(ps->p - run))) {
				fail(ps, "out of memory");
				goto bad;
			}
			continue;
		}
		ps->p++;
		if (ps->p >= ps->end) {
			fail(ps, "truncated escape");
			goto bad;
		}
		char e = (char)*ps->p++, lit;
		switch (e) {
		case '"': lit = '"'; break;
		case '\\': lit = '\\'; break;
		case '/': lit = '/'; break;
		case 'b': lit = '\b'; break;
		case 'f': lit = '\f'; break;
		case 'n': lit = '\n'; break;
		case 'r': lit = '\r'; break;
		case 't': lit = '\t'; break;
		case 'u': {
			uint32_t cp, lo;
			if (!read_hex4(ps, &cp))
				goto bad;
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				fail(ps, "lone low surrogate");
				goto bad;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
					fail(ps, "high surrogate without its low half");
					goto bad;
				}
				ps->p += 2;
				if (!read_hex4(ps, &lo))
					goto bad;
				if (lo < 0xdc00 || lo > 0xdfff) {
					fail(ps, "high surrogate followed by a non-low surrogate");
					goto bad;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			unsigned char u[4];
			if (!sbuf_put(&b, u, utf8_encode(cp, u))) {
				fail(ps, "out of memory");
				goto bad;
			}
			continue;
		}
		default:
			fail(ps, "bad escape \\%c", (e >= 0x20 && e < 0x7f) ? e : '?');
			goto bad;
		}
		if (!sbuf_put(&b, &lit, 1)) {
			fail(ps, "out of memory");
			goto bad;
		}
	}
	if (!b.data && !sbuf_put(&b, "", 0)) {
		fail(ps, "out of memory");
		goto bad;
	}
	*out = b.data;
	*out_len = b.len;
	return true;
bad:
	free(b.data);
	return false;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* RFC 8259 number grammar first, then conversion of the checked token. */
static bool parse_number(struct parser *ps, struct jnode *n)
{
	const unsigned char *s = ps->p;
	bool neg = false, integer = true;
	if (ps->p < ps->end && *ps->p == '-') {
		neg = true;
		ps->p++;
	}
	if (ps->p >= ps->end || !is_digit(*ps->p))
		return fail(ps, "bad number");
	if (*ps->p == '0')
		ps->p++;
	else
		while (ps->p < ps->end && is_digit(*ps->p))
			ps->p++;
	if (ps->p < ps->end && *ps->p == '.') {
		integer = false;
		ps->p++;
		if (ps->p >= ps->end || !is_digit(*ps->p))
			return fail(ps, "bad fraction");
		while (ps->p < ps->end && is_digit(*ps->p))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		integer = false;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || !is_digit(*ps->p))
			return fail(ps, "bad exponent");
		while (ps->p < ps->end && is_digit(*ps->p))
			ps->p++;
	}
	size_t len = (size_t)(ps->p - s);
	char small[64], *tok = len < sizeof(small) ? small : malloc(len + 1);
	if (!tok)
		return fail(ps, "out of memory");
	memcpy(tok, s, len);
	tok[len] = '\0';
	bool ok = true;
	char *endp;
	errno = 0;
	if (integer && neg) {
		long long v = strtoll(tok, &endp, 10);
		if (errno == 0) {
			n->type = v < 0 ? J_INT : J_UINT; /* "-0" is 0 */
			n->i = v;
			n->u = v < 0 ? 0 : (uint64_t)v;
			goto done;
		}
	} else if (integer) {
		unsigned long long v = strtoull(tok, &endp, 10);
		if (errno == 0) {
			n->type = J_UINT;
			n->u = v;
			goto done;
		}
	}
	/* A fraction, an exponent, or an integer too large for 64 bits. */
	errno = 0;
	double d = strtod(tok, &endp);
	if (isinf(d) || isnan(d))
		ok = fail(ps, "number out of range");
	n->type = J_DOUBLE;
	n->d = d;
done:
	if (tok != small)
		free(tok);
	return ok;
}

static bool parse_value(struct parser *ps, struct jnode *n, unsigned depth);

static bool add_kid(struct parser *ps, struct jnode *parent, size_t *cap, struct jnode **slot)
{
	if (parent->n_kids == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		struct jnode *k = realloc(parent->kids, nc * sizeof(*k));
		if (!k)
			return fail(ps, "out of memory");
		parent->kids = k;
		*cap = nc;
	}
	*slot = &parent->kids[parent->n_kids];
	memset(*slot, 0, sizeof(**slot));
	parent->n_kids++;
	return true;
}

static bool parse_container(struct parser *ps, struct jnode *n, unsigned depth)
{
	bool object = *ps->p == '{';
	unsigned char close = object ? '}' : ']';
	size_t cap = 0;
	n->type = object ? J_OBJECT : J_ARRAY;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return true;
	}
	for (;;) {
		struct jnode *kid = NULL;
		skip_ws(ps);
		if (ps->p >= ps->end)
			return fail(ps, "truncated %s", object ? "object" : "array");
		if (!add_kid(ps, n, &cap, &kid))
			return false;
		if (object) {
			if (*ps->p != '"')
				return fail(ps, "expected a member name");
			if (!parse_string(ps, &kid->key, &kid->key_len))
				return false;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return fail(ps, "expected ':'");
			ps->p++;
		}
		if (!parse_value(ps, kid, depth + 1))
			return false;
		skip_ws(ps);
		if (ps->p >= ps->end)
			return fail(ps, "truncated %s", object ? "object" : "array");
		if (*ps->p == close) {
			ps->p++;
			return true;
		}
		if (*ps->p != ',')
			return fail(ps, "expected ',' or '%c'", close);
		ps->p++;
	}
}

static bool literal(struct parser *ps, const char *word)
{
	size_t l = strlen(word);
	if ((size_t)(ps->end - ps->p) < l || memcmp(ps->p, word, l) != 0)
		return fail(ps, "unexpected character");
	ps->p += l;
	return true;
}

static bool parse_value(struct parser *ps, struct jnode *n, unsigned depth)
{
	if (depth > JPARSE_MAX_DEPTH)
		return fail(ps, "nested deeper than %d", JPARSE_MAX_DEPTH);
	if (++ps->nodes > JPARSE_MAX_NODES)
		return fail(ps, "more than %u values", JPARSE_MAX_NODES);
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "truncated: value expected");
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_container(ps, n, depth);
	case '"':
		n->type = J_STRING;
		return parse_string(ps, &n->str, &n->str_len);
	case 't':
		n->type = J_BOOL;
		n->b = true;
		return literal(ps, "true");
	case 'f':
		n->type = J_BOOL;
		return literal(ps, "false");
	case 'n':
		n->type = J_NULL;
		return literal(ps, "null");
	default:
		if (*ps->p == '-' || is_digit(*ps->p))
			return parse_number(ps, n);
		if (*ps->p == 0)
			return fail(ps, "NUL byte");
		return fail(ps, "unexpected character");
	}
}

static void jnode_clear(struct jnode *n)
{
	/* Recursion depth is bounded by JPARSE_MAX_DEPTH (the parser built it). */
	for (size_t k = 0; k < n->n_kids; k++)
		jnode_clear(&n->kids[k]);
	free(n->kids);
	free(n->key);
	free(n->str);
}

void jnode_free(struct jnode *n)
{
	if (!n)
		return;
	jnode_clear(n);
	free(n);
}

struct jnode *jparse(const char *text, size_t len, char *err, size_t errlen)
{
	struct parser ps = {
		.p = (const unsigned char *)text,
		.end = (const unsigned char *)text + len,
		.start = (const unsigned char *)text,
		.err = err,
		.errlen = errlen,
	};
	if (errlen)
		err[0] = '\0';
	if (!text || len > JPARSE_MAX_INPUT) {
		fail(&ps, "input larger than %u bytes", JPARSE_MAX_INPUT);
		return NULL;
	}
	struct jnode *root = calloc(1, sizeof(*root));
	if (!root) {
		fail(&ps, "out of memory");
		return NULL;
	}
	if (!parse_value(&ps, root, 1))
		goto bad;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		fail(&ps, "trailing bytes after the value");
		goto bad;
	}
	return root;
bad:
	jnode_free(root);
	return NULL;
}

const struct jnode *jget(const struct jnode *obj, const char *key)
{
	if (!obj || obj->type != J_OBJECT)
		return NULL;
	size_t l = strlen(key);
	for (size_t k = 0; k < obj->n_kids; k++)
		if (obj->kids[k].key_len == l && memcmp(obj->kids[k].key, key, l) == 0)
			return &obj->kids[k];
	return NULL;
}

bool jnum_u64(const struct jnode *n, uint64_t *out)
{
	if (!n)
		return false;
	if (n->type == J_UINT) {
		*out = n->u;
		return true;
	}
	if (n->type == J_DOUBLE && n->d >= 0 && n->d < 18446744073709551616.0) {
		*out = (uint64_t)n->d;
		return true;
	}
	return false;
}

bool jnum_double(const struct jnode *n, double *out)
{
	if (!n)
		return false;
	switch (n->type) {
	case J_UINT: *out = (double)n->u; return true;
	case J_INT: *out = (double)n->i; return true;
	case J_DOUBLE: *out = n->d; return true;
	default: return false;
	}
}

const char *jstr(const struct jnode *n)
{
	return n && n->type == J_STRING ? n->str : NULL;
}

static void print_string(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)s[k];
		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f); /* valid UTF-8: the parser checked it */
		}
	}
	fputc('"', f);
}

static void indent(FILE *f, unsigned level)
{
	fputc('\n', f);
	for (unsigned k = 0; k < level; k++)
		fputs("  ", f);
}

static void print_node(FILE *f, const struct jnode *n, bool pretty, unsigned level)
{
	switch (n->type) {
	case J_NULL: fputs("null", f); break;
	case J_BOOL: fputs(n->b ? "true" : "false", f); break;
	case J_INT: fprintf(f, "%lld", (long long)n->i); break;
	case J_UINT: fprintf(f, "%llu", (unsigned long long)n->u); break;
	case J_DOUBLE: {
		/* The shortest of %.15g / %.17g that reads back as the same double. */
		char txt[40];
		/* -0 (an underflowed "-1e-999") prints as 0: "-0" would read
		 * back as the integer 0 and print differently. */
		snprintf(txt, sizeof(txt), "%.15g", n->d == 0 ? 0.0 : n->d);
		if (strtod(txt, NULL) != n->d)
			snprintf(txt, sizeof(txt), "%.17g", n->d);
		fputs(txt, f);
		break;
	}
	case J_STRING: print_string(f, n->str, n->str_len); break;
	case J_ARRAY:
	case J_OBJECT: {
		bool obj = n->type == J_OBJECT;
		/* Pretty output keeps a list of scalars (per-queue counters) on one line. */
		bool flat = !obj;
		for (size_t k = 0; flat && k < n->n_kids; k++)
			flat = n->kids[k].type != J_ARRAY && n->kids[k].type != J_OBJECT;
		bool nl = pretty && !flat;
		fputc(obj ? '{' : '[', f);
		for (size_t k = 0; k < n->n_kids; k++) {
			if (k)
				fputs(pretty && flat ? ", " : ",", f);
			if (nl)
				indent(f, level + 1);
			if (obj) {
				print_string(f, n->kids[k].key, n->kids[k].key_len);
				fputs(pretty ? ": " : ":", f);
			}
			print_node(f, &n->kids[k], pretty, level + 1);
		}
		if (nl && n->n_kids)
			indent(f, level);
		fputc(obj ? '}' : ']', f);
		break;
	}
	}
}

void jprint(FILE *f, const struct jnode *n, bool pretty)
{
	print_node(f, n, pretty, 0);
}
