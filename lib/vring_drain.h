/* SPDX-License-Identifier: BSD-3-Clause */
/* Discarding what the guest transmits on started-but-disabled rings (event
 * thread only). */
#ifndef VHOST_VRING_DRAIN_H
#define VHOST_VRING_DRAIN_H

#include "device.h"

/* After every message: watch the kick fd of each transmit ring that is
 * started, translated and disabled, and drain it; stop watching the rest. */
void vring_drain_update(struct vhost_dev *dev);
/* Stop watching vq's kick fd (before the fd is replaced or closed). */
void vring_drain_stop(struct vhost_vring *vq);

#endif
