/* SPDX-License-Identifier: BSD-3-Clause */
/* vhostctl.h -- what vhostctl's command files share. */
#ifndef VHOSTCTL_H
#define VHOSTCTL_H

#include <stdbool.h>
#include <stdio.h>

#include "ctl_client.h"
#include "jparse.h"

/* Exit codes (docs/operations.md). */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,      /* error or null reply, bad reply, lost connection */
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3, /* the socket could not be reached */
};

struct vctl {
	struct ctl_conn conn;
	const char *path;
	bool json;       /* --json: print reply values as JSON */
	bool compact;    /* --compact: that JSON on one line */
	double interval; /* top -i */
	long count;      /* top -n; 0 = until interrupted */
};

/* Send request; on success *value is its reply value (owned by the returned
 * tree). NULL after printing why on stderr: socket or protocol error, a null
 * value, or {"error": "..."} (unless allow_null, then a null value is returned). */
struct jnode *vctl_call(struct vctl *v, const char *request, const struct jnode **value,
			bool allow_null);
/* Print a reply value as JSON (pretty unless --compact), newline-terminated. */
void vctl_print_json(const struct vctl *v, const struct jnode *value);

/* Aligned text tables; cells are printed with control characters replaced. */
struct table {
	size_t ncols;
	const char *const *heads;
	const char *align; /* per column: 'l' or 'r' */
	char **cells;
	size_t ncells, cap;
};
void table_init(struct table *t, size_t ncols, const char *const *heads, const char *align);
void table_cell(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A cell showing a JSON value: strings as-is, arrays joined by ',', absent '-'. */
void table_cell_json(struct table *t, const struct jnode *n);
void table_print(FILE *f, const struct table *t);
void table_free(struct table *t);
/* fputs with control characters (C0, DEL, C1) replaced by '?': text from
 * the socket must not drive the terminal. */
void put_safe(FILE *f, const char *s);

int cmd_show(struct vctl *v, int argc, char **argv);
int cmd_port_add(struct vctl *v, int argc, char **argv);
int cmd_port_del(struct vctl *v, int argc, char **argv);
int cmd_fdb_show(struct vctl *v, int argc, char **argv);
int cmd_fdb_flush(struct vctl *v, int argc, char **argv);
int cmd_pmd_stats_show(struct vctl *v, int argc, char **argv);
int cmd_rxq_show(struct vctl *v, int argc, char **argv);
int cmd_vtep_show(struct vctl *v, int argc, char **argv);
int cmd_vtep_add(struct vctl *v, int argc, char **argv);
int cmd_vtep_del(struct vctl *v, int argc, char **argv);
int cmd_log_level(struct vctl *v, int argc, char **argv);
int cmd_call(struct vctl *v, int argc, char **argv);
int cmd_top(struct vctl *v, int argc, char **argv);

#endif
