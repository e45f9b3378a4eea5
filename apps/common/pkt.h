/* SPDX-License-Identifier: BSD-3-Clause */
/* Test traffic shared by the apps: UDP/IPv4 packets we generate, and
 * checks of received ones (ours or testpmd's txonly). */
#ifndef APPS_PKT_H
#define APPS_PKT_H

#include <stdbool.h>
#include <stdint.h>

#include <vhost/pktbuf.h>

#define PKT_MIN_LEN 60u /* Ethernet minimum without FCS */
#define PKT_HDRS_LEN 42u /* Ethernet 14 + IPv4 20 + UDP 8 */

/* Fill pkt (fresh, from its pool) with a UDP/IPv4 packet of len bytes
 * (len >= PKT_MIN_LEN), headers valid, payload a pattern seeded by seq.
 * Multi-segment when len exceeds one buffer. 0 or -ENOBUFS. */
int pkt_build_udp(struct vhost_pktbuf *pkt, uint32_t len, uint64_t seq,
		  const uint8_t src_mac[6], const uint8_t dst_mac[6]);
/* Headers of an IPv4/UDP packet consistent with its length, and the IPv4
 * header checksum right. With check_payload, the pattern of
 * pkt_build_udp() too. */
bool pkt_validate_udp(const struct vhost_pktbuf *pkt, bool check_payload);
/* Swap source and destination MAC (first segment holds 12 bytes). */
void pkt_swap_macs(struct vhost_pktbuf *pkt);
uint16_t ipv4_header_csum(const uint8_t *ip);

#endif
