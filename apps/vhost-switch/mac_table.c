/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "mac_table.h"

static inline uint64_t mac_u64(const uint8_t *m)
{
	return (uint64_t)m[0] << 40 | (uint64_t)m[1] << 32 |
	       (uint64_t)m[2] << 24 | (uint64_t)m[3] << 16 |
	       (uint64_t)m[4] << 8 | m[5];
}

static inline uint32_t slot_of(uint64_t mac)
{
	/* Fibonacci hashing: multiply, keep the top bits (no modulo). */
	return (uint32_t)((mac * 0x9e3779b97f4a7c15ull) >> 52) &
	       (MAC_TABLE_SIZE - 1);
}

static inline uint64_t make_key(uint64_t mac, uint16_t port)
{
	/* +1 so that MAC 00:00:00:00:00:00 on port 0 is not "empty" */
	return (mac << 16 | port) + 1;
}

static inline uint64_t key_mac(uint64_t key)
{
	return (key - 1) >> 16;
}

static inline uint16_t key_port(uint64_t key)
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

void mac_table_learn(struct mac_table *t, const uint8_t *mac, uint16_t port)
{
	uint64_t m = mac_u64(mac), want = make_key(m, port);
	uint32_t s = slot_of(m), now = atomic_load_explicit(&t->now,
							    memory_order_relaxed);
	struct mac_entry *reuse = NULL;

	for (unsigned i = 0; i < MAC_TABLE_PROBE; i++) {
		struct mac_entry *e = &t->e[(s + i) & (MAC_TABLE_SIZE - 1)];
		uint64_t k = atomic_load_explicit(&e->key, memory_order_relaxed);

		if (k && key_mac(k) == m) {
			/* Known: refresh, and move it if the host moved. */
			if (k != want)
				atomic_store_explicit(&e->key, want,
						      memory_order_relaxed);
			if (atomic_load_explicit(&e->seen, memory_order_relaxed) != now)
				atomic_store_explicit(&e->seen, now,
						      memory_order_relaxed);
			return;
		}
		if (!reuse && (!k || !fresh(t, e)))
			reuse = e;
	}
	if (reuse) {
		/* Two workers may race for the slot: the last store wins,
		 * and the loser learns again on its next packet. */
		atomic_store_explicit(&reuse->seen, now, memory_order_relaxed);
		atomic_store_explicit(&reuse->key, want, memory_order_release);
	}
}

uint16_t mac_table_lookup(const struct mac_table *t, const uint8_t *mac)
{
	uint64_t m = mac_u64(mac);
	uint32_t s = slot_of(m);

	for (unsigned i = 0; i < MAC_TABLE_PROBE; i++) {
		const struct mac_entry *e = &t->e[(s + i) & (MAC_TABLE_SIZE - 1)];
		uint64_t k = atomic_load_explicit(&e->key, memory_order_acquire);

		if (k && key_mac(k) == m)
			return fresh(t, e) ? key_port(k) : MAC_PORT_NONE;
	}
	return MAC_PORT_NONE;
}

void mac_table_flush_port(struct mac_table *t, uint16_t port)
{
	for (unsigned i = 0; i < MAC_TABLE_SIZE; i++) {
		uint64_t k = atomic_load(&t->e[i].key);

		if (k && key_port(k) == port)
			atomic_store(&t->e[i].seen, 0);
	}
}

unsigned mac_table_count(const struct mac_table *t)
{
	unsigned n = 0;

	for (unsigned i = 0; i < MAC_TABLE_SIZE; i++)
		if (atomic_load(&t->e[i].key) && fresh(t, &t->e[i]))
			n++;
	return n;
}

void mac_table_foreach(const struct mac_table *t,
		       void (*fn)(const uint8_t *mac, uint16_t port,
				  uint32_t age_s, void *arg),
		       void *arg)
{
	uint32_t now = atomic_load(&t->now);

	for (unsigned i = 0; i < MAC_TABLE_SIZE; i++) {
		const struct mac_entry *e = &t->e[i];
		uint64_t key = atomic_load(&e->key);
		uint32_t seen = atomic_load(&e->seen);
		uint8_t mac[6];

		if (!key || !fresh(t, e))
			continue;
		for (int k = 0; k < 6; k++)
			mac[k] = (uint8_t)(key_mac(key) >> (8 * (5 - k)));
		fn(mac, key_port(key), now >= seen ? now - seen : 0, arg);
	}
}
