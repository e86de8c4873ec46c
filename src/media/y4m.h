/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* YUV4MPEG2 streams from capture frames. fourcc is a V4L2 pixel format: V4L2_PIX_FMT_NV12
 * (Y plane, then interleaved CbCr at data + stride * height) and V4L2_PIX_FMT_YUV420 (Y, Cb,
 * Cr planes; chroma rows of stride / 2) become planar 4:2:0 "C420jpeg"; V4L2_PIX_FMT_YUYV
 * and V4L2_PIX_FMT_UYVY (packed 4:2:2) and V4L2_PIX_FMT_YUV422P (planar) become planar
 * 4:2:2 "C422". Width and height must be even and stride at least the packed row size. */

#define Y4M_HEADER_MAX 128

/* Writes the stream header ("YUV4MPEG2 W640 H480 F30000:1001 Ip A1:1 C420jpeg\n") into buf.
 * Returns its length, -EINVAL for an unsupported fourcc/geometry, -ENOBUFS if buf is short. */
int y4m_stream_header(uint32_t fourcc, unsigned width, unsigned height, unsigned fps_num,
                      unsigned fps_den, char *buf, size_t size);

/* Bytes of one serialized frame, "FRAME\n" included; 0 for unsupported fourcc/geometry. */
size_t y4m_frame_size(uint32_t fourcc, unsigned width, unsigned height);

/* Writes "FRAME\n" and the planes into out, which must hold y4m_frame_size() bytes.
 * data_size guards against frames shorter than their stride says. Returns the number of
 * bytes written, -EINVAL for bad arguments, -ENOBUFS if out is short. */
int y4m_serialize_frame(uint32_t fourcc, const uint8_t *data, size_t data_size, unsigned width,
                        unsigned height, unsigned stride, uint8_t *out, size_t out_size);
