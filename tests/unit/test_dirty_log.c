/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dirty page logging for live migration, end to end in one process: the
 * test front-end (tests/lib/frontend.c) sets the device up as QEMU does at
 * the start of a migration (SET_LOG_BASE with a memfd, SET_FEATURES with
 * LOG_ALL, SET_VRING_ADDR with the LOG flag), plays the guest on the rings,
 * and runs bursts from the test thread.
 *
 * Around every burst the test compares guest memory with a snapshot: every
 * page that changed must have its bit in the log, and every bit set must be
 * a page the device was allowed to write (posted RX buffers, the used ring);
 * TX buffers are never logged. Also: RX buffers across page boundaries,
 * mergeable chains, avail_event, a buffer on the last page the log covers
 * and one past it (no write past the bitmap), SET_LOG_BASE re-sent mid-run,
 * logging off again (migration cancelled), malformed SET_LOG_BASE refused.
 * The checker is shown to fail when the library skips its log writes
 * (dirty_log_test_skip).
 */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vhost/pktbuf.h>
#include <vhost/vhost.h>

#include "check.h"
#include "dirty_log.h"
#include "frontend.h"
#include "memory.h"

#define WAIT_MS 5000
#define MEM_SIZE (4u << 20)
#define PAGE 4096u
#define F(b) (1ull << (b))
#define RXQ 0
#define TXQ 1
#define RING 64

static struct vhost_ctx *ctx;
static char sock_path[108];
static struct vhost_pktbuf_pool *pool;
static struct vhost_dev *_Atomic g_dev;
static _Atomic int n_new_dev, n_destroy_conn;

static int cb_new_device(struct vhost_dev *dev)
{
	atomic_store(&g_dev, dev);
	n_new_dev++;
	return 0;
}

static void cb_destroy_connection(struct vhost_dev *dev)
{
	(void)dev;
	n_destroy_conn++;
}

static const struct vhost_device_ops ops = {
	.new_device = cb_new_device,
	.destroy_connection = cb_destroy_connection,
};

static _Atomic int *wait_var;
static int wait_value;

static bool reached(void *arg)
{
	(void)arg;
	return atomic_load(wait_var) >= wait_value;
}

static bool wait_for(_Atomic int *v, int value)
{
	wait_var = v;
	wait_value = value;
	return fe_wait(reached, NULL, WAIT_MS) == 0;
}

/* ---------------------------------------------------------------- state */

static struct {
	struct fe fe;
	struct vhost_socket *s;
	struct vhost_dev *dev;
	uint16_t hdr;
	uint16_t nd[2];           /* next free descriptor per ring */
	int logfd;
	uint8_t *log;             /* our view of the bitmap (+ canary) */
	uint64_t log_size;
	uint8_t *snap;
	uint8_t *allowed;         /* per page of guest memory: may be written */
} T;

static uint64_t gpa(const void *p)
{
	return fe_gpa(&T.fe, p);
}

static uint64_t page_of(const void *p)
{
	return gpa(p) / PAGE;
}

/* Bytes of bitmap covering guest memory up to its end, plus one. */
static uint64_t log_bytes_needed(void)
{
	return (FE_GPA_BASE + MEM_SIZE) / PAGE / 8 + 1;
}

/* The migration's start: log base, LOG_ALL, rings logging. */
static bool start_logging(uint64_t log_size)
{
	T.log_size = log_size;
	if (fe_start_logging(&T.fe, log_size, &T.logfd, &T.log)) {
		CHECK(!"migration start (SET_LOG_BASE, LOG_ALL, LOG flag)");
		return false;
	}
	return true;
}

static bool setup(uint64_t features, uint64_t log_size)
{
	struct fe_opts o = {
		.features_mask = features,
		.ring_size = RING,
		.mem_size = MEM_SIZE,
	};

	memset(&T, 0, sizeof(T));
	T.logfd = -1;
	n_new_dev = n_destroy_conn = 0;
	CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &T.s), 0);
	CHECK_EQ(vhost_socket_set_ops(T.s, &ops, NULL), 0);
	CHECK_EQ(vhost_socket_start(T.s), 0);
	fe_init(&T.fe);
	CHECK_EQ(fe_connect(&T.fe, sock_path, WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&T.fe, &o), 0);
	if (!wait_for(&n_new_dev, 1)) {
		CHECK(!"new_device");
		return false;
	}
	T.dev = atomic_load(&g_dev);
	T.hdr = 12;
	T.snap = malloc(MEM_SIZE);
	T.allowed = calloc(MEM_SIZE / PAGE, 1);
	if (!T.snap || !T.allowed) {
		CHECK(!"out of memory");
		return false;
	}
	/* The used rings are the device's to write. */
	for (uint16_t q = 0; q < 2; q++) {
		struct fe_vring *vr = &T.fe.vr[q];
		uint64_t a = page_of(vr->used) - FE_GPA_BASE / PAGE;
		uint64_t b = page_of((uint8_t *)vr->used + 6 + 8 * RING) -
			     FE_GPA_BASE / PAGE;

		for (uint64_t p = a; p <= b; p++)
			T.allowed[p] = 1;
	}
	return start_logging(log_size);
}

static void teardown(void)
{
	fe_close(&T.fe);
	if (T.s) {
		CHECK(wait_for(&n_destroy_conn, 1));
		CHECK_EQ(vhost_socket_unregister(T.s), 0);
	}
	if (T.log)
		munmap(T.log, T.log_size + PAGE);
	if (T.logfd >= 0)
		close(T.logfd);
	free(T.snap);
	free(T.allowed);
	memset(&T, 0, sizeof(T));
}

/* ------------------------------------------------------- guest helpers */

/* A buffer of len bytes starting off bytes into a fresh page. */
static uint8_t *gbuf(uint32_t len, uint32_t off)
{
	uint8_t *p = fe_alloc(&T.fe, len + off + PAGE, PAGE);

	if (!p)
		abort();
	return p + off;
}

static void allow_range(const uint8_t *p, uint32_t len)
{
	for (uint64_t pg = page_of(p); pg <= page_of(p + len - 1); pg++)
		T.allowed[pg - FE_GPA_BASE / PAGE] = 1;
}

static uint16_t post(uint16_t q, uint8_t *const *bufs, const uint32_t *lens,
		     unsigned n, bool writable)
{
	struct fe_vring *vr = &T.fe.vr[q];
	uint16_t head = T.nd[q], idx = head;

	for (unsigned i = 0; i < n; i++) {
		struct vring_desc *d = &vr->desc[idx];
		uint16_t next = (uint16_t)((idx + 1) & (RING - 1));

		d->addr = gpa(bufs[i]);
		d->len = lens[i];
		d->flags = (uint16_t)((writable ? VRING_DESC_F_WRITE : 0) |
				      (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		d->next = next;
		if (writable)
			allow_range(bufs[i], lens[i]);
		idx = next;
	}
	T.nd[q] = idx;
	vr->avail->ring[vr->avail_idx & (RING - 1)] = head;
	vr->avail_idx++;
	atomic_store_explicit((_Atomic uint16_t *)&vr->avail->idx,
			      vr->avail_idx, memory_order_release);
	return head;
}

static struct vhost_pktbuf *mkpkt(uint32_t len)
{
	struct vhost_pktbuf *p = vhost_pktbuf_alloc(pool);

	if (!p)
		abort();
	for (uint32_t i = 0; i < len; i++)
		((uint8_t *)vhost_pktbuf_data(p))[i] = (uint8_t)(i * 13 + 7);
	p->data_len = (uint16_t)len;
	p->pkt_len = len;
	return p;
}

static bool bit(uint64_t page)
{
	return page / 8 < T.log_size && (T.log[page / 8] >> (page & 7)) & 1;
}

/* ----------------------------------------------------------- the checker */

/* Every changed page logged (unless past the log), every logged page one
 * the device was allowed to write; the canary after the log intact.
 * Returns the number of changed pages that were not logged. */
static unsigned check_log(int line)
{
	unsigned missing = 0, extra = 0;
	uint64_t base = FE_GPA_BASE / PAGE;

	for (uint64_t i = 0; i < MEM_SIZE / PAGE; i++) {
		bool changed = memcmp(T.snap + i * PAGE, T.fe.mem + i * PAGE,
				      PAGE) != 0;
		bool covered = (base + i) / 8 < T.log_size;

		if (changed && covered && !bit(base + i))
			missing++;
		if (bit(base + i) && !T.allowed[i])
			extra++;
	}
	for (uint32_t i = 0; i < PAGE; i++)
		if (T.log[T.log_size + i] != 0x5a) {
			fprintf(stderr, "  line %d: byte %u past the log written\n",
				line, i);
			CHECK(!"write past the log");
			break;
		}
	if (extra) {
		fprintf(stderr, "  line %d: %u pages logged the device may not write\n",
			line, extra);
		CHECK(!"logged a page the device did not write");
	}
	return missing;
}

static void snap(void)
{
	memcpy(T.snap, T.fe.mem, MEM_SIZE);
	memset(T.log, 0, T.log_size);
}

#define CHECK_LOGGED()                                                       \
	do {                                                                 \
		unsigned m_ = check_log(__LINE__);                           \
		if (m_)                                                      \
			fprintf(stderr, "  line %d: %u changed pages not logged\n", \
				__LINE__, m_);                               \
		CHECK_EQ(m_, 0);                                             \
	} while (0)

/* ----------------------------------------------------------------- cases */

static const uint64_t BASEF = F(VHOST_USER_F_PROTOCOL_FEATURES) |
			      F(VIRTIO_F_VERSION_1);

/* RX buffers across page boundaries, one packet per chain. */
static void rx_across_pages(void)
{
	struct vhost_pktbuf *pk[4];
	uint8_t *b[2];
	uint32_t l[2];

	if (!setup(BASEF, log_bytes_needed()))
		goto out;
	snap();
	for (int i = 0; i < 4; i++) {
		/* 1,000 bytes ending 100 bytes into the next page, then a
		 * second descriptor on another page. */
		b[0] = gbuf(1000, PAGE - 900);
		b[1] = gbuf(2000, 0);
		l[0] = 1000;
		l[1] = 2000;
		post(RXQ, b, l, 2, true);
		pk[i] = mkpkt(1400 + (uint32_t)i);
	}
	memcpy(T.snap, T.fe.mem, MEM_SIZE); /* descriptors are the guest's */
	CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, pk, 4), 4);
	CHECK_LOGGED();
	/* The first buffer's second page and the second buffer's page. */
	CHECK(bit(page_of(b[0] + 999)));
	CHECK(bit(page_of(b[1])));
	for (int i = 0; i < 4; i++)
		vhost_pktbuf_free(pk[i]);
out:
	teardown();
}

/* Mergeable: one packet over three small buffers; num_buffers is in the
 * first one, written last. */
static void rx_mergeable(void)
{
	struct vhost_pktbuf *pk;
	uint8_t *b[3];
	uint32_t l = 512;

	if (!setup(BASEF | F(VIRTIO_NET_F_MRG_RXBUF), log_bytes_needed()))
		goto out;
	for (int i = 0; i < 3; i++) {
		b[i] = gbuf(512, 0);
		post(RXQ, &b[i], &l, 1, true);
	}
	snap();
	pk = mkpkt(1300);
	CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, &pk, 1), 1);
	CHECK_LOGGED();
	for (int i = 0; i < 3; i++)
		CHECK(bit(page_of(b[i])));
	vhost_pktbuf_free(pk);
out:
	teardown();
}

/* TX buffers are read, never written: only the used ring is logged. */
static void tx_not_logged(void)
{
	struct vhost_pktbuf *got[4];
	uint8_t *b[4];
	uint32_t l = 200;
	uint16_t n;

	if (!setup(BASEF, log_bytes_needed()))
		goto out;
	for (int i = 0; i < 4; i++) {
		b[i] = gbuf(200, 0);
		memset(b[i], 0, 12);
		post(TXQ, &b[i], &l, 1, false);
	}
	snap();
	n = vhost_dequeue_burst(T.dev, TXQ, pool, got, 4);
	CHECK_EQ(n, 4);
	CHECK_LOGGED();
	for (int i = 0; i < 4; i++)
		CHECK(!bit(page_of(b[i])));
	CHECK(bit(page_of(&T.fe.vr[TXQ].used->idx)));
	for (uint16_t i = 0; i < n; i++)
		vhost_pktbuf_free(got[i]);
out:
	teardown();
}

/* EVENT_IDX: interrupt mode writes avail_event after the used entries. */
static void avail_event_logged(void)
{
	struct vring_used *u;
	uint64_t pg;

	if (!setup(BASEF | F(VIRTIO_RING_F_EVENT_IDX), log_bytes_needed()))
		goto out;
	u = T.fe.vr[TXQ].used;
	snap();
	CHECK_EQ(vhost_vring_enable_notify(T.dev, TXQ, true), 0);
	CHECK_LOGGED();
	pg = page_of(&u->ring[RING]);
	CHECK(bit(pg));
out:
	teardown();
}

/* A buffer on the last page the log covers is logged; one past the log is
 * written into the guest but has no bit, and nothing past the bitmap is
 * touched. */
static void log_edges(void)
{
	struct vhost_pktbuf *pk[2];
	uint8_t *b[2];
	uint32_t l = 1000;
	uint64_t last_covered;

	/* Bitmap bytes covering guest memory up to (and with) the page of a
	 * buffer allocated now, no further. */
	if (!setup(BASEF, log_bytes_needed()))
		goto out;
	b[0] = gbuf(1000, 0);
	b[1] = gbuf(1000, 0) + 8 * PAGE; /* at least one byte of bits later */
	last_covered = page_of(b[0]) | 7; /* end of b[0]'s bitmap byte */
	while (page_of(b[1]) <= last_covered)
		b[1] += PAGE;
	/* Re-send the log smaller: it ends with b[0]'s byte of bits. */
	munmap(T.log, T.log_size + PAGE);
	close(T.logfd);
	T.log_size = page_of(b[0]) / 8 + 1;
	CHECK_EQ(fe_log_create(T.log_size, &T.logfd, &T.log), 0);
	CHECK_EQ(fe_send_log_base(&T.fe, T.logfd, T.log_size, 0), 0);
	post(RXQ, &b[0], &l, 1, true);
	post(RXQ, &b[1], &l, 1, true);
	snap();
	pk[0] = mkpkt(500);
	pk[1] = mkpkt(500);
	CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, pk, 2), 2);
	CHECK_LOGGED(); /* includes the canary check past the bitmap */
	CHECK(bit(page_of(b[0])));
	CHECK(memcmp(T.snap + (b[1] - T.fe.mem), b[1], 500) != 0);
	vhost_pktbuf_free(pk[0]);
	vhost_pktbuf_free(pk[1]);
out:
	teardown();
}

/* SET_LOG_BASE again mid-run (QEMU does when memory grows): later writes
 * go to the new log, the old one is left alone. */
static void log_resent(void)
{
	struct vhost_pktbuf *pk;
	uint8_t *b, *old_log;
	uint32_t l = 1000;
	int old_fd;

	if (!setup(BASEF, log_bytes_needed()))
		goto out;
	old_log = T.log;
	old_fd = T.logfd;
	CHECK_EQ(fe_log_create(T.log_size, &T.logfd, &T.log), 0);
	CHECK_EQ(fe_send_log_base(&T.fe, T.logfd, T.log_size, 0), 0);
	memset(old_log, 0, T.log_size);
	b = gbuf(1000, 0);
	post(RXQ, &b, &l, 1, true);
	snap();
	pk = mkpkt(800);
	CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, &pk, 1), 1);
	CHECK_LOGGED();
	CHECK(bit(page_of(b)));
	for (uint64_t i = 0; i < T.log_size; i++)
		CHECK_EQ(old_log[i], 0);
	munmap(old_log, T.log_size + PAGE);
	close(old_fd);
	vhost_pktbuf_free(pk);
out:
	teardown();
}

/* Migration cancelled: LOG_ALL off again, no more bits. */
static void logging_off(void)
{
	struct vhost_pktbuf *pk;
	uint8_t *b;
	uint32_t l = 1000;

	if (!setup(BASEF, log_bytes_needed()))
		goto out;
	CHECK_EQ(fe_set_u64(&T.fe, VHOST_USER_SET_FEATURES, T.fe.features), 0);
	CHECK_EQ(fe_set_vring_log(&T.fe, RXQ, false), 0);
	b = gbuf(1000, 0);
	post(RXQ, &b, &l, 1, true);
	snap();
	pk = mkpkt(800);
	CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, &pk, 1), 1);
	for (uint64_t i = 0; i < T.log_size; i++)
		if (T.log[i])
			CHECK(!"bit set with logging off");
	vhost_pktbuf_free(pk);
out:
	teardown();
}

/* A front-end that shrinks the log file under us: the bits land on zero
 * pages (SIGBUS guard), the process lives and the queue keeps working. */
static void log_file_shrunk(void)
{
	struct vhost_pktbuf *pk;
	uint8_t *b;
	uint32_t l = 1000;
	uint64_t faults = mem_guard_faults();

	if (!setup(BASEF, log_bytes_needed()))
		goto out;
	munmap(T.log, T.log_size + PAGE);
	T.log = NULL;
	CHECK_EQ(ftruncate(T.logfd, 0), 0);
	for (int i = 0; i < 2; i++) {
		b = gbuf(1000, 0);
		post(RXQ, &b, &l, 1, true);
		pk = mkpkt(800);
		CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, &pk, 1), 1);
		vhost_pktbuf_free(pk);
	}
	CHECK(mem_guard_faults() > faults);
out:
	teardown();
}

/* The checker fails when the library skips its log writes. */
static void checker_can_fail(void)
{
	struct vhost_pktbuf *pk;
	uint8_t *b;
	uint32_t l = 1000;
	unsigned missing;

	if (!setup(BASEF, log_bytes_needed()))
		goto out;
	b = gbuf(1000, 0);
	post(RXQ, &b, &l, 1, true);
	snap();
	pk = mkpkt(800);
	dirty_log_test_skip = true;
	CHECK_EQ(vhost_enqueue_burst(T.dev, RXQ, &pk, 1), 1);
	dirty_log_test_skip = false;
	missing = check_log(__LINE__);
	CHECK(missing >= 1);
	vhost_pktbuf_free(pk);
out:
	teardown();
}

/* Malformed SET_LOG_BASE: the connection is closed, the process lives. */
static void bad_log_base(void)
{
	static const struct {
		uint64_t size, offset;
		unsigned nfds;
	} bad[] = {
		{ 0, 0, 1 },                          /* empty */
		{ 1ull << 40, 0, 1 },                 /* beyond the cap */
		{ 4096, UINT64_MAX - 100, 1 },        /* offset + size wraps */
		{ 1ull << 20, 0, 1 },                 /* beyond the file */
		{ 4096, 0, 0 },                       /* no fd */
		{ 4096, 0, 2 },                       /* two fds */
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vhost_user_log lg = { bad[i].size, bad[i].offset };
		struct vhost_msg reply;
		uint8_t *view;
		int fd, fds[2], ret, before = fe_count_fds();

		if (!setup(BASEF, log_bytes_needed()))
			goto next;
		CHECK_EQ(fe_log_create(4096, &fd, &view), 0);
		fds[0] = fds[1] = fd;
		CHECK_EQ(fe_send(&T.fe, VHOST_USER_SET_LOG_BASE, 0, &lg,
				 sizeof(lg), fds, bad[i].nfds), 0);
		ret = fe_recv(&T.fe, &reply, WAIT_MS);
		CHECK(ret != 0); /* no reply: the connection is closed */
		CHECK(wait_for(&n_destroy_conn, 1));
		munmap(view, 4096 + PAGE);
		close(fd);
		(void)before;
next:
		teardown();
	}
}

int main(void)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/test-dirty-log.%d.sock",
		 (int)getpid());
	ctx = vhost_ctx_create(NULL);
	pool = vhost_pktbuf_pool_create("dirtylog", 256, 2048, 0);
	if (!ctx || !pool)
		return 1;
	RUN(rx_across_pages);
	RUN(rx_mergeable);
	RUN(tx_not_logged);
	RUN(avail_event_logged);
	RUN(log_edges);
	RUN(log_resent);
	RUN(logging_off);
	RUN(log_file_shrunk);
	RUN(checker_can_fail);
	RUN(bad_log_base);
	vhost_pktbuf_pool_destroy(pool);
	vhost_ctx_destroy(ctx);
	return check_summary("dirty_log");
}
