/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* One captured picture, shared by reference between the capture thread and the outputs.
 * Pixel layouts (V4L2 fourccs): YUYV packed 4:2:2, NV12 = Y plane then interleaved CbCr.
 * Frames are immutable once pushed; whoever keeps one past a callback takes a ref. */
struct frame {
        atomic_int n_ref;
        uint32_t fourcc;       /* V4L2_PIX_FMT_YUYV or V4L2_PIX_FMT_NV12 */
        unsigned width, height;
        unsigned stride;       /* bytes per line of the first plane */
        uint8_t *data;
        size_t size;           /* bytes used in data */
        uint64_t sequence;     /* counts from 0 at Start */
        uint64_t timestamp_us; /* CLOCK_MONOTONIC */

        /* When set, called instead of free() as the last ref goes (frame pools recycle
         * frames this way). Only frame_new()/frame_pool set these. */
        void (*release)(struct frame *f);
        void *release_data;
};

/* Bytes a tightly packed frame needs; 0 for an unknown fourcc or odd sizes. */
size_t frame_size_for(uint32_t fourcc, unsigned width, unsigned height);

/* A new frame with n_ref 1 and tightly packed, uninitialised data. NULL on OOM/bad args. */
struct frame *frame_new(uint32_t fourcc, unsigned width, unsigned height);
struct frame *frame_ref(struct frame *f);
struct frame *frame_unref(struct frame *f); /* returns NULL */

static inline void frame_unrefp(struct frame **f) {
        if (*f)
                frame_unref(*f);
}
