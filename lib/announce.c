/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "announce.h"

void announce_rarp_frame(uint8_t *buf, const uint8_t mac[6])
{
	static const uint8_t rarp_hdr[10] = {
		0x80, 0x35,             /* ethertype RARP */
		0x00, 0x01,             /* hardware: Ethernet */
		0x08, 0x00,             /* protocol: IPv4 */
		6, 4,                   /* address lengths */
		0x00, 0x03,             /* op: request reverse (RFC 903) */
	};

	memset(buf, 0, ANNOUNCE_FRAME_LEN);
	memset(buf, 0xff, 6);           /* broadcast */
	memcpy(buf + 6, mac, 6);
	memcpy(buf + 12, rarp_hdr, sizeof(rarp_hdr));
	memcpy(buf + 22, mac, 6);       /* sender hardware address */
	memcpy(buf + 32, mac, 6);       /* target hardware address */
	/* sender and target protocol addresses stay 0.0.0.0 */
}

struct vhost_pktbuf *announce_rarp_pkt(struct vhost_pktbuf_pool *pool,
				       const uint8_t mac[6])
{
	struct vhost_pktbuf *p = vhost_pktbuf_alloc(pool);

	if (!p)
		return NULL;
	announce_rarp_frame(vhost_pktbuf_data(p), mac);
	p->data_len = ANNOUNCE_FRAME_LEN;
	p->pkt_len = ANNOUNCE_FRAME_LEN;
	p->ol_flags = 0;
	return p;
}
