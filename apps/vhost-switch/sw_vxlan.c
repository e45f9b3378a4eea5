/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_vxlan.h"
#include "vxlan.h"

static int fail(char *err, size_t len, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return ret;
}

struct sw_port *sw_vxlan_port(struct sw *sw)
{
	for (unsigned i = 0; i < sw->nports; i++) {
		struct sw_port *p = &sw->ports[i];

		if (atomic_load(&p->state) == SW_SLOT_LIVE &&
		    p->kind == PORT_VXLAN && p->vx)
			return p;
	}
	return NULL;
}

int sw_vxlan_open(struct sw_port *p, const char *local, char *err,
		  size_t len)
{
	struct vxlan *vx = calloc(1, sizeof(*vx));
	int ret;

	if (!vx)
		return fail(err, len, -ENOMEM, "vxlan: out of memory");
	vxlan_init(vx);
	if (vxlan_parse_local(vx, local)) {
		free(vx);
		return fail(err, len, -EINVAL, "vxlan=LOCAL_IP[:PORT]"
			    "[,mtu=576..9216][,strict]: %s", local);
	}
	ret = vxlan_open(vx);
	if (ret) {
		free(vx);
		return fail(err, len, ret, "vxlan %s: cannot open: %s", local,
			    strerror(-ret));
	}
	p->vx = vx;
	return 0;
}

void sw_vxlan_close(struct sw_port *p)
{
	if (!p->vx)
		return;
	vxlan_close(p->vx);
	free(p->vx);
	p->vx = NULL;
}

int sw_vtep_add(struct sw *sw, const char *arg, char *err, size_t len)
{
	struct sw_port *p;
	uint16_t net, port;
	uint32_t vni, ip, vni1;
	int ret;

	if (vxlan_vtep_spec(arg, &net, &vni, &ip, &port))
		return fail(err, len, -EINVAL, "NET:VNI:IP[:PORT] with NET "
			    "1..4094, VNI 0..16777215, IP an IPv4 address");
	pthread_mutex_lock(&sw->cfg_lock);
	p = sw_vxlan_port(sw);
	if (!p) {
		ret = fail(err, len, -ENODEV, "no VXLAN uplink");
		goto out;
	}
	ret = vxlan_map(p->vx, net, vni);
	vni1 = vxlan_vni1_of(p->vx, net);
	if (ret == -EEXIST && vni1)
		ret = fail(err, len, ret, "network %u is VNI %u", net, vni1 - 1);
	else if (ret == -EEXIST)
		ret = fail(err, len, ret, "VNI %u is network %u's", vni,
			   vxlan_net_of(p->vx, vni));
	else if (ret)
		ret = fail(err, len, ret, "too many networks with a VNI "
			   "(at most %d)", VX_MAX_NETS);
	if (ret)
		goto out;
	ret = vxlan_add_vtep(p->vx, net, ip, port);
	if (ret == -EEXIST)
		fail(err, len, ret, "%s is in network %u's flood list already",
		     arg, net);
	else if (ret < 0)
		fail(err, len, ret, "VTEP table full (at most %d)",
		     VX_MAX_VTEPS);
out:
	pthread_mutex_unlock(&sw->cfg_lock);
	return ret;
}

int sw_vtep_del(struct sw *sw, const char *arg, char *err, size_t len)
{
	struct sw_port *p;
	uint16_t net, port;
	uint32_t ip;
	int idx;

	if (vxlan_vtep_del_spec(arg, &net, &ip, &port))
		return fail(err, len, -EINVAL, "NET:IP[:PORT] with NET "
			    "1..4094, IP an IPv4 address");
	pthread_mutex_lock(&sw->cfg_lock);
	p = sw_vxlan_port(sw);
	if (!p) {
		idx = fail(err, len, -ENODEV, "no VXLAN uplink");
		goto out;
	}
	if (!vxlan_vni1_of(p->vx, net)) {
		idx = fail(err, len, -ENOENT, "network %u has no VNI", net);
		goto out;
	}
	idx = vxlan_vtep_unpublish(p->vx, net, ip, port);
	if (idx < 0) {
		idx = fail(err, len, -ENOENT, "no VTEP %s", arg);
		goto out;
	}
	/* No new flood or lookup finds it; wait out the passes that may
	 * have, then nothing is sent to it. A MAC learned behind it in such
	 * a pass goes too, before its slot can be reused. */
	sw_quiesce(sw);
	mac_table_flush_vtep(sw->macs, (uint16_t)(idx + 1));
	vxlan_vtep_release(p->vx, (unsigned)idx);
out:
	pthread_mutex_unlock(&sw->cfg_lock);
	return idx;
}
