/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The /vhost-switch/... commands. They run on the control socket's thread:
 * port names and configuration are read under cfg_lock (ports come and
 * go), counters with atomic loads; port_add/port_del go through
 * sw_port_add/del, which do the work under the same lock. Parameters come
 * from a socket peer: every one is checked, lists are capped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_ctl.h"
#include "json.h"
#include "port_spec.h"
#include "sw_vxlan.h"
#include "switch.h"
#include "telemetry.h"
#include "vxlan.h"

#define FDB_SHOW_MAX 400 /* entries in one reply (~100 bytes each) */

static void mac_text(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

static int reply_error(struct jw *out, const char *text)
{
	jw_obj_open(out, NULL);
	jw_str(out, "error", text);
	jw_obj_close(out);
	return 0;
}

/* ---------------------------------------------------------------- ports */

struct mac_count {
	unsigned by_port[SW_MAX_PORTS];
};

static void count_mac(uint16_t net, const uint8_t *mac, uint32_t dest,
		      uint32_t age, void *arg)
{
	struct mac_count *c = arg;
	uint16_t port = MAC_DEST_PORT(dest);

	(void)net, (void)mac, (void)age;
	if (port < SW_MAX_PORTS)
		c->by_port[port]++;
}

/* The port's network; 0 for one that carries several (trunk, VXLAN). */
static unsigned port_network(const struct sw_port *p)
{
	return p->pnet.trunk || p->pnet.any ? 0 : network_of(&p->pnet);
}

static int cmd_ports(const char *cmd, const char *params, struct jw *out,
		     void *arg)
{
	struct sw *sw = arg;
	static struct mac_count macs; /* control thread only */

	(void)cmd;
	if (*params)
		return -1;
	memset(&macs, 0, sizeof(macs));
	mac_table_foreach(sw->macs, count_mac, &macs);
	pthread_mutex_lock(&sw->cfg_lock);
	jw_arr_open(out, NULL);
	for (unsigned i = 0; i < sw->nports; i++) {
		const struct sw_port *p = &sw->ports[i];

		if (atomic_load(&p->state) == SW_SLOT_FREE)
			continue;
		jw_obj_open(out, NULL);
		jw_u64(out, "id", i);
		jw_str(out, "name", sw_port_name(p));
		jw_str(out, "kind", sw_port_kind_name(p));
		jw_str(out, "mode", p->kind != PORT_VHOST ? "" :
				    p->client ? "client" : "server");
		jw_str(out, "state", atomic_load(&p->up) ? "up" : "down");
		jw_u64(out, "network", port_network(p));
		jw_u64(out, "queues", p->kind == PORT_VHOST ? p->queues : 1);
		jw_u64(out, "rx_packets", atomic_load(&p->rx_packets));
		jw_u64(out, "rx_bytes", atomic_load(&p->rx_bytes));
		jw_u64(out, "rx_drops", atomic_load(&p->rx_drops));
		jw_u64(out, "tx_packets", atomic_load(&p->tx_packets));
		jw_u64(out, "tx_bytes", atomic_load(&p->tx_bytes));
		jw_u64(out, "tx_drops", atomic_load(&p->tx_drops));
		jw_u64(out, "macs", macs.by_port[i]);
		jw_obj_close(out);
	}
	jw_arr_close(out);
	pthread_mutex_unlock(&sw->cfg_lock);
	return 0;
}

static int cmd_port_add(const char *cmd, const char *params, struct jw *out,
			void *arg)
{
	struct sw *sw = arg;
	static struct port_spec spec; /* control thread only */
	char err[256];
	int id;

	(void)cmd;
	if (port_spec_parse(params, -1, &sw->defaults, &spec, err,
			    sizeof(err)))
		return reply_error(out, err);
	id = sw_port_add(sw, &spec, err, sizeof(err));
	if (id < 0)
		return reply_error(out, err);
	jw_obj_open(out, NULL);
	jw_u64(out, "id", (unsigned)id);
	pthread_mutex_lock(&sw->cfg_lock);
	jw_str(out, "name", sw_port_name(&sw->ports[id]));
	pthread_mutex_unlock(&sw->cfg_lock);
	jw_obj_close(out);
	return 0;
}

static int cmd_port_del(const char *cmd, const char *params, struct jw *out,
			void *arg)
{
	struct sw *sw = arg;
	char msg[SW_NAME_MAX + 64];
	int id;

	(void)cmd;
	if (!*params)
		return reply_error(out, "port_del needs a port name or id");
	id = sw_port_del(sw, params, msg, sizeof(msg));
	if (id < 0)
		return reply_error(out, msg);
	jw_obj_open(out, NULL);
	jw_u64(out, "id", (unsigned)id);
	jw_str(out, "name", msg);
	jw_obj_close(out);
	return 0;
}

/* ------------------------------------------------------------------ fdb */

struct fdb_walk {
	struct sw *sw;
	struct jw *out;
	unsigned net;   /* 0: every network */
	unsigned count, shown;
};

static void fdb_entry(uint16_t net, const uint8_t *mac, uint32_t dest,
		      uint32_t age, void *arg)
{
	struct fdb_walk *f = arg;
	uint16_t port = MAC_DEST_PORT(dest), vtep1 = MAC_DEST_VTEP1(dest);
	char text[INET_ADDRSTRLEN + 8];

	if (f->net && net != f->net)
		return;
	if (f->count++ >= FDB_SHOW_MAX)
		return;
	f->shown++;
	jw_obj_open(f->out, NULL);
	mac_text(mac, text, sizeof(text));
	jw_str(f->out, "mac", text);
	jw_u64(f->out, "network", net);
	jw_u64(f->out, "port", port);
	if (vtep1 && port < f->sw->nports &&
	    f->sw->ports[port].kind == PORT_VXLAN && f->sw->ports[port].vx) {
		const struct vxlan *vx = f->sw->ports[port].vx;
		uint32_t ip;
		uint16_t vport, vnet;
		bool flood;

		if (vxlan_vtep_get(vx, vtep1 - 1u, &ip, &vport, &vnet, &flood) &&
		    inet_ntop(AF_INET, &ip, text, sizeof(text)))
			jw_str(f->out, "vtep", text);
	}
	jw_u64(f->out, "age", age);
	jw_obj_close(f->out);
}

static int cmd_fdb_show(const char *cmd, const char *params, struct jw *out,
			void *arg)
{
	struct fdb_walk f = { .sw = arg, .out = out };
	char *end;

	(void)cmd;
	if (*params) {
		unsigned long v = strtoul(params, &end, 10);

		if (*params < '0' || *params > '9' || *end || v < 1 ||
		    v > NET_MAX)
			return -1;
		f.net = (unsigned)v;
	}
	jw_obj_open(out, NULL);
	pthread_mutex_lock(&f.sw->cfg_lock); /* the VXLAN port's VTEPs */
	jw_arr_open(out, "entries");
	mac_table_foreach(f.sw->macs, fdb_entry, &f);
	jw_arr_close(out);
	pthread_mutex_unlock(&f.sw->cfg_lock);
	jw_u64(out, "count", f.count);
	jw_bool(out, "truncated", f.count > f.shown);
	jw_obj_close(out);
	return 0;
}

static int cmd_fdb_flush(const char *cmd, const char *params, struct jw *out,
			 void *arg)
{
	struct sw *sw = arg;
	struct mac_count *c = calloc(1, sizeof(*c));
	unsigned flushed = 0;
	struct sw_port *p = NULL;

	(void)cmd;
	if (!c)
		return -1;
	pthread_mutex_lock(&sw->cfg_lock);
	if (*params && !(p = sw_port_find(sw, params))) {
		pthread_mutex_unlock(&sw->cfg_lock);
		free(c);
		return reply_error(out, "no such port");
	}
	/* Entries are counted, then flushed: one a worker learns in
	 * between is flushed but not counted (or learned again at once). */
	mac_table_foreach(sw->macs, count_mac, c);
	for (unsigned i = 0; i < sw->nports; i++) {
		if (p && p->id != i)
			continue;
		flushed += c->by_port[i];
		mac_table_flush_port(sw->macs, (uint16_t)i);
	}
	pthread_mutex_unlock(&sw->cfg_lock);
	free(c);
	jw_obj_open(out, NULL);
	jw_u64(out, "flushed", flushed);
	jw_obj_close(out);
	return 0;
}

/* ---------------------------------------------------------------- vteps */

static int cmd_vteps(const char *cmd, const char *params, struct jw *out,
		     void *arg)
{
	struct sw *sw = arg;
	struct sw_port *p;

	(void)cmd;
	if (*params)
		return -1;
	pthread_mutex_lock(&sw->cfg_lock);
	p = sw_vxlan_port(sw);
	if (!p) {
		pthread_mutex_unlock(&sw->cfg_lock);
		return reply_error(out, "no VXLAN uplink");
	}
	/* at most 64 networks with a VNI, 64 VTEPs: a bounded reply */
	jw_arr_open(out, NULL);
	for (uint16_t net = 1; net <= NET_MAX; net++) {
		uint32_t vni1 = vxlan_vni1_of(p->vx, net);

		if (!vni1)
			continue;
		jw_obj_open(out, NULL);
		jw_u64(out, "network", net);
		jw_u64(out, "vni", vni1 - 1);
		jw_arr_open(out, "vteps");
		for (unsigned i = 0; i < VX_MAX_VTEPS; i++) {
			char text[INET_ADDRSTRLEN];
			uint32_t ip;
			uint16_t port, vnet;
			bool flood;

			if (!vxlan_vtep_get(p->vx, i, &ip, &port, &vnet, &flood) ||
			    vnet != net || !inet_ntop(AF_INET, &ip, text,
						      sizeof(text)))
				continue;
			jw_obj_open(out, NULL);
			jw_str(out, "ip", text);
			jw_u64(out, "port", ntohs(port));
			jw_str(out, "kind", flood ? "flood" : "learned");
			jw_obj_close(out);
		}
		jw_arr_close(out);
		jw_obj_close(out);
	}
	jw_arr_close(out);
	pthread_mutex_unlock(&sw->cfg_lock);
	return 0;
}

static int cmd_vtep_add(const char *cmd, const char *params, struct jw *out,
			void *arg)
{
	char err[256];
	int idx;

	(void)cmd;
	if (!*params)
		return reply_error(out, "vtep_add needs NET:VNI:IP[:PORT]");
	idx = sw_vtep_add(arg, params, err, sizeof(err));
	if (idx < 0)
		return reply_error(out, err);
	jw_obj_open(out, NULL);
	jw_str(out, "added", params);
	jw_obj_close(out);
	return 0;
}

static int cmd_vtep_del(const char *cmd, const char *params, struct jw *out,
			void *arg)
{
	char err[256];
	int idx;

	(void)cmd;
	if (!*params)
		return reply_error(out, "vtep_del needs NET:IP[:PORT]");
	idx = sw_vtep_del(arg, params, err, sizeof(err));
	if (idx < 0)
		return reply_error(out, err);
	jw_obj_open(out, NULL);
	jw_str(out, "removed", params);
	jw_obj_close(out);
	return 0;
}

/* -------------------------------------------------------------- workers */

static int cmd_workers(const char *cmd, const char *params, struct jw *out,
		       void *arg)
{
	struct sw *sw = arg;

	(void)cmd;
	if (*params)
		return -1;
	jw_arr_open(out, NULL);
	for (unsigned i = 0; i < sw->nworkers; i++) {
		struct sw_worker *w = &sw->workers[i];

		jw_obj_open(out, NULL);
		jw_u64(out, "id", i);
		jw_i64(out, "cpu", w->cpu);
		jw_u64(out, "units", atomic_load(&w->nunits));
		jw_u64(out, "passes", atomic_load(&w->passes));
		jw_u64(out, "busy_passes", atomic_load(&w->busy_passes));
		jw_u64(out, "packets", atomic_load(&w->packets));
		jw_u64(out, "floods", atomic_load(&w->floods));
		jw_obj_close(out);
	}
	jw_arr_close(out);
	return 0;
}

static int cmd_rxqs(const char *cmd, const char *params, struct jw *out,
		    void *arg)
{
	struct sw *sw = arg;

	(void)cmd;
	if (*params)
		return -1;
	/* Lock order: cfg_lock, then assign_lock (as sw_port_add). */
	pthread_mutex_lock(&sw->cfg_lock);
	pthread_mutex_lock(&sw->assign_lock);
	jw_arr_open(out, NULL);
	for (unsigned p = 0; p < sw->nports; p++) {
		for (unsigned q = 0; q < SW_MAX_QP; q++) {
			if (!sw->owner[p][q])
				continue;
			jw_obj_open(out, NULL);
			jw_u64(out, "worker", sw->owner[p][q] - 1u);
			jw_u64(out, "port", p);
			jw_str(out, "name", sw_port_name(&sw->ports[p]));
			jw_u64(out, "queue", q);
			jw_obj_close(out);
		}
	}
	jw_arr_close(out);
	pthread_mutex_unlock(&sw->assign_lock);
	pthread_mutex_unlock(&sw->cfg_lock);
	return 0;
}

/* ------------------------------------------------------------ log level */

static const char *const level_names[] = {
	[VHOST_LOG_ERR] = "err",
	[VHOST_LOG_WARNING] = "warning",
	[VHOST_LOG_INFO] = "info",
	[VHOST_LOG_DEBUG] = "debug",
};

static int cmd_log_level(const char *cmd, const char *params, struct jw *out,
			 void *arg)
{
	enum vhost_log_level l;

	(void)cmd, (void)arg;
	if (*params) {
		for (l = VHOST_LOG_ERR; l <= VHOST_LOG_DEBUG; l++)
			if (!strcmp(params, level_names[l]))
				break;
		if (l > VHOST_LOG_DEBUG)
			return reply_error(out, "level: err, warning, info or "
					   "debug");
		vhost_log_set_level(l);
	}
	l = vhost_log_get_level();
	jw_obj_open(out, NULL);
	jw_str(out, "level", l >= VHOST_LOG_ERR && l <= VHOST_LOG_DEBUG ?
			     level_names[l] : "info");
	jw_obj_close(out);
	return 0;
}

static const struct {
	const char *cmd;
	tel_handler fn;
	unsigned flags;
	const char *help;
} commands[] = {
	{ "/vhost-switch/ports", cmd_ports, 0,
	  "Ports: id, name, kind, mode, state, network, queues, counters, "
	  "MACs learned" },
	{ "/vhost-switch/port_add", cmd_port_add, TEL_CHANGES_STATE,
	  "Add a port: PATH[,client][,queues=N][,mac=MAC...][,lock]"
	  "[,max-macs=N][,network=N], tap=NAME[,network=N][,trunk], "
	  "nic=IFNAME[,network=N][,trunk] or "
	  "vxlan=LOCAL_IP[:PORT][,mtu=N][,strict]" },
	{ "/vhost-switch/port_del", cmd_port_del, TEL_CHANGES_STATE,
	  "Remove a port, by name or id" },
	{ "/vhost-switch/fdb_show", cmd_fdb_show, 0,
	  "MAC table entries, optionally of one network" },
	{ "/vhost-switch/fdb_flush", cmd_fdb_flush, TEL_CHANGES_STATE,
	  "Forget learned MACs, of one port (name or id) or all" },
	{ "/vhost-switch/vteps", cmd_vteps, 0,
	  "VXLAN: per network its VNI and VTEPs (ip, port, flood or learned)" },
	{ "/vhost-switch/vtep_add", cmd_vtep_add, TEL_CHANGES_STATE,
	  "Map a network to a VNI and flood to a VTEP: NET:VNI:IP[:PORT]" },
	{ "/vhost-switch/vtep_del", cmd_vtep_del, TEL_CHANGES_STATE,
	  "Stop flooding to a VTEP, forget its MACs: NET:IP[:PORT]" },
	{ "/vhost-switch/workers", cmd_workers, 0,
	  "Workers: cpu, units, passes, busy passes, packets, floods" },
	{ "/vhost-switch/rxqs", cmd_rxqs, 0,
	  "Which worker polls which port queue" },
	/* Reading: anyone who may connect; setting: a state change. */
	{ "/vhost-switch/log_level", cmd_log_level,
	  TEL_CHANGES_STATE_WITH_PARAMS,
	  "Log level, set with err, warning, info or debug" },
};

int sw_ctl_register(struct tel *t, struct sw *sw)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		int ret = tel_register(t, commands[i].cmd, commands[i].fn, sw,
				       commands[i].help, commands[i].flags);

		if (ret)
			return ret;
	}
	return 0;
}
