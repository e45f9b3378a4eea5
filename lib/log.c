/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

_Atomic int vhost_log_level_current = VHOST_LOG_INFO;
static void (*_Atomic log_handler)(enum vhost_log_level, const char *);

static const char *const level_names[] = {
	[VHOST_LOG_ERR] = "ERR",
	[VHOST_LOG_WARNING] = "WARN",
	[VHOST_LOG_INFO] = "INFO",
	[VHOST_LOG_DEBUG] = "DEBUG",
};

/* Read VHOST_LOG_LEVEL once, when the library is loaded. */
__attribute__((constructor)) static void log_init_from_env(void)
{
	const char *s = getenv("VHOST_LOG_LEVEL");

	if (s && s[0] >= '1' && s[0] <= '4' && s[1] == '\0')
		vhost_log_level_current = s[0] - '0';
}

void vhost_log_set_level(enum vhost_log_level level)
{
	if (level < VHOST_LOG_ERR)
		level = VHOST_LOG_ERR;
	if (level > VHOST_LOG_DEBUG)
		level = VHOST_LOG_DEBUG;
	atomic_store(&vhost_log_level_current, (int)level);
}

enum vhost_log_level vhost_log_get_level(void)
{
	return (enum vhost_log_level)atomic_load(&vhost_log_level_current);
}

void vhost_log_set_handler(void (*fn)(enum vhost_log_level, const char *))
{
	atomic_store(&log_handler, fn);
}

uint64_t vhost_log_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void vhost_log_emit(enum vhost_log_level level, const char *fmt, ...)
{
	char line[512];
	void (*fn)(enum vhost_log_level, const char *) = atomic_load(&log_handler);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (fn) {
		fn(level, line);
		return;
	}
	fprintf(stderr, "vhost %s: %s\n", level_names[level], line);
}
