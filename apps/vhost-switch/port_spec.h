/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A port spec: the one syntax for a port, whether it comes from the command
 * line (--socket, --tap, --nic) or from the control socket (port_add), so a
 * port has the same options either way.
 *
 *   PATH[,client][,queues=N][,mac=MAC...][,lock][,max-macs=N][,network=N]
 *   tap=NAME[,network=N][,trunk]
 *   nic=IFNAME[,network=N][,trunk]
 *   vxlan=LOCAL_IP[:PORT][,mtu=N][,strict]   (named "vxlan"; its options
 *                                             are vxlan.c's to check)
 *
 * Parsing is pure (no file system, no switch state): the checks that need
 * them (path exists and is not a socket, duplicate name, no free slot) are
 * sw_port_add's.
 */
#ifndef SWITCH_PORT_SPEC_H
#define SWITCH_PORT_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "network.h"
#include "port_sec.h"
#include "switch.h"

#define PORT_SPEC_MAX_LEN 1024 /* a whole spec, as the control socket's */
#define PORT_IFNAME_MAX 16     /* IFNAMSIZ */

struct port_spec {
	enum port_kind kind;           /* PORT_VHOST, _TAP, _NIC or _VXLAN */
	char name[SW_NAME_MAX];        /* socket path, TAP or interface name */
	bool client;
	uint16_t queues;               /* queue pairs offered, 1..SW_MAX_QP */
	struct port_net pnet;
	uint8_t macs[PSEC_MAX_ALLOWED][6];
	unsigned nmacs;
	bool lock;
	unsigned max_learned;          /* 0: no limit */
	char vxlan_local[128];         /* PORT_VXLAN: what follows "vxlan=" */
};

/* Parse spec into out, starting from the defaults d (vhost ports; uplinks
 * have no MAC limit). kind: the form the option names (--socket: VHOST,
 * --tap: TAP, --nic: NIC, --vxlan: VXLAN), or -1 to tell by the
 * "tap="/"nic="/"vxlan=" prefix (port_add). Returns 0, or -1 with a one-line reason in err. */
int port_spec_parse(const char *spec, int kind,
		    const struct sw_port_defaults *d, struct port_spec *out,
		    char *err, size_t errlen);

#endif
