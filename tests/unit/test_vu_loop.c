/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Our virtio-user front-end against our back-end, in one process over a
 * real socket: both directions with every packet's contents and order
 * checked, mergeable buffers on and off, jumbo (multi-buffer) packets,
 * checksum offload metadata both ways, two queue pairs, both socket roles,
 * the back-end restarting with packets in flight (none lost, none twice),
 * the front-end restarting, and interrupt mode (call eventfd); all of it
 * again with a shared pool posted by reference (zero-copy), with every
 * buffer back in the pool after each case, and the references zero-copy
 * holds checked on their own (case_zc_refs; packets of more than 256
 * bytes: smaller ones are copied).
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <vhost/vhost.h>
#include <vhost/virtio_user.h>

#include "check.h"
#include "frontend.h"
#include "net_hdr.h"
#include "pkt.h"

#define WAIT_MS 5000

static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t mac_b[6] = { 2, 0, 0, 0, 0, 2 };

/* The back-end side: one device at a time; bursts under be_lock, which
 * destroy_device takes, so no burst runs after it returns. */
static pthread_mutex_t be_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vhost_dev *_Atomic be_dev;
static _Atomic int be_new, be_destroyed;

static int cb_new(struct vhost_dev *dev)
{
	atomic_store(&be_dev, dev);
	atomic_fetch_add(&be_new, 1);
	return 0;
}

static void cb_destroy(struct vhost_dev *dev)
{
	(void)dev;
	pthread_mutex_lock(&be_lock);
	atomic_store(&be_dev, NULL);
	atomic_fetch_add(&be_destroyed, 1);
	pthread_mutex_unlock(&be_lock);
}

static const struct vhost_device_ops be_ops = {
	.new_device = cb_new,
	.destroy_device = cb_destroy,
};

static struct vhost_pktbuf_pool *pool;
/* Zero-copy mode: pool is a shared one, registered with every front-end. */
static bool zc;
static char path[64];
/* Added to every front-end's features: 0 (split rings) or
 * VIRTIO_F_RING_PACKED (every case again on packed rings). */
static uint64_t fe_extra;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct be {
	struct vhost_ctx *ctx;
	struct vhost_socket *sock;
};

static int be_start(struct be *be, uint32_t flags, uint16_t pairs,
		    uint64_t disable)
{
	int ret;

	be->ctx = vhost_ctx_create(NULL);
	if (!be->ctx)
		return -errno;
	ret = vhost_socket_register(be->ctx, path, flags, &be->sock);
	if (!ret && pairs > 1) {
		ret = vhost_socket_enable_features(be->sock,
						   1ull << VIRTIO_NET_F_MQ);
		if (!ret)
			ret = vhost_socket_set_max_queue_pairs(be->sock, pairs);
	}
	if (!ret && disable)
		ret = vhost_socket_disable_features(be->sock, disable);
	if (!ret)
		ret = vhost_socket_set_ops(be->sock, &be_ops, NULL);
	if (!ret)
		ret = vhost_socket_start(be->sock);
	return ret;
}

static void be_stop(struct be *be)
{
	vhost_ctx_destroy(be->ctx);
	be->ctx = NULL;
}

static struct virtio_user *fe_start(uint32_t flags, uint16_t pairs,
				    uint64_t features)
{
	struct virtio_user_params p = {
		.path = path, .flags = flags, .queue_pairs = pairs,
		.features = (features ? features : virtio_user_default_features()) |
			    fe_extra,
		.pools = &pool, .npools = zc,
	};
	struct virtio_user *vu = virtio_user_create(&p);

	if (vu && virtio_user_start(vu)) {
		virtio_user_destroy(vu);
		vu = NULL;
	}
	return vu;
}

/* Both sides up: the front-end ready and the back-end's device running
 * with every ring of `pairs` pairs usable. */
static bool wait_up(struct virtio_user *vu, int new_before)
{
	uint64_t end = now_ms() + WAIT_MS;

	if (virtio_user_wait_ready(vu, WAIT_MS))
		return false;
	/* The ring format asked for is the one in use. */
	if (!!(virtio_user_features(vu) & fe_extra) != !!fe_extra)
		return false;
	while (atomic_load(&be_new) == new_before || !atomic_load(&be_dev)) {
		if (now_ms() > end)
			return false;
		usleep(1000);
	}
	return true;
}

static uint64_t pkt_seq(const struct vhost_pktbuf *p)
{
	uint64_t seq = ~0ull;

	vhost_pktbuf_read(p, PKT_HDRS_LEN, sizeof(seq), &seq);
	return seq;
}

/*
 * g2h: the front-end sends count packets of len bytes (seq from *seq on),
 * the back-end dequeues until it has rx_max (0: count), each checked in
 * order. Returns packets received.
 */
static uint32_t g2h(struct virtio_user *vu, uint16_t qp, uint32_t count,
		    uint32_t len, uint64_t *next_seq, uint64_t *rx_seq,
		    uint32_t rx_max)
{
	uint32_t sent = 0, got = 0, bad = 0;
	uint64_t end = now_ms() + WAIT_MS;

	if (!rx_max)
		rx_max = count;
	while ((sent < count || got < rx_max) && now_ms() < end) {
		struct vhost_pktbuf *p[32];
		struct vhost_dev *dev;
		uint16_t n = 0, k;

		if (sent < count) {
			n = (uint16_t)(count - sent < 32 ? count - sent : 32);
			if (vhost_pktbuf_alloc_bulk(pool, p, n))
				return got;
			for (uint16_t i = 0; i < n; i++)
				pkt_build_udp(p[i], len, *next_seq + i, mac_a, mac_b);
			k = virtio_user_tx_burst(vu, qp, p, n);
			*next_seq += k;
			sent += k;
			vhost_pktbuf_free_bulk(p, n);
		}
		pthread_mutex_lock(&be_lock);
		dev = atomic_load(&be_dev);
		n = 0;
		if (dev) {
			uint16_t want = 32;

			if (rx_max - got < want)
				want = (uint16_t)(rx_max - got);
			n = vhost_dequeue_burst(dev, VHOST_QUEUE_TX(qp), pool, p,
						want);
		}
		pthread_mutex_unlock(&be_lock);
		for (uint16_t i = 0; i < n; i++) {
			if (!pkt_validate_udp(p[i], true) ||
			    p[i]->pkt_len != len || pkt_seq(p[i]) != *rx_seq)
				bad++;
			(*rx_seq)++;
		}
		got += n;
		vhost_pktbuf_free_bulk(p, n);
	}
	CHECK_EQ(bad, 0);
	return got;
}

/* h2g: the back-end enqueues count packets, the front-end receives them. */
static uint32_t h2g(struct virtio_user *vu, uint16_t qp, uint32_t count,
		    uint32_t len)
{
	uint32_t sent = 0, got = 0, bad = 0;
	uint64_t end = now_ms() + WAIT_MS, seq = 1000;

	while ((sent < count || got < count) && now_ms() < end) {
		struct vhost_pktbuf *p[32];
		struct vhost_dev *dev;
		uint16_t n;

		if (sent < count) {
			n = (uint16_t)(count - sent < 32 ? count - sent : 32);
			if (vhost_pktbuf_alloc_bulk(pool, p, n))
				return got;
			for (uint16_t i = 0; i < n; i++)
				pkt_build_udp(p[i], len, seq + sent + i, mac_b, mac_a);
			pthread_mutex_lock(&be_lock);
			dev = atomic_load(&be_dev);
			sent += dev ? vhost_enqueue_burst(dev, VHOST_QUEUE_RX(qp),
							  p, n) : 0;
			pthread_mutex_unlock(&be_lock);
			vhost_pktbuf_free_bulk(p, n);
		}
		n = virtio_user_rx_burst(vu, qp, pool, p, 32);
		for (uint16_t i = 0; i < n; i++) {
			if (!pkt_validate_udp(p[i], true) ||
			    p[i]->pkt_len != len || pkt_seq(p[i]) != seq + got + i ||
			    p[i]->queue != qp)
				bad++;
		}
		got += n;
		vhost_pktbuf_free_bulk(p, n);
	}
	CHECK_EQ(bad, 0);
	return got;
}

static void traffic(struct virtio_user *vu, uint16_t qp, bool jumbo)
{
	static const uint32_t sizes[] = { 64, 1518, 9000 };

	for (unsigned s = 0; s < (jumbo ? 3u : 2u); s++) {
		uint64_t next = 0, rx = 0;

		CHECK_EQ(g2h(vu, qp, 2000, sizes[s], &next, &rx, 0), 2000);
		CHECK_EQ(h2g(vu, qp, 2000, sizes[s]), 2000);
	}
}

static void case_client_mrg(void)
{
	struct be be;
	struct virtio_user *vu;
	int n0 = atomic_load(&be_new);
	struct virtio_user_queue_stats st;

	CHECK_EQ(be_start(&be, 0, 1, 0), 0);
	vu = fe_start(0, 1, 0);
	CHECK(vu && wait_up(vu, n0));
	CHECK(virtio_user_features(vu) >> VIRTIO_NET_F_MRG_RXBUF & 1);
	CHECK(virtio_user_features(vu) >> VIRTIO_RING_F_EVENT_IDX & 1);
	/* Both offer IN_ORDER; we take it on split rings only. */
	CHECK_EQ(virtio_user_features(vu) >> VIRTIO_F_IN_ORDER & 1, !fe_extra);
	traffic(vu, 0, true);
	CHECK_EQ(virtio_user_stats_get(vu, VIRTIO_USER_TX(0), &st), 0);
	CHECK_EQ(st.packets, 6000);
	CHECK_EQ(st.broken, 0);
	/* In zero-copy mode every packet of more than 256 bytes (1518 and
	 * 9000) by reference, the 64-byte ones copied; none otherwise. */
	CHECK_EQ(st.zero_copy, zc ? 4000 : 0);
	CHECK_EQ(virtio_user_stats_get(vu, VIRTIO_USER_RX(0), &st), 0);
	CHECK_EQ(st.packets, 6000);
	CHECK_EQ(st.bad_hdr + st.no_pktbuf + st.too_big, 0);
	/* Received in place once the slots posted at set-up were used. */
	CHECK(zc ? st.zero_copy >= 5000 : st.zero_copy == 0);
	virtio_user_destroy(vu);
	be_stop(&be);
}

static void case_no_mrg(void)
{
	struct be be;
	struct virtio_user *vu;
	int n0 = atomic_load(&be_new);

	/* Without mergeable buffers, EVENT_IDX and IN_ORDER (used entries
	 * then read one by one). */
	CHECK_EQ(be_start(&be, 0, 1, 1ull << VIRTIO_RING_F_EVENT_IDX |
				     1ull << VIRTIO_F_IN_ORDER), 0);
	vu = fe_start(0, 1, virtio_user_default_features() &
		      ~(1ull << VIRTIO_NET_F_MRG_RXBUF));
	CHECK(vu && wait_up(vu, n0));
	CHECK(!(virtio_user_features(vu) >> VIRTIO_NET_F_MRG_RXBUF & 1));
	CHECK(!(virtio_user_features(vu) >> VIRTIO_RING_F_EVENT_IDX & 1));
	CHECK(!(virtio_user_features(vu) >> VIRTIO_F_IN_ORDER & 1));
	traffic(vu, 0, false);
	virtio_user_destroy(vu);
	be_stop(&be);
}

static void case_server_role(void)
{
	struct be be;
	struct virtio_user *vu;
	int n0 = atomic_load(&be_new);

	vu = fe_start(VIRTIO_USER_SERVER, 1, 0);
	CHECK(vu != NULL);
	CHECK_EQ(be_start(&be, VHOST_SOCKET_CLIENT, 1, 0), 0);
	CHECK(vu && wait_up(vu, n0));
	traffic(vu, 0, false);
	virtio_user_destroy(vu);
	be_stop(&be);
}

static void case_mq(void)
{
	struct be be;
	struct virtio_user *vu;
	int n0 = atomic_load(&be_new);
	uint64_t end = now_ms() + WAIT_MS;

	CHECK_EQ(be_start(&be, 0, 2, 0), 0);
	vu = fe_start(0, 2, 0);
	CHECK(vu && wait_up(vu, n0));
	CHECK_EQ(virtio_user_queue_pairs(vu), 2);
	/* The back-end reports pair 1 a moment after new_device. */
	while (now_ms() < end && vhost_dev_num_vrings(atomic_load(&be_dev)) < 4)
		usleep(1000);
	traffic(vu, 0, false);
	traffic(vu, 1, false);
	virtio_user_destroy(vu);
	be_stop(&be);
}

/* Offload metadata: a partial checksum goes out as NEEDS_CSUM when the
 * back-end takes CSUM, and arrives as NEEDS_CSUM from the back-end. */
static void case_offload(void)
{
	struct be be;
	struct virtio_user *vu;
	struct vhost_pktbuf *p, *q[4];
	int n0 = atomic_load(&be_new);
	uint16_t n = 0;
	uint64_t end = now_ms() + WAIT_MS;

	CHECK_EQ(be_start(&be, 0, 1, 0), 0);
	vu = fe_start(0, 1, 0);
	CHECK(vu && wait_up(vu, n0));
	p = vhost_pktbuf_alloc(pool);
	pkt_build_udp(p, 200, 7, mac_a, mac_b);
	p->ol_flags = VHOST_PKT_F_CSUM_PARTIAL;
	p->csum_start = 34;
	p->csum_offset = 6;
	CHECK_EQ(virtio_user_tx_burst(vu, 0, &p, 1), 1);
	while (!n && now_ms() < end) {
		pthread_mutex_lock(&be_lock);
		n = vhost_dequeue_burst(atomic_load(&be_dev), VHOST_QUEUE_TX(0),
					pool, q, 4);
		pthread_mutex_unlock(&be_lock);
	}
	CHECK_EQ(n, 1);
	if (n) {
		CHECK(q[0]->ol_flags & VHOST_PKT_F_CSUM_PARTIAL);
		CHECK_EQ(q[0]->csum_start, 34);
		CHECK_EQ(q[0]->csum_offset, 6);
		vhost_pktbuf_free(q[0]);
	}
	/* And back. */
	pthread_mutex_lock(&be_lock);
	CHECK_EQ(vhost_enqueue_burst(atomic_load(&be_dev), VHOST_QUEUE_RX(0),
				     &p, 1), 1);
	pthread_mutex_unlock(&be_lock);
	n = 0;
	end = now_ms() + WAIT_MS;
	while (!n && now_ms() < end)
		n = virtio_user_rx_burst(vu, 0, pool, q, 4);
	CHECK_EQ(n, 1);
	if (n) {
		CHECK(q[0]->ol_flags & VHOST_PKT_F_CSUM_PARTIAL);
		CHECK_EQ(q[0]->csum_start, 34);
		CHECK_EQ(q[0]->csum_offset, 6);
		vhost_pktbuf_free(q[0]);
	}
	vhost_pktbuf_free(p);
	/* TSO both ways: a 9000-byte TCP/IPv4 segment to be cut at 1448. */
	p = vhost_pktbuf_alloc(pool);
	pkt_build_udp(p, 9000, 8, mac_a, mac_b);
	p->ol_flags = VHOST_PKT_F_CSUM_PARTIAL | VHOST_PKT_F_GSO;
	p->csum_start = 34;
	p->csum_offset = 16;
	p->gso_type = VHOST_GSO_TCPV4;
	p->gso_size = 1448;
	CHECK_EQ(virtio_user_tx_burst(vu, 0, &p, 1), 1);
	n = 0;
	end = now_ms() + WAIT_MS;
	while (!n && now_ms() < end) {
		pthread_mutex_lock(&be_lock);
		n = vhost_dequeue_burst(atomic_load(&be_dev), VHOST_QUEUE_TX(0),
					pool, q, 4);
		pthread_mutex_unlock(&be_lock);
	}
	CHECK_EQ(n, 1);
	if (n) {
		CHECK(q[0]->ol_flags & VHOST_PKT_F_GSO);
		CHECK_EQ(q[0]->gso_type, VHOST_GSO_TCPV4);
		CHECK_EQ(q[0]->gso_size, 1448);
		CHECK_EQ(q[0]->pkt_len, 9000);
		vhost_pktbuf_free(q[0]);
	}
	pthread_mutex_lock(&be_lock);
	CHECK_EQ(vhost_enqueue_burst(atomic_load(&be_dev), VHOST_QUEUE_RX(0),
				     &p, 1), 1);
	pthread_mutex_unlock(&be_lock);
	n = 0;
	end = now_ms() + WAIT_MS;
	while (!n && now_ms() < end)
		n = virtio_user_rx_burst(vu, 0, pool, q, 4);
	CHECK_EQ(n, 1);
	if (n) {
		CHECK(q[0]->ol_flags & VHOST_PKT_F_GSO);
		CHECK_EQ(q[0]->gso_type, VHOST_GSO_TCPV4);
		CHECK_EQ(q[0]->gso_size, 1448);
		CHECK_EQ(q[0]->pkt_len, 9000);
		CHECK(pkt_validate_udp(q[0], true));
		vhost_pktbuf_free(q[0]);
	}
	vhost_pktbuf_free(p);
	virtio_user_destroy(vu);
	be_stop(&be);
}

/* Without CSUM at the back-end, the front-end computes the checksum the
 * packet asks for before it goes out. */
static void case_csum_fallback(void)
{
	struct be be;
	struct virtio_user *vu;
	struct vhost_pktbuf *p, *q[4];
	int n0 = atomic_load(&be_new);
	uint16_t n = 0;
	uint64_t end;
	uint8_t c[2];

	CHECK_EQ(be_start(&be, 0, 1, 1ull << VIRTIO_NET_F_CSUM), 0);
	vu = fe_start(0, 1, 0);
	CHECK(vu && wait_up(vu, n0));
	CHECK(!(virtio_user_features(vu) >> VIRTIO_NET_F_CSUM & 1));
	p = vhost_pktbuf_alloc(pool);
	pkt_build_udp(p, 200, 9, mac_a, mac_b);
	/* UDP checksum field zeroed, to be filled in. */
	memset((uint8_t *)vhost_pktbuf_data(p) + 40, 0, 2);
	p->ol_flags = VHOST_PKT_F_CSUM_PARTIAL;
	p->csum_start = 34;
	p->csum_offset = 6;
	CHECK_EQ(virtio_user_tx_burst(vu, 0, &p, 1), 1);
	end = now_ms() + WAIT_MS;
	while (!n && now_ms() < end) {
		pthread_mutex_lock(&be_lock);
		n = vhost_dequeue_burst(atomic_load(&be_dev), VHOST_QUEUE_TX(0),
					pool, q, 4);
		pthread_mutex_unlock(&be_lock);
	}
	CHECK_EQ(n, 1);
	if (n) {
		CHECK(!(q[0]->ol_flags & VHOST_PKT_F_CSUM_PARTIAL));
		vhost_pktbuf_read(q[0], 40, 2, c);
		/* The checksum net_hdr.c computes over the same bytes. */
		{
			uint16_t want = net_pkt_csum(p, 34);

			CHECK_EQ(c[0] << 8 | c[1], want);
		}
		vhost_pktbuf_free(q[0]);
	}
	vhost_pktbuf_free(p);
	virtio_user_destroy(vu);
	be_stop(&be);
}

/* The back-end restarts while packets are in flight: the new one gets
 * them (ring indices and in-flight buffers kept), none lost or doubled. */
static void case_backend_restart(uint32_t fe_flags, uint32_t be_flags)
{
	struct be be;
	struct virtio_user *vu;
	int n0 = atomic_load(&be_new);
	uint64_t next = 0, rx = 0;
	uint32_t got;

	if (fe_flags & VIRTIO_USER_SERVER) {
		vu = fe_start(fe_flags, 1, 0);
		CHECK_EQ(be_start(&be, be_flags, 1, 0), 0);
	} else {
		CHECK_EQ(be_start(&be, be_flags, 1, 0), 0);
		vu = fe_start(fe_flags, 1, 0);
	}
	CHECK(vu && wait_up(vu, n0));
	/* 200 sent, only 50 taken by this back-end: 150 in flight. */
	got = g2h(vu, 0, 200, 64, &next, &rx, 50);
	CHECK_EQ(got, 50);
	CHECK_EQ(next, 200);
	CHECK_EQ(h2g(vu, 0, 100, 64), 100);
	be_stop(&be);
	n0 = atomic_load(&be_new);
	CHECK_EQ(be_start(&be, be_flags, 1, 0), 0);
	CHECK(wait_up(vu, n0));
	CHECK_EQ(virtio_user_connects(vu), 2);
	CHECK_EQ(virtio_user_disconnects(vu), 1);
	/* The 150 left, in order, then 300 more. */
	got = g2h(vu, 0, 300, 64, &next, &rx, 450);
	CHECK_EQ(got, 450);
	CHECK_EQ(rx, 500);
	CHECK_EQ(h2g(vu, 0, 300, 1518), 300);
	virtio_user_destroy(vu);
	be_stop(&be);
}

static void case_backend_restart_client(void)
{
	case_backend_restart(0, 0);
}

static void case_backend_restart_server(void)
{
	case_backend_restart(VIRTIO_USER_SERVER, VHOST_SOCKET_CLIENT);
}

/* The front-end goes and comes back: the back-end serves the new one. */
static void case_frontend_restart(void)
{
	struct be be;
	struct virtio_user *vu;
	int n0 = atomic_load(&be_new), d0 = atomic_load(&be_destroyed);
	uint64_t end = now_ms() + WAIT_MS;

	CHECK_EQ(be_start(&be, 0, 1, 0), 0);
	vu = fe_start(0, 1, 0);
	CHECK(vu && wait_up(vu, n0));
	traffic(vu, 0, false);
	virtio_user_destroy(vu);
	while (atomic_load(&be_destroyed) == d0 && now_ms() < end)
		usleep(1000);
	CHECK_EQ(atomic_load(&be_destroyed), d0 + 1);
	n0 = atomic_load(&be_new);
	vu = fe_start(0, 1, 0);
	CHECK(vu && wait_up(vu, n0));
	traffic(vu, 0, false);
	virtio_user_destroy(vu);
	be_stop(&be);
}

/* Interrupt mode: with calls asked for, a packet from the back-end makes
 * the call eventfd readable; without, it stays quiet. */
static void case_interrupt(void)
{
	struct be be;
	struct virtio_user *vu;
	struct vhost_pktbuf *p, *q[2];
	int n0 = atomic_load(&be_new), fd;
	struct pollfd pfd;
	eventfd_t v;

	CHECK_EQ(be_start(&be, 0, 1, 0), 0);
	vu = fe_start(0, 1, 0);
	CHECK(vu && wait_up(vu, n0));
	fd = virtio_user_callfd(vu, VIRTIO_USER_RX(0));
	CHECK(fd >= 0);
	p = vhost_pktbuf_alloc(pool);
	pkt_build_udp(p, 100, 1, mac_b, mac_a);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	/* Polling: no call (past the back-end's first, which it always
	 * sends with EVENT_IDX). */
	for (int round = 0; round < 2; round++) {
		eventfd_read(fd, &v);
		pthread_mutex_lock(&be_lock);
		CHECK_EQ(vhost_enqueue_burst(atomic_load(&be_dev),
					     VHOST_QUEUE_RX(0), &p, 1), 1);
		pthread_mutex_unlock(&be_lock);
		if (round == 1)
			CHECK_EQ(poll(&pfd, 1, 100), 0);
		CHECK_EQ(virtio_user_rx_burst(vu, 0, pool, q, 2), 1);
		vhost_pktbuf_free(q[0]);
	}
	CHECK_EQ(virtio_user_enable_intr(vu, VIRTIO_USER_RX(0), true), 0);
	CHECK_EQ(virtio_user_rx_burst(vu, 0, pool, q, 2), 0);
	pthread_mutex_lock(&be_lock);
	CHECK_EQ(vhost_enqueue_burst(atomic_load(&be_dev), VHOST_QUEUE_RX(0),
				     &p, 1), 1);
	pthread_mutex_unlock(&be_lock);
	CHECK_EQ(poll(&pfd, 1, WAIT_MS), 1);
	CHECK_EQ(virtio_user_rx_burst(vu, 0, pool, q, 2), 1);
	vhost_pktbuf_free(q[0]);
	vhost_pktbuf_free(p);
	virtio_user_destroy(vu);
	be_stop(&be);
}

/* The load generator: prebuilt packets out, received ones counted. */
static void case_generator(void)
{
	struct be be;
	struct virtio_user *vu;
	struct vhost_pktbuf *p, *q[32];
	uint8_t tmpl[64];
	int n0 = atomic_load(&be_new);
	uint32_t got = 0, bad = 0;
	uint64_t end = now_ms() + WAIT_MS, bytes = 0;

	CHECK_EQ(be_start(&be, 0, 1, 0), 0);
	vu = fe_start(0, 1, 0);
	CHECK(vu && wait_up(vu, n0));
	p = vhost_pktbuf_alloc(pool);
	pkt_build_udp(p, 64, 5, mac_a, mac_b);
	vhost_pktbuf_read(p, 0, 64, tmpl);
	CHECK_EQ(virtio_user_gen_set_packet(vu, 0, tmpl, 64), 0);
	while (got < 5000 && now_ms() < end) {
		uint16_t n;

		virtio_user_gen_tx(vu, 0, 32);
		pthread_mutex_lock(&be_lock);
		n = vhost_dequeue_burst(atomic_load(&be_dev), VHOST_QUEUE_TX(0),
					pool, q, 32);
		for (uint16_t i = 0; i < n; i++)
			bad += !pkt_validate_udp(q[i], true) || pkt_seq(q[i]) != 5;
		/* ... and back, for gen_rx */
		vhost_enqueue_burst(atomic_load(&be_dev), VHOST_QUEUE_RX(0), q, n);
		pthread_mutex_unlock(&be_lock);
		vhost_pktbuf_free_bulk(q, n);
		got += n;
		virtio_user_gen_rx(vu, 0, 32, &bytes);
	}
	CHECK(got >= 5000);
	CHECK_EQ(bad, 0);
	CHECK(bytes > 0 && bytes % 64 == 0);
	/* Drain what is left, then one poll that finds nothing: counted. */
	{
		struct virtio_user_queue_stats st0, st1;
		uint64_t drain_end = now_ms() + WAIT_MS;

		while (virtio_user_gen_rx(vu, 0, 32, &bytes) && now_ms() < drain_end)
			;
		CHECK_EQ(virtio_user_stats_get(vu, VIRTIO_USER_RX(0), &st0), 0);
		CHECK_EQ(virtio_user_gen_rx(vu, 0, 32, &bytes), 0);
		CHECK_EQ(virtio_user_stats_get(vu, VIRTIO_USER_RX(0), &st1), 0);
		CHECK_EQ(st1.empty_polls, st0.empty_polls + 1);
		CHECK_EQ(st1.packets * 64, st1.bytes);
	}
	vhost_pktbuf_free(p);
	virtio_user_destroy(vu);
	be_stop(&be);
}

/* Zero-copy references: each packet sent by reference is held (refcnt +1)
 * while the back-end has it, across a back-end restart (posted again, its
 * contents intact), dropped once it is used, and at destroy. Shared
 * packets take a separate header descriptor, exclusive ones have the
 * header pushed into their headroom; chained ones (jumbo) one descriptor
 * per segment. */
static void case_zc_refs(void)
{
	enum { N = 64 };
	struct be be;
	struct virtio_user *vu;
	struct vhost_pktbuf *p[N], *q[32];
	int n0 = atomic_load(&be_new);
	uint32_t got = 0, bad = 0;
	uint64_t end;
	struct virtio_user_queue_stats st;

	if (!zc)
		return;
	CHECK_EQ(be_start(&be, 0, 1, 0), 0);
	vu = fe_start(0, 1, 0);
	CHECK(vu && wait_up(vu, n0));
	CHECK_EQ(vhost_pktbuf_alloc_bulk(pool, p, N), 0);
	for (uint16_t i = 0; i < N; i++) {
		pkt_build_udp(p[i], i % 8 == 7 ? 5000 : 300 + i * 20, i, mac_a,
			      mac_b);
		if (!(i & 1))
			vhost_pktbuf_refcnt_update(p[i], 1);
	}
	CHECK_EQ(virtio_user_tx_burst(vu, 0, p, N), N);
	for (uint16_t i = 0; i < N; i++)
		bad += vhost_pktbuf_refcnt_read(p[i]) != (i & 1 ? 2 : 3);
	CHECK_EQ(bad, 0);
	/* The back-end goes before using them: still held, for the next. */
	be_stop(&be);
	for (uint16_t i = 0; i < N; i++)
		bad += vhost_pktbuf_refcnt_read(p[i]) != (i & 1 ? 2 : 3);
	CHECK_EQ(bad, 0);
	n0 = atomic_load(&be_new);
	CHECK_EQ(be_start(&be, 0, 1, 0), 0);
	CHECK(wait_up(vu, n0));
	end = now_ms() + WAIT_MS;
	while (got < N && now_ms() < end) {
		uint16_t n;

		pthread_mutex_lock(&be_lock);
		n = vhost_dequeue_burst(atomic_load(&be_dev), VHOST_QUEUE_TX(0),
					pool, q, 32);
		pthread_mutex_unlock(&be_lock);
		for (uint16_t i = 0; i < n; i++, got++)
			bad += !pkt_validate_udp(q[i], true) ||
			       pkt_seq(q[i]) != got ||
			       q[i]->pkt_len != p[got]->pkt_len;
		vhost_pktbuf_free_bulk(q, n);
	}
	CHECK_EQ(got, N);
	CHECK_EQ(bad, 0);
	/* The next burst reclaims them: our references dropped. */
	CHECK_EQ(virtio_user_tx_burst(vu, 0, p, 0), 0);
	for (uint16_t i = 0; i < N; i++) {
		bad += vhost_pktbuf_refcnt_read(p[i]) != (i & 1 ? 1 : 2);
		if (!(i & 1))
			vhost_pktbuf_refcnt_update(p[i], -1);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(virtio_user_stats_get(vu, VIRTIO_USER_TX(0), &st), 0);
	CHECK_EQ(st.zero_copy, N);
	/* In flight at destroy: released by it. */
	CHECK_EQ(virtio_user_tx_burst(vu, 0, p, N), N);
	CHECK_EQ(vhost_pktbuf_refcnt_read(p[0]), 2);
	virtio_user_destroy(vu);
	for (uint16_t i = 0; i < N; i++)
		bad += vhost_pktbuf_refcnt_read(p[i]) != 1;
	CHECK_EQ(bad, 0);
	vhost_pktbuf_free_bulk(p, N);
	be_stop(&be);
}

/* Pools the front-end cannot post by reference are refused at create:
 * not shared, listed twice, too many, a NULL list. */
static void case_zc_params(void)
{
	struct vhost_pktbuf_pool *plain, *shared[VIRTIO_USER_MAX_POOLS + 1];
	struct vhost_pktbuf_pool *list[VIRTIO_USER_MAX_POOLS + 1];
	struct virtio_user_params p = { .path = path, .pools = list };
	struct virtio_user *vu;

	if (!zc)
		return;
	plain = vhost_pktbuf_pool_create("p", 4, 2048, 0);
	for (unsigned i = 0; i <= VIRTIO_USER_MAX_POOLS; i++)
		list[i] = shared[i] =
			vhost_pktbuf_pool_create_shared("s", 4, 2048, 0);
	p.npools = VIRTIO_USER_MAX_POOLS + 1;
	errno = 0;
	CHECK(!virtio_user_create(&p) && errno == EINVAL);
	p.npools = VIRTIO_USER_MAX_POOLS;
	vu = virtio_user_create(&p);
	CHECK(vu != NULL);
	virtio_user_destroy(vu);
	list[1] = plain;
	CHECK(!virtio_user_create(&p) && errno == EINVAL);
	list[1] = list[0];
	CHECK(!virtio_user_create(&p) && errno == EINVAL);
	p.pools = NULL;
	CHECK(!virtio_user_create(&p) && errno == EINVAL);
	for (unsigned i = 0; i <= VIRTIO_USER_MAX_POOLS; i++)
		vhost_pktbuf_pool_destroy(shared[i]);
	vhost_pktbuf_pool_destroy(plain);
}

/* Every buffer back in the pool once a case destroyed its front-end: no
 * reference kept by a zero-copy post. */
#define RUN_POOL_FULL(fn)                                                    \
	do {                                                                 \
		RUN(fn);                                                     \
		CHECK_EQ(vhost_pktbuf_pool_avail(pool),                      \
			 vhost_pktbuf_pool_count(pool));                     \
	} while (0)

int main(void)
{
	int fds0 = fe_count_fds();

	snprintf(path, sizeof(path), "/tmp/test_vu_loop.%d.sock", getpid());
	for (int mode = 0; mode < 4; mode++) {
		int packed = mode & 1;

		zc = mode >> 1;
		pool = zc ? vhost_pktbuf_pool_create_shared("t", 8192, 2048, 256) :
			    vhost_pktbuf_pool_create("t", 8192, 2048, 256);
		if (!pool)
			return 1;
		fe_extra = packed ? 1ull << VIRTIO_F_RING_PACKED : 0;
		printf("-- %s rings%s\n", packed ? "packed" : "split",
		       zc ? ", zero-copy" : "");
		RUN_POOL_FULL(case_client_mrg);
		RUN_POOL_FULL(case_no_mrg);
		RUN_POOL_FULL(case_server_role);
		RUN_POOL_FULL(case_mq);
		RUN_POOL_FULL(case_offload);
		RUN_POOL_FULL(case_csum_fallback);
		RUN_POOL_FULL(case_backend_restart_client);
		RUN_POOL_FULL(case_backend_restart_server);
		RUN_POOL_FULL(case_frontend_restart);
		RUN_POOL_FULL(case_interrupt);
		RUN_POOL_FULL(case_generator);
		RUN_POOL_FULL(case_zc_refs);
		RUN_POOL_FULL(case_zc_params);
		vhost_pktbuf_pool_destroy(pool);
	}
	unlink(path);
	CHECK_EQ(fe_count_fds(), fds0);
	return check_summary("vu_loop");
}
