/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest announcement after migration (SEND_RARP). QEMU asks the back-end to
 * announce the guest's MAC when the guest cannot (no GUEST_ANNOUNCE): we
 * hand the application a RARP frame from that MAC as the first packet of
 * the next dequeue burst, as if the guest had sent it, so a switch learns
 * the MAC on this port and floods the announcement like any broadcast.
 */
#ifndef VHOST_ANNOUNCE_H
#define VHOST_ANNOUNCE_H

#include <stdint.h>

#include <vhost/pktbuf.h>

#define ANNOUNCE_FRAME_LEN 60 /* minimum Ethernet frame, no FCS */

/* Write QEMU's announce frame (RARP request reverse, ethertype 0x8035) for
 * mac into buf (ANNOUNCE_FRAME_LEN bytes). */
void announce_rarp_frame(uint8_t *buf, const uint8_t mac[6]);

/* A packet holding that frame, from pool; NULL if the pool is empty. */
struct vhost_pktbuf *announce_rarp_pkt(struct vhost_pktbuf_pool *pool,
				       const uint8_t mac[6]);

#endif
