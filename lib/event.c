/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "event.h"
#include "log.h"

#define EVENT_BATCH 32

struct event_handler {
	int fd;
	bool dead;
	event_cb cb;
	void *opaque;
	struct event_handler *next_dead;
};

struct event_call {
	int (*fn)(void *);
	void *arg;
	int result;
	bool done;
	struct event_call *next;
};

struct event_deferred {
	void (*fn)(void *);
	void *arg;
	struct event_deferred *next;
};

struct event_loop {
	int epfd;
	int wakefd;
	pthread_t thread;
	bool stopping; /* written under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct event_call *calls, **calls_tail; /* under mu */
	struct event_call *finished;            /* loop thread only */
	/* Loop thread only: */
	struct event_handler *dead;
	struct event_deferred *deferred, **deferred_tail;
};

bool event_loop_in_thread(const struct event_loop *el)
{
	return pthread_equal(el->thread, pthread_self());
}

struct event_handler *event_add(struct event_loop *el, int fd,
				uint32_t events, event_cb cb, void *opaque)
{
	struct event_handler *h = calloc(1, sizeof(*h));
	struct epoll_event ev = { .events = events };

	if (!h)
		return NULL;
	h->fd = fd;
	h->cb = cb;
	h->opaque = opaque;
	ev.data.ptr = h;
	if (epoll_ctl(el->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;

		free(h);
		errno = err;
		return NULL;
	}
	return h;
}

void event_del(struct event_loop *el, struct event_handler *h)
{
	if (!h || h->dead)
		return;
	epoll_ctl(el->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	/* Events for h may still sit in the current batch: keep the memory
	 * until the batch is over, and skip it there. */
	h->dead = true;
	h->next_dead = el->dead;
	el->dead = h;
}

int event_loop_defer(struct event_loop *el, void (*fn)(void *), void *arg)
{
	struct event_deferred *d = malloc(sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->fn = fn;
	d->arg = arg;
	d->next = NULL;
	*el->deferred_tail = d;
	el->deferred_tail = &d->next;
	return 0;
}

static void run_deferred(struct event_loop *el)
{
	while (el->deferred) {
		struct event_deferred *d = el->deferred;

		el->deferred = d->next;
		if (!el->deferred)
			el->deferred_tail = &el->deferred;
		d->fn(d->arg);
		free(d);
	}
	while (el->dead) {
		struct event_handler *h = el->dead;

		el->dead = h->next_dead;
		free(h);
	}
}

static void run_calls(struct event_loop *el)
{
	uint64_t n;

	if (read(el->wakefd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		LOG_ERR("event loop: wake read: %s", strerror(errno));
	pthread_mutex_lock(&el->mu);
	while (el->calls) {
		struct event_call *c = el->calls;

		el->calls = c->next;
		if (!el->calls)
			el->calls_tail = &el->calls;
		pthread_mutex_unlock(&el->mu);
		c->result = c->fn(c->arg);
		/* Its caller is released after the deferred work of this
		 * batch: what the call closed is then really gone. */
		c->next = el->finished;
		el->finished = c;
		pthread_mutex_lock(&el->mu);
	}
	pthread_mutex_unlock(&el->mu);
}

static void release_finished_calls(struct event_loop *el)
{
	if (!el->finished)
		return;
	pthread_mutex_lock(&el->mu);
	while (el->finished) {
		struct event_call *c = el->finished;

		el->finished = c->next;
		c->done = true;
	}
	pthread_cond_broadcast(&el->cv);
	pthread_mutex_unlock(&el->mu);
}

static void *event_loop_thread(void *arg)
{
	struct event_loop *el = arg;
	struct epoll_event evs[EVENT_BATCH];

	pthread_setname_np(pthread_self(), "vhost-events");
	for (;;) {
		int n = epoll_wait(el->epfd, evs, EVENT_BATCH, -1);
		bool stop;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			LOG_ERR("event loop: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct event_handler *h = evs[i].data.ptr;

			if (!h) {
				run_calls(el);
				continue;
			}
			if (!h->dead)
				h->cb(h->fd, evs[i].events, h->opaque);
		}
		run_deferred(el);
		release_finished_calls(el);
		pthread_mutex_lock(&el->mu);
		stop = el->stopping && !el->calls;
		pthread_mutex_unlock(&el->mu);
		if (stop)
			break;
	}
	run_deferred(el);
	release_finished_calls(el);
	return NULL;
}

int event_loop_create(struct event_loop **out)
{
	struct event_loop *el = calloc(1, sizeof(*el));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int err;

	if (!el)
		return -ENOMEM;
	el->calls_tail = &el->calls;
	el->deferred_tail = &el->deferred;
	el->epfd = epoll_create1(EPOLL_CLOEXEC);
	el->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (el->epfd < 0 || el->wakefd < 0 ||
	    epoll_ctl(el->epfd, EPOLL_CTL_ADD, el->wakefd, &ev) < 0) {
		err = -errno;
		goto fail;
	}
	pthread_mutex_init(&el->mu, NULL);
	pthread_cond_init(&el->cv, NULL);
	err = -pthread_create(&el->thread, NULL, event_loop_thread, el);
	if (err) {
		pthread_cond_destroy(&el->cv);
		pthread_mutex_destroy(&el->mu);
		goto fail;
	}
	*out = el;
	return 0;
fail:
	if (el->wakefd >= 0)
		close(el->wakefd);
	if (el->epfd >= 0)
		close(el->epfd);
	free(el);
	return err;
}

static void wake(struct event_loop *el)
{
	uint64_t one = 1;

	if (write(el->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		LOG_ERR("event loop: wake write: %s", strerror(errno));
}

int event_loop_call(struct event_loop *el, int (*fn)(void *), void *arg)
{
	struct event_call c = { .fn = fn, .arg = arg };

	if (event_loop_in_thread(el))
		return fn(arg);
	pthread_mutex_lock(&el->mu);
	if (el->stopping) {
		pthread_mutex_unlock(&el->mu);
		return -ESHUTDOWN;
	}
	*el->calls_tail = &c;
	el->calls_tail = &c.next;
	pthread_mutex_unlock(&el->mu);
	wake(el);
	pthread_mutex_lock(&el->mu);
	while (!c.done)
		pthread_cond_wait(&el->cv, &el->mu);
	pthread_mutex_unlock(&el->mu);
	return c.result;
}

void event_loop_destroy(struct event_loop *el)
{
	if (!el)
		return;
	pthread_mutex_lock(&el->mu);
	el->stopping = true;
	pthread_mutex_unlock(&el->mu);
	wake(el);
	pthread_join(el->thread, NULL);
	close(el->wakefd);
	close(el->epfd);
	pthread_cond_destroy(&el->cv);
	pthread_mutex_destroy(&el->mu);
	free(el);
}
