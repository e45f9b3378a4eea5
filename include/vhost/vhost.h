/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhost: a vhost-user back-end for virtio-net.
 *
 * Model
 * -----
 * A context (struct vhost_ctx) owns one event thread. Sockets are registered
 * on a context; each connection accepted (server mode) or made (client mode)
 * on a socket is one device (struct vhost_dev). The event thread runs the
 * vhost-user protocol and calls the application's callbacks
 * (struct vhost_device_ops). Application threads move packets with
 * vhost_enqueue_burst() / vhost_dequeue_burst().
 *
 * Threads
 * -------
 * - Every vhost_ctx_* and vhost_socket_* function may be called from any
 *   thread, including from inside a callback. They run on the event thread
 *   and return when done.
 * - Callbacks always run on the event thread, one at a time.
 * - The burst functions and vhost_vring_* may be called from any thread, but
 *   one thread at a time per virtqueue (the library takes one uncontended
 *   trylock per burst; a burst that loses it returns 0).
 *
 * Device lifetime
 * ---------------
 * new_connection(dev) ... [new_device(dev) ... destroy_device(dev)]* ...
 * destroy_connection(dev). A dev pointer is valid from new_connection until
 * destroy_connection returns; after that it is freed and must never be used.
 * Between new_device and destroy_device the device is "running": the
 * data path may be used. When destroy_device returns, no application thread
 * may call a burst function on that device any more: stop your workers
 * (or make them drop the device) before returning. A device may become
 * running again (new_device once more) on the same connection, for example
 * after the front-end stopped and restarted its rings.
 *
 * Signals
 * -------
 * When it first maps guest memory the library installs a SIGBUS handler
 * (SA_SIGINFO): a front-end that shrinks the file behind guest memory would
 * otherwise kill the process on the next access. It handles faults inside
 * guest memory mappings only (the page becomes zeroes); any other SIGBUS
 * goes to the handler installed before it, or to the default action.
 *
 * Packet ownership
 * ----------------
 * vhost_enqueue_burst() copies packets into the guest: the caller keeps
 * ownership of every packet passed, sent or not. vhost_dequeue_burst() gives
 * the caller the packets it returns (allocated from the given pool); the
 * caller frees them.
 */
#ifndef VHOST_VHOST_H
#define VHOST_VHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vhost/pktbuf.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vhost_ctx;
struct vhost_socket;
struct vhost_dev;

/* ---------------------------------------------------------------- context */

/*
 * Guest memory budgets. A front-end shares guest memory as regions (fds
 * the library maps); a compromised one could map until the process has no
 * address space, page tables or SIGBUS-guard slots left for the others. So
 * each connection has a budget of regions and of mapped bytes (counted as
 * really mapped: rounded to pages, or huge pages), and the context has one
 * over all its connections. A region past a budget is refused with an error
 * reply (REPLY_ACK) or, without REPLY_ACK, the connection is closed; other
 * connections are unaffected. GET_MAX_MEM_SLOTS reports the connection's
 * region budget, so QEMU plans memory hot-plug within it. Region fds are not
 * kept once mapped.
 *
 * Defaults: per connection 128 regions (QEMU uses 2-3 for a plain VM, one
 * more per hot-plugged DIMM; DPDK offers 8) and 1 TiB; per context 16384
 * regions (the process has VHOST_MEM_GUARD_SLOTS = 65536 guard slots over
 * all contexts) and 16 TiB (x86-64 user space is 128 TiB).
 */
#define VHOST_MEM_GUARD_SLOTS 65536u
#define VHOST_DEFAULT_CONN_MEM_REGIONS 128u
#define VHOST_DEFAULT_CONN_MEM_BYTES (1ull << 40)
#define VHOST_DEFAULT_CTX_MEM_REGIONS 16384u
#define VHOST_DEFAULT_CTX_MEM_BYTES (16ull << 40)

struct vhost_ctx_params {
	unsigned max_sockets;  /* 0: default 64 */
	unsigned max_devices;  /* over all sockets; 0: default 1024 */
	/* Per connection, unless its socket sets its own
	 * (vhost_socket_set_mem_limits). 0: default. At most 509 regions
	 * (the protocol's limit). */
	unsigned conn_mem_regions;
	uint64_t conn_mem_bytes;
	/* Over all connections of the context. 0: default. At most
	 * VHOST_MEM_GUARD_SLOTS regions. */
	unsigned ctx_mem_regions;
	uint64_t ctx_mem_bytes;
};

/* Start a context and its event thread. NULL params: defaults.
 * Returns NULL with errno set on failure. */
struct vhost_ctx *vhost_ctx_create(const struct vhost_ctx_params *params);

/* Unregister every socket (closing its devices, with callbacks), stop the
 * event thread and free the context. Not from inside a callback. */
void vhost_ctx_destroy(struct vhost_ctx *ctx);

/* ----------------------------------------------------------------- socket */

#define VHOST_SOCKET_CLIENT       (1u << 0) /* connect instead of listen */
#define VHOST_SOCKET_NO_RECONNECT (1u << 1) /* client: do not retry */

struct vhost_device_ops {
	/* A front-end connected. Return < 0 to refuse it (closed at once). */
	int (*new_connection)(struct vhost_dev *dev);
	/* The connection is gone; dev is freed when this returns. */
	void (*destroy_connection)(struct vhost_dev *dev);
	/* The device became ready (memory mapped, first queue pair set up and
	 * enabled, DRIVER_OK when STATUS was negotiated). Return < 0 to refuse:
	 * the connection is then closed. */
	int (*new_device)(struct vhost_dev *dev);
	/* The device stops running; see "Device lifetime" above. */
	void (*destroy_device)(struct vhost_dev *dev);
	/* A virtqueue became usable or unusable while the device runs. Right
	 * after new_device returns, it is called once for every usable ring;
	 * after that, after each message that changed a ring's state
	 * (enabled, stopped, started, memory or addresses changed), and
	 * promptly (without waiting for a message) when the guest broke a
	 * ring: moved avail->idx more than the ring size, or made available
	 * a head that is not a descriptor. The front-end hears of a broken
	 * ring on its error eventfd (SET_VRING_ERR); the ring comes back when
	 * the front-end sets it up again. destroy_device implies every ring
	 * is off. */
	void (*vring_state_changed)(struct vhost_dev *dev, uint16_t queue,
				    bool enabled);
	/* Negotiated features changed while the device runs (LOG_ALL). */
	void (*features_changed)(struct vhost_dev *dev, uint64_t features);
};

/* Register a UNIX socket path (not yet listening/connecting).
 * flags: VHOST_SOCKET_*. Returns 0 or -errno (-ENOSPC past max_sockets,
 * -EEXIST if the path is registered already, -ENAMETOOLONG). */
int vhost_socket_register(struct vhost_ctx *ctx, const char *path,
			  uint32_t flags, struct vhost_socket **out);

/* Close every connection of the socket (destroy_device and
 * destroy_connection are called), remove the socket file it created, free
 * it. Safe while connections are live and from inside callbacks (but not
 * from a callback while a burst on the same device waits in your code). */
int vhost_socket_unregister(struct vhost_socket *sock);

/* Features, before vhost_socket_start(). The offered set is always a subset
 * of what libvhost supports (vhost_supported_features()): bits outside it are
 * refused with -ENOTSUP. Offered by default: all of them but
 * VIRTIO_NET_F_MQ, which an application that polls every queue pair turns
 * on (with vhost_socket_set_max_queue_pairs). */
uint64_t vhost_supported_features(void);
uint64_t vhost_supported_protocol_features(void);
int vhost_socket_set_features(struct vhost_socket *sock, uint64_t features);
int vhost_socket_enable_features(struct vhost_socket *sock, uint64_t features);
int vhost_socket_disable_features(struct vhost_socket *sock, uint64_t features);
uint64_t vhost_socket_get_features(const struct vhost_socket *sock);
int vhost_socket_set_protocol_features(struct vhost_socket *sock,
				       uint64_t features);
uint64_t vhost_socket_get_protocol_features(const struct vhost_socket *sock);
/* Queue pairs offered through GET_QUEUE_NUM (1..VHOST_MAX_QUEUE_PAIRS). */
#define VHOST_MAX_QUEUE_PAIRS 64
int vhost_socket_set_max_queue_pairs(struct vhost_socket *sock, uint16_t n);
/* Connections at once on a server socket (default 64). */
int vhost_socket_set_max_connections(struct vhost_socket *sock, unsigned n);
/* Guest memory budget of each connection of this socket (see "Guest memory
 * budgets" above): regions (1..509) and mapped bytes; 0 for either: the
 * context's. Before vhost_socket_start(). */
int vhost_socket_set_mem_limits(struct vhost_socket *sock, unsigned regions,
				uint64_t bytes);
/* Callbacks and an opaque pointer given back by vhost_dev_socket_opaque(). */
int vhost_socket_set_ops(struct vhost_socket *sock,
			 const struct vhost_device_ops *ops, void *opaque);
/* Listen (server) or connect (client). A client without NO_RECONNECT
 * returns 0 even if the peer is absent and keeps trying in the background
 * (back-off 50 ms doubling to 1 s). */
int vhost_socket_start(struct vhost_socket *sock);
const char *vhost_socket_path(const struct vhost_socket *sock);

/* ----------------------------------------------------------------- device */

/* Valid between new_connection and the end of destroy_connection. */
uint64_t vhost_dev_id(const struct vhost_dev *dev);     /* unique per ctx */
const char *vhost_dev_path(const struct vhost_dev *dev); /* its socket's */
void *vhost_dev_socket_opaque(const struct vhost_dev *dev);
void vhost_dev_set_priv(struct vhost_dev *dev, void *priv);
void *vhost_dev_get_priv(const struct vhost_dev *dev);
uint64_t vhost_dev_features(const struct vhost_dev *dev);
uint64_t vhost_dev_protocol_features(const struct vhost_dev *dev);
/* Number of virtqueues the front-end set up (2 per queue pair). */
uint16_t vhost_dev_num_vrings(const struct vhost_dev *dev);
/* MTU from NET_SET_MTU, 0 if none. */
uint16_t vhost_dev_mtu(const struct vhost_dev *dev);

/* Virtqueue numbering follows virtio-net: queue 2*i is the RX queue of pair
 * i (host -> guest, enqueue), 2*i+1 its TX queue (guest -> host, dequeue). */
#define VHOST_QUEUE_RX(pair) ((uint16_t)((pair) * 2))
#define VHOST_QUEUE_TX(pair) ((uint16_t)((pair) * 2 + 1))

/* ------------------------------------------------------------- data path */

/* Copy up to n packets into the guest's RX queue, in order. Returns how
 * many were placed; the caller keeps ownership of all n. The burst stops
 * early when the guest has no more room (retry later or drop), or at a
 * packet that can never be placed (larger than the guest's buffers, or an
 * offload the guest did not negotiate: counted in the queue's drop
 * statistics; the caller should drop it). 0 if the queue is not running,
 * the lock is busy, or the guest posted no buffers. */
uint16_t vhost_enqueue_burst(struct vhost_dev *dev, uint16_t queue,
			     struct vhost_pktbuf *const *pkts, uint16_t n);

/* Why an enqueue burst placed fewer than n packets (or all of them). */
enum vhost_enqueue_status {
	VHOST_ENQUEUE_DONE = 0,   /* every packet was placed */
	VHOST_ENQUEUE_NO_ROOM,    /* the guest posted too few buffers: the
				   * rest may be retried later */
	VHOST_ENQUEUE_BUSY,       /* the control thread holds the ring (or the
				   * per-burst budget of chains without
				   * progress ran out on the guest's junk
				   * buffers): retry soon */
	VHOST_ENQUEUE_UNPLACEABLE,/* pkts[returned] can never be placed (larger
				   * than the guest's buffer without
				   * MRG_RXBUF, or with it than the whole
				   * ring's buffers or 1024 descriptors; an
				   * offload the guest refused): drop it and
				   * go on with the next */
	VHOST_ENQUEUE_STOPPED,    /* the queue is not running (not set up,
				   * disabled, bad queue index) or the guest
				   * broke it during this burst (the packets
				   * before were placed) */
};

/* vhost_enqueue_burst, also telling why it stopped (status may be NULL). */
uint16_t vhost_enqueue_burst_status(struct vhost_dev *dev, uint16_t queue,
				    struct vhost_pktbuf *const *pkts,
				    uint16_t n,
				    enum vhost_enqueue_status *status);

/* Take up to n packets from the guest's TX queue into buffers from pool.
 * Returns how many were stored in pkts; the caller owns them. */
uint16_t vhost_dequeue_burst(struct vhost_dev *dev, uint16_t queue,
			     struct vhost_pktbuf_pool *pool,
			     struct vhost_pktbuf **pkts, uint16_t n);

/* Interrupt mode: the eventfd the guest kicks (-1 if none), and whether to
 * ask the guest for kicks. After enabling, check the ring once more (burst)
 * before sleeping: the guest may have added buffers in between. The fd
 * stays open while the ring is usable (from new_device or
 * vring_state_changed(true) until destroy_device or
 * vring_state_changed(false)); it is non-blocking; read it to clear it. */
int vhost_vring_kickfd(struct vhost_dev *dev, uint16_t queue);
int vhost_vring_enable_notify(struct vhost_dev *dev, uint16_t queue,
			      bool enable);
/* Buffers the guest has posted that we have not consumed yet. Packed
 * rings have no index for it: descriptors are counted, at most 256 (a
 * chain of k descriptors counts k). */
uint16_t vhost_vring_avail_count(struct vhost_dev *dev, uint16_t queue);
/* The same, counted up to max (at most max returned): what a burst needs
 * to size itself. On packed rings each count reads descriptor flags the
 * guest is writing; vhost_vring_avail_count's 256 costs a whole ring of
 * cache misses per call, this costs max / 4 lines. */
uint16_t vhost_vring_avail_upto(struct vhost_dev *dev, uint16_t queue,
				uint16_t max);

/* Drop reasons counted per virtqueue. */
enum vhost_drop_reason {
	VHOST_DROP_BAD_DESC,    /* descriptor chain violated the rules (also:
				 * a receive buffer that holds nothing, and
				 * once per broken ring) */
	VHOST_DROP_BAD_ADDR,    /* buffer outside guest memory */
	VHOST_DROP_BAD_HDR,     /* virtio-net header values invalid */
	VHOST_DROP_TOO_BIG,     /* packet larger than the buffers offered
				 * (dequeue: than the pool's buffers can ever
				 * hold; the chain is returned) */
	VHOST_DROP_NO_PKTBUF,   /* pool empty (dequeue) */
	VHOST_DROP_NO_ROOM,     /* ring full (enqueue): not dropped, returned */
	VHOST_DROP_DISABLED,    /* sent on a started but disabled TX ring */
	VHOST_DROP_REASONS
};

#define VHOST_SIZE_BUCKETS 8 /* <=64, <=127, <=255, <=511, <=1023, <=1518, <=9000, more */

struct vhost_vring_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t drops[VHOST_DROP_REASONS];
	uint64_t notifications;      /* call eventfd writes */
	uint64_t notify_suppressed;  /* bursts where the guest wanted none */
	uint64_t size_buckets[VHOST_SIZE_BUCKETS];
};

/* Read a virtqueue's counters (consistent enough for monitoring: each
 * counter is read once, without stopping the data path). */
int vhost_vring_stats_get(struct vhost_dev *dev, uint16_t queue,
			  struct vhost_vring_stats *stats);
int vhost_vring_stats_reset(struct vhost_dev *dev, uint16_t queue);

/* ------------------------------------------------------------------ log */

enum vhost_log_level {
	VHOST_LOG_ERR = 1,
	VHOST_LOG_WARNING = 2,
	VHOST_LOG_INFO = 3,
	VHOST_LOG_DEBUG = 4,
};
/* Messages above level are not emitted (default VHOST_LOG_INFO; the
 * environment variable VHOST_LOG_LEVEL=1..4 sets the initial level). */
void vhost_log_set_level(enum vhost_log_level level);
enum vhost_log_level vhost_log_get_level(void);
/* Route log lines elsewhere (NULL: stderr). Called from any thread. */
void vhost_log_set_handler(void (*fn)(enum vhost_log_level level,
				      const char *line));

#ifdef __cplusplus
}
#endif
#endif
