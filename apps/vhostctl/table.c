/* SPDX-License-Identifier: BSD-3-Clause */
/* table.c -- aligned text tables and terminal-safe output for vhostctl. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vhostctl.h"

void put_safe(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			fputc('?', f);
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fputc('?', f); /* C1 controls (U+0080..U+009F) */
			p++;
		} else {
			fputc(*p, f);
		}
	}
}

/* Terminal columns of s, counting one per UTF-8 lead byte. */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			w++;
	return w;
}

void table_init(struct table *t, size_t ncols, const char *const *heads, const char *align)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->heads = heads;
	t->align = align;
}

static void table_push(struct table *t, char *s)
{
	if (!s)
		s = strdup("?");
	if (t->ncells == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 64;
		char **c = realloc(t->cells, nc * sizeof(*c));
		if (!c) {
			free(s);
			return; /* out of memory: the table stays short, never wrong-aligned */
		}
		t->cells = c;
		t->cap = nc;
	}
	t->cells[t->ncells++] = s;
}

void table_cell(struct table *t, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	table_push(t, s);
}

void table_cell_json(struct table *t, const struct jnode *n)
{
	if (!n || n->type == J_NULL) {
		table_push(t, strdup("-"));
		return;
	}
	if (n->type == J_STRING) {
		table_push(t, strdup(n->str));
		return;
	}
	char *s = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&s, &len);
	if (!m) {
		table_push(t, NULL);
		return;
	}
	if (n->type == J_ARRAY) {
		/* A list of MACs and the like: "a,b,c". */
		for (size_t k = 0; k < n->n_kids; k++) {
			if (k)
				fputc(',', m);
			if (n->kids[k].type == J_STRING)
				fputs(n->kids[k].str, m);
			else
				jprint(m, &n->kids[k], false);
		}
		if (!n->n_kids)
			fputc('-', m);
	} else {
		jprint(m, n, false);
	}
	fclose(m);
	table_push(t, s);
}

void table_print(FILE *f, const struct table *t)
{
	size_t nrows = t->ncells / t->ncols;
	size_t *w = calloc(t->ncols, sizeof(*w));
	if (!w)
		return;
	for (size_t c = 0; c < t->ncols; c++)
		w[c] = text_width(t->heads[c]);
	for (size_t k = 0; k < nrows * t->ncols; k++) {
		size_t tw = text_width(t->cells[k]);
		if (tw > w[k % t->ncols])
			w[k % t->ncols] = tw;
	}
	for (size_t r = 0; r <= nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = r ? t->cells[(r - 1) * t->ncols + c] : t->heads[c];
			size_t pad = w[c] - text_width(s);
			bool last = c + 1 == t->ncols;
			if (t->align[c] == 'r')
				fprintf(f, "%*s", (int)pad, "");
			put_safe(f, s);
			if (t->align[c] != 'r' && !last)
				fprintf(f, "%*s", (int)pad, "");
			fputs(last ? "\n" : "  ", f);
		}
	}
	free(w);
}

void table_free(struct table *t)
{
	for (size_t k = 0; k < t->ncells; k++)
		free(t->cells[k]);
	free(t->cells);
	t->cells = NULL;
	t->ncells = t->cap = 0;
}
