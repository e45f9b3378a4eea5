/* SPDX-License-Identifier: BSD-3-Clause */
/* Context and socket state (control plane; event thread only, except the
 * setters, which run there through event_loop_call). */
#ifndef VHOST_SOCKET_H
#define VHOST_SOCKET_H

#include <sys/un.h>

#include "device.h"
#include "event.h"

struct vhost_ctx {
	struct event_loop *el;
	struct vhost_socket *sockets;
	unsigned nsockets, max_sockets;
	unsigned ndevices, max_devices;
	uint64_t next_dev_id;
	struct mem_budget mem;         /* guest memory over all connections */
	unsigned conn_mem_regions;     /* per-connection defaults */
	uint64_t conn_mem_bytes;
	int ring_error_fd;                    /* ring_error.c */
	struct event_handler *ring_error_evh;
};

struct vhost_socket {
	struct vhost_ctx *ctx;
	struct vhost_socket *next;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint32_t flags;
	bool started;
	bool unregistering;
	bool created_file;         /* server: we bound the path, we unlink it */
	int listen_fd;
	int spare_fd;              /* kept to accept-and-drop when out of fds */
	struct event_handler *listen_evh;
	int timer_fd;              /* client: reconnect back-off */
	struct event_handler *timer_evh;
	unsigned backoff_ms;
	uint64_t features;
	uint64_t protocol_features;
	uint16_t max_queue_pairs;
	unsigned max_connections;
	unsigned mem_regions;      /* per connection; 0: the context's */
	uint64_t mem_bytes;        /* per connection; 0: the context's */
	const struct vhost_device_ops *ops;
	void *opaque;
	struct vhost_dev *devs;
	unsigned ndevs;
};

/* The guest memory budget of each connection of sock. */
unsigned socket_conn_mem_regions(const struct vhost_socket *sock);
uint64_t socket_conn_mem_bytes(const struct vhost_socket *sock);

/* A device of sock went away: unlink it; a client socket reconnects. */
void socket_device_gone(struct vhost_socket *sock, struct vhost_dev *dev);

#endif
