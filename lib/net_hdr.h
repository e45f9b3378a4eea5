/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-net header (virtio 1.1, 5.1.6): built for the guest from
 * packet metadata, and parsed from the guest into metadata with every value
 * checked against the packet and the negotiated features. Pure functions:
 * no ring, no device, so they are easy to test and fuzz.
 */
#ifndef VHOST_NET_HDR_H
#define VHOST_NET_HDR_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdint.h>

#include <vhost/pktbuf.h>

/* A checksum the guest cannot complete itself (no GUEST_CSUM): its two
 * bytes are patched into the guest's copy; the packet is not touched. */
struct csum_fix {
	bool on;
	uint32_t at;      /* packet offset of the 16-bit field */
	uint8_t val[2];
};

/* Header for pkt going to a guest with these features; false if the guest
 * cannot take the packet (offloads it did not negotiate, bad metadata). */
bool net_hdr_from_pkt(uint64_t features, const struct vhost_pktbuf *pkt,
		      struct virtio_net_hdr_mrg_rxbuf *h, struct csum_fix *fix);
/* Metadata of a len-byte packet from the guest's header; false if the
 * header asks for something invalid or not negotiated. */
bool net_hdr_to_pkt(uint64_t features, const struct virtio_net_hdr_mrg_rxbuf *h,
		    uint32_t len, struct vhost_pktbuf *pkt);
/* Header bytes before a TSO packet's payload (virtio hdr_len). */
uint16_t net_gso_hdr_len(const struct vhost_pktbuf *pkt);
/* Internet checksum of pkt from offset `from` to its end, complemented;
 * 0 is given as 0xffff. */
uint16_t net_pkt_csum(const struct vhost_pktbuf *p, uint32_t from);

#endif
