/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory: the regions the front-end shared with us, and translation
 * from guest physical (GPA) and front-end virtual (UVA) addresses to ours.
 *
 * Translation never trusts the address: offsets are computed by unsigned
 * subtraction from the region start and compared with the region size, so
 * no sum of two guest values is ever formed (it could wrap). A translation
 * returns the host pointer and shortens *len to what is contiguous inside
 * that one region; callers walk the rest piecewise.
 *
 * The table is written only by the event thread, while it holds the lock of
 * every virtqueue of the device (device_lock_all_vrings), so the data path,
 * which reads it under its virtqueue's lock, always sees a whole table.
 */
#ifndef VHOST_MEMORY_H
#define VHOST_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

struct mem_region {
	uint64_t gpa;        /* guest physical start */
	uint64_t size;       /* bytes, > 0 */
	uint64_t uva;        /* front-end virtual start */
	uint64_t hva;        /* our address of gpa */
	uint64_t mmap_offset;
	void *mmap_addr;     /* what mmap returned (page aligned) */
	size_t mmap_size;    /* what is really mapped (after alignment) */
	/* The backing file, to tell it from another. Its fd is not kept: a
	 * mapping holds the file, and one fd per region would let a few
	 * front-ends exhaust the process's fds. */
	uint64_t dev, ino;
	struct mem_budget *budget; /* charged while mapped, or NULL */
};

/* What a set of connections has mapped, against its limits (the context's
 * budget; a connection's own usage is its table: mem_table_usage). Event
 * thread only. Every mapping takes one SIGBUS-guard slot, so the region
 * limits are also the guard-slot limits. */
struct mem_budget {
	uint32_t max_regions;
	uint64_t max_bytes;
	uint32_t regions;
	uint64_t bytes;
};

struct mem_table {
	uint32_t nregions;
	struct mem_region regions[VHOST_USER_MAX_MEM_SLOTS];
};

/* GPA -> host pointer; *len is shortened to the bytes contiguous in the
 * region. NULL if gpa is in no region. */
static inline void *mem_gpa_to_hva(const struct mem_table *mt, uint64_t gpa,
				   uint64_t *len)
{
	for (uint32_t i = 0; i < mt->nregions; i++) {
		const struct mem_region *r = &mt->regions[i];
		uint64_t off = gpa - r->gpa;

		if (gpa >= r->gpa && off < r->size) {
			if (*len > r->size - off)
				*len = r->size - off;
			return (void *)(uintptr_t)(r->hva + off);
		}
	}
	return NULL;
}

/* The whole of [gpa, gpa + len) in one region, or NULL. */
static inline void *mem_gpa_range(const struct mem_table *mt, uint64_t gpa,
				  uint64_t len)
{
	uint64_t got = len;
	void *p = mem_gpa_to_hva(mt, gpa, &got);

	return p && got == len ? p : NULL;
}

/* mem_gpa_range, trying the region of the last hit first: with many
 * regions (memory hot-plug: up to 509) the buffers of a burst mostly sit
 * in one of them. *hint belongs to the caller (one per virtqueue). */
static inline void *mem_gpa_range_hint(const struct mem_table *mt,
				       uint64_t gpa, uint64_t len,
				       uint32_t *hint)
{
	if (*hint < mt->nregions) {
		const struct mem_region *r = &mt->regions[*hint];
		uint64_t off = gpa - r->gpa;

		if (gpa >= r->gpa && off < r->size && len <= r->size - off)
			return (void *)(uintptr_t)(r->hva + off);
	}
	for (uint32_t i = 0; i < mt->nregions; i++) {
		const struct mem_region *r = &mt->regions[i];
		uint64_t off = gpa - r->gpa;

		if (gpa >= r->gpa && off < r->size) {
			*hint = i;
			return len <= r->size - off ?
			       (void *)(uintptr_t)(r->hva + off) : NULL;
		}
	}
	return NULL;
}

/* mem_gpa_range_hint for n buffers at once (the packed batch paths): the
 * hinted region is loaded once for all of them. false if one of them is
 * not whole in one region (p[] then partly filled). */
static inline bool mem_gpa_ranges_hint(const struct mem_table *mt,
				       unsigned n, const uint64_t *gpa,
				       const uint32_t *len, uint8_t **p,
				       uint32_t *hint)
{
	uint64_t base = 0, size = 0, hva = 0;

	if (*hint < mt->nregions) {
		base = mt->regions[*hint].gpa;
		size = mt->regions[*hint].size;
		hva = mt->regions[*hint].hva;
	}
	_Pragma("GCC unroll 4")
	for (unsigned k = 0; k < n; k++) {
		/* gpa < base wraps off past size: regions do not wrap. */
		uint64_t off = gpa[k] - base;

		if (off < size && len[k] <= size - off)
			p[k] = (uint8_t *)(uintptr_t)(hva + off);
		else if (!(p[k] = mem_gpa_range_hint(mt, gpa[k], len[k], hint)))
			return false;
	}
	return true;
}

/* Front-end virtual address -> ours, same contract as mem_gpa_to_hva. */
void *mem_uva_to_hva(const struct mem_table *mt, uint64_t uva, uint64_t *len);
/* The whole of [uva, uva + len) in one region, or NULL. */
void *mem_uva_range(const struct mem_table *mt, uint64_t uva, uint64_t len);

/* Check a region description from the front-end (sizes, overflow). */
int mem_region_validate(const struct vhost_user_mem_region *d);
/* Map d from fd into r. The fd stays the caller's (close it: the mapping
 * does not need it). -ENOSPC if the mapping, rounded to its alignment,
 * would take more than room bytes or no SIGBUS-guard slot is free. On
 * success the mapping is charged to budget (may be NULL) until unmapped. */
int mem_region_map(struct mem_region *r, const struct vhost_user_mem_region *d,
		   int fd, uint64_t room, struct mem_budget *budget);
void mem_region_unmap(struct mem_region *r);
/* Bytes really mapped for a table's regions. */
uint64_t mem_table_bytes(const struct mem_table *mt);
/* fd is the file r maps (same device and inode). */
bool mem_region_same_file(const struct mem_region *r, int fd);
/* True if r overlaps a region of mt (in guest or front-end space). */
bool mem_table_overlaps(const struct mem_table *mt,
			const struct vhost_user_mem_region *d);
/* Index of the region described by d (gpa, uva and size equal), or -1. */
int mem_table_find(const struct mem_table *mt,
		   const struct vhost_user_mem_region *d);
void mem_table_unmap_all(struct mem_table *mt);
/* Guard a shared mapping of a front-end's file (guest memory, the dirty
 * log) against SIGBUS after the file shrinks: faulting blocks of align
 * bytes become zero pages. 0 or -ENOSPC (no slot: do not map). */
int mem_guard_add(void *addr, size_t len, uint64_t align);
void mem_guard_del(void *addr);
/* Guest memory blocks replaced after SIGBUS (the file was shrunk). */
uint64_t mem_guard_faults(void);
/* SIGBUS-guard slots of the process (one per mapped region, over every
 * context): a context's region budget should leave room for the others. */
#define MEM_GUARD_SLOTS 65536u

#endif
