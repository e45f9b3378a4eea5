/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ports: the device callbacks (event thread) that bring a vhost port up and
 * down, ports added and removed at run time (control or main thread, under
 * cfg_lock), and the log of port-security events (main thread).
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "afpacket.h"
#include "port_spec.h"
#include "sw_vxlan.h"
#include "switch.h"

static struct sw *sw_of(struct sw_port *port)
{
	return (struct sw *)((char *)(port - port->id) -
			     offsetof(struct sw, ports));
}

static int on_new_device(struct vhost_dev *dev)
{
	struct sw_port *port = vhost_dev_socket_opaque(dev);

	if (atomic_load(&port->dev)) {
		fprintf(stderr, "port %u: already has a device; refusing\n",
			port->id);
		return -1;
	}
	if (atomic_load(&port->state) == SW_SLOT_DYING)
		return -1; /* being removed: its socket closes next */
	ethdev_vq_totals_attach(&port->vq_totals, dev);
	atomic_store(&port->dev, dev);
	atomic_store(&port->up, true);
	atomic_fetch_add(&port->connects, 1);
	sw_assign_port(sw_of(port), port);
	/* Its queues go to workers as their rings come up (sched.c). */
	fprintf(stderr, "port %u (%s): VM connected, features 0x%" PRIx64 "\n",
		port->id, port->name, vhost_dev_features(dev));
	return 0;
}

static void on_destroy_device(struct vhost_dev *dev)
{
	struct sw_port *port = vhost_dev_socket_opaque(dev);
	struct sw *sw = sw_of(port);

	if (atomic_load(&port->dev) != dev)
		return;
	atomic_store(&port->up, false);
	atomic_store(&port->dev, NULL);
	sw_unassign_port(sw, port);
	/* Every worker may be sending to this port: wait them out (also
	 * while the switch stops: the library frees dev when we return). */
	sw_quiesce(sw);
	/* Its counters join the port's totals before the library frees it. */
	ethdev_vq_totals_detach(&port->vq_totals, dev);
	mac_table_flush_port(sw->macs, port->id);
	/* No worker polls the port now: its learned MACs and lock go. */
	port_sec_reset(&sw->sec[port->id]);
	fprintf(stderr, "port %u (%s): VM disconnected\n", port->id, port->name);
}

static const struct vhost_device_ops ops = {
	.new_device = on_new_device,
	.destroy_device = on_destroy_device,
	.vring_state_changed = sw_vring_state_changed,
};

int sw_port_start(struct sw *sw, struct sw_port *p, bool client)
{
	int ret;

	ret = vhost_socket_register(sw->ctx, p->name,
				    client ? VHOST_SOCKET_CLIENT : 0, &p->sock);
	if (!ret)
		ret = sw_port_setup_queues(p);
	if (!ret)
		ret = vhost_socket_set_ops(p->sock, &ops, p);
	/* One VM per port: a second front-end is refused at once. */
	if (!ret && !client)
		ret = vhost_socket_set_max_connections(p->sock, 1);
	if (!ret)
		ret = vhost_socket_start(p->sock);
	if (ret && p->sock) {
		vhost_socket_unregister(p->sock);
		p->sock = NULL;
	}
	return ret;
}

static void print_mac(uint64_t m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x",
		 (unsigned)(m >> 40) & 0xff, (unsigned)(m >> 32) & 0xff,
		 (unsigned)(m >> 24) & 0xff, (unsigned)(m >> 16) & 0xff,
		 (unsigned)(m >> 8) & 0xff, (unsigned)m & 0xff);
}

void sw_log_events(struct sw *sw)
{
	/* A port's security settings change when its slot is reused. */
	pthread_mutex_lock(&sw->cfg_lock);
	for (unsigned i = 0; i < sw->nports; i++) {
		struct port_sec *ps = &sw->sec[i];
		uint64_t moves = atomic_load_explicit(&ps->moves,
						      memory_order_acquire);
		bool locked = ps->lock_first && !ps->configured &&
			      atomic_load(&ps->nallowed);
		uint64_t last;
		char mac[18];

		if (locked != sw->lock_logged[i]) {
			sw->lock_logged[i] = locked;
			if (locked) {
				print_mac(atomic_load(&ps->allowed[0]) - 1, mac,
					  sizeof(mac));
				fprintf(stderr, "port %u: locked to MAC %s\n", i,
					mac);
			}
		}
		if (moves <= sw->moves_logged[i]) {
			sw->moves_logged[i] = moves; /* zeroed: port removed */
			continue;
		}
		/* The last move of the batch since the previous look. */
		last = atomic_load(&ps->last_move);
		print_mac(last >> 16, mac, sizeof(mac));
		fprintf(stderr, "port %u: MAC %s moved here from port %u"
			" (%" PRIu64 " moves on this port)\n", i, mac,
			(unsigned)(uint16_t)last, moves);
		sw->moves_logged[i] = moves;
	}
	pthread_mutex_unlock(&sw->cfg_lock);
}

const char *sw_port_name(const struct sw_port *p)
{
	return p->kind == PORT_VHOST ? p->name : p->kind == PORT_VXLAN ?
	       "vxlan" : p->ifname;
}

const char *sw_port_kind_name(const struct sw_port *p)
{
	return p->kind == PORT_VHOST ? "vhost" : p->kind == PORT_TAP ? "tap" :
	       p->kind == PORT_NIC ? "nic" : "vxlan";
}

struct sw_port *sw_port_find(struct sw *sw, const char *name_or_id)
{
	unsigned n = sw->nports;
	char *end;
	unsigned long id;

	if (!name_or_id || !*name_or_id)
		return NULL;
	if (*name_or_id >= '0' && *name_or_id <= '9') {
		id = strtoul(name_or_id, &end, 10);
		if (!*end)
			return id < n && atomic_load(&sw->ports[id].state) !=
					 SW_SLOT_FREE ? &sw->ports[id] : NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		struct sw_port *p = &sw->ports[i];

		if (atomic_load(&p->state) == SW_SLOT_FREE)
			continue;
		if (!strcmp(sw_port_name(p), name_or_id) ||
		    (p->name && !strcmp(p->name, name_or_id)))
			return p;
	}
	return NULL;
}

/* Every counter of a port back to zero (no worker touches it now). */
static void port_counters_zero(struct sw_port *p)
{
	_Atomic uint64_t *c[] = { &p->rx_packets, &p->rx_bytes, &p->rx_drops,
				  &p->tx_packets, &p->tx_bytes, &p->tx_drops,
				  &p->tx_no_room, &p->tx_unplaceable,
				  &p->tx_segmented, &p->connects, &p->txq_on,
				  &p->rxq_on };

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		atomic_store(c[i], 0);
	for (unsigned q = 0; q < SW_MAX_QP; q++) {
		atomic_store(&p->q_rx_packets[q], 0);
		atomic_store(&p->q_tx_packets[q], 0);
	}
	atomic_store(&p->tx_lock, 0);
}

static int add_error(char *err, size_t len, int ret, const char *fmt,
		     const char *arg)
{
	snprintf(err, len, fmt, arg);
	return ret;
}

static bool name_taken(struct sw *sw, const char *name)
{
	for (unsigned i = 0; i < sw->nports; i++) {
		const struct sw_port *p = &sw->ports[i];

		if (atomic_load(&p->state) != SW_SLOT_FREE &&
		    ((p->name && !strcmp(p->name, name)) ||
		     !strcmp(sw_port_name(p), name)))
			return true;
	}
	return false;
}

/* Fill a free slot from the spec (no worker looks at it: it is not up and
 * owns no unit). */
static void slot_fill(struct sw *sw, struct sw_port *p,
		      const struct port_spec *s)
{
	struct port_sec *ps = &sw->sec[p->id];

	p->kind = s->kind;
	memcpy(p->name_buf, s->name, sizeof(p->name_buf));
	p->name = p->name_buf;
	p->client = s->client;
	p->queues = s->kind == PORT_VHOST ? s->queues : 1;
	p->pnet = s->pnet;
	p->sock = NULL;
	p->tap_fd = -1;
	p->vx = NULL;
	p->afp = NULL;
	atomic_store(&p->worker, -1);
	/* An uplink's name is shorter than IFNAMSIZ (port_spec_parse). */
	memset(p->ifname, 0, sizeof(p->ifname));
	if (s->kind != PORT_VHOST)
		memcpy(p->ifname, s->name, strnlen(s->name,
						   sizeof(p->ifname) - 1));
	port_sec_clear(ps);
	atomic_store(&ps->net, network_of(&s->pnet));
	ps->max_learned = s->max_learned;
	ps->lock_first = s->lock;
	for (unsigned i = 0; i < s->nmacs; i++)
		port_sec_allow(ps, s->macs[i]);
}

/* Open the port's socket, TAP, interface or VXLAN sockets; 0 or -errno. */
static int slot_open(struct sw *sw, struct sw_port *p,
		     const struct port_spec *s, char *err, size_t len)
{
	int ret;

	if (p->kind == PORT_VXLAN) {
		ret = sw_vxlan_open(p, s->vxlan_local, err, len);
		if (ret)
			return ret;
	} else if (p->kind == PORT_VHOST) {
		ret = sw_port_start(sw, p, p->client);
		if (ret)
			return add_error(err, len, ret, "%s: cannot start the "
					 "socket", p->name);
		return 0;
	}
	if (p->kind == PORT_NIC) {
		p->afp = calloc(1, sizeof(*p->afp));
		ret = p->afp ? afp_open(p->afp, p->name) : -ENOMEM;
		if (ret) {
			free(p->afp);
			p->afp = NULL;
			return add_error(err, len, ret, "nic %s: cannot open",
					 p->name);
		}
	} else {
		p->tap_fd = tap_open(p->name, p->ifname, sizeof(p->ifname));
		if (p->tap_fd < 0) {
			ret = p->tap_fd;
			p->tap_fd = -1;
			return add_error(err, len, ret, "tap %s: cannot open",
					 p->name);
		}
	}
	atomic_store(&p->up, true);
	sw_assign_port(sw, p);
	return 0;
}

int sw_port_add(struct sw *sw, const struct port_spec *s, char *err,
		size_t len)
{
	struct sw_port *p = NULL;
	unsigned n;
	struct stat st;
	int ret;

	pthread_mutex_lock(&sw->cfg_lock);
	n = sw->nports;
	if (s->kind == PORT_VXLAN && sw_vxlan_port(sw)) {
		ret = add_error(err, len, -EEXIST, "%s: there is a VXLAN uplink "
				"already (only one)", s->vxlan_local);
		goto out;
	}
	if (name_taken(sw, s->name)) {
		ret = add_error(err, len, -EEXIST, "a port named %s exists",
				s->name);
		goto out;
	}
	if (s->kind == PORT_VHOST && !s->client && lstat(s->name, &st) == 0 &&
	    !S_ISSOCK(st.st_mode)) {
		ret = add_error(err, len, -EEXIST, "%s exists and is not a "
				"socket", s->name);
		goto out;
	}
	for (unsigned i = 0; i < n && !p; i++)
		if (atomic_load(&sw->ports[i].state) == SW_SLOT_FREE)
			p = &sw->ports[i];
	if (!p && n >= SW_MAX_PORTS) {
		snprintf(err, len, "too many ports (at most %d)", SW_MAX_PORTS);
		ret = -ENOSPC;
		goto out;
	}
	if (!p) {
		p = &sw->ports[n];
		p->id = (uint16_t)n;
	}
	slot_fill(sw, p, s);
	atomic_store(&p->state, SW_SLOT_LIVE);
	if (p->id == n)
		atomic_store(&sw->nports, n + 1); /* not up: skipped until so */
	ret = slot_open(sw, p, s, err, len);
	if (ret) {
		atomic_store(&p->state, SW_SLOT_FREE);
		goto out;
	}
	ret = p->id;
	fprintf(stderr, "port %u (%s): added\n", p->id, sw_port_name(p));
out:
	pthread_mutex_unlock(&sw->cfg_lock);
	return ret;
}

int sw_port_del(struct sw *sw, const char *name_or_id, char *err, size_t len)
{
	struct sw_port *p;
	int id;

	pthread_mutex_lock(&sw->cfg_lock);
	p = sw_port_find(sw, name_or_id);
	if (!p || atomic_load(&p->state) != SW_SLOT_LIVE) {
		id = add_error(err, len, -ENOENT, "no port %s", name_or_id);
		goto out;
	}
	id = p->id;
	atomic_store(&p->state, SW_SLOT_DYING);
	atomic_store(&p->up, false);
	/* A vhost port: its device is destroyed on the event thread (which
	 * quiesces the workers) before this returns; the file goes too. */
	if (p->sock)
		vhost_socket_unregister(p->sock);
	p->sock = NULL;
	/* Its units leave their workers; then no pass that saw it up is
	 * still running, so nothing sends to it or learns on it. */
	sw_unassign_port(sw, p);
	sw_quiesce(sw);
	if (p->tap_fd >= 0)
		close(p->tap_fd);
	p->tap_fd = -1;
	if (p->afp) {
		afp_close(p->afp);
		free(p->afp);
		p->afp = NULL;
	}
	/* The VXLAN uplink: its sockets, VNI map and VTEPs go (a later
	 * port_add starts empty); the MACs behind its VTEPs are its port's,
	 * flushed next. */
	sw_vxlan_close(p);
	/* Nothing may reach a later port in this slot through its MACs. */
	mac_table_flush_port(sw->macs, p->id);
	port_sec_clear(&sw->sec[p->id]);
	port_counters_zero(p);
	/* The per-ring totals of the old port (no device attached now). */
	ethdev_vq_totals_fini(&p->vq_totals);
	ethdev_vq_totals_init(&p->vq_totals);
	fprintf(stderr, "port %d (%s): removed\n", id, sw_port_name(p));
	snprintf(err, len, "%s", sw_port_name(p));
	atomic_store(&p->state, SW_SLOT_FREE);
out:
	pthread_mutex_unlock(&sw->cfg_lock);
	return id;
}
