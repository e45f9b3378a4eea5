/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory tests for lib/memory.c on memfd-backed regions: validation
 * (size 0, every kind of wrap, offset past the file), mapping (hva right for
 * unaligned offsets, non-files refused, fd ownership), translation at the
 * edges of regions and of the address space, ranges across regions, and
 * overlap / lookup in guest and front-end address spaces.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "check.h"
#include "frontend.h"
#include "memory.h"

#define PAGE 4096ull

/* Map without a budget (budgets: test_budgets.c). */
#define MAP(r, d, fd) mem_region_map((r), (d), (fd), UINT64_MAX, NULL)

static struct mem_table *mt;

/* fstat is wrapped (-Wl,--wrap=fstat,--wrap=fstat64, tests/unit/meson.build)
 * so that a file can report blocks larger than a page, as NFS, CephFS,
 * FUSE or XFS with largeio do. */
static long fake_blksize;

int __real_fstat(int fd, struct stat *st);
int __wrap_fstat(int fd, struct stat *st);
int __real_fstat64(int fd, struct stat64 *st);
int __wrap_fstat64(int fd, struct stat64 *st);

int __wrap_fstat(int fd, struct stat *st)
{
	int ret = __real_fstat(fd, st);

	if (ret == 0 && fake_blksize)
		st->st_blksize = fake_blksize;
	return ret;
}

int __wrap_fstat64(int fd, struct stat64 *st)
{
	int ret = __real_fstat64(fd, st);

	if (ret == 0 && fake_blksize)
		st->st_blksize = fake_blksize;
	return ret;
}

static int mkmemfd(uint64_t size)
{
	int fd = memfd_create("test-mem", MFD_CLOEXEC);

	CHECK(fd >= 0);
	if (fd >= 0)
		CHECK_EQ(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* Fill the file with a pattern: byte at offset o is pat(o). */
static uint8_t pat(uint64_t o)
{
	return (uint8_t)(o * 7 + (o >> 8) * 13 + 1);
}

static void fill(int fd, uint64_t size)
{
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	CHECK(p != MAP_FAILED);
	if (p == MAP_FAILED)
		return;
	for (uint64_t i = 0; i < size; i++)
		p[i] = pat(i);
	munmap(p, size);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static struct vhost_user_mem_region R(uint64_t gpa, uint64_t size,
				      uint64_t uva, uint64_t off)
{
	struct vhost_user_mem_region d = {
		.guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = uva, .mmap_offset = off,
	};
	return d;
}

/* Map d from a fresh memfd of file_size into slot nregions of mt. The fd
 * is closed (the mapping does not need it) unless keep takes it. */
static int add_keep(uint64_t file_size, struct vhost_user_mem_region d,
		    int *keep)
{
	int fd = mkmemfd(file_size);
	int ret;

	fill(fd, file_size);
	ret = MAP(&mt->regions[mt->nregions], &d, fd);
	if (ret == 0)
		mt->nregions++;
	if (ret == 0 && keep)
		*keep = fd;
	else
		close(fd);
	return ret;
}

static int add(uint64_t file_size, struct vhost_user_mem_region d)
{
	return add_keep(file_size, d, NULL);
}

static void reset(void)
{
	mem_table_unmap_all(mt);
	CHECK_EQ(mt->nregions, 0);
}

/* ------------------------------------------------------------ validate */

static void test_validate(void)
{
	struct vhost_user_mem_region d;

	d = R(0x1000, PAGE, 0x7f0000000000ull, 0);
	CHECK_EQ(mem_region_validate(&d), 0);
	d = R(0x1000, 0, 0x7f0000000000ull, 0);
	CHECK_EQ(mem_region_validate(&d), -EINVAL);      /* size 0 */
	d = R(UINT64_MAX - PAGE + 2, PAGE, 0, 0);
	CHECK_EQ(mem_region_validate(&d), -EINVAL);      /* gpa wraps */
	d = R(UINT64_MAX - PAGE + 1, PAGE, 0, 0);
	CHECK_EQ(mem_region_validate(&d), -EINVAL);      /* ends at 2^64 */
	d = R(UINT64_MAX - PAGE, PAGE, 0, 0);
	CHECK_EQ(mem_region_validate(&d), 0);            /* last byte 2^64-2 */
	d = R(0, PAGE, UINT64_MAX - 10, 0);
	CHECK_EQ(mem_region_validate(&d), -EINVAL);      /* uva wraps */
	d = R(0, PAGE, UINT64_MAX - PAGE + 1, 0);
	CHECK_EQ(mem_region_validate(&d), -EINVAL);      /* uva ends at 2^64 */
	d = R(0, PAGE, 0, UINT64_MAX - 10);
	CHECK_EQ(mem_region_validate(&d), -EINVAL);      /* offset wraps */
	d = R(0, UINT64_MAX, 0, 0);
	CHECK_EQ(mem_region_validate(&d), -EINVAL); /* > off_t */
	d = R(0, UINT64_MAX, 0, 1);
	CHECK_EQ(mem_region_validate(&d), -EINVAL);
	d = R(1, UINT64_MAX, 0, 0);
	CHECK_EQ(mem_region_validate(&d), -EINVAL);
	/* offset + size must fit an off_t. */
	d = R(0, PAGE, 0, (uint64_t)INT64_MAX);
	CHECK_EQ(mem_region_validate(&d), -EINVAL);
	d = R(0, PAGE, 0, (uint64_t)INT64_MAX - PAGE); /* ends at INT64_MAX */
	CHECK_EQ(mem_region_validate(&d), 0);
	d = R(0, 1ull << 63, 0, 0);
	CHECK_EQ(mem_region_validate(&d), -EINVAL);
}

/* ---------------------------------------------------------------- map */

static void test_map_and_translate(void)
{
	const uint64_t gpa = 0x40000000, uva = 0x7f1234560000ull;
	const uint64_t size = 16 * PAGE;
	uint64_t len;
	uint8_t *p;
	int fd = -1;

	CHECK_EQ(add_keep(size, R(gpa, size, uva, 0), &fd), 0);
	CHECK_EQ(mt->nregions, 1);
	CHECK(mt->regions[0].ino != 0);
	CHECK(mem_region_same_file(&mt->regions[0], fd));
	CHECK_EQ(mt->regions[0].size, size);

	/* Region start. */
	len = 100;
	p = mem_gpa_to_hva(mt, gpa, &len);
	CHECK(p != NULL);
	CHECK_EQ(len, 100);
	if (p)
		CHECK_EQ(p[0], pat(0));
	CHECK(p == (void *)(uintptr_t)mt->regions[0].hva);
	/* Len longer than the region: shortened to the region. */
	len = UINT64_MAX;
	CHECK(mem_gpa_to_hva(mt, gpa, &len) == p);
	CHECK_EQ(len, size);
	/* Last byte. */
	len = 8;
	p = mem_gpa_to_hva(mt, gpa + size - 1, &len);
	CHECK(p != NULL);
	CHECK_EQ(len, 1);
	if (p)
		CHECK_EQ(*p, pat(size - 1));
	/* Shortened at the region end. */
	len = 4096;
	p = mem_gpa_to_hva(mt, gpa + size - 10, &len);
	CHECK(p != NULL);
	CHECK_EQ(len, 10);
	/* One past the end, one before the start. */
	len = 1;
	CHECK(mem_gpa_to_hva(mt, gpa + size, &len) == NULL);
	len = 1;
	CHECK(mem_gpa_to_hva(mt, gpa - 1, &len) == NULL);
	len = 1;
	CHECK(mem_gpa_to_hva(mt, 0, &len) == NULL);
	len = 1;
	CHECK(mem_gpa_to_hva(mt, UINT64_MAX, &len) == NULL);
	/* A middle byte reads the file at the same offset. */
	len = 1;
	p = mem_gpa_to_hva(mt, gpa + 12345, &len);
	CHECK(p && *p == pat(12345));
	/* Writes go to the file. */
	if (p)
		*p = 0xab;
	{
		uint8_t b = 0;

		CHECK_EQ(pread(fd, &b, 1, 12345), 1);
		CHECK_EQ(b, 0xab);
		close(fd);
	}

	/* Ranges. */
	CHECK(mem_gpa_range(mt, gpa, size) != NULL);
	CHECK(mem_gpa_range(mt, gpa, size + 1) == NULL);
	CHECK(mem_gpa_range(mt, gpa + size - 1, 1) != NULL);
	CHECK(mem_gpa_range(mt, gpa + size - 1, 2) == NULL);
	CHECK(mem_gpa_range(mt, gpa + size, 1) == NULL);
	CHECK(mem_gpa_range(mt, gpa + 1, UINT64_MAX) == NULL);
	CHECK(mem_gpa_range(mt, UINT64_MAX, 1) == NULL);
	CHECK(mem_gpa_range(mt, UINT64_MAX, UINT64_MAX) == NULL);

	/* The same in front-end virtual addresses. */
	len = 100;
	p = mem_uva_to_hva(mt, uva, &len);
	CHECK(p == (void *)(uintptr_t)mt->regions[0].hva);
	CHECK_EQ(len, 100);
	len = 8;
	p = mem_uva_to_hva(mt, uva + size - 1, &len);
	CHECK(p != NULL);
	CHECK_EQ(len, 1);
	len = 1;
	CHECK(mem_uva_to_hva(mt, uva + size, &len) == NULL);
	len = 1;
	CHECK(mem_uva_to_hva(mt, uva - 1, &len) == NULL);
	len = 1;
	CHECK(mem_uva_to_hva(mt, gpa, &len) == NULL); /* spaces are separate */
	len = 1;
	CHECK(mem_gpa_to_hva(mt, uva, &len) == NULL);
	CHECK(mem_uva_range(mt, uva, size) != NULL);
	CHECK(mem_uva_range(mt, uva + 1, size) == NULL);
	CHECK(mem_uva_range(mt, UINT64_MAX, 2) == NULL);
	reset();
}

/* A region right below the top of the guest address space: translation
 * of the last bytes works and nothing wraps to low addresses. */
static void test_top_of_address_space(void)
{
	const uint64_t size = 4 * PAGE;
	const uint64_t gpa = UINT64_MAX - size; /* last byte UINT64_MAX - 1 */
	const uint64_t uva = UINT64_MAX - size;
	uint64_t len;
	uint8_t *p;

	CHECK_EQ(add(size, R(gpa, size, uva, 0)), 0);
	len = UINT64_MAX;
	p = mem_gpa_to_hva(mt, gpa, &len);
	CHECK(p != NULL);
	CHECK_EQ(len, size);
	len = UINT64_MAX;
	p = mem_gpa_to_hva(mt, UINT64_MAX - 1, &len);
	CHECK(p != NULL);
	CHECK_EQ(len, 1);
	if (p)
		CHECK_EQ(*p, pat(size - 1));
	len = 1;
	CHECK(mem_gpa_to_hva(mt, UINT64_MAX, &len) == NULL);
	len = 1;
	CHECK(mem_gpa_to_hva(mt, 0, &len) == NULL);
	len = 1;
	CHECK(mem_gpa_to_hva(mt, size - 2, &len) == NULL);
	CHECK(mem_gpa_range(mt, UINT64_MAX - 1, 2) == NULL);
	CHECK(mem_gpa_range(mt, gpa, size) != NULL);
	CHECK(mem_uva_range(mt, UINT64_MAX - 1, 1) != NULL);
	CHECK(mem_uva_range(mt, UINT64_MAX, 1) == NULL);
	/* Overlap against a region that would wrap is never computed: the
	 * candidate is rejected first by validation. */
	{
		struct vhost_user_mem_region d = R(UINT64_MAX - 1, 2, 0, 0);

		CHECK_EQ(mem_region_validate(&d), -EINVAL);
		d = R(UINT64_MAX - 2, 2, 0x1000, 0);
		CHECK_EQ(mem_region_validate(&d), 0);
		CHECK(mem_table_overlaps(mt, &d));
		d = R(0, 2, UINT64_MAX - 2, 0);
		CHECK(mem_table_overlaps(mt, &d)); /* uva space */
		d = R(0, 2, 0x1000, 0);
		CHECK(!mem_table_overlaps(mt, &d));
	}
	reset();
}

/* Two adjacent regions (separate files): a range across the boundary is
 * not contiguous in our memory; walked piecewise it gives both parts. */
static void test_adjacent_regions(void)
{
	const uint64_t gpa = 0x100000, size = 8 * PAGE;
	const uint64_t uva = 0x7f0000000000ull;
	uint64_t len, g, left;
	uint8_t *p0, *p1, *p;
	int pieces = 0;

	CHECK_EQ(add(size, R(gpa, size, uva, 0)), 0);
	CHECK_EQ(add(2 * size, R(gpa + size, size, uva + size, size)), 0);
	CHECK_EQ(mt->nregions, 2);
	CHECK(mem_gpa_range(mt, gpa + size - 8, 16) == NULL);
	CHECK(mem_uva_range(mt, uva + size - 8, 16) == NULL);
	CHECK(mem_gpa_range(mt, gpa + size - 8, 8) != NULL);
	CHECK(mem_gpa_range(mt, gpa + size, 8) != NULL);
	len = 16;
	p0 = mem_gpa_to_hva(mt, gpa + size - 8, &len);
	CHECK(p0 != NULL);
	CHECK_EQ(len, 8);
	len = 8;
	p1 = mem_gpa_to_hva(mt, gpa + size, &len);
	CHECK(p1 != NULL);
	CHECK_EQ(len, 8);
	/* Second region maps file 2 at offset `size`. */
	if (p1)
		CHECK_EQ(*p1, pat(size));
	/* Walk [gpa + size - 8, +16) piecewise. */
	g = gpa + size - 8;
	left = 16;
	while (left) {
		len = left;
		p = mem_gpa_to_hva(mt, g, &len);
		CHECK(p != NULL);
		if (!p)
			break;
		CHECK(len > 0 && len <= left);
		pieces++;
		g += len;
		left -= len;
	}
	CHECK_EQ(pieces, 2);
	CHECK_EQ(left, 0);
	/* One past the end of both. */
	len = 1;
	CHECK(mem_gpa_to_hva(mt, gpa + 2 * size, &len) == NULL);
	reset();
}

/* mmap_offset that is not page aligned: hva points at file byte offset. */
static void test_unaligned_offset(void)
{
	const uint64_t offs[] = { 1, 100, PAGE - 1, PAGE + 1, 3 * PAGE + 123 };

	for (unsigned k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		const uint64_t size = 2 * PAGE + 7, gpa = 0x200000;
		uint64_t len = UINT64_MAX;
		uint8_t *p;

		CHECK_EQ(add(offs[k] + size, R(gpa, size, 0x1000, offs[k])), 0);
		if (mt->nregions != 1)
			continue;
		p = mem_gpa_to_hva(mt, gpa, &len);
		CHECK(p != NULL);
		CHECK_EQ(len, size);
		if (p) {
			CHECK_EQ(p[0], pat(offs[k]));
			/* Last byte of the region = last byte of the file. */
			CHECK_EQ(p[size - 1], pat(offs[k] + size - 1));
		}
		CHECK_EQ(mt->regions[0].mmap_offset, offs[k]);
		CHECK(((uintptr_t)mt->regions[0].mmap_addr & (PAGE - 1)) == 0);
		reset();
	}
}

/* The file must hold offset + size: beyond it a touch would SIGBUS. */
static void test_offset_beyond_file(void)
{
	struct vhost_user_mem_region d;
	int fd = mkmemfd(4 * PAGE);
	struct mem_region r;

	memset(&r, 0, sizeof(r));
	d = R(0, 4 * PAGE, 0, 1);
	CHECK_EQ(MAP(&r, &d, fd), -EINVAL);
	CHECK(fd_open(fd)); /* not taken on failure */
	d = R(0, 4 * PAGE + 1, 0, 0);
	CHECK_EQ(MAP(&r, &d, fd), -EINVAL);
	d = R(0, PAGE, 0, 4 * PAGE);
	CHECK_EQ(MAP(&r, &d, fd), -EINVAL);
	d = R(0, PAGE, 0, 100 * PAGE);
	CHECK_EQ(MAP(&r, &d, fd), -EINVAL);
	d = R(0, 1, 0, UINT64_MAX - 1);
	CHECK_EQ(MAP(&r, &d, fd), -EINVAL);
	d = R(0, 0, 0, 0);
	CHECK_EQ(MAP(&r, &d, fd), -EINVAL);
	d = R(UINT64_MAX - 10, PAGE, 0, 0);
	CHECK_EQ(MAP(&r, &d, fd), -EINVAL);
	CHECK(r.mmap_addr == NULL);
	CHECK(fd_open(fd));
	/* Exactly the file: fine. */
	d = R(0, 3 * PAGE, 0, PAGE);
	CHECK_EQ(MAP(&r, &d, fd), 0);
	CHECK(fd_open(fd)); /* not taken: the caller closes it */
	CHECK(mem_region_same_file(&r, fd));
	close(fd);
	mem_region_unmap(&r);
	CHECK(r.mmap_addr == NULL);
	/* An empty file. */
	fd = mkmemfd(0);
	d = R(0, 1, 0, 0);
	CHECK_EQ(MAP(&r, &d, fd), -EINVAL);
	close(fd);
}

/* Only regular files can back guest memory. */
static void test_not_a_file(void)
{
	struct vhost_user_mem_region d = R(0, PAGE, 0, 0);
	struct mem_region r;
	int p[2], sv[2], fd;

	memset(&r, 0, sizeof(r));
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	CHECK_EQ(MAP(&r, &d, p[0]), -EINVAL);
	CHECK_EQ(MAP(&r, &d, p[1]), -EINVAL);
	CHECK(fd_open(p[0]) && fd_open(p[1]));
	close(p[0]);
	close(p[1]);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(MAP(&r, &d, sv[0]), -EINVAL);
	CHECK(fd_open(sv[0]));
	close(sv[0]);
	close(sv[1]);
	fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		CHECK_EQ(MAP(&r, &d, fd), -EINVAL);
		close(fd);
	}
	fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		CHECK_EQ(MAP(&r, &d, fd), -EINVAL);
		close(fd);
	}
	/* Closed fd. */
	CHECK_EQ(MAP(&r, &d, 1000), -EINVAL);
	/* A read-only file cannot be mapped shared and writable. */
	{
		char path[] = "/tmp/vhost-test-mem-XXXXXX";
		int w = mkstemp(path);

		CHECK(w >= 0);
		if (w >= 0) {
			CHECK_EQ(ftruncate(w, (off_t)PAGE), 0);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			unlink(path);
			CHECK_EQ(MAP(&r, &d, fd), -EINVAL);
			CHECK(fd_open(fd));
			close(fd);
			close(w);
		}
	}
	/* A sealed-against-writes memfd likewise. */
	fd = memfd_create("sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd >= 0) {
		CHECK_EQ(ftruncate(fd, (off_t)PAGE), 0);
		CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
		CHECK_EQ(MAP(&r, &d, fd), -EINVAL);
		close(fd);
	}
	CHECK(r.mmap_addr == NULL);
}

/* Overlap in either space, adjacency is not overlap; find by identity. */
static void test_overlap_and_find(void)
{
	const uint64_t gpa = 0x1000000, uva = 0x7f0000000000ull, s = 4 * PAGE;
	struct vhost_user_mem_region d;

	CHECK_EQ(add(s, R(gpa, s, uva, 0)), 0);
	CHECK_EQ(add(s, R(gpa + 2 * s, s, uva + 2 * s, 0)), 0);
	/* gpa space overlaps, uva disjoint. */
	d = R(gpa + s - 1, 2, uva + 8 * s, 0);
	CHECK(mem_table_overlaps(mt, &d));
	d = R(gpa - 1, 2, uva + 8 * s, 0);
	CHECK(mem_table_overlaps(mt, &d));
	d = R(gpa - PAGE, 16 * s, uva + 8 * s, 0); /* contains both */
	CHECK(mem_table_overlaps(mt, &d));
	d = R(gpa + 1, 1, uva + 8 * s, 0); /* inside */
	CHECK(mem_table_overlaps(mt, &d));
	/* uva space overlaps, gpa disjoint. */
	d = R(gpa + 8 * s, s, uva + s - 1, 0);
	CHECK(mem_table_overlaps(mt, &d));
	d = R(gpa + 8 * s, s, uva + 2 * s + s - 1, 0);
	CHECK(mem_table_overlaps(mt, &d));
	d = R(gpa + 8 * s, 16 * s, uva - PAGE, 0);
	CHECK(mem_table_overlaps(mt, &d));
	/* Adjacent on both sides, and in the hole: no overlap. */
	d = R(gpa + s, s, uva + s, 0);
	CHECK(!mem_table_overlaps(mt, &d));
	d = R(gpa - s, s, uva - s, 0);
	CHECK(!mem_table_overlaps(mt, &d));
	d = R(gpa + 3 * s, s, uva + 3 * s, 0);
	CHECK(!mem_table_overlaps(mt, &d));
	/* Identical region overlaps itself. */
	d = R(gpa, s, uva, 0);
	CHECK(mem_table_overlaps(mt, &d));

	/* Find: gpa, uva and size must all match (offset is not part of the
	 * identity). */
	d = R(gpa + 2 * s, s, uva + 2 * s, 0);
	CHECK_EQ(mem_table_find(mt, &d), 1);
	d = R(gpa, s, uva, 0);
	CHECK_EQ(mem_table_find(mt, &d), 0);
	d = R(gpa, s, uva, PAGE);
	CHECK_EQ(mem_table_find(mt, &d), 0);
	d = R(gpa, s - 1, uva, 0);
	CHECK_EQ(mem_table_find(mt, &d), -1);
	d = R(gpa + 1, s, uva, 0);
	CHECK_EQ(mem_table_find(mt, &d), -1);
	d = R(gpa, s, uva + 1, 0);
	CHECK_EQ(mem_table_find(mt, &d), -1);
	/* An empty table overlaps nothing and finds nothing. */
	reset();
	d = R(gpa, s, uva, 0);
	CHECK(!mem_table_overlaps(mt, &d));
	CHECK_EQ(mem_table_find(mt, &d), -1);
	{
		uint64_t len = 1;

		CHECK(mem_gpa_to_hva(mt, gpa, &len) == NULL);
		CHECK(mem_uva_to_hva(mt, uva, &len) == NULL);
	}
}

/* A mapped region keeps no fd (the mapping holds the file: two front-ends
 * with 509 regions each would otherwise exhaust 1024 fds); unmap unmaps. */
static void test_unmap_no_fds(void)
{
	int before = fe_count_fds();

	for (int i = 0; i < 3; i++)
		CHECK_EQ(add(PAGE, R((uint64_t)i * PAGE, PAGE,
				     0x10000 + (uint64_t)i * PAGE, 0)), 0);
	CHECK_EQ(fe_count_fds(), before);
	/* The file lives on behind the mapping. */
	for (int i = 0; i < 3; i++)
		CHECK_EQ(*(uint8_t *)(uintptr_t)mt->regions[i].hva, pat(0));
	mem_region_unmap(&mt->regions[2]);
	mt->nregions = 2;
	/* Unmapping twice is harmless (no mapping). */
	mem_region_unmap(&mt->regions[2]);
	reset();
	CHECK_EQ(fe_count_fds(), before);
	/* The mapping is really gone: the old address is not ours any more
	 * (msync on an unmapped page fails with ENOMEM). */
	{
		struct vhost_user_mem_region d = R(0, PAGE, 0, 0);
		struct mem_region r;
		int fd = mkmemfd(PAGE);
		void *a;

		memset(&r, 0, sizeof(r));
		CHECK_EQ(MAP(&r, &d, fd), 0);
		close(fd);
		a = r.mmap_addr;
		mem_region_unmap(&r);
		CHECK(msync(a, PAGE, MS_ASYNC) < 0 && errno == ENOMEM);
	}
	CHECK_EQ(fe_count_fds(), before);
}

/* A full table of small regions translates each address to its own. */
static void test_many_regions(void)
{
	const unsigned n = 64;
	int before = fe_count_fds();

	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(add(PAGE, R(0x100000 + 2ull * i * PAGE, PAGE,
				     0x900000 + 2ull * i * PAGE, 0)), 0);
	for (unsigned i = 0; i < n; i++) {
		uint64_t len = 2 * PAGE;
		uint8_t *p = mem_gpa_to_hva(mt, 0x100000 + 2ull * i * PAGE + 5,
					    &len);

		CHECK(p != NULL);
		CHECK_EQ(len, PAGE - 5);
		CHECK(p == (uint8_t *)(uintptr_t)mt->regions[i].hva + 5);
		len = 1;
		CHECK(mem_gpa_to_hva(mt, 0x100000 + (2ull * i + 1) * PAGE,
				     &len) == NULL); /* the holes */
	}
	reset();
	CHECK_EQ(fe_count_fds(), before);
}

/* A page of our own at p (fixed, never replacing a mapping), or NULL. */
static uint8_t *canary_at(uintptr_t p)
{
	void *c = mmap((void *)p, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (c == MAP_FAILED)
		return NULL;
	if ((uintptr_t)c != p) { /* old kernels take it as a hint */
		munmap(c, PAGE);
		return NULL;
	}
	memset(c, 0x5a, PAGE);
	return c;
}

/* The SIGBUS guard on a file that reports 64 KiB blocks: the mapping is
 * rounded to pages (not blocks), and after the front-end shrinks the file
 * a touch gets zeroes inside the mapping while a canary page right next
 * to it keeps its bytes (rounding the fault down to st_blksize replaced
 * memory outside the mapping). */
static void test_guard_big_blocks(void)
{
	const uint64_t size = 4 * PAGE, blk = 16 * PAGE;
	struct vhost_user_mem_region d = R(0, size, 0, 0);
	struct mem_region r[4];
	unsigned n = 0;
	uintptr_t s = 0, e = 0, fault;
	uint8_t *canary = NULL;
	uint64_t faults = mem_guard_faults();
	int fd = mkmemfd(size); /* no MFD_ALLOW_SEALING: it can shrink */

	fill(fd, size);
	memset(r, 0, sizeof(r));
	fake_blksize = (long)blk;
	/* A mapping that starts off a block boundary (a rounding to blocks
	 * reaches outside it; retried while the kernel placed it aligned). */
	while (n < 4) {
		if (MAP(&r[n], &d, fd)) {
			CHECK(0);
			break;
		}
		s = (uintptr_t)r[n].mmap_addr;
		e = s + r[n].mmap_size;
		n++;
		if (s & (blk - 1))
			break;
	}
	fake_blksize = 0;
	CHECK(n > 0);
	if (!n)
		goto out;
	CHECK_EQ(r[n - 1].mmap_size, size); /* pages, not blocks */
	/* The canary right below the mapping (fault in its first page), or
	 * right above it (fault in its last page). */
	fault = s;
	canary = canary_at(s - PAGE);
	if (!canary) {
		fault = e - PAGE;
		canary = canary_at(e);
	}
	CHECK(canary != NULL);
	if (!canary)
		goto out;
	CHECK_EQ(ftruncate(fd, 0), 0);
	CHECK_EQ(*(volatile uint8_t *)fault, 0); /* SIGBUS, then zeroes */
	CHECK_EQ(mem_guard_faults(), faults + 1);
	for (unsigned i = 0; i < PAGE; i++) {
		if (canary[i] != 0x5a) {
			CHECK_EQ(canary[i], 0x5a);
			break;
		}
	}
	/* The rest of the mapping still faults, and is guarded too. */
	CHECK_EQ(*(volatile uint8_t *)(fault == s ? e - 1 : s), 0);
	CHECK_EQ(mem_guard_faults(), faults + 2);
	munmap(canary, PAGE);
out:
	while (n)
		mem_region_unmap(&r[--n]);
	close(fd);
}

/* hugetlbfs: mappings aligned to the huge page size (from fstatfs), the
 * mapped size counted in huge pages. Skipped without huge pages. */
static void test_hugetlb_align(void)
{
	struct vhost_user_mem_region d = R(0, PAGE, 0, PAGE);
	struct mem_region r;
	int fd = memfd_create("test-huge", MFD_CLOEXEC | MFD_HUGETLB);
	struct statfs sfs;
	uint64_t hp = 0;
	void *probe;

	if (fd >= 0 && fstatfs(fd, &sfs) == 0)
		hp = (uint64_t)sfs.f_bsize;
	if (fd < 0 || hp <= PAGE || ftruncate(fd, (off_t)hp) < 0) {
		printf("skip test_hugetlb_align: no hugetlbfs memfd\n");
		if (fd >= 0)
			close(fd);
		return;
	}
	probe = mmap(NULL, hp, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (probe == MAP_FAILED) {
		printf("skip test_hugetlb_align: no huge pages\n");
		close(fd);
		return;
	}
	munmap(probe, hp);
	memset(&r, 0, sizeof(r));
	CHECK_EQ(MAP(&r, &d, fd), 0);
	CHECK_EQ(r.mmap_size, hp);
	CHECK(((uintptr_t)r.mmap_addr & (hp - 1)) == 0);
	CHECK_EQ(r.hva, (uint64_t)(uintptr_t)r.mmap_addr + PAGE);
	mem_region_unmap(&r);
	close(fd);
}

int main(void)
{
	mt = calloc(1, sizeof(*mt));
	if (!mt)
		return 1;
	RUN(test_validate);
	RUN(test_map_and_translate);
	RUN(test_top_of_address_space);
	RUN(test_adjacent_regions);
	RUN(test_unaligned_offset);
	RUN(test_offset_beyond_file);
	RUN(test_not_a_file);
	RUN(test_overlap_and_find);
	RUN(test_unmap_no_fds);
	RUN(test_many_regions);
	RUN(test_guard_big_blocks);
	RUN(test_hugetlb_align);
	free(mt);
	return check_summary("test_memory");
}
