/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Pixel kernels of the video pipeline.
 *
 * Motion-adaptive temporal denoise: a recursive filter. Each sample of the new frame is
 * blended with the same sample of the previous *output* frame (the reference):
 *
 *     out = ref + w(|in - ref|) * (in - ref)
 *
 * w is small (strong averaging) where the difference looks like noise and rises smoothly to
 * 1 (take the new sample as is) where it looks like motion, so moving edges do not smear.
 * The whole curve, rounded, is a 511-entry table of deltas, so the kernel is one lookup and
 * one add per sample. Each sample depends only on the same sample one frame earlier. */

struct video_denoise {
        int16_t delta[511]; /* index (in - ref) + 255 → rounded w * (in - ref) */
        int enabled;        /* 0 when strength is 0: the filter is the identity */
};

/* strength 0–1 (modeSetting "denoise"). */
void video_denoise_init(struct video_denoise *d, double strength);

/* For width x height samples: in[p] and ref[p] both become the blended value (rows of
 * `in_stride` and `ref_stride` bytes). */
void video_denoise_plane(const struct video_denoise *d, uint8_t *in, unsigned in_stride,
                         uint8_t *ref, unsigned ref_stride, unsigned width, unsigned height);

/* Light unsharp mask: dst = src + amount * (src - box3x3(src)), clamped, edges replicated.
 * amount 0–1 (modeSetting "sharpen"). src and dst must not overlap. */
void video_sharpen_plane(const uint8_t *src, unsigned src_stride, uint8_t *dst, unsigned dst_stride,
                         unsigned width, unsigned height, double amount);
