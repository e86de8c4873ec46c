/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "media/yuv.h"
#include "shared/macro.h"

/* TurboJPEG wrappers. An encoder or decoder owns its TurboJPEG handle and scratch planes
 * and must only be used by one thread at a time: give each thread its own. Pixels always
 * travel as Y'CbCr planes, never through RGB.
 *
 * Output goes into a struct jpeg_buffer that the caller owns: data is malloc()ed and grown by
 * the encoder as needed (so reusing one buffer across frames allocates only once); the
 * caller releases it with jpeg_buffer_done() or takes data over and free()s it. */

struct jpeg_buffer {
        uint8_t *data;
        size_t size;      /* bytes of JPEG in data after a successful encode */
        size_t allocated; /* capacity of data */
};

void jpeg_buffer_done(struct jpeg_buffer *b);

struct jpeg_encoder;

int jpeg_encoder_new(struct jpeg_encoder **ret);
struct jpeg_encoder *jpeg_encoder_free(struct jpeg_encoder *e); /* returns NULL */
DEFINE_TRIVIAL_CLEANUP_FUNC(struct jpeg_encoder *, jpeg_encoder_free);

/* Encodes planes at quality 1–100 (clamped) with the planes' own subsampling.
 * 0 on success with out->size set; -EINVAL for bad geometry, -ENOMEM, -EIO on a
 * TurboJPEG failure (message logged at debug level). */
int jpeg_encode_planes(struct jpeg_encoder *e, const struct yuv_planes *planes, int quality,
                       struct jpeg_buffer *out);

/* Capture layouts. stride is the bytes per row of the first plane; NV12's CbCr plane
 * follows the Y plane at data + stride * height with the same stride. Width and height must
 * be even. NV12 is encoded 4:2:0, YUYV 4:2:2. */
int jpeg_encode_nv12(struct jpeg_encoder *e, const uint8_t *data, unsigned width, unsigned height,
                     unsigned stride, int quality, struct jpeg_buffer *out);
int jpeg_encode_yuyv(struct jpeg_encoder *e, const uint8_t *data, unsigned width, unsigned height,
                     unsigned stride, int quality, struct jpeg_buffer *out);
/* UYVY (Cb Y0 Cr Y1), encoded 4:2:2. */
int jpeg_encode_uyvy(struct jpeg_encoder *e, const uint8_t *data, unsigned width, unsigned height,
                     unsigned stride, int quality, struct jpeg_buffer *out);

struct jpeg_decoder;

int jpeg_decoder_new(struct jpeg_decoder **ret);
struct jpeg_decoder *jpeg_decoder_free(struct jpeg_decoder *d); /* returns NULL */
DEFINE_TRIVIAL_CLEANUP_FUNC(struct jpeg_decoder *, jpeg_decoder_free);

struct jpeg_info {
        unsigned width, height;
        enum yuv_subsamp subsamp;
};

/* Reads the header only. -EBADMSG for data that is not a JPEG TurboJPEG can read or sides
 * beyond MEDIA_MAX_SIDE, -EOPNOTSUPP for subsamplings other than 4:2:0/4:2:2/4:4:4/grey. */
int jpeg_read_info(struct jpeg_decoder *d, const void *jpeg, size_t size, struct jpeg_info *ret);

/* Decodes into out (re)sized to the JPEG's geometry and subsampling; errors as above, and
 * -EBADMSG for corrupt entropy data. */
int jpeg_decode(struct jpeg_decoder *d, const void *jpeg, size_t size, struct yuv_image *out);

/* Decodes once into the caller's planes (a camera frame), which must match info (from
 * jpeg_read_info() on the same data). Strict, unlike jpeg_decode(): a TurboJPEG warning
 * (truncated or corrupt entropy data, a picture only partly there) is -EBADMSG, so a damaged
 * camera frame is never passed on. */
int jpeg_decode_to_planes(struct jpeg_decoder *d, const void *jpeg, size_t size,
                          const struct jpeg_info *info, uint8_t *const plane[3],
                          const unsigned stride[3]);

/* The last TurboJPEG error text of this encoder/decoder, for messages ("" if none). */
const char *jpeg_encoder_error(const struct jpeg_encoder *e);
const char *jpeg_decoder_error(const struct jpeg_decoder *d);
