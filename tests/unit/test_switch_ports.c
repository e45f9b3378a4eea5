/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-switch ports at run time (port.c, port_spec.c) and the
 * /vhost-switch/... control commands (sw_ctl.c, called as the control socket
 * would), in-process with test front-ends (tests/lib/frontend.c) as VMs.
 *
 * - under traffic between A and B, port C is added and reaches A;
 * - B is deleted while A and C exchange traffic: nothing lost between A
 *   and C, B's MACs gone, its slot free; B comes back at the same path (the
 *   same id, counters from zero) and works;
 * - every error (bad spec, path not a socket, duplicate, too many ports,
 *   unknown port) is a clear error reply and the switch keeps forwarding;
 * - 200 add/del rounds (some with a VM connected) leave no fd behind;
 * - the read commands (ports, fdb_show, fdb_flush, workers, rxqs,
 *   log_level) reply what the contract in docs/operations.md says;
 * - TAP and NIC uplinks come and go (root only);
 * - the VXLAN uplink and its VTEPs at run time (sw_vxlan.c): vteps,
 *   vtep_add, vtep_del and every refusal, MACs behind a removed VTEP
 *   flushed, port_del / port_add of the uplink starting empty, no fd left;
 *   with the real workers flooding, 200 vtep_add/vtep_del rounds and no
 *   frame to a removed VTEP (root only: a raw socket).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <vhost/pktbuf.h>
#include <vhost/vhost.h>

#include "check.h"
#include "sw_ctl.h"
#include "frontend.h"
#include "json.h"
#include "port_spec.h"
#include "switch.h"
#include "telemetry.h"

#define WAIT_MS 10000
#define RXQ 0
#define TXQ 1
#define HDR 12 /* VERSION_1: virtio_net_hdr_mrg_rxbuf */
#define NW 2   /* workers */

static struct sw sw;
static char dir[64];

/* ------------------------------------------- the control socket's table */

/* tel_register as the server keeps it; the tests call the handlers. */
static struct {
	char cmd[64];
	tel_handler fn;
	void *arg;
	unsigned flags;
} cmds[16];
static unsigned ncmds;

int tel_register(struct tel *t, const char *cmd, tel_handler fn, void *arg,
		 const char *help, unsigned flags)
{
	(void)t;
	if (ncmds >= 16 || strlen(cmd) >= sizeof(cmds[0].cmd) || !help)
		return -ENOSPC;
	snprintf(cmds[ncmds].cmd, sizeof(cmds[0].cmd), "%s", cmd);
	cmds[ncmds].fn = fn;
	cmds[ncmds].arg = arg;
	cmds[ncmds++].flags = flags;
	return 0;
}

/* Call "/vhost-switch/<name>" with params; the reply text in *reply (to
 * free), the handler's return value returned. */
static int call(const char *name, const char *params, char **reply)
{
	char cmd[64];
	struct jw w;
	int ret = -100;

	snprintf(cmd, sizeof(cmd), "/vhost-switch/%s", name);
	jw_init(&w, 65536);
	for (unsigned i = 0; i < ncmds; i++)
		if (!strcmp(cmds[i].cmd, cmd))
			ret = cmds[i].fn(cmd, params, &w, cmds[i].arg);
	CHECK(!w.failed);
	*reply = strdup(w.buf ? w.buf : "");
	jw_free(&w);
	return ret;
}

/* The reply of a command that must succeed, checked to contain want. */
static bool reply_has(const char *name, const char *params, const char *want)
{
	char *r;
	bool ok = call(name, params, &r) == 0 && strstr(r, want);

	if (!ok)
		fprintf(stderr, "%s(%s): %s (wanted %s)\n", name, params, r, want);
	free(r);
	return ok;
}

static unsigned flags_of(const char *cmd)
{
	for (unsigned i = 0; i < ncmds; i++)
		if (!strcmp(cmds[i].cmd, cmd))
			return cmds[i].flags;
	return ~0u;
}

/* port_add; the new id, or -1 */
static int add(const char *spec)
{
	char *r, *p;
	int id = -1;

	if (call("port_add", spec, &r) == 0 && (p = strstr(r, "\"id\":")))
		id = atoi(p + 5);
	free(r);
	return id;
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* ----------------------------------------------------------- the switch */

static void sw_up(void)
{
	memset(&sw, 0, sizeof(sw));
	pthread_mutex_init(&sw.assign_lock, NULL);
	pthread_mutex_init(&sw.cfg_lock, NULL);
	sw.defaults = (struct sw_port_defaults){ .queues = 1,
		.max_learned = PSEC_DEFAULT_MAX_LEARNED };
	sw.macs = malloc(sizeof(*sw.macs));
	sw.pool = vhost_pktbuf_pool_create("switch", 4096, 2048, 256);
	sw.ctx = vhost_ctx_create(NULL);
	CHECK(sw.macs && sw.pool && sw.ctx);
	mac_table_init(sw.macs, 300);
	for (unsigned i = 0; i < SW_MAX_PORTS; i++) {
		sw.ports[i].id = (uint16_t)i;
		sw.ports[i].tap_fd = -1;
		atomic_store(&sw.ports[i].worker, -1);
		port_sec_init(&sw.sec[i]);
	}
	sw.nworkers = NW;
	for (unsigned i = 0; i < NW; i++) {
		sw.workers[i].id = (int)i;
		sw.workers[i].sw = &sw;
		sw.workers[i].cpu = -1;
		CHECK_EQ(pthread_create(&sw.workers[i].thread, NULL,
					sw_worker_main, &sw.workers[i]), 0);
	}
	ncmds = 0;
	CHECK_EQ(sw_ctl_register(NULL, &sw), 0);
}

static void sw_down(void)
{
	atomic_store(&sw.stop, true);
	for (unsigned i = 0; i < NW; i++)
		pthread_join(sw.workers[i].thread, NULL);
	vhost_ctx_destroy(sw.ctx);
	for (unsigned i = 0; i < sw.nports; i++) {
		if (sw.ports[i].tap_fd >= 0)
			close(sw.ports[i].tap_fd);
		sw.ports[i].tap_fd = -1;
	}
	CHECK_EQ(vhost_pktbuf_pool_avail(sw.pool), 4096);
	vhost_pktbuf_pool_destroy(sw.pool);
	free(sw.macs);
	pthread_mutex_destroy(&sw.assign_lock);
	pthread_mutex_destroy(&sw.cfg_lock);
}

/* ------------------------------------------------------------ the guests */

struct guest {
	struct fe fe;
	uint16_t nd;           /* next free descriptor (both rings share) */
	uint8_t *buf[256];     /* RX buffer of each descriptor */
	uint8_t mac[6];
};

static bool wait_until(bool (*pred)(void *), void *arg)
{
	return fe_wait(pred, arg, WAIT_MS) == 0;
}

static bool port_is_up(void *arg)
{
	return atomic_load(&((struct sw_port *)arg)->up);
}

/* A VM on port id at path, with MAC 02:..:mac_id. */
static bool g_connect(struct guest *g, int id, const char *path,
		      uint8_t mac_id)
{
	struct fe_opts o = { .mem_size = 4u << 20 };

	memset(g, 0, sizeof(*g));
	fe_init(&g->fe);
	memcpy(g->mac, (uint8_t[]){ 0x02, 0, 0, 0, 0, mac_id }, 6);
	if (id < 0 || fe_connect(&g->fe, path, WAIT_MS) ||
	    fe_handshake(&g->fe, &o))
		return false;
	return wait_until(port_is_up, &sw.ports[id]);
}

static uint16_t g_desc(struct guest *g, uint16_t q, void *p, uint32_t len,
		       uint16_t flags)
{
	struct fe_vring *vr = &g->fe.vr[q];
	uint16_t i = g->nd++ & (uint16_t)(vr->size - 1);

	vr->desc[i].addr = fe_gpa(&g->fe, p);
	vr->desc[i].len = len;
	vr->desc[i].flags = flags;
	vr->desc[i].next = 0;
	vr->avail->ring[vr->avail_idx++ & (vr->size - 1)] = i;
	return i;
}

static void g_publish(struct guest *g, uint16_t q)
{
	atomic_store_explicit((_Atomic uint16_t *)&g->fe.vr[q].avail->idx,
			      g->fe.vr[q].avail_idx, memory_order_release);
}

static uint16_t g_used(struct guest *g, uint16_t q)
{
	return atomic_load_explicit((_Atomic uint16_t *)&g->fe.vr[q].used->idx,
				    memory_order_acquire);
}

/* One frame to dst, published. */
static void g_send(struct guest *g, const uint8_t *dst, uint8_t fill)
{
	uint8_t *b = fe_alloc(&g->fe, HDR + 64, 8);

	memset(b, 0, HDR);
	memcpy(b + HDR, dst, 6);
	memcpy(b + HDR + 6, g->mac, 6);
	b[HDR + 12] = 0x08;
	b[HDR + 13] = 0x00;
	memset(b + HDR + 14, fill, 50);
	g_desc(g, TXQ, b, HDR + 64, 0);
	g_publish(g, TXQ);
}

static void g_rx_post(struct guest *g, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		uint8_t *b = fe_alloc(&g->fe, 2048, 8);

		g->buf[g_desc(g, RXQ, b, 2048, VRING_DESC_F_WRITE)] = b;
	}
	g_publish(g, RXQ);
}

struct used_wait {
	struct guest *g;
	uint16_t q, want;
};

static bool used_reached(void *arg)
{
	struct used_wait *w = arg;

	return (uint16_t)(g_used(w->g, w->q) - w->want) < 0x8000;
}

static bool wait_used(struct guest *g, uint16_t q, uint16_t want)
{
	struct used_wait w = { g, q, want };

	return wait_until(used_reached, &w);
}

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* a sends one frame to b (b has a free RX buffer): true if it arrives. */
static bool hop(struct guest *a, struct guest *b, uint8_t fill)
{
	uint16_t before = g_used(b, RXQ);

	g_send(a, b->mac, fill);
	return wait_used(b, RXQ, (uint16_t)(before + 1));
}

/* Both learn where the other is (a broadcast each way). */
static bool meet(struct guest *a, struct guest *b)
{
	uint16_t ua = g_used(a, RXQ), ub = g_used(b, RXQ);

	g_send(a, bcast, 1);
	if (!wait_used(b, RXQ, (uint16_t)(ub + 1)))
		return false;
	g_send(b, bcast, 2);
	return wait_used(a, RXQ, (uint16_t)(ua + 1));
}

/* ------------------------------------------------------------------ tests */

struct del_arg {
	const char *name;
	int ret;
	_Atomic bool done;
};

static void *del_thread(void *arg)
{
	struct del_arg *d = arg;
	char msg[200];

	d->ret = sw_port_del(&sw, d->name, msg, sizeof(msg));
	atomic_store(&d->done, true);
	return NULL;
}

/* Add C under A<->B traffic; delete B under A<->C traffic; re-add B. */
static void test_add_del_under_traffic(void)
{
	char pa[96], pb[96], pc[96];
	struct guest a, b, c, b2;
	struct del_arg d = { 0 };
	pthread_t t;
	int ia, ib, ic;

	sw_up();
	path_of(pa, sizeof(pa), "a");
	path_of(pb, sizeof(pb), "b");
	path_of(pc, sizeof(pc), "c");
	ia = add(pa);
	ib = add(pb);
	CHECK_EQ(ia, 0);
	CHECK_EQ(ib, 1);
	CHECK(g_connect(&a, ia, pa, 1));
	CHECK(g_connect(&b, ib, pb, 2));
	g_rx_post(&a, 120);
	g_rx_post(&b, 60);
	CHECK(meet(&a, &b));
	/* C arrives while A and B talk. */
	g_send(&a, b.mac, 3);
	ic = add(pc);
	CHECK_EQ(ic, 2);
	g_send(&b, a.mac, 4);
	CHECK(g_connect(&c, ic, pc, 3));
	g_rx_post(&c, 120);
	CHECK(wait_used(&b, RXQ, 2));
	CHECK(wait_used(&a, RXQ, 2));
	CHECK(meet(&c, &a));
	CHECK(hop(&c, &a, 5));
	CHECK(hop(&a, &c, 6));
	CHECK(mac_table_lookup(sw.macs, 1, b.mac) == (uint32_t)ib);
	/* B goes while A and C exchange frames: none of theirs is lost. */
	d.name = pb;
	CHECK_EQ(pthread_create(&t, NULL, del_thread, &d), 0);
	for (int i = 0; i < 40 || !atomic_load(&d.done); i++) {
		if (i >= 80)
			break;
		CHECK(hop(&a, &c, (uint8_t)i));
		CHECK(hop(&c, &a, (uint8_t)i));
	}
	pthread_join(t, NULL);
	CHECK_EQ(d.ret, ib);
	CHECK_EQ(atomic_load(&sw.ports[ib].state), SW_SLOT_FREE);
	CHECK_EQ(mac_table_lookup(sw.macs, 1, b.mac), MAC_PORT_NONE);
	CHECK_EQ(atomic_load(&sw.ports[ib].rx_packets), 0);
	CHECK_EQ(atomic_load(&sw.sec[ib].nallowed), 0);
	CHECK(access(pb, F_OK) != 0); /* its socket file went too */
	fe_close(&b.fe);
	/* Frames to B's MAC now flood to A/C only; nothing reaches the slot. */
	CHECK(hop(&a, &c, 0x55));
	/* B again, at the same path: the same slot, fresh counters. */
	CHECK_EQ(add(pb), ib);
	CHECK_EQ(atomic_load(&sw.ports[ib].rx_packets), 0);
	CHECK(g_connect(&b2, ib, pb, 2));
	g_rx_post(&b2, 8);
	CHECK(meet(&b2, &a));
	CHECK(hop(&b2, &c, 7));
	CHECK(hop(&a, &b2, 8));
	CHECK(atomic_load(&sw.ports[ib].rx_packets) >= 2);
	CHECK(reply_has("ports", "", "\"name\":\""));
	fe_close(&a.fe);
	fe_close(&b2.fe);
	fe_close(&c.fe);
	sw_down();
}

static bool is_error(const char *name, const char *params, const char *text)
{
	return reply_has(name, params, "{\"error\":") &&
	       reply_has(name, params, text);
}

/* Every refusal is a clear error reply; the switch keeps forwarding. */
static void test_errors(void)
{
	char pa[96], pc[96], file[96], spec[160];
	struct guest a, c;
	char *r;
	int ia, ic, fd, ids[SW_MAX_PORTS];
	unsigned n = 0;

	sw_up();
	path_of(pa, sizeof(pa), "a");
	path_of(pc, sizeof(pc), "c");
	path_of(file, sizeof(file), "plain");
	ia = add(pa);
	ic = add(pc);
	CHECK(g_connect(&a, ia, pa, 1));
	CHECK(g_connect(&c, ic, pc, 3));
	g_rx_post(&a, 16);
	g_rx_post(&c, 16);
	CHECK(meet(&a, &c));
	CHECK(is_error("port_add", "", "no port name"));
	CHECK(is_error("port_add", ",queues=2", "no port name"));
	snprintf(spec, sizeof(spec), "%s/x,bogus=1", dir);
	CHECK(is_error("port_add", spec, "unknown port option: bogus=1"));
	snprintf(spec, sizeof(spec), "%s/x,queues=0", dir);
	CHECK(is_error("port_add", spec, "queues=N"));
	snprintf(spec, sizeof(spec), "%s/x,queues=17", dir);
	CHECK(is_error("port_add", spec, "queues=N"));
	snprintf(spec, sizeof(spec), "%s/x,mac=01:00:00:00:00:01", dir);
	CHECK(is_error("port_add", spec, "unicast"));
	snprintf(spec, sizeof(spec), "%s/x,max-macs=257", dir);
	CHECK(is_error("port_add", spec, "max-macs"));
	snprintf(spec, sizeof(spec), "%s/x,network=4095", dir);
	CHECK(is_error("port_add", spec, "network"));
	snprintf(spec, sizeof(spec), "%s/x,trunk", dir);
	CHECK(is_error("port_add", spec, "trunk: only on an uplink"));
	CHECK(is_error("port_add", "tap=t0,mac=02:00:00:00:00:01",
		       "unknown uplink option"));
	CHECK(is_error("port_add", "tap=a/b", "bad character"));
	CHECK(is_error("port_add", "nic=abcdefghijklmnopq", "name too long"));
	/* A path that exists and is not a socket is left alone. */
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK(is_error("port_add", file, "exists and is not a socket"));
	CHECK_EQ(access(file, F_OK), 0);
	unlink(file);
	CHECK(is_error("port_add", pa, "a port named"));
	/* Fill every slot, then one more. */
	for (unsigned i = sw.nports; i < SW_MAX_PORTS; i++) {
		snprintf(spec, sizeof(spec), "%s/f%u", dir, i);
		ids[n] = add(spec);
		CHECK(ids[n] >= 0);
		n++;
	}
	snprintf(spec, sizeof(spec), "%s/one-more", dir);
	CHECK(is_error("port_add", spec, "too many ports"));
	for (unsigned i = 0; i < n; i++) {
		snprintf(spec, sizeof(spec), "%d", ids[i]);
		CHECK(reply_has("port_del", spec, "\"id\":"));
	}
	CHECK(is_error("port_del", "", "port name or id"));
	CHECK(is_error("port_del", "999", "no port"));
	CHECK(is_error("port_del", "/nowhere", "no port"));
	CHECK(is_error("port_del", "5", "no port")); /* a freed slot */
	CHECK(is_error("fdb_flush", "nosuch", "no such port"));
	CHECK(is_error("log_level", "loud", "level"));
	CHECK_EQ(call("fdb_show", "0", &r), -1);
	free(r);
	CHECK_EQ(call("fdb_show", "1x", &r), -1);
	free(r);
	CHECK_EQ(call("ports", "x", &r), -1);
	free(r);
	/* Still forwarding. */
	CHECK(hop(&a, &c, 9));
	CHECK(hop(&c, &a, 10));
	fe_close(&a.fe);
	fe_close(&c.fe);
	sw_down();
}

/* 200 rounds of add/del at one path (every 20th with a VM that connects
 * and sends): no fd is left behind. */
static void test_churn_no_fd_leak(void)
{
	char pa[96], px[96];
	struct guest a, x;
	int fds, ia;

	sw_up();
	path_of(pa, sizeof(pa), "a");
	path_of(px, sizeof(px), "x");
	ia = add(pa);
	CHECK(g_connect(&a, ia, pa, 1));
	g_rx_post(&a, 32);
	fds = fe_count_fds();
	for (int i = 0; i < 200; i++) {
		int id = add(px);
		char msg[200];

		CHECK_EQ(id, 1);
		if (i % 20 == 0) {
			uint16_t before = g_used(&a, RXQ);

			CHECK(g_connect(&x, id, px, 9));
			g_send(&x, bcast, (uint8_t)i);
			CHECK(wait_used(&a, RXQ, (uint16_t)(before + 1)));
		}
		CHECK_EQ(sw_port_del(&sw, px, msg, sizeof(msg)), id);
		if (i % 20 == 0)
			fe_close(&x.fe);
		if (check_failed)
			break;
	}
	CHECK_EQ(fe_count_fds(), fds);
	CHECK_EQ(sw.nports, 2);
	fe_close(&a.fe);
	sw_down();
}

/* The read commands, and what a write command is flagged. */
static void test_read_commands(void)
{
	char pa[96], pc[96], spec[160];
	struct guest a, c;
	char *r;
	int ia, ic;

	sw_up();
	path_of(pa, sizeof(pa), "a");
	path_of(pc, sizeof(pc), "c");
	snprintf(spec, sizeof(spec), "%s,network=7,max-macs=4", pa);
	ia = add(spec);
	snprintf(spec, sizeof(spec), "%s,network=7,mac=02:00:00:00:00:03", pc);
	ic = add(spec);
	CHECK(g_connect(&a, ia, pa, 1));
	CHECK(g_connect(&c, ic, pc, 3));
	g_rx_post(&a, 16);
	g_rx_post(&c, 16);
	CHECK(meet(&a, &c));
	CHECK(reply_has("ports", "", "{\"id\":0,\"name\":\""));
	CHECK(reply_has("ports", "", "\"kind\":\"vhost\",\"mode\":\"server\","
			"\"state\":\"up\",\"network\":7,\"queues\":1,"
			"\"rx_packets\":"));
	CHECK(reply_has("ports", "", "\"macs\":1}"));
	CHECK(reply_has("fdb_show", "", "{\"mac\":\"02:00:00:00:00:01\","
			"\"network\":7,\"port\":0,\"age\":"));
	CHECK(reply_has("fdb_show", "", "{\"entries\":[{\"mac\":"));
	CHECK(reply_has("fdb_show", "", "\"count\":2,\"truncated\":false}"));
	CHECK(reply_has("fdb_show", "7", "\"count\":2"));
	CHECK(reply_has("fdb_show", "1", "{\"entries\":[],\"count\":0,"));
	CHECK(reply_has("workers", "", "[{\"id\":0,\"cpu\":-1,\"units\":"));
	CHECK(reply_has("workers", "", "{\"id\":1,"));
	CHECK(reply_has("rxqs", "", "\"port\":0,\"name\":\""));
	CHECK(reply_has("rxqs", "", "\"port\":1,\"name\":\""));
	CHECK(reply_has("log_level", "", "{\"level\":\"warning\"}"));
	CHECK(reply_has("log_level", "err", "{\"level\":\"err\"}"));
	CHECK_EQ(vhost_log_get_level(), VHOST_LOG_ERR);
	CHECK(reply_has("log_level", "warning", "{\"level\":\"warning\"}"));
	snprintf(spec, sizeof(spec), "%d", ia);
	CHECK(reply_has("fdb_flush", spec, "{\"flushed\":1}"));
	CHECK_EQ(mac_table_lookup(sw.macs, 7, a.mac), MAC_PORT_NONE);
	CHECK(reply_has("fdb_flush", "", "{\"flushed\":1}"));
	CHECK(reply_has("fdb_show", "", "\"count\":0"));
	CHECK(hop(&a, &c, 1)); /* floods, then learns again */
	CHECK(hop(&c, &a, 2));
	CHECK(reply_has("port_del", pc, "\"name\":\""));
	CHECK(call("ports", "", &r) == 0 && !strstr(r, "/c\""));
	free(r);
	/* Writes need the right to change state; reads do not. */
	CHECK_EQ(flags_of("/vhost-switch/port_add"), TEL_CHANGES_STATE);
	CHECK_EQ(flags_of("/vhost-switch/port_del"), TEL_CHANGES_STATE);
	CHECK_EQ(flags_of("/vhost-switch/fdb_flush"), TEL_CHANGES_STATE);
	CHECK_EQ(flags_of("/vhost-switch/ports"), 0);
	CHECK_EQ(flags_of("/vhost-switch/fdb_show"), 0);
	CHECK_EQ(flags_of("/vhost-switch/workers"), 0);
	CHECK_EQ(flags_of("/vhost-switch/rxqs"), 0);
	fe_close(&a.fe);
	fe_close(&c.fe);
	sw_down();
}

/* The same parser for the command line and port_add. */
static void test_spec_parse(void)
{
	struct sw_port_defaults d = { .queues = 8, .max_learned = 64,
				      .lock = true };
	struct port_spec s;
	char err[128];

	CHECK_EQ(port_spec_parse("/tmp/p,client,queues=2,mac=02:00:00:00:00:0a,"
				 "max-macs=3,network=9", -1, &d, &s, err,
				 sizeof(err)), 0);
	CHECK_EQ(s.kind, PORT_VHOST);
	CHECK(!strcmp(s.name, "/tmp/p"));
	CHECK(s.client && s.lock);
	CHECK_EQ(s.queues, 2);
	CHECK_EQ(s.nmacs, 1);
	CHECK_EQ(s.max_learned, 3);
	CHECK_EQ(s.pnet.net, 9);
	CHECK_EQ(port_spec_parse("tap=t1,trunk", -1, &d, &s, err,
				 sizeof(err)), 0);
	CHECK(s.kind == PORT_TAP && s.pnet.trunk && !s.lock && s.queues == 1);
	CHECK_EQ(s.max_learned, 0);
	CHECK_EQ(port_spec_parse("eth9,network=3", PORT_NIC, &d, &s, err,
				 sizeof(err)), 0);
	CHECK(s.kind == PORT_NIC && s.pnet.net == 3);
	/* --socket takes a path that only looks like a TAP spec. */
	CHECK_EQ(port_spec_parse("tap=x", PORT_VHOST, &d, &s, err,
				 sizeof(err)), 0);
	CHECK(s.kind == PORT_VHOST && !strcmp(s.name, "tap=x"));
	CHECK_EQ(port_spec_parse("/p,mac=02:00:00:00:00:01,mac=02:00:00:00:00:02,"
				 "mac=02:00:00:00:00:03,mac=02:00:00:00:00:04,"
				 "mac=02:00:00:00:00:05,mac=02:00:00:00:00:06,"
				 "mac=02:00:00:00:00:07,mac=02:00:00:00:00:08,"
				 "mac=02:00:00:00:00:09", -1, &d, &s, err,
				 sizeof(err)), -1);
	CHECK(strstr(err, "at most 8") != NULL);
	CHECK_EQ(port_spec_parse("/p,queues=", -1, &d, &s, err, sizeof(err)), -1);
	CHECK_EQ(port_spec_parse("/p,queues=+2", -1, &d, &s, err, sizeof(err)),
		 -1);
	CHECK_EQ(port_spec_parse("/p\x01q", -1, &d, &s, err, sizeof(err)), -1);
}

/* TAP and NIC uplinks come and go (they need CAP_NET_ADMIN / NET_RAW). */
static void test_uplinks(void)
{
	const uint8_t host[6] = { 0x02, 0xaa, 0, 0, 0, 1 };
	char name[16], spec[40];
	int id, fds;

	if (geteuid() != 0) {
		printf("skip test_uplinks: not root\n");
		return;
	}
	sw_up();
	fds = fe_count_fds();
	snprintf(name, sizeof(name), "swpt%d", (int)getpid() % 100000);
	snprintf(spec, sizeof(spec), "tap=%s,network=5", name);
	id = add(spec);
	if (id < 0) {
		printf("skip test_uplinks: no TAP here\n");
		sw_down();
		return;
	}
	CHECK(port_is_up(&sw.ports[id]));
	CHECK(reply_has("ports", "", "\"kind\":\"tap\",\"mode\":\"\""));
	CHECK(reply_has("rxqs", "", name));
	/* A host MAC behind the TAP, in two networks: both go with it. */
	mac_table_learn(sw.macs, 5, host, (uint32_t)id);
	mac_table_learn(sw.macs, 6, host, (uint32_t)id);
	CHECK(reply_has("port_del", name, name));
	CHECK_EQ(mac_table_lookup(sw.macs, 5, host), MAC_PORT_NONE);
	CHECK_EQ(mac_table_lookup(sw.macs, 6, host), MAC_PORT_NONE);
	CHECK(add("nic=lo") >= 0);
	CHECK(reply_has("ports", "", "\"kind\":\"nic\""));
	CHECK(reply_has("port_del", "lo", "\"name\":\"lo\""));
	CHECK(reply_has("rxqs", "", "[]"));
	CHECK_EQ(fe_count_fds(), fds);
	sw_down();
}

/* The VXLAN uplink and its VTEPs at run time (raw socket: root). */
static void test_vxlan_runtime(void)
{
	const uint8_t remote[6] = { 0x02, 0xbb, 0, 0, 0, 1 };
	char spec[64];
	unsigned base = 40000 + (unsigned)getpid() % 20000;
	int id, fds;

	sw_up();
	/* nothing to act on yet */
	CHECK(is_error("vteps", "", "no VXLAN uplink"));
	CHECK(is_error("vtep_add", "1:42:127.0.0.1", "no VXLAN uplink"));
	CHECK(is_error("vtep_del", "1:127.0.0.1", "no VXLAN uplink"));
	CHECK(is_error("vtep_add", "", "NET:VNI:IP"));
	CHECK(is_error("vtep_add", "0:42:127.0.0.1", "NET:VNI:IP"));
	CHECK(is_error("vtep_add", "1:16777216:127.0.0.1", "NET:VNI:IP"));
	CHECK(is_error("vtep_add", "1:42:127.0.0", "NET:VNI:IP"));
	CHECK(is_error("vtep_add", "1:42:0.0.0.0", "NET:VNI:IP"));
	CHECK(is_error("vtep_add", "1:42:127.0.0.1:0", "NET:VNI:IP"));
	CHECK(is_error("vtep_del", "1:42:127.0.0.1:1:2", "NET:IP"));
	CHECK(is_error("port_add", "vxlan=", "vxlan=LOCAL_IP"));
	CHECK(is_error("port_add", "vxlan=127.0.0.1,bogus", "vxlan=LOCAL_IP"));
	if (geteuid() != 0) {
		printf("skip test_vxlan_runtime: not root\n");
		sw_down();
		return;
	}
	fds = fe_count_fds();
	snprintf(spec, sizeof(spec), "vxlan=127.0.0.1:%u", base);
	id = add(spec);
	CHECK(id >= 0);
	if (id < 0) {
		sw_down();
		return;
	}
	CHECK(port_is_up(&sw.ports[id]));
	CHECK(reply_has("ports", "", "\"kind\":\"vxlan\""));
	CHECK(reply_has("vteps", "", "[]"));
	/* only one uplink */
	snprintf(spec, sizeof(spec), "vxlan=127.0.0.1:%u", base + 1);
	CHECK(is_error("port_add", spec, "only one"));
	CHECK(reply_has("vtep_add", "1:42:127.0.0.2", "\"added\""));
	CHECK(reply_has("vtep_add", "1:42:127.0.0.3:4790", "\"added\""));
	CHECK(reply_has("vteps", "", "{\"network\":1,\"vni\":42,\"vteps\":"
			"[{\"ip\":\"127.0.0.2\",\"port\":4789,\"kind\":"
			"\"flood\"},{\"ip\":\"127.0.0.3\",\"port\":4790,"));
	/* conflicts and duplicates */
	CHECK(is_error("vtep_add", "1:43:127.0.0.4", "network 1 is VNI 42"));
	CHECK(is_error("vtep_add", "2:42:127.0.0.4", "VNI 42 is network 1"));
	CHECK(is_error("vtep_add", "1:42:127.0.0.2", "flood list already"));
	CHECK(is_error("vtep_del", "2:127.0.0.2", "network 2 has no VNI"));
	CHECK(is_error("vtep_del", "1:127.0.0.9", "no VTEP"));
	CHECK(is_error("vtep_del", "1:127.0.0.3:4791", "no VTEP"));
	/* a MAC behind 127.0.0.2 (VTEP 0) goes with it; 127.0.0.3's stays */
	mac_table_learn(sw.macs, 1, remote, MAC_DEST(id, 1));
	CHECK_EQ(mac_table_lookup(sw.macs, 1, remote), MAC_DEST(id, 1));
	CHECK(reply_has("vtep_del", "1:127.0.0.2", "\"removed\""));
	CHECK_EQ(mac_table_lookup(sw.macs, 1, remote), MAC_PORT_NONE);
	CHECK(reply_has("vteps", "", "[{\"ip\":\"127.0.0.3\""));
	CHECK(is_error("vtep_del", "1:127.0.0.2", "no VTEP"));
	/* the table fills: 64 VTEPs */
	for (unsigned i = 0; i < 63; i++) {
		snprintf(spec, sizeof(spec), "%u:%u:10.0.%u.1", 2 + i / 8,
			 100 + i / 8, i);
		CHECK(reply_has("vtep_add", spec, "\"added\""));
	}
	CHECK(is_error("vtep_add", "9:107:10.1.0.1", "VTEP table full"));
	/* the VXLAN port goes: its VTEPs, VNIs and MACs with it */
	mac_table_learn(sw.macs, 1, remote, MAC_DEST(id, 2));
	CHECK(reply_has("port_del", "vxlan", "\"name\":\"vxlan\""));
	CHECK_EQ(mac_table_lookup(sw.macs, 1, remote), MAC_PORT_NONE);
	CHECK(is_error("vteps", "", "no VXLAN uplink"));
	snprintf(spec, sizeof(spec), "vxlan=127.0.0.1:%u", base);
	id = add(spec);
	CHECK(id >= 0);
	CHECK(reply_has("vteps", "", "[]"));
	CHECK(reply_has("vtep_add", "1:43:127.0.0.2", "\"added\""));
	CHECK(reply_has("port_del", "vxlan", "vxlan"));
	CHECK_EQ(fe_count_fds(), fds);
	sw_down();
}

/* A UDP socket on 127.0.0.N standing in for a remote VTEP: its port. */
static int vtep_socket(uint8_t n, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(0x7f000000u | n) };
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	CHECK(fd >= 0);
	CHECK_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*port = ntohs(a.sin_port);
	return fd;
}

/* The fill byte of the frame in a VXLAN datagram at fd (flags: 0 or
 * MSG_DONTWAIT), or -1 if none. */
static int vtep_recv(int fd, int flags)
{
	uint8_t buf[256];
	ssize_t r = recv(fd, buf, sizeof(buf), flags);

	return r >= 8 + 14 + 1 ? buf[8 + 14] : -1;
}

/* With the real workers: a VTEP added and removed 200 times while a guest
 * floods; after each vtep_del, a frame the workers flood reaches the VTEP
 * that stays (the fence) and not the removed one. */
static void test_vtep_churn_with_workers(void)
{
	char pa[96], spec[64], add_p[48], del_p[48];
	unsigned base = 40000 + (unsigned)getpid() % 20000 + 7;
	uint16_t pp, pq;
	struct guest a;
	int fp, fq, id, late = 0;

	if (geteuid() != 0) {
		printf("skip test_vtep_churn_with_workers: not root\n");
		return;
	}
	sw_up();
	/* a VTEP is its address (decapsulation knows no more): two */
	fp = vtep_socket(1, &pp);
	fq = vtep_socket(2, &pq);
	path_of(pa, sizeof(pa), "a");
	CHECK(g_connect(&a, add(pa), pa, 1));
	snprintf(spec, sizeof(spec), "vxlan=127.0.0.1:%u", base);
	id = add(spec);
	CHECK(id >= 0);
	snprintf(spec, sizeof(spec), "1:42:127.0.0.2:%u", pq);
	CHECK(reply_has("vtep_add", spec, "added"));
	/* the same address with another port is the same VTEP */
	snprintf(spec, sizeof(spec), "1:42:127.0.0.2:%u", pp);
	CHECK(is_error("vtep_add", spec, "flood list already"));
	snprintf(add_p, sizeof(add_p), "1:42:127.0.0.1:%u", pp);
	snprintf(del_p, sizeof(del_p), "1:127.0.0.1:%u", pp);
	for (unsigned i = 0; i < 200 && id >= 0; i++) {
		uint8_t on = (uint8_t)(2 * (i % 100) + 2), off = (uint8_t)(on + 1);

		bool ok = reply_has("vtep_add", add_p, "added");

		g_send(&a, bcast, on);
		ok = ok && vtep_recv(fp, 0) == on && vtep_recv(fq, 0) == on;
		ok = ok && reply_has("vtep_del", del_p, "removed");
		g_send(&a, bcast, off);
		/* one sendmmsg carries both copies: once the fence has its
		 * copy, a copy to the removed VTEP would be there too */
		ok = ok && vtep_recv(fq, 0) == off;
		late += vtep_recv(fp, MSG_DONTWAIT) >= 0;
		CHECK(ok);
		if (!ok) {
			printf("iteration %u failed\n", i);
			break;
		}
	}
	CHECK_EQ(late, 0);
	CHECK(reply_has("port_del", "vxlan", "vxlan"));
	fe_close(&a.fe);
	close(fp);
	close(fq);
	sw_down();
}

int main(void)
{
	int fds = fe_count_fds();

	signal(SIGPIPE, SIG_IGN);
	vhost_log_set_level(VHOST_LOG_WARNING);
	snprintf(dir, sizeof(dir), "/tmp/test_switch_ports.%d", (int)getpid());
	CHECK_EQ(mkdir(dir, 0700), 0);
	RUN(test_spec_parse);
	RUN(test_add_del_under_traffic);
	RUN(test_errors);
	RUN(test_churn_no_fd_leak);
	RUN(test_read_commands);
	RUN(test_uplinks);
	RUN(test_vxlan_runtime);
	RUN(test_vtep_churn_with_workers);
	rmdir(dir);
	CHECK_EQ(fe_count_fds(), fds); /* no fd left behind */
	return check_summary("switch_ports");
}
