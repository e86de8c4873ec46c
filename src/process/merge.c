/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "process/merge-internal.h"
#include "process/store.h"
#include "shared/macro.h"

bool merge_cancelled(const struct merge_request *req) {
        return req->check_cancel && req->check_cancel(req->cancel_data) != POOL_CANCEL_NONE;
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

/* The weighted sums of one plane, for the rows that tiles still add to: a ring of `rows`
 * rows (one tile's height), row y at y % rows. Tile rows go top to bottom, so once a tile
 * row is blended every sample above the next one's top is final and is resolved at once.
 * Full-plane float sums (8 bytes a sample, each written by four tiles) were most of the
 * merge's memory traffic, and fresh pages for them on every image were the page faults
 * two workers fought over; the ring stays in cache. */
struct accum {
        float *value, *weight;
        unsigned width, height, rows;
        unsigned resolved; /* rows [0, resolved) are in the output */
};

/* Per-sample robustness on top of the tile weights (after Wronski et al. 2019 and Monod,
 * Delon, Veit 2021): a tile weight alone lets the part of a tile in which something moved
 * relative to the rest be averaged in, and a moving object leaves a trail. So every sample
 * of a displaced alternate tile also gets the weight of its cell (2 luma columns by one
 * chroma row: the footprint of one chroma sample). The luma, Cb and Cr differences to the
 * reference are summed over the 3x3 cells around it and scaled by their noise standard
 * deviations; the squared distance is then about chi-squared with three degrees of freedom
 * where only noise differs. Full weight up to ROBUST_FULL (97th percentile), none from
 * ROBUST_NONE. Colour counts because a moving object may have the luma of what it covers. */
#define ROBUST_FULL 9.0f
#define ROBUST_NONE 25.0f
#define CELLS_X (TILE / 2)
#define MAX_CELLS_Y TILE
#define MAX_CELLS (CELLS_X * MAX_CELLS_Y)

struct robustness {
        unsigned cshift_y;          /* log2 of luma rows per cell: 1 for 4:2:0, 0 for 4:2:2 */
        float luma_scale, chroma_scale; /* 1 / variance of a 3x3-cell sum of differences */
};

/* ref[x0 + i] - alt[x0 + dx + i] for i < n, the alternate clamped to the row. */
static void diff_row(const uint8_t *ref, const uint8_t *alt, int x0, int dx, unsigned n, unsigned width,
                     int *out) {
        if (x0 >= 0 && x0 + dx >= 0 && x0 + (int) n <= (int) width && x0 + dx + (int) n <= (int) width) {
                ref += x0;
                alt += x0 + dx;
                for (unsigned i = 0; i < n; i++)
                        out[i] = ref[i] - alt[i];
                return;
        }
        for (unsigned i = 0; i < n; i++) {
                int x = x0 + (int) i;
                out[i] = ref[CLAMP(x, 0, (int) width - 1)] - alt[CLAMP(x + dx, 0, (int) width - 1)];
        }
}

/* Cell sums of differences with a one-cell border all round (for the 3x3 sums). */
typedef int cell_grid[MAX_CELLS_Y + 2][CELLS_X + 2];

/* Repeats the edge cells of the rows x CELLS_X interior into the border, then writes the 3x3
 * box sums of the interior (constant trip counts: the compiler vectorises them). */
static void box3(cell_grid in, unsigned rows, int (*out)[CELLS_X]) {
        int horizontal[MAX_CELLS_Y + 2][CELLS_X];

        for (unsigned j = 1; j <= rows; j++) {
                in[j][0] = in[j][1];
                in[j][CELLS_X + 1] = in[j][CELLS_X];
        }
        memcpy(in[0], in[1], sizeof in[0]);
        memcpy(in[rows + 1], in[rows], sizeof in[0]);
        for (unsigned j = 0; j < rows + 2; j++)
                for (unsigned i = 0; i < CELLS_X; i++)
                        horizontal[j][i] = in[j][i] + in[j][i + 1] + in[j][i + 2];
        for (unsigned j = 0; j < rows; j++)
                for (unsigned i = 0; i < CELLS_X; i++)
                        out[j][i] = horizontal[j][i] + horizontal[j + 1][i] + horizontal[j + 2][i];
}

/* Compares the alternate frame f, displaced by d (luma) and cd (chroma), with the reference
 * on the tile at (tx, ty): writes the cell weights and returns the luma mean squared
 * difference of the tile (for the tile weight). The 3x3 sums repeat the tile's edge cells
 * rather than read beyond it: the blend window makes the tile's edges count little, and the
 * overlapping neighbour tiles cover them. */
static float tile_compare(const struct merge_request *req, const struct robustness *rb, unsigned f, int tx,
                          int ty, struct vec d, struct vec cd, float *cell_weight) {
        const struct image_burst_frame *ref = &req->frames[req->n_frames - 1], *alt = &req->frames[f];
        const unsigned w = req->width, h = req->height, cw = w / 2, ch = h >> rb->cshift_y;
        const unsigned cells_y = TILE >> rb->cshift_y;
        cell_grid sum_y = {}, sum_cb, sum_cr;
        int box_y[MAX_CELLS_Y][CELLS_X], box_cb[MAX_CELLS_Y][CELLS_X], box_cr[MAX_CELLS_Y][CELLS_X];
        const int cx0 = tx / 2, cy0 = ty >> rb->cshift_y;
        uint32_t squares = 0;

#ifdef __SSE2__
        /* The common case, the displaced tile inside the frame: PMADDWD sums the squares and
         * the column pairs (the cells) of a row of differences at once. */
        if (tx + d.x >= 0 && ty + d.y >= 0 && tx + d.x + TILE <= (int) w && ty + d.y + TILE <= (int) h) {
                const __m128i zero = _mm_setzero_si128(), ones = _mm_set1_epi16(1);
                __m128i sq = zero;

                for (unsigned r = 0; r < TILE; r++) {
                        const uint8_t *p = ref->y + (size_t) (ty + (int) r) * w + tx;
                        const uint8_t *q = alt->y + (size_t) (ty + (int) r + d.y) * w + tx + d.x;
                        __m128i a = _mm_loadu_si128((const __m128i *) p), b = _mm_loadu_si128((const __m128i *) q);
                        __m128i lo = _mm_sub_epi16(_mm_unpacklo_epi8(a, zero), _mm_unpacklo_epi8(b, zero));
                        __m128i hi = _mm_sub_epi16(_mm_unpackhi_epi8(a, zero), _mm_unpackhi_epi8(b, zero));
                        int *cells = sum_y[(r >> rb->cshift_y) + 1] + 1;

                        sq = _mm_add_epi32(sq, _mm_add_epi32(_mm_madd_epi16(lo, lo), _mm_madd_epi16(hi, hi)));
                        _mm_storeu_si128((__m128i *) cells, _mm_add_epi32(_mm_loadu_si128((const __m128i *) cells),
                                                                          _mm_madd_epi16(lo, ones)));
                        _mm_storeu_si128((__m128i *) (cells + 4),
                                         _mm_add_epi32(_mm_loadu_si128((const __m128i *) (cells + 4)),
                                                       _mm_madd_epi16(hi, ones)));
                }
                sq = _mm_add_epi32(sq, _mm_srli_si128(sq, 8));
                sq = _mm_add_epi32(sq, _mm_srli_si128(sq, 4));
                squares = (uint32_t) _mm_cvtsi128_si32(sq);
        } else
#endif
        for (unsigned r = 0; r < TILE; r++) {
                int ay = CLAMP(ty + (int) r + d.y, 0, (int) h - 1), diff[TILE];
                int *cells = sum_y[(r >> rb->cshift_y) + 1] + 1;

                diff_row(ref->y + (size_t) (ty + (int) r) * w, alt->y + (size_t) ay * w, tx, d.x, TILE, w, diff);
                for (unsigned i = 0; i < CELLS_X; i++)
                        cells[i] += diff[2 * i] + diff[2 * i + 1];
                for (unsigned i = 0; i < TILE; i++)
                        squares += (uint32_t) (diff[i] * diff[i]);
        }
        for (unsigned r = 0; r < cells_y; r++) {
                int ay = CLAMP(cy0 + (int) r + cd.y, 0, (int) ch - 1);
                size_t row = (size_t) (cy0 + (int) r) * cw, arow = (size_t) ay * cw;

                if (cx0 + cd.x >= 0 && cx0 + cd.x + CELLS_X <= (int) cw) {
                        const uint8_t *pb = ref->cb + row + cx0, *qb = alt->cb + arow + cx0 + cd.x;
                        const uint8_t *pr = ref->cr + row + cx0, *qr = alt->cr + arow + cx0 + cd.x;
                        for (unsigned i = 0; i < CELLS_X; i++) {
                                sum_cb[r + 1][i + 1] = pb[i] - qb[i];
                                sum_cr[r + 1][i + 1] = pr[i] - qr[i];
                        }
                } else {
                        diff_row(ref->cb + row, alt->cb + arow, cx0, cd.x, CELLS_X, cw, sum_cb[r + 1] + 1);
                        diff_row(ref->cr + row, alt->cr + arow, cx0, cd.x, CELLS_X, cw, sum_cr[r + 1] + 1);
                }
        }
        box3(sum_y, cells_y, box_y);
        box3(sum_cb, cells_y, box_cb);
        box3(sum_cr, cells_y, box_cr);
        for (unsigned j = 0; j < cells_y; j++)
                for (unsigned i = 0; i < CELLS_X; i++) {
                        float y = (float) box_y[j][i], cb = (float) box_cb[j][i], cr = (float) box_cr[j][i];
                        float d2 = y * y * rb->luma_scale + (cb * cb + cr * cr) * rb->chroma_scale;
                        float wt = (ROBUST_NONE - d2) * (1.0f / (ROBUST_NONE - ROBUST_FULL));

                        cell_weight[j * CELLS_X + i] = CLAMP(wt, 0.0f, 1.0f);
                }
        return (float) squares / (TILE * TILE);
}

/* wr[c] = wf * cells[c >> cshift] for c < n. */
static void expand_weights(const float *cells, float wf, unsigned cshift, unsigned n, float *wr) {
        unsigned c = 0;

#ifdef __SSE2__
        const __m128 scale = _mm_set1_ps(wf);
        if (cshift == 1)
                for (; c + 8 <= n; c += 8) {
                        __m128 v = _mm_mul_ps(_mm_loadu_ps(cells + c / 2), scale);
                        _mm_storeu_ps(wr + c, _mm_unpacklo_ps(v, v));
                        _mm_storeu_ps(wr + c + 4, _mm_unpackhi_ps(v, v));
                }
        else if (cshift == 0)
                for (; c + 4 <= n; c += 4)
                        _mm_storeu_ps(wr + c, _mm_mul_ps(_mm_loadu_ps(cells + c), scale));
#endif
        for (; c < n; c++)
                wr[c] = wf * cells[c >> cshift];
}

/* t += wr * src and ws += wr over one row of n samples. */
static void accumulate_row(float *t, float *ws, const uint8_t *src, const float *wr, unsigned n) {
        unsigned c = 0;

#ifdef __SSE2__
        for (; c + 8 <= n; c += 8) {
                __m128i zero = _mm_setzero_si128();
                __m128i u16 = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *) (src + c)), zero);
                __m128 lo = _mm_cvtepi32_ps(_mm_unpacklo_epi16(u16, zero));
                __m128 hi = _mm_cvtepi32_ps(_mm_unpackhi_epi16(u16, zero));
                __m128 w_lo = _mm_loadu_ps(wr + c), w_hi = _mm_loadu_ps(wr + c + 4);

                _mm_storeu_ps(t + c, _mm_add_ps(_mm_loadu_ps(t + c), _mm_mul_ps(w_lo, lo)));
                _mm_storeu_ps(t + c + 4, _mm_add_ps(_mm_loadu_ps(t + c + 4), _mm_mul_ps(w_hi, hi)));
                _mm_storeu_ps(ws + c, _mm_add_ps(_mm_loadu_ps(ws + c), w_lo));
                _mm_storeu_ps(ws + c + 4, _mm_add_ps(_mm_loadu_ps(ws + c + 4), w_hi));
        }
#endif
        for (; c < n; c++) {
                t[c] += wr[c] * (float) src[c];
                ws[c] += wr[c];
        }
}

/* Blends one tile of one plane (tw x th at (x0, y0) of a plane of pw x ph): the per-sample
 * weighted mean of the displaced frames, windowed into the accumulators. A sample's weight is
 * its frame's tile weight times its cell's weight (row r, column c lie in cell
 * (r >> rshift, c >> cshift)). Samples of a displaced tile that leaves the plane are clamped
 * to its edge. */
static void blend_tile(const struct merge_request *req, unsigned plane, unsigned pw, unsigned ph, int x0,
                       int y0, unsigned tw, unsigned th, const struct vec *disp, const float *weights,
                       const float *cell_weights, unsigned rshift, unsigned cshift, const float *window_1d,
                       struct accum *acc) {
        const unsigned ref = req->n_frames - 1;
        float tile[TILE * TILE], wsum[TILE * TILE], wx[TILE];

        /* The reference, always at full weight, starts the sums. */
        for (unsigned r = 0; r < th; r++) {
                const uint8_t *src = (plane == 0 ? req->frames[ref].y : plane == 1 ? req->frames[ref].cb
                                                                                      : req->frames[ref].cr) +
                                     (size_t) (y0 + (int) r) * pw + x0;
                for (unsigned c = 0; c < tw; c++) {
                        tile[r * tw + c] = src[c];
                        wsum[r * tw + c] = 1;
                }
        }
        for (unsigned f = 0; f < ref; f++) {
                const uint8_t *base = plane == 0 ? req->frames[f].y : plane == 1 ? req->frames[f].cb
                                                                                  : req->frames[f].cr;
                const float *cells = cell_weights + (size_t) f * MAX_CELLS;
                int dx = disp[f].x, dy = disp[f].y;
                float wf = weights[f], wr[TILE];
                uint8_t clamped[TILE];

                if (wf <= 0)
                        continue;
                for (unsigned r = 0; r < th; r++) {
                        int sy = CLAMP(y0 + dy + (int) r, 0, (int) ph - 1);
                        const uint8_t *row = base + (size_t) sy * pw, *src = clamped;

                        if (r == 0 || (r >> rshift) != ((r - 1) >> rshift))
                                expand_weights(cells + (r >> rshift) * CELLS_X, wf, cshift, tw, wr);
                        if (x0 + dx >= 0 && x0 + dx + (int) tw <= (int) pw)
                                src = row + x0 + dx;
                        else
                                for (unsigned c = 0; c < tw; c++)
                                        clamped[c] = row[CLAMP(x0 + dx + (int) c, 0, (int) pw - 1)];
                        accumulate_row(tile + r * tw, wsum + r * tw, src, wr, tw);
                }
        }
        for (unsigned c = 0; c < tw; c++)
                wx[c] = window_1d[c * TILE / tw];
        for (unsigned r = 0; r < th; r++) {
                float wy = window_1d[r * TILE / th];
                size_t i = (size_t) ((unsigned) (y0 + (int) r) % acc->rows) * pw + (size_t) x0;
                float *value = acc->value + i, *weight = acc->weight + i;
                const float *t = tile + r * tw, *ws = wsum + r * tw;
                unsigned c = 0;

#ifdef __SSE2__
                for (; c + 4 <= tw; c += 4) {
                        __m128 win = _mm_mul_ps(_mm_set1_ps(wy), _mm_loadu_ps(wx + c));
                        __m128 mean = _mm_div_ps(_mm_loadu_ps(t + c), _mm_loadu_ps(ws + c));
                        _mm_storeu_ps(value + c, _mm_add_ps(_mm_loadu_ps(value + c), _mm_mul_ps(win, mean)));
                        _mm_storeu_ps(weight + c, _mm_add_ps(_mm_loadu_ps(weight + c), win));
                }
#endif
                for (; c < tw; c++) {
                        value[c] += wy * wx[c] * t[c] / ws[c];
                        weight[c] += wy * wx[c];
                }
        }
}

/* Resolves rows [acc->resolved, end) into out and clears their ring rows for reuse. */
static int resolve_rows(const struct merge_request *req, struct accum *acc, unsigned end, uint8_t *out) {
        if (merge_cancelled(req))
                return -ECANCELED;
        for (; acc->resolved < end; acc->resolved++) {
                size_t ring = (size_t) (acc->resolved % acc->rows) * acc->width;
                float *value = acc->value + ring, *weight = acc->weight + ring;
                uint8_t *o = out + (size_t) acc->resolved * acc->width;

                for (unsigned x = 0; x < acc->width; x++) {
                        float v = weight[x] > 0 ? value[x] / weight[x] : 0;
                        o[x] = (uint8_t) CLAMP(lrintf(v), 0, 255);
                }
                memset(value, 0, sizeof(float) * acc->width);
                memset(weight, 0, sizeof(float) * acc->width);
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
        struct robustness rb;
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
                acc[p] = (struct accum) { .width = p == 0 ? w : cw, .height = p == 0 ? h : ch,
                                          .rows = p == 0 ? TILE : TILE >> cshift_y };
                acc[p].value = calloc((size_t) acc[p].width * acc[p].rows, sizeof(float));
                acc[p].weight = calloc((size_t) acc[p].width * acc[p].rows, sizeof(float));
                if (!acc[p].value || !acc[p].weight) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        for (unsigned f = 0; f < n; f++) {
                if (merge_cancelled(req)) {
                        r = -ECANCELED;
                        goto finish;
                }
                r = merge_pyramid_build(&pyr[f], req->frames[f].y, w, h);
                if (r < 0)
                        goto finish;
        }

        /* Expected MSD of two aligned noisy tiles is 2σ²; a floor keeps clean scenes sane.
         * The chroma noise is estimated on its own: sensors and ISPs treat it differently. */
        {
                double sigma = merge_estimate_noise(req->frames[ref].y, w, h);
                double sigma_c = (merge_estimate_noise(req->frames[ref].cb, cw, ch) +
                                  merge_estimate_noise(req->frames[ref].cr, cw, ch)) / 2;

                noise_var = (float) MAX(sigma * sigma, 1.0);
                /* A 3x3-cell sum adds 9 cells of 2 << cshift_y luma (or one chroma) sample
                 * differences, each of variance 2σ². */
                rb = (struct robustness) {
                        .cshift_y = cshift_y,
                        .luma_scale = 1.0f / (noise_var * 36.0f * (float) (1u << cshift_y)),
                        .chroma_scale = 1.0f / ((float) MAX(sigma_c * sigma_c, 1.0) * 18.0f),
                };
        }

        field = malloc(sizeof(struct vec) * nx * ny * n);
        if (!field) {
                r = -ENOMEM;
                goto finish;
        }
#define FIELD(f, j, i) field[((size_t) (f) * ny + (j)) * nx + (i)]
        r = merge_align_field(req, pyr, xs, nx, ys, ny, field);
        if (r < 0)
                goto finish;

        /* Pass 3: per-tile weights and the windowed blend. */
        for (unsigned j = 0; j < ny; j++) {
                for (unsigned i = 0; i < nx; i++) {
                        struct vec disp[MAX_FRAMES], cdisp[MAX_FRAMES];
                        float weights[MAX_FRAMES], cell_weights[MAX_FRAMES * MAX_CELLS];
                        int tx = xs[i], ty = ys[j];

                        if (i % 32 == 0 && merge_cancelled(req)) {
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
                                excess = tile_compare(req, &rb, f, tx, ty, disp[f], cdisp[f],
                                                      cell_weights + (size_t) f * MAX_CELLS) -
                                         2 * noise_var;
                                /* Wiener-like: 1 when noise explains the difference, 1/2 at
                                 * an excess of 2σ², towards 0 beyond. */
                                weights[f] = excess <= 0 ? 1.0f : 1.0f / (1.0f + excess / (2 * noise_var));
                                if (weights[f] < 0.05f)
                                        weights[f] = 0;
                        }
                        blend_tile(req, 0, w, h, tx, ty, TILE, TILE, disp, weights, cell_weights, cshift_y, 1,
                                   window_1d, &acc[0]);
                        for (unsigned p = 1; p < 3; p++)
                                blend_tile(req, p, cw, ch, tx / 2, ty >> cshift_y, TILE / 2, TILE >> cshift_y,
                                           cdisp, weights, cell_weights, 0, 0, window_1d, &acc[p]);
                }
                /* No later tile reaches above the next tile row's top. */
                r = resolve_rows(req, &acc[0], j + 1 < ny ? (unsigned) ys[j + 1] : h, out_y);
                if (r >= 0)
                        r = resolve_rows(req, &acc[1], j + 1 < ny ? (unsigned) ys[j + 1] >> cshift_y : ch, out_cb);
                if (r >= 0)
                        r = resolve_rows(req, &acc[2], j + 1 < ny ? (unsigned) ys[j + 1] >> cshift_y : ch, out_cr);
                if (r < 0)
                        goto finish;
        }
#undef FIELD
finish:
        for (unsigned f = 0; f < n; f++)
                merge_pyramid_done(&pyr[f]);
        for (unsigned p = 0; p < 3; p++) {
                free(acc[p].value);
                free(acc[p].weight);
        }
        return r;
}
