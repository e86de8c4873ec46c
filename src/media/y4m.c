/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/videodev2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "media/y4m.h"
#include "media/yuv.h"

static const char frame_marker[] = "FRAME\n";
#define FRAME_MARKER_LEN (sizeof(frame_marker) - 1)

static bool is_420(uint32_t fourcc) {
        return fourcc == V4L2_PIX_FMT_NV12 || fourcc == V4L2_PIX_FMT_YUV420;
}

static bool geometry_ok(uint32_t fourcc, unsigned width, unsigned height) {
        if (!is_420(fourcc) && fourcc != V4L2_PIX_FMT_YUYV && fourcc != V4L2_PIX_FMT_UYVY &&
            fourcc != V4L2_PIX_FMT_YUV422P)
                return false;
        return width > 0 && height > 0 && !((width | height) & 1) && width <= MEDIA_MAX_SIDE &&
               height <= MEDIA_MAX_SIDE;
}

int y4m_stream_header(uint32_t fourcc, unsigned width, unsigned height, unsigned fps_num,
                      unsigned fps_den, char *buf, size_t size) {
        int n;

        if (!geometry_ok(fourcc, width, height) || fps_num == 0 || fps_den == 0)
                return -EINVAL;
        n = snprintf(buf, size, "YUV4MPEG2 W%u H%u F%u:%u Ip A1:1 %s\n", width, height, fps_num,
                     fps_den, is_420(fourcc) ? "C420jpeg" : "C422");
        if (n < 0)
                return -EINVAL;
        if ((size_t) n >= size)
                return -ENOBUFS;
        return n;
}

size_t y4m_frame_size(uint32_t fourcc, unsigned width, unsigned height) {
        size_t luma;

        if (!geometry_ok(fourcc, width, height))
                return 0;
        luma = (size_t) width * height;
        /* 4:2:0 adds two quarter planes, 4:2:2 two half planes. */
        return FRAME_MARKER_LEN + luma + (is_420(fourcc) ? luma / 2 : luma);
}

int y4m_serialize_frame(uint32_t fourcc, const uint8_t *data, size_t data_size, unsigned width,
                        unsigned height, unsigned stride, uint8_t *out, size_t out_size) {
        size_t need = y4m_frame_size(fourcc, width, height), in_need;
        unsigned cw = width / 2;
        uint8_t *y, *u, *v;

        if (need == 0 || !data || !out)
                return -EINVAL;
        if (need > INT32_MAX)
                return -EINVAL;
        if (out_size < need)
                return -ENOBUFS;

        memcpy(out, frame_marker, FRAME_MARKER_LEN);
        y = out + FRAME_MARKER_LEN;

        if (fourcc == V4L2_PIX_FMT_NV12) {
                unsigned ch = height / 2;

                if (stride < width)
                        return -EINVAL;
                /* Last CbCr row need only be width bytes long, not a whole stride. */
                in_need = (size_t) stride * (height + ch - 1) + width;
                if (data_size < in_need)
                        return -EINVAL;
                u = y + (size_t) width * height;
                v = u + (size_t) cw * ch;
                for (unsigned r = 0; r < height; r++)
                        memcpy(y + (size_t) r * width, data + (size_t) r * stride, width);
                const uint8_t *cbcr = data + (size_t) stride * height;
                for (unsigned r = 0; r < ch; r++)
                        yuv_split_cbcr_row(cbcr + (size_t) r * stride, u + (size_t) r * cw,
                                           v + (size_t) r * cw, cw);
        } else if (fourcc == V4L2_PIX_FMT_YUV420 || fourcc == V4L2_PIX_FMT_YUV422P) {
                /* Already planar: rows of stride (luma) and stride / 2 (chroma). */
                unsigned ch = fourcc == V4L2_PIX_FMT_YUV420 ? height / 2 : height;
                size_t cstride = stride / 2;

                if (stride < width || stride % 2)
                        return -EINVAL;
                in_need = (size_t) stride * height + 2 * cstride * ch;
                if (data_size < in_need)
                        return -EINVAL;
                u = y + (size_t) width * height;
                v = u + (size_t) cw * ch;
                const uint8_t *su = data + (size_t) stride * height, *sv = su + cstride * ch;
                for (unsigned r = 0; r < height; r++)
                        memcpy(y + (size_t) r * width, data + (size_t) r * stride, width);
                for (unsigned r = 0; r < ch; r++) {
                        memcpy(u + (size_t) r * cw, su + r * cstride, cw);
                        memcpy(v + (size_t) r * cw, sv + r * cstride, cw);
                }
        } else {
                if (stride < width * 2)
                        return -EINVAL;
                in_need = (size_t) stride * (height - 1) + (size_t) width * 2;
                if (data_size < in_need)
                        return -EINVAL;
                u = y + (size_t) width * height;
                v = u + (size_t) cw * height;
                for (unsigned r = 0; r < height; r++)
                        (fourcc == V4L2_PIX_FMT_UYVY ? yuv_split_uyvy_row : yuv_split_yuyv_row)(
                                data + (size_t) r * stride, y + (size_t) r * width,
                                u + (size_t) r * cw, v + (size_t) r * cw, cw);
        }
        return (int) need;
}
