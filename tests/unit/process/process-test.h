/* SPDX-License-Identifier: MIT */
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "process/image-processor.h"

#include "../check.h"

/* A fresh private state directory under $TMPDIR; removed by test_rm_rf(). */
static inline char *test_make_state_dir(void) {
        const char *tmp = getenv("TMPDIR");
        char *path;

        if (asprintf(&path, "%s/camerad-process-XXXXXX", tmp ? tmp : "/tmp") < 0)
                abort();
        if (!mkdtemp(path))
                abort();
        return path;
}

static inline void test_rm_rf(const char *path) {
        char *cmd;
        if (asprintf(&cmd, "rm -rf -- '%s'", path) < 0)
                abort();
        check(system(cmd) == 0);
        free(cmd);
}

/* A burst of n frames w x h 4:2:0 with a deterministic pattern; planes live in *storage. */
struct test_burst {
        struct image_burst_frame frames[16];
        uint8_t *storage;
        struct image_burst burst;
};

static inline void test_burst_init(struct test_burst *t, unsigned w, unsigned h, unsigned n, unsigned seed) {
        size_t luma = (size_t) w * h, chroma = (size_t) (w / 2) * (h / 2), frame = luma + 2 * chroma;

        memset(t, 0, sizeof *t);
        t->storage = malloc(frame * n);
        if (!t->storage)
                abort();
        for (unsigned f = 0; f < n; f++) {
                uint8_t *base = t->storage + frame * f;
                for (size_t i = 0; i < frame; i++)
                        base[i] = (uint8_t) ((i * 7 + f * 3 + seed * 13) ^ (i >> 5));
                t->frames[f] = (struct image_burst_frame) { base, base + luma, base + luma + chroma };
        }
        t->burst = (struct image_burst) {
                .width = w, .height = h, .chroma = IMAGE_CHROMA_420, .n_frames = n,
                .frames = t->frames, .quality = 90, .deferred = true,
                .camera_make = "TestMake", .camera_model = "TestModel",
        };
}

static inline void test_burst_done(struct test_burst *t) {
        free(t->storage);
        t->storage = NULL;
}

static inline mode_t test_mode_of(const char *path) {
        struct stat st;
        check(lstat(path, &st) == 0);
        return st.st_mode & 07777;
}

static inline int test_exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0;
}
