/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dirty page log for live migration (vhost-user.rst "Migration"): a bitmap
 * in memory the front-end shares with SET_LOG_BASE, one bit per 4 KiB page
 * of guest physical memory. While VHOST_F_LOG_ALL is negotiated, every byte
 * the device writes into guest memory has its page's bit set, after the
 * write (release ordering: the front-end clears bits with an atomic
 * exchange, then reads the pages). Bits beyond the bitmap are ignored.
 */
#ifndef VHOST_DIRTY_LOG_H
#define VHOST_DIRTY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIRTY_LOG_PAGE_SHIFT 12
/* Largest bitmap accepted: 256 MiB covers 8 TiB of guest physical space. */
#define DIRTY_LOG_MAX_SIZE (256ull << 20)

struct dirty_log {
	uint8_t *bits;     /* bitmap start (mapping + offset), NULL: none */
	uint64_t size;     /* bytes of bitmap */
	void *map;         /* what mmap returned */
	size_t map_size;
};

/* Map the bitmap [offset, offset + size) of fd into log (fd is not kept).
 * Checks sizes, overflow and the file's size. 0 or -errno. */
int dirty_log_map(struct dirty_log *log, int fd, uint64_t size,
		  uint64_t offset);
void dirty_log_unmap(struct dirty_log *log);

/* Test-only switch: when set, dirty_log_range() logs nothing (shows that
 * the migration tests can fail). Read from VHOST_TEST_SKIP_DIRTY_LOG. */
extern bool dirty_log_test_skip;

/* Bits gathered during one burst before they go to the log: one entry per
 * byte of bitmap touched (a burst of small packets touches a few). */
#define DIRTY_LOG_CACHE 32

struct dirty_log_cache {
	uint32_t n;
	uint8_t bits[DIRTY_LOG_CACHE];
	uint64_t byte[DIRTY_LOG_CACHE];
};

/* Set the gathered bits in the log. The release fence orders every guest
 * memory write of the burst before them (pairs with the front-end's atomic
 * exchange of a log word before it reads the pages). */
static inline void dirty_log_flush(struct dirty_log_cache *c, uint8_t *log)
{
	if (!c->n)
		return;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (uint32_t i = 0; i < c->n; i++)
		__atomic_fetch_or(&log[c->byte[i]], c->bits[i],
				  __ATOMIC_RELAXED);
	c->n = 0;
}

/* Gather the pages of [gpa, gpa + len) (len may be 0); bytes of bitmap at
 * or past size (pages the log does not cover) are ignored. */
static inline void dirty_log_range(struct dirty_log_cache *c, uint8_t *log,
				   uint64_t size, uint64_t gpa, uint64_t len)
{
	uint64_t page, last;

	if (!len || dirty_log_test_skip)
		return;
	page = gpa >> DIRTY_LOG_PAGE_SHIFT;
	/* No wrap: the offset in the first page plus len - 1 is small. */
	last = page + (((gpa & ((1u << DIRTY_LOG_PAGE_SHIFT) - 1)) + len - 1) >>
		       DIRTY_LOG_PAGE_SHIFT);
	for (; page <= last; page++) {
		uint64_t byte = page >> 3;
		uint8_t bit = (uint8_t)(1u << (page & 7));
		uint32_t i = c->n;

		if (byte >= size)
			return; /* past the log: the front-end has no bit */
		while (i && c->byte[i - 1] != byte)
			i--;
		if (i) {
			c->bits[i - 1] |= bit;
			continue;
		}
		if (c->n == DIRTY_LOG_CACHE)
			dirty_log_flush(c, log);
		c->byte[c->n] = byte;
		c->bits[c->n] = bit;
		c->n++;
	}
}

#endif
