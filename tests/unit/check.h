/* SPDX-License-Identifier: MIT */
#pragma once

/* The checks of the C unit tests (and benchmarks that reuse their helpers). They stay on
 * in every build type, unlike assert(), which vanishes under NDEBUG. Included by relative
 * path ("../check.h") so that no build file needs another include directory. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Stops the test at the first failure. */
#define check(expr)                                                                          \
        do {                                                                                 \
                if (!(expr)) {                                                               \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                             \
                }                                                                            \
        } while (0)

/* r must not be a negative errno. */
#define check_ok(r)                                                                          \
        do {                                                                                 \
                int _r = (r);                                                                \
                if (_r < 0) {                                                                \
                        fprintf(stderr, "%s:%d: %s failed: %d (%s)\n", __FILE__, __LINE__, #r, _r, \
                                strerror(-_r));                                              \
                        abort();                                                             \
                }                                                                            \
        } while (0)

/* expr must return exactly want. */
#define check_r(expr, want)                                                                  \
        do {                                                                                 \
                int _r = (expr), _w = (want);                                                \
                if (_r != _w) {                                                              \
                        fprintf(stderr, "%s:%d: %s returned %d (%s), want %d\n", __FILE__,   \
                                __LINE__, #expr, _r, _r < 0 ? strerror(-_r) : "ok", _w);      \
                        abort();                                                             \
                }                                                                            \
        } while (0)

/* Counts a failure and goes on, so that one run lists every mismatch of a table; main()
 * ends with `return check_report("name");`. */
static int check_failures __attribute__((unused));

#define CHECK(cond)                                                                          \
        do {                                                                                 \
                if (!(cond)) {                                                               \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        check_failures++;                                                    \
                }                                                                            \
        } while (0)

/* The exit status after CHECK()s: 1 when any failed (and how many), else 0. */
static inline int check_report(const char *name) {
        if (check_failures) {
                fprintf(stderr, "%d check(s) failed\n", check_failures);
                return 1;
        }
        printf("%s: all checks passed\n", name);
        return 0;
}

/* CLOCK_MONOTONIC in seconds. */
static inline double test_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static inline void test_sleep_ms(long ms) {
        struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };
        nanosleep(&ts, NULL);
}
