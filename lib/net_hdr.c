/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "net_hdr.h"

#define HAS(features, bit) (((features) >> (bit)) & 1)

/* One's-complement sum of pkt[from, end) (RFC 1071), for csum_fix. */
uint16_t net_pkt_csum(const struct vhost_pktbuf *p, uint32_t from)
{
	uint64_t sum = 0;
	uint32_t pos = 0;
	bool odd = false; /* the next byte is the low half of a word */

	for (; p; p = p->next) {
		const uint8_t *d = vhost_pktbuf_data(p);
		uint32_t i = 0, n = p->data_len;

		if (pos + n <= from) {
			pos += n;
			continue;
		}
		if (pos < from)
			i = from - pos;
		if (odd && i < n) {
			sum += d[i++];
			odd = false;
		}
		/* Big-endian 16-bit words, two at a time where possible. */
		for (; i + 1 < n; i += 2)
			sum += (uint32_t)d[i] << 8 | d[i + 1];
		if (i < n) {
			sum += (uint32_t)d[i] << 8;
			odd = true;
		}
		pos += n;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = (uint16_t)~sum;
	/* 0 means "no checksum" in UDP (RFC 768): send its equal, 0xffff
	 * (also valid for TCP: one's complement has two zeros). */
	return sum ? (uint16_t)sum : 0xffff;
}

/* Bytes of headers before a TSO packet's payload: up to the TCP header's
 * end (its data offset), as Linux and DPDK fill hdr_len; at least the
 * checksum field's end if the TCP header cannot be read. */
uint16_t net_gso_hdr_len(const struct vhost_pktbuf *pkt)
{
	uint32_t min = (uint32_t)pkt->csum_start + pkt->csum_offset + 2;
	uint8_t doff;

	if (vhost_pktbuf_read(pkt, (uint32_t)pkt->csum_start + 12, 1, &doff) == 1 &&
	    (uint32_t)pkt->csum_start + (doff >> 4) * 4u >= min &&
	    (uint32_t)pkt->csum_start + (doff >> 4) * 4u <= pkt->pkt_len)
		return (uint16_t)(pkt->csum_start + (doff >> 4) * 4u);
	return (uint16_t)min;
}

/* Build the header for pkt; false if the guest cannot take it. */
bool net_hdr_from_pkt(uint64_t features, const struct vhost_pktbuf *pkt,
		      struct virtio_net_hdr_mrg_rxbuf *h, struct csum_fix *fix)
{
	memset(h, 0, sizeof(*h));
	fix->on = false;
	if (pkt->ol_flags & VHOST_PKT_F_CSUM_PARTIAL) {
		if ((uint32_t)pkt->csum_start + pkt->csum_offset + 2 >
		    pkt->pkt_len)
			return false;
		if (HAS(features, VIRTIO_NET_F_GUEST_CSUM)) {
			h->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
			h->hdr.csum_start = pkt->csum_start;
			h->hdr.csum_offset = pkt->csum_offset;
		} else if (!(pkt->ol_flags & VHOST_PKT_F_GSO)) {
			uint16_t c = net_pkt_csum(pkt, pkt->csum_start);

			fix->on = true;
			fix->at = (uint32_t)pkt->csum_start + pkt->csum_offset;
			fix->val[0] = (uint8_t)(c >> 8);
			fix->val[1] = (uint8_t)c;
		}
	} else if ((pkt->ol_flags & VHOST_PKT_F_CSUM_VALID) &&
		   HAS(features, VIRTIO_NET_F_GUEST_CSUM)) {
		h->hdr.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	if (pkt->ol_flags & VHOST_PKT_F_GSO) {
		unsigned feat;
		uint8_t type;

		switch (pkt->gso_type) {
		case VHOST_GSO_TCPV4:
			feat = VIRTIO_NET_F_GUEST_TSO4;
			type = VIRTIO_NET_HDR_GSO_TCPV4;
			break;
		case VHOST_GSO_TCPV6:
			feat = VIRTIO_NET_F_GUEST_TSO6;
			type = VIRTIO_NET_HDR_GSO_TCPV6;
			break;
		default:
			return false;
		}
		/* Segmentation offload needs a partial checksum too. */
		if (!HAS(features, feat) || !pkt->gso_size ||
		    !(h->hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
			return false;
		h->hdr.gso_type = type;
		h->hdr.gso_size = pkt->gso_size;
		h->hdr.hdr_len = net_gso_hdr_len(pkt);
		if (pkt->ol_flags & VHOST_PKT_F_GSO_ECN)
			h->hdr.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	}
	return true;
}

/* Check the guest's header against the packet and the features, and turn
 * it into packet metadata. */
bool net_hdr_to_pkt(uint64_t features, const struct virtio_net_hdr_mrg_rxbuf *h,
		    uint32_t len, struct vhost_pktbuf *pkt)
{
	uint8_t gso = h->hdr.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	pkt->ol_flags = 0;
	if (h->hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		/* The field must lie inside the packet (CVE-2024-11614). */
		if (!HAS(features, VIRTIO_NET_F_CSUM) ||
		    (uint32_t)h->hdr.csum_start + h->hdr.csum_offset + 2 > len)
			return false;
		pkt->ol_flags |= VHOST_PKT_F_CSUM_PARTIAL;
		pkt->csum_start = h->hdr.csum_start;
		pkt->csum_offset = h->hdr.csum_offset;
	}
	if (gso != VIRTIO_NET_HDR_GSO_NONE) {
		if (gso == VIRTIO_NET_HDR_GSO_TCPV4 &&
		    HAS(features, VIRTIO_NET_F_HOST_TSO4))
			pkt->gso_type = VHOST_GSO_TCPV4;
		else if (gso == VIRTIO_NET_HDR_GSO_TCPV6 &&
			 HAS(features, VIRTIO_NET_F_HOST_TSO6))
			pkt->gso_type = VHOST_GSO_TCPV6;
		else
			return false;
		if (!h->hdr.gso_size ||
		    !(pkt->ol_flags & VHOST_PKT_F_CSUM_PARTIAL) ||
		    ((h->hdr.gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
		     !HAS(features, VIRTIO_NET_F_HOST_ECN)))
			return false;
		pkt->ol_flags |= VHOST_PKT_F_GSO;
		if (h->hdr.gso_type & VIRTIO_NET_HDR_GSO_ECN)
			pkt->ol_flags |= VHOST_PKT_F_GSO_ECN;
		pkt->gso_size = h->hdr.gso_size;
	}
	return true;
}
