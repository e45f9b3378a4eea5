/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * systemd's readiness protocol (sd_notify(3)) without libsystemd: one
 * datagram per message to the AF_UNIX socket named by $NOTIFY_SOCKET (a
 * path, or "@name" for the abstract namespace). Without the variable every
 * call does nothing, so the programs run the same outside systemd.
 * Services of Type=notify: READY=1 once the ports' sockets listen,
 * STATUS=... for `systemctl status`, STOPPING=1 when shutting down.
 */
#ifndef APPS_SDNOTIFY_H
#define APPS_SDNOTIFY_H

/* Send text (e.g. "READY=1\nSTATUS=4 ports") to $NOTIFY_SOCKET. Returns 1
 * when sent, 0 when there is no socket to tell, -errno on failure. */
int sd_notify_send(const char *text);
/* printf-style STATUS= line. */
int sd_notify_status(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
