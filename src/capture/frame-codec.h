/* SPDX-License-Identifier: MIT */
#pragma once

#include "capture/frame.h"
#include "media/jpeg.h"

/* JPEG from any raw capture layout (capture/frame.h), always from Y'CbCr planes: planar
 * frames are read in place, packed ones split on the way. -EINVAL for MJPEG frames (their
 * bytes are the JPEG already) and bad geometry; other errors as jpeg_encode_planes(). */
int frame_encode_jpeg(struct jpeg_encoder *e, const struct frame *f, int quality, struct jpeg_buffer *out);

/* A borrowed planar view of a YUV420 or YUV422P frame; -EINVAL for other layouts. */
int frame_planar_view(const struct frame *f, struct yuv_planes *ret);

/* Whether a raw frame's chroma is 4:2:0 (NV12, YU12) rather than 4:2:2. */
bool frame_is_420(const struct frame *f);

/* Copies a raw frame into tightly packed Y, Cb, Cr planes (chroma width/2 x height/2 for
 * 4:2:0 layouts, width/2 x height for 4:2:2 ones). -EINVAL for MJPEG or an unknown layout. */
int frame_split_planes(const struct frame *f, uint8_t *y, uint8_t *cb, uint8_t *cr);
