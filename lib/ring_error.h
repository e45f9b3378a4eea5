/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Broken rings, reported promptly. A data thread that finds a ring broken
 * (mark_broken in virtio_net.c) only flags it under the ring's lock and
 * wakes the context's event thread through one eventfd; the event thread
 * then tells the front-end (the ring's error eventfd, SET_VRING_ERR) and
 * the application (device_report_vrings), each once per breakage.
 */
#ifndef VHOST_RING_ERROR_H
#define VHOST_RING_ERROR_H

struct vhost_ctx;
struct vhost_vring;

/* Event thread: create the context's eventfd and watch it. 0 or -errno. */
int ring_error_start(struct vhost_ctx *ctx);
/* Event thread: stop watching and close it (after every device is gone). */
void ring_error_stop(struct vhost_ctx *ctx);
/* Data thread, holding vq's lock, once per breakage: mark the ring broken
 * and wake the event thread (one eventfd write: no allocation, no lock). */
void ring_error_mark_broken(struct vhost_vring *vq);

#endif
