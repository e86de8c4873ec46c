/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Checks that stay on in every build type (assert() vanishes under NDEBUG). */
#define check(expr)                                                                      \
        do {                                                                             \
                if (!(expr)) {                                                           \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                         \
                }                                                                        \
        } while (0)

#define check_ok(r)                                                                      \
        do {                                                                             \
                int _r = (r);                                                            \
                if (_r < 0) {                                                            \
                        fprintf(stderr, "%s:%d: %s failed: %d\n", __FILE__, __LINE__, #r, _r); \
                        abort();                                                         \
                }                                                                        \
        } while (0)

static inline double test_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void test_sleep_ms(long ms) {
        struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };
        nanosleep(&ts, NULL);
}
