/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hostile front-end suite: a malicious "QEMU" attacking a real back-end
 * process (apps/vhost-fwd in mac mode) from outside, over its UNIX socket,
 * with the classes of input that broke real vhost-user back-ends (DPDK and
 * QEMU CVEs). One test per class; after each:
 *
 *   1. the back-end process is alive (waitpid WNOHANG) and its stderr holds
 *      no sanitizer report;
 *   2. it serves a fresh connection: full handshake, then a packet posted on
 *      the TX queue comes back on the RX queue with its MACs swapped;
 *   3. its open fd count (/proc/PID/fd) is back to the baseline once the
 *      hostile connections are closed;
 *   4. data-path tests: it wrote nothing outside the buffers the guest
 *      posted as device-writable and the used rings. All guest memory is
 *      filled with a pattern; every guest write goes to a shadow copy too,
 *      and after the back-end let go of the memory the two must match
 *      everywhere else.
 *
 * Usage: test_hostile PATH-TO-vhost-fwd [class-name-substring]
 * Prints "ok   <class>" or "FAIL <class>: reason" per class; details of every
 * failure go to stderr. Exit status 1 on any failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frontend.h"

#define F(b) (1ull << (b))
#define PF(x) (1ull << VHOST_USER_PROTOCOL_F_##x)
#define WAIT_MS 3000
#define FD_WAIT_MS 5000
#define PAT 0xa5
#define RXQ 0
#define TXQ 1
#define RXBUF 2048u
#define GMEM (2u << 20)

typedef struct virtio_net_hdr_mrg_rxbuf nethdr;

/* ------------------------------------------------------------- reporting */

static const char *cls = "-";
static int cls_fails, total_fails;
static char cls_reason[512];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "    [%s] %s\n", cls, buf);
	fflush(stderr);
	if (!cls_fails) {
		memcpy(cls_reason, buf, sizeof(cls_reason) - 1);
		cls_reason[sizeof(cls_reason) - 1] = 0;
	}
	cls_fails++;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	usleep(ms * 1000u);
}

/* ------------------------------------------------------ back-end process */

static const char *fwd_bin;
static char sock_path[108], err_path[128], out_path[128];
static volatile pid_t be_pid = -1;
static int base_fds;
static char base_links[256][96];
static int base_nlinks;
static long err_off; /* stderr scanned up to here */
static int be_starts;

static void be_kill_now(void)
{
	pid_t p = be_pid;

	if (p > 0) {
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
	}
	be_pid = -1;
}

static void at_exit(void)
{
	be_kill_now();
	unlink(sock_path);
}

static void on_fatal(int sig)
{
	pid_t p = be_pid;

	if (p > 0)
		kill(p, SIGKILL);
	unlink(sock_path);
	if (sig == SIGALRM) {
		static const char m[] = "FAIL watchdog: suite took too long\n";

		if (write(1, m, sizeof(m) - 1) < 0)
			_exit(3);
		_exit(2);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Entries of /proc/PID/fd, optionally with their link targets. */
static int be_fd_list(char (*links)[96], int max)
{
	char dir[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)be_pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char p[64], t[64];
		ssize_t k;

		if (e->d_name[0] == '.')
			continue;
		if (links && n < max) {
			snprintf(p, sizeof(p), "%.24s/%.32s", dir, e->d_name);
			k = readlink(p, t, sizeof(t) - 1);
			t[k < 0 ? 0 : k] = 0;
			snprintf(links[n], 96, "%.16s->%.63s", e->d_name, t);
		}
		n++;
	}
	closedir(d);
	return n;
}

static int be_nfds(void)
{
	return be_fd_list(NULL, 0);
}

/* Lines of /proc/PID/maps that name `what` (mappings of a memfd). */
static int be_nmaps(const char *what)
{
	char path[64], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)be_pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* The fds that are not in the baseline (for leak reports). */
static void be_fd_extras(char *out, size_t len)
{
	static char now[512][96];
	int n = be_fd_list(now, 512);
	size_t o = 0;

	out[0] = 0;
	for (int i = 0; i < n && i < 512 && o + 100 < len; i++) {
		bool known = false;

		for (int j = 0; j < base_nlinks && !known; j++)
			known = !strcmp(now[i], base_links[j]);
		if (!known)
			o += (size_t)snprintf(out + o, len - o, " %s", now[i]);
	}
}

static bool be_alive(void)
{
	int st;
	pid_t r;

	if (be_pid <= 0)
		return false;
	r = waitpid(be_pid, &st, WNOHANG);
	if (r == 0)
		return true;
	if (r == be_pid) {
		if (WIFSIGNALED(st))
			fail("back-end died of signal %d", WTERMSIG(st));
		else
			fail("back-end exited with status %d", WEXITSTATUS(st));
	} else {
		fail("back-end vanished (waitpid: %s)", strerror(errno));
	}
	be_pid = -1;
	return false;
}

/* Wait until the back-end has `want` fds open; false (count in *got) if
 * it does not get there within ms. */
static bool be_wait_fds(int want, int ms, int *got)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	int n;

	for (;;) {
		n = be_nfds();
		if (n == want || now_ms() >= end)
			break;
		sleep_ms(5);
	}
	if (got)
		*got = n;
	return n == want;
}

/* New sanitizer reports in the back-end's stderr. */
static void be_scan_stderr(void)
{
	static const char *const marks[] = {
		"AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
		"ThreadSanitizer", "runtime error:", "MemorySanitizer",
	};
	FILE *f = fopen(err_path, "r");
	char line[512];
	int shown = 0;

	if (!f)
		return;
	if (fseek(f, err_off, SEEK_SET) == 0) {
		while (fgets(line, sizeof(line), f)) {
			for (unsigned i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
				if (strstr(line, marks[i])) {
					line[strcspn(line, "\n")] = 0;
					if (shown++ < 3)
						fail("sanitizer report in back-end stderr: %s",
						     line);
					break;
				}
			}
		}
		err_off = ftell(f);
	}
	fclose(f);
}

static bool roundtrip(char *why, size_t n);

static void be_start(void)
{
	pid_t parent = getpid();
	pid_t p;
	int r;
	struct fe probe;
	char why[256];

	be_kill_now();
	unlink(sock_path);
	base_fds = 0;
	base_nlinks = 0;
	p = fork();
	if (p < 0) {
		perror("fork");
		exit(2);
	}
	if (p == 0) {
		int e = open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int o = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		if (e >= 0)
			dup2(e, 2);
		if (o >= 0)
			dup2(o, 1);
		if (e > 2)
			close(e);
		if (o > 2)
			close(o);
		execl(fwd_bin, "vhost-fwd", "--socket", sock_path, "--mode", "mac",
		      "--json", (char *)NULL);
		_exit(127);
	}
	be_pid = p;
	be_starts++;
	fe_init(&probe);
	r = fe_connect(&probe, sock_path, 10000);
	if (r) {
		fprintf(stderr, "back-end did not come up on %s: %s\n", sock_path,
			strerror(-r));
		printf("FAIL setup: back-end %s did not start\n", fwd_bin);
		exit(1);
	}
	fe_close(&probe);
	/* Settle: the probe connection goes away, then the warm-up trip. */
	sleep_ms(100);
	if (!roundtrip(why, sizeof(why)))
		fprintf(stderr, "warm-up round trip failed: %s\n", why);
	{
		int last = -1, same = 0;
		uint64_t end = now_ms() + 3000;

		while (same < 3 && now_ms() < end) {
			int n = be_nfds();

			same = n == last ? same + 1 : 0;
			last = n;
			sleep_ms(50);
		}
		base_fds = last;
	}
	base_nlinks = be_fd_list(base_links, 256);
	if (base_nlinks > 256)
		base_nlinks = 256;
}

/* --------------------------------------------------------- misc helpers */

static int mk_eventfd(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static int mk_memfd(uint64_t size)
{
	int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd >= 0 && ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* raw bytes with fds: tests/lib/frontend.c */
static ssize_t send_raw(int fd, const void *buf, size_t len, const int *fds,
			unsigned nfds)
{
	return fe_send_raw(fd, buf, len, fds, nfds, MSG_DONTWAIT);
}

/* ------------------------------------------------------------- outcomes */

enum outcome { O_ERR_ACK, O_OK_ACK, O_REPLY, O_CLOSED, O_HANG, O_ODD };
static const char *const oname[] = { "error ack", "success ack", "reply",
				     "closed", "no answer (hang)", "odd message" };

static bool explicit_reply(uint32_t req)
{
	switch (req) {
	case VHOST_USER_GET_FEATURES:
	case VHOST_USER_GET_PROTOCOL_FEATURES:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_GET_QUEUE_NUM:
	case VHOST_USER_SET_LOG_BASE:
	case VHOST_USER_GET_CONFIG:
	case VHOST_USER_CREATE_CRYPTO_SESSION:
	case VHOST_USER_POSTCOPY_ADVISE:
	case VHOST_USER_POSTCOPY_END:
	case VHOST_USER_GET_INFLIGHT_FD:
	case VHOST_USER_GET_MAX_MEM_SLOTS:
	case VHOST_USER_GET_STATUS:
		return true;
	}
	return false;
}

static enum outcome read_outcome(struct fe *fe, uint32_t req)
{
	struct vhost_msg m;
	int r = fe_recv(fe, &m, WAIT_MS);

	if (r == -ETIMEDOUT)
		return O_HANG;
	if (r < 0)
		return O_CLOSED;
	msg_close_fds(&m);
	if (!(m.hdr.flags & VHOST_USER_REPLY_MASK) || m.hdr.request != req)
		return O_ODD;
	if (explicit_reply(req))
		return O_REPLY;
	if (m.hdr.size != sizeof(uint64_t))
		return O_ODD;
	return m.payload.u64 ? O_ERR_ACK : O_OK_ACK;
}

/* Without an ack: a GET_FEATURES probe tells whether the connection lives
 * (the message was taken: O_OK_ACK). */
static enum outcome probe(struct fe *fe)
{
	struct vhost_msg m;
	int r;

	if (fe_send(fe, VHOST_USER_GET_FEATURES, 0, NULL, 0, NULL, 0))
		return O_CLOSED;
	r = fe_recv(fe, &m, WAIT_MS);
	if (r == -ETIMEDOUT)
		return O_HANG;
	if (r < 0)
		return O_CLOSED;
	msg_close_fds(&m);
	if ((m.hdr.flags & VHOST_USER_REPLY_MASK) &&
	    m.hdr.request == VHOST_USER_GET_FEATURES && m.hdr.size == 8)
		return O_OK_ACK;
	return O_ODD;
}

static bool has_ack(const struct fe *fe)
{
	return fe->protocol_features & PF(REPLY_ACK);
}

/* Send one request (asking for an ack when possible) and classify what
 * the back-end did with it. */
static enum outcome send_req(struct fe *fe, uint32_t req, uint32_t flags,
			     const void *p, uint32_t size, const int *fds,
			     unsigned nfds)
{
	bool acked = has_ack(fe) && !explicit_reply(req) &&
		     !(flags & VHOST_USER_REPLY_MASK);

	if (fe->fd < 0)
		return O_CLOSED;
	if (acked)
		flags |= VHOST_USER_NEED_REPLY_MASK;
	if (fe_send(fe, req, flags, p, size, fds, nfds))
		return O_CLOSED;
	if (acked || explicit_reply(req))
		return read_outcome(fe, req);
	return probe(fe);
}

enum expect { REFUSE, TOLERATE, ACCEPT };

/* Hostile connection that reopens itself after the back-end closed it,
 * or (ext) a guest's connection that is not reopened. */
enum { HC_PROTO = 1, HC_FEAT = 2, HC_MEM = 4 };

struct hconn {
	struct fe own;
	struct fe *fe;      /* &own, or the guest's */
	bool ext;
	uint64_t pf_mask;   /* protocol features wanted, of those offered */
	unsigned flags;
	bool open;
	uint64_t offered_pf, offered_f;
};

static void hc_close(struct hconn *h)
{
	if (h->open && h->ext) {
		close(h->fe->fd);
		h->fe->fd = -1;
	} else if (h->open) {
		fe_close(h->fe);
	}
	h->open = false;
}

static bool hc_open(struct hconn *h)
{
	struct fe *fe = &h->own;
	uint64_t f = 0, pf = 0;
	int r;

	if (h->ext || be_pid <= 0)
		return false;
	hc_close(h);
	h->fe = fe;
	fe_init(fe);
	r = fe_connect(fe, sock_path, WAIT_MS);
	if (!r)
		r = fe_get_u64(fe, VHOST_USER_GET_FEATURES, &f);
	h->offered_f = f;
	f &= ~(1ull << VIRTIO_F_RING_PACKED); /* the rings here are split */
	fe->features = f;
	if (!r && (h->flags & HC_PROTO)) {
		r = fe_get_u64(fe, VHOST_USER_GET_PROTOCOL_FEATURES, &pf);
		h->offered_pf = pf;
		if (!r)
			r = fe_set_u64(fe, VHOST_USER_SET_PROTOCOL_FEATURES,
				       pf & h->pf_mask);
		fe->protocol_features = pf & h->pf_mask;
	}
	if (!r)
		r = fe_request(fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	if (!r && (h->flags & HC_FEAT))
		r = fe_set_u64(fe, VHOST_USER_SET_FEATURES, f);
	if (!r && (h->flags & HC_MEM)) {
		r = fe_mem_init(fe, GMEM);
		if (!r)
			r = fe_set_mem_table(fe);
	}
	if (r) {
		fail("opening a hostile connection: %s", strerror(-r));
		fe_close(fe);
		return false;
	}
	h->open = true;
	return true;
}

/* After a request went unanswered: is the back-end still serving? If it
 * is hung (or dead), say so and kill it, so that the rest of the class
 * ends quickly; class_end() starts a new one. */
static void be_check_responsive(void)
{
	struct fe fe;
	uint64_t f;
	bool ok;

	if (!be_alive())
		return;
	fe_init(&fe);
	ok = fe_connect(&fe, sock_path, 2000) == 0 &&
	     fe_get_u64(&fe, VHOST_USER_GET_FEATURES, &f) == 0;
	fe_close(&fe);
	if (!ok && be_alive()) {
		fail("back-end stopped answering on a fresh connection (hung); killed");
		be_kill_now();
	}
}

static enum outcome hc_expect(struct hconn *h, enum expect e, const char *what,
			      uint32_t req, const void *p, uint32_t size,
			      const int *fds, unsigned nfds)
{
	enum outcome o;

	if (be_pid <= 0)
		return O_CLOSED;

	if (!h->open && !hc_open(h))
		return O_CLOSED;
	o = send_req(h->fe, req, 0, p, size, fds, nfds);
	switch (e) {
	case REFUSE:
		if (o != O_ERR_ACK && o != O_CLOSED)
			fail("%s: not refused (%s)", what, oname[o]);
		break;
	case TOLERATE:
		if (o == O_HANG || o == O_ODD)
			fail("%s: %s", what, oname[o]);
		break;
	case ACCEPT:
		if (o != O_OK_ACK && o != O_REPLY)
			fail("%s: valid request not accepted (%s)", what, oname[o]);
		break;
	}
	if (o == O_CLOSED || o == O_HANG || o == O_ODD)
		hc_close(h);
	if (o == O_HANG || o == O_CLOSED)
		be_check_responsive();
	return o;
}

/* ---------------------------------------------------------------- guest */

/*
 * A guest driver on a fully set-up connection. Every write the guest makes
 * to its memory goes through gw(), which mirrors it into a shadow copy; the
 * back-end may only change the ranges in allow[] (used rings and buffers
 * posted device-writable).
 */
struct range {
	uint64_t off, len;
};

struct guest {
	struct fe fe;
	bool up;
	uint8_t *shadow;
	pthread_mutex_t lock;
	struct range *allow;
	unsigned nallow, allow_cap;
	uint64_t next;             /* bump allocator */
	uint16_t next_desc[2];
	uint16_t *pending[2];      /* per avail entry value: posted, not used */
	uint32_t *rxcap;           /* RX head -> bytes posted */
	uint8_t **rxaddr;          /* RX head -> buffer (single-desc chains) */
	uint16_t used_seen[2];
	uint32_t hdr_len;
	unsigned rx_match, rx_other, tx_done;
	bool bad_used;             /* a used-ring violation was reported */
};

static void *g_at(struct guest *g, uint64_t off)
{
	return g->fe.mem + off;
}

static uint64_t g_off(struct guest *g, const void *p)
{
	return (uint64_t)((const uint8_t *)p - g->fe.mem);
}

static uint64_t g_gpa(struct guest *g, const void *p)
{
	return fe_gpa(&g->fe, p);
}

static uint64_t g_gpa_end(struct guest *g)
{
	return FE_GPA_BASE + g->fe.mem_size;
}

static void gw(struct guest *g, void *dst, const void *src, size_t n)
{
	uint64_t off = g_off(g, dst);

	if (off > g->fe.mem_size || n > g->fe.mem_size - off) {
		fprintf(stderr, "test bug: guest write outside memory\n");
		abort();
	}
	pthread_mutex_lock(&g->lock);
	memcpy(dst, src, n);
	memcpy(g->shadow + off, src, n);
	pthread_mutex_unlock(&g->lock);
}

static void gw16(struct guest *g, uint16_t *dst, uint16_t v)
{
	pthread_mutex_lock(&g->lock);
	__atomic_store_n(dst, v, __ATOMIC_RELEASE);
	memcpy(g->shadow + g_off(g, dst), &v, 2);
	pthread_mutex_unlock(&g->lock);
}

static void g_allow(struct guest *g, const void *p, uint64_t len)
{
	uint64_t off = g_off(g, p);

	if (off >= g->fe.mem_size)
		return;
	if (len > g->fe.mem_size - off)
		len = g->fe.mem_size - off;
	if (g->nallow == g->allow_cap) {
		g->allow_cap = g->allow_cap ? 2 * g->allow_cap : 64;
		g->allow = realloc(g->allow, g->allow_cap * sizeof(*g->allow));
		if (!g->allow)
			abort();
	}
	g->allow[g->nallow++] = (struct range){ off, len };
}

static void *g_alloc(struct guest *g, uint64_t len, uint64_t align)
{
	uint64_t off = (g->next + align - 1) & ~(align - 1);

	if (off + len > g->fe.mem_size) {
		fprintf(stderr, "test bug: guest memory exhausted\n");
		abort();
	}
	g->next = off + len;
	return g->fe.mem + off;
}

static void g_free(struct guest *g)
{
	fe_close(&g->fe);
	free(g->shadow);
	free(g->allow);
	free(g->pending[0]);
	free(g->pending[1]);
	free(g->rxcap);
	free(g->rxaddr);
	pthread_mutex_destroy(&g->lock);
	memset(g, 0, sizeof(*g));
	g->fe.fd = -1;
}

static void g_close_sock(struct guest *g)
{
	if (g->fe.fd >= 0)
		close(g->fe.fd);
	g->fe.fd = -1;
}

/* Connect, full handshake (o may be NULL), then pattern-fill the memory
 * the rings do not use and take the shadow. */
static bool g_open(struct guest *g, const struct fe_opts *o, char *why, size_t n)
{
	struct fe_opts def = { .mem_size = GMEM };
	int r;

	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	fe_init(&g->fe);
	if (!o)
		o = &def;
	if (be_pid <= 0) {
		snprintf(why, n, "back-end is gone");
		return false;
	}
	r = fe_connect(&g->fe, sock_path, WAIT_MS);
	if (!r)
		r = fe_handshake(&g->fe, o);
	if (r) {
		snprintf(why, n, "handshake: %s", strerror(-r));
		return false;
	}
	g->up = true;
	g->hdr_len = (g->fe.features & (F(VIRTIO_F_VERSION_1) |
					F(VIRTIO_NET_F_MRG_RXBUF))) ? 12 : 10;
	g->next = (g->fe.mem_next + 4095) & ~4095ull;
	memset(g->fe.mem + g->next, PAT, g->fe.mem_size - g->next);
	g->shadow = malloc(g->fe.mem_size);
	g->pending[0] = calloc(65536, sizeof(uint16_t));
	g->pending[1] = calloc(65536, sizeof(uint16_t));
	g->rxcap = calloc(65536, sizeof(uint32_t));
	g->rxaddr = calloc(65536, sizeof(uint8_t *));
	if (!g->shadow || !g->pending[0] || !g->pending[1] || !g->rxcap ||
	    !g->rxaddr)
		abort();
	memcpy(g->shadow, g->fe.mem, g->fe.mem_size);
	for (uint16_t q = 0; q < g->fe.nvrings; q++)
		g_allow(g, g->fe.vr[q].used, 6 + 8ull * g->fe.vr[q].size);
	return true;
}

static uint16_t g_new_desc(struct guest *g, uint16_t q)
{
	uint16_t i = g->next_desc[q];

	g->next_desc[q] = (uint16_t)((i + 1) % g->fe.vr[q].size);
	return i;
}

static void g_desc_at(struct guest *g, struct vring_desc *d, uint64_t addr,
		      uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc v = { .addr = addr, .len = len, .flags = flags,
				.next = next };

	gw(g, d, &v, sizeof(v));
}

static void g_desc(struct guest *g, uint16_t q, uint16_t i, uint64_t addr,
		   uint32_t len, uint16_t flags, uint16_t next)
{
	g_desc_at(g, &g->fe.vr[q].desc[i], addr, len, flags, next);
}

static void g_avail(struct guest *g, uint16_t q, uint16_t head)
{
	struct fe_vring *vr = &g->fe.vr[q];

	gw(g, &vr->avail->ring[vr->avail_idx % vr->size], &head, 2);
	vr->avail_idx++;
	g->pending[q][head]++;
}

static void g_publish(struct guest *g, uint16_t q)
{
	struct fe_vring *vr = &g->fe.vr[q];

	atomic_thread_fence(memory_order_release);
	gw16(g, &vr->avail->idx, vr->avail_idx);
}

static uint16_t g_used_idx(struct guest *g, uint16_t q)
{
	return __atomic_load_n(&g->fe.vr[q].used->idx, __ATOMIC_ACQUIRE);
}

/* RX buffer of len bytes (device-writable), made available. */
static uint16_t rx_post(struct guest *g, uint32_t len)
{
	uint8_t *b = g_alloc(g, len, 64);
	uint16_t d = g_new_desc(g, RXQ);

	g_desc(g, RXQ, d, g_gpa(g, b), len, VRING_DESC_F_WRITE, 0);
	g_allow(g, b, len);
	g->rxcap[d] = len;
	g->rxaddr[d] = b;
	g_avail(g, RXQ, d);
	return d;
}

static void mkframe(uint8_t *f, uint32_t len, unsigned seed)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	for (uint32_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seed * 37u + i * 11u + 5u);
}

/* TX chain carrying hdr (hdr_len bytes) + frame, cut into pieces of the
 * given sizes (the last piece takes the rest); no cuts: header and frame
 * in one descriptor each. */
static uint16_t tx_post(struct guest *g, const void *hdr, const uint8_t *frame,
			uint32_t flen, const uint32_t *cuts, unsigned ncuts)
{
	uint8_t all[4096 + 16];
	uint32_t total = g->hdr_len + flen, pos = 0;
	uint32_t two[2] = { g->hdr_len, flen };
	uint16_t head = 0, prev = 0;
	unsigned k = 0;

	memcpy(all, hdr, g->hdr_len);
	memcpy(all + g->hdr_len, frame, flen);
	if (!ncuts) {
		cuts = two;
		ncuts = 2;
	}
	while (pos < total) {
		uint32_t len = k < ncuts - 1 ? cuts[k] : total - pos;
		uint8_t *b;
		uint16_t d;

		if (len > total - pos)
			len = total - pos;
		b = g_alloc(g, len ? len : 1, 8);
		d = g_new_desc(g, TXQ);
		gw(g, b, all + pos, len);
		g_desc(g, TXQ, d, g_gpa(g, b), len, 0, 0);
		if (k == 0) {
			head = d;
		} else {
			struct vring_desc *pd = &g->fe.vr[TXQ].desc[prev];

			g_desc_at(g, pd, pd->addr, pd->len, VRING_DESC_F_NEXT, d);
		}
		prev = d;
		pos += len;
		k++;
	}
	g_avail(g, TXQ, head);
	return head;
}

/* Read new used entries of q; check each against what was posted. For RX,
 * entries with data are matched against the expected frame (MACs
 * swapped); *got_hdr receives the header of a match. */
static void g_reap(struct guest *g, uint16_t q, const uint8_t *frame,
		   uint32_t flen, nethdr *got_hdr)
{
	struct fe_vring *vr = &g->fe.vr[q];
	uint16_t idx = g_used_idx(g, q);

	while (g->used_seen[q] != idx) {
		struct vring_used_elem e = vr->used->ring[g->used_seen[q] % vr->size];

		g->used_seen[q]++;
		if (e.id > 0xffff || !g->pending[q][e.id]) {
			if (!g->bad_used)
				fail("vring %u: used entry id %u was never made available (or returned twice)",
				     q, e.id);
			g->bad_used = true;
			continue;
		}
		g->pending[q][e.id]--;
		if (q == TXQ) {
			g->tx_done++;
			continue;
		}
		if (e.len > g->rxcap[e.id]) {
			if (!g->bad_used)
				fail("RX used entry %u: len %u > %u bytes posted",
				     e.id, e.len, g->rxcap[e.id]);
			g->bad_used = true;
			continue;
		}
		if (!e.len)
			continue;
		if (frame && g->rxaddr[e.id] && e.len == g->hdr_len + flen) {
			const uint8_t *b = g->rxaddr[e.id];
			uint8_t want[4096];

			memcpy(want, frame, flen);
			memcpy(want, frame + 6, 6);
			memcpy(want + 6, frame, 6);
			if (!memcmp(b + g->hdr_len, want, flen)) {
				if (got_hdr)
					memcpy(got_hdr, b, g->hdr_len);
				g->rx_match++;
				continue;
			}
		}
		g->rx_other++;
	}
}

/* Wait until a frame matching `frame` came back (true), or ms passed. */
static bool g_wait_rx(struct guest *g, const uint8_t *frame, uint32_t flen,
		      int ms, nethdr *got_hdr)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	unsigned before = g->rx_match;

	for (;;) {
		g_reap(g, TXQ, NULL, 0, NULL);
		g_reap(g, RXQ, frame, flen, got_hdr);
		if (g->rx_match != before)
			return true;
		if (now_ms() >= end)
			return false;
		usleep(500);
	}
}

/* Wait until the used index of q stops moving (the back-end is done). */
static void g_settle(struct guest *g, int quiet_ms)
{
	uint16_t a = g_used_idx(g, RXQ), b = g_used_idx(g, TXQ);
	uint64_t since = now_ms(), end = since + 3000;

	while (now_ms() < end && now_ms() - since < (uint64_t)quiet_ms) {
		uint16_t a2, b2;

		usleep(2000);
		a2 = g_used_idx(g, RXQ);
		b2 = g_used_idx(g, TXQ);
		if (a2 != a || b2 != b) {
			a = a2;
			b = b2;
			since = now_ms();
		}
	}
	g_reap(g, TXQ, NULL, 0, NULL);
	g_reap(g, RXQ, NULL, 0, NULL);
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Where an offset of guest memory is, for reports. */
static const char *g_where(struct guest *g, uint64_t off)
{
	static char buf[64];

	for (uint16_t q = 0; q < g->fe.nvrings; q++) {
		struct fe_vring *vr = &g->fe.vr[q];
		uint64_t d = g_off(g, vr->desc), a = g_off(g, vr->avail);

		if (off >= d && off < d + 16ull * vr->size) {
			snprintf(buf, sizeof(buf), "desc table of vring %u", q);
			return buf;
		}
		if (off >= a && off < a + 6 + 2ull * vr->size) {
			snprintf(buf, sizeof(buf), "avail ring of vring %u", q);
			return buf;
		}
	}
	return off >= g->next ? "never-used guest memory" :
	       "guest data (not posted device-writable)";
}

/* Every byte outside allow[] as the guest left it. */
static bool g_check_mem(struct guest *g, char *why, size_t n)
{
	uint64_t pos = 0, size = g->fe.mem_size;
	unsigned i = 0;

	qsort(g->allow, g->nallow, sizeof(*g->allow), cmp_range);
	while (pos < size) {
		uint64_t end = size;

		for (; i < g->nallow && g->allow[i].off + g->allow[i].len <= pos; i++)
			;
		if (i < g->nallow && g->allow[i].off <= pos) {
			pos = g->allow[i].off + g->allow[i].len;
			continue;
		}
		if (i < g->nallow)
			end = g->allow[i].off;
		if (memcmp(g->fe.mem + pos, g->shadow + pos, end - pos)) {
			uint64_t o = pos, cnt = 0;

			while (g->fe.mem[o] == g->shadow[o])
				o++;
			for (uint64_t k = o; k < end; k++)
				cnt += g->fe.mem[k] != g->shadow[k];
			snprintf(why, n,
				 "back-end wrote guest memory it was not given: gpa 0x%llx (%s), %llu byte(s) differ in [0x%llx, 0x%llx), first 0x%02x, was 0x%02x",
				 (unsigned long long)(FE_GPA_BASE + o), g_where(g, o),
				 (unsigned long long)cnt,
				 (unsigned long long)(FE_GPA_BASE + pos),
				 (unsigned long long)(FE_GPA_BASE + end),
				 g->fe.mem[o], g->shadow[o]);
			return false;
		}
		pos = end;
	}
	return true;
}

/* Close the guest's socket, wait for the back-end to let go of it, and
 * check guest memory; then free everything. */
static void g_finish(struct guest *g, const char *what)
{
	char why[512];
	int got;

	if (!g->up) {
		g_free(g);
		return;
	}
	g_close_sock(g);
	if (be_pid > 0 && !be_wait_fds(base_fds, FD_WAIT_MS, &got)) {
		char extra[400];

		be_fd_extras(extra, sizeof(extra));
		fail("%s: back-end has %d fds after the connection closed, %d before:%s",
		     what, got, base_fds, extra);
	}
	if (!g_check_mem(g, why, sizeof(why)))
		fail("%s: %s", what, why);
	g_free(g);
}

/* Post RX room and one packet, and wait for it to come back. */
static bool g_roundtrip(struct guest *g, unsigned seed, char *why, size_t n)
{
	uint8_t frame[64];
	nethdr h0 = { 0 }, got;

	mkframe(frame, sizeof(frame), seed);
	rx_post(g, RXBUF);
	rx_post(g, RXBUF);
	g_publish(g, RXQ);
	tx_post(g, &h0, frame, sizeof(frame), NULL, 0);
	g_publish(g, TXQ);
	if (!g_wait_rx(g, frame, sizeof(frame), WAIT_MS, &got)) {
		snprintf(why, n, "packet did not come back (RX used %u, TX used %u)",
			 g_used_idx(g, RXQ), g_used_idx(g, TXQ));
		return false;
	}
	if (g->hdr_len == 12 && (g->fe.features & F(VIRTIO_NET_F_MRG_RXBUF)) &&
	    got.num_buffers != 1) {
		snprintf(why, n, "num_buffers %u", got.num_buffers);
		return false;
	}
	return true;
}

/* The fresh-connection check: handshake, packet round trip, memory; and
 * (check_fds) the back-end's fd count back to the baseline after. */
static bool roundtrip_fds(char *why, size_t n, bool check_fds)
{
	struct guest g;
	bool ok = g_open(&g, NULL, why, n) && g_roundtrip(&g, 1, why, n);
	int got;

	g_close_sock(&g);
	if (ok && check_fds && be_pid > 0 && base_fds > 0 &&
	    !be_wait_fds(base_fds, FD_WAIT_MS, &got)) {
		snprintf(why, n, "fds after the fresh connection: %d, want %d",
			 got, base_fds);
		ok = false;
	}
	if (ok && g.up && !g_check_mem(&g, why, n))
		ok = false;
	g_free(&g);
	return ok;
}

static bool roundtrip(char *why, size_t n)
{
	return roundtrip_fds(why, n, true);
}

/* ------------------------------------------------------------ framework */

static const char *only;

static bool class_begin(const char *name)
{
	if (only && !strstr(name, only))
		return false;
	cls = name;
	cls_fails = 0;
	cls_reason[0] = 0;
	if (be_pid <= 0)
		be_start();
	return true;
}

static void class_end(void)
{
	char why[512];
	int got;

	if (be_alive()) {
		if (!be_wait_fds(base_fds, FD_WAIT_MS, &got)) {
			char extra[400];

			be_fd_extras(extra, sizeof(extra));
			fail("back-end has %d fds open after the hostile connections closed, %d before:%s",
			     got, base_fds, extra);
		}
		if (!roundtrip(why, sizeof(why)))
			fail("fresh connection after the attack: %s", why);
		be_alive();
	}
	be_scan_stderr();
	if (cls_fails) {
		printf("FAIL %s: %s\n", cls, cls_reason);
		total_fails++;
	} else {
		printf("ok   %s\n", cls);
	}
	fflush(stdout);
	if (be_pid <= 0) {
		fprintf(stderr, "    (restarting the back-end)\n");
		be_start();
	}
}

/* ======================================================= the test classes */

/* --- 1. ring index beyond the supported range (CVE-2020-10723/10725) --- */

static const uint32_t state_reqs[] = {
	VHOST_USER_SET_VRING_NUM, VHOST_USER_SET_VRING_BASE,
	VHOST_USER_GET_VRING_BASE, VHOST_USER_SET_VRING_ENABLE,
	VHOST_USER_SET_VRING_ADDR,
};
static const uint32_t u64_reqs[] = {
	VHOST_USER_SET_VRING_KICK, VHOST_USER_SET_VRING_CALL,
	VHOST_USER_SET_VRING_ERR,
};

/* Bad-index messages of every vring request on fe's connection. */
static void bad_index_msgs(struct hconn *h, uint32_t req, uint32_t nvr)
{
	const uint32_t idx32[] = { nvr, nvr + 1, 255, 256, 0x10000, 0x7fffffff,
				   0xffffffffu };
	const uint64_t u64s[] = { nvr, nvr | VHOST_USER_VRING_NOFD_MASK, 255,
				  0xff | VHOST_USER_VRING_NOFD_MASK,
				  1ull << 9, 1ull << 63, ~0ull };
	char what[96];

	if (req == VHOST_USER_SET_VRING_ADDR) {
		for (unsigned i = 0; i < sizeof(idx32) / 4; i++) {
			struct vhost_user_vring_addr a = { .index = idx32[i] };

			snprintf(what, sizeof(what), "SET_VRING_ADDR index %u", idx32[i]);
			hc_expect(h, REFUSE, what, req, &a, sizeof(a), NULL, 0);
		}
		return;
	}
	for (unsigned i = 0; i < sizeof(u64_reqs) / 4; i++) {
		if (u64_reqs[i] != req)
			continue;
		for (unsigned k = 0; k < sizeof(u64s) / 8; k++) {
			int efd = mk_eventfd();
			bool nofd = u64s[k] & VHOST_USER_VRING_NOFD_MASK;

			snprintf(what, sizeof(what), "%s payload 0x%llx",
				 req == VHOST_USER_SET_VRING_KICK ? "SET_VRING_KICK" :
				 req == VHOST_USER_SET_VRING_CALL ? "SET_VRING_CALL" :
				 "SET_VRING_ERR", (unsigned long long)u64s[k]);
			hc_expect(h, REFUSE, what, req, &u64s[k], 8, &efd,
				  nofd ? 0 : 1);
			close(efd);
		}
		return;
	}
	for (unsigned i = 0; i < sizeof(idx32) / 4; i++) {
		struct vhost_user_vring_state s = { .index = idx32[i], .num = 1 };

		snprintf(what, sizeof(what), "vring request %u index %u", req,
			 idx32[i]);
		hc_expect(h, REFUSE, what, req, &s, sizeof(s), NULL, 0);
	}
}

static void test_vring_index(void)
{
	uint32_t reqs[8];
	unsigned nreq = 0;
	struct hconn h = { .pf_mask = ~0ull, .flags = HC_PROTO | HC_FEAT | HC_MEM };
	uint64_t qn = 1;

	for (unsigned i = 0; i < sizeof(state_reqs) / 4; i++)
		reqs[nreq++] = state_reqs[i];
	for (unsigned i = 0; i < sizeof(u64_reqs) / 4; i++)
		reqs[nreq++] = u64_reqs[i];
	if (hc_open(&h) && (h.fe->protocol_features & PF(MQ)))
		fe_get_u64(h.fe, VHOST_USER_GET_QUEUE_NUM, &qn);
	/* Before the device runs, acked (connection kept) and not acked. */
	for (unsigned r = 0; r < nreq; r++)
		bad_index_msgs(&h, reqs[r], (uint32_t)(2 * qn));
	hc_close(&h);
	h.pf_mask = 0;
	for (unsigned r = 0; r < nreq; r++)
		bad_index_msgs(&h, reqs[r], (uint32_t)(2 * qn));
	hc_close(&h);
	/* Before any memory table or features. */
	h.flags = 0;
	for (unsigned r = 0; r < nreq; r++)
		bad_index_msgs(&h, reqs[r], (uint32_t)(2 * qn));
	hc_close(&h);
	/* On a running device; it must keep forwarding afterwards. */
	for (unsigned r = 0; r < nreq; r++) {
		struct guest g;
		struct hconn hg = { 0 };
		char why[256];

		if (!g_open(&g, NULL, why, sizeof(why))) {
			fail("running device: %s", why);
			g_free(&g);
			continue;
		}
		hg.fe = &g.fe;
		hg.ext = true;
		hg.open = true;
		bad_index_msgs(&hg, reqs[r], (uint32_t)(2 * qn));
		if (hg.open && !g_roundtrip(&g, 10 + r, why, sizeof(why)))
			fail("running device after bad-index request %u: %s",
			     reqs[r], why);
		g_settle(&g, 10);
		g_finish(&g, "running device with bad ring indices");
	}
}

/* --- 2. SET_LOG_BASE size + offset overflow (CVE-2020-10722) ---------- */

static void log_cases(struct hconn *h, const char *tag)
{
	const struct vhost_user_log logs[] = {
		{ .mmap_size = UINT64_MAX, .mmap_offset = 4096 },
		{ .mmap_size = 4096, .mmap_offset = UINT64_MAX - 100 },
		{ .mmap_size = 1ull << 63, .mmap_offset = 1ull << 63 },
		{ .mmap_size = 0, .mmap_offset = 0 },
		{ .mmap_size = 1ull << 40, .mmap_offset = 0 },
		{ .mmap_size = 8192, .mmap_offset = 4096 },
	};
	char what[128];

	for (unsigned i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		int fd = mk_memfd(4096);

		snprintf(what, sizeof(what), "%s: SET_LOG_BASE size 0x%llx offset 0x%llx",
			 tag, (unsigned long long)logs[i].mmap_size,
			 (unsigned long long)logs[i].mmap_offset);
		hc_expect(h, REFUSE, what, VHOST_USER_SET_LOG_BASE, &logs[i],
			  sizeof(logs[i]), &fd, 1);
		close(fd);
	}
	{
		int fds[2] = { mk_memfd(4096), mk_memfd(4096) };

		snprintf(what, sizeof(what), "%s: SET_LOG_BASE with 2 fds", tag);
		hc_expect(h, REFUSE, what, VHOST_USER_SET_LOG_BASE, &logs[0],
			  sizeof(logs[0]), fds, 2);
		snprintf(what, sizeof(what), "%s: SET_LOG_BASE without fd", tag);
		hc_expect(h, REFUSE, what, VHOST_USER_SET_LOG_BASE, &logs[0],
			  sizeof(logs[0]), NULL, 0);
		snprintf(what, sizeof(what), "%s: SET_LOG_BASE short payload", tag);
		hc_expect(h, REFUSE, what, VHOST_USER_SET_LOG_BASE, &logs[0], 8,
			  fds, 1);
		close_fds(fds, 2);
	}
	{
		int efd = mk_eventfd();

		snprintf(what, sizeof(what), "%s: SET_LOG_FD", tag);
		hc_expect(h, (h->fe->protocol_features & PF(LOG_SHMFD)) ? TOLERATE :
			  REFUSE, what, VHOST_USER_SET_LOG_FD, NULL, 0, &efd, 1);
		close(efd);
	}
}

static void test_log_base(void)
{
	struct hconn h = { .pf_mask = ~0ull, .flags = HC_PROTO | HC_FEAT | HC_MEM };

	/* As negotiated (LOG_SHMFD only if the back-end offers it). */
	log_cases(&h, "negotiated");
	hc_close(&h);
	/* Without any protocol feature. */
	h.pf_mask = 0;
	log_cases(&h, "no protocol features");
	hc_close(&h);
	/* Asking for LOG_SHMFD whether offered or not. */
	if (hc_open(&h)) {
		uint64_t pf = h.offered_pf | PF(LOG_SHMFD);
		enum expect e = (h.offered_pf & PF(LOG_SHMFD)) ? ACCEPT : REFUSE;

		hc_close(&h);
		h.flags = HC_PROTO;
		h.pf_mask = 0;
		hc_open(&h);
		hc_expect(&h, e, "SET_PROTOCOL_FEATURES with LOG_SHMFD",
			  VHOST_USER_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0);
		hc_close(&h);
	}
	h.flags = HC_PROTO | HC_FEAT | HC_MEM;
	h.pf_mask = ~0ull;
	/* Dirty logging asked through the features. */
	if (hc_open(&h)) {
		uint64_t f = h.offered_f | F(VHOST_F_LOG_ALL);

		hc_expect(&h, (h.offered_f & F(VHOST_F_LOG_ALL)) ? TOLERATE : REFUSE,
			  "SET_FEATURES with LOG_ALL", VHOST_USER_SET_FEATURES, &f,
			  8, NULL, 0);
	}
	hc_close(&h);
	/* A used-ring log address that overflows, on a running device. */
	{
		struct guest g;
		char why[256];

		if (g_open(&g, NULL, why, sizeof(why))) {
			struct fe_vring *vr = &g.fe.vr[RXQ];
			struct vhost_user_vring_addr a = {
				.index = RXQ, .flags = 1u << VHOST_VRING_F_LOG,
				.desc_user_addr = (uint64_t)(uintptr_t)vr->desc,
				.avail_user_addr = (uint64_t)(uintptr_t)vr->avail,
				.used_user_addr = (uint64_t)(uintptr_t)vr->used,
				.log_guest_addr = UINT64_MAX - 7,
			};
			enum outcome o = send_req(&g.fe, VHOST_USER_SET_VRING_ADDR,
						  0, &a, sizeof(a), NULL, 0);

			if (o == O_HANG || o == O_ODD)
				fail("SET_VRING_ADDR with log address ~0: %s", oname[o]);
			if (o == O_OK_ACK && !g_roundtrip(&g, 20, why, sizeof(why)))
				fail("after a log address of ~0: %s", why);
		} else {
			fail("running device: %s", why);
		}
		g_finish(&g, "log address");
	}
}

/* --- 3. GET/SET_INFLIGHT_FD with huge sizes (CVE-2020-10726, 2021-3839) */

static void test_inflight(void)
{
	const struct vhost_user_inflight inf[] = {
		{ .num_queues = 0xffff, .queue_size = 0xffff },
		{ .num_queues = 0, .queue_size = 0xffff },
		{ .num_queues = 0xffff, .queue_size = 0 },
		{ .mmap_size = UINT64_MAX, .mmap_offset = UINT64_MAX - 1,
		  .num_queues = 0xffff, .queue_size = 0x8000 },
		{ .mmap_size = 1ull << 62, .mmap_offset = 1ull << 62,
		  .num_queues = 2, .queue_size = 256 },
	};
	const unsigned ninf = sizeof(inf) / sizeof(inf[0]);
	struct hconn h = { .pf_mask = ~0ull, .flags = HC_PROTO | HC_FEAT | HC_MEM };
	bool offered;

	if (!hc_open(&h))
		return;
	offered = h.offered_pf & PF(INFLIGHT_SHMFD);
	/* 100 GET_INFLIGHT_FD: each refused (connection closed) or answered
	 * without a crash; with the feature, an answer must carry an fd that
	 * we close, and nothing may grow in the back-end. */
	for (unsigned i = 0; i < 100; i++) {
		char what[96];
		enum expect e = offered ? TOLERATE : REFUSE;

		snprintf(what, sizeof(what), "GET_INFLIGHT_FD #%u (%u queues of %u)",
			 i, inf[i % ninf].num_queues, inf[i % ninf].queue_size);
		hc_expect(&h, e, what, VHOST_USER_GET_INFLIGHT_FD, &inf[i % ninf],
			  sizeof(inf[0]), NULL, 0);
		if (cls_fails > 5)
			break;
	}
	hc_close(&h);
	/* 100 SET_INFLIGHT_FD with an fd each, acked: the fds must not pile
	 * up, whether the message is refused or not. */
	for (unsigned i = 0; i < 100; i++) {
		char what[96];
		int fd = mk_memfd(4096);

		snprintf(what, sizeof(what), "SET_INFLIGHT_FD #%u", i);
		hc_expect(&h, offered ? TOLERATE : REFUSE, what,
			  VHOST_USER_SET_INFLIGHT_FD, &inf[i % ninf],
			  sizeof(inf[0]), &fd, 1);
		close(fd);
		if (cls_fails > 5)
			break;
	}
	hc_close(&h);
	/* Before any vring was set up (out of order), and with the feature
	 * asked for although it may not be offered. */
	for (unsigned i = 0; i < 3; i++) {
		struct fe fe;
		enum outcome o;
		uint64_t pf = (offered ? 0 : PF(INFLIGHT_SHMFD)) | PF(REPLY_ACK), f;

		/* Opened by hand: SET_PROTOCOL_FEATURES may be refused. */
		fe_init(&fe);
		if (fe_connect(&fe, sock_path, WAIT_MS) ||
		    fe_get_u64(&fe, VHOST_USER_GET_FEATURES, &f)) {
			fail("connect");
			fe_close(&fe);
			break;
		}
		o = send_req(&fe, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &pf, 8,
			     NULL, 0);
		if (o == O_HANG || o == O_ODD)
			fail("SET_PROTOCOL_FEATURES with INFLIGHT_SHMFD: %s", oname[o]);
		if (o == O_OK_ACK) {
			fe.protocol_features = pf;
			o = send_req(&fe, VHOST_USER_GET_INFLIGHT_FD, 0, &inf[i],
				     sizeof(inf[0]), NULL, 0);
			if (o == O_HANG || o == O_ODD ||
			    (o == O_REPLY && !offered))
				fail("GET_INFLIGHT_FD before any vring: %s", oname[o]);
		}
		fe_close(&fe);
	}
}

/* --- 4. fd counts that do not match the message (CVE-2019-14818,
 *        CVE-2022-0669) ---------------------------------------------- */

/* A mix of fd kinds: eventfd, memfd, pipe, socket, /dev/null, directory. */
static void mk_mixed_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int p[2];

		switch (i % 6) {
		case 0: fds[i] = mk_eventfd(); break;
		case 1: fds[i] = mk_memfd(4096); break;
		case 2:
			if (pipe2(p, O_CLOEXEC) == 0) {
				close(p[1]);
				fds[i] = p[0];
			} else {
				fds[i] = mk_eventfd();
			}
			break;
		case 3:
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) == 0) {
				close(p[1]);
				fds[i] = p[0];
			} else {
				fds[i] = mk_eventfd();
			}
			break;
		case 4: fds[i] = open("/dev/null", O_RDWR | O_CLOEXEC); break;
		default: fds[i] = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC); break;
		}
		if (fds[i] < 0)
			fds[i] = mk_eventfd();
	}
}

static struct vhost_user_mem_region region(uint64_t gpa, uint64_t size,
					   uint64_t uva, uint64_t off)
{
	return (struct vhost_user_mem_region){ .guest_phys_addr = gpa,
					       .memory_size = size,
					       .userspace_addr = uva,
					       .mmap_offset = off };
}

static void test_fd_mismatch(void)
{
	struct hconn h = { .pf_mask = ~0ull, .flags = HC_PROTO | HC_FEAT };
	int fds[64];
	char what[128];
	uint64_t u = 0;
	struct vhost_user_vring_state st = { .index = 0, .num = 256 };
	struct vhost_user_vring_addr ad = { 0 };
	const struct {
		uint32_t req;
		const void *p;
		uint32_t size;
	} none[] = {
		{ VHOST_USER_GET_FEATURES, NULL, 0 },
		{ VHOST_USER_SET_OWNER, NULL, 0 },
		{ VHOST_USER_SET_FEATURES, &u, 8 },
		{ VHOST_USER_SET_VRING_NUM, &st, sizeof(st) },
		{ VHOST_USER_SET_VRING_BASE, &st, sizeof(st) },
		{ VHOST_USER_SET_VRING_ADDR, &ad, sizeof(ad) },
		{ VHOST_USER_GET_PROTOCOL_FEATURES, NULL, 0 },
		{ VHOST_USER_GET_QUEUE_NUM, NULL, 0 },
		{ VHOST_USER_GET_MAX_MEM_SLOTS, NULL, 0 },
		{ VHOST_USER_RESET_OWNER, NULL, 0 },
	};
	const unsigned counts[] = { 1, 3, 8 };

	/* Requests that take no fd, with 1, 3 and 8 fds of mixed kinds. */
	for (unsigned i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		for (unsigned c = 0; c < 3; c++) {
			mk_mixed_fds(fds, counts[c]);
			snprintf(what, sizeof(what), "request %u with %u fds",
				 none[i].req, counts[c]);
			hc_expect(&h, TOLERATE, what, none[i].req, none[i].p,
				  none[i].size, fds, counts[c]);
			close_fds(fds, counts[c]);
		}
	}
	hc_close(&h);
	/* Ring fd requests: NOFD with an fd, an fd missing, two fds. */
	for (unsigned r = 0; r < 3; r++) {
		uint32_t req = u64_reqs[r];
		uint64_t nofd = VHOST_USER_VRING_NOFD_MASK, one = 0;

		mk_mixed_fds(fds, 2);
		snprintf(what, sizeof(what), "vring request %u: NOFD with an fd", req);
		hc_expect(&h, REFUSE, what, req, &nofd, 8, fds, 1);
		snprintf(what, sizeof(what), "vring request %u: no fd, no NOFD", req);
		hc_expect(&h, REFUSE, what, req, &one, 8, NULL, 0);
		snprintf(what, sizeof(what), "vring request %u: two fds", req);
		hc_expect(&h, REFUSE, what, req, &one, 8, fds, 2);
		close_fds(fds, 2);
	}
	hc_close(&h);
	/* Memory tables with fewer / more fds than regions. */
	{
		struct vhost_user_memory m = { 0 };
		int mfd = mk_memfd(8 * 65536);
		const unsigned cases[][2] = { { 2, 1 }, { 1, 2 }, { 3, 0 }, { 8, 7 },
					      { 8, 1 }, { 1, 8 }, { 4, 3 } };

		for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			unsigned nr = cases[c][0], nf = cases[c][1];

			m.nregions = nr;
			for (unsigned i = 0; i < nr; i++)
				m.regions[i] = region(FE_GPA_BASE + i * 65536ull, 65536,
						      0x7f0000000000ull + i * 65536ull,
						      i * 65536ull);
			for (unsigned i = 0; i < nf; i++)
				fds[i] = mfd;
			snprintf(what, sizeof(what), "SET_MEM_TABLE: %u regions, %u fds",
				 nr, nf);
			hc_expect(&h, REFUSE, what, VHOST_USER_SET_MEM_TABLE, &m,
				  8 + nr * sizeof(m.regions[0]), fds, nf);
		}
		/* ADD/REM_MEM_REG with the wrong number of fds. */
		if (h.open || hc_open(&h)) {
			struct vhost_user_single_mem_region r1 = {
				.region = region(FE_GPA_BASE, 65536, 0x7f0000000000ull, 0),
			};
			bool slots = h.fe->protocol_features & PF(CONFIGURE_MEM_SLOTS);

			fds[0] = fds[1] = mfd;
			hc_expect(&h, REFUSE, "ADD_MEM_REG without fd",
				  VHOST_USER_ADD_MEM_REG, &r1, sizeof(r1), NULL, 0);
			hc_expect(&h, REFUSE, "ADD_MEM_REG with 2 fds",
				  VHOST_USER_ADD_MEM_REG, &r1, sizeof(r1), fds, 2);
			hc_expect(&h, slots ? TOLERATE : REFUSE,
				  "REM_MEM_REG (not mapped) with an fd",
				  VHOST_USER_REM_MEM_REG, &r1, sizeof(r1), fds, 1);
		}
		close(mfd);
	}
	hc_close(&h);
	/* More fds than a message may carry, in one or two sendmsg calls, and
	 * fds riding on a header that is never completed. */
	{
		struct vhost_user_hdr hdr = { .request = VHOST_USER_SET_OWNER,
					      .flags = VHOST_USER_VERSION };
		const unsigned many[] = { 9, 16, 64 };

		for (unsigned c = 0; c < 3; c++) {
			if (!hc_open(&h))
				break;
			mk_mixed_fds(fds, many[c]);
			send_raw(h.fe->fd, &hdr, sizeof(hdr), fds, many[c]);
			close_fds(fds, many[c]);
			if (probe(h.fe) != O_CLOSED) {
				snprintf(what, sizeof(what), "%u fds on one message",
					 many[c]);
				fail("%s: connection not closed", what);
			}
			hc_close(&h);
		}
		/* 2 x 5 fds over one SET_MEM_TABLE of 8 regions (10 > 8). */
		if (hc_open(&h)) {
			struct {
				struct vhost_user_hdr hdr;
				struct vhost_user_memory m;
			} msg = { .hdr = { .request = VHOST_USER_SET_MEM_TABLE,
					   .flags = VHOST_USER_VERSION,
					   .size = 8 + 8 * sizeof(struct vhost_user_mem_region) } };
			int mfd = mk_memfd(8 * 65536);

			msg.m.nregions = 8;
			for (unsigned i = 0; i < 8; i++) {
				msg.m.regions[i] = region(FE_GPA_BASE + i * 65536ull, 65536,
							  0x7f0000000000ull + i * 65536ull,
							  i * 65536ull);
				fds[i] = fds[i + 8] = mfd;
			}
			send_raw(h.fe->fd, &msg, 20, fds, 5);
			send_raw(h.fe->fd, (char *)&msg + 20, sizeof(msg) - 20, fds, 5);
			close(mfd);
			if (probe(h.fe) != O_CLOSED)
				fail("10 fds over two chunks of one message: not closed");
			hc_close(&h);
		}
		/* Half a message with fds, then hang up. */
		for (unsigned c = 0; c < 4; c++) {
			struct fe fe;

			fe_init(&fe);
			if (fe_connect(&fe, sock_path, WAIT_MS))
				break;
			mk_mixed_fds(fds, 8);
			send_raw(fe.fd, &hdr, c * 3 + 1, fds, 8);
			close_fds(fds, 8);
			sleep_ms(20);
			fe_close(&fe);
		}
	}
}

/* --- 5. memory regions ------------------------------------------------ */

static int reopen_ro(int fd)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return open(p, O_RDONLY | O_CLOEXEC);
}

static void test_mem_regions(void)
{
	struct hconn h = { .pf_mask = ~0ull, .flags = HC_PROTO | HC_FEAT };
	const uint64_t S = 1u << 20, U = 0x7f0000000000ull, G = FE_GPA_BASE;
	int mfd = mk_memfd(S);
	const struct {
		const char *what;
		unsigned n;
		struct vhost_user_mem_region r[2];
	} bad[] = {
		{ "size 0", 1, { region(G, 0, U, 0) } },
		{ "gpa + size wraps", 1, { region(UINT64_MAX - 4095, 8192, U, 0) } },
		{ "uva + size wraps", 1, { region(G, 8192, UINT64_MAX - 4095, 0) } },
		{ "offset + size wraps", 1, { region(G, 8192, U, UINT64_MAX - 100) } },
		{ "offset beyond the file", 1, { region(G, 4096, U, S) } },
		{ "offset + size beyond the file", 1, { region(G, S, U, 4096) } },
		{ "size beyond the file", 1, { region(G, 2 * S, U, 0) } },
		{ "huge size", 1, { region(G, 1ull << 62, U, 0) } },
		{ "offset 2^63", 1, { region(G, 4096, U, 1ull << 63) } },
		{ "unaligned offset beyond file", 1, { region(G, 4096, U, S - 1) } },
		{ "gpa overlap", 2, { region(G, 65536, U, 0),
				      region(G + 4096, 65536, U + S, 65536) } },
		{ "uva overlap", 2, { region(G, 65536, U, 0),
				      region(G + S, 65536, U + 4096, 65536) } },
		{ "same region twice", 2, { region(G, 65536, U, 0),
					    region(G, 65536, U, 0) } },
		{ "second region bad", 2, { region(G, 65536, U, 0),
					    region(G + S, 0, U + S, 0) } },
	};
	char what[128];
	int fds[8];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vhost_user_memory m = { .nregions = bad[i].n };

		for (unsigned k = 0; k < bad[i].n; k++) {
			m.regions[k] = bad[i].r[k];
			fds[k] = mfd;
		}
		snprintf(what, sizeof(what), "SET_MEM_TABLE %s", bad[i].what);
		hc_expect(&h, REFUSE, what, VHOST_USER_SET_MEM_TABLE, &m,
			  8 + bad[i].n * sizeof(m.regions[0]), fds, bad[i].n);
	}
	/* Region counts: 0, 9 (more than the maximum), 2^32 - 1. */
	{
		struct vhost_user_memory m = { .nregions = 0 };
		const uint32_t ns[] = { 0, 9, 0xffffffffu };

		for (unsigned i = 0; i < 8; i++) {
			m.regions[i] = region(G + i * 65536ull, 65536, U + i * 65536ull,
					      i * 65536ull);
			fds[i] = mfd;
		}
		for (unsigned i = 0; i < 3; i++) {
			m.nregions = ns[i];
			snprintf(what, sizeof(what), "SET_MEM_TABLE with %u regions", ns[i]);
			hc_expect(&h, REFUSE, what, VHOST_USER_SET_MEM_TABLE, &m,
				  sizeof(m), fds, 8);
		}
	}
	/* fds that cannot back guest memory. */
	{
		int p[2] = { -1, -1 }, sp[2] = { -1, -1 };
		int sealed = mk_memfd(S), tiny = mk_memfd(0);
		int ro, opath;
		char pp[64];

		if (pipe2(p, O_CLOEXEC))
			p[0] = p[1] = -1;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
			sp[0] = sp[1] = -1;
		fcntl(sealed, F_ADD_SEALS, F_SEAL_WRITE);
		ro = reopen_ro(mfd);
		snprintf(pp, sizeof(pp), "/proc/self/fd/%d", mfd);
		opath = open(pp, O_PATH | O_CLOEXEC);
		{
			const struct {
				const char *what;
				int fd;
			} u[] = {
				{ "an eventfd", mk_eventfd() },
				{ "a pipe", p[0] },
				{ "a socket", sp[0] },
				{ "/dev/null", open("/dev/null", O_RDWR | O_CLOEXEC) },
				{ "a directory", open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC) },
				{ "a read-only memfd", ro },
				{ "an O_PATH fd", opath },
				{ "a write-sealed memfd", sealed },
				{ "an empty memfd", tiny },
			};

			for (unsigned i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
				struct vhost_user_memory m = { .nregions = 1 };

				if (u[i].fd < 0)
					continue;
				m.regions[0] = region(G, 65536, U, 0);
				snprintf(what, sizeof(what), "SET_MEM_TABLE on %s", u[i].what);
				hc_expect(&h, REFUSE, what, VHOST_USER_SET_MEM_TABLE, &m,
					  8 + sizeof(m.regions[0]), &u[i].fd, 1);
				close(u[i].fd);
			}
		}
		if (p[1] >= 0)
			close(p[1]);
		if (sp[1] >= 0)
			close(sp[1]);
	}
	hc_close(&h);
	/* ADD_MEM_REG: the same bad regions, then more than the slots. */
	if (hc_open(&h) && (h.fe->protocol_features & PF(CONFIGURE_MEM_SLOTS))) {
		uint64_t slots = 0;
		unsigned added = 0;

		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct vhost_user_single_mem_region r = { .region = bad[i].r[0] };

			if (bad[i].n != 1)
				continue;
			snprintf(what, sizeof(what), "ADD_MEM_REG %s", bad[i].what);
			hc_expect(&h, REFUSE, what, VHOST_USER_ADD_MEM_REG, &r,
				  sizeof(r), &mfd, 1);
		}
		if (h.open || hc_open(&h))
			fe_get_u64(h.fe, VHOST_USER_GET_MAX_MEM_SLOTS, &slots);
		if (slots == 0 || slots > 4096) {
			fail("GET_MAX_MEM_SLOTS: %llu", (unsigned long long)slots);
			slots = 8;
		}
		/* slots + 1 regions of one page each, all from one memfd. */
		for (unsigned i = 0; i <= slots && h.open; i++) {
			struct vhost_user_single_mem_region r = {
				.region = region(G + i * 65536ull, 4096,
						 U + i * 65536ull, (i % 16) * 4096ull),
			};
			enum outcome o = send_req(h.fe, VHOST_USER_ADD_MEM_REG, 0,
						  &r, sizeof(r), &mfd, 1);

			if (i < slots && o != O_OK_ACK) {
				fail("ADD_MEM_REG #%u of %llu: %s", i,
				     (unsigned long long)slots, oname[o]);
				break;
			}
			if (i == slots && o != O_ERR_ACK && o != O_CLOSED)
				fail("ADD_MEM_REG beyond the %llu slots: %s",
				     (unsigned long long)slots, oname[o]);
			if (o == O_OK_ACK)
				added++;
			if (o == O_CLOSED || o == O_HANG)
				hc_close(&h);
		}
		/* The back-end maps `added` regions now, and keeps no fd for
		 * them (the mapping holds the file): close with them. */
		if (h.open && be_nmaps("memfd:hostile") < (int)added)
			fail("%u regions added but the back-end maps only %d",
			     added, be_nmaps("memfd:hostile"));
		if (h.open && be_nfds() > base_fds + 8)
			fail("%u regions added and the back-end holds %d fds (baseline %d)",
			     added, be_nfds(), base_fds);
	}
	hc_close(&h);
	/* A refused table on a running device leaves the old one working. */
	{
		struct guest g;
		char why[256];

		if (g_open(&g, NULL, why, sizeof(why))) {
			struct vhost_user_memory m = { .nregions = 2 };
			int f2[2] = { g.fe.memfd, g.fe.memfd };
			enum outcome o;

			m.regions[0] = region(G, g.fe.mem_size,
					      (uint64_t)(uintptr_t)g.fe.mem, 0);
			m.regions[1] = region(G + 4096, 4096, U, 0);
			o = send_req(&g.fe, VHOST_USER_SET_MEM_TABLE, 0, &m,
				     8 + 2 * sizeof(m.regions[0]), f2, 2);
			if (o != O_ERR_ACK && o != O_CLOSED)
				fail("overlapping table on a running device: %s", oname[o]);
			if (o == O_ERR_ACK && !g_roundtrip(&g, 30, why, sizeof(why)))
				fail("after a refused table: %s", why);
		} else {
			fail("running device: %s", why);
		}
		g_finish(&g, "refused table on a running device");
	}
	close(mfd);
}

/* --- 6. translation checked only at a range's start (CVE-2018-1059) --- */

/* A connection whose ring 0 areas are placed at addresses of our choice,
 * with the rest of a normal set-up; it must never write outside. */
static void ring_at(const char *what, uint64_t d_off, uint64_t a_off,
		    uint64_t u_off, bool table_first, uint16_t size,
		    uint16_t resize)
{
	struct fe fe;
	uint8_t *shadow = NULL;
	uint64_t f = 0, pf = 0, M = 1u << 20;
	int r = 0, got;
	enum outcome o;
	struct vhost_user_vring_addr a = { .index = RXQ };
	uint64_t base;

	if (be_pid <= 0)
		return;

	fe_init(&fe);
	if (fe_connect(&fe, sock_path, WAIT_MS) || fe_mem_init(&fe, M)) {
		fail("%s: connect", what);
		fe_close(&fe);
		return;
	}
	memset(fe.mem, PAT, M);
	shadow = malloc(M);
	memcpy(shadow, fe.mem, M);
	base = (uint64_t)(uintptr_t)fe.mem;
	a.desc_user_addr = d_off == UINT64_MAX ? UINT64_MAX - 15 : base + d_off;
	a.avail_user_addr = base + a_off;
	a.used_user_addr = base + u_off;
	r = fe_get_u64(&fe, VHOST_USER_GET_FEATURES, &f);
	f &= ~(1ull << VIRTIO_F_RING_PACKED); /* split ring layouts */
	if (!r)
		r = fe_get_u64(&fe, VHOST_USER_GET_PROTOCOL_FEATURES, &pf);
	pf &= ~PF(STATUS);
	if (!r)
		r = fe_set_u64(&fe, VHOST_USER_SET_PROTOCOL_FEATURES, pf);
	fe.protocol_features = pf;
	if (!r)
		r = fe_request(&fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	fe.features = f;
	if (!r)
		r = fe_set_u64(&fe, VHOST_USER_SET_FEATURES, f);
	if (!r && table_first)
		r = fe_set_mem_table(&fe);
	if (!r)
		r = fe_vring_state(&fe, VHOST_USER_SET_VRING_NUM, RXQ, size);
	if (r) {
		fail("%s: set-up: %s", what, strerror(-r));
		goto out;
	}
	o = send_req(&fe, VHOST_USER_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
	if (table_first && o != O_ERR_ACK && o != O_CLOSED && !resize)
		fail("%s: SET_VRING_ADDR not refused (%s)", what, oname[o]);
	if (o == O_CLOSED || o == O_HANG || o == O_ODD)
		goto out;
	/* The table makes the ring translate (or not) now. */
	if (!table_first && fe_set_mem_table(&fe))
		goto out;
	if (resize) {
		o = send_req(&fe, VHOST_USER_SET_VRING_NUM, 0,
			     &(struct vhost_user_vring_state){ RXQ, resize },
			     sizeof(struct vhost_user_vring_state), NULL, 0);
		if (o == O_HANG || o == O_ODD)
			fail("%s: resize: %s", what, oname[o]);
	}
	/* The rest of the set-up: kicks, calls, a normal ring 1. */
	if (fe.fd >= 0) {
		uint64_t v = RXQ;

		fe.vr[RXQ].kickfd = mk_eventfd();
		fe.vr[RXQ].callfd = mk_eventfd();
		fe_request(&fe, VHOST_USER_SET_VRING_CALL, &v, 8, &fe.vr[RXQ].callfd, 1);
		fe_request(&fe, VHOST_USER_SET_VRING_KICK, &v, 8, &fe.vr[RXQ].kickfd, 1);
		fe_vring_state(&fe, VHOST_USER_SET_VRING_ENABLE, RXQ, 1);
		fe.mem_next = M / 2;
		if (fe_vring_alloc(&fe, TXQ, 64) == 0) {
			/* fe_vring_alloc zeroed ring 1's areas. */
			struct fe_vring *v1 = &fe.vr[TXQ];

			memset(shadow + ((uint8_t *)v1->desc - fe.mem), 0, 16 * 64);
			memset(shadow + ((uint8_t *)v1->avail - fe.mem), 0, 6 + 2 * 64);
			memset(shadow + ((uint8_t *)v1->used - fe.mem), 0, 6 + 8 * 64);
			fe_vring_setup(&fe, TXQ);
		}
		sleep_ms(30);
	}
out:
	if (fe.fd >= 0)
		close(fe.fd);
	fe.fd = -1;
	if (!be_wait_fds(base_fds, FD_WAIT_MS, &got))
		fail("%s: back-end has %d fds, want %d", what, got, base_fds);
	/* Only ring 1's used ring may have changed (it is at M / 2 + ...). */
	if (fe.vr[TXQ].used) {
		uint64_t uo = (uint64_t)((uint8_t *)fe.vr[TXQ].used - fe.mem);

		memcpy(shadow + uo, fe.mem + uo, 6 + 8 * 64);
	}
	for (uint64_t i = 0; i < M; i++) {
		if (fe.mem[i] != shadow[i]) {
			fail("%s: back-end wrote guest memory at offset 0x%llx (of 0x%llx)",
			     what, (unsigned long long)i, (unsigned long long)M);
			break;
		}
	}
	free(shadow);
	fe_close(&fe);
}

static void test_ring_translation(void)
{
	const uint64_t M = 1u << 20;
	const uint16_t n = 256;
	const uint64_t dsz = 16ull * n, asz = 6 + 2ull * n, usz = 6 + 8ull * n;

	/* Each area crossing the end of guest memory by a little. */
	ring_at("desc table crosses the end", M - dsz + 16, 0x10000, 0x20000,
		true, n, 0);
	ring_at("avail ring crosses the end", 0x10000, M - asz + 2, 0x20000,
		true, n, 0);
	ring_at("used ring crosses the end", 0x10000, 0x20000, M - usz + 4,
		true, n, 0);
	ring_at("used ring crosses the end, set before the table", 0x10000,
		0x20000, M - usz + 4, false, n, 0);
	ring_at("desc table crosses the end, set before the table", M - dsz + 16,
		0x10000, 0x20000, false, n, 0);
	ring_at("desc address wraps", UINT64_MAX, 0x10000, 0x20000, true, n, 0);
	/* Fits at 256 entries, not after a resize to 32768. */
	ring_at("used ring at the end, ring resized", 0x10000, 0x20000, M - usz,
		true, n, 32768);
	ring_at("desc table at the end, ring resized", M - dsz, 0x10000, 0x20000,
		true, n, 1024);

	/* Descriptors whose buffers cross out of the region: the region
	 * covers only the first half of the memfd, so what lies beyond is
	 * real memory the back-end was never given. */
	{
		struct guest g;
		char why[256];
		struct fe_opts o = { .mem_size = GMEM };

		if (!g_open(&g, &o, why, sizeof(why))) {
			fail("running device: %s", why);
			g_free(&g);
			return;
		}
		{
			struct vhost_user_memory m = { .nregions = 1 };
			uint64_t half = g.fe.mem_size / 2;
			enum outcome oc;

			m.regions[0] = region(FE_GPA_BASE, half,
					      (uint64_t)(uintptr_t)g.fe.mem, 0);
			oc = send_req(&g.fe, VHOST_USER_SET_MEM_TABLE, 0, &m,
				      8 + sizeof(m.regions[0]), &g.fe.memfd, 1);
			if (oc != O_OK_ACK) {
				fail("shrinking the table: %s", oname[oc]);
				g_finish(&g, "shrunk table");
				return;
			}
			{
				uint64_t end = FE_GPA_BASE + half;
				uint8_t frame[64];
				nethdr h0 = { 0 };
				const struct {
					uint64_t gpa;
					uint32_t len;
				} badtx[] = {
					{ end - 30, 12 + 64 },
					{ end - 1, 12 + 64 },
					{ end, 12 + 64 },
					{ 0, 12 + 64 },
					{ FE_GPA_BASE - 8, 12 + 64 },
					{ UINT64_MAX - 20, 12 + 64 },
					{ FE_GPA_BASE, 0xffffffffu },
					{ end - 4096, 0x80000000u },
				};
				uint8_t *last;

				mkframe(frame, sizeof(frame), 40);
				/* Bad TX buffers, one per chain; then a
				 * header fine and the data crossing the end. */
				for (unsigned i = 0; i < sizeof(badtx) / sizeof(badtx[0]); i++) {
					uint16_t d = g_new_desc(&g, TXQ);

					g_desc(&g, TXQ, d, badtx[i].gpa, badtx[i].len, 0, 0);
					g_avail(&g, TXQ, d);
				}
				{
					uint8_t *hb = g_alloc(&g, 12, 16);
					uint16_t d1 = g_new_desc(&g, TXQ), d2 = g_new_desc(&g, TXQ);

					gw(&g, hb, &h0, 12);
					g_desc(&g, TXQ, d1, g_gpa(&g, hb), 12, VRING_DESC_F_NEXT, d2);
					g_desc(&g, TXQ, d2, end - 10, 64, 0, 0);
					g_avail(&g, TXQ, d1);
				}
				/* RX buffers crossing the end first, good
				 * ones after. The part inside the region is
				 * posted, so the back-end may write it. */
				last = g_at(&g, half - 40);
				{
					/* 40 bytes in the region: less than
					 * header + frame (76). */
					const uint64_t rxbad[][2] = {
						{ end - 40, RXBUF }, { end - 1, RXBUF },
						{ end, RXBUF }, { UINT64_MAX - 100, RXBUF },
						{ 0, RXBUF },
					};

					for (unsigned i = 0; i < 5; i++) {
						uint16_t d = g_new_desc(&g, RXQ);

						g_desc(&g, RXQ, d, rxbad[i][0],
						       (uint32_t)rxbad[i][1], VRING_DESC_F_WRITE, 0);
						g.rxcap[d] = (uint32_t)rxbad[i][1];
						g_avail(&g, RXQ, d);
					}
					g_allow(&g, last, 40);
				}
				/* Good RX buffers, and the good packet. */
				g.next = g.next < half / 2 ? half / 2 : g.next;
				rx_post(&g, RXBUF);
				rx_post(&g, RXBUF);
				g_publish(&g, RXQ);
				tx_post(&g, &h0, frame, sizeof(frame), NULL, 0);
				g_publish(&g, TXQ);
				if (!g_wait_rx(&g, frame, sizeof(frame), WAIT_MS, NULL))
					fail("good packet after buffers crossing the region end did not come back (TX used %u of %u, RX used %u of %u, rx_other %u)", g_used_idx(&g, TXQ), g.fe.vr[TXQ].avail_idx, g_used_idx(&g, RXQ), g.fe.vr[RXQ].avail_idx, g.rx_other);
				g_settle(&g, 50);
			}
		}
		g_finish(&g, "buffers crossing the region end");
	}
}

/* --- 7. the virtio-net header (CVE-2022-2132, CVE-2024-11614) ---------- */

static nethdr mkhdr(uint8_t flags, uint8_t gso, uint16_t gso_size,
		    uint16_t cs, uint16_t co)
{
	nethdr h = { 0 };

	h.hdr.flags = flags;
	h.hdr.gso_type = gso;
	h.hdr.gso_size = gso_size;
	h.hdr.csum_start = cs;
	h.hdr.csum_offset = co;
	h.hdr.hdr_len = 0xffff;
	h.num_buffers = 0xffff;
	return h;
}

static void net_hdr_on(const struct fe_opts *o, const char *tag)
{
	struct guest g;
	char why[256];
	nethdr h0 = { 0 };
	uint8_t frame[64];
	unsigned seed = 100;

	if (!g_open(&g, o, why, sizeof(why))) {
		fail("%s: %s", tag, why);
		g_free(&g);
		return;
	}
	for (unsigned i = 0; i < 32; i++)
		rx_post(&g, RXBUF);
	g_publish(&g, RXQ);

	/* (a) the header split over tiny descriptors: valid, must arrive. */
	{
		const uint32_t layouts[][14] = {
			{ 1, 2, 9 },
			{ 9, 2, 1 },
			{ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
			{ 11, 1 },
			{ 2, 7, 7, 7 },
			{ 1, 12 },
			{ 3, 3, 3, 3 },
		};
		const unsigned nl[] = { 3, 3, 12, 2, 4, 2, 4 };

		for (unsigned i = 0; i < 7; i++) {
			uint32_t cuts[14];

			memcpy(cuts, layouts[i], sizeof(cuts));
			mkframe(frame, sizeof(frame), ++seed);
			tx_post(&g, &h0, frame, sizeof(frame), cuts, nl[i] + 1);
			g_publish(&g, TXQ);
			if (!g_wait_rx(&g, frame, sizeof(frame), WAIT_MS, NULL))
				fail("%s: header split as layout %u did not arrive", tag, i);
		}
	}
	/* (b) chains shorter than the header, or exactly the header. */
	{
		const uint32_t lens[] = { 0, 1, 2, 9, 11 };
		unsigned before = g.rx_match + g.rx_other;

		for (unsigned i = 0; i < 5; i++) {
			uint8_t *b = g_alloc(&g, 16, 16);
			uint16_t d = g_new_desc(&g, TXQ);

			g_desc(&g, TXQ, d, g_gpa(&g, b), lens[i], 0, 0);
			g_avail(&g, TXQ, d);
		}
		{
			/* Header only: 12 bytes (10 legacy) and no frame. */
			uint8_t *b = g_alloc(&g, 16, 16);
			uint16_t d = g_new_desc(&g, TXQ);

			gw(&g, b, &h0, g.hdr_len);
			g_desc(&g, TXQ, d, g_gpa(&g, b), g.hdr_len, 0, 0);
			g_avail(&g, TXQ, d);
		}
		{
			/* 1 + 1 bytes over two descriptors. */
			uint8_t *b = g_alloc(&g, 16, 16);
			uint16_t d1 = g_new_desc(&g, TXQ), d2 = g_new_desc(&g, TXQ);

			g_desc(&g, TXQ, d1, g_gpa(&g, b), 1, VRING_DESC_F_NEXT, d2);
			g_desc(&g, TXQ, d2, g_gpa(&g, b) + 1, 1, 0, 0);
			g_avail(&g, TXQ, d1);
		}
		mkframe(frame, sizeof(frame), ++seed);
		tx_post(&g, &h0, frame, sizeof(frame), NULL, 0);
		g_publish(&g, TXQ);
		if (!g_wait_rx(&g, frame, sizeof(frame), WAIT_MS, NULL))
			fail("%s: good packet after short chains did not arrive", tag);
		g_settle(&g, 30);
		if (g.rx_match + g.rx_other - before > 1)
			fail("%s: short chains produced %u packets", tag,
			     g.rx_match + g.rx_other - before - 1);
	}
	/* (c) NEEDS_CSUM with the checksum field beyond the packet, and
	 * nonsense GSO; then one valid at the very end of the packet. */
	{
		const nethdr bad[] = {
			mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0xffff, 0xffff),
			mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 63, 0),
			mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 62, 1),
			mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 63),
			mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 64, 0),
			mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0xfffe, 2),
			mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 2, 0xfffe),
			mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM | 0xfc, 0x7f, 1, 0xffff, 0xffff),
			mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 0, 34, 16),
			mkhdr(0, VIRTIO_NET_HDR_GSO_TCPV4, 1400, 0, 0),
			mkhdr(0, 0x7f, 0xffff, 0xffff, 0xffff),
			mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM,
			      VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 1, 34, 16),
		};
		unsigned before;

		g_settle(&g, 20);
		before = g.rx_match + g.rx_other;
		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			mkframe(frame, sizeof(frame), ++seed);
			tx_post(&g, &bad[i], frame, sizeof(frame), NULL, 0);
		}
		g_publish(&g, TXQ);
		/* The checksum field exactly at the end: valid. */
		{
			nethdr ok = mkhdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 60, 2);
			nethdr got;
			uint8_t want[64];

			mkframe(frame, sizeof(frame), ++seed);
			memcpy(want, frame, sizeof(want));
			tx_post(&g, &ok, frame, sizeof(frame), NULL, 0);
			g_publish(&g, TXQ);
			if (!(g.fe.features & F(VIRTIO_NET_F_CSUM))) {
				/* Not negotiated: the header must be refused. */
				g_settle(&g, 50);
			} else if (g.fe.features & F(VIRTIO_NET_F_GUEST_CSUM)) {
				if (!g_wait_rx(&g, frame, sizeof(frame), WAIT_MS, &got))
					fail("%s: valid NEEDS_CSUM packet did not arrive", tag);
				else if (!(got.hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
					 got.hdr.csum_start != 60 || got.hdr.csum_offset != 2)
					fail("%s: NEEDS_CSUM not passed on (flags %u start %u offset %u)",
					     tag, got.hdr.flags, got.hdr.csum_start,
					     got.hdr.csum_offset);
			} else {
				/* The back-end completes the checksum into
				 * bytes 62-63: look for the rest. */
				uint64_t end = now_ms() + WAIT_MS;
				bool seen = false;

				while (!seen && now_ms() < end) {
					unsigned o0 = g.rx_other;

					g_reap(&g, TXQ, NULL, 0, NULL);
					g_reap(&g, RXQ, NULL, 0, NULL);
					seen = g.rx_other != o0;
					usleep(500);
				}
				if (!seen)
					fail("%s: valid NEEDS_CSUM packet (checksum completed by the back-end) did not arrive", tag);
				before++;
			}
		}
		g_settle(&g, 30);
		{
			unsigned arrived = g.rx_match + g.rx_other - before;
			unsigned want = (g.fe.features & F(VIRTIO_NET_F_CSUM)) &&
					(g.fe.features & F(VIRTIO_NET_F_GUEST_CSUM)) ? 1 : 0;

			if (arrived != want)
				fail("%s: %u packet(s) with bad headers were forwarded",
				     tag, arrived - want);
		}
	}
	/* The ring still works. */
	mkframe(frame, sizeof(frame), ++seed);
	tx_post(&g, &h0, frame, sizeof(frame), NULL, 0);
	g_publish(&g, TXQ);
	if (!g_wait_rx(&g, frame, sizeof(frame), WAIT_MS, NULL))
		fail("%s: ring dead after the bad headers", tag);
	g_settle(&g, 20);
	g_finish(&g, tag);
}

static void test_net_hdr(void)
{
	struct fe_opts all = { .mem_size = GMEM };
	struct fe_opts no_guest_csum = {
		.mem_size = GMEM,
		.features_mask = ~F(VIRTIO_NET_F_GUEST_CSUM),
	};
	struct fe_opts no_mrg = {
		.mem_size = GMEM,
		.features_mask = ~(F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_CSUM)),
	};

	net_hdr_on(&all, "all features");
	net_hdr_on(&no_guest_csum, "no GUEST_CSUM");
	net_hdr_on(&no_mrg, "no MRG_RXBUF, no CSUM");
}

/* --- 8. the header (and descriptors) changed while the back-end runs -- */

#define RACE_SLOTS 64

struct race {
	struct guest *g;
	uint8_t *hdr[RACE_SLOTS];
	_Atomic bool stop;
	_Atomic unsigned long flips;
};

static void *flipper(void *arg)
{
	struct race *r = arg;
	struct guest *g = r->g;
	struct fe_vring *tx = &g->fe.vr[TXQ];
	uint32_t x = 0x12345678;

	while (!atomic_load(&r->stop)) {
		unsigned s, k;
		uint8_t v;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		s = x % RACE_SLOTS;
		k = (x >> 8) % 16;
		v = (uint8_t)(x >> 16);
		if (k < 12) {
			/* A header byte. */
			pthread_mutex_lock(&g->lock);
			*(volatile uint8_t *)&r->hdr[s][k] = v;
			g->shadow[g_off(g, r->hdr[s]) + k] = v;
			pthread_mutex_unlock(&g->lock);
		} else {
			/* A byte of the slot's descriptors (len, flags, next,
			 * addr). The TX table is only ever read. */
			uint8_t *d = (uint8_t *)&tx->desc[2 * s + (k & 1)];
			unsigned b = (x >> 24) % 16;

			pthread_mutex_lock(&g->lock);
			*(volatile uint8_t *)&d[b] = v;
			g->shadow[g_off(g, d) + b] = v;
			pthread_mutex_unlock(&g->lock);
		}
		atomic_fetch_add(&r->flips, 1);
		if ((x & 7) == 0)
			sched_yield();
	}
	return NULL;
}

static void test_header_race(void)
{
	static struct race r;
	struct guest g;
	char why[256];
	uint8_t *frames[RACE_SLOTS];
	pthread_t t;
	uint64_t end;
	unsigned sent = 0;
	nethdr h0 = { 0 };

	if (!g_open(&g, NULL, why, sizeof(why))) {
		fail("running device: %s", why);
		g_free(&g);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.g = &g;
	for (unsigned i = 0; i < 128; i++)
		rx_post(&g, RXBUF);
	g_publish(&g, RXQ);
	/* Slot s: descriptors 2s (header) and 2s+1 (frame). */
	for (unsigned s = 0; s < RACE_SLOTS; s++) {
		r.hdr[s] = g_alloc(&g, 16, 16);
		frames[s] = g_alloc(&g, 64, 64);
		{
			uint8_t f[64];

			mkframe(f, sizeof(f), s);
			gw(&g, frames[s], f, sizeof(f));
		}
	}
	if (pthread_create(&t, NULL, flipper, &r)) {
		fail("pthread_create");
		g_finish(&g, "race");
		return;
	}
	end = now_ms() + 1000;
	{
		bool busy[RACE_SLOTS] = { 0 };
		struct fe_vring *tx = &g.fe.vr[TXQ], *rx = &g.fe.vr[RXQ];

		while (now_ms() < end && !g.bad_used) {
			uint16_t ui;

			/* Reclaim TX: the head says which slot came back. */
			ui = g_used_idx(&g, TXQ);
			while (g.used_seen[TXQ] != ui) {
				struct vring_used_elem e = tx->used->ring[g.used_seen[TXQ] % tx->size];

				g.used_seen[TXQ]++;
				if (e.id >= 2 * RACE_SLOTS || (e.id & 1) ||
				    !g.pending[TXQ][e.id]) {
					fail("TX used id %u never posted", e.id);
					g.bad_used = true;
					break;
				}
				g.pending[TXQ][e.id]--;
				busy[e.id / 2] = false;
			}
			/* Reclaim RX and repost the same buffers. */
			ui = g_used_idx(&g, RXQ);
			while (g.used_seen[RXQ] != ui && !g.bad_used) {
				struct vring_used_elem e = rx->used->ring[g.used_seen[RXQ] % rx->size];

				g.used_seen[RXQ]++;
				if (e.id > 0xffff || !g.pending[RXQ][e.id] ||
				    e.len > g.rxcap[e.id]) {
					fail("RX used entry id %u len %u not valid", e.id, e.len);
					g.bad_used = true;
					break;
				}
				g.pending[RXQ][e.id]--;
				if (e.len)
					g.rx_other++;
				g_avail(&g, RXQ, (uint16_t)e.id);
			}
			g_publish(&g, RXQ);
			/* Repost idle TX slots with a sane header and sane
			 * descriptors (the flipper will get at them). */
			for (unsigned s = 0; s < RACE_SLOTS; s++) {
				if (busy[s])
					continue;
				gw(&g, r.hdr[s], &h0, 12);
				g_desc(&g, TXQ, (uint16_t)(2 * s), g_gpa(&g, r.hdr[s]),
				       g.hdr_len, VRING_DESC_F_NEXT, (uint16_t)(2 * s + 1));
				g_desc(&g, TXQ, (uint16_t)(2 * s + 1), g_gpa(&g, frames[s]),
				       64, 0, 0);
				g_avail(&g, TXQ, (uint16_t)(2 * s));
				busy[s] = true;
				sent++;
			}
			g_publish(&g, TXQ);
			usleep(200);
		}
	}
	atomic_store(&r.stop, true);
	pthread_join(t, NULL);
	g_settle(&g, 50);
	fprintf(stderr, "    [%s] %u packets posted, %u came back, %lu flips\n",
		cls, sent, g.rx_other, (unsigned long)atomic_load(&r.flips));
	if (!g.rx_other && !cls_fails)
		fail("no packet came back during the race (nothing was exercised)");
	g_finish(&g, "header race");
}

/* --- 9. descriptor chains and rings ----------------------------------- */

/* Make one bad TX chain available and wait for the back-end to return
 * it (a bad chain must not stall the ring). */
static void tx_bad(struct guest *g, uint16_t head, const char *tag, int k)
{
	uint64_t end = now_ms() + WAIT_MS;

	g_avail(g, TXQ, head);
	g_publish(g, TXQ);
	while (g_used_idx(g, TXQ) != g->fe.vr[TXQ].avail_idx && now_ms() < end)
		usleep(200);
	if (g_used_idx(g, TXQ) != g->fe.vr[TXQ].avail_idx)
		fail("%s: bad TX chain #%d (head %u) not returned: ring stalled",
		     tag, k, head);
	g_reap(g, TXQ, NULL, 0, NULL);
}

/* Bad TX chains on one ring, then a good packet that must come back. */
static void bad_tx_chains(const struct fe_opts *o, const char *tag)
{
	struct guest g;
	char why[256];
	uint8_t frame[64];
	nethdr h0 = { 0 };
	uint16_t n;

	if (!g_open(&g, o, why, sizeof(why))) {
		fail("%s: %s", tag, why);
		g_free(&g);
		return;
	}
	n = g.fe.vr[TXQ].size;
	for (unsigned i = 0; i < 8; i++)
		rx_post(&g, RXBUF);
	g_publish(&g, RXQ);
	mkframe(frame, sizeof(frame), 200);
	{
		uint8_t *pk = g_alloc(&g, 12 + 64, 16);
		uint64_t pa = g_gpa(&g, pk);
		uint16_t a, b, c;

		gw(&g, pk, &h0, 12);
		gw(&g, pk + 12, frame, 64);
		/* self loop */
		a = g_new_desc(&g, TXQ);
		g_desc(&g, TXQ, a, pa, 8, VRING_DESC_F_NEXT, a);
		tx_bad(&g, a, tag, 1);
		/* a -> b -> a */
		a = g_new_desc(&g, TXQ);
		b = g_new_desc(&g, TXQ);
		g_desc(&g, TXQ, a, pa, 8, VRING_DESC_F_NEXT, b);
		g_desc(&g, TXQ, b, pa, 8, VRING_DESC_F_NEXT, a);
		tx_bad(&g, a, tag, 2);
		/* a -> b -> c -> b */
		a = g_new_desc(&g, TXQ);
		b = g_new_desc(&g, TXQ);
		c = g_new_desc(&g, TXQ);
		g_desc(&g, TXQ, a, pa, 12, VRING_DESC_F_NEXT, b);
		g_desc(&g, TXQ, b, pa, 4, VRING_DESC_F_NEXT, c);
		g_desc(&g, TXQ, c, pa, 4, VRING_DESC_F_NEXT, b);
		tx_bad(&g, a, tag, 3);
		/* (heads out of range break the ring, not returned:
		 * tests/unit/test_ring_hardening.c) */
		/* next out of range */
		a = g_new_desc(&g, TXQ);
		g_desc(&g, TXQ, a, pa, 12, VRING_DESC_F_NEXT, n);
		tx_bad(&g, a, tag, 7);
		a = g_new_desc(&g, TXQ);
		g_desc(&g, TXQ, a, pa, 12, VRING_DESC_F_NEXT, 0xffff);
		tx_bad(&g, a, tag, 8);
		/* device-writable buffers offered for transmit */
		a = g_new_desc(&g, TXQ);
		g_desc(&g, TXQ, a, pa, 12 + 64, VRING_DESC_F_WRITE, 0);
		tx_bad(&g, a, tag, 9);
		a = g_new_desc(&g, TXQ);
		b = g_new_desc(&g, TXQ);
		g_desc(&g, TXQ, a, pa, 12, VRING_DESC_F_NEXT, b);
		g_desc(&g, TXQ, b, pa + 12, 64, VRING_DESC_F_WRITE, 0);
		tx_bad(&g, a, tag, 10);
		/* a chain longer than the ring: a loop through every entry */
		if (n <= 64) {
			uint16_t first = g_new_desc(&g, TXQ), prev = first;

			for (unsigned i = 1; i < n; i++) {
				uint16_t d = (uint16_t)((first + i) % n);

				g_desc(&g, TXQ, prev, pa, 1, VRING_DESC_F_NEXT, d);
				prev = d;
			}
			g_desc(&g, TXQ, prev, pa, 1, VRING_DESC_F_NEXT, first);
			tx_bad(&g, first, tag, 11);
			g.next_desc[TXQ] = (uint16_t)((first + 1) % n);
		}
		/* indirect tables */
		{
			struct vring_desc *t = g_alloc(&g, 16ull * (n + 2), 16);
			struct vring_desc *t2 = g_alloc(&g, 64, 16);
			uint64_t ta = g_gpa(&g, t);
			const struct {
				uint64_t addr;
				uint32_t len;
				uint16_t flags;
			} ind[] = {
				{ ta, 0, VRING_DESC_F_INDIRECT },
				{ ta, 15, VRING_DESC_F_INDIRECT },
				{ ta, 17, VRING_DESC_F_INDIRECT },
				{ ta, 16u * (n + 1), VRING_DESC_F_INDIRECT },
				{ ta, 0xfffffff0u, VRING_DESC_F_INDIRECT },
				{ 0, 32, VRING_DESC_F_INDIRECT },
				{ g_gpa_end(&g) - 16, 32, VRING_DESC_F_INDIRECT },
				{ UINT64_MAX - 15, 32, VRING_DESC_F_INDIRECT },
				{ ta + 1, 32, VRING_DESC_F_INDIRECT },
				{ ta, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT },
				{ ta, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE },
			};

			/* t: entry 0 nested indirect (t2), entry 1 loops. */
			g_desc_at(&g, &t[0], g_gpa(&g, t2), 32, VRING_DESC_F_INDIRECT, 0);
			g_desc_at(&g, &t[1], pa, 12, VRING_DESC_F_NEXT, 1);
			g_desc_at(&g, &t2[0], pa, 12 + 64, 0, 0);
			for (unsigned i = 0; i < sizeof(ind) / sizeof(ind[0]); i++) {
				a = g_new_desc(&g, TXQ);
				g_desc(&g, TXQ, a, ind[i].addr, ind[i].len, ind[i].flags, 0);
				tx_bad(&g, a, tag, 12);
			}
			/* a table whose entry 0 loops on itself / leaves it */
			{
				struct vring_desc *t3 = g_alloc(&g, 32, 16);

				g_desc_at(&g, &t3[0], pa, 4, VRING_DESC_F_NEXT, 0);
				g_desc_at(&g, &t3[1], pa, 4, VRING_DESC_F_NEXT, 2);
				a = g_new_desc(&g, TXQ);
				g_desc(&g, TXQ, a, g_gpa(&g, t3), 32, VRING_DESC_F_INDIRECT, 0);
				tx_bad(&g, a, tag, 13);
				a = g_new_desc(&g, TXQ);
				g_desc(&g, TXQ, a, g_gpa(&g, t3) + 16, 16,
				       VRING_DESC_F_INDIRECT, 0);
				tx_bad(&g, a, tag, 14);
			}
			/* nested via entry 0 of t, loop via t + 16 */
			a = g_new_desc(&g, TXQ);
			g_desc(&g, TXQ, a, ta, 16, VRING_DESC_F_INDIRECT, 0);
			tx_bad(&g, a, tag, 15);
			a = g_new_desc(&g, TXQ);
			g_desc(&g, TXQ, a, ta + 16, 16, VRING_DESC_F_INDIRECT, 0);
			tx_bad(&g, a, tag, 16);
		}
	}
	/* The good packet, last. */
	tx_post(&g, &h0, frame, sizeof(frame), NULL, 0);
	g_publish(&g, TXQ);
	if (!g_wait_rx(&g, frame, sizeof(frame), WAIT_MS, NULL))
		fail("%s: good packet after the bad chains did not come back", tag);
	g_settle(&g, 30);
	if (g.rx_other)
		fail("%s: %u bad chain(s) were forwarded as packets", tag, g.rx_other);
	g_finish(&g, tag);
}

/* Bad RX chains ahead of good buffers: the packet must land in a good one
 * and nothing be written into buffers offered device-readable. */
static void bad_rx_chains(const struct fe_opts *o, const char *tag)
{
	struct guest g;
	char why[256];
	uint8_t frame[64];
	nethdr h0 = { 0 };
	uint16_t a, b;
	uint8_t *buf;

	if (!g_open(&g, o, why, sizeof(why))) {
		fail("%s: %s", tag, why);
		g_free(&g);
		return;
	}
	buf = g_alloc(&g, RXBUF, 64); /* device-readable: not allowed */
	/* readable buffer offered for receive */
	a = g_new_desc(&g, RXQ);
	g_desc(&g, RXQ, a, g_gpa(&g, buf), RXBUF, 0, 0);
	g_avail(&g, RXQ, a);
	/* writable then readable */
	a = g_new_desc(&g, RXQ);
	b = g_new_desc(&g, RXQ);
	{
		uint8_t *w = g_alloc(&g, 64, 64);

		g_desc(&g, RXQ, a, g_gpa(&g, w), 64, VRING_DESC_F_WRITE |
		       VRING_DESC_F_NEXT, b);
		g_allow(&g, w, 64);
		g.rxcap[a] = 64 + RXBUF;
	}
	g_desc(&g, RXQ, b, g_gpa(&g, buf), RXBUF, VRING_DESC_F_NEXT, a);
	g_avail(&g, RXQ, a);
	/* a loop of writable empty buffers (heads out of range break the
	 * ring: tests/unit/test_ring_hardening.c) */
	{
		uint8_t *w = g_alloc(&g, 8, 8);

		a = g_new_desc(&g, RXQ);
		b = g_new_desc(&g, RXQ);
		g_desc(&g, RXQ, a, g_gpa(&g, w), 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, b);
		g_desc(&g, RXQ, b, g_gpa(&g, w) + 4, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, a);
		g.rxcap[a] = 0;
		g_avail(&g, RXQ, a);
	}
	/* nested indirect on RX, indirect of bad length */
	{
		struct vring_desc *t = g_alloc(&g, 32, 16);
		struct vring_desc *t2 = g_alloc(&g, 16, 16);

		g_desc_at(&g, &t[0], g_gpa(&g, t2), 16, VRING_DESC_F_INDIRECT, 0);
		g_desc_at(&g, &t2[0], g_gpa(&g, buf), RXBUF, VRING_DESC_F_WRITE, 0);
		a = g_new_desc(&g, RXQ);
		g_desc(&g, RXQ, a, g_gpa(&g, t), 32, VRING_DESC_F_INDIRECT, 0);
		g_avail(&g, RXQ, a);
		a = g_new_desc(&g, RXQ);
		g_desc(&g, RXQ, a, g_gpa(&g, t), 24, VRING_DESC_F_INDIRECT, 0);
		g_avail(&g, RXQ, a);
	}
	/* a writable buffer of 4 bytes (shorter than any header); without
	 * MRG_RXBUF a too-small buffer blocks the guest's own queue. */
	if (g.fe.features & F(VIRTIO_NET_F_MRG_RXBUF)) {
		uint8_t *w = g_alloc(&g, 4, 4);

		a = g_new_desc(&g, RXQ);
		g_desc(&g, RXQ, a, g_gpa(&g, w), 4, VRING_DESC_F_WRITE, 0);
		g_allow(&g, w, 4);
		g.rxcap[a] = 4;
		g_avail(&g, RXQ, a);
	}
	/* then good buffers */
	for (unsigned i = 0; i < 4; i++)
		rx_post(&g, RXBUF);
	g_publish(&g, RXQ);
	mkframe(frame, sizeof(frame), 300);
	tx_post(&g, &h0, frame, sizeof(frame), NULL, 0);
	g_publish(&g, TXQ);
	if (!g_wait_rx(&g, frame, sizeof(frame), WAIT_MS, NULL))
		fail("%s: packet did not land in a good RX buffer after bad ones (TX used %u of %u, RX used %u of %u, rx_other %u)", tag, g_used_idx(&g, TXQ), g.fe.vr[TXQ].avail_idx, g_used_idx(&g, RXQ), g.fe.vr[RXQ].avail_idx, g.rx_other);
	g_settle(&g, 30);
	g_finish(&g, tag);
}

/* A looped RX chain whose buffers fill up before the loop shows: it must
 * still be refused (returned with length 0), as Linux vhost and DPDK do,
 * and nothing written outside the 8 bytes. */
static void rx_loop_with_room(void)
{
	struct guest g;
	char why[256];
	uint8_t frame[64];
	nethdr h0 = { 0 };
	uint8_t *w;
	uint16_t a, b;

	if (!g_open(&g, NULL, why, sizeof(why))) {
		fail("RX loop: %s", why);
		g_free(&g);
		return;
	}
	w = g_alloc(&g, 8, 8);
	a = g_new_desc(&g, RXQ);
	b = g_new_desc(&g, RXQ);
	g_desc(&g, RXQ, a, g_gpa(&g, w), 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, b);
	g_desc(&g, RXQ, b, g_gpa(&g, w) + 4, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, a);
	g_allow(&g, w, 8);
	g.rxcap[a] = 0xffffffffu;
	g_avail(&g, RXQ, a);
	rx_post(&g, RXBUF);
	g_publish(&g, RXQ);
	mkframe(frame, sizeof(frame), 350);
	tx_post(&g, &h0, frame, sizeof(frame), NULL, 0);
	g_publish(&g, TXQ);
	g_settle(&g, 50);
	/* The whole chain is walked even when the packet fits early: the
	 * loop is found and the chain returned empty. */
	if (g.fe.vr[RXQ].used->ring[0].id == a &&
	    g.fe.vr[RXQ].used->ring[0].len != 0)
		fail("%s: a looped RX chain of 2 x 4 bytes was accepted; used len %u reported for 8 bytes of buffers",
		     cls, g.fe.vr[RXQ].used->ring[0].len);
	g_finish(&g, "RX loop with room");
}

/* The avail index moved by more than the ring size: the ring must stop,
 * nothing be written, and the process go on. */
static void avail_jump(int16_t delta, const char *tag)
{
	struct guest g;
	char why[256];
	uint8_t frame[64];
	nethdr h0 = { 0 };

	if (!g_open(&g, NULL, why, sizeof(why))) {
		fail("%s: %s", tag, why);
		g_free(&g);
		return;
	}
	for (unsigned i = 0; i < 4; i++)
		rx_post(&g, RXBUF);
	g_publish(&g, RXQ);
	mkframe(frame, sizeof(frame), 400);
	tx_post(&g, &h0, frame, sizeof(frame), NULL, 0);
	g.fe.vr[TXQ].avail_idx = (uint16_t)(g.fe.vr[TXQ].avail_idx + delta);
	g_publish(&g, TXQ);
	sleep_ms(50);
	if (g_used_idx(&g, TXQ) != 0)
		fail("%s: the back-end consumed from a ring whose avail index jumped (used %u)",
		     tag, g_used_idx(&g, TXQ));
	/* Also on RX: jump RX, then send a good-looking packet. */
	g.fe.vr[RXQ].avail_idx = (uint16_t)(g.fe.vr[RXQ].avail_idx + 1000);
	g_publish(&g, RXQ);
	sleep_ms(30);
	/* Everything posted is unusable; the memory check below sees stray
	 * writes. The used rings are allowed; nothing else. */
	g_finish(&g, tag);
}

static void test_desc_chains(void)
{
	struct fe_opts big = { .mem_size = GMEM };
	struct fe_opts small = { .mem_size = GMEM, .ring_size = 8 };
	struct fe_opts no_ind = { .mem_size = GMEM,
				  .features_mask = ~F(VIRTIO_RING_F_INDIRECT_DESC) };
	struct fe_opts no_mrg = { .mem_size = GMEM,
				  .features_mask = ~F(VIRTIO_NET_F_MRG_RXBUF) };
	struct fe_opts legacy = { .mem_size = GMEM,
				  .features_mask = ~(F(VIRTIO_NET_F_MRG_RXBUF) |
						     F(VIRTIO_F_VERSION_1)) };

	bad_tx_chains(&big, "TX, ring 256");
	bad_tx_chains(&small, "TX, ring 8");
	bad_tx_chains(&no_ind, "TX, no INDIRECT_DESC");
	bad_rx_chains(&big, "RX, mergeable");
	bad_rx_chains(&no_mrg, "RX, not mergeable");
	bad_rx_chains(&legacy, "RX, legacy header");
	rx_loop_with_room();
	avail_jump(257, "avail index +257");
	avail_jump(-2, "avail index moved back");
	avail_jump(0x7fff, "avail index +32767");
}

/* --- 10. messages: truncated, oversized, unknown, out of order --------- */

static void raw_then_expect_closed(const void *buf, size_t len, const char *what)
{
	struct fe fe;

	if (be_pid <= 0)
		return;

	fe_init(&fe);
	if (fe_connect(&fe, sock_path, WAIT_MS)) {
		fail("%s: connect", what);
		return;
	}
	if (send_raw(fe.fd, buf, len, NULL, 0) != (ssize_t)len) {
		fe_close(&fe);
		return; /* already closed on us: fine */
	}
	if (probe(&fe) != O_CLOSED)
		fail("%s: connection not closed", what);
	fe_close(&fe);
}

static void test_messages(void)
{
	char what[128];

	/* Truncated: part of a header / payload, then hang up. */
	{
		struct {
			struct vhost_user_hdr h;
			uint8_t p[64];
		} m = { .h = { VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, 40 } };
		const size_t cuts[] = { 1, 6, 11, 12, 13, 20, 51 };

		for (unsigned i = 0; i < 7; i++) {
			struct fe fe;

			fe_init(&fe);
			if (fe_connect(&fe, sock_path, WAIT_MS))
				break;
			send_raw(fe.fd, &m, cuts[i], NULL, 0);
			sleep_ms(5);
			fe_close(&fe);
		}
	}
	/* Oversized, bad version, reply flag, size not as defined. */
	{
		const struct vhost_user_hdr hs[] = {
			{ VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, 0xffffffffu },
			{ VHOST_USER_SET_MEM_TABLE, VHOST_USER_VERSION, 4096 },
			{ VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, 0x80000000u },
			{ VHOST_USER_GET_FEATURES, 0, 0 },
			{ VHOST_USER_GET_FEATURES, 2, 0 },
			{ VHOST_USER_GET_FEATURES, 3, 0 },
			{ VHOST_USER_GET_FEATURES, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK, 0 },
		};

		for (unsigned i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
			uint8_t buf[12 + 300] = { 0 };

			memcpy(buf, &hs[i], sizeof(hs[i]));
			snprintf(what, sizeof(what), "header req %u flags 0x%x size %u",
				 hs[i].request, hs[i].flags, hs[i].size);
			raw_then_expect_closed(buf, sizeof(buf), what);
		}
	}
	/* Wrong payload sizes and unknown requests (acked: refused). */
	{
		struct hconn h = { .pf_mask = ~0ull, .flags = HC_PROTO | HC_FEAT };
		uint8_t big[268] = { 0 };
		const uint32_t unknown[] = { 0, 41, 42, 100, 1000, 0x7fffffff,
					     0xffffffffu, VHOST_USER_MAX_REQUEST };
		const struct {
			uint32_t req, size;
		} sizes[] = {
			{ VHOST_USER_SET_FEATURES, 0 }, { VHOST_USER_SET_FEATURES, 4 },
			{ VHOST_USER_SET_FEATURES, 16 },
			{ VHOST_USER_SET_VRING_NUM, 4 }, { VHOST_USER_SET_VRING_NUM, 12 },
			{ VHOST_USER_SET_VRING_ADDR, 8 }, { VHOST_USER_SET_VRING_ADDR, 268 },
			{ VHOST_USER_SET_MEM_TABLE, 4 }, { VHOST_USER_SET_MEM_TABLE, 8 },
			{ VHOST_USER_ADD_MEM_REG, 32 }, { VHOST_USER_SET_STATUS, 1 },
		};

		for (unsigned i = 0; i < sizeof(unknown) / 4; i++) {
			snprintf(what, sizeof(what), "unknown request %u", unknown[i]);
			hc_expect(&h, REFUSE, what, unknown[i], big, 8, NULL, 0);
		}
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			snprintf(what, sizeof(what), "request %u with %u payload bytes",
				 sizes[i].req, sizes[i].size);
			hc_expect(&h, REFUSE, what, sizes[i].req, big, sizes[i].size,
				  NULL, 0);
		}
		hc_close(&h);
	}
	/* Out of order: ring messages before features or memory, a kick
	 * before anything, inflight before any vring, status first. */
	{
		struct hconn h = { .flags = 0 };
		uint64_t v = 0, st = VIRTIO_CONFIG_S_DRIVER_OK | 0xf;
		struct vhost_user_vring_addr a = { .index = 0, .desc_user_addr = 0x1000,
						   .avail_user_addr = 0x2000,
						   .used_user_addr = 0x3000 };
		struct vhost_user_vring_state s = { 0, 256 };
		struct vhost_user_inflight inf = { .num_queues = 2, .queue_size = 256 };
		int efd = mk_eventfd();

		hc_expect(&h, TOLERATE, "SET_VRING_KICK first", VHOST_USER_SET_VRING_KICK,
			  &v, 8, &efd, 1);
		hc_expect(&h, TOLERATE, "SET_VRING_CALL first", VHOST_USER_SET_VRING_CALL,
			  &v, 8, &efd, 1);
		hc_expect(&h, TOLERATE, "SET_VRING_ADDR before memory",
			  VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
		hc_expect(&h, TOLERATE, "SET_VRING_NUM after addr",
			  VHOST_USER_SET_VRING_NUM, &s, sizeof(s), NULL, 0);
		hc_expect(&h, TOLERATE, "GET_VRING_BASE of an unset ring",
			  VHOST_USER_GET_VRING_BASE, &s, sizeof(s), NULL, 0);
		hc_expect(&h, TOLERATE, "SET_STATUS before features",
			  VHOST_USER_SET_STATUS, &st, 8, NULL, 0);
		hc_expect(&h, TOLERATE, "GET_INFLIGHT_FD before any vring",
			  VHOST_USER_GET_INFLIGHT_FD, &inf, sizeof(inf), NULL, 0);
		hc_expect(&h, TOLERATE, "RESET_OWNER first", VHOST_USER_RESET_OWNER,
			  NULL, 0, NULL, 0);
		hc_expect(&h, TOLERATE, "SET_FEATURES twice", VHOST_USER_SET_FEATURES,
			  &v, 8, NULL, 0);
		hc_close(&h);
		h.flags = HC_PROTO | HC_FEAT;
		h.pf_mask = ~0ull;
		hc_expect(&h, TOLERATE, "GET_INFLIGHT_FD before any vring (negotiated)",
			  VHOST_USER_GET_INFLIGHT_FD, &inf, sizeof(inf), NULL, 0);
		hc_expect(&h, TOLERATE, "SET_VRING_KICK before memory",
			  VHOST_USER_SET_VRING_KICK, &v, 8, &efd, 1);
		hc_expect(&h, TOLERATE, "REM_MEM_REG with no table",
			  VHOST_USER_REM_MEM_REG, &(struct vhost_user_single_mem_region){ 0 },
			  sizeof(struct vhost_user_single_mem_region), NULL, 0);
		hc_close(&h);
		close(efd);
	}
	/* Slow front-ends: ten connections stuck in the middle of a message
	 * must not keep a fresh one from being served. */
	{
		struct fe slow[10];
		struct vhost_user_hdr hdr = { VHOST_USER_GET_FEATURES,
					      VHOST_USER_VERSION, 0 };
		char why[256];
		unsigned k = 0;

		for (; k < 10; k++) {
			fe_init(&slow[k]);
			if (fe_connect(&slow[k], sock_path, WAIT_MS))
				break;
			send_raw(slow[k].fd, &hdr, 1 + k % 11, NULL, 0);
		}
		if (!roundtrip_fds(why, sizeof(why), false))
			fail("fresh connection while 10 are mid-message: %s", why);
		for (unsigned i = 0; i < k; i++)
			fe_close(&slow[i]);
	}
	/* A request sent one byte at a time is still answered. */
	{
		struct fe fe;
		struct vhost_user_hdr hdr = { VHOST_USER_GET_FEATURES,
					      VHOST_USER_VERSION, 0 };
		struct vhost_msg m;

		fe_init(&fe);
		if (!fe_connect(&fe, sock_path, WAIT_MS)) {
			for (unsigned i = 0; i < sizeof(hdr); i++) {
				send_raw(fe.fd, (uint8_t *)&hdr + i, 1, NULL, 0);
				sleep_ms(2);
			}
			if (fe_recv(&fe, &m, WAIT_MS))
				fail("byte-by-byte GET_FEATURES not answered");
			else
				msg_close_fds(&m);
		}
		fe_close(&fe);
	}
	/* A front-end that never reads its replies: the back-end must not
	 * block on it (a fresh connection is served meanwhile). */
	{
		struct fe fe;
		struct vhost_user_hdr hdr = { VHOST_USER_GET_FEATURES,
					      VHOST_USER_VERSION, 0 };
		char why[256];
		uint64_t end = now_ms() + 2000;
		unsigned sent = 0;

		fe_init(&fe);
		if (!fe_connect(&fe, sock_path, WAIT_MS)) {
			while (sent < 40000 && now_ms() < end) {
				ssize_t r = send_raw(fe.fd, &hdr, sizeof(hdr), NULL, 0);

				if (r < 0 && errno == EAGAIN) {
					usleep(1000);
					continue;
				}
				if (r < 0)
					break;
				sent++;
			}
			if (!roundtrip_fds(why, sizeof(why), false))
				fail("fresh connection while one never reads: %s", why);
		}
		fe_close(&fe);
	}
	/* Running device: memory removed or replaced, and reset, while
	 * packets flow. */
	for (unsigned v = 0; v < 3; v++) {
		struct guest g;
		char why[256];
		nethdr h0 = { 0 };
		uint8_t frame[64];
		const char *tag = v == 0 ? "RESET_OWNER mid-traffic" :
				  v == 1 ? "REM_MEM_REG of the ring memory mid-traffic" :
				  "SET_MEM_TABLE replaced mid-traffic";

		if (!g_open(&g, NULL, why, sizeof(why))) {
			fail("%s: %s", tag, why);
			g_free(&g);
			continue;
		}
		for (unsigned i = 0; i < 64; i++)
			rx_post(&g, RXBUF);
		g_publish(&g, RXQ);
		for (unsigned i = 0; i < 32; i++) {
			mkframe(frame, sizeof(frame), 500 + i);
			tx_post(&g, &h0, frame, sizeof(frame), NULL, 0);
		}
		g_publish(&g, TXQ);
		{
			enum outcome o;
			struct vhost_user_memory m = { .nregions = 1 };
			struct vhost_user_single_mem_region r1 = { 0 };
			int nfd = -1;

			m.regions[0] = region(FE_GPA_BASE, g.fe.mem_size,
					      (uint64_t)(uintptr_t)g.fe.mem, 0);
			r1.region = m.regions[0];
			if (v == 0) {
				o = send_req(&g.fe, VHOST_USER_RESET_OWNER, 0, NULL, 0,
					     NULL, 0);
			} else if (v == 1) {
				o = send_req(&g.fe, VHOST_USER_REM_MEM_REG, 0, &r1,
					     sizeof(r1), NULL, 0);
			} else {
				/* Another file at the same front-end address
				 * (the rings move to it), at another gpa. */
				nfd = mk_memfd(g.fe.mem_size);
				m.regions[0].guest_phys_addr += 1ull << 32;
				o = send_req(&g.fe, VHOST_USER_SET_MEM_TABLE, 0, &m,
					     8 + sizeof(m.regions[0]), &nfd, 1);
				close(nfd);
			}
			if (o == O_HANG || o == O_ODD)
				fail("%s: %s", tag, oname[o]);
		}
		for (unsigned i = 0; i < 16; i++) {
			mkframe(frame, sizeof(frame), 600 + i);
			tx_post(&g, &h0, frame, sizeof(frame), NULL, 0);
		}
		g_publish(&g, TXQ);
		g_settle(&g, 30);
		g_finish(&g, tag);
	}
}

/* ================================================================= main */

int main(int argc, char **argv)
{
	const uint64_t t0 = now_ms();
	struct sigaction sa = { 0 };
	struct stat stt;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH-TO-vhost-fwd [class]\n", argv[0]);
		return 2;
	}
	fwd_bin = argv[1];
	only = argc > 2 ? argv[2] : NULL;
	if (stat(fwd_bin, &stt) || !(stt.st_mode & S_IXUSR)) {
		printf("FAIL setup: %s is not an executable\n", fwd_bin);
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "/tmp/vhost-hostile-%d.sock",
		 (int)getpid());
	snprintf(err_path, sizeof(err_path), "/tmp/vhost-hostile-%d.stderr",
		 (int)getpid());
	snprintf(out_path, sizeof(out_path), "/tmp/vhost-hostile-%d.stdout",
		 (int)getpid());
	unlink(err_path);
	unlink(out_path);
	atexit(at_exit);
	sa.sa_handler = on_fatal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGABRT, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm(240);

	cls = "setup";
	be_start();
	if (base_fds <= 0) {
		printf("FAIL setup: cannot read /proc/%d/fd\n", (int)be_pid);
		return 1;
	}
	fprintf(stderr, "back-end pid %d on %s, %d fds, stderr in %s\n",
		(int)be_pid, sock_path, base_fds, err_path);

	if (class_begin("vring-index-out-of-range")) {
		test_vring_index();
		class_end();
	}
	if (class_begin("log-base-overflow")) {
		test_log_base();
		class_end();
	}
	if (class_begin("inflight-fd-huge")) {
		test_inflight();
		class_end();
	}
	if (class_begin("fd-count-mismatch")) {
		test_fd_mismatch();
		class_end();
	}
	if (class_begin("memory-regions")) {
		test_mem_regions();
		class_end();
	}
	if (class_begin("ring-translation-crosses-memory-end")) {
		test_ring_translation();
		class_end();
	}
	if (class_begin("net-header")) {
		test_net_hdr();
		class_end();
	}
	if (class_begin("net-header-changed-while-running")) {
		test_header_race();
		class_end();
	}
	if (class_begin("descriptor-chains")) {
		test_desc_chains();
		class_end();
	}
	if (class_begin("messages-malformed-out-of-order")) {
		test_messages();
		class_end();
	}

	/* A clean exit: SIGINT, the JSON summary, no leak report. */
	cls = "back-end exit";
	cls_fails = 0;
	if (be_pid > 0) {
		pid_t p = be_pid;
		int st = 0;
		uint64_t end = now_ms() + 10000;
		pid_t r = 0;

		kill(p, SIGINT);
		while (now_ms() < end && (r = waitpid(p, &st, WNOHANG)) == 0)
			sleep_ms(10);
		if (r == 0) {
			fail("back-end did not exit within 10 s of SIGINT");
			kill(p, SIGKILL);
			waitpid(p, &st, 0);
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fail("back-end exit status 0x%x", st);
		}
		be_pid = -1;
		be_scan_stderr();
		printf("%s back-end exit%s%s\n", cls_fails ? "FAIL" : "ok  ",
		       cls_fails ? ": " : "", cls_fails ? cls_reason : "");
		if (cls_fails)
			total_fails++;
	}
	if (be_starts > 1)
		fprintf(stderr, "the back-end was started %d times\n", be_starts);
	printf("hostile: %d class(es) failed, %.1f s\n", total_fails,
	       (double)(now_ms() - t0) / 1000.0);
	if (!total_fails) {
		unlink(err_path);
		unlink(out_path);
	} else {
		fprintf(stderr, "back-end stderr kept in %s\n", err_path);
	}
	return total_fails ? 1 : 0;
}
