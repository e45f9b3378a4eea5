/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control-socket options every daemon shares (docs/operations.md):
 * --ctl PATH|none, --file-prefix NAME, --ctl-mode MODE, --ctl-group GROUP,
 * with DPDK's rule for the default path, so dpdk-telemetry.py -f NAME
 * finds the socket.
 */
#ifndef APPS_CTL_H
#define APPS_CTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "telemetry.h"

/* getopt_long values, clear of any short option character. */
enum {
	CTL_OPT_PATH = 0x1c0,
	CTL_OPT_FILE_PREFIX,
	CTL_OPT_MODE,
	CTL_OPT_GROUP,
};

#define CTL_LONG_OPTIONS                                                     \
	{ "ctl", required_argument, NULL, CTL_OPT_PATH },                    \
	{ "file-prefix", required_argument, NULL, CTL_OPT_FILE_PREFIX },     \
	{ "ctl-mode", required_argument, NULL, CTL_OPT_MODE },               \
	{ "ctl-group", required_argument, NULL, CTL_OPT_GROUP }

#define CTL_USAGE                                                            \
	"         [--ctl PATH|none] [--file-prefix NAME] [--ctl-mode MODE]\n" \
	"         [--ctl-group GROUP]\n"

struct ctl_opts {
	const char *path;         /* --ctl; NULL: the default rule */
	bool disabled;            /* --ctl none */
	const char *file_prefix;  /* NULL: the program name */
	mode_t mode;              /* default 0660 */
	gid_t gid;                /* (gid_t)-1: the process's */
};

void ctl_opts_init(struct ctl_opts *o);
/* One getopt_long result: 1 if it was ours and valid, 0 if not ours, -1
 * (message printed) for a bad value. */
int ctl_parse_opt(struct ctl_opts *o, int opt, const char *arg);
/* DPDK's path: RUNDIR/PREFIX/dpdk_telemetry.v2 where RUNDIR is
 * $RUNTIME_DIRECTORY (systemd), else /var/run/dpdk for uid 0, else
 * $XDG_RUNTIME_DIR/dpdk or /tmp/dpdk. Pure: the environment is passed in
 * (NULL: unset). Returns 0, or -ENAMETOOLONG / -EINVAL. */
int ctl_default_path(char *buf, size_t len, const char *prefix, uid_t uid,
		     const char *runtime_directory, const char *xdg_runtime_dir);
/* Start the socket for app ("vhost-switch"). NULL with errno 0 when
 * disabled; NULL with errno set (message printed) on failure. */
struct tel *ctl_start(const struct ctl_opts *o, const char *app);

#endif
