/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/videodev2.h>

#include <stdint.h>
#include <string.h>

#include "capture/frame-codec.h"

int frame_planar_view(const struct frame *f, struct yuv_planes *ret) {
        bool is_420 = f->fourcc == V4L2_PIX_FMT_YUV420;
        unsigned cw = f->stride / 2, ch;

        if (!is_420 && f->fourcc != V4L2_PIX_FMT_YUV422P)
                return -EINVAL;
        ch = is_420 ? f->height / 2 : f->height;
        if (f->stride < f->width || (size_t) f->stride * f->height + 2 * (size_t) cw * ch > f->size)
                return -EINVAL;
        *ret = (struct yuv_planes) {
                .width = f->width,
                .height = f->height,
                .subsamp = is_420 ? YUV_SUBSAMP_420 : YUV_SUBSAMP_422,
                .plane = { f->data, f->data + (size_t) f->stride * f->height,
                           f->data + (size_t) f->stride * f->height + (size_t) cw * ch },
                .stride = { f->stride, cw, cw },
        };
        return 0;
}

int frame_encode_jpeg(struct jpeg_encoder *e, const struct frame *f, int quality, struct jpeg_buffer *out) {
        struct yuv_planes view;

        switch (f->fourcc) {
        case V4L2_PIX_FMT_NV12:
                return jpeg_encode_nv12(e, f->data, f->width, f->height, f->stride, quality, out);
        case V4L2_PIX_FMT_YUYV:
                return jpeg_encode_yuyv(e, f->data, f->width, f->height, f->stride, quality, out);
        case V4L2_PIX_FMT_UYVY:
                return jpeg_encode_uyvy(e, f->data, f->width, f->height, f->stride, quality, out);
        case V4L2_PIX_FMT_YUV420:
        case V4L2_PIX_FMT_YUV422P: {
                int r = frame_planar_view(f, &view);
                return r < 0 ? r : jpeg_encode_planes(e, &view, quality, out);
        }
        default:
                return -EINVAL;
        }
}

bool frame_is_420(const struct frame *f) {
        return f->fourcc == V4L2_PIX_FMT_NV12 || f->fourcc == V4L2_PIX_FMT_YUV420;
}

/* Bytes a raw layout needs for its last row to be complete, from its stride. */
static size_t bytes_needed(const struct frame *f) {
        size_t h = f->height, w = f->width;

        switch (f->fourcc) {
        case V4L2_PIX_FMT_NV12:
                return f->stride < w ? SIZE_MAX : (size_t) f->stride * (h + h / 2);
        case V4L2_PIX_FMT_YUYV:
        case V4L2_PIX_FMT_UYVY:
                return f->stride < 2 * w ? SIZE_MAX : (size_t) f->stride * (h - 1) + 2 * w;
        default:
                return 0; /* planar: frame_planar_view() checks */
        }
}

static int split_planes(const struct frame *f, uint8_t *y, uint8_t *cb, uint8_t *cr) {
        unsigned w = f->width, h = f->height, cw = w / 2, ch = frame_is_420(f) ? h / 2 : h;
        struct yuv_planes view;

        if (f->size < bytes_needed(f))
                return -EINVAL;
        switch (f->fourcc) {
        case V4L2_PIX_FMT_NV12: {
                const uint8_t *uv = f->data + (size_t) f->stride * h;
                for (unsigned row = 0; row < h; row++)
                        memcpy(y + (size_t) row * w, f->data + (size_t) row * f->stride, w);
                for (unsigned row = 0; row < ch; row++)
                        yuv_split_cbcr_row(uv + (size_t) row * f->stride, cb + (size_t) row * cw,
                                           cr + (size_t) row * cw, cw);
                return 0;
        }
        case V4L2_PIX_FMT_YUYV:
        case V4L2_PIX_FMT_UYVY:
                for (unsigned row = 0; row < h; row++)
                        (f->fourcc == V4L2_PIX_FMT_YUYV ? yuv_split_yuyv_row : yuv_split_uyvy_row)(
                                f->data + (size_t) row * f->stride, y + (size_t) row * w,
                                cb + (size_t) row * cw, cr + (size_t) row * cw, cw);
                return 0;
        case V4L2_PIX_FMT_YUV420:
        case V4L2_PIX_FMT_YUV422P: {
                int r = frame_planar_view(f, &view);
                if (r < 0)
                        return r;
                uint8_t *dst[3] = { y, cb, cr };
                for (unsigned p = 0; p < 3; p++) {
                        unsigned pw = p ? cw : w, ph = p ? ch : h;
                        for (unsigned row = 0; row < ph; row++)
                                memcpy(dst[p] + (size_t) row * pw, view.plane[p] + (size_t) row * view.stride[p], pw);
                }
                return 0;
        }
        default:
                return -EINVAL;
        }
}

size_t frame_planes_size(const struct frame *f, enum yuv_subsamp *ret_subsamp) {
        enum yuv_subsamp s;

        if (f->fourcc == V4L2_PIX_FMT_MJPEG || !frame_fourcc_known(f->fourcc) ||
            frame_size_for(f->fourcc, f->width, f->height) == 0)
                return 0;
        s = frame_is_420(f) ? YUV_SUBSAMP_420 : YUV_SUBSAMP_422;
        if (ret_subsamp)
                *ret_subsamp = s;
        return (size_t) f->width * f->height +
               2 * (size_t) yuv_plane_width(s, 1, f->width) * yuv_plane_height(s, 1, f->height);
}

int frame_to_planes(const struct frame *f, uint8_t *buf, struct yuv_planes *ret) {
        unsigned w = f->width, h = f->height, cw, ch;
        enum yuv_subsamp s;
        uint8_t *y, *cb, *cr;
        int r;

        if (frame_planes_size(f, &s) == 0)
                return -EINVAL;
        cw = yuv_plane_width(s, 1, w);
        ch = yuv_plane_height(s, 1, h);
        y = buf;
        cb = y + (size_t) w * h;
        cr = cb + (size_t) cw * ch;
        r = split_planes(f, y, cb, cr);
        if (r < 0)
                return r;
        *ret = (struct yuv_planes) {
                .width = w,
                .height = h,
                .subsamp = s,
                .plane = { y, cb, cr },
                .stride = { w, cw, cw },
        };
        return 0;
}
