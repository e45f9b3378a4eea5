/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "log.h"
#include "memory.h"

/*
 * A front-end can shrink the file behind guest memory after we mapped it;
 * touching the pages past the new end raises SIGBUS. We ask for a seal
 * against shrinking when the file allows it (QEMU seals its memfds
 * itself), and otherwise catch SIGBUS for addresses inside guest
 * mappings: the block is replaced by private zero memory and the access
 * completes (the guest only hurts itself). Any other SIGBUS goes to the
 * handler that was there before, or kills the process as by default.
 */
#define GUARD_SLOTS MEM_GUARD_SLOTS

struct guard {
	_Atomic uintptr_t start, end;
	_Atomic uintptr_t align;
};

static struct guard guards[GUARD_SLOTS];
static struct sigaction prev_sigbus;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t guard_faults;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;

	/* Only a real fault (si_code > 0) has an address; a SIGBUS sent by
	 * kill() goes to the previous handler or the default action. */
	for (unsigned i = 0; si->si_code > 0 && i < GUARD_SLOTS; i++) {
		uintptr_t s = atomic_load(&guards[i].start);
		uintptr_t e = atomic_load(&guards[i].end);
		uintptr_t al = atomic_load(&guards[i].align);

		if (s && a >= s && a < e && al) {
			/* The block of the fault, clamped to the mapping:
			 * nothing outside it is ever replaced. */
			uintptr_t b = a & ~(al - 1);
			uintptr_t be = b + al < b || b + al > e ? e : b + al;

			if (b < s)
				b = s;
			if (mmap((void *)b, be - b, PROT_READ | PROT_WRITE,
				 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1,
				 0) != MAP_FAILED) {
				atomic_fetch_add(&guard_faults, 1);
				return;
			}
		}
	}
	if (prev_sigbus.sa_flags & SA_SIGINFO) {
		prev_sigbus.sa_sigaction(sig, si, uc);
	} else if (prev_sigbus.sa_handler != SIG_DFL &&
		   prev_sigbus.sa_handler != SIG_IGN) {
		prev_sigbus.sa_handler(sig);
	} else if (prev_sigbus.sa_handler == SIG_IGN && si->si_code <= 0) {
		/* a sent SIGBUS that was ignored before us stays ignored */
	} else {
		/* The default action, now (SA_NODEFER: not blocked here); a
		 * real fault cannot be ignored: returning would re-fault. */
		signal(SIGBUS, SIG_DFL);
		raise(SIGBUS);
	}
}

static void guard_install(void)
{
	struct sigaction sa = { 0 };

	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &prev_sigbus);
}

/* A mapping we cannot guard is not made: without the guard, a front-end
 * that shrinks the file would kill the process. */
int mem_guard_add(void *addr, size_t len, uint64_t align)
{
	pthread_once(&guard_once, guard_install);
	for (unsigned i = 0; i < GUARD_SLOTS; i++) {
		uintptr_t zero = 0;

		if (atomic_compare_exchange_strong(&guards[i].start, &zero,
						   (uintptr_t)addr)) {
			atomic_store(&guards[i].align, (uintptr_t)align);
			atomic_store(&guards[i].end, (uintptr_t)addr + len);
			return 0;
		}
	}
	LOG_ERR("guest memory: %u mappings in this process, refusing more",
		GUARD_SLOTS);
	return -ENOSPC;
}

void mem_guard_del(void *addr)
{
	for (unsigned i = 0; i < GUARD_SLOTS; i++) {
		if (atomic_load(&guards[i].start) == (uintptr_t)addr) {
			atomic_store(&guards[i].end, 0);
			atomic_store(&guards[i].align, 0);
			atomic_store(&guards[i].start, 0);
			return;
		}
	}
}

bool mem_region_same_file(const struct mem_region *r, int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (uint64_t)st.st_dev == r->dev &&
	       (uint64_t)st.st_ino == r->ino;
}

uint64_t mem_guard_faults(void)
{
	return atomic_load(&guard_faults);
}

void *mem_uva_to_hva(const struct mem_table *mt, uint64_t uva, uint64_t *len)
{
	for (uint32_t i = 0; i < mt->nregions; i++) {
		const struct mem_region *r = &mt->regions[i];
		uint64_t off = uva - r->uva;

		if (uva >= r->uva && off < r->size) {
			if (*len > r->size - off)
				*len = r->size - off;
			return (void *)(uintptr_t)(r->hva + off);
		}
	}
	return NULL;
}

void *mem_uva_range(const struct mem_table *mt, uint64_t uva, uint64_t len)
{
	uint64_t got = len;
	void *p = mem_uva_to_hva(mt, uva, &got);

	return p && got == len ? p : NULL;
}

/* a + b would wrap around 2^64 */
static bool add_overflows(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b;
}

int mem_region_validate(const struct vhost_user_mem_region *d)
{
	if (d->memory_size == 0) {
		LOG_ERR("memory region of size 0");
		return -EINVAL;
	}
	if (add_overflows(d->guest_phys_addr, d->memory_size) ||
	    add_overflows(d->userspace_addr, d->memory_size) ||
	    add_overflows(d->mmap_offset, d->memory_size)) {
		LOG_ERR("memory region 0x%llx+0x%llx (uva 0x%llx, offset 0x%llx) wraps",
			(unsigned long long)d->guest_phys_addr,
			(unsigned long long)d->memory_size,
			(unsigned long long)d->userspace_addr,
			(unsigned long long)d->mmap_offset);
		return -EINVAL;
	}
	/* mmap takes a size_t and an off_t: keep both representable. */
	if (d->mmap_offset + d->memory_size > (uint64_t)INT64_MAX) {
		LOG_ERR("memory region offset+size too large");
		return -EINVAL;
	}
	return 0;
}

/* The alignment of a mapping of fd: the huge page size on hugetlbfs
 * (mappings there must be aligned to it), the page size elsewhere.
 * st_blksize is not it: NFS, CephFS, FUSE or XFS with largeio report
 * blocks larger than a page, and the SIGBUS guard replaces whole blocks. */
static uint64_t map_align(int fd)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct statfs sfs;

	if (fstatfs(fd, &sfs) == 0 && sfs.f_type == HUGETLBFS_MAGIC) {
		uint64_t hp = (uint64_t)sfs.f_bsize;

		if (hp > page && !(hp & (hp - 1)))
			return hp;
	}
	return page;
}

int mem_region_map(struct mem_region *r, const struct vhost_user_mem_region *d,
		   int fd, uint64_t room, struct mem_budget *budget)
{
	struct stat st;
	uint64_t align, map_off, map_end, map_size;
	void *addr;
	int ret = mem_region_validate(d);

	if (ret)
		return ret;
	if (fstat(fd, &st) < 0) {
		LOG_ERR("memory region fd: fstat: %s", strerror(errno));
		return -EINVAL;
	}
	/* Only files can back guest memory (memfd, hugetlbfs, /dev/shm).
	 * Touching a mapping past the end of a file raises SIGBUS, so the
	 * file must hold the whole range we will ever access. */
	if (!S_ISREG(st.st_mode)) {
		LOG_ERR("memory region fd is not a regular file");
		return -EINVAL;
	}
	if ((uint64_t)st.st_size < d->mmap_offset + d->memory_size) {
		LOG_ERR("memory region offset 0x%llx + size 0x%llx beyond file size 0x%llx",
			(unsigned long long)d->mmap_offset,
			(unsigned long long)d->memory_size,
			(unsigned long long)st.st_size);
		return -EINVAL;
	}
	align = map_align(fd);
	map_off = d->mmap_offset & ~(align - 1);
	map_end = d->mmap_offset + d->memory_size;
	map_size = map_end - map_off;
	if (map_size & (align - 1))
		map_size += align - (map_size & (align - 1));
	/* What is really mapped counts (a sparse file costs no memory, but
	 * address space and page tables). */
	if (map_size > room) {
		LOG_ERR("memory region of 0x%llx bytes mapped: over the budget (0x%llx bytes left)",
			(unsigned long long)map_size, (unsigned long long)room);
		return -ENOSPC;
	}
	if (map_size > SIZE_MAX) /* 32-bit hosts */
		return -EINVAL;
	addr = mmap(NULL, (size_t)map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, (off_t)map_off);
	if (addr == MAP_FAILED) {
		LOG_ERR("memory region mmap of 0x%llx bytes: %s",
			(unsigned long long)map_size, strerror(errno));
		return -EINVAL;
	}
	if (mem_guard_add(addr, (size_t)map_size, align)) {
		munmap(addr, (size_t)map_size);
		return -ENOSPC;
	}
	memset(r, 0, sizeof(*r));
	r->gpa = d->guest_phys_addr;
	r->size = d->memory_size;
	r->uva = d->userspace_addr;
	r->mmap_offset = d->mmap_offset;
	r->mmap_addr = addr;
	r->mmap_size = (size_t)map_size;
	r->hva = (uint64_t)(uintptr_t)addr + (d->mmap_offset - map_off);
	r->dev = (uint64_t)st.st_dev;
	r->ino = (uint64_t)st.st_ino;
	r->budget = budget;
	if (budget) {
		budget->regions++;
		budget->bytes += map_size;
	}
	/* Best effort, while we still have the fd: a sealed file cannot
	 * shrink under us (the mapping keeps the file; the fd is not
	 * needed after this). */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		LOG_DEBUG("memory region fd cannot be sealed: %s",
			  strerror(errno));
	LOG_INFO("mapped guest memory gpa 0x%llx size 0x%llx uva 0x%llx at %p",
		 (unsigned long long)r->gpa, (unsigned long long)r->size,
		 (unsigned long long)r->uva, addr);
	return 0;
}

void mem_region_unmap(struct mem_region *r)
{
	if (r->mmap_addr) {
		mem_guard_del(r->mmap_addr);
		munmap(r->mmap_addr, r->mmap_size);
		if (r->budget) {
			r->budget->regions--;
			r->budget->bytes -= r->mmap_size;
		}
	}
	memset(r, 0, sizeof(*r));
}

uint64_t mem_table_bytes(const struct mem_table *mt)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < mt->nregions; i++)
		n += mt->regions[i].mmap_size;
	return n;
}

/* [a, a + alen) and [b, b + blen) intersect; lengths > 0, no wrap. */
static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

bool mem_table_overlaps(const struct mem_table *mt,
			const struct vhost_user_mem_region *d)
{
	for (uint32_t i = 0; i < mt->nregions; i++) {
		const struct mem_region *r = &mt->regions[i];

		if (ranges_overlap(r->gpa, r->size, d->guest_phys_addr,
				   d->memory_size) ||
		    ranges_overlap(r->uva, r->size, d->userspace_addr,
				   d->memory_size))
			return true;
	}
	return false;
}

int mem_table_find(const struct mem_table *mt,
		   const struct vhost_user_mem_region *d)
{
	for (uint32_t i = 0; i < mt->nregions; i++) {
		const struct mem_region *r = &mt->regions[i];

		if (r->gpa == d->guest_phys_addr && r->uva == d->userspace_addr &&
		    r->size == d->memory_size)
			return (int)i;
	}
	return -1;
}

void mem_table_unmap_all(struct mem_table *mt)
{
	for (uint32_t i = 0; i < mt->nregions; i++)
		mem_region_unmap(&mt->regions[i]);
	mt->nregions = 0;
}
