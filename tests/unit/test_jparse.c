/* SPDX-License-Identifier: BSD-3-Clause */
/* test_jparse.c -- vhostctl's JSON parser against good and hostile input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jparse.h"

static int failures;

#define CHECK(cond)                                                                 \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			failures++;                                                 \
		}                                                                   \
	} while (0)

static struct jnode *parse(const char *s, size_t len)
{
	char err[128];
	return jparse(s, len, err, sizeof(err));
}

static struct jnode *parse_s(const char *s) { return parse(s, strlen(s)); }

/* Must be refused, with a message, and without touching memory out of range. */
static void bad(const char *s, size_t len)
{
	char err[128];
	struct jnode *n = jparse(s, len, err, sizeof(err));
	if (n) {
		fprintf(stderr, "accepted bad input: %.*s\n", (int)(len > 60 ? 60 : len), s);
		failures++;
		jnode_free(n);
	} else {
		CHECK(err[0] != '\0');
	}
}

static void bad_s(const char *s) { bad(s, strlen(s)); }

/* Printing a tree and parsing the text back must give the same text. */
static void roundtrip(const char *s)
{
	struct jnode *n = parse_s(s);
	CHECK(n);
	if (!n)
		return;
	char *a = NULL, *b = NULL;
	size_t al, bl;
	FILE *f = open_memstream(&a, &al);
	jprint(f, n, true);
	fclose(f);
	struct jnode *m = parse(a, al);
	CHECK(m);
	if (m) {
		f = open_memstream(&b, &bl);
		jprint(f, m, false);
		fclose(f);
		char *c = NULL;
		size_t cl;
		f = open_memstream(&c, &cl);
		jprint(f, n, false);
		fclose(f);
		CHECK(bl == cl && memcmp(b, c, bl) == 0);
		free(c);
	}
	free(a);
	free(b);
	jnode_free(m);
	jnode_free(n);
}

static void test_values(void)
{
	struct jnode *n = parse_s(" {\"a\": [1, -2, 3.5, true, false, null, \"x\"], \"b\": {}} ");
	CHECK(n && n->type == J_OBJECT && n->n_kids == 2);
	const struct jnode *a = jget(n, "a");
	CHECK(a && a->type == J_ARRAY && a->n_kids == 7);
	if (a && a->n_kids == 7) {
		CHECK(a->kids[0].type == J_UINT && a->kids[0].u == 1);
		CHECK(a->kids[1].type == J_INT && a->kids[1].i == -2);
		CHECK(a->kids[2].type == J_DOUBLE && a->kids[2].d == 3.5);
		CHECK(a->kids[3].type == J_BOOL && a->kids[3].b);
		CHECK(a->kids[4].type == J_BOOL && !a->kids[4].b);
		CHECK(a->kids[5].type == J_NULL);
		CHECK(jstr(&a->kids[6]) && !strcmp(jstr(&a->kids[6]), "x"));
	}
	CHECK(jget(n, "b") && jget(n, "b")->n_kids == 0);
	CHECK(!jget(n, "c"));
	jnode_free(n);

	/* 64-bit counters as the server sends them. */
	n = parse_s("[18446744073709551615, -9223372036854775808, 18446744073709551616, -9223372036854775809]");
	CHECK(n && n->n_kids == 4);
	if (n && n->n_kids == 4) {
		uint64_t u;
		CHECK(n->kids[0].type == J_UINT && n->kids[0].u == UINT64_MAX);
		CHECK(jnum_u64(&n->kids[0], &u) && u == UINT64_MAX);
		CHECK(n->kids[1].type == J_INT && n->kids[1].i == INT64_MIN);
		CHECK(!jnum_u64(&n->kids[1], &u));
		CHECK(n->kids[2].type == J_DOUBLE); /* too large: a double */
		CHECK(n->kids[3].type == J_DOUBLE);
	}
	jnode_free(n);
	n = parse_s("-0");
	CHECK(n && n->type == J_UINT && n->u == 0);
	jnode_free(n);
	n = parse_s("1e-400"); /* underflow is a (zero) number, not an error */
	CHECK(n && n->type == J_DOUBLE);
	jnode_free(n);
}

static void test_strings(void)
{
	struct jnode *n = parse_s("\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\"");
	CHECK(n && n->type == J_STRING);
	if (n)
		CHECK(!strcmp(n->str, "a\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
	jnode_free(n);
	/* \u0000 decodes to a NUL inside the string: the length says so. */
	n = parse_s("\"a\\u0000b\"");
	CHECK(n && n->str_len == 3 && n->str[1] == '\0' && n->str[2] == 'b');
	jnode_free(n);
	n = parse_s("\"\xc3\xa9\xf0\x9f\x98\x80\"");
	CHECK(n && n->str_len == 6);
	jnode_free(n);
	bad_s("\"\\ud83d\"");          /* lone high surrogate */
	bad_s("\"\\ud83dx\"");
	bad_s("\"\\ud83d\\u0041\"");   /* high + non-low */
	bad_s("\"\\ude00\"");          /* lone low surrogate */
	bad_s("\"\\u12\"");            /* short \u */
	bad_s("\"\\u12");
	bad_s("\"\\uzzzz\"");
	bad_s("\"\\x41\"");            /* not a JSON escape */
	bad_s("\"\\");
	bad_s("\"abc");
	bad_s("\"a\nb\"");             /* raw control character */
	bad_s("\"\xff\"");             /* not UTF-8 */
	bad_s("\"\xc0\xaf\"");         /* overlong */
	bad_s("\"\xed\xa0\x80\"");     /* UTF-8-encoded surrogate */
	bad_s("\"\xf4\x90\x80\x80\""); /* past U+10FFFF */
	bad_s("\"\xe2\x82\"");         /* truncated sequence */
	bad("\"a\0b\"", 5);            /* raw NUL in a string */
	bad("{\"a\":1}\0", 8);         /* NUL after the value */
	bad("\0", 1);
}

static void test_bad_syntax(void)
{
	static const char *const cases[] = {
		"", " ", "{", "[", "]", "}", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,",
		"{\"a\":1,}", "[1,]", "[1 2]", "{1:2}", "{\"a\" 1}", "tru", "nul", "falsey",
		"01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "NaN", "Infinity", "-Infinity",
		"1e999", "-1e999", "[1]x", "{} {}", "'a'", "[\"a\",]", "{\"a\":1}}",
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		bad_s(cases[k]);
	bad(NULL, 0);
}

static void test_limits(void)
{
	/* Nesting at the limit parses; one deeper does not; very deep fails fast
	 * without exhausting the stack. */
	size_t deep = 200000;
	char *s = malloc(2 * deep + 1);
	for (size_t k = 0; k < deep; k++) {
		s[k] = '[';
		s[2 * deep - 1 - k] = ']';
	}
	s[2 * deep] = '\0';
	bad(s, 2 * deep);
	size_t ok = JPARSE_MAX_DEPTH;
	struct jnode *n = parse(s + deep - ok, 2 * ok);
	CHECK(n);
	jnode_free(n);
	bad(s + deep - ok - 1, 2 * (ok + 1));
	/* Truncated at every byte: never accepted, never crashes. */
	const char *good = "{\"a\":[1,2.5,-3,\"x\\u00e9\\ud83d\\ude00\",{\"b\":null,\"c\":true}]}";
	for (size_t k = 0; k < strlen(good); k++)
		bad(good, k);
	n = parse_s(good);
	CHECK(n);
	jnode_free(n);
	/* Many values: fine below the node limit. */
	size_t count = 100000;
	char *big = malloc(count * 2 + 2);
	big[0] = '[';
	for (size_t k = 0; k < count; k++) {
		big[1 + 2 * k] = '0';
		big[2 + 2 * k] = ',';
	}
	big[2 * count] = ']';
	n = parse(big, 2 * count + 1);
	CHECK(n && n->n_kids == count);
	jnode_free(n);
	free(big);
	/* A huge number token (longer than any small buffer). */
	size_t digits = 5000;
	char *num = malloc(digits + 1);
	memset(num, '9', digits);
	num[digits] = '\0';
	bad(num, digits); /* 1e5000: out of range */
	num[1] = '.';
	n = parse(num, digits);
	CHECK(n && n->type == J_DOUBLE && n->d > 9.9 && n->d <= 10.0);
	jnode_free(n);
	free(num);
	/* Every single-byte mutation of a good document: parse or refuse, no crash. */
	char buf[128];
	size_t gl = strlen(good);
	for (size_t k = 0; k < gl; k++)
		for (int c = 0; c < 256; c += 7) {
			memcpy(buf, good, gl);
			buf[k] = (char)c;
			jnode_free(parse(buf, gl));
		}
	free(s);
}

static void test_print(void)
{
	roundtrip("{\"a\":[1,-2,3.25,true,false,null,\"x\\u0001\\\"\\\\\\u00e9\"],\"b\":{},\"c\":[]}");
	roundtrip("[18446744073709551615,-9223372036854775808,1e+300,0.1]");
	roundtrip("\"a\\u0000b\\u007f\"");
	struct jnode *n = parse_s("{\"k\":\"\\u001b[31m\"}");
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);
	jprint(f, n, false);
	fclose(f);
	CHECK(out && !strcmp(out, "{\"k\":\"\\u001b[31m\"}")); /* ESC escaped, not raw */
	free(out);
	jnode_free(n);
	/* Doubles print short when that is exact, and read back the same. */
	n = parse_s("[0.1, 2.5, 1e300, 0.30000000000000004]");
	out = NULL;
	f = open_memstream(&out, &len);
	jprint(f, n, false);
	fclose(f);
	CHECK(out && !strcmp(out, "[0.1,2.5,1e+300,0.30000000000000004]"));
	free(out);
	jnode_free(n);
	/* A negative underflow is -0: printed "0", since "-0" reads back as
	 * the integer 0 (found by fuzz_jparse). */
	n = parse_s("[-1.5e-551615]");
	out = NULL;
	f = open_memstream(&out, &len);
	jprint(f, n, false);
	fclose(f);
	CHECK(out && !strcmp(out, "[0]"));
	free(out);
	jnode_free(n);
}

int main(void)
{
	test_values();
	test_strings();
	test_bad_syntax();
	test_limits();
	test_print();
	if (failures) {
		fprintf(stderr, "test_jparse: %d failures\n", failures);
		return 1;
	}
	printf("test_jparse: ok\n");
	return 0;
}
