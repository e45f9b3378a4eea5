/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Malformed and hostile input against a back-end in this process, the
 * session-level classes (the fixture and its rules: test_bad_input.c):
 * features not offered, messages out of order, floods with and without
 * replies, many bad connections at once, hostile fds (a call fd that
 * blocks) and memory (guest memory shrunk under the back-end, in a
 * back-end process of its own).
 */
#include "bad_input_fixture.h"

/* Features: bits not offered. */
static void test_features_not_offered(void)
{
	static const uint64_t bits[] = { 1ull << 63, 1ull << 33,
					 1ull << VIRTIO_NET_F_CTRL_VQ,
					 1ull << VIRTIO_NET_F_GUEST_UFO };

	for (unsigned k = 0; k < sizeof(bits) / sizeof(bits[0]); k++) {
		char name[64];
		struct snap s;
		struct fe fe;

		snprintf(name, sizeof(name), "SET_FEATURES bit %d",
			 __builtin_ctzll(bits[k]));
		s = case_begin(name);
		if (OPEN(&fe, ALL, O_PROTO)) {
			uint64_t v = fe.features | bits[k];

			CHECK((vhost_socket_get_features(vsock) & bits[k]) == 0);
			REFUSE(&fe, VHOST_USER_SET_FEATURES, &v, sizeof(v), NULL,
			       0);
		}
		CASE_END(s, &fe);
	}
	/* SET_PROTOCOL_FEATURES with a bit not offered: as the first one (no
	 * ack possible yet) and after REPLY_ACK was negotiated. */
	{
		static const uint64_t pbits[] = { PF(PAGEFAULT), PF(INFLIGHT_SHMFD),
						  1ull << 63, PF(CONFIG) };

		for (unsigned k = 0; k < sizeof(pbits) / sizeof(pbits[0]); k++) {
			for (int second = 0; second < 2; second++) {
				char name[80];
				struct snap s;
				struct fe fe;

				snprintf(name, sizeof(name),
					 "SET_PROTOCOL_FEATURES bit %d%s",
					 __builtin_ctzll(pbits[k]),
					 second ? " (after REPLY_ACK)" : "");
				s = case_begin(name);
				CHECK((vhost_socket_get_protocol_features(vsock) &
				       pbits[k]) == 0);
				if (OPEN(&fe, second ? PF(REPLY_ACK) : 0,
					 second ? O_PROTO : 0)) {
					uint64_t v = PF(REPLY_ACK) | pbits[k];

					REFUSE(&fe,
					       VHOST_USER_SET_PROTOCOL_FEATURES,
					       &v, sizeof(v), NULL, 0);
				}
				CASE_END(s, &fe);
			}
		}
	}
}

/* Out of order. */
static void test_out_of_order(void)
{
	/* Vring messages before any memory table, and DRIVER_OK: accepted
	 * or refused, but no device. */
	for (int ack = 0; ack < 2; ack++) {
		struct snap s = case_begin(ack ? "vrings before memory (ack)" :
					   "vrings before memory (no ack)");
		struct fe fe;

		if (OPEN(&fe, ack ? ALL : ALL & ~PF(REPLY_ACK), O_PROTO | O_FEAT)) {
			CHECK_EQ(fe_mem_init(&fe, MEM_SIZE), 0);
			for (uint16_t i = 0; i < 2; i++) {
				struct fe_vring *vr = &fe.vr[i];
				struct vhost_user_vring_state st = { i, 256 };
				struct vhost_user_vring_addr a = { .index = i };
				uint64_t v = i;

				CHECK_EQ(fe_vring_alloc(&fe, i, 256), 0);
				a.desc_user_addr = (uint64_t)(uintptr_t)vr->desc;
				a.avail_user_addr = (uint64_t)(uintptr_t)vr->avail;
				a.used_user_addr = (uint64_t)(uintptr_t)vr->used;
				TOLERATE(&fe, VHOST_USER_SET_VRING_NUM, &st, 8, NULL, 0);
				st.num = 0;
				TOLERATE(&fe, VHOST_USER_SET_VRING_BASE, &st, 8, NULL, 0);
				TOLERATE(&fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
				TOLERATE(&fe, VHOST_USER_SET_VRING_CALL, &v, 8, &vr->callfd, 1);
				TOLERATE(&fe, VHOST_USER_SET_VRING_KICK, &v, 8, &vr->kickfd, 1);
				st.num = 1;
				TOLERATE(&fe, VHOST_USER_SET_VRING_ENABLE, &st, 8, NULL, 0);
			}
			{
				uint64_t v = VIRTIO_CONFIG_S_ACKNOWLEDGE |
					     VIRTIO_CONFIG_S_DRIVER |
					     VIRTIO_CONFIG_S_FEATURES_OK |
					     VIRTIO_CONFIG_S_DRIVER_OK;

				TOLERATE(&fe, VHOST_USER_SET_STATUS, &v, 8, NULL, 0);
			}
		}
		CASE_END(s, &fe);
	}
	/* GET_VRING_BASE on rings never set up. */
	for (uint32_t i = 0; i < 2; i++) {
		struct snap s = case_begin("GET_VRING_BASE on a ring never set up");
		struct fe fe;

		if (OPEN(&fe, ALL, O_PROTO)) {
			struct vhost_user_vring_state st = { i, 0 };
			struct vhost_msg m;

			CHECK_EQ(fe_send(&fe, VHOST_USER_GET_VRING_BASE, 0, &st,
					 sizeof(st), NULL, 0), 0);
			if (fe_recv(&fe, &m, WAIT_MS) == 0) {
				msg_close_fds(&m);
				CHECK_EQ(m.hdr.request, VHOST_USER_GET_VRING_BASE);
				CHECK_EQ(m.hdr.size, sizeof(st));
				CHECK_EQ(m.payload.state.index, i);
			} /* else closed: also fine */
		}
		CASE_END(s, &fe);
	}
	/* SET_VRING_NUM / SET_VRING_BASE on a started ring: refused. */
	for (int which = 0; which < 2; which++) {
		struct snap s = case_begin(which ? "SET_VRING_BASE on a started ring" :
					   "SET_VRING_NUM on a started ring");
		struct fe fe;

		fe_init(&fe);
		CHECK_EQ(fe_connect(&fe, path, WAIT_MS), 0);
		CHECK_EQ(fe_handshake(&fe, NULL), 0);
		CHECK(wait_ge(&n_new_dev, s.devs + 1));
		rebase(&s);
		{
			struct vhost_user_vring_state st = { 0, which ? 5 : 128 };
			int before_stop = n_destroy_dev;

			REFUSE(&fe, which ? VHOST_USER_SET_VRING_BASE :
			       VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0);
			/* Refused with an ack: the device keeps running. */
			CHECK_EQ(n_destroy_dev, before_stop);
		}
		CASE_END(s, &fe);
	}
	/* Requests of protocol features that were not negotiated (REPLY_ACK
	 * only), and with no protocol features at all. */
	{
		static const struct {
			uint32_t req;
			uint32_t size;
			unsigned nfds;
		} c[] = {
			{ VHOST_USER_SET_STATUS, 8, 0 },
			{ VHOST_USER_GET_STATUS, 0, 0 },
			{ VHOST_USER_GET_QUEUE_NUM, 0, 0 },
			{ VHOST_USER_NET_SET_MTU, 8, 0 },
			{ VHOST_USER_SET_BACKEND_REQ_FD, 0, 1 },
			{ VHOST_USER_GET_INFLIGHT_FD, 24, 0 },
			{ VHOST_USER_SET_INFLIGHT_FD, 24, 1 },
			{ VHOST_USER_SET_LOG_BASE, 16, 1 },
			{ VHOST_USER_SET_LOG_FD, 0, 1 },
			{ VHOST_USER_SEND_RARP, 8, 0 },
			{ VHOST_USER_RESET_DEVICE, 0, 0 },
			{ VHOST_USER_GET_MAX_MEM_SLOTS, 0, 0 },
			{ VHOST_USER_ADD_MEM_REG, 40, 1 },
			{ VHOST_USER_REM_MEM_REG, 40, 0 },
			{ VHOST_USER_GET_CONFIG, 12, 0 },
			{ VHOST_USER_SET_CONFIG, 12, 0 },
			{ VHOST_USER_VRING_KICK, 8, 0 },
			{ VHOST_USER_SET_VRING_ENDIAN, 8, 0 },
			{ VHOST_USER_POSTCOPY_ADVISE, 0, 0 },
			{ VHOST_USER_POSTCOPY_LISTEN, 0, 0 },
			{ VHOST_USER_POSTCOPY_END, 0, 0 },
			{ VHOST_USER_CREATE_CRYPTO_SESSION, 0, 0 },
			{ VHOST_USER_CLOSE_CRYPTO_SESSION, 0, 0 },
			{ VHOST_USER_IOTLB_MSG, 32, 0 },
		};

		for (unsigned k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
			for (int none = 0; none < 2; none++) {
				char name[80];
				struct snap s;
				struct fe fe;
				union vhost_user_payload p;
				int fd;

				snprintf(name, sizeof(name),
					 "request %u, feature not negotiated%s",
					 c[k].req, none ? " (no protocol features)" : "");
				s = case_begin(name);
				fd = mk_memfd(1 << 20);
				fill_valid(c[k].req, &p, fd);
				if (c[k].req == VHOST_USER_NET_SET_MTU)
					p.u64 = 1500;
				if (OPEN(&fe, PF(REPLY_ACK),
					 (none ? 0 : O_PROTO) | O_FEAT | O_MEM))
					REFUSE(&fe, c[k].req, &p, c[k].size, &fd,
					       c[k].nfds);
				CASE_END(s, &fe);
			}
		}
	}
}

/* Send len bytes, bounded; stops early if the peer closes. Returns bytes
 * sent. */
static size_t send_bounded(int fd, const uint8_t *buf, size_t len,
			   int timeout_ms, bool *closed)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	size_t off = 0;

	*closed = false;
	while (off < len && now_ms() < end) {
		ssize_t n = send(fd, buf + off, len - off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			poll(&p, 1, 100);
			continue;
		}
		*closed = true;
		break;
	}
	return off;
}

/* 10,000 valid messages without reading any reply: the back-end closes
 * the connection (its replies cannot be sent) or copes, and keeps
 * serving others meanwhile. */
static void flood(bool replies)
{
	enum { NMSG = 10000 };
	struct snap s = case_begin(replies ? "flood: 10000 GET_FEATURES unread" :
				   "flood: 10000 SET_VRING_NUM, no replies");
	struct fe fe;
	size_t per = HDR + (replies ? 0 : 8);
	static uint8_t buf[NMSG * (HDR + 8)];
	bool closed = false;
	size_t sent;

	for (unsigned i = 0; i < NMSG; i++) {
		struct vhost_user_hdr h = {
			replies ? VHOST_USER_GET_FEATURES : VHOST_USER_SET_VRING_NUM,
			VHOST_USER_VERSION, replies ? 0 : 8 };
		struct vhost_user_vring_state st = { i & 1, 256 };

		memcpy(buf + i * per, &h, HDR);
		if (!replies)
			memcpy(buf + i * per + HDR, &st, 8);
	}
	/* With REPLY_ACK negotiated; the no-reply flood sends no NEED_REPLY. */
	if (OPEN(&fe, ALL, O_PROTO | O_FEAT | O_MEM)) {
		struct fe other;
		int r;

		sent = send_bounded(fe.fd, buf, per * NMSG, 10000, &closed);
		report(sent == per * NMSG || closed, __LINE__,
		       "flood: only %zu of %zu bytes sent, peer not closed",
		       sent, per * NMSG);
		/* Another front-end is served meanwhile. */
		fe_init(&other);
		r = fe_connect(&other, path, WAIT_MS);
		if (!r)
			r = fe_handshake(&other, NULL);
		report(r == 0, __LINE__, "handshake during flood: %s",
		       strerror(-r));
		report(wait_ge(&n_new_dev, s.devs + 1), __LINE__,
		       "no new_device during flood");
		rebase(&s);
		fe_close(&other);
		if (replies) {
			/* Drain: replies to GET_FEATURES, then EOF if the
			 * back-end gave up; never more than we asked. */
			unsigned got = 0;
			int ret;
			struct vhost_msg m;

			while ((ret = fe_recv(&fe, &m, WAIT_MS)) == 0) {
				msg_close_fds(&m);
				if (m.hdr.request != VHOST_USER_GET_FEATURES)
					break;
				got++;
			}
			report(ret != 0 && (ret != -ETIMEDOUT || got == NMSG),
			       __LINE__,
			       "flood: %u replies, then %s", got,
			       strerror(-ret));
			printf("     flood: %u of %u replies, %s\n", got, NMSG,
			       ret == -ETIMEDOUT ? "connection kept" :
			       "connection closed by the back-end");
		} else if (!closed) {
			/* No replies to lose: the back-end must cope and
			 * still answer. */
			uint64_t f;

			report(fe_get_u64(&fe, VHOST_USER_GET_FEATURES, &f) == 0,
			       __LINE__, "back-end does not answer after flood");
		}
	}
	CASE_END(s, &fe);
}

static void test_flood_replies(void) { flood(true); }
static void test_flood_no_replies(void) { flood(false); }

/* Many bad connections at once, each left open: the back-end serves a
 * good one anyway, and cleans up all of them. */
static void test_many_bad_at_once(void)
{
	enum { N = 16 };
	struct snap s = case_begin("16 bad connections at once");
	struct fe fe[N];

	for (int i = 0; i < N; i++) {
		fe_init(&fe[i]);
		if (fe_connect(&fe[i], path, WAIT_MS) != 0) {
			CHECK(0);
			continue;
		}
		/* Half a header each, never completed. */
		CHECK_EQ(send(fe[i].fd, "\x01\x00\x00", 3, MSG_NOSIGNAL), 3);
	}
	case_end_n(&s, fe, N, __LINE__);
}


/* ------------------------------------------------ hostile fds and memory */

/* Set VHOST_TEST_SKIP_KNOWN_BUGS=1 to skip the cases below that fail until
 * the library bugs they show are fixed (see each case). */
static bool skip_known_bug(const char *what)
{
	if (!getenv("VHOST_TEST_SKIP_KNOWN_BUGS"))
		return false;
	printf("     SKIP (known bug): %s\n", what);
	return true;
}

struct burst_arg {
	struct vhost_dev *dev;
	struct vhost_pktbuf *pkt;
	_Atomic int done;
	uint16_t sent;
};

static void *burst_thread(void *arg)
{
	struct burst_arg *b = arg;

	b->sent = vhost_enqueue_burst(b->dev, VHOST_QUEUE_RX(0), &b->pkt, 1);
	b->done = 1;
	return NULL;
}

static bool burst_done(void *arg)
{
	return atomic_load(&((struct burst_arg *)arg)->done) != 0;
}

/*
 * BUG (lib/handlers.c h_set_vring_call + lib/virtio_net.c notify_guest):
 * the call fd is taken as given and written with eventfd_write(). A front-
 * end that passes a *blocking* eventfd whose counter is at its maximum (or
 * a full blocking pipe) makes the data-path thread block inside the burst,
 * holding the virtqueue lock; the event thread then spins on that lock at
 * the next message for the ring, and every device of the context stalls.
 * Required here: the burst returns within 2 s.
 */
static void test_call_fd_that_blocks(void)
{
	struct snap s = case_begin("blocking call fd at max count");
	struct fe fe;
	struct vhost_pktbuf_pool *pool = NULL;
	struct burst_arg b = { 0 };
	pthread_t th;
	bool started = false;
	int bfd;

	if (skip_known_bug("blocking call fd stalls the data path")) {
		case_name = "-";
		return;
	}
	fe_init(&fe);
	CHECK_EQ(fe_connect(&fe, path, WAIT_MS), 0);
	CHECK_EQ(fe_handshake(&fe, NULL), 0);
	CHECK(wait_ge(&n_new_dev, s.devs + 1));
	rebase(&s);
	b.dev = last_dev;
	/* A blocking eventfd, counter at its maximum: a write of 1 blocks. */
	bfd = keep(eventfd(0, EFD_CLOEXEC));
	{
		uint64_t v = 0xfffffffffffffffeull, q = 0;

		CHECK_EQ(write(bfd, &v, 8), 8);
		TOLERATE(&fe, VHOST_USER_SET_VRING_CALL, &q, 8, &bfd, 1);
	}
	/* One RX buffer posted by the guest. */
	{
		struct fe_vring *vr = &fe.vr[0];
		uint8_t *buf = fe_alloc(&fe, 4096, 4096);

		CHECK(buf != NULL);
		if (buf) {
			vr->desc[0].addr = fe_gpa(&fe, buf);
			vr->desc[0].len = 4096;
			vr->desc[0].flags = VRING_DESC_F_WRITE;
			vr->desc[0].next = 0;
			vr->avail->ring[0] = 0;
			atomic_thread_fence(memory_order_release);
			vr->avail->idx = 1;
		}
	}
	pool = vhost_pktbuf_pool_create("bad-input", 8, 2048, 0);
	CHECK(pool != NULL);
	if (pool && b.dev) {
		b.pkt = vhost_pktbuf_alloc(pool);
		if (b.pkt && vhost_pktbuf_append(b.pkt, 60))
			memset(vhost_pktbuf_data(b.pkt), 0x5a, 60);
		started = b.pkt && pthread_create(&th, NULL, burst_thread, &b) == 0;
	}
	CHECK(started);
	if (started) {
		bool ok = fe_wait(burst_done, &b, 2000) == 0;

		report(ok, __LINE__,
		       "vhost_enqueue_burst blocked writing the front-end's call fd");
		if (!ok) {
			uint64_t v;

			/* Unblock it: reading resets the counter. */
			CHECK_EQ(read(bfd, &v, 8), 8);
		}
		pthread_join(th, NULL);
		CHECK_EQ(b.sent, 1);
	}
	if (b.pkt)
		vhost_pktbuf_free(b.pkt);
	CASE_END(s, &fe);
	vhost_pktbuf_pool_destroy(pool);
}

/*
 * BUG (lib/handlers.c check_msg, the nr_vrings update): the count of rings
 * "the front-end set up" (vhost_dev_num_vrings) is raised as soon as a
 * message names a ring, before the protocol-feature and fd checks, so a
 * refused message counts. Here: 4 queue pairs offered, SET_VRING_CALL for
 * ring 7 with two fds (refused), then a normal 1-pair handshake; new_device
 * must see 2 rings, not 8. Fix: update nr_vrings only after check_fds (and
 * ideally only when the handler succeeded).
 */
static void test_refused_ring_not_counted(void)
{
	char p2[108];
	struct vhost_socket *s2 = NULL;
	struct fe fe;
	struct snap s;
	int r, fds0 = fe_count_fds();

	snprintf(p2, sizeof(p2), "/tmp/vhost-bad-input-mq-%d.sock",
		 (int)getpid());
	unlink(p2);
	r = vhost_socket_register(ctx, p2, 0, &s2);
	if (!r)
		r = vhost_socket_set_ops(s2, &ops, NULL);
	if (!r)
		r = vhost_socket_set_max_queue_pairs(s2, 4);
	if (!r)
		r = vhost_socket_start(s2);
	CHECK_EQ(r, 0);
	s = case_begin("refused vring message counted as a ring");
	fe_init(&fe);
	if (!r && fe_connect(&fe, p2, WAIT_MS) == 0) {
		uint64_t f, pf, v = 7;
		int fds[2] = { mk_eventfd(), mk_eventfd() };

		CHECK_EQ(fe_get_u64(&fe, VHOST_USER_GET_FEATURES, &f), 0);
		CHECK_EQ(fe_get_u64(&fe, VHOST_USER_GET_PROTOCOL_FEATURES, &pf), 0);
		CHECK_EQ(fe_set_u64(&fe, VHOST_USER_SET_PROTOCOL_FEATURES, pf), 0);
		fe.protocol_features = pf;
		REFUSE(&fe, VHOST_USER_SET_VRING_CALL, &v, 8, fds, 2);
		if (!skip_known_bug("refused vring message counted in num_vrings")) {
			fe.protocol_features = 0; /* fe_handshake negotiates again */
			CHECK_EQ(fe_handshake(&fe, NULL), 0);
			CHECK(wait_ge(&n_new_dev, s.devs + 1));
			report(last_nvrings == 2, __LINE__,
			       "vhost_dev_num_vrings() = %d after a refused message on ring 7, want 2",
			       atomic_load(&last_nvrings));
			rebase(&s);
		}
	}
	CASE_END(s, &fe);
	if (s2)
		CHECK_EQ(vhost_socket_unregister(s2), 0);
	report(wait_fds(fds0), __LINE__, "fd leak after unregister");
}

/* Child mode: a back-end alone in its own process, serving path until
 * its stdin closes (bounded: 20 s). */
static int backend_child(const char *p)
{
	struct vhost_ctx *c = vhost_ctx_create(NULL);
	struct vhost_socket *sk = NULL;
	struct pollfd pf = { .fd = 0, .events = POLLIN };

	if (!c || vhost_socket_register(c, p, 0, &sk) || vhost_socket_start(sk))
		return 1;
	poll(&pf, 1, 20000);
	vhost_ctx_destroy(c);
	return 0;
}

/*
 * BUG (lib/memory.c mem_region_map, lib/device.c:83 vring_translate, and
 * every guest access): the file size is checked when a region is mapped,
 * but the front-end shares the file and can shrink it afterwards. The next
 * access to the truncated part raises SIGBUS, which kills the back-end
 * process with every other device in it. Here: ftruncate(memfd, 0) after
 * the handshake, then GET_VRING_BASE re-translates ring 0 and reads
 * used->idx. Required: the back-end process survives (it may drop that
 * connection) and serves a new front-end. Run in a child process.
 */
static void test_guest_memory_shrunk(void)
{
	struct snap s = case_begin("guest memory file shrunk after mapping");
	char cpath[108];
	char *argv[4];
	int pp[2] = { -1, -1 }, st = 0;
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;
	struct fe fe;

	if (skip_known_bug("shrunk guest memory file: SIGBUS")) {
		case_name = "-";
		return;
	}
	snprintf(cpath, sizeof(cpath), "/tmp/vhost-bad-input-child-%d.sock",
		 (int)getpid());
	unlink(cpath);
	CHECK_EQ(pipe2(pp, O_CLOEXEC), 0);
	argv[0] = "test_bad_input";
	argv[1] = "--backend";
	argv[2] = cpath;
	argv[3] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pp[0], 0);
	if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(pp[0]);
	CHECK(pid > 0);
	fe_init(&fe);
	if (pid > 0 && fe_connect(&fe, cpath, WAIT_MS) == 0 &&
	    fe_handshake(&fe, NULL) == 0) {
		uint32_t num;

		/* From here our own mapping must not be touched either. */
		CHECK_EQ(ftruncate(fe.memfd, 0), 0);
		(void)fe_get_vring_base(&fe, 0, &num);
		(void)fe_vring_setup(&fe, 0);
		fe_close(&fe);
		usleep(100000);
		{
			pid_t w = waitpid(pid, &st, WNOHANG);

			report(w == 0, __LINE__,
			       "back-end process died (%s %d) after the front-end shrank its memory file",
			       w == pid && WIFSIGNALED(st) ? "signal" : "exit status",
			       w == pid && WIFSIGNALED(st) ? WTERMSIG(st) :
			       WEXITSTATUS(st));
			if (w == pid)
				pid = -1;
		}
		if (pid > 0) {
			struct fe g;
			int r;

			fe_init(&g);
			r = fe_connect(&g, cpath, WAIT_MS);
			if (!r)
				r = fe_handshake(&g, NULL);
			report(r == 0, __LINE__,
			       "back-end does not serve after shrunk memory: %s",
			       strerror(-r));
			fe_close(&g);
		}
	} else {
		report(false, __LINE__, "child back-end not reachable");
		fe_close(&fe);
	}
	close(pp[1]); /* the child exits */
	if (pid > 0) {
		uint64_t end = now_ms() + WAIT_MS;

		while (waitpid(pid, &st, WNOHANG) == 0 && now_ms() < end)
			usleep(10000);
		if (now_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
	}
	unlink(cpath);
	report(wait_fds(s.fds), __LINE__, "fd leak: %d fds before, %d after",
	       s.fds, fe_count_fds());
	case_name = "-";
}

int main(int argc, char **argv)
{
	/* test_guest_memory_shrunk's back-end, in a process of its own */
	if (argc == 3 && !strcmp(argv[1], "--backend")) {
		if (!getenv("VHOST_LOG_LEVEL"))
			vhost_log_set_handler(count_log);
		return backend_child(argv[2]);
	}
	if (fixture_begin("bad-input-session"))
		return 1;
	RUN(test_features_not_offered);
	RUN(test_out_of_order);
	RUN(test_flood_replies);
	RUN(test_flood_no_replies);
	RUN(test_many_bad_at_once);
	RUN(test_call_fd_that_blocks);
	RUN(test_refused_ring_not_counted);
	RUN(test_guest_memory_shrunk);
	return fixture_end("test_bad_input_session");
}
