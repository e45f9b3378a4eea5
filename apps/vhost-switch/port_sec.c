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

/* Room in the port's learned list for key (then it is in the list), or
 * false at the limit. An entry is free once the table no longer maps its
 * MAC to this port (aged, moved, flushed). */
static bool take_learn_slot(const struct mac_table *t, struct port_sec *ps,
			    uint16_t in, uint16_t net, uint64_t key)
{
	uint32_t now = atomic_load_explicit(&t->now, memory_order_relaxed);
	unsigned max = ps->max_learned < PSEC_MAX_LEARNED ? ps->max_learned :
			       PSEC_MAX_LEARNED;
	int free_slot = -1;

	/* Found full this second: entries only free up as the clock moves
	 * (or a MAC moves away, picked up next second); an unknown-MAC flood
	 * costs one compare per frame. */
	if (ps->full_at == now)
		return false;
	for (unsigned i = 0; i < max; i++) {
		uint8_t m[6];

		if (ps->learned[i] == key)
			return true; /* learned here, lost from the table */
		if (free_slot >= 0)
			continue;
		if (!ps->learned[i]) {
			free_slot = (int)i;
			continue;
		}
		u64_mac(ps->learned[i] - 1, m);
		if (mac_table_lookup(t, net, m) != in)
			free_slot = (int)i;
	}
	if (free_slot < 0) {
		ps->full_at = now;
		return false;
	}
	ps->learned[free_slot] = key;
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
	if (ps->max_learned && !take_learn_slot(t, ps, in, net, key)) {
		atomic_fetch_add_explicit(&ps->drop_limit, 1,
					  memory_order_relaxed);
		return PSEC_DROP_LIMIT;
	}
	if (!own && ps->lock_first) {
		/* The first MAC of this VM: from now on its only one. Only
		 * this port's worker writes here. */
		atomic_store_explicit(&ps->allowed[0], key, memory_order_relaxed);
		atomic_store_explicit(&ps->nallowed, 1, memory_order_release);
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

void port_sec_reset(struct port_sec *ps)
{
	memset(ps->learned, 0, sizeof(ps->learned));
	ps->full_at = 0;
	if (ps->lock_first && !ps->configured)
		atomic_store(&ps->nallowed, 0);
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
	memset(ps->learned, 0, sizeof(ps->learned));
	ps->full_at = 0;
	atomic_store(&ps->drop_spoof, 0);
	atomic_store(&ps->drop_limit, 0);
	atomic_store(&ps->moves, 0);
	atomic_store(&ps->last_move, 0);
}
