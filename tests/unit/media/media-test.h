/* SPDX-License-Identifier: MIT */
#pragma once

/* Small helpers shared by the media unit tests. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/macro.h"

#define EXIT_TEST_SKIP 77

#define ASSERT(expr)                                                                        \
        do {                                                                                \
                if (!(expr)) {                                                              \
                        fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, \
                                #expr);                                                     \
                        abort();                                                            \
                }                                                                           \
        } while (0)

#define ASSERT_OK(expr)                                                                     \
        do {                                                                                \
                long long _r = (expr);                                                      \
                if (_r < 0) {                                                               \
                        fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, \
                                strerror((int) -_r));                                       \
                        abort();                                                            \
                }                                                                           \
        } while (0)

#define ASSERT_EQ(a, b)                                                                     \
        do {                                                                                \
                long long _a = (long long) (a), _b = (long long) (b);                      \
                if (_a != _b) {                                                             \
                        fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, \
                                __LINE__, #a, #b, _a, _b);                                  \
                        abort();                                                            \
                }                                                                           \
        } while (0)

/* A fresh directory under $TMPDIR (or /tmp); caller frees the string and removes it. */
char *test_tmpdir(void);
/* Removes dir and everything in it (one level deep). */
void test_rmdir(const char *dir);
/* True if an executable named prog is on PATH. */
bool test_have_program(const char *prog);
/* Runs a shell command and returns its stdout (malloc()ed, NUL-terminated) or NULL if it
 * failed; *status gets the exit status when not NULL. */
char *test_run(const char *cmd, int *status);
/* Writes size bytes to path (creating/truncating it). */
void test_write_file(const char *path, const void *data, size_t size);
/* Reads a whole file; returns malloc()ed bytes. */
uint8_t *test_read_file(const char *path, size_t *ret_size);
/* Fills a w x h plane with a smooth pattern that depends on seed. */
void test_fill_plane(uint8_t *p, unsigned w, unsigned h, unsigned stride, unsigned seed);
/* PSNR in dB between two planes (infinity → 99). */
double test_psnr(const uint8_t *a, unsigned astride, const uint8_t *b, unsigned bstride, unsigned w,
                 unsigned h);
