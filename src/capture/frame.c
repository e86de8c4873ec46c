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
        case V4L2_PIX_FMT_UYVY:
        case V4L2_PIX_FMT_YUV422P:
                return (size_t) width * height * 2;
        case V4L2_PIX_FMT_NV12:
        case V4L2_PIX_FMT_YUV420:
                return (size_t) width * height * 3 / 2;
        case V4L2_PIX_FMT_MJPEG:
                /* Room for a 4:2:2 JPEG at quality 100 of pure noise (TurboJPEG's worst case
                 * is about this); UVC drivers size their buffers at width x height x 2. */
                return (size_t) width * height * 3 + 65536;
        default:
                return 0;
        }
}

bool frame_fourcc_known(uint32_t fourcc) {
        return frame_size_for(fourcc, 2, 2) > 0;
}

static unsigned first_plane_stride(uint32_t fourcc, unsigned width) {
        switch (fourcc) {
        case V4L2_PIX_FMT_YUYV:
        case V4L2_PIX_FMT_UYVY:
                return width * 2;
        case V4L2_PIX_FMT_MJPEG:
                return 0;
        default:
                return width;
        }
}

/* The layouts a profile may name (Camera.Formats in dbus/org.camerad.Camera1.Camera.xml);
 * YUV422P is only what 4:2:2 MJPEG decodes to. */
static const struct {
        const char *name;
        uint32_t fourcc;
} profile_formats[] = {
        { "YUYV", V4L2_PIX_FMT_YUYV }, { "NV12", V4L2_PIX_FMT_NV12 }, { "YU12", V4L2_PIX_FMT_YUV420 },
        { "UYVY", V4L2_PIX_FMT_UYVY }, { "MJPG", V4L2_PIX_FMT_MJPEG },
};

int frame_fourcc_from_name(const char *name, uint32_t *ret) {
        if (!name)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(profile_formats); i++)
                if (streq(name, profile_formats[i].name)) {
                        *ret = profile_formats[i].fourcc;
                        return 0;
                }
        return -EINVAL;
}

bool frame_fourcc_is_supported(uint32_t fourcc) {
        for (size_t i = 0; i < ELEMENTSOF(profile_formats); i++)
                if (profile_formats[i].fourcc == fourcc)
                        return true;
        return false;
}

const char *frame_fourcc_name(uint32_t fourcc, char buf[static 5]) {
        for (int i = 0; i < 4; i++) {
                char c = (char) ((fourcc >> (8 * i)) & 0xff);
                buf[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
        }
        buf[4] = 0;
        return buf;
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
                .stride = first_plane_stride(fourcc, width),
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
        f->compressed = frame_unref(f->compressed);
        if (f->release)
                f->release(f);
        else
                free(f);
        return NULL;
}
