/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <stdlib.h>

#include "capture/frame.h"
#include "shared/macro.h"

/* Pixel data starts on a cache line so SIMD loads in the encoders stay aligned. */
#define FRAME_DATA_ALIGN 64

size_t frame_size_for(uint32_t fourcc, unsigned width, unsigned height) {
        if (width == 0 || height == 0 || width % 2 || height % 2 || width > 16384 || height > 16384)
                return 0;
        switch (fourcc) {
        case V4L2_PIX_FMT_YUYV:
                return (size_t) width * height * 2;
        case V4L2_PIX_FMT_NV12:
                return (size_t) width * height * 3 / 2;
        default:
                return 0;
        }
}

struct frame *frame_new(uint32_t fourcc, unsigned width, unsigned height) {
        size_t size = frame_size_for(fourcc, width, height);
        if (size == 0)
                return NULL;

        size_t header = (sizeof(struct frame) + FRAME_DATA_ALIGN - 1) / FRAME_DATA_ALIGN * FRAME_DATA_ALIGN;
        void *mem = NULL;
        if (posix_memalign(&mem, FRAME_DATA_ALIGN, header + size) != 0)
                return NULL;

        struct frame *f = mem;
        *f = (struct frame) {
                .fourcc = fourcc,
                .width = width,
                .height = height,
                .stride = fourcc == V4L2_PIX_FMT_YUYV ? width * 2 : width,
                .data = (uint8_t *) mem + header,
                .size = size,
        };
        atomic_init(&f->n_ref, 1);
        return f;
}

struct frame *frame_ref(struct frame *f) {
        if (f)
                atomic_fetch_add_explicit(&f->n_ref, 1, memory_order_relaxed);
        return f;
}

struct frame *frame_unref(struct frame *f) {
        if (!f)
                return NULL;
        /* acq_rel: the last owner must see every write the other owners made. */
        if (atomic_fetch_sub_explicit(&f->n_ref, 1, memory_order_acq_rel) != 1)
                return NULL;
        if (f->release)
                f->release(f);
        else
                free(f);
        return NULL;
}
