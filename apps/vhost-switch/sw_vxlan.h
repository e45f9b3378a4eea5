/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VXLAN uplink as a switch port at run time: opened by port_add
 * ("vxlan=LOCAL_IP[:PORT][,mtu=N][,strict]", the --vxlan syntax), closed by
 * port_del, and its remote VTEPs added and removed (vtep_add, vtep_del,
 * the --vtep syntax). Every function runs under the switch's cfg_lock
 * (taken here, or held by the caller where said), on the control or main
 * thread; the workers keep running (vxlan.h says how they stay safe).
 */
#ifndef SWITCH_SW_VXLAN_H
#define SWITCH_SW_VXLAN_H

#include <stddef.h>

#include "switch.h"

/* Under cfg_lock: the VXLAN uplink (at most one), or NULL. */
struct sw_port *sw_vxlan_port(struct sw *sw);
/* Under cfg_lock, for sw_port_add / sw_port_del: make and open the
 * uplink's state from "LOCAL_IP[:PORT][,mtu=N][,strict]" (0, or -errno
 * with a reason in err), and close and free it (the port's units left the
 * workers, which were quiesced). */
int sw_vxlan_open(struct sw_port *p, const char *local, char *err,
		  size_t len);
void sw_vxlan_close(struct sw_port *p);
/* "NET:VNI:IP[:PORT]": map NET to VNI (unless it is already), put the
 * VTEP in NET's flood list. Returns the VTEP's index, or -errno with a
 * reason in err. */
int sw_vtep_add(struct sw *sw, const char *arg, char *err, size_t len);
/* "NET:IP[:PORT]": the VTEP leaves NET's flood list; once no worker can
 * send to it, the MACs learned behind it are flushed and its slot freed.
 * Returns its former index, or -errno with a reason in err. */
int sw_vtep_del(struct sw *sw, const char *arg, char *err, size_t len);

#endif
