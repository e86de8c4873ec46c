/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/yuv.h"

/* V4L2 fourccs without <linux/videodev2.h>, for the layers above capture/ (same values as
 * v4l2_fourcc()). */
#define FRAME_FOURCC(a, b, c, d) \
        ((uint32_t) (a) | ((uint32_t) (b) << 8) | ((uint32_t) (c) << 16) | ((uint32_t) (d) << 24))
#define FRAME_FOURCC_YUYV FRAME_FOURCC('Y', 'U', 'Y', 'V')
#define FRAME_FOURCC_NV12 FRAME_FOURCC('N', 'V', '1', '2')

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

/* The formats capture delivers, by name ("YUYV", "NV12"): 0, or -EINVAL for any other. */
int frame_fourcc_from_name(const char *name, uint32_t *ret);
bool frame_fourcc_is_supported(uint32_t fourcc);
/* The fourcc's four characters ('?' for unprintable ones) + NUL, at buf. */
const char *frame_fourcc_name(uint32_t fourcc, char buf[static 5]);

/* The one conversion of a captured frame into tightly packed planes (stride = plane width)
 * as the image processor takes them. frame_planes_size() is the bytes frame_to_planes()
 * writes at buf and sets the chroma subsampling; 0 when f's format has no planar form
 * here. frame_to_planes() returns 0, or -EINVAL for a frame whose data is too short. */
size_t frame_planes_size(const struct frame *f, enum yuv_subsamp *ret_subsamp);
int frame_to_planes(const struct frame *f, uint8_t *buf, struct yuv_planes *ret);

/* A new frame with n_ref 1 and tightly packed, uninitialised data. NULL on OOM/bad args. */
struct frame *frame_new(uint32_t fourcc, unsigned width, unsigned height);
struct frame *frame_ref(struct frame *f);
struct frame *frame_unref(struct frame *f); /* returns NULL */

static inline void frame_unrefp(struct frame **f) {
        if (*f)
                frame_unref(*f);
}
