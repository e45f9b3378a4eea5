/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * top.c -- vhostctl top: per-port and per-worker rates from the deltas of two
 * samples. Ports come from /vhost-switch/ports, or, when the server is not a
 * switch (null reply), from /ethdev/list and /ethdev/stats,N; workers from
 * /vhost-switch/workers when the server has them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vhostctl.h"

#define TOP_MAX_ETHDEV 1024 /* ethdev ports sampled one request each */

struct port_sample {
	uint64_t id;
	char name[64];
	uint64_t rx_pkts, tx_pkts, rx_bytes, tx_bytes, drops;
};

struct worker_sample {
	uint64_t id, passes, busy, pkts;
	char cpu[32];
};

struct sample {
	struct port_sample *ports;
	size_t nports;
	struct worker_sample *workers;
	size_t nworkers;
	double t; /* seconds, CLOCK_MONOTONIC */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sample_free(struct sample *s)
{
	free(s->ports);
	free(s->workers);
	memset(s, 0, sizeof(*s));
}

static uint64_t u64_of(const struct jnode *obj, const char *key)
{
	uint64_t v = 0;
	jnum_u64(jget(obj, key), &v);
	return v;
}

static void copy_name(char *dst, size_t len, const struct jnode *n)
{
	const char *s = jstr(n);
	snprintf(dst, len, "%s", s ? s : "?");
}

static int sample_switch_ports(struct sample *s, const struct jnode *val)
{
	if (val->type != J_ARRAY)
		return -1;
	s->ports = calloc(val->n_kids ? val->n_kids : 1, sizeof(*s->ports));
	if (!s->ports)
		return -1;
	for (size_t k = 0; k < val->n_kids; k++) {
		const struct jnode *p = &val->kids[k];
		struct port_sample *ps = &s->ports[s->nports++];
		ps->id = u64_of(p, "id");
		copy_name(ps->name, sizeof(ps->name), jget(p, "name"));
		ps->rx_pkts = u64_of(p, "rx_packets");
		ps->tx_pkts = u64_of(p, "tx_packets");
		ps->rx_bytes = u64_of(p, "rx_bytes");
		ps->tx_bytes = u64_of(p, "tx_bytes");
		ps->drops = u64_of(p, "rx_drops") + u64_of(p, "tx_drops");
	}
	return 0;
}

static int sample_ethdev_ports(struct vctl *v, struct sample *s)
{
	const struct jnode *list;
	struct jnode *reply = vctl_call(v, "/ethdev/list", &list, false);
	if (!reply)
		return -1;
	size_t n = list->type == J_ARRAY ? list->n_kids : 0;
	if (n > TOP_MAX_ETHDEV)
		n = TOP_MAX_ETHDEV;
	s->ports = calloc(n ? n : 1, sizeof(*s->ports));
	int rc = s->ports ? 0 : -1;
	for (size_t k = 0; k < n && rc == 0; k++) {
		uint64_t id;
		if (!jnum_u64(&list->kids[k], &id))
			continue;
		char req[64];
		snprintf(req, sizeof(req), "/ethdev/stats,%llu", (unsigned long long)id);
		const struct jnode *st;
		struct jnode *sr = vctl_call(v, req, &st, false);
		if (!sr) {
			rc = -1;
			break;
		}
		struct port_sample *ps = &s->ports[s->nports++];
		ps->id = id;
		snprintf(ps->name, sizeof(ps->name), "ethdev%llu", (unsigned long long)id);
		/* The name from /ethdev/info when the server has it (testpmd, our daemons). */
		snprintf(req, sizeof(req), "/ethdev/info,%llu", (unsigned long long)id);
		const struct jnode *info;
		char err[256];
		struct jnode *ir = ctl_call(&v->conn, req, &info, err, sizeof(err));
		if (ir && jstr(jget(info, "name")))
			copy_name(ps->name, sizeof(ps->name), jget(info, "name"));
		jnode_free(ir);
		if (!ir) {
			fprintf(stderr, "vhostctl: %s: %s\n", req, err);
			jnode_free(sr);
			rc = -1;
			break;
		}
		ps->rx_pkts = u64_of(st, "ipackets");
		ps->tx_pkts = u64_of(st, "opackets");
		ps->rx_bytes = u64_of(st, "ibytes");
		ps->tx_bytes = u64_of(st, "obytes");
		ps->drops = u64_of(st, "imissed") + u64_of(st, "ierrors") + u64_of(st, "oerrors") +
			    u64_of(st, "rx_nombuf");
		jnode_free(sr);
	}
	jnode_free(reply);
	return rc;
}

static int take_sample(struct vctl *v, struct sample *s)
{
	const struct jnode *val;
	memset(s, 0, sizeof(*s));
	struct jnode *reply = vctl_call(v, "/vhost-switch/ports", &val, true);
	if (!reply)
		return -1;
	int rc = val->type == J_NULL ? sample_ethdev_ports(v, s) : sample_switch_ports(s, val);
	jnode_free(reply);
	if (rc)
		goto bad;
	reply = vctl_call(v, "/vhost-switch/workers", &val, true);
	if (!reply)
		goto bad;
	if (val->type == J_ARRAY) {
		s->workers = calloc(val->n_kids ? val->n_kids : 1, sizeof(*s->workers));
		for (size_t k = 0; s->workers && k < val->n_kids; k++) {
			const struct jnode *w = &val->kids[k];
			struct worker_sample *ws = &s->workers[s->nworkers++];
			ws->id = u64_of(w, "id");
			ws->passes = u64_of(w, "passes");
			ws->busy = u64_of(w, "busy_passes");
			ws->pkts = u64_of(w, "packets");
			const struct jnode *cpu = jget(w, "cpu");
			uint64_t c;
			if (jnum_u64(cpu, &c))
				snprintf(ws->cpu, sizeof(ws->cpu), "%llu", (unsigned long long)c);
			else
				snprintf(ws->cpu, sizeof(ws->cpu), "-");
		}
	}
	jnode_free(reply);
	s->t = now_s();
	return 0;
bad:
	sample_free(s);
	return -1;
}

/* Per-second rate of a counter; a counter that went back (port re-created,
 * counters reset) counts as 0 rather than a huge wrap. */
static double rate(uint64_t now, uint64_t before, double dt)
{
	return now >= before && dt > 0 ? (double)(now - before) / dt : 0.0;
}

static void show(const struct vctl *v, const struct sample *a, const struct sample *b, bool tty)
{
	double dt = b->t - a->t;
	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("vhostctl top: ");
	put_safe(stdout, v->path);
	printf("  interval %.2f s\n\n", dt);
	static const char *const pheads[] = { "ID", "NAME", "RX_PPS", "TX_PPS", "RX_BPS", "TX_BPS",
		"DROP/S" };
	struct table t;
	table_init(&t, 7, pheads, "rlrrrrr");
	for (size_t k = 0; k < b->nports; k++) {
		const struct port_sample *p = &b->ports[k], *o = NULL;
		for (size_t j = 0; j < a->nports && !o; j++)
			if (a->ports[j].id == p->id && !strcmp(a->ports[j].name, p->name))
				o = &a->ports[j];
		table_cell(&t, "%llu", (unsigned long long)p->id);
		table_cell(&t, "%s", p->name);
		if (!o) { /* a new port: no rate yet */
			for (int c = 0; c < 5; c++)
				table_cell(&t, "-");
			continue;
		}
		table_cell(&t, "%.0f", rate(p->rx_pkts, o->rx_pkts, dt));
		table_cell(&t, "%.0f", rate(p->tx_pkts, o->tx_pkts, dt));
		table_cell(&t, "%.0f", 8 * rate(p->rx_bytes, o->rx_bytes, dt));
		table_cell(&t, "%.0f", 8 * rate(p->tx_bytes, o->tx_bytes, dt));
		table_cell(&t, "%.0f", rate(p->drops, o->drops, dt));
	}
	table_print(stdout, &t);
	table_free(&t);
	if (b->nworkers) {
		static const char *const wheads[] = { "WORKER", "CPU", "BUSY%", "PKTS/S" };
		fputc('\n', stdout);
		table_init(&t, 4, wheads, "rrrr");
		for (size_t k = 0; k < b->nworkers; k++) {
			const struct worker_sample *w = &b->workers[k], *o = NULL;
			for (size_t j = 0; j < a->nworkers && !o; j++)
				if (a->workers[j].id == w->id)
					o = &a->workers[j];
			table_cell(&t, "%llu", (unsigned long long)w->id);
			table_cell(&t, "%s", w->cpu);
			if (o && w->passes > o->passes && w->busy >= o->busy) {
				double busy = 100.0 * (double)(w->busy - o->busy) / (double)(w->passes - o->passes);
				table_cell(&t, "%.1f", busy > 100 ? 100.0 : busy);
			} else {
				table_cell(&t, "-");
			}
			table_cell(&t, "%.0f", o ? rate(w->pkts, o->pkts, dt) : 0.0);
		}
		table_print(stdout, &t);
		table_free(&t);
	}
	if (!tty)
		fputc('\n', stdout);
	fflush(stdout);
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cmd_top(struct vctl *v, int argc, char **argv)
{
	(void)argv;
	if (argc) {
		fprintf(stderr, "vhostctl: top takes options only (-i SECONDS, -n COUNT)\n");
		return EXIT_USAGE;
	}
	bool tty = isatty(STDOUT_FILENO);
	struct sample a, b;
	if (take_sample(v, &a))
		return EXIT_FAILED;
	for (long k = 0; v->count == 0 || k < v->count; k++) {
		sleep_s(v->interval);
		if (take_sample(v, &b)) {
			sample_free(&a);
			return EXIT_FAILED;
		}
		show(v, &a, &b, tty);
		sample_free(&a);
		a = b;
	}
	sample_free(&a);
	return EXIT_OK;
}
