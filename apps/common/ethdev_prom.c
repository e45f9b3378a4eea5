/* SPDX-License-Identifier: BSD-3-Clause */
/* Prometheus families from ethdev snapshots (see ethdev_prom.h). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ethdev_prom.h"

/* Upper bounds of libvhost's size ranges (VHOST_SIZE_BUCKETS); the last
 * range has none (+Inf). */
static const double size_le[VHOST_SIZE_BUCKETS - 1] = {
	64, 127, 255, 511, 1023, 1518, 9000
};

struct snapshots {
	unsigned n;
	struct ethdev_port *ports;
};

static void take(struct snapshots *s, const struct ethdev_provider *pv)
{
	uint16_t ids[ETHDEV_MAX_PORTS];
	unsigned n = pv->list(pv->arg, ids, ETHDEV_MAX_PORTS);

	s->n = 0;
	s->ports = calloc(n ? n : 1, sizeof(*s->ports));
	if (!s->ports)
		return;
	for (unsigned i = 0; i < n && i < ETHDEV_MAX_PORTS; i++)
		if (!pv->snapshot(pv->arg, ids[i], &s->ports[s->n]))
			s->n++;
}

static void family(struct prom *p, const char *prefix, const char *name,
		   enum prom_type type, const char *help)
{
	char full[PROM_MAX_NAME_LEN];

	snprintf(full, sizeof(full), "%s_%s", prefix, name);
	prom_family(p, full, type, help);
}

static void port_labels(struct prom_labels *l, const struct ethdev_port *e,
			const char *dir)
{
	prom_labels_clear(l);
	prom_label_u(l, "port", e->port_id);
	prom_label(l, "name", e->name);
	prom_label(l, "driver", e->driver_name);
	if (dir)
		prom_label(l, "direction", dir);
}

static void queue_labels(struct prom_labels *l, const struct ethdev_port *e,
			 unsigned q, bool rx)
{
	port_labels(l, e, rx ? "rx" : "tx");
	prom_label_u(l, "queue", q);
}

static unsigned nq(const struct ethdev_port *e, bool rx)
{
	unsigned n = rx ? e->nb_rx_queues : e->nb_tx_queues;

	return n < ETHDEV_MAX_QUEUES ? n : ETHDEV_MAX_QUEUES;
}

static const struct ethdev_queue *queue(const struct ethdev_port *e,
					unsigned q, bool rx)
{
	return rx ? &e->rxq[q] : &e->txq[q];
}

/* One sample per queue (ring stats ports only when ring_only). */
static void per_queue(struct prom *p, const struct snapshots *s,
		      bool ring_only, size_t offset)
{
	struct prom_labels l;

	for (int rx = 1; rx >= 0; rx--)
		for (unsigned i = 0; i < s->n; i++) {
			const struct ethdev_port *e = &s->ports[i];

			if (ring_only && !e->has_ring_stats)
				continue;
			for (unsigned q = 0; q < nq(e, rx); q++) {
				queue_labels(&l, e, q, rx);
				prom_value(p, &l, *(const uint64_t *)
					   ((const char *)queue(e, q, rx) + offset));
			}
		}
}

static void port_totals(struct prom *p, const struct snapshots *s,
			const char *prefix)
{
	struct prom_labels l;

	family(p, prefix, "port_packets_total", PROM_COUNTER,
	       "Packets by port and direction (rx: from the port).");
	for (unsigned i = 0; i < s->n; i++) {
		port_labels(&l, &s->ports[i], "rx");
		prom_value(p, &l, s->ports[i].ipackets);
		port_labels(&l, &s->ports[i], "tx");
		prom_value(p, &l, s->ports[i].opackets);
	}
	family(p, prefix, "port_bytes_total", PROM_COUNTER,
	       "Bytes by port and direction (rx: from the port).");
	for (unsigned i = 0; i < s->n; i++) {
		port_labels(&l, &s->ports[i], "rx");
		prom_value(p, &l, s->ports[i].ibytes);
		port_labels(&l, &s->ports[i], "tx");
		prom_value(p, &l, s->ports[i].obytes);
	}
	family(p, prefix, "port_drops_total", PROM_COUNTER,
	       "Packets lost by port, direction and reason (DPDK's imissed, "
	       "ierrors, rx_nombuf, oerrors).");
	for (unsigned i = 0; i < s->n; i++) {
		const struct ethdev_port *e = &s->ports[i];
		static const char *const reasons[] = { "missed", "errors",
						       "nombuf" };
		const uint64_t v[] = { e->imissed, e->ierrors, e->rx_nombuf };

		for (unsigned r = 0; r < 3; r++) {
			port_labels(&l, e, "rx");
			prom_label(&l, "reason", reasons[r]);
			prom_value(p, &l, v[r]);
		}
		port_labels(&l, e, "tx");
		prom_label(&l, "reason", "errors");
		prom_value(p, &l, e->oerrors);
	}
	family(p, prefix, "port_link_up", PROM_GAUGE,
	       "1 while a guest is connected (vhost) or the uplink is up.");
	for (unsigned i = 0; i < s->n; i++) {
		port_labels(&l, &s->ports[i], NULL);
		prom_value(p, &l, s->ports[i].link_up);
	}
}

static void queue_drops(struct prom *p, const struct snapshots *s)
{
	struct prom_labels l;

	for (int rx = 1; rx >= 0; rx--)
		for (unsigned i = 0; i < s->n; i++) {
			const struct ethdev_port *e = &s->ports[i];

			if (!e->has_ring_stats)
				continue;
			for (unsigned q = 0; q < nq(e, rx); q++)
				for (unsigned r = 0; r < VHOST_DROP_REASONS; r++) {
					const char *name = ethdev_drop_name(r);

					if (!name)
						continue;
					if (!strncmp(name, "drop_", 5))
						name += 5;
					queue_labels(&l, e, q, rx);
					prom_label(&l, "reason", name);
					prom_value(p, &l, queue(e, q, rx)->drops[r]);
				}
		}
}

static void size_histograms(struct prom *p, const struct snapshots *s)
{
	struct prom_labels l;

	for (int rx = 1; rx >= 0; rx--)
		for (unsigned i = 0; i < s->n; i++) {
			const struct ethdev_port *e = &s->ports[i];

			if (!e->has_ring_stats)
				continue;
			for (unsigned q = 0; q < nq(e, rx); q++) {
				const struct ethdev_queue *eq = queue(e, q, rx);

				queue_labels(&l, e, q, rx);
				prom_histogram(p, &l, size_le, eq->size_buckets,
					       VHOST_SIZE_BUCKETS,
					       (double)eq->bytes);
			}
		}
}

void ethdev_prom_render(struct prom *p, const char *prefix,
			const struct ethdev_provider *provider)
{
	struct snapshots s;

	take(&s, provider);
	if (!s.ports) {
		p->failed = true;
		return;
	}
	port_totals(p, &s, prefix);
	family(p, prefix, "queue_packets_total", PROM_COUNTER,
	       "Packets by port, queue and direction.");
	per_queue(p, &s, false, offsetof(struct ethdev_queue, packets));
	family(p, prefix, "queue_bytes_total", PROM_COUNTER,
	       "Bytes by port, queue and direction.");
	per_queue(p, &s, false, offsetof(struct ethdev_queue, bytes));
	family(p, prefix, "queue_drops_total", PROM_COUNTER,
	       "Packets dropped by vhost queue, direction and libvhost's "
	       "reason.");
	queue_drops(p, &s);
	family(p, prefix, "queue_guest_notifications_total", PROM_COUNTER,
	       "Interrupts sent to the guest (call eventfd writes).");
	per_queue(p, &s, true, offsetof(struct ethdev_queue, notifications));
	family(p, prefix, "queue_notify_suppressed_total", PROM_COUNTER,
	       "Bursts after which the guest wanted no interrupt.");
	per_queue(p, &s, true,
		  offsetof(struct ethdev_queue, notify_suppressed));
	family(p, prefix, "packet_size_bytes", PROM_HISTOGRAM,
	       "Packet sizes by vhost queue and direction (libvhost's ranges; "
	       "_sum is the queue's bytes).");
	size_histograms(p, &s);
	free(s.ports);
}
