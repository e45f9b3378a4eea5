/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_jparse.c -- vhostctl's JSON parser on arbitrary replies. Whatever it
 * accepts must print (pretty and compact) as JSON it accepts again, with the
 * same compact text: the --json output of vhostctl is always valid JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jparse.h"

static char *print(const struct jnode *n, bool pretty, size_t *len)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, len);
	if (!f)
		abort();
	jprint(f, n, pretty);
	fclose(f);
	return out;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char err[128];
	struct jnode *n = jparse((const char *)data, size, err, sizeof(err));
	if (!n)
		return 0;
	size_t clen, plen;
	char *compact = print(n, false, &clen);
	char *pretty = print(n, true, &plen);
	struct jnode *again = jparse(pretty, plen, err, sizeof(err));
	if (!again) {
		fprintf(stderr, "printed JSON not accepted: %s\n", err);
		abort();
	}
	size_t alen;
	char *compact2 = print(again, false, &alen);
	if (alen != clen || memcmp(compact, compact2, clen) != 0)
		abort();
	free(compact2);
	jnode_free(again);
	free(pretty);
	free(compact);
	jnode_free(n);
	return 0;
}
