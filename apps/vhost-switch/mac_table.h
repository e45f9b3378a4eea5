/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The switch's MAC table: open addressing, lock-free. Workers learn and
 * look up concurrently; an entry is one 64-bit word (MAC, port, valid) plus
 * a last-seen time, each updated with single atomic stores, so a reader
 * sees either the old or the new mapping, never a torn one. Entries older
 * than the aging time count as absent and their slots are reused.
 */
#ifndef SWITCH_MAC_TABLE_H
#define SWITCH_MAC_TABLE_H

#include <stdatomic.h>
#include <stdint.h>

#define MAC_TABLE_SIZE 4096 /* power of two */
#define MAC_TABLE_PROBE 16  /* slots looked at per operation */
#define MAC_PORT_NONE 0xffff

struct mac_entry {
	_Atomic uint64_t key;      /* mac << 16 | port; 0: empty */
	_Atomic uint32_t seen;     /* seconds, mac_table.now at learning */
};

struct mac_table {
	struct mac_entry e[MAC_TABLE_SIZE];
	_Atomic uint32_t now;      /* coarse clock, advanced by the main thread */
	uint32_t aging;            /* seconds */
};

void mac_table_init(struct mac_table *t, uint32_t aging_s);
/* Remember that mac was seen on port (mac: 6 bytes). */
void mac_table_learn(struct mac_table *t, const uint8_t *mac, uint16_t port);
/* Port of mac, or MAC_PORT_NONE. */
uint16_t mac_table_lookup(const struct mac_table *t, const uint8_t *mac);
/* Forget every entry of port (it went away). */
void mac_table_flush_port(struct mac_table *t, uint16_t port);
/* Live entries (for statistics). */
unsigned mac_table_count(const struct mac_table *t);
/* Call fn for every live entry: its MAC (6 bytes), port and seconds since
 * it was last seen. A snapshot entry by entry, while workers learn. */
void mac_table_foreach(const struct mac_table *t,
		       void (*fn)(const uint8_t *mac, uint16_t port,
				  uint32_t age_s, void *arg),
		       void *arg);

#endif
