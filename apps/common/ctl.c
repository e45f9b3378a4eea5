/* SPDX-License-Identifier: BSD-3-Clause */
/* The control-socket options and start (ctl.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "ctl.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ctl_opts_init(struct ctl_opts *o)
{
	*o = (struct ctl_opts){ .mode = 0660, .gid = (gid_t)-1 };
}

static int parse_group(const char *s, gid_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s && !*end && !errno && v < (gid_t)-1) {
		*out = (gid_t)v;
		return 0;
	}
	struct group *g = getgrnam(s); /* option parsing: one thread */
	if (!g)
		return -1;
	*out = g->gr_gid;
	return 0;
}

int ctl_parse_opt(struct ctl_opts *o, int opt, const char *arg)
{
	char *end;
	unsigned long v;

	switch (opt) {
	case CTL_OPT_PATH:
		if (!arg[0]) {
			fprintf(stderr, "--ctl: a path, or none\n");
			return -1;
		}
		o->disabled = strcmp(arg, "none") == 0;
		o->path = o->disabled ? NULL : arg;
		return 1;
	case CTL_OPT_FILE_PREFIX:
		/* One path component, as DPDK's runtime directory. */
		if (!arg[0] || strchr(arg, '/') || !strcmp(arg, ".") ||
		    !strcmp(arg, "..")) {
			fprintf(stderr, "--file-prefix: a name without '/'\n");
			return -1;
		}
		o->file_prefix = arg;
		return 1;
	case CTL_OPT_MODE:
		errno = 0;
		v = strtoul(arg, &end, 8);
		if (!arg[0] || *end || errno || v > 0777) {
			fprintf(stderr, "--ctl-mode: octal, e.g. 0660\n");
			return -1;
		}
		o->mode = (mode_t)v;
		return 1;
	case CTL_OPT_GROUP:
		if (parse_group(arg, &o->gid)) {
			fprintf(stderr, "--ctl-group: no group %s\n", arg);
			return -1;
		}
		return 1;
	default:
		return 0;
	}
}

int ctl_default_path(char *buf, size_t len, const char *prefix, uid_t uid,
		     const char *runtime_directory, const char *xdg_runtime_dir)
{
	const char *run = runtime_directory && runtime_directory[0] ?
			  runtime_directory : NULL;
	int n;

	if (!prefix || !prefix[0] || strchr(prefix, '/'))
		return -EINVAL;
	if (!run)
		run = uid == 0 ? "/var/run" :
		      xdg_runtime_dir && xdg_runtime_dir[0] ? xdg_runtime_dir :
		      "/tmp";
	n = snprintf(buf, len, "%s/dpdk/%s/dpdk_telemetry.v2", run, prefix);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

struct tel *ctl_start(const struct ctl_opts *o, const char *app)
{
	char path[PATH_MAX];
	struct tel *t;
	int ret = 0;

	if (o->disabled) {
		errno = 0;
		return NULL;
	}
	if (o->path)
		snprintf(path, sizeof(path), "%s", o->path);
	else
		ret = ctl_default_path(path, sizeof(path),
				       o->file_prefix ? o->file_prefix : app,
				       getuid(), getenv("RUNTIME_DIRECTORY"),
				       getenv("XDG_RUNTIME_DIR"));
	if (ret) {
		fprintf(stderr, "%s: control socket path: %s\n", app,
			strerror(-ret));
		errno = -ret;
		return NULL;
	}
	struct tel_params p = { .path = path, .app = app, .mode = o->mode,
				.uid = (uid_t)-1, .gid = o->gid };
	t = tel_start(&p);
	if (!t) {
		int err = errno;
		fprintf(stderr, "%s: control socket %s: %s%s\n", app, path,
			strerror(err), err == EADDRINUSE ?
			" (another process serves it; --file-prefix or --ctl)" : "");
		errno = err;
		return NULL;
	}
	fprintf(stderr, "%s: control socket %s\n", app, path);
	return t;
}
