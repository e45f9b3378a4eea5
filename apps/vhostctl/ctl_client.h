/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_client.h -- vhostctl's side of the control socket (DPDK telemetry v2:
 * AF_UNIX SOCK_SEQPACKET, a hello on connect, one request datagram, one JSON
 * reply {"/cmd": value}). Every wait is bounded by the connection's timeout.
 */
#ifndef VHOSTCTL_CTL_CLIENT_H
#define VHOSTCTL_CTL_CLIENT_H

#include <stddef.h>

#include "jparse.h"

#define CTL_MAX_REQUEST 1024          /* docs/operations.md: requests of at most 1024 bytes */
#define CTL_DEFAULT_OUTPUT_LEN 16384  /* when the hello does not say */
#define CTL_MAX_OUTPUT_LEN (16u << 20) /* never trust a hello for more */

struct ctl_conn {
	int fd;
	int timeout_ms;
	size_t max_output_len;
	char *buf; /* max_output_len + 1 bytes */
};

/* The socket path for a file prefix, by DPDK's runtime-dir rule. 0, or -1 if
 * it does not fit in out. */
int ctl_prefix_path(const char *prefix, char *out, size_t outlen);

/* Connect and read the hello. 0, or -1 with a message in err. */
int ctl_open(struct ctl_conn *c, const char *path, int timeout_ms, char *err, size_t errlen);
void ctl_close(struct ctl_conn *c);

/* Send "/cmd[,params]" and receive its reply. On success returns the parsed
 * reply object (free it with jnode_free) and points *value at the member for
 * cmd inside it. NULL with a message in err on a socket or protocol error. */
struct jnode *ctl_call(struct ctl_conn *c, const char *request, const struct jnode **value,
		       char *err, size_t errlen);

#endif
