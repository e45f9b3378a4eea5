/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-fwd --socket PATH[,queues=N] [--socket PATH2] [--client]
 *           --mode rxonly|txonly|mac|io [--pkt-len N] [--burst N] [--cpu N]
 *           [--duration S] [--stats-interval S] [--json] [--validate]
 *           [--interrupt] [--no-mrg] [--no-indirect] [--no-event-idx]
 *           [--start-paused] [--stats-file PATH] [--queues N] [--verbose]
 *
 * Serves vhost-user sockets with libvhost and moves packets in one worker
 * thread. Front-ends may come and go at any time. At exit (SIGINT, SIGTERM
 * or --duration) it prints per-port counters, as one JSON object on stdout
 * with --json. SIGUSR1 pauses and resumes generated traffic (txonly), so a
 * test can let the peer drain before comparing counts. --stats-file keeps
 * "RX TX T_NS" of port 0 in a file, rewritten every 20 ms, for benchmarks.
 * --queues N (1..16, default 8): queue pairs offered (MQ), for one port
 * --socket PATH,queues=N; every enabled queue is polled, and counted per
 * queue pair in the summary.
 * Offloads it cannot deliver are not offered (HOST_TSO4/6: it forwards
 * frames unchanged and segments nothing; see FWD_UNDELIVERABLE_FEATURES).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "fwd.h"
#include "metrics.h"
#include "sdnotify.h"
#include "json.h"

static volatile sig_atomic_t got_signal;

static volatile sig_atomic_t paused;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		paused = !paused;
	else
		got_signal = sig;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const feature_names[64] = {
	[VIRTIO_NET_F_CSUM] = "CSUM",
	[VIRTIO_NET_F_GUEST_CSUM] = "GUEST_CSUM",
	[VIRTIO_NET_F_MTU] = "MTU",
	[VIRTIO_NET_F_MAC] = "MAC",
	[VIRTIO_NET_F_GUEST_TSO4] = "GUEST_TSO4",
	[VIRTIO_NET_F_GUEST_TSO6] = "GUEST_TSO6",
	[VIRTIO_NET_F_HOST_TSO4] = "HOST_TSO4",
	[VIRTIO_NET_F_HOST_TSO6] = "HOST_TSO6",
	[VIRTIO_NET_F_MRG_RXBUF] = "MRG_RXBUF",
	[VIRTIO_NET_F_STATUS] = "STATUS",
	[VIRTIO_NET_F_MQ] = "MQ",
	[VIRTIO_F_ANY_LAYOUT] = "ANY_LAYOUT",
	[28] = "INDIRECT_DESC",
	[29] = "EVENT_IDX",
	[30] = "PROTOCOL_FEATURES",
	[VIRTIO_F_VERSION_1] = "VERSION_1",
	[VIRTIO_F_IN_ORDER] = "IN_ORDER",
	[VIRTIO_F_RING_PACKED] = "RING_PACKED",
};

static void print_features(FILE *out, uint64_t f)
{
	for (unsigned i = 0; i < 64; i++) {
		if (!(f >> i & 1))
			continue;
		if (feature_names[i])
			fprintf(out, " %s", feature_names[i]);
		else
			fprintf(out, " bit%u", i);
	}
}

static struct fwd_port *port_of(struct vhost_dev *dev)
{
	return vhost_dev_socket_opaque(dev);
}

static int on_new_device(struct vhost_dev *dev)
{
	struct fwd_port *port = port_of(dev);

	if (atomic_load(&port->dev)) {
		fprintf(stderr, "port %d: already has a device; refusing\n",
			port->id);
		return -1;
	}
	fprintf(stderr, "port %d: device %" PRIu64 " ready on %s: features",
		port->id, vhost_dev_id(dev), vhost_dev_path(dev));
	print_features(stderr, vhost_dev_features(dev));
	fprintf(stderr, "; protocol features 0x%" PRIx64 "; %u vrings\n",
		vhost_dev_protocol_features(dev), vhost_dev_num_vrings(dev));
	atomic_fetch_add(&port->connects, 1);
	ethdev_vq_totals_attach(&port->vq_totals, dev);
	atomic_store_explicit(&port->dev, dev, memory_order_release);
	return 0;
}

static void on_destroy_device(struct vhost_dev *dev)
{
	struct fwd_port *port = port_of(dev);
	struct fwd *f = (struct fwd *)((char *)(port - port->id) -
				       offsetof(struct fwd, ports));

	if (atomic_load(&port->dev) != dev)
		return;
	atomic_store(&port->dev, NULL);
	fwd_port_rings_off(port);
	/* The worker may be mid-burst on dev: wait for it to leave. */
	fwd_quiesce(f);
	ethdev_vq_totals_detach(&port->vq_totals, dev);
	fprintf(stderr, "port %d: device %" PRIu64 " stopped\n", port->id,
		vhost_dev_id(dev));
}

static const struct vhost_device_ops ops = {
	.new_device = on_new_device,
	.destroy_device = on_destroy_device,
	.vring_state_changed = fwd_vring_state_changed,
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vhost-fwd --socket PATH[,queues=N] [--socket PATH2] [--client]\n"
		"         --mode rxonly|txonly|mac|io [--pkt-len N] [--burst N]\n"
		"         [--cpu N] [--duration S] [--stats-interval S] [--json]\n"
		"         [--validate] [--interrupt] [--no-mrg] [--no-indirect]\n"
		"         [--no-event-idx] [--start-paused] [--stats-file PATH]\n"
		"         [--queues N] [--verbose]\n"
		METRICS_USAGE
		CTL_USAGE);
}

static void print_interval(struct fwd *f, uint64_t *last_rx, uint64_t *last_tx,
			   double dt)
{
	for (int p = 0; p < f->nports; p++) {
		struct fwd_port *port = &f->ports[p];
		uint64_t rx = atomic_load(&port->rx_packets);
		uint64_t tx = atomic_load(&port->tx_packets);

		fprintf(stderr, "port %d: rx %" PRIu64 " (%.3f Mpps) tx %" PRIu64
			" (%.3f Mpps) drops %" PRIu64 " invalid %" PRIu64 "\n",
			p, rx, (double)(rx - last_rx[p]) / dt / 1e6, tx,
			(double)(tx - last_tx[p]) / dt / 1e6,
			atomic_load(&port->tx_drops),
			atomic_load(&port->rx_invalid));
		last_rx[p] = rx;
		last_tx[p] = tx;
	}
}

/* "RX TX T_NS PASSES IDLE_PASSES" of port 0, replaced atomically, for
 * benchmarks that read counters while traffic runs. */
static void write_stats_file(struct fwd *f)
{
	char tmp[4096];
	struct timespec ts;
	FILE *o;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->stats_file);
	o = fopen(tmp, "w");
	if (!o)
		return;
	fprintf(o, "%" PRIu64 " %" PRIu64 " %lld%09ld %" PRIu64 " %" PRIu64 "\n",
		atomic_load(&f->ports[0].rx_packets),
		atomic_load(&f->ports[0].tx_packets), (long long)ts.tv_sec,
		ts.tv_nsec, atomic_load(&f->passes),
		atomic_load(&f->idle_passes));
	fclose(o);
	rename(tmp, f->stats_file);
}

static const char *const mode_names[] = { "rxonly", "txonly", "mac", "io" };

/* Queue pairs worth showing: up to the last that carried a packet. */
static unsigned shown_queues(const struct fwd_port *port)
{
	unsigned n = 0;

	for (unsigned q = 0; q < FWD_MAX_QP; q++)
		if (atomic_load(&port->q_rx_packets[q]) ||
		    atomic_load(&port->q_tx_packets[q]))
			n = q + 1;
	return n;
}

static void print_queues(FILE *o, const struct fwd_port *port)
{
	unsigned n = shown_queues(port);

	if (n)
		fprintf(o, "  queues:");
	for (unsigned q = 0; q < n; q++)
		fprintf(o, " q%u rx %" PRIu64 " tx %" PRIu64, q,
			atomic_load(&port->q_rx_packets[q]),
			atomic_load(&port->q_tx_packets[q]));
	if (n)
		fputc('\n', o);
}

static void json_queues(struct jw *w, const struct fwd_port *port)
{
	unsigned n = shown_queues(port);

	jw_arr_open(w, "queues");
	for (unsigned q = 0; q < n; q++) {
		jw_obj_open(w, NULL);
		jw_u64(w, "rx_packets", atomic_load(&port->q_rx_packets[q]));
		jw_u64(w, "tx_packets", atomic_load(&port->q_tx_packets[q]));
		jw_obj_close(w);
	}
	jw_arr_close(w);
}

static void print_json(struct fwd *f, double elapsed)
{
	struct jw w;

	jw_init(&w, 0);
	jw_obj_open(&w, NULL);
	jw_str(&w, "mode", mode_names[f->mode]);
	jw_u64(&w, "pkt_len", f->pkt_len);
	jw_double(&w, "elapsed_s", elapsed);
	jw_u64(&w, "wakeups", atomic_load(&f->wakeups));
	jw_u64(&w, "passes", atomic_load(&f->passes));
	jw_u64(&w, "idle_passes", atomic_load(&f->idle_passes));
	jw_arr_open(&w, "ports");
	for (int p = 0; p < f->nports; p++) {
		struct fwd_port *port = &f->ports[p];

		jw_obj_open(&w, NULL);
		jw_str(&w, "path", port->path);
		jw_u64(&w, "connects", atomic_load(&port->connects));
		jw_u64(&w, "rx_packets", atomic_load(&port->rx_packets));
		jw_u64(&w, "rx_bytes", atomic_load(&port->rx_bytes));
		jw_u64(&w, "rx_invalid", atomic_load(&port->rx_invalid));
		jw_u64(&w, "tx_packets", atomic_load(&port->tx_packets));
		jw_u64(&w, "tx_bytes", atomic_load(&port->tx_bytes));
		jw_u64(&w, "tx_drops", atomic_load(&port->tx_drops));
		json_queues(&w, port);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_obj_close(&w);
	if (jw_print(&w, stdout) < 0)
		fprintf(stderr, "vhost-fwd: JSON output failed\n");
	jw_free(&w);
}

static void print_summary(struct fwd *f, double elapsed)
{
	FILE *o = stdout;

	if (f->json) {
		print_json(f, elapsed);
		return;
	}
	for (int p = 0; p < f->nports; p++) {
		struct fwd_port *port = &f->ports[p];

		fprintf(o, "port %d (%s): rx %" PRIu64 " pkts %" PRIu64
			" bytes (%" PRIu64 " invalid), tx %" PRIu64 " pkts %" PRIu64
			" bytes, %" PRIu64 " drops, %" PRIu64 " connects\n",
			p, port->path, atomic_load(&port->rx_packets),
			atomic_load(&port->rx_bytes),
			atomic_load(&port->rx_invalid),
			atomic_load(&port->tx_packets),
			atomic_load(&port->tx_bytes),
			atomic_load(&port->tx_drops),
			atomic_load(&port->connects));
		print_queues(o, port);
	}
}

/* PATH[,queues=N] */
static int parse_socket(struct fwd_port *port, char *arg)
{
	char *opt = strchr(arg, ',');

	port->path = arg;
	if (!opt)
		return 0;
	*opt++ = '\0';
	if (!strncmp(opt, "queues=", 7)) {
		char *end;
		unsigned long v = strtoul(opt + 7, &end, 10);

		if (end != opt + 7 && !*end && v >= 1 && v <= FWD_MAX_QP) {
			port->queues = (uint16_t)v;
			return 0;
		}
	}
	fprintf(stderr, "bad socket option %s (queues=1..%d)\n", opt,
		FWD_MAX_QP);
	return -1;
}

int main(int argc, char **argv)
{
	static struct fwd f = {
		.mode = MODE_IO, .pkt_len = 64, .burst = 32, .cpu = -1,
		.queues = FWD_DEFAULT_QP,
	};
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "client", no_argument, NULL, 'c' },
		{ "mode", required_argument, NULL, 'm' },
		{ "pkt-len", required_argument, NULL, 'l' },
		{ "burst", required_argument, NULL, 'b' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "duration", required_argument, NULL, 'd' },
		{ "stats-interval", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "validate", no_argument, NULL, 'V' },
		{ "interrupt", no_argument, NULL, 'I' },
		{ "no-mrg", no_argument, NULL, 'M' },
		{ "no-indirect", no_argument, NULL, 'N' },
		{ "no-event-idx", no_argument, NULL, 'E' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "start-paused", no_argument, NULL, 'P' },
		{ "stats-file", required_argument, NULL, 'S' },
		{ "queues", required_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		METRICS_LONG_OPTIONS,
		CTL_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	uint64_t disable = 0, last_rx[FWD_MAX_PORTS] = { 0 },
		 last_tx[FWD_MAX_PORTS] = { 0 };
	double start, last;
	pthread_t worker;
	int c, ret = 0;
	struct metrics_params metrics_params;
	struct metrics *metrics;
	struct ctl_opts ctl_opts;
	struct ethdev_provider ethdev_ops;
	struct tel *ctl;

	ctl_opts_init(&ctl_opts);
	for (int p = 0; p < FWD_MAX_PORTS; p++)
		ethdev_vq_totals_init(&f.ports[p].vq_totals);

	metrics_params_init(&metrics_params);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int m = metrics_parse_option(&metrics_params, c, optarg);

		if (m < 0)
			return 2;
		if (m)
			continue;
		switch (c) {
		case 's':
			if (f.nports == FWD_MAX_PORTS) {
				fprintf(stderr, "at most %d sockets\n",
					FWD_MAX_PORTS);
				return 2;
			}
			f.ports[f.nports].id = f.nports;
			if (parse_socket(&f.ports[f.nports], optarg))
				return 2;
			f.nports++;
			break;
		case 'c': f.client = true; break;
		case 'm':
			for (c = 0; c < 4 && strcmp(optarg, mode_names[c]); c++)
				;
			if (c == 4) {
				fprintf(stderr, "unknown mode %s\n", optarg);
				return 2;
			}
			f.mode = (enum fwd_mode)c;
			break;
		case 'l': f.pkt_len = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'b': f.burst = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'C': f.cpu = atoi(optarg); break;
		case 'd': f.duration = atof(optarg); break;
		case 'i': f.stats_interval = atof(optarg); break;
		case 'j': f.json = true; break;
		case 'V': f.validate = true; break;
		case 'I': f.interrupt = true; break;
		case 'M': disable |= 1ull << VIRTIO_NET_F_MRG_RXBUF; break;
		case 'N': disable |= 1ull << 28; break;
		case 'E': disable |= 1ull << 29; break;
		case 'v': vhost_log_set_level(VHOST_LOG_DEBUG); break;
		case 'P': paused = 1; break;
		case 'S': f.stats_file = optarg; break;
		case 'q': f.queues = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'h': usage(stdout); return 0;
		default:
			switch (ctl_parse_opt(&ctl_opts, c, optarg)) {
			case 1: break;
			case 0: usage(stderr); return 2;
			default: return 2;
			}
		}
	}
	if (!f.nports || f.burst == 0 || f.burst > FWD_MAX_BURST ||
	    f.queues < 1 || f.queues > FWD_MAX_QP ||
	    f.pkt_len < 60 || f.pkt_len > VHOST_PKTBUF_MAX_PKT_LEN ||
	    (f.mode == MODE_IO && f.nports != 2 && f.nports != 1)) {
		usage(stderr);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGUSR1, on_signal); /* pause/resume generated traffic */
	signal(SIGPIPE, SIG_IGN);
	f.pool = vhost_pktbuf_pool_create("fwd", 16384, 2048, 256);
	f.ctx = vhost_ctx_create(NULL);
	if (!f.pool || !f.ctx || fwd_init_template(&f)) {
		fprintf(stderr, "init failed: %s\n", strerror(errno));
		return 1;
	}
	for (int p = 0; p < f.nports; p++) {
		struct fwd_port *port = &f.ports[p];

		ret = fwd_port_start(&f, port, disable, &ops);
		if (ret) {
			fprintf(stderr, "%s: %s\n", port->path, strerror(-ret));
			vhost_ctx_destroy(f.ctx);
			return 1;
		}
	}
	/* The control socket once the ports listen. The default path is
	 * best effort; a path asked for with --ctl must work. */
	ctl = ctl_start(&ctl_opts, "vhost-fwd");
	if (!ctl && errno && ctl_opts.path) {
		vhost_ctx_destroy(f.ctx);
		return 1;
	}
	if (ctl) {
		fwd_ethdev_provider(&f, &ethdev_ops);
		if (ethdev_register(ctl, &ethdev_ops))
			fprintf(stderr, "control socket: ethdev commands not "
				"registered\n");
	}
	if (pthread_create(&worker, NULL, fwd_worker, &f)) {
		fprintf(stderr, "cannot start the worker\n");
		tel_stop(ctl);
		return 1;
	}
	fprintf(stderr, "vhost-fwd: mode %s, %d port(s), pkt-len %u, burst %u\n",
		mode_names[f.mode], f.nports, f.pkt_len, f.burst);
	metrics = fwd_ops_start(&f, &metrics_params, &ret);
	if (ret)
		got_signal = SIGTERM;
	start = last = now_s();
	while (!got_signal) {
		double t;

		usleep(20000);
		atomic_store(&f.paused, paused != 0);
		if (f.stats_file)
			write_stats_file(&f);
		t = now_s();
		if (f.duration > 0 && t - start >= f.duration)
			break;
		if (f.stats_interval > 0 && t - last >= f.stats_interval) {
			print_interval(&f, last_rx, last_tx, t - last);
			last = t;
		}
	}
	atomic_store(&f.stop, true);
	tel_stop(ctl); /* its handlers read the ports and devices */
	sd_notify_send("STOPPING=1");
	pthread_join(worker, NULL);
	/* Keep the connections a moment: what we placed in the guests' rings
	 * is theirs to read, and a front-end stops reading when we go. */
	usleep(300000);
	/* The worker is gone: destroy_device callbacks need not wait. */
	vhost_ctx_destroy(f.ctx);
	metrics_stop(metrics);
	print_summary(&f, now_s() - start);
	vhost_pktbuf_pool_destroy(f.pool);
	for (int p = 0; p < FWD_MAX_PORTS; p++)
		ethdev_vq_totals_fini(&f.ports[p].vq_totals);
	return ret ? 1 : 0;
}
