/* SPDX-License-Identifier: BSD-3-Clause */
/* main.c -- vhostctl: options, the command table, exit codes. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vhostctl.h"

static const char usage_text[] =
"Usage: vhostctl [OPTIONS] COMMAND [ARGS]\n"
"Query and control a running vhost-switch (or vhost-fwd, or any DPDK process)\n"
"through its control socket (DPDK telemetry v2).\n"
"\n"
"Options:\n"
"  -s, --socket PATH    the control socket\n"
"  -f, --file-prefix P  the socket of the process started with --file-prefix P:\n"
"                       RUNDIR/dpdk/P/dpdk_telemetry.v2, RUNDIR being\n"
"                       $RUNTIME_DIRECTORY if set, else /var/run for root,\n"
"                       else $XDG_RUNTIME_DIR (or /tmp);\n"
"                       default prefix: vhost-switch\n"
"  -t, --timeout SECS   give up on the socket after SECS seconds (default 5)\n"
"  -j, --json           print the reply value as JSON instead of a table\n"
"  -c, --compact        with --json or call: JSON on one line\n"
"  -i, --interval SECS  top: seconds between refreshes (default 1)\n"
"  -n, --count N        top: show N refreshes, then exit (default: until ^C)\n"
"  -h, --help           this text\n"
"\n"
"Commands:\n"
"  show                 ports: id, name, kind, mode, state, network, queues,\n"
"                       rx/tx packets, rx/tx drops, MACs\n"
"  port-add SPEC        add a port; SPEC as vhost-switch --socket:\n"
"                       PATH[,client][,queues=N][,mac=MAC...][,lock][,max-macs=N]\n"
"                       [,network=N], or tap=NAME[,network=N][,trunk],\n"
"                       or nic=IFNAME[,network=N][,trunk]\n"
"  port-del NAME|ID     remove a port\n"
"  fdb-show [NET]       learned MACs (of network NET): MAC, network, port,\n"
"                       remote VTEP, age in seconds\n"
"  fdb-flush [PORT]     forget learned MACs (of port PORT, name or id)\n"
"  vtep-show            remote VTEPs of the VXLAN uplink per network: VNI,\n"
"                       address, UDP port, kind (flood: configured; learned)\n"
"  vtep-add NET:VNI:IP[:PORT]\n"
"                       map network NET to VNI (if it has none) and add the\n"
"                       VTEP to its flood list (as vhost-switch --vtep)\n"
"  vtep-del NET:IP[:PORT]\n"
"                       remove the VTEP from network NET; the MACs learned\n"
"                       behind it are forgotten\n"
"  pmd-stats-show       per worker: units, packets, passes, busy and idle %\n"
"  rxq-show             which worker polls which port queue\n"
"  log-level [LEVEL]    show or set the log level (err, warning, info, debug)\n"
"  top                  live view: per-port packets/s, bits/s, drops/s and\n"
"                       per-worker busy %, from counter deltas; ANSI screen\n"
"                       refresh on a terminal, plain blocks otherwise\n"
"  call /CMD[,PARAMS]   send any telemetry request and print its reply value\n"
"                       as JSON (\"call /\" lists the commands)\n"
"\n"
"Exit status: 0 success; 1 the command failed (error or null reply, bad or\n"
"missing reply); 2 usage error; 3 the socket could not be reached.\n";

struct command {
	const char *name;
	int (*run)(struct vctl *v, int argc, char **argv);
	int min_args, max_args; /* checked before connecting: usage beats unreachable */
};

static const struct command commands[] = {
	{ "show", cmd_show, 0, 0 },
	{ "port-add", cmd_port_add, 1, 1 },
	{ "port-del", cmd_port_del, 1, 1 },
	{ "fdb-show", cmd_fdb_show, 0, 1 },
	{ "fdb-flush", cmd_fdb_flush, 0, 1 },
	{ "vtep-show", cmd_vtep_show, 0, 0 },
	{ "vtep-add", cmd_vtep_add, 1, 1 },
	{ "vtep-del", cmd_vtep_del, 1, 1 },
	{ "pmd-stats-show", cmd_pmd_stats_show, 0, 0 },
	{ "rxq-show", cmd_rxq_show, 0, 0 },
	{ "log-level", cmd_log_level, 0, 1 },
	{ "top", cmd_top, 0, 0 },
	{ "call", cmd_call, 1, 1 },
};

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "vhostctl: %s%s%s\nTry 'vhostctl --help'.\n", msg, arg ? ": " : "", arg ? arg : "");
	return EXIT_USAGE;
}

static bool parse_seconds(const char *s, double min, double max, double *out)
{
	char *end;
	double d = strtod(s, &end);
	if (end == s || *end || !isfinite(d) || d < min || d > max)
		return false;
	*out = d;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "file-prefix", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "compact", no_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vctl v = { .interval = 1.0 };
	const char *socket_path = NULL, *prefix = "vhost-switch";
	double timeout = 5.0;
	int opt;
	while ((opt = getopt_long(argc, argv, "s:f:t:jci:n:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': socket_path = optarg; break;
		case 'f': prefix = optarg; break;
		case 't':
			if (!parse_seconds(optarg, 0.01, 3600, &timeout))
				return usage_error("bad --timeout (seconds, 0.01 to 3600)", optarg);
			break;
		case 'j': v.json = true; break;
		case 'c': v.compact = true; break;
		case 'i':
			if (!parse_seconds(optarg, 0.05, 3600, &v.interval))
				return usage_error("bad --interval (seconds, 0.05 to 3600)", optarg);
			break;
		case 'n': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (end == optarg || *end || n < 1 || n > 1000000000L)
				return usage_error("bad --count (a positive number)", optarg);
			v.count = n;
			break;
		}
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		default:
			return usage_error("bad option", NULL);
		}
	}
	if (optind >= argc)
		return usage_error("no command", NULL);
	const struct command *cmd = NULL;
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(argv[optind], commands[k].name))
			cmd = &commands[k];
	if (!cmd)
		return usage_error("unknown command", argv[optind]);
	int nargs = argc - optind - 1;
	if (nargs < cmd->min_args || nargs > cmd->max_args)
		return usage_error("wrong number of arguments for", cmd->name);
	if (cmd->run == cmd_top && v.json)
		return usage_error("top has no --json output (use call)", NULL);
	if (cmd->run == cmd_call && argv[optind + 1][0] != '/')
		return usage_error("call takes /cmd[,params]", argv[optind + 1]);
	if (!prefix[0] || strchr(prefix, '/'))
		return usage_error("bad --file-prefix", prefix);

	char path[256];
	if (!socket_path) {
		if (ctl_prefix_path(prefix, path, sizeof(path)))
			return usage_error("--file-prefix too long", prefix);
		socket_path = path;
	}
	v.path = socket_path;
	char err[512];
	if (ctl_open(&v.conn, socket_path, (int)(timeout * 1000), err, sizeof(err))) {
		fputs("vhostctl: ", stderr);
		put_safe(stderr, err);
		fputc('\n', stderr);
		return EXIT_UNREACHABLE;
	}
	int rc = cmd->run(&v, argc - optind - 1, argv + optind + 1);
	ctl_close(&v.conn);
	if (fflush(stdout) != 0 && rc == EXIT_OK)
		rc = EXIT_FAILED;
	return rc;
}
