/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gso.h"
#include "json.h"
#include "network.h"
#include "vxlan.h"

static void count(struct vxlan *vx, enum vx_drop why, uint64_t n)
{
	atomic_fetch_add_explicit(&vx->drops[why], n, memory_order_relaxed);
}

/* ------------------------------------------------------- configuration */

void vxlan_init(struct vxlan *vx)
{
	memset(vx, 0, sizeof(*vx));
	vx->local_port = VXLAN_UDP_PORT;
	vx->mtu = 1500;
	vx->rx_fd = vx->tx_fd = -1;
}

/* "IP[:PORT]" -> network-order address, host-order port. */
static int parse_addr(const char *s, uint32_t *ip, uint16_t *port)
{
	char buf[64];
	char *colon;
	struct in_addr a;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (colon) {
		char *end;
		unsigned long v = strtoul(colon + 1, &end, 10);

		if (end == colon + 1 || *end || !v || v > 65535)
			return -EINVAL;
		*port = (uint16_t)v;
		*colon = '\0';
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*ip = a.s_addr;
	return 0;
}

int vxlan_parse_local(struct vxlan *vx, const char *arg)
{
	char buf[128], *save = NULL, *o;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	o = strtok_r(buf, ",", &save);
	if (!o || parse_addr(o, &vx->local_ip, &vx->local_port))
		return -EINVAL;
	while ((o = strtok_r(NULL, ",", &save))) {
		if (!strncmp(o, "mtu=", 4)) {
			char *end;
			unsigned long v = strtoul(o + 4, &end, 10);

			/* room for a minimal inner frame, and a datagram our
			 * receive buffers hold */
			if (end == o + 4 || *end || v < 576 || v > 9216)
				return -EINVAL;
			vx->mtu = (unsigned)v;
		} else if (!strcmp(o, "strict")) {
			vx->strict = true;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

static uint32_t vni_slot(uint32_t vni)
{
	return (vni * 0x9e3779b1u) >> 25; /* 7 bits: VX_NET_SLOTS */
}

int vxlan_map(struct vxlan *vx, uint16_t net, uint32_t vni)
{
	uint32_t s;

	if (net < 1 || net > NET_MAX || vni > 0xffffff)
		return -EINVAL;
	if (vxlan_vni1_of(vx, net))
		return vxlan_vni1_of(vx, net) == vni + 1 ? 0 : -EEXIST;
	if (vxlan_net_of(vx, vni))
		return -EEXIST;
	if (vx->nnets >= VX_MAX_NETS)
		return -ENOSPC;
	/* at most 64 of 128 slots are used: a free one is always found */
	for (s = vni_slot(vni); atomic_load_explicit(&vx->by_vni[s].vni1,
						     memory_order_relaxed);
	     s = (s + 1) & (VX_NET_SLOTS - 1))
		;
	/* decap runs meanwhile: the network before the key that finds it */
	vx->by_vni[s].net = net;
	atomic_store_explicit(&vx->by_vni[s].vni1, vni + 1,
			      memory_order_release);
	atomic_store_explicit(&vx->vni_of[net], vni + 1, memory_order_release);
	vx->nnets++;
	return 0;
}

uint32_t vxlan_vni1_of(const struct vxlan *vx, uint16_t net)
{
	return net <= NET_MAX ? atomic_load_explicit(&vx->vni_of[net],
						     memory_order_acquire) : 0;
}

uint16_t vxlan_net_of(const struct vxlan *vx, uint32_t vni)
{
	uint32_t s = vni_slot(vni);

	for (unsigned i = 0; i < VX_NET_SLOTS; i++) {
		uint32_t k = atomic_load_explicit(&vx->by_vni[s].vni1,
						  memory_order_acquire);

		if (!k)
			return 0;
		if (k == vni + 1)
			return vx->by_vni[s].net;
		s = (s + 1) & (VX_NET_SLOTS - 1);
	}
	return 0;
}

static bool vtep_live(const struct vx_vtep *v)
{
	return atomic_load_explicit(&v->state, memory_order_acquire) ==
	       VX_VTEP_LIVE;
}

/* Claim a free slot and publish a VTEP in it. Two threads may claim at
 * once (the control thread adding, the receiving worker learning): the
 * CAS gives each its own slot; readers see it only once LIVE. */
static int publish_vtep(struct vxlan *vx, uint16_t net, uint32_t ip,
			uint16_t port, bool flood)
{
	for (unsigned i = 0; i < VX_MAX_VTEPS; i++) {
		struct vx_vtep *v = &vx->vteps[i];
		uint8_t free_state = VX_VTEP_FREE;
		unsigned n;

		/* a plain load first: a full table costs no locked writes
		 * (a stranger's every datagram lands here, not strict) */
		if (atomic_load_explicit(&v->state, memory_order_relaxed) !=
			    VX_VTEP_FREE ||
		    !atomic_compare_exchange_strong(&v->state, &free_state,
						    VX_VTEP_BUSY))
			continue;
		v->ip = ip;
		v->net = net;
		atomic_store_explicit(&v->port, htons(port), memory_order_relaxed);
		atomic_store_explicit(&v->flood, flood, memory_order_relaxed);
		atomic_store_explicit(&v->state, VX_VTEP_LIVE,
				      memory_order_release);
		n = atomic_load(&vx->nvteps);
		while (n < i + 1 &&
		       !atomic_compare_exchange_weak(&vx->nvteps, &n, i + 1))
			;
		return (int)i;
	}
	return -ENOSPC;
}

static int find_vtep(const struct vxlan *vx, uint16_t net, uint32_t ip)
{
	unsigned n = atomic_load_explicit(&vx->nvteps, memory_order_acquire);

	for (unsigned i = 0; i < n; i++)
		if (vtep_live(&vx->vteps[i]) && vx->vteps[i].ip == ip &&
		    vx->vteps[i].net == net)
			return (int)i;
	return -1;
}

int vxlan_add_vtep(struct vxlan *vx, uint16_t net, uint32_t ip, uint16_t port)
{
	int i;

	if (!vxlan_vni1_of(vx, net) || !ip || !port)
		return -EINVAL;
	i = find_vtep(vx, net, ip);
	if (i >= 0) {
		struct vx_vtep *v = &vx->vteps[i];

		if (atomic_load(&v->flood))
			return -EEXIST;
		/* learned first: it joins the flood list where it is (the
		 * MACs behind it stay valid) */
		atomic_store(&v->port, htons(port));
		atomic_store_explicit(&v->flood, true, memory_order_release);
		return i;
	}
	return publish_vtep(vx, net, ip, port, true);
}

int vxlan_vtep_unpublish(struct vxlan *vx, uint16_t net, uint32_t ip,
			 uint16_t port)
{
	unsigned n = atomic_load(&vx->nvteps);

	for (unsigned i = 0; i < n; i++) {
		struct vx_vtep *v = &vx->vteps[i];

		if (!vtep_live(v) || v->ip != ip || v->net != net ||
		    (port && atomic_load(&v->port) != htons(port)))
			continue;
		atomic_store(&v->flood, false);
		atomic_store_explicit(&v->state, VX_VTEP_GONE,
				      memory_order_release);
		return (int)i;
	}
	return -ENOENT;
}

void vxlan_vtep_release(struct vxlan *vx, unsigned idx)
{
	if (idx < VX_MAX_VTEPS)
		atomic_store_explicit(&vx->vteps[idx].state, VX_VTEP_FREE,
				      memory_order_release);
}

unsigned vxlan_vtep_count(const struct vxlan *vx)
{
	unsigned n = atomic_load(&vx->nvteps), live = 0;

	for (unsigned i = 0; i < n; i++)
		live += vtep_live(&vx->vteps[i]);
	return live;
}

bool vxlan_vtep_get(const struct vxlan *vx, unsigned idx, uint32_t *ip,
		    uint16_t *port, uint16_t *net, bool *flood)
{
	const struct vx_vtep *v;

	if (idx >= VX_MAX_VTEPS || !vtep_live(&vx->vteps[idx]))
		return false;
	v = &vx->vteps[idx];
	*ip = v->ip;
	*port = atomic_load(&v->port);
	*net = v->net;
	*flood = atomic_load(&v->flood);
	return true;
}

/* "IP[:PORT]" after a decimal field ended by ':'. */
static int parse_net(const char *arg, const char **rest, unsigned long *net)
{
	char *end;

	if (*arg < '0' || *arg > '9')
		return -EINVAL;
	*net = strtoul(arg, &end, 10);
	if (*end != ':' || *net < 1 || *net > NET_MAX)
		return -EINVAL;
	*rest = end + 1;
	return 0;
}

int vxlan_vtep_spec(const char *arg, uint16_t *net, uint32_t *vni,
		    uint32_t *ip, uint16_t *port)
{
	unsigned long n, v;
	const char *p;
	char *end;

	*port = VXLAN_UDP_PORT;
	if (parse_net(arg, &p, &n) || *p < '0' || *p > '9')
		return -EINVAL;
	v = strtoul(p, &end, 10);
	if (*end != ':' || v > 0xffffff || parse_addr(end + 1, ip, port) ||
	    !*ip)
		return -EINVAL;
	*net = (uint16_t)n;
	*vni = (uint32_t)v;
	return 0;
}

int vxlan_vtep_del_spec(const char *arg, uint16_t *net, uint32_t *ip,
			uint16_t *port)
{
	unsigned long n;
	const char *p;

	*port = 0;
	if (parse_net(arg, &p, &n) || parse_addr(p, ip, port))
		return -EINVAL;
	*net = (uint16_t)n;
	return 0;
}

int vxlan_parse_vtep(struct vxlan *vx, const char *arg)
{
	uint16_t net, port;
	uint32_t vni, ip;
	int r = vxlan_vtep_spec(arg, &net, &vni, &ip, &port);

	if (!r)
		r = vxlan_map(vx, net, vni);
	if (!r)
		r = vxlan_add_vtep(vx, net, ip, port);
	return r < 0 ? r : 0;
}

/* ------------------------------------------------------------- sockets */

int vxlan_open(struct vxlan *vx)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = vx->local_ip,
				 .sin_port = htons(vx->local_port) };
	/* the raw socket would get a copy of every UDP datagram: none */
	struct sock_filter none = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { .len = 1, .filter = &none };
	int buf = 4 << 20, pmtu = IP_PMTUDISC_DO, err;

	vx->rx_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (vx->rx_fd < 0)
		goto fail;
	setsockopt(vx->rx_fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (bind(vx->rx_fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto fail;
	vx->tx_fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			   IPPROTO_UDP);
	if (vx->tx_fd < 0)
		goto fail;
	a.sin_port = 0;
	if (setsockopt(vx->tx_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
		       sizeof(prog)) < 0 ||
	    bind(vx->tx_fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto fail;
	setsockopt(vx->tx_fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	/* never fragmented: what does not fit the path fails (counted) */
	setsockopt(vx->tx_fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	return 0;
fail:
	err = -errno;
	vxlan_close(vx);
	return err;
}

void vxlan_close(struct vxlan *vx)
{
	vhost_pktbuf_free_bulk(vx->rx_buf, vx->rx_nbuf);
	vx->rx_nbuf = 0;
	if (vx->rx_fd >= 0)
		close(vx->rx_fd);
	if (vx->tx_fd >= 0)
		close(vx->tx_fd);
	vx->rx_fd = vx->tx_fd = -1;
}

/* ------------------------------------------------------ decapsulation */

int vxlan_decap(struct vxlan *vx, uint32_t ip, struct vhost_pktbuf *p)
{
	const uint8_t *h = vhost_pktbuf_data(p);
	uint32_t vni;
	uint16_t net;
	int v;

	if (p->pkt_len < VXLAN_HLEN || p->data_len < VXLAN_HLEN)
		return VX_DROP_SHORT;
	/* flags: I only; the other 7 flag bits and the reserved fields are
	 * zero (VXLAN-GBP or GPE headers are not ours to guess) */
	if (h[0] != 0x08 || h[1] || h[2] || h[3] || h[7])
		return VX_DROP_FLAGS;
	vni = (uint32_t)h[4] << 16 | (uint32_t)h[5] << 8 | h[6];
	net = vxlan_net_of(vx, vni);
	if (!net)
		return VX_DROP_VNI;
	if (p->pkt_len - VXLAN_HLEN < VX_MIN_INNER ||
	    p->data_len - VXLAN_HLEN < VX_MIN_INNER)
		return VX_DROP_TINY;
	v = find_vtep(vx, net, ip);
	if (v < 0 && vx->strict)
		return VX_DROP_VTEP;
	if (v < 0) {
		/* A VTEP not in the flood list: unicast to it works once
		 * learned; when the table is full its MACs are not learned
		 * (frames still delivered, replies flooded). */
		v = publish_vtep(vx, net, ip, VXLAN_UDP_PORT, false);
		if (v >= 0)
			atomic_fetch_add_explicit(&vx->learned_vteps, 1,
						  memory_order_relaxed);
	}
	vhost_pktbuf_adj(p, VXLAN_HLEN);
	p->ol_flags = 0;
	pkt_set_meta(p, net, v >= 0 ? (uint16_t)(v + 1) : 0, 0);
	return 0;
}

/* ------------------------------------------------------ the flow hash */

static uint32_t mix(uint32_t h, uint32_t v)
{
	h ^= v;
	h *= 0x01000193u; /* FNV prime */
	return h ^ (h >> 15);
}

uint16_t vxlan_src_port(const struct vhost_pktbuf *p)
{
	uint8_t tmp[96];
	const uint8_t *f = vhost_pktbuf_data(p);
	uint32_t len = p->data_len, h = 0x811c9dc5u, l3 = 14, l4 = 0;
	uint16_t type;
	uint8_t proto = 0;

	if (len < sizeof(tmp) && p->next) {
		len = vhost_pktbuf_read(p, 0, sizeof(tmp), tmp);
		f = tmp;
	}
	if (len < 14)
		return 0xc000;
	for (int i = 0; i < 12; i++)
		h = mix(h, f[i]);
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == ETH_P_8021Q_ && len >= 18) {
		type = (uint16_t)(f[16] << 8 | f[17]);
		l3 = 18;
	}
	if (type == 0x0800 && len >= l3 + 20) {
		const uint8_t *ip = f + l3;

		for (int i = 12; i < 20; i++)
			h = mix(h, ip[i]);
		proto = ip[9];
		/* ports only in the first fragment */
		if (!((ip[6] & 0x1f) | ip[7]))
			l4 = l3 + (ip[0] & 0xfu) * 4u;
	} else if (type == 0x86dd && len >= l3 + 40) {
		const uint8_t *ip = f + l3;

		for (int i = 8; i < 40; i++)
			h = mix(h, ip[i]);
		proto = ip[6];
		l4 = l3 + 40;
	}
	if (l4 && (proto == 6 || proto == 17) && len >= l4 + 4)
		for (uint32_t i = l4; i < l4 + 4; i++)
			h = mix(h, f[i]);
	h = mix(h, proto);
	return (uint16_t)(0xc000 | (h & 0x3fff));
}

/* ------------------------------------------------------------ receive */

uint16_t vxlan_rx(struct vxlan *vx, struct vhost_pktbuf_pool *pool,
		  struct vhost_pktbuf **pkts, uint16_t n)
{
	struct mmsghdr m[VX_BATCH];
	struct iovec iov[VX_BATCH][VX_RX_SEGS];
	struct sockaddr_in from[VX_BATCH];
	struct vhost_pktbuf **b = vx->rx_buf;
	uint32_t room = vhost_pktbuf_pool_data_room(pool);
	/* a datagram is at most mtu - 28 bytes (IPv4 and UDP headers) */
	unsigned per = (vx->mtu - 28 + room - 1) / room, nm, keep = 0;
	uint16_t got = 0;
	int r;

	if (per > VX_RX_SEGS)
		per = VX_RX_SEGS;
	if (n > VX_BATCH)
		n = VX_BATCH;
	/* top the kept buffers up (nothing to do after an idle poll) */
	while (vx->rx_nbuf < (unsigned)n * per) {
		struct vhost_pktbuf *p = vhost_pktbuf_alloc(pool);

		if (!p)
			break;
		b[vx->rx_nbuf++] = p;
	}
	nm = vx->rx_nbuf / per;
	for (unsigned i = 0; i < nm; i++) {
		for (unsigned k = 0; k < per; k++) {
			iov[i][k].iov_base = vhost_pktbuf_data(b[i * per + k]);
			iov[i][k].iov_len = vhost_pktbuf_tailroom(b[i * per + k]);
		}
		memset(&m[i], 0, sizeof(m[i]));
		m[i].msg_hdr.msg_name = &from[i];
		m[i].msg_hdr.msg_namelen = sizeof(from[i]);
		m[i].msg_hdr.msg_iov = iov[i];
		m[i].msg_hdr.msg_iovlen = per;
	}
	r = nm ? recvmmsg(vx->rx_fd, m, nm, MSG_DONTWAIT, NULL) : 0;
	if (r <= 0)
		return 0;
	for (unsigned i = 0; i < (unsigned)r; i++) {
		uint32_t left = m[i].msg_len;
		struct vhost_pktbuf *p = b[i * per];
		unsigned used = 0;
		int why;

		atomic_fetch_add_explicit(&vx->rx_dgrams, 1, memory_order_relaxed);
		/* segments: the first holds the VXLAN header, the rest are
		 * chained in order; the unused ones are kept */
		do {
			struct vhost_pktbuf *s = b[i * per + used];
			uint32_t part = left < iov[i][used].iov_len ?
					left : (uint32_t)iov[i][used].iov_len;

			s->data_len = (uint16_t)part;
			s->pkt_len = part;
			if (used)
				vhost_pktbuf_chain(p, s);
			left -= part;
			used++;
		} while (left && used < per);
		for (unsigned k = used; k < per; k++)
			b[keep++] = b[i * per + k];
		if (m[i].msg_hdr.msg_flags & MSG_TRUNC)
			why = VX_DROP_TRUNC;
		else
			why = vxlan_decap(vx, from[i].sin_addr.s_addr, p);
		if (why) {
			count(vx, (enum vx_drop)why, 1);
			vhost_pktbuf_free(p);
			continue;
		}
		pkts[got++] = p;
	}
	/* the buffers of datagrams not received stay for the next burst */
	for (unsigned j = (unsigned)r * per; j < vx->rx_nbuf; j++)
		b[keep++] = b[j];
	vx->rx_nbuf = keep;
	return got;
}

/* --------------------------------------------------------------- send */

static void tx_flush(struct vxlan *vx)
{
	unsigned off = 0;

	while (off < vx->tx_n) {
		int r = sendmmsg(vx->tx_fd, vx->tx_msg + off, vx->tx_n - off,
				 MSG_DONTWAIT);

		if (r > 0) {
			off += (unsigned)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
			count(vx, VX_DROP_SEND, vx->tx_n - off);
			break;
		}
		count(vx, VX_DROP_SEND, 1); /* this one failed: skip it */
		off++;
	}
	atomic_fetch_add_explicit(&vx->tx_dgrams, off, memory_order_relaxed);
	vhost_pktbuf_free_bulk(vx->tx_own, vx->tx_nown);
	vx->tx_n = vx->tx_nown = 0;
}

/* Queue p to VTEP v (of VNI vni). There is room (the caller flushed). */
static void tx_queue(struct vxlan *vx, const struct vhost_pktbuf *p,
		     const struct vx_vtep *v, uint32_t vni, uint16_t sport)
{
	unsigned i = vx->tx_n++, k = 1;
	uint8_t *h = vx->tx_hdr[i];
	uint16_t ulen = (uint16_t)(16 + p->pkt_len);
	struct sockaddr_in *a = (struct sockaddr_in *)&vx->tx_addr[i];
	struct msghdr *mh = &vx->tx_msg[i].msg_hdr;
	uint16_t dport = atomic_load_explicit(&v->port, memory_order_relaxed);

	h[0] = (uint8_t)(sport >> 8);
	h[1] = (uint8_t)sport;
	memcpy(h + 2, &dport, 2);
	h[4] = (uint8_t)(ulen >> 8);
	h[5] = (uint8_t)ulen;
	h[6] = h[7] = 0; /* no UDP checksum (RFC 7348 5) */
	h[8] = 0x08;
	h[9] = h[10] = h[11] = 0;
	h[12] = (uint8_t)(vni >> 16);
	h[13] = (uint8_t)(vni >> 8);
	h[14] = (uint8_t)vni;
	h[15] = 0;
	vx->tx_iov[i][0].iov_base = h;
	vx->tx_iov[i][0].iov_len = 16;
	for (const struct vhost_pktbuf *s = p; s; s = s->next) {
		vx->tx_iov[i][k].iov_base = vhost_pktbuf_data(s);
		vx->tx_iov[i][k++].iov_len = s->data_len;
	}
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = v->ip;
	memset(mh, 0, sizeof(*mh));
	mh->msg_name = a;
	mh->msg_namelen = sizeof(*a);
	mh->msg_iov = vx->tx_iov[i];
	mh->msg_iovlen = k;
}

/* Fill in a checksum the guest left to the device: the remote end gets
 * complete frames. 0, or -1 if the metadata is bad. */
static int complete_csum(struct vhost_pktbuf *p)
{
	uint32_t at = (uint32_t)p->csum_start + p->csum_offset, off = 0;
	uint64_t sum = 0;
	bool odd = false;
	uint8_t *field;
	uint16_t c;

	if (p->csum_start >= p->pkt_len || at + 2 > p->data_len)
		return -1;
	for (const struct vhost_pktbuf *s = p; s; off += s->data_len, s = s->next) {
		const uint8_t *d = vhost_pktbuf_data(s);
		uint32_t from = off >= p->csum_start ? 0 : p->csum_start - off;

		for (uint32_t j = from; j < s->data_len; j++) {
			sum += odd ? d[j] : (uint32_t)d[j] << 8;
			odd = !odd;
		}
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	c = (uint16_t)~sum;
	if (!c)
		c = 0xffff; /* UDP: 0 would mean "none" */
	field = (uint8_t *)vhost_pktbuf_data(p) + at;
	field[0] = (uint8_t)(c >> 8);
	field[1] = (uint8_t)c;
	p->ol_flags &= ~VHOST_PKT_F_CSUM_PARTIAL;
	return 0;
}

/* Send one complete frame to its VTEP or its network's flood list. The
 * list may change meanwhile (vtep_add, vtep_del): a VTEP is sent to only
 * while LIVE, and the copies are those of one snapshot of the list. */
static void tx_one(struct vxlan *vx, const struct vhost_pktbuf *p,
		   uint16_t net, uint32_t vni)
{
	unsigned n = atomic_load_explicit(&vx->nvteps, memory_order_acquire);
	uint16_t out = pkt_vtep_out(p), in = pkt_vtep_in(p), sport;
	uint8_t to[VX_MAX_VTEPS];
	unsigned copies = 0;

	if (p->pkt_len + 36 > vx->mtu) {
		count(vx, VX_DROP_BIG, 1);
		return;
	}
	if (p->nb_segs > VX_MAX_IOV - 1) {
		count(vx, VX_DROP_BAD, 1);
		return;
	}
	sport = vxlan_src_port(p);
	if (out) {
		if (out > n || !vtep_live(&vx->vteps[out - 1]) ||
		    vx->vteps[out - 1].net != net)
			return; /* gone, or not this network's: never leaks */
		if (vx->tx_n == VX_BATCH)
			tx_flush(vx);
		tx_queue(vx, p, &vx->vteps[out - 1], vni, sport);
		return;
	}
	for (unsigned i = 0; i < n && i < VX_MAX_VTEPS; i++) {
		const struct vx_vtep *v = &vx->vteps[i];

		if (vtep_live(v) && v->net == net && i + 1 != in &&
		    atomic_load_explicit(&v->flood, memory_order_acquire))
			to[copies++] = (uint8_t)i;
	}
	/* every copy in one batch: a segment made here is freed at the
	 * flush that sends its last copy */
	if (vx->tx_n + copies > VX_BATCH)
		tx_flush(vx);
	for (unsigned k = 0; k < copies; k++)
		tx_queue(vx, p, &vx->vteps[to[k]], vni, sport);
}

uint16_t vxlan_tx(struct vxlan *vx, struct vhost_pktbuf_pool *pool,
		  struct vhost_pktbuf *const *pkts, uint16_t n)
{
	uint16_t taken = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct vhost_pktbuf *p = pkts[i];
		uint16_t net = pkt_net(p);
		uint32_t vni1 = vxlan_vni1_of(vx, net);

		if (!vni1) {
			count(vx, VX_DROP_NOVNI, 1);
			continue;
		}
		if (p->ol_flags & VHOST_PKT_F_GSO) {
			/* cut to MSS-sized frames with their checksums */
			struct vhost_pktbuf *segs[VX_BATCH / 2];
			int total = gso_count(p), first = 0;

			if (total < 0) {
				count(vx, VX_DROP_BAD, 1);
				continue;
			}
			while (first < total) {
				int k;

				if (vx->tx_nown + VX_BATCH / 2 > VX_BATCH)
					tx_flush(vx);
				k = gso_segment(p, pool, (unsigned)first, segs,
						VX_BATCH / 2);
				if (k <= 0)
					break;
				/* owned after queueing: a flush inside
				 * tx_one frees only segments already sent */
				for (int j = 0; j < k; j++) {
					segs[j]->userdata = p->userdata;
					tx_one(vx, segs[j], net, vni1 - 1);
					vx->tx_own[vx->tx_nown++] = segs[j];
				}
				first += k;
			}
			if (first < total)
				count(vx, VX_DROP_SEND, 1);
			taken++;
			continue;
		}
		if ((p->ol_flags & VHOST_PKT_F_CSUM_PARTIAL) && complete_csum(p)) {
			count(vx, VX_DROP_BAD, 1);
			continue;
		}
		tx_one(vx, p, net, vni1 - 1);
		taken++;
	}
	if (vx->tx_n || vx->tx_nown)
		tx_flush(vx);
	return taken;
}

/* --------------------------------------------------------- statistics */

static const char *const drop_names[VX_DROP_N] = {
	NULL, "short", "flags", "vni", "tiny", "vtep", "trunc", "too_big",
	"no_vni", "bad_meta", "send",
};

void vxlan_print_stats(const struct vxlan *vx, FILE *o)
{
	fprintf(o, "vxlan: rx %" PRIu64 " datagrams, tx %" PRIu64
		", %u vteps (%" PRIu64 " learned); drops:",
		atomic_load(&vx->rx_dgrams), atomic_load(&vx->tx_dgrams),
		vxlan_vtep_count(vx), atomic_load(&vx->learned_vteps));
	for (int i = VX_DROP_SHORT; i < VX_DROP_N; i++)
		fprintf(o, " %s %" PRIu64, drop_names[i], atomic_load(&vx->drops[i]));
	fprintf(o, "\n");
}

void vxlan_json(const struct vxlan *vx, const char *key, struct jw *w)
{
	char name[48];

	jw_obj_open(w, key);
	jw_u64(w, "rx_datagrams", atomic_load(&vx->rx_dgrams));
	jw_u64(w, "tx_datagrams", atomic_load(&vx->tx_dgrams));
	jw_u64(w, "vteps", vxlan_vtep_count(vx));
	jw_u64(w, "learned_vteps", atomic_load(&vx->learned_vteps));
	for (int i = VX_DROP_SHORT; i < VX_DROP_N; i++) {
		snprintf(name, sizeof(name), "drop_%s", drop_names[i]);
		jw_u64(w, name, atomic_load(&vx->drops[i]));
	}
	jw_obj_close(w);
}
