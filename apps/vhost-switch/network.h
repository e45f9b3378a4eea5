/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tenant networks. Every port belongs to one network (an id 1..4094,
 * default 1) or, as a trunk, carries several: frames never cross networks,
 * and the MAC table, learning and flooding are per network.
 *
 * - access (vhost ports; a TAP uplink by default): untagged frames belong
 *   to the port's network; 802.1Q-tagged frames (VID != 0) are dropped, as
 *   OVS does on an access port.
 * - trunk (TAP uplink, `trunk`): the 802.1Q VID is the network; the tag is
 *   taken off on ingress and put back on egress; untagged frames are
 *   dropped (no native VLAN).
 * - the VXLAN uplink carries the networks that have a VNI (vxlan.h).
 *
 * A packet's network and the VTEPs it came from / goes to travel in its
 * userdata word (set on ingress, read by the senders).
 */
#ifndef SWITCH_NETWORK_H
#define SWITCH_NETWORK_H

#include <stdbool.h>
#include <stdint.h>

#include <vhost/pktbuf.h>

#define NET_DEFAULT 1
#define NET_MAX 4094      /* networks are 802.1Q VIDs on trunks */
#define NET_NONE 0
#define ETH_P_8021Q_ 0x8100

struct port_net {
	uint16_t net;     /* access: the port's network (0: NET_DEFAULT) */
	bool trunk;       /* the VLAN tag names the network */
	bool any;         /* the VXLAN uplink: every network with a VNI */
};

/* userdata: bits 0-15 network, 16-31 ingress VTEP + 1, 32-47 egress VTEP
 * + 1 (0: flood to every VTEP of the network). */
static inline uint16_t pkt_net(const struct vhost_pktbuf *p)
{
	return (uint16_t)p->userdata;
}

static inline uint16_t pkt_vtep_in(const struct vhost_pktbuf *p)
{
	return (uint16_t)(p->userdata >> 16);
}

static inline uint16_t pkt_vtep_out(const struct vhost_pktbuf *p)
{
	return (uint16_t)(p->userdata >> 32);
}

static inline void pkt_set_meta(struct vhost_pktbuf *p, uint16_t net,
				uint16_t vtep_in, uint16_t vtep_out)
{
	p->userdata = (uint64_t)net | (uint64_t)vtep_in << 16 |
		      (uint64_t)vtep_out << 32;
}

/* Parse one port option: "network=N" or "trunk". 1 if taken, 0 if not a
 * network option, -1 (message printed) if bad. */
int network_parse_opt(struct port_net *pn, const char *opt, bool uplink);
/* The network of a frame that came in on an access or trunk port: set in
 * its userdata (trunk: the tag is removed), or NET_NONE: drop it. The
 * common frame (untagged, on an access port) is decided inline. */
uint16_t network_ingress_slow(const struct port_net *pn, struct vhost_pktbuf *p);
static inline uint16_t network_of(const struct port_net *pn);
static inline uint16_t network_ingress(const struct port_net *pn,
				       struct vhost_pktbuf *p)
{
	const uint8_t *eth = vhost_pktbuf_data(p);

	if (!pn->trunk && !pn->any && p->data_len >= 14 &&
	    !(eth[12] == (ETH_P_8021Q_ >> 8) && eth[13] == (ETH_P_8021Q_ & 0xff))) {
		p->userdata = network_of(pn);
		return network_of(pn);
	}
	return network_ingress_slow(pn, p);
}
/* An access port's network: a zeroed port is in the default one. */
static inline uint16_t network_of(const struct port_net *pn)
{
	return pn->net ? pn->net : NET_DEFAULT;
}

/* Does a port carry net? */
static inline bool network_carries(const struct port_net *pn, uint16_t net)
{
	return pn->any || pn->trunk || network_of(pn) == net;
}

#endif
