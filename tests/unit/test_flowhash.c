/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The apps' flow hash (apps/common/flowhash.h) and vhost-switch's unit
 * scheduler plan (sw_sched_plan, sched.c), both pure:
 * - one flow always hashes the same (whatever its payload, every fragment
 *   of a datagram alike), different ports and addresses spread over the
 *   queues, VLAN tags are looked through, short frames are safe;
 * - flow_pick stays in [0, n) and is even; flow_queues lists set bits;
 * - pinned hash values (the VM test computes the hash in Python);
 * - the plan balances units within one, keeps units where they are when
 *   it can, re-balances when queues are enabled or disabled, and never
 *   gives a unit to two workers.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "flowhash.h"
#include "switch.h"

/* An Ethernet + IPv4 + UDP/TCP frame (ports at 34..37). */
static uint32_t frame4(uint8_t *b, uint8_t proto, uint32_t src, uint32_t dst,
		       uint16_t sport, uint16_t dport, uint8_t fill)
{
	memset(b, fill, 128);
	memcpy(b, (uint8_t[]){ 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0 }, 14);
	b[14] = 0x45;
	b[20] = b[21] = 0; /* no fragment */
	b[23] = proto;
	for (int i = 0; i < 4; i++) {
		b[26 + i] = (uint8_t)(src >> (24 - 8 * i));
		b[30 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	b[34] = (uint8_t)(sport >> 8);
	b[35] = (uint8_t)sport;
	b[36] = (uint8_t)(dport >> 8);
	b[37] = (uint8_t)dport;
	return 128;
}

static void test_same_flow_same_hash(void)
{
	uint8_t a[128], b[128];
	uint32_t la = frame4(a, 17, 0x0a000001, 0x0a000002, 1000, 2000, 0x11);
	uint32_t lb = frame4(b, 17, 0x0a000001, 0x0a000002, 1000, 2000, 0x99);

	/* Payload and TTL do not matter. */
	b[22] = 3;
	CHECK_EQ(flow_hash_buf(a, la), flow_hash_buf(b, lb));
	/* Ports, addresses and protocol do. */
	b[35] ^= 1;
	CHECK(flow_hash_buf(a, la) != flow_hash_buf(b, lb));
	frame4(b, 17, 0x0a000003, 0x0a000002, 1000, 2000, 0x11);
	CHECK(flow_hash_buf(a, la) != flow_hash_buf(b, lb));
	frame4(b, 6, 0x0a000001, 0x0a000002, 1000, 2000, 0x11);
	CHECK(flow_hash_buf(a, la) != flow_hash_buf(b, lb));
}

/* Every fragment of a datagram hashes alike (the later ones have no
 * ports), so a fragmented flow is not reordered across queues. */
static void test_fragments(void)
{
	uint8_t first[128], later[128];
	uint32_t l = frame4(first, 17, 0x0a000001, 0x0a000002, 1000, 2000, 0);

	frame4(later, 17, 0x0a000001, 0x0a000002, 7, 9, 0x55);
	first[20] = 0x20; /* MF */
	later[20] = 0x00;
	later[21] = 0xb9; /* offset 185 * 8 */
	CHECK_EQ(flow_hash_buf(first, l), flow_hash_buf(later, l));
}

static void test_vlan_and_short(void)
{
	uint8_t plain[128], tagged[132];
	uint32_t l = frame4(plain, 6, 0x0a000001, 0x0a000002, 1, 2, 0);
	uint32_t h;

	memcpy(tagged, plain, 12);
	memcpy(tagged + 12, (uint8_t[]){ 0x81, 0x00, 0x00, 0x05 }, 4);
	memcpy(tagged + 16, plain + 12, 116);
	CHECK_EQ(flow_hash_buf(plain, l), flow_hash_buf(tagged, l + 4));
	/* Truncated headers: no read past len (ASan), some hash. */
	for (uint32_t n = 0; n <= l; n++) {
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, plain, n);
		h = flow_hash_buf(copy, n);
		(void)h;
		free(copy);
	}
	CHECK(1);
}

/* 256 flows (source ports) over 2 and 3 queues: each queue gets its
 * share, within a loose bound. */
static void test_spread(void)
{
	for (unsigned m = 2; m <= 3; m++) {
		unsigned count[3] = { 0 };

		for (unsigned p = 0; p < 256; p++) {
			uint8_t b[128];
			uint32_t l = frame4(b, 6, 0x0a000001, 0x0a000002,
					    (uint16_t)(40000 + p), 5001, 0);
			unsigned k = flow_pick(flow_hash_buf(b, l), m);

			CHECK(k < m);
			if (k < m)
				count[k]++;
		}
		for (unsigned k = 0; k < m; k++)
			CHECK(count[k] > 256 / m / 2);
	}
	CHECK_EQ(flow_pick(0xffffffffu, 5), 4);
	CHECK_EQ(flow_pick(0, 5), 0);
}

/* Pinned values: tests/vm/test-switch.sh (mq_sport) computes the same hash
 * in Python to pick source ports landing on chosen queues. Change both
 * together. */
static void test_known_values(void)
{
	uint8_t b[128];
	uint32_t l = frame4(b, 6, 0x0a000001, 0x0a000002, 40001, 5001, 0);

	CHECK_EQ(flow_hash_buf(b, l), 0x3f284d06u);
	CHECK_EQ(flow_pick(flow_hash_buf(b, l), 2), 0);
	l = frame4(b, 6, 0x0a000001, 0x0a000002, 40000, 5003, 0);
	CHECK_EQ(flow_hash_buf(b, l), 0xf3b45c86u);
	CHECK_EQ(flow_pick(flow_hash_buf(b, l), 2), 1);
}

static void test_queue_list(void)
{
	uint8_t q[SW_MAX_QP];

	CHECK_EQ(flow_queues(0, q, SW_MAX_QP), 0);
	CHECK_EQ(flow_queues(0x8005, q, SW_MAX_QP), 3);
	CHECK_EQ(q[0], 0);
	CHECK_EQ(q[1], 2);
	CHECK_EQ(q[2], 15);
	CHECK_EQ(flow_queues(~0ull, q, 4), 4);
}

/* ------------------------------------------------------------ the plan */

static uint8_t owner[SW_MAX_PORTS][SW_MAX_QP];

static void loads(unsigned nports, unsigned nworkers, unsigned *load)
{
	memset(load, 0, sizeof(unsigned) * nworkers);
	for (unsigned p = 0; p < nports; p++)
		for (unsigned q = 0; q < SW_MAX_QP; q++)
			if (owner[p][q]) {
				CHECK(owner[p][q] <= nworkers);
				if (owner[p][q] <= nworkers)
					load[owner[p][q] - 1]++;
			}
}

static bool balanced(unsigned nports, unsigned nworkers, unsigned total)
{
	unsigned load[SW_MAX_WORKERS], lo = ~0u, hi = 0, sum = 0;

	loads(nports, nworkers, load);
	for (unsigned w = 0; w < nworkers; w++) {
		lo = load[w] < lo ? load[w] : lo;
		hi = load[w] > hi ? load[w] : hi;
		sum += load[w];
	}
	return sum == total && hi <= lo + 1;
}

static unsigned moved(uint8_t before[][SW_MAX_QP], unsigned nports)
{
	unsigned n = 0;

	for (unsigned p = 0; p < nports; p++)
		for (unsigned q = 0; q < SW_MAX_QP; q++)
			if (before[p][q] && owner[p][q] &&
			    before[p][q] != owner[p][q])
				n++;
	return n;
}

static void test_plan_balance(void)
{
	uint64_t want[4] = { 0x3, 0x3, 0x3, 0x1 };
	static uint8_t before[SW_MAX_PORTS][SW_MAX_QP];

	memset(owner, 0, sizeof(owner));
	sw_sched_plan(owner, want, 4, 3);
	CHECK(balanced(4, 3, 7));
	/* Nothing changed: nothing moves. */
	memcpy(before, owner, sizeof(owner));
	sw_sched_plan(owner, want, 4, 3);
	CHECK(!memcmp(before, owner, sizeof(owner)));
	/* Port 1's queue pair 1 goes away: only it leaves. */
	want[1] = 0x1;
	sw_sched_plan(owner, want, 4, 3);
	CHECK_EQ(owner[1][1], 0);
	CHECK(balanced(4, 3, 6));
	CHECK_EQ(moved(before, 4), 0);
	/* The guests enable 4 pairs each: 16 units, loads 6/5/5, and no unit
	 * that was placed moves. */
	memcpy(before, owner, sizeof(owner));
	for (int p = 0; p < 4; p++)
		want[p] = 0xf;
	sw_sched_plan(owner, want, 4, 3);
	CHECK(balanced(4, 3, 16));
	CHECK_EQ(moved(before, 4), 0);
	/* Ports 0 and 1 go: the rest re-balances with few moves (at most
	 * the surplus of the most loaded worker). */
	memcpy(before, owner, sizeof(owner));
	want[0] = want[1] = 0;
	sw_sched_plan(owner, want, 4, 3);
	CHECK(balanced(4, 3, 8));
	CHECK(moved(before, 4) <= 4);
	for (int q = 0; q < SW_MAX_QP; q++)
		CHECK(!owner[0][q] && !owner[1][q]);
}

/* One worker holds everything; bits beyond the port's queues and bad
 * owners (a worker that no longer exists) are handled. */
static void test_plan_edges(void)
{
	uint64_t want[2] = { 1ull << (SW_MAX_QP - 1), 0 };

	memset(owner, 0, sizeof(owner));
	owner[1][3] = 9; /* stale, and unwanted */
	sw_sched_plan(owner, want, 2, 1);
	CHECK_EQ(owner[0][SW_MAX_QP - 1], 1);
	CHECK_EQ(owner[1][3], 0);
	want[1] = 0x1;
	owner[1][0] = 7; /* a worker past nworkers: re-placed */
	sw_sched_plan(owner, want, 2, 2);
	CHECK(owner[1][0] == 1 || owner[1][0] == 2);
	CHECK(balanced(2, 2, 2));
	sw_sched_plan(owner, want, 2, 0); /* no workers: no change, no crash */
	CHECK(balanced(2, 2, 2));
}

int main(void)
{
	RUN(test_same_flow_same_hash);
	RUN(test_fragments);
	RUN(test_vlan_and_short);
	RUN(test_spread);
	RUN(test_known_values);
	RUN(test_queue_list);
	RUN(test_plan_balance);
	RUN(test_plan_edges);
	return check_summary("flowhash");
}
