/* SPDX-License-Identifier: BSD-3-Clause */
/* The apps' JSON writer: escaping, nesting, limits. The output is compared
 * byte for byte; tests/ops scripts parse what the apps print with python's
 * json module as a second opinion. */
#include <math.h>

#include "../lib/check.h"
#include "json.h"

static void expect(struct jw *w, const char *want)
{
	const char *got = jw_text(w);

	CHECK(got != NULL);
	if (got && strcmp(got, want) != 0) {
		fprintf(stderr, "got  %s\nwant %s\n", got, want);
		CHECK(!"text differs");
	}
	jw_free(w);
}

static void case_nesting(void)
{
	struct jw w;

	jw_init(&w, 0);
	jw_obj_open(&w, NULL);
	jw_str(&w, "name", "p0");
	jw_u64(&w, "n", UINT64_MAX);
	jw_i64(&w, "i", INT64_MIN);
	jw_arr_open(&w, "q");
	jw_u64(&w, NULL, 1);
	jw_obj_open(&w, NULL);
	jw_bool(&w, "up", true);
	jw_null(&w, "x");
	jw_obj_close(&w);
	jw_arr_open(&w, NULL);
	jw_arr_close(&w);
	jw_arr_close(&w);
	jw_double(&w, "d", 0.5);
	jw_double(&w, "nan", NAN);
	jw_double(&w, "inf", INFINITY);
	jw_str(&w, "s", NULL);
	jw_raw(&w, "r", "[1,2]");
	jw_obj_close(&w);
	expect(&w, "{\"name\":\"p0\",\"n\":18446744073709551615,"
	       "\"i\":-9223372036854775808,\"q\":[1,{\"up\":true,\"x\":null},[]],"
	       "\"d\":0.5,\"nan\":null,\"inf\":null,\"s\":null,\"r\":[1,2]}");
}

static void case_escaping(void)
{
	struct jw w;

	/* The bug this writer fixes: a socket path with a quote. */
	jw_init(&w, 0);
	jw_obj_open(&w, NULL);
	jw_str(&w, "path", "/tmp/a\"b\\c.sock");
	jw_str(&w, "ctl", "\n\r\t\b\f\x01\x1f\x7f");
	jw_str(&w, "k\"ey", "v");
	jw_obj_close(&w);
	expect(&w, "{\"path\":\"/tmp/a\\\"b\\\\c.sock\","
	       "\"ctl\":\"\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\","
	       "\"k\\\"ey\":\"v\"}");

	/* Valid UTF-8 passes; invalid bytes, overlong forms, surrogates and
	 * truncated sequences become U+FFFD. */
	jw_init(&w, 0);
	jw_arr_open(&w, NULL);
	jw_str(&w, NULL, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	jw_str(&w, NULL, "\xff");
	jw_str(&w, NULL, "\xc0\xaf");         /* overlong '/' */
	jw_str(&w, NULL, "\xed\xa0\x80");     /* surrogate */
	jw_str(&w, NULL, "\xe2\x82");         /* truncated */
	jw_str(&w, NULL, "\xf4\x90\x80\x80"); /* past U+10FFFF */
	jw_arr_close(&w);
	expect(&w, "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
	       "\"\xef\xbf\xbd\",\"\xef\xbf\xbd\xef\xbf\xbd\","
	       "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\","
	       "\"\xef\xbf\xbd\xef\xbf\xbd\","
	       "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"]");
}

static void case_limits(void)
{
	struct jw w;
	unsigned i;

	/* Past the size limit the writer fails and stays failed. */
	jw_init(&w, 16);
	jw_arr_open(&w, NULL);
	for (i = 0; i < 100; i++)
		jw_u64(&w, NULL, 12345);
	jw_arr_close(&w);
	CHECK(w.failed);
	CHECK(jw_text(&w) == NULL);
	CHECK(jw_print(&w, stdout) == -1);
	jw_free(&w);

	/* Too deep. */
	jw_init(&w, 0);
	for (i = 0; i < JW_MAX_DEPTH + 1; i++)
		jw_arr_open(&w, NULL);
	CHECK(w.failed);
	jw_free(&w);

	/* Unbalanced: a close too many, or a container left open. */
	jw_init(&w, 0);
	jw_obj_close(&w);
	CHECK(jw_text(&w) == NULL);
	jw_free(&w);
	jw_init(&w, 0);
	jw_obj_open(&w, NULL);
	CHECK(jw_text(&w) == NULL);
	jw_free(&w);

	/* Growth well past the first buffer. */
	jw_init(&w, 0);
	jw_arr_open(&w, NULL);
	for (i = 0; i < 100000; i++)
		jw_str(&w, NULL, "abcdefgh");
	jw_arr_close(&w);
	CHECK(jw_text(&w) != NULL);
	CHECK_EQ(w.len, 2 + 100000 * 11 - 1);
	jw_free(&w);
}

int main(void)
{
	RUN(case_nesting);
	RUN(case_escaping);
	RUN(case_limits);
	return check_summary("json");
}
