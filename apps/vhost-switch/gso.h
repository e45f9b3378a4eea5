/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SWITCH_GSO_H
#define SWITCH_GSO_H

#include <stdbool.h>
#include <stdint.h>

#include <vhost/pktbuf.h>

#define GSO_MAX_HDR 256   /* Ethernet + IP + TCP headers */
#define GSO_MAX_SEG 9216  /* largest gso_size handled */

#define GSO_MIN_SEG 48    /* smallest gso_size: Linux's tcp_min_snd_mss;
			   * bounds the segments (work) one packet asks for */

/* A TSO packet (TCP over IPv4 or IPv6, optionally one VLAN tag) is cut
 * into segments of pkt->gso_size payload bytes with complete headers and
 * checksums. gso_count: how many segments pkt makes (at most 64 KiB /
 * GSO_MIN_SEG), or -EINVAL (not a TSO packet we can cut).
 * gso_segment: build segments first .. first + max - 1 (fewer at the end)
 * from pool into out, so a caller cuts any number of segments in batches
 * of its own size. Returns how many (0 past the end), or -EINVAL, or
 * -ENOBUFS (none kept). pkt is not changed. */
int gso_count(const struct vhost_pktbuf *pkt);
int gso_segment(const struct vhost_pktbuf *pkt, struct vhost_pktbuf_pool *pool,
		unsigned first, struct vhost_pktbuf **out, unsigned max);

#endif
