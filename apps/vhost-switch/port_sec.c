/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "port_sec.h"

static uint64_t mac_u64(const uint8_t *m)
{
	return (uint64_t)m[0] << 40 | (uint64_t)m[1] << 32 |
	       (uint64_t)m[2] << 24 | (uint64_t)m[3] << 16 |
	       (uint64_t)m[4] << 8 | m[5];
}

static void u64_mac(uint64_t v, uint8_t *m)
{
	for (int i = 5; i >= 0; i--, v >>= 8)
		m[i] = (uint8_t)v;
}

void port_sec_init(struct port_sec *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->max_learned = PSEC_DEFAULT_MAX_LEARNED;
	ps->net = 1; /* NET_DEFAULT */
}

int port_sec_allow(struct port_sec *ps, const uint8_t *mac)
{
	unsigned n = atomic_load(&ps->nallowed);

	if (mac[0] & 1)
		return -EINVAL; /* a multicast MAC is never a source */
	if (n >= PSEC_MAX_ALLOWED)
		return -ENOSPC;
	atomic_store(&ps->allowed[n], mac_u64(mac) + 1);
	atomic_store(&ps->nallowed, n + 1);
	ps->configured = true;
	return 0;
}

int port_sec_parse_mac(const char *s, uint8_t *mac)
{
	unsigned v[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static bool allows(const struct port_sec *ps, uint64_t key)
{
	unsigned n = atomic_load_explicit(&ps->nallowed, memory_order_acquire);

	for (unsigned i = 0; i < n && i < PSEC_MAX_ALLOWED; i++)
		if (atomic_load_explicit(&ps->allowed[i],
					 memory_order_relaxed) == key)
			return true;
	return false;
}

/* Some other port of the network has the MAC in its list (and so owns
 * it; other networks may use the same MAC). Bounded:
 * ports x PSEC_MAX_ALLOWED, and only for MACs not learned on `in`. */
static bool pinned_elsewhere(const struct port_sec *all, unsigned nports,
			     uint16_t in, uint16_t net, uint64_t key)
{
	for (unsigned p = 0; p < nports; p++)
		if (p != in && all[p].net == net && allows(&all[p], key))
			return true;
	return false;
}

/* A learned entry: the MAC in bits 0-47, and in bits 48-63 the second it
 * was claimed (15 bits of the table clock, bit 63 set: never 0, which is
 * a free entry). */
#define LEARNED_MAC_MASK 0xffffffffffffull
static uint64_t learned_entry(uint64_t mac, uint32_t now)
{
	return mac | (uint64_t)((now & 0x7fff) | 0x8000) << 48;
}

/* Room in the port's learned list for mac (then it is in the list), or
 * false at the limit. An entry is free once the table no longer maps its
 * MAC to this port (aged, moved, flushed) and it was not claimed this
 * second: a worker claims the entry before it learns the MAC, and another
 * worker polling another queue of the port (multiqueue) must not take it
 * in between. A free entry is taken by CAS; a lost race rescans: each
 * loss means another worker took an entry, so at most max losses before
 * the list is full. */
static bool take_learn_slot(const struct mac_table *t, struct port_sec *ps,
			    uint16_t in, uint16_t net, uint64_t mac)
{
	uint32_t now = atomic_load_explicit(&t->now, memory_order_relaxed);
	unsigned max = ps->max_learned < PSEC_MAX_LEARNED ? ps->max_learned :
			       PSEC_MAX_LEARNED;
	uint64_t mine = learned_entry(mac, now);

	/* Found full this second: entries only free up as the clock moves
	 * (or a MAC moves away, picked up next second); an unknown-MAC flood
	 * costs one compare per frame. */
	if (atomic_load_explicit(&ps->full_at, memory_order_relaxed) == now)
		return false;
	for (unsigned tries = 0; tries <= max; tries++) {
		int free_slot = -1;
		uint64_t seen = 0;

		for (unsigned i = 0; i < max; i++) {
			uint64_t v = atomic_load_explicit(&ps->learned[i],
							  memory_order_relaxed);
			uint8_t m[6];

			if (v && (v & LEARNED_MAC_MASK) == mac)
				return true; /* learned here, lost from the table */
			if (free_slot >= 0)
				continue;
			if (v) {
				if (v >> 48 == mine >> 48)
					continue; /* claimed this second */
				u64_mac(v & LEARNED_MAC_MASK, m);
				if (mac_table_lookup(t, net, m) == in)
					continue;
			}
			free_slot = (int)i;
			seen = v;
		}
		if (free_slot < 0) {
			atomic_store_explicit(&ps->full_at, now,
					      memory_order_relaxed);
			return false;
		}
		if (atomic_compare_exchange_strong_explicit(
			    &ps->learned[free_slot], &seen, mine,
			    memory_order_relaxed, memory_order_relaxed) ||
		    (seen & LEARNED_MAC_MASK) == mac)
			return true;
	}
	return false;
}

/* Lock mode: the port's first MAC becomes its only one. Two workers may
 * see different first MACs on two queues at once: the CAS picks one, the
 * other frame is a spoof. */
static bool lock_to_first(struct port_sec *ps, uint64_t key)
{
	uint64_t first = 0;

	if (!atomic_compare_exchange_strong_explicit(&ps->lock_claim, &first,
						     key, memory_order_relaxed,
						     memory_order_relaxed))
		return first == key;
	atomic_store_explicit(&ps->allowed[0], key, memory_order_relaxed);
	/* pairs with the acquire load of nallowed in allows() */
	atomic_store_explicit(&ps->nallowed, 1, memory_order_release);
	return true;
}

enum psec_verdict port_sec_ingress(struct mac_table *t, struct port_sec *all,
				   unsigned nports, uint16_t in, uint16_t net,
				   const uint8_t *mac)
{
	struct port_sec *ps = &all[in];
	uint64_t key = mac_u64(mac) + 1;
	uint32_t cur = MAC_PORT_NONE;
	bool own;

	if (mac[0] & 1) /* never learned; a list never holds one */
		goto check_list;
	cur = mac_table_lookup(t, net, mac);
	if (cur == in && (!atomic_load_explicit(&ps->nallowed,
						memory_order_relaxed) ||
			  allows(ps, key))) {
		mac_table_learn(t, net, mac, in); /* refresh */
		return PSEC_PASS;
	}
check_list:
	own = allows(ps, key);
	if (!own && atomic_load_explicit(&ps->nallowed, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&ps->drop_spoof, 1,
					  memory_order_relaxed);
		return PSEC_DROP_SPOOF;
	}
	if (mac[0] & 1)
		return PSEC_PASS; /* open port: as before, not learned */
	/* Not allowed here, owned by another port: a stolen MAC. */
	if (!own && pinned_elsewhere(all, nports, in, net, key)) {
		atomic_fetch_add_explicit(&ps->drop_spoof, 1,
					  memory_order_relaxed);
		return PSEC_DROP_SPOOF;
	}
	if (!own && ps->lock_first && !lock_to_first(ps, key)) {
		atomic_fetch_add_explicit(&ps->drop_spoof, 1,
					  memory_order_relaxed);
		return PSEC_DROP_SPOOF;
	}
	if (ps->max_learned && !take_learn_slot(t, ps, in, net, key - 1)) {
		atomic_fetch_add_explicit(&ps->drop_limit, 1,
					  memory_order_relaxed);
		return PSEC_DROP_LIMIT;
	}
	mac_table_learn(t, net, mac, in);
	if (cur != MAC_PORT_NONE && cur != in) {
		atomic_store_explicit(&ps->last_move,
				      (key - 1) << 16 | MAC_DEST_PORT(cur),
				      memory_order_relaxed);
		atomic_fetch_add_explicit(&ps->moves, 1, memory_order_release);
	}
	return PSEC_PASS;
}

bool port_sec_remote_ok(struct port_sec *all, unsigned nports, uint16_t in,
			uint16_t net, const uint8_t *mac)
{
	if (!pinned_elsewhere(all, nports, in, net, mac_u64(mac) + 1))
		return true;
	atomic_fetch_add_explicit(&all[in].drop_spoof, 1, memory_order_relaxed);
	return false;
}

static void forget_learned(struct port_sec *ps)
{
	for (unsigned i = 0; i < PSEC_MAX_LEARNED; i++)
		atomic_store_explicit(&ps->learned[i], 0, memory_order_relaxed);
	atomic_store_explicit(&ps->full_at, 0, memory_order_relaxed);
}

void port_sec_reset(struct port_sec *ps)
{
	forget_learned(ps);
	if (ps->lock_first && !ps->configured) {
		atomic_store(&ps->nallowed, 0);
		atomic_store(&ps->lock_claim, 0);
	}
}

void port_sec_clear(struct port_sec *ps)
{
	atomic_store(&ps->nallowed, 0);
	for (unsigned i = 0; i < PSEC_MAX_ALLOWED; i++)
		atomic_store(&ps->allowed[i], 0);
	atomic_store(&ps->net, 1); /* NET_DEFAULT */
	ps->configured = false;
	ps->lock_first = false;
	ps->max_learned = PSEC_DEFAULT_MAX_LEARNED;
	forget_learned(ps);
	atomic_store(&ps->lock_claim, 0);
	atomic_store(&ps->drop_spoof, 0);
	atomic_store(&ps->drop_limit, 0);
	atomic_store(&ps->moves, 0);
	atomic_store(&ps->last_move, 0);
}
