/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event loop: one thread, one epoll set. Every socket, connection and
 * timer fd of a context lives here, and all control-plane state is written
 * only from this thread. Other threads get work done here through
 * event_loop_call(), which runs a function on the loop thread and waits.
 */
#ifndef VHOST_EVENT_H
#define VHOST_EVENT_H

#include <stdbool.h>
#include <stdint.h>

struct event_loop;
struct event_handler;

typedef void (*event_cb)(int fd, uint32_t events, void *opaque);

int event_loop_create(struct event_loop **out);
/* Stops the thread; every handler must have been removed. */
void event_loop_destroy(struct event_loop *el);
bool event_loop_in_thread(const struct event_loop *el);

/* Loop thread only. Returns a handle for event_del(), NULL + errno. */
struct event_handler *event_add(struct event_loop *el, int fd,
				uint32_t events, event_cb cb, void *opaque);
/* Loop thread only, also from inside any callback (even the handler's own):
 * the handler is not called again, and freed after the current batch. The
 * fd is not closed. */
void event_del(struct event_loop *el, struct event_handler *h);

/* Run fn(arg) on the loop thread and return its result; from the loop
 * thread itself it runs directly. */
int event_loop_call(struct event_loop *el, int (*fn)(void *), void *arg);

/* Loop thread only: run fn(arg) after the current batch of events, when no
 * callback is on the stack (used to free objects a callback may still
 * reference). */
int event_loop_defer(struct event_loop *el, void (*fn)(void *), void *arg);

#endif
