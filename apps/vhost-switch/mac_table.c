/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "mac_table.h"

static inline uint64_t mac_u64(const uint8_t *m)
{
	return (uint64_t)m[0] << 40 | (uint64_t)m[1] << 32 |
	       (uint64_t)m[2] << 24 | (uint64_t)m[3] << 16 |
	       (uint64_t)m[4] << 8 | m[5];
}

static inline uint32_t slot_of(uint64_t key)
{
	/* Fibonacci hashing: multiply, keep the top bits (no modulo). */
	return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 52) &
	       (MAC_TABLE_SIZE - 1);
}

static inline uint64_t make_key(uint64_t mac, uint16_t net)
{
	/* +1 so that MAC 00:00:00:00:00:00 in network 0 is not "empty" */
	return (mac << 16 | net) + 1;
}

/* A slot being taken over: not empty (searches go on past it), matches no
 * key (a network is at most 4094, so no key is all ones). */
#define KEY_BUSY UINT64_MAX

static inline uint64_t key_mac(uint64_t key)
{
	return (key - 1) >> 16;
}

static inline uint16_t key_net(uint64_t key)
{
	return (uint16_t)(key - 1);
}

static inline int fresh(const struct mac_table *t, const struct mac_entry *e)
{
	uint32_t now = atomic_load_explicit(&t->now, memory_order_relaxed);
	uint32_t seen = atomic_load_explicit(&e->seen, memory_order_relaxed);

	return seen && now - seen <= t->aging;
}

void mac_table_init(struct mac_table *t, uint32_t aging_s)
{
	memset(t, 0, sizeof(*t));
	t->aging = aging_s;
	atomic_store(&t->now, 1);
}

void mac_table_learn(struct mac_table *t, uint16_t net, const uint8_t *mac,
		     uint32_t dest)
{
	uint64_t want = make_key(mac_u64(mac), net);
	uint32_t s = slot_of(want), now = atomic_load_explicit(&t->now,
							       memory_order_relaxed);
	struct mac_entry *reuse = NULL;

	for (unsigned i = 0; i < MAC_TABLE_PROBE; i++) {
		struct mac_entry *e = &t->e[(s + i) & (MAC_TABLE_SIZE - 1)];
		uint64_t k = atomic_load_explicit(&e->key, memory_order_relaxed);

		/* A slot never used ends the search: a key always goes to
		 * the first free or stale slot of its window, and keys are
		 * never cleared (only their time), so none lies beyond. */
		if (!k) {
			if (!reuse)
				reuse = e;
			break;
		}
		if (k == want) {
			/* Known: refresh, and move it if the host moved. */
			if (atomic_load_explicit(&e->dest, memory_order_relaxed) != dest)
				atomic_store_explicit(&e->dest, dest,
						      memory_order_release);
			if (atomic_load_explicit(&e->seen, memory_order_relaxed) != now)
				atomic_store_explicit(&e->seen, now,
						      memory_order_relaxed);
			return;
		}
		if (!reuse && !fresh(t, e))
			reuse = e;
	}
	if (reuse) {
		/* Mark the slot busy before its destination changes: a
		 * reader that saw the old key sees the key change when it
		 * checks again (the release on dest orders the two). Two
		 * workers may race for the slot: the last store wins, and
		 * the loser learns again on its next packet. */
		atomic_store_explicit(&reuse->key, KEY_BUSY, memory_order_relaxed);
		atomic_store_explicit(&reuse->dest, dest, memory_order_release);
		atomic_store_explicit(&reuse->seen, now, memory_order_relaxed);
		atomic_store_explicit(&reuse->key, want, memory_order_release);
	}
}

uint32_t mac_table_lookup(const struct mac_table *t, uint16_t net,
			  const uint8_t *mac)
{
	uint64_t want = make_key(mac_u64(mac), net);
	uint32_t s = slot_of(want);

	for (unsigned i = 0; i < MAC_TABLE_PROBE; i++) {
		const struct mac_entry *e = &t->e[(s + i) & (MAC_TABLE_SIZE - 1)];
		uint64_t k = atomic_load_explicit(&e->key, memory_order_acquire);
		uint32_t d;

		if (!k) /* never used: not beyond (see learn) */
			return MAC_PORT_NONE;
		if (k != want)
			continue;
		d = atomic_load_explicit(&e->dest, memory_order_acquire);
		/* The slot was taken over meanwhile: not known (flood). */
		if (atomic_load_explicit(&e->key, memory_order_relaxed) != want)
			return MAC_PORT_NONE;
		return fresh(t, e) ? d : MAC_PORT_NONE;
	}
	return MAC_PORT_NONE;
}

static void flush_if(struct mac_table *t, uint32_t mask, uint32_t val)
{
	for (unsigned i = 0; i < MAC_TABLE_SIZE; i++) {
		uint64_t k = atomic_load(&t->e[i].key);

		if (k && k != KEY_BUSY && (atomic_load(&t->e[i].dest) & mask) == val)
			atomic_store(&t->e[i].seen, 0);
	}
}

void mac_table_flush_port(struct mac_table *t, uint16_t port)
{
	flush_if(t, 0xffff, port);
}

void mac_table_flush_vtep(struct mac_table *t, uint16_t vtep1)
{
	flush_if(t, 0xffff0000u, (uint32_t)vtep1 << 16);
}

unsigned mac_table_count(const struct mac_table *t)
{
	unsigned n = 0;

	for (unsigned i = 0; i < MAC_TABLE_SIZE; i++) {
		uint64_t k = atomic_load(&t->e[i].key);

		if (k && k != KEY_BUSY && fresh(t, &t->e[i]))
			n++;
	}
	return n;
}

void mac_table_foreach(const struct mac_table *t,
		       void (*fn)(uint16_t net, const uint8_t *mac,
				  uint32_t dest, uint32_t age_s, void *arg),
		       void *arg)
{
	uint32_t now = atomic_load(&t->now);

	for (unsigned i = 0; i < MAC_TABLE_SIZE; i++) {
		const struct mac_entry *e = &t->e[i];
		uint64_t key = atomic_load(&e->key);
		uint32_t dest = atomic_load(&e->dest);
		uint32_t seen = atomic_load(&e->seen);
		uint8_t mac[6];

		if (!key || key == KEY_BUSY || !fresh(t, e))
			continue;
		for (int k = 0; k < 6; k++)
			mac[k] = (uint8_t)(key_mac(key) >> (8 * (5 - k)));
		fn(key_net(key), mac, dest, now >= seen ? now - seen : 0, arg);
	}
}
