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
