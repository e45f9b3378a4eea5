/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-switch's tenant networks: the MAC table keyed by (network, MAC)
 * (the same MAC in two networks, remote VTEP destinations, flushes), the
 * network of a frame on access and trunk ports (802.1Q tag taken off, bad
 * tags dropped), port options, and port security per network (a MAC one
 * network's port owns is free in another network, and no remote host may
 * claim it in its own).
 */
#include <stdlib.h>

#include "check.h"
#include "network.h"
#include "port_sec.h"

static struct mac_table *t;
static struct vhost_pktbuf_pool *pool;

static const uint8_t MAC1[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t MAC2[6] = { 2, 0, 0, 0, 0, 2 };

static void table_per_network(void)
{
	mac_table_init(t, 300);
	mac_table_learn(t, 1, MAC1, 3);
	mac_table_learn(t, 2, MAC1, MAC_DEST(5, 7));
	CHECK_EQ(mac_table_lookup(t, 1, MAC1), 3);
	CHECK_EQ(mac_table_lookup(t, 2, MAC1), MAC_DEST(5, 7));
	CHECK_EQ(MAC_DEST_PORT(mac_table_lookup(t, 2, MAC1)), 5);
	CHECK_EQ(MAC_DEST_VTEP1(mac_table_lookup(t, 2, MAC1)), 7);
	CHECK_EQ(mac_table_lookup(t, 3, MAC1), MAC_PORT_NONE);
	CHECK_EQ(mac_table_lookup(t, 1, MAC2), MAC_PORT_NONE);
	CHECK_EQ(mac_table_count(t), 2);
	/* a remote MAC moves to another VTEP */
	mac_table_learn(t, 2, MAC1, MAC_DEST(5, 8));
	CHECK_EQ(mac_table_lookup(t, 2, MAC1), MAC_DEST(5, 8));
	CHECK_EQ(mac_table_count(t), 2);
	/* forgetting a VTEP leaves the local entry */
	mac_table_flush_vtep(t, 8);
	CHECK_EQ(mac_table_lookup(t, 2, MAC1), MAC_PORT_NONE);
	CHECK_EQ(mac_table_lookup(t, 1, MAC1), 3);
	mac_table_flush_port(t, 3);
	CHECK_EQ(mac_table_lookup(t, 1, MAC1), MAC_PORT_NONE);
}

/* Many MACs in many networks: each found where it was learned. */
static void table_many(void)
{
	mac_table_init(t, 300);
	for (unsigned n = 1; n <= 8; n++)
		for (unsigned i = 0; i < 100; i++) {
			uint8_t m[6] = { 2, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i };

			mac_table_learn(t, (uint16_t)n, m, n * 100 + i);
		}
	unsigned found = 0;

	for (unsigned n = 1; n <= 8; n++)
		for (unsigned i = 0; i < 100; i++) {
			uint8_t m[6] = { 2, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i };

			found += mac_table_lookup(t, (uint16_t)n, m) == n * 100 + i;
		}
	CHECK_EQ(found, 800);
}

/* Slots are reused once stale; searches stop at a never-used slot: every
 * fresh key is still found, no key is there twice. */
static void table_reuse(void)
{
	unsigned found = 0;

	mac_table_init(t, 10);
	for (unsigned i = 0; i < 1500; i++) {
		uint8_t m[6] = { 2, 1, 0, 0, (uint8_t)(i >> 8), (uint8_t)i };

		mac_table_learn(t, 1, m, 1);
	}
	atomic_store(&t->now, 1 + 11); /* all stale */
	CHECK_EQ(mac_table_count(t), 0);
	for (unsigned i = 0; i < 1500; i++) {
		uint8_t m[6] = { 2, 2, 0, 0, (uint8_t)(i >> 8), (uint8_t)i };

		mac_table_learn(t, 1, m, 2);
	}
	for (unsigned i = 0; i < 100; i++) {
		uint8_t m[6] = { 2, 1, 0, 0, (uint8_t)(i >> 8), (uint8_t)i };

		mac_table_learn(t, 1, m, 3);
	}
	for (unsigned i = 0; i < 1500; i++) {
		uint8_t a[6] = { 2, 1, 0, 0, (uint8_t)(i >> 8), (uint8_t)i };
		uint8_t b[6] = { 2, 2, 0, 0, (uint8_t)(i >> 8), (uint8_t)i };

		found += mac_table_lookup(t, 1, b) == 2;
		found += mac_table_lookup(t, 1, a) == (i < 100 ? 3u : MAC_PORT_NONE);
	}
	CHECK_EQ(found, 3000);
	CHECK_EQ(mac_table_count(t), 1600);
}

static struct vhost_pktbuf *frame(const uint8_t *bytes, uint16_t len)
{
	struct vhost_pktbuf *p = vhost_pktbuf_alloc(pool);

	CHECK(p);
	memcpy(vhost_pktbuf_append(p, len), bytes, len);
	return p;
}

static void ingress_access_trunk(void)
{
	struct port_net access = { .net = 4 }, zero = { 0 }, trunk = { .trunk = true };
	uint8_t plain[60] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00, 0x45 };
	uint8_t tagged[64] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00,
			       0x20, 0x07, 0x08, 0x00, 0x45 };
	struct vhost_pktbuf *p;
	const uint8_t *d;

	p = frame(plain, sizeof(plain));
	CHECK_EQ(network_ingress(&access, p), 4);
	CHECK_EQ(pkt_net(p), 4);
	vhost_pktbuf_free(p);
	p = frame(plain, sizeof(plain));
	CHECK_EQ(network_ingress(&zero, p), NET_DEFAULT); /* zeroed: default */
	vhost_pktbuf_free(p);
	/* a tagged frame on an access port: another network's */
	p = frame(tagged, sizeof(tagged));
	CHECK_EQ(network_ingress(&access, p), NET_NONE);
	vhost_pktbuf_free(p);
	/* priority tag (VID 0) is fine */
	tagged[14] = 0x20;
	tagged[15] = 0;
	p = frame(tagged, sizeof(tagged));
	CHECK_EQ(network_ingress(&access, p), 4);
	vhost_pktbuf_free(p);
	/* trunk: VID 7 (PCP 1) is network 7, the tag comes off */
	tagged[15] = 7;
	p = frame(tagged, sizeof(tagged));
	CHECK_EQ(network_ingress(&trunk, p), 7);
	CHECK_EQ(pkt_net(p), 7);
	CHECK_EQ(p->pkt_len, sizeof(tagged) - 4);
	d = vhost_pktbuf_data(p);
	CHECK(!memcmp(d, tagged, 12));
	CHECK(d[12] == 0x08 && d[13] == 0 && d[14] == 0x45);
	vhost_pktbuf_free(p);
	/* trunk: untagged, VID 0, VID 4095, a truncated tag: dropped */
	p = frame(plain, sizeof(plain));
	CHECK_EQ(network_ingress(&trunk, p), NET_NONE);
	vhost_pktbuf_free(p);
	tagged[14] = 0x0f;
	tagged[15] = 0xff;
	p = frame(tagged, sizeof(tagged));
	CHECK_EQ(network_ingress(&trunk, p), NET_NONE);
	vhost_pktbuf_free(p);
	tagged[14] = tagged[15] = 0;
	p = frame(tagged, sizeof(tagged));
	CHECK_EQ(network_ingress(&trunk, p), NET_NONE);
	vhost_pktbuf_free(p);
	tagged[15] = 9;
	p = frame(tagged, 16);
	CHECK_EQ(network_ingress(&trunk, p), NET_NONE);
	vhost_pktbuf_free(p);
	p = frame(plain, 13);
	CHECK_EQ(network_ingress(&access, p), NET_NONE);
	vhost_pktbuf_free(p);
	CHECK(network_carries(&trunk, 99) && network_carries(&access, 4) &&
	      !network_carries(&access, 1) && network_carries(&zero, 1));
}

static void options(void)
{
	struct port_net pn = { 0 };

	CHECK_EQ(network_parse_opt(&pn, "network=12", false), 1);
	CHECK_EQ(pn.net, 12);
	CHECK_EQ(network_parse_opt(&pn, "mac=02:00:00:00:00:01", false), 0);
	CHECK_EQ(network_parse_opt(&pn, "network=0", false), -1);
	CHECK_EQ(network_parse_opt(&pn, "network=4095", false), -1);
	CHECK_EQ(network_parse_opt(&pn, "network=", false), -1);
	CHECK_EQ(network_parse_opt(&pn, "network=3x", false), -1);
	CHECK_EQ(network_parse_opt(&pn, "trunk", false), -1); /* VMs: access */
	CHECK_EQ(network_parse_opt(&pn, "trunk", true), 1);
	CHECK(pn.trunk);
}

/* Port 0 (network 1) owns MAC1: port 1 in network 1 may not use it, port
 * 2 in network 2 may (another tenant's address space). */
static void port_sec_per_network(void)
{
	struct port_sec sec[3];

	mac_table_init(t, 300);
	for (int i = 0; i < 3; i++)
		port_sec_init(&sec[i]);
	sec[2].net = 2;
	CHECK_EQ(port_sec_allow(&sec[0], MAC1), 0);
	CHECK_EQ(port_sec_ingress(t, sec, 3, 1, 1, MAC1), PSEC_DROP_SPOOF);
	CHECK_EQ(port_sec_ingress(t, sec, 3, 2, 2, MAC1), PSEC_PASS);
	CHECK_EQ(port_sec_ingress(t, sec, 3, 0, 1, MAC1), PSEC_PASS);
	CHECK_EQ(mac_table_lookup(t, 1, MAC1), 0);
	CHECK_EQ(mac_table_lookup(t, 2, MAC1), 2);
	CHECK_EQ(atomic_load(&sec[2].moves), 0); /* not a move: two MACs */
	/* a remote host (port 1 as the VXLAN uplink) may not claim it in
	 * network 1; in network 2 nobody owns it */
	CHECK(!port_sec_remote_ok(sec, 3, 1, 1, MAC1));
	CHECK_EQ(atomic_load(&sec[1].drop_spoof), 2);
	CHECK(port_sec_remote_ok(sec, 3, 1, 2, MAC1));
	CHECK(port_sec_remote_ok(sec, 3, 1, 1, MAC2));
}

int main(void)
{
	t = malloc(sizeof(*t));
	pool = vhost_pktbuf_pool_create("net", 64, 2048, 0);
	CHECK(t && pool);
	RUN(table_per_network);
	RUN(table_many);
	RUN(table_reuse);
	RUN(ingress_access_trunk);
	RUN(options);
	RUN(port_sec_per_network);
	vhost_pktbuf_pool_destroy(pool);
	free(t);
	return check_summary("test_network");
}
