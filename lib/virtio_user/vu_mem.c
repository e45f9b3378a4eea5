/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The front-end's memory: one memfd shared with the back-end, holding every
 * ring and every buffer. Addresses given to the back-end (descriptors,
 * SET_MEM_TABLE's guest physical and user addresses) are our own virtual
 * addresses, as DPDK's virtio-user does. The file is sealed against
 * shrinking and growing: a back-end that truncates it cannot make us fault.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vu_ring.h"

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define PAGE 4096u

static uint64_t ring_area(uint16_t size)
{
	uint64_t desc = ALIGN_UP(16ull * size, PAGE);
	/* flags, idx, ring[size], used_event */
	uint64_t avail = ALIGN_UP(4ull + 2ull * size + 2, PAGE);
	/* flags, idx, ring[size], avail_event */
	uint64_t used = ALIGN_UP(4ull + 8ull * size + 2, PAGE);

	return desc + avail + used;
}

int vu_mem_init(struct virtio_user *vu)
{
	uint16_t size = vu->p.queue_size;
	uint32_t slot_len = (uint32_t)ALIGN_UP(VU_SLOT_PAD + VU_HDR_LEN + vu->p.buf_len, 64);
	uint64_t per_ring = ring_area(size) + ALIGN_UP((uint64_t)slot_len * size, PAGE);
	uint64_t off = 0;
	int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

	vu->mem_size = per_ring * vu->nrings;
	vu->memfd = memfd_create("virtio-user", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (vu->memfd < 0)
		return -errno;
	if (ftruncate(vu->memfd, (off_t)vu->mem_size) < 0 ||
	    fcntl(vu->memfd, F_ADD_SEALS, seals) < 0)
		return -errno;
	vu->mem = mmap(NULL, vu->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vu->memfd, 0);
	if (vu->mem == MAP_FAILED) {
		vu->mem = NULL;
		return -errno;
	}
	for (uint16_t i = 0; i < vu->nrings; i++) {
		struct vu_ring *r = &vu->rings[i];

		r->index = i;
		r->tx = i & 1;
		r->size = size;
		r->mask = (uint16_t)(size - 1);
		r->desc = (struct vring_desc *)(vu->mem + off);
		off += ALIGN_UP(16ull * size, PAGE);
		r->avail = (struct vring_avail *)(vu->mem + off);
		off += ALIGN_UP(4ull + 2ull * size + 2, PAGE);
		r->used = (struct vring_used *)(vu->mem + off);
		off += ALIGN_UP(4ull + 8ull * size + 2, PAGE);
		r->slots = vu->mem + off;
		r->slot_len = slot_len;
		r->slot_room = slot_len - VU_SLOT_PAD;
		off += ALIGN_UP((uint64_t)slot_len * size, PAGE);
		r->next = calloc(size, sizeof(*r->next));
		r->heads = calloc(size, sizeof(*r->heads));
		r->lens = calloc(size, sizeof(*r->lens));
		r->addrs = calloc(size, sizeof(*r->addrs));
		r->zc = calloc(size, sizeof(*r->zc));
		r->links = calloc(size, sizeof(*r->links));
		r->avail_sh = calloc(size, sizeof(*r->avail_sh));
		r->hdr_set = calloc(size, sizeof(*r->hdr_set));
		if (!r->next || !r->heads || !r->lens || !r->addrs || !r->zc ||
		    !r->links || !r->avail_sh || !r->hdr_set)
			return -ENOMEM;
		vu_ring_reset(r);
	}
	return 0;
}

void vu_mem_fini(struct virtio_user *vu)
{
	for (uint16_t i = 0; i < vu->nrings; i++) {
		struct vu_ring *r = &vu->rings[i];

		/* Packets still posted by reference: ours to release. */
		for (uint16_t h = 0; r->zc && h < r->size; h++)
			vu_zc_release(r, h);
		free(r->addrs);
		free(r->zc);
		free(r->links);
		free(r->avail_sh);
		free(r->hdr_set);
		r->addrs = NULL;
		r->zc = NULL;
		r->links = NULL;
		r->avail_sh = NULL;
		r->hdr_set = NULL;
		free(vu->rings[i].next);
		free(vu->rings[i].heads);
		free(vu->rings[i].lens);
		vu->rings[i].next = NULL;
		vu->rings[i].heads = NULL;
		vu->rings[i].lens = NULL;
	}
	if (vu->mem)
		munmap(vu->mem, vu->mem_size);
	vu->mem = NULL;
	if (vu->memfd >= 0)
		close(vu->memfd);
	vu->memfd = -1;
}
