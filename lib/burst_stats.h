/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What one burst of the virtio-net data path counts (packets, bytes, size
 * buckets, drops), kept in the caller's stack and added to the ring's
 * statistics once at the burst's end (stats_commit). Used by virtio_net.c
 * and its packed batch paths (virtio_net_batch.h).
 */
#ifndef VHOST_BURST_STATS_H
#define VHOST_BURST_STATS_H

#include "device.h"

static inline unsigned size_bucket(uint32_t len)
{
	/* Upper bounds of the size buckets of struct vhost_vring_stats. */
	static const uint32_t bucket_max[VHOST_SIZE_BUCKETS - 1] = {
		64, 127, 255, 511, 1023, 1518, 9000,
	};
	unsigned i = 0;

	while (i < VHOST_SIZE_BUCKETS - 1 && len > bucket_max[i])
		i++;
	return i;
}

struct burst_stats {
	uint32_t bad_chains;
	bool broken;         /* stopped at a head out of range */
	uint64_t bytes;
	uint32_t packets;
	uint32_t drops[VHOST_DROP_REASONS];
	uint32_t buckets[VHOST_SIZE_BUCKETS];
};

static inline void count_packet(struct burst_stats *b, uint32_t len)
{
	b->packets++;
	b->bytes += len;
	b->buckets[size_bucket(len)]++;
}

static inline void stats_commit(struct vhost_vring *vq, const struct burst_stats *b)
{
	struct vhost_vring_stats *s = &vq->stats;

	STAT_ADD(s->packets, b->packets);
	STAT_ADD(s->bytes, b->bytes);
	for (unsigned i = 0; i < VHOST_DROP_REASONS; i++)
		STAT_ADD(s->drops[i], b->drops[i]);
	for (unsigned i = 0; i < VHOST_SIZE_BUCKETS; i++)
		STAT_ADD(s->size_buckets[i], b->buckets[i]);
}

#endif
