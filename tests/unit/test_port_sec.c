/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-switch's port security on its MAC table: allowed source MACs per
 * port (configured or locked to the first one), MACs owned by one port that
 * another cannot take, the learned-MAC limit per port, moves counted, a MAC
 * allowed on two ports (one VM, two ports) moving between them freely;
 * two workers polling two queues of one port at once (multiqueue): the
 * learned-MAC limit holds and a lock goes to one MAC only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "check.h"
#include "port_sec.h"

#define NPORTS 4

static struct mac_table *t;
static struct port_sec sec[NPORTS];

static void reset(unsigned max_learned)
{
	mac_table_init(t, 300);
	for (unsigned i = 0; i < NPORTS; i++) {
		port_sec_init(&sec[i]);
		sec[i].max_learned = max_learned;
	}
}

static const uint8_t *M(unsigned n)
{
	static uint8_t m[6];

	m[0] = 0x02;
	m[1] = 0;
	m[2] = (uint8_t)(n >> 24);
	m[3] = (uint8_t)(n >> 16);
	m[4] = (uint8_t)(n >> 8);
	m[5] = (uint8_t)n;
	return m;
}

static enum psec_verdict in(uint16_t port, const uint8_t *mac)
{
	return port_sec_ingress(t, sec, NPORTS, port, 1, mac);
}

static void test_allowed_list(void)
{
	uint8_t mac[6];

	reset(PSEC_DEFAULT_MAX_LEARNED);
	CHECK_EQ(port_sec_parse_mac("02:00:00:00:00:0a", mac), 0);
	CHECK_EQ(port_sec_allow(&sec[0], mac), 0);
	CHECK_EQ(port_sec_parse_mac("02:00:00:00:00:0b", mac), 0);
	CHECK_EQ(port_sec_allow(&sec[0], mac), 0);
	CHECK_EQ(port_sec_parse_mac("02:00:00:00:0:0b:", mac), -EINVAL);
	CHECK_EQ(port_sec_parse_mac("02:00:00:00:00", mac), -EINVAL);
	CHECK_EQ(port_sec_parse_mac("01:00:5e:00:00:01", mac), 0);
	CHECK_EQ(port_sec_allow(&sec[0], mac), -EINVAL); /* multicast */
	/* Its own MACs pass and are learned on port 0. */
	CHECK_EQ(in(0, M(10)), PSEC_PASS);
	CHECK_EQ(in(0, M(11)), PSEC_PASS);
	CHECK_EQ(in(0, M(11)), PSEC_PASS);
	CHECK_EQ(mac_table_lookup(t, 1, M(10)), 0);
	CHECK_EQ(mac_table_lookup(t, 1, M(11)), 0);
	/* Any other source on port 0 is dropped, counted, not learned. */
	CHECK_EQ(in(0, M(12)), PSEC_DROP_SPOOF);
	CHECK_EQ(in(0, mac), PSEC_DROP_SPOOF); /* multicast source */
	CHECK_EQ(atomic_load(&sec[0].drop_spoof), 2);
	CHECK_EQ(mac_table_lookup(t, 1, M(12)), MAC_PORT_NONE);
	/* Another VM takes port 0's MAC: dropped, the table still says 0. */
	CHECK_EQ(in(1, M(10)), PSEC_DROP_SPOOF);
	CHECK_EQ(in(1, M(10)), PSEC_DROP_SPOOF);
	CHECK_EQ(atomic_load(&sec[1].drop_spoof), 2);
	CHECK_EQ(mac_table_lookup(t, 1, M(10)), 0);
	/* ... also when port 0 has not sent yet (nothing learned). */
	CHECK_EQ(port_sec_parse_mac("02:00:00:00:00:0c", mac), 0);
	CHECK_EQ(port_sec_allow(&sec[0], mac), 0);
	CHECK_EQ(in(2, M(12)), PSEC_DROP_SPOOF);
	CHECK_EQ(mac_table_lookup(t, 1, M(12)), MAC_PORT_NONE);
	/* The victim keeps working, and open ports their own MACs. */
	CHECK_EQ(in(0, M(12)), PSEC_PASS);
	CHECK_EQ(in(1, M(20)), PSEC_PASS);
	CHECK_EQ(mac_table_lookup(t, 1, M(20)), 1);
	CHECK_EQ(atomic_load(&sec[0].moves), 0);
	/* Full list. */
	for (unsigned i = 3; i < PSEC_MAX_ALLOWED; i++)
		CHECK_EQ(port_sec_allow(&sec[0], M(100 + i)), 0);
	CHECK_EQ(port_sec_allow(&sec[0], M(99)), -ENOSPC);
	/* Reset keeps configured MACs. */
	port_sec_reset(&sec[0]);
	CHECK_EQ(in(0, M(10)), PSEC_PASS);
	CHECK_EQ(in(0, M(99)), PSEC_DROP_SPOOF);
}

static void test_lock_first(void)
{
	reset(PSEC_DEFAULT_MAX_LEARNED);
	sec[0].lock_first = true;
	sec[1].lock_first = true;
	CHECK_EQ(in(0, M(1)), PSEC_PASS);
	CHECK_EQ(atomic_load(&sec[0].nallowed), 1);
	CHECK_EQ(in(0, M(2)), PSEC_DROP_SPOOF);
	CHECK_EQ(in(0, M(1)), PSEC_PASS);
	/* Port 1 locks to its own, then cannot take port 0's. */
	CHECK_EQ(in(1, M(5)), PSEC_PASS);
	CHECK_EQ(in(1, M(1)), PSEC_DROP_SPOOF);
	/* An open port cannot take a locked MAC either. */
	CHECK_EQ(in(2, M(1)), PSEC_DROP_SPOOF);
	/* A port does not lock to a MAC another port owns. */
	CHECK_EQ(in(3, M(5)), PSEC_DROP_SPOOF);
	sec[3].lock_first = true;
	CHECK_EQ(in(3, M(5)), PSEC_DROP_SPOOF);
	CHECK_EQ(atomic_load(&sec[3].nallowed), 0);
	CHECK_EQ(mac_table_lookup(t, 1, M(1)), 0);
	CHECK_EQ(mac_table_lookup(t, 1, M(5)), 1);
	/* The VM goes; the next one on the port locks to its own MAC. */
	mac_table_flush_port(t, 0);
	port_sec_reset(&sec[0]);
	CHECK_EQ(atomic_load(&sec[0].nallowed), 0);
	CHECK_EQ(in(0, M(3)), PSEC_PASS);
	CHECK_EQ(in(0, M(1)), PSEC_DROP_SPOOF);
	/* ... and the old MAC is free for others. */
	CHECK_EQ(in(2, M(1)), PSEC_PASS);
}

static void test_learn_limit(void)
{
	reset(4);
	sec[2].max_learned = 0; /* no limit (the uplink) */
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(in(0, M(i)), PSEC_PASS);
	/* A flood of new MACs: none learned, each counted. */
	for (unsigned i = 4; i < 1000; i++)
		CHECK_EQ(in(0, M(i)), PSEC_DROP_LIMIT);
	CHECK_EQ(atomic_load(&sec[0].drop_limit), 996);
	CHECK_EQ(mac_table_count(t), 4);
	/* The ones learned keep working. */
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(in(0, M(i)), PSEC_PASS);
	/* Other ports are unaffected; an unlimited port learns on. */
	CHECK_EQ(in(1, M(5000)), PSEC_PASS);
	for (unsigned i = 0; i < 100; i++)
		CHECK_EQ(in(2, M(6000 + i)), PSEC_PASS);
	/* One of port 0's MACs moves away: a slot frees (next second). */
	CHECK_EQ(in(1, M(0)), PSEC_PASS);
	CHECK_EQ(in(0, M(7)), PSEC_DROP_LIMIT);
	atomic_fetch_add(&t->now, 1);
	CHECK_EQ(in(0, M(7)), PSEC_PASS);
	CHECK_EQ(in(0, M(8)), PSEC_DROP_LIMIT);
	/* They age out: room again. */
	atomic_fetch_add(&t->now, 400);
	for (unsigned i = 10; i < 14; i++)
		CHECK_EQ(in(0, M(i)), PSEC_PASS);
	CHECK_EQ(in(0, M(14)), PSEC_DROP_LIMIT);
	/* The VM goes (its entries flushed): the next learns from zero. */
	mac_table_flush_port(t, 0);
	port_sec_reset(&sec[0]);
	for (unsigned i = 20; i < 24; i++)
		CHECK_EQ(in(0, M(i)), PSEC_PASS);
	CHECK_EQ(in(0, M(24)), PSEC_DROP_LIMIT);
}

static void test_moves(void)
{
	reset(PSEC_DEFAULT_MAX_LEARNED);
	/* Open ports: a MAC may move (migration), counted on the new port
	 * with the port it came from. */
	CHECK_EQ(in(1, M(7)), PSEC_PASS);
	CHECK_EQ(in(2, M(7)), PSEC_PASS);
	CHECK_EQ(mac_table_lookup(t, 1, M(7)), 2);
	CHECK_EQ(atomic_load(&sec[2].moves), 1);
	CHECK_EQ(atomic_load(&sec[2].last_move), (7ull + (2ull << 40)) << 16 | 1);
	CHECK_EQ(in(2, M(7)), PSEC_PASS);
	CHECK_EQ(atomic_load(&sec[2].moves), 1);
	/* One VM with two ports (0 and 3) where its MAC is allowed: the MAC
	 * moves between them, each move counted; nobody else may take it. */
	CHECK_EQ(port_sec_allow(&sec[0], M(9)), 0);
	CHECK_EQ(port_sec_allow(&sec[3], M(9)), 0);
	CHECK_EQ(in(0, M(9)), PSEC_PASS);
	CHECK_EQ(in(3, M(9)), PSEC_PASS);
	CHECK_EQ(mac_table_lookup(t, 1, M(9)), 3);
	CHECK_EQ(in(0, M(9)), PSEC_PASS);
	CHECK_EQ(mac_table_lookup(t, 1, M(9)), 0);
	CHECK_EQ(atomic_load(&sec[3].moves), 1);
	CHECK_EQ(atomic_load(&sec[0].moves), 1);
	CHECK_EQ(in(1, M(9)), PSEC_DROP_SPOOF);
	CHECK_EQ(mac_table_lookup(t, 1, M(9)), 0);
}

/* Two workers, one port: each polls one of its queue pairs. */
struct racer {
	pthread_barrier_t *start;
	unsigned base, count, passed;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	uint8_t m[6] = { 0x02, 0, 0, 0, 0, 0 };

	pthread_barrier_wait(r->start);
	for (unsigned i = 0; i < r->count; i++) {
		m[4] = (uint8_t)((r->base + i) >> 8);
		m[5] = (uint8_t)(r->base + i);
		if (port_sec_ingress(t, sec, NPORTS, 0, 1, m) == PSEC_PASS)
			r->passed++;
	}
	return NULL;
}

static void count_port0(uint16_t net, const uint8_t *mac, uint32_t dest,
			uint32_t age_s, void *arg)
{
	(void)net, (void)mac, (void)age_s;
	if (dest == 0)
		++*(unsigned *)arg;
}

static void race_round(unsigned count, unsigned *passed_a, unsigned *passed_b)
{
	pthread_barrier_t start;
	struct racer a = { &start, 0x100, count, 0 };
	struct racer b = { &start, 0x200, count, 0 };
	pthread_t ta, tb;

	pthread_barrier_init(&start, NULL, 2);
	pthread_create(&ta, NULL, race, &a);
	pthread_create(&tb, NULL, race, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&start);
	*passed_a = a.passed;
	*passed_b = b.passed;
}

static void test_two_workers_one_port(void)
{
	unsigned bad_limit = 0, bad_lock = 0;

	for (unsigned round = 0; round < 300; round++) {
		unsigned pa, pb, in_table = 0, listed = 0;

		/* Limit 8, 8 new MACs from each queue: 8 learned, not 16
		 * (two workers taking the same free entry would each count
		 * it once). */
		reset(8);
		race_round(8, &pa, &pb);
		mac_table_foreach(t, count_port0, &in_table);
		for (unsigned i = 0; i < PSEC_MAX_LEARNED; i++)
			listed += sec[0].learned[i] != 0;
		if (pa + pb != 8 || in_table != 8 || listed != 8)
			bad_limit++;
		/* Lock mode, one MAC per queue: one of them owns the port. */
		reset(PSEC_DEFAULT_MAX_LEARNED);
		sec[0].lock_first = true;
		race_round(1, &pa, &pb);
		if (pa + pb != 1 || atomic_load(&sec[0].nallowed) != 1)
			bad_lock++;
	}
	CHECK_EQ(bad_limit, 0);
	CHECK_EQ(bad_lock, 0);
}

int main(void)
{
	t = malloc(sizeof(*t));
	if (!t)
		return 1;
	RUN(test_allowed_list);
	RUN(test_lock_first);
	RUN(test_learn_limit);
	RUN(test_moves);
	RUN(test_two_workers_one_port);
	free(t);
	return check_summary("port_sec");
}
