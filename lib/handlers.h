/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-user request handling: central checks, then one handler per
 * request from a declarative table. */
#ifndef VHOST_HANDLERS_H
#define VHOST_HANDLERS_H

#include <stdint.h>

#include "device.h"

/* Event-loop callback of a connection. */
void vhost_user_on_readable(int fd, uint32_t events, void *opaque);
/* Check and handle one complete message (fds included; every fd not kept
 * is closed). Returns 0, or < 0 when the connection must be closed. */
int vhost_user_handle_msg(struct vhost_dev *dev, struct vhost_msg *msg);
const char *vhost_user_request_name(uint32_t request);

#endif
