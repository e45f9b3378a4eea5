/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirty_log.h"
#include "log.h"
#include "memory.h"

bool dirty_log_test_skip;

static void __attribute__((constructor)) dirty_log_test_init(void)
{
	const char *e = getenv("VHOST_TEST_SKIP_DIRTY_LOG");

	dirty_log_test_skip = e && *e == '1';
}

int dirty_log_map(struct dirty_log *log, int fd, uint64_t size,
		  uint64_t offset)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t map_off, map_size;
	struct stat st;
	void *addr;

	memset(log, 0, sizeof(*log));
	if (size == 0 || size > DIRTY_LOG_MAX_SIZE ||
	    offset > (uint64_t)INT64_MAX - size) {
		LOG_ERR("dirty log: size 0x%llx at offset 0x%llx refused",
			(unsigned long long)size, (unsigned long long)offset);
		return -EINVAL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < offset + size) {
		LOG_ERR("dirty log: fd is not a file holding 0x%llx bytes",
			(unsigned long long)(offset + size));
		return -EINVAL;
	}
	map_off = offset & ~(page - 1);
	map_size = offset + size - map_off;
	addr = mmap(NULL, (size_t)map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, (off_t)map_off);
	if (addr == MAP_FAILED) {
		LOG_ERR("dirty log: mmap: %s", strerror(errno));
		return -errno;
	}
	/* The front-end could shrink the file under us (QEMU seals its log
	 * memfd; others may not): the data path writes bits here. */
	if (mem_guard_add(addr, (size_t)map_size, page)) {
		munmap(addr, (size_t)map_size);
		return -ENOSPC;
	}
	log->map = addr;
	log->map_size = (size_t)map_size;
	log->bits = (uint8_t *)addr + (offset - map_off);
	log->size = size;
	return 0;
}

void dirty_log_unmap(struct dirty_log *log)
{
	if (log->map) {
		mem_guard_del(log->map);
		munmap(log->map, log->map_size);
	}
	memset(log, 0, sizeof(*log));
}
