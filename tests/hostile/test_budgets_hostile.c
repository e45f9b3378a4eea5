/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-peer budgets against a real vhost-fwd process (mac mode, interrupt
 * mode, RLIMIT_NOFILE 1024 as a default system gives): front-ends that try
 * to exhaust what the whole process has, then a normal front-end that must
 * still connect and move a packet while the hostile ones stay connected.
 *
 *   many-regions   3 connections each add regions up to 509 (ADD_MEM_REG);
 *                  each is stopped at its budget, the back-end's fd count
 *                  does not grow with the regions (one fd per region used to
 *                  exhaust 1024 fds with two such front-ends)
 *   huge-sparse    a sparse 60 TiB memfd (costs no RAM: address space and
 *                  page tables) and 2 TiB regions are refused
 *   partial-fds    connections that leave a message half sent with fds
 *                  attached hold at most 8 fds each
 *
 * Usage: test_budgets_hostile PATH-TO-vhost-fwd
 * Prints "ok   <class>" or "FAIL <class>: reason"; exit status 1 on any
 * failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frontend.h"

#define WAIT_MS 5000
#define NOFILE 1024
#define NHOSTILE 3
#define G_ADD 0x100000000ull   /* added regions: gpa */
#define U_ADD 0x7000000000ull  /* added regions: front-end address */
#define TiB (1ull << 40)

static const char *cls = "-";
static int cls_fails, total_fails;
static char cls_reason[256];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "    [%s] %s\n", cls, buf);
	if (!cls_fails++)
		snprintf(cls_reason, sizeof(cls_reason), "%s", buf);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------ back-end process */

static char sock_path[108], err_path[128];
static pid_t be_pid = -1;
static int base_fds;

static void be_kill(void)
{
	if (be_pid > 0) {
		kill(be_pid, SIGKILL);
		waitpid(be_pid, NULL, 0);
	}
	be_pid = -1;
	unlink(sock_path);
}

static int be_nfds(void)
{
	char dir[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)be_pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool be_alive(void)
{
	int st;

	if (be_pid > 0 && waitpid(be_pid, &st, WNOHANG) == be_pid) {
		fail("back-end died (%s %d)",
		     WIFSIGNALED(st) ? "signal" : "status",
		     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		be_pid = -1;
	}
	return be_pid > 0;
}

/* Wait until the back-end's fd count is at most want (true), or ms. */
static bool be_wait_fds_at_most(int want, int ms, int *got)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	for (;;) {
		*got = be_nfds();
		if (*got <= want || now_ms() >= end)
			return *got <= want;
		usleep(5000);
	}
}

static bool roundtrip(char *why, size_t n);

static void be_start(const char *bin)
{
	pid_t parent = getpid();
	struct fe probe;
	char why[256];

	be_kill();
	be_pid = fork();
	if (be_pid < 0) {
		perror("fork");
		exit(2);
	}
	if (be_pid == 0) {
		struct rlimit rl = { NOFILE, NOFILE };
		int e = open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		/* What a default system gives a process (QEMU peers
		 * included); lowering it needs no privilege. */
		setrlimit(RLIMIT_NOFILE, &rl);
		if (e >= 0) {
			dup2(e, 2);
			dup2(e, 1);
			close(e);
		}
		execl(bin, "vhost-fwd", "--socket", sock_path, "--mode", "mac",
		      "--interrupt", (char *)NULL);
		_exit(127);
	}
	fe_init(&probe);
	if (fe_connect(&probe, sock_path, 10000)) {
		printf("FAIL setup: back-end %s did not start\n", bin);
		be_kill();
		exit(1);
	}
	fe_close(&probe);
	if (!roundtrip(why, sizeof(why))) {
		printf("FAIL setup: warm-up round trip: %s\n", why);
		be_kill();
		exit(1);
	}
	/* The baseline: the fd count once it stops moving. */
	{
		int last = -1, same = 0;
		uint64_t end = now_ms() + 3000;

		while (same < 3 && now_ms() < end) {
			int k = be_nfds();

			same = k == last ? same + 1 : 0;
			last = k;
			usleep(50000);
		}
		base_fds = last;
	}
}

/* ------------------------------------------------------- front-ends */

/* A normal front-end: full handshake, one packet out on the TX queue
 * comes back on the RX queue with its MACs swapped. */
static bool roundtrip(char *why, size_t n)
{
	static const uint8_t frame[64] = {
		0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,
		0x45, 1, 2, 3, 4, 5, 6, 7, 8, 9,
	};
	const uint32_t hl = 12; /* VERSION_1 */
	struct fe fe;
	struct fe_vring *rx, *tx;
	uint8_t *rbuf, *tbuf;
	uint64_t one = 1, end;
	bool ok = false;

	fe_init(&fe);
	if (fe_connect(&fe, sock_path, WAIT_MS) || fe_handshake(&fe, NULL)) {
		snprintf(why, n, "handshake failed");
		goto out;
	}
	rx = &fe.vr[0];
	tx = &fe.vr[1];
	rbuf = fe_alloc(&fe, 2048, 64);
	tbuf = fe_alloc(&fe, hl + sizeof(frame), 64);
	if (!rbuf || !tbuf) {
		snprintf(why, n, "guest memory");
		goto out;
	}
	rx->desc[0].addr = fe_gpa(&fe, rbuf);
	rx->desc[0].len = 2048;
	rx->desc[0].flags = VRING_DESC_F_WRITE;
	rx->avail->ring[0] = 0;
	__atomic_store_n(&rx->avail->idx, 1, __ATOMIC_RELEASE);
	memcpy(tbuf + hl, frame, sizeof(frame));
	tx->desc[0].addr = fe_gpa(&fe, tbuf);
	tx->desc[0].len = hl + sizeof(frame);
	tx->avail->ring[0] = 0;
	__atomic_store_n(&tx->avail->idx, 1, __ATOMIC_RELEASE);
	if (write(rx->kickfd, &one, 8) != 8 || write(tx->kickfd, &one, 8) != 8) {
		snprintf(why, n, "kick: %s", strerror(errno));
		goto out;
	}
	end = now_ms() + WAIT_MS;
	while (__atomic_load_n(&rx->used->idx, __ATOMIC_ACQUIRE) == 0 &&
	       now_ms() < end)
		usleep(1000);
	if (__atomic_load_n(&rx->used->idx, __ATOMIC_ACQUIRE) == 0) {
		snprintf(why, n, "packet did not come back (TX used %u)",
			 tx->used->idx);
		goto out;
	}
	if (rx->used->ring[0].len != hl + sizeof(frame) ||
	    memcmp(rbuf + hl, frame + 6, 6) || memcmp(rbuf + hl + 6, frame, 6) ||
	    memcmp(rbuf + hl + 12, frame + 12, sizeof(frame) - 12)) {
		snprintf(why, n, "packet came back wrong (len %u)",
			 rx->used->ring[0].len);
		goto out;
	}
	ok = true;
out:
	fe_close(&fe);
	return ok;
}

/* A hostile front-end: negotiated, memory table set, no ring running (the
 * port keeps room for the normal device). */
static bool hostile_open(struct fe *fe)
{
	struct fe_opts o = { .nvrings = 2, .no_status = true };

	fe_init(fe);
	return fe_connect(fe, sock_path, WAIT_MS) == 0 &&
	       fe_handshake(fe, &o) == 0;
}

static int mk_memfd(uint64_t size)
{
	int fd = memfd_create("budget-hostile", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int add_region(struct fe *fe, unsigned i, uint64_t size, int fd,
		      uint64_t off)
{
	struct vhost_user_single_mem_region r = { 0 };

	r.region.guest_phys_addr = G_ADD + (uint64_t)i * (1ull << 24);
	r.region.userspace_addr = U_ADD + (uint64_t)i * (1ull << 24);
	r.region.memory_size = size;
	r.region.mmap_offset = off;
	return fe_request(fe, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), &fd, 1);
}

/* After a class: the normal front-end works while the hostile ones are
 * still connected, and the back-end is alive. */
static void check_normal(void)
{
	char why[256];

	if (!be_alive())
		return;
	if (!roundtrip(why, sizeof(why)))
		fail("normal front-end beside the hostile ones: %s", why);
}

static void class_end(void)
{
	int got;

	if (be_alive() && !be_wait_fds_at_most(base_fds, WAIT_MS, &got))
		fail("back-end fds after the class: %d, baseline %d", got,
		     base_fds);
	if (cls_fails)
		printf("FAIL %s: %s\n", cls, cls_reason);
	else
		printf("ok   %s\n", cls);
	fflush(stdout);
	total_fails += cls_fails;
	cls_fails = 0;
}

static void test_many_regions(void)
{
	struct fe fe[NHOSTILE];
	int mfd = mk_memfd(1 << 20), got;
	unsigned most = 0;

	cls = "many-regions";
	for (int c = 0; c < NHOSTILE; c++) {
		uint64_t slots = 0;
		unsigned added = 0;
		int ret = 0;

		if (!hostile_open(&fe[c])) {
			fail("hostile front-end %d: handshake failed", c);
			continue;
		}
		fe_get_u64(&fe[c], VHOST_USER_GET_MAX_MEM_SLOTS, &slots);
		/* Past the reported slots, to the protocol's 509; an attacker
		 * that wants the others locked out stops when the process
		 * is nearly out of fds (if one region took one fd, the
		 * next connection would find none). */
		for (unsigned i = 1; i < 509; i++) {
			if (be_nfds() >= NOFILE - 4)
				break;
			ret = add_region(&fe[c], i, 4096, mfd,
					 (i % 256) * 4096ull);
			if (ret)
				break;
			added++;
		}
		if (added + 1 > slots)
			fail("front-end %d: %u regions mapped, %llu slots reported",
			     c, added + 1, (unsigned long long)slots);
		if (!ret && added == 508)
			fail("front-end %d: 509 regions accepted", c);
		if (added > most)
			most = added;
		fprintf(stderr, "    [%s] front-end %d: %u regions added, then %s\n",
			cls, c, added, ret ? strerror(-ret) : "none refused");
	}
	/* The regions hold no fds: a socket and its ring eventfds each. */
	got = be_nfds();
	if (got > base_fds + NHOSTILE * 8)
		fail("back-end holds %d fds with %d hostile connections of %u+ regions (baseline %d)",
		     got, NHOSTILE, most, base_fds);
	check_normal();
	for (int c = 0; c < NHOSTILE; c++)
		fe_close(&fe[c]);
	close(mfd);
	class_end();
}

static void test_huge_sparse(void)
{
	static const uint64_t sizes[] = { 60 * TiB, 2 * TiB, TiB + 4096 };
	struct fe fe;

	cls = "huge-sparse";
	if (!hostile_open(&fe)) {
		fail("hostile front-end: handshake failed");
		class_end();
		return;
	}
	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct vhost_user_memory m = { .nregions = 1 };
		int fd = mk_memfd(sizes[k]);
		int ret;

		if (fd < 0) {
			fail("memfd of %llu bytes: %s",
			     (unsigned long long)sizes[k], strerror(errno));
			continue;
		}
		m.regions[0].guest_phys_addr = G_ADD;
		m.regions[0].memory_size = sizes[k];
		m.regions[0].userspace_addr = U_ADD;
		ret = fe_request(&fe, VHOST_USER_SET_MEM_TABLE, &m,
				 8 + sizeof(m.regions[0]), &fd, 1);
		if (ret == 0)
			fail("SET_MEM_TABLE of a sparse %llu GiB file accepted",
			     (unsigned long long)(sizes[k] >> 30));
		if (fe.fd >= 0 && ret == -EIO) {
			ret = add_region(&fe, 1, sizes[k], fd, 0);
			if (ret == 0)
				fail("ADD_MEM_REG of a sparse %llu GiB file accepted",
				     (unsigned long long)(sizes[k] >> 30));
		}
		close(fd);
		if (ret != -EIO) {
			/* Closed by the back-end: go on with a new one. */
			fe_close(&fe);
			if (!hostile_open(&fe))
				break;
		}
	}
	check_normal();
	fe_close(&fe);
	class_end();
}

/* A message left half sent, with 8 fds, then more fds in later pieces:
 * the back-end keeps at most 8 per connection (or closes it). */
static void test_partial_fds(void)
{
	struct fe fe[NHOSTILE];
	int fds[8], got;

	cls = "partial-fds";
	for (int i = 0; i < 8; i++)
		fds[i] = mk_memfd(4096);
	for (int c = 0; c < NHOSTILE; c++) {
		struct vhost_user_hdr h = {
			.request = VHOST_USER_SET_MEM_TABLE,
			.flags = VHOST_USER_VERSION, .size = 8 + 8 * 32,
		};
		uint8_t body[8] = { 8 };

		fe_init(&fe[c]);
		if (fe_connect(&fe[c], sock_path, WAIT_MS)) {
			fail("connect %d", c);
			continue;
		}
		fe_send_raw(fe[c].fd, &h, sizeof(h), fds, 8, 0);
		for (int k = 0; k < 4; k++)
			fe_send_raw(fe[c].fd, body, 1, fds, 8, 0);
	}
	/* Each connection: its socket and at most 8 fds. */
	if (!be_wait_fds_at_most(base_fds + NHOSTILE * 9, WAIT_MS, &got))
		fail("back-end holds %d fds with %d half-sent messages (baseline %d)",
		     got, NHOSTILE, base_fds);
	check_normal();
	for (int c = 0; c < NHOSTILE; c++)
		fe_close(&fe[c]);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	class_end();
}

/* Sanitizer reports in the back-end's stderr. */
static void be_scan_stderr(void)
{
	static const char *const marks[] = {
		"AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
		"ThreadSanitizer", "runtime error:",
	};
	FILE *f = fopen(err_path, "r");
	char line[512];

	if (!f)
		return;
	cls = "back-end log";
	while (fgets(line, sizeof(line), f))
		for (unsigned i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
			if (strstr(line, marks[i]) && cls_fails < 3)
				fail("sanitizer report: %s", line);
	fclose(f);
	total_fails += cls_fails;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH-TO-vhost-fwd\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(sock_path, sizeof(sock_path), "/tmp/vhost-budget-h-%d.sock",
		 (int)getpid());
	snprintf(err_path, sizeof(err_path), "/tmp/vhost-budget-h-%d.err",
		 (int)getpid());
	alarm(240); /* a watchdog: the default action ends the run */
	be_start(argv[1]);
	test_many_regions();
	test_huge_sparse();
	test_partial_fds();
	if (!be_alive())
		total_fails++;
	be_kill();
	be_scan_stderr();
	if (!total_fails)
		unlink(err_path);
	else
		fprintf(stderr, "back-end log: %s\n", err_path);
	printf("budgets-hostile: %s\n", total_fails ? "FAIL" : "ok");
	return total_fails ? 1 : 0;
}
