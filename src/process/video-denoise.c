/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <string.h>

#include "process/video-denoise.h"
#include "shared/macro.h"

void video_denoise_init(struct video_denoise *d, double strength) {
        double s = CLAMP(strength, 0.0, 1.0);
        /* floor_weight: the weight of a new sample that differs from the reference by noise
         * only (at s = 1 a static pixel keeps 85% of its history). Differences below `knee`
         * count as noise; above `motion` as motion, taken as they are; smooth in between.
         * The knee at s = 0.5 (17 levels) covers the temporal noise of a small sensor in dim
         * light, or ffmpeg's noise=alls=20. */
        double floor_weight = 1.0 - 0.85 * s;
        double knee = 4.0 + 26.0 * s;
        double motion = 2.0 * knee + 10.0;

        d->enabled = s > 0.0;
        for (int diff = -255; diff <= 255; diff++) {
                double t = CLAMP((fabs((double) diff) - knee) / (motion - knee), 0.0, 1.0);
                double w = floor_weight + (1.0 - floor_weight) * t * t * (3.0 - 2.0 * t);
                d->delta[diff + 255] = (int16_t) lround(w * diff);
        }
}

void video_denoise_plane(const struct video_denoise *d, uint8_t *in, unsigned in_stride,
                         uint8_t *ref, unsigned ref_stride, unsigned width, unsigned height) {
        const int16_t *delta = d->delta + 255;

        for (unsigned y = 0; y < height; y++) {
                uint8_t *a = in + (size_t) y * in_stride;
                uint8_t *r = ref + (size_t) y * ref_stride;

                if (!d->enabled) {
                        memcpy(r, a, width);
                        continue;
                }
                for (unsigned x = 0; x < width; x++) {
                        /* |delta| <= |diff|, so the result lies between ref and in: no clamp. */
                        uint8_t v = (uint8_t) (r[x] + delta[(int) a[x] - (int) r[x]]);
                        a[x] = v;
                        r[x] = v;
                }
        }
}

static inline uint8_t sharpen_sample(int centre, int sum, int k) {
        /* detail * 9 = 9 * centre - box sum; the /9 is folded into the divisor. */
        int detail9 = 9 * centre - sum;
        int v = centre + (detail9 * k + (detail9 >= 0 ? 1152 : -1152)) / 2304;
        return (uint8_t) CLAMP(v, 0, 255);
}

void video_sharpen_plane(const uint8_t *src, unsigned src_stride, uint8_t *dst, unsigned dst_stride,
                         unsigned width, unsigned height, double amount) {
        /* Fixed point: k / 256 per unit of detail. */
        int k = (int) lround(CLAMP(amount, 0.0, 1.0) * 256.0);

        for (unsigned y = 0; y < height; y++) {
                const uint8_t *up = src + (size_t) (y > 0 ? y - 1 : y) * src_stride;
                const uint8_t *mid = src + (size_t) y * src_stride;
                const uint8_t *down = src + (size_t) (y + 1 < height ? y + 1 : y) * src_stride;
                uint8_t *out = dst + (size_t) y * dst_stride;
                unsigned last = width - 1;

                if (k == 0 || width < 3) {
                        memcpy(out, mid, width);
                        continue;
                }
                /* Edges replicate their outer column; the interior loop has no branches on x,
                 * so the compiler can vectorise it. */
                out[0] = sharpen_sample(mid[0], 2 * (up[0] + mid[0] + down[0]) + up[1] + mid[1] + down[1], k);
                for (unsigned x = 1; x < last; x++) {
                        int sum = up[x - 1] + up[x] + up[x + 1] + mid[x - 1] + mid[x] + mid[x + 1] +
                                  down[x - 1] + down[x] + down[x + 1];
                        out[x] = sharpen_sample(mid[x], sum, k);
                }
                out[last] = sharpen_sample(mid[last],
                                           2 * (up[last] + mid[last] + down[last]) + up[last - 1] +
                                           mid[last - 1] + down[last - 1], k);
        }
}
