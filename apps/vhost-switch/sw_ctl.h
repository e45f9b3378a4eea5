/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-switch's control commands (/vhost-switch/..., docs/operations.md) on
 * the control socket (apps/common/telemetry.h).
 */
#ifndef SWITCH_CTL_H
#define SWITCH_CTL_H

struct tel;
struct sw;

/* Register every /vhost-switch/... command; 0 or -errno. */
int sw_ctl_register(struct tel *t, struct sw *sw);

#endif
