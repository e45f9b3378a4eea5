/* SPDX-License-Identifier: BSD-3-Clause */
/* Logging: one call style; guest-triggered messages go through the rate
 * limited variant so a hostile guest cannot flood the log. */
#ifndef VHOST_LOG_H
#define VHOST_LOG_H

#include <stdatomic.h>
#include <stdint.h>

#include <vhost/vhost.h>

extern _Atomic int vhost_log_level_current;

void vhost_log_emit(enum vhost_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint64_t vhost_log_now_ns(void);

#define VLOG(level, ...)                                                     \
	do {                                                                 \
		if ((int)(level) <= atomic_load_explicit(                    \
			&vhost_log_level_current, memory_order_relaxed))     \
			vhost_log_emit(level, __VA_ARGS__);                  \
	} while (0)

#define LOG_ERR(...) VLOG(VHOST_LOG_ERR, __VA_ARGS__)
#define LOG_WARN(...) VLOG(VHOST_LOG_WARNING, __VA_ARGS__)
#define LOG_INFO(...) VLOG(VHOST_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) VLOG(VHOST_LOG_DEBUG, __VA_ARGS__)

/* At most one message per second per call site; the count of suppressed
 * ones is reported with the next. Lock-free: safe on the data path. */
#define LOG_RATELIMIT(level, fmt, ...)                                       \
	do {                                                                 \
		static _Atomic uint64_t rl_next_;                            \
		static _Atomic uint64_t rl_missed_;                          \
		uint64_t rl_now_ = vhost_log_now_ns();                       \
		uint64_t rl_at_ = atomic_load_explicit(&rl_next_,            \
						memory_order_relaxed);       \
		if (rl_now_ >= rl_at_ &&                                     \
		    atomic_compare_exchange_strong(&rl_next_, &rl_at_,       \
						   rl_now_ + 1000000000ull)) { \
			uint64_t rl_m_ = atomic_exchange(&rl_missed_, 0);    \
			VLOG(level, fmt " (%llu similar suppressed)",        \
			     ##__VA_ARGS__, (unsigned long long)rl_m_);      \
		} else {                                                     \
			atomic_fetch_add_explicit(&rl_missed_, 1,            \
						  memory_order_relaxed);     \
		}                                                            \
	} while (0)

#endif
