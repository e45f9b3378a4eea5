/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Malformed and hostile input against a back-end running in this process.
 *
 * One case per class of bad input. Each case opens a fresh front-end
 * connection, (usually) negotiates, sends the bad message(s) and requires
 * that each is refused: an error ack (non-zero u64) when REPLY_ACK was
 * negotiated and NEED_REPLY set, or the connection closed by the back-end -
 * never a success ack, never a hang (every wait is bounded). Cases of
 * "out of order" input may also be accepted, but must not start a device.
 * After each case:
 *   (a) a new connection still completes a full handshake (new_device),
 *   (b) once every connection is closed, the process has exactly the fds
 *       it had before the case (nothing leaked on the back-end side),
 *   (c) the bad input started no device.
 * Failures name the case and the line.
 *
 * A few cases show library bugs (see "BUG" above them) and fail until they
 * are fixed; VHOST_TEST_SKIP_KNOWN_BUGS=1 skips them. The back-end's log is
 * counted, not printed, unless VHOST_LOG_LEVEL is set.
 *
 * The session-level classes are in test_bad_input_session.c, the fixture
 * in bad_input_fixture.h.
 */
#include "bad_input_fixture.h"

/* ================================================================ cases */

/* The harness itself: valid input is accepted, so refusals seen below are
 * not artefacts of the harness. */
static void test_control_valid_accepted(void)
{
	struct snap s = case_begin("control: valid messages");
	struct fe fe;
	struct vhost_user_vring_state st = { 1, 256 };
	int efd = mk_eventfd();
	uint64_t v = 1;

	if (OPEN(&fe, ALL, O_PROTO | O_FEAT | O_MEM)) {
		ACCEPT(&fe, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0);
		ACCEPT(&fe, VHOST_USER_SET_VRING_CALL, &v, sizeof(v), &efd, 1);
		ACCEPT(&fe, VHOST_USER_GET_FEATURES, NULL, 0, NULL, 0);
		v = 1 | VHOST_USER_VRING_NOFD_MASK;
		ACCEPT(&fe, VHOST_USER_SET_VRING_ERR, &v, sizeof(v), NULL, 0);
	}
	CASE_END(s, &fe);
	/* Without REPLY_ACK the probe sees the connection alive. */
	s = case_begin("control: valid messages, no REPLY_ACK");
	if (OPEN(&fe, 0, O_PROTO | O_FEAT))
		ACCEPT(&fe, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0);
	CASE_END(s, &fe);
}

/* Payload one byte short / long, for every fixed-size request. */
static void test_wrong_payload_size(void)
{
	for (unsigned i = 0; i < sizeof(fixed_size) / sizeof(fixed_size[0]); i++) {
		for (int delta = -1; delta <= 1; delta += 2) {
			const struct fixed *f = &fixed_size[i];
			char name[80];
			struct snap s;
			struct fe fe;
			union vhost_user_payload p;
			int fds[1];

			snprintf(name, sizeof(name), "request %u payload %u%+d",
				 f->req, f->size, delta);
			s = case_begin(name);
			if (f->req == VHOST_USER_ADD_MEM_REG ||
			    f->req == VHOST_USER_SET_LOG_BASE ||
			    f->req == VHOST_USER_SET_INFLIGHT_FD)
				fds[0] = mk_memfd(1 << 20);
			else
				fds[0] = mk_eventfd();
			fill_valid(f->req, &p, fds[0]);
			if (OPEN(&fe, ALL, O_PROTO | O_FEAT | O_MEM))
				REFUSE(&fe, f->req, &p,
				       (uint32_t)((int)f->size + delta), fds,
				       f->nfds);
			CASE_END(s, &fe);
		}
	}
	/* A zero-length payload where one is required. */
	{
		struct snap s = case_begin("SET_VRING_NUM with no payload");
		struct fe fe;

		if (OPEN(&fe, ALL, O_PROTO | O_FEAT))
			REFUSE(&fe, VHOST_USER_SET_VRING_NUM, NULL, 0, NULL, 0);
		CASE_END(s, &fe);
	}
	/* Short SET_MEM_TABLE (under the 8-byte count). */
	{
		struct snap s = case_begin("SET_MEM_TABLE of 7 bytes");
		struct fe fe;
		uint64_t one = 1;

		if (OPEN(&fe, ALL, O_PROTO | O_FEAT))
			REFUSE(&fe, VHOST_USER_SET_MEM_TABLE, &one, 7, NULL, 0);
		CASE_END(s, &fe);
	}
}

static struct vhost_user_mem_region region_of(struct fe *fe, uint64_t gpa,
					      uint64_t size, uint64_t off)
{
	struct vhost_user_mem_region r = {
		.guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)fe->mem + off,
		.mmap_offset = off,
	};
	return r;
}

/* SET_MEM_TABLE: region count 0, 9, huge; size too small for the count;
 * fds not matching the count. */
static void test_mem_table_counts(void)
{
	static const struct {
		const char *name;
		uint32_t nregions, size;
		unsigned nfds;
	} c[] = {
		{ "nregions 0", 0, 8 + 32, 0 },
		{ "nregions 0, size 8", 0, 8, 0 },
		{ "nregions 9", 9, 8 + 8 * 32, 8 },
		{ "nregions 0xffffffff", 0xffffffffu, 8 + 8 * 32, 8 },
		{ "nregions 2 in the size of 1", 2, 8 + 32, 2 },
		{ "nregions 1, size one short", 1, 8 + 31, 1 },
		{ "nregions 8, size one short", 8, 8 + 8 * 32 - 1, 8 },
		{ "nregions 2 with 1 fd", 2, 8 + 2 * 32, 1 },
		{ "nregions 1 with 2 fds", 1, 8 + 32, 2 },
		{ "nregions 1 with no fd", 1, 8 + 32, 0 },
		{ "nregions 3 with 8 fds", 3, 8 + 3 * 32, 8 },
	};

	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct snap s = case_begin(c[i].name);
		struct fe fe;
		struct vhost_user_memory m;
		int fds[8];

		memset(&m, 0, sizeof(m));
		if (OPEN(&fe, ALL, O_PROTO | O_FEAT)) {
			CHECK_EQ(fe_mem_init(&fe, MEM_SIZE), 0);
			m.nregions = c[i].nregions;
			/* Valid, disjoint regions of 64 KiB in the memfd. */
			for (unsigned k = 0; k < 8; k++) {
				m.regions[k] = region_of(&fe, 0x100000 * (k + 1),
							 0x10000, 0x10000 * k);
				fds[k] = fe.memfd;
			}
			REFUSE(&fe, VHOST_USER_SET_MEM_TABLE, &m, c[i].size,
			       fds, c[i].nfds);
		}
		CASE_END(s, &fe);
	}
}

/* fds attached where the request takes none, or the wrong number. */
static void test_wrong_fds(void)
{
	static const struct {
		const char *name;
		uint32_t req;
		uint64_t u64;
		uint32_t size;
		unsigned nfds;
		bool memfd;
	} c[] = {
		{ "GET_FEATURES with 3 fds", VHOST_USER_GET_FEATURES, 0, 0, 3, false },
		{ "GET_PROTOCOL_FEATURES with 1 fd", VHOST_USER_GET_PROTOCOL_FEATURES, 0, 0, 1, false },
		{ "SET_FEATURES with 1 fd", VHOST_USER_SET_FEATURES, 1ull << VIRTIO_F_VERSION_1, 8, 1, false },
		{ "SET_OWNER with 1 fd", VHOST_USER_SET_OWNER, 0, 0, 1, false },
		{ "SET_VRING_NUM with 1 fd", VHOST_USER_SET_VRING_NUM, 256ull << 32, 8, 1, false },
		{ "SET_VRING_BASE with 8 fds", VHOST_USER_SET_VRING_BASE, 0, 8, 8, false },
		{ "SET_VRING_ENABLE with 1 fd", VHOST_USER_SET_VRING_ENABLE, 1ull << 32, 8, 1, false },
		{ "SET_STATUS with 1 fd", VHOST_USER_SET_STATUS, 1, 8, 1, false },
		{ "NET_SET_MTU with 1 fd", VHOST_USER_NET_SET_MTU, 1500, 8, 1, false },
		{ "SET_VRING_KICK no fd, no NOFD bit", VHOST_USER_SET_VRING_KICK, 0, 8, 0, false },
		{ "SET_VRING_CALL no fd, no NOFD bit", VHOST_USER_SET_VRING_CALL, 1, 8, 0, false },
		{ "SET_VRING_ERR no fd, no NOFD bit", VHOST_USER_SET_VRING_ERR, 0, 8, 0, false },
		{ "SET_VRING_KICK NOFD bit and an fd", VHOST_USER_SET_VRING_KICK, VHOST_USER_VRING_NOFD_MASK, 8, 1, false },
		{ "SET_VRING_CALL NOFD bit and an fd", VHOST_USER_SET_VRING_CALL, VHOST_USER_VRING_NOFD_MASK | 1, 8, 1, false },
		{ "SET_VRING_KICK with 2 fds", VHOST_USER_SET_VRING_KICK, 0, 8, 2, false },
		{ "SET_VRING_CALL with 8 fds", VHOST_USER_SET_VRING_CALL, 0, 8, 8, false },
		{ "SET_BACKEND_REQ_FD without fd", VHOST_USER_SET_BACKEND_REQ_FD, 0, 0, 0, false },
		{ "SET_BACKEND_REQ_FD with 2 fds", VHOST_USER_SET_BACKEND_REQ_FD, 0, 0, 2, false },
		{ "ADD_MEM_REG without fd", VHOST_USER_ADD_MEM_REG, 0, 40, 0, true },
		{ "ADD_MEM_REG with 2 fds", VHOST_USER_ADD_MEM_REG, 0, 40, 2, true },
		{ "REM_MEM_REG with 2 fds", VHOST_USER_REM_MEM_REG, 0, 40, 2, true },
	};

	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct snap s = case_begin(c[i].name);
		struct fe fe;
		union vhost_user_payload p;
		int fds[8];

		for (unsigned k = 0; k < c[i].nfds; k++)
			fds[k] = c[i].memfd ? mk_memfd(1 << 20) : mk_eventfd();
		memset(&p, 0, sizeof(p));
		p.u64 = c[i].u64;
		if (c[i].memfd) {
			/* An addable region: only the fd count is wrong. */
			p.mem_reg.region.guest_phys_addr = 0x80000000ull;
			p.mem_reg.region.memory_size = 1 << 20;
			p.mem_reg.region.userspace_addr = 0x7e0000000000ull;
		}
		if (OPEN(&fe, ALL, O_PROTO | O_FEAT | O_MEM)) {
			/* REM_MEM_REG of the region that is mapped. */
			if (c[i].req == VHOST_USER_REM_MEM_REG)
				p.mem_reg.region = region_of(&fe, FE_GPA_BASE,
							     MEM_SIZE, 0);
			REFUSE(&fe, c[i].req, &p, c[i].size, fds, c[i].nfds);
		}
		CASE_END(s, &fe);
	}
}

/* Ring index out of range on every vring request (1 queue pair: rings 0
 * and 1 exist). */
static void test_vring_index_range(void)
{
	static const uint32_t state_reqs[] = {
		VHOST_USER_SET_VRING_NUM, VHOST_USER_SET_VRING_ADDR,
		VHOST_USER_SET_VRING_BASE, VHOST_USER_GET_VRING_BASE,
		VHOST_USER_SET_VRING_ENABLE,
	};
	static const uint32_t state_idx[] = { 2, 200, 0xffffffffu, 0x100 };
	static const uint32_t u64_reqs[] = {
		VHOST_USER_SET_VRING_KICK, VHOST_USER_SET_VRING_CALL,
		VHOST_USER_SET_VRING_ERR,
	};
	/* Index byte out of range, and reserved bits above the NOFD bit. */
	static const uint64_t u64_idx[] = {
		2, 200, 255, 0xffffffffull, 1ull << 32, 1ull << 9,
		VHOST_USER_VRING_NOFD_MASK | 2, 0xffffffffffffffffull,
	};
	char name[96];

	for (unsigned r = 0; r < sizeof(state_reqs) / sizeof(state_reqs[0]); r++) {
		for (unsigned k = 0; k < sizeof(state_idx) / sizeof(state_idx[0]); k++) {
			struct snap s;
			struct fe fe;
			union vhost_user_payload p;
			uint32_t size = state_reqs[r] == VHOST_USER_SET_VRING_ADDR ?
					sizeof(p.addr) : sizeof(p.state);

			snprintf(name, sizeof(name), "request %u vring %u",
				 state_reqs[r], state_idx[k]);
			s = case_begin(name);
			memset(&p, 0, sizeof(p));
			p.state.index = state_idx[k];
			if (state_reqs[r] != VHOST_USER_SET_VRING_ADDR)
				p.state.num = state_reqs[r] == VHOST_USER_SET_VRING_ENABLE ?
					      1 : 256;
			if (OPEN(&fe, ALL, O_PROTO | O_FEAT | O_MEM)) {
				if (state_reqs[r] == VHOST_USER_SET_VRING_ADDR) {
					/* Addresses valid for ring 0. */
					p.addr.desc_user_addr =
						(uint64_t)(uintptr_t)fe.mem;
					p.addr.avail_user_addr =
						(uint64_t)(uintptr_t)fe.mem + 8192;
					p.addr.used_user_addr =
						(uint64_t)(uintptr_t)fe.mem + 16384;
				}
				REFUSE(&fe, state_reqs[r], &p, size, NULL, 0);
			}
			CASE_END(s, &fe);
		}
	}
	for (unsigned r = 0; r < sizeof(u64_reqs) / sizeof(u64_reqs[0]); r++) {
		for (unsigned k = 0; k < sizeof(u64_idx) / sizeof(u64_idx[0]); k++) {
			struct snap s;
			struct fe fe;
			uint64_t v = u64_idx[k];
			bool nofd = v & VHOST_USER_VRING_NOFD_MASK;
			int efd;

			snprintf(name, sizeof(name), "request %u u64 0x%llx",
				 u64_reqs[r], (unsigned long long)v);
			s = case_begin(name);
			efd = mk_eventfd();
			if (OPEN(&fe, ALL, O_PROTO | O_FEAT | O_MEM))
				REFUSE(&fe, u64_reqs[r], &v, sizeof(v), &efd,
				       nofd ? 0 : 1);
			CASE_END(s, &fe);
		}
	}
	/* The same without REPLY_ACK: the connection must close. */
	for (unsigned r = 0; r < sizeof(u64_reqs) / sizeof(u64_reqs[0]); r++) {
		struct snap s = case_begin("u64 vring 255, no REPLY_ACK");
		struct fe fe;
		uint64_t v = 255;
		int efd = mk_eventfd();

		if (OPEN(&fe, 0, O_PROTO | O_FEAT | O_MEM))
			REFUSE(&fe, u64_reqs[r], &v, sizeof(v), &efd, 1);
		CASE_END(s, &fe);
	}
	{
		struct snap s = case_begin("GET_VRING_BASE vring 2, no PROTOCOL_FEATURES");
		struct fe fe;
		struct vhost_user_vring_state st = { 2, 0 };

		if (OPEN(&fe, 0, O_FEAT))
			REFUSE(&fe, VHOST_USER_GET_VRING_BASE, &st, sizeof(st),
			       NULL, 0);
		CASE_END(s, &fe);
	}
}

static void test_ring_size(void)
{
	static const uint32_t sizes[] = { 0, 3, 65536, 32769, 0x80000000u,
					  0xffffffffu, 65535 };

	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		char name[64];
		struct snap s;
		struct fe fe;
		struct vhost_user_vring_state st = { 0, sizes[k] };

		snprintf(name, sizeof(name), "ring size %u", sizes[k]);
		s = case_begin(name);
		if (OPEN(&fe, ALL, O_PROTO | O_FEAT | O_MEM))
			REFUSE(&fe, VHOST_USER_SET_VRING_NUM, &st, sizeof(st),
			       NULL, 0);
		CASE_END(s, &fe);
	}
	/* A bad base too. */
	{
		struct snap s = case_begin("ring base 65536");
		struct fe fe;
		struct vhost_user_vring_state st = { 0, 65536 };

		if (OPEN(&fe, ALL, O_PROTO | O_FEAT | O_MEM))
			REFUSE(&fe, VHOST_USER_SET_VRING_BASE, &st, sizeof(st),
			       NULL, 0);
		CASE_END(s, &fe);
	}
}

/* Ring areas outside guest memory, or straddling the end of the region,
 * after the memory table is set. */
static void test_ring_addresses(void)
{
	enum { N = 256 };
	const uint64_t desc_sz = 16 * N, avail_sz = 4 + 2 * N, used_sz = 4 + 8 * N;
	static const char *const names[] = {
		"desc outside memory", "desc at uva 0", "desc straddles the end",
		"avail straddles the end", "used straddles the end",
		"used just past the end", "desc near 2^64", "avail near 2^64",
		"desc misaligned", "used misaligned", "desc in gpa space",
	};

	for (unsigned k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		struct snap s = case_begin(names[k]);
		struct fe fe;
		struct vhost_user_vring_addr a = { .index = 0 };
		struct vhost_user_vring_state st = { 0, N };

		if (!OPEN(&fe, ALL, O_PROTO | O_FEAT | O_MEM)) {
			CASE_END(s, &fe);
			continue;
		}
		{
			uint64_t base = (uint64_t)(uintptr_t)fe.mem;
			uint64_t end = base + MEM_SIZE;

			a.desc_user_addr = base;
			a.avail_user_addr = base + 0x10000;
			a.used_user_addr = base + 0x20000;
			switch (k) {
			case 0: a.desc_user_addr = end + 0x100000; break;
			case 1: a.desc_user_addr = 0; break;
			case 2: a.desc_user_addr = end - desc_sz + 16; break;
			case 3: a.avail_user_addr = end - avail_sz + 2; break;
			case 4: a.used_user_addr = end - used_sz + 4; break;
			case 5: a.used_user_addr = end; break;
			case 6: a.desc_user_addr = UINT64_MAX - 15; break;
			case 7: a.avail_user_addr = UINT64_MAX - 1; break;
			case 8: a.desc_user_addr = base + 8; break;
			case 9: a.used_user_addr = base + 0x20002; break;
			case 10: a.desc_user_addr = FE_GPA_BASE; break;
			}
		}
		ACCEPT(&fe, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0);
		REFUSE(&fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
		CASE_END(s, &fe);
	}

	/* The ring grows past the end of memory after its addresses were
	 * accepted: however the resize is answered, the device must not start
	 * with a ring that does not fit. */
	{
		struct snap s = case_begin("ring resized past the end of memory");
		struct fe fe;

		if (OPEN(&fe, ALL, O_PROTO)) {
			uint64_t v;
			struct vhost_user_vring_state st = { 0, 32768 };

			/* Ring 1 at the start, ring 0 at the very end. */
			CHECK_EQ(fe_mem_init(&fe, MEM_SIZE), 0);
			CHECK_EQ(fe_vring_alloc(&fe, 1, 256), 0);
			fe.mem_next = MEM_SIZE - 3 * 4096;
			CHECK_EQ(fe_vring_alloc(&fe, 0, 256), 0);
			v = fe.features;
			ACCEPT(&fe, VHOST_USER_SET_FEATURES, &v, 8, NULL, 0);
			CHECK_EQ(fe_set_mem_table(&fe), 0);
			/* Everything for both rings but the resize. */
			CHECK_EQ(fe_vring_setup(&fe, 1), 0);
			CHECK_EQ(fe_vring_setup(&fe, 0), 0);
			/* The device may be running now: that is fine, it
			 * was valid. */
			rebase(&s);
			/* Stop ring 0, resize it beyond memory, restart. */
			{
				uint32_t num;

				CHECK_EQ(fe_get_vring_base(&fe, 0, &num), 0);
			}
			wait_eq(&n_destroy_dev, &n_new_dev);
			TOLERATE(&fe, VHOST_USER_SET_VRING_NUM, &st, sizeof(st),
				 NULL, 0);
			v = 0;
			TOLERATE(&fe, VHOST_USER_SET_VRING_KICK, &v, 8,
				 &fe.vr[0].kickfd, 1);
			st.num = 1;
			TOLERATE(&fe, VHOST_USER_SET_VRING_ENABLE, &st, 8,
				 NULL, 0);
			v = VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FEATURES_OK |
			    VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_ACKNOWLEDGE;
			TOLERATE(&fe, VHOST_USER_SET_STATUS, &v, 8, NULL, 0);
		}
		CASE_END(s, &fe);
	}

	/* The memory table is replaced by one that no longer holds the
	 * rings of a running device: accepted or not, no device may run
	 * with rings outside memory (it stops, or the table is refused). */
	{
		struct snap s = case_begin("memory table replaced under running rings");
		struct fe fe;

		fe_init(&fe);
		CHECK_EQ(fe_connect(&fe, path, WAIT_MS), 0);
		CHECK_EQ(fe_handshake(&fe, NULL), 0);
		CHECK(wait_ge(&n_new_dev, s.devs + 1));
		rebase(&s);
		{
			int mfd = mk_memfd(MEM_SIZE);
			struct vhost_user_memory m = { .nregions = 1 };
			enum outcome o;

			/* Same gpa, a different uva range. */
			m.regions[0].guest_phys_addr = FE_GPA_BASE;
			m.regions[0].memory_size = MEM_SIZE;
			m.regions[0].userspace_addr = 0x10000000000ull;
			o = TOLERATE(&fe, VHOST_USER_SET_MEM_TABLE, &m,
				     8 + sizeof(m.regions[0]), &mfd, 1);
			if (o == O_OK_ACK)
				CHECK(wait_eq(&n_destroy_dev, &n_new_dev));
		}
		CASE_END(s, &fe);
	}
}

/* Bad memory regions, through SET_MEM_TABLE and through ADD_MEM_REG. */
enum bad_region { BR_SIZE0, BR_GPA_WRAP, BR_UVA_WRAP, BR_OFF_WRAP,
		  BR_OFF_BEYOND, BR_SIZE_BEYOND, BR_PIPE, BR_SOCKET,
		  BR_OVERLAP_GPA, BR_OVERLAP_UVA, BR_GPA_TOP, BR_COUNT };

static const char *const br_name[] = {
	"size 0", "gpa+size wraps", "uva+size wraps", "offset+size wraps",
	"offset beyond the file", "size beyond the file", "fd is a pipe",
	"fd is a socket", "overlap in gpa", "overlap in uva",
	"region ends at 2^64",
};

/* Describe region 1 (region 0 is a good one at offset 0) as bad kind k;
 * returns the fd for region 1. */
static int bad_region(struct fe *fe, enum bad_region k,
		      struct vhost_user_mem_region *good,
		      struct vhost_user_mem_region *bad)
{
	int fd = fe->memfd;

	*good = region_of(fe, 0x100000, 0x10000, 0);
	*bad = region_of(fe, 0x200000, 0x10000, 0x10000);
	switch (k) {
	case BR_SIZE0: bad->memory_size = 0; break;
	case BR_GPA_WRAP: bad->guest_phys_addr = UINT64_MAX - 0x1000; break;
	case BR_UVA_WRAP: bad->userspace_addr = UINT64_MAX - 0x1000; break;
	case BR_OFF_WRAP: bad->mmap_offset = UINT64_MAX - 0x1000; break;
	case BR_OFF_BEYOND: bad->mmap_offset = MEM_SIZE; break;
	case BR_SIZE_BEYOND: bad->memory_size = MEM_SIZE; break;
	case BR_PIPE: fd = mk_pipe(); break;
	case BR_SOCKET: {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
			keep(sv[1]);
			fd = keep(sv[0]);
		}
		break;
	}
	case BR_OVERLAP_GPA: bad->guest_phys_addr = 0x100000 + 0xffff; break;
	case BR_OVERLAP_UVA: bad->userspace_addr = good->userspace_addr + 0x8000; break;
	case BR_GPA_TOP: bad->guest_phys_addr = 0ull - 0x10000; break;
	case BR_COUNT: break;
	}
	return fd;
}

static void test_bad_regions_mem_table(void)
{
	for (int k = 0; k < BR_COUNT; k++) {
		char name[80];
		struct snap s;
		struct fe fe;

		snprintf(name, sizeof(name), "SET_MEM_TABLE: %s", br_name[k]);
		s = case_begin(name);
		if (OPEN(&fe, ALL, O_PROTO | O_FEAT)) {
			struct vhost_user_memory m = { .nregions = 2 };
			int fds[2];

			CHECK_EQ(fe_mem_init(&fe, MEM_SIZE), 0);
			fds[0] = fe.memfd;
			fds[1] = bad_region(&fe, (enum bad_region)k,
					    &m.regions[0], &m.regions[1]);
			REFUSE(&fe, VHOST_USER_SET_MEM_TABLE, &m,
			       8 + 2 * sizeof(m.regions[0]), fds, 2);
			/* The bad one alone too (first region bad). */
			if (fe.fd >= 0) {
				m.nregions = 1;
				m.regions[0] = m.regions[1];
				if (k != BR_OVERLAP_GPA && k != BR_OVERLAP_UVA)
					REFUSE(&fe, VHOST_USER_SET_MEM_TABLE, &m,
					       8 + sizeof(m.regions[0]),
					       &fds[1], 1);
			}
		}
		CASE_END(s, &fe);
	}
}

static void test_bad_regions_add_mem_reg(void)
{
	for (int k = 0; k < BR_COUNT; k++) {
		char name[80];
		struct snap s;
		struct fe fe;

		snprintf(name, sizeof(name), "ADD_MEM_REG: %s", br_name[k]);
		s = case_begin(name);
		if (OPEN(&fe, ALL, O_PROTO | O_FEAT)) {
			struct vhost_user_single_mem_region g = { 0 }, b = { 0 };
			int fd;

			CHECK_EQ(fe_mem_init(&fe, MEM_SIZE), 0);
			fd = bad_region(&fe, (enum bad_region)k, &g.region,
					&b.region);
			ACCEPT(&fe, VHOST_USER_ADD_MEM_REG, &g, sizeof(g),
			       &fe.memfd, 1);
			REFUSE(&fe, VHOST_USER_ADD_MEM_REG, &b, sizeof(b), &fd,
			       1);
		}
		CASE_END(s, &fe);
	}
}

/* ADD_MEM_REG without CONFIGURE_MEM_SLOTS; with it, one region more than
 * GET_MAX_MEM_SLOTS; REM_MEM_REG of a region never added. */
static void test_mem_slots(void)
{
	{
		struct snap s = case_begin("ADD_MEM_REG without CONFIGURE_MEM_SLOTS");
		struct fe fe;

		if (OPEN(&fe, ALL & ~PF(CONFIGURE_MEM_SLOTS), O_PROTO | O_FEAT)) {
			struct vhost_user_single_mem_region r = { 0 };

			CHECK_EQ(fe_mem_init(&fe, MEM_SIZE), 0);
			r.region = region_of(&fe, 0x100000, MEM_SIZE, 0);
			REFUSE(&fe, VHOST_USER_ADD_MEM_REG, &r, sizeof(r),
			       &fe.memfd, 1);
		}
		CASE_END(s, &fe);
	}
	{
		struct snap s = case_begin("GET_MAX_MEM_SLOTS without CONFIGURE_MEM_SLOTS");
		struct fe fe;

		if (OPEN(&fe, ALL & ~PF(CONFIGURE_MEM_SLOTS), O_PROTO | O_FEAT))
			REFUSE(&fe, VHOST_USER_GET_MAX_MEM_SLOTS, NULL, 0, NULL,
			       0);
		CASE_END(s, &fe);
	}
	{
		struct snap s = case_begin("REM_MEM_REG of a region never added");
		struct fe fe;

		if (OPEN(&fe, ALL, O_PROTO | O_FEAT | O_MEM)) {
			struct vhost_user_single_mem_region r = { 0 };

			r.region = region_of(&fe, 0x100000, 4096, 0);
			REFUSE(&fe, VHOST_USER_REM_MEM_REG, &r, sizeof(r), NULL,
			       0);
			/* The one mapped by SET_MEM_TABLE, but with a
			 * different size. */
			r.region = region_of(&fe, FE_GPA_BASE, MEM_SIZE / 2, 0);
			if (fe.fd >= 0)
				REFUSE(&fe, VHOST_USER_REM_MEM_REG, &r,
				       sizeof(r), NULL, 0);
		}
		CASE_END(s, &fe);
	}
	{
		struct snap s = case_begin("ADD_MEM_REG past GET_MAX_MEM_SLOTS");
		struct fe fe;

		if (OPEN(&fe, ALL, O_PROTO | O_FEAT)) {
			uint64_t max = 0;
			uint32_t added = 0;
			int mfd;
			struct vhost_user_single_mem_region r = { 0 };
			enum outcome o;

			CHECK_EQ(fe_get_u64(&fe, VHOST_USER_GET_MAX_MEM_SLOTS,
					    &max), 0);
			/* The connection's budget (default). */
			CHECK_EQ(max, VHOST_DEFAULT_CONN_MEM_REGIONS);
			if (max > 1024)
				max = 1024;
			/* One small file, one page per region. */
			mfd = mk_memfd((max + 1) * 4096);
			for (uint32_t i = 0; i < max; i++) {
				r.region.guest_phys_addr = 0x100000000ull + i * 8192ull;
				r.region.userspace_addr = 0x700000000000ull + i * 8192ull;
				r.region.memory_size = 4096;
				r.region.mmap_offset = i * 4096ull;
				o = send_expect(&fe, VHOST_USER_ADD_MEM_REG, 0, &r,
						sizeof(r), &mfd, 1, MAY_ACCEPT,
						__LINE__);
				if (o != O_OK_ACK)
					break;
				added++;
			}
			CHECK_EQ(added, max);
			/* One more fails. */
			r.region.guest_phys_addr = 0x100000000ull + max * 8192ull;
			r.region.userspace_addr = 0x700000000000ull + max * 8192ull;
			r.region.mmap_offset = max * 4096ull;
			REFUSE(&fe, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), &mfd, 1);
			/* Removing one frees a slot; then the extra fits. */
			if (fe.fd >= 0) {
				struct vhost_user_single_mem_region q = r;

				q.region.guest_phys_addr = 0x100000000ull;
				q.region.userspace_addr = 0x700000000000ull;
				q.region.mmap_offset = 0;
				ACCEPT(&fe, VHOST_USER_REM_MEM_REG, &q, sizeof(q),
				       NULL, 0);
				ACCEPT(&fe, VHOST_USER_ADD_MEM_REG, &r, sizeof(r),
				       &mfd, 1);
				/* Removed twice: gone the second time. */
				REFUSE(&fe, VHOST_USER_REM_MEM_REG, &q,
				       sizeof(q), NULL, 0);
			}
		}
		CASE_END(s, &fe);
	}
}

/* Request ids the back-end does not know. */
static void test_unknown_requests(void)
{
	static const uint32_t ids[] = { 0, 41, 1000, 0xffffffffu,
					VHOST_USER_MAX_REQUEST };

	for (unsigned k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		for (int ack = 0; ack < 2; ack++) {
			char name[64];
			struct snap s;
			struct fe fe;
			uint64_t v = 0;
			int efd;

			snprintf(name, sizeof(name), "unknown request %u%s",
				 ids[k], ack ? " (REPLY_ACK)" : "");
			s = case_begin(name);
			efd = mk_eventfd();
			if (OPEN(&fe, ack ? ALL : 0, O_PROTO | O_FEAT)) {
				REFUSE(&fe, ids[k], &v, sizeof(v), NULL, 0);
				/* With an fd too (must be closed). */
				if (fe.fd >= 0 && has_ack(&fe))
					REFUSE(&fe, ids[k], NULL, 0, &efd, 1);
			}
			CASE_END(s, &fe);
		}
	}
}

/* Framing-level garbage: REPLY flag, version, oversized payload,
 * truncated message. */
static void test_framing(void)
{
	{
		struct snap s = case_begin("message with the REPLY flag");
		struct fe fe;
		uint64_t v = 0;

		if (OPEN(&fe, ALL, O_PROTO | O_FEAT))
			send_expect(&fe, VHOST_USER_SET_VRING_ENABLE,
				    VHOST_USER_REPLY_MASK |
				    VHOST_USER_NEED_REPLY_MASK,
				    &v, sizeof(v), NULL, 0, MUST_REFUSE,
				    __LINE__);
		CASE_END(s, &fe);
	}
	{
		struct snap s = case_begin("GET_FEATURES with the REPLY flag");
		struct fe fe;
		int efd = mk_eventfd();

		if (OPEN(&fe, ALL, O_PROTO | O_FEAT)) {
			CHECK_EQ(fe_send(&fe, VHOST_USER_GET_FEATURES,
					 VHOST_USER_REPLY_MASK, NULL, 0, &efd, 1),
				 0);
			expect_closed(&fe, __LINE__);
		}
		CASE_END(s, &fe);
	}
	for (uint32_t ver = 0; ver < 4; ver++) {
		char name[64];
		struct snap s;
		struct fe fe;

		if (ver == VHOST_USER_VERSION)
			continue;
		snprintf(name, sizeof(name), "version bits %u", ver);
		s = case_begin(name);
		if (OPEN(&fe, ALL, O_PROTO | O_FEAT)) {
			struct vhost_user_hdr h = { VHOST_USER_SET_OWNER,
						    ver | VHOST_USER_NEED_REPLY_MASK,
						    0 };
			int efd = mk_eventfd();

			CHECK_EQ(msg_send(fe.fd, &h, NULL, &efd, 1), 0);
			expect_closed(&fe, __LINE__);
		}
		CASE_END(s, &fe);
	}
	{
		static const uint32_t sizes[] = {
			(uint32_t)VHOST_USER_PAYLOAD_MAX + 1, 4096, 0x7fffffff,
			0xffffffffu,
		};

		for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			char name[64];
			struct snap s;
			struct fe fe;

			snprintf(name, sizeof(name), "payload size %u", sizes[k]);
			s = case_begin(name);
			if (OPEN(&fe, ALL, O_PROTO | O_FEAT)) {
				struct vhost_user_hdr h = {
					VHOST_USER_SET_CONFIG,
					VHOST_USER_VERSION |
					VHOST_USER_NEED_REPLY_MASK, sizes[k] };
				static uint8_t junk[512];
				int efd = mk_eventfd();

				CHECK_EQ(send_raw(fe.fd, &h, HDR, &efd, 1),
					 (ssize_t)HDR);
				/* Some of the claimed payload; the peer may
				 * already be gone. */
				(void)!send(fe.fd, junk, sizeof(junk),
					    MSG_NOSIGNAL | MSG_DONTWAIT);
				expect_closed(&fe, __LINE__);
			}
			CASE_END(s, &fe);
		}
	}
	/* More fds than a message may carry (the spec's limit is 8). */
	{
		static const unsigned counts[] = { 9, 20, 32 };

		for (unsigned k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
			char name[64];
			struct snap s;
			struct fe fe;

			snprintf(name, sizeof(name), "SET_VRING_CALL with %u fds",
				 counts[k]);
			s = case_begin(name);
			if (OPEN(&fe, ALL, O_PROTO | O_FEAT | O_MEM)) {
				uint8_t buf[HDR + 8] = { 0 };
				struct vhost_user_hdr h = {
					VHOST_USER_SET_VRING_CALL,
					VHOST_USER_VERSION |
					VHOST_USER_NEED_REPLY_MASK, 8 };
				int fds[32], efd = mk_eventfd();

				for (unsigned i = 0; i < counts[k]; i++)
					fds[i] = efd;
				memcpy(buf, &h, HDR);
				CHECK_EQ(send_raw(fe.fd, buf, sizeof(buf), fds,
						  counts[k]), (ssize_t)sizeof(buf));
				expect_closed(&fe, __LINE__);
			}
			CASE_END(s, &fe);
		}
	}
	/* Truncated messages, then the front-end hangs up. */
	{
		static const size_t cut[] = { 1, HDR - 1, HDR, HDR + 1, HDR + 39 };

		for (unsigned k = 0; k < sizeof(cut) / sizeof(cut[0]); k++) {
			char name[64];
			struct snap s;
			struct fe fe;

			snprintf(name, sizeof(name), "truncated after %zu bytes",
				 cut[k]);
			s = case_begin(name);
			if (OPEN(&fe, ALL, O_PROTO | O_FEAT | O_MEM)) {
				uint8_t buf[HDR + 40] = { 0 };
				struct vhost_user_hdr h = {
					VHOST_USER_SET_VRING_ADDR,
					VHOST_USER_VERSION, 40 };
				int fds[3] = { mk_eventfd(), mk_eventfd(),
					       fe.memfd };

				memcpy(buf, &h, HDR);
				CHECK_EQ(send_raw(fe.fd, buf, cut[k], fds, 3),
					 (ssize_t)cut[k]);
				/* Let the back-end read the part first. */
				usleep(20000);
			}
			/* CASE_END closes fe: the back-end sees EOF mid
			 * message and must release the fds it holds. */
			CASE_END(s, &fe);
		}
	}
}

int main(void)
{
	if (fixture_begin("bad-input"))
		return 1;
	RUN(test_control_valid_accepted);
	RUN(test_wrong_payload_size);
	RUN(test_mem_table_counts);
	RUN(test_wrong_fds);
	RUN(test_vring_index_range);
	RUN(test_ring_size);
	RUN(test_ring_addresses);
	RUN(test_bad_regions_mem_table);
	RUN(test_bad_regions_add_mem_reg);
	RUN(test_mem_slots);
	RUN(test_unknown_requests);
	RUN(test_framing);
	return fixture_end("test_bad_input");
}
