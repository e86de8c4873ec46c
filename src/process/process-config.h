/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deferred-processing settings from /etc/camerad/camerad.conf (JSON):
 *
 *   { "concurrency": { "high-performance": 2, "balanced": 1, "low-power": 1 },
 *     "quota_bytes": 2147483648, "job_timeout_seconds": 60,
 *     "default_mode": "balanced", "max_retries": 3, "low_power_sched_idle": true }
 *
 * Every key is optional. An unknown key, a wrong type or a value out of range is an
 * error whose message names the key; the daemon refuses to start with it. */

enum exec_mode {
        EXEC_MODE_HIGH_PERFORMANCE,
        EXEC_MODE_BALANCED,
        EXEC_MODE_LOW_POWER,
        _EXEC_MODE_MAX,
        _EXEC_MODE_INVALID = -EINVAL,
};

/* "high-performance", "balanced", "low-power"; NULL / -EINVAL for anything else. */
const char *exec_mode_to_string(enum exec_mode m);
enum exec_mode exec_mode_from_string(const char *s);

struct process_config {
        unsigned concurrency[_EXEC_MODE_MAX]; /* workers per mode, each >= 1 */
        uint64_t quota_bytes;                 /* per user; default 2 GiB */
        unsigned job_timeout_seconds;         /* watchdog per job; default 60 */
        enum exec_mode default_mode;          /* default balanced */
        unsigned max_retries;                 /* timeout/abnormal retries; default 3 */
        bool low_power_sched_idle;            /* low-power background work at SCHED_IDLE; default true */
};

/* CAMERAD_SYSCONFDIR "/camerad/camerad.conf"; the name is not "config.h" because that is
 * the build's generated header. */
const char *process_config_default_path(void);

/* Fills in the defaults (concurrency from the number of online CPUs). */
void process_config_init(struct process_config *c);

/* Parses JSON text over the defaults. On error returns -EINVAL (or -ENOMEM) and, when
 * error is non-NULL, a malloc'd message naming the key ("concurrency.balanced: must be an
 * integer >= 1, got -2"). */
int process_config_parse(const char *json, size_t len, struct process_config *ret, char **error);

/* Loads path (NULL = PROCESS_CONFIG_DEFAULT_PATH). A missing file gives the defaults. */
int process_config_load(const char *path, struct process_config *ret, char **error);
