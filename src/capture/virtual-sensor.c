/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "capture/virtual-sensor.h"
#include "shared/macro.h"

/* Noise comes from a precomputed Gaussian table read at a random offset per row: one add
 * and clamp per byte, cheap enough for 1080p30 (the benchmark measures it). */
#define NOISE_SPAN 65536u

struct ycbcr {
        uint8_t y, cb, cr;
};

/* 75% colour bars, BT.601 limited range. */
static const struct ycbcr bar_colours[8] = {
        { 180, 128, 128 }, { 162, 44, 142 }, { 131, 156, 44 }, { 112, 72, 58 },
        { 84, 184, 198 },  { 65, 100, 212 }, { 35, 212, 114 }, { 16, 128, 128 },
};
static const struct ycbcr disc_colour = { 170, 60, 190 };

struct virtual_sensor {
        uint32_t fourcc;
        unsigned width, height;
        unsigned bars_height; /* rows above it show the bars, below the ramp */
        double sigma;
        uint64_t rng;

        /* Row templates. The bars template is two widths long; a row is a window into it
         * at the scroll offset. YUYV keeps packed rows, NV12 separate Y and CbCr rows. */
        uint8_t *bars_row, *bars_chroma;
        uint8_t *ramp_row, *ramp_chroma;

        /* YU12: a quarter frame for Cr on its way to its plane. Written only by render
         * calls, which the sensor's one user makes one at a time. */
        uint8_t *scratch;

        /* NOISE_SPAN + one row of int8 noise: luma, chroma (half sigma), and YUYV-ordered. */
        int8_t *noise_luma, *noise_chroma, *noise_yuyv;
};

static uint64_t xorshift64s(uint64_t *state) {
        uint64_t x = *state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *state = x;
        return x * UINT64_C(2685821657736338717);
}

static double uniform01(uint64_t *state) {
        return ((xorshift64s(state) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static int8_t noise_sample(uint64_t *state, double sigma) {
        /* Box–Muller; one of the pair is enough here. */
        double z = sqrt(-2.0 * log(uniform01(state))) * cos(2.0 * M_PI * uniform01(state));
        long v = lround(z * sigma);
        return (int8_t) CLAMP(v, -127, 127);
}

static bool is_supported(uint32_t fourcc) {
        return fourcc == V4L2_PIX_FMT_YUYV || fourcc == V4L2_PIX_FMT_NV12 ||
               fourcc == V4L2_PIX_FMT_UYVY || fourcc == V4L2_PIX_FMT_YUV420;
}

/* The layout the scene is drawn in: UYVY is YUYV with bytes swapped, YU12 is NV12 with
 * the chroma planes apart. */
static uint32_t base_fourcc(uint32_t fourcc) {
        return fourcc == V4L2_PIX_FMT_UYVY ? V4L2_PIX_FMT_YUYV
             : fourcc == V4L2_PIX_FMT_YUV420 ? V4L2_PIX_FMT_NV12 : fourcc;
}

static int build_templates(struct virtual_sensor *s) {
        unsigned w = s->width;
        bool yuyv = base_fourcc(s->fourcc) == V4L2_PIX_FMT_YUYV;

        s->bars_row = malloc((size_t) w * 4);
        s->bars_chroma = malloc((size_t) w * 2);
        s->ramp_row = malloc((size_t) w * 2);
        s->ramp_chroma = malloc(w);
        if (!s->bars_row || !s->bars_chroma || !s->ramp_row || !s->ramp_chroma)
                return -ENOMEM;

        for (unsigned x = 0; x < 2 * w; x++) {
                const struct ycbcr *c = &bar_colours[(size_t) x * 8 / w % 8];
                if (yuyv) {
                        s->bars_row[2 * x] = c->y;
                        s->bars_row[2 * x + 1] = x % 2 ? c->cr : c->cb;
                } else {
                        s->bars_row[x] = c->y;
                        s->bars_chroma[x] = x % 2 ? c->cr : c->cb;
                }
        }
        for (unsigned x = 0; x < w; x++) {
                uint8_t y = (uint8_t) (16 + 219u * x / (w - 1));
                if (yuyv) {
                        s->ramp_row[2 * x] = y;
                        s->ramp_row[2 * x + 1] = 128;
                } else {
                        s->ramp_row[x] = y;
                        s->ramp_chroma[x] = 128;
                }
        }
        return 0;
}

static int build_noise(struct virtual_sensor *s) {
        size_t n = NOISE_SPAN + (size_t) s->width * 2;

        s->noise_luma = malloc(n);
        s->noise_chroma = malloc(n);
        s->noise_yuyv = malloc(n);
        if (!s->noise_luma || !s->noise_chroma || !s->noise_yuyv)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                s->noise_luma[i] = noise_sample(&s->rng, s->sigma);
                s->noise_chroma[i] = noise_sample(&s->rng, s->sigma / 2);
                s->noise_yuyv[i] = i % 2 ? s->noise_chroma[i] : s->noise_luma[i];
        }
        return 0;
}

int virtual_sensor_new(uint32_t fourcc, unsigned width, unsigned height, double noise_sigma,
                       struct virtual_sensor **ret) {
        if (!is_supported(fourcc) || frame_size_for(fourcc, width, height) == 0 || width < 16 ||
            height < 16 || !(noise_sigma >= 0 && noise_sigma <= 40))
                return -EINVAL;

        struct virtual_sensor *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->fourcc = fourcc;
        s->width = width;
        s->height = height;
        s->bars_height = height * 2 / 3 & ~1u;
        s->sigma = noise_sigma;
        s->rng = UINT64_C(0x9E3779B97F4A7C15) ^ ((uint64_t) width << 32 | height);

        int r = build_templates(s);
        if (r >= 0 && fourcc == V4L2_PIX_FMT_YUV420) {
                s->scratch = malloc((size_t) width * height / 4);
                if (!s->scratch)
                        r = -ENOMEM;
        }
        if (r >= 0 && noise_sigma > 0)
                r = build_noise(s);
        if (r < 0) {
                virtual_sensor_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

struct virtual_sensor *virtual_sensor_free(struct virtual_sensor *s) {
        if (!s)
                return NULL;
        free(s->bars_row);
        free(s->bars_chroma);
        free(s->ramp_row);
        free(s->ramp_chroma);
        free(s->noise_luma);
        free(s->noise_chroma);
        free(s->noise_yuyv);
        free(s->scratch);
        free(s);
        return NULL;
}

struct disc {
        double cx, cy, radius;
};

static struct disc disc_at(const struct virtual_sensor *s, uint64_t time_us) {
        double t = (double) (time_us % UINT64_C(12000000)) / 1e6; /* both periods divide 12 s */
        return (struct disc) {
                .cx = s->width / 2.0 + s->width / 3.0 * sin(2 * M_PI * t / 4.0),
                .cy = s->height / 2.0 + s->height / 4.0 * sin(2 * M_PI * t / 3.0 + 0.5),
                .radius = s->height / 8.0,
        };
}

/* Pixels [*x0, *x1) of row y lie inside the disc; false when none do. */
static bool disc_span(const struct virtual_sensor *s, const struct disc *d, unsigned y, unsigned *x0,
                      unsigned *x1) {
        double dy = y + 0.5 - d->cy;
        if (fabs(dy) >= d->radius)
                return false;
        double dx = sqrt(d->radius * d->radius - dy * dy);
        long a = lround(d->cx - dx), b = lround(d->cx + dx);
        a = CLAMP(a, 0, (long) s->width);
        b = CLAMP(b, 0, (long) s->width);
        if (a >= b)
                return false;
        *x0 = (unsigned) a;
        *x1 = (unsigned) b;
        return true;
}

/* The bars scroll left one bar width per second, in whole pixel pairs. */
static unsigned scroll_offset(const struct virtual_sensor *s, uint64_t time_us) {
        uint64_t w = s->width;
        return (unsigned) ((time_us % (8 * UINT64_C(1000000))) * w / 8000000 % w) & ~1u;
}

static void render_yuyv(const struct virtual_sensor *s, uint64_t time_us, uint8_t *dst) {
        unsigned w = s->width, offset = scroll_offset(s, time_us);
        struct disc d = disc_at(s, time_us);
        size_t stride = (size_t) w * 2;

        for (unsigned y = 0; y < s->height; y++) {
                uint8_t *row = dst + y * stride;
                unsigned x0, x1;

                memcpy(row, y < s->bars_height ? s->bars_row + (size_t) offset * 2 : s->ramp_row, stride);
                if (!disc_span(s, &d, y, &x0, &x1))
                        continue;
                for (unsigned x = x0; x < x1; x++) {
                        row[2 * x] = disc_colour.y;
                        row[2 * x + 1] = x % 2 ? disc_colour.cr : disc_colour.cb;
                }
        }
}

static void render_nv12(const struct virtual_sensor *s, uint64_t time_us, uint8_t *dst) {
        unsigned w = s->width, offset = scroll_offset(s, time_us);
        struct disc d = disc_at(s, time_us);
        uint8_t *chroma = dst + (size_t) w * s->height;

        for (unsigned y = 0; y < s->height; y++) {
                bool bars = y < s->bars_height;
                uint8_t *row = dst + (size_t) y * w;
                uint8_t *crow = chroma + (size_t) (y / 2) * w;
                unsigned x0, x1;

                memcpy(row, bars ? s->bars_row + offset : s->ramp_row, w);
                if (y % 2 == 0)
                        memcpy(crow, bars ? s->bars_chroma + offset : s->ramp_chroma, w);
                if (!disc_span(s, &d, y, &x0, &x1))
                        continue;
                memset(row + x0, disc_colour.y, x1 - x0);
                /* Chroma sits at even rows and even columns (MPEG-2/JPEG siting, close enough). */
                if (y % 2 == 0)
                        for (unsigned x = x0 + x0 % 2; x < x1; x += 2) {
                                crow[x] = disc_colour.cb;
                                crow[x + 1] = disc_colour.cr;
                        }
        }
}

static void render_base(const struct virtual_sensor *s, uint64_t time_us, uint8_t *dst) {
        if (base_fourcc(s->fourcc) == V4L2_PIX_FMT_YUYV)
                render_yuyv(s, time_us, dst);
        else
                render_nv12(s, time_us, dst);
}

/* From the base layout to the sensor's own, in place. */
static void convert_layout(const struct virtual_sensor *s, uint8_t *dst) {
        size_t luma = (size_t) s->width * s->height;

        if (s->fourcc == V4L2_PIX_FMT_UYVY)
                for (size_t i = 0; i < luma * 2; i += 2) {
                        uint8_t t = dst[i];
                        dst[i] = dst[i + 1];
                        dst[i + 1] = t;
                }
        else if (s->fourcc == V4L2_PIX_FMT_YUV420) {
                /* CbCr pairs → Cb plane then Cr plane, through the sensor's scratch row. */
                uint8_t *cbcr = dst + luma, *cr = s->scratch;
                size_t pairs = luma / 4;
                for (size_t i = 0; i < pairs; i++) {
                        cbcr[i] = cbcr[2 * i];
                        cr[i] = cbcr[2 * i + 1];
                }
                memcpy(cbcr + pairs, cr, pairs);
        }
}

void virtual_sensor_render_clean(const struct virtual_sensor *s, uint64_t time_us, uint8_t *dst) {
        render_base(s, time_us, dst);
        convert_layout(s, dst);
}

/* Saturating add in fixed blocks of 16 so the compiler vectorises it at -O2. */
static void add_noise(uint8_t *p, const int8_t *noise, size_t n) {
        size_t i = 0;
        for (; i + 16 <= n; i += 16)
                for (unsigned k = 0; k < 16; k++) {
                        int v = p[i + k] + noise[i + k];
                        p[i + k] = (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : v);
                }
        for (; i < n; i++) {
                int v = p[i] + noise[i];
                p[i] = (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : v);
        }
}

static void add_plane_noise(struct virtual_sensor *s, uint8_t *plane, size_t row_bytes, unsigned rows,
                            const int8_t *table, bool even_offsets) {
        for (unsigned y = 0; y < rows; y++) {
                uint64_t r = xorshift64s(&s->rng);
                size_t offset = (size_t) (r % NOISE_SPAN);
                if (even_offsets)
                        offset &= ~(size_t) 1; /* keeps Y noise on Y bytes in YUYV */
                add_noise(plane + y * row_bytes, table + offset, row_bytes);
        }
}

void virtual_sensor_render(struct virtual_sensor *s, uint64_t time_us, uint8_t *dst) {
        render_base(s, time_us, dst);
        if (s->sigma > 0) {
                if (base_fourcc(s->fourcc) == V4L2_PIX_FMT_YUYV)
                        add_plane_noise(s, dst, (size_t) s->width * 2, s->height, s->noise_yuyv, true);
                else {
                        add_plane_noise(s, dst, s->width, s->height, s->noise_luma, false);
                        add_plane_noise(s, dst + (size_t) s->width * s->height, s->width, s->height / 2,
                                        s->noise_chroma, true);
                }
        }
        convert_layout(s, dst);
}

int virtual_sensor_render_frame(struct virtual_sensor *s, struct frame *f, bool noisy) {
        if (f->fourcc != s->fourcc || f->width != s->width || f->height != s->height ||
            f->size < frame_size_for(s->fourcc, s->width, s->height))
                return -EINVAL;
        if (noisy)
                virtual_sensor_render(s, f->timestamp_us, f->data);
        else
                virtual_sensor_render_clean(s, f->timestamp_us, f->data);
        return 0;
}
