/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket: DPDK's telemetry v2 protocol (lib/telemetry in DPDK
 * 22.11, usertools/dpdk-telemetry.py) on an AF_UNIX SOCK_SEQPACKET socket.
 * On connect the server sends a hello object {"version", "pid",
 * "max_output_len"}; each request is one datagram "/cmd" or "/cmd,params";
 * each reply is one JSON datagram {"/cmd": value}, {"/cmd": null} on any
 * error. Built in: "/" (the command list), "/info", "/help,/cmd".
 *
 * One thread of its own serves every client (poll), off the packet path;
 * clients are bounded in number, requests in size. Handlers run on that
 * thread, one at a time, so they never race each other; they must only
 * read what the data path publishes atomically, or hand changes to the
 * owner of the state (e.g. the libvhost event thread through the
 * vhost_socket_* calls).
 */
#ifndef APPS_TELEMETRY_H
#define APPS_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "json.h"

struct tel;

#define TEL_MAX_REQUEST 1024        /* bytes in one request datagram */
#define TEL_MAX_OUTPUT_LEN 65536    /* bytes in one reply ("max_output_len") */

/* The reply value: write exactly one JSON value into out (an object, an
 * array, a string...). Return 0, or -1 for an error (the client then gets
 * null; a message may be logged). params is "" when the request had none. */
typedef int (*tel_handler)(const char *cmd, const char *params,
			   struct jw *out, void *arg);

enum {
	TEL_CHANGES_STATE = 1u << 0, /* refused unless the peer may change
				      * state (tel_peer_may_change) */
	/* The same, only when the request has parameters: a command that
	 * reads without them and sets with them (log_level). */
	TEL_CHANGES_STATE_WITH_PARAMS = 1u << 1,
};

struct tel_params {
	const char *path;      /* socket path; its directory is created */
	const char *app;       /* "vhost-switch": in /info */
	mode_t mode;           /* socket file mode, e.g. 0660 */
	uid_t uid;             /* owner; (uid_t)-1: keep the process's */
	gid_t gid;             /* group; (gid_t)-1: keep the process's */
	unsigned max_clients;  /* 0: a default (DPDK: 16) */
};

/* Create the socket and start the serving thread. NULL and errno on
 * failure (EADDRINUSE when another live process listens on path). */
struct tel *tel_start(const struct tel_params *p);
/* Register a command before or after tel_start (commands start with '/',
 * at most 55 characters: letters, digits, '_', '-' and '/'). help is the text
 * "/help,cmd" returns. Returns 0 or -errno. */
int tel_register(struct tel *t, const char *cmd, tel_handler fn, void *arg,
		 const char *help, unsigned flags);
/* Stop the thread, close every client, unlink the socket. */
void tel_stop(struct tel *t);

/* May a peer run TEL_CHANGES_STATE commands (docs/operations.md)? Root,
 * the socket file's owner, or, when its mode gives the group write
 * permission, a member of its group (primary or supplementary). Pure, so
 * tests can check it without other users; the server feeds it
 * SO_PEERCRED, SO_PEERGROUPS and a stat of the socket file. */
bool tel_peer_may_change(uid_t peer_uid, gid_t peer_gid,
			 const gid_t *peer_groups, unsigned ngroups,
			 uid_t sock_uid, gid_t sock_gid, mode_t sock_mode);
/* Is req (len bytes, no NUL needed) a well-formed request: at most
 * TEL_MAX_REQUEST bytes, "/cmd" of letters, digits, '_', '-' and '/' (shorter
 * than 56), then optionally "," and printable ASCII parameters? */
bool tel_request_valid(const char *req, size_t len);

#endif
