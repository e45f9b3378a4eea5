/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port security: which source MACs a port may send from, and how many it
 * may make the switch learn.
 *
 * - allowed: the MACs given when the port was made (--socket PATH,mac=...),
 *   or, in lock mode, the first one seen after the VM connected. A port with
 *   a list sends from those MACs only; no other port may send from a MAC
 *   some port's list holds unless its own list holds it too (one VM with
 *   two ports: the MAC may move between them).
 * - a limit on learned MACs per port: past it, frames from MACs the switch
 *   has not learned on the port are dropped (a VM cannot flood the table).
 * - a MAC seen on another port than the one it was learned on moves, and
 *   the move is counted (the main thread logs it).
 *
 * Threads: every worker reads every port's allowed list. A port's learned
 * list and its lock are written by the workers that poll its queues: with
 * multiqueue, several at once; learned entries and the lock are claimed
 * with compare-and-swap. Configured lists are written only before the
 * port starts; reset and clear run when no worker polls the port.
 */
#ifndef SWITCH_PORT_SEC_H
#define SWITCH_PORT_SEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mac_table.h"

#define PSEC_MAX_ALLOWED 8
#define PSEC_MAX_LEARNED 256
#define PSEC_DEFAULT_MAX_LEARNED 64

struct port_sec {
	/* Allowed source MACs, mac + 1 (0: none); entries [0, nallowed). */
	_Atomic uint64_t allowed[PSEC_MAX_ALLOWED];
	_Atomic unsigned nallowed;
	/* the port's network (lists are per network); atomic: every worker
	 * reads it while a reused slot gets its new one */
	_Atomic uint16_t net;
	bool configured;            /* allowed given at start: never reset */
	bool lock_first;            /* lock to the first MAC seen */
	unsigned max_learned;       /* 0: no limit (the TAP uplink) */
	/* MACs learned here (the MAC and the second it was claimed, 0: free;
	 * an entry counts while the table still maps it to this port);
	 * claimed by CAS, the port's queues may be polled by several
	 * workers. */
	_Atomic uint64_t learned[PSEC_MAX_LEARNED];
	_Atomic uint32_t full_at;   /* table clock when found full (0: not) */
	/* lock mode: the first MAC (mac + 1) that claimed the lock, 0 none */
	_Atomic uint64_t lock_claim;
	/* Statistics. last_move: mac << 16 | the port it moved from, for the
	 * main thread's log (valid once moves > 0). */
	_Atomic uint64_t drop_spoof, drop_limit, moves, last_move;
};

enum psec_verdict { PSEC_PASS, PSEC_DROP_SPOOF, PSEC_DROP_LIMIT };

/* Set up ps (no MACs, no lock, default limit). */
void port_sec_init(struct port_sec *ps);
/* Add an allowed MAC before the port starts: 0, -ENOSPC, -EINVAL. */
int port_sec_allow(struct port_sec *ps, const uint8_t *mac);
/* Parse "aa:bb:cc:dd:ee:ff": 0 or -EINVAL. */
int port_sec_parse_mac(const char *s, uint8_t *mac);
/* A frame with source mac came in on port `in` (of nports, their port_sec
 * in all[]) in network net: check it, learn it, count what it costs. */
enum psec_verdict port_sec_ingress(struct mac_table *t, struct port_sec *all,
				   unsigned nports, uint16_t in, uint16_t net,
				   const uint8_t *mac);
/* A frame from a remote host (the VXLAN uplink, port `in`) with source mac
 * in network net, which the switch is about to learn there: false (and
 * counted as spoofed on `in`) if a local port of net owns the MAC. */
bool port_sec_remote_ok(struct port_sec *all, unsigned nports, uint16_t in,
			uint16_t net, const uint8_t *mac);
/* The port's VM went away (no worker polls it): forget its learned MACs and
 * a lock (configured MACs stay). */
void port_sec_reset(struct port_sec *ps);
/* The port was removed (no worker polls it): everything back to
 * port_sec_init's state, with the stores workers of other ports may race
 * with (they read every port's list and network) atomic. */
void port_sec_clear(struct port_sec *ps);

#endif
