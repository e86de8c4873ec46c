/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "process/merge.h"
#include "process/store.h"
#include "shared/macro.h"

#define TILE 16
#define STEP 8
#define MAX_FRAMES 16

struct plane {
        uint8_t *data;
        unsigned w, h;
};

struct vec {
        int x, y;
};

static bool cancelled(const struct merge_request *req) {
        return req->check_cancel && req->check_cancel(req->cancel_data) != POOL_CANCEL_NONE;
}

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

struct pyramid {
        struct plane level[3];
};

static void pyramid_done(struct pyramid *p) {
        /* level[0] borrows the frame's luma. */
        free(p->level[1].data);
        free(p->level[2].data);
}

static int pyramid_build(struct pyramid *p, const uint8_t *y, unsigned w, unsigned h) {
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

static void window_init(float window_1d[static TILE]) {
        /* Raised cosine; at half overlap neighbouring windows sum to exactly one. */
        for (unsigned i = 0; i < TILE; i++)
                window_1d[i] = (float) (0.5 - 0.5 * cos(2.0 * M_PI * (i + 0.5) / TILE));
}

/* Tile origins along a side: every STEP, plus one flush with the far edge. */
static unsigned tile_origins(unsigned side, int *out) {
        unsigned n = 0;
        int last = (int) side - TILE;

        for (int p = 0; p <= last; p += STEP)
                out[n++] = p;
        if (n == 0 || out[n - 1] != last)
                out[n++] = last;
        return n;
}

struct accum {
        float *value, *weight;
};

/* Blends one tile of one plane (tile w x h at (x0, y0) of a plane of pw x ph): the weighted
 * mean of the displaced frames, windowed into the accumulators. Samples of a displaced tile
 * that leaves the plane are clamped to its edge. */
static void blend_tile(const struct merge_request *req, unsigned plane, unsigned pw, unsigned ph,
                       int x0, int y0, unsigned tw, unsigned th, const struct vec *disp,
                       const float *weights, const float *window_1d, struct accum *acc) {
        const unsigned ref = req->n_frames - 1;
        float tile[TILE * TILE], wx[TILE], wsum = 0;

        memset(tile, 0, sizeof(float) * tw * th);
        for (unsigned f = 0; f < req->n_frames; f++) {
                const uint8_t *base;
                int dx, dy;
                bool inside;
                float w = weights[f];

                if (w <= 0)
                        continue;
                wsum += w;
                base = plane == 0 ? req->frames[f].y : plane == 1 ? req->frames[f].cb : req->frames[f].cr;
                dx = f == ref ? 0 : disp[f].x;
                dy = f == ref ? 0 : disp[f].y;
                inside = x0 + dx >= 0 && y0 + dy >= 0 && x0 + dx + (int) tw <= (int) pw &&
                         y0 + dy + (int) th <= (int) ph;
                for (unsigned r = 0; r < th; r++) {
                        int sy = CLAMP(y0 + dy + (int) r, 0, (int) ph - 1);
                        const uint8_t *row = base + (size_t) sy * pw;
                        float *t = tile + r * tw;

                        if (inside) {
                                const uint8_t *src = row + x0 + dx;
                                for (unsigned c = 0; c < tw; c++)
                                        t[c] += w * src[c];
                        } else
                                for (unsigned c = 0; c < tw; c++)
                                        t[c] += w * row[CLAMP(x0 + dx + (int) c, 0, (int) pw - 1)];
                }
        }
        for (unsigned c = 0; c < tw; c++)
                wx[c] = window_1d[c * TILE / tw];
        for (unsigned r = 0; r < th; r++) {
                float wy = window_1d[r * TILE / th], scale = wy / wsum;
                size_t i = (size_t) (y0 + (int) r) * pw + (size_t) x0;
                float *value = acc->value + i, *weight = acc->weight + i;
                const float *t = tile + r * tw;

                for (unsigned c = 0; c < tw; c++) {
                        value[c] += scale * wx[c] * t[c];
                        weight[c] += wy * wx[c];
                }
        }
}

/* Mean squared difference of the reference tile and the displaced alternate tile. */
static float tile_msd(const uint8_t *ref, const uint8_t *alt, unsigned w, unsigned h, int tx, int ty,
                      struct vec d) {
        uint64_t sum = 0;

        if (tx + d.x >= 0 && ty + d.y >= 0 && tx + d.x + TILE <= (int) w && ty + d.y + TILE <= (int) h) {
                for (int r = 0; r < TILE; r++) {
                        const uint8_t *p = ref + (size_t) (ty + r) * w + (size_t) tx;
                        const uint8_t *q = alt + (size_t) (ty + r + d.y) * w + (size_t) (tx + d.x);
                        uint32_t row = 0;
                        for (int c = 0; c < TILE; c++) {
                                int diff = p[c] - q[c];
                                row += (uint32_t) (diff * diff);
                        }
                        sum += row;
                }
                return (float) sum / (TILE * TILE);
        }
        for (int r = 0; r < TILE; r++) {
                int ay = CLAMP(ty + r + d.y, 0, (int) h - 1);
                for (int c = 0; c < TILE; c++) {
                        int ax = CLAMP(tx + c + d.x, 0, (int) w - 1);
                        int diff = ref[(size_t) (ty + r) * w + (size_t) (tx + c)] - alt[(size_t) ay * w + (size_t) ax];
                        sum += (uint64_t) (diff * diff);
                }
        }
        return (float) sum / (TILE * TILE);
}

static int resolve(const struct merge_request *req, const struct accum *acc, size_t n, uint8_t *out) {
        for (size_t i = 0; i < n; i++) {
                float v;

                if (i % (64 * 1024) == 0 && cancelled(req))
                        return -ECANCELED;
                v = acc->weight[i] > 0 ? acc->value[i] / acc->weight[i] : 0;
                out[i] = (uint8_t) CLAMP(lrintf(v), 0, 255);
        }
        return 0;
}

int merge_burst(const struct merge_request *req, uint8_t *out_y, uint8_t *out_cb, uint8_t *out_cr) {
        const unsigned w = req->width, h = req->height, n = req->n_frames, ref = n - 1;
        const unsigned cw = w / 2, ch = req->chroma == IMAGE_CHROMA_420 ? h / 2 : h;
        const unsigned cshift_y = req->chroma == IMAGE_CHROMA_420 ? 1 : 0;
        struct pyramid pyr[MAX_FRAMES] = {};
        float window_1d[TILE];
        struct accum acc[3] = {};
        _cleanup_free_ int *xs = NULL, *ys = NULL;
        _cleanup_free_ struct vec *field = NULL;
        unsigned nx, ny;
        float noise_var;
        int r = 0;

        if (image_burst_check(w, h, req->chroma, n) < 0)
                return -EINVAL;
        window_init(window_1d);

        xs = malloc(sizeof(int) * (w / STEP + 2));
        ys = malloc(sizeof(int) * (h / STEP + 2));
        if (!xs || !ys)
                return -ENOMEM;
        nx = tile_origins(w, xs);
        ny = tile_origins(h, ys);

        for (unsigned p = 0; p < 3; p++) {
                size_t size = p == 0 ? (size_t) w * h : (size_t) cw * ch;
                acc[p].value = calloc(size, sizeof(float));
                acc[p].weight = calloc(size, sizeof(float));
                if (!acc[p].value || !acc[p].weight) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        for (unsigned f = 0; f < n; f++) {
                if (cancelled(req)) {
                        r = -ECANCELED;
                        goto finish;
                }
                r = pyramid_build(&pyr[f], req->frames[f].y, w, h);
                if (r < 0)
                        goto finish;
        }

        /* Expected MSD of two aligned noisy tiles is 2σ²; a floor keeps clean scenes sane. */
        {
                double sigma = merge_estimate_noise(req->frames[ref].y, w, h);
                noise_var = (float) MAX(sigma * sigma, 1.0);
        }

        field = malloc(sizeof(struct vec) * nx * ny * n);
        if (!field) {
                r = -ENOMEM;
                goto finish;
        }
#define FIELD(f, j, i) field[((size_t) (f) * ny + (j)) * nx + (i)]

        /* Pass 1: full coarse-to-fine search on every other tile in both directions (the
         * non-overlapping 16 px grid). */
        for (unsigned j = 0; j < ny; j += 2)
                for (unsigned i = 0; i < nx; i += 2) {
                        /* A check every 8 tiles (well under a millisecond at 1080p). */
                        if (i % 16 == 0 && cancelled(req)) {
                                r = -ECANCELED;
                                goto finish;
                        }
                        for (unsigned f = 0; f < n; f++)
                                FIELD(f, j, i) = f == ref ? (struct vec) { 0, 0 }
                                                          : align_tile(&pyr[ref], &pyr[f], xs[i], ys[j]);
                }

        /* Pass 2: the half-overlapping tiles in between pick the best of their searched
         * neighbours' displacements (or none): a quarter of the search cost. */
        for (unsigned j = 0; j < ny; j++) {
                unsigned j0 = j & ~1u, j1 = MIN(j0 + 2, (ny - 1) & ~1u);

                if (cancelled(req)) {
                        r = -ECANCELED;
                        goto finish;
                }
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

        /* Pass 3: per-tile weights and the windowed blend. */
        for (unsigned j = 0; j < ny; j++) {
                for (unsigned i = 0; i < nx; i++) {
                        struct vec disp[MAX_FRAMES], cdisp[MAX_FRAMES];
                        float weights[MAX_FRAMES];
                        int tx = xs[i], ty = ys[j];

                        if (i % 32 == 0 && cancelled(req)) {
                                r = -ECANCELED;
                                goto finish;
                        }
                        for (unsigned f = 0; f < n; f++) {
                                float excess;

                                disp[f] = FIELD(f, j, i);
                                /* Chroma planes are half size: floor-halve (arithmetic shift). */
                                cdisp[f] = (struct vec) { disp[f].x >> 1, disp[f].y >> cshift_y };
                                if (f == ref) {
                                        weights[f] = 1;
                                        continue;
                                }
                                excess = tile_msd(req->frames[ref].y, req->frames[f].y, w, h, tx, ty, disp[f]) -
                                         2 * noise_var;
                                /* Wiener-like: 1 when noise explains the difference, 1/2 at
                                 * an excess of 2σ², towards 0 beyond. */
                                weights[f] = excess <= 0 ? 1.0f : 1.0f / (1.0f + excess / (2 * noise_var));
                                if (weights[f] < 0.05f)
                                        weights[f] = 0;
                        }
                        blend_tile(req, 0, w, h, tx, ty, TILE, TILE, disp, weights, window_1d, &acc[0]);
                        for (unsigned p = 1; p < 3; p++)
                                blend_tile(req, p, cw, ch, tx / 2, ty >> cshift_y, TILE / 2, TILE >> cshift_y,
                                           cdisp, weights, window_1d, &acc[p]);
                }
        }
#undef FIELD
        r = resolve(req, &acc[0], (size_t) w * h, out_y);
        if (r >= 0)
                r = resolve(req, &acc[1], (size_t) cw * ch, out_cb);
        if (r >= 0)
                r = resolve(req, &acc[2], (size_t) cw * ch, out_cr);
finish:
        for (unsigned f = 0; f < n; f++)
                pyramid_done(&pyr[f]);
        for (unsigned p = 0; p < 3; p++) {
                free(acc[p].value);
                free(acc[p].weight);
        }
        return r;
}

int sharpen_plane(uint8_t *plane, unsigned width, unsigned height, unsigned amount_16ths,
                  enum pool_cancel (*check_cancel)(void *data), void *cancel_data) {
        _cleanup_free_ uint8_t *prev = NULL, *cur = NULL;

        if (width < 3 || height < 3)
                return 0;
        /* Two saved rows: the blur must read the unsharpened neighbours. */
        prev = malloc(width);
        cur = malloc(width);
        if (!prev || !cur)
                return -ENOMEM;
        memcpy(prev, plane, width);
        for (unsigned r = 1; r + 1 < height; r++) {
                uint8_t *row = plane + (size_t) r * width;
                const uint8_t *next = row + width;

                if (r % 64 == 0 && check_cancel && check_cancel(cancel_data) != POOL_CANCEL_NONE)
                        return -ECANCELED;
                memcpy(cur, row, width);
                for (unsigned x = 1; x + 1 < width; x++) {
                        int blur = (prev[x - 1] + 2 * prev[x] + prev[x + 1] + 2 * cur[x - 1] + 4 * cur[x] +
                                    2 * cur[x + 1] + next[x - 1] + 2 * next[x] + next[x + 1] + 8) / 16;
                        int v = cur[x] + ((cur[x] - blur) * (int) amount_16ths) / 16;
                        row[x] = (uint8_t) CLAMP(v, 0, 255);
                }
                memcpy(prev, cur, width);
        }
        return 0;
}
