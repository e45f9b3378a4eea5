/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-fwd --socket PATH [--socket PATH2] [--server]
 *            --mode rxonly|txonly|mac|io [--gen] [--pkt-len N] [--burst N]
 *            [--cpu N] [--duration S] [--stats-interval S] [--json]
 *            [--validate] [--interrupt] [--no-mrg] [--no-event-idx] [--packed]
 *            [--queue-size N] [--queues N] [--tx-first N] [--start-paused]
 *            [--stats-file PATH] [--copy]
 *            [--verbose]
 *
 * The front-end side of vhost-fwd: each --socket is one virtio-user port
 * (libvhost's front-end) attached to a vhost-user back-end (connecting to
 * it, or listening for it with --server), and one worker thread moves
 * packets in the chosen mode. --gen makes txonly/rxonly a load generator:
 * prebuilt packets posted and recycled, received buffers counted and
 * posted again, no per-packet copy or write, so that the back-end and not
 * the generator sets the pace (idle_passes counts the generator's empty
 * polls); --gen --mode io posts prebuilt packets and counts those the
 * back-end loops back. --tx-first N seeds mac/io loops with N bursts.
 * --queues N asks for N queue pairs (MQ) and polls every pair the
 * back-end grants (interrupt mode: pair 0 only).
 * Back-ends may restart: the ports reconnect. Output and JSON are
 * vhost-fwd's; SIGUSR1 pauses and resumes txonly; --stats-file keeps
 * "RX TX T_NS PASSES IDLE_PASSES" of port 0, rewritten every 20 ms.
 * The packet pool is a shared one registered with every port, so packets
 * go to and come from the back-end by reference (zero-copy); --copy uses
 * a private pool and the copying path, for comparison.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vhost/vhost.h>

#include "fwd.h"
#include "json.h"
#include "pkt.h"

static volatile sig_atomic_t got_signal, paused;

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

static const char *const mode_names[] = { "rxonly", "txonly", "mac", "io" };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: virtio-fwd --socket PATH [--socket PATH2] [--server]\n"
		"         --mode rxonly|txonly|mac|io [--gen] [--pkt-len N]\n"
		"         [--burst N] [--cpu N] [--duration S] [--stats-interval S]\n"
		"         [--json] [--validate] [--interrupt] [--no-mrg]\n"
		"         [--no-event-idx] [--packed] [--queue-size N] [--queues N] [--tx-first N]\n"
		"         [--start-paused] [--stats-file PATH] [--copy] [--verbose]\n");
}

static void write_stats_file(struct vf *f, const char *file)
{
	char tmp[4096];
	struct timespec ts;
	FILE *o;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	o = fopen(tmp, "w");
	if (!o)
		return;
	fprintf(o, "%" PRIu64 " %" PRIu64 " %lld%09ld %" PRIu64 " %" PRIu64 "\n",
		atomic_load(&f->ports[0].rx_packets),
		atomic_load(&f->ports[0].tx_packets), (long long)ts.tv_sec,
		ts.tv_nsec, atomic_load(&f->passes), atomic_load(&f->idle_passes));
	fclose(o);
	rename(tmp, file);
}

static void print_interval(struct vf *f, uint64_t *last_rx, uint64_t *last_tx,
			   double dt)
{
	for (int p = 0; p < f->nports; p++) {
		struct vf_port *port = &f->ports[p];
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

static void print_json(struct vf *f, double elapsed)
{
	struct jw w;

	jw_init(&w, 0);
	jw_obj_open(&w, NULL);
	jw_str(&w, "mode", mode_names[f->mode]);
	jw_bool(&w, "gen", f->gen);
	jw_u64(&w, "pkt_len", f->pkt_len);
	jw_double(&w, "elapsed_s", elapsed);
	jw_u64(&w, "wakeups", atomic_load(&f->wakeups));
	jw_u64(&w, "passes", atomic_load(&f->passes));
	jw_u64(&w, "idle_passes", atomic_load(&f->idle_passes));
	jw_arr_open(&w, "ports");
	for (int p = 0; p < f->nports; p++) {
		struct vf_port *port = &f->ports[p];
		struct virtio_user_queue_stats rs = { 0 }, ts = { 0 };

		virtio_user_stats_get(port->vu, VIRTIO_USER_RX(0), &rs);
		virtio_user_stats_get(port->vu, VIRTIO_USER_TX(0), &ts);
		jw_obj_open(&w, NULL);
		jw_str(&w, "path", port->path);
		jw_u64(&w, "queue_pairs", virtio_user_queue_pairs(port->vu));
		jw_u64(&w, "connects", virtio_user_connects(port->vu));
		jw_u64(&w, "rx_packets", atomic_load(&port->rx_packets));
		jw_u64(&w, "rx_bytes", atomic_load(&port->rx_bytes));
		jw_u64(&w, "rx_invalid", atomic_load(&port->rx_invalid));
		jw_u64(&w, "tx_packets", atomic_load(&port->tx_packets));
		jw_u64(&w, "tx_bytes", atomic_load(&port->tx_bytes));
		jw_u64(&w, "tx_drops", atomic_load(&port->tx_drops));
		jw_u64(&w, "rx_bad_hdr", rs.bad_hdr);
		jw_u64(&w, "rx_no_pktbuf", rs.no_pktbuf);
		jw_u64(&w, "rx_lost_on_reset", rs.lost_on_reset);
		jw_u64(&w, "broken", rs.broken + ts.broken);
		jw_u64(&w, "kicks", ts.kicks + rs.kicks);
		jw_u64(&w, "rx_zero_copy", rs.zero_copy);
		jw_u64(&w, "tx_zero_copy", ts.zero_copy);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_obj_close(&w);
	if (jw_print(&w, stdout) < 0)
		fprintf(stderr, "virtio-fwd: JSON output failed\n");
	jw_free(&w);
}

static void print_summary(struct vf *f, double elapsed, bool json)
{
	FILE *o = stdout;

	if (json) {
		print_json(f, elapsed);
		return;
	}
	for (int p = 0; p < f->nports; p++) {
		struct vf_port *port = &f->ports[p];

		fprintf(o, "port %d (%s): rx %" PRIu64 " pkts %" PRIu64
			" bytes (%" PRIu64 " invalid), tx %" PRIu64 " pkts %" PRIu64
			" bytes, %" PRIu64 " drops, %" PRIu64 " connects\n",
			p, port->path, atomic_load(&port->rx_packets),
			atomic_load(&port->rx_bytes),
			atomic_load(&port->rx_invalid),
			atomic_load(&port->tx_packets),
			atomic_load(&port->tx_bytes),
			atomic_load(&port->tx_drops),
			virtio_user_connects(port->vu));
	}
}

/* txonly: every pool buffer starts as a copy of the packet, so a burst
 * writes only its headers (as vhost-fwd and testpmd do). */
static int prefill_pool(struct vf *f)
{
	unsigned n = vhost_pktbuf_pool_count(f->pool), i = 0;
	struct vhost_pktbuf **all = calloc(n, sizeof(*all));

	if (!all)
		return -ENOMEM;
	while (i < n && (all[i] = vhost_pktbuf_alloc(f->pool)))
		i++;
	for (unsigned k = 0; k < i; k++)
		if (f->pkt_len <= vhost_pktbuf_tailroom(all[k]))
			memcpy(vhost_pktbuf_data(all[k]), f->tmpl, f->pkt_len);
	vhost_pktbuf_free_bulk(all, i);
	free(all);
	return 0;
}

int main(int argc, char **argv)
{
	static struct vf f = { .mode = VF_IO, .pkt_len = 64, .burst = 32,
			       .cpu = -1, .queues = 1 };
	static const uint8_t mac_src[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t mac_dst[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "server", no_argument, NULL, 'S' },
		{ "mode", required_argument, NULL, 'm' },
		{ "gen", no_argument, NULL, 'g' },
		{ "pkt-len", required_argument, NULL, 'l' },
		{ "burst", required_argument, NULL, 'b' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "duration", required_argument, NULL, 'd' },
		{ "stats-interval", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "validate", no_argument, NULL, 'V' },
		{ "interrupt", no_argument, NULL, 'I' },
		{ "no-mrg", no_argument, NULL, 'M' },
		{ "no-event-idx", no_argument, NULL, 'E' },
		{ "packed", no_argument, NULL, 'R' },
		{ "queue-size", required_argument, NULL, 'q' },
		{ "tx-first", required_argument, NULL, 'T' },
		{ "queues", required_argument, NULL, 'Q' },
		{ "start-paused", no_argument, NULL, 'P' },
		{ "stats-file", required_argument, NULL, 'F' },
		{ "copy", no_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct virtio_user_params vp = { 0 };
	uint64_t features = virtio_user_default_features();
	uint64_t last_rx[VF_MAX_PORTS] = { 0 }, last_tx[VF_MAX_PORTS] = { 0 };
	double duration = 0, interval = 0, start, last;
	const char *stats_file = NULL;
	bool json = false, copy = false;
	struct vhost_pktbuf *t;
	pthread_t worker;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (f.nports == VF_MAX_PORTS) {
				fprintf(stderr, "at most %d sockets\n", VF_MAX_PORTS);
				return 2;
			}
			f.ports[f.nports++].path = optarg;
			break;
		case 'S': vp.flags |= VIRTIO_USER_SERVER; break;
		case 'm':
			for (c = 0; c < 4 && strcmp(optarg, mode_names[c]); c++)
				;
			if (c == 4) {
				fprintf(stderr, "unknown mode %s\n", optarg);
				return 2;
			}
			f.mode = (enum vf_mode)c;
			break;
		case 'g': f.gen = true; break;
		case 'l': f.pkt_len = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'b': f.burst = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'C': f.cpu = atoi(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 'i': interval = atof(optarg); break;
		case 'j': json = true; break;
		case 'V': f.validate = true; break;
		case 'I': f.interrupt = true; break;
		case 'M': features &= ~(1ull << VIRTIO_NET_F_MRG_RXBUF); break;
		case 'E': features &= ~(1ull << VIRTIO_RING_F_EVENT_IDX); break;
		case 'R': features |= 1ull << VIRTIO_F_RING_PACKED; break;
		case 'Q': f.queues = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'T': f.tx_first = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'q': vp.queue_size = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'P': paused = 1; break;
		case 'F': stats_file = optarg; break;
		case 'c': copy = true; break;
		case 'v': vhost_log_set_level(VHOST_LOG_DEBUG); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!f.nports || f.burst == 0 || f.burst > VF_MAX_BURST ||
	    f.queues == 0 || f.queues > VIRTIO_USER_MAX_QUEUE_PAIRS ||
	    f.pkt_len < PKT_MIN_LEN || f.pkt_len > VHOST_PKTBUF_MAX_PKT_LEN ||
	    (f.gen && f.mode == VF_MAC)) {
		usage(stderr);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGUSR1, on_signal);
	signal(SIGPIPE, SIG_IGN);
	/* Shared: its buffers are posted to the back-ends by reference. */
	f.pool = copy ? vhost_pktbuf_pool_create("virtio-fwd", 16384, 2048, 256) :
			vhost_pktbuf_pool_create_shared("virtio-fwd", 16384, 2048,
							256);
	t = f.pool ? vhost_pktbuf_alloc(f.pool) : NULL;
	if (!t || pkt_build_udp(t, f.pkt_len, 0, mac_src, mac_dst)) {
		fprintf(stderr, "init failed\n");
		return 1;
	}
	vhost_pktbuf_read(t, 0, f.pkt_len, f.tmpl);
	vhost_pktbuf_free(t);
	if ((f.mode == VF_TXONLY || f.tx_first) && !f.gen && prefill_pool(&f))
		return 1;
	vp.features = features;
	vp.queue_pairs = f.queues;
	vp.pools = &f.pool;
	vp.npools = copy ? 0 : 1;
	/* A generator's buffers each hold one whole packet. */
	if (f.gen && f.pkt_len > 2048)
		vp.buf_len = f.pkt_len;
	for (int p = 0; p < f.nports; p++) {
		vp.path = f.ports[p].path;
		f.ports[p].vu = virtio_user_create(&vp);
		if (!f.ports[p].vu) {
			fprintf(stderr, "%s: %s\n", vp.path, strerror(errno));
			return 1;
		}
		for (uint16_t q = 0; f.gen && f.mode != VF_RXONLY && q < f.queues; q++) {
			if (virtio_user_gen_set_packet(f.ports[p].vu, q, f.tmpl,
						       f.pkt_len)) {
				fprintf(stderr, "packet too large for the generator\n");
				return 1;
			}
		}
		c = virtio_user_start(f.ports[p].vu);
		if (c) {
			fprintf(stderr, "%s: %s\n", vp.path, strerror(-c));
			return 1;
		}
	}
	if (pthread_create(&worker, NULL, vf_worker, &f)) {
		fprintf(stderr, "cannot start the worker\n");
		return 1;
	}
	fprintf(stderr, "virtio-fwd: mode %s%s, %d port(s), pkt-len %u, burst %u\n",
		mode_names[f.mode], f.gen ? " (generator)" : "", f.nports,
		f.pkt_len, f.burst);
	start = last = now_s();
	while (!got_signal) {
		double now;

		usleep(20000);
		atomic_store(&f.paused, paused != 0);
		if (stats_file)
			write_stats_file(&f, stats_file);
		now = now_s();
		if (duration > 0 && now - start >= duration)
			break;
		if (interval > 0 && now - last >= interval) {
			print_interval(&f, last_rx, last_tx, now - last);
			last = now;
		}
	}
	atomic_store(&f.stop, true);
	pthread_join(worker, NULL);
	print_summary(&f, now_s() - start, json);
	for (int p = 0; p < f.nports; p++)
		virtio_user_destroy(f.ports[p].vu);
	vhost_pktbuf_pool_destroy(f.pool);
	return 0;
}
