/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost ports: the device callbacks (event thread) that bring a port up and
 * down, and the log of port-security events (main thread).
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

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
		if (moves == sw->moves_logged[i])
			continue;
		/* The last move of the batch since the previous look. */
		last = atomic_load(&ps->last_move);
		print_mac(last >> 16, mac, sizeof(mac));
		fprintf(stderr, "port %u: MAC %s moved here from port %u"
			" (%" PRIu64 " moves on this port)\n", i, mac,
			(unsigned)(uint16_t)last, moves);
		sw->moves_logged[i] = moves;
	}
}
