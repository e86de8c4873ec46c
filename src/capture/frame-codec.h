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

/* The one conversion of a captured (or decoded) raw frame into tightly packed Y, Cb, Cr
 * planes (stride = plane width) as the image processor takes them: chroma width/2 x
 * height/2 for 4:2:0 layouts, width/2 x height for 4:2:2 ones. frame_planes_size() is the
 * bytes frame_to_planes() writes at buf and sets the subsampling; 0 for MJPEG or an unknown
 * layout. frame_to_planes() returns 0, or -EINVAL for such a frame or one whose data is
 * too short for its geometry. */
size_t frame_planes_size(const struct frame *f, enum yuv_subsamp *ret_subsamp);
int frame_to_planes(const struct frame *f, uint8_t *buf, struct yuv_planes *ret);
