/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A malicious back-end against our virtio-user front-end: bad replies
 * during the handshake (wrong request, no reply flag, short, with fds, too
 * large, a refused ack, zero queues, no VERSION_1, a hang-up), and bad used
 * entries in every ring (index past what is in flight, id out of range or
 * not in flight, a duplicate id, a length past the buffer, num_buffers out
 * of range, a short or invalid header), and the same on packed rings plus
 * a ring marked used all over; the used-entry cases again with packets
 * sent by reference (zero-copy: no reference dropped twice, none kept
 * after the ring is reset). The front-end must refuse each,
 * keep running, count it, and work again with the next, well-behaved
 * back-end.
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <vhost/vhost.h>
#include <vhost/virtio_user.h>

#include "check.h"
#include "frontend.h"
#include "message.h"
#include "protocol.h"

#define BIT(n) (1ull << (n))
#define BE_FEATURES                                                          \
	(BIT(VIRTIO_F_VERSION_1) | BIT(VHOST_USER_F_PROTOCOL_FEATURES) |    \
	 BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_CSUM) |             \
	 BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_MQ) |               \
	 BIT(VIRTIO_F_RING_PACKED))
#define BE_PROTOCOL                                                          \
	(BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) | BIT(VHOST_USER_PROTOCOL_F_MQ) | \
	 BIT(VHOST_USER_PROTOCOL_F_STATUS))

enum bad {
	GOOD, WRONG_REQ, NO_REPLY_FLAG, SHORT, WITH_FD, TOO_LARGE, NACK,
	ZERO_QUEUES, NO_VERSION_1, HANG_UP,
};

/* What the fake back-end learned in the handshake. */
struct fake {
	int fd;
	uint8_t *map;
	uint64_t map_len, uva;
	struct vhost_user_vring_addr addr[4];
	int callfd[4];
	int truncate_err;
};

static char path[64];
static int listen_fd = -1;
/* Features the fake offers besides BE_FEATURES. */
static uint64_t be_extra;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int fake_listen(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4))
		return -1;
	return fd;
}

static int fake_accept(void)
{
	struct pollfd p = { .fd = listen_fd, .events = POLLIN };

	if (poll(&p, 1, 5000) != 1)
		return -1;
	return accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
}

static void fake_close(struct fake *f)
{
	if (f->map)
		munmap(f->map, f->map_len);
	for (int i = 0; i < 4; i++)
		if (f->callfd[i] >= 0)
			close(f->callfd[i]);
	if (f->fd >= 0)
		close(f->fd);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	for (int i = 0; i < 4; i++)
		f->callfd[i] = -1;
}

static void *host(struct fake *f, uint64_t uva)
{
	return f->map + (uva - f->uva);
}

static int reply(struct fake *f, const struct vhost_msg *m, uint64_t v,
		 enum bad bad, bool is_target)
{
	struct vhost_user_hdr h = {
		.request = m->hdr.request,
		.flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
		.size = 8,
	};
	union { uint64_t u64; uint8_t b[512]; } pl = { .u64 = v };
	int extra = -1;

	if (is_target) {
		switch (bad) {
		case WRONG_REQ: h.request += 1; break;
		case NO_REPLY_FLAG: h.flags = VHOST_USER_VERSION; break;
		case SHORT: h.size = 4; break;
		case WITH_FD: extra = dup(0); break;
		case TOO_LARGE: h.size = 300; break;
		case NACK: pl.u64 = 1; break;
		case HANG_UP: return -1;
		default: break;
		}
	}
	if (extra >= 0) {
		int ret = msg_send(f->fd, &h, &pl, &extra, 1);

		close(extra);
		return ret;
	}
	return msg_send(f->fd, &h, &pl, NULL, 0);
}

/* Serve one front-end's handshake; bad applies to request target.
 * Returns 0 once DRIVER_OK came, -1 when the front-end hung up. */
static int fake_serve(struct fake *f, enum bad bad, uint32_t target)
{
	for (;;) {
		struct vhost_msg m;
		uint32_t req;
		bool t;
		int ret = msg_recv_timeout(f->fd, &m, 5000);

		if (ret)
			return -1;
		req = m.hdr.request;
		t = req == target;
		switch (req) {
		case VHOST_USER_GET_FEATURES:
			ret = reply(f, &m, bad == NO_VERSION_1 ?
				    BE_FEATURES & ~BIT(VIRTIO_F_VERSION_1) :
				    BE_FEATURES | be_extra, bad, t);
			break;
		case VHOST_USER_GET_PROTOCOL_FEATURES:
			ret = reply(f, &m, BE_PROTOCOL, bad, t);
			break;
		case VHOST_USER_GET_QUEUE_NUM:
			ret = reply(f, &m, bad == ZERO_QUEUES ? 0 : 2, bad, t);
			break;
		case VHOST_USER_SET_MEM_TABLE: {
			int fd = msg_take_fd(&m, 0);
			struct vhost_user_mem_region *r = &m.payload.memory.regions[0];

			f->map_len = r->memory_size;
			f->uva = r->userspace_addr;
			f->map = mmap(NULL, f->map_len, PROT_READ | PROT_WRITE,
				      MAP_SHARED, fd, 0);
			/* Sealed: the back-end cannot shrink it under us. */
			f->truncate_err = ftruncate(fd, 4096) ? errno : 0;
			close(fd);
			break;
		}
		case VHOST_USER_SET_VRING_ADDR:
			if (m.payload.addr.index < 4)
				f->addr[m.payload.addr.index] = m.payload.addr;
			break;
		case VHOST_USER_SET_VRING_CALL: {
			unsigned i = (unsigned)(m.payload.u64 & 0xff);

			if (i < 4 && f->callfd[i] < 0)
				f->callfd[i] = msg_take_fd(&m, 0);
			break;
		}
		default:
			break;
		}
		if (!ret && (m.hdr.flags & VHOST_USER_NEED_REPLY_MASK))
			ret = reply(f, &m, 0, bad, t);
		msg_close_fds(&m);
		if (ret)
			return -1;
		if (req == VHOST_USER_SET_STATUS &&
		    (m.payload.u64 & VIRTIO_CONFIG_S_DRIVER_OK))
			return 0;
	}
}

static bool hung_up(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&p, 1, 5000) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

/* Zero-copy mode of the used-entry cases: their pool is a shared one,
 * registered with the front-end, so transmitted packets go by reference. */
static bool zc_mode;
static struct vhost_pktbuf_pool *zc_pool;

static struct vhost_pktbuf_pool *case_pool(void)
{
	struct vhost_pktbuf_pool *pool =
		zc_mode ? vhost_pktbuf_pool_create_shared("h", 1024, 2048, 0) :
			  vhost_pktbuf_pool_create("h", 1024, 2048, 0);

	zc_pool = zc_mode ? pool : NULL;
	return pool;
}

/* After a bad used entry on the transmit ring: the two packets (300
 * bytes: smaller ones are copied) sent by reference are still held (refcnt 2: the caller's and ours), but for one
 * the back-end did return once (dup): never dropped twice. */
static void check_zc_refs(struct virtio_user *vu, struct vhost_pktbuf **p,
			  bool dup)
{
	struct virtio_user_queue_stats st;

	if (!zc_mode)
		return;
	CHECK_EQ(virtio_user_stats_get(vu, VIRTIO_USER_TX(0), &st), 0);
	CHECK_EQ(st.zero_copy, 2);
	CHECK_EQ(vhost_pktbuf_refcnt_read(p[0]) + vhost_pktbuf_refcnt_read(p[1]),
		 dup ? 3 : 4);
}

static struct virtio_user *fe_new(uint16_t pairs, uint64_t features)
{
	struct virtio_user_params p = { .path = path, .queue_pairs = pairs,
					.features = features,
					.pools = &zc_pool, .npools = !!zc_pool };
	struct virtio_user *vu = virtio_user_create(&p);

	if (vu && virtio_user_start(vu)) {
		virtio_user_destroy(vu);
		return NULL;
	}
	return vu;
}

/* Each bad reply: the front-end drops that back-end and connects again;
 * a good back-end then gets it ready. */
static void case_bad_replies(void)
{
	static const struct { enum bad bad; uint32_t req; } cases[] = {
		{ WRONG_REQ, VHOST_USER_GET_FEATURES },
		{ NO_REPLY_FLAG, VHOST_USER_GET_PROTOCOL_FEATURES },
		{ SHORT, VHOST_USER_GET_FEATURES },
		{ WITH_FD, VHOST_USER_GET_QUEUE_NUM },
		{ TOO_LARGE, VHOST_USER_GET_FEATURES },
		{ NACK, VHOST_USER_SET_MEM_TABLE },
		{ NACK, VHOST_USER_SET_VRING_ADDR },
		{ ZERO_QUEUES, VHOST_USER_GET_QUEUE_NUM },
		{ NO_VERSION_1, 0 },
		{ HANG_UP, VHOST_USER_SET_FEATURES },
	};
	struct virtio_user *vu = fe_new(2, 0);
	struct fake f = { .fd = -1, .callfd = { -1, -1, -1, -1 } };

	CHECK(vu != NULL);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f.fd = fake_accept();
		CHECK(f.fd >= 0);
		CHECK_EQ(fake_serve(&f, cases[i].bad, cases[i].req), -1);
		/* The front-end closed that connection. */
		CHECK(cases[i].bad == HANG_UP || hung_up(f.fd));
		CHECK(!virtio_user_is_ready(vu));
		fake_close(&f);
	}
	f.fd = fake_accept();
	CHECK_EQ(fake_serve(&f, GOOD, 0), 0);
	CHECK_EQ(virtio_user_wait_ready(vu, 5000), 0);
	CHECK_EQ(virtio_user_queue_pairs(vu), 2);
	CHECK_EQ(f.truncate_err, EPERM);
	virtio_user_destroy(vu);
	fake_close(&f);
}

/* A front-end that gives up (NO_RECONNECT) reports it. */
static void case_no_reconnect(void)
{
	struct virtio_user_params p = { .path = path,
					.flags = VIRTIO_USER_NO_RECONNECT };
	struct virtio_user *vu = virtio_user_create(&p);
	struct fake f = { .fd = -1, .callfd = { -1, -1, -1, -1 } };

	CHECK(vu && virtio_user_start(vu) == 0);
	f.fd = fake_accept();
	CHECK_EQ(fake_serve(&f, SHORT, VHOST_USER_GET_FEATURES), -1);
	CHECK_EQ(virtio_user_wait_ready(vu, 5000), -ENOTCONN);
	virtio_user_destroy(vu);
	fake_close(&f);
}

/* A back-end that stops answering mid-handshake cannot hold destroy for
 * the reply timeout. */
static void case_destroy_stalled(void)
{
	struct virtio_user *vu = fe_new(1, 0);
	struct vhost_msg m;
	int fd = fake_accept();
	uint64_t t0;

	CHECK(vu && fd >= 0);
	CHECK_EQ(msg_recv_timeout(fd, &m, 5000), 0);
	CHECK_EQ(m.hdr.request, VHOST_USER_GET_FEATURES);
	t0 = now_ms();
	virtio_user_destroy(vu);
	CHECK(now_ms() - t0 < 1000);
	close(fd);
}

enum used_bad {
	TX_IDX_AHEAD, TX_ID_RANGE, TX_ID_NOT_INFLIGHT, TX_ID_DUP,
	RX_IDX_AHEAD, RX_LEN_PAST, RX_NUM_BUFFERS_0, RX_NUM_BUFFERS_HUGE,
	RX_SHORT_HDR, RX_BAD_HDR, USED_CASES
};

static const char *const used_names[] = {
	"tx idx ahead", "tx id out of range", "tx id not in flight",
	"tx duplicate id", "rx idx ahead", "rx len past buffer",
	"rx num_buffers 0", "rx num_buffers huge", "rx short header",
	"rx bad header",
};

/* Ring i of the fake's view. */
static struct vring_used *used_of(struct fake *f, int i)
{
	return host(f, f->addr[i].used_user_addr);
}

static struct vring_avail *avail_of(struct fake *f, int i)
{
	return host(f, f->addr[i].avail_user_addr);
}

static struct vring_desc *desc_of(struct fake *f, int i)
{
	return host(f, f->addr[i].desc_user_addr);
}

/* Publish one used entry on ring i. */
static void put_used(struct fake *f, int i, uint16_t slot, uint32_t id,
		     uint32_t len, uint16_t new_idx)
{
	struct vring_used *u = used_of(f, i);

	u->ring[slot & 255].id = id;
	u->ring[slot & 255].len = len;
	__atomic_store_n(&u->idx, new_idx, __ATOMIC_RELEASE);
}

static void case_bad_used(void)
{
	struct vhost_pktbuf_pool *pool = case_pool();

	for (int c = 0; c < USED_CASES; c++) {
		struct virtio_user *vu = fe_new(1, 0);
		struct fake f = { .fd = -1, .callfd = { -1, -1, -1, -1 } };
		struct virtio_user_queue_stats st;
		struct vhost_pktbuf *p[4];
		bool tx = c <= TX_ID_DUP;
		int ring = tx ? 1 : 0;
		uint16_t head;
		uint8_t *buf;
		struct virtio_net_hdr_mrg_rxbuf *h;

		f.fd = fake_accept();
		CHECK_EQ(fake_serve(&f, GOOD, 0), 0);
		CHECK_EQ(virtio_user_wait_ready(vu, 5000), 0);
		if (tx) {
			CHECK_EQ(vhost_pktbuf_alloc_bulk(pool, p, 2), 0);
			for (int k = 0; k < 2; k++) {
				memset(vhost_pktbuf_append(p[k], 300), 0xab, 300);
			}
			CHECK_EQ(virtio_user_tx_burst(vu, 0, p, 2), 2);
			head = avail_of(&f, 1)->ring[0];
			switch (c) {
			case TX_IDX_AHEAD: put_used(&f, 1, 0, head, 0, 3); break;
			case TX_ID_RANGE: put_used(&f, 1, 0, 9999, 0, 1); break;
			case TX_ID_NOT_INFLIGHT: put_used(&f, 1, 0, 200, 0, 1); break;
			case TX_ID_DUP:
				put_used(&f, 1, 0, head, 0, 1);
				put_used(&f, 1, 1, head, 0, 2);
				break;
			}
			CHECK_EQ(virtio_user_tx_burst(vu, 0, p, 2), 0);
			CHECK_EQ(virtio_user_tx_burst(vu, 0, p, 2), 0);
			check_zc_refs(vu, p, c == TX_ID_DUP);
			vhost_pktbuf_free_bulk(p, 2);
		} else {
			/* Receive buffers are posted: fill the first. */
			head = avail_of(&f, 0)->ring[0];
			buf = host(&f, desc_of(&f, 0)[head].addr);
			h = (struct virtio_net_hdr_mrg_rxbuf *)buf;
			memset(buf, 0, 100);
			h->num_buffers = 1;
			switch (c) {
			case RX_IDX_AHEAD: put_used(&f, 0, 0, head, 100, 300); break;
			case RX_LEN_PAST: put_used(&f, 0, 0, head, 1u << 20, 1); break;
			case RX_NUM_BUFFERS_0:
				h->num_buffers = 0;
				put_used(&f, 0, 0, head, 100, 1);
				break;
			case RX_NUM_BUFFERS_HUGE:
				h->num_buffers = 60000;
				put_used(&f, 0, 0, head, 100, 1);
				break;
			case RX_SHORT_HDR: put_used(&f, 0, 0, head, 5, 1); break;
			case RX_BAD_HDR:
				h->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
				h->hdr.csum_start = 90;
				h->hdr.csum_offset = 6;
				put_used(&f, 0, 0, head, 100, 1);
				break;
			}
			CHECK_EQ(virtio_user_rx_burst(vu, 0, pool, p, 4), 0);
			CHECK_EQ(virtio_user_rx_burst(vu, 0, pool, p, 4), 0);
		}
		CHECK_EQ(virtio_user_stats_get(vu, (uint16_t)ring, &st), 0);
		if (c == RX_SHORT_HDR || c == RX_BAD_HDR) {
			/* A bad packet, not a bad ring. */
			CHECK_EQ(st.bad_hdr, 1);
			CHECK(!virtio_user_ring_broken(vu, (uint16_t)ring));
		} else {
			CHECK_EQ(st.broken, 1);
			CHECK(virtio_user_ring_broken(vu, (uint16_t)ring));
		}
		if (check_failed)
			fprintf(stderr, "  (case %s)\n", used_names[c]);
		/* The next back-end gets a fresh ring. */
		fake_close(&f);
		f.fd = fake_accept();
		CHECK_EQ(fake_serve(&f, GOOD, 0), 0);
		CHECK_EQ(virtio_user_wait_ready(vu, 5000), 0);
		{
			uint64_t end = now_ms() + 5000;

			while (virtio_user_ring_broken(vu, (uint16_t)ring) &&
			       now_ms() < end)
				usleep(1000);
		}
		CHECK(!virtio_user_ring_broken(vu, (uint16_t)ring));
		if (tx) {
			CHECK_EQ(vhost_pktbuf_alloc_bulk(pool, p, 1), 0);
			memset(vhost_pktbuf_append(p[0], 60), 0xcd, 60);
			CHECK_EQ(virtio_user_tx_burst(vu, 0, p, 1), 1);
			vhost_pktbuf_free(p[0]);
		}
		virtio_user_destroy(vu);
		fake_close(&f);
		/* Dropped packets gave their buffers back. */
		CHECK_EQ(vhost_pktbuf_pool_avail(pool), vhost_pktbuf_pool_count(pool));
	}
	vhost_pktbuf_pool_destroy(pool);
}

/* Packed rings: a used descriptor written by the back-end at ring
 * position pos (wrap counter 1: AVAIL and USED set, flags last). */
static void put_used_packed(struct fake *f, int i, uint16_t pos, uint32_t id,
			    uint32_t len)
{
	struct vring_packed_desc *d =
		(struct vring_packed_desc *)desc_of(f, i) + pos;

	d->id = (uint16_t)id;
	d->len = len;
	__atomic_store_n(&d->flags,
			 (uint16_t)(1u << VRING_PACKED_DESC_F_AVAIL |
				    1u << VRING_PACKED_DESC_F_USED),
			 __ATOMIC_RELEASE);
}

enum packed_case {
	P_TX_ID_RANGE, P_TX_ID_NOT_INFLIGHT, P_TX_ID_DUP, P_RX_LEN_PAST,
	P_RX_NUM_BUFFERS_0, P_RX_NUM_BUFFERS_HUGE, P_RX_ALL_USED,
	P_RX_SHORT_HDR, P_RX_BAD_HDR, P_CASES
};

static const char *const packed_names[] = {
	"tx id out of range", "tx id not in flight", "tx duplicate id",
	"rx len past buffer", "rx num_buffers 0", "rx num_buffers huge",
	"rx every descriptor used with one id", "rx short header",
	"rx bad header",
};

static void case_bad_used_packed(void)
{
	struct vhost_pktbuf_pool *pool = case_pool();
	uint64_t feat = virtio_user_default_features() | BIT(VIRTIO_F_RING_PACKED);

	for (int c = 0; c < P_CASES; c++) {
		struct virtio_user *vu = fe_new(1, feat);
		struct fake f = { .fd = -1, .callfd = { -1, -1, -1, -1 } };
		struct virtio_user_queue_stats st;
		struct vhost_pktbuf *p[4];
		bool tx = c <= P_TX_ID_DUP;
		int ring = tx ? 1 : 0;
		struct vring_packed_desc *ring0;
		uint16_t head;
		uint8_t *buf;
		struct virtio_net_hdr_mrg_rxbuf *h;

		f.fd = fake_accept();
		CHECK_EQ(fake_serve(&f, GOOD, 0), 0);
		CHECK_EQ(virtio_user_wait_ready(vu, 5000), 0);
		CHECK(virtio_user_features(vu) & BIT(VIRTIO_F_RING_PACKED));
		ring0 = (struct vring_packed_desc *)desc_of(&f, ring);
		if (tx) {
			CHECK_EQ(vhost_pktbuf_alloc_bulk(pool, p, 2), 0);
			for (int k = 0; k < 2; k++)
				memset(vhost_pktbuf_append(p[k], 300), 0xab, 300);
			CHECK_EQ(virtio_user_tx_burst(vu, 0, p, 2), 2);
			head = ring0[0].id;
			switch (c) {
			case P_TX_ID_RANGE: put_used_packed(&f, 1, 0, 9999, 0); break;
			case P_TX_ID_NOT_INFLIGHT: put_used_packed(&f, 1, 0, 200, 0); break;
			case P_TX_ID_DUP:
				put_used_packed(&f, 1, 0, head, 0);
				put_used_packed(&f, 1, 1, head, 0);
				break;
			}
			CHECK_EQ(virtio_user_tx_burst(vu, 0, p, 2), 0);
			CHECK_EQ(virtio_user_tx_burst(vu, 0, p, 2), 0);
			check_zc_refs(vu, p, c == P_TX_ID_DUP);
			vhost_pktbuf_free_bulk(p, 2);
		} else {
			/* Receive buffers are posted: fill the first. */
			head = ring0[0].id;
			buf = host(&f, ring0[0].addr);
			h = (struct virtio_net_hdr_mrg_rxbuf *)buf;
			memset(buf, 0, 100);
			h->num_buffers = 1;
			switch (c) {
			case P_RX_LEN_PAST: put_used_packed(&f, 0, 0, head, 1u << 20); break;
			case P_RX_NUM_BUFFERS_0:
				h->num_buffers = 0;
				put_used_packed(&f, 0, 0, head, 100);
				break;
			case P_RX_NUM_BUFFERS_HUGE:
				h->num_buffers = 60000;
				put_used_packed(&f, 0, 0, head, 100);
				break;
			case P_RX_ALL_USED:
				for (uint16_t k = 0; k < 256; k++)
					put_used_packed(&f, 0, k, head, 100);
				break;
			case P_RX_SHORT_HDR: put_used_packed(&f, 0, 0, head, 5); break;
			case P_RX_BAD_HDR:
				h->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
				h->hdr.csum_start = 90;
				h->hdr.csum_offset = 6;
				put_used_packed(&f, 0, 0, head, 100);
				break;
			}
			{
				uint16_t got = virtio_user_rx_burst(vu, 0, pool, p, 4);

				/* All used with one id: the first is a
				 * packet, the second not in flight. */
				CHECK_EQ(got, c == P_RX_ALL_USED ? 1 : 0);
				vhost_pktbuf_free_bulk(p, got);
			}
			CHECK_EQ(virtio_user_rx_burst(vu, 0, pool, p, 4), 0);
		}
		CHECK_EQ(virtio_user_stats_get(vu, (uint16_t)ring, &st), 0);
		if (c == P_RX_SHORT_HDR || c == P_RX_BAD_HDR) {
			CHECK_EQ(st.bad_hdr, 1);
			CHECK(!virtio_user_ring_broken(vu, (uint16_t)ring));
		} else {
			CHECK_EQ(st.broken, 1);
			CHECK(virtio_user_ring_broken(vu, (uint16_t)ring));
		}
		if (check_failed)
			fprintf(stderr, "  (packed case %s)\n", packed_names[c]);
		/* The next back-end gets a fresh ring. */
		fake_close(&f);
		f.fd = fake_accept();
		CHECK_EQ(fake_serve(&f, GOOD, 0), 0);
		CHECK_EQ(virtio_user_wait_ready(vu, 5000), 0);
		{
			uint64_t end = now_ms() + 5000;

			while (virtio_user_ring_broken(vu, (uint16_t)ring) &&
			       now_ms() < end)
				usleep(1000);
		}
		CHECK(!virtio_user_ring_broken(vu, (uint16_t)ring));
		if (tx) {
			CHECK_EQ(vhost_pktbuf_alloc_bulk(pool, p, 1), 0);
			memset(vhost_pktbuf_append(p[0], 60), 0xcd, 60);
			CHECK_EQ(virtio_user_tx_burst(vu, 0, p, 1), 1);
			vhost_pktbuf_free(p[0]);
		}
		virtio_user_destroy(vu);
		fake_close(&f);
		CHECK_EQ(vhost_pktbuf_pool_avail(pool), vhost_pktbuf_pool_count(pool));
	}
	vhost_pktbuf_pool_destroy(pool);
}

/* Zero-copy receive: once the posted slots are consumed, rx_burst posts
 * pktbufs of its (registered) pool. A used length past a pktbuf's room
 * (but within a slot's: the check must be the posted length), or a used
 * index ahead, breaks the ring; the pktbufs posted are released when the
 * next back-end resets it, and none is freed twice. */
static void case_bad_used_rx_zc(void)
{
	enum { LEN_PAST, IDX_AHEAD, CASES };

	for (int c = 0; c < CASES; c++) {
		struct vhost_pktbuf_pool *pool;
		struct virtio_user *vu;
		struct fake f = { .fd = -1, .callfd = { -1, -1, -1, -1 } };
		struct virtio_user_queue_stats st;
		struct vhost_pktbuf *p[32];
		uint32_t got = 0;
		uint16_t head;

		zc_mode = true;
		pool = case_pool();
		vu = fe_new(1, 0);
		f.fd = fake_accept();
		CHECK_EQ(fake_serve(&f, GOOD, 0), 0);
		CHECK_EQ(virtio_user_wait_ready(vu, 5000), 0);
		/* The 256 slots posted at set-up: good 60-byte packets. */
		for (uint16_t k = 0; k < 256; k++) {
			struct virtio_net_hdr_mrg_rxbuf *h;

			head = avail_of(&f, 0)->ring[k];
			h = host(&f, desc_of(&f, 0)[head].addr);
			memset(h, 0, 72);
			h->num_buffers = 1;
			put_used(&f, 0, k, head, 72, (uint16_t)(k + 1));
		}
		for (int b = 0; b < 16 && got < 256; b++) {
			uint16_t n = virtio_user_rx_burst(vu, 0, pool, p, 32);

			got += n;
			vhost_pktbuf_free_bulk(p, n);
		}
		CHECK_EQ(got, 256);
		/* A burst refills before it reads: one more, finding
		 * nothing, posts the last ones. Now pktbufs are posted: 256
		 * of the pool's 1024 out. */
		CHECK_EQ(virtio_user_rx_burst(vu, 0, pool, p, 32), 0);
		CHECK_EQ(vhost_pktbuf_pool_avail(pool), 1024 - 256);
		head = avail_of(&f, 0)->ring[0];
		CHECK(desc_of(&f, 0)[head].addr < f.uva ||
		      desc_of(&f, 0)[head].addr >= f.uva + f.map_len);
		{
			/* A good header in the pktbuf's headroom (the fake
			 * maps only region 0, but shares our address space). */
			struct virtio_net_hdr_mrg_rxbuf *h = (void *)(uintptr_t)
				desc_of(&f, 0)[head].addr;

			memset(h, 0, sizeof(*h));
			h->num_buffers = 1;
		}
		if (c == LEN_PAST)
			put_used(&f, 0, 256, head, 12 + 2048 + 20, 257);
		else
			put_used(&f, 0, 256, head, 72, 256 + 300);
		CHECK_EQ(virtio_user_rx_burst(vu, 0, pool, p, 32), 0);
		CHECK_EQ(virtio_user_stats_get(vu, 0, &st), 0);
		CHECK_EQ(st.broken, 1);
		CHECK(virtio_user_ring_broken(vu, 0));
		/* The next back-end: the ring reset, the pktbufs released. */
		fake_close(&f);
		f.fd = fake_accept();
		CHECK_EQ(fake_serve(&f, GOOD, 0), 0);
		CHECK_EQ(virtio_user_wait_ready(vu, 5000), 0);
		{
			uint64_t end = now_ms() + 5000;

			while (virtio_user_ring_broken(vu, 0) && now_ms() < end)
				usleep(1000);
		}
		CHECK_EQ(vhost_pktbuf_pool_avail(pool), 1024);
		virtio_user_destroy(vu);
		fake_close(&f);
		CHECK_EQ(vhost_pktbuf_pool_avail(pool), 1024);
		vhost_pktbuf_pool_destroy(pool);
		zc_mode = false;
		zc_pool = NULL;
	}
}

/* Send n 60-byte packets on pair 0 (copied into slots). */
static void send_small(struct virtio_user *vu, struct vhost_pktbuf_pool *pool,
		       uint16_t n)
{
	struct vhost_pktbuf *p[8];

	CHECK_EQ(vhost_pktbuf_alloc_bulk(pool, p, n), 0);
	for (uint16_t k = 0; k < n; k++)
		memset(vhost_pktbuf_append(p[k], 60), 0x5c, 60);
	CHECK_EQ(virtio_user_tx_burst(vu, 0, p, n), n);
	vhost_pktbuf_free_bulk(p, n);
}

/* IN_ORDER (virtio 2.7.9). Transmit chains come back by count, their used
 * entries unread: a device may write only the last entry of a batch. A
 * receive entry naming another chain than the one posted at its position
 * breaks the ring. Descriptors, avail entries and used_event are written
 * only when they change, so a second lap of same-sized packets leaves them
 * as they were. A front-end whose buffers a back-end returned out of order
 * does not take IN_ORDER from the next one. */
static void case_in_order(void)
{
	struct vhost_pktbuf_pool *pool = case_pool();
	struct virtio_user *vu = fe_new(1, 0);
	struct fake f = { .fd = -1, .callfd = { -1, -1, -1, -1 } };
	struct virtio_user_queue_stats st;
	struct vring_used *u;
	struct vring_desc *d;
	uint16_t ui = 0, used_event;
	bool kept = true;

	be_extra = BIT(VIRTIO_F_IN_ORDER) | BIT(VIRTIO_RING_F_EVENT_IDX);
	f.fd = fake_accept();
	CHECK_EQ(fake_serve(&f, GOOD, 0), 0);
	CHECK_EQ(virtio_user_wait_ready(vu, 5000), 0);
	CHECK(virtio_user_features(vu) & BIT(VIRTIO_F_IN_ORDER));
	u = used_of(&f, 1);
	d = desc_of(&f, 1);
	used_event = 0;
	/* Two laps of the 256-entry ring, four packets a batch, each batch
	 * returned as one entry: the others hold junk ids. */
	for (int lap = 0; lap < 2; lap++) {
		if (lap == 1) {
			/* A field the back-end ignores (no NEXT flag): it
			 * stays as we leave it if nothing is written again. */
			for (int k = 0; k < 256; k++)
				d[k].next = 0x5a5a;
			used_event = avail_of(&f, 1)->ring[256];
		}
		for (int b = 0; b < 64; b++) {
			send_small(vu, pool, 4);
			for (int k = 0; k < 3; k++)
				u->ring[(ui + k) & 255].id = 0xdead;
			/* Ring order: avail entry i names descriptor i. */
			CHECK_EQ(avail_of(&f, 1)->ring[(ui + 3) & 255], (ui + 3) & 255);
			put_used(&f, 1, (uint16_t)(ui + 3), (ui + 3) & 255, 0,
				 (uint16_t)(ui + 4));
			ui = (uint16_t)(ui + 4);
		}
	}
	send_small(vu, pool, 1); /* reclaims the last batch */
	CHECK_EQ(virtio_user_stats_get(vu, VIRTIO_USER_TX(0), &st), 0);
	CHECK_EQ(st.packets, 513);
	CHECK_EQ(st.broken, 0);
	for (int k = 0; k < 256; k++)
		kept &= d[k].next == 0x5a5a;
	CHECK(kept);
	CHECK_EQ(avail_of(&f, 1)->ring[256], used_event);
	/* Receive: the entry at position 0 names the chain posted at 1. */
	put_used(&f, 0, 0, avail_of(&f, 0)->ring[1], 100, 1);
	{
		struct vhost_pktbuf *p[4];

		CHECK_EQ(virtio_user_rx_burst(vu, 0, pool, p, 4), 0);
	}
	CHECK(virtio_user_ring_broken(vu, VIRTIO_USER_RX(0)));
	virtio_user_destroy(vu);
	fake_close(&f);

	/* Out of order from a back-end without IN_ORDER, then one with. */
	be_extra = 0;
	vu = fe_new(1, 0);
	f.fd = fake_accept();
	CHECK_EQ(fake_serve(&f, GOOD, 0), 0);
	CHECK_EQ(virtio_user_wait_ready(vu, 5000), 0);
	CHECK(!(virtio_user_features(vu) & BIT(VIRTIO_F_IN_ORDER)));
	send_small(vu, pool, 2);
	put_used(&f, 1, 0, avail_of(&f, 1)->ring[1], 0, 1);
	put_used(&f, 1, 1, avail_of(&f, 1)->ring[0], 0, 2);
	send_small(vu, pool, 1);
	fake_close(&f);
	be_extra = BIT(VIRTIO_F_IN_ORDER);
	f.fd = fake_accept();
	CHECK_EQ(fake_serve(&f, GOOD, 0), 0);
	CHECK_EQ(virtio_user_wait_ready(vu, 5000), 0);
	CHECK(!(virtio_user_features(vu) & BIT(VIRTIO_F_IN_ORDER)));
	send_small(vu, pool, 1);
	CHECK_EQ(virtio_user_stats_get(vu, VIRTIO_USER_TX(0), &st), 0);
	CHECK_EQ(st.broken, 0);
	virtio_user_destroy(vu);
	fake_close(&f);
	be_extra = 0;
	CHECK_EQ(vhost_pktbuf_pool_avail(pool), vhost_pktbuf_pool_count(pool));
	vhost_pktbuf_pool_destroy(pool);
}

int main(void)
{
	int fds0 = fe_count_fds();

	snprintf(path, sizeof(path), "/tmp/test_vu_hostile.%d.sock", getpid());
	listen_fd = fake_listen();
	if (listen_fd < 0)
		return 1;
	vhost_log_set_level(VHOST_LOG_ERR);
	RUN(case_bad_replies);
	RUN(case_no_reconnect);
	RUN(case_destroy_stalled);
	RUN(case_bad_used);
	RUN(case_bad_used_packed);
	zc_mode = true;
	RUN(case_bad_used);
	RUN(case_bad_used_packed);
	zc_mode = false;
	RUN(case_bad_used_rx_zc);
	RUN(case_in_order);
	close(listen_fd);
	unlink(path);
	/* Every front-end, connection and eventfd closed. */
	CHECK_EQ(fe_count_fds(), fds0);
	return check_summary("vu_hostile");
}
