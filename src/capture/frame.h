/* SPDX-License-Identifier: MIT */
#pragma once

#include <linux/videodev2.h>
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
 * Pixel layouts (V4L2 fourccs), rows tightly packed:
 *   YUYV, UYVY  packed 4:2:2 (Y0 Cb Y1 Cr / Cb Y0 Cr Y1)
 *   NV12        Y plane, then interleaved CbCr (4:2:0)
 *   YUV420      "YU12": Y, Cb, Cr planes (4:2:0)
 *   YUV422P     "422P": Y, Cb, Cr planes (4:2:2), what 4:2:2 MJPEG decodes to
 *   MJPEG       the camera's JPEG bytes; size = bytes used, data holds up to
 *               frame_size_for() bytes
 * A frame decoded from a camera JPEG (YUV420/YUV422P) keeps a ref to that JPEG in
 * `compressed`, so recorders write the camera's bytes and the photo proxy is the camera's
 * own picture. Frames are immutable once pushed; whoever keeps one past a callback takes a
 * ref. */
struct frame {
        atomic_int n_ref;
        uint32_t fourcc;       /* one of the layouts above */
        unsigned width, height;
        unsigned stride;       /* bytes per line of the first plane; 0 for MJPEG */
        uint8_t *data;
        size_t size;           /* bytes used in data */
        uint64_t sequence;     /* counts from 0 at Start */
        uint64_t timestamp_us; /* CLOCK_MONOTONIC */
        struct frame *compressed; /* the MJPEG frame this one was decoded from, or NULL;
                                     unref'd with this frame */

        /* When set, called instead of free() as the last ref goes (frame pools recycle
         * frames this way). Only frame_new()/frame_pool set these. */
        void (*release)(struct frame *f);
        void *release_data;
};

/* Bytes a tightly packed frame needs (for MJPEG: the most a frame may use); 0 for an
 * unknown fourcc or odd sizes. */
size_t frame_size_for(uint32_t fourcc, unsigned width, unsigned height);

/* Whether fourcc is one of the layouts above. */
bool frame_fourcc_known(uint32_t fourcc);

/* The compressed frame behind f: f itself when it is MJPEG, else f->compressed (NULL for
 * frames captured raw). */
static inline const struct frame *frame_jpeg(const struct frame *f) {
        return f->fourcc == V4L2_PIX_FMT_MJPEG ? f : f->compressed;
}

/* The formats a profile may name ("YUYV", "NV12", "YU12", "UYVY", "MJPG"): 0, or -EINVAL
 * for any other. */
int frame_fourcc_from_name(const char *name, uint32_t *ret);
bool frame_fourcc_is_supported(uint32_t fourcc);
/* The fourcc's four characters ('?' for unprintable ones) + NUL, at buf. */
const char *frame_fourcc_name(uint32_t fourcc, char buf[static 5]);

/* A new frame with n_ref 1 and tightly packed, uninitialised data. NULL on OOM/bad args. */
struct frame *frame_new(uint32_t fourcc, unsigned width, unsigned height);
struct frame *frame_ref(struct frame *f);
struct frame *frame_unref(struct frame *f); /* returns NULL */

static inline void frame_unrefp(struct frame **f) {
        if (*f)
                frame_unref(*f);
}
