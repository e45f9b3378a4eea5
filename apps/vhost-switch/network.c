/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"

int network_parse_opt(struct port_net *pn, const char *opt, bool uplink)
{
	if (!strncmp(opt, "network=", 8)) {
		char *end;
		unsigned long v = strtoul(opt + 8, &end, 10);

		if (end == opt + 8 || *end || v < 1 || v > NET_MAX) {
			fprintf(stderr, "network=N: 1..%d\n", NET_MAX);
			return -1;
		}
		pn->net = (uint16_t)v;
		pn->trunk = false;
		return 1;
	}
	if (!strcmp(opt, "trunk")) {
		if (!uplink) {
			fprintf(stderr, "trunk: only on an uplink (--tap)\n");
			return -1;
		}
		pn->trunk = true;
		return 1;
	}
	return 0;
}

uint16_t network_ingress_slow(const struct port_net *pn, struct vhost_pktbuf *p)
{
	uint8_t *eth = vhost_pktbuf_data(p);
	uint16_t type, vid;

	if (p->data_len < 14)
		return NET_NONE;
	type = (uint16_t)(eth[12] << 8 | eth[13]);
	if (pn->any) /* set by the VXLAN uplink's receive */
		return pkt_net(p);
	if (!pn->trunk) {
		/* access: a tagged frame is another network's (VID 0 is
		 * priority only) */
		if (type == ETH_P_8021Q_ &&
		    (p->data_len < 16 || ((eth[14] << 8 | eth[15]) & 0xfff)))
			return NET_NONE;
		pkt_set_meta(p, network_of(pn), 0, 0);
		return network_of(pn);
	}
	if (type != ETH_P_8021Q_ || p->data_len < 18)
		return NET_NONE;
	vid = (uint16_t)((eth[14] << 8 | eth[15]) & 0xfff);
	if (vid < 1 || vid > NET_MAX)
		return NET_NONE;
	/* untag: the addresses move 4 bytes up over the tag */
	memmove(eth + 4, eth, 12);
	vhost_pktbuf_adj(p, 4);
	pkt_set_meta(p, vid, 0, 0);
	return vid;
}
