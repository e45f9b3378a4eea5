/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory budgets, in process over real sockets with the test
 * front-end: regions and mapped bytes per connection and per context
 * (vhost_ctx_params, vhost_socket_set_mem_limits), GET_MAX_MEM_SLOTS
 * reporting the budget, mapped bytes counted after rounding to pages, a
 * sparse 60 TiB file refused, a table replaced at the edge of the budget,
 * budget given back when a connection goes, and no fd kept per region.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <vhost/vhost.h>

#include "check.h"
#include "frontend.h"

#define WAIT_MS 5000
#define MiB (1ull << 20)
#define TiB (1ull << 40)
#define PAGE 4096ull
#define G_ADD 0x100000000ull    /* added regions: gpa */
#define U_ADD 0x7000000000ull   /* added regions: front-end address */

static char sock_path[108];
static _Atomic int n_destroy_conn;

static void cb_destroy_connection(struct vhost_dev *dev)
{
	(void)dev;
	n_destroy_conn++;
}

static const struct vhost_device_ops ops = {
	.destroy_connection = cb_destroy_connection,
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct vhost_socket *start(struct vhost_ctx *ctx, unsigned regions,
				  uint64_t bytes)
{
	struct vhost_socket *s = NULL;

	CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &s), 0);
	if (!s)
		return NULL;
	CHECK_EQ(vhost_socket_set_ops(s, &ops, NULL), 0);
	if (regions || bytes)
		CHECK_EQ(vhost_socket_set_mem_limits(s, regions, bytes), 0);
	CHECK_EQ(vhost_socket_start(s), 0);
	return s;
}

/* A connected front-end after the full handshake (8 MiB, one region). */
static bool open_fe(struct fe *fe)
{
	fe_init(fe);
	if (fe_connect(fe, sock_path, WAIT_MS))
		return false;
	return fe_handshake(fe, NULL) == 0;
}

static int mk_memfd(uint64_t size)
{
	int fd = memfd_create("budget", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ADD_MEM_REG slot i of size bytes from a fresh memfd (closed after:
 * the back-end must not need it). 0, -EIO for an error ack, or -errno. */
static int add_region(struct fe *fe, unsigned i, uint64_t size)
{
	struct vhost_user_single_mem_region r = { 0 };
	int fd = mk_memfd(size), ret;

	if (fd < 0)
		return -errno;
	r.region.guest_phys_addr = G_ADD + (uint64_t)i * 64 * MiB;
	r.region.userspace_addr = U_ADD + (uint64_t)i * 64 * MiB;
	r.region.memory_size = size;
	ret = fe_request(fe, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), &fd, 1);
	close(fd);
	return ret;
}

static int rem_region(struct fe *fe, unsigned i, uint64_t size)
{
	struct vhost_user_single_mem_region r = { 0 };

	r.region.guest_phys_addr = G_ADD + (uint64_t)i * 64 * MiB;
	r.region.userspace_addr = U_ADD + (uint64_t)i * 64 * MiB;
	r.region.memory_size = size;
	return fe_request(fe, VHOST_USER_REM_MEM_REG, &r, sizeof(r), NULL, 0);
}

/* SET_MEM_TABLE of one region of size bytes from a fresh memfd. */
static int set_table(struct fe *fe, uint64_t size)
{
	struct vhost_user_memory m = { .nregions = 1 };
	int fd = mk_memfd(size), ret;

	if (fd < 0)
		return -errno;
	m.regions[0].guest_phys_addr = FE_GPA_BASE;
	m.regions[0].memory_size = size;
	m.regions[0].userspace_addr = 64 * TiB;
	ret = fe_request(fe, VHOST_USER_SET_MEM_TABLE, &m,
			 8 + sizeof(m.regions[0]), &fd, 1);
	close(fd);
	return ret;
}

/* Per connection: GET_MAX_MEM_SLOTS is the region budget; one more is
 * refused, and fits again after a removal; regions keep no fd. */
static void test_conn_regions(void)
{
	int fds_before = fe_count_fds(), fds_fe;
	struct vhost_ctx_params p = { .conn_mem_regions = 16 };
	struct vhost_ctx *ctx = vhost_ctx_create(&p);
	struct vhost_socket *s;
	uint64_t slots = 0;
	struct fe fe;

	CHECK(ctx != NULL);
	if (!ctx)
		return;
	s = start(ctx, 0, 0);
	CHECK(open_fe(&fe));
	CHECK_EQ(fe_get_u64(&fe, VHOST_USER_GET_MAX_MEM_SLOTS, &slots), 0);
	CHECK_EQ(slots, 16);
	fds_fe = fe_count_fds();
	for (unsigned i = 1; i < 16; i++)
		CHECK_EQ(add_region(&fe, i, PAGE), 0);
	/* The back-end holds no fd for the 16 regions. */
	CHECK_EQ(fe_count_fds(), fds_fe);
	CHECK_EQ(add_region(&fe, 16, PAGE), -EIO);
	CHECK_EQ(rem_region(&fe, 3, PAGE), 0);
	CHECK_EQ(add_region(&fe, 16, PAGE), 0);
	CHECK_EQ(add_region(&fe, 17, PAGE), -EIO);
	/* A new table is budgeted alone (it replaces the 16 regions); limits
	 * are set before start. */
	{
		struct vhost_user_memory m = { .nregions = 2 };
		int f2[2] = { mk_memfd(PAGE), mk_memfd(PAGE) };

		for (unsigned i = 0; i < 2; i++) {
			m.regions[i].guest_phys_addr = G_ADD + i * PAGE;
			m.regions[i].memory_size = PAGE;
			m.regions[i].userspace_addr = U_ADD + i * PAGE;
		}
		CHECK_EQ(vhost_socket_set_mem_limits(s, 1, 0), -EBUSY);
		CHECK_EQ(fe_request(&fe, VHOST_USER_SET_MEM_TABLE, &m,
				    8 + 2 * sizeof(m.regions[0]), f2, 2), 0);
		close(f2[0]);
		close(f2[1]);
	}
	fe_close(&fe);
	CHECK_EQ(vhost_socket_unregister(s), 0);
	vhost_ctx_destroy(ctx);
	CHECK_EQ(fe_count_fds(), fds_before);
}

/* Per connection: mapped bytes, counted after rounding to pages; a sparse
 * 60 TiB file is refused by the default budget. */
static void test_conn_bytes(void)
{
	struct vhost_ctx_params p = { .conn_mem_bytes = 16 * MiB };
	struct vhost_ctx *ctx = vhost_ctx_create(&p);
	struct vhost_socket *s;
	struct fe fe;

	CHECK(ctx != NULL);
	if (!ctx)
		return;
	s = start(ctx, 0, 0);
	CHECK(open_fe(&fe)); /* 8 MiB */
	CHECK_EQ(add_region(&fe, 1, 8 * MiB + 1), -EIO); /* 8 MiB + a page */
	CHECK_EQ(add_region(&fe, 1, 8 * MiB - 2 * PAGE), 0);
	CHECK_EQ(add_region(&fe, 2, PAGE + 1), 0);       /* two pages */
	CHECK_EQ(add_region(&fe, 3, 1), -EIO);           /* and no more */
	CHECK_EQ(rem_region(&fe, 2, PAGE + 1), 0);
	CHECK_EQ(add_region(&fe, 3, PAGE), 0);
	/* A table over the budget is refused; the old one stays. */
	CHECK_EQ(set_table(&fe, 17 * MiB), -EIO);
	CHECK_EQ(add_region(&fe, 4, PAGE + 1), -EIO);
	/* A table of the whole budget replaces the full old one. */
	CHECK_EQ(set_table(&fe, 16 * MiB), 0);
	fe_close(&fe);
	CHECK_EQ(vhost_socket_unregister(s), 0);
	vhost_ctx_destroy(ctx);

	/* Defaults: 1 TiB per connection. */
	ctx = vhost_ctx_create(NULL);
	CHECK(ctx != NULL);
	if (!ctx)
		return;
	s = start(ctx, 0, 0);
	CHECK(open_fe(&fe));
	CHECK_EQ(add_region(&fe, 1, TiB), -EIO);   /* with the 8 MiB */
	CHECK_EQ(set_table(&fe, 60 * TiB), -EIO);  /* sparse: costs no RAM */
	CHECK_EQ(set_table(&fe, TiB + 1), -EIO);
	CHECK_EQ(set_table(&fe, 64ull << 30), 0);  /* 64 GiB, sparse */
	fe_close(&fe);
	CHECK_EQ(vhost_socket_unregister(s), 0);
	/* A socket's own limits. */
	s = start(ctx, 2, 4 * MiB);
	fe_init(&fe);
	CHECK_EQ(fe_connect(&fe, sock_path, WAIT_MS), 0);
	{
		struct fe_opts o = { .mem_size = 4 * MiB };
		uint64_t slots = 0;

		CHECK_EQ(fe_handshake(&fe, &o), 0);
		CHECK_EQ(fe_get_u64(&fe, VHOST_USER_GET_MAX_MEM_SLOTS, &slots),
			 0);
		CHECK_EQ(slots, 2);
	}
	CHECK_EQ(add_region(&fe, 1, PAGE), -EIO); /* bytes */
	CHECK_EQ(set_table(&fe, 2 * MiB), 0);
	CHECK_EQ(add_region(&fe, 1, PAGE), 0);
	CHECK_EQ(add_region(&fe, 2, PAGE), -EIO); /* regions */
	fe_close(&fe);
	CHECK_EQ(vhost_socket_unregister(s), 0);
	vhost_ctx_destroy(ctx);
}

static bool table_fits(struct fe *fe, uint64_t size, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	for (;;) {
		if (set_table(fe, size) == 0)
			return true;
		if (now_ms() >= end)
			return false;
		usleep(5000);
	}
}

/* Per context: the sum over connections; a connection that goes gives
 * its share back; other connections keep working. */
static void test_ctx_budget(void)
{
	struct vhost_ctx_params p = {
		.conn_mem_regions = 4, .conn_mem_bytes = 16 * MiB,
		.ctx_mem_regions = 6, .ctx_mem_bytes = 26 * MiB,
	};
	struct vhost_ctx *ctx = vhost_ctx_create(&p);
	struct vhost_socket *s;
	struct fe fe[4];

	CHECK(ctx != NULL);
	if (!ctx)
		return;
	s = start(ctx, 0, 0);
	for (int i = 0; i < 3; i++)
		CHECK(open_fe(&fe[i])); /* 3 x 8 MiB */
	fe_init(&fe[3]);
	CHECK_EQ(fe_connect(&fe[3], sock_path, WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&fe[3], NULL), -EIO); /* 32 MiB > 26 */
	/* Within its own budget, but not the context's. */
	CHECK_EQ(add_region(&fe[1], 1, 4 * MiB), -EIO);
	/* Replacing a table at the edge: the old one is given back. */
	CHECK_EQ(set_table(&fe[2], 8 * MiB), 0);
	/* Regions: 3 used of 6; fe[1] takes 3 more (its 4), then the
	 * context has none left for fe[2]. */
	for (unsigned i = 1; i <= 3; i++)
		CHECK_EQ(add_region(&fe[1], i, PAGE), 0);
	CHECK_EQ(add_region(&fe[1], 4, PAGE), -EIO);
	CHECK_EQ(add_region(&fe[2], 1, PAGE), -EIO);
	/* fe[0] goes: fe[3] fits now (once the close is processed). */
	fe_close(&fe[0]);
	CHECK(table_fits(&fe[3], 8 * MiB, WAIT_MS));
	CHECK_EQ(rem_region(&fe[1], 2, PAGE), 0);
	CHECK_EQ(add_region(&fe[2], 1, PAGE), 0);
	for (int i = 1; i < 4; i++)
		fe_close(&fe[i]);
	CHECK_EQ(vhost_socket_unregister(s), 0);
	vhost_ctx_destroy(ctx);
}

static void test_params(void)
{
	struct vhost_ctx_params p = { .conn_mem_regions = 510 };
	struct vhost_ctx *ctx;
	struct vhost_socket *s = NULL;

	errno = 0;
	CHECK(vhost_ctx_create(&p) == NULL);
	CHECK_EQ(errno, EINVAL);
	p.conn_mem_regions = 0;
	p.ctx_mem_regions = VHOST_MEM_GUARD_SLOTS + 1;
	CHECK(vhost_ctx_create(&p) == NULL);
	p.ctx_mem_regions = VHOST_MEM_GUARD_SLOTS;
	p.conn_mem_regions = 509;
	ctx = vhost_ctx_create(&p);
	CHECK(ctx != NULL);
	if (!ctx)
		return;
	CHECK_EQ(vhost_socket_register(ctx, sock_path, 0, &s), 0);
	CHECK_EQ(vhost_socket_set_mem_limits(s, 510, 0), -EINVAL);
	CHECK_EQ(vhost_socket_set_mem_limits(s, 509, 1), 0);
	CHECK_EQ(vhost_socket_set_mem_limits(s, 0, 0), 0);
	CHECK_EQ(vhost_socket_set_mem_limits(NULL, 1, 1), -EINVAL);
	CHECK_EQ(vhost_socket_unregister(s), 0);
	vhost_ctx_destroy(ctx);
}

/* Many regions on many connections: the process's fds do not grow with
 * them (two connections of 509 regions used to need 1018 fds). */
static void test_many_regions_no_fds(void)
{
	struct vhost_ctx_params p = { .conn_mem_regions = 509 };
	struct vhost_ctx *ctx = vhost_ctx_create(&p);
	struct vhost_socket *s;
	struct fe fe[2];
	int fds;

	CHECK(ctx != NULL);
	if (!ctx)
		return;
	s = start(ctx, 0, 0);
	for (int c = 0; c < 2; c++)
		CHECK(open_fe(&fe[c]));
	fds = fe_count_fds();
	for (int c = 0; c < 2; c++) {
		unsigned added = 0;

		for (unsigned i = 1; i < 509; i++)
			added += add_region(&fe[c], i, PAGE) == 0;
		CHECK_EQ(added, 508);
	}
	CHECK_EQ(fe_count_fds(), fds);
	for (int c = 0; c < 2; c++)
		fe_close(&fe[c]);
	CHECK_EQ(vhost_socket_unregister(s), 0);
	vhost_ctx_destroy(ctx);
}

int main(void)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/vhost-test-budget-%d.sock",
		 (int)getpid());
	RUN(test_params);
	RUN(test_conn_regions);
	RUN(test_conn_bytes);
	RUN(test_ctx_budget);
	RUN(test_many_regions_no_fds);
	unlink(sock_path);
	return check_summary("test_budgets");
}
