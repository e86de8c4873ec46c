/* SPDX-License-Identifier: MIT */
#include <linux/videodev2.h>
#include <math.h>

#include "config.h"

#include "capture/virtual-sensor.h"
#include "media/jpeg.h"
#include "process-test.h"
#include "process/image-pipeline.h"
#include "process/merge.h"

/* The quality claim, measured: on a 4-frame burst of the virtual sensor (moving scene,
 * Gaussian noise), the final JPEG is closer to the noise-free scene than the proxy (a JPEG
 * of the newest frame at the same quality) by at least 3 dB PSNR. */

#define W 640
#define H 480
#define FRAME_INTERVAL_US 33333

struct planar {
        uint8_t *y, *cb, *cr;
};

/* NV12 -> three planes. */
static void nv12_split(const uint8_t *nv12, struct planar *out) {
        size_t luma = (size_t) W * H, chroma = (size_t) (W / 2) * (H / 2);

        out->y = malloc(luma);
        out->cb = malloc(chroma);
        out->cr = malloc(chroma);
        check(out->y && out->cb && out->cr);
        memcpy(out->y, nv12, luma);
        for (size_t i = 0; i < chroma; i++) {
                out->cb[i] = nv12[luma + 2 * i];
                out->cr[i] = nv12[luma + 2 * i + 1];
        }
}

static void planar_done(struct planar *p) {
        free(p->y);
        free(p->cb);
        free(p->cr);
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n) {
        double se = 0;
        for (size_t i = 0; i < n; i++) {
                double d = (double) a[i] - b[i];
                se += d * d;
        }
        return 10 * log10(255.0 * 255.0 / (se / (double) n));
}

static double jpeg_luma_psnr(const void *jpeg, size_t size, const uint8_t *clean) {
        struct jpeg_decoder *d;
        struct yuv_image img = {};
        double v;

        check_ok(jpeg_decoder_new(&d));
        check_ok(jpeg_decode(d, jpeg, size, &img));
        check(img.width == W && img.height == H && img.stride[0] == W);
        v = psnr(img.plane[0], clean, (size_t) W * H);
        yuv_image_done(&img);
        jpeg_decoder_free(d);
        return v;
}

static bool contains(const uint8_t *hay, size_t n, const char *needle) {
        size_t k = strlen(needle);
        for (size_t i = 0; i + k <= n; i++)
                if (memcmp(hay + i, needle, k) == 0)
                        return true;
        return false;
}

static int cancel_after;
static enum pool_cancel cancel_countdown(void *data) {
        return --cancel_after <= 0 ? POOL_CANCEL_INTERRUPT : POOL_CANCEL_NONE;
}

/* The same claim on the YUYV path (4:2:2 planes). */
static void test_yuyv(void) {
        size_t luma = (size_t) W * H, chroma = luma / 2, packed = luma * 2;
        uint8_t *yuyv = malloc(packed), *clean = malloc(packed), *clean_y = malloc(luma);
        uint8_t *store = malloc((luma + 2 * chroma) * 4);
        struct image_burst_frame frames[4];
        struct virtual_sensor *s;
        struct pipeline_request req;
        struct pipeline_result res = {};
        struct jpeg_encoder *enc;
        struct jpeg_buffer proxy = {};
        double proxy_psnr, final_psnr;

        check(yuyv && clean && clean_y && store);
        check_ok(virtual_sensor_new(V4L2_PIX_FMT_YUYV, W, H, VIRTUAL_SENSOR_NOISE_SIGMA, &s));
        for (int f = 0; f < 4; f++) {
                uint8_t *y = store + (luma + 2 * chroma) * f, *cb = y + luma, *cr = cb + chroma;
                virtual_sensor_render(s, 1000000 + (uint64_t) f * FRAME_INTERVAL_US, yuyv);
                for (size_t i = 0; i < luma / 2; i++) {
                        y[2 * i] = yuyv[4 * i];
                        cb[i] = yuyv[4 * i + 1];
                        y[2 * i + 1] = yuyv[4 * i + 2];
                        cr[i] = yuyv[4 * i + 3];
                }
                frames[f] = (struct image_burst_frame) { y, cb, cr };
        }
        virtual_sensor_render_clean(s, 1000000 + 3 * FRAME_INTERVAL_US, clean);
        for (size_t i = 0; i < luma; i++)
                clean_y[i] = clean[2 * i];

        check_ok(jpeg_encoder_new(&enc));
        {
                struct yuv_planes view = {
                        .width = W, .height = H, .subsamp = YUV_SUBSAMP_422,
                        .plane = { frames[3].y, frames[3].cb, frames[3].cr },
                        .stride = { W, W / 2, W / 2 },
                };
                check_ok(jpeg_encode_planes(enc, &view, 95, &proxy));
        }
        proxy_psnr = jpeg_luma_psnr(proxy.data, proxy.size, clean_y);
        req = (struct pipeline_request) {
                .width = W, .height = H, .chroma = IMAGE_CHROMA_422, .n_frames = 4, .frames = frames,
                .quality = 95, .camera_make = "TestMake",
        };
        check_ok(image_pipeline_run(&req, &res));
        final_psnr = jpeg_luma_psnr(res.jpeg, res.size, clean_y);
        printf("YUYV 4:2:2: luma PSNR proxy %.2f dB, final %.2f dB (gain %.2f dB)\n", proxy_psnr, final_psnr,
               final_psnr - proxy_psnr);
        check(final_psnr - proxy_psnr >= 3.0);
        free(res.jpeg);
        jpeg_buffer_done(&proxy);
        jpeg_encoder_free(enc);
        virtual_sensor_free(s);
        free(yuyv);
        free(clean);
        free(clean_y);
        free(store);
}

/* Ghosting: a moving object must not leave a trail. 8 frames of 1280x720 at 30 fps, in
 * which the disc moves ~50 px, NV12 (4:2:0) and YUYV (4:2:2). The region checked is every
 * chroma sample the disc covers in an older frame, minus a margin of GHOST_MARGIN samples
 * around the disc in the newest frame (the reference: its edge is legitimately soft).
 * There, the final photo's signed error against the clean newest frame, box-blurred over
 * 5x5 chroma samples so that noise averages out and a smear does not, must stay small.
 * Averaging in even one of the 7 older discs at full weight puts 1/8 of the disc-background
 * difference there (6-18 in chroma on these bars). */
#define GW 1280
#define GH 720
#define GHOST_FRAMES 8
#define GHOST_MARGIN 4
#define GHOST_BLUR 2 /* radius in chroma samples */
#define GHOST_MEAN_CHROMA 1.0
#define GHOST_MAX_CHROMA 5.0
#define GHOST_MAX_LUMA 4.0

/* A clean or noisy sensor frame as three planes; chroma GW/2 x ch. */
static void to_planes(uint32_t fourcc, const uint8_t *src, unsigned ch, uint8_t *y, uint8_t *cb, uint8_t *cr) {
        const size_t luma = (size_t) GW * GH, chroma = (size_t) GW / 2 * ch;

        if (fourcc == V4L2_PIX_FMT_NV12) {
                memcpy(y, src, luma);
                for (size_t i = 0; i < chroma; i++) {
                        cb[i] = src[luma + 2 * i];
                        cr[i] = src[luma + 2 * i + 1];
                }
        } else
                for (size_t i = 0; i < chroma; i++) {
                        y[2 * i] = src[4 * i];
                        cb[i] = src[4 * i + 1];
                        y[2 * i + 1] = src[4 * i + 2];
                        cr[i] = src[4 * i + 3];
                }
}

static bool is_disc(const struct image_burst_frame *f, unsigned cx, unsigned cy) {
        /* The disc's Cb/Cr (60, 190) is no bar's and not the ramp's. */
        size_t i = (size_t) cy * (GW / 2) + cx;
        return f->cb[i] == 60 && f->cr[i] == 190;
}

/* Mean of the signed error of plane a (stride sa) vs b (stride sb) over the (2 radius + 1)²
 * box around (x, y), clipped to the pw x ph plane. */
static double blurred_error(const uint8_t *a, unsigned sa, const uint8_t *b, unsigned sb, unsigned pw,
                            unsigned ph, int x, int y, int radius) {
        double sum = 0;
        unsigned n = 0;

        for (int yy = MAX(y - radius, 0); yy <= MIN(y + radius, (int) ph - 1); yy++)
                for (int xx = MAX(x - radius, 0); xx <= MIN(x + radius, (int) pw - 1); xx++) {
                        sum += (double) a[(size_t) yy * sa + xx] - b[(size_t) yy * sb + xx];
                        n++;
                }
        return sum / n;
}

static void test_ghosting(uint32_t fourcc) {
        const bool nv12 = fourcc == V4L2_PIX_FMT_NV12;
        const unsigned ch = nv12 ? GH / 2 : GH, rows_per_chroma = GH / ch;
        const size_t luma = (size_t) GW * GH, chroma = (size_t) GW / 2 * ch, planar = luma + 2 * chroma;
        uint8_t *raw = malloc(luma * 2), *store = malloc(planar * GHOST_FRAMES * 2);
        struct image_burst_frame frames[GHOST_FRAMES], clean[GHOST_FRAMES];
        const struct image_burst_frame *newest = &clean[GHOST_FRAMES - 1];
        struct virtual_sensor *s;
        struct pipeline_request req;
        struct pipeline_result res = {};
        struct jpeg_decoder *d;
        struct yuv_image img = {};
        double worst_chroma = 0, worst_luma = 0, mean_chroma = 0;
        unsigned region = 0;

        check(raw && store);
        check_ok(virtual_sensor_new(fourcc, GW, GH, VIRTUAL_SENSOR_NOISE_SIGMA, &s));
        for (unsigned f = 0; f < 2 * GHOST_FRAMES; f++) {
                uint64_t t = 1000000 + (uint64_t) (f % GHOST_FRAMES) * FRAME_INTERVAL_US;
                uint8_t *y = store + planar * f, *cb = y + luma, *cr = cb + chroma;

                if (f < GHOST_FRAMES)
                        virtual_sensor_render(s, t, raw);
                else
                        virtual_sensor_render_clean(s, t, raw);
                to_planes(fourcc, raw, ch, y, cb, cr);
                (f < GHOST_FRAMES ? frames : clean)[f % GHOST_FRAMES] = (struct image_burst_frame) { y, cb, cr };
        }
        req = (struct pipeline_request) {
                .width = GW, .height = GH, .chroma = nv12 ? IMAGE_CHROMA_420 : IMAGE_CHROMA_422,
                .n_frames = GHOST_FRAMES, .frames = frames, .quality = 95,
        };
        check_ok(image_pipeline_run(&req, &res));
        check_ok(jpeg_decoder_new(&d));
        check_ok(jpeg_decode(d, res.jpeg, res.size, &img));
        check(img.width == GW && img.height == GH);
        check(img.subsamp == (nv12 ? YUV_SUBSAMP_420 : YUV_SUBSAMP_422));

        for (unsigned cy = 0; cy < ch; cy++)
                for (unsigned cx = 0; cx < GW / 2; cx++) {
                        bool trail = false, near_newest = false;
                        double e;

                        for (unsigned f = 0; f + 1 < GHOST_FRAMES && !trail; f++)
                                trail = is_disc(&clean[f], cx, cy);
                        if (!trail)
                                continue;
                        for (int dy = -GHOST_MARGIN; dy <= GHOST_MARGIN && !near_newest; dy++)
                                for (int dx = -GHOST_MARGIN; dx <= GHOST_MARGIN && !near_newest; dx++) {
                                        int x = (int) cx + dx, y = (int) cy + dy;
                                        near_newest = x >= 0 && y >= 0 && x < GW / 2 && y < (int) ch &&
                                                      is_disc(newest, (unsigned) x, (unsigned) y);
                                }
                        if (near_newest)
                                continue;
                        region++;
                        for (unsigned p = 1; p < 3; p++) {
                                e = blurred_error(img.plane[p], img.stride[p], p == 1 ? newest->cb : newest->cr,
                                                  GW / 2, GW / 2, ch, (int) cx, (int) cy, GHOST_BLUR);
                                worst_chroma = MAX(worst_chroma, fabs(e));
                                mean_chroma += fabs(e) / 2;
                        }
                        e = blurred_error(img.plane[0], img.stride[0], newest->y, GW, GW, GH, 2 * (int) cx,
                                          (int) (rows_per_chroma * cy), 2 * GHOST_BLUR + 1);
                        worst_luma = MAX(worst_luma, fabs(e));
                }
        check(region > 1000); /* the disc did move */
        mean_chroma /= region;
        printf("ghosting %s: %u chroma samples on the disc's trail; blurred error: chroma mean %.2f (max %.1f), "
               "worst %.2f (max %.1f); luma worst %.2f (max %.1f)\n",
               nv12 ? "NV12" : "YUYV", region, mean_chroma, GHOST_MEAN_CHROMA, worst_chroma, GHOST_MAX_CHROMA,
               worst_luma, GHOST_MAX_LUMA);
        check(mean_chroma <= GHOST_MEAN_CHROMA);
        check(worst_chroma <= GHOST_MAX_CHROMA);
        check(worst_luma <= GHOST_MAX_LUMA);

        yuv_image_done(&img);
        jpeg_decoder_free(d);
        free(res.jpeg);
        virtual_sensor_free(s);
        free(raw);
        free(store);
}

int main(void) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        struct virtual_sensor *s;
        size_t nv12_size = (size_t) W * H * 3 / 2;
        uint8_t *nv12 = malloc(nv12_size), *clean = malloc(nv12_size);
        struct planar planes[4];
        struct image_burst_frame frames[4];
        struct pipeline_request req;
        struct pipeline_result res = {};
        struct jpeg_encoder *enc;
        struct jpeg_buffer proxy = {};
        double t0, proxy_psnr, final_psnr, noisy_psnr;
        uint64_t t_newest = 1000000 + 3 * FRAME_INTERVAL_US;

        check(nv12 && clean);
        check_ok(virtual_sensor_new(V4L2_PIX_FMT_NV12, W, H, VIRTUAL_SENSOR_NOISE_SIGMA, &s));
        for (int f = 0; f < 4; f++) {
                virtual_sensor_render(s, 1000000 + (uint64_t) f * FRAME_INTERVAL_US, nv12);
                nv12_split(nv12, &planes[f]);
                frames[f] = (struct image_burst_frame) { planes[f].y, planes[f].cb, planes[f].cr };
        }
        virtual_sensor_render_clean(s, t_newest, clean);
        noisy_psnr = psnr(planes[3].y, clean, (size_t) W * H);

        /* The estimator sees the sensor's noise level. */
        {
                double sigma = merge_estimate_noise(planes[3].y, W, H);
                printf("noise estimate %.2f (sensor sigma %.1f)\n", sigma, VIRTUAL_SENSOR_NOISE_SIGMA);
                check(sigma > VIRTUAL_SENSOR_NOISE_SIGMA * 0.6 && sigma < VIRTUAL_SENSOR_NOISE_SIGMA * 1.5);
        }

        /* Proxy: what Capture hands out at once. */
        check_ok(jpeg_encoder_new(&enc));
        {
                struct yuv_planes view = {
                        .width = W, .height = H, .subsamp = YUV_SUBSAMP_420,
                        .plane = { planes[3].y, planes[3].cb, planes[3].cr },
                        .stride = { W, W / 2, W / 2 },
                };
                check_ok(jpeg_encode_planes(enc, &view, 95, &proxy));
        }
        proxy_psnr = jpeg_luma_psnr(proxy.data, proxy.size, clean);

        req = (struct pipeline_request) {
                .width = W, .height = H, .chroma = IMAGE_CHROMA_420, .n_frames = 4, .frames = frames,
                .quality = 95, .capture_realtime_us = 1700000000000000ull,
                .camera_make = "TestMake", .camera_model = "virtual:0",
        };
        t0 = test_now();
        check_ok(image_pipeline_run(&req, &res));
        printf("pipeline %dx%d x4: %.1f ms\n", W, H, (test_now() - t0) * 1000);
        final_psnr = jpeg_luma_psnr(res.jpeg, res.size, clean);
        printf("luma PSNR vs clean: noisy frame %.2f dB, proxy %.2f dB, final %.2f dB (gain %.2f dB)\n",
               noisy_psnr, proxy_psnr, final_psnr, final_psnr - proxy_psnr);
        check(final_psnr - proxy_psnr >= 3.0);

        /* EXIF through media/exif.h. */
        check(contains(res.jpeg, res.size, "Exif"));
        check(contains(res.jpeg, res.size, "TestMake"));
        check(contains(res.jpeg, res.size, "virtual:0"));
        check(contains(res.jpeg, res.size, "camerad " CAMERAD_VERSION));
        free(res.jpeg);

        /* Cancel between stripes. */
        for (int n = 1; n < 60; n += 11) {
                cancel_after = n;
                req.check_cancel = cancel_countdown;
                check(image_pipeline_run(&req, &res) == -ECANCELED);
        }
        req.check_cancel = NULL;

        /* Frames that make no sense: a final "process" error. */
        req.width = 15;
        check(image_pipeline_run(&req, &res) == -EBADMSG);

        jpeg_buffer_done(&proxy);
        jpeg_encoder_free(enc);
        for (int f = 0; f < 4; f++)
                planar_done(&planes[f]);
        virtual_sensor_free(s);
        free(nv12);
        free(clean);
        test_yuyv();
        test_ghosting(V4L2_PIX_FMT_NV12);
        test_ghosting(V4L2_PIX_FMT_YUYV);
        return 0;
}
