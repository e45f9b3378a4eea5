/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SWITCH_GSO_H
#define SWITCH_GSO_H

#include <stdbool.h>
#include <stdint.h>

#include <vhost/pktbuf.h>

#define GSO_MAX_HDR 256   /* Ethernet + IP + TCP headers */
#define GSO_MAX_SEG 9216  /* largest gso_size handled */

/* Cut a TSO packet (TCP over IPv4 or IPv6, optionally one VLAN tag) into
 * segments of pkt->gso_size payload bytes with complete headers and
 * checksums, allocated from pool into out (at most max). Returns the
 * number of segments, or -EINVAL (not a TSO packet we can cut), -ENOSPC
 * (more than max), -ENOBUFS. pkt is not changed. */
int gso_segment(const struct vhost_pktbuf *pkt, struct vhost_pktbuf_pool *pool,
		struct vhost_pktbuf **out, unsigned max);

#endif
