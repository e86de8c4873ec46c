/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/yuv.h"

unsigned yuv_plane_width(enum yuv_subsamp s, unsigned p, unsigned width) {
        if (p == 0)
                return width;
        switch (s) {
        case YUV_SUBSAMP_420:
        case YUV_SUBSAMP_422:
                return (width + 1) / 2;
        case YUV_SUBSAMP_444:
                return width;
        default:
                return 0;
        }
}

unsigned yuv_plane_height(enum yuv_subsamp s, unsigned p, unsigned height) {
        if (p == 0)
                return height;
        switch (s) {
        case YUV_SUBSAMP_420:
                return (height + 1) / 2;
        case YUV_SUBSAMP_422:
        case YUV_SUBSAMP_444:
                return height;
        default:
                return 0;
        }
}

int yuv_image_alloc(struct yuv_image *img, unsigned width, unsigned height, enum yuv_subsamp s) {
        size_t total = 0, offsets[3];

        if (width == 0 || height == 0 || width > MEDIA_MAX_SIDE || height > MEDIA_MAX_SIDE)
                return -EINVAL;
        if (s > YUV_SUBSAMP_GRAY)
                return -EINVAL;

        for (unsigned p = 0; p < 3; p++) {
                offsets[p] = total;
                total += (size_t) yuv_plane_width(s, p, width) * yuv_plane_height(s, p, height);
        }

        if (total > img->allocated) {
                uint8_t *b = realloc(img->buffer, total);
                if (!b)
                        return -ENOMEM;
                img->buffer = b;
                img->allocated = total;
        }

        img->width = width;
        img->height = height;
        img->subsamp = s;
        for (unsigned p = 0; p < 3; p++) {
                img->stride[p] = yuv_plane_width(s, p, width);
                img->plane_height[p] = yuv_plane_height(s, p, height);
                img->plane[p] = img->stride[p] ? img->buffer + offsets[p] : NULL;
        }
        return 0;
}

void yuv_image_done(struct yuv_image *img) {
        free(img->buffer);
        memset(img, 0, sizeof(*img));
}

struct yuv_planes yuv_image_planes(const struct yuv_image *img) {
        struct yuv_planes v = {
                .width = img->width,
                .height = img->height,
                .subsamp = img->subsamp,
        };
        for (unsigned p = 0; p < 3; p++) {
                v.plane[p] = img->plane[p];
                v.stride[p] = img->stride[p];
        }
        return v;
}

const char *yuv_subsamp_to_string(enum yuv_subsamp s) {
        switch (s) {
        case YUV_SUBSAMP_420:
                return "4:2:0";
        case YUV_SUBSAMP_422:
                return "4:2:2";
        case YUV_SUBSAMP_444:
                return "4:4:4";
        case YUV_SUBSAMP_GRAY:
                return "grey";
        }
        return "unknown";
}

/* restrict lets the compiler vectorise these: the rows never overlap. */
void yuv_split_cbcr_row(const uint8_t *restrict src, uint8_t *restrict cb, uint8_t *restrict cr,
                        unsigned pairs) {
        for (unsigned x = 0; x < pairs; x++) {
                cb[x] = src[2 * x];
                cr[x] = src[2 * x + 1];
        }
}

void yuv_split_yuyv_row(const uint8_t *restrict src, uint8_t *restrict y, uint8_t *restrict cb,
                        uint8_t *restrict cr, unsigned pairs) {
        for (unsigned x = 0; x < pairs; x++) {
                y[2 * x] = src[4 * x];
                cb[x] = src[4 * x + 1];
                y[2 * x + 1] = src[4 * x + 2];
                cr[x] = src[4 * x + 3];
        }
}

void yuv_split_uyvy_row(const uint8_t *restrict src, uint8_t *restrict y, uint8_t *restrict cb,
                        uint8_t *restrict cr, unsigned pairs) {
        for (unsigned x = 0; x < pairs; x++) {
                cb[x] = src[4 * x];
                y[2 * x] = src[4 * x + 1];
                cr[x] = src[4 * x + 2];
                y[2 * x + 1] = src[4 * x + 3];
        }
}
