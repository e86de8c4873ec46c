/* SPDX-License-Identifier: MIT */
/* The alignment half of the burst merge (merge.h, steps 1-2): noise estimate, luma pyramid
 * and the coarse-to-fine tile displacement field. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "process/merge-internal.h"
#include "shared/macro.h"

double merge_estimate_noise(const uint8_t *y, unsigned width, unsigned height) {
        /* Convolve with the Laplacian difference mask [1 -2 1; -2 4 -2; 1 -2 1]; the mean
         * absolute response times sqrt(pi/2)/6 estimates sigma. */
        uint64_t sum = 0;

        unsigned rows = 0;

        if (width < 3 || height < 3)
                return 0;
        /* Every 4th row is plenty for a global estimate and keeps this off the critical
         * path of a cancel. */
        for (unsigned r = 1; r + 1 < height; r += 4, rows++) {
                const uint8_t *a = y + (size_t) (r - 1) * width, *b = a + width, *c = b + width;
                for (unsigned x = 1; x + 1 < width; x++) {
                        int v = a[x - 1] - 2 * a[x] + a[x + 1] - 2 * b[x - 1] + 4 * b[x] - 2 * b[x + 1] +
                                c[x - 1] - 2 * c[x] + c[x + 1];
                        sum += (uint64_t) abs(v);
                }
        }
        return sqrt(M_PI / 2.0) / 6.0 * (double) sum / ((double) (width - 2) * rows);
}

/* 2x2 box downscale. */
static int downscale(const struct plane *in, struct plane *out) {
        out->w = in->w / 2;
        out->h = in->h / 2;
        out->data = malloc((size_t) out->w * out->h);
        if (!out->data)
                return -ENOMEM;
        for (unsigned r = 0; r < out->h; r++) {
                const uint8_t *a = in->data + (size_t) 2 * r * in->w, *b = a + in->w;
                uint8_t *o = out->data + (size_t) r * out->w;
                for (unsigned x = 0; x < out->w; x++)
                        o[x] = (uint8_t) ((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) / 4);
        }
        return 0;
}

/* L1 distance of the size x size blocks at (x, y) in ref and (x + d.x, y + d.y) in alt;
 * UINT32_MAX when the displaced block leaves the plane. */
static uint32_t block_sad(const struct plane *ref, const struct plane *alt, int x, int y, unsigned size,
                          struct vec d) {
        int ax = x + d.x, ay = y + d.y;
        uint32_t sad = 0;

        if (ax < 0 || ay < 0 || ax + (int) size > (int) alt->w || ay + (int) size > (int) alt->h)
                return UINT32_MAX;
#ifdef __SSE2__
        /* PSADBW: the whole row of a 16 or 8 px block in one instruction. */
        if (size == 16 || size == 8) {
                __m128i acc = _mm_setzero_si128();
                for (unsigned r = 0; r < size; r++) {
                        const uint8_t *p = ref->data + (size_t) (y + (int) r) * ref->w + x;
                        const uint8_t *q = alt->data + (size_t) (ay + (int) r) * alt->w + ax;
                        __m128i a = size == 16 ? _mm_loadu_si128((const __m128i *) p) : _mm_loadl_epi64((const __m128i *) p);
                        __m128i b = size == 16 ? _mm_loadu_si128((const __m128i *) q) : _mm_loadl_epi64((const __m128i *) q);
                        acc = _mm_add_epi64(acc, _mm_sad_epu8(a, b));
                }
                return (uint32_t) (_mm_cvtsi128_si32(acc) + _mm_cvtsi128_si32(_mm_srli_si128(acc, 8)));
        }
#endif
        for (unsigned r = 0; r < size; r++) {
                const uint8_t *p = ref->data + (size_t) (y + (int) r) * ref->w + x;
                const uint8_t *q = alt->data + (size_t) (ay + (int) r) * alt->w + ax;
                for (unsigned c = 0; c < size; c++)
                        sad += (uint32_t) abs(p[c] - q[c]);
        }
        return sad;
}

/* Best displacement within ±radius of around. */
static struct vec search(const struct plane *ref, const struct plane *alt, int x, int y, unsigned size,
                         struct vec around, int radius) {
        struct vec best = around;
        uint32_t best_cost = block_sad(ref, alt, x, y, size, around);

        for (int dy = -radius; dy <= radius; dy++)
                for (int dx = -radius; dx <= radius; dx++) {
                        struct vec d = { around.x + dx, around.y + dy };
                        uint32_t c = block_sad(ref, alt, x, y, size, d);
                        if (c < best_cost) {
                                best_cost = c;
                                best = d;
                        }
                }
        if (best_cost == UINT32_MAX)
                best = (struct vec) { 0, 0 };
        return best;
}

void merge_pyramid_done(struct pyramid *p) {
        /* level[0] borrows the frame's luma. */
        free(p->level[1].data);
        free(p->level[2].data);
}

int merge_pyramid_build(struct pyramid *p, const uint8_t *y, unsigned w, unsigned h) {
        int r;

        *p = (struct pyramid) { .level[0] = { (uint8_t *) y, w, h } };
        r = downscale(&p->level[0], &p->level[1]);
        if (r >= 0)
                r = downscale(&p->level[1], &p->level[2]);
        return r;
}

/* Coarse-to-fine alignment of the full-size tile at (tx, ty). */
static struct vec align_tile(const struct pyramid *ref, const struct pyramid *alt, int tx, int ty) {
        const struct plane *r2 = &ref->level[2];
        int bx = CLAMP(tx / 4 - 2, 0, (int) r2->w - 8), by = CLAMP(ty / 4 - 2, 0, (int) r2->h - 8);
        struct vec d, zero = { 0, 0 };
        uint32_t cost_d, cost_zero;

        d = search(r2, &alt->level[2], bx, by, 8, zero, 4);
        d = search(&ref->level[1], &alt->level[1], tx / 2, ty / 2, TILE / 2, (struct vec) { 2 * d.x, 2 * d.y }, 2);
        d = search(&ref->level[0], &alt->level[0], tx, ty, TILE, (struct vec) { 2 * d.x, 2 * d.y }, 1);
        /* The coarse levels can be fooled by fine detail; a static tile should stay put. */
        cost_d = block_sad(&ref->level[0], &alt->level[0], tx, ty, TILE, d);
        cost_zero = block_sad(&ref->level[0], &alt->level[0], tx, ty, TILE, zero);
        return cost_zero <= cost_d ? zero : d;
}

int merge_align_field(const struct merge_request *req, const struct pyramid *pyr, const int *xs, unsigned nx,
                      const int *ys, unsigned ny, struct vec *field) {
        const unsigned n = req->n_frames, ref = n - 1;

#define FIELD(f, j, i) field[((size_t) (f) * ny + (j)) * nx + (i)]

        /* Pass 1: full coarse-to-fine search on every other tile in both directions (the
         * non-overlapping 16 px grid). */
        for (unsigned j = 0; j < ny; j += 2)
                for (unsigned i = 0; i < nx; i += 2) {
                        /* A check every 8 tiles (well under a millisecond at 1080p). */
                        if (i % 16 == 0 && merge_cancelled(req))
                                return -ECANCELED;
                        for (unsigned f = 0; f < n; f++)
                                FIELD(f, j, i) = f == ref ? (struct vec) { 0, 0 }
                                                          : align_tile(&pyr[ref], &pyr[f], xs[i], ys[j]);
                }

        /* Pass 2: the half-overlapping tiles in between pick the best of their searched
         * neighbours' displacements (or none): a quarter of the search cost. */
        for (unsigned j = 0; j < ny; j++) {
                unsigned j0 = j & ~1u, j1 = MIN(j0 + 2, (ny - 1) & ~1u);

                if (merge_cancelled(req))
                        return -ECANCELED;
                for (unsigned i = 0; i < nx; i++) {
                        unsigned i0 = i & ~1u, i1 = MIN(i0 + 2, (nx - 1) & ~1u);

                        if (i % 2 == 0 && j % 2 == 0)
                                continue;
                        for (unsigned f = 0; f < n; f++) {
                                struct vec cand[5] = { { 0, 0 }, FIELD(f, j0, i0), FIELD(f, j0, i1),
                                                       FIELD(f, j1, i0), FIELD(f, j1, i1) };
                                uint32_t best = UINT32_MAX;

                                FIELD(f, j, i) = cand[0];
                                if (f == ref)
                                        continue;
                                for (unsigned c = 0; c < 5; c++) {
                                        uint32_t cost = block_sad(&pyr[ref].level[0], &pyr[f].level[0], xs[i],
                                                                  ys[j], TILE, cand[c]);
                                        if (cost < best) {
                                                best = cost;
                                                FIELD(f, j, i) = cand[c];
                                        }
                                }
                        }
                }
        }
#undef FIELD
        return 0;
}
