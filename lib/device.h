/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device and virtqueue state, shared by the control plane (event thread,
 * the only writer of everything here but the data-path fields) and the data
 * path (application threads, under the virtqueue lock).
 *
 * Locking: each virtqueue has one lock. The data path takes it with a
 * trylock once per burst and returns 0 if busy. The event thread takes it
 * (spinning; a burst is short) before it changes anything the data path
 * reads: ring addresses, the memory table (all virtqueues of the device),
 * features, fds, the access_ok flag. Fields marked "control" are read and
 * written by the event thread only.
 */
#ifndef VHOST_DEVICE_H
#define VHOST_DEVICE_H

#include <linux/virtio_ring.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <vhost/vhost.h>

#include "dirty_log.h"
#include "memory.h"
#include "message.h"

#define VHOST_MAX_RING_SIZE 32768u

struct packed_used {
	uint16_t id;
	uint16_t nslots;  /* ring slots the chain took */
	uint32_t len;
};

struct vhost_vring {
	/* ---- data path, read under lock ---- */
	_Atomic uint32_t lock;
	/* The data path may use the ring: the device runs, the ring is
	 * translated, started and enabled, and not broken. Written under the
	 * lock (by the event thread, and by a data thread that finds the ring
	 * broken: mark_broken); read under the lock by the data path and
	 * WITHOUT it by the event thread (device_report_vrings): atomic. */
	_Atomic bool access_ok;
	/* The guest broke a ring rule; off until the front-end sets the ring
	 * up again (the event thread clears it, under the lock). Set by a data
	 * thread under the lock; read by the event thread without it. */
	_Atomic bool broken;
	/* Breakages so far (data thread, under the lock, release); the event
	 * thread reports each once (ring_error.c) and keeps breaks_reported. */
	_Atomic uint32_t breaks;
	bool event_idx;      /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool mrg_rxbuf;      /* VIRTIO_NET_F_MRG_RXBUF negotiated */
	bool indirect;       /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool sync_used;      /* take last indices from used->idx at start */
	bool packed;         /* VIRTIO_F_RING_PACKED negotiated */
	uint64_t features;   /* the device's, copied under the lock */
	uint16_t hdr_len;    /* virtio-net header: 12 with VERSION_1 or MRG */
	uint16_t size;       /* split: a power of two; packed: any */
	uint16_t mask;       /* size - 1 (split) */
	struct vring_desc *desc;      /* split; NULL: not translated */
	struct vring_avail *avail;
	struct vring_used *used;
	/* Packed (virtio 1.1, 2.7): the descriptor ring (desc points at it
	 * too), the driver and device event suppression areas. */
	struct vring_packed_desc *pdesc;
	struct vring_packed_desc_event *driver_event;
	struct vring_packed_desc_event *device_event;
	/* Used entries of the burst, written to the ring at its end
	 * (packed: a used entry overwrites a descriptor, so a packet that is
	 * not placed must leave the ring untouched). size entries. */
	struct packed_used *shadow;
	uint16_t shadow_size;
	/* Split: free-running indices. Packed: positions < size, with the
	 * wrap counters. */
	uint16_t last_avail_idx;
	uint16_t last_used_idx;
	/* Split: entries avail->idx showed beyond last_avail_idx when last
	 * read. A burst these cover does not read avail->idx again: the
	 * guest writes that line, so each read is a transfer from its core.
	 * 0 (set wherever last_avail_idx is set from outside): read. */
	uint16_t avail_known;
	bool avail_wrap;
	bool used_wrap;
	uint16_t signalled_used;  /* used idx at the last call (EVENT_IDX) */
	bool signalled_used_valid;
	bool notify_wanted;       /* application wants kicks (interrupt mode) */
	int callfd;               /* -1: the guest polls */
	struct mem_table *mem;    /* the device's table */
	uint32_t mem_hint;        /* region of the last translation */
	/* Dirty logging (migration): set while LOG_ALL is negotiated and a
	 * log is mapped; NULL otherwise (one branch per burst). */
	uint8_t *log_bits;
	uint64_t log_size;
	bool log_used;            /* VHOST_VRING_F_LOG: log used-ring writes */
	uint64_t log_used_gpa;    /* guest address of the used ring */
	struct dirty_log_cache log_cache; /* empty between bursts */
	struct vhost_vring_stats stats;

	/* ---- control ---- */
	struct vhost_dev *dev;
	uint16_t index;
	bool started;        /* kick received; stopped by GET_VRING_BASE */
	bool enabled;        /* SET_VRING_ENABLE, or implicit */
	/* The front-end disabled the ring (SET_VRING_ENABLE 0), as opposed
	 * to a ring not enabled yet: only such a ring, if started, has its
	 * TX chains discarded (vring_drain.c). QEMU kicks before it enables
	 * (also after a reconnect): draining then would throw away what the
	 * guest queued while the back-end was away. */
	bool fe_disabled;
	bool app_usable;     /* what the application was last told */
	bool kick_set;       /* SET_VRING_KICK seen (fd or "no fd") */
	bool call_set;       /* SET_VRING_CALL seen (fd or "no fd") */
	bool addr_set;
	struct event_handler *drain_evh; /* watching kickfd (vring_drain.c) */
	int kickfd;
	int errfd;                /* written by the event thread only */
	uint32_t breaks_reported; /* breaks already sent to errfd */
	uint32_t addr_flags;
	uint64_t desc_uaddr, avail_uaddr, used_uaddr, log_gaddr;
};

/*
 * The ring states of vhost-user.rst ("Ring states": stopped or started,
 * disabled or enabled) plus broken (the guest broke a ring rule; until the
 * front-end sets the ring up again). Derived in one place from the ring's
 * inputs (started: a kick, until GET_VRING_BASE; enabled: SET_VRING_ENABLE
 * or implicit; broken: set by a data thread); device_settle() acts on it.
 */
enum vring_state {
	VRING_STOPPED_DISABLED,
	VRING_STOPPED_ENABLED,
	VRING_STARTED_DISABLED,  /* TX: drained and discarded; RX: idle */
	VRING_STARTED_ENABLED,   /* the data path may use it (if translated) */
	VRING_BROKEN,
};

/* Event thread, or under the ring's lock. */
static inline enum vring_state vring_state(const struct vhost_vring *vq)
{
	if (atomic_load_explicit(&vq->broken, memory_order_acquire))
		return VRING_BROKEN;
	return (enum vring_state)((vq->started ? VRING_STARTED_DISABLED :
				   VRING_STOPPED_DISABLED) +
				  (vq->enabled ? 1 : 0));
}

#define RARP_PENDING (1ull << 63)

struct vhost_socket;
struct vhost_ctx;
struct event_handler;

struct vhost_dev {
	/* ---- connection (control) ---- */
	struct vhost_ctx *ctx;
	struct vhost_socket *sock;
	struct vhost_dev *next;      /* in sock->devs */
	uint64_t id;
	int fd;
	struct event_handler *evh;
	struct msg_rx rx;
	bool closing;
	bool connected_cb_done;      /* new_connection returned ok */
	void *priv;

	/* ---- negotiated state (control; data path copies into vrings) ---- */
	uint64_t features;
	uint64_t protocol_features;
	bool features_set;
	bool features_refused;       /* the last SET_FEATURES failed */
	bool owner;
	bool running;                /* between new_device and destroy_device */
	uint8_t status;
	uint16_t mtu;
	/* SEND_RARP: the MAC (low 48 bits, wire order) | RARP_PENDING, set
	 * by the event thread; the first dequeue burst on the device takes it
	 * with one exchange and hands out a RARP frame. Latched across the
	 * idle time of a migration destination; a newer request replaces an
	 * older one not yet taken. */
	_Atomic uint64_t rarp;
	int backend_req_fd;
	struct dirty_log log;        /* SET_LOG_BASE */

	struct mem_table *mem;
	uint16_t max_vrings;         /* 2 * socket's max queue pairs */
	uint16_t nr_vrings;          /* highest index touched + 1 */
	struct vhost_vring vrings[]; /* max_vrings of them */
};

/* Device (control) API used by handlers.c and socket.c. */
struct vhost_dev *device_create(struct vhost_socket *sock, int fd);
/* Begin closing: callbacks, remove from loop, free later. */
void device_close(struct vhost_dev *dev);
/* Stop running, reset rings, features, memory (RESET_DEVICE). */
void device_reset(struct vhost_dev *dev);
/* Stop running, stop and disable every ring, keep features and memory
 * (RESET_OWNER, as vhost-user.rst recommends for that deprecated request). */
void device_stop_rings(struct vhost_dev *dev);
/* After every message: call new_device / destroy_device as readiness
 * changed. Returns < 0 if the application refused the device. */
int device_update_running(struct vhost_dev *dev);
/* The one transition after anything changed a ring or the device (every
 * message, a ring broken by a data thread): readiness (new_device /
 * destroy_device), what the application is told of each ring
 * (vring_state_changed), and the drain of started-but-disabled TX rings.
 * Returns < 0 if the application refused the device. Event thread. */
int device_settle(struct vhost_dev *dev);
/* While the device runs, tell the application of every ring whose
 * usability changed since it was last told (vring_state_changed). */
void device_report_vrings(struct vhost_dev *dev);
/* Recompute what the data path may use on vq (takes its lock). */
void vring_refresh(struct vhost_dev *dev, struct vhost_vring *vq);
void vring_refresh_locked(struct vhost_dev *dev, struct vhost_vring *vq);
void vring_reset(struct vhost_vring *vq);
/* Before changing what the application may be using on a usable ring (its
 * kick fd): tell it the ring is gone (destroy_device for the first pair,
 * vring_state_changed otherwise). */
void vring_make_unusable(struct vhost_dev *dev, struct vhost_vring *vq);
void device_stop(struct vhost_dev *dev);
void device_lock_all_vrings(struct vhost_dev *dev);
void device_unlock_all_vrings(struct vhost_dev *dev);
const struct vhost_device_ops *device_ops(const struct vhost_dev *dev);
uint64_t socket_offered_features(const struct vhost_socket *sock);
uint64_t socket_offered_protocol_features(const struct vhost_socket *sock);
uint16_t socket_max_queue_pairs(const struct vhost_socket *sock);

static inline bool dev_has_feature(const struct vhost_dev *dev, unsigned bit)
{
	return (dev->features >> bit) & 1;
}

static inline bool dev_has_protocol_feature(const struct vhost_dev *dev,
					    unsigned bit)
{
	return (dev->protocol_features >> bit) & 1;
}

/* Statistics: written under the ring lock, read by any thread without it
 * (vhost_vring_stats_get): relaxed atomic stores, so a reader sees whole
 * values and the race is a declared one. */
#define STAT_ADD(field, v)                                                   \
	__atomic_store_n(&(field), (field) + (v), __ATOMIC_RELAXED)

/* The counters of struct vhost_vring_stats, all uint64_t. */
#define STATS_WORDS (sizeof(struct vhost_vring_stats) / sizeof(uint64_t))

static inline void stats_copy(struct vhost_vring_stats *dst,
			      const struct vhost_vring_stats *src)
{
	const uint64_t *s = (const uint64_t *)src;
	uint64_t *d = (uint64_t *)dst;

	for (size_t i = 0; i < STATS_WORDS; i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

/* Caller holds the ring lock (or nothing else runs on the ring). */
static inline void stats_zero(struct vhost_vring_stats *st)
{
	uint64_t *w = (uint64_t *)st;

	for (size_t i = 0; i < STATS_WORDS; i++)
		__atomic_store_n(&w[i], 0, __ATOMIC_RELAXED);
}

static inline bool vring_trylock(struct vhost_vring *vq)
{
	return atomic_exchange_explicit(&vq->lock, 1, memory_order_acquire) == 0;
}

static inline void vring_lock(struct vhost_vring *vq)
{
	while (!vring_trylock(vq))
		sched_yield();
}

static inline void vring_unlock(struct vhost_vring *vq)
{
	atomic_store_explicit(&vq->lock, 0, memory_order_release);
}

#endif
