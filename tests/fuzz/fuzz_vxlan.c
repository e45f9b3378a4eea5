/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: vhost-switch's VXLAN uplink on hostile input.
 * Receive: any datagram from any of four sources (two configured VTEPs,
 * two unknown), strict or not, must be refused with a reason or give an
 * inner frame of at least an Ethernet header in a configured network, from
 * a VTEP that exists; the flow hash and the network classification then
 * read it safely.
 * Send: any frame with any offload metadata (partial checksum, TSO) goes
 * through checksum completion, segmentation and encapsulation (to a closed
 * socket: every datagram is counted as a send drop, nothing leaks).
 *
 * Input: byte 0 (bits 0-1 source, bit 2 strict), bytes 1-8 metadata for
 * the send side (ol_flags bits, csum_start, csum_offset, gso_size,
 * gso_type), then the datagram.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"
#include "vxlan.h"

static struct vhost_pktbuf_pool *pool;
static struct vxlan vx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t src[4] = { 0x0200000a, 0x0300000a, 0x0900000a,
					 0x0a00000a };
	struct vhost_pktbuf *p;
	uint16_t net;
	int r;

	if (!pool)
		pool = vhost_pktbuf_pool_create("fuzz-vx", 256, 2048, 0);
	if (size < 9 || size > 9 + 9000 || !pool)
		return 0;
	vxlan_init(&vx);
	vxlan_parse_local(&vx, (data[0] & 4) ? "10.0.0.1,strict" : "10.0.0.1");
	vxlan_parse_vtep(&vx, "1:42:10.0.0.2");
	vxlan_parse_vtep(&vx, "1:42:10.0.0.3");
	vxlan_parse_vtep(&vx, "7:4242:10.0.0.2");
	p = vhost_pktbuf_alloc(pool);
	if (!p || vhost_pktbuf_append_data(p, data + 9, (uint32_t)(size - 9)))
		abort();
	r = vxlan_decap(&vx, src[data[0] & 3], p);
	if (r < 0 || r >= VX_DROP_N || (r && r < VX_DROP_SHORT))
		abort();
	if (!r) {
		net = pkt_net(p);
		if (p->pkt_len < VX_MIN_INNER || (net != 1 && net != 7) ||
		    !pkt_vtep_in(p) || pkt_vtep_in(p) > atomic_load(&vx.nvteps) ||
		    vx.vteps[pkt_vtep_in(p) - 1].net != net)
			abort();
		struct port_net any = { .any = true }, trunk = { .trunk = true };

		if (network_ingress(&any, p) != net)
			abort();
		(void)vxlan_src_port(p);
		/* the send side on the same frame, with hostile metadata */
		p->ol_flags = data[1] & (VHOST_PKT_F_CSUM_PARTIAL | VHOST_PKT_F_GSO);
		p->csum_start = (uint16_t)(data[2] | data[3] << 8);
		p->csum_offset = data[4];
		p->gso_size = (uint16_t)(data[5] | data[6] << 8);
		p->gso_type = data[7] & 3;
		pkt_set_meta(p, net, data[8] & 1 ? pkt_vtep_in(p) : 0,
			     data[8] & 2 ? (uint16_t)(data[8] >> 2) : 0);
		vxlan_tx(&vx, pool, &p, 1);
		(void)network_ingress(&trunk, p);
	}
	vhost_pktbuf_free(p);
	if (vhost_pktbuf_pool_avail(pool) != 256)
		abort(); /* a segment leaked */
	return 0;
}
