/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The switch's MAC table: open addressing, lock-free. Workers learn and
 * look up concurrently. The key is (network, MAC): the same MAC may live in
 * two networks. An entry is a key word (MAC, network), a destination word
 * (port, and the remote VTEP behind the VXLAN uplink) and a last-seen time,
 * each updated with single atomic stores. A slot taken over for another
 * key is marked busy first, and a reader checks the key again after
 * reading the destination, so it sees an old or a new mapping, never a
 * torn one.
 * Entries older than the aging time count as absent and their slots are
 * reused.
 */
#ifndef SWITCH_MAC_TABLE_H
#define SWITCH_MAC_TABLE_H

#include <stdatomic.h>
#include <stdint.h>

#define MAC_TABLE_SIZE 4096 /* power of two */
#define MAC_TABLE_PROBE 16  /* slots looked at per operation */
#define MAC_PORT_NONE 0xffff /* lookup: not known */

/* A destination: a port, and on the VXLAN uplink the remote VTEP + 1. */
#define MAC_DEST(port, vtep1) ((uint32_t)(port) | (uint32_t)(vtep1) << 16)
#define MAC_DEST_PORT(d) ((uint16_t)(d))
#define MAC_DEST_VTEP1(d) ((uint16_t)((d) >> 16))

struct mac_entry {
	/* mac << 16 | network, + 1; 0: never used (ends a search: keys are
	 * never cleared, only their time) */
	_Atomic uint64_t key;
	_Atomic uint32_t dest;     /* MAC_DEST */
	_Atomic uint32_t seen;     /* seconds, mac_table.now at learning */
};

struct mac_table {
	struct mac_entry e[MAC_TABLE_SIZE];
	_Atomic uint32_t now;      /* coarse clock, advanced by the main thread */
	uint32_t aging;            /* seconds */
};

void mac_table_init(struct mac_table *t, uint32_t aging_s);
/* Remember that mac (6 bytes) of network net (>= 1) was seen at dest
 * (MAC_DEST; a plain port number is a local port). */
void mac_table_learn(struct mac_table *t, uint16_t net, const uint8_t *mac,
		     uint32_t dest);
/* Destination of mac in net, or MAC_PORT_NONE. */
uint32_t mac_table_lookup(const struct mac_table *t, uint16_t net,
			  const uint8_t *mac);
/* Forget every entry of port (it went away). */
void mac_table_flush_port(struct mac_table *t, uint16_t port);
/* Live entries (for statistics). */
unsigned mac_table_count(const struct mac_table *t);
/* Forget every entry that points at remote VTEP vtep1 (VTEP + 1). */
void mac_table_flush_vtep(struct mac_table *t, uint16_t vtep1);
/* Call fn for every live entry: its network, MAC (6 bytes), destination
 * and seconds since it was last seen. A snapshot entry by entry, while
 * workers learn. */
void mac_table_foreach(const struct mac_table *t,
		       void (*fn)(uint16_t net, const uint8_t *mac,
				  uint32_t dest, uint32_t age_s, void *arg),
		       void *arg);

#endif
