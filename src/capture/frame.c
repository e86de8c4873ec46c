/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/videodev2.h>
#include <stdlib.h>
#include <string.h>

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

int frame_fourcc_from_name(const char *name, uint32_t *ret) {
        if (!name)
                return -EINVAL;
        if (streq(name, "YUYV"))
                *ret = V4L2_PIX_FMT_YUYV;
        else if (streq(name, "NV12"))
                *ret = V4L2_PIX_FMT_NV12;
        else
                return -EINVAL;
        return 0;
}

bool frame_fourcc_is_supported(uint32_t fourcc) {
        return fourcc == V4L2_PIX_FMT_YUYV || fourcc == V4L2_PIX_FMT_NV12;
}

const char *frame_fourcc_name(uint32_t fourcc, char buf[static 5]) {
        for (int i = 0; i < 4; i++) {
                char c = (char) ((fourcc >> (8 * i)) & 0xff);
                buf[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
        }
        buf[4] = 0;
        return buf;
}

static bool frame_planes_subsamp(uint32_t fourcc, enum yuv_subsamp *ret) {
        switch (fourcc) {
        case V4L2_PIX_FMT_YUYV:
                *ret = YUV_SUBSAMP_422;
                return true;
        case V4L2_PIX_FMT_NV12:
                *ret = YUV_SUBSAMP_420;
                return true;
        default:
                return false;
        }
}

size_t frame_planes_size(const struct frame *f, enum yuv_subsamp *ret_subsamp) {
        enum yuv_subsamp s;

        if (!frame_planes_subsamp(f->fourcc, &s) || frame_size_for(f->fourcc, f->width, f->height) == 0)
                return 0;
        if (ret_subsamp)
                *ret_subsamp = s;
        return (size_t) f->width * f->height +
               2 * (size_t) yuv_plane_width(s, 1, f->width) * yuv_plane_height(s, 1, f->height);
}

int frame_to_planes(const struct frame *f, uint8_t *buf, struct yuv_planes *ret) {
        unsigned w = f->width, h = f->height, cw, ch;
        enum yuv_subsamp s;
        uint8_t *y, *cb, *cr;

        if (frame_planes_size(f, &s) == 0)
                return -EINVAL;
        cw = yuv_plane_width(s, 1, w);
        ch = yuv_plane_height(s, 1, h);
        y = buf;
        cb = y + (size_t) w * h;
        cr = cb + (size_t) cw * ch;

        switch (f->fourcc) {
        case V4L2_PIX_FMT_NV12: {
                const uint8_t *uv = f->data + (size_t) f->stride * h;

                if (f->stride < w || f->size < (size_t) f->stride * (h + ch))
                        return -EINVAL;
                for (unsigned row = 0; row < h; row++)
                        memcpy(y + (size_t) row * w, f->data + (size_t) row * f->stride, w);
                for (unsigned row = 0; row < ch; row++)
                        yuv_split_cbcr_row(uv + (size_t) row * f->stride, cb + (size_t) row * cw,
                                           cr + (size_t) row * cw, cw);
                break;
        }
        case V4L2_PIX_FMT_YUYV:
                if (f->stride < 2 * w || f->size < (size_t) f->stride * (h - 1) + 2 * w)
                        return -EINVAL;
                for (unsigned row = 0; row < h; row++)
                        yuv_split_yuyv_row(f->data + (size_t) row * f->stride, y + (size_t) row * w,
                                           cb + (size_t) row * cw, cr + (size_t) row * cw, cw);
                break;
        default:
                return -EINVAL;
        }
        *ret = (struct yuv_planes) {
                .width = w,
                .height = h,
                .subsamp = s,
                .plane = { y, cb, cr },
                .stride = { w, cw, cw },
        };
        return 0;
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
