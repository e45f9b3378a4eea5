/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the virtio-net header in both directions.
 * Guest -> host: any 12-byte header, packet length and feature set must
 * give either a refusal or metadata that lies inside the packet.
 * Host -> guest: any metadata must give either a refusal or a header
 * consistent with the features, and a checksum patch inside the packet.
 *
 * Input: 8 bytes of features, 4 of length, 12 of header, 12 of metadata,
 * then packet bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "net_hdr.h"

static struct vhost_pktbuf_pool *pool;

#define HAS(f, b) (((f) >> (b)) & 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr_mrg_rxbuf h, out;
	struct vhost_pktbuf *p;
	struct csum_fix fix;
	uint64_t features;
	uint32_t len;

	if (!pool)
		pool = vhost_pktbuf_pool_create("fuzz-hdr", 64, 2048, 0);
	if (size < 36 || !pool)
		return 0;
	memcpy(&features, data, 8);
	memcpy(&len, data + 8, 4);
	memcpy(&h, data + 12, sizeof(h));
	len &= 0x1ffff;
	p = vhost_pktbuf_alloc(pool);
	if (!p)
		abort();
	if (net_hdr_to_pkt(features, &h, len, p)) {
		if ((p->ol_flags & VHOST_PKT_F_CSUM_PARTIAL) &&
		    (uint32_t)p->csum_start + p->csum_offset + 2 > len)
			abort();
		if ((p->ol_flags & VHOST_PKT_F_GSO) &&
		    (!(p->ol_flags & VHOST_PKT_F_CSUM_PARTIAL) || !p->gso_size))
			abort();
		if (p->gso_type == VHOST_GSO_TCPV4 &&
		    !HAS(features, VIRTIO_NET_F_HOST_TSO4))
			abort();
	}
	vhost_pktbuf_free(p);

	/* Host -> guest: metadata from the input, payload the rest. */
	p = vhost_pktbuf_alloc(pool);
	if (!p)
		abort();
	if (vhost_pktbuf_append_data(p, data + 36, (uint32_t)(size - 36) > 2048 ?
				     2048 : (uint32_t)(size - 36))) {
		vhost_pktbuf_free(p);
		return 0;
	}
	memcpy(&p->ol_flags, data + 24, 4);
	memcpy(&p->csum_start, data + 28, 2);
	memcpy(&p->csum_offset, data + 30, 2);
	memcpy(&p->gso_size, data + 32, 2);
	p->gso_type = data[34];
	if (net_hdr_from_pkt(features, p, &out, &fix)) {
		if (fix.on && fix.at + 2 > p->pkt_len)
			abort();
		if ((out.hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
		    (!HAS(features, VIRTIO_NET_F_GUEST_CSUM) ||
		     (uint32_t)out.hdr.csum_start + out.hdr.csum_offset + 2 >
		     p->pkt_len))
			abort();
		if (out.hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE &&
		    !HAS(features, VIRTIO_NET_F_GUEST_TSO4) &&
		    !HAS(features, VIRTIO_NET_F_GUEST_TSO6))
			abort();
	}
	vhost_pktbuf_free(p);
	return 0;
}
