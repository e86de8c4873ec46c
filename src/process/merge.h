/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "process/image-processor.h"
#include "process/pool.h"

/* Multi-frame noise reduction after HDR+ (Hasinoff et al. 2016; Monod, Delon, Veit, IPOL
 * 2021), as a plain spatial-domain C version:
 *
 *  1. The newest frame is the reference. Every frame gets a luma pyramid (x1, x1/2, x1/4).
 *  2. Tiles of 16x16 at a step of 8 (half overlap) are aligned coarse to fine: ±4 px at
 *     x1/4 (±16 px at full size), ±2 at x1/2, ±1 at x1, minimising the L1 distance.
 *  3. Each aligned tile gets a Wiener-like weight: full when its mean squared difference to
 *     the reference is what noise alone explains (2σ², σ estimated from the reference),
 *     falling as the excess grows. On top of it every sample gets a robustness weight
 *     (Wronski et al. 2019): where the local luma and chroma differences to the reference,
 *     summed over the 3x3 chroma samples around it (6x6 luma at 4:2:0) and measured in
 *     noise standard deviations, are well beyond noise (something moved or was uncovered),
 *     the alternate frame is left out there, so a moving object leaves no trail even when
 *     it fills only part of a tile.
 *  4. Tiles are blended with a raised-cosine window (the half-overlapped windows sum to
 *     one), luma and chroma with the same displacements and weights. */

struct merge_request {
        unsigned width, height;
        enum image_chroma chroma;
        unsigned n_frames;
        const struct image_burst_frame *frames; /* the last is the reference */
        enum pool_cancel (*check_cancel)(void *data);
        void *cancel_data;
};

/* Noise standard deviation of a luma plane (Immerkær 1996, fast estimation). */
double merge_estimate_noise(const uint8_t *y, unsigned width, unsigned height);

/* Writes the merged planes (same geometry as the input, tightly packed). 0, -ECANCELED,
 * -ENOMEM, -EINVAL for bad geometry. */
int merge_burst(const struct merge_request *req, uint8_t *out_y, uint8_t *out_cb, uint8_t *out_cr);
