/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/videodev2.h>

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

int frame_split_planes(const struct frame *f, uint8_t *y, uint8_t *cb, uint8_t *cr) {
        unsigned w = f->width, h = f->height, cw = w / 2, ch = frame_is_420(f) ? h / 2 : h;
        struct yuv_planes view;

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
