/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK's ethdev commands (/ethdev/list, ...) over the application's port snapshots
 * (ethdev.h), with DPDK 22.11's key names: lib/ethdev/rte_ethdev.c
 * (eth_dev_handle_port_*) and the vhost PMD's xstats, which are
 * lib/vhost's per-virtqueue names ("rx_q0_good_packets").
 */
#include "ethdev.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry.h"

static const char *const drop_names[VHOST_DROP_REASONS] = {
	[VHOST_DROP_BAD_DESC] = "drop_bad_desc",
	[VHOST_DROP_BAD_ADDR] = "drop_bad_addr",
	[VHOST_DROP_BAD_HDR] = "drop_bad_hdr",
	[VHOST_DROP_TOO_BIG] = "drop_too_big",
	[VHOST_DROP_NO_PKTBUF] = "drop_no_pktbuf",
	[VHOST_DROP_NO_ROOM] = "drop_no_room",
	[VHOST_DROP_DISABLED] = "drop_disabled",
};

/* lib/vhost's size_bins[1..7]; our first bucket (<= 64) holds what DPDK
 * splits into undersize and 64, our last two (<= 9000, more) its last. */
static const char *const size_names[VHOST_SIZE_BUCKETS] = {
	"size_64_packets", "size_65_127_packets", "size_128_255_packets",
	"size_256_511_packets", "size_512_1023_packets",
	"size_1024_1518_packets", "size_1519_max_packets",
	"size_1519_max_packets",
};

const char *ethdev_drop_name(unsigned reason)
{
	return reason < VHOST_DROP_REASONS ? drop_names[reason] : NULL;
}

const char *ethdev_size_name(unsigned bucket)
{
	return bucket < VHOST_SIZE_BUCKETS ? size_names[bucket] : NULL;
}

/* ------------------------------------------------------------ totals */

void ethdev_vq_totals_init(struct ethdev_vq_totals *vt)
{
	memset(vt, 0, sizeof(*vt));
	pthread_mutex_init(&vt->lock, NULL);
}

void ethdev_vq_totals_fini(struct ethdev_vq_totals *vt)
{
	pthread_mutex_destroy(&vt->lock);
}

void ethdev_vq_totals_attach(struct ethdev_vq_totals *vt,
			     struct vhost_dev *dev)
{
	pthread_mutex_lock(&vt->lock);
	vt->dev = dev;
	pthread_mutex_unlock(&vt->lock);
}

static void stats_add(struct vhost_vring_stats *to,
		      const struct vhost_vring_stats *s)
{
	to->packets += s->packets;
	to->bytes += s->bytes;
	for (unsigned i = 0; i < VHOST_DROP_REASONS; i++)
		to->drops[i] += s->drops[i];
	to->notifications += s->notifications;
	to->notify_suppressed += s->notify_suppressed;
	for (unsigned i = 0; i < VHOST_SIZE_BUCKETS; i++)
		to->size_buckets[i] += s->size_buckets[i];
}

void ethdev_vq_totals_detach(struct ethdev_vq_totals *vt,
			     struct vhost_dev *dev)
{
	pthread_mutex_lock(&vt->lock);
	if (vt->dev == dev) {
		for (unsigned v = 0; v < 2 * ETHDEV_MAX_QUEUES; v++) {
			struct vhost_vring_stats s;
			if (vhost_vring_stats_get(dev, (uint16_t)v, &s) == 0)
				stats_add(&vt->base[v], &s);
		}
		vt->dev = NULL;
	}
	pthread_mutex_unlock(&vt->lock);
}

static void queue_from(struct ethdev_queue *q, const struct vhost_vring_stats *s)
{
	q->packets = s->packets;
	q->bytes = s->bytes;
	memcpy(q->size_buckets, s->size_buckets, sizeof(q->size_buckets));
	memcpy(q->drops, s->drops, sizeof(q->drops));
	q->notifications = s->notifications;
	q->notify_suppressed = s->notify_suppressed;
}

void ethdev_vq_totals_read(struct ethdev_vq_totals *vt,
			   struct ethdev_port *out, unsigned nq)
{
	if (nq > ETHDEV_MAX_QUEUES)
		nq = ETHDEV_MAX_QUEUES;
	pthread_mutex_lock(&vt->lock);
	for (unsigned v = 0; v < 2 * nq; v++) {
		struct vhost_vring_stats s = vt->base[v];
		struct vhost_vring_stats now;
		/* The device cannot go while we hold the lock: detach
		 * (destroy_device) waits for it. */
		if (vt->dev && vhost_vring_stats_get(vt->dev, (uint16_t)v,
						     &now) == 0)
			stats_add(&s, &now);
		queue_from(v & 1 ? &out->rxq[v / 2] : &out->txq[v / 2], &s);
	}
	pthread_mutex_unlock(&vt->lock);
	out->has_ring_stats = true;
}

/* ---------------------------------------------------------- handlers */

/* "N": a port id, as DPDK (digits first) but strict: nothing after it. */
static int parse_port(const char *params, uint16_t *id)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)params[0]))
		return -1;
	errno = 0;
	v = strtoul(params, &end, 10);
	if (errno || *end || v > UINT16_MAX)
		return -1;
	*id = (uint16_t)v;
	return 0;
}

/* The snapshot for params' port, malloc'ed (it is a few KB: off the
 * control thread's stack). NULL: no such port or bad params. */
static struct ethdev_port *snapshot_of(const struct ethdev_provider *p,
				       const char *params)
{
	uint16_t id;
	struct ethdev_port *port;

	if (parse_port(params, &id))
		return NULL;
	port = calloc(1, sizeof(*port));
	if (port && p->snapshot(p->arg, id, port) != 0) {
		free(port);
		return NULL;
	}
	if (port) {
		if (port->nb_rx_queues > ETHDEV_MAX_QUEUES)
			port->nb_rx_queues = ETHDEV_MAX_QUEUES;
		if (port->nb_tx_queues > ETHDEV_MAX_QUEUES)
			port->nb_tx_queues = ETHDEV_MAX_QUEUES;
	}
	return port;
}

static int h_list(const char *cmd, const char *params, struct jw *out,
		  void *arg)
{
	const struct ethdev_provider *p = arg;
	uint16_t ids[ETHDEV_MAX_PORTS];
	unsigned n;

	(void)cmd;
	if (params[0])
		return -1;
	n = p->list(p->arg, ids, ETHDEV_MAX_PORTS);
	if (n > ETHDEV_MAX_PORTS)
		n = ETHDEV_MAX_PORTS;
	jw_arr_open(out, NULL);
	for (unsigned i = 0; i < n; i++)
		jw_i64(out, NULL, ids[i]);
	jw_arr_close(out);
	return 0;
}

enum q_field { Q_PACKETS, Q_BYTES, Q_ERRORS };

/* DPDK fills all RTE_ETHDEV_QUEUE_STAT_CNTRS entries, unused ones 0. */
static void queue_array(struct jw *out, const char *key,
			const struct ethdev_queue *q, unsigned nq,
			enum q_field f)
{
	jw_arr_open(out, key);
	for (unsigned i = 0; i < ETHDEV_MAX_QUEUES; i++) {
		uint64_t v = 0;
		if (i < nq)
			v = f == Q_PACKETS ? q[i].packets :
			    f == Q_BYTES ? q[i].bytes : q[i].errors;
		jw_u64(out, NULL, v);
	}
	jw_arr_close(out);
}

static int h_stats(const char *cmd, const char *params, struct jw *out,
		   void *arg)
{
	struct ethdev_port *s = snapshot_of(arg, params);

	(void)cmd;
	if (!s)
		return -1;
	jw_obj_open(out, NULL);
	jw_u64(out, "ipackets", s->ipackets);
	jw_u64(out, "opackets", s->opackets);
	jw_u64(out, "ibytes", s->ibytes);
	jw_u64(out, "obytes", s->obytes);
	jw_u64(out, "imissed", s->imissed);
	jw_u64(out, "ierrors", s->ierrors);
	jw_u64(out, "oerrors", s->oerrors);
	jw_u64(out, "rx_nombuf", s->rx_nombuf);
	queue_array(out, "q_ipackets", s->rxq, s->nb_rx_queues, Q_PACKETS);
	queue_array(out, "q_opackets", s->txq, s->nb_tx_queues, Q_PACKETS);
	queue_array(out, "q_ibytes", s->rxq, s->nb_rx_queues, Q_BYTES);
	queue_array(out, "q_obytes", s->txq, s->nb_tx_queues, Q_BYTES);
	queue_array(out, "q_errors", s->rxq, s->nb_rx_queues, Q_ERRORS);
	jw_obj_close(out);
	free(s);
	return 0;
}

/* The vhost PMD's per-queue names (lib/vhost vhost_vq_stat_strings that
 * we count) and our drop reasons, for one direction. */
static void ring_xstats(struct jw *out, const char *dir,
			const struct ethdev_queue *q, unsigned nq)
{
	char key[64];

	for (unsigned i = 0; i < nq; i++) {
		const struct ethdev_queue *e = &q[i];
#define XKEY(suffix) (snprintf(key, sizeof(key), "%s_q%u_%s", dir, i, suffix), key)
		jw_u64(out, XKEY("good_packets"), e->packets);
		jw_u64(out, XKEY("good_bytes"), e->bytes);
		for (unsigned b = 0; b + 2 < VHOST_SIZE_BUCKETS; b++)
			jw_u64(out, XKEY(size_names[b]), e->size_buckets[b]);
		jw_u64(out, XKEY(size_names[VHOST_SIZE_BUCKETS - 2]),
		       e->size_buckets[VHOST_SIZE_BUCKETS - 2] +
		       e->size_buckets[VHOST_SIZE_BUCKETS - 1]);
		jw_u64(out, XKEY("guest_notifications"), e->notifications);
		jw_u64(out, XKEY("guest_notifications_suppressed"),
		       e->notify_suppressed);
		for (unsigned r = 0; r < VHOST_DROP_REASONS; r++)
			jw_u64(out, XKEY(drop_names[r]), e->drops[r]);
#undef XKEY
	}
}

static int h_xstats(const char *cmd, const char *params, struct jw *out,
		    void *arg)
{
	struct ethdev_port *s = snapshot_of(arg, params);
	char key[64];

	(void)cmd;
	if (!s)
		return -1;
	jw_obj_open(out, NULL);
	/* ethdev's own names first, as rte_eth_xstats_get does */
	jw_u64(out, "rx_good_packets", s->ipackets);
	jw_u64(out, "tx_good_packets", s->opackets);
	jw_u64(out, "rx_good_bytes", s->ibytes);
	jw_u64(out, "tx_good_bytes", s->obytes);
	jw_u64(out, "rx_missed_errors", s->imissed);
	jw_u64(out, "rx_errors", s->ierrors);
	jw_u64(out, "tx_errors", s->oerrors);
	jw_u64(out, "rx_mbuf_allocation_errors", s->rx_nombuf);
	for (unsigned i = 0; i < s->nb_rx_queues; i++) {
		snprintf(key, sizeof(key), "rx_q%u_packets", i);
		jw_u64(out, key, s->rxq[i].packets);
		snprintf(key, sizeof(key), "rx_q%u_bytes", i);
		jw_u64(out, key, s->rxq[i].bytes);
		snprintf(key, sizeof(key), "rx_q%u_errors", i);
		jw_u64(out, key, s->rxq[i].errors);
	}
	for (unsigned i = 0; i < s->nb_tx_queues; i++) {
		snprintf(key, sizeof(key), "tx_q%u_packets", i);
		jw_u64(out, key, s->txq[i].packets);
		snprintf(key, sizeof(key), "tx_q%u_bytes", i);
		jw_u64(out, key, s->txq[i].bytes);
	}
	if (s->has_ring_stats) {
		ring_xstats(out, "rx", s->rxq, s->nb_rx_queues);
		ring_xstats(out, "tx", s->txq, s->nb_tx_queues);
	}
	jw_obj_close(out);
	free(s);
	return 0;
}

static int h_link_status(const char *cmd, const char *params, struct jw *out,
			 void *arg)
{
	struct ethdev_port *s = snapshot_of(arg, params);

	(void)cmd;
	if (!s)
		return -1;
	jw_obj_open(out, NULL);
	if (s->link_up) {
		jw_str(out, "status", "UP");
		jw_u64(out, "speed", s->link_speed);
		jw_str(out, "duplex", "full-duplex");
	} else {
		jw_str(out, "status", "DOWN");
	}
	jw_obj_close(out);
	free(s);
	return 0;
}

static int h_info(const char *cmd, const char *params, struct jw *out,
		  void *arg)
{
	struct ethdev_port *s = snapshot_of(arg, params);
	char mac[18];

	(void)cmd;
	if (!s)
		return -1;
	s->name[sizeof(s->name) - 1] = '\0';
	s->driver_name[sizeof(s->driver_name) - 1] = '\0';
	snprintf(mac, sizeof(mac), "%02X:%02X:%02X:%02X:%02X:%02X", s->mac[0],
		 s->mac[1], s->mac[2], s->mac[3], s->mac[4], s->mac[5]);
	jw_obj_open(out, NULL);
	jw_str(out, "name", s->name);
	jw_i64(out, "state", 1); /* RTE_ETH_DEV_ATTACHED */
	jw_i64(out, "nb_rx_queues", s->nb_rx_queues);
	jw_i64(out, "nb_tx_queues", s->nb_tx_queues);
	jw_i64(out, "port_id", s->port_id);
	jw_i64(out, "mtu", s->mtu);
	jw_i64(out, "rx_mbuf_alloc_fail", (int64_t)s->rx_nombuf);
	jw_str(out, "mac_addr", mac);
	jw_i64(out, "promiscuous", 1); /* a switch port takes every MAC */
	jw_i64(out, "dev_started", s->link_up);
	jw_i64(out, "dev_configured", 1);
	jw_arr_open(out, "rxq_state");
	for (unsigned i = 0; i < s->nb_rx_queues; i++)
		jw_i64(out, NULL, s->link_up); /* RTE_ETH_QUEUE_STATE_STARTED */
	jw_arr_close(out);
	jw_arr_open(out, "txq_state");
	for (unsigned i = 0; i < s->nb_tx_queues; i++)
		jw_i64(out, NULL, s->link_up);
	jw_arr_close(out);
	jw_i64(out, "numa_node", -1);
	jw_str(out, "driver_name", s->driver_name);
	jw_obj_close(out);
	free(s);
	return 0;
}

int ethdev_register(struct tel *t, const struct ethdev_provider *p)
{
	static const struct {
		const char *cmd;
		tel_handler fn;
		const char *help;
	} cmds[] = {
		{ "/ethdev/list", h_list,
		  "Returns list of available ethdev ports. Takes no parameters" },
		{ "/ethdev/stats", h_stats,
		  "Returns the common stats for a port. Parameters: int port_id" },
		{ "/ethdev/xstats", h_xstats,
		  "Returns the extended stats for a port. Parameters: int port_id" },
		{ "/ethdev/link_status", h_link_status,
		  "Returns the link status for a port. Parameters: int port_id" },
		{ "/ethdev/info", h_info,
		  "Returns the device info for a port. Parameters: int port_id" },
	};
	int ret = 0;

	if (!t || !p || !p->list || !p->snapshot)
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && !ret; i++)
		ret = tel_register(t, cmds[i].cmd, cmds[i].fn, (void *)p,
				   cmds[i].help, 0);
	return ret;
}
