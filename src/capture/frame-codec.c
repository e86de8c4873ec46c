/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/videodev2.h>

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
