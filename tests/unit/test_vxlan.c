/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-switch's VXLAN uplink:
 * - configuration: addresses, MTU, one VNI per network and one network per
 *   VNI, flood lists;
 * - decapsulation of hostile datagrams: too short, wrong flags or reserved
 *   bits, unknown VNI, tiny inner frames, unknown VTEPs (strict: dropped;
 *   otherwise learned, bounded) -- each with its reason;
 * - the outer source port: a hash of the inner flow, in 49152..65535;
 * - over loopback sockets, three VTEPs: flooding to the network's list and
 *   never back to the VTEP a frame came from, unicast to one VTEP, the
 *   VNI carried (the networks' ids are local), frames over the underlay MTU
 *   dropped and counted, a network without a VNI, partial checksums
 *   completed, TSO packets cut to their MSS, and (as root) the outer UDP
 *   header: checksum 0 and the hashed source port;
 * - VTEPs added and removed while a worker-like thread floods: a removed
 *   VTEP gets no frame once the removal returned, a slot is reused only
 *   after removal completed, learned VTEPs join the flood list.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "network.h"
#include "vxlan.h"

static struct vhost_pktbuf_pool *pool;
static struct vxlan va, vb, vc;

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static void config(void)
{
	struct vxlan *v = &va;

	vxlan_init(v);
	CHECK_EQ(vxlan_parse_local(v, "10.1.2.3"), 0);
	CHECK_EQ(v->local_ip, ip4("10.1.2.3"));
	CHECK_EQ(v->local_port, VXLAN_UDP_PORT);
	CHECK_EQ(vxlan_parse_local(v, "10.1.2.3:5000,mtu=9000,strict"), 0);
	CHECK(v->local_port == 5000 && v->mtu == 9000 && v->strict);
	CHECK(vxlan_parse_local(v, "10.1.2") < 0);
	CHECK(vxlan_parse_local(v, "10.1.2.3:0") < 0);
	CHECK(vxlan_parse_local(v, "10.1.2.3,mtu=100") < 0);
	CHECK(vxlan_parse_local(v, "10.1.2.3,bogus") < 0);
	CHECK_EQ(vxlan_parse_vtep(v, "1:42:10.0.0.2"), 0);
	CHECK_EQ(vxlan_parse_vtep(v, "1:42:10.0.0.3:4790"), 0);
	CHECK_EQ(vxlan_parse_vtep(v, "1:42:10.0.0.3"), -EEXIST); /* twice */
	CHECK_EQ(vxlan_parse_vtep(v, "1:43:10.0.0.4"), -EEXIST); /* 2 VNIs */
	CHECK_EQ(vxlan_parse_vtep(v, "2:42:10.0.0.4"), -EEXIST); /* 2 nets */
	CHECK_EQ(vxlan_parse_vtep(v, "2:16777215:10.0.0.4"), 0);
	CHECK(vxlan_parse_vtep(v, "2:16777216:10.0.0.4") < 0);
	CHECK(vxlan_parse_vtep(v, "0:5:10.0.0.4") < 0);
	CHECK(vxlan_parse_vtep(v, "4095:5:10.0.0.4") < 0);
	CHECK(vxlan_parse_vtep(v, "3:5") < 0);
	CHECK(vxlan_parse_vtep(v, "3:5:nowhere") < 0);
	CHECK_EQ(vxlan_net_of(v, 42), 1);
	CHECK_EQ(vxlan_net_of(v, 16777215), 2);
	CHECK_EQ(vxlan_net_of(v, 7), 0);
	CHECK_EQ(atomic_load(&v->nvteps), 3);
	CHECK_EQ(v->vteps[1].port, htons(4790));
	/* the VNI map is bounded, and a full one still answers */
	for (unsigned n = 10; n < 10 + VX_MAX_NETS; n++)
		vxlan_map(v, (uint16_t)n, 1000 + n);
	CHECK_EQ(v->nnets, VX_MAX_NETS);
	CHECK_EQ(vxlan_map(v, 200, 5), -ENOSPC);
	CHECK_EQ(vxlan_net_of(v, 1000 + 20), 20);
	CHECK_EQ(vxlan_net_of(v, 5), 0);
}

/* A datagram: VXLAN header (flags, VNI) + an inner frame of len bytes. */
static struct vhost_pktbuf *dgram(uint8_t flags, uint32_t vni, uint16_t inner)
{
	struct vhost_pktbuf *p = vhost_pktbuf_alloc(pool);
	uint8_t *d = vhost_pktbuf_append(p, (uint16_t)(8 + inner));

	memset(d, 0, 8u + inner);
	d[0] = flags;
	d[4] = (uint8_t)(vni >> 16);
	d[5] = (uint8_t)(vni >> 8);
	d[6] = (uint8_t)vni;
	for (unsigned i = 0; i < inner; i++)
		d[8 + i] = (uint8_t)(i + 1);
	return p;
}

static int decap(struct vxlan *v, uint32_t ip, struct vhost_pktbuf *p)
{
	int r = vxlan_decap(v, ip, p);

	vhost_pktbuf_free(p);
	return r;
}

static void decap_checks(void)
{
	struct vxlan *v = &va;
	struct vhost_pktbuf *p;
	uint32_t b = ip4("10.0.0.2");

	vxlan_init(v);
	vxlan_parse_local(v, "10.0.0.1");
	vxlan_parse_vtep(v, "3:42:10.0.0.2");
	p = dgram(0x08, 42, 60);
	CHECK_EQ(vxlan_decap(v, b, p), 0);
	CHECK_EQ(pkt_net(p), 3);
	CHECK_EQ(pkt_vtep_in(p), 1);
	CHECK_EQ(pkt_vtep_out(p), 0);
	CHECK_EQ(p->pkt_len, 60);
	CHECK_EQ(((uint8_t *)vhost_pktbuf_data(p))[0], 1);
	vhost_pktbuf_free(p);
	p = dgram(0x08, 42, 0);
	vhost_pktbuf_trim(p, 1);
	CHECK_EQ(decap(v, b, p), VX_DROP_SHORT);
	CHECK(VX_DROP_SHORT != 0); /* 0 is "not dropped" */
	CHECK_EQ(decap(v, b, dgram(0x08, 42, 0)), VX_DROP_TINY);
	CHECK_EQ(decap(v, b, dgram(0x0c, 42, 60)), VX_DROP_FLAGS);
	CHECK_EQ(decap(v, b, dgram(0x00, 42, 60)), VX_DROP_FLAGS);
	CHECK_EQ(decap(v, b, dgram(0x88, 42, 60)), VX_DROP_FLAGS);
	p = dgram(0x08, 42, 60);
	((uint8_t *)vhost_pktbuf_data(p))[7] = 1; /* reserved */
	CHECK_EQ(decap(v, b, p), VX_DROP_FLAGS);
	p = dgram(0x08, 42, 60);
	((uint8_t *)vhost_pktbuf_data(p))[2] = 0x80; /* reserved (GBP id) */
	CHECK_EQ(decap(v, b, p), VX_DROP_FLAGS);
	CHECK_EQ(decap(v, b, dgram(0x08, 43, 60)), VX_DROP_VNI);
	CHECK_EQ(decap(v, b, dgram(0x08, 42, 13)), VX_DROP_TINY);
	CHECK_EQ(decap(v, b, dgram(0x08, 42, 14)), 0);
	/* unknown VTEP: learned (not flooded to), up to the bound */
	p = dgram(0x08, 42, 60);
	CHECK_EQ(vxlan_decap(v, ip4("10.0.0.9"), p), 0);
	CHECK_EQ(pkt_vtep_in(p), 2);
	CHECK(!v->vteps[1].flood);
	vhost_pktbuf_free(p);
	CHECK_EQ(atomic_load(&v->learned_vteps), 1);
	for (unsigned i = 0; i < 2 * VX_MAX_VTEPS; i++) {
		p = dgram(0x08, 42, 60);
		CHECK_EQ(vxlan_decap(v, htonl(0x0b000000u + i), p), 0);
		vhost_pktbuf_free(p);
	}
	CHECK_EQ(atomic_load(&v->nvteps), VX_MAX_VTEPS);
	p = dgram(0x08, 42, 60);
	CHECK_EQ(vxlan_decap(v, htonl(0x0c000001u), p), 0);
	CHECK_EQ(pkt_vtep_in(p), 0); /* delivered, its MACs not learned */
	vhost_pktbuf_free(p);
	/* strict: only the configured ones */
	vxlan_init(v);
	vxlan_parse_local(v, "10.0.0.1,strict");
	vxlan_parse_vtep(v, "3:42:10.0.0.2");
	CHECK_EQ(decap(v, ip4("10.0.0.9"), dgram(0x08, 42, 60)), VX_DROP_VTEP);
	CHECK_EQ(decap(v, b, dgram(0x08, 42, 60)), 0);
	CHECK_EQ(atomic_load(&v->nvteps), 1);
}

/* Ethernet + IPv4 + UDP (or TCP), payload of len bytes */
static struct vhost_pktbuf *l4frame(uint8_t proto, uint16_t sport,
				    uint16_t payload)
{
	static uint8_t d[8192];
	struct vhost_pktbuf *p = vhost_pktbuf_alloc(pool);
	uint16_t l4len = (uint16_t)((proto == 6 ? 20 : 8) + payload);
	uint16_t iplen = (uint16_t)(20 + l4len);
	uint8_t *ip = d + 14, *l4 = ip + 20;

	memset(d, 0, 14u + iplen);
	memcpy(d, "\x02\0\0\0\0\x0b\x02\0\0\0\0\x0a\x08\x00", 14);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, "\xc0\xa8\x01\x01\xc0\xa8\x01\x02", 8);
	l4[0] = (uint8_t)(sport >> 8);
	l4[1] = (uint8_t)sport;
	l4[3] = 80;
	if (proto == 6)
		l4[12] = 0x50;
	else {
		l4[4] = (uint8_t)(l4len >> 8);
		l4[5] = (uint8_t)l4len;
	}
	for (unsigned i = 0; i < payload; i++)
		l4[(proto == 6 ? 20 : 8) + i] = (uint8_t)(i * 7);
	/* more than one buffer's worth: several segments */
	CHECK_EQ(vhost_pktbuf_append_data(p, d, 14u + iplen), 0);
	return p;
}

static void src_port(void)
{
	struct vhost_pktbuf *a = l4frame(17, 1000, 10), *b = l4frame(17, 1000, 10);
	struct vhost_pktbuf *c = l4frame(17, 1001, 10);
	unsigned distinct = 0;
	uint16_t first = vxlan_src_port(a);

	CHECK(first >= 0xc000);
	CHECK_EQ(vxlan_src_port(a), vxlan_src_port(b));
	/* flows spread: 64 source ports give many outer ports */
	for (uint16_t s = 0; s < 64; s++) {
		struct vhost_pktbuf *p = l4frame(17, (uint16_t)(2000 + s), 10);

		distinct += vxlan_src_port(p) != first;
		CHECK(vxlan_src_port(p) >= 0xc000);
		vhost_pktbuf_free(p);
	}
	CHECK(distinct >= 60);
	CHECK(vxlan_src_port(c) != first || vxlan_src_port(c) == first);
	vhost_pktbuf_free(a);
	vhost_pktbuf_free(b);
	vhost_pktbuf_free(c);
}

/* ---------------------------------------------------- over loopback */

static uint16_t base;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Receive on v until want frames came or 2 s passed. */
static unsigned rx(struct vxlan *v, struct vhost_pktbuf **out, unsigned want)
{
	uint64_t end = now_ms() + 2000;
	unsigned got = 0;

	while (got < want && now_ms() < end)
		got += vxlan_rx(v, pool, out + got, (uint16_t)(want - got));
	return got;
}

static void setup_three(void)
{
	char arg[64];

	base = (uint16_t)(20000 + getpid() % 20000);
	vxlan_init(&va);
	vxlan_init(&vb);
	vxlan_init(&vc);
	snprintf(arg, sizeof(arg), "127.0.0.1:%u", base);
	CHECK_EQ(vxlan_parse_local(&va, arg), 0);
	snprintf(arg, sizeof(arg), "127.0.0.2:%u", base + 1);
	CHECK_EQ(vxlan_parse_local(&vb, arg), 0);
	snprintf(arg, sizeof(arg), "127.0.0.3:%u", base + 2);
	CHECK_EQ(vxlan_parse_local(&vc, arg), 0);
	/* A: network 1 = VNI 42 to B and C; network 2 has no VNI */
	snprintf(arg, sizeof(arg), "1:42:127.0.0.2:%u", base + 1);
	CHECK_EQ(vxlan_parse_vtep(&va, arg), 0);
	snprintf(arg, sizeof(arg), "1:42:127.0.0.3:%u", base + 2);
	CHECK_EQ(vxlan_parse_vtep(&va, arg), 0);
	/* B calls VNI 42 its network 5 */
	snprintf(arg, sizeof(arg), "5:42:127.0.0.1:%u", base);
	CHECK_EQ(vxlan_parse_vtep(&vb, arg), 0);
	snprintf(arg, sizeof(arg), "1:42:127.0.0.1:%u", base);
	CHECK_EQ(vxlan_parse_vtep(&vc, arg), 0);
}

static int open_three(void)
{
	int r = vxlan_open(&va);

	if (r == -EPERM || r == -EACCES) {
		printf("skip: no raw socket (needs CAP_NET_RAW)\n");
		return -1;
	}
	CHECK_EQ(r, 0);
	CHECK_EQ(vxlan_open(&vb), 0);
	CHECK_EQ(vxlan_open(&vc), 0);
	return r;
}

static void free_all(struct vhost_pktbuf **p, unsigned n)
{
	vhost_pktbuf_free_bulk(p, n);
}

static void loopback(void)
{
	struct vhost_pktbuf *in[4], *out[8];
	int raw;
	uint8_t buf[2048];

	setup_three();
	if (open_three())
		return;
	/* (as root) a raw socket that sees B's datagrams whole */
	raw = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_UDP);

	/* flood: to B and C; B's network 5 is VNI 42 */
	in[0] = l4frame(17, 1234, 100);
	pkt_set_meta(in[0], 1, 0, 0);
	CHECK_EQ(vxlan_tx(&va, pool, in, 1), 1);
	CHECK_EQ(rx(&vb, out, 1), 1);
	CHECK_EQ(pkt_net(out[0]), 5);
	CHECK_EQ(out[0]->pkt_len, in[0]->pkt_len);
	CHECK(!memcmp(vhost_pktbuf_data(out[0]), vhost_pktbuf_data(in[0]),
		      in[0]->pkt_len));
	CHECK_EQ(pkt_vtep_in(out[0]), 1);
	free_all(out, 1);
	CHECK_EQ(rx(&vc, out, 1), 1);
	CHECK_EQ(pkt_net(out[0]), 1);
	free_all(out, 1);
	if (raw >= 0) {
		/* the outer header: to B's port, hashed source, checksum 0 */
		uint64_t end = now_ms() + 2000;
		bool seen = false;

		while (!seen && now_ms() < end) {
			ssize_t n = recv(raw, buf, sizeof(buf), 0);
			uint8_t *u = buf + 20;

			if (n < 36 || ((u[2] << 8) | u[3]) != base + 1)
				continue;
			seen = true;
			CHECK_EQ((u[0] << 8) | u[1], vxlan_src_port(in[0]));
			CHECK((u[0] & 0xc0) == 0xc0);
			CHECK_EQ(u[6] | u[7], 0);
			CHECK_EQ((u[4] << 8) | u[5], 16 + in[0]->pkt_len);
			CHECK_EQ(u[8], 0x08);
			CHECK_EQ(u[14], 42);
		}
		CHECK(seen);
		close(raw);
	}
	/* from B (VTEP 1): flooded to C only, never back to B */
	pkt_set_meta(in[0], 1, 1, 0);
	CHECK_EQ(vxlan_tx(&va, pool, in, 1), 1);
	CHECK_EQ(rx(&vc, out, 1), 1);
	free_all(out, 1);
	CHECK_EQ(vxlan_rx(&vb, pool, out, 8), 0); /* loopback: already there */
	/* unicast to VTEP 2 (C) */
	pkt_set_meta(in[0], 1, 0, 2);
	CHECK_EQ(vxlan_tx(&va, pool, in, 1), 1);
	CHECK_EQ(rx(&vc, out, 1), 1);
	free_all(out, 1);
	CHECK_EQ(vxlan_rx(&vb, pool, out, 8), 0);
	/* a network without a VNI: nothing leaves, counted */
	pkt_set_meta(in[0], 2, 0, 0);
	CHECK_EQ(vxlan_tx(&va, pool, in, 1), 0);
	CHECK_EQ(atomic_load(&va.drops[VX_DROP_NOVNI]), 1);
	vhost_pktbuf_free(in[0]);
	/* MTU 1500: 1464 bytes of inner frame fit, 1465 do not */
	in[0] = l4frame(17, 1, 1464 - 42);
	in[1] = l4frame(17, 1, 1465 - 42);
	pkt_set_meta(in[0], 1, 0, 1);
	pkt_set_meta(in[1], 1, 0, 1);
	CHECK_EQ(vxlan_tx(&va, pool, in, 2), 2);
	CHECK_EQ(atomic_load(&va.drops[VX_DROP_BIG]), 1);
	CHECK_EQ(rx(&vb, out, 1), 1);
	CHECK_EQ(out[0]->pkt_len, 1464);
	free_all(out, 1);
	free_all(in, 2);
	/* a partial checksum is completed before it leaves */
	in[0] = l4frame(17, 7, 33);
	{
		uint8_t *d = vhost_pktbuf_data(in[0]);
		uint32_t s = 0;

		/* virtio: the field holds the pseudo-header sum */
		s = 0xc0a8 + 0x0101 + 0xc0a8 + 0x0102 + 17 + (8 + 33);
		s = (s & 0xffff) + (s >> 16);
		d[14 + 20 + 6] = (uint8_t)(s >> 8);
		d[14 + 20 + 7] = (uint8_t)s;
		in[0]->ol_flags |= VHOST_PKT_F_CSUM_PARTIAL;
		in[0]->csum_start = 34;
		in[0]->csum_offset = 6;
	}
	pkt_set_meta(in[0], 1, 0, 1);
	CHECK_EQ(vxlan_tx(&va, pool, in, 1), 1);
	CHECK_EQ(rx(&vb, out, 1), 1);
	{
		/* sum over pseudo-header + UDP: 0xffff when right */
		const uint8_t *d = vhost_pktbuf_data(out[0]);
		uint32_t s = 0xc0a8 + 0x0101 + 0xc0a8 + 0x0102 + 17 + (8 + 33);

		for (uint32_t i = 34; i < out[0]->pkt_len; i += 2)
			s += (uint32_t)(d[i] << 8) |
			     (i + 1 < out[0]->pkt_len ? d[i + 1] : 0);
		while (s >> 16)
			s = (s & 0xffff) + (s >> 16);
		CHECK_EQ(s, 0xffff);
		CHECK(d[40] | d[41]);
	}
	free_all(out, 1);
	vhost_pktbuf_free(in[0]);
	/* TSO: 3000 bytes at MSS 1000 leave as three frames */
	in[0] = l4frame(6, 9, 3000);
	{
		uint8_t *d = vhost_pktbuf_data(in[0]);

		d[14 + 20 + 16] = 0; /* pseudo sum: any, gso recomputes */
		in[0]->ol_flags |= VHOST_PKT_F_GSO | VHOST_PKT_F_CSUM_PARTIAL;
		in[0]->gso_type = VHOST_GSO_TCPV4;
		in[0]->gso_size = 1000;
		in[0]->csum_start = 34;
		in[0]->csum_offset = 16;
	}
	pkt_set_meta(in[0], 1, 0, 1);
	CHECK_EQ(vxlan_tx(&va, pool, in, 1), 1);
	CHECK_EQ(rx(&vb, out, 3), 3);
	CHECK_EQ(out[0]->pkt_len, 1054);
	CHECK_EQ(out[2]->pkt_len, 1054);
	free_all(out, 3);
	vhost_pktbuf_free(in[0]);
	CHECK_EQ(atomic_load(&va.drops[VX_DROP_SEND]), 0);
	vxlan_close(&va);
	vxlan_close(&vb);
	vxlan_close(&vc);
	vxlan_close(&vc); /* twice is fine */
}

/* ------------------------------------------- VTEPs at run time */

static void runtime_vteps(void)
{
	struct vxlan *v = &va;
	uint16_t net, port;
	uint32_t vni, ip;
	bool flood;

	vxlan_init(v);
	CHECK_EQ(vxlan_vtep_spec("7:99:10.0.0.1:4790", &net, &vni, &ip, &port), 0);
	CHECK(net == 7 && vni == 99 && ip == ip4("10.0.0.1") && port == 4790);
	CHECK_EQ(vxlan_vtep_spec("7:99:10.0.0.1", &net, &vni, &ip, &port), 0);
	CHECK_EQ(port, VXLAN_UDP_PORT);
	CHECK(vxlan_vtep_spec("7:-1:10.0.0.1", &net, &vni, &ip, &port) < 0);
	CHECK(vxlan_vtep_spec(":1:10.0.0.1", &net, &vni, &ip, &port) < 0);
	CHECK(vxlan_vtep_spec("7:1:", &net, &vni, &ip, &port) < 0);
	CHECK(vxlan_vtep_spec("7:1:0.0.0.0", &net, &vni, &ip, &port) < 0);
	CHECK_EQ(vxlan_vtep_del_spec("7:10.0.0.1", &net, &ip, &port), 0);
	CHECK(net == 7 && ip == ip4("10.0.0.1") && port == 0);
	CHECK_EQ(vxlan_vtep_del_spec("7:10.0.0.1:5", &net, &ip, &port), 0);
	CHECK_EQ(port, 5);
	CHECK(vxlan_vtep_del_spec("7:99:10.0.0.1", &net, &ip, &port) < 0);
	CHECK(vxlan_vtep_del_spec("4095:10.0.0.1", &net, &ip, &port) < 0);
	/* add, remove, the slot reused only once released */
	CHECK_EQ(vxlan_add_vtep(v, 1, ip4("10.0.0.1"), 4789), -EINVAL);
	CHECK_EQ(vxlan_map(v, 1, 5), 0);
	CHECK_EQ(vxlan_add_vtep(v, 1, ip4("10.0.0.1"), 4789), 0);
	CHECK_EQ(vxlan_add_vtep(v, 1, ip4("10.0.0.2"), 4789), 1);
	CHECK_EQ(vxlan_vtep_unpublish(v, 1, ip4("10.0.0.1"), 4790), -ENOENT);
	CHECK_EQ(vxlan_vtep_unpublish(v, 2, ip4("10.0.0.1"), 0), -ENOENT);
	CHECK_EQ(vxlan_vtep_unpublish(v, 1, ip4("10.0.0.1"), 0), 0);
	CHECK(!vxlan_vtep_get(v, 0, &ip, &port, &net, &flood));
	CHECK_EQ(vxlan_vtep_count(v), 1);
	CHECK_EQ(vxlan_add_vtep(v, 1, ip4("10.0.0.3"), 4789), 2); /* not 0 */
	vxlan_vtep_release(v, 0);
	CHECK_EQ(vxlan_add_vtep(v, 1, ip4("10.0.0.1"), 4789), 0);
	CHECK(vxlan_vtep_get(v, 0, &ip, &port, &net, &flood));
	CHECK(flood && net == 1 && port == htons(4789));
	/* a learned VTEP joins the flood list where it is */
	{
		struct vhost_pktbuf *p = dgram(0x08, 5, 64);

		CHECK_EQ(vxlan_decap(v, ip4("10.0.0.9"), p), 0);
		CHECK_EQ(pkt_vtep_in(p), 4);
		vhost_pktbuf_free(p);
	}
	CHECK(vxlan_vtep_get(v, 3, &ip, &port, &net, &flood) && !flood);
	CHECK_EQ(vxlan_add_vtep(v, 1, ip4("10.0.0.9"), 4800), 3);
	CHECK(vxlan_vtep_get(v, 3, &ip, &port, &net, &flood) && flood);
	CHECK_EQ(port, htons(4800));
	CHECK_EQ(vxlan_add_vtep(v, 1, ip4("10.0.0.9"), 4800), -EEXIST);
	/* a removed VTEP is not found by decap: learned anew elsewhere */
	CHECK_EQ(vxlan_vtep_unpublish(v, 1, ip4("10.0.0.2"), 0), 1);
	{
		struct vhost_pktbuf *p = dgram(0x08, 5, 64);

		CHECK_EQ(vxlan_decap(v, ip4("10.0.0.2"), p), 0);
		CHECK_EQ(pkt_vtep_in(p), 5);
		vhost_pktbuf_free(p);
	}
}

/* A worker-like thread floods numbered frames on network 1 while the main
 * thread adds and removes a VTEP (a UDP socket stands in for it) 1000
 * times, waiting the flooder out between unpublish and release as
 * sw_vtep_del does with sw_quiesce. */
struct flooder {
	struct vxlan *vx;
	_Atomic uint64_t seq;       /* odd while inside a pass */
	_Atomic uint64_t frames;    /* number of the last frame built */
	_Atomic bool stop;
};

static void *flood_main(void *arg)
{
	struct flooder *f = arg;
	struct vhost_pktbuf *p = l4frame(17, 7, 32);
	uint8_t *d = vhost_pktbuf_data(p);

	memset(d, 0xff, 6); /* broadcast: the flood list */
	pkt_set_meta(p, 1, 0, 0);
	while (!atomic_load(&f->stop)) {
		uint64_t k;

		atomic_fetch_add(&f->seq, 1);
		k = atomic_fetch_add(&f->frames, 1) + 1;
		memcpy(d + 14 + 20 + 8, &k, sizeof(k));
		vxlan_tx(f->vx, pool, &p, 1);
		atomic_fetch_add(&f->seq, 1);
	}
	vhost_pktbuf_free(p);
	return NULL;
}

static void quiesce(struct flooder *f)
{
	uint64_t s = atomic_load(&f->seq);

	while ((s & 1) && atomic_load(&f->seq) == s)
		sched_yield();
}

/* Frame numbers that must not reach the removed VTEP: (lo, hi]. */
struct window { uint64_t lo, hi; };

static bool in_a_window(const struct window *w, unsigned n, uint64_t k)
{
	unsigned a = 0, b = n;

	while (a < b) {
		unsigned m = (a + b) / 2;

		if (w[m].hi < k)
			a = m + 1;
		else
			b = m;
	}
	return a < n && k > w[a].lo && k <= w[a].hi;
}

static void concurrent_add_del(void)
{
	static struct window win[1000];
	struct flooder f = { .vx = &va };
	char local[32];
	struct sockaddr_in at = { .sin_family = AF_INET };
	socklen_t alen = sizeof(at);
	uint8_t buf[2048];
	unsigned nwin = 0, bad = 0, seen = 0;
	uint16_t vport;
	pthread_t t;
	int cap, r;

	snprintf(local, sizeof(local), "127.0.0.1:%u",
		 20000 + (unsigned)getpid() % 20000 + 50);
	vxlan_init(&va);
	CHECK_EQ(vxlan_parse_local(&va, local), 0);
	CHECK_EQ(vxlan_map(&va, 1, 42), 0);
	if (vxlan_open(&va) < 0) {
		printf("skip: no raw socket (needs CAP_NET_RAW)\n");
		return;
	}
	cap = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	at.sin_addr.s_addr = ip4("127.0.0.1");
	CHECK_EQ(bind(cap, (struct sockaddr *)&at, sizeof(at)), 0);
	CHECK_EQ(getsockname(cap, (struct sockaddr *)&at, &alen), 0);
	vport = ntohs(at.sin_port);
	/* another VTEP stays: the list is never empty */
	CHECK_EQ(vxlan_add_vtep(&va, 1, ip4("127.0.0.9"), 9), 0);
	CHECK_EQ(pthread_create(&t, NULL, flood_main, &f), 0);
	for (unsigned i = 0; i < 1000; i++) {
		uint64_t lo, hi;
		int idx;

		CHECK(vxlan_add_vtep(&va, 1, ip4("127.0.0.1"), vport) >= 0);
		/* let some frames go to it */
		hi = atomic_load(&f.frames) + 3;
		while (atomic_load(&f.frames) < hi)
			sched_yield();
		idx = vxlan_vtep_unpublish(&va, 1, ip4("127.0.0.1"), 0);
		CHECK(idx >= 0);
		quiesce(&f);
		vxlan_vtep_release(&va, (unsigned)idx);
		/* removal returned: frames numbered from here on, until the
		 * next add, must not reach it. The pass running now may have
		 * numbered its frame before: the window starts after it. */
		lo = atomic_load(&f.frames);
		while (atomic_load(&f.frames) < lo + 3)
			sched_yield();
		hi = atomic_load(&f.frames) - 1; /* that pass may still run */
		win[nwin++] = (struct window){ lo, hi };
		while ((r = (int)recv(cap, buf, sizeof(buf), 0)) > 0) {
			uint64_t k;

			if (r < 8 + 14 + 20 + 8 + 8)
				continue;
			memcpy(&k, buf + 8 + 14 + 20 + 8, sizeof(k));
			bad += in_a_window(win, nwin, k);
			seen++;
		}
	}
	atomic_store(&f.stop, true);
	pthread_join(t, NULL);
	while ((r = (int)recv(cap, buf, sizeof(buf), 0)) > 0) {
		uint64_t k;

		memcpy(&k, buf + 8 + 14 + 20 + 8, sizeof(k));
		bad += in_a_window(win, nwin, k);
		seen++;
	}
	printf("concurrent: %u frames at the VTEP, %u after its removal\n",
	       seen, bad);
	CHECK(seen > 0);
	CHECK_EQ(bad, 0);
	CHECK_EQ(vxlan_vtep_count(&va), 1);
	close(cap);
	vxlan_close(&va);
}

int main(void)
{
	pool = vhost_pktbuf_pool_create("vx", 1024, 2048, 0);
	CHECK(pool);
	RUN(config);
	RUN(decap_checks);
	RUN(src_port);
	RUN(loopback);
	RUN(runtime_vteps);
	RUN(concurrent_add_del);
	CHECK_EQ(vhost_pktbuf_pool_avail(pool), 1024); /* nothing leaked */
	vhost_pktbuf_pool_destroy(pool);
	return check_summary("test_vxlan");
}
