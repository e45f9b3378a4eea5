/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-switch --socket PATH[,OPT...] [--socket ...] [--client]
 *              [--tap NAME[,network=N|,trunk] ...]
 *              [--nic IFNAME[,network=N|,trunk] ...]
 *              [--vxlan LOCAL_IP[:PORT][,mtu=N][,strict]]
 *              [--vtep NET:VNI:REMOTE_IP[:PORT] ...]
 *              [--workers N] [--cpu LIST] [--stats-interval S]
 *              [--duration S] [--mac-aging S] [--max-macs N] [--lock-macs]
 *              [--queues N] [--json] [--verbose]
 *              [--metrics-textfile PATH] [--metrics-interval S]
 *              [--metrics-listen [ADDR:]PORT]
 *
 * An L2 learning switch between VMs (vhost-user ports) and the host (TAP).
 * Ports are given as specs (port_spec.h; the same syntax adds them at run
 * time through the control socket, sw_ctl.c).
 * Port options (port security, see port_sec.h): mac=MAC (repeatable: the
 * only source MACs the port may use), lock (the first source MAC seen is
 * the only one, until the VM disconnects), max-macs=N (learned MACs; 0: no
 * limit), queues=N (queue pairs offered, 1..16; 1: no MQ), network=N (its
 * tenant network, default 1; network.h), client (connect instead of
 * listen, as --client does for every port). --max-macs, --lock-macs and
 * --queues (default 8) set the default of every vhost port. The TAP
 * uplink is an access port of one network, or a trunk (802.1Q VID =
 * network). --nic makes an existing interface an uplink, read and written
 * through AF_PACKET rings (afpacket.h), with the same options. --vxlan adds
 * a VXLAN uplink (vxlan.h; as port_add vxlan=...), --vtep maps a network to
 * a VNI and puts a remote VTEP in its flood list (as vtep_add).
 * SIGINT/SIGTERM stop it cleanly; statistics are printed every
 * --stats-interval seconds and at exit (one JSON object with --json);
 * SIGUSR1 prints the MAC table to stderr ("fdb MAC port N age S").
 * Prometheus metrics: metrics.h, metrics_sw.c; under systemd
 * (Type=notify) READY=1 once every port's socket is started.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "afpacket.h"
#include "metrics.h"
#include "sdnotify.h"
#include "ctl.h"
#include "json.h"
#include "port_spec.h"
#include "sw_ctl.h"
#include "switch.h"
#include "sw_vxlan.h"
#include "vxlan.h"

static volatile sig_atomic_t got_signal, want_fdb;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void on_usr1(int sig)
{
	(void)sig;
	want_fdb = 1;
}

static void print_fdb_entry(uint16_t net, const uint8_t *m, uint32_t dest,
			    uint32_t age, void *arg)
{
	fprintf(arg, "fdb %02x:%02x:%02x:%02x:%02x:%02x port %u age %u net %u"
		" vtep %u\n", m[0], m[1], m[2], m[3], m[4], m[5],
		MAC_DEST_PORT(dest), age, net, MAC_DEST_VTEP1(dest));
}

static void print_fdb(struct sw *sw, FILE *o)
{
	fprintf(o, "fdb: %u entries\n", mac_table_count(sw->macs));
	mac_table_foreach(sw->macs, print_fdb_entry, o);
	fflush(o);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *o)
{
	fprintf(o, "usage: vhost-switch --socket PATH[,mac=MAC...][,lock][,max-macs=N]\n"
		   "         [,network=N] [--socket ...] [--client]\n"
		   "         [--tap NAME[,network=N|,trunk]...]\n"
		   "         [--nic IFNAME[,network=N|,trunk]...]\n"
		   "         [--vxlan LOCAL_IP[:PORT][,mtu=N][,strict]]\n"
		   "         [--vtep NET:VNI:REMOTE_IP[:PORT]...] [--workers N]\n"
		   "         [--cpu LIST] [--stats-interval S] [--duration S]\n"
		   "         [--mac-aging S] [--max-macs N] [--lock-macs] [--json]\n"
		   "         [--queues N] [--verbose]\n"
		   METRICS_USAGE
		   CTL_USAGE
		   "  port options: queues=N (1..16), client\n");
}

/* The last w characters of s: socket paths differ at their end. */
static const char *name_tail(const char *s, size_t w)
{
	size_t n = strlen(s);

	return n > w ? s + n - w : s;
}

static void print_stats(struct sw *sw, FILE *o)
{
	fprintf(o, "%-4s %-28s %-5s %12s %12s %10s %12s %12s %10s %8s"
		" %8s %8s %8s %8s %8s\n", "port", "name", "state", "rx-pkts",
		"rx-bytes", "rx-drops", "tx-pkts", "tx-bytes", "tx-drops",
		"tso-cut", "no-room", "unplace", "spoofed", "mac-lim", "moves");
	pthread_mutex_lock(&sw->cfg_lock); /* ports come and go */
	for (unsigned i = 0; i < sw->nports; i++) {
		struct sw_port *p = &sw->ports[i];
		struct port_sec *ps = &sw->sec[i];

		if (atomic_load(&p->state) == SW_SLOT_FREE)
			continue;

		fprintf(o, "%-4u %-28s %-5s %12" PRIu64 " %12" PRIu64
			" %10" PRIu64 " %12" PRIu64 " %12" PRIu64 " %10" PRIu64
			" %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64
			" %8" PRIu64 " %8" PRIu64 "\n",
			i, name_tail(sw_port_name(p), 28),
			atomic_load(&p->up) ? "up" : "down",
			atomic_load(&p->rx_packets), atomic_load(&p->rx_bytes),
			atomic_load(&p->rx_drops), atomic_load(&p->tx_packets),
			atomic_load(&p->tx_bytes), atomic_load(&p->tx_drops),
			atomic_load(&p->tx_segmented),
			atomic_load(&p->tx_no_room),
			atomic_load(&p->tx_unplaceable),
			atomic_load(&ps->drop_spoof),
			atomic_load(&ps->drop_limit), atomic_load(&ps->moves));
		sw_print_queues(p, o);
	}
	for (unsigned i = 0; i < sw->nworkers; i++) {
		struct sw_worker *w = &sw->workers[i];
		uint64_t passes = atomic_load(&w->passes);

		fprintf(o, "worker %u (cpu %d): %u queues, %" PRIu64
			" packets, %" PRIu64 " flooded, busy %.1f%%\n", i, w->cpu,
			atomic_load(&w->nunits), atomic_load(&w->packets),
			atomic_load(&w->floods),
			passes ? 100.0 * (double)atomic_load(&w->busy_passes) /
				 (double)passes : 0.0);
	}
	fprintf(o, "mac table: %u entries\n", mac_table_count(sw->macs));
	for (unsigned i = 0; i < sw->nports; i++)
		if (sw->ports[i].kind == PORT_VXLAN && sw->ports[i].vx)
			vxlan_print_stats(sw->ports[i].vx, o);
		else if (sw->ports[i].kind == PORT_NIC && sw->ports[i].afp)
			afp_print_stats(sw->ports[i].afp, sw->ports[i].ifname, o);
	pthread_mutex_unlock(&sw->cfg_lock);
	fflush(o);
}

static void print_json(struct sw *sw, double elapsed)
{
	struct jw w;

	jw_init(&w, 0);
	jw_obj_open(&w, NULL);
	jw_double(&w, "elapsed_s", elapsed);
	jw_u64(&w, "macs", mac_table_count(sw->macs));
	jw_arr_open(&w, "ports");
	for (unsigned i = 0; i < sw->nports; i++) {
		struct sw_port *p = &sw->ports[i];

		if (atomic_load(&p->state) == SW_SLOT_FREE)
			continue;
		jw_obj_open(&w, NULL);
		jw_str(&w, "name", sw_port_name(p));
		jw_str(&w, "kind", sw_port_kind_name(p));
		jw_u64(&w, "connects", atomic_load(&p->connects));
		jw_u64(&w, "rx_packets", atomic_load(&p->rx_packets));
		jw_u64(&w, "rx_bytes", atomic_load(&p->rx_bytes));
		jw_u64(&w, "rx_drops", atomic_load(&p->rx_drops));
		jw_u64(&w, "tx_packets", atomic_load(&p->tx_packets));
		jw_u64(&w, "tx_bytes", atomic_load(&p->tx_bytes));
		jw_u64(&w, "tx_drops", atomic_load(&p->tx_drops));
		jw_u64(&w, "tso_cut", atomic_load(&p->tx_segmented));
		jw_u64(&w, "tx_no_room", atomic_load(&p->tx_no_room));
		jw_u64(&w, "tx_unplaceable", atomic_load(&p->tx_unplaceable));
		jw_u64(&w, "drop_spoofed", atomic_load(&sw->sec[i].drop_spoof));
		jw_u64(&w, "drop_mac_limit", atomic_load(&sw->sec[i].drop_limit));
		jw_u64(&w, "mac_moves", atomic_load(&sw->sec[i].moves));
		sw_json_queues(p, &w);
		if (p->kind == PORT_NIC && p->afp)
			afp_json(p->afp, &w);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_arr_open(&w, "workers");
	for (unsigned i = 0; i < sw->nworkers; i++) {
		jw_obj_open(&w, NULL);
		jw_i64(&w, "cpu", sw->workers[i].cpu);
		jw_u64(&w, "packets", atomic_load(&sw->workers[i].packets));
		jw_u64(&w, "flooded", atomic_load(&sw->workers[i].floods));
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	for (unsigned i = 0; i < sw->nports; i++)
		if (sw->ports[i].kind == PORT_VXLAN && sw->ports[i].vx)
			vxlan_json(sw->ports[i].vx, "vxlan", &w);
	jw_obj_close(&w);
	if (jw_print(&w, stdout) < 0)
		fprintf(stderr, "vhost-switch: JSON output failed\n");
	fflush(stdout);
	jw_free(&w);
}

static int parse_queues(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end || v < 1 || v > SW_MAX_QP) {
		fprintf(stderr, "queues: 1..%d\n", SW_MAX_QP);
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

static int parse_cpus(const char *s, int *cpus, unsigned max)
{
	unsigned n = 0;

	while (*s && n < max) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s || v < 0)
			return -1;
		cpus[n++] = (int)v;
		s = *end == ',' ? end + 1 : end;
	}
	return (int)n;
}

int main(int argc, char **argv)
{
	static struct sw sw;
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "client", no_argument, NULL, 'c' },
		{ "tap", required_argument, NULL, 't' },
		{ "nic", required_argument, NULL, 'N' },
		{ "vxlan", required_argument, NULL, 'X' },
		{ "vtep", required_argument, NULL, 'V' },
		{ "workers", required_argument, NULL, 'w' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "stats-interval", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "mac-aging", required_argument, NULL, 'a' },
		{ "max-macs", required_argument, NULL, 'm' },
		{ "lock-macs", no_argument, NULL, 'L' },
		{ "json", no_argument, NULL, 'j' },
		{ "queues", required_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		METRICS_LONG_OPTIONS,
		CTL_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int cpus[SW_MAX_WORKERS], ncpus = 0, c, ret = 0;
	/* Port specs in command-line order; vhost ports get the first ids. */
	const char *spec_arg[SW_MAX_PORTS];
	int spec_kind[SW_MAX_PORTS];
	static struct port_spec specs[SW_MAX_PORTS];
	unsigned nspecs = 0, ntaps = 0, nvhost = 0;
	char err[256];
	/* --vxlan and --vtep are checked here on a scratch uplink, then the
	 * real one is made as port_add and vtep_add make it. */
	static struct vxlan vx;
	bool vxlan = false;
	const char *vxlan_arg = NULL, *vtep_arg[VX_MAX_VTEPS];
	unsigned nvtep_args = 0;
	bool client = false, json = false;
	double interval = 0, duration = 0, start, last;
	unsigned aging = 300, nworkers = 1, max_macs = PSEC_DEFAULT_MAX_LEARNED;
	bool lock_macs = false;
	uint16_t queues = SW_DEFAULT_QP;
	struct metrics_params metrics_params;
	struct metrics *metrics;
	struct ctl_opts ctl_opts;
	struct ethdev_provider ethdev_ops;
	struct tel *ctl = NULL;

	ctl_opts_init(&ctl_opts);
	for (unsigned i = 0; i < SW_MAX_PORTS; i++)
		ethdev_vq_totals_init(&sw.ports[i].vq_totals);

	metrics_params_init(&metrics_params);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int m = metrics_parse_option(&metrics_params, c, optarg);

		if (m < 0)
			return 2;
		if (m)
			continue;
		switch (c) {
		case 's':
		case 't':
		case 'N':
			if (nspecs >= SW_MAX_PORTS ||
			    (c != 's' && ntaps >= SW_MAX_TAPS)) {
				fprintf(stderr, "too many ports (at most %d, %d "
					"--tap and --nic)\n", SW_MAX_PORTS,
					SW_MAX_TAPS);
				return 2;
			}
			spec_kind[nspecs] = c == 's' ? PORT_VHOST :
					    c == 't' ? PORT_TAP : PORT_NIC;
			spec_arg[nspecs++] = optarg;
			ntaps += c != 's';
			nvhost += c == 's';
			break;
		case 'c': client = true; break;
		case 'X':
			if (!vxlan)
				vxlan_init(&vx);
			vxlan = true;
			if (vxlan_parse_local(&vx, optarg)) {
				fprintf(stderr, "--vxlan LOCAL_IP[:PORT][,mtu=576..9216][,strict]\n");
				return 2;
			}
			vxlan_arg = optarg;
			break;
		case 'V':
			if (!vxlan)
				vxlan_init(&vx);
			vxlan = true;
			ret = vxlan_parse_vtep(&vx, optarg);
			if (ret) {
				fprintf(stderr, "--vtep NET:VNI:REMOTE_IP[:PORT] %s: %s\n",
					optarg, strerror(-ret));
				return 2;
			}
			/* the scratch table refused more than fits */
			vtep_arg[nvtep_args++] = optarg;
			ret = 0;
			break;
		case 'w': nworkers = (unsigned)atoi(optarg); break;
		case 'C':
			ncpus = parse_cpus(optarg, cpus, SW_MAX_WORKERS);
			if (ncpus < 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'i': interval = atof(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 'a': aging = (unsigned)atoi(optarg); break;
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			max_macs = (unsigned)v;
			if (end == optarg || *end || v > PSEC_MAX_LEARNED) {
				fprintf(stderr, "--max-macs: 0..%d\n",
					PSEC_MAX_LEARNED);
				return 2;
			}
			break;
		}
		case 'L': lock_macs = true; break;
		case 'j': json = true; break;
		case 'q':
			if (parse_queues(optarg, &queues))
				return 2;
			break;
		case 'v': vhost_log_set_level(VHOST_LOG_DEBUG); break;
		case 'h': usage(stdout); return 0;
		default:
			switch (ctl_parse_opt(&ctl_opts, c, optarg)) {
			case 1: break;
			case 0: usage(stderr); return 2;
			default: return 2;
			}
		}
	}
	if (vxlan && !vxlan_arg) {
		fprintf(stderr, "--vtep needs --vxlan LOCAL_IP\n");
		return 2;
	}
	if (nspecs + vxlan > SW_MAX_PORTS) {
		fprintf(stderr, "too many ports\n");
		return 2;
	}
	if ((!nspecs && !vxlan) || nworkers < 1 || nworkers > SW_MAX_WORKERS) {
		usage(stderr);
		return 2;
	}
	sw.defaults = (struct sw_port_defaults){ .queues = queues,
		.max_learned = max_macs, .lock = lock_macs, .client = client };
	/* The same parser as port_add: vhost ports first (ids 0..), then the
	 * uplinks, as given. */
	for (unsigned pass = 0, k = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < nspecs; i++) {
			if ((spec_kind[i] == PORT_VHOST) != (pass == 0))
				continue;
			if (port_spec_parse(spec_arg[i], spec_kind[i], &sw.defaults,
					    &specs[k++], err, sizeof(err))) {
				fprintf(stderr, "%s: %s\n", spec_arg[i], err);
				return 2;
			}
		}
	}
	for (unsigned i = 0; i < SW_MAX_PORTS; i++) {
		sw.ports[i].id = (uint16_t)i;
		sw.ports[i].tap_fd = -1;
		atomic_store(&sw.ports[i].worker, -1);
		port_sec_init(&sw.sec[i]);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGUSR1, on_usr1);
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&sw.assign_lock, NULL);
	pthread_mutex_init(&sw.cfg_lock, NULL);
	sw.macs = malloc(sizeof(*sw.macs));
	sw.pool = vhost_pktbuf_pool_create("switch", 32768, 2048, 256);
	sw.ctx = vhost_ctx_create(NULL);
	if (!sw.macs || !sw.pool || !sw.ctx) {
		fprintf(stderr, "init failed: %s\n", strerror(errno));
		return 1;
	}
	mac_table_init(sw.macs, aging);
	sw.nworkers = nworkers;
	for (unsigned i = 0; i < nworkers; i++) {
		sw.workers[i].id = (int)i;
		sw.workers[i].sw = &sw;
		sw.workers[i].cpu = ncpus ? cpus[i % (unsigned)ncpus] : -1;
		if (pthread_create(&sw.workers[i].thread, NULL, sw_worker_main,
				   &sw.workers[i])) {
			fprintf(stderr, "cannot start worker %u\n", i);
			return 1;
		}
	}
	for (unsigned i = 0; i < nspecs && !ret; i++) {
		int id = sw_port_add(&sw, &specs[i], err, sizeof(err));

		if (id < 0) {
			fprintf(stderr, "%s (%s)\n", err, strerror(-id));
			atomic_store(&sw.stop, true);
			ret = id;
		}
	}
	if (vxlan && !ret) {
		/* Last: the uplink, as port_add makes it, then its VTEPs. */
		char buf[sizeof(((struct port_spec *)0)->vxlan_local) + 8];
		static struct port_spec spec;
		int id = -EINVAL;

		snprintf(buf, sizeof(buf), "vxlan=%s", vxlan_arg);
		if (!port_spec_parse(buf, -1, &sw.defaults, &spec, err,
				     sizeof(err)))
			id = sw_port_add(&sw, &spec, err, sizeof(err));
		for (unsigned i = 0; i < nvtep_args && id >= 0; i++)
			if (sw_vtep_add(&sw, vtep_arg[i], err, sizeof(err)) < 0)
				id = -EINVAL;
		if (id < 0) {
			fprintf(stderr, "vxlan: %s\n", err);
			atomic_store(&sw.stop, true);
			ret = id;
		}
	}
	/* The control socket once the ports listen, so what it lists is
	 * there. The default path is best effort (another switch may hold
	 * it); a path asked for with --ctl must work. */
	if (!atomic_load(&sw.stop)) {
		ctl = ctl_start(&ctl_opts, "vhost-switch");
		if (!ctl && errno && ctl_opts.path) {
			ret = -errno;
			atomic_store(&sw.stop, true);
		}
	}
	if (ctl) {
		sw_ethdev_provider(&sw, &ethdev_ops);
		if (ethdev_register(ctl, &ethdev_ops))
			fprintf(stderr, "control socket: ethdev commands not "
				"registered\n");
		if (sw_ctl_register(ctl, &sw))
			fprintf(stderr, "control socket: /vhost-switch commands "
				"not registered\n");
	}
	fprintf(stderr, "vhost-switch: %u ports, %u workers%s%s%s\n", sw.nports,
		nworkers, ntaps && !ret ? ", uplink " : "",
		ntaps && !ret ? sw.ports[nvhost].ifname : "",
		vxlan ? ", vxlan uplink" : "");
	metrics = sw_ops_start(&sw, &metrics_params, &ret);
	start = last = now_s();
	while (!got_signal && !atomic_load(&sw.stop)) {
		double t;

		usleep(50000);
		t = now_s();
		atomic_store(&sw.macs->now, 1 + (uint32_t)(t - start));
		sw_log_events(&sw);
		if (want_fdb) {
			want_fdb = 0;
			print_fdb(&sw, stderr);
		}
		if (duration > 0 && t - start >= duration)
			break;
		if (interval > 0 && t - last >= interval) {
			print_stats(&sw, stderr);
			last = t;
		}
	}
	atomic_store(&sw.stop, true);
	/* First: its handlers read the ports and devices. */
	tel_stop(ctl);
	sd_notify_send("STOPPING=1");
	for (unsigned i = 0; i < nworkers; i++)
		pthread_join(sw.workers[i].thread, NULL);
	vhost_ctx_destroy(sw.ctx);
	metrics_stop(metrics);
	print_stats(&sw, json ? stderr : stdout);
	if (json)
		print_json(&sw, now_s() - start);
	for (unsigned i = 0; i < sw.nports; i++)
		if (sw.ports[i].tap_fd >= 0)
			close(sw.ports[i].tap_fd);
	for (unsigned i = 0; i < sw.nports; i++) {
		if (sw.ports[i].afp) {
			afp_close(sw.ports[i].afp);
			free(sw.ports[i].afp);
		}
	}
	for (unsigned i = 0; i < sw.nports; i++)
		sw_vxlan_close(&sw.ports[i]);
	vhost_pktbuf_pool_destroy(sw.pool);
	free(sw.macs);
	for (unsigned i = 0; i < SW_MAX_PORTS; i++)
		ethdev_vq_totals_fini(&sw.ports[i].vq_totals);
	return ret ? 1 : 0;
}
