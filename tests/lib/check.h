/* SPDX-License-Identifier: BSD-3-Clause */
/* Minimal test assertions: count checks, report failures with location,
 * and make main() fail if any failed. A test program runs its cases in
 * order; each case is a function. */
#ifndef TEST_CHECK_H
#define TEST_CHECK_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Atomic: callbacks on the library's event thread check too. */
static _Atomic int check_total, check_failed;

#define CHECK(cond)                                                          \
	do {                                                                 \
		check_total++;                                               \
		if (!(cond)) {                                               \
			check_failed++;                                      \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__,        \
				__LINE__, #cond);                            \
		}                                                            \
	} while (0)

#define CHECK_EQ(a, b)                                                       \
	do {                                                                 \
		long long ca_ = (long long)(a), cb_ = (long long)(b);        \
		check_total++;                                               \
		if (ca_ != cb_) {                                            \
			check_failed++;                                      \
			fprintf(stderr, "FAIL %s:%d: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, ca_, cb_);       \
		}                                                            \
	} while (0)

#define RUN(fn)                                                              \
	do {                                                                 \
		int before_ = check_failed;                                  \
		fn();                                                        \
		printf("%s %s\n", check_failed == before_ ? "ok  " : "FAIL", \
		       #fn);                                                 \
		fflush(stdout);                                              \
	} while (0)

static inline int check_summary(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_total, check_failed);
	return check_failed ? 1 : 0;
}

#endif
